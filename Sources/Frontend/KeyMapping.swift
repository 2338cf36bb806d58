import CSDL2
import Devices

// Host keys to emulated PS/2 keys.
//
// The window maps SDL *scancodes* (physical key positions, independent of
// the host keyboard layout): the guest's own layout handling then sees the
// same key a real PC keyboard would send. The terminal maps bytes and escape
// sequences (it only sees characters).

enum KeyMapping {
    /// SDL scancode -> PS/2 key, for every key of a 105-key PC keyboard.
    static let sdl: [UInt32: PS2Key] = {
        var m: [UInt32: PS2Key] = [:]
        func add(_ sc: SDL_Scancode, _ k: PS2Key) { m[sc.rawValue] = k }
        let letters: [(SDL_Scancode, PS2Key)] = [
            (SDL_SCANCODE_A, .a), (SDL_SCANCODE_B, .b), (SDL_SCANCODE_C, .c), (SDL_SCANCODE_D, .d),
            (SDL_SCANCODE_E, .e), (SDL_SCANCODE_F, .f), (SDL_SCANCODE_G, .g), (SDL_SCANCODE_H, .h),
            (SDL_SCANCODE_I, .i), (SDL_SCANCODE_J, .j), (SDL_SCANCODE_K, .k), (SDL_SCANCODE_L, .l),
            (SDL_SCANCODE_M, .m), (SDL_SCANCODE_N, .n), (SDL_SCANCODE_O, .o), (SDL_SCANCODE_P, .p),
            (SDL_SCANCODE_Q, .q), (SDL_SCANCODE_R, .r), (SDL_SCANCODE_S, .s), (SDL_SCANCODE_T, .t),
            (SDL_SCANCODE_U, .u), (SDL_SCANCODE_V, .v), (SDL_SCANCODE_W, .w), (SDL_SCANCODE_X, .x),
            (SDL_SCANCODE_Y, .y), (SDL_SCANCODE_Z, .z),
        ]
        for (s, k) in letters { add(s, k) }
        let digits: [(SDL_Scancode, PS2Key)] = [
            (SDL_SCANCODE_1, .digit1), (SDL_SCANCODE_2, .digit2), (SDL_SCANCODE_3, .digit3),
            (SDL_SCANCODE_4, .digit4), (SDL_SCANCODE_5, .digit5), (SDL_SCANCODE_6, .digit6),
            (SDL_SCANCODE_7, .digit7), (SDL_SCANCODE_8, .digit8), (SDL_SCANCODE_9, .digit9),
            (SDL_SCANCODE_0, .digit0),
        ]
        for (s, k) in digits { add(s, k) }
        let others: [(SDL_Scancode, PS2Key)] = [
            (SDL_SCANCODE_RETURN, .enter), (SDL_SCANCODE_ESCAPE, .escape),
            (SDL_SCANCODE_BACKSPACE, .backspace), (SDL_SCANCODE_TAB, .tab), (SDL_SCANCODE_SPACE, .space),
            (SDL_SCANCODE_MINUS, .minus), (SDL_SCANCODE_EQUALS, .equals),
            (SDL_SCANCODE_LEFTBRACKET, .leftBracket), (SDL_SCANCODE_RIGHTBRACKET, .rightBracket),
            (SDL_SCANCODE_BACKSLASH, .backslash),
            // The ISO key left of Enter (# ~) sends the same make code as backslash.
            (SDL_SCANCODE_NONUSHASH, .backslash),
            (SDL_SCANCODE_SEMICOLON, .semicolon), (SDL_SCANCODE_APOSTROPHE, .quote),
            (SDL_SCANCODE_GRAVE, .grave), (SDL_SCANCODE_COMMA, .comma), (SDL_SCANCODE_PERIOD, .period),
            (SDL_SCANCODE_SLASH, .slash), (SDL_SCANCODE_CAPSLOCK, .capsLock),
            // The ISO key left of Z (< > |): key 102's own make code 0x61.
            (SDL_SCANCODE_NONUSBACKSLASH, .iso102),
            (SDL_SCANCODE_F1, .f1), (SDL_SCANCODE_F2, .f2), (SDL_SCANCODE_F3, .f3), (SDL_SCANCODE_F4, .f4),
            (SDL_SCANCODE_F5, .f5), (SDL_SCANCODE_F6, .f6), (SDL_SCANCODE_F7, .f7), (SDL_SCANCODE_F8, .f8),
            (SDL_SCANCODE_F9, .f9), (SDL_SCANCODE_F10, .f10), (SDL_SCANCODE_F11, .f11), (SDL_SCANCODE_F12, .f12),
            (SDL_SCANCODE_PRINTSCREEN, .printScreen), (SDL_SCANCODE_SYSREQ, .printScreen),
            (SDL_SCANCODE_SCROLLLOCK, .scrollLock), (SDL_SCANCODE_PAUSE, .pause),
            (SDL_SCANCODE_INSERT, .insert), (SDL_SCANCODE_HOME, .home), (SDL_SCANCODE_PAGEUP, .pageUp),
            (SDL_SCANCODE_DELETE, .delete), (SDL_SCANCODE_END, .end), (SDL_SCANCODE_PAGEDOWN, .pageDown),
            (SDL_SCANCODE_RIGHT, .right), (SDL_SCANCODE_LEFT, .left), (SDL_SCANCODE_DOWN, .down),
            (SDL_SCANCODE_UP, .up),
            (SDL_SCANCODE_NUMLOCKCLEAR, .numLock), (SDL_SCANCODE_KP_DIVIDE, .keypadDivide),
            (SDL_SCANCODE_KP_MULTIPLY, .keypadMultiply), (SDL_SCANCODE_KP_MINUS, .keypadMinus),
            (SDL_SCANCODE_KP_PLUS, .keypadPlus), (SDL_SCANCODE_KP_ENTER, .keypadEnter),
            (SDL_SCANCODE_KP_1, .keypad1), (SDL_SCANCODE_KP_2, .keypad2), (SDL_SCANCODE_KP_3, .keypad3),
            (SDL_SCANCODE_KP_4, .keypad4), (SDL_SCANCODE_KP_5, .keypad5), (SDL_SCANCODE_KP_6, .keypad6),
            (SDL_SCANCODE_KP_7, .keypad7), (SDL_SCANCODE_KP_8, .keypad8), (SDL_SCANCODE_KP_9, .keypad9),
            (SDL_SCANCODE_KP_0, .keypad0), (SDL_SCANCODE_KP_PERIOD, .keypadPeriod),
            (SDL_SCANCODE_APPLICATION, .menu),
            (SDL_SCANCODE_LCTRL, .leftCtrl), (SDL_SCANCODE_LSHIFT, .leftShift), (SDL_SCANCODE_LALT, .leftAlt),
            (SDL_SCANCODE_LGUI, .leftGUI), (SDL_SCANCODE_RCTRL, .rightCtrl), (SDL_SCANCODE_RSHIFT, .rightShift),
            (SDL_SCANCODE_RALT, .rightAlt), (SDL_SCANCODE_RGUI, .rightGUI),
        ]
        for (s, k) in others { add(s, k) }
        return m
    }()

