/// The kernel's entry point, called by arch/boot.S in 64-bit mode with the
/// Multiboot magic and information pointer. Interrupts are off until the
/// IDT and the PICs are ready.
@_cdecl("kernel_main")
public func kernelMain(magic: UInt32, info: UInt32) -> Never {
    Serial.initialize()
    Multiboot.parse(magic: magic, info: info)   // copies the command line first
    Console.mirrorDebugPort = Multiboot.commandLineHasWord("debugcon")
    Console.initialize()
    StatusLine.refresh(force: true)
    kprint("swiftemu guest kernel - Embedded Swift on x86-64\n", .bright)
    if !Multiboot.valid {
        kprint("warning: not started by a Multiboot loader (EAX=\(hex: magic))\n", .warn)
    }

    Frames.initialize()
    Paging.initialize()             // 4 KiB pages for the first 2 MiB, stack guard page
    GDT.initialize()                // GDT with TSS; IST1 = double-fault stack
    IDT.initialize()                // all 256 vectors -> arch/isr.S stubs
    PIC.initialize()                // remap to 32/40, keep the firmware's masks
    Keyboard.initialize()
    Interrupts.enable()

    Multiboot.withLoaderName { name in
        Multiboot.withCommandLine { line in
            kprint("# loader '\(name)', command line '\(line)', \(Multiboot.memoryUpperKiB / 1024 + 1) MiB RAM\n", .dim)
        }
    }

    if Multiboot.commandLineHasWord("test") {
        SelfTest.runAndExit()
    }

    kprint("Type 'help' for the list of commands.\n", .info)
    Shell.run()
}
