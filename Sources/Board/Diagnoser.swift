import CPU
import Devices

/// Watches the machine's events and names the interrupt mistakes guests
/// make, with the time, the IRQ/vector and the likely fix.
///
/// It consumes the same stamped events as the trace (the categories in
/// `Diagnoser.categories` must be enabled while it runs) and reads device
/// state through the board's inspection API; it never changes the machine.
///
/// Each rule waits for evidence that the mistake had a consequence (an
/// interrupt lost or delivered wrongly, a handler that returned with its
/// level still in service, a byte left unread while keys queue up), so a
/// guest that does things unusually but correctly is not warned about.
/// Every kind is reported once per IRQ/vector.
public final class Diagnoser {
    public struct Diagnosis: Equatable {
        public var time: UInt64
        public var instructions: UInt64
        /// Stable identifier, one of `Diagnoser.kinds`.
        public var kind: String
        public var irq: Int?
        public var vector: Int?
        public var message: String
        public var fix: String

        public var traceEvent: TraceEvent {
            var f: [(String, TraceValue)] = [("kind", .str(kind))]
            if let i = irq { f.append(("irq", .int(Int64(i)))) }
            if let v = vector { f.append(("vector", .int(Int64(v)))) }
            f.append(("message", .str(message)))
            f.append(("fix", .str(fix)))
            return TraceEvent(.diag, "diagnosis", f)
        }

        /// The stderr form: `warning: [0.054926 s] IRQ0 ...` and the fix.
        public var warning: String {
            var t = TraceFormat.seconds(time).trimmingCharacters()
            t = String(t.dropLast(3))   // µs precision is plenty here
            return "warning: [\(t) s] \(kind): \(message)\n    fix: \(fix)"
        }
    }

    /// Every diagnosis kind, in the order docs/trace.md lists them.
    public static let kinds = [
        "irq-below-32", "no-idt-gate", "missing-eoi", "eoi-nothing-in-service", "eoi-master-only",
        "kbd-not-read", "spurious-irq", "sti-never", "hlt-if0", "rtc-c-not-read",
    ]

    /// Categories the diagnoser needs to see.
    public static let categories: TraceCategory = [.irq, .pic, .kbd, .rtc, .cpu, .exc]

    /// How long a byte may sit unread in the 8042, or IRQ8 stay high without
    /// a register C read, before it counts as never read (virtual ns).
    public static let unreadLimitNs: UInt64 = 100_000_000

    public var onDiagnosis: ((Diagnosis) -> Void)?
    public private(set) var diagnoses: [Diagnosis] = []

    private unowned let pc: PC
    private var said = Set<String>()
    private var now: UInt64 = 0
    private var insns: UInt64 = 0

    // IRQ lines and deliveries.
    private var pendingSince = [UInt64?](repeating: nil, count: 16)
    private var lostEdges = [Int](repeating: 0, count: 16)
    private var raisedCount = [Int](repeating: 0, count: 16)
    private var deliveredCount = [Int](repeating: 0, count: 16)
    /// The handler of this IRQ returned (IRET) while its ISR bit was still set.
    private var returnedInService = [Bool](repeating: false, count: 16)
    private var lastInta: (irq: Int, vector: Int, spurious: Bool)?
    /// Handlers entered and not yet left: the IRQ (-1 for exceptions and
    /// software interrupts, -2 for a spurious IRQ's handler).
    private var frames: [Int] = []

    // Interrupt set-up seen so far.
    private var everSTI = false
    private var idtLoaded = false
    private var picProgrammed = false

    // PIC state as of the previous event (EOI events report the state after).
    private var isrBefore: (master: UInt8, slave: UInt8) = (0, 0)
    /// A master EOI cleared the cascade level while a slave level was still
    /// in service: (slave level, time). Confirmed when the handler returns.
    private var masterOnlyEOI: (level: Int, time: UInt64)?

    // Spurious IRQ being handled: (irq, vector, time, EOIs the handler sent).
    private var spurious: (irq: Int, vector: Int, time: UInt64, eois: [String])?

