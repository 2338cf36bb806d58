import XCTest
@testable import Devices

final class UARTTests: XCTestCase {
    private final class Rig {
        let uart = UART16550(trace: TraceSink())
        var sent: [UInt8] = []
        var irq = false
        var edges = 0
        init() {
            uart.onTransmit = { [unowned self] in sent.append($0) }
            uart.irq = { [unowned self] l in if l && !irq { edges += 1 }; irq = l }
        }
        func r(_ off: UInt16) -> UInt8 { UInt8(uart.ioRead(0x3F8 + off, size: 1)) }
        func w(_ off: UInt16, _ v: UInt8) { uart.ioWrite(0x3F8 + off, size: 1, value: UInt32(v)) }
    }

    func testResetStateAndScratch() {
        let u = Rig()
        XCTAssertEqual(u.r(1), 0x00)            // IER
        XCTAssertEqual(u.r(2), 0x01)            // IIR: no interrupt, no FIFO
        XCTAssertEqual(u.r(3), 0x00)
        XCTAssertEqual(u.r(4), 0x00)
        XCTAssertEqual(u.r(5), 0x60)            // THRE | TEMT
        XCTAssertEqual(u.r(6), 0xB0)            // CTS DSR DCD from the peer
        u.w(7, 0x5A)
        XCTAssertEqual(u.r(7), 0x5A)
        XCTAssertFalse(u.irq)
    }

    func testTransmitAndDivisorLatch() {
        let u = Rig()
        u.w(3, 0x80)                             // DLAB
        u.w(0, 0x01); u.w(1, 0x00)
        XCTAssertEqual(u.r(0), 0x01)
        XCTAssertEqual(u.r(1), 0x00)
        XCTAssertEqual(u.uart.baudRate, 115_200)
        u.w(3, 0x03)                             // 8N1
        for b in "Hi\n".utf8 { u.w(0, b) }
        XCTAssertEqual(u.sent, Array("Hi\n".utf8))
        XCTAssertEqual(u.r(5) & 0x60, 0x60, "transmit is instantaneous")
        XCTAssertEqual(u.r(1), 0x00, "IER again with DLAB clear")
    }

    func testReceiveDataAvailableInterruptGatedByOUT2() {
        let u = Rig()
        u.w(1, 0x01)                             // ERBFI
        u.uart.receive(0x41)
        XCTAssertEqual(u.r(2), 0x04)
        XCTAssertFalse(u.irq, "OUT2 clear: INTR not connected to the PIC")
        u.w(4, 0x0B)                             // DTR RTS OUT2
        XCTAssertTrue(u.irq)
        XCTAssertEqual(u.r(5) & 0x01, 0x01)
        XCTAssertEqual(u.r(0), 0x41)
        XCTAssertFalse(u.irq)
        XCTAssertEqual(u.r(2), 0x01)
        XCTAssertEqual(u.r(5) & 0x01, 0)
        XCTAssertEqual(u.r(0), 0x41, "empty RBR reads the last byte")
    }

    func testTHREInterruptAndPriority() {
        let u = Rig()
        u.w(4, 0x08)
        u.w(1, 0x02)                             // ETBEI with THR empty -> THRI
        XCTAssertTrue(u.irq)
        XCTAssertEqual(u.r(2), 0x02)
        XCTAssertFalse(u.irq, "IIR read clears THRI")
        u.w(0, 0x33)                             // THR empty again at once
        XCTAssertTrue(u.irq)
        XCTAssertEqual(u.edges, 2)
        // Received data outranks THRE; line status outranks both.
        u.w(1, 0x07)
        u.uart.receive(0x10)
        XCTAssertEqual(u.r(2), 0x04)
        u.uart.receive(0x11)                     // overrun (no FIFO)
        XCTAssertEqual(u.r(2), 0x06)
        XCTAssertEqual(u.r(5) & 0x03, 0x03, "DR and OE")
        XCTAssertEqual(u.r(5) & 0x02, 0, "LSR read clears OE")
        XCTAssertEqual(u.r(2), 0x04)
        XCTAssertEqual(u.r(0), 0x11, "the newer byte overwrote the holding register")
        XCTAssertEqual(u.r(2), 0x02)
        XCTAssertEqual(u.r(2), 0x01)
    }

    func testFIFOTriggerAndTimeout() {
        let u = Rig()
        u.w(4, 0x08)
        u.w(2, 0xC7)                             // FIFO on, clear, trigger 14
        XCTAssertEqual(u.r(2), 0xC1)
        u.w(1, 0x01)
        for i in 0..<13 { u.uart.receive(UInt8(i)) }
        XCTAssertEqual(u.r(2), 0xCC, "below trigger: character timeout")
        u.uart.receive(13)
        XCTAssertEqual(u.r(2), 0xC4)
        XCTAssertEqual(u.uart.receiveSpace, 2)
        u.uart.receive(14); u.uart.receive(15); u.uart.receive(16)
        XCTAssertEqual(u.r(5) & 0x02, 0x02, "17th byte overruns")
        var got: [UInt8] = []
        while u.r(5) & 1 != 0 { got.append(u.r(0)) }
        XCTAssertEqual(got, Array(0...15))
        XCTAssertFalse(u.irq)
        // FCR b1 clears the receive FIFO.
        u.uart.receive(0x99)
        u.w(2, 0x03)
        XCTAssertEqual(u.r(5) & 1, 0)
    }

    func testLoopback() {
        let u = Rig()
        u.w(4, 0x1B)                             // LOOP | OUT2 | RTS | DTR
        u.w(1, 0x01)
        u.w(0, 0x55)
        XCTAssertEqual(u.sent, [], "nothing leaves the chip")
        XCTAssertEqual(u.r(5) & 1, 1)
        XCTAssertFalse(u.irq, "OUT2 pin forced inactive in loopback")
        XCTAssertEqual(u.r(0), 0x55)
        u.uart.receive(0x66)
        XCTAssertEqual(u.r(5) & 1, 0, "serial input disconnected")
        // MSR mirrors the outputs: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2.
        _ = u.r(6)
        u.w(4, 0x1F)                             // + OUT1
        XCTAssertEqual(u.r(6), 0xF0)
        u.w(4, 0x10)
        XCTAssertEqual(u.r(6), 0x0F, "all deltas, RI trailing edge")
        XCTAssertEqual(u.r(6), 0x00)
    }

    func testModemStatusInterrupt() {
        let u = Rig()
        u.w(4, 0x08)
        u.w(1, 0x08)
        u.uart.modemInputs = (cts: false, dsr: true, ri: false, dcd: true)
        XCTAssertTrue(u.irq)
        XCTAssertEqual(u.r(2), 0x00)
        XCTAssertEqual(u.r(6), 0xA1)
        XCTAssertFalse(u.irq)
    }

    func testTraceAndDescribe() {
        let t = TraceSink()
        let uart = UART16550(trace: t)
        var ev: [String] = []
        t.enabled = .uart
        t.handler = { ev.append($0.name) }
        uart.ioWrite(0x3F8, size: 1, value: 0x41)
        uart.receive(0x42)
        XCTAssertEqual(ev, ["tx", "rx"])
        XCTAssertTrue(uart.describe().contains("9600 baud"))
    }
}
