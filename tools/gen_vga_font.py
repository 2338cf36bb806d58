#!/usr/bin/env python3
"""Generates Sources/Devices/VGAFont.swift: the power-on 8x16 text-mode font.

Source: Terminus Font, 8x16 normal weight, IBM code page 437 encoding, as
shipped by Debian's `xfonts-terminus-dos` package
(usr/share/fonts/X11/misc/ter-u16n_ibm437.pcf.gz). Terminus Font is
Copyright (c) 2010-2014 Dimitar Toshkov Zhekov, licensed under the SIL Open
Font License 1.1 (reserved font name "Terminus Font"); the generated Swift
file carries that notice and licence.

Usage:
    tools/gen_vga_font.py [path/to/ter-u16n_ibm437.pcf.gz] > Sources/Devices/VGAFont.swift
Without a path the script fetches the Debian package with `apt-get download`
into a temporary directory and extracts the font from it.
"""
import gzip
import os
import struct
import subprocess
import sys
import tempfile

PCF_ACCELERATORS = 1 << 1
PCF_METRICS = 1 << 2
PCF_BITMAPS = 1 << 3
PCF_BDF_ENCODINGS = 1 << 5
PCF_BDF_ACCELERATORS = 1 << 8
PCF_COMPRESSED_METRICS = 0x100


class Reader:
    """Reads one PCF table: its format word decides the byte order."""

    def __init__(self, data, offset):
        self.data = data
        self.pos = offset
        self.fmt = struct.unpack_from("<I", data, offset)[0]
        self.pos += 4
        self.big = bool(self.fmt & (1 << 2))

    def _u(self, code, size):
        v = struct.unpack_from((">" if self.big else "<") + code, self.data, self.pos)[0]
        self.pos += size
        return v

    def i32(self):
        return self._u("i", 4)

    def i16(self):
        return self._u("h", 2)

    def u16(self):
        return self._u("H", 2)

    def u8(self):
        v = self.data[self.pos]
        self.pos += 1
        return v


