import ArgumentParser
import Board
import CPU
import Devices
import Foundation

enum Mode: String { case window, terminal, headless, debug }

/// The command line, checked and resolved.
struct Options {
    var kernelPath: String
    var mode: Mode
    var config = PCConfig()
    var append = ""
    var maxInstructions: UInt64?
    var timeoutNs: UInt64?
    var untilOutput: String?
    var traceCategories: TraceCategory = []
    var traceFile: String?
    var traceFormat = TraceFormat.text
    var tracePorts: [ClosedRange<UInt16>] = []
    var keys: String?
    var keysAt: UInt64 = 1_000_000_000
    var inputFile: String?
    var dumpScreen: String?
    var screenshot: String?
    var dumpAt: [UInt64] = []
    var diagnose = true
    var stats = false
    var gdbPort: Int?
    var commandsFile: String?
    var breaks: [String] = []

    static func parseSize(_ s: String) -> Int? {
        let u = s.uppercased()
        var mul = 1 << 20
        var num = Substring(u)
        if u.hasSuffix("G") || u.hasSuffix("GB") || u.hasSuffix("GIB") { mul = 1 << 30; num = num.prefix { $0.isNumber } }
        else if u.hasSuffix("M") || u.hasSuffix("MB") || u.hasSuffix("MIB") { num = num.prefix { $0.isNumber } }
        else if u.hasSuffix("K") || u.hasSuffix("KB") || u.hasSuffix("KIB") { mul = 1 << 10; num = num.prefix { $0.isNumber } }
        guard let n = Int(num), n > 0, n <= (4 << 30) / mul else { return nil }
        return n * mul
    }

    static func parsePort(_ s: Substring) -> UInt16? {
        let t = s.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasPrefix("0x") { return UInt16(t.dropFirst(2), radix: 16) }
        return UInt16(t)
    }

    static func from(_ c: SwiftEmu) throws -> Options {
        var kernel: String?
        var mode: Mode?
        guard c.positional.count <= 2 else {
            throw ValidationError("expected at most KERNEL and MODE, got \(c.positional.count) arguments")
        }
        for p in c.positional {
            if let m = Mode(rawValue: p) {
                guard mode == nil else { throw ValidationError("two modes given") }
                mode = m
            } else {
                guard kernel == nil else { throw ValidationError("unknown mode '\(p)' (window, terminal, headless, debug)") }
                guard mode == nil else { throw ValidationError("unknown mode '\(p)' (window, terminal, headless, debug)") }
                kernel = p
            }
        }
        let hasDisplay = ProcessInfo.processInfo.environment["DISPLAY"].map { !$0.isEmpty } ?? false
            || ProcessInfo.processInfo.environment["WAYLAND_DISPLAY"].map { !$0.isEmpty } ?? false
        var o = Options(kernelPath: kernel ?? Options.bundledGuest(),
                        mode: mode ?? (hasDisplay ? .window : .terminal))
        guard let ram = parseSize(c.ram), ram >= 2 << 20, ram <= 3 << 30 else {
            throw ValidationError("--ram '\(c.ram)' must be between 2M and 3G (e.g. 128M, 1G)")
        }
        o.config.ramSize = ram
        o.config.rebootOnReset = !c.noReboot
        o.config.rebootOnTripleFault = c.rebootOnTripleFault
        switch c.spurious {
        case "datasheet": o.config.spuriousMode = .datasheet
        case "qemu": o.config.spuriousMode = .qemu
        default: throw ValidationError("--spurious must be 'datasheet' or 'qemu'")
        }
        o.append = c.append
        o.maxInstructions = c.maxInstructions
        if let t = c.timeout {
            guard t > 0, t.isFinite, t < 1e9 else { throw ValidationError("--timeout must be a positive number of virtual seconds") }
            o.timeoutNs = UInt64(t * 1e9)
        }
        o.untilOutput = c.untilOutput
        if let t = c.trace {
            guard let cats = TraceFormat.parseCategories(t) else {
                throw ValidationError("--trace: unknown category in '\(t)' (irq,pic,pit,kbd,rtc,uart,vga,exc,io,cpu,diag,all)")
            }
            o.traceCategories = cats
        }
        o.traceFile = c.traceFile
        guard let tf = TraceFormat(rawValue: c.traceFormat) else { throw ValidationError("--trace-format must be text or jsonl") }
        o.traceFormat = tf
        if let tp = c.tracePorts {
            for part in tp.split(separator: ",") {
                let ends = part.split(separator: "-", maxSplits: 1)
                guard let a = parsePort(ends[0]), let b = ends.count > 1 ? parsePort(ends[1]) : a, a <= b else {
                    throw ValidationError("--trace-ports: bad range '\(part)'")
                }
                o.tracePorts.append(a...b)
            }
        }
        o.keys = c.keys
        guard let ka = InputScript.parseDuration(Substring(c.keysAt)) else { throw ValidationError("--keys-at: bad time '\(c.keysAt)' (e.g. 1s, 500ms)") }
        o.keysAt = ka
        o.inputFile = c.input
        o.dumpScreen = c.dumpScreen
        o.screenshot = c.screenshot
        if let d = c.dumpAt {
            for part in d.split(separator: ",") {
                guard let t = InputScript.parseDuration(part) else { throw ValidationError("--dump-at: bad time '\(part)'") }
                o.dumpAt.append(t)
            }
            guard o.dumpScreen != nil || o.screenshot != nil else { throw ValidationError("--dump-at needs --dump-screen or --screenshot") }
        }
        switch c.diagnose {
        case "on": o.diagnose = true
        case "off": o.diagnose = false
        default: throw ValidationError("--diagnose must be on or off")
        }
        o.stats = c.stats
        if let g = c.gdb {
            guard (1...65535).contains(g) else { throw ValidationError("--gdb PORT must be 1-65535") }
            o.gdbPort = g
        }
        o.commandsFile = c.commands
        o.breaks = c.breaks
        return o
    }

