// A PS/2 mouse on the 8042's auxiliary port: stream/remote/wrap modes, the
// standard command set, IntelliMouse detection (IDs 3 and 4 by the sample-rate
// knock), movement packets paced by the sample rate in virtual time.
// References: devices.md §1.5 (MOU-xx), IBM PS/2 mouse TR.

public final class PS2Mouse {
    private let clock: VirtualClock
    private let trace: TraceSink

    /// Self-test time after FF before AA 00 (MOU-02). Default 300 ms, as for
    /// the keyboard; QEMU/Bochs answer immediately.
    public var batDelayNs: UInt64 = 300_000_000

    public enum Mode: String { case stream, remote, wrap }

    // MARK: Observable state
    public private(set) var mode: Mode = .stream
    /// Data reporting (F4/F5); off after reset (MOU-04).
    public private(set) var reporting = false
    public private(set) var sampleRate: UInt8 = 100
    /// 0..3 = 1, 2, 4, 8 counts/mm.
    public private(set) var resolution: UInt8 = 2
    public private(set) var scaling21 = false
    /// Device ID: 0 standard, 3 IntelliMouse (wheel), 4 IntelliMouse Explorer.
    public private(set) var deviceID: UInt8 = 0
    /// Buttons as last reported by the host: b0 left, b1 right, b2 middle,
    /// b3 button 4, b4 button 5.
    public private(set) var buttons: UInt8 = 0
    public private(set) var inSelfTest = false
    /// Bytes waiting for the controller (replies, then packet bytes).
    public private(set) var output: [UInt8] = []

    var onOutput: (() -> Void)?

    // MARK: Internal
    private var modeBeforeWrap: Mode = .stream
    private var pendingCommand: UInt8?     // F3 or E8 waiting for its parameter
    private var lastInvalid = false
    private var rateHistory: [UInt8] = []
    private var dx = 0, dy = 0, dz = 0
    private var dirty = false              // something to report
    private var packetBytesQueued = 0      // trailing bytes of `output` that are a packet
    private var lastPacket: [UInt8] = []
    private var lastByteWasPacket = false
    private var lastSent: UInt8 = 0xAA
    private var lastPacketTime: UInt64?
    private var sampleTimer: VirtualClock.TimerID = 0
    private var batTimer: VirtualClock.TimerID = 0

    public init(clock: VirtualClock, trace: TraceSink) {
        self.clock = clock
        self.trace = trace
        sampleTimer = clock.makeTimer("mouse-sample") { [weak self] _ in self?.trySend() }
        batTimer = clock.makeTimer("mouse-bat") { [weak self] _ in self?.selfTestDone() }
    }

    // MARK: - Host API

    /// Relative motion and button state from the host. `dy` positive = away
    /// from the user ("up", the PS/2 convention; negate a screen-space delta).
    /// `buttons`: b0 left, b1 right, b2 middle, b3/b4 extra buttons.
    /// `wheel`: positive = towards the user (IntelliMouse convention).
    public func move(dx: Int, dy: Int, buttons: UInt8, wheel: Int = 0) {
        let changed = dx != 0 || dy != 0 || wheel != 0 || buttons != self.buttons
        self.buttons = buttons
        guard changed, !inSelfTest else { return }
        switch mode {
        case .remote:
            accumulate(dx, dy, wheel)
        case .stream:
            guard reporting else { return }
            accumulate(dx, dy, wheel)
            dirty = true
            trySend()
        case .wrap:
            return
        }
    }

    private func accumulate(_ x: Int, _ y: Int, _ z: Int) {
        // Counters saturate well beyond the 9-bit packet range.
        dx = max(-4096, min(4096, dx &+ x))
        dy = max(-4096, min(4096, dy &+ y))
        dz = max(-64, min(64, dz &+ z))
    }

    private func resetCounters() {
        dx = 0; dy = 0; dz = 0; dirty = false
    }

    // MARK: - Stream packets (MOU-07)

    private var samplePeriodNs: UInt64 { 1_000_000_000 / UInt64(max(sampleRate, 1)) }

