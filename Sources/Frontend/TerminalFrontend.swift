#if canImport(Glibc)
import Glibc
#endif
import Board
import Devices

/// Options of the terminal frontend.
struct TerminalOptions {
    /// Leave when the machine stops, returning the guest's exit code
    /// (otherwise the last screen stays up until Ctrl+]).
    var exitOnStop = false
    /// 24-bit colour escapes (the guest's DAC colours) instead of the 16
    /// ANSI colours; nil: when COLORTERM says truecolor/24bit.
    var trueColor: Bool?
    /// How long a typed key is held down, and the gap before the next one
    /// (virtual time).
    var keyHoldNs: UInt64 = 20_000_000
    var keyGapNs: UInt64 = 10_000_000
    /// Exit status for a stop (also the place to report it); default: the
    /// guest's status for isa-debug-exit, else 1.
    var statusForStop: ((PCStop) -> Int32)?
    /// Take over `pc.onOutput` (port 0xE9 / COM1 bytes) while the terminal
    /// runs and show the guest's last output line in the status line: output
    /// written to the terminal itself would land in the middle of the screen.
    var showGuestOutputInStatus = true
    /// Called after every run slice.
    var afterSlice: (() -> Void)?
    /// Polled once per loop: a non-nil value ends the loop with that exit status.
    var pollStop: (() -> Int32?)?
}

let terminalQuitHelp = "Ctrl+] quits"

/// Runs `pc` with its 80x25 text screen drawn in this terminal (ANSI
/// escapes, only changed cells redrawn) and the keyboard read in raw mode:
/// each character becomes a key press and, a little later in virtual time,
/// its release (Shift/Ctrl/Alt held around it as needed). Arrow, Home/End,
/// PgUp/PgDn, Insert/Delete and F1-F12 escape sequences are mapped too.
/// Ctrl+] quits (exit status 0). The terminal's modes are restored on every
/// way out: normal return, exit(), and fatal or terminating signals.
func runTerminal(pc: PC, title: String = "swiftemu", options: TerminalOptions = TerminalOptions()) -> Int32 {
    guard isatty(0) != 0, isatty(1) != 0 else {
        fputs("swiftemu: terminal mode needs a terminal on standard input and output.\n"
              + "Use `swiftemu <kernel> headless` to run without one.\n", stderr)
        return 1
    }
    guard enterRawTerminal() else {
        fputs("swiftemu: cannot put the terminal in raw mode\n", stderr)
        return 1
    }
    defer { restoreTerminal() }
    let t = TerminalFrontend(pc: pc, title: title, options: options)
    return t.run()
}

// MARK: - Terminal modes (globals: the signal handlers need them)

private var savedTermios = termios()
private var termiosSaved: sig_atomic_t = 0
private var terminalResized: sig_atomic_t = 0
private let leaveSequence: [UInt8] = Array("\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l".utf8)

/// Restores the saved terminal modes and screen; async-signal-safe.
private func restoreTerminal() {
    guard termiosSaved != 0 else { return }
    termiosSaved = 0
    leaveSequence.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
    tcsetattr(0, TCSAFLUSH, &savedTermios)
}

private func enterRawTerminal() -> Bool {
    guard tcgetattr(0, &savedTermios) == 0 else { return false }
    var raw = savedTermios
    raw.c_iflag &= ~tcflag_t(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON)
    raw.c_lflag &= ~tcflag_t(ECHO | ECHONL | ICANON | ISIG | IEXTEN)
    raw.c_cflag |= tcflag_t(CS8)
    // VMIN = 0, VTIME = 0: reads return what is there.
    withUnsafeMutableBytes(of: &raw.c_cc) { cc in
        cc[Int(VMIN)] = 0
        cc[Int(VTIME)] = 0
    }
    termiosSaved = 1
    atexit { restoreTerminal() }
    for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP] {
        signal(sig) { s in
            restoreTerminal()
            signal(s, SIG_DFL)
            raise(s)
        }
    }
    signal(SIGWINCH) { _ in terminalResized = 1 }
    guard tcsetattr(0, TCSAFLUSH, &raw) == 0 else { restoreTerminal(); return false }
    let enter = Array("\u{1B}[?1049h\u{1B}[0m\u{1B}[2J\u{1B}[?25l".utf8)
    enter.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
    return true
}

// MARK: - Typing

/// Turns key strokes into timed presses and releases in virtual time.
final class KeyTyper {
    struct Action { var time: UInt64; var key: PS2Key; var down: Bool }
    private(set) var queue: [Action] = []
    private var nextFree: UInt64 = 0
    let holdNs: UInt64
    let gapNs: UInt64

    init(holdNs: UInt64, gapNs: UInt64) { self.holdNs = holdNs; self.gapNs = gapNs }

