/// Interrupt dispatch. Every vector enters through its stub in arch/isr.S,
/// which calls `interrupt_dispatch(vector, errorCode, frame)`.
///
///   0-31   CPU exceptions (arch/exceptions.swift)
///   32-47  hardware IRQ 0-15 through the remapped 8259A pair
///   48-255 nothing is expected there; counted and reported
enum Interrupts {
    static var irqCounts: InlineArray<16, UInt64> = .init(repeating: 0)
    static var unexpected: UInt64 = 0
    static var lastUnexpectedVector: UInt64 = 0

    static func enable() { cpu_sti() }
    static func disable() { cpu_cli() }

    static func handleIRQ(_ irq: Int, vector: UInt64) {
        // IRQ7 and IRQ15 may be spurious (see PIC.handleSpurious).
        if (irq == 7 || irq == 15) && PIC.handleSpurious(irq: irq) {
            return
        }
        irqCounts[irq] &+= 1
        switch irq {
        case 0: Timer.interrupt(vector: vector)
        case 1: Keyboard.interrupt()
        case 8: RTC.interrupt()
        case 12: Keyboard.auxInterrupt()
        default:
            // Unmasked by the firmware (floppy IRQ6, FPU IRQ13, IDE IRQ14 …)
            // but the kernel has no driver: acknowledge and carry on.
            PIC.endOfInterrupt(irq: irq)
        }
    }
}

@_cdecl("interrupt_dispatch")
public func interruptDispatch(vector: UInt64, errorCode: UInt64,
                              frame: UnsafeMutablePointer<interrupt_frame>) {
    switch vector {
    case 0..<32:
        Exceptions.handle(vector: Int(vector), errorCode: errorCode, frame: frame)
    case 32..<48:
        Interrupts.handleIRQ(Int(vector - 32), vector: vector)
    default:
        Interrupts.unexpected &+= 1
        Interrupts.lastUnexpectedVector = vector
    }
}
