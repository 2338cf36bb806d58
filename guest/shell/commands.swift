/// Shell commands. Each one shows a piece of PC hardware at work; the
/// comments say what the hardware does, the output says what it did.
enum Commands {
    static func execute(_ line: UnsafeBufferPointer<UInt8>) {
        let args = Arguments(line)
        guard args.count > 0 else { return }
        if args.isWord(0, "help") { help() }
        else if args.isWord(0, "uptime") { uptime() }
        else if args.isWord(0, "pic") { pic() }
        else if args.isWord(0, "pit") { pit() }
        else if args.isWord(0, "hz") { hz(args) }
        else if args.isWord(0, "kbd") { kbd(args) }
        else if args.isWord(0, "rtc") { rtc(args) }
        else if args.isWord(0, "beep") { beep(args) }
        else if args.isWord(0, "int3") { int3() }
        else if args.isWord(0, "pagefault") { pageFault() }
        else if args.isWord(0, "overflow") { overflow() }
        else if args.isWord(0, "noeoi") { noEOI() }
        else if args.isWord(0, "dots") { dots(args) }
        else if args.isWord(0, "reboot") { reboot() }
        else if args.isWord(0, "halt") { halt() }
        else if args.isWord(0, "clear") { Console.clearScreen() }
        else if args.isWord(0, "info") { info() }
        else if args.isWord(0, "test") { _ = SelfTest.run() }
        else {
            kprint("unknown command '\(args.word(0))' - try 'help'\n", .bad)
        }
    }

    static func help() {
        kprint("Commands:\n", .bright)
        kprint("  help             this list\n")
        kprint("  uptime           time since boot from timer ticks, interrupt counts\n")
        kprint("  pic              IRR/ISR/IMR of both 8259A PICs (OCW3 reads)\n")
        kprint("  pit              8254 channel 0: read-back status (0xE2) and latched count\n")
        kprint("  hz N             reprogram PIT channel 0 (mode 2) to N Hz (19..10000)\n")
        kprint("  kbd              8042 status port and command byte (0x20)\n")
        kprint("  kbd leds [N]     cycle the keyboard LEDs, or set them to N (0-7) (0xED)\n")
        kprint("  kbd echo | id    keyboard echo (0xEE) / identify (0xF2)\n")
        kprint("  rtc              date and time from the CMOS clock\n")
        kprint("  rtc irq          count RTC periodic interrupts (IRQ8, slave PIC) for 1 s\n")
        kprint("  beep [HZ [MS]]   PC speaker: PIT channel 2 square wave (default 880 Hz)\n")
        kprint("  int3             breakpoint exception; the handler returns\n")
        kprint("  pagefault        touch an unmapped page; the handler maps it and returns\n")
        kprint("  overflow         endless recursion -> guard page -> double fault (halts)\n")
        kprint("  noeoi            timer handler stops sending EOI: only one dot\n")
        kprint("  dots [S]         a dot per timer tick for S seconds (default 5) or a key\n")
        kprint("  reboot           reset through the 8042 (command 0xFE)\n")
        kprint("  halt             cli; hlt\n")
        kprint("  clear            clear the screen\n")
        kprint("  info             boot information, memory, CPU state\n")
        kprint("  test             run the self-tests\n")
        kprint("Keys: Left/Right/Home/End/Delete edit, Up/Down history, Ctrl+C cancel, Ctrl+L clear.\n", .dim)
    }

    static func printDuration(milliseconds ms: UInt64) -> Message {
        let s = ms / 1000
        return "\(s / 3600):\(s / 60 % 60, width: 2):\(s % 60, width: 2).\(ms % 1000, width: 3)"
    }

