# Diagnosis spurious-irq: with interrupts off, the kernel has the 8042 put a
# byte in its output buffer (command 0xD2), which raises IRQ1, and then
# reads it from port 0x60 before enabling interrupts. IRQ1 drops before the
# acknowledge, so the master PIC answers with its IR7 vector (0x27) and
# sets no ISR bit (8259A datasheet; devices.md PIC-13). The vector 0x27
# handler returns without an EOI, which is right. Exits with (0x10<<1)|1.
#include "common.inc"
#include "diag.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        call setup_gdt
        call setup_idt
        movl $on_irq1, handlers+0x21*4
        movl $on_irq7, handlers+0x27*4
        call remap_pic
1:      inb $0x64, %al               # wait for the input buffer
        testb $0x02, %al
        jnz 1b
        movb $0xD2, %al
        outb %al, $0x64
2:      inb $0x64, %al
        testb $0x02, %al
        jnz 2b
        movb $0x55, %al
        outb %al, $0x60
3:      inb $0x64, %al               # until the byte is in the output buffer
        testb $0x01, %al
        jz 3b
        inb $0x60, %al               # IRQ1 drops again
        sti
        nop
        nop
        cli
        movl $s_spur, %esi
        movl spurious, %eax
        call print_count
        movl $s_irq1, %esi
        movl irq1s, %eax
        call print_count
        movb $0x10, %al
        call exit_f4

on_irq1:
        incl irq1s
        call eoi_master
        ret

on_irq7:
        incl spurious                # a spurious IRQ7 gets no EOI
        ret

        .section .data
spurious: .long 0
irq1s:  .long 0
        .section .rodata
s_spur: .asciz "spurious IRQ7 "
s_irq1: .asciz "IRQ1 "
