// Robustness: the fuzz harnesses, and the replay of their inputs in the
// normal suite.
//
// `FuzzHarness` turns a fuzz input into actions on the machine for each
// target. The libFuzzer targets in fuzz/targets/ are thin wrappers around it
// (fuzz/Makefile compiles this file into them with -D FUZZ, where the XCTest
// part below is left out), so an input replays here exactly as the fuzzer
// ran it. `RobustnessFuzzInputTests` runs every seed in fuzz/corpus/<target>/
// and every input that once failed, kept in fuzz/regressions/<target>/.
// The input layouts are described in fuzz/targets/*.swift and
// docs/robustness.md.

import Board
import CPU
import Devices
#if !FUZZ
import Foundation
import XCTest
#endif

/// Reads a fuzz input front to back; past the end every read yields zero,
/// so a harness never needs to check lengths.
struct ByteReader {
    let bytes: [UInt8]
    var pos = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { max(0, bytes.count - pos) }

    mutating func u8() -> UInt8 {
        defer { pos += 1 }
        return pos < bytes.count ? bytes[pos] : 0
    }
    mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
    mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }

    /// The rest of the input.
    mutating func rest() -> [UInt8] {
        guard pos < bytes.count else { return [] }
        defer { pos = bytes.count }
        return Array(bytes[pos...])
    }
}

/// Attaches every consumer of guest-driven events the CLI can attach: the
/// text and JSON-lines trace renderers, the diagnoser and the interrupt
/// statistics. Returns a closure that finishes them as the CLI does at exit.
///
/// The diagnoser and the statistics see every event. The renderers, pure
/// functions of one event, get the first 256 events of a run and one in 32
/// after that: a fault storm's ten thousand near-identical events otherwise
/// spent most of the cpu target's time in string building.
func observeEverything(_ pc: PC) -> () -> Int {
    let diag = Diagnoser(pc: pc)
    let stats = InterruptStats()
    var rendered = 0
    var events = 0
    pc.trace.enabled = .all
    pc.onTrace = { e in
        if events < 256 || events % 32 == 0 {
            rendered &+= TraceFormat.text.render(e).utf8.count
            rendered &+= TraceFormat.jsonl.render(e).utf8.count
        }
        events &+= 1
        stats.observe(e)
        diag.observe(e)
    }
    pc.cpuEventHandler = { [unowned pc] ev in pc.trace.emit(ev.traceEvent) }
    diag.onDiagnosis = { d in
        rendered &+= d.message.utf8.count &+ d.fix.utf8.count
        rendered &+= TraceFormat.jsonl.render(PC.StampedEvent(time: d.time, instructions: d.instructions, event: d.traceEvent)).utf8.count
    }
    return { [unowned pc] in
        diag.finish()
        stats.finish(at: pc.virtualTime)
        rendered &+= stats.summary(instructions: pc.instructions, virtualNs: pc.virtualTime, hostSeconds: 1).utf8.count
        rendered &+= pc.vga.textLines().reduce(0) { $0 &+ $1.utf8.count }
        return rendered
    }
}

/// Uses a value so the optimiser cannot drop the work that produced it.
@inline(never)
func consume<T>(_ v: T) {
    withExtendedLifetime(v) {}
}

// MARK: - cpu: arbitrary bytes as guest code

// The input picks a CPU mode and machine flags, the register seeds and four
// extra GDT descriptors; the rest is placed as code at 0x10000 in a 4 MiB
// machine whose low memory holds a GDT, TSS, IDT (every vector lands
// somewhere inside the fuzzed code) and, for the paging modes, page tables
// that map RAM, the VGA window, the ROM hole, and addresses past the end of
// RAM and past 4 GiB. The machine runs at most 10 000 instructions and 10 ms
// of virtual time.
//
//   byte 0  bits 0-2 mode: 0 real, 1 16-bit protected, 2 32-bit flat,
//                          3 32-bit paging, 4 PAE paging, 5 long mode 64-bit,
//                          6 long mode compatibility (32-bit CS),
//                          7 32-bit paging with 4 MiB pages (PSE)
//           bit 3 start in ring 3, bit 4 IF=1 with the PICs unmasked,
//           bit 5 CR0.WP, EFER.NXE, CR4.OSFXSR/PGE,
//           bit 6 every trace consumer attached, bit 7 reboot on reset/triple fault
//   byte 1  register seed
//   bytes 2-33  GDT entries 11-14 (selectors 0x58-0x70)
//   bytes 34-   code

fileprivate let ramSize = 4 << 20
fileprivate let codeBase = 0x10000
fileprivate let gdtBase = 0x8000
fileprivate let tssBase = 0x8800
fileprivate let idtBase = 0x9000
fileprivate let kernelStack: UInt64 = 0x70000
fileprivate let userStack: UInt64 = 0x60000
fileprivate let istStack: UInt64 = 0x6F000