def parse_pcf(data):
    if data[:4] != b"\x01fcp":
        raise SystemExit("not a PCF file")
    count = struct.unpack_from("<I", data, 4)[0]
    tables = {}
    for i in range(count):
        typ, fmt, size, off = struct.unpack_from("<IIII", data, 8 + 16 * i)
        tables[typ] = off

    # Font ascent (to place each glyph's box in the 16-line cell).
    acc = tables.get(PCF_BDF_ACCELERATORS, tables.get(PCF_ACCELERATORS))
    r = Reader(data, acc)
    r.pos += 8
    ascent = r.i32()
    descent = r.i32()

    r = Reader(data, tables[PCF_METRICS])
    metrics = []
    if r.fmt & PCF_COMPRESSED_METRICS:
        n = r.i16()
        for _ in range(n):
            lsb, rsb, width, asc, desc = (r.u8() - 0x80 for _ in range(5))
            metrics.append((lsb, rsb, width, asc, desc))
    else:
        n = r.i32()
        for _ in range(n):
            lsb, rsb, width, asc, desc, _attr = (r.i16() for _ in range(6))
            metrics.append((lsb, rsb, width, asc, desc))

    r = Reader(data, tables[PCF_BITMAPS])
    pad = 1 << (r.fmt & 3)
    msbit = bool(r.fmt & (1 << 3))
    n = r.i32()
    offsets = [r.i32() for _ in range(n)]
    sizes = [r.i32() for _ in range(4)]
    base = r.pos
    bitmap_bytes = data[base:base + sizes[r.fmt & 3]]

    r = Reader(data, tables[PCF_BDF_ENCODINGS])
    min2, max2, min1, max1, default = r.i16(), r.i16(), r.i16(), r.i16(), r.i16()
    enc = {}
    for b1 in range(min1, max1 + 1):
        for b2 in range(min2, max2 + 1):
            g = r.u16()
            if g != 0xFFFF:
                enc[(b1 << 8) | b2] = g

    def glyph(index, cell_h=16):
        lsb, rsb, width, asc, desc = metrics[index]
        w = rsb - lsb
        h = asc + desc
        stride = ((w + 7) // 8 + pad - 1) // pad * pad
        rows = [0] * cell_h
        top = ascent - asc  # first cell line of the glyph's box
        for y in range(h):
            line = 0
            for x in range(w):
                byte = bitmap_bytes[offsets[index] + y * stride + x // 8]
                bit = (byte >> (7 - x % 8)) & 1 if msbit else (byte >> (x % 8)) & 1
                if bit:
                    col = lsb + x
                    if 0 <= col < 8:
                        line |= 0x80 >> col
            cy = top + y
            if 0 <= cy < cell_h:
                rows[cy] = line
        return rows

    if ascent + descent != 16:
        raise SystemExit("expected a 16-line font, got %d" % (ascent + descent))
    return enc, glyph, default


# Code 0 is blank on a VGA (Terminus puts its "missing glyph" box there), and
# the CP437 encoding of Terminus has no glyph for 0x07 (bullet) or 0x0E (two
# beamed notes): these three are drawn here, in the style of the other glyphs.
EXTRA = {
    0x00: [0] * 16,
    0x07: [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0x3C,
           0x3C, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    0x0E: [0x00, 0x00, 0x3E, 0x22, 0x3E, 0x22, 0x22, 0x22,
           0x22, 0x22, 0x26, 0x6E, 0xEC, 0xC0, 0x00, 0x00],
}


def fetch_font():
    tmp = tempfile.mkdtemp()
    subprocess.run(["apt-get", "download", "xfonts-terminus-dos"], cwd=tmp, check=True,
                   stdout=subprocess.DEVNULL)
    deb = [f for f in os.listdir(tmp) if f.endswith(".deb")][0]
    subprocess.run(["dpkg-deb", "-x", deb, "x"], cwd=tmp, check=True)
    return os.path.join(tmp, "x/usr/share/fonts/X11/misc/ter-u16n_ibm437.pcf.gz")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else fetch_font()
    data = gzip.open(path).read()
    enc, glyph, default = parse_pcf(data)
    font = bytearray()
    for code in range(256):
        if code in EXTRA:
            rows = EXTRA[code]
        elif code in enc:
            rows = glyph(enc[code])
        else:
            rows = [0] * 16
        font.extend(rows)
    assert len(font) == 4096

    out = sys.stdout
    out.write(HEADER)
    out.write("extension VGA {\n")
    out.write("    /// The power-on text font: 256 glyphs in code page 437 order, 16 bytes\n")
    out.write("    /// (lines) per glyph, bit 7 = leftmost pixel. The VGA copies it into\n")
    out.write("    /// plane 2 (32-byte glyph slots) at power-on, as a VGA BIOS does.\n")
    out.write("    public static let defaultFont8x16: [UInt8] = [\n")
    for code in range(256):
        rows = font[code * 16:(code + 1) * 16]
        out.write("        " + ", ".join("0x%02X" % b for b in rows) + ",  // 0x%02X\n" % code)
    out.write("    ]\n}\n")


HEADER = """// Generated by tools/gen_vga_font.py from Terminus Font 8x16 normal, code
// page 437 encoding (Debian package xfonts-terminus-dos, ter-u16n_ibm437).
// Do not edit by hand.
//
// Terminus Font is licensed under the SIL Open Font License, Version 1.1.
//
// Copyright (c) 2010-2014 Dimitar Toshkov Zhekov,
// with Reserved Font Name "Terminus Font".
//
// SIL OPEN FONT LICENSE Version 1.1 - 26 February 2007
// -----------------------------------------------------------
//
// PREAMBLE
// The goals of the Open Font License (OFL) are to stimulate worldwide
// development of collaborative font projects, to support the font creation
// efforts of academic and linguistic communities, and to provide a free and
// open framework in which fonts may be shared and improved in partnership
// with others.
//
// The OFL allows the licensed fonts to be used, studied, modified and
// redistributed freely as long as they are not sold by themselves. The
// fonts, including any derivative works, can be bundled, embedded,
// redistributed and/or sold with any software provided that any reserved
// names are not used by derivative works. The fonts and derivatives,
// however, cannot be released under any other type of license. The
// requirement for fonts to remain under this license does not apply
// to any document created using the fonts or their derivatives.
//
// DEFINITIONS
// "Font Software" refers to the set of files released by the Copyright
// Holder(s) under this license and clearly marked as such. This may
// include source files, build scripts and documentation.
//
// "Reserved Font Name" refers to any names specified as such after the
// copyright statement(s).
//
// "Original Version" refers to the collection of Font Software components as
// distributed by the Copyright Holder(s).
//
// "Modified Version" refers to any derivative made by adding to, deleting,
// or substituting -- in part or in whole -- any of the components of the
// Original Version, by changing formats or by porting the Font Software to a
// new environment.
//
// "Author" refers to any designer, engineer, programmer, technical
// writer or other person who contributed to the Font Software.
//
// PERMISSION & CONDITIONS
// Permission is hereby granted, free of charge, to any person obtaining
// a copy of the Font Software, to use, study, copy, merge, embed, modify,
// redistribute, and sell modified and unmodified copies of the Font
// Software, subject to the following conditions:
//
// 1) Neither the Font Software nor any of its individual components,
// in Original or Modified Versions, may be sold by itself.
//
// 2) Original or Modified Versions of the Font Software may be bundled,
// redistributed and/or sold with any software, provided that each copy
// contains the above copyright notice and this license. These can be
// included either as stand-alone text files, human-readable headers or
// in the appropriate machine-readable metadata fields within text or
// binary files as long as those fields can be easily viewed by the user.
//
// 3) No Modified Version of the Font Software may use the Reserved Font
// Name(s) unless explicit written permission is granted by the corresponding
// Copyright Holder. This restriction only applies to the primary font name as
// presented to the users.
//
// 4) The name(s) of the Copyright Holder(s) or the Author(s) of the Font
// Software shall not be used to promote, endorse or advertise any
// Modified Version, except to acknowledge the contribution(s) of the
// Copyright Holder(s) and the Author(s) or with their explicit written
// permission.
//
// 5) The Font Software, modified or unmodified, in part or in whole,
// must be distributed entirely under this license, and must not be
// distributed under any other license. The requirement for fonts to
// remain under this license does not apply to any document created
// using the Font Software.
//
// TERMINATION
// This license becomes null and void if any of the above conditions are
// not met.
//
// DISCLAIMER
// THE FONT SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
// EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO ANY WARRANTIES OF
// MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT
// OF COPYRIGHT, PATENT, TRADEMARK, OR OTHER RIGHT. IN NO EVENT SHALL THE
// COPYRIGHT HOLDER BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY,
// INCLUDING ANY GENERAL, SPECIAL, INDIRECT, INCIDENTAL, OR CONSEQUENTIAL
// DAMAGES, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
// FROM, OUT OF THE USE OR INABILITY TO USE THE FONT SOFTWARE OR FROM
// OTHER DEALINGS IN THE FONT SOFTWARE.

"""

if __name__ == "__main__":
    main()