    private func trySend() {
        guard dirty, mode == .stream, reporting, !inSelfTest else { return }
        // The mouse cannot transmit while its previous packet is still waiting
        // (the controller inhibits the clock); it keeps accumulating.
        guard packetBytesQueued == 0 else { return }
        if let t = lastPacketTime, clock.now < t &+ samplePeriodNs {
            clock.schedule(sampleTimer, at: t &+ samplePeriodNs)
            return
        }
        let p = buildPacket(scaled: true)
        resetCounters()
        lastPacketTime = clock.now
        lastPacket = p
        output.append(contentsOf: p)
        packetBytesQueued = p.count
        if trace.wants(.kbd) { trace.emit(TraceEvent(.kbd, "mouse-packet", [("bytes", .str(DevHexFormat.bytes(p)))])) }
        onOutput?()
    }

    private func scale(_ v: Int) -> Int {
        guard scaling21 else { return v }
        let a = abs(v)
        let s: Int
        switch a {
        case 0: s = 0
        case 1: s = 1
        case 2: s = 1
        case 3: s = 3
        case 4: s = 6
        case 5: s = 9
        default: s = a * 2
        }
        return v < 0 ? -s : s
    }

    private func buildPacket(scaled: Bool) -> [UInt8] {
        var x = scaled ? scale(dx) : dx
        var y = scaled ? scale(dy) : dy
        var b0: UInt8 = 0x08 | (buttons & 0x07)
        if x > 255 { x = 255; b0 |= 0x40 } else if x < -256 { x = -256; b0 |= 0x40 }
        if y > 255 { y = 255; b0 |= 0x80 } else if y < -256 { y = -256; b0 |= 0x80 }
        if x < 0 { b0 |= 0x10 }
        if y < 0 { b0 |= 0x20 }
        var p: [UInt8] = [b0, UInt8(truncatingIfNeeded: x), UInt8(truncatingIfNeeded: y)]
        let z = max(-8, min(7, dz))
        if deviceID == 3 {
            p.append(UInt8(truncatingIfNeeded: z))
        } else if deviceID == 4 {
            p.append(UInt8(truncatingIfNeeded: z) & 0x0F | (buttons & 0x18) << 1)
        }
        return p
    }

    // MARK: - Controller side

    var hasOutput: Bool { !output.isEmpty }

    func takeOutput() -> UInt8? {
        guard !output.isEmpty else { return nil }
        // Layout: replies first, then the trailing `packetBytesQueued` bytes.
        let isPacket = packetBytesQueued > 0 && output.count == packetBytesQueued
        let b = output.removeFirst()
        if isPacket { packetBytesQueued -= 1 }
        lastByteWasPacket = isPacket
        lastSent = b
        // Movement accumulated meanwhile goes out at the next sample slot (via
        // the timer, never re-entering the controller while it pulls a byte).
        if output.isEmpty && dirty && mode == .stream && reporting {
            var at = clock.now
            if let t = lastPacketTime, t &+ samplePeriodNs > at { at = t &+ samplePeriodNs }
            clock.schedule(sampleTimer, at: at)
        }
        return b
    }

