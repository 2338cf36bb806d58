import Foundation

/// `swiftemu timeline TRACE.jsonl -o timeline.svg`: the interrupt story of
/// a recorded run over virtual time, as an SVG picture.
///
/// One lane per IRQ that appears in the trace, each with four strips: the
/// device's line level, the request pending in the PIC's IRR, the level in
/// service (ISR bit set until the EOI) and the guest's handler running
/// (interrupt delivery to IRET). A lane for the CPU shows HLT spans and
/// exceptions, one per PIT channel its OUT waveform. Diagnoses are red flags
/// on the lane they concern. A level left in service to the end of the trace
/// is drawn red and labelled "no EOI"; edges that arrive while the previous
/// request still waits (lost interrupts) are red ticks.
enum Timeline {
    static let usage = """
    usage: swiftemu timeline TRACE.jsonl -o OUT.svg [--from MS] [--to MS] [--width PIXELS]
      TRACE.jsonl  a trace written with --trace-format jsonl (categories irq,pic,cpu
                   at least; pit for OUT waveforms, kbd for key presses, diag for diagnoses)
      --from/--to  the window to draw, in virtual milliseconds (default: the whole trace)
      --width      drawing width in pixels (default 1400)
    """

    static func main(_ args: [String]) -> Never {
        var input: String?
        var output: String?
        var from: Double?
        var to: Double?
        var width = 1400.0
        var i = 0
        func value(_ name: String) -> String {
            i += 1
            guard i < args.count else { fail("\(name) needs a value") }
            return args[i]
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "-o", "--output": output = value(a)
            case "--from": guard let v = Double(value(a)), v >= 0 else { fail("--from wants milliseconds") }; from = v
            case "--to": guard let v = Double(value(a)), v > 0 else { fail("--to wants milliseconds") }; to = v
            case "--width":
                guard let v = Double(value(a)), v >= 300, v <= 100_000 else { fail("--width wants 300-100000 pixels") }
                width = v
            case "-h", "--help":
                print(usage)
                exit(0)
            default:
                if a.hasPrefix("-") || input != nil { fail("unexpected argument '\(a)'") }
                input = a
            }
            i += 1
        }
        guard let inPath = input else { fail("no trace file given") }
        guard let outPath = output else { fail("no output file given (-o OUT.svg)") }
        guard let data = FileManager.default.contents(atPath: inPath) else { fail("cannot read '\(inPath)'") }
        let model: TimelineModel
        do {
            model = try TimelineModel(jsonl: data)
        } catch let e as TimelineModel.ParseError {
            fail("\(inPath): \(e.description)")
        } catch {
            fail("\(inPath): \(error)")
        }
        let t0 = from.map { UInt64($0 * 1e6) } ?? model.start
        let t1 = to.map { UInt64($0 * 1e6) } ?? model.end
        guard t1 > t0 else { fail("nothing to draw: the window is empty") }
        let svg = TimelineSVG(model: model, from: t0, to: t1, width: width).render()
        do {
            try writeAtomically(outPath, Data(svg.utf8))
        } catch {
            fail("cannot write '\(outPath)'")
        }
        exit(0)
    }

    static func fail(_ message: String) -> Never {
        warn("timeline: " + message)
        FileHandle.standardError.write(Data((usage + "\n").utf8))
        exit(ExitStatus.usage)
    }
}

/// A span of virtual time [start, end).
struct Span {
    var start: UInt64
    var end: UInt64
    /// Still open when the trace ended.
    var open = false
}

/// What the trace says happened, per IRQ and for the CPU and the PIT.
struct TimelineModel {
    struct ParseError: Error, CustomStringConvertible { let description: String }

    struct Lane {
        var line: [Span] = []
        var pending: [Span] = []
        var inService: [Span] = []
        var handler: [Span] = []
        var lost: [UInt64] = []
        var delivered = 0
        var spurious: [UInt64] = []
        var keys: [(UInt64, String)] = []
        // open spans
        var lineSince: UInt64?
        var pendingSince: UInt64?
        var serviceSince: UInt64?
        var raisedWaiting = false
    }
    struct Diag { var time: UInt64; var kind: String; var irq: Int?; var message: String }

