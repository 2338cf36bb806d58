// Addressing forms and control transfers, against the host:
// - MOV loads, stores and immediate stores through [base + index*scale +
//   disp] with negative indexes, with 64-bit and 32-bit address size (the
//   latter with garbage in the upper halves of base and index, which must be
//   ignored);
// - 32-bit address-size string instructions (ESI/EDI/ECX, zero-extended
//   updates);
// - XLAT, CMPXCHG8B, CMPXCHG16B;
// - Jcc (short and near), LOOP/LOOPE/LOOPNE, JRCXZ/JECXZ, checked through
//   the instruction after them (`inc r10`, skipped when the branch is taken);
// - data operands straddling a 4 KiB page boundary, instructions straddling
//   one, a store into the next instruction (self-modifying code);
// - LOCK-prefixed read-modify-write forms, and prefix combinations (repeated
//   66, REX not last, two REX, ignored segment and REP prefixes);
// - GS-relative operands (the host GS base is pointed at the data window,
//   which x86-64 Linux user space leaves free), RIP-relative loads (the guest
//   bytes around the code mirror the host page: RIP is the end of the
//   instruction, immediates included).
//
// The 32-bit address forms need the host data window below 4 GiB
// (MAP_32BIT); they are skipped when the host refuses it.

import CHostExec
import XCTest

final class DiffAddressingTests: XCTestCase {
    private var R: DiffRunner { DiffRunner.shared }
    typealias F = DiffForms

    /// [base + index*scale + disp] forms: (base, index, scale, disp).
    static let modes: [(Int, Int?, Int, Int32)] = [(3, 6, 1, 0x10), (13, 14, 8, -0x20), (5, 2, 4, 0x7F), (12, 9, 2, -0x1000), (7, nil, 1, 0x123)]

    /// Base = memOff - index*scale - disp, index small and signed, both with
    /// random upper halves when `addr32`.
    static func place(_ rng: inout DiffRng, _ c: inout DiffCase, base: Int, index: Int?, scale: Int, disp: Int32, addr32: Bool, w: Int) {
        let idx = Int64(rng.below(129)) - 64
        var off = Int64(F.memOff) - Int64(disp)
        if let index {
            off -= idx * Int64(scale)
            let v = UInt64(bitPattern: idx)
            c[index] = addr32 ? (rng.next() << 32) | (v & 0xFFFF_FFFF) : v
        }
        let b = UInt64(bitPattern: off)
        c[base] = addr32 ? (rng.next() << 32) | (b & 0xFFFF_FFFF) : b
        c.store(F.memOff, rng.operand(w), w / 8)
    }

    func testMOVAddressing() throws {
        for addr32 in [false, true] {
            if addr32 && !R.hostMemLow { throw XCTSkip("host data window is not below 2 GiB") }
            let p: [UInt8] = addr32 ? [0x67] : []
            for w in F.widths {
                for (base, index, scale, disp) in Self.modes {
                    let m = "[\(DiffEnc.names64[base])\(index.map { "+\(DiffEnc.names64[$0])*\(scale)" } ?? "")\(disp < 0 ? "-" : "+")0x\(String(abs(Int(disp)), radix: 16))]\(addr32 ? " a32" : "")"
                    let forms: [(String, [UInt8])] = [
                        ("mov r10, \(m)", DiffEnc.rm(F.op(w, 0x8A), width: w, reg: 10, base: base, index: index, scale: scale, disp: disp, prefix: p)),
                        ("mov \(m), r11", DiffEnc.rm(F.op(w, 0x88), width: w, reg: 11, base: base, index: index, scale: scale, disp: disp, prefix: p)),
                        ("mov \(m), imm", DiffEnc.rm(F.op(w, 0xC6), width: w, reg: 0, base: base, index: index, scale: scale, disp: disp, prefix: p,
                                                    imm: DiffEnc.le(0x8765_4321_A5C3_E1F0, F.immLen(w)))),
                        ("add \(m), r11", DiffEnc.rm(F.op(w, 0x00), width: w, reg: 11, base: base, index: index, scale: scale, disp: disp, prefix: p)),
                    ]
                    for (name, code) in forms {
                        R.run("addressing \(w)", [DiffVariant(name: name, code: code, cases: 120, show: [base, 10, 11] + (index.map { [$0] } ?? []))],
                              DiffSpec(width: w, memory: true, dataPtrs: [base], gen: { rng, c in
                                  Self.place(&rng, &c, base: base, index: index, scale: scale, disp: disp, addr32: addr32, w: w)
                              }))
                    }
                }
            }
        }
    }

