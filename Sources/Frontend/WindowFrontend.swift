#if canImport(Glibc)
import Glibc
#endif
import Board
import CSDL2
import Devices
import Display

/// Options of the SDL window frontend.
struct WindowOptions {
    /// Initial integer scale of the 720x400 screen; nil picks the largest
    /// that fits 90% of the desktop (at most 3).
    var scale: Int?
    /// PC speaker through SDL audio.
    var audio = true
    /// Leave the loop when the machine stops, returning the guest's exit code
    /// (otherwise the window stays, showing the last screen and the reason).
    var exitOnStop = false
    /// Where Ctrl+Alt+S screenshots go.
    var screenshotDirectory = "."
    /// Ctrl+Alt+D: called with the machine stopped in its tracks; the window
    /// resumes real-time pacing when it returns.
    var onDebugRequest: ((PC) -> Void)?
    /// Exit status for a stop (also the place to report it); default: the
    /// guest's status for isa-debug-exit, else 1.
    var statusForStop: ((PCStop) -> Int32)?
    /// Called after every run slice (e.g. to flush guest output).
    var afterSlice: (() -> Void)?
    /// Polled once per loop: a non-nil value ends the loop with that exit
    /// status (e.g. a SIGINT/SIGTERM seen by the caller's signal handlers;
    /// without them SDL turns those signals into a quit, status 0).
    var pollStop: (() -> Int32?)?
}

/// Message for a host without a display.
let noDisplayHelp = """
    The window mode needs a graphical display, and none is available.
    Use `swiftemu <kernel> terminal` to run with the screen drawn in this terminal,
    or `swiftemu <kernel> headless` to run without a display (serial/debug console output only).
    """

/// Runs `pc` in an SDL window until the window is closed (exit status 0) or,
/// with `exitOnStop`, until the machine stops. Returns 1 when no window can
/// be opened.
///
/// Host keys (Ctrl+Alt+...): P pause/resume, R reset, S screenshot to
/// ./swiftemu-<n>.png, D debugger. Every other key goes to the guest by its
/// physical position (SDL scancode -> PS/2 set 2 key).
func runWindow(pc: PC, title: String, options: WindowOptions = WindowOptions()) -> Int32 {
    let hasDisplay = [getenv("DISPLAY"), getenv("WAYLAND_DISPLAY")].contains { p in
        guard let p else { return false }
        return p.pointee != 0
    }
    guard hasDisplay else {
        fputs("swiftemu: no display (neither DISPLAY nor WAYLAND_DISPLAY is set).\n\(noDisplayHelp)\n", stderr)
        return 1
    }
    // Keep the desktop compositor on, and let Ctrl+C in the launching terminal close the window.
    SDL_SetHint("SDL_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR", "0")
    // The window surface is the plain framebuffer (X11 shared memory), not a
    // GL texture: only small changed rectangles are sent, and no software GL
    // rasteriser wakes up where there is no GPU.
    SDL_SetHint("SDL_FRAMEBUFFER_ACCELERATION", "0")
    guard SDL_Init(UInt32(SDL_INIT_VIDEO | SDL_INIT_EVENTS)) == 0 else {
        fputs("swiftemu: cannot open a window: \(String(cString: SDL_GetError())).\n\(noDisplayHelp)\n", stderr)
        return 1
    }
    defer { SDL_Quit() }
    let win = WindowFrontend(pc: pc, title: title, options: options)
    guard win.open() else {
        fputs("swiftemu: cannot open a window: \(String(cString: SDL_GetError())).\n\(noDisplayHelp)\n", stderr)
        return 1
    }
    return win.run()
}

private final class WindowFrontend {
    let pc: PC
    let title: String
    let options: WindowOptions
    let pacer: RealTimePacer

    var window: OpaquePointer?
    var surface: UnsafeMutablePointer<SDL_Surface>?
    var text = TextRenderer()
    var speaker: SpeakerOutput?

    var paused = false
    var stopped: String?
    var stopCode: Int32?
    var quit = false
    /// Host-key scancodes pressed with Ctrl+Alt: their releases are not sent to the guest.
    var hostKeysDown: Set<UInt32> = []
    var needPresent = true
    var lastFrameWall: UInt64 = 0
    var lastTitle = ""
    var lastTitleWall: UInt64 = 0

    static let frameIntervalNs: UInt64 = 14_000_000   // ~70 Hz, the VGA's own rate