    func type(_ s: KeyMapping.Stroke, at now: UInt64) {
        let t = max(now, nextFree)
        var mods: [PS2Key] = []
        if s.ctrl { mods.append(.leftCtrl) }
        if s.alt { mods.append(.leftAlt) }
        if s.shift { mods.append(.leftShift) }
        for m in mods { queue.append(Action(time: t, key: m, down: true)) }
        queue.append(Action(time: t, key: s.key, down: true))
        queue.append(Action(time: t + holdNs, key: s.key, down: false))
        for m in mods.reversed() { queue.append(Action(time: t + holdNs, key: m, down: false)) }
        nextFree = t + holdNs + gapNs
    }

    /// Virtual time of the next action (.max when none).
    var nextTime: UInt64 { queue.first?.time ?? .max }

    /// Applies every action due at `now`.
    func apply(upTo now: UInt64, to kb: PS2Keyboard) {
        var n = 0
        while n < queue.count && queue[n].time <= now {
            if queue[n].down { kb.press(queue[n].key) } else { kb.release(queue[n].key) }
            n += 1
        }
        if n > 0 { queue.removeFirst(n) }
    }

    func clear() { queue.removeAll(); nextFree = 0 }
}

// MARK: - The frontend

private final class TerminalFrontend {
    let pc: PC
    let title: String
    let options: TerminalOptions
    let pacer: RealTimePacer
    let typer: KeyTyper
    let trueColor: Bool

    var stopped: String?
    var stopCode: Int32?
    var pendingInput: [UInt8] = []
    var pendingSince: UInt64 = 0

    // What the terminal shows.
    var shown: [UInt16] = []
    var shownCols = 0, shownRows = 0
    var shownPalette: [UInt32] = []
    var shownBlink = false
    var shownStatus = ""
    var shownCursor = (-2, -2)
    var lastFrameWall: UInt64 = 0
    var termRows = 25
    var out: [UInt8] = []

    static let frameIntervalNs: UInt64 = 30_000_000

    init(pc: PC, title: String, options: TerminalOptions) {
        self.pc = pc
        self.title = title
        self.options = options
        pacer = RealTimePacer(pc: pc)
        typer = KeyTyper(holdNs: options.keyHoldNs, gapNs: options.keyGapNs)
        if let t = options.trueColor {
            trueColor = t
        } else if let c = getenv("COLORTERM") {
            let s = String(cString: c)
            trueColor = s == "truecolor" || s == "24bit"
        } else {
            trueColor = false
        }
        querySize()
    }

    var guestLine: [UInt8] = []
    var guestLineDone = false

    func run() -> Int32 {
        pacer.rebase()
        let previousOutput = pc.onOutput
        if options.showGuestOutputInStatus {
            pc.onOutput = { [unowned self] b in self.guestOutput(b) }
        }
        defer { if options.showGuestOutputInStatus { pc.onOutput = previousOutput } }
        while true {
            if !readInput() { return 0 }
            if stopped == nil {
                typer.apply(upTo: pc.virtualTime, to: pc.kbc.keyboard)
                if let stop = pacer.advance(budgetNs: 10_000_000, limit: typer.nextTime) {
                    if stop == .breakpoint, let hook = debugBreakHook {
                        // --break: the debugger prompt takes the terminal meanwhile.
                        restoreTerminal()
                        let resume = hook(stop)
                        _ = enterRawTerminal()
                        shown = []
                        pacer.rebase()
                        if resume { continue }
                    }
                    stopped = describeStop(stop, pc: pc)
                    stopCode = (options.statusForStop ?? defaultStatus)(stop)
                }
                typer.apply(upTo: pc.virtualTime, to: pc.kbc.keyboard)
                options.afterSlice?()
                if options.exitOnStop, let c = stopCode { draw(force: true); return c }
            }
            if let status = options.pollStop?() { return status }
            let now = wallNanoseconds()
            if now &- lastFrameWall >= Self.frameIntervalNs || terminalResized != 0 {
                lastFrameWall = now
                draw(force: false)
            }
            waitForWork()
        }
    }

    private func guestOutput(_ b: UInt8) {
        if b == 0x0A || b == 0x0D {
            if !guestLine.isEmpty { guestLineDone = true }
            return
        }
        if guestLineDone { guestLine.removeAll(); guestLineDone = false }
        if guestLine.count < 60 && b >= 0x20 && b < 0x7F { guestLine.append(b) }
    }

    // MARK: Input

    /// Reads what the terminal has; false on Ctrl+] (quit).
    private func readInput() -> Bool {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(0, &buf, buf.count)
        let now = wallNanoseconds()
        if n > 0 {
            pendingInput += buf[0..<n]
            pendingSince = now
        }
        guard !pendingInput.isEmpty else { return true }
        // A lone ESC (or a cut sequence) is final once no more bytes follow quickly.
        let final = n <= 0 && now &- pendingSince > 25_000_000
        let (inputs, used) = KeyMapping.decodeTerminal(pendingInput, final: final)
        pendingInput.removeFirst(used)
        for i in inputs {
            switch i {
            case .quit:
                return false
            case .stroke(let s):
                if stopped == nil { typer.type(s, at: pc.virtualTime) }
            }
        }
        return true
    }

