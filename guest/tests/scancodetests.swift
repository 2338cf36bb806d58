/// Scan code set 1 decoder tests on known byte sequences (what the 8042
/// delivers with translation on).
enum ScancodeTests {
    /// Feeds `bytes` to a decoder; collects the events' codes, press flags
    /// and characters.
    struct Trace {
        var codes: InlineArray<16, UInt16> = .init(repeating: 0)
        var pressed: InlineArray<16, Bool> = .init(repeating: false)
        var chars = Message()
        var count = 0
    }

    static func feed(_ decoder: inout ScancodeDecoder, _ bytes: StaticString) -> Trace {
        // Sequences are written as hex text ("02 82 03"), so the tests read
        // like the tables in the keyboard documentation.
        var trace = Trace()
        var value: UInt8 = 0
        var digits = 0
        let p = bytes.utf8Start
        for i in 0...bytes.utf8CodeUnitCount {
            let c: UInt8 = i < bytes.utf8CodeUnitCount ? p[i] : 32
            switch c {
            case 48...57: value = value << 4 | (c - 48); digits += 1
            case 97...102: value = value << 4 | (c - 87); digits += 1
            case 65...70: value = value << 4 | (c - 55); digits += 1
            default:
                if digits > 0, let e = decoder.feed(value) {
                    if trace.count < 16 {
                        trace.codes[trace.count] = e.code
                        trace.pressed[trace.count] = e.pressed
                        trace.count += 1
                    }
                    if e.ascii != 0 { trace.chars.append(byte: e.ascii) }
                }
                value = 0
                digits = 0
            }
        }
        return trace
    }

    static func chars(_ t: Trace, _ expected: StaticString) -> Bool {
        guard t.chars.count == expected.utf8CodeUnitCount else { return false }
        for i in 0..<t.chars.count where t.chars.bytes[i] != expected.utf8Start[i] { return false }
        return true
    }

    static func run() {
        var d = ScancodeDecoder()
        var t = feed(&d, "02 82 03 83 04 84")
        SelfTest.check("scancode-digits", chars(t, "123") && t.count == 6 && t.pressed[0] && !t.pressed[1],
                       "\"123\" decoded as '\(t.chars)' (\(t.count) events)")

        d = ScancodeDecoder()
        t = feed(&d, "2A 23 A3 12 92 AA 26 A6 26 A6 18 98")     // Shift+h, e, then "llo"
        SelfTest.check("scancode-shift", chars(t, "HEllo") && !d.shift, "decoded '\(t.chars)'")

        d = ScancodeDecoder()
        t = feed(&d, "3A BA 1E 9E 2A 1E 9E AA 02 82 3A BA 1E 9E")
        SelfTest.check("scancode-capslock", chars(t, "Aa1a") && !d.capsLock,
                       "decoded '\(t.chars)', caps lock \(onOff: d.capsLock)")

        d = ScancodeDecoder()
        t = feed(&d, "E0 48 E0 C8 E0 50 E0 D0 E0 4B E0 CB E0 4D E0 CD")
        SelfTest.check("scancode-e0-arrows",
                       t.count == 8 && t.codes[0] == Key.up && t.pressed[0] && t.codes[1] == Key.up && !t.pressed[1]
                       && t.codes[2] == Key.down && t.codes[4] == Key.left && t.codes[6] == Key.right && t.chars.count == 0,
                       "\(t.count) events, first code \(hex: t.codes[0])")

        d = ScancodeDecoder()
        t = feed(&d, "E0 47 E0 C7 E0 4F E0 CF E0 53 E0 D3 E0 49 E0 51 E0 52")
        SelfTest.check("scancode-e0-editing-keys",
                       t.count == 9 && t.codes[0] == Key.home && t.codes[2] == Key.end && t.codes[4] == Key.delete
                       && !t.pressed[5] && t.codes[6] == Key.pageUp && t.codes[7] == Key.pageDown && t.codes[8] == Key.insert,
                       "\(t.count) events")

        // Grey Home with the keyboard's fake shift around it, then 'a':
        // the fake shift must not shift the letter.
        d = ScancodeDecoder()
        t = feed(&d, "E0 2A E0 47 E0 C7 E0 AA 1E 9E")
        SelfTest.check("scancode-fake-shift", t.count == 4 && t.codes[0] == Key.home && chars(t, "a"),
                       "\(t.count) events, chars '\(t.chars)'")

        d = ScancodeDecoder()
        t = feed(&d, "1D 2E AE 9D E0 1D 26 A6 E0 9D 2E AE")
        SelfTest.check("scancode-ctrl", t.chars.count == 3 && t.chars.bytes[0] == 3 && t.chars.bytes[1] == 12
                       && t.chars.bytes[2] == 99 && !d.ctrl,
                       "Ctrl+C, RCtrl+L, c decoded to \(hex: t.chars.bytes[0]) \(hex: t.chars.bytes[1]) \(hex: t.chars.bytes[2])")

        d = ScancodeDecoder()
        t = feed(&d, "E1 1D 45 E1 9D C5 1E 9E")
        SelfTest.check("scancode-pause", t.count == 4 && t.codes[0] == Key.pause && t.pressed[0] && !t.pressed[1]
                       && !d.ctrl && d.numLock && chars(t, "a"),
                       "\(t.count) events, first \(hex: t.codes[0]), ctrl \(onOff: d.ctrl)")

        d = ScancodeDecoder()
        t = feed(&d, "E0 2A E0 37 E0 B7 E0 AA 1C 9C E0 1C E0 9C E0 35")
        SelfTest.check("scancode-printscreen-enter",
                       t.codes[0] == Key.printScreen && t.codes[2] == Key.enter && t.codes[4] == Key.keypadEnter
                       && chars(t, "\n\n/") && !d.shift,
                       "codes \(hex: t.codes[0]) \(hex: t.codes[2]) \(hex: t.codes[4]), chars \(t.chars.count)")

        d = ScancodeDecoder()
        t = feed(&d, "47 C7 45 C5 47 C7 4A CA 4E CE")          // keypad 7, NumLock, keypad 7 (Home), - +
        SelfTest.check("scancode-keypad", chars(t, "7-+") && t.codes[2] == Key.numLock && t.codes[3] == Key.numLock
                       && t.codes[4] == Key.home && !d.numLock,
                       "decoded '\(t.chars)', code after NumLock \(hex: t.codes[4])")

        d = ScancodeDecoder()
        t = feed(&d, "FA EE FE 00 FF 10 90")
        SelfTest.check("scancode-ignores-replies", t.count == 2 && chars(t, "q"),
                       "\(t.count) events, chars '\(t.chars)'")

        d = ScancodeDecoder()
        t = feed(&d, "10 10 10 90")                            // typematic repeat: three makes, one break
        SelfTest.check("scancode-typematic", chars(t, "qqq") && t.count == 4 && !t.pressed[3], "decoded '\(t.chars)'")
    }
}
