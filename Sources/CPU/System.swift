// System architecture: exceptions and interrupt delivery, descriptors and
// segment loads, far transfers and IRET, flags rules, control/debug
// registers, MSRs, CPUID, port I/O and the less frequent instructions.

/// A segment descriptor as read from the GDT/LDT.
struct Desc {
    var lo: UInt32 = 0
    var hi: UInt32 = 0
    var base: UInt64 { UInt64(lo >> 16) | UInt64(hi & 0xFF) << 16 | UInt64(hi & 0xFF00_0000) }
    var limit: UInt32 {
        let l = (lo & 0xFFFF) | (hi & 0xF_0000)
        return hi & 0x80_0000 != 0 ? (l << 12) | 0xFFF : l
    }
    var attr: UInt16 { UInt16(truncatingIfNeeded: (hi >> 8) & 0xF0FF) }
    var type: UInt32 { (hi >> 8) & 0xF }
    var s: Bool { hi & 0x1000 != 0 }
    var dpl: UInt8 { UInt8((hi >> 13) & 3) }
    var present: Bool { hi & 0x8000 != 0 }
    var isCode: Bool { s && type & 8 != 0 }
    var conforming: Bool { type & 4 != 0 }
    var l: Bool { hi & 0x20_0000 != 0 }
    var db: Bool { hi & 0x40_0000 != 0 }
    func cache(_ sel: UInt16) -> SegmentCache {
        SegmentCache(selector: sel, base: base, limit: limit, attributes: attr | 0x1)
    }
}

enum IntKind { case soft, icebp, exception, external }

extension CPU {

    // MARK: faults

    @inline(never)
    func fault(_ v: UInt8, _ ec: UInt32 = 0) -> CPUFault {
        faultVector = v
        faultCode = ec
        faultHasCode = vectorHasErrorCode(v)
        return CPUFault()
    }

    func vectorHasErrorCode(_ v: UInt8) -> Bool {
        switch v {
        case 8, 10, 11, 12, 13, 14, 17, 21: return true
        default: return false
        }
    }

    func isContributory(_ v: UInt8) -> Bool { v == 0 || (v >= 10 && v <= 13) }

    /// Delivers the fault recorded in `faultVector` (the instruction's RIP is
    /// already restored), applying the double-fault rules. Returns false on
    /// a triple fault.
    func deliverFault() -> Bool {
        var vec = faultVector
        var code = faultCode
        while true {
            let has = vectorHasErrorCode(vec)
            if reportEvents {
                bus.cpuEvent(.exception(vector: vec, errorCode: has ? code : nil, rip: rip, cr2: cr2))
            }
            do {
                try deliver(vec, kind: .exception, errorCode: has ? code : nil)
                return true
            } catch {
                let v2 = faultVector
                let c2 = faultCode
                if vec == 8 {
                    tripleFaulted = true
                    tripleInfo = (v2, c2)
                    halted = false
                    updateLimit()
                    return false
                }
                let c1 = isContributory(vec), p1 = vec == 14
                let cc2 = isContributory(v2), p2 = v2 == 14
                if (c1 && cc2) || (p1 && (cc2 || p2)) {
                    if reportEvents { bus.cpuEvent(.doubleFault(first: vec, second: v2)) }
                    vec = 8
                    code = 0
                } else {
                    vec = v2
                    code = c2
                }
            }
        }
    }

    /// Takes an external interrupt (vector from INTA). False on triple fault.
    func deliverExternal(_ v: UInt8) -> Bool {
        if reportEvents {
            bus.cpuEvent(.interrupt(vector: v, external: true, rip: rip, gatePresent: gatePresent(v)))
        }
        do {
            try deliver(v, kind: .external, errorCode: nil)
            return true
        } catch {
            let delivered = deliverFault()
            retired &+= 1      // as in run(): a fault delivery takes one slot
            return delivered
        }
    }

    /// The single-step #DB trap (TF). False on triple fault.
    func deliverDebugTrap() -> Bool {
        drs.4 |= 0x4000     // DR6.BS
        if reportEvents { bus.cpuEvent(.exception(vector: 1, errorCode: nil, rip: rip, cr2: cr2)) }
        do {
            try deliver(1, kind: .exception, errorCode: nil)
            return true
        } catch {
            let delivered = deliverFault()
            retired &+= 1
            return delivered
        }
    }

    /// INT n (kind 0), INT3/INTO (kind 1), INT1 (kind 2): traps, RIP already
    /// points at the next instruction.
    func softInterrupt(_ v: UInt8, kind: Int) throws(CPUFault) {
        if reportEvents {
            bus.cpuEvent(.interrupt(vector: v, external: false, rip: curRip, gatePresent: gatePresent(v)))
        }
        try deliver(v, kind: kind == 2 ? .icebp : .soft, errorCode: nil)
    }

    /// Whether the IDT holds a present gate for `v` (no side effects).
    func gatePresent(_ v: UInt8) -> Bool {
        if cr0v & 1 == 0 { return UInt64(v) * 4 + 3 <= UInt64(idtr.limit) }
        let long = eferv & 0x400 != 0
        let size: UInt64 = long ? 16 : 8
        if UInt64(v) * size + size - 1 > UInt64(idtr.limit) { return false }
        guard let pa = peekTranslate(idtr.base &+ UInt64(v) * size &+ 4, write: false) else { return false }
        let hi = physRead(pa, 4)
        return hi & 0x8000 != 0
    }

    func deliver(_ vec: UInt8, kind: IntKind, errorCode: UInt32?) throws(CPUFault) {
        let ext: UInt32 = kind == .soft ? 0 : 1
        if cr0v & 1 == 0 {
            try deliverReal(vec)
        } else if eferv & 0x400 != 0 {
            try deliverLong(vec, kind: kind, ext: ext, errorCode: errorCode)
        } else {
            try deliverProt(vec, kind: kind, ext: ext, errorCode: errorCode)
        }
        halted = false
        updateLimit()
    }

    func deliverReal(_ vec: UInt8) throws(CPUFault) {
        let off = UInt64(vec) * 4
        if off + 3 > UInt64(idtr.limit) { throw fault(13, 0) }
        let v = try sysRead(idtr.base &+ off, 4)
        let flags = materializedFlags()
        let sp = rspv
        let ss = sbase[2]
        try sysWrite(ss &+ ((sp &- 2) & 0xFFFF), flags & 0xFFFF, 2)
        try sysWrite(ss &+ ((sp &- 4) & 0xFFFF), UInt64(segs[1].selector), 2)
        try sysWrite(ss &+ ((sp &- 6) & 0xFFFF), rip & 0xFFFF, 2)
        setRSP(sp &- 6)
        fl &= ~(fIF | fTF | fAC | fRF)
        let cs = UInt16(truncatingIfNeeded: v >> 16)
        segs[1].selector = cs
        segs[1].base = UInt64(cs) << 4
        rip = v & 0xFFFF
        updateMode()
    }

