import XCTest
@testable import Devices

final class VGATests: XCTestCase {
    private var clock: VirtualClock!
    private var trace: TraceSink!
    private var vga: VGA!

    override func setUp() {
        clock = VirtualClock()
        trace = TraceSink()
        vga = VGA(clock: clock, trace: trace)
    }

    private func out(_ port: UInt16, _ v: UInt8) { vga.ioWrite(port, size: 1, value: UInt32(v)) }
    private func inb(_ port: UInt16) -> UInt8 { UInt8(truncatingIfNeeded: vga.ioRead(port, size: 1)) }
    private func poke(_ addr: UInt32, _ v: UInt8) { vga.memWrite(addr - 0xA0000, size: 1, value: UInt64(v)) }
    private func peek(_ addr: UInt32) -> UInt8 { UInt8(truncatingIfNeeded: vga.memRead(addr - 0xA0000, size: 1)) }

    // MARK: firmware state

    func testFirmwareStateIsMode3() {
        let s = vga.textScreen()
        XCTAssertEqual(s.cols, 80)
        XCTAssertEqual(s.rows, 25)
        XCTAssertEqual(s.charHeight, 16)
        XCTAssertEqual(s.cursorStart, 0x0D)
        XCTAssertEqual(s.cursorEnd, 0x0E)
        XCTAssertEqual(s.cursorRow, 0)
        XCTAssertEqual(s.cursorCol, 0)
        XCTAssertTrue(s.cursorEnabled)
        XCTAssertTrue(s.blinkEnabled)
        XCTAssertTrue(s.nineDot)
        XCTAssertTrue(s.lineGraphics)
        XCTAssertTrue(s.screenOn)
        XCTAssertFalse(s.graphicsMode)
        XCTAssertTrue(s.cells.allSatisfy { $0 == 0x0720 })
        XCTAssertEqual(inb(0x3CC), 0x67)
        // Standard 16 colours: black, blue, ..., brown (6), light grey (7), white (15).
        XCTAssertEqual(s.palette[0], rgba(0, 0, 0))
        XCTAssertEqual(s.palette[1], rgba(0, 0, 0xAA))
        XCTAssertEqual(s.palette[6], rgba(0xAA, 0x55, 0))
        XCTAssertEqual(s.palette[7], rgba(0xAA, 0xAA, 0xAA))
        XCTAssertEqual(s.palette[8], rgba(0x55, 0x55, 0x55))
        XCTAssertEqual(s.palette[14], rgba(0xFF, 0xFF, 0x55))
        XCTAssertEqual(s.palette[15], rgba(0xFF, 0xFF, 0xFF))
        // Font: plane 2 holds the default glyphs in 32-byte slots.
        for c in [0x41, 0xC4, 0xDB] {
            XCTAssertEqual(Array(s.font[c * 32..<c * 32 + 16]),
                           Array(VGA.defaultFont8x16[c * 16..<c * 16 + 16]))
            XCTAssertEqual(Array(s.font[c * 32 + 16..<c * 32 + 32]), [UInt8](repeating: 0, count: 16))
        }
        XCTAssertEqual(VGA.defaultFont8x16.count, 4096)
    }

    private func rgba(_ r: UInt32, _ g: UInt32, _ b: UInt32) -> UInt32 { r | g << 8 | b << 16 | 0xFF00_0000 }

    // MARK: text memory

