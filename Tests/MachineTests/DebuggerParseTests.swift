import Foundation
import XCTest
@testable import Board

/// The command parser is a pure function: every alias, argument forms,
/// errors for bad input, and random input that must never trap.
final class DebuggerParseTests: XCTestCase {
    func parse(_ s: String) -> DebugCommand? {
        if case .success(let c) = DebugCommandParser.parse(s) { return c }
        return nil
    }
    func error(_ s: String) -> String? {
        if case .failure(let e) = DebugCommandParser.parse(s) { return e.message }
        return nil
    }

    func testExecutionCommandsAndAliases() {
        XCTAssertEqual(parse("step"), .step(1))
        XCTAssertEqual(parse("s 5"), .step(5))
        XCTAssertEqual(parse("si 0x10"), .step(16))
        XCTAssertEqual(parse("n"), .next(1))
        XCTAssertEqual(parse("next 3"), .next(3))
        XCTAssertEqual(parse("fin"), .finish)
        XCTAssertEqual(parse("finish"), .finish)
        XCTAssertEqual(parse("c"), .continueRun)
        XCTAssertEqual(parse("cont"), .continueRun)
        XCTAssertEqual(parse("u 0x100020"), .until(.number(0x100020)))
        XCTAssertEqual(parse("until kmain+4"), .until(.add(.symbol("kmain"), .number(4))))
        XCTAssertEqual(parse("run-for 1000"), .runFor(.instructions(1000)))
        XCTAssertEqual(parse("rf 10ms"), .runFor(.nanoseconds(10_000_000)))
        XCTAssertEqual(parse("run-for 2s"), .runFor(.nanoseconds(2_000_000_000)))
        XCTAssertEqual(parse("run-for 1.5ms"), .runFor(.nanoseconds(1_500_000)))
        XCTAssertEqual(parse("run-for 250us"), .runFor(.nanoseconds(250_000)))
        XCTAssertEqual(parse("q"), .quit(nil))
        XCTAssertEqual(parse("quit 3"), .quit(3))
        XCTAssertEqual(parse(""), .empty)
        XCTAssertEqual(parse("   # a comment"), .empty)
    }

    func testBreakpointForms() {
        XCTAssertEqual(parse("break kmain"), .breakpoint(.address(.symbol("kmain")), nil, temporary: false))
        XCTAssertEqual(parse("b 0x100020"), .breakpoint(.address(.number(0x100020)), nil, temporary: false))
        XCTAssertEqual(parse("tbreak kernelMain(magic:info:)"), .breakpoint(.address(.symbol("kernelMain(magic:info:)")), nil, temporary: true))
        XCTAssertEqual(parse("b \"closure #1 in kernelMain(magic:info:)\""),
                       .breakpoint(.address(.symbol("closure #1 in kernelMain(magic:info:)")), nil, temporary: false))
        XCTAssertEqual(parse("b $e6Kernel10kernelMain5magic4infos5NeverOs6UInt32V_AHtF"),
                       .breakpoint(.address(.symbol("$e6Kernel10kernelMain5magic4infos5NeverOs6UInt32V_AHtF")), nil, temporary: false))
        guard case .breakpoint(.address(.number(0x1000)), let cond?, false)? = parse("break 0x1000 if rax==5") else {
            return XCTFail("conditional")
        }
        XCTAssertEqual(cond.text, "rax==5")
        XCTAssertEqual(cond.terms.count, 1)
        XCTAssertTrue(cond.terms[0].0 == .register("rax") && cond.terms[0].1 == .eq && cond.terms[0].2 == .number(5))
        guard case .breakpoint(_, let c2?, _)? = parse("b isr if [rsp+8] != 0x21 && ecx >= 2") else { return XCTFail("two terms") }
        XCTAssertEqual(c2.terms.count, 2)
        XCTAssertTrue(c2.terms[0].0 == .deref(.add(.register("rsp"), .number(8))) && c2.terms[0].1 == .ne)
        XCTAssertTrue(c2.terms[1].1 == .ge)
        XCTAssertEqual(parse("break int 0x21"), .breakpoint(.vector(0x21), nil, temporary: false))
        XCTAssertEqual(parse("break irq 1"), .breakpoint(.irq(1), nil, temporary: false))
        XCTAssertEqual(parse("break exc 14"), .breakpoint(.exception(14), nil, temporary: false))
        XCTAssertEqual(parse("break io 0x60"), .breakpoint(.io(0x60...0x60), nil, temporary: false))
        XCTAssertEqual(parse("break io 0x20-0x21"), .breakpoint(.io(0x20...0x21), nil, temporary: false))
        XCTAssertEqual(parse("break irq1"), .breakpoint(.address(.symbol("irq1")), nil, temporary: false))   // a label
        XCTAssertEqual(parse("watch 0x1000"), .watch(.number(0x1000), length: 8, kind: .write))
        XCTAssertEqual(parse("w ticks 4"), .watch(.symbol("ticks"), length: 4, kind: .write))
        XCTAssertEqual(parse("rwatch $rsp"), .watch(.register("rsp"), length: 8, kind: .read))
        XCTAssertEqual(parse("aw 0x10 2"), .watch(.number(0x10), length: 2, kind: .access))
        XCTAssertEqual(parse("list"), .listBreakpoints)
        XCTAssertEqual(parse("info breakpoints"), .listBreakpoints)
        XCTAssertEqual(parse("d"), .delete(nil))
        XCTAssertEqual(parse("delete 2"), .delete(2))
        XCTAssertEqual(parse("disable 2"), .enable(2, false))
        XCTAssertEqual(parse("be 2"), .enable(2, true))
    }

