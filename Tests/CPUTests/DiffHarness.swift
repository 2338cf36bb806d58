// Host-differential testing of the interpreter: the same instruction bytes run
// natively (Tests/CHostExec) and in the interpreter, from the same registers,
// flags and data memory; every general register, the architecturally defined
// flags and the data memory must agree.
//
// The interpreter side is a tiny machine in 64-bit mode: identity-mapped 2 MiB
// pages, a GDT with a 64-bit code segment, an IDT whose 256 gates lead to
// `jmp $` stubs (16 bytes apart, so the stopping RIP names the vector), a
// stack, a code page and a 4 KiB data window. Each case single-steps the CPU
// with `stopAt = retired + 1` until RIP leaves the code bytes (a REP string
// instruction may retire once per iteration or once in all; a sequence of
// instructions is stepped through to its end).
//
// Memory operands: a register (listed in `DiffSpec.dataPtrs`) holds an offset
// into the data window; the harness adds the host buffer address natively and
// the guest address in the interpreter, and subtracts it again afterwards.

//
// Undefined flags: the comparison masks every flag the SDM leaves undefined
// for the given input (see each test file's header). What the interpreter
// leaves in them, measured with DIFF_UNDEFINED_REPORT=1 against an AMD EPYC
// host (percentages: share of cases equal to the host):
// - AND/OR/XOR/TEST: AF = 0 (host: the same).
// - SHL/SHR/SAR, count != 0: AF = 0 (host: AF = 1, never equal). OF for
//   counts > 1: SHL MSB(result) XOR CF (host 100%), SHR MSB(operand)
//   (host ~66%), SAR 0 (host 100%). CF of SHL/SHR when the count is >= the
//   width (8/16-bit): the last bit out of the widened shift, 0 (host 100%).
// - ROL/ROR/RCL/RCR, counts > 1: OF by the 1-bit rule (host 100%).
// - SHLD/SHRD: AF = 0 (host: 1); OF = MSB(result) XOR MSB(destination)
//   for every count (host ~55-63%); 16-bit counts above 16 shift the 48-bit
//   pattern destination:source:destination (Intel/QEMU-like; the AMD host
//   differs, result and flags are not compared there).
// - MUL/IMUL (all forms): SF, ZF, PF from the low half of the product,
//   AF = 0 (host ~50%: AMD computes them otherwise).
// - DIV/IDIV: all six flags left as they were (host: CF and OF equal,
//   the others ~50%).
// - BT/BTS/BTR/BTC: OF SF AF PF left as they were (host 100%).
// - BSF/BSR: CF = OF = SF = AF = 0 and PF = 1 (host ~60% for PF, 100% for
//   the others); with a zero source the destination is not written (the AMD
//   documented behaviour; not compared).
// - TZCNT/LZCNT: OF = SF = AF = 0, PF = parity of the result (host ~50%
//   for PF and OF).

import CHostExec
import CPU
import Foundation
import XCTest

// MARK: flags

enum Fl {
    static let cf: UInt64 = 0x001
    static let pf: UInt64 = 0x004
    static let af: UInt64 = 0x010
    static let zf: UInt64 = 0x040
    static let sf: UInt64 = 0x080
    static let df: UInt64 = 0x400
    static let of: UInt64 = 0x800
    /// OF SF ZF AF PF CF.
    static let arith: UInt64 = 0x8D5
    /// Every flag the tests load and compare: the arithmetic ones and DF.
    static let all: UInt64 = 0xCD5

    static func names(_ v: UInt64) -> String {
        let named: [(UInt64, String)] = [(of, "OF"), (df, "DF"), (sf, "SF"), (zf, "ZF"), (af, "AF"), (pf, "PF"), (cf, "CF")]
        let s = named.filter { v & $0.0 != 0 }.map { $0.1 }
        return s.isEmpty ? "-" : s.joined(separator: ",")
    }
}

// MARK: deterministic random numbers

