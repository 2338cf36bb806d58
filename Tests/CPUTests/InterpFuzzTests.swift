import Foundation
import XCTest
import CPU

/// Random bytes executed in every mode must never crash the emulator: guest
/// input can only cause guest exceptions (and, at worst, a triple fault).
final class InterpFuzzTests: XCTestCase {
    /// INTERP_FUZZ_SCALE=n runs n times as many rounds (for local soak runs).
    let scale = ProcessInfo.processInfo.environment["INTERP_FUZZ_SCALE"].flatMap { Int($0) } ?? 1
    let seedBase = ProcessInfo.processInfo.environment["INTERP_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0

    struct RNG {
        var s: UInt64
        mutating func next() -> UInt64 {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            var z = s
            z = (z ^ (z >> 33)) &* 0xff51afd7ed558ccd
            return z ^ (z >> 33)
        }
    }

    /// Byte soup biased towards prefixes, escapes and ModRM-heavy opcodes.
    func soup(_ rng: inout RNG, count: Int) -> [UInt8] {
        let hot: [UInt8] = [0x0F, 0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x48, 0x4C, 0x41, 0x26, 0x64, 0x65,
                            0x8B, 0x89, 0x8D, 0xFF, 0xF7, 0xC7, 0x81, 0x83, 0xD3, 0xCD, 0xCF, 0xEA, 0x9A,
                            0x8E, 0x0F, 0x01, 0x00, 0x22, 0x20, 0xAE, 0xC7, 0xA5, 0xAB, 0x6C, 0xE6]
        var b = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            let r = rng.next()
            b[i] = r & 3 == 0 ? hot[Int((r >> 8) % UInt64(hot.count))] : UInt8(truncatingIfNeeded: r >> 16)
        }
        return b
    }

    func runChaos(_ m: InterpMachine, steps: Int) {
        for _ in 0..<steps {
            m.cpu.stopAt = m.cpu.retired + 2_000
            let s = m.cpu.run()
            switch s {
            case .tripleFault:
                return
            case .halted:
                if m.cpu.rflags & 0x200 == 0 { return }
                m.cpu.setINTR(true)
            default:
                break
            }
        }
    }

    func testRandomCodeInAllModes() throws {
        var rng = RNG(s: 0x5EED &+ seedBase)
        let prologue = try assemble(longModePrologue + "\nmain64:\n mov rax, 0x140000\n jmp rax\n", base: 0x100000)
        for round in 0..<(90 * scale) {
            let m = InterpMachine(ramMiB: 4)
            m.bus.vector = UInt8(truncatingIfNeeded: rng.next())
            // random code and random "tables" around it
            m.load(soup(&rng, count: 0x10000), at: 0x140000)
            m.load(soup(&rng, count: 0x1000), at: 0x1000)
            switch round % 3 {
            case 0:
                m.cpu.enterMultiboot(entry: 0x140000, eax: 0, ebx: 0)
            case 1:
                m.load(prologue, at: 0x100000)
                m.cpu.enterMultiboot(entry: 0x100000, eax: 0, ebx: 0)
            default:
                m.cpu.setSegment(.cs, SegmentCache(selector: 0x1000, base: 0x10000, limit: 0xFFFF, attributes: 0x9B))
                m.cpu.rip = 0
                m.load(soup(&rng, count: 0x10000), at: 0x10000)
            }
            m.cpu.reportEvents = round % 2 == 0
            runChaos(m, steps: 20)
            // the debugger views must work on whatever state is left
            _ = m.cpu.readLinear(m.cpu.rip, count: 16)
            _ = m.cpu.translate(linear: m.cpu.rip)
            _ = m.cpu.rflags
            _ = m.cpu.mode
        }
    }

    /// Random bytes after a correct long-mode start with an IDT whose
    /// handlers are random too: exceptions, nested faults, IRET to garbage.
    func testRandomHandlers() throws {
        var rng = RNG(s: 0xFACADE &+ seedBase)
        for _ in 0..<(30 * scale) {
            let m = InterpMachine(ramMiB: 4)
            try m.bootLong("""
            main64:
                xor edi, edi
            1:  mov rsi, 0x150000
                mov rax, rdi
                shl rax, 6
                add rsi, rax
                xor edx, edx
                mov ecx, 0x8E
                push rdi
                call set_gate
                pop rdi
                inc edi
                cmp edi, 256
                jne 1b
                sti
                mov rax, 0x140000
                jmp rax
            """)
            m.load(soup(&rng, count: 0x10000), at: 0x140000)
            m.load(soup(&rng, count: 0x4000), at: 0x150000)
            runChaos(m, steps: 25)
        }
    }
}
