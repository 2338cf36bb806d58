import Foundation
import XCTest
import Board

/// One small broken kernel per diagnosis (Tests/Kernels/diag_*.S): each must
/// draw exactly its own diagnosis, on stderr and in the trace, and clean
/// kernels none.
final class DiagnosisTests: XCTestCase {
    struct Case {
        var kernel: String
        var kind: String
        var args: [String] = []
        var status: Int32
        var irq: Int?
        var vector: Int?
        var stdout: String? = nil
    }

    /// Runs `c` and checks the diagnoses: the set of kinds is exactly {kind}.
    @discardableResult
    func check(_ c: Case, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any]? {
        let (r, t) = try JSONLTrace.run([try Repo.kernel(c.kernel), "headless"] + c.args, categories: "diag")
        XCTAssertEqual(r.status, c.status, "\(c.kernel): \(r.stderr)", file: file, line: line)
        if let out = c.stdout { XCTAssertEqual(r.stdout, out, c.kernel, file: file, line: line) }
        XCTAssertEqual(t.diagnosisKinds, [c.kind], "\(c.kernel): \(r.stderr)", file: file, line: line)
        let d = t.find("diag", "diagnosis", ["kind": c.kind])
        XCTAssertEqual(d.count, 1, c.kernel, file: file, line: line)
        guard let e = d.first else { return nil }
        XCTAssertEqual((e["irq"] as? NSNumber)?.intValue, c.irq, "\(c.kernel) irq", file: file, line: line)
        XCTAssertEqual((e["vector"] as? NSNumber)?.intValue, c.vector, "\(c.kernel) vector", file: file, line: line)
        XCTAssertFalse((e["message"] as? String ?? "").isEmpty, file: file, line: line)
        XCTAssertFalse((e["fix"] as? String ?? "").isEmpty, file: file, line: line)
        XCTAssertNotNil(e["t_ns"] as? NSNumber, file: file, line: line)
        // The same diagnosis as a warning on stderr, with its time and fix.
        let warnings = r.stderr.components(separatedBy: "\n").filter { $0.hasPrefix("swiftemu: warning: [") }
        XCTAssertEqual(warnings.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(warnings.first?.contains("] \(c.kind): ") ?? false, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains("\n    fix: "), r.stderr, file: file, line: line)
        // --diagnose off silences it; the run is otherwise the same.
        let quiet = try Repo.swiftemu([try Repo.kernel(c.kernel), "headless", "--diagnose", "off"] + c.args)
        XCTAssertEqual(quiet.status, c.status, file: file, line: line)
        XCTAssertFalse(quiet.stderr.contains("warning:"), quiet.stderr, file: file, line: line)
        XCTAssertEqual(quiet.stdout, r.stdout, file: file, line: line)
        return e
    }

    func testIRQBelow32() throws {
        let e = try check(Case(kernel: "diag_irq_below_32.elf", kind: "irq-below-32", status: 33, irq: 0, vector: 8,
                               stdout: "ticks on vector 8: 00000003\n"))
        XCTAssertTrue((e?["fix"] as? String ?? "").contains("ICW2 0x20"))
        // The first tick: 0.0549 s.
        XCTAssertEqual(((e?["t_ns"] as? NSNumber)?.uint64Value ?? 0) / 1_000_000, 54)
    }

    func testNoIDTGate() throws {
        try check(Case(kernel: "diag_no_idt_gate.elf", kind: "no-idt-gate", status: 33, irq: 0, vector: 32,
                       stdout: "#NP, error code 00000103\n"))
    }

    func testMissingEOI() throws {
        let e = try check(Case(kernel: "diag_missing_eoi.elf", kind: "missing-eoi", args: ["--timeout", "0.5"], status: 8, irq: 0,
                               stdout: "tick 00000001\n"))
        XCTAssertTrue((e?["message"] as? String ?? "").contains("IRQ0 is still in service"))
    }

    func testEOIWithNothingInService() throws {
        try check(Case(kernel: "diag_eoi_nothing.elf", kind: "eoi-nothing-in-service", status: 33, stdout: "ticks 00000003\n"))
    }

    func testEOIToTheMasterOnly() throws {
        try check(Case(kernel: "diag_eoi_master_only.elf", kind: "eoi-master-only", status: 33, irq: 8,
                       stdout: "rtc interrupts 00000001\n"))
    }

    func testKeyboardByteNeverRead() throws {
        try check(Case(kernel: "diag_kbd_not_read.elf", kind: "kbd-not-read", args: ["--keys", "abc", "--keys-at", "50ms"],
                       status: 33, irq: 1, stdout: "keyboard interrupts 00000001\n"))
    }

    func testSpuriousIRQ() throws {
        let e = try check(Case(kernel: "diag_spurious.elf", kind: "spurious-irq", status: 33, irq: 7, vector: 0x27,
                               stdout: "spurious IRQ7 00000001\nIRQ1 00000000\n"))
        XCTAssertTrue((e?["message"] as? String ?? "").contains("returned without an EOI, which is right"))
    }

    func testSTINever() throws {
        try check(Case(kernel: "diag_sti_never.elf", kind: "sti-never", status: 33, irq: 0, stdout: "ticks 00000000\n"))
    }

    func testHLTWithInterruptsOff() throws {
        try check(Case(kernel: "diag_hlt_if0.elf", kind: "hlt-if0", status: 2, stdout: "waiting for the timer\n"))
    }

    func testRTCRegisterCNotRead() throws {
        try check(Case(kernel: "diag_rtc_c_not_read.elf", kind: "rtc-c-not-read", status: 33, irq: 8,
                       stdout: "rtc interrupts 00000001\n"))
    }

    /// Every documented kind has its kernel here.
    func testEveryKindHasABrokenKernel() {
        let tested: Set<String> = ["irq-below-32", "no-idt-gate", "missing-eoi", "eoi-nothing-in-service", "eoi-master-only",
                                   "kbd-not-read", "spurious-irq", "sti-never", "hlt-if0", "rtc-c-not-read"]
        XCTAssertEqual(Set(Diagnoser.kinds), tested)
    }

    func testCleanKernelsDrawNoDiagnosis() throws {
        for (k, args) in [("irq_pit.elf", ["--keys", "12", "--keys-at", "100ms"]), ("irq_pit.elf", ["--timeout", "5"]),
                          ("trace_devices.elf", ["--keys", "a", "--keys-at", "30ms"])] {
            let (r, t) = try JSONLTrace.run([try Repo.kernel(k), "headless"] + args, categories: "diag")
            XCTAssertEqual(r.status, 33, r.stderr)
            XCTAssertEqual(t.events.count, 0, "\(k) \(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("warning:"), r.stderr)
        }
        // Polling kernels that never use interrupts are not warned about either.
        for k in ["hello.elf", "spin.elf"] {
            let r = try Repo.swiftemu([try Repo.kernel(k), "headless", "--timeout", "0.3"])
            XCTAssertFalse(r.stderr.contains("warning:"), "\(k): \(r.stderr)")
        }
    }

    /// Diagnoses go to the trace only when its categories include diag.
    func testDiagnosesInTheTraceFollowTheCategory() throws {
        let k = try Repo.kernel("diag_eoi_nothing.elf")
        let (_, without) = try JSONLTrace.run([k, "headless"], categories: "pic")
        XCTAssertFalse(without.has("diag", "diagnosis"))
        XCTAssertTrue(without.has("pic", "eoi", ["level": -1]))
        let (r, only) = try JSONLTrace.run([k, "headless", "--diagnose", "off"], categories: "diag")
        XCTAssertEqual(only.diagnosisKinds, ["eoi-nothing-in-service"])
        XCTAssertFalse(r.stderr.contains("warning:"), r.stderr)
        let text = try Repo.swiftemu([k, "headless", "--trace", "diag"])
        XCTAssertTrue(text.stderr.contains("] diag diagnosis kind=eoi-nothing-in-service message=\"EOI sent to the master PIC"), text.stderr)
    }
}
