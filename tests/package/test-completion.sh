#!/bin/bash
# SPDX-License-Identifier: MIT
# test-completion.sh SRCDIR: loads bash-completion and each completion file
# of SRCDIR/completion as an interactive shell would, completes a few
# command lines and compares the candidates with the options the commands
# take (written out here, as otad(8), otaget(1) and otasign(1) list them).
set -u
src=$1
# shellcheck disable=SC1091
. /usr/share/bash-completion/bash_completion || exit 1
for f in otad otaget otasign; do
    # shellcheck disable=SC1090
    . "$src/completion/$f" || exit 1
done

fails=0
# expect "WANTED CANDIDATES" COMMAND WORD...: completes the last word.
expect() {
    local want=$1 fn
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    fn=$(complete -p "$1" | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
    "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    local got
    got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
    # shellcheck disable=SC2086 # one candidate a word
    want=$(printf '%s\n' $want | sort | tr '\n' ' ')
    if [ "$got" = "$want" ]; then
        echo "ok: $*"
    else
        echo "FAIL: $*: got [$got], want [$want]"
        fails=$((fails + 1))
    fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/fw" "$tmp/fx"
: >"$tmp/a.yaml"
: >"$tmp/a.txt"
: >"$tmp/k.pub"
: >"$tmp/app.bin"
cd "$tmp" || exit 1

expect "--check-config --config" otad --c
expect "--firmware-dir" otad --f
expect "fw fx" otad --firmware-dir f
expect "a.yaml" otad --config a
expect "export" otad e
expect "--out" otad export --o
expect "fw fx" otad export --out f
expect "--delay --device-id" otaget --de
expect "--pub" otaget --p
expect "k.pub" otaget --pub k
expect "keygen" otasign k
expect "sign" otasign s
expect "--key" otasign sign --
expect "--pub" otasign verify --
expect "app.bin" otasign sign --key k.pub a

echo "$fails of 12 completions wrong"
[ "$fails" = 0 ]
