import XCTest
@testable import Devices

/// Drives a KBC8042 through its ports and lines only, with virtual time.
final class KBCRig {
    let clock = VirtualClock()
    let trace = TraceSink()
    let kbc: KBC8042
    private(set) var irq1 = false
    private(set) var irq12 = false
    private(set) var irq1Edges = 0
    private(set) var irq12Edges = 0
    var resets = 0
    var a20Events: [Bool] = []

    init(firmware: Bool = true) {
        kbc = KBC8042(clock: clock, trace: trace)
        kbc.irq1 = { [unowned self] l in if l && !irq1 { irq1Edges += 1 }; irq1 = l }
        kbc.irq12 = { [unowned self] l in if l && !irq12 { irq12Edges += 1 }; irq12 = l }
        kbc.onReset = { [unowned self] in resets += 1 }
        kbc.onA20 = { [unowned self] on in a20Events.append(on) }
        if firmware { kbc.applyFirmwareState() }
    }

    var keyboard: PS2Keyboard { kbc.keyboard }
    var mouse: PS2Mouse { kbc.mouse }

    func status() -> UInt8 { UInt8(kbc.ioRead(0x64, size: 1)) }
    func read() -> UInt8 { UInt8(kbc.ioRead(0x60, size: 1)) }
    func command(_ c: UInt8) { kbc.ioWrite(0x64, size: 1, value: UInt32(c)) }
    func data(_ d: UInt8) { kbc.ioWrite(0x60, size: 1, value: UInt32(d)) }
    var obf: Bool { status() & 1 != 0 }

    /// Advances virtual time by `ns`, firing due timers in order.
    func advance(_ ns: UInt64) {
        let end = clock.now + ns
        while clock.nextDeadline <= end {
            clock.now = clock.nextDeadline
            clock.runDue()
        }
        clock.now = end
    }

    /// Reads every byte that arrives within `window` ns of virtual time,
    /// polling like a guest (following timer deadlines).
    func drain(within window: UInt64 = 2_000_000_000) -> [UInt8] {
        var out: [UInt8] = []
        let end = clock.now + window
        while true {
            clock.runDue()
            if obf { out.append(read()); continue }
            guard clock.nextDeadline <= end else { break }
            clock.now = max(clock.now, clock.nextDeadline)
        }
        advance(kbc.deviceByteGapNs)   // the guest goes on with other work
        return out
    }

    /// Same, returning (byte, fromAux) pairs.
    func drainTagged(within window: UInt64 = 2_000_000_000) -> [(UInt8, Bool)] {
        var out: [(UInt8, Bool)] = []
        let end = clock.now + window
        while true {
            clock.runDue()
            let s = status()
            if s & 1 != 0 { out.append((read(), s & 0x20 != 0)); continue }
            guard clock.nextDeadline <= end else { break }
            clock.now = max(clock.now, clock.nextDeadline)
        }
        advance(kbc.deviceByteGapNs)
        return out
    }

    /// Reads bytes as an interrupt handler would (as soon as OBF rises),
    /// recording the virtual time of each read.
    func drainTimed(within window: UInt64) -> [(t: UInt64, b: UInt8)] {
        var out: [(t: UInt64, b: UInt8)] = []
        let end = clock.now + window
        while true {
            clock.runDue()
            if obf { out.append((clock.now, read())); continue }
            guard clock.nextDeadline <= end else { break }
            clock.now = max(clock.now, clock.nextDeadline)
        }
        clock.now = max(clock.now, end)
        return out
    }

    /// Sends a byte to the keyboard and collects its answer.
    func kbd(_ bytes: UInt8...) -> [UInt8] {
        for b in bytes { data(b) }
        return drain()
    }

    /// Sends a controller command (optionally with a data byte) and collects output.
    func ctl(_ c: UInt8, _ param: UInt8? = nil) -> [UInt8] {
        command(c)
        if let p = param { data(p) }
        return drain()
    }

    func tap(_ k: PS2Key) {
        keyboard.press(k)
        keyboard.release(k)
    }
}

