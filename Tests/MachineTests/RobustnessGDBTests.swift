import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The GDB stub's exposure: it listens on the loopback interface only, and
/// a packet larger than the stub accepts is refused whole without ending the
/// session.
final class RobustnessGDBTests: XCTestCase {
    private func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw XCTSkip("no free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Local addresses (hex "AABBCCDD:PPPP" as /proc/net/tcp shows them) of
    /// the listening TCP sockets on `port`.
    private func listeners(port: Int) -> [String] {
        var out: [String] = []
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ")
                guard f.count > 3, f[3] == "0A" else { continue }   // LISTEN
                let local = f[1].split(separator: ":")
                if local.count == 2, Int(local[1], radix: 16) == port { out.append(String(f[1])) }
            }
        }
        return out
    }

    private func packet(_ payload: String) -> [UInt8] {
        let body = Array(payload.utf8)
        let sum = body.reduce(UInt8(0)) { $0 &+ $1 }
        return Array("$".utf8) + body + Array(String(format: "#%02x", sum).utf8)
    }

    /// Reads until a whole `$...#cc` packet has arrived; returns its payload.
    private func readPacket(_ fd: Int32, _ pending: inout [UInt8]) -> String? {
        var buf = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let start = pending.firstIndex(of: UInt8(ascii: "$")),
               let hash = pending[start...].firstIndex(of: UInt8(ascii: "#")), pending.count >= hash + 3 {
                let payload = String(decoding: pending[(start + 1)..<hash], as: UTF8.self)
                pending.removeFirst(hash + 3)
                return payload
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 500) <= 0 { continue }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { return nil }
            pending += buf[0..<n]
        }
        return nil
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    func testStubListensOnLoopbackOnlyAndRefusesOversizedPackets() throws {
        let port = try freePort()
        let p = Process()
        p.executableURL = Repo.swiftemu
        p.arguments = [try Repo.kernel("limits.elf"), "headless", "--gdb", String(port), "--append", "s"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { p.terminate(); p.waitUntilExit() } }

        // The listening socket appears, bound to 127.0.0.1 and nothing else.
        var found: [String] = []
        let until = Date().addingTimeInterval(60)
        while found.isEmpty && Date() < until && p.isRunning {
            usleep(50_000)
            found = listeners(port: port)
        }
        XCTAssertEqual(found, [String(format: "0100007F:%04X", port)], "the stub must listen on 127.0.0.1 only")

        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        let c = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(c, 0, "connect to 127.0.0.1:\(port)")
        var pending: [UInt8] = []

        sendAll(fd, packet("qSupported:swbreak+"))
        let supported = readPacket(fd, &pending)
        XCTAssertTrue(supported?.contains("PacketSize=") ?? false, supported ?? "no reply")

        // 70 000 bytes of payload: more than the stub's 65 536 limit.
        sendAll(fd, Array("$".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 70_000) + Array("#00".utf8))
        XCTAssertEqual(readPacket(fd, &pending), "E01", "an oversized packet is refused")

        // The session goes on: memory at the kernel's load address.
        sendAll(fd, packet("m100000,4"))
        XCTAssertEqual(readPacket(fd, &pending), "02b0ad1b", "the Multiboot magic at the start of the image")

        sendAll(fd, packet("k"))
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 14, "gdb killed the session")
    }
}
