// SSE/SSE2 against the host: every XMM register, the general registers,
// RFLAGS and the MXCSR control bits are compared after each instruction.
// Inputs mix IEEE edge values (±0, ±inf, quiet and signalling NaNs with
// payloads, denormals, the integer-conversion limits, halfway cases) with
// random bit patterns.
//
// Flags: COMISS/COMISD/UCOMISS/UCOMISD set ZF PF CF and clear OF SF AF (all
// defined); every other instruction here leaves RFLAGS alone.
// Not covered: RCPSS/RCPPS/RSQRTSS/RSQRTPS (approximations whose exact bits
// the architecture does not define).

import CHostExec
import Foundation
import XCTest

extension DiffRng {
    static let doubleEdges: [UInt64] = [
        0, 0x8000_0000_0000_0000, 0x3FF0_0000_0000_0000, 0xBFF0_0000_0000_0000, 0x3FF8_0000_0000_0000,
        0x4000_0000_0000_0000, 0x3FE0_0000_0000_0000, 0x4004_0000_0000_0000, 0xC004_0000_0000_0000,
        0x400C_0000_0000_0000, 0x3FDF_FFFF_FFFF_FFFF, 0x7FEF_FFFF_FFFF_FFFF, 0x0010_0000_0000_0000,
        0x0000_0000_0000_0001, 0x000F_FFFF_FFFF_FFFF, 0x800F_FFFF_FFFF_FFFF, 0x7FF0_0000_0000_0000,
        0xFFF0_0000_0000_0000, 0x7FF8_0000_0000_0000, 0x7FF8_0000_0000_0123, 0xFFF8_0000_0000_0000,
        0x7FF0_0000_0000_0001, 0x7FF4_0000_0000_0000, 0xFFF4_0000_0000_0456, 0x41E0_0000_0000_0000,
        0xC1E0_0000_0000_0000, 0x41DF_FFFF_FFE0_0000, 0x41DF_FFFF_FFFF_FFFF, 0xC1E0_0000_0010_0000,
        0x43E0_0000_0000_0000, 0xC3E0_0000_0000_0000, 0x43DF_FFFF_FFFF_FFFF, 0x41F0_0000_0000_0000,
        0x7E37_E43C_8800_759C, 0x01A5_6E1F_C2F8_F359, 0x3810_0000_0000_0000, 0x36A0_0000_0000_0000,
        0x47EF_FFFF_E000_0000, 0x47EF_FFFF_F000_0000,
    ]
    static let floatEdges: [UInt32] = [
        0, 0x8000_0000, 0x3F80_0000, 0xBF80_0000, 0x3FC0_0000, 0x4000_0000, 0x3F00_0000, 0x4020_0000,
        0xC020_0000, 0x4060_0000, 0x3EFF_FFFF, 0x7F7F_FFFF, 0x0080_0000, 0x0000_0001, 0x007F_FFFF,
        0x807F_FFFF, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7FC0_0123, 0xFFC0_0000, 0x7F80_0001,
        0x7FA0_0000, 0xFFA0_0456, 0x4F00_0001, 0x4EFF_FFFF, 0xCF00_0000, 0x4EFF_FFFF, 0x5F00_0000, 0xDF00_0000,
        0x5EFF_FFFF, 0x4F80_0000,
    ]

    mutating func double() -> UInt64 {
        switch below(8) {
        case 0..<3: return DiffRng.doubleEdges[below(DiffRng.doubleEdges.count)]
        case 3..<6:  // a normal number of moderate size
            return (next() & 0x800F_FFFF_FFFF_FFFF) | UInt64(1023 - 40 + below(80)) << 52
        case 6: return UInt64(bitPattern: Int64(below(2001)) - 1000).doubleBits  // small integers
        default: return next()
        }
    }
    mutating func float() -> UInt32 {
        switch below(8) {
        case 0..<3: return DiffRng.floatEdges[below(DiffRng.floatEdges.count)]
        case 3..<6: return (UInt32(truncatingIfNeeded: next()) & 0x807F_FFFF) | UInt32(127 - 30 + below(60)) << 23
        case 6: return Float(Int(below(2001)) - 1000).bitPattern
        default: return UInt32(truncatingIfNeeded: next())
        }
    }

