/*
 * Interrupt entry stubs: one 16-byte stub per vector (0..255), all funnelling
 * into isr_common, which saves the general registers and the SSE state (Swift
 * code uses XMM registers, and an interrupt may arrive in the middle of any
 * Swift function), calls
 *
 *     interrupt_dispatch(vector, error_code, frame)      (interrupts.swift)
 *
 * and returns with iretq. `frame` points at struct interrupt_frame
 * (include/kernel.h), so a handler can read and change the saved registers
 * and the RIP/CS/RFLAGS/RSP/SS the CPU pushed.
 *
 * The CPU pushes an error code only for vectors 8, 10-14, 17, 21, 29, 30; the
 * other stubs push a zero so the frame layout is the same for every vector.
 */

        .macro ISR_STUB vector
        .balign 16
        .if (\vector == 8) || ((\vector >= 10) && (\vector <= 14)) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
        pushq $\vector
        .else
        pushq $0
        pushq $\vector
        .endif
        jmp isr_common
        .endm

        .section .text
        .code64
        .balign 16
        .global isr_stub_table
isr_stub_table:
        .irp hi, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        .irp lo, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        ISR_STUB (\hi * 16 + \lo)
        .endr
        .endr
        .global isr_stub_table_end
isr_stub_table_end:

        .balign 16
        .type isr_common, @function
isr_common:
        /* Stack now: vector, error code, RIP, CS, RFLAGS, RSP, SS. */
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        mov %rsp, %rbx                  /* rbx = frame (callee-saved) */

        /* FXSAVE needs a 16-byte aligned 512-byte area; the ABI wants RSP
           16-byte aligned at the call. */
        and $-16, %rsp
        sub $512, %rsp
        fxsave (%rsp)

        cld
        mov 15*8(%rbx), %rdi            /* vector */
        mov 16*8(%rbx), %rsi            /* error code */
        mov %rbx, %rdx                  /* frame */
        call interrupt_dispatch

        fxrstor (%rsp)
        mov %rbx, %rsp
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rbp
        popq %rdi
        popq %rsi
        popq %rdx
        popq %rcx
        popq %rbx
        popq %rax
        add $16, %rsp                   /* vector and error code */
        iretq
        .size isr_common, . - isr_common

        .section .note.GNU-stack, "", @progbits
