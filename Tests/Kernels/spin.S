# Loops forever without output after one line: ends only at a limit.
#include "common.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        movl $msg, %esi
        call puts_e9
1:      incl %eax
        jmp 1b
        .section .rodata
msg:    .asciz "spinning\n"
