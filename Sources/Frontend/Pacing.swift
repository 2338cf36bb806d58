#if canImport(Glibc)
import Glibc
#endif
import Board

/// Host monotonic time in ns (the interactive frontends pace virtual time to
/// it; nothing the guest sees is derived from it except through pacing).
func wallNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Keeps the machine's virtual time in step with the wall clock: runs it in
/// short slices up to "now" and says how long the host may sleep. When the
/// guest is halted with nothing due, the sleep lasts until the wall time of
/// the next device event, so an idle guest costs almost no host CPU.
final class RealTimePacer {
    let pc: PC
    /// Virtual time per slice: input and the screen are serviced between slices.
    var sliceNs: UInt64 = 1_000_000
    /// How far virtual time may lag before the pacer gives up catching up (a
    /// slow host then runs the guest as fast as it can, and says so).
    var maxLagNs: UInt64 = 50_000_000

    private var wallBase: UInt64 = 0
    private var virtBase: UInt64 = 0

    // Speed statistics over the last measurement window.
    private var statWall: UInt64 = 0
    private var statVirt: UInt64 = 0
    private var statInstr: UInt64 = 0
    private var statBehind = false
    private var lagged = false
    /// Virtual speed relative to real time over the last window (1 = full speed).
    private(set) var speed: Double = 1
    /// Millions of guest instructions per wall second over the last window.
    private(set) var mips: Double = 0
    /// True when the last window could not keep up with real time.
    private(set) var slow = false

    init(pc: PC) {
        self.pc = pc
        rebase()
    }

    /// Ties the current virtual time to now (after a pause, reset, debugger).
    func rebase() {
        wallBase = wallNanoseconds()
        virtBase = pc.virtualTime
        statWall = wallBase
        statVirt = virtBase
        statInstr = pc.instructions
        lagged = false
    }

    /// Virtual time that corresponds to the wall clock now.
    var target: UInt64 {
        let w = wallNanoseconds()
        return virtBase &+ (w &- wallBase)
    }

    /// Wall time at which virtual time `v` is due.
    func wallTime(ofVirtual v: UInt64) -> UInt64 {
        v >= virtBase ? wallBase &+ (v - virtBase) : wallBase
    }

    /// Runs the machine toward real time, for at most `budgetNs` of host time,
    /// never past virtual time `limit`. Returns a stop, or nil.
    func advance(budgetNs: UInt64, limit: UInt64 = .max) -> PCStop? {
        let start = wallNanoseconds()
        var goal = target
        if goal > pc.virtualTime &+ maxLagNs && !pc.isHalted {
            // The host cannot keep up: stop trying to catch up the backlog.
            // (A halted CPU is behind only because we slept until its next
            // event; it catches up at once.)
            virtBase &+= goal - pc.virtualTime - maxLagNs
            goal = pc.virtualTime &+ maxLagNs
            lagged = true
        }
        goal = min(goal, limit)
        while pc.virtualTime < goal {
            let deadline = min(goal, pc.virtualTime &+ sliceNs)
            if let stop = pc.run(until: deadline) { return stop }
            if wallNanoseconds() &- start >= budgetNs {
                if pc.virtualTime < goal { lagged = lagged || (goal - pc.virtualTime) > sliceNs * 4 }
                break
            }
        }
        updateStats()
        return nil
    }

    private func updateStats() {
        let w = wallNanoseconds()
        let dw = w &- statWall
        guard dw >= 1_000_000_000 else { return }
        let dv = pc.virtualTime &- statVirt
        let di = pc.instructions &- statInstr
        speed = Double(dv) / Double(dw)
        mips = Double(di) / Double(dw) * 1000
        slow = lagged && speed < 0.97
        lagged = false
        statWall = w
        statVirt = pc.virtualTime
        statInstr = pc.instructions
    }

    /// Host ns to sleep before the machine next needs to run, given extra
    /// virtual wake-up times the caller cares about (blink phases, typed keys).
    func sleepNs(alsoWakeAt extra: UInt64 = .max) -> UInt64 {
        let now = wallNanoseconds()
        let vt = pc.virtualTime
        let goal = virtBase &+ (now &- wallBase)
        var nextVirtual: UInt64
        if pc.isHalted {
            // Halted: nothing happens before the next device event (the
            // clock jumps there when we next run), so sleep until its wall time.
            nextVirtual = min(pc.nextEventTime, extra)
        } else {
            if vt < goal { return 0 }   // behind: run at once
            // Running and ahead of the wall clock: wait until it catches up
            // with the next slice.
            nextVirtual = min(vt &+ sliceNs, extra)
        }
        if nextVirtual == .max { return 250_000_000 }
        let wake = wallTime(ofVirtual: nextVirtual)
        return wake > now ? min(wake - now, 250_000_000) : 0
    }
}

/// Text for the state part of a title or status line.
func machineStateText(pc: PC, paused: Bool, stopped: String?) -> String {
    if let s = stopped { return "stopped: \(s)" }
    if paused { return "paused" }
    return pc.isHalted ? "halted" : "running"
}

/// Human text for a stop (window title, terminal status line).
func describeStop(_ stop: PCStop, pc: PC) -> String {
    switch stop {
    case .guestExit(let code): return "guest exit, status \(code)"
    case .haltedForever: return "halted with interrupts off"
    case .tripleFault: return "triple fault"
    case .resetRequested: return "guest reset (rebooting is off)"
    case .instructionLimit: return "instruction limit"
    case .timeLimit: return "time limit"
    case .outputMatched: return "output matched"
    case .stopRequested: return "stop requested"
    case .breakpoint: return "breakpoint"
    }
}

/// Exit status for a stop when the caller gives no mapping: the guest's
/// own status for isa-debug-exit, 1 otherwise.
func defaultStatus(for stop: PCStop) -> Int32 {
    if case .guestExit(let code) = stop { return code }
    return 1
}
