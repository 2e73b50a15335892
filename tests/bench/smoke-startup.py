#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Smoke run of bench/startup.py: 20 images, 20 MiB in all, 2 runs, and 2
more that verify their manifests (--signed, with the build's otasign).

Checks that the script exits 0 and that its JSON holds sane figures: otad
became ready, served the last image, and the CRC helper ran. The figures
themselves are not judged (see docs/PERFORMANCE.md). Needs $OTAD.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smoke  # noqa: E402

IMAGES, TOTAL, RUNS = 20, 20 << 20, 2
TIMEOUT = 90
KEYS = ("images", "total_bytes", "runs", "ready_ms", "first_200_ms", "index_gbps",
        "crc_gbps", "all_ready_ms")


def main():
    bench = smoke.Bench("startup")
    otasign = os.path.join(os.path.dirname(os.environ.get("OTAD", "")), "otasign")
    out, res = bench.run(["--images", str(IMAGES), "--total", "20M", "--runs", str(RUNS),
                          "--signed", otasign], timeout=TIMEOUT, otad=True)
    # First that the figures are there, as the checks below compare them.
    bench.check([(res.get(key) is not None, "JSON has no %r: %r" % (key, res))
                 for key in KEYS], out)
    bench.check([
        ((res["images"], res["total_bytes"], res["runs"]) == (IMAGES, TOTAL, RUNS),
         "JSON describes %d images, %d bytes, %d runs; expected %d, %d, %d"
         % (res["images"], res["total_bytes"], res["runs"], IMAGES, TOTAL, RUNS)),
        (len(res["all_ready_ms"]) == RUNS,
         "all_ready_ms has %d entries for %d runs" % (len(res["all_ready_ms"]), RUNS)),
        (len(res.get("all_keyed_ready_ms") or []) == RUNS and
         res.get("verify_ms_per_image") is not None,
         "no runs with signing.keys: %r" % res.get("all_keyed_ready_ms")),
        (0 < res["ready_ms"] < 30000,
         "ready_ms is %r, expected between 0 and 30 s" % res["ready_ms"]),
        # otad opens its listener just before it sends READY=1, so the first
        # 200 may come a little before the notification is read, never much
        # before.
        (res["first_200_ms"] >= res["ready_ms"] - 50,
         "first 200 after %.1f ms, READY=1 after %.1f ms: more than 50 ms earlier"
         % (res["first_200_ms"], res["ready_ms"])),
        (res["index_gbps"] > 0 and res["crc_gbps"] > 0,
         "throughputs not positive: index %r GB/s, CRC %r GB/s"
         % (res["index_gbps"], res["crc_gbps"])),
        ("time to READY=1" in out and "target:" in out,
         "the table or the target line is missing from the output"),
    ], out)
    bench.passed(out, "READY=1 after %.1f ms, first 200 after %.1f ms"
                 % (res["ready_ms"], res["first_200_ms"]))


if __name__ == "__main__":
    main()
