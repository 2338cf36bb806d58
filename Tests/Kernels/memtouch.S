# Touches the whole physical address space from long mode: identity-maps
# 0-8 GiB with 2 MiB pages, writes one dword into every 4 KiB page (except
# the kernel's own pages and the Multiboot info after them), then reads them
# all back and counts pages that returned what was written (RAM), all ones
# (nothing there) and anything else (ROM, VGA). Then unaligned accesses
# across the end of RAM and across 4 GiB, and string copies over the same
# edges. Prints the counts and exits with (0x10<<1)|1.
#
# The emulator must answer every one of these accesses from its RAM buffer
# or its device/unmapped path; no guest address may reach host memory
# outside the RAM buffer.
#include "common.inc"
        .set PAGES, 0x200000            # 8 GiB / 4 KiB
        .set MAGIC, 0x5EED0000
        .globl _start
_start:
        movl $stack_top, %esp
        # PML4[0] -> PDPT; PDPT[0..7] -> 8 page directories of 2 MiB pages.
        movl $pdpt, %eax
        orl $3, %eax
        movl %eax, pml4
        xorl %ecx, %ecx
1:      movl %ecx, %eax
        shll $12, %eax
        addl $pds, %eax
        orl $3, %eax
        movl %eax, pdpt(,%ecx,8)
        incl %ecx
        cmpl $8, %ecx
        jb 1b
        xorl %ecx, %ecx
2:      movl %ecx, %eax
        shll $21, %eax
        orl $0x83, %eax                 # present, writable, 2 MiB
        movl %eax, pds(,%ecx,8)
        movl %ecx, %eax
        shrl $11, %eax
        movl %eax, pds+4(,%ecx,8)
        incl %ecx
        cmpl $4096, %ecx
        jb 2b
        movl %cr4, %eax
        orl $0x20, %eax                 # PAE
        movl %eax, %cr4
        movl $pml4, %eax
        movl %eax, %cr3
        movl $0xC0000080, %ecx
        rdmsr
        orl $0x100, %eax                # EFER.LME
        wrmsr
        movl %cr0, %eax
        orl $0x80000000, %eax
        movl %eax, %cr0
        lgdt gdtr
        ljmp $0x08, $long_entry

        .code64
long_entry:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movl $stack_top, %esp
        movl $s_start, %esi
        call puts_e9
        # r13 = first page skipped, r14 = first page after the skipped range
        movq $0x100, %r13
        movq $kernel_end, %r14
        addq $0x2FFF, %r14              # round up and leave room for the info block
        shrq $12, %r14

        # Pass 1: one dword per page.
        xorq %rcx, %rcx
1:      cmpq %r13, %rcx
        jb 2f
        cmpq %r14, %rcx
        jb 3f
2:      movq %rcx, %rax
        shlq $12, %rax
        movl %ecx, %edx
        xorl $MAGIC, %edx
        movl %edx, 0x10(%rax)
3:      incq %rcx
        cmpq $PAGES, %rcx
        jb 1b

        # Pass 2: read back and classify.
        xorq %rcx, %rcx
        xorq %r8, %r8                   # matched
        xorq %r9, %r9                   # all ones
        xorq %r10, %r10                 # other
        xorq %r11, %r11                 # skipped
        xorq %r12, %r12                 # last matching page
1:      cmpq %r13, %rcx
        jb 2f
        cmpq %r14, %rcx
        jae 2f
        incq %r11
        jmp 5f
2:      movq %rcx, %rax
        shlq $12, %rax
        movl 0x10(%rax), %edx
        movl %ecx, %ebx
        xorl $MAGIC, %ebx
        cmpl %ebx, %edx
        jne 3f
        incq %r8
        movq %rcx, %r12
        jmp 5f
3:      cmpl $0xFFFFFFFF, %edx
        jne 4f
        incq %r9
        jmp 5f
4:      incq %r10
5:      incq %rcx
        cmpq $PAGES, %rcx
        jb 1b

        # Edges. rbx = end of RAM (the page after the last one that matched).
        leaq 1(%r12), %rbx
        shlq $12, %rbx
        movl $0x11223344, -2(%rbx)      # half in RAM, half past its end
        movl -2(%rbx), %eax
        movl %eax, cross_ram
        movabsq $0xFFFFFFFC, %rdi
        movq $0x5566778899AABBCC, %rax
        movq %rax, (%rdi)               # across 4 GiB
        movq (%rdi), %rax
        movl %eax, cross_4g
        shrq $32, %rax
        movl %eax, cross_4g + 4
        leaq -32(%rbx), %rsi            # copy 64 bytes across the end of RAM
        movq $buffer, %rdi
        movq $64, %rcx
        cld
        rep movsb
        movq $buffer, %rsi              # and back over it
        leaq -32(%rbx), %rdi
        movq $64, %rcx
        rep movsb
        movabsq $0xFFFFFFE0, %rdi       # fill across 4 GiB
        movq $64, %rcx
        movb $0xA5, %al
        rep stosb
        movl buffer + 30, %eax          # the last 2 bytes of RAM, then 2 of nothing
        movl %eax, copied

        movl $s_match, %esi; call puts_e9
        movl %r8d, %eax; call puthex64
        movl $s_ones, %esi; call puts_e9
        movl %r9d, %eax; call puthex64
        movl $s_other, %esi; call puts_e9
        movl %r10d, %eax; call puthex64
        movl $s_skipped, %esi; call puts_e9
        movl %r11d, %eax; call puthex64
        movb $'\n', %al; call putc_e9
        movl $s_ramend, %esi; call puts_e9
        movl %ebx, %eax; call puthex64
        movl $s_cross, %esi; call puts_e9
        movl cross_ram, %eax; call puthex64
        movl $s_cross4g, %esi; call puts_e9
        movl cross_4g + 4, %eax; call puthex64
        movl cross_4g, %eax; call puthex64
        movl $s_copied, %esi; call puts_e9
        movl copied, %eax; call puthex64
        movb $'\n', %al; call putc_e9
        movb $0x10, %al
        call exit_f4

# puthex64: EAX as 8 hex digits to port 0xE9 (the common helper's DEC
# encodings are REX prefixes in 64-bit mode). Preserves registers.
puthex64:
        pushq %rax
        pushq %rcx
        pushq %rdx
        movl %eax, %edx
        movl $8, %ecx
1:      roll $4, %edx
        movl %edx, %eax
        andl $0xF, %eax
        cmpl $10, %eax
        jb 2f
        addl $('a' - 10 - '0'), %eax
2:      addl $'0', %eax
        outb %al, $0xE9
        subl $1, %ecx
        jnz 1b
        popq %rdx
        popq %rcx
        popq %rax
        ret

        .section .data
        .align 8
gdt:    .quad 0
        .quad 0x00AF9A000000FFFF        # 0x08 64-bit code
        .quad 0x00CF92000000FFFF        # 0x10 data
gdtr:   .word 3 * 8 - 1
        .long gdt
cross_ram: .long 0
cross_4g:  .quad 0
copied:    .long 0
        .section .rodata
s_start:   .asciz "touching 8 GiB of physical address space\n"
s_match:   .asciz "match "
s_ones:    .asciz " ones "
s_other:   .asciz " other "
s_skipped: .asciz " skipped "
s_ramend:  .asciz "ramend "
s_cross:   .asciz " cross-ram "
s_cross4g: .asciz " cross-4g "
s_copied:  .asciz " copied "
        .section .bss
        .align 4096
pml4:   .skip 4096
pdpt:   .skip 4096
pds:    .skip 8 * 4096
buffer: .skip 64
kernel_end:
