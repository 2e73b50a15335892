#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what otad needs to build and test on Debian 12 (run as root).
# The single list of dependencies: the demo and the test scripts call this.
set -eu
packages="meson ninja-build pkg-config gcc libc6-dev libmicrohttpd-dev zlib1g-dev
libyaml-dev libcmocka-dev libgnutls28-dev python3 curl openssl
gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
nginx wrk python3-flask python3-cryptography valgrind clang libclang-rt-14-dev
libsqlite3-dev sqlite3 libjansson-dev python3-prometheus-client libsystemd-dev
debhelper lintian bash-completion systemd procps"
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
