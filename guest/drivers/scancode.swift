/// Decoder for PS/2 scan code set 1, the codes the 8042 delivers with its
/// set 2 -> set 1 translation on (command byte bit 6, as the firmware leaves
/// it), US layout.
///
/// Set 1 facts: a key press sends its make code (0x01-0x58 on a 101/102-key
/// keyboard), the release sends make | 0x80. Keys added by the enhanced
/// keyboard (right Ctrl/Alt, the grey arrows and Home/End/…, keypad Enter and
/// '/') are prefixed with 0xE0. Pause sends E1 1D 45 E1 9D C5 on press and
/// nothing on release. The grey keys may be surrounded by "fake shift" codes
/// E0 2A / E0 AA (and E0 36 / E0 B6), which must not count as Shift. Print
/// Screen is E0 2A E0 37. Bytes that are not keys: 0xFA (ACK), 0xFE (resend),
/// 0xEE (echo reply), 0x00 / 0xFF (error / overrun). 0xAA is both the BAT
/// "self-test passed" reply and the release of Left Shift; treating it as the
/// release is harmless.
struct KeyEvent {
    var code: UInt16          // Key.* : set-1 make code, 0x100 | code after E0
    var pressed: Bool
    var ascii: UInt8          // 0 if the key produces no character
    var ctrl: Bool
    var alt: Bool
    var shift: Bool
}

/// Key codes: the set 1 make code, with 0x100 added for E0-prefixed keys.
enum Key {
    static let escape: UInt16 = 0x01
    static let backspace: UInt16 = 0x0E
    static let tab: UInt16 = 0x0F
    static let enter: UInt16 = 0x1C
    static let leftCtrl: UInt16 = 0x1D
    static let a: UInt16 = 0x1E
    static let leftShift: UInt16 = 0x2A
    static let rightShift: UInt16 = 0x36
    static let leftAlt: UInt16 = 0x38
    static let space: UInt16 = 0x39
    static let capsLock: UInt16 = 0x3A
    static let f1: UInt16 = 0x3B
    static let f10: UInt16 = 0x44
    static let numLock: UInt16 = 0x45
    static let scrollLock: UInt16 = 0x46
    static let keypad7: UInt16 = 0x47
    static let keypadDot: UInt16 = 0x53
    static let f11: UInt16 = 0x57
    static let f12: UInt16 = 0x58
    static let extended: UInt16 = 0x100
    static let keypadEnter: UInt16 = 0x11C
    static let rightCtrl: UInt16 = 0x11D
    static let keypadSlash: UInt16 = 0x135
    static let printScreen: UInt16 = 0x137
    static let rightAlt: UInt16 = 0x138
    static let home: UInt16 = 0x147
    static let up: UInt16 = 0x148
    static let pageUp: UInt16 = 0x149
    static let left: UInt16 = 0x14B
    static let right: UInt16 = 0x14D
    static let end: UInt16 = 0x14F
    static let down: UInt16 = 0x150
    static let pageDown: UInt16 = 0x151
    static let insert: UInt16 = 0x152
    static let delete: UInt16 = 0x153
    static let pause: UInt16 = 0x200
}

struct ScancodeDecoder {
    enum State { case start, extended, pause1, pause2 }

    var state = State.start
    var leftShift = false, rightShift = false
    var leftCtrl = false, rightCtrl = false
    var leftAlt = false, rightAlt = false
    var capsLock = false
    var numLock = true
    var scrollLock = false
    /// Set when a lock key toggled; the keyboard driver updates the LEDs.
    var locksChanged = false
    private var capsHeld = false, numHeld = false, scrollHeld = false

    var shift: Bool { leftShift || rightShift }
    var ctrl: Bool { leftCtrl || rightCtrl }
    var alt: Bool { leftAlt || rightAlt }

    /// Keyboard LED bits for command 0xED: bit 0 Scroll, 1 Num, 2 Caps.
    var ledMask: UInt8 {
        (scrollLock ? 1 : 0) | (numLock ? 2 : 0) | (capsLock ? 4 : 0)
    }

