# SPDX-License-Identifier: MIT
"""Smoke run of bench/devices-json.py with a few hundred devices.

Runs the benchmark against $OTAD (300 devices, 3 timed requests) and checks
its JSON figures: every device listed (the benchmark checks the count itself
and fails otherwise), the body about the size 300 device objects take, and
times that are positive and not pathologically long.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smoke  # noqa: E402

DEVICES = 300
RUNS = 3
WORST_BOUND_MS = 5000                # generous: only a broken run exceeds it
RUN_LIMIT = 60                       # seconds


def main():
    bench = smoke.Bench("devices-json")
    out, fig = bench.run(["--devices", str(DEVICES), "--runs", str(RUNS)],
                         timeout=RUN_LIMIT, otad=True)
    bench.check([(fig.get("median_ms") is not None, "no times in the figures: %r" % fig)], out)
    bench.check([
        (fig.get("devices") == DEVICES + 1,
         "devices is %r, not %d" % (fig.get("devices"), DEVICES + 1)),
        (fig.get("runs") == RUNS, "runs is %r, not %d" % (fig.get("runs"), RUNS)),
        # A device object has a few hundred bytes of fields.
        (200 * DEVICES < fig.get("body_bytes", 0) < 4000 * (DEVICES + 1),
         "a body of %r bytes for %d devices" % (fig.get("body_bytes"), DEVICES + 1)),
        (0 < fig["min_ms"] <= fig["median_ms"] <= fig["max_ms"] < WORST_BOUND_MS,
         "times out of order or too long: %r" % fig),
    ], out)
    bench.passed(out)


if __name__ == "__main__":
    main()
