// PUBLIC API OF THE CPU (the board, debugger, GDB stub and tests use exactly
// this surface). The interpreter itself lives in Exec.swift (hot loop,
// instruction semantics, memory fast path), Decode.swift (decoder and the
// decoded-block cache), System.swift (paging, segments, interrupts,
// exceptions, control registers, MSRs), SSE.swift (SSE/SSE2, x87 stubs,
// FXSAVE) and Disasm.swift (disassembler for the debugger).
//
// State layout: everything the hot loop touches is either a stored property
// of this final class (scalars) or behind an unsafe pointer (register file,
// XMM file, segment caches, TLBs, decoded-block directory and record pool). No Swift
// arrays, dictionaries, closures or existentials are used per instruction.
//
// Instruction counting: `retired` counts retired instructions. A REP-prefixed
// string instruction counts one per iteration (like QEMU icount), a REP with
// a zero count counts as one. A faulting instruction does not retire, but
// the delivery of the exception counts one slot (so that a fault storm still
// advances machine time and ends a slice); an external interrupt delivery
// counts nothing.

public enum SegReg: Int, CaseIterable, Sendable { case es = 0, cs, ss, ds, fs, gs }

/// A segment register with its descriptor cache.
public struct SegmentCache: Equatable, Sendable {
    public var selector: UInt16
    public var base: UInt64
    public var limit: UInt32
    /// Descriptor attribute bits 8-15 and 20-23 of the high dword, as
    /// (type | S<<4 | DPL<<5 | P<<7 | AVL<<12 | L<<13 | DB<<14 | G<<15).
    public var attributes: UInt16
    public init(selector: UInt16 = 0, base: UInt64 = 0, limit: UInt32 = 0xFFFF, attributes: UInt16 = 0x93) {
        self.selector = selector; self.base = base; self.limit = limit; self.attributes = attributes
    }
}

public struct TableRegister: Equatable, Sendable {
    public var base: UInt64
    public var limit: UInt16
    public init(base: UInt64 = 0, limit: UInt16 = 0xFFFF) { self.base = base; self.limit = limit }
}

public enum CPUMode: String, Sendable { case real, protected16, protected32, compat16, compat32, long64 }

public enum GPR: Int, CaseIterable, Sendable {
    case rax = 0, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15
}

/// The error thrown inside the interpreter when an instruction faults. The
/// vector and error code are kept in the CPU (`faultVector`, `faultCode`).
struct CPUFault: Error {}

/// One software-TLB entry (linear page -> host pointer / physical page).
struct TLBEntry {
    /// Linear page base when reads may use `addend`, else 1 (never matches).
    var rtag: UInt64 = 1
    /// Linear page base when writes may use `addend`, else 1.
    var wtag: UInt64 = 1
    /// Host address minus linear address for RAM pages.
    var addend: Int = 0
    /// Linear page base whose translation (`phys`) is valid for reads.
    var vtag: UInt64 = 1
    /// Linear page base whose translation is valid for writes (dirty set).
    var vwtag: UInt64 = 1
    /// Linear page base whose translation is valid for instruction fetch.
    var xtag: UInt64 = 1
    /// Physical page base.
    var phys: UInt64 = 0
}

public final class CPU {
    public let memory: PhysicalMemory
    public unowned(unsafe) let bus: CPUBus

    /// Instructions retired since power-on (the clock of the machine).
    /// `reset()` does not clear it, so machine time stays monotonic across a
    /// guest reset.
    public var retired: UInt64 = 0
    /// `run()` returns `.limit` once `retired >= stopAt`. The board may lower
    /// it from inside a bus callback to end the slice early.
    public var stopAt: UInt64 = 0 { didSet { updateLimit() } }
    /// When true, `bus.cpuEvent` is called for the events in `CPUEvent`.
    public var reportEvents = false
    /// The CPU is in HLT (cleared when an interrupt is taken or on reset).
    public internal(set) var halted = false

    // MARK: internal state (hot)