    static func uptime() {
        let mhz = PIT.milliHz
        kprint("up \(printDuration(milliseconds: Timer.uptimeMilliseconds)) (\(Timer.ticks) timer interrupts, now \(mhz / 1000).\(mhz % 1000, width: 3) Hz, divisor \(PIT.divisor))\n")
        var m: Message = "IRQ counts:"
        for irq in 0..<16 where Interrupts.irqCounts[irq] != 0 {
            m.append(" ")
            m.append(unsigned: UInt64(irq))
            m.append("=")
            m.append(unsigned: Interrupts.irqCounts[irq])
        }
        kprint("\(m)\n")
        kprint("spurious: IRQ7 \(PIC.spuriousMaster), IRQ15 \(PIC.spuriousSlave); unexpected vectors \(Interrupts.unexpected)\n")
    }

    static func pic() {
        let irr = PIC.irr
        let isr = PIC.isr
        let imr = PIC.masks
        kprint("        IRR       ISR       IMR\n", .bright)
        kprint("master  \(bin: irr.master)  \(bin: isr.master)  \(bin: imr.master)   IRQ 0-7  -> vectors 32-39\n")
        kprint("slave   \(bin: irr.slave)  \(bin: isr.slave)  \(bin: imr.slave)   IRQ 8-15 -> vectors 40-47\n")
        var m: Message = "unmasked IRQs:"
        for irq in 0..<16 {
            let masked = irq < 8 ? imr.master & (1 << UInt8(irq)) != 0 : imr.slave & (1 << UInt8(irq - 8)) != 0
            if !masked { m.append(" "); m.append(unsigned: UInt64(irq)) }
        }
        kprint("\(m)\n")
        kprint("firmware masks before the remap: master \(hex: PIC.firmwareMasterMask, digits: 2), slave \(hex: PIC.firmwareSlaveMask, digits: 2) (restored)\n", .dim)
        kprint("spurious interrupts: IRQ7 \(PIC.spuriousMaster), IRQ15 \(PIC.spuriousSlave)\n", .dim)
    }

    static func describeStatus(_ status: UInt8) -> Message {
        let access = (status >> 4) & 3
        let mode = (status >> 1) & 7
        var m: Message = "OUT=\(status >> 7) null-count=\((status >> 6) & 1) access="
        switch access {
        case 0: m.append("latch")
        case 1: m.append("lsb")
        case 2: m.append("msb")
        default: m.append("lsb/msb")
        }
        m.append(" mode=")
        m.append(unsigned: UInt64(mode > 5 ? mode - 4 : mode))
        m.append(status & 1 != 0 ? " bcd" : " binary")
        return m
    }

    static func pit() {
        let rb = PIT.readBackChannel0()
        kprint("channel 0 read-back status (0xE2): \(hex: rb.status, digits: 2) = \(describeStatus(rb.status))\n")
        kprint("channel 0 latched count: \(rb.count) of \(PIT.divisor)\n")
        let mhz = PIT.milliHz
        kprint("IRQ0 rate: \(mhz / 1000).\(mhz % 1000, width: 3) Hz (divisor \(PIT.divisor), ")
        kprint(PIT.programmedByKernel ? "set by 'hz')\n" : "as left by the firmware)\n")
        let b = inb(PIT.portB)
        kprint("port 0x61: \(hex: b, digits: 2) (gate2 \(b & 1), speaker \((b >> 1) & 1), refresh \((b >> 4) & 1), OUT2 \((b >> 5) & 1))\n", .dim)
    }

    static func hz(_ args: Arguments) {
        guard let n = args.number(1) else {
            let mhz = PIT.milliHz
            kprint("timer: \(mhz / 1000).\(mhz % 1000, width: 3) Hz; usage: hz N (19..10000)\n")
            return
        }
        guard n >= 19 && n <= 10000 else {
            kprint("hz: N must be 19..10000 (the 16-bit divisor of 1193182 Hz)\n", .bad)
            return
        }
        let d = PIT.divisor(forHz: n)
        PIT.setDivisor(d)
        let mhz = PIT.milliHz
        kprint("PIT channel 0: control word 0x34 (mode 2, lsb/msb), divisor \(d) -> \(mhz / 1000).\(mhz % 1000, width: 3) Hz\n")
    }

