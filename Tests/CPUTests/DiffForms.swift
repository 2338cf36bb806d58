// Shared building blocks for the differential tests: register choices per
// operand width, memory-operand placement, immediates, and case counts.

import CHostExec

enum DiffForms {
    static let widths = [8, 16, 32, 64]
    static let wide = [16, 32, 64]

    /// Cases per variant (scaled by DIFF_SCALE).
    static let nReg = 1500
    static let nImm = 400
    static let nMem = 800

    /// `b` for byte operands, `b + 1` otherwise (the usual opcode pairs).
    static func op(_ w: Int, _ b: UInt8) -> [UInt8] { [w == 8 ? b : b + 1] }
    /// Immediate size of an `iz` operand.
    static func immLen(_ w: Int) -> Int { w == 8 ? 1 : w == 16 ? 2 : 4 }

    /// Two register operands: ModRM reg and rm. Never RSP (or SPL).
    struct Pair {
        let reg: Int
        let rm: Int
        let rex: Bool
        func name(_ w: Int) -> String {
            "\(DiffEnc.regName(rm, width: w, rex: rex)), \(DiffEnc.regName(reg, width: w, rex: rex))"
        }
        /// The 64-bit registers holding the operands (AH..BH live in RAX..RBX).
        func show(_ w: Int) -> [Int] {
            let f = { (r: Int) in w == 8 && !rex && r >= 4 && r < 8 ? r - 4 : r }
            return Array(Set([f(rm), f(reg)])).sorted()
        }
    }

    static func pairs(_ w: Int) -> [Pair] {
        if w == 8 {
            return [Pair(reg: 1, rm: 0, rex: false),    // al, cl
                    Pair(reg: 7, rm: 4, rex: false),    // ah, bh
                    Pair(reg: 4, rm: 3, rex: false),    // bl, ah
                    Pair(reg: 2, rm: 2, rex: false),    // dl, dl
                    Pair(reg: 7, rm: 10, rex: true),    // r10b, dil
                    Pair(reg: 15, rm: 6, rex: true)]    // sil, r15b
        }
        return [Pair(reg: 1, rm: 0, rex: false),        // rax, rcx
                Pair(reg: 6, rm: 7, rex: false),        // rdi, rsi
                Pair(reg: 13, rm: 9, rex: false),       // r9, r13
                Pair(reg: 5, rm: 14, rex: false),       // r14, rbp
                Pair(reg: 2, rm: 2, rex: false)]        // rdx, rdx
    }

    /// One register operand.
    struct Single {
        let r: Int
        let rex: Bool
        func name(_ w: Int) -> String { DiffEnc.regName(r, width: w, rex: rex) }
        /// The 64-bit register holding it.
        func show(_ w: Int) -> [Int] { [w == 8 && !rex && r >= 4 && r < 8 ? r - 4 : r] }
    }

    static func singles(_ w: Int) -> [Single] {
        if w == 8 {
            return [Single(r: 0, rex: false), Single(r: 7, rex: false),   // al, bh
                    Single(r: 6, rex: true), Single(r: 11, rex: true)]    // sil, r11b
        }
        return [Single(r: 0, rex: false), Single(r: 3, rex: false), Single(r: 12, rex: false), Single(r: 15, rex: false)]
    }

    /// The value of a register operand of width `w` (AH..BH are bits 8-15).
    static func read(_ c: DiffCase, _ r: Int, _ w: Int, rex: Bool = false) -> UInt64 {
        if w == 8 && !rex && r >= 4 && r < 8 { return (c[r - 4] >> 8) & 0xFF }
        return c[r] & DiffRng.mask(w)
    }
    static func write(_ c: inout DiffCase, _ r: Int, _ w: Int, _ v: UInt64, rex: Bool = false) {
        if w == 8 && !rex && r >= 4 && r < 8 {
            c[r - 4] = (c[r - 4] & ~0xFF00) | (v & 0xFF) << 8
        } else {
            c[r] = (c[r] & ~DiffRng.mask(w)) | (v & DiffRng.mask(w))
        }
    }

    // MARK: memory operands

    /// Memory operands live at this offset of the data window.
    static let memOff = 2048
    /// Base registers and displacements used for memory forms
    /// (base = memOff - disp, so the operand is always at memOff).
    static let memBases: [(base: Int, disp: Int32)] = [(3, -8), (13, 0x7F), (6, 0x300)]

    /// A spec for a memory form: the base register is a data pointer, and the
    /// operand at memOff gets an edge-biased value of `w` bits.
    static func memSpec(_ w: Int, base: Int, disp: Int32, memWidth: Int? = nil,
                        extra: ((inout DiffRng, inout DiffCase) -> Void)? = nil,
                        defined: @escaping (DiffCase, hostexec_state) -> Defined = { _, _ in Defined() },
                        fault: ((DiffCase) -> UInt8?)? = nil) -> DiffSpec {
        let mw = memWidth ?? w
        return DiffSpec(width: w, memory: true, dataPtrs: [base], gen: { rng, c in
            c[base] = UInt64(bitPattern: Int64(memOff) - Int64(disp))
            c.store(memOff, rng.operand(mw), mw / 8)
            extra?(&rng, &c)
        }, defined: defined, fault: fault)
    }

    static func memName(_ base: Int, _ disp: Int32) -> String {
        "[\(DiffEnc.names64[base])\(disp < 0 ? "-" : "+")0x\(String(abs(Int(disp)), radix: 16))]"
    }

    // MARK: immediates

    static func imm8Values(_ rng: inout DiffRng) -> [UInt64] {
        [0, 1, 0x7F, 0x80, 0xFF, 0xFE, rng.next() & 0xFF]
    }
    static func immZValues(_ w: Int, _ rng: inout DiffRng) -> [UInt64] {
        let n = immLen(w) * 8
        let m = DiffRng.mask(n)
        return [0, 1, m, (m >> 1), (m >> 1) + 1, rng.next() & m]
    }
}
