import CPU
import Devices
import Foundation

// The GDB remote serial protocol for an x86-64 target: packet framing
// (pure, fuzzable), the target description, and the command handler that
// drives a `Debugger`. The byte transport (a TCP socket in the frontend, a
// buffer in tests) is behind `GDBTransport`.

/// One unit of the byte stream from GDB.
public enum GDBFrame: Equatable, Sendable {
    /// `$payload#cc` with a correct checksum; payload bytes as sent (escapes kept).
    case packet([UInt8])
    /// A packet whose checksum did not match.
    case badChecksum
    /// A packet longer than the limit (discarded whole).
    case oversized
    case ack
    case nack
    /// The 0x03 interrupt byte.
    case interrupt
}

public enum GDBPacket {
    /// Largest payload accepted; longer packets are refused.
    public static let maxPayload = 65536
    /// What we tell GDB it may send (qSupported PacketSize).
    public static let advertisedSize = 0x4000

    public enum Parse: Equatable, Sendable {
        /// More bytes are needed.
        case incomplete
        /// A frame, after `consumed` bytes.
        case frame(GDBFrame, consumed: Int)
        /// `consumed` bytes of noise (outside any packet) skipped.
        case skip(consumed: Int)
        /// The packet at the start exceeds `maxPayload` with no end yet:
        /// `consumed` bytes can be dropped; the rest of it must be discarded
        /// up to its `#cc`.
        case overflow(consumed: Int)
    }

    /// Parses the first frame of `bytes`. Pure: the caller keeps the buffer.
    public static func parse(_ bytes: [UInt8], maxPayload: Int = GDBPacket.maxPayload) -> Parse {
        guard let first = bytes.first else { return .incomplete }
        switch first {
        case UInt8(ascii: "+"): return .frame(.ack, consumed: 1)
        case UInt8(ascii: "-"): return .frame(.nack, consumed: 1)
        case 0x03: return .frame(.interrupt, consumed: 1)
        case UInt8(ascii: "$"): break
        default:
            var n = 1
            while n < bytes.count, !"$+-".utf8.contains(bytes[n]), bytes[n] != 0x03 { n += 1 }
            return .skip(consumed: n)
        }
        // Look for '#' within the limit.
        let searchEnd = min(bytes.count, 1 + maxPayload + 1)
        var hashAt: Int? = nil
        var i = 1
        while i < searchEnd {
            if bytes[i] == UInt8(ascii: "#") { hashAt = i; break }
            // A '$' inside means the earlier packet was cut: resynchronise.
            if bytes[i] == UInt8(ascii: "$") { return .skip(consumed: i) }
            i += 1
        }
        guard let h = hashAt else {
            if bytes.count > 1 + maxPayload { return .overflow(consumed: bytes.count) }
            return .incomplete
        }
        guard bytes.count >= h + 3 else { return .incomplete }
        let payload = Array(bytes[1..<h])
        guard let want = UInt8(String(decoding: bytes[(h + 1)...(h + 2)], as: UTF8.self), radix: 16) else {
            return .frame(.badChecksum, consumed: h + 3)
        }
        return .frame(checksum(payload) == want ? .packet(payload) : .badChecksum, consumed: h + 3)
    }

    public static func checksum(_ p: [UInt8]) -> UInt8 {
        var s: UInt8 = 0
        for b in p { s &+= b }
        return s
    }

    /// `$payload#cc` with '#', '$', '}' and '*' escaped.
    public static func encode(_ payload: [UInt8]) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(payload.count + 4)
        for b in payload {
            if b == UInt8(ascii: "#") || b == UInt8(ascii: "$") || b == UInt8(ascii: "}") || b == UInt8(ascii: "*") {
                body.append(UInt8(ascii: "}")); body.append(b ^ 0x20)
            } else {
                body.append(b)
            }
        }
        let cs = checksum(body)
        return [UInt8(ascii: "$")] + body + [UInt8(ascii: "#")] + Array(String(format: "%02x", cs).utf8)
    }
    public static func encode(_ s: String) -> [UInt8] { encode(Array(s.utf8)) }

    /// Undoes the '}' escaping of binary data (X packets).
    public static func unescape(_ b: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var esc = false
        for x in b {
            if esc { out.append(x ^ 0x20); esc = false }
            else if x == UInt8(ascii: "}") { esc = true }
            else { out.append(x) }
        }
        return out
    }
}