final class KBCTests: XCTestCase {
    func testKBC01_StatusAfterFirmwareIs0x10AndReadingHasNoSideEffect() {
        let r = KBCRig()
        // CTR 0x61 (SYS 0), last write to 0x60, keylock open, nothing pending.
        XCTAssertEqual(r.status(), 0x10)
        XCTAssertEqual(r.status(), 0x10)
        XCTAssertEqual(r.kbc.commandByte, 0x61)
        XCTAssertFalse(r.irq1)
        // Still never blocks / changes with data present.
        r.keyboard.press(.a)
        XCTAssertEqual(r.status(), 0x11)
        XCTAssertEqual(r.status(), 0x11)
        XCTAssertEqual(r.read(), 0x1E)
    }

    func testKBC02_CommandDataFlagTracksLastWrite() {
        let r = KBCRig()
        r.command(0xA9)          // harmless command (reply 00)
        XCTAssertEqual(r.status() & 0x08, 0x08)
        _ = r.drain()
        r.data(0xEE)             // echo to the keyboard
        XCTAssertEqual(r.status() & 0x08, 0x00)
        XCTAssertEqual(r.drain(), [0xEE])
        r.command(0x60)
        XCTAssertEqual(r.status() & 0x08, 0x08)
        r.data(0x61)
        XCTAssertEqual(r.status() & 0x08, 0x00)
    }

    func testKBC03_InputBufferFullUntilControllerConsumesByte() {
        let r = KBCRig()
        XCTAssertEqual(r.status() & 0x02, 0)
        r.command(0xAB)
        XCTAssertEqual(r.status() & 0x02, 0x02, "IBF set right after the write")
        r.advance(r.kbc.inputBusyNs - 1)
        XCTAssertEqual(r.status() & 0x02, 0x02)
        r.advance(1)
        XCTAssertEqual(r.status() & 0x02, 0, "IBF clear once consumed")
        XCTAssertEqual(r.drain(), [0x00])
        r.data(0xEE)
        XCTAssertEqual(r.status() & 0x02, 0x02)
        r.advance(r.kbc.inputBusyNs)
        XCTAssertEqual(r.status() & 0x02, 0)
    }

    func testKBC04_OneByteOneEdgeAndNothingMoreUntil0x60IsRead() {
        let r = KBCRig()
        r.tap(.a)                // 1C F0 1C -> 1E 9E
        XCTAssertTrue(r.obf)
        XCTAssertTrue(r.irq1)
        XCTAssertEqual(r.irq1Edges, 1)
        // blog_os intermediate step: EOI without reading 0x60 -> exactly one
        // interrupt, no matter how long we wait.
        r.advance(5_000_000_000)
        XCTAssertEqual(r.irq1Edges, 1)
        XCTAssertTrue(r.irq1, "line held high while OBF")
        XCTAssertEqual(r.read(), 0x1E)
        XCTAssertFalse(r.obf)
        XCTAssertFalse(r.irq1, "reading 0x60 drops IRQ1")
        r.advance(r.kbc.deviceByteGapNs)
        XCTAssertTrue(r.obf)
        XCTAssertEqual(r.irq1Edges, 2, "a fresh rising edge for the next byte")
        XCTAssertEqual(r.read(), 0x9E)
        r.advance(10_000_000)
        XCTAssertFalse(r.obf)
        XCTAssertEqual(r.irq1Edges, 2)
    }

    func testKBC05_ReadWithEmptyBufferReturnsLastByte() {
        let r = KBCRig()
        XCTAssertEqual(r.read(), 0xFA, "firmware's last byte (FA of F4)")
        r.keyboard.press(.digit1)
        XCTAssertEqual(r.read(), 0x02)
        XCTAssertEqual(r.read(), 0x02)
        XCTAssertEqual(r.read(), 0x02)
        XCTAssertFalse(r.obf)
        XCTAssertEqual(r.status() & 0x01, 0)
    }