    func testXLAT() {
        for (name, code) in [("xlat", [UInt8(0xD7)]), ("rex.w xlat", [0x48, 0xD7])] {
            R.run(name, [DiffVariant(name: name, code: code, cases: 800, show: [0, 3])],
                  DiffSpec(width: 8, memory: true, dataPtrs: [3], gen: { rng, c in c[3] = UInt64(1024 + rng.below(2048)) }))
        }
    }

    func testAddressSize32Strings() throws {
        try XCTSkipUnless(R.hostMemLow, "host data window is not below 2 GiB")
        let ops: [(String, UInt8, DiffStringTests.Kind)] = [("movs", 0xA4, .movs), ("stos", 0xAA, .stos), ("lods", 0xAC, .lods), ("scas", 0xAE, .scas), ("cmps", 0xA6, .cmps)]
        for (name, op, kind) in ops {
            for w in F.widths {
                for prefix: UInt8? in [nil, 0xF3] {
                    var code: [UInt8] = [0x67]
                    if w == 16 { code.append(0x66) }
                    if let prefix { code.append(prefix) }
                    if w == 64 { code.append(0x48) }
                    code += F.op(w, op)
                    let v = DiffVariant(name: "a32 \(prefix == nil ? "" : "rep ")\(name)\(w)", code: code, cases: 300, show: [0, 1, 6, 7])
                    R.run("a32 \(name)\(w)", [v], DiffSpec(width: w, memory: true, dataPtrs: [6, 7], maxSteps: 300, gen: { rng, c in
                        DiffStringTests.gen(&rng, &c, kind: kind, w: w, prefix: prefix)
                        // Upper halves are ignored with 32-bit addresses.
                        c[6] |= rng.next() << 32
                        c[7] |= rng.next() << 32
                        if prefix != nil { c[1] |= rng.next() << 32 }
                    }))
                }
            }
        }
    }

    func testCMPXCHG8B16B() {
        for (name, w) in [("cmpxchg8b", 32), ("cmpxchg16b", 64)] {
            // The base must not be RBX/RCX: they are the value stored.
            for (base, disp) in [(13, Int32(0x7F)), (6, 0x300), (7, -0x40)] {
                let code = DiffEnc.rm([0x0F, 0xC7], width: w, reg: 1, base: base, disp: disp)
                R.run(name, [DiffVariant(name: "\(name) \(F.memName(base, disp))", code: code, cases: 600, show: [0, 1, 2, 3, base])],
                      DiffSpec(width: w, memory: true, dataPtrs: [base], gen: { rng, c in
                          c[base] = UInt64(bitPattern: Int64(F.memOff) - Int64(disp))
                          if rng.coin() {
                              c.store(F.memOff, c[0], w / 8)
                              c.store(F.memOff + w / 8, c[2], w / 8)
                          } else if rng.coin() {
                              c.store(F.memOff, c[0], w / 8)  // low half equal only
                          }
                      }))
            }
        }
    }

    // MARK: branches

    /// `inc r10` after a branch over it.
    static let incR10: [UInt8] = [0x49, 0xFF, 0xC2]

