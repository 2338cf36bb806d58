import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// `swiftemu timeline TRACE.jsonl -o OUT.svg`.
final class TraceTimelineTests: XCTestCase {
    /// Collects the text of every <text> element while checking the XML.
    final class SVGReader: NSObject, XMLParserDelegate {
        var texts: [String] = []
        var elements: [String: Int] = [:]
        var root: String?
        private var current: String?
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if root == nil { root = name }
            elements[name, default: 0] += 1
            if name == "text" { current = "" }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { current? += string }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "text", let c = current { texts.append(c); current = nil }
        }
    }

    func timeline(_ kernel: String, _ args: [String], extra: [String] = []) throws -> (svg: String, reader: SVGReader, status: Int32) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("swiftemu-tl-\(getpid())-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base + ".jsonl"); try? FileManager.default.removeItem(atPath: base + ".svg") }
        let r = try Repo.swiftemu([try Repo.kernel(kernel), "headless"] + args
                                  + ["--trace", "all", "--trace-format", "jsonl", "--trace-file", base + ".jsonl"])
        XCTAssertTrue([33, 8].contains(r.status), r.stderr)
        let t = try Repo.swiftemu(["timeline", base + ".jsonl", "-o", base + ".svg"] + extra)
        XCTAssertEqual(t.status, 0, t.stderr)
        let svg = (try? String(contentsOfFile: base + ".svg", encoding: .utf8)) ?? ""
        let reader = SVGReader()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = reader
        XCTAssertTrue(parser.parse(), "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")")
        return (svg, reader, t.status)
    }

    func laneLabels(_ r: SVGReader) -> Set<String> {
        Set(r.texts.filter { $0.hasPrefix("IRQ") }.map { String($0.split(separator: " ")[0]) })
    }

    func testOneLanePerIRQInTheTrace() throws {
        let (svg, r, _) = try timeline("irq_pit.elf", ["--keys", "1", "--keys-at", "100ms"])
        XCTAssertEqual(r.root, "svg")
        XCTAssertTrue(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""))
        XCTAssertEqual(laneLabels(r), ["IRQ0", "IRQ1"])
        XCTAssertTrue(r.texts.contains("CPU"))
        XCTAssertTrue(r.texts.contains("PIT ch0 OUT"))
        XCTAssertTrue(r.texts.contains("2 delivered"), "\(r.texts)")
        XCTAssertTrue(r.texts.contains("1↓"), "the key press is marked")
        XCTAssertTrue(r.texts.contains("ms"))
        XCTAssertGreaterThan(r.elements["rect"] ?? 0, 10)
        XCTAssertFalse(r.texts.contains { $0.contains("no EOI") })
    }

    func testMissingEOIIsVisible() throws {
        let (_, r, _) = try timeline("diag_missing_eoi.elf", ["--timeout", "0.4"])
        XCTAssertEqual(laneLabels(r), ["IRQ0"])
        XCTAssertTrue(r.texts.contains("no EOI: IRQ0 still in service"), "\(r.texts)")
        XCTAssertTrue(r.texts.contains { $0.contains("missing-eoi") })
        XCTAssertTrue(r.texts.contains { $0.hasPrefix("1 delivered") && $0.contains("lost") }, "\(r.texts)")
    }

    func testSlaveIRQsGetTheirLanes() throws {
        let (_, r, _) = try timeline("diag_eoi_master_only.elf", [], extra: ["--to", "5", "--width", "900"])
        XCTAssertEqual(laneLabels(r), ["IRQ0", "IRQ2", "IRQ8"])
        XCTAssertTrue(r.texts.contains("no EOI: IRQ8 still in service"), "\(r.texts)")
        XCTAssertTrue(r.texts.contains { $0.contains("eoi-master-only") })
        XCTAssertTrue(r.texts.contains { $0.contains("0.000 – 5.000 ms") })
    }

    func testBadInput() throws {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("swiftemu-tl-bad-\(getpid()).txt").path
        try "[   0.000000010 #1] cpu load-gdt base=0x100518 limit=0x0017\n".write(toFile: p, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: p) }
        let r = try Repo.swiftemu(["timeline", p, "-o", p + ".svg"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("line 1 is not a trace event"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p + ".svg"))
        let noOut = try Repo.swiftemu(["timeline", p])
        XCTAssertEqual(noOut.status, 64)
        let missing = try Repo.swiftemu(["timeline", "/nonexistent.jsonl", "-o", p + ".svg"])
        XCTAssertEqual(missing.status, 64)
        XCTAssertTrue(missing.stderr.contains("cannot read"), missing.stderr)
    }
}
