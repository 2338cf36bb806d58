# A clean kernel that exercises what the trace records: the PIC remap, the
# PIT reprogrammed to 100 Hz (control word, count), 8042 commands with data
# both ways (read and rewrite the command byte), a command to the keyboard
# and its ACK on IRQ1, paging turned on (a mode change), a #GP that the
# kernel survives (its error code printed), a software interrupt, and
# keys with --keys. Exits with (0x10<<1)|1 after 10 ticks.
#include "common.inc"
#include "diag.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        call setup_gdt
        call setup_idt
        movl $on_tick, handlers+0x20*4
        movl $on_kbd, handlers+0x21*4
        movl $on_gp, handlers+13*4
        movl $on_soft, handlers+0x2D*4
        call remap_pic
        # title on screen row 0, light grey on blue
        movl $s_title, %esi
        movl $0xB8000, %edi
4:      lodsb
        testb %al, %al
        jz 5f
        movb $0x17, %ah
        stosw
        jmp 4b
5:      movl $0xB8000+160, vga_pos
        # PIT channel 0: mode 2, lobyte/hibyte, 11932 (100 Hz)
        movb $0x34, %al; outb %al, $0x43
        movw $11932, %ax
        outb %al, $0x40
        movb %ah, %al; outb %al, $0x40
        # 8042: read the command byte (0x20), write it back (0x60). IRQ1 is
        # masked meanwhile: the reply raises it, and reading it by polling
        # with the IRQ open would leave the PIC a vanished request (a
        # spurious IRQ7 at the next sti).
        inb $0x21, %al; orb $0x02, %al; outb %al, $0x21
        call kbc_wait_in
        movb $0x20, %al; outb %al, $0x64
        call kbc_wait_out
        inb $0x60, %al
        movzbl %al, %eax
        movl %eax, ctr
        movl $s_ctr, %esi
        call print_count
        call kbc_wait_in
        movb $0x60, %al; outb %al, $0x64
        call kbc_wait_in
        movl ctr, %eax; outb %al, $0x60
        inb $0x21, %al; andb $0xFD, %al; outb %al, $0x21
        # identity-map 4 MiB with one PSE page and turn paging on
        movl $0x00000083, pd
        movl %cr4, %eax; orl $0x10, %eax; movl %eax, %cr4
        movl $pd, %eax; movl %eax, %cr3
        movl %cr0, %eax; orl $0x80000000, %eax; movl %eax, %cr0
        # a #GP: selector 0x18 is beyond the GDT limit
        movw $0x18, %ax
        movw %ax, %fs
gp_done:
        int $0x2D
        sti
        # the keyboard: enable scanning (0xF4), answered by 0xFA on IRQ1
        call kbc_wait_in
        movb $0xF4, %al; outb %al, $0x60
1:      hlt
        cmpl $10, ticks
        jb 1b
        cli
        movl $s_ticks, %esi
        movl ticks, %eax
        call print_count
        movb $0x10, %al
        call exit_f4

kbc_wait_in:
        inb $0x64, %al
        testb $0x02, %al
        jnz kbc_wait_in
        ret
kbc_wait_out:
        inb $0x64, %al
        testb $0x01, %al
        jz kbc_wait_out
        ret

on_tick:
        incl ticks
        call eoi_master
        ret

on_kbd:
        inb $0x60, %al
        movzbl %al, %eax
        pushl %eax
        call vga_hex8
        popl %eax
        movl $s_kbd, %esi
        call print_count
        call eoi_master
        ret

# vga_hex8: AL as two hex digits and a space at vga_pos (row 1 onwards).
vga_hex8:
        movl vga_pos, %edi
        movb %al, %dl
        shrb $4, %al
        call 6f
        movb %dl, %al
        andb $0x0F, %al
        call 6f
        movw $0x0720, (%edi)
        addl $2, %edi
        movl %edi, vga_pos
        ret
6:      addb $'0', %al
        cmpb $'9', %al
        jbe 7f
        addb $('a' - '9' - 1), %al
7:      movb $0x07, %ah
        movw %ax, (%edi)
        addl $2, %edi
        ret

on_gp:
        movl %edx, %eax
        movl $s_gp, %esi
        call print_count
        movl $gp_done, 44(%esp)      # resume after the faulting mov
        ret

on_soft:
        movl $s_soft, %esi
        call puts_e9
        ret

        .section .data
ticks:  .long 0
ctr:    .long 0
vga_pos: .long 0
        .section .bss
        .align 4096
pd:     .skip 4096
        .section .rodata
s_title: .asciz "trace_devices: IRQ1 bytes below"
s_ctr:  .asciz "8042 command byte "
s_gp:   .asciz "#GP error code "
s_kbd:  .asciz "IRQ1 byte "
s_soft: .asciz "int 0x2d\n"
s_ticks: .asciz "ticks "
