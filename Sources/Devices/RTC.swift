// MC146818A-compatible CMOS RTC at ports 0x70 (index, b7 = NMI disable) and
// 0x71 (data): 128 bytes of CMOS, the clock/calendar derived from a fixed start
// time plus virtual time (deterministic), BCD/binary and 12/24 h formats,
// daylight-saving steps, alarm, update-ended and periodic interrupts with
// register C read-to-clear semantics driving IRQ8.
// References: devices.md §1.6 (RTC-xx), §3.1, MC146818A datasheet.

public final class RTC: PortDevice {
    /// 2026-01-01 00:00:00 UTC (a Thursday).
    public static let defaultStartTime: Int64 = 1_767_225_600

    private let clock: VirtualClock
    private let trace: TraceSink

    /// IRQ8: high while register C's IRQF is set (until C is read).
    public var irq8: LineOutput = { _ in }
    /// Port 0x70 bit 7 changed (true = NMI disabled).
    public var onNMIMask: ((Bool) -> Void)?

    /// Index selected by the last write to 0x70 (b6-0).
    public private(set) var index: UInt8 = 0
    public private(set) var nmiDisabled = false

    private var cmos = [UInt8](repeating: 0, count: 128)
    private var regA: UInt8 = 0x26
    private var regB: UInt8 = 0x02
    /// Register C flags PF (0x40), AF (0x20), UF (0x10); IRQF is derived.
    private var flags: UInt8 = 0
    private var irqLine = false

    // Clock: `secs` counts chip seconds from 1970 in a calendar whose year is
    // 2000 + (year register), at update boundary `lastK`. Boundaries are at
    // originNs + k * 1 s (the divider phase).
    private var secs: Int64 = 0
    private var dowOffset: Int64 = 0
    private var originNs: Int64 = 0
    private var lastK: Int64 = 0
    private var pfCheckedTick: Int64 = 0
    private var dstFallDone = false

    private var periodicTimer: VirtualClock.TimerID = 0
    private var updateTimer: VirtualClock.TimerID = 0

    private static let nsPerSec: Int64 = 1_000_000_000
    /// UIP is 1 from 244 µs before the update cycle until the 1984 µs update
    /// (32.768 kHz time base) completes; we change the registers at its end.
    private static let uipWindowNs: Int64 = 244_000 + 1_984_000

    private enum Bit {
        static let set: UInt8 = 0x80, pie: UInt8 = 0x40, aie: UInt8 = 0x20, uie: UInt8 = 0x10
        static let dm: UInt8 = 0x04, h24: UInt8 = 0x02, dse: UInt8 = 0x01
        static let pf: UInt8 = 0x40, af: UInt8 = 0x20, uf: UInt8 = 0x10
    }

    public init(clock: VirtualClock, trace: TraceSink, startTime: Int64 = RTC.defaultStartTime) {
        self.clock = clock
        self.trace = trace
        periodicTimer = clock.makeTimer("rtc-periodic") { [weak self] _ in self?.refresh() }
        updateTimer = clock.makeTimer("rtc-update") { [weak self] _ in self?.refresh() }
        setTime(unixSeconds: startTime)
        originNs = Int64(clamping: clock.now)
        lastK = 0
        pfCheckedTick = 0
        cmos[0x0D] = 0x80
        cmos[0x14] = 0x06                        // FPU present, PS/2 mouse, VGA, no floppy
        let year = civil(fromDays: floorDiv(startTime, 86_400)).y
        cmos[0x32] = bcd(Int((year / 100) % 100))   // century (plain CMOS RAM)
        setMemorySize(bytes: 640 * 1024)
    }

    // MARK: - Configuration (board)

    /// Sets the clock to a Unix time (the day of week follows the real date).
    public func setTime(unixSeconds t: Int64) {
        let days = floorDiv(t, 86_400)
        let sod = t - days * 86_400
        let c = civil(fromDays: days)
        let chipDays = daysFromCivil(2000 + floorMod(c.y, 100), c.m, c.d)
        secs = chipDays * 86_400 + sod
        let realDow = floorMod(days + 4, 7)      // 1970-01-01 was a Thursday (0 = Sunday)
        dowOffset = floorMod(realDow - chipDays, 7)
    }

