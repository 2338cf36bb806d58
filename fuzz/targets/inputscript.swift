// Fuzz target: the scripted-input parsers (`--input` files, `--keys` text,
// durations) and the delivery of the events they produce.
// See `FuzzHarness.inputScript` in Tests/MachineTests/RobustnessFuzzInputTests.swift.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzHarness.inputScript(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
