// SHL SHR SAR ROL ROR RCL RCR by 1, by CL and by imm8, SHLD SHRD by CL and
// imm8, 8/16/32/64-bit, register and memory forms, against the host.
//
// Flags (SDM): the count is masked to 5 bits (6 with REX.W); a masked count
// of 0 changes no flag. Otherwise:
// - SHL/SHR/SAR: CF = last bit out (undefined for SHL/SHR when the masked
//   count >= the operand width, 8/16-bit only), OF only for a count of 1,
//   SF ZF PF from the result, AF undefined.
// - ROL/ROR/RCL/RCR: only CF and OF change; OF only for a count of 1.
// - SHLD/SHRD: as SHL/SHR; a count greater than the operand width (16-bit
//   only) leaves the result and every flag undefined.

import CHostExec
import XCTest

final class DiffShiftTests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }
    typealias F = DiffForms

    static let counts: [UInt64] = [0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 127, 128, 255]

    static func shiftDefined(_ ext: Int, _ w: Int, _ count: UInt64) -> Defined {
        let masked = count & (w == 64 ? 63 : 31)
        if masked == 0 { return Defined() }
        var undefined: UInt64 = masked == 1 ? 0 : Fl.of
        switch ext {
        case 4, 5:
            undefined |= Fl.af
            if masked >= UInt64(w) { undefined |= Fl.cf }
        case 7:
            undefined |= Fl.af
        default:
            break
        }
        return .except(undefined)
    }

    /// A CL value: mostly an interesting count, under random bits 8-63.
    static func genCL(_ rng: inout DiffRng, _ c: inout DiffCase) {
        if rng.below(5) != 0 {
            c[1] = (c[1] & ~0xFF) | counts[rng.below(counts.count)]
        }
    }

    private func group2(_ name: String, ext: Int) {
        for w in F.widths {
            // By 1.
            let by1 = F.singles(w).map { s in
                DiffVariant(name: "\(name) \(s.name(w)), 1", code: DiffEnc.rr(F.op(w, 0xD0), width: w, reg: ext, rm: s.r, forceREX: s.rex), cases: F.nReg / 2, show: s.show(w))
            }
            R.run("\(name)\(w) by 1", by1, DiffSpec(width: w, defined: { _, _ in Self.shiftDefined(ext, w, 1) }))
            // By CL (the destination may be CL itself).
            var dests = F.singles(w)
            dests.append(F.Single(r: 1, rex: false))
            let byCL = dests.map { s in
                DiffVariant(name: "\(name) \(s.name(w)), cl", code: DiffEnc.rr(F.op(w, 0xD2), width: w, reg: ext, rm: s.r, forceREX: s.rex), cases: F.nReg, show: Array(Set(s.show(w) + [1])).sorted())
            }
            R.run("\(name)\(w) by cl", byCL, DiffSpec(width: w, gen: Self.genCL, defined: { c, _ in Self.shiftDefined(ext, w, c[1] & 0xFF) }))
            // By imm8.
            for (i, n) in Self.counts.enumerated() {
                let s = F.singles(w)[i % 4]
                R.run("\(name)\(w) by imm", [DiffVariant(name: "\(name) \(s.name(w)), \(n)", code: DiffEnc.rr(F.op(w, 0xC0), width: w, reg: ext, rm: s.r, forceREX: s.rex, imm: [UInt8(n)]), cases: F.nImm, show: s.show(w))],
                      DiffSpec(width: w, defined: { _, _ in Self.shiftDefined(ext, w, n) }))
            }
            // Memory: by CL, by 1, by imm.
            R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) [rbx-8], cl", code: DiffEnc.rm(F.op(w, 0xD2), width: w, reg: ext, base: 3, disp: -8), cases: F.nMem, show: [1, 3])],
                  F.memSpec(w, base: 3, disp: -8, extra: Self.genCL, defined: { c, _ in Self.shiftDefined(ext, w, c[1] & 0xFF) }))
            R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) [r13+0x7f], 1", code: DiffEnc.rm(F.op(w, 0xD0), width: w, reg: ext, base: 13, disp: 0x7F), cases: F.nMem / 2, show: [13])],
                  F.memSpec(w, base: 13, disp: 0x7F, defined: { _, _ in Self.shiftDefined(ext, w, 1) }))
            for n: UInt64 in [3, UInt64(w - 1), 33] {
                R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) [rsi+0x300], \(n)", code: DiffEnc.rm(F.op(w, 0xC0), width: w, reg: ext, base: 6, disp: 0x300, imm: [UInt8(n)]), cases: F.nMem / 2, show: [6])],
                      F.memSpec(w, base: 6, disp: 0x300, defined: { _, _ in Self.shiftDefined(ext, w, n) }))
            }
        }
    }

    func testROL() { group2("rol", ext: 0) }
    func testROR() { group2("ror", ext: 1) }
    func testRCL() { group2("rcl", ext: 2) }
    func testRCR() { group2("rcr", ext: 3) }
    func testSHL() { group2("shl", ext: 4) }
    func testSHR() { group2("shr", ext: 5) }
    func testSAR() { group2("sar", ext: 7) }

    static func doubleDefined(_ w: Int, _ count: UInt64, dest: Int) -> Defined {
        let masked = count & (w == 64 ? 63 : 31)
        if masked == 0 { return Defined() }
        if masked > UInt64(w) {
            return Defined(flags: Fl.df, regs: 0xFFEF & ~(1 << UInt16(dest)))
        }
        return .except(Fl.af | (masked == 1 ? 0 : Fl.of))
    }

    private func double(_ name: String, opImm: UInt8, opCL: UInt8) {
        for w in F.wide {
            let pairs = F.pairs(w)
            let byCL = pairs.map { p in
                DiffVariant(name: "\(name) \(p.name(w)), cl", code: DiffEnc.rr([0x0F, opCL], width: w, reg: p.reg, rm: p.rm), cases: F.nReg, show: Array(Set(p.show(w) + [1])).sorted())
            }
            // Each pair has its own destination: one spec per variant.
            for (p, v) in zip(pairs, byCL) {
                R.run("\(name)\(w) by cl", [v], DiffSpec(width: w, gen: Self.genCL, defined: { c, _ in Self.doubleDefined(w, c[1] & 0xFF, dest: p.rm) }))
            }
            for (i, n) in Self.counts.enumerated() {
                let p = pairs[i % pairs.count]
                R.run("\(name)\(w) by imm", [DiffVariant(name: "\(name) \(p.name(w)), \(n)", code: DiffEnc.rr([0x0F, opImm], width: w, reg: p.reg, rm: p.rm, imm: [UInt8(n)]), cases: F.nImm, show: p.show(w))],
                      DiffSpec(width: w, defined: { _, _ in Self.doubleDefined(w, n, dest: p.rm) }))
            }
            R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) [rbx-8], rdx, cl", code: DiffEnc.rm([0x0F, opCL], width: w, reg: 2, base: 3, disp: -8), cases: F.nMem, show: [1, 2, 3])],
                  F.memSpec(w, base: 3, disp: -8, extra: { rng, c in
                      Self.genCL(&rng, &c)
                      // A count above a 16-bit width leaves memory undefined: keep it defined.
                      if w == 16 && c[1] & 0x1F > 16 { c[1] &= ~0x10 }
                  }, defined: { c, _ in Self.doubleDefined(w, c[1] & 0xFF, dest: 4) }))
            R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) [rsi+0x300], r10, 5", code: DiffEnc.rm([0x0F, opImm], width: w, reg: 10, base: 6, disp: 0x300, imm: [5]), cases: F.nMem, show: [10, 6])],
                  F.memSpec(w, base: 6, disp: 0x300, defined: { _, _ in Self.doubleDefined(w, 5, dest: 4) }))
        }
    }

    func testSHLD() { double("shld", opImm: 0xA4, opCL: 0xA5) }
    func testSHRD() { double("shrd", opImm: 0xAC, opCL: 0xAD) }
}
