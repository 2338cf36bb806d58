import XCTest
import Devices
@testable import Display

final class TextRendererTests: XCTestCase {
    private func makeVGA() -> VGA { VGA(clock: VirtualClock(), trace: TraceSink()) }

    private func put(_ vga: VGA, row: Int, col: Int, _ text: String, attr: UInt8) {
        for (k, b) in text.utf8.enumerated() { put(vga, row: row, col: col + k, ch: b, attr: attr) }
    }

    private func put(_ vga: VGA, row: Int, col: Int, ch: UInt8, attr: UInt8) {
        let off = UInt32(0x18000 + (row * 80 + col) * 2)
        vga.memWrite(off, size: 2, value: UInt64(ch) | UInt64(attr) << 8)
    }

    /// Checks one cell pixel by pixel against the glyph bits and palette.
    private func checkCell(_ fb: Framebuffer, _ s: TextScreen, row: Int, col: Int,
                           cursorLines: ClosedRange<Int>? = nil, hidden: Bool = false,
                           file: StaticString = #filePath, line: UInt = #line) {
        let cell = s.cells[row * s.cols + col]
        let ch = Int(cell & 0xFF), attr = Int(cell >> 8)
        let fg = s.palette[attr & 15]
        let bg = s.palette[s.blinkEnabled ? (attr >> 4) & 7 : attr >> 4]
        var mismatches = 0
        for y in 0..<16 {
            let bits = Int(VGA.defaultFont8x16[ch * 16 + y])
            for x in 0..<9 {
                var on: Bool
                if x < 8 {
                    on = bits & (0x80 >> x) != 0
                } else {
                    on = (0xC0...0xDF).contains(ch) && bits & 1 != 0
                }
                if hidden { on = false }
                if let c = cursorLines, c.contains(y) { on = true }
                let want = on ? fg : bg
                if fb.pixel(col * 9 + x, row * 16 + y) != want { mismatches += 1 }
            }
        }
        XCTAssertEqual(mismatches, 0, "cell \(row),\(col) char \(ch) attr \(attr)", file: file, line: line)
    }

    func testRendersMode3CellsFromGlyphsAndPalette() {
        let vga = makeVGA()
        put(vga, row: 0, col: 0, "Hello, VGA!", attr: 0x1F)
        put(vga, row: 3, col: 10, "gjpqy", attr: 0x4E)
        for (k, ch) in [UInt8(0xC4), 0xC5, 0xDB, 0xB3, 0xCD, 0xC9].enumerated() {
            put(vga, row: 5, col: k, ch: ch, attr: 0x0A)
        }
        put(vga, row: 24, col: 79, ch: 0x41, attr: 0x70)
        let s = vga.textScreen()
        // Time 20 frames in: cursor off phase (frames 8-15 on? 16-23 -> (20>>3)&1 = 0: on).
        let t: UInt64 = 0
        let fb = TextRenderer.render(s, time: t)
        XCTAssertEqual(fb.width, 720)
        XCTAssertEqual(fb.height, 400)
        for c in 0..<11 { checkCell(fb, s, row: 0, col: c, cursorLines: c == 0 ? 13...14 : nil) }
        for c in 10..<15 { checkCell(fb, s, row: 3, col: c) }
        for c in 0..<6 { checkCell(fb, s, row: 5, col: c) }
        checkCell(fb, s, row: 24, col: 79)
        checkCell(fb, s, row: 12, col: 40)
        // Line graphics: the horizontal line of 0xC4 runs through the 9th column,
        // so two adjacent cells join; 0xB3 (outside 0xC0-0xDF) has a background 9th column.
        let hLine = (0..<16).first { VGA.defaultFont8x16[0xC4 * 16 + $0] == 0xFF }!
        XCTAssertEqual(fb.pixel(8, 5 * 16 + hLine), s.palette[0x0A])
        XCTAssertEqual(fb.pixel(3 * 9 + 8, 5 * 16 + 3), s.palette[0])
        XCTAssertEqual(s.palette[0x0A], 0xFF55_FF55)   // light green
    }

    func testCursorBlinksEvery8Frames() {
        let vga = makeVGA()
        vga.ioWrite(0x3D4, size: 2, value: 0x0F | 5 << 8)   // cursor at column 5
        let s = vga.textScreen()
        let frameNs = 1e9 * 900 * 449 / 28.322e6
        let on = TextRenderer.render(s, time: UInt64(frameNs * 2))
        let off = TextRenderer.render(s, time: UInt64(frameNs * 10))
        let onAgain = TextRenderer.render(s, time: UInt64(frameNs * 17))
        checkCell(on, s, row: 0, col: 5, cursorLines: 13...14)
        checkCell(off, s, row: 0, col: 5)
        checkCell(onAgain, s, row: 0, col: 5, cursorLines: 13...14)
        // Cursor covers the 9th column too, in the cell's foreground colour.
        XCTAssertEqual(on.pixel(5 * 9 + 8, 13), s.palette[7])
    }

