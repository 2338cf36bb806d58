// Boots one kernel to completion on the sanitizer-instrumented emulator:
// the whole-run counterpart of the fuzz targets, for guests that are meant
// to push on the host boundary (Tests/Kernels/memtouch.S touches every
// physical page up to 8 GiB). Built like a fuzz target; run it on a file:
//
//   build/fuzz/boot KERNEL            (one execution, no fuzzing)
//
// Environment: BOOT_APPEND (kernel command line), BOOT_RAM_MB (default 128),
// BOOT_MAX_INSNS (default 200 000 000), BOOT_TIMEOUT_MS (virtual, default 30 000).
// Prints the guest's port 0xE9/COM1 output, then "boot: <how it ended>".

import Board
import Glibc

private func env(_ name: String) -> String? {
    guard let v = getenv(name) else { return nil }
    return String(cString: v)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var config = PCConfig()
    config.ramSize = (Int(env("BOOT_RAM_MB") ?? "") ?? 128) << 20
    let pc = PC(config: config)
    var output: [UInt8] = []
    pc.onOutput = { output.append($0) }
    do {
        try pc.load(kernel: Array(UnsafeBufferPointer(start: data, count: size)), path: "kernel",
                    append: env("BOOT_APPEND") ?? "")
    } catch {
        print("boot: cannot load: \(error)")
        return 0
    }
    pc.instructionLimit = UInt64(env("BOOT_MAX_INSNS") ?? "") ?? 200_000_000
    let deadline = (UInt64(env("BOOT_TIMEOUT_MS") ?? "") ?? 30_000) * 1_000_000
    let stop = pc.run(until: deadline)
    print(String(decoding: output, as: UTF8.self), terminator: "")
    print("boot: \(stop.map { "\($0)" } ?? "timeLimit") after \(pc.instructions) instructions")
    return 0
}
