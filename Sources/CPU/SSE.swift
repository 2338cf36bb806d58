// SSE/SSE2 (the subset compilers emit for copies, zeroing, string scans,
// scalar floating point), FXSAVE/FXRSTOR, LDMXCSR/STMXCSR, fences, and the
// handful of x87 control instructions start-up code uses. Floating-point
// arithmetic rounds as MXCSR.RC says (the host computes to nearest; the
// exact error's sign, from error-free transformations, moves the result one
// unit when another rounding asks for it), and so do the conversions.
// MXCSR exception flags are not accumulated; DAZ/FTZ are not modelled.

struct V128 {
    var lo: UInt64
    var hi: UInt64
    init(_ lo: UInt64, _ hi: UInt64) { self.lo = lo; self.hi = hi }
}

extension CPU {

    // MARK: XMM access

    @inline(__always) func xget(_ i: UInt8) -> V128 {
        let o = Int(i & 15) * 16
        return V128(xmmr.load(fromByteOffset: o, as: UInt64.self), xmmr.load(fromByteOffset: o + 8, as: UInt64.self))
    }
    @inline(__always) func xset(_ i: UInt8, _ v: V128) {
        let o = Int(i & 15) * 16
        xmmr.storeBytes(of: v.lo, toByteOffset: o, as: UInt64.self)
        xmmr.storeBytes(of: v.hi, toByteOffset: o + 8, as: UInt64.self)
    }
    @inline(__always) func xsetLo(_ i: UInt8, _ v: UInt64) {
        xmmr.storeBytes(of: v, toByteOffset: Int(i & 15) * 16, as: UInt64.self)
    }
    @inline(__always) func xsetHi(_ i: UInt8, _ v: UInt64) {
        xmmr.storeBytes(of: v, toByteOffset: Int(i & 15) * 16 + 8, as: UInt64.self)
    }
    @inline(__always) func xsetLo32(_ i: UInt8, _ v: UInt32) {
        xmmr.storeBytes(of: v, toByteOffset: Int(i & 15) * 16, as: UInt32.self)
    }
    /// The rm operand as 128 bits (register or memory).
    func xrm(_ d: DInsn, align: Bool) throws(CPUFault) -> V128 {
        if d.mem == 0 { return xget(d.rm) }
        let (lo, hi) = try read128(ea(d), align: align)
        return V128(lo, hi)
    }
    func xrm64(_ d: DInsn) throws(CPUFault) -> UInt64 {
        if d.mem == 0 { return xget(d.rm).lo }
        return try rd(ea(d))
    }
    func xrm32(_ d: DInsn) throws(CPUFault) -> UInt32 {
        if d.mem == 0 { return UInt32(truncatingIfNeeded: xget(d.rm).lo) }
        return try rd(ea(d))
    }
    /// GPR rm operand of SSE conversions (32 or 64 bits by REX.W).
    func grm(_ d: DInsn, _ w: Bool) throws(CPUFault) -> UInt64 {
        if d.mem == 0 {
            let v = r64(Int(d.rm))
            return w ? v : v & 0xFFFF_FFFF
        }
        return w ? try rd(ea(d)) as UInt64 : UInt64(try rd(ea(d)) as UInt32)
    }
    func gset(_ r: UInt8, _ v: UInt64, _ w: Bool) {
        w64(Int(r), w ? v : v & 0xFFFF_FFFF)
    }

    // MARK: lane helpers

    func mapLanes<T: FixedWidthInteger>(_ a: V128, _ b: V128, _ t: T.Type, _ f: (T, T) -> T) -> V128 {
        var x = a, y = b, r = V128(0, 0)
        let sz = MemoryLayout<T>.size
        withUnsafeBytes(of: &x) { xp in
            withUnsafeBytes(of: &y) { yp in
                withUnsafeMutableBytes(of: &r) { rp in
                    var i = 0
                    while i < 16 {
                        rp.storeBytes(of: f(xp.load(fromByteOffset: i, as: T.self), yp.load(fromByteOffset: i, as: T.self)),
                                      toByteOffset: i, as: T.self)
                        i += sz
                    }
                }
            }
        }
        return r
    }
    func laneGet<T: FixedWidthInteger>(_ v: V128, _ i: Int, _ t: T.Type) -> T {
        var x = v
        return withUnsafeBytes(of: &x) { $0.load(fromByteOffset: (i * MemoryLayout<T>.size) & 15, as: T.self) }
    }
    func laneSet<T: FixedWidthInteger>(_ v: inout V128, _ i: Int, _ val: T) {
        withUnsafeMutableBytes(of: &v) { $0.storeBytes(of: val, toByteOffset: (i * MemoryLayout<T>.size) & 15, as: T.self) }
    }
    /// Interleaves the low (or high) halves of a and b in lanes of T.
    func unpack<T: FixedWidthInteger>(_ a: V128, _ b: V128, high: Bool, _ t: T.Type) -> V128 {
        let n = 16 / MemoryLayout<T>.size
        var r = V128(0, 0)
        let base = high ? n / 2 : 0
        for i in 0..<(n / 2) {
            laneSet(&r, 2 * i, laneGet(a, base + i, T.self))
            laneSet(&r, 2 * i + 1, laneGet(b, base + i, T.self))
        }
        return r
    }
    func shiftLanes<T: FixedWidthInteger & UnsignedInteger>(_ a: V128, _ count: UInt64, _ kind: Int, _ t: T.Type) -> V128 {
        let bits = UInt64(T.bitWidth)
        return mapLanes(a, a, T.self) { x, _ in
            switch kind {
            case 0: return count >= bits ? 0 : x &>> T(count)     // logical right
            case 1: return count >= bits ? 0 : x &<< T(count)     // left
            default:                                               // arithmetic right
                let c = min(count, bits - 1)
                let s = (Int64(truncatingIfNeeded: x) << Int64(64 - bits)) >> Int64(64 - bits)
                return T(truncatingIfNeeded: s >> Int64(c))
            }
        }
    }
    func byteShift(_ a: V128, _ n: UInt64, left: Bool) -> V128 {
        if n >= 16 { return V128(0, 0) }
        var r = V128(0, 0)
        for i in 0..<16 {
            let src = left ? i - Int(n) : i + Int(n)
            if src >= 0 && src < 16 { laneSet(&r, i, laneGet(a, src, UInt8.self)) }
        }
        return r
    }

