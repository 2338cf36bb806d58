#if canImport(Glibc)
import Glibc
#endif
// Guest physical memory as the CPU and the board see it.
//
// RAM is one host buffer. Every 4 KiB page of the 32-bit physical space has a
// kind: RAM (read and written through the host pointer), ROM (read through the
// host pointer, writes dropped) or device (everything goes to CPUBus, which
// also answers for unmapped addresses: reads all ones, writes dropped).
// Addresses at or above 4 GiB are device/unmapped.

public final class PhysicalMemory {
    public enum PageKind: UInt8 { case ram = 0, rom = 1, device = 2 }

    public static let pageShift = 12
    public static let pageSize = 1 << 12
    /// Pages in the 4 GiB physical space.
    public static let pageCount = 1 << 20

    /// Host buffer backing RAM (and the ROM window), `ramSize` bytes, zeroed.
    public let ram: UnsafeMutablePointer<UInt8>
    public let ramSize: Int
    /// One `PageKind` raw value per 4 KiB page of the 4 GiB space.
    public let pageKind: UnsafeMutablePointer<UInt8>
    /// One byte per page: non-zero when decoded instructions from this page
    /// are cached. A write to such a page must invalidate them
    /// (see `CPU.invalidateCode(page:)`).
    public let codePage: UnsafeMutablePointer<UInt8>
    private let mapped: Bool

    /// Zeroes all of RAM (a machine reset), giving the pages back to the host.
    public func clear() {
        if mapped {
            _ = madvise(ram, ramSize, MADV_DONTNEED)
        } else {
            ram.update(repeating: 0, count: ramSize)
        }
    }

    /// Bytes of guest RAM the host has committed (pages the guest touched),
    /// from mincore(2); all of it when RAM is not a mapping of its own.
    public func residentBytes() -> Int {
        guard mapped else { return ramSize }
        let pages = ramSize >> PhysicalMemory.pageShift
        guard let v = malloc(max(1, pages)) else { return ramSize }
        defer { free(v) }
        let vec = v.bindMemory(to: UInt8.self, capacity: pages)
        if mincore(UnsafeMutableRawPointer(ram), ramSize, vec) != 0 { return ramSize }
        var n = 0
        for i in 0..<pages where vec[i] & 1 != 0 { n += 1 }
        return n << PhysicalMemory.pageShift
    }

    /// `ramSize` is rounded up to a whole page; it must be at least 1 MiB.
    public init(ramSize requested: Int) {
        let size = max(1 << 20, (requested + PhysicalMemory.pageSize - 1) & ~(PhysicalMemory.pageSize - 1))
        ramSize = size
        // An anonymous mapping: the kernel hands out zero pages lazily, so
        // start-up cost and resident memory follow what the guest touches.
        // It sits between two inaccessible guard pages: an access that ever
        // strayed past either end of guest RAM would fault at once instead
        // of reaching other host memory.
        let guardSize = PhysicalMemory.pageSize
        let p = mmap(nil, size + 2 * guardSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        if let p = p, p != MAP_FAILED, mprotect(p + guardSize, size, PROT_READ | PROT_WRITE) == 0 {
            ram = (p + guardSize).bindMemory(to: UInt8.self, capacity: size)
            mapped = true
        } else {
            if let p = p, p != MAP_FAILED { munmap(p, size + 2 * guardSize) }
            ram = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
            ram.initialize(repeating: 0, count: size)
            mapped = false
        }
        // The page maps with memset/calloc (an element loop costs far more
        // in instrumented builds).
        guard let k = malloc(PhysicalMemory.pageCount), let c = calloc(PhysicalMemory.pageCount, 1) else {
            fatalError("cannot allocate the physical page maps")
        }
        pageKind = k.bindMemory(to: UInt8.self, capacity: PhysicalMemory.pageCount)
        codePage = c.bindMemory(to: UInt8.self, capacity: PhysicalMemory.pageCount)
        let ramPages = min(size >> PhysicalMemory.pageShift, PhysicalMemory.pageCount)
        memset(k, Int32(PageKind.device.rawValue), PhysicalMemory.pageCount)
        memset(k, Int32(PageKind.ram.rawValue), ramPages)
    }

    deinit {
        if mapped {
            munmap(UnsafeMutableRawPointer(ram) - PhysicalMemory.pageSize, ramSize + 2 * PhysicalMemory.pageSize)
        } else {
            ram.deallocate()
        }
        free(pageKind)
        free(codePage)
    }

    /// Marks [start, end) (page aligned) with `kind`. Only pages inside the RAM
    /// buffer may be RAM or ROM.
    public func setKind(_ kind: PageKind, from start: UInt64, to end: UInt64) {
        var p = Int(start >> 12)
        let e = Int(min(end, 1 << 32) >> 12)
        while p < e {
            if kind == .device || (p << 12) < ramSize { pageKind[p] = kind.rawValue }
            p += 1
        }
    }

    @inline(__always)
    public func kind(ofPhysical addr: UInt64) -> PageKind {
        if addr >= (1 << 32) { return .device }
        return PageKind(rawValue: pageKind[Int(addr >> 12)]) ?? .device
    }

    /// True when [addr, addr+count) lies wholly in RAM pages.
    public func isRAM(_ addr: UInt64, count: Int) -> Bool {
        if count <= 0 { return true }
        let end = addr &+ UInt64(count)
        if end < addr || end > UInt64(ramSize) { return false }
        var p = addr >> 12
        while p <= (end - 1) >> 12 {
            if pageKind[Int(p)] != PageKind.ram.rawValue { return false }
            p += 1
        }
        return true
    }
}
