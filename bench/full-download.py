#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Full download: one device fetching a whole image from each server.

    bench/full-download.py [OTAD] [--otaget PATH] [--runs 5] [--reference-runs N]
                           [--size BYTES] [--servers otad,nginx,reference] [--json PATH]

otaget (the device's update engine on the host: build/firmware/otaget, or
$OTAGET) downloads a random 448 KiB image (app448: 1,792 blocks, the largest
the simulated STM32F401's application area takes; --size makes it smaller) from otad, from nginx
serving the same bytes as static files, and from the Python reference server:
the header, then every block in order over one keep-alive connection, each
block's CRC checked and programmed into the simulated flash, then the whole
image's CRC. Each run starts from an empty flash; the installed image is
compared with the original. Servers take turns in each round. Prints the
median, best and worst wall-clock time of --runs rounds per server (the
reference server takes about 80 s per run, so --reference-runs can lower its
count), the time per request, and otad's lead over each. Servers listen on
127.0.0.1 with ephemeral ports and are stopped by their PIDs.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import benchlib as bl

NAME = "app448"
APP_AREA = 448 * bl.KIB     # sectors 4 to 7 of the simulated STM32F401
VERSION = 5
RUN_LIMIT = 600             # seconds one download may take (the reference: ~80)


def download(otaget, port, out, size):
    """One download into a fresh simulated flash; returns seconds."""
    if os.path.exists(out):
        os.unlink(out)
    t0 = time.perf_counter()
    proc = subprocess.run([otaget, "-q", "-o", out, "http://127.0.0.1:%d/%s" % (port, NAME)],
                          capture_output=True, text=True, timeout=RUN_LIMIT)
    elapsed = time.perf_counter() - t0
    summary = re.compile(r"^otaget: %s version %d installed: %d bytes, crc 0x[0-9A-F]{8}, "
                         r"(\d+) blocks fetched from block 0, 1 attempt" % (NAME, VERSION, size),
                         re.M)
    m = summary.search(proc.stdout)
    if proc.returncode != 0 or m is None or int(m.group(1)) != (size + bl.BLOCK - 1) // bl.BLOCK:
        bl.die("otaget failed (%d): %s%s" % (proc.returncode, proc.stdout, proc.stderr))
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("otad", nargs="?", default=bl.default_otad())
    ap.add_argument("--otaget", default=bl.default_otaget())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--reference-runs", type=int, help="runs for the reference (default --runs)")
    ap.add_argument("--size", type=int, default=APP_AREA, help="image bytes (default 448 KiB)")
    ap.add_argument("--servers", default="otad,nginx,reference")
    ap.add_argument("--json", metavar="PATH", help="also write the figures to PATH")
    args = ap.parse_args()
    otad = bl.require_executable(args.otad, "otad")
    otaget = bl.require_executable(args.otaget, "otaget")
    names = bl.server_names(args.servers)
    ref_runs = args.reference_runs if args.reference_runs is not None else args.runs
    if args.runs < 1 or ref_runs < 1:
        bl.die("--runs and --reference-runs must be positive")
    if not 1 <= args.size <= APP_AREA:
        bl.die("--size: 1 to %d bytes (the simulated application area)" % APP_AREA)

    times = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="otad-bench-") as tmp:
        fw, www = os.path.join(tmp, "firmware"), os.path.join(tmp, "www")
        data = bl.random_image(args.size, seed=448)
        bl.write_firmware(fw, NAME, data, VERSION)
        bl.write_static_tree(www, NAME, data, VERSION)
        out = os.path.join(tmp, "installed.bin")
        with bl.started(names, otad, fw, www, "/%s/header" % NAME) as servers:
            for r in range(max(args.runs, ref_runs)):
                for s in servers:
                    if r >= (ref_runs if s.label == "reference" else args.runs):
                        continue
                    t = download(otaget, s.port, out, len(data))
                    with open(out, "rb") as f:
                        if f.read() != data:
                            bl.die("%s: the installed image differs from the original" % s.label)
                    times[s.label].append(t)
                    print("run %d  %-9s %9.1f ms" % (r + 1, s.label, t * 1e3),
                          file=sys.stderr, flush=True)
    report(times, names, data, args)


def report(times, names, data, args):
    requests = bl.block_count(data) + 1
    med = {n: bl.median(times[n]) for n in names}
    rows = [[n, str(len(times[n])), "%.1f" % (med[n] * 1e3), "%.1f" % (min(times[n]) * 1e3),
             "%.1f" % (max(times[n]) * 1e3), "%.1f" % (med[n] * 1e6 / requests),
             "%.2f" % (med[n] / med["otad"])] for n in names]
    print("Full download with otaget: %d bytes, %d requests on one connection"
          % (len(data), requests))
    print(bl.table(rows, ["server", "runs", "median ms", "best ms", "worst ms",
                          "us/request", "x otad"]))
    for n in names[1:]:
        print("otad vs %s: %.2fx faster (target for nginx: no slower: %s)"
              % (n, med[n] / med["otad"],
                 "met" if med["otad"] <= med[n] else "MISSED") if n == "nginx" else
              "otad vs %s: %.1fx faster" % (n, med[n] / med["otad"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"size": len(data), "requests": requests, "times_s": times,
                       "median_s": med}, f, indent=1)


if __name__ == "__main__":
    main()
