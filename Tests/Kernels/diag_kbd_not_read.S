# Diagnosis kbd-not-read: the keyboard handler (IRQ1) sends its EOI but
# never reads port 0x60. The first key's byte stays in the 8042, IRQ1 stays
# high and no further key arrives. Run with --keys; exits with
# (0x10<<1)|1 after 12 timer ticks, printing how many IRQ1s came.
#include "common.inc"
#include "diag.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        call setup_gdt
        call setup_idt
        movl $on_tick, handlers+0x20*4
        movl $on_key, handlers+0x21*4
        call remap_pic
        sti
1:      hlt
        cmpl $12, ticks
        jb 1b
        cli
        movl $s_keys, %esi
        movl keys, %eax
        call print_count
        movb $0x10, %al
        call exit_f4

on_tick:
        incl ticks
        call eoi_master
        ret

on_key:
        incl keys                    # (no inb $0x60: the mistake)
        call eoi_master
        ret

        .section .data
ticks:  .long 0
keys:   .long 0
        .section .rodata
s_keys: .asciz "keyboard interrupts "
