// Intel 8042 keyboard controller (PS/2 variant) at ports 0x60 (data) and 0x64
// (status/command). One output buffer byte at a time; IRQ1/IRQ12 follow OBF
// (held high until the guest reads 0x60, so the PIC sees one rising edge per
// byte); controller replies ahead of device bytes; set-2 -> set-1 translation
// with F0 folding; A20 and reset through the output port.
// References: devices.md §1.3 (KBC-xx), §1.4 (KBD-19), §3.1, §6.3.

/// The 8042's fixed scan code translation (set 2 -> set 1), applied to every
/// byte from the keyboard while command byte b6 (XLAT) is set (KBD-19).
enum Translation8042 {
    /// Entries for set-2 codes 0x00-0x7F; codes 0x80-0xFF map to themselves
    /// except 0x83 (F7) -> 0x41 and 0x84 (Alt+SysRq) -> 0x54.
    static let low: [UInt8] = [
        // 0x00
        0xFF, 0x43, 0x41, 0x3F, 0x3D, 0x3B, 0x3C, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3E, 0x0F, 0x29, 0x59,
        // 0x10
        0x65, 0x38, 0x2A, 0x70, 0x1D, 0x10, 0x02, 0x5A, 0x66, 0x71, 0x2C, 0x1F, 0x1E, 0x11, 0x03, 0x5B,
        // 0x20
        0x67, 0x2E, 0x2D, 0x20, 0x12, 0x05, 0x04, 0x5C, 0x68, 0x39, 0x2F, 0x21, 0x14, 0x13, 0x06, 0x5D,
        // 0x30
        0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5E, 0x6A, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5F,
        // 0x40
        0x6B, 0x33, 0x25, 0x17, 0x18, 0x0B, 0x0A, 0x60, 0x6C, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0C, 0x61,
        // 0x50
        0x6D, 0x73, 0x28, 0x74, 0x1A, 0x0D, 0x62, 0x6E, 0x3A, 0x36, 0x1C, 0x1B, 0x75, 0x2B, 0x63, 0x76,
        // 0x60
        0x55, 0x56, 0x77, 0x78, 0x79, 0x7A, 0x0E, 0x7B, 0x7C, 0x4F, 0x7D, 0x4B, 0x47, 0x7E, 0x7F, 0x6F,
        // 0x70
        0x52, 0x53, 0x50, 0x4C, 0x4D, 0x48, 0x01, 0x45, 0x57, 0x4E, 0x51, 0x4A, 0x37, 0x49, 0x46, 0x54,
    ]

    @inline(__always)
    static func byte(_ b: UInt8) -> UInt8 {
        if b < 0x80 { return low[Int(b)] }
        if b == 0x83 { return 0x41 }
        if b == 0x84 { return 0x54 }
        return b
    }

    /// Translates a whole set-2 sequence, folding each F0 into bit 7 of the
    /// next translated byte. (Used by the keyboard to produce set 1.)
    static func translate(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var brk = false
        for b in bytes {
            if b == 0xF0 { brk = true; continue }
            out.append(byte(b) | (brk ? 0x80 : 0))
            brk = false
        }
        return out
    }
}

public final class KBC8042: PortDevice {
    public let keyboard: PS2Keyboard
    public let mouse: PS2Mouse
    private let clock: VirtualClock
    private let trace: TraceSink

    // MARK: Output lines
    /// IRQ1: high while the output buffer holds a keyboard/controller byte
    /// and command byte b0 is set.
    public var irq1: LineOutput = { _ in }
    /// IRQ12: high while the output buffer holds an aux byte and b1 is set.
    public var irq12: LineOutput = { _ in }
    /// CPU reset request (output port b0 driven low: D1 with b0=0, or a pulse
    /// command F0-FE with b0=0).
    public var onReset: (() -> Void)?
    /// A20 gate (output port b1) changed.
    public var onA20: ((Bool) -> Void)?