    func testTextMemoryOddEvenPlanes() {
        poke(0xB8000, 0x48)   // 'H'
        poke(0xB8001, 0x1F)   // white on blue
        vga.memWrite(0xB8002 - 0xA0000, size: 2, value: 0x4E69)  // 'i' red background/yellow
        XCTAssertEqual(vga.vram[0], 0x48)
        XCTAssertEqual(vga.vram[0x10000], 0x1F)
        XCTAssertEqual(vga.vram[2], 0x69)
        XCTAssertEqual(vga.vram[0x10002], 0x4E)
        XCTAssertEqual(vga.vram[0x20000], VGA.defaultFont8x16[0], "font plane untouched")
        let s = vga.textScreen()
        XCTAssertEqual(s.cells[0], 0x1F48)
        XCTAssertEqual(s.cells[1], 0x4E69)
        XCTAssertEqual(vga.memRead(0xB8000 - 0xA0000, size: 4), 0x4E69_1F48)
        XCTAssertTrue(vga.textLines()[0].hasPrefix("Hi "))
        XCTAssertEqual(vga.textLines().count, 25)
        // Outside the 0xB8000 window (memory map 3): reads float, writes vanish.
        XCTAssertEqual(peek(0xA0000), 0xFF)
        poke(0xA0000, 0x55)
        XCTAssertEqual([vga.vram[0], vga.vram[0x10000], vga.vram[0x20000], vga.vram[0x30000]],
                       [0x48, 0x1F, VGA.defaultFont8x16[0], 0])
    }

    func testTextLinesMapsCP437() {
        let bytes: [UInt8] = [0xC9, 0xCD, 0xBB, 0x01, 0x82, 0xE1, 0x00]
        for (i, b) in bytes.enumerated() { poke(0xB8000 + UInt32(2 * i), b) }
        XCTAssertTrue(vga.textLines()[0].hasPrefix("╔═╗☺éß "))
    }

    func testStartAddressScrollsTheView() {
        poke(0xB8000 + 160, 0x41)        // row 1, col 0
        out(0x3D4, 0x0C); out(0x3D5, 0x00)
        out(0x3D4, 0x0D); out(0x3D5, 80) // start at cell 80
        XCTAssertEqual(vga.textScreen().cells[0] & 0xFF, 0x41)
    }

    // MARK: CRTC

    func testCursorRegisters() {
        vga.ioWrite(0x3D4, size: 2, value: 0x0E | (0x01 << 8))  // word out: index then data
        out(0x3D4, 0x0F); out(0x3D5, 0x42)                      // 0x0142 = 322 = row 4 col 2
        var s = vga.textScreen()
        XCTAssertEqual(s.cursorRow, 4)
        XCTAssertEqual(s.cursorCol, 2)
        XCTAssertTrue(s.cursorEnabled)
        out(0x3D4, 0x0E); XCTAssertEqual(inb(0x3D5), 0x01)
        out(0x3D4, 0x0F); XCTAssertEqual(inb(0x3D5), 0x42)
        XCTAssertEqual(inb(0x3D4), 0x0F)
        out(0x3D4, 0x0A); out(0x3D5, 0x20 | 0x06)
        out(0x3D4, 0x0B); out(0x3D5, 0x07)
        s = vga.textScreen()
        XCTAssertFalse(s.cursorEnabled, "bit 5 of 0x0A turns the cursor off")
        XCTAssertEqual(s.cursorStart, 6)
        XCTAssertEqual(s.cursorEnd, 7)
        // Off-screen cursor location: not shown.
        out(0x3D4, 0x0A); out(0x3D5, 0x0D)
        out(0x3D4, 0x0E); out(0x3D5, 0x07); out(0x3D4, 0x0F); out(0x3D5, 0xD0)  // 2000
        XCTAssertFalse(vga.textScreen().cursorEnabled)
    }

    func testCRTCWriteProtectAndMonoAddressing() {
        out(0x3D4, 0x01); out(0x3D5, 0x27)  // protected by 0x11 bit 7 (mode 3)
        XCTAssertEqual(vga.crtcRegister(1), 0x4F)
        out(0x3D4, 0x11); out(0x3D5, 0x0E)  // clear protect
        out(0x3D4, 0x01); out(0x3D5, 0x27)
        XCTAssertEqual(vga.crtcRegister(1), 0x27)
        XCTAssertEqual(vga.textScreen().cols, 40)
        // Colour addressing: 0x3B4/0x3B5/0x3BA float.
        XCTAssertEqual(inb(0x3B4), 0xFF)
        out(0x3B4, 0x0F); out(0x3B5, 0x33)
        XCTAssertNotEqual(vga.crtcRegister(0x0F), 0x33)
        // Switch to mono addressing: now 0x3Dx floats.
        out(0x3C2, 0x66)
        out(0x3B4, 0x0F); out(0x3B5, 0x33)
        XCTAssertEqual(vga.crtcRegister(0x0F), 0x33)
        XCTAssertEqual(inb(0x3D5), 0xFF)
    }

