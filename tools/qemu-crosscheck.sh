#!/usr/bin/env bash
# Runs the repo's test kernels (and the bundled guest's test mode) under
# qemu-system-x86_64 and under swiftemu, and compares stdout byte for byte and
# the exit status. Usage: tools/qemu-crosscheck.sh [SWIFTEMU]
set -u
cd "$(dirname "$0")/.."
emu=${1:-.build/release/swiftemu}
if ! command -v qemu-system-x86_64 >/dev/null; then
  echo "SKIP: qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
  exit 0
fi
make -s kernels guest >/dev/null || exit 1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
check() { # name kernel append [filter]
  local name=$1 k=$2 app=$3 filter=${4:-cat}
  [ -f "$k" ] || { echo "skip $name: $k not built"; return; }
  local qargs=(-kernel "$k" -display none -m 128M -no-reboot
    -chardev stdio,id=out,mux=on -device isa-debugcon,chardev=out -serial chardev:out
    -device isa-debug-exit,iobase=0xf4,iosize=0x04)
  local eargs=("$k" headless --timeout 60)
  if [ -n "$app" ]; then qargs+=(-append "$app"); eargs+=(--append "$app"); fi
  timeout 120 "$emu" "${eargs[@]}" </dev/null >"$tmp/e" 2>"$tmp/ee"; local es=$?
  # A filter drops lines that describe the host machine rather than the
  # test (the guest's "# " information lines: loader name, wall-clock date).
  $filter <"$tmp/e" >"$tmp/ef"; mv "$tmp/ef" "$tmp/e"
  # QEMU's timers follow the host clock, so a loaded host can make it drop
  # timer ticks: on a mismatch QEMU gets a second try.
  local qs try
  for try in 1 2; do
    timeout 120 qemu-system-x86_64 "${qargs[@]}" </dev/null >"$tmp/q" 2>"$tmp/qe"; qs=$?
    $filter <"$tmp/q" >"$tmp/qf"; mv "$tmp/qf" "$tmp/q"
    if cmp -s "$tmp/q" "$tmp/e" && [ $qs = $es ]; then break; fi
  done
  if cmp -s "$tmp/q" "$tmp/e" && [ $qs = $es ]; then
    echo "same   $name (status $qs, $(wc -c <"$tmp/q") bytes)"; pass=$((pass+1))
  else
    echo "DIFFER $name: qemu status $qs, swiftemu status $es"; diff "$tmp/q" "$tmp/e" | head -20
    fail=$((fail+1))
  fi
}
check hello build/kernels/hello.elf ""
check mbinfo build/kernels/mbinfo.elf "a b=c"
check com1 build/kernels/com1.elf ""
check kludge build/kernels/kludge.bin ""
check irq_pit build/kernels/irq_pit.elf ""
check lock build/kernels/lock.elf ""
drop_info() { grep -v '^# '; }
check guest-test build/guest/guest.elf "test" drop_info
echo "$pass passed, $fail failed"
[ $fail = 0 ]
