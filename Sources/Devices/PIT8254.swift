// Intel 8254 programmable interval timer (ports 0x40-0x43), clocked at
// 1,193,182 Hz of virtual time.
//
// Nothing is stepped per clock: each counter remembers the clock tick at which
// its current count was loaded (and a few mode flags) and derives its count
// and OUT level from the current tick on demand. Only OUT edges that drive
// something are scheduled on the virtual clock: channel 0 (IRQ0) always,
// channel 2 while an `out2Listener` is attached.
//
// Behaviour follows the Intel 8254 datasheet (231164); PIT-xx in comments
// refers to the rows of the shared reference devices.md section 1.2.
//
// Tick convention: the input clock's falling edge k (k = 0, 1, 2, ...)
// happens at ceil(k * 1e9 / 1193182) ns, so at time t ns the most recent edge
// is floor(t * 1193182 / 1e9). A write at tick w is "between" edges w and
// w+1; "the next CLK pulse" after it is edge w+1.

public final class PIT8254: PortDevice {
    /// Input clock, Hz (14.31818 MHz / 12, rounded as QEMU and 86Box do).
    public static let inputHz: UInt64 = 1_193_182

    /// Index of the most recent input-clock edge at virtual time `ns`.
    @inline(__always)
    public static func tick(atNanoseconds ns: UInt64) -> UInt64 {
        let p = ns.multipliedFullWidth(by: inputHz)
        return UInt64(1_000_000_000).dividingFullWidth((p.high, p.low)).quotient
    }

    /// The first virtual time (ns) at which clock edge `tick` has happened.
    public static func nanoseconds(ofTick tick: UInt64) -> UInt64 {
        let p = tick.multipliedFullWidth(by: 1_000_000_000)
        guard p.high < inputHz else { return .max }
        let (q, r) = inputHz.dividingFullWidth((p.high, p.low))
        if r == 0 { return q }
        return q == .max ? .max : q + 1
    }

    /// A read-only view of one counter for debuggers and tests.
    public struct ChannelState: Equatable {
        /// Effective mode 0-5 (6 and 7 act as 2 and 3).
        public var mode: Int
        /// Mode bits as programmed (0-7; shown in the read-back status).
        public var programmedMode: Int
        /// RW field: 1 = LSB only, 2 = MSB only, 3 = LSB then MSB.
        public var access: Int
        public var bcd: Bool
        /// The count register as last written (raw 16 bits; 0 means 65536/10000).
        public var reload: UInt16
        /// The counting element now, as a live read would return it.
        public var count: UInt16
        public var latchedCount: UInt16?
        public var latchedStatus: UInt8?
        public var out: Bool
        public var gate: Bool
        public var nullCount: Bool
    }

    final class Counter {
        let index: Int
        // Programming.
        var control: UInt8 = 0x36          // bits 5-0 of the last control word
        var access = 3
        var programmedMode = 3
        var mode = 3
        var bcd = false
        var cr: UInt16 = 0                 // count register
        var lowByte: UInt8 = 0             // first byte of an LSB/MSB write
        var writeMSBNext = false           // write flip-flop
        var readMSBNext = false            // read flip-flop (live and latched reads)
        var latched: UInt16?
        var status: UInt8?
        var gate = true
        /// A count has been written since the last control word.
        var armed = true
        /// NULL COUNT reads 1 for ticks below this (count not yet in the CE).
        var nullUntil: UInt64 = 0

        // Counting element.
        var running = true
        var load: UInt64 = 0               // tick at which the CE was (re)loaded
        var preValue = 0                   // CE before `load`
        var preOut = true                  // OUT before `load`
        var idleValue = 0                  // CE while stopped (from `load` on)
        var idleOut = true
        var n = 65536                      // count loaded (count units)
        // Modes 0 and 4: CE = v0 - (ticks since anchor while GATE is high).
        var anchor: UInt64 = 0
        var v0 = 0
        var done = false                   // mode 0 OUT went high / mode 4 strobe given
        // Modes 2 and 3: a new count waiting for the end of the period or half-cycle.
        var startHigh = true
        var switchAt: UInt64 = .max
        var switchN = 0
        var switchHigh = true

        // Output tracking.
        var reported = true
        var timer: VirtualClock.TimerID = -1

        init(index: Int) { self.index = index }

        var modulus: Int { bcd ? 10000 : 65536 }