    // MARK: floating-point helpers

    @inline(__always) func f32(_ v: UInt64) -> Float { Float(bitPattern: UInt32(truncatingIfNeeded: v)) }
    @inline(__always) func f64(_ v: UInt64) -> Double { Double(bitPattern: v) }

    func fop<F: BinaryFloatingPoint>(_ k: UInt8, _ a: F, _ b: F) -> F {
        let r: F
        switch k {
        case 0x58: r = a + b
        case 0x59: r = a * b
        case 0x5C: r = a - b
        case 0x5E: r = a / b
        case 0x5D: return (a < b) ? a : b       // MIN: second operand unless a < b
        case 0x5F: return (a > b) ? a : b       // MAX
        case 0x51: r = b.squareRoot()
        case 0x52: return 1 / b.squareRoot()
        default: return 1 / b                   // 0x53 RCP
        }
        if mxcsr & 0x6000 == 0 || r.isNaN { return r }
        if r == 0 && (k == 0x58 || k == 0x5C) {
            // A sum is never inexact at zero. Its sign: rounding toward
            // -infinity gives -0 unless both addends are +0 (IEEE 754 6.3).
            if (mxcsr >> 13) & 3 != 1 { return r }
            let c = k == 0x58 ? b : -b
            return a.sign == .plus && c.sign == .plus && a == 0 && c == 0 ? r : -F(0)
        }
        return rcAdjust(r, exactMinus(k, a, b, r))
    }

    /// The sign (-1, 0, 1) of exact - r, where r is the round-to-nearest
    /// result of ADD/SUB/MUL/DIV/SQRT: the error-free transformations
    /// (TwoSum for sums, a fused multiply-add for the residual of the
    /// others) give it exactly unless the error underflows.
    func exactMinus<F: BinaryFloatingPoint>(_ k: UInt8, _ a: F, _ b: F, _ r: F) -> Int {
        func sg(_ x: F) -> Int { x > 0 ? 1 : (x < 0 ? -1 : 0) }
        if r.isInfinite {
            // Finite operands that overflowed: the exact value lies between
            // the largest finite number and r.
            let finite = k == 0x51 ? b.isFinite : (a.isFinite && b.isFinite && (k != 0x5E || b != 0))
            return finite ? (r > 0 ? -1 : 1) : 0
        }
        if k == 0x59 || k == 0x5E {
            if !a.isFinite || !b.isFinite || a == 0 || b == 0 { return 0 }
            return productOrQuotientError(k == 0x59, a, b, r)
        }
        switch k {
        case 0x58, 0x5C:
            let c = k == 0x58 ? b : -b
            let bv = r - a
            let av = r - bv
            return sg((a - av) + (c - bv))
        case 0x59:
            return sg((-r).addingProduct(a, b))
        case 0x5E:
            if !a.isFinite || !b.isFinite || b == 0 { return 0 }
            let s = sg(a.addingProduct(-r, b))
            return b < 0 ? -s : s
        default:   // 0x51
            if !b.isFinite || b <= 0 { return 0 }
            // b = m * 2^e with e even and m in [1, 4), so the residual
            // m - rs^2 (rs = r scaled by 2^(-e/2), exactly) is exact even
            // for a subnormal b.
            var e = Int(b.exponent)
            var m = b.significand
            if e & 1 != 0 { m = m * 2; e -= 1 }
            let rs = F(sign: .plus, exponent: F.Exponent(-e / 2), significand: r)
            return sg(m.addingProduct(-rs, rs))
        }
    }

    /// The sign of exact - r for a product or quotient of finite non-zero
    /// operands and its finite rounded result `r`. A fused residual on the
    /// operands themselves can underflow (subnormal operands or results), so
    /// the operands' significands (in [1, 2)) are multiplied or divided near
    /// 1, where the residual is exact, and `r` is scaled by the same power of
    /// two (exactly) to compare.
    func productOrQuotientError<F: BinaryFloatingPoint>(_ mul: Bool, _ a: F, _ b: F, _ r: F) -> Int {
        let ma = a.magnitude.significand, mb = b.magnitude.significand
        let e = mul ? Int(a.exponent) + Int(b.exponent) : Int(a.exponent) - Int(b.exponent)
        let rs = F(sign: .plus, exponent: F.Exponent(-e), significand: r.magnitude)
        let diff: F   // sign of |exact| - |r|, scaled by 2^-e
        if mul {
            let p = ma * mb
            diff = (p - rs) + (-p).addingProduct(ma, mb)
        } else {
            diff = ma.addingProduct(-rs, mb)
        }
        let s = diff > 0 ? 1 : (diff < 0 ? -1 : 0)
        return (a.sign == b.sign) ? s : -s
    }

