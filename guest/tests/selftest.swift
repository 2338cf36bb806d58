/// In-kernel self-tests, run when the Multiboot command line contains the
/// word `test` (QEMU: `-append test`; swiftemu: `--append test`).
///
/// Output policy: every result line goes through the console, i.e. to the
/// VGA screen and COM1 (and port 0xE9 with the `debugcon` word). Each test prints exactly one line,
/// `ok <name>` or `FAIL <name>: <detail>`; informational lines start with
/// `# `. The run ends with `<N> passed, <M> failed` and a write to the
/// isa-debug-exit port 0xF4: 0 when everything passed (QEMU exit status
/// (0 << 1) | 1 = 1), 1 otherwise (status 3). An unexpected exception during
/// the run writes 0x7F (status 255).
///
/// Timing checks compare two of the machine's clocks with each other (PIT
/// channel 0 against channel 2, timer ticks against the RTC), never against
/// the speed of the CPU, so they hold on an emulator whatever its speed.
enum SelfTest {
    static var running = false
    static var passed = 0
    static var failed = 0

    static func pass(_ name: StaticString) {
        passed += 1
        kprint("ok \(name)\n", .good)
    }

    static func fail(_ name: StaticString, _ detail: Message) {
        failed += 1
        kprint("FAIL \(name): \(detail)\n", .bad)
    }

    static func check(_ name: StaticString, _ condition: Bool, _ detail: @autoclosure () -> Message) {
        if condition { pass(name) } else { fail(name, detail()) }
    }

    static func note(_ message: Message) {
        kprint("# \(message)\n", .dim)
    }

    /// Runs every test; returns true if all passed.
    static func run() -> Bool {
        running = true
        passed = 0
        failed = 0
        Exceptions.verbose = false
        let savedDivisor = PIT.divisor
        let savedProgrammed = PIT.programmedByKernel
        kprint("self-test: \(Timer.ticks) ticks so far\n", .info)

        testDescriptorTables()
        testBreakpoint()
        testPageFault()
        testStackGuard()
        check("timer-irq0", Timer.waitForTick(), "no timer interrupt within 2 s of PIT time")
        testPICMasks()
        testPICRequestAndService()
        testNoEOIBlocksTimer()
        testPITReadBack()
        testPITChannel2OneShot()
        testPITChannel2SquareWave()
        testTimerAgainstRTC()
        testRTC()
        testRTCPeriodicInterrupt()
        testKBC()
        testKeyboardCommands()
        testKeyboardInterrupt()
        testVGA()
        testSerialLoopback()
        ScancodeTests.run()
        testLineEditor()
        testHeap()

        var counts: Message = "interrupts:"
        for irq in 0..<16 where Interrupts.irqCounts[irq] != 0 {
            counts.append(" IRQ")
            counts.append(unsigned: UInt64(irq))
            counts.append("=")
            counts.append(unsigned: Interrupts.irqCounts[irq])
        }
        note(counts)
        note("spurious IRQ7 \(PIC.spuriousMaster), IRQ15 \(PIC.spuriousSlave); IRQ1 with empty 8042 buffer \(Keyboard.emptyInterrupts); unexpected vectors \(Interrupts.unexpected)")
        PIT.setDivisor(savedDivisor)
        PIT.programmedByKernel = savedProgrammed
        Exceptions.verbose = true
        running = false
        kprint("\(passed) passed, \(failed) failed\n", failed == 0 ? .good : .bad)
        return failed == 0
    }

    static func runAndExit() -> Never {
        let ok = run()
        DebugExit.exit(ok ? 0 : 1)
        // Still running: no isa-debug-exit device on this machine.
        kprint("# no exit device at port 0xF4; halted\n", .dim)
        CPU.haltForever()
    }

    // MARK: CPU tables and exceptions

    static func testDescriptorTables() {
        let cs = cpu_read_cs()
        let tr = cpu_store_tr()
        check("gdt-tss", cs == GDT.kernelCode && tr == GDT.tssSelector,
              "CS=\(hex: cs) TR=\(hex: tr), expected 0x8 and 0x18")
    }

