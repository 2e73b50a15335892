#!/bin/sh
# SPDX-License-Identifier: MIT
# test-licence.sh SRCDIR: LICENSE holds the MIT licence that meson.build
# declares, and every source file of ours names it in an SPDX line within
# its first three lines (after a shebang or tbl's '\" t). Test vectors,
# fuzz seeds and other data carry none.
set -u
cd "$1" || exit 1
fails=0
grep -q "^  license : 'MIT',$" meson.build || { echo "FAIL: meson.build declares no MIT licence"; fails=1; }
head -n 1 LICENSE | grep -qx 'MIT License' &&
    grep -q '^Permission is hereby granted, free of charge, to any person obtaining a copy$' LICENSE ||
    { echo "FAIL: LICENSE is not the MIT licence"; fails=1; }

if git rev-parse --git-dir >/dev/null 2>&1; then
    files=$(git ls-files)
else
    files=$(find . -path ./.git -prune -o -path './build*' -prune -o -type f -print | sed 's|^\./||')
fi
n=0
for f in $(printf '%s\n' "$files" | grep -v '^tests/vectors/' |
    grep -E '\.(c|h|py|sh|ld|in|html|css|js)$|(^|/)(meson\.build|Makefile)$|^meson_options\.txt$|^\.ci/run$|^conf/otad\.yaml$|^man/.*\.[158]$|\.1$|^completion/|^debian/rules$|^debian/otad\.(postrm|tmpfiles)$'); do
    n=$((n + 1))
    head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT' || {
        echo "FAIL: $f has no SPDX-License-Identifier line"
        fails=1
    }
done
echo "$n files checked"
[ "$n" -gt 300 ] || { echo "FAIL: only $n source files found"; fails=1; }
[ "$fails" = 0 ]
