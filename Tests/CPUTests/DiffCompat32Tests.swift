// 32-bit code (compatibility mode: a 32-bit code segment under long mode) on
// both sides: the host far-jumps to its 32-bit user code segment, the
// interpreter runs with CS = a 32-bit code descriptor. Covers what only
// exists or differs in 32-bit code: the one-byte INC/DEC (40-4F), the BCD
// adjustments DAA DAS AAA AAS AAM AAD, ARPL, 16-bit addressing (through
// LEA), 32-bit addressing of memory, strings and LOOP on ESI/EDI/ECX, and a
// sample of ordinary instructions decoded as 32-bit code. Only the low 32
// bits of the general registers are compared.
//
// Flags (SDM): DAA/DAS: OF undefined. AAA/AAS: OF SF ZF PF undefined.
// AAM/AAD: OF AF CF undefined. ARPL: ZF only.

import CHostExec
import XCTest

final class DiffCompat32Tests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }
    typealias F = DiffForms

    override func setUpWithError() throws {
        try XCTSkipUnless(hostexec_compat32_available() == 1, "the host cannot run 32-bit code")
        try XCTSkipUnless(R.hostMemLow, "host data window is not below 2 GiB")
    }

    static func spec(_ w: Int = 32, defined: @escaping (DiffCase, hostexec_state) -> Defined = { _, _ in Defined() },
                     gen: ((inout DiffRng, inout DiffCase) -> Void)? = nil) -> DiffSpec {
        var s = DiffSpec(width: w, gen: gen, defined: defined)
        s.compat32 = true
        return s
    }

    /// AL, AF and CF from the case index (all 1024 combinations), AH random.
    static func genALFlags(_ rng: inout DiffRng, _ c: inout DiffCase) {
        let i = c.index
        c[0] = (c[0] & ~0xFF) | UInt64(i & 0xFF)
        c.flags = (c.flags & ~(Fl.af | Fl.cf)) | (i & 0x100 != 0 ? Fl.af : 0) | (i & 0x200 != 0 ? Fl.cf : 0)
    }

    func testBCD() {
        let forms: [(String, [UInt8], UInt64)] = [
            ("daa", [0x27], Fl.of), ("das", [0x2F], Fl.of),
            ("aaa", [0x37], Fl.of | Fl.sf | Fl.zf | Fl.pf), ("aas", [0x3F], Fl.of | Fl.sf | Fl.zf | Fl.pf),
        ]
        for (name, code, undefined) in forms {
            R.run("compat32 \(name)", [DiffVariant(name: name, code: code, cases: 1024 * 3, show: [0])],
                  Self.spec(defined: { _, _ in .except(undefined) }, gen: Self.genALFlags))
        }
        for base: UInt8 in [10, 16, 1, 7, 255] {
            R.run("compat32 aam", [DiffVariant(name: "aam \(base)", code: [0xD4, base], cases: 1024, show: [0])],
                  Self.spec(defined: { _, _ in .except(Fl.of | Fl.af | Fl.cf) }, gen: Self.genALFlags))
        }
        for base: UInt8 in [10, 16, 0, 1, 255] {
            R.run("compat32 aad", [DiffVariant(name: "aad \(base)", code: [0xD5, base], cases: 1024, show: [0])],
                  Self.spec(defined: { _, _ in .except(Fl.of | Fl.af | Fl.cf) }, gen: Self.genALFlags))
        }
        // AAM 0 divides by zero: #DE (interpreter only; the host's SIGFPE is
        // checked by the oracle tests).
        var s = Self.spec()
        s.fault = { _ in 0 }
        R.run("compat32 aam 0", [DiffVariant(name: "aam 0", code: [0xD4, 0x00], cases: 50, show: [0])], s)
    }

    func testIncDecOneByte() {
        var vs: [DiffVariant] = []
        for r in 0..<8 where r != 4 {
            for (name, op) in [("inc", UInt8(0x40)), ("dec", 0x48)] {
                vs.append(DiffVariant(name: "\(name) \(DiffEnc.regName(r, width: 32))", code: [op + UInt8(r)], cases: 400, show: [r]))
                vs.append(DiffVariant(name: "\(name) \(DiffEnc.regName(r, width: 16))", code: [0x66, op + UInt8(r)], cases: 400, show: [r]))
            }
        }
        R.run("compat32 inc/dec", vs, Self.spec())
    }

    func testARPL() {
        R.run("compat32 arpl", [DiffVariant(name: "arpl ax, cx", code: [0x63, 0xC8], cases: 600, show: [0, 1]),
                                DiffVariant(name: "arpl bx, bx", code: [0x63, 0xDB], cases: 100, show: [3])],
              Self.spec(16))
    }

    func testSample() {
        let forms: [(String, [UInt8], Int, (DiffCase, hostexec_state) -> Defined)] = [
            ("add eax, ecx", [0x01, 0xC8], 32, { _, _ in Defined() }),
            ("add ax, cx", [0x66, 0x01, 0xC8], 16, { _, _ in Defined() }),
            ("add al, ah", [0x00, 0xE0], 8, { _, _ in Defined() }),
            ("sbb edx, -128", [0x83, 0xDA, 0x80], 32, { _, _ in Defined() }),
            ("xor esi, edi", [0x31, 0xFE], 32, { _, _ in .except(Fl.af) }),
            ("mul ecx", [0xF7, 0xE1], 32, DiffMulDivTests.mulDefined),
            ("imul eax, ecx, 0x12345", [0x69, 0xC1, 0x45, 0x23, 0x01, 0x00], 32, DiffMulDivTests.mulDefined),
            ("shl eax, cl", [0xD3, 0xE0], 32, { c, _ in DiffShiftTests.shiftDefined(4, 32, c[1] & 0xFF) }),
            ("rcr bx, cl", [0x66, 0xD3, 0xDB], 16, { c, _ in DiffShiftTests.shiftDefined(3, 16, c[1] & 0xFF) }),
            ("shld eax, edx, cl", [0x0F, 0xA5, 0xD0], 32, { c, _ in DiffShiftTests.doubleDefined(32, c[1] & 0xFF, dest: 0) }),
            ("bsf ecx, edx", [0x0F, 0xBC, 0xCA], 32, { c, _ in DiffBitTests.bsDefined(c[2] & 0xFFFF_FFFF, 1) }),
            ("bt eax, ecx", [0x0F, 0xA3, 0xC8], 32, DiffBitTests.btDefined),
            ("movsx eax, bh", [0x0F, 0xBE, 0xC7], 32, { _, _ in Defined() }),
            ("movzx edi, si", [0x0F, 0xB7, 0xFE], 32, { _, _ in Defined() }),
            ("cmovl eax, ebx", [0x0F, 0x4C, 0xC3], 32, { _, _ in Defined() }),
            ("setbe dh", [0x0F, 0x96, 0xC6], 8, { _, _ in Defined() }),
            ("xchg eax, ebp", [0x95], 32, { _, _ in Defined() }),
            ("cdq", [0x99], 32, { _, _ in Defined() }),
            ("cwde", [0x98], 16, { _, _ in Defined() }),
            ("bswap edx", [0x0F, 0xCA], 32, { _, _ in Defined() }),
            ("neg cx", [0x66, 0xF7, 0xD9], 16, { _, _ in Defined() }),
            ("xadd ebx, esi", [0x0F, 0xC1, 0xF3], 32, { _, _ in Defined() }),
            ("cmpxchg ecx, edx", [0x0F, 0xB1, 0xD1], 32, { _, _ in Defined() }),
            ("jz +1; inc eax", [0x74, 0x01, 0x40], 32, { _, _ in Defined() }),
            ("loop +1; inc eax", [0xE2, 0x01, 0x40], 32, { _, _ in Defined() }),
            ("jecxz +1; inc eax", [0xE3, 0x01, 0x40], 32, { _, _ in Defined() }),
            ("lea eax, [eax+ecx*2+5]", [0x8D, 0x44, 0x48, 0x05], 32, { _, _ in Defined() }),
        ]
        for (name, code, w, defined) in forms {
            R.run("compat32 sample", [DiffVariant(name: name, code: code, cases: 500, show: [0, 1, 2, 3, 6, 7])],
                  Self.spec(w, defined: defined, gen: { rng, c in
                      if rng.coin() { c[1] = UInt64(rng.below(70)) }  // counts
                  }))
        }
    }

    /// LEA with a 67 prefix: 16-bit effective addresses ([bx+si], [bp+disp],
    /// [disp16]) wrap at 64 KiB; no memory is touched.
    func testSixteenBitAddressing() {
        var vs: [DiffVariant] = []
        for rm in 0..<8 {
            for (mod, disp) in [(0, [UInt8]()), (1, [0xF0]), (2, [0x34, 0x92])] {
                if mod == 0 && rm == 6 { continue }  // [disp16], below
                let modrm = UInt8(mod << 6) | UInt8(rm)
                vs.append(DiffVariant(name: "lea eax, 16-bit rm\(rm) mod\(mod)", code: [0x67, 0x8D, modrm] + disp, cases: 200, show: [0, 3, 5, 6, 7]))
                vs.append(DiffVariant(name: "lea ax, 16-bit rm\(rm) mod\(mod)", code: [0x66, 0x67, 0x8D, modrm] + disp, cases: 200, show: [0, 3, 5, 6, 7]))
            }
        }
        vs.append(DiffVariant(name: "lea edx, [0x8765] (16-bit)", code: [0x67, 0x8D, 0x16, 0x65, 0x87], cases: 100, show: [2]))
        R.run("compat32 lea16", vs, Self.spec())
    }

    func testMemoryAndStrings() {
        func mem(_ name: String, _ code: [UInt8], _ w: Int, ptrs: [Int], steps: Int = 4,
                 gen: @escaping (inout DiffRng, inout DiffCase) -> Void) {
            var s = Self.spec(w, gen: gen)
            s.memory = true
            s.dataPtrs = ptrs
            s.maxSteps = steps
            R.run("compat32 mem", [DiffVariant(name: name, code: code, cases: 400, show: [0, 1, 3, 6, 7])], s)
        }
        mem("add [ebx], eax", [0x01, 0x03], 32, ptrs: [3]) { _, c in c[3] = UInt64(F.memOff) }
        mem("mov eax, [ebx+esi*4+8]", [0x8B, 0x44, 0xB3, 0x08], 32, ptrs: [3]) { rng, c in
            c[6] = UInt64(rng.below(64))
            c[3] = UInt64(1024)
        }
        mem("inc word [ebx-2]", [0x66, 0xFF, 0x43, 0xFE], 16, ptrs: [3]) { _, c in c[3] = UInt64(F.memOff + 2) }
        mem("xchg [edi], cl", [0x86, 0x0F], 8, ptrs: [7]) { _, c in c[7] = UInt64(F.memOff) }
        for (name, code, kind): (String, [UInt8], DiffStringTests.Kind) in [("rep movsb", [0xF3, 0xA4], .movs), ("rep stosd", [0xF3, 0xAB], .stos),
                                                                           ("repe cmpsw", [0x66, 0xF3, 0xA7], .cmps), ("repne scasb", [0xF2, 0xAE], .scas),
                                                                           ("lodsd", [0xAD], .lods)] {
            let w = name.hasSuffix("b") ? 8 : name.hasSuffix("w") ? 16 : 32
            let prefix: UInt8? = name.hasPrefix("repne") ? 0xF2 : name.hasPrefix("rep") ? 0xF3 : nil
            mem(name, code, w, ptrs: [6, 7], steps: 300) { rng, c in DiffStringTests.gen(&rng, &c, kind: kind, w: w, prefix: prefix) }
        }
    }
}