    // Characters for make codes 0x00-0x39, unshifted and shifted.
    static let plain: StaticString = "\0\u{1B}1234567890-=\u{8}\tqwertyuiop[]\n\0asdfghjkl;'`\0\\zxcvbnm,./\0*\0 "
    static let shifted: StaticString = "\0\u{1B}!@#$%^&*()_+\u{8}\tQWERTYUIOP{}\n\0ASDFGHJKL:\"~\0|ZXCVBNM<>?\0*\0 "
    // Keypad 0x47-0x53 with Num Lock on.
    static let keypad: StaticString = "789-456+1230."

    /// Feeds one byte; returns a key event once a complete code was seen.
    mutating func feed(_ byte: UInt8) -> KeyEvent? {
        switch state {
        case .start:
            switch byte {
            case 0xE0: state = .extended; return nil
            case 0xE1: state = .pause1; return nil
            case 0x00, 0xFF, 0xFA, 0xFE, 0xEE: return nil
            default: return event(code: UInt16(byte & 0x7F), pressed: byte & 0x80 == 0)
            }
        case .extended:
            state = .start
            let make = byte & 0x7F
            if make == 0x2A || make == 0x36 { return nil }   // fake shifts
            if byte == 0xE0 || byte == 0xE1 { state = byte == 0xE0 ? .extended : .pause1; return nil }
            return event(code: Key.extended | UInt16(make), pressed: byte & 0x80 == 0)
        case .pause1:
            state = (byte & 0x7F) == 0x1D ? .pause2 : .start
            return nil
        case .pause2:
            state = .start
            guard byte & 0x7F == 0x45 else { return nil }
            return event(code: Key.pause, pressed: byte & 0x80 == 0)
        }
    }

    private mutating func event(code rawCode: UInt16, pressed: Bool) -> KeyEvent? {
        guard rawCode != 0 && rawCode != Key.extended else { return nil }
        var code = rawCode
        switch code {
        case Key.leftShift: leftShift = pressed
        case Key.rightShift: rightShift = pressed
        case Key.leftCtrl: leftCtrl = pressed
        case Key.rightCtrl: rightCtrl = pressed
        case Key.leftAlt: leftAlt = pressed
        case Key.rightAlt: rightAlt = pressed
        case Key.capsLock:
            if pressed && !capsHeld { capsLock.toggle(); locksChanged = true }
            capsHeld = pressed
        case Key.numLock:
            if pressed && !numHeld { numLock.toggle(); locksChanged = true }
            numHeld = pressed
        case Key.scrollLock:
            if pressed && !scrollHeld { scrollLock.toggle(); locksChanged = true }
            scrollHeld = pressed
        default: break
        }

        var ascii: UInt8 = 0
        if code < 0x3A {
            let normal = ScancodeDecoder.plain.utf8Start[Int(code)]
            let isLetter = normal >= 97 && normal <= 122
            if ctrl && isLetter {
                ascii = normal & 0x1F                    // Ctrl+A = 1 ... Ctrl+Z = 26
            } else if isLetter {
                ascii = shift != capsLock ? normal - 32 : normal
            } else {
                ascii = shift ? ScancodeDecoder.shifted.utf8Start[Int(code)] : normal
            }
        } else if code >= Key.keypad7 && code <= Key.keypadDot {
            let index = Int(code - Key.keypad7)
            let ch = ScancodeDecoder.keypad.utf8Start[index]
            if ch == 45 || ch == 43 {                    // '-' and '+' regardless of Num Lock
                ascii = ch
            } else if numLock && !shift {
                ascii = ch
            } else {
                code |= Key.extended                     // the grey-key equivalent
            }
        } else if code == Key.keypadSlash {
            ascii = 47
        } else if code == Key.keypadEnter {
            ascii = 10
        }
        return KeyEvent(code: code, pressed: pressed, ascii: pressed ? ascii : 0,
                        ctrl: ctrl, alt: alt, shift: shift)
    }
}
