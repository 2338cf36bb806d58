# Multiboot v1 entry shared by the benchmark kernels. The loader (swiftemu,
# QEMU -kernel, GRUB) enters _start in 32-bit protected mode with paging off;
# this file builds 4-level page tables identity-mapping the first 1 GiB with
# 2 MiB pages, enables PAE + EFER.LME + paging, far-jumps to 64-bit code and
# calls kmain(). The image is linked as ELF64 below 4 GiB and converted to
# ELF32 (llvm-objcopy -O elf32-i386) so every Multiboot loader accepts it.
        .set MB_MAGIC, 0x1BADB002
        .set MB_FLAGS, 0x00000003          # page-align modules, memory info
        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

        .section .bss
        .align 4096
        .globl boot_pml4, boot_pdpt
boot_pml4:  .skip 4096
boot_pdpt:  .skip 4096
boot_pd:    .skip 4096
        .align 16
stack_bottom:
        .skip 65536
        .globl stack_top
stack_top:

        .section .text
        .code32
        .globl _start
_start:
        cli
        movl $stack_top, %esp
        movl %eax, mb_magic
        movl %ebx, mb_info
        # PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] -> i * 2 MiB (present, writable, PS)
        movl $boot_pml4, %edi
        movl $boot_pdpt + 3, (%edi)
        movl $boot_pdpt, %edi
        movl $boot_pd + 3, (%edi)
        movl $boot_pd, %edi
        movl $0x83, %eax
        movl $512, %ecx
1:      movl %eax, (%edi)
        movl $0, 4(%edi)
        addl $0x200000, %eax
        addl $8, %edi
        decl %ecx
        jnz 1b
        movl %cr4, %eax
        orl $0x20, %eax                   # PAE
        movl %eax, %cr4
        movl $boot_pml4, %eax
        movl %eax, %cr3
        movl $0xC0000080, %ecx            # EFER.LME
        rdmsr
        orl $0x100, %eax
        wrmsr
        movl %cr0, %eax
        orl $0x80000001, %eax             # PG | PE
        movl %eax, %cr0
        lgdt gdtr
        ljmp $0x08, $long_entry

        .code64
long_entry:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        xorw %ax, %ax
        movw %ax, %fs
        movw %ax, %gs
        movq $stack_top, %rsp
        xorl %ebp, %ebp
        call kmain
        # kmain returns the exit value in AL
        movl %eax, %edi
        call bench_exit
2:      cli
        hlt
        jmp 2b

        .section .data
        .align 16
gdt:    .quad 0
        .quad 0x00AF9A000000FFFF          # 0x08: 64-bit code
        .quad 0x00CF92000000FFFF          # 0x10: data
gdtr:   .word gdtr - gdt - 1
        .long gdt
        .globl mb_magic, mb_info
        .align 4
mb_magic: .long 0
mb_info:  .long 0
