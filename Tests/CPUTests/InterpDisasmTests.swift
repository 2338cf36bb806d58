import XCTest
import CPU

final class InterpDisasmTests: XCTestCase {
    /// Assembles each line alone and checks the disassembly text and length.
    func check(_ cases: [(String, String)], bits: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let m = InterpMachine()
        if bits == 64 {
            m.cpu.efer = 0x500
            m.cpu.cr4 = 0x20
            m.cpu.setSegment(.cs, SegmentCache(selector: 8, base: 0, limit: 0xFFFF_FFFF, attributes: 0xA09B))
            m.cpu.cr0 = 0x8000_0011
        } else {
            m.cpu.enterMultiboot(entry: 0x100000, eax: 0, ebx: 0)
        }
        for (src, want) in cases {
            let bytes = try assemble(".code\(bits)\n" + src, base: 0x100000)
            let (text, len) = m.cpu.disassemble(bytes: bytes + [0x90, 0x90], rip: 0x100000)
            XCTAssertEqual(text, want, "for `\(src)`", file: file, line: line)
            XCTAssertEqual(len, bytes.count, "length of `\(src)`", file: file, line: line)
        }
    }

    func testLongModeForms() throws {
        try check([
            ("mov rax, qword ptr [rbx + rcx*8 + 0x10]", "mov rax, qword ptr [rbx + rcx*8 + 0x10]"),
            ("add dword ptr [rip + 0x100], 5", "add dword ptr [rip + 0x100], 0x5  ; 0x100107"),
            ("lock xadd qword ptr [rdi], rax", "lock xadd qword ptr [rdi], rax"),
            ("movzx eax, byte ptr [rsi - 1]", "movzx eax, byte ptr [rsi - 0x1]"),
            ("movsxd rdx, ecx", "movsxd rdx, ecx"),
            ("mov sil, 7", "mov sil, 0x7"),
            ("rep movsb", "rep movsb"),
            ("repne scasb", "repne scasb"),
            ("shl r9, cl", "shl r9, cl"),
            ("cmovne r8d, r10d", "cmovne r8d, r10d"),
            ("mov rax, cr3", "mov rax, cr3"),
            ("lgdt [rax]", "lgdt tbyte ptr [rax]"),
            ("iretq", "iretq"),
            ("swapgs", "swapgs"),
            ("movdqu xmm1, xmmword ptr [rax]", "movdqu xmm1, xmmword ptr [rax]"),
            ("pxor xmm2, xmm3", "pxor xmm2, xmm3"),
            ("movq rax, xmm4", "movq rax, xmm4"),
            ("cvtsi2sd xmm0, rcx", "cvtsi2sd xmm0, rcx"),
            ("mov fs:[0x28], rax", "mov qword ptr fs:[0x28], rax"),
            ("nop dword ptr [rax + rax*1 + 0]", "nop"),
            ("mov rax, 0x1122334455667788", "mov rax, 0x1122334455667788"),
            ("bt eax, 5", "bt eax, 0x5"),
            ("in al, dx", "in al, dx"),
            ("out 0x80, al", "out 0x80, al"),
        ], bits: 64)
    }

    func testProtectedModeForms() throws {
        try check([
            ("mov eax, dword ptr [ebp - 8]", "mov eax, dword ptr [ebp - 0x8]"),
            ("push 0x12345678", "push 0x12345678"),
            ("pushad", "pushad"),
            ("mov ah, bh", "mov ah, bh"),
            ("int 0x80", "int 0x80"),
            ("ljmp 0x08, 0x100000", "jmp far 0x8:0x100000"),
            ("mov ds, ax", "mov ds, ax"),
            ("lidt [0x1000]", "lidt fword ptr [0x1000]"),
            ("imul ecx, edx, 12", "imul ecx, edx, 0xc"),
            ("inc ecx", "inc ecx"),
        ], bits: 32)
    }

    func testDisassembleAtLinearAddress() throws {
        let m = InterpMachine()
        try m.boot32(".code32\nmov eax, 1\nhlt")
        XCTAssertEqual(m.cpu.disassemble(at: 0x100000)?.text, "mov eax, 0x1")
        XCTAssertEqual(m.cpu.disassemble(at: 0x100000)?.length, 5)
        XCTAssertEqual(m.cpu.disassemble(at: 0x100005)?.text, "hlt")
    }
}