    func testJcc() {
        var vs: [DiffVariant] = []
        for cc in 0..<16 {
            vs.append(DiffVariant(name: "j\(cc) short", code: [0x70 + UInt8(cc), 0x03] + Self.incR10, cases: 600, show: [10]))
            vs.append(DiffVariant(name: "j\(cc) near", code: [0x0F, 0x80 + UInt8(cc), 0x03, 0, 0, 0] + Self.incR10, cases: 300, show: [10]))
        }
        R.run("jcc", vs, DiffSpec(width: 64))
    }

    func testLOOPandJRCXZ() {
        var vs: [DiffVariant] = []
        for (name, op) in [("loopne", UInt8(0xE0)), ("loope", 0xE1), ("loop", 0xE2), ("jrcxz", 0xE3)] {
            vs.append(DiffVariant(name: name, code: [op, 0x03] + Self.incR10, cases: 800, show: [1, 10]))
            vs.append(DiffVariant(name: "a32 \(name)", code: [0x67, op, 0x03] + Self.incR10, cases: 800, show: [1, 10]))
        }
        R.run("loop", vs, DiffSpec(width: 64, gen: { rng, c in
            let edges: [UInt64] = [0, 1, 2, 0x1_0000_0000, 0x1_0000_0001, 0xFFFF_FFFF, ~0]
            if rng.coin() { c[1] = edges[rng.below(edges.count)] }
        }))
    }

    // MARK: page boundaries

    /// Memory operands that straddle the 4 KiB boundary of the data window.
    func testCrossPageOperands() {
        for w in [16, 32, 64] {
            let n = w / 8
            let forms: [(String, [UInt8])] = [
                ("mov r10, [rbx]", DiffEnc.rm(F.op(w, 0x8A), width: w, reg: 10, base: 3, disp: 0)),
                ("mov [rbx], r11", DiffEnc.rm(F.op(w, 0x88), width: w, reg: 11, base: 3, disp: 0)),
                ("add [rbx], r11", DiffEnc.rm(F.op(w, 0x00), width: w, reg: 11, base: 3, disp: 0)),
                ("xchg [rbx], r11", DiffEnc.rm(F.op(w, 0x86), width: w, reg: 11, base: 3, disp: 0)),
                ("cmpxchg [rbx], r11", DiffEnc.rm([0x0F] + F.op(w, 0xB0), width: w, reg: 11, base: 3, disp: 0)),
                ("shl [rbx], cl", DiffEnc.rm(F.op(w, 0xD2), width: w, reg: 4, base: 3, disp: 0)),
                ("bts [rbx], r11", DiffEnc.rm([0x0F, 0xAB], width: w, reg: 11, base: 3, disp: 0)),
                ("movzx r10, word [rbx]", DiffEnc.rm([0x0F, 0xB7], width: 64, reg: 10, base: 3, disp: 0)),
            ]
            for (name, code) in forms {
                let defined: (DiffCase, hostexec_state) -> Defined =
                    name.hasPrefix("shl") ? { c, _ in DiffShiftTests.shiftDefined(4, w, c[1] & 0xFF) }
                    : name.hasPrefix("bts") ? DiffBitTests.btDefined : { _, _ in Defined() }
                R.run("cross-page \(w)", [DiffVariant(name: name, code: code, cases: 400, show: [0, 1, 3, 10, 11])],
                      DiffSpec(width: w, memory: true, dataPtrs: [3], gen: { rng, c in
                          c[3] = UInt64(4096 - 1 - rng.below(n))  // first byte in page 0, last in page 1
                          // bit offsets stay inside the operand
                          c[11] = (c[11] & ~DiffRng.mask(w)) | UInt64(rng.below(n * 8))
                          if rng.coin() { c[0] = c.load(Int(c[3]), n) }
                      }, defined: defined))
            }
        }
        // A REP MOVS and a REP STOS across the boundary, both directions.
        for (name, code) in [("rep movsq", [UInt8(0xF3), 0x48, 0xA5]), ("rep stosd", [0xF3, 0xAB])] {
            R.run("cross-page strings", [DiffVariant(name: name, code: code, cases: 400, show: [1, 6, 7])],
                  DiffSpec(width: 64, memory: true, dataPtrs: [6, 7], maxSteps: 100, gen: { rng, c in
                      c[1] = UInt64(rng.below(20))
                      c[6] = UInt64(4096 - 64 + rng.below(128))
                      c[7] = UInt64(4096 - 64 + rng.below(128))
                  }))
        }
    }

