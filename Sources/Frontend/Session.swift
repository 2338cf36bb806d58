import Board
import CPU
import Devices
import Display
import Foundation

/// Set from signal handlers; polled by the run loops between slices.
nonisolated(unsafe) var pendingSignal: Int32 = 0

func installStopSignals() {
    signal(SIGINT) { s in pendingSignal = s }
    signal(SIGTERM) { s in pendingSignal = s }
}

/// Writes a file by writing a temporary sibling and renaming it over the
/// target, so no half-written file is ever seen.
func writeAtomically(_ path: String, _ data: Data) throws {
    let dir = (path as NSString).deletingLastPathComponent
    let tmp = (dir.isEmpty ? "." : dir) + "/." + (path as NSString).lastPathComponent + ".tmp\(getpid())"
    try data.write(to: URL(fileURLWithPath: tmp))
    if rename(tmp, path) != 0 {
        unlink(tmp)
        throw CocoaError(.fileWriteUnknown)
    }
}

/// Everything around a running machine that every mode shares: guest output,
/// trace, diagnoses, scripted input, screen dumps, statistics.
final class Session {
    let pc: PC
    let o: Options
    let out = OutputBuffer(fd: 1)
    private var traceOut: OutputBuffer?
    private var traceTmpPath: String?
    private var traceFD: Int32 = -1
    private let startWall = Date()
    private var finished = false

    init(pc: PC, options: Options) throws {
        self.pc = pc
        self.o = options
        pc.onOutput = { [out] b in out.append(b) }
        if let u = o.untilOutput { pc.stopOnOutput = Array(u.utf8) }
        if let m = o.maxInstructions { pc.instructionLimit = m }
        pc.ioTraceFilter = o.tracePorts
        try setUpTrace()
        try setUpInput()
        setUpDumps()
    }

    private(set) var diagnoser: Diagnoser?
    private(set) var istats: InterruptStats?

    private func setUpTrace() throws {
        let user = o.traceCategories
        if !user.isEmpty {
            if let f = o.traceFile {
                let dir = (f as NSString).deletingLastPathComponent
                let tmp = (dir.isEmpty ? "." : dir) + "/." + (f as NSString).lastPathComponent + ".tmp\(getpid())"
                let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                guard fd >= 0 else { throw ValidationErrorText("--trace-file: cannot write '\(f)'") }
                traceFD = fd
                traceTmpPath = tmp
                traceOut = OutputBuffer(fd: fd)
            } else {
                traceOut = OutputBuffer(fd: 2)
            }
        }
        var needed = user
        // Diagnoses: warnings on stderr unless --diagnose off; events in the
        // trace when its categories include diag.
        if o.diagnose || user.contains(.diag) {
            let d = Diagnoser(pc: pc)
            needed.formUnion(Diagnoser.categories)
            let fmt = o.traceFormat
            let sink = user.contains(.diag) ? traceOut : nil
            let toStderr = o.diagnose
            let traceOnStderr = o.traceFile == nil ? traceOut : nil
            d.onDiagnosis = { diag in
                if let sink = sink {
                    sink.append(fmt.render(PC.StampedEvent(time: diag.time, instructions: diag.instructions, event: diag.traceEvent)))
                    sink.append(10)
                }
                if toStderr {
                    traceOnStderr?.flush()
                    warn(diag.warning)
                }
            }
            diagnoser = d
        }
        if o.stats {
            istats = InterruptStats()
            needed.formUnion(InterruptStats.categories)
        }
        guard !needed.isEmpty else { return }
        pc.trace.enabled = needed
        let fmt = o.traceFormat
        let sink = traceOut
        let diag = diagnoser, st = istats
        pc.onTrace = { e in
            if let sink = sink, user.contains(e.event.category) {
                sink.append(fmt.render(e)); sink.append(10)
            }
            st?.observe(e)
            diag?.observe(e)
        }
        if !needed.isDisjoint(with: [.cpu, .exc]) {
            // IF changes are frequent (cli/sti pairs): built only when the
            // trace shows them or the diagnoser still waits for an STI.
            let traceCPU = user.contains(.cpu)
            pc.cpuEventHandler = { [unowned pc] ev in
                if case .interruptFlag = ev, !traceCPU, !(diag?.wantsInterruptFlagEvents ?? false) { return }
                if pc.trace.wants(ev.traceCategory) { pc.trace.emit(ev.traceEvent) }
            }
        }
    }

    private func setUpInput() throws {
        var script = InputScript()
        if let k = o.keys {
            do { try script.addKeys(k, start: o.keysAt) } catch let e as InputScript.ParseError {
                throw ValidationErrorText("--keys: \(e.description)")
            }
        }
        if let f = o.inputFile {
            guard let text = try? String(contentsOfFile: f, encoding: .utf8) else {
                throw ValidationErrorText("--input: cannot read '\(f)'")
            }
            do {
                let s = try InputScript.parseFile(text)
                script.events += s.events
                script.events.sort { $0.time < $1.time }
            } catch let e as InputScript.ParseError {
                throw ValidationErrorText("--input \(f): \(e.description)")
            }
        }
        if !script.events.isEmpty { pc.schedule(script) }
    }

