import Foundation
import XCTest
@testable import Board
import CPU
import Devices

/// A parsed JSON Lines trace.
struct JSONLTrace {
    var events: [[String: Any]]

    init(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        events = []
        for (n, l) in text.split(separator: "\n").enumerated() {
            guard let o = try JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any] else {
                XCTFail("line \(n + 1) is not a JSON object: \(l)", file: file, line: line)
                continue
            }
            events.append(o)
        }
    }

    static func run(_ args: [String], categories: String = "all") throws -> (Repo.Result, JSONLTrace) {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("swiftemu-trace-\(getpid())-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try Repo.swiftemu(args + ["--trace", categories, "--trace-format", "jsonl", "--trace-file", path])
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return (r, try JSONLTrace(text))
    }

    /// Events with this category and name whose fields match `fields`.
    func find(_ cat: String, _ ev: String, _ fields: [String: AnyHashable] = [:]) -> [[String: Any]] {
        events.filter { e in
            guard e["cat"] as? String == cat, e["ev"] as? String == ev else { return false }
            for (k, v) in fields {
                guard let x = e[k] else { return false }
                // JSON booleans come back as a Boolean NSNumber subclass.
                let isBool = "\(type(of: x))".contains("Bool")
                if let b = v as? Bool {
                    guard isBool, (x as? NSNumber)?.boolValue == b else { return false }
                } else if let i = v as? Int {
                    guard !isBool, (x as? NSNumber)?.intValue == i else { return false }
                } else if let s = v as? String {
                    guard x as? String == s else { return false }
                }
            }
            return true
        }
    }

    func has(_ cat: String, _ ev: String, _ fields: [String: AnyHashable] = [:]) -> Bool { !find(cat, ev, fields).isEmpty }

    var diagnosisKinds: Set<String> {
        Set(find("diag", "diagnosis").compactMap { $0["kind"] as? String })
    }
}

