// Intel 8259A programmable interrupt controller: one chip (`PIC8259`) and the
// PC/AT cascaded pair behind ports 0x20/0x21, 0xA0/0xA1 plus the PIIX edge/level
// control registers 0x4D0/0x4D1 (`PICPair`).
//
// Behaviour follows the Intel 8259A datasheet (231468). The row numbers in
// comments (PIC-xx) refer to the shared reference devices.md section 1.1,
// which also records where QEMU, Bochs, 86Box and v86 differ.

/// One 8259A. The chip is driven through `PICPair`; this class exposes its
/// registers and modes read-only for debuggers and tests.
public final class PIC8259 {
    /// Where the chip is in its initialisation sequence (which data-port byte
    /// it expects next).
    public enum InitState: Equatable, CustomStringConvertible {
        /// Initialised: the data port addresses the IMR (OCW1).
        case ready
        case icw2, icw3, icw4
        public var description: String {
            switch self {
            case .ready: return "ready"
            case .icw2: return "awaiting ICW2"
            case .icw3: return "awaiting ICW3"
            case .icw4: return "awaiting ICW4"
            }
        }
    }

    /// "master" or "slave" (the SP/EN strap on the board).
    public let name: String
    /// True for the chip whose INT drives the CPU (SP/EN high).
    public let isMaster: Bool

    /// Interrupt request register (latched requests, before the IMR).
    public internal(set) var irr: UInt8 = 0
    /// In-service register.
    public internal(set) var isr: UInt8 = 0
    /// Interrupt mask register (OCW1).
    public internal(set) var imr: UInt8 = 0
    /// ICW2 & 0xF8: vector of IR0 in 8086 mode.
    public internal(set) var vectorBase: UInt8 = 0
    public internal(set) var initState: InitState = .ready
    /// ICW4 AEOI.
    public internal(set) var autoEOI = false
    /// Rotate in automatic EOI mode (OCW2 0x80 sets, 0x00 clears).
    public internal(set) var rotateInAEOI = false
    /// Special mask mode (OCW3 0x68 sets, 0x48 clears).
    public internal(set) var specialMask = false
    /// Special fully nested mode (ICW4 bit 4).
    public internal(set) var sfnm = false
    /// ICW1 LTIM: every input level-sensitive.
    public internal(set) var levelTriggered = false
    /// PIIX edge/level control register for this chip (1 = level).
    public internal(set) var elcr: UInt8 = 0
    /// OCW3 read-register select: true = ISR, false = IRR.
    public internal(set) var readISR = false
    /// The IR level that currently has the lowest priority (7 after ICW1).
    public internal(set) var lowestPriority = 7
    /// ICW1 SNGL.
    public internal(set) var singleMode = false
    /// ICW3 as written: on the master, bit n = a slave hangs on IRn; on a
    /// slave, bits 2-0 are its cascade identity.
    public internal(set) var icw3: UInt8 = 0
    /// ICW4 uPM: true = 8086/88 mode, false = MCS-80/85 mode.
    public internal(set) var x86Mode = false
    /// An OCW3 poll command is waiting for the next read.
    public internal(set) var pollPending = false
    /// Current levels of the eight IR input pins.
    public internal(set) var lines: UInt8 = 0
    /// The chip's INT output pin.
    public internal(set) var intLevel = false

    var icw1: UInt8 = 0
    var icw2: UInt8 = 0
    var icw4Needed = false
    /// Bits that may be set in the ELCR (PIIX forces the others to 0, PIC-08).
    let elcrMask: UInt8
    /// QEMU-compatible edge latching (see `PICPair.SpuriousMode`).
    var latchEdges = false
    let trace: TraceSink
    /// Called when INT changes (wired by the pair).
    var intChanged: (Bool) -> Void = { _ in }
    /// When false, trace events are not emitted (firmware hand-off).
    var tracing = true