        /// The count register as a number of clocks (0 = 65536 or 10000).
        var countValue: Int {
            if bcd {
                let c = Int(cr)
                // Nibbles above 9 are not BCD; they are weighted as digits
                // anyway and the result reduced into the counter's range.
                let v = (c >> 12 & 0xF) * 1000 + (c >> 8 & 0xF) * 100 + (c >> 4 & 0xF) * 10 + (c & 0xF)
                let r = v % 10000
                return r == 0 ? 10000 : r
            }
            return cr == 0 ? 65536 : Int(cr)
        }

        @inline(__always) func wrap(_ v: Int) -> Int {
            let m = modulus
            let r = v % m
            return r < 0 ? r + m : r
        }

        /// Effective periodic run (modes 2 and 3) at tick t.
        @inline(__always) func run(at t: UInt64) -> (s: UInt64, n: Int, high: Bool) {
            t >= switchAt ? (switchAt, switchN, switchHigh) : (load, n, startHigh)
        }

        /// Mode 2: a count of 1 is illegal; hardware behaves like 2 (86Box,
        /// "determined experimentally"), so the period never collapses.
        @inline(__always) static func mode2Period(_ n: Int) -> Int { n < 2 ? 2 : n }

        /// Mode 3: length of the first phase of a period, and level/offset.
        @inline(__always) static func mode3Phase(n: Int, high: Bool, k: Int) -> (level: Bool, i: Int, first: Int) {
            let hi = (n + 1) / 2, lo = n / 2
            let first = high ? hi : lo
            return k < first ? (high, k, first) : (!high, k - first, first)
        }

        /// Decrements done by a mode 0/4 counter between its anchor and t.
        @inline(__always) func linearDecrements(_ t: UInt64) -> UInt64 {
            gate && t > anchor ? t - anchor : 0
        }

        /// The counting element at tick t (count units, 0 ..< modulus).
        func value(at t: UInt64) -> Int {
            if t < load { return wrap(preValue) }
            if !running { return wrap(idleValue) }
            switch mode {
            case 0, 4:
                let d = linearDecrements(t)
                return wrap(v0 - Int(d % UInt64(modulus)))
            case 1, 5:
                return wrap(n - Int((t - load) % UInt64(modulus)))
            case 2:
                let r = run(at: t)
                let p = Counter.mode2Period(r.n)
                return wrap(p - Int((t - r.s) % UInt64(p)))
            default:
                let r = run(at: t)
                let k = Int((t - r.s) % UInt64(r.n))
                let ph = Counter.mode3Phase(n: r.n, high: r.high, k: k)
                // The CE counts down by two from N (even N) or N-1 (odd N);
                // odd N holds 0 for one extra clock at the end of the high
                // half (PIT-16).
                let top = r.n & 1 == 0 ? r.n : r.n - 1
                return wrap(top - 2 * ph.i)
            }
        }

        /// OUT at tick t.
        func out(at t: UInt64) -> Bool {
            if t < load { return preOut }
            if !running { return idleOut }
            switch mode {
            case 0:
                return done || (gate && linearDecrements(t) >= UInt64(v0))
            case 4:
                return done || !gate || linearDecrements(t) != UInt64(v0)
            case 1:
                return t - load >= UInt64(n)
            case 5:
                return t - load != UInt64(n)
            case 2:
                let r = run(at: t)
                let p = Counter.mode2Period(r.n)
                return (t - r.s) % UInt64(p) != UInt64(p - 1)
            default:
                let r = run(at: t)
                if r.n == 1 { return true }
                let k = Int((t - r.s) % UInt64(r.n))
                return Counter.mode3Phase(n: r.n, high: r.high, k: k).level
            }
        }

        /// NULL COUNT at tick t.
        func nullCount(at t: UInt64) -> Bool { t < nullUntil }