    /// The bundled guest: next to the executable's build tree, or under the
    /// current directory, or $SWIFTEMU_GUEST.
    static func bundledGuest() -> String {
        if let e = ProcessInfo.processInfo.environment["SWIFTEMU_GUEST"], !e.isEmpty { return e }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidates = [
            exe.deletingLastPathComponent().appendingPathComponent("../../../build/guest/guest.elf").path,
            exe.deletingLastPathComponent().appendingPathComponent("../../build/guest/guest.elf").path,
            FileManager.default.currentDirectoryPath + "/build/guest/guest.elf",
        ]
        for c in candidates where FileManager.default.fileExists(atPath: c) {
            return URL(fileURLWithPath: c).standardized.path
        }
        return "build/guest/guest.elf"
    }
}

/// Writes to a file descriptor through a buffer (stdout for guest output).
final class OutputBuffer {
    private var buf: [UInt8] = []
    private let fd: Int32
    init(fd: Int32) { self.fd = fd; buf.reserveCapacity(8192) }
    func append(_ b: UInt8) {
        buf.append(b)
        if buf.count >= 8192 { flush() }
    }
    func append(_ s: String) {
        buf.append(contentsOf: Array(s.utf8))
        if buf.count >= 8192 { flush() }
    }
    func flush() {
        var off = 0
        while off < buf.count {
            let n = buf[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            off += n
        }
        buf.removeAll(keepingCapacity: true)
    }
}

func warn(_ s: String) {
    FileHandle.standardError.write(("swiftemu: " + s + "\n").data(using: .utf8)!)
}

enum Runner {
    static func run(_ o: inout Options) throws -> Int32 {
        let bytes: [UInt8]
        do {
            bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: o.kernelPath)))
        } catch {
            if !FileManager.default.fileExists(atPath: o.kernelPath) {
                warn("cannot load kernel '\(o.kernelPath)': no such file" +
                     (o.kernelPath.hasSuffix("build/guest/guest.elf") ? " (build the bundled guest with `make guest`)" : ""))
            } else {
                warn("cannot load kernel '\(o.kernelPath)': \(error.localizedDescription)")
            }
            return ExitStatus.badKernel
        }
        let pc = PC(config: o.config)
        do {
            try pc.load(kernel: bytes, path: o.kernelPath, append: o.append)
        } catch let e as LoadError {
            warn("cannot load kernel '\(o.kernelPath)': \(e.description)")
            return ExitStatus.badKernel
        }
        let session = try Session(pc: pc, options: o)
        defer { session.finish() }
        if DebugFrontend.wanted(o) { return DebugFrontend(session: session).run() }
        if let code = DebugFrontend.prepareFrontendMode(session: session) { return code }
        switch o.mode {
        case .headless:
            return session.runHeadless()
        case .window:
            var w = WindowOptions()
            w.afterSlice = { session.out.flush() }
            w.statusForStop = { session.report($0) }
            // Ctrl+Alt+D: the debugger prompt in the launching terminal, with
            // the machine stopped; `quit` or end of input returns to the window.
            var prompt: DebugFrontend?
            w.onDebugRequest = { _ in
                let d = prompt ?? DebugFrontend(session: session)
                prompt = d
                d.say("debugger: the window is paused; 'quit' or Ctrl-D returns to it")
                d.say(d.debugger.locationLine())
                _ = d.promptLoop()
            }
            return runWindow(pc: pc, title: "swiftemu " + (o.kernelPath as NSString).lastPathComponent, options: w)
        case .terminal:
            var t = TerminalOptions()
            t.statusForStop = { session.report($0) }
            return runTerminal(pc: pc, title: "swiftemu " + (o.kernelPath as NSString).lastPathComponent, options: t)
        case .debug:
            return DebugFrontend(session: session).run()
        }
    }
}
