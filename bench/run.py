#!/usr/bin/env python3
"""Boots the benchmark kernels (build/bench/*.elf, built by bench/Makefile)
headless in swiftemu and, where installed, in QEMU (TCG, and TCG with
-icount shift=0,sleep=off) and Bochs, checks their checksums against a native
build of the same workloads, and prints guest MIPS: median and spread
(min-max) over several runs, and the speed of each engine relative to
swiftemu.

Method (details in docs/benchmarks.md):
- Instruction counts come from swiftemu's own counter (`--stats`). Every
  engine runs the same kernel doing the same work, so the count is reused
  for QEMU and Bochs.
- wall: swiftemu's `--stats` "host time" (machine start to the 0xF4 exit);
  QEMU and Bochs: process wall time from start to exit minus the median
  wall time of the `null` kernel on the same engine and settings (a kernel
  that enters long mode and exits at once). This removes process start,
  firmware and, for Bochs, the BIOS and GRUB boot.
- markers (QEMU, Bochs): wall time between the arrival of the kernel's first
  output line ("bench NAME") and of its "checksum" line on stdout.
- cpu: user + system CPU time of the process (wait4), minus the null
  kernel's, for every engine. On a shared, busy host this is the figure
  least disturbed by other processes.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RAM_MB = 128
KERNELS = ["null", "int", "irq", "mem", "idle"]
WORKLOADS = ["int", "irq", "mem"]
ENGINES = ["swiftemu", "QEMU TCG", "QEMU icount", "Bochs"]


class Result:
    def __init__(self):
        self.status = None
        self.wall = 0.0
        self.cpu = 0.0
        self.out = ""
        self.err = ""
        self.maxrss_kb = 0
        self.timed_out = False
        self.marks = None        # seconds from "bench NAME" to the "checksum" line


def run(cmd, timeout, cwd=None):
    """Runs cmd with stdout on a pipe (lines time-stamped as they arrive) and
    stderr in a file; returns a Result with the exit status, wall time, CPU
    time and peak resident set size (from wait4)."""
    res = Result()
    with tempfile.TemporaryFile() as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=fe, stdin=subprocess.DEVNULL,
                             cwd=cwd, start_new_session=True)
        box, chunks, stamps = [], [], {}

        def reader():
            for line in p.stdout:
                now = time.perf_counter()
                chunks.append(line)
                if line.startswith(b"bench ") and "start" not in stamps:
                    stamps["start"] = now
                elif line.startswith(b"checksum ") and "end" not in stamps:
                    stamps["end"] = now

        def waiter():
            _, st, ru = os.wait4(p.pid, 0)
            box.append((time.perf_counter(), st, ru))

        rd = threading.Thread(target=reader)
        wt = threading.Thread(target=waiter)
        rd.start()
        wt.start()
        wt.join(timeout)
        if wt.is_alive():
            res.timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            wt.join()
        rd.join(10)
        p.stdout.close()
        t1, st, ru = box[0]
        p.returncode = res.status = os.waitstatus_to_exitcode(st)
        res.wall = t1 - t0
        res.cpu = ru.ru_utime + ru.ru_stime
        res.maxrss_kb = ru.ru_maxrss
        res.out = b"".join(chunks).decode(errors="replace")
        fe.seek(0)
        res.err = fe.read().decode(errors="replace")
        if "start" in stamps and "end" in stamps:
            res.marks = stamps["end"] - stamps["start"]
    return res


def checksum(text):
    m = re.search(r"^checksum ([0-9a-f]{16})", text, re.M)
    return m.group(1) if m else None


def med(xs):
    return statistics.median(xs) if xs else None


def fmt_s(x):
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


def fmt_mips(x):
    if x is None:
        return "-"
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def span(xs):
    return f"{fmt_s(med(xs))} ({fmt_s(min(xs))}-{fmt_s(max(xs))})" if xs else "-"


class Series:
    """Measurements of one kernel on one engine over several runs."""

    def __init__(self):
        self.wall, self.marks, self.cpu, self.raw_wall, self.raw_cpu = [], [], [], [], []
        self.count = None        # swiftemu instruction count
        self.extra = ""


class Bench:
    def __init__(self, a):
        self.a = a
        self.refs = {}
        self.instr = {}          # workload -> swiftemu instruction count
        self.data = {}           # (kernel, engine) -> Series
        self.notes = []
        self.failed = False
        self.rss = []
        self.own = []

    def kernel(self, name):
        return os.path.join(self.a.dir, name + ".elf")

    def log(self, s):
        print(s, flush=True)

    def fail(self, s, r=None):
        self.failed = True
        self.log("  FAIL " + s)
        if r is not None:
            tail = (r.out[-500:] + "\n" + r.err[-500:]).strip()
            if tail:
                self.log("    " + tail.replace("\n", "\n    "))

    # ---- reference checksums ---------------------------------------------
    def host_reference(self):
        r = run([os.path.join(self.a.dir, "hostref")], 300)
        for line in r.out.splitlines():
            k, v = line.split()
            self.refs[k] = v
        if r.status != 0 or "int" not in self.refs or "mem" not in self.refs:
            sys.exit("bench/hostref failed")
        self.refs["irq"] = self.refs["int"]
        self.refs["null"] = self.refs["idle"] = "0" * 16
        self.log(f"reference checksums (native build of the workloads): int {self.refs['int']}, mem {self.refs['mem']}")

    def good(self, engine, k, r, want_status):
        c = checksum(r.out)
        if r.timed_out:
            self.fail(f"{engine} {k}: killed after the time limit", r)
            return False
        if want_status is not None and r.status != want_status:
            self.fail(f"{engine} {k}: exit status {r.status}, expected {want_status}", r)
            return False
        if c != self.refs.get(k):
            self.fail(f"{engine} {k}: checksum {c}, expected {self.refs.get(k)}", r)
            return False
        return True

    def derive(self, engine, k, s, null):
        """Startup-subtracted wall and CPU times from the raw ones."""
        if k == "null" or null is None:
            return
        if engine != "swiftemu":
            s.wall = [max(x - med(null.raw_wall), 1e-6) for x in s.raw_wall]
        s.cpu = [max(x - med(null.raw_cpu), 1e-6) for x in s.raw_cpu]

    def show(self, engine, k, s):
        if k == "null":
            self.log(f"  {engine:11s} null   startup: wall {span(s.raw_wall)} s, cpu {span(s.raw_cpu)} s")
            return
        n = f"  instructions {s.count}" if s.count else ""
        mk = f", markers {span(s.marks)} s" if s.marks else ""
        self.log(f"  {engine:11s} {k:5s}  wall {span(s.wall)} s{mk}, cpu {span(s.cpu)} s{n}{s.extra}")

    # ---- swiftemu ----------------------------------------------------------
    def swiftemu(self):
        emu = self.a.emu
        self.log("swiftemu: " + emu)
        null = None
        for k in KERNELS:
            s = Series()
            counts = []
            for _ in range(self.a.runs):
                r = run([emu, self.kernel(k), "headless", "--stats", "--ram", f"{RAM_MB}M", "--timeout", "100"], 300)
                if not self.good("swiftemu", k, r, 33):
                    break
                m = re.search(r"^instructions\s+(\d+)", r.err, re.M)
                h = re.search(r"^host time\s+([0-9.]+) s", r.err, re.M)
                if not m or not h:
                    self.fail(f"swiftemu {k}: no --stats summary on stderr", r)
                    break
                counts.append(int(m.group(1)))
                s.wall.append(float(h.group(1)))
                s.raw_wall.append(r.wall)
                s.raw_cpu.append(r.cpu)
                self.rss.append(r.maxrss_kb)
                hm = re.search(r"^host memory .*guest RAM resident ([0-9.]+) of [0-9.]+ MiB, emulator ([0-9.]+) MiB", r.err, re.M)
                if hm:
                    self.own.append((float(hm.group(2)), k, float(hm.group(1))))
            if not s.raw_wall:
                continue
            if len(set(counts)) > 1:
                self.notes.append(f"swiftemu {k}: instruction counts differ between runs: {sorted(set(counts))}")
            s.count = self.instr[k] = int(med(counts))
            if k == "null":
                null = s
            self.derive("swiftemu", k, s, null)
            self.data[(k, "swiftemu")] = s
            self.show("swiftemu", k, s)

        # The bundled guest idling for 10 virtual seconds.
        g = self.a.guest
        if not os.path.exists(g):
            self.log(f"  skip the bundled guest's idle run: {g} not built (make guest)")
            self.notes.append(f"bundled guest idle run skipped: {g} not built")
            return
        s = Series()
        for _ in range(self.a.runs):
            r = run([emu, g, "headless", "--stats", "--ram", f"{RAM_MB}M", "--timeout", "10"], 120)
            h = re.search(r"^host time\s+([0-9.]+) s", r.err, re.M)
            if r.status != 8 or not h:
                self.fail(f"swiftemu guest: exit status {r.status}, expected 8 (--timeout reached)", r)
                break
            s.wall.append(float(h.group(1)))
            s.raw_wall.append(r.wall)
            s.raw_cpu.append(r.cpu)
        if s.wall:
            self.derive("swiftemu", "guest", s, null)
            self.data[("guest", "swiftemu")] = s
            self.show("swiftemu", "guest", s)

    # ---- QEMU --------------------------------------------------------------
    def qemu(self):
        q = shutil.which("qemu-system-x86_64")
        if self.a.no_qemu or not q:
            self.log("QEMU: skipped" + ("" if q else " (qemu-system-x86_64 not installed)"))
            return
        self.log("QEMU: " + run([q, "--version"], 30).out.splitlines()[0])
        base = [q, "-display", "none", "-m", f"{RAM_MB}M", "-no-reboot", "-accel", "tcg",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-debugcon", "stdio"]
        for engine, extra in [("QEMU TCG", []), ("QEMU icount", ["-icount", "shift=0,sleep=off"])]:
            null = None
            for k in KERNELS:
                if k == "idle" and not extra:
                    continue     # without -icount the PIT follows the host clock: 10 s by design
                s = Series()
                for _ in range(self.a.runs):
                    r = run(base + extra + ["-kernel", self.kernel(k)], 300)
                    if not self.good(engine, k, r, 33):
                        break
                    s.raw_wall.append(r.wall)
                    s.raw_cpu.append(r.cpu)
                    if r.marks is not None:
                        s.marks.append(r.marks)
                if not s.raw_wall:
                    continue
                if k == "null":
                    null = s
                self.derive(engine, k, s, null)
                self.data[(k, engine)] = s
                self.show(engine, k, s)

    # ---- Bochs -------------------------------------------------------------
    def bochs(self):
        bx = shutil.which("bochs-bin") or shutil.which("bochs")
        missing = [t for t in ["grub-mkrescue", "xorriso", "mformat"] if not shutil.which(t)]
        bios = "/usr/share/bochs/BIOS-bochs-latest"
        vga = next((p for p in ["/usr/share/vgabios/vgabios.bin", "/usr/share/bochs/VGABIOS-lgpl-latest"]
                    if os.path.exists(p)), None)
        if self.a.no_bochs:
            self.log("Bochs: skipped")
            return
        if not bx or missing or not os.path.exists(bios) or not vga:
            self.log("Bochs: skipped (needs bochs, bochsbios, vgabios, grub-pc-bin, xorriso, mtools)")
            return
        self.log(f"Bochs: {bx}, kernels booted by GRUB from an ISO (clock: sync=none, ips=100M)")
        work = os.path.join(self.a.dir, "bochs")
        os.makedirs(work, exist_ok=True)
        with open(os.path.join(work, "rc"), "w") as f:
            f.write("continue\n")    # Debian's Bochs starts in its debugger
        null = None
        null_ticks = None
        for k in KERNELS:
            iso = self.make_iso(k, work)
            if not iso:
                return
            rcfile = os.path.join(work, k + ".bochsrc")
            with open(rcfile, "w") as f:
                f.write(f"""megs: {RAM_MB}
