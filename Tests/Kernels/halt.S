# Halts with interrupts disabled: a dead machine.
#include "common.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        movl $msg, %esi
        call puts_e9
        cli
        hlt
        movb $0x7F, %al
        call exit_f4
        .section .rodata
msg:    .asciz "halting with IF=0\n"