    /// 16 general registers (8 bytes each) followed by a zero slot.
    let regs: UnsafeMutableRawPointer
    /// 16 XMM registers, 16 bytes each.
    let xmmr: UnsafeMutableRawPointer
    /// Segment descriptor caches ES CS SS DS FS GS.
    let segs: UnsafeMutablePointer<SegmentCache>
    /// Effective segment bases used for address generation (0 for ES/CS/SS/DS
    /// in 64-bit mode); index 6 and 7 are always 0.
    let sbase: UnsafeMutablePointer<UInt64>
    /// Lazy flags: the result sign-extended to 64 bits, and auxiliary bits
    /// (bit 31 CF, bit 30 CF^OF, bit 3 AF, bit 8 SF delta, bit 9 PF delta).
    var lfRes: UInt64 = 0
    var lfAux: UInt64 = 0
    /// RFLAGS without the six arithmetic flags (bit 1 always set).
    var fl: UInt64 = 2
    /// The hot loop goes to the slow boundary when `retired >= limit`.
    var limit: UInt64 = 0
    /// RIP of the instruction being executed (faults restart here).
    var curRip: UInt64 = 0
    /// 0 = 16-bit code, 1 = 32-bit code, 2 = 64-bit code.
    var codeMode: UInt64 = 0
    var linMask: UInt64 = 0xFFFF_FFFF
    var ripMask: UInt64 = 0xFFFF
    var ssMask: UInt64 = 0xFFFF
    var cpl: UInt8 = 0
    var cr0v: UInt64 = 0x6000_0010
    var cr3v: UInt64 = 0
    var cr4v: UInt64 = 0
    var eferv: UInt64 = 0
    /// 0 none, 1 32-bit, 2 PAE, 3 4-level.
    var pagingMode = 0
    var tlb: UnsafeMutablePointer<TLBEntry>
    let tlbSup: UnsafeMutablePointer<TLBEntry>
    let tlbUser: UnsafeMutablePointer<TLBEntry>
    /// Decoded blocks: a directory by the physical address of a block's
    /// first instruction, and the pool holding the blocks' records.
    let blockDir: UnsafeMutablePointer<BlockEntry>
    let pool: UnsafeMutablePointer<DInsn>
    var poolUsed = 0
    /// Per RAM page: bumped whenever cached code of the page is invalidated
    /// (blocks record the value they were decoded under).
    let pageGen: UnsafeMutablePointer<UInt32>
    /// Record for instructions that may not be cached.
    let scratch: UnsafeMutablePointer<DInsn>
    /// Decoding ahead while building a block: never fetch from the next page.
    var dNoCross = false
    /// Instruction-fetch window: linear page base (1 = invalid) -> physical page base.
    var fetchLin: UInt64 = 1
    var fetchPhys: UInt64 = 0
    var fetchCacheable = false
    /// Low tag bits expected for cached records on the fetch page: the code
    /// size, or 3 (never stored) when the page may not be cached.
    var fetchKey: UInt64 = 3
    /// Per RAM page, a bit per 64-byte line holding cached decoded code.
    let codeLines: UnsafeMutablePointer<UInt64>
    let ramPages: Int
    let ramLimit: UInt64
    let ramBase: UnsafeMutablePointer<UInt8>
    let pageKinds: UnsafeMutablePointer<UInt8>
    let codePages: UnsafeMutablePointer<UInt8>
    /// Decoder byte buffer and its state.
    let dbuf: UnsafeMutablePointer<UInt8>
    var dAvail = 0
    var dLin: UInt64 = 0
    var dCrossed = false

    /// A large page was cached since the last full flush (INVLPG then flushes all).
    var largeCached = false
    var intrLine = false
    var stopRequested = false
    var watchHit = false
    var bpActive = false
    var watchActive = false
    var skipBreakpointOnce = false
    /// TF was set when the current instruction started: #DB after it.
    var stepArmed = false
    /// `retired` value at which interrupts are inhibited (STI / MOV SS shadow).
    var shadowAt: UInt64 = .max
    var tripleFaulted = false
    var tripleInfo: (UInt8, UInt32) = (0, 0)
    var lastModeName = ""

    // Fault in flight.
    var faultVector: UInt8 = 0
    var faultCode: UInt32 = 0
    var faultHasCode = false
    /// Set while an exception/interrupt is delivered from hardware (EXT bit).
    var deliveringExt = false

