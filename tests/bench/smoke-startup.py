#!/usr/bin/env python3
"""Smoke run of bench/startup.py: 20 images, 20 MiB in all, 2 runs.

Checks that the script exits 0 and that its JSON holds sane figures: otad
became ready, served the last image, and the CRC helper ran. The figures
themselves are not judged (see docs/PERFORMANCE.md). Needs $OTAD.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "bench", "startup.py")
IMAGES, TOTAL, RUNS = 20, 20 << 20, 2
TIMEOUT = 90


def fail(msg):
    sys.exit("smoke-startup: FAIL: %s" % msg)


def run_script(cmd):
    """Runs the benchmark; on timeout, interrupts it so that it stops the
    servers it started, then fails."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        print(out)
        print(err, file=sys.stderr)
        fail("bench/startup.py took more than %d s" % TIMEOUT)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def main():
    otad = os.environ.get("OTAD")
    if not otad:
        fail("$OTAD is not set")
    with tempfile.TemporaryDirectory(prefix="otad-smoke-startup-") as tmp:
        out_json = os.path.join(tmp, "startup.json")
        cmd = [sys.executable, SCRIPT, otad, "--images", str(IMAGES), "--total", "20M",
               "--runs", str(RUNS), "--json", out_json]
        run = run_script(cmd)
        print(run.stdout)
        print(run.stderr, file=sys.stderr)
        if run.returncode != 0:
            fail("bench/startup.py exited with %d: %s" % (run.returncode, run.stderr.strip()))
        if not os.path.exists(out_json):
            fail("no JSON written to %s" % out_json)
        with open(out_json) as f:
            res = json.load(f)

    for key in ("images", "total_bytes", "runs", "ready_ms", "first_200_ms", "index_gbps",
                "crc_gbps", "all_ready_ms"):
        if res.get(key) is None:
            fail("JSON has no %r: %r" % (key, res))
    if (res["images"], res["total_bytes"], res["runs"]) != (IMAGES, TOTAL, RUNS):
        fail("JSON describes %d images, %d bytes, %d runs; expected %d, %d, %d"
             % (res["images"], res["total_bytes"], res["runs"], IMAGES, TOTAL, RUNS))
    if len(res["all_ready_ms"]) != RUNS:
        fail("all_ready_ms has %d entries for %d runs" % (len(res["all_ready_ms"]), RUNS))
    if not 0 < res["ready_ms"] < 30000:
        fail("ready_ms is %r, expected between 0 and 30 s" % res["ready_ms"])
    # otad opens its listener just before it sends READY=1, so the first 200
    # may come a little before the notification is read, never much before.
    if res["first_200_ms"] < res["ready_ms"] - 50:
        fail("first 200 after %.1f ms, READY=1 after %.1f ms: more than 50 ms earlier"
             % (res["first_200_ms"], res["ready_ms"]))
    if not res["index_gbps"] > 0 or not res["crc_gbps"] > 0:
        fail("throughputs not positive: index %r GB/s, CRC %r GB/s"
             % (res["index_gbps"], res["crc_gbps"]))
    if "time to READY=1" not in run.stdout or "target:" not in run.stdout:
        fail("the table or the target line is missing from the output")
    print("smoke-startup: OK (READY=1 after %.1f ms, first 200 after %.1f ms)"
          % (res["ready_ms"], res["first_200_ms"]))


if __name__ == "__main__":
    main()