    init(name: String, isMaster: Bool, elcrMask: UInt8, trace: TraceSink) {
        self.name = name
        self.isMaster = isMaster
        self.elcrMask = elcrMask
        self.trace = trace
    }

    /// Slave identity from ICW3 (meaningful on a slave).
    public var cascadeID: Int { Int(icw3 & 7) }

    /// Inputs that are level-sensitive (LTIM or ELCR).
    var levelMask: UInt8 { levelTriggered ? 0xFF : elcr }

    /// True when IR`level` carries a slave (master in cascade mode).
    func hasSlave(_ level: Int) -> Bool {
        isMaster && !singleMode && icw3 & (1 << UInt8(level)) != 0
    }

    // MARK: Priority resolver

    /// The IR level at priority position `p` (0 = highest).
    @inline(__always) func level(atPriority p: Int) -> Int { (lowestPriority + 1 + p) & 7 }

    /// The request the priority resolver would pass to the CPU now, or nil.
    /// A request must be unmasked and of higher priority than every level in
    /// service (fully nested mode). In special mask mode, levels masked in the
    /// IMR do not block (PIC-31); in special fully nested mode a request on a
    /// slave input is not blocked by that input's own in-service bit (PIC-18).
    public func pendingRequest() -> Int? {
        let req = irr & ~imr
        if req == 0 { return nil }
        var inService = isr
        if specialMask { inService &= ~imr }
        for p in 0..<8 {
            let l = level(atPriority: p)
            let bit: UInt8 = 1 << UInt8(l)
            if req & bit != 0 {
                if inService & bit != 0 && !(sfnm && hasSlave(l)) { return nil }
                return l
            }
            if inService & bit != 0 { return nil }
        }
        return nil
    }

    /// Re-runs the priority resolver and drives INT.
    func update() {
        setINT(pendingRequest() != nil)
    }

    func setINT(_ level: Bool) {
        guard level != intLevel else { return }
        intLevel = level
        intChanged(level)
    }

    // MARK: Input pins

    /// An IR pin changed level. Edge inputs latch a request on the rising
    /// edge; level inputs follow the pin.
    func setLine(_ ir: Int, _ level: Bool) {
        let bit: UInt8 = 1 << UInt8(ir & 7)
        guard (lines & bit != 0) != level else { return }
        if level {
            lines |= bit
            irr |= bit
            update()
        } else {
            lines &= ~bit
            if levelMask & bit != 0 || !latchEdges {
                // Datasheet: the request exists only while the pin is high
                // (edge inputs additionally need the rising edge). A request
                // that disappears does not retract an INT already raised: the
                // acknowledge that follows finds no request and yields the
                // default IR7 (PIC-13). QEMU instead keeps edges latched.
                irr &= ~bit
            }
            if latchEdges { update() }
        }
    }

    // MARK: Acknowledge

    /// Moves `level` from IRR to ISR as the INTA sequence (or a poll) does.
    func acknowledge(_ level: Int) {
        let bit: UInt8 = 1 << UInt8(level & 7)
        // Edge inputs: the latched request is consumed. Level inputs: the IRR
        // follows the pin, which is still high.
        if levelMask & bit == 0 { irr &= ~bit } else { irr = (irr & ~bit) | (lines & bit) }
        if autoEOI {
            // AEOI: the ISR bit is reset at the end of the last INTA pulse, so
            // it is never visible (PIC-26); optionally rotate (PIC-27).
            if rotateInAEOI { lowestPriority = level & 7 }
        } else {
            isr |= bit
        }
    }

