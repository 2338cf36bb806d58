// Physical keys of a PC keyboard, identified by their scan code set 2 make code.
// Frontends map host key events to these (by physical position, not by the
// character printed on the host key), scripts name them, and the keyboard model
// turns presses and releases into scan codes of the selected set.

/// A physical key, identified by its set-2 make code and prefix.
///
/// Most keys are one byte (`1C` for A) or `E0`-prefixed (`E0 75` for Up).
/// Two keys are special: Pause (`E1 14 77 E1 F0 14 F0 77`, make only) is
/// represented as prefix `.e1` with code `0x77`; Print Screen is `E0 7C`
/// (the keyboard adds the `E0 12` fake shift itself when no modifier is held).
public struct PS2Key: Hashable, Sendable, CustomStringConvertible {
    public enum Prefix: UInt8, Sendable {
        case none = 0
        case e0 = 0xE0
        case e1 = 0xE1
    }

    /// Set-2 make code (without prefix).
    public let code: UInt8
    public let prefix: Prefix

    public init(code: UInt8, extended: Bool = false) {
        self.code = code
        self.prefix = extended ? .e0 : .none
    }

    init(code: UInt8, prefix: Prefix) {
        self.code = code
        self.prefix = prefix
    }

    /// True for `E0`-prefixed keys.
    public var extended: Bool { prefix == .e0 }

    /// The canonical script name ("a", "lshift", "kp5", "up" ...), or a hex
    /// form ("sc2:e0:5e") for a key outside the built-in table.
    public var name: String {
        if let info = PS2Key.infoByKey[self] { return info.names[0] }
        let hex = String(code, radix: 16)
        switch prefix {
        case .none: return "sc2:\(hex)"
        case .e0: return "sc2:e0:\(hex)"
        case .e1: return "sc2:e1:\(hex)"
        }
    }

    public var description: String { name }

    /// Scan code set 3 make code, when the key is in the table.
    var set3Code: UInt8? { PS2Key.infoByKey[self]?.set3 }

    // MARK: - The keys of a US 104-key keyboard plus the ISO 102nd key

    public static let escape = PS2Key(code: 0x76)
    public static let f1 = PS2Key(code: 0x05)
    public static let f2 = PS2Key(code: 0x06)
    public static let f3 = PS2Key(code: 0x04)
    public static let f4 = PS2Key(code: 0x0C)
    public static let f5 = PS2Key(code: 0x03)
    public static let f6 = PS2Key(code: 0x0B)
    public static let f7 = PS2Key(code: 0x83)
    public static let f8 = PS2Key(code: 0x0A)
    public static let f9 = PS2Key(code: 0x01)
    public static let f10 = PS2Key(code: 0x09)
    public static let f11 = PS2Key(code: 0x78)
    public static let f12 = PS2Key(code: 0x07)
    public static let printScreen = PS2Key(code: 0x7C, prefix: .e0)
    public static let scrollLock = PS2Key(code: 0x7E)
    public static let pause = PS2Key(code: 0x77, prefix: .e1)

    public static let grave = PS2Key(code: 0x0E)
    public static let digit1 = PS2Key(code: 0x16)
    public static let digit2 = PS2Key(code: 0x1E)
    public static let digit3 = PS2Key(code: 0x26)
    public static let digit4 = PS2Key(code: 0x25)
    public static let digit5 = PS2Key(code: 0x2E)
    public static let digit6 = PS2Key(code: 0x36)
    public static let digit7 = PS2Key(code: 0x3D)
    public static let digit8 = PS2Key(code: 0x3E)
    public static let digit9 = PS2Key(code: 0x46)
    public static let digit0 = PS2Key(code: 0x45)
    public static let minus = PS2Key(code: 0x4E)
    public static let equals = PS2Key(code: 0x55)
    public static let backspace = PS2Key(code: 0x66)

    public static let tab = PS2Key(code: 0x0D)
    public static let q = PS2Key(code: 0x15)
    public static let w = PS2Key(code: 0x1D)
    public static let e = PS2Key(code: 0x24)
    public static let r = PS2Key(code: 0x2D)
    public static let t = PS2Key(code: 0x2C)
    public static let y = PS2Key(code: 0x35)
    public static let u = PS2Key(code: 0x3C)
    public static let i = PS2Key(code: 0x43)
    public static let o = PS2Key(code: 0x44)
    public static let p = PS2Key(code: 0x4D)
    public static let leftBracket = PS2Key(code: 0x54)
    public static let rightBracket = PS2Key(code: 0x5B)
    public static let backslash = PS2Key(code: 0x5D)

