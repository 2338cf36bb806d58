#if canImport(Glibc)
import Glibc
#endif
import Board
import CPU
import Devices
import Foundation

/// Set by SIGINT while the debugger runs the guest; polled between slices.
nonisolated(unsafe) var debugInterrupt: sig_atomic_t = 0

/// The debugger frontend: the prompt (interactive with line editing and
/// history, or a --commands script), --break, and the GDB stub, over one
/// `Debugger` attached to the session's machine.
final class DebugFrontend {
    let session: Session
    let o: Options
    let debugger: Debugger
    let prompt = "(swiftemu) "
    private var editor: LineEditor?
    private var scriptFailed = false
    private var lastRepeatable: String?
    /// Whether the prompt was entered from a stop in headless mode (the
    /// guest's exit then ends swiftemu).
    private var headless: Bool { o.mode == .headless }

    /// Debug mode, or headless with --break, --gdb or --commands.
    static func wanted(_ o: Options) -> Bool {
        o.mode == .debug || (o.mode == .headless && (!o.breaks.isEmpty || o.gdbPort != nil || o.commandsFile != nil))
    }

    init(session: Session) {
        self.session = session
        self.o = session.o
        let pc = session.pc
        var syms = SymbolTable()
        if let bytes = try? [UInt8](Data(contentsOf: URL(fileURLWithPath: session.o.kernelPath))) {
            syms = SymbolTable.load(elf: bytes)
        }
        debugger = Debugger(pc: pc, symbols: syms)
        debugger.sessionTrace = session.o.traceCategories
        let out = session.out
        debugger.onTraceText = { line in
            out.flush()
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        debugger.attach()
        if let t = o.timeoutNs { debugger.timeLimit = t }
    }

    // MARK: output

    func say(_ s: String) {
        guard !s.isEmpty else { return }
        session.out.append(s.hasSuffix("\n") ? s : s + "\n")
        session.out.flush()
    }

    func sayError(_ s: String) {
        say("error: " + s)
    }

    /// Polled while the guest runs: flush its output, notice Ctrl-C/SIGTERM.
    func interruptPoll() -> Bool {
        session.out.flush()
        if debugInterrupt != 0 { debugInterrupt = 0; return true }
        return pendingSignal != 0
    }

    func installSignals() {
        signal(SIGINT) { _ in debugInterrupt = 1 }
        signal(SIGTERM) { s in pendingSignal = s }
    }

    // MARK: entry

    func run() -> Int32 {
        installSignals()
        addCommandLineBreakpoints()
        if debugger.symbols.isEmpty {
            warn("no symbols in '\(o.kernelPath)': breakpoints need addresses")
        }
        if let port = o.gdbPort {
            switch serveGDB(port: port) {
            case .exit(let code): return code
            case .proceed: break
            }
        }
        if o.mode == .headless {
            // Run until a breakpoint, then take commands there.
            while true {
                let rep = debugger.resume(.continueRun, interrupt: interruptPoll)
                if let code = terminalStatus(rep.cause) { return code }
                if rep.cause == .interrupted {
                    if pendingSignal == SIGTERM { return ExitStatus.sigterm }
                    warn("stopped by signal \(SIGINT) at virtual time \(session.pc.virtualTime) ns")
                    return ExitStatus.sigint
                }
                say(rep.message)
                if let code = promptLoop() { return code }
            }
        }
        say(debugger.locationLine())
        return promptLoop() ?? endStatus()
    }

    /// The status when the command source ends without `quit`.
    func endStatus() -> Int32 {
        if let e = debugger.machineEnded { return session.report(e) }
        return 0
    }

    /// In headless mode the end of the machine ends swiftemu.
    private func terminalStatus(_ c: Debugger.StopCause) -> Int32? {
        guard headless, case .machine(let s) = c else { return nil }
        if s == .haltedForever || debugger.machineEnded != nil { return session.report(s) }
        return nil
    }

    func addCommandLineBreakpoints() {
        for b in o.breaks {
            let line = "break " + b
            switch DebugCommandParser.parse(line) {
            case .success(let c):
                let r = debugger.execute(c)
                if r.isError { warn("--break \(b): \(r.output)") } else if o.mode == .debug { say(r.output) }
            case .failure(let e):
                warn("--break \(b): \(e.message)")
            }
        }
    }

    // MARK: the prompt

    /// --commands lines not run yet (nil: commands come from standard input).
    private lazy var scriptLines: [String]? = loadScript()
    private var scriptUnreadable = false

    private func loadScript() -> [String]? {
        guard let file = o.commandsFile else { return nil }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            warn("--commands: cannot read '\(file)'")
            scriptUnreadable = true
            return []
        }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { raw in
            raw.hasSuffix("\r") ? String(raw.dropLast()) : String(raw)
        }.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    /// The next command line (echoed with the prompt when scripted); nil at
    /// the end of the input.
    private func nextLine() -> (String, echo: Bool)? {
        if scriptLines != nil {
            guard !scriptLines!.isEmpty else { return nil }
            return (scriptLines!.removeFirst(), true)
        }
        let interactive = isatty(0) != 0
        if interactive && editor == nil { editor = LineEditor() }
        session.out.flush()
        let line: String?
        if let ed = editor {
            line = ed.readLine(prompt: prompt)
        } else {
            if interactive { FileHandle.standardOutput.write(Data(prompt.utf8)) }
            line = Swift.readLine()
        }
        guard var text = line else {
            if interactive { say("") }
            return nil
        }
        if text.trimmingCharacters(in: .whitespaces).isEmpty, let again = lastRepeatable {
            text = again   // an empty line repeats step/next, as in GDB
        }
        return (text, false)
    }

    enum LineOutcome { case next, exit(Int32), resumeFrontend }

    /// Reads and runs commands until `quit` (returns its status) or the end
    /// of input (returns nil: the caller decides). In headless mode a
    /// `continue` that ends the machine returns its status.
    func promptLoop() -> Int32? {
        if scriptUnreadable || (scriptLines == nil && o.commandsFile != nil) { return ExitStatus.usage }
        while let (text, echo) = nextLine() {
            switch runLine(text, echo: echo, resumeOnContinue: false) {
            case .exit(let code): return code
            case .next, .resumeFrontend: break
            }
            if scriptLines != nil && debugInterrupt != 0 { return ExitStatus.sigint }
        }
        if scriptUnreadable { return ExitStatus.usage }
        return (headless || o.commandsFile != nil) ? endStatus() : nil
    }

    /// Runs one command line. With `resumeOnContinue` (a break-in from the
    /// window or terminal frontend) `continue` hands the machine back to
    /// the frontend instead of running it here.
    func runLine(_ text: String, echo: Bool, resumeOnContinue: Bool) -> LineOutcome {
        if echo { say(prompt + text) }
        switch DebugCommandParser.parse(text) {
        case .failure(let e):
            sayError(e.message)
            scriptFailed = true
            return .next
        case .success(let cmd):
            switch cmd {
            case .step, .next: lastRepeatable = text
            case .empty: break
            default: lastRepeatable = nil
            }
            if resumeOnContinue && cmd == .continueRun {
                debugger.prepareExternalResume()
                return .resumeFrontend
            }
            let r = debugger.execute(cmd, interrupt: interruptPoll)
            session.out.flush()
            if r.quit {
                return .exit(r.quitStatus ?? endStatus())
            }
            if r.isError { sayError(r.output); scriptFailed = true } else { say(r.output) }
            if pendingSignal == SIGTERM { return .exit(ExitStatus.sigterm) }
            if let c = r.stop, let code = terminalStatus(c) { return .exit(code) }
            return .next
        }
    }

    // MARK: break-in from the window and terminal frontends

    /// With --break in the window or terminal mode: the frontend calls the
    /// hook when its run of the machine stops with `.breakpoint`.
    /// Window and terminal modes: with --gdb, a GDB session runs first
    /// (the machine waits for it, as with QEMU -s -S, and runs without the
    /// screen while GDB drives it); with --break, breakpoint stops come to
    /// the prompt. Returns an exit status when swiftemu must end.
    static func prepareFrontendMode(session: Session) -> Int32? {
        let o = session.o
        guard o.gdbPort != nil || !o.breaks.isEmpty else { return nil }
        let f = DebugFrontend(session: session)
        f.addCommandLineBreakpoints()
        if let port = o.gdbPort {
            f.installSignals()
            defer { signal(SIGINT, SIG_DFL) }
            if case .exit(let code) = f.serveGDB(port: port) { return code }
        }
        if !o.breaks.isEmpty { debugBreakHook = { stop in f.breakIn(stop) } }
        return nil
    }

    /// Takes commands on the terminal at a stop. Returns true to let the
    /// frontend run the machine on (`continue`, or a stop that is not a
    /// breakpoint hit, such as a false condition); false leaves it stopped.
    /// `quit` ends swiftemu.
    func breakIn(_ stop: PCStop) -> Bool {
        guard let cause = debugger.explainStop(stop) else {
            debugger.prepareExternalResume()
            return true
        }
        say(debugger.describe(cause))
        let oldInt = signal(SIGINT) { _ in debugInterrupt = 1 }
        defer { signal(SIGINT, oldInt) }
        while let (text, echo) = nextLine() {
            switch runLine(text, echo: echo, resumeOnContinue: true) {
            case .next: continue
            case .resumeFrontend: return true
            case .exit(let code):
                session.finish()
                exit(code)
            }
        }
        // End of input: let the machine run on.
        debugger.prepareExternalResume()
        return true
    }

    // MARK: GDB

    enum GDBOutcome { case exit(Int32), proceed }

    func serveGDB(port: Int) -> GDBOutcome {
        let listener: GDBListener
        do {
            listener = try GDBListener(port: port)
        } catch {
            warn("--gdb \(port): \(error)")
            return .exit(ExitStatus.usage)
        }
        warn("waiting for gdb on 127.0.0.1:\(port) (target remote :\(port)); the guest starts when gdb continues")
        guard let conn = listener.accept(stop: { debugInterrupt != 0 || pendingSignal != 0 }) else {
            listener.close()
            return .exit(pendingSignal == SIGTERM ? ExitStatus.sigterm : ExitStatus.sigint)
        }
        listener.close()
        let server = GDBServer(debugger: debugger, transport: conn)
        server.onRunning = { [unowned self] in
            self.session.out.flush()
            if debugInterrupt != 0 { debugInterrupt = 0; server.log?("SIGINT"); return true }
            if pendingSignal != 0 { server.log?("signal \(pendingSignal)") }
            return pendingSignal != 0
        }
        if ProcessInfo.processInfo.environment["SWIFTEMU_GDB_LOG"] != nil {
            server.log = { FileHandle.standardError.write(Data(("gdb " + $0 + "\n").utf8)) }
        }
        let end = server.serve()
        conn.close()
        session.out.flush()
        switch end {
        case .killed:
            warn("gdb killed the session")
            return .exit(ExitStatus.stopped)
        case .machineEnded(let s):
            return .exit(session.report(s))
        case .detached, .disconnected:
            if pendingSignal == SIGTERM { return .exit(ExitStatus.sigterm) }
            warn(end == .detached ? "gdb detached" : "gdb disconnected")
            return .proceed
        }
    }
}

/// Set with --break in the window and terminal modes: the frontend calls it
/// when the machine stops with `.breakpoint` (the debugger prompt runs on
/// the terminal meanwhile); true means run on, false stay stopped.
nonisolated(unsafe) var debugBreakHook: ((PCStop) -> Bool)?

// MARK: - Line editor

/// A small line editor on a raw-mode terminal: left/right, Home/End,
/// Backspace/Delete, Ctrl-A/E/K/U/W, up/down history, Ctrl-C cancels the
/// line, Ctrl-D on an empty line is end of input.
final class LineEditor {
    private var history: [String] = []
    private var saved = termios()

