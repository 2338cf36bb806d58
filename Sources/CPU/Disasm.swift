// Disassembler for the debugger: Intel syntax, from the same decoder the
// interpreter uses (so what it shows is what runs). Not on any hot path.

private let gpr64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                     "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
private let gpr32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                     "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"]
private let gpr16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
                     "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"]
private let gpr8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
                    "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"]
private let gpr8hi = ["ah", "ch", "dh", "bh"]
private let segNames = ["es", "cs", "ss", "ds", "fs", "gs", "?", "?"]
private let ccNames = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]
private let aluNames = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"]
private let shiftNames = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"]

/// SSE mnemonics by (map << 8 | opcode): names for no prefix, 66, F3, F2.
private let sseNames: [UInt16: [String]] = [
    0x0F10: ["movups", "movupd", "movss", "movsd"], 0x0F11: ["movups", "movupd", "movss", "movsd"],
    0x0F12: ["movlps", "movlpd", "movsldup", "movddup"], 0x0F13: ["movlps", "movlpd", "", ""],
    0x0F14: ["unpcklps", "unpcklpd", "", ""], 0x0F15: ["unpckhps", "unpckhpd", "", ""],
    0x0F16: ["movhps", "movhpd", "movshdup", ""], 0x0F17: ["movhps", "movhpd", "", ""],
    0x0F28: ["movaps", "movapd", "", ""], 0x0F29: ["movaps", "movapd", "", ""],
    0x0F2A: ["cvtpi2ps", "cvtpi2pd", "cvtsi2ss", "cvtsi2sd"], 0x0F2B: ["movntps", "movntpd", "", ""],
    0x0F2C: ["cvttps2pi", "cvttpd2pi", "cvttss2si", "cvttsd2si"],
    0x0F2D: ["cvtps2pi", "cvtpd2pi", "cvtss2si", "cvtsd2si"],
    0x0F2E: ["ucomiss", "ucomisd", "", ""], 0x0F2F: ["comiss", "comisd", "", ""],
    0x0F50: ["movmskps", "movmskpd", "", ""], 0x0F51: ["sqrtps", "sqrtpd", "sqrtss", "sqrtsd"],
    0x0F52: ["rsqrtps", "", "rsqrtss", ""], 0x0F53: ["rcpps", "", "rcpss", ""],
    0x0F54: ["andps", "andpd", "", ""], 0x0F55: ["andnps", "andnpd", "", ""],
    0x0F56: ["orps", "orpd", "", ""], 0x0F57: ["xorps", "xorpd", "", ""],
    0x0F58: ["addps", "addpd", "addss", "addsd"], 0x0F59: ["mulps", "mulpd", "mulss", "mulsd"],
    0x0F5A: ["cvtps2pd", "cvtpd2ps", "cvtss2sd", "cvtsd2ss"], 0x0F5B: ["cvtdq2ps", "cvtps2dq", "cvttps2dq", ""],
    0x0F5C: ["subps", "subpd", "subss", "subsd"], 0x0F5D: ["minps", "minpd", "minss", "minsd"],
    0x0F5E: ["divps", "divpd", "divss", "divsd"], 0x0F5F: ["maxps", "maxpd", "maxss", "maxsd"],
    0x0F60: ["", "punpcklbw", "", ""], 0x0F61: ["", "punpcklwd", "", ""], 0x0F62: ["", "punpckldq", "", ""],
    0x0F63: ["", "packsswb", "", ""], 0x0F64: ["", "pcmpgtb", "", ""], 0x0F65: ["", "pcmpgtw", "", ""],
    0x0F66: ["", "pcmpgtd", "", ""], 0x0F67: ["", "packuswb", "", ""], 0x0F68: ["", "punpckhbw", "", ""],
    0x0F69: ["", "punpckhwd", "", ""], 0x0F6A: ["", "punpckhdq", "", ""], 0x0F6B: ["", "packssdw", "", ""],
    0x0F6C: ["", "punpcklqdq", "", ""], 0x0F6D: ["", "punpckhqdq", "", ""],
    0x0F6E: ["", "movd", "", ""], 0x0F6F: ["", "movdqa", "movdqu", ""],
    0x0F70: ["", "pshufd", "pshufhw", "pshuflw"], 0x0F71: ["", "psxw", "", ""], 0x0F72: ["", "psxd", "", ""],
    0x0F73: ["", "psxq", "", ""], 0x0F74: ["", "pcmpeqb", "", ""], 0x0F75: ["", "pcmpeqw", "", ""],
    0x0F76: ["", "pcmpeqd", "", ""], 0x0F7E: ["", "movd", "movq", ""], 0x0F7F: ["", "movdqa", "movdqu", ""],
    0x0FC2: ["cmpps", "cmppd", "cmpss", "cmpsd"], 0x0FC4: ["", "pinsrw", "", ""], 0x0FC5: ["", "pextrw", "", ""],
    0x0FC6: ["shufps", "shufpd", "", ""], 0x0FD1: ["", "psrlw", "", ""], 0x0FD2: ["", "psrld", "", ""],
    0x0FD3: ["", "psrlq", "", ""], 0x0FD4: ["", "paddq", "", ""], 0x0FD5: ["", "pmullw", "", ""],
    0x0FD6: ["", "movq", "", ""], 0x0FD7: ["", "pmovmskb", "", ""], 0x0FD8: ["", "psubusb", "", ""],
    0x0FD9: ["", "psubusw", "", ""], 0x0FDA: ["", "pminub", "", ""], 0x0FDB: ["", "pand", "", ""],
    0x0FDC: ["", "paddusb", "", ""], 0x0FDD: ["", "paddusw", "", ""], 0x0FDE: ["", "pmaxub", "", ""],
    0x0FDF: ["", "pandn", "", ""], 0x0FE0: ["", "pavgb", "", ""], 0x0FE1: ["", "psraw", "", ""],
    0x0FE2: ["", "psrad", "", ""], 0x0FE3: ["", "pavgw", "", ""], 0x0FE4: ["", "pmulhuw", "", ""],
    0x0FE5: ["", "pmulhw", "", ""], 0x0FE6: ["", "cvttpd2dq", "cvtdq2pd", "cvtpd2dq"], 0x0FE7: ["", "movntdq", "", ""],
    0x0FE8: ["", "psubsb", "", ""], 0x0FE9: ["", "psubsw", "", ""], 0x0FEA: ["", "pminsw", "", ""],
    0x0FEB: ["", "por", "", ""], 0x0FEC: ["", "paddsb", "", ""], 0x0FED: ["", "paddsw", "", ""],
    0x0FEE: ["", "pmaxsw", "", ""], 0x0FEF: ["", "pxor", "", ""], 0x0FF1: ["", "psllw", "", ""],
    0x0FF2: ["", "pslld", "", ""], 0x0FF3: ["", "psllq", "", ""], 0x0FF4: ["", "pmuludq", "", ""],
    0x0FF5: ["", "pmaddwd", "", ""], 0x0FF6: ["", "psadbw", "", ""], 0x0FF7: ["", "maskmovdqu", "", ""],
    0x0FF8: ["", "psubb", "", ""], 0x0FF9: ["", "psubw", "", ""], 0x0FFA: ["", "psubd", "", ""],
    0x0FFB: ["", "psubq", "", ""], 0x0FFC: ["", "paddb", "", ""], 0x0FFD: ["", "paddw", "", ""],
    0x0FFE: ["", "paddd", "", ""],
]

