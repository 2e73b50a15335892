#!/bin/sh
# Builds otad twice (plain, and with AddressSanitizer + UndefinedBehaviorSanitizer)
# and runs every test suite in both. Prints "N passed, N failed" at the end.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh

run_suite() {
    dir=$1
    shift
    [ -d "$dir" ] || meson setup "$dir" -Dwerror=true "$@"
    meson compile -C "$dir"
    meson test -C "$dir" --print-errorlogs --num-processes 2 || true
}

run_suite build
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false

# The summary counts both builds; any failure fails the run.
python3 scripts/summary.py build/meson-logs/testlog.json build-asan/meson-logs/testlog.json
