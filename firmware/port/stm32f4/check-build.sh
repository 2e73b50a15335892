#!/bin/sh
# Test hook: builds the STM32F4 bootloader and example application into
# BUILD_DIR; fails if either does not build or the bootloader is over its
# 32 KiB (the Makefile checks both).
set -eu
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
build=$(cd "$1" && pwd) # make -C would read a relative path from $here
if ! command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    echo "arm-none-eabi-gcc not found: scripts/deps.sh installs it" >&2
    exit 1
fi
exec make -C "$here" --no-print-directory BUILD="$build"
