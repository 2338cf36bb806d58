// Native execution of instruction bytes for the CPU differential tests.
// See include/hostexec.h for the contract.
//
// Page layout: [prologue][instruction bytes][epilogue]. The prologue and the
// epilogue are emitted here as machine code (System V ABI: RDI holds the
// state pointer on entry):
//
//   prologue:  push rbx, rbp, r12-r15       callee-saved registers
//              sub rsp, 8; stmxcsr [rsp]    the host's MXCSR
//              push rdi                     keep the state pointer
//              movdqu xmm0-15, [rdi+...]; ldmxcsr [rdi+...]
//              push qword [rdi+128]; popfq  flags first: the MOVs below
//                                           leave them alone
//              mov  rax..r15, [rdi+8*i]     every register but RSP, RDI last
//   epilogue:  push rdi                     the result RDI
//              mov  rdi, [rsp+8]            the state pointer
//              mov  [rdi+8*i], rax..r15
//              pop  qword [rdi+56]          the result RDI
//              pushfq; pop qword [rdi+128]
//              cld                          the ABI wants DF clear
//              movdqu [rdi+...], xmm0-15; stmxcsr [rdi+...]
//              pop rdi; ldmxcsr [rsp]; add rsp, 8
//              pop r15-r12, rbp, rbx; ret

#define _GNU_SOURCE
#include "hostexec.h"

#include <cpuid.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int hostexec_available(void) { return 1; }

enum { PAGE_BYTES = 4096 };

static uint8_t *page_w;          // writable view
static uint8_t *page_x;          // executable view (same as page_w when RWX)
static size_t prologue_len;
static size_t loaded_len = (size_t)-1;  // length of the bytes currently in the page
static uint8_t loaded[HOSTEXEC_MAX_CODE];

// Appends bytes to a buffer.
struct emitter { uint8_t *p; size_t n; };
static void emit(struct emitter *e, const uint8_t *b, size_t n) {
    memcpy(e->p + e->n, b, n);
    e->n += n;
}
#define EMIT(e, ...) do { const uint8_t b_[] = { __VA_ARGS__ }; emit((e), b_, sizeof b_); } while (0)

// MOV between register `r` (0-15) and [rdi + 8*r], `store` selects the
// direction (89 = store, 8B = load). The displacement always fits in disp8.
static void emit_mov_slot(struct emitter *e, int r, int store) {
    uint8_t rex = 0x48 | (r >= 8 ? 0x04 : 0);  // REX.W, REX.R for r8-r15
    uint8_t modrm = 0x40 | (uint8_t)((r & 7) << 3) | 7;  // mod=01, reg=r, rm=rdi
    if (r == 0) {
        EMIT(e, rex, store ? 0x89 : 0x8B, (uint8_t)(modrm & 0x3F));  // mod=00, no disp
    } else {
        EMIT(e, rex, store ? 0x89 : 0x8B, modrm, (uint8_t)(8 * r));
    }
}

// MOVDQU between XMM `x` (0-15) and [rdi + disp32]; `store` selects the
// direction (F3 0F 7F = store, F3 0F 6F = load).
static void emit_xmm_slot(struct emitter *e, int x, uint32_t disp, int store) {
    EMIT(e, 0xF3);
    if (x >= 8) EMIT(e, 0x44);                            // REX.R
    EMIT(e, 0x0F, store ? 0x7F : 0x6F, (uint8_t)(0x80 | ((x & 7) << 3) | 7),
         (uint8_t)disp, (uint8_t)(disp >> 8), (uint8_t)(disp >> 16), (uint8_t)(disp >> 24));
}

enum {
    OFF_RFLAGS = offsetof(struct hostexec_state, rflags),
    OFF_XMM = offsetof(struct hostexec_state, xmm),
    OFF_MXCSR = offsetof(struct hostexec_state, mxcsr),
};

