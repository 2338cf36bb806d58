import Foundation
import XCTest
@testable import Board
import CPU
import Devices

/// The debugger core in process: breakpoints of every kind, stepping
/// semantics, watchpoints, and the rule that a stopped machine's time does
/// not move. Uses the irq_pit test kernel (and the Swift guest when built).
final class DebuggerCoreTests: XCTestCase {
    var output: [UInt8] = []

    func machine(_ name: String = "irq_pit.elf", append: String = "") throws -> (PC, Debugger) {
        let path = try Repo.kernel(name)
        return try machine(path: path, append: append)
    }

    func machine(path: String, append: String = "") throws -> (PC, Debugger) {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let pc = PC()
        try pc.load(kernel: bytes, path: path, append: append)
        pc.onOutput = { [unowned self] b in self.output.append(b) }
        let d = Debugger(pc: pc, symbols: SymbolTable.load(elf: bytes))
        d.attach()
        return (pc, d)
    }

    func addr(_ d: Debugger, _ name: String) throws -> UInt64 {
        guard case .success(let s) = d.symbols.resolve(name) else { throw XCTSkip("no symbol \(name)") }
        return s.address
    }

    func run(_ d: Debugger, _ line: String) -> Debugger.CommandResult {
        switch DebugCommandParser.parse(line) {
        case .success(let c): return d.execute(c)
        case .failure(let e): return Debugger.CommandResult(output: e.message, isError: true)
        }
    }

    var text: String { String(decoding: output, as: UTF8.self) }

    // MARK: breakpoints

    func testBreakpointOnAnIRQHandlerEntryHitWhileHalted() throws {
        // The kernel idles in `sti; hlt`: the timer interrupt wakes the CPU
        // and the first instruction of the vector 0x20 stub must stop.
        let (pc, d) = try machine()
        let stub = try addr(d, "stubs") + 0x20 * 16
        d.addBreakpoint(.address(stub), label: "stub 0x20")
        for tick in 1...3 {
            let r = d.resume(.continueRun)
            XCTAssertEqual(r.cause, .breakpoint(1), r.message)
            XCTAssertEqual(d.linearRIP, stub)
            XCTAssertEqual(pc.pics.master.isr, 1, "IRQ0 in service at tick \(tick)")
        }
        XCTAssertEqual(d.breakpoints[0].hits, 3)
        XCTAssertTrue(text.contains("tick 00000002"), text)
    }

    func testVectorIRQAndPortBreakpoints() throws {
        let (pc, d) = try machine()
        XCTAssertFalse(run(d, "break io 0x21").isError)
        var r = d.resume(.continueRun)
        // The first access to 0x21 is the IMR read before the remap; the stop
        // comes after the IN.
        XCTAssertEqual(r.cause, .breakpoint(1))
        XCTAssertTrue(r.message.contains("IN from port 0x21"), r.message)
        r = d.resume(.continueRun)
        XCTAssertTrue(r.message.contains("OUT to port 0x21 value 0x20"), r.message)   // ICW2: vector base 0x20
        XCTAssertEqual(pc.pics.master.initState.description.isEmpty, false)
        _ = d.deleteBreakpoint(nil)
        XCTAssertFalse(run(d, "break int 0x20").isError)
        r = d.resume(.continueRun)
        XCTAssertTrue(r.message.contains("interrupt vector 0x20 delivered (external, IRQ0)"), r.message)
        // Stopped before the handler's first instruction.
        XCTAssertEqual(d.linearRIP, try addr(d, "stubs") + 0x200)
        _ = d.deleteBreakpoint(nil)
        XCTAssertFalse(run(d, "break irq 1").isError)
        XCTAssertFalse(run(d, "irq 1").isError)            // pulse the line: raised now, lowered on delivery
        XCTAssertEqual(pc.pics.master.lines & 2, 2)
        r = d.resume(.continueRun)
        XCTAssertTrue(r.message.contains("IRQ1 delivered on vector 0x21"), r.message)
        XCTAssertEqual(pc.pics.master.lines & 2, 0, "the pulsed line is lowered once taken")
        XCTAssertEqual(pc.pics.master.isr & 2, 2)
    }

