# SPDX-License-Identifier: MIT
"""Smoke run of bench/reload-latency.py with a few swaps.

Runs the benchmark against $OTAD (10 swaps, settle_ms 20) and checks its JSON
figures: every swap served, and a median of at least settle_ms (otad waits
that long by design, so a smaller median means the measurement is broken)
with a worst case not pathologically far above it.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smoke  # noqa: E402

SWAPS = 10
SETTLE_MS = 20
WORST_BOUND_MS = SETTLE_MS + 2000    # generous: only a broken run exceeds it
RUN_LIMIT = 50                       # seconds


def main():
    bench = smoke.Bench("reload-latency")
    out, fig = bench.run(["--swaps", str(SWAPS), "--settle-ms", str(SETTLE_MS)],
                         timeout=RUN_LIMIT, otad=True)
    median, worst = fig.get("median_ms"), fig.get("worst_ms")
    # First, as the checks below compare and format them.
    bench.check([(median is not None and worst is not None,
                  "no latencies in the figures: %r" % fig)], out)
    bench.check([
        (fig.get("swaps") == SWAPS, "swaps is %r, not %d" % (fig.get("swaps"), SWAPS)),
        (fig.get("served") == SWAPS,
         "%r of %d swaps served" % (fig.get("served"), SWAPS)),
        (fig.get("settle_ms") == SETTLE_MS,
         "settle_ms is %r, not %d" % (fig.get("settle_ms"), SETTLE_MS)),
        (median >= SETTLE_MS,
         "median %.1f ms is below settle_ms %d: the measurement is broken"
         % (median, SETTLE_MS)),
        (worst < WORST_BOUND_MS,
         "worst %.1f ms is not below %d ms" % (worst, WORST_BOUND_MS)),
    ], out)
    bench.passed(out)


if __name__ == "__main__":
    main()
