// The x86 decoder and the decoded-instruction record.
//
// Decoded instructions are cached as blocks: straight-line runs of records
// decoded from one page (`CPU.pool`), found through a direct-mapped directory
// indexed by the physical address of the block's first byte
// (`CPU.blockDir`); the tag holds that address and the code size (16/32/64)
// the bytes were decoded for, and the page's generation number
// (`CPU.pageGen`) drops every block of a page at once when its code is
// written.
// Register operands are stored as byte offsets into the register file
// (AH/CH/DH/BH are offset +1 into RAX..RBX), so execution needs no decoding
// of register numbers. Instructions that cross a page, or come from device
// memory, are decoded into a scratch record every time.

enum Op: UInt16 {
    case ud = 0, nop
    case aluRmR, aluRRm, aluRmI, testRmR, testRmI
    case incRm, decRm, notRm, negRm
    case mulRm, imulRm, divRm, idivRm, imulRRm, imulRRmI
    case movRmR, movRRm, movRmI, movAMoffs, movMoffsA, movzx, movsx, lea, xchgRmR
    case pushR, popR, pushRm, popRm, pushI, pushSeg, popSeg, pusha, popa, pushf, popf
    case cmov, setcc, jcc, jmpRel, callRel, ret, jmpRm, callRm
    case jmpFar, jmpFarM, callFar, callFarM, retf
    case loop, jcxz
    case movs, cmps, scas, lods, stos, ins, outs
    case shiftRm, shld, shrd
    case btRmR, btRmI, bsf, bsr, tzcnt, lzcnt, popcnt, bswap
    case cmpxchg, cmpxchg8b, xadd
    case cbw, cwd, enter, leave
    case cpuid, rdtsc, rdtscp, rdmsr, wrmsr, rdpmc
    case sahf, lahf, flagOp, xlat, hlt
    case io
    case intN, int3, into, int1, iret
    case grp6, grp7, movCR, movDR, clts, invd
    case movSegRm, movRmSeg, lfp
    case syscall, sysret, sysenter, sysexit
    case lar, lsl
    case sse, x87, grp15
    case bcd
    case bound, arpl
    // Forms of the commonest instructions specialised by operand size and
    // operand kind when a block is built (`CPU.specialise`); the decoder
    // itself never produces them.
    case movRR64, movRR32, movRrR64, movRrR32, ld64, ld32, st64, st32
    case aluRR64, aluRR32, aluRI64, aluRI32, aluLd64, aluLd32
    case shlRI64, shlRI32, shrRI64, shrRI32, sarRI64, sarRI32
    case lea64, lea32, push64, pop64, call64, ret64
}

extension Op {
    /// The decoder's operation for a specialised form (itself otherwise).
    var generic: Op {
        switch self {
        case .movRR64, .movRR32, .st64, .st32: return .movRmR
        case .movRrR64, .movRrR32, .ld64, .ld32: return .movRRm
        case .aluRR64, .aluRR32: return .aluRmR
        case .aluRI64, .aluRI32: return .aluRmI
        case .aluLd64, .aluLd32: return .aluRRm
        case .shlRI64, .shlRI32, .shrRI64, .shrRI32, .sarRI64, .sarRI32: return .shiftRm
        case .lea64, .lea32: return .lea
        case .push64: return .pushR
        case .pop64: return .popR
        case .call64: return .callRel
        case .ret64: return .ret
        default: return self
        }
    }
}

/// A directory entry of the decoded-block cache.
struct BlockEntry {
    /// physical address << 2 | code size; .max = empty.
    var tag: UInt64 = .max
    /// First record in `CPU.pool`, and the number of records.
    var start: Int32 = 0
    var count: Int32 = 0
    /// `CPU.pageGen` of the block's page when it was decoded.
    var gen: UInt32 = 0
}

/// One decoded instruction (40 bytes).
struct DInsn {
    /// physical address << 2 | code size (0 16-bit, 1 32-bit, 2 64-bit); .max = empty.
    var tag: UInt64 = .max
    /// Immediate, sign-extended to 64 bits (or a branch displacement, a port, a moffs).
    var imm: UInt64 = 0
    var disp: Int32 = 0
    var op: Op = .ud
    /// Second immediate (ENTER level, far selector, SSE/x87 opcode).
    var imm2: UInt16 = 0
    var len: UInt8 = 0
    /// Operand size in bytes (1, 2, 4, 8).
    var osz: UInt8 = 4
    /// ModRM.reg operand: register-file byte offset (or a raw index for
    /// segment, control, debug and XMM registers).
    var reg: UInt8 = 0
    /// ModRM.rm register operand (when `mem == 0`), same encoding as `reg`.
    var rm: UInt8 = 0
    var base: UInt8 = regZero
    var index: UInt8 = regZero
    var scale: UInt8 = 0
    var seg: UInt8 = 3
    /// Address-size mask shift: 0 (64-bit), 32 (32-bit), 48 (16-bit).
    var ashift: UInt8 = 32
    /// 0 register operand, 1 memory operand, 2 RIP-relative memory operand.
    var mem: UInt8 = 0
    /// Secondary selector (ALU kind, condition, group member, ...).
    var sub: UInt8 = 0
    /// Prefix bits (see `P`).
    var pfx: UInt8 = 0
}

