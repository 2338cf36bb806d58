import XCTest
@testable import Devices

final class MiscPortsTests: XCTestCase {
    func testDebugConOutputsBytesAndReadsBackE9() {
        let d = DebugCon()
        var out: [UInt8] = []
        d.onOutput = { out.append($0) }
        for b in "ok\n".utf8 { d.ioWrite(0xE9, size: 1, value: UInt32(b)) }
        XCTAssertEqual(out, Array("ok\n".utf8))
        XCTAssertEqual(d.ioRead(0xE9, size: 1), 0xE9)
    }

    func testDebugExitPassesRawValueAndQEMUStatus() {
        let d = DebugExit()
        var got: [UInt32] = []
        d.onExit = { got.append($0) }
        d.ioWrite(0xF4, size: 4, value: 0x10)
        d.ioWrite(0xF4, size: 1, value: 0x1_11)
        XCTAssertEqual(got, [0x10, 0x11])
        XCTAssertEqual(DebugExit.exitStatus(for: 0x10), 33, "blog_os success code")
        XCTAssertEqual(DebugExit.exitStatus(for: 0x11), 35)
        XCTAssertEqual(DebugExit.exitStatus(for: 0), 1)
        XCTAssertEqual(d.ioRead(0xF4, size: 4), 0)
    }

    func testPostPortStoresLastValue() {
        let p = PostPort()
        var seen: [UInt8] = []
        p.onWrite = { seen.append($0) }
        XCTAssertEqual(p.ioRead(0x80, size: 1), 0)
        for _ in 0..<8 { p.ioWrite(0x80, size: 1, value: 0) }   // pic8259's io_wait
        p.ioWrite(0x80, size: 1, value: 0x3C)
        XCTAssertEqual(p.ioRead(0x80, size: 1), 0x3C)
        XCTAssertEqual(p.lastValue, 0x3C)
        XCTAssertEqual(seen.count, 9)
    }

    func testSystemControlPortA() {
        let s = SystemControlA()
        var a20: [Bool] = []
        var resets = 0
        s.onA20 = { a20.append($0) }
        s.onReset = { resets += 1 }
        // Bootloader: in 0x92; or 2; and 0xFE; out 0x92.
        let v = UInt8(s.ioRead(0x92, size: 1))
        s.ioWrite(0x92, size: 1, value: UInt32((v | 2) & 0xFE))
        XCTAssertEqual(a20, [true])
        XCTAssertEqual(resets, 0)
        XCTAssertEqual(s.ioRead(0x92, size: 1), 0x02)
        s.ioWrite(0x92, size: 1, value: 0x02)    // unchanged: no callbacks
        XCTAssertEqual(a20, [true])
        s.ioWrite(0x92, size: 1, value: 0x03)    // 0 -> 1 on b0: fast reset
        XCTAssertEqual(resets, 1)
        XCTAssertEqual(s.ioRead(0x92, size: 1), 0x02, "b0 reads 0 after the reset")
        XCTAssertEqual(a20, [true], "A20 untouched")
        s.ioWrite(0x92, size: 1, value: 0x03)    // a new 0 -> 1 transition
        XCTAssertEqual(resets, 2)
        s.ioWrite(0x92, size: 1, value: 0x00)
        XCTAssertEqual(a20, [true, false])
        s.reset()
        XCTAssertEqual(s.ioRead(0x92, size: 1), 0)
    }
}