    func deliverProt(_ vec: UInt8, kind: IntKind, ext: UInt32, errorCode: UInt32?) throws(CPUFault) {
        let idtErr = UInt32(vec) * 8 + 2 + ext
        let off = UInt64(vec) * 8
        if off + 7 > UInt64(idtr.limit) { throw fault(13, idtErr) }
        let g = try sysRead(idtr.base &+ off, 8)
        let lo = UInt32(truncatingIfNeeded: g), hi = UInt32(truncatingIfNeeded: g >> 32)
        let type = (hi >> 8) & 0x1F
        let gdpl = UInt8((hi >> 13) & 3)
        guard type == 0x0E || type == 0x0F || type == 0x06 || type == 0x07 else { throw fault(13, idtErr) }
        if kind == .soft && gdpl < cpl { throw fault(13, UInt32(vec) * 8 + 2) }
        if hi & 0x8000 == 0 { throw fault(11, idtErr) }
        let gate32 = type & 8 != 0
        let sel = UInt16(truncatingIfNeeded: lo >> 16)
        let target = gate32 ? UInt64(lo & 0xFFFF) | UInt64(hi & 0xFFFF_0000) : UInt64(lo & 0xFFFF)
        if sel & 0xFFFC == 0 { throw fault(13, ext) }
        let (d, da) = try readDesc(sel, ext: ext)
        let selErr = UInt32(sel & 0xFFFC) | ext
        if !d.isCode || d.dpl > cpl { throw fault(13, selErr) }
        if !d.present { throw fault(11, selErr) }
        let newCPL = (!d.conforming && d.dpl < cpl) ? d.dpl : cpl
        let flags = materializedFlags()
        let psz = gate32 ? 4 : 2
        var ssCache = segs[2]
        var sp: UInt64
        var smask: UInt64
        let user = newCPL == 3
        if newCPL < cpl {
            let (nss, nsp) = try tssStack(newCPL, ext: ext)
            ssCache = try checkStackSeg(nss, newCPL, errVector: 10, ext: ext)
            sp = nsp
            smask = ssCache.attributes & 0x4000 != 0 ? 0xFFFF_FFFF : 0xFFFF
            let oldSS = UInt64(segs[2].selector), oldSP = rspv
            sp = sp &- UInt64(psz); try sysWrite(ssCache.base &+ (sp & smask), oldSS, psz, user: user)
            sp = sp &- UInt64(psz); try sysWrite(ssCache.base &+ (sp & smask), oldSP, psz, user: user)
        } else {
            sp = rspv
            smask = ssMask
        }
        sp = sp &- UInt64(psz); try sysWrite(ssCache.base &+ (sp & smask), flags, psz, user: user)
        sp = sp &- UInt64(psz); try sysWrite(ssCache.base &+ (sp & smask), UInt64(segs[1].selector), psz, user: user)
        sp = sp &- UInt64(psz); try sysWrite(ssCache.base &+ (sp & smask), rip, psz, user: user)
        if let ec = errorCode {
            sp = sp &- UInt64(psz); try sysWrite(ssCache.base &+ (sp & smask), UInt64(ec), psz, user: user)
        }
        // commit
        if newCPL < cpl {
            segs[2] = ssCache
            w64(4, sp & smask)
        } else {
            w64(4, (rspv & ~smask) | (sp & smask))
        }
        setAccessed(d, da)
        setCS(sel, d, newCPL)
        rip = target
        fl &= ~(fTF | fNT | fRF | fVM)
        if type & 1 == 0 { fl &= ~fIF }
        updateMode()
    }

    func deliverLong(_ vec: UInt8, kind: IntKind, ext: UInt32, errorCode: UInt32?) throws(CPUFault) {
        let idtErr = UInt32(vec) * 8 + 2 + ext
        let off = UInt64(vec) * 16
        if off + 15 > UInt64(idtr.limit) { throw fault(13, idtErr) }
        let lo = try sysRead(idtr.base &+ off, 8)
        let hi = try sysRead(idtr.base &+ off &+ 8, 8)
        let type = (lo >> 40) & 0x1F
        let gdpl = UInt8((lo >> 45) & 3)
        guard type == 0x0E || type == 0x0F else { throw fault(13, idtErr) }
        if kind == .soft && gdpl < cpl { throw fault(13, UInt32(vec) * 8 + 2) }
        if lo & (1 << 47) == 0 { throw fault(11, idtErr) }
        let sel = UInt16(truncatingIfNeeded: lo >> 16)
        let target = (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF_0000) | (hi << 32)
        let ist = Int((lo >> 32) & 7)
        if sel & 0xFFFC == 0 { throw fault(13, ext) }
        let (d, da) = try readDesc(sel, ext: ext)
        let selErr = UInt32(sel & 0xFFFC) | ext
        if !d.isCode || !d.l || d.db || d.dpl > cpl { throw fault(13, selErr) }
        if !d.present { throw fault(11, selErr) }
        let newCPL = (!d.conforming && d.dpl < cpl) ? d.dpl : cpl
        var sp: UInt64
        if newCPL < cpl || ist != 0 {
            let o: UInt64 = ist != 0 ? 0x24 + 8 * UInt64(ist - 1) : 4 + 8 * UInt64(newCPL)
            if o + 7 > UInt64(tr.limit) { throw fault(10, UInt32(tr.selector & 0xFFFC) | ext) }
            sp = try sysRead(tr.base &+ o, 8)
        } else {
            sp = codeMode == 2 ? rspv : rspv & 0xFFFF_FFFF
        }
        sp &= ~0xF
        let flags = materializedFlags()
        let user = newCPL == 3
        let oldSS = UInt64(segs[2].selector), oldSP = rspv
        sp = sp &- 8; try sysWrite(sp, oldSS, 8, user: user)
        sp = sp &- 8; try sysWrite(sp, oldSP, 8, user: user)
        sp = sp &- 8; try sysWrite(sp, flags, 8, user: user)
        sp = sp &- 8; try sysWrite(sp, UInt64(segs[1].selector), 8, user: user)
        sp = sp &- 8; try sysWrite(sp, rip, 8, user: user)
        if let ec = errorCode { sp = sp &- 8; try sysWrite(sp, UInt64(ec), 8, user: user) }
        if newCPL != cpl {
            segs[2] = SegmentCache(selector: UInt16(newCPL), base: 0, limit: 0xFFFF_FFFF,
                                   attributes: 0xC093 | UInt16(newCPL) << 5)
        }
        w64(4, sp)
        setAccessed(d, da)
        setCS(sel, d, newCPL)
        rip = target
        fl &= ~(fTF | fNT | fRF | fVM)
        if type & 1 == 0 { fl &= ~fIF }
        updateMode()
    }

    /// SS:ESP for `level` from the 32-bit (or 16-bit) TSS.
    func tssStack(_ level: UInt8, ext: UInt32) throws(CPUFault) -> (UInt16, UInt64) {
        let t = tr.attributes & 0xF
        let trErr = UInt32(tr.selector & 0xFFFC) | ext
        if t == 9 || t == 0xB {
            let o = 4 + 8 * UInt64(level)
            if o + 5 > UInt64(tr.limit) { throw fault(10, trErr) }
            let esp = try sysRead(tr.base &+ o, 4)
            let ss = try sysRead(tr.base &+ o &+ 4, 2)
            return (UInt16(truncatingIfNeeded: ss), esp)
        }
        if t == 1 || t == 3 {
            let o = 2 + 4 * UInt64(level)
            if o + 3 > UInt64(tr.limit) { throw fault(10, trErr) }
            let sp = try sysRead(tr.base &+ o, 2)
            let ss = try sysRead(tr.base &+ o &+ 2, 2)
            return (UInt16(truncatingIfNeeded: ss), sp)
        }
        throw fault(10, trErr)
    }

    /// Validates a stack segment for privilege `level` (interrupt stack
    /// switch: #TS; RETF/IRET: #GP), returning its cache.
    func checkStackSeg(_ sel: UInt16, _ level: UInt8, errVector: UInt8, ext: UInt32) throws(CPUFault) -> SegmentCache {
        let err = UInt32(sel & 0xFFFC) | ext
        if sel & 0xFFFC == 0 { throw fault(errVector, ext) }
        let (d, a) = try readDesc(sel, ext: ext)
        if UInt8(sel & 3) != level || d.dpl != level || !d.s || d.type & 8 != 0 || d.type & 2 == 0 {
            throw fault(errVector, err)
        }
        if !d.present { throw fault(12, err) }
        setAccessed(d, a)
        return d.cache(sel)
    }

    // MARK: descriptors and segments

    func readDesc(_ sel: UInt16, ext: UInt32) throws(CPUFault) -> (Desc, UInt64) {
        let idx = UInt64(sel & 0xFFF8)
        let err = UInt32(sel & 0xFFFC) | ext
        let a: UInt64
        if sel & 4 != 0 {
            if ldtr.selector & 0xFFFC == 0 || idx + 7 > UInt64(ldtr.limit) { throw fault(13, err) }
            a = ldtr.base &+ idx
        } else {
            if idx + 7 > UInt64(gdtr.limit) { throw fault(13, err) }
            a = gdtr.base &+ idx
        }
        let v = try sysRead(a, 8)
        return (Desc(lo: UInt32(truncatingIfNeeded: v), hi: UInt32(truncatingIfNeeded: v >> 32)), a)
    }

    func setAccessed(_ d: Desc, _ a: UInt64) {
        if d.hi & 0x100 == 0 { try? sysWrite(a &+ 5, UInt64((d.hi >> 8) | 1) & 0xFF, 1) }
    }