    /// The byte this chip drives on the data bus for a serviced `level` on the
    /// INTA pulse the CPU reads. In MCS-80/85 mode (ICW4 absent or uPM=0) that
    /// pulse carries the low byte of the CALL address, not an 8086 vector
    /// (PIC-04): interval 4 (ADI=1) puts the level in bits 4-2 under ICW1 A7-A5,
    /// interval 8 puts it in bits 5-3 under ICW1 A7-A6.
    func vector(for level: Int) -> UInt8 {
        let l = UInt8(level & 7)
        if x86Mode { return (vectorBase & 0xF8) | l }
        if icw1 & 0x04 != 0 { return (icw1 & 0xE0) | (l << 2) }
        return (icw1 & 0xC0) | (l << 3)
    }

    // MARK: Port interface (A0 = 0: command port, A0 = 1: data port)

    func writeCommand(_ v: UInt8) {
        if v & 0x10 != 0 { writeICW1(v); return }
        if v & 0x08 == 0 { writeOCW2(v) } else { writeOCW3(v) }
    }

    func writeData(_ v: UInt8) {
        switch initState {
        case .icw2:
            icw2 = v
            vectorBase = v & 0xF8
            traceICW(2, v)
            initState = singleMode ? (icw4Needed ? .icw4 : .ready) : .icw3
        case .icw3:
            icw3 = v
            traceICW(3, v)
            initState = icw4Needed ? .icw4 : .ready
        case .icw4:
            x86Mode = v & 0x01 != 0
            autoEOI = v & 0x02 != 0
            sfnm = v & 0x10 != 0
            traceICW(4, v)
            initState = .ready
        case .ready:
            let old = imr
            imr = v
            if tracing && trace.wants(.pic) {
                trace.emit(TraceEvent(.pic, "imr", [("chip", .str(name)), ("old", hex8(old)), ("new", hex8(v))]))
            }
        }
        update()
    }

    func readCommand() -> UInt8 {
        if pollPending { return pollRead() }
        return readISR ? isr : irr
    }

    func readData() -> UInt8 {
        // The datasheet treats the next RD pulse after a poll command as the
        // poll acknowledge, whichever address it uses.
        if pollPending { return pollRead() }
        return imr
    }

    func writeELCR(_ v: UInt8) {
        let old = elcr
        elcr = v & elcrMask
        // Level inputs follow their pins from now on.
        let lm = levelMask
        irr = (irr & ~lm) | (lines & lm)
        if tracing && trace.wants(.pic) {
            trace.emit(TraceEvent(.pic, "elcr", [("chip", .str(name)), ("old", hex8(old)), ("new", hex8(elcr))]))
        }
        update()
    }

    private func writeICW1(_ v: UInt8) {
        icw1 = v
        levelTriggered = v & 0x08 != 0
        singleMode = v & 0x02 != 0
        icw4Needed = v & 0x01 != 0
        // Datasheet "Initialization Command Words" items a-f (PIC-02):
        // edge sense reset, IMR cleared, IR7 lowest, slave address 7,
        // special mask mode off, read IRR; IC4=0 zeroes the ICW4 functions.
        imr = 0
        isr = 0
        lowestPriority = 7
        if !isMaster { icw3 = 7 }
        specialMask = false
        readISR = false
        pollPending = false
        autoEOI = false
        rotateInAEOI = false
        sfnm = false
        x86Mode = false
        // Edge-sense reset: a pin already high must go low then high again to
        // request (PIC-03); level-sensitive inputs keep following their pins.
        let lm = levelMask
        irr = lines & lm
        initState = .icw2
        traceICW(1, v)
        update()   // INT drops unless a level input requests (PIC-33)
    }

    private func writeOCW2(_ v: UInt8) {
        let l = Int(v & 7)
        switch v >> 5 {
        case 0b001:  // non-specific EOI
            eoi(nonSpecific: true, level: l, rotate: false)
        case 0b011:  // specific EOI
            eoi(nonSpecific: false, level: l, rotate: false)
        case 0b101:  // rotate on non-specific EOI
            eoi(nonSpecific: true, level: l, rotate: true)
        case 0b111:  // rotate on specific EOI
            eoi(nonSpecific: false, level: l, rotate: true)
        case 0b100:
            rotateInAEOI = true
            traceRotate("aeoi-rotate-on", nil)
        case 0b000:
            rotateInAEOI = false
            traceRotate("aeoi-rotate-off", nil)
        case 0b110:  // set priority: L becomes lowest
            lowestPriority = l
            traceRotate("priority", l)
        default:     // 0b010: no operation (PIC-25)
            break
        }
        update()
    }

