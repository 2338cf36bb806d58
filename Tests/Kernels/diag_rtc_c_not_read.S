# Diagnosis rtc-c-not-read: the RTC's periodic interrupt (IRQ8) is handled
# with EOIs to both PICs, but register C is never read, so the RTC keeps
# IRQ8 high and it fires only once. The timer keeps ticking; after five
# ticks the kernel prints the IRQ8 count and exits with (0x10<<1)|1.
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
        incl rtcs                    # (register C is not read: the mistake)
        call eoi_both
        ret

        .section .data
ticks:  .long 0
rtcs:   .long 0
        .section .rodata
s_rtc:  .asciz "rtc interrupts "