    func setCS(_ sel: UInt16, _ d: Desc, _ newCPL: UInt8) {
        segs[1] = SegmentCache(selector: (sel & 0xFFFC) | UInt16(newCPL), base: d.base, limit: d.limit,
                               attributes: d.attr | 1)
        setCPL(newCPL)
        updateMode()
    }

    func setCPL(_ c: UInt8) {
        if c != cpl {
            cpl = c
            tlb = c == 3 ? tlbUser : tlbSup
            fetchLin = 1
        }
    }

    /// MOV/POP/LxS to a data or stack segment register.
    func loadSeg(_ i: Int, _ sel: UInt16) throws(CPUFault) {
        if cr0v & 1 == 0 || fl & fVM != 0 {
            segs[i].selector = sel
            segs[i].base = UInt64(sel) << 4
            if fl & fVM != 0 { segs[i].limit = 0xFFFF; segs[i].attributes = 0xF3 }
            if i == 2 { updateMode() } else { updateSegBases() }
            return
        }
        let err = UInt32(sel & 0xFFFC)
        if sel & 0xFFFC == 0 {
            if i == 2 {
                if !(codeMode == 2 && cpl < 3 && UInt8(sel & 3) == cpl) { throw fault(13, 0) }
                segs[2] = SegmentCache(selector: sel, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC093 | UInt16(cpl) << 5)
                updateMode()
            } else {
                segs[i] = SegmentCache(selector: sel, base: 0, limit: 0, attributes: 0)
                updateSegBases()
            }
            return
        }
        let (d, a) = try readDesc(sel, ext: 0)
        let rpl = UInt8(sel & 3)
        if i == 2 {
            if rpl != cpl || !d.s || d.type & 8 != 0 || d.type & 2 == 0 || d.dpl != cpl { throw fault(13, err) }
            if !d.present { throw fault(12, err) }
        } else {
            if !d.s || (d.type & 8 != 0 && d.type & 2 == 0) { throw fault(13, err) }
            if (d.type & 8 == 0 || d.type & 4 == 0) && (rpl > d.dpl || cpl > d.dpl) { throw fault(13, err) }
            if !d.present { throw fault(11, err) }
        }
        setAccessed(d, a)
        segs[i] = d.cache(sel)
        if i == 2 { updateMode() } else { updateSegBases() }
    }

    /// Far JMP/CALL to `sel:off` (direct or through memory).
    func farTransfer(_ sel: UInt16, _ off: UInt64, call: Bool, osz: UInt8) throws(CPUFault) {
        let offMask: UInt64 = osz == 2 ? 0xFFFF : (osz == 4 ? 0xFFFF_FFFF : .max)
        if cr0v & 1 == 0 || fl & fVM != 0 {
            if call {
                let sp0 = rspv
                do {
                    try pushS(UInt64(segs[1].selector), osz)
                    try pushS(rip, osz)
                } catch { setRSP(sp0); throw error }
            }
            segs[1].selector = sel
            segs[1].base = UInt64(sel) << 4
            rip = off & offMask
            updateMode()
            return
        }
        if sel & 0xFFFC == 0 { throw fault(13, 0) }
        let (d, a) = try readDesc(sel, ext: 0)
        let err = UInt32(sel & 0xFFFC)
        if !d.s {
            // call gates, task gates and TSS targets are not supported
            throw fault(13, err)
        }
        if !d.isCode { throw fault(13, err) }
        let rpl = UInt8(sel & 3)
        if d.conforming {
            if d.dpl > cpl { throw fault(13, err) }
        } else if rpl > cpl || d.dpl != cpl {
            throw fault(13, err)
        }
        if !d.present { throw fault(11, err) }
        let lma = eferv & 0x400 != 0
        if lma && d.l && d.db { throw fault(13, err) }
        let toLong = lma && d.l
        let newRip = toLong ? off : off & (osz == 2 ? 0xFFFF : 0xFFFF_FFFF)
        if call {
            let sp0 = rspv
            do {
                try pushS(UInt64(segs[1].selector), osz)
                try pushS(rip, osz)
            } catch { setRSP(sp0); throw error }
        }
        setAccessed(d, a)
        setCS(sel, d, cpl)
        rip = newRip
    }

    func readStack(_ sp: UInt64, _ osz: UInt8) throws(CPUFault) -> UInt64 {
        let l = stackLin(sp)
        switch osz {
        case 2: return UInt64(try rd(l) as UInt16)
        case 4: return UInt64(try rd(l) as UInt32)
        default: return try rd(l) as UInt64
        }
    }

    func farReturn(_ osz: UInt8, _ imm: UInt64) throws(CPUFault) {
        let sp0 = rspv
        let s = UInt64(osz)
        let off = try readStack(sp0, osz)
        let sel = UInt16(truncatingIfNeeded: try readStack(sp0 &+ s, osz))
        if cr0v & 1 == 0 || fl & fVM != 0 {
            segs[1].selector = sel
            segs[1].base = UInt64(sel) << 4
            rip = off & (osz == 2 ? 0xFFFF : 0xFFFF_FFFF)
            setRSP(sp0 &+ 2 &* s &+ imm)
            updateMode()
            return
        }
        if sel & 0xFFFC == 0 { throw fault(13, 0) }
        let (d, a) = try readDesc(sel, ext: 0)
        let err = UInt32(sel & 0xFFFC)
        let rpl = UInt8(sel & 3)
        if rpl < cpl || !d.isCode { throw fault(13, err) }
        if d.conforming ? d.dpl > rpl : d.dpl != rpl { throw fault(13, err) }
        if !d.present { throw fault(11, err) }
        let lma = eferv & 0x400 != 0
        if lma && d.l && d.db { throw fault(13, err) }
        let toLong = lma && d.l
        let newRip = toLong ? off : off & (osz == 2 ? 0xFFFF : 0xFFFF_FFFF)
        if rpl > cpl {
            let nsp = try readStack(sp0 &+ 2 &* s &+ imm, osz)
            let nss = UInt16(truncatingIfNeeded: try readStack(sp0 &+ 3 &* s &+ imm, osz))
            var ssc: SegmentCache
            if nss & 0xFFFC == 0 && toLong && rpl < 3 {
                ssc = SegmentCache(selector: nss, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC093 | UInt16(rpl) << 5)
            } else {
                ssc = try checkStackSeg(nss, rpl, errVector: 13, ext: 0)
            }
            setAccessed(d, a)
            setCS(sel, d, rpl)
            segs[2] = ssc
            updateMode()
            w64(4, (nsp &+ imm) & ssMask)
            nullDataSegments()
        } else {
            setAccessed(d, a)
            setCS(sel, d, cpl)
            setRSP(sp0 &+ 2 &* s &+ imm)
        }
        rip = newRip
    }

    /// After a return to an outer privilege level: data segments the new
    /// level may not use become null.
    func nullDataSegments() {
        for i in 0..<6 where i != 1 && i != 2 {
            let a = segs[i].attributes
            let dpl = UInt8((a >> 5) & 3)
            let isDataOrNC = a & 0x8 == 0 || a & 0x4 == 0
            if segs[i].selector & 0xFFFC != 0 && isDataOrNC && dpl < cpl {
                segs[i] = SegmentCache(selector: 0, base: i >= 4 && codeMode == 2 ? segs[i].base : 0, limit: 0, attributes: 0)
            }
        }
        updateSegBases()
    }