    static func key(forScancode sc: SDL_Scancode) -> PS2Key? { sdl[sc.rawValue] }

    // MARK: Terminal input

    /// One key stroke decoded from terminal input: the key, and the
    /// modifiers to hold around it.
    struct Stroke: Equatable {
        var key: PS2Key
        var shift = false
        var ctrl = false
        var alt = false
    }

    enum TerminalInput: Equatable {
        case stroke(Stroke)
        case quit          // Ctrl+]
    }

    /// CSI / SS3 final sequences -> keys.
    private static let escapeSequences: [String: PS2Key] = [
        "[A": .up, "[B": .down, "[C": .right, "[D": .left, "[H": .home, "[F": .end,
        "OA": .up, "OB": .down, "OC": .right, "OD": .left, "OH": .home, "OF": .end,
        "[1~": .home, "[2~": .insert, "[3~": .delete, "[4~": .end, "[5~": .pageUp, "[6~": .pageDown,
        "[7~": .home, "[8~": .end,
        "OP": .f1, "OQ": .f2, "OR": .f3, "OS": .f4,
        "[11~": .f1, "[12~": .f2, "[13~": .f3, "[14~": .f4,
        "[15~": .f5, "[17~": .f6, "[18~": .f7, "[19~": .f8, "[20~": .f9, "[21~": .f10,
        "[23~": .f11, "[24~": .f12, "[Z": .tab,
        "[[A": .f1, "[[B": .f2, "[[C": .f3, "[[D": .f4, "[[E": .f5,
        "OM": .keypadEnter,
    ]

