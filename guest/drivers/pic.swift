/// The two cascaded Intel 8259A programmable interrupt controllers.
///
/// Master: command 0x20, data 0x21, IRQ 0-7; slave: command 0xA0, data 0xA1,
/// IRQ 8-15, wired to the master's IR2. The BIOS programs them for real mode
/// (vectors 0x08-0x0F and 0x70-0x77), which collides with the CPU exception
/// vectors 0-31 in protected/long mode, so the kernel re-initialises both
/// chips with vector bases 32 and 40 (the "remap").
///
/// Registers: IRR (requests latched, before masking), ISR (in service, set
/// when the CPU acknowledges, cleared by EOI), IMR (mask, read/written on the
/// data port after initialisation). IRR/ISR are read on the command port
/// after an OCW3 selecting which one (0x0A = IRR, 0x0B = ISR).
enum PIC {
    static let masterCommand: UInt16 = 0x20
    static let masterData: UInt16 = 0x21
    static let slaveCommand: UInt16 = 0xA0
    static let slaveData: UInt16 = 0xA1

    static let masterOffset: UInt8 = 32
    static let slaveOffset: UInt8 = 40

    static let icw1Init: UInt8 = 0x11       // ICW1: init, edge triggered, cascade, ICW4 follows
    static let icw4Mode8086: UInt8 = 0x01   // ICW4: 8086 mode, normal (not automatic) EOI
    static let eoi: UInt8 = 0x20            // OCW2: non-specific end of interrupt
    static let readIRR: UInt8 = 0x0A        // OCW3: next command-port read returns IRR
    static let readISR: UInt8 = 0x0B        // OCW3: next command-port read returns ISR

    /// Masks found before initialisation (the firmware's choice) and restored.
    static var firmwareMasterMask: UInt8 = 0
    static var firmwareSlaveMask: UInt8 = 0

    /// The sequence of the pic8259 crate used by blog_os, port for port:
    /// save both masks, ICW1 to both chips, ICW2 (vector bases), ICW3
    /// (master: slave on IR2 = bit 2; slave: cascade identity 2), ICW4, each
    /// write followed by a write to port 0x80 as a delay, then restore the
    /// saved masks. ICW1 clears the IMR, so without the restore every line
    /// would be unmasked; with it, whatever the firmware enabled stays
    /// enabled (SeaBIOS leaves master 0xB8 / slave 0x8E: IRQ0, 1, 2, 6, 8,
    /// 12, 13, 14 unmasked).
    static func initialize() {
        let masterMask = inb(masterData)
        let slaveMask = inb(slaveData)
        firmwareMasterMask = masterMask
        firmwareSlaveMask = slaveMask

        outb(masterCommand, icw1Init); io_wait()
        outb(slaveCommand, icw1Init); io_wait()
        outb(masterData, masterOffset); io_wait()     // ICW2
        outb(slaveData, slaveOffset); io_wait()
        outb(masterData, 4); io_wait()                // ICW3: slave at IR2
        outb(slaveData, 2); io_wait()                 // ICW3: my cascade identity
        outb(masterData, icw4Mode8086); io_wait()     // ICW4
        outb(slaveData, icw4Mode8086); io_wait()

        outb(masterData, masterMask)
        outb(slaveData, slaveMask)
    }

    /// EOI for a hardware interrupt: an IRQ from the slave is in service on
    /// both chips (the slave's own level and the master's IR2), so the slave
    /// gets its EOI first, then the master.
    static func endOfInterrupt(irq: Int) {
        if irq >= 8 { outb(slaveCommand, eoi) }
        outb(masterCommand, eoi)
    }

    static var masks: (master: UInt8, slave: UInt8) {
        (inb(masterData), inb(slaveData))
    }

    static func setMasks(master: UInt8, slave: UInt8) {
        outb(masterData, master)
        outb(slaveData, slave)
    }

    /// Reads IRR or ISR of both chips. Leaves both chips selecting IRR (the
    /// state after initialisation) — do not assume a selection left by the
    /// firmware (SeaBIOS's unexpected-IRQ handler leaves ISR selected).
    private static func readRegister(_ ocw3: UInt8) -> (master: UInt8, slave: UInt8) {
        CPU.withInterruptsDisabled {
            outb(masterCommand, ocw3)
            outb(slaveCommand, ocw3)
            let m = inb(masterCommand)
            let s = inb(slaveCommand)
            if ocw3 != readIRR {
                outb(masterCommand, readIRR)
                outb(slaveCommand, readIRR)
            }
            return (m, s)
        }
    }

    static var irr: (master: UInt8, slave: UInt8) { readRegister(readIRR) }
    static var isr: (master: UInt8, slave: UInt8) { readRegister(readISR) }

    // MARK: Spurious interrupts (IRQ 7 and IRQ 15)

    static var spuriousMaster: UInt64 = 0
    static var spuriousSlave: UInt64 = 0

    /// Handles vector 39 (IRQ7) and 47 (IRQ15). When a request disappears
    /// before the CPU's interrupt acknowledge, the 8259A answers with its
    /// lowest-priority vector (IR7) without setting the ISR bit ("default
    /// IR7", 8259A datasheet; devices.md PIC-13/14). So: if the ISR bit 7 is
    /// clear, the interrupt was spurious and that chip must not get an EOI.
    /// For the slave, the master did see a real request on IR2 and set its
    /// ISR bit 2, so the master still needs its EOI.
    /// Returns true if the interrupt was spurious (and fully handled).
    static func handleSpurious(irq: Int) -> Bool {
        if irq == 7 {
            outb(masterCommand, readISR)
            let inService = inb(masterCommand)
            outb(masterCommand, readIRR)
            if inService & 0x80 == 0 {
                spuriousMaster &+= 1
                return true
            }
        } else if irq == 15 {
            outb(slaveCommand, readISR)
            let inService = inb(slaveCommand)
            outb(slaveCommand, readIRR)
            if inService & 0x80 == 0 {
                spuriousSlave &+= 1
                outb(masterCommand, eoi)        // master only
                return true
            }
        }
        return false
    }
}