static size_t emit_prologue(uint8_t *p) {
    struct emitter e = { p, 0 };
    EMIT(&e, 0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57);  // push rbx rbp r12-r15
    EMIT(&e, 0x48, 0x83, 0xEC, 0x08);                     // sub rsp, 8
    EMIT(&e, 0x0F, 0xAE, 0x1C, 0x24);                     // stmxcsr [rsp]: the host's
    EMIT(&e, 0x57);                                       // push rdi
    for (int x = 0; x < 16; x++) emit_xmm_slot(&e, x, OFF_XMM + 16 * x, 0);
    EMIT(&e, 0x0F, 0xAE, 0x97, (uint8_t)OFF_MXCSR, (uint8_t)(OFF_MXCSR >> 8), 0, 0);  // ldmxcsr [rdi+mxcsr]
    EMIT(&e, 0xFF, 0xB7, (uint8_t)OFF_RFLAGS, 0x00, 0x00, 0x00);  // push qword [rdi+rflags]
    EMIT(&e, 0x9D);                                       // popfq
    for (int r = 0; r < 16; r++) {
        if (r == 4 || r == 7) continue;                   // RSP stays, RDI last
        emit_mov_slot(&e, r, 0);
    }
    emit_mov_slot(&e, 7, 0);                              // mov rdi, [rdi+56]
    return e.n;
}

static size_t emit_epilogue(uint8_t *p) {
    struct emitter e = { p, 0 };
    EMIT(&e, 0x57);                                       // push rdi
    EMIT(&e, 0x48, 0x8B, 0x7C, 0x24, 0x08);               // mov rdi, [rsp+8]
    for (int r = 0; r < 16; r++) {
        if (r == 4 || r == 7) continue;
        emit_mov_slot(&e, r, 1);
    }
    EMIT(&e, 0x8F, 0x47, 0x38);                           // pop qword [rdi+56]
    EMIT(&e, 0x9C);                                       // pushfq
    EMIT(&e, 0x8F, 0x87, (uint8_t)OFF_RFLAGS, 0x00, 0x00, 0x00);  // pop qword [rdi+rflags]
    EMIT(&e, 0xFC);                                       // cld
    for (int x = 0; x < 16; x++) emit_xmm_slot(&e, x, OFF_XMM + 16 * x, 1);
    EMIT(&e, 0x0F, 0xAE, 0x9F, (uint8_t)OFF_MXCSR, (uint8_t)(OFF_MXCSR >> 8), 0, 0);  // stmxcsr [rdi+mxcsr]
    EMIT(&e, 0x5F);                                       // pop rdi
    EMIT(&e, 0x0F, 0xAE, 0x14, 0x24);                     // ldmxcsr [rsp]: the host's back
    EMIT(&e, 0x48, 0x83, 0xC4, 0x08);                     // add rsp, 8
    EMIT(&e, 0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0x5B);  // pop r15-r12 rbp rbx
    EMIT(&e, 0xC3);                                       // ret
    return e.n;
}

int hostexec_init(void) {
    if (page_x) return 0;
    void *p = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        page_w = page_x = p;
    } else {
        // W^X systems: one memfd mapped twice, writable and executable.
        int fd = memfd_create("hostexec", 0);
        if (fd < 0) return -1;
        if (ftruncate(fd, PAGE_BYTES) != 0) { close(fd); return -1; }
        void *w = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        void *x = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
        close(fd);
        if (w == MAP_FAILED || x == MAP_FAILED) return -1;
        page_w = w;
        page_x = x;
    }
    prologue_len = emit_prologue(page_w);
    return 0;
}

uint64_t hostexec_code_address(void) {
    if (hostexec_init() != 0) return 0;
    return (uint64_t)(uintptr_t)(page_x + prologue_len);
}

// Puts `code` and the epilogue after the prologue (skipped when unchanged).
static int load(const uint8_t *code, size_t len) {
    if (hostexec_init() != 0 || len > HOSTEXEC_MAX_CODE) return -1;
    if (len == loaded_len && memcmp(loaded, code, len) == 0) return 0;
    memcpy(page_w + prologue_len, code, len);
    emit_epilogue(page_w + prologue_len + len);
    memcpy(loaded, code, len);
    loaded_len = len;
    // x86 keeps instruction fetch coherent with stores; the builtin is a
    // no-op there and documents the intent.
    __builtin___clear_cache((char *)page_x, (char *)page_x + PAGE_BYTES);
    return 0;
}

