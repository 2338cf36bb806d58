/// Allocation-free formatted text.
///
/// `kprint("IMR \(hex: mask, digits: 2), \(ticks) ticks")` builds a `Message`
/// in a fixed 256-byte buffer on the stack through Swift's string
/// interpolation machinery (literal segments are `StaticString`s), so
/// printing never touches the heap and is safe in interrupt handlers.
struct Message: ExpressibleByStringInterpolation {
    static let capacity = 256

    private(set) var bytes: InlineArray<256, UInt8> = .init(repeating: 0)
    private(set) var count = 0

    init() {}

    init(stringLiteral literal: StaticString) {
        append(literal)
    }

    init(stringInterpolation: Interpolation) {
        self = stringInterpolation.message
    }

    mutating func append(byte: UInt8) {
        if count < Message.capacity {
            bytes[count] = byte
            count += 1
        }
    }

    mutating func append(_ text: StaticString) {
        let start = text.utf8Start
        for i in 0..<text.utf8CodeUnitCount {
            append(byte: start[i])
        }
    }

    mutating func append(_ text: UnsafeBufferPointer<UInt8>) {
        for b in text { append(byte: b) }
    }

    mutating func append(unsigned value: UInt64, minimumDigits: Int = 1) {
        var digits: InlineArray<20, UInt8> = .init(repeating: 0)
        var n = 0
        var v = value
        repeat {
            digits[n] = UInt8(truncatingIfNeeded: v % 10) &+ 48
            n += 1
            v /= 10
        } while v != 0
        var pad = minimumDigits - n
        while pad > 0 { append(byte: 48); pad -= 1 }
        while n > 0 { n -= 1; append(byte: digits[n]) }
    }

    mutating func append(signed value: Int64) {
        if value < 0 {
            append(byte: 45)  // '-'
            append(unsigned: UInt64(bitPattern: 0 &- value))
        } else {
            append(unsigned: UInt64(value))
        }
    }

    /// Hex digits only (no prefix), at least `digits` of them.
    mutating func append(hexDigits value: UInt64, digits: Int) {
        var width = 1
        var probe = value >> 4
        while probe != 0 { width += 1; probe >>= 4 }
        if width < digits { width = digits }
        var shift = (width - 1) * 4
        while shift >= 0 {
            let nibble = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & 0xF)
            append(byte: nibble < 10 ? 48 &+ nibble : 87 &+ nibble)
            shift -= 4
        }
    }

    struct Interpolation: StringInterpolationProtocol {
        typealias StringLiteralType = StaticString
        var message = Message()

        init(literalCapacity: Int, interpolationCount: Int) {}

        mutating func appendLiteral(_ literal: StaticString) {
            message.append(literal)
        }

        mutating func appendInterpolation(_ text: StaticString) {
            message.append(text)
        }

        mutating func appendInterpolation(_ message: Message) {
            for i in 0..<message.count { self.message.append(byte: message.bytes[i]) }
        }

        /// Decimal, optionally zero-padded to `width` digits.
        mutating func appendInterpolation<T: BinaryInteger>(_ value: T, width: Int = 1) {
            if T.isSigned && value < 0 {
                message.append(signed: Int64(truncatingIfNeeded: value))
            } else {
                message.append(unsigned: UInt64(truncatingIfNeeded: value), minimumDigits: width)
            }
        }

        /// "0x" and hex digits, at least `digits` of them.
        mutating func appendInterpolation<T: BinaryInteger>(hex value: T, digits: Int = 1) {
            message.append("0x")
            message.append(hexDigits: UInt64(truncatingIfNeeded: value), digits: digits)
        }

        /// Binary digits, exactly `digits` of them (most significant first).
        mutating func appendInterpolation<T: BinaryInteger>(bin value: T, digits: Int = 8) {
            let v = UInt64(truncatingIfNeeded: value)
            var i = digits - 1
            while i >= 0 {
                message.append(byte: (v >> UInt64(i)) & 1 == 1 ? 49 : 48)
                i -= 1
            }
        }

        mutating func appendInterpolation(char: UInt8) {
            message.append(byte: char)
        }

        mutating func appendInterpolation(_ text: UnsafeBufferPointer<UInt8>) {
            message.append(text)
        }

        mutating func appendInterpolation(yesNo flag: Bool) {
            message.append(flag ? "yes" : "no")
        }

        mutating func appendInterpolation(onOff flag: Bool) {
            message.append(flag ? "on" : "off")
        }
    }
}

/// Text attributes of the VGA console (background << 4 | foreground).
struct Colour {
    let rawValue: UInt8
    static let normal = Colour(rawValue: 0x07)     // light grey on black
    static let bright = Colour(rawValue: 0x0F)     // white
    static let good = Colour(rawValue: 0x0A)       // light green
    static let bad = Colour(rawValue: 0x0C)        // light red
    static let warn = Colour(rawValue: 0x0E)       // yellow
    static let info = Colour(rawValue: 0x0B)       // light cyan
    static let dim = Colour(rawValue: 0x08)        // dark grey
    static let prompt = Colour(rawValue: 0x0A)     // light green
    static let status = Colour(rawValue: 0x1F)     // white on blue
    static let panic = Colour(rawValue: 0x4F)      // white on red
}

/// Prints to the console (VGA text screen, mirrored to COM1 and optionally port 0xE9).
func kprint(_ message: Message, _ colour: Colour = .normal) {
    Console.write(message, attribute: colour.rawValue)
}
