import ArgumentParser
import Board

struct SwiftEmu: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "swiftemu", abstract: "A full-system x86 PC emulator.")
    func run() throws {}
}
SwiftEmu.main()
