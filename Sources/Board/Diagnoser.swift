import CPU
import Devices

/// Watches the machine's events and names the interrupt mistakes guests
/// make, with the time, the IRQ/vector and the likely fix.
///
/// It consumes the same stamped events as the trace (categories irq, pic,
/// kbd, rtc, cpu, exc must be enabled while it runs) and reads device state
/// through the board's inspection API; it never changes the machine.
public final class Diagnoser {
    public struct Diagnosis: Equatable {
        public var time: UInt64
        public var instructions: UInt64
        /// Stable identifier: irq-below-32, no-idt-gate, missing-eoi,
        /// eoi-nothing-in-service, eoi-master-only, kbd-not-read, spurious-irq,
        /// sti-never, hlt-if0, rtc-c-not-read.
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
    }

    /// Categories the diagnoser needs to see.
    public static let categories: TraceCategory = [.irq, .pic, .kbd, .rtc, .cpu, .exc]

    public var onDiagnosis: ((Diagnosis) -> Void)?
    public private(set) var diagnoses: [Diagnosis] = []

    private unowned let pc: PC
    private var said = Set<String>()

    // Interrupt bookkeeping from events.
    private var pendingSince = [UInt64?](repeating: nil, count: 16)
    private var lostEdges = [Int](repeating: 0, count: 16)
    private var raisedCount = [Int](repeating: 0, count: 16)
    private var lastInta: (irq: Int, vector: Int, spurious: Bool)?
    private var everSTI = false
    private var lastISR: [String: UInt8] = [:]
    private var obFullSince: UInt64?
    private var obByte: UInt8 = 0
    private var rtcHighSince: UInt64?
    private var now: UInt64 = 0
    private var insns: UInt64 = 0

    public init(pc: PC) { self.pc = pc }

    private func say(_ key: String, _ kind: String, irq: Int? = nil, vector: Int? = nil, _ message: String, fix: String) {
        guard !said.contains(key) else { return }
        said.insert(key)
        let d = Diagnosis(time: now, instructions: insns, kind: kind, irq: irq, vector: vector, message: message, fix: fix)
        diagnoses.append(d)
        onDiagnosis?(d)
    }

