// Fuzz target: arbitrary files as kernels: the Multiboot/ELF loader, then
// loading into a PC and running a bounded number of instructions.
// See `FuzzHarness.loader` in Tests/MachineTests/RobustnessFuzzInputTests.swift.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzHarness.loader(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
