#!/usr/bin/env bash
# Runs swiftemu (by default the bundled guest): in a window when a display
# exists, else in the terminal. Arguments that name a mode are left alone.
set -eu
bin=$1; shift
for a in "$@"; do
  case $a in
    window|headless|debug|terminal|timeline) exec "$bin" "$@" ;;
  esac
done
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$bin" "$@"
else
  exec "$bin" "$@" terminal
fi
