#!/bin/sh
# SPDX-License-Identifier: MIT
# bearssl-source.sh DIR: puts Debian's BearSSL source, unpacked, in DIR/bearssl,
# for the bootloader's signature check (firmware/crypto/).
#
# The source comes through apt from the mirrors this machine is already
# configured with, so nothing of BearSSL's is kept in this repository and no
# host name is written into it. A stock Debian 12 has no deb-src entries, and
# the system's apt configuration is not ours to edit: this script derives a
# deb-src entry from every deb entry of /etc/apt/sources.list,
# /etc/apt/sources.list.d/*.list and *.sources (deb822), and runs apt-get with
# a private configuration under DIR/apt (source lists, package lists, cache).
# The system's trusted keys stay in force, so the Release files are checked
# as for any install, and the .dsc and tarballs against their hashes.
#
# Needs no root; network access to the configured mirror on the first run.
# Idempotent: once DIR/bearssl is unpacked it only prints the version.
# Prints "bearssl VERSION DIR/bearssl" on success.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd)
src="$dir/bearssl"
stamp="$dir/bearssl.version"

# The stamp is written last, so an interrupted run is redone rather than
# leaving a half-unpacked tree that looks finished.
if [ -f "$stamp" ] && [ -d "$src" ]; then
    echo "bearssl $(cat "$stamp") $src"
    exit 0
fi

apt="$dir/apt"
rm -rf "$apt" "$src"
mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/dl"

# One-line format: "deb [options] URI SUITE COMPONENT..." becomes
# "deb-src [options] URI SUITE COMPONENT...", options (signed-by) kept.
oneline() {
    sed -n 's/^[[:space:]]*deb[[:space:]]\{1,\}/deb-src /p' "$1"
}

# deb822: a stanza whose Types include "deb" is copied with
# "Types: deb-src"; any other stanza (deb-src only, comments) is dropped.
# Continuation lines (a multi-line Signed-By key) go with their stanza.
deb822() {
    awk '
        function flush() {
            if (keep && body != "")
                printf "%s\n", body
            body = ""; keep = 0
        }
        /^[[:space:]]*$/ { flush(); next }
        /^#/ { next }
        tolower($1) == "types:" {
            for (i = 2; i <= NF; i++)
                if ($i == "deb")
                    keep = 1
            body = body "Types: deb-src\n"
            next
        }
        { body = body $0 "\n" }
        END { flush() }
    ' "$1"
}

: >"$apt/sources.list"
if [ -f /etc/apt/sources.list ]; then
    oneline /etc/apt/sources.list >>"$apt/sources.list"
fi
for f in /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && oneline "$f" >>"$apt/sources.list"
done
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && deb822 "$f" >"$apt/sources.list.d/$(basename "$f")"
done
if ! grep -qs '^deb-src' "$apt/sources.list" &&
    ! grep -qs '^Types: deb-src' "$apt/sources.list.d"/*.sources; then
    echo "$0: no deb entry in /etc/apt/sources.list{,.d}: nothing to derive deb-src from" >&2
    exit 1
fi

# Only the source lists, package lists and cache move; the trusted keys
# (Dir::Etc::trusted, trustedparts) and the rest of /etc/apt stay the
# system's. Dir::State::status is read only; nothing is installed.
set -- -o "Dir::Etc::sourcelist=$apt/sources.list" \
    -o "Dir::Etc::sourceparts=$apt/sources.list.d" \
    -o "Dir::State::Lists=$apt/lists" \
    -o "Dir::Cache=$apt/cache"
# As root, apt fetches as its unprivileged _apt user: let that user write
# where the source lands (apt sees to lists/partial itself).
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
    chown _apt "$apt/dl"
fi
apt-get "$@" -q update
(cd "$apt/dl" && apt-get "$@" -q source --download-only bearssl)

dsc=$(ls "$apt/dl"/bearssl_*.dsc)
# The .dsc has been checked by apt against the signed Sources index;
# dpkg-source checks the tarballs against the .dsc. Its own signature check
# needs debian-keyring, which need not be installed: apt's check suffices.
dpkg-source --no-copy -x "$dsc" "$src" >/dev/null
version=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' "$src/debian/changelog")
echo "$version" >"$stamp"
echo "bearssl $version $src"