    // 8042 output buffer.
    private var obFullSince: UInt64?
    private var obByte: UInt8 = 0
    private var obFromAux = false
    private var irq1SinceOB = false
    // RTC IRQ8 line.
    private var rtcHighSince: UInt64?
    private var irq8SinceHigh = false

    public init(pc: PC) { self.pc = pc }

    /// IF changes (`cpu if` events) matter only until the first STI: after
    /// that the board need not build them for the diagnoser.
    public var wantsInterruptFlagEvents: Bool { !everSTI }

    private func say(_ key: String, _ kind: String, irq: Int? = nil, vector: Int? = nil, _ message: String, fix: String) {
        guard !said.contains(key) else { return }
        said.insert(key)
        let d = Diagnosis(time: now, instructions: insns, kind: kind, irq: irq, vector: vector, message: message, fix: fix)
        diagnoses.append(d)
        onDiagnosis?(d)
    }

    private func saidKind(_ kind: String) -> Bool { diagnoses.contains { $0.kind == kind } }

    // MARK: field access

    private static func field(_ e: TraceEvent, _ name: String) -> TraceValue? {
        e.fields.first { $0.0 == name }?.1
    }
    private static func int(_ e: TraceEvent, _ name: String) -> Int? {
        switch field(e, name) {
        case .int(let i)?: return Int(truncatingIfNeeded: i)
        case .hex(let h, _)?: return Int(truncatingIfNeeded: h)
        default: return nil
        }
    }
    private static func bool(_ e: TraceEvent, _ name: String) -> Bool? {
        if case .bool(let b)? = field(e, name) { return b }
        return nil
    }
    private static func str(_ e: TraceEvent, _ name: String) -> String? {
        if case .str(let s)? = field(e, name) { return s }
        return nil
    }
    private static func textField(_ e: TraceEvent, _ name: String) -> String {
        guard let v = field(e, name) else { return "?" }
        switch v {
        case .hex(let h, _): return "0x" + String(h, radix: 16)
        case .int(let i): return String(i)
        case .str(let s): return s
        case .bool(let b): return b ? "yes" : "no"
        }
    }

    private static func vectorText(_ v: Int) -> String { "\(v) (0x\(String(v, radix: 16)))" }

    private func ms(_ ns: UInt64) -> String {
        let v = Double(ns) / 1e6
        return v >= 10 ? "\(Int(v)) ms" : "\(Int(v * 1000)) µs"
    }

    // MARK: PIC state

    private func irqMasked(_ irq: Int) -> Bool {
        if irq < 8 { return pc.pics.master.imr & (1 << UInt8(irq)) != 0 }
        return pc.pics.slave.imr & (1 << UInt8(irq - 8)) != 0 || pc.pics.master.imr & 0x04 != 0
    }

    /// The in-service IRQ that keeps `irq` from being delivered (fully nested
    /// mode: a level in service blocks itself and every lower priority), or
    /// nil. Slave levels are reported as IRQ 8-15, the cascade as 2.
    private func blocker(of irq: Int) -> Int? {
        let m = pc.pics.master.isr, s = pc.pics.slave.isr
        let masterLevel = irq < 8 ? irq : 2
        if let l = (0...masterLevel).first(where: { m & (1 << UInt8($0)) != 0 }) {
            if l == 2 && irq >= 8, let sl = (0...(irq - 8)).first(where: { s & (1 << UInt8($0)) != 0 }) {
                return 8 + sl
            }
            if l != 2 { return l }
            // Master IR2 in service: a slave level, or a slave IRQ whose
            // master EOI never came.
            if let sl = (0..<8).first(where: { s & (1 << UInt8($0)) != 0 }) { return 8 + sl }
            return 2
        }
        if irq >= 8, let sl = (0...(irq - 8)).first(where: { s & (1 << UInt8($0)) != 0 }) { return 8 + sl }
        return nil
    }

    // MARK: events

