import XCTest
@testable import Devices

final class MouseTests: XCTestCase {
    private let ms: UInt64 = 1_000_000

    /// Controller with both ports and both IRQs enabled (as a mouse driver sets it).
    private func rig() -> KBCRig {
        let r = KBCRig()
        _ = r.ctl(0xA8)
        _ = r.ctl(0x60, 0x43)
        return r
    }

    private func aux(_ r: KBCRig, _ bytes: UInt8...) -> [UInt8] {
        for b in bytes { r.command(0xD4); r.data(b) }
        return r.drainTagged().map { XCTAssertTrue($0.1, "byte \($0.0) must come from aux"); return $0.0 }
    }

    func testMOU01_RepliesComeWithAuxFlagAndIRQ12() {
        let r = KBCRig()
        _ = r.ctl(0xA8)
        XCTAssertEqual(r.kbc.commandByte & 0x20, 0)
        _ = r.ctl(0x60, 0x43)
        r.command(0xD4)
        r.data(0xF4)
        XCTAssertTrue(r.obf)
        XCTAssertEqual(r.status() & 0x21, 0x21)
        XCTAssertTrue(r.irq12)
        XCTAssertFalse(r.irq1)
        XCTAssertEqual(r.read(), 0xFA)
        XCTAssertFalse(r.irq12)
        XCTAssertEqual(r.irq12Edges, 1)
    }

    func testMOU02_ResetAnswersFAThenAA00AfterSelfTest() {
        let r = rig()
        _ = aux(r, 0xF4)
        r.command(0xD4); r.data(0xFF)
        let got = r.drainTimed(within: 1_000 * ms)
        XCTAssertEqual(got.map(\.b), [0xFA, 0xAA, 0x00])
        XCTAssertEqual(got[1].t - got[0].t, r.mouse.batDelayNs)
        XCTAssertFalse(r.mouse.reporting, "reporting off after reset")
        XCTAssertEqual(r.mouse.deviceID, 0)
    }

    func testMOU03_DeviceIDAndIntelliMouseKnock() {
        let r = rig()
        XCTAssertEqual(aux(r, 0xF2), [0xFA, 0x00])
        XCTAssertEqual(aux(r, 0xF3, 200, 0xF3, 100, 0xF3, 80), [0xFA, 0xFA, 0xFA, 0xFA, 0xFA, 0xFA])
        XCTAssertEqual(aux(r, 0xF2), [0xFA, 0x03])
        _ = aux(r, 0xF3, 200, 0xF3, 200, 0xF3, 80)
        XCTAssertEqual(aux(r, 0xF2), [0xFA, 0x04])
        // A wrong order does nothing; reset returns to ID 0.
        _ = aux(r, 0xFF)
        _ = aux(r, 0xF3, 100, 0xF3, 200, 0xF3, 80)
        XCTAssertEqual(aux(r, 0xF2), [0xFA, 0x00])
        // ID 3: 4-byte packets with the wheel.
        _ = aux(r, 0xF3, 200, 0xF3, 100, 0xF3, 80, 0xF4)
        r.mouse.move(dx: 0, dy: 0, buttons: 0, wheel: -2)
        XCTAssertEqual(r.drain(), [0x08, 0x00, 0x00, 0xFE])
    }

    func testMOU04_EnableDisableReporting() {
        let r = rig()
        r.mouse.move(dx: 5, dy: 5, buttons: 0)
        XCTAssertEqual(r.drain(), [], "reporting off by default")
        XCTAssertEqual(aux(r, 0xF4), [0xFA])
        r.mouse.move(dx: 5, dy: 5, buttons: 0)
        XCTAssertEqual(r.drain(), [0x08, 0x05, 0x05])
        XCTAssertEqual(aux(r, 0xF5), [0xFA])
        r.advance(50 * ms)
        r.mouse.move(dx: 5, dy: 5, buttons: 0)
        XCTAssertEqual(r.drain(), [])
    }

    func testMOU05_StatusRequest() {
        let r = rig()
        XCTAssertEqual(aux(r, 0xE9), [0xFA, 0x00, 0x02, 100])
        _ = aux(r, 0xF4, 0xE7, 0xE8, 0x03, 0xF3, 40)
        r.mouse.move(dx: 0, dy: 0, buttons: 0x01)       // left held
        _ = r.drain()
        XCTAssertEqual(aux(r, 0xE9), [0xFA, 0x34, 0x03, 40])
        _ = aux(r, 0xF0)                                 // remote mode
        r.mouse.move(dx: 0, dy: 0, buttons: 0x02)       // right held
        XCTAssertEqual(aux(r, 0xE9), [0xFA, 0x71, 0x03, 40])
    }

