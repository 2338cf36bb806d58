// BT BTS BTR BTC (register and imm8 offsets, register and memory bases, with
// bit-string addressing beyond the operand for register offsets into memory),
// BSF BSR TZCNT LZCNT POPCNT and BSWAP, against the host.
//
// Flags (SDM): BTx: CF = the bit, ZF unchanged, OF SF AF PF undefined.
// BSF/BSR: ZF = (source == 0), the rest undefined; the destination is
// undefined when the source is 0. TZCNT/LZCNT: CF = (source == 0),
// ZF = (result == 0), the rest undefined. POPCNT: ZF = (source == 0), the
// others cleared (all defined). BSWAP: no flags (16-bit BSWAP is undefined
// and not tested).

import CHostExec
import XCTest

final class DiffBitTests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }
    typealias F = DiffForms

    static let btDefined: (DiffCase, hostexec_state) -> Defined = { _, _ in .except(Fl.of | Fl.sf | Fl.af | Fl.pf) }

    /// A bit offset for a register form: small, around the width, or random.
    static func bitOffset(_ rng: inout DiffRng, _ w: Int) -> UInt64 {
        switch rng.below(4) {
        case 0: return UInt64(rng.below(w))
        case 1: return UInt64(w - 1 + rng.below(3))
        default: return rng.next()
        }
    }

    private func bitTest(_ name: String, opReg: UInt8, ext: Int) {
        for w in F.wide {
            // Register base, register offset.
            let pairs = F.pairs(w).filter { $0.reg != $0.rm } + [F.Pair(reg: 3, rm: 3, rex: false)]
            let vs = pairs.map { p in
                DiffVariant(name: "\(name) \(p.name(w))", code: DiffEnc.rr([0x0F, opReg], width: w, reg: p.reg, rm: p.rm), cases: F.nReg, show: p.show(w))
            }
            R.run("\(name)\(w)", vs, DiffSpec(width: w, gen: { rng, c in
                if rng.coin() { c[1] = Self.bitOffset(&rng, w) }
                if rng.coin() { c[6] = Self.bitOffset(&rng, w) }
            }, defined: Self.btDefined))
            // Register base, imm8 offset (taken modulo the width).
            let imms: [UInt8] = [0, 1, 7, 15, 16, 31, 32, 63, 64, 0x85, 0xFF]
            let iv = imms.enumerated().map { (i, n) -> DiffVariant in
                let s = F.singles(w)[i % 4]
                return DiffVariant(name: "\(name) \(s.name(w)), \(n)", code: DiffEnc.rr([0x0F, 0xBA], width: w, reg: ext, rm: s.r, imm: [n]), cases: F.nImm, show: [s.r])
            }
            R.run("\(name)\(w) imm", iv, DiffSpec(width: w, defined: Self.btDefined))
            // Memory base, register offset: the bit string extends beyond the
            // operand in both directions (offset signed, operand-size wide).
            R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) [rbx-8], rcx", code: DiffEnc.rm([0x0F, opReg], width: w, reg: 1, base: 3, disp: -8), cases: F.nMem * 2, show: [1, 3])],
                  F.memSpec(w, base: 3, disp: -8, extra: { rng, c in
                      let span = 1500 * 8  // bits either side, inside the data window
                      let off = Int64(rng.below(2 * span)) - Int64(span)
                      let m = DiffRng.mask(w)
                      let pick = rng.below(4)
                      let bits: Int64 = pick == 0 ? Int64(rng.below(w)) : pick == 1 ? -Int64(1 + rng.below(w)) : off
                      c[1] = (rng.next() & ~m) | (UInt64(bitPattern: bits) & m)
                  }, defined: Self.btDefined))
            R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) [rsi+0x300], 0x2d", code: DiffEnc.rm([0x0F, 0xBA], width: w, reg: ext, base: 6, disp: 0x300, imm: [0x2D]), cases: F.nMem, show: [6])],
                  F.memSpec(w, base: 6, disp: 0x300, defined: Self.btDefined))
        }
    }

    func testBT() { bitTest("bt", opReg: 0xA3, ext: 4) }
    func testBTS() { bitTest("bts", opReg: 0xAB, ext: 5) }
    func testBTR() { bitTest("btr", opReg: 0xB3, ext: 6) }
    func testBTC() { bitTest("btc", opReg: 0xBB, ext: 7) }

    // MARK: scans and counts

    /// A source with few bits, one bit, zero, or random bits.
    static func genScanSource(_ rng: inout DiffRng, _ c: inout DiffCase, reg: Int, w: Int) {
        let m = DiffRng.mask(w)
        let v: UInt64
        switch rng.below(6) {
        case 0: v = 0
        case 1: v = 1 << UInt64(rng.below(w))
        case 2: v = (1 << UInt64(rng.below(w))) | (1 << UInt64(rng.below(w)))
        case 3: v = rng.next() & rng.next() & rng.next()
        default: v = rng.next()
        }
        c[reg] = (c[reg] & ~m) | (v & m)
    }

    private func scan(_ name: String, prefix: [UInt8], op: UInt8,
                      defined: @escaping (_ src: UInt64, _ dest: Int) -> Defined) {
        for w in F.wide {
            for p in F.pairs(w) {
                let v = DiffVariant(name: "\(name) \(DiffEnc.regName(p.reg, width: w)), \(DiffEnc.regName(p.rm, width: w))",
                                    code: DiffEnc.rr([0x0F, op], width: w, reg: p.reg, rm: p.rm, prefix: prefix), cases: F.nReg, show: p.show(w))
                R.run("\(name)\(w)", [v], DiffSpec(width: w, gen: { rng, c in Self.genScanSource(&rng, &c, reg: p.rm, w: w) },
                                                   defined: { c, _ in defined(c[p.rm] & DiffRng.mask(w), p.reg) }))
            }
            R.run("\(name)\(w) mem", [DiffVariant(name: "\(name) r10, [rbx-8]", code: DiffEnc.rm([0x0F, op], width: w, reg: 10, base: 3, disp: -8, prefix: prefix), cases: F.nMem, show: [10, 3])],
                  F.memSpec(w, base: 3, disp: -8, extra: { rng, c in
                      var t = c
                      Self.genScanSource(&rng, &t, reg: 0, w: w)
                      c.store(F.memOff, t[0], w / 8)
                  }, defined: { c, _ in defined(c.load(F.memOff, w / 8), 10) }))
        }
    }

    /// BSF/BSR: ZF defined; destination undefined for a zero source.
    static func bsDefined(_ src: UInt64, _ dest: Int) -> Defined {
        var d = Defined.except(Fl.cf | Fl.of | Fl.sf | Fl.af | Fl.pf)
        if src == 0 { d.regs &= ~(1 << UInt16(dest)) }
        return d
    }

    func testBSF() { scan("bsf", prefix: [], op: 0xBC, defined: Self.bsDefined) }
    func testBSR() { scan("bsr", prefix: [], op: 0xBD, defined: Self.bsDefined) }

    func testTZCNT() throws {
        try XCTSkipUnless(hostexec_has(HOSTEXEC_BMI1) == 1, "host has no BMI1 (TZCNT would run as BSF)")
        scan("tzcnt", prefix: [0xF3], op: 0xBC, defined: { _, _ in .except(Fl.of | Fl.sf | Fl.af | Fl.pf) })
    }

    func testLZCNT() throws {
        try XCTSkipUnless(hostexec_has(HOSTEXEC_LZCNT) == 1, "host has no LZCNT (it would run as BSR)")
        scan("lzcnt", prefix: [0xF3], op: 0xBD, defined: { _, _ in .except(Fl.of | Fl.sf | Fl.af | Fl.pf) })
    }

    func testPOPCNT() throws {
        try XCTSkipUnless(hostexec_has(HOSTEXEC_POPCNT) == 1, "host has no POPCNT")
        scan("popcnt", prefix: [0xF3], op: 0xB8, defined: { _, _ in Defined() })
    }

    func testBSWAP() {
        for w in [32, 64] {
            let vs = [0, 3, 5, 7, 8, 12, 15].map { r in
                DiffVariant(name: "bswap \(DiffEnc.regName(r, width: w))",
                            code: DiffEnc.head(prefix: [], width: w, reg: 0, x: 0, b: r, forceREX: false) + [0x0F, 0xC8 + UInt8(r & 7)], cases: F.nReg / 2, show: [r])
            }
            R.run("bswap\(w)", vs, DiffSpec(width: w))
        }
    }
}
