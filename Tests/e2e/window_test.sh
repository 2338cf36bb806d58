#!/usr/bin/env bash
# End-to-end test of the SDL window under a virtual X server:
#  1. starts `swiftemu <kernel> window` on a private Xvfb display,
#  2. types a line into the window with xdotool (real X key events, which
#     SDL turns into scancodes and the emulator into PS/2 keys),
#  3. takes a screenshot with the emulator's own host key (Ctrl+Alt+S) and
#     reads the text back from it cell by cell against the font's glyphs
#     (screen_text.py), checking the typed line is on the guest's screen,
#  4. measures the host CPU time the window costs while the guest idles in
#     hlt, and checks it stays small,
#  5. stops the emulator with SIGTERM (SDL turns it into a quit) and expects
#     exit status 0.
# Also keeps an X root-window capture (root.xwd) for a person to look at.
#
# Usage: Tests/e2e/window_test.sh [kernel] [swiftemu binary]
# Defaults: Tests/e2e/kbd_echo.S (built here with clang and ld.lld: echoes
# typed keys on the screen, idles in hlt) and .build/release/swiftemu.
# Needs: Xvfb, xdotool, xwd (tools/setup.sh test installs them), python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
KERNEL=${1:-}
BIN=${2:-.build/release/swiftemu}
OUT=${E2E_OUT:-build/e2e-window}
mkdir -p "$OUT"
if [ -z "$KERNEL" ]; then
  KERNEL=$OUT/kbd_echo.elf
  clang -target i386-unknown-none-elf -ffreestanding -nostdlib -c -I Tests/Kernels \
    -o "$OUT/kbd_echo.o" Tests/e2e/kbd_echo.S
  ld.lld -m elf_i386 -T Tests/Kernels/linker.ld -o "$KERNEL" "$OUT/kbd_echo.o"
fi
TEXT=${E2E_TEXT:-Hello from xdotool, 42!}
MAX_IDLE_CPU_PERCENT=${E2E_MAX_IDLE_CPU:-5}

for tool in Xvfb xdotool python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (tools/setup.sh test)"; exit 0; }
done
[ -x "$BIN" ] || { echo "FAIL: no emulator binary at $BIN (make build)"; exit 1; }
[ -f "$KERNEL" ] || { echo "FAIL: no kernel at $KERNEL"; exit 1; }

rm -f "$OUT"/swiftemu-*.png
XVFB_PID=""; EMU_PID=""
cleanup() {
  [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null || true
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
}
trap cleanup EXIT

# A free display number.
for n in $(seq 90 140); do
  if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then DISPLAY_NUM=$n; break; fi
done
Xvfb ":$DISPLAY_NUM" -screen 0 1600x1000x24 -nolisten tcp >"$OUT/xvfb.log" 2>&1 &
XVFB_PID=$!
export DISPLAY=":$DISPLAY_NUM"
unset WAYLAND_DISPLAY
for _ in $(seq 50); do xdotool getmouselocation >/dev/null 2>&1 && break; sleep 0.1; done

ABS_BIN=$(realpath "$BIN"); ABS_KERNEL=$(realpath "$KERNEL")
( cd "$OUT" && exec "$ABS_BIN" "$ABS_KERNEL" window ) >"$OUT/emulator.log" 2>&1 &
EMU_PID=$!

WID=""
for _ in $(seq 300); do
  WID=$(xdotool search --pid "$EMU_PID" 2>/dev/null | head -1 || true)
  [ -n "$WID" ] && break
  kill -0 "$EMU_PID" 2>/dev/null || { echo "FAIL: emulator exited early"; cat "$OUT/emulator.log"; exit 1; }
  sleep 0.1
done
[ -n "$WID" ] || { echo "FAIL: no window appeared"; cat "$OUT/emulator.log"; exit 1; }
xdotool windowfocus "$WID" 2>/dev/null || true

# Let the guest boot and reach its prompt (it idles in hlt there).
sleep "${E2E_BOOT_SECONDS:-3}"

# Idle CPU: utime + stime of the emulator over 10 s, in clock ticks.
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$EMU_PID/stat"; }
t0=$(ticks); sleep 10; t1=$(ticks)
IDLE_CPU=$(awk -v d=$((t1 - t0)) -v hz="$HZ" 'BEGIN { printf "%.2f", d / hz / 10 * 100 }')
echo "idle guest: emulator used ${IDLE_CPU}% of one core over 10 s"

xdotool type --delay 40 "$TEXT"
xdotool key Return
sleep 1.5
xdotool key ctrl+alt+s
for _ in $(seq 50); do ls "$OUT"/swiftemu-*.png >/dev/null 2>&1 && break; sleep 0.1; done
SHOT=$(ls "$OUT"/swiftemu-*.png 2>/dev/null | head -1 || true)
command -v xwd >/dev/null && xwd -root -silent >"$OUT/root.xwd" || true
TITLE=$(xdotool getwindowname "$WID" 2>/dev/null || true)

# Quit: SDL turns SIGTERM into a quit event (SIGINT is ignored by background jobs).
kill -TERM "$EMU_PID"
STATUS=0
wait "$EMU_PID" || STATUS=$?
EMU_PID=""

FAIL=0
if [ -z "$SHOT" ]; then
  echo "FAIL: Ctrl+Alt+S wrote no screenshot"; FAIL=1
else
  python3 Tests/e2e/screen_text.py "$SHOT" >"$OUT/screen.txt"
  echo "--- screen (read back from $SHOT) ---"; cat "$OUT/screen.txt"; echo "---"
  if grep -qF -- "$TEXT" "$OUT/screen.txt"; then
    echo "ok: typed text is on the screen"
  else
    echo "FAIL: typed text \"$TEXT\" not found on the screen"; FAIL=1
  fi
fi
echo "window title: $TITLE"
if [ "$STATUS" -ne 0 ]; then echo "FAIL: exit status $STATUS after SIGTERM (want 0)"; FAIL=1; fi
if awk -v c="$IDLE_CPU" -v m="$MAX_IDLE_CPU_PERCENT" 'BEGIN { exit !(c > m) }'; then
  echo "FAIL: idle CPU ${IDLE_CPU}% above ${MAX_IDLE_CPU_PERCENT}%"; FAIL=1
fi
if [ $FAIL -ne 0 ]; then cat "$OUT/emulator.log"; echo "0 passed, 1 failed"; exit 1; fi
echo "1 passed, 0 failed"