    func iret(_ osz: UInt8) throws(CPUFault) {
        let s = UInt64(osz)
        let sp0 = rspv
        if cr0v & 1 == 0 {
            let ip = try readStack(sp0, osz)
            let cs = UInt16(truncatingIfNeeded: try readStack(sp0 &+ s, osz))
            let f = try readStack(sp0 &+ 2 &* s, osz)
            setRSP(sp0 &+ 3 &* s)
            segs[1].selector = cs
            segs[1].base = UInt64(cs) << 4
            rip = ip
            let cur = materializedFlags()
            let mask: UInt64 = osz == 2 ? 0xFFFF : 0x3F_7FD7 & ~(fVM | fVIP | fVIF)
            setFlagsValue((cur & ~mask) | (f & mask))
            updateMode()
            if reportEvents { bus.cpuEvent(.iret(rip: rip)) }
            return
        }
        let lma = eferv & 0x400 != 0
        if fl & fVM != 0 { throw fault(13, 0) }
        if fl & fNT != 0 { throw fault(13, 0) }   // task return: not supported
        let newRip = try readStack(sp0, osz)
        let sel = UInt16(truncatingIfNeeded: try readStack(sp0 &+ s, osz))
        let nf = try readStack(sp0 &+ 2 &* s, osz)
        if !lma && nf & fVM != 0 && cpl == 0 { throw fault(13, 0) }  // return to virtual-8086: not supported
        if sel & 0xFFFC == 0 { throw fault(13, 0) }
        let (d, a) = try readDesc(sel, ext: 0)
        let err = UInt32(sel & 0xFFFC)
        let rpl = UInt8(sel & 3)
        if rpl < cpl || !d.isCode { throw fault(13, err) }
        if d.conforming ? d.dpl > rpl : d.dpl != rpl { throw fault(13, err) }
        if !d.present { throw fault(11, err) }
        if lma && d.l && d.db { throw fault(13, err) }
        let toLong = lma && d.l
        let popSS = rpl > cpl || codeMode == 2
        var nsp = sp0 &+ 3 &* s
        var ssc = segs[2]
        if popSS {
            nsp = try readStack(sp0 &+ 3 &* s, osz)
            let nss = UInt16(truncatingIfNeeded: try readStack(sp0 &+ 4 &* s, osz))
            if nss & 0xFFFC == 0 {
                if !(toLong && rpl < 3) { throw fault(13, 0) }
                ssc = SegmentCache(selector: nss, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC093 | UInt16(rpl) << 5)
            } else {
                ssc = try checkStackSeg(nss, rpl, errVector: 13, ext: 0)
            }
        }
        // commit
        let oldCPL = cpl
        let oldIF = fl & fIF
        var mask: UInt64 = fCF | fPF | fAF | fZF | fSF | fTF | fDF | fOF | fNT
        if osz >= 4 { mask |= fRF | fAC | fID }
        if oldCPL <= UInt8((fl >> 12) & 3) { mask |= fIF }
        if oldCPL == 0 {
            mask |= fIOPL
            if osz >= 4 { mask |= fVIF | fVIP }
        }
        setFlagsValue((materializedFlags() & ~mask) | (nf & mask))
        setAccessed(d, a)
        setCS(sel, d, rpl)
        if popSS {
            segs[2] = ssc
            updateMode()
            w64(4, toLong || codeMode == 2 ? nsp : nsp & (ssc.attributes & 0x4000 != 0 ? 0xFFFF_FFFF : 0xFFFF))
        } else {
            setRSP(nsp)
        }
        rip = toLong ? newRip : newRip & (osz == 2 ? 0xFFFF : 0xFFFF_FFFF)
        if rpl > oldCPL { nullDataSegments() }
        if reportEvents {
            bus.cpuEvent(.iret(rip: rip))
            if fl & fIF != oldIF { bus.cpuEvent(.interruptFlag(enabled: fl & fIF != 0, rip: rip)) }
        }
        updateLimit()
    }

    /// Sets RFLAGS from a full value (caller applied the privilege mask).
    func setFlagsValue(_ v: UInt64) {
        fl = (v & 0x3F_7FD7 & ~arithMask) | 2
        setArith(v)
        updateLimit()
    }

    // MARK: flags instructions

    func pushFlags(_ d: DInsn) throws(CPUFault) {
        let f = materializedFlags() & ~(fVM | fRF)
        try pushS(f, d.osz)
    }

    func popFlags(_ d: DInsn) throws(CPUFault) {
        let v = try popS(d.osz)
        let oldIF = fl & fIF
        var mask: UInt64 = fCF | fPF | fAF | fZF | fSF | fTF | fDF | fOF | fNT
        if d.osz >= 4 { mask |= fAC | fID }
        if cr0v & 1 == 0 {
            mask |= fIF | fIOPL
        } else {
            let iopl = UInt8((fl >> 12) & 3)
            if cpl <= iopl { mask |= fIF }
            if cpl == 0 { mask |= fIOPL }
        }
        setFlagsValue(((materializedFlags() & ~mask) | (v & mask)) & ~fRF)
        if reportEvents && fl & fIF != oldIF {
            bus.cpuEvent(.interruptFlag(enabled: fl & fIF != 0, rip: curRip))
        }
    }

    func flagOp(_ k: UInt8) throws(CPUFault) {
        switch k {
        case 0: setCF(false)
        case 1: setCF(true)
        case 2: setCF(!cfv)
        case 3: fl &= ~fDF
        case 4: fl |= fDF
        case 5, 6:
            if cr0v & 1 != 0 && cpl > UInt8((fl >> 12) & 3) { throw fault(13, 0) }
            if k == 5 {
                if fl & fIF != 0 {
                    fl &= ~fIF
                    if reportEvents { bus.cpuEvent(.interruptFlag(enabled: false, rip: curRip)) }
                }
            } else if fl & fIF == 0 {
                fl |= fIF
                shadowAt = retired &+ 1
                if reportEvents { bus.cpuEvent(.interruptFlag(enabled: true, rip: curRip)) }
            }
            updateLimit()
        default: break
        }
    }

    @inline(__always) func setZF(_ z: Bool) {
        var f = arithFlags()
        if z { f |= fZF } else { f &= ~fZF }
        setArith(f)
    }

    // MARK: the rest of the instruction set

    // swiftlint:disable:next function_body_length cyclomatic_complexity
    func execSystem(_ d: DInsn) throws(CPUFault) {
        switch d.op {
        case .jmpFar:
            try farTransfer(d.imm2, d.imm, call: false, osz: d.osz)
        case .callFar:
            try farTransfer(d.imm2, d.imm, call: true, osz: d.osz)
        case .jmpFarM, .callFarM:
            let a = ea(d)
            let off: UInt64
            switch d.osz {
            case 2: off = UInt64(try rd(a) as UInt16)
            case 4: off = UInt64(try rd(a) as UInt32)
            default: off = try rd(a) as UInt64
            }
            let sel: UInt16 = try rd((a &+ UInt64(d.osz)) & linMask)
            try farTransfer(sel, off, call: d.op == .callFarM, osz: d.osz)
        case .retf:
            try farReturn(d.osz, d.imm)
        case .iret:
            try iret(d.osz)
        case .pushSeg:
            try pushS(UInt64(segs[Int(d.sub)].selector), d.osz)
        case .popSeg:
            let sp0 = rspv
            let v = try popS(d.osz)
            do { try loadSeg(Int(d.sub), UInt16(truncatingIfNeeded: v)) } catch { setRSP(sp0); throw error }
            if d.sub == 2 { shadowAt = retired &+ 1 }
        case .movSegRm:
            let sel: UInt16 = try rdRM(d)
            try loadSeg(Int(d.sub), sel)
            if d.sub == 2 { shadowAt = retired &+ 1 }
        case .movRmSeg:
            let sel = segs[Int(d.sub)].selector
            if d.mem != 0 { try wr(ea(d), sel) }
            else if d.osz == 2 { gw(d.rm, sel) }
            else { w64(Int(d.rm) >> 3, UInt64(sel)) }
        case .lfp:
            let a = ea(d)
            let off: UInt64
            switch d.osz {
            case 2: off = UInt64(try rd(a) as UInt16)
            case 4: off = UInt64(try rd(a) as UInt32)
            default: off = try rd(a) as UInt64
            }
            let sel: UInt16 = try rd((a &+ UInt64(d.osz)) & linMask)
            try loadSeg(Int(d.sub), sel)
            switch d.osz {
            case 2: gw(d.reg, UInt16(truncatingIfNeeded: off))
            case 4: gw(d.reg, UInt32(truncatingIfNeeded: off))
            default: gw(d.reg, off)
            }
            if d.sub == 2 { shadowAt = retired &+ 1 }
        case .pusha:
            try pusha(d.osz)
        case .popa:
            try popa(d.osz)
        case .cpuid:
            cpuid()
        case .rdtsc:
            if cr4v & 4 != 0 && cpl != 0 && cr0v & 1 != 0 { throw fault(13, 0) }
            let t = bus.virtualTimeNs() &+ tscOffset
            w64(0, t & 0xFFFF_FFFF); w64(2, t >> 32)
        case .rdtscp:
            if cr4v & 4 != 0 && cpl != 0 && cr0v & 1 != 0 { throw fault(13, 0) }
            let t = bus.virtualTimeNs() &+ tscOffset
            w64(0, t & 0xFFFF_FFFF); w64(2, t >> 32); w64(1, msrTSCAux & 0xFFFF_FFFF)
        case .rdpmc:
            if cpl != 0 && cr4v & 0x100 == 0 && cr0v & 1 != 0 { throw fault(13, 0) }
            if r64(1) & 0xFFFF_FFFF > 3 { throw fault(13, 0) }
            w64(0, 0); w64(2, 0)
        case .rdmsr:
            if cpl != 0 { throw fault(13, 0) }
            let v = try readMSR(UInt32(truncatingIfNeeded: r64(1)))
            w64(0, v & 0xFFFF_FFFF); w64(2, v >> 32)
        case .wrmsr:
            if cpl != 0 { throw fault(13, 0) }
            try writeMSR(UInt32(truncatingIfNeeded: r64(1)), (r64(2) << 32) | (r64(0) & 0xFFFF_FFFF))
        case .movCR:
            try movCR(d)
        case .movDR:
            try movDR(d)
        case .clts:
            if cpl != 0 { throw fault(13, 0) }
            cr0v &= ~8
        case .invd:
            if cpl != 0 { throw fault(13, 0) }
        case .grp6:
            try grp6(d)
        case .grp7:
            try grp7(d)
        case .lar, .lsl:
            try larLsl(d)
        case .syscall:
            try syscallInsn()
        case .sysret:
            try sysretInsn(d)
        case .sysenter, .sysexit:
            throw fault(6)
        case .cmpxchg8b:
            try cmpxchg8b(d)
        case .bcd:
            try bcd(d)
        case .bound:
            try bound(d)
        case .arpl:
            if cr0v & 1 == 0 { throw fault(6) }
            let dst: UInt16 = try rdRM(d)
            let src: UInt16 = gr(d.reg)
            if dst & 3 < src & 3 {
                try wrRM(d, (dst & ~3) | (src & 3))
                setZF(true)
            } else {
                setZF(false)
            }
        case .sse, .x87, .grp15:
            try execSSE(d)
        default:
            reportUnimplemented(d)
            throw fault(6)
        }
    }

