import XCTest
import Board
import CPU
import Devices

/// Failures the fuzzers found, each pinned down at the level where it was
/// fixed. (The inputs themselves are replayed from fuzz/regressions/ by
/// RobustnessFuzzInputTests.)
final class RobustnessRegressionTests: XCTestCase {

    /// A Multiboot a.out-kludge image: the header at 0x100000, `code` from
    /// 0x100020 (the entry), `data` placed at 0x100000 + offset.
    private func kludgeKernel(_ code: [UInt8], data: [(Int, [UInt8])] = []) -> [UInt8] {
        let magic: UInt32 = 0x1BAD_B002, flags: UInt32 = 0x1_0000
        var img: [UInt8] = []
        for w in [magic, flags, 0 &- (magic &+ flags), 0x10_0000, 0x10_0000, 0, 0, 0x10_0020] {
            for i in 0..<4 { img.append(UInt8(truncatingIfNeeded: w >> (8 * UInt32(i)))) }
        }
        img += code
        for (off, bytes) in data {
            if img.count < off + bytes.count { img += [UInt8](repeating: 0, count: off + bytes.count - img.count) }
            img.replaceSubrange(off..<(off + bytes.count), with: bytes)
        }
        return img
    }

    private func machine(_ kernel: [UInt8], reboot: Bool = true) throws -> PC {
        var c = PCConfig()
        c.ramSize = 4 << 20
        c.rebootOnReset = reboot
        c.rebootOnTripleFault = reboot
        let pc = PC(config: c)
        try pc.load(kernel: kernel, path: "k", append: "")
        return pc
    }

    /// A kernel that loads its own GDT (flat code 0x08, data 0x10) and an
    /// IDT with the given gates (vector, target, type byte), then runs
    /// `code` from `protectedCode`. `code` gets the address it starts at.
    private static let protectedCode: UInt32 = 0x10_0035
    private func protectedKernel(gates: [(Int, UInt32, UInt8)], _ code: [UInt8]) -> [UInt8] {
        let prologue: [UInt8] = [0x0F, 0x01, 0x15, 0x00, 0x02, 0x10, 0x00,   // lgdt [0x100200]
                                 0x0F, 0x01, 0x1D, 0x10, 0x02, 0x10, 0x00,   // lidt [0x100210]
                                 0xEA, 0x35, 0x00, 0x10, 0x00, 0x08, 0x00]   // jmp 0x08:0x100035
        func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        var data: [(Int, [UInt8])] = [
            (0x200, le(0x17, 2) + le(0x10_0220, 4)),                         // GDTR
            (0x210, le(0x7FF, 2) + le(0x10_0400, 4)),                        // IDTR
            (0x220, le(0, 8) + le(0x00CF_9A00_0000_FFFF, 8) + le(0x00CF_9200_0000_FFFF, 8)),
        ]
        for (v, target, type) in gates {
            let t = UInt64(target)
            data.append((0x400 + v * 8, le((t & 0xFFFF) | 0x08 << 16 | UInt64(type) << 40 | (t >> 16) << 48, 8)))
        }
        return kludgeKernel(prologue + code, data: data)
    }

    /// mov esp, 0xFFFF0000; ud2 -- with #UD's gate (a trap gate) pointing at
    /// that UD2 and the stack in unbacked address space: every delivery
    /// succeeds, no instruction ever retires.
    private var stormKernel: [UInt8] {
        let ud2 = RobustnessRegressionTests.protectedCode + 5
        return protectedKernel(gates: [(6, ud2, 0x8F)], [0xBC, 0x00, 0x00, 0xFF, 0xFF,   // mov esp, 0xFFFF0000
                                                         0x0F, 0x0B])                  // ud2
    }

    /// Found by the cpu target (fuzz/regressions/cpu/fault-storm-*): a fault
    /// storm kept CPU.run() from ever returning.
    func testFaultStormEndsAtTheInstructionLimit() throws {
        let pc = try machine(stormKernel)
        pc.instructionLimit = 100_000
        XCTAssertEqual(pc.run(until: .max), .instructionLimit)
        XCTAssertEqual(pc.instructions, 100_000)
        XCTAssertEqual(pc.resets, 0)
    }

    func testFaultStormLetsVirtualTimeReachTheDeadline() throws {
        let pc = try machine(stormKernel)
        XCTAssertNil(pc.run(until: 2_000_000), "the deadline is reached")
        XCTAssertGreaterThanOrEqual(pc.virtualTime, 2_000_000)
        XCTAssertEqual(pc.cpu.rip, UInt64(RobustnessRegressionTests.protectedCode + 5), "still storming on the UD2")
        XCTAssertEqual(pc.resets, 0)
    }