    static func testBreakpoint() {
        let before = Exceptions.counts[Exceptions.breakpoint]
        cpu_int3()
        let after = Exceptions.counts[Exceptions.breakpoint]
        let rip = Exceptions.lastBreakpointRIP
        let inKernel = rip > UInt64(kernel_start_address()) && rip < UInt64(kernel_end_address())
        check("int3-returns", after == before + 1 && inKernel,
              "\(after - before) breakpoint exceptions, saved RIP \(hex: rip)")
        let diff = int3_register_check()
        check("int3-preserves-registers", diff == 0, "registers changed across int3: xor mask \(hex: diff)")
    }

    static func testPageFault() {
        let address = Paging.demandWindowStart + 0x3000
        let before = Exceptions.counts[Exceptions.pageFault]
        let unmappedBefore = Paging.leafEntry(address) == nil
        mmio_write64(address, 0xC0FFEE)              // faults, gets mapped, restarts
        let value = mmio_read64(address)
        let faults = Exceptions.counts[Exceptions.pageFault] - before
        let cr2 = Exceptions.lastPageFaultAddress
        let error = Exceptions.lastPageFaultError
        check("page-fault-write-returns",
              unmappedBefore && faults == 1 && value == 0xC0FFEE && cr2 == UInt64(address) && error & 0x7 == 0x2,
              "faults \(faults), value \(hex: value), CR2 \(hex: cr2), error \(hex: error)")

        let readAddress = Paging.demandWindowStart + 0x7008
        let before2 = Exceptions.counts[Exceptions.pageFault]
        let zero = mmio_read64(readAddress)
        let faults2 = Exceptions.counts[Exceptions.pageFault] - before2
        check("page-fault-read-returns",
              faults2 == 1 && zero == 0 && Exceptions.lastPageFaultAddress == UInt64(readAddress) && Exceptions.lastPageFaultError & 0x7 == 0,
              "faults \(faults2), value \(hex: zero), CR2 \(hex: Exceptions.lastPageFaultAddress), error \(hex: Exceptions.lastPageFaultError)")
        Paging.releaseDemandPages()
        check("page-unmap", Paging.leafEntry(address) == nil, "page still mapped after unmap")
    }

    static func testStackGuard() {
        let guardPage = Paging.guardPage
        let stackMapped = Paging.leafEntry(boot_stack_bottom_address()) != nil
        check("stack-guard-page", Paging.leafEntry(guardPage) == nil && stackMapped,
              "guard page \(hex: guardPage) mapped: \(yesNo: Paging.leafEntry(guardPage) != nil)")
    }

    // MARK: 8259A PIC

    static func testPICMasks() {
        note("firmware IMR: master \(hex: PIC.firmwareMasterMask, digits: 2), slave \(hex: PIC.firmwareSlaveMask, digits: 2)")
        let original = PIC.masks
        let restored = original.master == PIC.firmwareMasterMask && original.slave == PIC.firmwareSlaveMask
        // Flip IRQ5 (master) and IRQ11 (slave): nothing in this machine uses them.
        let probeMaster = original.master ^ 0x20
        let probeSlave = original.slave ^ 0x08
        let readBack = CPU.withInterruptsDisabled { () -> (master: UInt8, slave: UInt8) in
            PIC.setMasks(master: probeMaster, slave: probeSlave)
            let r = PIC.masks
            PIC.setMasks(master: original.master, slave: original.slave)
            return r
        }
        check("pic-imr-readback",
              restored && readBack.master == probeMaster && readBack.slave == probeSlave && PIC.masks.master == original.master,
              "wrote \(hex: probeMaster)/\(hex: probeSlave), read \(hex: readBack.master)/\(hex: readBack.slave); masks after init \(hex: original.master)/\(hex: original.slave)")
    }

    static func testPICRequestAndService() {
        guard PIC.masks.master & 1 == 0 else {
            fail("pic-irr", "IRQ0 is masked (IMR \(hex: PIC.masks.master))")
            return
        }
        // With IF=0 the timer's request waits in the IRR (OCW3 0x0A read).
        let (seenIRR, isrWhileWaiting) = CPU.withInterruptsDisabled { () -> (Bool, UInt8) in
            var watch = PIT.Stopwatch()
            let limit = 3 * UInt64(PIT.divisor)
            while !watch.hasElapsed(limit) {
                if PIC.irr.master & 1 != 0 { return (true, PIC.isr.master) }
            }
            return (false, PIC.isr.master)
        }
        check("pic-irr", seenIRR, "IRQ0 never showed up in the master IRR")
        // Now let it in: inside the handler ISR bit 0 is set (OCW3 0x0B read).
        Timer.sampleISR = true
        _ = Timer.waitForTick()
        let isrOutside = PIC.isr.master
        check("pic-isr", isrWhileWaiting & 1 == 0 && Timer.sampledISR & 1 != 0 && isrOutside & 1 == 0,
              "ISR before \(hex: isrWhileWaiting), in handler \(hex: Timer.sampledISR), after \(hex: isrOutside)")
        check("pic-remap-vector-32", Timer.lastVector == 32, "timer interrupt arrived on vector \(Timer.lastVector)")
    }