    func reportUnimplemented(_ d: DInsn) {
        guard reportEvents else { return }
        let lin = (sbase[1] &+ curRip) & linMask
        let n = d.len == 0 ? 15 : Int(d.len)
        let bytes = readLinear(lin, count: n) ?? []
        bus.cpuEvent(.unimplemented(bytes: bytes, rip: curRip))
    }

    func pusha(_ osz: UInt8) throws(CPUFault) {
        let s = UInt64(osz)
        let sp0 = rspv
        // EAX ECX EDX EBX (original) ESP EBP ESI EDI, all written before ESP moves
        for i in 0..<8 {
            let v = i == 4 ? sp0 : r64(i)
            let sp = sp0 &- s &* UInt64(i + 1)
            if osz == 2 { try wr(stackLin(sp), UInt16(truncatingIfNeeded: v)) }
            else { try wr(stackLin(sp), UInt32(truncatingIfNeeded: v)) }
        }
        setRSP(sp0 &- 8 &* s)
    }

    func popa(_ osz: UInt8) throws(CPUFault) {
        let s = UInt64(osz)
        let sp0 = rspv
        // read all eight slots first (EDI at the top), then assign (ESP's slot is skipped)
        var v: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        v.7 = try readStack(sp0, osz)
        v.6 = try readStack(sp0 &+ s, osz)
        v.5 = try readStack(sp0 &+ 2 &* s, osz)
        v.3 = try readStack(sp0 &+ 4 &* s, osz)
        v.2 = try readStack(sp0 &+ 5 &* s, osz)
        v.1 = try readStack(sp0 &+ 6 &* s, osz)
        v.0 = try readStack(sp0 &+ 7 &* s, osz)
        popaSet(0, v.0, osz); popaSet(1, v.1, osz); popaSet(2, v.2, osz); popaSet(3, v.3, osz)
        popaSet(5, v.5, osz); popaSet(6, v.6, osz); popaSet(7, v.7, osz)
        setRSP(sp0 &+ 8 &* s)
    }

    func popaSet(_ i: Int, _ x: UInt64, _ osz: UInt8) {
        if osz == 2 { gw(UInt8(i * 8), UInt16(truncatingIfNeeded: x)) }
        else { gw(UInt8(i * 8), UInt32(truncatingIfNeeded: x)) }
    }

    func enter(_ d: DInsn) throws(CPUFault) {
        let s = UInt64(d.osz)
        let alloc = d.imm & 0xFFFF
        let level = Int(d.imm2 & 31)
        let sp0 = rspv, bp0 = r64(5)
        do {
            try pushS(bp0, d.osz)
            let frame = rspv
            if level > 0 {
                var bp = bp0
                for _ in 1..<max(level, 1) {
                    bp = bp &- s
                    let v = try readStack(bp & ssMask, d.osz)
                    try pushS(v, d.osz)
                }
                try pushS(frame, d.osz)
            }
            switch d.osz {
            case 2: gw(40, UInt16(truncatingIfNeeded: frame))
            case 4: gw(40, UInt32(truncatingIfNeeded: frame))
            default: w64(5, frame)
            }
            setRSP(rspv &- alloc)
            // touch the new stack top like hardware does
            if alloc != 0 { _ = try rdW(stackLin(rspv)) as UInt8 }
        } catch {
            w64(4, sp0); w64(5, bp0)
            throw error
        }
    }

    func hlt() throws(CPUFault) {
        if cr0v & 1 != 0 && cpl != 0 { throw fault(13, 0) }
        halted = true
        if reportEvents { bus.cpuEvent(.halt(interruptsEnabled: fl & fIF != 0, rip: rip)) }
        limit = 0
    }

    // MARK: port I/O

    func checkIO(_ port: UInt16, _ size: UInt8) throws(CPUFault) {
        if cr0v & 1 == 0 { return }
        if cpl <= UInt8((fl >> 12) & 3) && fl & fVM == 0 { return }
        let t = tr.attributes & 0xF
        guard t == 9 || t == 0xB, tr.limit >= 0x67 else { throw fault(13, 0) }
        let base = try sysRead(tr.base &+ 0x66, 2)
        let off = base &+ UInt64(port >> 3)
        if off &+ 1 > UInt64(tr.limit) { throw fault(13, 0) }
        let bits = try sysRead(tr.base &+ off, 2)
        let mask = ((UInt64(1) << UInt64(size)) - 1) << UInt64(port & 7)
        if bits & mask != 0 { throw fault(13, 0) }
    }

    func ioInsn(_ d: DInsn) throws(CPUFault) {
        let port = d.sub & 2 != 0 ? UInt16(truncatingIfNeeded: r64(2)) : UInt16(truncatingIfNeeded: d.imm)
        try checkIO(port, d.osz)
        if d.sub & 1 == 0 {
            let v = bus.portRead(port, size: Int(d.osz))
            switch d.osz {
            case 1: gw(0, UInt8(truncatingIfNeeded: v))
            case 2: gw(0, UInt16(truncatingIfNeeded: v))
            default: gw(0, v)
            }
        } else {
            let v = UInt32(truncatingIfNeeded: r64(0)) & (d.osz == 4 ? 0xFFFF_FFFF : (1 << (UInt32(d.osz) * 8)) - 1)
            bus.portWrite(port, size: Int(d.osz), value: v)
        }
    }

    func insOuts(_ d: DInsn) throws(CPUFault) {
        let port = UInt16(truncatingIfNeeded: r64(2))
        let size = Int(d.osz)
        try checkIO(port, d.osz)
        let am = UInt64.max &>> UInt64(d.ashift)
        let step = fl & fDF != 0 ? 0 &- UInt64(size) : UInt64(size)
        let rep = d.pfx & (P.rep | P.repne) != 0
        var cnt = rep ? r64(1) & am : 1
        if cnt == 0 { return }
        repeat {
            if d.op == .ins {
                let di = r64(7) & am
                let l = segLin(0, di)
                _ = try readSlow(l, size, write: true)     // fault before the port is read
                let v = bus.portRead(port, size: size)
                try writeSlow(l, UInt64(v), size)
                wA(7, di &+ step, d.ashift)
            } else {
                let si = r64(6) & am
                let v = try readSlow(segLin(Int(d.seg), si), size, write: false)
                bus.portWrite(port, size: size, value: UInt32(truncatingIfNeeded: v))
                wA(6, si &+ step, d.ashift)
            }
            cnt &-= 1
            if rep { wA(1, cnt, d.ashift) }
            retired &+= 1
        } while cnt != 0 && retired < limit
        retired &-= 1
        if cnt != 0 { rip = curRip }
    }

