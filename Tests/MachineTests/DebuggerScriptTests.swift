import Foundation
import XCTest
@testable import Board

/// `swiftemu KERNEL debug --commands FILE`: scripted debugger sessions
/// against the irq_pit test kernel and the bundled Swift guest, checked
/// from their transcripts.
final class DebuggerScriptTests: XCTestCase {
    func script(_ lines: [String]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swiftemu-dbg-\(UUID().uuidString).cmd")
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    /// The output of one command: the lines after its echoed prompt line,
    /// up to the next prompt.
    func section(_ out: String, _ command: String, occurrence: Int = 1) -> String {
        var found = 0
        var lines: [Substring] = []
        var inside = false
        for l in out.split(separator: "\n", omittingEmptySubsequences: false) {
            if l.hasPrefix("(swiftemu) ") {
                if inside { break }
                if l == "(swiftemu) " + command {
                    found += 1
                    if found == occurrence { inside = true }
                }
                continue
            }
            if inside { lines.append(l) }
        }
        return lines.joined(separator: "\n")
    }

    func symbolAddress(_ elf: String, _ name: String) throws -> UInt64 {
        let syms = SymbolTable.parseELF([UInt8](try Data(contentsOf: URL(fileURLWithPath: elf))))
        return try XCTUnwrap(syms.first { $0.name == name }?.address, "no symbol \(name)")
    }

    // MARK: the small kernel (always built)

    func testScriptedSessionOnTheIRQKernel() throws {
        let k = try Repo.kernel("irq_pit.elf")
        let f = try script([
            "break isr_common",
            "list",
            "continue",
            "regs",
            "step 2",
            "x/2wx $esp",
            "pic",
            "pit",
            "kbd",
            "delete 1",
            "break irq 1",
            "key a",
            "continue",
            "idt 0x21",
            "bt",
            "info",
            "info",
            "delete",
            "continue",
        ])
        let r = try Repo.swiftemu([k, "debug", "--commands", f])
        let out = r.stdout
        // Guest exit after the key release: (0x10 << 1) | 1, the script's status.
        XCTAssertEqual(r.status, 33, out + r.stderr)
        // Initial stop at the entry, then each command echoed with the prompt.
        let start = try symbolAddress(k, "_start")
        XCTAssertTrue(out.hasPrefix("=> 0x\(String(start, radix: 16)) <_start>:  mov esp, 0x"), out)
        let isr = try symbolAddress(k, "isr_common")
        XCTAssertTrue(section(out, "break isr_common").contains("Breakpoint 1 at 0x\(String(isr, radix: 16)) <isr_common>"), out)
        XCTAssertTrue(section(out, "list").contains("1    y    0     break 0x\(String(isr, radix: 16)) <isr_common>"), out)
        // The first interrupt is the PIT tick after the remap; the guest printed the IMRs before it.
        let firstStop = section(out, "continue")
        XCTAssertTrue(firstStop.contains("imr after remap 000000b8 0000008e"), firstStop)
        XCTAssertTrue(firstStop.contains("Breakpoint 1, 0x\(String(isr, radix: 16)) <isr_common>"), firstStop)
        XCTAssertTrue(firstStop.contains("=> 0x\(String(isr, radix: 16)) <isr_common>:  pushad"), firstStop)
        // Registers: protected mode, flat segments, IF cleared by the interrupt gate.
        let regs = section(out, "regs")
        XCTAssertTrue(regs.contains("mode protected32  cpl 0"), regs)
        XCTAssertTrue(regs.contains("cs  0x0008  base 0x0000000000000000  limit 0xffffffff  attr 0xc09b"), regs)
        XCTAssertTrue(regs.contains("cr0 0x00000011 [ PE ET ]"), regs)
        XCTAssertTrue(regs.contains("rip 0x\(String(format: "%016llx", isr)) <isr_common>"), regs)
        XCTAssertFalse(regs.contains(" IF "), "IF must be clear in the handler: " + regs)
        // step 2: pushad, mov eax, [esp+32] -> at cmp eax, 0x20; the vector is in EAX.
        XCTAssertTrue(section(out, "step 2").contains("<isr_common+0x5>:  cmp eax, 0x20"), out)
        XCTAssertTrue(section(out, "x/2wx $esp").contains("<stack_bottom+"), out)
        // The PIC after the pic8259-style remap: bases 0x20/0x28, IRQ0 in service.
        let pic = section(out, "pic")
        XCTAssertTrue(pic.contains("master: IRR=00 ISR=01 IMR=B8 base=20 init=ready edge"), pic)
        XCTAssertTrue(pic.contains("slave: IRR=00 ISR=00 IMR=8E base=28 init=ready edge"), pic)
        XCTAssertTrue(pic.contains("cascade=04"), pic)
        XCTAssertTrue(section(out, "pit").contains("ch0: mode 2 lsb/msb"), out)
        let kbd = section(out, "kbd")
        XCTAssertTrue(kbd.contains("8042: status 0x") && kbd.contains("command byte 0x61"), kbd)
        XCTAssertTrue(kbd.contains("PS/2 keyboard: set 2, scanning on"), kbd)
        // IRQ1 after the scripted key: stopped at the entry of the vector 0x21 stub.
        XCTAssertTrue(section(out, "key a").contains("key a pressed and released"), out)
        let irq1 = section(out, "continue", occurrence: 2)
        XCTAssertTrue(irq1.contains("Breakpoint 2 (irq 1): IRQ1 delivered on vector 0x21"), irq1)
        let stubs = try symbolAddress(k, "stubs")
        XCTAssertTrue(irq1.contains("=> 0x\(String(stubs + 0x21 * 16, radix: 16)) <"), irq1)
        XCTAssertTrue(irq1.contains(">:  push 0x21"), irq1)
        XCTAssertTrue(section(out, "idt 0x21").contains("int-gate32 sel 0x0008 offset 0x\(String(format: "%08llx", stubs + 0x210))"), out)
        // A stopped machine's time does not move.
        XCTAssertEqual(section(out, "info", occurrence: 1), section(out, "info", occurrence: 2))
        XCTAssertTrue(section(out, "info").contains("PIC master IRR 0x00 ISR 0x02"), section(out, "info"))
        // Then the guest reads both scancodes and exits.
        let last = section(out, "continue", occurrence: 3)
        XCTAssertTrue(last.contains("scancode 0000001e") && last.contains("scancode 0000009e"), last)
        XCTAssertTrue(last.contains("The guest exited with status 33"), last)
    }

    func testBreakInHeadlessModeEntersThePrompt() throws {
        let k = try Repo.kernel("irq_pit.elf")
        let f = try script(["bt", "x/s 0x100000", "continue", "quit 7"])
        let r = try Repo.swiftemu([k, "headless", "--break", "irq1", "--keys", "a", "--keys-at", "100ms", "--commands", f])
        XCTAssertEqual(r.status, 7, r.stdout + r.stderr)
        let irq1 = try symbolAddress(k, "irq1")
        XCTAssertTrue(r.stdout.contains("Breakpoint 1, 0x\(String(irq1, radix: 16)) <irq1>"), r.stdout)
        XCTAssertTrue(r.stdout.contains("tick 00000001"), r.stdout)   // guest output before the stop
        XCTAssertTrue(section(r.stdout, "continue").contains("Breakpoint 1, 0x\(String(irq1, radix: 16)) <irq1>"), r.stdout)
    }

    func testHeadlessBreakWithoutHitRunsToTheGuestsExit() throws {
        let k = try Repo.kernel("hello.elf")
        let r = try Repo.swiftemu([k, "headless", "--break", "0x12345678"])
        XCTAssertEqual(r.status, 33, r.stderr)
        XCTAssertEqual(r.stdout, "hello from a multiboot kernel\n")
    }

    // MARK: bad input

    func testBadCommandsAndAddressesGetMessages() throws {
        let k = try Repo.kernel("irq_pit.elf")
        let bad = [
            "frobnicate",
            "break",
            "break nosuchsymbol",
            "break 0x1000 if",
            "break 0x1000 if rax",
            "break irq 2",
            "break int 300",
            "break io 0x70-0x20",
            "x/4gx 0xdeadbeef000",
            "xp/4gx 0xfffffffff000",
            "x/4q 0x1000",
            "x/0x 0x1000",
            "disas 0xdead000000",
            "page 0xffff800000000000",
            "delete 99",
            "enable 42",
            "step -1",
            "step 0x",
            "watch",
            "watch 0x1000 0",
            "irq 99",
            "key nosuchkey",
            "trace bogus on",
            "set cs = 1",
            "set nosuchreg = 1",
            "print [0xdead000000]",
            "print 12abc",
            "print \"unterminated",
            "until nosuchsymbol",
            "run-for 0",
            "run-for 5parsecs",
            "idt 999",
            "help nosuchcommand",
            "quit 999",
            "x/s 0xfffffffff000",
            String(repeating: "x", count: 5000),
            "\u{1}\u{2}\u{7f}",
        ]
        let f = try script(bad + ["info"])
        let r = try Repo.swiftemu([k, "debug", "--commands", f])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let out = r.stdout
        for cmd in bad where cmd != "help nosuchcommand" {
            let s = section(out, cmd.count > 100 ? String(cmd) : cmd)
            XCTAssertTrue(s.hasPrefix("error: "), "'\(cmd.prefix(40))' gave: \(s)")
        }
        XCTAssertTrue(section(out, "help nosuchcommand").contains("no command 'nosuchcommand'"))
        XCTAssertTrue(section(out, "break nosuchsymbol").contains("no symbol matches 'nosuchsymbol'"), out)
        XCTAssertTrue(section(out, "x/4gx 0xdeadbeef000").contains("cannot read memory at 0xdeadbeef000"), out)
        XCTAssertTrue(section(out, "frobnicate").contains("unknown command 'frobnicate'"), out)
        // Nothing ran: the machine is still at its first instruction.
        XCTAssertTrue(section(out, "info").contains("instructions 0  virtual time 0.000000000 s"), section(out, "info"))
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
    }

    func testCommandsFromStandardInput() throws {
        let k = try Repo.kernel("irq_pit.elf")
        let input = "break irq1\ncontinue\nregs\nfrobnicate\nquit 5\n"
        let r = try Repo.swiftemu([k, "debug"], stdin: Data(input.utf8))
        XCTAssertEqual(r.status, 5, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("error: unknown command 'frobnicate'"), r.stdout)
        XCTAssertTrue(r.stdout.contains("mode protected32"), r.stdout)
    }

    func testCtrlCStopsARunningGuestAndReturnsToThePrompt() throws {
        let k = try Repo.kernel("spin.elf")
        let p = Process()
        p.executableURL = Repo.swiftemu
        p.arguments = [k, "debug"]
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = errPipe
        try p.run()
        addTeardownBlock { if p.isRunning { p.terminate() } }
        var out = Data()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            out = outPipe.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }
        inPipe.fileHandleForWriting.write(Data("continue\n".utf8))
        usleep(1_500_000)                       // the guest spins
        XCTAssertTrue(p.isRunning)
        p.interrupt()                            // SIGINT, as Ctrl-C in a terminal
        usleep(500_000)
        inPipe.fileHandleForWriting.write(Data("info\ninfo\nquit 9\n".utf8))
        try? inPipe.fileHandleForWriting.close()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        p.waitUntilExit()
        let text = String(decoding: out, as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 9, text)
        XCTAssertTrue(text.contains("Interrupted."), text)
        XCTAssertTrue(text.contains("spinning"), text)
        // Stopped: two `info` in a row show the same instruction count.
        let counts = text.split(separator: "\n").filter { $0.hasPrefix("instructions ") }
        XCTAssertEqual(counts.count, 2, text)
        XCTAssertEqual(counts.first, counts.last)
    }

