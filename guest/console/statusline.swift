/// Row 0 of the screen: uptime (from timer ticks), tick count and rate,
/// lock-key state. Redrawn from the timer interrupt whenever the shown
/// tenth of a second changes; never mirrored to the serial port.
enum StatusLine {
    static var enabled = true
    static var lastTenths: UInt64 = .max
    static var lastLocks: UInt8 = 0xFF

    static func refresh(force: Bool = false) {
        guard enabled else { return }
        let tenths = Timer.clocks * 10 / PIT.inputHz
        let locks = Keyboard.decoder.ledMask
        guard force || tenths != lastTenths || locks != lastLocks else { return }
        lastTenths = tenths
        lastLocks = locks
        let seconds = tenths / 10
        let mhz = PIT.milliHz
        var m: Message = " swiftemu guest | up \(seconds / 3600):\(seconds / 60 % 60, width: 2):\(seconds % 60, width: 2).\(tenths % 10) | \(Timer.ticks) ticks @ \(mhz / 1000).\(mhz % 1000, width: 3) Hz"
        m.append(" | ")
        m.append(Keyboard.decoder.capsLock ? "CAPS " : "caps ")
        m.append(Keyboard.decoder.numLock ? "NUM " : "num ")
        m.append(Keyboard.decoder.scrollLock ? "SCRL" : "scrl")
        Console.drawStatus(m)
    }
}
