import XCTest
@testable import CPU

final class MemoryMapTests: XCTestCase {
    func testRAMPagesAndDeviceHole() {
        let m = PhysicalMemory(ramSize: 2 << 20)
        XCTAssertEqual(m.ramSize, 2 << 20)
        XCTAssertEqual(m.kind(ofPhysical: 0x1000), .ram)
        m.setKind(.device, from: 0xA0000, to: 0xC0000)
        m.setKind(.rom, from: 0xC0000, to: 0x100000)
        XCTAssertEqual(m.kind(ofPhysical: 0xB8000), .device)
        XCTAssertEqual(m.kind(ofPhysical: 0xF0000), .rom)
        XCTAssertEqual(m.kind(ofPhysical: 2 << 20), .device)
        XCTAssertEqual(m.kind(ofPhysical: 1 << 32), .device)
        XCTAssertTrue(m.isRAM(0x1000, count: 0x2000))
        XCTAssertFalse(m.isRAM(0x9F000, count: 0x2000))
        XCTAssertFalse(m.isRAM((2 << 20) - 4, count: 8))
    }

    /// The resident count (reported by --stats as "guest RAM resident")
    /// follows the pages written, and a reset gives them back.
    func testResidentBytesFollowTouchedPages() {
        let m = PhysicalMemory(ramSize: 64 << 20)
        let before = m.residentBytes()
        XCTAssertLessThan(before, 1 << 20)
        for page in stride(from: 0, to: 40 << 20, by: 4096) { m.ram[page + 17] = 1 }
        let after = m.residentBytes()
        XCTAssertGreaterThanOrEqual(after - before, 40 << 20)
        XCTAssertLessThanOrEqual(after, 41 << 20)
        m.clear()
        XCTAssertLessThan(m.residentBytes(), 1 << 20)
        XCTAssertEqual(m.ram[17], 0)
    }
}