    // MARK: control and debug registers

    func movCR(_ d: DInsn) throws(CPUFault) {
        if cr0v & 1 != 0 && cpl != 0 { throw fault(13, 0) }
        let g = Int(d.rm) >> 3
        let n = d.reg
        if d.sub == 0 {
            let v: UInt64
            switch n {
            case 0: v = cr0v
            case 2: v = cr2
            case 3: v = cr3v
            case 4: v = cr4v
            case 8: v = cr8
            default: throw fault(6)
            }
            w64(g, codeMode == 2 ? v : v & 0xFFFF_FFFF)
            return
        }
        var v = r64(g)
        if codeMode != 2 { v &= 0xFFFF_FFFF }
        switch n {
        case 0:
            if v >> 32 != 0 { throw fault(13, 0) }
            if v & 0x8000_0000 != 0 && v & 1 == 0 { throw fault(13, 0) }
            if v & 0x2000_0000 != 0 && v & 0x4000_0000 == 0 { throw fault(13, 0) }
            let enablingPG = v & 0x8000_0000 != 0 && cr0v & 0x8000_0000 == 0
            if enablingPG && eferv & 0x100 != 0 {
                if cr4v & 0x20 == 0 { throw fault(13, 0) }
                if segs[1].attributes & 0x2000 != 0 { throw fault(13, 0) }
            }
            if codeMode == 2 && v & 0x8000_0000 == 0 { throw fault(13, 0) }
            let old = cr0v
            // reserved bits of CR0[31:0] are ignored; ET is always 1
            cr0v = (v & 0xE005_003F) | 0x10
            updateLMA()
            if (old ^ cr0v) & 0x8001_0001 != 0 { updatePaging() }
            updateMode()
            if reportEvents && (old ^ cr0v) & 0x8000_0001 != 0 {
                var s = cr0v & 1 != 0 ? "protected" : "real"
                s += cr0v & 0x8000_0000 != 0 ? ", paging on" : ", paging off"
                if eferv & 0x400 != 0 { s += ", long mode active" }
                bus.cpuEvent(.modeChange(s))
            }
        case 2: cr2 = v
        case 3:
            cr3v = v & (eferv & 0x400 != 0 ? 0x000F_FFFF_FFFF_FFFF : 0xFFFF_FFFF)
            flushTLB()
        case 4:
            // VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT (what CPUID reports)
            let allowed: UInt64 = 0x1FF | 0x600
            if v & ~allowed != 0 { throw fault(13, 0) }
            if eferv & 0x400 != 0 && v & 0x20 == 0 { throw fault(13, 0) }
            let old = cr4v
            cr4v = v
            if (old ^ v) & 0xB0 != 0 { updatePaging() }
        case 8:
            if v & ~0xF != 0 { throw fault(13, 0) }
            cr8 = v
        default:
            throw fault(6)
        }
    }

    func movDR(_ d: DInsn) throws(CPUFault) {
        if cr0v & 1 != 0 && cpl != 0 { throw fault(13, 0) }
        let g = Int(d.rm) >> 3
        var n = d.reg
        if n > 7 { throw fault(6) }
        if (n == 4 || n == 5) {
            if cr4v & 8 != 0 { throw fault(6) }
            n += 2
        }
        if d.sub == 0 {
            let v: UInt64
            switch n {
            case 0: v = drs.0
            case 1: v = drs.1
            case 2: v = drs.2
            case 3: v = drs.3
            case 6: v = drs.4
            default: v = drs.5
            }
            w64(g, codeMode == 2 ? v : v & 0xFFFF_FFFF)
        } else {
            let v = r64(g)
            switch n {
            case 0: drs.0 = v
            case 1: drs.1 = v
            case 2: drs.2 = v
            case 3: drs.3 = v
            case 6: drs.4 = (v & 0xE00F) | 0xFFFF_0FF0
            default: drs.5 = (v & 0xFFFF_2FFF) | 0x400
            }
        }
    }

    func updateLMA() {
        if cr0v & 0x8000_0001 == 0x8000_0001 && eferv & 0x100 != 0 {
            eferv |= 0x400
        } else {
            eferv &= ~0x400
        }
    }

    func updatePaging() {
        if cr0v & 0x8000_0000 == 0 { pagingMode = 0 }
        else if cr4v & 0x20 == 0 { pagingMode = 1 }
        else { pagingMode = eferv & 0x400 != 0 ? 3 : 2 }
        flushTLB()
    }

    func updateMode() {
        let a = segs[1].attributes
        if cr0v & 1 != 0 && eferv & 0x400 != 0 && a & 0x2000 != 0 {
            codeMode = 2
        } else {
            codeMode = a & 0x4000 != 0 ? 1 : 0
        }
        linMask = codeMode == 2 ? .max : 0xFFFF_FFFF
        ripMask = codeMode == 2 ? .max : (codeMode == 1 ? 0xFFFF_FFFF : 0xFFFF)
        ssMask = codeMode == 2 ? .max : (segs[2].attributes & 0x4000 != 0 ? 0xFFFF_FFFF : 0xFFFF)
        updateSegBases()
        fetchLin = 1
        limit = 0
        if reportEvents {
            let name = mode.rawValue
            if name != lastModeName {
                lastModeName = name
                bus.cpuEvent(.modeChange(name))
            }
        }
    }

    func updateSegBases() {
        if codeMode == 2 {
            sbase[0] = 0; sbase[1] = 0; sbase[2] = 0; sbase[3] = 0
            sbase[4] = segs[4].base
            sbase[5] = segs[5].base
        } else {
            for i in 0..<6 { sbase[i] = segs[i].base & 0xFFFF_FFFF }
        }
        sbase[6] = 0
        sbase[7] = 0
        fetchLin = 1
    }

    func setFetch(_ lin: UInt64) throws(CPUFault) {
        let pa = try translateFetch(lin)
        fetchLin = lin & ~0xFFF
        fetchPhys = pa & ~0xFFF
        fetchCacheable = isHostPage(fetchPhys)
        fetchKey = fetchCacheable ? codeMode : 3
    }

    // MARK: MSRs and CPUID

    func readMSR(_ n: UInt32) throws(CPUFault) -> UInt64 {
        switch n {
        case 0x10: return bus.virtualTimeNs() &+ tscOffset
        case 0x1B: return 0xFEE0_0900
        case 0x3A, 0x8B, 0xFE, 0x179, 0x17A, 0x2FF: return 0
        case 0x200...0x20F, 0x250, 0x258, 0x259, 0x268...0x26F: return 0
        case 0x174: return msrSysenterCS
        case 0x175: return msrSysenterESP
        case 0x176: return msrSysenterEIP
        case 0x1A0: return msrMiscEnable
        case 0x277: return msrPAT
        case 0xC000_0080: return eferv
        case 0xC000_0081: return msrSTAR
        case 0xC000_0082: return msrLSTAR
        case 0xC000_0083: return msrCSTAR
        case 0xC000_0084: return msrSFMASK
        case 0xC000_0100: return segs[4].base
        case 0xC000_0101: return segs[5].base
        case 0xC000_0102: return kernelGSBase
        case 0xC000_0103: return msrTSCAux
        default: throw fault(13, 0)
        }
    }