    public static let capsLock = PS2Key(code: 0x58)
    public static let a = PS2Key(code: 0x1C)
    public static let s = PS2Key(code: 0x1B)
    public static let d = PS2Key(code: 0x23)
    public static let f = PS2Key(code: 0x2B)
    public static let g = PS2Key(code: 0x34)
    public static let h = PS2Key(code: 0x33)
    public static let j = PS2Key(code: 0x3B)
    public static let k = PS2Key(code: 0x42)
    public static let l = PS2Key(code: 0x4B)
    public static let semicolon = PS2Key(code: 0x4C)
    public static let quote = PS2Key(code: 0x52)
    public static let enter = PS2Key(code: 0x5A)

    public static let leftShift = PS2Key(code: 0x12)
    /// The ISO key between Left Shift and Z (set 1: 0x56).
    public static let iso102 = PS2Key(code: 0x61)
    public static let z = PS2Key(code: 0x1A)
    public static let x = PS2Key(code: 0x22)
    public static let c = PS2Key(code: 0x21)
    public static let v = PS2Key(code: 0x2A)
    public static let b = PS2Key(code: 0x32)
    public static let n = PS2Key(code: 0x31)
    public static let m = PS2Key(code: 0x3A)
    public static let comma = PS2Key(code: 0x41)
    public static let period = PS2Key(code: 0x49)
    public static let slash = PS2Key(code: 0x4A)
    public static let rightShift = PS2Key(code: 0x59)

    public static let leftCtrl = PS2Key(code: 0x14)
    public static let leftGUI = PS2Key(code: 0x1F, prefix: .e0)
    public static let leftAlt = PS2Key(code: 0x11)
    public static let space = PS2Key(code: 0x29)
    public static let rightAlt = PS2Key(code: 0x11, prefix: .e0)
    public static let rightGUI = PS2Key(code: 0x27, prefix: .e0)
    public static let menu = PS2Key(code: 0x2F, prefix: .e0)
    public static let rightCtrl = PS2Key(code: 0x14, prefix: .e0)

    public static let insert = PS2Key(code: 0x70, prefix: .e0)
    public static let home = PS2Key(code: 0x6C, prefix: .e0)
    public static let pageUp = PS2Key(code: 0x7D, prefix: .e0)
    public static let delete = PS2Key(code: 0x71, prefix: .e0)
    public static let end = PS2Key(code: 0x69, prefix: .e0)
    public static let pageDown = PS2Key(code: 0x7A, prefix: .e0)
    public static let up = PS2Key(code: 0x75, prefix: .e0)
    public static let left = PS2Key(code: 0x6B, prefix: .e0)
    public static let down = PS2Key(code: 0x72, prefix: .e0)
    public static let right = PS2Key(code: 0x74, prefix: .e0)

    public static let numLock = PS2Key(code: 0x77)
    public static let keypadDivide = PS2Key(code: 0x4A, prefix: .e0)
    public static let keypadMultiply = PS2Key(code: 0x7C)
    public static let keypadMinus = PS2Key(code: 0x7B)
    public static let keypadPlus = PS2Key(code: 0x79)
    public static let keypadEnter = PS2Key(code: 0x5A, prefix: .e0)
    public static let keypadPeriod = PS2Key(code: 0x71)
    public static let keypad0 = PS2Key(code: 0x70)
    public static let keypad1 = PS2Key(code: 0x69)
    public static let keypad2 = PS2Key(code: 0x72)
    public static let keypad3 = PS2Key(code: 0x7A)
    public static let keypad4 = PS2Key(code: 0x6B)
    public static let keypad5 = PS2Key(code: 0x73)
    public static let keypad6 = PS2Key(code: 0x74)
    public static let keypad7 = PS2Key(code: 0x6C)
    public static let keypad8 = PS2Key(code: 0x75)
    public static let keypad9 = PS2Key(code: 0x7D)

    // MARK: - Table: names and set-3 codes