    /// Moves a round-to-nearest result `r` to the result MXCSR.RC asks for,
    /// given the sign of (exact - r).
    func rcAdjust<F: BinaryFloatingPoint>(_ r: F, _ sign: Int) -> F {
        if sign == 0 { return r }
        switch (mxcsr >> 13) & 3 {
        case 1: return sign < 0 ? r.nextDown : r          // toward -infinity
        case 2: return sign > 0 ? r.nextUp : r            // toward +infinity
        case 3:                                           // toward zero
            if r > 0 && sign < 0 { return r.nextDown }
            if r < 0 && sign > 0 { return r.nextUp }
            return r
        default: return r
        }
    }

    /// An integer converted to F under MXCSR.RC (CVTSI2SS/SD, CVTDQ2PS).
    func intToFloat<F: BinaryFloatingPoint>(_ i: Int64, _: F.Type) -> F {
        let r = F(i)
        if mxcsr & 0x6000 == 0 { return r }
        // r is an integer value; 2^63 itself is the only one Int64 cannot hold.
        if r >= 9_223_372_036_854_775_808.0 { return rcAdjust(r, -1) }
        let back = Int64(r)
        return rcAdjust(r, i > back ? 1 : (i < back ? -1 : 0))
    }

    /// A double narrowed to single precision under MXCSR.RC (CVTSD2SS, CVTPD2PS).
    func narrow(_ d: Double) -> Float {
        let f = Float(d)
        if mxcsr & 0x6000 == 0 || d.isNaN || d.isInfinite { return f }
        let back = Double(f)
        return rcAdjust(f, d > back ? 1 : (d < back ? -1 : 0))
    }
    func fcmp<F: BinaryFloatingPoint>(_ p: UInt64, _ a: F, _ b: F) -> Bool {
        switch p & 7 {
        case 0: return a == b
        case 1: return a < b
        case 2: return a <= b
        case 3: return a.isNaN || b.isNaN
        case 4: return !(a == b)
        case 5: return !(a < b)
        case 6: return !(a <= b)
        default: return !(a.isNaN || b.isNaN)
        }
    }
    var roundRule: FloatingPointRoundingRule {
        switch (mxcsr >> 13) & 3 {
        case 0: return .toNearestOrEven
        case 1: return .down
        case 2: return .up
        default: return .towardZero
        }
    }
    /// Float -> integer conversion with the x86 "integer indefinite" result.
    func cvtInt<F: BinaryFloatingPoint>(_ x: F, truncate: Bool, wide: Bool) -> UInt64 {
        let r = x.rounded(truncate ? .towardZero : roundRule)
        if wide {
            if r.isNaN || r < -9_223_372_036_854_775_808.0 || r >= 9_223_372_036_854_775_808.0 { return 1 << 63 }
            return UInt64(bitPattern: Int64(r))
        }
        // 2^31 is exact in every format (2147483647.0 rounds up to it in Float).
        if r.isNaN || r < -2_147_483_648.0 || r >= 2_147_483_648.0 { return 0x8000_0000 }
        return UInt64(UInt32(bitPattern: Int32(r)))
    }
    func setComiFlags<F: BinaryFloatingPoint>(_ a: F, _ b: F) {
        var f: UInt64 = 0
        if a.isNaN || b.isNaN { f = fZF | fPF | fCF }
        else if a < b { f = fCF }
        else if a == b { f = fZF }
        setArith(f)
    }
    func satS8(_ v: Int16) -> UInt8 { UInt8(bitPattern: Int8(max(-128, min(127, v)))) }
    func satU8(_ v: Int16) -> UInt8 { UInt8(max(0, min(255, v))) }
    func satS16(_ v: Int32) -> UInt16 { UInt16(bitPattern: Int16(max(-32768, min(32767, v)))) }

    // MARK: dispatch

