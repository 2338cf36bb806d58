import Foundation
import XCTest
@testable import Board

/// The debugger's disassembler: exact lengths (next/finish depend on them),
/// Intel-syntax text for common forms, and a cross-check of every
/// instruction length against objdump over real kernels.
final class DebuggerDisassemblerTests: XCTestCase {
    func dis(_ bytes: [UInt8], bits: Int = 64, at: UInt64 = 0x1000) -> DisassembledInstruction {
        Disassembler(bits: bits).decode(bytes, address: at)
    }

    func testCommonLongModeForms() {
        let cases: [([UInt8], String, Int)] = [
            ([0x55], "push rbp", 1),
            ([0x48, 0x89, 0xE5], "mov rbp, rsp", 3),
            ([0x41, 0x57], "push r15", 2),
            ([0x48, 0x81, 0xEC, 0x38, 0x05, 0x00, 0x00], "sub rsp, 0x538", 7),
            ([0x48, 0x83, 0xC4, 0xF8], "add rsp, 0xfffffffffffffff8", 4),
            ([0x89, 0xF3], "mov ebx, esi", 2),
            ([0x45, 0x31, 0xF6], "xor r14d, r14d", 3),
            ([0xBF, 0xF9, 0x03, 0x00, 0x00], "mov edi, 0x3f9", 5),
            ([0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8], "mov rax, 0x807060504030201", 10),
            ([0x80, 0x3D, 0x07, 0xCE, 0x01, 0x00, 0x01], "cmp byte ptr [rip+0x1ce07], 0x1    # 0x1de0e", 7),
            ([0x48, 0x8B, 0x44, 0x24, 0x08], "mov rax, qword ptr [rsp+0x8]", 5),
            ([0x48, 0x8D, 0x04, 0x8D, 0x00, 0x00, 0x00, 0x00], "lea rax, [rcx*4]", 8),
            ([0x64, 0x48, 0x8B, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00], "mov rax, qword ptr fs:[0x28]", 9),
            ([0xC3], "ret", 1),
            ([0xCD, 0x21], "int 0x21", 2),
            ([0xCC], "int3", 1),
            ([0x48, 0xCF], "iretq", 2),
            ([0xFA], "cli", 1), ([0xFB], "sti", 1), ([0xF4], "hlt", 1),
            ([0xE6, 0x20], "out 0x20, al", 2),
            ([0xEC], "in al, dx", 1),
            ([0x0F, 0x01, 0x15, 0, 0, 0, 0], "lgdt [rip+0x0]    # 0x1007", 7),
            ([0x0F, 0x22, 0xD8], "mov cr3, rax", 3),
            ([0x0F, 0x20, 0xC0], "mov rax, cr0", 3),
            ([0x0F, 0x32], "rdmsr", 2),
            ([0xF3, 0x48, 0xAB], "rep stosq", 3),
            ([0xF3, 0xA6], "repe cmpsb", 2),
            ([0x66, 0x0F, 0xEF, 0xC0], "pxor xmm0, xmm0", 4),
            ([0x0F, 0x28, 0xC1], "movaps xmm0, xmm1", 3),
            ([0xF2, 0x0F, 0x10, 0x45, 0xF8], "movsd xmm0, qword ptr [rbp-0x8]", 5),
            ([0xF3, 0x0F, 0x1E, 0xFA], "endbr64", 4),
            ([0x0F, 0x1F, 0x44, 0x00, 0x00], "nop dword ptr [rax+rax]", 5),
            ([0x66, 0x2E, 0x0F, 0x1F, 0x84, 0x00, 0, 0, 0, 0], "nop word ptr cs:[rax+rax]", 10),
            ([0x0F, 0xB6, 0xC0], "movzx eax, al", 3),
            ([0x48, 0x63, 0xC7], "movsxd rax, edi", 3),
            ([0x0F, 0x05], "syscall", 2),
            ([0x0F, 0xA2], "cpuid", 2),
            ([0x0F, 0xAE, 0x00], "fxsave [rax]", 3),
            ([0xD9, 0xE8], "fld1", 2),
            ([0xF0, 0x48, 0x0F, 0xB1, 0x0A], "lock cmpxchg qword ptr [rdx], rcx", 5),
        ]
        for (bytes, text, len) in cases {
            let d = dis(bytes)
            XCTAssertEqual(d.text, text, "bytes \(bytes.map { String(format: "%02x", $0) })")
            XCTAssertEqual(d.length, len, text)
        }
    }

    func testBranchTargetsAndFlow() {
        let call = dis([0xE8, 0x97, 0xFE, 0xFF, 0xFF], at: 0x107734)
        XCTAssertEqual(call.target, 0x1075D0)
        XCTAssertEqual(call.flow, .call)
        XCTAssertEqual(call.text, "call 0x1075d0")
        let jne = dis([0x0F, 0x85, 0x57, 0x01, 0x00, 0x00], at: 0x108559)
        XCTAssertEqual(jne.target, 0x1086B6)
        XCTAssertEqual(jne.flow, .conditionalJump)
        XCTAssertEqual(dis([0xEB, 0xFE], at: 0x2000).target, 0x2000)
        XCTAssertEqual(dis([0xFF, 0xD0]).flow, .call)           // call rax
        XCTAssertEqual(dis([0xFF, 0x24, 0xC5, 0, 0, 0, 0]).flow, .jump)
        XCTAssertEqual(dis([0xC2, 0x08, 0x00]).flow, .ret)
        XCTAssertEqual(dis([0xCD, 0x80]).flow, .interrupt)
        XCTAssertEqual(dis([0x48, 0xCF]).flow, .interruptReturn)
        let rel = dis([0x48, 0x8B, 0x05, 0x10, 0x00, 0x00, 0x00], at: 0x1000)
        XCTAssertEqual(rel.memoryReference, 0x1017)
        // Symbols on branch targets.
        let named = Disassembler(bits: 64, symbolize: { $0 == 0x1075D0 ? "outb" : nil })
            .decode([0xE8, 0x97, 0xFE, 0xFF, 0xFF], address: 0x107734)
        XCTAssertEqual(named.text, "call 0x1075d0 <outb>")
    }