    func testKBC06_NextByteArrivesOneMillisecondAfterRead() {
        let r = KBCRig()
        r.tap(.a)
        XCTAssertEqual(r.read(), 0x1E)
        XCTAssertEqual(r.read(), 0x1E, "second read in the handler returns the same byte")
        r.advance(999_999)
        XCTAssertFalse(r.obf)
        r.advance(1)
        XCTAssertTrue(r.obf)
        XCTAssertEqual(r.read(), 0x9E)

        // Option off: QEMU-like immediate delivery.
        let q = KBCRig()
        q.kbc.deviceByteGapNs = 0
        q.tap(.a)
        XCTAssertEqual(q.read(), 0x1E)
        XCTAssertTrue(q.obf)
        XCTAssertEqual(q.read(), 0x9E)
        XCTAssertEqual(q.irq1Edges, 2, "still one edge per byte")
    }

    func testKBC07_ReadCommandByte() {
        let r = KBCRig()
        XCTAssertEqual(r.ctl(0x20), [0x61])
        // Other RAM bytes via 0x21-0x3F / 0x61-0x7F.
        _ = r.ctl(0x65, 0x5A)
        XCTAssertEqual(r.ctl(0x25), [0x5A])
        XCTAssertEqual(r.ctl(0x3F), [0x00])
        // Power-on value (no firmware): interrupts off, both ports disabled, XLAT.
        let p = KBCRig(firmware: false)
        XCTAssertEqual(p.ctl(0x20), [0x70])
    }

    func testKBC08_WriteCommandByteTakesEffectImmediately() {
        let r = KBCRig()
        // b6 off -> raw set 2.
        _ = r.ctl(0x60, 0x21)
        r.tap(.a)
        XCTAssertEqual(r.drain(), [0x1C, 0xF0, 0x1C])
        // b6 on -> translated.
        _ = r.ctl(0x60, 0x61)
        r.tap(.a)
        XCTAssertEqual(r.drain(), [0x1E, 0x9E])
        // b0 off -> no IRQ1 but OBF works.
        _ = r.ctl(0x60, 0x60)
        let edges = r.irq1Edges
        r.tap(.b)
        XCTAssertTrue(r.obf)
        XCTAssertFalse(r.irq1)
        XCTAssertEqual(r.irq1Edges, edges)
        XCTAssertEqual(r.drain(), [0x30, 0xB0])
        XCTAssertEqual(r.irq1Edges, edges)
        // b2 -> status b2.
        _ = r.ctl(0x60, 0x65)
        XCTAssertEqual(r.status() & 0x04, 0x04)
        _ = r.ctl(0x60, 0x61)
        XCTAssertEqual(r.status() & 0x04, 0x00)
        // b4 -> keyboard clock inhibited: keys stay in the keyboard.
        _ = r.ctl(0x60, 0x71)
        r.tap(.c)
        r.advance(10_000_000)
        XCTAssertFalse(r.obf)
        r.command(0x60); r.data(0x61)
        XCTAssertEqual(r.drain(), [0x2E, 0xAE])
    }

    func testKBC09_SelfTestReturns55AndSetsSystemFlag() {
        let r = KBCRig()
        XCTAssertEqual(r.status() & 0x04, 0)
        XCTAssertEqual(r.ctl(0xAA), [0x55])
        XCTAssertEqual(r.status() & 0x04, 0x04)
        XCTAssertEqual(r.ctl(0x20), [0x65], "command byte kept, SYS set")
        // Optional real-controller behaviour: command byte reset.
        let p = KBCRig()
        p.kbc.selfTestCommandByte = 0x30
        XCTAssertEqual(p.ctl(0xAA), [0x55])
        XCTAssertEqual(p.ctl(0x20), [0x34])
    }

    func testKBC10_KeyboardInterfaceTestReturnsZero() {
        XCTAssertEqual(KBCRig().ctl(0xAB), [0x00])
    }

    func testKBC11_AuxInterfaceTestReturnsZero() {
        XCTAssertEqual(KBCRig().ctl(0xA9), [0x00])
    }

