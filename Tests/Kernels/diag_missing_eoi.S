# Diagnosis missing-eoi: the timer handler counts ticks but never sends an
# EOI. IRQ0 stays in service, so only one tick ever arrives; the PIT keeps
# raising IRQ0 into a blocked PIC. Runs until --timeout.
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
        jmp 1b

on_tick:
        incl ticks
        movl $s_tick, %esi
        movl ticks, %eax
        call print_count
        ret                          # (no EOI: the mistake)

        .section .data
ticks:  .long 0
        .section .rodata
s_tick: .asciz "tick "