    func testBlinkAttribute() {
        let vga = makeVGA()
        put(vga, row: 1, col: 0, "Blink", attr: 0xC9)    // blink, red bg (bit 6 of bg -> 4 when blinking), light blue fg
        let s = vga.textScreen()
        let frameNs = 1e9 * 900 * 449 / 28.322e6
        let visible = TextRenderer.render(s, time: UInt64(frameNs * 3))
        let hidden = TextRenderer.render(s, time: UInt64(frameNs * 20))
        for c in 0..<5 {
            checkCell(visible, s, row: 1, col: c)
            checkCell(hidden, s, row: 1, col: c, hidden: true)
        }
        XCTAssertEqual(visible.pixel(0, 16), s.palette[4], "background limited to 8 colours")
        // Blink disabled: bit 7 is background intensity, text always shown.
        _ = vga.ioRead(0x3DA, size: 1)
        vga.ioWrite(0x3C0, size: 1, value: 0x30)
        vga.ioWrite(0x3C0, size: 1, value: 0x04)
        let s2 = vga.textScreen()
        let fb2 = TextRenderer.render(s2, time: UInt64(frameNs * 20))
        for c in 0..<5 { checkCell(fb2, s2, row: 1, col: c) }
        XCTAssertEqual(fb2.pixel(0, 16), s2.palette[12])
    }

    func testIncrementalRenderingRedrawsOnlyChangedCells() {
        let vga = makeVGA()
        vga.ioWrite(0x3D4, size: 2, value: 0x0A | 0x20 << 8)   // cursor off
        var r = TextRenderer()
        XCTAssertEqual(r.render(vga.textScreen(), time: 0), PixelRect(x: 0, y: 0, width: 720, height: 400))
        XCTAssertNil(r.render(vga.textScreen(), time: 1_000_000))
        put(vga, row: 2, col: 3, ch: 0x41, attr: 0x07)
        put(vga, row: 4, col: 7, ch: 0x42, attr: 0x07)
        XCTAssertEqual(r.render(vga.textScreen(), time: 2_000_000), PixelRect(x: 27, y: 32, width: 45, height: 48))
        let s = vga.textScreen()
        XCTAssertEqual(r.framebuffer, TextRenderer.render(s, time: 0))
        // A palette change redraws everything.
        vga.ioWrite(0x3C8, size: 1, value: 0)
        for v: UInt32 in [0x10, 0x10, 0x10] { vga.ioWrite(0x3C9, size: 1, value: v) }
        XCTAssertEqual(r.render(vga.textScreen(), time: 3_000_000), PixelRect(x: 0, y: 0, width: 720, height: 400))
        XCTAssertEqual(r.framebuffer.pixel(719, 399), 0xFF41_4141)
    }

    func testCustomFontFromPlane2IsUsed() {
        let vga = makeVGA()
        // Load a glyph for 'A' the way a guest does: plane 2 at 0xA0000.
        let w = { (p: UInt16, v: UInt8) in vga.ioWrite(p, size: 1, value: UInt32(v)) }
        w(0x3C4, 2); w(0x3C5, 4); w(0x3C4, 4); w(0x3C5, 7)
        w(0x3CE, 4); w(0x3CF, 2); w(0x3CE, 5); w(0x3CF, 0); w(0x3CE, 6); w(0x3CF, 4)
        for line in 0..<16 { vga.memWrite(UInt32(0x41 * 32 + line), size: 1, value: line % 2 == 0 ? 0xAA : 0x55) }
        w(0x3C4, 2); w(0x3C5, 3); w(0x3C4, 4); w(0x3C5, 2)
        w(0x3CE, 4); w(0x3CF, 0); w(0x3CE, 5); w(0x3CF, 0x10); w(0x3CE, 6); w(0x3CF, 0x0E)
        put(vga, row: 0, col: 1, ch: 0x41, attr: 0x0F)
        let s = vga.textScreen()
        let fb = TextRenderer.render(s, time: 0)
        for y in 0..<16 {
            for x in 0..<8 {
                let on = (y % 2 == 0) == (x % 2 == 0)
                XCTAssertEqual(fb.pixel(9 + x, y), on ? s.palette[15] : s.palette[0])
            }
        }
    }

    func testBlankedScreenIsBlack() {
        let vga = makeVGA()
        put(vga, row: 0, col: 0, "X", attr: 0x7F)
        _ = vga.ioRead(0x3DA, size: 1)
        vga.ioWrite(0x3C0, size: 1, value: 0x00)   // PAS = 0: display blanked
        let fb = TextRenderer.render(vga.textScreen(), time: 0)
        XCTAssertTrue(fb.pixels.allSatisfy { $0 == 0xFF00_0000 })
    }

    func testHostileScreenDoesNotTrap() {
        var s = makeVGA().textScreen()
        s.cells = []
        var r = TextRenderer()
        XCTAssertNil(r.render(s, time: 0))
        let vga = makeVGA()
        // Max scan line 31, 8-dot characters, odd sizes.
        vga.ioWrite(0x3D4, size: 2, value: 0x09 | 0x1F << 8)
        vga.ioWrite(0x3C4, size: 2, value: 0x01 | 0x01 << 8)
        vga.ioWrite(0x3D4, size: 2, value: 0x0A | 0x00 << 8)
        vga.ioWrite(0x3D4, size: 2, value: 0x0B | 0x1F << 8)
        let s2 = vga.textScreen()
        let fb = TextRenderer.render(s2, time: 0)
        XCTAssertEqual(fb.width, 640)
        XCTAssertEqual(fb.height, s2.rows * 32)
    }
}
