"""Smoke run of bench/reload-latency.py with a few swaps.

Runs the benchmark against $OTAD (10 swaps, settle_ms 20) and checks its JSON
figures: every swap served, and a median of at least settle_ms (otad waits
that long by design, so a smaller median means the measurement is broken)
with a worst case not pathologically far above it.
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "bench", "reload-latency.py")
SWAPS = 10
SETTLE_MS = 20
WORST_BOUND_MS = SETTLE_MS + 2000    # generous: only a broken run exceeds it
RUN_LIMIT = 50                       # seconds


def fail(msg, out=""):
    sys.exit("smoke-reload-latency: %s%s" % (msg, "\n--- output ---\n" + out if out else ""))


def main():
    otad = os.environ.get("OTAD")
    if not otad:
        fail("OTAD is not set")
    with tempfile.TemporaryDirectory(prefix="otad-smoke-reload-") as tmp:
        path = os.path.join(tmp, "figures.json")
        try:
            run = subprocess.run(
                [sys.executable, SCRIPT, otad, "--swaps", str(SWAPS),
                 "--settle-ms", str(SETTLE_MS), "--json", path],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_LIMIT)
        except subprocess.TimeoutExpired:
            fail("the benchmark did not finish within %d s" % RUN_LIMIT)
        out = run.stdout + run.stderr
        if run.returncode != 0:
            fail("the benchmark exited with status %d" % run.returncode, out)
        try:
            with open(path) as f:
                fig = json.load(f)
        except (OSError, ValueError) as e:
            fail("no JSON figures: %s" % e, out)

    median, worst = fig.get("median_ms"), fig.get("worst_ms")
    if median is None or worst is None:
        fail("no latencies in the figures: %r" % fig, out)
    checks = [
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
    ]
    problems = [msg for ok, msg in checks if not ok]
    if problems:
        fail("; ".join(problems), out)
    print(out, end="")


if __name__ == "__main__":
    main()
