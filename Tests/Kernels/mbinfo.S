# Prints the Multiboot entry state: magic, info flags, memory sizes, the
# command line, the boot loader name, the memory map, segment selectors,
# EFLAGS and CR0. Exits with (V<<1)|1 where V = 0 when the magic is right.
#include "common.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        movl %eax, saved_eax
        movl %ebx, saved_ebx
        pushfl
        popl saved_flags
        movl $s_magic, %esi; call puts_e9
        movl saved_eax, %eax; call puthex_e9
        call nl
        movl $s_cr0, %esi; call puts_e9
        movl %cr0, %eax; andl $0x80000001, %eax; call puthex_e9
        call nl
        movl $s_flags_if, %esi; call puts_e9
        movl saved_flags, %eax; andl $0x200, %eax; call puthex_e9
        call nl
        movl $s_cs, %esi; call puts_e9
        xorl %eax, %eax; movw %cs, %ax
        # selector values differ between loaders; print only the RPL/TI bits
        andl $7, %eax; call puthex_e9
        call nl
        movl saved_ebx, %ebx
        movl $s_iflags, %esi; call puts_e9
        movl 0(%ebx), %eax; andl $0x24F, %eax; call puthex_e9
        call nl
        movl $s_lower, %esi; call puts_e9
        movl 4(%ebx), %eax; call puthex_e9
        call nl
        movl $s_upper, %esi; call puts_e9
        movl 8(%ebx), %eax; call puthex_e9
        call nl
        movl $s_cmd, %esi; call puts_e9
        movl 16(%ebx), %esi
        # skip the kernel path: print from the first space on
4:      movb (%esi), %al
        testb %al, %al
        jz 5f
        cmpb $' ', %al
        je 5f
        incl %esi
        jmp 4b
5:      call puts_e9
        call nl
        movl $s_mmap, %esi; call puts_e9
        call nl
        movl 48(%ebx), %edi      # mmap_addr
        movl 44(%ebx), %ecx      # mmap_length
        addl %edi, %ecx
6:      cmpl %ecx, %edi
        jae 7f
        # only entries of type 1 (usable) at or below 1 MiB are the same on every loader
        cmpl $1, 20(%edi)
        jne 8f
        cmpl $0, 8(%edi)
        jne 8f
        cmpl $0x100000, 4(%edi)
        ja 8f
        movl $s_entry, %esi; call puts_e9
        movl 4(%edi), %eax; call puthex_e9
        movb $' ', %al; call putc_e9
        movl 12(%edi), %eax; call puthex_e9
        movb $' ', %al; call putc_e9
        movl 20(%edi), %eax; call puthex_e9
        call nl
8:      movl (%edi), %eax
        leal 4(%edi,%eax), %edi
        jmp 6b
7:      xorl %eax, %eax
        cmpl $0x2BADB002, saved_eax
        je 9f
        movb $1, %al
9:      call exit_f4

nl:     movb $'\n', %al
        jmp putc_e9

        .section .data
saved_eax:   .long 0
saved_ebx:   .long 0
saved_flags: .long 0
        .section .rodata
s_magic:  .asciz "magic "
s_cr0:    .asciz "cr0.pg|pe "
s_flags_if: .asciz "eflags.if "
s_cs:     .asciz "cs.rpl "
s_iflags: .asciz "info.flags&0x24f "
s_lower:  .asciz "mem_lower "
s_upper:  .asciz "mem_upper "
s_cmd:    .asciz "cmdline-args:"
s_mmap:   .asciz "mmap:"
s_entry:  .asciz "  "
