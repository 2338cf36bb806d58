// The hot path: run loop, lazy flags, memory fast path and the semantics of
// the integer instructions. Everything the loop calls per instruction is in
// this file and marked @inline(__always) so that builds without whole-module
// optimisation stay fast.

typealias UIntX = FixedWidthInteger & UnsignedInteger

// Constants live in this file so the hot path sees their values (other
// files would reach them through global accessors in non-WMO builds).
// Byte offsets in the register file.
let regZero: UInt8 = 128            // an always-zero slot used for "no base/index"
let tlbBits = 10
let tlbSize = 1 << tlbBits
let blockDirBits = 16
let blockDirSize = 1 << blockDirBits
let poolSize = 1 << 18
/// Longest block (records).
let maxBlock = 48
/// Set in a directory entry's generation for a block cut short at one
/// record (page generations stay below it).
let shortBlock: UInt32 = 1 << 31

// RFLAGS bits.
let fCF: UInt64 = 1, fPF: UInt64 = 1 << 2, fAF: UInt64 = 1 << 4, fZF: UInt64 = 1 << 6, fSF: UInt64 = 1 << 7
let fTF: UInt64 = 1 << 8, fIF: UInt64 = 1 << 9, fDF: UInt64 = 1 << 10, fOF: UInt64 = 1 << 11
let fIOPL: UInt64 = 3 << 12, fNT: UInt64 = 1 << 14, fRF: UInt64 = 1 << 16, fVM: UInt64 = 1 << 17
let fAC: UInt64 = 1 << 18, fVIF: UInt64 = 1 << 19, fVIP: UInt64 = 1 << 20, fID: UInt64 = 1 << 21
let arithMask: UInt64 = fCF | fPF | fAF | fZF | fSF | fOF

/// Prefix bits in `DInsn.pfx`.
enum P {
    static let rep: UInt8 = 1       // F3
    static let repne: UInt8 = 2     // F2
    static let lock: UInt8 = 4
    static let o16: UInt8 = 8       // 66 present
    static let rex: UInt8 = 16      // REX present
    static let rexW: UInt8 = 32
    static let cl: UInt8 = 64       // shift/SHLD count from CL
    static let segOvr: UInt8 = 128  // explicit segment override
}


/// A decoded instruction read in place (no copy of the record per instruction).
struct DRef {
    let p: UnsafeMutablePointer<DInsn>
    @inline(__always) var v: DInsn { p.pointee }
    @inline(__always) var imm: UInt64 { p.pointee.imm }
    @inline(__always) var disp: Int32 { p.pointee.disp }
    @inline(__always) var op: Op { p.pointee.op }
    @inline(__always) var imm2: UInt16 { p.pointee.imm2 }
    @inline(__always) var len: UInt8 { p.pointee.len }
    @inline(__always) var osz: UInt8 { p.pointee.osz }
    @inline(__always) var reg: UInt8 { p.pointee.reg }
    @inline(__always) var rm: UInt8 { p.pointee.rm }
    @inline(__always) var base: UInt8 { p.pointee.base }
    @inline(__always) var index: UInt8 { p.pointee.index }
    @inline(__always) var scale: UInt8 { p.pointee.scale }
    @inline(__always) var seg: UInt8 { p.pointee.seg }
    @inline(__always) var ashift: UInt8 { p.pointee.ashift }
    @inline(__always) var mem: UInt8 { p.pointee.mem }
    @inline(__always) var sub: UInt8 { p.pointee.sub }
    @inline(__always) var pfx: UInt8 { p.pointee.pfx }
}

extension CPU {

    // MARK: run loop

    /// Runs until `stopAt`, HLT, a stop request, a breakpoint or a triple fault.
    public func run() -> CPUStop {
        if tripleFaulted { return .tripleFault(vector: tripleInfo.0, errorCode: tripleInfo.1) }
        skipBreakpointOnce = true
        updateLimit()
        while true {
            if retired >= limit {
                if let stop = boundary() { return stop }
            }
            curRip = rip
            do {
                let lin = (sbase[1] &+ rip) & linMask
                if lin & ~0xFFF != fetchLin { try setFetch(lin) }
                let pa = fetchPhys | (lin & 0xFFF)
                let be = blockDir + (Int(truncatingIfNeeded: pa) & (blockDirSize - 1))
                var dp: UnsafeMutablePointer<DInsn>
                let end: UnsafeMutablePointer<DInsn>
                if be.pointee.tag == (pa << 2 | fetchKey)
                    && be.pointee.gen == pageGen[Int(truncatingIfNeeded: pa >> 12)] {
                    dp = pool + Int(be.pointee.start)
                    end = dp + Int(be.pointee.count)
                } else {
                    dp = try blockMiss(be, lin: lin, pa: pa)
                    end = dp == scratch ? dp + 1 : dp + Int(be.pointee.count)
                }
                // Run the block: straight on while control falls through.
                // Anything that changes the code mapping (CR0/CR3/CR4, EFER,
                // INVLPG, a CS or SS load) or writes cached code sets
                // `limit` to 0, which also ends the block.
                while true {
                    let next = (rip &+ UInt64(dp.pointee.len)) & ripMask
                    rip = next
                    try exec(dp)
                    retired &+= 1
                    dp += 1
                    if dp == end || rip != next || retired >= limit { break }
                    curRip = next
                }
            } catch {
                rip = curRip
                stepArmed = false
                let delivered = deliverFault()
                // The faulting instruction does not retire, but the delivery
                // takes one instruction slot: a guest in a fault storm (say
                // a #PF handler whose own code is unmapped, on an IST stack)
                // still advances time and reaches `stopAt`.
                retired &+= 1
                if !delivered {
                    return .tripleFault(vector: tripleInfo.0, errorCode: tripleInfo.1)
                }
            }
        }
    }

    /// A directory miss. When the run will stop after this instruction
    /// anyway (a breakpoint or watchpoint is set, single-stepping, a slice
    /// ending here) only one record is decoded, and the entry is marked
    /// short (`shortBlock` in its generation) so a full-speed run replaces
    /// it with a whole block while stepping keeps reusing it; otherwise
    /// every stepped instruction would decode a whole block ahead.
    func blockMiss(_ be: UnsafeMutablePointer<BlockEntry>, lin: UInt64, pa: UInt64) throws(CPUFault) -> UnsafeMutablePointer<DInsn> {
        let single = limit <= retired &+ 1
        if single && be.pointee.tag == (pa << 2 | fetchKey)
            && be.pointee.gen == pageGen[Int(truncatingIfNeeded: pa >> 12)] | shortBlock {
            return pool + Int(be.pointee.start)
        }
        return try buildBlock(be, lin: lin, pa: pa, records: single ? 1 : maxBlock)
    }

    /// Decodes the block starting at `lin` / `pa` into the pool and enters it
    /// in the directory; an instruction that may not be cached (it crosses
    /// a page, or the page is not RAM/ROM) is decoded into `scratch` alone.
    /// Only the first instruction's decoding faults are raised; decoding
    /// ahead stops quietly at anything it cannot decode within the page.
    func buildBlock(_ be: UnsafeMutablePointer<BlockEntry>, lin: UInt64, pa: UInt64, records: Int) throws(CPUFault) -> UnsafeMutablePointer<DInsn> {
        let cacheable = try decode(scratch, lin: lin, pa: pa)
        if !cacheable || !fetchCacheable {
            scratch.pointee.tag = .max
            return scratch
        }
        if poolUsed + maxBlock > poolSize { flushBlocks() }
        let start = poolUsed
        pool[poolUsed] = scratch.pointee
        specialise(pool + poolUsed)
        poolUsed += 1
        markCode(pa, Int(scratch.pointee.len))
        var n = 1
        var off = UInt64(scratch.pointee.len)
        var last = scratch.pointee.op
        dNoCross = true
        while n < records && !endsBlock(last) {
            let npa = pa &+ off
            if (npa ^ pa) >> 12 != 0 { break }
            // 16-bit code wrapping at 0xFFFF continues at CS:0, not here.
            if (rip &+ off) & ripMask != rip &+ off { break }
            let ok: Bool
            do { ok = try decode(scratch, lin: lin &+ off, pa: npa) } catch { ok = false }
            if !ok { break }
            pool[poolUsed] = scratch.pointee
            specialise(pool + poolUsed)
            poolUsed += 1
            markCode(npa, Int(scratch.pointee.len))
            n += 1
            off &+= UInt64(scratch.pointee.len)
            last = scratch.pointee.op
        }
        dNoCross = false
        let gen = pageGen[Int(truncatingIfNeeded: pa >> 12)]
        be.pointee = BlockEntry(tag: pa << 2 | codeMode, start: Int32(start), count: Int32(n),
                                gen: records < maxBlock ? gen | shortBlock : gen)
        return pool + start
    }