private func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

extension CPU {

    /// Disassembles the instruction at `linear` (through the current paging
    /// and code size). nil when the first byte is not mapped.
    public func disassemble(at linear: UInt64) -> (text: String, length: Int)? {
        var bytes = [UInt8]()
        for i in 0..<15 {
            let a = (linear &+ UInt64(i)) & linMask
            guard let pa = peekTranslate(a, write: false) else { break }
            bytes.append(UInt8(truncatingIfNeeded: physRead(pa, 1)))
        }
        if bytes.isEmpty { return nil }
        let ripOfInsn = (linear &- sbase[1]) & ripMask
        return disassemble(bytes: bytes, rip: ripOfInsn)
    }

    /// Disassembles `bytes` as the CPU's current code size would decode
    /// them, for an instruction at `rip`.
    public func disassemble(bytes: [UInt8], rip insnRip: UInt64) -> (text: String, length: Int) {
        let saved = (dAvail, dLin, dCrossed)
        defer { (dAvail, dLin, dCrossed) = saved }
        let n = min(bytes.count, 15)
        for i in 0..<n { dbuf[i] = bytes[i] }
        dAvail = n
        dCrossed = true      // no further bytes can be fetched
        var d = DInsn()
        do {
            try decodeBytes(&d)
        } catch {
            return ("(bad)", max(1, n))
        }
        var text = format(d, rip: insnRip)
        if d.mem == 2 && d.op != .nop {
            let target = (insnRip &+ UInt64(d.len) &+ UInt64(bitPattern: Int64(d.disp))) & (UInt64.max >> UInt64(d.ashift))
            text += "  ; " + hex(target)
        }
        return (text, Int(d.len))
    }