    struct Info: Sendable {
        let key: PS2Key
        let names: [String]   // first = canonical
        let set3: UInt8
    }

    /// Every built-in key with its script names and its set-3 code.
    static let table: [Info] = [
        Info(key: .escape, names: ["esc", "escape"], set3: 0x08),
        Info(key: .f1, names: ["f1"], set3: 0x07),
        Info(key: .f2, names: ["f2"], set3: 0x0F),
        Info(key: .f3, names: ["f3"], set3: 0x17),
        Info(key: .f4, names: ["f4"], set3: 0x1F),
        Info(key: .f5, names: ["f5"], set3: 0x27),
        Info(key: .f6, names: ["f6"], set3: 0x2F),
        Info(key: .f7, names: ["f7"], set3: 0x37),
        Info(key: .f8, names: ["f8"], set3: 0x3F),
        Info(key: .f9, names: ["f9"], set3: 0x47),
        Info(key: .f10, names: ["f10"], set3: 0x4F),
        Info(key: .f11, names: ["f11"], set3: 0x56),
        Info(key: .f12, names: ["f12"], set3: 0x5E),
        Info(key: .printScreen, names: ["prtsc", "printscreen", "print", "sysrq"], set3: 0x57),
        Info(key: .scrollLock, names: ["scrolllock", "scroll"], set3: 0x5F),
        Info(key: .pause, names: ["pause", "break"], set3: 0x62),

        Info(key: .grave, names: ["grave", "backquote", "`"], set3: 0x0E),
        Info(key: .digit1, names: ["1"], set3: 0x16),
        Info(key: .digit2, names: ["2"], set3: 0x1E),
        Info(key: .digit3, names: ["3"], set3: 0x26),
        Info(key: .digit4, names: ["4"], set3: 0x25),
        Info(key: .digit5, names: ["5"], set3: 0x2E),
        Info(key: .digit6, names: ["6"], set3: 0x36),
        Info(key: .digit7, names: ["7"], set3: 0x3D),
        Info(key: .digit8, names: ["8"], set3: 0x3E),
        Info(key: .digit9, names: ["9"], set3: 0x46),
        Info(key: .digit0, names: ["0"], set3: 0x45),
        Info(key: .minus, names: ["minus", "-"], set3: 0x4E),
        Info(key: .equals, names: ["equals", "equal", "="], set3: 0x55),
        Info(key: .backspace, names: ["backspace", "bksp", "bs"], set3: 0x66),

        Info(key: .tab, names: ["tab"], set3: 0x0D),
        Info(key: .q, names: ["q"], set3: 0x15),
        Info(key: .w, names: ["w"], set3: 0x1D),
        Info(key: .e, names: ["e"], set3: 0x24),
        Info(key: .r, names: ["r"], set3: 0x2D),
        Info(key: .t, names: ["t"], set3: 0x2C),
        Info(key: .y, names: ["y"], set3: 0x35),
        Info(key: .u, names: ["u"], set3: 0x3C),
        Info(key: .i, names: ["i"], set3: 0x43),
        Info(key: .o, names: ["o"], set3: 0x44),
        Info(key: .p, names: ["p"], set3: 0x4D),
        Info(key: .leftBracket, names: ["lbracket", "leftbracket", "["], set3: 0x54),
        Info(key: .rightBracket, names: ["rbracket", "rightbracket", "]"], set3: 0x5B),
        Info(key: .backslash, names: ["backslash", "\\"], set3: 0x5C),

        Info(key: .capsLock, names: ["capslock", "caps"], set3: 0x14),
        Info(key: .a, names: ["a"], set3: 0x1C),
        Info(key: .s, names: ["s"], set3: 0x1B),
        Info(key: .d, names: ["d"], set3: 0x23),
        Info(key: .f, names: ["f"], set3: 0x2B),
        Info(key: .g, names: ["g"], set3: 0x34),
        Info(key: .h, names: ["h"], set3: 0x33),
        Info(key: .j, names: ["j"], set3: 0x3B),
        Info(key: .k, names: ["k"], set3: 0x42),
        Info(key: .l, names: ["l"], set3: 0x4B),
        Info(key: .semicolon, names: ["semicolon", ";"], set3: 0x4C),
        Info(key: .quote, names: ["quote", "apostrophe", "'"], set3: 0x52),
        Info(key: .enter, names: ["enter", "return", "ret"], set3: 0x5A),

        Info(key: .leftShift, names: ["lshift", "leftshift", "shift"], set3: 0x12),
        Info(key: .iso102, names: ["iso102", "intlbackslash", "lessgreater"], set3: 0x13),
        Info(key: .z, names: ["z"], set3: 0x1A),
        Info(key: .x, names: ["x"], set3: 0x22),
        Info(key: .c, names: ["c"], set3: 0x21),
        Info(key: .v, names: ["v"], set3: 0x2A),
        Info(key: .b, names: ["b"], set3: 0x32),
        Info(key: .n, names: ["n"], set3: 0x31),
        Info(key: .m, names: ["m"], set3: 0x3A),
        Info(key: .comma, names: ["comma", ","], set3: 0x41),
        Info(key: .period, names: ["period", "dot", "."], set3: 0x49),
        Info(key: .slash, names: ["slash", "/"], set3: 0x4A),
        Info(key: .rightShift, names: ["rshift", "rightshift"], set3: 0x59),

        Info(key: .leftCtrl, names: ["lctrl", "leftctrl", "ctrl", "control"], set3: 0x11),
        Info(key: .leftGUI, names: ["lwin", "lgui", "lsuper", "lmeta", "win", "super"], set3: 0x8B),
        Info(key: .leftAlt, names: ["lalt", "leftalt", "alt"], set3: 0x19),
        Info(key: .space, names: ["space", " "], set3: 0x29),
        Info(key: .rightAlt, names: ["ralt", "rightalt", "altgr"], set3: 0x39),
        Info(key: .rightGUI, names: ["rwin", "rgui", "rsuper", "rmeta"], set3: 0x8C),
        Info(key: .menu, names: ["menu", "apps", "application"], set3: 0x8D),
        Info(key: .rightCtrl, names: ["rctrl", "rightctrl"], set3: 0x58),

        Info(key: .insert, names: ["insert", "ins"], set3: 0x67),
        Info(key: .home, names: ["home"], set3: 0x6E),
        Info(key: .pageUp, names: ["pgup", "pageup"], set3: 0x6F),
        Info(key: .delete, names: ["delete", "del"], set3: 0x64),
        Info(key: .end, names: ["end"], set3: 0x65),
        Info(key: .pageDown, names: ["pgdn", "pagedown"], set3: 0x6D),
        Info(key: .up, names: ["up"], set3: 0x63),
        Info(key: .left, names: ["left"], set3: 0x61),
        Info(key: .down, names: ["down"], set3: 0x60),
        Info(key: .right, names: ["right"], set3: 0x6A),

        Info(key: .numLock, names: ["numlock", "num"], set3: 0x76),
        Info(key: .keypadDivide, names: ["kpdivide", "kp/", "kpslash", "kpdiv"], set3: 0x77),
        Info(key: .keypadMultiply, names: ["kpmultiply", "kp*", "kpstar", "kpmul"], set3: 0x7E),
        Info(key: .keypadMinus, names: ["kpminus", "kp-", "kpsub"], set3: 0x84),
        Info(key: .keypadPlus, names: ["kpplus", "kp+", "kpadd"], set3: 0x7C),
        Info(key: .keypadEnter, names: ["kpenter"], set3: 0x79),
        Info(key: .keypadPeriod, names: ["kpperiod", "kp.", "kpdot", "kpdel"], set3: 0x71),
        Info(key: .keypad0, names: ["kp0"], set3: 0x70),
        Info(key: .keypad1, names: ["kp1"], set3: 0x69),
        Info(key: .keypad2, names: ["kp2"], set3: 0x72),
        Info(key: .keypad3, names: ["kp3"], set3: 0x7A),
        Info(key: .keypad4, names: ["kp4"], set3: 0x6B),
        Info(key: .keypad5, names: ["kp5"], set3: 0x73),
        Info(key: .keypad6, names: ["kp6"], set3: 0x74),
        Info(key: .keypad7, names: ["kp7"], set3: 0x6C),
        Info(key: .keypad8, names: ["kp8"], set3: 0x75),
        Info(key: .keypad9, names: ["kp9"], set3: 0x7D),
    ]