    /// Replaces the operation of a cached record by its form specialised
    /// for the operand size and kind (register or memory), so the commonest
    /// instructions skip those tests when they run. Only 32- and 64-bit
    /// forms without prefixes that change their meaning are specialised.
    func specialise(_ p: UnsafeMutablePointer<DInsn>) {
        let d = p.pointee
        if d.pfx & P.lock != 0 { return }
        let w: Bool
        switch d.osz {
        case 8: w = true
        case 4: w = false
        default: return
        }
        let m = d.mem != 0
        let op: Op
        switch d.op {
        case .movRmR: op = m ? (w ? .st64 : .st32) : (w ? .movRR64 : .movRR32)
        case .movRRm: op = m ? (w ? .ld64 : .ld32) : (w ? .movRrR64 : .movRrR32)
        case .aluRmR: if m { return }; op = w ? .aluRR64 : .aluRR32
        case .aluRmI: if m { return }; op = w ? .aluRI64 : .aluRI32
        case .aluRRm: if !m { return }; op = w ? .aluLd64 : .aluLd32
        case .shiftRm:
            if m || d.pfx & P.cl != 0 { return }
            switch d.sub {
            case 4, 6: op = w ? .shlRI64 : .shlRI32
            case 5: op = w ? .shrRI64 : .shrRI32
            case 7: op = w ? .sarRI64 : .sarRI32
            default: return
            }
        case .lea: op = w ? .lea64 : .lea32
        case .pushR: if !w { return }; op = .push64
        case .popR: if !w { return }; op = .pop64
        case .callRel: if !w { return }; op = .call64
        case .ret: if !w || d.imm != 0 { return }; op = .ret64
        default: return
        }
        p.pointee.op = op
    }

    /// Instructions after which decoding a block stops (control always or
    /// usually leaves, or the machine state the decoding depends on changes).
    func endsBlock(_ op: Op) -> Bool {
        switch op {
        case .jmpRel, .jmpRm, .jmpFar, .jmpFarM, .callRel, .callRm, .callFar, .callFarM, .ret, .retf, .iret,
             .intN, .int3, .into, .int1, .hlt, .ud, .syscall, .sysret, .sysenter, .sysexit,
             .movCR, .movDR, .grp6, .grp7, .wrmsr, .movSegRm, .popSeg, .lfp, .popf, .flagOp:
            return true
        default:
            return false
        }
    }

    /// The slow instruction boundary: stop requests, interrupts, HLT,
    /// `stopAt`, breakpoints. Returns nil to go on executing.
    func boundary() -> CPUStop? {
        if tripleFaulted { return .tripleFault(vector: tripleInfo.0, errorCode: tripleInfo.1) }
        if stepArmed {
            // single-step trap for the instruction that just completed with TF=1
            stepArmed = false
            if !deliverDebugTrap() { return .tripleFault(vector: tripleInfo.0, errorCode: tripleInfo.1) }
        }
        if stopRequested {
            stopRequested = false
            updateLimit()
            return .stopRequested
        }
        if watchHit {
            watchHit = false
            updateLimit()
            return .breakpoint
        }
        if intrLine && fl & fIF != 0 && retired != shadowAt {
            halted = false
            let v = bus.interruptAcknowledge()
            if !deliverExternal(v) {
                return .tripleFault(vector: tripleInfo.0, errorCode: tripleInfo.1)
            }
            // The handler's first instruction is not the one run() resumed
            // at: a breakpoint on it must stop.
            skipBreakpointOnce = false
            // A stop requested during the delivery (a debugger watching
            // interrupts) takes effect before the handler runs.
            if stopRequested {
                stopRequested = false
                updateLimit()
                return .stopRequested
            }
        }
        if halted {
            updateLimit()
            return .halted
        }
        // Breakpoints before the slice limit: a run() that ends at a
        // breakpoint reports it instead of skipping it on the next run().
        if bpActive {
            if skipBreakpointOnce {
                skipBreakpointOnce = false
            } else if breakpoints.contains((sbase[1] &+ rip) & linMask) {
                return .breakpoint
            }
        }
        if retired >= stopAt {
            updateLimit()
            return .limit
        }
        if fl & fTF != 0 && retired != shadowAt { stepArmed = true }
        updateLimit()
        return nil
    }

    /// Recomputes `limit`: `stopAt`, or 0 when the boundary needs attention.
    @inline(__always)
    func updateLimit() {
        if stopRequested || halted || watchHit || bpActive || tripleFaulted || (intrLine && fl & fIF != 0)
            || fl & fTF != 0 || stepArmed {
            limit = 0
        } else {
            limit = stopAt
        }
    }

    /// Software-TLB slot of a linear address. Consecutive pages never share a
    /// slot (the fold adds: slot(P+1) - slot(P) is 1 or 2, also across the
    /// wrap from the top of the address space to page 0), which the fast
    /// paths rely on: they look up the slot of an access's first byte and
    /// compare its tag with the page of the last byte, so an access crossing
    /// into the next page must miss. Folding in the 4 MiB number keeps
    /// buffers a power of two apart out of each other's slots.
    @inline(__always) func tlbIndex(_ lin: UInt64) -> Int {
        Int(truncatingIfNeeded: (lin &>> 12) &+ (lin &>> 22)) & (tlbSize - 1)
    }

    // MARK: register file

    @inline(__always) func gr<T: UIntX>(_ off: UInt8) -> T { regs.load(fromByteOffset: Int(off), as: T.self) }
    @inline(__always) func gw<T: UIntX>(_ off: UInt8, _ v: T) {
        if T.bitWidth == 32 {
            regs.storeBytes(of: UInt64(truncatingIfNeeded: v), toByteOffset: Int(off), as: UInt64.self)
        } else {
            regs.storeBytes(of: v, toByteOffset: Int(off), as: T.self)
        }
    }
    @inline(__always) func r64(_ i: Int) -> UInt64 { regs.load(fromByteOffset: i &* 8, as: UInt64.self) }
    @inline(__always) func w64(_ i: Int, _ v: UInt64) { regs.storeBytes(of: v, toByteOffset: i &* 8, as: UInt64.self) }
    /// Writes an address-sized register (SI/ESI/RSI ...) as `ashift` says.
    @inline(__always) func wA(_ i: Int, _ v: UInt64, _ ashift: UInt8) {
        if ashift == 0 { w64(i, v) }
        else if ashift == 32 { w64(i, v & 0xFFFF_FFFF) }
        else { regs.storeBytes(of: UInt16(truncatingIfNeeded: v), toByteOffset: i &* 8, as: UInt16.self) }
    }

    // MARK: lazy flags

    @inline(__always) func sx64<T: UIntX>(_ r: T) -> UInt64 {
        let s = UInt64(64 - T.bitWidth)
        return UInt64(bitPattern: Int64(bitPattern: UInt64(truncatingIfNeeded: r) &<< s) &>> Int64(s))
    }
    /// Auxiliary bits from a carry (or borrow) vector.
    @inline(__always) func cvAux<T: UIntX>(_ cv: T) -> UInt64 {
        let c = UInt64(truncatingIfNeeded: cv)
        return ((c &<< UInt64(64 - T.bitWidth)) &>> 32) & 0xC000_0000 | (c & 8)
    }
    @inline(__always) func mkAux(_ cf: Bool, _ of: Bool, _ af: Bool) -> UInt64 {
        (cf ? 0x8000_0000 : 0) | (cf != of ? 0x4000_0000 : 0) | (af ? 8 : 0)
    }
    @inline(__always) var cfv: Bool { lfAux & 0x8000_0000 != 0 }
    @inline(__always) var ofv: Bool { (lfAux ^ (lfAux &<< 1)) & 0x8000_0000 != 0 }
    @inline(__always) var zfv: Bool { lfRes == 0 }
    @inline(__always) var sfv: Bool { ((lfRes &>> 63) ^ (lfAux &>> 8)) & 1 != 0 }
    @inline(__always) var afv: Bool { lfAux & 8 != 0 }
    @inline(__always) var pfv: Bool {
        var x = UInt8(truncatingIfNeeded: lfRes)
        x ^= x &>> 4; x ^= x &>> 2; x ^= x &>> 1
        return ((x ^ 1) & 1) ^ UInt8(truncatingIfNeeded: (lfAux &>> 9) & 1) != 0
    }
    /// Changes CF and OF, keeping the other flags.
    @inline(__always) func setCFOF(_ cf: Bool, _ of: Bool) {
        lfAux = (lfAux & ~0xC000_0000) | (cf ? 0x8000_0000 : 0) | (cf != of ? 0x4000_0000 : 0)
    }
    @inline(__always) func setCF(_ cf: Bool) { setCFOF(cf, ofv) }

    /// Encodes the six arithmetic flags of `f` into the lazy representation.
    @inline(__always) func setArith(_ f: UInt64) {
        let cf = f & fCF != 0, of = f & fOF != 0, af = f & fAF != 0
        lfRes = f & fZF != 0 ? 0 : 0x100
        lfAux = mkAux(cf, of, af) | (f & fSF != 0 ? 0x100 : 0) | (f & fPF != 0 ? 0 : 0x200)
    }
    @inline(__always) func arithFlags() -> UInt64 {
        var f: UInt64 = 0
        if cfv { f |= fCF }
        if pfv { f |= fPF }
        if afv { f |= fAF }
        if zfv { f |= fZF }
        if sfv { f |= fSF }
        if ofv { f |= fOF }
        return f
    }
    func materializedFlags() -> UInt64 { (fl & ~arithMask) | arithFlags() | 2 }
    /// Loads all of RFLAGS (no privilege rules).
    func loadFlags(_ v: UInt64) {
        fl = (v & 0x3F_7FD7 & ~arithMask) | 2
        setArith(v)
    }