    // MARK: formatting

    private func regName(_ off: UInt8, _ size: UInt8) -> String {
        let idx = Int(off >> 3) & 15
        switch size {
        case 1: return off & 1 != 0 ? gpr8hi[idx & 3] : gpr8[idx]
        case 2: return gpr16[idx]
        case 4: return gpr32[idx]
        default: return gpr64[idx]
        }
    }
    private func sizeName(_ s: Int) -> String {
        switch s {
        case 1: return "byte ptr "
        case 2: return "word ptr "
        case 4: return "dword ptr "
        case 8: return "qword ptr "
        case 10: return "tbyte ptr "
        case 16: return "xmmword ptr "
        case 6: return "fword ptr "
        default: return ""
        }
    }
    private func memText(_ d: DInsn, _ size: Int, rip: UInt64) -> String {
        var parts: [String] = []
        let asz: UInt8 = d.ashift == 0 ? 8 : (d.ashift == 32 ? 4 : 2)
        if d.mem == 2 { parts.append(asz == 8 ? "rip" : "eip") }
        if d.base != regZero { parts.append(regName(d.base, asz)) }
        if d.index != regZero { parts.append(regName(d.index, asz) + (d.scale > 0 ? "*\(1 << d.scale)" : "")) }
        var s = parts.joined(separator: " + ")
        if d.disp != 0 || parts.isEmpty {
            let v = Int64(d.disp)
            if parts.isEmpty {
                s = hex(UInt64(bitPattern: v) & (UInt64.max >> UInt64(d.ashift)))
            } else {
                s += v < 0 ? " - " + hex(UInt64(-v)) : " + " + hex(UInt64(v))
            }
        }
        var seg = ""
        if d.pfx & P.segOvr != 0 { seg = segNames[Int(d.seg & 7)] + ":" }
        return sizeName(size) + seg + "[" + s + "]"
    }
    private func rmText(_ d: DInsn, _ size: UInt8, rip: UInt64) -> String {
        d.mem == 0 ? regName(d.rm, size) : memText(d, Int(size), rip: rip)
    }
    private func xmmRM(_ d: DInsn, _ size: Int, rip: UInt64) -> String {
        d.mem == 0 ? "xmm\(d.rm & 15)" : memText(d, size, rip: rip)
    }
    private func immText(_ v: UInt64, _ size: UInt8) -> String {
        hex(v & (size == 8 ? .max : (UInt64(1) << UInt64(size * 8)) - 1))
    }
    private func sfx(_ s: UInt8) -> String { s == 1 ? "b" : s == 2 ? "w" : s == 4 ? "d" : "q" }
    private func repText(_ d: DInsn, cmp: Bool) -> String {
        if d.pfx & P.rep != 0 { return cmp ? "repe " : "rep " }
        if d.pfx & P.repne != 0 { return cmp ? "repne " : "rep " }
        return ""
    }

