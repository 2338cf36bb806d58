# Whole-machine checks of device interactions, in 32-bit protected mode:
#  - priority: IRQ0 and IRQ1 pending together are taken IRQ0 first
#  - IRQ1 stays requested until port 0x60 is read (IRR follows the 8042's line)
#  - cascade nesting: inside an un-EOI'd IRQ8 handler IRQ0 nests, IRQ3 does not
#  - PIT channel 2 one-shot through port 0x61 measured with RDTSC
#  - RTC register C: without reading it IRQ8 fires once; reading it re-arms
# Prints "ok NAME" / "FAIL NAME" lines on 0xE9 and exits with the number of
# failures (status (N<<1)|1).
#include "common.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        lgdt gdtr
        ljmp $0x08, $1f
1:      movw $0x10, %ax
        movw %ax, %ds; movw %ax, %es; movw %ax, %ss
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
        addl $16, %esi
        decl %ecx
        jnz 2b
        lidt idtr
        # Remap: master 0x20, slave 0x28; unmask IRQ0, 1, 2, 3 and 8 only.
        PIC_REMAP 0xF0, 0xFE

# --- priority: IRQ1 and IRQ0 both pending with IF=0, IRQ0 is served first
        call kbc_inject              # 0xD2: a byte in the 8042 output buffer -> IRQ1
        call wait_irr0               # the next PIT edge -> IRQ0 pending
        movl $0, order_len
        sti
        nop
        nop
        cli
        movl order_len, %eax
        cmpl $2, %eax
        jne 3f
        cmpb $0, order
        jne 3f
        cmpb $1, order+1
        jne 3f
        movl $n_prio, %esi; call ok; jmp 4f
3:      movl $n_prio, %esi; call fail
4:
# --- IRQ1 is requested until 0x60 is read
        movl $1, irq1_leave
        call kbc_inject
        movb $0x0A, %al; outb %al, $0x20
        inb $0x20, %al
        movb %al, %bl                # IRR with the byte waiting
        inb $0x60, %al
        movb $0x0A, %al; outb %al, $0x20
        inb $0x20, %al
        movb %al, %bh                # IRR after the read
        movl $0, irq1_leave
        testb $0x02, %bl
        jz 5f
        testb $0x02, %bh
        jnz 5f
        movl $n_irq1, %esi; call ok; jmp 6f
5:      movl $n_irq1, %esi; call fail
6:
# --- cascade nesting: RTC periodic IRQ8 at 1024 Hz; its handler enables
# interrupts without EOI and waits for an IRQ0 to nest.
        movl $0, nested0
        movl $0, irq8_count
        movl $1, irq8_mode           # 1 = nest test
        movb $0x8B, %al; outb %al, $0x70
        inb $0x71, %al
        orb $0x40, %al               # PIE
        movb %al, %ah
        movb $0x8B, %al; outb %al, $0x70
        movb %ah, %al; outb %al, $0x71
        movb $0x0C, %al; outb %al, $0x70
        inb $0x71, %al               # clear flags
        sti
7:      cmpl $0, irq8_count
        je 7b
        cli
        cmpl $1, nested0
        jne 8f
        movl $n_nest, %esi; call ok; jmp 9f
8:      movl $n_nest, %esi; call fail
9:
# --- RTC register C: handler does not read C -> only one IRQ8 in 50 ms
        movl $2, irq8_mode           # 2 = count only, no C read
        movl $0, irq8_count
        movb $0x0C, %al; outb %al, $0x70
        inb $0x71, %al
        rdtsc
        movl %eax, t0
        sti
10:     rdtsc
        subl t0, %eax
        cmpl $50000000, %eax         # 50 ms of TSC (1 GHz virtual)
        jb 10b
        cli
        movl irq8_count, %eax
        movl %eax, once_count
        movl $3, irq8_mode           # 3 = count and read C
        movl $0, irq8_count
        movb $0x0C, %al; outb %al, $0x70
        inb $0x71, %al
        rdtsc
        movl %eax, t0
        sti
11:     rdtsc
        subl t0, %eax
        cmpl $50000000, %eax
        jb 11b
        cli
        cmpl $1, once_count
        jne 12f
        cmpl $40, irq8_count         # 1024 Hz for 50 ms: about 51
        jb 12f
        movl $n_rtcc, %esi; call ok; jmp 13f
12:     movl $n_rtcc, %esi; call fail
13:     movb $0x8B, %al; outb %al, $0x70   # PIE off
        inb $0x71, %al
        andb $0xBF, %al
        movb %al, %ah
        movb $0x8B, %al; outb %al, $0x70
        movb %ah, %al; outb %al, $0x71
# --- PIT channel 2 one-shot (mode 0, 11932 counts = 10 ms) via port 0x61
        inb $0x61, %al
        andb $0xFC, %al
        outb %al, $0x61              # gate low, speaker off
        movb $0xB0, %al; outb %al, $0x43   # ch2, lsb/msb, mode 0
        movb $0x9C, %al; outb %al, $0x42
        movb $0x2E, %al; outb %al, $0x42   # 0x2E9C = 11932
        rdtsc
        movl %eax, t0
        inb $0x61, %al
        orb $0x01, %al
        outb %al, $0x61              # gate high: counting starts