    // swiftlint:disable:next function_body_length cyclomatic_complexity
    func execSSE(_ d: DInsn) throws(CPUFault) {
        if d.op == .x87 { try execX87(d); return }
        if d.op == .grp15 { try execGrp15(d); return }
        if cr0v & 4 != 0 || cr4v & 0x200 == 0 { throw fault(6) }
        if cr0v & 8 != 0 { throw fault(7) }
        let map = d.imm2 >> 8
        let op = UInt8(truncatingIfNeeded: d.imm2)
        let pf = d.sub   // 0 none, 1 66, 2 F3, 3 F2
        let w = d.pfx & P.rexW != 0
        if map != 0x0F {
            reportUnimplemented(d)
            throw fault(6)
        }
        let r = d.reg
        switch op {
        case 0x10, 0x11:
            let load = op == 0x10
            switch pf {
            case 2:   // MOVSS
                if load {
                    if d.mem == 0 { xsetLo32(r, UInt32(truncatingIfNeeded: xget(d.rm).lo)) }
                    else { xset(r, V128(UInt64(try rd(ea(d)) as UInt32), 0)) }
                } else {
                    if d.mem == 0 { xsetLo32(d.rm, UInt32(truncatingIfNeeded: xget(r).lo)) }
                    else { try wr(ea(d), UInt32(truncatingIfNeeded: xget(r).lo)) }
                }
            case 3:   // MOVSD
                if load {
                    if d.mem == 0 { xsetLo(r, xget(d.rm).lo) }
                    else { xset(r, V128(try rd(ea(d)) as UInt64, 0)) }
                } else {
                    if d.mem == 0 { xsetLo(d.rm, xget(r).lo) }
                    else { try wr(ea(d), xget(r).lo) }
                }
            default:  // MOVUPS/MOVUPD
                if load { xset(r, try xrm(d, align: false)) }
                else if d.mem == 0 { xset(d.rm, xget(r)) }
                else { let v = xget(r); try write128(ea(d), (v.lo, v.hi), align: false) }
            }
        case 0x12, 0x13, 0x16, 0x17:
            if pf >= 2 { reportUnimplemented(d); throw fault(6) }
            let high = op >= 0x16
            if op & 1 == 0 {
                if d.mem == 0 {
                    if pf != 0 { throw fault(6) }
                    let s = xget(d.rm)
                    if high { xsetHi(r, s.lo) } else { xsetLo(r, s.hi) }   // MOVLHPS / MOVHLPS
                } else {
                    let v: UInt64 = try rd(ea(d))
                    if high { xsetHi(r, v) } else { xsetLo(r, v) }
                }
            } else {
                if d.mem == 0 { throw fault(6) }
                let v = xget(r)
                try wr(ea(d), high ? v.hi : v.lo)
            }
        case 0x14, 0x15:
            if pf >= 2 { throw fault(6) }
            let a = xget(r), b = try xrm(d, align: true)
            if pf == 1 { xset(r, op == 0x14 ? V128(a.lo, b.lo) : V128(a.hi, b.hi)) }
            else { xset(r, unpack(a, b, high: op == 0x15, UInt32.self)) }
        case 0x28, 0x29:
            if pf >= 2 { throw fault(6) }
            if op == 0x28 { xset(r, try xrm(d, align: true)) }
            else if d.mem == 0 { xset(d.rm, xget(r)) }
            else { let v = xget(r); try write128(ea(d), (v.lo, v.hi), align: true) }
        case 0x2A:
            if pf == 2 {
                let v = try grm(d, w)
                let x: Float = intToFloat(w ? Int64(bitPattern: v) : Int64(Int32(truncatingIfNeeded: v)), Float.self)
                xsetLo32(r, x.bitPattern)
            } else if pf == 3 {
                let v = try grm(d, w)
                let x: Double = intToFloat(w ? Int64(bitPattern: v) : Int64(Int32(truncatingIfNeeded: v)), Double.self)
                xsetLo(r, x.bitPattern)
            } else { reportUnimplemented(d); throw fault(6) }
        case 0x2B:
            if pf >= 2 || d.mem == 0 { throw fault(6) }
            let v = xget(r); try write128(ea(d), (v.lo, v.hi), align: true)
        case 0x2C, 0x2D:
            let trunc = op == 0x2C
            if pf == 2 {
                gset(d.reg, cvtInt(f32(UInt64(try xrm32(d))), truncate: trunc, wide: w), w)
            } else if pf == 3 {
                gset(d.reg, cvtInt(f64(try xrm64(d)), truncate: trunc, wide: w), w)
            } else { reportUnimplemented(d); throw fault(6) }
        case 0x2E, 0x2F:
            if pf == 1 { setComiFlags(f64(xget(r).lo), f64(try xrm64(d))) }
            else if pf == 0 { setComiFlags(f32(xget(r).lo), f32(UInt64(try xrm32(d)))) }
            else { throw fault(6) }
        case 0x50:
            if d.mem != 0 || pf >= 2 { throw fault(6) }
            let v = xget(d.rm)
            let m: UInt64
            if pf == 1 { m = (v.lo >> 63) | (v.hi >> 63) << 1 }
            else { m = (v.lo >> 31) & 1 | ((v.lo >> 63) << 1) | ((v.hi >> 31) & 1) << 2 | (v.hi >> 63) << 3 }
            w64(Int(r), m)
        case 0x51, 0x52, 0x53, 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F:
            let a = xget(r)
            switch pf {
            case 0:
                let b = try xrm(d, align: true)
                xset(r, mapLanes(a, b, UInt32.self) { x, y in fop(op, Float(bitPattern: x), Float(bitPattern: y)).bitPattern })
            case 1:
                if op == 0x52 || op == 0x53 { throw fault(6) }
                let b = try xrm(d, align: true)
                xset(r, mapLanes(a, b, UInt64.self) { x, y in fop(op, Double(bitPattern: x), Double(bitPattern: y)).bitPattern })
            case 2:
                let b = f32(UInt64(try xrm32(d)))
                xsetLo32(r, fop(op, f32(a.lo), b).bitPattern)
            default:
                if op == 0x52 || op == 0x53 { throw fault(6) }
                let b = f64(try xrm64(d))
                xsetLo(r, fop(op, f64(a.lo), b).bitPattern)
            }
        case 0x54, 0x55, 0x56, 0x57:
            if pf >= 2 { throw fault(6) }
            let a = xget(r), b = try xrm(d, align: true)
            switch op {
            case 0x54: xset(r, V128(a.lo & b.lo, a.hi & b.hi))
            case 0x55: xset(r, V128(~a.lo & b.lo, ~a.hi & b.hi))
            case 0x56: xset(r, V128(a.lo | b.lo, a.hi | b.hi))
            default: xset(r, V128(a.lo ^ b.lo, a.hi ^ b.hi))
            }
        case 0x5A:
            switch pf {
            case 0:
                let b = try xrm64(d)
                xset(r, V128(Double(f32(b)).bitPattern, Double(f32(b >> 32)).bitPattern))
            case 1:
                let b = try xrm(d, align: true)
                let lo = UInt64(narrow(f64(b.lo)).bitPattern) | UInt64(narrow(f64(b.hi)).bitPattern) << 32
                xset(r, V128(lo, 0))
            case 2:
                xsetLo(r, Double(f32(UInt64(try xrm32(d)))).bitPattern)
            default:
                xsetLo32(r, narrow(f64(try xrm64(d))).bitPattern)
            }
        case 0x5B:
            let b = try xrm(d, align: true)
            switch pf {
            case 0: xset(r, mapLanes(b, b, UInt32.self) { x, _ in (intToFloat(Int64(Int32(bitPattern: x)), Float.self) as Float).bitPattern })
            case 1: xset(r, mapLanes(b, b, UInt32.self) { x, _ in UInt32(truncatingIfNeeded: cvtInt(Float(bitPattern: x), truncate: false, wide: false)) })
            case 2: xset(r, mapLanes(b, b, UInt32.self) { x, _ in UInt32(truncatingIfNeeded: cvtInt(Float(bitPattern: x), truncate: true, wide: false)) })
            default: throw fault(6)
            }
        case 0xE6:
            switch pf {
            case 2:   // CVTDQ2PD
                let b = try xrm64(d)
                xset(r, V128(Double(Int32(truncatingIfNeeded: b)).bitPattern, Double(Int32(truncatingIfNeeded: b >> 32)).bitPattern))
            case 1, 3:   // CVTTPD2DQ / CVTPD2DQ
                let b = try xrm(d, align: true)
                let t = pf == 1
                let lo = cvtInt(f64(b.lo), truncate: t, wide: false) | cvtInt(f64(b.hi), truncate: t, wide: false) << 32
                xset(r, V128(lo, 0))
            default: throw fault(6)
            }
        case 0x6E:
            if pf != 1 { reportUnimplemented(d); throw fault(6) }
            xset(r, V128(try grm(d, w), 0))
        case 0x7E:
            if pf == 1 {
                let v = xget(r).lo
                if d.mem == 0 { gset(d.rm, v, w) }
                else if w { try wr(ea(d), v) }
                else { try wr(ea(d), UInt32(truncatingIfNeeded: v)) }
            } else if pf == 2 {
                xset(r, V128(try xrm64(d), 0))
            } else { reportUnimplemented(d); throw fault(6) }
        case 0xD6:
            if pf != 1 { reportUnimplemented(d); throw fault(6) }
            if d.mem == 0 { xset(d.rm, V128(xget(r).lo, 0)) } else { try wr(ea(d), xget(r).lo) }
        case 0x6F, 0x7F:
            if pf != 1 && pf != 2 { reportUnimplemented(d); throw fault(6) }
            let al = pf == 1
            if op == 0x6F { xset(r, try xrm(d, align: al)) }
            else if d.mem == 0 { xset(d.rm, xget(r)) }
            else { let v = xget(r); try write128(ea(d), (v.lo, v.hi), align: al) }
        case 0xE7:
            if pf != 1 || d.mem == 0 { reportUnimplemented(d); throw fault(6) }
            let v = xget(r); try write128(ea(d), (v.lo, v.hi), align: true)
        case 0x70:
            if pf == 0 { reportUnimplemented(d); throw fault(6) }
            let b = try xrm(d, align: true)
            let imm = Int(d.imm)
            var res = b
            if pf == 1 {
                for i in 0..<4 { laneSet(&res, i, laneGet(b, (imm >> (2 * i)) & 3, UInt32.self)) }
            } else if pf == 3 {
                for i in 0..<4 { laneSet(&res, i, laneGet(b, (imm >> (2 * i)) & 3, UInt16.self)) }
            } else {
                for i in 0..<4 { laneSet(&res, 4 + i, laneGet(b, 4 + ((imm >> (2 * i)) & 3), UInt16.self)) }
            }
            xset(r, res)
        case 0x71, 0x72, 0x73:
            if pf != 1 || d.mem != 0 { reportUnimplemented(d); throw fault(6) }
            let a = xget(d.rm)
            let c = d.imm & 0xFF
            let kind = d.reg & 7
            let res: V128
            switch (op, kind) {
            case (0x71, 2): res = shiftLanes(a, c, 0, UInt16.self)
            case (0x71, 4): res = shiftLanes(a, c, 2, UInt16.self)
            case (0x71, 6): res = shiftLanes(a, c, 1, UInt16.self)
            case (0x72, 2): res = shiftLanes(a, c, 0, UInt32.self)
            case (0x72, 4): res = shiftLanes(a, c, 2, UInt32.self)
            case (0x72, 6): res = shiftLanes(a, c, 1, UInt32.self)
            case (0x73, 2): res = shiftLanes(a, c, 0, UInt64.self)
            case (0x73, 3): res = byteShift(a, c, left: false)
            case (0x73, 6): res = shiftLanes(a, c, 1, UInt64.self)
            case (0x73, 7): res = byteShift(a, c, left: true)
            default: reportUnimplemented(d); throw fault(6)
            }
            xset(d.rm, res)
        case 0xC2:
            let p = d.imm
            let a = xget(r)
            switch pf {
            case 0:
                let b = try xrm(d, align: true)
                xset(r, mapLanes(a, b, UInt32.self) { x, y in fcmp(p, Float(bitPattern: x), Float(bitPattern: y)) ? UInt32.max : 0 })
            case 1:
                let b = try xrm(d, align: true)
                xset(r, mapLanes(a, b, UInt64.self) { x, y in fcmp(p, Double(bitPattern: x), Double(bitPattern: y)) ? UInt64.max : 0 })
            case 2:
                xsetLo32(r, fcmp(p, f32(a.lo), f32(UInt64(try xrm32(d)))) ? UInt32.max : 0)
            default:
                xsetLo(r, fcmp(p, f64(a.lo), f64(try xrm64(d))) ? UInt64.max : 0)
            }
        case 0xC4:
            if pf != 1 { reportUnimplemented(d); throw fault(6) }
            let v: UInt16 = d.mem == 0 ? UInt16(truncatingIfNeeded: r64(Int(d.rm))) : try rd(ea(d))
            var x = xget(r)
            laneSet(&x, Int(d.imm & 7), v)
            xset(r, x)
        case 0xC5:
            if pf != 1 || d.mem != 0 { reportUnimplemented(d); throw fault(6) }
            w64(Int(r), UInt64(laneGet(xget(d.rm), Int(d.imm & 7), UInt16.self)))
        case 0xC6:
            let a = xget(r), b = try xrm(d, align: true)
            let imm = Int(d.imm)
            if pf == 0 {
                var res = V128(0, 0)
                laneSet(&res, 0, laneGet(a, imm & 3, UInt32.self))
                laneSet(&res, 1, laneGet(a, (imm >> 2) & 3, UInt32.self))
                laneSet(&res, 2, laneGet(b, (imm >> 4) & 3, UInt32.self))
                laneSet(&res, 3, laneGet(b, (imm >> 6) & 3, UInt32.self))
                xset(r, res)
            } else if pf == 1 {
                xset(r, V128(imm & 1 == 0 ? a.lo : a.hi, imm & 2 == 0 ? b.lo : b.hi))
            } else { throw fault(6) }
        case 0xD7:
            if pf != 1 || d.mem != 0 { reportUnimplemented(d); throw fault(6) }
            let v = xget(d.rm)
            var m: UInt64 = 0
            for i in 0..<8 {
                m |= ((v.lo >> UInt64(8 * i + 7)) & 1) << UInt64(i)
                m |= ((v.hi >> UInt64(8 * i + 7)) & 1) << UInt64(i + 8)
            }
            w64(Int(r), m)
        case 0xF7:
            if pf != 1 || d.mem != 0 { reportUnimplemented(d); throw fault(6) }
            let v = xget(r), m = xget(d.rm)
            let am = UInt64.max &>> UInt64(d.ashift)
            let base = r64(7) & am
            for i in 0..<16 where laneGet(m, i, UInt8.self) & 0x80 != 0 {
                try wr(segLin(Int(d.seg), (base &+ UInt64(i)) & am), laneGet(v, i, UInt8.self))
            }
        default:
            if pf == 1, let res = try sse2Int(d, op) {
                xset(r, res)
            } else {
                reportUnimplemented(d)
                throw fault(6)
            }
        }
    }

