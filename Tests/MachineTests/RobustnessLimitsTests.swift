import Foundation
import XCTest

/// The limits a user can rely on, checked through the CLI with guests that
/// never stop by themselves (Tests/Kernels/limits.S), a guest that touches
/// the whole physical address space (Tests/Kernels/memtouch.S), and signals
/// sent to a running headless emulator.
final class RobustnessLimitsTests: XCTestCase {

    // MARK: --timeout and --max-instructions

    /// Every endless guest ends at --timeout (exit status 8): spinning with
    /// interrupts off or on, halted with every IRQ masked, halting and
    /// spinning, and a fault storm that retires no instruction at all.
    func testTimeoutEndsEveryEndlessGuest() throws {
        let kernel = try Repo.kernel("limits.elf")
        for mode in ["s", "i", "h", "H", "f", "F"] {
            let r = try Repo.swiftemu([kernel, "headless", "--append", mode, "--timeout", "0.12"])
            XCTAssertEqual(r.status, 8, "mode \(mode): \(r.stderr)")
            XCTAssertTrue(r.stdout.hasPrefix("mode \(mode)\n"), "mode \(mode): \(r.stdout)")
            XCTAssertTrue(r.stderr.contains("timeout: 0.120000 virtual seconds reached"), "mode \(mode): \(r.stderr)")
            let ticks = r.stdout.filter { $0 == "t" }.count
            switch mode {
            case "i", "H", "F":
                // IRQ0 at 18.2 Hz: two ticks (55 ms, 110 ms) within 120 ms,
                // also while the fault storm runs.
                XCTAssertEqual(ticks, 2, "mode \(mode): \(r.stdout)")
            default:
                XCTAssertEqual(ticks, 0, "mode \(mode): \(r.stdout)")
            }
        }
    }

