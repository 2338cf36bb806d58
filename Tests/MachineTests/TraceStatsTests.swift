import Foundation
import XCTest
@testable import Board
import Devices

/// --stats: interrupts per IRQ, latency, handler time, halted time, MIPS.
final class TraceStatsTests: XCTestCase {
    struct Row { var irq: Int; var count: Int; var spurious: Int; var latMean: Double; var latWorst: Double; var hMean: Double; var hTotal: Double }

    func parse(_ stderr: String) -> (rows: [Int: Row], lines: [String: String]) {
        var rows: [Int: Row] = [:]
        var lines: [String: String] = [:]
        var inTable = false
        for l in stderr.split(separator: "\n").map(String.init) {
            if l.hasPrefix("IRQ  count") { inTable = true; continue }
            let cols = l.split(separator: " ").map(String.init)
            if inTable, cols.count == 7, let irq = Int(cols[0]) {
                rows[irq] = Row(irq: irq, count: Int(cols[1])!, spurious: Int(cols[2])!, latMean: Double(cols[3])!,
                                latWorst: Double(cols[4])!, hMean: Double(cols[5])!, hTotal: Double(cols[6])!)
            } else {
                for key in ["instructions", "virtual time", "halted", "host time"] where l.hasPrefix(key) { lines[key] = l }
            }
        }
        return (rows, lines)
    }

    func testStatsOfTimerAndKeyboard() throws {
        let r = try Repo.swiftemu([try Repo.kernel("irq_pit.elf"), "headless", "--stats", "--keys", "1", "--keys-at", "100ms"])
        XCTAssertEqual(r.status, 33, r.stderr)
        let (rows, lines) = parse(r.stderr)
        XCTAssertEqual(rows[0]?.count, 2, r.stderr)
        XCTAssertEqual(rows[1]?.count, 2, r.stderr)
        XCTAssertNil(rows[8])
        // The CPU was halted when each IRQ came: delivered at once.
        XCTAssertEqual(rows[0]?.latWorst, 0)
        // Handler time: ~126 instructions of 10 ns for the tick handler.
        XCTAssertEqual(rows[0]?.hMean ?? 0, 1.26, accuracy: 0.2)
        XCTAssertEqual(rows[1]?.hMean ?? 0, 1.5, accuracy: 0.2)
        XCTAssertNotNil(lines["instructions"])
        XCTAssertTrue(lines["halted"]?.contains("% of virtual time") ?? false, r.stderr)
        XCTAssertTrue(lines["host time"]?.contains("MIPS") ?? false, r.stderr)
        let insn = Int(lines["instructions"]!.split(separator: " ").last!)!
        XCTAssertGreaterThan(insn, 1000)
    }

    func testSpuriousIRQsAreCountedApart() throws {
        // The spurious kernel keeps IF=0 while IRQ1 is raised and read: the
        // spurious IRQ7 is counted, no IRQ1.
        let r = try Repo.swiftemu([try Repo.kernel("diag_spurious.elf"), "headless", "--stats", "--diagnose", "off"])
        XCTAssertEqual(r.status, 33, r.stderr)
        let (rows, _) = parse(r.stderr)
        XCTAssertEqual(rows[7]?.spurious, 1, r.stderr)
        XCTAssertEqual(rows[7]?.count, 0)
        XCTAssertNil(rows[1])
    }

    /// The latency is the time from the line's rise to the handler's first
    /// instruction, measured on the event stream.
    func testLatencyAndHandlerTimeFromEvents() {
        let s = InterruptStats()
        func ev(_ t: UInt64, _ c: TraceCategory, _ n: String, _ f: [(String, TraceValue)]) {
            s.observe(PC.StampedEvent(time: t, instructions: t / 10, event: TraceEvent(c, n, f)))
        }
        ev(1000, .cpu, "hlt", [("if", .bool(true))])
        ev(5000, .irq, "line", [("irq", .int(3)), ("level", .bool(true))])
        ev(6000, .pic, "inta", [("vector", .hex(0x23, digits: 2)), ("irq", .int(3)), ("spurious", .bool(false))])
        ev(7000, .cpu, "interrupt", [("vector", .int(0x23)), ("external", .bool(true))])
        ev(7500, .exc, "exception", [("vector", .int(14))])     // nested page fault
        ev(8000, .cpu, "iret", [])
        ev(9000, .cpu, "iret", [])
        s.finish(at: 10_000)
        XCTAssertEqual(s.irqs[3].count, 1)
        XCTAssertEqual(s.irqs[3].latencyTotal, 2000)
        XCTAssertEqual(s.irqs[3].latencyWorst, 2000)
        XCTAssertEqual(s.irqs[3].handlerTotal, 2000)
        XCTAssertEqual(s.exceptions[14], 1)
        XCTAssertEqual(s.haltedNs, 6000)
        let text = s.summary(instructions: 1000, virtualNs: 10_000, hostSeconds: 0.001)
        XCTAssertTrue(text.contains("  3      1         0"), text)
        XCTAssertTrue(text.contains("exception 14 (#PF page fault): 1"), text)
        XCTAssertTrue(text.contains("60% of virtual time"), text)
        XCTAssertTrue(text.contains("1.0 MIPS"), text)
    }
}