/// SplitMix64: small, fast, and good enough to spread test inputs.
struct DiffRng {
    var s: UInt64
    init(seed: UInt64) { s = seed }
    init(name: String) {
        // FNV-1a of the name: every form gets its own stable stream.
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        s = h
    }
    mutating func next() -> UInt64 {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func coin() -> Bool { next() & 1 == 1 }

    static func mask(_ w: Int) -> UInt64 { w >= 64 ? ~0 : (1 << UInt64(w)) - 1 }

    /// Values at the edges of a `w`-bit operand.
    static func edges(_ w: Int) -> [UInt64] {
        let m = mask(w)
        let s: UInt64 = 1 << UInt64(w - 1)
        var v: [UInt64] = [0, 1, 2, 3, m, m - 1, s, s - 1, s + 1, s - 2, 0x7F, 0x80, 0xFF, 0x100,
                           0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
                           0x1_0000_0000, 0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA, 0x0F, 0xF0, 0x10]
        v = v.map { $0 & m }
        var seen = Set<UInt64>()
        return v.filter { seen.insert($0).inserted }
    }
    static let edgeTables: [[UInt64]] = [edges(8), edges(16), edges(32), edges(64)]
    static func table(_ w: Int) -> [UInt64] { edgeTables[w == 8 ? 0 : w == 16 ? 1 : w == 32 ? 2 : 3] }

    mutating func edge(_ w: Int) -> UInt64 {
        let t = DiffRng.table(w)
        return t[below(t.count)]
    }

    /// A register value for a `w`-bit operation: often an edge value in the
    /// low `w` bits (or in bits 8-15 for AH..BH) under random upper bits,
    /// sometimes a small number, otherwise fully random.
    mutating func operand(_ w: Int) -> UInt64 {
        let r = next()
        switch below(16) {
        case 0..<6:
            let e = edge(w)
            if w == 8 && coin() { return (r & ~0xFF00) | e << 8 }
            return (r & ~DiffRng.mask(w)) | e
        case 6, 7:
            let e = UInt64(below(w + 3))
            return (r & ~DiffRng.mask(w)) | e
        case 8:
            let ow = [8, 16, 32, 64][below(4)]
            return (r & ~DiffRng.mask(ow)) | edge(ow)
        case 9:
            return coin() ? UInt64(below(4)) : ~UInt64(below(4))
        default:
            return r
        }
    }
}

// MARK: register file

extension hostexec_state {
    subscript(_ i: Int) -> UInt64 {
        get { withUnsafeBytes(of: gpr) { $0.load(fromByteOffset: i * 8, as: UInt64.self) } }
        set { withUnsafeMutableBytes(of: &gpr) { $0.storeBytes(of: newValue, toByteOffset: i * 8, as: UInt64.self) } }
    }
    /// XMM register i as (low, high) quadwords.
    func x(_ i: Int) -> (UInt64, UInt64) {
        withUnsafeBytes(of: xmm) { ($0.load(fromByteOffset: i * 16, as: UInt64.self), $0.load(fromByteOffset: i * 16 + 8, as: UInt64.self)) }
    }
    mutating func setX(_ i: Int, _ v: (UInt64, UInt64)) {
        withUnsafeMutableBytes(of: &xmm) {
            $0.storeBytes(of: v.0, toByteOffset: i * 16, as: UInt64.self)
            $0.storeBytes(of: v.1, toByteOffset: i * 16 + 8, as: UInt64.self)
        }
    }
}

/// One test input: registers (RSP ignored), flags, and the data window.
struct DiffCase {
    var st = hostexec_state()
    /// The input data window (`DiffMachine.dataSize` bytes), owned by the runner.
    let mem: UnsafeMutableRawPointer
    var index = 0

    subscript(_ r: Int) -> UInt64 {
        get { st[r] }
        set { st[r] = newValue }
    }
    var flags: UInt64 {
        get { st.rflags }
        set { st.rflags = newValue }
    }
    func load(_ off: Int, _ bytes: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<bytes { v |= UInt64(mem.load(fromByteOffset: off + i, as: UInt8.self)) << UInt64(8 * i) }
        return v
    }
    func store(_ off: Int, _ v: UInt64, _ bytes: Int) {
        for i in 0..<bytes { mem.storeBytes(of: UInt8(truncatingIfNeeded: v >> UInt64(8 * i)), toByteOffset: off + i, as: UInt8.self) }
    }
}

/// What must agree after a case.
struct Defined {
    /// Flags compared (subset of `Fl.all`).
    var flags: UInt64 = Fl.all
    /// Registers compared, bit i = register i (RSP is never compared).
    var regs: UInt16 = 0xFFEF
    /// One register compared under `mask` only (-1: none).
    var maskReg = -1
    var mask: UInt64 = ~0
    /// XMM registers compared (SSE specs), bit i = XMM i.
    var xmm: UInt16 = 0xFFFF
    /// One XMM register compared under (low, high) masks only (-1: none).
    var xmmMaskReg = -1
    var xmmMask: (UInt64, UInt64) = (~0, ~0)
    init(flags: UInt64 = Fl.all, regs: UInt16 = 0xFFEF) { self.flags = flags; self.regs = regs }
    /// All flags but `undefined`.
    static func except(_ undefined: UInt64) -> Defined { Defined(flags: Fl.all & ~undefined) }
}

/// How an instruction form is exercised and judged.
struct DiffSpec {
    /// Operand width for the default generator.
    var width: Int
    /// The case uses the data window (it is filled with random bytes and compared).
    var memory = false
    /// Registers holding offsets into the data window (relocated both ways).
    var dataPtrs: [Int] = []
    /// Registers whose output is an address relative to the instruction
    /// (RIP-relative LEA): compared relative to the code address.
    var codeRelOut: [Int] = []
    /// Adjusts the default random case (index = case number).
    var gen: ((inout DiffRng, inout DiffCase) -> Void)? = nil
    /// Which flags/registers are architecturally defined for this input
    /// (given the input and the native output).
    var defined: (DiffCase, hostexec_state) -> Defined = { _, _ in Defined() }
    /// Non-nil when the input must fault (vector): run in the interpreter
    /// only, expecting the exception with registers and memory unchanged.
    var fault: ((DiffCase) -> UInt8?)? = nil
    /// Longest run of single steps (REP strings).
    var maxSteps = 4
    /// XMM registers and MXCSR are loaded into the interpreter and compared.
    var sse = false
    /// The bytes run as 32-bit code (compatibility mode) on both sides; only
    /// the low 32 bits of the general registers are compared.
    var compat32 = false
    /// MXCSR bits compared when `sse` (the control bits; add 0x3F for the
    /// exception flags).
    var mxcsrMask: UInt32 = 0xFFC0
    /// Guest address of the code (default `DiffMachine.codeBase`).
    var codeAddress: UInt64? = nil
    /// GS base = the data window on both sides (GS-relative operands take
    /// plain offsets).
    var gsData = false
    /// The guest bytes around the code mirror the host page around it
    /// (prologue before, epilogue after), so RIP-relative loads near the
    /// code read the same bytes on both sides.
    var mirrorHostCode = false

