/*
 * The few C library functions Embedded Swift code calls: memset, memcpy,
 * memmove, memcmp (compiler-generated copies and stores), putchar (print()),
 * posix_memalign and free (class instances, arrays). The kernel itself
 * avoids the heap, so the allocator is a small first-fit free list over a
 * fixed region.
 */
#include <stdint.h>
#include <stddef.h>

void *memset(void *dest, int value, size_t count) {
    void *d = dest;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(count) : "a"(value) : "memory");
    return dest;
}

void *memcpy(void *restrict dest, const void *restrict src, size_t count) {
    void *d = dest;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(count) : : "memory");
    return dest;
}

void *memmove(void *dest, const void *src, size_t count) {
    if ((uintptr_t)dest <= (uintptr_t)src || (uintptr_t)dest >= (uintptr_t)src + count)
        return memcpy(dest, src, count);
    /* Overlap with dest above src: copy backwards. */
    unsigned char *d = (unsigned char *)dest + count - 1;
    const unsigned char *s = (const unsigned char *)src + count - 1;
    __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(count) : : "memory");
    return dest;
}

int memcmp(const void *a, const void *b, size_t count) {
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < count; i++) {
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

/* print() output goes to the kernel console (console/writer.swift). */
extern void console_putchar(uint8_t byte);

int putchar(int c) {
    console_putchar((uint8_t)c);
    return (unsigned char)c;
}

/* ---- Heap ---------------------------------------------------------------- */

#define HEAP_SIZE (128 * 1024)

/* Every block starts with a header; free blocks are kept in an address-
   ordered list and merged with their neighbours on free. */
struct block {
    size_t size;            /* bytes including this header */
    struct block *next;     /* next free block (free blocks only) */
};

static _Alignas(64) unsigned char heap[HEAP_SIZE];
static struct block *free_list;
static int heap_ready;
static size_t heap_used;

static void heap_init(void) {
    free_list = (struct block *)heap;
    free_list->size = HEAP_SIZE;
    free_list->next = NULL;
    heap_ready = 1;
}

size_t kernel_heap_used(void) { return heap_used; }
size_t kernel_heap_size(void) { return HEAP_SIZE; }

/* Allocation layout: [padding][block header][user data], and the word right
   before the user data records where the header is. */
int posix_memalign(void **result, size_t alignment, size_t size) {
    if (!heap_ready) heap_init();
    if (alignment < 16) alignment = 16;
    if ((alignment & (alignment - 1)) != 0) return 22; /* EINVAL */
    size_t need = size + alignment + sizeof(struct block) + sizeof(uintptr_t);
    need = (need + 15) & ~(size_t)15;

    struct block **link = &free_list;
    for (struct block *b = free_list; b; link = &b->next, b = b->next) {
        if (b->size < need) continue;
        if (b->size - need >= 64) {           /* split, keep the tail free */
            struct block *rest = (struct block *)((unsigned char *)b + need);
            rest->size = b->size - need;
            rest->next = b->next;
            *link = rest;
            b->size = need;
        } else {
            *link = b->next;
        }
        heap_used += b->size;
        uintptr_t user = (uintptr_t)(b + 1) + sizeof(uintptr_t);
        user = (user + alignment - 1) & ~(uintptr_t)(alignment - 1);
        ((uintptr_t *)user)[-1] = (uintptr_t)b;
        *result = (void *)user;
        return 0;
    }
    *result = NULL;
    return 12; /* ENOMEM */
}

void free(void *pointer) {
    if (!pointer) return;
    struct block *b = (struct block *)((uintptr_t *)pointer)[-1];
    heap_used -= b->size;
    /* Insert in address order and merge with neighbours. */
    struct block **link = &free_list;
    while (*link && *link < b) link = &(*link)->next;
    b->next = *link;
    *link = b;
    if (b->next && (unsigned char *)b + b->size == (unsigned char *)b->next) {
        b->size += b->next->size;
        b->next = b->next->next;
    }
    if (link != &free_list) {
        struct block *prev = (struct block *)((unsigned char *)link - offsetof(struct block, next));
        if ((unsigned char *)prev + prev->size == (unsigned char *)b) {
            prev->size += b->size;
            prev->next = b->next;
        }
    }
}

/* Seeds the standard library's Hasher (simple enums are Hashable). The
   kernel never relies on hash randomisation, and a fixed sequence keeps runs
   deterministic, so this is a plain xorshift generator. */
void arc4random_buf(void *buffer, size_t count) {
    static uint64_t state = 0x9E3779B97F4A7C15ull;
    unsigned char *out = buffer;
    for (size_t i = 0; i < count; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out[i] = (unsigned char)state;
    }
}
