# Prints through the COM1 16550 (polling LSR.THRE) and exits with 0x21.
#include "common.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        movw $0x3F9, %dx; movb $0x00, %al; outb %al, %dx     # IER off
        movw $0x3FB, %dx; movb $0x80, %al; outb %al, %dx     # DLAB
        movw $0x3F8, %dx; movb $0x01, %al; outb %al, %dx     # 115200
        movw $0x3F9, %dx; movb $0x00, %al; outb %al, %dx
        movw $0x3FB, %dx; movb $0x03, %al; outb %al, %dx     # 8N1
        movw $0x3FA, %dx; movb $0xC7, %al; outb %al, %dx     # FIFO
        movl $msg, %esi
1:      lodsb
        testb %al, %al
        jz 3f
        movb %al, %ah
        movw $0x3FD, %dx
2:      inb %dx, %al
        testb $0x20, %al
        jz 2b
        movw $0x3F8, %dx
        movb %ah, %al
        outb %al, %dx
        jmp 1b
3:      movb $0x10, %al
        call exit_f4
        .section .rodata
msg:    .asciz "hello over COM1\n"