    func testConditionalBreakpointAndKeys() throws {
        let (pc, d) = try machine()
        // isr_common+5: after `mov eax, [esp+0x20]` the vector is in EAX.
        XCTAssertFalse(run(d, "break isr_common+5 if eax==0x21").isError)
        XCTAssertFalse(run(d, "run-for 100ms").isError)       // a few timer ticks pass the breakpoint
        XCTAssertEqual(d.breakpoints[0].hits, 0)
        XCTAssertTrue(text.contains("tick 00000001"))
        XCTAssertFalse(run(d, "key a").isError)
        let r = d.resume(.continueRun)
        XCTAssertEqual(r.cause, .breakpoint(1), r.message)
        XCTAssertEqual(pc.cpu.gpr(.rax) & 0xFF, 0x21)
        XCTAssertTrue(r.message.contains("if eax==0x21"), r.message)
    }

    func testWatchpointsReadWriteAccess() throws {
        let (_, d) = try machine()
        let ticks = try addr(d, "ticks")
        XCTAssertFalse(run(d, "watch ticks 4").isError)
        var r = d.resume(.continueRun)
        XCTAssertEqual(r.cause, .breakpoint(1))
        XCTAssertTrue(r.message.contains("watch 0x\(String(ticks, radix: 16)) <ticks>: access at 0x\(String(ticks, radix: 16)): old 0x0 new 0x1"), r.message)
        // The stop is after the writing instruction (incl ticks).
        XCTAssertTrue(d.locationLine().contains("mov esi, 0x"), d.locationLine())
        _ = d.deleteBreakpoint(nil)
        XCTAssertFalse(run(d, "rwatch ticks 4").isError)
        r = d.resume(.continueRun)
        // The idle loop reads ticks (cmp dword ptr [ticks], 0x5).
        XCTAssertEqual(r.cause, .breakpoint(2))
        XCTAssertTrue(r.message.contains("rwatch") && r.message.contains("(value 0x1)"), r.message)
        _ = d.deleteBreakpoint(nil)
        XCTAssertFalse(run(d, "awatch ticks 4").isError)
        r = d.resume(.continueRun)
        XCTAssertEqual(r.cause, .breakpoint(3), r.message)
    }

    // MARK: stepping

    func testNextStepsOverCallsAndFinishReturns() throws {
        let (_, d) = try machine()
        let irq0 = try addr(d, "irq0")
        XCTAssertEqual(d.resume(.until(irq0)).cause, .finished)
        XCTAssertEqual(d.linearRIP, irq0)
        XCTAssertEqual(d.resume(.next(1)).cause, .finished)     // incl ticks
        XCTAssertEqual(d.linearRIP, irq0 + 6)
        XCTAssertEqual(d.resume(.next(1)).cause, .finished)     // mov esi, s_tick
        XCTAssertEqual(d.linearRIP, irq0 + 11)
        XCTAssertTrue(d.locationLine().contains("call 0x") && d.locationLine().contains("<puts_e9>"), d.locationLine())
        output.removeAll()
        XCTAssertEqual(d.resume(.next(1)).cause, .finished)     // over the call
        XCTAssertEqual(d.linearRIP, irq0 + 16)
        XCTAssertEqual(text, "tick ")
        // step goes into the next call; finish comes back out of it.
        XCTAssertEqual(d.resume(.step(2)).cause, .finished)     // mov eax, ticks; call puthex_e9
        XCTAssertEqual(d.linearRIP, try addr(d, "puthex_e9"))
        let r = d.resume(.finish)
        XCTAssertEqual(r.cause, .finished)
        XCTAssertEqual(d.linearRIP, irq0 + 26)
        XCTAssertTrue(text.hasSuffix("00000001"), text)
    }

    func testStepEntersAnInterruptAndQuietStepRunsItToItsReturn() throws {
        let (pc, d) = try machine()
        // At the first timer interrupt's stub; finish leaves the handler
        // through its IRET, back in the idle loop.
        XCTAssertFalse(run(d, "break irq 0").isError)
        _ = d.resume(.continueRun)
        _ = d.deleteBreakpoint(nil)
        XCTAssertEqual(d.resume(.finish).cause, .finished)
        func stepToHalt() {
            var n = 0
            while !pc.cpu.halted && n < 100 { _ = d.resume(.step(1)); n += 1 }
            XCTAssertTrue(pc.cpu.halted)
        }
        stepToHalt()
        let afterHLT = d.linearRIP
        // `step` on a halted CPU waits for the next interrupt and enters it.
        let t0 = pc.virtualTime
        var r = d.resume(.step(1))
        XCTAssertEqual(r.cause, .finished)
        XCTAssertTrue(r.message.contains("interrupt vector 0x20 (IRQ0) taken; will return to 0x\(String(afterHLT, radix: 16))"), r.message)
        XCTAssertEqual(d.linearRIP, try addr(d, "stubs") + 0x200 + 2, "after the stub's push")
        XCTAssertGreaterThan(pc.virtualTime, t0 + 50_000_000)    // the 18.2 Hz tick came
        XCTAssertEqual(d.resume(.finish).cause, .finished)
        XCTAssertEqual(d.linearRIP, afterHLT)
        // The quiet step (what GDB's stepi uses) runs the next interrupt's
        // handler to its return: the step ends after the hlt again.
        stepToHalt()
        let ticksBefore = text.components(separatedBy: "tick ").count
        r = d.resume(.stepQuiet)
        XCTAssertEqual(r.cause, .finished)
        XCTAssertEqual(d.linearRIP, afterHLT)
        XCTAssertFalse(pc.cpu.halted)
        XCTAssertEqual(text.components(separatedBy: "tick ").count, ticksBefore + 1, "the handler ran")
    }

