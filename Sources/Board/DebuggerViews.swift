import CPU
import Devices
import Foundation

// Command execution and the state views of the debugger: registers,
// memory, disassembly, backtrace, descriptor tables, page walks, devices.

extension Debugger {
    public struct CommandResult: Sendable {
        public var output: String
        public var isError = false
        /// `quit` was given (with its status, or nil for the default).
        public var quit = false
        public var quitStatus: Int32?
        /// The machine ran (the frontend flushes guest output first).
        public var ran = false
        public var stop: StopCause?
    }

    /// Runs one parsed command. `interrupt` is polled while the guest runs.
    public func execute(_ cmd: DebugCommand, interrupt: () -> Bool = { false }) -> CommandResult {
        func ok(_ s: String) -> CommandResult { CommandResult(output: s) }
        func err(_ s: String) -> CommandResult { CommandResult(output: s, isError: true) }
        func run(_ r: Resume) -> CommandResult {
            let rep = resume(r, interrupt: interrupt)
            return CommandResult(output: rep.message, ran: true, stop: rep.cause)
        }
        func value(_ e: DebugExpr) -> Result<UInt64, EvalError> { evaluate(e) }

        switch cmd {
        case .empty:
            return ok("")
        case .help(let topic):
            return ok(Debugger.helpText(topic))
        case .step(let n): return run(.step(n))
        case .next(let n): return run(.next(n))
        case .finish: return run(.finish)
        case .continueRun: return run(.continueRun)
        case .until(let e):
            switch value(e) {
            case .success(let a): return run(.until(a))
            case .failure(let x): return err(x.description)
            }
        case .runFor(let l): return run(.run(l))
        case .breakpoint(let spec, let cond, let temporary):
            let kind: Kind
            var label: String
            switch spec {
            case .address(let e):
                switch value(e) {
                case .success(let a):
                    kind = .address(a)
                    label = Debugger.hex(a)
                    if let n = symbols.describe(a) { label += " <\(n)>" }
                case .failure(let x): return err(x.description)
                }
            case .vector(let v): kind = .vector(v); label = "int 0x" + String(v, radix: 16)
            case .irq(let n): kind = .irq(n); label = "irq \(n)"
            case .exception(let v): kind = .exception(v); label = "exc \(v)"
            case .io(let r): kind = .io(r); label = kindText(.io(r))
            }
            if let c = cond, case .failure(let x) = evaluate(c), case .symbol = x {
                return err("condition: \(x)")
            }
            let b = addBreakpoint(kind, label: label, condition: cond, temporary: temporary)
            var s = "\(temporary ? "Temporary breakpoint" : "Breakpoint") \(b.id) at \(label)"
            if case .address = kind {} else { s = "Breakpoint \(b.id): \(kindText(kind))" }
            if let c = cond { s += " if \(c.text)" }
            if case .io = kind, pc.ioTraceFilter.count > 0 {
                s += "\n(note: --trace-ports limits which ports can break)"
            }
            return ok(s)
        case .watch(let e, let len, let k):
            switch value(e) {
            case .success(let a):
                var label = Debugger.hex(a)
                if let n = symbols.describe(a) { label += " <\(n)>" }
                let b = addBreakpoint(.watch(a, length: len, k), label: label)
                var s = "Watchpoint \(b.id): \(k.rawValue) \(label) (\(len) bytes)"
                if cpu.translate(linear: a) == nil { s += " (not mapped now)" }
                return ok(s)
            case .failure(let x): return err(x.description)
            }
        case .listBreakpoints:
            return ok(listText())
        case .delete(let id):
            if let id = id, !deleteBreakpoint(id) { return err("no breakpoint number \(id)") }
            if id == nil { _ = deleteBreakpoint(nil); return ok("All breakpoints deleted.") }
            return ok("Deleted breakpoint \(id!).")
        case .enable(let id, let on):
            guard setEnabled(id, on) else { return err("no breakpoint number \(id)") }
            return ok("\(on ? "Enabled" : "Disabled") breakpoint \(id).")
        case .registers:
            return ok(registersText())
        case .setRegister(let r, let e):
            switch value(e) {
            case .success(let v):
                guard setRegister(r, v) else { return err("register '\(r)' cannot be set (segment registers need a descriptor load)") }
                return ok("\(r) = \(Debugger.hex(registerValue(r) ?? v))")
            case .failure(let x): return err(x.description)
            }
        case .examine(let spec):
            switch value(spec.address) {
            case .success(let a): return examine(spec, a)
            case .failure(let x): return err(x.description)
            }
        case .disassemble(let e, let n):
            var addr = linearRIP
            if let e = e {
                switch value(e) {
                case .success(let a): addr = a
                case .failure(let x): return err(x.description)
                }
            }
            return disassembleText(addr, n ?? 10)
        case .backtrace(let n):
            return ok(backtraceText(max: n ?? 64))
        case .gdt:
            return gdtText()
        case .idt(let v):
            return idtText(v)
        case .tss:
            return tssText()
        case .page(let e):
            switch value(e) {
            case .success(let a):
                if cpu.cr0 & 0x8000_0000 == 0 && a > 0xFFFF_FFFF {
                    return err("\(Debugger.hex(a)) is beyond the 32-bit linear address space (paging is off)")
                }
                return ok(pageWalkText(a))
            case .failure(let x): return err(x.description)
            }
        case .device(let d):
            pc.clock.now = pc.virtualTime
            switch d {
            case .pic:
                var s = pc.pics.describe()
                s += "\nINT to CPU: \(pc.pics.intLevel ? 1 : 0), IF=\(cpu.rflags & 0x200 != 0 ? 1 : 0)"
                return ok(s)
            case .pit:
                return ok(pc.pit.describe() + "\nport 0x61: 0x" + String(pc.debugPortRead(0x61), radix: 16))
            case .kbc: return ok(pc.kbc.describe())
            case .rtc: return ok(pc.rtc.describe())
            case .uart: return ok(pc.uart.describe())
            case .vga: return ok(screenText())
            }
        case .screen:
            return ok(screenText())
        case .irq(let n, let a):
            driveIRQ(n, a)
            var s = "IRQ\(n) \(a == .pulse ? "raised (lowered when the CPU takes it)" : (a == .up ? "raised" : "lowered"))"
            let chip = n < 8 ? pc.pics.master : pc.pics.slave
            if chip.imr & (1 << UInt8(n & 7)) != 0 { s += "; note: masked in the \(n < 8 ? "master" : "slave") IMR" }
            if cpu.rflags & 0x200 == 0 { s += "; note: IF=0" }
            return ok(s)
        case .key(let name, let a):
            guard let k = PS2Key.named(name) else { return err("unknown key '\(name)'") }
            pc.clock.now = pc.virtualTime
            switch a {
            case .tap: pc.apply(.keyDown(k)); pc.apply(.keyUp(k))
            case .down: pc.apply(.keyDown(k))
            case .up: pc.apply(.keyUp(k))
            }
            return ok("key \(k.name) \(a == .tap ? "pressed and released" : (a == .down ? "pressed" : "released"))")
        case .type(let text):
            var script = InputScript()
            do { try script.addKeys(text, start: pc.virtualTime) } catch {
                return err("type: \(error)")
            }
            pc.schedule(script)
            return ok("typing \(script.events.count / 2) keys from now on")
        case .trace(let cats, let on):
            setTraceEcho(cats, on)
            return ok("trace \(on ? "on" : "off"): " + TraceCategory.names.filter { $0.0 != "all" && traceEcho.contains($0.1) }.map(\.0).joined(separator: ","))
        case .symbol(let text):
            return symbolText(text)
        case .print(let e):
            switch value(e) {
            case .success(let v):
                var s = "\(Debugger.hex(v)) = \(v)"
                if v >= 0x8000_0000_0000_0000 { s += " = \(Int64(bitPattern: v))" }
                if let n = symbols.describe(v) { s += " <\(n)>" }
                return ok(s)
            case .failure(let x): return err(x.description)
            }
        case .echo(let t):
            return ok(t)
        case .info:
            return ok(infoText())
        case .quit(let s):
            var r = ok("")
            r.quit = true
            r.quitStatus = s
            return r
        }
    }

