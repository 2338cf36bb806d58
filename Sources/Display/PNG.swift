#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A PNG writer: 8-bit RGBA, no interlace, every row with filter 0, the
/// image data compressed by our own DEFLATE (LZ77 + fixed Huffman codes)
/// in a zlib stream.
public enum PNG {
    /// Encodes `rgba` (width*height*4 bytes, R G B A per pixel, rows top to
    /// bottom) as a PNG file.
    public static func encode(rgba: [UInt8], width: Int, height: Int) -> [UInt8] {
        precondition(width > 0 && height > 0 && rgba.count >= width * height * 4, "bad image size")
        // Raw scanlines: filter byte 0, then the row.
        let stride = width * 4
        var raw = [UInt8](repeating: 0, count: (stride + 1) * height)
        rgba.withUnsafeBufferPointer { src in
            raw.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let d = y * (stride + 1)
                    dst[d] = 0
                    for x in 0..<stride { dst[d + 1 + x] = src[y * stride + x] }
                }
            }
        }
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var ihdr: [UInt8] = []
        ihdr.appendBE32(UInt32(width))
        ihdr.appendBE32(UInt32(height))
        ihdr += [8, 6, 0, 0, 0]      // bit depth 8, colour type 6 (RGBA), deflate, filter 0, no interlace
        appendChunk(&out, "IHDR", ihdr)
        appendChunk(&out, "IDAT", Zlib.compress(raw))
        appendChunk(&out, "IEND", [])
        return out
    }

    /// Encodes packed RGBA pixels (see `Framebuffer`).
    public static func encode(pixels: [UInt32], width: Int, height: Int) -> [UInt8] {
        encode(rgba: Framebuffer(width: width, height: height, pixels: pixels).rgbaBytes(), width: width, height: height)
    }

    private static func appendChunk(_ out: inout [UInt8], _ type: String, _ data: [UInt8]) {
        out.appendBE32(UInt32(data.count))
        let typeBytes = Array(type.utf8)
        out += typeBytes
        out += data
        var crc = CRC32()
        crc.update(typeBytes)
        crc.update(data)
        out.appendBE32(crc.value)
    }
}

extension Array where Element == UInt8 {
    mutating func appendBE32(_ v: UInt32) {
        append(UInt8(v >> 24)); append(UInt8((v >> 16) & 0xFF)); append(UInt8((v >> 8) & 0xFF)); append(UInt8(v & 0xFF))
    }
}

/// CRC-32 (ISO 3309 / PNG: polynomial 0xEDB88320 reflected, init and final xor all ones).
public struct CRC32 {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
    private var c: UInt32 = 0xFFFF_FFFF
    public init() {}
    public mutating func update(_ bytes: [UInt8]) {
        var c = self.c
        Self.table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        self.c = c
    }
    public var value: UInt32 { c ^ 0xFFFF_FFFF }
    public static func checksum(_ bytes: [UInt8]) -> UInt32 { var c = CRC32(); c.update(bytes); return c.value }
}

/// Adler-32 (RFC 1950).
public func adler32(_ bytes: [UInt8]) -> UInt32 {
    var a: UInt32 = 1, b: UInt32 = 0
    var i = 0
    while i < bytes.count {
        // 5552 is the largest block for which b cannot overflow 32 bits.
        let end = min(i + 5552, bytes.count)
        while i < end { a &+= UInt32(bytes[i]); b &+= a; i += 1 }
        a %= 65521; b %= 65521
    }
    return b << 16 | a
}

/// zlib streams (RFC 1950) around our DEFLATE (RFC 1951) compressor.
public enum Zlib {
    /// zlib header (deflate, 32K window, no dictionary), one or more fixed-
    /// Huffman blocks, Adler-32 of the input.
    public static func compress(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        out += Deflate.compressFixed(data)
        out.appendBE32(adler32(data))
        return out
    }

    /// zlib header and DEFLATE stored (uncompressed) blocks.
    public static func compressStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var i = 0
        repeat {
            let n = min(65535, data.count - i)
            let final = i + n == data.count
            out.append(final ? 1 : 0)            // BFINAL, BTYPE = 00
            out.append(UInt8(n & 0xFF)); out.append(UInt8(n >> 8))
            out.append(UInt8(~n & 0xFF)); out.append(UInt8((~n >> 8) & 0xFF))
            out += data[i..<(i + n)]
            i += n
        } while i < data.count
        out.appendBE32(adler32(data))
        return out
    }
}

/// DEFLATE with the fixed Huffman codes (RFC 1951 3.2.6) and a hash-chain
/// LZ77 matcher over a 32 KiB window.
enum Deflate {
    struct BitWriter {
        var out: [UInt8] = []
        var acc: UInt64 = 0
        var n: UInt64 = 0
        /// Appends `count` bits of `value`, least significant first.
        @inline(__always)
        mutating func put(_ value: UInt32, _ count: Int) {
            acc |= UInt64(value) << n
            n += UInt64(count)
            while n >= 8 { out.append(UInt8(truncatingIfNeeded: acc)); acc >>= 8; n -= 8 }
        }
        /// Appends a Huffman code (defined most significant bit first).
        @inline(__always)
        mutating func putCode(_ code: UInt32, _ len: Int) {
            var r: UInt32 = 0
            var c = code
            for _ in 0..<len { r = (r << 1) | (c & 1); c >>= 1 }
            put(r, len)
        }
        mutating func flush() { if n > 0 { out.append(UInt8(truncatingIfNeeded: acc)); acc = 0; n = 0 } }
    }