    /// Instructions whose bytes straddle a page boundary of guest code.
    func testCodeAcrossPages() {
        let forms: [(String, [UInt8], Defined)] = [
            ("add rax, imm32", [0x48, 0x81, 0xC0, 0x78, 0x56, 0x34, 0x92], Defined()),
            ("imul r9, rcx, imm32", [0x4C, 0x69, 0xC9, 0x01, 0x00, 0x01, 0x80], .except(Fl.sf | Fl.zf | Fl.af | Fl.pf)),
            ("shld eax, ecx, 7", [0x0F, 0xA4, 0xC8, 0x07], .except(Fl.af | Fl.of)),
            ("movabs rdx, imm64", [0x48, 0xBA, 1, 2, 3, 4, 5, 6, 7, 0x88], Defined()),
            ("lea r11, [rbx+rsi*8+0x12345678]", [0x4C, 0x8D, 0x9C, 0xF3, 0x78, 0x56, 0x34, 0x12], Defined()),
        ]
        for (name, code, defined) in forms {
            for split in 1..<code.count {
                let at = DiffMachine.codeBase + 0x1000 - UInt64(split)
                R.run("code across pages", [DiffVariant(name: "\(name) split after \(split)", code: code, cases: 60)],
                      DiffSpec(width: 64, codeAddress: at, defined: { _, _ in defined }))
            }
        }
    }

    /// `mov [rip+1], cl` stores into the immediate of the next instruction
    /// (`add al, imm8`), which must run with the stored byte.
    func testSelfModifyingCode() {
        let code: [UInt8] = [0x88, 0x0D, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00]
        R.run("smc", [DiffVariant(name: "mov [rip+1], cl; add al, imm8", code: code, cases: 600, show: [0, 1])], DiffSpec(width: 8))
        // The same with the patched instruction on the next page.
        R.run("smc", [DiffVariant(name: "mov [rip+1], cl; add al, imm8 (next page)", code: code, cases: 600, show: [0, 1])],
              DiffSpec(width: 8, codeAddress: DiffMachine.codeBase + 0x1000 - 6))
        // The patched instruction starts on one page and its immediate (the
        // stored byte) is on the next.
        R.run("smc", [DiffVariant(name: "mov [rip+1], cl; add al, imm8 (add straddles pages)", code: code, cases: 600, show: [0, 1])],
              DiffSpec(width: 8, codeAddress: DiffMachine.codeBase + 0x1000 - 7))
    }

    // MARK: prefixes

