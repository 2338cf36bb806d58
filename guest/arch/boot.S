/*
 * Multiboot v1 entry and the 32-bit -> 64-bit trampoline.
 *
 * A Multiboot loader (QEMU -kernel, GRUB, swiftemu) enters _start in 32-bit
 * protected mode with paging off, EAX = 0x2BADB002 and EBX = physical address
 * of the Multiboot information structure. Everything the CPU insists on
 * before 64-bit code can run happens here; the rest is Swift.
 */

        .set MB_MAGIC,       0x1BADB002
        .set MB_FLAG_ALIGN,  1 << 0     /* modules page aligned */
        .set MB_FLAG_MEMINFO,1 << 1     /* please fill mem_lower/mem_upper */
        .set MB_FLAGS,       MB_FLAG_ALIGN | MB_FLAG_MEMINFO

        .set CR0_PE,   1 << 0
        .set CR0_MP,   1 << 1           /* WAIT/FWAIT honour CR0.TS */
        .set CR0_EM,   1 << 2           /* x87 emulation: must be 0 for SSE */
        .set CR0_TS,   1 << 3
        .set CR0_WP,   1 << 16          /* supervisor writes honour R/W bit */
        .set CR0_PG,   1 << 31
        .set CR4_PAE,        1 << 5
        .set CR4_OSFXSR,     1 << 9     /* FXSAVE/FXRSTOR + SSE enabled */
        .set CR4_OSXMMEXCPT, 1 << 10    /* SIMD FP exceptions as #XM */
        .set MSR_EFER, 0xC0000080
        .set EFER_LME, 1 << 8

        .set PTE_PRESENT, 1 << 0
        .set PTE_WRITE,   1 << 1
        .set PTE_HUGE,    1 << 7        /* PS bit: 2 MiB page in a PD entry */

        .set BOOT_STACK_SIZE, 64 * 1024

/* ---------------------------------------------------------------------- */
        .section .multiboot, "a"
        .balign 4
multiboot_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

/* ---------------------------------------------------------------------- */
        .section .bss
        .balign 4096
        .global boot_pml4
boot_pml4:      .skip 4096
boot_pdpt:      .skip 4096
        .global boot_pd
boot_pd:        .skip 4096
        /* One unmapped page below the kernel stack (paging.swift removes its
           mapping): running off the stack faults instead of corrupting .bss. */
        .global stack_guard_page
stack_guard_page:
                .skip 4096
        .global boot_stack_bottom
boot_stack_bottom:
                .skip BOOT_STACK_SIZE
        .global boot_stack_top
boot_stack_top:

        .section .data
        .balign 8
multiboot_magic: .long 0
multiboot_info:  .long 0

        /* Boot GDT: null, 64-bit code (0x08), data (0x10). gdt.swift replaces
           it with the final GDT that also holds the TSS. */
        .balign 16
boot_gdt:
        .quad 0
        .quad 0x00AF9A000000FFFF        /* P, DPL0, code, exec/read, L=1 */
        .quad 0x00CF92000000FFFF        /* P, DPL0, data, read/write     */
boot_gdt_end:
boot_gdtr:
        .word boot_gdt_end - boot_gdt - 1
        .quad boot_gdt

/* ---------------------------------------------------------------------- */
        .section .text.boot, "ax"
        .code32
        .global _start
        .type _start, @function
_start:
        cli
        cld
        mov %eax, multiboot_magic
        mov %ebx, multiboot_info

        /* Zero .bss ourselves: page tables, stack and Swift globals live there. */
        mov $__bss_start, %edi
        mov $__bss_end, %ecx
        sub %edi, %ecx
        shr $2, %ecx
        xor %eax, %eax
        rep stosl
        mov $boot_stack_top, %esp

        /* Long mode needs CPUID leaf 0x80000001 EDX bit 29. */
        mov $0x80000000, %eax
        cpuid
        cmp $0x80000001, %eax
        jb no_long_mode
        mov $0x80000001, %eax
        cpuid
        test $(1 << 29), %edx
        jz no_long_mode

        /* Identity map 0..1 GiB with 512 2 MiB pages: PML4[0] -> PDPT[0] -> PD. */
        mov $boot_pdpt, %eax
        or $(PTE_PRESENT | PTE_WRITE), %eax
        mov %eax, boot_pml4
        mov $boot_pd, %eax
        or $(PTE_PRESENT | PTE_WRITE), %eax
        mov %eax, boot_pdpt
        mov $boot_pd, %edi
        mov $(PTE_PRESENT | PTE_WRITE | PTE_HUGE), %eax
        mov $512, %ecx
1:      mov %eax, (%edi)
        movl $0, 4(%edi)
        add $0x200000, %eax
        add $8, %edi
        loop 1b

        /* PAE paging plus SSE enabled before any Swift code (Swift emits SSE). */
        mov %cr4, %eax
        or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
        mov %eax, %cr4
        mov $boot_pml4, %eax
        mov %eax, %cr3
        mov $MSR_EFER, %ecx
        rdmsr
        or $EFER_LME, %eax
        wrmsr
        mov %cr0, %eax
        and $~(CR0_EM | CR0_TS), %eax
        or $(CR0_PE | CR0_MP | CR0_WP | CR0_PG), %eax
        mov %eax, %cr0                  /* now in compatibility mode */

        lgdt boot_gdtr
        ljmp $0x08, $long_mode_entry

no_long_mode:
        /* Tell the user on the VGA screen and on the debug console, then stop. */
        mov $no_lm_msg, %esi
        mov $0xB8000, %edi
2:      lodsb
        test %al, %al
        jz 3f
        mov $0xE9, %dx
        outb %al, %dx
        mov $0x4F, %ah
        stosw
        jmp 2b
3:      hlt
        jmp 3b

        .section .rodata
no_lm_msg:
        .asciz "swiftemu guest: this CPU has no long mode (x86-64); halting."

/* ---------------------------------------------------------------------- */
        .section .text.boot, "ax"
        .code64
long_mode_entry:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        xor %ax, %ax
        mov %ax, %fs
        mov %ax, %gs
        mov $boot_stack_top, %rsp
        xor %ebp, %ebp
        fninit
        /* kernel_main(magic, info): System V arguments in EDI/ESI (zero-extended). */
        mov multiboot_magic(%rip), %edi
        mov multiboot_info(%rip), %esi
        call kernel_main
4:      cli
        hlt
        jmp 4b
        .size _start, . - _start

        .section .note.GNU-stack, "", @progbits
