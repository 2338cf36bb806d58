#ifndef BENCH_WORK_H
#define BENCH_WORK_H
#include <stdint.h>

/* The memory workload uses two buffers of MEM_HALF bytes each. */
#define MEM_HALF (16u << 20)

uint64_t int_work(uint64_t iters);
uint64_t mem_work(uint8_t *base, uint32_t passes, void (*flush_tlb)(void));

#endif
