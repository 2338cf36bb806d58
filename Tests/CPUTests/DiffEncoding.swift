// A small x86-64 instruction encoder for the differential tests: legacy
// prefixes, REX, opcode, ModRM (register or [base+index*scale+disp]) and an
// immediate. Register numbers are the encoding numbers (0 = RAX ... 15 = R15).

enum DiffEnc {
    /// The 8-bit register encoded by number `n` without REX (AL CL DL BL AH CH DH BH).
    static let byteNamesLegacy = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"]
    static let byteNamesREX = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
                               "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"]
    static let names64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                          "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]

    static func regName(_ n: Int, width: Int, rex: Bool = false) -> String {
        switch width {
        case 8: return rex || n >= 8 ? byteNamesREX[n] : byteNamesLegacy[n]
        case 16: return n < 8 ? String(names64[n].dropFirst()) : names64[n] + "w"
        case 32: return n < 8 ? "e" + names64[n].dropFirst() : names64[n] + "d"
        default: return names64[n]
        }
    }

    /// Prefixes + REX for operand width `width`, ModRM reg `reg`, rm/base `b`,
    /// SIB index `x`. `forceREX` selects SPL/BPL/SIL/DIL over AH/CH/DH/BH.
    static func head(prefix: [UInt8], width: Int, reg: Int, x: Int, b: Int, forceREX: Bool) -> [UInt8] {
        var out = prefix
        if width == 16 { out.insert(0x66, at: 0) }
        var rex: UInt8 = 0x40
        if width == 64 { rex |= 8 }
        if reg >= 8 { rex |= 4 }
        if x >= 8 { rex |= 2 }
        if b >= 8 { rex |= 1 }
        if rex != 0x40 || forceREX { out.append(rex) }
        return out
    }

    /// `op` with a register-direct ModRM (mod = 11).
    static func rr(_ op: [UInt8], width: Int, reg: Int, rm: Int, prefix: [UInt8] = [],
                   forceREX: Bool = false, imm: [UInt8] = []) -> [UInt8] {
        var out = head(prefix: prefix, width: width, reg: reg, x: 0, b: rm, forceREX: forceREX)
        out += op
        out.append(0xC0 | UInt8((reg & 7) << 3) | UInt8(rm & 7))
        return out + imm
    }

    /// `op` with a memory ModRM [base + index*scale + disp] (64-bit addressing).
    /// `index` nil for no index. Always emits a displacement (disp8 when it fits).
    static func rm(_ op: [UInt8], width: Int, reg: Int, base: Int, index: Int? = nil, scale: Int = 1,
                   disp: Int32 = 0, prefix: [UInt8] = [], forceREX: Bool = false, imm: [UInt8] = []) -> [UInt8] {
        var out = head(prefix: prefix, width: width, reg: reg, x: index ?? 0, b: base, forceREX: forceREX)
        out += op
        let small = disp >= -128 && disp <= 127
        let mod: UInt8 = small ? 0x40 : 0x80
        let needSIB = index != nil || (base & 7) == 4
        out.append(mod | UInt8((reg & 7) << 3) | (needSIB ? 4 : UInt8(base & 7)))
        if needSIB {
            let ss: UInt8 = scale == 8 ? 3 : scale == 4 ? 2 : scale == 2 ? 1 : 0
            let idx = index.map { UInt8($0 & 7) } ?? 4  // 100 = no index
            precondition(index != 4, "RSP cannot be an index")
            out.append(ss << 6 | idx << 3 | UInt8(base & 7))
        }
        if small { out.append(UInt8(bitPattern: Int8(disp))) } else { out += le(UInt64(UInt32(bitPattern: disp)), 4) }
        return out + imm
    }

    /// Little-endian bytes of the low `n` bytes of `v`.
    static func le(_ v: UInt64, _ n: Int) -> [UInt8] {
        (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02X", $0) }.joined(separator: " ")
    }
}