    private static func field(_ e: TraceEvent, _ name: String) -> TraceValue? {
        e.fields.first { $0.0 == name }?.1
    }
    private static func int(_ e: TraceEvent, _ name: String) -> Int? {
        switch field(e, name) {
        case .int(let i)?: return Int(i)
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

    private func chipFor(_ irq: Int) -> PIC8259 { irq < 8 ? pc.pics.master : pc.pics.slave }

    private func irqMasked(_ irq: Int) -> Bool {
        if irq < 8 { return pc.pics.master.imr & (1 << UInt8(irq)) != 0 }
        return pc.pics.slave.imr & (1 << UInt8(irq - 8)) != 0 || pc.pics.master.imr & 0x04 != 0
    }

    /// The highest-priority in-service level that blocks `irq`, as text.
    private func blockingLevel(for irq: Int) -> String? {
        let m = pc.pics.master.isr, s = pc.pics.slave.isr
        if irq >= 8, s != 0 {
            let l = (0..<8).first { s & (1 << UInt8($0)) != 0 }!
            return "IRQ\(8 + l) (slave level \(l))"
        }
        if m != 0 {
            let l = (0..<8).first { m & (1 << UInt8($0)) != 0 }!
            if l == 2 { return "IRQ2 (the cascade: a slave IRQ whose master EOI never came)" }
            return "IRQ\(l)"
        }
        return nil
    }

    public func observe(_ se: PC.StampedEvent) {
        now = se.time
        insns = se.instructions
        let e = se.event
        switch (e.category, e.name) {
        case (.irq, "line"):
            guard let irq = Diagnoser.int(e, "irq"), irq >= 0, irq < 16, let level = Diagnoser.bool(e, "level") else { return }
            if irq == 8 { rtcHighSince = level ? now : nil }
            guard level else { return }
            raisedCount[irq] += 1
            if pendingSince[irq] != nil {
                lostEdges[irq] += 1
                if lostEdges[irq] >= 2 && !irqMasked(irq), let blocker = blockingLevel(for: irq) {
                    let own = blocker.hasPrefix("IRQ\(irq) ") || blocker == "IRQ\(irq)"
                    say("missing-eoi-\(irq)", "missing-eoi", irq: irq,
                        "IRQ\(irq) keeps being raised but is not delivered: \(blocker) is still in service (its ISR bit was never cleared), which blocks \(own ? "its own level" : "IRQ\(irq)") and every lower-priority level" +
                        (own ? " (only one tick/interrupt ever arrives)" : ""),
                        fix: "send an EOI at the end of the handler: out 0x20, 0x20 for IRQ 0-7; for IRQ 8-15 out 0xA0, 0x20 then out 0x20, 0x20")
                }
            } else {
                pendingSince[irq] = now
            }
            checkTimedConditions()
        case (.pic, "inta"):
            guard let irq = Diagnoser.int(e, "irq"), let vector = Diagnoser.int(e, "vector") else { return }
            let spurious = Diagnoser.bool(e, "spurious") ?? false
            lastInta = (irq, vector, spurious)
            if spurious {
                let chip = irq >= 8 ? "slave" : "master"
                say("spurious-\(irq)", "spurious-irq", irq: irq, vector: vector,
                    "spurious IRQ\(irq) (vector \(vector)): the request went away before the acknowledge, so the \(chip) PIC answered with its IR7 vector and set no ISR bit",
                    fix: irq >= 8 ? "handle the vector; send EOI to the master only (its IR2 bit is in service), not to the slave"
                                  : "handle the vector and return without an EOI (ISR bit 7 is not set)")
            } else if irq >= 0 && irq < 16 {
                pendingSince[irq] = nil
                lostEdges[irq] = 0
                if vector < 32 {
                    let what = vector == 8 ? " (the timer arrives as a \"double fault\")" : ""
                    say("below32-\(irq)", "irq-below-32", irq: irq, vector: vector,
                        "IRQ\(irq) was delivered on vector \(vector), which belongs to a CPU exception\(what): the PIC still has the firmware's vector base (0x08/0x70)",
                        fix: "remap the PIC before sti: ICW1 0x11, ICW2 0x20 (master) and 0x28 (slave), ICW3 4/2, ICW4 0x01")
                }
            }
            lastISR["master"] = pc.pics.master.isr
            lastISR["slave"] = pc.pics.slave.isr
        case (.pic, "eoi"):
            let chip = Diagnoser.str(e, "chip") ?? "master"
            let level = Diagnoser.int(e, "level") ?? -1
            let specific = Diagnoser.bool(e, "specific") ?? false
            let before = lastISR[chip] ?? 0
            if level < 0 || (specific && before & (1 << UInt8(level & 7)) == 0) {
                say("eoi-none-\(chip)", "eoi-nothing-in-service",
                    "EOI sent to the \(chip) PIC with nothing in service" + (specific ? " at level \(level)" : ""),
                    fix: "send exactly one EOI per delivered IRQ, and none for a spurious IRQ7/15 (the slave gets none for a spurious IRQ15)")
            }
            if chip == "master" && level == 2 && pc.pics.slave.isr != 0 {
                let l: Int = (0..<8).first(where: { pc.pics.slave.isr & (1 << UInt8($0)) != 0 }) ?? 0
                say("eoi-master-only", "eoi-master-only", irq: 8 + l,
                    "EOI went to the master only while slave IRQ\(8 + l) is still in service on the slave: IRQ\(8 + l) and every lower slave level stay blocked",
                    fix: "for IRQ 8-15 send the EOI to the slave (out 0xA0, 0x20) and then to the master (out 0x20, 0x20)")
            }
            lastISR["master"] = pc.pics.master.isr
            lastISR["slave"] = pc.pics.slave.isr
        case (.kbd, "ob"):
            if obFullSince == nil { obFullSince = now }
            if case .hex(let b, _)? = Diagnoser.field(e, "byte") { obByte = UInt8(truncatingIfNeeded: b) }
        case (.kbd, "ob-read"):
            obFullSince = nil
        case (.kbd, "key"):
            if let since = obFullSince, now &- since > 100_000_000, pc.kbc.outputBufferFull {
                say("kbd-not-read", "kbd-not-read", irq: 1,
                    "a byte (0x\(String(obByte, radix: 16))) has waited in the 8042 output buffer for \(ms(now &- since)) and the guest never read port 0x60: IRQ1 stays high with no new edge, so no further keys arrive",
                    fix: "read the scancode from port 0x60 in the IRQ1 handler (every interrupt), then send EOI")
            }
        case (.rtc, "c-read"):
            rtcHighSince = nil
        case (.cpu, "sti"):
            everSTI = true
        case (.cpu, "hlt"):
            if Diagnoser.bool(e, "if") == false {
                say("hlt-if0", "hlt-if0",
                    "hlt with interrupts disabled (IF=0) at RIP \(Diagnoser.textField(e, "rip")): nothing can wake the CPU, the machine is dead",
                    fix: "execute sti before hlt (sti; hlt is safe: STI's one-instruction shadow keeps the wake-up)")
            }
        case (.cpu, "interrupt"):
            guard let v = Diagnoser.int(e, "vector") else { return }
            let external = Diagnoser.bool(e, "external") ?? false
            if Diagnoser.bool(e, "gate") == false {
                var what = "vector \(v)"
                if external, let l = lastInta, l.vector == v { what = "IRQ\(l.irq) on vector \(v)" }
                say("no-gate-\(v)", "no-idt-gate", irq: external ? lastInta?.irq : nil, vector: v,
                    "\(what) arrived but the IDT has no present gate for it: the CPU raises #NP/#GP instead, which usually ends in a double or triple fault",
                    fix: "install a handler for vector \(v) in the IDT (and load it with lidt) before enabling the interrupt, or mask that IRQ")
            }
        default:
            break
        }
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

    private func ms(_ ns: UInt64) -> String {
        let v = Double(ns) / 1e6
        return v >= 10 ? "\(Int(v)) ms" : "\(Int(v * 1000)) µs"
    }

    private func checkTimedConditions() {
        if let s = rtcHighSince, now &- s > 100_000_000 {
            say("rtc-c", "rtc-c-not-read", irq: 8,
                "the RTC's IRQ8 line has been high for \(ms(now &- s)): register C was not read after the interrupt, so the RTC keeps the line asserted and IRQ8 fires only once",
                fix: "read register C in the IRQ8 handler: out 0x70, 0x0C; in al, 0x71")
        }
    }

    /// Checks that only make sense at the end of a run.
    public func finish() {
        checkTimedConditions()
        if !everSTI && pc.cpu.rflags & 0x200 == 0 {
            if let irq = (0..<16).first(where: { raisedCount[$0] > 0 && !irqMasked($0) }) {
                say("sti-never", "sti-never", irq: irq,
                    "interrupts were never enabled (no sti): IRQ\(irq) was raised \(raisedCount[irq]) times and never delivered",
                    fix: "enable interrupts with sti once the IDT and the PIC are set up")
            }
        }
    }
}
