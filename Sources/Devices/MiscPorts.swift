// Small ports every PC guest touches: the Bochs/QEMU debug console (0xE9),
// QEMU's isa-debug-exit (0xF4), the POST code port (0x80) and System Control
// Port A (0x92: fast A20 and fast reset).

/// Debug console at 0xE9: bytes written go to `onOutput`; reads return 0xE9
/// so a guest can detect the port (Bochs port_e9_hack, QEMU isa-debugcon).
public final class DebugCon: PortDevice {
    public var onOutput: ((UInt8) -> Void)?
    public init() {}

    public func ioRead(_ port: UInt16, size: Int) -> UInt32 {
        let high: UInt32 = size >= 4 ? 0xFFFF_FF00 : size == 2 ? 0xFF00 : 0
        return high | 0xE9
    }

    public func ioWrite(_ port: UInt16, size: Int, value: UInt32) {
        onOutput?(UInt8(truncatingIfNeeded: value))
    }
}

/// QEMU isa-debug-exit at 0xF4 (iosize 4). A write of V calls `onExit(V)`
/// with the raw value (masked to the access size); the board turns it into
/// the process exit status `(V << 1) | 1`, as QEMU does, so e.g. V = 0x10
/// gives 33 (blog_os's success code). Reads return 0.
public final class DebugExit: PortDevice {
    public var onExit: ((UInt32) -> Void)?
    public init() {}

    /// The exit status QEMU derives from a written value.
    public static func exitStatus(for value: UInt32) -> Int32 {
        Int32(truncatingIfNeeded: (value &<< 1) | 1)
    }

    public func ioRead(_ port: UInt16, size: Int) -> UInt32 { 0 }

    public func ioWrite(_ port: UInt16, size: Int, value: UInt32) {
        let mask: UInt32 = size >= 4 ? 0xFFFF_FFFF : size == 2 ? 0xFFFF : 0xFF
        onExit?(value & mask)
    }
}

/// POST code port 0x80. Guests write it as an I/O delay (pic8259 does after
/// every ICW); the last value is kept and read back.
public final class PostPort: PortDevice {
    public private(set) var lastValue: UInt8 = 0
    /// Optional observer (e.g. to show POST codes).
    public var onWrite: ((UInt8) -> Void)?
    public init() {}

    public func ioRead(_ port: UInt16, size: Int) -> UInt32 {
        let high: UInt32 = size >= 4 ? 0xFFFF_FF00 : size == 2 ? 0xFF00 : 0
        return high | UInt32(lastValue)
    }

    public func ioWrite(_ port: UInt16, size: Int, value: UInt32) {
        lastValue = UInt8(truncatingIfNeeded: value)
        onWrite?(lastValue)
    }
}

/// System Control Port A (0x92, PS/2 and chipsets): b1 = A20 gate,
/// b0 = fast reset (a 0 -> 1 transition resets the CPU). Other bits are
/// stored and read back (b3 password lock, b6-b7 disk activity LEDs).
/// Bootloaders (rust-osdev bootloader 0.9) do `in 0x92; or 2; and 0xFE; out 0x92`.
public final class SystemControlA: PortDevice {
    /// Current register value. b0 is cleared again once the reset it
    /// requested has been signalled (the reset clears it on real chipsets).
    public private(set) var value: UInt8 = 0
    public var onA20: ((Bool) -> Void)?
    public var onReset: (() -> Void)?
    public init() {}

    public var a20: Bool { value & 0x02 != 0 }

    /// Power-on value: A20 off, reset bit clear.
    public func reset() { value = 0 }

    public func ioRead(_ port: UInt16, size: Int) -> UInt32 {
        let high: UInt32 = size >= 4 ? 0xFFFF_FF00 : size == 2 ? 0xFF00 : 0
        return high | UInt32(value)
    }

    public func ioWrite(_ port: UInt16, size: Int, value v32: UInt32) {
        let v = UInt8(truncatingIfNeeded: v32)
        let old = value
        value = v
        if (old ^ v) & 0x02 != 0 { onA20?(v & 0x02 != 0) }
        if old & 0x01 == 0 && v & 0x01 != 0 {
            value &= ~0x01
            onReset?()
        }
    }
}
