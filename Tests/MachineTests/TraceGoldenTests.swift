import Foundation
import XCTest

/// Golden traces: small kernels (and the bundled guest when built) must
/// produce exactly the traces stored in Tests/Golden, and two runs must
/// agree. Each golden file starts with a `# swiftemu ...` line naming the
/// run; the trace text follows. The bundled guest's golden is compared
/// without time stamps; it is checked only when build/guest/guest.elf exists.
///
/// To refresh them after an intended change:
///     SWIFTEMU_UPDATE_GOLDEN=1 swift test --filter TraceGoldenTests
/// (or `make test` with SWIFTEMU_UPDATE_GOLDEN=1 in the environment), then
/// review `git diff Tests/Golden`.
final class TraceGoldenTests: XCTestCase {
    static let goldenDir = Repo.root.appendingPathComponent("Tests/Golden")
    static var updating: Bool { ProcessInfo.processInfo.environment["SWIFTEMU_UPDATE_GOLDEN"] == "1" }

    /// Runs `kernel` (a path) with `args` twice and compares the text trace
    /// with `Tests/Golden/<name>.trace`.
    /// With `unstamped`, the `[time #instructions]` stamps are left out:
    /// the order and content of the events stay, so the golden survives
    /// code changes that only shift the guest's instruction counts.
    func golden(_ name: String, kernel: String, kernelLabel: String, args: [String], status: Int32, unstamped: Bool = false,
                file: StaticString = #filePath, line: UInt = #line) throws {
        var traces: [String] = []
        for i in 0..<2 {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("swiftemu-golden-\(getpid())-\(name)-\(i).trace").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            let r = try Repo.swiftemu([kernel, "headless"] + args + ["--trace-file", out])
            XCTAssertEqual(r.status, status, r.stderr, file: file, line: line)
            var text = try String(contentsOfFile: out, encoding: .utf8)
            if unstamped {
                text = text.split(separator: "\n", omittingEmptySubsequences: false).map { l in
                    guard l.hasPrefix("["), let close = l.firstIndex(of: "]") else { return String(l) }
                    return String(l[l.index(after: close)...].dropFirst())
                }.joined(separator: "\n")
            }
            traces.append(text)
        }
        XCTAssertEqual(traces[0], traces[1], "two runs of \(name) differ", file: file, line: line)
        let header = "# swiftemu " + ([kernelLabel, "headless"] + args).joined(separator: " ") + "\n"
        let text = header + traces[0]
        let url = TraceGoldenTests.goldenDir.appendingPathComponent(name + ".trace")
        if TraceGoldenTests.updating {
            try FileManager.default.createDirectory(at: TraceGoldenTests.goldenDir, withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        guard let want = try? String(contentsOf: url, encoding: .utf8) else {
            XCTFail("no golden file \(url.path): create it with SWIFTEMU_UPDATE_GOLDEN=1 swift test --filter TraceGoldenTests",
                    file: file, line: line)
            return
        }
        if want != text {
            // Point at the first differing line.
            let a = want.components(separatedBy: "\n"), b = text.components(separatedBy: "\n")
            let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
            XCTFail("""
                \(name): trace differs from Tests/Golden/\(name).trace at line \(i + 1)
                  golden: \(i < a.count ? a[i] : "<end>")
                  now:    \(i < b.count ? b[i] : "<end>")
                (refresh with SWIFTEMU_UPDATE_GOLDEN=1 swift test --filter TraceGoldenTests if the change is intended)
                """, file: file, line: line)
        }
    }

    func testIRQPitWithAKey() throws {
        try golden("irq_pit_key", kernel: try Repo.kernel("irq_pit.elf"), kernelLabel: "irq_pit.elf",
                   args: ["--keys", "1", "--keys-at", "100ms", "--trace", "irq,pic,pit,kbd,cpu,exc,diag"], status: 33)
    }

    func testDevicesKernel() throws {
        try golden("trace_devices", kernel: try Repo.kernel("trace_devices.elf"), kernelLabel: "trace_devices.elf",
                   args: ["--keys", "a", "--keys-at", "30ms", "--timeout", "0.05", "--trace", "pic,pit,kbd,exc,cpu,diag"], status: 8)
    }

    func testMissingEOIKernel() throws {
        try golden("diag_missing_eoi", kernel: try Repo.kernel("diag_missing_eoi.elf"), kernelLabel: "diag_missing_eoi.elf",
                   args: ["--timeout", "0.3", "--trace", "irq,pic,diag"], status: 8)
    }

    func testSpuriousKernel() throws {
        try golden("diag_spurious", kernel: try Repo.kernel("diag_spurious.elf"), kernelLabel: "diag_spurious.elf",
                   args: ["--trace", "irq,pic,kbd,cpu,diag"], status: 33)
    }

    /// The bundled guest's boot: PIC and PIT set-up and the first ticks,
    /// without time stamps (they move with every change to the guest).
    func testBundledGuestBoot() throws {
        let guest = Repo.root.appendingPathComponent("build/guest/guest.elf").path
        guard FileManager.default.fileExists(atPath: guest) else { throw XCTSkip("bundled guest not built (make guest)") }
        try golden("guest_boot", kernel: guest, kernelLabel: "build/guest/guest.elf",
                   args: ["--timeout", "0.2", "--trace", "pic,pit,diag"], status: 8, unstamped: true)
    }
}
