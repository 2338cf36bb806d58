import XCTest
@testable import Devices

/// Drives the RTC through ports 0x70/0x71 and its IRQ8 line.
final class RTCRig {
    let clock = VirtualClock()
    let trace = TraceSink()
    let rtc: RTC
    private(set) var irq = false
    private(set) var edges = 0
    private(set) var edgeTimes: [UInt64] = []

    init(start: Int64 = RTC.defaultStartTime, firmware: Bool = true) {
        rtc = RTC(clock: clock, trace: trace, startTime: start)
        rtc.irq8 = { [unowned self] l in
            if l && !irq { edges += 1; edgeTimes.append(clock.now) }
            irq = l
        }
        if firmware { rtc.applyFirmwareState() }
    }

    func read(_ i: UInt8) -> UInt8 {
        rtc.ioWrite(0x70, size: 1, value: UInt32(i))
        return UInt8(rtc.ioRead(0x71, size: 1))
    }

    func write(_ i: UInt8, _ v: UInt8) {
        rtc.ioWrite(0x70, size: 1, value: UInt32(i))
        rtc.ioWrite(0x71, size: 1, value: UInt32(v))
    }

    func advance(_ ns: UInt64) {
        let end = clock.now + ns
        while clock.nextDeadline <= end {
            clock.now = clock.nextDeadline
            clock.runDue()
        }
        clock.now = end
    }

    /// Runs for `ns` with an IRQ8 handler that reads register C `latency` ns
    /// after each rising edge. Returns the number of interrupts handled.
    func runHandler(for ns: UInt64, latency: UInt64 = 0) -> Int {
        let end = clock.now + ns
        var handled = 0
        while true {
            if irq {
                let due = edgeTimes.last! + latency
                if due > end { break }
                advance(due - clock.now)
                _ = read(0x0C)
                handled += 1
                continue
            }
            guard clock.nextDeadline <= end else { break }
            advance(clock.nextDeadline - clock.now)
        }
        clock.now = end
        return handled
    }
}

final class RTCTests: XCTestCase {
    private let ms: UInt64 = 1_000_000
    private let sec: UInt64 = 1_000_000_000

    func testRTC01_IndexPortWithNMIMask() {
        let r = RTCRig()
        var nmi: [Bool] = []
        r.rtc.onNMIMask = { nmi.append($0) }
        r.rtc.ioWrite(0x70, size: 1, value: 0x8A)
        XCTAssertTrue(r.rtc.nmiDisabled)
        XCTAssertEqual(r.rtc.index, 0x0A)
        XCTAssertEqual(r.rtc.ioRead(0x71, size: 1), 0x26)
        XCTAssertEqual(r.rtc.ioRead(0x70, size: 1), 0xFF, "0x70 is write-only")
        r.rtc.ioWrite(0x70, size: 1, value: 0x0B)
        XCTAssertFalse(r.rtc.nmiDisabled)
        XCTAssertEqual(r.rtc.ioRead(0x71, size: 1), 0x02)
        XCTAssertEqual(nmi, [true, false])
        // Index wraps to 7 bits: 0xFF selects 0x7F (CMOS RAM).
        r.write(0xFF, 0x5A)
        XCTAssertEqual(r.read(0x7F), 0x5A)
    }

    func testRTC02_RateSelectAndDivider() {
        for (rs, hz) in [(1, 256), (2, 128), (3, 8192), (6, 1024), (7, 512), (15, 2)] {
            let r = RTCRig()
            r.write(0x0A, 0x20 | UInt8(rs))
            XCTAssertEqual(r.rtc.periodicRateHz, hz)
            r.write(0x0B, 0x42)
            XCTAssertEqual(r.runHandler(for: sec), hz, "RS=\(rs)")
        }
        // RS = 0: no periodic interrupt.
        let off = RTCRig()
        off.write(0x0A, 0x20)
        off.write(0x0B, 0x42)
        XCTAssertEqual(off.runHandler(for: sec), 0)
        XCTAssertEqual(off.read(0x0C) & 0x40, 0)
        // Divider reset (DV = 11x): no interrupts, time frozen.
        let r = RTCRig()
        r.write(0x0A, 0x76)
        r.write(0x0B, 0x42)
        XCTAssertEqual(r.runHandler(for: 3 * sec), 0)
        XCTAssertEqual(r.read(0x00), 0x00)
        // Leaving reset: first update 500 ms later.
        r.write(0x0A, 0x26)
        r.advance(499 * ms)
        XCTAssertEqual(r.read(0x00), 0x00)
        r.advance(1 * ms)
        XCTAssertEqual(r.read(0x00), 0x01)
        // UIP: set during the 2228 us before each update.
        let u = RTCRig()
        u.advance(sec - 2_229_000)
        XCTAssertEqual(u.read(0x0A) & 0x80, 0)
        u.advance(1_000)
        XCTAssertEqual(u.read(0x0A), 0xA6)
        XCTAssertEqual(u.read(0x00), 0x00, "old time until the update ends")
        u.advance(2_228_000)
        XCTAssertEqual(u.read(0x0A), 0x26)
        XCTAssertEqual(u.read(0x00), 0x01)
        // UIP is read-only.
        u.write(0x0A, 0xA6)
        XCTAssertEqual(u.read(0x0A), 0x26)
    }

