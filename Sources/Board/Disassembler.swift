// An x86 disassembler for the debugger: 16-, 32- and 64-bit code, the
// integer and system instruction sets, x87 (names and lengths), MMX, SSE to
// SSE4.2 and the VEX-encoded forms of the same opcodes (lengths and names).
// Intel syntax. Instruction lengths are exact: `next`, `finish` and the GDB
// stub rely on them to place temporary breakpoints.

/// What an instruction does to the flow of control (for `next`/`finish`).
public enum InstructionFlow: Equatable, Sendable {
    case normal, call, ret, jump, conditionalJump, interrupt, interruptReturn, systemCall, halt, invalid
}

/// One decoded instruction.
public struct DisassembledInstruction: Equatable, Sendable {
    public var address: UInt64
    public var length: Int
    public var bytes: [UInt8]
    public var mnemonic: String
    public var operands: String
    public var flow: InstructionFlow
    /// Destination of a direct branch or call.
    public var target: UInt64?
    /// The address a RIP-relative memory operand refers to.
    public var memoryReference: UInt64?

    public var text: String { operands.isEmpty ? mnemonic : mnemonic + " " + operands }
}

public struct Disassembler {
    /// 16, 32 or 64.
    public var bits: Int
    /// Names an address ("kmain+0x10"), for branch targets and RIP-relative operands.
    public var symbolize: ((UInt64) -> String?)?

    public init(bits: Int, symbolize: ((UInt64) -> String?)? = nil) {
        self.bits = bits == 16 || bits == 32 ? bits : 64
        self.symbolize = symbolize
    }

    /// Decodes the instruction at the start of `bytes` (up to 15 are used).
    /// Never fails: undecodable or truncated input gives "(bad)" of length 1.
    public func decode(_ bytes: [UInt8], address: UInt64) -> DisassembledInstruction {
        var d = Decoding(bytes: Array(bytes.prefix(15)), address: address, bits: bits)
        do {
            try d.run()
        } catch {
            let n = bytes.isEmpty ? 0 : 1
            return DisassembledInstruction(address: address, length: n, bytes: Array(bytes.prefix(n)),
                                           mnemonic: "(bad)", operands: "", flow: .invalid,
                                           target: nil, memoryReference: nil)
        }
        var ops = d.ops.joined(separator: ", ")
        if let t = d.target, let s = symbolize?(t) { ops += " <" + s + ">" }
        if let m = d.memRef, let s = symbolize?(m) { ops += "    # " + hexString(m) + " <" + s + ">" }
        else if let m = d.memRef { ops += "    # " + hexString(m) }
        var mn = d.mnemonic
        if !d.prefixText.isEmpty { mn = d.prefixText + " " + mn }
        return DisassembledInstruction(address: address, length: d.pos, bytes: Array(bytes.prefix(d.pos)),
                                       mnemonic: mn, operands: ops, flow: d.flow, target: d.target,
                                       memoryReference: d.memRef)
    }
}