    // swiftlint:disable:next function_body_length cyclomatic_complexity
    private func format(_ d: DInsn, rip: UInt64) -> String {
        let s = d.osz
        let next = rip &+ UInt64(d.len)
        let tmask: UInt64 = d.osz == 2 ? 0xFFFF : (d.osz == 4 ? 0xFFFF_FFFF : .max)
        let lock = d.pfx & P.lock != 0 ? "lock " : ""
        switch d.op {
        case .movRR64, .movRR32, .movRrR64, .movRrR32, .ld64, .ld32, .st64, .st32,
             .aluRR64, .aluRR32, .aluRI64, .aluRI32, .aluLd64, .aluLd32,
             .shlRI64, .shlRI32, .shrRI64, .shrRI32, .sarRI64, .sarRI32,
             .lea64, .lea32, .push64, .pop64, .call64, .ret64:
            var g = d
            g.op = d.op.generic
            return format(g, rip: rip)
        case .ud: return d.sub == 0 ? "ud2" : "(bad)"
        case .nop: return d.pfx & P.rep != 0 ? "pause" : "nop"
        case .aluRmR: return lock + aluNames[Int(d.sub & 7)] + " " + rmText(d, s, rip: rip) + ", " + regName(d.reg, s)
        case .aluRRm: return aluNames[Int(d.sub & 7)] + " " + regName(d.reg, s) + ", " + rmText(d, s, rip: rip)
        case .aluRmI: return lock + aluNames[Int(d.sub & 7)] + " " + rmText(d, s, rip: rip) + ", " + immText(d.imm, s)
        case .testRmR: return "test " + rmText(d, s, rip: rip) + ", " + regName(d.reg, s)
        case .testRmI: return "test " + rmText(d, s, rip: rip) + ", " + immText(d.imm, s)
        case .incRm, .decRm, .notRm, .negRm, .mulRm, .imulRm, .divRm, .idivRm:
            let names: [Op: String] = [.incRm: "inc", .decRm: "dec", .notRm: "not", .negRm: "neg", .mulRm: "mul",
                                       .imulRm: "imul", .divRm: "div", .idivRm: "idiv"]
            return lock + (names[d.op] ?? "?") + " " + rmText(d, s, rip: rip)
        case .imulRRm: return "imul " + regName(d.reg, s) + ", " + rmText(d, s, rip: rip)
        case .imulRRmI: return "imul " + regName(d.reg, s) + ", " + rmText(d, s, rip: rip) + ", " + immText(d.imm, s)
        case .movRmR: return "mov " + rmText(d, s, rip: rip) + ", " + regName(d.reg, s)
        case .movRRm: return "mov " + regName(d.reg, s) + ", " + rmText(d, s, rip: rip)
        case .movRmI: return "mov " + rmText(d, s, rip: rip) + ", " + immText(d.imm, s)
        case .movAMoffs, .movMoffsA:
            let seg = d.pfx & P.segOvr != 0 ? segNames[Int(d.seg & 7)] + ":" : ""
            let m = sizeName(Int(s)) + seg + "[" + hex(d.imm) + "]"
            return d.op == .movAMoffs ? "mov " + regName(0, s) + ", " + m : "mov " + m + ", " + regName(0, s)
        case .movzx, .movsx:
            let name = d.op == .movzx ? "movzx" : (d.sub == 4 ? "movsxd" : "movsx")
            return name + " " + regName(d.reg, s) + ", " + rmText(d, d.sub, rip: rip)
        case .lea: return "lea " + regName(d.reg, s) + ", " + memText(d, 0, rip: rip)
        case .xchgRmR: return "xchg " + rmText(d, s, rip: rip) + ", " + regName(d.reg, s)
        case .pushR: return "push " + regName(d.reg, s)
        case .popR: return "pop " + regName(d.reg, s)
        case .pushRm: return "push " + rmText(d, s, rip: rip)
        case .popRm: return "pop " + rmText(d, s, rip: rip)
        case .pushI: return "push " + immText(d.imm, s)
        case .pushSeg: return "push " + segNames[Int(d.sub & 7)]
        case .popSeg: return "pop " + segNames[Int(d.sub & 7)]
        case .pusha: return s == 2 ? "pusha" : "pushad"
        case .popa: return s == 2 ? "popa" : "popad"
        case .pushf: return s == 2 ? "pushf" : (s == 4 ? "pushfd" : "pushfq")
        case .popf: return s == 2 ? "popf" : (s == 4 ? "popfd" : "popfq")
        case .cmov: return "cmov" + ccNames[Int(d.sub & 15)] + " " + regName(d.reg, s) + ", " + rmText(d, s, rip: rip)
        case .setcc: return "set" + ccNames[Int(d.sub & 15)] + " " + rmText(d, 1, rip: rip)
        case .jcc: return "j" + ccNames[Int(d.sub & 15)] + " " + hex((next &+ d.imm) & tmask)
        case .jmpRel: return "jmp " + hex((next &+ d.imm) & tmask)
        case .callRel: return "call " + hex((next &+ d.imm) & tmask)
        case .ret: return d.imm != 0 ? "ret " + hex(d.imm) : "ret"
        case .jmpRm: return "jmp " + rmText(d, s, rip: rip)
        case .callRm: return "call " + rmText(d, s, rip: rip)
        case .jmpFar: return "jmp far " + hex(UInt64(d.imm2)) + ":" + hex(d.imm)
        case .callFar: return "call far " + hex(UInt64(d.imm2)) + ":" + hex(d.imm)
        case .jmpFarM: return "jmp far " + memText(d, Int(s) + 2, rip: rip)
        case .callFarM: return "call far " + memText(d, Int(s) + 2, rip: rip)
        case .retf: return (s == 8 ? "retfq" : "retf") + (d.imm != 0 ? " " + hex(d.imm) : "")
        case .loop: return ["loopne", "loope", "loop"][Int(min(d.sub, 2))] + " " + hex((next &+ d.imm) & tmask)
        case .jcxz: return (d.ashift == 48 ? "jcxz " : d.ashift == 32 ? "jecxz " : "jrcxz ") + hex((next &+ d.imm) & tmask)
        case .movs: return repText(d, cmp: false) + "movs" + sfx(s)
        case .cmps: return repText(d, cmp: true) + "cmps" + sfx(s)
        case .scas: return repText(d, cmp: true) + "scas" + sfx(s)
        case .lods: return repText(d, cmp: false) + "lods" + sfx(s)
        case .stos: return repText(d, cmp: false) + "stos" + sfx(s)
        case .ins: return repText(d, cmp: false) + "ins" + sfx(s)
        case .outs: return repText(d, cmp: false) + "outs" + sfx(s)
        case .shiftRm:
            let c = d.pfx & P.cl != 0 ? "cl" : hex(d.imm)
            return shiftNames[Int(d.sub & 7)] + " " + rmText(d, s, rip: rip) + ", " + c
        case .shld, .shrd:
            let c = d.pfx & P.cl != 0 ? "cl" : hex(d.imm)
            return (d.op == .shld ? "shld " : "shrd ") + rmText(d, s, rip: rip) + ", " + regName(d.reg, s) + ", " + c
        case .btRmR: return lock + ["bt", "bts", "btr", "btc"][Int(d.sub & 3)] + " " + rmText(d, s, rip: rip) + ", " + regName(d.reg, s)
        case .btRmI: return lock + ["bt", "bts", "btr", "btc"][Int(d.sub & 3)] + " " + rmText(d, s, rip: rip) + ", " + hex(d.imm)
        case .bsf, .bsr, .tzcnt, .lzcnt, .popcnt:
            let n = d.op == .bsf ? "bsf" : d.op == .bsr ? "bsr" : d.op == .tzcnt ? "tzcnt" : d.op == .lzcnt ? "lzcnt" : "popcnt"
            return n + " " + regName(d.reg, s) + ", " + rmText(d, s, rip: rip)
        case .bswap: return "bswap " + regName(d.reg, s)
        case .cmpxchg: return lock + "cmpxchg " + rmText(d, s, rip: rip) + ", " + regName(d.reg, s)
        case .cmpxchg8b: return lock + (s == 8 ? "cmpxchg16b " + memText(d, 16, rip: rip) : "cmpxchg8b " + memText(d, 8, rip: rip))
        case .xadd: return lock + "xadd " + rmText(d, s, rip: rip) + ", " + regName(d.reg, s)
        case .cbw: return s == 2 ? "cbw" : (s == 4 ? "cwde" : "cdqe")
        case .cwd: return s == 2 ? "cwd" : (s == 4 ? "cdq" : "cqo")
        case .enter: return "enter " + hex(d.imm) + ", " + hex(UInt64(d.imm2))
        case .leave: return "leave"
        case .cpuid: return "cpuid"
        case .rdtsc: return "rdtsc"
        case .rdtscp: return "rdtscp"
        case .rdmsr: return "rdmsr"
        case .wrmsr: return "wrmsr"
        case .rdpmc: return "rdpmc"
        case .sahf: return "sahf"
        case .lahf: return "lahf"
        case .flagOp: return ["clc", "stc", "cmc", "cld", "std", "cli", "sti"][Int(min(d.sub, 6))]
        case .xlat: return "xlat"
        case .hlt: return "hlt"
        case .io:
            let port = d.sub & 2 != 0 ? "dx" : hex(d.imm)
            return d.sub & 1 == 0 ? "in " + regName(0, s) + ", " + port : "out " + port + ", " + regName(0, s)
        case .intN: return "int " + hex(d.imm)
        case .int3: return "int3"
        case .into: return "into"
        case .int1: return "int1"
        case .iret: return s == 2 ? "iret" : (s == 4 ? "iretd" : "iretq")
        case .grp6:
            let n = ["sldt", "str", "lldt", "ltr", "verr", "verw", "?", "?"][Int(d.sub & 7)]
            return n + " " + rmText(d, 2, rip: rip)
        case .grp7:
            if d.sub & 8 != 0 {
                switch d.imm2 {
                case 0xF8: return "swapgs"
                case 0xF9: return "rdtscp"
                default:
                    if d.sub & 7 == 4 { return "smsw " + regName(d.rm, s) }
                    if d.sub & 7 == 6 { return "lmsw " + regName(d.rm, 2) }
                    return "(bad)"
                }
            }
            let tsize = codeMode == 2 ? 10 : 6
            switch d.sub & 7 {
            case 0: return "sgdt " + memText(d, tsize, rip: rip)
            case 1: return "sidt " + memText(d, tsize, rip: rip)
            case 2: return "lgdt " + memText(d, tsize, rip: rip)
            case 3: return "lidt " + memText(d, tsize, rip: rip)
            case 4: return "smsw " + memText(d, 2, rip: rip)
            case 6: return "lmsw " + memText(d, 2, rip: rip)
            case 7: return "invlpg " + memText(d, 1, rip: rip)
            default: return "(bad)"
            }
        case .movCR, .movDR:
            let r = (d.op == .movCR ? "cr" : "dr") + "\(d.reg)"
            let g = regName(d.rm, s)
            return d.sub == 0 ? "mov " + g + ", " + r : "mov " + r + ", " + g
        case .clts: return "clts"
        case .invd: return d.sub == 1 ? "wbinvd" : "invd"
        case .movSegRm: return "mov " + segNames[Int(d.sub & 7)] + ", " + rmText(d, 2, rip: rip)
        case .movRmSeg: return "mov " + rmText(d, s, rip: rip) + ", " + segNames[Int(d.sub & 7)]
        case .lfp:
            let n = ["les", "?", "lss", "lds", "lfs", "lgs", "?", "?"][Int(d.sub & 7)]
            return n + " " + regName(d.reg, s) + ", " + memText(d, Int(s) + 2, rip: rip)
        case .syscall: return "syscall"
        case .sysret: return d.pfx & P.rexW != 0 ? "sysretq" : "sysret"
        case .sysenter: return "sysenter"
        case .sysexit: return "sysexit"
        case .lar: return "lar " + regName(d.reg, s) + ", " + rmText(d, 2, rip: rip)
        case .lsl: return "lsl " + regName(d.reg, s) + ", " + rmText(d, 2, rip: rip)
        case .bcd:
            let n = ["daa", "das", "aaa", "aas", "aam", "aad", "salc"][Int(min(d.sub, 6))]
            return (d.sub == 4 || d.sub == 5) && d.imm != 10 ? n + " " + hex(d.imm) : n
        case .bound: return "bound " + regName(d.reg, s) + ", " + memText(d, Int(s) * 2, rip: rip)
        case .arpl: return "arpl " + rmText(d, 2, rip: rip) + ", " + regName(d.reg, 2)
        case .grp15:
            if d.sub & 8 != 0 { return ["?", "?", "?", "?", "?", "lfence", "mfence", "sfence"][Int(d.sub & 7)] }
            let n = ["fxsave", "fxrstor", "ldmxcsr", "stmxcsr", "xsave", "xrstor", "xsaveopt", "clflush"][Int(d.sub & 7)]
            return n + " " + memText(d, d.sub & 7 == 2 || d.sub & 7 == 3 ? 4 : (d.sub & 7 == 7 ? 1 : 0), rip: rip)
        case .x87:
            if d.imm2 == 0x9B00 { return "fwait" }
            let opc = UInt8(d.imm2 >> 8), modrm = UInt8(truncatingIfNeeded: d.imm2)
            switch (opc, modrm) {
            case (0xDB, 0xE3): return "fninit"
            case (0xDB, 0xE2): return "fnclex"
            case (0xDF, 0xE0): return "fnstsw ax"
            case (0xD9, 0xD0): return "fnop"
            default: break
            }
            if d.mem != 0 {
                switch (opc, (modrm >> 3) & 7) {
                case (0xD9, 7): return "fnstcw " + memText(d, 2, rip: rip)
                case (0xD9, 5): return "fldcw " + memText(d, 2, rip: rip)
                case (0xDD, 7): return "fnstsw " + memText(d, 2, rip: rip)
                default: break
                }
            }
            return "(x87 " + hex(UInt64(opc)) + " " + hex(UInt64(modrm)) + ")"
        case .sse:
            return formatSSE(d, rip: rip)
        }
    }