    /// The in-service level a non-specific EOI clears: the highest-priority
    /// ISR bit. In special mask mode an ISR bit masked in the IMR is not
    /// cleared by a non-specific EOI (datasheet, "End of Interrupt").
    func highestInService() -> Int? {
        var candidates = isr
        if specialMask { candidates &= ~imr }
        for p in 0..<8 {
            let l = level(atPriority: p)
            if candidates & (1 << UInt8(l)) != 0 { return l }
        }
        return nil
    }

    private func eoi(nonSpecific: Bool, level: Int, rotate: Bool) {
        let target: Int?
        if nonSpecific { target = highestInService() } else { target = level }
        if let t = target {
            isr &= ~(1 << UInt8(t))
            if rotate { lowestPriority = t }
        }
        if tracing && trace.wants(.pic) {
            trace.emit(TraceEvent(.pic, "eoi", [
                ("chip", .str(name)), ("specific", .bool(!nonSpecific)),
                ("level", .int(Int64(target ?? -1))), ("isr", hex8(isr)),
            ]))
            if rotate, let t = target { traceRotate("rotate", t) }
        }
    }

    private func writeOCW3(_ v: UInt8) {
        if v & 0x04 != 0 { pollPending = true }
        if v & 0x02 != 0 { readISR = v & 0x01 != 0 }
        if v & 0x40 != 0 { specialMask = v & 0x20 != 0 }
        if tracing && trace.wants(.pic) {
            trace.emit(TraceEvent(.pic, "ocw3", [("chip", .str(name)), ("value", hex8(v))]))
        }
        update()
    }

    /// Poll read (PIC-30): acts as an interrupt acknowledge and returns
    /// 0x80 | level, or 0x00 when nothing is requesting.
    private func pollRead() -> UInt8 {
        pollPending = false
        var result: UInt8 = 0
        if let l = pendingRequest() {
            acknowledge(l)
            result = 0x80 | UInt8(l)
        }
        if tracing && trace.wants(.pic) {
            trace.emit(TraceEvent(.pic, "poll", [("chip", .str(name)), ("value", hex8(result))]))
        }
        if !isMaster && result != 0 { setINT(false) }   // INTA-like cycle (see PICPair.acknowledge)
        update()
        return result
    }

    private func traceICW(_ index: Int, _ v: UInt8) {
        if tracing && trace.wants(.pic) {
            trace.emit(TraceEvent(.pic, "icw", [("chip", .str(name)), ("index", .int(Int64(index))), ("value", hex8(v))]))
        }
    }

    private func traceRotate(_ what: String, _ level: Int?) {
        if tracing && trace.wants(.pic) {
            var f: [(String, TraceValue)] = [("chip", .str(name))]
            if let l = level { f.append(("lowest", .int(Int64(l)))) }
            trace.emit(TraceEvent(.pic, what, f))
        }
    }

    /// One line of state for the debugger.
    public func describe() -> String {
        func h(_ v: UInt8) -> String {
            let s = String(v, radix: 16, uppercase: true)
            return s.count < 2 ? "0" + s : s
        }
        var s = "\(name): IRR=\(h(irr)) ISR=\(h(isr)) IMR=\(h(imr)) base=\(h(vectorBase))"
        s += " init=\(initState) \(levelTriggered ? "level(LTIM)" : "edge") ELCR=\(h(elcr))"
        s += " lines=\(h(lines)) INT=\(intLevel ? 1 : 0) lowest=IR\(lowestPriority)"
        s += " read=\(readISR ? "ISR" : "IRR")"
        if isMaster { s += singleMode ? " single" : " cascade=\(h(icw3))" } else { s += " id=\(cascadeID)" }
        if autoEOI { s += " AEOI" + (rotateInAEOI ? "+rotate" : "") }
        if specialMask { s += " SMM" }
        if sfnm { s += " SFNM" }
        if !x86Mode { s += " MCS-80" }
        if pollPending { s += " poll" }
        return s
    }
}

