// NS16550A UART (COM1 at 0x3F8, 8 ports; the port is decoded as `port & 7`).
// Transmission is instantaneous in virtual time; reception goes through a
// 16-byte FIFO (or the 1-byte holding register when FIFOs are off). The INTR
// output reaches the PIC only while MCR OUT2 is set, as wired on PC boards.

public final class UART16550: PortDevice {
    private let trace: TraceSink

    /// IRQ line (IRQ4 for COM1): INTR gated by MCR OUT2 (inactive in loopback).
    public var irq: LineOutput = { _ in }
    /// Every byte the guest transmits (not called in loopback mode).
    public var onTransmit: ((UInt8) -> Void)?

    /// Modem-status inputs seen outside loopback: CTS, DSR, RI, DCD. Default:
    /// a connected, ready peer (CTS, DSR, DCD asserted), like QEMU.
    public var modemInputs: (cts: Bool, dsr: Bool, ri: Bool, dcd: Bool) = (true, true, false, true) {
        didSet { modemInputsChanged(from: oldValue) }
    }

    // Registers
    public private(set) var ier: UInt8 = 0
    public private(set) var lcr: UInt8 = 0
    public private(set) var mcr: UInt8 = 0
    public private(set) var scr: UInt8 = 0
    public private(set) var divisorLatch: UInt16 = 12      // 9600 baud
    public private(set) var fifoEnabled = false
    /// Received bytes not yet read by the guest.
    public private(set) var rxFIFO: [UInt8] = []

    private var rxTrigger = 1
    private var lastRBR: UInt8 = 0
    private var overrun = false
    private var thriPending = false
    private var msrDelta: UInt8 = 0
    private var irqLevel = false
    private var dmaMode = false

    public init(trace: TraceSink) {
        self.trace = trace
    }

    // MARK: - Host side

    /// Room left in the receive FIFO (1 byte when FIFOs are off); a frontend
    /// feeding text should wait while this is 0 to avoid overruns.
    public var receiveSpace: Int { max(0, (fifoEnabled ? 16 : 1) - rxFIFO.count) }

    /// A byte arrives on the serial line. Lost (overrun) if the FIFO is full;
    /// ignored in loopback mode (the serial input is disconnected).
    public func receive(_ byte: UInt8) {
        guard mcr & 0x10 == 0 else { return }
        if trace.wants(.uart) { trace.emit(TraceEvent(.uart, "rx", [("byte", hex8(byte))])) }
        enqueue(byte)
    }

    private func enqueue(_ byte: UInt8) {
        if fifoEnabled {
            if rxFIFO.count >= 16 { overrun = true } else { rxFIFO.append(byte) }
        } else {
            if !rxFIFO.isEmpty { overrun = true; rxFIFO.removeAll() }
            rxFIFO.append(byte)                  // overwrites the holding register
        }
        updateIRQ()
    }

    public var baudRate: Int { divisorLatch == 0 ? 0 : 115_200 / Int(divisorLatch) }

    /// Power-on/master-reset register state.
    public func reset() {
        ier = 0; lcr = 0; mcr = 0; scr = 0
        fifoEnabled = false; dmaMode = false; rxTrigger = 1
        rxFIFO.removeAll(); overrun = false; thriPending = false; msrDelta = 0
        updateIRQ()
    }

    // MARK: - Ports

    public func ioRead(_ port: UInt16, size: Int) -> UInt32 {
        let high: UInt32 = size >= 4 ? 0xFFFF_FF00 : size == 2 ? 0xFF00 : 0
        return high | UInt32(read(Int(port & 7)))
    }

    public func ioWrite(_ port: UInt16, size: Int, value: UInt32) {
        write(Int(port & 7), UInt8(truncatingIfNeeded: value))
    }

    private var dlab: Bool { lcr & 0x80 != 0 }
    private var loopback: Bool { mcr & 0x10 != 0 }

    private func read(_ r: Int) -> UInt8 {
        switch r {
        case 0:
            if dlab { return UInt8(divisorLatch & 0xFF) }
            if !rxFIFO.isEmpty { lastRBR = rxFIFO.removeFirst() }
            updateIRQ()
            return lastRBR
        case 1:
            return dlab ? UInt8(divisorLatch >> 8) : ier
        case 2:
            let id = interruptID()
            if id == 0x02 { thriPending = false; updateIRQ() }   // IIR read clears THRI
            return id | (fifoEnabled ? 0xC0 : 0)
        case 3:
            return lcr
        case 4:
            return mcr
        case 5:
            var v: UInt8 = 0x60                  // THRE, TEMT: transmit is instantaneous
            if !rxFIFO.isEmpty { v |= 0x01 }
            if overrun { v |= 0x02 }
            overrun = false
            updateIRQ()
            return v
        case 6:
            let m = modemLines
            var v = msrDelta
            if m.cts { v |= 0x10 }
            if m.dsr { v |= 0x20 }
            if m.ri { v |= 0x40 }
            if m.dcd { v |= 0x80 }
            msrDelta = 0
            updateIRQ()
            return v
        default:
            return scr
        }
    }

