import Foundation
import XCTest

/// Whole-machine tests: small kernels booted headless through the CLI,
/// checking their output and exit status.
final class HeadlessTests: XCTestCase {
    func testHelloPrintsOnDebugconAndExitsThroughF4() throws {
        let r = try Repo.swiftemu([try Repo.kernel("hello.elf"), "headless"])
        XCTAssertEqual(r.stdout, "hello from a multiboot kernel\n")
        XCTAssertEqual(r.status, 33, r.stderr)
    }

    func testMultibootEntryStateAndInfoStruct() throws {
        let r = try Repo.swiftemu([try Repo.kernel("mbinfo.elf"), "headless", "--append", "a b=c"])
        XCTAssertEqual(r.status, 1, r.stderr)
        let expected = """
        magic 2badb002
        cr0.pg|pe 00000001
        eflags.if 00000000
        cs.rpl 00000000
        info.flags&0x24f 0000024f
        mem_lower 0000027f
        mem_upper 0001fb80
        cmdline-args: a b=c
        mmap:
          00000000 0009fc00 00000001
          00100000 07ee0000 00000001

        """
        XCTAssertEqual(r.stdout, expected)
    }

    func testRamOptionChangesMemUpper() throws {
        let r = try Repo.swiftemu([try Repo.kernel("mbinfo.elf"), "headless", "--ram", "64M"])
        // (64 MiB - 1 MiB - 128 KiB) / 1 KiB = 0xFB80
        XCTAssertTrue(r.stdout.contains("mem_upper 0000fb80"), r.stdout)
    }

    func testCOM1GoesToStdout() throws {
        let r = try Repo.swiftemu([try Repo.kernel("com1.elf"), "headless"])
        XCTAssertEqual(r.stdout, "hello over COM1\n")
        XCTAssertEqual(r.status, 33)
    }

    func testAoutKludgeImage() throws {
        let r = try Repo.swiftemu([try Repo.kernel("kludge.bin"), "headless"])
        XCTAssertEqual(r.stdout, "loaded by the a.out kludge\n")
        XCTAssertEqual(r.status, 33)
    }

    func testHaltWithInterruptsOffEndsWithStatus2() throws {
        let r = try Repo.swiftemu([try Repo.kernel("halt.elf"), "headless"])
        XCTAssertEqual(r.stdout, "halting with IF=0\n")
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("halted with interrupts disabled"), r.stderr)
    }

    func testTripleFaultEndsWithStatus4() throws {
        let r = try Repo.swiftemu([try Repo.kernel("triple.elf"), "headless"])
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertTrue(r.stderr.contains("triple fault"), r.stderr)
    }

    func testInstructionLimitEndsWithStatus6() throws {
        let r = try Repo.swiftemu([try Repo.kernel("spin.elf"), "headless", "--max-instructions", "100000"])
        XCTAssertEqual(r.status, 6, r.stderr)
        XCTAssertTrue(r.stderr.contains("100000 instructions"), r.stderr)
    }

    func testTimeoutEndsWithStatus8() throws {
        let r = try Repo.swiftemu([try Repo.kernel("spin.elf"), "headless", "--timeout", "0.05"])
        XCTAssertEqual(r.status, 8, r.stderr)
        XCTAssertEqual(r.stdout, "spinning\n")
    }

    func testUntilOutputEndsWithStatus0() throws {
        let r = try Repo.swiftemu([try Repo.kernel("irq_pit.elf"), "headless", "--until-output", "tick 00000002"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasSuffix("tick 00000002"), r.stdout)
    }

    func testResetWithNoRebootEndsWithStatus10() throws {
        let r = try Repo.swiftemu([try Repo.kernel("reset.elf"), "headless", "--no-reboot"])
        XCTAssertEqual(r.status, 10, r.stderr)
    }

    func testResetRebootsTheKernelByDefault() throws {
        let r = try Repo.swiftemu([try Repo.kernel("reset.elf"), "headless", "--max-instructions", "200000"])
        XCTAssertEqual(r.status, 6, r.stderr)
        XCTAssertGreaterThan(r.stdout.components(separatedBy: "resetting\n").count - 1, 1, "the kernel should run again after the reset")
    }

    func testTimerInterruptsThroughRemappedPIC() throws {
        let r = try Repo.swiftemu([try Repo.kernel("irq_pit.elf"), "headless", "--timeout", "5"])
        XCTAssertEqual(r.status, 33, r.stderr)
        XCTAssertEqual(r.stdout, """
        imr after remap 000000b8 0000008e
        tick 00000001
        tick 00000002
        tick 00000003
        tick 00000004
        tick 00000005
        done, ticks 00000005

        """)
    }

    func testScriptedKeyReachesIRQ1Handler() throws {
        // Make at 60 ms, break at 90 ms: both between the first two ticks
        // (54.9 ms and 109.9 ms).
        let r = try Repo.swiftemu([try Repo.kernel("irq_pit.elf"), "headless", "--keys", "1", "--keys-at", "60ms"])
        XCTAssertEqual(r.status, 33, r.stderr)
        // '1' is set-2 0x16, translated by the 8042 to set-1 0x02 / 0x82.
        let codes = r.stdout.split(separator: "\n").filter { $0.hasPrefix("scancode ") }
        XCTAssertEqual(codes, ["scancode 00000002", "scancode 00000082"], r.stdout)
    }

    func testLockedReadModifyWriteForms() throws {
        let r = try Repo.swiftemu([try Repo.kernel("lock.elf"), "headless"])
        XCTAssertEqual(r.stdout, "00000015\n")
        XCTAssertEqual(r.status, 33, r.stderr)
    }

    func testSameRunTwiceIsByteIdentical() throws {
        let k = try Repo.kernel("irq_pit.elf")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftemu-det-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var outs: [String] = []
        for i in 0..<2 {
            let t = dir.appendingPathComponent("t\(i).jsonl").path
            let r = try Repo.swiftemu([k, "headless", "--trace", "all", "--trace-format", "jsonl", "--trace-file", t, "--keys", "12"])
            XCTAssertEqual(r.status, 33, r.stderr)
            outs.append(r.stdout + (try String(contentsOfFile: t, encoding: .utf8)))
        }
        XCTAssertEqual(outs[0], outs[1])
        XCTAssertGreaterThan(outs[0].count, 1000)
    }
}

