import Foundation
import XCTest
import CPU

/// A bus for interpreter tests: records port and device traffic, answers
/// INTA with `vector`, and returns all ones for device reads.
final class InterpTestBus: CPUBus {
    var portWrites: [(port: UInt16, size: Int, value: UInt32)] = []
    var portValues: [UInt16: UInt32] = [:]
    var deviceWrites: [(addr: UInt64, size: Int, value: UInt64)] = []
    var vector: UInt8 = 0x20
    var acks = 0
    var events: [CPUEvent] = []
    var time: UInt64 = 0
    /// Called for every OUT (after recording it).
    var onPortWrite: ((UInt16, UInt32) -> Void)?
    /// Lower INTR after the acknowledge cycle (an edge-triggered source).
    weak var cpu: CPU?
    var dropINTROnAck = true

    func portRead(_ port: UInt16, size: Int) -> UInt32 { portValues[port] ?? 0xFFFF_FFFF }
    func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        portWrites.append((port, size, value))
        onPortWrite?(port, value)
    }
    func deviceRead(_ addr: UInt64, size: Int) -> UInt64 { size == 8 ? .max : (1 << UInt64(size * 8)) - 1 }
    func deviceWrite(_ addr: UInt64, size: Int, value: UInt64) { deviceWrites.append((addr, size, value)) }
    func interruptAcknowledge() -> UInt8 {
        acks += 1
        if dropINTROnAck { cpu?.setINTR(false) }
        return vector
    }
    func virtualTimeNs() -> UInt64 { time }
    func cpuEvent(_ event: CPUEvent) { events.append(event) }

    /// Bytes written to the debug port 0xE9, as a string.
    var debugText: String {
        String(decoding: portWrites.filter { $0.port == 0xE9 }.map { UInt8(truncatingIfNeeded: $0.value) }, as: UTF8.self)
    }
    /// 32-bit values written to port 0x80 (test results).
    var results: [UInt32] { portWrites.filter { $0.port == 0x80 }.map { $0.value } }
}

/// A tiny machine: RAM, the test bus and a CPU.
final class InterpMachine {
    let memory: PhysicalMemory
    let bus = InterpTestBus()
    let cpu: CPU

    init(ramMiB: Int = 8) {
        memory = PhysicalMemory(ramSize: ramMiB << 20)
        cpu = CPU(memory: memory, bus: bus)
        bus.cpu = cpu
    }

    func load(_ bytes: [UInt8], at addr: UInt64) {
        XCTAssertTrue(cpu.writePhysical(addr, bytes))
    }

    /// Runs until HLT (or another stop), at most `limit` more instructions.
    @discardableResult
    func run(limit: UInt64 = 50_000_000) -> CPUStop {
        cpu.stopAt = cpu.retired + limit
        return cpu.run()
    }

    /// Assembles `source` (Intel syntax) linked at `base`, loads it and
    /// enters it in 32-bit protected mode like a Multiboot loader.
    func boot32(_ source: String, base: UInt64 = 0x100000) throws {
        let code = try assemble(source, base: base)
        load(code, at: base)
        cpu.enterMultiboot(entry: UInt32(base), eax: 0x2BAD_B002, ebx: 0x9000)
    }
}

enum AsmError: Error { case failed(String) }

/// Assembles Intel-syntax source with the toolchain's clang and links it as a
/// flat binary at `base`.
func assemble(_ source: String, base: UInt64) throws -> [UInt8] {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("interp-asm-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let src = dir.appendingPathComponent("t.s"), obj = dir.appendingPathComponent("t.o"), bin = dir.appendingPathComponent("t.bin")
    try (".intel_syntax noprefix\n" + source + "\n").write(to: src, atomically: true, encoding: .utf8)
    func sh(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = err
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw AsmError.failed(args.joined(separator: " ") + "\n" + msg)
        }
    }
    try sh(["clang", "-c", "-x", "assembler", "--target=x86_64-unknown-none", "-o", obj.path, src.path])
    try sh(["ld.lld", "-Ttext=0x\(String(base, radix: 16))", "--image-base=0", "--oformat", "binary",
            "-e", "0x\(String(base, radix: 16))", "-o", bin.path, obj.path])
    return [UInt8](try Data(contentsOf: bin))
}

