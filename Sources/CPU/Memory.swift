// Paging, the software TLB, the slow memory paths (page crossings, device
// memory, watchpoints, code-page writes) and decoded-code tracking.

/// Result of a page walk.
struct WalkResult {
    var phys: UInt64 = 0
    /// Page-fault error code, or nil when the walk succeeded.
    var error: UInt32? = nil
    var writable = false
    var dirty = false
    var large = false
}

let physAddrMask: UInt64 = 0x0000_00FF_FFFF_F000   // MAXPHYADDR = 40

extension CPU {

    // MARK: physical memory

    @inline(__always)
    func isHostPage(_ pa: UInt64) -> Bool {
        pa < UInt64(memory.ramSize) && pageKinds[Int(pa >> 12)] != PhysicalMemory.PageKind.device.rawValue
    }

    /// Reads `size` bytes (1, 2, 4, 8; never crossing a page) of physical memory.
    func physRead(_ pa: UInt64, _ size: Int) -> UInt64 {
        if isHostPage(pa) {
            let p = UnsafeRawPointer(ramBase + Int(pa))
            switch size {
            case 1: return UInt64(p.load(as: UInt8.self))
            case 2: return UInt64(p.loadUnaligned(as: UInt16.self))
            case 4: return UInt64(p.loadUnaligned(as: UInt32.self))
            default: return p.loadUnaligned(as: UInt64.self)
            }
        }
        let v = bus.deviceRead(pa, size: size)
        return size == 8 ? v : v & ((1 << UInt64(size * 8)) - 1)
    }