    func writeMSR(_ n: UInt32, _ v: UInt64) throws(CPUFault) {
        switch n {
        case 0x10:
            tscOffset = v &- bus.virtualTimeNs()
        case 0x1B, 0x3A, 0x8B, 0x179, 0x17A, 0x2FF, 0x200...0x20F, 0x250, 0x258, 0x259, 0x268...0x26F:
            break
        case 0x174: msrSysenterCS = v & 0xFFFF
        case 0x175: msrSysenterESP = v
        case 0x176: msrSysenterEIP = v
        case 0x1A0: msrMiscEnable = v
        case 0x277: msrPAT = v
        case 0xC000_0080:
            if v & ~0xD01 != 0 { throw fault(13, 0) }
            let old = eferv
            if cr0v & 0x8000_0000 != 0 && (old ^ v) & 0x100 != 0 { throw fault(13, 0) }
            eferv = (v & ~0x400) | (old & 0x400)
            updateLMA()
            if (old ^ eferv) & 0xC00 != 0 { updatePaging() }
            updateMode()
        case 0xC000_0081: msrSTAR = v
        case 0xC000_0082:
            if !canonical(v) { throw fault(13, 0) }
            msrLSTAR = v
        case 0xC000_0083:
            if !canonical(v) { throw fault(13, 0) }
            msrCSTAR = v
        case 0xC000_0084: msrSFMASK = v & 0xFFFF_FFFF
        case 0xC000_0100:
            if !canonical(v) { throw fault(13, 0) }
            segs[4].base = v; updateSegBases()
        case 0xC000_0101:
            if !canonical(v) { throw fault(13, 0) }
            segs[5].base = v; updateSegBases()
        case 0xC000_0102:
            if !canonical(v) { throw fault(13, 0) }
            kernelGSBase = v
        case 0xC000_0103: msrTSCAux = v & 0xFFFF_FFFF
        default: throw fault(13, 0)
        }
    }

    func cpuid() {
        var leaf = UInt32(truncatingIfNeeded: r64(0))
        let sub = UInt32(truncatingIfNeeded: r64(1))
        if (leaf < 0x8000_0000 && leaf > 7) || leaf > 0x8000_0008 { leaf = 7 }
        var a: UInt32 = 0, b: UInt32 = 0, c: UInt32 = 0, d: UInt32 = 0
        switch leaf {
        case 0:
            a = 7; b = 0x756E_6547; d = 0x4965_6E69; c = 0x6C65_746E   // "GenuineIntel"
        case 1:
            a = 0x0002_06A7                      // family 6, model 0x2A, stepping 7
            b = 0x0001_0800                      // CLFLUSH 64 bytes, 1 logical CPU, APIC ID 0
            c = (1 << 13) | (1 << 23)            // CX16, POPCNT
            // FPU PSE TSC MSR PAE CX8 PGE CMOV PAT CLFSH FXSR SSE SSE2 (no APIC)
            d = 0x0709_A179
        case 7:
            if sub == 0 { b = 1 << 3 }           // BMI1 (TZCNT)
        case 0x8000_0000:
            a = 0x8000_0008
        case 0x8000_0001:
            c = 1 | (1 << 5)                     // LAHF/SAHF in 64-bit, ABM (LZCNT)
            d = (1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29)   // SYSCALL NX 1GB RDTSCP LM
        case 0x8000_0002, 0x8000_0003, 0x8000_0004:
            let brand = Array("swiftemu x86-64 interpreter".utf8) + [UInt8](repeating: 0, count: 48)
            let o = Int(leaf - 0x8000_0002) * 16
            func w(_ i: Int) -> UInt32 {
                UInt32(brand[o + i]) | UInt32(brand[o + i + 1]) << 8 | UInt32(brand[o + i + 2]) << 16 | UInt32(brand[o + i + 3]) << 24
            }
            a = w(0); b = w(4); c = w(8); d = w(12)
        case 0x8000_0008:
            a = 0x3028
        default:
            break
        }
        w64(0, UInt64(a)); w64(3, UInt64(b)); w64(1, UInt64(c)); w64(2, UInt64(d))
    }

    // MARK: descriptor-table instructions

    func grp6(_ d: DInsn) throws(CPUFault) {
        if cr0v & 1 == 0 || fl & fVM != 0 { throw fault(6) }
        switch d.sub {
        case 0, 1:
            let sel = d.sub == 0 ? ldtr.selector : tr.selector
            if d.mem != 0 { try wr(ea(d), sel) }
            else if d.osz == 2 { gw(d.rm, sel) }
            else { w64(Int(d.rm) >> 3, UInt64(sel)) }
        case 2, 3:
            if cpl != 0 { throw fault(13, 0) }
            let sel: UInt16 = try rdRM(d)
            let err = UInt32(sel & 0xFFFC)
            if d.sub == 2 && sel & 0xFFFC == 0 {
                ldtr = SegmentCache(selector: sel, base: 0, limit: 0, attributes: 0)
                return
            }
            if sel & 0xFFFC == 0 || sel & 4 != 0 { throw fault(13, err) }
            let (desc, a) = try readDesc(sel, ext: 0)
            let long = eferv & 0x400 != 0
            var base = desc.base
            if long {
                let hi = try sysRead(a &+ 8, 8)
                base |= (hi & 0xFFFF_FFFF) << 32
            }
            if desc.s { throw fault(13, err) }
            if d.sub == 2 {
                if desc.type != 2 { throw fault(13, err) }
                if !desc.present { throw fault(11, err) }
                ldtr = SegmentCache(selector: sel, base: base, limit: desc.limit, attributes: desc.attr)
                if reportEvents { bus.cpuEvent(.descriptorTable(kind: "LDT", base: base, limit: desc.limit)) }
            } else {
                if !(desc.type == 9 || (!long && desc.type == 1)) { throw fault(13, err) }
                if !desc.present { throw fault(11, err) }
                // mark busy
                try sysWrite(a &+ 5, UInt64((desc.hi >> 8) | 2) & 0xFF, 1)
                tr = SegmentCache(selector: sel, base: base, limit: desc.limit, attributes: desc.attr | 2)
                if reportEvents { bus.cpuEvent(.descriptorTable(kind: "TR", base: base, limit: desc.limit)) }
            }
        case 4, 5:
            let sel: UInt16 = try rdRM(d)
            var ok = false
            if sel & 0xFFFC != 0, let (desc, _) = try? readDesc(sel, ext: 0), desc.s {
                let rpl = UInt8(sel & 3)
                let privOK = (desc.isCode && desc.conforming) || (desc.dpl >= cpl && desc.dpl >= rpl)
                if d.sub == 4 {
                    ok = privOK && (!desc.isCode || desc.type & 2 != 0)
                } else {
                    ok = privOK && !desc.isCode && desc.type & 2 != 0
                }
            }
            setZF(ok)
        default:
            throw fault(6)
        }
    }

    // swiftlint:disable:next cyclomatic_complexity
    func grp7(_ d: DInsn) throws(CPUFault) {
        if d.sub & 8 != 0 {
            // register forms
            switch d.imm2 {
            case 0xF8:   // SWAPGS
                if codeMode != 2 { throw fault(6) }
                if cpl != 0 { throw fault(13, 0) }
                let t = segs[5].base
                segs[5].base = kernelGSBase
                kernelGSBase = t
                updateSegBases()
            case 0xF9:   // RDTSCP
                if cr4v & 4 != 0 && cpl != 0 && cr0v & 1 != 0 { throw fault(13, 0) }
                let t = bus.virtualTimeNs() &+ tscOffset
                w64(0, t & 0xFFFF_FFFF); w64(2, t >> 32); w64(1, msrTSCAux & 0xFFFF_FFFF)
            default:
                let r = d.sub & 7
                if r == 4 {          // SMSW reg
                    if d.osz == 2 { gw(d.rm, UInt16(truncatingIfNeeded: cr0v)) }
                    else { w64(Int(d.rm) >> 3, codeMode == 2 ? cr0v : cr0v & 0xFFFF_FFFF) }
                } else if r == 6 {   // LMSW reg
                    try lmsw(gr(d.rm) as UInt16)
                } else {
                    reportUnimplemented(d)
                    throw fault(6)
                }
            }
            return
        }
        let a = ea(d)
        switch d.sub & 7 {
        case 0, 1:
            let t = d.sub == 0 ? gdtr : idtr
            try wr(a, t.limit)
            if codeMode == 2 { try wr((a &+ 2) & linMask, t.base) }
            else { try wr((a &+ 2) & linMask, UInt32(truncatingIfNeeded: t.base)) }
        case 2, 3:
            if cr0v & 1 != 0 && cpl != 0 { throw fault(13, 0) }
            let lim: UInt16 = try rd(a)
            var base: UInt64
            if codeMode == 2 { base = try rd((a &+ 2) & linMask) as UInt64 }
            else {
                base = UInt64(try rd((a &+ 2) & linMask) as UInt32)
                if d.osz == 2 { base &= 0xFF_FFFF }
            }
            if d.sub == 2 {
                gdtr = TableRegister(base: base, limit: lim)
                if reportEvents { bus.cpuEvent(.descriptorTable(kind: "GDT", base: base, limit: UInt32(lim))) }
            } else {
                idtr = TableRegister(base: base, limit: lim)
                if reportEvents { bus.cpuEvent(.descriptorTable(kind: "IDT", base: base, limit: UInt32(lim))) }
            }
        case 4:
            try wr(a, UInt16(truncatingIfNeeded: cr0v))
        case 6:
            try lmsw(try rd(a) as UInt16)
        case 7:
            if cr0v & 1 != 0 && cpl != 0 { throw fault(13, 0) }
            invalidatePage(a)
        default:
            reportUnimplemented(d)
            throw fault(6)
        }
    }