    static func kbd(_ args: Arguments) {
        if args.isWord(1, "leds") {
            if let n = args.number(2) {
                let ok = KBC.setLEDs(UInt8(truncatingIfNeeded: n))
                kprint(ok ? "LEDs set to \(n & 7) (scroll=bit0 num=bit1 caps=bit2)\n" : "keyboard did not acknowledge 0xED\n", ok ? .normal : .bad)
            } else {
                kprint("cycling LEDs: scroll, num, caps, all, none\n")
                let patterns: InlineArray<5, UInt8> = [1, 2, 4, 7, 0]
                for i in patterns.indices {
                    let mask = patterns[i]
                    if !KBC.setLEDs(mask) { kprint("keyboard did not acknowledge 0xED\n", .bad); break }
                    Timer.sleep(milliseconds: 300)
                }
                _ = KBC.setLEDs(Keyboard.decoder.ledMask)
            }
            return
        }
        if args.isWord(1, "echo") {
            let reply = KBC.echo()
            if let r = reply { kprint("echo 0xEE -> \(hex: r, digits: 2)\n") } else { kprint("no reply\n", .bad) }
            return
        }
        if args.isWord(1, "id") {
            let id = KBC.identify()
            kprint("identify 0xF2 -> \(hex: id.ack ?? 0, digits: 2) \(hex: id.id1 ?? 0, digits: 2) \(hex: id.id2 ?? 0, digits: 2) (FA AB 41 = MF2 keyboard, translated)\n")
            return
        }
        let s = inb(KBC.status)
        kprint("8042 status \(hex: s, digits: 2): OBF \(s & 1) IBF \((s >> 1) & 1) SYS \((s >> 2) & 1) C/D \((s >> 3) & 1) unlocked \((s >> 4) & 1) AUX \((s >> 5) & 1) timeout \((s >> 6) & 1) parity \((s >> 7) & 1)\n")
        if let c = KBC.readCommandByte() {
            kprint("command byte \(hex: c, digits: 2): IRQ1 \(onOff: c & 1 != 0), IRQ12 \(onOff: c & 2 != 0), SYS \((c >> 2) & 1), keyboard clock \(onOff: c & 0x10 == 0), mouse clock \(onOff: c & 0x20 == 0), translation \(onOff: c & 0x40 != 0)\n")
        } else {
            kprint("command byte: no reply to 0x20\n", .bad)
        }
        let d = Keyboard.decoder
        kprint("keyboard: \(Keyboard.received) bytes, \(Keyboard.dropped) dropped, \(Keyboard.emptyInterrupts) IRQ1 with empty buffer, \(Keyboard.auxBytes) mouse bytes\n", .dim)
        kprint("locks: caps \(onOff: d.capsLock), num \(onOff: d.numLock), scroll \(onOff: d.scrollLock)\n", .dim)
    }

    static func rtc(_ args: Arguments) {
        if args.isWord(1, "irq") {
            rtcInterrupts()
            return
        }
        let t = RTC.now()
        let a = RTC.read(0x0A)
        let b = RTC.read(0x0B)
        kprint("\(t.year)-\(t.month, width: 2)-\(t.day, width: 2) \(t.hour, width: 2):\(t.minute, width: 2):\(t.second, width: 2)\n", .bright)
        kprint("status A \(hex: a, digits: 2), B \(hex: b, digits: 2): \(b & 2 != 0 ? "24-hour" as StaticString : "12-hour"), \(b & 4 != 0 ? "binary" as StaticString : "BCD"), periodic interrupt \(onOff: b & 0x40 != 0)\n", .dim)
    }

