/// The keyboard driver: the IRQ1 handler queues scan code bytes; the main
/// loop decodes them (drivers/scancode.swift) and feeds the line editor.
///
/// The 8042 raises IRQ1 when a byte lands in its output buffer and keeps the
/// line up until the byte is read from port 0x60; it will not deliver the
/// next byte before that (so a handler that forgets to read 0x60 gets exactly
/// one interrupt). The handler checks OBF first: an IRQ1 can arrive for a
/// byte already consumed by the polled controller code.
enum Keyboard {
    static var queue: InlineArray<128, UInt8> = .init(repeating: 0)
    static var head = 0        // next byte to read
    static var tail = 0        // next free slot
    static var received: UInt64 = 0
    static var dropped: UInt64 = 0
    static var emptyInterrupts: UInt64 = 0
    static var auxBytes: UInt64 = 0
    static var decoder = ScancodeDecoder()

    /// IRQ1 (vector 33).
    static func interrupt() {
        let status = inb(KBC.status)
        if status & KBC.statusOutputFull == 0 {
            emptyInterrupts &+= 1
        } else {
            let byte = inb(KBC.data)
            if status & KBC.statusAux != 0 {
                auxBytes &+= 1
            } else {
                push(byte)
            }
        }
        PIC.endOfInterrupt(irq: 1)
    }

    /// IRQ12 (vector 44): mouse bytes; the kernel has no mouse driver, but
    /// the byte must be read or it blocks the keyboard's bytes behind it.
    static func auxInterrupt() {
        let status = inb(KBC.status)
        if status & KBC.statusOutputFull != 0 && status & KBC.statusAux != 0 {
            _ = inb(KBC.data)
            auxBytes &+= 1
        }
        PIC.endOfInterrupt(irq: 12)
    }

    static func push(_ byte: UInt8) {
        let next = (tail + 1) % 128
        if next == head {
            dropped &+= 1
            return
        }
        queue[tail] = byte
        tail = next
        received &+= 1
    }

    static var hasInput: Bool { head != tail }

    static func pop() -> UInt8? {
        CPU.withInterruptsDisabled {
            guard head != tail else { return nil }
            let byte = queue[head]
            head = (head + 1) % 128
            return byte
        }
    }

    /// Initialisation: throw away a byte possibly left in the 8042 output
    /// buffer. The PIC re-initialisation reset its edge detection, so a byte
    /// pending since before would hold IRQ1 high without ever producing a
    /// new edge, and the keyboard would stay silent.
    static func initialize() {
        CPU.withInterruptsDisabled { KBC.flush() }
    }

    /// Decodes the next queued byte, updating the LEDs on lock-key changes.
    static func nextEvent() -> KeyEvent? {
        while let byte = pop() {
            if let event = decoder.feed(byte) {
                if decoder.locksChanged {
                    decoder.locksChanged = false
                    _ = KBC.setLEDs(decoder.ledMask)
                }
                return event
            }
        }
        return nil
    }
}