/// Splits a byte stream into frames, discarding oversized packets whole.
public struct GDBFramer {
    private var buffer: [UInt8] = []
    private var discarding = false
    private var discardTail = -1
    public let maxPayload: Int

    public init(maxPayload: Int = GDBPacket.maxPayload) { self.maxPayload = maxPayload }

    public mutating func feed(_ bytes: [UInt8]) -> [GDBFrame] {
        var frames: [GDBFrame] = []
        var input = bytes[...]
        // Finish discarding an oversized packet: up to '#' and two checksum digits.
        while discarding, let b = input.first {
            input = input.dropFirst()
            if discardTail < 0 {
                if b == UInt8(ascii: "#") { discardTail = 2 }
            } else {
                discardTail -= 1
            }
            if discardTail == 0 {
                discarding = false
                discardTail = -1
                frames.append(.oversized)
            }
        }
        buffer.append(contentsOf: input)
        while !buffer.isEmpty {
            switch GDBPacket.parse(buffer, maxPayload: maxPayload) {
            case .incomplete:
                return frames
            case .frame(let f, let n):
                frames.append(f)
                buffer.removeFirst(n)
            case .skip(let n):
                buffer.removeFirst(n)
            case .overflow:
                // Drop the packet up to its '#cc', which may already be here.
                let rest = Array(buffer.dropFirst())
                buffer.removeAll()
                discarding = true
                discardTail = -1
                return frames + feed(rest)
            }
        }
        return frames
    }
}

/// The byte pipe to GDB.
public protocol GDBTransport: AnyObject {
    /// Blocks until bytes arrive; nil when the connection closed.
    func receive() -> [UInt8]?
    /// Bytes available now without blocking (empty if none); nil when closed.
    func poll() -> [UInt8]?
    func send(_ bytes: [UInt8])
}

/// How a GDB session ended.
public enum GDBSessionEnd: Equatable, Sendable {
    case detached
    case killed
    case disconnected
    /// The machine ended (guest exit etc.); GDB was told.
    case machineEnded(PCStop)
}

/// Serves one GDB connection over a transport, driving the debugger.
public final class GDBServer {
    public let debugger: Debugger
    let transport: GDBTransport
    private var framer = GDBFramer()
    private var noAck = false
    private var pendingFrames: [GDBFrame] = []
    /// Called while the guest runs (to flush guest output, check signals);
    /// returning true stops the guest as Ctrl-C does.
    public var onRunning: (() -> Bool)?
    /// Log of packets for debugging the stub itself.
    public var log: ((String) -> Void)?

    public init(debugger: Debugger, transport: GDBTransport) {
        self.debugger = debugger
        self.transport = transport
    }

    private var cpu: CPU { debugger.cpu }

    func send(_ payload: String) {
        log?("<- " + payload.prefix(200))
        transport.send(GDBPacket.encode(payload))
    }

    /// Runs the session until GDB detaches, kills, disconnects, or the
    /// machine ends.
    public func serve() -> GDBSessionEnd {
        while true {
            if pendingFrames.isEmpty {
                guard let bytes = transport.receive() else { cleanup(); return .disconnected }
                pendingFrames = framer.feed(bytes)
                continue
            }
            let f = pendingFrames.removeFirst()
            switch f {
            case .ack, .nack, .interrupt:
                // A stray interrupt while stopped: report the stop again.
                if f == .interrupt { send(stopReply(.interrupted)) }
            case .badChecksum:
                transport.send(Array("-".utf8))
            case .oversized:
                if !noAck { transport.send(Array("+".utf8)) }
                send("E01")
            case .packet(let p):
                if !noAck { transport.send(Array("+".utf8)) }
                log?("-> " + String(decoding: p.prefix(200), as: UTF8.self))
                if let end = handle(p) {
                    cleanup(keepBreakpoints: false)
                    return end
                }
            }
        }
    }

    private func cleanup(keepBreakpoints: Bool = false) {
        debugger.gdbSoftware = []
        debugger.gdbHardware = []
        debugger.gdbWatches = []
    }

    // MARK: packets

