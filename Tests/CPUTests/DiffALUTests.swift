// ADD ADC SUB SBB CMP AND OR XOR TEST INC DEC NEG NOT, register, immediate
// and memory forms, 8/16/32/64-bit, against the host.
//
// Flags (SDM "Flags Affected"): the add/sub family, INC/DEC (CF kept), NEG:
// all defined. AND/OR/XOR/TEST: OF=CF=0, SF ZF PF defined, AF undefined.
// NOT: no flag changes.

import CHostExec
import XCTest

final class DiffALUTests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }
    typealias F = DiffForms

    private static let logicDefined: (DiffCase, hostexec_state) -> Defined = { _, _ in .except(Fl.af) }
    private static let allDefined: (DiffCase, hostexec_state) -> Defined = { _, _ in Defined() }

    /// The group-1 operation with ModRM extension `ext` (ADD=0 OR=1 ADC=2 SBB=3 AND=4 SUB=5 XOR=6 CMP=7).
    private func group1(_ name: String, ext: UInt8, logic: Bool) {
        let defined = logic ? Self.logicDefined : Self.allDefined
        let base = ext << 3
        var rng = DiffRng(name: name)
        for w in F.widths {
            // r/m, reg and reg, r/m with registers.
            var vs: [DiffVariant] = []
            for p in F.pairs(w) {
                vs.append(DiffVariant(name: "\(name) \(p.name(w))", code: DiffEnc.rr(F.op(w, base), width: w, reg: p.reg, rm: p.rm, forceREX: p.rex),
                                      cases: F.nReg, show: p.show(w)))
            }
            vs.append(DiffVariant(name: "\(name) r, r/m (\(DiffEnc.regName(11, width: w)), \(DiffEnc.regName(0, width: w)))",
                                  code: DiffEnc.rr(F.op(w, base + 2), width: w, reg: 11, rm: 0), cases: F.nReg, show: [11, 0]))
            // AL/eAX, imm.
            for imm in (w == 8 ? F.imm8Values(&rng) : F.immZValues(w, &rng)) {
                let code = (w == 16 ? [0x66] : w == 64 ? [0x48] : []) + F.op(w, base + 4) + DiffEnc.le(imm, F.immLen(w))
                vs.append(DiffVariant(name: "\(name) \(DiffEnc.regName(0, width: w)), imm 0x\(String(imm, radix: 16))", code: code, cases: F.nImm, show: [0]))
            }
            // 80/81 /ext imm, 83 /ext imm8 (sign-extended).
            for (i, imm) in (w == 8 ? F.imm8Values(&rng) : F.immZValues(w, &rng)).enumerated() {
                let r = F.singles(w)[i % 4]
                vs.append(DiffVariant(name: "\(name) \(r.name(w)), imm 0x\(String(imm, radix: 16))",
                                      code: DiffEnc.rr(w == 8 ? [0x80] : [0x81], width: w, reg: Int(ext), rm: r.r, forceREX: r.rex,
                                                       imm: DiffEnc.le(imm, F.immLen(w))), cases: F.nImm, show: r.show(w)))
            }
            if w > 8 {
                for (i, imm) in F.imm8Values(&rng).enumerated() {
                    let r = F.singles(w)[i % 4]
                    vs.append(DiffVariant(name: "\(name) \(r.name(w)), simm8 0x\(String(imm, radix: 16))",
                                          code: DiffEnc.rr([0x83], width: w, reg: Int(ext), rm: r.r, imm: [UInt8(imm)]), cases: F.nImm, show: [r.r]))
                }
            }
            R.run("\(name)\(w)", vs, DiffSpec(width: w, defined: defined))

            // Memory forms.
            for (base0, disp) in F.memBases {
                let m = F.memName(base0, disp)
                R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) \(m), reg", code: DiffEnc.rm(F.op(w, base), width: w, reg: 1, base: base0, disp: disp), cases: F.nMem, show: [1, base0])],
                      F.memSpec(w, base: base0, disp: disp, defined: defined))
                R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) reg, \(m)", code: DiffEnc.rm(F.op(w, base + 2), width: w, reg: 10, base: base0, disp: disp), cases: F.nMem, show: [10, base0])],
                      F.memSpec(w, base: base0, disp: disp, defined: defined))
            }
            if w == 8 {
                // AH as the register operand of a memory form (no REX).
                R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) [rbx-8], ah", code: DiffEnc.rm(F.op(w, base), width: w, reg: 4, base: 3, disp: -8), cases: F.nMem, show: [0, 3])],
                      F.memSpec(w, base: 3, disp: -8, defined: defined))
                R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) bh, [rsi+0x300]", code: DiffEnc.rm(F.op(w, base + 2), width: w, reg: 7, base: 6, disp: 0x300), cases: F.nMem, show: [3, 6])],
                      F.memSpec(w, base: 6, disp: 0x300, defined: defined))
            }
            let imm = rng.next()
            R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) [rbx-8], imm", code: DiffEnc.rm(w == 8 ? [0x80] : [0x81], width: w, reg: Int(ext), base: 3, disp: -8, imm: DiffEnc.le(imm, F.immLen(w))), cases: F.nMem, show: [3])],
                  F.memSpec(w, base: 3, disp: -8, defined: defined))
            if w > 8 {
                R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) [rbx-8], simm8", code: DiffEnc.rm([0x83], width: w, reg: Int(ext), base: 3, disp: -8, imm: [UInt8(truncatingIfNeeded: imm >> 40)]), cases: F.nMem, show: [3])],
                      F.memSpec(w, base: 3, disp: -8, defined: defined))
            }
        }
    }

    /// Every 8-bit operand pair with both carry-in values.
    private func exhaustive8(_ name: String, ext: UInt8, logic: Bool) {
        let code = DiffEnc.rr([ext << 3], width: 8, reg: 1, rm: 0)  // op al, cl
        R.run("\(name)8 exhaustive", [DiffVariant(name: "\(name) al, cl (all inputs)", code: code, cases: 1 << 17, show: [0, 1])],
              DiffSpec(width: 8, gen: { _, c in
                  c[0] = (c[0] & ~0xFF) | UInt64(c.index & 0xFF)
                  c[1] = (c[1] & ~0xFF) | UInt64((c.index >> 8) & 0xFF)
                  c.flags = (c.flags & ~Fl.cf) | UInt64(c.index >> 16)
              }, defined: logic ? Self.logicDefined : Self.allDefined))
    }

    func testADD() { group1("add", ext: 0, logic: false); exhaustive8("add", ext: 0, logic: false) }
    func testOR() { group1("or", ext: 1, logic: true) }
    func testADC() { group1("adc", ext: 2, logic: false); exhaustive8("adc", ext: 2, logic: false) }
    func testSBB() { group1("sbb", ext: 3, logic: false); exhaustive8("sbb", ext: 3, logic: false) }
    func testAND() { group1("and", ext: 4, logic: true) }
    func testSUB() { group1("sub", ext: 5, logic: false); exhaustive8("sub", ext: 5, logic: false) }
    func testXOR() { group1("xor", ext: 6, logic: true) }
    func testCMP() { group1("cmp", ext: 7, logic: false) }

    func testTEST() {
        var rng = DiffRng(name: "test")
        for w in F.widths {
            var vs: [DiffVariant] = []
            for p in F.pairs(w) {
                vs.append(DiffVariant(name: "test \(p.name(w))", code: DiffEnc.rr(F.op(w, 0x84), width: w, reg: p.reg, rm: p.rm, forceREX: p.rex), cases: F.nReg, show: p.show(w)))
            }
            for imm in (w == 8 ? F.imm8Values(&rng) : F.immZValues(w, &rng)) {
                let code = (w == 16 ? [0x66] : w == 64 ? [0x48] : []) + F.op(w, 0xA8) + DiffEnc.le(imm, F.immLen(w))
                vs.append(DiffVariant(name: "test acc, 0x\(String(imm, radix: 16))", code: code, cases: F.nImm, show: [0]))
                vs.append(DiffVariant(name: "test r9, 0x\(String(imm, radix: 16))",
                                      code: DiffEnc.rr(F.op(w, 0xF6), width: w, reg: 0, rm: 9, imm: DiffEnc.le(imm, F.immLen(w))), cases: F.nImm, show: [9]))
            }
            R.run("test\(w)", vs, DiffSpec(width: w, defined: Self.logicDefined))
            R.run("test\(w) mem", [DiffVariant(name: "test [rbx-8], reg", code: DiffEnc.rm(F.op(w, 0x84), width: w, reg: 2, base: 3, disp: -8), cases: F.nMem)],
                  F.memSpec(w, base: 3, disp: -8, defined: Self.logicDefined))
        }
    }

    /// Group-3/group-5 unary forms: F6/F7 (NOT=2, NEG=3) or FE/FF (INC=0, DEC=1).
    private func unary(_ name: String, opcode: UInt8, ext: Int) {
        for w in F.widths {
            let vs = F.singles(w).map { s in
                DiffVariant(name: "\(name) \(s.name(w))", code: DiffEnc.rr(F.op(w, opcode), width: w, reg: ext, rm: s.r, forceREX: s.rex), cases: F.nReg, show: s.show(w))
            }
            R.run("\(name)\(w)", vs, DiffSpec(width: w))
            for (base, disp) in F.memBases {
                R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) \(F.memName(base, disp))", code: DiffEnc.rm(F.op(w, opcode), width: w, reg: ext, base: base, disp: disp), cases: F.nMem, show: [base])],
                      F.memSpec(w, base: base, disp: disp))
            }
        }
    }

    func testINC() { unary("inc", opcode: 0xFE, ext: 0) }
    func testDEC() { unary("dec", opcode: 0xFE, ext: 1) }
    func testNOT() { unary("not", opcode: 0xF6, ext: 2) }
    func testNEG() { unary("neg", opcode: 0xF6, ext: 3) }
}
