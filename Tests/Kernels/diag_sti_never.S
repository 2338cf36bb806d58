# Diagnosis sti-never: the IDT is loaded and the PICs are remapped, but the
# kernel never executes sti. It busy-waits ~200 ms of virtual time for
# ticks that cannot come, then exits with (0x10<<1)|1.
#include "common.inc"
#include "diag.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        call setup_gdt
        call setup_idt
        movl $on_tick, handlers+0x20*4
        call remap_pic
        # (no sti: the mistake)
        movl $10000000, %ecx
1:      decl %ecx
        jnz 1b
        movl $s_ticks, %esi
        movl ticks, %eax
        call print_count
        movb $0x10, %al
        call exit_f4

on_tick:
        incl ticks
        call eoi_master
        ret

        .section .data
ticks:  .long 0
        .section .rodata
s_ticks: .asciz "ticks "
