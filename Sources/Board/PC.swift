#if canImport(Glibc)
import Glibc
#endif
import CPU
import Devices

/// Why a run of the machine ended.
public enum PCStop: Equatable, Sendable {
    /// The guest wrote V to the isa-debug-exit port; `code` = (V << 1) | 1.
    case guestExit(code: Int32)
    /// HLT with IF=0 (or with no device that could ever wake it).
    case haltedForever
    /// A fault while delivering a double fault.
    case tripleFault(String)
    /// The guest asked for a reset (8042 pulse, port 0x92) and rebooting is off.
    case resetRequested
    case instructionLimit
    case timeLimit
    /// The text given to `stopOnOutput` appeared in the guest's output.
    case outputMatched
    case stopRequested
    /// A debugger breakpoint or watchpoint.
    case breakpoint
}

/// Machine configuration.
public struct PCConfig {
    public var ramSize: Int = 128 << 20
    /// Nominal virtual time per retired instruction (ns).
    public var nsPerInstruction: UInt64 = PC.defaultNsPerInstruction
    /// RTC start time, seconds since 1970-01-01 UTC (deterministic by default).
    public var rtcStartTime: Int64 = 1_767_225_600 // 2026-01-01 00:00:00 UTC
    /// Reboot (reload the kernel) on a guest reset request or triple fault.
    public var rebootOnReset = true
    public var rebootOnTripleFault = false
    public var spuriousMode: PICPair.SpuriousMode = .datasheet
    public init() {}
}

/// The PC board: RAM and its memory map, the port map, the virtual clock,
/// the devices and their wiring, the kernel loader, and the run loop that
/// interleaves the CPU with device events.
///
/// An IRQ's path: a device drives its line (e.g. `pit.out0`) -> `pics.setIRQ`
/// -> the PIC raises INT -> `intOutput` -> `cpu.setINTR(true)` -> at the next
/// instruction boundary with IF=1 the CPU calls `interruptAcknowledge()` here
/// -> `pics.acknowledge()` returns the vector -> the CPU delivers through the
/// IDT -> the guest's handler writes EOI to port 0x20 -> `pics.ioWrite`.
public final class PC {
    public static let defaultNsPerInstruction: UInt64 = 10
    /// Where the loader's flat GDT lives (in the BIOS area, reserved in the memory map).
    static let firmwareGDT = 0xFFF00

    public let config: PCConfig
    public let memory: PhysicalMemory
    public let clock = VirtualClock()
    public let trace = TraceSink()
    public private(set) var cpu: CPU! = nil

    public let pics: PICPair
    public let pit: PIT8254
    public let portB: PortB
    public let kbc: KBC8042
    public let rtc: RTC
    public let uart: UART16550
    public let vga: VGA
    public let debugCon = DebugCon()
    public let debugExit = DebugExit()
    public let post = PostPort()
    public let sysCtlA = SystemControlA()

    /// Receives every byte the guest writes to port 0xE9 or COM1.
    public var onOutput: ((UInt8) -> Void)?
    /// Receives stamped trace events (after devices and the CPU emit them).
    public var onTrace: ((StampedEvent) -> Void)?
    /// Receives CPU events (exceptions, interrupt delivery, IRET, HLT, ...);
    /// setting it turns the CPU's event reporting on.
    public var cpuEventHandler: ((CPUEvent) -> Void)? {
        didSet { cpu.reportEvents = cpuEventHandler != nil }
    }
    /// Called when the machine resets (reboot).
    public var onReset: (() -> Void)?
    /// Stop when the guest output contains this text.
    public var stopOnOutput: [UInt8]? { didSet { outputMatchPos = 0 } }
    /// `run` stops with `.instructionLimit` once this many instructions retired.
    public var instructionLimit: UInt64 = .max
    /// Port ranges to trace under `io` (empty = all).
    public var ioTraceFilter: [ClosedRange<UInt16>] = []

    // Port map: an index into `portDevices` per port (0 = unclaimed).
    private var portOwner = [UInt8](repeating: 0, count: 65536)
    private var portDevices: [PortDevice?] = [nil]
    private var picsIndex: UInt8 = 0

    // Time: now = timeBase + (retired - insnBase) * nsPerInstruction.
    private var timeBase: UInt64 = 0
    private var insnBase: UInt64 = 0
    private let nsPerInsn: UInt64

    private var pendingStop: PCStop?
    private var outputMatchPos = 0
    private var kernel: KernelImage?
    private var kernelCmdline = ""
    public private(set) var resets = 0

