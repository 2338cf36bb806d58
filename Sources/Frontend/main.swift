import ArgumentParser
import Board
import Foundation

/// Exit statuses of `swiftemu` (also in the README).
enum ExitStatus {
    // (V << 1) | 1 : the guest wrote V to port 0xF4 (odd numbers).
    static let outputMatched: Int32 = 0
    static let haltedForever: Int32 = 2
    static let tripleFault: Int32 = 4
    static let instructionLimit: Int32 = 6
    static let timeout: Int32 = 8
    static let resetRequested: Int32 = 10
    static let badKernel: Int32 = 12
    static let stopped: Int32 = 14
    static let usage: Int32 = 64
    static let sigint: Int32 = 130
    static let sigterm: Int32 = 143
}

struct SwiftEmu: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftemu",
        abstract: "A full-system x86 PC emulator: 8259A PIC pair, 8254 PIT, 8042 + PS/2, VGA text.",
        discussion: """
        Usage: swiftemu [KERNEL] [MODE] [OPTIONS]
        KERNEL is a Multiboot v1 image (ELF32, ELF64, or a.out kludge), loaded as
        `qemu-system-x86_64 -kernel KERNEL` loads it. Without KERNEL the bundled
        guest (build/guest/guest.elf) runs.

        MODES
          window    the 80x25 VGA text screen in an SDL2 window (default when a display exists)
          terminal  the screen drawn in this terminal with ANSI colours; Ctrl+] quits
          headless  no display: guest output (port 0xE9, COM1) on stdout, for CI
          debug     the step debugger prompt (stops before the first instruction)

        EXIT STATUS (headless)
          (V<<1)|1  the guest wrote V to port 0xF4 (isa-debug-exit)
          0   --until-output text seen         2   HLT with interrupts off (dead machine)
          4   triple fault                     6   --max-instructions reached
          8   --timeout (virtual) reached      10  guest reset with --no-reboot
          12  the kernel could not be loaded   14  stopped by the debugger
          64  bad command line                 130/143  SIGINT/SIGTERM
        """
    )

    @Argument(help: "KERNEL and/or MODE (window, terminal, headless, debug).")
    var positional: [String] = []

    @Option(help: "Kernel command line (Multiboot cmdline after the kernel path).")
    var append: String = ""

    @Option(help: "Guest RAM, e.g. 128M, 1G, or MiB as a number (default 128M).")
    var ram: String = "128M"

    @Option(name: .customLong("max-instructions"), help: "Stop after this many retired instructions.")
    var maxInstructions: UInt64?

    @Option(help: "Stop after this many virtual seconds.")
    var timeout: Double?

    @Option(name: .customLong("until-output"), help: "Stop (status 0) when the guest output contains TEXT.")
    var untilOutput: String?

    @Option(help: "Trace categories: irq,pic,pit,kbd,rtc,uart,vga,exc,io,cpu,diag,all.")
    var trace: String?

    @Option(name: .customLong("trace-file"), help: "Write the trace to FILE instead of stderr.")
    var traceFile: String?

    @Option(name: .customLong("trace-format"), help: "text or jsonl.")
    var traceFormat: String = "text"

    @Option(name: .customLong("trace-ports"), help: "Limit the io trace to ports, e.g. 0x20-0x21,0x60.")
    var tracePorts: String?

    @Option(help: "Type keys at virtual times (escapes: \\n \\t \\b \\e, {name}, {+name}, {-name}, {wait 200ms}).")
    var keys: String?

    @Option(name: .customLong("keys-at"), help: "Virtual time the --keys start (default 1s).")
    var keysAt: String = "1s"

    @Option(help: "Timed input events file (key/mouse/serial).")
    var input: String?

    @Option(name: .customLong("dump-screen"), help: "Write the 80x25 text screen to FILE at exit.")
    var dumpScreen: String?

    @Option(help: "Write a PNG of the screen to FILE at exit.")
    var screenshot: String?

    @Option(name: .customLong("dump-at"), help: "Also dump at these virtual times, e.g. 1s,2.5s (FILE gets .TIME suffix).")
    var dumpAt: String?

    @Option(help: "Diagnoses of guest mistakes on stderr: on or off.")
    var diagnose: String = "on"

    @Flag(help: "Print a summary (interrupts, latencies, time halted, MIPS) at exit.")
    var stats = false

    @Flag(name: .customLong("no-reboot"), help: "Stop instead of rebooting when the guest resets the machine.")
    var noReboot = false

    @Flag(name: .customLong("reboot-on-triple-fault"), help: "Reboot on a triple fault (default: stop with status 4).")
    var rebootOnTripleFault = false

    @Option(help: "Spurious IRQ model: datasheet (default) or qemu.")
    var spurious: String = "datasheet"

    @Option(help: "Listen for GDB on 127.0.0.1:PORT.")
    var gdb: Int?

    @Option(help: "Debugger: run these commands non-interactively.")
    var commands: String?

    @Option(name: .customLong("break"), help: "Debugger: stop at this address or symbol (repeatable).")
    var breaks: [String] = []

    mutating func run() throws {
        do {
            var opts = try Options.from(self)
            let code = try Runner.run(&opts)
            throw ExitCode(code)
        } catch let e as ValidationErrorText {
            warn(e.description)
            throw ExitCode(ExitStatus.usage)
        }
    }
}

// `swiftemu timeline TRACE.jsonl -o out.svg` is a separate tool mode.
let argv = Array(CommandLine.arguments.dropFirst())
if argv.first == "timeline" {
    Timeline.main(Array(argv.dropFirst()))
} else {
    SwiftEmu.main()
}
