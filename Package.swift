// swift-tools-version:5.9
import PackageDescription

// The interpreter and the device models run millions of guest instructions in
// tests too, so they are always compiled with optimisation, even in debug
// builds (a debug build of the hot loop is 12-15x slower).
let hot: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"]),
]
let warm: [SwiftSetting] = [
    .unsafeFlags(["-O", "-enforce-exclusivity=unchecked"]),
]

let package = Package(
    name: "swiftemu",
    products: [
        .executable(name: "swiftemu", targets: ["Frontend"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // x86 interpreter: knows memory, an I/O port space and an interrupt line.
        .target(name: "CPU", swiftSettings: hot),
        // PC chips: PIC pair, PIT, 8042 + PS/2, RTC, UART, VGA. Know no CPU.
        .target(name: "Devices", swiftSettings: warm),
        // The board: RAM, port map, clock, wiring, loader, trace, debugger core.
        .target(name: "Board", dependencies: ["CPU", "Devices"], swiftSettings: warm),
        // Text-mode renderer to an RGBA framebuffer, PNG writer.
        .target(name: "Display", dependencies: ["Devices"], swiftSettings: warm),
        .systemLibrary(name: "CSDL2", pkgConfig: "sdl2", providers: [.apt(["libsdl2-dev"])]),
        .executableTarget(
            name: "Frontend",
            dependencies: [
                "Board", "CPU", "Devices", "Display", "CSDL2",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: warm
        ),
        // Native execution of instruction bytes, the oracle for the CPU tests.
        .target(name: "CHostExec", path: "Tests/CHostExec"),
        .testTarget(name: "CPUTests", dependencies: ["CPU", "CHostExec"]),
        .testTarget(name: "DevicesTests", dependencies: ["Devices"]),
        .testTarget(name: "DisplayTests", dependencies: ["Display", "Devices"]),
        .testTarget(name: "MachineTests", dependencies: ["Board", "CPU", "Devices"]),
    ]
)