    /// blog_os's "only one dot": while IRQ0 is in service (no EOI sent) the
    /// PIC delivers no further IRQ0, the new request waits in the IRR; the
    /// EOI lets it through at once.
    static func testNoEOIBlocksTimer() {
        PIT.setDivisor(PIT.divisor(forHz: 100))
        _ = Timer.waitForTick()
        Timer.skipEOI = true
        let first = Timer.ticks
        // Busy-wait (HLT would sleep for good): 60 ms = 6 timer periods.
        var watch = PIT.Stopwatch()
        while !watch.hasElapsed(PIT.inputHz * 60 / 1000) {}
        let delivered = Timer.ticks - first
        let isr = PIC.isr.master
        let irr = PIC.irr.master
        Timer.skipEOI = false
        let before = Timer.ticks
        PIC.endOfInterrupt(irq: 0)                  // the pending request is delivered right away
        var watch2 = PIT.Stopwatch()
        while Timer.ticks == before && !watch2.hasElapsed(PIT.inputHz / 1000) {}
        let resumed = Timer.ticks != before
        PIT.setDivisor(65536)
        check("pic-no-eoi-one-tick", delivered == 1 && isr & 1 != 0 && irr & 1 != 0 && resumed,
              "\(delivered) timer interrupts without EOI (expected 1), ISR \(hex: isr), IRR \(hex: irr), resumed after EOI \(yesNo: resumed)")
    }

    // MARK: 8254 PIT

    static func testPITReadBack() {
        PIT.setDivisor(65536)                         // what the firmware set: mode 2, count 0
        Timer.sleep(milliseconds: 60)                 // let the new count load
        let rb = PIT.readBackChannel0()
        note("PIT channel 0 read-back status \(hex: rb.status, digits: 2) (\(Commands.describeStatus(rb.status)))")
        check("pit-readback-status", rb.status & 0x3F == 0x34,
              "status \(hex: rb.status), expected control bits 0x34 (lsb/msb, mode 2, binary)")
        let a = PIT.readChannel0Count()
        PIT.busyWait(microseconds: 2000)
        let b = PIT.readChannel0Count()
        check("pit-count-decrements", a >= 1 && a <= 65536 && a != b,
              "latched counts \(a) then \(b)")
    }

    /// Channel 2 mode 0 (interrupt on terminal count): OUT2 (port 0x61 bit 5)
    /// goes low with the control word and high N+1 clocks after the count is
    /// written, measured with channel 0. Every event is bracketed by channel
    /// 0 readings taken right before and after it, so a pause of the whole
    /// machine (a busy emulator host) can only widen the brackets, never
    /// produce a wrong result.
    static func testPITChannel2OneShot() {
        let count: UInt32 = 11932                     // 10 ms
        let slack: UInt64 = 40                        // instruction latency between readings, in clocks
        let r = CPU.withInterruptsDisabled { () -> (writeFrom: UInt64, writeTo: UInt64, riseFrom: UInt64, riseTo: UInt64, lowAtStart: Bool, high: Bool) in
            PIT.setPortB(gate: true, speaker: false)
            var watch = PIT.Stopwatch()
            outb(PIT.control, 0xB0)                   // ch2, lsb/msb, mode 0: OUT2 low
            outb(PIT.channel2, UInt8(truncatingIfNeeded: count))
            let lowAtStart = !PIT.channel2Out
            let writeFrom = watch.poll()
            outb(PIT.channel2, UInt8(truncatingIfNeeded: count >> 8))   // counting starts
            let writeTo = watch.poll()
            // Each sample of OUT2 is bracketed by two channel 0 readings: a
            // low sample means the rise came after the reading before it, a
            // high sample that it came before the reading after it.
            var lastLow = writeTo
            var high = false
            var riseTo = writeTo
            while !watch.hasElapsed(writeTo + 4 * UInt64(count)) {
                let before = watch.elapsed
                let out = PIT.channel2Out
                let after = watch.poll()
                if out { high = true; riseTo = after; break }
                lastLow = before
            }
            PIT.setPortB(gate: false, speaker: false)
            return (writeFrom, writeTo, lastLow, riseTo, lowAtStart, high)
        }
        let n = UInt64(count) + 1
        // The rise happened in (riseFrom, riseTo] and must be N+1 clocks
        // after a write that happened in [writeFrom, writeTo].
        let consistent = r.riseTo + slack >= r.writeFrom + n && r.riseFrom <= r.writeTo + n + slack
        check("pit-ch2-oneshot", r.lowAtStart && r.high && consistent,
              "OUT2 low at start \(yesNo: r.lowAtStart), rose \(yesNo: r.high) between \(r.riseFrom - r.writeTo) and \(r.riseTo - r.writeFrom) clocks after the count, expected \(n)")
    }