    static let infoByKey: [PS2Key: Info] = {
        var d: [PS2Key: Info] = [:]
        for i in table { d[i.key] = i }
        return d
    }()

    static let byName: [String: PS2Key] = {
        var d: [String: PS2Key] = [:]
        for i in table { for n in i.names { d[n] = i.key } }
        return d
    }()

    /// Every key of the built-in table, in keyboard order.
    public static var allKeys: [PS2Key] { table.map(\.key) }

    /// Looks a key up by script name, case-insensitively: "a", "enter", "esc",
    /// "lshift", "f1", "up", "kp5", "pause", "prtsc", "backspace", "tab",
    /// "space", ... Also accepts any single character typed without Shift on a
    /// US layout ("-", "/", "7"), and "sc2:XX" / "sc2:e0:XX" hex set-2 codes.
    public static func named(_ name: String) -> PS2Key? {
        if name == " " { return .space }
        let n = name.lowercased()
        if let k = byName[n] { return k }
        if n.hasPrefix("sc2:") {
            let parts = n.dropFirst(4).split(separator: ":")
            if parts.count == 1, let c = UInt8(parts[0], radix: 16) { return PS2Key(code: c) }
            if parts.count == 2, parts[0] == "e0", let c = UInt8(parts[1], radix: 16) {
                return PS2Key(code: c, extended: true)
            }
            return nil
        }
        if n.count == 1, let ch = n.first, let (k, shift) = forASCII(ch), !shift { return k }
        return nil
    }