    init(pc: PC, title: String, options: WindowOptions) {
        self.pc = pc
        self.title = title
        self.options = options
        pacer = RealTimePacer(pc: pc)
    }

    deinit {
        speaker = nil
        if let window { SDL_DestroyWindow(window) }
    }

    func open() -> Bool {
        let (w, h) = TextRenderer.size(of: pc.vga.textScreen())
        var scale = options.scale ?? 1
        if options.scale == nil {
            var mode = SDL_DisplayMode()
            if SDL_GetDesktopDisplayMode(0, &mode) == 0 && mode.w > 0 && mode.h > 0 {
                scale = max(1, min(3, min(Int(mode.w) * 9 / 10 / max(w, 1), Int(mode.h) * 9 / 10 / max(h, 1))))
            }
        }
        let centered = Int32(bitPattern: 0x2FFF_0000)   // SDL_WINDOWPOS_CENTERED
        window = SDL_CreateWindow(title, centered, centered, Int32(w * scale), Int32(h * scale),
                                  SDL_WINDOW_RESIZABLE.rawValue | SDL_WINDOW_ALLOW_HIGHDPI.rawValue)
        guard let window else { return false }
        SDL_SetWindowMinimumSize(window, 180, 100)
        surface = SDL_GetWindowSurface(window)
        guard surface != nil else { return false }
        if options.audio {
            let pc = self.pc
            speaker = SpeakerOutput(pc: pc, dataBit: { speakerDataBit(pc) })
        }
        return true
    }

    func run() -> Int32 {
        pacer.rebase()
        while !quit {
            pollEvents()
            if quit { break }
            if !paused && stopped == nil {
                if let stop = pacer.advance(budgetNs: 10_000_000) { handleStop(stop) }
                speaker?.pump(upTo: pc.virtualTime)
                options.afterSlice?()
                if options.exitOnStop, let code = stopCode { return code }
            }
            if let status = options.pollStop?() { return status }
            let now = wallNanoseconds()
            if now &- lastFrameWall >= Self.frameIntervalNs {
                lastFrameWall = now
                drawFrame()
                updateTitle(now)
            }
            waitForWork()
        }
        return 0
    }

    private func handleStop(_ stop: PCStop) {
        if stop == .breakpoint, let hook = debugBreakHook {
            // --break: the debugger prompt runs on the terminal meanwhile.
            let resume = hook(stop)
            pacer.rebase()
            if resume { return }
        }
        stopped = describeStop(stop, pc: pc)
        stopCode = (options.statusForStop ?? defaultStatus)(stop)
        pc.kbc.keyboard.releaseAll()
        updateTitle(wallNanoseconds(), force: true)
    }

    // MARK: Sleeping

    /// Sleeps until the machine, the screen or the user next needs us.
    private func waitForWork() {
        var sleep: UInt64
        if paused || stopped != nil {
            sleep = 250_000_000
        } else {
            sleep = pacer.sleepNs(alsoWakeAt: nextBlinkToggle())
            if !pc.isHalted {
                // The guest may be drawing: wake for the next frame.
                let sinceFrame = wallNanoseconds() &- lastFrameWall
                sleep = min(sleep, sinceFrame >= Self.frameIntervalNs ? 0 : Self.frameIntervalNs - sinceFrame)
            }
        }
        if sleep >= 1_000_000 {
            // Wakes early on any input event (left in the queue for pollEvents).
            SDL_WaitEventTimeout(nil, Int32(min(sleep / 1_000_000, 250)))
        } else if sleep > 0 {
            var ts = timespec(tv_sec: 0, tv_nsec: Int(sleep))
            nanosleep(&ts, nil)
        }
    }

    /// Virtual time of the next cursor/blink phase change that shows on screen.
    private func nextBlinkToggle() -> UInt64 {
        let s = pc.vga.textScreen()
        guard s.cursorEnabled || s.blinkEnabled else { return .max }
        let frame = VGA.frameNumber(at: pc.virtualTime)
        return virtualTime(ofFrame: (frame / 8 + 1) * 8)
    }

