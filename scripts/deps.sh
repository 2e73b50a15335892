#!/bin/sh
# SPDX-License-Identifier: MIT
# deps.sh [--list] [build|test]: installs otad's dependencies on Debian 12
# (run as root); --list prints the packages of the set instead, one a line.
# The single list of dependencies: the demo and the test scripts call this.
#   build  what building otad (daemon, otaget, unit tests) and running it
#          needs, plus curl, xxd and python3 for the README's examples
#   test   the build set and the test tools: the ARM compiler and QEMU,
#          nginx, wrk, valgrind, clang, the Python test libraries, headless
#          Chromium for the status page's test (the default)
set -eu
build="meson ninja-build pkg-config gcc libc6-dev make dpkg-dev
libmicrohttpd-dev zlib1g-dev libyaml-dev libcmocka-dev libgnutls28-dev
libsqlite3-dev libjansson-dev libsystemd-dev systemd libcurl4-gnutls-dev curl xxd
libisal-dev
python3"
test="gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi
qemu-system-arm nginx wrk python3-flask python3-cryptography
python3-prometheus-client valgrind clang libclang-rt-14-dev sqlite3 openssl
debhelper lintian bash-completion procps
chromium python3-websocket fonts-dejavu-core"
list=no
if [ "${1:-}" = --list ]; then
    list=yes
    shift
fi
case "${1:-test}" in
    build) packages=$build ;;
    test) packages="$build $test" ;;
    *) echo "usage: $0 [--list] [build|test]" >&2; exit 2 ;;
esac
if [ $list = yes ]; then
    # shellcheck disable=SC2086
    printf '%s\n' $packages
    exit 0
fi
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing
fi