    init(width: Int, memory: Bool = false, dataPtrs: [Int] = [], codeRelOut: [Int] = [],
         maxSteps: Int = 4, codeAddress: UInt64? = nil,
         gen: ((inout DiffRng, inout DiffCase) -> Void)? = nil,
         defined: @escaping (DiffCase, hostexec_state) -> Defined = { _, _ in Defined() },
         fault: ((DiffCase) -> UInt8?)? = nil) {
        self.width = width; self.memory = memory; self.dataPtrs = dataPtrs; self.codeRelOut = codeRelOut
        self.maxSteps = maxSteps; self.codeAddress = codeAddress; self.gen = gen; self.defined = defined; self.fault = fault
    }
}

/// One encoding to run.
struct DiffVariant {
    var name: String
    var code: [UInt8]
    var cases: Int
    /// Registers to print in failure messages (empty: all).
    var show: [Int] = []
    /// XMM registers to print (SSE specs).
    var showXMM: [Int] = []
}

// MARK: the interpreter machine

final class DiffBus: CPUBus {
    var exceptions: [(UInt8, UInt32?)] = []
    var unimplemented: [[UInt8]] = []
    func portRead(_ port: UInt16, size: Int) -> UInt32 { 0xFFFF_FFFF }
    func portWrite(_ port: UInt16, size: Int, value: UInt32) {}
    func deviceRead(_ addr: UInt64, size: Int) -> UInt64 { ~0 }
    func deviceWrite(_ addr: UInt64, size: Int, value: UInt64) {}
    func interruptAcknowledge() -> UInt8 { 0xFF }
    func virtualTimeNs() -> UInt64 { 0 }
    func cpuEvent(_ event: CPUEvent) {
        switch event {
        case let .exception(vector, errorCode, _, _):
            if exceptions.count < 16 { exceptions.append((vector, errorCode)) }
        case let .unimplemented(bytes, _):
            if unimplemented.count < 16 { unimplemented.append(bytes) }
        default: break
        }
    }
}

enum DiffOutcome: Equatable {
    case completed
    case exception(UInt8)
    case stopped(CPUStop, rip: UInt64)

    var text: String {
        switch self {
        case .completed: return "completed"
        case let .exception(v): return "exception #\(v) (\(DiffOutcome.vectorName(v)))"
        case let .stopped(s, rip): return "stopped \(s) at rip=0x\(String(rip, radix: 16))"
        }
    }
    static func vectorName(_ v: UInt8) -> String {
        let n = ["DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM", "DF", "", "TS", "NP", "SS", "GP", "PF", "", "MF", "AC", "MC", "XM"]
        return Int(v) < n.count ? n[Int(v)] : "vector \(v)"
    }
}

final class DiffMachine {
    static let pml4: UInt64 = 0x1000
    static let gdt: UInt64 = 0x4000
    static let idt: UInt64 = 0x5000
    static let handlers: UInt64 = 0x6000
    static let trampoline: UInt64 = 0x8000
    static let codeBase: UInt64 = 0x10000
    static let stackTop: UInt64 = 0x30000
    static let dataBase: UInt64 = 0x40000
    static let dataSize = 8192
    static let ramSize = 2 << 20

    private(set) var memory: PhysicalMemory
    let bus = DiffBus()
    private(set) var cpu: CPU
    /// Why the machine could not reach 64-bit mode (nil when it did).
    private(set) var setupError: String?
    /// How 64-bit mode was entered.
    private(set) var entry = ""
    private var code: [UInt8] = []
    private var needsRebuild = false
    /// Where the code bytes go (a test may straddle a page boundary).
    private(set) var codeStart = DiffMachine.codeBase

    /// Linear page 0 is not mapped (the first 2 MiB use 4 KiB pages).
    let unmapPageZero: Bool

    init(unmapPageZero: Bool = false) {
        self.unmapPageZero = unmapPageZero
        memory = PhysicalMemory(ramSize: DiffMachine.ramSize)
        cpu = CPU(memory: memory, bus: bus)
        build()
    }

    var ram: UnsafeMutablePointer<UInt8> { memory.ram }
    var guestData: UnsafeMutableRawPointer { UnsafeMutableRawPointer(memory.ram + Int(DiffMachine.dataBase)) }

    private func put64(_ addr: UInt64, _ v: UInt64) {
        UnsafeMutableRawPointer(memory.ram + Int(addr)).storeBytes(of: v.littleEndian, as: UInt64.self)
    }
    private func put(_ addr: UInt64, _ bytes: [UInt8]) {
        for (i, b) in bytes.enumerated() { memory.ram[Int(addr) + i] = b }
    }

