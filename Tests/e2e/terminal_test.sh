#!/usr/bin/env bash
# End-to-end test of the terminal frontend inside tmux: starts
# `swiftemu <kernel> terminal`, types a line with tmux send-keys, reads the
# screen with capture-pane, checks the line and the status line are there,
# measures idle CPU, quits with Ctrl+] and checks the exit status is 0 and the
# terminal is back in canonical mode with echo.
#
# Usage: Tests/e2e/terminal_test.sh [kernel] [swiftemu binary]
# Defaults: Tests/e2e/kbd_echo.S (built here) and .build/release/swiftemu.
set -euo pipefail
cd "$(dirname "$0")/../.."
KERNEL=${1:-}
BIN=${2:-.build/release/swiftemu}
OUT=${E2E_OUT:-build/e2e-terminal}
TEXT=${E2E_TEXT:-Typed in tmux: A-Z ok?}
MAX_IDLE_CPU_PERCENT=${E2E_MAX_IDLE_CPU:-5}
command -v tmux >/dev/null || { echo "SKIP: tmux not installed"; exit 0; }
[ -x "$BIN" ] || { echo "FAIL: no emulator binary at $BIN (make build)"; exit 1; }
mkdir -p "$OUT"
if [ -z "$KERNEL" ]; then
  KERNEL=$OUT/kbd_echo.elf
  clang -target i386-unknown-none-elf -ffreestanding -nostdlib -c -I Tests/Kernels \
    -o "$OUT/kbd_echo.o" Tests/e2e/kbd_echo.S
  ld.lld -m elf_i386 -T Tests/Kernels/linker.ld -o "$KERNEL" "$OUT/kbd_echo.o"
fi
SOCK="swiftemu-e2e-$$"
T="tmux -L $SOCK"
cleanup() { $T kill-server 2>/dev/null || true; }
trap cleanup EXIT
ABS_BIN=$(realpath "$BIN"); ABS_KERNEL=$(realpath "$KERNEL")
rm -f "$OUT/status"
$T new-session -d -s e2e -x 100 -y 30 \
  "'$ABS_BIN' '$ABS_KERNEL' terminal 2>'$OUT/stderr.log'; echo \$? >'$OUT/status'; stty -a >'$OUT/stty.txt'; sleep 30"
sleep "${E2E_BOOT_SECONDS:-2}"
SH=$($T display -p -t e2e "#{pane_pid}")
PID=$(pgrep -P "$SH" swiftemu || true)
[ -n "$PID" ] || { echo "FAIL: emulator not running"; cat "$OUT/stderr.log"; exit 1; }

HZ=$(getconf CLK_TCK)
t0=$(awk '{print $14 + $15}' "/proc/$PID/stat"); sleep 10; t1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
IDLE_CPU=$(awk -v d=$((t1 - t0)) -v hz="$HZ" 'BEGIN { printf "%.2f", d / hz / 10 * 100 }')
echo "idle guest: emulator used ${IDLE_CPU}% of one core over 10 s"

$T send-keys -t e2e -l "$TEXT"
$T send-keys -t e2e Enter
sleep 1.5
$T capture-pane -t e2e -p >"$OUT/screen.txt"
$T send-keys -t e2e C-]
for _ in $(seq 50); do [ -s "$OUT/status" ] && break; sleep 0.1; done

FAIL=0
echo "--- screen ---"; head -27 "$OUT/screen.txt"; echo "---"
grep -qF -- "$TEXT" "$OUT/screen.txt" || { echo "FAIL: typed text not on the screen"; FAIL=1; }
grep -qF -- "Ctrl+] quits" "$OUT/screen.txt" || { echo "FAIL: no status line"; FAIL=1; }
STATUS=$(cat "$OUT/status" 2>/dev/null || echo none)
[ "$STATUS" = 0 ] || { echo "FAIL: exit status $STATUS after Ctrl+] (want 0)"; FAIL=1; }
grep -qE '(^| )icanon( |$)' "$OUT/stty.txt" && grep -qE '(^| )echo( |$)' "$OUT/stty.txt" \
  || { echo "FAIL: terminal modes not restored"; FAIL=1; }
if awk -v c="$IDLE_CPU" -v m="$MAX_IDLE_CPU_PERCENT" 'BEGIN { exit !(c > m) }'; then
  echo "FAIL: idle CPU ${IDLE_CPU}% above ${MAX_IDLE_CPU_PERCENT}%"; FAIL=1
fi
if [ $FAIL -ne 0 ]; then cat "$OUT/stderr.log"; echo "0 passed, 1 failed"; exit 1; fi
echo "1 passed, 0 failed"