/// Bad input: a clear message and a non-zero exit, never a trap.
final class BadInputTests: XCTestCase {
    func tmp(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("swiftemu-bad-\(getpid())-\(name)").path
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    func testMissingFile() throws {
        let r = try Repo.swiftemu(["/nonexistent/kernel.elf", "headless"])
        XCTAssertEqual(r.status, 12)
        XCTAssertTrue(r.stderr.contains("no such file"), r.stderr)
    }

    func testNotELF() throws {
        let r = try Repo.swiftemu([try tmp("text", Array("just some text\n".utf8)), "headless"])
        XCTAssertEqual(r.status, 12)
        XCTAssertTrue(r.stderr.contains("not a Multiboot kernel"), r.stderr)
    }

    func testELFWithoutMultibootHeader() throws {
        var elf = [UInt8](repeating: 0, count: 256)
        elf[0] = 0x7F; elf[1] = 0x45; elf[2] = 0x4C; elf[3] = 0x46; elf[4] = 1; elf[5] = 1
        let r = try Repo.swiftemu([try tmp("nomb", elf), "headless"])
        XCTAssertEqual(r.status, 12)
        XCTAssertTrue(r.stderr.contains("no Multiboot header"), r.stderr)
    }

    func testSegmentsThatDoNotFitInRAM() throws {
        let k = try Repo.kernel("hello.elf")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: k)))
        // Move the first PT_LOAD's physical address to 3.5 GiB.
        let phoff = Int(bytes[28]) | Int(bytes[29]) << 8 | Int(bytes[30]) << 16 | Int(bytes[31]) << 24
        let paddr = phoff + 12
        bytes[paddr + 3] = 0xE0
        let r = try Repo.swiftemu([try tmp("big", bytes), "headless"])
        XCTAssertEqual(r.status, 12)
        XCTAssertTrue(r.stderr.contains("does not fit in guest RAM"), r.stderr)
    }

    func testUnknownFlag() throws {
        let r = try Repo.swiftemu([try Repo.kernel("hello.elf"), "headless", "--no-such-flag"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("no-such-flag"), r.stderr)
    }

    func testUnknownMode() throws {
        let r = try Repo.swiftemu([try Repo.kernel("hello.elf"), "sideways"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("unknown mode"), r.stderr)
    }

    func testTruncatedFilesNeverTrap() throws {
        let k = try Repo.kernel("hello.elf")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: k)))
        for cut in stride(from: 1, to: bytes.count, by: max(1, bytes.count / 40)) {
            let r = try Repo.swiftemu([try tmp("cut\(cut)", Array(bytes[0..<cut])), "headless", "--max-instructions", "10000"])
            XCTAssertTrue([12, 33, 6, 2, 4, 8].contains(r.status), "cut at \(cut): status \(r.status) \(r.stderr)")
        }
    }
}
