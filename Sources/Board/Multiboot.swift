import Foundation

// Multiboot v1 loading, the way `qemu-system-x86_64 -kernel` does it.
//
// Facts (Multiboot Specification 0.6.96, and QEMU hw/i386/multiboot.c):
// - The header is 4-byte aligned within the first 8192 bytes of the image:
//   magic 0x1BADB002, flags, checksum with magic + flags + checksum == 0.
// - Flag bit 16 (the "a.out kludge") makes the loader use the header's
//   header_addr, load_addr, load_end_addr, bss_end_addr and entry_addr instead
//   of the ELF program headers.
// - Otherwise the image must be ELF; PT_LOAD segments are placed at their
//   physical address (p_paddr) and the entry is e_entry.
// - QEMU refuses ELF64 images; swiftemu accepts them too (an extension), with
//   the same rule: segments by physical address, entry executed in 32-bit mode.
// - The info structure QEMU builds sets flags MEMORY, BOOT_DEVICE, CMDLINE,
//   MODS (count 0), MMAP and BOOT_LOADER_NAME; the command line is the kernel
//   path followed by a space and the -append string when there is one.

public struct LoadError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// A kernel image ready to be placed in RAM.
public struct KernelImage {
    public struct Segment {
        public var address: UInt64
        public var bytes: ArraySlice<UInt8>
        /// Total size in memory (>= bytes.count; the rest is zeroed).
        public var memorySize: UInt64
    }
    public var segments: [Segment] = []
    public var entry: UInt32 = 0
    /// Multiboot header flags (bit 1: memory info requested, bit 2: video mode, bit 16: a.out kludge).
    public var headerFlags: UInt32 = 0
    /// Highest physical address used by the image (exclusive).
    public var end: UInt64 {
        segments.map { $0.address &+ $0.memorySize }.max() ?? 0
    }
    public var format: String = ""
}

public enum MultibootLoader {
    public static let headerMagic: UInt32 = 0x1BAD_B002
    public static let bootMagic: UInt32 = 0x2BAD_B002

    static func le32(_ b: [UInt8], _ o: Int) -> UInt32? {
        guard o >= 0, o + 4 <= b.count else { return nil }
        return UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }
    static func le16(_ b: [UInt8], _ o: Int) -> UInt16? {
        guard o >= 0, o + 2 <= b.count else { return nil }
        return UInt16(b[o]) | UInt16(b[o + 1]) << 8
    }
    static func le64(_ b: [UInt8], _ o: Int) -> UInt64? {
        guard let lo = le32(b, o), let hi = le32(b, o + 4) else { return nil }
        return UInt64(lo) | UInt64(hi) << 32
    }

    /// Finds the Multiboot header: (offset, flags).
    static func findHeader(_ b: [UInt8]) -> (Int, UInt32)? {
        var o = 0
        while o + 12 <= min(b.count, 8192) {
            if le32(b, o) == headerMagic, let flags = le32(b, o + 4), let sum = le32(b, o + 8),
               headerMagic &+ flags &+ sum == 0 {
                return (o, flags)
            }
            o += 4
        }
        return nil
    }

    /// Parses an image; `ramSize` bounds where segments may go.
    public static func parse(_ b: [UInt8], ramSize: Int) throws -> KernelImage {
        guard !b.isEmpty else { throw LoadError("the file is empty") }
        guard let (hdr, flags) = findHeader(b) else {
            if b.count >= 4 && b[0] == 0x7F && b[1] == 0x45 && b[2] == 0x4C && b[3] == 0x46 {
                throw LoadError("ELF file has no Multiboot header (magic 0x1BADB002 with a valid checksum) in its first 8 KiB")
            }
            throw LoadError("not a Multiboot kernel: no ELF signature and no Multiboot header in the first 8 KiB")
        }
        var img: KernelImage
        if flags & (1 << 16) != 0 {
            img = try parseKludge(b, header: hdr, flags: flags)
        } else {
            guard b.count >= 4, b[0] == 0x7F, b[1] == 0x45, b[2] == 0x4C, b[3] == 0x46 else {
                throw LoadError("Multiboot header without the a.out kludge (flag bit 16) but the file is not ELF")
            }
            img = try parseELF(b)
        }
        img.headerFlags = flags
        for s in img.segments {
            let end = s.address &+ s.memorySize
            if end < s.address || end > UInt64(ramSize) {
                throw LoadError(String(format: "segment at 0x%llx-0x%llx does not fit in guest RAM (%d MiB); use --ram",
                                       s.address, end, ramSize >> 20))
            }
            if s.address < 0x1000 {
                throw LoadError(String(format: "segment at 0x%llx overlaps the first page of RAM", s.address))
            }
        }
        if img.segments.isEmpty { throw LoadError("the image has nothing to load") }
        return img
    }

