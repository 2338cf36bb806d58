// Port 0x61, "port B" of the PC/AT system control logic (historically the
// 8255 PPI's port B on the PC/XT).
//
// Bits (devices.md PIT-26..PIT-28; AAEON PCM-4330 manual p.70):
//   0  R/W  timer 2 GATE
//   1  R/W  speaker data enable (ANDed with OUT2 to drive the speaker)
//   2  R/W  parity check disable
//   3  R/W  I/O channel check disable
//   4  RO   refresh detect: toggles with every refresh request (~15 us)
//   5  RO   timer 2 OUT
//   6  RO   I/O channel check (NMI source) - always 0 here
//   7  RO   parity error (NMI source) - always 0 here
// QEMU does not keep bits 2-3 and toggles bit 4 on every read; Bochs also
// drops bits 2-3. Both are datasheet deviations we do not copy.

public final class PortB: PortDevice {
    let clock: VirtualClock
    let pit: PIT8254

    /// The read/write bits 0-3 as last written.
    public private(set) var value: UInt8 = 0

    public init(clock: VirtualClock, pit: PIT8254) {
        self.clock = clock
        self.pit = pit
    }

    /// Bit 0: PIT channel 2 GATE.
    public var gate2: Bool { value & 0x01 != 0 }
    /// Bit 1: speaker data enable.
    public var dataEnable: Bool { value & 0x02 != 0 }
    /// The speaker is driven by the timer (gate open and data enabled).
    public var speakerOn: Bool { gate2 && dataEnable }
    /// The level on the speaker cone now: OUT2 AND bit 1.
    public var speakerLevel: Bool { dataEnable && pit.out(2) }

    /// Bit 4. On the AT the refresh request comes from PIT channel 1, which
    /// the BIOS programs to mode 2 with count 18 (15.085 us); bit 4 toggles
    /// on every request. We derive it from virtual time with that period, so
    /// delay loops that count its transitions see the hardware rate whatever
    /// channel 1 is doing.
    public var refreshToggle: Bool {
        (PIT8254.tick(atNanoseconds: clock.now) / 18) & 1 != 0
    }

    func readByte(_ port: UInt16) -> UInt8 {
        guard port == 0x61 else { return 0xFF }
        var v = value & 0x0F
        if refreshToggle { v |= 0x10 }
        if pit.out(2) { v |= 0x20 }
        return v
    }

    func writeByte(_ port: UInt16, _ v: UInt8) {
        guard port == 0x61 else { return }
        value = v & 0x0F
        pit.setGate(2, v & 0x01 != 0)
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

    /// Firmware hand-off: gate 2 and speaker off, checks enabled (value 0).
    public func applyFirmwareState() {
        value = 0
        pit.setGate(2, false)
    }
}
