/// Entry point, called by arch/boot.S once the CPU is in 64-bit mode.
@_cdecl("kernel_main")
public func kernelMain(magic: UInt32, info: UInt32) {
    outb(0x3F8 + 3, 0x03)
    for b in "hello from swift\n".utf8 { outb(0x3F8, b) }
    outl(0xF4, 0)
}

@_cdecl("interrupt_dispatch")
public func interruptDispatch(vector: UInt64, errorCode: UInt64, frame: UnsafeMutablePointer<interrupt_frame>) {
}

@_cdecl("console_putchar")
public func consolePutchar(_ byte: UInt8) {
    outb(0x3F8, byte)
}