    /// Handles one packet; returns non-nil when the session ends.
    func handle(_ p: [UInt8]) -> GDBSessionEnd? {
        guard let cmd = p.first else { send(""); return nil }
        let s = String(decoding: p, as: UTF8.self)
        switch Character(Unicode.Scalar(cmd)) {
        case "?":
            send(stopReply(.finished, signal: 5))
        case "g":
            send(registerBlock())
        case "G":
            send(writeRegisterBlock(String(s.dropFirst())) ? "OK" : "E01")
        case "p":
            guard let n = Int(s.dropFirst(), radix: 16), let v = readRegister(n) else { send("E01"); return nil }
            send(v)
        case "P":
            let parts = s.dropFirst().split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let n = Int(parts[0], radix: 16), writeRegister(n, String(parts[1])) else { send("E01"); return nil }
            send("OK")
        case "m":
            let parts = s.dropFirst().split(separator: ",")
            guard parts.count == 2, let a = UInt64(parts[0], radix: 16), let n = Int(parts[1], radix: 16), n >= 0 else {
                send("E01"); return nil
            }
            let len = min(n, GDBPacket.advertisedSize / 2)
            guard let bytes = debugger.readGuest(a, count: len) else {
                // Partial reads: as much as is mapped.
                var got: [UInt8] = []
                while got.count < len, let b = debugger.readGuest(a &+ UInt64(got.count), count: 1) { got.append(b[0]) }
                send(got.isEmpty ? "E14" : GDBServer.hexBytes(got))
                return nil
            }
            send(GDBServer.hexBytes(bytes))
        case "M":
            let parts = s.dropFirst().split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let head = parts.first?.split(separator: ",") ?? []
            guard parts.count == 2, head.count == 2, let a = UInt64(head[0], radix: 16), let n = Int(head[1], radix: 16),
                  let data = GDBServer.parseHex(String(parts[1])), data.count == n else { send("E01"); return nil }
            send(debugger.writeGuest(a, data) ? "OK" : "E14")
        case "X":
            guard let colon = p.firstIndex(of: UInt8(ascii: ":")) else { send("E01"); return nil }
            let head = String(decoding: p[1..<colon], as: UTF8.self).split(separator: ",")
            guard head.count == 2, let a = UInt64(head[0], radix: 16), let n = Int(head[1], radix: 16) else { send("E01"); return nil }
            let data = GDBPacket.unescape(p[(colon + 1)...])
            guard data.count == n else { send("E01"); return nil }
            send(n == 0 || debugger.writeGuest(a, data) ? "OK" : "E14")
        case "Z", "z":
            send(breakpointPacket(s))
        case "c", "C":
            if let addr = resumeAddress(s) { cpu.rip = addr }
            return run(.continueRun)
        case "s", "S":
            if let addr = resumeAddress(s) { cpu.rip = addr }
            return run(.stepQuiet)
        case "v":
            return vPacket(s)
        case "H":
            send("OK")
        case "T":
            send("OK")
        case "q":
            send(query(s))
        case "Q":
            if s == "QStartNoAckMode" { send("OK"); noAck = true }
            else { send("") }
        case "D":
            send("OK")
            return .detached
        case "k":
            return .killed
        default:
            send("")
        }
        return nil
    }

    /// The optional address of `c addr` / `s addr`.
    private func resumeAddress(_ s: String) -> UInt64? {
        var rest = s.dropFirst()
        if s.first == "C" || s.first == "S" {
            // Csig[;addr]
            guard let semi = rest.firstIndex(of: ";") else { return nil }
            rest = rest[rest.index(after: semi)...]
        }
        return rest.isEmpty ? nil : UInt64(rest, radix: 16)
    }

    private func vPacket(_ s: String) -> GDBSessionEnd? {
        if s == "vCont?" { send("vCont;c;C;s;S"); return nil }
        if s.hasPrefix("vCont;") {
            // The first action decides (one thread).
            let action = s.dropFirst(6).split(separator: ";").first.map { $0.split(separator: ":").first ?? "" } ?? ""
            switch action.first {
            case "s", "S": return run(.stepQuiet)
            case "c", "C": return run(.continueRun)
            default: send("E01"); return nil
            }
        }
        if s == "vMustReplyEmpty" { send(""); return nil }
        if s.hasPrefix("vKill") { send("OK"); return .killed }
        send("")
        return nil
    }

