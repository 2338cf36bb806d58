// VGA: registers, 4-plane video memory and the text-mode view of it.
//
// Ports: CRTC (0x3B4/0x3B5 or 0x3D4/0x3D5 by misc output bit 0), input status 1
// (0x3BA / 0x3DA, same rule; write = feature control), attribute controller
// 0x3C0/0x3C1, misc output 0x3C2 write / 0x3CC read, input status 0 0x3C2 read,
// sequencer 0x3C4/0x3C5, DAC 0x3C6-0x3C9, feature control read 0x3CA,
// graphics controller 0x3CE/0x3CF.
//
// Memory: 0xA0000-0xBFFFF (offsets from 0xA0000) mapped through the graphics
// controller's memory map select into four 64 KiB planes with the VGA read
// and write pipeline (latches, rotate, set/reset, logical op, bit mask, read
// modes 0/1, odd/even and chain-4 addressing).
//
// Text mode layout (what mode 3 uses): CPU byte 2n -> plane 0 offset 2n (char),
// 2n+1 -> plane 1 offset 2n (attribute); the CRTC in word mode fetches cell k
// from offset 2k. Glyphs live in plane 2, 32 bytes per glyph, the character
// map select register choosing which 8 KiB bank. In odd/even mode the plane
// offset is the CPU offset with bit 0 cleared (the page bit of misc output
// bit 5 is not folded into the address, as in QEMU); only guests that switch
// between odd/even and planar access to the same bytes could tell.

/// What a renderer needs to draw the text screen (a snapshot).
public struct TextScreen: Equatable {
    /// Characters per row and rows on screen.
    public var cols: Int
    public var rows: Int
    /// cols*rows cells, row-major: character | attribute << 8.
    public var cells: [UInt16]
    /// Cursor cell (may lie outside the screen when the cursor is off-screen).
    public var cursorRow: Int
    public var cursorCol: Int
    /// Cursor scan lines (CRTC 0x0A/0x0B low 5 bits), inclusive.
    public var cursorStart: Int
    public var cursorEnd: Int
    /// False when CRTC 0x0A bit 5 is set or the cursor is outside the screen.
    public var cursorEnabled: Bool
    /// Attribute controller mode control bit 3: attr bit 7 blinks (else it is
    /// background intensity).
    public var blinkEnabled: Bool
    /// 16 colours, resolved through the attribute controller (colour plane
    /// enable, palette registers, colour select) and the DAC (pel mask, 6-bit
    /// to 8-bit). Each is packed so its bytes in memory on a little-endian host
    /// are R, G, B, A: r | g << 8 | b << 16 | 0xFF << 24.
    public var palette: [UInt32]
    /// 256 glyphs x 32 bytes from plane 2 for attribute bit 3 = 0 (character
    /// map B), bit 7 of a byte = leftmost pixel.
    public var font: [UInt8]
    /// The glyphs used when attribute bit 3 = 1 (character map A), when the
    /// two maps differ; nil when they are the same (the usual case).
    public var fontAlt: [UInt8]?
    /// Scan lines per character row (CRTC 0x09 + 1).
    public var charHeight: Int
    /// 9-dot characters (sequencer clocking mode bit 0 = 0).
    public var nineDot: Bool
    /// Line graphics enable (attribute mode control bit 2): the 9th column
    /// repeats the 8th for characters 0xC0-0xDF.
    public var lineGraphics: Bool
    /// Scan line drawn in the foreground for attributes whose bits 0-2 are 001
    /// and bits 4-6 are 000 (CRTC 0x14 low 5 bits); >= charHeight means none.
    public var underlineLine: Int
    /// False when the display is blanked (attribute palette address source
    /// bit clear, or sequencer screen-off bit set): draw it black.
    public var screenOn: Bool
    /// True when the graphics controller is in a graphics (APA) mode; this
    /// snapshot then describes nothing a text renderer can draw.
    public var graphicsMode: Bool

