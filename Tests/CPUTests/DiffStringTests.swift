// MOVS STOS LODS SCAS CMPS, 8/16/32/64-bit, without prefix, with REP/REPE
// and (for SCAS/CMPS) REPNE, DF = 0 and 1, against the host: registers,
// flags and the whole data window.
//
// Flags (SDM): CMPS/SCAS as CMP (all defined; a REP with RCX = 0 changes
// nothing); MOVS/STOS/LODS change no flag.

import CHostExec
import XCTest

final class DiffStringTests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }
    typealias F = DiffForms

    enum Kind { case movs, stos, lods, scas, cmps }

    /// Places RSI/RDI (data offsets), RCX and matching data for a string form.
    static func gen(_ rng: inout DiffRng, _ c: inout DiffCase, kind: Kind, w: Int, prefix: UInt8?) {
        let size = w / 8
        c[6] = UInt64(1024 + rng.below(2048))
        c[7] = UInt64(1024 + rng.below(2048))
        let count: Int
        if prefix != nil {
            count = rng.below(8) == 0 ? 0 : rng.below(34)
            c[1] = UInt64(count)
        } else {
            count = 1
        }
        let down = c.flags & Fl.df != 0
        func at(_ base: UInt64, _ k: Int) -> Int { Int(base) + (down ? -k : k) * size }
        let acc = c[0] & DiffRng.mask(w)
        let repne = prefix == 0xF2
        switch kind {
        case .cmps:
            for k in 0...count {
                var v = c.load(at(c[6], k), size)
                if repne { v ^= 0x5A }
                c.store(at(c[7], k), v, size)
            }
            if count > 0 && rng.below(4) != 0 {
                let k = rng.below(count)
                let v = c.load(at(c[6], k), size)
                c.store(at(c[7], k), repne ? v : v ^ UInt64(1 + rng.below(255)) << UInt64(8 * rng.below(size)), size)
            }
        case .scas:
            for k in 0...count { c.store(at(c[7], k), repne ? acc ^ 0xA5 : acc, size) }
            if count > 0 && rng.below(4) != 0 {
                let k = rng.below(count)
                c.store(at(c[7], k), repne ? acc : acc ^ UInt64(1 + rng.below(255)) << UInt64(8 * rng.below(size)), size)
            }
        default:
            break
        }
    }

    private func strings(_ name: String, kind: Kind, op: UInt8, prefixes: [UInt8?]) {
        for w in F.widths {
            let sizeName = ["b", "w", "d", "q"][[8, 16, 32, 64].firstIndex(of: w)!]
            for p in prefixes {
                let pn = p == 0xF3 ? (kind == .cmps || kind == .scas ? "repe " : "rep ") : p == 0xF2 ? "repne " : ""
                var code: [UInt8] = []
                if let p { code.append(p) }
                if w == 16 { code.insert(0x66, at: 0) }
                if w == 64 { code.append(0x48) }
                code += F.op(w, op)
                let v = DiffVariant(name: "\(pn)\(name)\(sizeName)", code: code, cases: p == nil ? 800 : 1200, show: [0, 1, 6, 7])
                var spec = DiffSpec(width: w, memory: true, dataPtrs: [6, 7], maxSteps: 300, gen: { rng, c in
                    Self.gen(&rng, &c, kind: kind, w: w, prefix: p)
                })
                spec.defined = { _, _ in Defined() }
                R.run("\(pn)\(name)\(w)", [v], spec)
            }
        }
    }

    func testMOVS() { strings("movs", kind: .movs, op: 0xA4, prefixes: [nil, 0xF3]) }
    func testSTOS() { strings("stos", kind: .stos, op: 0xAA, prefixes: [nil, 0xF3]) }
    func testLODS() { strings("lods", kind: .lods, op: 0xAC, prefixes: [nil, 0xF3]) }
    func testSCAS() { strings("scas", kind: .scas, op: 0xAE, prefixes: [nil, 0xF3, 0xF2]) }
    func testCMPS() { strings("cmps", kind: .cmps, op: 0xA6, prefixes: [nil, 0xF3, 0xF2]) }
}