    // MARK: help

    public static func helpText(_ topic: String?) -> String {
        if let t = topic {
            guard let c = DebugCommandParser.info(for: t) else { return "no command '\(t)'" }
            var s = c.usage + "\n  " + c.help
            if !c.aliases.isEmpty { s += "\n  aliases: " + c.aliases.joined(separator: ", ") }
            return s
        }
        var lines = ["Commands (aliases in brackets); 'help CMD' for details. Addresses: 0x hex, decimal,",
                     "registers (rax, $rsp), symbols (kernelMain, \"quoted name\"), [addr] (64-bit load), + and -."]
        for c in DebugCommandParser.table {
            let alias = c.aliases.isEmpty ? "" : " [" + c.aliases.joined(separator: ",") + "]"
            let left = c.usage + alias
            lines.append("  " + left.padding(toLength: max(left.count, 38), withPad: " ", startingAt: 0) + " " + c.help)
        }
        return lines.joined(separator: "\n")
    }

    func listText() -> String {
        var lines: [String] = []
        if breakpoints.isEmpty && gdbSoftware.isEmpty && gdbHardware.isEmpty && gdbWatches.isEmpty {
            return "No breakpoints or watchpoints."
        }
        if !breakpoints.isEmpty {
            lines.append("Num  Enb  Hits  What")
        }
        for b in breakpoints {
            var what: String
            switch b.kind {
            case .address: what = (b.temporary ? "tbreak " : "break ") + b.label
            case .watch(_, let len, let k): what = "\(k.rawValue) \(b.label) len \(len)"
            default: what = "break " + kindText(b.kind)
            }
            if let c = b.condition { what += " if " + c.text }
            let num = String(b.id).padding(toLength: 4, withPad: " ", startingAt: 0)
            let hits = String(b.hits).padding(toLength: 5, withPad: " ", startingAt: 0)
            lines.append("\(num) \(b.enabled ? "y  " : "n  ")  \(hits) \(what)")
        }
        for a in gdbSoftware.sorted() { lines.append("gdb  y          break \(Debugger.hex(a))") }
        for a in gdbHardware.sorted() { lines.append("gdb  y          hbreak \(Debugger.hex(a))") }
        for w in gdbWatches { lines.append("gdb  y          \(w.kind.rawValue) \(Debugger.hex(w.address)) len \(w.length)") }
        return lines.joined(separator: "\n")
    }

    // MARK: registers

