/// 16550A UART, COM1 at I/O base 0x3F8.
///
/// Registers (offset from base): 0 THR (write) / RBR (read), or divisor
/// latch low when LCR.DLAB=1; 1 IER, or divisor high with DLAB; 2 FCR
/// (write) / IIR (read); 3 LCR; 4 MCR; 5 LSR (bit 0 data ready, bit 5 THR
/// empty); 7 scratch. The divisor divides 115200: 1 means 115200 baud.
enum Serial {
    static let base: UInt16 = 0x3F8
    static let thr = base, rbr = base, dll = base
    static let ier = base + 1, dlm = base + 1
    static let fcr = base + 2
    static let lcr = base + 3
    static let mcr = base + 4
    static let lsr = base + 5

    static var present = false
    /// Set when THR-empty never showed up: stop waiting for it.
    static var ignoreLineStatus = false

    /// 115200 baud, 8 data bits, no parity, 1 stop bit, FIFOs on, no
    /// interrupts (output is polled; input is polled from the idle loop).
    static func initialize() {
        outb(ier, 0x00)          // no UART interrupts
        outb(lcr, 0x80)          // DLAB=1: ports 0/1 are the divisor latch
        outb(dll, 0x01)          // divisor 1 = 115200 baud
        outb(dlm, 0x00)
        outb(lcr, 0x03)          // DLAB=0, 8 bits, no parity, 1 stop (8N1)
        outb(fcr, 0xC7)          // enable + clear both FIFOs, RX trigger 14 bytes
        outb(mcr, 0x0B)          // DTR, RTS, OUT2
        // An empty I/O port (no UART) reads 0xFF; a UART's line status
        // register never does (bit 7 is the FIFO error summary, bits 5/6
        // transmitter empty).
        present = inb(lsr) != 0xFF
    }

    static func write(_ byte: UInt8) {
        guard present else { return }
        // Wait for room in the transmitter; bounded so that a UART that never
        // reports THR empty cannot hang the kernel.
        var spins = 0
        while !ignoreLineStatus && inb(lsr) & 0x20 == 0 {
            spins += 1
            if spins > 1_000_000 { ignoreLineStatus = true }
        }
        outb(thr, byte)
    }

    /// A received byte, if one is waiting.
    static func read() -> UInt8? {
        guard present, inb(lsr) & 0x01 != 0 else { return nil }
        return inb(rbr)
    }

    /// Loopback self-test (MCR bit 4 connects the transmitter to the
    /// receiver inside the chip): a byte written to THR must come back in
    /// RBR. Must run with interrupts off and nothing else printing.
    static func loopbackTest(_ pattern: UInt8) -> (ok: Bool, received: UInt8?) {
        guard present else { return (false, nil) }
        while inb(lsr) & 0x01 != 0 { _ = inb(rbr) }         // drain RX
        var spins = 0
        while inb(lsr) & 0x40 == 0 && spins < 100_000 { spins += 1 } // TX fully idle
        outb(mcr, 0x1B)          // loopback + DTR/RTS/OUT2
        outb(thr, pattern)
        var received: UInt8? = nil
        spins = 0
        while spins < 100_000 {
            if inb(lsr) & 0x01 != 0 { received = inb(rbr); break }
            spins += 1
        }
        outb(mcr, 0x0B)          // back to normal operation
        return (received == pattern, received)
    }
}

/// Bochs/QEMU debug console: bytes written to port 0xE9 appear on the host
/// (`-debugcon stdio`). Without such a device the writes go nowhere.
enum DebugConsole {
    static let port: UInt16 = 0xE9
    static func write(_ byte: UInt8) { outb(port, byte) }
}

/// QEMU's isa-debug-exit device (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`):
/// writing V terminates QEMU with exit status (V << 1) | 1.
enum DebugExit {
    static let port: UInt16 = 0xF4
    static func exit(_ value: UInt32) { outl(port, value) }
}