    /// 66 0F xx packed-integer operations; nil when `op` is not one.
    // swiftlint:disable:next cyclomatic_complexity function_body_length
    func sse2Int(_ d: DInsn, _ op: UInt8) throws(CPUFault) -> V128? {
        switch op {
        case 0x60...0x6D, 0x74...0x76, 0xD1...0xD5, 0xD8...0xE5, 0xE8...0xEF, 0xF1...0xF6, 0xF8...0xFE:
            break
        default:
            return nil
        }
        let a = xget(d.reg)
        let b = try xrm(d, align: true)
        switch op {
        case 0x60: return unpack(a, b, high: false, UInt8.self)
        case 0x61: return unpack(a, b, high: false, UInt16.self)
        case 0x62: return unpack(a, b, high: false, UInt32.self)
        case 0x68: return unpack(a, b, high: true, UInt8.self)
        case 0x69: return unpack(a, b, high: true, UInt16.self)
        case 0x6A: return unpack(a, b, high: true, UInt32.self)
        case 0x6C: return V128(a.lo, b.lo)
        case 0x6D: return V128(a.hi, b.hi)
        case 0x63, 0x67:
            var r = V128(0, 0)
            for i in 0..<8 {
                let x = Int16(bitPattern: laneGet(a, i, UInt16.self)), y = Int16(bitPattern: laneGet(b, i, UInt16.self))
                laneSet(&r, i, op == 0x63 ? satS8(x) : satU8(x))
                laneSet(&r, i + 8, op == 0x63 ? satS8(y) : satU8(y))
            }
            return r
        case 0x6B:
            var r = V128(0, 0)
            for i in 0..<4 {
                laneSet(&r, i, satS16(Int32(bitPattern: laneGet(a, i, UInt32.self))))
                laneSet(&r, i + 4, satS16(Int32(bitPattern: laneGet(b, i, UInt32.self))))
            }
            return r
        case 0x64: return mapLanes(a, b, UInt8.self) { Int8(bitPattern: $0) > Int8(bitPattern: $1) ? 0xFF : 0 }
        case 0x65: return mapLanes(a, b, UInt16.self) { Int16(bitPattern: $0) > Int16(bitPattern: $1) ? 0xFFFF : 0 }
        case 0x66: return mapLanes(a, b, UInt32.self) { Int32(bitPattern: $0) > Int32(bitPattern: $1) ? .max : 0 }
        case 0x74: return mapLanes(a, b, UInt8.self) { $0 == $1 ? 0xFF : 0 }
        case 0x75: return mapLanes(a, b, UInt16.self) { $0 == $1 ? 0xFFFF : 0 }
        case 0x76: return mapLanes(a, b, UInt32.self) { $0 == $1 ? .max : 0 }
        case 0xD1: return shiftLanes(a, b.lo, 0, UInt16.self)
        case 0xD2: return shiftLanes(a, b.lo, 0, UInt32.self)
        case 0xD3: return shiftLanes(a, b.lo, 0, UInt64.self)
        case 0xE1: return shiftLanes(a, b.lo, 2, UInt16.self)
        case 0xE2: return shiftLanes(a, b.lo, 2, UInt32.self)
        case 0xF1: return shiftLanes(a, b.lo, 1, UInt16.self)
        case 0xF2: return shiftLanes(a, b.lo, 1, UInt32.self)
        case 0xF3: return shiftLanes(a, b.lo, 1, UInt64.self)
        case 0xD4: return V128(a.lo &+ b.lo, a.hi &+ b.hi)
        case 0xFB: return V128(a.lo &- b.lo, a.hi &- b.hi)
        case 0xD5: return mapLanes(a, b, UInt16.self) { $0 &* $1 }
        case 0xE5: return mapLanes(a, b, UInt16.self) {
            UInt16(truncatingIfNeeded: (Int32(Int16(bitPattern: $0)) * Int32(Int16(bitPattern: $1))) >> 16) }
        case 0xE4: return mapLanes(a, b, UInt16.self) { UInt16(truncatingIfNeeded: (UInt32($0) * UInt32($1)) >> 16) }
        case 0xF4:
            return V128((a.lo & 0xFFFF_FFFF) &* (b.lo & 0xFFFF_FFFF), (a.hi & 0xFFFF_FFFF) &* (b.hi & 0xFFFF_FFFF))
        case 0xF5:
            var r = V128(0, 0)
            for i in 0..<4 {
                let p0 = Int32(Int16(bitPattern: laneGet(a, 2 * i, UInt16.self))) * Int32(Int16(bitPattern: laneGet(b, 2 * i, UInt16.self)))
                let p1 = Int32(Int16(bitPattern: laneGet(a, 2 * i + 1, UInt16.self))) * Int32(Int16(bitPattern: laneGet(b, 2 * i + 1, UInt16.self)))
                laneSet(&r, i, UInt32(bitPattern: p0 &+ p1))
            }
            return r
        case 0xF6:
            var lo: UInt64 = 0, hi: UInt64 = 0
            for i in 0..<8 {
                lo += UInt64(abs(Int(laneGet(a, i, UInt8.self)) - Int(laneGet(b, i, UInt8.self))))
                hi += UInt64(abs(Int(laneGet(a, i + 8, UInt8.self)) - Int(laneGet(b, i + 8, UInt8.self))))
            }
            return V128(lo, hi)
        case 0xD8: return mapLanes(a, b, UInt8.self) { $0 > $1 ? $0 - $1 : 0 }
        case 0xD9: return mapLanes(a, b, UInt16.self) { $0 > $1 ? $0 - $1 : 0 }
        case 0xDA: return mapLanes(a, b, UInt8.self) { min($0, $1) }
        case 0xDE: return mapLanes(a, b, UInt8.self) { max($0, $1) }
        case 0xDB: return V128(a.lo & b.lo, a.hi & b.hi)
        case 0xDF: return V128(~a.lo & b.lo, ~a.hi & b.hi)
        case 0xEB: return V128(a.lo | b.lo, a.hi | b.hi)
        case 0xEF: return V128(a.lo ^ b.lo, a.hi ^ b.hi)
        case 0xDC: return mapLanes(a, b, UInt8.self) { UInt8(min(255, UInt16($0) + UInt16($1))) }
        case 0xDD: return mapLanes(a, b, UInt16.self) { UInt16(min(65535, UInt32($0) + UInt32($1))) }
        case 0xE0: return mapLanes(a, b, UInt8.self) { UInt8((UInt16($0) + UInt16($1) + 1) >> 1) }
        case 0xE3: return mapLanes(a, b, UInt16.self) { UInt16((UInt32($0) + UInt32($1) + 1) >> 1) }
        case 0xE8: return mapLanes(a, b, UInt8.self) { satS8(Int16(Int8(bitPattern: $0)) - Int16(Int8(bitPattern: $1))) }
        case 0xE9: return mapLanes(a, b, UInt16.self) { satS16(Int32(Int16(bitPattern: $0)) - Int32(Int16(bitPattern: $1))) }
        case 0xEC: return mapLanes(a, b, UInt8.self) { satS8(Int16(Int8(bitPattern: $0)) + Int16(Int8(bitPattern: $1))) }
        case 0xED: return mapLanes(a, b, UInt16.self) { satS16(Int32(Int16(bitPattern: $0)) + Int32(Int16(bitPattern: $1))) }
        case 0xEA: return mapLanes(a, b, UInt16.self) { UInt16(bitPattern: min(Int16(bitPattern: $0), Int16(bitPattern: $1))) }
        case 0xEE: return mapLanes(a, b, UInt16.self) { UInt16(bitPattern: max(Int16(bitPattern: $0), Int16(bitPattern: $1))) }
        case 0xF8: return mapLanes(a, b, UInt8.self) { $0 &- $1 }
        case 0xF9: return mapLanes(a, b, UInt16.self) { $0 &- $1 }
        case 0xFA: return mapLanes(a, b, UInt32.self) { $0 &- $1 }
        case 0xFC: return mapLanes(a, b, UInt8.self) { $0 &+ $1 }
        case 0xFD: return mapLanes(a, b, UInt16.self) { $0 &+ $1 }
        case 0xFE: return mapLanes(a, b, UInt32.self) { $0 &+ $1 }
        default: return nil
        }
    }

