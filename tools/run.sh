#!/usr/bin/env bash
# Runs the bundled guest: in a window when a display exists, else in the terminal.
set -eu
bin=$1; shift
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$bin" "$@"
else
  exec "$bin" "$@" terminal
fi
