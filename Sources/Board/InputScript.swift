import Devices

/// Scripted input at virtual times: key presses, mouse motion and serial bytes.
///
/// `--keys` text: characters are typed on a US layout (shift added as
/// needed). Escapes: `\n` Enter, `\t` Tab, `\b` Backspace, `\e` Escape,
/// `\\` a backslash, `\{` a brace. Braces hold commands: `{NAME}` presses and
/// releases a named key (`{f1}`, `{up}`, `{pause}`), `{+NAME}` holds it down,
/// `{-NAME}` releases it, `{wait 200ms}` (or `500us`, `2s`) pauses.
///
/// `--input` files: one event per line, `TIME ACTION ARGS`, `#` comments.
/// TIME is absolute (`1.5s`, `200ms`, `300us`, `1000ns`) or relative to the
/// previous line (`+50ms`). Actions: `keydown NAME`, `keyup NAME`,
/// `key NAME` (press and release), `type TEXT` (the rest of the line, with the
/// `--keys` escapes), `mouse DX DY [BUTTONS]`, `serial TEXT` (bytes into COM1,
/// `\n` `\r` `\xHH` escapes).
public struct InputScript: Equatable {
    public enum Action: Equatable {
        case keyDown(PS2Key)
        case keyUp(PS2Key)
        case mouse(dx: Int, dy: Int, buttons: UInt8)
        case serial([UInt8])
    }
    public struct Event: Equatable {
        public var time: UInt64
        public var action: Action
    }
    public var events: [Event] = []

    /// Time a typed key is held, and the gap from one key to the next.
    public static let holdNs: UInt64 = 30_000_000
    public static let strideNs: UInt64 = 60_000_000

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    public init() {}