extension CPU {
    /// Reads the next instruction byte `i` of the instruction being decoded,
    /// fetching from the following page when the instruction crosses one.
    @inline(__always)
    func fb(_ i: Int) throws(CPUFault) -> UInt8 {
        if i >= dAvail { try extendFetch(i) }
        return dbuf[i]
    }

    func extendFetch(_ i: Int) throws(CPUFault) {
        if i >= 15 || dNoCross { throw fault(13, 0) }
        if dCrossed { throw fault(13, 0) }
        // The rest of the instruction lies on the next page.
        let next = (dLin &+ UInt64(dAvail)) & linMask
        let pa = try translateFetch(next)
        let n = 15 - dAvail
        for k in 0..<n { dbuf[dAvail + k] = UInt8(truncatingIfNeeded: physRead(pa &+ UInt64(k), 1)) }
        dAvail = 15
        dCrossed = true
    }

    @inline(__always)
    func fetchLE(_ p: Int, _ n: Int) throws(CPUFault) -> UInt64 {
        var v: UInt64 = 0
        var k = n - 1
        while k >= 0 { v = v << 8 | UInt64(try fb(p + k)); k -= 1 }
        return v
    }

    /// Decodes the instruction at linear `lin` whose first byte is at
    /// physical `pa`, into `d`. Returns false when the record must not be
    /// cached (it crossed a page).
    func decode(_ d: UnsafeMutablePointer<DInsn>, lin: UInt64, pa: UInt64) throws(CPUFault) -> Bool {
        let n = min(15, 4096 - Int(pa & 0xFFF))
        if memory.kind(ofPhysical: pa) != .device && pa &+ UInt64(n) <= UInt64(memory.ramSize) {
            (dbuf).update(from: ramBase + Int(pa), count: n)
        } else {
            for k in 0..<n { dbuf[k] = UInt8(truncatingIfNeeded: physRead(pa &+ UInt64(k), 1)) }
        }
        dAvail = n
        dLin = lin
        dCrossed = false
        var dd = DInsn()
        try decodeBytes(&dd)
        d.pointee = dd
        return !dCrossed
    }

    @inline(__always)
    func bregOff(_ r: UInt8, _ rex: Bool) -> UInt8 {
        if !rex && r >= 4 && r < 8 { return (r - 4) * 8 + 1 }
        return r * 8
    }

    /// Parses ModRM (+SIB, displacement). Returns (mod, reg field incl. REX.R,
    /// rm field incl. REX.B).
    func modrm(_ dd: inout DInsn, _ p: inout Int, rex: UInt8, asz: UInt8, seg: UInt8) throws(CPUFault) -> (UInt8, UInt8, UInt8) {
        let m = try fb(p); p += 1
        let mod = m >> 6
        let reg = (m >> 3) & 7 | (rex & 4) << 1
        let rm = m & 7
        if mod == 3 {
            dd.mem = 0
            return (mod, reg, rm | (rex & 1) << 3)
        }
        dd.mem = 1
        var defSS = false
        if asz == 2 {
            dd.ashift = 48
            switch rm {
            case 0: dd.base = 3 * 8; dd.index = 6 * 8
            case 1: dd.base = 3 * 8; dd.index = 7 * 8
            case 2: dd.base = 5 * 8; dd.index = 6 * 8; defSS = true
            case 3: dd.base = 5 * 8; dd.index = 7 * 8; defSS = true
            case 4: dd.base = 6 * 8
            case 5: dd.base = 7 * 8
            case 6:
                if mod == 0 {
                    dd.disp = Int32(truncatingIfNeeded: Int16(bitPattern: UInt16(try fetchLE(p, 2)))); p += 2
                } else { dd.base = 5 * 8; defSS = true }
            default: dd.base = 3 * 8
            }
            if mod == 1 { dd.disp = Int32(Int8(bitPattern: try fb(p))); p += 1 }
            else if mod == 2 { dd.disp = Int32(truncatingIfNeeded: Int16(bitPattern: UInt16(try fetchLE(p, 2)))); p += 2 }
        } else {
            dd.ashift = asz == 8 ? 0 : 32
            var baseReg: Int = -1
            if rm == 4 {
                let sib = try fb(p); p += 1
                dd.scale = sib >> 6
                let idx = (sib >> 3) & 7 | (rex & 2) << 2
                if idx != 4 { dd.index = idx * 8 }
                let b = sib & 7
                if b == 5 && mod == 0 {
                    dd.disp = Int32(bitPattern: UInt32(try fetchLE(p, 4))); p += 4
                } else {
                    baseReg = Int(b | (rex & 1) << 3)
                }
            } else if rm == 5 && mod == 0 {
                dd.disp = Int32(bitPattern: UInt32(try fetchLE(p, 4))); p += 4
                if codeMode == 2 { dd.mem = 2 }
            } else {
                baseReg = Int(rm | (rex & 1) << 3)
            }
            if baseReg >= 0 {
                dd.base = UInt8(baseReg * 8)
                if baseReg == 4 || baseReg == 5 { defSS = true }
            }
            if mod == 1 { dd.disp = Int32(Int8(bitPattern: try fb(p))); p += 1 }
            else if mod == 2 { dd.disp = Int32(bitPattern: UInt32(try fetchLE(p, 4))); p += 4 }
        }
        dd.seg = seg != 0xFF ? seg : (defSS ? 2 : 3)
        return (mod, reg, rm)
    }