    private func virtualTime(ofFrame f: UInt64) -> UInt64 {
        // frame f starts at dot f * 900 * 449; dots -> ns at 28.322 MHz (rounded up).
        let dots = f.multipliedFullWidth(by: VGA.dotsPerLine * VGA.linesPerFrame)
        let ns = dots.low.multipliedFullWidth(by: 1_000_000)
        guard dots.high == 0, ns.high < VGA.dotClockKHz else { return .max }
        let (q, r) = VGA.dotClockKHz.dividingFullWidth(ns)
        return r == 0 ? q : q + 1
    }

    // MARK: Screen

    // The screen goes to the window surface (SDL's framebuffer path: X11
    // shared memory images, no GL): the framebuffer is scaled into it and
    // only the changed rectangle is pushed to the display, so a blinking
    // cursor costs one cell's worth of pixels per toggle.

    private func drawFrame() {
        let screen = pc.vga.textScreen()
        let dirty = text.render(screen, time: pc.virtualTime)
        if needPresent {
            present(nil)
            needPresent = false
        } else if let dirty {
            present(dirty)
        }
    }

    /// Where the framebuffer goes in the window: integer scale, centred
    /// (letterboxed); scaled down to fit when the window is too small.
    private func placement(windowW ww: Int32, windowH wh: Int32, fbW: Int32, fbH: Int32) -> (SDL_Rect, Int32) {
        let s = min(ww / fbW, wh / fbH)
        var dw: Int32, dh: Int32
        if s >= 1 {
            dw = fbW * s; dh = fbH * s
        } else {
            let f = min(Double(ww) / Double(fbW), Double(wh) / Double(fbH))
            dw = max(1, Int32(Double(fbW) * f)); dh = max(1, Int32(Double(fbH) * f))
        }
        return (SDL_Rect(x: (ww - dw) / 2, y: (wh - dh) / 2, w: dw, h: dh), s)
    }

    /// Copies the framebuffer (all of it, or the `dirty` part) to the window.
    private func present(_ dirty: PixelRect?) {
        guard let window else { return }
        if surface == nil { surface = SDL_GetWindowSurface(window) }
        guard let surface else { return }
        let fb = text.framebuffer
        guard fb.width > 0, fb.height > 0 else { return }
        let ww = surface.pointee.w, wh = surface.pointee.h
        let (dest, scale) = placement(windowW: ww, windowH: wh, fbW: Int32(fb.width), fbH: Int32(fb.height))
        var src = SDL_Rect(x: 0, y: 0, w: Int32(fb.width), h: Int32(fb.height))
        var dst = dest
        let partial = dirty != nil && scale >= 1
        if partial, let d = dirty {
            src = SDL_Rect(x: Int32(d.x), y: Int32(d.y), w: Int32(d.width), h: Int32(d.height))
            dst = SDL_Rect(x: dest.x + src.x * scale, y: dest.y + src.y * scale, w: src.w * scale, h: src.h * scale)
        } else {
            SDL_FillRect(surface, nil, SDL_MapRGB(surface.pointee.format, 0, 0, 0))
        }
        fb.pixels.withUnsafeBytes { buf in
            // SDL only reads the source surface's pixels.
            let from = SDL_CreateRGBSurfaceWithFormatFrom(UnsafeMutableRawPointer(mutating: buf.baseAddress), Int32(fb.width), Int32(fb.height), 32,
                                                          Int32(fb.width * 4), SDL_PIXELFORMAT_ABGR8888.rawValue)
            guard let from else { return }
            SDL_SetSurfaceBlendMode(from, SDL_BLENDMODE_NONE)
            var d = dst
            SDL_UpperBlitScaled(from, &src, surface, &d)
            SDL_FreeSurface(from)
        }
        if partial {
            SDL_UpdateWindowSurfaceRects(window, &dst, 1)
        } else {
            SDL_UpdateWindowSurface(window)
        }
    }

    private func updateTitle(_ now: UInt64, force: Bool = false) {
        guard force || now &- lastTitleWall >= 500_000_000 else { return }
        lastTitleWall = now
        var parts = [title, machineStateText(pc: pc, paused: paused, stopped: stopped)]
        if !paused && stopped == nil {
            if pacer.slow { parts.append(String(format1("slow: %.0f%% speed", pacer.speed * 100))) }
            parts.append(format1("%.1f MIPS", pacer.mips))
        }
        let t = parts.joined(separator: " - ")
        if t != lastTitle {
            lastTitle = t
            SDL_SetWindowTitle(window, t)
        }
    }

    // MARK: Input