    public init(cols: Int, rows: Int, cells: [UInt16], cursorRow: Int, cursorCol: Int,
                cursorStart: Int, cursorEnd: Int, cursorEnabled: Bool, blinkEnabled: Bool,
                palette: [UInt32], font: [UInt8], fontAlt: [UInt8]? = nil, charHeight: Int,
                nineDot: Bool = true, lineGraphics: Bool = true, underlineLine: Int = 31,
                screenOn: Bool = true, graphicsMode: Bool = false) {
        self.cols = cols; self.rows = rows; self.cells = cells
        self.cursorRow = cursorRow; self.cursorCol = cursorCol
        self.cursorStart = cursorStart; self.cursorEnd = cursorEnd
        self.cursorEnabled = cursorEnabled; self.blinkEnabled = blinkEnabled
        self.palette = palette; self.font = font; self.fontAlt = fontAlt
        self.charHeight = charHeight; self.nineDot = nineDot; self.lineGraphics = lineGraphics
        self.underlineLine = underlineLine; self.screenOn = screenOn; self.graphicsMode = graphicsMode
    }
}

public final class VGA: PortDevice {
    private let clock: VirtualClock
    private let trace: TraceSink

    /// Four planes of 64 KiB each, plane p at offset p << 16.
    public private(set) var vram = [UInt8](repeating: 0, count: 4 * 65536)
    private var latch: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)

    // Registers.
    private var miscOutput: UInt8 = 0
    private var featureControl: UInt8 = 0
    private var seqIndex: UInt8 = 0
    private var seq = [UInt8](repeating: 0, count: 8)
    private var gcIndex: UInt8 = 0
    private var gc = [UInt8](repeating: 0, count: 16)
    private var crtcIndex: UInt8 = 0
    private var crtc = [UInt8](repeating: 0, count: 32)
    private var acIndex: UInt8 = 0          // includes the palette address source bit 0x20
    private var acFlipFlopData = false      // false: next 0x3C0 write is an index
    private var ac = [UInt8](repeating: 0, count: 32)
    private var dac = [UInt8](repeating: 0, count: 256 * 3)
    private var dacReadIndex: UInt8 = 0
    private var dacWriteIndex: UInt8 = 0
    private var dacReadSub = 0
    private var dacWriteSub = 0
    private var dacWriteLatch: (UInt8, UInt8, UInt8) = (0, 0, 0)
    private var dacStateRead = false        // 0x3C7 read: 3 after a read-index write, 0 after write-index
    private var pelMask: UInt8 = 0xFF
    private var subsystemEnable: UInt8 = 1  // 0x3C3

    public init(clock: VirtualClock, trace: TraceSink) {
        self.clock = clock
        self.trace = trace
        applyFirmwareState()
    }

    // MARK: - Firmware hand-off state (mode 3)

    /// Mode 3 register tables as a VGA BIOS programs them (80x25 colour text,
    /// 9x16 characters, 720x400 at 70 Hz). See devices.md 1.7.
    private static let mode3Seq: [UInt8] = [0x03, 0x00, 0x03, 0x00, 0x02]
    private static let mode3CRTC: [UInt8] = [
        0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00,
        0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF,
    ]
    private static let mode3AC: [UInt8] = [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
        0x0C, 0x00, 0x0F, 0x08, 0x00,
    ]
    private static let mode3GC: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x0F, 0xFF]

    /// Puts the VGA in the state a VGA BIOS leaves after setting mode 3: the
    /// mode 3 register tables, the 64-colour EGA palette in DAC entries 0-63
    /// (the rest black), the 8x16 font in plane 2, the screen cleared to
    /// blanks with attribute 0x07, cursor scan lines 0x0D-0x0E at offset 0.
    public func applyFirmwareState() {
        miscOutput = 0x67
        featureControl = 0
        seq = [UInt8](repeating: 0, count: 8)
        for (i, v) in Self.mode3Seq.enumerated() { seq[i] = v }
        crtc = [UInt8](repeating: 0, count: 32)
        for (i, v) in Self.mode3CRTC.enumerated() { crtc[i] = v }
        ac = [UInt8](repeating: 0, count: 32)
        for (i, v) in Self.mode3AC.enumerated() { ac[i] = v }
        gc = [UInt8](repeating: 0, count: 16)
        for (i, v) in Self.mode3GC.enumerated() { gc[i] = v }
        seqIndex = 0; gcIndex = 0; crtcIndex = 0
        acIndex = 0x20            // palette address source set: display on
        acFlipFlopData = false
        // EGA-compatible 64-entry DAC palette: index bits rgbRGB
        // (bit 5 r, 4 g, 3 b at 1/3 intensity; bit 2 R, 1 G, 0 B at 2/3).
        dac = [UInt8](repeating: 0, count: 256 * 3)
        for i in 0..<64 {
            dac[i * 3 + 0] = UInt8((i >> 2) & 1) * 0x2A + UInt8((i >> 5) & 1) * 0x15
            dac[i * 3 + 1] = UInt8((i >> 1) & 1) * 0x2A + UInt8((i >> 4) & 1) * 0x15
            dac[i * 3 + 2] = UInt8(i & 1) * 0x2A + UInt8((i >> 3) & 1) * 0x15
        }
        dacReadIndex = 0; dacWriteIndex = 0; dacReadSub = 0; dacWriteSub = 0
        dacStateRead = false
        pelMask = 0xFF
        subsystemEnable = 1
        latch = (0, 0, 0, 0)
        // The planes are cleared in place: a reset keeps their storage
        // (a fresh 256 KiB buffer costs a page fault per 4 KiB touched).
        vram.withUnsafeMutableBufferPointer { v in
            let p = v.baseAddress!
            p.update(repeating: 0, count: v.count)
            // Clear the text screen: blank characters, attribute 0x07 (the
            // whole 32 KiB window the BIOS clears: 16 K cells).
            var off = 0
            while off < 0x8000 {
                p[off] = 0x20            // plane 0: character
                p[0x10000 + off] = 0x07  // plane 1: attribute
                off += 2
            }
        }
        loadFont(VGA.defaultFont8x16, height: 16, bank: 0)
    }

    /// Copies `height`-line glyphs (256 of them, `height` bytes each) into
    /// plane 2 at 32-byte slots of character map bank `bank` (0-7).
    public func loadFont(_ glyphs: [UInt8], height: Int, bank: Int = 0) {
        let base = 0x20000 + Self.fontBankOffset(bank & 7)
        let h = max(1, min(32, height))
        vram.withUnsafeMutableBufferPointer { v in
            glyphs.withUnsafeBufferPointer { g in
                for c in 0..<256 {
                    let slot = v.baseAddress! + base + c * 32
                    // Lines past the glyph height or past the end of
                    // `glyphs` are blank.
                    let n = max(0, min(h, g.count - c * h))
                    if n > 0 { slot.update(from: g.baseAddress! + c * h, count: n) }
                    (slot + n).update(repeating: 0, count: 32 - n)
                }
            }
        }
    }

    /// Character map banks: 0-3 at 0/16/32/48 KiB, 4-7 at 8/24/40/56 KiB.
    private static func fontBankOffset(_ bank: Int) -> Int {
        (bank & 3) * 0x4000 + ((bank >> 2) & 1) * 0x2000
    }

    // MARK: - Ports

    private var colorIO: Bool { miscOutput & 1 != 0 }

    public func ioRead(_ port: UInt16, size: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<max(1, min(size, 4)) {
            v |= UInt32(readByte(port &+ UInt16(i))) << (8 * UInt32(i))
        }
        return v
    }

    public func ioWrite(_ port: UInt16, size: Int, value: UInt32) {
        // A word write to an index port writes the index, then the data port
        // (`out dx, ax` with dx = 0x3D4 is the usual way to set a CRTC register).
        for i in 0..<max(1, min(size, 4)) {
            writeByte(port &+ UInt16(i), UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))))
        }
    }

    private func readByte(_ port: UInt16) -> UInt8 {
        switch port {
        case 0x3B4, 0x3D4:
            guard (port == 0x3D4) == colorIO else { return 0xFF }
            return crtcIndex
        case 0x3B5, 0x3D5:
            guard (port == 0x3D5) == colorIO else { return 0xFF }
            return crtcIndex < 0x19 ? crtc[Int(crtcIndex)] : 0
        case 0x3BA, 0x3DA:
            guard (port == 0x3DA) == colorIO else { return 0xFF }
            acFlipFlopData = false
            return inputStatus1()
        case 0x3C0:
            return acIndex
        case 0x3C1:
            let i = Int(acIndex & 0x1F)
            return i < 0x15 ? ac[i] : 0
        case 0x3C2:
            // Input status 0: bit 4 switch sense (reads 1 with a colour
            // monitor on the standard clocks), bit 7 vertical retrace
            // interrupt pending (never: the interrupt is not wired).
            return 0x10
        case 0x3C3:
            return subsystemEnable
        case 0x3C4:
            return seqIndex
        case 0x3C5:
            return seqIndex < 5 ? seq[Int(seqIndex)] : 0
        case 0x3C6:
            return pelMask
        case 0x3C7:
            return dacStateRead ? 0x03 : 0x00
        case 0x3C8:
            return dacWriteIndex
        case 0x3C9:
            let v = dac[Int(dacReadIndex) * 3 + dacReadSub]
            dacReadSub += 1
            if dacReadSub == 3 { dacReadSub = 0; dacReadIndex &+= 1 }
            return v
        case 0x3CA:
            return featureControl
        case 0x3CC:
            return miscOutput
        case 0x3CE:
            return gcIndex
        case 0x3CF:
            return gcIndex < 9 ? gc[Int(gcIndex)] : 0
        default:
            return 0xFF
        }
    }

    private func writeByte(_ port: UInt16, _ v: UInt8) {
        switch port {
        case 0x3B4, 0x3D4:
            if (port == 0x3D4) == colorIO { crtcIndex = v & 0x1F }
        case 0x3B5, 0x3D5:
            if (port == 0x3D5) == colorIO { writeCRTC(v) }
        case 0x3BA, 0x3DA:
            if (port == 0x3DA) == colorIO { featureControl = v }
        case 0x3C0:
            if !acFlipFlopData {
                acIndex = v & 0x3F
            } else {
                writeAC(v)
            }
            acFlipFlopData.toggle()
        case 0x3C2:
            miscOutput = v
        case 0x3C3:
            subsystemEnable = v & 1
        case 0x3C4:
            seqIndex = v & 0x07
        case 0x3C5:
            if seqIndex < 5 { seq[Int(seqIndex)] = v }
        case 0x3C6:
            pelMask = v
            traceDAC("pel-mask", [("value", hex8(v))])
        case 0x3C7:
            dacReadIndex = v; dacReadSub = 0; dacStateRead = true
        case 0x3C8:
            dacWriteIndex = v; dacWriteSub = 0; dacStateRead = false
        case 0x3C9:
            let c = v & 0x3F
            switch dacWriteSub {
            case 0: dacWriteLatch.0 = c
            case 1: dacWriteLatch.1 = c
            default: dacWriteLatch.2 = c
            }
            dacWriteSub += 1
            if dacWriteSub == 3 {
                let i = Int(dacWriteIndex)
                dac[i * 3] = dacWriteLatch.0
                dac[i * 3 + 1] = dacWriteLatch.1
                dac[i * 3 + 2] = dacWriteLatch.2
                traceDAC("dac", [("index", hex8(dacWriteIndex)), ("r", hex8(dacWriteLatch.0)),
                                 ("g", hex8(dacWriteLatch.1)), ("b", hex8(dacWriteLatch.2))])
                dacWriteSub = 0
                dacWriteIndex &+= 1
            }
        case 0x3CE:
            gcIndex = v & 0x0F
        case 0x3CF:
            if gcIndex < 9 { gc[Int(gcIndex)] = v }
        default:
            break
        }
    }

    private func writeCRTC(_ v: UInt8) {
        let i = Int(crtcIndex)
        guard i < 0x19 else { return }
        // CRTC 0x11 bit 7 write-protects registers 0-7, except the line
        // compare bit 8 (bit 4) of the overflow register 7.
        if crtc[0x11] & 0x80 != 0 && i <= 7 {
            if i == 7 { crtc[7] = (crtc[7] & ~0x10) | (v & 0x10) }
            return
        }
        let old = crtc[i]
        crtc[i] = v
        if trace.wants(.vga) && old != v {
            switch i {
            case 0x0A, 0x0B:
                trace.emit(TraceEvent(.vga, "cursor-shape", [
                    ("start", hex8(crtc[0x0A] & 0x1F)), ("end", hex8(crtc[0x0B] & 0x1F)),
                    ("off", .bool(crtc[0x0A] & 0x20 != 0))]))
            case 0x0E, 0x0F:
                trace.emit(TraceEvent(.vga, "cursor-pos", [("offset", hex16(cursorLocation))]))
            case 0x0C, 0x0D:
                trace.emit(TraceEvent(.vga, "start-address", [("offset", hex16(startAddress))]))
            default:
                break
            }
        }
    }

    private func writeAC(_ v: UInt8) {
        let i = Int(acIndex & 0x1F)
        guard i < 0x15 else { return }
        if i < 16 {
            // The palette registers can be written only while the palette
            // address source bit is 0 (IBM VGA technical reference); QEMU
            // writes them regardless.
            guard acIndex & 0x20 == 0 else { return }
            ac[i] = v & 0x3F
            traceDAC("palette", [("index", hex8(UInt8(i))), ("value", hex8(v & 0x3F))])
        } else {
            ac[i] = v
            if i == 0x10 || i == 0x12 || i == 0x14 {
                traceDAC("attr", [("index", hex8(UInt8(i))), ("value", hex8(v))])
            }
        }
    }

    private func traceDAC(_ name: String, _ fields: @autoclosure () -> [(String, TraceValue)]) {
        if trace.wants(.vga) { trace.emit(TraceEvent(.vga, name, fields())) }
    }

    private var cursorLocation: UInt16 { UInt16(crtc[0x0E]) << 8 | UInt16(crtc[0x0F]) }
    private var startAddress: UInt16 { UInt16(crtc[0x0C]) << 8 | UInt16(crtc[0x0D]) }

    // MARK: - Timing

    // Standard 720x400 @ 70 Hz text timing (mode 3): 28.322 MHz dot clock,
    // 9-dot characters, 100 character clocks per line (900 dots: 80 displayed)
    // and 449 lines per frame (400 displayed; vertical retrace on lines
    // 412-413 from CRTC 0x10 = 0x9C and 0x11 low nibble = 0xE).
    //   dots(t)    = t_ns * 28_322_000 / 1e9 = t_ns * 28_322 / 1_000_000
    //   line       = (dots mod (900 * 449)) / 900, column dot = dots mod 900
    //   frame rate = 28.322e6 / (900 * 449) = 70.086 Hz (14.268 ms)
    //   line rate  = 31.469 kHz (31.778 us)
    // Input status 1 bit 0 (display disabled) = column >= 720 or line >= 400;
    // bit 3 (vertical retrace) = 412 <= line < 414.
    public static let dotClockKHz: UInt64 = 28_322
    public static let dotsPerLine: UInt64 = 900
    public static let linesPerFrame: UInt64 = 449
    public static let displayedDots: UInt64 = 720
    public static let displayedLines: UInt64 = 400
    public static let vretraceStart: UInt64 = 412
    public static let vretraceEnd: UInt64 = 414

    /// Frame position (line, dot within the line) at virtual time `t` (ns).
    public static func beamPosition(at t: UInt64) -> (line: UInt64, dot: UInt64) {
        let p = t.multipliedFullWidth(by: dotClockKHz)
        let dots = 1_000_000 as UInt64
        let (q, _) = dots.dividingFullWidth((p.high, p.low))
        let inFrame = q % (dotsPerLine * linesPerFrame)
        return (inFrame / dotsPerLine, inFrame % dotsPerLine)
    }

    /// Frame number at virtual time `t` (ns): 70.086 frames per virtual second.
    public static func frameNumber(at t: UInt64) -> UInt64 {
        let p = t.multipliedFullWidth(by: dotClockKHz)
        let (q, _) = (1_000_000 as UInt64).dividingFullWidth((p.high, p.low))
        return q / (dotsPerLine * linesPerFrame)
    }

    private func inputStatus1() -> UInt8 {
        let (line, dot) = Self.beamPosition(at: clock.now)
        var v: UInt8 = 0
        if line >= Self.displayedLines || dot >= Self.displayedDots { v |= 0x01 }
        if line >= Self.vretraceStart && line < Self.vretraceEnd { v |= 0x08 }
        return v
    }

    // MARK: - Memory (offsets from 0xA0000)

    /// Maps an offset from 0xA0000 into the window chosen by GC misc bits 2-3;
    /// nil when the address is outside it.
    @inline(__always)
    private func windowOffset(_ offset: UInt32) -> Int? {
        let o = Int(offset)
        switch (gc[6] >> 2) & 3 {
        case 0: return o < 0x20000 ? o : nil
        case 1: return o < 0x10000 ? o : nil
        case 2: return (o >= 0x10000 && o < 0x18000) ? o - 0x10000 : nil
        default: return (o >= 0x18000 && o < 0x20000) ? o - 0x18000 : nil
        }
    }

    public func memRead(_ offset: UInt32, size: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<max(1, min(size, 8)) {
            v |= UInt64(readMem(offset &+ UInt32(i))) << (8 * UInt64(i))
        }
        return v
    }

    public func memWrite(_ offset: UInt32, size: Int, value: UInt64) {
        for i in 0..<max(1, min(size, 8)) {
            writeMem(offset &+ UInt32(i), UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))))
        }
    }

    private func readMem(_ offset: UInt32) -> UInt8 {
        guard let a0 = windowOffset(offset) else { return 0xFF }
        var a = a0 & 0xFFFF
        let plane: Int
        if seq[4] & 0x08 != 0 {            // chain 4
            plane = a & 3
            a >>= 2
        } else if gc[5] & 0x10 != 0 {      // odd/even read (host odd/even)
            plane = (Int(gc[4]) & 2) | (a & 1)
            a &= ~1
        } else {
            plane = Int(gc[4]) & 3
        }
        latch = (vram[a], vram[0x10000 + a], vram[0x20000 + a], vram[0x30000 + a])
        if gc[5] & 0x08 == 0 {
            return vram[plane << 16 + a]
        }
        // Read mode 1: colour compare. A bit is 1 where every plane enabled
        // in colour don't care matches colour compare.
        let cc = gc[2], dc = gc[7]
        var diff: UInt8 = 0
        let l = [latch.0, latch.1, latch.2, latch.3]
        for p in 0..<4 where dc & (1 << UInt8(p)) != 0 {
            let want: UInt8 = cc & (1 << UInt8(p)) != 0 ? 0xFF : 0x00
            diff |= l[p] ^ want
        }
        return ~diff
    }

    private func writeMem(_ offset: UInt32, _ v: UInt8) {
        guard let a0 = windowOffset(offset) else { return }
        var a = a0 & 0xFFFF
        let mapMask = seq[2] & 0x0F
        if seq[4] & 0x08 != 0 {            // chain 4: plane = low two bits
            let plane = a & 3
            if mapMask & (1 << UInt8(plane)) != 0 { vram[plane << 16 + (a >> 2)] = v }
            return
        }
        var planes = mapMask
        if seq[4] & 0x04 == 0 {            // odd/even: A0 picks planes 0/2 or 1/3
            planes &= (a & 1) != 0 ? 0x0A : 0x05
            a &= ~1
        }
        guard planes != 0 else { return }

        let mode = gc[5] & 3
        let rotate = gc[3] & 7
        let op = (gc[3] >> 3) & 3
        let setReset = gc[0], enableSR = gc[1]
        var bitMask = gc[8]
        let rotated = rotate == 0 ? v : (v >> rotate) | (v << (8 - rotate))
        let lat = [latch.0, latch.1, latch.2, latch.3]
        for p in 0..<4 where planes & (1 << UInt8(p)) != 0 {
            let bit = UInt8(1) << UInt8(p)
            var data: UInt8
            switch mode {
            case 0:
                data = enableSR & bit != 0 ? (setReset & bit != 0 ? 0xFF : 0) : rotated
            case 1:
                vram[p << 16 + a] = lat[p]
                continue
            case 2:
                data = v & bit != 0 ? 0xFF : 0
            default:
                data = setReset & bit != 0 ? 0xFF : 0
            }
            if mode == 3 { bitMask = gc[8] & rotated }
            switch op {
            case 1: data &= lat[p]
            case 2: data |= lat[p]
            case 3: data ^= lat[p]
            default: break
            }
            vram[p << 16 + a] = (data & bitMask) | (lat[p] & ~bitMask)
        }
    }

    // MARK: - Inspection

    /// The colour a 4-bit attribute colour index shows, resolved through the
    /// attribute controller and the DAC, packed R | G << 8 | B << 16 | A << 24.
    public func resolvedColor(_ index: Int) -> UInt32 {
        let i = index & Int(ac[0x12] & 0x0F)
        let p = ac[i & 15] & 0x3F
        let cs = ac[0x14]
        var d: UInt8
        if ac[0x10] & 0x80 != 0 {          // P5,P4 from colour select bits 1-0
            d = ((cs & 0x03) << 4) | (p & 0x0F)
        } else {
            d = p
        }
        d |= (cs & 0x0C) << 4              // P7,P6 from colour select bits 3-2
        d &= pelMask
        let r = Self.expand6(dac[Int(d) * 3]), g = Self.expand6(dac[Int(d) * 3 + 1])
        let b = Self.expand6(dac[Int(d) * 3 + 2])
        return UInt32(r) | UInt32(g) << 8 | UInt32(b) << 16 | 0xFF00_0000
    }

    /// 6-bit DAC value to 8 bits (0x3F -> 0xFF, 0x2A -> 0xAA, 0x15 -> 0x55).
    @inline(__always)
    static func expand6(_ v: UInt8) -> UInt8 { let x = v & 0x3F; return (x << 2) | (x >> 4) }

    /// A DAC entry's 6-bit components.
    public func dacEntry(_ index: UInt8) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = Int(index) * 3
        return (dac[i], dac[i + 1], dac[i + 2])
    }

    /// The registers, for tests and the debugger.
    public func crtcRegister(_ i: Int) -> UInt8 { i >= 0 && i < 0x19 ? crtc[i] : 0 }
    public func sequencerRegister(_ i: Int) -> UInt8 { i >= 0 && i < 5 ? seq[i] : 0 }
    public func graphicsRegister(_ i: Int) -> UInt8 { i >= 0 && i < 9 ? gc[i] : 0 }
    public func attributeRegister(_ i: Int) -> UInt8 { i >= 0 && i < 0x15 ? ac[i] : 0 }
    public var miscOutputRegister: UInt8 { miscOutput }

    /// A snapshot of the text screen as the CRTC would scan it out.
    public func textScreen() -> TextScreen {
        let cols = max(1, min(Int(crtc[0x01]) + 1, 160))
        let charHeight = Int(crtc[0x09] & 0x1F) + 1
        let vde = Int(crtc[0x12]) | (Int(crtc[0x07] & 0x02) << 7) | (Int(crtc[0x07] & 0x40) << 3)
        let rows = max(1, min((vde + 1) / charHeight, 100))
        // Offset register: words per row in word mode (2 cells per unit).
        var pitch = Int(crtc[0x13]) * 2
        if pitch == 0 { pitch = cols }
        let start = Int(startAddress)
        var cells = [UInt16](repeating: 0, count: cols * rows)
        for r in 0..<rows {
            for c in 0..<cols {
                let cell = (start + r * pitch + c) & 0x7FFF
                let off = (cell * 2) & 0xFFFF
                cells[r * cols + c] = UInt16(vram[off]) | UInt16(vram[0x10000 + off]) << 8
            }
        }
        let rel = Int(cursorLocation) - start
        let cursorRow = rel >= 0 ? rel / pitch : -1
        let cursorCol = rel >= 0 ? rel % pitch : -1
        let onScreen = cursorRow >= 0 && cursorRow < rows && cursorCol >= 0 && cursorCol < cols
        var palette = [UInt32](repeating: 0, count: 16)
        for i in 0..<16 { palette[i] = resolvedColor(i) }
        let cms = seq[3]
        let mapA = Int(((cms >> 3) & 4) | ((cms >> 2) & 3))
        let mapB = Int(((cms >> 2) & 4) | (cms & 3))
        let font = fontBank(mapB)
        return TextScreen(
            cols: cols, rows: rows, cells: cells, cursorRow: cursorRow, cursorCol: cursorCol,
            cursorStart: Int(crtc[0x0A] & 0x1F), cursorEnd: Int(crtc[0x0B] & 0x1F),
            cursorEnabled: crtc[0x0A] & 0x20 == 0 && onScreen,
            blinkEnabled: ac[0x10] & 0x08 != 0, palette: palette, font: font,
            fontAlt: mapA == mapB ? nil : fontBank(mapA), charHeight: charHeight,
            nineDot: seq[1] & 0x01 == 0, lineGraphics: ac[0x10] & 0x04 != 0,
            underlineLine: Int(crtc[0x14] & 0x1F),
            screenOn: acIndex & 0x20 != 0 && seq[1] & 0x20 == 0,
            graphicsMode: gc[6] & 0x01 != 0)
    }

    private func fontBank(_ bank: Int) -> [UInt8] {
        let base = 0x20000 + Self.fontBankOffset(bank)
        return Array(vram[base..<(base + 256 * 32)])
    }

    /// The screen as text, one string per row, code page 437 mapped to
    /// Unicode (character 0 and 0xFF as spaces).
    public func textLines() -> [String] {
        let s = textScreen()
        var lines: [String] = []
        lines.reserveCapacity(s.rows)
        for r in 0..<s.rows {
            var line = String.UnicodeScalarView()
            for c in 0..<s.cols {
                line.append(VGA.cp437[Int(s.cells[r * s.cols + c] & 0xFF)])
            }
            lines.append(String(line))
        }
        return lines
    }

    /// Code page 437 to Unicode; 0x01-0x1F and 0x7F are the IBM PC glyphs.
    public static let cp437: [Unicode.Scalar] = {
        let rows = [
            " ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼",
            " !\"#$%&'()*+,-./0123456789:;<=>?",
            "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_",
            "`abcdefghijklmnopqrstuvwxyz{|}~⌂",
            "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒ",
            "áíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐",
            "└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀",
            "αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■ ",
        ]
        let table = rows.flatMap { Array($0.unicodeScalars) }
        precondition(table.count == 256)
        return table
    }()
}