    func testCursorTraceOnlyWhenWanted() {
        var events: [TraceEvent] = []
        trace.handler = { events.append($0) }
        out(0x3D4, 0x0F); out(0x3D5, 0x05)
        XCTAssertTrue(events.isEmpty)
        trace.enabled = .vga
        out(0x3D5, 0x06)
        XCTAssertEqual(events, [TraceEvent(.vga, "cursor-pos", [("offset", hex16(6))])])
    }

    // MARK: attribute controller

    func testAttributeFlipFlopResetByInputStatus1() {
        _ = inb(0x3DA)
        out(0x3C0, 0x01)          // index 1 (PAS = 0: palette writable, display blanked)
        out(0x3C0, 0x3F)          // palette 1 = 0x3F (white)
        XCTAssertFalse(vga.textScreen().screenOn)
        out(0x3C0, 0x20)          // index write again: PAS on
        XCTAssertTrue(vga.textScreen().screenOn)
        XCTAssertEqual(vga.attributeRegister(1), 0x3F)
        XCTAssertEqual(vga.textScreen().palette[1], rgba(0xFF, 0xFF, 0xFF))
        // A stray write leaves the flip-flop in the data state; reading 0x3DA resets it.
        out(0x3C0, 0x12)          // index 0x12 (+ PAS clear)
        _ = inb(0x3DA)            // reset: the next write is an index again
        out(0x3C0, 0x34)          // index 0x14 with PAS set
        out(0x3C0, 0x00)          // colour select = 0
        XCTAssertEqual(vga.attributeRegister(0x12), 0x0F, "colour plane enable untouched")
        XCTAssertEqual(inb(0x3C0), 0x34)
        // Palette writes are ignored while PAS = 1.
        _ = inb(0x3DA)
        out(0x3C0, 0x22); out(0x3C0, 0x00)
        XCTAssertEqual(vga.attributeRegister(2), 0x02)
        // 0x3C1 reads the indexed register.
        _ = inb(0x3DA)
        out(0x3C0, 0x30)
        XCTAssertEqual(inb(0x3C1), 0x0C)
    }

    func testBlinkBitAndColourPlaneEnable() {
        _ = inb(0x3DA)
        out(0x3C0, 0x30); out(0x3C0, 0x04)   // mode control: blink off
        XCTAssertFalse(vga.textScreen().blinkEnabled)
        out(0x3C0, 0x32); out(0x3C0, 0x07)   // colour plane enable: planes 0-2 only
        let s = vga.textScreen()
        XCTAssertEqual(s.palette[15], s.palette[7], "intensity plane masked off")
    }

    // MARK: DAC

