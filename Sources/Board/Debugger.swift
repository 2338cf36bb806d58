import CPU
import Devices
import Foundation

/// The debugger core shared by the prompt and the GDB stub: breakpoints of
/// every kind, execution control (step, next, finish, until, run-for,
/// continue), expression evaluation, and the views of CPU and PC state
/// (DebuggerViews.swift). It runs the machine only when asked to; while
/// stopped, virtual time does not move.
public final class Debugger {
    public let pc: PC
    public var symbols: SymbolTable
    public var cpu: CPU { pc.cpu }

    public init(pc: PC, symbols: SymbolTable = SymbolTable()) {
        self.pc = pc
        self.symbols = symbols
    }

    // MARK: breakpoints

    public enum Kind: Equatable, Sendable {
        case address(UInt64)
        case vector(UInt8)
        case irq(Int)
        case exception(UInt8)
        case io(ClosedRange<UInt16>)
        case watch(UInt64, length: UInt64, WatchKind)
    }

    public struct Breakpoint: Equatable, Sendable {
        public var id: Int
        public var kind: Kind
        public var enabled = true
        public var condition: DebugCondition?
        public var temporary = false
        public var hits = 0
        /// What the user typed (symbol name, address).
        public var label: String
    }

    public private(set) var breakpoints: [Breakpoint] = []
    private var nextID = 1

    /// Breakpoints and watchpoints owned by a GDB client (Z0-Z4).
    public var gdbSoftware: Set<UInt64> = [] { didSet { updateHooks() } }
    public var gdbHardware: Set<UInt64> = [] { didSet { updateHooks() } }
    public struct GDBWatch: Equatable, Sendable {
        public var address: UInt64
        public var length: UInt64
        public var kind: WatchKind
        public init(address: UInt64, length: UInt64, kind: WatchKind) { self.address = address; self.length = length; self.kind = kind }
    }
    public var gdbWatches: [GDBWatch] = [] { didSet { updateHooks() } }

    /// Temporary stops of next/finish/until: linear address -> extra check.
    private var tempBreaks: [UInt64: (() -> Bool)?] = [:]

    @discardableResult
    public func addBreakpoint(_ kind: Kind, label: String, condition: DebugCondition? = nil, temporary: Bool = false) -> Breakpoint {
        let b = Breakpoint(id: nextID, kind: kind, condition: condition, temporary: temporary, label: label)
        nextID += 1
        breakpoints.append(b)
        updateHooks()
        return b
    }

    public func deleteBreakpoint(_ id: Int?) -> Bool {
        if let id = id {
            guard let i = breakpoints.firstIndex(where: { $0.id == id }) else { return false }
            breakpoints.remove(at: i)
        } else {
            breakpoints.removeAll()
        }
        updateHooks()
        return true
    }

    public func setEnabled(_ id: Int, _ on: Bool) -> Bool {
        guard let i = breakpoints.firstIndex(where: { $0.id == id }) else { return false }
        breakpoints[i].enabled = on
        updateHooks()
        return true
    }

    // MARK: hooks into the board

    private var attached = false
    private var baseTrace: TraceCategory = []
    /// Trace categories printed by `trace ... on` (through `onTraceText`).
    public private(set) var traceEcho: TraceCategory = []
    /// Categories the session prints already (not printed twice).
    public var sessionTrace: TraceCategory = []
    /// Receives trace lines turned on with the `trace` command.
    public var onTraceText: ((String) -> Void)?

    /// Hooks the board's trace and CPU-event callbacks (chaining whatever
    /// was installed before). Call once, after the session set its own.
    public func attach() {
        guard !attached else { return }
        attached = true
        baseTrace = pc.trace.enabled
        let prevTrace = pc.onTrace
        pc.onTrace = { [unowned self] e in
            prevTrace?(e)
            self.observe(e)
        }
        let prevCPU = pc.cpuEventHandler
        pc.cpuEventHandler = { [unowned self] e in
            prevCPU?(e)
            self.cpuEvent(e)
        }
        updateHooks()
    }

    public func setTraceEcho(_ cats: TraceCategory, _ on: Bool) {
        if on { traceEcho.formUnion(cats) } else { traceEcho.subtract(cats) }
        updateHooks()
    }

    /// Pushes breakpoint and watchpoint sets to the CPU and the trace
    /// categories the event breakpoints need to the board.
    func updateHooks() {
        var set = Set<UInt64>()
        var watches: [(start: UInt64, length: UInt64, read: Bool)] = []
        var needIO = false
        for b in breakpoints where b.enabled {
            switch b.kind {
            case .address(let a): set.insert(a)
            case .watch(let a, let len, let k): watches.append((a, len, k != .write))
            case .io: needIO = true
            default: break
            }
        }
        set.formUnion(gdbSoftware)
        set.formUnion(gdbHardware)
        set.formUnion(tempBreaks.keys)
        for w in gdbWatches { watches.append((w.address, w.length, w.kind != .write)) }
        if cpu.breakpoints != set { cpu.breakpoints = set }
        let same = cpu.watchpoints.count == watches.count && zip(cpu.watchpoints, watches).allSatisfy {
            $0.start == $1.start && $0.length == $1.length && $0.read == $1.read
        }
        if !same { cpu.watchpoints = watches }
        if attached {
            var cats = baseTrace.union(traceEcho)
            if needIO { cats.insert(.io) }
            pc.trace.enabled = cats
        }
    }