int hostexec_prepare(const uint8_t *code, size_t len) { return load(code, len); }

size_t hostexec_code_offset(void) {
    if (hostexec_init() != 0) return 0;
    return prologue_len;
}

uint64_t hostexec_gs_base(void) {
    unsigned long v = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_GS, &v) != 0) return 0;
    return v;
}

int hostexec_set_gs_base(uint64_t base) {
    return syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)base) == 0 ? 0 : -1;
}

typedef void (*stub_fn)(struct hostexec_state *);

static void call_stub(struct hostexec_state *st) {
    uint64_t saved = st->rflags;
    st->rflags = (saved & HOSTEXEC_FLAGS_IN) | 2;
    if (st->mxcsr == 0) st->mxcsr = HOSTEXEC_MXCSR_DEFAULT;
    ((stub_fn)(void *)page_x)(st);
}

int hostexec_run(const uint8_t *code, size_t len, struct hostexec_state *st) {
    if (load(code, len) != 0) return -1;
    call_stub(st);
    return 0;
}

// MARK: fault guard

static const int guarded_signals[] = { SIGFPE, SIGSEGV, SIGBUS, SIGILL, SIGTRAP };
enum { NSIG_GUARDED = sizeof guarded_signals / sizeof guarded_signals[0] };
static struct sigaction previous[NSIG_GUARDED];
static int guard_installed;
static sigjmp_buf guard_env;
static volatile sig_atomic_t guard_armed;
static struct hostexec_fault guard_fault;

static void on_fault(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (!guard_armed) {
        // Not ours: give the signal back to whoever had it. Returning
        // re-executes the faulting instruction under the old disposition.
        for (int i = 0; i < NSIG_GUARDED; i++) {
            if (guarded_signals[i] == sig) sigaction(sig, &previous[i], NULL);
        }
        return;
    }
    guard_armed = 0;
    guard_fault.signo = sig;
    guard_fault.code = si ? si->si_code : 0;
    guard_fault.address = si ? (uint64_t)(uintptr_t)si->si_addr : 0;
    siglongjmp(guard_env, sig);
}

static stack_t previous_altstack;

int hostexec_guard_begin(void) {
    if (guard_installed) return 0;
    // The handler runs on its own stack: a fault in 32-bit code leaves only
    // the low half of RSP, which is no usable stack for the signal frame.
    static void *alt;
    enum { ALT_BYTES = 1 << 16 };
    if (!alt) {
        alt = mmap(NULL, ALT_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (alt == MAP_FAILED) { alt = NULL; return -1; }
    }
    stack_t ss = { .ss_sp = alt, .ss_flags = 0, .ss_size = ALT_BYTES };
    if (sigaltstack(&ss, &previous_altstack) != 0) return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    // NODEFER: the handler leaves by siglongjmp without restoring the mask,
    // so the signal must not stay blocked.
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < NSIG_GUARDED; i++) {
        if (sigaction(guarded_signals[i], &sa, &previous[i]) != 0) {
            for (int j = 0; j < i; j++) sigaction(guarded_signals[j], &previous[j], NULL);
            sigaltstack(&previous_altstack, NULL);
            return -1;
        }
    }
    guard_installed = 1;
    return 0;
}

void hostexec_guard_end(void) {
    if (!guard_installed) return;
    for (int i = 0; i < NSIG_GUARDED; i++) sigaction(guarded_signals[i], &previous[i], NULL);
    sigaltstack(&previous_altstack, NULL);
    guard_installed = 0;
}

int hostexec_run_guarded(const uint8_t *code, size_t len, struct hostexec_state *st,
                         struct hostexec_fault *fault) {
    if (load(code, len) != 0) return -1;
    int own_guard = !guard_installed;
    if (own_guard && hostexec_guard_begin() != 0) return -1;
    struct hostexec_state input = *st;
    int sig = sigsetjmp(guard_env, 0);
    if (sig == 0) {
        guard_fault.signo = 0;
        guard_armed = 1;
        call_stub(st);
        guard_armed = 0;
    } else {
        *st = input;
    }
    if (fault) *fault = guard_fault;
    if (own_guard) hostexec_guard_end();
    return sig;
}