    // MARK: Configuration
    /// Minimum virtual time between a read of port 0x60 and the next byte from
    /// the keyboard or mouse entering the output buffer: the serial transfer
    /// of one PS/2 frame (11 bits at 10-16.7 kHz). KBC-06: on real hardware the
    /// next byte arrives about 1 ms after the read, so reading 0x60 twice in a
    /// handler returns the same byte. Default 1 ms (QEMU's kbd-throttle value);
    /// 0 = QEMU default behaviour (next byte at once). Controller replies
    /// (0x20, 0xAA, ...) are not delayed.
    public var deviceByteGapNs: UInt64 = 1_000_000
    /// How long status b1 (IBF) reads 1 after a write to 0x60/0x64 (KBC-03).
    /// The write takes effect at once; IBF only tells a polling guest that the
    /// controller is "busy", as a real 8042 is for some microseconds.
    public var inputBusyNs: UInt64 = 10_000
    /// Input port P1 as returned by 0xC0 (KBC-15): b7 keylock (1 = unlocked,
    /// also status b4), b6 0 = colour display, b5 1 = no manufacturing jumper.
    public var inputPort: UInt8 = 0xA0
    /// Command byte some real controllers load on 0xAA (86Box: PS/2 KBC 0x30,
    /// AT KBC 0x10). nil (default) = helppc/Bochs/QEMU: the command byte is
    /// kept, only the SYS flag is set (KBC-09).
    public var selfTestCommandByte: UInt8?

    // MARK: State
    private var ram = [UInt8](repeating: 0, count: 32)
    /// Output port P2 (b0 reset, b1 A20, b2-b3 1, b6-b7 kbd clock/data).
    /// b4/b5 are reported live from the output buffer.
    public private(set) var outputPort: UInt8 = 0xCF
    /// Last byte placed in the output buffer (what 0x60 returns).
    public private(set) var outputBuffer: UInt8 = 0
    public private(set) var outputBufferFull = false
    /// The byte in the output buffer came from the aux side (status b5).
    public private(set) var outputFromAux = false
    private var sysFlag = false
    private var lastWriteWasCommand = false
    private var ibfUntil: UInt64 = 0
    private var pendingCommand: UInt8?
    /// Controller-generated bytes waiting for the output buffer (flag: aux).
    private var controllerQueue: [(byte: UInt8, aux: Bool)] = []
    private var translateBreak = false
    private var deviceReadyAt: UInt64 = 0
    private var irq1Level = false
    private var irq12Level = false
    private var loading = false
    private var loadAgain = false
    private var loadTimer: VirtualClock.TimerID = 0

    public init(clock: VirtualClock, trace: TraceSink) {
        self.clock = clock
        self.trace = trace
        keyboard = PS2Keyboard(clock: clock, trace: trace)
        mouse = PS2Mouse(clock: clock, trace: trace)
        // Power-on command byte (before any firmware): both ports disabled,
        // interrupts off, translation on. The board normally calls
        // applyFirmwareState() on top of this.
        ram[0] = 0x70
        loadTimer = clock.makeTimer("kbc-load") { [weak self] _ in self?.tryLoad() }
        keyboard.onOutput = { [weak self] in self?.tryLoad() }
        mouse.onOutput = { [weak self] in self?.tryLoad() }
        updateIRQs()
    }

    // MARK: - Inspection

    /// Command byte (controller RAM byte 0).
    public var commandByte: UInt8 { ram[0] }
    /// Status register as port 0x64 reads it now.
    public var status: UInt8 {
        var s: UInt8 = 0
        if outputBufferFull { s |= 0x01 }
        if clock.now < ibfUntil { s |= 0x02 }
        if sysFlag { s |= 0x04 }
        if lastWriteWasCommand { s |= 0x08 }
        if inputPort & 0x80 != 0 { s |= 0x10 }
        if outputBufferFull && outputFromAux { s |= 0x20 }
        return s
    }
    /// A20 as driven by the output port.
    public var a20: Bool { outputPort & 0x02 != 0 }
    /// Translation enabled (command byte b6).
    public var translating: Bool { ram[0] & 0x40 != 0 }
    /// Bytes queued by the controller itself (replies, D2/D3 data).
    public var controllerQueueContents: [UInt8] { controllerQueue.map(\.byte) }
    /// Everything queued behind the output buffer, in delivery-priority order
    /// (controller, keyboard replies, keyboard buffer, mouse).
    public var queueContents: [UInt8] {
        controllerQueueContents + keyboard.replies + keyboard.buffer + mouse.output
    }
    public var irq1Asserted: Bool { irq1Level }
    public var irq12Asserted: Bool { irq12Level }