    /// Memory size bytes as QEMU's i440fx writes them: 0x15/0x16 base memory
    /// (640 KB), 0x17/0x18 and 0x30/0x31 KB above 1 MB (max 0xFFFF), 0x34/0x35
    /// 64 KB blocks above 16 MB below 4 GB, 0x5B-0x5D 64 KB blocks above 4 GB;
    /// then the standard checksum at 0x2E/0x2F.
    public func setMemorySize(bytes: Int) {
        let total = max(0, bytes)
        cmos[0x15] = 0x80; cmos[0x16] = 0x02       // 640 KB
        let ext = min(max(0, total - 1024 * 1024) / 1024, 0xFFFF)
        cmos[0x17] = UInt8(ext & 0xFF); cmos[0x18] = UInt8(ext >> 8)
        cmos[0x30] = UInt8(ext & 0xFF); cmos[0x31] = UInt8(ext >> 8)
        let below4G = total >= 0xE000_0000 ? 0xC000_0000 : total
        let above16 = min(max(0, below4G - 16 * 1024 * 1024) / 65_536, 0xFFFF)
        cmos[0x34] = UInt8(above16 & 0xFF); cmos[0x35] = UInt8(above16 >> 8)
        let above4G = min((total - below4G) / 65_536, 0xFF_FFFF)
        cmos[0x5B] = UInt8(above4G & 0xFF); cmos[0x5C] = UInt8((above4G >> 8) & 0xFF)
        cmos[0x5D] = UInt8(above4G >> 16)
        updateChecksum()
    }

    /// Recomputes the AT checksum of 0x10-0x2D into 0x2E (high) / 0x2F (low).
    public func updateChecksum() {
        var sum = 0
        for i in 0x10...0x2D { sum += Int(cmos[i]) }
        cmos[0x2E] = UInt8((sum >> 8) & 0xFF)
        cmos[0x2F] = UInt8(sum & 0xFF)
    }

    /// Raw CMOS RAM access for the board (registers 0x0E-0x7F; 0x00-0x0D go
    /// through the clock model).
    public func cmosByte(_ i: Int) -> UInt8 { readRegister(UInt8(i & 0x7F), sideEffects: false) }
    public func setCMOSByte(_ i: Int, _ v: UInt8) {
        if i & 0x7F >= 0x0E { cmos[i & 0x7F] = v } else { writeRegister(UInt8(i & 0x7F), v) }
    }

    /// What SeaBIOS leaves (devices.md §3.1/§3.2): A = 0x26, B = 0x02
    /// (24 h, BCD, no DSE, interrupts off), C and D read.
    public func applyFirmwareState() {
        writeRegister(0x0A, 0x26)
        writeRegister(0x0B, 0x02)
        _ = readRegister(0x0C, sideEffects: true)
        index = 0x0D
        nmiDisabled = false
    }

    // MARK: - Inspection

    public var registerA: UInt8 { readRegister(0x0A, sideEffects: false) }
    public var registerB: UInt8 { regB }
    /// Register C as a read would return it now (without clearing).
    public var registerC: UInt8 {
        refreshFlags()
        return flags | (irqf ? 0x80 : 0)
    }
    public var irqAsserted: Bool { irqLine }

    /// Periodic interrupt rate in Hz for the current RS (0 = off).
    public var periodicRateHz: Int {
        let p = periodTicks
        return p == 0 ? 0 : 32_768 / Int(p)
    }

