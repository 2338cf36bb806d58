import XCTest
import CHostExec

final class HostExecTests: XCTestCase {
    func testHostOracleLinks() {
        XCTAssertEqual(hostexec_available(), 1)
    }
}