    /// The CPU on its own: run() returns at stopAt during a storm.
    func testFaultStormReturnsFromCPURunAtStopAt() throws {
        let pc = try machine(stormKernel)
        let cpu = pc.cpu!
        // lgdt, lidt, jmp, mov esp
        cpu.stopAt = cpu.retired + 4
        XCTAssertEqual(cpu.run(), .limit)
        cpu.stopAt = cpu.retired + 50
        XCTAssertEqual(cpu.run(), .limit)
        XCTAssertEqual(cpu.rip, UInt64(RobustnessRegressionTests.protectedCode + 5))
    }

    /// A handled fault: the faulting instruction does not retire, its
    /// delivery counts one slot.
    func testAHandledFaultCountsOneSlot() throws {
        let handler = RobustnessRegressionTests.protectedCode + 7
        let pc = try machine(protectedKernel(gates: [(6, handler, 0x8E)], [
            0xBC, 0x00, 0x00, 0x20, 0x00,                           // mov esp, 0x200000
            0x0F, 0x0B,                                             // ud2
            0xB0, 0x78, 0xE6, 0xE9, 0xB0, 0x00, 0xE6, 0xF4]))       // handler: mov al,'x'; out 0xE9,al; mov al,0; out 0xF4,al
        var out: [UInt8] = []
        pc.onOutput = { out.append($0) }
        pc.instructionLimit = 1000
        XCTAssertEqual(pc.run(until: 100_000_000), .guestExit(code: 1))
        XCTAssertEqual(out, Array("x".utf8))
        // lgdt, lidt, jmp, mov esp, the #UD delivery (the faulting UD2 does
        // not retire; its delivery takes one slot, as CPU.swift documents),
        // mov, out, mov, out
        XCTAssertEqual(pc.instructions, 9)
    }

    /// A guest whose first instruction resets the machine (port 0x92 fast
    /// reset) reboots forever, but every reboot takes PC.rebootNs, so a
    /// deadline is reached.
    func testResetLoopReachesTheDeadline() throws {
        let pc = try machine(kludgeKernel([0xB0, 0x01, 0xE6, 0x92, 0xF4]))   // mov al,1; out 0x92,al; hlt
        XCTAssertNil(pc.run(until: 50_000_000))
        XCTAssertGreaterThanOrEqual(pc.resets, 4)
        XCTAssertLessThanOrEqual(pc.resets, 6)
    }

    /// A triple fault on the very first instruction with reboot on retired
    /// nothing at all per boot and hung the run.
    func testTripleFaultLoopReachesTheDeadline() throws {
        // The IDT at hand-off is the reset one (base 0, all zeros): UD2 ->
        // #NP -> #DF -> #NP -> triple fault.
        let pc = try machine(kludgeKernel([0x0F, 0x0B]))
        XCTAssertNil(pc.run(until: 50_000_000))
        XCTAssertGreaterThanOrEqual(pc.resets, 4)
        // Nothing retires; only the fault deliveries of each boot take a
        // slot (UD2's #NP and the #DF; the triple fault ends the boot).
        XCTAssertLessThanOrEqual(pc.instructions, UInt64(pc.resets + 1) * 2)

        let stopping = try machine(kludgeKernel([0x0F, 0x0B]), reboot: false)
        guard case .tripleFault = stopping.run(until: 50_000_000) else {
            return XCTFail("without reboot a triple fault stops the run")
        }
    }

    /// Guest RAM is allocated on demand: building a machine with a large RAM
    /// commits only the pages that are written.
    func testLargeRAMIsCommittedOnlyWhereTouched() throws {
        let m = PhysicalMemory(ramSize: 1 << 30)
        XCTAssertEqual(m.ramSize, 1 << 30)
        XCTAssertEqual(m.ram[(1 << 30) - 1], 0)
        XCTAssertEqual(m.ram[123_456_789], 0)
        m.ram[123_456_789] = 7
        XCTAssertEqual(m.ram[123_456_789], 7)
        XCTAssertEqual(m.kind(ofPhysical: (1 << 30) - 4096), .ram)
        XCTAssertEqual(m.kind(ofPhysical: 1 << 30), .device)
    }