    /// Guests that retire instructions (or storm with faults) end at
    /// --max-instructions (exit status 6) with exactly that count.
    func testMaxInstructionsEndsEndlessGuests() throws {
        let kernel = try Repo.kernel("limits.elf")
        for mode in ["s", "i", "H", "f", "F"] {
            let r = try Repo.swiftemu([kernel, "headless", "--append", mode, "--max-instructions", "3000000"])
            XCTAssertEqual(r.status, 6, "mode \(mode): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("3000000 instructions"), "mode \(mode): \(r.stderr)")
        }
    }

    /// A guest that reboots itself forever (8042 reset pulse, or a triple
    /// fault with --reboot-on-triple-fault) still reaches --timeout: every
    /// reboot takes virtual time.
    func testRebootLoopsEndAtTimeout() throws {
        let reset = try Repo.swiftemu([try Repo.kernel("reset.elf"), "headless", "--timeout", "0.1", "--ram", "4M"])
        XCTAssertEqual(reset.status, 8, reset.stderr)
        let boots = reset.stdout.components(separatedBy: "resetting\n").count - 1
        XCTAssertGreaterThan(boots, 2, reset.stdout)
        XCTAssertLessThanOrEqual(boots, 11, "each reboot takes 10 ms of virtual time")

        let triple = try Repo.swiftemu([try Repo.kernel("triple.elf"), "headless", "--reboot-on-triple-fault",
                                        "--timeout", "0.1", "--ram", "4M"])
        XCTAssertEqual(triple.status, 8, triple.stderr)
        XCTAssertGreaterThan(triple.stdout.components(separatedBy: "about to triple fault\n").count - 1, 2, triple.stdout)
    }

    // MARK: guest physical memory

    private struct TouchReport {
        var match = 0, ones = 0, other = 0, skipped = 0, ramEnd = 0
        var crossRAM = "", cross4G = "", copied = ""
    }

    private func touchAll(ram: String) throws -> TouchReport {
        let r = try Repo.swiftemu([try Repo.kernel("memtouch.elf"), "headless", "--ram", ram, "--timeout", "30"])
        XCTAssertEqual(r.status, 33, "--ram \(ram): \(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, r.stdout)
        guard lines.count == 3 else { return TouchReport() }
        func field(_ line: Substring, _ name: String) -> String {
            let parts = line.split(separator: " ")
            guard let i = parts.firstIndex(of: Substring(name)), i + 1 < parts.count else { return "" }
            return String(parts[i + 1])
        }
        func num(_ line: Substring, _ name: String) -> Int { Int(field(line, name), radix: 16) ?? -1 }
        return TouchReport(match: num(lines[1], "match"), ones: num(lines[1], "ones"), other: num(lines[1], "other"),
                           skipped: num(lines[1], "skipped"), ramEnd: num(lines[2], "ramend"),
                           crossRAM: field(lines[2], "cross-ram"), cross4G: field(lines[2], "cross-4g"),
                           copied: field(lines[2], "copied"))
    }

    /// A long-mode guest writes one dword into every 4 KiB page of the first
    /// 8 GiB of physical address space and reads them all back. Every page
    /// inside guest RAM (except the ROM window) holds what was written, every
    /// page past the end of RAM and past 4 GiB reads as all ones, accesses
    /// that straddle the end of RAM or 4 GiB are split at the page, and the
    /// emulator exits normally with the guest's status.
    func testGuestTouchingAllPhysicalPagesStaysInsideItsRAM() throws {
        for (ram, bytes) in [("8M", 8 << 20), ("128M", 128 << 20)] {
            let t = try touchAll(ram: ram)
            let ramPages = bytes >> 12
            let total = 0x200000
            XCTAssertEqual(t.ramEnd, bytes, "--ram \(ram)")
            XCTAssertGreaterThan(t.skipped, 0, "the kernel's own pages and its Multiboot info are left alone")
            // The 640 KiB - 1 MiB hole: of the VGA window only the 32 KiB
            // text-mode aperture at 0xB8000 (8 pages) holds memory, the rest
            // (24 pages) reads as all ones; the ROM window (64 pages) drops
            // writes and reads zeros.
            XCTAssertEqual(t.match, ramPages - 96 - t.skipped + 8, "--ram \(ram): every RAM page holds what was written")
            XCTAssertEqual(t.other, 64, "--ram \(ram): the ROM window")
            XCTAssertEqual(t.ones, total - ramPages + 24, "--ram \(ram): pages past RAM and past 4 GiB read as all ones")
            XCTAssertEqual(t.crossRAM, "ffff3344", "--ram \(ram): a dword across the end of RAM")
            XCTAssertEqual(t.cross4G, "ffffffffffffffff", "--ram \(ram): a qword across 4 GiB")
            XCTAssertEqual(t.copied, "ffff3344", "--ram \(ram): REP MOVSB across the end of RAM")
        }
    }

    // MARK: signals and atomic output files

    /// Starts swiftemu, waits until its stdout contains `marker`, sends
    /// `signal`, and returns the exit status and everything it printed.
    private func interrupt(_ args: [String], after marker: String, with signal: Int32) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = Repo.swiftemu
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("swiftemu-err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errFile) }
        p.standardError = try FileHandle(forWritingTo: errFile)
        var got = Data()
        let lock = NSLock()
        let seen = DispatchSemaphore(value: 0)
        var signalled = false
        out.fileHandleForReading.readabilityHandler = { h in
            let d = h.availableData
            lock.lock()
            got.append(d)
            let hit = !signalled && String(decoding: got, as: UTF8.self).contains(marker)
            if hit { signalled = true }
            lock.unlock()
            if hit { seen.signal() }
            if d.isEmpty { h.readabilityHandler = nil }
        }
        try p.run()
        if seen.wait(timeout: .now() + 60) == .timedOut {
            p.terminate()
            p.waitUntilExit()
            XCTFail("'\(marker)' never appeared")
            return (p.terminationStatus, "", "")
        }
        usleep(200_000)
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        usleep(100_000)
        out.fileHandleForReading.readabilityHandler = nil
        let rest = out.fileHandleForReading.readDataToEndOfFile()
        lock.lock()
        got.append(rest)
        lock.unlock()
        let err = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
        return (p.terminationStatus, String(decoding: got, as: UTF8.self), err)
    }

    private func scratchDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("swiftemu-robust-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        return d
    }

    /// SIGTERM in the middle of a run: exit status 143, the guest's output up
    /// to then is on stdout, and the JSON-lines trace file and the screen
    /// dump are complete files (every trace line one JSON object) with no
    /// temporary file left beside them.
    func testSIGTERMLeavesCompleteTraceAndScreenFiles() throws {
        let dir = try scratchDir()
        let trace = dir.appendingPathComponent("trace.jsonl")
        let screen = dir.appendingPathComponent("screen.txt")
        let (status, out, err) = try interrupt(
            [try Repo.kernel("limits.elf"), "headless", "--append", "i", "--timeout", "100000",
             "--trace", "irq,pic,cpu", "--trace-format", "jsonl", "--trace-file", trace.path,
             "--dump-screen", screen.path],
            after: "ttt", with: SIGTERM)
        XCTAssertEqual(status, 143, err)
        XCTAssertTrue(err.contains("stopped by signal \(SIGTERM)"), err)
        XCTAssertTrue(out.hasPrefix("mode i\nttt"), out)
        XCTAssertTrue(out.dropFirst("mode i\n".count).allSatisfy { $0 == "t" }, out)

        let text = try String(contentsOf: trace, encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("\n"), "the trace ends with a complete line")
        let lines = text.split(separator: "\n")
        XCTAssertGreaterThan(lines.count, 6, text)
        for line in lines {
            let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertNotNil(obj, "not a JSON object: \(line)")
            XCTAssertNotNil(obj?["t_ns"], String(line))
        }
        // Three ticks were printed before the signal: their IRQ0 edges are in the trace.
        XCTAssertGreaterThanOrEqual(lines.filter { $0.contains("\"ev\":\"line\"") && $0.contains("\"irq\":0") }.count, 3)

        let dump = try String(contentsOf: screen, encoding: .utf8)
        XCTAssertEqual(dump.split(separator: "\n", omittingEmptySubsequences: false).count, 26, "25 rows and a final newline")

        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(left, ["screen.txt", "trace.jsonl"], "no temporary files are left behind")
    }

    /// SIGINT: exit status 130, output flushed.
    func testSIGINTFlushesOutputAndExitsWith130() throws {
        let (status, out, err) = try interrupt(
            [try Repo.kernel("limits.elf"), "headless", "--append", "i", "--timeout", "100000"],
            after: "tt", with: SIGINT)
        XCTAssertEqual(status, 130, err)
        XCTAssertTrue(err.contains("stopped by signal \(SIGINT)"), err)
        XCTAssertTrue(out.hasPrefix("mode i\ntt"), out)
    }

    /// A run killed outright (no chance to clean up) never leaves a
    /// half-written trace file under the requested name: the trace goes to a
    /// hidden temporary file and is renamed only when complete.
    func testKilledRunLeavesNoPartialTraceFile() throws {
        let dir = try scratchDir()
        let trace = dir.appendingPathComponent("trace.jsonl")
        let (status, _, _) = try interrupt(
            [try Repo.kernel("limits.elf"), "headless", "--append", "i", "--timeout", "100000",
             "--trace", "irq,pic", "--trace-format", "jsonl", "--trace-file", trace.path],
            after: "tt", with: SIGKILL)
        XCTAssertEqual(status, SIGKILL)
        XCTAssertFalse(FileManager.default.fileExists(atPath: trace.path), "no trace file under the final name")
    }
}
