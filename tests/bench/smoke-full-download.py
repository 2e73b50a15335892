#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Smoke run of bench/full-download.py: a 16 KiB image (64 blocks) downloaded
once by otaget from otad, nginx and the reference server. Checks that every
server delivered (the script itself compares each installed image with the
original) and that the figures are there and plausible."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smoke  # noqa: E402


def main():
    bench = smoke.Bench("full-download")
    out, res = bench.run(["--runs", "2", "--reference-runs", "1", "--size", str(16 * 1024)],
                         timeout=240)
    # First, as the per-request time below divides by it.
    bench.check([(res["requests"] == 65,
                  "expected 65 requests (header + 64 blocks), got %r" % res["requests"])], out)
    checks = []
    for name, runs in (("otad", 2), ("nginx", 2), ("reference", 1)):
        times = res["times_s"].get(name)
        checks.append((times is not None and len(times) == runs and min(times) > 0,
                       "%s: expected %d positive download times, got %r" % (name, runs, times)))
    # otad answers each block without a delayed-ACK stall: far below the
    # 40 ms per request the stall would cost (a generous pathology bound).
    per_request = res["median_s"]["otad"] / res["requests"]
    checks += [
        (per_request <= 0.01, "otad took %.1f ms per request" % (per_request * 1e3)),
        ("| reference |" in out and "otad vs nginx" in out,
         "the table or the comparison is missing"),
    ]
    bench.check(checks, out)
    bench.passed(out)


if __name__ == "__main__":
    main()