    func testKBC12_DisableKeyboardBuffersKeystrokesUntilEnabled() {
        let r = KBCRig()
        _ = r.ctl(0xAD)
        XCTAssertEqual(r.kbc.commandByte & 0x10, 0x10)
        r.tap(.a)
        r.tap(.b)
        r.advance(100_000_000)
        XCTAssertFalse(r.obf)
        XCTAssertFalse(r.irq1)
        r.command(0xAE)
        XCTAssertEqual(r.kbc.commandByte & 0x10, 0)
        XCTAssertEqual(r.drain(), [0x1E, 0x9E, 0x30, 0xB0])
    }

    func testKBC13_DataWriteGoesToKeyboardAndReenablesClock() {
        let r = KBCRig()
        _ = r.ctl(0xAD)
        XCTAssertEqual(r.kbd(0xF2), [0xFA, 0xAB, 0x41])
        XCTAssertEqual(r.kbc.commandByte & 0x10, 0)
    }

    func testKBC14_AuxDisableEnable() {
        let r = KBCRig()
        XCTAssertEqual(r.kbc.commandByte & 0x20, 0x20, "firmware leaves aux disabled")
        _ = r.ctl(0xA8)
        XCTAssertEqual(r.kbc.commandByte & 0x20, 0)
        _ = r.ctl(0xA7)
        XCTAssertEqual(r.kbc.commandByte & 0x20, 0x20)
        // D4 re-enables the aux clock.
        XCTAssertEqual(r.ctl(0xD4, 0xF2), [0xFA, 0x00])
        XCTAssertEqual(r.kbc.commandByte & 0x20, 0)
    }

    func testKBC15_InputPortReportsKeylockOpen() {
        let v = KBCRig().ctl(0xC0)
        XCTAssertEqual(v.count, 1)
        XCTAssertEqual(v[0] & 0x80, 0x80, "b7 = 1: keyboard not locked")
        XCTAssertEqual(v[0], 0xA0)
    }

    func testKBC16_ReadOutputPort() {
        let r = KBCRig()
        XCTAssertEqual(r.ctl(0xD0), [0xCF], "reset inactive, A20 on, b2-3 set, no OBF")
        // OBF bits are live: with a keyboard byte in the buffer, b4 is set.
        r.tap(.a)
        r.command(0xD0)
        XCTAssertEqual(r.drain(), [0x1E, 0xDF, 0x9E])
    }

    func testKBC17_WriteOutputPortDrivesA20AndReset() {
        let r = KBCRig()
        _ = r.ctl(0xD1, 0xCD)                  // A20 off, reset high
        XCTAssertEqual(r.a20Events, [false])
        XCTAssertFalse(r.kbc.a20)
        XCTAssertEqual(r.resets, 0)
        _ = r.ctl(0xD1, 0xCF)
        XCTAssertEqual(r.a20Events, [false, true])
        XCTAssertEqual(r.ctl(0xD0), [0xCF])
        _ = r.ctl(0xD1, 0xCE)                  // b0 = 0 -> reset
        XCTAssertEqual(r.resets, 1)
        XCTAssertEqual(r.a20Events, [false, true], "A20 unchanged")
    }

    func testKBC18_WriteKeyboardOutputBuffer() {
        let r = KBCRig()
        r.command(0xD2)
        r.data(0x5A)
        XCTAssertTrue(r.obf)
        XCTAssertEqual(r.status() & 0x20, 0)
        XCTAssertTrue(r.irq1)
        XCTAssertFalse(r.irq12)
        XCTAssertEqual(r.read(), 0x5A)
    }

    func testKBC19_WriteAuxOutputBuffer() {
        let r = KBCRig()
        _ = r.ctl(0x60, 0x43)                  // IRQ1+IRQ12 on, aux enabled, XLAT
        r.command(0xD3)
        r.data(0x77)
        XCTAssertTrue(r.obf)
        XCTAssertEqual(r.status() & 0x20, 0x20)
        XCTAssertTrue(r.irq12)
        XCTAssertFalse(r.irq1)
        XCTAssertEqual(r.read(), 0x77)
        XCTAssertFalse(r.irq12)
    }

