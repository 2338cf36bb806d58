/// Intel 8254 programmable interval timer.
///
/// Three 16-bit down counters clocked at 1.193182 MHz (14.31818 MHz / 12):
/// channel 0 drives IRQ0, channel 1 was DRAM refresh, channel 2 feeds the
/// speaker and is gated by port 0x61 bit 0 (its output reads back in 0x61
/// bit 5). Ports: 0x40-0x42 counter data, 0x43 control word:
///   bits 7-6 channel (3 = read-back), 5-4 access (0 = latch count,
///   1 = LSB, 2 = MSB, 3 = LSB then MSB), 3-1 mode, 0 BCD.
/// Read-back (8254 only): 11 /COUNT /STATUS CNT2 CNT1 CNT0 0; the status byte
/// is OUT (bit 7), NULL COUNT (bit 6) and the channel's control bits 5-0.
///
/// The firmware (SeaBIOS and the Bochs BIOS alike) leaves channel 0 in mode 2
/// with a count of 0 = 65536: IRQ0 at 1193182 / 65536 = 18.2065 Hz. The kernel
/// keeps that rate until `hz N` reprograms it.
enum PIT {
    static let inputHz: UInt64 = 1_193_182
    static let channel0: UInt16 = 0x40
    static let channel2: UInt16 = 0x42
    static let control: UInt16 = 0x43
    static let portB: UInt16 = 0x61

    /// Current channel 0 reload value (65536 for a programmed 0).
    static var divisor: UInt32 = 65536
    static var programmedByKernel = false

    /// Programs channel 0 as a rate generator (mode 2: OUT pulses low for
    /// one clock every `divisor` clocks, the rising edge raises IRQ0).
    static func setDivisor(_ newDivisor: UInt32) {
        let d = max(2, min(65536, newDivisor))          // count 1 is illegal in mode 2
        CPU.withInterruptsDisabled {
            outb(control, 0x34)                          // ch0, LSB then MSB, mode 2, binary
            outb(channel0, UInt8(truncatingIfNeeded: d))        // 65536 is written as 0
            outb(channel0, UInt8(truncatingIfNeeded: d >> 8))
            divisor = d
            programmedByKernel = true
        }
    }

    /// Nearest divisor for `hz` (clamped to the 16-bit counter: 19..1193182 Hz).
    static func divisor(forHz hz: UInt64) -> UInt32 {
        guard hz > 0 else { return 65536 }
        let d = (inputHz + hz / 2) / hz
        return UInt32(max(2, min(65536, d)))
    }

    /// Frequency of channel 0 in millihertz.
    static var milliHz: UInt64 { inputHz * 1000 / UInt64(divisor) }

    /// Counter latch command for channel 0, then LSB and MSB of the frozen
    /// count. 0 reads as 65536 (the count after a reload with 0).
    static func readChannel0Count() -> UInt32 {
        CPU.withInterruptsDisabled {
            outb(control, 0x00)                          // ch0, latch
            let lo = UInt32(inb(channel0))
            let hi = UInt32(inb(channel0))
            let count = hi << 8 | lo
            return count == 0 ? 65536 : count
        }
    }

    /// Read-back command 0xE2 (latch status only, channel 0): returns the
    /// status byte, then a counter latch for the current count.
    static func readBackChannel0() -> (status: UInt8, count: UInt32) {
        CPU.withInterruptsDisabled {
            outb(control, 0xE2)                          // 11 1(no count) 0(status) 001 0
            let status = inb(channel0)
            return (status, readChannel0Count())
        }
    }

    /// Measures elapsed PIT input clocks by polling channel 0's count, which
    /// counts down from `divisor` to 1 and reloads. Works as long as it is
    /// polled at least once per timer period; runs from virtual time only.
    ///
    /// Every wait built on it also gives up after `pollLimit` polls, so a
    /// timer that does not count (a broken or missing PIT) turns a wait into
    /// a failure instead of a hang.
    struct Stopwatch {
        static let pollLimit: UInt64 = 20_000_000
        var last: UInt32
        var elapsed: UInt64 = 0
        var polls: UInt64 = 0

        init() { last = PIT.readChannel0Count() }

        /// True once `clocks` have elapsed (or the poll limit was reached).
        mutating func hasElapsed(_ clocks: UInt64) -> Bool {
            poll() >= clocks || polls > Stopwatch.pollLimit
        }

        /// Updates and returns the elapsed clocks since `init`.
        @discardableResult
        mutating func poll() -> UInt64 {
            polls &+= 1
            let now = PIT.readChannel0Count()
            if now <= last {
                elapsed &+= UInt64(last - now)
            } else {                                     // reloaded in between
                elapsed &+= UInt64(last) + UInt64(PIT.divisor) - UInt64(min(now, PIT.divisor))
            }
            last = now
            return elapsed
        }

        var elapsedMicroseconds: UInt64 { elapsed * 1_000_000 / PIT.inputHz }
    }

    /// Busy-waits `microseconds` of PIT time (interrupt state untouched).
    static func busyWait(microseconds: UInt64) {
        var watch = Stopwatch()
        let clocks = microseconds * inputHz / 1_000_000
        while !watch.hasElapsed(clocks) {}
    }

    // MARK: Channel 2 (speaker / one-shot measurements)

    /// Port 0x61: bit 0 gate of channel 2, bit 1 speaker data enable,
    /// bits 2-3 parity/IO-check disable; reads also bit 4 refresh toggle and
    /// bit 5 channel 2 OUT.
    static func setPortB(gate: Bool, speaker: Bool) {
        let value = (inb(portB) & 0x0C) | (gate ? 1 : 0) | (speaker ? 2 : 0)
        outb(portB, value)
    }

    static var channel2Out: Bool { inb(portB) & 0x20 != 0 }

    /// Channel 2 in mode `mode` with `count` (LSB then MSB).
    static func programChannel2(mode: UInt8, count: UInt32) {
        outb(control, 0x80 | 0x30 | (mode & 7) << 1)     // ch2, LSB/MSB, mode, binary
        outb(channel2, UInt8(truncatingIfNeeded: count))
        outb(channel2, UInt8(truncatingIfNeeded: count >> 8))
    }
}