    private func build() {
        memory = PhysicalMemory(ramSize: DiffMachine.ramSize)
        cpu = CPU(memory: memory, bus: bus)
        // Page tables: PML4[0] -> PDPT -> PD with two 2 MiB pages (A and D preset).
        put64(0x1000, 0x2000 | 0x23)
        put64(0x2000, 0x3000 | 0x23)
        if unmapPageZero {
            // PD[0] -> a page table at 0xA000 identity-mapping 4 KiB pages 1-511.
            put64(0x3000, 0xA000 | 0x23)
            for i in 1..<512 { put64(0xA000 + UInt64(8 * i), UInt64(i) << 12 | 0x63) }
        } else {
            put64(0x3000, 0x0000_0000 | 0xE3)
        }
        put64(0x3008, 0x0020_0000 | 0xE3)
        // GDT: null, 0x08 64-bit code, 0x10 flat data.
        put64(DiffMachine.gdt + 8, 0x00AF_9B00_0000_FFFF)
        put64(DiffMachine.gdt + 16, 0x00CF_9300_0000_FFFF)
        // 0x18: 32-bit code (compatibility mode).
        put64(DiffMachine.gdt + 24, 0x00CF_9B00_0000_FFFF)
        // IDT: 64-bit interrupt gates to handler v at handlers + 16 v (`jmp $`).
        for v in 0..<256 {
            let h = DiffMachine.handlers + UInt64(16 * v)
            let lo = (h & 0xFFFF) | (0x08 << 16) | (0x8E << 40) | ((h >> 16) & 0xFFFF) << 48
            put64(DiffMachine.idt + UInt64(16 * v), lo)
            put64(DiffMachine.idt + UInt64(16 * v) + 8, h >> 32)
            put(h, [0xEB, 0xFE])
        }
        setupError = nil
        if enterBySetters() {
            entry = "state setters"
        } else {
            let first = setupError ?? ""
            cpu = CPU(memory: memory, bus: bus)
            if enterByTrampoline() {
                entry = "guest trampoline"
                setupError = nil
            } else {
                setupError = "cannot enter 64-bit mode: setters: \(first); trampoline: \(setupError ?? "")"
            }
        }
        cpu.reportEvents = true
        needsRebuild = false
        if !code.isEmpty { writeCode() }
    }

    private func flat(_ sel: UInt16, _ attr: UInt16) -> SegmentCache {
        SegmentCache(selector: sel, base: 0, limit: 0xFFFF_FFFF, attributes: attr)
    }

    /// Multiboot state, then CR3/CR4/EFER/CR0 and 64-bit segments through
    /// the public setters.
    private func enterBySetters() -> Bool {
        cpu.enterMultiboot(entry: UInt32(DiffMachine.trampoline), eax: 0, ebx: 0)
        cpu.gdtr = TableRegister(base: DiffMachine.gdt, limit: 31)
        cpu.idtr = TableRegister(base: DiffMachine.idt, limit: 0xFFF)
        cpu.cr4 = cpu.cr4 | 0x620          // PAE, OSFXSR, OSXMMEXCPT
        cpu.cr3 = DiffMachine.pml4
        cpu.efer = cpu.efer | 0x500        // LME, LMA
        cpu.cr0 = cpu.cr0 | 0x8000_0031    // PG, NE, ET, PE
        cpu.setSegment(.cs, flat(0x08, 0xA09B))
        for s in [SegReg.ds, .es, .ss, .fs, .gs] { cpu.setSegment(s, flat(0x10, 0xC093)) }
        return probe()
    }

    /// Multiboot state, then a 32-bit guest routine that switches to long mode
    /// architecturally and far-jumps to 64-bit code.
    private func enterByTrampoline() -> Bool {
        let t = DiffMachine.trampoline
        // GDT pointer at 0x7F00 (32-bit base), IDT pointer at 0x7F10 (64-bit base).
        put(0x7F00, [31, 0] + DiffEnc.le(DiffMachine.gdt, 4))
        put(0x7F10, [0xFF, 0x0F] + DiffEnc.le(DiffMachine.idt, 8))
        var c: [UInt8] = []
        c += [0xB8] + DiffEnc.le(DiffMachine.pml4, 4)      // mov eax, pml4
        c += [0x0F, 0x22, 0xD8]                            // mov cr3, eax
        c += [0x0F, 0x20, 0xE0, 0x0D, 0x20, 0x06, 0, 0]    // mov eax, cr4; or eax, 0x620
        c += [0x0F, 0x22, 0xE0]                            // mov cr4, eax
        c += [0xB9, 0x80, 0x00, 0x00, 0xC0, 0x0F, 0x32]    // mov ecx, EFER; rdmsr
        c += [0x0D, 0x00, 0x01, 0x00, 0x00, 0x0F, 0x30]    // or eax, LME; wrmsr
        c += [0x0F, 0x01, 0x15, 0x00, 0x7F, 0x00, 0x00]    // lgdt [0x7F00]
        c += [0x0F, 0x20, 0xC0, 0x0D, 0x20, 0x00, 0x00, 0x80]  // mov eax, cr0; or eax, PG|NE
        c += [0x0F, 0x22, 0xC0]                            // mov cr0, eax
        c += [0xEA] + DiffEnc.le(t + 0x100, 4) + [0x08, 0x00]  // jmp 0x08:t+0x100
        put(t, c)
        var l: [UInt8] = []
        l += [0xB8, 0x10, 0, 0, 0, 0x8E, 0xD8, 0x8E, 0xC0, 0x8E, 0xD0]  // mov eax,0x10; mov ds/es/ss
        l += [0x0F, 0x01, 0x1C, 0x25, 0x10, 0x7F, 0x00, 0x00]          // lidt [0x7F10]
        l += [0xEB, 0xFE]                                              // jmp $
        put(t + 0x100, l)
        cpu.enterMultiboot(entry: UInt32(t), eax: 0, ebx: 0)
        cpu.setGPR(.rsp, 0x7000)
        let done = t + 0x100 + UInt64(l.count - 2)
        var steps = 0
        while cpu.rip != done && steps < 100 {
            cpu.stopAt = cpu.retired &+ 1
            if cpu.run() != .limit { break }
            steps += 1
        }
        if cpu.rip != done {
            setupError = "trampoline stopped at rip=0x\(String(cpu.rip, radix: 16)) mode=\(cpu.mode)"
            return false
        }
        return probe()
    }