    func testRTC03_RegisterBFormatsAndSet() {
        let r = RTCRig(start: 1_773_579_900 + 45)  // 2026-03-15 13:05:45 Sunday
        XCTAssertEqual(r.read(0x0B), 0x02)
        XCTAssertEqual(r.read(0x00), 0x45)
        XCTAssertEqual(r.read(0x04), 0x13)
        XCTAssertEqual(r.read(0x06), 0x01, "Sunday")
        r.write(0x0B, 0x06)                     // binary, 24 h
        XCTAssertEqual(r.read(0x00), 45)
        XCTAssertEqual(r.read(0x02), 5)
        XCTAssertEqual(r.read(0x04), 13)
        XCTAssertEqual(r.read(0x09), 26)
        r.write(0x0B, 0x04)                     // binary, 12 h
        XCTAssertEqual(r.read(0x04), 0x81, "1 PM")
        r.write(0x0B, 0x00)                     // BCD, 12 h
        XCTAssertEqual(r.read(0x04), 0x81)
        r.write(0x04, 0x92)                     // 12 PM in 12 h BCD = noon
        r.write(0x0B, 0x02)
        XCTAssertEqual(r.read(0x04), 0x12)
        r.write(0x0B, 0x00)
        r.write(0x04, 0x12)                     // 12 AM = midnight
        r.write(0x0B, 0x02)
        XCTAssertEqual(r.read(0x04), 0x00)
        // SET: updates inhibited, UIE cleared; time resumes when cleared.
        r.write(0x0B, 0x12)                     // UIE
        r.write(0x0B, 0x92)                     // SET | UIE
        XCTAssertEqual(r.read(0x0B), 0x82, "SET clears UIE")
        let s0 = r.read(0x00)
        r.advance(5 * sec)
        XCTAssertEqual(r.read(0x00), s0)
        XCTAssertEqual(r.read(0x0A) & 0x80, 0, "no UIP while SET")
        r.write(0x02, 0x30)
        r.write(0x00, 0x00)
        r.write(0x0B, 0x02)
        r.advance(3 * sec)
        XCTAssertEqual(r.read(0x02), 0x30)
        XCTAssertEqual(r.read(0x00), 0x03)
        // DSE: last Sunday in April 01:59:59 -> 03:00:00.
        let a = RTCRig(start: 1_777_168_798)
        a.write(0x0B, 0x03)
        a.advance(1 * sec)
        XCTAssertEqual([a.read(0x04), a.read(0x02), a.read(0x00)], [0x01, 0x59, 0x59])
        a.advance(1 * sec)
        XCTAssertEqual([a.read(0x04), a.read(0x02), a.read(0x00)], [0x03, 0x00, 0x00])
        // Last Sunday in October: the first 01:59:59 -> 01:00:00, once.
        let o = RTCRig(start: 1_792_893_598)
        o.write(0x0B, 0x03)
        o.advance(2 * sec)
        XCTAssertEqual([o.read(0x04), o.read(0x02), o.read(0x00)], [0x01, 0x00, 0x00])
        o.advance(3600 * sec)
        XCTAssertEqual([o.read(0x04), o.read(0x02), o.read(0x00)], [0x02, 0x00, 0x00])
        // Without DSE nothing happens.
        let n = RTCRig(start: 1_777_168_798)
        n.advance(2 * sec)
        XCTAssertEqual(n.read(0x04), 0x02)
    }

    func testRTC04_PeriodicInterruptAtRate() {
        let r = RTCRig()
        r.write(0x0B, r.read(0x0B) | 0x40)
        XCTAssertEqual(r.runHandler(for: sec), 1024)
        XCTAssertEqual(r.edgeTimes.first, 976_563, "first edge one period (1/1024 s) in")
    }

    func testRTC05_RegisterCReadClearsAndDeasserts() {
        let r = RTCRig()
        r.write(0x0B, 0x42)
        r.advance(2 * ms)
        XCTAssertTrue(r.irq)
        XCTAssertEqual(r.read(0x0C), 0xC0)
        XCTAssertFalse(r.irq)
        XCTAssertEqual(r.read(0x0C), 0x00)
        r.advance(1 * ms)
        XCTAssertTrue(r.irq)
        XCTAssertEqual(r.rtc.registerC, 0xC0)
    }

