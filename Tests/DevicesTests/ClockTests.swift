import XCTest
@testable import Devices

final class ClockTests: XCTestCase {
    func testTimersFireInDeadlineOrderAndCanReschedule() {
        let c = VirtualClock()
        var log: [String] = []
        var b = 0
        let a = c.makeTimer("a") { t in log.append("a@\(t)") }
        b = c.makeTimer("b") { t in log.append("b@\(t)"); if t < 300 { c.schedule(b, at: t + 100) } }
        c.schedule(a, at: 150)
        c.schedule(b, at: 100)
        XCTAssertEqual(c.nextDeadline, 100)
        c.now = 350
        c.runDue()
        XCTAssertEqual(log, ["b@100", "a@150", "b@200", "b@300"])
        XCTAssertEqual(c.nextDeadline, .max)
        c.schedule(a, at: 10)
        c.cancel(a)
        XCTAssertEqual(c.nextDeadline, .max)
    }
}
