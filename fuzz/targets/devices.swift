// Fuzz target: port I/O sequences (plus interrupt acknowledges, key and
// mouse events, serial input, VGA memory accesses and time steps) against
// every device model, wired as on the board. See `FuzzHarness.devices` in
// Tests/MachineTests/RobustnessFuzzInputTests.swift for the input layout.
// For inputs whose last byte is a multiple of 8, the text screen the guest
// left is then drawn as the display draws it (drawing every input would
// halve the rate); an input ending in 'P' also has the frame PNG-encoded.

import Display

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let bench = FuzzHarness.devices(input)
    guard let last = input.last, last & 7 == 0 else { return 0 }
    var renderer = TextRenderer()
    renderer.render(bench.vga.textScreen(), time: bench.clock.now)
    if last == UInt8(ascii: "P") {
        let fb = renderer.framebuffer
        consume(PNG.encode(pixels: fb.pixels, width: fb.width, height: fb.height))
    }
    return 0
}