    func testThirtyTwoAndSixteenBitModes() {
        XCTAssertEqual(dis([0xBC, 0x50, 0x45, 0x10, 0x00], bits: 32).text, "mov esp, 0x104550")
        XCTAssertEqual(dis([0x66, 0xC7, 0x47, 0x02, 0x08, 0x00], bits: 32).text, "mov word ptr [edi+0x2], 0x8")
        XCTAssertEqual(dis([0x66, 0xC7, 0x47, 0x02, 0x08, 0x00], bits: 32).length, 6)
        XCTAssertEqual(dis([0x60], bits: 32).text, "pushad")
        XCTAssertEqual(dis([0x40], bits: 32).text, "inc eax")
        XCTAssertEqual(dis([0xEA, 0x00, 0x10, 0x00, 0x00, 0x08, 0x00], bits: 32).length, 7)
        XCTAssertEqual(dis([0x8B, 0x46, 0x04], bits: 16).text, "mov ax, word ptr [bp+0x4]")
        XCTAssertEqual(dis([0xB8, 0x34, 0x12], bits: 16).length, 3)
        XCTAssertEqual(dis([0x66, 0xB8, 0x78, 0x56, 0x34, 0x12], bits: 16).text, "mov eax, 0x12345678")
        XCTAssertEqual(dis([0xE8, 0x00, 0x01], bits: 16, at: 0x7C00).target, 0x7D03)
    }

    func testBadAndTruncatedInput() {
        XCTAssertEqual(dis([]).length, 0)
        XCTAssertEqual(dis([0x0F]).text, "(bad)")
        XCTAssertEqual(dis([0x48, 0x8B]).length, 1)       // truncated
        XCTAssertEqual(dis([0x06]).text, "(bad)")         // push es is invalid in 64-bit mode
        XCTAssertEqual(dis([0x06], bits: 32).text, "push es")
        XCTAssertEqual(dis([UInt8](repeating: 0x66, count: 20)).text, "(bad)")
        // Random bytes never trap and never claim more than 15 bytes.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20000 {
            let n = Int.random(in: 0...16, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for bits in [16, 32, 64] {
                let d = Disassembler(bits: bits).decode(bytes, address: UInt64.random(in: 0...UInt64.max, using: &rng))
                XCTAssertLessThanOrEqual(d.length, min(15, max(n, 0)))
            }
        }
    }

    /// Every instruction objdump finds in a kernel's code has the same length here.
    func checkAgainstObjdump(_ path: String, bits: Int) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/objdump") else { throw XCTSkip("objdump not installed") }
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) not built") }
        let arch = bits == 64 ? "i386:x86-64" : "i386"
        let r = try Repo.run("/usr/bin/objdump", ["-d", "-M", "intel", "-m", arch, "-j", ".text", path])
        guard r.status == 0 else { throw XCTSkip("objdump failed: \(r.stderr)") }
        let elf = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // Instruction lines: "  10771b:\t41 54                \tpush   r12"
        var checked = 0, mismatches: [String] = []
        var pending: (UInt64, [UInt8], String)? = nil
        func flush() {
            guard let (addr, bytes, text) = pending else { return }
            pending = nil
            if text.hasPrefix("(bad)") || text.hasPrefix(".byte") || text.contains("rex") || text.isEmpty { return }
            let d = Disassembler(bits: bits).decode(bytes + [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], address: addr)
            checked += 1
            if d.length != bytes.count && mismatches.count < 20 {
                mismatches.append(String(format: "%llx", addr) + ": objdump \(bytes.count) '\(text)' vs \(d.length) '\(d.text)'")
            }
        }
        _ = elf
        for line in r.stdout.split(separator: "\n") {
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].hasSuffix(":"),
                  let addr = UInt64(parts[0].dropLast().trimmingCharacters(in: .whitespaces), radix: 16) else { continue }
            let bytes = parts[1].split(separator: " ").compactMap { UInt8($0, radix: 16) }
            if parts.count >= 3 {
                flush()
                pending = (addr, bytes, parts[2].trimmingCharacters(in: .whitespaces))
            } else if pending != nil {
                pending!.1 += bytes   // continuation line of a long instruction
            }
        }
        flush()
        XCTAssertGreaterThan(checked, 10, "no instructions checked in \(path)")
        XCTAssertTrue(mismatches.isEmpty, "length mismatches:\n" + mismatches.joined(separator: "\n"))
    }

    func testLengthsMatchObjdumpOnTheTestKernel() throws {
        try checkAgainstObjdump(try Repo.kernel("irq_pit.elf"), bits: 32)
    }

    func testLengthsMatchObjdumpOnTheBundledGuest() throws {
        let p = Repo.root.appendingPathComponent("build/guest/guest.elf64").path
        guard FileManager.default.fileExists(atPath: p) else {
            throw XCTSkip("build/guest/guest.elf64 does not exist (run `make guest`)")
        }
        try checkAgainstObjdump(p, bits: 64)
    }
}
