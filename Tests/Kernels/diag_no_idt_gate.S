# Diagnosis no-idt-gate: the PICs are remapped to 0x20, but the IDT entry
# for vector 0x20 (IRQ0, the timer) is not present. The first tick makes
# the CPU raise #NP (vector 11) with error code 0x103 (IDT entry 0x20,
# external); the #NP handler prints the error code and exits with
# (0x10<<1)|1.
#include "common.inc"
#include "diag.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        call setup_gdt
        call setup_idt
        andw $0x7FFF, idt+0x20*8+4   # clear P in the vector 0x20 gate
        movl $on_np, handlers+11*4
        call remap_pic
        sti
1:      hlt
        jmp 1b

on_np:
        movl %edx, %eax
        movl $s_np, %esi
        call print_count
        movb $0x10, %al
        call exit_f4

        .section .rodata
s_np:   .asciz "#NP, error code "
