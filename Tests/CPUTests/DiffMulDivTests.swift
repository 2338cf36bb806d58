// MUL IMUL (one, two and three operands) DIV IDIV, 8/16/32/64-bit, register
// and memory sources, against the host.
//
// Flags (SDM): MUL/IMUL define CF and OF only (SF ZF AF PF undefined).
// DIV/IDIV leave all six arithmetic flags undefined.
// Division inputs that raise #DE (zero divisor, quotient out of range) never
// run natively: the interpreter alone runs them and must deliver vector 0
// with every register and memory unchanged and the frame RIP at the DIV.

import CHostExec
import XCTest

final class DiffMulDivTests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }
    typealias F = DiffForms

    static let mulDefined: (DiffCase, hostexec_state) -> Defined = { _, _ in .except(Fl.sf | Fl.zf | Fl.af | Fl.pf) }
    static let divDefined: (DiffCase, hostexec_state) -> Defined = { _, _ in .except(Fl.arith) }

    /// Source registers of the one-operand forms (some overlap the implicit operands).
    static func sources(_ w: Int) -> [F.Single] {
        if w == 8 {
            return [F.Single(r: 1, rex: false), F.Single(r: 7, rex: false), F.Single(r: 10, rex: true),
                    F.Single(r: 0, rex: false), F.Single(r: 4, rex: false)]  // cl bh r10b al ah
        }
        return [F.Single(r: 1, rex: false), F.Single(r: 3, rex: false), F.Single(r: 9, rex: false),
                F.Single(r: 0, rex: false), F.Single(r: 2, rex: false)]      // rcx rbx r9 rax rdx
    }

    private func oneOperand(_ name: String, ext: Int) {
        for w in F.widths {
            let vs = Self.sources(w).map { s in
                DiffVariant(name: "\(name) \(s.name(w))", code: DiffEnc.rr(F.op(w, 0xF6), width: w, reg: ext, rm: s.r, forceREX: s.rex), cases: F.nReg, show: Array(Set([0, 2] + s.show(w))).sorted())
            }
            R.run("\(name)\(w)", vs, DiffSpec(width: w, defined: Self.mulDefined))
            for (base, disp) in F.memBases {
                R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) \(F.memName(base, disp))", code: DiffEnc.rm(F.op(w, 0xF6), width: w, reg: ext, base: base, disp: disp), cases: F.nMem, show: [0, 2, base])],
                      F.memSpec(w, base: base, disp: disp, defined: Self.mulDefined))
            }
        }
    }

    func testMUL() { oneOperand("mul", ext: 4) }
    func testIMUL1() { oneOperand("imul", ext: 5) }

    func testIMUL2() {
        for w in F.wide {
            let vs = F.pairs(w).map { p in
                DiffVariant(name: "imul \(DiffEnc.regName(p.reg, width: w)), \(DiffEnc.regName(p.rm, width: w))", code: DiffEnc.rr([0x0F, 0xAF], width: w, reg: p.reg, rm: p.rm), cases: F.nReg, show: p.show(w))
            }
            R.run("imul2 \(w)", vs, DiffSpec(width: w, defined: Self.mulDefined))
            for (base, disp) in F.memBases {
                R.run("imul2 \(w) mem", [DiffVariant(name: "imul r11, \(F.memName(base, disp))", code: DiffEnc.rm([0x0F, 0xAF], width: w, reg: 11, base: base, disp: disp), cases: F.nMem, show: [11, base])],
                      F.memSpec(w, base: base, disp: disp, defined: Self.mulDefined))
            }
        }
    }

    func testIMUL3() {
        var rng = DiffRng(name: "imul3")
        for w in F.wide {
            var vs: [DiffVariant] = []
            for (i, imm) in F.immZValues(w, &rng).enumerated() {
                let p = F.pairs(w)[i % 5]
                vs.append(DiffVariant(name: "imul \(DiffEnc.regName(p.reg, width: w)), \(DiffEnc.regName(p.rm, width: w)), 0x\(String(imm, radix: 16))",
                                      code: DiffEnc.rr([0x69], width: w, reg: p.reg, rm: p.rm, imm: DiffEnc.le(imm, F.immLen(w))), cases: F.nImm * 2, show: p.show(w)))
            }
            for (i, imm) in F.imm8Values(&rng).enumerated() {
                let p = F.pairs(w)[i % 5]
                vs.append(DiffVariant(name: "imul \(DiffEnc.regName(p.reg, width: w)), \(DiffEnc.regName(p.rm, width: w)), simm8 0x\(String(imm, radix: 16))",
                                      code: DiffEnc.rr([0x6B], width: w, reg: p.reg, rm: p.rm, imm: [UInt8(imm)]), cases: F.nImm * 2, show: p.show(w)))
            }
            R.run("imul3 \(w)", vs, DiffSpec(width: w, defined: Self.mulDefined))
            R.run("imul3 \(w) mem", [DiffVariant(name: "imul rdx, [rbx-8], 0x7ff1", code: DiffEnc.rm([0x69], width: w, reg: 2, base: 3, disp: -8, imm: DiffEnc.le(0x7FF1, F.immLen(w))), cases: F.nMem, show: [2, 3])],
                  F.memSpec(w, base: 3, disp: -8, defined: Self.mulDefined))
            R.run("imul3 \(w) mem", [DiffVariant(name: "imul r9, [rsi+0x300], -3", code: DiffEnc.rm([0x6B], width: w, reg: 9, base: 6, disp: 0x300, imm: [0xFD]), cases: F.nMem, show: [9, 6])],
                  F.memSpec(w, base: 6, disp: 0x300, defined: Self.mulDefined))
        }
    }

    // MARK: division

    /// The dividend (AX, or rDX:rAX) of a `w`-bit division.
    static func dividend(_ c: DiffCase, _ w: Int) -> UInt128 {
        if w == 8 { return UInt128(c[0] & 0xFFFF) }
        let m = DiffRng.mask(w)
        return UInt128(c[2] & m) << UInt128(w) | UInt128(c[0] & m)
    }

    /// True when dividing by `d` (`w` bits) raises #DE.
    static func divides(_ c: DiffCase, _ w: Int, signed: Bool, divisor d0: UInt64) -> Bool {
        let m = DiffRng.mask(w)
        let d = d0 & m
        if d == 0 { return false }
        let n = dividend(c, w)
        if !signed {
            return n / UInt128(d) <= UInt128(m)
        }
        // Sign-extend the 2w-bit dividend and the w-bit divisor.
        let nbits = 2 * w
        let ns = nbits == 128 ? Int128(bitPattern: n) : Int128(bitPattern: n << UInt128(128 - nbits)) >> Int128(128 - nbits)
        let ds = Int128(Int64(bitPattern: d << UInt64(64 - w)) >> Int64(64 - w))
        let (q, overflow) = ns.dividedReportingOverflow(by: ds)
        if overflow { return false }
        let lim = Int128(1) << Int128(w - 1)
        return q >= -lim && q < lim
    }

    /// Places a dividend and a divisor that divide without #DE most of the
    /// time (when the divisor register does not overlap the dividend), with
    /// a share of zero divisors and overflowing quotients.
    static func genDivision(_ rng: inout DiffRng, _ c: inout DiffCase, w: Int, signed: Bool,
                            source: F.Single?) -> Void {
        let m = DiffRng.mask(w)
        let overlaps = source.map { s in w == 8 ? (!s.rex && (s.r == 0 || s.r == 4)) : (s.r == 0 || s.r == 2) } ?? false
        if overlaps { return }
        var d = rng.operand(w) & m
        let mode = rng.below(10)
        if mode == 9 { d = rng.coin() ? 0 : m }  // zero, or -1 (with a random, often overflowing dividend)
        if d == 0 && mode < 7 { d = 1 + UInt64(rng.below(Int(min(m, 1000)))) }
        if mode < 7 && d != 0 {
            var n: UInt128
            if !signed {
                let q = UInt128(rng.operand(w) & m)
                let r = UInt128(rng.next() % d)
                n = q * UInt128(d) + r
            } else {
                let ds = Int128(Int64(bitPattern: d << UInt64(64 - w)) >> Int64(64 - w))
                let qs = Int128(Int64(bitPattern: (rng.operand(w) & m) << UInt64(64 - w)) >> Int64(64 - w))
                let prod = qs * ds
                let mag = Int128(rng.next() % UInt64(ds.magnitude > UInt128(UInt64.max) ? UInt64.max : UInt64(ds.magnitude)))
                let r = prod > 0 || (prod == 0 && rng.coin()) ? mag : -mag
                n = UInt128(bitPattern: prod + r)
            }
            if w == 8 {
                c[0] = (c[0] & ~0xFFFF) | UInt64(truncatingIfNeeded: n & 0xFFFF)
            } else {
                let mask2 = UInt128(m)
                c[0] = (c[0] & ~m) | UInt64(truncatingIfNeeded: n & mask2)
                c[2] = (c[2] & ~m) | UInt64(truncatingIfNeeded: (n >> UInt128(w)) & mask2)
            }
        }
        if let s = source {
            F.write(&c, s.r, w, d, rex: s.rex)
        } else {
            c.store(F.memOff, d, w / 8)
        }
    }

    private func division(_ name: String, ext: Int, signed: Bool) {
        for w in F.widths {
            for s in Self.sources(w) {
                let v = DiffVariant(name: "\(name) \(s.name(w))", code: DiffEnc.rr(F.op(w, 0xF6), width: w, reg: ext, rm: s.r, forceREX: s.rex),
                                    cases: F.nReg * 2, show: Array(Set([0, 2] + s.show(w))).sorted())
                R.run("\(name)\(w)", [v], DiffSpec(width: w, gen: { rng, c in Self.genDivision(&rng, &c, w: w, signed: signed, source: s) },
                                                   defined: Self.divDefined,
                                                   fault: { c in Self.divides(c, w, signed: signed, divisor: F.read(c, s.r, w, rex: s.rex)) ? nil : 0 }))
            }
            for (base, disp) in F.memBases {
                var spec = F.memSpec(w, base: base, disp: disp, extra: { rng, c in Self.genDivision(&rng, &c, w: w, signed: signed, source: nil) },
                                     defined: Self.divDefined)
                spec.fault = { c in Self.divides(c, w, signed: signed, divisor: c.load(F.memOff, w / 8)) ? nil : 0 }
                R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) \(F.memName(base, disp))", code: DiffEnc.rm(F.op(w, 0xF6), width: w, reg: ext, base: base, disp: disp), cases: F.nMem * 2, show: [0, 2, base])],
                      spec)
            }
        }
    }

    func testDIV() { division("div", ext: 6, signed: false) }
    func testIDIV() { division("idiv", ext: 7, signed: true) }

    /// The #DE predicate agrees with the host: inputs it calls faulting raise
    /// SIGFPE natively, the others do not.
    func testDivideErrorPredicateMatchesHost() {
        XCTAssertEqual(hostexec_guard_begin(), 0)
        defer { hostexec_guard_end() }
        let mem = UnsafeMutableRawPointer.allocate(byteCount: DiffMachine.dataSize, alignment: 16)
        defer { mem.deallocate() }
        var faults = 0
        for signed in [false, true] {
            for w in F.widths {
                let s = F.Single(r: 1, rex: false)
                let code = DiffEnc.rr(F.op(w, 0xF6), width: w, reg: signed ? 7 : 6, rm: 1)
                var rng = DiffRng(name: "de\(w)\(signed)")
                for i in 0..<2000 {
                    var c = DiffCase(mem: mem, index: i)
                    for r in 0..<16 where r != 4 { c[r] = rng.operand(w) }
                    Self.genDivision(&rng, &c, w: w, signed: signed, source: s)
                    let ok = Self.divides(c, w, signed: signed, divisor: F.read(c, 1, w))
                    var st = c.st
                    var f = hostexec_fault()
                    let sig = code.withUnsafeBufferPointer { hostexec_run_guarded($0.baseAddress, $0.count, &st, &f) }
                    if !ok { faults += 1 }
                    XCTAssertEqual(sig, ok ? 0 : SIGFPE, "\(signed ? "idiv" : "div")\(w) rdx=\(c[2]) rax=\(c[0]) rcx=\(c[1])")
                }
            }
        }
        XCTAssertGreaterThan(faults, 500)
    }
}
