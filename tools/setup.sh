#!/usr/bin/env bash
# Installs what swiftemu needs on Debian 12 (run as root) or prints the command.
# Usage: tools/setup.sh [run|test|bench]
set -euo pipefail
what=${1:-run}
pkgs=(libsdl2-dev pkg-config)
if [ "$what" = test ]; then
  # xvfb/xdotool/x11-apps: window end-to-end test; tmux: terminal test; qemu: cross-checks.
  pkgs+=(xvfb xdotool x11-apps tmux qemu-system-x86 gdb)
fi
if [ "$what" = bench ]; then
  # The engines make bench compares with: QEMU, and Bochs booting the
  # kernels through a GRUB ISO.
  pkgs+=(python3 qemu-system-x86 bochs bochsbios vgabios grub-pc-bin xorriso mtools)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v swift >/dev/null; then
  echo "swiftemu needs the Swift 6.3 toolchain on PATH (swift, swiftc, clang, ld.lld)." >&2
  exit 1
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing packages: ${missing[*]}" >&2
  echo "Run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
dpkg --configure -a >/dev/null 2>&1 || true
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