    private func pollEvents() {
        var e = SDL_Event()
        while SDL_PollEvent(&e) != 0 {
            switch e.type {
            case SDL_QUIT.rawValue:
                quit = true
            case SDL_KEYDOWN.rawValue, SDL_KEYUP.rawValue:
                handleKey(e.key, down: e.type == SDL_KEYDOWN.rawValue)
            case SDL_WINDOWEVENT.rawValue:
                switch UInt32(e.window.event) {
                case SDL_WINDOWEVENT_FOCUS_LOST.rawValue:
                    // Keys released while we cannot see them must not stick.
                    pc.kbc.keyboard.releaseAll()
                    hostKeysDown.removeAll()
                case SDL_WINDOWEVENT_SIZE_CHANGED.rawValue, SDL_WINDOWEVENT_RESIZED.rawValue:
                    surface = nil        // the old surface is gone; fetched again when drawing
                    needPresent = true
                    lastFrameWall = 0
                case SDL_WINDOWEVENT_EXPOSED.rawValue, SDL_WINDOWEVENT_RESTORED.rawValue:
                    needPresent = true
                    lastFrameWall = 0
                default:
                    break
                }
            default:
                break
            }
        }
    }

    private func handleKey(_ k: SDL_KeyboardEvent, down: Bool) {
        if k.repeat != 0 { return }   // the emulated keyboard does its own typematic repeat
        let sc = k.keysym.scancode
        let mods = UInt32(SDL_GetModState().rawValue)
        let ctrlAlt = mods & UInt32(KMOD_CTRL.rawValue) != 0 && mods & UInt32(KMOD_ALT.rawValue) != 0
        if down && ctrlAlt, let action = hostAction(sc) {
            hostKeysDown.insert(sc.rawValue)
            action()
            return
        }
        if !down && hostKeysDown.remove(sc.rawValue) != nil { return }
        guard let key = KeyMapping.key(forScancode: sc) else { return }
        if down { pc.kbc.keyboard.press(key) } else { pc.kbc.keyboard.release(key) }
    }

    private func hostAction(_ sc: SDL_Scancode) -> (() -> Void)? {
        switch sc {
        case SDL_SCANCODE_P: return { [unowned self] in self.togglePause() }
        case SDL_SCANCODE_R: return { [unowned self] in self.reset() }
        case SDL_SCANCODE_S: return { [unowned self] in self.screenshot() }
        case SDL_SCANCODE_D: return { [unowned self] in self.debug() }
        default: return nil
        }
    }

    private func togglePause() {
        paused.toggle()
        if !paused {
            pacer.rebase()
            speaker?.restart()
        }
        pc.kbc.keyboard.releaseAll()
        updateTitle(wallNanoseconds(), force: true)
    }

    private func reset() {
        pc.kbc.keyboard.releaseAll()
        pc.reset()
        stopped = nil
        stopCode = nil
        paused = false
        text = TextRenderer()
        pacer.rebase()
        speaker?.restart()
        lastFrameWall = 0
        updateTitle(wallNanoseconds(), force: true)
    }

    private func screenshot() {
        var r = TextRenderer()
        r.render(pc.vga.textScreen(), time: pc.virtualTime)
        let dir = options.screenshotDirectory
        var n = 1
        var path = "\(dir)/swiftemu-\(n).png"
        while access(path, F_OK) == 0 { n += 1; path = "\(dir)/swiftemu-\(n).png" }
        do {
            try r.framebuffer.writePNGAtomically(path: path)
            fputs("swiftemu: screenshot saved to \(path)\n", stderr)
        } catch {
            fputs("swiftemu: screenshot failed: \(error)\n", stderr)
        }
    }

    private func debug() {
        pc.kbc.keyboard.releaseAll()
        if let hook = options.onDebugRequest {
            SDL_SetWindowTitle(window, "\(title) - in debugger")
            hook(pc)
        } else {
            fputs("swiftemu: debugger not available\n", stderr)
        }
        pacer.rebase()
        speaker?.restart()
        updateTitle(wallNanoseconds(), force: true)
    }
}

/// printf-style formatting of one Double (no Foundation in this target).
func format1(_ fmt: String, _ v: Double) -> String {
    var buf = [CChar](repeating: 0, count: 64)
    _ = withVaList([v]) { vsnprintf(&buf, buf.count, fmt, $0) }
    return String(cString: buf)
}