    func testRunForCountsInstructionsAndVirtualTime() throws {
        let (pc, d) = try machine()
        XCTAssertEqual(d.resume(.run(.instructions(1000))).cause, .finished)
        XCTAssertEqual(pc.instructions, 1000)
        let t = pc.virtualTime
        XCTAssertEqual(d.resume(.run(.nanoseconds(10_000_000))).cause, .finished)
        XCTAssertTrue(pc.virtualTime >= t + 10_000_000 && pc.virtualTime < t + 10_000_000 + 10, "\(pc.virtualTime - t)")
        // Commands that only look leave time and the instruction count alone.
        let (n, vt) = (pc.instructions, pc.virtualTime)
        for c in ["regs", "x/16xb $esp", "disas", "bt", "gdt", "idt", "tss", "page 0x1000", "pic", "pit", "kbc", "rtc",
                  "vga", "uart", "info", "list", "sym isr_common", "print [esp]", "help", "x/4i $eip", "xp/8hx 0xb8000"] {
            _ = run(d, c)
            XCTAssertEqual(pc.instructions, n, c)
            XCTAssertEqual(pc.virtualTime, vt, c)
        }
    }

    func testGuestExitEndsTheMachineForGood() throws {
        let (_, d) = try machine("hello.elf")
        let r = d.resume(.continueRun)
        XCTAssertEqual(r.cause, .machine(.guestExit(code: 33)))
        XCTAssertEqual(d.machineEnded, .guestExit(code: 33))
        XCTAssertTrue(d.resume(.step(1)).message.contains("has stopped"))
    }

    // MARK: the Swift guest

    func testGuestExceptionBreakpointsAndFrameFinish() throws {
        let guest = Repo.root.appendingPathComponent("build/guest/guest.elf").path
        guard FileManager.default.fileExists(atPath: guest) else {
            throw XCTSkip("build/guest/guest.elf does not exist yet (run `make guest`)")
        }
        let (pc, d) = try machine(path: guest, append: "test")
        // A Swift function with a frame: finish returns into kernelMain.
        guard case .success(let gdtInit) = d.symbols.resolve("GDT.initialize"),
              case .success(let kmain) = d.symbols.resolve("kernelMain") else { return XCTFail("guest symbols") }
        d.addBreakpoint(.address(gdtInit.address), label: "GDT.initialize")
        XCTAssertEqual(d.resume(.continueRun).cause, .breakpoint(1))
        XCTAssertEqual(d.resume(.next(3)).cause, .finished)
        let frames = d.backtraceFrames()
        XCTAssertGreaterThanOrEqual(frames.count, 3)
        XCTAssertEqual(d.symbols.lookup(frames[1])?.symbol.name, kmain.name)
        let sp = pc.cpu.gpr(.rsp)
        let r = d.resume(.finish)
        XCTAssertEqual(r.cause, .finished, r.message)
        XCTAssertEqual(d.linearRIP, frames[1])
        XCTAssertGreaterThan(pc.cpu.gpr(.rsp), sp)
        _ = d.deleteBreakpoint(nil)
        // The self-tests fault on purpose: #BP from int3, then #PF.
        XCTAssertFalse(run(d, "break exc 3").isError)
        XCTAssertFalse(run(d, "break exc 14").isError)
        var m = d.resume(.continueRun)
        XCTAssertTrue(m.message.contains("exception 3 (#BP)"), m.message)
        for _ in 0..<10 where !m.message.contains("#PF") { m = d.resume(.continueRun) }
        XCTAssertTrue(m.message.contains("exception 14 (#PF)") && m.message.contains("CR2 0x"), m.message)
        // Stopped at the #PF gate's handler, with the error code on the stack.
        let idt = run(d, "idt 14").output
        XCTAssertTrue(idt.contains(String(format: "%016llx", d.linearRIP)), idt + "\n" + d.locationLine())
    }
}