    func lmsw(_ v: UInt16) throws(CPUFault) {
        if cr0v & 1 != 0 && cpl != 0 { throw fault(13, 0) }
        let old = cr0v
        cr0v = (cr0v & ~0xE) | UInt64(v & 0xF) | (old & 1)
        if (old ^ cr0v) & 1 != 0 { updateMode() }
    }

    func larLsl(_ d: DInsn) throws(CPUFault) {
        if cr0v & 1 == 0 || fl & fVM != 0 { throw fault(6) }
        let sel: UInt16 = try rdRM(d)
        guard sel & 0xFFFC != 0, let (desc, _) = try? readDesc(sel, ext: 0) else { setZF(false); return }
        let rpl = UInt8(sel & 3)
        let long = eferv & 0x400 != 0
        var valid: Bool
        if desc.s {
            valid = true
        } else {
            switch desc.type {
            case 2, 9, 0xB: valid = true
            case 1, 3: valid = !long
            case 0xC: valid = d.op == .lar
            case 4, 5: valid = d.op == .lar && !long
            default: valid = false
            }
        }
        if valid && !(desc.isCode && desc.conforming) && (desc.dpl < cpl || desc.dpl < rpl) { valid = false }
        if !valid { setZF(false); return }
        let v: UInt64 = d.op == .lar ? UInt64(desc.hi & 0x00FF_FF00) : UInt64(desc.limit)
        switch d.osz {
        case 2: gw(d.reg, UInt16(truncatingIfNeeded: v))
        case 4: gw(d.reg, UInt32(truncatingIfNeeded: v))
        default: w64(Int(d.reg) >> 3, v)
        }
        setZF(true)
    }

    // MARK: SYSCALL / SYSRET

    func syscallInsn() throws(CPUFault) {
        if eferv & 1 == 0 { throw fault(6) }
        let sel = UInt16(truncatingIfNeeded: msrSTAR >> 32) & 0xFFFC
        let f = materializedFlags()
        w64(1, rip)
        w64(11, f & ~fRF)
        let nf = f & ~(msrSFMASK | fRF)
        setFlagsValue(nf)
        segs[1] = SegmentCache(selector: sel, base: 0, limit: 0xFFFF_FFFF, attributes: 0xA09B)
        segs[2] = SegmentCache(selector: sel &+ 8, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC093)
        setCPL(0)
        updateMode()
        rip = codeMode == 2 ? msrLSTAR : msrCSTAR
    }

    func sysretInsn(_ d: DInsn) throws(CPUFault) {
        if eferv & 1 == 0 { throw fault(6) }
        if cpl != 0 { throw fault(13, 0) }
        let base = UInt16(truncatingIfNeeded: msrSTAR >> 48)
        let to64 = d.pfx & P.rexW != 0
        let target = to64 ? r64(1) : r64(1) & 0xFFFF_FFFF
        if to64 && !canonical(target) { throw fault(13, 0) }
        let oldIF = fl & fIF
        setFlagsValue((r64(11) & 0x3F_7FD7 & ~fRF) | 2)
        if to64 {
            segs[1] = SegmentCache(selector: (base &+ 16) | 3, base: 0, limit: 0xFFFF_FFFF, attributes: 0xA0FB)
        } else {
            segs[1] = SegmentCache(selector: base | 3, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC0FB)
        }
        segs[2] = SegmentCache(selector: (base &+ 8) | 3, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC0F3)
        setCPL(3)
        updateMode()
        rip = target
        if reportEvents && fl & fIF != oldIF { bus.cpuEvent(.interruptFlag(enabled: fl & fIF != 0, rip: rip)) }
    }

    // MARK: misc

    func cmpxchg8b(_ d: DInsn) throws(CPUFault) {
        let a = ea(d)
        if d.osz == 8 {
            if a & 15 != 0 { throw fault(13, 0) }
            let lo: UInt64 = try rdW(a)
            let hi: UInt64 = try rdW((a &+ 8) & linMask)
            if lo == r64(0) && hi == r64(2) {
                try wr(a, r64(3)); try wr((a &+ 8) & linMask, r64(1))
                setZF(true)
            } else {
                try wr(a, lo); try wr((a &+ 8) & linMask, hi)
                w64(0, lo); w64(2, hi)
                setZF(false)
            }
        } else {
            let v: UInt64 = try rdW(a)
            let cmp = (r64(2) & 0xFFFF_FFFF) << 32 | (r64(0) & 0xFFFF_FFFF)
            if v == cmp {
                try wr(a, (r64(1) & 0xFFFF_FFFF) << 32 | (r64(3) & 0xFFFF_FFFF))
                setZF(true)
            } else {
                try wr(a, v)
                w64(0, v & 0xFFFF_FFFF); w64(2, v >> 32)
                setZF(false)
            }
        }
    }

    func bcd(_ d: DInsn) throws(CPUFault) {
        var al = UInt8(truncatingIfNeeded: r64(0))
        var ah = UInt8(truncatingIfNeeded: r64(0) >> 8)
        let cf = cfv, af = afv
        var ncf = false, naf = false
        switch d.sub {
        case 0, 1:   // DAA, DAS
            let old = al
            if al & 0xF > 9 || af {
                naf = true
                if d.sub == 0 { ncf = cf || al > 0xF9; al = al &+ 6 } else { ncf = cf || al < 6; al = al &- 6 }
            }
            if old > 0x99 || cf {
                al = d.sub == 0 ? al &+ 0x60 : al &- 0x60
                ncf = true
            }
            lfRes = sx64(al)
            lfAux = mkAux(ncf, false, naf)
        case 2, 3:   // AAA, AAS
            // The SDM's 32-bit forms: AAA adds 106h to AX (a carry out of AL
            // reaches AH too), AAS subtracts 6 from AX and then 1 from AH
            // (the 8086 adjusted AL alone; the host CPU follows the SDM).
            if al & 0xF > 9 || af {
                var ax = UInt16(al) | UInt16(ah) << 8
                if d.sub == 2 { ax = ax &+ 0x106 } else { ax = ax &- 6 }
                al = UInt8(truncatingIfNeeded: ax)
                ah = UInt8(truncatingIfNeeded: ax >> 8)
                if d.sub == 3 { ah = ah &- 1 }
                ncf = true; naf = true
            }
            al &= 0xF
            lfRes = sx64(al)
            lfAux = mkAux(ncf, false, naf)
        case 4:      // AAM
            let base = UInt8(truncatingIfNeeded: d.imm)
            if base == 0 { throw fault(0) }
            ah = al / base
            al = al % base
            logicF(al)
        case 5:      // AAD
            let base = UInt8(truncatingIfNeeded: d.imm)
            al = al &+ ah &* base
            ah = 0
            logicF(al)
        default:     // SALC
            al = cf ? 0xFF : 0
        }
        gw(0, UInt16(al) | UInt16(ah) << 8)
    }

    func bound(_ d: DInsn) throws(CPUFault) {
        let a = ea(d)
        if d.osz == 2 {
            let idx = Int16(bitPattern: gr(d.reg) as UInt16)
            let lo = Int16(bitPattern: try rd(a) as UInt16)
            let hi = Int16(bitPattern: try rd((a &+ 2) & linMask) as UInt16)
            if idx < lo || idx > hi { throw fault(5) }
        } else {
            let idx = Int32(bitPattern: gr(d.reg) as UInt32)
            let lo = Int32(bitPattern: try rd(a) as UInt32)
            let hi = Int32(bitPattern: try rd((a &+ 4) & linMask) as UInt32)
            if idx < lo || idx > hi { throw fault(5) }
        }
    }
}
