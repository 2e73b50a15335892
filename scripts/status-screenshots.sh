#!/bin/sh
# SPDX-License-Identifier: MIT
# status-screenshots.sh [DIR]: the status page's screenshots, as README.md
# shows them: runs the browser test (tests/integration/34-status-page.py)
# against build/ and keeps its two PNGs in DIR (default docs/):
# status.png at 1280x800 and status-narrow.png at 390x844 (scrolled to the
# devices). Needs the test set of scripts/deps.sh (chromium,
# python3-websocket).
set -eu
cd "$(dirname "$0")/.."
dir=$(realpath "${1:-docs}")
[ -d build ] || meson setup build
meson compile -C build
STATUS_SCREENSHOTS=$dir OTAD=$PWD/build/otad OTAGET=$PWD/build/firmware/otaget \
    /usr/bin/python3 tests/integration/34-status-page.py
ls -l "$dir/status.png" "$dir/status-narrow.png"