    func testLockedReadModifyWrite() {
        var forms: [(String, [UInt8], Int)] = []
        for w in F.widths {
            for (name, base) in [("add", UInt8(0x00)), ("adc", 0x10), ("sbb", 0x18), ("and", 0x20), ("sub", 0x28), ("xor", 0x30), ("or", 0x08)] {
                forms.append(("lock \(name) [rbx-8], r9", [0xF0] + DiffEnc.rm(F.op(w, base), width: w, reg: 9, base: 3, disp: -8), w))
            }
            for (name, ext) in [("not", 2), ("neg", 3)] {
                forms.append(("lock \(name) [rbx-8]", [0xF0] + DiffEnc.rm(F.op(w, 0xF6), width: w, reg: ext, base: 3, disp: -8), w))
            }
            for (name, ext) in [("inc", 0), ("dec", 1)] {
                forms.append(("lock \(name) [rbx-8]", [0xF0] + DiffEnc.rm(F.op(w, 0xFE), width: w, reg: ext, base: 3, disp: -8), w))
            }
            forms.append(("lock xadd [rbx-8], r9", [0xF0] + DiffEnc.rm([0x0F] + F.op(w, 0xC0), width: w, reg: 9, base: 3, disp: -8), w))
            forms.append(("lock cmpxchg [rbx-8], r9", [0xF0] + DiffEnc.rm([0x0F] + F.op(w, 0xB0), width: w, reg: 9, base: 3, disp: -8), w))
            forms.append(("lock add [rbx-8], imm", [0xF0] + DiffEnc.rm(w == 8 ? [0x80] : [0x81], width: w, reg: 0, base: 3, disp: -8, imm: DiffEnc.le(0x5A, F.immLen(w))), w))
            if w > 8 {
                for (name, op) in [("bts", UInt8(0xAB)), ("btr", 0xB3), ("btc", 0xBB)] {
                    forms.append(("lock \(name) [rbx-8], r9", [0xF0] + DiffEnc.rm([0x0F, op], width: w, reg: 9, base: 3, disp: -8), w))
                }
                forms.append(("lock bts [rbx-8], 5", [0xF0] + DiffEnc.rm([0x0F, 0xBA], width: w, reg: 5, base: 3, disp: -8, imm: [5]), w))
            }
        }
        forms.append(("lock cmpxchg16b [rsi]", [0xF0, 0x48, 0x0F, 0xC7, 0x0E], 64))
        for (name, code, w) in forms {
            let isBit = name.contains("bt")
            var spec = F.memSpec(w, base: name.hasSuffix("[rsi]") ? 6 : 3, disp: name.hasSuffix("[rsi]") ? 0 : -8, extra: { rng, c in
                c[9] = (c[9] & ~DiffRng.mask(w)) | UInt64(rng.below(w))  // bit offsets inside the operand
                if rng.coin() { c[0] = c.load(F.memOff, w / 8) }
                if rng.coin() { c[2] = c.load(F.memOff + 8, 8) }
            })
            if isBit { spec.defined = { _, _ in .except(Fl.of | Fl.sf | Fl.af | Fl.pf) } }
            if name.hasPrefix("lock and") || name.hasPrefix("lock or") || name.hasPrefix("lock xor") { spec.defined = { _, _ in .except(Fl.af) } }
            R.run("lock \(w)", [DiffVariant(name: name, code: code, cases: 300, show: [0, 2, 3, 9])], spec)
        }
    }

    func testPrefixCombinations() {
        let forms: [(String, [UInt8])] = [
            ("66 66 add ax, cx", [0x66, 0x66, 0x01, 0xC8]),
            ("REX.W then 66: REX ignored, add ax, cx", [0x48, 0x66, 0x01, 0xC8]),
            ("66 then REX.W: add rax, rcx", [0x66, 0x48, 0x01, 0xC8]),
            ("two REX, the last counts: add rax, rcx", [0x41, 0x48, 0x01, 0xC8]),
            ("REX.B then REX.W: add rax, rcx", [0x49, 0x48, 0x01, 0xC8]),
            ("2E segment prefix on a register form", [0x2E, 0x48, 0x01, 0xC8]),
            ("64 65 36 3E 26 segment prefixes", [0x64, 0x65, 0x36, 0x3E, 0x26, 0x01, 0xC8]),
            ("F3 on add", [0xF3, 0x01, 0xC8]),
            ("F2 on add", [0xF2, 0x48, 0x01, 0xC8]),
            ("67 on a register form", [0x67, 0x01, 0xC8]),
            ("REX 40: add al, dil", [0x40, 0x00, 0xF8]),
            ("no REX: add al, bh", [0x00, 0xF8]),
            ("REX 40 then 66: REX ignored, add al, bh", [0x40, 0x66, 0x00, 0xF8]),
            ("13 prefixes + 2 bytes = 15 bytes", [UInt8](repeating: 0x66, count: 13) + [0x01, 0xC8]),
            ("F3 90 (pause)", [0xF3, 0x90]),
            ("41 90: xchg eax, r8d", [0x41, 0x90]),
            ("66 90: nop", [0x66, 0x90]),
            ("0F 1F /0 long nop", [0x0F, 0x1F, 0x44, 0x00, 0x00]),
            ("66 2E 0F 1F 84 nop", [0x66, 0x2E, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00]),
        ]
        R.run("prefixes", forms.map { DiffVariant(name: $0.0, code: $0.1, cases: 300, show: [0, 1, 3, 7, 8]) }, DiffSpec(width: 64, maxSteps: 4))
    }