    public func observe(_ se: PC.StampedEvent) {
        now = se.time
        insns = se.instructions
        let e = se.event
        switch (e.category, e.name) {
        case (.irq, "line"):
            guard let irq = Diagnoser.int(e, "irq"), irq >= 0, irq < 16, let level = Diagnoser.bool(e, "level") else { break }
            if irq == 8 {
                if level { if rtcHighSince == nil { rtcHighSince = now; irq8SinceHigh = false } } else { rtcHighSince = nil }
            }
            if level { lineRaised(irq) }
        case (.pic, "inta"):
            inta(e)
        case (.pic, "eoi"):
            eoi(e)
        case (.pic, "icw"), (.pic, "imr"):
            picProgrammed = true
        case (.kbd, "ob"):
            obFullSince = now
            obFromAux = Diagnoser.str(e, "src") == "aux"
            irq1SinceOB = false
            if case .hex(let b, _)? = Diagnoser.field(e, "byte") { obByte = UInt8(truncatingIfNeeded: b) }
        case (.kbd, "ob-read"):
            obFullSince = nil
        case (.rtc, "c-read"):
            rtcHighSince = nil
        case (.cpu, "if"):
            if Diagnoser.bool(e, "on") == true { everSTI = true }
        case (.cpu, "load-idt"):
            idtLoaded = true
        case (.cpu, "hlt"):
            if Diagnoser.bool(e, "if") == false {
                say("hlt-if0", "hlt-if0",
                    "hlt with interrupts disabled (IF=0) at RIP \(Diagnoser.textField(e, "rip")): no interrupt can wake the CPU, the machine stops here for good",
                    fix: "if the guest expects to be woken, execute sti before hlt (sti; hlt is safe: STI's one-instruction shadow keeps the wake-up); to idle, loop on sti; hlt")
            }
        case (.cpu, "interrupt"):
            interrupt(e)
        case (.exc, "exception"):
            frames.append(-1)
        case (.cpu, "iret"):
            iret()
        case (.cpu, "reset"):
            machineReset()
        default:
            break
        }
        if e.category == .pic || e.category == .irq {
            isrBefore = (pc.pics.master.isr, pc.pics.slave.isr)
        }
        checkTimedConditions()
    }

    private func lineRaised(_ irq: Int) {
        raisedCount[irq] += 1
        guard pendingSince[irq] != nil else {
            pendingSince[irq] = now
            return
        }
        // A new edge while the previous one is still waiting: an interrupt lost.
        lostEdges[irq] += 1
        guard !irqMasked(irq), let b = blocker(of: irq) else { return }
        // Only once the blocking level's handler has returned: a handler
        // still running (with interrupts off) is not a missing EOI.
        guard b == 2 ? !frames.contains(where: { $0 >= 8 }) : returnedInService[b] else { return }
        // A slave level left in service by a master-only EOI is that diagnosis.
        if b >= 8 && saidKind("eoi-master-only") { return }
        let own = b == irq
        let name = b == 2 ? "IRQ2 (the cascade: a slave IRQ whose EOI reached the slave but not the master)" : "IRQ\(b)"
        var msg = "IRQ\(irq) keeps being raised but is not delivered: \(name) is still in service, its handler returned without an EOI"
        msg += own ? ", so no further IRQ\(irq) arrives and every lower-priority level is blocked too"
                   : ", which blocks IRQ\(irq) and every other level of lower priority"
        say("missing-eoi-\(b)", "missing-eoi", irq: b, msg,
            fix: b >= 8 || b == 2 ? "end the IRQ \(b == 2 ? "8-15" : String(b)) handler with EOIs to both PICs: out 0xA0, 0x20 then out 0x20, 0x20"
                                  : "end the IRQ\(b) handler with an EOI: mov al, 0x20; out 0x20, al")
    }