    /// Runs `mov rax, imm64` and checks 64-bit decoding.
    private func probe() -> Bool {
        if cpu.mode != .long64 {
            setupError = "mode is \(cpu.mode) after the switch"
            return false
        }
        let imm: UInt64 = 0x1122_3344_5566_7788
        put(DiffMachine.codeBase, [0x48, 0xB8] + DiffEnc.le(imm, 8) + [0xF4])
        invalidate()
        cpu.setGPR(.rsp, DiffMachine.stackTop)
        cpu.setGPR(.rax, 0)
        cpu.rip = DiffMachine.codeBase
        cpu.stopAt = cpu.retired &+ 1
        let stop = cpu.run()
        if cpu.gpr(.rax) != imm || cpu.rip != DiffMachine.codeBase + 10 {
            setupError = "probe mov rax,imm64: stop=\(stop) rip=0x\(String(cpu.rip, radix: 16)) rax=0x\(String(cpu.gpr(.rax), radix: 16))"
            return false
        }
        return true
    }

    /// Drops decoded code of the pages holding the code bytes.
    /// (`invalidateCode(page:)` takes the physical address of the page.)
    private func invalidate(_ start: UInt64 = DiffMachine.codeBase, _ count: Int = 16) {
        var page = start >> 12
        while page <= (start + UInt64(count)) >> 12 {
            cpu.invalidateCode(page: page << 12)
            page += 1
        }
    }

    /// Code goes in through `writePhysical`, the path for writes from
    /// outside the CPU (it drops decoded instructions).
    private func writeCode() {
        let bytes = code + [0xF4, 0xF4, 0xF4, 0xF4]
        if !cpu.writePhysical(codeStart, bytes) { put(codeStart, bytes) }
        invalidate(codeStart, bytes.count)
    }

    /// Places `bytes` at `at` (default `codeBase`), followed by HLTs.
    func load(_ bytes: [UInt8], at: UInt64 = DiffMachine.codeBase) {
        if needsRebuild { build() }
        code = bytes
        codeStart = at
        writeCode()
    }

    /// Runs the loaded bytes from `input` (data pointers already relocated,
    /// data window already in guest RAM). Returns the registers and flags
    /// after, and how it ended.
    func run(_ input: hostexec_state, maxSteps: Int, sse: Bool = false, compat32: Bool = false) -> (hostexec_state, DiffOutcome) {
        if needsRebuild { build() }
        if compat32 { cpu.setSegment(.cs, flat(0x18, 0xC09B)) }
        defer { if compat32 && !needsRebuild { cpu.setSegment(.cs, flat(0x08, 0xA09B)) } }
        if sse {
            for i in 0..<16 { cpu.setXMM(i, input.x(i)) }
            cpu.mxcsr = input.mxcsr == 0 ? HOSTEXEC_MXCSR_DEFAULT : input.mxcsr
        }
        for r in 0..<16 where r != 4 { cpu.setGPR(GPR(rawValue: r)!, input[r]) }
        cpu.setGPR(.rsp, DiffMachine.stackTop)
        cpu.rflags = (input.rflags & Fl.all) | 2
        cpu.rip = codeStart
        bus.exceptions.removeAll(keepingCapacity: true)
        bus.unimplemented.removeAll(keepingCapacity: true)
        let end = codeStart + UInt64(code.count)
        var stop = CPUStop.limit
        var steps = 0
        repeat {
            cpu.stopAt = cpu.retired &+ 1
            stop = cpu.run()
            steps += 1
        } while stop == .limit && cpu.rip >= codeStart && cpu.rip < end && steps < maxSteps
        var out = hostexec_state()
        for r in 0..<16 { out[r] = cpu.gpr(GPR(rawValue: r)!) }
        out.rflags = cpu.rflags
        if sse {
            for i in 0..<16 { out.setX(i, cpu.xmm(i)) }
            out.mxcsr = cpu.mxcsr
        }
        let rip = cpu.rip
        let outcome: DiffOutcome
        if stop == .limit && rip == end {
            outcome = .completed
        } else if rip >= DiffMachine.handlers && rip < DiffMachine.handlers + 4096 {
            outcome = .exception(UInt8((rip - DiffMachine.handlers) / 16))
        } else {
            outcome = .stopped(stop, rip: rip)
        }
        if cpu.halted || stop != .limit { needsRebuild = true }
        return (out, outcome)
    }