void *hostexec_alloc_low(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

// MARK: compatibility mode (32-bit code under the 64-bit kernel)
//
// A second page, below 2 GiB (its addresses must fit 32-bit EIP):
//   [prologue64][code32: bytes; jmp far 0x33:back][back: epilogue64][data]
// The 64-bit prologue saves DS/ES and RSP, loads DS = ES = __USER_DS (0x2B;
// 64-bit Linux leaves them null, which compatibility mode cannot use), the
// registers and flags as `hostexec_run` does, and far-jumps to
// __USER32_CS (0x23). The 32-bit code far-jumps back to __USER_CS (0x33).

enum { USER32_CS = 0x23, USER_CS = 0x33, USER_DS = 0x2B };
enum { P32_DATA = 4096 - 64 };   // far pointer (6 bytes) and the RSP slot

static uint8_t *page32;
static size_t p32_prologue_len;
static size_t p32_loaded_len = (size_t)-1;
static uint8_t p32_loaded[HOSTEXEC_MAX_CODE];

static void emit_abs32(struct emitter *e, uint32_t a) {
    EMIT(e, (uint8_t)a, (uint8_t)(a >> 8), (uint8_t)(a >> 16), (uint8_t)(a >> 24));
}

int hostexec_compat32_available(void) {
    if (page32) return 1;
    void *p = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (p == MAP_FAILED) return 0;
    page32 = p;
    uint32_t base = (uint32_t)(uintptr_t)page32;
    uint32_t rsp_slot = base + P32_DATA + 8;
    struct emitter e = { page32, 0 };
    EMIT(&e, 0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57);  // push rbx rbp r12-r15
    EMIT(&e, 0x48, 0x83, 0xEC, 0x08);                     // sub rsp, 8
    EMIT(&e, 0x0F, 0xAE, 0x1C, 0x24);                     // stmxcsr [rsp]
    EMIT(&e, 0x57);                                       // push rdi (state)
    EMIT(&e, 0x8C, 0xD8, 0x50);                           // mov eax, ds; push rax
    EMIT(&e, 0x8C, 0xC0, 0x50);                           // mov eax, es; push rax
    EMIT(&e, 0xB8, USER_DS, 0, 0, 0);                     // mov eax, __USER_DS
    EMIT(&e, 0x8E, 0xD8, 0x8E, 0xC0);                     // mov ds, eax; mov es, eax
    EMIT(&e, 0x48, 0x89, 0x24, 0x25); emit_abs32(&e, rsp_slot);  // mov [rsp_slot], rsp
    for (int x = 0; x < 16; x++) emit_xmm_slot(&e, x, OFF_XMM + 16 * x, 0);
    EMIT(&e, 0x0F, 0xAE, 0x97, (uint8_t)OFF_MXCSR, (uint8_t)(OFF_MXCSR >> 8), 0, 0);
    EMIT(&e, 0xFF, 0xB7, (uint8_t)OFF_RFLAGS, 0x00, 0x00, 0x00);  // push qword [rdi+rflags]
    EMIT(&e, 0x9D);                                       // popfq
    for (int r = 0; r < 16; r++) {
        if (r == 4 || r == 7) continue;
        emit_mov_slot(&e, r, 0);
    }
    emit_mov_slot(&e, 7, 0);
    // jmp far [far pointer]: FF /5 with an absolute 32-bit address (SIB, no base).
    EMIT(&e, 0xFF, 0x2C, 0x25); emit_abs32(&e, base + P32_DATA);
    p32_prologue_len = e.n;
    return 1;
}

static int load32(const uint8_t *code, size_t len) {
    if (!hostexec_compat32_available() || len > 1024) return -1;
    if (len == p32_loaded_len && memcmp(p32_loaded, code, len) == 0) return 0;
    uint32_t base = (uint32_t)(uintptr_t)page32;
    uint32_t rsp_slot = base + P32_DATA + 8;
    struct emitter e = { page32 + p32_prologue_len, 0 };
    emit(&e, code, len);
    uint32_t back = base + (uint32_t)(p32_prologue_len + e.n + 7);
    EMIT(&e, 0xEA); emit_abs32(&e, back); EMIT(&e, USER_CS, 0);  // jmp far 0x33:back (32-bit form)
    // back, in 64-bit mode:
    EMIT(&e, 0x48, 0x8B, 0x24, 0x25); emit_abs32(&e, rsp_slot);  // mov rsp, [rsp_slot]
    EMIT(&e, 0x57);                                       // push rdi (result)
    EMIT(&e, 0x48, 0x8B, 0x7C, 0x24, 0x18);               // mov rdi, [rsp+24] (state)
    for (int r = 0; r < 16; r++) {
        if (r == 4 || r == 7) continue;
        emit_mov_slot(&e, r, 1);
    }
    EMIT(&e, 0x8F, 0x47, 0x38);                           // pop qword [rdi+56]
    EMIT(&e, 0x9C);                                       // pushfq
    EMIT(&e, 0x8F, 0x87, (uint8_t)OFF_RFLAGS, 0x00, 0x00, 0x00);
    EMIT(&e, 0xFC);                                       // cld
    for (int x = 0; x < 16; x++) emit_xmm_slot(&e, x, OFF_XMM + 16 * x, 1);
    EMIT(&e, 0x0F, 0xAE, 0x9F, (uint8_t)OFF_MXCSR, (uint8_t)(OFF_MXCSR >> 8), 0, 0);
    EMIT(&e, 0x58, 0x8E, 0xC0);                           // pop rax; mov es, eax
    EMIT(&e, 0x58, 0x8E, 0xD8);                           // pop rax; mov ds, eax
    EMIT(&e, 0x5F);                                       // pop rdi
    EMIT(&e, 0x0F, 0xAE, 0x14, 0x24);                     // ldmxcsr [rsp]
    EMIT(&e, 0x48, 0x83, 0xC4, 0x08);                     // add rsp, 8
    EMIT(&e, 0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0x5B);
    EMIT(&e, 0xC3);
    if (p32_prologue_len + e.n > P32_DATA) return -1;
    // Far pointer to the 32-bit code: offset, then __USER32_CS.
    uint32_t code32 = base + (uint32_t)p32_prologue_len;
    memcpy(page32 + P32_DATA, &code32, 4);
    uint16_t sel = USER32_CS;
    memcpy(page32 + P32_DATA + 4, &sel, 2);
    memcpy(p32_loaded, code, len);
    p32_loaded_len = len;
    return 0;
}

uint32_t hostexec_compat32_code_address(void) {
    if (!hostexec_compat32_available()) return 0;
    return (uint32_t)(uintptr_t)page32 + (uint32_t)p32_prologue_len;
}

int hostexec_run32_guarded(const uint8_t *code, size_t len, struct hostexec_state *st,
                           struct hostexec_fault *fault) {
    if (load32(code, len) != 0) return -1;
    int own_guard = !guard_installed;
    if (own_guard && hostexec_guard_begin() != 0) return -1;
    struct hostexec_state input = *st;
    uint16_t ds, es;
    __asm__ volatile("mov %%ds, %0; mov %%es, %1" : "=r"(ds), "=r"(es));
    int sig = sigsetjmp(guard_env, 0);
    if (sig == 0) {
        guard_fault.signo = 0;
        guard_armed = 1;
        uint64_t saved = st->rflags;
        st->rflags = (saved & HOSTEXEC_FLAGS_IN) | 2;
        if (st->mxcsr == 0) st->mxcsr = HOSTEXEC_MXCSR_DEFAULT;
        ((stub_fn)(void *)page32)(st);
        guard_armed = 0;
    } else {
        *st = input;
        // A fault in the 32-bit code left DS/ES as the stub set them.
        __asm__ volatile("mov %0, %%ds; mov %1, %%es" : : "r"(ds), "r"(es));
    }
    if (fault) *fault = guard_fault;
    if (own_guard) hostexec_guard_end();
    return sig;
}

// MARK: crash notes

static char crash_note[256];

void hostexec_set_crash_note(const char *note) {
    size_t n = strlen(note);
    if (n > sizeof crash_note - 1) n = sizeof crash_note - 1;
    memcpy(crash_note, note, n);
    crash_note[n] = 0;
}

static int crash_case_set;
static uint64_t crash_index;
static uint8_t crash_code[32];
static size_t crash_code_len;
static uint64_t crash_regs[16];
static size_t crash_nregs;

void hostexec_set_crash_case(uint64_t index, const uint8_t *code, size_t len, const uint64_t *regs, size_t nregs) {
    crash_case_set = 1;
    crash_index = index;
    crash_code_len = len < sizeof crash_code ? len : sizeof crash_code;
    memcpy(crash_code, code, crash_code_len);
    crash_nregs = nregs < 16 ? nregs : 16;
    memcpy(crash_regs, regs, crash_nregs * sizeof regs[0]);
}

// Async-signal-safe hex output.
static void put_hex(uint64_t v, int digits) {
    char b[16];
    for (int i = digits - 1; i >= 0; i--) { b[i] = "0123456789ABCDEF"[v & 15]; v >>= 4; }
    ssize_t r = write(2, b, (size_t)digits);
    (void)r;
}

static void on_crash(int sig) {
    static const char head[] = "\ncrash while running: ";
    ssize_t r = write(2, head, sizeof head - 1);
    r = write(2, crash_note, strlen(crash_note));
    if (crash_case_set) {
        r = write(2, " case ", 6);
        char d[24];
        int n = 0;
        uint64_t v = crash_index;
        do { d[sizeof d - 1 - n++] = (char)('0' + v % 10); v /= 10; } while (v && n < (int)sizeof d);
        r = write(2, d + sizeof d - n, (size_t)n);
        r = write(2, " bytes", 6);
        for (size_t i = 0; i < crash_code_len; i++) { r = write(2, " ", 1); put_hex(crash_code[i], 2); }
        r = write(2, " regs", 5);
        for (size_t i = 0; i < crash_nregs; i++) { r = write(2, " ", 1); put_hex(crash_regs[i], 16); }
    }
    r = write(2, "\n", 1);
    (void)r;
    signal(sig, SIG_DFL);
    raise(sig);
}

void hostexec_install_crash_reporter(void) {
    const int sigs[] = { SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGABRT };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], on_crash);
}

