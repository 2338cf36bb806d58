// Faulting instructions, against the host: the bytes must fault natively
// (the guard reports the signal) and the interpreter must deliver the
// matching exception: #UD for encodings invalid in 64-bit mode, LOCK on a
// non-lockable form, register forms of memory-only instructions; #GP(0) for
// non-canonical addresses, misaligned CMPXCHG16B/MOVAPS operands and
// instructions longer than 15 bytes; #BP and #DB (INT3, INT1) as traps.
// For faults the frame RIP is the instruction and every register is
// unchanged; for traps the frame RIP follows the instruction.

import CHostExec
import XCTest

final class DiffFaultTests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }

    struct Case {
        let name: String
        let code: [UInt8]
        let vector: UInt8
        var errorCode: UInt32? = nil
        var trap = false
        /// Signals the host may raise for it.
        var signals: [Int32]
        /// Register overrides (value, relocated into the data window).
        var regs: [(Int, UInt64, Bool)] = []
    }

    static let ud: [Int32] = [SIGILL]
    static let gp: [Int32] = [SIGSEGV, SIGBUS]

    static var cases: [Case] {
        var c: [Case] = [
            Case(name: "ud2", code: [0x0F, 0x0B], vector: 6, signals: ud),
            Case(name: "ud0", code: [0x0F, 0xFF, 0xC0], vector: 6, signals: ud),
            Case(name: "ud1", code: [0x0F, 0xB9, 0xC0], vector: 6, signals: ud),
            Case(name: "lock add eax, ecx (register destination)", code: [0xF0, 0x01, 0xC8], vector: 6, signals: ud),
            Case(name: "lock nop", code: [0xF0, 0x90], vector: 6, signals: ud),
            Case(name: "lock mov eax, [rbx]", code: [0xF0, 0x8B, 0x03], vector: 6, signals: ud, regs: [(3, 2048, true)]),
            Case(name: "lea eax, eax (register operand)", code: [0x8D, 0xC0], vector: 6, signals: ud),
            Case(name: "cmpxchg8b eax (register operand)", code: [0x0F, 0xC7, 0xC8], vector: 6, signals: ud),
            Case(name: "mov cs, eax", code: [0x8E, 0xC8], vector: 6, signals: ud),
            Case(name: "82 /0 (invalid in 64-bit mode)", code: [0x82, 0xC0, 0x01], vector: 6, signals: ud),
            Case(name: "call far ptr16:32 (invalid in 64-bit mode)", code: [0x9A, 0, 0, 0, 0, 0x08, 0], vector: 6, signals: ud),
            Case(name: "jmp far ptr16:32 (invalid in 64-bit mode)", code: [0xEA, 0, 0, 0, 0, 0x08, 0], vector: 6, signals: ud),
            Case(name: "aam (invalid in 64-bit mode)", code: [0xD4, 0x0A], vector: 6, signals: ud),
            Case(name: "aad (invalid in 64-bit mode)", code: [0xD5, 0x0A], vector: 6, signals: ud),
            Case(name: "salc (invalid in 64-bit mode)", code: [0xD6], vector: 6, signals: ud),
            Case(name: "16 bytes: 14 x 66 + add eax, ecx", code: [UInt8](repeating: 0x66, count: 14) + [0x01, 0xC8], vector: 13, errorCode: 0, signals: gp),
            Case(name: "mov rax, [non-canonical]", code: [0x48, 0x8B, 0x03], vector: 13, errorCode: 0, signals: gp, regs: [(3, 0x8000_0000_0000_0000, false)]),
            Case(name: "mov [non-canonical], rax", code: [0x48, 0x89, 0x03], vector: 13, errorCode: 0, signals: gp, regs: [(3, 0x0000_8000_0000_0000, false)]),
            Case(name: "add [non-canonical-8], eax", code: [0x01, 0x43, 0xF8], vector: 13, errorCode: 0, signals: gp, regs: [(3, 0xFFFF_7FFF_FFFF_FFFF &+ 4, false)]),
            Case(name: "cmpxchg16b [rsi] misaligned", code: [0x48, 0x0F, 0xC7, 0x0E], vector: 13, errorCode: 0, signals: gp, regs: [(6, 2048 + 8, true)]),
            Case(name: "movaps xmm0, [rsi] misaligned", code: [0x0F, 0x28, 0x06], vector: 13, errorCode: 0, signals: gp, regs: [(6, 2048 + 4, true)]),
            Case(name: "int3", code: [0xCC], vector: 3, trap: true, signals: [SIGTRAP]),
            Case(name: "int1", code: [0xF1], vector: 1, trap: true, signals: [SIGTRAP]),
        ]
        for op: UInt8 in [0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x27, 0x2F, 0x37, 0x3F, 0x60, 0x61, 0xCE] {
            c.append(Case(name: "opcode \(String(format: "%02X", op)) (invalid in 64-bit mode)", code: [op], vector: 6, signals: ud))
        }
        return c
    }

    func testFaults() {
        let m = R.machine
        if let e = m.setupError { XCTFail(e); return }
        XCTAssertEqual(hostexec_guard_begin(), 0)
        defer { hostexec_guard_end() }
        var rng = DiffRng(name: "faults")
        for fc in Self.cases {
            for _ in 0..<20 {
                var st = hostexec_state()
                for r in 0..<16 where r != 4 { st[r] = rng.operand(64) }
                st.rflags = rng.next() & Fl.all & ~Fl.df
                var host = st, guest = st
                for (r, v, reloc) in fc.regs {
                    st[r] = v
                    host[r] = reloc ? v &+ R.hostBase : v
                    guest[r] = reloc ? v &+ DiffMachine.dataBase : v
                }
                var f = hostexec_fault()
                let sig = fc.code.withUnsafeBufferPointer { hostexec_run_guarded($0.baseAddress, $0.count, &host, &f) }
                XCTAssertTrue(fc.signals.contains(sig), "\(fc.name): host signal \(sig), expected one of \(fc.signals) (test premise)")

                m.load(fc.code)
                let (out, outcome) = m.run(guest, maxSteps: 2)
                let what = "\(fc.name) [\(DiffEnc.hex(fc.code))]"
                guard outcome == .exception(fc.vector) else {
                    var s = outcome.text
                    if let u = m.bus.unimplemented.first { s += " (unimplemented \(DiffEnc.hex(u)))" }
                    XCTFail("\(what): expected #\(DiffOutcome.vectorName(fc.vector)), got \(s)")
                    break
                }
                if let want = fc.errorCode {
                    let got = m.bus.exceptions.first(where: { $0.0 == fc.vector })?.1
                    XCTAssertEqual(got, want, "\(what): error code")
                }
                let rip = m.frameRIP(errorCode: fc.errorCode != nil)
                let expectRIP = DiffMachine.codeBase + (fc.trap ? UInt64(fc.code.count) : 0)
                XCTAssertEqual(rip, expectRIP, "\(what): frame RIP")
                for r in 0..<16 where r != 4 && out[r] != guest[r] {
                    XCTFail("\(what): \(DiffEnc.names64[r]) changed from 0x\(String(guest[r], radix: 16)) to 0x\(String(out[r], radix: 16))")
                }
            }
        }
    }
}
