// MOVZX MOVSX MOVSXD, CMOVcc, SETcc, XCHG, XADD, CMPXCHG, CBW CWDE CDQE CWD
// CDQ CQO and LEA, against the host.
//
// Flags (SDM): none of the moves, CMOVcc, SETcc, XCHG, CBW-family or LEA
// changes a flag (all compared). XADD: as ADD. CMPXCHG: as CMP (all defined).

import CHostExec
import XCTest

final class DiffMoveTests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }
    typealias F = DiffForms

    // MARK: extension moves

    /// (dest, src, rex) choices for a byte source under destination width w.
    private static func byteSources(_ w: Int) -> [(Int, Int, Bool)] {
        var s: [(Int, Int, Bool)] = [(0, 1, false), (9, 6, true), (2, 12, false), (7, 7, true)]
        if w != 64 { s.append((3, 4, false)) }  // from AH (no REX possible)
        return s
    }

    private func extend(_ name: String, byteOp: UInt8, wordOp: UInt8) {
        for w in F.wide {
            let vs = Self.byteSources(w).map { (d, s, rex) in
                DiffVariant(name: "\(name) \(DiffEnc.regName(d, width: w)), \(DiffEnc.regName(s, width: 8, rex: rex || d >= 8 || w == 64))",
                            code: DiffEnc.rr([0x0F, byteOp], width: w, reg: d, rm: s, forceREX: rex), cases: F.nReg / 2,
                            show: Array(Set([d, !rex && s >= 4 && s < 8 && w != 64 && d < 8 ? s - 4 : s])).sorted())
            }
            R.run("\(name)\(w) r8", vs, DiffSpec(width: 8))
            R.run("\(name)\(w) m8", [DiffVariant(name: "\(name) r11, byte [rbx-8]", code: DiffEnc.rm([0x0F, byteOp], width: w, reg: 11, base: 3, disp: -8), cases: F.nMem / 2, show: [11, 3])],
                  F.memSpec(w, base: 3, disp: -8, memWidth: 8))
        }
        for w in [32, 64] {
            let vs = [(0, 1), (9, 14), (7, 7)].map { (d, s) in
                DiffVariant(name: "\(name) \(DiffEnc.regName(d, width: w)), \(DiffEnc.regName(s, width: 16))",
                            code: DiffEnc.rr([0x0F, wordOp], width: w, reg: d, rm: s), cases: F.nReg / 2, show: [d, s])
            }
            R.run("\(name)\(w) r16", vs, DiffSpec(width: 16))
            R.run("\(name)\(w) m16", [DiffVariant(name: "\(name) rdx, word [rsi+0x300]", code: DiffEnc.rm([0x0F, wordOp], width: w, reg: 2, base: 6, disp: 0x300), cases: F.nMem / 2, show: [2, 6])],
                  F.memSpec(w, base: 6, disp: 0x300, memWidth: 16))
        }
    }

    func testMOVZX() { extend("movzx", byteOp: 0xB6, wordOp: 0xB7) }
    func testMOVSX() { extend("movsx", byteOp: 0xBE, wordOp: 0xBF) }

    func testMOVSXD() {
        let vs = [(0, 1), (9, 14), (3, 3)].map { (d, s) in
            DiffVariant(name: "movsxd \(DiffEnc.names64[d]), \(DiffEnc.regName(s, width: 32))", code: DiffEnc.rr([0x63], width: 64, reg: d, rm: s), cases: F.nReg, show: [d, s])
        }
        R.run("movsxd", vs, DiffSpec(width: 32))
        R.run("movsxd mem", [DiffVariant(name: "movsxd r12, dword [r13+0x7f]", code: DiffEnc.rm([0x63], width: 64, reg: 12, base: 13, disp: 0x7F), cases: F.nMem, show: [12, 13])],
              F.memSpec(64, base: 13, disp: 0x7F, memWidth: 32))
    }

    // MARK: conditional moves and sets

    func testCMOVcc() {
        for cc in 0..<16 {
            for w in F.wide {
                let vs = F.pairs(w).map { p in
                    DiffVariant(name: "cmov\(cc) \(DiffEnc.regName(p.reg, width: w)), \(DiffEnc.regName(p.rm, width: w))",
                                code: DiffEnc.rr([0x0F, 0x40 + UInt8(cc)], width: w, reg: p.reg, rm: p.rm), cases: 300, show: p.show(w))
                }
                R.run("cmov\(cc) \(w)", vs, DiffSpec(width: w))
                R.run("cmov\(cc) \(w) mem", [DiffVariant(name: "cmov\(cc) r9, [rbx-8]", code: DiffEnc.rm([0x0F, 0x40 + UInt8(cc)], width: w, reg: 9, base: 3, disp: -8), cases: 150, show: [9, 3])],
                      F.memSpec(w, base: 3, disp: -8))
            }
        }
    }

    func testSETcc() {
        for cc in 0..<16 {
            let vs = F.singles(8).map { s in
                DiffVariant(name: "set\(cc) \(s.name(8))", code: DiffEnc.rr([0x0F, 0x90 + UInt8(cc)], width: 8, reg: 0, rm: s.r, forceREX: s.rex), cases: 300, show: s.show(8))
            }
            R.run("set\(cc)", vs, DiffSpec(width: 8))
            R.run("set\(cc) mem", [DiffVariant(name: "set\(cc) [rsi+0x300]", code: DiffEnc.rm([0x0F, 0x90 + UInt8(cc)], width: 8, reg: 0, base: 6, disp: 0x300), cases: 150, show: [6])],
                  F.memSpec(8, base: 6, disp: 0x300))
        }
    }

    // MARK: exchanges

    func testXCHG() {
        for w in F.widths {
            let vs = F.pairs(w).map { p in
                DiffVariant(name: "xchg \(p.name(w))", code: DiffEnc.rr(F.op(w, 0x86), width: w, reg: p.reg, rm: p.rm, forceREX: p.rex), cases: F.nReg / 2, show: p.show(w))
            } + (w == 8 ? [] : [0, 1, 8, 13].map { r in
                // 90+r: xchg rAX, r (90 alone is NOP, even for 32-bit: EAX upper half kept).
                DiffVariant(name: "xchg \(DiffEnc.regName(0, width: w)), \(DiffEnc.regName(r, width: w)) (90+r)",
                            code: DiffEnc.head(prefix: [], width: w, reg: 0, x: 0, b: r, forceREX: false) + [0x90 + UInt8(r & 7)], cases: F.nReg / 2, show: [0, r])
            })
            R.run("xchg\(w)", vs, DiffSpec(width: w))
            R.run("xchg\(w) mem", [DiffVariant(name: "xchg [rbx-8], r10", code: DiffEnc.rm(F.op(w, 0x86), width: w, reg: 10, base: 3, disp: -8), cases: F.nMem, show: [10, 3])],
                  F.memSpec(w, base: 3, disp: -8))
        }
    }

    func testXADD() {
        for w in F.widths {
            let vs = F.pairs(w).map { p in
                DiffVariant(name: "xadd \(p.name(w))", code: DiffEnc.rr([0x0F] + F.op(w, 0xC0), width: w, reg: p.reg, rm: p.rm, forceREX: p.rex), cases: F.nReg, show: p.show(w))
            }
            R.run("xadd\(w)", vs, DiffSpec(width: w))
            for (base, disp) in F.memBases {
                R.run("xadd\(w) mem", [DiffVariant(name: "xadd \(F.memName(base, disp)), rdx", code: DiffEnc.rm([0x0F] + F.op(w, 0xC0), width: w, reg: 2, base: base, disp: disp), cases: F.nMem, show: [2, base])],
                      F.memSpec(w, base: base, disp: disp))
            }
        }
    }

    func testCMPXCHG() {
        for w in F.widths {
            let pairs = F.pairs(w) + [F.Pair(reg: 3, rm: 0, rex: false)]  // destination = accumulator
            for p in pairs {
                let v = DiffVariant(name: "cmpxchg \(p.name(w))", code: DiffEnc.rr([0x0F] + F.op(w, 0xB0), width: w, reg: p.reg, rm: p.rm, forceREX: p.rex),
                                    cases: F.nReg, show: Array(Set(p.show(w) + [0])).sorted())
                R.run("cmpxchg\(w)", [v], DiffSpec(width: w, gen: { rng, c in
                    // Half the time the accumulator equals the destination.
                    if rng.coin() { F.write(&c, 0, w, F.read(c, p.rm, w, rex: p.rex)) }
                }))
            }
            for (base, disp) in F.memBases {
                R.run("cmpxchg\(w) mem", [DiffVariant(name: "cmpxchg \(F.memName(base, disp)), r9", code: DiffEnc.rm([0x0F] + F.op(w, 0xB0), width: w, reg: 9, base: base, disp: disp), cases: F.nMem, show: [0, 9, base])],
                      F.memSpec(w, base: base, disp: disp, extra: { rng, c in
                          if rng.coin() { F.write(&c, 0, w, c.load(F.memOff, w / 8)) }
                      }))
            }
        }
    }

    // MARK: sign extensions of the accumulator

    func testCBWFamily() {
        let forms: [(String, [UInt8], Int)] = [("cbw", [0x66, 0x98], 8), ("cwde", [0x98], 16), ("cdqe", [0x48, 0x98], 32),
                                               ("cwd", [0x66, 0x99], 16), ("cdq", [0x99], 32), ("cqo", [0x48, 0x99], 64)]
        for (name, code, w) in forms {
            R.run(name, [DiffVariant(name: name, code: code, cases: F.nReg, show: [0, 2])], DiffSpec(width: w))
        }
    }

    // MARK: LEA

    func testLEA() {
        var vs: [DiffVariant] = []
        for w in F.wide {
            for (d, addr) in [(0, 64), (11, 64), (2, 32)] {
                let p: [UInt8] = addr == 32 ? [0x67] : []
                let an = addr == 32 ? " (addr32)" : ""
                vs.append(DiffVariant(name: "lea \(DiffEnc.regName(d, width: w)), [rbx+rsi*4+0x12]\(an)",
                                      code: DiffEnc.rm([0x8D], width: w, reg: d, base: 3, index: 6, scale: 4, disp: 0x12, prefix: p), cases: F.nReg / 2, show: [d, 3, 6]))
                vs.append(DiffVariant(name: "lea \(DiffEnc.regName(d, width: w)), [r13+r14*8-0x12345678]\(an)",
                                      code: DiffEnc.rm([0x8D], width: w, reg: d, base: 13, index: 14, scale: 8, disp: -0x1234_5678, prefix: p), cases: F.nReg / 2, show: [d, 13, 14]))
                vs.append(DiffVariant(name: "lea \(DiffEnc.regName(d, width: w)), [rbp-0x40]\(an)",
                                      code: DiffEnc.rm([0x8D], width: w, reg: d, base: 5, disp: -0x40, prefix: p), cases: F.nReg / 2, show: [d, 5]))
                vs.append(DiffVariant(name: "lea \(DiffEnc.regName(d, width: w)), [r12+rdi*2+0x7fffffff]\(an)",
                                      code: DiffEnc.rm([0x8D], width: w, reg: d, base: 12, index: 7, scale: 2, disp: 0x7FFF_FFFF, prefix: p), cases: F.nReg / 2, show: [d, 12, 7]))
                // No base: mod=00, rm=100, SIB base=101 -> [index*scale + disp32].
                let head = DiffEnc.head(prefix: p, width: w, reg: d, x: 1, b: 0, forceREX: false)
                vs.append(DiffVariant(name: "lea \(DiffEnc.regName(d, width: w)), [rcx*2+0x100]\(an)",
                                      code: head + [0x8D, UInt8((d & 7) << 3) | 4, 0x4D] + DiffEnc.le(0x100, 4), cases: F.nReg / 2, show: [d, 1]))
            }
        }
        R.run("lea", vs, DiffSpec(width: 64))
        // RIP-relative: the result is compared relative to the instruction.
        for (d, disp) in [(0, Int32(0x1234)), (9, Int32(-0x100))] {
            let v = DiffVariant(name: "lea \(DiffEnc.names64[d]), [rip\(disp < 0 ? "-" : "+")0x\(String(abs(Int(disp)), radix: 16))]",
                                code: DiffEnc.head(prefix: [], width: 64, reg: d, x: 0, b: 0, forceREX: false) + [0x8D, UInt8((d & 7) << 3) | 5]
                                    + DiffEnc.le(UInt64(UInt32(bitPattern: disp)), 4),
                                cases: 200, show: [d])
            R.run("lea rip", [v], DiffSpec(width: 64, codeRelOut: [d]))
        }
    }
}
