#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/.

    python3 fuzz/seeds/gen.py [build/kernels]

cpu: small assembled programs for each CPU mode the cpu target sets up
(assembled with the toolchain's clang), with the target's input header.
devices: port I/O tuple sequences that program each chip the way drivers do.
inputscript: sample --input files and --keys texts.
loader: the test kernels from build/kernels plus an ELF64 conversion,
an a.out-kludge image and a few hand-made headers.
gdbpacket: a recorded GDB session (raw and as payloads), noise, bad checksums.
debugcmd: debugger command scripts.
"""
import os, shutil, struct, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(os.path.dirname(HERE), "corpus")
ROOT = os.path.dirname(os.path.dirname(HERE))


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def assemble(src, bits):
    triple = "x86_64-unknown-none-elf" if bits == 64 else "i386-unknown-none-elf"
    prefix = {16: ".code16\n", 32: ".code32\n", 64: ".code64\n"}[bits]
    with tempfile.TemporaryDirectory() as t:
        s, o, b = (os.path.join(t, n) for n in ("a.S", "a.o", "a.bin"))
        with open(s, "w") as f:
            f.write(prefix + src + "\n")
        subprocess.run(["clang", "-target", triple, "-c", "-o", o, s], check=True)
        objcopy = shutil.which("llvm-objcopy") or "objcopy"
        subprocess.run([objcopy, "-O", "binary", "-j", ".text", o, b], check=True)
        return open(b, "rb").read()


# ---- cpu -------------------------------------------------------------------
# Header: flags byte (mode in bits 0-2, 0x08 ring 3, 0x10 interrupts,
# 0x20 strict paging/NX, 0x40 observers, 0x80 reboot), register seed,
# four GDT descriptors for selectors 0x58-0x70.
EXTRA_GDT = struct.pack("<4Q",
                        0x00CF9A000000FFFF,      # 0x58 code32 (readable off)
                        0x0040920000000FFF,      # 0x60 small data segment, limit 4 KiB
                        0x0001EC0000080000,      # 0x68 call gate to 0x08:0x10000, DPL 3
                        0x0000890088000067)      # 0x70 another TSS descriptor
CPU_SEEDS = [
    ("real-io", 0x00, 16, """
        mov $0x3f8, %dx
        mov $'A', %al
        out %al, %dx
        mov $0x1234, %ax
        mov %ax, %ds
        movw $0x55aa, (0x10)
        int $0x10
        pushf
        popf
        hlt"""),
    ("real-to-protected", 0x00, 16, """
        cli
        lgdtl %cs:(gdtp - 0)
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        ljmp $0x08, $0x10040
        gdtp: .word 0x7f
        .long 0x8000"""),
    ("prot16", 0x01, 16, """
        mov $0x50, %ax
        mov %ax, %es
        xor %di, %di
        mov $8, %cx
        rep stosb
        lcall $0x48, $0
        iret"""),
    ("flat32-pic-sti-hlt", 0x12, 32, """
        mov $0x11, %al
        out %al, $0x20
        mov $0x20, %al
        out %al, $0x21
        mov $4, %al
        out %al, $0x21
        mov $1, %al
        out %al, $0x21
        mov $0xfe, %al
        out %al, $0x21
        mov $0x34, %al
        out %al, $0x43
        mov $0x10, %al
        out %al, $0x40
        out %al, $0x40
        sti
        hlt
        mov $0x20, %al
        out %al, $0x20
        iret"""),
    ("flat32-strings", 0x02, 32, """
        cld
        mov $0x20000, %esi
        mov $0x21000, %edi
        mov $64, %ecx
        rep movsb
        std
        mov $16, %ecx
        rep stosl
        repne scasb
        cmpsw
        lodsl
        ud2"""),
    ("flat32-system", 0x02, 32, """
        cpuid
        rdtsc
        mov $0x1b, %ecx
        rdmsr
        wrmsr
        sgdt (0x20000)
        sidt (0x20010)
        str %ax
        ltr %ax
        lldt %ax
        mov $0x58, %ax
        mov %ax, %ds
        ljmp $0x70, $0
        lock cmpxchg8b (0x20000)
        xadd %eax, (0x20004)
        bound %eax, (0x20000)
        into
        int3
        div %ecx"""),
    ("flat32-sse", 0x22, 32, """
        mov %cr4, %eax
        or $0x600, %eax
        mov %eax, %cr4
        fxsave (0x20000)
        movdqu (0x20000), %xmm0
        paddd %xmm0, %xmm1
        pshufd $0x1b, %xmm1, %xmm2
        movaps %xmm2, (0x20010)
        cvtsi2sd %eax, %xmm3
        sqrtsd %xmm3, %xmm4
        fxrstor (0x20000)
        fninit
        fld1"""),
    ("paging32-faults", 0x03, 32, """
        movl $1, (0x30000)
        movl $1, (0x31000)
        mov %cr3, %eax
        mov %eax, %cr3
        invlpg (0x30000)
        movl $0x30007, (0x2000 + 0x30 * 4)
        movl $2, (0x30000)
        mov %cr2, %ebx
        jmp *0xC0010000"""),
    ("paging32-user", 0x1b, 32, """
        int $0x80
        movl $1, (0x32000)
        cli
        in $0x60, %al
        pushf
        popf
        sysenter
        hlt"""),
    ("pse-highhalf", 0x07, 32, """
        mov 0xC0010000, %eax
        mov %eax, 0xFFC00000
        mov 0x00800000, %eax
        movl $0, 0x00400000
        hlt"""),
    ("pae-nx", 0x24, 32, """
        mov 0x00400000, %eax
        mov 0x00600000, %ebx
        movl $5, 0xFFE10000
        call *%ebx
        mov %cr4, %eax
        and $~0x20, %eax
        mov %eax, %cr4
        hlt"""),
    ("long64", 0x05, 64, """
        mov $0xc0000082, %ecx
        lea 0x10000(%rip), %rax
        xor %edx, %edx
        wrmsr
        mov $0xc0000080, %ecx
        rdmsr
        or $1, %eax
        wrmsr
        syscall
        swapgs
        movabs $0xffff800000000000, %rax
        mov (%rax), %rbx
        mov 0x40000000, %rcx
        mov 0xffffffffc0010000, %rdx
        invlpg (%rax)
        iretq"""),
    ("long64-user", 0x2d, 64, """
        syscall
        int $0x80
        mov %cr3, %rax
        hlt"""),
    ("long64-modes", 0x15, 64, """
        sti
        pushq $0x08
        lea 1f(%rip), %rax
        push %rax
        lretq
        1: hlt
        mov $0x10, %eax
        mov %eax, %ss
        push $0x10
        push %rsp
        pushf
        push $0x38
        push $0x10000
        iretq"""),
    ("compat32", 0x06, 32, """
        ljmp $0x38, $0x10010
        hlt
        mov $0x23, %ax
        mov %ax, %ds
        int $0x21"""),
    ("reset-reboot", 0x82, 32, """
        mov $0xfe, %al
        out %al, $0x64
        mov $1, %al
        out %al, $0x92
        lidt (0x20000)
        int $3"""),
    ("observed-faults", 0x42, 32, """
        mov $0x11, %al
        out %al, $0x20
        xor %ecx, %ecx
        div %ecx
        ud2
        lidt (0x20000)
        int $0x40"""),
    ("debugexit", 0x02, 32, """
        mov $'x', %al
        out %al, $0xe9
        mov $7, %al
        out %al, $0xf4"""),
]


def cpu_seeds():
    for name, flags, bits, src in CPU_SEEDS:
        code = assemble(src, bits)
        put("cpu", name, bytes([flags, 0]) + EXTRA_GDT + code)


# ---- devices ---------------------------------------------------------------
PORTS = [0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1, 0x40, 0x41, 0x42, 0x43, 0x61, 0x60, 0x64,
         0x70, 0x71, 0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC, 0x3FD, 0x3FE, 0x3FF,
         0x3B4, 0x3B5, 0x3BA, 0x3C0, 0x3C1, 0x3C2, 0x3C3, 0x3C4, 0x3C5, 0x3C6,
         0x3C7, 0x3C8, 0x3C9, 0x3CA, 0x3CB, 0x3CC, 0x3CD, 0x3CE, 0x3CF,
         0x3D4, 0x3D5, 0x3DA, 0xE9, 0xF4, 0x80, 0x92]


def t(op, port=0, value=0, dt=0):
    return struct.pack("<BBIB", op, PORTS.index(port) if port else 0, value & 0xFFFFFFFF, dt)


def OUT(port, v, dt=1): return t(1, port, v, dt)
def IN(port, dt=1): return t(0, port, 0, dt)
def WAIT(units, scale=2): return t(0, 0x80, 0, (scale << 6) | units)
INTA = t(2, 0x20, 0, 1)


def devices_seeds():
    pic = [OUT(0x20, 0x11), OUT(0x21, 0x20), OUT(0x21, 4), OUT(0x21, 1),
           OUT(0xA0, 0x11), OUT(0xA1, 0x28), OUT(0xA1, 2), OUT(0xA1, 1),
           OUT(0x21, 0x00), OUT(0xA1, 0x00)]
    pit = [OUT(0x43, 0x34), OUT(0x40, 0x9C), OUT(0x40, 0x2E), WAIT(40, 3), INTA, OUT(0x20, 0x20),
           OUT(0x43, 0x00), IN(0x40), IN(0x40), OUT(0x43, 0xE2), IN(0x40)]
    put("devices", "pic-pit", b"".join(pic + pit + [WAIT(63, 3), INTA, OUT(0x20, 0x0B), IN(0x20), OUT(0x20, 0x20)]))
    spk = [OUT(0x61, 0x01), OUT(0x43, 0xB6), OUT(0x42, 0x00), OUT(0x42, 0x10), IN(0x61), WAIT(20, 2), IN(0x61),
           OUT(0x43, 0xB0), OUT(0x42, 0xFF), OUT(0x42, 0xFF), OUT(0x61, 0x00), IN(0x42)]
    put("devices", "speaker", b"".join(spk))
    kbc = [OUT(0x64, 0x20), IN(0x60), OUT(0x64, 0x60), OUT(0x60, 0x47), OUT(0x64, 0xAA, 40), IN(0x60),
           OUT(0x64, 0xAE), OUT(0x60, 0xFF, 63), WAIT(10, 3), IN(0x60), IN(0x60),
           OUT(0x60, 0xF0), OUT(0x60, 0x02), IN(0x60), OUT(0x60, 0xF3), OUT(0x60, 0x00),
           t(3, 0, 0x1C), WAIT(10, 3), IN(0x64), IN(0x60), t(3 | 8, 0, 0x1C), WAIT(5, 3), IN(0x60),
           OUT(0x64, 0xA8), OUT(0x64, 0xD4), OUT(0x60, 0xF4), WAIT(5, 3), IN(0x60),
           t(5, 0, 0x01FE0005), WAIT(5, 3), IN(0x60), IN(0x60), IN(0x60),
           OUT(0x64, 0xD1), OUT(0x60, 0xDD), OUT(0x64, 0xFE)]
    put("devices", "kbc-keyboard-mouse", b"".join(pic + kbc))
    rtc = [OUT(0x70, 0x0B), IN(0x71), OUT(0x70, 0x0B), OUT(0x71, 0x42), OUT(0x70, 0x0A), OUT(0x71, 0x26),
           WAIT(63, 3), OUT(0x70, 0x0C), IN(0x71), OUT(0x70, 0x00), IN(0x71), OUT(0x70, 0x8F), IN(0x71),
           OUT(0x70, 0x32), IN(0x71), OUT(0x70, 0x0B), OUT(0x71, 0x86), OUT(0x70, 0x09), OUT(0x71, 0x99)]
    put("devices", "rtc", b"".join(pic + rtc + [WAIT(63, 3), INTA]))
    uart = [OUT(0x3FB, 0x80), OUT(0x3F8, 0x01), OUT(0x3F9, 0x00), OUT(0x3FB, 0x03), OUT(0x3FA, 0xC7),
            OUT(0x3FC, 0x0B), OUT(0x3F9, 0x0F), OUT(0x3F8, 0x41), IN(0x3FD), IN(0x3FA),
            t(6, 0, 0x5A), t(6, 0, 0x0D), IN(0x3FD), IN(0x3F8), OUT(0x3FC, 0x10), OUT(0x3F8, 0x42), IN(0x3F8),
            IN(0x3FE), OUT(0x3FF, 0x77), IN(0x3FF)]
    put("devices", "uart", b"".join(pic + uart + [INTA]))
    vga = [IN(0x3CC), IN(0x3DA), OUT(0x3C0, 0x10), OUT(0x3C0, 0x0C), OUT(0x3D4, 0x0A), OUT(0x3D5, 0x0E),
           OUT(0x3D4, 0x0E), OUT(0x3D5, 0x07), OUT(0x3D4, 0x0F), OUT(0x3D5, 0xD0), OUT(0x3D4, 0x11), OUT(0x3D5, 0x0E),
           OUT(0x3D4, 0x01), OUT(0x3D5, 0x9F), OUT(0x3D4, 0x13), OUT(0x3D5, 0x00), OUT(0x3D4, 0x09), OUT(0x3D5, 0x1F),
           OUT(0x3C4, 0x02), OUT(0x3C5, 0x04), OUT(0x3C4, 0x04), OUT(0x3C5, 0x07), OUT(0x3CE, 0x05), OUT(0x3CF, 0x00),
           OUT(0x3CE, 0x06), OUT(0x3CF, 0x04), t(4 | 8, 0, 0x00000041), t(4 | 8 | 0x30, 0, 0x18000),
           OUT(0x3C8, 0x01), OUT(0x3C9, 0x3F), OUT(0x3C9, 0x00), OUT(0x3C9, 0x20), OUT(0x3C7, 0x01), IN(0x3C9),
           t(4 | 8 | 0x10, 0, 0x18002), t(4, 0, 0x18000), IN(0x3DA), OUT(0x3C0, 0x30), OUT(0x3C0, 0x20)]
    put("devices", "vga", b"".join(vga) + b"P")
    misc = [OUT(0xE9, 0x41), OUT(0x80, 0x12), IN(0x80), OUT(0x92, 0x02), IN(0x92), OUT(0x4D0, 0xF8), OUT(0x4D1, 0xDE),
            t(7, 0, 6), t(7, 0, 0), t(7, 0, 0x10107), OUT(0xF4, 0x01)]
    put("devices", "misc", bytes([0x80]) + b"".join(misc))


# ---- inputscript -------------------------------------------------------------
def inputscript_seeds():
    put("inputscript", "file-keys", b"# keys\n0.5s keydown a\n+30ms keyup a\n1s key enter\n1.2s key f1\n"
        b"1.3s keydown lshift\n+10ms key sc2:1c\n+10ms keyup lshift\n1.5s key sc2:e0:75\n")
    put("inputscript", "file-type", b"200ms type hello, World!\\n\n+1s type {f12}{+lctrl}c{-lctrl}\\t\\b\\e\n"
        b"3s type {wait 150ms}{pause}{prtsc}\\{x\\}\\\\\n")
    put("inputscript", "file-mouse-serial", b"1000ns mouse 5 -3 1\n300us mouse -100 200\n2s serial ab\\x41\\r\\n\n"
        b"+5ms serial \\t\\\\\n")
    put("inputscript", "keys-text", b"hello {enter}{wait 1s}{+lshift}abc{-lshift}\\n{up}{down}{kp5}")
    put("inputscript", "bad-lines", b"1s\n2s fly away\nxs key a\n1s key nosuchkey\n1s mouse 1\n1s serial \\q\n{wait")


# ---- loader ------------------------------------------------------------------
def loader_seeds(kdir):
    for n in sorted(os.listdir(kdir)) if os.path.isdir(kdir) else []:
        p = os.path.join(kdir, n)
        if n.endswith(".elf") or n.endswith(".bin"):
            data = open(p, "rb").read()
            if len(data) <= 65536:
                put("loader", n, data)
    hello = os.path.join(kdir, "hello.elf")
    if os.path.exists(hello):
        objcopy = shutil.which("llvm-objcopy") or "objcopy"
        with tempfile.TemporaryDirectory() as t:
            out = os.path.join(t, "h64.elf")
            subprocess.run([objcopy, "-I", "elf32-i386", "-O", "elf64-x86-64", hello, out], check=True)
            put("loader", "hello64.elf", open(out, "rb").read())
    # A bare Multiboot header with the a.out kludge, bss and entry.
    mb = struct.pack("<3I5I", 0x1BADB002, 0x10003, (-(0x1BADB002 + 0x10003)) & 0xFFFFFFFF,
                     0x100000, 0x100000, 0, 0x104000, 0x100020)
    put("loader", "kludge-bss", mb + b"\x90" * 8 + b"\xb0\x01\xe6\xf4\xf4")
    # An ELF header with no program headers, and a truncated one.
    ehdr = b"\x7fELF\x01\x01\x01" + b"\x00" * 9 + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0x100000, 52, 0, 0, 52, 32, 0, 40, 0, 0)
    put("loader", "elf-no-phdrs", ehdr + mb[:12])
    put("loader", "elf-truncated", ehdr[:30])


# ---- gdbpacket / debugcmd ----------------------------------------------------
def gdb_encode(payload):
    body = b""
    for b in payload:
        if b in b"#$}*":
            body += bytes([0x7D, b ^ 0x20])
        else:
            body += bytes([b])
    return b"$" + body + b"#" + ("%02x" % (sum(body) & 0xFF)).encode()


GDB_SESSION = [b"qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;xmlRegisters=i386",
               b"vMustReplyEmpty", b"QStartNoAckMode", b"Hg0", b"qXfer:features:read:target.xml:0,ffb",
               b"qTStatus", b"?", b"qfThreadInfo", b"qL1200000000000000000", b"Hc-1", b"qC", b"qAttached",
               b"g", b"p10", b"p8", b"m100020,10", b"m0,4", b"mffffffffffff0000,8",
               b"Z0,100025,1", b"vCont?", b"vCont;c", b"z0,100025,1", b"Z2,101000,4", b"c",
               b"z2,101000,4", b"s", b"vCont;s:1", b"P0=efbeadde00000000", b"G" + b"00" * 64,
               b"M101000,4:01020304", b"X101004,2:ab", b"qRcmd,696e666f", b"Z1,100034,1", b"c",
               b"D"]


def gdb_seeds():
    raw = b"+" + b"".join(gdb_encode(p) + b"+" for p in GDB_SESSION)
    put("gdbpacket", "session-raw", bytes([0x40]) + raw)
    put("gdbpacket", "session-payloads", bytes([0x81]) + b"\n".join(GDB_SESSION))
    put("gdbpacket", "noise-and-bad-checksums", bytes([0x06]) + b"junk$m0,4#00+-\x03$g#67$$qC#b4$Z0,0,1#ff"
        + b"$" + b"A" * 300 + b"#00" + gdb_encode(b"k"))
    put("gdbpacket", "interrupt-while-running", bytes([0x03]) + gdb_encode(b"c") + b"\x03" + gdb_encode(b"?")
        + gdb_encode(b"s") + gdb_encode(b"k"))


DEBUG_SCRIPT = b"""# a session
info
regs
step 3
next 2
x/8xb 0x100020
x/4gx $rsp
xp/2wx 0x101000
x/3i $rip
x/1s 0x100000
disas 0x100020 5
break 0x100034 if rax==3 && rcx!=0
tbreak f
watch 0x101000 4
rwatch 0x101000
list
continue
bt
finish
until 0x100025
run-for 100us
run-for 500
delete 1
disable 2
enable 2
set rax = 0x1234
set rip = 0x100025
print rax + [0x101000] - 1
sym loop
sym 0x100026
gdt
idt 8
tss
page 0x100020
pic
pit
kbc
rtc
uart
vga
irq 1 pulse
key a
key lshift down
type hi\\n{enter}
trace irq,pic on
help x
echo done
quit 3
"""


def debugcmd_seeds():
    put("debugcmd", "session", DEBUG_SCRIPT)
    put("debugcmd", "errors", b"x/0xb 0\nx/70000gx 0\nbreak\nset nosuch = 1\nprint [[[rax\nstep -1\n"
        b"break int 300\nirq 99\nwatch 0 0\nrun-for 5zz\nuntil\nbreak io 0x60-0x20\n")
    put("debugcmd", "conditions", b"break 0x100025 if [0x101000]==5\ncontinue\ncontinue\nbreak exc 6\n"
        b"break irq 0\nbreak int 0x20\nbreak io 0xe9\ncontinue\nlist\n")


def main():
    kdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "kernels")
    cpu_seeds()
    devices_seeds()
    inputscript_seeds()
    loader_seeds(kdir)
    gdb_seeds()
    debugcmd_seeds()


if __name__ == "__main__":
    main()