    private func formatSSE(_ d: DInsn, rip: UInt64) -> String {
        let op = d.imm2
        let names = sseNames[op] ?? []
        var name = Int(d.sub) < names.count ? names[Int(d.sub)] : ""
        if name.isEmpty { return "(bad sse " + hex(UInt64(op)) + ")" }
        let x = "xmm\(d.reg & 15)"
        let w = d.pfx & P.rexW != 0
        let low = UInt8(truncatingIfNeeded: op)
        switch low {
        case 0x71, 0x72, 0x73:
            let k = Int(d.reg & 7)
            let base: [Int: String] = [2: "psrl", 4: "psra", 6: "psll", 3: "psrldq", 7: "pslldq"]
            let suffix = low == 0x71 ? "w" : low == 0x72 ? "d" : "q"
            let b = base[k] ?? "?"
            name = (k == 3 || k == 7) ? b : b + suffix
            return name + " xmm\(d.rm & 15), " + hex(d.imm)
        case 0x11, 0x13, 0x17, 0x29, 0x2B, 0x7F, 0xE7, 0xD6:
            let size = low == 0x13 || low == 0x17 || low == 0xD6 ? 8 : (low == 0x11 && d.sub == 2 ? 4 : (low == 0x11 && d.sub == 3 ? 8 : 16))
            return name + " " + xmmRM(d, size, rip: rip) + ", " + x
        case 0x7E:
            if d.sub == 1 {
                let g = d.mem == 0 ? (w ? gpr64[Int(d.rm & 15)] : gpr32[Int(d.rm & 15)]) : memText(d, w ? 8 : 4, rip: rip)
                return (w ? "movq " : "movd ") + g + ", " + x
            }
            return name + " " + x + ", " + xmmRM(d, 8, rip: rip)
        case 0x6E:
            let g = d.mem == 0 ? (w ? gpr64[Int(d.rm & 15)] : gpr32[Int(d.rm & 15)]) : memText(d, w ? 8 : 4, rip: rip)
            return (w ? "movq " : "movd ") + x + ", " + g
        case 0x2A:
            let g = d.mem == 0 ? (w ? gpr64[Int(d.rm & 15)] : gpr32[Int(d.rm & 15)]) : memText(d, w ? 8 : 4, rip: rip)
            return name + " " + x + ", " + g
        case 0x2C, 0x2D:
            let r = w ? gpr64[Int(d.reg & 15)] : gpr32[Int(d.reg & 15)]
            return name + " " + r + ", " + xmmRM(d, d.sub == 2 ? 4 : 8, rip: rip)
        case 0x50, 0xD7:
            return name + " " + gpr32[Int(d.reg & 15)] + ", xmm\(d.rm & 15)"
        case 0xC5:
            return name + " " + gpr32[Int(d.reg & 15)] + ", xmm\(d.rm & 15), " + hex(d.imm)
        case 0xC4:
            let g = d.mem == 0 ? gpr32[Int(d.rm & 15)] : memText(d, 2, rip: rip)
            return name + " " + x + ", " + g + ", " + hex(d.imm)
        default:
            let scalar = d.sub >= 2 && (low == 0x10 || (low >= 0x51 && low <= 0x5F) || low == 0xC2)
            let size = scalar ? (d.sub == 2 ? 4 : 8) : (low == 0x12 || low == 0x16 ? 8 : 16)
            var t = name + " " + x + ", " + xmmRM(d, size, rip: rip)
            if low == 0x70 || low == 0xC2 || low == 0xC6 { t += ", " + hex(d.imm) }
            return t
        }
    }
}
