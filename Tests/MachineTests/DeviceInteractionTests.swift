import Foundation
import XCTest

/// Device interactions seen from a guest (Tests/Kernels/devices.S): priority,
/// IRQ1 held until port 0x60 is read, nesting through the cascade, RTC
/// register C, PIT channel 2 through port 0x61.
final class DeviceInteractionTests: XCTestCase {
    func testDeviceInteractionsFromAGuest() throws {
        let r = try Repo.swiftemu([try Repo.kernel("devices.elf"), "headless", "--timeout", "10"])
        let lines = r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertEqual(lines, [
            "ok priority-irq0-before-irq1",
            "ok irq1-requested-until-0x60-read",
            "ok irq0-nests-in-irq8-handler",
            "ok rtc-register-c-rearms-irq8",
            "ok pit-ch2-calibration-via-port-0x61",
        ], r.stdout + r.stderr)
        XCTAssertEqual(r.status, 1, "no failures: (0<<1)|1")
        // The PIT one-shot of 11932 counts lasts 10.0002 ms of virtual time;
        // the guest measures it with RDTSC (1 GHz of virtual time).
        let cal = r.stdout.split(separator: "\n").first { $0.hasPrefix("# pit ch2") }
        let ticks = cal.flatMap { UInt64($0.split(separator: " ").last ?? "", radix: 16) } ?? 0
        XCTAssertTrue((10_000_000...10_002_000).contains(ticks), "\(ticks)")
    }
}