    private func write(_ r: Int, _ v: UInt8) {
        switch r {
        case 0:
            if dlab { divisorLatch = (divisorLatch & 0xFF00) | UInt16(v); return }
            if trace.wants(.uart) { trace.emit(TraceEvent(.uart, "tx", [("byte", hex8(v))])) }
            if loopback { enqueue(v) } else { onTransmit?(v) }
            thriPending = true                   // THR empty again at once
            updateIRQ()
        case 1:
            if dlab { divisorLatch = (divisorLatch & 0x00FF) | UInt16(v) << 8; return }
            let old = ier
            ier = v & 0x0F
            // Enabling ETBEI while THR is empty raises the THRE interrupt.
            if ier & 0x02 != 0 && old & 0x02 == 0 { thriPending = true }
            updateIRQ()
        case 2:
            let enable = v & 0x01 != 0
            if enable != fifoEnabled { rxFIFO.removeAll() }
            fifoEnabled = enable
            if enable {                          // other bits only with b0 set
                if v & 0x02 != 0 { rxFIFO.removeAll() }
                dmaMode = v & 0x08 != 0
                rxTrigger = [1, 4, 8, 14][Int(v >> 6)]
            }
            updateIRQ()
        case 3:
            lcr = v
        case 4:
            let before = modemLines
            mcr = v & 0x1F
            noteModemChange(before: before)
            updateIRQ()
        case 5, 6:
            break                                // LSR/MSR are read-only (factory test)
        default:
            scr = v
        }
    }

    // MARK: - Modem lines

    private var modemLines: (cts: Bool, dsr: Bool, ri: Bool, dcd: Bool) {
        if loopback {
            return (mcr & 0x02 != 0, mcr & 0x01 != 0, mcr & 0x04 != 0, mcr & 0x08 != 0)
        }
        return modemInputs
    }

    private func noteModemChange(before b: (cts: Bool, dsr: Bool, ri: Bool, dcd: Bool)) {
        let a = modemLines
        if a.cts != b.cts { msrDelta |= 0x01 }
        if a.dsr != b.dsr { msrDelta |= 0x02 }
        if b.ri && !a.ri { msrDelta |= 0x04 }    // trailing edge of RI
        if a.dcd != b.dcd { msrDelta |= 0x08 }
    }

    private func modemInputsChanged(from old: (cts: Bool, dsr: Bool, ri: Bool, dcd: Bool)) {
        guard !loopback else { return }
        noteModemChange(before: old)
        updateIRQ()
    }

    // MARK: - Interrupts

    /// IIR bits 3-0 by priority: line status (6), received data (4) or
    /// character timeout (C), THR empty (2), modem status (0); 1 = none.
    /// Without a clock, the FIFO character timeout is reported as soon as data
    /// sits below the trigger level.
    private func interruptID() -> UInt8 {
        if ier & 0x04 != 0 && overrun { return 0x06 }
        if ier & 0x01 != 0 && !rxFIFO.isEmpty {
            if !fifoEnabled || rxFIFO.count >= rxTrigger { return 0x04 }
            return 0x0C
        }
        if ier & 0x02 != 0 && thriPending { return 0x02 }
        if ier & 0x08 != 0 && msrDelta != 0 { return 0x00 }
        return 0x01
    }

    private func updateIRQ() {
        let intr = interruptID() & 0x01 == 0
        let level = intr && mcr & 0x08 != 0 && !loopback
        guard level != irqLevel else { return }
        irqLevel = level
        if trace.wants(.uart) { trace.emit(TraceEvent(.uart, "irq", [("level", .bool(level))])) }
        irq(level)
    }

    public var irqAsserted: Bool { irqLevel }

    public func describe() -> String {
        var s = "UART 16550: \(baudRate) baud, LCR 0x\(DevHexFormat.bytes([lcr])) IER 0x\(DevHexFormat.bytes([ier]))"
        s += " MCR 0x\(DevHexFormat.bytes([mcr])) IIR 0x\(DevHexFormat.bytes([interruptID() | (fifoEnabled ? 0xC0 : 0)]))"
        s += " FIFO \(fifoEnabled ? "on (trigger \(rxTrigger))" : "off"), IRQ \(irqLevel ? 1 : 0)"
        s += "\n  rx [\(DevHexFormat.bytes(rxFIFO))]"
        return s
    }
}
