# Guests that never stop by themselves: each must still end at --timeout
# (and, where it retires instructions, at --max-instructions). The mode is
# the first character after the kernel path on the command line
# (--append X):
#   s  spin with interrupts disabled
#   i  spin with interrupts enabled, IRQ0 ticking into a handler
#   h  sti; hlt with every PIC input masked (the PIT keeps running)
#   H  halt-and-spin: sti; hlt; jmp back, woken by IRQ0 each tick
#   f  fault storm: the #UD handler is the UD2 that raised it, the stack
#      in unbacked address space (nothing retires), interrupts disabled
#   F  the same storm with interrupts enabled (#UD is a trap gate) and
#      IRQ0 unmasked; each tick restarts the storm with a fresh stack
# Prints "mode X" first, then a "t" per IRQ0 tick handled. Unknown modes
# exit with status (0x7E<<1)|1.
#include "common.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        lgdt gdtr
        ljmp $0x08, $0f
0:      movw $0x10, %ax
        movw %ax, %ds; movw %ax, %es; movw %ax, %ss; movw %ax, %fs; movw %ax, %gs
        movl 16(%ebx), %esi          # command line: "PATH ARGS"
1:      movb (%esi), %al
        testb %al, %al
        jz 2f
        incl %esi
        cmpb $' ', %al
        jne 1b
        movb (%esi), %al
2:      movb %al, mode
        movl $s_mode, %esi; call puts_e9
        movb mode, %al; call putc_e9
        movb $'\n', %al; call putc_e9

        # IDT: every vector is an interrupt gate to `tick` (EOI + IRET),
        # except #UD (6): a trap gate to `storm`.
        movl $idt, %edi
        movl $256, %ecx
3:      movl $tick, %eax
        movw $0x8E00, %bx
        cmpl $(256 - 6), %ecx
        jne 4f
        movl $storm, %eax
        movw $0x8F00, %bx
4:      movw %ax, (%edi)
        movw $0x08, 2(%edi)
        movw %bx, 4(%edi)
        shrl $16, %eax
        movw %ax, 6(%edi)
        addl $8, %edi
        decl %ecx
        jnz 3b
        lidt idtr
        # The PIC pair remapped to vectors 0x20/0x28, everything masked.
        PIC_REMAP 0xFF, 0xFF

        movb mode, %al
        cmpb $'s', %al; je m_spin
        cmpb $'i', %al; je m_spin_irq
        cmpb $'h', %al; je m_halt_masked
        cmpb $'H', %al; je m_halt_spin
        cmpb $'f', %al; je m_storm
        cmpb $'F', %al; je m_storm_irq
        movb $0x7E, %al
        call exit_f4

m_spin:
        cli
1:      incl %eax
        jmp 1b

m_spin_irq:
        call irq0_only
        sti
1:      incl %eax
        jmp 1b

m_halt_masked:
        movb $0xFF, %al; outb %al, $0x21
        movb $0xFF, %al; outb %al, $0xA1
        sti
1:      hlt
        jmp 1b

m_halt_spin:
        call irq0_only
1:      sti
        hlt
        jmp 1b

m_storm_irq:
        movl $storm_tick, %eax       # IRQ0 (vector 0x20) restarts the storm
        movw %ax, idt + 0x20 * 8
        shrl $16, %eax
        movw %ax, idt + 0x20 * 8 + 6
        call irq0_only
        sti
m_storm:
        movl $0xFFFF0000, %esp       # pushes land past the end of RAM (dropped)
storm:  ud2

# Unmask only IRQ0 (the firmware's PIT channel 0 at 18.2 Hz, vector 0x20).
irq0_only:
        movb $0xFE, %al; outb %al, $0x21
        movb $0xFF, %al; outb %al, $0xA1
        ret

tick:   pushl %eax
        movb $'t', %al
        outb %al, $0xE9
        movb $0x20, %al
        outb %al, $0x20
        popl %eax
        iret

storm_tick:
        movb $'t', %al
        outb %al, $0xE9
        movb $0x20, %al
        outb %al, $0x20
        sti
        jmp m_storm

        .section .data
        .align 8
gdt:    .quad 0
        .quad 0x00CF9A000000FFFF        # 0x08 code
        .quad 0x00CF92000000FFFF        # 0x10 data
gdtr:   .word 3 * 8 - 1
        .long gdt
        .align 4
idtr:   .word 256 * 8 - 1
        .long idt
mode:   .byte 0
        .section .rodata
s_mode: .asciz "mode "
        .section .bss
        .align 8
idt:    .skip 256 * 8