    /// The key (and whether Shift must be held) that types `c` on a US layout.
    /// Handles printable ASCII plus "\n"/"\r" (Enter), "\t" (Tab),
    /// "\u{8}" (Backspace) and "\u{1B}" (Esc).
    public static func forASCII(_ c: Character) -> (PS2Key, shift: Bool)? {
        guard let a = c.asciiValue else { return nil }
        return asciiMap[Int(a)]
    }

    private static let asciiMap: [(PS2Key, shift: Bool)?] = {
        var m = [(PS2Key, shift: Bool)?](repeating: nil, count: 128)
        let letters: [PS2Key] = [.a, .b, .c, .d, .e, .f, .g, .h, .i, .j, .k, .l, .m,
                                 .n, .o, .p, .q, .r, .s, .t, .u, .v, .w, .x, .y, .z]
        for (i, k) in letters.enumerated() {
            m[0x61 + i] = (k, false)
            m[0x41 + i] = (k, true)
        }
        let digits: [PS2Key] = [.digit0, .digit1, .digit2, .digit3, .digit4,
                                .digit5, .digit6, .digit7, .digit8, .digit9]
        for (i, k) in digits.enumerated() { m[0x30 + i] = (k, false) }
        // Shifted digits on a US layout: ) ! @ # $ % ^ & * (
        let shiftedDigits: [Character] = [")", "!", "@", "#", "$", "%", "^", "&", "*", "("]
        for (i, ch) in shiftedDigits.enumerated() { m[Int(ch.asciiValue!)] = (digits[i], true) }
        let pairs: [(Character, Character, PS2Key)] = [
            ("`", "~", .grave), ("-", "_", .minus), ("=", "+", .equals),
            ("[", "{", .leftBracket), ("]", "}", .rightBracket), ("\\", "|", .backslash),
            (";", ":", .semicolon), ("'", "\"", .quote), (",", "<", .comma),
            (".", ">", .period), ("/", "?", .slash),
        ]
        for (plain, shifted, k) in pairs {
            m[Int(plain.asciiValue!)] = (k, false)
            m[Int(shifted.asciiValue!)] = (k, true)
        }
        m[0x20] = (.space, false)
        m[0x0A] = (.enter, false)
        m[0x0D] = (.enter, false)
        m[0x09] = (.tab, false)
        m[0x08] = (.backspace, false)
        m[0x1B] = (.escape, false)
        return m
    }()

    /// The navigation keys that carry MF2 fake shifts (KBD-23).
    var isGrayNavigation: Bool {
        guard prefix == .e0 else { return false }
        switch code {
        case 0x70, 0x71, 0x6C, 0x69, 0x7D, 0x7A, 0x75, 0x72, 0x6B, 0x74: return true
        default: return false
        }
    }
}