    private func query(_ s: String) -> String {
        if s.hasPrefix("qSupported") {
            return "PacketSize=\(String(GDBPacket.advertisedSize, radix: 16));qXfer:features:read+;swbreak+;hwbreak+;vContSupported+;QStartNoAckMode+"
        }
        if s == "qAttached" { return "1" }
        if s == "qC" { return "QC1" }
        if s == "qfThreadInfo" { return "m1" }
        if s == "qsThreadInfo" { return "l" }
        if s == "qOffsets" { return "Text=0;Data=0;Bss=0" }
        if s.hasPrefix("qSymbol") { return "OK" }
        if s.hasPrefix("qThreadExtraInfo") { return GDBServer.hexBytes(Array("CPU 0 (\(cpu.mode.rawValue))".utf8)) }
        if s.hasPrefix("qXfer:features:read:") {
            let rest = s.dropFirst("qXfer:features:read:".count)
            let parts = rest.split(separator: ":")
            guard parts.count == 2 else { return "E00" }
            guard let doc = GDBServer.targetDocuments[String(parts[0])] else { return "E00" }
            let r = parts[1].split(separator: ",")
            guard r.count == 2, let off = Int(r[0], radix: 16), let len = Int(r[1], radix: 16), off >= 0, len >= 0 else { return "E00" }
            let bytes = Array(doc.utf8)
            if off >= bytes.count { return "l" }
            let end = min(bytes.count, off + min(len, GDBPacket.advertisedSize - 16))
            return (end == bytes.count ? "l" : "m") + String(decoding: bytes[off..<end], as: UTF8.self)
        }
        if s.hasPrefix("qRcmd,") {
            // `monitor CMD` runs a debugger command and prints its output.
            guard let raw = GDBServer.parseHex(String(s.dropFirst(6))) else { return "E01" }
            let line = String(decoding: raw, as: UTF8.self)
            let text: String
            switch DebugCommandParser.parse(line) {
            case .success(let c):
                switch c {
                case .continueRun, .step, .next, .finish, .until, .runFor, .quit:
                    text = "execution commands are gdb's (continue, stepi, ...) in a gdb session\n"
                default:
                    text = debugger.execute(c).output + "\n"
                }
            case .failure(let e):
                text = e.message + "\n"
            }
            send("O" + GDBServer.hexBytes(Array(text.utf8)))
            return "OK"
        }
        return ""
    }

    private func breakpointPacket(_ s: String) -> String {
        let insert = s.first == "Z"
        let parts = s.dropFirst().split(separator: ",")
        guard parts.count >= 3, let type = Int(parts[0]), let addr = UInt64(parts[1], radix: 16),
              let kind = UInt64(parts[2].split(separator: ";").first ?? "", radix: 16) else { return "E01" }
        switch type {
        case 0:
            if insert { debugger.gdbSoftware.insert(addr) } else { debugger.gdbSoftware.remove(addr) }
        case 1:
            if insert { debugger.gdbHardware.insert(addr) } else { debugger.gdbHardware.remove(addr) }
        case 2, 3, 4:
            let wk: WatchKind = type == 2 ? .write : (type == 3 ? .read : .access)
            guard kind > 0, kind <= 1 << 20 else { return "E01" }
            let w = Debugger.GDBWatch(address: addr, length: kind, kind: wk)
            if insert {
                if !debugger.gdbWatches.contains(w) { debugger.gdbWatches.append(w) }
            } else {
                debugger.gdbWatches.removeAll { $0 == w }
            }
        default:
            return ""
        }
        return "OK"
    }

    // MARK: running

    private func run(_ how: Debugger.Resume) -> GDBSessionEnd? {
        var stopRequested = false
        let report = debugger.resume(how) { [self] in
            if onRunning?() == true { log?("stop: host interrupt"); stopRequested = true; return true }
            guard let bytes = transport.poll() else { log?("stop: connection closed"); stopRequested = true; return true }
            if bytes.isEmpty { return false }
            log?("while running: \(bytes)")
            let frames = framer.feed(bytes)
            var stop = false
            for f in frames {
                if f == .interrupt { stop = true } else { pendingFrames.append(f) }
            }
            if stop { stopRequested = true }
            return stop
        }
        _ = stopRequested
        if case .machine(let m) = report.cause {
            switch m {
            case .guestExit(let code):
                send(String(format: "W%02x", UInt8(truncatingIfNeeded: code)))
                return .machineEnded(m)
            case .tripleFault, .resetRequested, .instructionLimit, .timeLimit, .outputMatched:
                send("X09")
                return .machineEnded(m)
            default:
                break
            }
        }
        send(stopReply(report.cause))
        return nil
    }

    func stopReply(_ c: Debugger.StopCause, signal: Int = 5) -> String {
        var sig = signal
        var extra = ""
        switch c {
        case .interrupted: sig = 2
        case .gdbBreakpoint(_, let hw): extra = hw ? "hwbreak:;" : "swbreak:;"
        case .gdbWatchpoint(let k, let a):
            let name = k == .write ? "watch" : (k == .read ? "rwatch" : "awatch")
            extra = "\(name):\(String(a, radix: 16));"
        case .machine(.tripleFault): sig = 11
        default: break
        }
        return String(format: "T%02x", sig) + extra + "thread:1;"
    }

