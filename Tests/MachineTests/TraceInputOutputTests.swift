import Foundation
import XCTest

/// Scripted input (--keys, --input), screen output (--dump-screen,
/// --screenshot, --dump-at) and determinism of everything a run writes.
final class TraceInputOutputTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftemu-io-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func testKeysArriveAtTheirVirtualTimes() throws {
        let (r, t) = try JSONLTrace.run([try Repo.kernel("irq_pit.elf"), "headless", "--keys", "A", "--keys-at", "250ms"],
                                        categories: "kbd")
        XCTAssertEqual(r.status, 33, r.stderr)
        // Shift is pressed first, then A 5 ms later; A is held 30 ms.
        let keys = t.find("kbd", "key").map { "\($0["name"]!) \($0["dir"]!) \(($0["t_ns"] as! NSNumber).uint64Value / 1_000_000)" }
        XCTAssertEqual(Array(keys.prefix(2)), ["lshift down 250", "a down 255"])
        XCTAssertTrue(r.stdout.contains("scancode 0000002a\n"), r.stdout)   // left shift make, set 1
        XCTAssertTrue(r.stdout.contains("scancode 0000001e\n"), r.stdout)   // A make
    }

    func testInputFileDrivesKeysAndSerial() throws {
        let script = """
        # an input script
        120ms key 2
        +100ms keydown esc
        +20ms keyup esc
        """
        try script.write(toFile: path("in.txt"), atomically: true, encoding: .utf8)
        let (r, t) = try JSONLTrace.run([try Repo.kernel("irq_pit.elf"), "headless", "--input", path("in.txt")], categories: "kbd")
        XCTAssertEqual(r.status, 33, r.stderr)
        XCTAssertTrue(r.stdout.contains("scancode 00000003\nscancode 00000083\n"), r.stdout)
        let downs = t.find("kbd", "key", ["dir": "down"]).map { ($0["t_ns"] as! NSNumber).uint64Value }
        XCTAssertEqual(downs.first, 120_000_000)

        try "1s bogus thing\n".write(toFile: path("bad.txt"), atomically: true, encoding: .utf8)
        let bad = try Repo.swiftemu([try Repo.kernel("irq_pit.elf"), "headless", "--input", path("bad.txt")])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("line 1: unknown action 'bogus'"), bad.stderr)
        let badKeys = try Repo.swiftemu([try Repo.kernel("irq_pit.elf"), "headless", "--keys", "{nosuchkey}"])
        XCTAssertEqual(badKeys.status, 64)
        XCTAssertTrue(badKeys.stderr.contains("unknown key name"), badKeys.stderr)
    }

    func testScreenDumpScreenshotAndDumpAt() throws {
        let r = try Repo.swiftemu([try Repo.kernel("trace_devices.elf"), "headless", "--keys", "a", "--keys-at", "30ms",
                                   "--dump-screen", path("screen.txt"), "--screenshot", path("shot.png"), "--dump-at", "20ms,50ms"])
        XCTAssertEqual(r.status, 33, r.stderr)
        let final = try String(contentsOfFile: path("screen.txt"), encoding: .utf8).components(separatedBy: "\n")
        XCTAssertEqual(final.count, 26)   // 25 rows and the final newline
        XCTAssertEqual(final[0].trimmingCharacters(in: .whitespaces), "trace_devices: IRQ1 bytes below")
        XCTAssertEqual(final[1].trimmingCharacters(in: .whitespaces), "fa 1e 9e")
        XCTAssertEqual(final[0].count, 80)
        // At 20 ms only the keyboard's ACK had come; at 50 ms the key's make code too.
        let at20 = try String(contentsOfFile: path("screen.txt.20ms"), encoding: .utf8).components(separatedBy: "\n")
        XCTAssertEqual(at20[1].trimmingCharacters(in: .whitespaces), "fa")
        let at50 = try String(contentsOfFile: path("screen.txt.50ms"), encoding: .utf8).components(separatedBy: "\n")
        XCTAssertEqual(at50[1].trimmingCharacters(in: .whitespaces), "fa 1e")
        // PNG: signature, IHDR 720x400 (80x25 cells of 9x16), RGBA.
        for f in ["shot.png", "shot.png.20ms", "shot.png.50ms"] {
            let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(f))))
            XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], f)
            XCTAssertEqual(String(decoding: png[12..<16], as: UTF8.self), "IHDR")
            let w = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, h = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
            XCTAssertEqual(w, 720); XCTAssertEqual(h, 400)
            XCTAssertEqual(png[25], 6)
            XCTAssertEqual(String(decoding: png[(png.count - 8)..<(png.count - 4)], as: UTF8.self), "IEND")
        }
        let shots = try ["shot.png.20ms", "shot.png.50ms"].map { try Data(contentsOf: URL(fileURLWithPath: path($0))) }
        XCTAssertNotEqual(shots[0], shots[1], "the screen changed between 20 and 50 ms")
        let bad = try Repo.swiftemu([try Repo.kernel("hello.elf"), "headless", "--dump-at", "1s"])
        XCTAssertEqual(bad.status, 64)
    }

    /// Same kernel, flags and input: byte-identical stdout, trace and dumps.
    func testRunsAreByteIdentical() throws {
        var runs: [[Data]] = []
        for i in 0..<2 {
            let r = try Repo.swiftemu([try Repo.kernel("trace_devices.elf"), "headless", "--keys", "ab\\n", "--keys-at", "15ms",
                                       "--trace", "all", "--trace-format", "jsonl", "--trace-file", path("t\(i).jsonl"),
                                       "--dump-screen", path("s\(i).txt"), "--screenshot", path("p\(i).png"), "--dump-at", "40ms"])
            XCTAssertEqual(r.status, 33, r.stderr)
            runs.append([Data(r.stdoutBytes)] + (try ["t\(i).jsonl", "s\(i).txt", "p\(i).png", "s\(i).txt.40ms", "p\(i).png.40ms"]
                .map { try Data(contentsOf: URL(fileURLWithPath: path($0))) }))
        }
        XCTAssertEqual(runs[0], runs[1])
        XCTAssertGreaterThan(runs[0][1].count, 10_000)
    }

    func testBundledGuestRunsAreByteIdentical() throws {
        let guest = Repo.root.appendingPathComponent("build/guest/guest.elf").path
        guard FileManager.default.fileExists(atPath: guest) else { throw XCTSkip("bundled guest not built (make guest)") }
        var runs: [[Data]] = []
        for i in 0..<2 {
            let r = try Repo.swiftemu([guest, "headless", "--timeout", "2", "--keys", "help\\n", "--keys-at", "300ms",
                                       "--trace", "irq,pic,pit,kbd,cpu,exc,diag", "--trace-format", "jsonl", "--trace-file", path("g\(i).jsonl"),
                                       "--dump-screen", path("g\(i).txt")])
            XCTAssertEqual(r.status, 8, r.stderr)
            runs.append([Data(r.stdoutBytes)] + (try ["g\(i).jsonl", "g\(i).txt"].map { try Data(contentsOf: URL(fileURLWithPath: path($0))) }))
        }
        XCTAssertEqual(runs[0], runs[1])
        XCTAssertGreaterThan(runs[0][1].count, 1000)
    }
}
