# Prints a greeting on port 0xE9 and exits with status (0x10<<1)|1 = 33.
#include "common.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        movl $msg, %esi
        call puts_e9
        movb $0x10, %al
        call exit_f4
        .section .rodata
msg:    .asciz "hello from a multiboot kernel\n"