    var lanes: [Int: Lane] = [:]
    var halted: [Span] = []
    var dead: UInt64?
    var exceptions: [(UInt64, Int)] = []
    var pitEdges: [Int: [(UInt64, Bool)]] = [:]
    var diagnoses: [Diag] = []
    var start: UInt64 = 0
    var end: UInt64 = 0
    var events = 0
    /// The trace carried PIC IRR/ISR events (else pending/in-service are
    /// derived from line edges, INTA and EOI).
    var hasRegisterEvents = false

    init(jsonl data: Data) throws {
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        var parsed: [[String: Any]] = []
        parsed.reserveCapacity(lines.count)
        for (n, l) in lines.enumerated() {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(l)) as? [String: Any],
                  obj["t_ns"] != nil, obj["ev"] != nil else {
                throw ParseError(description: "line \(n + 1) is not a trace event (record the trace with --trace-format jsonl)")
            }
            parsed.append(obj)
        }
        hasRegisterEvents = parsed.contains { ($0["cat"] as? String) == "pic" && (($0["ev"] as? String) == "isr" || ($0["ev"] as? String) == "irr") }
        start = 0   // the picture starts at power-on
        for o in parsed { apply(o) }
        close()
    }

    private static func u64(_ v: Any?) -> UInt64? {
        if let n = v as? NSNumber { return n.uint64Value }
        return nil
    }
    private static func int(_ v: Any?) -> Int? {
        if let n = v as? NSNumber { return n.intValue }
        return nil
    }
    private static func bool(_ v: Any?) -> Bool? {
        if let n = v as? NSNumber { return n.boolValue }
        return nil
    }

    // Interrupt bookkeeping.
    private var lastInta: (irq: Int, vector: Int)?
    private var frames: [(irq: Int, since: UInt64)] = []
    private var haltSince: UInt64?

    private mutating func lane(_ irq: Int) -> Lane { lanes[irq] ?? Lane() }

    /// Fully nested priority: IR0 highest on the master, the slave's levels
    /// in place of the master's IR2.
    private static func priority(_ irq: Int) -> Int { irq < 8 ? irq * 16 : 2 * 16 + 1 + (irq - 8) }

    /// Whether a level in service now keeps `irq` from being delivered.
    private func blocked(_ irq: Int) -> Bool {
        let p = TimelineModel.priority(irq)
        for (j, l) in lanes where l.serviceSince != nil {
            let q = TimelineModel.priority(j)
            if q <= p && (j < 8 || irq >= 8) { return true }
        }
        return false
    }

    private mutating func apply(_ o: [String: Any]) {
        guard let t = TimelineModel.u64(o["t_ns"]), let cat = o["cat"] as? String, let ev = o["ev"] as? String else { return }
        events += 1
        end = max(end, t)
        switch (cat, ev) {
        case ("irq", "line"):
            guard let irq = TimelineModel.int(o["irq"]), (0..<16).contains(irq), let level = TimelineModel.bool(o["level"]) else { return }
            var l = lane(irq)
            if !level && l.lineSince == nil && l.line.isEmpty {
                // The first edge seen is a fall: the line was high before.
                l.line.append(Span(start: start, end: t))
            }
            if level {
                if l.lineSince == nil { l.lineSince = t }
                if l.raisedWaiting && blocked(irq) { l.lost.append(t) }
                l.raisedWaiting = true
                if !hasRegisterEvents && l.pendingSince == nil { l.pendingSince = t }
            } else if let s = l.lineSince {
                l.line.append(Span(start: s, end: t))
                l.lineSince = nil
            }
            lanes[irq] = l
        case ("pic", "irr"), ("pic", "isr"):
            guard let chip = o["chip"] as? String, let old = TimelineModel.int(o["old"]), let new = TimelineModel.int(o["new"]) else { return }
            for bit in 0..<8 where (old ^ new) & (1 << bit) != 0 {
                let irq = chip == "slave" ? 8 + bit : bit
                var l = lane(irq)
                let set = new & (1 << bit) != 0
                if ev == "irr" {
                    if set { l.pendingSince = l.pendingSince ?? t } else if let s = l.pendingSince { l.pending.append(Span(start: s, end: t)); l.pendingSince = nil }
                } else {
                    if set { l.serviceSince = l.serviceSince ?? t } else if let s = l.serviceSince { l.inService.append(Span(start: s, end: t)); l.serviceSince = nil }
                }
                lanes[irq] = l
            }
        case ("pic", "inta"):
            guard let irq = TimelineModel.int(o["irq"]), (0..<16).contains(irq), let v = TimelineModel.int(o["vector"]) else { return }
            var l = lane(irq)
            if TimelineModel.bool(o["spurious"]) == true {
                l.spurious.append(t)
                lanes[irq] = l
                lastInta = nil
                return
            }
            l.delivered += 1
            l.raisedWaiting = false
            if !hasRegisterEvents {
                if let s = l.pendingSince { l.pending.append(Span(start: s, end: t)); l.pendingSince = nil }
                if l.serviceSince == nil { l.serviceSince = t }
            }
            lanes[irq] = l
            lastInta = (irq, v)
        case ("pic", "eoi"):
            guard !hasRegisterEvents, let level = TimelineModel.int(o["level"]), (0..<8).contains(level) else { return }
            let irq = (o["chip"] as? String) == "slave" ? 8 + level : level
            if var l = lanes[irq], let s = l.serviceSince {
                l.inService.append(Span(start: s, end: t))
                l.serviceSince = nil
                lanes[irq] = l
            }
        case ("pit", "out"):
            guard let ch = TimelineModel.int(o["ch"]), let level = TimelineModel.bool(o["level"]) else { return }
            pitEdges[ch, default: []].append((t, level))
        case ("cpu", "interrupt"):
            endHalt(t)
            var irq = -1
            if TimelineModel.bool(o["external"]) == true, let l = lastInta, l.vector == TimelineModel.int(o["vector"]) {
                irq = l.irq
            }
            lastInta = nil
            frames.append((irq, t))
        case ("exc", "exception"):
            endHalt(t)
            exceptions.append((t, TimelineModel.int(o["vector"]) ?? -1))
            frames.append((-1, t))
        case ("cpu", "iret"):
            if let f = frames.popLast(), f.irq >= 0 {
                var l = lane(f.irq)
                l.handler.append(Span(start: f.since, end: t))
                lanes[f.irq] = l
            }
        case ("cpu", "hlt"):
            if TimelineModel.bool(o["if"]) == false { dead = dead ?? t } else { haltSince = haltSince ?? t }
        case ("cpu", "wake"):
            endHalt(t)
        case ("cpu", "reset"):
            frames = []
            endHalt(t)
        case ("kbd", "key"):
            let name = o["name"] as? String ?? "?"
            let dir = o["dir"] as? String ?? ""
            var l = lane(1)
            l.keys.append((t, name + (dir == "down" ? "↓" : dir == "up" ? "↑" : "⟳")))
            lanes[1] = l
        case ("diag", "diagnosis"):
            diagnoses.append(Diag(time: t, kind: o["kind"] as? String ?? "?", irq: TimelineModel.int(o["irq"]),
                                  message: o["message"] as? String ?? ""))
        default:
            break
        }
    }

    private mutating func endHalt(_ t: UInt64) {
        if let h = haltSince { halted.append(Span(start: h, end: t)); haltSince = nil }
    }

    /// Closes the spans still open at the end of the trace.
    private mutating func close() {
        for (irq, var l) in lanes {
            if let s = l.lineSince { l.line.append(Span(start: s, end: end, open: true)) }
            if let s = l.pendingSince { l.pending.append(Span(start: s, end: end, open: true)) }
            if let s = l.serviceSince { l.inService.append(Span(start: s, end: end, open: true)) }
            l.lineSince = nil; l.pendingSince = nil; l.serviceSince = nil
            lanes[irq] = l
        }
        for f in frames where f.irq >= 0 {
            lanes[f.irq]?.handler.append(Span(start: f.since, end: end, open: true))
        }
        if let h = haltSince { halted.append(Span(start: h, end: end, open: true)) }
        // Lanes with nothing but key presses (keyboard IRQ never raised) stay.
    }
}