    /// The RIP saved in the exception frame of the last delivered exception
    /// (RSP after delivery points at it, or at the error code before it).
    func frameRIP(errorCode: Bool) -> UInt64? {
        let sp = cpu.gpr(.rsp) &+ (errorCode ? 8 : 0)
        guard sp < UInt64(DiffMachine.ramSize - 8) else { return nil }
        return UnsafeRawPointer(memory.ram + Int(sp)).loadUnaligned(as: UInt64.self)
    }
}

// MARK: the runner

/// Tally of interpreter vs native values of flags the SDM leaves undefined.
final class UndefinedFlagStats {
    struct Entry { var cases = 0; var sameAsHost = 0; var ones = 0 }
    var table: [String: [UInt64: Entry]] = [:]

    func record(_ form: String, undefined: UInt64, host: UInt64, interp: UInt64) {
        var t = table[form] ?? [:]
        for bit in [Fl.cf, Fl.pf, Fl.af, Fl.zf, Fl.sf, Fl.of] where undefined & bit != 0 {
            var e = t[bit] ?? Entry()
            e.cases += 1
            if (host ^ interp) & bit == 0 { e.sameAsHost += 1 }
            if interp & bit != 0 { e.ones += 1 }
            t[bit] = e
        }
        table[form] = t
    }

    /// "(n cases): CF =host a% set b%, ..." for `form`, nil when nothing was undefined.
    func report(_ form: String) -> String? {
        guard let t = table[form] else { return nil }
        let parts = [Fl.cf, Fl.pf, Fl.af, Fl.zf, Fl.sf, Fl.of].compactMap { bit -> String? in
            guard let e = t[bit], e.cases > 0 else { return nil }
            return "\(Fl.names(bit)) =host \(100 * e.sameAsHost / e.cases)% set \(100 * e.ones / e.cases)%"
        }
        return parts.isEmpty ? nil : "(\(t.values.map(\.cases).max() ?? 0) cases): " + parts.joined(separator: ", ")
    }
}

final class DiffRunner {
    static let shared = DiffRunner()
    static let undefinedStats = UndefinedFlagStats()

    let machine = DiffMachine()
    let hostMem: UnsafeMutableRawPointer
    let inputMem: UnsafeMutableRawPointer
    /// Cases run by every runner call (for the timing note).
    private(set) var totalCases = 0
    /// Scale factor for case counts (DIFF_SCALE in the environment).
    let scale: Double
    /// DIFF_NATIVE_ONLY=1: run the native side only (checks the test inputs
    /// never fault natively, without an interpreter).
    let nativeOnly: Bool
    /// DIFF_SEED=text: another deterministic input stream (for soak runs).
    let seed: String
    /// DIFF_UNDEFINED_REPORT=1: print, per form, how the interpreter sets the
    /// flags the SDM leaves undefined (share equal to the host, share set).
    let reportUndefined: Bool

    init() {
        // Below 2 GiB where possible, so 32-bit address-size forms reach it.
        if let low = hostexec_alloc_low(DiffMachine.dataSize) {
            hostMem = low
        } else {
            hostMem = UnsafeMutableRawPointer.allocate(byteCount: DiffMachine.dataSize, alignment: 4096)
        }
        inputMem = UnsafeMutableRawPointer.allocate(byteCount: DiffMachine.dataSize, alignment: 16)
        hostMem.initializeMemory(as: UInt8.self, repeating: 0, count: DiffMachine.dataSize)
        inputMem.initializeMemory(as: UInt8.self, repeating: 0, count: DiffMachine.dataSize)
        reportUndefined = ProcessInfo.processInfo.environment["DIFF_UNDEFINED_REPORT"] == "1"
        seed = ProcessInfo.processInfo.environment["DIFF_SEED"] ?? ""
        nativeOnly = ProcessInfo.processInfo.environment["DIFF_NATIVE_ONLY"] == "1"
        scale = ProcessInfo.processInfo.environment["DIFF_SCALE"].flatMap(Double.init) ?? 1
        _ = hostexec_init()
    }

    var hostBase: UInt64 { UInt64(UInt(bitPattern: hostMem)) }
    /// The host data window is reachable with 32-bit addresses.
    var hostMemLow: Bool { hostBase + UInt64(DiffMachine.dataSize) <= 0x8000_0000 }

