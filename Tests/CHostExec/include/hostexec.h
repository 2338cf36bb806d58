#ifndef HOSTEXEC_H
#define HOSTEXEC_H
// Native execution of a few x86-64 instruction bytes: the oracle of the CPU
// differential tests.
//
// The instruction bytes are copied into an executable page between a stub
// that loads every general register except RSP (and the arithmetic flags plus
// DF, XMM0-15, MXCSR) from a `hostexec_state`, and a stub that stores them
// back together with RFLAGS. RSP stays the host stack: the bytes must not
// use it (balanced pushes and pops are fine). Memory operands reach a caller-owned buffer through a base register whose value
// the caller sets to the buffer's host address.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// General registers in encoding order (RAX RCX RDX RBX RSP RBP RSI RDI
/// R8..R15), RFLAGS, XMM0-15 (low quadword first) and MXCSR.
/// `gpr[4]` (RSP) is neither loaded nor stored.
/// On input only CF PF AF ZF SF OF DF of `rflags` are used (bit 1 is forced);
/// on output `rflags` is the raw value pushed by PUSHFQ. An input `mxcsr` of
/// 0 means HOSTEXEC_MXCSR_DEFAULT (all exceptions masked, round to nearest);
/// the host's MXCSR is restored after the bytes ran.
struct hostexec_state {
    uint64_t gpr[16];
    uint64_t rflags;
    uint64_t xmm[32];
    uint32_t mxcsr;
    uint32_t reserved;
};

#define HOSTEXEC_MXCSR_DEFAULT 0x1F80u

/// Where a guarded run stopped when the bytes faulted.
struct hostexec_fault {
    int signo;          // SIGFPE, SIGSEGV, SIGBUS, SIGILL, SIGTRAP or 0
    int code;           // si_code
    uint64_t address;   // si_addr
};

/// The input RFLAGS bits that are loaded (CF PF AF ZF SF DF OF).
#define HOSTEXEC_FLAGS_IN 0x0CD5u
/// Longest instruction sequence accepted.
#define HOSTEXEC_MAX_CODE 1024u

/// Always 1 (the target links).
int hostexec_available(void);

/// Maps the executable page (RWX, or a RW and a RX view of one memfd where
/// RWX mappings are refused). Called implicitly by the run functions.
/// Returns 0 on success, -1 when no executable memory can be had.
int hostexec_init(void);

/// Host address at which the first instruction byte is placed (for
/// RIP-relative operands).
uint64_t hostexec_code_address(void);

/// Runs `code[0..<len]` natively with the registers and flags of `st`, and
/// stores the resulting registers and flags back into `st`.
/// The bytes must not fault (no guard: a fault kills the process).
/// Returns 0, or -1 when the page could not be mapped or `len` is too long.
int hostexec_run(const uint8_t *code, size_t len, struct hostexec_state *st);

/// Installs handlers for SIGFPE/SIGSEGV/SIGBUS/SIGILL/SIGTRAP that turn a
/// fault inside `hostexec_run_guarded` into a return value (the previous
/// handlers are saved). Faults outside a guarded run are handed to the
/// previous handler. Returns 0 on success.
int hostexec_guard_begin(void);
/// Restores the handlers saved by `hostexec_guard_begin`.
void hostexec_guard_end(void);

/// Like `hostexec_run`, inside a guard (between `hostexec_guard_begin` and
/// `hostexec_guard_end`, or installing and removing one itself when none is
/// active). Returns 0 when the bytes ran to the end, the signal number when
/// they faulted (then `st` keeps its input values and `fault`, if not NULL,
/// says why), or -1 on a set-up error.
int hostexec_run_guarded(const uint8_t *code, size_t len, struct hostexec_state *st,
                         struct hostexec_fault *fault);

/// Places `code` in the page without running it (for reading the bytes
/// around it: RIP-relative operands). Returns 0, or -1 as `hostexec_run`.
int hostexec_prepare(const uint8_t *code, size_t len);
/// Offset of the first instruction byte in the page (the prologue length);
/// the page is 4096 bytes and readable.
size_t hostexec_code_offset(void);

/// The GS segment base of the calling thread (arch_prctl); the C library
/// of x86-64 Linux uses FS, not GS, so tests may point GS at a buffer.
uint64_t hostexec_gs_base(void);
/// Sets it; returns 0 on success.
int hostexec_set_gs_base(uint64_t base);

/// `size` bytes of zeroed read-write memory mapped below 2 GiB (MAP_32BIT),
/// for operands addressed with 32-bit address size; NULL when refused.
void *hostexec_alloc_low(size_t size);

/// A note (up to 255 bytes) written to stderr if the process dies of
/// SIGILL/SIGTRAP/SIGSEGV/SIGBUS/SIGFPE/SIGABRT after
/// `hostexec_install_crash_reporter` (a Swift runtime trap is SIGILL or
/// SIGTRAP): says which input was running.
void hostexec_set_crash_note(const char *note);
/// Cheaper: a case number, instruction bytes and register values, formatted
/// only if the process dies.
void hostexec_set_crash_case(uint64_t index, const uint8_t *code, size_t len, const uint64_t *regs, size_t nregs);
void hostexec_install_crash_reporter(void);

/// Compatibility mode: the bytes run as 32-bit code (CS = __USER32_CS) from a
/// page below 2 GiB, with DS = ES = __USER_DS; only the low 32 bits of each
/// register are meaningful afterwards. 1 when the host allows it.
int hostexec_compat32_available(void);
/// The (32-bit) address of the first instruction byte in compatibility mode.
uint32_t hostexec_compat32_code_address(void);
/// `hostexec_run_guarded` for 32-bit code.
int hostexec_run32_guarded(const uint8_t *code, size_t len, struct hostexec_state *st,
                           struct hostexec_fault *fault);

/// CPUID of the host.
void hostexec_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

enum hostexec_feature {
    HOSTEXEC_POPCNT = 1,  // CPUID.1:ECX[23]
    HOSTEXEC_LZCNT = 2,   // CPUID.80000001h:ECX[5] (ABM)
    HOSTEXEC_BMI1 = 3,    // CPUID.7.0:EBX[3] (TZCNT, ANDN, ...)
    HOSTEXEC_BMI2 = 4,    // CPUID.7.0:EBX[8]
    HOSTEXEC_ADX = 5,     // CPUID.7.0:EBX[19]
    HOSTEXEC_MOVBE = 6,   // CPUID.1:ECX[22]
};
/// 1 when the host has the feature, else 0.
int hostexec_has(enum hostexec_feature f);
/// The 12-character CPUID vendor string, NUL-terminated, into `out[13]`.
void hostexec_vendor(char out[13]);

#ifdef __cplusplus
}
#endif
#endif
