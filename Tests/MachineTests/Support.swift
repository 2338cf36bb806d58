import Foundation
import XCTest

/// Paths and helpers shared by the whole-machine tests.
enum Repo {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The swiftemu executable of the same build as the test bundle.
    static var swiftemu: URL {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates = [here.appendingPathComponent("swiftemu"),
                          here.deletingLastPathComponent().appendingPathComponent("swiftemu")]
        for cfg in ["release", "debug"] {
            candidates.append(root.appendingPathComponent(".build/\(cfg)/swiftemu"))
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    private static var kernelsBuilt = false
    /// A test kernel from Tests/Kernels, built on first use with `make kernels`.
    static func kernel(_ name: String) throws -> String {
        let path = root.appendingPathComponent("build/kernels/\(name)").path
        if !kernelsBuilt {
            let r = try run("/usr/bin/env", ["make", "-s", "-C", root.path, "kernels"])
            guard r.status == 0 else { throw XCTSkip("cannot build test kernels: \(r.stderr)") }
            kernelsBuilt = true
        }
        return path
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String; var stdoutBytes: [UInt8] }

    /// Runs a program to completion and captures its output.
    static func run(_ exe: String, _ args: [String], stdin: Data? = nil, timeout: TimeInterval = 120) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        if let d = stdin { inPipe.fileHandleForWriting.write(d) }
        try? inPipe.fileHandleForWriting.close()
        var o = Data(), e = Data()
        let g = DispatchGroup()
        g.enter(); DispatchQueue.global().async { o = out.fileHandleForReading.readDataToEndOfFile(); g.leave() }
        g.enter(); DispatchQueue.global().async { e = err.fileHandleForReading.readDataToEndOfFile(); g.leave() }
        if g.wait(timeout: .now() + timeout) == .timedOut {
            p.terminate()
            throw NSError(domain: "swiftemu-tests", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(exe) \(args) timed out"])
        }
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self), stdoutBytes: [UInt8](o))
    }

    /// Runs `swiftemu ARGS`.
    static func swiftemu(_ args: [String], stdin: Data? = nil) throws -> Result {
        try run(swiftemu.path, args, stdin: stdin)
    }
}