    // MARK: the bundled guest (Embedded Swift)

    func testScriptedSessionOnTheSwiftGuest() throws {
        let guest = Repo.root.appendingPathComponent("build/guest/guest.elf").path
        guard FileManager.default.fileExists(atPath: guest) else {
            throw XCTSkip("build/guest/guest.elf does not exist yet (run `make guest`); the same session runs against irq_pit.elf")
        }
        let f = try script([
            "break kernelMain",
            "continue",
            "step",
            "next",
            "regs",
            "bt",
            "break Shell.run",
            "continue",
            "pic",
            "pit",
            "kbd",
            "break irq 1",
            "key a",
            "continue",
            "idt 0x21",
            "finish",
            "tss",
            "gdt",
            "page 0x100000",
        ])
        let r = try Repo.swiftemu([guest, "debug", "--commands", f])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let out = r.stdout
        let syms = SymbolTable.load(elf: [UInt8](try Data(contentsOf: URL(fileURLWithPath: guest))))
        guard case .success(let km) = syms.resolve("kernelMain") else { return XCTFail("kernelMain not in the guest's symbols") }
        // Swift symbols are shown demangled.
        XCTAssertTrue(section(out, "break kernelMain").contains("Breakpoint 1 at 0x\(String(km.address, radix: 16)) <kernelMain(magic:info:)>"), out)
        XCTAssertTrue(section(out, "continue").contains("Breakpoint 1, 0x\(String(km.address, radix: 16)) <kernelMain(magic:info:)>"), out)
        XCTAssertTrue(section(out, "step").contains("<kernelMain(magic:info:)+0x1>:  mov rbp, rsp"), out)
        XCTAssertTrue(section(out, "next").contains("<kernelMain(magic:info:)+0x4>"), out)
        let regs = section(out, "regs")
        XCTAssertTrue(regs.contains("mode long64  cpl 0"), regs)
        XCTAssertTrue(regs.contains("efer 0x00000500 [ LME LMA ]"), regs)
        XCTAssertTrue(regs.contains("PG"), regs)
        XCTAssertTrue(section(out, "bt").contains("#0  0x\(String(format: "%08llx", km.address + 4)) in kernelMain(magic:info:)+0x4"), section(out, "bt"))
        // After the kernel's init: the PIC pair remapped to 0x20/0x28.
        XCTAssertTrue(section(out, "continue", occurrence: 2).contains("<static Shell.run()>"), out)
        let pic = section(out, "pic")
        XCTAssertTrue(pic.contains("base=20 init=ready"), pic)
        XCTAssertTrue(pic.contains("base=28 init=ready"), pic)
        XCTAssertTrue(section(out, "pit").contains("ch0: mode"), out)
        XCTAssertTrue(section(out, "kbd").contains("command byte 0x"), out)
        let irq1 = section(out, "continue", occurrence: 3)
        XCTAssertTrue(irq1.contains("IRQ1 delivered on vector 0x21"), irq1)
        XCTAssertTrue(section(out, "idt 0x21").contains("int-gate64 sel 0x0008"), out)
        XCTAssertTrue(section(out, "tss").contains("ist1 0x"), out)
        XCTAssertTrue(section(out, "gdt").contains("L(64-bit)"), out)
        XCTAssertTrue(section(out, "page 0x100000").contains("4 KiB page: physical 0x100000") ||
                      section(out, "page 0x100000").contains("MiB page: physical 0x100000"), out)
    }
}