    func testPaletteThroughDAC() {
        out(0x3C8, 0x07)                      // entry 7 (light grey's DAC entry)
        out(0x3C9, 0x3F); out(0x3C9, 0x00); out(0x3C9, 0x20)
        out(0x3C9, 0x01); out(0x3C9, 0x02); out(0x3C9, 0xFF)  // auto-increment to entry 8; 6-bit masked
        XCTAssertEqual(inb(0x3C8), 0x09)
        XCTAssertEqual(vga.textScreen().palette[7], rgba(0xFF, 0x00, 0x82))
        out(0x3C7, 0x07)
        XCTAssertEqual(inb(0x3C7), 0x03)
        XCTAssertEqual([inb(0x3C9), inb(0x3C9), inb(0x3C9), inb(0x3C9), inb(0x3C9), inb(0x3C9)],
                       [0x3F, 0x00, 0x20, 0x01, 0x02, 0x3F])
        out(0x3C8, 0x00)
        XCTAssertEqual(inb(0x3C7), 0x00)
        // Colour 15 uses palette register 15 = 0x3F -> DAC 63 (white); pel mask 0x0F -> DAC 15.
        out(0x3C6, 0x0F)
        // DAC 15 in the EGA layout is 001111: (0x2A, 0x2A, 0x3F).
        XCTAssertEqual(vga.textScreen().palette[15], rgba(0xAA, 0xAA, 0xFF))
        // Colour select with P54S: DAC index bits 5-4 from colour select.
        out(0x3C6, 0xFF)
        _ = inb(0x3DA)
        out(0x3C0, 0x30); out(0x3C0, 0x8C)   // P54S on
        out(0x3C0, 0x34); out(0x3C0, 0x03)   // colour select = 3 -> bits 5-4 = 11
        out(0x3C8, 0x31)                      // DAC 0x31 = palette 1 (0x01 & 0xF) | 0x30
        out(0x3C9, 0x10); out(0x3C9, 0x20); out(0x3C9, 0x30)
        XCTAssertEqual(vga.textScreen().palette[1], rgba(0x41, 0x82, 0xC3))
    }

    func testPaletteTrace() {
        var events: [TraceEvent] = []
        trace.handler = { events.append($0) }
        trace.enabled = .vga
        out(0x3C8, 0x05); out(0x3C9, 1); out(0x3C9, 2); out(0x3C9, 3)
        XCTAssertEqual(events.last, TraceEvent(.vga, "dac", [("index", hex8(5)), ("r", hex8(1)), ("g", hex8(2)), ("b", hex8(3))]))
    }

    // MARK: planar access and font loading

    /// The sequence a VGA BIOS uses to load a font: plane 2 only, sequential
    /// addressing, memory at 0xA0000.
    private func enterFontAccess() {
        out(0x3C4, 0x02); out(0x3C5, 0x04)   // map mask: plane 2
        out(0x3C4, 0x04); out(0x3C5, 0x07)   // memory mode: odd/even off
        out(0x3CE, 0x04); out(0x3CF, 0x02)   // read map select: plane 2
        out(0x3CE, 0x05); out(0x3CF, 0x00)   // GC mode: write mode 0, odd/even off
        out(0x3CE, 0x06); out(0x3CF, 0x04)   // misc: A0000 64K, text
    }

    private func leaveFontAccess() {
        out(0x3C4, 0x02); out(0x3C5, 0x03)
        out(0x3C4, 0x04); out(0x3C5, 0x02)
        out(0x3CE, 0x04); out(0x3CF, 0x00)
        out(0x3CE, 0x05); out(0x3CF, 0x10)
        out(0x3CE, 0x06); out(0x3CF, 0x0E)
    }

    func testPlane2FontLoad() {
        poke(0xB8000, 0x41); poke(0xB8001, 0x07)
        enterFontAccess()
        let glyph: [UInt8] = [0xFF, 0x81, 0x81, 0xFF, 0x00, 0x18, 0x18, 0x00, 0xAA, 0x55, 0xAA, 0x55, 0x01, 0x02, 0x04, 0x08]
        for (i, b) in glyph.enumerated() { poke(0xA0000 + 0x41 * 32 + UInt32(i), b) }
        XCTAssertEqual(peek(0xA0000 + 0x41 * 32 + 8), 0xAA, "reads plane 2")
        leaveFontAccess()
        let s = vga.textScreen()
        XCTAssertEqual(Array(s.font[0x41 * 32..<0x41 * 32 + 16]), glyph)
        XCTAssertEqual(s.cells[0], 0x0741, "text planes untouched by the font load")
        XCTAssertEqual(peek(0xB8000), 0x41)
        XCTAssertEqual(peek(0xB8001), 0x07)
    }

