import Devices

// The debugger's command language: a pure parser from one line of text to a
// command. Nothing here touches the machine; names (symbols, registers) are
// resolved when the command runs.

/// An address or value expression: numbers, registers, symbols, `+`/`-`,
/// and `[expr]` (the 64-bit value at a virtual address).
public indirect enum DebugExpr: Equatable, Sendable {
    case number(UInt64)
    case register(String)
    case symbol(String)
    case add(DebugExpr, DebugExpr)
    case sub(DebugExpr, DebugExpr)
    case deref(DebugExpr)
}

public enum DebugCompare: String, Equatable, Sendable {
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
}

/// `cond && cond && ...`, each `expr OP expr` (unsigned 64-bit comparisons).
public struct DebugCondition: Equatable, Sendable {
    public var terms: [(DebugExpr, DebugCompare, DebugExpr)]
    public var text: String
    public init(terms: [(DebugExpr, DebugCompare, DebugExpr)], text: String) { self.terms = terms; self.text = text }
    public static func == (a: DebugCondition, b: DebugCondition) -> Bool {
        a.text == b.text && a.terms.count == b.terms.count
            && zip(a.terms, b.terms).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 && $0.2 == $1.2 }
    }
}

public enum WatchKind: String, Equatable, Sendable {
    case write = "watch", read = "rwatch", access = "awatch"
}

public enum BreakSpec: Equatable, Sendable {
    /// An instruction address (linear).
    case address(DebugExpr)
    /// Any delivery through IDT vector N (external IRQ, INT n, exception).
    case vector(UInt8)
    /// IRQ line N acknowledged by the PIC pair and delivered.
    case irq(Int)
    /// Exception N delivered.
    case exception(UInt8)
    /// IN/OUT to a port in the range.
    case io(ClosedRange<UInt16>)
}

public enum RunLength: Equatable, Sendable {
    case instructions(UInt64)
    case nanoseconds(UInt64)
}

public struct ExamineSpec: Equatable, Sendable {
    public var count: Int
    /// 1, 2, 4, 8
    public var unit: Int
    /// x d u o t c s i
    public var format: Character
    public var address: DebugExpr
    public var physical: Bool
}

public enum DeviceName: String, Equatable, Sendable, CaseIterable {
    case pic, pit, kbc, rtc, vga, uart
}

public enum LineAction: String, Equatable, Sendable { case pulse, up, down }
public enum KeyAction: String, Equatable, Sendable { case tap, down, up }

public enum DebugCommand: Equatable, Sendable {
    case empty
    case help(String?)
    case step(UInt64)
    case next(UInt64)
    case finish
    case continueRun
    case until(DebugExpr)
    case runFor(RunLength)
    case breakpoint(BreakSpec, DebugCondition?, temporary: Bool)
    case watch(DebugExpr, length: UInt64, kind: WatchKind)
    case listBreakpoints
    case delete(Int?)
    case enable(Int, Bool)
    case registers
    case setRegister(String, DebugExpr)
    case examine(ExamineSpec)
    case disassemble(DebugExpr?, Int?)
    case backtrace(Int?)
    case gdt
    case idt(Int?)
    case tss
    case page(DebugExpr)
    case device(DeviceName)
    case screen
    case irq(Int, LineAction)
    case key(String, KeyAction)
    case type(String)
    case trace(TraceCategory, Bool)
    case symbol(String)
    case print(DebugExpr)
    case echo(String)
    case info
    case quit(Int32?)
}

extension DebugCommand {
    public typealias ParseError = DebugParseError
    /// The pure command parser (same as `DebugCommandParser.parse`).
    public static func parse(_ line: String) -> Result<DebugCommand, ParseError> {
        DebugCommandParser.parse(line)
    }
}

public struct DebugParseError: Error, Equatable, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ m: String) { message = m }
    public var description: String { message }
}

/// The command table: canonical name, aliases, usage, one-line help.
public struct DebugCommandInfo: Sendable {
    public var name: String
    public var aliases: [String]
    public var usage: String
    public var help: String
}

