import Foundation
import XCTest
@testable import Board
#if canImport(Glibc)
import Glibc
#endif

/// The installed gdb against `swiftemu --gdb PORT`, and raw TCP against the
/// stub (an oversized packet is refused, the connection keeps working).
final class GDBIntegrationTests: XCTestCase {
    static let gdbPath = ["/usr/bin/gdb", "/usr/local/bin/gdb"].first { FileManager.default.isExecutableFile(atPath: $0) }
    /// gdb runs in its own session (`setsid -w`) so that no signal it sends
    /// to its process group reaches the test runner or the emulator.
    static let setsid = FileManager.default.isExecutableFile(atPath: "/usr/bin/setsid") ? "/usr/bin/setsid" : nil

    /// A TCP port nobody listens on right now.
    func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                bind(fd, sp, len) == 0 && getsockname(fd, sp, &len) == 0
            }
        }
        guard ok else { throw XCTSkip("cannot bind a local port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Starts swiftemu in the background; returns the process and its output pipes.
    func startEmulator(_ args: [String]) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = Repo.swiftemu
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = Pipe()
        try p.run()
        addTeardownBlock { if p.isRunning { p.terminate() } }
        return (p, out, err)
    }

    /// Connects to 127.0.0.1:port, retrying while the emulator starts.
    func connect(_ port: Int) throws -> Int32 {
        for _ in 0..<200 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            let r = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if r == 0 { return fd }
            close(fd)
            usleep(50_000)
        }
        throw NSError(domain: "gdb-tests", code: 1, userInfo: [NSLocalizedDescriptionKey: "no listener on port \(port)"])
    }

    /// Waits until the emulator listens (so gdb's first connect succeeds).
    func waitForListener(_ port: Int) throws {
        // A probe connection would be taken as the gdb session; instead
        // poll /proc/net/tcp for a listening socket on the port.
        let hexPort = String(format: ":%04X", port)
        for _ in 0..<400 {
            if let t = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8),
               t.split(separator: "\n").contains(where: { $0.contains("0100007F" + hexPort) && $0.contains(" 0A ") }) {
                return
            }
            usleep(25_000)
        }
        throw NSError(domain: "gdb-tests", code: 2, userInfo: [NSLocalizedDescriptionKey: "swiftemu never listened on \(port)"])
    }

    func runGDB(_ file: String, _ commands: [String]) throws -> Repo.Result {
        guard let gdb = GDBIntegrationTests.gdbPath else { throw XCTSkip("gdb is not installed") }
        var args = ["-batch", "-nx", "-ex", "set pagination off", "-ex", "set confirm off"]
        for c in commands { args += ["-ex", c] }
        args.append(file)
        if let s = GDBIntegrationTests.setsid { return try Repo.run(s, ["-w", gdb] + args, timeout: 120) }
        return try Repo.run(gdb, args, timeout: 120)
    }

    // MARK: the Swift guest

    func testGDBBatchSessionOnTheSwiftGuest() throws {
        guard GDBIntegrationTests.gdbPath != nil else { throw XCTSkip("gdb is not installed") }
        let elf32 = Repo.root.appendingPathComponent("build/guest/guest.elf").path
        let elf64 = Repo.root.appendingPathComponent("build/guest/guest.elf64").path
        guard FileManager.default.fileExists(atPath: elf32) else {
            throw XCTSkip("build/guest/guest.elf does not exist yet (run `make guest`); testGDBBatchSessionOnTheIRQKernel covers the stub")
        }
        // gdb reads symbols (and DWARF) from the ELF64 the guest build also writes;
        // with only the ELF32 container, gdb must be told the architecture.
        let haveElf64 = FileManager.default.fileExists(atPath: elf64)
        let symbolFile = haveElf64 ? elf64 : elf32
        let syms = SymbolTable.load(elf: [UInt8](try Data(contentsOf: URL(fileURLWithPath: symbolFile))))
        guard case .success(let kmain) = syms.resolve("kernelMain") else { return XCTFail("no kernelMain symbol in the guest") }
        guard let counts = syms.symbols.first(where: { $0.name.contains("irqCounts") && $0.name.contains("InlineArray") && !$0.isFunction }) else {
            return XCTFail("no irqCounts variable in the guest (timer tick counter)")
        }
        XCTAssertTrue(kmain.name.hasPrefix("$e") || kmain.name.hasPrefix("$s"), "expected a mangled Swift name: \(kmain.name)")

        let port = try freePort()
        let (emu, out, _) = try startEmulator([elf32, "headless", "--gdb", String(port)])
        try waitForListener(port)
        var cmds: [String] = []
        if !haveElf64 { cmds.append("set architecture i386:x86-64") }
        cmds += [
            "target remote :\(port)",
            "break '\(kmain.name)'",
            "continue",
            "echo @@regs\\n", "info registers",
            "echo @@stack\\n", "x/4gx $rsp",
            "echo @@step\\n", "stepi", "info registers rip",
            "echo @@watch\\n", "delete",
            "watch *(long *)0x\(String(counts.address, radix: 16))",
            "continue",
            "echo @@detach\\n", "delete",
            "detach",
        ]
        let r = try runGDB(symbolFile, cmds)
        let g = r.stdout + r.stderr
        func part(_ name: String) -> String {
            guard let a = g.range(of: "@@" + name + "\n") else { return "" }
            let rest = g[a.upperBound...]
            return String(rest[..<(rest.range(of: "@@")?.lowerBound ?? rest.endIndex)])
        }
        func hexValue(_ text: String, _ reg: String) -> UInt64? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(reg + " ") }),
                  let v = line.split(separator: " ").dropFirst().first, v.hasPrefix("0x") else { return nil }
            return UInt64(v.dropFirst(2), radix: 16)
        }
        // The breakpoint on the Swift function (gdb puts it after the prologue
        // when it has line information).
        XCTAssertTrue(g.contains("Breakpoint 1, "), g)
        XCTAssertTrue(g.contains(kmain.name), g)
        let regs = part("regs")
        guard let rip = hexValue(regs, "rip"), let rsp = hexValue(regs, "rsp") else { return XCTFail("no rip/rsp in: " + g) }
        XCTAssertTrue(rip >= kmain.address && rip < kmain.address + max(kmain.size, 1), "rip \(String(rip, radix: 16)) not in kernelMain: " + g)
        for reg in ["rax", "rbx", "rbp", "r15", "eflags", "fs_base", "cr3"] {
            XCTAssertTrue(regs.contains("\n" + reg + " ") || regs.hasPrefix(reg + " "), "no \(reg) in info registers: " + regs)
        }
        XCTAssertTrue(regs.contains("cs             0x8"), regs)
        XCTAssertTrue(regs.range(of: #"eflags\s+0x[0-9a-f]+\s+\["#, options: .regularExpression) != nil, regs)
        // x/4gx $rsp: four quads from the stack pointer, as the emulator sees them.
        let stack = part("stack")
        XCTAssertTrue(stack.hasPrefix("0x" + String(rsp, radix: 16) + ":"), stack)
        XCTAssertEqual(stack.split(separator: "\n").count, 2, stack)
        // stepi moves RIP by one instruction.
        let step = part("step")
        guard let rip2 = hexValue(step, "rip") else { return XCTFail("no rip after stepi: " + g) }
        let len = Disassembler(bits: 64).decode(try XCTUnwrap(readGuestCode(symbolFile, rip)), address: rip)
        XCTAssertTrue(rip2 == rip + UInt64(len.length) || len.flow != .normal, "stepi went from \(String(rip, radix: 16)) to \(String(rip2, radix: 16))")
        // The watchpoint on the IRQ counters fires when the timer ticks.
        let watch = part("watch")
        XCTAssertTrue(watch.contains("Hardware watchpoint 2: *(long *)0x\(String(counts.address, radix: 16))"), watch)
        XCTAssertTrue(watch.contains("Old value = 0") && watch.contains("New value = 1"), watch)
        XCTAssertTrue(part("detach").contains("Detaching from program") || part("detach").contains("detached"), g)
        // After the detach the guest runs on (headless) until stopped.
        usleep(200_000)
        XCTAssertTrue(emu.isRunning)
        emu.terminate()
        emu.waitUntilExit()
        let guestOut = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(guestOut.contains("Embedded Swift"), guestOut)
    }

    // MARK: the small kernel (always built)

    func testGDBBatchSessionOnTheIRQKernel() throws {
        guard GDBIntegrationTests.gdbPath != nil else { throw XCTSkip("gdb is not installed") }
        let k = try Repo.kernel("irq_pit.elf")
        let syms = SymbolTable.load(elf: [UInt8](try Data(contentsOf: URL(fileURLWithPath: k))))
        guard case .success(let ticks) = syms.resolve("ticks"), case .success(let isr) = syms.resolve("isr_common") else {
            return XCTFail("symbols")
        }
        let port = try freePort()
        let (emu, out, _) = try startEmulator([k, "headless", "--gdb", String(port)])
        try waitForListener(port)
        let t = "0x" + String(ticks.address, radix: 16)
        let r = try runGDB(k, [
            "set architecture i386:x86-64",
            "target remote :\(port)",
            "break isr_common",
            "hbreak irq1",
            "continue",
            "info registers rip eflags cs",
            "x/4gx $rsp",
            "stepi",
            "print $pc",
            "delete 1",
            "watch *(int *)\(t)",
            "continue",
            "print *(int *)\(t)",
            "set var *(int *)\(t) = 3",
            "print *(int *)\(t)",
            "delete",
            "monitor pic",
            "detach",
        ])
        let g = r.stdout + r.stderr
        XCTAssertTrue(g.contains("Breakpoint 1 at 0x\(String(isr.address, radix: 16))"), g)
        XCTAssertTrue(g.contains("Hardware assisted breakpoint 2 at 0x"), g)
        XCTAssertTrue(g.contains("Breakpoint 1, 0x00000000\(String(format: "%08llx", isr.address)) in isr_common ()"), g)
        XCTAssertTrue(g.contains("rip            0x\(String(isr.address, radix: 16))"), g)
        XCTAssertTrue(g.contains("cs             0x8"), g)
        XCTAssertTrue(g.contains("$1 = (void (*)()) 0x\(String(isr.address + 1, radix: 16)) <isr_common+1>"), g)
        XCTAssertTrue(g.contains("Hardware watchpoint 3: *(int *)\(t)"), g)
        XCTAssertTrue(g.contains("Old value = 0") && g.contains("New value = 1"), g)
        XCTAssertTrue(g.contains("$2 = 1") && g.contains("$3 = 3"), g)
        XCTAssertTrue(g.contains("master: IRR="), g)   // monitor command output
        // After the detach the kernel finishes: ticks was set to 3, two more ticks end it.
        emu.waitUntilExit()
        XCTAssertEqual(emu.terminationStatus, 33)
        let guestOut = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(guestOut.contains("tick 00000003\ntick 00000004\ntick 00000005\ndone, ticks 00000005"), guestOut)
    }

    /// Code bytes at a virtual address from an ELF's program headers (the
    /// guest is linked at its physical address).
    func readGuestCode(_ path: String, _ addr: UInt64) throws -> [UInt8]? {
        let pc = PC()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Repo.root.appendingPathComponent("build/guest/guest.elf").path)))
        try pc.load(kernel: bytes, path: path, append: "")
        return pc.cpu.readPhysical(addr, count: 15)
    }

    // MARK: raw protocol over TCP

    func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    func receive(_ fd: Int32, until done: (String) -> Bool) -> String {
        var got = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) <= 0 { continue }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            got += buf[0..<n]
            if done(String(decoding: got, as: UTF8.self)) { break }
        }
        return String(decoding: got, as: UTF8.self)
    }

    func testOversizedPacketOverTCPIsRefused() throws {
        let k = try Repo.kernel("irq_pit.elf")
        let port = try freePort()
        let (emu, _, err) = try startEmulator([k, "debug", "--gdb", String(port), "--commands", "/dev/null"])
        let fd = try connect(port)
        defer { close(fd) }
        // 1 MiB of payload without a terminator, then its end, then a real packet.
        let huge = [UInt8(ascii: "$")] + [UInt8](repeating: UInt8(ascii: "A"), count: 1 << 20)
        sendAll(fd, huge)
        sendAll(fd, Array("#00".utf8) + GDBPacket.encode("?"))
        let reply = receive(fd) { $0.contains("T05") }
        XCTAssertTrue(reply.hasPrefix("+$E01#a6"), reply)
        XCTAssertTrue(reply.contains("+$T05thread:1;#"), reply)
        // The stub still answers, then ends the session on `k`.
        sendAll(fd, GDBPacket.encode("qAttached"))
        XCTAssertTrue(receive(fd) { $0.contains("$1#31") }.contains("$1#31"))
        sendAll(fd, GDBPacket.encode("k"))
        emu.waitUntilExit()
        XCTAssertEqual(emu.terminationStatus, 14)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertFalse(e.contains("Fatal error"), e)
    }
}