    // MARK: events (called from inside the running machine)

    private struct PendingHit { var id: Int; var text: String }
    private var pendingHits: [PendingHit] = []
    /// Lines pulsed with `irq N`: lowered when the CPU takes them.
    private var pulsedIRQs = Set<Int>()

    struct DeliveredInterrupt {
        var vector: UInt8
        var returnRIP: UInt64
        var returnLinear: UInt64
        var rsp: UInt64
        var retired: UInt64
    }
    private var recordInterrupts = false
    /// The last interrupt or exception delivered (vector, external).
    var lastDelivery: (vector: UInt8, external: Bool)?
    private var delivered: [DeliveredInterrupt] = []
    /// What happened during the last step (for the step report).
    private var stepNotes: [String] = []

    /// The IRQ line whose vector this is under the current PIC programming.
    public func irqLine(forVector v: UInt8) -> Int? {
        let mb = pc.pics.master.vectorBase & 0xF8, sb = pc.pics.slave.vectorBase & 0xF8
        if v >= mb && v < mb &+ 8 { return Int(v - mb) }
        if v >= sb && v < sb &+ 8 { return 8 + Int(v - sb) }
        return nil
    }

    private func hit(_ b: Breakpoint, _ text: String) {
        if let c = b.condition {
            guard case .success(true) = evaluate(c) else { return }
        }
        if pendingHits.isEmpty {
            pendingHits.append(PendingHit(id: b.id, text: text))
        }
        pc.stop(.breakpoint)
    }

    private func observe(_ e: PC.StampedEvent) {
        let ev = e.event
        if !traceEcho.isDisjoint(with: ev.category) && sessionTrace.isDisjoint(with: ev.category) {
            onTraceText?(TraceFormat.text.render(e))
        }
        if ev.category == .io {
            guard let port = ev.fields.first(where: { $0.0 == "port" }).flatMap({ f -> UInt16? in
                if case .hex(let v, _) = f.1 { return UInt16(truncatingIfNeeded: v) }
                return nil
            }) else { return }
            for b in breakpoints where b.enabled {
                if case .io(let r) = b.kind, r.contains(port) {
                    var value = ""
                    if let f = ev.fields.first(where: { $0.0 == "value" }), case .hex(let v, let d) = f.1 {
                        value = " value " + TraceFormat.textValue(.hex(v, digits: d))
                    }
                    hit(b, "\(ev.name == "in" ? "IN from" : "OUT to") port 0x\(String(port, radix: 16))\(value)")
                }
            }
        }
    }

    private func cpuEvent(_ e: CPUEvent) {
        switch e {
        case .interrupt(let v, let external, let rip, _):
            lastDelivery = (v, external)
            let line = external ? irqLine(forVector: v) : nil
            if external, let l = line, pulsedIRQs.contains(l) {
                pulsedIRQs.remove(l)
                pc.pics.setIRQ(l, false)
            }
            if recordInterrupts {
                let lin = (cpu.segment(.cs).base &+ rip) & linearMask
                delivered.append(DeliveredInterrupt(vector: v, returnRIP: rip, returnLinear: lin,
                                                    rsp: stackPointer, retired: cpu.retired))
            }
            for b in breakpoints where b.enabled {
                switch b.kind {
                case .vector(let n) where n == v:
                    hit(b, "interrupt vector 0x\(String(v, radix: 16)) delivered" + (external ? " (external" + (line.map { ", IRQ\($0))" } ?? ")") : " (INT n)"))
                case .irq(let n) where external && line == n:
                    hit(b, "IRQ\(n) delivered on vector 0x\(String(v, radix: 16))")
                case .exception(let n) where !external && n == v && (v == 1 || v == 3 || v == 4):
                    // INT1, INT3 and INTO raise #DB, #BP and #OF as traps.
                    hit(b, "exception \(Debugger.exceptionName(v)) (INT instruction) at RIP 0x\(String(rip, radix: 16))")
                default: break
                }
            }
        case .exception(let v, let code, let rip, let cr2):
            lastDelivery = (v, false)
            if recordInterrupts { stepNotes.append("exception \(Debugger.exceptionName(v)) at 0x\(String(rip, radix: 16))") }
            for b in breakpoints where b.enabled {
                switch b.kind {
                case .vector(let n) where n == v, .exception(let n) where n == v:
                    var t = "exception \(Debugger.exceptionName(v)) at RIP 0x\(String(rip, radix: 16))"
                    if let c = code { t += " error code 0x\(String(c, radix: 16))" }
                    if v == 14 { t += " CR2 0x\(String(cr2, radix: 16))" }
                    hit(b, t)
                default: break
                }
            }
        default:
            break
        }
    }

