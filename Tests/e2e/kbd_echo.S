# A guest for the window/terminal end-to-end tests: echoes typed keys on the
# VGA text screen and otherwise idles in `sti; hlt`.
# 32-bit protected mode: GDT, IDT, the PIC pair remapped to 0x20/0x28, the
# firmware's PIT channel 0 (18.2 Hz) acknowledged on IRQ0, the 8042's
# translated set-1 scan codes read on IRQ1 and turned into characters (US
# layout, Shift), written to 0xB8000 with the hardware cursor following
# (CRTC 0x0E/0x0F). Enter starts a new line, Backspace erases, the screen
# scrolls at the bottom.
#include "common.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        lgdt gdtr
        ljmp $0x08, $1f
1:      movw $0x10, %ax
        movw %ax, %ds; movw %ax, %es; movw %ax, %ss; movw %ax, %fs; movw %ax, %gs
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
        # PIC: ICW1..ICW4 (vectors 0x20/0x28), then only IRQ0, IRQ1 (and the cascade) unmasked.
        PIC_REMAP 0xF8, 0xFF
        # Banner on row 0 (white on blue), prompt on row 2.
        movl $s_banner, %esi
        movl $0xB8000, %edi
3:      lodsb
        testb %al, %al
        jz 4f
        movb $0x1F, %ah
        stosw
        jmp 3b
4:      movl $160, pos
        movl $s_prompt, %esi
5:      lodsb
        testb %al, %al
        jz 6f
        call putchar_vga
        jmp 5b
6:      movl $s_ready, %esi; call puts_e9
        sti
7:      hlt
        jmp 7b

# AL -> screen at `pos`, moving the cursor. Clobbers EAX, ECX, EDX, ESI, EDI.
putchar_vga:
        cmpb $'\n', %al
        jne 1f
        movl pos, %eax
        xorl %edx, %edx
        movl $80, %ecx
        divl %ecx
        incl %eax
        imull $80, %eax
        movl %eax, pos
        jmp 3f
1:      cmpb $8, %al
        jne 2f
        cmpl $0, pos
        je 4f
        decl pos
        movl pos, %edx
        movw $0x0720, 0xB8000(,%edx,2)
        jmp 4f
2:      movl pos, %edx
        movb $0x07, %ah
        movw %ax, 0xB8000(,%edx,2)
        incl pos
3:      cmpl $2000, pos
        jb 4f
        # Scroll: rows 1-24 up one, blank the last row.
        movl $0xB80A0, %esi
        movl $0xB8000, %edi
        movl $1920, %ecx
        rep movsw
        movl $80, %ecx
        movw $0x0720, %ax
        rep stosw
        subl $80, pos
4:      movl pos, %ecx
        movw $0x3D4, %dx
        movb $0x0E, %al; outb %al, %dx
        incw %dx
        movb %ch, %al; outb %al, %dx
        decw %dx
        movb $0x0F, %al; outb %al, %dx
        incw %dx
        movb %cl, %al; outb %al, %dx
        ret

isr_common:
        pushal
        movl 32(%esp), %eax          # vector
        cmpl $0x21, %eax
        je irq1
        cmpl $0x20, %eax
        je eoi
        cmpl $0x27, %eax             # spurious IRQ7: no EOI
        je done
        movl $s_unexp, %esi; call puts_e9
        call puthex_e9
        movb $0x7F, %al
        call exit_f4
irq1:
        inb $0x60, %al
        movzbl %al, %ebx
        cmpb $0x2A, %bl; je shift_on
        cmpb $0x36, %bl; je shift_on
        cmpb $0xAA, %bl; je shift_off
        cmpb $0xB6, %bl; je shift_off
        cmpb $0xE0, %bl; je e0
        cmpl $0, prefix             # E0 xx: not a character key
        movl $0, prefix
        jne eoi
        cmpl $0x3A, %ebx            # releases (>= 0x80) and keys past Space
        jae eoi
        movl $keymap, %esi
        cmpl $0, shift
        je 1f
        movl $keymap_shift, %esi
1:      movb (%esi,%ebx), %al
        testb %al, %al
        jz eoi
        call putchar_vga
        jmp eoi
e0:     movl $1, prefix
        jmp eoi
shift_on:
        movl $1, shift
        jmp eoi
shift_off:
        movl $0, shift
eoi:    movb $0x20, %al
        outb %al, $0x20
done:   popal
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
        .quad 0x00CF9A000000FFFF
        .quad 0x00CF92000000FFFF
gdtr:   .word 23
        .long gdt
        .align 8
idtr:   .word 48*8-1
        .long idt
pos:    .long 0
shift:  .long 0
prefix: .long 0
        .section .bss
        .align 8
idt:    .skip 48*8
        .section .rodata
# Set 1 make codes 0x00-0x39 -> ASCII, US layout.
keymap:
        .ascii "\0\0331234567890-=\b\tqwertyuiop[]\n\0asdfghjkl;'`\0\\zxcvbnm,./\0*\0 "
keymap_shift:
        .ascii "\0\033!@#$%^&*()_+\b\tQWERTYUIOP{}\n\0ASDFGHJKL:\"~\0|ZXCVBNM<>?\0*\0 "
s_banner: .asciz "swiftemu keyboard echo: type a line"
s_prompt: .asciz "> "
s_ready: .asciz "echo kernel ready\n"
s_unexp: .asciz "unexpected vector "
