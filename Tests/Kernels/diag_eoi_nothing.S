# Diagnosis eoi-nothing-in-service: the timer handler sends its EOI twice.
# The second one finds nothing in service. Exits with (0x10<<1)|1 after
# three ticks.
#include "common.inc"
#include "diag.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        call setup_gdt
        call setup_idt
        movl $on_tick, handlers+0x20*4
        call remap_pic
        sti
1:      hlt
        cmpl $3, ticks
        jb 1b
        cli
        movl $s_ticks, %esi
        movl ticks, %eax
        call print_count
        movb $0x10, %al
        call exit_f4

on_tick:
        incl ticks
        call eoi_master
        call eoi_master              # (a second EOI: the mistake)
        ret

        .section .data
ticks:  .long 0
        .section .rodata
s_ticks: .asciz "ticks "