    func testKBC20_WriteToMouseRepliesViaAux() {
        let r = KBCRig()
        _ = r.ctl(0x60, 0x43)
        r.command(0xD4)
        r.data(0xF2)
        let got = r.drainTagged()
        XCTAssertEqual(got.map(\.0), [0xFA, 0x00])
        XCTAssertEqual(got.map(\.1), [true, true])
        XCTAssertEqual(r.irq12Edges, 2)
    }

    func testKBC21_PulseFEResetsCPU() {
        let r = KBCRig()
        r.command(0xFE)
        XCTAssertEqual(r.resets, 1)
        XCTAssertEqual(r.ctl(0xD0), [0xCF], "P20 back high after the pulse")
    }

    func testKBC22_PulseFamilyResetsOnEveryEvenValue() {
        let r = KBCRig()
        for c in UInt8(0xF0)...UInt8(0xFF) {
            let before = r.resets
            r.command(c)
            XCTAssertEqual(r.resets - before, c & 1 == 0 ? 1 : 0, "command \(String(c, radix: 16))")
        }
        XCTAssertEqual(r.resets, 8)
        XCTAssertFalse(r.obf, "no reply")
    }

    func testKBC23_HPVectraA20Commands() {
        let r = KBCRig()
        r.command(0xDD)
        XCTAssertFalse(r.kbc.a20)
        XCTAssertEqual(r.a20Events, [false])
        r.command(0xDF)
        XCTAssertTrue(r.kbc.a20)
        XCTAssertEqual(r.a20Events, [false, true])
        XCTAssertFalse(r.obf)
    }

    func testKBC24_UnknownCommandsAreIgnored() {
        let r = KBCRig()
        for c: UInt8 in [0xA1, 0xAF, 0xC1, 0xC2, 0xE0, 0xA4, 0x00, 0x10] {
            r.command(c)
        }
        XCTAssertEqual(r.drain(), [])
        XCTAssertEqual(r.kbc.commandByte, 0x61)
        XCTAssertEqual(r.resets, 0)
        // And the controller still works.
        XCTAssertEqual(r.ctl(0x20), [0x61])
        // A data byte after an ignored command goes to the keyboard.
        r.command(0xA1)
        XCTAssertEqual(r.kbd(0xEE), [0xEE])
    }

    func testKBC25_ControllerReplyGoesAheadOfQueuedScancodes() {
        let r = KBCRig()
        r.tap(.a)                               // 1E in OB, F0 1C waiting
        r.tap(.b)
        r.command(0x20)
        XCTAssertEqual(r.drain(), [0x1E, 0x61, 0x9E, 0x30, 0xB0])
    }

    func testKBC26_KeyboardBeforeMouseAndStatusBit5TellsWhich() {
        let r = KBCRig()
        _ = r.ctl(0x60, 0x43)
        XCTAssertEqual(r.ctl(0xD4, 0xF4), [0xFA])
        _ = r.ctl(0x60, 0x43)                  // both ports, both IRQs, XLAT
        r.advance(20_000_000)
        // Both devices have data at the same moment.
        r.mouse.move(dx: 1, dy: 1, buttons: 0)
        r.tap(.a)
        // The mouse byte was loaded first (OB was empty); from then on the
        // keyboard has priority for each free slot.
        let got = r.drainTagged()
        XCTAssertEqual(got.filter { !$0.1 }.map(\.0), [0x1E, 0x9E])
        XCTAssertEqual(got.filter { $0.1 }.map(\.0), [0x08, 0x01, 0x01])
        // Now with both waiting behind a full buffer.
        r.command(0xD2); r.data(0x11)           // occupy the OB
        r.mouse.move(dx: 2, dy: 0, buttons: 0)
        r.tap(.b)
        let got2 = r.drainTagged(within: 100_000_000)
        XCTAssertEqual(got2.map(\.0), [0x11, 0x30, 0xB0, 0x08, 0x02, 0x00])
        XCTAssertEqual(got2.map(\.1), [false, false, false, true, true, true])
    }

