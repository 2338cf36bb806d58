// Fuzz target: arbitrary bytes executed as guest code, in every CPU mode
// (real, 16/32-bit protected, 32-bit/PSE/PAE paging, long mode, ring 3).
// The input layout and the machine it runs in: `FuzzHarness.cpu` in
// Tests/MachineTests/RobustnessFuzzInputTests.swift. Anything may happen to
// the guest; the host must see no trap, no hang and no sanitizer report.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzHarness.cpu(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