    // MARK: 0F AE group

    func execGrp15(_ d: DInsn) throws(CPUFault) {
        if d.sub & 8 != 0 {
            // LFENCE / MFENCE / SFENCE
            if d.sub & 7 >= 5 { return }
            reportUnimplemented(d)
            throw fault(6)
        }
        switch d.sub & 7 {
        case 0, 1:
            if cr0v & 4 != 0 { throw fault(6) }
            if cr0v & 8 != 0 { throw fault(7) }
            let a = ea(d)
            if a & 15 != 0 { throw fault(13, 0) }
            if d.sub == 0 { try fxsave(a, d) } else { try fxrstor(a, d) }
        case 2, 3:
            if cr0v & 4 != 0 || cr4v & 0x200 == 0 { throw fault(6) }
            if cr0v & 8 != 0 { throw fault(7) }
            if d.sub == 2 {
                let v: UInt32 = try rd(ea(d))
                if v & 0xFFFF_0000 != 0 { throw fault(13, 0) }
                mxcsr = v
            } else {
                try wr(ea(d), mxcsr)
            }
        case 7:
            _ = try rd(ea(d)) as UInt8     // CLFLUSH: only the access check
        default:
            reportUnimplemented(d)
            throw fault(6)
        }
    }

    func fxsave(_ a: UInt64, _ d: DInsn) throws(CPUFault) {
        // make sure the whole area is writable first
        _ = try rdW(a) as UInt8
        _ = try rdW((a &+ 511) & linMask) as UInt8
        var ftwAbridged: UInt8 = 0
        for i in 0..<8 where (fpuTW >> UInt8(i)) & 1 != 0 { ftwAbridged |= 1 << UInt8(i) }
        try wr(a, fpuCW)
        try wr(a &+ 2, fpuSW)
        try wr(a &+ 4, UInt16(ftwAbridged))
        try wr(a &+ 6, UInt16(0))
        try wr(a &+ 8, UInt64(0))
        try wr(a &+ 16, UInt64(0))
        try wr(a &+ 24, mxcsr)
        try wr(a &+ 28, UInt32(0xFFFF))
        for i in 0..<8 {
            try wr(a &+ 32 &+ UInt64(i * 16), x87regs.load(fromByteOffset: i * 16, as: UInt64.self))
            try wr(a &+ 40 &+ UInt64(i * 16), x87regs.load(fromByteOffset: i * 16 + 8, as: UInt64.self))
        }
        let n = codeMode == 2 ? 16 : 8
        for i in 0..<n {
            let v = xget(UInt8(i))
            try wr(a &+ 160 &+ UInt64(i * 16), v.lo)
            try wr(a &+ 168 &+ UInt64(i * 16), v.hi)
        }
    }