    func testKBC27_DisabledIRQLeavesByteBlockingBothPorts() {
        let r = KBCRig()
        _ = r.ctl(0x60, 0x41)                  // IRQ1 only, aux enabled, IRQ12 off
        XCTAssertEqual(r.ctl(0xD4, 0xF4), [0xFA])
        r.advance(20_000_000)
        let edges1 = r.irq1Edges
        r.mouse.move(dx: 3, dy: 0, buttons: 0)
        XCTAssertTrue(r.obf)
        XCTAssertEqual(r.status() & 0x20, 0x20)
        XCTAssertFalse(r.irq12)
        r.tap(.a)
        r.advance(1_000_000_000)
        XCTAssertEqual(r.irq1Edges, edges1, "keyboard wedged behind the aux byte (mu#52)")
        XCTAssertEqual(r.status() & 0x21, 0x21)
        // Polling still works and unblocks everything.
        let got = r.drainTagged()
        XCTAssertEqual(got.filter { $0.1 }.map(\.0), [0x08, 0x03, 0x00])
        XCTAssertEqual(got.filter { !$0.1 }.map(\.0), [0x1E, 0x9E])
    }

    func testKBC28_WideReadsReturnEightBitValue() {
        let r = KBCRig()
        r.tap(.a)
        XCTAssertEqual(r.kbc.ioRead(0x64, size: 2), 0xFF11)
        XCTAssertEqual(r.kbc.ioRead(0x60, size: 2), 0xFF1E)
        XCTAssertFalse(r.obf, "one byte consumed")
        r.advance(1_000_000)
        XCTAssertEqual(r.kbc.ioRead(0x60, size: 4), 0xFFFF_FF9E)
        r.advance(1_000_000)
        XCTAssertFalse(r.obf)
    }

    // MARK: - Extra coverage

    func testA20InitialStateAndReset() {
        let r = KBCRig()
        XCTAssertTrue(r.kbc.a20)
        _ = r.ctl(0xD1, 0xDD)
        XCTAssertFalse(r.kbc.a20)
    }

    func testDescribeMentionsState() {
        let r = KBCRig()
        r.keyboard.press(.a)
        let d = r.kbc.describe()
        XCTAssertTrue(d.contains("command byte 0x61"))
        XCTAssertTrue(d.contains("OB 0x1E full"))
        XCTAssertTrue(d.contains("set 2"))
    }

    func testTraceEvents() {
        let r = KBCRig()
        var names: [String] = []
        r.trace.enabled = .kbd
        r.trace.handler = { names.append($0.name) }
        r.keyboard.press(.a)
        _ = r.read()
        r.command(0x20)
        XCTAssertEqual(names, ["key", "ob", "ob-read", "kbc-cmd", "ob"])
    }

    func testGarbageNeverTraps() {
        let r = KBCRig()
        var x: UInt32 = 0x1234_5678
        for _ in 0..<20_000 {
            x = x &* 1_103_515_245 &+ 12_345
            let port: UInt16 = x & 0x100 != 0 ? 0x60 : 0x64
            if x & 0x2000 != 0 {
                r.kbc.ioWrite(port, size: Int(1 << ((x >> 20) & 1)), value: x >> 8)
            } else {
                _ = r.kbc.ioRead(port, size: 1)
            }
            if x & 0x7000 == 0x7000 { r.keyboard.press(PS2Key.allKeys[Int(x >> 9) % PS2Key.allKeys.count]) }
            if x & 0x7000 == 0x6000 { r.keyboard.releaseAll() }
            if x & 0xF0000 == 0x30000 { r.mouse.move(dx: Int(Int8(truncatingIfNeeded: x >> 3)), dy: 5, buttons: 1) }
            r.advance(UInt64(x & 0xFFFF) * 50)
        }
    }
}