    /// Parses a duration like `200ms`, `1.5s`, `300us`, `42ns`.
    public static func parseDuration(_ s: Substring) -> UInt64? {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("ms", 1e6), ("s", 1e9)]
        for (u, mul) in units where s.hasSuffix(u) {
            let num = s.dropLast(u.count)
            guard !num.isEmpty, let v = Double(num), v >= 0, v.isFinite, v * mul < 1.8e19 else { return nil }
            return UInt64(v * mul)
        }
        return nil
    }

    /// Appends the key events for `text` (the `--keys` syntax) from `start`;
    /// returns the time after the last key.
    @discardableResult
    public mutating func addKeys(_ text: String, start: UInt64) throws -> UInt64 {
        var t = start
        var it = Array(text)
        var i = 0
        func tap(_ k: PS2Key, shift: Bool) {
            if shift { events.append(Event(time: t, action: .keyDown(.leftShift))) }
            events.append(Event(time: t &+ (shift ? 5_000_000 : 0), action: .keyDown(k)))
            events.append(Event(time: t &+ InputScript.holdNs, action: .keyUp(k)))
            if shift { events.append(Event(time: t &+ InputScript.holdNs &+ 5_000_000, action: .keyUp(.leftShift))) }
            t = t &+ InputScript.strideNs
        }
        func named(_ n: String) throws -> PS2Key {
            guard let k = PS2Key.named(n.lowercased()) else {
                throw ParseError(description: "unknown key name '\(n)'")
            }
            return k
        }
        while i < it.count {
            let c = it[i]
            if c == "\\" {
                guard i + 1 < it.count else { throw ParseError(description: "a lone backslash ends the key text") }
                let e = it[i + 1]
                i += 2
                switch e {
                case "n": tap(try named("enter"), shift: false)
                case "t": tap(try named("tab"), shift: false)
                case "b": tap(try named("backspace"), shift: false)
                case "e": tap(try named("esc"), shift: false)
                case "\\", "{", "}":
                    guard let (k, sh) = PS2Key.forASCII(e) else { throw ParseError(description: "cannot type '\(e)'") }
                    tap(k, shift: sh)
                default: throw ParseError(description: "unknown escape '\\\(e)'")
                }
                continue
            }
            if c == "{" {
                guard let close = it[i...].firstIndex(of: "}") else {
                    throw ParseError(description: "'{' without a closing '}'")
                }
                let body = String(it[(i + 1)..<close]).trimmingCharacters(in: " ")
                i = close + 1
                if body.hasPrefix("wait") {
                    let arg = body.dropFirst(4).trimmingCharacters(in: " ")
                    guard let d = InputScript.parseDuration(Substring(arg)) else {
                        throw ParseError(description: "bad duration in '{\(body)}' (use e.g. 200ms, 1.5s)")
                    }
                    t = t &+ d
                } else if body.hasPrefix("+") {
                    events.append(Event(time: t, action: .keyDown(try named(String(body.dropFirst())))))
                    t = t &+ InputScript.strideNs
                } else if body.hasPrefix("-") {
                    events.append(Event(time: t, action: .keyUp(try named(String(body.dropFirst())))))
                    t = t &+ InputScript.strideNs
                } else {
                    tap(try named(body), shift: false)
                }
                continue
            }
            guard let (k, sh) = PS2Key.forASCII(c) else {
                throw ParseError(description: "cannot type '\(c)' on a US keyboard")
            }
            tap(k, shift: sh)
            i += 1
        }
        it.removeAll()
        sortEvents()
        return t
    }

    /// Parses an `--input` file.
    public static func parseFile(_ text: String) throws -> InputScript {
        var s = InputScript()
        var last: UInt64 = 0
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            func fail(_ m: String) -> ParseError { ParseError(description: "line \(n + 1): \(m)") }
            guard parts.count >= 2 else { throw fail("expected 'TIME ACTION ...'") }
            var ts = parts[0]
            var rel = false
            if ts.hasPrefix("+") { rel = true; ts = ts.dropFirst() }
            guard let d = parseDuration(ts) else { throw fail("bad time '\(parts[0])'") }
            let t = rel ? last &+ d : d
            last = t
            let arg = parts.count > 2 ? String(parts[2]) : ""
            func key() throws -> PS2Key {
                guard let k = PS2Key.named(arg.lowercased()) else { throw fail("unknown key '\(arg)'") }
                return k
            }
            switch parts[1] {
            case "keydown": s.events.append(Event(time: t, action: .keyDown(try key())))
            case "keyup": s.events.append(Event(time: t, action: .keyUp(try key())))
            case "key":
                let k = try key()
                s.events.append(Event(time: t, action: .keyDown(k)))
                s.events.append(Event(time: t &+ holdNs, action: .keyUp(k)))
            case "type":
                do { last = try s.addKeys(arg, start: t) } catch let e as ParseError { throw fail(e.description) }
            case "mouse":
                let nums = arg.split(separator: " ").map { Int($0) }
                guard nums.count >= 2, nums.count <= 3, nums.allSatisfy({ $0 != nil }) else {
                    throw fail("mouse wants DX DY [BUTTONS]")
                }
                let b = nums.count == 3 ? nums[2]! : 0
                guard abs(nums[0]!) < 1 << 16, abs(nums[1]!) < 1 << 16, (0...7).contains(b) else {
                    throw fail("mouse values out of range")
                }
                s.events.append(Event(time: t, action: .mouse(dx: nums[0]!, dy: nums[1]!, buttons: UInt8(b))))
            case "serial":
                guard let bytes = unescapeBytes(arg) else { throw fail("bad escape in serial text") }
                s.events.append(Event(time: t, action: .serial(bytes)))
            default:
                throw fail("unknown action '\(parts[1])'")
            }
        }
        s.sortEvents()
        return s
    }

    static func unescapeBytes(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\") {
                guard i + 1 < b.count else { return nil }
                switch b[i + 1] {
                case UInt8(ascii: "n"): out.append(10); i += 2
                case UInt8(ascii: "r"): out.append(13); i += 2
                case UInt8(ascii: "t"): out.append(9); i += 2
                case UInt8(ascii: "\\"): out.append(0x5C); i += 2
                case UInt8(ascii: "x"):
                    guard i + 3 < b.count, let v = UInt8(String(decoding: b[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) else { return nil }
                    out.append(v); i += 4
                default: return nil
                }
            } else {
                out.append(b[i]); i += 1
            }
        }
        return out
    }

    /// Stable sort by time, keeping the written order of simultaneous events.
    mutating func sortEvents() {
        events = events.enumerated().sorted { a, b in
            a.element.time != b.element.time ? a.element.time < b.element.time : a.offset < b.offset
        }.map { $0.element }
    }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
private extension Substring {
    func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}

extension PC {
    /// Feeds `script`'s events to the machine at their virtual times.
    public func schedule(_ script: InputScript) {
        var queue = script.events[...]
        var timer = 0
        timer = clock.makeTimer("input") { [unowned self] _ in
            while let e = queue.first, e.time <= self.clock.now {
                queue = queue.dropFirst()
                self.apply(e.action)
            }
            if let e = queue.first { self.clock.schedule(timer, at: e.time) }
        }
        if let e = queue.first { clock.schedule(timer, at: e.time) }
    }

    public func apply(_ a: InputScript.Action) {
        switch a {
        case .keyDown(let k): kbc.keyboard.press(k)
        case .keyUp(let k): kbc.keyboard.release(k)
        case .mouse(let dx, let dy, let b): kbc.mouse.move(dx: dx, dy: dy, buttons: b)
        case .serial(let bytes): for b in bytes { uart.receive(b) }
        }
    }
}