/// The PC/AT interrupt controller pair: master at 0x20/0x21, slave at
/// 0xA0/0xA1 with its INT on master IR2, and the PIIX ELCR at 0x4D0/0x4D1.
public final class PICPair: PortDevice {
    /// What happens when an interrupt request line drops again before the CPU
    /// acknowledges it.
    ///
    /// - `datasheet` (default): the request vanishes from the IRR (the 8259A
    ///   requires IR to stay high until the first INTA). An INT already raised
    ///   stays raised, and the acknowledge that follows returns the default
    ///   IR7 vector (base+7, or slave base+7 with master ISR bit 2 set) without
    ///   setting an ISR bit. This is what real hardware does in that race and
    ///   what Bochs models (devices.md PIC-13/PIC-14).
    /// - `qemu`: an edge stays latched in the IRR after the line drops, and the
    ///   real vector is delivered (QEMU's and v86's behaviour). Useful for
    ///   guests that only ever ran on QEMU and have no IR7/IR15 handler.
    public enum SpuriousMode: Equatable {
        case datasheet, qemu
    }

    public let master: PIC8259
    public let slave: PIC8259
    let trace: TraceSink

    /// Called when the master's INT output changes; wired to the CPU's INTR.
    public var intOutput: LineOutput = { _ in }
    /// The master's INT output.
    public private(set) var intLevel = false

    public var spuriousMode: SpuriousMode = .datasheet {
        didSet {
            let q = spuriousMode == .qemu
            master.latchEdges = q
            slave.latchEdges = q
        }
    }

    public init(trace: TraceSink) {
        self.trace = trace
        master = PIC8259(name: "master", isMaster: true, elcrMask: 0xF8, trace: trace)
        slave = PIC8259(name: "slave", isMaster: false, elcrMask: 0xDE, trace: trace)
        master.intChanged = { [unowned self] level in
            self.intLevel = level
            if self.master.tracing && self.trace.wants(.pic) {
                self.trace.emit(TraceEvent(.pic, "int", [("level", .bool(level))]))
            }
            self.intOutput(level)
        }
        // The slave's INT pin is wired to master IR2.
        slave.intChanged = { [unowned self] level in
            self.master.setLine(2, level)
        }
    }

    /// Device interrupt line `irq` (0-15) is now at `level`. IRQ2 is the
    /// cascade input (driven by the slave's INT only) and is ignored here.
    public func setIRQ(_ irq: Int, _ level: Bool) {
        guard irq >= 0 && irq < 16 && irq != 2 else { return }
        let chip = irq < 8 ? master : slave
        let bit: UInt8 = 1 << UInt8(irq & 7)
        guard (chip.lines & bit != 0) != level else { return }
        if trace.wants(.irq) {
            trace.emit(TraceEvent(.irq, "line", [("irq", .int(Int64(irq))), ("level", .bool(level))]))
        }
        chip.setLine(irq & 7, level)
    }

