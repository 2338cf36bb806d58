# Loads an empty IDT and executes INT3: #GP, then #DF, then a triple fault.
#include "common.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        movl $msg, %esi
        call puts_e9
        lidt idtr
        int3
        movb $0x7F, %al
        call exit_f4
        .section .data
        .align 4
idtr:   .word 0
        .long 0
        .section .rodata
msg:    .asciz "about to triple fault\n"
