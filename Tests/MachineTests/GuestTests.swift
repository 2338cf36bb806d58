import Foundation
import XCTest

/// The bundled guest booted headless with scripted keys: what it prints and
/// what its screen shows.
final class GuestTests: XCTestCase {
    static var guestBuilt = false

    func guest() throws -> String {
        let path = Repo.root.appendingPathComponent("build/guest/guest.elf").path
        if !GuestTests.guestBuilt {
            let r = try Repo.run("/usr/bin/env", ["make", "-s", "-C", Repo.root.path, "guest"], timeout: 600)
            XCTAssertEqual(r.status, 0, "make guest: \(r.stderr)")
            GuestTests.guestBuilt = true
        }
        return path
    }

    /// Runs the guest with `keys` and returns (status, stdout, screen text).
    func session(_ keys: String, seconds: String) throws -> (Int32, String, String) {
        let screen = FileManager.default.temporaryDirectory.appendingPathComponent("swiftemu-screen-\(getpid())-\(UUID().uuidString).txt").path
        let r = try Repo.swiftemu([try guest(), "headless", "--keys", keys, "--keys-at", "500ms",
                                   "--timeout", seconds, "--dump-screen", screen, "--diagnose", "off"])
        let text = (try? String(contentsOfFile: screen, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: screen)
        return (r.status, r.stdout, text)
    }

    func testSelfTestPassesAndExitsThroughF4() throws {
        let r = try Repo.swiftemu([try guest(), "headless", "--append", "test", "--timeout", "60"])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertFalse(r.stdout.contains("FAIL"), r.stdout)
        let summary = r.stdout.split(separator: "\n").last { $0.hasSuffix(" failed") }
        XCTAssertNotNil(summary)
        XCTAssertTrue(summary?.hasSuffix(", 0 failed") ?? false, String(summary ?? ""))
        XCTAssertGreaterThanOrEqual(Int(summary?.split(separator: " ").first ?? "") ?? 0, 40)
    }

    func testTypedLineEchoesOnTheScreen() throws {
        let (status, _, screen) = try session("hello world\\n", seconds: "3")
        XCTAssertEqual(status, 8)
        XCTAssertTrue(screen.contains("> hello world"), screen)
        XCTAssertTrue(screen.contains("unknown command 'hello'"), screen)
    }

    func testPicCommandShowsTheRemap() throws {
        let (_, _, screen) = try session("pic\\n", seconds: "3")
        XCTAssertTrue(screen.contains("IRQ 0-7  -> vectors 32-39"), screen)
        XCTAssertTrue(screen.contains("IRQ 8-15 -> vectors 40-47"), screen)
        // The firmware's masks (0xB8 / 0x8E) were saved and restored.
        XCTAssertTrue(screen.contains("10111000"), screen)
        XCTAssertTrue(screen.contains("10001110"), screen)
    }

    func testNoEOIStopsTheTicksAfterOneDot() throws {
        let (_, out, screen) = try session("noeoi\\n", seconds: "6")
        XCTAssertTrue(screen.contains("1 tick(s) in 3 s"), screen)
        let afterCommand = out.components(separatedBy: "sends no EOI").last ?? ""
        let dotsLine = afterCommand.split(separator: "\n").first { !$0.isEmpty } ?? ""
        XCTAssertEqual(dotsLine, ".", "exactly one dot: \(afterCommand)")
    }

    func testOverflowEndsInTheDoubleFaultHandlerOnItsISTStack() throws {
        let (status, _, screen) = try session("overflow\\n", seconds: "5")
        XCTAssertEqual(status, 2, "the handler halts with interrupts off")
        XCTAssertTrue(screen.contains("EXCEPTION 8: Double Fault"), screen)
        XCTAssertTrue(screen.contains("double-fault IST stack"), screen)
    }

    func testUptimeTicksAtTheFirmwareRate() throws {
        // 18.2065 Hz for 10 virtual seconds: the status line counts ticks.
        let (_, _, screen) = try session("", seconds: "10")
        let line = screen.split(separator: "\n").first ?? ""
        XCTAssertTrue(line.contains("18.206 Hz"), String(line))
        let ticks = line.components(separatedBy: " ticks").first?.split(separator: "|").last?.trimmingCharacters(in: .whitespaces)
        XCTAssertNotNil(Int(ticks ?? ""), String(line))
        XCTAssertTrue((180...183).contains(Int(ticks ?? "") ?? 0), String(line))
    }
}