// MARK: CPUID

void hostexec_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    __cpuid_count(leaf, subleaf, a, b, c, d);
    out[0] = a; out[1] = b; out[2] = c; out[3] = d;
}

int hostexec_has(enum hostexec_feature f) {
    uint32_t r[4];
    hostexec_cpuid(0, 0, r);
    uint32_t max_basic = r[0];
    hostexec_cpuid(0x80000000u, 0, r);
    uint32_t max_ext = r[0];
    switch (f) {
    case HOSTEXEC_POPCNT: hostexec_cpuid(1, 0, r); return (r[2] >> 23) & 1;
    case HOSTEXEC_MOVBE: hostexec_cpuid(1, 0, r); return (r[2] >> 22) & 1;
    case HOSTEXEC_LZCNT:
        if (max_ext < 0x80000001u) return 0;
        hostexec_cpuid(0x80000001u, 0, r); return (r[2] >> 5) & 1;
    case HOSTEXEC_BMI1:
        if (max_basic < 7) return 0;
        hostexec_cpuid(7, 0, r); return (r[1] >> 3) & 1;
    case HOSTEXEC_BMI2:
        if (max_basic < 7) return 0;
        hostexec_cpuid(7, 0, r); return (r[1] >> 8) & 1;
    case HOSTEXEC_ADX:
        if (max_basic < 7) return 0;
        hostexec_cpuid(7, 0, r); return (r[1] >> 19) & 1;
    }
    return 0;
}

void hostexec_vendor(char out[13]) {
    uint32_t r[4];
    hostexec_cpuid(0, 0, r);
    memcpy(out, &r[1], 4);
    memcpy(out + 4, &r[3], 4);
    memcpy(out + 8, &r[2], 4);
    out[12] = 0;
}