    /// The current clock value (full year = century 20 + year register).
    public var dateTime: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        catchUp()
        let f = fields()
        return (2000 + f.year, f.month, f.day, f.hour, f.minute, f.second)
    }

    public func describe() -> String {
        let t = dateTime
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var s = "RTC: \(t.year)-\(two(t.month))-\(two(t.day)) \(two(t.hour)):\(two(t.minute)):\(two(t.second))"
        s += " A=0x\(DevHexFormat.bytes([registerA])) B=0x\(DevHexFormat.bytes([regB])) C=0x\(DevHexFormat.bytes([registerC]))"
        s += " periodic \(periodicRateHz) Hz, IRQ8 \(irqLine ? 1 : 0), index 0x\(DevHexFormat.bytes([index]))"
        s += nmiDisabled ? " NMI off" : ""
        return s
    }

    // MARK: - Ports

    public func ioRead(_ port: UInt16, size: Int) -> UInt32 {
        let high: UInt32 = size >= 4 ? 0xFFFF_FF00 : size == 2 ? 0xFF00 : 0
        switch port {
        case 0x71: return high | UInt32(readRegister(index, sideEffects: true))
        default: return high | 0xFF             // RTC-01: 0x70 is write-only
        }
    }

    public func ioWrite(_ port: UInt16, size: Int, value: UInt32) {
        let v = UInt8(truncatingIfNeeded: value)
        switch port {
        case 0x70:
            index = v & 0x7F
            let nmi = v & 0x80 != 0
            if nmi != nmiDisabled { nmiDisabled = nmi; onNMIMask?(nmi) }
        case 0x71:
            writeRegister(index, v)
        default:
            break
        }
    }

    // MARK: - Registers

    private func readRegister(_ i: UInt8, sideEffects: Bool) -> UInt8 {
        switch i {
        case 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09:
            catchUp()
            let f = fields()
            switch i {
            case 0x00: return enc(f.second)
            case 0x02: return enc(f.minute)
            case 0x04: return encHour(f.hour)
            case 0x06: return UInt8(f.dow)
            case 0x07: return enc(f.day)
            case 0x08: return enc(f.month)
            default: return enc(f.year)
            }
        case 0x01, 0x03, 0x05:
            return cmos[Int(i)]
        case 0x0A:
            return regA | (uip ? 0x80 : 0)      // RTC-02: b7 UIP
        case 0x0B:
            return regB
        case 0x0C:
            refreshFlags()
            let v = flags | (irqf ? 0x80 : 0)
            guard sideEffects else { return v }
            flags = 0                            // RTC-05: read clears
            if trace.wants(.rtc) { trace.emit(TraceEvent(.rtc, "c-read", [("value", hex8(v))])) }
            updateIRQ()
            rearm()
            return v
        case 0x0D:
            return 0x80                          // RTC-09: VRT
        default:
            return cmos[Int(i & 0x7F)]
        }
    }

    private func writeRegister(_ i: UInt8, _ v: UInt8) {
        if i <= 0x0D, trace.wants(.rtc) {
            trace.emit(TraceEvent(.rtc, "reg-write", [("index", hex8(i)), ("value", hex8(v))]))
        }
        switch i {
        case 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09:
            catchUp()
            var f = fields()
            switch i {
            case 0x00: f.second = dec(v)
            case 0x02: f.minute = dec(v)
            case 0x04: f.hour = decHour(v)
            case 0x06:
                let day = floorDiv(secs, 86_400)
                dowOffset = floorMod(Int64(Int(v) - 1) - day, 7)
                return
            case 0x07: f.day = dec(v)
            case 0x08: f.month = dec(v)
            default: f.year = dec(v)
            }
            store(f)
            refresh()
        case 0x01, 0x03, 0x05:
            cmos[Int(i)] = v
            refresh()
        case 0x0A:
            catchUp(); syncPF()
            let wasRunning = dividerRunning
            regA = v & 0x7F                      // UIP is read-only
            if !wasRunning && dividerRunning {
                // Leaving divider reset: the first update comes 500 ms later.
                let now = Int64(clamping: clock.now)
                originNs = now - 500_000_000
                lastK = floorDiv(now - originNs, RTC.nsPerSec)
                pfCheckedTick = ticks(now)
            }
            updateIRQ(); rearm()
        case 0x0B:
            catchUp(); syncPF()
            var nv = v
            if nv & Bit.set != 0 { nv &= ~Bit.uie }   // SET clears UIE (MC146818A)
            regB = nv
            updateIRQ()                          // RTC-08: enabling a set flag raises IRQ8
            rearm()
        case 0x0C, 0x0D:
            break                                // read-only
        default:
            cmos[Int(i & 0x7F)] = v
        }
    }

    // MARK: - Formats

    private var binary: Bool { regB & Bit.dm != 0 }

    private func bcd(_ v: Int) -> UInt8 { UInt8(truncatingIfNeeded: (v / 10) << 4 | (v % 10)) }
    private func enc(_ v: Int) -> UInt8 { binary ? UInt8(truncatingIfNeeded: v) : bcd(v) }
    private func dec(_ b: UInt8) -> Int { binary ? Int(b) : Int(b >> 4) * 10 + Int(b & 0x0F) }

    private func encHour(_ h: Int) -> UInt8 {
        if regB & Bit.h24 != 0 { return enc(h) }
        let h12 = h % 12 == 0 ? 12 : h % 12
        return enc(h12) | (h >= 12 ? 0x80 : 0)
    }

    private func decHour(_ b: UInt8) -> Int {
        if regB & Bit.h24 != 0 { return dec(b) }
        let h12 = dec(b & 0x7F)
        return h12 % 12 + (b & 0x80 != 0 ? 12 : 0)
    }

    // MARK: - Calendar

    private struct Fields {
        var second: Int, minute: Int, hour: Int, dow: Int, day: Int, month: Int, year: Int
    }

    private func fields() -> Fields {
        let days = floorDiv(secs, 86_400)
        let sod = Int(secs - days * 86_400)
        let c = civil(fromDays: days)
        return Fields(second: sod % 60, minute: (sod / 60) % 60, hour: sod / 3600,
                      dow: Int(floorMod(days + dowOffset, 7)) + 1,
                      day: c.d, month: c.m, year: Int(floorMod(c.y - 2000, 100)))
    }

    /// Stores guest-written fields; out-of-range values carry into the next
    /// field (the chip's behaviour with invalid values is undefined).
    private func store(_ f: Fields) {
        let oldDay = floorDiv(secs, 86_400)
        let oldDow = floorMod(oldDay + dowOffset, 7)
        let month = min(max(f.month, 1), 12)
        let days = daysFromCivil(2000 + Int64(f.year), month, 1) + Int64(max(f.day, 1) - 1)
        secs = days * 86_400 + Int64(f.hour) * 3600 + Int64(f.minute) * 60 + Int64(f.second)
        // The day-of-week register is an independent counter: keep its value.
        let newDay = floorDiv(secs, 86_400)
        dowOffset = floorMod(oldDow - newDay, 7)
    }

    // MARK: - Time flow

    private var dividerRunning: Bool { (regA >> 4) & 7 == 0b010 }

    private var uip: Bool {
        guard dividerRunning, regB & Bit.set == 0 else { return false }
        let now = Int64(clamping: clock.now)
        let next = originNs + (floorDiv(now - originNs, RTC.nsPerSec) + 1) * RTC.nsPerSec
        return next - now <= RTC.uipWindowNs
    }

    /// Applies every update cycle due up to now (time advance, UF, AF, DSE).
    private func catchUp() {
        guard dividerRunning else { return }
        let k = floorDiv(Int64(clamping: clock.now) - originNs, RTC.nsPerSec)
        guard k > lastK else { return }
        var n = k - lastK
        lastK = k
        guard regB & Bit.set == 0 else { return }   // SET inhibits updates
        if n > 2 * 86_400 {
            // Far behind: jump, then run the last two days second by second
            // so alarm and update flags come out right.
            secs += n - 2 * 86_400
            n = 2 * 86_400
        }
        for _ in 0..<n { updateCycle() }
    }

    private func updateCycle() {
        secs += 1
        var f = fields()
        if regB & Bit.dse != 0 && f.dow == 1 && f.minute == 0 && f.second == 0 {
            // Last Sunday in April: 01:59:59 -> 03:00:00. Last Sunday in
            // October: the first 01:59:59 -> 01:00:00.
            if f.month == 4 && f.day >= 24 && f.hour == 2 {
                secs += 3600; f = fields()
            } else if f.month == 10 && f.day >= 25 && f.hour == 2 && !dstFallDone {
                secs -= 3600; f = fields(); dstFallDone = true
            } else if f.hour == 3 {
                dstFallDone = false
            }
        }
        flags |= Bit.uf
        if alarmMatches(f) { flags |= Bit.af }
    }

    private func alarmMatches(_ f: Fields) -> Bool {
        func match(_ alarm: UInt8, _ v: UInt8) -> Bool { alarm & 0xC0 == 0xC0 || alarm == v }
        return match(cmos[1], enc(f.second)) && match(cmos[3], enc(f.minute))
            && match(cmos[5], encHour(f.hour))
    }

    // MARK: - Periodic interrupt (RTC-02, RTC-07)

    /// Period in 32.768 kHz ticks: RS 1 and 2 give 256 Hz and 128 Hz,
    /// RS n >= 3 gives 32768 >> (n - 1) Hz.
    private var periodTicks: Int64 {
        guard dividerRunning else { return 0 }
        let rs = Int64(regA & 0x0F)
        switch rs {
        case 0: return 0
        case 1: return 128
        case 2: return 256
        default: return 1 << (rs - 1)
        }
    }

    private func ticks(_ ns: Int64) -> Int64 {
        let d = ns - originNs
        let q = floorDiv(d, RTC.nsPerSec)
        let r = d - q * RTC.nsPerSec
        return q * 32_768 + r * 32_768 / RTC.nsPerSec
    }

    private func nsOfTick(_ t: Int64) -> Int64 {
        let q = floorDiv(t, 32_768)
        let r = t - q * 32_768
        return originNs + q * RTC.nsPerSec + (r * RTC.nsPerSec + 32_767) / 32_768
    }

    /// PF is set at every period edge whether or not PIE is on; computed lazily.
    private func syncPF() {
        let t = ticks(Int64(clamping: clock.now))
        let p = periodTicks
        if p > 0 && floorDiv(t, p) > floorDiv(pfCheckedTick, p) { flags |= Bit.pf }
        pfCheckedTick = t
    }

    private func refreshFlags() {
        catchUp()
        syncPF()
    }

    // MARK: - IRQ8

    private var irqf: Bool { flags & regB & 0x70 != 0 }

    private func refresh() {
        refreshFlags()
        updateIRQ()
        rearm()
    }

    private func updateIRQ() {
        let level = irqf
        guard level != irqLine else { return }
        irqLine = level
        if trace.wants(.rtc) {
            trace.emit(TraceEvent(.rtc, "irq", [("level", .bool(level)), ("c", hex8(flags | (level ? 0x80 : 0)))]))
        }
        irq8(level)
    }

    /// Schedules only the events that can change the IRQ8 line; everything
    /// else (flags while the line is high or the source is disabled) is
    /// computed when register C is read.
    private func rearm() {
        let now = Int64(clamping: clock.now)
        if !irqLine, regB & Bit.pie != 0, flags & Bit.pf == 0, periodTicks > 0 {
            let p = periodTicks
            let next = (floorDiv(ticks(now), p) + 1) * p
            clock.schedule(periodicTimer, at: UInt64(max(0, nsOfTick(next))))
        } else {
            clock.cancel(periodicTimer)
        }
        let wantUpdate = (regB & Bit.uie != 0 && flags & Bit.uf == 0)
            || (regB & Bit.aie != 0 && flags & Bit.af == 0)
        if !irqLine, wantUpdate, dividerRunning, regB & Bit.set == 0 {
            let next = originNs + (floorDiv(now - originNs, RTC.nsPerSec) + 1) * RTC.nsPerSec
            clock.schedule(updateTimer, at: UInt64(max(0, next)))
        } else {
            clock.cancel(updateTimer)
        }
    }
}

// MARK: - Integer calendar helpers (proleptic Gregorian, days from 1970-01-01)

@inline(__always) private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

@inline(__always) private func floorMod(_ a: Int64, _ b: Int64) -> Int64 { a - floorDiv(a, b) * b }

private func daysFromCivil(_ year: Int64, _ month: Int, _ day: Int) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = floorDiv(y, 400)
    let yoe = y - era * 400
    let mp = Int64((month + 9) % 12)
    let doy = (153 * mp + 2) / 5 + Int64(day) - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

private func civil(fromDays days: Int64) -> (y: Int64, m: Int, d: Int) {
    let z = days + 719_468
    let era = floorDiv(z, 146_097)
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = Int(doy - (153 * mp + 2) / 5 + 1)
    let m = Int(mp < 10 ? mp + 3 : mp - 9)
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
}