    /// Decodes terminal bytes into key strokes. Returns the strokes and how
    /// many bytes were consumed (an incomplete escape sequence at the end is
    /// left for the next read unless `final` is set, when a lone ESC is the
    /// Escape key).
    static func decodeTerminal(_ bytes: [UInt8], final: Bool) -> (inputs: [TerminalInput], consumed: Int) {
        var out: [TerminalInput] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x1B {
                // ESC: a sequence, Alt+key, or the Escape key itself.
                if i + 1 >= bytes.count {
                    if final { out.append(.stroke(Stroke(key: .escape))); i += 1; continue }
                    break
                }
                let n = bytes[i + 1]
                if n == UInt8(ascii: "[") || n == UInt8(ascii: "O") {
                    // Collect parameter bytes up to the final byte (0x40-0x7E).
                    var j = i + 2
                    if n == UInt8(ascii: "[") && j < bytes.count && bytes[j] == UInt8(ascii: "[") { j += 1 }
                    while j < bytes.count && (bytes[j] < 0x40 || bytes[j] > 0x7E) { j += 1 }
                    if j >= bytes.count {
                        if final { out.append(.stroke(Stroke(key: .escape))); i += 1; continue }
                        break
                    }
                    let seq = String(decoding: bytes[(i + 1)...j], as: UTF8.self)
                    i = j + 1
                    if let k = escapeSequences[seq] {
                        out.append(.stroke(Stroke(key: k, shift: seq == "[Z")))
                    } else if let s = modifiedSequence(seq) {
                        out.append(.stroke(s))
                    }
                    continue
                }
                if n == 0x1B { out.append(.stroke(Stroke(key: .escape))); i += 1; continue }
                // Alt + the next key.
                let (inner, used) = decodeTerminal([n], final: true)
                if case .stroke(var s)? = inner.first, used == 1 {
                    s.alt = true
                    out.append(.stroke(s))
                }
                i += 2
                continue
            }
            i += 1
            if let input = decodeByte(b) { out.append(input) }
        }
        return (out, i)
    }

    /// xterm modified keys: CSI 1;<mod>A etc. and CSI <n>;<mod>~.
    private static func modifiedSequence(_ seq: String) -> Stroke? {
        guard seq.hasPrefix("["), let semi = seq.firstIndex(of: ";") else { return nil }
        let head = String(seq[seq.index(after: seq.startIndex)..<semi])
        let tail = seq[seq.index(after: semi)...]
        guard let final = tail.last else { return nil }
        guard let mod = Int(tail.dropLast()), mod >= 2 else { return nil }
        let base = final == "~" ? "[" + head + "~" : "[" + String(final)
        guard let k = escapeSequences[base] else { return nil }
        let m = mod - 1
        return Stroke(key: k, shift: m & 1 != 0, ctrl: m & 4 != 0, alt: m & 2 != 0)
    }

    private static func decodeByte(_ b: UInt8) -> TerminalInput? {
        switch b {
        case 0x1D: return .quit
        case 0x0D, 0x0A: return .stroke(Stroke(key: .enter))
        case 0x09: return .stroke(Stroke(key: .tab))
        case 0x7F, 0x08: return .stroke(Stroke(key: .backspace))
        case 0x00: return .stroke(Stroke(key: .space, ctrl: true))
        case 0x01...0x1A:
            // Ctrl+letter.
            let c = Character(Unicode.Scalar(b + 0x60))
            guard let (k, _) = PS2Key.forASCII(c) else { return nil }
            return .stroke(Stroke(key: k, ctrl: true))
        case 0x1C: return .stroke(Stroke(key: .backslash, ctrl: true))
        case 0x1E: return .stroke(Stroke(key: .digit6, shift: true, ctrl: true))
        case 0x1F: return .stroke(Stroke(key: .minus, shift: true, ctrl: true))
        case 0x20...0x7E:
            guard let (k, shift) = PS2Key.forASCII(Character(Unicode.Scalar(b))) else { return nil }
            return .stroke(Stroke(key: k, shift: shift))
        default:
            return nil   // non-ASCII (UTF-8) input has no key on a US keyboard
        }
    }
}