/// Draws a `TimelineModel` as SVG.
struct TimelineSVG {
    let model: TimelineModel
    let from: UInt64
    let to: UInt64
    let width: Double

    let left = 175.0      // label column
    let right = 20.0
    let top = 70.0
    let strip = 9.0       // one strip of an IRQ lane
    let laneGap = 14.0

    static let names: [Int: String] = [
        0: "timer", 1: "keyboard", 2: "cascade", 3: "COM2", 4: "COM1", 5: "LPT2",
        6: "floppy", 7: "LPT1", 8: "RTC", 9: "ACPI", 12: "mouse", 13: "FPU", 14: "ATA 1", 15: "ATA 2",
    ]

    var plotWidth: Double { width - left - right }

    func x(_ t: UInt64) -> Double {
        let c = min(max(t, from), to)
        return left + Double(c - from) / Double(to - from) * plotWidth
    }

    static func num(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        if r == r.rounded() { return String(Int(r)) }
        return String(r)
    }

    static func escape(_ s: String) -> String {
        var o = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            default:
                // Characters XML 1.0 forbids are dropped.
                if c.value < 0x20 && c != "\t" && c != "\n" { continue }
                o.unicodeScalars.append(c)
            }
        }
        return o
    }

    /// Rectangles for spans, merging those closer than half a pixel so the
    /// picture stays small for long traces.
    func rects(_ spans: [Span], y: Double, h: Double, fill: String, openFill: String? = nil, title: String) -> String {
        var out = ""
        var cur: (x0: Double, x1: Double, open: Bool, n: Int)?
        func flush() {
            guard let c = cur else { return }
            let w = max(c.x1 - c.x0, 1.5)
            let f = c.open ? (openFill ?? fill) : fill
            out += "<rect x=\"\(Self.num(c.x0))\" y=\"\(Self.num(y))\" width=\"\(Self.num(w))\" height=\"\(Self.num(h))\" fill=\"\(f)\">"
            out += "<title>\(Self.escape(title))\(c.n > 1 ? " (\(c.n) spans)" : "")</title></rect>\n"
        }
        for s in spans where s.end >= from && s.start <= to {
            let x0 = x(s.start), x1 = x(s.end)
            if var c = cur, x0 - c.x1 < 0.5, c.open == s.open {
                c.x1 = max(c.x1, x1); c.n += 1; cur = c
            } else {
                flush()
                cur = (x0, x1, s.open, 1)
            }
        }
        flush()
        return out
    }

    /// A tick spacing of 1, 2 or 5 times a power of ten giving ~10 ticks.
    static func tickStep(_ rangeMs: Double) -> Double {
        let raw = rangeMs / 10
        let p = pow(10, floor(log10(raw)))
        for m in [1.0, 2.0, 5.0, 10.0] where m * p >= raw { return m * p }
        return 10 * p
    }

    func render() -> String {
        let irqs = model.lanes.keys.sorted()
        let pits = model.pitEdges.keys.sorted()
        let laneH = strip * 4
        var y = top
        var body = ""

        // Axis.
        let rangeMs = Double(to - from) / 1e6
        let step = Self.tickStep(rangeMs)
        let fromMs = Double(from) / 1e6
        var tick = (fromMs / step).rounded(.up) * step
        var axis = ""
        var grid = ""
        while tick <= fromMs + rangeMs + step * 1e-9 {
            let xx = left + (tick - fromMs) / rangeMs * plotWidth
            let label = step >= 1 ? Self.num(tick) : String(format: "%.\(max(0, Int(-floor(log10(step)))))f", tick)
            axis += "<text x=\"\(Self.num(xx))\" y=\"\(Self.num(top - 8))\" class=\"tick\">\(label)</text>\n"
            grid += "<line x1=\"\(Self.num(xx))\" x2=\"\(Self.num(xx))\" y1=\"\(Self.num(top - 4))\" y2=\"@BOTTOM@\" class=\"grid\"/>\n"
            tick += step
        }

        // CPU lane.
        body += label("CPU", "halted, exceptions", y: y, h: 18)
        body += "<rect x=\"\(Self.num(left))\" y=\"\(Self.num(y + 4))\" width=\"\(Self.num(plotWidth))\" height=\"10\" fill=\"#cfe8cf\"><title>running</title></rect>\n"
        body += rects(model.halted, y: y + 4, h: 10, fill: "#bbbbbb", title: "halted (HLT, waiting for an interrupt)")
        if let d = model.dead, d <= to {
            body += "<rect x=\"\(Self.num(x(d)))\" y=\"\(Self.num(y + 4))\" width=\"\(Self.num(max(1, x(to) - x(d))))\" height=\"10\" fill=\"#555555\"><title>HLT with IF=0: dead</title></rect>\n"
        }
        for (t, v) in model.exceptions where t >= from && t <= to {
            body += "<line x1=\"\(Self.num(x(t)))\" x2=\"\(Self.num(x(t)))\" y1=\"\(Self.num(y))\" y2=\"\(Self.num(y + 18))\" stroke=\"#8e24aa\" stroke-width=\"2\"><title>exception \(v)</title></line>\n"
        }
        body += diagFlags(nil, y: y)
        y += 18 + laneGap

        // IRQ lanes.
        for irq in irqs {
            guard let l = model.lanes[irq] else { continue }
            let name = Self.names[irq].map { " " + $0 } ?? ""
            var sub = irq == 2 ? "the slave's INT" : "\(l.delivered) delivered"
            if !l.spurious.isEmpty { sub += ", \(l.spurious.count) spurious" }
            if !l.lost.isEmpty { sub += ", \(l.lost.count) lost" }
            body += label("IRQ\(irq)\(name)", sub, y: y, h: laneH)
            body += "<rect x=\"\(Self.num(left))\" y=\"\(Self.num(y))\" width=\"\(Self.num(plotWidth))\" height=\"\(Self.num(laneH))\" fill=\"#f7f7f7\"/>\n"
            body += rects(l.line, y: y + 1, h: strip - 2, fill: "#7f8c8d", title: "IRQ\(irq) line high")
            body += rects(l.pending, y: y + strip + 1, h: strip - 2, fill: "#f39c12", openFill: "#e74c3c", title: "IRQ\(irq) pending in the IRR")
            body += rects(l.inService, y: y + 2 * strip + 1, h: strip - 2, fill: "#2e86de", openFill: "#e74c3c", title: "IRQ\(irq) in service (ISR bit set until the EOI)")
            body += rects(l.handler, y: y + 3 * strip + 1, h: strip - 2, fill: "#27ae60", openFill: "#1e8449", title: "IRQ\(irq) handler running (delivery to IRET)")
            if let s = l.inService.last, s.open, s.start <= to {
                let x0 = max(x(s.start), left)
                let onBar = x(to) - x0 > 200
                body += "<text x=\"\(Self.num(onBar ? x0 + 6 : x0 - 4))\" y=\"\(Self.num(y + 3 * strip - 1.5))\" class=\"\(onBar ? "onbar" : "alarm")\"\(onBar ? "" : " style=\"text-anchor: end\"")>no EOI: IRQ\(irq) still in service</text>\n"
            }
            for t in l.lost where t >= from && t <= to {
                body += "<line x1=\"\(Self.num(x(t)))\" x2=\"\(Self.num(x(t)))\" y1=\"\(Self.num(y - 2))\" y2=\"\(Self.num(y + 2 * strip))\" stroke=\"#e74c3c\" stroke-width=\"1.5\"><title>IRQ\(irq) raised again while the previous request still waits: an interrupt lost</title></line>\n"
            }
            for t in l.spurious where t >= from && t <= to {
                body += "<circle cx=\"\(Self.num(x(t)))\" cy=\"\(Self.num(y + 2.5 * strip))\" r=\"4\" fill=\"none\" stroke=\"#8e24aa\" stroke-width=\"1.5\"><title>spurious IRQ\(irq): the request vanished before INTA</title></circle>\n"
            }
            var lastLabel = -Double.infinity
            for (t, k) in l.keys where t >= from && t <= to {
                // A label where there is room for it, a tick otherwise.
                let xx = x(t)
                if xx - lastLabel >= Double(k.count) * 6 + 6 {
                    body += "<text x=\"\(Self.num(xx))\" y=\"\(Self.num(y - 2))\" class=\"key\">\(Self.escape(k))</text>\n"
                    lastLabel = xx
                } else {
                    body += "<line x1=\"\(Self.num(xx))\" x2=\"\(Self.num(xx))\" y1=\"\(Self.num(y - 5))\" y2=\"\(Self.num(y - 1))\" stroke=\"#6c3483\"><title>\(Self.escape(k))</title></line>\n"
                }
            }
            body += diagFlags(irq, y: y)
            y += laneH + laneGap
        }

        // PIT OUT waveforms.
        for ch in pits {
            let edges = model.pitEdges[ch] ?? []
            body += label("PIT ch\(ch) OUT", "\(edges.filter { $0.1 }.count) rising edges", y: y, h: 20)
            let hi = y + 3, lo = y + 17
            // Level before the first edge: the opposite of that edge.
            var level = !(edges.first?.1 ?? true)
            var path = "M\(Self.num(left)),\(Self.num(level ? hi : lo))"
            var lastX = left
            for (t, l) in edges where l != level {
                if t > to { break }
                let xx = x(t)
                if t >= from {
                    path += " H\(Self.num(xx)) V\(Self.num(l ? hi : lo))"
                    lastX = xx
                } else {
                    path = "M\(Self.num(left)),\(Self.num(l ? hi : lo))"
                }
                level = l
            }
            if lastX < left + plotWidth { path += " H\(Self.num(left + plotWidth))" }
            body += "<path d=\"\(path)\" fill=\"none\" stroke=\"#34495e\" stroke-width=\"1\"/>\n"
            y += 20 + laneGap
        }

        // Diagnoses listed below the chart.
        let bottom = y
        var notes = ""
        var ny = y + 16
        let shown = model.diagnoses.enumerated().filter { $0.element.time >= from && $0.element.time <= to }
        if !shown.isEmpty {
            notes += "<text x=\"10\" y=\"\(Self.num(ny))\" class=\"head\">Diagnoses</text>\n"
            ny += 18
            for (n, d) in shown {
                let t = String(format: "%.3f", Double(d.time) / 1e6)
                // Cut to the picture's width; the whole text is the tooltip.
                let head = "⚑\(n + 1) \(d.kind)"
                let room = max(20, Int((width - 20) / 6.1) - head.count - t.count - 8)
                let msg = d.message.count > room ? String(d.message.prefix(room - 1)) + "…" : d.message
                notes += "<text x=\"10\" y=\"\(Self.num(ny))\" class=\"note\"><title>\(Self.escape(d.message))</title><tspan class=\"alarm\">\(Self.escape(head))</tspan> at \(t) ms: \(Self.escape(msg))</text>\n"
                ny += 16
            }
        }
        let height = ny + 12

        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.num(width))\" height=\"\(Self.num(height))\" viewBox=\"0 0 \(Self.num(width)) \(Self.num(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
        s += """
        <style>
        .title { font-size: 15px; font-weight: bold; fill: #222; }
        .legend { font-size: 11px; fill: #333; }
        .lane { font-size: 12px; font-weight: bold; fill: #222; }
        .sub { font-size: 10px; fill: #666; }
        .tick { font-size: 10px; fill: #555; text-anchor: middle; }
        .grid { stroke: #e0e0e0; stroke-width: 1; }
        .alarm { font-size: 11px; fill: #c0392b; font-weight: bold; }
        .onbar { font-size: 8px; fill: #ffffff; font-weight: bold; }
        .key { font-size: 10px; fill: #6c3483; text-anchor: middle; }
        .head { font-size: 13px; font-weight: bold; fill: #222; }
        .note { font-size: 11px; fill: #333; }
        </style>

        """
        s += "<rect x=\"0\" y=\"0\" width=\"\(Self.num(width))\" height=\"\(Self.num(height))\" fill=\"#ffffff\"/>\n"
        let span = String(format: "%.3f – %.3f ms", Double(from) / 1e6, Double(to) / 1e6)
        s += "<text x=\"10\" y=\"20\" class=\"title\">Interrupt timeline, virtual time \(span) (\(model.events) events)</text>\n"
        s += legend(y: 40)
        s += "<text x=\"\(Self.num(left - 8))\" y=\"\(Self.num(top - 8))\" class=\"tick\" style=\"text-anchor: end\">ms</text>\n"
        s += grid.replacingOccurrences(of: "@BOTTOM@", with: Self.num(bottom - laneGap + 2))
        s += axis
        s += body
        s += notes
        s += "</svg>\n"
        return s
    }

    func legend(y: Double) -> String {
        let items: [(String, String)] = [
            ("#7f8c8d", "line high"), ("#f39c12", "pending (IRR)"), ("#2e86de", "in service (ISR, until EOI)"),
            ("#27ae60", "handler running"), ("#e74c3c", "never ended / lost edge"), ("#bbbbbb", "CPU halted"),
        ]
        var s = ""
        var xx = 10.0
        for (c, t) in items {
            s += "<rect x=\"\(Self.num(xx))\" y=\"\(Self.num(y - 9))\" width=\"12\" height=\"10\" fill=\"\(c)\"/>"
            s += "<text x=\"\(Self.num(xx + 16))\" y=\"\(Self.num(y))\" class=\"legend\">\(Self.escape(t))</text>\n"
            xx += 22 + Double(t.count) * 6.2
        }
        return s
    }

    func label(_ title: String, _ sub: String, y: Double, h: Double) -> String {
        var s = "<text x=\"10\" y=\"\(Self.num(y + min(h, 20) / 2 + 2))\" class=\"lane\">\(Self.escape(title))</text>\n"
        s += "<text x=\"10\" y=\"\(Self.num(y + min(h, 20) / 2 + 14))\" class=\"sub\">\(Self.escape(sub))</text>\n"
        return s
    }

    /// Red flags for the diagnoses about `irq` (nil: those without an IRQ).
    func diagFlags(_ irq: Int?, y: Double) -> String {
        var s = ""
        for (n, d) in model.diagnoses.enumerated() where d.time >= from && d.time <= to {
            let mine = irq == nil ? (d.irq == nil || model.lanes[d.irq!] == nil) : d.irq == irq
            guard mine else { continue }
            let xx = x(d.time)
            s += "<path d=\"M\(Self.num(xx)),\(Self.num(y + 2)) v-12 l9,4 l-9,4\" fill=\"#e74c3c\" stroke=\"#c0392b\" stroke-width=\"1\">"
            s += "<title>\(Self.escape(d.kind + ": " + d.message))</title></path>\n"
            s += "<text x=\"\(Self.num(xx + 11))\" y=\"\(Self.num(y - 2))\" class=\"alarm\">⚑\(n + 1) \(Self.escape(d.kind))</text>\n"
        }
        return s
    }
}