    func testMOU06_SettingCommandsAckAndWrapMode() {
        let r = rig()
        XCTAssertEqual(aux(r, 0xE8, 0x01), [0xFA, 0xFA])
        XCTAssertEqual(r.mouse.resolution, 1)
        XCTAssertEqual(aux(r, 0xF3, 60), [0xFA, 0xFA])
        XCTAssertEqual(r.mouse.sampleRate, 60)
        XCTAssertEqual(aux(r, 0xE7), [0xFA])
        XCTAssertTrue(r.mouse.scaling21)
        XCTAssertEqual(aux(r, 0xE6), [0xFA])
        XCTAssertFalse(r.mouse.scaling21)
        XCTAssertEqual(aux(r, 0xF0), [0xFA])
        XCTAssertEqual(r.mouse.mode, .remote)
        r.mouse.move(dx: 7, dy: -2, buttons: 0)
        XCTAssertEqual(aux(r, 0xEB), [0xFA, 0x28, 0x07, 0xFE], "remote read data")
        XCTAssertEqual(aux(r, 0xEB), [0xFA, 0x08, 0x00, 0x00], "counters reset")
        XCTAssertEqual(aux(r, 0xEA), [0xFA])
        XCTAssertEqual(r.mouse.mode, .stream)
        XCTAssertEqual(aux(r, 0xEE), [0xFA])
        XCTAssertEqual(aux(r, 0x12, 0xF4, 0xE9), [0x12, 0xF4, 0xE9], "wrap mode echoes")
        XCTAssertEqual(aux(r, 0xEC), [0xFA])
        XCTAssertEqual(r.mouse.mode, .stream)
        XCTAssertEqual(aux(r, 0xF6), [0xFA])
        XCTAssertEqual(r.mouse.sampleRate, 100)
        XCTAssertEqual(r.mouse.resolution, 2)
        // Invalid parameter: FE, then FC for a second error in a row.
        XCTAssertEqual(aux(r, 0xF3, 55), [0xFA, 0xFE])
        XCTAssertEqual(aux(r, 0x00), [0xFC])
        XCTAssertEqual(aux(r, 0xF2), [0xFA, 0x00])
    }

    func testMOU07_PacketFormat() {
        let r = rig()
        _ = aux(r, 0xF4)
        r.mouse.move(dx: 5, dy: -3, buttons: 0x01)
        XCTAssertEqual(r.drain(), [0x29, 0x05, 0xFD])
        r.advance(20 * ms)
        r.mouse.move(dx: -1, dy: 2, buttons: 0x06)
        XCTAssertEqual(r.drain(), [0x1E, 0xFF, 0x02])
        r.advance(20 * ms)
        r.mouse.move(dx: 300, dy: -400, buttons: 0)
        XCTAssertEqual(r.drain(), [0x08 | 0x40 | 0x80 | 0x20, 0xFF, 0x00])
        // Sample rate pacing: two moves 1 ms apart at 100/s -> second packet
        // 10 ms after the first, with the movement accumulated.
        r.advance(20 * ms)
        let t0 = r.clock.now
        r.mouse.move(dx: 1, dy: 0, buttons: 0)
        r.advance(1 * ms)
        r.mouse.move(dx: 2, dy: 0, buttons: 0)
        r.mouse.move(dx: 3, dy: 0, buttons: 0)
        let got = r.drainTimed(within: 50 * ms)
        XCTAssertEqual(got.map(\.b), [0x08, 0x01, 0x00, 0x08, 0x05, 0x00])
        XCTAssertEqual(got[3].t - t0, 10 * ms)
        // 2:1 scaling in stream mode.
        _ = aux(r, 0xE7)
        r.advance(20 * ms)
        r.mouse.move(dx: 4, dy: 10, buttons: 0)
        XCTAssertEqual(r.drain(), [0x08, 0x06, 0x14])
    }

    func testMOU08_MouseDataWithIRQ12DisabledBlocksKeyboard() {
        let r = rig()
        _ = aux(r, 0xF4)
        _ = r.ctl(0x60, 0x41)                  // IRQ12 off, aux still enabled
        r.advance(20 * ms)
        r.mouse.move(dx: 1, dy: 1, buttons: 0)
        XCTAssertTrue(r.obf)
        XCTAssertFalse(r.irq12)
        let e1 = r.irq1Edges
        r.keyboard.press(.a)
        r.advance(500 * ms)
        XCTAssertEqual(r.irq1Edges, e1)
        XCTAssertEqual(r.read(), 0x08)
        r.advance(1 * ms)
        XCTAssertEqual(r.irq1Edges, e1 + 1, "keyboard byte once the aux byte is read")
        XCTAssertEqual(r.read(), 0x1E)
    }

    func testResendAndCommandAbortsUnsentPacket() {
        let r = rig()
        _ = aux(r, 0xF4)
        r.mouse.move(dx: 1, dy: 2, buttons: 0)
        XCTAssertEqual(r.drain(), [0x08, 0x01, 0x02])
        XCTAssertEqual(aux(r, 0xFE), [0x08, 0x01, 0x02], "resend repeats the last packet")
        // A packet queued but not started is dropped by a command.
        r.command(0xD2); r.data(0x55)          // occupy the output buffer
        r.advance(20 * ms)
        r.mouse.move(dx: 9, dy: 0, buttons: 0)
        r.command(0xD4); r.data(0xF5)
        XCTAssertEqual(r.drain(), [0x55, 0xFA])
    }
}