    /// Found by the cpu target (fuzz/regressions/cpu/tlb-slot-across-2gib):
    /// linear pages 0x7FFFF and 0x80000 shared a TLB slot, so a write across
    /// 2 GiB went through the second page's host pointer minus two bytes --
    /// here two bytes before the start of the RAM buffer (the guard page
    /// below RAM turned that into a crash). Now the access is split: two
    /// bytes at the end of the first page's frame, two at physical 0.
    func testAccessAcrossTwoGiBUsesBothPagesFrames() throws {
        var c = PCConfig()
        c.ramSize = 16 << 20
        let pc = PC(config: c)
        let cpu = pc.cpu!
        let ram = pc.memory.ram
        func put32(_ a: Int, _ v: UInt32) { for i in 0..<4 { ram[a + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
        // 4 MiB pages: 0 -> 0 (the code), 0x7FC00000 -> 0x800000, 0x80000000 -> 0.
        put32(0x1000 + 0 * 4, 0x0000_0083)
        put32(0x1000 + 0x1FF * 4, 0x0080_0083)
        put32(0x1000 + 0x200 * 4, 0x0000_0083)
        let code: [UInt8] = [0xA3, 0x00, 0x00, 0x00, 0x80,                               // mov [0x80000000], eax
                             0xC7, 0x05, 0xFE, 0xFF, 0xFF, 0x7F, 0x44, 0x33, 0x22, 0x11, // mov dword [0x7FFFFFFE], 0x11223344
                             0xF4]                                                    // hlt
        for (i, b) in code.enumerated() { ram[0x10000 + i] = b }
        cpu.enterMultiboot(entry: 0x10000, eax: 0x5555_5555, ebx: 0)
        cpu.cr4 = 0x10            // PSE
        cpu.cr3 = 0x1000
        cpu.cr0 = cpu.cr0 | 0x8000_0000
        pc.instructionLimit = 10
        _ = pc.run(until: 1_000_000)
        XCTAssertEqual(cpu.rip, 0x10010, "both stores executed")
        XCTAssertEqual(Array(UnsafeBufferPointer(start: ram + 0xBF_FFFE, count: 2)), [0x44, 0x33], "the low half at the end of 0x7FFFF000's frame")
        XCTAssertEqual(Array(UnsafeBufferPointer(start: ram, count: 4)), [0x22, 0x11, 0x55, 0x55], "the high half at physical 0")
    }

    /// Found by the loader target (fuzz/regressions/loader/elf64-shoff-near-2-63):
    /// the debugger's ELF symbol reader added the section-header size to an
    /// e_shoff of 0xCBCBCBCBCBCBCBCB (clamped to Int.max) and trapped on the
    /// overflow. A string table size near 2^64 overflowed the same way.
    func testSymbolReaderTakesOffsetsAndSizesNearTheTopOfInt() {
        func put(_ b: inout [UInt8], _ o: Int, _ v: UInt64, _ n: Int) {
            for i in 0..<n { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
        }
        var header = [UInt8](repeating: 0, count: 64)
        header.replaceSubrange(0..<6, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1])   // ELF64, little-endian
        put(&header, 0x3A, 64, 2)                                             // e_shentsize
        put(&header, 0x3C, 3, 2)                                              // e_shnum
        var huge = header
        put(&huge, 0x28, 0xCBCB_CBCB_CBCB_CBCB, 8)                            // e_shoff
        XCTAssertEqual(SymbolTable.parseELF(huge), [])

        // Section headers at 64 (null, .symtab, .strtab), the symbols at
        // 256, the string table last, its size 2^64 - 1 and its last name
        // not NUL-terminated: names end at the end of the file.
        var elf = header + [UInt8](repeating: 0, count: 192 + 48)
        put(&elf, 0x28, 64, 8)
        let symtab = 64 + 64, strtab = 64 + 128
        put(&elf, symtab + 4, 2, 4); put(&elf, symtab + 0x18, 256, 8); put(&elf, symtab + 0x20, 48, 8)
        put(&elf, symtab + 0x28, 2, 4); put(&elf, symtab + 0x38, 24, 8)
        put(&elf, strtab + 4, 3, 4); put(&elf, strtab + 0x18, 304, 8); put(&elf, strtab + 0x20, .max, 8)
        let sym = 256 + 24                                                    // symbol 1 (0 is the null symbol)
        put(&elf, sym, 1, 4); elf[sym + 4] = 0x12; put(&elf, sym + 6, 1, 2)    // name at 1, global function, section 1
        put(&elf, sym + 8, 0x10_0000, 8); put(&elf, sym + 16, 16, 8)
        elf += [0] + Array("kmain".utf8)
        XCTAssertEqual(SymbolTable.parseELF(elf), [Symbol(address: 0x10_0000, size: 16, name: "kmain")])
    }

    /// Found by RobustnessGDBTests: when the end of an oversized packet
    /// arrived in the same read as its overflow, the framer waited for a
    /// later '#', swallowing the next packet and answering it with E01.
    func testOversizedGDBPacketEndingInTheSameReadIsDroppedAlone() {
        let m = GDBPacket.encode("m0,4")
        let big = Array("$".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 70_000) + Array("#00".utf8)
        var f = GDBFramer()
        XCTAssertEqual(f.feed(big + m), [.oversized, .packet(Array("m0,4".utf8))])
        // Split inside the checksum digits, and in the middle of the payload.
        for cut in [big.count - 1, big.count - 2, 65_600, 30_000] {
            var g = GDBFramer()
            let all = big + m
            let frames = g.feed(Array(all[..<cut])) + g.feed(Array(all[cut...]))
            XCTAssertEqual(frames, [.oversized, .packet(Array("m0,4".utf8))], "cut at \(cut)")
        }
    }
}
