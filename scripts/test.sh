#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds otad three times (plain; AddressSanitizer + UndefinedBehaviorSanitizer;
# ThreadSanitizer) and runs every test suite in each, then builds the fuzz
# targets with clang and runs each for a bounded time. Prints one
# "N passed, N failed" line at the end and fails if any test failed.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh

# run_suite DIR "MESON TEST ARGS" [MESON SETUP ARGS...]
run_suite() {
    dir=$1
    test_args=$2
    shift 2
    [ -d "$dir" ] || meson setup "$dir" -Dwerror=true "$@"
    meson compile -C "$dir"
    # shellcheck disable=SC2086
    meson test -C "$dir" --print-errorlogs --num-processes 2 $test_args || true
}

run_suite build ""
# The QEMU suite tests the device side end to end, the bench suite runs
# each benchmark briefly to keep it working, the package suite builds
# the Debian packages, and the arm suite builds and runs the STM32F4
# bootloader; they run once, in the plain build (the sanitizers watch
# host code, which the other suites exercise).
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan "--no-suite qemu --no-suite bench --no-suite package --no-suite arm" \
    -Db_sanitize=address,undefined -Db_lundef=false
# The stress test swaps images under many client threads: here every data
# race in otad's own code is reported (and fails the test). The firmware
# core is single-threaded, so its suite is left to the other builds.
TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1 \
    run_suite build-tsan "--no-suite qemu --no-suite bench --no-suite package --no-suite arm --no-suite firmware" \
    -Db_sanitize=thread -Db_lundef=false

# Every parser's libFuzzer target, FUZZ_SECONDS (here 30 unless set) each
# from its seed corpus: any crash, sanitizer report, leak or timeout fails
# the run. 30 s keeps the whole run within its time on two cores; the seed
# corpora carry what longer runs found.
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
export FUZZ_SECONDS
CC=clang run_suite build-fuzz "--suite fuzz" -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false

python3 scripts/summary.py build/meson-logs/testlog.json \
    build-asan/meson-logs/testlog.json build-tsan/meson-logs/testlog.json \
    build-fuzz/meson-logs/testlog.json
