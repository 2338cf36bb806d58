# Diagnosis irq-below-32: the PICs keep the firmware's vector base 0x08, so
# in protected mode the timer (IRQ0) arrives on vector 8, the double-fault
# vector. The handler for vector 8 counts ticks and sends its EOI; after
# three ticks the kernel exits with (0x10<<1)|1.
#include "common.inc"
#include "diag.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        call setup_gdt
        call setup_idt
        movl $on_vector8, handlers+8*4
        # Vector 8's stub expects the error code a double fault pushes; an
        # IRQ pushes none, so gate 8 gets a stub that pushes a zero.
        movl $irq_stub8, %eax
        movw %ax, idt+8*8
        shrl $16, %eax
        movw %ax, idt+8*8+6
        # (no remap_pic: the mistake)
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

irq_stub8:
        pushl $0
        pushl $8
        jmp isr_common

on_vector8:
        incl ticks
        call eoi_master
        ret

        .section .data
ticks:  .long 0
        .section .rodata
s_ticks: .asciz "ticks on vector 8: "