public enum DebugCommandParser {
    public static let table: [DebugCommandInfo] = [
        .init(name: "help", aliases: ["h", "?"], usage: "help [COMMAND]", help: "list commands, or explain one"),
        .init(name: "step", aliases: ["s", "si", "stepi"], usage: "step [N]", help: "execute N instructions (default 1), into calls and interrupt handlers"),
        .init(name: "next", aliases: ["n", "ni", "nexti"], usage: "next [N]", help: "execute N instructions, stepping over CALL, INT n, SYSCALL and interrupts that arrive meanwhile"),
        .init(name: "finish", aliases: ["fin"], usage: "finish", help: "run until the current function returns (by its return address and frame)"),
        .init(name: "continue", aliases: ["c", "cont"], usage: "continue", help: "run until a breakpoint, a watchpoint, Ctrl-C or the machine stops"),
        .init(name: "until", aliases: ["u"], usage: "until ADDR", help: "run until execution reaches ADDR (or another breakpoint)"),
        .init(name: "run-for", aliases: ["rf"], usage: "run-for N | run-for TIME", help: "run N instructions, or for virtual TIME (10ms, 2s, 500us, 100ns)"),
        .init(name: "break", aliases: ["b"], usage: "break ADDR|SYMBOL [if COND] | break int N | break irq N | break exc N | break io PORT[-PORT]",
              help: "stop before an instruction (optionally only when COND holds, e.g. 'if rax==5 && rcx!=0'), on delivery of IDT vector N, on IRQ N being delivered, on exception N, or on IN/OUT to ports"),
        .init(name: "tbreak", aliases: ["tb"], usage: "tbreak ADDR|SYMBOL [if COND]", help: "a breakpoint deleted when first hit"),
        .init(name: "watch", aliases: ["w"], usage: "watch ADDR [LEN]", help: "stop after a write to LEN bytes at ADDR (virtual; default 8)"),
        .init(name: "rwatch", aliases: ["rw"], usage: "rwatch ADDR [LEN]", help: "stop after a read of ADDR"),
        .init(name: "awatch", aliases: ["aw"], usage: "awatch ADDR [LEN]", help: "stop after a read or write of ADDR"),
        .init(name: "list", aliases: ["l", "info-breakpoints"], usage: "list", help: "list breakpoints and watchpoints with hit counts"),
        .init(name: "delete", aliases: ["d"], usage: "delete [N]", help: "delete breakpoint N (all without N)"),
        .init(name: "disable", aliases: ["bd"], usage: "disable N", help: "disable breakpoint N"),
        .init(name: "enable", aliases: ["be"], usage: "enable N", help: "enable breakpoint N"),
        .init(name: "regs", aliases: ["r", "registers"], usage: "regs", help: "general, segment (cached base/limit/attributes), control and table registers, EFER, RFLAGS by name"),
        .init(name: "set", aliases: [], usage: "set REG = VALUE", help: "change a register (rax..r15, rip, rflags, cr0..cr4, cr8, efer)"),
        .init(name: "x", aliases: [], usage: "x/NUF ADDR", help: "dump N units U (b h w g) in format F (x d u o t c s i) at a virtual address; 'xp' reads physical memory"),
        .init(name: "xp", aliases: [], usage: "xp/NUF ADDR", help: "like x, at a physical address"),
        .init(name: "disas", aliases: ["di", "disassemble"], usage: "disas [ADDR] [N]", help: "disassemble N instructions (default 10) at ADDR (default RIP), with symbols"),
        .init(name: "bt", aliases: ["backtrace", "where"], usage: "bt [N]", help: "backtrace through the frame-pointer (RBP/EBP) chain, with symbols"),
        .init(name: "gdt", aliases: [], usage: "gdt", help: "decode the GDT"),
        .init(name: "idt", aliases: [], usage: "idt [N]", help: "decode the IDT (present gates, or vector N)"),
        .init(name: "tss", aliases: [], usage: "tss", help: "decode the TSS that TR points to"),
        .init(name: "page", aliases: ["pg"], usage: "page ADDR", help: "walk the page tables for a virtual address: each level's entry and flags"),
        .init(name: "pic", aliases: [], usage: "pic", help: "both 8259A chips: IRR, ISR, IMR, vector bases, modes, init state"),
        .init(name: "pit", aliases: [], usage: "pit", help: "8254 channels: mode, count, latch, OUT, gate"),
        .init(name: "kbc", aliases: ["kbd"], usage: "kbc", help: "8042 status, command byte, output buffer, queues; PS/2 keyboard set, LEDs, typematic"),
        .init(name: "rtc", aliases: [], usage: "rtc", help: "MC146818 time, registers A-C, periodic rate, IRQ8"),
        .init(name: "uart", aliases: [], usage: "uart", help: "16550 COM1 state"),
        .init(name: "vga", aliases: ["screen"], usage: "vga", help: "the 80x25 text screen as text, with the cursor position"),
        .init(name: "irq", aliases: [], usage: "irq N [pulse|up|down]", help: "drive IRQ line N: pulse = raise now, lower when the CPU takes it (default)"),
        .init(name: "key", aliases: ["k"], usage: "key NAME [down|up]", help: "press and release a key (a, enter, esc, f1, lshift, up, sc2:1c ...)"),
        .init(name: "type", aliases: [], usage: "type TEXT", help: "type text on the keyboard from now on (escapes \\n \\t \\e, {name})"),
        .init(name: "trace", aliases: ["t"], usage: "trace CATEGORIES on|off", help: "print trace events (irq,pic,pit,kbd,exc,io,cpu,rtc,uart,vga,all) to stderr"),
        .init(name: "sym", aliases: ["info-symbol"], usage: "sym NAME|ADDR", help: "look a symbol up by name, or name an address"),
        .init(name: "print", aliases: ["p"], usage: "print EXPR", help: "evaluate an expression (registers, symbols, numbers, [addr], + -)"),
        .init(name: "info", aliases: ["i"], usage: "info", help: "machine summary: mode, RIP, virtual time, instructions, pending interrupts"),
        .init(name: "echo", aliases: [], usage: "echo TEXT", help: "print TEXT (for scripts)"),
        .init(name: "quit", aliases: ["q", "exit"], usage: "quit [STATUS]", help: "leave swiftemu"),
    ]

