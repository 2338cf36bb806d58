import CPU
import Devices

/// Interrupt statistics from the event stream: interrupts per IRQ, latency
/// from the line's rising edge to the handler's first instruction, time in
/// each handler, time halted.
public final class InterruptStats {
    public static let categories: TraceCategory = [.irq, .pic, .cpu, .exc]

    public struct PerIRQ {
        public var count = 0
        public var latencyTotal: UInt64 = 0
        public var latencyWorst: UInt64 = 0
        public var handlerTotal: UInt64 = 0
        public var spurious = 0
    }
    public private(set) var irqs = [PerIRQ](repeating: PerIRQ(), count: 16)
    public private(set) var exceptions = [Int](repeating: 0, count: 32)
    public private(set) var haltedNs: UInt64 = 0

    private var raisedAt = [UInt64?](repeating: nil, count: 16)
    private var lastInta: (irq: Int, vector: Int)?
    /// Handlers entered and not yet returned: (irq or -1, entry time).
    private var frames: [(Int, UInt64)] = []
    private var haltStart: UInt64?

    public init() {}

    public func observe(_ se: PC.StampedEvent) {
        let e = se.event
        func int(_ n: String) -> Int? {
            switch e.fields.first(where: { $0.0 == n })?.1 {
            case .int(let i)?: return Int(i)
            case .hex(let h, _)?: return Int(truncatingIfNeeded: h)
            default: return nil
            }
        }
        func bool(_ n: String) -> Bool? {
            if case .bool(let b)? = e.fields.first(where: { $0.0 == n })?.1 { return b }
            return nil
        }
        switch (e.category, e.name) {
        case (.irq, "line"):
            if let i = int("irq"), i >= 0, i < 16, bool("level") == true, raisedAt[i] == nil { raisedAt[i] = se.time }
        case (.pic, "inta"):
            guard let i = int("irq"), i >= 0, i < 16, let v = int("vector") else { return }
            if bool("spurious") == true { irqs[i].spurious += 1; lastInta = nil; return }
            lastInta = (i, v)
        case (.cpu, "interrupt"):
            endHalt(se.time)
            var irq = -1
            if bool("external") == true, let l = lastInta, l.vector == int("vector") {
                irq = l.irq
                lastInta = nil
                irqs[irq].count += 1
                if let r = raisedAt[irq] {
                    let lat = se.time &- r
                    irqs[irq].latencyTotal += lat
                    irqs[irq].latencyWorst = max(irqs[irq].latencyWorst, lat)
                }
                raisedAt[irq] = nil
            }
            frames.append((irq, se.time))
        case (.exc, "exception"):
            endHalt(se.time)
            if let v = int("vector"), v >= 0, v < 32 { exceptions[v] += 1 }
            frames.append((-1, se.time))   // its handler ends with an IRET too
        case (.cpu, "wake"):
            endHalt(se.time)
        case (.cpu, "iret"):
            if let (irq, t) = frames.popLast(), irq >= 0 { irqs[irq].handlerTotal += se.time &- t }
        case (.cpu, "hlt"):
            if bool("if") != false { haltStart = se.time }
        case (.cpu, "reset"):
            frames = []
            raisedAt = .init(repeating: nil, count: 16)
            lastInta = nil
        default:
            break
        }
    }

    private func endHalt(_ t: UInt64) {
        if let h = haltStart { haltedNs += t &- h; haltStart = nil }
    }

    public func finish(at t: UInt64) { endHalt(t) }

    /// A human-readable summary. Latency runs from the IRQ line's rising
    /// edge to the handler's first instruction; handler time from there to
    /// its IRET (nested handlers included), in virtual µs.
    /// Host memory figures for the summary: the process's peak resident set
    /// and how much of guest RAM the host committed (bytes).
    public struct HostMemory: Sendable {
        public var peakRSS: Int
        public var ramResident: Int
        public var ramSize: Int
        public init(peakRSS: Int, ramResident: Int, ramSize: Int) {
            self.peakRSS = peakRSS; self.ramResident = ramResident; self.ramSize = ramSize
        }
    }

    public func summary(instructions: UInt64, virtualNs: UInt64, hostSeconds: Double, memory: HostMemory? = nil) -> String {
        // Microseconds with two decimals below 10 µs, whole above.
        func us(_ ns: UInt64) -> String {
            if ns >= 10_000 { return String((ns + 500) / 1000) }
            let hundredths = (ns + 5) / 10
            let frac = String(hundredths % 100)
            return String(hundredths / 100) + "." + (frac.count < 2 ? "0" + frac : frac)
        }
        var s = "== swiftemu stats ==\n"
        s += "instructions     \(instructions)\n"
        s += "virtual time     \(TraceFormat.seconds(virtualNs).trimmingCharacters()) s\n"
        let pct = virtualNs > 0 ? Double(haltedNs) * 100 / Double(virtualNs) : 0
        s += "halted           \(TraceFormat.seconds(haltedNs).trimmingCharacters()) s (\(Int(pct.rounded()))% of virtual time)\n"
        let mips = hostSeconds > 0 ? Double(instructions) / hostSeconds / 1e6 : 0
        let mipsText = mips >= 100 ? String(Int(mips.rounded())) : String(Double(Int(mips * 10)) / 10)
        s += "host time        \(String(Double(Int(hostSeconds * 1000)) / 1000)) s, \(mipsText) MIPS\n"
        if let m = memory {
            func mib(_ b: Int) -> String { String(Double((b * 10) >> 20) / 10) }
            s += "host memory      peak RSS \(mib(m.peakRSS)) MiB, guest RAM resident \(mib(m.ramResident)) of \(mib(m.ramSize)) MiB,"
            s += " emulator \(mib(max(0, m.peakRSS - m.ramResident))) MiB\n"
        }
        s += "IRQ  count  spurious  latency-mean-us  latency-worst-us  handler-mean-us  handler-total-us\n"
        for (i, r) in irqs.enumerated() where r.count > 0 || r.spurious > 0 {
            let mean = r.count > 0 ? r.latencyTotal / UInt64(r.count) : 0
            let hmean = r.count > 0 ? r.handlerTotal / UInt64(r.count) : 0
            s += pad(String(i), 3) + "  " + pad(String(r.count), 5) + "  " + pad(String(r.spurious), 8) + "  "
            s += pad(us(mean), 15) + "  " + pad(us(r.latencyWorst), 16) + "  " + pad(us(hmean), 15) + "  " + pad(us(r.handlerTotal), 16) + "\n"
        }
        for (v, n) in exceptions.enumerated() where n > 0 {
            s += "exception \(v) (\(CPUEvent.exceptionName(UInt8(v)))): \(n)\n"
        }
        return s
    }

    private func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
}

extension String {
    /// Drops leading spaces (of right-aligned numbers).
    public func trimmingCharacters() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        return String(s)
    }
}
