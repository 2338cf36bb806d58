import Foundation
import XCTest
import CPU

/// Interpreter speed on a mixed integer loop (loads, stores, ALU, compare and
/// branch, call/ret). Prints M instructions/s; asserts only correctness.
/// For a meaningful number run it in a release build:
///   swift test -c release --filter InterpBenchTests
/// CPU time of this thread in seconds (the machine may be shared, so wall
/// time alone says little).
func threadCPUTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

final class InterpBenchTests: XCTestCase {
    func testMixedIntegerLoopSpeed() throws {
        let iterations = ProcessInfo.processInfo.environment["INTERP_BENCH_ITERS"].flatMap { UInt64($0) } ?? 5_000_000
        let m = InterpMachine()
        try m.bootLong("""
        main64:
            mov r15, \(iterations)
            lea rsi, [buf]
            xor r8, r8
            xor ecx, ecx
            xor edx, edx
            xor r9, r9
        1:  mov eax, [rsi + r8*4]
            add eax, ecx
            xor edx, eax
            mov [rsi + r8*4], eax
            inc r8
            and r8, 63
            lea ecx, [rcx + rax*2]
            cmp ecx, edx
            jb 2f
            sub ecx, edx
        2:  call f
            dec r15
            jnz 1b
            hlt
        f:  add r9, rcx
            shr r9, 1
            ret
        .balign 64
        buf: .fill 256, 1, 0
        """)
        let start = Date()
        let cpuStart = threadCPUTime()
        let before = m.cpu.retired
        XCTAssertEqual(m.run(limit: 2_000_000_000), .halted)
        let elapsed = Date().timeIntervalSince(start)
        let cpuElapsed = threadCPUTime() - cpuStart
        let n = m.cpu.retired - before
        XCTAssertGreaterThan(n, iterations * 14)
        XCTAssertEqual(m.cpu.gpr(.r15), 0)
        print(String(format: "interpreter: %llu instructions, %.3f s CPU (%.1f M instructions/s), %.3f s wall (%.1f M/s)",
                     n, cpuElapsed, Double(n) / cpuElapsed / 1e6, elapsed, Double(n) / elapsed / 1e6))
    }

    func testRepMovsbSpeed() throws {
        let m = InterpMachine(ramMiB: 16)
        try m.bootLong("""
        main64:
            mov r15, 200
        1:  mov rsi, 0x400000
            mov rdi, 0x800000
            mov ecx, 0x100000
            rep movsb
            dec r15
            jnz 1b
            hlt
        """)
        let cpuStart = threadCPUTime()
        XCTAssertEqual(m.run(limit: 2_000_000_000), .halted)
        print(String(format: "rep movsb: 200 MiB in %.3f s CPU", threadCPUTime() - cpuStart))
    }
}
