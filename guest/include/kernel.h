/*
 * The kernel's window onto the machine: instructions Swift cannot express
 * (port I/O, control registers, descriptor-table loads, hlt/sti/cli), as
 * static inline C functions with inline assembly. Imported into Swift as the
 * bridging header; clang inlines them into the Swift code.
 */
#ifndef SWIFTEMU_GUEST_KERNEL_H
#define SWIFTEMU_GUEST_KERNEL_H

#include <stdint.h>
#include <stddef.h>

/* ---- Port I/O ------------------------------------------------------------ */

static inline uint8_t inb(uint16_t port) {
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline uint16_t inw(uint16_t port) {
    uint16_t value;
    __asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline uint32_t inl(uint16_t port) {
    uint32_t value;
    __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline void outb(uint16_t port, uint8_t value) {
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t value) {
    __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t value) {
    __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

/* A write to port 0x80 (the POST-code port, unused after boot) takes about a
   microsecond on an ISA bus: the classic delay between accesses to old chips
   such as the 8259A. */
static inline void io_wait(void) {
    outb(0x80, 0);
}

/* ---- Memory-mapped I/O (volatile accesses the optimiser must keep) ------- */

static inline uint8_t mmio_read8(uintptr_t address) {
    return *(volatile uint8_t *)address;
}
static inline uint16_t mmio_read16(uintptr_t address) {
    return *(volatile uint16_t *)address;
}
static inline uint32_t mmio_read32(uintptr_t address) {
    return *(volatile uint32_t *)address;
}
static inline uint64_t mmio_read64(uintptr_t address) {
    return *(volatile uint64_t *)address;
}
static inline void mmio_write8(uintptr_t address, uint8_t value) {
    *(volatile uint8_t *)address = value;
}
static inline void mmio_write16(uintptr_t address, uint16_t value) {
    *(volatile uint16_t *)address = value;
}
static inline void mmio_write32(uintptr_t address, uint32_t value) {
    *(volatile uint32_t *)address = value;
}
static inline void mmio_write64(uintptr_t address, uint64_t value) {
    *(volatile uint64_t *)address = value;
}

/* ---- Interrupt flag and halting ----------------------------------------- */

static inline void cpu_cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void cpu_sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cpu_hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void cpu_pause(void) { __asm__ volatile("pause" ::: "memory"); }

/* STI delays interrupt recognition until after the next instruction, so an
   interrupt that became pending while IF was 0 is taken only once HLT has
   started and then wakes it: checking for work with IF=0 and then running
   "sti; hlt" cannot sleep through a wakeup. */
static inline void cpu_sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

static inline uint64_t cpu_read_rflags(void) {
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0" : "=r"(flags) : : "memory");
    return flags;
}

static inline void cpu_int3(void) { __asm__ volatile("int3" ::: "memory"); }

/* ---- Control registers and TLB ------------------------------------------ */

static inline uint64_t cpu_read_cr0(void) {
    uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v;
}
static inline uint64_t cpu_read_cr2(void) {
    uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v;
}
static inline uint64_t cpu_read_cr3(void) {
    uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v;
}
static inline uint64_t cpu_read_cr4(void) {
    uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v;
}
static inline void cpu_write_cr3(uint64_t v) {
    __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}
static inline void cpu_invlpg(uintptr_t address) {
    __asm__ volatile("invlpg (%0)" : : "r"(address) : "memory");
}
static inline uint64_t cpu_read_rsp(void) {
    uint64_t v; __asm__ volatile("mov %%rsp, %0" : "=r"(v)); return v;
}

static inline uint64_t cpu_rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *eax,
                             uint32_t *ebx, uint32_t *ecx, uint32_t *edx) {
    __asm__ volatile("cpuid"
                     : "=a"(*eax), "=b"(*ebx), "=c"(*ecx), "=d"(*edx)
                     : "a"(leaf), "c"(subleaf));
}

/* ---- Descriptor tables -------------------------------------------------- */

/* Loads the GDT, then reloads CS with a far return (the only way to change
   CS in 64-bit mode without an interrupt) and the data segment registers. */
static inline void cpu_load_gdt(uint64_t base, uint16_t limit,
                                uint16_t code_selector, uint16_t data_selector) {
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr = { limit, base };
    __asm__ volatile(
        "lgdt %0\n\t"
        "pushq %q1\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "movw %w2, %%ds\n\t"
        "movw %w2, %%es\n\t"
        "movw %w2, %%ss\n\t"
        : : "m"(gdtr), "r"((uint64_t)code_selector), "r"(data_selector)
        : "rax", "memory");
}

static inline void cpu_load_idt(uint64_t base, uint16_t limit) {
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr = { limit, base };
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

static inline void cpu_load_tr(uint16_t selector) {
    __asm__ volatile("ltr %0" : : "r"(selector) : "memory");
}

static inline uint16_t cpu_store_tr(void) {
    uint16_t selector; __asm__ volatile("str %0" : "=r"(selector)); return selector;
}

static inline uint16_t cpu_read_cs(void) {
    uint16_t v; __asm__ volatile("mov %%cs, %0" : "=r"(v)); return v;
}

/* Self-test helper: loads distinctive values into every register an
   interrupt handler must preserve but a normal call may clobber (RAX, RCX,
   RDX, RSI, RDI, R8-R11, XMM0), executes int3 and returns the OR of the
   differences afterwards (0 = the breakpoint path preserved them all). */
static inline uint64_t int3_register_check(void) {
    uint64_t result;
    __asm__ volatile(
        "movabs $0x0123456789abcdef, %%rax\n\t"
        "movabs $0x1122334455667788, %%rcx\n\t"
        "movabs $0x8877665544332211, %%rdx\n\t"
        "movabs $0xfedcba9876543210, %%rsi\n\t"
        "movabs $0x0f1e2d3c4b5a6978, %%rdi\n\t"
        "movabs $0x1010101020202020, %%r8\n\t"
        "movabs $0x3030303040404040, %%r9\n\t"
        "movabs $0x5050505060606060, %%r10\n\t"
        "movabs $0x7070707080808080, %%r11\n\t"
        "movq %%rsi, %%xmm0\n\t"
        "int3\n\t"
        "xor %%r12, %%r12\n\t"
        "movabs $0x0123456789abcdef, %%r13\n\t xor %%r13, %%rax\n\t or %%rax, %%r12\n\t"
        "movabs $0x1122334455667788, %%r13\n\t xor %%r13, %%rcx\n\t or %%rcx, %%r12\n\t"
        "movabs $0x8877665544332211, %%r13\n\t xor %%r13, %%rdx\n\t or %%rdx, %%r12\n\t"
        "movabs $0xfedcba9876543210, %%r13\n\t xor %%r13, %%rsi\n\t or %%rsi, %%r12\n\t"
        "movabs $0x0f1e2d3c4b5a6978, %%r13\n\t xor %%r13, %%rdi\n\t or %%rdi, %%r12\n\t"
        "movabs $0x1010101020202020, %%r13\n\t xor %%r13, %%r8\n\t or %%r8, %%r12\n\t"
        "movabs $0x3030303040404040, %%r13\n\t xor %%r13, %%r9\n\t or %%r9, %%r12\n\t"
        "movabs $0x5050505060606060, %%r13\n\t xor %%r13, %%r10\n\t or %%r10, %%r12\n\t"
        "movabs $0x7070707080808080, %%r13\n\t xor %%r13, %%r11\n\t or %%r11, %%r12\n\t"
        "movq %%xmm0, %%rax\n\t"
        "movabs $0xfedcba9876543210, %%r13\n\t xor %%r13, %%rax\n\t or %%rax, %%r12\n\t"
        "mov %%r12, %0\n\t"
        : "=m"(result)
        :
        : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
          "xmm0", "memory", "cc");
    return result;
}

/* ---- Interrupt frames ---------------------------------------------------- */

/* Layout built by isr_common (arch/isr.S): the registers it pushed, then the
   vector and error code pushed by the stub, then what the CPU pushed. */
struct interrupt_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* ---- Symbols from the linker script and arch/boot.S ---------------------- */

extern char __kernel_start[], __kernel_end[], __bss_start[], __bss_end[];
extern char boot_pml4[], boot_pd[], stack_guard_page[];
extern char boot_stack_bottom[], boot_stack_top[];
extern char isr_stub_table[], isr_stub_table_end[];

static inline uintptr_t kernel_start_address(void) { return (uintptr_t)__kernel_start; }
static inline uintptr_t kernel_end_address(void) { return (uintptr_t)__kernel_end; }
static inline uintptr_t boot_pml4_address(void) { return (uintptr_t)boot_pml4; }
static inline uintptr_t boot_pd_address(void) { return (uintptr_t)boot_pd; }
static inline uintptr_t stack_guard_address(void) { return (uintptr_t)stack_guard_page; }
static inline uintptr_t boot_stack_bottom_address(void) { return (uintptr_t)boot_stack_bottom; }
static inline uintptr_t boot_stack_top_address(void) { return (uintptr_t)boot_stack_top; }
static inline uintptr_t isr_stub_address(unsigned vector) {
    return (uintptr_t)isr_stub_table + 16u * vector;
}

/* ---- Runtime (kernel/runtime.c) ------------------------------------------ */

/* Bytes used / still free in the small kernel heap behind posix_memalign. */
size_t kernel_heap_used(void);
size_t kernel_heap_size(void);

#endif