    static func canonical(_ word: String) -> String? {
        let w = word.lowercased()
        for c in table where c.name == w || c.aliases.contains(w) { return c.name }
        return nil
    }

    public static func info(for word: String) -> DebugCommandInfo? {
        guard let n = canonical(word) else { return nil }
        return table.first { $0.name == n }
    }

    /// Parses one command line. Comments start with `#` at the beginning of
    /// a line.
    public static func parse(_ line: String) -> Result<DebugCommand, DebugParseError> {
        do { return .success(try parseThrowing(line)) } catch let e as DebugParseError { return .failure(e) } catch {
            return .failure(DebugParseError("bad command"))
        }
    }

    static func parseThrowing(_ raw: String) throws -> DebugCommand {
        let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if line.isEmpty || line.hasPrefix("#") { return .empty }
        // The command word ends at whitespace or at '/' (x/4gx).
        var word = ""
        var rest = Substring(line)
        while let c = rest.first, !c.isWhitespace, c != "/" { word.append(c); rest = rest.dropFirst() }
        var fmt: String? = nil
        if rest.first == "/" {
            rest = rest.dropFirst()
            var f = ""
            while let c = rest.first, !c.isWhitespace { f.append(c); rest = rest.dropFirst() }
            fmt = f
        }
        let args = String(rest).trimmingCharacters(in: .whitespaces)
        // Two-word forms GDB users type.
        let lw = word.lowercased()
        if lw == "info" || lw == "i" {
            let sub = args.split(separator: " ", maxSplits: 1).map(String.init)
            switch sub.first?.lowercased() {
            case nil: return .info
            case "breakpoints"?, "break"?, "b"?, "watchpoints"?: return .listBreakpoints
            case "registers"?, "reg"?, "r"?: return .registers
            case "symbol"?: return .symbol(sub.count > 1 ? sub[1] : "")
            case "pic"?: return .device(.pic)
            case "frame"?, "stack"?: return .backtrace(nil)
            default: throw DebugParseError("unknown info command '\(sub[0])' (info breakpoints, info registers, info symbol ADDR, info pic)")
            }
        }
        guard let name = canonical(word) else {
            throw DebugParseError("unknown command '\(word)' (type 'help' for the list)")
        }
        if fmt != nil && name != "x" && name != "xp" {
            throw DebugParseError("'\(word)' takes no /format")
        }
        let words = args.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        func noArgs(_ c: DebugCommand) throws -> DebugCommand {
            guard words.isEmpty else { throw DebugParseError("'\(name)' takes no arguments") }
            return c
        }
        func optCount() throws -> UInt64 {
            if words.isEmpty { return 1 }
            guard words.count == 1, let n = parseNumber(words[0]), n > 0 else {
                throw DebugParseError("usage: \(info(for: name)?.usage ?? name) (N a positive number)")
            }
            return n
        }
        switch name {
        case "help": return .help(words.first)
        case "step": return .step(try optCount())
        case "next": return .next(try optCount())
        case "finish": return try noArgs(.finish)
        case "continue": return try noArgs(.continueRun)
        case "until":
            guard !args.isEmpty else { throw DebugParseError("usage: until ADDR") }
            return .until(try parseExpr(args))
        case "run-for":
            guard words.count == 1 else { throw DebugParseError("usage: run-for N | run-for 10ms") }
            return .runFor(try parseRunLength(words[0]))
        case "break", "tbreak":
            return try parseBreak(args, temporary: name == "tbreak")
        case "watch", "rwatch", "awatch":
            guard !words.isEmpty, words.count <= 2 else { throw DebugParseError("usage: \(name) ADDR [LEN]") }
            var len: UInt64 = 8
            if words.count == 2 {
                guard let l = parseNumber(words[1]), l > 0, l <= 1 << 20 else {
                    throw DebugParseError("watch length must be 1..1048576 bytes")
                }
                len = l
            }
            return .watch(try parseExpr(words[0]), length: len, kind: WatchKind(rawValue: name)!)
        case "list": return try noArgs(.listBreakpoints)
        case "delete":
            if words.isEmpty { return .delete(nil) }
            guard words.count == 1, let n = parseNumber(words[0]), n <= UInt64(Int32.max) else { throw DebugParseError("usage: delete [N]") }
            return .delete(Int(n))
        case "disable", "enable":
            guard words.count == 1, let n = parseNumber(words[0]), n <= UInt64(Int32.max) else { throw DebugParseError("usage: \(name) N") }
            return .enable(Int(n), name == "enable")
        case "regs": return try noArgs(.registers)
        case "set":
            // set REG = VALUE | set REG VALUE | set $REG = VALUE
            var parts = args.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 1 {
                parts = args.split(separator: " ", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw DebugParseError("usage: set REG = VALUE") }
            var r = parts[0].lowercased()
            if r.hasPrefix("$") { r.removeFirst() }
            guard registerNames.contains(r) else { throw DebugParseError("unknown register '\(parts[0])'") }
            return .setRegister(r, try parseExpr(parts[1]))
        case "x", "xp":
            return .examine(try parseExamine(fmt, args, physical: name == "xp"))
        case "disas":
            if words.isEmpty { return .disassemble(nil, nil) }
            var exprText = args
            var count: Int? = nil
            if words.count >= 2, let n = parseNumber(words.last!), n > 0, n <= 10000 {
                count = Int(n)
                exprText = String(args.dropLast(words.last!.count)).trimmingCharacters(in: .whitespaces)
            }
            return .disassemble(try parseExpr(exprText), count)
        case "bt":
            if words.isEmpty { return .backtrace(nil) }
            guard words.count == 1, let n = parseNumber(words[0]), n > 0, n <= 10000 else { throw DebugParseError("usage: bt [N]") }
            return .backtrace(Int(n))
        case "gdt": return try noArgs(.gdt)
        case "idt":
            if words.isEmpty { return .idt(nil) }
            guard words.count == 1, let n = parseNumber(words[0]), n < 256 else { throw DebugParseError("usage: idt [VECTOR 0-255]") }
            return .idt(Int(n))
        case "tss": return try noArgs(.tss)
        case "page":
            guard !args.isEmpty else { throw DebugParseError("usage: page ADDR") }
            return .page(try parseExpr(args))
        case "pic": return try noArgs(.device(.pic))
        case "pit": return try noArgs(.device(.pit))
        case "kbc": return try noArgs(.device(.kbc))
        case "rtc": return try noArgs(.device(.rtc))
        case "uart": return try noArgs(.device(.uart))
        case "vga": return try noArgs(.screen)
        case "irq":
            guard words.count == 1 || words.count == 2, let n = parseNumber(words[0]), n < 16 else {
                throw DebugParseError("usage: irq N [pulse|up|down] (N 0-15)")
            }
            if n == 2 { throw DebugParseError("IRQ 2 is the cascade input of the master PIC (the slave's INT drives it); use IRQ 9 for devices on that line") }
            var a = LineAction.pulse
            if words.count == 2 {
                guard let x = LineAction(rawValue: words[1].lowercased()) else { throw DebugParseError("usage: irq N [pulse|up|down]") }
                a = x
            }
            return .irq(Int(n), a)
        case "key":
            guard words.count == 1 || words.count == 2 else { throw DebugParseError("usage: key NAME [down|up]") }
            var a = KeyAction.tap
            if words.count == 2 {
                guard let x = KeyAction(rawValue: words[1].lowercased()) else { throw DebugParseError("usage: key NAME [down|up]") }
                a = x
            }
            guard PS2Key.named(words[0]) != nil else { throw DebugParseError("unknown key '\(words[0])' (a, enter, esc, space, f1, lshift, up, kp5, sc2:1c ...)") }
            return .key(words[0], a)
        case "type":
            guard !args.isEmpty else { throw DebugParseError("usage: type TEXT") }
            return .type(args)
        case "trace":
            guard words.count == 2, words[1] == "on" || words[1] == "off" else {
                throw DebugParseError("usage: trace CATEGORIES on|off (irq,pic,pit,kbd,exc,io,cpu,rtc,uart,vga,all)")
            }
            guard let cats = TraceFormat.parseCategories(words[0]) else {
                throw DebugParseError("unknown trace category in '\(words[0])' (irq,pic,pit,kbd,exc,io,cpu,rtc,uart,vga,diag,all)")
            }
            return .trace(cats, words[1] == "on")
        case "sym":
            guard !args.isEmpty else { throw DebugParseError("usage: sym NAME|ADDR") }
            return .symbol(args)
        case "print":
            guard !args.isEmpty else { throw DebugParseError("usage: print EXPR") }
            return .print(try parseExpr(args))
        case "info": return .info
        case "echo": return .echo(args)
        case "quit":
            if words.isEmpty { return .quit(nil) }
            guard words.count == 1, let n = Int32(words[0]), n >= 0, n <= 255 else { throw DebugParseError("usage: quit [STATUS 0-255]") }
            return .quit(n)
        default:
            throw DebugParseError("unknown command '\(word)'")
        }
    }

    // MARK: pieces

    /// 0x-prefixed hex, 0b binary, 0o octal, or decimal; `_` separators allowed.
    public static func parseNumber(_ s: String) -> UInt64? {
        var t = s.lowercased().replacingOccurrences(of: "_", with: "")
        if t.hasPrefix("0x") { t.removeFirst(2); return t.isEmpty ? nil : UInt64(t, radix: 16) }
        if t.hasPrefix("0b") { t.removeFirst(2); return t.isEmpty ? nil : UInt64(t, radix: 2) }
        if t.hasPrefix("0o") { t.removeFirst(2); return t.isEmpty ? nil : UInt64(t, radix: 8) }
        return UInt64(t, radix: 10)
    }

    public static let registerNames: Set<String> = {
        var s: Set<String> = ["rip", "eip", "ip", "rflags", "eflags", "flags", "cs", "ds", "es", "fs", "gs", "ss",
                              "cr0", "cr2", "cr3", "cr4", "cr8", "efer", "fs_base", "gs_base", "fsbase", "gsbase"]
        for n in ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "eax", "ebx", "ecx", "edx", "esi", "edi",
                  "ebp", "esp", "ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "al", "bl", "cl", "dl", "ah", "bh", "ch", "dh"] {
            s.insert(n)
        }
        for i in 8...15 { s.insert("r\(i)"); s.insert("r\(i)d"); s.insert("r\(i)w"); s.insert("r\(i)b") }
        return s
    }()

