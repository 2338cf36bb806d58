# A Multiboot kernel loaded through the a.out kludge (header flag bit 16):
# a flat binary whose header gives the load addresses and the entry.
        .set MB_MAGIC, 0x1BADB002
        .set MB_FLAGS, 0x00010003
        .set BASE, 0x200000
        .section .text
        .globl _start
start_of_image:
        .align 4
header:
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        .long BASE + (header - start_of_image)       # header_addr
        .long BASE                                   # load_addr
        .long BASE + (end_of_data - start_of_image)  # load_end_addr
        .long BASE + (end_of_bss - start_of_image)   # bss_end_addr
        .long BASE + (_start - start_of_image)       # entry_addr
_start:
        movl $(BASE + (bss_word - start_of_image)), %edi
        cmpl $0, (%edi)
        jne 2f
        movl $(BASE + (msg - start_of_image)), %esi
1:      lodsb
        testb %al, %al
        jz 3f
        outb %al, $0xE9
        jmp 1b
2:      movb $1, %al
        outb %al, $0xF4
3:      movb $0x10, %al
        outb %al, $0xF4
        cli
        hlt
msg:    .asciz "loaded by the a.out kludge\n"
        .align 4
end_of_data:
bss_word:
        .skip 64
end_of_bss:
