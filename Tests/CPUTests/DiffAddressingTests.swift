// Addressing forms and control transfers, against the host:
// - MOV loads, stores and immediate stores through [base + index*scale +
//   disp] with negative indexes, with 64-bit and 32-bit address size (the
//   latter with garbage in the upper halves of base and index, which must be
//   ignored);
// - 32-bit address-size string instructions (ESI/EDI/ECX, zero-extended
//   updates);
// - XLAT, CMPXCHG8B, CMPXCHG16B;
// - Jcc (short and near), LOOP/LOOPE/LOOPNE, JRCXZ/JECXZ, checked through
//   the instruction after them (`inc r10`, skipped when the branch is taken).
//
// The 32-bit address forms need the host data window below 4 GiB
// (MAP_32BIT); they are skipped when the host refuses it.

import CHostExec
import XCTest

final class DiffAddressingTests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }
    typealias F = DiffForms

    /// [base + index*scale + disp] forms: (base, index, scale, disp).
    static let modes: [(Int, Int?, Int, Int32)] = [(3, 6, 1, 0x10), (13, 14, 8, -0x20), (5, 2, 4, 0x7F), (12, 9, 2, -0x1000), (7, nil, 1, 0x123)]

    /// Base = memOff - index*scale - disp, index small and signed, both with
    /// random upper halves when `addr32`.
    static func place(_ rng: inout DiffRng, _ c: inout DiffCase, base: Int, index: Int?, scale: Int, disp: Int32, addr32: Bool, w: Int) {
        let idx = Int64(rng.below(129)) - 64
        var off = Int64(F.memOff) - Int64(disp)
        if let index {
            off -= idx * Int64(scale)
            let v = UInt64(bitPattern: idx)
            c[index] = addr32 ? (rng.next() << 32) | (v & 0xFFFF_FFFF) : v
        }
        let b = UInt64(bitPattern: off)
        c[base] = addr32 ? (rng.next() << 32) | (b & 0xFFFF_FFFF) : b
        c.store(F.memOff, rng.operand(w), w / 8)
    }

    func testMOVAddressing() throws {
        for addr32 in [false, true] {
            if addr32 && !R.hostMemLow { throw XCTSkip("host data window is not below 2 GiB") }
            let p: [UInt8] = addr32 ? [0x67] : []
            for w in F.widths {
                for (base, index, scale, disp) in Self.modes {
                    let m = "[\(DiffEnc.names64[base])\(index.map { "+\(DiffEnc.names64[$0])*\(scale)" } ?? "")\(disp < 0 ? "-" : "+")0x\(String(abs(Int(disp)), radix: 16))]\(addr32 ? " a32" : "")"
                    let forms: [(String, [UInt8])] = [
                        ("mov r10, \(m)", DiffEnc.rm(F.op(w, 0x8A), width: w, reg: 10, base: base, index: index, scale: scale, disp: disp, prefix: p)),
                        ("mov \(m), r11", DiffEnc.rm(F.op(w, 0x88), width: w, reg: 11, base: base, index: index, scale: scale, disp: disp, prefix: p)),
                        ("mov \(m), imm", DiffEnc.rm(F.op(w, 0xC6), width: w, reg: 0, base: base, index: index, scale: scale, disp: disp, prefix: p,
                                                    imm: DiffEnc.le(0x8765_4321_A5C3_E1F0, F.immLen(w)))),
                        ("add \(m), r11", DiffEnc.rm(F.op(w, 0x00), width: w, reg: 11, base: base, index: index, scale: scale, disp: disp, prefix: p)),
                    ]
                    for (name, code) in forms {
                        R.run("addressing \(w)", [DiffVariant(name: name, code: code, cases: 120, show: [base, 10, 11] + (index.map { [$0] } ?? []))],
                              DiffSpec(width: w, memory: true, dataPtrs: [base], gen: { rng, c in
                                  Self.place(&rng, &c, base: base, index: index, scale: scale, disp: disp, addr32: addr32, w: w)
                              }))
                    }
                }
            }
        }
    }

    func testXLAT() {
        for (name, code) in [("xlat", [UInt8(0xD7)]), ("rex.w xlat", [0x48, 0xD7])] {
            R.run(name, [DiffVariant(name: name, code: code, cases: 800, show: [0, 3])],
                  DiffSpec(width: 8, memory: true, dataPtrs: [3], gen: { rng, c in c[3] = UInt64(1024 + rng.below(2048)) }))
        }
    }

    func testAddressSize32Strings() throws {
        try XCTSkipUnless(R.hostMemLow, "host data window is not below 2 GiB")
        let ops: [(String, UInt8, DiffStringTests.Kind)] = [("movs", 0xA4, .movs), ("stos", 0xAA, .stos), ("lods", 0xAC, .lods), ("scas", 0xAE, .scas), ("cmps", 0xA6, .cmps)]
        for (name, op, kind) in ops {
            for w in F.widths {
                for prefix: UInt8? in [nil, 0xF3] {
                    var code: [UInt8] = [0x67]
                    if w == 16 { code.append(0x66) }
                    if let prefix { code.append(prefix) }
                    if w == 64 { code.append(0x48) }
                    code += F.op(w, op)
                    let v = DiffVariant(name: "a32 \(prefix == nil ? "" : "rep ")\(name)\(w)", code: code, cases: 300, show: [0, 1, 6, 7])
                    R.run("a32 \(name)\(w)", [v], DiffSpec(width: w, memory: true, dataPtrs: [6, 7], maxSteps: 300, gen: { rng, c in
                        DiffStringTests.gen(&rng, &c, kind: kind, w: w, prefix: prefix)
                        // Upper halves are ignored with 32-bit addresses.
                        c[6] |= rng.next() << 32
                        c[7] |= rng.next() << 32
                        if prefix != nil { c[1] |= rng.next() << 32 }
                    }))
                }
            }
        }
    }

    func testCMPXCHG8B16B() {
        for (name, w) in [("cmpxchg8b", 32), ("cmpxchg16b", 64)] {
            // The base must not be RBX/RCX: they are the value stored.
            for (base, disp) in [(13, Int32(0x7F)), (6, 0x300), (7, -0x40)] {
                let code = DiffEnc.rm([0x0F, 0xC7], width: w, reg: 1, base: base, disp: disp)
                R.run(name, [DiffVariant(name: "\(name) \(F.memName(base, disp))", code: code, cases: 600, show: [0, 1, 2, 3, base])],
                      DiffSpec(width: w, memory: true, dataPtrs: [base], gen: { rng, c in
                          c[base] = UInt64(bitPattern: Int64(F.memOff) - Int64(disp))
                          if rng.coin() {
                              c.store(F.memOff, c[0], w / 8)
                              c.store(F.memOff + w / 8, c[2], w / 8)
                          } else if rng.coin() {
                              c.store(F.memOff, c[0], w / 8)  // low half equal only
                          }
                      }))
            }
        }
    }

    // MARK: branches

    /// `inc r10` after a branch over it.
    static let incR10: [UInt8] = [0x49, 0xFF, 0xC2]

    func testJcc() {
        var vs: [DiffVariant] = []
        for cc in 0..<16 {
            vs.append(DiffVariant(name: "j\(cc) short", code: [0x70 + UInt8(cc), 0x03] + Self.incR10, cases: 600, show: [10]))
            vs.append(DiffVariant(name: "j\(cc) near", code: [0x0F, 0x80 + UInt8(cc), 0x03, 0, 0, 0] + Self.incR10, cases: 300, show: [10]))
        }
        R.run("jcc", vs, DiffSpec(width: 64))
    }

    func testLOOPandJRCXZ() {
        var vs: [DiffVariant] = []
        for (name, op) in [("loopne", UInt8(0xE0)), ("loope", 0xE1), ("loop", 0xE2), ("jrcxz", 0xE3)] {
            vs.append(DiffVariant(name: name, code: [op, 0x03] + Self.incR10, cases: 800, show: [1, 10]))
            vs.append(DiffVariant(name: "a32 \(name)", code: [0x67, op, 0x03] + Self.incR10, cases: 800, show: [1, 10]))
        }
        R.run("loop", vs, DiffSpec(width: 64, gen: { rng, c in
            let edges: [UInt64] = [0, 1, 2, 0x1_0000_0000, 0x1_0000_0001, 0xFFFF_FFFF, ~0]
            if rng.coin() { c[1] = edges[rng.below(edges.count)] }
        }))
    }
}