func hexString(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

private struct BadInstruction: Error {}

/// Operand size codes of the opcode tables.
private enum Sz {
    case b, w, d, q, v /* operand size */, z /* 16 or 32 */, y /* 32 or 64 */, x /* 128 */, t /* 80 */
    case p /* far pointer */, none
}

private struct Decoding {
    let bytes: [UInt8]
    let address: UInt64
    let bits: Int
    var pos = 0

    // Prefixes.
    var lock = false
    var rep: UInt8 = 0       // 0xF2 / 0xF3 / 0
    var seg: UInt8 = 0
    var opsz = false
    var adsz = false
    var rex: UInt8 = 0

    // ModRM.
    var haveModRM = false
    var mod = 0, regField = 0, rmField = 0

    // Result.
    var mnemonic = ""
    var ops: [String] = []
    var flow: InstructionFlow = .normal
    var target: UInt64?
    var memRef: UInt64?
    var prefixText = ""

    init(bytes: [UInt8], address: UInt64, bits: Int) {
        self.bytes = bytes; self.address = address; self.bits = bits
    }

    // MARK: byte fetching

    mutating func byte() throws -> UInt8 {
        guard pos < bytes.count else { throw BadInstruction() }
        let b = bytes[pos]; pos += 1
        return b
    }
    mutating func imm(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(try byte()) << UInt64(8 * i) }
        return v
    }
    mutating func simm(_ n: Int) throws -> Int64 {
        let v = try imm(n)
        let s = UInt64(64 - 8 * n)
        return Int64(bitPattern: v << s) >> Int64(s)
    }

    // MARK: sizes

    var rexW: Bool { rex & 8 != 0 }
    var rexR: Int { rex & 4 != 0 ? 8 : 0 }
    var rexX: Int { rex & 2 != 0 ? 8 : 0 }
    var rexB: Int { rex & 1 != 0 ? 8 : 0 }
    /// Operand size in bytes for `v`.
    var osize: Int {
        if bits == 64 { return rexW ? 8 : (opsz ? 2 : 4) }
        if bits == 32 { return opsz ? 2 : 4 }
        return opsz ? 4 : 2
    }
    /// Operand size of instructions that default to 64 bits in long mode.
    var osize64: Int {
        if bits == 64 { return opsz && !rexW ? 2 : 8 }
        return osize
    }
    var asize: Int {
        if bits == 64 { return adsz ? 4 : 8 }
        if bits == 32 { return adsz ? 2 : 4 }
        return adsz ? 4 : 2
    }
    func bytesOf(_ s: Sz) -> Int {
        switch s {
        case .b: return 1
        case .w: return 2
        case .d: return 4
        case .q: return 8
        case .v: return osize
        case .z: return osize == 2 ? 2 : 4
        case .y: return rexW && bits == 64 ? 8 : 4
        case .x: return 16
        case .t: return 10
        case .p: return osize == 2 ? 4 : (osize == 8 ? 10 : 6)
        case .none: return 0
        }
    }

    // MARK: register names

    static let r64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                      "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
    static let r32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                      "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"]
    static let r16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
                      "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"]
    static let r8rex = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
                        "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"]
    static let r8legacy = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"]
    static let sregs = ["es", "cs", "ss", "ds", "fs", "gs", "?", "?"]

    func reg(_ n: Int, _ size: Int) -> String {
        let i = n & 15
        switch size {
        case 1: return rex != 0 ? Decoding.r8rex[i] : (i < 8 ? Decoding.r8legacy[i] : Decoding.r8rex[i])
        case 2: return Decoding.r16[i]
        case 4: return Decoding.r32[i]
        default: return Decoding.r64[i]
        }
    }

    static func ptrName(_ size: Int) -> String {
        switch size {
        case 1: return "byte ptr "
        case 2: return "word ptr "
        case 4: return "dword ptr "
        case 6: return "fword ptr "
        case 8: return "qword ptr "
        case 10: return "tbyte ptr "
        case 16: return "xmmword ptr "
        default: return ""
        }
    }

    // MARK: ModRM

    mutating func modrm() throws {
        if haveModRM { return }
        let m = try byte()
        mod = Int(m >> 6); regField = Int((m >> 3) & 7); rmField = Int(m & 7)
        haveModRM = true
    }
    var isReg: Bool { mod == 3 }
    var regIndex: Int { regField | rexR }
    var rmIndex: Int { rmField | rexB }

    var segPrefixText: String {
        switch seg {
        case 0x26: return "es:"
        case 0x2E: return "cs:"
        case 0x36: return "ss:"
        case 0x3E: return "ds:"
        case 0x64: return "fs:"
        case 0x65: return "gs:"
        default: return ""
        }
    }

    static func disp(_ d: Int64) -> String {
        d < 0 ? "-0x" + String(UInt64(0 &- d), radix: 16) : "+0x" + String(d, radix: 16)
    }

    /// The memory operand of the ModRM (the caller made sure mod != 3).
    mutating func memOperand(_ size: Int) throws -> String {
        var inner = ""
        if asize == 2 {
            let bases = ["bx+si", "bx+di", "bp+si", "bp+di", "si", "di", "bp", "bx"]
            if mod == 0 && rmField == 6 {
                inner = "0x" + String(try imm(2), radix: 16)
            } else {
                inner = bases[rmField]
                if mod == 1 { inner += Decoding.disp(try simm(1)) }
                if mod == 2 { inner += Decoding.disp(try simm(2)) }
            }
        } else {
            let names = asize == 8 ? Decoding.r64 : Decoding.r32
            var base: Int? = nil
            var index: Int? = nil
            var scale = 1
            var dispSize = mod == 1 ? 1 : (mod == 2 ? 4 : 0)
            var ripRel = false
            if rmField == 4 {
                let sib = try byte()
                scale = 1 << Int(sib >> 6)
                let idx = Int((sib >> 3) & 7) | rexX
                if idx != 4 { index = idx }
                let b = Int(sib & 7)
                if b == 5 && mod == 0 { dispSize = 4 } else { base = b | rexB }
            } else if rmField == 5 && mod == 0 {
                dispSize = 4
                if bits == 64 { ripRel = true }
            } else {
                base = rmField | rexB
            }
            let d = dispSize == 0 ? 0 : try simm(dispSize)
            if ripRel {
                // Resolved after the whole instruction is decoded (immediates follow).
                inner = (asize == 8 ? "rip" : "eip") + Decoding.disp(d)
                pendingRipDisp = d
            } else {
                var parts: [String] = []
                if let b = base { parts.append(names[b]) }
                if let i = index { parts.append(names[i] + (scale > 1 ? "*\(scale)" : "")) }
                inner = parts.joined(separator: "+")
                if inner.isEmpty {
                    inner = "0x" + String(UInt64(bitPattern: d) & (asize == 8 ? ~0 : 0xFFFF_FFFF), radix: 16)
                } else if d != 0 {
                    inner += Decoding.disp(d)
                }
            }
        }
        return Decoding.ptrName(size) + segPrefixText + "[" + inner + "]"
    }
    var pendingRipDisp: Int64?

    /// r/m operand: a register of `size` bytes or memory.
    mutating func E(_ size: Int) throws -> String {
        try modrm()
        if isReg { return reg(rmIndex, size) }
        return try memOperand(size)
    }
    mutating func G(_ size: Int) throws -> String {
        try modrm()
        return reg(regIndex, size)
    }
    /// Memory only (register form is invalid).
    mutating func M(_ size: Int) throws -> String {
        try modrm()
        if isReg { throw BadInstruction() }
        return try memOperand(size)
    }
    mutating func xmmE(_ size: Int) throws -> String {
        try modrm()
        if isReg { return "xmm\(rmIndex)" }
        return try memOperand(size)
    }
    mutating func xmmG() throws -> String { try modrm(); return "xmm\(regIndex)" }
    mutating func mmE(_ size: Int) throws -> String {
        try modrm()
        if isReg { return "mm\(rmField)" }
        return try memOperand(size)
    }
    mutating func mmG() throws -> String { try modrm(); return "mm\(regField)" }

    func hexImm(_ v: UInt64, _ size: Int) -> String {
        let mask: UInt64 = size >= 8 ? ~0 : (UInt64(1) << UInt64(size * 8)) - 1
        return "0x" + String(v & mask, radix: 16)
    }
    /// Immediate of `n` bytes shown at operand size `shown`.
    mutating func I(_ n: Int, shown: Int? = nil) throws -> String {
        let v = n < (shown ?? n) ? UInt64(bitPattern: try simm(n)) : try imm(n)
        return hexImm(v, shown ?? n)
    }
    mutating func rel(_ n: Int) throws {
        let d = try simm(n)
        let opBits = (bits == 64) ? 64 : osize * 8
        var t = UInt64(bitPattern: Int64(bitPattern: address &+ UInt64(pos)) &+ d)
        if opBits == 16 { t &= 0xFFFF } else if opBits == 32 { t &= 0xFFFF_FFFF }
        target = t
        ops.append(hexString(t))
    }

    mutating func set(_ m: String, _ o: [String] = [], _ f: InstructionFlow = .normal) {
        mnemonic = m; ops = o; flow = f
    }

    // MARK: top level

    mutating func run() throws {
        // Legacy prefixes, then REX (only right before the opcode).
        prefixLoop: while true {
            let b = try byte()
            switch b {
            case 0xF0: lock = true; rex = 0
            case 0xF2, 0xF3: rep = b; rex = 0
            case 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65: seg = b; rex = 0
            case 0x66: opsz = true; rex = 0
            case 0x67: adsz = true; rex = 0
            case 0x40...0x4F where bits == 64: rex = b
            default:
                pos -= 1
                break prefixLoop
            }
            if pos >= 14 { throw BadInstruction() }
        }
        let op = try byte()
        if op == 0x0F {
            try twoByte(try byte())
        } else {
            try oneByte(op)
        }
        if let d = pendingRipDisp {
            let t = address &+ UInt64(pos) &+ UInt64(bitPattern: d)
            memRef = asize == 8 ? t : t & 0xFFFF_FFFF
        }
        if lock { prefixText = "lock" }
        if usesRepText {
            prefixText = (prefixText.isEmpty ? "" : prefixText + " ") + (rep == 0xF3 ? (repIsRepe ? "repe" : "rep") : "repne")
        }
    }
    var usesRepText = false
    var repIsRepe = false

    static let cc = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]
    static let grp1 = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"]
    static let grp2 = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"]

    mutating func oneByte(_ op: UInt8) throws {
        let inv64 = bits == 64
        switch op {
        case 0x00...0x3F where op & 7 < 6:
            let m = Decoding.grp1[Int(op >> 3)]
            switch op & 7 {
            case 0: set(m, [try E(1), try G(1)])
            case 1: set(m, [try E(osize), try G(osize)])
            case 2: set(m, [try G(1), try E(1)])
            case 3: set(m, [try G(osize), try E(osize)])
            case 4: set(m, ["al", try I(1)])
            default: set(m, [reg(0, osize), try I(bytesOf(.z), shown: osize)])
            }
        case 0x06, 0x0E, 0x16, 0x1E:
            if inv64 { throw BadInstruction() }
            set("push", [Decoding.sregs[Int(op >> 3)]])
        case 0x07, 0x17, 0x1F:
            if inv64 { throw BadInstruction() }
            set("pop", [Decoding.sregs[Int(op >> 3)]])
        case 0x27, 0x2F, 0x37, 0x3F:
            if inv64 { throw BadInstruction() }
            set(["daa", "das", "aaa", "aas"][Int((op >> 3) & 3)])
        case 0x40...0x4F:
            set(op < 0x48 ? "inc" : "dec", [reg(Int(op & 7), osize)])
        case 0x50...0x57:
            set("push", [reg(Int(op & 7) | rexB, osize64)])
        case 0x58...0x5F:
            set("pop", [reg(Int(op & 7) | rexB, osize64)])
        case 0x60:
            if inv64 { throw BadInstruction() }
            set(osize == 4 ? "pushad" : "pusha")
        case 0x61:
            if inv64 { throw BadInstruction() }
            set(osize == 4 ? "popad" : "popa")
        case 0x62:
            if inv64 { throw BadInstruction() }
            try modrm()
            if isReg { throw BadInstruction() }   // EVEX (not decoded)
            set("bound", [try G(osize), try M(osize * 2)])
        case 0x63:
            if bits == 64 { set("movsxd", [try G(osize), try E(4)]) }
            else { set("arpl", [try E(2), try G(2)]) }
        case 0x68:
            set("push", [try I(bytesOf(.z), shown: osize64)])
        case 0x69:
            let g = try G(osize), e = try E(osize)
            set("imul", [g, e, try I(bytesOf(.z), shown: osize)])
        case 0x6A:
            set("push", [try I(1, shown: osize64)])
        case 0x6B:
            let g = try G(osize), e = try E(osize)
            set("imul", [g, e, try I(1, shown: osize)])
        case 0x6C: stringOp("insb")
        case 0x6D: stringOp(osize == 2 ? "insw" : "insd")
        case 0x6E: stringOp("outsb")
        case 0x6F: stringOp(osize == 2 ? "outsw" : "outsd")
        case 0x70...0x7F:
            set("j" + Decoding.cc[Int(op & 15)], [], .conditionalJump)
            try rel(1)
        case 0x80, 0x82:
            if op == 0x82 && inv64 { throw BadInstruction() }
            try modrm()
            set(Decoding.grp1[regField], [try E(1), try I(1)])
        case 0x81:
            try modrm()
            set(Decoding.grp1[regField], [try E(osize), try I(bytesOf(.z), shown: osize)])
        case 0x83:
            try modrm()
            set(Decoding.grp1[regField], [try E(osize), try I(1, shown: osize)])
        case 0x84: set("test", [try E(1), try G(1)])
        case 0x85: set("test", [try E(osize), try G(osize)])
        case 0x86: set("xchg", [try E(1), try G(1)])
        case 0x87: set("xchg", [try E(osize), try G(osize)])
        case 0x88: set("mov", [try E(1), try G(1)])
        case 0x89: set("mov", [try E(osize), try G(osize)])
        case 0x8A: set("mov", [try G(1), try E(1)])
        case 0x8B: set("mov", [try G(osize), try E(osize)])
        case 0x8C:
            try modrm()
            set("mov", [try E(isReg ? osize : 2), Decoding.sregs[regField]])
        case 0x8D:
            try modrm()
            set("lea", [try G(osize), try M(0)])
        case 0x8E:
            try modrm()
            set("mov", [Decoding.sregs[regField], try E(2)])
        case 0x8F:
            try modrm()
            if regField != 0 { throw BadInstruction() }   // XOP
            set("pop", [try E(osize64)])
        case 0x90:
            if rexB != 0 { set("xchg", [reg(8, osize), reg(0, osize)]) }
            else if rep == 0xF3 { set("pause"); rep = 0 }
            else { set("nop") }
        case 0x91...0x97:
            set("xchg", [reg(Int(op & 7) | rexB, osize), reg(0, osize)])
        case 0x98: set(osize == 2 ? "cbw" : (osize == 4 ? "cwde" : "cdqe"))
        case 0x99: set(osize == 2 ? "cwd" : (osize == 4 ? "cdq" : "cqo"))
        case 0x9A:
            if inv64 { throw BadInstruction() }
            let off = try imm(osize == 2 ? 2 : 4)
            let sel = try imm(2)
            set("call", ["0x" + String(sel, radix: 16) + ":0x" + String(off, radix: 16)], .call)
        case 0x9B: set("fwait")
        case 0x9C: set(osize64 == 2 ? "pushf" : (osize64 == 4 ? "pushfd" : "pushfq"))
        case 0x9D: set(osize64 == 2 ? "popf" : (osize64 == 4 ? "popfd" : "popfq"))
        case 0x9E: set("sahf")
        case 0x9F: set("lahf")
        case 0xA0...0xA3:
            let size = op & 1 == 0 ? 1 : osize
            let off = try imm(asize)
            let mem = Decoding.ptrName(size) + (segPrefixText.isEmpty ? "ds:" : segPrefixText) + "0x" + String(off, radix: 16)
            let r = reg(0, size)
            set("mov", op < 0xA2 ? [r, mem] : [mem, r])
        case 0xA4: stringOp("movsb")
        case 0xA5: stringOp(sizedString("movs"))
        case 0xA6: stringOp("cmpsb", compares: true)
        case 0xA7: stringOp(sizedString("cmps"), compares: true)
        case 0xA8: set("test", ["al", try I(1)])
        case 0xA9: set("test", [reg(0, osize), try I(bytesOf(.z), shown: osize)])
        case 0xAA: stringOp("stosb")
        case 0xAB: stringOp(sizedString("stos"))
        case 0xAC: stringOp("lodsb")
        case 0xAD: stringOp(sizedString("lods"))
        case 0xAE: stringOp("scasb", compares: true)
        case 0xAF: stringOp(sizedString("scas"), compares: true)
        case 0xB0...0xB7:
            set("mov", [reg(Int(op & 7) | rexB, 1), try I(1)])
        case 0xB8...0xBF:
            set("mov", [reg(Int(op & 7) | rexB, osize), try I(osize)])
        case 0xC0, 0xC1, 0xD0...0xD3:
            try modrm()
            let size = op & 1 == 0 ? 1 : osize
            let e = try E(size)
            let count: String
            switch op {
            case 0xC0, 0xC1: count = try I(1)
            case 0xD0, 0xD1: count = "1"
            default: count = "cl"
            }
            set(Decoding.grp2[regField], [e, count])
        case 0xC2:
            set("ret", [try I(2)], .ret)
        case 0xC3: set("ret", [], .ret)
        case 0xC4, 0xC5:
            if bits == 64 || (pos < bytes.count && bytes[pos] >= 0xC0) {
                try vex(op)
            } else {
                set(op == 0xC4 ? "les" : "lds", [try G(osize), try M(bytesOf(.p))])
            }
        case 0xC6:
            try modrm()
            if regField == 7 && isReg && rmField == 0 { set("xabort", [try I(1)]); return }
            if regField != 0 { throw BadInstruction() }
            set("mov", [try E(1), try I(1)])
        case 0xC7:
            try modrm()
            if regField == 7 && isReg && rmField == 0 {
                set("xbegin", [], .conditionalJump); try rel(osize == 2 ? 2 : 4); return
            }
            if regField != 0 { throw BadInstruction() }
            set("mov", [try E(osize), try I(bytesOf(.z), shown: osize)])
        case 0xC8:
            let a = try I(2), b = try I(1)
            set("enter", [a, b])
        case 0xC9: set("leave")
        case 0xCA: set("retf", [try I(2)], .ret)
        case 0xCB: set("retf", [], .ret)
        case 0xCC: set("int3", [], .interrupt)
        case 0xCD: set("int", [try I(1)], .interrupt)
        case 0xCE:
            if inv64 { throw BadInstruction() }
            set("into", [], .interrupt)
        case 0xCF: set(osize == 2 ? "iret" : (osize == 4 ? "iretd" : "iretq"), [], .interruptReturn)
        case 0xD4, 0xD5:
            if inv64 { throw BadInstruction() }
            set(op == 0xD4 ? "aam" : "aad", [try I(1)])
        case 0xD6:
            if inv64 { throw BadInstruction() }
            set("salc")
        case 0xD7: set("xlat")
        case 0xD8...0xDF: try x87(op)
        case 0xE0...0xE2:
            set(["loopne", "loope", "loop"][Int(op & 3)], [], .conditionalJump)
            try rel(1)
        case 0xE3:
            set(asize == 2 ? "jcxz" : (asize == 4 ? "jecxz" : "jrcxz"), [], .conditionalJump)
            try rel(1)
        case 0xE4: set("in", ["al", try I(1)])
        case 0xE5: set("in", [reg(0, osize == 2 ? 2 : 4), try I(1)])
        case 0xE6: set("out", [try I(1), "al"])
        case 0xE7: let p = try I(1); set("out", [p, reg(0, osize == 2 ? 2 : 4)])
        case 0xE8:
            set("call", [], .call)
            try rel(bits == 64 ? 4 : (osize == 2 ? 2 : 4))
        case 0xE9:
            set("jmp", [], .jump)
            try rel(bits == 64 ? 4 : (osize == 2 ? 2 : 4))
        case 0xEA:
            if inv64 { throw BadInstruction() }
            let off = try imm(osize == 2 ? 2 : 4)
            let sel = try imm(2)
            set("jmp", ["0x" + String(sel, radix: 16) + ":0x" + String(off, radix: 16)], .jump)
        case 0xEB:
            set("jmp", [], .jump)
            try rel(1)
        case 0xEC: set("in", ["al", "dx"])
        case 0xED: set("in", [reg(0, osize == 2 ? 2 : 4), "dx"])
        case 0xEE: set("out", ["dx", "al"])
        case 0xEF: set("out", ["dx", reg(0, osize == 2 ? 2 : 4)])
        case 0xF1: set("int1", [], .interrupt)
        case 0xF4: set("hlt", [], .halt)
        case 0xF5: set("cmc")
        case 0xF6, 0xF7:
            try modrm()
            let size = op == 0xF6 ? 1 : osize
            let names = ["test", "test", "not", "neg", "mul", "imul", "div", "idiv"]
            let e = try E(size)
            if regField < 2 {
                set("test", [e, try I(size == 1 ? 1 : bytesOf(.z), shown: size)])
            } else {
                set(names[regField], [e])
            }
        case 0xF8: set("clc")
        case 0xF9: set("stc")
        case 0xFA: set("cli")
        case 0xFB: set("sti")
        case 0xFC: set("cld")
        case 0xFD: set("std")
        case 0xFE:
            try modrm()
            if regField > 1 { throw BadInstruction() }
            set(regField == 0 ? "inc" : "dec", [try E(1)])
        case 0xFF:
            try modrm()
            switch regField {
            case 0: set("inc", [try E(osize)])
            case 1: set("dec", [try E(osize)])
            case 2: set("call", [try E(bits == 64 ? 8 : osize)], .call)
            case 3: set("call far", [try M(bytesOf(.p))], .call)
            case 4: set("jmp", [try E(bits == 64 ? 8 : osize)], .jump)
            case 5: set("jmp far", [try M(bytesOf(.p))], .jump)
            case 6: set("push", [try E(osize64)])
            default: throw BadInstruction()
            }
        default:
            throw BadInstruction()
        }
    }

    func sizedString(_ base: String) -> String {
        switch osize {
        case 2: return base + "w"
        case 4: return base + "d"
        default: return base + "q"
        }
    }

    mutating func stringOp(_ m: String, compares: Bool = false) {
        set(m)
        if rep != 0 { usesRepText = true; repIsRepe = compares }
        if !segPrefixText.isEmpty { ops = [String(segPrefixText.dropLast()) + " override"] }
    }

    // MARK: x87

    static let x87mem: [[String]] = [
        ["fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr"],          // D8 m32fp
        ["fld", "", "fst", "fstp", "fldenv", "fldcw", "fnstenv", "fnstcw"],          // D9
        ["fiadd", "fimul", "ficom", "ficomp", "fisub", "fisubr", "fidiv", "fidivr"],  // DA m32int
        ["fild", "fisttp", "fist", "fistp", "", "fld", "", "fstp"],                   // DB
        ["fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr"],          // DC m64fp
        ["fld", "fisttp", "fst", "fstp", "frstor", "", "fnsave", "fnstsw"],           // DD
        ["fiadd", "fimul", "ficom", "ficomp", "fisub", "fisubr", "fidiv", "fidivr"],  // DE m16int
        ["fild", "fisttp", "fist", "fistp", "fbld", "fild", "fbstp", "fistp"],        // DF
    ]
    static let x87memSize: [[Int]] = [
        [4, 4, 4, 4, 4, 4, 4, 4],
        [4, 0, 4, 4, 0, 2, 0, 2],
        [4, 4, 4, 4, 4, 4, 4, 4],
        [4, 4, 4, 4, 0, 10, 0, 10],
        [8, 8, 8, 8, 8, 8, 8, 8],
        [8, 8, 8, 8, 0, 0, 0, 2],
        [2, 2, 2, 2, 2, 2, 2, 2],
        [2, 2, 2, 2, 10, 8, 10, 8],
    ]
    static let d9reg: [Int: String] = [
        0xD0: "fnop", 0xE0: "fchs", 0xE1: "fabs", 0xE4: "ftst", 0xE5: "fxam", 0xE8: "fld1", 0xE9: "fldl2t",
        0xEA: "fldl2e", 0xEB: "fldpi", 0xEC: "fldlg2", 0xED: "fldln2", 0xEE: "fldz", 0xF0: "f2xm1",
        0xF1: "fyl2x", 0xF2: "fptan", 0xF3: "fpatan", 0xF4: "fxtract", 0xF5: "fprem1", 0xF6: "fdecstp",
        0xF7: "fincstp", 0xF8: "fprem", 0xF9: "fyl2xp1", 0xFA: "fsqrt", 0xFB: "fsincos", 0xFC: "frndint",
        0xFD: "fscale", 0xFE: "fsin", 0xFF: "fcos",
    ]

    mutating func x87(_ op: UInt8) throws {
        try modrm()
        let row = Int(op - 0xD8)
        if !isReg {
            let name = Decoding.x87mem[row][regField]
            if name.isEmpty { throw BadInstruction() }
            set(name, [try memOperand(Decoding.x87memSize[row][regField])])
            return
        }
        let st = "st(\(rmField))"
        let full = 0xC0 | (regField << 3) | rmField
        switch row {
        case 0: set(Decoding.x87mem[0][regField], ["st", st])
        case 1:
            if regField == 0 { set("fld", [st]) }
            else if regField == 1 { set("fxch", [st]) }
            else if let n = Decoding.d9reg[full] { set(n) }
            else { throw BadInstruction() }
        case 2:
            if full == 0xE9 { set("fucompp") }
            else if regField < 4 { set(["fcmovb", "fcmove", "fcmovbe", "fcmovu"][regField], ["st", st]) }
            else { throw BadInstruction() }
        case 3:
            switch regField {
            case 0...3: set(["fcmovnb", "fcmovne", "fcmovnbe", "fcmovnu"][regField], ["st", st])
            case 4:
                if full == 0xE2 { set("fnclex") } else if full == 0xE3 { set("fninit") } else { throw BadInstruction() }
            case 5: set("fucomi", ["st", st])
            case 6: set("fcomi", ["st", st])
            default: throw BadInstruction()
            }
        case 4: set(["fadd", "fmul", "fcom", "fcomp", "fsubr", "fsub", "fdivr", "fdiv"][regField], [st, "st"])
        case 5:
            let n = ["ffree", "fxch", "fst", "fstp", "fucom", "fucomp", "", ""][regField]
            if n.isEmpty { throw BadInstruction() }
            set(n, [st])
        case 6:
            if regField == 3 { if full == 0xD9 { set("fcompp") } else { throw BadInstruction() } }
            else { set(["faddp", "fmulp", "fcomp", "", "fsubrp", "fsubp", "fdivrp", "fdivp"][regField], [st, "st"]) }
        default:
            if full == 0xE0 { set("fnstsw", ["ax"]) }
            else if regField == 5 { set("fucomip", ["st", st]) }
            else if regField == 6 { set("fcomip", ["st", st]) }
            else if regField == 0 { set("ffreep", [st]) }
            else { throw BadInstruction() }
        }
    }

    // MARK: 0F xx

    /// The SSE mandatory-prefix column: 0 none, 1 = 66, 2 = F3, 3 = F2.
    var ssePrefix: Int {
        if rep == 0xF3 { return 2 }
        if rep == 0xF2 { return 3 }
        return opsz ? 1 : 0
    }
    /// Consumes the mandatory prefix so it is not shown and does not change sizes.
    mutating func takeSSEPrefix() -> Int {
        let p = ssePrefix
        if p == 1 { opsz = false } else if p >= 2 { rep = 0 }
        return p
    }

    /// A packed/scalar SSE operation: names for none/66/F3/F2 ("" = invalid).
    mutating func sse(_ names: [String], _ sizes: [Int] = [16, 16, 4, 8], reverse: Bool = false) throws {
        let p = takeSSEPrefix()
        let n = names[p]
        if n.isEmpty { throw BadInstruction() }
        let g = try xmmG(), e = try xmmE(sizes[p])
        set(n, reverse ? [e, g] : [g, e])
    }

    /// MMX (no prefix) or SSE2 (66) integer operation.
    mutating func mmxOrSSE(_ name: String, allowF: Bool = false) throws {
        let p = ssePrefix
        if p >= 2 { throw BadInstruction() }
        if p == 1 {
            opsz = false
            set(name, [try xmmG(), try xmmE(16)])
        } else {
            set(name, [try mmG(), try mmE(8)])
        }
    }

    mutating func twoByte(_ op: UInt8) throws {
        switch op {
        case 0x00:
            try modrm()
            let n = ["sldt", "str", "lldt", "ltr", "verr", "verw", "", ""][regField]
            if n.isEmpty { throw BadInstruction() }
            set(n, [try E(isReg && regField < 2 ? osize : 2)])
        case 0x01:
            try modrm()
            if isReg {
                let full = 0xC0 | (regField << 3) | rmField
                let names: [Int: String] = [
                    0xC1: "vmcall", 0xC2: "vmlaunch", 0xC3: "vmresume", 0xC4: "vmxoff", 0xC8: "monitor",
                    0xC9: "mwait", 0xCA: "clac", 0xCB: "stac", 0xCF: "encls", 0xD0: "xgetbv", 0xD1: "xsetbv",
                    0xD4: "vmfunc", 0xD5: "xend", 0xD6: "xtest", 0xD7: "enclu", 0xEE: "rdpkru", 0xEF: "wrpkru",
                    0xF8: "swapgs", 0xF9: "rdtscp", 0xFA: "monitorx", 0xFB: "mwaitx", 0xFC: "clzero",
                ]
                if regField == 4 { set("smsw", [reg(rmIndex, osize)]); return }
                if regField == 6 { set("lmsw", [reg(rmIndex, 2)]); return }
                guard let n = names[full] else { throw BadInstruction() }
                set(n)
                return
            }
            switch regField {
            case 0: set("sgdt", [try memOperand(0)])
            case 1: set("sidt", [try memOperand(0)])
            case 2: set("lgdt", [try memOperand(0)])
            case 3: set("lidt", [try memOperand(0)])
            case 4: set("smsw", [try memOperand(2)])
            case 6: set("lmsw", [try memOperand(2)])
            case 7: set("invlpg", [try memOperand(1)])
            default: throw BadInstruction()
            }
        case 0x02: set("lar", [try G(osize), try E(2)])
        case 0x03: set("lsl", [try G(osize), try E(2)])
        case 0x05: set("syscall", [], .systemCall)
        case 0x06: set("clts")
        case 0x07: set(rexW ? "sysretq" : "sysret", [], .interruptReturn)
        case 0x08: set("invd")
        case 0x09: set("wbinvd")
        case 0x0B: set("ud2", [], .invalid)
        case 0x0D:
            try modrm()
            set(regField == 1 ? "prefetchw" : "prefetch", [try M(1)])
        case 0x0E: set("femms")
        case 0x0F:
            // 3DNow!: ModRM, then the operation byte.
            let g = try mmG(), e = try mmE(8)
            _ = try byte()
            set("3dnow", [g, e])
        case 0x10: try sse(["movups", "movupd", "movss", "movsd"])
        case 0x11: try sse(["movups", "movupd", "movss", "movsd"], reverse: true)
        case 0x12:
            try modrm()
            let p = ssePrefix
            if p == 0 && isReg { _ = takeSSEPrefix(); set("movhlps", [try xmmG(), try xmmE(16)]) }
            else { try sse(["movlps", "movlpd", "movsldup", "movddup"], [8, 8, 16, 8]) }
        case 0x13: try sse(["movlps", "movlpd", "", ""], [8, 8, 0, 0], reverse: true)
        case 0x14: try sse(["unpcklps", "unpcklpd", "", ""])
        case 0x15: try sse(["unpckhps", "unpckhpd", "", ""])
        case 0x16:
            try modrm()
            if ssePrefix == 0 && isReg { _ = takeSSEPrefix(); set("movlhps", [try xmmG(), try xmmE(16)]) }
            else { try sse(["movhps", "movhpd", "movshdup", ""], [8, 8, 16, 0]) }
        case 0x17: try sse(["movhps", "movhpd", "", ""], [8, 8, 0, 0], reverse: true)
        case 0x18:
            try modrm()
            if isReg { set("nop", [try E(osize)]); return }
            let n = ["prefetchnta", "prefetcht0", "prefetcht1", "prefetcht2", "nop", "nop", "nop", "nop"][regField]
            set(n, [try memOperand(1)])
        case 0x19...0x1F:
            try modrm()
            if op == 0x1E && rep == 0xF3 && isReg && regField == 7 && (rmField == 2 || rmField == 3) {
                rep = 0
                set(rmField == 2 ? "endbr64" : "endbr32")
                return
            }
            set("nop", [try E(osize)])
        case 0x20...0x23:
            try modrm()
            let size = bits == 64 ? 8 : 4
            let r = reg(rmIndex, size)
            let special = (op & 1 == 0 ? "cr" : "dr") + String(regIndex)
            set("mov", op < 0x22 ? [r, special] : [special, r])
        case 0x28: try sse(["movaps", "movapd", "", ""])
        case 0x29: try sse(["movaps", "movapd", "", ""], reverse: true)
        case 0x2A:
            let p = takeSSEPrefix()
            switch p {
            case 0: set("cvtpi2ps", [try xmmG(), try mmE(8)])
            case 1: set("cvtpi2pd", [try xmmG(), try mmE(8)])
            default: set(p == 2 ? "cvtsi2ss" : "cvtsi2sd", [try xmmG(), try E(bytesOf(.y))])
            }
        case 0x2B: try sse(["movntps", "movntpd", "", ""], reverse: true)
        case 0x2C, 0x2D:
            let t = op == 0x2C ? "cvtt" : "cvt"
            let p = takeSSEPrefix()
            switch p {
            case 0: set(t + "ps2pi", [try mmG(), try xmmE(8)])
            case 1: set(t + "pd2pi", [try mmG(), try xmmE(16)])
            default:
                try modrm()
                set(t + (p == 2 ? "ss2si" : "sd2si"), [reg(regIndex, bytesOf(.y)), try xmmE(p == 2 ? 4 : 8)])
            }
        case 0x2E: try sse(["ucomiss", "ucomisd", "", ""], [4, 8, 0, 0])
        case 0x2F: try sse(["comiss", "comisd", "", ""], [4, 8, 0, 0])
        case 0x30: set("wrmsr")
        case 0x31: set("rdtsc")
        case 0x32: set("rdmsr")
        case 0x33: set("rdpmc")
        case 0x34: set("sysenter", [], .systemCall)
        case 0x35: set("sysexit", [], .interruptReturn)
        case 0x37: set("getsec")
        case 0x38: try threeByte38(try byte())
        case 0x3A: try threeByte3A(try byte())
        case 0x40...0x4F:
            set("cmov" + Decoding.cc[Int(op & 15)], [try G(osize), try E(osize)])
        case 0x50:
            let p = takeSSEPrefix()
            if p >= 2 { throw BadInstruction() }
            try modrm()
            if !isReg { throw BadInstruction() }
            set(p == 0 ? "movmskps" : "movmskpd", [reg(regIndex, 4), "xmm\(rmIndex)"])
        case 0x51: try sse(["sqrtps", "sqrtpd", "sqrtss", "sqrtsd"])
        case 0x52: try sse(["rsqrtps", "", "rsqrtss", ""])
        case 0x53: try sse(["rcpps", "", "rcpss", ""])
        case 0x54: try sse(["andps", "andpd", "", ""])
        case 0x55: try sse(["andnps", "andnpd", "", ""])
        case 0x56: try sse(["orps", "orpd", "", ""])
        case 0x57: try sse(["xorps", "xorpd", "", ""])
        case 0x58: try sse(["addps", "addpd", "addss", "addsd"])
        case 0x59: try sse(["mulps", "mulpd", "mulss", "mulsd"])
        case 0x5A: try sse(["cvtps2pd", "cvtpd2ps", "cvtss2sd", "cvtsd2ss"], [8, 16, 4, 8])
        case 0x5B: try sse(["cvtdq2ps", "cvtps2dq", "cvttps2dq", ""])
        case 0x5C: try sse(["subps", "subpd", "subss", "subsd"])
        case 0x5D: try sse(["minps", "minpd", "minss", "minsd"])
        case 0x5E: try sse(["divps", "divpd", "divss", "divsd"])
        case 0x5F: try sse(["maxps", "maxpd", "maxss", "maxsd"])
        case 0x60...0x6B:
            let names = ["punpcklbw", "punpcklwd", "punpckldq", "packsswb", "pcmpgtb", "pcmpgtw", "pcmpgtd",
                         "packuswb", "punpckhbw", "punpckhwd", "punpckhdq", "packssdw"]
            try mmxOrSSE(names[Int(op - 0x60)])
        case 0x6C, 0x6D:
            if ssePrefix != 1 { throw BadInstruction() }
            try mmxOrSSE(op == 0x6C ? "punpcklqdq" : "punpckhqdq")
        case 0x6E:
            let p = takeSSEPrefix()
            if p >= 2 { throw BadInstruction() }
            let n = rexW ? "movq" : "movd"
            if p == 1 { set(n, [try xmmG(), try E(bytesOf(.y))]) } else { set(n, [try mmG(), try E(bytesOf(.y))]) }
        case 0x6F:
            let p = takeSSEPrefix()
            switch p {
            case 0: set("movq", [try mmG(), try mmE(8)])
            case 1: set("movdqa", [try xmmG(), try xmmE(16)])
            case 2: set("movdqu", [try xmmG(), try xmmE(16)])
            default: throw BadInstruction()
            }
        case 0x70:
            let p = takeSSEPrefix()
            if p == 0 { let g = try mmG(), e = try mmE(8); set("pshufw", [g, e, try I(1)]) }
            else {
                let g = try xmmG(), e = try xmmE(16)
                set(["", "pshufd", "pshufhw", "pshuflw"][p], [g, e, try I(1)])
            }
        case 0x71, 0x72, 0x73:
            try modrm()
            if !isReg { throw BadInstruction() }
            let p = takeSSEPrefix()
            if p >= 2 { throw BadInstruction() }
            let table: [[String]] = [
                ["", "", "psrlw", "", "psraw", "", "psllw", ""],
                ["", "", "psrld", "", "psrad", "", "pslld", ""],
                ["", "", "psrlq", "psrldq", "", "", "psllq", "pslldq"],
            ]
            let n = table[Int(op - 0x71)][regField]
            if n.isEmpty || (p == 0 && (regField == 3 || regField == 7)) { throw BadInstruction() }
            set(n, [p == 1 ? "xmm\(rmIndex)" : "mm\(rmField)", try I(1)])
        case 0x74: try mmxOrSSE("pcmpeqb")
        case 0x75: try mmxOrSSE("pcmpeqw")
        case 0x76: try mmxOrSSE("pcmpeqd")
        case 0x77: set("emms")
        case 0x78: set("vmread", [try E(bits == 64 ? 8 : 4), try G(bits == 64 ? 8 : 4)])
        case 0x79: set("vmwrite", [try G(bits == 64 ? 8 : 4), try E(bits == 64 ? 8 : 4)])
        case 0x7C: try sse(["", "haddpd", "", "haddps"])
        case 0x7D: try sse(["", "hsubpd", "", "hsubps"])
        case 0x7E:
            let p = takeSSEPrefix()
            let n = rexW ? "movq" : "movd"
            switch p {
            case 0: set(n, [try E(bytesOf(.y)), try mmG()])
            case 1: set(n, [try E(bytesOf(.y)), try xmmG()])
            case 2: set("movq", [try xmmG(), try xmmE(8)])
            default: throw BadInstruction()
            }
        case 0x7F:
            let p = takeSSEPrefix()
            switch p {
            case 0: set("movq", [try mmE(8), try mmG()])
            case 1: set("movdqa", [try xmmE(16), try xmmG()])
            case 2: set("movdqu", [try xmmE(16), try xmmG()])
            default: throw BadInstruction()
            }
        case 0x80...0x8F:
            set("j" + Decoding.cc[Int(op & 15)], [], .conditionalJump)
            try rel(bits == 64 ? 4 : (osize == 2 ? 2 : 4))
        case 0x90...0x9F:
            set("set" + Decoding.cc[Int(op & 15)], [try E(1)])
        case 0xA0: set("push", ["fs"])
        case 0xA1: set("pop", ["fs"])
        case 0xA2: set("cpuid")
        case 0xA3: set("bt", [try E(osize), try G(osize)])
        case 0xA4, 0xAC:
            let e = try E(osize), g = try G(osize)
            set(op == 0xA4 ? "shld" : "shrd", [e, g, try I(1)])
        case 0xA5, 0xAD:
            set(op == 0xA5 ? "shld" : "shrd", [try E(osize), try G(osize), "cl"])
        case 0xA8: set("push", ["gs"])
        case 0xA9: set("pop", ["gs"])
        case 0xAA: set("rsm")
        case 0xAB: set("bts", [try E(osize), try G(osize)])
        case 0xAE:
            try modrm()
            if isReg {
                if rep == 0xF3 && regField < 4 {
                    rep = 0
                    set(["rdfsbase", "rdgsbase", "wrfsbase", "wrgsbase"][regField], [reg(rmIndex, bytesOf(.y))])
                    return
                }
                switch regField {
                case 5: set("lfence")
                case 6: set("mfence")
                case 7: set("sfence")
                default: throw BadInstruction()
                }
                return
            }
            let n = [rexW ? "fxsave64" : "fxsave", rexW ? "fxrstor64" : "fxrstor", "ldmxcsr", "stmxcsr",
                     rexW ? "xsave64" : "xsave", rexW ? "xrstor64" : "xrstor", "xsaveopt", "clflush"][regField]
            if opsz && regField == 7 { opsz = false; set("clflushopt", [try memOperand(1)]); return }
            set(n, [try memOperand(regField == 2 || regField == 3 ? 4 : 0)])
        case 0xAF: set("imul", [try G(osize), try E(osize)])
        case 0xB0: set("cmpxchg", [try E(1), try G(1)])
        case 0xB1: set("cmpxchg", [try E(osize), try G(osize)])
        case 0xB2, 0xB4, 0xB5:
            let n = op == 0xB2 ? "lss" : (op == 0xB4 ? "lfs" : "lgs")
            set(n, [try G(osize), try M(bytesOf(.p))])
        case 0xB3: set("btr", [try E(osize), try G(osize)])
        case 0xB6: set("movzx", [try G(osize), try E(1)])
        case 0xB7: set("movzx", [try G(osize), try E(2)])
        case 0xB8:
            if rep != 0xF3 { throw BadInstruction() }
            rep = 0
            set("popcnt", [try G(osize), try E(osize)])
        case 0xB9: set("ud1", [try G(osize), try E(osize)], .invalid)
        case 0xBA:
            try modrm()
            if regField < 4 { throw BadInstruction() }
            let e = try E(osize)
            set(["", "", "", "", "bt", "bts", "btr", "btc"][regField], [e, try I(1)])
        case 0xBB: set("btc", [try E(osize), try G(osize)])
        case 0xBC, 0xBD:
            var n = op == 0xBC ? "bsf" : "bsr"
            if rep == 0xF3 { rep = 0; n = op == 0xBC ? "tzcnt" : "lzcnt" }
            set(n, [try G(osize), try E(osize)])
        case 0xBE: set("movsx", [try G(osize), try E(1)])
        case 0xBF: set("movsx", [try G(osize), try E(2)])
        case 0xC0: set("xadd", [try E(1), try G(1)])
        case 0xC1: set("xadd", [try E(osize), try G(osize)])
        case 0xC2:
            let p = takeSSEPrefix()
            let g = try xmmG(), e = try xmmE([16, 16, 4, 8][p])
            set(["cmpps", "cmppd", "cmpss", "cmpsd"][p], [g, e, try I(1)])
        case 0xC3: set("movnti", [try M(bytesOf(.y)), try G(bytesOf(.y))])
        case 0xC4:
            let p = takeSSEPrefix()
            if p >= 2 { throw BadInstruction() }
            try modrm()
            let g = p == 1 ? try xmmG() : try mmG()
            let e = isReg ? reg(rmIndex, 4) : try memOperand(2)
            set("pinsrw", [g, e, try I(1)])
        case 0xC5:
            let p = takeSSEPrefix()
            if p >= 2 { throw BadInstruction() }
            try modrm()
            if !isReg { throw BadInstruction() }
            set("pextrw", [reg(regIndex, 4), p == 1 ? "xmm\(rmIndex)" : "mm\(rmField)", try I(1)])
        case 0xC6:
            let p = takeSSEPrefix()
            if p >= 2 { throw BadInstruction() }
            let g = try xmmG(), e = try xmmE(16)
            set(p == 0 ? "shufps" : "shufpd", [g, e, try I(1)])
        case 0xC7:
            try modrm()
            if isReg {
                switch regField {
                case 6: set(rep == 0xF3 ? "senduipi" : "rdrand", [reg(rmIndex, osize)])
                case 7: if rep == 0xF3 { rep = 0; set("rdpid", [reg(rmIndex, bits == 64 ? 8 : 4)]) } else { set("rdseed", [reg(rmIndex, osize)]) }
                default: throw BadInstruction()
                }
                return
            }
            switch regField {
            case 1: set(rexW ? "cmpxchg16b" : "cmpxchg8b", [try memOperand(rexW ? 16 : 8)])
            case 3: set("xrstors", [try memOperand(0)])
            case 4: set("xsavec", [try memOperand(0)])
            case 5: set("xsaves", [try memOperand(0)])
            case 6:
                let p = takeSSEPrefix()
                set(["vmptrld", "vmclear", "vmxon", ""][p], [try memOperand(8)])
            case 7: set("vmptrst", [try memOperand(8)])
            default: throw BadInstruction()
            }
        case 0xC8...0xCF:
            set("bswap", [reg(Int(op & 7) | rexB, osize == 8 ? 8 : 4)])
        case 0xD0: try sse(["", "addsubpd", "", "addsubps"])
        case 0xD6:
            let p = takeSSEPrefix()
            switch p {
            case 1: set("movq", [try xmmE(8), try xmmG()])
            case 2: try modrm(); if !isReg { throw BadInstruction() }; set("movq2dq", [try xmmG(), "mm\(rmField)"])
            case 3: try modrm(); if !isReg { throw BadInstruction() }; set("movdq2q", [try mmG(), "xmm\(rmIndex)"])
            default: throw BadInstruction()
            }
        case 0xD7:
            let p = takeSSEPrefix()
            if p >= 2 { throw BadInstruction() }
            try modrm()
            if !isReg { throw BadInstruction() }
            set("pmovmskb", [reg(regIndex, 4), p == 1 ? "xmm\(rmIndex)" : "mm\(rmField)"])
        case 0xE6:
            let p = takeSSEPrefix()
            if p == 0 { throw BadInstruction() }
            set(["", "cvttpd2dq", "cvtdq2pd", "cvtpd2dq"][p], [try xmmG(), try xmmE(p == 2 ? 8 : 16)])
        case 0xE7:
            let p = takeSSEPrefix()
            if p == 0 { set("movntq", [try M(8), try mmG()]) }
            else if p == 1 { set("movntdq", [try M(16), try xmmG()]) }
            else { throw BadInstruction() }
        case 0xF0:
            if rep != 0xF2 { throw BadInstruction() }
            rep = 0
            set("lddqu", [try xmmG(), try M(16)])
        case 0xF7:
            let p = takeSSEPrefix()
            try modrm()
            if !isReg || p >= 2 { throw BadInstruction() }
            set(p == 1 ? "maskmovdqu" : "maskmovq", p == 1 ? [try xmmG(), "xmm\(rmIndex)"] : [try mmG(), "mm\(rmField)"])
        case 0xD1...0xFE:
            let names: [UInt8: String] = [
                0xD1: "psrlw", 0xD2: "psrld", 0xD3: "psrlq", 0xD4: "paddq", 0xD5: "pmullw", 0xD8: "psubusb",
                0xD9: "psubusw", 0xDA: "pminub", 0xDB: "pand", 0xDC: "paddusb", 0xDD: "paddusw", 0xDE: "pmaxub",
                0xDF: "pandn", 0xE0: "pavgb", 0xE1: "psraw", 0xE2: "psrad", 0xE3: "pavgw", 0xE4: "pmulhuw",
                0xE5: "pmulhw", 0xE8: "psubsb", 0xE9: "psubsw", 0xEA: "pminsw", 0xEB: "por", 0xEC: "paddsb",
                0xED: "paddsw", 0xEE: "pmaxsw", 0xEF: "pxor", 0xF1: "psllw", 0xF2: "pslld", 0xF3: "psllq",
                0xF4: "pmuludq", 0xF5: "pmaddwd", 0xF6: "psadbw", 0xF8: "psubb", 0xF9: "psubw", 0xFA: "psubd",
                0xFB: "psubq", 0xFC: "paddb", 0xFD: "paddw", 0xFE: "paddd",
            ]
            guard let n = names[op] else { throw BadInstruction() }
            try mmxOrSSE(n)
        case 0xFF: set("ud0", [try G(osize), try E(osize)], .invalid)
        default:
            throw BadInstruction()
        }
    }

    static let map38: [UInt8: String] = [
        0x00: "pshufb", 0x01: "phaddw", 0x02: "phaddd", 0x03: "phaddsw", 0x04: "pmaddubsw", 0x05: "phsubw",
        0x06: "phsubd", 0x07: "phsubsw", 0x08: "psignb", 0x09: "psignw", 0x0A: "psignd", 0x0B: "pmulhrsw",
        0x10: "pblendvb", 0x14: "blendvps", 0x15: "blendvpd", 0x17: "ptest", 0x1C: "pabsb", 0x1D: "pabsw",
        0x1E: "pabsd", 0x20: "pmovsxbw", 0x21: "pmovsxbd", 0x22: "pmovsxbq", 0x23: "pmovsxwd", 0x24: "pmovsxwq",
        0x25: "pmovsxdq", 0x28: "pmuldq", 0x29: "pcmpeqq", 0x2A: "movntdqa", 0x2B: "packusdw",
        0x30: "pmovzxbw", 0x31: "pmovzxbd", 0x32: "pmovzxbq", 0x33: "pmovzxwd", 0x34: "pmovzxwq",
        0x35: "pmovzxdq", 0x37: "pcmpgtq", 0x38: "pminsb", 0x39: "pminsd", 0x3A: "pminuw", 0x3B: "pminud",
        0x3C: "pmaxsb", 0x3D: "pmaxsd", 0x3E: "pmaxuw", 0x3F: "pmaxud", 0x40: "pmulld", 0x41: "phminposuw",
        0xC8: "sha1nexte", 0xC9: "sha1msg1", 0xCA: "sha1msg2", 0xCB: "sha256rnds2", 0xCC: "sha256msg1",
        0xCD: "sha256msg2", 0xDB: "aesimc", 0xDC: "aesenc", 0xDD: "aesenclast", 0xDE: "aesdec", 0xDF: "aesdeclast",
    ]

    mutating func threeByte38(_ op: UInt8) throws {
        switch op {
        case 0xF0, 0xF1:
            if rep == 0xF2 {
                rep = 0
                set("crc32", [try G(rexW ? 8 : 4), try E(op == 0xF0 ? 1 : osize)])
            } else {
                set("movbe", op == 0xF0 ? [try G(osize), try M(osize)] : [try M(osize), try G(osize)])
            }
        case 0xF6:
            let p = takeSSEPrefix()
            if p == 1 { set("adcx", [try G(bytesOf(.y)), try E(bytesOf(.y))]) }
            else if p == 2 { set("adox", [try G(bytesOf(.y)), try E(bytesOf(.y))]) }
            else { throw BadInstruction() }
        default:
            guard let n = Decoding.map38[op] else { throw BadInstruction() }
            try mmxOrSSE(n)
        }
    }

    static let map3A: [UInt8: String] = [
        0x08: "roundps", 0x09: "roundpd", 0x0A: "roundss", 0x0B: "roundsd", 0x0C: "blendps", 0x0D: "blendpd",
        0x0E: "pblendw", 0x0F: "palignr", 0x14: "pextrb", 0x15: "pextrw", 0x16: "pextrd", 0x17: "extractps",
        0x20: "pinsrb", 0x21: "insertps", 0x22: "pinsrd", 0x40: "dpps", 0x41: "dppd", 0x42: "mpsadbw",
        0x44: "pclmulqdq", 0x60: "pcmpestrm", 0x61: "pcmpestri", 0x62: "pcmpistrm", 0x63: "pcmpistri",
        0xCC: "sha1rnds4", 0xDF: "aeskeygenassist",
    ]

    mutating func threeByte3A(_ op: UInt8) throws {
        guard var n = Decoding.map3A[op] else { throw BadInstruction() }
        let p = ssePrefix
        if p >= 2 { throw BadInstruction() }
        if p == 1 { opsz = false }
        try modrm()
        var a: [String]
        switch op {
        case 0x14...0x17:
            if op == 0x16 && rexW { n = "pextrq" }
            let size = [1, 2, op == 0x16 && rexW ? 8 : 4, 4][Int(op - 0x14)]
            a = [isReg ? reg(rmIndex, size == 8 ? 8 : 4) : try memOperand(size), "xmm\(regIndex)"]
        case 0x20, 0x22:
            if op == 0x22 && rexW { n = "pinsrq" }
            let size = op == 0x20 ? 1 : (rexW ? 8 : 4)
            a = ["xmm\(regIndex)", isReg ? reg(rmIndex, size == 8 ? 8 : 4) : try memOperand(size)]
        default:
            if p == 0 && op == 0x0F {
                a = [try mmG(), try mmE(8)]
            } else {
                a = [try xmmG(), try xmmE(16)]
            }
        }
        a.append(try I(1))
        set(n, a)
    }

    // MARK: VEX (lengths exact; names follow the legacy SSE opcode)

    mutating func vex(_ first: UInt8) throws {
        var map = 1
        var pp = 0
        var l256 = false
        if first == 0xC5 {
            let b = try byte()
            if b & 0x80 == 0 { rex |= 4 }
            pp = Int(b & 3)
            l256 = b & 4 != 0
        } else {
            let b1 = try byte(), b2 = try byte()
            if b1 & 0x80 == 0 { rex |= 4 }
            if b1 & 0x40 == 0 { rex |= 2 }
            if b1 & 0x20 == 0 { rex |= 1 }
            map = Int(b1 & 0x1F)
            if b2 & 0x80 != 0 { rex |= 8 }
            pp = Int(b2 & 3)
            l256 = b2 & 4 != 0
        }
        let op = try byte()
        // Map the VEX pp field onto the legacy mandatory prefix.
        opsz = pp == 1
        rep = pp == 2 ? 0xF3 : (pp == 3 ? 0xF2 : 0)
        if rex == 0 { rex = 0x40 }   // VEX implies REX-style register naming
        switch map {
        case 1:
            if op == 0x77 { set(l256 ? "vzeroall" : "vzeroupper"); return }
            try twoByte(op)
        case 2:
            try modrm()
            if !isReg { _ = try memOperand(16) }
            set("v(0f38 " + String(op, radix: 16) + ")")
        case 3:
            try modrm()
            if !isReg { _ = try memOperand(16) }
            _ = try imm(1)
            set("v(0f3a " + String(op, radix: 16) + ")")
        default:
            throw BadInstruction()
        }
        if !mnemonic.hasPrefix("v") { mnemonic = "v" + mnemonic }
    }
}