14:     inb $0x61, %al
        testb $0x20, %al             # OUT2
        jz 14b
        rdtsc
        subl t0, %eax
        movl %eax, %ebx
        movl $s_cal, %esi; call puts_e9
        movl %ebx, %eax; call puthex_e9
        movb $'\n', %al; call putc_e9
        # 11932 / 1193182 Hz = 10.0002 ms; allow 1 %
        cmpl $9900000, %ebx
        jb 15f
        cmpl $10100000, %ebx
        ja 15f
        movl $n_cal, %esi; call ok; jmp 16f
15:     movl $n_cal, %esi; call fail
16:     movl failures, %eax
        call exit_f4

# kbc_inject: 8042 command 0xD2 writes 0x55 into the output buffer as if
# from the keyboard; IRQ1 rises.
kbc_inject:
1:      inb $0x64, %al
        testb $0x02, %al
        jnz 1b
        movb $0xD2, %al; outb %al, $0x64
2:      inb $0x64, %al
        testb $0x02, %al
        jnz 2b
        movb $0x55, %al; outb %al, $0x60
3:      inb $0x64, %al               # wait for OBF
        testb $0x01, %al
        jz 3b
        ret

# wait_irr0: spin with IF=0 until the master's IRR shows IRQ0.
wait_irr0:
        movb $0x0A, %al; outb %al, $0x20
1:      inb $0x20, %al
        testb $0x01, %al
        jz 1b
        ret

ok:     pushl %esi
        movl $s_ok, %esi; call puts_e9
        popl %esi; call puts_e9
        movb $'\n', %al; jmp putc_e9
fail:   incl failures
        pushl %esi
        movl $s_fail, %esi; call puts_e9
        popl %esi; call puts_e9
        movb $'\n', %al; jmp putc_e9

isr_common:
        pushal
        movl 32(%esp), %eax
        cmpl $0x20, %eax
        je h_irq0
        cmpl $0x21, %eax
        je h_irq1
        cmpl $0x28, %eax
        je h_irq8
        cmpl $0x27, %eax             # spurious IRQ7: no EOI
        je h_done
        cmpl $0x2F, %eax             # spurious IRQ15: EOI the master only
        je h_spur15
        movl %eax, %ebx
        movl $s_unexp, %esi; call puts_e9
        movl %ebx, %eax
        call puthex_e9
        movb $'\n', %al; call putc_e9
        movb $0x7F, %al
        call exit_f4
h_irq0:
        movl order_len, %ecx
        cmpl $8, %ecx
        jae 1f
        movb $0, order(%ecx)
        incl order_len
1:      cmpl $1, in_irq8
        jne 2f
        movl $1, nested0
2:      movb $0x20, %al; outb %al, $0x20
        jmp h_done
h_irq1:
        cmpl $0, irq1_leave
        jne 4f
        inb $0x60, %al
        movl order_len, %ecx
        cmpl $8, %ecx
        jae 3f
        movb $1, order(%ecx)
        incl order_len
3:      movb $0x20, %al; outb %al, $0x20
        jmp h_done
4:      movb $0x20, %al; outb %al, $0x20
        jmp h_done
h_irq8:
        incl irq8_count
        cmpl $1, irq8_mode
        jne 6f
        # nest test: only the first IRQ8 waits for a nested IRQ0
        cmpl $1, irq8_count
        jne 5f
        movl $1, in_irq8
        sti
7:      cmpl $0, nested0
        je 7b
        cli
        movl $0, in_irq8
5:      movb $0x0C, %al; outb %al, $0x70
        inb $0x71, %al
        jmp 8f
6:      cmpl $3, irq8_mode
        jne 8f
        movb $0x0C, %al; outb %al, $0x70
        inb $0x71, %al
8:      movb $0x20, %al; outb %al, $0xA0
        outb %al, $0x20
        jmp h_done
h_spur15:
        movb $0x20, %al; outb %al, $0x20
h_done:
        popal
        addl $4, %esp
        iret

        .align 16
stubs:
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
        .align 16
        pushl $\n
        jmp isr_common
        .endr

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
failures:   .long 0
order_len:  .long 0
order:      .space 8
irq1_leave: .long 0
nested0:    .long 0
in_irq8:    .long 0
irq8_count: .long 0
irq8_mode:  .long 0
once_count: .long 0
t0:         .long 0
        .section .bss
        .align 8
idt:    .skip 48*8
        .section .rodata
s_ok:   .asciz "ok "
s_fail: .asciz "FAIL "
s_unexp: .asciz "unexpected vector "
s_cal:  .asciz "# pit ch2 10 ms one-shot in TSC ticks: "
n_prio: .asciz "priority-irq0-before-irq1"
n_irq1: .asciz "irq1-requested-until-0x60-read"
n_nest: .asciz "irq0-nests-in-irq8-handler"
n_rtcc: .asciz "rtc-register-c-rearms-irq8"
n_cal:  .asciz "pit-ch2-calibration-via-port-0x61"
