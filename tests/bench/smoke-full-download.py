#!/usr/bin/env python3
"""Smoke run of bench/full-download.py: a 16 KiB image (64 blocks) downloaded
once by otaget from otad, nginx and the reference server. Checks that every
server delivered (the script itself compares each installed image with the
original) and that the figures are there and plausible."""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "bench", "full-download.py")


def main():
    with tempfile.TemporaryDirectory(prefix="otad-smoke-") as tmp:
        out = os.path.join(tmp, "result.json")
        proc = subprocess.run([sys.executable, SCRIPT, "--runs", "2", "--reference-runs", "1",
                               "--size", str(16 * 1024), "--json", out],
                              capture_output=True, text=True, timeout=240)
        if proc.returncode != 0:
            sys.exit("full-download.py failed (%d):\n%s%s"
                     % (proc.returncode, proc.stdout, proc.stderr))
        with open(out) as f:
            res = json.load(f)
    print(proc.stdout)
    if res["requests"] != 65:
        sys.exit("expected 65 requests (header + 64 blocks), got %r" % res["requests"])
    for name, runs in (("otad", 2), ("nginx", 2), ("reference", 1)):
        times = res["times_s"].get(name)
        if times is None or len(times) != runs or min(times) <= 0:
            sys.exit("%s: expected %d positive download times, got %r" % (name, runs, times))
    # otad answers each block without a delayed-ACK stall: far below the
    # 40 ms per request the stall would cost (a generous pathology bound).
    per_request = res["median_s"]["otad"] / res["requests"]
    if per_request > 0.01:
        sys.exit("otad took %.1f ms per request" % (per_request * 1e3))
    if "| reference |" not in proc.stdout or "otad vs nginx" not in proc.stdout:
        sys.exit("the table or the comparison is missing:\n" + proc.stdout)


if __name__ == "__main__":
    main()