    // Debug registers, MSRs, x87/SSE control.
    var drs: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0xFFFF_0FF0, 0x400)
    var msrSTAR: UInt64 = 0
    var msrLSTAR: UInt64 = 0
    var msrCSTAR: UInt64 = 0
    var msrSFMASK: UInt64 = 0
    var msrPAT: UInt64 = 0x0007_0406_0007_0406
    var msrTSCAux: UInt64 = 0
    var msrSysenterCS: UInt64 = 0
    var msrSysenterESP: UInt64 = 0
    var msrSysenterEIP: UInt64 = 0
    var msrMiscEnable: UInt64 = 1
    var tscOffset: UInt64 = 0
    var fpuCW: UInt16 = 0x037F
    var fpuSW: UInt16 = 0
    var fpuTW: UInt8 = 0
    /// x87 register images (8 x 16 bytes) kept only for FXSAVE/FXRSTOR.
    let x87regs: UnsafeMutableRawPointer

    public init(memory: PhysicalMemory, bus: CPUBus) {
        self.memory = memory
        self.bus = bus
        regs = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 64)
        regs.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
        xmmr = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 64)
        xmmr.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
        x87regs = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 16)
        x87regs.initializeMemory(as: UInt8.self, repeating: 0, count: 128)
        segs = UnsafeMutablePointer<SegmentCache>.allocate(capacity: 6)
        segs.initialize(repeating: SegmentCache(), count: 6)
        sbase = UnsafeMutablePointer<UInt64>.allocate(capacity: 8)
        sbase.initialize(repeating: 0, count: 8)
        tlbSup = UnsafeMutablePointer<TLBEntry>.allocate(capacity: tlbSize)
        tlbSup.initialize(repeating: TLBEntry(), count: tlbSize)
        tlbUser = UnsafeMutablePointer<TLBEntry>.allocate(capacity: tlbSize)
        tlbUser.initialize(repeating: TLBEntry(), count: tlbSize)
        tlb = tlbSup
        blockDir = UnsafeMutablePointer<BlockEntry>.allocate(capacity: blockDirSize)
        blockDir.initialize(repeating: BlockEntry(), count: blockDirSize)
        // The pool is left uninitialised (a record is written before a
        // directory entry points at it), so its pages cost the host nothing
        // until decoded code fills them.
        pool = UnsafeMutablePointer<DInsn>.allocate(capacity: poolSize)
        scratch = UnsafeMutablePointer<DInsn>.allocate(capacity: 1)
        scratch.initialize(to: DInsn())
        ramPages = memory.ramSize >> 12
        ramLimit = UInt64(memory.ramSize)
        codeLines = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, ramPages))
        codeLines.initialize(repeating: 0, count: max(1, ramPages))
        pageGen = UnsafeMutablePointer<UInt32>.allocate(capacity: max(1, ramPages))
        pageGen.initialize(repeating: 0, count: max(1, ramPages))
        ramBase = memory.ram
        pageKinds = memory.pageKind
        codePages = memory.codePage
        dbuf = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
        dbuf.initialize(repeating: 0, count: 32)
        reset()
    }

    deinit {
        regs.deallocate()
        xmmr.deallocate()
        x87regs.deallocate()
        segs.deallocate()
        sbase.deallocate()
        tlbSup.deallocate()
        tlbUser.deallocate()
        blockDir.deallocate()
        pool.deallocate()
        pageGen.deallocate()
        scratch.deallocate()
        codeLines.deallocate()
        dbuf.deallocate()
    }

    /// Level of the INTR input (the master PIC's INT output).
    public func setINTR(_ level: Bool) {
        intrLine = level
        updateLimit()
    }

    /// Makes `run()` return `.stopRequested` at the next instruction boundary.
    /// Safe to call from a bus callback.
    public func requestStop() {
        stopRequested = true
        limit = 0
    }

    /// Power-on reset state.
    public func reset() {
        regs.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
        xmmr.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
        x87regs.initializeMemory(as: UInt8.self, repeating: 0, count: 128)
        regs.storeBytes(of: 0x600, toByteOffset: 16, as: UInt64.self)   // EDX = family/model signature
        for i in 0..<6 { segs[i] = SegmentCache(selector: 0, base: 0, limit: 0xFFFF, attributes: 0x93) }
        segs[1] = SegmentCache(selector: 0xF000, base: 0xFFFF_0000, limit: 0xFFFF, attributes: 0x9B)
        rip = 0xFFF0
        lfRes = 0x100; lfAux = 1 << 9   // all arithmetic flags clear
        fl = 2
        cr0v = 0x6000_0010; cr2 = 0; cr3v = 0; cr4v = 0; cr8 = 0; eferv = 0
        gdtr = TableRegister(base: 0, limit: 0xFFFF)
        idtr = TableRegister(base: 0, limit: 0xFFFF)
        ldtr = SegmentCache(selector: 0, base: 0, limit: 0xFFFF, attributes: 0x82)
        tr = SegmentCache(selector: 0, base: 0, limit: 0xFFFF, attributes: 0x8B)
        kernelGSBase = 0
        mxcsr = 0x1F80
        fpuCW = 0x037F; fpuSW = 0; fpuTW = 0
        drs = (0, 0, 0, 0, 0xFFFF_0FF0, 0x400)
        msrSTAR = 0; msrLSTAR = 0; msrCSTAR = 0; msrSFMASK = 0; msrTSCAux = 0
        msrPAT = 0x0007_0406_0007_0406
        tscOffset = 0
        halted = false
        tripleFaulted = false
        stopRequested = false
        stepArmed = false
        watchHit = false
        shadowAt = .max
        cpl = 0
        tlb = tlbSup
        pagingMode = 0
        flushTLB()
        flushDecodeCache()
        updateMode()
        updateLimit()
    }

    /// Multiboot v1 hand-off: 32-bit protected mode, flat 4 GiB CS (0x08,
    /// code, base 0) and DS/ES/FS/GS/SS (0x10, data), CR0 = PE|ET, paging off,
    /// EFLAGS = 0x2 (IF=0), EAX/EBX as given, EIP = entry.
    public func enterMultiboot(entry: UInt32, eax: UInt32, ebx: UInt32) {
        halted = false
        tripleFaulted = false
        cr0v = 0x11
        cr4v = 0
        eferv = 0
        cpl = 0
        tlb = tlbSup
        stepArmed = false
        for i in 0..<6 {
            segs[i] = SegmentCache(selector: 0x10, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC093)
        }
        segs[1] = SegmentCache(selector: 0x08, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC09B)
        fl = 2
        lfRes = 0x100; lfAux = 1 << 9
        regs.storeBytes(of: UInt64(eax), toByteOffset: 0, as: UInt64.self)
        regs.storeBytes(of: UInt64(ebx), toByteOffset: 24, as: UInt64.self)
        rip = UInt64(entry)
        shadowAt = .max
        // the loader may have written the image straight into RAM
        flushDecodeCache()
        updatePaging()
        updateMode()
        updateLimit()
    }

    // MARK: state, for the debugger, GDB stub, tests

    public var rip: UInt64 = 0
    public func gpr(_ r: GPR) -> UInt64 { regs.load(fromByteOffset: r.rawValue * 8, as: UInt64.self) }
    public func setGPR(_ r: GPR, _ v: UInt64) { regs.storeBytes(of: v, toByteOffset: r.rawValue * 8, as: UInt64.self) }
    /// RFLAGS with the arithmetic flags materialised.
    public var rflags: UInt64 {
        get { materializedFlags() }
        set {
            let oldIF = fl & fIF
            loadFlags(newValue)
            if fl & fIF != oldIF { updateLimit() }
        }
    }
    public func segment(_ s: SegReg) -> SegmentCache { segs[s.rawValue] }
    public func setSegment(_ s: SegReg, _ c: SegmentCache) {
        segs[s.rawValue] = c
        if s == .cs { cpl = UInt8(c.selector & 3); tlb = cpl == 3 ? tlbUser : tlbSup }
        updateMode()
    }
    public var cr0: UInt64 {
        get { cr0v }
        set { cr0v = newValue | 0x10; updateLMA(); updatePaging(); updateMode() }
    }
    public var cr2: UInt64 = 0
    public var cr3: UInt64 {
        get { cr3v }
        set { cr3v = newValue; flushTLB() }
    }
    public var cr4: UInt64 {
        get { cr4v }
        set { cr4v = newValue; updatePaging(); updateMode() }
    }
    public var cr8: UInt64 = 0
    public var efer: UInt64 {
        get { eferv }
        set { eferv = newValue & 0xD01; updateLMA(); updatePaging(); updateMode() }
    }
    public var gdtr = TableRegister()
    public var idtr = TableRegister()
    public var ldtr = SegmentCache()
    public var tr = SegmentCache()
    public var fsBase: UInt64 {
        get { segs[4].base }
        set { segs[4].base = newValue; updateSegBases() }
    }
    public var gsBase: UInt64 {
        get { segs[5].base }
        set { segs[5].base = newValue; updateSegBases() }
    }
    public var kernelGSBase: UInt64 = 0
    public var mode: CPUMode {
        if cr0v & 1 == 0 { return .real }
        let a = segs[1].attributes
        if eferv & 0x400 != 0 {
            if a & 0x2000 != 0 { return .long64 }
            return a & 0x4000 != 0 ? .compat32 : .compat16
        }
        return a & 0x4000 != 0 ? .protected32 : .protected16
    }
    /// XMM register i (0-15) as (low, high) quadwords.
    public func xmm(_ i: Int) -> (UInt64, UInt64) {
        let o = (i & 15) * 16
        return (xmmr.load(fromByteOffset: o, as: UInt64.self), xmmr.load(fromByteOffset: o + 8, as: UInt64.self))
    }
    public func setXMM(_ i: Int, _ v: (UInt64, UInt64)) {
        let o = (i & 15) * 16
        xmmr.storeBytes(of: v.0, toByteOffset: o, as: UInt64.self)
        xmmr.storeBytes(of: v.1, toByteOffset: o + 8, as: UInt64.self)
    }
    public var mxcsr: UInt32 = 0x1F80

    /// Walks the page tables for `linear` without side effects (no A/D bits,
    /// no fault). nil when not mapped (or not writable when `write`).
    public func translate(linear: UInt64, write: Bool = false) -> UInt64? {
        peekTranslate(linear, write: write)
    }
    /// Debugger reads/writes through the current paging. nil/false on a
    /// page that is not mapped. Writes invalidate cached code.
    public func readLinear(_ addr: UInt64, count: Int) -> [UInt8]? {
        if count < 0 { return nil }
        var out = [UInt8]()
        out.reserveCapacity(count)
        var i = 0
        while i < count {
            let a = addr &+ UInt64(i)
            guard let pa = peekTranslate(a, write: false) else { return nil }
            let n = min(count - i, 4096 - Int(a & 0xFFF))
            for k in 0..<n { out.append(UInt8(truncatingIfNeeded: physRead(pa &+ UInt64(k), 1))) }
            i += n
        }
        return out
    }
    public func writeLinear(_ addr: UInt64, _ bytes: [UInt8]) -> Bool {
        var i = 0
        while i < bytes.count {
            let a = addr &+ UInt64(i)
            guard let pa = peekTranslate(a, write: false) else { return false }
            let n = min(bytes.count - i, 4096 - Int(a & 0xFFF))
            for k in 0..<n { physWriteAny(pa &+ UInt64(k), UInt64(bytes[i + k]), 1) }
            i += n
        }
        return true
    }
    /// Physical-address counterparts (RAM/ROM only; device memory via the bus).
    public func readPhysical(_ addr: UInt64, count: Int) -> [UInt8]? {
        if count < 0 { return nil }
        if !memory.isRAMorROM(addr, count: count) { return nil }
        return Array(UnsafeBufferPointer(start: ramBase + Int(addr), count: count))
    }
    public func writePhysical(_ addr: UInt64, _ bytes: [UInt8]) -> Bool {
        if !memory.isRAMorROM(addr, count: bytes.count) { return false }
        for (i, b) in bytes.enumerated() { ramBase[Int(addr) + i] = b }
        var p = addr >> 12
        let e = (addr &+ UInt64(max(bytes.count, 1)) &- 1) >> 12
        while p <= e { invalidateCode(page: p << 12); p += 1 }
        return true
    }
    /// Drops cached decoded instructions of a physical page (a write from
    /// outside the CPU: loader, debugger, DMA).
    public func invalidateCode(page: UInt64) {
        let p = page >> 12
        if p >= UInt64(PhysicalMemory.pageCount) { return }
        if codePages[Int(p)] == 0 { return }
        invalidateCodeRange(p << 12, 4096)
    }

    // MARK: debugger support (costs nothing while all are empty)

    /// Linear addresses of instructions that stop `run()` with `.breakpoint`
    /// before they execute (the first instruction after `run()` starts is
    /// never stopped, so continuing from a breakpoint works).
    public var breakpoints: Set<UInt64> = [] { didSet { bpActive = !breakpoints.isEmpty; updateLimit() } }
    /// Linear ranges watched for writes (and reads when `read`). A matching
    /// access stops `run()` with `.breakpoint` after the instruction completes;
    /// `lastWatchHit` says which address.
    public var watchpoints: [(start: UInt64, length: UInt64, read: Bool)] = [] {
        didSet {
            watchActive = !watchpoints.isEmpty
            flushTLB()
        }
    }
    public internal(set) var lastWatchHit: UInt64? = nil
}

extension PhysicalMemory {
    /// True when [addr, addr+count) lies wholly in RAM or ROM pages.
    func isRAMorROM(_ addr: UInt64, count: Int) -> Bool {
        if count <= 0 { return addr <= UInt64(ramSize) }
        let end = addr &+ UInt64(count)
        if end < addr || end > UInt64(ramSize) { return false }
        var p = addr >> 12
        while p <= (end - 1) >> 12 {
            if pageKind[Int(p)] == PageKind.device.rawValue { return false }
            p += 1
        }
        return true
    }
}
