/* Runs the benchmark workloads natively and prints the checksums the
 * kernels must print: "int X", "mem X" (hex, as the kernels print them). */
#include <stdio.h>
#include <stdlib.h>
#include "work.h"

int main(void) {
    printf("int %016llx\n", (unsigned long long)int_work(INT_ITERS));
    uint8_t *buf = aligned_alloc(4096, 2 * MEM_HALF);
    if (!buf) return 1;
    printf("mem %016llx\n", (unsigned long long)mem_work(buf, MEM_PASSES, 0));
    free(buf);
    return 0;
}
