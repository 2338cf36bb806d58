// Checks of the native oracle itself (no interpreter involved): the stub loads
// and stores every register and the flags, faults are caught, and the host
// computes ADD/SUB/ADC/SBB/logic results and flags as a software model of the
// SDM says.

import CHostExec
import XCTest

final class DiffOracleTests: XCTestCase {
    private func native(_ code: [UInt8], _ st: inout hostexec_state) {
        let rc = code.withUnsafeBufferPointer { hostexec_run($0.baseAddress, $0.count, &st) }
        XCTAssertEqual(rc, 0)
    }

    func testRegistersAndFlagsRoundTrip() {
        var rng = DiffRng(seed: 1)
        for _ in 0..<2000 {
            var st = hostexec_state()
            for r in 0..<16 { st[r] = rng.next() }
            st.rflags = rng.next() & Fl.all
            let input = st
            native([0x90], &st)  // nop
            for r in 0..<16 where r != 4 { XCTAssertEqual(st[r], input[r], "register \(r)") }
            XCTAssertEqual(st.rflags & Fl.all, input.rflags)
            XCTAssertEqual(st.rflags & 2, 2)
        }
    }

    func testXMMAndMXCSRRoundTrip() {
        var rng = DiffRng(seed: 3)
        for _ in 0..<500 {
            var st = hostexec_state()
            for i in 0..<16 { st.setX(i, (rng.next(), rng.next())) }
            st.mxcsr = 0x1F80 | UInt32(rng.below(4)) << 13
            let input = st
            native([0x90], &st)
            for i in 0..<16 { XCTAssertTrue(st.x(i) == input.x(i), "xmm\(i)") }
            XCTAssertEqual(st.mxcsr, input.mxcsr)
        }
        // paddd xmm1, xmm2 computes on the loaded values.
        var st = hostexec_state()
        st.setX(1, (0x0000_0001_FFFF_FFFF, 5))
        st.setX(2, (0x0000_0001_0000_0001, 7))
        native([0x66, 0x0F, 0xFE, 0xCA], &st)
        XCTAssertTrue(st.x(1) == (0x0000_0002_0000_0000, 12))
        // cvtsd2si rounds by MXCSR.RC: 2.5 -> 2 (nearest even), 3 (up).
        for (rc, want) in [(UInt32(0), UInt64(2)), (2, 3), (1, 2), (3, 2)] {
            st = hostexec_state()
            st.setX(0, ((2.5 as Double).bitPattern, 0))
            st.mxcsr = 0x1F80 | rc << 13
            native([0xF2, 0x48, 0x0F, 0x2D, 0xC0], &st)
            XCTAssertEqual(st[0], want, "rc \(rc)")
        }
    }