    /// Writes physical memory: RAM (invalidating cached code), ROM (dropped)
    /// or device.
    func physWriteAny(_ pa: UInt64, _ v: UInt64, _ size: Int) {
        if pa < UInt64(memory.ramSize) {
            let p = Int(pa >> 12)
            let k = pageKinds[p]
            if k == PhysicalMemory.PageKind.ram.rawValue {
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
            if k == PhysicalMemory.PageKind.rom.rawValue { return }
        }
        bus.deviceWrite(pa, size: size, value: v)
    }

    // MARK: decoded-code tracking

    /// Records that a decoded instruction of `len` bytes at `pa` is cached.
    func markCode(_ pa: UInt64, _ len: Int) {
        let p = Int(pa >> 12)
        if p >= ramPages { return }
        let off = Int(pa & 0xFFF)
        let first = off >> 6, last = min(63, (off + max(len, 1) - 1) >> 6)
        var m: UInt64 = 0
        for l in first...last { m |= 1 << UInt64(l) }
        codeLines[p] |= m
        if codePages[p] == 0 {
            codePages[p] = 1
            // Stores to this page must now take the slow path.
            let pb = UInt64(p) << 12
            for i in 0..<tlbSize {
                if tlbSup[i].phys == pb { tlbSup[i].wtag = 1 }
                if tlbUser[i].phys == pb { tlbUser[i].wtag = 1 }
            }
        }
    }

    /// A store to [pa, pa+size) on a code page: when it touches a line that
    /// holds cached code, drop every decoded block of the page (and end the
    /// block being executed, which may be one of them).
    func invalidateCodeRange(_ pa: UInt64, _ size: Int) {
        let p = Int(pa >> 12)
        if p >= ramPages { codePages[min(p, PhysicalMemory.pageCount - 1)] = 0; return }
        let off = Int(pa & 0xFFF)
        let end = min(4096, off + max(size, 1))
        let first = off >> 6, last = (end - 1) >> 6
        var m: UInt64 = 0
        for l in first...last { m |= 1 << UInt64(l) }
        if codeLines[p] & m == 0 { return }
        pageGen[p] = (pageGen[p] &+ 1) & ~shortBlock
        codeLines[p] = 0
        codePages[p] = 0
        limit = 0
    }

    /// Drops every decoded block.
    func flushBlocks() {
        for i in 0..<blockDirSize { blockDir[i].tag = .max }
        poolUsed = 0
        limit = 0
    }

    func flushDecodeCache() {
        flushBlocks()
        for p in 0..<ramPages where codeLines[p] != 0 || codePages[p] != 0 {
            codeLines[p] = 0
            codePages[p] = 0
        }
        fetchLin = 1
    }

    // MARK: TLB

    func flushTLB() {
        let empty = TLBEntry()
        for i in 0..<tlbSize { tlbSup[i] = empty; tlbUser[i] = empty }
        fetchLin = 1
        largeCached = false
        limit = 0
    }

    func invalidatePage(_ lin: UInt64) {
        if largeCached { flushTLB(); return }
        let i = tlbIndex(lin)
        tlbSup[i] = TLBEntry()
        tlbUser[i] = TLBEntry()
        fetchLin = 1
        limit = 0
    }

    @inline(__always)
    func canonical(_ a: UInt64) -> Bool {
        let s = Int64(bitPattern: a) >> 47
        return s == 0 || s == -1
    }

    /// Translates a data access, filling the TLB; raises #PF / #GP.
    func translateData(_ lin: UInt64, write: Bool, user: Bool) throws(CPUFault) -> UInt64 {
        let t = user ? tlbUser : tlbSup
        let e = t + (tlbIndex(lin))
        let page = lin & ~0xFFF
        if write ? e.pointee.vwtag == page : e.pointee.vtag == page {
            return e.pointee.phys | (lin & 0xFFF)
        }
        if eferv & 0x400 != 0 && !canonical(lin) { throw fault(13, 0) }
        let w = walk(lin, write: write, user: user, fetch: false, commit: true)
        if let ec = w.error {
            cr2 = lin
            throw fault(14, ec)
        }
        let pp = w.phys & ~0xFFF
        var n = TLBEntry()
        n.phys = pp
        n.vtag = page
        if write || (w.writable && w.dirty) { n.vwtag = page }
        if w.large { largeCached = true }
        if !watchActive && isHostPage(pp) {
            n.addend = Int(bitPattern: UInt(bitPattern: ramBase)) &+ Int(truncatingIfNeeded: pp) &- Int(truncatingIfNeeded: page)
            n.rtag = page
            let pi = Int(pp >> 12)
            if n.vwtag == page && pageKinds[pi] == PhysicalMemory.PageKind.ram.rawValue && codePages[pi] == 0 {
                n.wtag = page
            }
        }
        // keep the fetch translation if the same page was cached for execution
        if e.pointee.xtag == page && e.pointee.phys == pp { n.xtag = page }
        e.pointee = n
        return w.phys
    }

    /// Translates an instruction fetch (NX, U/S checked); raises #PF / #GP.
    func translateFetch(_ lin: UInt64) throws(CPUFault) -> UInt64 {
        let user = cpl == 3
        let t = user ? tlbUser : tlbSup
        let e = t + (tlbIndex(lin))
        let page = lin & ~0xFFF
        if e.pointee.xtag == page { return e.pointee.phys | (lin & 0xFFF) }
        if eferv & 0x400 != 0 && !canonical(lin) { throw fault(13, 0) }
        let w = walk(lin, write: false, user: user, fetch: true, commit: true)
        if let ec = w.error {
            cr2 = lin
            throw fault(14, ec)
        }
        if w.large { largeCached = true }
        let pp = w.phys & ~0xFFF
        if e.pointee.vtag == page && e.pointee.phys == pp {
            e.pointee.xtag = page
        } else {
            var n = TLBEntry()
            n.phys = pp
            n.xtag = page
            e.pointee = n
        }
        return w.phys
    }

    /// Translation without side effects (debugger).
    func peekTranslate(_ lin: UInt64, write: Bool) -> UInt64? {
        let w = walk(lin, write: write, user: false, fetch: false, commit: false)
        if w.error != nil { return nil }
        if write && !w.writable { return nil }
        return w.phys
    }

    @inline(__always)
    func pfCode(present: Bool, write: Bool, user: Bool, fetch: Bool, rsvd: Bool) -> UInt32 {
        var ec: UInt32 = present || rsvd ? 1 : 0
        if write { ec |= 2 }
        if user { ec |= 4 }
        if rsvd { ec |= 8 }
        if fetch && cr4v & 0x20 != 0 && eferv & 0x800 != 0 { ec |= 16 }
        return ec
    }

    /// Walks the page tables. `commit` sets accessed/dirty bits.
    func walk(_ lin: UInt64, write: Bool, user: Bool, fetch: Bool, commit: Bool) -> WalkResult {
        var r = WalkResult()
        switch pagingMode {
        case 0:
            r.phys = lin & 0xFFFF_FFFF
            r.writable = true
            r.dirty = true
            return r
        case 1:
            return walk32(lin, write: write, user: user, fetch: fetch, commit: commit)
        default:
            return walkPAE(lin, write: write, user: user, fetch: fetch, commit: commit)
        }
    }

    func walk32(_ lin: UInt64, write: Bool, user: Bool, fetch: Bool, commit: Bool) -> WalkResult {
        var r = WalkResult()
        let wp = cr0v & 0x1_0000 != 0
        let pdeAddr = (cr3v & 0xFFFF_F000) + ((lin >> 22) & 0x3FF) * 4
        let pde = UInt32(truncatingIfNeeded: physRead(pdeAddr, 4))
        if pde & 1 == 0 {
            r.error = pfCode(present: false, write: write, user: user, fetch: fetch, rsvd: false); return r
        }
        if pde & 0x80 != 0 && cr4v & 0x10 != 0 {
            if pde & (1 << 21) != 0 {
                r.error = pfCode(present: true, write: write, user: user, fetch: fetch, rsvd: true); return r
            }
            let rw = pde & 2 != 0, us = pde & 4 != 0
            if user && !us || write && !rw && (user || wp) {
                r.error = pfCode(present: true, write: write, user: user, fetch: fetch, rsvd: false); return r
            }
            if commit {
                let nv = pde | 0x20 | (write ? 0x40 : 0)
                if nv != pde { physWriteAny(pdeAddr, UInt64(nv), 4) }
            }
            r.phys = UInt64(pde & 0xFFC0_0000) | (UInt64((pde >> 13) & 0xFF) << 32) | (lin & 0x3F_FFFF)
            r.writable = rw || (!user && !wp)
            r.dirty = pde & 0x40 != 0 || write
            r.large = true
            return r
        }
        let pteAddr = UInt64(pde & 0xFFFF_F000) + ((lin >> 12) & 0x3FF) * 4
        let pte = UInt32(truncatingIfNeeded: physRead(pteAddr, 4))
        if pte & 1 == 0 {
            r.error = pfCode(present: false, write: write, user: user, fetch: fetch, rsvd: false); return r
        }
        let rw = pde & pte & 2 != 0, us = pde & pte & 4 != 0
        if user && !us || write && !rw && (user || wp) {
            r.error = pfCode(present: true, write: write, user: user, fetch: fetch, rsvd: false); return r
        }
        if commit {
            if pde & 0x20 == 0 { physWriteAny(pdeAddr, UInt64(pde | 0x20), 4) }
            let nv = pte | 0x20 | (write ? 0x40 : 0)
            if nv != pte { physWriteAny(pteAddr, UInt64(nv), 4) }
        }
        r.phys = UInt64(pte & 0xFFFF_F000) | (lin & 0xFFF)
        r.writable = rw || (!user && !wp)
        r.dirty = pte & 0x40 != 0 || write
        return r
    }

    func walkPAE(_ lin: UInt64, write: Bool, user: Bool, fetch: Bool, commit: Bool) -> WalkResult {
        var r = WalkResult()
        let wp = cr0v & 0x1_0000 != 0
        let nxe = eferv & 0x800 != 0
        let long = pagingMode == 3
        let rsvdBase: UInt64 = 0x000F_FF00_0000_0000 | (nxe ? 0 : 1 << 63)
        var table: UInt64
        var shift: UInt64
        var rw = true, us = true, nx = false
        var addrs: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var vals: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var n = 0
        if long {
            table = cr3v & physAddrMask
            shift = 39
        } else {
            // PAE: the four PDPTEs
            let a = (cr3v & 0xFFFF_FFE0) + ((lin >> 30) & 3) * 8
            let e = physRead(a, 8)
            if e & 1 == 0 {
                r.error = pfCode(present: false, write: write, user: user, fetch: fetch, rsvd: false); return r
            }
            if e & (0x000F_FF00_0000_0000 | 0x1E6 | (1 << 63)) != 0 {
                r.error = pfCode(present: true, write: write, user: user, fetch: fetch, rsvd: true); return r
            }
            table = e & physAddrMask
            shift = 21
        }
        var leaf: UInt64 = 0
        while true {
            let a = table + ((lin >> shift) & 0x1FF) * 8
            let e = physRead(a, 8)
            if e & 1 == 0 {
                r.error = pfCode(present: false, write: write, user: user, fetch: fetch, rsvd: false); return r
            }
            var rsvd = rsvdBase
            let isLarge = e & 0x80 != 0 && (shift == 21 || shift == 30)
            if shift == 39 { rsvd |= 0x80 }
            if isLarge { rsvd |= ((1 << shift) - 1) & ~0x1FFF }   // alignment bits above the PAT bit
            if e & rsvd != 0 {
                r.error = pfCode(present: true, write: write, user: user, fetch: fetch, rsvd: true); return r
            }
            rw = rw && e & 2 != 0
            us = us && e & 4 != 0
            if nxe && e & (1 << 63) != 0 { nx = true }
            switch n {
            case 0: addrs.0 = a; vals.0 = e
            case 1: addrs.1 = a; vals.1 = e
            case 2: addrs.2 = a; vals.2 = e
            default: addrs.3 = a; vals.3 = e
            }
            n += 1
            if shift == 12 || isLarge {
                leaf = e
                let m: UInt64 = (1 << shift) - 1
                r.phys = (e & physAddrMask & ~m) | (lin & m)
                r.large = isLarge
                break
            }
            table = e & physAddrMask
            shift -= 9
        }
        if user && !us || write && !rw && (user || wp) || fetch && nx {
            r.error = pfCode(present: true, write: write, user: user, fetch: fetch, rsvd: false); return r
        }
        if commit {
            for i in 0..<n {
                let (a, e): (UInt64, UInt64)
                switch i {
                case 0: (a, e) = (addrs.0, vals.0)
                case 1: (a, e) = (addrs.1, vals.1)
                case 2: (a, e) = (addrs.2, vals.2)
                default: (a, e) = (addrs.3, vals.3)
                }
                var nv = e | 0x20
                if i == n - 1 && write { nv |= 0x40 }
                if nv != e { physWriteAny(a, nv, 4) }
            }
        }
        r.writable = rw || (!user && !wp)
        r.dirty = leaf & 0x40 != 0 || write
        return r
    }

    // MARK: slow data paths

    func checkWatch(_ lin: UInt64, _ size: Int, write: Bool) {
        for w in watchpoints where write || w.read {
            if lin < w.start &+ w.length && w.start < lin &+ UInt64(size) {
                lastWatchHit = max(lin, w.start)
                watchHit = true
                limit = 0
                return
            }
        }
    }

    func readSlow(_ lin: UInt64, _ size: Int, write: Bool) throws(CPUFault) -> UInt64 {
        let user = cpl == 3
        let off = Int(lin & 0xFFF)
        var v: UInt64
        if off + size > 4096 {
            let first = 4096 - off
            let pa1 = try translateData(lin, write: write, user: user)
            let pa2 = try translateData((lin &+ UInt64(first)) & linMask, write: write, user: user)
            v = 0
            for i in 0..<size {
                let b = i < first ? physRead(pa1 &+ UInt64(i), 1) : physRead(pa2 &+ UInt64(i - first), 1)
                v |= b << UInt64(8 * i)
            }
        } else {
            let pa = try translateData(lin, write: write, user: user)
            v = physRead(pa, size)
        }
        if watchActive { checkWatch(lin, size, write: false) }
        return v
    }

    func writeSlow(_ lin: UInt64, _ v: UInt64, _ size: Int) throws(CPUFault) {
        let user = cpl == 3
        let off = Int(lin & 0xFFF)
        if off + size > 4096 {
            let first = 4096 - off
            let pa1 = try translateData(lin, write: true, user: user)
            let pa2 = try translateData((lin &+ UInt64(first)) & linMask, write: true, user: user)
            for i in 0..<size {
                let b = (v >> UInt64(8 * i)) & 0xFF
                if i < first { physWriteAny(pa1 &+ UInt64(i), b, 1) } else { physWriteAny(pa2 &+ UInt64(i - first), b, 1) }
            }
        } else {
            let pa = try translateData(lin, write: true, user: user)
            physWriteAny(pa, v, size)
        }
        if watchActive { checkWatch(lin, size, write: true) }
    }

    /// Supervisor-privileged (implicit) accesses: descriptor tables, TSS,
    /// interrupt stacks. `user` makes the access at CPL 3 (stack pushes to
    /// a ring-3 handler).
    func sysRead(_ lin: UInt64, _ size: Int, user: Bool = false) throws(CPUFault) -> UInt64 {
        let l = eferv & 0x400 != 0 ? lin : lin & 0xFFFF_FFFF
        if Int(l & 0xFFF) + size <= 4096 {
            return physRead(try translateData(l, write: false, user: user), size)
        }
        var v: UInt64 = 0
        for i in 0..<size {
            let a = eferv & 0x400 != 0 ? l &+ UInt64(i) : (l &+ UInt64(i)) & 0xFFFF_FFFF
            v |= physRead(try translateData(a, write: false, user: user), 1) << UInt64(8 * i)
        }
        return v
    }

    func sysWrite(_ lin: UInt64, _ v: UInt64, _ size: Int, user: Bool = false) throws(CPUFault) {
        let l = eferv & 0x400 != 0 ? lin : lin & 0xFFFF_FFFF
        if Int(l & 0xFFF) + size <= 4096 {
            physWriteAny(try translateData(l, write: true, user: user), v, size)
            return
        }
        // translate every byte first so that a fault writes nothing
        var pas = [UInt64](repeating: 0, count: size)
        for i in 0..<size {
            let a = eferv & 0x400 != 0 ? l &+ UInt64(i) : (l &+ UInt64(i)) & 0xFFFF_FFFF
            pas[i] = try translateData(a, write: true, user: user)
        }
        for i in 0..<size { physWriteAny(pas[i], (v >> UInt64(8 * i)) & 0xFF, 1) }
    }

    /// 128-bit data accesses (SSE); `align` requires 16-byte alignment.
    func read128(_ lin: UInt64, align: Bool) throws(CPUFault) -> (UInt64, UInt64) {
        if align && lin & 15 != 0 { throw fault(13, 0) }
        if lin & 0xFFF <= 0xFF0 {
            return (try rd(lin), try rd(lin &+ 8))
        }
        // crossing a page: check both halves before reading
        let lo: UInt64 = try rd(lin)
        let hi: UInt64 = try rd((lin &+ 8) & linMask)
        return (lo, hi)
    }

    func write128(_ lin: UInt64, _ v: (UInt64, UInt64), align: Bool) throws(CPUFault) {
        if align && lin & 15 != 0 { throw fault(13, 0) }
        if lin & 0xFFF > 0xFF0 {
            // make sure the second half is writable before touching the first
            _ = try rdW((lin &+ 15) & linMask) as UInt8
        }
        try wr(lin, v.0)
        try wr((lin &+ 8) & linMask, v.1)
    }
}