    func fxrstor(_ a: UInt64, _ d: DInsn) throws(CPUFault) {
        let mx: UInt32 = try rd(a &+ 24)
        if mx & 0xFFFF_0000 != 0 { throw fault(13, 0) }
        _ = try rd((a &+ 511) & linMask) as UInt8
        fpuCW = try rd(a)
        fpuSW = try rd(a &+ 2)
        fpuTW = try rd(a &+ 4)
        mxcsr = mx
        for i in 0..<8 {
            x87regs.storeBytes(of: try rd(a &+ 32 &+ UInt64(i * 16)) as UInt64, toByteOffset: i * 16, as: UInt64.self)
            x87regs.storeBytes(of: try rd(a &+ 40 &+ UInt64(i * 16)) as UInt64, toByteOffset: i * 16 + 8, as: UInt64.self)
        }
        let n = codeMode == 2 ? 16 : 8
        for i in 0..<n {
            let lo: UInt64 = try rd(a &+ 160 &+ UInt64(i * 16))
            let hi: UInt64 = try rd(a &+ 168 &+ UInt64(i * 16))
            xset(UInt8(i), V128(lo, hi))
        }
    }

    // MARK: x87 control subset

    func execX87(_ d: DInsn) throws(CPUFault) {
        if d.imm2 == 0x9B00 {    // FWAIT
            if cr0v & 0xA == 0xA { throw fault(7) }
            return
        }
        if cr0v & 0xC != 0 { throw fault(7) }
        let opc = UInt8(d.imm2 >> 8)
        let modrm = UInt8(truncatingIfNeeded: d.imm2)
        let reg = (modrm >> 3) & 7
        if d.mem != 0 {
            switch (opc, reg) {
            case (0xD9, 7): try wr(ea(d), fpuCW); return
            case (0xD9, 5): fpuCW = try rd(ea(d)); return
            case (0xDD, 7): try wr(ea(d), fpuSW); return
            default: break
            }
        } else {
            switch (opc, modrm) {
            case (0xDB, 0xE3): fpuCW = 0x037F; fpuSW = 0; fpuTW = 0; return      // FNINIT
            case (0xDB, 0xE2): fpuSW &= 0x7F00; return                          // FNCLEX
            case (0xDF, 0xE0): gw(0, fpuSW); return                             // FNSTSW AX
            case (0xD9, 0xD0): return                                           // FNOP
            default: break
            }
        }
        reportUnimplemented(d)
        throw fault(6)
    }
}
