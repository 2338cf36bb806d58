import XCTest
import Foundation
@testable import Display

final class PNGTests: XCTestCase {
    func testChecksums() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum(Array("IEND".utf8)), 0xAE42_6082)
        XCTAssertEqual(adler32(Array("Wikipedia".utf8)), 0x11E6_0398)
        XCTAssertEqual(adler32([UInt8](repeating: 0xFF, count: 100_000)), adler32Slow([UInt8](repeating: 0xFF, count: 100_000)))
    }

    private func adler32Slow(_ d: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in d { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return b << 16 | a
    }

    /// Inflates with the reference zlib (Python's) through a pipe.
    private func inflate(_ data: [UInt8]) throws -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import sys,zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read()))"]
        let inPipe = Pipe(), outPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        try p.run()
        let writer = Thread { inPipe.fileHandleForWriting.write(Data(data)); try? inPipe.fileHandleForWriting.close() }
        writer.start()
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "zlib refused the stream")
        return [UInt8](out)
    }

    private func pythonAvailable() -> Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
    }

    func testZlibRoundTripsThroughReferenceInflater() throws {
        try XCTSkipUnless(pythonAvailable(), "python3 not installed")
        var rng = SystemRandomNumberGenerator()
        var inputs: [[UInt8]] = [
            [], [0x41], Array("abcabcabcabcabcabcabcabc".utf8),
            [UInt8](repeating: 7, count: 70_000),
            (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 13) },
        ]
        inputs.append((0..<50_000).map { _ in UInt8.random(in: 0...3, using: &rng) })
        inputs.append((0..<20_000).map { _ in UInt8.random(in: 0...255, using: &rng) })
        for input in inputs {
            XCTAssertEqual(try inflate(Zlib.compress(input)), input, "fixed Huffman, \(input.count) bytes")
            XCTAssertEqual(try inflate(Zlib.compressStored(input)), input, "stored, \(input.count) bytes")
        }
    }

    /// Parses a PNG: chunk CRCs, IHDR, and the concatenated IDAT data.
    private func parsePNG(_ png: [UInt8]) -> (width: Int, height: Int, idat: [UInt8])? {
        guard png.count > 8, Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else { return nil }
        func be32(_ i: Int) -> Int { Int(png[i]) << 24 | Int(png[i + 1]) << 16 | Int(png[i + 2]) << 8 | Int(png[i + 3]) }
        var i = 8, w = 0, h = 0
        var idat: [UInt8] = []
        var sawEnd = false
        while i + 12 <= png.count {
            let len = be32(i)
            let type = String(decoding: png[(i + 4)..<(i + 8)], as: UTF8.self)
            let body = Array(png[(i + 8)..<(i + 8 + len)])
            XCTAssertEqual(UInt32(be32(i + 8 + len)), CRC32.checksum(Array(png[(i + 4)..<(i + 8)]) + body), "CRC of \(type)")
            switch type {
            case "IHDR":
                w = be32(i + 8); h = be32(i + 12)
                XCTAssertEqual(Array(body[8..<13]), [8, 6, 0, 0, 0])
            case "IDAT": idat += body
            case "IEND": sawEnd = true
            default: break
            }
            i += 12 + len
        }
        XCTAssertTrue(sawEnd)
        return (w, h, idat)
    }

    func testPNGEncodesPixels() throws {
        try XCTSkipUnless(pythonAvailable(), "python3 not installed")
        let w = 37, h = 23
        var rgba = [UInt8](repeating: 0, count: w * h * 4)
        for y in 0..<h {
            for x in 0..<w {
                let i = (y * w + x) * 4
                rgba[i] = UInt8(x * 6); rgba[i + 1] = UInt8(y * 11); rgba[i + 2] = UInt8((x ^ y) & 0xFF); rgba[i + 3] = x == y ? 0x80 : 0xFF
            }
        }
        let png = PNG.encode(rgba: rgba, width: w, height: h)
        let parsed = try XCTUnwrap(parsePNG(png))
        XCTAssertEqual(parsed.width, w)
        XCTAssertEqual(parsed.height, h)
        let raw = try inflate(parsed.idat)
        XCTAssertEqual(raw.count, h * (w * 4 + 1))
        for y in 0..<h {
            XCTAssertEqual(raw[y * (w * 4 + 1)], 0, "filter type")
            XCTAssertEqual(Array(raw[(y * (w * 4 + 1) + 1)..<((y + 1) * (w * 4 + 1))]), Array(rgba[(y * w * 4)..<((y + 1) * w * 4)]))
        }
    }

    func testScreenshotFileIsAValidPNGOfTheScreen() throws {
        try XCTSkipUnless(pythonAvailable(), "python3 not installed")
        let fb = Framebuffer(width: 720, height: 400, pixels: (0..<(720 * 400)).map { i in
            (i / 720) % 16 < 8 ? 0xFFAA_0000 : 0xFF55_FFFF
        })
        let dir = NSTemporaryDirectory() + "pngtest-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/shot.png"
        try fb.writePNGAtomically(path: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertLessThan(bytes.count, 40_000, "text screens compress")
        let parsed = try XCTUnwrap(parsePNG(bytes))
        let raw = try inflate(parsed.idat)
        XCTAssertEqual(raw.count, 400 * (720 * 4 + 1))
        let row = 10, x = 100
        let o = row * (720 * 4 + 1) + 1 + x * 4
        XCTAssertEqual(Array(raw[o..<(o + 4)]), [0xFF, 0xFF, 0x55, 0xFF])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["shot.png"], "no temp file left")
    }
}