    static func parseKludge(_ b: [UInt8], header: Int, flags: UInt32) throws -> KernelImage {
        guard let headerAddr = le32(b, header + 12), let loadAddr = le32(b, header + 16),
              let loadEnd = le32(b, header + 20), let bssEnd = le32(b, header + 24),
              let entry = le32(b, header + 28) else {
            throw LoadError("Multiboot header is truncated (a.out kludge fields missing)")
        }
        guard headerAddr >= loadAddr, UInt64(headerAddr - loadAddr) <= UInt64(header) else {
            throw LoadError("Multiboot a.out kludge: header_addr/load_addr inconsistent with the header's file offset")
        }
        let fileStart = header - Int(headerAddr - loadAddr)
        let length: Int
        if loadEnd == 0 {
            length = b.count - fileStart
        } else {
            guard loadEnd >= loadAddr else { throw LoadError("Multiboot a.out kludge: load_end_addr below load_addr") }
            length = Int(loadEnd - loadAddr)
        }
        guard fileStart >= 0, length >= 0, fileStart + length <= b.count else {
            throw LoadError("Multiboot a.out kludge: load range runs past the end of the file")
        }
        var memSize = UInt64(length)
        if bssEnd != 0 {
            guard bssEnd >= loadAddr &+ UInt32(truncatingIfNeeded: length) else {
                throw LoadError("Multiboot a.out kludge: bss_end_addr below load_end_addr")
            }
            memSize = UInt64(bssEnd - loadAddr)
        }
        var img = KernelImage()
        img.format = "multiboot a.out kludge"
        img.segments = [.init(address: UInt64(loadAddr), bytes: b[fileStart..<(fileStart + length)], memorySize: memSize)]
        img.entry = entry
        return img
    }

    static func parseELF(_ b: [UInt8]) throws -> KernelImage {
        guard b.count >= 52 else { throw LoadError("ELF header is truncated") }
        let cls = b[4], data = b[5]
        guard data == 1 else { throw LoadError("ELF is not little-endian") }
        guard le16(b, 18) == 3 || le16(b, 18) == 62 else { throw LoadError("ELF machine is not x86 (i386 or x86-64)") }
        var img = KernelImage()
        let is64: Bool
        switch cls {
        case 1: is64 = false; img.format = "ELF32"
        case 2: is64 = true; img.format = "ELF64"
        default: throw LoadError("ELF class \(cls) is neither ELF32 nor ELF64")
        }
        let phoff: UInt64, phentsize: Int, phnum: Int, entry: UInt64
        if is64 {
            guard b.count >= 64, let e = le64(b, 24), let p = le64(b, 32), let es = le16(b, 54), let n = le16(b, 56) else {
                throw LoadError("ELF64 header is truncated")
            }
            entry = e; phoff = p; phentsize = Int(es); phnum = Int(n)
        } else {
            guard let e = le32(b, 24), let p = le32(b, 28), let es = le16(b, 42), let n = le16(b, 44) else {
                throw LoadError("ELF32 header is truncated")
            }
            entry = UInt64(e); phoff = UInt64(p); phentsize = Int(es); phnum = Int(n)
        }
        guard entry <= 0xFFFF_FFFF else { throw LoadError(String(format: "ELF entry 0x%llx is above 4 GiB; the Multiboot entry runs in 32-bit mode", entry)) }
        img.entry = UInt32(entry)
        guard phnum > 0 else { throw LoadError("ELF has no program headers") }
        guard phentsize >= (is64 ? 56 : 32) else { throw LoadError("ELF program header size \(phentsize) is too small") }
        guard phoff < UInt64(b.count), phoff + UInt64(phnum) * UInt64(phentsize) <= UInt64(b.count) else {
            throw LoadError("ELF program headers run past the end of the file")
        }
        for i in 0..<phnum {
            let o = Int(phoff) + i * phentsize
            let type: UInt32, offset: UInt64, paddr: UInt64, filesz: UInt64, memsz: UInt64
            if is64 {
                guard let t = le32(b, o), let off = le64(b, o + 8), let pa = le64(b, o + 24),
                      let fs = le64(b, o + 32), let ms = le64(b, o + 40) else { throw LoadError("ELF program header \(i) is truncated") }
                type = t; offset = off; paddr = pa; filesz = fs; memsz = ms
            } else {
                guard let t = le32(b, o), let off = le32(b, o + 4), let pa = le32(b, o + 12),
                      let fs = le32(b, o + 16), let ms = le32(b, o + 20) else { throw LoadError("ELF program header \(i) is truncated") }
                type = t; offset = UInt64(off); paddr = UInt64(pa); filesz = UInt64(fs); memsz = UInt64(ms)
            }
            guard type == 1 else { continue } // PT_LOAD
            guard filesz <= memsz else { throw LoadError("ELF segment \(i): file size larger than memory size") }
            guard offset <= UInt64(b.count), filesz <= UInt64(b.count) - offset else {
                throw LoadError("ELF segment \(i) runs past the end of the file")
            }
            if memsz == 0 { continue }
            img.segments.append(.init(address: paddr, bytes: b[Int(offset)..<Int(offset + filesz)], memorySize: memsz))
        }
        return img
    }