    private func waitForWork() {
        var sleep: UInt64
        if stopped != nil {
            sleep = 250_000_000
        } else {
            sleep = pacer.sleepNs(alsoWakeAt: typer.nextTime)
            if !pc.isHalted {
                let since = wallNanoseconds() &- lastFrameWall
                sleep = min(sleep, since >= Self.frameIntervalNs ? 0 : Self.frameIntervalNs - since)
            }
        }
        if !pendingInput.isEmpty { sleep = min(sleep, 30_000_000) }
        guard sleep > 0 else { return }
        var p = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        if sleep >= 1_000_000 {
            _ = poll(&p, 1, Int32(min(sleep / 1_000_000, 250)))
        } else {
            var ts = timespec(tv_sec: 0, tv_nsec: Int(sleep))
            nanosleep(&ts, nil)
        }
    }

    // MARK: Output

    private func querySize() {
        var ws = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_row > 0 { termRows = Int(ws.ws_row) }
    }

    private static let ansiOrder: [Int] = [0, 4, 2, 6, 1, 5, 3, 7]   // VGA colour -> ANSI colour

    private func emit(_ s: String) { out += s.utf8 }

    private func sgr(attr: Int, blinkEnabled: Bool, palette: [UInt32]) -> String {
        let fg = attr & 0x0F
        let bg = blinkEnabled ? (attr >> 4) & 7 : (attr >> 4) & 0x0F
        var s = "\u{1B}[0"
        if trueColor {
            let f = palette[fg], b = palette[bg]
            s += ";38;2;\(f & 0xFF);\((f >> 8) & 0xFF);\((f >> 16) & 0xFF)"
            s += ";48;2;\(b & 0xFF);\((b >> 8) & 0xFF);\((b >> 16) & 0xFF)"
        } else {
            s += fg >= 8 ? ";\(90 + Self.ansiOrder[fg & 7])" : ";\(30 + Self.ansiOrder[fg])"
            s += bg >= 8 ? ";\(100 + Self.ansiOrder[bg & 7])" : ";\(40 + Self.ansiOrder[bg])"
        }
        if blinkEnabled && attr & 0x80 != 0 { s += ";5" }
        return s + "m"
    }

    private func draw(force: Bool) {
        if terminalResized != 0 {
            terminalResized = 0
            querySize()
            shown = []
            emit("\u{1B}[0m\u{1B}[2J")
        }
        let s = pc.vga.textScreen()
        let full = force || shown.count != s.cells.count || shownCols != s.cols || shownRows != s.rows
            || shownBlink != s.blinkEnabled || (trueColor && shownPalette != s.palette)
        if full { shown = [UInt16](repeating: 0, count: s.cells.count); shownCols = s.cols; shownRows = s.rows }
        var lastAttr = -1
        var cursorAt = (-1, -1)
        let blank = !s.screenOn || s.graphicsMode
        for r in 0..<s.rows {
            for c in 0..<s.cols {
                let i = r * s.cols + c
                var cell = s.cells[i]
                if blank { cell = 0x0020 }
                if !full && shown[i] == cell { continue }
                shown[i] = cell
                if cursorAt != (r, c) { emit("\u{1B}[\(r + 1);\(c + 1)H") }
                let attr = Int(cell >> 8)
                if attr != lastAttr { emit(sgr(attr: attr, blinkEnabled: s.blinkEnabled, palette: s.palette)); lastAttr = attr }
                let ch = Int(cell & 0xFF)
                if ch == 0 || ch == 0xFF { out.append(0x20) } else { out += String(VGA.cp437[ch]).utf8 }
                cursorAt = (r, c + 1)
            }
        }
        shownPalette = s.palette
        shownBlink = s.blinkEnabled
        // Status line below the screen when the terminal has room.
        var status = " \(title): \(machineStateText(pc: pc, paused: false, stopped: stopped)) — \(terminalQuitHelp) "
        if !guestLine.isEmpty { status += "| guest: " + String(decoding: guestLine, as: UTF8.self) + " " }
        if termRows > s.rows && (status != shownStatus || full) {
            shownStatus = status
            emit("\u{1B}[\(s.rows + 1);1H\u{1B}[0;7m\(status)\u{1B}[0m\u{1B}[K")
        }
        let cursor = s.cursorEnabled && !blank ? (s.cursorRow, s.cursorCol) : (-1, -1)
        if !out.isEmpty || cursor != shownCursor {
            shownCursor = cursor
            if cursor.0 >= 0 {
                emit("\u{1B}[\(cursor.0 + 1);\(cursor.1 + 1)H\u{1B}[?25h")
            } else {
                emit("\u{1B}[?25l")
            }
        }
        if out.count > 0 {
            var off = 0
            out.withUnsafeBytes { buf in
                while off < buf.count {
                    let w = write(1, buf.baseAddress! + off, buf.count - off)
                    if w < 0 { if errno == EINTR || errno == EAGAIN { continue }; break }
                    off += w
                }
            }
            out.removeAll(keepingCapacity: true)
        }
    }
}