    public init(config: PCConfig = PCConfig()) {
        self.config = config
        nsPerInsn = max(1, config.nsPerInstruction)
        memory = PhysicalMemory(ramSize: config.ramSize)
        pics = PICPair(trace: trace)
        pit = PIT8254(clock: clock, trace: trace)
        portB = PortB(clock: clock, pit: pit)
        kbc = KBC8042(clock: clock, trace: trace)
        rtc = RTC(clock: clock, trace: trace, startTime: config.rtcStartTime)
        uart = UART16550(trace: trace)
        vga = VGA(clock: clock, trace: trace)
        cpu = CPU(memory: memory, bus: self)
        wire()
        powerOn()
    }

    // MARK: wiring

    private func claim(_ dev: PortDevice, _ ports: [ClosedRange<UInt16>]) {
        portDevices.append(dev)
        let idx = UInt8(portDevices.count - 1)
        for r in ports { for p in r { portOwner[Int(p)] = idx } }
    }

    private func wire() {
        // The 640 KiB - 1 MiB hole: VGA memory at 0xA0000-0xBFFFF is device
        // memory; 0xC0000-0xFFFFF is ROM (option ROMs and BIOS on a real PC;
        // here empty, reads all ones, writes dropped).
        memory.setKind(.device, from: 0xA0000, to: 0xC0000)
        memory.setKind(.rom, from: 0xC0000, to: 0x100000)

        claim(pics, [0x20...0x21, 0xA0...0xA1, 0x4D0...0x4D1])
        picsIndex = portOwner[0x20]
        claim(pit, [0x40...0x43])
        claim(portB, [0x61...0x61])
        claim(kbc, [0x60...0x60, 0x64...0x64])
        claim(rtc, [0x70...0x71])
        claim(uart, [0x3F8...0x3FF])
        claim(vga, [0x3B4...0x3B5, 0x3BA...0x3BA, 0x3C0...0x3CF, 0x3D4...0x3D5, 0x3DA...0x3DA])
        claim(debugCon, [0xE9...0xE9])
        claim(debugExit, [0xF4...0xF7])
        claim(post, [0x80...0x80])
        claim(sysCtlA, [0x92...0x92])

        pics.intOutput = { [unowned self] level in self.cpu.setINTR(level) }
        pit.out0 = { [unowned self] level in self.irqLine(0, level) }
        kbc.irq1 = { [unowned self] level in self.irqLine(1, level) }
        kbc.irq12 = { [unowned self] level in self.irqLine(12, level) }
        rtc.irq8 = { [unowned self] level in self.irqLine(8, level) }
        uart.irq = { [unowned self] level in self.irqLine(4, level) }
        // OUT0 was already high before the wire existed (the PIT's power-on
        // mode 3 state): let the PIC see the pin as it is.
        pics.setIRQ(0, pit.out(0))
        kbc.onReset = { [unowned self] in self.guestReset("8042 reset pulse") }
        sysCtlA.onReset = { [unowned self] in self.guestReset("port 0x92 fast reset") }
        debugCon.onOutput = { [unowned self] b in self.output(b) }
        uart.onTransmit = { [unowned self] b in self.output(b) }
        debugExit.onExit = { [unowned self] v in
            self.stop(.guestExit(code: Int32(truncatingIfNeeded: (v << 1) | 1)))
        }
        clock.onEarlierDeadline = { [unowned self] t in self.deadlineMovedEarlier(t) }
        trace.handler = { [unowned self] e in self.stamp(e) }
        pics.spuriousMode = config.spuriousMode
        rtc.setMemorySize(bytes: memory.ramSize)
    }

    /// Devices in the state a PC firmware (SeaBIOS under QEMU) leaves them.
    private func powerOn() {
        pics.applyFirmwareState()
        pit.applyFirmwareState()
        kbc.applyFirmwareState()
        rtc.applyFirmwareState()
        vga.applyFirmwareState()
    }

    // MARK: time

    /// Current virtual time in ns.
    public var virtualTime: UInt64 {
        timeBase &+ (cpu.retired &- insnBase) &* nsPerInsn
    }
    public var instructions: UInt64 { cpu.retired }
    public var nextEventTime: UInt64 { clock.nextDeadline }
    /// The CPU is in HLT waiting for an interrupt.
    public var isHalted: Bool { cpu.halted }

    @inline(__always)
    private func syncClock() { clock.now = virtualTime }