    /// Runs every variant of a form with `spec`; reports mismatches through
    /// XCTFail (a few examples per variant). Returns the number of failing cases.
    @discardableResult
    func run(_ form: String, _ variants: [DiffVariant], _ spec: DiffSpec,
             file: StaticString = #filePath, line: UInt = #line) -> Int {
        if nativeOnly {
            hostexec_guard_begin()
            defer { hostexec_guard_end() }
            return variants.reduce(0) { $0 + runVariant(form, $1, spec, file: file, line: line) }
        }
        if let e = machine.setupError {
            XCTFail("\(form): \(e)", file: file, line: line)
            return 1
        }
        var failures = 0
        hostexec_guard_begin()
        defer { hostexec_guard_end() }
        for v in variants {
            failures += runVariant(form, v, spec, file: file, line: line)
        }
        if reportUndefined, let line = DiffRunner.undefinedStats.report(form) {
            let label = variants.count == 1 ? "\(form) [\(variants[0].name)]" : form
            print("undefined flags: \(label) " + line)
        }
        DiffRunner.undefinedStats.table[form] = nil
        return failures
    }

    private func fillRandom(_ rng: inout DiffRng) {
        var i = 0
        while i < DiffMachine.dataSize {
            inputMem.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self)
            i += 8
        }
    }

    private func runVariant(_ form: String, _ v: DiffVariant, _ spec: DiffSpec,
                            file: StaticString, line: UInt) -> Int {
        var rng = DiffRng(name: seed + form + "|" + v.name + "|" + DiffEnc.hex(v.code))
        machine.load(v.code, at: spec.codeAddress ?? DiffMachine.codeBase)
        if spec.mirrorHostCode {
            _ = v.code.withUnsafeBufferPointer { hostexec_prepare($0.baseAddress, $0.count) }
            let off = hostexec_code_offset()
            let before = min(128, off)
            let after = min(128, 4096 - off - v.code.count)
            if let host = UnsafeRawPointer(bitPattern: UInt(hostexec_code_address()) - UInt(before)) {
                let bytes = (0..<(before + v.code.count + after)).map { host.load(fromByteOffset: $0, as: UInt8.self) }
                _ = machine.cpu.writePhysical(machine.codeStart - UInt64(before), bytes)
            }
        }
        var savedGS: UInt64 = 0
        if spec.gsData {
            savedGS = hostexec_gs_base()
            machine.cpu.gsBase = DiffMachine.dataBase
        }
        defer {
            if spec.gsData {
                machine.cpu.gsBase = 0
                _ = hostexec_set_gs_base(savedGS)
            }
        }
        let n = max(1, Int(Double(v.cases) * scale))
        var failed = 0
        var examples: [String] = []
        let guestBase = DiffMachine.dataBase
        let size = DiffMachine.dataSize
        for i in 0..<n {
            var c = DiffCase(mem: inputMem, index: i)
            for r in 0..<16 { c[r] = r == 4 ? 0 : rng.operand(spec.width) }
            c.flags = rng.next() & Fl.all
            if spec.memory { fillRandom(&rng) }
            spec.gen?(&rng, &c)
            c.flags &= Fl.all
            totalCases += 1

            let vector = spec.fault?(c)

            // Native.
            var host = c.st
            if vector == nil {
                for r in spec.dataPtrs { host[r] = host[r] &+ hostBase }
                if spec.memory { hostMem.copyMemory(from: inputMem, byteCount: size) }
                var fault = hostexec_fault()
                if spec.gsData { _ = hostexec_set_gs_base(hostBase) }
                let sig = v.code.withUnsafeBufferPointer {
                    spec.compat32 ? hostexec_run32_guarded($0.baseAddress, $0.count, &host, &fault)
                        : hostexec_run_guarded($0.baseAddress, $0.count, &host, &fault)
                }
                if spec.gsData { _ = hostexec_set_gs_base(savedGS) }
                if sig != 0 {
                    failed += 1
                    if examples.count < 3 {
                        examples.append("native run faulted (signal \(sig), addr 0x\(String(fault.address, radix: 16))) on input \(describeInput(c, v, spec)) — test input bug")
                    }
                    continue
                }
                for r in spec.dataPtrs { host[r] = host[r] &- hostBase }
                for r in spec.codeRelOut {
                    host[r] = host[r] &- (spec.compat32 ? UInt64(hostexec_compat32_code_address()) : hostexec_code_address())
                }
            }

            if nativeOnly { continue }

            // Interpreter.
            var input = c.st
            for r in spec.dataPtrs { input[r] = input[r] &+ guestBase }
            if spec.memory { machine.guestData.copyMemory(from: inputMem, byteCount: size) }
            var (emu, outcome) = machine.run(input, maxSteps: spec.maxSteps, sse: spec.sse, compat32: spec.compat32)
            for r in spec.dataPtrs { emu[r] = emu[r] &- guestBase }
            for r in spec.codeRelOut { emu[r] = emu[r] &- machine.codeStart }

            var problems: [String] = []
            if let vector {
                if outcome != .exception(vector) {
                    problems.append("expected #\(DiffOutcome.vectorName(vector)), got \(outcome.text)")
                } else {
                    for r in 0..<16 where r != 4 && (emu[r] ^ c[r]) & (spec.compat32 ? 0xFFFF_FFFF : ~0) != 0 {
                        problems.append("\(DiffEnc.names64[r]) changed to \(hex(emu[r])) (a fault leaves it \(hex(c[r])))")
                    }
                    if let fr = machine.frameRIP(errorCode: false), fr != machine.codeStart {
                        problems.append("exception frame RIP \(hex(fr)), expected the faulting instruction \(hex(machine.codeStart))")
                    }
                    if spec.memory && memcmp(machine.guestData, inputMem, size) != 0 {
                        problems.append("memory changed by a faulting instruction")
                    }
                }
            } else {
                if outcome != .completed {
                    var s = outcome.text
                    if let u = machine.bus.unimplemented.first { s += " (unimplemented \(DiffEnc.hex(u)))" }
                    problems.append(s)
                } else {
                    let d = spec.defined(c, host)
                    for r in 0..<16 where r != 4 && d.regs & (1 << UInt16(r)) != 0 {
                        let m = (r == d.maskReg ? d.mask : ~0) & (spec.compat32 ? 0xFFFF_FFFF : ~0)
                        if (host[r] ^ emu[r]) & m != 0 {
                            problems.append("\(DiffEnc.names64[r]): host \(hex(host[r])) interp \(hex(emu[r]))\(m != ~0 ? " (compared under mask \(hex(m)))" : "")")
                        }
                    }
                    if spec.sse {
                        for i in 0..<16 where d.xmm & (1 << UInt16(i)) != 0 {
                            let (h, e) = (host.x(i), emu.x(i))
                            let m = i == d.xmmMaskReg ? d.xmmMask : (~UInt64(0), ~UInt64(0))
                            if (h.0 ^ e.0) & m.0 != 0 || (h.1 ^ e.1) & m.1 != 0 {
                                problems.append("xmm\(i): host \(hex128(h)) interp \(hex128(e))")
                            }
                        }
                        if (host.mxcsr ^ emu.mxcsr) & spec.mxcsrMask != 0 {
                            problems.append("mxcsr: host 0x\(String(host.mxcsr, radix: 16)) interp 0x\(String(emu.mxcsr, radix: 16))")
                        }
                    }
                    let diff = (host.rflags ^ emu.rflags) & d.flags
                    if diff != 0 {
                        problems.append("flags \(Fl.names(diff)) differ: host \(Fl.names(host.rflags & d.flags)) interp \(Fl.names(emu.rflags & d.flags)) [compared \(Fl.names(d.flags))]")
                    }
                    let undef = Fl.arith & ~d.flags
                    if undef != 0 {
                        DiffRunner.undefinedStats.record(form, undefined: undef, host: host.rflags, interp: emu.rflags)
                    }
                    if spec.memory && memcmp(machine.guestData, hostMem, size) != 0 {
                        problems.append(memoryDiff(machine.guestData, hostMem, size))
                    }
                }
            }
            if !problems.isEmpty {
                failed += 1
                if examples.count < 3 {
                    examples.append("\(describeInput(c, v, spec))\n      " + problems.joined(separator: "\n      "))
                }
                if failed >= 200 { break }
            }
        }
        if failed > 0 {
            XCTFail("\(form) [\(v.name)] bytes \(DiffEnc.hex(v.code)): \(failed)\(failed >= 200 ? "+" : "") of \(n) cases fail, e.g.\n    "
                    + examples.joined(separator: "\n    "), file: file, line: line)
        }
        return failed
    }

