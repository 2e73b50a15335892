#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one libFuzzer target for a bounded time on a copy of its seed corpus
# (the repository's seeds are never written to) and fails on any finding.
#   run.sh FUZZER SEEDS DICT [SECONDS]
# SECONDS defaults to $FUZZ_SECONDS, else 60. A crash, leak, sanitizer report
# or timeout leaves its input in $FUZZ_ARTIFACTS (default: a temporary
# directory, named in the output) and makes this exit non-zero.
set -eu
fuzzer=$1 seeds=$2 dict=$3
seconds=${4:-${FUZZ_SECONDS:-60}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=${FUZZ_ARTIFACTS:-$work/artifacts}
mkdir -p "$work/corpus" "$artifacts"
cp "$seeds"/* "$work/corpus/"
echo "fuzzing $(basename "$fuzzer") for ${seconds}s; findings go to $artifacts/"
status=0
# libFuzzer's own exit code for a finding is 77, which meson reads as
# "skipped": -error_exitcode makes a finding a failure.
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -error_exitcode=1 -dict="$dict" -artifact_prefix="$artifacts/" "$work/corpus" || status=$?
if [ "$status" -ne 0 ]; then
    echo "FINDING in $(basename "$fuzzer"):"
    for f in "$artifacts"/*; do
        [ -f "$f" ] && { echo "$f:"; od -c "$f" | head -20; }
    done
    # Keep the artifact past the temporary directory when it was ours.
    [ -n "${FUZZ_ARTIFACTS:-}" ] || trap - EXIT
fi
exit "$status"