    private func deadlineMovedEarlier(_ t: UInt64) {
        // A device scheduled an event inside the current CPU slice: end the
        // slice at the instruction whose time reaches it.
        let now = virtualTime
        let n = t <= now ? 1 : (t - now + nsPerInsn - 1) / nsPerInsn
        let at = cpu.retired &+ n
        if at < cpu.stopAt { cpu.stopAt = at }
    }

    // MARK: loading

    /// Loads a Multiboot kernel and sets up the CPU at its entry, as a
    /// Multiboot loader would. `path` is reported in the command line.
    public func load(kernel bytes: [UInt8], path: String, append: String) throws {
        let img = try MultibootLoader.parse(bytes, ramSize: memory.ramSize)
        kernel = img
        kernelCmdline = path + " " + append // QEMU: "%s %s", a trailing blank without -append
        boot()
    }

    private func boot() {
        guard let img = kernel else { return }
        for s in img.segments {
            let dst = memory.ram + Int(s.address)
            memset(dst, 0, Int(s.memorySize))
            s.bytes.withUnsafeBufferPointer { src in
                if let b = src.baseAddress { dst.update(from: b, count: src.count) }
            }
        }
        // The info block goes right after the image, page aligned (as QEMU does).
        let infoBase = UInt32((img.end + 0xFFF) & ~0xFFF)
        let info = MultibootLoader.infoBlock(base: infoBase, ramSize: memory.ramSize,
                                             cmdline: kernelCmdline, loaderName: "swiftemu")
        if Int(infoBase) + info.count <= memory.ramSize {
            for (i, b) in info.enumerated() { memory.ram[Int(infoBase) + i] = b }
        }
        cpu.enterMultiboot(entry: img.entry, eax: MultibootLoader.bootMagic, ebx: infoBase)
        // Like QEMU's Multiboot loader, leave GDTR on a flat GDT (null, 0x08
        // code, 0x10 data) in firmware memory, so a kernel that never loads
        // its own GDT can still reload segments and take interrupts through
        // gates that name selector 0x08.
        let gdt: [UInt64] = [0, 0x00CF_9A00_0000_FFFF, 0x00CF_9200_0000_FFFF]
        for (i, d) in gdt.enumerated() {
            for b in 0..<8 { memory.ram[PC.firmwareGDT + i * 8 + b] = UInt8(truncatingIfNeeded: d >> (8 * UInt64(b))) }
        }
        cpu.gdtr = TableRegister(base: UInt64(PC.firmwareGDT), limit: UInt16(gdt.count * 8 - 1))
    }

    /// Virtual time a reboot takes (the firmware's work before the kernel
    /// runs again). Without it a guest that resets or triple-faults in a
    /// loop, retiring next to nothing per boot, would never reach a
    /// virtual-time limit.
    public static let rebootNs: UInt64 = 10_000_000

    /// Full machine reset: RAM cleared, devices to firmware state, kernel
    /// reloaded, `rebootNs` of virtual time later.
    public func reset() {
        resets += 1
        haltReported = false
        timeBase = virtualTime &+ PC.rebootNs
        insnBase = cpu.retired
        syncClock()
        memory.clear()
        cpu.reset()
        powerOn()
        boot()
        onReset?()
    }

    private func guestReset(_ why: String) {
        trace.emit(TraceEvent(.cpu, "reset", [("cause", .str(why))]))
        if config.rebootOnReset {
            pendingReset = true
            cpu.requestStop()
        } else {
            stop(.resetRequested)
        }
    }
    private var pendingReset = false

    // MARK: stopping

    /// Ends the current `run` with `reason` at the next instruction boundary.
    public func stop(_ reason: PCStop) {
        if pendingStop == nil { pendingStop = reason }
        cpu.requestStop()
    }

    private func output(_ b: UInt8) {
        onOutput?(b)
        if let pat = stopOnOutput, !pat.isEmpty {
            // Incremental substring match (KMP-free: restart on mismatch).
            if b == pat[outputMatchPos] {
                outputMatchPos += 1
            } else {
                outputMatchPos = (b == pat[0]) ? 1 : 0
            }
            if outputMatchPos == pat.count {
                outputMatchPos = 0
                stop(.outputMatched)
            }
        }
    }

    // MARK: trace

    public struct StampedEvent {
        public var time: UInt64
        public var instructions: UInt64
        public var event: TraceEvent
        public init(time: UInt64, instructions: UInt64, event: TraceEvent) {
            self.time = time; self.instructions = instructions; self.event = event
        }
    }

    private func stamp(_ e: TraceEvent) {
        // The PIC raises INT because a request reached its IRR: show that first.
        if e.category == .pic && e.name == "int" { tracePICRegisters() }
        onTrace?(StampedEvent(time: virtualTime, instructions: cpu.retired, event: e))
    }