    static func hex64(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 16 - s.count)) + s
    }
    static func hexN(_ v: UInt64, _ digits: Int) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, digits - s.count)) + s
    }

    static func flagNames(_ f: UInt64) -> String {
        let names: [(UInt64, String)] = [(0, "CF"), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"), (9, "IF"),
                                         (10, "DF"), (11, "OF"), (14, "NT"), (16, "RF"), (17, "VM"), (18, "AC"),
                                         (19, "VIF"), (20, "VIP"), (21, "ID")]
        var s = names.filter { f & (1 << $0.0) != 0 }.map(\.1)
        s.append("IOPL=\((f >> 12) & 3)")
        return "[ " + s.joined(separator: " ") + " ]"
    }

    static func bitNames(_ v: UInt64, _ names: [(Int, String)]) -> String {
        let s = names.filter { v & (1 << UInt64($0.0)) != 0 }.map(\.1)
        return "[ " + s.joined(separator: " ") + (s.isEmpty ? "" : " ") + "]"
    }

    static let cr0Bits: [(Int, String)] = [(0, "PE"), (1, "MP"), (2, "EM"), (3, "TS"), (4, "ET"), (5, "NE"), (16, "WP"),
                                           (18, "AM"), (29, "NW"), (30, "CD"), (31, "PG")]
    static let cr4Bits: [(Int, String)] = [(0, "VME"), (1, "PVI"), (2, "TSD"), (3, "DE"), (4, "PSE"), (5, "PAE"), (6, "MCE"),
                                           (7, "PGE"), (8, "PCE"), (9, "OSFXSR"), (10, "OSXMMEXCPT"), (11, "UMIP"),
                                           (12, "LA57"), (16, "FSGSBASE"), (17, "PCIDE"), (18, "OSXSAVE"),
                                           (20, "SMEP"), (21, "SMAP"), (22, "PKE")]
    static let eferBits: [(Int, String)] = [(0, "SCE"), (8, "LME"), (10, "LMA"), (11, "NXE")]

    /// Segment attributes in words: "code 64-bit dpl0 P ..."
    static func segmentAttributes(_ a: UInt16, long: Bool = true) -> String {
        let type = Int(a & 0xF)
        let s = a & 0x10 != 0
        var parts: [String] = []
        if a & 0x80 == 0 { parts.append("not-present") }
        if s {
            if type & 8 != 0 {
                parts.append("code" + (type & 2 != 0 ? " r" : "") + "x" + (type & 4 != 0 ? " conforming" : ""))
            } else {
                parts.append("data r" + (type & 2 != 0 ? "w" : "o") + (type & 4 != 0 ? " expand-down" : ""))
            }
            if type & 1 != 0 { parts.append("accessed") }
        } else {
            parts.append(systemTypeName(type, long: long))
        }
        parts.append("dpl\((a >> 5) & 3)")
        if a & 0x2000 != 0 { parts.append("L(64-bit)") } else if s && type & 8 != 0 { parts.append(a & 0x4000 != 0 ? "32-bit" : "16-bit") }
        else if s { parts.append(a & 0x4000 != 0 ? "B=1" : "B=0") }
        if a & 0x8000 != 0 { parts.append("G=4K") }
        return parts.joined(separator: " ")
    }

    static func systemTypeName(_ t: Int, long: Bool) -> String {
        switch t {
        case 1: return "tss16 available"
        case 2: return "ldt"
        case 3: return "tss16 busy"
        case 4: return "call-gate16"
        case 5: return "task-gate"
        case 6: return "int-gate16"
        case 7: return "trap-gate16"
        case 9: return long ? "tss64 available" : "tss32 available"
        case 11: return long ? "tss64 busy" : "tss32 busy"
        case 12: return long ? "call-gate64" : "call-gate32"
        case 14: return long ? "int-gate64" : "int-gate32"
        case 15: return long ? "trap-gate64" : "trap-gate32"
        default: return "system type \(t) (reserved)"
        }
    }

    public func registersText() -> String {
        let c = cpu
        var lines: [String] = []
        let order: [(String, GPR)] = [("rax", .rax), ("rbx", .rbx), ("rcx", .rcx), ("rdx", .rdx), ("rsi", .rsi), ("rdi", .rdi),
                                      ("rbp", .rbp), ("rsp", .rsp), ("r8", .r8), ("r9", .r9), ("r10", .r10), ("r11", .r11),
                                      ("r12", .r12), ("r13", .r13), ("r14", .r14), ("r15", .r15)]
        for row in stride(from: 0, to: 16, by: 4) {
            lines.append(order[row..<row + 4].map { $0.0.padding(toLength: 4, withPad: " ", startingAt: 0) + Debugger.hex64(c.gpr($0.1)) }.joined(separator: "  "))
        }
        var ripLine = "rip " + Debugger.hex64(c.rip)
        if let n = symbols.describe(linearRIP) { ripLine += " <\(n)>" }
        lines.append(ripLine)
        lines.append("rflags " + Debugger.hexN(c.rflags, 8) + " " + Debugger.flagNames(c.rflags))
        lines.append("mode \(c.mode.rawValue)  cpl \(c.segment(.cs).selector & 3)\(c.halted ? "  (halted)" : "")")
        for (name, s) in [("cs", SegReg.cs), ("ss", .ss), ("ds", .ds), ("es", .es), ("fs", .fs), ("gs", .gs)] {
            let sc = c.segment(s)
            lines.append("\(name)  " + Debugger.hexN(UInt64(sc.selector), 4) + "  base " + Debugger.hex64(sc.base)
                         + "  limit " + Debugger.hexN(UInt64(sc.limit), 8) + "  attr " + Debugger.hexN(UInt64(sc.attributes), 4)
                         + "  " + Debugger.segmentAttributes(sc.attributes))
        }
        for (name, sc) in [("ldtr", c.ldtr), ("tr", c.tr)] {
            lines.append(name.padding(toLength: 4, withPad: " ", startingAt: 0) + Debugger.hexN(UInt64(sc.selector), 4)
                         + "  base " + Debugger.hex64(sc.base) + "  limit " + Debugger.hexN(UInt64(sc.limit), 8)
                         + "  attr " + Debugger.hexN(UInt64(sc.attributes), 4) + "  " + Debugger.segmentAttributes(sc.attributes, long: longMode))
        }
        lines.append("gdtr base " + Debugger.hex64(c.gdtr.base) + "  limit " + Debugger.hexN(UInt64(c.gdtr.limit), 4))
        lines.append("idtr base " + Debugger.hex64(c.idtr.base) + "  limit " + Debugger.hexN(UInt64(c.idtr.limit), 4))
        lines.append("cr0 " + Debugger.hexN(c.cr0, 8) + " " + Debugger.bitNames(c.cr0, Debugger.cr0Bits))
        lines.append("cr2 " + Debugger.hex64(c.cr2) + "  cr3 " + Debugger.hex64(c.cr3) + "  cr8 " + Debugger.hexN(c.cr8, 1))
        lines.append("cr4 " + Debugger.hexN(c.cr4, 8) + " " + Debugger.bitNames(c.cr4, Debugger.cr4Bits))
        lines.append("efer " + Debugger.hexN(c.efer, 8) + " " + Debugger.bitNames(c.efer, Debugger.eferBits))
        lines.append("fs_base " + Debugger.hex64(c.fsBase) + "  gs_base " + Debugger.hex64(c.gsBase)
                     + "  kernel_gs_base " + Debugger.hex64(c.kernelGSBase))
        lines.append("mxcsr " + Debugger.hexN(UInt64(c.mxcsr), 8))
        lines.append(timeLine())
        return lines.joined(separator: "\n")
    }

    func timeLine() -> String {
        let ns = pc.virtualTime
        return "instructions \(pc.instructions)  virtual time \(ns / 1_000_000_000).\(Debugger.pad9(ns % 1_000_000_000)) s"
            + "  INTR \(pc.pics.intLevel ? 1 : 0)"
    }

    static func pad9(_ v: UInt64) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, 9 - s.count)) + s
    }

    func infoText() -> String {
        var lines = ["mode \(cpu.mode.rawValue), \(cpu.halted ? "halted in HLT" : "running"), IF=\(cpu.rflags & 0x200 != 0 ? 1 : 0)"]
        lines.append(locationLine())
        lines.append(timeLine())
        let m = pc.pics.master, s = pc.pics.slave
        lines.append("PIC master IRR " + Debugger.hexN(UInt64(m.irr), 2) + " ISR " + Debugger.hexN(UInt64(m.isr), 2)
                     + " IMR " + Debugger.hexN(UInt64(m.imr), 2) + "; slave IRR " + Debugger.hexN(UInt64(s.irr), 2)
                     + " ISR " + Debugger.hexN(UInt64(s.isr), 2) + " IMR " + Debugger.hexN(UInt64(s.imr), 2))
        if !symbols.isEmpty { lines.append("\(symbols.count) symbols loaded") }
        if let e = machineEnded { lines.append(Debugger.describe(e, pc: pc)) }
        return lines.joined(separator: "\n")
    }

    func screenText() -> String {
        let scr = pc.vga.textScreen()
        var lines = pc.vga.textLines()
        while let l = lines.last, l.allSatisfy({ $0 == " " }) { lines.removeLast() }
        let border = "+" + String(repeating: "-", count: scr.cols) + "+"
        var out = [border]
        for l in lines { out.append("|" + l + "|") }
        out.append(border)
        out.append("cursor row \(scr.cursorRow) column \(scr.cursorCol)\(scr.cursorEnabled ? "" : " (hidden)"), \(scr.cols)x\(scr.rows)"
                   + (scr.graphicsMode ? ", graphics mode" : ""))
        return out.joined(separator: "\n")
    }

    // MARK: memory

    func readMemory(_ addr: UInt64, _ count: Int, physical: Bool) -> [UInt8]? {
        readGuest(addr, count: count, physical: physical)
    }

    func examine(_ spec: ExamineSpec, _ addr: UInt64) -> CommandResult {
        if spec.format == "i" {
            return disassembleText(addr, spec.count)
        }
        if spec.format == "s" {
            var lines: [String] = []
            var a = addr
            for _ in 0..<spec.count {
                var bytes: [UInt8] = []
                while bytes.count < 4096 {
                    guard let b = readMemory(a &+ UInt64(bytes.count), 1, physical: spec.physical) else {
                        if bytes.isEmpty { return CommandResult(output: lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n") + "cannot read memory at \(Debugger.hex(a))", isError: true) }
                        break
                    }
                    if b[0] == 0 { break }
                    bytes.append(b[0])
                }
                lines.append(addressLabel(a) + ": \"" + Debugger.escape(bytes) + "\"")
                a = a &+ UInt64(bytes.count + 1)
            }
            return CommandResult(output: lines.joined(separator: "\n"))
        }
        let total = spec.count * spec.unit
        guard let data = readMemory(addr, total, physical: spec.physical) else {
            // Report how far memory is readable.
            var ok = 0
            while ok < total, readMemory(addr &+ UInt64(ok), 1, physical: spec.physical) != nil { ok += 1 }
            return CommandResult(output: "cannot read memory at \(Debugger.hex(addr &+ UInt64(ok)))"
                                 + (spec.physical ? " (not RAM)" : " (not mapped)"), isError: true)
        }
        let perLine: Int
        switch spec.format {
        case "c": perLine = 8
        default: perLine = spec.unit == 8 ? 2 : (spec.unit == 4 ? 4 : 8)
        }
        var lines: [String] = []
        var i = 0
        while i < spec.count {
            let a = addr &+ UInt64(i * spec.unit)
            var parts: [String] = []
            for j in i..<min(spec.count, i + perLine) {
                var v: UInt64 = 0
                for k in 0..<spec.unit { v |= UInt64(data[j * spec.unit + k]) << UInt64(8 * k) }
                parts.append(Debugger.formatUnit(v, spec.unit, spec.format))
            }
            lines.append(addressLabel(a) + ":\t" + parts.joined(separator: "\t"))
            i += perLine
        }
        return CommandResult(output: lines.joined(separator: "\n"))
    }

    func addressLabel(_ a: UInt64) -> String {
        var s = Debugger.hexN(a, 8)
        if let n = symbols.describe(a) { s += " <\(n)>" }
        return s
    }

    static func formatUnit(_ v: UInt64, _ unit: Int, _ f: Character) -> String {
        let bits = UInt64(unit * 8)
        switch f {
        case "d":
            let s = Int64(bitPattern: bits == 64 ? v : (v << (64 - bits))) >> Int64(64 - bits)
            return String(s)
        case "u": return String(v)
        case "o": return "0" + String(v, radix: 8)
        case "t":
            let s = String(v, radix: 2)
            return String(repeating: "0", count: max(0, Int(bits) - s.count)) + s
        case "c":
            let b = UInt8(truncatingIfNeeded: v)
            return "\(b) '" + escape([b]) + "'"
        default:
            return hexN(v, unit * 2)
        }
    }

    static func escape(_ bytes: [UInt8]) -> String {
        var s = ""
        for b in bytes {
            switch b {
            case 0x0A: s += "\\n"
            case 0x0D: s += "\\r"
            case 0x09: s += "\\t"
            case 0x22: s += "\\\""
            case 0x5C: s += "\\\\"
            case 0x20...0x7E: s.unicodeScalars.append(Unicode.Scalar(b))
            default: s += "\\x" + String(format: "%02x", b)
            }
        }
        return s
    }

    func disassembleText(_ start: UInt64, _ count: Int) -> CommandResult {
        var lines: [String] = []
        var a = start
        let rip = linearRIP
        var lastSym: String? = nil
        for _ in 0..<max(1, min(count, 10000)) {
            guard let insn = decode(at: a) else {
                lines.append("cannot read memory at \(Debugger.hex(a)) (not mapped)")
                return CommandResult(output: lines.joined(separator: "\n"), isError: lines.count == 1)
            }
            if let (sym, off) = symbols.lookup(a), off == 0, sym.demangled != lastSym {
                lines.append(Debugger.hexN(a, 8) + " <" + sym.demangled + ">:")
                lastSym = sym.demangled
            }
            var label = Debugger.hexN(a, 8)
            if let n = symbols.describe(a) { label += " <" + n + ">" }
            let bytes = insn.bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
            lines.append((a == rip ? "=> " : "   ") + label + ":  " + bytes.padding(toLength: max(bytes.count, 21), withPad: " ", startingAt: 0) + " " + insn.text)
            a = a &+ UInt64(max(1, insn.length))
        }
        return CommandResult(output: lines.joined(separator: "\n"))
    }

    // MARK: backtrace

    /// The IDT vector whose gate points at `lin` (protected and long mode).
    func gateVector(at lin: UInt64) -> UInt8? {
        guard cpu.mode != .real else { return nil }
        let size = longMode ? 16 : 8
        let count = min((Int(cpu.idtr.limit) + 1) / size, 256)
        guard count > 0, let table = readGuest(cpu.idtr.base, count: count * size) else { return nil }
        for v in 0..<count {
            let lo = Debugger.le64(table, v * size)
            guard lo & (1 << 47) != 0 else { continue }
            var off = (lo & 0xFFFF) | ((lo >> 48) & 0xFFFF) << 16
            if size == 16 { off |= (Debugger.le64(table, v * size + 8) & 0xFFFF_FFFF) << 32 }
            if off == lin { return UInt8(v) }
        }
        return nil
    }

    /// At the first instruction of an interrupt handler: the vector and the
    /// interrupted RIP from the frame the CPU pushed.
    func interruptedFrame() -> (vector: UInt8, rip: UInt64)? {
        guard let v = gateVector(at: linearRIP) else { return nil }
        let w = codeBits == 64 ? 8 : (codeBits == 32 ? 4 : 2)
        let errorCode = v < 32 && [8, 10, 11, 12, 13, 14, 17, 21].contains(v)
            && !(lastDelivery.map { $0.vector == v && $0.external } ?? false)
        guard let rip = readWord(stackPointer &+ UInt64(errorCode ? w : 0), w) else { return nil }
        return (v, rip)
    }

    public func backtraceFrames(max: Int = 64) -> [UInt64] {
        var frames = [linearRIP]
        let w = UInt64(wordSize)
        let mask: UInt64 = codeBits == 64 ? ~0 : (codeBits == 32 ? 0xFFFF_FFFF : 0xFFFF)
        var bp = cpu.gpr(.rbp) & mask
        // The innermost frame may not be set up yet.
        if let f = interruptedFrame() {
            // At a handler's entry: the interrupted code, whose frame RBP still is.
            frames.append(f.rip)
        } else if let (sym, off) = symbols.lookup(linearRIP), sym.isFunction, let f = currentFrame() {
            frames.append(f.ret)
            if off == 0 {
                // bp is still the caller's frame.
            } else if f.sp == stackPointer &+ 2 &* w {
                // Between push rbp and mov rbp, rsp: the caller's rbp is on the stack.
                bp = (readWord(stackPointer, Int(w)) ?? 0) & mask
            } else {
                bp = (readWord(bp, Int(w)) ?? 0) & mask
            }
        }
        var seen = Set<UInt64>()
        while frames.count < max, bp != 0, !seen.contains(bp) {
            seen.insert(bp)
            guard let ret = readWord(bp &+ w, Int(w)), let next = readWord(bp, Int(w)) else { break }
            if ret == 0 { break }
            frames.append(ret)
            let n = next & mask
            if n != 0 && n <= bp { break }
            bp = n
        }
        return frames
    }

    func backtraceText(max: Int) -> String {
        let frames = backtraceFrames(max: max)
        var lines: [String] = []
        let interrupted = interruptedFrame()
        for (i, a) in frames.enumerated() {
            var s = "#\(i)  " + Debugger.hexN(a, 8)
            // A return address names the function of the call before it
            // (a call can be the last instruction of a function).
            let interruptedAt = i == 1 && interrupted != nil
            if i > 0 && !interruptedAt, a > 0, let (sym, off) = symbols.lookup(a &- 1) {
                s += " in " + sym.demangled + "+0x" + String(off &+ 1, radix: 16)
            } else if let n = symbols.describe(a) { s += " in " + n } else { s += " in ??" }
            if i == 1, let f = interrupted {
                s += "  (interrupted by vector 0x\(String(f.vector, radix: 16))"
                if let l = irqLine(forVector: f.vector), lastDelivery?.external == true { s += ", IRQ\(l)" }
                s += ")"
            }
            lines.append(s)
        }
        if frames.count == 1 { lines.append("(no frame-pointer chain: RBP \(Debugger.hex(cpu.gpr(.rbp))))") }
        return lines.joined(separator: "\n")
    }

    // MARK: descriptor tables

    var longMode: Bool { cpu.efer & 0x400 != 0 }

    func gdtText() -> CommandResult {
        let base = cpu.gdtr.base, limit = Int(cpu.gdtr.limit)
        guard let table = readGuest(base, count: limit + 1) else {
            return CommandResult(output: "cannot read the GDT at \(Debugger.hex(base)) (limit \(Debugger.hex(UInt64(limit))))", isError: true)
        }
        var lines = ["GDT base \(Debugger.hex(base)) limit \(Debugger.hexN(UInt64(limit), 4)) (\((limit + 1) / 8) slots)"]
        var i = 0
        var empty = 0
        while i + 8 <= table.count {
            let lo = Debugger.le64(table, i)
            if lo == 0 { empty += 1; i += 8; continue }
            var text = "  " + Debugger.hexN(UInt64(i), 4) + "  " + Debugger.hexN(lo, 16) + "  "
            let access = UInt16((lo >> 40) & 0xFF) | UInt16((lo >> 52) & 0xF) << 12
            let sys = access & 0x10 == 0
            var base = ((lo >> 16) & 0xFF_FFFF) | ((lo >> 56) & 0xFF) << 24
            var lim = (lo & 0xFFFF) | ((lo >> 48) & 0xF) << 16
            if access & 0x8000 != 0 { lim = lim << 12 | 0xFFF }
            let type = Int(access & 0xF)
            if sys && longMode && [2, 9, 11].contains(type) && i + 16 <= table.count {
                let hi = Debugger.le64(table, i + 8)
                base |= (hi & 0xFFFF_FFFF) << 32
                text += "base " + Debugger.hex(base) + " limit " + Debugger.hex(lim) + "  " + Debugger.segmentAttributes(access)
                lines.append(text)
                i += 16
                continue
            }
            if sys && [4, 5, 12].contains(type) {
                let sel = (lo >> 16) & 0xFFFF
                let off = (lo & 0xFFFF) | ((lo >> 48) & 0xFFFF) << 16
                text += "\(Debugger.systemTypeName(type, long: longMode)) selector \(Debugger.hexN(sel, 4)) offset \(Debugger.hex(off)) dpl\((access >> 5) & 3)"
            } else {
                text += "base " + Debugger.hex(base) + " limit " + Debugger.hex(lim) + "  " + Debugger.segmentAttributes(access, long: longMode)
            }
            lines.append(text)
            i += 8
        }
        if empty > 0 { lines.append("  (\(empty) null or empty slots not shown)") }
        return CommandResult(output: lines.joined(separator: "\n"))
    }

    static func le64(_ b: [UInt8], _ o: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<8 where o + k < b.count { v |= UInt64(b[o + k]) << UInt64(8 * k) }
        return v
    }

    func idtText(_ only: Int?) -> CommandResult {
        let base = cpu.idtr.base, limit = Int(cpu.idtr.limit)
        if cpu.mode == .real {
            var lines = ["IVT base \(Debugger.hex(base)) limit \(Debugger.hexN(UInt64(limit), 4)) (real mode)"]
            for v in (only.map { $0...$0 } ?? 0...255) where v * 4 + 3 <= limit {
                guard let e = readGuest(base &+ UInt64(v * 4), count: 4) else { break }
                let off = UInt64(e[0]) | UInt64(e[1]) << 8, seg = UInt64(e[2]) | UInt64(e[3]) << 8
                if only == nil && off == 0 && seg == 0 { continue }
                lines.append("  \(Debugger.hexN(UInt64(v), 2))  \(Debugger.hexN(seg, 4)):\(Debugger.hexN(off, 4))")
            }
            return CommandResult(output: lines.joined(separator: "\n"))
        }
        let size = longMode ? 16 : 8
        var lines = ["IDT base \(Debugger.hex(base)) limit \(Debugger.hexN(UInt64(limit), 4)) (\((limit + 1) / size) gates, \(size)-byte)"]
        var notPresent = 0
        for v in (only.map { $0...$0 } ?? 0...255) {
            if v * size + size - 1 > limit {
                if only != nil { lines.append("  vector \(v) is beyond the IDT limit") }
                break
            }
            guard let e = readGuest(base &+ UInt64(v * size), count: size) else {
                lines.append("  cannot read the IDT at \(Debugger.hex(base &+ UInt64(v * size)))")
                break
            }
            let lo = Debugger.le64(e, 0)
            let access = Int((lo >> 40) & 0xFF)
            if access & 0x80 == 0 && only == nil { notPresent += 1; continue }
            var off = (lo & 0xFFFF) | ((lo >> 48) & 0xFFFF) << 16
            if size == 16 { off |= (Debugger.le64(e, 8) & 0xFFFF_FFFF) << 32 }
            let sel = (lo >> 16) & 0xFFFF
            let ist = (lo >> 32) & 7
            var s = "  " + Debugger.hexN(UInt64(v), 2) + "  " + Debugger.systemTypeName(access & 0xF, long: longMode)
            s += " sel " + Debugger.hexN(sel, 4) + " offset " + Debugger.hexN(off, size == 16 ? 16 : 8)
            if let n = symbols.describe(off) { s += " <\(n)>" }
            s += " dpl\((access >> 5) & 3)"
            if access & 0x80 == 0 { s += " NOT PRESENT" }
            if size == 16 && ist != 0 { s += " ist\(ist)" }
            if v < 32 { s += "  " + Debugger.exceptionName(UInt8(v)) }
            if let l = irqLine(forVector: UInt8(v)), v >= 32 { s += "  IRQ\(l)" }
            lines.append(s)
        }
        if notPresent > 0 { lines.append("  (\(notPresent) gates not present)") }
        return CommandResult(output: lines.joined(separator: "\n"))
    }

    func tssText() -> CommandResult {
        let tr = cpu.tr
        let base = tr.base
        let type = Int(tr.attributes & 0xF)
        var lines = ["TR \(Debugger.hexN(UInt64(tr.selector), 4)) base \(Debugger.hex(base)) limit \(Debugger.hex(UInt64(tr.limit))) \(Debugger.systemTypeName(type, long: longMode))"]
        if tr.selector == 0 && cpu.mode != .real {
            lines.append("(no TSS loaded: LTR was never executed)")
        }
        if longMode {
            guard let t = readGuest(base, count: 104) else {
                return CommandResult(output: lines.joined(separator: "\n") + "\ncannot read the TSS", isError: true)
            }
            func q(_ o: Int) -> UInt64 { Debugger.le64(t, o) }
            lines.append("  rsp0 " + Debugger.hex64(q(4)) + "  rsp1 " + Debugger.hex64(q(12)) + "  rsp2 " + Debugger.hex64(q(20)))
            for i in 1...7 { lines.append("  ist\(i) " + Debugger.hex64(q(36 + (i - 1) * 8))) }
            lines.append("  I/O map base " + Debugger.hexN(UInt64(t[102]) | UInt64(t[103]) << 8, 4))
        } else {
            guard let t = readGuest(base, count: 104) else {
                return CommandResult(output: lines.joined(separator: "\n") + "\ncannot read the TSS", isError: true)
            }
            func d(_ o: Int) -> UInt64 { Debugger.le64(t, o) & 0xFFFF_FFFF }
            func w(_ o: Int) -> UInt64 { Debugger.le64(t, o) & 0xFFFF }
            lines.append("  link " + Debugger.hexN(w(0), 4) + "  esp0 " + Debugger.hexN(d(4), 8) + " ss0 " + Debugger.hexN(w(8), 4)
                         + "  esp1 " + Debugger.hexN(d(12), 8) + " ss1 " + Debugger.hexN(w(16), 4)
                         + "  esp2 " + Debugger.hexN(d(20), 8) + " ss2 " + Debugger.hexN(w(24), 4))
            lines.append("  cr3 " + Debugger.hexN(d(28), 8) + "  eip " + Debugger.hexN(d(32), 8) + "  eflags " + Debugger.hexN(d(36), 8))
            let names = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"]
            lines.append("  " + names.enumerated().map { $0.element + " " + Debugger.hexN(d(40 + $0.offset * 4), 8) }.joined(separator: " "))
            let segs = ["es", "cs", "ss", "ds", "fs", "gs", "ldt"]
            lines.append("  " + segs.enumerated().map { $0.element + " " + Debugger.hexN(w(72 + $0.offset * 4), 4) }.joined(separator: " "))
            lines.append("  I/O map base " + Debugger.hexN(w(102), 4))
        }
        return CommandResult(output: lines.joined(separator: "\n"))
    }

    // MARK: paging

    static func pteFlags(_ e: UInt64, level: Int, nx: Bool) -> String {
        var f: [String] = []
        f.append(e & 1 != 0 ? "P" : "not-present")
        if e & 1 == 0 { return f.joined(separator: " ") }
        f.append(e & 2 != 0 ? "RW" : "RO")
        f.append(e & 4 != 0 ? "US" : "S")
        if e & 8 != 0 { f.append("PWT") }
        if e & 0x10 != 0 { f.append("PCD") }
        if e & 0x20 != 0 { f.append("A") }
        if e & 0x40 != 0 { f.append("D") }
        if e & 0x80 != 0 { f.append(level == 1 ? "PAT" : "PS") }
        if e & 0x100 != 0 { f.append("G") }
        if nx && e & (1 << 63) != 0 { f.append("NX") }
        return f.joined(separator: " ")
    }

    public func pageWalkText(_ lin: UInt64) -> String {
        let c = cpu
        var lines: [String] = []
        if c.cr0 & 0x8000_0000 == 0 {
            lines.append("paging is off: linear \(Debugger.hex(lin)) = physical \(Debugger.hex(lin & 0xFFFF_FFFF))")
            return lines.joined(separator: "\n")
        }
        func rd(_ pa: UInt64, _ size: Int) -> UInt64? {
            guard let b = c.readPhysical(pa, count: size) else { return nil }
            return Debugger.le64(b, 0) & (size == 8 ? ~0 : 0xFFFF_FFFF)
        }
        let nx = c.efer & 0x800 != 0
        let addrMask: UInt64 = 0x000F_FFFF_FFFF_F000
        if c.cr4 & 0x20 == 0 {
            // 32-bit paging.
            let pdeAddr = (c.cr3 & 0xFFFF_F000) + ((lin >> 22) & 0x3FF) * 4
            guard let pde = rd(pdeAddr, 4) else { return "cannot read the page directory at \(Debugger.hex(pdeAddr))" }
            lines.append("PDE[\((lin >> 22) & 0x3FF)] at \(Debugger.hex(pdeAddr)) = \(Debugger.hexN(pde, 8))  \(Debugger.pteFlags(pde, level: 2, nx: false))")
            if pde & 1 == 0 { lines.append("not mapped (PDE not present)"); return lines.joined(separator: "\n") }
            if pde & 0x80 != 0 && c.cr4 & 0x10 != 0 {
                let pa = (pde & 0xFFC0_0000) | ((pde >> 13) & 0xFF) << 32 | (lin & 0x3F_FFFF)
                lines.append("4 MiB page: physical \(Debugger.hex(pa))")
                return lines.joined(separator: "\n")
            }
            let pteAddr = (pde & 0xFFFF_F000) + ((lin >> 12) & 0x3FF) * 4
            guard let pte = rd(pteAddr, 4) else { return lines.joined(separator: "\n") + "\ncannot read the page table at \(Debugger.hex(pteAddr))" }
            lines.append("PTE[\((lin >> 12) & 0x3FF)] at \(Debugger.hex(pteAddr)) = \(Debugger.hexN(pte, 8))  \(Debugger.pteFlags(pte, level: 1, nx: false))")
            if pte & 1 == 0 { lines.append("not mapped (PTE not present)"); return lines.joined(separator: "\n") }
            lines.append("4 KiB page: physical \(Debugger.hex((pte & 0xFFFF_F000) | (lin & 0xFFF)))")
            return lines.joined(separator: "\n")
        }
        var levels: [(String, Int, UInt64)] = []   // name, shift, index bits mask
        var table: UInt64
        if c.efer & 0x400 != 0 {
            let canonical = (lin >> 47) == 0 || (lin >> 47) == 0x1_FFFF
            if !canonical { lines.append("\(Debugger.hex(lin)) is not canonical (bits 63:47 must all equal bit 47)"); return lines.joined(separator: "\n") }
            levels = [("PML4E", 39, 0x1FF), ("PDPTE", 30, 0x1FF), ("PDE", 21, 0x1FF), ("PTE", 12, 0x1FF)]
            table = c.cr3 & addrMask
        } else {
            levels = [("PDPTE", 30, 3), ("PDE", 21, 0x1FF), ("PTE", 12, 0x1FF)]
            table = c.cr3 & 0xFFFF_FFE0
        }
        for (n, (name, shift, mask)) in levels.enumerated() {
            let idx = (lin >> UInt64(shift)) & mask
            let ea = table + idx * 8
            guard let e = rd(ea, 8) else { lines.append("cannot read \(name) at \(Debugger.hex(ea))"); break }
            let level = levels.count - n
            lines.append("\(name)[\(idx)] at \(Debugger.hex(ea)) = \(Debugger.hex64(e))  \(Debugger.pteFlags(e, level: level, nx: nx))")
            if e & 1 == 0 { lines.append("not mapped (\(name) not present)"); break }
            if (shift == 30 || shift == 21) && e & 0x80 != 0 && !(shift == 30 && levels.count == 3) {
                let size: UInt64 = 1 << UInt64(shift)
                let pa = (e & addrMask & ~(size - 1)) | (lin & (size - 1))
                lines.append("\(shift == 30 ? "1 GiB" : "2 MiB") page: physical \(Debugger.hex(pa))")
                break
            }
            if shift == 12 {
                lines.append("4 KiB page: physical \(Debugger.hex((e & addrMask) | (lin & 0xFFF)))")
                break
            }
            table = e & addrMask
        }
        return lines.joined(separator: "\n")
    }

    // MARK: symbols

    func symbolText(_ text: String) -> CommandResult {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let e = try? DebugCommandParser.parseExpr(t), case .success(let a) = evaluate(e),
           !(isSymbolExpr(e)) {
            guard let n = symbols.describe(a) else { return CommandResult(output: "no symbol covers \(Debugger.hex(a))", isError: true) }
            return CommandResult(output: "\(Debugger.hex(a)) is \(n)")
        }
        let q = t.hasPrefix("\"") && t.hasSuffix("\"") && t.count >= 2 ? String(t.dropFirst().dropLast()) : t
        switch symbols.resolve(q) {
        case .success(let s):
            var out = "\(s.demangled) at \(Debugger.hex(s.address))"
            if s.size > 0 { out += ", \(s.size) bytes" }
            if s.name != s.demangled { out += "\n  mangled: \(s.name)" }
            return CommandResult(output: out)
        case .failure(let e):
            return CommandResult(output: e.description, isError: true)
        }
    }

    func isSymbolExpr(_ e: DebugExpr) -> Bool {
        if case .symbol = e { return true }
        return false
    }
}