/// 32-bit start-up that switches to long mode with 2 MiB identity pages for
/// the first 1 GiB (page tables at 0x200000), loads a GDT with a TSS and an
/// IDT (256 gates, all not present) and jumps to `main64` with RSP=0x300000.
/// Provides `set_gate` (rdi=vector, rsi=handler, edx=IST, ecx=type byte).
/// GDT: 0x08 64-bit code, 0x10 data, 0x18 32-bit code, 0x20 user data (DPL3),
/// 0x28 user 64-bit code (DPL3), 0x30 TSS (16 bytes).
let longModePrologue = """
.code32
start:
    lgdt [gdt_ptr]
    mov edi, 0x200000
    xor eax, eax
    mov ecx, 3 * 1024
    rep stosd
    mov dword ptr [0x200000], 0x201003
    mov dword ptr [0x201000], 0x202003
    mov edi, 0x202000
    mov eax, 0x83
    mov ecx, 512
1:  mov [edi], eax
    mov dword ptr [edi + 4], 0
    add eax, 0x200000
    add edi, 8
    loop 1b
    mov eax, cr4
    or eax, 0x220
    mov cr4, eax
    mov eax, 0x200000
    mov cr3, eax
    mov ecx, 0xC0000080
    rdmsr
    or eax, 0x901
    wrmsr
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    .byte 0xEA
    .long long_entry
    .word 0x08
.code64
long_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov rsp, 0x300000
    // TSS descriptor
    lea rax, [tss]
    mov word ptr [gdt + 0x30], 0x67
    mov word ptr [gdt + 0x32], ax
    shr rax, 16
    mov byte ptr [gdt + 0x34], al
    mov byte ptr [gdt + 0x35], 0x89
    mov byte ptr [gdt + 0x36], 0
    mov byte ptr [gdt + 0x37], ah
    shr rax, 16
    mov dword ptr [gdt + 0x38], eax
    mov dword ptr [gdt + 0x3C], 0
    mov ax, 0x30
    ltr ax
    lidt [idt_ptr]
    jmp main64

set_gate:
    mov rax, rsi
    shl rdi, 4
    lea r8, [idt]
    add rdi, r8
    mov word ptr [rdi], ax
    mov word ptr [rdi + 2], 0x08
    mov byte ptr [rdi + 4], dl
    mov byte ptr [rdi + 5], cl
    shr rax, 16
    mov word ptr [rdi + 6], ax
    shr rax, 16
    mov dword ptr [rdi + 8], eax
    mov dword ptr [rdi + 12], 0
    ret

.balign 16
gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
    .quad 0x00CF9A000000FFFF
    .quad 0x00CFF2000000FFFF
    .quad 0x00AFFA000000FFFF
    .quad 0, 0
gdt_end:
gdt_ptr:
    .word gdt_end - gdt - 1
    .quad gdt
.balign 16
idt:
    .fill 256 * 16, 1, 0
idt_ptr:
    .word 256 * 16 - 1
    .quad idt
.balign 16
tss:
    .long 0
    .quad 0x2F0000          // RSP0
    .quad 0, 0
    .quad 0
    .quad 0x2E0000          // IST1
    .quad 0x2D0000          // IST2
    .quad 0, 0, 0, 0, 0
    .quad 0
    .word 0, 0x68
"""

final class InterpHarnessTests: XCTestCase {
    func testAssemblerWorks() throws {
        let bytes = try assemble(".code32\nmov eax, 1\nhlt", base: 0x100000)
        XCTAssertEqual(bytes, [0xB8, 1, 0, 0, 0, 0xF4])
    }

    func testSimpleLoop32() throws {
        let m = InterpMachine()
        try m.boot32("""
        .code32
            xor eax, eax
            mov ecx, 100
        1:  add eax, ecx
            loop 1b
            mov ebx, 0x12345678
            bswap ebx
            hlt
        """)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.gpr(.rax), 5050)
        XCTAssertEqual(m.cpu.gpr(.rbx), 0x7856_3412)
        XCTAssertEqual(m.cpu.mode, .protected32)
        // xor, mov, 100 x (add, loop), mov, bswap, hlt
        XCTAssertEqual(m.cpu.retired, 2 + 200 + 3)
    }

    func testStopAtIsExact() throws {
        let m = InterpMachine()
        try m.boot32("""
        .code32
        1:  inc eax
            jmp 1b
        """)
        m.cpu.stopAt = 1001
        XCTAssertEqual(m.cpu.run(), .limit)
        XCTAssertEqual(m.cpu.retired, 1001)
        XCTAssertEqual(m.cpu.gpr(.rax), 0x2BAD_B002 + 501)
        m.cpu.stopAt = 1002
        XCTAssertEqual(m.cpu.run(), .limit)
        XCTAssertEqual(m.cpu.retired, 1002)
        XCTAssertEqual(m.cpu.gpr(.rax), 0x2BAD_B002 + 501)
    }
}