    /// Bytes at the top of RAM that SeaBIOS keeps for its tables (ACPI etc.)
    /// and reports as reserved; QEMU's Multiboot info shows the same.
    public static let firmwareHighReserve = 0x20000

    /// The e820-style memory map the info structure reports, as QEMU with
    /// SeaBIOS reports it: conventional memory up to the EBDA, the BIOS ROM,
    /// RAM above 1 MiB less the firmware's high tables, and the flash at 4 GiB.
    public static func memoryMap(ramSize: Int) -> [(base: UInt64, length: UInt64, type: UInt32)] {
        let top = UInt64(ramSize - firmwareHighReserve)
        return [
            (0, 0x9FC00, 1),
            (0x9FC00, 0x400, 2),
            (0xF0000, 0x10000, 2),
            (0x100000, top - 0x100000, 1),
            (top, UInt64(firmwareHighReserve), 2),
            (0xFFFC_0000, 0x40000, 2),
        ]
    }

    /// Builds the Multiboot information structure, its command line, boot
    /// loader name and memory map at `base`; returns the bytes.
    public static func infoBlock(base: UInt32, ramSize: Int, cmdline: String, loaderName: String) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 88)
        func put32(_ o: Int, _ v: UInt32) {
            for i in 0..<4 { out[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
        }
        func append32(_ v: UInt32) { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
        func append64(_ v: UInt64) { append32(UInt32(truncatingIfNeeded: v)); append32(UInt32(truncatingIfNeeded: v >> 32)) }
        let flags: UInt32 = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9)
        put32(0, flags)
        put32(4, 639)                                          // mem_lower, KiB
        put32(8, UInt32((ramSize - firmwareHighReserve - 0x100000) / 1024)) // mem_upper: KiB of usable RAM above 1 MiB
        put32(12, 0x8000_FFFF)                                 // boot_device: first BIOS disk, no partition
        let cmdOff = out.count
        out.append(contentsOf: Array(cmdline.utf8)); out.append(0)
        put32(16, base + UInt32(cmdOff))
        put32(20, 0); put32(24, 0)                             // mods_count, mods_addr
        while out.count % 4 != 0 { out.append(0) }
        let nameOff = out.count
        out.append(contentsOf: Array(loaderName.utf8)); out.append(0)
        put32(64, base + UInt32(nameOff))
        while out.count % 8 != 0 { out.append(0) }
        let mmapOff = out.count
        for e in memoryMap(ramSize: ramSize) {
            append32(20); append64(e.base); append64(e.length); append32(e.type)
        }
        put32(44, UInt32(out.count - mmapOff))
        put32(48, base + UInt32(mmapOff))
        return out
    }
}
