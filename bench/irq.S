# 64-bit interrupt plumbing for the benchmark kernels: 48 stubs that push
# their vector and share one path. Vector 0x20 (IRQ0 after the PIC remap)
# counts a tick and sends a non-specific EOI; 0x27/0x2F (spurious IRQ7/15)
# return without EOI; any other vector is a failure reported by C.
        .section .text
        .code64
        .globl irq_stubs, irq_stub_size
        .align 16
irq_stubs:
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
        .align 16
        pushq $\n
        jmp irq_common
        .endr
        .align 16
irq_stub_size: .quad 16

irq_common:
        cmpq $0x20, (%rsp)
        jne 1f
        incq ticks(%rip)
        pushq %rax
        movb $0x20, %al
        outb %al, $0x20
        popq %rax
        addq $8, %rsp
        iretq
1:      cmpq $0x27, (%rsp)
        je 2f
        cmpq $0x2F, (%rsp)
        je 2f
        # Unexpected vector: hand it (and the error code, if any) to C.
        movq (%rsp), %rdi
        movq 8(%rsp), %rsi
        andq $-16, %rsp
        call unexpected_vector
3:      cli
        hlt
        jmp 3b
2:      addq $8, %rsp
        iretq

        .section .data
        .globl ticks
        .align 8
ticks:  .quad 0
