# Pulses the reset line through the 8042 (command 0xFE).
#include "common.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        movl $msg, %esi
        call puts_e9
1:      inb $0x64, %al
        testb $2, %al
        jnz 1b
        movb $0xFE, %al
        outb %al, $0x64
2:      hlt
        jmp 2b
        .section .rodata
msg:    .asciz "resetting\n"