    /// Channel 2 mode 3 (square wave) at ~1 kHz: OUT2 (port 0x61 bit 5) is
    /// sampled together with channel 0 time for 20 ms; every sample must
    /// match a square wave of period N with the high phase (N+1)/2 (N odd),
    /// phased to the first rising edge. Pairing each sample with its own
    /// timestamp keeps the check valid when the emulator (or its host)
    /// pauses the guest for a while: samples are missed, none is wrong.
    static func testPITChannel2SquareWave() {
        let count: UInt64 = 1193                      // 1000.15 Hz
        let high = (count + 1) / 2
        let margin: UInt64 = 16                       // samples this close to an edge are skipped
        let result = CPU.withInterruptsDisabled { () -> (considered: UInt64, mismatches: UInt64, rising: UInt64) in
            PIT.setPortB(gate: true, speaker: false)
            PIT.programChannel2(mode: 3, count: UInt32(count))
            var watch = PIT.Stopwatch()
            let window = PIT.inputHz / 50             // 20 ms
            var previousTime = watch.poll()
            var previousOut = PIT.channel2Out
            var phaseStart: UInt64? = nil
            var considered: UInt64 = 0, mismatches: UInt64 = 0, rising: UInt64 = 0
            while watch.polls < PIT.Stopwatch.pollLimit {
                let t = watch.poll()
                let out = PIT.channel2Out
                if t >= window { break }
                if out && !previousOut {
                    rising += 1
                    if phaseStart == nil && t - previousTime < 8 { phaseStart = t }
                }
                if let t0 = phaseStart, t > t0 + margin {
                    let phase = (t - t0) % count
                    let nearEdge = phase < margin || phase > count - margin || (phase > high - margin && phase < high + margin)
                    if !nearEdge {
                        considered += 1
                        if out != (phase < high) { mismatches += 1 }
                    }
                }
                previousTime = t
                previousOut = out
            }
            PIT.setPortB(gate: false, speaker: false)
            return (considered, mismatches, rising)
        }
        check("pit-ch2-square-wave",
              result.considered >= 200 && result.mismatches * 100 <= result.considered,
              "\(result.mismatches) of \(result.considered) samples of OUT2 off a \(count)-clock square wave (\(result.rising) rising edges seen)")
    }

    /// Timer ticks at 100 Hz counted over two RTC seconds (edges seen at tick
    /// granularity, hence +-1 tick at each end). The lower bound is looser:
    /// QEMU's clocks follow the host, and a host that stalls QEMU for more
    /// than a period makes it drop (never add) timer interrupts.
    static func testTimerAgainstRTC() {
        PIT.setDivisor(PIT.divisor(forHz: 100))
        func second() -> UInt8 {
            var spins = 0
            while RTC.updateInProgress && spins < 1_000_000 { spins += 1 }
            return RTC.read(0x00)
        }
        func waitForNextSecond() -> Bool {
            let s = second()
            let start = Timer.ticks
            while second() == s {
                if Timer.ticks - start > 300 { return false }   // 3 s of ticks: RTC stuck
                CPU.idle { false }
            }
            return true
        }
        var ok = waitForNextSecond()
        let startTicks = Timer.ticks
        ok = ok && waitForNextSecond() && waitForNextSecond()
        let ticks = Timer.ticks - startTicks
        PIT.setDivisor(65536)
        check("timer-vs-rtc", ok && ticks >= 190 && ticks <= 204,
              "\(ticks) ticks at 100 Hz in 2 RTC seconds (RTC advancing: \(yesNo: ok)), expected 200")
    }