    func readLine(prompt: String) -> String? {
        guard tcgetattr(0, &saved) == 0 else { return Swift.readLine() }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        tcsetattr(0, TCSAFLUSH, &raw)
        defer { tcsetattr(0, TCSAFLUSH, &saved) }

        var line: [Character] = []
        var cursor = 0
        var histIndex = history.count
        var draft: [Character] = []
        func out(_ s: String) { s.utf8CString.withUnsafeBufferPointer { _ = write(1, $0.baseAddress, $0.count - 1) } }
        func redraw() {
            out("\r" + prompt + String(line) + "\u{1B}[K")
            let back = line.count - cursor
            if back > 0 { out("\u{1B}[\(back)D") }
        }
        func readByte() -> UInt8? {
            var b: UInt8 = 0
            while true {
                let n = read(0, &b, 1)
                if n == 1 { return b }
                if n < 0 && errno == EINTR { continue }
                return nil
            }
        }
        out(prompt)
        var pending: [UInt8] = []
        while true {
            guard let b = readByte() else { out("\r\n"); return nil }
            switch b {
            case 0x0D, 0x0A:
                out("\r\n")
                let s = String(line)
                if !s.trimmingCharacters(in: .whitespaces).isEmpty && history.last != s { history.append(s) }
                return s
            case 0x03:
                out("^C\r\n")
                line = []; cursor = 0
                out(prompt)
            case 0x04:
                if line.isEmpty { out("\r\n"); return nil }
                if cursor < line.count { line.remove(at: cursor); redraw() }
            case 0x01: cursor = 0; redraw()
            case 0x05: cursor = line.count; redraw()
            case 0x0B: line.removeSubrange(cursor...); redraw()
            case 0x15: line.removeSubrange(..<cursor); cursor = 0; redraw()
            case 0x17:
                var i = cursor
                while i > 0 && line[i - 1] == " " { i -= 1 }
                while i > 0 && line[i - 1] != " " { i -= 1 }
                line.removeSubrange(i..<cursor); cursor = i; redraw()
            case 0x0C: out("\u{1B}[H\u{1B}[2J"); redraw()
            case 0x7F, 0x08:
                if cursor > 0 { line.remove(at: cursor - 1); cursor -= 1; redraw() }
            case 0x1B:
                guard let b1 = readByte() else { return nil }
                if b1 != UInt8(ascii: "[") && b1 != UInt8(ascii: "O") { continue }
                var seq: [UInt8] = []
                while let c = readByte() {
                    seq.append(c)
                    if c >= 0x40 && c <= 0x7E { break }
                    if seq.count > 8 { break }
                }
                switch seq.last.map({ Character(Unicode.Scalar($0)) }) {
                case "A"?:
                    if histIndex > 0 {
                        if histIndex == history.count { draft = line }
                        histIndex -= 1
                        line = Array(history[histIndex]); cursor = line.count; redraw()
                    }
                case "B"?:
                    if histIndex < history.count {
                        histIndex += 1
                        line = histIndex == history.count ? draft : Array(history[histIndex])
                        cursor = line.count; redraw()
                    }
                case "C"?: if cursor < line.count { cursor += 1; redraw() }
                case "D"?: if cursor > 0 { cursor -= 1; redraw() }
                case "H"?: cursor = 0; redraw()
                case "F"?: cursor = line.count; redraw()
                case "~"?:
                    if seq.first == UInt8(ascii: "3"), cursor < line.count { line.remove(at: cursor); redraw() }
                    else if seq.first == UInt8(ascii: "1") || seq.first == UInt8(ascii: "7") { cursor = 0; redraw() }
                    else if seq.first == UInt8(ascii: "4") || seq.first == UInt8(ascii: "8") { cursor = line.count; redraw() }
                default: break
                }
            default:
                if b < 0x20 { continue }
                // UTF-8: collect continuation bytes.
                pending.append(b)
                let need = b >= 0xF0 ? 4 : (b >= 0xE0 ? 3 : (b >= 0xC0 ? 2 : 1))
                while pending.count < need, let c = readByte() { pending.append(c) }
                let s = String(decoding: pending, as: UTF8.self)
                pending.removeAll()
                for ch in s { line.insert(ch, at: cursor); cursor += 1 }
                redraw()
            }
        }
    }
}
