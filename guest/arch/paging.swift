/// Physical frames and 4-level page tables.
///
/// arch/boot.S identity-maps 0..1 GiB with 2 MiB pages (PML4[0] -> PDPT[0]
/// -> one PD of 512 "PS" entries). Here the first 2 MiB, which hold the
/// kernel, get a real page table of 4 KiB pages so that single pages can be
/// unmapped: the page below the kernel stack becomes a guard page (a stack
/// overflow page-faults instead of silently overwriting .bss).
///
/// Page-table entry bits used: 0 P (present), 1 R/W, 7 PS (2 MiB page in a
/// PD entry), 12..51 physical address. Page-fault error code bits: 0 P (1 =
/// protection violation, 0 = page not present), 1 W/R (1 = write), 2 U/S,
/// 3 RSVD, 4 I/D (instruction fetch). CR2 holds the faulting address.
enum Frames {
    static let size: UInt = 4096
    static var next: UInt = 0
    static var limit: UInt = 0

    /// Frames come from the RAM after the kernel image, inside the identity
    /// map (below 1 GiB) and below the top of memory the loader reported.
    static func initialize() {
        next = (kernel_end_address() + size - 1) & ~(size - 1)
        var top: UInt = 16 << 20            // assume 16 MiB without loader info
        if Multiboot.valid && Multiboot.flags & 1 != 0 {
            top = (1 << 20) + UInt(Multiboot.memoryUpperKiB) * 1024
        }
        limit = min(top, 1 << 30)
    }

    /// `count` contiguous zeroed frames, or nil when memory is exhausted.
    static func allocate(count: Int = 1) -> UInt? {
        let bytes = size * UInt(count)
        guard next + bytes <= limit else { return nil }
        let frame = next
        next += bytes
        if let p = UnsafeMutableRawPointer(bitPattern: frame) {
            p.initializeMemory(as: UInt8.self, repeating: 0, count: Int(bytes))
        }
        return frame
    }

    static var usedBytes: UInt { next - ((kernel_end_address() + size - 1) & ~(size - 1)) }
}

enum Paging {
    static let present: UInt64 = 1 << 0
    static let writable: UInt64 = 1 << 1
    static let hugePage: UInt64 = 1 << 7
    static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000

    /// Page faults on not-present pages in this window are "demand paged":
    /// the handler maps a fresh zeroed frame and the faulting instruction is
    /// restarted. The `pagefault` command and the self-test use it.
    static let demandWindowStart: UInt = 0x4000_0000       // 1 GiB, just past the identity map
    static let demandWindowEnd: UInt = 0x4020_0000
    static let demandSlots = 8
    static var demandFrames: InlineArray<8, UInt> = .init(repeating: 0)
    static var demandPages: InlineArray<8, UInt> = .init(repeating: 0)

    static var guardPage: UInt { stack_guard_address() }

    static func table(_ physical: UInt64) -> UnsafeMutablePointer<UInt64> {
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(physical & addressMask))!
    }

    static var pml4: UnsafeMutablePointer<UInt64> { table(cpu_read_cr3()) }

    static func initialize() {
        // Page table for 0..2 MiB: identity, present + writable, except the
        // stack guard page.
        guard let ptFrame = Frames.allocate() else { return }
        let pt = table(UInt64(ptFrame))
        for i in 0..<512 {
            let address = UInt64(i) << 12
            pt[i] = UInt(address) == guardPage ? 0 : address | present | writable
        }
        let pd = UnsafeMutablePointer<UInt64>(bitPattern: boot_pd_address())!
        pd[0] = UInt64(ptFrame) | present | writable
        cpu_write_cr3(cpu_read_cr3())           // flush the old 2 MiB translation

        for i in 0..<demandSlots {
            demandFrames[i] = Frames.allocate() ?? 0
        }
    }

    /// The leaf entry mapping `virtual` (4 KiB PTE or 2 MiB PDE), or nil.
    static func leafEntry(_ virtual: UInt) -> (entry: UInt64, level: Int)? {
        guard virtual < 0x0000_8000_0000_0000 else { return nil }
        var entry = pml4[Int((virtual >> 39) & 511)]
        guard entry & present != 0 else { return nil }
        entry = table(entry)[Int((virtual >> 30) & 511)]
        guard entry & present != 0 else { return nil }
        if entry & hugePage != 0 { return (entry, 3) }
        entry = table(entry)[Int((virtual >> 21) & 511)]
        guard entry & present != 0 else { return nil }
        if entry & hugePage != 0 { return (entry, 2) }
        entry = table(entry)[Int((virtual >> 12) & 511)]
        guard entry & present != 0 else { return nil }
        return (entry, 1)
    }

    /// Walks to the page-table entry for `virtual`, creating missing tables.
    /// Returns nil if a 2 MiB page is in the way or frames ran out.
    static func pageTableEntry(_ virtual: UInt, create: Bool) -> UnsafeMutablePointer<UInt64>? {
        guard virtual < 0x0000_8000_0000_0000 else { return nil }
        var current = pml4
        var shift: UInt = 39
        while shift >= 21 {
            let index = Int((virtual >> shift) & 511)
            var entry = current[index]
            if entry & present == 0 {
                guard create, let frame = Frames.allocate() else { return nil }
                entry = UInt64(frame) | present | writable
                current[index] = entry
            }
            if entry & hugePage != 0 { return nil }
            current = table(entry)
            shift -= 9
        }
        return current + Int((virtual >> 12) & 511)
    }

    @discardableResult
    static func map(_ virtual: UInt, to physical: UInt, writable isWritable: Bool = true) -> Bool {
        guard let pte = pageTableEntry(virtual, create: true) else { return false }
        pte.pointee = UInt64(physical) & addressMask | present | (isWritable ? writable : 0)
        cpu_invlpg(virtual)
        return true
    }

    static func unmap(_ virtual: UInt) {
        guard let pte = pageTableEntry(virtual, create: false) else { return }
        pte.pointee = 0
        cpu_invlpg(virtual)
    }

    // MARK: Demand paging

    static func inDemandWindow(_ address: UInt) -> Bool {
        address >= demandWindowStart && address < demandWindowEnd
    }

    /// Called by the page-fault handler. True if the fault was resolved by
    /// mapping a page (the CPU then restarts the faulting instruction).
    static func resolveDemandFault(address: UInt, errorCode: UInt64) -> Bool {
        guard inDemandWindow(address), errorCode & 1 == 0 else { return false }
        let page = address & ~(Frames.size - 1)
        for i in 0..<demandSlots where demandPages[i] == 0 && demandFrames[i] != 0 {
            let frame = demandFrames[i]
            UnsafeMutableRawPointer(bitPattern: frame)!
                .initializeMemory(as: UInt8.self, repeating: 0, count: Int(Frames.size))
            guard map(page, to: frame) else { return false }
            demandPages[i] = page
            return true
        }
        return false
    }

    /// Unmaps every demand-paged page again.
    static func releaseDemandPages() {
        for i in 0..<demandSlots where demandPages[i] != 0 {
            unmap(demandPages[i])
            demandPages[i] = 0
        }
    }
}
