/// The interactive shell: reads keys (keyboard IRQ1 queue, or COM1),
/// edits a line, runs the command. Between inputs the CPU sleeps in HLT.
enum Shell {
    static var editor = LineEditor()

    static func run() -> Never {
        editor.redraw()
        while true {
            var action = LineEditor.Action.none
            if let event = Keyboard.nextEvent() {
                action = LineEditor.action(for: event)
                if action != .none && editor.serialEcho && editor.length == 0 {
                    editor.serialEcho = false
                }
            } else if let byte = Serial.read() {
                if editor.length == 0 && !editor.serialEcho {
                    editor.serialEcho = true
                    // Show the prompt on the serial terminal first.
                    Serial.write(13)
                    let p = LineEditor.prompt.utf8Start
                    for i in 0..<LineEditor.promptLength { Serial.write(p[i]) }
                }
                action = editor.action(forSerial: byte)
            } else {
                // Nothing to do: sleep until an interrupt (timer tick,
                // key). COM1 input is polled, so at worst it waits a tick.
                CPU.idle { Keyboard.hasInput }
                continue
            }
            switch editor.apply(action) {
            case .editing:
                break
            case .line:
                editor.commit()
                editor.withLine { Commands.execute($0) }
                editor.reset()
                editor.redraw()
            case .cancelled:
                editor.commit()
                kprint("^C\n", .dim)
                editor.reset()
                editor.redraw()
            case .clearScreen:
                Console.clearScreen()
                editor.redraw()
            }
        }
    }
}

/// A command line split into blank-separated words.
struct Arguments {
    let line: UnsafeBufferPointer<UInt8>
    var starts: InlineArray<8, Int> = .init(repeating: 0)
    var lengths: InlineArray<8, Int> = .init(repeating: 0)
    var count = 0

    init(_ line: UnsafeBufferPointer<UInt8>) {
        self.line = line
        var i = 0
        while i < line.count && count < 8 {
            while i < line.count && line[i] == 32 { i += 1 }
            guard i < line.count else { break }
            let start = i
            while i < line.count && line[i] != 32 { i += 1 }
            starts[count] = start
            lengths[count] = i - start
            count += 1
        }
    }

    func word(_ index: Int) -> UnsafeBufferPointer<UInt8> {
        guard index < count else { return UnsafeBufferPointer(start: line.baseAddress, count: 0) }
        return UnsafeBufferPointer(rebasing: line[starts[index]..<(starts[index] + lengths[index])])
    }

    func isWord(_ index: Int, _ text: StaticString) -> Bool {
        guard index < count, lengths[index] == text.utf8CodeUnitCount else { return false }
        let w = word(index)
        for i in 0..<w.count where w[i] != text.utf8Start[i] { return false }
        return true
    }

    /// Decimal or 0x-prefixed hexadecimal number.
    func number(_ index: Int) -> UInt64? {
        guard index < count else { return nil }
        let w = word(index)
        var value: UInt64 = 0
        var i = 0
        var base: UInt64 = 10
        if w.count > 2 && w[0] == 48 && (w[1] == 120 || w[1] == 88) { base = 16; i = 2 }
        guard i < w.count else { return nil }
        while i < w.count {
            let c = w[i]
            var digit: UInt64
            switch c {
            case 48...57: digit = UInt64(c - 48)
            case 97...102: digit = UInt64(c - 87)
            case 65...70: digit = UInt64(c - 55)
            default: return nil
            }
            guard digit < base else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: base)
            let (s, o2) = m.addingReportingOverflow(digit)
            guard !o1 && !o2 else { return nil }
            value = s
            i += 1
        }
        return value
    }
}
