/// The Multiboot v1 information structure (physical address in EBX at
/// entry, EAX = 0x2BADB002). Only the fields the kernel uses are read; the
/// strings are copied into the kernel because the loader may have put them
/// anywhere in free memory that the frame allocator later hands out.
enum Multiboot {
    static let bootloaderMagic: UInt32 = 0x2BADB002

    static var valid = false
    static var flags: UInt32 = 0
    static var memoryLowerKiB: UInt32 = 0
    static var memoryUpperKiB: UInt32 = 0
    static var commandLine: InlineArray<256, UInt8> = .init(repeating: 0)
    static var commandLineLength = 0
    static var loaderName: InlineArray<64, UInt8> = .init(repeating: 0)
    static var loaderNameLength = 0

    static func parse(magic: UInt32, info: UInt32) {
        guard magic == bootloaderMagic, info != 0 else { return }
        valid = true
        let base = UInt(info)
        flags = mmio_read32(base)
        if flags & (1 << 0) != 0 {              // mem_lower / mem_upper valid
            memoryLowerKiB = mmio_read32(base + 4)
            memoryUpperKiB = mmio_read32(base + 8)
        }
        if flags & (1 << 2) != 0 {              // cmdline valid
            commandLineLength = copyString(from: UInt(mmio_read32(base + 16)), into: &commandLine)
        }
        if flags & (1 << 9) != 0 {              // boot_loader_name valid
            loaderNameLength = copyString(from: UInt(mmio_read32(base + 64)), into: &loaderName)
        }
    }

    private static func copyString<let N: Int>(from address: UInt, into buffer: inout InlineArray<N, UInt8>) -> Int {
        guard address != 0 else { return 0 }
        var n = 0
        while n < N {
            let b = mmio_read8(address + UInt(n))
            if b == 0 { break }
            buffer[n] = b
            n += 1
        }
        return n
    }

    /// True if `word` is one of the blank-separated words of the command
    /// line. QEMU passes "<kernel path> <-append text>" as the command line,
    /// so matching whole words keeps a path such as ".../test/guest.elf" from
    /// switching on test mode.
    static func commandLineHasWord(_ word: StaticString) -> Bool {
        let w = word.utf8Start
        let wn = word.utf8CodeUnitCount
        var i = 0
        while i < commandLineLength {
            while i < commandLineLength && commandLine[i] == 32 { i += 1 }
            let start = i
            while i < commandLineLength && commandLine[i] != 32 { i += 1 }
            if i - start == wn {
                var same = true
                for k in 0..<wn where commandLine[start + k] != w[k] { same = false; break }
                if same { return true }
            }
        }
        return false
    }

    static func withCommandLine<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        withUnsafeBytes(of: &commandLine) { raw in
            body(UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                     count: commandLineLength))
        }
    }

    static func withLoaderName<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        withUnsafeBytes(of: &loaderName) { raw in
            body(UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                     count: loaderNameLength))
        }
    }
}