    /// A device drove IRQ line `irq` to `level`.
    private func irqLine(_ irq: Int, _ level: Bool) {
        pics.setIRQ(irq, level)
        if trace.wants(.pic) { tracePICRegisters() }
    }

    // The PIC registers as last reported in the trace (master, slave).
    private var shownIRR: (UInt8, UInt8) = (0, 0)
    private var shownISR: (UInt8, UInt8) = (0, 0)

    /// Emits `pic irr` / `pic isr` events for the request and in-service
    /// registers that changed since they were last reported. Called after
    /// everything that can change them: IRQ lines, INTA, PIC port accesses.
    private func tracePICRegisters() {
        let irr = (pics.master.irr, pics.slave.irr), isr = (pics.master.isr, pics.slave.isr)
        func report(_ what: String, _ chip: String, _ old: UInt8, _ new: UInt8) {
            guard old != new else { return }
            trace.emit(TraceEvent(.pic, what, [("chip", .str(chip)), ("old", hex8(old)), ("new", hex8(new))]))
        }
        report("isr", "master", shownISR.0, isr.0)
        report("isr", "slave", shownISR.1, isr.1)
        // A slave request reaches the master's IR2 through the slave's INT.
        report("irr", "slave", shownIRR.1, irr.1)
        report("irr", "master", shownIRR.0, irr.0)
        shownIRR = irr
        shownISR = isr
    }

    /// The CPU is in HLT as far as the trace knows (a `cpu hlt` event was
    /// seen and no interrupt has woken it yet).
    private var haltReported = false

    // MARK: running

    /// Runs until virtual time reaches `deadline` (ns) or the machine stops.
    /// Returns nil when the deadline was reached (a halted CPU skips to it).
    public func run(until deadline: UInt64) -> PCStop? {
        while true {
            syncClock()
            clock.runDue()
            if pendingReset {
                pendingReset = false
                reset()
                continue
            }
            if let s = pendingStop { pendingStop = nil; return s }
            if cpu.retired >= instructionLimit { return .instructionLimit }
            let now = virtualTime
            if now >= deadline { return nil }
            let target = min(deadline, clock.nextDeadline)
            if cpu.halted {
                // Nothing to execute until an interrupt arrives: jump time to
                // the next device event (or the deadline).
                if cpu.rflags & 0x200 == 0 { return .haltedForever }
                if target == .max { return .haltedForever }
                // Takes a pending interrupt if any; its handler then runs in
                // a slice bounded like any other.
                let before = cpu.retired
                let n = target > now ? (target - now + nsPerInsn - 1) / nsPerInsn : 1
                cpu.stopAt = cpu.retired &+ max(1, min(n, instructionLimit - cpu.retired))
                let r = cpu.run()
                if r == .halted && cpu.halted && cpu.retired == before {
                    timeBase = target
                    insnBase = cpu.retired
                    continue
                }
                // Instructions ran (a handler, then HLT again): device events
                // it scheduled may be due before `target`; look again.
                if let s = handleCPUStop(r) { return s }
                continue
            }
            let n = target > now ? (target - now + nsPerInsn - 1) / nsPerInsn : 1
            cpu.stopAt = cpu.retired &+ max(1, min(n, instructionLimit - cpu.retired))
            let r = cpu.run()
            if let s = handleCPUStop(r) { return s }
        }
    }

    private func handleCPUStop(_ r: CPUStop) -> PCStop? {
        switch r {
        case .limit, .halted:
            return nil
        case .stopRequested:
            return nil // pendingStop / pendingReset are handled by the loop
        case .breakpoint:
            return .breakpoint
        case .tripleFault(let v, let e):
            let why = "triple fault: a fault (vector \(v), error code \(e)) while delivering a double fault at RIP \(hex(cpu.rip))"
            trace.emit(TraceEvent(.exc, "triple-fault", [("vector", .int(Int64(v))), ("error", .hex(UInt64(e), digits: 4))]))
            if config.rebootOnTripleFault {
                reset()
                return nil
            }
            return .tripleFault(why)
        }
    }