    // MARK: RTC

    static func testRTC() {
        let t = RTC.now()
        note("RTC \(t.year)-\(t.month, width: 2)-\(t.day, width: 2) \(t.hour, width: 2):\(t.minute, width: 2):\(t.second, width: 2), status B \(hex: RTC.read(0x0B), digits: 2)")
        let plausible = t.year >= 2000 && t.year <= 2099 && t.month >= 1 && t.month <= 12 && t.day >= 1
            && t.day <= 31 && t.hour < 24 && t.minute < 60 && t.second < 60
        check("rtc-date-time", plausible, "implausible date/time")
        check("rtc-status-d-valid", RTC.read(0x0D) & 0x80 != 0, "status D \(hex: RTC.read(0x0D)): VRT bit clear")
    }

    /// RTC periodic interrupt (IRQ8 through the slave PIC, vector 40) at
    /// 64 Hz for 500 ms of timer time.
    static func testRTCPeriodicInterrupt() {
        let masks = PIC.masks
        PIC.setMasks(master: masks.master & ~0x04, slave: masks.slave & ~0x01)
        let savedA = RTC.read(0x0A)
        let before = RTC.periodicInterrupts
        let beforeCount = Interrupts.irqCounts[8]
        RTC.sampleISR = true
        RTC.enablePeriodic(rate: 10)
        Timer.sleep(milliseconds: 500)
        RTC.disablePeriodic()
        RTC.write(0x0A, savedA)
        PIC.setMasks(master: masks.master, slave: masks.slave)
        let n = RTC.periodicInterrupts - before
        check("rtc-periodic-irq8", n >= 24 && n <= 36 && Interrupts.irqCounts[8] - beforeCount == n,
              "\(n) periodic interrupts in 500 ms at 64 Hz, expected 32")
        let isr = RTC.sampledISR
        check("pic-cascade-isr", isr.slave & 1 != 0 && isr.master & 4 != 0,
              "in the IRQ8 handler: slave ISR \(hex: isr.slave), master ISR \(hex: isr.master)")
    }

    // MARK: 8042 and keyboard

    static func testKBC() {
        if let c = KBC.readCommandByte() {
            note("8042 command byte \(hex: c, digits: 2), status \(hex: inb(KBC.status), digits: 2)")
            check("kbc-command-byte", c & 0x41 == 0x41, "command byte \(hex: c): IRQ1 and translation must be on")
        } else {
            fail("kbc-command-byte", "no reply to command 0x20")
        }
        let selfTest = KBC.selfTest()
        check("kbc-self-test", selfTest == 0x55, "0xAA answered \(hex: selfTest ?? 0) (\(yesNo: selfTest != nil))")
        let interface = KBC.interfaceTest()
        check("kbc-interface-test", interface == 0x00, "0xAB answered \(hex: interface ?? 0xFF) (\(yesNo: interface != nil))")
        let after = KBC.readCommandByte()
        check("kbc-command-byte-kept", after != nil && after! & 0x41 == 0x41, "command byte after the self-test \(hex: after ?? 0)")
    }

    static func testKeyboardCommands() {
        let echo = KBC.echo()
        check("kbd-echo", echo == 0xEE, "0xEE answered \(hex: echo ?? 0) (reply: \(yesNo: echo != nil))")
        let id = KBC.identify()
        check("kbd-identify", id.ack == 0xFA && id.id1 == 0xAB && (id.id2 == 0x41 || id.id2 == 0x83),
              "0xF2 answered \(hex: id.ack ?? 0) \(hex: id.id1 ?? 0) \(hex: id.id2 ?? 0)")
        let leds = KBC.setLEDs(Keyboard.decoder.ledMask)
        check("kbd-leds", leds, "0xED was not acknowledged")
        Keyboard.head = Keyboard.tail          // nothing typed during the test matters
    }