    /// A firmware-state reset (a reboot) leaves the planes exactly as a new
    /// VGA has them, whatever the guest wrote (they are cleared in place).
    func testFirmwareStateResetRestoresEveryPlane() {
        let fresh = VGA(clock: VirtualClock(), trace: TraceSink()).vram
        enterFontAccess()
        out(0x3C4, 0x02); out(0x3C5, 0x0F)       // write all four planes
        out(0x3CE, 0x06); out(0x3CF, 0x05)       // graphics, A0000 64K
        for a in stride(from: UInt32(0xA0000), to: 0xB0000, by: 97) { poke(a, UInt8(truncatingIfNeeded: a >> 3)) }
        vga.loadFont([UInt8](repeating: 0x5A, count: 256 * 8), height: 8, bank: 5)
        XCTAssertNotEqual(vga.vram, fresh)
        vga.applyFirmwareState()
        XCTAssertEqual(vga.vram, fresh)
        XCTAssertTrue(vga.textScreen().cells.allSatisfy { $0 == 0x0720 })
    }

    /// Glyph slots are 32 bytes: lines past the glyph height, and glyphs past
    /// the end of a short table, are blank.
    func testLoadFontPadsShortGlyphsAndShortTables() {
        let glyphs = (0..<(10 * 14 + 5)).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }   // 10 glyphs and 5 lines of 14
        vga.loadFont([UInt8](repeating: 0xEE, count: 256 * 32), height: 32, bank: 1)
        vga.loadFont(glyphs, height: 14, bank: 1)
        let base = 0x20000 + 0x4000
        for c in 0..<256 {
            for line in 0..<32 {
                let src = c * 14 + line
                let want: UInt8 = line < 14 && src < glyphs.count ? glyphs[src] : 0
                if vga.vram[base + c * 32 + line] != want {
                    return XCTFail("glyph \(c) line \(line): \(vga.vram[base + c * 32 + line]) instead of \(want)")
                }
            }
        }
        XCTAssertEqual(vga.vram[0x20000 + 0x41 * 32], VGA.defaultFont8x16[0x41 * 16], "bank 0 untouched")
        // Heights are clamped to 1...32.
        vga.loadFont([1, 2, 3], height: 0, bank: 2)
        XCTAssertEqual(Array(vga.vram[0x28000..<0x28000 + 66]), [1] + [UInt8](repeating: 0, count: 31) + [2] + [UInt8](repeating: 0, count: 31) + [3, 0])
    }

    func testCharacterMapSelect() {
        enterFontAccess()
        poke(0xA0000 + 0x4000 + 0x41 * 32, 0x99)  // map 1 at 16 KiB
        leaveFontAccess()
        out(0x3C4, 0x03); out(0x3C5, 0x04)        // map A = 1 (bits 5,3,2 = 001), map B = 0
        let s = vga.textScreen()
        XCTAssertEqual(s.fontAlt?[0x41 * 32], 0x99)
        XCTAssertEqual(s.font[0x41 * 32], VGA.defaultFont8x16[0x41 * 16])
    }

    func testWriteModesAndLatches() {
        enterFontAccess()
        out(0x3C4, 0x02); out(0x3C5, 0x0F)       // all planes
        out(0x3CE, 0x06); out(0x3CF, 0x05)       // graphics, A0000 64K
        // Write mode 0 with set/reset on planes 0 and 2.
        out(0x3CE, 0x00); out(0x3CF, 0x05)
        out(0x3CE, 0x01); out(0x3CF, 0x0F)
        poke(0xA0010, 0x00)
        XCTAssertEqual([vga.vram[0x10], vga.vram[0x10010], vga.vram[0x20010], vga.vram[0x30010]], [0xFF, 0x00, 0xFF, 0x00])
        // Bit mask keeps latched bits: load latches, then write with mask 0x0F.
        out(0x3CE, 0x01); out(0x3CF, 0x00)
        out(0x3CE, 0x08); out(0x3CF, 0x0F)
        _ = peek(0xA0010)
        poke(0xA0010, 0x00)
        XCTAssertEqual([vga.vram[0x10], vga.vram[0x10010]], [0xF0, 0x00])
        // Write mode 1 copies the latches.
        out(0x3CE, 0x08); out(0x3CF, 0xFF)
        out(0x3CE, 0x05); out(0x3CF, 0x01)
        _ = peek(0xA0010)
        poke(0xA0020, 0x12)
        XCTAssertEqual([vga.vram[0x20], vga.vram[0x10020], vga.vram[0x20020]], [0xF0, 0x00, 0xF0])
        // Write mode 2: colour bits to every pixel; XOR logical op.
        out(0x3CE, 0x05); out(0x3CF, 0x02)
        out(0x3CE, 0x03); out(0x3CF, 0x18)       // XOR
        _ = peek(0xA0010)
        poke(0xA0010, 0x03)                       // planes 0,1 XOR 0xFF
        XCTAssertEqual([vga.vram[0x10], vga.vram[0x10010], vga.vram[0x20010]], [0x0F, 0xFF, 0xF0])
        // Read mode 1: colour compare.
        out(0x3CE, 0x03); out(0x3CF, 0x00)
        out(0x3CE, 0x05); out(0x3CF, 0x08)
        out(0x3CE, 0x02); out(0x3CF, 0x06)       // colour 6 = planes 1,2 set, 0 clear
        out(0x3CE, 0x07); out(0x3CF, 0x07)       // ignore plane 3
        XCTAssertEqual(peek(0xA0010), 0xF0)      // plane0 = 0x0F -> bits 7-4 clear there
    }

    func testGarbageAccessesDoNotTrap() {
        for p in UInt16(0x3B0)...0x3DF {
            for v: UInt32 in [0, 0x1F, 0xFF, 0xFFFF_FFFF] {
                vga.ioWrite(p, size: 4, value: v)
                _ = vga.ioRead(p, size: 4)
            }
        }
        for o: UInt32 in [0, 0x1FFFF, 0x20000, 0xFFFF_FFFF, 0x18000] {
            vga.memWrite(o, size: 8, value: .max)
            _ = vga.memRead(o, size: 8)
        }
        _ = vga.textScreen()
        _ = vga.textLines()
    }

    // MARK: timing

    func testRetraceBitsFollowVirtualTime() {
        func status(at t: UInt64) -> UInt8 { clock.now = t; return inb(0x3DA) }
        let lineNs = 1e9 * 900 / 28.322e6
        func t(line: Double, dot: Double = 0) -> UInt64 { UInt64((line * lineNs + dot * lineNs / 900).rounded()) }
        XCTAssertEqual(status(at: t(line: 10, dot: 100)), 0x00, "active display")
        XCTAssertEqual(status(at: t(line: 10, dot: 800)) & 0x09, 0x01, "horizontal blank")
        XCTAssertEqual(status(at: t(line: 405)) & 0x09, 0x01, "vertical blank, no retrace yet")
        XCTAssertEqual(status(at: t(line: 412.5)) & 0x09, 0x09, "vertical retrace")
        XCTAssertEqual(status(at: t(line: 415)) & 0x08, 0x00, "retrace over")
        // Next frame at 14.268 ms: frame period from the formula.
        let frame = 449 * lineNs
        XCTAssertEqual(status(at: UInt64(frame + 412.5 * lineNs)) & 0x08, 0x08)
        XCTAssertEqual(VGA.frameNumber(at: UInt64(frame * 70 + lineNs)), 70)
        // Over one virtual second: about 70 retrace periods of 2 lines.
        var retraces = 0
        var inRetrace = false
        var time: UInt64 = 0
        while time < 1_000_000_000 {
            let r = status(at: time) & 0x08 != 0
            if r && !inRetrace { retraces += 1 }
            inRetrace = r
            time += 20_000
        }
        XCTAssertEqual(retraces, 70)
        XCTAssertEqual(inb(0x3C2) & 0x80, 0)
    }
}
