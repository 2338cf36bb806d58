// Fuzz target: the GDB remote protocol: packet framing (`GDBPacket.parse`,
// `GDBFramer`) over an arbitrary byte stream, and the packet handler
// (`GDBServer`) driving a debugger on a small machine. See
// `FuzzHarness.gdb` in Tests/MachineTests/RobustnessFuzzInputTests.swift.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzHarness.gdb(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
