/// CPU exception handlers (vectors 0-31).
///
/// Breakpoint (#BP, int3) is a trap: the saved RIP already points past the
/// int3, so the handler reports and returns. Page faults in the demand-paging
/// window are resolved by mapping a page and returning (the CPU restarts the
/// faulting instruction). A double fault runs on its own IST stack and stops
/// the machine. Every other exception is reported and halts the machine: the
/// kernel has no way to continue the faulting code.
enum Exceptions {
    static let divideError = 0
    static let debug = 1
    static let nmi = 2
    static let breakpoint = 3
    static let invalidOpcode = 6
    static let doubleFault = 8
    static let generalProtection = 13
    static let pageFault = 14

    static var counts: InlineArray<32, UInt64> = .init(repeating: 0)

    /// When false, demand faults and breakpoints are recorded silently
    /// (self-test mode).
    static var verbose = true
    static var lastBreakpointRIP: UInt64 = 0
    static var lastPageFaultAddress: UInt64 = 0
    static var lastPageFaultError: UInt64 = 0
    static var lastPageFaultRIP: UInt64 = 0

    static func name(_ vector: Int) -> StaticString {
        switch vector {
        case 0: return "Divide Error (#DE)"
        case 1: return "Debug (#DB)"
        case 2: return "Non-Maskable Interrupt (NMI)"
        case 3: return "Breakpoint (#BP)"
        case 4: return "Overflow (#OF)"
        case 5: return "BOUND Range Exceeded (#BR)"
        case 6: return "Invalid Opcode (#UD)"
        case 7: return "Device Not Available (#NM)"
        case 8: return "Double Fault (#DF)"
        case 9: return "Coprocessor Segment Overrun"
        case 10: return "Invalid TSS (#TS)"
        case 11: return "Segment Not Present (#NP)"
        case 12: return "Stack-Segment Fault (#SS)"
        case 13: return "General Protection (#GP)"
        case 14: return "Page Fault (#PF)"
        case 16: return "x87 Floating-Point Error (#MF)"
        case 17: return "Alignment Check (#AC)"
        case 18: return "Machine Check (#MC)"
        case 19: return "SIMD Floating-Point (#XM)"
        case 20: return "Virtualization (#VE)"
        case 21: return "Control Protection (#CP)"
        case 28: return "Hypervisor Injection (#HV)"
        case 29: return "VMM Communication (#VC)"
        case 30: return "Security (#SX)"
        default: return "Reserved"
        }
    }

    static func handle(vector: Int, errorCode: UInt64, frame: UnsafeMutablePointer<interrupt_frame>) {
        counts[vector] &+= 1
        switch vector {
        case breakpoint:
            lastBreakpointRIP = frame.pointee.rip
            if verbose {
                Console.breakLock()
                kprint("BREAKPOINT (#BP, vector 3) at RIP=\(hex: frame.pointee.rip, digits: 16) - returning\n", .warn)
            }
            return
        case pageFault:
            let address = cpu_read_cr2()
            lastPageFaultAddress = address
            lastPageFaultError = errorCode
            lastPageFaultRIP = frame.pointee.rip
            if Paging.resolveDemandFault(address: UInt(address), errorCode: errorCode) {
                if verbose {
                    Console.breakLock()
                    kprint("PAGE FAULT (#PF, vector 14): CR2=\(hex: address, digits: 16) error=\(hex: errorCode) (\(pageFaultCause(errorCode)))\n", .warn)
                    kprint("  RIP=\(hex: frame.pointee.rip, digits: 16); demand window: mapped a zeroed page, restarting the instruction\n", .warn)
                }
                return
            }
        case nmi:
            Console.breakLock()
            kprint("NMI received (port 0x61 = \(hex: inb(0x61), digits: 2)) - ignored\n", .warn)
            return
        case debug:
            Console.breakLock()
            kprint("DEBUG trap (#DB) at RIP=\(hex: frame.pointee.rip, digits: 16) - ignored\n", .warn)
            return
        default:
            break
        }
        fatal(vector: vector, errorCode: errorCode, frame: frame)
    }

    static func pageFaultCause(_ error: UInt64) -> StaticString {
        switch error & 0x13 {
        case 0x00: return "read, page not present"
        case 0x02: return "write, page not present"
        case 0x01: return "read, protection violation"
        case 0x03: return "write, protection violation"
        case 0x10: return "instruction fetch, page not present"
        default: return "instruction fetch, protection violation"
        }
    }

    /// Reports the exception with the frame the CPU pushed and stops.
    static func fatal(vector: Int, errorCode: UInt64, frame: UnsafeMutablePointer<interrupt_frame>) -> Never {
        Console.breakLock()
        Timer.printDots = false
        let f = frame.pointee
        kprint("\n*** EXCEPTION \(vector): \(name(vector)) error code=\(hex: errorCode)\n", .panic)
        if vector == pageFault {
            let cr2 = cpu_read_cr2()
            kprint("    CR2=\(hex: cr2, digits: 16) (\(pageFaultCause(errorCode)))\n", .bad)
            let guardPage = UInt64(Paging.guardPage)
            if cr2 >= guardPage && cr2 < guardPage + 4096 {
                kprint("    the address is the kernel stack's guard page: stack overflow\n", .bad)
            }
        }
        if vector == doubleFault {
            kprint("    running on the double-fault IST stack, RSP=\(hex: cpu_read_rsp(), digits: 16)\n", .bad)
            let guardPage = UInt64(Paging.guardPage)
            if f.rsp >= guardPage && f.rsp < guardPage + 8192 {
                kprint("    the faulting RSP is at the stack guard page: kernel stack overflow\n", .bad)
            }
        }
        kprint("    RIP=\(hex: f.rip, digits: 16) CS=\(hex: f.cs, digits: 4) RFLAGS=\(hex: f.rflags, digits: 8)\n", .bad)
        kprint("    RSP=\(hex: f.rsp, digits: 16) SS=\(hex: f.ss, digits: 4)\n", .bad)
        kprint("    RAX=\(hex: f.rax, digits: 16) RBX=\(hex: f.rbx, digits: 16) RCX=\(hex: f.rcx, digits: 16)\n", .dim)
        kprint("    RDX=\(hex: f.rdx, digits: 16) RSI=\(hex: f.rsi, digits: 16) RDI=\(hex: f.rdi, digits: 16)\n", .dim)
        kprint("    RBP=\(hex: f.rbp, digits: 16) CR3=\(hex: cpu_read_cr3(), digits: 16)\n", .dim)
        kprint("System halted.\n", .panic)
        if SelfTest.running {
            // In test mode, end the QEMU run with a failure status instead of hanging.
            DebugExit.exit(0x7F)
        }
        CPU.haltForever()
    }
}
