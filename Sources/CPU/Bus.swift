// The CPU's three doors to the outside: physical memory (RAM through host
// pointers, everything else through the bus), an I/O port space, and one
// interrupt line with an acknowledge cycle. The CPU knows no device.

/// What the CPU calls for everything that is not plain RAM.
/// Implemented by the board. None of these is called per instruction on the
/// fast path: only for port I/O, device memory, interrupt acknowledge and the
/// rare events the board may want to record.
public protocol CPUBus: AnyObject {
    /// IN from `port`, `size` 1, 2 or 4 bytes.
    func portRead(_ port: UInt16, size: Int) -> UInt32
    /// OUT to `port`.
    func portWrite(_ port: UInt16, size: Int, value: UInt32)
    /// A read of physical memory that is not RAM (device memory, unmapped).
    /// `size` 1, 2, 4 or 8, never crossing a 4 KiB page.
    func deviceRead(_ addr: UInt64, size: Int) -> UInt64
    /// A write of physical memory that is not RAM or ROM.
    func deviceWrite(_ addr: UInt64, size: Int, value: UInt64)
    /// The interrupt acknowledge cycle: the CPU took the INTR line and wants
    /// the vector (the PIC answers, possibly with a spurious vector).
    func interruptAcknowledge() -> UInt8
    /// Virtual time in nanoseconds at the current instruction (for RDTSC).
    func virtualTimeNs() -> UInt64
    /// Something architecturally interesting happened (exception, interrupt
    /// delivery, IRET, HLT, mode switch, descriptor-table load, ...).
    /// Only called when `CPU.reportEvents` is true.
    func cpuEvent(_ event: CPUEvent)
}

/// Why `CPU.run()` returned.
public enum CPUStop: Equatable, Sendable {
    /// `retired` reached `stopAt`.
    case limit
    /// HLT executed; the CPU waits for INTR (if IF=1) or forever (IF=0).
    case halted
    /// `requestStop()` was called (debugger, signal, board event).
    case stopRequested
    /// A fault while delivering a double fault. The CPU is stopped; the
    /// board decides between reset and a clean stop.
    case tripleFault(vector: UInt8, errorCode: UInt32)
    /// A debugger breakpoint or watchpoint matched before executing at `rip`.
    case breakpoint
}

/// Events reported through `CPUBus.cpuEvent` for the trace and diagnoses.
public enum CPUEvent: Sendable {
    /// An exception is being delivered (faults and traps).
    case exception(vector: UInt8, errorCode: UInt32?, rip: UInt64, cr2: UInt64)
    /// An external interrupt (from INTA) or INT n / INT3 / INTO is being delivered.
    /// `gatePresent` false means the IDT has no present gate for it (a #NP/#GP follows).
    case interrupt(vector: UInt8, external: Bool, rip: UInt64, gatePresent: Bool)
    /// A double fault is being delivered after `first` and `second`.
    case doubleFault(first: UInt8, second: UInt8)
    /// IRET/IRETD/IRETQ returned to `rip`.
    case iret(rip: UInt64)
    /// HLT entered with the given IF.
    case halt(interruptsEnabled: Bool, rip: UInt64)
    /// The CPU mode changed (e.g. "protected32", "long64", "compat32", "paging on").
    case modeChange(String)
    /// LGDT, LIDT, LTR, LLDT.
    case descriptorTable(kind: String, base: UInt64, limit: UInt32)
    /// STI or POPF/IRET set IF where it was clear; CLI cleared it.
    case interruptFlag(enabled: Bool, rip: UInt64)
    /// An instruction the interpreter does not implement: #UD raised.
    case unimplemented(bytes: [UInt8], rip: UInt64)
}