    private func setUpDumps() {
        for t in o.dumpAt {
            var id = 0
            id = pc.clock.makeTimer("dump") { [unowned self] time in
                self.dumpScreen(suffix: "." + Session.timeSuffix(time))
                _ = id
            }
            pc.clock.schedule(id, at: t)
        }
    }

    static func timeSuffix(_ ns: UInt64) -> String {
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        return "\(ns)ns"
    }

    func screenText() -> String {
        pc.vga.textLines().joined(separator: "\n") + "\n"
    }

    func dumpScreen(suffix: String) {
        if let f = o.dumpScreen {
            do { try writeAtomically(f + suffix, Data(screenText().utf8)) } catch { warn("cannot write '\(f + suffix)'") }
        }
        if let f = o.screenshot {
            do { try writeAtomically(f + suffix, Data(Screenshot.png(pc))) } catch { warn("cannot write '\(f + suffix)'") }
        }
    }

    /// Runs flat out until the machine stops; returns the exit status.
    func runHeadless() -> Int32 {
        installStopSignals()
        let deadline = o.timeoutNs ?? .max
        let slice: UInt64 = 10_000_000 // 10 ms of virtual time between checks
        while true {
            let now = pc.virtualTime
            if now >= deadline { return report(.timeLimit) }
            let end = deadline - now > slice ? now + slice : deadline
            if let s = pc.run(until: end) { return report(s) }
            out.flush()
            if pendingSignal != 0 {
                warn("stopped by signal \(pendingSignal) at virtual time \(pc.virtualTime) ns")
                return pendingSignal == SIGINT ? ExitStatus.sigint : ExitStatus.sigterm
            }
        }
    }

    /// Prints the one-line reason for an ending and maps it to an exit status.
    func report(_ s: PCStop) -> Int32 {
        let t = String(format: "%.6f", Double(pc.virtualTime) / 1e9)
        switch s {
        case .guestExit(let code):
            return code
        case .outputMatched:
            return ExitStatus.outputMatched
        case .haltedForever:
            warn("guest halted with interrupts disabled at RIP \(hexs(pc.cpu.rip)) (virtual time \(t) s): nothing can wake it")
            return ExitStatus.haltedForever
        case .tripleFault(let why):
            warn("\(why) (virtual time \(t) s)")
            return ExitStatus.tripleFault
        case .resetRequested:
            warn("guest reset the machine at virtual time \(t) s (--no-reboot)")
            return ExitStatus.resetRequested
        case .instructionLimit:
            warn("instruction limit reached: \(pc.instructions) instructions (virtual time \(t) s)")
            return ExitStatus.instructionLimit
        case .timeLimit:
            warn("timeout: \(t) virtual seconds reached")
            return ExitStatus.timeout
        case .stopRequested, .breakpoint:
            warn("stopped at RIP \(hexs(pc.cpu.rip)) (virtual time \(t) s)")
            return ExitStatus.stopped
        }
    }

    func finish() {
        guard !finished else { return }
        finished = true
        out.flush()
        if o.dumpScreen != nil || o.screenshot != nil { dumpScreen(suffix: "") }
        diagnoser?.finish()
        if let st = istats {
            st.finish(at: pc.virtualTime)
            let wall = Date().timeIntervalSince(startWall)
            var ru = rusage()
            getrusage(RUSAGE_SELF.rawValue, &ru)
            let mem = InterruptStats.HostMemory(peakRSS: ru.ru_maxrss * 1024, ramResident: pc.memory.residentBytes(),
                                              ramSize: pc.memory.ramSize)
            FileHandle.standardError.write(Data(st.summary(instructions: pc.instructions, virtualNs: pc.virtualTime,
                                                           hostSeconds: wall, memory: mem).utf8))
        }
        traceOut?.flush()
        if traceFD >= 0, let tmp = traceTmpPath, let f = o.traceFile {
            fsync(traceFD)
            close(traceFD)
            if rename(tmp, f) != 0 { warn("cannot write trace file '\(f)'") }
        }
    }
}

struct ValidationErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func hexs(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

enum Screenshot {
    /// PNG of the current screen as the VGA scans it out at this virtual time.
    static func png(_ pc: PC) -> [UInt8] {
        var r = TextRenderer()
        r.render(pc.vga.textScreen(), time: pc.virtualTime)
        let fb = r.framebuffer
        guard fb.width > 0, fb.height > 0 else { return [] }
        return PNG.encode(pixels: fb.pixels, width: fb.width, height: fb.height)
    }
}