    func testStateCommands() {
        XCTAssertEqual(parse("r"), .registers)
        XCTAssertEqual(parse("info registers"), .registers)
        XCTAssertEqual(parse("x/4gx $rsp"), .examine(ExamineSpec(count: 4, unit: 8, format: "x", address: .register("rsp"), physical: false)))
        XCTAssertEqual(parse("xp/80hx 0xb8000"), .examine(ExamineSpec(count: 80, unit: 2, format: "x", address: .number(0xB8000), physical: true)))
        XCTAssertEqual(parse("x/s msg"), .examine(ExamineSpec(count: 1, unit: 4, format: "s", address: .symbol("msg"), physical: false)))
        XCTAssertEqual(parse("x/10i $rip"), .examine(ExamineSpec(count: 10, unit: 4, format: "i", address: .register("rip"), physical: false)))
        XCTAssertEqual(parse("x/3c 0x10"), .examine(ExamineSpec(count: 3, unit: 1, format: "c", address: .number(0x10), physical: false)))
        XCTAssertEqual(parse("x 0x10"), .examine(ExamineSpec(count: 1, unit: 4, format: "x", address: .number(0x10), physical: false)))
        XCTAssertEqual(parse("disas"), .disassemble(nil, nil))
        XCTAssertEqual(parse("di kmain 20"), .disassemble(.symbol("kmain"), 20))
        XCTAssertEqual(parse("disas 0x1000"), .disassemble(.number(0x1000), nil))
        XCTAssertEqual(parse("bt"), .backtrace(nil))
        XCTAssertEqual(parse("where 5"), .backtrace(5))
        XCTAssertEqual(parse("gdt"), .gdt)
        XCTAssertEqual(parse("idt"), .idt(nil))
        XCTAssertEqual(parse("idt 0x21"), .idt(0x21))
        XCTAssertEqual(parse("tss"), .tss)
        XCTAssertEqual(parse("pg 0xffff800000000000"), .page(.number(0xFFFF_8000_0000_0000)))
        XCTAssertEqual(parse("set rax = 0x5"), .setRegister("rax", .number(5)))
        XCTAssertEqual(parse("set $rip kmain"), .setRegister("rip", .symbol("kmain")))
        XCTAssertEqual(parse("p rsp-8"), .print(.sub(.register("rsp"), .number(8))))
        XCTAssertEqual(parse("print [[rbp]+8]"), .print(.deref(.add(.deref(.register("rbp")), .number(8)))))
    }