    // swiftlint:disable:next function_body_length cyclomatic_complexity
    func decodeBytes(_ dd: inout DInsn) throws(CPUFault) {
        let m = codeMode
        var p = 0
        var rex: UInt8 = 0
        var seg: UInt8 = 0xFF
        var has66 = false, has67 = false
        var repKind: UInt8 = 0
        var pfx: UInt8 = 0
        prefixLoop: while true {
            let b = try fb(p)
            switch b {
            case 0x66: has66 = true; rex = 0
            case 0x67: has67 = true; rex = 0
            case 0xF0: pfx |= P.lock; rex = 0
            case 0xF2: repKind = 2; rex = 0
            case 0xF3: repKind = 1; rex = 0
            case 0x26, 0x2E, 0x36, 0x3E: seg = (b >> 3) & 3; rex = 0
            case 0x64: seg = 4; rex = 0
            case 0x65: seg = 5; rex = 0
            case 0x40...0x4F where m == 2: rex = b
            default: break prefixLoop
            }
            p += 1
            if p >= 15 { throw fault(13, 0) }
        }
        if repKind == 1 { pfx |= P.rep } else if repKind == 2 { pfx |= P.repne }
        if has66 { pfx |= P.o16 }
        if rex != 0 { pfx |= P.rex }
        if rex & 8 != 0 { pfx |= P.rexW }
        if seg != 0xFF { pfx |= P.segOvr }
        var osz: UInt8
        if m == 0 { osz = has66 ? 4 : 2 } else { osz = has66 ? 2 : 4 }
        if rex & 8 != 0 { osz = 8 }
        let asz: UInt8
        if m == 2 { asz = has67 ? 4 : 8 } else if m == 1 { asz = has67 ? 2 : 4 } else { asz = has67 ? 4 : 2 }
        dd.ashift = asz == 8 ? 0 : (asz == 4 ? 32 : 48)
        dd.seg = seg == 0xFF ? 3 : seg
        let hasRex = rex != 0
        // Near branches and stack operations: 64-bit in long mode (66 -> 16 for stack ops).
        let stackOsz: UInt8 = m == 2 ? (has66 ? 2 : 8) : osz
        let branchOsz: UInt8 = m == 2 ? 8 : osz
        let opAt = p
        let b0 = try fb(p); p += 1
        dd.pfx = pfx

        @inline(__always) func gv(_ r: UInt8) -> UInt8 { r * 8 }
        @inline(__always) func immz(_ p: inout Int, _ size: UInt8) throws(CPUFault) -> UInt64 {
            if size == 2 {
                let v = UInt64(bitPattern: Int64(Int16(bitPattern: UInt16(try fetchLE(p, 2))))); p += 2; return v
            }
            let v = UInt64(bitPattern: Int64(Int32(bitPattern: UInt32(try fetchLE(p, 4))))); p += 4; return v
        }
        @inline(__always) func imm8s(_ p: inout Int) throws(CPUFault) -> UInt64 {
            let v = UInt64(bitPattern: Int64(Int8(bitPattern: try fb(p)))); p += 1; return v
        }
        /// Sets reg/rm for a GPR ModRM instruction of size `s`.
        @inline(__always) func rmOps(_ dd: inout DInsn, _ p: inout Int, _ s: UInt8) throws(CPUFault) -> UInt8 {
            let (_, reg, rm) = try modrm(&dd, &p, rex: rex, asz: asz, seg: seg)
            dd.osz = s
            if s == 1 {
                dd.reg = bregOff(reg, hasRex)
                if dd.mem == 0 { dd.rm = bregOff(rm, hasRex) }
            } else {
                dd.reg = reg * 8
                if dd.mem == 0 { dd.rm = rm * 8 }
            }
            return reg & 7
        }
        func ud(_ dd: inout DInsn, report: Bool) { dd.op = .ud; dd.sub = report ? 1 : 0 }

        dd.osz = osz
        switch b0 {
        case 0x00...0x3F where (b0 & 7) < 6:
            let kind = b0 >> 3
            dd.sub = kind
            switch b0 & 7 {
            case 0: _ = try rmOps(&dd, &p, 1); dd.op = .aluRmR
            case 1: _ = try rmOps(&dd, &p, osz); dd.op = .aluRmR
            case 2: _ = try rmOps(&dd, &p, 1); dd.op = .aluRRm
            case 3: _ = try rmOps(&dd, &p, osz); dd.op = .aluRRm
            case 4: dd.op = .aluRmI; dd.osz = 1; dd.mem = 0; dd.rm = 0; dd.imm = try imm8s(&p)
            default: dd.op = .aluRmI; dd.mem = 0; dd.rm = 0; dd.imm = try immz(&p, osz)
            }
        case 0x06, 0x0E, 0x16, 0x1E:
            if m == 2 { ud(&dd, report: false) } else { dd.op = .pushSeg; dd.sub = b0 >> 3; dd.osz = stackOsz }
        case 0x07, 0x17, 0x1F:
            if m == 2 { ud(&dd, report: false) } else { dd.op = .popSeg; dd.sub = b0 >> 3; dd.osz = stackOsz }
        case 0x27, 0x2F, 0x37, 0x3F:
            if m == 2 { ud(&dd, report: false) } else { dd.op = .bcd; dd.sub = (b0 >> 3) & 3 }
        case 0x40...0x47: dd.op = .incRm; dd.mem = 0; dd.rm = gv(b0 & 7)
        case 0x48...0x4F: dd.op = .decRm; dd.mem = 0; dd.rm = gv(b0 & 7)
        case 0x50...0x57: dd.op = .pushR; dd.osz = stackOsz; dd.reg = gv(b0 & 7 | (rex & 1) << 3)
        case 0x58...0x5F: dd.op = .popR; dd.osz = stackOsz; dd.reg = gv(b0 & 7 | (rex & 1) << 3)
        case 0x60: if m == 2 { ud(&dd, report: false) } else { dd.op = .pusha }
        case 0x61: if m == 2 { ud(&dd, report: false) } else { dd.op = .popa }
        case 0x62:
            if m == 2 { ud(&dd, report: false) } else {
                _ = try rmOps(&dd, &p, osz); dd.op = dd.mem == 0 ? .ud : .bound
            }
        case 0x63:
            if m == 2 { _ = try rmOps(&dd, &p, osz); dd.op = .movsx; dd.sub = 4 }
            else { _ = try rmOps(&dd, &p, 2); dd.op = .arpl }
        case 0x68: dd.op = .pushI; dd.osz = stackOsz; dd.imm = try immz(&p, stackOsz == 2 ? 2 : 4)
        case 0x69: _ = try rmOps(&dd, &p, osz); dd.op = .imulRRmI; dd.imm = try immz(&p, osz)
        case 0x6A: dd.op = .pushI; dd.osz = stackOsz; dd.imm = try imm8s(&p)
        case 0x6B: _ = try rmOps(&dd, &p, osz); dd.op = .imulRRmI; dd.imm = try imm8s(&p)
        case 0x6C, 0x6D: dd.op = .ins; dd.osz = b0 == 0x6C ? 1 : (osz == 8 ? 4 : osz)
        case 0x6E, 0x6F: dd.op = .outs; dd.osz = b0 == 0x6E ? 1 : (osz == 8 ? 4 : osz)
        case 0x70...0x7F: dd.op = .jcc; dd.sub = b0 & 15; dd.osz = branchOsz; dd.imm = try imm8s(&p)
        case 0x80, 0x81, 0x82, 0x83:
            if b0 == 0x82 && m == 2 { ud(&dd, report: false); break }
            let s: UInt8 = (b0 & 1) == 0 ? 1 : osz
            let r = try rmOps(&dd, &p, s)
            dd.op = .aluRmI; dd.sub = r
            dd.imm = b0 == 0x81 ? try immz(&p, s) : try imm8s(&p)
        case 0x84, 0x85: _ = try rmOps(&dd, &p, b0 == 0x84 ? 1 : osz); dd.op = .testRmR
        case 0x86, 0x87: _ = try rmOps(&dd, &p, b0 == 0x86 ? 1 : osz); dd.op = .xchgRmR
        case 0x88, 0x89: _ = try rmOps(&dd, &p, b0 == 0x88 ? 1 : osz); dd.op = .movRmR
        case 0x8A, 0x8B: _ = try rmOps(&dd, &p, b0 == 0x8A ? 1 : osz); dd.op = .movRRm
        case 0x8C:
            let (_, reg, rm) = try modrm(&dd, &p, rex: rex, asz: asz, seg: seg)
            if reg & 7 > 5 { ud(&dd, report: false); break }
            dd.op = .movRmSeg; dd.sub = reg & 7; dd.rm = rm * 8; dd.osz = dd.mem == 0 ? osz : 2
        case 0x8D:
            _ = try rmOps(&dd, &p, osz)
            if dd.mem == 0 { ud(&dd, report: false) } else { dd.op = .lea }
        case 0x8E:
            let (_, reg, rm) = try modrm(&dd, &p, rex: rex, asz: asz, seg: seg)
            if reg & 7 > 5 || reg & 7 == 1 { ud(&dd, report: false); break }
            dd.op = .movSegRm; dd.sub = reg & 7; dd.rm = rm * 8; dd.osz = 2
        case 0x8F:
            let r = try rmOps(&dd, &p, stackOsz)
            if r != 0 { ud(&dd, report: true) } else { dd.op = .popRm }
        case 0x90:
            if rex & 1 != 0 { dd.op = .xchgRmR; dd.mem = 0; dd.rm = 0; dd.reg = gv(8) }
            else { dd.op = .nop }
        case 0x91...0x97:
            dd.op = .xchgRmR; dd.mem = 0; dd.rm = 0; dd.reg = gv(b0 & 7 | (rex & 1) << 3)
        case 0x98: dd.op = .cbw
        case 0x99: dd.op = .cwd
        case 0x9A:
            if m == 2 { ud(&dd, report: false); break }
            dd.op = .callFar
            let offSize = osz == 2 ? 2 : 4
            dd.imm = try fetchLE(p, offSize); p += offSize
            dd.imm2 = UInt16(try fetchLE(p, 2)); p += 2
        case 0x9B: dd.op = .x87; dd.imm2 = 0x9B00
        case 0x9C: dd.op = .pushf; dd.osz = stackOsz
        case 0x9D: dd.op = .popf; dd.osz = stackOsz
        case 0x9E: dd.op = .sahf
        case 0x9F: dd.op = .lahf
        case 0xA0...0xA3:
            dd.osz = (b0 & 1) == 0 ? 1 : osz
            dd.op = b0 < 0xA2 ? .movAMoffs : .movMoffsA
            dd.imm = try fetchLE(p, Int(asz)); p += Int(asz)
        case 0xA4, 0xA5: dd.op = .movs; dd.osz = b0 == 0xA4 ? 1 : osz
        case 0xA6, 0xA7: dd.op = .cmps; dd.osz = b0 == 0xA6 ? 1 : osz
        case 0xA8: dd.op = .testRmI; dd.osz = 1; dd.mem = 0; dd.rm = 0; dd.imm = try imm8s(&p)
        case 0xA9: dd.op = .testRmI; dd.mem = 0; dd.rm = 0; dd.imm = try immz(&p, osz)
        case 0xAA, 0xAB: dd.op = .stos; dd.osz = b0 == 0xAA ? 1 : osz
        case 0xAC, 0xAD: dd.op = .lods; dd.osz = b0 == 0xAC ? 1 : osz
        case 0xAE, 0xAF: dd.op = .scas; dd.osz = b0 == 0xAE ? 1 : osz
        case 0xB0...0xB7:
            dd.op = .movRmI; dd.osz = 1; dd.mem = 0; dd.rm = bregOff(b0 & 7 | (rex & 1) << 3, hasRex)
            dd.imm = try imm8s(&p)
        case 0xB8...0xBF:
            dd.op = .movRmI; dd.mem = 0; dd.rm = gv(b0 & 7 | (rex & 1) << 3)
            if osz == 8 { dd.imm = try fetchLE(p, 8); p += 8 } else { dd.imm = try immz(&p, osz) }
        case 0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3:
            let s: UInt8 = (b0 & 1) == 0 ? 1 : osz
            let r = try rmOps(&dd, &p, s)
            dd.op = .shiftRm; dd.sub = r
            if b0 <= 0xC1 { dd.imm = UInt64(try fb(p)); p += 1 }
            else if b0 <= 0xD1 { dd.imm = 1 }
            else { dd.pfx |= P.cl }
        case 0xC2: dd.op = .ret; dd.osz = branchOsz; dd.imm = try fetchLE(p, 2); p += 2
        case 0xC3: dd.op = .ret; dd.osz = branchOsz; dd.imm = 0
        case 0xC4, 0xC5:
            if m == 2 { ud(&dd, report: true); break }
            let nb = try fb(p)
            if nb >= 0xC0 { ud(&dd, report: true); break }   // VEX
            _ = try rmOps(&dd, &p, osz)
            dd.op = .lfp; dd.sub = b0 == 0xC4 ? 0 : 3
        case 0xC6, 0xC7:
            let s: UInt8 = b0 == 0xC6 ? 1 : osz
            let r = try rmOps(&dd, &p, s)
            if r != 0 { ud(&dd, report: true); break }
            dd.op = .movRmI
            dd.imm = s == 1 ? try imm8s(&p) : try immz(&p, s)
        case 0xC8:
            dd.op = .enter; dd.osz = stackOsz
            dd.imm = try fetchLE(p, 2); p += 2
            dd.imm2 = UInt16(try fb(p)); p += 1
        case 0xC9: dd.op = .leave; dd.osz = stackOsz
        case 0xCA: dd.op = .retf; dd.imm = try fetchLE(p, 2); p += 2
        case 0xCB: dd.op = .retf; dd.imm = 0
        case 0xCC: dd.op = .int3
        case 0xCD: dd.op = .intN; dd.imm = UInt64(try fb(p)); p += 1
        case 0xCE: if m == 2 { ud(&dd, report: false) } else { dd.op = .into }
        case 0xCF: dd.op = .iret
        case 0xD4, 0xD5:
            if m == 2 { ud(&dd, report: false); break }
            dd.op = .bcd; dd.sub = b0 == 0xD4 ? 4 : 5; dd.imm = UInt64(try fb(p)); p += 1
        case 0xD6: if m == 2 { ud(&dd, report: false) } else { dd.op = .bcd; dd.sub = 6 }
        case 0xD7: dd.op = .xlat
        case 0xD8...0xDF:
            let mb = try fb(p)
            _ = try modrm(&dd, &p, rex: rex, asz: asz, seg: seg)
            dd.op = .x87; dd.imm2 = UInt16(b0) << 8 | UInt16(mb)
        case 0xE0, 0xE1, 0xE2:
            dd.op = .loop; dd.sub = b0 & 3; dd.osz = branchOsz; dd.imm = try imm8s(&p)
        case 0xE3: dd.op = .jcxz; dd.osz = branchOsz; dd.imm = try imm8s(&p)
        case 0xE4, 0xE5, 0xE6, 0xE7:
            dd.op = .io; dd.sub = (b0 & 2) >> 1; dd.osz = (b0 & 1) == 0 ? 1 : (osz == 8 ? 4 : osz)
            dd.imm = UInt64(try fb(p)); p += 1
        case 0xEC, 0xED, 0xEE, 0xEF:
            dd.op = .io; dd.sub = (b0 & 2) >> 1 | 2; dd.osz = (b0 & 1) == 0 ? 1 : (osz == 8 ? 4 : osz)
        case 0xE8:
            dd.op = .callRel; dd.osz = branchOsz; dd.imm = try immz(&p, branchOsz == 2 ? 2 : 4)
        case 0xE9:
            dd.op = .jmpRel; dd.osz = branchOsz; dd.imm = try immz(&p, branchOsz == 2 ? 2 : 4)
        case 0xEA:
            if m == 2 { ud(&dd, report: false); break }
            dd.op = .jmpFar
            let offSize = osz == 2 ? 2 : 4
            dd.imm = try fetchLE(p, offSize); p += offSize
            dd.imm2 = UInt16(try fetchLE(p, 2)); p += 2
        case 0xEB: dd.op = .jmpRel; dd.osz = branchOsz; dd.imm = try imm8s(&p)
        case 0xF1: dd.op = .int1
        case 0xF4: dd.op = .hlt
        case 0xF5: dd.op = .flagOp; dd.sub = 2
        case 0xF6, 0xF7:
            let s: UInt8 = b0 == 0xF6 ? 1 : osz
            let r = try rmOps(&dd, &p, s)
            switch r {
            case 0, 1: dd.op = .testRmI; dd.imm = s == 1 ? try imm8s(&p) : try immz(&p, s)
            case 2: dd.op = .notRm
            case 3: dd.op = .negRm
            case 4: dd.op = .mulRm
            case 5: dd.op = .imulRm
            case 6: dd.op = .divRm
            default: dd.op = .idivRm
            }
        case 0xF8: dd.op = .flagOp; dd.sub = 0
        case 0xF9: dd.op = .flagOp; dd.sub = 1
        case 0xFA: dd.op = .flagOp; dd.sub = 5
        case 0xFB: dd.op = .flagOp; dd.sub = 6
        case 0xFC: dd.op = .flagOp; dd.sub = 3
        case 0xFD: dd.op = .flagOp; dd.sub = 4
        case 0xFE:
            let r = try rmOps(&dd, &p, 1)
            if r == 0 { dd.op = .incRm } else if r == 1 { dd.op = .decRm } else { ud(&dd, report: true) }
        case 0xFF:
            let (_, reg, rm) = try modrm(&dd, &p, rex: rex, asz: asz, seg: seg)
            let r = reg & 7
            if dd.mem == 0 { dd.rm = rm * 8 }
            switch r {
            case 0: dd.op = .incRm
            case 1: dd.op = .decRm
            case 2: dd.op = .callRm; dd.osz = branchOsz
            case 3: dd.op = dd.mem == 0 ? .ud : .callFarM
            case 4: dd.op = .jmpRm; dd.osz = branchOsz
            case 5: dd.op = dd.mem == 0 ? .ud : .jmpFarM
            case 6: dd.op = .pushRm; dd.osz = stackOsz
            default: ud(&dd, report: true)
            }
        case 0x0F:
            try decode0F(&dd, &p, rex: rex, asz: asz, seg: seg, osz: osz, has66: has66, repKind: repKind)
        default:
            ud(&dd, report: true)
        }
        if p > 15 { throw fault(13, 0) }
        // LOCK is only valid on a read-modify-write instruction with a
        // memory destination; anywhere else it raises #UD (SDM Vol. 2, LOCK).
        if pfx & P.lock != 0 && dd.op != .ud {
            let ok = dd.mem != 0 ? try lockable(at: opAt) : false
            if !ok { ud(&dd, report: false) }
        }
        dd.len = UInt8(p)
    }

