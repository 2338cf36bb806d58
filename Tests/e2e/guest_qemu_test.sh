#!/usr/bin/env bash
# Builds the bundled guest kernel and runs its self-test mode under QEMU:
#   qemu-system-x86_64 -kernel build/guest/guest.elf -append test ...
# Passes when COM1 shows "<N> passed, 0 failed", no FAIL line, and QEMU exits
# with status 1 (the guest wrote 0 to isa-debug-exit: (0 << 1) | 1).
# Skips (exit 0) when qemu-system-x86_64 is not installed.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build/guest"
qemu=${QEMU:-qemu-system-x86_64}

if ! command -v "$qemu" >/dev/null 2>&1; then
    echo "SKIP: $qemu not found; the guest kernel was not run under QEMU"
    exit 0
fi

make -s -C "$root/guest" OUT="$out" || { echo "FAIL: guest build failed"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout 180 "$qemu" -kernel "$out/guest.elf" -append test \
    -display none -serial "file:$log" -monitor none \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04
status=$?

summary=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
fails=$(grep -ac '^FAIL ' "$log")
oks=$(grep -ac '^ok ' "$log")

if [ "$status" -eq 1 ] && [ "$fails" -eq 0 ] && echo "$summary" | grep -qE '^[0-9]+ passed, 0 failed'; then
    echo "PASS: guest self-test under QEMU: $summary ($oks ok lines)"
    exit 0
fi

echo "FAIL: guest self-test under QEMU (exit status $status, expected 1; summary: '${summary:-none}')"
echo "----- COM1 -----"
cat "$log"
exit 1