    /// RTC periodic interrupt at 64 Hz for one second: IRQ8 comes through the
    /// slave PIC (vector 40) and the master's cascade input IR2.
    static func rtcInterrupts() {
        let masks = PIC.masks
        if masks.master & 0x04 != 0 || masks.slave & 0x01 != 0 {
            kprint("IRQ8 or the cascade (IRQ2) is masked; unmasking for the test\n", .dim)
            PIC.setMasks(master: masks.master & ~0x04, slave: masks.slave & ~0x01)
        }
        let savedA = RTC.read(0x0A)
        let before = RTC.periodicInterrupts
        RTC.sampleISR = true
        RTC.enablePeriodic(rate: 10)          // 32768 >> 9 = 64 Hz
        Timer.sleep(milliseconds: 1000)
        RTC.disablePeriodic()
        RTC.write(0x0A, savedA)
        PIC.setMasks(master: masks.master, slave: masks.slave)
        let n = RTC.periodicInterrupts - before
        kprint("\(n) RTC periodic interrupts in 1 s at 64 Hz (vector 40)\n")
        if n > 0 {
            kprint("in the IRQ8 handler: slave ISR \(bin: RTC.sampledISR.slave), master ISR \(bin: RTC.sampledISR.master) (IR2 = cascade)\n", .dim)
        }
    }

    static func beep(_ args: Arguments) {
        let hz = args.number(1) ?? 880
        let ms = args.number(2) ?? 200
        guard hz >= 19 && hz <= 20000 && ms <= 5000 else {
            kprint("beep: HZ 19..20000, MS up to 5000\n", .bad)
            return
        }
        kprint("beep: channel 2 mode 3, divisor \(PIT.divisor(forHz: hz)) (\(hz) Hz), port 0x61 bits 0+1 on for \(ms) ms\n")
        Speaker.beep(hz: hz, milliseconds: ms)
    }

    static func int3() {
        kprint("executing int3 ...\n")
        let before = Exceptions.counts[Exceptions.breakpoint]
        cpu_int3()
        kprint("back from the breakpoint handler (\(Exceptions.counts[Exceptions.breakpoint] - before) breakpoint exception)\n", .good)
    }

    /// Reads then writes an address in the demand-paging window that has no
    /// mapping. The page-fault handler prints CR2 and the error code, maps a
    /// zeroed frame there and returns, so the faulting instruction runs
    /// again and succeeds; the command then removes the mapping.
    static func pageFault() {
        let address = Paging.demandWindowStart + 0x5000
        kprint("reading \(hex: address) (not mapped) ...\n")
        let before = Exceptions.counts[Exceptions.pageFault]
        let value = mmio_read64(address)
        kprint("read \(hex: value) after \(Exceptions.counts[Exceptions.pageFault] - before) page fault; writing ...\n")
        mmio_write64(address, 0x5EED_F00D)
        let back = mmio_read64(address)
        if let leaf = Paging.leafEntry(address) {
            kprint("wrote and read back \(hex: back); page table entry \(hex: leaf.entry, digits: 16)\n")
        }
        Paging.releaseDemandPages()
        kprint("page unmapped again (the next access would fault again)\n", .good)
    }

    /// Endless recursion with a frame of ~1 KiB that the optimiser cannot
    /// remove: the stack runs into the guard page below it, the page fault
    /// cannot push its frame on that stack, which the CPU turns into a double
    /// fault, and the double-fault handler runs on its IST stack.
    static func overflow() {
        kprint("recursing until the stack (\(hex: boot_stack_bottom_address())..\(hex: boot_stack_top_address())) hits its guard page ...\n", .warn)
        _ = recurse(0)
    }

    @inline(never) @_optimize(none)
    static func recurse(_ depth: UInt64) -> UInt64 {
        var pad: InlineArray<128, UInt64> = .init(repeating: depth)
        pad[Int(depth % 128)] = depth
        if depth == .max { return pad[0] }      // never: the stack runs out long before
        return recurse(depth &+ 1) &+ pad[Int(depth % 64)]
    }

