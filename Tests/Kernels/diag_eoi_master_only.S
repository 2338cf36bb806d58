# Diagnosis eoi-master-only: the RTC's periodic interrupt (IRQ8, on the
# slave PIC) is handled with an EOI to the master only. IRQ8 stays in
# service on the slave and never comes again, while the timer (IRQ0, with
# proper EOIs) keeps ticking. Prints the IRQ8 count after five ticks and
# exits with (0x10<<1)|1.
#include "common.inc"
#include "diag.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        call setup_gdt
        call setup_idt
        movl $on_tick, handlers+0x20*4
        movl $on_rtc, handlers+0x28*4
        call remap_pic
        inb $0xA1, %al; andb $0xFE, %al; outb %al, $0xA1   # unmask IRQ8
        call rtc_periodic_on
        sti
1:      hlt
        cmpl $5, ticks
        jb 1b
        cli
        movl $s_rtc, %esi
        movl rtcs, %eax
        call print_count
        movb $0x10, %al
        call exit_f4

on_tick:
        incl ticks
        call eoi_master
        ret

on_rtc:
        incl rtcs
        call rtc_read_c
        call eoi_master              # (the slave gets no EOI: the mistake)
        ret

        .section .data
ticks:  .long 0
rtcs:   .long 0
        .section .rodata
s_rtc:  .asciz "rtc interrupts "