    private func inta(_ e: TraceEvent) {
        guard let irq = Diagnoser.int(e, "irq"), let vector = Diagnoser.int(e, "vector") else { return }
        let isSpurious = Diagnoser.bool(e, "spurious") ?? false
        lastInta = (irq, vector, isSpurious)
        guard irq >= 0 && irq < 16 else { return }
        if pc.cpu.cr0 & 1 != 0 && vector < 32 {
            let what = vector == 8 ? ": the timer arrives looking like a double fault" : (vector == 13 ? ": it looks like a #GP" : "")
            say("below32", "irq-below-32", irq: irq, vector: vector,
                "IRQ\(irq) was delivered on vector \(Diagnoser.vectorText(vector)), which belongs to a CPU exception in protected mode\(what); the PIC still has the firmware's vector base (0x08 master, 0x70 slave)",
                fix: "remap the PICs before sti: ICW1 0x11 to ports 0x20/0xA0, ICW2 0x20 to 0x21 and 0x28 to 0xA1, ICW3 4 and 2, ICW4 0x01 to both, then restore the masks")
        }
        if isSpurious {
            spurious = (irq, vector, now, [])
            return
        }
        pendingSince[irq] = nil
        lostEdges[irq] = 0
        deliveredCount[irq] += 1
        returnedInService[irq] = false
        if irq == 1 { irq1SinceOB = true }
        if irq == 8 { irq8SinceHigh = true }
    }

    private func eoi(_ e: TraceEvent) {
        let chip = Diagnoser.str(e, "chip") ?? "master"
        let level = Diagnoser.int(e, "level") ?? -1
        let specific = Diagnoser.bool(e, "specific") ?? false
        let before = chip == "master" ? isrBefore.master : isrBefore.slave
        if spurious != nil { spurious?.eois.append(chip) }
        if level < 0 || level > 7 || (specific && before & (1 << UInt8(level)) == 0) {
            var why = ""
            if let s = spurious {
                why = s.irq == 15 && chip == "slave" ? " (after a spurious IRQ15, which set no slave ISR bit)"
                    : " (after a spurious IRQ\(s.irq), which set no ISR bit)"
            }
            say("eoi-none-\(chip)", "eoi-nothing-in-service",
                "EOI sent to the \(chip) PIC with nothing in service" + (specific ? " at level \(level)" : "") + why +
                ": it does nothing now, but with several levels nested it ends the wrong one",
                fix: "send exactly one EOI per delivered IRQ (slave then master for IRQ 8-15), none for a spurious IRQ7, only the master's for a spurious IRQ15")
        }
        let s = pc.pics.slave.isr
        if chip == "master" && level == 2 && s != 0 {
            let l: Int = (0..<8).first(where: { s & (1 << UInt8($0)) != 0 }) ?? 0
            masterOnlyEOI = (l, now)
        }
        if chip == "slave", let m = masterOnlyEOI, s & (1 << UInt8(m.level)) == 0 {
            masterOnlyEOI = nil   // the slave's EOI came after all (master first)
        }
    }

    private func interrupt(_ e: TraceEvent) {
        guard let v = Diagnoser.int(e, "vector") else { return }
        let external = Diagnoser.bool(e, "external") ?? false
        let gate = Diagnoser.bool(e, "gate") ?? true
        var frame = -1
        if external, let l = lastInta, l.vector == v {
            frame = l.spurious ? -2 : l.irq
            lastInta = nil
        }
        if frame == -2, let s = spurious, !gate {
            spurious = nil
            saySpurious(s, handled: "the IDT has no present gate for vector \(Diagnoser.vectorText(s.vector)), so the CPU raises #NP/#GP instead (usually ending in a double or triple fault)")
        } else if !gate {
            let what = frame >= 0 ? "IRQ\(frame) on vector \(Diagnoser.vectorText(v))" : (external ? "an interrupt on vector \(Diagnoser.vectorText(v))" : "INT \(Diagnoser.vectorText(v))")
            say("no-gate-\(v)", "no-idt-gate", irq: frame >= 0 ? frame : nil, vector: v,
                "\(what) arrived but the IDT has no present gate for it: the CPU raises #NP/#GP instead, which usually ends in a double or triple fault",
                fix: "install a handler for vector \(v) in the IDT (and load it with lidt) before enabling the interrupt, or mask that IRQ")
        }
        frames.append(frame)
    }