fileprivate struct RAMWriter {
    let ram: UnsafeMutablePointer<UInt8>
    func put8(_ a: Int, _ v: UInt8) { if a >= 0 && a < ramSize { ram[a] = v } }
    func put16(_ a: Int, _ v: UInt16) { for i in 0..<2 { put8(a + i, UInt8(truncatingIfNeeded: v >> (8 * UInt16(i)))) } }
    func put32(_ a: Int, _ v: UInt32) { for i in 0..<4 { put8(a + i, UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
    func put64(_ a: Int, _ v: UInt64) { for i in 0..<8 { put8(a + i, UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
}

/// Where vector `v`'s handler starts: somewhere in the fuzzed code.
fileprivate func handlerOffset(_ v: Int, _ codeLen: Int) -> Int {
    codeLen == 0 ? 0 : (v &* 37) % codeLen
}

fileprivate func setUpTables(_ m: RAMWriter, mode: Int, codeLen: Int, extra: [UInt64]) {
    // GDT
    let gdt: [UInt64] = [
        0,
        0x00CF_9B00_0000_FFFF,  // 0x08 code32 DPL0
        0x00CF_9300_0000_FFFF,  // 0x10 data DPL0
        0x00CF_FB00_0000_FFFF,  // 0x18 code32 DPL3
        0x00CF_F300_0000_FFFF,  // 0x20 data DPL3
        0,                      // 0x28 TSS (filled below)
        0,                      // 0x30 TSS high half in long mode
        0x00AF_9B00_0000_FFFF,  // 0x38 code64 DPL0
        0x00AF_FB00_0000_FFFF,  // 0x40 code64 DPL3
        0x0000_9B00_0000_FFFF,  // 0x48 code16 DPL0
        0x0000_9300_0000_FFFF,  // 0x50 data16 DPL0
    ]
    for (i, d) in gdt.enumerated() { m.put64(gdtBase + i * 8, d) }
    for (i, d) in extra.enumerated() { m.put64(gdtBase + (11 + i) * 8, d) }
    // TSS descriptor: base tssBase, limit 0x67, available 32/64-bit TSS.
    let tb = UInt64(tssBase)
    let tss: UInt64 = 0x67 | (tb & 0xFFFF) << 16 | ((tb >> 16) & 0xFF) << 32 | 0x89 << 40 | ((tb >> 24) & 0xFF) << 56
    m.put64(gdtBase + 0x28, tss)
    // TSS contents: ring-0 stack (32-bit ESP0/SS0 and 64-bit RSP0 overlap at
    // offset 4; SS0 at 8 is the high half of RSP0 there, so both readings are
    // usable), IST1 for the 64-bit case, I/O bitmap offset past the limit.
    m.put32(tssBase + 4, UInt32(kernelStack))
    if mode == 5 || mode == 6 {
        m.put64(tssBase + 4, kernelStack)
        m.put64(tssBase + 0x24, istStack)
    } else {
        m.put32(tssBase + 8, 0x10)
    }
    m.put16(tssBase + 0x66, 0x68)

    // IDT / IVT
    if mode == 0 {
        for v in 0..<256 {
            m.put16(v * 4, UInt16(handlerOffset(v, codeLen)))
            m.put16(v * 4 + 2, UInt16(codeBase >> 4))
        }
    } else if mode == 5 || mode == 6 {
        for v in 0..<256 {
            let target = UInt64(codeBase + handlerOffset(v, codeLen))
            let ist: UInt64 = (v == 8 || v == 2) ? 1 : 0
            let type: UInt64 = v % 5 == 4 ? 0xEF : 0xEE   // some trap gates, all DPL3
            let lo = (target & 0xFFFF) | 0x38 << 16 | ist << 32 | type << 40 | ((target >> 16) & 0xFFFF) << 48
            m.put64(idtBase + v * 16, lo)
            m.put64(idtBase + v * 16 + 8, target >> 32)
        }
    } else {
        let sel: UInt64 = mode == 1 ? 0x48 : 0x08
        for v in 0..<256 {
            let target = UInt64(codeBase + handlerOffset(v, codeLen))
            let type: UInt64 = v % 5 == 4 ? 0xEF : 0xEE
            m.put64(idtBase + v * 8, (target & 0xFFFF) | sel << 16 | type << 40 | ((target >> 16) & 0xFFFF) << 48)
        }
    }
}

/// Page tables for the paging modes; returns CR3.
fileprivate func setUpPaging(_ m: RAMWriter, mode: Int, nx: Bool) -> UInt64 {
    let P: UInt64 = 1, W: UInt64 = 2, U: UInt64 = 4, PS: UInt64 = 0x80, G: UInt64 = 0x100
    let NX: UInt64 = nx ? 1 << 63 : 0
    func ptEntryAttrs(_ page: Int) -> UInt64 {
        switch page {
        case 0x30: return 0                 // not present
        case 0x31: return P | U             // read-only
        case 0x32: return P | W             // supervisor only
        case 0x33: return P | W | U | NX    // no-execute
        default: return P | W | U | (page == 0x34 ? G : 0)
        }
    }
    switch mode {
    case 3, 7:
        // 32-bit: PD at 0x1000, PT at 0x2000 (first 4 MiB, 4 KiB pages).
        m.put32(0x1000, 0x2000 | UInt32(P | W | U))
        for p in 0..<1024 {
            let a = ptEntryAttrs(p)
            m.put32(0x2000 + p * 4, a == 0 ? 0 : UInt32(p << 12) | UInt32(truncatingIfNeeded: a & 0xFFF))
        }
        if mode == 7 {
            m.put32(0x1000 + 1 * 4, 0x0040_0000 | UInt32(P | W | U | PS))      // past the end of RAM
            m.put32(0x1000 + 2 * 4, 0xFFC0_0000 | UInt32(P | W | U | PS))      // the top of 4 GiB
            m.put32(0x1000 + 0x300 * 4, 0x0000_0000 | UInt32(P | W | PS))      // higher half -> RAM
            m.put32(0x1000 + 0x3FF * 4, 0x0000_0000 | UInt32(P | W | U | PS | G))
        } else {
            m.put32(0x1000 + 0x300 * 4, 0x2000 | UInt32(P | W))                // higher half -> same PT
            m.put32(0x1000 + 0x3FF * 4, 0x1000 | UInt32(P | W))                // self map
        }
        return 0x1000
    case 4:
        // PAE: PDPT at 0x1000, PDs at 0x2000-0x5FFF, PT at 0x6000.
        for i in 0..<4 { m.put64(0x1000 + i * 8, UInt64(0x2000 + i * 0x1000) | P) }
        m.put64(0x2000, 0x6000 | P | W | U)
        for p in 0..<512 {
            let a = ptEntryAttrs(p)
            m.put64(0x6000 + p * 8, a == 0 ? 0 : UInt64(p << 12) | a)
        }
        m.put64(0x2000 + 8, 0x20_0000 | P | W | U | PS)                          // RAM 2-4 MiB
        m.put64(0x2000 + 16, 0x1_0000_0000 | P | W | U | PS | NX)               // past 4 GiB
        m.put64(0x2000 + 24, 0xFF_FFE0_0000 | P | W | U | PS)                   // MAXPHYADDR top
        m.put64(0x5000 + 511 * 8, 0 | P | W | PS)                               // 0xFFE00000 -> RAM
        m.put64(0x4000 + 0, 0x6000 | P | W)                                     // 0x80000000 -> same PT
        return 0x1000
    default:
        // 4-level: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000.
        m.put64(0x1000, 0x2000 | P | W | U)
        m.put64(0x1000 + 511 * 8, 0x2000 | P | W | U)                           // high canonical half
        m.put64(0x1000 + 256 * 8, 0x1000 | P | W)                               // recursive slot
        m.put64(0x2000, 0x3000 | P | W | U)
        m.put64(0x2000 + 8, 0x4000_0000 | P | W | U | PS)                       // 1 GiB page, unmapped
        m.put64(0x2000 + 16, 0xFF_C000_0000 | P | W | U | PS | NX)              // 1 GiB page at MAXPHYADDR top
        m.put64(0x2000 + 24, 0xC000_0000 | P | W | U | PS)                      // 3-4 GiB identity
        m.put64(0x2000 + 511 * 8, 0x3000 | P | W)                               // -1 GiB -> same PD
        m.put64(0x3000, 0x4000 | P | W | U)
        m.put64(0x3000 + 8, 0x20_0000 | P | W | U | PS)
        m.put64(0x3000 + 16, 0x1_0000_0000 | P | W | U | PS)                    // past 4 GiB
        for p in 0..<512 {
            let a = ptEntryAttrs(p)
            m.put64(0x4000 + p * 8, a == 0 ? 0 : UInt64(p << 12) | a)
        }
        return 0x1000
    }
}

enum FuzzHarness {
    /// The cpu target.
    static func cpu(_ input: [UInt8]) {
        var r = ByteReader(input)
        let flags = r.u8()
        let seed = r.u8()
        var extra: [UInt64] = []
        for _ in 0..<4 { extra.append(r.u64()) }
        let code = r.rest()
        let mode = Int(flags & 7)
        let user = flags & 0x08 != 0 && mode != 0
        let interrupts = flags & 0x10 != 0
        let strict = flags & 0x20 != 0
        let observe = flags & 0x40 != 0
        let reboot = flags & 0x80 != 0

        var config = PCConfig()
        config.ramSize = ramSize
        config.rebootOnReset = reboot
        config.rebootOnTripleFault = reboot
        let pc = PC(config: config)
        let finish = observe ? observeEverything(pc) : nil
        let cpu = pc.cpu!
        let m = RAMWriter(ram: pc.memory.ram)

        for (i, b) in code.prefix(ramSize - codeBase).enumerated() { m.put8(codeBase + i, b) }
        setUpTables(m, mode: mode, codeLen: min(code.count, 0xFFFF), extra: extra)

        if !interrupts {
            pc.debugPortWrite(0x21, value: 0xFF)
            pc.debugPortWrite(0xA1, value: 0xFF)
        }

        // Registers: pointers into RAM by default; the seed swaps some for
        // boundary values.
        let seeds: [UInt64] = [0x20000, 0x10, 0x3F8, 0x21000, 0, 0x7F000, 0x22000, 0x23000]
        for g in GPR.allCases {
            var v = seeds[g.rawValue & 7] &+ UInt64(g.rawValue >> 3) &* 0x1000
            if seed & (1 << UInt8(g.rawValue & 7)) != 0 && g.rawValue >= 8 {
                v = [UInt64.max, 0x8000_0000, 0xFFFF_FFFF, 0x7FFF_FFFF_FFFF_FFFF, 0xB8000, 0x3F_FFFC, 0xFFFF_8000_0000_0000, 1][g.rawValue & 7]
            }
            cpu.setGPR(g, v)
        }
        if seed & 0x01 != 0 { cpu.setGPR(.rcx, 0xFFFF_FFFF) }  // long REP counts hit the instruction limit

        if mode == 0 {
            // Real mode, CS = 0x1000.
            cpu.reset()
            cpu.setSegment(.cs, SegmentCache(selector: UInt16(codeBase >> 4), base: UInt64(codeBase), limit: 0xFFFF, attributes: 0x9B))
            for s in [SegReg.ds, .es, .ss, .fs, .gs] {
                cpu.setSegment(s, SegmentCache(selector: 0x2000, base: 0x20000, limit: 0xFFFF, attributes: 0x93))
            }
            cpu.idtr = TableRegister(base: 0, limit: 0x3FF)
            cpu.gdtr = TableRegister(base: UInt64(gdtBase), limit: 0x7F)
            cpu.rip = 0
            cpu.setGPR(.rsp, 0xFFF0)
        } else {
            cpu.enterMultiboot(entry: UInt32(codeBase), eax: MultibootLoader.bootMagic, ebx: 0x9000)
            cpu.gdtr = TableRegister(base: UInt64(gdtBase), limit: 0x7F)
            cpu.tr = SegmentCache(selector: 0x28, base: UInt64(tssBase), limit: 0x67, attributes: 0x8B)
            var cr4: UInt64 = strict ? 0x200 | 0x80 : 0
            if mode == 7 { cr4 |= 0x10 }
            switch mode {
            case 1:
                cpu.idtr = TableRegister(base: UInt64(idtBase), limit: 0x7FF)
                cpu.setSegment(.cs, SegmentCache(selector: 0x48, base: 0, limit: 0xFFFF_FFFF, attributes: 0x009B))
                for s in [SegReg.ds, .es, .ss] {
                    cpu.setSegment(s, SegmentCache(selector: 0x50, base: 0, limit: 0xFFFF, attributes: 0x0093))
                }
                cpu.rip = UInt64(codeBase)
                cpu.cr4 = cr4
            case 2:
                cpu.idtr = TableRegister(base: UInt64(idtBase), limit: 0x7FF)
                cpu.cr4 = cr4
            case 3, 7:
                cpu.idtr = TableRegister(base: UInt64(idtBase), limit: 0x7FF)
                cpu.cr4 = cr4
                cpu.cr3 = setUpPaging(m, mode: mode, nx: false)
                cpu.cr0 = cpu.cr0 | 0x8000_0000 | (strict ? 0x1_0000 : 0)
            case 4:
                cpu.idtr = TableRegister(base: UInt64(idtBase), limit: 0x7FF)
                if strict { cpu.efer = 0x800 }
                cpu.cr4 = cr4 | 0x20
                cpu.cr3 = setUpPaging(m, mode: mode, nx: strict)
                cpu.cr0 = cpu.cr0 | 0x8000_0000 | (strict ? 0x1_0000 : 0)
            default: // 5, 6: long mode
                cpu.idtr = TableRegister(base: UInt64(idtBase), limit: 0xFFF)
                cpu.tr = SegmentCache(selector: 0x28, base: UInt64(tssBase), limit: 0x67, attributes: 0x8B)
                cpu.efer = 0x100 | (strict ? 0x801 : 0x001)
                cpu.cr4 = cr4 | 0x20
                cpu.cr3 = setUpPaging(m, mode: mode, nx: strict)
                cpu.cr0 = cpu.cr0 | 0x8000_0000 | (strict ? 0x1_0000 : 0)
                if mode == 5 {
                    cpu.setSegment(.cs, SegmentCache(selector: 0x38, base: 0, limit: 0xFFFF_FFFF, attributes: 0xA09B))
                }
            }
            if user {
                let cs: SegmentCache, ss: SegmentCache
                if mode == 5 {
                    cs = SegmentCache(selector: 0x43, base: 0, limit: 0xFFFF_FFFF, attributes: 0xA0FB)
                } else {
                    cs = SegmentCache(selector: 0x1B, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC0FB)
                }
                ss = SegmentCache(selector: 0x23, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC0F3)
                for s in [SegReg.ds, .es, .fs, .gs] { cpu.setSegment(s, ss) }
                cpu.setSegment(.ss, ss)
                cpu.setSegment(.cs, cs)
                cpu.setGPR(.rsp, userStack)
            } else {
                cpu.setGPR(.rsp, kernelStack)
            }
        }
        if interrupts { cpu.rflags = cpu.rflags | 0x200 }

        pc.instructionLimit = 10_000
        consume(pc.run(until: 10_000_000))
        // The limits hold whatever the guest did (a reboot adds its own time).
        precondition(pc.instructions <= 10_000, "instruction limit overrun: \(pc.instructions)")
        precondition(pc.virtualTime <= 10_000_000 + PC.rebootNs + 1_000, "time limit overrun: \(pc.virtualTime)")

        // Debugger-side views of whatever state the guest left.
        let probe = cpu.gpr(.rsi)
        consume(cpu.translate(linear: probe, write: seed & 1 != 0))
        consume(cpu.readLinear(probe, count: Int(seed & 0x3F)))
        consume(cpu.readLinear(cpu.rip, count: 16))
        consume(cpu.readPhysical(cpu.gpr(.rdi), count: Int(seed)))
        _ = cpu.writeLinear(cpu.gpr(.rbx), [UInt8](repeating: 0x90, count: Int(seed & 7)))
        consume(cpu.mode)
        consume(cpu.rflags)
        consume(pc.vga.textScreen())
        if let f = finish { consume(f()) }

        // The debugger's disassembler over the same bytes, in the mode's width.
        let dis = Disassembler(bits: mode == 0 || mode == 1 ? 16 : (mode == 5 ? 64 : 32))
        var off = 0
        while off < code.count {
            let insn = dis.decode(Array(code[off..<min(code.count, off + 16)]), address: UInt64(codeBase + off))
            consume(insn.text)
            off += max(1, insn.length)
        }
    }
}

// MARK: - loader: arbitrary files as kernels

// The input is a kernel file, parsed for a 4 MiB machine and, when accepted,
// loaded into a PC (command line from the tail of the file) and run for at
// most 10 000 instructions and 10 ms of virtual time. The parse is repeated
// for the largest RAM the CLI allows (3 GiB) without loading. Accepted
// images must fit the RAM they were checked against.

fileprivate let loaderRAM = 4 << 20

extension FuzzHarness {
    static func loader(_ bytes: [UInt8]) {
        // The debugger reads the kernel's symbols from the same file. (A
        // stand-in demangler: the real one runs swift-demangle, a process
        // per input.)
        let symbols = SymbolTable.load(elf: bytes, demangler: { names in names.map { "demangled." + $0 } })
        consume(symbols.lookup(0x10_0000).map { $0.symbol.name })
        if let big = try? MultibootLoader.parse(bytes, ramSize: 3 << 30) {
            for s in big.segments {
                precondition(s.address &+ s.memorySize <= 3 << 30 && UInt64(s.bytes.count) <= s.memorySize)
            }
            consume(big.end)
        }
        guard let img = try? MultibootLoader.parse(bytes, ramSize: loaderRAM) else { return }
        for s in img.segments {
            precondition(s.address >= 0x1000 && s.address &+ s.memorySize <= UInt64(loaderRAM))
            precondition(UInt64(s.bytes.count) <= s.memorySize)
        }
        var config = PCConfig()
        config.ramSize = loaderRAM
        config.rebootOnReset = bytes.count & 1 == 0
        let pc = PC(config: config)
        let cmdline = String(decoding: bytes.suffix(24), as: UTF8.self)
        do {
            try pc.load(kernel: bytes, path: "fuzz.elf", append: cmdline)
        } catch {
            preconditionFailure("an image the loader accepted failed to load: \(error)")
        }
        let finish = bytes.count & 2 == 0 ? observeEverything(pc) : nil
        pc.instructionLimit = 10_000
        _ = pc.run(until: 10_000_000)
        if let f = finish { consume(f()) }
    }
}

// MARK: - devices: port I/O sequences against every device model

// The devices are wired as on the PC board (PIT OUT0 -> IRQ0, 8042 -> IRQ1
// and IRQ12, RTC -> IRQ8, COM1 -> IRQ4, PIC INT -> a recorded CPU line, port
// 0x61 gating PIT channel 2) around a virtual clock the harness advances.
// The input is a sequence of 7-byte tuples (op, port, value[4], time-advance):
//
//   op bits 0-2  0 IN, 1 OUT, 2 interrupt acknowledge (only while INT is high
//                unless bit 3), 3 key press/release (bit 3 = release, bit 4 =
//                release all), 4 VGA memory read/write (bit 3 = write),
//                5 mouse motion, 6 a byte into the UART receiver,
//                7 host calls (RTC time set, firmware state, describe())
//   op bits 4-5  access size 1, 2, 4 (3 = 1; memory: 1, 2, 4, 8)
//   port         index into the claimed ports of the board
//   time-advance bits 0-5 count, bits 6-7 unit (1 ns, 64 ns, 4 us, 262 us)
//
// Total virtual time is capped at 200 ms per input. Bit 7 of the first byte
// turns every trace category on, rendered in both formats.

fileprivate let ports: [UInt16] = [
    0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1,             // PIC pair, ELCR
    0x40, 0x41, 0x42, 0x43, 0x61,                       // PIT, port B
    0x60, 0x64,                                         // 8042
    0x70, 0x71,                                         // RTC / CMOS
    0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC, 0x3FD, 0x3FE, 0x3FF, // COM1
    0x3B4, 0x3B5, 0x3BA, 0x3C0, 0x3C1, 0x3C2, 0x3C3, 0x3C4, 0x3C5, 0x3C6,
    0x3C7, 0x3C8, 0x3C9, 0x3CA, 0x3CB, 0x3CC, 0x3CD, 0x3CE, 0x3CF,
    0x3D4, 0x3D5, 0x3DA,                                // VGA
    0xE9, 0xF4, 0x80, 0x92,                             // debugcon, debug-exit, POST, port 0x92
]

final class DeviceBench {
    let clock = VirtualClock()
    let trace = TraceSink()
    let pics: PICPair
    let pit: PIT8254
    let portB: PortB
    let kbc: KBC8042
    let rtc: RTC
    let uart: UART16550
    let vga: VGA
    let debugCon = DebugCon()
    let debugExit = DebugExit()
    let post = PostPort()
    let sysCtlA = SystemControlA()
    var owner: [UInt16: PortDevice] = [:]
    var intLevel = false
    var counters = 0

    init(traceOn: Bool) {
        pics = PICPair(trace: trace)
        pit = PIT8254(clock: clock, trace: trace)
        portB = PortB(clock: clock, pit: pit)
        kbc = KBC8042(clock: clock, trace: trace)
        rtc = RTC(clock: clock, trace: trace)
        uart = UART16550(trace: trace)
        vga = VGA(clock: clock, trace: trace)
        for p in [UInt16(0x20), 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1] { owner[p] = pics }
        for p in UInt16(0x40)...0x43 { owner[p] = pit }
        owner[0x61] = portB
        owner[0x60] = kbc; owner[0x64] = kbc
        owner[0x70] = rtc; owner[0x71] = rtc
        for p in UInt16(0x3F8)...0x3FF { owner[p] = uart }
        for p in [UInt16(0x3B4), 0x3B5, 0x3BA, 0x3D4, 0x3D5, 0x3DA] { owner[p] = vga }
        for p in UInt16(0x3C0)...0x3CF { owner[p] = vga }
        owner[0xE9] = debugCon; owner[0xF4] = debugExit; owner[0x80] = post; owner[0x92] = sysCtlA

        pics.intOutput = { [unowned self] l in self.intLevel = l }
        pit.out0 = { [unowned self] l in self.pics.setIRQ(0, l) }
        kbc.irq1 = { [unowned self] l in self.pics.setIRQ(1, l) }
        kbc.irq12 = { [unowned self] l in self.pics.setIRQ(12, l) }
        rtc.irq8 = { [unowned self] l in self.pics.setIRQ(8, l) }
        uart.irq = { [unowned self] l in self.pics.setIRQ(4, l) }
        kbc.onReset = { [unowned self] in self.counters &+= 1 }
        kbc.onA20 = { [unowned self] _ in self.counters &+= 1 }
        sysCtlA.onReset = { [unowned self] in self.counters &+= 1 }
        debugCon.onOutput = { [unowned self] b in self.counters &+= Int(b) }
        uart.onTransmit = { [unowned self] b in self.counters &+= Int(b) }
        debugExit.onExit = { [unowned self] v in self.counters &+= Int(v & 0xFF) }
        if traceOn {
            trace.enabled = .all
            trace.handler = { [unowned self] e in
                let se = PC.StampedEvent(time: self.clock.now, instructions: 0, event: e)
                self.counters &+= TraceFormat.text.render(se).utf8.count
                self.counters &+= TraceFormat.jsonl.render(se).utf8.count
            }
        }
        pics.applyFirmwareState()
        pit.applyFirmwareState()
        kbc.applyFirmwareState()
        rtc.applyFirmwareState()
        vga.applyFirmwareState()
        rtc.setMemorySize(bytes: 4 << 20)
    }

    func advance(_ dt: UInt64) {
        clock.now &+= dt
        clock.runDue()
    }

    func describeAll() -> Int {
        [pics.describe(), pit.describe(), kbc.describe(), kbc.keyboard.describe(), kbc.mouse.describe(),
         rtc.describe(), uart.describe()].reduce(0) { $0 &+ $1.utf8.count }
    }
}

fileprivate let timeCap: UInt64 = 200_000_000

extension FuzzHarness {
    /// The devices target; returns the bench so the fuzz target can draw its screen.
    @discardableResult
    static func devices(_ input: [UInt8]) -> DeviceBench {
        var r = ByteReader(input)
        let b = DeviceBench(traceOn: input.first.map { $0 & 0x80 != 0 } ?? false)
        let keys = PS2Key.allKeys
        var elapsed: UInt64 = 0
        while r.remaining >= 7 {
            let op = r.u8()
            let port = ports[Int(r.u8()) % ports.count]
            let value = r.u32()
            let dtByte = r.u8()
            let sz = [1, 2, 4, 1][Int((op >> 4) & 3)]
            switch op & 7 {
            case 0:
                if let d = b.owner[port] { b.counters &+= Int(d.ioRead(port, size: sz) & 0xFF) }
            case 1:
                b.owner[port]?.ioWrite(port, size: sz, value: value)
            case 2:
                if b.intLevel || op & 0x08 != 0 { b.counters &+= Int(b.pics.acknowledge()) }
            case 3:
                if op & 0x10 != 0 {
                    b.kbc.keyboard.releaseAll()
                } else {
                    let key: PS2Key
                    if value & 0x100 != 0 {
                        key = PS2Key(code: UInt8(truncatingIfNeeded: value), extended: value & 0x200 != 0)
                    } else {
                        key = keys[Int(value & 0xFF) % keys.count]
                    }
                    if op & 0x08 != 0 { b.kbc.keyboard.release(key) } else { b.kbc.keyboard.press(key) }
                }
            case 4:
                let off = value & 0x1FFFF
                let msz = [1, 2, 4, 8][Int((op >> 4) & 3)]
                // Accesses never cross a 4 KiB page (the CPU's contract).
                let o = (off & 0xFFF) + UInt32(msz) > 0x1000 ? off & ~UInt32(7) : off
                if op & 0x08 != 0 {
                    b.vga.memWrite(o, size: msz, value: UInt64(value) &* 0x0101_0101_0101)
                } else {
                    b.counters &+= Int(truncatingIfNeeded: b.vga.memRead(o, size: msz))
                }
            case 5:
                let dx = Int(Int16(truncatingIfNeeded: value))
                let dy = Int(Int8(truncatingIfNeeded: value >> 16))
                b.kbc.mouse.move(dx: dx, dy: dy, buttons: UInt8(truncatingIfNeeded: value >> 24) & 0x1F,
                                 wheel: Int(Int8(truncatingIfNeeded: op)) >> 6)
            case 6:
                b.uart.receive(UInt8(truncatingIfNeeded: value))
            default:
                switch value & 7 {
                case 0: b.rtc.setTime(unixSeconds: Int64(Int32(bitPattern: value)) &* 97)
                case 1: b.pics.applyFirmwareState()
                case 2: b.pit.applyFirmwareState(); b.portB.applyFirmwareState()
                case 3: b.kbc.applyFirmwareState()
                case 4: b.vga.applyFirmwareState()
                case 5: b.uart.reset(); b.sysCtlA.reset()
                case 6: b.counters &+= b.describeAll()
                default: b.pit.setGate(Int(value >> 8) % 3, value & 0x10000 != 0)
                }
            }
            let dt = UInt64(dtByte & 0x3F) << (UInt64(dtByte >> 6) * 6)
            if dt > 0 && elapsed < timeCap {
                let step = min(dt, timeCap - elapsed)
                elapsed += step
                b.advance(step)
            }
        }
        consume(b.vga.textScreen())
        consume(b.vga.textLines())
        consume(b.counters &+ b.describeAll())
        return b
    }
}

// MARK: - inputscript: the scripted-input parsers

// The input is UTF-8-decoded (invalid sequences become U+FFFD, as when the
// CLI reads a file) and parsed both as an --input file and as --keys text
// (start time from the first bytes). The events of a successful parse are
// replayed, in time order, into an 8042 with keyboard and mouse and into a
// UART, as the board's scheduler does, for the first 2 s of virtual time.

final class InputBench {
    let clock = VirtualClock()
    let trace = TraceSink()
    let kbc: KBC8042
    let uart: UART16550
    var sink = 0

    init() {
        kbc = KBC8042(clock: clock, trace: trace)
        uart = UART16550(trace: trace)
        kbc.applyFirmwareState()
        trace.enabled = .all
        trace.handler = { [unowned self] e in self.sink &+= e.fields.count }
    }

    func replay(_ script: InputScript) {
        var last: UInt64 = 0
        for e in script.events {
            precondition(e.time >= last, "input events out of time order")
            last = e.time
            if e.time > 2_000_000_000 { break }
            clock.now = e.time
            clock.runDue()
            switch e.action {
            case .keyDown(let k): kbc.keyboard.press(k)
            case .keyUp(let k): kbc.keyboard.release(k)
            case .mouse(let dx, let dy, let b): kbc.mouse.move(dx: dx, dy: dy, buttons: b)
            case .serial(let bytes): for b in bytes { uart.receive(b) }
            }
            // The guest drains the 8042 now and then.
            if kbc.outputBufferFull { sink &+= Int(kbc.ioRead(0x60, size: 1)) }
        }
    }
}

extension FuzzHarness {
    static func inputScript(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let bench = InputBench()
        if let s = try? InputScript.parseFile(text) { bench.replay(s) }
        var keys = InputScript()
        let start = bytes.count >= 2 ? UInt64(bytes[0]) << 20 | UInt64(bytes[1]) : 0
        if let end = try? keys.addKeys(text, start: start) {
            consume(end)
            bench.replay(keys)
        }
        // Durations are also parsed on their own (--keys-at, --dump-at).
        for part in text.split(separator: ",", maxSplits: 8) { consume(InputScript.parseDuration(part)) }
        consume(PS2Key.named(text))
        consume(bench.sink)
    }
}

// MARK: - debugger: the GDB remote protocol and the command language

/// A 2 MiB machine running a small loop (a counter stored to memory, a byte
/// to port 0xE9, a call and a return), with a debugger attached and hard
/// limits: 20 000 instructions and 5 ms of virtual time.
func debuggerMachine() -> Debugger {
    var img: [UInt8] = []
    let magic: UInt32 = 0x1BAD_B002, flags: UInt32 = 0x1_0000
    for w in [magic, flags, 0 &- (magic &+ flags), 0x10_0000, 0x10_0000, 0, 0x10_2000, 0x10_0020] {
        for i in 0..<4 { img.append(UInt8(truncatingIfNeeded: w >> (8 * UInt32(i)))) }
    }
    img += [0xBC, 0x00, 0x00, 0x18, 0x00,       // mov esp, 0x180000
            0x40,                               // 1: inc eax
            0xA3, 0x00, 0x10, 0x10, 0x00,       // mov [0x101000], eax
            0xE6, 0xE9,                         // out 0xE9, al
            0xE8, 0x02, 0x00, 0x00, 0x00,       // call f
            0xEB, 0xF1,                         // jmp 1b
            0xC3]                               // f: ret
    var c = PCConfig()
    c.ramSize = 2 << 20
    let pc = PC(config: c)
    try! pc.load(kernel: img, path: "loop", append: "")
    pc.instructionLimit = 20_000
    let d = Debugger(pc: pc, symbols: SymbolTable(symbols: [Symbol(address: 0x10_0025, size: 15, name: "loop"),
                                                            Symbol(address: 0x10_0034, size: 1, name: "f")]))
    d.attach()
    d.timeLimit = 5_000_000
    d.sliceNs = 1_000_000
    return d
}

/// GDB's side of the connection, scripted: the input in chunks, then EOF.
final class ScriptedGDBTransport: GDBTransport {
    var chunks: [[UInt8]]
    var sent = 0
    init(_ chunks: [[UInt8]]) { self.chunks = chunks }
    func receive() -> [UInt8]? { chunks.isEmpty ? nil : chunks.removeFirst() }
    func poll() -> [UInt8]? { chunks.isEmpty ? [] : chunks.removeFirst() }
    func send(_ bytes: [UInt8]) { sent &+= bytes.count }
}

extension FuzzHarness {
    /// The gdbpacket target. Byte 0: bit 0 set = the rest is packet
    /// payloads separated by newlines, sent with correct checksums (to reach
    /// the command handler); clear = the rest is the raw byte stream.
    /// Bits 1-7: the chunk size the stream arrives in. The stream is framed
    /// by `GDBPacket.parse` directly and by `GDBFramer` in chunks (with a
    /// small payload limit as well), then served by a `GDBServer` driving a
    /// debugger on a small machine.
    static func gdb(_ input: [UInt8]) {
        guard let head = input.first else { return }
        let body = Array(input.dropFirst())
        var stream: [UInt8]
        if head & 1 != 0 {
            stream = []
            for p in body.split(separator: 0x0A, omittingEmptySubsequences: false) {
                stream += GDBPacket.encode(Array(p))
            }
        } else {
            stream = body
        }
        // Pure framing over the whole stream.
        var rest = stream[...]
        var steps = 0
        while !rest.isEmpty && steps < 100_000 {
            steps += 1
            switch GDBPacket.parse(Array(rest), maxPayload: 64) {
            case .incomplete: rest = []
            case .frame(_, let n), .skip(let n), .overflow(let n):
                precondition(n > 0 && n <= rest.count, "GDBPacket.parse consumed \(n) of \(rest.count)")
                rest = rest.dropFirst(n)
            }
        }
        let size = max(1, Int(head >> 1))
        var chunks: [[UInt8]] = []
        var i = 0
        while i < stream.count { chunks.append(Array(stream[i..<min(stream.count, i + size)])); i += size }
        var small = GDBFramer(maxPayload: 16)
        for ch in chunks { consume(small.feed(ch)) }

        let server = GDBServer(debugger: debuggerMachine(), transport: ScriptedGDBTransport(chunks))
        var polls = 0
        server.onRunning = { polls += 1; return polls > 1000 }
        consume(server.serve())
    }

    /// The debugcmd target: the input is debugger command lines, each parsed
    /// and, when it parses, executed on a small machine (the `quit` command
    /// is parsed but not obeyed).
    static func debugCommands(_ input: [UInt8]) {
        let text = String(decoding: input, as: UTF8.self)
        let d = debuggerMachine()
        var out = 0
        d.onTraceText = { out &+= $0.utf8.count }
        var executed = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            switch DebugCommandParser.parse(String(line)) {
            case .success(let cmd):
                if case .quit = cmd { continue }
                executed += 1
                if executed > 64 { continue }
                var polls = 0
                let r = d.execute(cmd) { polls += 1; return polls > 1000 }
                out &+= r.output.utf8.count
            case .failure(let e):
                out &+= e.message.utf8.count
            }
            if let word = line.split(separator: " ").first { consume(DebugCommandParser.info(for: String(word))) }
        }
        consume(out)
    }
}

// MARK: - replay of seeds and regressions

#if !FUZZ
final class RobustnessFuzzInputTests: XCTestCase {
    /// Every file in fuzz/corpus/<target>/ and fuzz/regressions/<target>/.
    private func inputs(_ target: String) throws -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        for dir in ["fuzz/corpus/", "fuzz/regressions/"] {
            let url = Repo.root.appendingPathComponent(dir + target)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { continue }
            for n in names.sorted() where !n.hasPrefix(".") {
                out.append((dir + target + "/" + n, [UInt8](try Data(contentsOf: url.appendingPathComponent(n)))))
            }
        }
        return out
    }

    private func replay(_ target: String, minimum: Int, _ run: ([UInt8]) -> Void) throws {
        let all = try inputs(target)
        XCTAssertGreaterThanOrEqual(all.count, minimum, "seed corpus of \(target) is missing")
        for (_, bytes) in all { run(bytes) }
    }

    func testCPUInputsReplay() throws { try replay("cpu", minimum: 10) { FuzzHarness.cpu($0) } }
    func testLoaderInputsReplay() throws { try replay("loader", minimum: 10) { FuzzHarness.loader($0) } }
    func testDevicesInputsReplay() throws { try replay("devices", minimum: 5) { _ = FuzzHarness.devices($0) } }
    func testInputScriptInputsReplay() throws { try replay("inputscript", minimum: 5) { FuzzHarness.inputScript($0) } }
    func testGDBPacketInputsReplay() throws { try replay("gdbpacket", minimum: 3) { FuzzHarness.gdb($0) } }
    func testDebugCommandInputsReplay() throws { try replay("debugcmd", minimum: 3) { FuzzHarness.debugCommands($0) } }
}
#endif
