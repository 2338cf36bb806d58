/// Small wrappers around the CPU instructions in include/kernel.h.
enum CPU {
    static let rflagsIF: UInt64 = 1 << 9

    /// Runs `body` with IF=0 and restores the previous IF afterwards, so it
    /// nests correctly and is safe inside interrupt handlers (where IF is
    /// already 0 because every IDT entry is an interrupt gate).
    @inline(__always)
    static func withInterruptsDisabled<R>(_ body: () -> R) -> R {
        let flags = cpu_read_rflags()
        cpu_cli()
        let result = body()
        if flags & rflagsIF != 0 { cpu_sti() }
        return result
    }

    /// Sleeps until the next interrupt unless `hasWork` says otherwise.
    /// `hasWork` is evaluated with IF=0, and `sti; hlt` re-enables interrupts
    /// only for the HLT itself (STI's one-instruction shadow), so an
    /// interrupt that makes work available cannot slip in between the check
    /// and the HLT and leave us asleep with work pending.
    static func idle(unless hasWork: () -> Bool) {
        cpu_cli()
        if hasWork() {
            cpu_sti()
        } else {
            cpu_sti_hlt()
        }
    }

    /// Stops the machine: interrupts off, halt forever (an NMI would wake
    /// HLT, hence the loop).
    static func haltForever() -> Never {
        while true {
            cpu_cli()
            cpu_hlt()
        }
    }
}
