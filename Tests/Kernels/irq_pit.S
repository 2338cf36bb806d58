# The interrupt story in 32-bit protected mode: a GDT, an IDT, the PIC pair
# remapped to 0x20/0x28 as the pic8259 crate does it, the firmware's PIT
# channel 0 (18.2 Hz) ticking through IRQ0 with an EOI per tick, `sti; hlt`
# idling. Then a key press through the 8042 on IRQ1 (with --keys). Prints
# each event and exits with (0x10<<1)|1 after the key or five ticks.
#include "common.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        lgdt gdtr
        ljmp $0x08, $1f
1:      movw $0x10, %ax
        movw %ax, %ds; movw %ax, %es; movw %ax, %ss; movw %ax, %fs; movw %ax, %gs
        # IDT: 48 interrupt gates, selector 0x08, present, DPL0, 32-bit
        movl $idt, %edi
        movl $stubs, %esi
        movl $48, %ecx
2:      movl %esi, %eax
        movw %ax, (%edi)
        movw $0x08, 2(%edi)
        movw $0x8E00, 4(%edi)
        shrl $16, %eax
        movw %ax, 6(%edi)
        addl $8, %edi
        addl $(stub1 - stubs), %esi
        decl %ecx
        jnz 2b
        lidt idtr
        # pic8259: save masks, ICW1..ICW4 with a port 0x80 write after each, restore masks
        inb $0x21, %al; movb %al, %bl
        inb $0xA1, %al; movb %al, %bh
        movb $0x11, %al; outb %al, $0x20; outb %al, $0x80
        outb %al, $0xA0; outb %al, $0x80
        movb $0x20, %al; outb %al, $0x21; outb %al, $0x80
        movb $0x28, %al; outb %al, $0xA1; outb %al, $0x80
        movb $0x04, %al; outb %al, $0x21; outb %al, $0x80
        movb $0x02, %al; outb %al, $0xA1; outb %al, $0x80
        movb $0x01, %al; outb %al, $0x21; outb %al, $0x80
        outb %al, $0xA1; outb %al, $0x80
        movb %bl, %al; outb %al, $0x21
        movb %bh, %al; outb %al, $0xA1
        movl $s_imr, %esi; call puts_e9
        inb $0x21, %al; movzbl %al, %eax; call puthex_e9
        movb $' ', %al; call putc_e9
        inb $0xA1, %al; movzbl %al, %eax; call puthex_e9
        movb $'\n', %al; call putc_e9
        sti
3:      hlt
        cmpl $0, key_seen
        jne 4f
        cmpl $5, ticks
        jb 3b
        cmpl $0, want_key
        jne 3b
4:      cli
        movl $s_done, %esi; call puts_e9
        movl ticks, %eax; call puthex_e9
        movb $'\n', %al; call putc_e9
        movb $0x10, %al
        call exit_f4

# Common interrupt path: the stub pushed the vector.
isr_common:
        pushal
        movl 32(%esp), %eax          # vector
        cmpl $0x20, %eax
        je irq0
        cmpl $0x21, %eax
        je irq1
        movl $s_unexp, %esi; call puts_e9
        call puthex_e9
        movb $'\n', %al; call putc_e9
        movb $0x7F, %al
        call exit_f4
irq0:
        incl ticks
        movl $s_tick, %esi; call puts_e9
        movl ticks, %eax; call puthex_e9
        movb $'\n', %al; call putc_e9
        movb $0x20, %al; outb %al, $0x20
        jmp 5f
irq1:
        inb $0x60, %al
        movzbl %al, %ebx
        movl $s_key, %esi; call puts_e9
        movl %ebx, %eax
        call puthex_e9
        movb $'\n', %al; call putc_e9
        cmpb $0x80, %bl              # a release (break) code ends the test
        jb 6f
        movl $1, key_seen
6:      movb $0x20, %al; outb %al, $0x20
5:      popal
        addl $4, %esp
        iret

        .align 16
stubs:
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
        .align 16
        pushl $\n
        jmp isr_common
        .endr
        .set stub1, stubs + 16

        .section .data
        .align 8
gdt:    .quad 0
        .quad 0x00CF9A000000FFFF     # 0x08 code
        .quad 0x00CF92000000FFFF     # 0x10 data
gdtr:   .word 23
        .long gdt
        .align 8
idtr:   .word 48*8-1
        .long idt
ticks:  .long 0
key_seen: .long 0
want_key: .long 0
        .section .bss
        .align 8
idt:    .skip 48*8
        .section .rodata
s_imr:  .asciz "imr after remap "
s_tick: .asciz "tick "
s_key:  .asciz "scancode "
s_unexp: .asciz "unexpected vector "
s_done: .asciz "done, ticks "