    // Length codes 257-285: base lengths and extra bits.
    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                    35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                     3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                  257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                   7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    @inline(__always)
    static func putLitLen(_ w: inout BitWriter, _ sym: Int) {
        switch sym {
        case 0...143: w.putCode(UInt32(0x30 + sym), 8)
        case 144...255: w.putCode(UInt32(0x190 + sym - 144), 9)
        case 256...279: w.putCode(UInt32(sym - 256), 7)
        default: w.putCode(UInt32(0xC0 + sym - 280), 8)
        }
    }

    static func putMatch(_ w: inout BitWriter, length: Int, distance: Int) {
        var li = 28
        while lengthBase[li] > length { li -= 1 }
        putLitLen(&w, 257 + li)
        if lengthExtra[li] > 0 { w.put(UInt32(length - lengthBase[li]), lengthExtra[li]) }
        var di = 29
        while distBase[di] > distance { di -= 1 }
        w.putCode(UInt32(di), 5)
        if distExtra[di] > 0 { w.put(UInt32(distance - distBase[di]), distExtra[di]) }
    }

    static func compressFixed(_ data: [UInt8]) -> [UInt8] {
        var w = BitWriter()
        w.out.reserveCapacity(data.count / 8 + 64)
        w.put(1, 1)      // BFINAL
        w.put(1, 2)      // BTYPE = 01, fixed Huffman
        let n = data.count
        let window = 32768, maxLen = 258, maxChain = 32
        let hashBits = 15
        var head = [Int32](repeating: -1, count: 1 << hashBits)
        var prev = [Int32](repeating: -1, count: max(n, 1))
        data.withUnsafeBufferPointer { d in
            @inline(__always) func hash(_ i: Int) -> Int {
                let v = UInt32(d[i]) | UInt32(d[i + 1]) << 8 | UInt32(d[i + 2]) << 16
                return Int((v &* 2_654_435_761) >> UInt32(32 - hashBits))
            }
            @inline(__always) func insert(_ i: Int) {
                guard i + 2 < n else { return }
                let h = hash(i)
                prev[i] = head[h]
                head[h] = Int32(i)
            }
            var i = 0
            while i < n {
                var bestLen = 0, bestDist = 0
                if i + 2 < n {
                    var cand = Int(head[hash(i)])
                    var chain = 0
                    let limit = min(maxLen, n - i)
                    while cand >= 0 && i - cand <= window && chain < maxChain {
                        if d[cand + bestLen] == d[i + bestLen] {
                            var l = 0
                            while l < limit && d[cand + l] == d[i + l] { l += 1 }
                            if l > bestLen {
                                bestLen = l; bestDist = i - cand
                                if l == limit { break }
                            }
                        }
                        cand = Int(prev[cand])
                        chain += 1
                    }
                }
                if bestLen >= 3 {
                    putMatch(&w, length: bestLen, distance: bestDist)
                    // Index every position the match covers (long runs: only
                    // the first and last few, to keep runs of equal bytes fast).
                    if bestLen <= 32 {
                        for k in 0..<bestLen { insert(i + k) }
                    } else {
                        for k in 0..<8 { insert(i + k) }
                        for k in (bestLen - 8)..<bestLen { insert(i + k) }
                    }
                    i += bestLen
                } else {
                    putLitLen(&w, Int(d[i]))
                    insert(i)
                    i += 1
                }
            }
        }
        putLitLen(&w, 256)  // end of block
        w.flush()
        return w.out
    }
}

public enum PNGWriteError: Error, CustomStringConvertible {
    case cannotWrite(String, Int32)
    public var description: String {
        switch self {
        case .cannotWrite(let path, let err): return "cannot write \(path): \(String(cString: strerror(err)))"
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so a reader never sees a half-written file.
public func writeFileAtomically(_ bytes: [UInt8], path: String) throws {
    let tmp = path + ".tmp-\(getpid())"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw PNGWriteError.cannotWrite(tmp, errno) }
    var off = 0
    let ok: Bool = bytes.withUnsafeBytes { buf in
        while off < buf.count {
            let r = write(fd, buf.baseAddress! + off, buf.count - off)
            if r < 0 { if errno == EINTR { continue }; return false }
            off += r
        }
        return true
    }
    let err = errno
    close(fd)
    guard ok else { unlink(tmp); throw PNGWriteError.cannotWrite(tmp, err) }
    guard rename(tmp, path) == 0 else {
        let e = errno
        unlink(tmp)
        throw PNGWriteError.cannotWrite(path, e)
    }
}

/// Encodes an RGBA image as PNG and writes it atomically (temp file + rename).
public func writePNGAtomically(rgba: [UInt8], width: Int, height: Int, path: String) throws {
    try writeFileAtomically(PNG.encode(rgba: rgba, width: width, height: height), path: path)
}