    @inline(__always) func cond(_ cc: UInt8) -> Bool {
        let r: Bool
        switch cc >> 1 {
        case 0: r = ofv
        case 1: r = cfv
        case 2: r = lfRes == 0
        case 3: r = cfv || lfRes == 0
        case 4: r = sfv
        case 5: r = pfv
        case 6: r = sfv != ofv
        default: r = lfRes == 0 || sfv != ofv
        }
        return r != (cc & 1 != 0)
    }

    @inline(__always) func addF<T: UIntX>(_ a: T, _ b: T, _ c: T) -> T {
        let r = a &+ b &+ c
        lfRes = sx64(r)
        lfAux = cvAux((a & b) | ((a | b) & ~r))
        return r
    }
    @inline(__always) func subF<T: UIntX>(_ a: T, _ b: T, _ c: T) -> T {
        let r = a &- b &- c
        lfRes = sx64(r)
        lfAux = cvAux((~a & b) | (~(a ^ b) & r))
        return r
    }
    @inline(__always) func logicF<T: UIntX>(_ r: T) {
        lfRes = sx64(r)
        lfAux = 0
    }
    @inline(__always) func aluOp<T: UIntX>(_ k: UInt8, _ a: T, _ b: T) -> T {
        switch k {
        case 0: return addF(a, b, 0)
        case 1: let r = a | b; logicF(r); return r
        case 2: return addF(a, b, cfv ? 1 : 0)
        case 3: return subF(a, b, cfv ? 1 : 0)
        case 4: let r = a & b; logicF(r); return r
        case 6: let r = a ^ b; logicF(r); return r
        default: return subF(a, b, 0)
        }
    }

    // MARK: memory fast path

    /// Effective address (offset within the segment, masked to the address size).
    @inline(__always) func eaOff(_ d: DRef) -> UInt64 {
        var a = UInt64(bitPattern: Int64(d.disp)) &+ regs.load(fromByteOffset: Int(d.base), as: UInt64.self)
            &+ (regs.load(fromByteOffset: Int(d.index), as: UInt64.self) &<< UInt64(d.scale))
        if d.mem == 2 { a = a &+ rip }
        return a & (UInt64.max &>> UInt64(d.ashift))
    }
    /// Linear address of the memory operand.
    @inline(__always) func ea(_ d: DRef) -> UInt64 {
        (eaOff(d) &+ sbase[Int(d.seg)]) & linMask
    }
    // Value-record versions for the colder files.
    func eaOff(_ d: DInsn) -> UInt64 {
        var a = UInt64(bitPattern: Int64(d.disp)) &+ regs.load(fromByteOffset: Int(d.base), as: UInt64.self)
            &+ (regs.load(fromByteOffset: Int(d.index), as: UInt64.self) &<< UInt64(d.scale))
        if d.mem == 2 { a = a &+ rip }
        return a & (UInt64.max &>> UInt64(d.ashift))
    }
    func ea(_ d: DInsn) -> UInt64 {
        (eaOff(d) &+ sbase[Int(d.seg)]) & linMask
    }
    func rdRM<T: UIntX>(_ d: DInsn) throws(CPUFault) -> T {
        if d.mem == 0 { return gr(d.rm) }
        return try rd(ea(d))
    }
    func wrRM<T: UIntX>(_ d: DInsn, _ v: T) throws(CPUFault) {
        if d.mem == 0 { gw(d.rm, v); return }
        try wr(ea(d), v)
    }
    @inline(__always) func segLin(_ seg: Int, _ off: UInt64) -> UInt64 {
        (off &+ sbase[seg]) & linMask
    }

    @inline(__always) func rd<T: UIntX>(_ lin: UInt64) throws(CPUFault) -> T {
        let sz = UInt64(MemoryLayout<T>.size)
        let e = tlb + (tlbIndex(lin))
        if e.pointee.rtag == (lin &+ (sz &- 1)) & ~0xFFF {
            return UnsafeRawPointer(bitPattern: e.pointee.addend &+ Int(truncatingIfNeeded: lin)).unsafelyUnwrapped
                .loadUnaligned(as: T.self)
        }
        return T(truncatingIfNeeded: try readSlow(lin, Int(sz), write: false))
    }
    /// Read with write intent (read-modify-write): faults like a write.
    @inline(__always) func rdW<T: UIntX>(_ lin: UInt64) throws(CPUFault) -> T {
        let sz = UInt64(MemoryLayout<T>.size)
        let e = tlb + (tlbIndex(lin))
        if e.pointee.wtag == (lin &+ (sz &- 1)) & ~0xFFF {
            return UnsafeRawPointer(bitPattern: e.pointee.addend &+ Int(truncatingIfNeeded: lin)).unsafelyUnwrapped
                .loadUnaligned(as: T.self)
        }
        return T(truncatingIfNeeded: try readSlow(lin, Int(sz), write: true))
    }
    @inline(__always) func wr<T: UIntX>(_ lin: UInt64, _ v: T) throws(CPUFault) {
        let sz = UInt64(MemoryLayout<T>.size)
        let e = tlb + (tlbIndex(lin))
        if e.pointee.wtag == (lin &+ (sz &- 1)) & ~0xFFF {
            UnsafeMutableRawPointer(bitPattern: e.pointee.addend &+ Int(truncatingIfNeeded: lin)).unsafelyUnwrapped
                .storeBytes(of: v, as: T.self)
            return
        }
        try writeMiss(lin, UInt64(truncatingIfNeeded: v), Int(sz))
    }
    /// A store that missed the write fast path. Stores to RAM pages that
    /// hold cached code (data next to code is common in small kernels) are
    /// handled here without a page walk: drop the decoded instructions of
    /// the touched lines, then store.
    @inline(never)
    func writeMiss(_ lin: UInt64, _ v: UInt64, _ size: Int) throws(CPUFault) {
        let e = tlb + tlbIndex(lin)
        let off = Int(lin & 0xFFF)
        if e.pointee.vwtag == lin & ~0xFFF && off + size <= 4096 && !watchActive {
            let pa = e.pointee.phys | UInt64(off)
            if pa < ramLimit {
                let p = Int(pa >> 12)
                if pageKinds[p] == 0 {     // RAM
                    if codePages[p] != 0 { invalidateCodeRange(pa, size) }
                    let hp = UnsafeMutableRawPointer(ramBase + Int(pa))
                    switch size {
                    case 1: hp.storeBytes(of: UInt8(truncatingIfNeeded: v), as: UInt8.self)
                    case 2: hp.storeBytes(of: UInt16(truncatingIfNeeded: v), as: UInt16.self)
                    case 4: hp.storeBytes(of: UInt32(truncatingIfNeeded: v), as: UInt32.self)
                    default: hp.storeBytes(of: v, as: UInt64.self)
                    }
                    return
                }
            }
        }
        try writeSlow(lin, v, size)
    }
    /// Host pointer for reading `lin` when the TLB already maps it to RAM.
    @inline(__always) func hostR(_ lin: UInt64) -> UnsafeMutableRawPointer? {
        let e = tlb + (tlbIndex(lin))
        if e.pointee.rtag == lin & ~0xFFF { return UnsafeMutableRawPointer(bitPattern: e.pointee.addend &+ Int(truncatingIfNeeded: lin)) }
        return nil
    }
    @inline(__always) func hostW(_ lin: UInt64) -> UnsafeMutableRawPointer? {
        let e = tlb + (tlbIndex(lin))
        if e.pointee.wtag == lin & ~0xFFF { return UnsafeMutableRawPointer(bitPattern: e.pointee.addend &+ Int(truncatingIfNeeded: lin)) }
        return nil
    }

    @inline(__always) func rdRM<T: UIntX>(_ d: DRef) throws(CPUFault) -> T {
        if d.mem == 0 { return gr(d.rm) }
        return try rd(ea(d))
    }
    @inline(__always) func wrRM<T: UIntX>(_ d: DRef, _ v: T) throws(CPUFault) {
        if d.mem == 0 { gw(d.rm, v); return }
        try wr(ea(d), v)
    }

    // MARK: stack