    func testRTC06_NotReadingCGivesExactlyOneInterrupt() {
        let r = RTCRig()
        r.write(0x0B, 0x42)
        r.advance(sec)
        XCTAssertEqual(r.edges, 1)
        XCTAssertTrue(r.irq, "line stays high")
        XCTAssertEqual(r.clock.nextDeadline, .max, "no timer churn while stuck")
        r.advance(10 * sec)
        XCTAssertEqual(r.edges, 1)
        XCTAssertEqual(r.read(0x0C), 0xD0, "PF and UF latched meanwhile")
        r.advance(1 * ms)
        XCTAssertEqual(r.edges, 2)
    }

    func testRTC07_PeriodicFlagSetsWithoutPIE() {
        let r = RTCRig()
        r.advance(10 * ms)
        XCTAssertEqual(r.read(0x0C), 0x40)
        XCTAssertEqual(r.edges, 0)
        XCTAssertEqual(r.read(0x0C), 0x00)
        r.advance(sec)
        XCTAssertEqual(r.read(0x0C), 0x50, "PF and UF, no IRQF")
        XCTAssertEqual(r.edges, 0)
    }

    func testRTC08_EnablingPIEWithPFSetRaisesAtOnce() {
        let r = RTCRig()
        r.advance(5 * ms)
        XCTAssertFalse(r.irq)
        r.write(0x0B, 0x42)
        XCTAssertTrue(r.irq)
        XCTAssertEqual(r.edges, 1)
        XCTAssertEqual(r.edgeTimes, [5 * ms])
        // Disabling the enable drops IRQF (combinational) without clearing PF.
        r.write(0x0B, 0x02)
        XCTAssertFalse(r.irq)
        XCTAssertEqual(r.read(0x0C), 0x40)
    }

    func testRTC09_RegisterDReportsValidRAM() {
        let r = RTCRig()
        XCTAssertEqual(r.read(0x0D), 0x80)
        r.write(0x0D, 0x00)
        XCTAssertEqual(r.read(0x0D), 0x80)
        r.write(0x0C, 0xFF)
        XCTAssertEqual(r.read(0x0C) & 0x80, 0, "C is read-only")
    }

    func testRTC10_NoCatchUpBursts() {
        // Late handler: C read 2.5 periods after each edge. Missed ticks are
        // dropped; the next interrupt comes at the next period edge.
        let r = RTCRig()
        r.write(0x0B, 0x42)
        let period = 976_562.5
        let handled = r.runHandler(for: sec, latency: 2_441_406)
        XCTAssertEqual(handled, 341)
        for i in 1..<r.edgeTimes.count {
            let gap = Double(r.edgeTimes[i] - r.edgeTimes[i - 1])
            XCTAssertEqual((gap / period).rounded(), 3, "edge \(i)")
        }
        // Prompt handler: exactly elapsed x rate.
        let p = RTCRig()
        p.write(0x0B, 0x42)
        XCTAssertEqual(p.runHandler(for: 3 * sec), 3072)
    }

    // MARK: - Clock, alarm, update interrupt, CMOS

    func testStartTimeAndCounting() {
        let r = RTCRig()
        XCTAssertEqual((0...9).map { r.read(UInt8($0)) }, [0x00, 0, 0x00, 0, 0x00, 0, 0x05, 0x01, 0x01, 0x26])
        XCTAssertEqual(r.read(0x32), 0x20, "century")
        r.advance(3661 * sec)
        XCTAssertEqual([r.read(0x04), r.read(0x02), r.read(0x00)], [0x01, 0x01, 0x01])
        r.advance(86_400 * sec)
        XCTAssertEqual([r.read(0x06), r.read(0x07)], [0x06, 0x02], "Friday 2nd")
        let y = RTCRig(start: 1_798_761_599)
        y.advance(sec)
        XCTAssertEqual((0...9).map { y.read(UInt8($0)) }, [0x00, 0, 0x00, 0, 0x00, 0, 0x06, 0x01, 0x01, 0x27])
        let t = y.rtc.dateTime
        XCTAssertEqual(t.year, 2027)
        // Far-future catch-up (no accesses for 10 days) is exact.
        let f = RTCRig()
        f.advance(10 * 86_400 * sec + 7 * sec)
        XCTAssertEqual([f.read(0x07), f.read(0x00), f.read(0x06)], [0x11, 0x07, 0x01], "Sunday the 11th")
        // Guest writes: date and day of week are independent registers.
        let w = RTCRig()
        w.write(0x0B, 0x82)
        w.write(0x09, 0x99); w.write(0x08, 0x12); w.write(0x07, 0x31)
        w.write(0x04, 0x23); w.write(0x02, 0x59); w.write(0x00, 0x59); w.write(0x06, 0x03)
        w.write(0x0B, 0x02)
        w.advance(sec)
        XCTAssertEqual((0...9).map { w.read(UInt8($0)) }, [0x00, 0, 0x00, 0, 0x00, 0, 0x04, 0x01, 0x01, 0x00])
    }

