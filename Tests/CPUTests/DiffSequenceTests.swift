// Two- and three-instruction sequences, against the host: a flag producer
// (arithmetic, logic, shifts, multiplies, bit tests and scans, SAHF, POPFQ,
// CLC/STC/CMC) followed by flag consumers and partial flag updaters (SETcc,
// CMOVcc, ADC/SBB, INC/DEC, RCL/RCR, LAHF, PUSHFQ, BT, shifts by 0).
//
// The single-instruction tests load RFLAGS through the setter before every
// instruction, so they cannot see how flags left by one instruction are read
// by the next one; these sequences exercise exactly that (lazy flags).
//
// What is compared: the flags the producer defines, carried through the
// consumers (INC/DEC keep CF, BT keeps ZF, a shift by 0 keeps everything);
// a register the consumer computes from a flag the producer left undefined
// is not compared.

import CHostExec
import XCTest

final class DiffSequenceTests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }
    typealias F = DiffForms

    struct Producer {
        let name: String
        let code: [UInt8]
        let defined: (DiffCase) -> Defined
        var gen: ((inout DiffRng, inout DiffCase) -> Void)? = nil
    }

    struct Consumer {
        let name: String
        let code: [UInt8]
        /// Narrows what is defined after the producer.
        let apply: (inout Defined) -> Void
        /// The same, for consumers whose path shows in the host result (branches).
        var hostApply: ((inout Defined, DiffCase, hostexec_state) -> Void)? = nil
    }

    /// Flags read by condition code cc.
    static let ccDeps: [UInt64] = [Fl.of, Fl.of, Fl.cf, Fl.cf, Fl.zf, Fl.zf, Fl.cf | Fl.zf, Fl.cf | Fl.zf,
                                   Fl.sf, Fl.sf, Fl.pf, Fl.pf, Fl.sf | Fl.of, Fl.sf | Fl.of,
                                   Fl.zf | Fl.sf | Fl.of, Fl.zf | Fl.sf | Fl.of]

    static func all(_: DiffCase) -> Defined { Defined() }

    static func producers(_ w: Int) -> [Producer] {
        var p: [Producer] = []
        let rr = { (op: [UInt8], reg: Int, rm: Int) in DiffEnc.rr(op, width: w, reg: reg, rm: rm) }
        for (name, base) in [("add", UInt8(0x00)), ("adc", 0x10), ("sub", 0x28), ("sbb", 0x18), ("cmp", 0x38)] {
            p.append(Producer(name: "\(name) rax,rcx", code: rr(F.op(w, base), 1, 0), defined: all))
        }
        for (name, base) in [("and", UInt8(0x20)), ("or", 0x08), ("xor", 0x30), ("test", 0x84)] {
            p.append(Producer(name: "\(name) rax,rcx", code: rr(F.op(w, base), 1, 0), defined: { _ in .except(Fl.af) }))
        }
        p.append(Producer(name: "inc rax", code: rr(F.op(w, 0xFE), 0, 0), defined: all))
        p.append(Producer(name: "dec rax", code: rr(F.op(w, 0xFE), 1, 0), defined: all))
        p.append(Producer(name: "neg rax", code: rr(F.op(w, 0xF6), 3, 0), defined: all))
        p.append(Producer(name: "not rax", code: rr(F.op(w, 0xF6), 2, 0), defined: all))
        for (name, ext) in [("rol", 0), ("ror", 1), ("rcl", 2), ("rcr", 3), ("shl", 4), ("shr", 5), ("sar", 7)] {
            p.append(Producer(name: "\(name) rax,cl", code: rr(F.op(w, 0xD2), ext, 0),
                              defined: { c in DiffShiftTests.shiftDefined(ext, w, c[1] & 0xFF) }, gen: DiffShiftTests.genCL))
        }
        p.append(Producer(name: "shl rax,1", code: rr(F.op(w, 0xD0), 4, 0), defined: { _ in DiffShiftTests.shiftDefined(4, w, 1) }))
        p.append(Producer(name: "mul rcx", code: rr(F.op(w, 0xF6), 4, 1), defined: { _ in .except(Fl.sf | Fl.zf | Fl.af | Fl.pf) }))
        p.append(Producer(name: "xadd rax,rcx", code: rr([0x0F] + F.op(w, 0xC0), 1, 0), defined: all))
        p.append(Producer(name: "cmpxchg rdx,rcx", code: rr([0x0F] + F.op(w, 0xB0), 1, 2), defined: all, gen: { rng, c in
            if rng.coin() { c[0] = c[2] }
        }))
        if w > 8 {
            p.append(Producer(name: "shld rax,rdx,cl", code: rr([0x0F, 0xA5], 2, 0),
                              defined: { c in DiffShiftTests.doubleDefined(w, c[1] & 0xFF, dest: 0) }, gen: DiffShiftTests.genCL))
            p.append(Producer(name: "imul rax,rcx", code: rr([0x0F, 0xAF], 0, 1), defined: { _ in .except(Fl.sf | Fl.zf | Fl.af | Fl.pf) }))
            p.append(Producer(name: "bt rax,rcx", code: rr([0x0F, 0xA3], 1, 0), defined: { _ in .except(Fl.of | Fl.sf | Fl.af | Fl.pf) }))
            p.append(Producer(name: "btc rax,rcx", code: rr([0x0F, 0xBB], 1, 0), defined: { _ in .except(Fl.of | Fl.sf | Fl.af | Fl.pf) }))
            p.append(Producer(name: "bsf rax,rcx", code: rr([0x0F, 0xBC], 0, 1),
                              defined: { c in DiffBitTests.bsDefined(c[1] & DiffRng.mask(w), 0) },
                              gen: { rng, c in DiffBitTests.genScanSource(&rng, &c, reg: 1, w: w) }))
            if hostexec_has(HOSTEXEC_POPCNT) == 1 {
                p.append(Producer(name: "popcnt rax,rcx", code: DiffEnc.rr([0x0F, 0xB8], width: w, reg: 0, rm: 1, prefix: [0xF3]), defined: all,
                                  gen: { rng, c in DiffBitTests.genScanSource(&rng, &c, reg: 1, w: w) }))
            }
            if hostexec_has(HOSTEXEC_BMI1) == 1 {
                p.append(Producer(name: "tzcnt rax,rcx", code: DiffEnc.rr([0x0F, 0xBC], width: w, reg: 0, rm: 1, prefix: [0xF3]),
                                  defined: { _ in .except(Fl.of | Fl.sf | Fl.af | Fl.pf) },
                                  gen: { rng, c in DiffBitTests.genScanSource(&rng, &c, reg: 1, w: w) }))
            }
        }
        if w == 64 {
            p.append(Producer(name: "sahf", code: [0x9E], defined: all))
            p.append(Producer(name: "clc", code: [0xF8], defined: all))
            p.append(Producer(name: "stc", code: [0xF9], defined: all))
            p.append(Producer(name: "cmc", code: [0xF5], defined: all))
            p.append(Producer(name: "nop", code: [0x90], defined: all))
            // and ecx, 0x8D5; push rcx; popfq: arithmetic flags from RCX.
            p.append(Producer(name: "popfq", code: [0x81, 0xE1, 0xD5, 0x08, 0, 0, 0x51, 0x9D], defined: all))
        }
        return p
    }

    static func consumers() -> [Consumer] {
        var c: [Consumer] = []
        for cc in 0..<16 {
            // setcc r10b
            c.append(Consumer(name: "set\(cc) r10b", code: [0x41, 0x0F, 0x90 + UInt8(cc), 0xC2]) { d in
                if ccDeps[cc] & ~d.flags != 0 { d.regs &= ~(1 << 10) }
            })
        }
        for cc in [2, 4, 7, 0xC, 0xE] {
            // cmovcc r10, r11
            c.append(Consumer(name: "cmov\(cc) r10,r11", code: [0x4D, 0x0F, 0x40 + UInt8(cc), 0xD3]) { d in
                if ccDeps[cc] & ~d.flags != 0 { d.regs &= ~(1 << 10) }
            })
        }
        let carryIn = { (d: inout Defined) in
            if d.flags & Fl.cf != 0 { d.flags = Fl.all } else { d.regs &= ~(1 << 10); d.flags = Fl.df }
        }
        c.append(Consumer(name: "adc r10,r11", code: [0x4D, 0x11, 0xDA], apply: carryIn))
        c.append(Consumer(name: "sbb r10,r11", code: [0x4D, 0x19, 0xDA], apply: carryIn))
        c.append(Consumer(name: "adc r10b,r11b", code: [0x45, 0x10, 0xDA], apply: carryIn))
        let incDec = { (d: inout Defined) in d.flags = (d.flags & Fl.cf) | (Fl.all & ~Fl.cf) }
        c.append(Consumer(name: "inc r10", code: [0x49, 0xFF, 0xC2], apply: incDec))
        c.append(Consumer(name: "dec r10d", code: [0x41, 0xFF, 0xCA], apply: incDec))
        c.append(Consumer(name: "inc r10; setc r11b", code: [0x49, 0xFF, 0xC2, 0x41, 0x0F, 0x92, 0xC3]) { d in
            incDec(&d)
            if d.flags & Fl.cf == 0 { d.regs &= ~(1 << 11) }
        })
        c.append(Consumer(name: "dec r10w; adc r11,r10", code: [0x66, 0x41, 0xFF, 0xCA, 0x4D, 0x11, 0xD3]) { d in
            incDec(&d)
            if d.flags & Fl.cf != 0 { d.flags = Fl.all } else { d.regs &= ~(1 << 11); d.flags = Fl.df }
        })
        let rotateCarry = { (d: inout Defined) in
            if d.flags & Fl.cf != 0 { d.flags |= Fl.of } else { d.regs &= ~(1 << 10); d.flags &= ~(Fl.cf | Fl.of) }
        }
        c.append(Consumer(name: "rcl r10,1", code: [0x49, 0xD1, 0xD2], apply: rotateCarry))
        c.append(Consumer(name: "rcr r10d,1", code: [0x41, 0xD1, 0xDA], apply: rotateCarry))
        c.append(Consumer(name: "lahf", code: [0x9F]) { d in
            // AH = SF ZF 0 AF 0 PF 1 CF
            let ah = (d.flags & (Fl.sf | Fl.zf | Fl.af | Fl.pf | Fl.cf)) | 0x2A
            d.maskReg = 0
            d.mask = ~UInt64(0xFF00) | ah << 8
        })
        c.append(Consumer(name: "pushfq; pop r12", code: [0x9C, 0x41, 0x5C]) { d in
            d.maskReg = 12
            d.mask = d.flags | 2
        })
        c.append(Consumer(name: "cmc", code: [0xF5]) { _ in })
        c.append(Consumer(name: "bt r10,3; setz r11b", code: [0x49, 0x0F, 0xBA, 0xE2, 0x03, 0x41, 0x0F, 0x94, 0xC3]) { d in
            d.flags = (d.flags & (Fl.zf | Fl.df)) | Fl.cf
            if d.flags & Fl.zf == 0 { d.regs &= ~(1 << 11) }
        })
        c.append(Consumer(name: "shl r10,0; pushfq; pop r12", code: [0x49, 0xC1, 0xE2, 0x00, 0x9C, 0x41, 0x5C]) { d in
            d.maskReg = 12
            d.mask = d.flags | 2
        })
        c.append(Consumer(name: "mov r10,r11; lea r12,[r10+1]; sete r11b", code: [0x4D, 0x89, 0xDA, 0x4D, 0x8D, 0x62, 0x01, 0x41, 0x0F, 0x94, 0xC3]) { d in
            if d.flags & Fl.zf == 0 { d.regs &= ~(1 << 11) }
        })
        for cc in 0..<16 {
            // jcc over `inc r10`: the host result says whether it was taken.
            let near = cc % 5 == 0
            let code: [UInt8] = (near ? [0x0F, 0x80 + UInt8(cc), 0x03, 0, 0, 0] : [0x70 + UInt8(cc), 0x03]) + [0x49, 0xFF, 0xC2]
            c.append(Consumer(name: "j\(cc)\(near ? " near" : "") over inc r10", code: code, apply: { _ in }, hostApply: { d, input, host in
                if ccDeps[cc] & ~d.flags != 0 {
                    // Either path may be right: only DF and the other registers are compared.
                    d.regs &= ~(1 << 10)
                    d.flags = Fl.df
                } else if host[10] != input[10] {
                    incDec(&d)
                }
            }))
        }
        return c
    }

    private func sequences(widths: [Int]) {
        let cons = Self.consumers()
        for w in widths {
            for p in Self.producers(w) {
                for c in cons {
                    let v = DiffVariant(name: "\(p.name)/\(w); \(c.name)", code: p.code + c.code, cases: 80, show: [0, 1, 2, 10, 11, 12])
                    let spec = DiffSpec(width: w, maxSteps: 8, gen: { rng, cs in
                        p.gen?(&rng, &cs)
                        if rng.below(8) == 0 { cs[11] = cs[10] }
                    }, defined: { cs, host in
                        var d = p.defined(cs)
                        d.flags &= Fl.all
                        c.apply(&d)
                        c.hostApply?(&d, cs, host)
                        return d
                    })
                    R.run("seq \(p.name)/\(w); \(c.name)", [v], spec)
                }
            }
        }
    }

    func testSequences8() { sequences(widths: [8]) }
    func testSequences16() { sequences(widths: [16]) }
    func testSequences32() { sequences(widths: [32]) }
    func testSequences64() { sequences(widths: [64]) }
}
