# LOCK on the read-modify-write forms compilers and runtimes emit (XADD,
# INC, ADD to memory, CMPXCHG, BTS) executes; prints the final value.
#include "common.inc"
        .globl _start
_start:
        movl $stack_top, %esp
        movl $val, %edi
        movl $-1, %ecx
        lock xaddl %ecx, 0(%edi)      # 5 -> 4, ecx = 5
        lock incl 0(%edi)             # 5
        lock addl $10, 0(%edi)        # 15
        movl $15, %eax
        movl $20, %edx
        lock cmpxchgl %edx, 0(%edi)   # 20
        lock btsl $4, 0(%edi)         # 20 | 16 = 20 (bit 4 already set)
        lock orl $1, 0(%edi)          # 21
        movl 0(%edi), %eax
        call puthex_e9
        movb $'\n', %al
        call putc_e9
        movb $0x10, %al
        call exit_f4
        .section .data
val:    .long 5