        /// The first tick after t at which OUT changes, if any.
        func nextEdge(after t0: UInt64) -> UInt64? {
            var t = t0
            if t < load {
                if out(at: load) != out(at: t) { return load }
                t = load
            }
            guard running else { return nil }
            switch mode {
            case 0:
                guard !done && gate else { return nil }
                let tz = anchor &+ UInt64(v0)
                return tz > t ? tz : nil
            case 4:
                guard !done && gate else { return nil }
                let tz = anchor &+ UInt64(v0)
                if t < tz { return tz }
                return t == tz ? tz + 1 : nil
            case 1:
                let e = load &+ UInt64(n)
                return t < e ? e : nil
            case 5:
                let e = load &+ UInt64(n)
                if t < e { return e }
                return t == e ? e + 1 : nil
            case 2:
                let r = run(at: t)
                let p = UInt64(Counter.mode2Period(r.n))
                let k = (t - r.s) % p
                return k < p - 1 ? t + (p - 1 - k) : t + 1
            default:
                let level = out(at: t)
                for _ in 0..<3 {
                    let r = run(at: t)
                    var b: UInt64
                    if r.n == 1 {
                        guard t < switchAt else { return nil }
                        b = switchAt
                    } else {
                        let k = Int((t - r.s) % UInt64(r.n))
                        let ph = Counter.mode3Phase(n: r.n, high: r.high, k: k)
                        let start = t - UInt64(k)
                        b = k < ph.first ? start + UInt64(ph.first) : start + UInt64(r.n)
                        if t < switchAt && b > switchAt { b = switchAt }
                    }
                    if out(at: b) != level { return b }
                    t = b
                }
                return nil
            }
        }

        /// The first reload boundary of the current periodic run at or after
        /// tick u (modes 2 and 3): end of period (2) or half-cycle (3).
        func boundary(atOrAfter u: UInt64) -> UInt64 {
            let r = run(at: u)
            guard u > r.s else { return r.s }
            let k = Int((u - r.s) % UInt64(mode == 2 ? Counter.mode2Period(r.n) : r.n))
            if k == 0 { return u }
            let start = u - UInt64(k)
            if mode == 2 { return start + UInt64(Counter.mode2Period(r.n)) }
            if r.n == 1 { return u }
            let first = Counter.mode3Phase(n: r.n, high: r.high, k: 0).first
            return k <= first ? start + UInt64(first) : start + UInt64(r.n)
        }

        /// Folds a mode 2/3 count switch that has happened by tick t into the run.
        func normalize(_ t: UInt64) {
            if running && (mode == 2 || mode == 3) && t >= switchAt {
                load = switchAt; n = switchN; startHigh = switchHigh
                preValue = 0; switchAt = .max
            }
        }

        /// Stops the counting element at tick t holding `value`, OUT at `out`.
        func stop(at t: UInt64, value: Int, out: Bool) {
            running = false
            load = t; preValue = value; preOut = out
            idleValue = value; idleOut = out
            switchAt = .max
        }

        /// Modes 0/4: (re)load N at the next clock after tick t.
        func startLinear(at t: UInt64, count: Int, outBefore: Bool) {
            let cur = value(at: t)
            running = true
            load = t + 1; preValue = cur; preOut = outBefore
            n = count; v0 = count; anchor = load; done = false
            switchAt = .max
        }

        /// Modes 1/5 trigger and modes 2/3 start: load N at the next clock.
        func startAtNextClock(_ t: UInt64, count: Int) {
            let cur = value(at: t), o = out(at: t)
            running = true
            load = t + 1; preValue = cur; preOut = o
            n = count; startHigh = true; switchAt = .max; done = false
        }

        /// Modes 0/4: re-anchors the linear count at tick t (before a GATE change).
        func rebaseLinear(_ t: UInt64) {
            guard running, t >= load else { return }
            let d = linearDecrements(t)
            if !done && d >= UInt64(v0) { done = true }
            v0 = value(at: t)
            anchor = t
        }

        func encode(_ v: Int) -> UInt16 {
            if bcd {
                let x = v % 10000
                return UInt16((x / 1000) << 12 | (x / 100 % 10) << 8 | (x / 10 % 10) << 4 | (x % 10))
            }
            return UInt16(truncatingIfNeeded: v)
        }

        func statusByte(at t: UInt64) -> UInt8 {
            (out(at: t) ? 0x80 : 0) | (nullCount(at: t) ? 0x40 : 0) | (control & 0x3F)
        }
    }

    let clock: VirtualClock
    let trace: TraceSink
    let counters: [Counter]

    /// OUT0, wired by the board to IRQ0. Called on each OUT0 change.
    public var out0: LineOutput = { _ in }

