/// Interrupt descriptor table: 256 16-byte gate descriptors.
///
/// Every vector points at its stub in arch/isr.S (stub n is at
/// isr_stub_table + 16 n). All gates are interrupt gates (type 0xE), which
/// clear IF on entry, so handlers run with interrupts disabled and the
/// iretq at the end restores the interrupted RFLAGS.IF.
///
/// Gate layout: offset 15..0 | selector | IST (bits 0-2) | type/attributes
/// (P, DPL, type) | offset 31..16 | offset 63..32 | reserved.
enum IDT {
    static var base: UInt = 0

    static func initialize() {
        guard let frame = Frames.allocate() else {
            kprint("idt: out of memory\n", .bad)
            return
        }
        base = frame
        for vector in 0..<256 {
            let ist: UInt8 = vector == Exceptions.doubleFault ? GDT.doubleFaultIST : 0
            setGate(vector, handler: isr_stub_address(UInt32(vector)), ist: ist)
        }
        cpu_load_idt(UInt64(base), UInt16(256 * 16 - 1))
    }

    static func setGate(_ vector: Int, handler: UInt, ist: UInt8) {
        let gate = UnsafeMutablePointer<UInt64>(bitPattern: base + UInt(vector) * 16)!
        let offset = UInt64(handler)
        let typeAttributes: UInt64 = 0x8E       // P=1, DPL=0, 64-bit interrupt gate
        gate[0] = (offset & 0xFFFF)
            | (UInt64(GDT.kernelCode) << 16)
            | (UInt64(ist & 7) << 32)
            | (typeAttributes << 40)
            | (((offset >> 16) & 0xFFFF) << 48)
        gate[1] = offset >> 32
    }
}