    public static func exceptionName(_ v: UInt8) -> String {
        let names = ["#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP",
                     "#PF", "15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"]
        return Int(v) < names.count ? "\(v) (\(names[Int(v)]))" : "\(v)"
    }

    // MARK: machine helpers

    var linearMask: UInt64 {
        switch cpu.mode {
        case .long64: return ~0
        case .real: return 0xF_FFFF
        default: return 0xFFFF_FFFF
        }
    }
    /// The linear address of the next instruction.
    public var linearRIP: UInt64 { (cpu.segment(.cs).base &+ cpu.rip) & linearMask }
    public var codeBits: Int {
        switch cpu.mode {
        case .long64: return 64
        case .protected32, .compat32: return 32
        default: return 16
        }
    }
    /// Width of a stack slot in bytes.
    var wordSize: Int { codeBits == 64 ? 8 : (codeBits == 32 ? 4 : 2) }
    var stackPointer: UInt64 {
        let sp = cpu.gpr(.rsp)
        return codeBits == 64 ? sp : (codeBits == 32 ? sp & 0xFFFF_FFFF : sp & 0xFFFF)
    }
    /// Guest memory for the debugger and the GDB stub: virtual addresses
    /// go through the current paging (no side effects on A/D bits); only
    /// RAM, ROM and the VGA window are readable, so a bad address is an
    /// error rather than a page of open-bus bytes.
    public func readGuest(_ addr: UInt64, count: Int, physical: Bool = false) -> [UInt8]? {
        guard count >= 0, count <= 1 << 24 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var i = 0
        while i < count {
            let a = addr &+ UInt64(i)
            if i > 0 && a == 0 { return nil }   // wrapped around
            let pa: UInt64
            if physical {
                pa = a
            } else {
                if cpu.efer & 0x400 == 0 && a > 0xFFFF_FFFF { return nil }
                guard let p = cpu.translate(linear: a) else { return nil }
                pa = p
            }
            let n = min(count - i, 4096 - Int(a & 0xFFF), 4096 - Int(pa & 0xFFF))
            if let b = cpu.readPhysical(pa, count: n) {
                out += b
            } else if pa >= 0xA0000 && pa &+ UInt64(n) <= 0xC0000 {
                pc.clock.now = pc.virtualTime
                for k in 0..<n { out.append(UInt8(truncatingIfNeeded: pc.deviceRead(pa &+ UInt64(k), size: 1))) }
            } else {
                return nil
            }
            i += n
        }
        return out
    }

    /// Writes guest memory (RAM only); false when any byte is not writable RAM.
    public func writeGuest(_ addr: UInt64, _ bytes: [UInt8]) -> Bool {
        // Check the whole range first so a failed write changes nothing.
        var i = 0
        while i < bytes.count {
            let a = addr &+ UInt64(i)
            if cpu.efer & 0x400 == 0 && a > 0xFFFF_FFFF { return false }
            guard let pa = cpu.translate(linear: a) else { return false }
            let n = min(bytes.count - i, 4096 - Int(a & 0xFFF), 4096 - Int(pa & 0xFFF))
            guard cpu.readPhysical(pa, count: n) != nil || (pa >= 0xA0000 && pa &+ UInt64(n) <= 0xC0000) else { return false }
            i += n
        }
        pc.clock.now = pc.virtualTime
        return cpu.writeLinear(addr, bytes)
    }

