#!/usr/bin/env python3
"""Reads a swiftemu screenshot (PNG of the 720x400 text screen, 9x16 cells)
back into text, by matching each cell's pixels against the glyphs of the
emulator's font (Sources/Devices/VGAFont.swift). Prints one line per row.

Usage: screen_text.py SCREENSHOT.png [VGAFont.swift]
Only the standard library is used (zlib for the image data).
"""
import os
import re
import struct
import sys
import zlib

CELL_W, CELL_H = 9, 16


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("%s: not a PNG" % path)
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) & 0xFFFFFFFF != struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]:
            raise SystemExit("%s: bad CRC in %s" % (path, kind))
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise SystemExit("only 8-bit RGB/RGBA PNGs are supported")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 4 if ctype == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 0xFF
            elif f == 2:
                line[x] = (line[x] + b) & 0xFF
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 0xFF
        rows.append(bytes(line))
        prev = line
    pixels = [[row[x * bpp:x * bpp + 3] for x in range(width)] for row in rows]
    return width, height, pixels


def read_font(path):
    text = open(path, encoding="utf-8").read()
    glyphs = {}
    for m in re.finditer(r"^\s+((?:0x[0-9A-F]{2}, ){15}0x[0-9A-F]{2}),\s+// 0x([0-9A-F]{2})$", text, re.M):
        glyphs[int(m.group(2), 16)] = tuple(int(v, 16) for v in m.group(1).split(", "))
    if len(glyphs) != 256:
        raise SystemExit("%s: expected 256 glyphs, found %d" % (path, len(glyphs)))
    return glyphs


CP437 = (" ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼"
         + "".join(chr(i) for i in range(32, 127)) + "⌂"
         + bytes(range(128, 256)).decode("cp437"))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    font_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "../../Sources/Devices/VGAFont.swift")
    glyphs = read_font(font_path)
    width, height, px = read_png(sys.argv[1])
    # Exact bitmaps, their inverses, and the same with the cursor lines
    # (13-14 in mode 3) ignored, as the cursor may cover them.
    exact, cursor = {}, {}
    for code in sorted(glyphs, reverse=True):   # lower codes win ties (space over 0x00/0xFF)
        g = glyphs[code]
        inv = tuple(~b & 0xFF for b in g)
        for bm in (g, inv):
            exact[bm] = code
            cursor[bm[:13] + bm[15:]] = code
    cols, rows = width // CELL_W, height // CELL_H
    for r in range(rows):
        line = []
        for c in range(cols):
            x0, y0 = c * CELL_W, r * CELL_H
            counts = {}
            for y in range(CELL_H):
                for x in range(8):
                    p = px[y0 + y][x0 + x]
                    counts[p] = counts.get(p, 0) + 1
            bg = max(counts, key=counts.get)
            bm = tuple(sum(0x80 >> x for x in range(8) if px[y0 + y][x0 + x] != bg) for y in range(CELL_H))
            code = exact.get(bm)
            if code is None:
                code = cursor.get(bm[:13] + bm[15:])
            line.append("?" if code is None else (" " if code in (0, 0xFF) else CP437[code]))
        print("".join(line).rstrip())


if __name__ == "__main__":
    main()
