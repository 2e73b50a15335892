# SPDX-License-Identifier: MIT
"""Smoke run of bench/fleet-memory.py with a few thousand devices.

Runs the benchmark against $OTAD (5,000 devices) and checks its JSON
figures: RSS read before and after for both daemons, growing (or staying)
with tracking on, and the control without tracking not growing more than the
tracked one by a wide margin (a broken switch would make them equal at best
by chance, a broken measurement negative).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smoke  # noqa: E402

DEVICES = 5000
RUN_LIMIT = 90                       # seconds


def main():
    bench = smoke.Bench("fleet-memory")
    out, fig = bench.run(["--devices", str(DEVICES)], timeout=RUN_LIMIT, otad=True)
    tracked, untracked = fig.get("tracked_kib"), fig.get("untracked_kib")
    bench.check([(tracked is not None and untracked is not None,
                  "no RSS in the figures: %r" % fig)], out)
    bench.check([
        (fig.get("devices") == DEVICES, "devices is %r, not %d" % (fig.get("devices"), DEVICES)),
        (0 < tracked["before"] <= tracked["after"],
         "tracked RSS %r: not read, or shrank" % tracked),
        (0 < untracked["before"] and 0 < untracked["after"],
         "untracked RSS %r: not read" % untracked),
        # 5,000 devices cost well under 16 MiB; 64 MiB is for 100,000.
        (fig.get("tracked_growth_mib", 99) < 16,
         "tracking 5,000 devices grew RSS by %r MiB" % fig.get("tracked_growth_mib")),
    ], out)
    bench.passed(out)


if __name__ == "__main__":
    main()
