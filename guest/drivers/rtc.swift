/// Motorola MC146818-compatible real-time clock in the CMOS chip.
///
/// Port 0x70 selects a register (bit 7 = NMI disable; kept set, as the
/// firmware leaves it), port 0x71 reads/writes it. Time registers: 0x00
/// seconds, 0x02 minutes, 0x04 hours, 0x07 day of month, 0x08 month, 0x09
/// year, 0x32 century (PC convention). Status A: bit 7 UIP (an update of the
/// time registers is in progress, reading now may give torn values), bits
/// 3-0 periodic rate. Status B: bit 6 PIE (periodic interrupt on IRQ8), bit 2
/// DM (1 = binary, 0 = BCD), bit 1 24/12 (1 = 24-hour). In 12-hour mode bit 7
/// of the hour is PM. Status C: interrupt flags, reading it clears them and
/// lowers IRQ8 (until then no further IRQ8 edge can happen).
enum RTC {
    static let index: UInt16 = 0x70
    static let dataPort: UInt16 = 0x71

    static var periodicInterrupts: UInt64 = 0
    static var sampleISR = false
    static var sampledISR: (master: UInt8, slave: UInt8) = (0, 0)

    static func read(_ register: UInt8) -> UInt8 {
        CPU.withInterruptsDisabled {
            outb(index, 0x80 | register)
            return inb(dataPort)
        }
    }

    static func write(_ register: UInt8, _ value: UInt8) {
        CPU.withInterruptsDisabled {
            outb(index, 0x80 | register)
            outb(dataPort, value)
        }
    }

    struct DateTime: Equatable {
        var year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0
    }

    static var updateInProgress: Bool { read(0x0A) & 0x80 != 0 }

    private static func readRaw() -> (DateTime, UInt8) {
        var t = DateTime()
        t.second = Int(read(0x00))
        t.minute = Int(read(0x02))
        t.hour = Int(read(0x04))
        t.day = Int(read(0x07))
        t.month = Int(read(0x08))
        t.year = Int(read(0x09))
        let century = read(0x32)
        return (t, century)
    }

    static func fromBCD(_ v: Int) -> Int { (v >> 4) * 10 + (v & 0x0F) }

    /// Current date and time: waits for UIP to clear, then reads until two
    /// consecutive reads agree (an update may still start in between).
    static func now() -> DateTime {
        var previous: (DateTime, UInt8)? = nil
        var attempt = 0
        var current = readRaw()
        while attempt < 8 {
            var spins = 0
            while updateInProgress && spins < 1_000_000 { spins += 1 }
            current = readRaw()
            if let p = previous, p.0 == current.0, p.1 == current.1 { break }
            previous = current
            attempt += 1
        }
        let statusB = read(0x0B)
        var (t, centuryRaw) = current
        var century = Int(centuryRaw)
        let pm = t.hour & 0x80 != 0
        t.hour &= 0x7F
        if statusB & 0x04 == 0 {            // BCD mode
            t.second = fromBCD(t.second)
            t.minute = fromBCD(t.minute)
            t.hour = fromBCD(t.hour)
            t.day = fromBCD(t.day)
            t.month = fromBCD(t.month)
            t.year = fromBCD(t.year)
            century = fromBCD(century)
        }
        if statusB & 0x02 == 0 {            // 12-hour mode: 12 AM = 0, 12 PM = 12
            t.hour = t.hour % 12 + (pm ? 12 : 0)
        }
        if century < 19 || century > 30 { century = 20 }
        t.year += century * 100
        return t
    }

    /// Periodic interrupt on IRQ8 at 32768 >> (rate - 1) Hz (rate 3..15).
    static func enablePeriodic(rate: UInt8) {
        CPU.withInterruptsDisabled {
            write(0x0A, (read(0x0A) & 0xF0) | (rate & 0x0F))
            write(0x0B, read(0x0B) | 0x40)
            _ = read(0x0C)                  // clear a stale flag so IRQ8 can rise
        }
    }

    static func disablePeriodic() {
        CPU.withInterruptsDisabled {
            write(0x0B, read(0x0B) & ~0x40)
            _ = read(0x0C)
        }
    }

    /// IRQ8 (vector 40): acknowledge at the RTC by reading status C, then
    /// EOI to slave and master.
    static func interrupt() {
        let flags = read(0x0C)
        if flags & 0x40 != 0 { periodicInterrupts &+= 1 }
        if sampleISR {
            sampledISR = PIC.isr
            sampleISR = false
        }
        PIC.endOfInterrupt(irq: 8)
    }
}