/// The trace: formats, categories, and that each documented event is emitted.
final class TraceTests: XCTestCase {
    func testTextLinesCarryTimeAndInstructionCount() throws {
        let r = try Repo.swiftemu([try Repo.kernel("irq_pit.elf"), "headless", "--trace", "irq,pic", "--keys", "1", "--keys-at", "100ms"])
        XCTAssertEqual(r.status, 33, r.stderr)
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("[") }
        XCTAssertGreaterThan(lines.count, 20)
        let re = try NSRegularExpression(pattern: #"^\[ *\d+\.\d{9} #\d+\] (irq|pic) [a-z0-9-]+( [a-z0-9-]+=("[^"]*"|\S+))*$"#)
        var lastNs: UInt64 = 0
        for l in lines {
            let s = String(l)
            XCTAssertNotNil(re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)), s)
            // Times never go backwards.
            let secs = s.dropFirst().split(separator: "#")[0].trimmingCharacters(in: .whitespaces)
            let parts = secs.split(separator: ".")
            let ns = UInt64(parts[0])! * 1_000_000_000 + UInt64(parts[1])!
            XCTAssertGreaterThanOrEqual(ns, lastNs, s)
            lastNs = ns
        }
        XCTAssertTrue(r.stderr.contains("] pic inta vector=0x21 irq=1 spurious=no"), r.stderr)
        XCTAssertTrue(r.stderr.contains("] irq line irq=1 level=yes"), r.stderr)
    }

    func testJSONLinesHaveTheDocumentedFields() throws {
        let (r, t) = try JSONLTrace.run([try Repo.kernel("irq_pit.elf"), "headless", "--keys", "1", "--keys-at", "100ms"])
        XCTAssertEqual(r.status, 33, r.stderr)
        XCTAssertGreaterThan(t.events.count, 100)
        var lastT: UInt64 = 0, lastI: UInt64 = 0
        let cats: Set<String> = ["irq", "pic", "pit", "kbd", "rtc", "uart", "vga", "exc", "io", "cpu", "diag"]
        for e in t.events {
            guard let tn = (e["t_ns"] as? NSNumber)?.uint64Value, let insn = (e["insn"] as? NSNumber)?.uint64Value,
                  let cat = e["cat"] as? String, e["ev"] is String else {
                XCTFail("missing t_ns/insn/cat/ev: \(e)"); continue
            }
            XCTAssertTrue(cats.contains(cat), cat)
            XCTAssertGreaterThanOrEqual(tn, lastT)
            XCTAssertGreaterThanOrEqual(insn, lastI)
            lastT = tn; lastI = insn
        }
        // Hex fields are numbers; booleans are JSON booleans.
        let inta = t.find("pic", "inta", ["irq": 1])
        XCTAssertEqual((inta.first?["vector"] as? NSNumber)?.intValue, 0x21)
        XCTAssertTrue(t.has("irq", "line", ["irq": 1, "level": true]))
    }

    func testCategoriesSelectWhatIsWritten() throws {
        let k = try Repo.kernel("irq_pit.elf")
        let (_, pit) = try JSONLTrace.run([k, "headless", "--timeout", "0.2"], categories: "pit")
        XCTAssertFalse(pit.events.isEmpty)
        XCTAssertEqual(Set(pit.events.compactMap { $0["cat"] as? String }), ["pit"])
        let (_, two) = try JSONLTrace.run([k, "headless", "--timeout", "0.2"], categories: "cpu,irq")
        XCTAssertEqual(Set(two.events.compactMap { $0["cat"] as? String }), ["cpu", "irq"])
        let bad = try Repo.swiftemu([k, "headless", "--trace", "irq,bogus"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("unknown category"), bad.stderr)
        let fmt = try Repo.swiftemu([k, "headless", "--trace", "irq", "--trace-format", "xml"])
        XCTAssertEqual(fmt.status, 64)
    }

    /// Every event the interrupt story needs, from a kernel that exercises
    /// the PIC, the PIT, the 8042 and keyboard, exceptions and paging.
    func testTheInterruptPathIsRecorded() throws {
        let (r, t) = try JSONLTrace.run([try Repo.kernel("trace_devices.elf"), "headless", "--keys", "a", "--keys-at", "30ms"])
        XCTAssertEqual(r.status, 33, r.stderr)
        // IRQ lines both ways.
        XCTAssertTrue(t.has("irq", "line", ["irq": 0, "level": true]))
        XCTAssertTrue(t.has("irq", "line", ["irq": 0, "level": false]))
        XCTAssertTrue(t.has("irq", "line", ["irq": 1, "level": true]))
        XCTAssertTrue(t.has("irq", "line", ["irq": 1, "level": false]))
        // PIC: init words, masks, INT, INTA with the vector, IRR/ISR, EOI.
        for i in 1...4 {
            XCTAssertTrue(t.has("pic", "icw", ["chip": "master", "index": i]), "ICW\(i) master")
            XCTAssertTrue(t.has("pic", "icw", ["chip": "slave", "index": i]), "ICW\(i) slave")
        }
        XCTAssertTrue(t.has("pic", "icw", ["chip": "master", "index": 2, "value": 0x20]))
        XCTAssertTrue(t.has("pic", "imr", ["chip": "master", "new": 0xBA]))
        XCTAssertTrue(t.has("pic", "int", ["level": true]))
        XCTAssertTrue(t.has("pic", "int", ["level": false]))
        XCTAssertTrue(t.has("pic", "inta", ["vector": 0x20, "irq": 0, "spurious": false]))
        XCTAssertTrue(t.has("pic", "inta", ["vector": 0x21, "irq": 1, "spurious": false]))
        XCTAssertTrue(t.has("pic", "irr", ["chip": "master", "old": 0, "new": 1]))
        XCTAssertTrue(t.has("pic", "isr", ["chip": "master", "old": 0, "new": 1]))
        XCTAssertTrue(t.has("pic", "isr", ["chip": "master", "old": 1, "new": 0]))
        XCTAssertTrue(t.has("pic", "eoi", ["chip": "master", "specific": false, "level": 0, "isr": 0]))
        XCTAssertTrue(t.has("pic", "eoi", ["chip": "master", "specific": false, "level": 1]))
        // PIT: control word, count, OUT edges.
        XCTAssertTrue(t.has("pit", "control", ["ch": 0, "value": 0x34, "mode": 2, "access": 3]))
        XCTAssertTrue(t.has("pit", "count", ["ch": 0, "value": 11932]))
        XCTAssertTrue(t.has("pit", "out", ["ch": 0, "level": true]))
        XCTAssertTrue(t.has("pit", "out", ["ch": 0, "level": false]))
        // 8042 commands and data both ways, the keyboard, a key and its bytes.
        XCTAssertTrue(t.has("kbd", "kbc-cmd", ["cmd": 0x20]))
        XCTAssertTrue(t.has("kbd", "kbc-cmd", ["cmd": 0x60]))
        XCTAssertTrue(t.has("kbd", "kbc-data", ["cmd": 0x60, "byte": 0x61]))
        XCTAssertTrue(t.has("kbd", "ob", ["byte": 0x61, "src": "ctl"]))
        XCTAssertTrue(t.has("kbd", "ob-read", ["byte": 0x61]))
        XCTAssertTrue(t.has("kbd", "kbd-cmd", ["byte": 0xF4]))
        XCTAssertTrue(t.has("kbd", "kbd-reply", ["byte": 0xFA]))
        XCTAssertTrue(t.has("kbd", "key", ["name": "a", "dir": "down", "bytes": "1C"]))
        XCTAssertTrue(t.has("kbd", "key", ["name": "a", "dir": "up", "bytes": "F0 1C"]))
        XCTAssertTrue(t.has("kbd", "ob", ["byte": 0x1E, "src": "kbd"]))   // set 1 after translation
        XCTAssertTrue(t.has("kbd", "ob", ["byte": 0x9E, "src": "kbd"]))
        // CPU: exception with error code and RIP, delivery, IRET, HLT/wake,
        // mode switches, descriptor tables, IF.
        let gp = t.find("exc", "exception", ["vector": 13])
        XCTAssertEqual(gp.count, 1)
        XCTAssertEqual((gp.first?["error"] as? NSNumber)?.intValue, 0x18)
        XCTAssertNotNil(gp.first?["rip"] as? NSNumber)
        XCTAssertTrue(t.has("cpu", "interrupt", ["vector": 0x2D, "external": false, "gate": true]))
        XCTAssertTrue(t.has("cpu", "interrupt", ["vector": 0x20, "external": true]))
        XCTAssertTrue(t.has("cpu", "iret"))
        XCTAssertTrue(t.has("cpu", "hlt", ["if": true]))
        XCTAssertTrue(t.has("cpu", "wake"))
        XCTAssertTrue(t.has("cpu", "mode", ["mode": "protected32"]))
        XCTAssertTrue(t.has("cpu", "mode", ["mode": "protected, paging on"]))
        XCTAssertTrue(t.has("cpu", "load-gdt", ["limit": 23]))
        XCTAssertTrue(t.has("cpu", "load-idt", ["limit": 383]))
        XCTAssertTrue(t.has("cpu", "if", ["on": true]))
        // The clean kernel draws no diagnosis.
        XCTAssertEqual(t.diagnosisKinds, [])
    }

    /// The order of one interrupt: line, IRR, INT, wake, INTA, ISR, the
    /// handler, EOI, IRET.
    func testOneInterruptInOrder() throws {
        let (r, t) = try JSONLTrace.run([try Repo.kernel("irq_pit.elf"), "headless", "--keys", "1", "--keys-at", "100ms"],
                                        categories: "irq,pic,kbd,cpu")
        XCTAssertEqual(r.status, 33, r.stderr)
        guard let key = t.events.firstIndex(where: { $0["cat"] as? String == "kbd" && $0["ev"] as? String == "key" }) else {
            return XCTFail("no key event")
        }
        let names = t.events[key...].prefix(16).map { "\($0["cat"]!) \($0["ev"]!)" }
        XCTAssertEqual(Array(names.prefix(13)), [
            "kbd key", "kbd ob", "irq line", "pic irr", "pic int", "cpu wake", "pic inta", "pic isr", "pic irr",
            "pic int", "cpu interrupt", "kbd ob-read", "irq line",
        ])
        XCTAssertTrue(names.contains("pic eoi"))
        XCTAssertTrue(names.contains("cpu iret"))
        // Every wake follows a hlt with IF=1 and precedes an INTA.
        for (i, e) in t.events.enumerated() where e["ev"] as? String == "wake" {
            let before = t.events[..<i].last { $0["ev"] as? String == "hlt" || $0["ev"] as? String == "wake" }
            XCTAssertEqual(before?["ev"] as? String, "hlt")
            XCTAssertEqual(t.events[i + 1]["ev"] as? String, "inta")
        }
    }

    func testSpuriousInterruptIsRecorded() throws {
        let (r, t) = try JSONLTrace.run([try Repo.kernel("diag_spurious.elf"), "headless"], categories: "pic,cpu")
        XCTAssertEqual(r.status, 33, r.stderr)
        XCTAssertTrue(t.has("pic", "inta", ["vector": 0x27, "irq": 7, "spurious": true]))
        XCTAssertTrue(t.has("cpu", "interrupt", ["vector": 0x27, "external": true, "gate": true]))
        // No ISR bit was set for it.
        XCTAssertFalse(t.has("pic", "isr", ["chip": "master", "new": 0x80]))
    }

    func testPortIOFilteredByPortRange() throws {
        let k = try Repo.kernel("irq_pit.elf")
        let (r, t) = try JSONLTrace.run([k, "headless", "--keys", "1", "--keys-at", "100ms", "--trace-ports", "0x20-0x21,0x60"],
                                        categories: "io")
        XCTAssertEqual(r.status, 33, r.stderr)
        let ports = Set(t.events.compactMap { ($0["port"] as? NSNumber)?.intValue })
        XCTAssertEqual(ports, [0x20, 0x21, 0x60])
        XCTAssertTrue(t.has("io", "out", ["port": 0x20, "size": 1, "value": 0x11]))
        XCTAssertTrue(t.has("io", "in", ["port": 0x60, "value": 0x02]))
        let (_, all) = try JSONLTrace.run([k, "headless", "--timeout", "0.1"], categories: "io")
        XCTAssertTrue(all.has("io", "out", ["port": 0xE9]))
        let bad = try Repo.swiftemu([k, "headless", "--trace", "io", "--trace-ports", "0x60-0x20"])
        XCTAssertEqual(bad.status, 64)
    }

    func testTraceGoesToStderrWithoutTraceFile() throws {
        let r = try Repo.swiftemu([try Repo.kernel("irq_pit.elf"), "headless", "--trace", "pit", "--timeout", "0.2"])
        XCTAssertEqual(r.status, 8)
        XCTAssertTrue(r.stderr.contains("] pit out ch=0 level=yes"), r.stderr)
        XCTAssertFalse(r.stdout.contains("pit out"))
    }

    /// Stop conditions and what the trace shows of them.
    func testStopConditionsInTheTrace() throws {
        let (tf, triple) = try JSONLTrace.run([try Repo.kernel("triple.elf"), "headless"], categories: "exc,cpu")
        XCTAssertEqual(tf.status, 4, tf.stderr)
        XCTAssertTrue(triple.has("cpu", "load-idt", ["limit": 0]))
        XCTAssertTrue(triple.has("cpu", "interrupt", ["vector": 3, "external": false, "gate": false]))
        XCTAssertTrue(triple.has("exc", "exception", ["vector": 13]))
        XCTAssertTrue(triple.has("exc", "exception", ["vector": 8]))
        XCTAssertTrue(triple.has("exc", "triple-fault"))

        let (hf, halt) = try JSONLTrace.run([try Repo.kernel("halt.elf"), "headless"], categories: "cpu")
        XCTAssertEqual(hf.status, 2)
        XCTAssertTrue(halt.has("cpu", "hlt", ["if": false]))
        XCTAssertFalse(halt.has("cpu", "wake"))

        let (rs, reset) = try JSONLTrace.run([try Repo.kernel("reset.elf"), "headless", "--no-reboot"], categories: "cpu,kbd")
        XCTAssertEqual(rs.status, 10)
        XCTAssertTrue(reset.has("kbd", "kbc-cmd", ["cmd": 0xFE]))
        XCTAssertTrue(reset.has("cpu", "reset", ["cause": "8042 reset pulse"]))

        let (ml, limit) = try JSONLTrace.run([try Repo.kernel("irq_pit.elf"), "headless", "--max-instructions", "900"], categories: "all")
        XCTAssertEqual(ml.status, 6)
        let lastInsn = limit.events.compactMap { ($0["insn"] as? NSNumber)?.uint64Value }.max() ?? 0
        XCTAssertLessThanOrEqual(lastInsn, 900)
        XCTAssertTrue(limit.has("pic", "inta", ["irq": 0]), "the first tick comes at instruction 789")

        let (to, timeout) = try JSONLTrace.run([try Repo.kernel("irq_pit.elf"), "headless", "--timeout", "0.1"], categories: "pit,pic")
        XCTAssertEqual(to.status, 8)
        let lastNs = timeout.events.compactMap { ($0["t_ns"] as? NSNumber)?.uint64Value }.max() ?? 0
        XCTAssertLessThanOrEqual(lastNs, 100_000_000)
        XCTAssertEqual(timeout.find("pic", "inta").count, 1, "one tick in 100 ms at 18.2 Hz")

        let (uo, until) = try JSONLTrace.run([try Repo.kernel("irq_pit.elf"), "headless", "--until-output", "tick 00000002"], categories: "pic")
        XCTAssertEqual(uo.status, 0)
        XCTAssertEqual(until.find("pic", "inta").count, 2)
        XCTAssertEqual(until.find("pic", "eoi").count, 1, "stops inside the second tick's handler, before its EOI")
    }

    /// With tracing and diagnoses off nothing reaches the trace sink and the
    /// CPU does not report events: the trace costs nothing per instruction.
    func testTracingOffNeverCallsTheSink() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try Repo.kernel("irq_pit.elf"))))
        let pc = PC()
        try pc.load(kernel: bytes, path: "irq_pit.elf", append: "")
        var stamped = 0, emitted = 0
        pc.onTrace = { _ in stamped += 1 }
        let handler = pc.trace.handler
        pc.trace.handler = { e in emitted += 1; handler?(e) }
        XCTAssertEqual(pc.trace.enabled, [])
        XCTAssertFalse(pc.cpu.reportEvents)
        XCTAssertNil(pc.run(until: 200_000_000))
        XCTAssertGreaterThan(pc.instructions, 1000)
        XCTAssertEqual(emitted, 0)
        XCTAssertEqual(stamped, 0)
        // Turned on, the same run produces events.
        let pc2 = PC()
        try pc2.load(kernel: bytes, path: "irq_pit.elf", append: "")
        var n = 0
        pc2.trace.enabled = .all
        pc2.onTrace = { _ in n += 1 }
        pc2.cpuEventHandler = { [unowned pc2] ev in pc2.trace.emit(ev.traceEvent) }
        XCTAssertTrue(pc2.cpu.reportEvents)
        XCTAssertNil(pc2.run(until: 200_000_000))
        XCTAssertGreaterThan(n, 100)
        XCTAssertEqual(pc2.instructions, pc.instructions, "tracing does not change the run")
    }

    func testCPUEventTraceForms() {
        let e = CPUEvent.exception(vector: 14, errorCode: 2, rip: 0x1000, cr2: 0xdead).traceEvent
        XCTAssertEqual(e.category, .exc)
        XCTAssertEqual(e.name, "exception")
        let text = TraceFormat.text.render(PC.StampedEvent(time: 1_500_000_123, instructions: 42, event: e))
        XCTAssertEqual(text, "[   1.500000123 #42] exc exception vector=14 name=\"#PF page fault\" rip=0x1000 error=0x0002 cr2=0xdead")
        let json = TraceFormat.jsonl.render(PC.StampedEvent(time: 7, instructions: 1, event: CPUEvent.interruptFlag(enabled: true, rip: 16).traceEvent))
        XCTAssertEqual(json, #"{"t_ns":7,"insn":1,"cat":"cpu","ev":"if","on":true,"rip":16}"#)
        let quoted = TraceFormat.jsonl.render(PC.StampedEvent(time: 0, instructions: 0, event: TraceEvent(.diag, "x", [("m", .str("a \"b\"\n\u{1}"))])))
        XCTAssertEqual(quoted, #"{"t_ns":0,"insn":0,"cat":"diag","ev":"x","m":"a \"b\"\n\u0001"}"#)
        XCTAssertEqual(TraceFormat.parseCategories("irq, PIC"), [.irq, .pic])
        XCTAssertNil(TraceFormat.parseCategories("irq,nope"))
        XCTAssertEqual(TraceFormat.parseCategories("all"), .all)
    }
}