    /// Whether the opcode at `at` (past the prefixes) accepts LOCK given a
    /// memory operand: ADD OR ADC SBB AND SUB XOR (to memory), the 0x80-0x83
    /// group but CMP, XCHG, NOT, NEG, INC, DEC, BTS BTR BTC, CMPXCHG,
    /// CMPXCHG8B/16B, XADD.
    func lockable(at: Int) throws(CPUFault) -> Bool {
        let b0 = try fb(at)
        switch b0 {
        case 0x80, 0x81, 0x83: return (try fb(at + 1) >> 3) & 7 != 7
        case 0x86, 0x87: return true
        case 0xF6, 0xF7: let r = (try fb(at + 1) >> 3) & 7; return r == 2 || r == 3
        case 0xFE, 0xFF: return (try fb(at + 1) >> 3) & 7 < 2
        case 0x0F:
            let b1 = try fb(at + 1)
            switch b1 {
            case 0xAB, 0xB3, 0xBB, 0xB0, 0xB1, 0xC0, 0xC1: return true
            case 0xBA: return (try fb(at + 2) >> 3) & 7 >= 5
            case 0xC7: return (try fb(at + 2) >> 3) & 7 == 1
            default: return false
            }
        case 0x00...0x3F: return b0 & 7 < 2 && b0 >> 3 != 7
        default: return false
        }
    }