    /// Runs at most `count` instructions (the debugger's step). Device events
    /// due in between are processed. Returns a stop, or nil.
    public func step(_ count: UInt64 = 1) -> PCStop? {
        let goal = cpu.retired &+ count
        while cpu.retired < goal {
            syncClock()
            clock.runDue()
            if let s = pendingStop { pendingStop = nil; return s }
            if cpu.halted {
                if cpu.rflags & 0x200 == 0 || clock.nextDeadline == .max { return .haltedForever }
                cpu.stopAt = cpu.retired &+ 1 // wake: deliver, run one instruction, re-slice
                let r = cpu.run()
                if r == .halted && cpu.halted {
                    timeBase = clock.nextDeadline
                    insnBase = cpu.retired
                    continue
                }
                if let s = handleCPUStop(r) { return s }
                continue
            }
            let now = virtualTime
            let target = clock.nextDeadline
            let n = target > now ? (target - now + nsPerInsn - 1) / nsPerInsn : 1
            cpu.stopAt = cpu.retired &+ max(1, min(n, goal - cpu.retired))
            let r = cpu.run()
            if let s = handleCPUStop(r) { return s }
        }
        syncClock()
        // A stop raised by the last instruction (guest exit, a debugger
        // event breakpoint) is reported now, not by the next run.
        if let s = pendingStop { pendingStop = nil; return s }
        return nil
    }

    // MARK: debugger-facing device access (time is synced first)

    /// Port I/O on behalf of the debugger or tests, without a CPU.
    public func debugPortRead(_ port: UInt16, size: Int = 1) -> UInt32 { syncClock(); return dispatchRead(port, size) }
    public func debugPortWrite(_ port: UInt16, value: UInt32, size: Int = 1) { syncClock(); dispatchWrite(port, size, value) }

    private func dispatchRead(_ port: UInt16, _ size: Int) -> UInt32 {
        let i = Int(portOwner[Int(port)])
        guard i != 0, let d = portDevices[i] else {
            return size == 1 ? 0xFF : (size == 2 ? 0xFFFF : 0xFFFF_FFFF)
        }
        return d.ioRead(port, size: size)
    }

    private func dispatchWrite(_ port: UInt16, _ size: Int, _ value: UInt32) {
        let i = Int(portOwner[Int(port)])
        guard i != 0, let d = portDevices[i] else { return }
        d.ioWrite(port, size: size, value: value)
    }

    private func traceIO(_ dir: String, _ port: UInt16, _ size: Int, _ value: UInt32) {
        guard trace.wants(.io) else { return }
        if !ioTraceFilter.isEmpty && !ioTraceFilter.contains(where: { $0.contains(port) }) { return }
        var f: [(String, TraceValue)] = [("port", hex16(port)), ("size", .int(Int64(size))),
                                         ("value", .hex(UInt64(value), digits: size * 2))]
        if portOwner[Int(port)] == 0 { f.append(("unclaimed", .bool(true))) }
        trace.emit(TraceEvent(.io, dir, f))
    }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

extension PC: CPUBus {
    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        syncClock()
        let v = dispatchRead(port, size)
        traceIO("in", port, size, v)
        if trace.wants(.pic) && portOwner[Int(port)] == picsIndex { tracePICRegisters() }
        return v
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        syncClock()
        traceIO("out", port, size, value)
        dispatchWrite(port, size, value)
        if trace.wants(.pic) && portOwner[Int(port)] == picsIndex { tracePICRegisters() }
    }

    public func deviceRead(_ addr: UInt64, size: Int) -> UInt64 {
        if addr >= 0xA0000 && addr < 0xC0000 {
            syncClock()
            return vga.memRead(UInt32(addr - 0xA0000), size: size)
        }
        // Unmapped (or ROM hole reads through the bus): all ones.
        return size >= 8 ? ~0 : (UInt64(1) << (UInt64(size) * 8)) - 1
    }

    public func deviceWrite(_ addr: UInt64, size: Int, value: UInt64) {
        if addr >= 0xA0000 && addr < 0xC0000 {
            syncClock()
            vga.memWrite(UInt32(addr - 0xA0000), size: size, value: value)
        }
    }

    public func interruptAcknowledge() -> UInt8 {
        syncClock()
        if haltReported {
            // INTR woke the CPU from HLT; the acknowledge cycles follow.
            haltReported = false
            if trace.wants(.cpu) { trace.emit(TraceEvent(.cpu, "wake", [("rip", .hex(cpu.rip, digits: 1))])) }
        }
        let v = pics.acknowledge()
        if trace.wants(.pic) { tracePICRegisters() }
        return v
    }

    public func virtualTimeNs() -> UInt64 { virtualTime }

    public func cpuEvent(_ event: CPUEvent) {
        switch event {
        case .halt(let ie, _): haltReported = ie
        case .exception, .interrupt: haltReported = false
        default: break
        }
        cpuEventHandler?(event)
    }
}