    /// A byte from the host (0xD4 through the controller).
    func receive(_ byte: UInt8) {
        if trace.wants(.kbd) { trace.emit(TraceEvent(.kbd, "mouse-cmd", [("byte", hex8(byte))])) }
        if inSelfTest { return }
        if mode == .wrap && byte != 0xEC && byte != 0xFF {
            reply(byte)                       // wrap mode echoes everything else
            return
        }
        // A command aborts a packet whose transmission has not started.
        if packetBytesQueued > 0 && packetBytesQueued == lastPacket.count {
            output.removeLast(packetBytesQueued)
            packetBytesQueued = 0
        }
        if let cmd = pendingCommand {
            pendingCommand = nil
            if cmd == 0xF3 {
                if [10, 20, 40, 60, 80, 100, 200].contains(byte) {
                    sampleRate = byte
                    knock(byte)
                    ack()
                } else {
                    invalid()
                }
            } else {   // E8
                if byte <= 3 { resolution = byte; ack() } else { invalid() }
            }
            return
        }
        switch byte {
        case 0xE6: scaling21 = false; ack()
        case 0xE7: scaling21 = true; ack()
        case 0xE8, 0xF3: pendingCommand = byte; ack()
        case 0xE9:                                        // MOU-05
            ack()
            var st: UInt8 = 0
            if mode == .remote { st |= 0x40 }
            if reporting { st |= 0x20 }
            if scaling21 { st |= 0x10 }
            if buttons & 1 != 0 { st |= 0x04 }           // left
            if buttons & 4 != 0 { st |= 0x02 }           // middle
            if buttons & 2 != 0 { st |= 0x01 }           // right
            reply(st); reply(resolution); reply(sampleRate)
        case 0xEA: mode = .stream; resetCounters(); ack()
        case 0xEB:                                        // read data
            ack()
            let p = buildPacket(scaled: false)
            resetCounters()
            for b in p { reply(b) }
        case 0xEC:
            if mode == .wrap { mode = modeBeforeWrap }
            resetCounters(); ack()
        case 0xEE:
            if mode != .wrap { modeBeforeWrap = mode }
            mode = .wrap; resetCounters(); ack()
        case 0xF0: mode = .remote; resetCounters(); ack()
        case 0xF2: ack(); reply(deviceID); resetCounters()
        case 0xF4: reporting = true; resetCounters(); ack()
        case 0xF5: reporting = false; resetCounters(); ack()
        case 0xF6: setDefaults(); ack()
        case 0xFE:
            if lastByteWasPacket && !lastPacket.isEmpty {
                for b in lastPacket { reply(b) }
            } else {
                reply(lastSent)
            }
        case 0xFF:
            ack()
            setDefaults()
            deviceID = 0
            rateHistory.removeAll()
            inSelfTest = true
            clock.schedule(batTimer, at: clock.now &+ batDelayNs)
        default:
            invalid()
        }
    }

    private func ack() { lastInvalid = false; reply(0xFA) }

    /// FE for an invalid command or parameter, FC for the second in a row.
    private func invalid() {
        reply(lastInvalid ? 0xFC : 0xFE)
        lastInvalid = true
    }

    /// Sample-rate knock (MOU-03): 200,100,80 -> ID 3; then 200,200,80 -> ID 4.
    private func knock(_ rate: UInt8) {
        rateHistory.append(rate)
        if rateHistory.count > 3 { rateHistory.removeFirst() }
        if rateHistory == [200, 100, 80] && deviceID == 0 { deviceID = 3 }
        else if rateHistory == [200, 200, 80] && deviceID == 3 { deviceID = 4 }
    }

    private func setDefaults() {
        sampleRate = 100
        resolution = 2
        scaling21 = false
        reporting = false
        mode = .stream
        pendingCommand = nil
        resetCounters()
        clock.cancel(sampleTimer)
    }

    private func selfTestDone() {
        inSelfTest = false
        reply(0xAA)
        reply(0x00)
    }

    private func reply(_ b: UInt8) {
        // Replies go ahead of any packet still queued.
        output.insert(b, at: output.count - packetBytesQueued)
        if trace.wants(.kbd) { trace.emit(TraceEvent(.kbd, "mouse-reply", [("byte", hex8(b))])) }
        onOutput?()
    }

    /// Power-on state (what SeaBIOS leaves: the mouse is never touched).
    public func applyFirmwareState() {
        clock.cancel(batTimer)
        inSelfTest = false
        setDefaults()
        deviceID = 0
        rateHistory.removeAll()
        output.removeAll()
        packetBytesQueued = 0
        buttons = 0
        lastPacketTime = nil
    }

    public func describe() -> String {
        var s = "PS/2 mouse: ID \(deviceID), \(mode.rawValue) mode, reporting \(reporting ? "on" : "off")"
        s += ", \(sampleRate)/s, resolution \(resolution), scaling \(scaling21 ? "2:1" : "1:1")"
        if inSelfTest { s += " (self-test running)" }
        s += "\n  buttons \(buttons), pending dx=\(dx) dy=\(dy) dz=\(dz), output [\(DevHexFormat.bytes(output))]"
        return s
    }
}
