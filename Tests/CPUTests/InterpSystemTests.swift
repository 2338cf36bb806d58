import XCTest
import CPU

extension InterpMachine {
    func read64(_ addr: UInt64) -> UInt64 {
        let b = cpu.readPhysical(addr, count: 8) ?? []
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << UInt64(8 * i) }
        return v
    }
    /// Boots the long-mode prologue followed by `body` (which defines main64).
    func bootLong(_ body: String) throws {
        try boot32(longModePrologue + "\n" + body)
    }
}

final class InterpSystemTests: XCTestCase {

    func testLongModeSwitch() throws {
        let m = InterpMachine()
        m.cpu.reportEvents = true
        try m.bootLong("""
        main64:
            mov rax, 0x123456789
            mov rbx, rax
            shl rbx, 4
            mov ecx, 0xFFFFFFFF
            inc rcx
            mov r9d, -1
            movsxd r10, r9d
            hlt
        """)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.mode, .long64)
        XCTAssertEqual(m.cpu.gpr(.rbx), 0x12_3456_7890)
        XCTAssertEqual(m.cpu.gpr(.rcx), 0x1_0000_0000)
        XCTAssertEqual(m.cpu.gpr(.r9), 0xFFFF_FFFF)
        XCTAssertEqual(m.cpu.gpr(.r10), UInt64.max)
        XCTAssertEqual(m.cpu.efer & 0x500, 0x500)    // LME | LMA
        XCTAssertEqual(m.cpu.cr0 & 0x8000_0001, 0x8000_0001)
        XCTAssertEqual(m.cpu.segment(.cs).selector, 0x08)
        XCTAssertEqual(m.cpu.tr.selector, 0x30)
        let modes = m.bus.events.compactMap { e -> String? in if case .modeChange(let s) = e { return s } else { return nil } }
        XCTAssertTrue(modes.contains("long64"), "\(modes)")
    }

    func testInterruptThroughIST() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            mov rdi, 0x20
            lea rsi, [handler]
            mov edx, 1
            mov ecx, 0x8E
            call set_gate
            lea rbp, [after]
            xor r12, r12
            sti
            hlt
        after:
            mov r13, 0xDEAD
            hlt
        handler:
            mov r14, rsp
            mov r15, [rsp]
            mov rbx, [rsp + 16]      // saved RFLAGS
            inc r12
            iretq
        """)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertTrue(m.cpu.halted)
        // halted with no interrupt: returns at once, retires nothing
        let r = m.cpu.retired
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.retired, r)
        m.bus.vector = 0x20
        m.cpu.setINTR(true)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.bus.acks, 1)
        XCTAssertEqual(m.cpu.gpr(.r12), 1)
        XCTAssertEqual(m.cpu.gpr(.r13), 0xDEAD)
        XCTAssertEqual(m.cpu.gpr(.r14), 0x2E0000 - 40)        // IST1, aligned, SS RSP RFLAGS CS RIP
        XCTAssertEqual(m.cpu.gpr(.r15), m.cpu.gpr(.rbp))
        XCTAssertNotEqual(m.cpu.gpr(.rbx) & 0x200, 0)          // IF was set in the pushed flags
        XCTAssertNotEqual(m.cpu.rflags & 0x200, 0)             // and restored by IRETQ
    }

    func testStiHltShadowKeepsWakeup() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            mov rdi, 0x20
            lea rsi, [handler]
            xor edx, edx
            mov ecx, 0x8E
            call set_gate
            lea rbp, [after]
            sti
            hlt
        after:
            lea rbx, [after2]
            sti
            nop
        after2:
            hlt
        handler:
            mov r12, [rsp]
            inc r13
            iretq
        """)
        // INTR is already high while IF=0 during start-up.
        m.bus.vector = 0x20
        m.bus.dropINTROnAck = true
        m.cpu.setINTR(true)
        XCTAssertEqual(m.run(), .halted)
        // The interrupt was taken after HLT (not between STI and HLT): the
        // return address is the instruction after HLT.
        XCTAssertEqual(m.cpu.gpr(.r13), 1)
        XCTAssertEqual(m.cpu.gpr(.r12), m.cpu.gpr(.rbp))
        // IRETQ restored IF=1; the handler ran with IF=0 (interrupt gate).
        // Second case: sti; nop with INTR high while IF=0 -> taken after nop.
    }

    func testStiShadowOneInstruction() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            mov rdi, 0x20
            lea rsi, [handler]
            xor edx, edx
            mov ecx, 0x8E
            call set_gate
            lea rbp, [after_nop]
            mov al, 1
            out 0x80, al
            sti
            nop
        after_nop:
            nop
            hlt
        handler:
            mov r12, [rsp]
            inc r13
            iretq
        """)
        m.bus.vector = 0x20
        m.bus.onPortWrite = { [unowned m] port, _ in if port == 0x80 { m.cpu.setINTR(true) } }
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.gpr(.r13), 1)
        XCTAssertEqual(m.cpu.gpr(.r12), m.cpu.gpr(.rbp))
    }

    func testPageFaultErrorCodesAndCR2() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            mov rdi, 14
            lea rsi, [pf_handler]
            xor edx, edx
            mov ecx, 0x8E
            call set_gate
            mov rax, cr0
            or rax, 0x10000
            mov cr0, rax
            lea rax, [f1]
            mov [0x310100], rax
            lea rax, [f2]
            mov [0x310108], rax
            // 1: read of a not-present page
            mov qword ptr [0x202010], 0
            invlpg [0x400000]
            mov r8, 0x400123
        f1: mov rax, [r8]
            // 2: write to a read-only page (WP=1)
            mov qword ptr [0x202010], 0x400081
            invlpg [0x400000]
        f2: mov qword ptr [0x400200], 5
            // 3: fetch from an NX page
            mov byte ptr [0x600000], 0xC3
            mov rax, 0x8000000000600083
            mov [0x202018], rax
            invlpg [0x600000]
            mov rax, 0x600000
            call rax
            // 4: user-mode style access is not possible here; reserved bit
            mov rax, 0x0000F00000400083
            mov [0x202010], rax
            invlpg [0x400000]
            mov rax, [0x400008]
            hlt

        pf_handler:
            push rax
            push rbx
            mov rbx, [pf_count]
            imul rbx, rbx, 24
            add rbx, 0x310000
            mov rax, cr2
            mov [rbx], rax
            mov rax, [rsp + 16]
            mov [rbx + 8], rax
            mov rax, [rsp + 24]
            mov [rbx + 16], rax
            inc qword ptr [pf_count]
            mov qword ptr [0x202010], 0x400083
            mov qword ptr [0x202018], 0x600083
            invlpg [0x400000]
            invlpg [0x600000]
            pop rbx
            pop rax
            add rsp, 8
            iretq
        pf_count: .quad 0
        """)
        XCTAssertEqual(m.run(), .halted)
        let f1 = m.read64(0x310100), f2 = m.read64(0x310108)
        func entry(_ i: UInt64) -> (UInt64, UInt64, UInt64) {
            (m.read64(0x310000 + i * 24), m.read64(0x310008 + i * 24), m.read64(0x310010 + i * 24))
        }
        XCTAssertEqual(entry(0).0, 0x400123)
        XCTAssertEqual(entry(0).1, 0)           // not present, read, supervisor
        XCTAssertEqual(entry(0).2, f1)
        XCTAssertEqual(entry(1).0, 0x400200)
        XCTAssertEqual(entry(1).1, 3)           // present, write
        XCTAssertEqual(entry(1).2, f2)
        XCTAssertEqual(entry(2).0, 0x600000)
        XCTAssertEqual(entry(2).1, 0x11)        // present, instruction fetch
        XCTAssertEqual(entry(2).2, 0x600000)
        XCTAssertEqual(entry(3).0, 0x400008)
        XCTAssertEqual(entry(3).1, 0x9)         // present, reserved bit
        XCTAssertEqual(m.cpu.cr2, 0x400008)
        // accessed and dirty bits were set in the restored entry for 0x400000
        XCTAssertEqual(m.read64(0x202010) & 0x60, 0x20)
    }

    func testDivideErrorAndUD() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            mov rdi, 0
            lea rsi, [de_handler]
            xor edx, edx
            mov ecx, 0x8E
            call set_gate
            mov rdi, 6
            lea rsi, [ud_handler]
            xor edx, edx
            mov ecx, 0x8E
            call set_gate
            mov eax, 10
            xor ecx, ecx
            lea rbp, [de1]
        de1:
            div ecx
            mov eax, 0
            mov edx, 0x80000000
            mov ecx, -1
            lea rbx, [de2]
        de2:
            idiv ecx
            lea rsi, [ud1]
        ud1:
            ud2
            hlt
        de_handler:
            inc r12
            mov rax, [rsp]
            cmp r12, 1
            jne 2f
            mov r13, rax
            jmp 3f
        2:  mov r14, rax
        3:  add qword ptr [rsp], 2
            iretq
        ud_handler:
            mov r15, [rsp]
            add qword ptr [rsp], 2
            iretq
        """)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.gpr(.r12), 2)
        XCTAssertEqual(m.cpu.gpr(.r13), m.cpu.gpr(.rbp))
        XCTAssertEqual(m.cpu.gpr(.r14), m.cpu.gpr(.rbx))
        XCTAssertEqual(m.cpu.gpr(.r15), m.cpu.gpr(.rsi))
    }

    func testDoubleFault() throws {
        let m = InterpMachine()
        m.cpu.reportEvents = true
        try m.bootLong("""
        main64:
            mov rdi, 8
            lea rsi, [df_handler]
            mov edx, 2
            mov ecx, 0x8E
            call set_gate
            mov rdi, 13
            lea rsi, [df_handler]
            xor edx, edx
            mov ecx, 0x0E           // interrupt gate, not present
            call set_gate
            // #GP's gate is not present -> #NP while delivering #GP -> #DF
            mov ax, 0x1234
            mov ds, ax
            hlt
        df_handler:
            mov r12, [rsp]        // error code
            mov r13, rsp
            mov r14, 0xDF
            hlt
        """)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.gpr(.r14), 0xDF)
        XCTAssertEqual(m.cpu.gpr(.r12), 0)
        XCTAssertEqual(m.cpu.gpr(.r13), 0x2D0000 - 48)   // IST2
        let df = m.bus.events.contains { if case .doubleFault(13, 11) = $0 { return true } else { return false } }
        XCTAssertTrue(df, "\(m.bus.events)")
    }

    func testTripleFault() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            lidt [empty_idt]
            int3
            hlt
        empty_idt:
            .word 0
            .quad 0
        """)
        let stop = m.run()
        guard case .tripleFault = stop else { return XCTFail("\(stop)") }
        // stays stopped until reset
        guard case .tripleFault = m.cpu.run() else { return XCTFail("not stopped") }
        m.cpu.reset()
        XCTAssertEqual(m.cpu.mode, .real)
        XCTAssertEqual(m.cpu.rip, 0xFFF0)
    }

    func testSelfModifyingCode() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            xor ebx, ebx
            mov ecx, 3
        top:
        patch:
            add ebx, 1
            mov byte ptr [patch + 2], 10
            dec ecx
            jnz top
            mov ecx, 2
        top2:
            mov byte ptr [next + 1], 0x42
        next:
            mov al, 0x11
            movzx edx, al
            mov byte ptr [next + 1], 0x11
            dec ecx
            jnz top2
            hlt
        """)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.gpr(.rbx), 21)
        XCTAssertEqual(m.cpu.gpr(.rdx), 0x42)
    }

    /// Stores that rewrite code further ahead in the straight-line run being
    /// executed (one decoded block): a plain store several instructions
    /// ahead, and a REP STOSB that turns the following instructions into
    /// NOPs. The rewritten instructions run, not their cached decodings.
    func testStoresAheadInTheRunningBlock() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            xor ebx, ebx
            xor edx, edx
            mov byte ptr [ahead + 2], 5
            add ebx, 1
            add ebx, 1
        ahead:
            add ebx, 100
            lea rdi, [nops]
            mov ecx, 5
            mov al, 0x90
            rep stosb
        nops:
            mov edx, 0xdead
            add ebx, 1000
            hlt
        """)
        XCTAssertEqual(m.run(), .halted)
        // Five NOPs replace `mov edx, 0xdead` (BA imm32); `add ebx, 100`
        // became `add ebx, 5`.
        XCTAssertEqual(m.cpu.gpr(.rdx), 0)
        XCTAssertEqual(m.cpu.gpr(.rbx), 1007)
    }

    func testExternalWriteInvalidatesCode() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            lea rax, [probe]
            mov [0x390000], rax
            mov ecx, 2
            xor r12, r12
        probe:
            mov ebx, 7
            add r12, rbx
            out 0x80, al
            dec ecx
            jnz probe
            hlt
        """)
        var patched = false
        m.bus.onPortWrite = { [unowned m] port, _ in
            if port == 0x80 && !patched {
                patched = true
                // patch the already-decoded instruction from outside
                XCTAssertTrue(m.cpu.writePhysical(m.read64(0x390000) + 1, [9]))
            }
        }
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.gpr(.r12), 16)
    }

    func testRepMovsAndStos() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            cld
            mov rdi, 0x320000
            mov al, 0xAB
            mov ecx, 5000
            rep stosb
            mov byte ptr [0x320000 + 4999], 0x77
            mov rsi, 0x320000
            mov rdi, 0x330003
            mov ecx, 5000
            rep movsb
            mov rsi, 0x320000
            mov rdi, 0x340000
            mov ecx, 625
            rep movsq
            mov byte ptr [0x350000], 0x5A
            mov rsi, 0x350000
            mov rdi, 0x350001
            mov ecx, 100
            rep movsb
            // backwards dword copy
            std
            mov dword ptr [0x360000], 0x11111111
            mov dword ptr [0x360004], 0x22222222
            mov rsi, 0x360004
            mov rdi, 0x360104
            mov ecx, 2
            rep movsd
            cld
            // zero count does nothing
            xor ecx, ecx
            rep stosb
            hlt
        """)
        XCTAssertEqual(m.run(), .halted)
        let a = m.cpu.readPhysical(0x330003, count: 5000)!
        XCTAssertEqual(a[0], 0xAB)
        XCTAssertEqual(a[4998], 0xAB)
        XCTAssertEqual(a[4999], 0x77)
        XCTAssertEqual(m.cpu.readPhysical(0x330002, count: 1)!, [0])
        XCTAssertEqual(m.cpu.readPhysical(0x330003 + 5000, count: 1)!, [0])
        XCTAssertEqual(m.cpu.readPhysical(0x340000 + 4999, count: 1)!, [0x77])
        XCTAssertEqual(m.cpu.readPhysical(0x350000, count: 101)!, [UInt8](repeating: 0x5A, count: 101))
        XCTAssertEqual(m.read64(0x360100), 0x2222_2222_1111_1111)
        XCTAssertEqual(m.cpu.gpr(.rsi), 0x35FFFC)
        XCTAssertEqual(m.cpu.gpr(.rdi), 0x3600FC)
    }

    func testRepCountsEachIterationAndRestarts() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            mov eax, 1
            out 0x80, al
            mov rdi, 0x320000
            mov ecx, 1000
            rep stosb
            hlt
        """)
        var outAt: UInt64 = 0
        m.bus.onPortWrite = { [unowned m] _, _ in outAt = m.cpu.retired }
        XCTAssertEqual(m.run(), .halted)
        let total = m.cpu.retired - outAt   // out retires after the callback; +mov +mov +1000 +hlt
        XCTAssertEqual(total, 1 + 1 + 1 + 1000 + 1)
        // now stop in the middle of the REP
        let m2 = InterpMachine()
        try m2.bootLong("""
        main64:
            mov eax, 1
            out 0x80, al
            mov rdi, 0x320000
            mov ecx, 1000
            mov al, 0xCD
            rep stosb
            hlt
        """)
        var at: UInt64 = 0
        m2.bus.onPortWrite = { [unowned m2] _, _ in at = m2.cpu.retired }
        m2.cpu.stopAt = 1_000_000
        _ = m2.cpu.run()
        XCTAssertNotEqual(at, 0)
        let m3 = InterpMachine()
        try m3.bootLong("""
        main64:
            mov eax, 1
            out 0x80, al
            mov rdi, 0x320000
            mov ecx, 1000
            mov al, 0xCD
            rep stosb
            hlt
        """)
        // out retires at `at`+1; then mov, mov, mov: REP starts at at+4
        m3.cpu.stopAt = at + 4 + 300
        XCTAssertEqual(m3.cpu.run(), .limit)
        XCTAssertEqual(m3.cpu.retired, at + 4 + 300)
        XCTAssertEqual(m3.cpu.gpr(.rcx), 700)
        XCTAssertEqual(m3.cpu.gpr(.rdi), 0x320000 + 300)
        XCTAssertEqual(m3.run(), .halted)
        XCTAssertEqual(m3.cpu.gpr(.rcx), 0)
        XCTAssertEqual(m3.cpu.readPhysical(0x320000 + 999, count: 2)!, [0xCD, 0])
    }

    func testSSEMoves() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            mov rdi, 13
            lea rsi, [gp_handler]
            xor edx, edx
            mov ecx, 0x8E
            call set_gate
            lea rax, [data]
            movdqu xmm0, [rax]
            movaps xmm1, xmm0
            pxor xmm2, xmm2
            pcmpeqb xmm2, xmm0
            pmovmskb ecx, xmm2
            movq rdx, xmm0
            movaps [0x370000], xmm1
            movdqu xmm5, [rax + 1]
            mov eax, 7
            cvtsi2sd xmm3, eax
            mov eax, 2
            cvtsi2sd xmm4, eax
            divsd xmm3, xmm4
            cvttsd2si r8, xmm3
            sqrtsd xmm6, xmm4
            mulsd xmm6, xmm6
            cvtsd2si r9, xmm6
            ucomisd xmm3, xmm4
            seta r10b
            pshufd xmm7, xmm0, 0x1B
            // misaligned MOVAPS -> #GP
            lea rax, [data + 4]
        bad:
            movaps xmm8, [rax]
            hlt
        gp_handler:
            mov r11, [rsp + 8]
            mov r12, [rsp]
            add qword ptr [rsp + 8], 4
            add rsp, 8
            iretq
        .balign 16
        data: .byte 1,2,3,0,5,6,7,8,0,10,11,12,13,14,15,0, 16, 0, 0, 0
        """)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.gpr(.rcx), 0x8108)
        XCTAssertEqual(m.cpu.gpr(.rdx), 0x0807_0605_0003_0201)
        XCTAssertEqual(m.cpu.xmm(1).0, 0x0807_0605_0003_0201)
        XCTAssertEqual(m.cpu.xmm(1).1, 0x000F_0E0D_0C0B_0A00)
        XCTAssertEqual(m.read64(0x370008), 0x000F_0E0D_0C0B_0A00)
        XCTAssertEqual(m.cpu.xmm(5).0, 0x0008_0706_0500_0302)
        XCTAssertEqual(m.cpu.gpr(.r8), 3)
        XCTAssertEqual(m.cpu.gpr(.r9), 2)
        XCTAssertEqual(m.cpu.gpr(.r10) & 0xFF, 1)
        XCTAssertEqual(m.cpu.xmm(7).0, 0x0C0B_0A00_000F_0E0D)
        XCTAssertEqual(m.cpu.gpr(.r12), 0)          // #GP(0)
        XCTAssertNotEqual(m.cpu.gpr(.r11), 0)
    }

    func testUserModeRoundTrip() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            mov rdi, 0x80
            lea rsi, [syscall_handler]
            xor edx, edx
            mov ecx, 0xEE           // DPL 3 interrupt gate
            call set_gate
            mov rdi, 13
            lea rsi, [gp_handler]
            xor edx, edx
            mov ecx, 0x8E
            call set_gate
            // user pages: set U/S in the page tables
            or qword ptr [0x200000], 4
            or qword ptr [0x201000], 4
            or qword ptr [0x202000], 4
            mov rax, cr3
            mov cr3, rax
            push 0x23               // SS
            push 0x280000           // RSP
            pushfq
            push 0x2B               // CS
            lea rax, [user]
            push rax
            iretq
        user:
            mov rbx, 0x55
            int 0x80
            mov r13, rbx
            hlt                     // #GP at CPL 3
        syscall_handler:
            mov r8, rsp
            mov r9, [rsp + 8]       // CS
            mov r10, [rsp + 32]     // SS
            mov rbx, 0x66
            iretq
        gp_handler:
            mov r14, [rsp]          // error code
            mov r15, [rsp + 16]     // CS
            mov rax, 0xAA
            hlt
        """)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.gpr(.rax), 0xAA)
        XCTAssertEqual(m.cpu.gpr(.r8), 0x2F0000 - 40)   // RSP0
        XCTAssertEqual(m.cpu.gpr(.r9), 0x2B)
        XCTAssertEqual(m.cpu.gpr(.r10), 0x23)
        XCTAssertEqual(m.cpu.gpr(.r13), 0x66)
        XCTAssertEqual(m.cpu.gpr(.r14), 0)
        XCTAssertEqual(m.cpu.gpr(.r15), 0x2B)
        XCTAssertEqual(m.cpu.segment(.cs).selector, 0x08)
    }

    func testBreakpointsAndWatchpoints() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            mov eax, 1
            out 0x80, al
            mov ecx, 5
        1:  inc ebx
        bp: dec ecx
            jnz 1b
            mov qword ptr [0x380000], 1
            mov rax, [0x380008]
            hlt
        """)
        var bpAddr: UInt64 = 0
        m.bus.onPortWrite = { [unowned m] _, _ in bpAddr = m.cpu.rip + 7 }   // mov ecx (5) + inc ebx (2)
        m.cpu.stopAt = 1_000_000
        // find `bp` by running to the OUT first
        m.cpu.breakpoints = []
        XCTAssertEqual(m.cpu.run(), .halted)
        XCTAssertNotEqual(bpAddr, 0)
        let m2 = InterpMachine()
        try m2.bootLong("""
        main64:
            mov eax, 1
            out 0x80, al
            mov ecx, 5
        1:  inc ebx
        bp: dec ecx
            jnz 1b
            mov qword ptr [0x380000], 1
            mov rax, [0x380008]
            hlt
        """)
        m2.cpu.breakpoints = [bpAddr]
        m2.cpu.stopAt = 1_000_000
        XCTAssertEqual(m2.cpu.run(), .breakpoint)
        XCTAssertEqual(m2.cpu.rip, bpAddr)
        XCTAssertEqual(m2.cpu.gpr(.rcx), 5)
        XCTAssertEqual(m2.cpu.run(), .breakpoint)
        XCTAssertEqual(m2.cpu.gpr(.rcx), 4)
        m2.cpu.breakpoints = []
        m2.cpu.watchpoints = [(start: 0x380000, length: 8, read: false)]
        XCTAssertEqual(m2.cpu.run(), .breakpoint)
        XCTAssertEqual(m2.cpu.lastWatchHit, 0x380000)
        XCTAssertEqual(m2.read64(0x380000), 1)
        m2.cpu.watchpoints = [(start: 0x380008, length: 8, read: true)]
        XCTAssertEqual(m2.cpu.run(), .breakpoint)
        XCTAssertEqual(m2.cpu.lastWatchHit, 0x380008)
        m2.cpu.watchpoints = []
        XCTAssertEqual(m2.cpu.run(), .halted)
    }

    func testProtected32PagingAndInterrupts() throws {
        let m = InterpMachine()
        try m.boot32("""
        .code32
            lgdt [gdt_ptr]
            .byte 0xEA
            .long reload
            .word 0x08
        reload:
            mov ax, 0x10
            mov ds, ax
            mov ss, ax
            mov es, ax
            mov esp, 0x300000
            // IDT gate 14 (#PF) and 0x30 (INT 0x30)
            lea eax, [pf]
            mov word ptr [idt + 14*8], ax
            mov word ptr [idt + 14*8 + 2], 0x08
            mov word ptr [idt + 14*8 + 4], 0x8E00
            shr eax, 16
            mov word ptr [idt + 14*8 + 6], ax
            lea eax, [soft]
            mov word ptr [idt + 0x30*8], ax
            mov word ptr [idt + 0x30*8 + 2], 0x08
            mov word ptr [idt + 0x30*8 + 4], 0x8F00
            shr eax, 16
            mov word ptr [idt + 0x30*8 + 6], ax
            lidt [idt_ptr]
            // page directory at 0x200000: 4 MiB pages (PSE) for 0-8 MiB,
            // and a 4 KiB table for 0xC0000000 mapping 0x301000
            mov dword ptr [0x200000], 0x83
            mov dword ptr [0x200004], 0x400083
            mov dword ptr [0x200000 + 0x300*4], 0x201003
            mov dword ptr [0x201000], 0x301003
            mov eax, cr4
            or eax, 0x10
            mov cr4, eax
            mov eax, 0x200000
            mov cr3, eax
            mov eax, cr0
            or eax, 0x80000000
            mov cr0, eax
            mov dword ptr [0xC0000010], 0xCAFE
            mov ebx, [0x301010]
            mov ecx, [0xC0001000]       // not present -> #PF
            int 0x30
            hlt
        pf:
            mov esi, cr2
            mov edi, [esp]
            add dword ptr [esp + 4], 6
            add esp, 4
            iretd
        soft:
            mov edx, 0x30
            iretd
        .balign 8
        gdt:
            .quad 0
            .quad 0x00CF9A000000FFFF
            .quad 0x00CF92000000FFFF
        gdt_ptr:
            .word 23
            .long gdt
        .balign 8
        idt:
            .fill 256 * 8, 1, 0
        idt_ptr:
            .word 256 * 8 - 1
            .long idt
        """)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.mode, .protected32)
        XCTAssertEqual(m.cpu.gpr(.rbx), 0xCAFE)
        XCTAssertEqual(m.cpu.gpr(.rsi), 0xC000_1000)
        XCTAssertEqual(m.cpu.gpr(.rdi), 0)
        XCTAssertEqual(m.cpu.gpr(.rdx), 0x30)
        XCTAssertEqual(m.cpu.translate(linear: 0xC000_0010), 0x301010)
        XCTAssertNil(m.cpu.translate(linear: 0xC000_1000))
        // dirty bit set in the PTE
        XCTAssertEqual((m.cpu.readPhysical(0x201000, count: 1)![0]) & 0x60, 0x60)
    }

    func testRealModeBasics() throws {
        let m = InterpMachine()
        let code = try assemble("""
        .code16
            mov ax, 0x1234
            mov bx, 0x0011
            add ax, bx
            mov ds, ax
            mov word ptr [0x10], 0xBEEF
            push ax
            pop cx
            hlt
        """, base: 0x7C00)
        m.load(code, at: 0x7C00)
        m.cpu.reset()
        m.cpu.setSegment(.cs, SegmentCache(selector: 0, base: 0, limit: 0xFFFF, attributes: 0x9B))
        m.cpu.rip = 0x7C00
        m.cpu.setGPR(.rsp, 0x7000)
        XCTAssertEqual(m.cpu.mode, .real)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.gpr(.rax), 0x1245)
        XCTAssertEqual(m.cpu.gpr(.rcx), 0x1245)
        XCTAssertEqual(m.cpu.readPhysical(0x12450 + 0x10, count: 2)!, [0xEF, 0xBE])
    }

    func testSingleStepTrap() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            mov rdi, 1
            lea rsi, [db_handler]
            xor edx, edx
            mov ecx, 0x8E
            call set_gate
            lea rbp, [i1]
            xor ebx, ebx
            pushfq
            or qword ptr [rsp], 0x100
            popfq
        i0: nop
        i1: inc rbx
        i2: inc rbx
        i3: inc rbx
            inc rbx
            hlt
        db_handler:
            inc r12
            mov rax, [rsp]
            mov [0x310000 + r12*8], rax
            cmp r12, 3
            jne 1f
            and qword ptr [rsp + 16], ~0x100
        1:  iretq
        """)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.gpr(.r12), 3)
        XCTAssertEqual(m.cpu.gpr(.rbx), 4)
        let i1 = m.cpu.gpr(.rbp)
        XCTAssertEqual(m.read64(0x310008), i1)          // after the NOP
        XCTAssertEqual(m.read64(0x310010), i1 + 3)      // after inc rbx (3 bytes)
        XCTAssertEqual(m.read64(0x310018), i1 + 6)
        XCTAssertEqual(m.cpu.rflags & 0x100, 0)
    }

    func testSyscallSysretAndCompatMode() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            // STAR: kernel CS 0x08 (SS 0x10); user base 0x18: SYSRET64 CS=0x28|3, SS=0x20|3
            mov ecx, 0xC0000081
            xor eax, eax
            mov edx, 0x00180008
            wrmsr
            mov ecx, 0xC0000082
            lea rax, [kentry]
            mov rdx, rax
            shr rdx, 32
            wrmsr
            mov ecx, 0xC0000084
            mov eax, 0x200          // SFMASK clears IF
            xor edx, edx
            wrmsr
            or qword ptr [0x200000], 4
            or qword ptr [0x201000], 4
            or qword ptr [0x202000], 4
            mov rax, cr3
            mov cr3, rax
            lea rcx, [user]
            mov r11, 0x202
            mov rsp, 0x280000
            sysretq
        user:
            mov r12, 0x77
            syscall
            // back in user mode after sysret: far return to 32-bit compat code is
            // not allowed at CPL3 with a DPL0 segment, so just record and trap
            mov r14, rsp
            int3
        kentry:
            mov r13, rcx            // return RIP
            mov r15, r11            // user RFLAGS
            mov rbx, cs
            mov rbp, ss
            sysretq
        """)
        // int3 has no gate -> #GP -> no gate -> #DF -> no gate -> triple fault
        let stop = m.run()
        guard case .tripleFault = stop else { return XCTFail("\(stop)") }
        XCTAssertEqual(m.cpu.gpr(.r12), 0x77)
        XCTAssertEqual(m.cpu.gpr(.rbx), 0x08)
        XCTAssertEqual(m.cpu.gpr(.rbp), 0x10)
        XCTAssertEqual(m.cpu.gpr(.r15) & 0x202, 0x202)
        XCTAssertEqual(m.cpu.gpr(.r14), 0x280000)
        XCTAssertEqual(m.cpu.segment(.cs).selector, 0x2B)
        XCTAssertEqual(m.cpu.segment(.ss).selector, 0x23)
    }

    func testFarReturnToCompatibilityModeAndBack() throws {
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            mov rdi, 0x21
            lea rsi, [irq]
            xor edx, edx
            mov ecx, 0x8E
            call set_gate
            // to 32-bit compatibility code through RETF (selector 0x18)
            push 0x18
            lea rax, [compat]
            push rax
            retfq
        .code32
        compat:
            mov eax, 0xFFFFFFFF
            inc eax                     // 32-bit wrap in compat mode
            mov esi, eax
            int 0x21                    // through the 64-bit IDT and back with IRETQ
            mov ebx, 0xC0FFEE
            // back to 64-bit code through a far jump through memory
            jmp fword ptr [farptr]
        .code64
        back64:
            mov r13, 0x64
            hlt
        irq:
            mov r12, [rsp + 8]          // CS of the interrupted code
            mov r14, rsp
            iretq
        farptr:
            .long back64
            .word 0x08
        """)
        XCTAssertEqual(m.run(), .halted)
        XCTAssertEqual(m.cpu.gpr(.rsi), 0)
        XCTAssertEqual(m.cpu.gpr(.r12), 0x18)
        XCTAssertEqual(m.cpu.gpr(.rbx), 0xC0FFEE)
        XCTAssertEqual(m.cpu.gpr(.r13), 0x64)
        XCTAssertEqual(m.cpu.gpr(.r14) & 0xF, 8)        // 16-aligned frame of 5 qwords
        XCTAssertEqual(m.cpu.mode, .long64)
    }

    func testProtected32RingTransitions() throws {
        let m = InterpMachine()
        try m.boot32("""
        .code32
            lgdt [gdt_ptr]
            .byte 0xEA
            .long reload
            .word 0x08
        reload:
            mov ax, 0x10
            mov ds, ax
            mov ss, ax
            mov es, ax
            mov esp, 0x300000
            // TSS at tss: ESP0/SS0
            lea eax, [tss]
            mov word ptr [gdt + 0x28 + 2], ax
            shr eax, 16
            mov byte ptr [gdt + 0x28 + 4], al
            mov byte ptr [gdt + 0x28 + 7], ah
            mov ax, 0x28
            ltr ax
            // INT 0x80 gate, DPL 3
            lea eax, [syscall_handler]
            mov word ptr [idt + 0x80*8], ax
            mov word ptr [idt + 0x80*8 + 2], 0x08
            mov word ptr [idt + 0x80*8 + 4], 0xEE00
            shr eax, 16
            mov word ptr [idt + 0x80*8 + 6], ax
            lidt [idt_ptr]
            // to ring 3
            push 0x23
            push 0x2F0000
            pushfd
            push 0x1B
            lea eax, [user]
            push eax
            iretd
        user:
            mov ax, 0x23
            mov ds, ax
            mov ebx, 0x11
            int 0x80
            mov edi, ebx
            cli                         // CPL3 > IOPL -> #GP -> no gate -> #DF -> triple
        syscall_handler:
            mov esi, esp
            mov ecx, [esp + 4]          // user CS
            mov edx, [esp + 16]         // user SS
            mov ebx, 0x22
            iretd
        .balign 8
        gdt:
            .quad 0
            .quad 0x00CF9A000000FFFF    // 0x08 ring-0 code
            .quad 0x00CF92000000FFFF    // 0x10 ring-0 data
            .quad 0x00CFFA000000FFFF    // 0x18 ring-3 code
            .quad 0x00CFF2000000FFFF    // 0x20 ring-3 data
            .quad 0x0000890000000067    // 0x28 TSS
        gdt_ptr:
            .word 0x2F
            .long gdt
        .balign 8
        idt:
            .fill 256 * 8, 1, 0
        idt_ptr:
            .word 256 * 8 - 1
            .long idt
        tss:
            .long 0, 0x2E0000, 0x10
            .fill 0x5C, 1, 0
        """)
        let stop = m.run()
        guard case .tripleFault = stop else { return XCTFail("\(stop)") }
        XCTAssertEqual(m.cpu.gpr(.rsi), 0x2E0000 - 20)
        XCTAssertEqual(m.cpu.gpr(.rcx), 0x1B)
        XCTAssertEqual(m.cpu.gpr(.rdx), 0x23)
        XCTAssertEqual(m.cpu.gpr(.rdi), 0x22)
        XCTAssertEqual(m.cpu.segment(.cs).selector, 0x1B)
        XCTAssertEqual(m.cpu.segment(.ds).selector, 0x23)
    }
}