    private func iret() {
        guard let f = frames.popLast() else { return }
        if f >= 0 {
            let inService = f < 8 ? pc.pics.master.isr & (1 << UInt8(f)) != 0
                                  : pc.pics.slave.isr & (1 << UInt8(f - 8)) != 0
            if inService { returnedInService[f] = true }
        }
        if f == -2, let s = spurious {
            spurious = nil
            let right = s.irq >= 8 ? s.eois == ["master"] : s.eois.isEmpty
            let sent = s.eois.isEmpty ? "returned without an EOI" : "sent an EOI to the \(s.eois.joined(separator: " and the ")) PIC"
            saySpurious(s, handled: "the guest's handler \(sent)" + (right ? ", which is right" : ", which is wrong"))
        }
        if let m = masterOnlyEOI {
            masterOnlyEOI = nil
            if pc.pics.slave.isr & (1 << UInt8(m.level)) != 0 {
                let irq = 8 + m.level
                say("eoi-master-only", "eoi-master-only", irq: irq,
                    "the IRQ\(irq) handler sent its EOI to the master PIC only: IRQ\(irq) is still in service on the slave, so it and every lower slave level stay blocked",
                    fix: "for IRQ 8-15 send the EOI to the slave too: out 0xA0, 0x20, then out 0x20, 0x20")
            }
        }
    }

    private func saySpurious(_ s: (irq: Int, vector: Int, time: UInt64, eois: [String]), handled: String) {
        let chip = s.irq >= 8 ? "slave" : "master"
        let rule = s.irq >= 8
            ? "the master's IR2 bit is in service, the slave's is not: EOI the master only"
            : "no ISR bit is set: no EOI"
        say("spurious-\(s.irq)", "spurious-irq", irq: s.irq, vector: s.vector,
            "spurious IRQ\(s.irq) on vector \(Diagnoser.vectorText(s.vector)) at \(TraceFormat.seconds(s.time).trimmingCharacters()) s: the request went away before the CPU acknowledged it, so the \(chip) PIC answered with its IR7 vector; \(handled)",
            fix: "keep a handler for vector \(s.vector) (\(rule)); avoid the race: do not read port 0x60 or mask an IRQ with interrupts off while that IRQ may be pending")
    }

    private func machineReset() {
        pendingSince = .init(repeating: nil, count: 16)
        lostEdges = .init(repeating: 0, count: 16)
        returnedInService = .init(repeating: false, count: 16)
        frames = []
        lastInta = nil
        spurious = nil
        masterOnlyEOI = nil
        obFullSince = nil
        rtcHighSince = nil
        everSTI = false
        idtLoaded = false
        picProgrammed = false
    }

    private func checkTimedConditions() {
        if let s = obFullSince, now &- s > Diagnoser.unreadLimitNs, !obFromAux, irq1SinceOB, pc.kbc.outputBufferFull {
            say("kbd-not-read", "kbd-not-read", irq: 1,
                "the byte 0x\(String(obByte, radix: 16)) has waited in the 8042 output buffer for \(ms(now &- s)) although the IRQ1 handler ran: without a read of port 0x60 the line never drops, so no further key arrives",
                fix: "read the scancode (in al, 0x60) in every IRQ1 handler, then send the EOI")
        }
        if let s = rtcHighSince, now &- s > Diagnoser.unreadLimitNs, irq8SinceHigh {
            say("rtc-c", "rtc-c-not-read", irq: 8,
                "the RTC's IRQ8 line has been high for \(ms(now &- s)) although the IRQ8 handler ran: register C was not read, so the RTC keeps the line asserted and IRQ8 never fires again",
                fix: "read register C in the IRQ8 handler: mov al, 0x0C; out 0x70, al; in al, 0x71")
        }
    }

    /// Checks that only make sense at the end of a run.
    public func finish() {
        now = pc.virtualTime
        insns = pc.instructions
        checkTimedConditions()
        if let s = spurious {
            spurious = nil
            saySpurious(s, handled: "its handler had not returned when the run ended")
        }
        if !everSTI && pc.cpu.rflags & 0x200 == 0 && (idtLoaded || picProgrammed) {
            if let irq = (0..<16).first(where: { pendingSince[$0] != nil && deliveredCount[$0] == 0 && !irqMasked($0) }) {
                say("sti-never", "sti-never", irq: irq,
                    "interrupts were never enabled (no sti): IRQ\(irq) is unmasked and was raised \(raisedCount[irq]) times, but the CPU never took it",
                    fix: "execute sti once the IDT is loaded and the PICs are remapped")
            }
        }
    }
}
