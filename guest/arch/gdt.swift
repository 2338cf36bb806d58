/// Global descriptor table and the 64-bit task state segment.
///
/// In long mode segmentation is mostly gone, but the CPU still needs a code
/// segment descriptor with L=1 for CS, and a TSS: not for task switching but
/// for its Interrupt Stack Table. An IDT entry with a non-zero IST index makes
/// the CPU switch to that stack before pushing the interrupt frame. The double
/// fault handler uses IST1, so a double fault caused by a kernel stack overflow
/// (the CPU cannot push the page-fault frame onto the guard page) still has a
/// valid stack to run on.
///
///   0x00 null
///   0x08 kernel code, 64-bit (L=1, D=0), DPL 0
///   0x10 kernel data, DPL 0
///   0x18 TSS (a 16-byte "system" descriptor: type 9 = available 64-bit TSS)
enum GDT {
    static let kernelCode: UInt16 = 0x08
    static let kernelData: UInt16 = 0x10
    static let tssSelector: UInt16 = 0x18
    static let doubleFaultIST: UInt8 = 1
    static let istStackSize: UInt = 16 * 1024

    static var gdtBase: UInt = 0
    static var tssBase: UInt = 0
    static var doubleFaultStackTop: UInt = 0

    static func initialize() {
        guard let frame = Frames.allocate(),
              let istStack = Frames.allocate(count: Int(istStackSize / Frames.size)) else {
            kprint("gdt: out of memory\n", .bad)
            return
        }
        gdtBase = frame
        tssBase = frame + 0x100
        doubleFaultStackTop = istStack + istStackSize

        // TSS (104 bytes): RSP0-2 at 4, IST1-7 at 36, I/O map base at 102.
        let tss = UnsafeMutableRawPointer(bitPattern: tssBase)!
        tss.initializeMemory(as: UInt8.self, repeating: 0, count: 104)
        tss.storeBytes(of: UInt64(doubleFaultStackTop), toByteOffset: 36 + 8 * (Int(doubleFaultIST) - 1), as: UInt64.self)
        tss.storeBytes(of: UInt16(104), toByteOffset: 102, as: UInt16.self) // no I/O permission bitmap

        let gdt = UnsafeMutablePointer<UInt64>(bitPattern: gdtBase)!
        gdt[0] = 0
        gdt[1] = 0x00AF_9A00_0000_FFFF   // P=1 DPL=0 S=1 type=execute/read, G=1 L=1
        gdt[2] = 0x00CF_9200_0000_FFFF   // P=1 DPL=0 S=1 type=read/write, G=1 D/B=1
        let base = UInt64(tssBase)
        let limit: UInt64 = 104 - 1
        gdt[3] = (limit & 0xFFFF)
            | ((base & 0xFF_FFFF) << 16)
            | (0x89 << 40)                       // P=1, DPL=0, type 9
            | (((limit >> 16) & 0xF) << 48)
            | (((base >> 24) & 0xFF) << 56)
        gdt[4] = base >> 32

        cpu_load_gdt(UInt64(gdtBase), UInt16(5 * 8 - 1), kernelCode, kernelData)
        cpu_load_tr(tssSelector)
    }
}
