import Foundation
import XCTest
@testable import Board

/// The GDB remote protocol pieces without sockets: packet framing, the
/// target description against the `g` packet, and a server session over an
/// in-memory transport.
final class GDBProtocolTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testFramingParsesPacketsAcksAndInterrupts() {
        XCTAssertEqual(GDBPacket.parse(bytes("$qSupported#37")), .frame(.packet(bytes("qSupported")), consumed: 14))
        XCTAssertEqual(GDBPacket.parse(bytes("+$g#67")), .frame(.ack, consumed: 1))
        XCTAssertEqual(GDBPacket.parse(bytes("-")), .frame(.nack, consumed: 1))
        XCTAssertEqual(GDBPacket.parse([0x03]), .frame(.interrupt, consumed: 1))
        XCTAssertEqual(GDBPacket.parse(bytes("$g#00")), .frame(.badChecksum, consumed: 5))
        XCTAssertEqual(GDBPacket.parse(bytes("$g#zz")), .frame(.badChecksum, consumed: 5))
        XCTAssertEqual(GDBPacket.parse(bytes("$g#6")), .incomplete)
        XCTAssertEqual(GDBPacket.parse(bytes("$qSup")), .incomplete)
        XCTAssertEqual(GDBPacket.parse(bytes("garbage$g#67")), .skip(consumed: 7))
        XCTAssertEqual(GDBPacket.parse(bytes("$abc$g#67")), .skip(consumed: 4))   // a cut packet is dropped
        XCTAssertEqual(GDBPacket.parse([]), .incomplete)
        XCTAssertEqual(GDBPacket.parse(bytes("$" + String(repeating: "a", count: 20)), maxPayload: 8), .overflow(consumed: 21))
    }

    func testEncodingEscapesAndChecksums() {
        XCTAssertEqual(String(decoding: GDBPacket.encode("OK"), as: UTF8.self), "$OK#9a")
        XCTAssertEqual(String(decoding: GDBPacket.encode(""), as: UTF8.self), "$#00")
        let raw: [UInt8] = [0x23, 0x24, 0x7D, 0x2A, 0x41]
        let enc = GDBPacket.encode(raw)
        guard case .frame(.packet(let p), _) = GDBPacket.parse(enc) else { return XCTFail("not a packet") }
        XCTAssertEqual(GDBPacket.unescape(p[...]), raw)
        XCTAssertFalse(p.contains(0x23) || p.contains(0x24))
    }

    func testFramerDiscardsOversizedPacketsWholeAndRecovers() {
        var f = GDBFramer(maxPayload: 64)
        var frames = f.feed(bytes("$" + String(repeating: "x", count: 50)))
        XCTAssertEqual(frames, [])
        frames = f.feed(bytes(String(repeating: "y", count: 100)))
        XCTAssertEqual(frames, [])          // still inside the oversized packet
        frames = f.feed(bytes(String(repeating: "z", count: 1000) + "#1"))
        XCTAssertEqual(frames, [])
        frames = f.feed(bytes("2+$?#3f"))
        XCTAssertEqual(frames, [.oversized, .ack, .packet(bytes("?"))])
        // Split across feeds at every position.
        let stream = bytes("+") + packet("m100000,4") + packet("Z0,100049,1") + [0x03]
        for cut in 0...stream.count {
            var g = GDBFramer()
            let out = g.feed(Array(stream[..<cut])) + g.feed(Array(stream[cut...]))
            XCTAssertEqual(out, [.ack, .packet(bytes("m100000,4")), .packet(bytes("Z0,100049,1")), .interrupt], "cut \(cut)")
        }
    }

    func testFramerSurvivesRandomBytes() {
        var rng = SystemRandomNumberGenerator()
        var f = GDBFramer(maxPayload: 512)
        for _ in 0..<2000 {
            let n = Int.random(in: 0...300, using: &rng)
            let chunk = (0..<n).map { _ -> UInt8 in
                let r = UInt8.random(in: 0...255, using: &rng)
                return r < 16 ? [0x24, 0x23, 0x2B, 0x2D, 0x03][Int(r) % 5] : r
            }
            for fr in f.feed(chunk) {
                if case .packet(let p) = fr { XCTAssertLessThanOrEqual(p.count, 512) }
            }
        }
        // Still in sync afterwards.
        _ = f.feed(bytes("#00#00"))
        XCTAssertTrue(f.feed(bytes("$?#3f")).contains(.packet(bytes("?"))))
    }

    // MARK: the server over an in-memory transport

    final class MemoryTransport: GDBTransport {
        var incoming: [[UInt8]] = []
        var sent: [UInt8] = []
        func receive() -> [UInt8]? { incoming.isEmpty ? nil : incoming.removeFirst() }
        func poll() -> [UInt8]? { [] }
        func send(_ bytes: [UInt8]) { sent += bytes }
        /// Packets sent, without acks.
        var replies: [String] {
            var out: [String] = []
            var f = GDBFramer(maxPayload: 1 << 22)
            for fr in f.feed(sent) { if case .packet(let p) = fr { out.append(String(decoding: p, as: UTF8.self)) } }
            return out
        }
    }

    func machine() throws -> (PC, Debugger) {
        let path = try Repo.kernel("irq_pit.elf")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let pc = PC()
        try pc.load(kernel: bytes, path: path, append: "")
        let d = Debugger(pc: pc, symbols: SymbolTable.load(elf: bytes))
        d.attach()
        return (pc, d)
    }

    func packet(_ s: String) -> [UInt8] { GDBPacket.encode(s) }

    func testRegisterBlockMatchesTheTargetDescription() throws {
        let (pc, d) = try machine()
        let t = MemoryTransport()
        t.incoming = [packet("qSupported:xmlRegisters=i386"), packet("qXfer:features:read:target.xml:0,10000"),
                      packet("g"), packet("p10"), packet("p11"), packet("p12"), packet("p37"), packet("D")]
        let end = GDBServer(debugger: d, transport: t).serve()
        XCTAssertEqual(end, .detached)
        let r = t.replies
        XCTAssertEqual(r.count, 8, "\(r)")
        XCTAssertTrue(r[0].contains("PacketSize=4000") && r[0].contains("qXfer:features:read+"), r[0])
        XCTAssertTrue(r[1].hasPrefix("l<?xml"), r[1])
        XCTAssertTrue(r[1].contains("<architecture>i386:x86-64</architecture>"))
        // Sum of the described register sizes = the g packet.
        let xml = String(r[1].dropFirst())
        var bits = 0, regs: [String] = []
        for m in xml.components(separatedBy: "<reg ").dropFirst() {
            let name = m.components(separatedBy: "name=\"")[1].components(separatedBy: "\"")[0]
            let b = Int(m.components(separatedBy: "bitsize=\"")[1].components(separatedBy: "\"")[0])!
            regs.append(name); bits += b
        }
        XCTAssertEqual(Array(regs.prefix(18)), ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
                                                "r11", "r12", "r13", "r14", "r15", "rip", "eflags"])
        XCTAssertEqual(r[2].count, bits / 4)
        XCTAssertEqual(regs.count, GDBServer.registerLayout.count)
        // rip (16), eflags (17), cs (18) from the Multiboot hand-off state; rax = magic.
        let rip = pc.cpu.rip
        XCTAssertEqual(r[3], GDBServer.hexBytes(GDBServer.le(rip, 8)))
        XCTAssertEqual(r[4], "02000000")
        XCTAssertEqual(r[5], "08000000")
        XCTAssertEqual(String(r[2].prefix(16)), "02b0ad2b00000000")
        XCTAssertEqual(r[6], "00000000000000000000000000000000")   // xmm15
    }

    func testBreakpointContinueStepMemoryAndWatchpoint() throws {
        let (pc, d) = try machine()
        guard case .success(let isr) = d.symbols.resolve("isr_common"),
              case .success(let ticks) = d.symbols.resolve("ticks") else { return XCTFail("symbols") }
        let t = MemoryTransport()
        let hexAddr = String(isr.address, radix: 16)
        t.incoming = [
            packet("Z0,\(hexAddr),1"), packet("vCont;c"),
            packet("p10"),
            packet("m\(hexAddr),2"),
            packet("z0,\(hexAddr),1"), packet("vCont;s"), packet("p10"),
            packet("Z2,\(String(ticks.address, radix: 16)),4"), packet("c"),
            packet("m\(String(ticks.address, radix: 16)),4"),
            packet("z2,\(String(ticks.address, radix: 16)),4"),
            packet("M\(String(ticks.address, radix: 16)),4:2a000000"),
            packet("m\(String(ticks.address, radix: 16)),4"),
            packet("Pa=0000000000000000"), packet("P0=efbeadde00000000"), packet("p0"),
            packet("mdeadbeef000,4"),
            packet("qRcmd," + GDBServer.hexBytes(Array("pic".utf8))),
            packet("k"),
        ]
        let end = GDBServer(debugger: d, transport: t).serve()
        XCTAssertEqual(end, .killed)
        let r = t.replies
        XCTAssertEqual(r[0], "OK")
        XCTAssertEqual(r[1], "T05swbreak:;thread:1;")
        XCTAssertEqual(r[2], GDBServer.hexBytes(GDBServer.le(isr.address, 8)))
        XCTAssertEqual(r[3], "608b")          // pushad; mov eax, [esp+0x20]
        XCTAssertEqual(r[4], "OK")
        XCTAssertEqual(r[5], "T05thread:1;")
        XCTAssertEqual(r[6], GDBServer.hexBytes(GDBServer.le(isr.address + 1, 8)))
        XCTAssertEqual(r[7], "OK")
        XCTAssertEqual(r[8], "T05watch:\(String(ticks.address, radix: 16));thread:1;")
        XCTAssertEqual(r[9], "01000000")      // the IRQ0 handler counted a tick
        XCTAssertEqual(r[10], "OK")
        XCTAssertEqual(r[11], "OK")
        XCTAssertEqual(r[12], "2a000000")
        XCTAssertEqual(r[13], "OK")           // r10
        XCTAssertEqual(r[14], "OK")
        XCTAssertEqual(r[15], "efbeadde00000000")
        XCTAssertEqual(r[16], "E14")
        XCTAssertTrue(r[17].hasPrefix("O"), r[17])
        XCTAssertTrue(String(decoding: GDBServer.parseHex(String(r[17].dropFirst())) ?? [], as: UTF8.self).contains("master: IRR="))
        XCTAssertEqual(r[18], "OK")
        XCTAssertEqual(pc.cpu.gpr(.rax), 0xDEAD_BEEF)
        // A killed session leaves no GDB breakpoints behind.
        XCTAssertTrue(d.gdbSoftware.isEmpty && d.gdbWatches.isEmpty)
    }

    /// Delivers a Ctrl-C (0x03) after a number of polls while the guest runs.
    final class InterruptingTransport: GDBTransport {
        var incoming: [[UInt8]] = []
        var sent: [UInt8] = []
        var pollsBeforeInterrupt = 20
        func receive() -> [UInt8]? { incoming.isEmpty ? nil : incoming.removeFirst() }
        func poll() -> [UInt8]? {
            pollsBeforeInterrupt -= 1
            return pollsBeforeInterrupt == 0 ? [0x03] : []
        }
        func send(_ bytes: [UInt8]) { sent += bytes }
    }

    func testCtrlCWhileRunningStopsWithSIGINT() throws {
        let path = try Repo.kernel("spin.elf")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let pc = PC()
        try pc.load(kernel: bytes, path: path, append: "")
        let d = Debugger(pc: pc, symbols: SymbolTable.load(elf: bytes))
        d.attach()
        let t = InterruptingTransport()
        t.incoming = [packet("c"), packet("p10"), packet("D")]
        XCTAssertEqual(GDBServer(debugger: d, transport: t).serve(), .detached)
        var f = GDBFramer()
        let replies = f.feed(t.sent).compactMap { fr -> String? in
            if case .packet(let p) = fr { return String(decoding: p, as: UTF8.self) }
            return nil
        }
        XCTAssertEqual(replies.first, "T02thread:1;")
        // Stopped in the spin loop after about 20 slices of 10 ms.
        XCTAssertGreaterThan(pc.virtualTime, 150_000_000)
        XCTAssertEqual(replies[1], GDBServer.hexBytes(GDBServer.le(pc.cpu.rip, 8)))
    }

    func testOversizedPacketIsRefusedAndTheSessionGoesOn() throws {
        let (_, d) = try machine()
        let t = MemoryTransport()
        let huge = [UInt8(ascii: "$")] + [UInt8](repeating: UInt8(ascii: "a"), count: GDBPacket.maxPayload + 5000) + bytes("#00")
        t.incoming = [Array(huge[..<30000]), Array(huge[30000...]), packet("?"), packet("D")]
        let end = GDBServer(debugger: d, transport: t).serve()
        XCTAssertEqual(end, .detached)
        XCTAssertEqual(t.replies, ["E01", "T05thread:1;", "OK"])
        XCTAssertTrue(String(decoding: t.sent, as: UTF8.self).hasPrefix("+$E01#a6+$T05"))
    }
}
