#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds otad and runs it in the foreground on the bundled demo firmware
# directory at http://127.0.0.1:8000 (Ctrl-C stops it). Installs only the
# build dependencies (scripts/deps.sh build) and enables no service.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
[ -d build ] || meson setup build
meson compile -C build
exec build/otad --config /dev/null --firmware-dir demo --bind 127.0.0.1 --port 8000
