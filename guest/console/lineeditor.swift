/// A one-line editor for the shell prompt: printable characters, Backspace,
/// Delete, Left/Right, Home/End (also Ctrl+A / Ctrl+E), Up/Down through a
/// small history, Ctrl+U (erase to start), Ctrl+C (cancel), Ctrl+L (clear
/// screen), Enter. Input comes from keyboard events or from bytes received
/// on COM1 (a terminal on the serial line: CR/LF, DEL/BS, ESC [ A..D).
///
/// The screen shows the line being edited on the current console row;
/// the serial mirror gets the finished line when Enter is pressed (or, when
/// typing happens on the serial line itself, an echo while typing).
struct LineEditor {
    static let capacity = 76
    static let historySize = 8
    static let prompt: StaticString = "> "
    static let promptLength = 2

    enum Action: Equatable {
        case none, insert(UInt8), backspace, delete, left, right, home, end
        case historyUp, historyDown, enter, cancel, clearScreen, killToStart
    }

    enum Result { case editing, line, cancelled, clearScreen }

    var buffer: InlineArray<76, UInt8> = .init(repeating: 0)
    var length = 0
    var cursor = 0

    var history: InlineArray<608, UInt8> = .init(repeating: 0)      // 8 x 76
    var historyLengths: InlineArray<8, Int> = .init(repeating: 0)
    var historyCount = 0         // entries stored (<= historySize)
    var historyNewest = -1       // slot of the newest entry
    var browsing = -1            // how far back we are while pressing Up (-1: not browsing)

    /// Whether the line being edited is echoed to the serial port as it is typed.
    var serialEcho = false
    private var escapeState = 0  // serial: 0 none, 1 after ESC, 2 after ESC [
    /// False in the self-test: no drawing.
    var drawing = true

    // MARK: Input mapping

    static func action(for event: KeyEvent) -> Action {
        guard event.pressed else { return .none }
        if event.ctrl {
            switch event.ascii {
            case 1: return .home          // Ctrl+A
            case 3: return .cancel        // Ctrl+C
            case 5: return .end           // Ctrl+E
            case 12: return .clearScreen  // Ctrl+L
            case 21: return .killToStart  // Ctrl+U
            default: break
            }
        }
        switch event.code {
        case Key.enter, Key.keypadEnter: return .enter
        case Key.backspace: return .backspace
        case Key.delete: return .delete
        case Key.left: return .left
        case Key.right: return .right
        case Key.home: return .home
        case Key.end: return .end
        case Key.up: return .historyUp
        case Key.down: return .historyDown
        default: break
        }
        if event.ascii >= 32 && event.ascii < 127 && !event.ctrl && !event.alt {
            return .insert(event.ascii)
        }
        return .none
    }

    /// Maps a byte from a serial terminal (VT100 keys) to an action.
    mutating func action(forSerial byte: UInt8) -> Action {
        switch escapeState {
        case 1:
            escapeState = byte == 91 ? 2 : 0      // '['
            return .none
        case 2:
            escapeState = 0
            switch byte {
            case 65: return .historyUp            // ESC [ A
            case 66: return .historyDown
            case 67: return .right
            case 68: return .left
            case 72: return .home
            case 70: return .end
            default: return .none
            }
        default:
            break
        }
        switch byte {
        case 27: escapeState = 1; return .none
        case 13, 10: return .enter
        case 8, 127: return .backspace
        case 1: return .home
        case 3: return .cancel
        case 5: return .end
        case 12: return .clearScreen
        case 21: return .killToStart
        case 32..<127: return .insert(byte)
        default: return .none
        }
    }

    // MARK: Editing

