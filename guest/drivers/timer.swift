/// IRQ0 bookkeeping: tick count, uptime and the demo modes of the shell.
///
/// Uptime is the sum of the PIT periods of all ticks so far (in PIT input
/// clocks), so it stays right when `hz` changes the rate. It is derived from
/// timer interrupts only: ticks that are never delivered (no EOI, masked
/// IRQ0, interrupts off for longer than a period) are not counted.
enum Timer {
    static var ticks: UInt64 = 0
    static var clocks: UInt64 = 0          // PIT input clocks covered by ticks
    static var lastVector: UInt64 = 0

    /// `noeoi` demo: the handler stops acknowledging IRQ0 at the PIC.
    static var skipEOI = false
    /// `dots` / `noeoi`: the handler prints a '.' per tick (as blog_os does).
    static var printDots = false
    /// Self-test hook: record the master ISR as seen inside the handler.
    static var sampleISR = false
    static var sampledISR: UInt8 = 0

    static var uptimeMilliseconds: UInt64 { clocks * 1000 / PIT.inputHz }

    /// Called from interrupt dispatch for vector 32.
    static func interrupt(vector: UInt64) {
        ticks &+= 1
        clocks &+= UInt64(PIT.divisor)
        lastVector = vector
        if sampleISR {
            sampledISR = PIC.isr.master
            sampleISR = false
        }
        if printDots {
            Console.put(46)            // '.'
        }
        StatusLine.refresh()
        if !skipEOI {
            PIC.endOfInterrupt(irq: 0)
        }
    }

    /// Sleeps (hlt between interrupts) until `milliseconds` of timer time
    /// have passed, or `stop` returns true. Returns false if it gave up
    /// because ticks stopped arriving (IRQ0 masked or never acknowledged;
    /// noticed when another interrupt, e.g. a key, wakes the CPU).
    @discardableResult
    static func sleep(milliseconds: UInt64, until stop: () -> Bool = { false }) -> Bool {
        let target = clocks &+ milliseconds * PIT.inputHz / 1000
        var seen = ticks
        var watch = PIT.Stopwatch()
        while clocks < target {
            if stop() { return true }
            pause { ticks != seen || stop() }
            if ticks != seen {
                seen = ticks
                watch = PIT.Stopwatch()
            } else if watch.hasElapsed(2 * PIT.inputHz) {
                return false
            }
        }
        return true
    }

    /// Sleeps until the next timer interrupt. False if none arrives within
    /// about two seconds of PIT time.
    static func waitForTick() -> Bool {
        let start = ticks
        var watch = PIT.Stopwatch()
        while ticks == start {
            if watch.hasElapsed(2 * PIT.inputHz) { return false }
            pause { ticks != start }
        }
        return true
    }

    /// Waits for an interrupt with HLT, but only once the timer has been
    /// seen interrupting: until the first tick the CPU polls, so a timer
    /// that never fires cannot put the kernel to sleep for good.
    private static func pause(until wake: () -> Bool) {
        if ticks == 0 {
            cpu_pause()
        } else {
            CPU.idle(unless: wake)
        }
    }
}
