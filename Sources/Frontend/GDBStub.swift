#if canImport(Glibc)
import Glibc
#endif
import Board
import Foundation

struct GDBSocketError: Error, CustomStringConvertible {
    var description: String
}

/// A TCP listener on 127.0.0.1 only (GDB's `target remote :PORT`).
final class GDBListener {
    private var fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw GDBSocketError(description: "cannot create a socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)   // 127.0.0.1
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else {
            let e = String(cString: strerror(errno))
            Glibc.close(fd)
            throw GDBSocketError(description: "cannot listen on 127.0.0.1:\(port): \(e)")
        }
        guard listen(fd, 1) == 0 else {
            let e = String(cString: strerror(errno))
            Glibc.close(fd)
            throw GDBSocketError(description: "listen failed: \(e)")
        }
    }

    /// Waits for one connection; nil when `stop` says so (a signal).
    func accept(stop: () -> Bool) -> GDBConnection? {
        while true {
            if stop() { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let n = Glibc.poll(&p, 1, 200)
            if n < 0 && errno != EINTR { return nil }
            if n <= 0 { continue }
            let c = Glibc.accept(fd, nil, nil)
            if c < 0 { if errno == EINTR || errno == EAGAIN { continue }; return nil }
            var one: Int32 = 1
            setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return GDBConnection(fd: c)
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }
}

/// One GDB client connection.
final class GDBConnection: GDBTransport {
    private var fd: Int32
    private var buf = [UInt8](repeating: 0, count: 65536)

    init(fd: Int32) { self.fd = fd }

    func receive() -> [UInt8]? {
        guard fd >= 0 else { return nil }
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0 { return Array(buf[0..<n]) }
            if n < 0 && errno == EINTR {
                if pendingSignal == SIGTERM { return nil }
                continue
            }
            return nil
        }
    }

    func poll() -> [UInt8]? {
        guard fd >= 0 else { return nil }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = Glibc.poll(&p, 1, 0)
        if n <= 0 { return [] }
        if p.revents & Int16(POLLIN) == 0 { return p.revents & Int16(POLLHUP | POLLERR) != 0 ? nil : [] }
        let r = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
        if r > 0 { return Array(buf[0..<r]) }
        if r < 0 && (errno == EAGAIN || errno == EINTR) { return [] }
        return nil
    }

    func send(_ bytes: [UInt8]) {
        guard fd >= 0 else { return }
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            off += n
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }
}
