import Devices

/// A rectangle of pixels.
public struct PixelRect: Equatable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    func union(_ o: PixelRect) -> PixelRect {
        let x0 = min(x, o.x), y0 = min(y, o.y)
        let x1 = max(x + width, o.x + o.width), y1 = max(y + height, o.y + o.height)
        return PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }
}

/// An RGBA image: `pixels` are packed R | G << 8 | B << 16 | A << 24, so
/// their bytes in memory (little-endian host) are R, G, B, A.
public struct Framebuffer: Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt32]
    public init(width: Int, height: Int, pixels: [UInt32]) {
        self.width = width; self.height = height; self.pixels = pixels
    }
    /// Pixel at (x, y) as packed RGBA.
    public func pixel(_ x: Int, _ y: Int) -> UInt32 { pixels[y * width + x] }
    /// The image as R, G, B, A bytes, row by row.
    public func rgbaBytes() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: pixels.count * 4)
        for (i, p) in pixels.enumerated() {
            out[i * 4] = UInt8(truncatingIfNeeded: p)
            out[i * 4 + 1] = UInt8(truncatingIfNeeded: p >> 8)
            out[i * 4 + 2] = UInt8(truncatingIfNeeded: p >> 16)
            out[i * 4 + 3] = UInt8(truncatingIfNeeded: p >> 24)
        }
        return out
    }
    /// Encodes the image as PNG and writes it to `path` atomically.
    public func writePNGAtomically(path: String) throws {
        try Display.writePNGAtomically(rgba: rgbaBytes(), width: width, height: height, path: path)
    }
}

/// Draws a VGA text screen the way the CRTC and attribute controller scan
/// it out: 9x16 cells in mode 3 (720x400), the 9th column repeating the 8th
/// for line-graphics characters 0xC0-0xDF, blinking characters and cursor.
///
/// Blink rates follow the VGA: the cursor toggles every 8 frames (16-frame
/// period) and blinking characters every 16 frames (32-frame period), frames
/// counted from virtual time at 70.086 Hz (`VGA.frameNumber(at:)`).
///
/// The renderer keeps its framebuffer and redraws only the cells whose
/// content, colours or blink state changed since the previous call.
public struct TextRenderer {
    public private(set) var framebuffer = Framebuffer(width: 0, height: 0, pixels: [])

    // What each cell was drawn with: cell | attr << 8 | cursor << 16 | blinkOff << 17.
    private var drawnCells: [UInt32] = []
    // Everything else that affects every cell.
    private var drawnGlobal: Global?

    private struct Global: Equatable {
        var cols, rows, charHeight: Int
        var nineDot, lineGraphics, blinkEnabled, screenOn, graphicsMode: Bool
        var cursorStart, cursorEnd, underlineLine: Int
        var palette: [UInt32]
        var font: [UInt8]
        var fontAlt: [UInt8]?
    }

    public init() {}

    /// True in the half of the 16-frame cursor period the cursor shows.
    public static func cursorPhaseOn(at time: UInt64) -> Bool { (VGA.frameNumber(at: time) >> 3) & 1 == 0 }
    /// True in the half of the 32-frame period blinking characters show.
    public static func blinkPhaseOn(at time: UInt64) -> Bool { (VGA.frameNumber(at: time) >> 4) & 1 == 0 }

    /// Pixel size of a screen: cols x (9 or 8), rows x char height.
    public static func size(of s: TextScreen) -> (width: Int, height: Int) {
        (s.cols * (s.nineDot ? 9 : 8), s.rows * s.charHeight)
    }

