# Diagnosis hlt-if0: the kernel sets up its IDT and the PICs, then waits
# for the timer with hlt but forgot sti: interrupts are off and nothing
# can wake the CPU (exit status 2).
#include "common.inc"
#include "diag.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        call setup_gdt
        call setup_idt
        movl $on_tick, handlers+0x20*4
        call remap_pic
        movl $s_wait, %esi
        call puts_e9
1:      hlt                          # (IF=0: the mistake)
        jmp 1b

on_tick:
        call eoi_master
        ret

        .section .rodata
s_wait: .asciz "waiting for the timer\n"