    /// The full INTA sequence as the CPU runs it; returns the vector byte.
    ///
    /// The master resolves its highest serviceable request. If none is left
    /// (the request vanished, PIC-13/PIC-34) it answers with its IR7 vector and
    /// sets no ISR bit. If the winning input carries a slave (ICW3), the
    /// master sets its ISR bit and the slave whose ICW3 identity matches the
    /// level put on the cascade lines supplies the vector; a slave with no
    /// request left answers with its own IR7 vector (PIC-14). With no slave
    /// answering, the data bus floats (0xFF).
    public func acknowledge() -> UInt8 {
        var vector: UInt8
        var irq: Int
        var spurious = false
        if let r = master.pendingRequest() {
            master.acknowledge(r)
            if master.hasSlave(r) {
                if slave.cascadeID == r {
                    if let s = slave.pendingRequest() {
                        slave.acknowledge(s)
                        vector = slave.vector(for: s)
                        irq = 8 + s
                    } else {
                        vector = slave.vector(for: 7)
                        irq = 15
                        spurious = true
                    }
                    // The INTA pulses reset the slave's INT; a request still
                    // pending afterwards raises it again, which gives the
                    // edge-triggered master IR2 a fresh edge.
                    slave.setINT(false)
                    slave.update()
                } else {
                    vector = 0xFF
                    irq = -1
                }
            } else {
                vector = master.vector(for: r)
                irq = r
            }
        } else {
            vector = master.vector(for: 7)
            irq = 7
            spurious = true
        }
        if trace.wants(.pic) {
            trace.emit(TraceEvent(.pic, "inta", [
                ("vector", hex8(vector)), ("irq", .int(Int64(irq))), ("spurious", .bool(spurious)),
            ]))
        }
        master.update()
        return vector
    }

    // MARK: Ports

    func readByte(_ port: UInt16) -> UInt8 {
        switch port {
        case 0x20: return master.readCommand()
        case 0x21: return master.readData()
        case 0xA0: return slave.readCommand()
        case 0xA1: return slave.readData()
        case 0x4D0: return master.elcr
        case 0x4D1: return slave.elcr
        default: return 0xFF
        }
    }

    func writeByte(_ port: UInt16, _ v: UInt8) {
        switch port {
        case 0x20: master.writeCommand(v)
        case 0x21: master.writeData(v)
        case 0xA0: slave.writeCommand(v)
        case 0xA1: slave.writeData(v)
        case 0x4D0: master.writeELCR(v)
        case 0x4D1: slave.writeELCR(v)
        default: break
        }
    }

    /// Wider accesses are split into byte accesses on consecutive ports.
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

    // MARK: Firmware hand-off

    /// Leaves the pair as SeaBIOS hands it to a kernel (devices.md 3.1):
    /// ICW1 0x11, ICW2 0x08/0x70, ICW3 0x04/0x02, ICW4 0x01 (edge, cascade,
    /// 8086 mode, normal EOI), IMR master 0xB8 / slave 0x8E, ELCR 0x00/0x0C
    /// (IRQ10/11 level, the PIIX PCI interrupt routing), IRR showing only
    /// level inputs that are high, nothing in service, read select = IRR.
    /// Call it after the other devices have settled their lines (e.g. after
    /// `PIT8254.applyFirmwareState()`). No ICW trace events are produced.
    public func applyFirmwareState() {
        func setup(_ c: PIC8259, base: UInt8, icw3: UInt8, imr: UInt8, elcr: UInt8) {
            c.tracing = false
            c.writeCommand(0x11)
            c.writeData(base)
            c.writeData(icw3)
            c.writeData(0x01)
            c.writeData(imr)
            c.writeELCR(elcr)
            c.tracing = true
        }
        setup(slave, base: 0x70, icw3: 0x02, imr: 0x8E, elcr: 0x0C)
        setup(master, base: 0x08, icw3: 0x04, imr: 0xB8, elcr: 0x00)
        // The slave's INT may have changed while the master was being set up.
        master.update()
        if trace.wants(.pic) {
            trace.emit(TraceEvent(.pic, "firmware", [("imr", hex16(UInt16(slave.imr) << 8 | UInt16(master.imr)))]))
        }
    }

    /// Both chips' state for the debugger.
    public func describe() -> String {
        master.describe() + "\n" + slave.describe()
    }
}