    /// Draws `s` at virtual time `time` (ns) into `framebuffer`; returns the
    /// rectangle that changed, nil when nothing did.
    @discardableResult
    public mutating func render(_ s: TextScreen, time: UInt64) -> PixelRect? {
        let (w, h) = Self.size(of: s)
        let g = Global(cols: s.cols, rows: s.rows, charHeight: s.charHeight, nineDot: s.nineDot,
                       lineGraphics: s.lineGraphics, blinkEnabled: s.blinkEnabled, screenOn: s.screenOn,
                       graphicsMode: s.graphicsMode, cursorStart: s.cursorStart, cursorEnd: s.cursorEnd,
                       underlineLine: s.underlineLine, palette: s.palette, font: s.font, fontAlt: s.fontAlt)
        var full = false
        if framebuffer.width != w || framebuffer.height != h || drawnGlobal != g {
            if framebuffer.width != w || framebuffer.height != h {
                framebuffer = Framebuffer(width: w, height: h, pixels: [UInt32](repeating: 0xFF00_0000, count: w * h))
            }
            drawnCells = [UInt32](repeating: .max, count: s.cols * s.rows)
            drawnGlobal = g
            full = true
        }
        guard s.cells.count >= s.cols * s.rows, s.palette.count >= 16,
              s.font.count >= 256 * 32, w > 0, h > 0 else { return nil }
        if !s.screenOn || s.graphicsMode {
            if !full { return nil }
            for i in framebuffer.pixels.indices { framebuffer.pixels[i] = 0xFF00_0000 }
            return PixelRect(x: 0, y: 0, width: w, height: h)
        }
        let cursorOn = Self.cursorPhaseOn(at: time) && s.cursorEnabled && s.cursorStart <= s.cursorEnd
            && s.cursorStart < s.charHeight
        let blinkOff = s.blinkEnabled && !Self.blinkPhaseOn(at: time)
        let cellW = s.nineDot ? 9 : 8
        var dirty: PixelRect?
        for r in 0..<s.rows {
            for c in 0..<s.cols {
                let i = r * s.cols + c
                let cell = s.cells[i]
                let hasCursor = cursorOn && r == s.cursorRow && c == s.cursorCol
                let blinking = blinkOff && cell & 0x8000 != 0
                let key = UInt32(cell) | (hasCursor ? 1 << 16 : 0) | (blinking ? 1 << 17 : 0)
                if drawnCells[i] == key { continue }
                drawnCells[i] = key
                drawCell(s, row: r, col: c, cellW: cellW, cell: cell, cursor: hasCursor, hidden: blinking)
                let rect = PixelRect(x: c * cellW, y: r * s.charHeight, width: cellW, height: s.charHeight)
                dirty = dirty.map { $0.union(rect) } ?? rect
            }
        }
        return dirty
    }

    private mutating func drawCell(_ s: TextScreen, row: Int, col: Int, cellW: Int, cell: UInt16,
                                   cursor: Bool, hidden: Bool) {
        let ch = Int(cell & 0xFF)
        let attr = Int(cell >> 8)
        let fgColor = s.palette[attr & 0x0F]
        let bgIndex = s.blinkEnabled ? (attr >> 4) & 0x07 : (attr >> 4) & 0x0F
        let bgColor = s.palette[bgIndex]
        let font = (attr & 0x08 != 0 ? s.fontAlt : nil) ?? s.font
        let lineGraphicsChar = s.lineGraphics && ch >= 0xC0 && ch <= 0xDF
        let underline = attr & 0x77 == 0x01
        let width = framebuffer.width
        let x0 = col * cellW, y0 = row * s.charHeight
        framebuffer.pixels.withUnsafeMutableBufferPointer { px in
            for line in 0..<s.charHeight {
                var bits: UInt32 = line < 32 ? UInt32(font[ch * 32 + line]) : 0
                if hidden { bits = 0 }
                if underline && line == s.underlineLine && !hidden { bits = 0xFF }
                // 9-dot cells: the 9th column is background, or a copy of the
                // 8th for the line-graphics range.
                var row9 = bits << 1
                if cellW == 9 && lineGraphicsChar { row9 |= bits & 1 }
                if cursor && line >= s.cursorStart && line <= s.cursorEnd { row9 = 0x1FF }
                if cellW == 8 { row9 >>= 1 }
                var p = (y0 + line) * width + x0
                var mask: UInt32 = 1 << UInt32(cellW - 1)
                while mask != 0 {
                    px[p] = row9 & mask != 0 ? fgColor : bgColor
                    p += 1
                    mask >>= 1
                }
            }
        }
    }

    /// One-shot rendering of a screen into a new framebuffer.
    public static func render(_ s: TextScreen, time: UInt64) -> Framebuffer {
        var r = TextRenderer()
        r.render(s, time: time)
        return r.framebuffer
    }
}
