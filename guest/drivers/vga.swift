/// VGA text mode 3: 80x25 cells at physical 0xB8000 (identity mapped), each a
/// 16-bit (attribute << 8 | code page 437 character) pair, plus the CRT
/// controller's cursor registers.
///
/// CRTC registers are reached through an index/data pair at 0x3D4/0x3D5 (the
/// colour address; 0x3B4/0x3B5 on monochrome adapters). 0x0A cursor start
/// scanline (bit 5 = cursor off), 0x0B cursor end, 0x0E/0x0F cursor location
/// high/low byte as a character offset row * 80 + column.
enum VGA {
    static let width = 80
    static let height = 25
    static let buffer: UInt = 0xB8000
    static let crtcIndex: UInt16 = 0x3D4
    static let crtcData: UInt16 = 0x3D5

    @inline(__always)
    static func cellAddress(row: Int, column: Int) -> UInt {
        buffer &+ UInt(truncatingIfNeeded: (row &* width &+ column) &* 2)
    }

    static func put(row: Int, column: Int, char: UInt8, attribute: UInt8) {
        guard row >= 0, row < height, column >= 0, column < width else { return }
        mmio_write16(cellAddress(row: row, column: column), UInt16(attribute) << 8 | UInt16(char))
    }

    static func cell(row: Int, column: Int) -> UInt16 {
        guard row >= 0, row < height, column >= 0, column < width else { return 0 }
        return mmio_read16(cellAddress(row: row, column: column))
    }

    static func clear(rows: Range<Int>, attribute: UInt8) {
        let blank = UInt16(attribute) << 8 | 0x20
        for row in rows {
            for column in 0..<width {
                mmio_write16(cellAddress(row: row, column: column), blank)
            }
        }
    }

    static func clear(row: Int, from column: Int, attribute: UInt8) {
        let blank = UInt16(attribute) << 8 | 0x20
        var c = column
        while c < width {
            mmio_write16(cellAddress(row: row, column: c), blank)
            c += 1
        }
    }

    /// Moves rows top+1...bottom up by one and blanks the bottom row.
    static func scrollUp(top: Int, bottom: Int, attribute: UInt8) {
        // 8-byte moves: a row is 160 bytes, 20 quadwords.
        var row = top
        while row < bottom {
            let dst = cellAddress(row: row, column: 0)
            let src = cellAddress(row: row + 1, column: 0)
            var offset: UInt = 0
            while offset < UInt(width * 2) {
                mmio_write64(dst &+ offset, mmio_read64(src &+ offset))
                offset &+= 8
            }
            row += 1
        }
        clear(rows: bottom..<(bottom + 1), attribute: attribute)
    }

    static func readCRTC(_ index: UInt8) -> UInt8 {
        outb(crtcIndex, index)
        return inb(crtcData)
    }

    static func writeCRTC(_ index: UInt8, _ value: UInt8) {
        outb(crtcIndex, index)
        outb(crtcData, value)
    }

    static func setCursor(row: Int, column: Int) {
        let position = UInt16(truncatingIfNeeded: row * width + column)
        writeCRTC(0x0F, UInt8(truncatingIfNeeded: position))
        writeCRTC(0x0E, UInt8(truncatingIfNeeded: position >> 8))
    }

    static func cursorOffset() -> Int {
        Int(readCRTC(0x0E)) << 8 | Int(readCRTC(0x0F))
    }

    /// Underline cursor on scanlines 13-14 of the 16-line font (what the
    /// VGA BIOS sets for mode 3), keeping the reserved upper bits.
    static func enableCursor() {
        writeCRTC(0x0A, (readCRTC(0x0A) & 0xC0) | 13)
        writeCRTC(0x0B, (readCRTC(0x0B) & 0xE0) | 14)
    }
}