    mutating func apply(_ action: Action) -> Result {
        switch action {
        case .none:
            return .editing
        case .insert(let ch):
            guard length < LineEditor.capacity else { return .editing }
            var i = length
            while i > cursor { buffer[i] = buffer[i - 1]; i -= 1 }
            buffer[cursor] = ch
            length += 1
            cursor += 1
            if serialEcho && cursor == length { echoSerial(ch) } else { serialRedraw() }
        case .backspace:
            guard cursor > 0 else { return .editing }
            for i in (cursor - 1)..<(length - 1) { buffer[i] = buffer[i + 1] }
            length -= 1
            cursor -= 1
            if serialEcho && cursor == length { echoSerial(8); echoSerial(32); echoSerial(8) } else { serialRedraw() }
        case .delete:
            guard cursor < length else { return .editing }
            for i in cursor..<(length - 1) { buffer[i] = buffer[i + 1] }
            length -= 1
            serialRedraw()
        case .left:
            if cursor > 0 { cursor -= 1 }
            serialRedraw()
        case .right:
            if cursor < length { cursor += 1 }
            serialRedraw()
        case .home:
            cursor = 0
            serialRedraw()
        case .end:
            cursor = length
            serialRedraw()
        case .killToStart:
            var j = 0
            for i in cursor..<length { buffer[j] = buffer[i]; j += 1 }
            length -= cursor
            cursor = 0
            serialRedraw()
        case .historyUp:
            recall(older: true)
            serialRedraw()
        case .historyDown:
            recall(older: false)
            serialRedraw()
        case .enter:
            remember()
            return .line
        case .cancel:
            return .cancelled
        case .clearScreen:
            return .clearScreen
        }
        redraw()
        return .editing
    }

    mutating func reset() {
        length = 0
        cursor = 0
        browsing = -1
        serialEcho = false
        escapeState = 0
    }

    func withLine<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var copy = buffer
        let n = length
        return withUnsafeBytes(of: &copy) { raw in
            body(UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n))
        }
    }

    // MARK: History

    private mutating func remember() {
        browsing = -1
        guard length > 0 else { return }
        // Skip a repeat of the newest entry.
        if historyCount > 0 && historyLengths[historyNewest] == length {
            var same = true
            for i in 0..<length where history[historyNewest * LineEditor.capacity + i] != buffer[i] { same = false; break }
            if same { return }
        }
        historyNewest = (historyNewest + 1) % LineEditor.historySize
        for i in 0..<length { history[historyNewest * LineEditor.capacity + i] = buffer[i] }
        historyLengths[historyNewest] = length
        if historyCount < LineEditor.historySize { historyCount += 1 }
    }

    private mutating func recall(older: Bool) {
        guard historyCount > 0 else { return }
        if older {
            if browsing + 1 < historyCount { browsing += 1 } else { return }
        } else {
            if browsing < 0 { return }
            browsing -= 1
            if browsing < 0 { length = 0; cursor = 0; return }
        }
        let slot = (historyNewest - browsing + LineEditor.historySize) % LineEditor.historySize
        length = historyLengths[slot]
        for i in 0..<length { buffer[i] = history[slot * LineEditor.capacity + i] }
        cursor = length
    }

    // MARK: Display

    func redraw() {
        guard drawing else { return }
        withLine { text in
            Console.drawEditLine(prompt: LineEditor.prompt, promptAttribute: Colour.prompt.rawValue,
                                 text: text, cursorColumn: LineEditor.promptLength + cursor)
        }
    }

    /// Prints the finished line through the console (screen and, unless it
    /// was echoed while typing, the serial mirror).
    func commit() {
        guard drawing else { return }
        withLine { text in
            if serialEcho {
                Console.mirrorSerial = false
                Console.commitEditLine(prompt: LineEditor.prompt, promptAttribute: Colour.prompt.rawValue, text: text)
                Console.mirrorSerial = true
                Serial.write(10)
            } else {
                Console.commitEditLine(prompt: LineEditor.prompt, promptAttribute: Colour.prompt.rawValue, text: text)
            }
        }
    }

    private func echoSerial(_ byte: UInt8) {
        guard drawing else { return }
        Serial.write(byte)
    }

    /// Serial terminal: rewrite the whole line (CR, prompt, text, erase to
    /// end of line, cursor back to its column).
    private func serialRedraw() {
        guard drawing && serialEcho else { return }
        Serial.write(13)
        let p = LineEditor.prompt.utf8Start
        for i in 0..<LineEditor.promptLength { Serial.write(p[i]) }
        for i in 0..<length { Serial.write(buffer[i]) }
        let eraseToEnd: StaticString = "\u{1B}[K"
        for i in 0..<eraseToEnd.utf8CodeUnitCount { Serial.write(eraseToEnd.utf8Start[i]) }
        if length > cursor {
            var m: Message = "\u{1B}["
            m.append(unsigned: UInt64(length - cursor))
            m.append("D")
            for i in 0..<m.count { Serial.write(m.bytes[i]) }
        }
    }
}