    @inline(__always) var rspv: UInt64 { regs.load(fromByteOffset: 32, as: UInt64.self) }
    @inline(__always) func setRSP(_ v: UInt64) {
        let old = rspv
        regs.storeBytes(of: (old & ~ssMask) | (v & ssMask), toByteOffset: 32, as: UInt64.self)
    }
    @inline(__always) func stackLin(_ sp: UInt64) -> UInt64 { ((sp & ssMask) &+ sbase[2]) & linMask }
    @inline(__always) func push<T: UIntX>(_ v: T) throws(CPUFault) {
        let sp = rspv &- UInt64(MemoryLayout<T>.size)
        try wr(stackLin(sp), v)
        setRSP(sp)
    }
    @inline(__always) func pop<T: UIntX>() throws(CPUFault) -> T {
        let sp = rspv
        let v: T = try rd(stackLin(sp))
        setRSP(sp &+ UInt64(MemoryLayout<T>.size))
        return v
    }
    /// Pushes `v` with operand size `s` (2, 4 or 8).
    @inline(__always) func pushS(_ v: UInt64, _ s: UInt8) throws(CPUFault) {
        switch s {
        case 2: try push(UInt16(truncatingIfNeeded: v))
        case 4: try push(UInt32(truncatingIfNeeded: v))
        default: try push(v)
        }
    }
    @inline(__always) func popS(_ s: UInt8) throws(CPUFault) -> UInt64 {
        switch s {
        case 2: return UInt64(try pop() as UInt16)
        case 4: return UInt64(try pop() as UInt32)
        default: return try pop() as UInt64
        }
    }
    @inline(__always) func bmask(_ osz: UInt8) -> UInt64 { UInt64.max &>> UInt64(64 - Int(osz) * 8) }

    // MARK: the instruction switch

