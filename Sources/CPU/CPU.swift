// PUBLIC API OF THE CPU (the board, debugger, GDB stub and tests use exactly
// this surface). The bodies here are placeholders to be replaced by the
// interpreter; the signatures are the contract.

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

public final class CPU {
    public let memory: PhysicalMemory
    public unowned(unsafe) let bus: CPUBus

    /// Instructions retired since reset (the clock of the machine).
    public var retired: UInt64 = 0
    /// `run()` returns `.limit` once `retired >= stopAt`. The board may lower
    /// it from inside a bus callback to end the slice early.
    public var stopAt: UInt64 = 0
    /// When true, `bus.cpuEvent` is called for the events in `CPUEvent`.
    public var reportEvents = false
    /// The CPU is in HLT (cleared when an interrupt is taken or on reset).
    public private(set) var halted = false

    public init(memory: PhysicalMemory, bus: CPUBus) {
        self.memory = memory
        self.bus = bus
    }

    /// Runs until `stopAt`, HLT, a stop request, a breakpoint or a triple fault.
    public func run() -> CPUStop { .halted }
    /// Level of the INTR input (the master PIC's INT output).
    public func setINTR(_ level: Bool) {}
    /// Makes `run()` return `.stopRequested` at the next instruction boundary.
    /// Safe to call from a bus callback.
    public func requestStop() {}
    /// Power-on reset state.
    public func reset() {}
    /// Multiboot v1 hand-off: 32-bit protected mode, flat 4 GiB CS (0x08,
    /// code, base 0) and DS/ES/FS/GS/SS (0x10, data), CR0 = PE|ET, paging off,
    /// EFLAGS = 0x2 (IF=0), EAX/EBX as given, EIP = entry.
    public func enterMultiboot(entry: UInt32, eax: UInt32, ebx: UInt32) {}

    // MARK: state, for the debugger, GDB stub, tests

    public var rip: UInt64 = 0
    public func gpr(_ r: GPR) -> UInt64 { 0 }
    public func setGPR(_ r: GPR, _ v: UInt64) {}
    /// RFLAGS with the arithmetic flags materialised.
    public var rflags: UInt64 { get { 2 } set {} }
    public func segment(_ s: SegReg) -> SegmentCache { SegmentCache() }
    public func setSegment(_ s: SegReg, _ c: SegmentCache) {}
    public var cr0: UInt64 { get { 0 } set {} }
    public var cr2: UInt64 = 0
    public var cr3: UInt64 { get { 0 } set {} }
    public var cr4: UInt64 { get { 0 } set {} }
    public var cr8: UInt64 = 0
    public var efer: UInt64 { get { 0 } set {} }
    public var gdtr = TableRegister()
    public var idtr = TableRegister()
    public var ldtr = SegmentCache()
    public var tr = SegmentCache()
    public var fsBase: UInt64 { get { 0 } set {} }
    public var gsBase: UInt64 { get { 0 } set {} }
    public var kernelGSBase: UInt64 = 0
    public var mode: CPUMode { .real }
    /// XMM register i (0-15) as (low, high) quadwords.
    public func xmm(_ i: Int) -> (UInt64, UInt64) { (0, 0) }
    public func setXMM(_ i: Int, _ v: (UInt64, UInt64)) {}
    public var mxcsr: UInt32 = 0x1F80

    /// Walks the page tables for `linear` without side effects (no A/D bits,
    /// no fault). nil when not mapped (or not writable when `write`).
    public func translate(linear: UInt64, write: Bool = false) -> UInt64? { nil }
    /// Debugger reads/writes through the current paging. nil/false on a
    /// page that is not mapped. Writes invalidate cached code.
    public func readLinear(_ addr: UInt64, count: Int) -> [UInt8]? { nil }
    public func writeLinear(_ addr: UInt64, _ bytes: [UInt8]) -> Bool { false }
    /// Physical-address counterparts (RAM/ROM only; device memory via the bus).
    public func readPhysical(_ addr: UInt64, count: Int) -> [UInt8]? { nil }
    public func writePhysical(_ addr: UInt64, _ bytes: [UInt8]) -> Bool { false }
    /// Drops cached decoded instructions of a physical page (a write from
    /// outside the CPU: loader, debugger, DMA).
    public func invalidateCode(page: UInt64) {}

    // MARK: debugger support (costs nothing while all are empty)

    /// Linear addresses of instructions that stop `run()` with `.breakpoint`
    /// before they execute (the first instruction after `run()` starts is
    /// never stopped, so continuing from a breakpoint works).
    public var breakpoints: Set<UInt64> = [] { didSet {} }
    /// Linear ranges watched for writes (and reads when `read`). A matching
    /// access stops `run()` with `.breakpoint` after the instruction completes;
    /// `lastWatchHit` says which address.
    public var watchpoints: [(start: UInt64, length: UInt64, read: Bool)] = [] { didSet {} }
    public private(set) var lastWatchHit: UInt64? = nil
}
