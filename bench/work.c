/*
 * Benchmark workloads, shared by the benchmark kernels and by a host build
 * that computes the reference checksums (bench/hostref.c). Plain C with
 * fixed-width integer types only, so every compiler and every correct x86
 * CPU computes the same checksums.
 */
#include "work.h"

/* ---- integer workload ------------------------------------------------ */

#define TBL 4096
static uint64_t tbl[TBL];
static uint8_t bytes[TBL + 64];

/* A call with 64-bit multiply, shifts and rotates. */
__attribute__((noinline)) static uint64_t mix(uint64_t a, uint64_t b) {
    a ^= b >> 29;
    a *= 0xBF58476D1CE4E5B9ull;
    a ^= a >> 32;
    return ((a << 7) | (a >> 57)) + b;
}

/* Byte loads, 32-bit multiply, a short counted loop. */
__attribute__((noinline)) static uint32_t bytesum(const uint8_t *p, uint32_t n, uint32_t h) {
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

uint64_t int_work(uint64_t iters) {
    uint64_t x = 0x0123456789ABCDEFull, s = 0;
    for (uint32_t i = 0; i < TBL; i++)
        tbl[i] = (uint64_t)i * 0x9E3779B97F4A7C15ull;
    for (uint32_t i = 0; i < TBL + 64; i++)
        bytes[i] = (uint8_t)(i * 7 + (i >> 5));
    for (uint64_t i = 0; i < iters; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t idx = (uint32_t)(x >> 40) & (TBL - 1);
        uint64_t v = tbl[idx];
        switch (x >> 61) {
        case 0: s += mix(v, x); break;
        case 1: s ^= v >> (x & 63); break;
        case 2: s -= v << 3; break;
        case 3: s += (uint64_t)((int64_t)v >> 17); break;
        case 4: s = (s << 1) | (s >> 63); s += v & 0xFFFF; break;
        case 5: s = v > s ? v - s : s - v; break;
        case 6: s += bytesum(bytes + (idx & (TBL - 1)), 16, (uint32_t)s); break;
        default: s += v / ((x & 0xFF) | 1); break;
        }
        tbl[idx] = v + s;
        if ((i & 1023) == 0)
            bytes[(i >> 10) & (TBL - 1)] ^= (uint8_t)s;
    }
    return s ^ x;
}

/* ---- memory workload ------------------------------------------------- */

static inline void rep_movsq(void *dst, const void *src, uint64_t n) {
    __asm__ volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static inline void rep_stosq(void *dst, uint64_t v, uint64_t n) {
    __asm__ volatile("rep stosq" : "+D"(dst), "+c"(n) : "a"(v) : "memory");
}

/* Word-at-a-time copy loop, as a simple memcpy would be written. */
__attribute__((noinline)) static void copy_words(uint64_t *d, const uint64_t *s, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        d[i] = s[i];
}

__attribute__((noinline)) static void copy_bytes(uint8_t *d, const uint8_t *s, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        d[i] = s[i];
}

uint64_t mem_work(uint8_t *base, uint32_t passes, void (*flush_tlb)(void)) {
    uint64_t *a = (uint64_t *)base;
    uint64_t *b = (uint64_t *)(base + MEM_HALF);
    const uint64_t n = MEM_HALF / 8;
    const uint64_t chunk = 65536 / 8;          /* 64 KiB */
    const uint64_t nchunks = n / chunk;
    uint64_t sum = 0;
    for (uint32_t p = 0; p < passes; p++) {
        /* 1: fill A with a pattern (64-bit stores) */
        uint64_t v = 0x9E3779B97F4A7C15ull * (p + 1);
        for (uint64_t i = 0; i < n; i++) {
            a[i] = v ^ i;
            v = (v << 1) | (v >> 63);
        }
        /* 2: copy A -> B with a word loop */
        copy_words(b, a, n);
        /* 3: REP MOVSQ B -> A in 64 KiB chunks, chunks permuted */
        for (uint64_t c = 0; c < nchunks; c++)
            rep_movsq(a + ((c * 37 + p) % nchunks) * chunk, b + c * chunk, chunk);
        /* 4: byte copy of 1 MiB, then REP STOSQ over 256 KiB of B */
        copy_bytes((uint8_t *)b + (p & 7) * 4096, (const uint8_t *)a + 4096, 1u << 20);
        rep_stosq(b + (p + 1) * 4096, 0x5A5A5A5A5A5A5A5Aull + p, 32768);
        /* 5: one read per 4 KiB page over both buffers, several rounds */
        if (flush_tlb)
            flush_tlb();
        for (uint32_t r = 0; r < 8; r++)
            for (uint64_t pg = 0; pg < 2 * MEM_HALF / 4096; pg++)
                sum += a[pg * 512 + ((pg + r) & 511)];
        /* 6: checksum over A and B */
        for (uint64_t i = 0; i < n; i += 2) {
            sum = (sum ^ a[i]) + (b[i + 1] >> 3);
            sum = (sum << 9) | (sum >> 55);
        }
    }
    return sum;
}
