#!/bin/sh
# SPDX-License-Identifier: MIT
# Test hook: builds the STM32F4 bootloader and example application of both
# layouts into BUILD_DIR (f401) and BUILD_DIR/f405; fails if either does not
# build or either bootloader is over its 32 KiB (the Makefile checks and
# prints each size).
set -eu
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
build=$(cd "$1" && pwd) # make -C would read a relative path from $here
if ! command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    echo "arm-none-eabi-gcc not found: scripts/deps.sh installs it" >&2
    exit 1
fi
# With signatures required (the default) and two keys: the largest build.
keys="$here/../../../tests/unit/sign/a.pub $here/../../../tests/unit/sign/b.pub"
for layout in f401 f405; do
    make -C "$here" --no-print-directory BUILD="$build" LAYOUT="$layout" KEYS="$keys"
done