    enum Lanes { case pd, ps, int }

    /// A 128-bit value for lanes of `kind`.
    mutating func xmmValue(_ kind: Lanes) -> (UInt64, UInt64) {
        switch kind {
        case .pd:
            return (double(), double())
        case .ps:
            return (UInt64(float()) | UInt64(float()) << 32, UInt64(float()) | UInt64(float()) << 32)
        case .int:
            func lane() -> UInt64 {
                switch below(4) {
                case 0: return operand([8, 16, 32, 64][below(4)])
                case 1:  // byte lanes from a small alphabet (equalities, saturation edges)
                    var v: UInt64 = 0
                    for i in 0..<8 { v |= UInt64([0, 0x7F, 0x80, 0xFF, 1, 0xFE][below(6)]) << UInt64(8 * i) }
                    return v
                default: return next()
                }
            }
            return (lane(), lane())
        }
    }
}

extension UInt64 {
    /// The bits of this value as a signed integer converted to Double.
    var doubleBits: UInt64 { Double(Int64(bitPattern: self)).bitPattern }
}

final class DiffSSETests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }

    /// ModRM register pairs (reg, rm) for xmm forms.
    static let pairs: [(Int, Int)] = [(1, 2), (9, 12), (3, 3), (15, 0)]

    /// One spec: random XMM lanes of `kind`, the given MXCSR, RFLAGS compared.
    static func spec(_ kind: DiffRng.Lanes, mxcsr: UInt32 = HOSTEXEC_MXCSR_DEFAULT, mxcsrMask: UInt32 = 0xFFC0,
                     gpr: Int = 64, extra: ((inout DiffRng, inout DiffCase) -> Void)? = nil) -> DiffSpec {
        var s = DiffSpec(width: gpr, gen: { rng, c in
            for i in 0..<16 { c.st.setX(i, rng.xmmValue(kind)) }
            c.st.mxcsr = mxcsr
            extra?(&rng, &c)
        })
        s.sse = true
        s.mxcsrMask = mxcsrMask
        return s
    }

    /// xmm, xmm/m128 forms over the register pairs, plus one memory form.
    private func xform(_ name: String, _ prefix: [UInt8], _ op: [UInt8], kind: DiffRng.Lanes, imm: [UInt8] = [],
                       cases: Int = 400, mxcsr: UInt32 = HOSTEXEC_MXCSR_DEFAULT, mxcsrMask: UInt32 = 0xFFC0,
                       memory: Bool = true) {
        let vs = Self.pairs.map { (reg, rm) in
            DiffVariant(name: "\(name) xmm\(reg), xmm\(rm)", code: DiffEnc.rr(op, width: 32, reg: reg, rm: rm, prefix: prefix, imm: imm),
                        cases: cases, show: [], showXMM: Array(Set([reg, rm])).sorted())
        }
        R.run("sse \(name)", vs, Self.spec(kind, mxcsr: mxcsr, mxcsrMask: mxcsrMask))
        if memory {
            var s = Self.spec(kind, mxcsr: mxcsr, mxcsrMask: mxcsrMask, extra: { rng, c in
                c[3] = UInt64(DiffForms.memOff + 8)
                let v = rng.xmmValue(kind)
                c.store(DiffForms.memOff, v.0, 8)
                c.store(DiffForms.memOff + 8, v.1, 8)
            })
            s.memory = true
            s.dataPtrs = [3]
            R.run("sse \(name) mem", [DiffVariant(name: "\(name) xmm5, [rbx-8]", code: DiffEnc.rm(op, width: 32, reg: 5, base: 3, disp: -8, prefix: prefix, imm: imm),
                                                  cases: cases / 2, show: [3], showXMM: [5])], s)
        }
    }

    // MARK: floating point

    func testArithmetic() {
        let ops: [(String, UInt8)] = [("add", 0x58), ("mul", 0x59), ("sub", 0x5C), ("min", 0x5D), ("div", 0x5E), ("max", 0x5F), ("sqrt", 0x51)]
        for (name, op) in ops {
            xform("\(name)ps", [], [0x0F, op], kind: .ps)
            xform("\(name)pd", [0x66], [0x0F, op], kind: .pd)
            xform("\(name)ss", [0xF3], [0x0F, op], kind: .ps)
            xform("\(name)sd", [0xF2], [0x0F, op], kind: .pd)
        }
    }

    func testLogic() {
        for (name, op) in [("and", UInt8(0x54)), ("andn", 0x55), ("or", 0x56), ("xor", 0x57)] {
            xform("\(name)ps", [], [0x0F, op], kind: .ps)
            xform("\(name)pd", [0x66], [0x0F, op], kind: .pd)
        }
    }

    func testCompares() {
        for p in 0..<8 {
            xform("cmpps \(p)", [], [0x0F, 0xC2], kind: .ps, imm: [UInt8(p)], cases: 200)
            xform("cmppd \(p)", [0x66], [0x0F, 0xC2], kind: .pd, imm: [UInt8(p)], cases: 200)
            xform("cmpss \(p)", [0xF3], [0x0F, 0xC2], kind: .ps, imm: [UInt8(p)], cases: 200)
            xform("cmpsd \(p)", [0xF2], [0x0F, 0xC2], kind: .pd, imm: [UInt8(p)], cases: 200)
        }
        // COMIS/UCOMIS: flags.
        xform("comiss", [], [0x0F, 0x2F], kind: .ps, cases: 800)
        xform("ucomiss", [], [0x0F, 0x2E], kind: .ps, cases: 800)
        xform("comisd", [0x66], [0x0F, 0x2F], kind: .pd, cases: 800)
        xform("ucomisd", [0x66], [0x0F, 0x2E], kind: .pd, cases: 800)
    }

    func testConversions() {
        xform("cvtps2pd", [], [0x0F, 0x5A], kind: .ps)
        xform("cvtpd2ps", [0x66], [0x0F, 0x5A], kind: .pd)
        xform("cvtss2sd", [0xF3], [0x0F, 0x5A], kind: .ps)
        xform("cvtsd2ss", [0xF2], [0x0F, 0x5A], kind: .pd)
        xform("cvtdq2ps", [], [0x0F, 0x5B], kind: .int)
        xform("cvtps2dq", [0x66], [0x0F, 0x5B], kind: .ps)
        xform("cvttps2dq", [0xF3], [0x0F, 0x5B], kind: .ps)
        xform("cvtdq2pd", [0xF3], [0x0F, 0xE6], kind: .int)
        xform("cvtpd2dq", [0xF2], [0x0F, 0xE6], kind: .pd)
        xform("cvttpd2dq", [0x66], [0x0F, 0xE6], kind: .pd)
        // Between XMM and general registers (32- and 64-bit integers).
        for w in [32, 64] {
            for (name, prefix, op, kind) in [("cvtsi2ss", UInt8(0xF3), UInt8(0x2A), DiffRng.Lanes.ps), ("cvtsi2sd", 0xF2, 0x2A, .pd)] {
                let vs = [(1, 2), (9, 13)].map { (x, r) in
                    DiffVariant(name: "\(name) xmm\(x), \(DiffEnc.regName(r, width: w))", code: DiffEnc.rr([0x0F, op], width: w, reg: x, rm: r, prefix: [prefix]),
                                cases: 600, show: [r], showXMM: [x])
                }
                R.run("sse \(name)\(w)", vs, Self.spec(kind, gpr: w))
            }
            for (name, prefix, op, kind) in [("cvttss2si", UInt8(0xF3), UInt8(0x2C), DiffRng.Lanes.ps), ("cvtss2si", 0xF3, 0x2D, .ps),
                                             ("cvttsd2si", 0xF2, 0x2C, .pd), ("cvtsd2si", 0xF2, 0x2D, .pd)] {
                let vs = [(1, 2), (9, 13)].map { (r, x) in
                    DiffVariant(name: "\(name) \(DiffEnc.regName(r, width: w)), xmm\(x)", code: DiffEnc.rr([0x0F, op], width: w, reg: r, rm: x, prefix: [prefix]),
                                cases: 600, show: [r], showXMM: [x])
                }
                R.run("sse \(name)\(w)", vs, Self.spec(kind, gpr: w))
            }
        }
    }

    /// DIFF_STRICT_SSE=1 runs the checks of behaviour the interpreter
    /// documents as not modelled (Sources/CPU/SSE.swift header): arithmetic
    /// rounding by MXCSR.RC and the MXCSR exception flags.
    private func requireStrict(_ what: String) throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["DIFF_STRICT_SSE"] == "1",
                          "\(what): documented as not modelled by the interpreter; DIFF_STRICT_SSE=1 runs it")
    }

    /// The conversions that round by MXCSR.RC under every rounding mode.
    func testRoundingModes() {
        for rc: UInt32 in [1, 2, 3] {
            let mx = HOSTEXEC_MXCSR_DEFAULT | rc << 13
            xform("cvtps2dq rc\(rc)", [0x66], [0x0F, 0x5B], kind: .ps, cases: 200, mxcsr: mx, memory: false)
            xform("cvtpd2dq rc\(rc)", [0xF2], [0x0F, 0xE6], kind: .pd, cases: 200, mxcsr: mx, memory: false)
            for (name, prefix, op, kind) in [("cvtss2si", UInt8(0xF3), UInt8(0x2D), DiffRng.Lanes.ps), ("cvtsd2si", 0xF2, 0x2D, .pd)] {
                R.run("sse \(name) rc\(rc)", [DiffVariant(name: "\(name) rax, xmm2 rc\(rc)", code: DiffEnc.rr([0x0F, op], width: 64, reg: 0, rm: 2, prefix: [prefix]),
                                                          cases: 300, show: [0], showXMM: [2])], Self.spec(kind, mxcsr: mx))
            }
        }
    }

    /// Arithmetic and conversions under every MXCSR.RC.
    func testRoundingModesArithmetic() throws {
        for rc: UInt32 in [1, 2, 3] {
            let mx = HOSTEXEC_MXCSR_DEFAULT | rc << 13
            for (name, op) in [("add", UInt8(0x58)), ("sub", 0x5C), ("mul", 0x59), ("div", 0x5E), ("sqrt", 0x51)] {
                xform("\(name)sd rc\(rc)", [0xF2], [0x0F, op], kind: .pd, cases: 200, mxcsr: mx, memory: false)
                xform("\(name)ss rc\(rc)", [0xF3], [0x0F, op], kind: .ps, cases: 200, mxcsr: mx, memory: false)
                xform("\(name)pd rc\(rc)", [0x66], [0x0F, op], kind: .pd, cases: 200, mxcsr: mx, memory: false)
                xform("\(name)ps rc\(rc)", [], [0x0F, op], kind: .ps, cases: 200, mxcsr: mx, memory: false)
            }
            xform("cvtsd2ss rc\(rc)", [0xF2], [0x0F, 0x5A], kind: .pd, cases: 200, mxcsr: mx, memory: false)
            xform("cvtpd2ps rc\(rc)", [0x66], [0x0F, 0x5A], kind: .pd, cases: 200, mxcsr: mx, memory: false)
            xform("cvtdq2ps rc\(rc)", [], [0x0F, 0x5B], kind: .pd, cases: 200, mxcsr: mx, memory: false)
            for (name, pfx) in [("cvtsi2sd", UInt8(0xF2)), ("cvtsi2ss", 0xF3)] {
                for width in [32, 64] {
                    R.run("sse \(name) rc\(rc) w\(width)",
                          [DiffVariant(name: "\(name) xmm1, r/ecx rc\(rc)", code: DiffEnc.rr([0x0F, 0x2A], width: width, reg: 1, rm: 1, prefix: [pfx]),
                                       cases: 300, show: [1], showXMM: [1])], Self.spec(.pd, mxcsr: mx))
                }
            }
        }
    }

    /// MXCSR exception flags (IE DE ZE OE UE PE) accumulate.
    func testExceptionFlags() throws {
        try requireStrict("MXCSR exception flags")
        let all: UInt32 = 0xFFFF
        for (name, op) in [("add", UInt8(0x58)), ("mul", 0x59), ("div", 0x5E), ("sqrt", 0x51)] {
            xform("\(name)sd flags", [0xF2], [0x0F, op], kind: .pd, cases: 200, mxcsrMask: all, memory: false)
        }
        xform("ucomisd flags", [0x66], [0x0F, 0x2E], kind: .pd, cases: 200, mxcsrMask: all, memory: false)
        xform("cvttpd2dq flags", [0x66], [0x0F, 0xE6], kind: .pd, cases: 200, mxcsrMask: all, memory: false)
    }

    // MARK: moves and shuffles

    func testMoves() {
        xform("movaps", [], [0x0F, 0x28], kind: .ps, cases: 200)
        xform("movups", [], [0x0F, 0x10], kind: .ps, cases: 200)
        xform("movapd", [0x66], [0x0F, 0x28], kind: .pd, cases: 200)
        xform("movdqa", [0x66], [0x0F, 0x6F], kind: .int, cases: 200)
        xform("movdqu", [0xF3], [0x0F, 0x6F], kind: .int, cases: 200)
        xform("movss", [0xF3], [0x0F, 0x10], kind: .ps, cases: 200)  // register: merge; memory: zero upper
        xform("movsd", [0xF2], [0x0F, 0x10], kind: .pd, cases: 200)
        xform("movq xmm, xmm/m64", [0xF3], [0x0F, 0x7E], kind: .int, cases: 200)
        xform("movhlps/movlps", [], [0x0F, 0x12], kind: .ps, cases: 200)
        xform("movlhps/movhps", [], [0x0F, 0x16], kind: .ps, cases: 200)
        xform("unpcklps", [], [0x0F, 0x14], kind: .ps, cases: 200)
        xform("unpckhps", [], [0x0F, 0x15], kind: .ps, cases: 200)
        xform("unpcklpd", [0x66], [0x0F, 0x14], kind: .pd, cases: 200)
        xform("unpckhpd", [0x66], [0x0F, 0x15], kind: .pd, cases: 200)
        for imm: UInt8 in [0x00, 0x1B, 0xE4, 0x4E, 0xB1, 0x93] {
            xform("shufps \(imm)", [], [0x0F, 0xC6], kind: .ps, imm: [imm], cases: 100)
            xform("shufpd \(imm & 3)", [0x66], [0x0F, 0xC6], kind: .pd, imm: [imm & 3], cases: 100)
            xform("pshufd \(imm)", [0x66], [0x0F, 0x70], kind: .int, imm: [imm], cases: 100)
            xform("pshuflw \(imm)", [0xF2], [0x0F, 0x70], kind: .int, imm: [imm], cases: 100)
            xform("pshufhw \(imm)", [0xF3], [0x0F, 0x70], kind: .int, imm: [imm], cases: 100)
        }
        // Stores to memory.
        for (name, prefix, op) in [("movaps store", [UInt8](), UInt8(0x29)), ("movups store", [], 0x11), ("movdqa store", [0x66], 0x7F),
                                   ("movss store", [0xF3], 0x11), ("movsd store", [0xF2], 0x11), ("movq store", [0x66], 0xD6),
                                   ("movlps store", [], 0x13), ("movhps store", [], 0x17), ("movntdq", [0x66], 0xE7)] {
            var s = Self.spec(.int, extra: { _, c in c[3] = UInt64(DiffForms.memOff + 8) })
            s.memory = true
            s.dataPtrs = [3]
            R.run("sse \(name)", [DiffVariant(name: "\(name) [rbx-8], xmm6", code: DiffEnc.rm([0x0F, op], width: 32, reg: 6, base: 3, disp: -8, prefix: prefix),
                                              cases: 200, show: [3], showXMM: [6])], s)
        }
        // Between XMM and general registers.
        let gx: [(String, [UInt8])] = [
            ("movd xmm1, ecx", DiffEnc.rr([0x0F, 0x6E], width: 32, reg: 1, rm: 1, prefix: [0x66])),
            ("movq xmm9, r13", DiffEnc.rr([0x0F, 0x6E], width: 64, reg: 9, rm: 13, prefix: [0x66])),
            ("movd ecx, xmm1", DiffEnc.rr([0x0F, 0x7E], width: 32, reg: 1, rm: 1, prefix: [0x66])),
            ("movq r13, xmm9", DiffEnc.rr([0x0F, 0x7E], width: 64, reg: 9, rm: 13, prefix: [0x66])),
            ("pmovmskb edx, xmm3", DiffEnc.rr([0x0F, 0xD7], width: 32, reg: 2, rm: 3, prefix: [0x66])),
            ("movmskps edx, xmm3", DiffEnc.rr([0x0F, 0x50], width: 32, reg: 2, rm: 3)),
            ("movmskpd r10d, xmm11", DiffEnc.rr([0x0F, 0x50], width: 32, reg: 10, rm: 11, prefix: [0x66])),
            ("pextrw eax, xmm5, 3", DiffEnc.rr([0x0F, 0xC5], width: 32, reg: 0, rm: 5, prefix: [0x66], imm: [3])),
            ("pextrw eax, xmm5, 13", DiffEnc.rr([0x0F, 0xC5], width: 32, reg: 0, rm: 5, prefix: [0x66], imm: [13])),
            ("pinsrw xmm5, ecx, 6", DiffEnc.rr([0x0F, 0xC4], width: 32, reg: 5, rm: 1, prefix: [0x66], imm: [6])),
        ]
        R.run("sse gpr", gx.map { DiffVariant(name: $0.0, code: $0.1, cases: 400, show: [0, 1, 2, 10, 13], showXMM: [1, 3, 5, 9, 11]) }, Self.spec(.int))
        // MASKMOVDQU: byte-masked store to [rdi].
        var s = Self.spec(.int, extra: { _, c in c[7] = UInt64(DiffForms.memOff) })
        s.memory = true
        s.dataPtrs = [7]
        R.run("sse maskmovdqu", [DiffVariant(name: "maskmovdqu xmm1, xmm2", code: DiffEnc.rr([0x0F, 0xF7], width: 32, reg: 1, rm: 2, prefix: [0x66]),
                                             cases: 400, show: [7], showXMM: [1, 2])], s)
    }

    // MARK: packed integers

    func testPackedIntegers() {
        let ops: [UInt8] = [0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D,
                            0x74, 0x75, 0x76, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF,
                            0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE8, 0xE9, 0xEA, 0xEB, 0xEC, 0xED, 0xEE, 0xEF,
                            0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE]
        for op in ops {
            // Shift counts come from the low quadword of the source: keep some small.
            xform("66 0F \(String(format: "%02X", op))", [0x66], [0x0F, op], kind: .int, cases: 300)
        }
        // Shifts by immediate: 71/72/73 with /2 /4 /6, and 73 /3 /7 (bytes).
        let groups: [(UInt8, [Int])] = [(0x71, [2, 4, 6]), (0x72, [2, 4, 6]), (0x73, [2, 3, 6, 7])]
        for (op, exts) in groups {
            for ext in exts {
                for n: UInt8 in [0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 200] {
                    let code = DiffEnc.rr([0x0F, op], width: 32, reg: ext, rm: 10, prefix: [0x66], imm: [n])
                    R.run("sse shift imm", [DiffVariant(name: "66 0F \(String(format: "%02X", op)) /\(ext) xmm10, \(n)", code: code, cases: 60, showXMM: [10])], Self.spec(.int))
                }
            }
        }
    }

    /// Shifts by an XMM count with small counts (the random lanes above are mostly huge).
    func testPackedShiftsSmallCounts() {
        for op: UInt8 in [0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3] {
            let code = DiffEnc.rr([0x0F, op], width: 32, reg: 1, rm: 2, prefix: [0x66])
            R.run("sse shift xmm", [DiffVariant(name: "66 0F \(String(format: "%02X", op)) xmm1, xmm2 (small count)", code: code, cases: 300, showXMM: [1, 2])],
                  Self.spec(.int, extra: { rng, c in
                      let counts: [UInt64] = [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 0x1_0000_0001]
                      c.st.setX(2, (counts[rng.below(counts.count)], rng.next()))
                  }))
        }
    }
}