    func testPCCommands() {
        XCTAssertEqual(parse("pic"), .device(.pic))
        XCTAssertEqual(parse("info pic"), .device(.pic))
        XCTAssertEqual(parse("pit"), .device(.pit))
        XCTAssertEqual(parse("kbc"), .device(.kbc))
        XCTAssertEqual(parse("kbd"), .device(.kbc))
        XCTAssertEqual(parse("rtc"), .device(.rtc))
        XCTAssertEqual(parse("vga"), .screen)
        XCTAssertEqual(parse("irq 1"), .irq(1, .pulse))
        XCTAssertEqual(parse("irq 12 up"), .irq(12, .up))
        XCTAssertEqual(parse("key a"), .key("a", .tap))
        XCTAssertEqual(parse("k enter down"), .key("enter", .down))
        XCTAssertEqual(parse("type hello\\n"), .type("hello\\n"))
        XCTAssertEqual(parse("trace pic,irq on"), .trace([.pic, .irq], true))
        XCTAssertEqual(parse("t all off"), .trace(.all, false))
    }

    func testErrors() {
        XCTAssertEqual(error("frob"), "unknown command 'frob' (type 'help' for the list)")
        XCTAssertNotNil(error("step 0"))
        XCTAssertNotNil(error("step x"))
        XCTAssertNotNil(error("continue now"))
        XCTAssertNotNil(error("break irq 16"))
        XCTAssertNotNil(error("break irq 2"))
        XCTAssertNotNil(error("break exc 32"))
        XCTAssertNotNil(error("break io 0x10000"))
        XCTAssertNotNil(error("break 0x10 if rax"))
        XCTAssertNotNil(error("break [rax"))
        XCTAssertNotNil(error("x/4y 0"))
        XCTAssertNotNil(error("x/4x"))
        XCTAssertNotNil(error("regs/4x"))
        XCTAssertNotNil(error("irq 2"))
        XCTAssertNotNil(error("key qwerty"))
        XCTAssertNotNil(error("trace pic maybe"))
        XCTAssertNotNil(error("set cr9 = 1"))
        XCTAssertNotNil(error("print 0xZZ"))
        XCTAssertNotNil(error("print 1 2"))
        XCTAssertNotNil(error("quit -1"))
        XCTAssertNotNil(error("run-for 10parsecs"))
        XCTAssertNotNil(error("run-for 99999999999999999999s"))
        XCTAssertNotNil(error("info nonsense"))
        XCTAssertNotNil(error(String(repeating: "[", count: 100) + "1" + String(repeating: "]", count: 100)))
    }

    func testEveryCommandInTheTableParsesAndHasHelp() {
        for c in DebugCommandParser.table {
            XCTAssertNotNil(DebugCommandParser.info(for: c.name))
            for a in c.aliases { XCTAssertEqual(DebugCommandParser.info(for: a)?.name, c.name, a) }
            XCTAssertTrue(Debugger.helpText(c.name).hasPrefix(c.usage))
            XCTAssertTrue(Debugger.helpText(nil).contains(c.usage))
        }
        // No alias is claimed twice.
        var seen = Set<String>()
        for c in DebugCommandParser.table {
            for n in [c.name] + c.aliases {
                XCTAssertFalse(seen.contains(n), "\(n) used twice")
                seen.insert(n)
            }
        }
    }

    /// Random lines, and random edits of valid lines, never trap.
    func testParserFuzz() {
        var rng = SystemRandomNumberGenerator()
        let seeds = ["break 0x1000 if rax==5 && [rsp+8]!=3", "x/16gx $rsp+0x10", "run-for 10ms", "watch ticks 4",
                     "b \"closure #1 in f()\"", "irq 1 pulse", "trace pic,irq on", "set rax = [rbp]-8", "disas kmain 20"]
        let alphabet = Array("abcdefxghiorstuvw0123456789 /[]+-=!<>&\"$#().:_\t\u{0}\u{7f}é漢")
        for i in 0..<30000 {
            var s: String
            if i % 2 == 0 {
                s = String((0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            } else {
                var chars = Array(seeds.randomElement(using: &rng)!)
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let p = Int.random(in: 0...chars.count, using: &rng)
                    if Bool.random(using: &rng) && p < chars.count { chars.remove(at: p) }
                    else { chars.insert(alphabet.randomElement(using: &rng)!, at: p) }
                }
                s = String(chars)
            }
            _ = DebugCommandParser.parse(s)
        }
    }
}