romimage: file={bios}
vgaromimage: file={vga}
cpu: model=corei7_sandy_bridge_2600k, ips=100000000
clock: sync=none, time0=1
display_library: rfb, options="timeout=0"
ata0-master: type=cdrom, path={iso}, status=inserted
boot: cdrom
port_e9_hack: enabled=1
sound: driver=dummy
speaker: enabled=0
mouse: enabled=0
log: {k}.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
""")
            s = Series()
            ticks = []
            for _ in range(self.a.bochs_runs):
                cmd = [bx] + (["-q"] if bx.endswith("bochs-bin") else []) + ["-f", rcfile, "-rc", "rc"]
                r = run(cmd, 300, cwd=work)
                # The kernel ends Bochs through its shutdown port (a "panic").
                if not self.good("Bochs", k, r, None):
                    break
                if "BENCH-END" not in r.out:
                    self.fail(f"Bochs {k}: no end marker", r)
                    break
                s.raw_wall.append(r.wall)
                s.raw_cpu.append(r.cpu)
                if r.marks is not None:
                    s.marks.append(r.marks)
                m = re.search(r"^\(0\)\.\[(\d+)\]", r.out, re.M)
                if m:
                    ticks.append(int(m.group(1)))
            if not s.raw_wall:
                continue
            if k == "null":
                null = s
                null_ticks = med(ticks) if ticks else None
            elif ticks and null_ticks is not None and k in WORKLOADS:
                s.extra = f"  (Bochs's own count: {int(med(ticks) - null_ticks)} instructions)"
            self.derive("Bochs", k, s, null)
            self.data[(k, "Bochs")] = s
            self.show("Bochs", k, s)

    def make_iso(self, k, work):
        elf = self.kernel(k)
        iso = os.path.join(work, k + ".iso")
        if os.path.exists(iso) and os.path.getmtime(iso) >= os.path.getmtime(elf):
            return iso
        stage = os.path.join(work, "iso-" + k)
        os.makedirs(os.path.join(stage, "boot", "grub"), exist_ok=True)
        shutil.copyfile(elf, os.path.join(stage, "boot", "kernel.elf"))
        with open(os.path.join(stage, "boot", "grub", "grub.cfg"), "w") as f:
            f.write('set timeout=0\nset default=0\nmenuentry "bench" {\n  multiboot /boot/kernel.elf\n  boot\n}\n')
        r = run(["grub-mkrescue", "--install-modules=multiboot normal configfile iso9660 biosdisk",
                 "--fonts=", "--locales=", "--themes=", "-o", iso, stage], 120)
        if r.status != 0:
            self.fail("Bochs: grub-mkrescue failed", r)
            return None
        return iso

    # ---- report ------------------------------------------------------------
    def report(self):
        L = []
        L.append(f"date: {datetime.date.today().isoformat()}; host: {cpu_model()}, {os.cpu_count()} CPUs; "
                 f"load average at the end: {os.getloadavg()[0]:.2f}; runs per figure: {self.a.runs} "
                 f"(Bochs {self.a.bochs_runs}); guest RAM {RAM_MB} MiB")
        L.append("")
        L.append("MIPS = swiftemu's instruction count / host seconds; speed = that engine's MIPS / swiftemu's MIPS "
                 "(above 1: faster than swiftemu). Medians, spread (min-max) in parentheses.")
        L.append("")
        L.append("| workload | engine | wall s | MIPS (wall) | speed (wall) | markers s | cpu s | MIPS (cpu) | speed (cpu) |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for k in WORKLOADS:
            n = self.instr.get(k)
            sw = self.data.get((k, "swiftemu"))
            if not n or not sw:
                continue
            for e in ENGINES:
                s = self.data.get((k, e))
                if not s:
                    continue

                def mips(xs):
                    return f"{fmt_mips(n / med(xs) / 1e6)} ({fmt_mips(n / max(xs) / 1e6)}-{fmt_mips(n / min(xs) / 1e6)})"

                speed_w = f"{med(sw.wall) / med(s.wall):.2f}"
                speed_c = f"{med(sw.cpu) / med(s.cpu):.2f}"
                L.append(f"| {k} ({n} insns) | {e} | {span(s.wall)} | {mips(s.wall)} | {speed_w} | "
                         f"{span(s.marks)} | {span(s.cpu)} | {mips(s.cpu)} | {speed_c} |")
        L.append("")
        L.append("Idle: 10 virtual seconds in `hlt` with the PIT at 1000 Hz (target for swiftemu: < 0.1 s wall).")
        L.append("")
        L.append("| kernel | engine | wall s | markers s | cpu s | process start-to-exit s |")
        L.append("|---|---|---:|---:|---:|---:|")
        for k, label in [("idle", "bench idle kernel"), ("guest", "bundled guest, --timeout 10")]:
            for e in ENGINES:
                s = self.data.get((k, e))
                if s:
                    L.append(f"| {label} | {e} | {span(s.wall)} | {span(s.marks)} | {span(s.cpu)} | {fmt_s(med(s.raw_wall))} |")
            if k == "idle" and ("idle", "QEMU icount") in self.data:
                L.append("| bench idle kernel | QEMU TCG | not run: without -icount the PIT follows the host clock (10 s) | | | |")
        L.append("")
        for e in ENGINES:
            s = self.data.get(("null", e))
            if s:
                L.append(f"- startup ({e}, null kernel, start to exit): wall {span(s.raw_wall)} s, cpu {span(s.raw_cpu)} s")
        if self.rss:
            # Guest RAM is committed only where the guest touches it, so the
            # emulator's own memory is the peak RSS minus the resident part of
            # guest RAM (both from swiftemu's --stats "host memory" line).
            line = (f"- swiftemu peak resident memory with --ram {RAM_MB}M: {max(self.rss) // 1024} MiB "
                    f"(lowest run {min(self.rss) // 1024} MiB)")
            if self.own:
                worst = max(self.own)
                line += (f"; the emulator's own memory beyond resident guest RAM: at most {worst[0]:.1f} MiB "
                         f"({worst[1]}, guest RAM resident {worst[2]:.1f} MiB)")
            L.append(line)
        for n in self.notes:
            L.append("- note: " + n)
        text = "\n".join(L)
        print("\n" + text)
        if self.a.markdown:
            with open(self.a.markdown, "w") as f:
                f.write(text + "\n")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--emu", default=".build/release/swiftemu", help="swiftemu binary")
    p.add_argument("--dir", default="build/bench", help="directory of the built benchmark kernels")
    p.add_argument("--guest", default="build/guest/guest.elf", help="the bundled guest kernel")
    p.add_argument("--runs", type=int, default=5, help="runs per kernel and engine (default 5)")
    p.add_argument("--bochs-runs", type=int, default=3, help="runs per kernel on Bochs (default 3)")
    p.add_argument("--no-qemu", action="store_true", help="do not run QEMU even if installed")
    p.add_argument("--no-bochs", action="store_true", help="do not run Bochs even if installed")
    p.add_argument("--markdown", help="also write the result tables to this file")
    a = p.parse_args()
    a.dir = os.path.abspath(a.dir)
    if not os.path.exists(a.emu):
        sys.exit(f"{a.emu} not built (make build)")
    for k in KERNELS + ["hostref"]:
        f = os.path.join(a.dir, k if k == "hostref" else k + ".elf")
        if not os.path.exists(f):
            sys.exit(f"{f} missing (make -C bench)")
    b = Bench(a)
    t0 = time.time()
    b.host_reference()
    b.swiftemu()
    b.qemu()
    b.bochs()
    b.report()
    print(f"\nbenchmark took {time.time() - t0:.0f} s")
    sys.exit(1 if b.failed else 0)


if __name__ == "__main__":
    main()