    public func describe() -> String {
        var s = "8042: status 0x\(DevHexFormat.bytes([status])) command byte 0x\(DevHexFormat.bytes([ram[0]]))"
        s += " output port 0x\(DevHexFormat.bytes([outputPortReadValue]))"
        s += "\n  OB 0x\(DevHexFormat.bytes([outputBuffer])) \(outputBufferFull ? (outputFromAux ? "full (aux)" : "full") : "empty")"
        s += ", IRQ1 \(irq1Level ? 1 : 0) IRQ12 \(irq12Level ? 1 : 0)"
        if let p = pendingCommand { s += ", awaiting data for 0x\(DevHexFormat.bytes([p]))" }
        s += "\n  translation \(translating ? "on" : "off"), kbd clock \(ram[0] & 0x10 != 0 ? "off" : "on")"
        s += ", aux clock \(ram[0] & 0x20 != 0 ? "off" : "on")"
        if !controllerQueue.isEmpty { s += "\n  controller queue [\(DevHexFormat.bytes(controllerQueueContents))]" }
        for line in (keyboard.describe() + "\n" + mouse.describe()).split(separator: "\n") {
            s += "\n  " + line
        }
        return s
    }

    // MARK: - Firmware hand-off

    /// The state SeaBIOS leaves (devices.md §3.1): command byte 0x61 (XLAT,
    /// IRQ1 on, aux disabled, SYS 0), keyboard reset into set 2 and scanning,
    /// mouse untouched (power-on defaults), output buffer empty (last byte read
    /// was the FA of F4), last write to 0x60. Status reads 0x10 (KBC-01,
    /// datasheet column; QEMU shows 0x1C).
    public func applyFirmwareState() {
        ram = [UInt8](repeating: 0, count: 32)
        ram[0] = 0x61
        sysFlag = false
        lastWriteWasCommand = false
        ibfUntil = 0
        pendingCommand = nil
        controllerQueue.removeAll()
        translateBreak = false
        outputBuffer = 0xFA
        outputBufferFull = false
        outputFromAux = false
        outputPort = 0xCF
        deviceReadyAt = 0
        clock.cancel(loadTimer)
        keyboard.applyFirmwareState()
        mouse.applyFirmwareState()
        updateIRQs()
    }

    // MARK: - Ports

    public func ioRead(_ port: UInt16, size: Int) -> UInt32 {
        // KBC-28: wider reads return the 8-bit register, upper bytes floating.
        let high: UInt32 = size >= 4 ? 0xFFFF_FF00 : size == 2 ? 0xFF00 : 0
        switch port {
        case 0x60: return high | UInt32(readData())
        case 0x64: return high | UInt32(status)
        default: return high | 0xFF
        }
    }

    public func ioWrite(_ port: UInt16, size: Int, value: UInt32) {
        let v = UInt8(truncatingIfNeeded: value)
        switch port {
        case 0x60: writeData(v)
        case 0x64: writeCommand(v)
        default: break
        }
    }

    /// Port 0x60 read: the output buffer byte; clears OBF (and the IRQ line)
    /// if it was full, else returns the same byte again (KBC-05).
    private func readData() -> UInt8 {
        let v = outputBuffer
        if outputBufferFull {
            outputBufferFull = false
            deviceReadyAt = clock.now &+ deviceByteGapNs
            if trace.wants(.kbd) {
                trace.emit(TraceEvent(.kbd, "ob-read", [("byte", hex8(v)), ("aux", .bool(outputFromAux))]))
            }
            updateIRQs()
            tryLoad()
        }
        return v
    }