    func testAlarmAndUpdateInterrupts() {
        let r = RTCRig()
        r.write(0x01, 0x05); r.write(0x03, 0x00); r.write(0x05, 0x00)
        r.write(0x0B, 0x22)                    // AIE
        r.advance(4 * sec + 999 * ms)
        XCTAssertFalse(r.irq)
        r.advance(1 * ms)
        XCTAssertTrue(r.irq)
        XCTAssertEqual(r.read(0x0C), 0xF0, "IRQF AF, plus PF and UF latched")
        // Don't-care hour/minute: every minute at :30.
        r.write(0x01, 0x30); r.write(0x03, 0xFF); r.write(0x05, 0xC0)
        XCTAssertEqual(r.runHandler(for: 180 * sec), 3)
        // Update-ended interrupt once per second.
        let u = RTCRig()
        u.write(0x0B, 0x12)
        XCTAssertEqual(u.runHandler(for: 5 * sec), 5)
        XCTAssertEqual(u.edgeTimes, [1, 2, 3, 4, 5].map { UInt64($0) * sec })
    }

    func testCMOSMemoryAndEquipment() {
        let r = RTCRig()
        r.rtc.setMemorySize(bytes: 32 << 20)
        XCTAssertEqual([r.read(0x15), r.read(0x16)], [0x80, 0x02])
        XCTAssertEqual([r.read(0x17), r.read(0x18)], [0x00, 0x7C])
        XCTAssertEqual([r.read(0x30), r.read(0x31)], [0x00, 0x7C])
        XCTAssertEqual([r.read(0x34), r.read(0x35)], [0x00, 0x01])
        XCTAssertEqual(r.read(0x14), 0x06)
        var sum = 0
        for i in UInt8(0x10)...UInt8(0x2D) { sum += Int(r.read(i)) }
        XCTAssertEqual(Int(r.read(0x2E)) << 8 | Int(r.read(0x2F)), sum)
        r.rtc.setMemorySize(bytes: 128 << 20)
        XCTAssertEqual([r.read(0x17), r.read(0x18)], [0xFF, 0xFF])
        XCTAssertEqual([r.read(0x34), r.read(0x35)], [0x00, 0x07])
        r.rtc.setMemorySize(bytes: 5 << 30)
        XCTAssertEqual([r.read(0x34), r.read(0x35)], [0x00, 0xBF], "3 GB below 4 GB")
        XCTAssertEqual([r.read(0x5B), r.read(0x5C), r.read(0x5D)], [0x00, 0x80, 0x00], "2 GB above")
        // Plain CMOS RAM round-trips.
        for i in UInt8(0x40)...UInt8(0x7F) { r.write(i, i ^ 0xA5) }
        for i in UInt8(0x40)...UInt8(0x7F) { XCTAssertEqual(r.read(i), i ^ 0xA5) }
    }

    func testFirmwareStateAndTrace() {
        let r = RTCRig(firmware: false)
        r.write(0x0B, 0x47)
        r.advance(3 * ms)
        var names: [String] = []
        r.trace.enabled = .rtc
        r.trace.handler = { names.append($0.name) }
        r.rtc.applyFirmwareState()
        XCTAssertEqual(r.read(0x0A), 0x26)
        XCTAssertEqual(r.read(0x0B), 0x02)
        XCTAssertFalse(r.irq)
        XCTAssertEqual(names, ["reg-write", "reg-write", "irq", "c-read"])
        XCTAssertTrue(r.rtc.describe().contains("2026-01-01 00:00:00"))
    }

    func testGarbageNeverTraps() {
        let r = RTCRig()
        var x: UInt32 = 0xDEAD_BEEF
        for _ in 0..<20_000 {
            x = x &* 1_664_525 &+ 1_013_904_223
            r.rtc.ioWrite(x & 1 == 0 ? 0x70 : 0x71, size: 1, value: x >> 8)
            _ = r.rtc.ioRead(0x71, size: 1)
            r.advance(UInt64(x >> 16) * 100)
        }
        _ = r.rtc.describe()
    }
}
