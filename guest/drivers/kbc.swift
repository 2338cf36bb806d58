/// Intel 8042 keyboard controller ("KBC") and the PS/2 keyboard behind it.
///
/// Port 0x60: data (read: output buffer; write: input buffer, a byte for the
/// keyboard or a controller command's parameter). Port 0x64: read status,
/// write controller command.
/// Status bits: 0 OBF (output buffer full: a byte to read at 0x60), 1 IBF
/// (input buffer full: controller has not taken the last write yet), 2 SYS,
/// 3 C/D (last write went to 0x64), 4 keyboard not inhibited, 5 AUX (the
/// byte in the output buffer came from the mouse), 6 timeout, 7 parity error.
/// Controller commands used: 0x20 read command byte, 0x60 write command byte,
/// 0xAA self-test (replies 0x55), 0xAB keyboard interface test (0x00),
/// 0xFE pulse output port bit 0 (CPU reset).
/// Command byte: 0 IRQ1 enable, 1 IRQ12 enable, 2 SYS, 4 keyboard clock
/// off, 5 mouse clock off, 6 translation to set 1.
/// Keyboard commands (written to 0x60): 0xED LED bits follow (ACK 0xFA each),
/// 0xEE echo (answers 0xEE, no ACK), 0xF2 identify (FA AB 83, 0x83 becomes
/// 0x41 through the translation), 0xF4 enable scanning.
///
/// All of this is polled with interrupts disabled. The IRQ1 edge that the
/// reply raises is still latched by the PIC and delivered after the driver
/// read the byte; the IRQ1 handler then sees OBF clear and ignores it (on a
/// datasheet-exact 8259A the request has vanished before the acknowledge
/// and the CPU gets the spurious IRQ7 instead, which is counted).
enum KBC {
    static let data: UInt16 = 0x60
    static let status: UInt16 = 0x64
    static let command: UInt16 = 0x64

    static let statusOutputFull: UInt8 = 0x01
    static let statusInputFull: UInt8 = 0x02
    static let statusAux: UInt8 = 0x20

    /// Replies are expected within a few milliseconds on real hardware.
    static let timeoutMicroseconds: UInt64 = 50_000

    /// Polls until `condition` holds or the timeout passes (PIT time, with a
    /// spin cap in case the timer does not count).
    private static func wait(microseconds: UInt64, _ condition: () -> Bool) -> Bool {
        var watch = PIT.Stopwatch()
        let clocks = microseconds * PIT.inputHz / 1_000_000
        while !condition() {
            if watch.hasElapsed(clocks) { return false }
        }
        return true
    }

    static func waitInputEmpty() -> Bool {
        wait(microseconds: timeoutMicroseconds) { inb(status) & statusInputFull == 0 }
    }

    /// Next byte from the controller or keyboard (not the mouse), or nil.
    static func readByte(microseconds: UInt64 = timeoutMicroseconds) -> UInt8? {
        var result: UInt8? = nil
        _ = wait(microseconds: microseconds) {
            let s = inb(status)
            guard s & statusOutputFull != 0 else { return false }
            let byte = inb(data)
            if s & statusAux != 0 { return false }      // mouse data: drop
            result = byte
            return true
        }
        return result
    }

    /// Discards whatever is waiting in the output buffer.
    static func flush() {
        var n = 0
        while inb(status) & statusOutputFull != 0 && n < 32 {
            _ = inb(data)
            n += 1
        }
    }

    /// Moves bytes waiting in the output buffer to the keyboard queue
    /// (before a keyboard command, so typed keys are not lost).
    static func drainToKeyboard() {
        var n = 0
        while n < 32 {
            let s = inb(status)
            guard s & statusOutputFull != 0 else { break }
            let byte = inb(data)
            if s & statusAux == 0 { Keyboard.push(byte) }
            n += 1
        }
    }

    static func sendCommand(_ byte: UInt8) -> Bool {
        guard waitInputEmpty() else { return false }
        outb(command, byte)
        return true
    }

    static func writeData(_ byte: UInt8) -> Bool {
        guard waitInputEmpty() else { return false }
        outb(data, byte)
        return true
    }

    static func readCommandByte() -> UInt8? {
        CPU.withInterruptsDisabled {
            flush()
            guard sendCommand(0x20) else { return nil }
            return readByte()
        }
    }

    static func writeCommandByte(_ value: UInt8) -> Bool {
        CPU.withInterruptsDisabled {
            sendCommand(0x60) && writeData(value)
        }
    }

    /// Controller self-test (0xAA -> 0x55). Some controllers reset the
    /// command byte during the self-test (keyboard disabled, translation
    /// changed: devices.md KBC-09), so the command byte is saved and restored.
    static func selfTest() -> UInt8? {
        CPU.withInterruptsDisabled {
            let saved = readCommandByte()
            flush()
            var reply: UInt8? = nil
            if sendCommand(0xAA) { reply = readByte(microseconds: 500_000) }
            if let saved { _ = writeCommandByte(saved) }
            return reply
        }
    }

    /// Keyboard interface test (0xAB -> 0x00 when clock and data lines are fine).
    static func interfaceTest() -> UInt8? {
        CPU.withInterruptsDisabled {
            flush()
            guard sendCommand(0xAB) else { return nil }
            return readByte()
        }
    }

    /// Sends `byte` to the keyboard and returns its reply (ACK 0xFA, resend
    /// 0xFE or echo 0xEE). Scan codes of keys typed meanwhile are passed on
    /// to the keyboard driver's queue instead of being taken for the reply.
    static func keyboardCommand(_ byte: UInt8) -> UInt8? {
        CPU.withInterruptsDisabled {
            guard writeData(byte) else { return nil }
            var n = 0
            while n < 16, let reply = readByte() {
                if reply == 0xFA || reply == 0xFE || reply == 0xEE { return reply }
                Keyboard.push(reply)
                n += 1
            }
            return nil
        }
    }

    /// 0xED + mask: sets the keyboard LEDs. True if both bytes were ACKed.
    static func setLEDs(_ mask: UInt8) -> Bool {
        CPU.withInterruptsDisabled {
            drainToKeyboard()
            guard keyboardCommand(0xED) == 0xFA else { return false }
            return keyboardCommand(mask & 7) == 0xFA
        }
    }

    /// 0xEE: the keyboard answers 0xEE (no ACK).
    static func echo() -> UInt8? {
        CPU.withInterruptsDisabled {
            drainToKeyboard()
            return keyboardCommand(0xEE)
        }
    }

    /// 0xF2: ACK, then the two ID bytes (0xAB 0x83, or 0xAB 0x41 translated).
    static func identify() -> (ack: UInt8?, id1: UInt8?, id2: UInt8?) {
        CPU.withInterruptsDisabled {
            drainToKeyboard()
            let ack = keyboardCommand(0xF2)
            guard ack == 0xFA else { return (ack, nil, nil) }
            let id1 = readByte()
            let id2 = readByte()
            return (ack, id1, id2)
        }
    }

    /// Pulses the output port's reset line (bit 0) low: the CPU resets.
    static func pulseReset() {
        CPU.withInterruptsDisabled {
            _ = sendCommand(0xFE)
        }
    }
}