    /// blog_os's "only one dot": without an EOI the PIC keeps IRQ0 in service
    /// (ISR bit 0) and delivers neither IRQ0 nor anything of lower priority
    /// (IRQ1-7, and the slave through IR2) again. The command waits 3 s of PIT
    /// time (polling channel 0, since ticks no longer come), shows the ISR,
    /// and then sends the missing EOI.
    static func noEOI() {
        kprint("noeoi: the timer handler now prints a dot per tick and sends no EOI\n")
        let start = Timer.ticks
        Timer.skipEOI = true
        Timer.printDots = true
        var watch = PIT.Stopwatch()
        while !watch.hasElapsed(3 * PIT.inputHz) {
            cpu_pause()
        }
        Timer.printDots = false
        Console.freshLine()
        let isr = PIC.isr
        let irr = PIC.irr
        kprint("\(Timer.ticks - start) tick(s) in 3 s. master ISR \(bin: isr.master), IRR \(bin: irr.master): IRQ0 still in service, so IRQ0-7 are blocked (no keyboard either)\n")
        Timer.skipEOI = false
        PIC.endOfInterrupt(irq: 0)
        kprint("sent the missing EOI; the timer runs again\n", .good)
    }

    static func dots(_ args: Arguments) {
        let seconds = min(args.number(1) ?? 5, 60)
        kprint("a dot per timer tick for \(seconds) s (a key stops):\n")
        while Keyboard.nextEvent() != nil {}
        Timer.printDots = true
        // Stop on a key press (the release of the Enter that started the
        // command arrives after it started and must not count).
        let completed = Timer.sleep(milliseconds: seconds * 1000) {
            while let event = Keyboard.nextEvent() {
                if event.pressed { return true }
            }
            return Serial.read() != nil
        }
        Timer.printDots = false
        while Keyboard.nextEvent() != nil {}
        Console.freshLine()
        if !completed { kprint("the timer is not interrupting\n", .bad) }
    }

    static func reboot() {
        kprint("rebooting through the 8042 (pulse output port bit 0 with 0xFE) ...\n", .warn)
        KBC.pulseReset()
        PIT.busyWait(microseconds: 500_000)
        kprint("still here; forcing a triple fault\n", .warn)
        cpu_cli()
        cpu_load_idt(0, 0)
        cpu_int3()
        CPU.haltForever()
    }

    static func halt() {
        kprint("halting: cli; hlt. Goodbye.\n", .warn)
        CPU.haltForever()
    }

    static func info() {
        Multiboot.withLoaderName { name in
            Multiboot.withCommandLine { line in
                kprint("loader '\(name)', command line '\(line)'\n")
            }
        }
        kprint("memory: lower \(Multiboot.memoryLowerKiB) KiB, upper \(Multiboot.memoryUpperKiB) KiB; kernel \(hex: kernel_start_address())..\(hex: kernel_end_address())\n")
        kprint("frames used \(Frames.usedBytes / 1024) KiB, heap \(kernel_heap_used()) of \(kernel_heap_size()) bytes\n")
        kprint("CR0 \(hex: cpu_read_cr0(), digits: 8) CR3 \(hex: cpu_read_cr3(), digits: 8) CR4 \(hex: cpu_read_cr4(), digits: 8) EFER \(hex: cpu_rdmsr(0xC0000080), digits: 4)\n")
        kprint("GDT \(hex: GDT.gdtBase) TSS \(hex: GDT.tssBase) (TR \(hex: cpu_store_tr(), digits: 2)) IDT \(hex: IDT.base); double-fault stack top \(hex: GDT.doubleFaultStackTop)\n")
        kprint("stack \(hex: boot_stack_bottom_address())..\(hex: boot_stack_top_address()), guard page \(hex: Paging.guardPage), RSP \(hex: cpu_read_rsp())\n")
    }
}