    static func parseRunLength(_ w: String) throws -> RunLength {
        let t = w.lowercased()
        let units: [(String, UInt64)] = [("ns", 1), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)]
        for (u, mul) in units where t.hasSuffix(u) {
            let num = String(t.dropLast(u.count))
            if let v = parseNumber(num) {
                let (r, o) = v.multipliedReportingOverflow(by: mul)
                guard !o, r > 0 else { throw DebugParseError("run-for: time out of range") }
                return .nanoseconds(r)
            }
            if let d = Double(num), d > 0, d * Double(mul) < 1.8e19 {
                return .nanoseconds(UInt64(d * Double(mul)))
            }
            throw DebugParseError("run-for: bad time '\(w)' (e.g. 10ms, 2s, 500us)")
        }
        guard let n = parseNumber(t), n > 0 else { throw DebugParseError("run-for: bad count '\(w)' (a number of instructions, or a time like 10ms)") }
        return .instructions(n)
    }

    static func parseBreak(_ args: String, temporary: Bool) throws -> DebugCommand {
        let words = args.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        guard let first = words.first else {
            throw DebugParseError("usage: break ADDR|SYMBOL [if COND] | break int N | break irq N | break exc N | break io PORT[-PORT]")
        }
        let kw = first.lowercased()
        if ["int", "irq", "exc", "io", "vector", "exception"].contains(kw) && words.count >= 2 && !temporary {
            guard words.count == 2 else { throw DebugParseError("usage: break \(kw) N") }
            switch kw {
            case "int", "vector":
                guard let n = parseNumber(words[1]), n < 256 else { throw DebugParseError("break int: vector 0-255") }
                return .breakpoint(.vector(UInt8(n)), nil, temporary: false)
            case "irq":
                guard let n = parseNumber(words[1]), n < 16, n != 2 else { throw DebugParseError("break irq: line 0-15 (not 2, the cascade)") }
                return .breakpoint(.irq(Int(n)), nil, temporary: false)
            case "exc", "exception":
                guard let n = parseNumber(words[1]), n < 32 else { throw DebugParseError("break exc: exception vector 0-31") }
                return .breakpoint(.exception(UInt8(n)), nil, temporary: false)
            default:
                let ends = words[1].split(separator: "-", maxSplits: 1).map(String.init)
                guard let a = parseNumber(ends[0]), a <= 0xFFFF else { throw DebugParseError("break io: port 0-0xffff") }
                var b = a
                if ends.count == 2 {
                    guard let e = parseNumber(ends[1]), e <= 0xFFFF, e >= a else { throw DebugParseError("break io: bad range '\(words[1])'") }
                    b = e
                }
                return .breakpoint(.io(UInt16(a)...UInt16(b)), nil, temporary: false)
            }
        }
        // ADDR [if COND]
        var locText = args
        var cond: DebugCondition? = nil
        if let r = findKeyword(" if ", in: args) {
            locText = String(args[..<r.lowerBound])
            cond = try parseCondition(String(args[r.upperBound...]))
        }
        let loc = try parseExpr(locText)
        return .breakpoint(.address(loc), cond, temporary: temporary)
    }

    /// The range of `kw` in `s` outside double quotes.
    static func findKeyword(_ kw: String, in s: String) -> Range<String.Index>? {
        var inQuote = false
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "\"" { inQuote.toggle() }
            if !inQuote && s[i...].hasPrefix(kw) { return i..<s.index(i, offsetBy: kw.count) }
            i = s.index(after: i)
        }
        return nil
    }

    public static func parseCondition(_ text: String) throws -> DebugCondition {
        var terms: [(DebugExpr, DebugCompare, DebugExpr)] = []
        for part in text.components(separatedBy: "&&") {
            let p = part.trimmingCharacters(in: .whitespaces)
            var found: (Range<String.Index>, DebugCompare)? = nil
            for op in [DebugCompare.eq, .ne, .le, .ge, .lt, .gt] {
                if let r = p.range(of: op.rawValue) { found = (r, op); break }
            }
            guard let (r, op) = found else {
                throw DebugParseError("condition '\(p)' needs a comparison (==, !=, <, <=, >, >=)")
            }
            let lhs = try parseExpr(String(p[..<r.lowerBound]))
            let rhs = try parseExpr(String(p[r.upperBound...]))
            terms.append((lhs, op, rhs))
        }
        guard !terms.isEmpty else { throw DebugParseError("empty condition") }
        return DebugCondition(terms: terms, text: text.trimmingCharacters(in: .whitespaces))
    }

    static func parseExamine(_ fmt: String?, _ args: String, physical: Bool) throws -> ExamineSpec {
        var count = 1
        var unit = 4
        var format: Character = "x"
        if let f = fmt {
            var digits = ""
            var chars = Substring(f)
            while let c = chars.first, c.isNumber { digits.append(c); chars = chars.dropFirst() }
            if !digits.isEmpty {
                guard let n = Int(digits), n > 0, n <= 65536 else { throw DebugParseError("x: count must be 1..65536") }
                count = n
            }
            var unitSet = false
            for c in chars {
                switch c {
                case "b": unit = 1; unitSet = true
                case "h": unit = 2; unitSet = true
                case "w": unit = 4; unitSet = true
                case "g": unit = 8; unitSet = true
                case "x", "d", "u", "o", "t", "c", "s", "i": format = c
                default: throw DebugParseError("x: unknown format letter '\(c)' (units b h w g, formats x d u o t c s i)")
                }
            }
            if format == "c" && !unitSet { unit = 1 }
        }
        guard !args.isEmpty else { throw DebugParseError("usage: \(physical ? "xp" : "x")/NUF ADDR") }
        return ExamineSpec(count: count, unit: unit, format: format, address: try parseExpr(args), physical: physical)
    }

    // MARK: expressions

    /// `term (('+'|'-') term)*`; a term is a number, a register ($rax or
    /// rax), `[expr]`, a symbol, or a "quoted symbol".
    public static func parseExpr(_ text: String) throws -> DebugExpr {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { throw DebugParseError("missing address or value") }
        var chars = Array(t)
        var i = 0
        func skipSpace() { while i < chars.count && chars[i].isWhitespace { i += 1 } }
        func term(_ depth: Int) throws -> DebugExpr {
            skipSpace()
            guard i < chars.count else { throw DebugParseError("expression ends early: '\(t)'") }
            if chars[i] == "[" {
                guard depth < 16 else { throw DebugParseError("expression nested too deeply") }
                i += 1
                let e = try sum(depth + 1)
                skipSpace()
                guard i < chars.count, chars[i] == "]" else { throw DebugParseError("missing ']' in '\(t)'") }
                i += 1
                return .deref(e)
            }
            if chars[i] == "\"" {
                i += 1
                var s = ""
                while i < chars.count && chars[i] != "\"" { s.append(chars[i]); i += 1 }
                guard i < chars.count else { throw DebugParseError("missing closing quote in '\(t)'") }
                i += 1
                guard !s.isEmpty else { throw DebugParseError("empty symbol name") }
                return .symbol(s)
            }
            var w = ""
            var parens = 0
            while i < chars.count {
                let c = chars[i]
                if c == "(" { parens += 1 } else if c == ")" { parens -= 1 }
                if parens <= 0 && (c.isWhitespace || c == "+" || c == "-" || c == "]" || c == "[") { break }
                w.append(c)
                i += 1
            }
            guard !w.isEmpty else { throw DebugParseError("bad expression '\(t)'") }
            if let n = parseNumber(w) { return .number(n) }
            if w.first!.isNumber {
                throw DebugParseError("bad number '\(w)' (hex needs 0x)")
            }
            var r = w.lowercased()
            if r.hasPrefix("$") { r.removeFirst() }
            if registerNames.contains(r) { return .register(r) }
            return .symbol(w)
        }
        func sum(_ depth: Int) throws -> DebugExpr {
            var e = try term(depth)
            while true {
                skipSpace()
                guard i < chars.count, chars[i] == "+" || chars[i] == "-" else { return e }
                let plus = chars[i] == "+"
                i += 1
                let r = try term(depth)
                e = plus ? .add(e, r) : .sub(e, r)
            }
        }
        let e = try sum(0)
        skipSpace()
        if i < chars.count { throw DebugParseError("unexpected '\(String(chars[i...]))' in '\(t)'") }
        chars.removeAll()
        return e
    }
}