    /// OUT2 receiver (speaker/audio). While set, channel 2 edges are
    /// scheduled and delivered; it is called with the current level when set.
    public var out2Listener: LineOutput? {
        didSet {
            let c = counters[2]
            if let l = out2Listener {
                c.reported = c.out(at: now)
                l(c.reported)
                reschedule(c)
            } else {
                clock.cancel(c.timer)
            }
        }
    }

    private var tracing = true

    /// Power-on state (the datasheet leaves it undefined, PIT-29): as QEMU
    /// resets it, every channel in mode 3 with count 65536, channels 0 and 1
    /// counting from time 0, channel 2's gate low.
    public init(clock: VirtualClock, trace: TraceSink) {
        self.clock = clock
        self.trace = trace
        counters = (0..<3).map { Counter(index: $0) }
        counters[2].gate = false
        counters[2].stop(at: 0, value: 0, out: true)
        for c in counters {
            c.timer = clock.makeTimer("pit\(c.index)") { [unowned self] _ in self.edgeDue(c) }
        }
        let c0 = counters[0]
        c0.reported = c0.out(at: now)
        reschedule(c0)
    }

    @inline(__always) var now: UInt64 { PIT8254.tick(atNanoseconds: clock.now) }

    // MARK: Output lines

    func listened(_ c: Counter) -> Bool { c.index == 0 || (c.index == 2 && out2Listener != nil) }

    private func deliver(_ c: Counter, _ level: Bool) {
        guard level != c.reported else { return }
        c.reported = level
        if trace.wants(.pit) {
            trace.emit(TraceEvent(.pit, "out", [("ch", .int(Int64(c.index))), ("level", .bool(level))]))
        }
        if c.index == 0 { out0(level) } else if c.index == 2 { out2Listener?(level) }
    }

    private func reschedule(_ c: Counter) {
        guard listened(c) else { return }
        if let e = c.nextEdge(after: now) {
            let when = PIT8254.nanoseconds(ofTick: e)
            if when != .max { clock.schedule(c.timer, at: when); return }
        }
        clock.cancel(c.timer)
    }

    private func edgeDue(_ c: Counter) {
        guard listened(c) else { return }
        deliver(c, c.out(at: now))
        reschedule(c)
    }

    /// Delivers edges that fell due before now but whose timer has not run yet
    /// (keeps every pulse visible even if a port access precedes the timer).
    private func catchUp(_ c: Counter) {
        guard listened(c) else { return }
        var budget = 16
        var d = clock.deadline(c.timer)
        while d <= clock.now && budget > 0 {
            let t = PIT8254.tick(atNanoseconds: d)
            deliver(c, c.out(at: t))
            guard let e = c.nextEdge(after: t) else { break }
            d = PIT8254.nanoseconds(ofTick: e)
            budget -= 1
        }
    }

    /// Call before changing a counter's state at the current tick.
    private func begin(_ c: Counter) -> UInt64 {
        catchUp(c)
        let t = now
        c.normalize(t)
        return t
    }

    /// Call after changing a counter's state.
    private func end(_ c: Counter) {
        if listened(c) {
            deliver(c, c.out(at: now))
            reschedule(c)
        }
    }

    // MARK: Public lines and inspection

    /// GATE input of `channel` (0-2). Channels 0 and 1 are wired high on the PC.
    public func setGate(_ channel: Int, _ level: Bool) {
        guard channel >= 0 && channel < 3 else { return }
        let c = counters[channel]
        guard c.gate != level else { return }
        let t = begin(c)
        switch c.mode {
        case 0, 4:
            // GATE low suspends counting, OUT unchanged (PIT-22).
            c.rebaseLinear(t)
            c.gate = level
            if c.running && t < c.load { c.anchor = c.load }
        case 1, 5:
            c.gate = level
            // Rising edge triggers: CE loaded on the next CLK (PIT-13, PIT-19).
            if level && c.armed {
                c.startAtNextClock(t, count: c.countValue)
                c.nullUntil = min(c.nullUntil, t + 1)
            }
        default:
            c.gate = level
            if !level {
                // Modes 2/3: counting stops and OUT goes high at once (PIT-23).
                if c.running || t < c.load { c.stop(at: t, value: c.value(at: t), out: true) }
            } else if c.armed {
                // Rising edge reloads the (possibly new) count on the next CLK.
                c.startAtNextClock(t, count: c.countValue)
                c.nullUntil = min(c.nullUntil, t + 1)
            }
        }
        if tracing && trace.wants(.pit) {
            trace.emit(TraceEvent(.pit, "gate", [("ch", .int(Int64(channel))), ("level", .bool(level))]))
        }
        end(c)
    }