    // swiftlint:disable:next function_body_length cyclomatic_complexity
    @inline(__always)
    func exec(_ dp: UnsafeMutablePointer<DInsn>) throws(CPUFault) {
        let d = DRef(p: dp)
        switch d.op {
        case .movRR64: gw(d.rm, gr(d.reg) as UInt64)
        case .movRR32: gw(d.rm, gr(d.reg) as UInt32)
        case .movRrR64: gw(d.reg, gr(d.rm) as UInt64)
        case .movRrR32: gw(d.reg, gr(d.rm) as UInt32)
        case .ld64: gw(d.reg, try rd(ea(d)) as UInt64)
        case .ld32: gw(d.reg, try rd(ea(d)) as UInt32)
        case .st64: try wr(ea(d), gr(d.reg) as UInt64)
        case .st32: try wr(ea(d), gr(d.reg) as UInt32)
        case .aluRR64:
            let r = aluOp(d.sub, gr(d.rm) as UInt64, gr(d.reg) as UInt64)
            if d.sub != 7 { gw(d.rm, r) }
        case .aluRR32:
            let r = aluOp(d.sub, gr(d.rm) as UInt32, gr(d.reg) as UInt32)
            if d.sub != 7 { gw(d.rm, r) }
        case .aluRI64:
            let r = aluOp(d.sub, gr(d.rm) as UInt64, d.imm)
            if d.sub != 7 { gw(d.rm, r) }
        case .aluRI32:
            let r = aluOp(d.sub, gr(d.rm) as UInt32, UInt32(truncatingIfNeeded: d.imm))
            if d.sub != 7 { gw(d.rm, r) }
        case .aluLd64:
            let r = aluOp(d.sub, gr(d.reg) as UInt64, try rd(ea(d)) as UInt64)
            if d.sub != 7 { gw(d.reg, r) }
        case .aluLd32:
            let r = aluOp(d.sub, gr(d.reg) as UInt32, try rd(ea(d)) as UInt32)
            if d.sub != 7 { gw(d.reg, r) }
        case .shlRI64: let c = d.imm & 63; if c != 0 { gw(d.rm, shlF(gr(d.rm) as UInt64, c)) }
        case .shlRI32:
            // A count of 0 leaves the flags alone but still writes the
            // register (the upper half of the 64-bit register is cleared).
            let c = d.imm & 31, a = gr(d.rm) as UInt32
            gw(d.rm, c != 0 ? shlF(a, c) : a)
        case .shrRI64: let c = d.imm & 63; if c != 0 { gw(d.rm, shrF(gr(d.rm) as UInt64, c)) }
        case .shrRI32:
            // A count of 0 leaves the flags alone but still writes the
            // register (the upper half of the 64-bit register is cleared).
            let c = d.imm & 31, a = gr(d.rm) as UInt32
            gw(d.rm, c != 0 ? shrF(a, c) : a)
        case .sarRI64: let c = d.imm & 63; if c != 0 { gw(d.rm, sarF(gr(d.rm) as UInt64, c)) }
        case .sarRI32:
            // A count of 0 leaves the flags alone but still writes the
            // register (the upper half of the 64-bit register is cleared).
            let c = d.imm & 31, a = gr(d.rm) as UInt32
            gw(d.rm, c != 0 ? sarF(a, c) : a)
        case .lea64: gw(d.reg, eaOff(d))
        case .lea32: gw(d.reg, UInt32(truncatingIfNeeded: eaOff(d)))
        case .push64: try push(gr(d.reg) as UInt64)
        case .pop64: let v: UInt64 = try pop(); gw(d.reg, v)
        case .call64:
            try push(rip)
            rip = rip &+ d.imm
        case .ret64:
            rip = try pop() as UInt64
        case .movRmR:
            switch d.osz {
            case 1: try wrRM(d, gr(d.reg) as UInt8)
            case 2: try wrRM(d, gr(d.reg) as UInt16)
            case 4: try wrRM(d, gr(d.reg) as UInt32)
            default: try wrRM(d, gr(d.reg) as UInt64)
            }
        case .movRRm:
            switch d.osz {
            case 1: gw(d.reg, try rdRM(d) as UInt8)
            case 2: gw(d.reg, try rdRM(d) as UInt16)
            case 4: gw(d.reg, try rdRM(d) as UInt32)
            default: gw(d.reg, try rdRM(d) as UInt64)
            }
        case .movRmI:
            switch d.osz {
            case 1: try wrRM(d, UInt8(truncatingIfNeeded: d.imm))
            case 2: try wrRM(d, UInt16(truncatingIfNeeded: d.imm))
            case 4: try wrRM(d, UInt32(truncatingIfNeeded: d.imm))
            default: try wrRM(d, d.imm)
            }
        case .aluRmR:
            switch d.osz {
            case 1: try aluRmR(d, UInt8.self)
            case 2: try aluRmR(d, UInt16.self)
            case 4: try aluRmR(d, UInt32.self)
            default: try aluRmR(d, UInt64.self)
            }
        case .aluRRm:
            switch d.osz {
            case 1: try aluRRm(d, UInt8.self)
            case 2: try aluRRm(d, UInt16.self)
            case 4: try aluRRm(d, UInt32.self)
            default: try aluRRm(d, UInt64.self)
            }
        case .aluRmI:
            switch d.osz {
            case 1: try aluRmI(d, UInt8.self)
            case 2: try aluRmI(d, UInt16.self)
            case 4: try aluRmI(d, UInt32.self)
            default: try aluRmI(d, UInt64.self)
            }
        case .testRmR:
            switch d.osz {
            case 1: logicF((try rdRM(d) as UInt8) & gr(d.reg))
            case 2: logicF((try rdRM(d) as UInt16) & gr(d.reg))
            case 4: logicF((try rdRM(d) as UInt32) & gr(d.reg))
            default: logicF((try rdRM(d) as UInt64) & gr(d.reg))
            }
        case .testRmI:
            switch d.osz {
            case 1: logicF((try rdRM(d) as UInt8) & UInt8(truncatingIfNeeded: d.imm))
            case 2: logicF((try rdRM(d) as UInt16) & UInt16(truncatingIfNeeded: d.imm))
            case 4: logicF((try rdRM(d) as UInt32) & UInt32(truncatingIfNeeded: d.imm))
            default: logicF((try rdRM(d) as UInt64) & d.imm)
            }
        case .jcc:
            if cond(d.sub) { rip = (rip &+ d.imm) & bmask(d.osz) }
        case .jmpRel:
            rip = (rip &+ d.imm) & bmask(d.osz)
        case .callRel:
            try pushS(rip, d.osz)
            rip = (rip &+ d.imm) & bmask(d.osz)
        case .ret:
            let t = try popS(d.osz)
            if d.imm != 0 { setRSP(rspv &+ d.imm) }
            rip = t
        case .pushR:
            switch d.osz {
            case 2: try push(gr(d.reg) as UInt16)
            case 4: try push(gr(d.reg) as UInt32)
            default: try push(gr(d.reg) as UInt64)
            }
        case .popR:
            switch d.osz {
            case 2: let v: UInt16 = try pop(); gw(d.reg, v)
            case 4: let v: UInt32 = try pop(); gw(d.reg, v)
            default: let v: UInt64 = try pop(); gw(d.reg, v)
            }
        case .lea:
            let a = eaOff(d)
            switch d.osz {
            case 2: gw(d.reg, UInt16(truncatingIfNeeded: a))
            case 4: gw(d.reg, UInt32(truncatingIfNeeded: a))
            default: gw(d.reg, a)
            }
        case .incRm, .decRm, .notRm, .negRm:
            switch d.osz {
            case 1: try unary(d, UInt8.self)
            case 2: try unary(d, UInt16.self)
            case 4: try unary(d, UInt32.self)
            default: try unary(d, UInt64.self)
            }
        case .movzx:
            let v: UInt64 = d.sub == 1 ? UInt64(try rdRM(d) as UInt8) : UInt64(try rdRM(d) as UInt16)
            switch d.osz {
            case 2: gw(d.reg, UInt16(truncatingIfNeeded: v))
            case 4: gw(d.reg, UInt32(truncatingIfNeeded: v))
            default: gw(d.reg, v)
            }
        case .movsx:
            let v: UInt64
            switch d.sub {
            case 1: v = UInt64(bitPattern: Int64(Int8(bitPattern: try rdRM(d) as UInt8)))
            case 2: v = UInt64(bitPattern: Int64(Int16(bitPattern: try rdRM(d) as UInt16)))
            default: v = UInt64(bitPattern: Int64(Int32(bitPattern: try rdRM(d) as UInt32)))
            }
            switch d.osz {
            case 2: gw(d.reg, UInt16(truncatingIfNeeded: v))
            case 4: gw(d.reg, UInt32(truncatingIfNeeded: v))
            default: gw(d.reg, v)
            }
        case .cmov:
            switch d.osz {
            case 2: let v: UInt16 = try rdRM(d); if cond(d.sub) { gw(d.reg, v) }
            case 4: let v: UInt32 = try rdRM(d); gw(d.reg, cond(d.sub) ? v : gr(d.reg) as UInt32)
            default: let v: UInt64 = try rdRM(d); if cond(d.sub) { gw(d.reg, v) }
            }
        case .setcc:
            try wrRM(d, UInt8(cond(d.sub) ? 1 : 0))
        case .jmpRm:
            switch d.osz {
            case 2: rip = UInt64(try rdRM(d) as UInt16)
            case 4: rip = UInt64(try rdRM(d) as UInt32)
            default: rip = try rdRM(d) as UInt64
            }
        case .callRm:
            let t: UInt64
            switch d.osz {
            case 2: t = UInt64(try rdRM(d) as UInt16)
            case 4: t = UInt64(try rdRM(d) as UInt32)
            default: t = try rdRM(d) as UInt64
            }
            try pushS(rip, d.osz)
            rip = t
        case .pushI:
            try pushS(d.imm, d.osz)
        case .pushRm:
            switch d.osz {
            case 2: try push(try rdRM(d) as UInt16)
            case 4: try push(try rdRM(d) as UInt32)
            default: try push(try rdRM(d) as UInt64)
            }
        case .popRm:
            let old = rspv
            let v = try popS(d.osz)
            do {
                switch d.osz {
                case 2: try wrRM(d, UInt16(truncatingIfNeeded: v))
                case 4: try wrRM(d, UInt32(truncatingIfNeeded: v))
                default: try wrRM(d, v)
                }
            } catch {
                setRSP(old)
                throw error
            }
        case .xchgRmR:
            switch d.osz {
            case 1: try xchg(d, UInt8.self)
            case 2: try xchg(d, UInt16.self)
            case 4: try xchg(d, UInt32.self)
            default: try xchg(d, UInt64.self)
            }
        case .nop:
            break
        case .shiftRm:
            let c: UInt64 = d.pfx & P.cl != 0 ? r64(1) & 0xFF : d.imm
            switch d.osz {
            case 1: try shiftRm(d, c, UInt8.self)
            case 2: try shiftRm(d, c, UInt16.self)
            case 4: try shiftRm(d, c, UInt32.self)
            default: try shiftRm(d, c, UInt64.self)
            }
        case .imulRRm, .imulRRmI:
            switch d.osz {
            case 2: try imul2(d, UInt16.self)
            case 4: try imul2(d, UInt32.self)
            default: try imul2(d, UInt64.self)
            }
        case .mulRm, .imulRm:
            switch d.osz {
            case 1: try mul1(d, UInt8.self)
            case 2: try mul1(d, UInt16.self)
            case 4: try mul1(d, UInt32.self)
            default: try mul1(d, UInt64.self)
            }
        case .divRm, .idivRm:
            switch d.osz {
            case 1: try div1(d, UInt8.self)
            case 2: try div1(d, UInt16.self)
            case 4: try div1(d, UInt32.self)
            default: try div1(d, UInt64.self)
            }
        case .movs:
            switch d.osz {
            case 1: try movs(d, UInt8.self)
            case 2: try movs(d, UInt16.self)
            case 4: try movs(d, UInt32.self)
            default: try movs(d, UInt64.self)
            }
        case .stos:
            switch d.osz {
            case 1: try stos(d, UInt8.self)
            case 2: try stos(d, UInt16.self)
            case 4: try stos(d, UInt32.self)
            default: try stos(d, UInt64.self)
            }
        case .lods:
            switch d.osz {
            case 1: try lods(d, UInt8.self)
            case 2: try lods(d, UInt16.self)
            case 4: try lods(d, UInt32.self)
            default: try lods(d, UInt64.self)
            }
        case .cmps:
            switch d.osz {
            case 1: try cmps(d, UInt8.self)
            case 2: try cmps(d, UInt16.self)
            case 4: try cmps(d, UInt32.self)
            default: try cmps(d, UInt64.self)
            }
        case .scas:
            switch d.osz {
            case 1: try scas(d, UInt8.self)
            case 2: try scas(d, UInt16.self)
            case 4: try scas(d, UInt32.self)
            default: try scas(d, UInt64.self)
            }
        case .ins, .outs:
            try insOuts(d.v)
        case .movAMoffs, .movMoffsA:
            let lin = segLin(Int(d.seg), d.imm & (UInt64.max &>> UInt64(d.ashift)))
            if d.op == .movAMoffs {
                switch d.osz {
                case 1: gw(0, try rd(lin) as UInt8)
                case 2: gw(0, try rd(lin) as UInt16)
                case 4: gw(0, try rd(lin) as UInt32)
                default: gw(0, try rd(lin) as UInt64)
                }
            } else {
                switch d.osz {
                case 1: try wr(lin, gr(0) as UInt8)
                case 2: try wr(lin, gr(0) as UInt16)
                case 4: try wr(lin, gr(0) as UInt32)
                default: try wr(lin, gr(0) as UInt64)
                }
            }
        case .loop:
            let am = UInt64.max &>> UInt64(d.ashift)
            let c = (r64(1) &- 1) & am
            wA(1, c, d.ashift)
            var take = c != 0
            if d.sub == 0 { take = take && !zfv } else if d.sub == 1 { take = take && zfv }
            if take { rip = (rip &+ d.imm) & bmask(d.osz) }
        case .jcxz:
            if r64(1) & (UInt64.max &>> UInt64(d.ashift)) == 0 { rip = (rip &+ d.imm) & bmask(d.osz) }
        case .leave:
            // RSP <- RBP, then pop RBP (stack-address sized copy).
            let bp = r64(5)
            let v: UInt64
            let sp = bp & ssMask
            switch d.osz {
            case 2: v = UInt64(try rd(stackLin(sp)) as UInt16)
            case 4: v = UInt64(try rd(stackLin(sp)) as UInt32)
            default: v = try rd(stackLin(sp)) as UInt64
            }
            setRSP(sp &+ UInt64(d.osz))
            switch d.osz {
            case 2: gw(5 * 8, UInt16(truncatingIfNeeded: v))
            case 4: gw(5 * 8, UInt32(truncatingIfNeeded: v))
            default: w64(5, v)
            }
        case .cbw:
            switch d.osz {
            case 2: gw(0, UInt16(bitPattern: Int16(Int8(bitPattern: gr(0) as UInt8))))
            case 4: gw(0, UInt32(bitPattern: Int32(Int16(bitPattern: gr(0) as UInt16))))
            default: w64(0, UInt64(bitPattern: Int64(Int32(bitPattern: gr(0) as UInt32))))
            }
        case .cwd:
            switch d.osz {
            case 2: gw(16, (gr(0) as UInt16) & 0x8000 != 0 ? UInt16.max : 0)
            case 4: gw(16, (gr(0) as UInt32) & 0x8000_0000 != 0 ? UInt32.max : 0)
            default: w64(2, r64(0) & (1 << 63) != 0 ? UInt64.max : 0)
            }
        case .btRmR, .btRmI:
            switch d.osz {
            case 2: try bitTest(d, UInt16.self)
            case 4: try bitTest(d, UInt32.self)
            default: try bitTest(d, UInt64.self)
            }
        case .bsf, .bsr, .tzcnt, .lzcnt, .popcnt:
            switch d.osz {
            case 2: try bitScan(d, UInt16.self)
            case 4: try bitScan(d, UInt32.self)
            default: try bitScan(d, UInt64.self)
            }
        case .bswap:
            if d.osz == 8 { w64(Int(d.reg) >> 3, r64(Int(d.reg) >> 3).byteSwapped) }
            else if d.osz == 4 { gw(d.reg, (gr(d.reg) as UInt32).byteSwapped) }
            else { gw(d.reg, UInt16(0)) }
        case .shld, .shrd:
            let c: UInt64 = d.pfx & P.cl != 0 ? r64(1) & 0xFF : d.imm
            switch d.osz {
            case 2: try shiftDouble(d, c, UInt16.self)
            case 4: try shiftDouble(d, c, UInt32.self)
            default: try shiftDouble(d, c, UInt64.self)
            }
        case .cmpxchg:
            switch d.osz {
            case 1: try cmpxchg(d, UInt8.self)
            case 2: try cmpxchg(d, UInt16.self)
            case 4: try cmpxchg(d, UInt32.self)
            default: try cmpxchg(d, UInt64.self)
            }
        case .xadd:
            switch d.osz {
            case 1: try xadd(d, UInt8.self)
            case 2: try xadd(d, UInt16.self)
            case 4: try xadd(d, UInt32.self)
            default: try xadd(d, UInt64.self)
            }
        case .cmpxchg8b:
            try cmpxchg8b(d.v)
        case .pushf:
            try pushFlags(d.v)
        case .popf:
            try popFlags(d.v)
        case .sahf:
            let ah = UInt64(gr(1) as UInt8)    // AH = byte 1 of RAX
            setArith((arithFlags() & fOF) | (ah & (fSF | fZF | fAF | fPF | fCF)))
        case .lahf:
            let f = arithFlags()
            gw(1, UInt8(truncatingIfNeeded: (f & (fSF | fZF | fAF | fPF | fCF)) | 2))
        case .flagOp:
            try flagOp(d.sub)
        case .xlat:
            let off = (r64(3) &+ UInt64(gr(0) as UInt8)) & (UInt64.max &>> UInt64(d.ashift))
            gw(0, try rd(segLin(Int(d.seg), off)) as UInt8)
        case .enter:
            try enter(d.v)
        case .io:
            try ioInsn(d.v)
        case .hlt:
            try hlt()
        case .intN:
            try softInterrupt(UInt8(truncatingIfNeeded: d.imm), kind: 0)
        case .int3:
            try softInterrupt(3, kind: 1)
        case .into:
            if ofv { try softInterrupt(4, kind: 1) }
        case .int1:
            try softInterrupt(1, kind: 2)
        case .ud:
            if d.sub == 1 { reportUnimplemented(d.v) }
            throw fault(6)
        default:
            try execSystem(d.v)
        }
    }

