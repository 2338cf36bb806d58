// Fuzz target: the debugger's command language: `DebugCommandParser.parse`
// on every line, and execution of what parses on a small machine. See
// `FuzzHarness.debugCommands` in Tests/MachineTests/RobustnessFuzzInputTests.swift.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzHarness.debugCommands(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