    /// OUT of `channel` now.
    public func out(_ channel: Int) -> Bool {
        guard channel >= 0 && channel < 3 else { return false }
        return counters[channel].out(at: now)
    }

    public func channel(_ i: Int) -> ChannelState {
        let c = counters[max(0, min(2, i))]
        let t = now
        return ChannelState(
            mode: c.mode, programmedMode: c.programmedMode, access: c.access, bcd: c.bcd,
            reload: c.cr, count: c.encode(c.value(at: t)), latchedCount: c.latched,
            latchedStatus: c.status, out: c.out(at: t), gate: c.gate, nullCount: c.nullCount(at: t))
    }

    public func describe() -> String {
        func h(_ v: UInt16) -> String {
            let s = String(v, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, 4 - s.count)) + s
        }
        let rwName = ["latch", "lsb", "msb", "lsb/msb"]
        return (0..<3).map { i -> String in
            let s = channel(i)
            var line = "ch\(i): mode \(s.mode)"
            if s.programmedMode != s.mode { line += " (as \(s.programmedMode))" }
            line += " \(rwName[s.access & 3])\(s.bcd ? " bcd" : "") reload=\(h(s.reload)) count=\(h(s.count))"
            line += " out=\(s.out ? 1 : 0) gate=\(s.gate ? 1 : 0)\(s.nullCount ? " null" : "")"
            if let l = s.latchedCount { line += " latched=\(h(l))" }
            if let st = s.latchedStatus { line += " status=\(h(UInt16(st)))" }
            return line
        }.joined(separator: "\n")
    }

    // MARK: Ports

    func writeControl(_ v: UInt8) {
        let sc = Int(v >> 6)
        if sc == 3 { readBack(v); return }
        let c = counters[sc]
        let rw = Int(v >> 4) & 3
        if rw == 0 {
            // Counter latch; a second latch before the first is read is ignored (PIT-04).
            if c.latched == nil {
                c.latched = c.encode(c.value(at: now))
                if tracing && trace.wants(.pit) {
                    trace.emit(TraceEvent(.pit, "latch", [("ch", .int(Int64(sc))), ("value", hex16(c.latched ?? 0))]))
                }
            }
            return
        }
        let t = begin(c)
        let cur = c.value(at: t)
        c.control = v & 0x3F
        c.access = rw
        c.programmedMode = Int(v >> 1) & 7
        c.mode = c.programmedMode > 5 ? c.programmedMode - 4 : c.programmedMode   // PIT-20
        c.bcd = v & 1 != 0
        // A control word releases latches, resets both flip-flops (aborting a
        // half-written count) and stops the counter until a count is written;
        // OUT goes low in mode 0, high otherwise (PIT-10, PIT-25).
        c.latched = nil
        c.status = nil
        c.readMSBNext = false
        c.writeMSBNext = false
        c.armed = false
        c.nullUntil = .max
        c.stop(at: t, value: cur, out: c.mode != 0)
        if tracing && trace.wants(.pit) {
            trace.emit(TraceEvent(.pit, "control", [
                ("ch", .int(Int64(sc))), ("value", hex8(v)), ("mode", .int(Int64(c.programmedMode))),
                ("access", .int(Int64(rw))),
            ]))
        }
        end(c)
    }

    func readBack(_ v: UInt8) {
        let t = now
        for i in 0..<3 where v & (2 << UInt8(i)) != 0 {
            let c = counters[i]
            if v & 0x20 == 0 && c.latched == nil { c.latched = c.encode(c.value(at: t)) }
            if v & 0x10 == 0 && c.status == nil { c.status = c.statusByte(at: t) }
        }
        if tracing && trace.wants(.pit) {
            trace.emit(TraceEvent(.pit, "readback", [("value", hex8(v))]))
        }
    }

    func writeCounter(_ c: Counter, _ b: UInt8) {
        switch c.access {
        case 1:
            c.cr = UInt16(b)
        case 2:
            c.cr = UInt16(b) << 8
        default:
            if !c.writeMSBNext {
                c.lowByte = b
                c.writeMSBNext = true
                if c.mode == 0 {
                    // Mode 0: the first byte of a two-byte count stops counting
                    // and sets OUT low at once (PIT-12).
                    let t = begin(c)
                    c.stop(at: t, value: c.value(at: t), out: false)
                    end(c)
                }
                return
            }
            c.writeMSBNext = false
            c.cr = UInt16(c.lowByte) | UInt16(b) << 8
        }
        countWritten(c)
    }

    private func countWritten(_ c: Counter) {
        let t = begin(c)
        let count = c.countValue
        let initial = !c.armed
        c.armed = true
        switch c.mode {
        case 0:
            // Loaded on the next CLK; OUT low until N+1 clocks after the write (PIT-11).
            c.startLinear(at: t, count: count, outBefore: false)
            c.nullUntil = t + 1
        case 4:
            // Loaded on the next CLK; strobe N+1 clocks after the write (PIT-18).
            c.startLinear(at: t, count: count, outBefore: c.out(at: t))
            c.nullUntil = t + 1
        case 1, 5:
            // Used at the next trigger (PIT-13, PIT-19).
            c.nullUntil = .max
        default:
            if initial || (c.running && t < c.load) {
                // First count after a control word: loaded on the next CLK.
                if c.gate {
                    c.startAtNextClock(t, count: count)
                } else {
                    let cur = c.value(at: t)
                    c.stop(at: t, value: cur, out: true)
                    c.load = t + 1
                    c.idleValue = count
                }
                c.nullUntil = t + 1
            } else if c.running {
                // New count: takes effect at the end of the current period
                // (mode 2, PIT-15) or half-cycle (mode 3, PIT-17).
                let e = c.boundary(atOrAfter: t + 1)
                c.switchHigh = c.mode == 2 ? true : c.out(at: e)
                c.switchAt = e
                c.switchN = count
                c.nullUntil = e
            } else {
                // Gate low: transferred by the next trigger.
                c.nullUntil = .max
            }
        }
        if tracing && trace.wants(.pit) {
            trace.emit(TraceEvent(.pit, "count", [("ch", .int(Int64(c.index))), ("value", hex16(c.cr))]))
        }
        end(c)
    }

    func readCounter(_ c: Counter) -> UInt8 {
        if let s = c.status {
            c.status = nil
            return s
        }
        let v = c.latched ?? c.encode(c.value(at: now))
        switch c.access {
        case 1:
            c.latched = nil
            return UInt8(truncatingIfNeeded: v)
        case 2:
            c.latched = nil
            return UInt8(truncatingIfNeeded: v >> 8)
        default:
            if !c.readMSBNext {
                c.readMSBNext = true
                return UInt8(truncatingIfNeeded: v)
            }
            c.readMSBNext = false
            c.latched = nil
            return UInt8(truncatingIfNeeded: v >> 8)
        }
    }

    func readByte(_ port: UInt16) -> UInt8 {
        switch port {
        case 0x40, 0x41, 0x42: return readCounter(counters[Int(port - 0x40)])
        // PIT-09: the 8254 does not drive the bus for a read at A1A0 = 11, so
        // the ISA bus floats high. QEMU and Bochs return 0x00.
        default: return 0xFF
        }
    }

    func writeByte(_ port: UInt16, _ v: UInt8) {
        switch port {
        case 0x40, 0x41, 0x42: writeCounter(counters[Int(port - 0x40)], v)
        case 0x43: writeControl(v)
        default: break
        }
    }

    public func ioRead(_ port: UInt16, size: Int) -> UInt32 {
        var r: UInt32 = 0
        for i in 0..<max(1, min(size, 4)) {
            r |= UInt32(readByte(port &+ UInt16(i))) << (8 * UInt32(i))
        }
        return r
    }

    public func ioWrite(_ port: UInt16, size: Int, value: UInt32) {
        for i in 0..<max(1, min(size, 4)) {
            writeByte(port &+ UInt16(i), UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))))
        }
    }

    // MARK: Firmware hand-off

    /// Leaves the timer as SeaBIOS does (devices.md 3.1): channel 0 control
    /// word 0x34 (LSB/MSB, mode 2, binary) and count 0 (65536), counting from
    /// the next clock; channel 1 in its reset state (mode 3, 65536); channel 2
    /// untouched with its gate low. Only OUT changes are traced.
    public func applyFirmwareState() {
        tracing = false
        writeControl(0x34)
        writeCounter(counters[0], 0)
        writeCounter(counters[0], 0)
        tracing = true
    }
}