    // MARK: registers (order of the target description below)

    /// (name, bytes) in GDB register-number order.
    static let registerLayout: [(String, Int)] = {
        var r: [(String, Int)] = []
        for n in ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip"] {
            r.append((n, 8))
        }
        r.append(("eflags", 4))
        for n in ["cs", "ss", "ds", "es", "fs", "gs"] { r.append((n, 4)) }
        for i in 0..<8 { r.append(("st\(i)", 10)) }
        for n in ["fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"] { r.append((n, 4)) }
        for i in 0..<16 { r.append(("xmm\(i)", 16)) }
        r.append(("mxcsr", 4))
        r.append(("fs_base", 8))
        r.append(("gs_base", 8))
        for n in ["cr0", "cr2", "cr3", "cr4", "cr8", "efer"] { r.append((n, 8)) }
        return r
    }()

    static func hexBytes(_ b: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(b.count * 2)
        for x in b { out.append(digits[Int(x >> 4)]); out.append(digits[Int(x & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    static func parseHex(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = hexDigit(u[i]), let lo = hexDigit(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    static func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> UInt64(8 * $0)) } }

    func registerBytes(_ n: Int) -> [UInt8]? {
        guard n >= 0 && n < GDBServer.registerLayout.count else { return nil }
        let (name, size) = GDBServer.registerLayout[n]
        let gprs: [GPR] = [.rax, .rbx, .rcx, .rdx, .rsi, .rdi, .rbp, .rsp, .r8, .r9, .r10, .r11, .r12, .r13, .r14, .r15]
        switch n {
        case 0..<16: return GDBServer.le(cpu.gpr(gprs[n]), 8)
        case 16: return GDBServer.le(cpu.rip, 8)
        case 17: return GDBServer.le(cpu.rflags, 4)
        case 18...23:
            let segs: [SegReg] = [.cs, .ss, .ds, .es, .fs, .gs]
            return GDBServer.le(UInt64(cpu.segment(segs[n - 18]).selector), 4)
        case 24..<32: return [UInt8](repeating: 0, count: 10)
        case 32: return GDBServer.le(0x037F, 4)     // fctrl: the FNINIT value (x87 state is not modelled)
        case 33..<40: return GDBServer.le(n == 34 ? 0xFFFF : 0, 4)   // ftag: all empty
        case 40..<56:
            let (lo, hi) = cpu.xmm(n - 40)
            return GDBServer.le(lo, 8) + GDBServer.le(hi, 8)
        case 56: return GDBServer.le(UInt64(cpu.mxcsr), 4)
        default:
            guard let v = debugger.registerValue(name) else { return [UInt8](repeating: 0, count: size) }
            return GDBServer.le(v, size)
        }
    }

    func readRegister(_ n: Int) -> String? { registerBytes(n).map(GDBServer.hexBytes) }

    func registerBlock() -> String {
        var out = ""
        for i in 0..<GDBServer.registerLayout.count { out += readRegister(i) ?? "" }
        return out
    }

    func writeRegister(_ n: Int, _ hex: String) -> Bool {
        guard n >= 0 && n < GDBServer.registerLayout.count, let bytes = GDBServer.parseHex(hex),
              bytes.count == GDBServer.registerLayout[n].1 else { return false }
        var v: UInt64 = 0
        for (i, b) in bytes.prefix(8).enumerated() { v |= UInt64(b) << UInt64(8 * i) }
        let name = GDBServer.registerLayout[n].0
        switch n {
        case 0...17: return debugger.setRegister(name == "eflags" ? "rflags" : name, v)
        case 18...23:
            // Selector writes are accepted only when unchanged (loading a
            // descriptor from a debugger is not supported).
            return debugger.registerValue(name) == v
        case 24..<40: return true   // x87 state is not modelled; writes are ignored
        case 40..<56:
            var hi: UInt64 = 0
            for (i, b) in bytes[8...].enumerated() { hi |= UInt64(b) << UInt64(8 * i) }
            cpu.setXMM(n - 40, (v, hi))
            return true
        case 56: cpu.mxcsr = UInt32(truncatingIfNeeded: v); return true
        default:
            return debugger.setRegister(name, v) || debugger.registerValue(name) == v
        }
    }

    func writeRegisterBlock(_ hex: String) -> Bool {
        guard let bytes = GDBServer.parseHex(hex) else { return false }
        var off = 0
        for (i, (_, size)) in GDBServer.registerLayout.enumerated() {
            guard off + size <= bytes.count else { break }
            _ = writeRegister(i, GDBServer.hexBytes(Array(bytes[off..<off + size])))
            off += size
        }
        return true
    }

    // MARK: target description

    static let targetDocuments: [String: String] = ["target.xml": targetXML]

    static let targetXML: String = {
        var x = """
        <?xml version="1.0"?>
        <!DOCTYPE target SYSTEM "gdb-target.dtd">
        <target version="1.0">
        <architecture>i386:x86-64</architecture>
        <feature name="org.gnu.gdb.i386.core">
        <flags id="i386_eflags" size="4">
        <field name="CF" start="0" end="0"/><field name="" start="1" end="1"/><field name="PF" start="2" end="2"/>
        <field name="AF" start="4" end="4"/><field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
        <field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/><field name="DF" start="10" end="10"/>
        <field name="OF" start="11" end="11"/><field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
        <field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/><field name="VIF" start="19" end="19"/>
        <field name="VIP" start="20" end="20"/><field name="ID" start="21" end="21"/>
        </flags>

        """
        let gprTypes = ["int64", "int64", "int64", "int64", "int64", "int64", "data_ptr", "data_ptr"]
        let names = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"]
        for (i, n) in names.enumerated() { x += "<reg name=\"\(n)\" bitsize=\"64\" type=\"\(gprTypes[i])\" regnum=\"\(i)\"/>\n" }
        for i in 8...15 { x += "<reg name=\"r\(i)\" bitsize=\"64\" type=\"int64\"/>\n" }
        x += "<reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\"/>\n"
        x += "<reg name=\"eflags\" bitsize=\"32\" type=\"i386_eflags\"/>\n"
        for n in ["cs", "ss", "ds", "es", "fs", "gs"] { x += "<reg name=\"\(n)\" bitsize=\"32\" type=\"int32\"/>\n" }
        for i in 0..<8 { x += "<reg name=\"st\(i)\" bitsize=\"80\" type=\"i387_ext\"/>\n" }
        for n in ["fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"] {
            x += "<reg name=\"\(n)\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
        }
        x += """
        </feature>
        <feature name="org.gnu.gdb.i386.sse">
                <vector id="v4f" type="ieee_single" count="4"/>
        <vector id="v2d" type="ieee_double" count="2"/>
        <vector id="v16i8" type="int8" count="16"/>
        <vector id="v8i16" type="int16" count="8"/>
        <vector id="v4i32" type="int32" count="4"/>
        <vector id="v2i64" type="int64" count="2"/>
        <union id="vec128">
        <field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/><field name="v16_int8" type="v16i8"/>
        <field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/>
        <field name="uint128" type="uint128"/>
        </union>
        <flags id="i386_mxcsr" size="4">
        <field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/><field name="ZE" start="2" end="2"/>
        <field name="OE" start="3" end="3"/><field name="UE" start="4" end="4"/><field name="PE" start="5" end="5"/>
        <field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/><field name="DM" start="8" end="8"/>
        <field name="ZM" start="9" end="9"/><field name="OM" start="10" end="10"/><field name="UM" start="11" end="11"/>
        <field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/>
        </flags>

        """
        for i in 0..<16 { x += "<reg name=\"xmm\(i)\" bitsize=\"128\" type=\"vec128\"/>\n" }
        x += "<reg name=\"mxcsr\" bitsize=\"32\" type=\"i386_mxcsr\" group=\"vector\"/>\n"
        x += """
        </feature>
        <feature name="org.gnu.gdb.i386.segments">
        <reg name="fs_base" bitsize="64" type="int"/>
        <reg name="gs_base" bitsize="64" type="int"/>
        </feature>
        <feature name="org.swiftemu.x86.system">
        <reg name="cr0" bitsize="64" type="int" group="system"/>
        <reg name="cr2" bitsize="64" type="data_ptr" group="system"/>
        <reg name="cr3" bitsize="64" type="int" group="system"/>
        <reg name="cr4" bitsize="64" type="int" group="system"/>
        <reg name="cr8" bitsize="64" type="int" group="system"/>
        <reg name="efer" bitsize="64" type="int" group="system"/>
        </feature>
        </target>

        """
        return x
    }()
}