    private func writeCommand(_ c: UInt8) {
        lastWriteWasCommand = true
        ibfUntil = clock.now &+ inputBusyNs
        pendingCommand = nil
        if trace.wants(.kbd) { trace.emit(TraceEvent(.kbd, "kbc-cmd", [("cmd", hex8(c))])) }
        switch c {
        case 0x20...0x3F:                       // KBC-07: read controller RAM
            queue(ram[Int(c & 0x1F)])
        case 0x60...0x7F, 0xD1, 0xD2, 0xD3, 0xD4:
            pendingCommand = c                  // the data byte follows on 0x60
        case 0xA7:                              // KBC-14
            setCommandByte(ram[0] | 0x20)
        case 0xA8:
            setCommandByte(ram[0] & ~0x20)
        case 0xA9:                              // KBC-11: aux interface OK
            queue(0x00)
        case 0xAA:                              // KBC-09
            if let cb = selfTestCommandByte { setCommandByte(cb | 0x04) } else { setCommandByte(ram[0] | 0x04) }
            sysFlag = true
            queue(0x55)
        case 0xAB:                              // KBC-10
            queue(0x00)
        case 0xAD:                              // KBC-12
            setCommandByte(ram[0] | 0x10)
        case 0xAE:
            setCommandByte(ram[0] & ~0x10)
        case 0xC0:                              // KBC-15
            queue(inputPort)
        case 0xD0:                              // KBC-16
            queue(outputPortReadValue)
        case 0xDD:                              // KBC-23
            setA20(false)
        case 0xDF:
            setA20(true)
        case 0xF0...0xFF:                       // KBC-21/22: pulse P20-P23 low
            if c & 0x01 == 0 { pulseReset() }
        default:                                // KBC-24: vendor-specific, ignored
            if trace.wants(.kbd) { trace.emit(TraceEvent(.kbd, "kbc-unknown", [("cmd", hex8(c))])) }
        }
    }

    private func writeData(_ v: UInt8) {
        lastWriteWasCommand = false
        ibfUntil = clock.now &+ inputBusyNs
        guard let c = pendingCommand else {
            // KBC-13: data for the keyboard; re-enables the keyboard clock.
            setCommandByte(ram[0] & ~0x10)
            keyboard.receive(v)
            return
        }
        pendingCommand = nil
        if trace.wants(.kbd) {
            trace.emit(TraceEvent(.kbd, "kbc-data", [("cmd", hex8(c)), ("byte", hex8(v))]))
        }
        switch c {
        case 0x60:                              // KBC-08
            setCommandByte(v)
        case 0x61...0x7F:
            ram[Int(c & 0x1F)] = v
        case 0xD1:                              // KBC-17
            writeOutputPort(v)
        case 0xD2:                              // KBC-18
            queue(v, aux: false)
        case 0xD3:                              // KBC-19
            queue(v, aux: true)
        case 0xD4:                              // KBC-20 (also re-enables aux)
            setCommandByte(ram[0] & ~0x20)
            mouse.receive(v)
        default:
            break
        }
    }

    // MARK: - Command byte, output port

    private func setCommandByte(_ v: UInt8) {
        ram[0] = v
        sysFlag = v & 0x04 != 0                 // KBC-08: status b2 = CTR b2
        if v & 0x40 == 0 { translateBreak = false }
        if trace.wants(.kbd) { trace.emit(TraceEvent(.kbd, "ctr", [("value", hex8(v))])) }
        updateIRQs()
        tryLoad()
    }

    private var outputPortReadValue: UInt8 {
        var v = outputPort & ~0x30
        if outputBufferFull { v |= outputFromAux ? 0x20 : 0x10 }
        return v
    }