    // MARK: stack

    /// Balanced stack sequences (RSP itself differs between host and guest
    /// and is not compared; what went through the stack is).
    func testStackSequences() {
        let forms: [(String, [UInt8], Bool, [Int])] = [
            ("push rax; pop r10", [0x50, 0x41, 0x5A], false, []),
            ("push r9; pop rdx", [0x41, 0x51, 0x5A], false, []),
            ("push -5; pop r10", [0x6A, 0xFB, 0x41, 0x5A], false, []),
            ("push imm32; pop r10", [0x68, 0x78, 0x56, 0x34, 0x92, 0x41, 0x5A], false, []),
            ("push ax; pop r10w", [0x66, 0x50, 0x66, 0x41, 0x5A], false, []),
            ("push word -3; pop r10w", [0x66, 0x6A, 0xFD, 0x66, 0x41, 0x5A], false, []),
            ("push qword [rbx-8]; pop r10", [0xFF, 0x73, 0xF8, 0x41, 0x5A], true, []),
            ("push r11; pop qword [rbx-8]", [0x41, 0x53, 0x8F, 0x43, 0xF8], true, []),
            ("call +0; pop r10", [0xE8, 0, 0, 0, 0, 0x41, 0x5A], false, [10]),
            ("enter 0x20,0; mov r10,rbp; sub r10,rsp; leave", [0xC8, 0x20, 0x00, 0x00, 0x49, 0x89, 0xEA, 0x49, 0x29, 0xE2, 0xC9], false, []),
            ("enter 0x18,1; mov r10,rbp; sub r10,rsp; leave", [0xC8, 0x18, 0x00, 0x01, 0x49, 0x89, 0xEA, 0x49, 0x29, 0xE2, 0xC9], false, []),
            ("push rbp; mov rbp,rsp; lea r10,[rbp+8]; sub r10,rsp; pop rbp", [0x55, 0x48, 0x89, 0xE5, 0x4C, 0x8D, 0x55, 0x08, 0x49, 0x29, 0xE2, 0x5D], false, []),
        ]
        for (name, code, mem, rel) in forms {
            var spec = mem ? F.memSpec(64, base: 3, disp: -8) : DiffSpec(width: 64, codeRelOut: rel)
            // (RSP+8) - RSP: AF shows bit 3 of RSP, which differs between host and guest.
            if name.hasPrefix("push rbp") { spec.defined = { _, _ in .except(Fl.af) } }
            R.run("stack", [DiffVariant(name: name, code: code, cases: 300, show: [0, 2, 3, 5, 9, 10, 11])],
                  { var s = spec; s.maxSteps = 8; return s }())
        }
    }

    // MARK: GS and RIP-relative operands

