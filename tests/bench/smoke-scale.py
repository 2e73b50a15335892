#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Smoke run of bench/scale.py: the three sets at a hundredth of their size
(100 images of 4 to 64 KiB, 10 images of 10 MiB in all, one of 2.56 MiB),
one run each.

Checks that the script exits 0 and that its JSON holds, for every set,
positive start-up and reload times and an RSS above the bytes served (each
image is held once). The figures themselves are not judged (see
docs/PERFORMANCE.md). Needs $OTAD.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smoke  # noqa: E402

TIMEOUT = 120
SETS = {"small": 100, "gib": 10, "big": 1}


def main():
    bench = smoke.Bench("scale")
    out, res = bench.run(["--scale", "0.01", "--runs", "1"], timeout=TIMEOUT, otad=True)
    sets = res.get("sets", {})
    bench.check([(sorted(sets) == sorted(SETS), "JSON has sets %r" % sorted(sets))], out)
    checks = []
    for name, images in SETS.items():
        s = sets[name]
        b = s["builds"]["after"]
        checks += [
            (s["images"] == images, "%s: %d images, expected %d" % (name, s["images"], images)),
            (0 < b["startup_ms"] < 60000 and 0 < b["reload_ms"] < 60000,
             "%s: start-up %r ms, reload %r ms" % (name, b["startup_ms"], b["reload_ms"])),
            (b["rss_bytes"] > s["bytes"],
             "%s: RSS %r below the %d bytes served" % (name, b["rss_bytes"], s["bytes"])),
        ]
    checks.append(("start-up ms" in out, "the table is missing from the output"))
    bench.check(checks, out)
    bench.passed(out, ", ".join("%s start-up %.0f ms" % (n, sets[n]["builds"]["after"]
                                                          ["startup_ms"]) for n in SETS))


if __name__ == "__main__":
    main()