    /// 8042 command 0xD2 puts a byte into the output buffer as if the
    /// keyboard had sent it: IRQ1 (vector 33) fires and the handler queues it.
    static func testKeyboardInterrupt() {
        Keyboard.head = Keyboard.tail
        let before = Keyboard.received
        let irqBefore = Interrupts.irqCounts[1]
        let sent = CPU.withInterruptsDisabled { KBC.sendCommand(0xD2) && KBC.writeData(0x1E) }
        var watch = PIT.Stopwatch()
        while Keyboard.received == before && !watch.hasElapsed(PIT.inputHz / 20) {}
        let byte = Keyboard.pop()
        check("kbd-irq1-vector-33", sent && byte == 0x1E && Interrupts.irqCounts[1] > irqBefore,
              "0xD2 0x1E: queued \(hex: byte ?? 0) (got a byte: \(yesNo: byte != nil)), IRQ1 count \(Interrupts.irqCounts[1] - irqBefore)")
        Keyboard.head = Keyboard.tail
    }

    // MARK: VGA, serial

    static func testVGA() {
        let row = 24, column = 79
        let saved = VGA.cell(row: row, column: column)
        VGA.put(row: row, column: column, char: 0x41, attribute: 0x1E)
        let cell = VGA.cell(row: row, column: column)
        VGA.put(row: row, column: column, char: UInt8(truncatingIfNeeded: saved), attribute: UInt8(truncatingIfNeeded: saved >> 8))
        check("vga-text-memory", cell == 0x1E41, "cell read back \(hex: cell)")

        let position = CPU.withInterruptsDisabled { () -> Int in
            let r = Console.row, c = Console.column
            VGA.setCursor(row: 12, column: 34)
            let p = VGA.cursorOffset()
            VGA.setCursor(row: r, column: c)
            return p
        }
        check("vga-crtc-cursor", position == 12 * 80 + 34, "cursor location registers read back \(position), expected \(12 * 80 + 34)")
    }

    static func testSerialLoopback() {
        let result = Console.withLock { Serial.loopbackTest(0xA5) }
        check("serial-loopback", result.ok, "looped-back byte \(hex: result.received ?? 0) (received: \(yesNo: result.received != nil))")
    }

    // MARK: Line editor, heap

    static func testLineEditor() {
        var editor = LineEditor()
        editor.drawing = false
        func type(_ text: StaticString) {
            for i in 0..<text.utf8CodeUnitCount { _ = editor.apply(.insert(text.utf8Start[i])) }
        }
        func line() -> Message {
            var m = Message()
            editor.withLine { m.append($0) }
            return m
        }
        func equals(_ m: Message, _ s: StaticString) -> Bool {
            guard m.count == s.utf8CodeUnitCount else { return false }
            for i in 0..<m.count where m.bytes[i] != s.utf8Start[i] { return false }
            return true
        }
        type("xhlep")
        _ = editor.apply(.home); _ = editor.apply(.delete)      // "hlep", cursor at 0
        _ = editor.apply(.right); _ = editor.apply(.delete)     // "hep"
        _ = editor.apply(.right); type("l")                     // "help" with cursor before 'p'
        _ = editor.apply(.end); type("z"); _ = editor.apply(.backspace)
        let first = line()
        let r = editor.apply(.enter)
        editor.reset()
        type("pic")
        _ = editor.apply(.enter)
        editor.reset()
        _ = editor.apply(.historyUp); _ = editor.apply(.historyUp)
        let recalled = line()
        _ = editor.apply(.historyDown)
        let newer = line()
        check("line-editor", equals(first, "help") && r == .line && equals(recalled, "help") && equals(newer, "pic"),
              "edited '\(first)', history '\(recalled)' / '\(newer)'")
    }

    final class Probe {
        var values: (UInt64, UInt64) = (1, 2)
    }

    static var heapProbe: Probe? = nil

    static func testHeap() {
        let before = kernel_heap_used()
        heapProbe = Probe()                       // a class instance: swift_allocObject -> posix_memalign
        heapProbe?.values.1 = 42
        let during = kernel_heap_used()
        check("heap-alloc", during > before && heapProbe?.values.1 == 42, "heap used \(before) -> \(during)")
        heapProbe = nil                           // last reference gone: free
        check("heap-free", kernel_heap_used() == before, "heap used \(kernel_heap_used()) after release, was \(before)")
    }
}
