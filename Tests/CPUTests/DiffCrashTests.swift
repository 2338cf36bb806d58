// Inputs that have crashed the interpreter (a Swift trap on guest data kills
// the whole emulator). Each probe runs its differential checks in a child
// process (this test binary again, with DIFF_CRASH_CHILD=1), so a crash
// fails one test with the child's last words instead of ending the run.

import CHostExec
import Foundation
import XCTest

final class DiffCrashTests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }

    /// Runs `body` in a child process when not already in one.
    private func isolated(_ test: String, file: StaticString = #filePath, line: UInt = #line, _ body: () -> Void) {
        if ProcessInfo.processInfo.environment["DIFF_CRASH_CHILD"] == "1" {
            body()
            return
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        p.arguments = ["CPUTests.DiffCrashTests/\(test)"]
        var env = ProcessInfo.processInfo.environment
        env["DIFF_CRASH_CHILD"] = "1"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch {
            XCTFail("cannot start \(CommandLine.arguments[0]): \(error)", file: file, line: line)
            return
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        if p.terminationReason != .exit || p.terminationStatus != 0 {
            let tail = text.split(separator: "\n").filter { $0.contains("error") || $0.contains("Fatal") || $0.contains("fail") }.suffix(12)
            XCTFail("\(test) child ended with \(p.terminationReason == .exit ? "status" : "signal") \(p.terminationStatus):\n" + tail.joined(separator: "\n"),
                    file: file, line: line)
        }
    }

    /// Float -> int32 conversions of exactly 2^31 (0x4F000000, the first
    /// value out of range: "integer indefinite" 0x80000000), of -2^31 and
    /// 2^63 for the 64-bit forms, under every rounding mode.
    func testFloatToIntegerLimits() {
        isolated("testFloatToIntegerLimits") {
            let limits: [UInt32] = [0x4F00_0000, 0xCF00_0000, 0x4EFF_FFFF, 0x5F00_0000, 0xDF00_0000, 0x5EFF_FFFF, 0x4F00_0001]
            for rc: UInt32 in 0..<4 {
                let spec = DiffSSETests.spec(.ps, mxcsr: HOSTEXEC_MXCSR_DEFAULT | rc << 13, extra: { rng, c in
                    var lo: UInt64 = 0, hi: UInt64 = 0
                    for i in 0..<2 {
                        lo |= UInt64(limits[rng.below(limits.count)]) << UInt64(32 * i)
                        hi |= UInt64(limits[rng.below(limits.count)]) << UInt64(32 * i)
                    }
                    c.st.setX(2, (lo, hi))
                })
                let forms: [(String, [UInt8])] = [
                    ("cvttss2si eax, xmm2", [0xF3, 0x0F, 0x2C, 0xC2]),
                    ("cvtss2si eax, xmm2", [0xF3, 0x0F, 0x2D, 0xC2]),
                    ("cvttss2si rax, xmm2", [0xF3, 0x48, 0x0F, 0x2C, 0xC2]),
                    ("cvtss2si rax, xmm2", [0xF3, 0x48, 0x0F, 0x2D, 0xC2]),
                    ("cvttps2dq xmm1, xmm2", [0xF3, 0x0F, 0x5B, 0xCA]),
                    ("cvtps2dq xmm1, xmm2", [0x66, 0x0F, 0x5B, 0xCA]),
                ]
                R.run("float limits rc\(rc)", forms.map { DiffVariant(name: $0.0 + " rc\(rc)", code: $0.1, cases: 100, show: [0], showXMM: [1, 2]) }, spec)
            }
        }
    }

    /// Random instruction bytes (prefix- and opcode-map-biased) with random
    /// registers, interpreter only: whatever the bytes are, the interpreter
    /// must not trap. The child prints the bytes that were running if it dies.
    func testRandomInstructionsDoNotCrash() {
        isolated("testRandomInstructionsDoNotCrash") {
            hostexec_install_crash_reporter()
            hostexec_set_crash_note("random bytes fuzz (DIFF_FUZZ_ONLY=<case> replays one case)")
            var rng = DiffRng(name: "random bytes" + (ProcessInfo.processInfo.environment["DIFF_SEED"] ?? ""))
            let prefixes: [UInt8] = [0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x2E, 0x64, 0x65, 0x40, 0x41, 0x44, 0x48, 0x49, 0x4C, 0x4D, 0x4F]
            let n = Int(40_000 * R.scale)
            // DIFF_FUZZ_FROM/DIFF_FUZZ_TO replay a range of cases (to find a culprit).
            let env = ProcessInfo.processInfo.environment
            let from = env["DIFF_FUZZ_FROM"].flatMap { Int($0) } ?? 0
            let to = env["DIFF_FUZZ_TO"].flatMap { Int($0) } ?? Int.max
            let only = Set((env["DIFF_FUZZ_ONLY"] ?? "").split(separator: ",").compactMap { Int($0) })
            let noWrap = env["DIFF_FUZZ_NOWRAP"] == "1"
            var fresh = 0
            // DIFF_FUZZ_UNMAP0=1 leaves linear page 0 unmapped (keeps page 0 out of
            // the TLB, which the address-space wrap bug needed).
            let unmap0 = env["DIFF_FUZZ_UNMAP0"] == "1"
            var m = DiffMachine(unmapPageZero: unmap0)
            for i in 0..<n {
                var code: [UInt8] = []
                for _ in 0..<rng.below(3) { code.append(prefixes[rng.below(prefixes.count)]) }
                switch rng.below(4) {
                case 0: code += [0x0F]
                case 1: code += [0x0F, rng.coin() ? 0x38 : 0x3A]
                default: break
                }
                while code.count < 15 { code.append(UInt8(truncatingIfNeeded: rng.next())) }
                var st = hostexec_state()
                for r in 0..<16 {
                    st[r] = rng.operand(64)
                    // DIFF_FUZZ_NOWRAP=1 keeps registers away from the top of the address
                    // space (testAccessWrappingAddressSpace covers it) to look for other faults.
                    if noWrap && st[r] > 0xFFFF_FFFF_FFF0_0000 { st[r] &= 0x7FFF_FFFF_FFFF_FFFF }
                }
                // Some registers point into the data window.
                st[3] = DiffMachine.dataBase + UInt64(rng.below(4096))
                st[6] = DiffMachine.dataBase + UInt64(rng.below(4096))
                st[7] = DiffMachine.dataBase + UInt64(rng.below(4096))
                st.rflags = rng.next() & Fl.all
                for x in 0..<16 { st.setX(x, rng.xmmValue([.pd, .ps, .int][rng.below(3)])) }
                st.mxcsr = HOSTEXEC_MXCSR_DEFAULT | UInt32(rng.below(4)) << 13
                if i > to { break }
                if i < from || (!only.isEmpty && !only.contains(i)) { continue }
                withUnsafeBytes(of: st.gpr) { regs in
                    hostexec_set_crash_case(UInt64(i), code, code.count, regs.baseAddress!.assumingMemoryBound(to: UInt64.self), 16)
                }
                if from == to || !only.isEmpty { print("replay case \(i): \(DiffEnc.hex(code)) regs " + (0..<16).map { String(st[$0], radix: 16) }.joined(separator: " ")) }
                m.load(code)
                let (_, outcome) = m.run(st, maxSteps: 3, sse: true)
                if from == to || !only.isEmpty { print("outcome: \(outcome.text) mode \(m.cpu.mode) unimplemented \(m.bus.unimplemented.map { DiffEnc.hex($0) })") }
                // System instructions may have rewritten the machine's tables.
                fresh += 1
                if fresh >= 256 || m.cpu.mode != .long64 || m.cpu.cr3 != DiffMachine.pml4 || m.cpu.gdtr.base != DiffMachine.gdt || m.cpu.idtr.base != DiffMachine.idt {
                    m = DiffMachine(unmapPageZero: unmap0)
                    fresh = 0
                }
            }
        }
    }

    /// Accesses that run off the top of the 64-bit address space: the page
    /// at 0xFFFF_FFFF_FFFF_F000 is not mapped, so each must raise #PF (the
    /// host: SIGSEGV) and touch nothing, even right after page 0 was used
    /// (which leaves page 0 in the interpreter's TLB).
    func testAccessWrappingAddressSpace() {
        isolated("testAccessWrappingAddressSpace") {
            let m = DiffMachine()
            if let e = m.setupError { XCTFail(e); return }
            hostexec_install_crash_reporter()
            let forms: [(String, [UInt8], UInt64)] = [
                ("or dword [r11], imm32 (r11 = -1)", [0x41, 0x81, 0x0B, 0x8E, 0xA3, 0xBC, 0x4C], ~0),
                ("mov eax, [r11] (r11 = -1)", [0x41, 0x8B, 0x03], ~0),
                ("mov [r11], rax (r11 = -3)", [0x49, 0x89, 0x03], ~2),
                ("add [r11], cx (r11 = -1)", [0x66, 0x41, 0x01, 0x0B], ~0),
                ("movdqu xmm0, [r11] (r11 = -8)", [0xF3, 0x41, 0x0F, 0x6F, 0x03], ~7),
            ]
            XCTAssertEqual(hostexec_guard_begin(), 0)
            defer { hostexec_guard_end() }
            for (name, code, r11) in forms {
                hostexec_set_crash_note(name)
                // Natively: a fault.
                var host = hostexec_state()
                host[11] = r11
                var f = hostexec_fault()
                let sig = code.withUnsafeBufferPointer { hostexec_run_guarded($0.baseAddress, $0.count, &host, &f) }
                XCTAssertTrue(sig == SIGSEGV || sig == SIGBUS, "\(name): host signal \(sig) (test premise)")
                // Touch page 0, then the wrapping access.
                m.load([0x8A, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00])  // mov al, [0]
                var st = hostexec_state()
                _ = m.run(st, maxSteps: 1)
                // Guest RAM lies between inaccessible guard pages
                // (PhysicalMemory): a host access before or after it would
                // end this child with SIGSEGV, which fails the test.
                let low0 = UnsafeRawPointer(m.ram).load(as: UInt64.self)
                m.load(code)
                st[11] = r11
                st[0] = 0x1122_3344_5566_7788
                st[1] = 0xAAAA
                let (out, outcome) = m.run(st, maxSteps: 1, sse: true)
                XCTAssertEqual(outcome, .exception(14), "\(name): \(outcome.text), rax=0x\(String(out[0], radix: 16))")
                XCTAssertEqual(UnsafeRawPointer(m.ram).load(as: UInt64.self), low0, "\(name): guest RAM at 0 changed")
                XCTAssertEqual(m.cpu.cr2, r11, "\(name): CR2")
            }
        }
    }

    /// A cross-page access whose two pages share a TLB slot: 0x7FFFF000
    /// (not mapped) and 0x80000000 (mapped). With 0x80000000 in the TLB, an
    /// 8-byte read at 0x7FFFFFFC must still raise #PF for the first page.
    func testCrossPageAccessSharingATLBSlot() {
        isolated("testCrossPageAccessSharingATLBSlot") {
            let m = DiffMachine()
            if let e = m.setupError { XCTFail(e); return }
            // PDPT[2] -> PD at 0x9000: linear 0x80000000 -> physical 0 (2 MiB page).
            let raw = UnsafeMutableRawPointer(m.ram)
            raw.storeBytes(of: UInt64(0x9000 | 0x23), toByteOffset: 0x2000 + 16, as: UInt64.self)
            raw.storeBytes(of: UInt64(0x0 | 0xE3), toByteOffset: 0x9000, as: UInt64.self)
            m.cpu.cr3 = DiffMachine.pml4  // flush
            m.load([0x8A, 0x03])  // mov al, [rbx]
            var st = hostexec_state()
            st[3] = 0x8000_0000
            let (_, o1) = m.run(st, maxSteps: 1)
            XCTAssertEqual(o1, .completed, "mov al, [0x80000000]: \(o1.text)")
            m.load([0x48, 0x8B, 0x03])  // mov rax, [rbx]
            st[3] = 0x7FFF_FFFC
            st[0] = 0x1234
            let (out, o2) = m.run(st, maxSteps: 1)
            XCTAssertEqual(o2, .exception(14), "mov rax, [0x7FFFFFFC] (page 0x7FFFF000 not present): \(o2.text), rax=0x\(String(out[0], radix: 16))")
            XCTAssertEqual(m.cpu.cr2, 0x7FFF_FFFC, "CR2")
        }
    }
}