    func testGSOverride() {
        let forms: [(String, [UInt8], Int, [Int], Defined)] = [
            ("mov eax, gs:[rbx]", [0x65, 0x8B, 0x03], 32, [], Defined()),
            ("mov rax, gs:[0x800]", [0x65, 0x48, 0x8B, 0x04, 0x25, 0x00, 0x08, 0x00, 0x00], 64, [], Defined()),
            ("add gs:[rbx-8], rax", [0x65, 0x48, 0x01, 0x43, 0xF8], 64, [], Defined()),
            ("movzx eax, byte gs:[rbx+rsi+0x10]", [0x65, 0x0F, 0xB6, 0x44, 0x33, 0x10], 8, [], Defined()),
            ("bts dword gs:[rbx], ecx", [0x65, 0x0F, 0xAB, 0x0B], 32, [], .except(Fl.of | Fl.sf | Fl.af | Fl.pf)),
            ("movsq gs:[rsi] -> [rdi]", [0x65, 0x48, 0xA5], 64, [7], Defined()),
            ("rep movsb gs:[rsi] -> [rdi]", [0x65, 0xF3, 0xA4], 8, [7], Defined()),
            ("stosd ignores gs", [0x65, 0xAB], 32, [7], Defined()),
            ("cmpsb gs:[rsi], [rdi]", [0x65, 0xA6], 8, [7], Defined()),
        ]
        for (name, code, w, ptrs, defined) in forms {
            var spec = DiffSpec(width: w, memory: true, dataPtrs: ptrs, maxSteps: 100, gen: { rng, c in
                c[3] = UInt64(1024 + rng.below(2048))
                c[6] = UInt64(1024 + rng.below(1024))
                c[7] = UInt64(1024 + rng.below(2048))
                c[1] = UInt64(rng.below(40))  // small counts and bit offsets
            }, defined: { _, _ in defined })
            spec.gsData = true
            R.run("gs", [DiffVariant(name: name, code: code, cases: 400, show: [0, 1, 3, 6, 7])], spec)
        }
    }

    func testRIPRelativeLoads() {
        let forms: [(String, [UInt8], Defined)] = [
            ("mov rax, [rip-0x10]", [0x48, 0x8B, 0x05, 0xF0, 0xFF, 0xFF, 0xFF], Defined()),
            ("mov ecx, [rip+8]", [0x8B, 0x0D, 0x08, 0x00, 0x00, 0x00], Defined()),
            ("cmp rax, [rip+0]", [0x48, 0x3B, 0x05, 0x00, 0x00, 0x00, 0x00], Defined()),
            ("cmp byte [rip-0x20], 0x55", [0x80, 0x3D, 0xE0, 0xFF, 0xFF, 0xFF, 0x55], Defined()),
            ("cmp word [rip-8], 0x7f", [0x66, 0x83, 0x3D, 0xF8, 0xFF, 0xFF, 0xFF, 0x7F], Defined()),
            ("test dword [rip-0x30], 0x12345678", [0xF7, 0x05, 0xD0, 0xFF, 0xFF, 0xFF, 0x78, 0x56, 0x34, 0x12], .except(Fl.af)),
            ("imul eax, [rip-0x18], 0x101", [0x69, 0x05, 0xE8, 0xFF, 0xFF, 0xFF, 0x01, 0x01, 0x00, 0x00], .except(Fl.sf | Fl.zf | Fl.af | Fl.pf)),
            ("bt dword [rip-0x10], 3", [0x0F, 0xBA, 0x25, 0xF0, 0xFF, 0xFF, 0xFF, 0x03], .except(Fl.of | Fl.sf | Fl.af | Fl.pf)),
            ("movzx eax, byte [rip+5]", [0x0F, 0xB6, 0x05, 0x05, 0x00, 0x00, 0x00], Defined()),
            ("add r9, [rip-0x40]", [0x4C, 0x03, 0x0D, 0xC0, 0xFF, 0xFF, 0xFF], Defined()),
        ]
        for (name, code, defined) in forms {
            var spec = DiffSpec(width: 64, defined: { _, _ in defined })
            spec.mirrorHostCode = true
            R.run("rip-relative", [DiffVariant(name: name, code: code, cases: 200, show: [0, 1, 9])], spec)
        }
    }
}