    private func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
    private func hex128(_ v: (UInt64, UInt64)) -> String {
        "0x" + String(format: "%016llx_%016llx", v.1, v.0)
    }

    private func describeInput(_ c: DiffCase, _ v: DiffVariant, _ spec: DiffSpec) -> String {
        let regs = v.show.isEmpty ? (0..<16).filter { $0 != 4 } : v.show
        var rs = regs.map { "\(DiffEnc.names64[$0])=\(hex(c[$0]))" }.joined(separator: " ")
        if spec.memory {
            rs += " mem[\(DiffForms.memOff)..+8]=\(hex(c.load(DiffForms.memOff, 8)))"
        }
        if spec.sse {
            for i in v.showXMM { rs += " xmm\(i)=\(hex128(c.st.x(i)))" }
            rs += " mxcsr=0x\(String(c.st.mxcsr, radix: 16))"
        }
        return "in: \(rs) flags=\(Fl.names(c.flags))"
    }

    private func memoryDiff(_ emu: UnsafeMutableRawPointer, _ host: UnsafeMutableRawPointer, _ size: Int) -> String {
        var first = -1, last = -1
        for i in 0..<size where emu.load(fromByteOffset: i, as: UInt8.self) != host.load(fromByteOffset: i, as: UInt8.self) {
            if first < 0 { first = i }
            last = i
        }
        let lo = max(0, first - 2), hi = min(size, max(last + 3, first + 8))
        let e = (lo..<hi).map { String(format: "%02X", emu.load(fromByteOffset: $0, as: UInt8.self)) }.joined(separator: " ")
        let h = (lo..<hi).map { String(format: "%02X", host.load(fromByteOffset: $0, as: UInt8.self)) }.joined(separator: " ")
        return "data window differs at offsets \(first)...\(last): host [\(lo)...] \(h) / interp \(e)"
    }
}