    // swiftlint:disable:next function_body_length cyclomatic_complexity
    func decode0F(_ dd: inout DInsn, _ p: inout Int, rex: UInt8, asz: UInt8, seg: UInt8, osz: UInt8,
                  has66: Bool, repKind: UInt8) throws(CPUFault) {
        let m = codeMode
        let hasRex = rex != 0
        let b1 = try fb(p); p += 1
        let branchOsz: UInt8 = m == 2 ? 8 : osz
        let stackOsz: UInt8 = m == 2 ? (has66 ? 2 : 8) : osz
        @inline(__always) func rmOps(_ dd: inout DInsn, _ p: inout Int, _ s: UInt8) throws(CPUFault) -> UInt8 {
            let (_, reg, rm) = try modrm(&dd, &p, rex: rex, asz: asz, seg: seg)
            dd.osz = s
            if s == 1 {
                dd.reg = bregOff(reg, hasRex)
                if dd.mem == 0 { dd.rm = bregOff(rm, hasRex) }
            } else {
                dd.reg = reg * 8
                if dd.mem == 0 { dd.rm = rm * 8 }
            }
            return reg & 7
        }
        /// SSE form: reg/rm as raw register indices.
        @inline(__always) func sseOps(_ dd: inout DInsn, _ p: inout Int, _ code: UInt16, imm8: Bool) throws(CPUFault) {
            let (_, reg, rm) = try modrm(&dd, &p, rex: rex, asz: asz, seg: seg)
            dd.reg = reg
            dd.rm = rm
            dd.op = .sse
            dd.imm2 = code
            // mandatory prefix: F3/F2 win over 66
            dd.sub = repKind == 1 ? 2 : (repKind == 2 ? 3 : (has66 ? 1 : 0))
            if imm8 { dd.imm = UInt64(try fb(p)); p += 1 }
        }
        func ud(_ dd: inout DInsn, report: Bool) { dd.op = .ud; dd.sub = report ? 1 : 0 }
        dd.osz = osz
        switch b1 {
        case 0x00:
            let (_, reg, rm) = try modrm(&dd, &p, rex: rex, asz: asz, seg: seg)
            dd.op = .grp6; dd.sub = reg & 7; dd.rm = rm * 8
            if reg & 7 >= 6 { ud(&dd, report: true) }
        case 0x01:
            let mb = try fb(p)
            let (mod, reg, rm) = try modrm(&dd, &p, rex: rex, asz: asz, seg: seg)
            dd.op = .grp7; dd.sub = reg & 7 | (mod == 3 ? 8 : 0); dd.rm = rm * 8
            dd.imm2 = UInt16(mb)
        case 0x02, 0x03:
            _ = try rmOps(&dd, &p, osz)
            dd.op = b1 == 0x02 ? .lar : .lsl
        case 0x05: dd.op = m == 2 ? .syscall : .ud
        case 0x06: dd.op = .clts
        case 0x07: dd.op = m == 2 ? .sysret : .ud
        case 0x08, 0x09: dd.op = .invd; dd.sub = b1 & 1
        case 0x0B: ud(&dd, report: false)
        case 0x0D, 0x18...0x1F:
            _ = try modrm(&dd, &p, rex: rex, asz: asz, seg: seg)
            dd.op = .nop
        case 0x20, 0x21, 0x22, 0x23:
            let mb = try fb(p); p += 1
            dd.reg = (mb >> 3) & 7 | (rex & 4) << 1
            dd.rm = (mb & 7 | (rex & 1) << 3) * 8
            dd.op = b1 & 1 == 0 ? .movCR : .movDR
            dd.sub = b1 >> 1 & 1    // 0 = read (to GPR), 1 = write
            dd.osz = m == 2 ? 8 : 4
            dd.mem = 0
        case 0x30: dd.op = .wrmsr
        case 0x31: dd.op = .rdtsc
        case 0x32: dd.op = .rdmsr
        case 0x33: dd.op = .rdpmc
        case 0x34: dd.op = .sysenter
        case 0x35: dd.op = .sysexit
        case 0x40...0x4F: _ = try rmOps(&dd, &p, osz); dd.op = .cmov; dd.sub = b1 & 15
        case 0x80...0x8F:
            dd.op = .jcc; dd.sub = b1 & 15; dd.osz = branchOsz
            let s: Int = branchOsz == 2 ? 2 : 4
            let raw = try fetchLE(p, s); p += s
            dd.imm = s == 2 ? UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: raw)))
                            : UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: raw)))
        case 0x90...0x9F: _ = try rmOps(&dd, &p, 1); dd.op = .setcc; dd.sub = b1 & 15
        case 0xA0: dd.op = .pushSeg; dd.sub = 4; dd.osz = stackOsz
        case 0xA1: dd.op = .popSeg; dd.sub = 4; dd.osz = stackOsz
        case 0xA8: dd.op = .pushSeg; dd.sub = 5; dd.osz = stackOsz
        case 0xA9: dd.op = .popSeg; dd.sub = 5; dd.osz = stackOsz
        case 0xA2: dd.op = .cpuid
        case 0xA3, 0xAB, 0xB3, 0xBB:
            _ = try rmOps(&dd, &p, osz); dd.op = .btRmR
            dd.sub = b1 == 0xA3 ? 0 : (b1 == 0xAB ? 1 : (b1 == 0xB3 ? 2 : 3))
        case 0xA4, 0xA5, 0xAC, 0xAD:
            _ = try rmOps(&dd, &p, osz)
            dd.op = b1 < 0xA8 ? .shld : .shrd
            if b1 & 1 == 0 { dd.imm = UInt64(try fb(p)); p += 1 } else { dd.pfx |= P.cl }
        case 0xAE:
            let mb = try fb(p)
            let (mod, reg, rm) = try modrm(&dd, &p, rex: rex, asz: asz, seg: seg)
            dd.op = .grp15; dd.sub = reg & 7 | (mod == 3 ? 8 : 0); dd.rm = rm
            dd.imm2 = UInt16(mb)
            if repKind != 0 { ud(&dd, report: true) }
        case 0xAF: _ = try rmOps(&dd, &p, osz); dd.op = .imulRRm
        case 0xB0, 0xB1: _ = try rmOps(&dd, &p, b1 == 0xB0 ? 1 : osz); dd.op = .cmpxchg
        case 0xB2, 0xB4, 0xB5:
            _ = try rmOps(&dd, &p, osz)
            if dd.mem == 0 { ud(&dd, report: false); break }
            dd.op = .lfp; dd.sub = b1 == 0xB2 ? 2 : (b1 == 0xB4 ? 4 : 5)
        case 0xB6, 0xB7: _ = try rmOps(&dd, &p, osz); dd.op = .movzx; dd.sub = b1 == 0xB6 ? 1 : 2
            if b1 == 0xB6, dd.mem == 0 { dd.rm = try rmByteOff(dd, p) }
        case 0xBE, 0xBF: _ = try rmOps(&dd, &p, osz); dd.op = .movsx; dd.sub = b1 == 0xBE ? 1 : 2
            if b1 == 0xBE, dd.mem == 0 { dd.rm = try rmByteOff(dd, p) }
        case 0xB8:
            if repKind != 1 { ud(&dd, report: true); break }
            _ = try rmOps(&dd, &p, osz); dd.op = .popcnt
        case 0xBA:
            let r = try rmOps(&dd, &p, osz)
            if r < 4 { ud(&dd, report: true); break }
            dd.op = .btRmI; dd.sub = r - 4
            dd.imm = UInt64(try fb(p)); p += 1
        case 0xBC: _ = try rmOps(&dd, &p, osz); dd.op = repKind == 1 ? .tzcnt : .bsf
        case 0xBD: _ = try rmOps(&dd, &p, osz); dd.op = repKind == 1 ? .lzcnt : .bsr
        case 0xC0, 0xC1: _ = try rmOps(&dd, &p, b1 == 0xC0 ? 1 : osz); dd.op = .xadd
        case 0xC3:
            _ = try rmOps(&dd, &p, osz == 8 ? 8 : 4)
            dd.op = dd.mem == 0 ? .ud : .movRmR
        case 0xC7:
            let r = try rmOps(&dd, &p, osz)
            if r == 1 && dd.mem != 0 { dd.op = .cmpxchg8b } else { ud(&dd, report: true) }
        case 0xC8...0xCF: dd.op = .bswap; dd.reg = (b1 & 7 | (rex & 1) << 3) * 8
        // SSE / SSE2
        case 0x10...0x17, 0x28...0x2F, 0x50...0x6F, 0x74...0x76, 0x7E, 0x7F, 0xC2, 0xC4...0xC6,
             0xD0...0xFE:
            let imm8 = b1 == 0xC2 || b1 == 0xC4 || b1 == 0xC5 || b1 == 0xC6
            try sseOps(&dd, &p, 0x0F00 | UInt16(b1), imm8: imm8)
        case 0x70...0x73:
            try sseOps(&dd, &p, 0x0F00 | UInt16(b1), imm8: true)
        case 0x77: dd.op = .nop   // EMMS
        case 0x38:
            let b2 = try fb(p); p += 1
            try sseOps(&dd, &p, 0x3800 | UInt16(b2), imm8: false)
        case 0x3A:
            let b2 = try fb(p); p += 1
            try sseOps(&dd, &p, 0x3A00 | UInt16(b2), imm8: true)
        default:
            ud(&dd, report: true)
        }
    }

    /// MOVZX/MOVSX with an 8-bit register source: the rm offset must use the
    /// byte-register encoding.
    @inline(__always)
    func rmByteOff(_ dd: DInsn, _ p: Int) throws(CPUFault) -> UInt8 {
        let idx = dd.rm >> 3
        return bregOff(idx, dd.pfx & P.rex != 0)
    }
}