    // MARK: integer helpers

    @_transparent func aluRmR<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let b: T = gr(d.reg)
        if d.mem == 0 {
            let r = aluOp(d.sub, gr(d.rm) as T, b)
            if d.sub != 7 { gw(d.rm, r) }
        } else {
            let a = ea(d)
            if d.sub == 7 {
                _ = aluOp(7, try rd(a) as T, b)
            } else {
                let v: T = try rdW(a)
                try wr(a, aluOp(d.sub, v, b))
            }
        }
    }
    @_transparent func aluRRm<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let b: T = try rdRM(d)
        let r = aluOp(d.sub, gr(d.reg) as T, b)
        if d.sub != 7 { gw(d.reg, r) }
    }
    @_transparent func aluRmI<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let b = T(truncatingIfNeeded: d.imm)
        if d.mem == 0 {
            let r = aluOp(d.sub, gr(d.rm) as T, b)
            if d.sub != 7 { gw(d.rm, r) }
        } else {
            let a = ea(d)
            if d.sub == 7 {
                _ = aluOp(7, try rd(a) as T, b)
            } else {
                let v: T = try rdW(a)
                try wr(a, aluOp(d.sub, v, b))
            }
        }
    }
    @inline(__always) func unaryOp<T: UIntX>(_ op: Op, _ v: T) -> T {
        switch op {
        case .incRm:
            let r = v &+ 1
            let cf = cfv
            lfRes = sx64(r)
            lfAux = mkAux(cf, r == T(1) &<< T(T.bitWidth - 1), r & 0xF == 0)
            return r
        case .decRm:
            let r = v &- 1
            let cf = cfv
            lfRes = sx64(r)
            lfAux = mkAux(cf, v == T(1) &<< T(T.bitWidth - 1), r & 0xF == 0xF)
            return r
        case .notRm:
            return ~v
        default:
            return subF(0, v, 0)
        }
    }
    @_transparent func unary<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        if d.mem == 0 {
            gw(d.rm, unaryOp(d.op, gr(d.rm) as T))
        } else {
            let a = ea(d)
            let v: T = try rdW(a)
            try wr(a, unaryOp(d.op, v))
        }
    }
    @inline(__always) func xchg<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let b: T = gr(d.reg)
        if d.mem == 0 {
            let a: T = gr(d.rm)
            gw(d.rm, b)
            gw(d.reg, a)
        } else {
            let addr = ea(d)
            let a: T = try rdW(addr)
            try wr(addr, b)
            gw(d.reg, a)
        }
    }

    @inline(__always) func msb<T: UIntX>(_ v: T) -> Bool { v &>> T(T.bitWidth - 1) != 0 }

    @inline(__always) func shiftOp<T: UIntX>(_ kind: UInt8, _ a: T, _ count: UInt64) -> T {
        let bits = UInt64(T.bitWidth)
        let c = count & (bits == 64 ? 63 : 31)
        if c == 0 { return a }
        let a64 = UInt64(truncatingIfNeeded: a)
        switch kind {
        case 0: // ROL
            let n = c % bits
            let r = n == 0 ? a : (a &<< T(n)) | (a &>> T(bits - n))
            let cf = r & 1 != 0
            setCFOF(cf, msb(r) != cf)
            return r
        case 1: // ROR
            let n = c % bits
            let r = n == 0 ? a : (a &>> T(n)) | (a &<< T(bits - n))
            setCFOF(msb(r), msb(r) != ((r &>> T(bits - 2)) & 1 != 0))
            return r
        case 2: // RCL
            let cin: UInt64 = cfv ? 1 : 0
            let r: T
            let cf: Bool
            if bits == 64 {
                r = T(truncatingIfNeeded: (a64 &<< c) | (cin &<< (c - 1)) | (c == 1 ? 0 : a64 &>> (65 - c)))
                cf = (a64 &>> (64 - c)) & 1 != 0
            } else {
                let n = bits <= 16 ? c % (bits + 1) : c
                let w = (cin << bits) | a64
                let m: UInt64 = (1 << (bits + 1)) - 1
                let rw = n == 0 ? w : ((w << n) | (w >> (bits + 1 - n))) & m
                r = T(truncatingIfNeeded: rw)
                cf = (rw >> bits) & 1 != 0
            }
            setCFOF(cf, msb(r) != cf)
            return r
        case 3: // RCR
            let cin: UInt64 = cfv ? 1 : 0
            let r: T
            let cf: Bool
            if bits == 64 {
                r = T(truncatingIfNeeded: (a64 &>> c) | (cin &<< (64 - c)) | (c == 1 ? 0 : a64 &<< (65 - c)))
                cf = (a64 &>> (c - 1)) & 1 != 0
            } else {
                let n = bits <= 16 ? c % (bits + 1) : c
                let w = (cin << bits) | a64
                let m: UInt64 = (1 << (bits + 1)) - 1
                let rw = n == 0 ? w : ((w >> n) | (w << (bits + 1 - n))) & m
                r = T(truncatingIfNeeded: rw)
                cf = (rw >> bits) & 1 != 0
            }
            setCFOF(cf, msb(r) != ((r &>> T(bits - 2)) & 1 != 0))
            return r
        case 5: return shrF(a, c)
        case 7: return sarF(a, c)
        default: return shlF(a, c)
        }
    }
    // SHR, SAR, SHL with a masked count `c` of 1...bits-1 (a count of 0
    // changes nothing, flags included, and is handled by the callers).
    @inline(__always) func shrF<T: UIntX>(_ a: T, _ c: UInt64) -> T {
        let a64 = UInt64(truncatingIfNeeded: a)
        let r = T(truncatingIfNeeded: a64 >> c)
        let cf = (a64 >> (c - 1)) & 1 != 0
        lfRes = sx64(r)
        lfAux = mkAux(cf, msb(a), false)
        return r
    }
    @inline(__always) func sarF<T: UIntX>(_ a: T, _ c: UInt64) -> T {
        let s = Int64(bitPattern: sx64(a))
        let r = T(truncatingIfNeeded: s >> Int64(c))
        let cf = (s >> Int64(c - 1)) & 1 != 0
        lfRes = sx64(r)
        lfAux = mkAux(cf, false, false)
        return r
    }
    @inline(__always) func shlF<T: UIntX>(_ a: T, _ c: UInt64) -> T {
        let bits = UInt64(T.bitWidth)
        let a64 = UInt64(truncatingIfNeeded: a)
        let r: T
        let cf: Bool
        if bits == 64 {
            r = a &<< T(c)
            cf = (a64 &>> (64 - c)) & 1 != 0
        } else {
            let w = a64 << c
            r = T(truncatingIfNeeded: w)
            cf = (w >> bits) & 1 != 0
        }
        lfRes = sx64(r)
        lfAux = mkAux(cf, msb(r) != cf, false)
        return r
    }
    @_transparent func shiftRm<T: UIntX>(_ d: DRef, _ c: UInt64, _: T.Type) throws(CPUFault) {
        if d.mem == 0 {
            gw(d.rm, shiftOp(d.sub, gr(d.rm) as T, c))
        } else {
            let a = ea(d)
            let v: T = try rdW(a)
            let masked = c & (T.bitWidth == 64 ? 63 : 31)
            if masked == 0 { return }
            // compute on a copy of the flags so a faulting store leaves them alone
            let sr = lfRes, sa = lfAux
            let r = shiftOp(d.sub, v, c)
            do { try wr(a, r) } catch { lfRes = sr; lfAux = sa; throw error }
        }
    }
    @inline(__always) func shiftDouble<T: UIntX>(_ d: DRef, _ count: UInt64, _: T.Type) throws(CPUFault) {
        let bits = UInt64(T.bitWidth)
        let c = count & (bits == 64 ? 63 : 31)
        let addr = d.mem == 0 ? 0 : ea(d)
        let a: T = d.mem == 0 ? gr(d.rm) : try rdW(addr)
        if c == 0 {
            // a register destination is still written (32-bit forms zero-extend)
            if d.mem == 0 { gw(d.rm, a) }
            return
        }
        let b: T = gr(d.reg)
        let a64 = UInt64(truncatingIfNeeded: a), b64 = UInt64(truncatingIfNeeded: b)
        let r: T
        let cf: Bool
        if d.op == .shld {
            if bits == 64 {
                r = T(truncatingIfNeeded: (a64 &<< c) | (b64 &>> (64 - c)))
                cf = (a64 &>> (64 - c)) & 1 != 0
            } else if bits == 32 {
                let w = (a64 << 32 | b64) << c
                r = T(truncatingIfNeeded: w >> 32)
                cf = (a64 >> (32 - c)) & 1 != 0
            } else {
                // 16-bit: counts above 16 are undefined; use a 48-bit pattern
                let w = (a64 << 32 | b64 << 16 | a64) << c
                r = T(truncatingIfNeeded: w >> 32)
                cf = c <= 16 ? (a64 >> (16 - c)) & 1 != 0 : (b64 >> (32 - c)) & 1 != 0
            }
        } else {
            if bits == 64 {
                r = T(truncatingIfNeeded: (a64 &>> c) | (b64 &<< (64 - c)))
                cf = (a64 &>> (c - 1)) & 1 != 0
            } else if bits == 32 {
                let w = (b64 << 32 | a64) >> c
                r = T(truncatingIfNeeded: w)
                cf = (a64 >> (c - 1)) & 1 != 0
            } else {
                let w = (a64 << 32 | b64 << 16 | a64) >> c
                r = T(truncatingIfNeeded: w)
                cf = ((a64 << 32 | b64 << 16 | a64) >> (c - 1)) & 1 != 0
            }
        }
        if d.mem == 0 { gw(d.rm, r) } else { try wr(addr, r) }
        lfRes = sx64(r)
        lfAux = mkAux(cf, msb(r) != msb(a), false)
    }

    @inline(__always) func imul2<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let a: T = try rdRM(d)
        let b: T = d.op == .imulRRmI ? T(truncatingIfNeeded: d.imm) : gr(d.reg)
        let r: T
        let ovf: Bool
        if T.bitWidth == 64 {
            let (hi, lo) = Int64(truncatingIfNeeded: a).multipliedFullWidth(by: Int64(truncatingIfNeeded: b))
            r = T(truncatingIfNeeded: lo)
            ovf = hi != (Int64(bitPattern: lo) >> 63)
        } else {
            let p = Int64(bitPattern: sx64(a)) &* Int64(bitPattern: sx64(b))
            r = T(truncatingIfNeeded: p)
            ovf = Int64(bitPattern: sx64(r)) != p
        }
        gw(d.reg, r)
        lfRes = sx64(r)
        lfAux = mkAux(ovf, ovf, false)
    }
    @inline(__always) func mul1<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let b: T = try rdRM(d)
        let a: T = gr(0)
        let lo: T, hi: T
        let ovf: Bool
        if d.op == .mulRm {
            let (h, l) = a.multipliedFullWidth(by: b)
            lo = T(truncatingIfNeeded: l); hi = h
            ovf = hi != 0
        } else if T.bitWidth == 64 {
            let (h, l) = Int64(truncatingIfNeeded: a).multipliedFullWidth(by: Int64(truncatingIfNeeded: b))
            lo = T(truncatingIfNeeded: l); hi = T(truncatingIfNeeded: h)
            ovf = h != (Int64(bitPattern: l) >> 63)
        } else {
            let p = Int64(bitPattern: sx64(a)) &* Int64(bitPattern: sx64(b))
            lo = T(truncatingIfNeeded: p)
            hi = T(truncatingIfNeeded: p >> Int64(T.bitWidth))
            ovf = Int64(bitPattern: sx64(lo)) != p
        }
        if T.bitWidth == 8 {
            gw(0, UInt16(truncatingIfNeeded: lo) | UInt16(truncatingIfNeeded: hi) << 8)
        } else {
            gw(0, lo)
            gw(16, hi)
        }
        lfRes = sx64(lo)
        lfAux = mkAux(ovf, ovf, false)
    }
    @inline(__always) func div1<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let b: T = try rdRM(d)
        if b == 0 { throw fault(0) }
        let lo: T, hi: T
        if T.bitWidth == 8 {
            let ax: UInt16 = gr(0)
            lo = T(truncatingIfNeeded: ax); hi = T(truncatingIfNeeded: ax >> 8)
        } else {
            lo = gr(0); hi = gr(16)
        }
        let q: T, r: T
        if d.op == .divRm {
            if hi >= b { throw fault(0) }
            let (qq, rr) = b.dividingFullWidth((high: hi, low: T.Magnitude(truncatingIfNeeded: lo)))
            q = qq; r = rr
        } else if T.bitWidth == 64 {
            let h = UInt64(truncatingIfNeeded: hi), l = UInt64(truncatingIfNeeded: lo)
            let neg = Int64(bitPattern: h) < 0
            var mh = h, ml = l
            if neg { ml = ~l &+ 1; mh = ~h &+ (ml == 0 ? 1 : 0) }
            let bs = Int64(bitPattern: UInt64(truncatingIfNeeded: b))
            let dneg = bs < 0
            let dm = bs.magnitude
            if mh >= dm { throw fault(0) }
            let (qm, rm) = dm.dividingFullWidth((high: mh, low: ml))
            let qneg = neg != dneg
            if qneg ? qm > (1 << 63) : qm > UInt64(Int64.max) { throw fault(0) }
            q = T(truncatingIfNeeded: qneg ? 0 &- qm : qm)
            r = T(truncatingIfNeeded: neg ? 0 &- rm : rm)
        } else {
            let bitsT = Int64(T.bitWidth)
            let dividend = Int64(bitPattern: (sx64(hi) << UInt64(bitsT)) | UInt64(truncatingIfNeeded: lo) & (UInt64.max >> UInt64(64 - bitsT)))
            let divisor = Int64(bitPattern: sx64(b))
            let (qq, o) = dividend.dividedReportingOverflow(by: divisor)
            if o { throw fault(0) }
            let minV = -(Int64(1) << (bitsT - 1)), maxV = (Int64(1) << (bitsT - 1)) - 1
            if qq < minV || qq > maxV { throw fault(0) }
            let (rr, _) = dividend.remainderReportingOverflow(dividingBy: divisor)
            q = T(truncatingIfNeeded: qq); r = T(truncatingIfNeeded: rr)
        }
        if T.bitWidth == 8 {
            gw(0, UInt16(truncatingIfNeeded: q) | UInt16(truncatingIfNeeded: r) << 8)
        } else {
            gw(0, q)
            gw(16, r)
        }
    }

    @inline(__always) func bitTest<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let bits = UInt64(T.bitWidth)
        var bit: UInt64
        var addr: UInt64 = 0
        if d.op == .btRmI {
            bit = d.imm & (bits - 1)
            if d.mem != 0 { addr = ea(d) }
        } else {
            let off: T = gr(d.reg)
            bit = UInt64(truncatingIfNeeded: off) & (bits - 1)
            if d.mem != 0 {
                // Register bit offsets address memory relative to the operand (signed).
                let so = Int64(bitPattern: sx64(off))
                let delta = (so >> Int64(T.bitWidth.trailingZeroBitCount)) &* Int64(T.bitWidth / 8)
                addr = (eaOff(d) &+ UInt64(bitPattern: delta)) & (UInt64.max &>> UInt64(d.ashift))
                addr = segLin(Int(d.seg), addr)
            }
        }
        let m = T(1) &<< T(bit)
        let v: T
        if d.mem == 0 { v = gr(d.rm) } else if d.sub == 0 { v = try rd(addr) } else { v = try rdW(addr) }
        let nv: T
        switch d.sub {
        case 1: nv = v | m
        case 2: nv = v & ~m
        case 3: nv = v ^ m
        default: nv = v
        }
        if d.sub != 0 {
            if d.mem == 0 { gw(d.rm, nv) } else { try wr(addr, nv) }
        }
        setCF(v & m != 0)
    }
    @inline(__always) func bitScan<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let v: T = try rdRM(d)
        switch d.op {
        case .bsf:
            if v == 0 { lfRes = 0; lfAux = 0 } else {
                gw(d.reg, T(v.trailingZeroBitCount)); lfRes = 1; lfAux = 0x200
            }
        case .bsr:
            if v == 0 { lfRes = 0; lfAux = 0 } else {
                gw(d.reg, T(T.bitWidth - 1 - v.leadingZeroBitCount)); lfRes = 1; lfAux = 0x200
            }
        case .tzcnt:
            let r = T(v.trailingZeroBitCount)
            gw(d.reg, r)
            lfRes = UInt64(truncatingIfNeeded: r)
            lfAux = mkAux(v == 0, false, false)
        case .lzcnt:
            let r = T(v.leadingZeroBitCount)
            gw(d.reg, r)
            lfRes = UInt64(truncatingIfNeeded: r)
            lfAux = mkAux(v == 0, false, false)
        default:
            gw(d.reg, T(v.nonzeroBitCount))
            lfRes = v == 0 ? 0 : 0x100
            lfAux = 0x200
        }
    }
    @inline(__always) func cmpxchg<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let acc: T = gr(0)
        let addr = d.mem == 0 ? 0 : ea(d)
        let v: T = d.mem == 0 ? gr(d.rm) : try rdW(addr)
        let src: T = gr(d.reg)
        if acc == v {
            if d.mem == 0 { gw(d.rm, src) } else { try wr(addr, src) }
        } else {
            if d.mem != 0 { try wr(addr, v) }
            gw(0, v)
        }
        _ = subF(acc, v, 0)
    }
    @inline(__always) func xadd<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let src: T = gr(d.reg)
        if d.mem == 0 {
            let v: T = gr(d.rm)
            let r = addF(v, src, 0)
            gw(d.reg, v)
            gw(d.rm, r)
        } else {
            let addr = ea(d)
            let v: T = try rdW(addr)
            let r = v &+ src
            try wr(addr, r)
            gw(d.reg, v)
            _ = addF(v, src, 0)
        }
    }

    // MARK: string instructions

    /// Iterations the current REP instruction may still run in this slice.
    @inline(__always) var repBudget: UInt64 { limit > retired ? limit &- retired : 1 }

    @inline(__always) func movs<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let sz = UInt64(MemoryLayout<T>.size)
        let am = UInt64.max &>> UInt64(d.ashift)
        let down = fl & fDF != 0
        let step = down ? 0 &- sz : sz
        let seg = Int(d.seg)
        if d.pfx & (P.rep | P.repne) == 0 {
            let si = r64(6) & am, di = r64(7) & am
            let v: T = try rd(segLin(seg, si))
            try wr(segLin(0, di), v)
            wA(6, si &+ step, d.ashift); wA(7, di &+ step, d.ashift)
            return
        }
        var cnt = r64(1) & am
        if cnt == 0 { return }
        repeat {
            let si = r64(6) & am, di = r64(7) & am
            let sl = segLin(seg, si), dl = segLin(0, di)
            if !down && !watchActive {
                let sRoom = (4096 &- (sl & 0xFFF)) / sz, dRoom = (4096 &- (dl & 0xFFF)) / sz
                var n = min(cnt, repBudget, sRoom, dRoom)
                if d.ashift != 0 { n = min(n, (am &- max(si, di)) / sz &+ 1) }
                if n >= 2, let sp = hostR(sl), let dp = hostW(dl) {
                    let bytes = Int(n &* sz)
                    if dp > sp && dp < sp + bytes {
                        // forward copy over an overlapping destination: element by element
                        var k = 0
                        while k < bytes {
                            dp.storeBytes(of: sp.loadUnaligned(fromByteOffset: k, as: T.self), toByteOffset: k, as: T.self)
                            k += Int(sz)
                        }
                    } else {
                        dp.copyMemory(from: sp, byteCount: bytes)
                    }
                    wA(6, si &+ n &* sz, d.ashift); wA(7, di &+ n &* sz, d.ashift)
                    cnt &-= n
                    wA(1, cnt, d.ashift)
                    retired &+= n
                    continue
                }
            }
            let v: T = try rd(sl)
            try wr(dl, v)
            wA(6, si &+ step, d.ashift); wA(7, di &+ step, d.ashift)
            cnt &-= 1
            wA(1, cnt, d.ashift)
            retired &+= 1
        } while cnt != 0 && retired < limit
        retired &-= 1
        if cnt != 0 { rip = curRip }
    }

    @inline(__always) func stos<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let sz = UInt64(MemoryLayout<T>.size)
        let am = UInt64.max &>> UInt64(d.ashift)
        let down = fl & fDF != 0
        let step = down ? 0 &- sz : sz
        let v: T = gr(0)
        if d.pfx & (P.rep | P.repne) == 0 {
            let di = r64(7) & am
            try wr(segLin(0, di), v)
            wA(7, di &+ step, d.ashift)
            return
        }
        var cnt = r64(1) & am
        if cnt == 0 { return }
        repeat {
            let di = r64(7) & am
            let dl = segLin(0, di)
            if !down && !watchActive {
                let dRoom = (4096 &- (dl & 0xFFF)) / sz
                var n = min(cnt, repBudget, dRoom)
                if d.ashift != 0 { n = min(n, (am &- di) / sz &+ 1) }
                if n >= 2, let dp = hostW(dl) {
                    if sz == 1 {
                        dp.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: v), count: Int(n))
                    } else {
                        var k = 0
                        let bytes = Int(n &* sz)
                        while k < bytes { dp.storeBytes(of: v, toByteOffset: k, as: T.self); k += Int(sz) }
                    }
                    wA(7, di &+ n &* sz, d.ashift)
                    cnt &-= n
                    wA(1, cnt, d.ashift)
                    retired &+= n
                    continue
                }
            }
            try wr(dl, v)
            wA(7, di &+ step, d.ashift)
            cnt &-= 1
            wA(1, cnt, d.ashift)
            retired &+= 1
        } while cnt != 0 && retired < limit
        retired &-= 1
        if cnt != 0 { rip = curRip }
    }

    @inline(__always) func lods<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let sz = UInt64(MemoryLayout<T>.size)
        let am = UInt64.max &>> UInt64(d.ashift)
        let step = fl & fDF != 0 ? 0 &- sz : sz
        let seg = Int(d.seg)
        if d.pfx & (P.rep | P.repne) == 0 {
            let si = r64(6) & am
            gw(0, try rd(segLin(seg, si)) as T)
            wA(6, si &+ step, d.ashift)
            return
        }
        var cnt = r64(1) & am
        if cnt == 0 { return }
        repeat {
            let si = r64(6) & am
            gw(0, try rd(segLin(seg, si)) as T)
            wA(6, si &+ step, d.ashift)
            cnt &-= 1
            wA(1, cnt, d.ashift)
            retired &+= 1
        } while cnt != 0 && retired < limit
        retired &-= 1
        if cnt != 0 { rip = curRip }
    }

    @inline(__always) func cmps<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let sz = UInt64(MemoryLayout<T>.size)
        let am = UInt64.max &>> UInt64(d.ashift)
        let step = fl & fDF != 0 ? 0 &- sz : sz
        let seg = Int(d.seg)
        let rep = d.pfx & (P.rep | P.repne)
        if rep == 0 {
            let si = r64(6) & am, di = r64(7) & am
            let a: T = try rd(segLin(seg, si))
            let b: T = try rd(segLin(0, di))
            _ = subF(a, b, 0)
            wA(6, si &+ step, d.ashift); wA(7, di &+ step, d.ashift)
            return
        }
        var cnt = r64(1) & am
        if cnt == 0 { return }
        var stop = false
        repeat {
            let si = r64(6) & am, di = r64(7) & am
            let a: T = try rd(segLin(seg, si))
            let b: T = try rd(segLin(0, di))
            _ = subF(a, b, 0)
            wA(6, si &+ step, d.ashift); wA(7, di &+ step, d.ashift)
            cnt &-= 1
            wA(1, cnt, d.ashift)
            retired &+= 1
            stop = rep == P.rep ? !zfv : zfv
        } while cnt != 0 && !stop && retired < limit
        retired &-= 1
        if cnt != 0 && !stop { rip = curRip }
    }

    @inline(__always) func scas<T: UIntX>(_ d: DRef, _: T.Type) throws(CPUFault) {
        let sz = UInt64(MemoryLayout<T>.size)
        let am = UInt64.max &>> UInt64(d.ashift)
        let step = fl & fDF != 0 ? 0 &- sz : sz
        let rep = d.pfx & (P.rep | P.repne)
        let a: T = gr(0)
        if rep == 0 {
            let di = r64(7) & am
            let b: T = try rd(segLin(0, di))
            _ = subF(a, b, 0)
            wA(7, di &+ step, d.ashift)
            return
        }
        var cnt = r64(1) & am
        if cnt == 0 { return }
        var stop = false
        repeat {
            let di = r64(7) & am
            let b: T = try rd(segLin(0, di))
            _ = subF(a, b, 0)
            wA(7, di &+ step, d.ashift)
            cnt &-= 1
            wA(1, cnt, d.ashift)
            retired &+= 1
            stop = rep == P.rep ? !zfv : zfv
        } while cnt != 0 && !stop && retired < limit
        retired &-= 1
        if cnt != 0 && !stop { rip = curRip }
    }
}