    func testFlagsAreLoadedBeforeTheInstruction() {
        // pushfq; pop rax: the flags the bytes see, DF included.
        for flags: UInt64 in [0, Fl.all, Fl.df, Fl.cf | Fl.of, Fl.zf | Fl.pf | Fl.af | Fl.sf] {
            var st = hostexec_state()
            st.rflags = flags | 0x100  // TF is never loaded
            native([0x9C, 0x58], &st)
            XCTAssertEqual(st[0] & (Fl.all | 0x100), flags)
        }
        // DF drives a string instruction: stosb with DF=1 steps RDI down.
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: 16)
        defer { buf.deallocate() }
        buf.initialize(repeating: 0, count: 16)
        var st = hostexec_state()
        st[7] = UInt64(UInt(bitPattern: buf + 8))
        st[0] = 0xAB
        st.rflags = Fl.df
        native([0xAA], &st)
        XCTAssertEqual(buf[8], 0xAB)
        XCTAssertEqual(st[7], UInt64(UInt(bitPattern: buf + 7)))
    }

    func testKnownAdd() {
        // add eax, ecx: 0x7FFFFFFF + 1 = 0x80000000, OF SF AF PF, upper half cleared.
        var st = hostexec_state()
        st[0] = 0xDEAD_BEEF_7FFF_FFFF
        st[1] = 1
        native([0x01, 0xC8], &st)
        XCTAssertEqual(st[0], 0x8000_0000)
        XCTAssertEqual(st.rflags & Fl.arith, Fl.of | Fl.sf | Fl.af | Fl.pf)
        // add al, cl: 0xFF + 1 = 0 with CF ZF AF PF, bits 8-63 kept.
        st = hostexec_state()
        st[0] = 0x1234_5678_9ABC_DEFF
        st[1] = 1
        native([0x00, 0xC8], &st)
        XCTAssertEqual(st[0], 0x1234_5678_9ABC_DE00)
        XCTAssertEqual(st.rflags & Fl.arith, Fl.cf | Fl.zf | Fl.af | Fl.pf)
    }

    func testGuardCatchesFaults() {
        XCTAssertEqual(hostexec_guard_begin(), 0)
        defer { hostexec_guard_end() }
        var st = hostexec_state()
        st[0] = 5; st[1] = 0; st[2] = 0
        var f = hostexec_fault()
        // div ecx by zero
        var sig = [UInt8]([0xF7, 0xF1]).withUnsafeBufferPointer { hostexec_run_guarded($0.baseAddress, $0.count, &st, &f) }
        XCTAssertEqual(sig, SIGFPE)
        XCTAssertEqual(st[0], 5, "state keeps its input after a fault")
        // idiv: INT64_MIN / -1 overflows
        st[0] = 0; st[2] = 0x8000_0000; st[1] = 0xFFFF_FFFF
        st[0] = 0
        sig = [UInt8]([0xF7, 0xF9]).withUnsafeBufferPointer { hostexec_run_guarded($0.baseAddress, $0.count, &st, &f) }
        XCTAssertEqual(sig, SIGFPE)
        // mov rax, [rbx] with rbx = 8
        st[3] = 8
        sig = [UInt8]([0x48, 0x8B, 0x03]).withUnsafeBufferPointer { hostexec_run_guarded($0.baseAddress, $0.count, &st, &f) }
        XCTAssertEqual(sig, SIGSEGV)
        // ud2
        sig = [UInt8]([0x0F, 0x0B]).withUnsafeBufferPointer { hostexec_run_guarded($0.baseAddress, $0.count, &st, &f) }
        XCTAssertEqual(sig, SIGILL)
        // and a clean run afterwards
        st[0] = 1
        sig = [UInt8]([0x48, 0xFF, 0xC0]).withUnsafeBufferPointer { hostexec_run_guarded($0.baseAddress, $0.count, &st, &f) }
        XCTAssertEqual(sig, 0)
        XCTAssertEqual(st[0], 2)
    }

    // MARK: a software model of the add/sub family, checked against the host

    private static func parity(_ v: UInt64) -> Bool { (v & 0xFF).nonzeroBitCount & 1 == 0 }

    private static func szp(_ r: UInt64, _ w: Int) -> UInt64 {
        var f: UInt64 = 0
        if r == 0 { f |= Fl.zf }
        if r >> UInt64(w - 1) & 1 == 1 { f |= Fl.sf }
        if parity(r) { f |= Fl.pf }
        return f
    }

    /// (result, flags) of ADD/ADC (sub = false) or SUB/SBB (sub = true).
    static func model(_ a0: UInt64, _ b0: UInt64, carry: Bool, sub: Bool, _ w: Int) -> (UInt64, UInt64) {
        let m = DiffRng.mask(w)
        let a = a0 & m, b = b0 & m, c: UInt64 = carry ? 1 : 0
        let r: UInt64
        var cf: Bool
        if sub {
            r = (a &- b &- c) & m
            cf = a < b || (a - b) < c
        } else {
            r = (a &+ b &+ c) & m
            if w == 64 {
                let (s1, o1) = a.addingReportingOverflow(b)
                let (_, o2) = s1.addingReportingOverflow(c)
                cf = o1 || o2
            } else {
                cf = a + b + c > m
            }
        }
        var f = szp(r, w)
        if cf { f |= Fl.cf }
        if (a ^ b ^ r) & 0x10 != 0 { f |= Fl.af }
        let sign = UInt64(w - 1)
        let of = sub ? ((a ^ b) & (a ^ r)) >> sign & 1 : ((a ^ r) & (b ^ r)) >> sign & 1
        if of == 1 { f |= Fl.of }
        return (r, f)
    }

    func testHostAgreesWithAddSubModel() {
        var rng = DiffRng(seed: 7)
        // add/adc/sub/sbb r/m, reg with rm = rax, reg = rcx
        let ops: [(String, UInt8, Bool, Bool)] = [("add", 0x00, false, false), ("adc", 0x10, false, true),
                                                  ("sub", 0x28, true, false), ("sbb", 0x18, true, true)]
        for (name, base, sub, useCarry) in ops {
            for w in [8, 16, 32, 64] {
                let code = DiffEnc.rr([w == 8 ? base : base + 1], width: w, reg: 1, rm: 0)
                for _ in 0..<3000 {
                    var st = hostexec_state()
                    st[0] = rng.operand(w); st[1] = rng.operand(w)
                    st.rflags = rng.next() & Fl.all
                    let a = st[0], b = st[1], cin = st.rflags & Fl.cf != 0
                    native(code, &st)
                    let (r, f) = Self.model(a, b, carry: useCarry && cin, sub: sub, w)
                    let m = DiffRng.mask(w)
                    let expect = w == 32 ? r : w == 64 ? r : (a & ~m) | r
                    XCTAssertEqual(st[0], expect, "\(name)\(w) \(a) \(b)")
                    XCTAssertEqual(st.rflags & Fl.arith, f, "\(name)\(w) \(a) \(b) cin=\(cin)")
                }
            }
        }
    }

    func testHostAgreesWithLogicModel() {
        var rng = DiffRng(seed: 9)
        for w in [8, 16, 32, 64] {
            for (base, op) in [(UInt8(0x20), { (a: UInt64, b: UInt64) in a & b }), (0x08, { $0 | $1 }), (0x30, { $0 ^ $1 })] {
                let code = DiffEnc.rr([w == 8 ? base : base + 1], width: w, reg: 1, rm: 0)
                for _ in 0..<2000 {
                    var st = hostexec_state()
                    st[0] = rng.operand(w); st[1] = rng.operand(w)
                    st.rflags = rng.next() & Fl.all
                    let a = st[0], b = st[1]
                    native(code, &st)
                    let r = op(a, b) & DiffRng.mask(w)
                    // AF is undefined after logic operations: not compared.
                    XCTAssertEqual(st.rflags & (Fl.arith & ~Fl.af), Self.szp(r, w))
                    XCTAssertEqual(st[0] & DiffRng.mask(w), r)
                }
            }
        }
    }

    func testCompatibilityModeRuns32BitCode() throws {
        try XCTSkipUnless(hostexec_compat32_available() == 1, "no 32-bit code segment on this host")
        var st = hostexec_state()
        st[0] = 0x0000_0000_7FFF_FFFF
        st[1] = 5
        var f = hostexec_fault()
        // 40 is INC EAX in 32-bit code (a REX prefix in 64-bit code); 49 is DEC ECX.
        var sig = [UInt8]([0x40, 0x49]).withUnsafeBufferPointer { hostexec_run32_guarded($0.baseAddress, $0.count, &st, &f) }
        XCTAssertEqual(sig, 0)
        XCTAssertEqual(st[0] & 0xFFFF_FFFF, 0x8000_0000)
        XCTAssertEqual(st[1] & 0xFFFF_FFFF, 4)
        XCTAssertEqual(st.rflags & (Fl.zf | Fl.sf | Fl.of), 0)  // flags of DEC ECX = 4
        // DAA: AL = 0x0F -> 0x15 with AF.
        st = hostexec_state()
        st[0] = 0x0F
        sig = [UInt8]([0x27]).withUnsafeBufferPointer { hostexec_run32_guarded($0.baseAddress, $0.count, &st, &f) }
        XCTAssertEqual(sig, 0)
        XCTAssertEqual(st[0] & 0xFF, 0x15)
        XCTAssertEqual(st.rflags & Fl.af, Fl.af)
        // A fault in 32-bit code comes back as a signal, and 64-bit runs still work.
        st = hostexec_state()
        sig = [UInt8]([0xD4, 0x00]).withUnsafeBufferPointer { hostexec_run32_guarded($0.baseAddress, $0.count, &st, &f) }  // aam 0
        XCTAssertEqual(sig, SIGFPE)
        st[0] = 1
        native([0x48, 0xFF, 0xC0], &st)
        XCTAssertEqual(st[0], 2)
    }

    func testFeatureQueries() {
        var v = [CChar](repeating: 0, count: 13)
        hostexec_vendor(&v)
        let vendor = String(cString: v)
        XCTAssertEqual(vendor.count, 12)
        // POPCNT exists on every x86-64 machine this project targets.
        XCTAssertEqual(hostexec_has(HOSTEXEC_POPCNT), 1)
        XCTAssertNotEqual(hostexec_code_address(), 0)
    }
}