    func readWord(_ addr: UInt64, _ size: Int) -> UInt64? {
        guard let b = readGuest(addr, count: size) else { return nil }
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << UInt64(8 * i) }
        return v
    }
    func disassembler() -> Disassembler {
        Disassembler(bits: codeBits, symbolize: { [weak self] a in self?.symbols.describe(a) })
    }
    func decode(at lin: UInt64) -> DisassembledInstruction? {
        var bytes: [UInt8] = []
        for i in 0..<15 {
            guard let b = readGuest(lin &+ UInt64(i), count: 1) else { break }
            bytes.append(b[0])
        }
        if bytes.isEmpty { return nil }
        let ip = codeBits == 64 ? lin : lin &- cpu.segment(.cs).base
        var d = disassembler().decode(bytes, address: ip)
        d.address = lin
        return d
    }

    // MARK: expressions

    public enum EvalError: Error, CustomStringConvertible {
        case symbol(SymbolTable.ResolveError)
        case memory(UInt64)
        case register(String)
        public var description: String {
            switch self {
            case .symbol(let e): return e.description
            case .memory(let a): return "cannot read memory at 0x\(String(a, radix: 16)) (not mapped)"
            case .register(let r): return "unknown register '\(r)'"
            }
        }
    }

    public func evaluate(_ e: DebugExpr) -> Result<UInt64, EvalError> {
        switch e {
        case .number(let n): return .success(n)
        case .register(let r):
            guard let v = registerValue(r) else { return .failure(.register(r)) }
            return .success(v)
        case .symbol(let s):
            switch symbols.resolve(s) {
            case .success(let sym): return .success(sym.address)
            case .failure(let err): return .failure(.symbol(err))
            }
        case .add(let a, let b):
            return evaluate(a).flatMap { x in evaluate(b).map { x &+ $0 } }
        case .sub(let a, let b):
            return evaluate(a).flatMap { x in evaluate(b).map { x &- $0 } }
        case .deref(let a):
            return evaluate(a).flatMap { addr in
                guard let v = readWord(addr, 8) else { return .failure(.memory(addr)) }
                return .success(v)
            }
        }
    }

    public func evaluate(_ c: DebugCondition) -> Result<Bool, EvalError> {
        for (l, op, r) in c.terms {
            let lv: UInt64, rv: UInt64
            switch evaluate(l) { case .success(let v): lv = v; case .failure(let e): return .failure(e) }
            switch evaluate(r) { case .success(let v): rv = v; case .failure(let e): return .failure(e) }
            let ok: Bool
            switch op {
            case .eq: ok = lv == rv
            case .ne: ok = lv != rv
            case .lt: ok = lv < rv
            case .le: ok = lv <= rv
            case .gt: ok = lv > rv
            case .ge: ok = lv >= rv
            }
            if !ok { return .success(false) }
        }
        return .success(true)
    }

    static let gprByName: [String: GPR] = [
        "rax": .rax, "rbx": .rbx, "rcx": .rcx, "rdx": .rdx, "rsi": .rsi, "rdi": .rdi, "rbp": .rbp, "rsp": .rsp,
        "r8": .r8, "r9": .r9, "r10": .r10, "r11": .r11, "r12": .r12, "r13": .r13, "r14": .r14, "r15": .r15,
    ]

    /// (register, bit shift, width in bits) of a general-register name.
    static func gprPart(_ name: String) -> (GPR, UInt64, UInt64)? {
        if let g = gprByName[name] { return (g, 0, 64) }
        let legacy = ["ax": GPR.rax, "bx": .rbx, "cx": .rcx, "dx": .rdx, "si": .rsi, "di": .rdi, "bp": .rbp, "sp": .rsp]
        if name.hasPrefix("e"), let g = legacy[String(name.dropFirst())] { return (g, 0, 32) }
        if let g = legacy[name] { return (g, 0, 16) }
        let bytes = ["al": (GPR.rax, UInt64(0)), "bl": (.rbx, 0), "cl": (.rcx, 0), "dl": (.rdx, 0),
                     "ah": (.rax, 8), "bh": (.rbx, 8), "ch": (.rcx, 8), "dh": (.rdx, 8)]
        if let (g, s) = bytes[name] { return (g, s, 8) }
        for (suffix, width) in [("d", UInt64(32)), ("w", 16), ("b", 8)] where name.hasSuffix(suffix) {
            if let g = gprByName[String(name.dropLast())], name.hasPrefix("r") { return (g, 0, width) }
        }
        return nil
    }

    public func registerValue(_ raw: String) -> UInt64? {
        let name = raw.lowercased().hasPrefix("$") ? String(raw.lowercased().dropFirst()) : raw.lowercased()
        if let (g, shift, width) = Debugger.gprPart(name) {
            let v = cpu.gpr(g) >> shift
            return width == 64 ? v : v & ((1 << width) - 1)
        }
        switch name {
        case "rip": return cpu.rip
        case "eip": return cpu.rip & 0xFFFF_FFFF
        case "ip": return cpu.rip & 0xFFFF
        case "rflags", "eflags", "flags": return cpu.rflags
        case "cs": return UInt64(cpu.segment(.cs).selector)
        case "ds": return UInt64(cpu.segment(.ds).selector)
        case "es": return UInt64(cpu.segment(.es).selector)
        case "fs": return UInt64(cpu.segment(.fs).selector)
        case "gs": return UInt64(cpu.segment(.gs).selector)
        case "ss": return UInt64(cpu.segment(.ss).selector)
        case "cr0": return cpu.cr0
        case "cr2": return cpu.cr2
        case "cr3": return cpu.cr3
        case "cr4": return cpu.cr4
        case "cr8": return cpu.cr8
        case "efer": return cpu.efer
        case "fs_base", "fsbase": return cpu.fsBase
        case "gs_base", "gsbase": return cpu.gsBase
        default: return nil
        }
    }

    /// Writes a register; false for names that cannot be written here.
    public func setRegister(_ raw: String, _ value: UInt64) -> Bool {
        let name = raw.lowercased().hasPrefix("$") ? String(raw.lowercased().dropFirst()) : raw.lowercased()
        if let (g, shift, width) = Debugger.gprPart(name) {
            if width == 64 { cpu.setGPR(g, value); return true }
            let mask: UInt64 = ((1 << width) - 1) << shift
            cpu.setGPR(g, (cpu.gpr(g) & ~mask) | ((value << shift) & mask))
            return true
        }
        switch name {
        case "rip", "eip", "ip": cpu.rip = value
        case "rflags", "eflags", "flags": cpu.rflags = value
        case "cr0": cpu.cr0 = value
        case "cr2": cpu.cr2 = value
        case "cr3": cpu.cr3 = value
        case "cr4": cpu.cr4 = value
        case "cr8": cpu.cr8 = value
        case "efer": cpu.efer = value
        case "fs_base", "fsbase": cpu.fsBase = value
        case "gs_base", "gsbase": cpu.gsBase = value
        default: return false
        }
        return true
    }

    // MARK: execution

    public enum Resume: Equatable, Sendable {
        case continueRun
        /// N instructions; interrupts taken meanwhile are entered.
        case step(UInt64)
        /// One instruction; an interrupt taken meanwhile runs to its IRET
        /// (what GDB's stepi sees, like QEMU's masked single-step).
        case stepQuiet
        case next(UInt64)
        case finish
        case until(UInt64)
        case run(RunLength)
    }

    public enum StopCause: Equatable, Sendable {
        /// The step/next/finish/until/run-for completed.
        case finished
        /// User breakpoint or watchpoint `id`.
        case breakpoint(Int)
        case gdbBreakpoint(UInt64, hardware: Bool)
        case gdbWatchpoint(WatchKind, UInt64)
        /// Ctrl-C, or GDB's interrupt.
        case interrupted
        /// The machine stopped by itself (guest exit, triple fault, ...).
        case machine(PCStop)
    }

    public struct StopReport: Sendable {
        public var cause: StopCause
        /// Human-readable, one or more lines.
        public var message: String
    }

    /// Set when the machine ended for good (guest exit, triple fault, reset
    /// with --no-reboot, limits): every later resume reports it again.
    public private(set) var machineEnded: PCStop?
    /// `--timeout` as an absolute virtual time.
    public var timeLimit: UInt64?
    /// Virtual time per poll of `interrupt` while running.
    public var sliceNs: UInt64 = 10_000_000

    private var watchSnapshot: [Int: [UInt8]] = [:]
    private var lastWatchReport = ""

    public func resume(_ how: Resume, interrupt: () -> Bool = { false }) -> StopReport {
        if let e = machineEnded { return StopReport(cause: .machine(e), message: Debugger.describe(e, pc: pc) + " (the machine has stopped)") }
        pendingHits.removeAll()
        stepNotes.removeAll()
        snapshotWatches()
        let cause: StopCause
        switch how {
        case .continueRun:
            cause = runLoop(interrupt: interrupt)
        case .step(let n):
            recordInterrupts = true
            delivered.removeAll()
            cause = runLoop(instructions: n, interrupt: interrupt)
            recordInterrupts = false
            for d in delivered {
                var s = "interrupt vector 0x\(String(d.vector, radix: 16))"
                if let l = irqLine(forVector: d.vector) { s += " (IRQ\(l))" }
                stepNotes.append(s + " taken; will return to 0x\(String(d.returnRIP, radix: 16))")
            }
        case .stepQuiet:
            cause = stepOverInterrupts(interrupt)
        case .next(let n):
            var c = StopCause.finished
            for _ in 0..<n {
                c = nextOne(interrupt)
                if c != .finished { break }
            }
            cause = c
        case .finish:
            cause = finishFunction(interrupt)
        case .until(let a):
            cause = runLoop(temps: [a: nil], interrupt: interrupt)
        case .run(.instructions(let n)):
            cause = runLoop(instructions: n, interrupt: interrupt)
        case .run(.nanoseconds(let ns)):
            cause = runLoop(untilTime: pc.virtualTime &+ ns, interrupt: interrupt)
        }
        return StopReport(cause: cause, message: describe(cause))
    }

    private func snapshotWatches() {
        watchSnapshot.removeAll()
        for b in breakpoints {
            if case .watch(let a, let len, _) = b.kind, let bytes = readGuest(a, count: Int(min(len, 64))) {
                watchSnapshot[b.id] = bytes
            }
        }
    }

    private static let chunk: UInt64 = 1_000_000

    /// Runs until something stops it. `instructions` / `untilTime` bound the
    /// run (reported as `.finished`); `temps` are temporary breakpoints with
    /// an optional check (a false check resumes).
    private func runLoop(instructions: UInt64? = nil, untilTime: UInt64? = nil,
                         temps: [UInt64: (() -> Bool)?] = [:], interrupt: () -> Bool) -> StopCause {
        tempBreaks = temps
        updateHooks()
        defer { tempBreaks = [:]; updateHooks() }
        let goal = instructions.map { cpu.retired &+ $0 }
        while true {
            if let tl = timeLimit, pc.virtualTime >= tl { return ended(.timeLimit) }
            var r: PCStop?
            if let g = goal {
                if cpu.retired >= g { return .finished }
                if cpu.halted && !(pc.pics.intLevel && cpu.rflags & 0x200 != 0) {
                    // Waiting in HLT: let time pass to the next device event
                    // (polling for Ctrl-C) rather than spinning inside step.
                    if cpu.rflags & 0x200 == 0 { return .machine(.haltedForever) }
                    let next = pc.nextEventTime
                    if next == .max { return .machine(.haltedForever) }
                    var deadline = min(next, pc.virtualTime &+ sliceNs)
                    if let tl = timeLimit { deadline = min(deadline, tl) }
                    r = pc.run(until: max(deadline, pc.virtualTime &+ 1))
                } else {
                    r = pc.step(min(g - cpu.retired, Debugger.chunk))
                }
            } else {
                var deadline = pc.virtualTime &+ sliceNs
                if let t = untilTime {
                    if pc.virtualTime >= t { return .finished }
                    deadline = min(deadline, t)
                }
                if let tl = timeLimit { deadline = min(deadline, tl) }
                r = pc.run(until: deadline)
            }
            if let r = r {
                if let c = classify(r) { return c }
            } else if let t = untilTime, pc.virtualTime >= t {
                return .finished
            }
            if interrupt() { return .interrupted }
        }
    }

    private func ended(_ s: PCStop) -> StopCause {
        switch s {
        case .guestExit, .tripleFault, .resetRequested, .instructionLimit, .timeLimit, .outputMatched:
            machineEnded = s
        default:
            break
        }
        return .machine(s)
    }

    /// For frontends that run the board themselves (window, terminal):
    /// what a stop means (nil: not a stop the user asked for, run on).
    public func explainStop(_ r: PCStop) -> StopCause? {
        let c = classify(r)
        if c == nil { prepareExternalResume() }
        return c
    }

    /// Call before a frontend runs the board again after a stop.
    public func prepareExternalResume() {
        pendingHits.removeAll()
        snapshotWatches()
    }

    /// What a stop of the board means; nil to keep running.
    private func classify(_ r: PCStop) -> StopCause? {
        switch r {
        case .breakpoint, .stopRequested:
            break
        default:
            pendingHits.removeAll()
            return ended(r)
        }
        if let h = pendingHits.first {
            pendingHits.removeAll()
            if let i = breakpoints.firstIndex(where: { $0.id == h.id }) {
                breakpoints[i].hits += 1
                lastHitText = h.text
                return .breakpoint(h.id)
            }
        }
        let lin = linearRIP
        if cpu.breakpoints.contains(lin) {
            if let t = tempBreaks[lin] {
                if t == nil || t!() { return .finished }
            }
            for i in breakpoints.indices where breakpoints[i].enabled {
                guard case .address(let a) = breakpoints[i].kind, a == lin else { continue }
                if let c = breakpoints[i].condition {
                    switch evaluate(c) {
                    case .success(true): break
                    case .success(false): continue
                    case .failure(let e):
                        lastHitText = "condition '\(c.text)' could not be evaluated: \(e)"
                    }
                }
                breakpoints[i].hits += 1
                let id = breakpoints[i].id
                if breakpoints[i].temporary {
                    breakpoints.remove(at: i)
                    updateHooks()
                }
                return .breakpoint(id)
            }
            if gdbSoftware.contains(lin) { return .gdbBreakpoint(lin, hardware: false) }
            if gdbHardware.contains(lin) { return .gdbBreakpoint(lin, hardware: true) }
            return r == .stopRequested ? .interrupted : nil
        }
        if let addr = cpu.lastWatchHit, r == .breakpoint {
            for i in breakpoints.indices where breakpoints[i].enabled {
                guard case .watch(let a, let len, let kind) = breakpoints[i].kind,
                      addr >= a && addr < a &+ len else { continue }
                let now = readGuest(a, count: Int(min(len, 64)))
                let old = watchSnapshot[breakpoints[i].id]
                if kind == .read && now != nil && old != nil && now != old {
                    // A write, not a read: rwatch ignores it.
                    watchSnapshot[breakpoints[i].id] = now
                    return nil
                }
                breakpoints[i].hits += 1
                var t = "\(kind.rawValue) \(breakpoints[i].label): access at 0x\(String(addr, radix: 16))"
                if let o = old, let n = now {
                    t += o == n ? " (value \(Debugger.littleEndianHex(n)))" : ": old \(Debugger.littleEndianHex(o)) new \(Debugger.littleEndianHex(n))"
                }
                watchSnapshot[breakpoints[i].id] = now
                lastHitText = t
                return .breakpoint(breakpoints[i].id)
            }
            for w in gdbWatches where addr >= w.address && addr < w.address &+ w.length {
                return .gdbWatchpoint(w.kind, addr)
            }
        }
        return r == .stopRequested ? .interrupted : nil
    }
    private var lastHitText = ""

    static func littleEndianHex(_ b: [UInt8]) -> String {
        var v: UInt64 = 0
        for (i, x) in b.prefix(8).enumerated() { v |= UInt64(x) << UInt64(8 * i) }
        return "0x" + String(v, radix: 16)
    }

    /// One instruction; external interrupts taken meanwhile run to their
    /// return, so the step ends where the interrupted code continues.
    private func stepOverInterrupts(_ interrupt: () -> Bool) -> StopCause {
        for _ in 0..<64 {
            let start = cpu.retired
            // In HLT the instruction has executed already: the step is the
            // wait for the interrupt that wakes the CPU.
            let wasHalted = cpu.halted
            recordInterrupts = true
            delivered.removeAll()
            let c = runLoop(instructions: 1, interrupt: interrupt)
            recordInterrupts = false
            let firstExternal = delivered.first
            delivered.removeAll()
            guard c == .finished, let d = firstExternal else { return c }
            // Stopped inside a handler: run it until it returns to the
            // interrupted code (same or outer stack frame).
            let sp = d.rsp
            let c2 = runLoop(temps: [d.returnLinear: { [unowned self] in self.stackPointer >= sp }], interrupt: interrupt)
            guard c2 == .finished else { return c2 }
            // The instruction had retired before the interrupt came: done.
            if d.retired > start || wasHalted { return .finished }
        }
        return .finished
    }

    private func nextOne(_ interrupt: () -> Bool) -> StopCause {
        guard let insn = decode(at: linearRIP) else { return stepOverInterrupts(interrupt) }
        switch insn.flow {
        case .call, .interrupt, .systemCall:
            let ret = linearRIP &+ UInt64(insn.length)
            let sp = stackPointer
            return runLoop(temps: [ret: { [unowned self] in self.stackPointer >= sp }], interrupt: interrupt)
        default:
            return stepOverInterrupts(interrupt)
        }
    }

    /// The return address and the stack pointer after the return, from the
    /// prologue of the current function (push rbp; mov rbp, rsp).
    func currentFrame() -> (ret: UInt64, sp: UInt64)? {
        let w = UInt64(wordSize)
        let sp = stackPointer
        let bp = codeBits == 64 ? cpu.gpr(.rbp) : cpu.gpr(.rbp) & (codeBits == 32 ? 0xFFFF_FFFF : 0xFFFF)
        guard let (sym, off) = symbols.lookup(linearRIP), sym.isFunction else { return nil }
        if off == 0 {
            // At the entry the return address is on top of the stack, if
            // this code was called at all (an interrupt stub or a jump
            // target has something else there).
            guard let r = readWord(sp, Int(w)), isReturnAddress(r) else { return nil }
            return (r, sp &+ w)
        }
        guard let pro = readGuest(sym.address, count: 4), pro[0] == 0x55 else { return nil }
        let movLen: UInt64
        if codeBits == 64 && pro[1] == 0x48 && (pro[2] == 0x89 && pro[3] == 0xE5 || pro[2] == 0x8B && pro[3] == 0xEC) { movLen = 3 }
        else if codeBits != 64 && (pro[1] == 0x89 && pro[2] == 0xE5 || pro[1] == 0x8B && pro[2] == 0xEC) { movLen = 2 }
        else { return nil }
        if off < 1 + movLen {
            // After push rbp, before mov rbp, rsp.
            guard let r = readWord(sp &+ w, Int(w)), isReturnAddress(r) else { return nil }
            return (r, sp &+ 2 &* w)
        }
        guard let r = readWord(bp &+ w, Int(w)), isReturnAddress(r) else { return nil }
        return (r, bp &+ 2 &* w)
    }

    /// Whether a CALL instruction ends right before `addr`.
    func isReturnAddress(_ addr: UInt64) -> Bool {
        let lin = codeBits == 64 ? addr : (cpu.segment(.cs).base &+ addr) & linearMask
        for len in [5, 2, 3, 6, 7, 4, 8, 9] {
            guard lin >= UInt64(len), let i = decode(at: lin &- UInt64(len)) else { continue }
            if i.length == len && i.flow == .call { return true }
        }
        return false
    }

    private func finishFunction(_ interrupt: () -> Bool) -> StopCause {
        let from = symbols.describe(linearRIP) ?? Debugger.hex(linearRIP)
        let c = finishRun(interrupt)
        if c == .finished {
            let ax = codeBits == 64 ? cpu.gpr(.rax) : cpu.gpr(.rax) & 0xFFFF_FFFF
            stepNotes.append("Run till exit from \(from); returned, \(codeBits == 64 ? "rax" : "eax") = \(Debugger.hex(ax))")
        }
        return c
    }

    private func finishRun(_ interrupt: () -> Bool) -> StopCause {
        if let insn = decode(at: linearRIP), insn.flow == .ret || insn.flow == .interruptReturn {
            return stepOverInterrupts(interrupt)
        }
        if let f = currentFrame() {
            let lin = codeBits == 64 ? f.ret : (cpu.segment(.cs).base &+ f.ret) & linearMask
            return runLoop(temps: [lin: { [unowned self] in self.stackPointer >= f.sp }], interrupt: interrupt)
        }
        // No frame information: step over calls until a return executes.
        for _ in 0..<10_000_000 {
            guard let insn = decode(at: linearRIP) else { return stepOverInterrupts(interrupt) }
            let isRet = insn.flow == .ret || insn.flow == .interruptReturn
            let c = nextOne(interrupt)
            if c != .finished || isRet { return c }
            if interrupt() { return .interrupted }
        }
        return .finished
    }

    // MARK: reports

    public func describe(_ c: StopCause) -> String {
        var lines: [String] = []
        switch c {
        case .finished:
            lines += stepNotes
        case .breakpoint(let id):
            if let b = breakpoints.first(where: { $0.id == id }) {
                switch b.kind {
                case .address:
                    lines.append("Breakpoint \(id), \(b.label)" + (b.condition.map { " if \($0.text)" } ?? "")
                                 + (lastHitText.hasPrefix("condition") ? " (\(lastHitText))" : ""))
                default:
                    lines.append("Breakpoint \(id) (\(kindText(b.kind))): \(lastHitText)")
                }
            } else {
                lines.append("Breakpoint \(id) (temporary, deleted)")
            }
            lastHitText = ""
        case .gdbBreakpoint(let a, _):
            lines.append("GDB breakpoint at 0x\(String(a, radix: 16))")
        case .gdbWatchpoint(let k, let a):
            lines.append("GDB \(k.rawValue) at 0x\(String(a, radix: 16))")
        case .interrupted:
            lines.append("Interrupted.")
        case .machine(let s):
            lines.append(Debugger.describe(s, pc: pc))
        }
        if case .machine(let s) = c, s != .haltedForever { return lines.joined(separator: "\n") }
        lines.append(locationLine())
        return lines.joined(separator: "\n")
    }

    public static func describe(_ s: PCStop, pc: PC) -> String {
        switch s {
        case .guestExit(let code): return "The guest exited with status \(code) (port 0xF4)."
        case .haltedForever: return "The CPU is in HLT with interrupts disabled: nothing can wake it."
        case .tripleFault(let why): return "Machine stopped: \(why)."
        case .resetRequested: return "The guest reset the machine (rebooting is off)."
        case .instructionLimit: return "Instruction limit reached (\(pc.instructions) instructions)."
        case .timeLimit: return "Time limit reached."
        case .outputMatched: return "The awaited guest output appeared."
        case .stopRequested: return "Stopped."
        case .breakpoint: return "Breakpoint."
        }
    }

    /// "=> 0x100020 <kmain+4>:  mov rbp, rsp"
    public func locationLine() -> String {
        let lin = linearRIP
        var s = "=> " + Debugger.hex(lin)
        if let n = symbols.describe(lin) { s += " <" + n + ">" }
        if let i = decode(at: lin) { s += ":  " + i.text }
        else { s += ":  (cannot read code memory)" }
        return s
    }

    func kindText(_ k: Kind) -> String {
        switch k {
        case .address(let a): return "address " + Debugger.hex(a)
        case .vector(let v): return "int 0x" + String(v, radix: 16)
        case .irq(let n): return "irq \(n)"
        case .exception(let v): return "exc \(Debugger.exceptionName(v))"
        case .io(let r): return r.count == 1 ? "io 0x\(String(r.lowerBound, radix: 16))" : "io 0x\(String(r.lowerBound, radix: 16))-0x\(String(r.upperBound, radix: 16))"
        case .watch(let a, let l, let kind): return "\(kind.rawValue) \(Debugger.hex(a)) len \(l)"
        }
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// Raises an IRQ line now; `pulse` lowers it when the CPU takes it.
    public func driveIRQ(_ n: Int, _ action: LineAction) {
        pc.clock.now = pc.virtualTime
        switch action {
        case .pulse:
            pc.pics.setIRQ(n, true)
            pulsedIRQs.insert(n)
        case .up:
            pc.pics.setIRQ(n, true)
        case .down:
            pulsedIRQs.remove(n)
            pc.pics.setIRQ(n, false)
        }
    }
}
