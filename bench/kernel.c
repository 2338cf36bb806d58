/*
 * The benchmark kernels' 64-bit main. One source, several kernels chosen at
 * build time with -DBENCH_<NAME>:
 *   NULL  enters long mode and exits at once (startup-time reference)
 *   INT   integer workload
 *   IRQ   integer workload with the PIT at 1000 Hz and an IRQ0 handler
 *   MEM   memory workload through 4 KiB pages (4-level paging)
 *   IDLE  PIT at 1000 Hz, `sti; hlt` until 10000 ticks (10 virtual seconds)
 * Output goes to port 0xE9; the end is an isa-debug-exit write to port 0xF4
 * (swiftemu, QEMU), then the "Shutdown" string on port 0x8900 (Bochs).
 */
#include "work.h"

#ifndef INT_ITERS
#define INT_ITERS 20000000ull
#endif
#ifndef MEM_PASSES
#define MEM_PASSES 4
#endif
#define EXIT_OK 0x10

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }

static void putc_e9(char c) { outb(0xE9, (uint8_t)c); }
static void puts_e9(const char *s) { while (*s) putc_e9(*s++); }
static void puthex_e9(uint64_t v) {
    for (int i = 60; i >= 0; i -= 4)
        putc_e9("0123456789abcdef"[(v >> i) & 15]);
}

void *memcpy(void *d, const void *s, uint64_t n) {
    uint8_t *dd = d; const uint8_t *ss = s;
    while (n--) *dd++ = *ss++;
    return d;
}
void *memset(void *d, int c, uint64_t n) {
    uint8_t *dd = d;
    while (n--) *dd++ = (uint8_t)c;
    return d;
}

void bench_exit(int v) {
    puts_e9("BENCH-END\n");
    outb(0xF4, (uint8_t)v);
    /* Not QEMU or swiftemu: ask Bochs to shut down. */
    for (const char *s = "Shutdown"; *s; s++) outb(0x89 << 8, (uint8_t)*s);
    for (;;) __asm__ volatile("cli; hlt");
}

void unexpected_vector(uint64_t v, uint64_t err) {
    puts_e9("unexpected vector 0x"); puthex_e9(v);
    puts_e9(" word 0x"); puthex_e9(err); putc_e9('\n');
    bench_exit(0x7F);
}

#if defined(BENCH_IRQ) || defined(BENCH_IDLE)
extern char irq_stubs[];
extern volatile uint64_t ticks;

struct __attribute__((packed)) gate { uint16_t off0, sel; uint8_t ist, type; uint16_t off1; uint32_t off2, zero; };
static struct gate idt[48] __attribute__((aligned(16)));
static struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr;

static void setup_interrupts(void) {
    for (int i = 0; i < 48; i++) {
        uint64_t h = (uint64_t)(irq_stubs + 16 * i);
        idt[i] = (struct gate){ (uint16_t)h, 0x08, 0, 0x8E, (uint16_t)(h >> 16), (uint32_t)(h >> 32), 0 };
    }
    idtr.limit = sizeof idt - 1;
    idtr.base = (uint64_t)idt;
    __asm__ volatile("lidt %0" : : "m"(idtr));
    /* PIC pair to vectors 0x20/0x28, only IRQ0 unmasked. */
    outb(0x20, 0x11); outb(0xA0, 0x11);
    outb(0x21, 0x20); outb(0xA1, 0x28);
    outb(0x21, 0x04); outb(0xA1, 0x02);
    outb(0x21, 0x01); outb(0xA1, 0x01);
    outb(0x21, 0xFE); outb(0xA1, 0xFF);
    /* PIT channel 0, mode 2, divisor 1193: 1000.15 Hz. */
    outb(0x43, 0x34);
    outb(0x40, 1193 & 0xFF);
    outb(0x40, 1193 >> 8);
    __asm__ volatile("sti");
}
#endif

#ifdef BENCH_MEM
/* 32 MiB at virtual 1 GiB (PDPT entry 1), 4 KiB pages, mapped to physical
 * 32..64 MiB in a scrambled page order so the copies really go through the
 * page tables. */
extern uint64_t boot_pdpt[512];
static uint64_t mem_pd[512] __attribute__((aligned(4096)));
static uint64_t mem_pt[16][512] __attribute__((aligned(4096)));
#define MEM_VIRT 0x40000000ull
#define MEM_PHYS 0x02000000ull

static void setup_paging(void) {
    const uint64_t pages = 2 * MEM_HALF / 4096;          /* 8192 */
    for (uint64_t i = 0; i < pages; i++) {
        uint64_t phys = MEM_PHYS + ((i * 4099) & (pages - 1)) * 4096;
        mem_pt[i / 512][i % 512] = phys | 3;
    }
    for (int i = 0; i < 16; i++) mem_pd[i] = (uint64_t)mem_pt[i] | 3;
    boot_pdpt[1] = (uint64_t)mem_pd | 3;
    __asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" : : : "rax", "memory");
}

static void flush_tlb(void) {
    __asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" : : : "rax", "memory");
}
#endif

int kmain(void) {
    uint64_t sum = 0;
#if defined(BENCH_NULL)
    puts_e9("bench null\n");
#elif defined(BENCH_INT)
    puts_e9("bench int\n");
    sum = int_work(INT_ITERS);
#elif defined(BENCH_IRQ)
    puts_e9("bench irq\n");
    setup_interrupts();
    sum = int_work(INT_ITERS);
    __asm__ volatile("cli");
#elif defined(BENCH_MEM)
    puts_e9("bench mem\n");
    setup_paging();
    sum = mem_work((uint8_t *)MEM_VIRT, MEM_PASSES, flush_tlb);
#elif defined(BENCH_IDLE)
    puts_e9("bench idle\n");
    setup_interrupts();
    while (ticks < 10000)
        __asm__ volatile("hlt");
    __asm__ volatile("cli");
#else
#error "define one of BENCH_NULL, BENCH_INT, BENCH_IRQ, BENCH_MEM, BENCH_IDLE"
#endif
    puts_e9("checksum "); puthex_e9(sum); putc_e9('\n');
#if defined(BENCH_IRQ) || defined(BENCH_IDLE)
    puts_e9("ticks "); puthex_e9(ticks); putc_e9('\n');
#endif
    return EXIT_OK;
}
