/// The kernel console: a scrolling text area on the VGA screen (rows
/// 1...24; row 0 is the status line) whose output is mirrored byte for byte
/// to COM1, and also to the debug console port 0xE9 when the command line
/// has the word `debugcon` (off by default: an emulator that shows both
/// channels on one terminal would print every character twice).
///
/// Locking (the blog_os "deadlock" lesson): the writer is shared by normal
/// code and interrupt handlers (the timer prints dots and the status line).
/// If an interrupt arrived while normal code held the writer lock and its
/// handler tried to print, the handler would spin on the lock forever. So the
/// lock is only ever held with interrupts disabled (IF saved, `cli`, restored
/// afterwards); on this single-CPU kernel the spin can then only trigger if a
/// CPU exception is raised inside the writer itself, and exception handlers
/// break the lock (`breakLock`) before printing.
enum Console {
    static let firstRow = 1
    static let lastRow = VGA.height - 1

    static var row = firstRow
    static var column = 0
    static var attribute: UInt8 = Colour.normal.rawValue
    static var isLocked = false
    /// Mirror output to COM1 / port 0xE9.
    static var mirrorSerial = true
    static var mirrorDebugPort = false

    // MARK: Locking

    @inline(__always)
    static func withLock<R>(_ body: () -> R) -> R {
        let flags = cpu_read_rflags()
        cpu_cli()
        while isLocked { cpu_pause() }
        isLocked = true
        let result = body()
        isLocked = false
        if flags & CPU.rflagsIF != 0 { cpu_sti() }
        return result
    }

    /// For exception handlers: the faulting code may have held the lock.
    static func breakLock() {
        isLocked = false
    }

    // MARK: Setup

    static func initialize() {
        withLock {
            VGA.clear(rows: firstRow..<VGA.height, attribute: Colour.normal.rawValue)
            row = firstRow
            column = 0
            VGA.enableCursor()
            VGA.setCursor(row: row, column: column)
        }
    }

    static func clearScreen() {
        withLock {
            VGA.clear(rows: firstRow..<VGA.height, attribute: Colour.normal.rawValue)
            row = firstRow
            column = 0
            VGA.setCursor(row: row, column: column)
        }
    }

    // MARK: Output

    static func write(_ message: Message, attribute: UInt8) {
        withLock {
            for i in 0..<message.count {
                putLocked(message.bytes[i], attribute: attribute)
            }
            VGA.setCursor(row: row, column: column)
        }
    }

    static func put(_ byte: UInt8, attribute: UInt8 = Colour.normal.rawValue) {
        withLock {
            putLocked(byte, attribute: attribute)
            VGA.setCursor(row: row, column: column)
        }
    }

    /// Starts a new line unless the cursor already is at a line start.
    static func freshLine() {
        withLock {
            if column != 0 {
                putLocked(10, attribute: attribute)
                VGA.setCursor(row: row, column: column)
            }
        }
    }

    private static func mirror(_ byte: UInt8) {
        if mirrorSerial { Serial.write(byte) }
        if mirrorDebugPort { DebugConsole.write(byte) }
    }

    private static func newlineLocked() {
        column = 0
        if row < lastRow {
            row += 1
        } else {
            VGA.scrollUp(top: firstRow, bottom: lastRow, attribute: Colour.normal.rawValue)
        }
    }

    private static func putLocked(_ byte: UInt8, attribute: UInt8) {
        switch byte {
        case 10:  // '\n'
            mirror(10)
            newlineLocked()
        case 13:  // '\r'
            mirror(13)
            column = 0
        case 8:   // backspace: move left (the line editor redraws)
            mirror(8)
            if column > 0 { column -= 1 }
        case 9:   // tab to the next multiple of 8
            repeat { putLocked(32, attribute: attribute) } while column % 8 != 0
        default:
            mirror(byte)
            VGA.put(row: row, column: column, char: byte, attribute: attribute)
            column += 1
            if column >= VGA.width { newlineLocked() }
        }
    }

    // MARK: Direct screen access for the line editor (VGA only, no mirror)

    /// Redraws the current row with `text` from column 0 and puts the
    /// hardware cursor at `cursorColumn`. Nothing goes to the serial mirror.
    static func drawEditLine(prompt: StaticString, promptAttribute: UInt8,
                             text: UnsafeBufferPointer<UInt8>, cursorColumn: Int) {
        withLock {
            if column != 0 { newlineLocked() }
            var c = 0
            let p = prompt.utf8Start
            for i in 0..<prompt.utf8CodeUnitCount where c < VGA.width {
                VGA.put(row: row, column: c, char: p[i], attribute: promptAttribute)
                c += 1
            }
            for b in text where c < VGA.width {
                VGA.put(row: row, column: c, char: b, attribute: attribute)
                c += 1
            }
            VGA.clear(row: row, from: c, attribute: attribute)
            VGA.setCursor(row: row, column: min(cursorColumn, VGA.width - 1))
        }
    }

    /// Finishes an edited line: prints it through the normal path (so the
    /// serial log shows "> command") and moves to the next line.
    static func commitEditLine(prompt: StaticString, promptAttribute: UInt8,
                               text: UnsafeBufferPointer<UInt8>) {
        withLock {
            if column != 0 { newlineLocked() }
            let p = prompt.utf8Start
            for i in 0..<prompt.utf8CodeUnitCount { putLocked(p[i], attribute: promptAttribute) }
            for b in text { putLocked(b, attribute: attribute) }
            VGA.clear(row: row, from: column, attribute: attribute)
            putLocked(10, attribute: attribute)
            VGA.setCursor(row: row, column: column)
        }
    }

    // MARK: Status line (row 0)

    /// Writes `message` into row 0, padded with blanks; not mirrored.
    static func drawStatus(_ message: Message) {
        withLock {
            let attr = Colour.status.rawValue
            for c in 0..<VGA.width {
                let ch: UInt8 = c < message.count ? message.bytes[c] : 32
                VGA.put(row: 0, column: c, char: ch, attribute: attr)
            }
        }
    }
}

/// print() in Embedded Swift ends up here through putchar (kernel/runtime.c).
@_cdecl("console_putchar")
public func consolePutchar(_ byte: UInt8) {
    Console.put(byte)
}