    private func writeOutputPort(_ v: UInt8) {
        setA20(v & 0x02 != 0)
        outputPort = (outputPort & 0x02) | (v & ~0x32) | 0x01
        if v & 0x01 == 0 {
            // The reset line is driven low. We model it as a pulse: the board
            // resets the CPU and P20 reads back 1 (the controller itself is
            // not reset by a CPU reset).
            pulseReset()
        }
    }

    private func setA20(_ on: Bool) {
        let was = outputPort & 0x02 != 0
        if on { outputPort |= 0x02 } else { outputPort &= ~0x02 }
        if was != on {
            if trace.wants(.kbd) { trace.emit(TraceEvent(.kbd, "a20", [("on", .bool(on))])) }
            onA20?(on)
        }
    }

    private func pulseReset() {
        if trace.wants(.kbd) { trace.emit(TraceEvent(.kbd, "reset", [])) }
        onReset?()
    }

    // MARK: - Output buffer

    private func queue(_ b: UInt8, aux: Bool = false) {
        controllerQueue.append((b, aux))
        tryLoad()
    }

    /// Moves the next byte into the output buffer if it is empty: controller
    /// bytes first (KBC-25), then the keyboard (if its clock is enabled), then
    /// the mouse (KBC-26); device bytes only after the transfer gap (KBC-06).
    private func tryLoad() {
        if loading { loadAgain = true; return }
        loading = true
        defer { loading = false }
        repeat {
            loadAgain = false
            loadOne()
        } while loadAgain && !outputBufferFull
    }

    private func loadOne() {
        guard !outputBufferFull else { return }
        if !controllerQueue.isEmpty {
            let e = controllerQueue.removeFirst()
            load(e.byte, aux: e.aux, source: "ctl")
            return
        }
        let kbdReady = ram[0] & 0x10 == 0 && keyboard.hasOutput
        let auxReady = ram[0] & 0x20 == 0 && mouse.hasOutput
        guard kbdReady || auxReady else { return }
        if clock.now < deviceReadyAt {
            if clock.deadline(loadTimer) != deviceReadyAt { clock.schedule(loadTimer, at: deviceReadyAt) }
            return
        }
        if kbdReady {
            while let raw = keyboard.takeOutput() {
                guard ram[0] & 0x40 != 0 else {
                    load(raw, aux: false, source: "kbd")
                    return
                }
                if raw == 0xF0 {                // KBD-19: F0 is folded into b7
                    translateBreak = true
                    continue
                }
                var t = Translation8042.byte(raw)
                if translateBreak {
                    translateBreak = false
                    // A real 8042 drops the byte when F0 precedes a code whose
                    // translation already has b7 set (86Box; QEMU/Bochs OR it).
                    if t & 0x80 != 0 { continue }
                    t |= 0x80
                }
                load(t, aux: false, source: "kbd")
                return
            }
            return   // only an F0 was available; its code byte follows
        }
        if let b = mouse.takeOutput() {
            load(b, aux: true, source: "aux")
        }
    }

    private func load(_ b: UInt8, aux: Bool, source: String) {
        outputBuffer = b
        outputBufferFull = true
        outputFromAux = aux
        if trace.wants(.kbd) {
            trace.emit(TraceEvent(.kbd, "ob", [("byte", hex8(b)), ("src", .str(source))]))
        }
        updateIRQs()
    }

    private func updateIRQs() {
        // The 8042 holds the keyboard clock low while its output buffer is
        // full or the keyboard is disabled: the keyboard buffers, and does
        // not generate typematic repeats meanwhile (IBM AT TR).
        keyboard.clockInhibited = outputBufferFull || ram[0] & 0x10 != 0
        let k = outputBufferFull && !outputFromAux && ram[0] & 0x01 != 0
        let m = outputBufferFull && outputFromAux && ram[0] & 0x02 != 0
        if k != irq1Level { irq1Level = k; irq1(k) }
        if m != irq12Level { irq12Level = m; irq12(m) }
    }
}
