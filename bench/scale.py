#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Scale runs: start-up, memory and reload of large firmware directories.

    bench/scale.py [OTAD] [--before OTAD] [--sets small,gib,big] [--runs R]
                   [--scale F] [--json PATH]

Three firmware directories, written once into a temporary directory, each
image as NAME.bin and NAME.txt of random bytes:

  small   10,000 images of 4 to 64 KiB (sizes uniformly random, seeded)
  gib     1,000 images totalling 1 GiB
  big     one image of 256 MiB

--scale F multiplies the image counts of small and gib and every size of big
and gib by F (the smoke test runs a hundredth). Each directory is also
written a second time with other bytes (the "next" version, hard links kept
aside), for the reload.

For each set, otad (OTAD, else $OTAD, else build/otad) and, with --before,
an older build take turns for R runs (default 3). A run:

  start-up   otad is started (settle_ms 60000, retain_seconds 0, max_memory
             large enough) with NOTIFY_SOCKET set; the time from just before
             the exec to READY=1, sent once every image is loaded
  RSS        VmRSS of /proc/PID/status right after READY=1, against the
             bytes of the images: the target is at most 1.03 x + 16 MiB
  reload     every NAME.bin is replaced by rename() with the next version,
             then SIGHUP: the time from the signal to the READY=1 that ends
             the rescan, in which otad reads and indexes every image again
             (settle_ms keeps the directory watch from doing it first); then
             the RSS again, with the old generations gone (retain_seconds 0)

Every file is read before a start-up and before a reload so the page cache
holds it: this measures otad, not the disk. After each start-up and reload
the header and last block of the last image are checked against the bytes
written. Prints a Markdown table of the medians per set and build and, with
--before, the ratios after/before. Every otad is stopped by its PID; the
temporary directory is removed.
"""

import argparse
import json
import os
import random
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import benchlib
import startup

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
RSS_FACTOR, RSS_SLACK = 1.03, 16 * MIB      # the target: RSS <= 1.03 x bytes + 16 MiB
SETS = ("small", "gib", "big")


def set_sizes(name, scale):
    """The image sizes of a set."""
    if name == "small":
        rng = random.Random(10000)
        return [rng.randint(4 * KIB, 64 * KIB) for _ in range(max(1, int(10000 * scale)))]
    if name == "gib":
        count = max(1, int(1000 * scale))
        return startup.image_sizes(count, max(count, int(GIB * scale)))
    return [max(1, int(256 * MIB * scale))]


def write_set(top, sizes):
    """Writes the set into @top/cur (served) and @top/next (the reload's
    version); returns (name, current bytes, next bytes) of the last image."""
    names = ["img%05d" % i for i in range(len(sizes))]

    def one(i):
        out = []
        for sub in ("cur", "next"):
            data = os.urandom(sizes[i])
            benchlib.write_firmware(os.path.join(top, sub), names[i], data, 1)
            out.append(data)
        return out if i == len(sizes) - 1 else None

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        last = list(pool.map(one, range(len(sizes))))[-1]
    return names[-1], last[0], last[1]


def link_tree(src, dst):
    """@dst as hard links to the files of @src: every run starts from the
    same bytes without writing them again."""
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    for entry in os.scandir(src):
        os.link(entry.path, os.path.join(dst, entry.name))


def replace_all(src, dst):
    """Renames a link to each .bin of @src over the one in @dst."""
    for entry in os.scandir(src):
        if entry.name.endswith(".bin"):
            tmp = os.path.join(dst, "." + entry.name + ".tmp")
            os.link(entry.path, tmp)
            os.rename(tmp, os.path.join(dst, entry.name))


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * KIB
    raise RuntimeError("no VmRSS for %d" % pid)


def wait_ready(notify, proc, limit):
    """Seconds until READY=1 arrives on @notify, from now."""
    t0 = time.perf_counter()
    while True:
        left = limit - (time.perf_counter() - t0)
        if left <= 0:
            raise RuntimeError("no READY=1 within %.0f s" % limit)
        if proc.poll() is not None:
            raise RuntimeError("otad exited with %d" % proc.returncode)
        ready, _, _ = select.select([notify], [], [], min(left, 0.5))
        if ready and b"READY=1" in notify.recv(4096).split(b"\n"):
            return time.perf_counter() - t0


def check(port, name, data):
    status, header = benchlib.get(port, "/%s/header" % name, timeout=10.0)
    last = benchlib.block_count(data) - 1
    bstatus, block = benchlib.get(port, "/%s/block/%d" % (name, last), timeout=10.0)
    if status != 200 or header != benchlib.header_bytes(data, 1) or bstatus != 200 \
            or block != benchlib.block_bytes(data, last):
        raise RuntimeError("/%s: header or last block differs from the bytes written" % name)


def one_run(otad, top, notify, notify_path, total, last):
    """(start-up s, RSS after start, reload s, RSS after reload) of one run."""
    fw = os.path.join(top, "fw")
    link_tree(os.path.join(top, "cur"), fw)
    startup.warm_page_cache(fw)
    startup.drain(notify)
    # Room for a build that held two copies, through a reload (old and new).
    settings = {"max_memory": "%dM" % (5 * total // MIB + 64), "settle_ms": 60000,
                "retain_seconds": 0, "log_level": "warning"}
    server = startup.NotifyingOtad(otad, fw, notify_path, settings)
    try:
        ready, _, body = server.timed_start(notify, "/%s/header" % last[0], 600.0)
        if body != benchlib.header_bytes(last[1], 1):
            raise RuntimeError("/%s/header differs after start-up" % last[0])
        check(server.port, last[0], last[1])
        rss_start = rss_bytes(server.proc.pid)
        replace_all(os.path.join(top, "next"), fw)
        startup.warm_page_cache(fw)
        startup.drain(notify)
        os.kill(server.proc.pid, signal.SIGHUP)
        reload = wait_ready(notify, server.proc, 600.0)
        check(server.port, last[0], last[2])
        rss_reload = rss_bytes(server.proc.pid)
    except (RuntimeError, OSError) as e:
        output = server.output()
        server.stop()
        benchlib.die("%s: %s\n%s" % (otad, e, output[-2000:]))
    server.stop()
    return ready, rss_start, reload, rss_reload


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("otad", nargs="?", default=benchlib.default_otad())
    ap.add_argument("--before", metavar="OTAD", help="an older build, in the same rounds")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args()
    builds = [("after", benchlib.require_executable(args.otad, "otad"))]
    if args.before:
        builds.append(("before", benchlib.require_executable(args.before, "otad")))
    sets = args.sets.split(",")
    if any(s not in SETS for s in sets) or args.runs < 1 or not 0 < args.scale <= 1:
        benchlib.die("--sets is a list of %s; --runs >= 1; 0 < --scale <= 1" % ",".join(SETS))

    tmp = tempfile.mkdtemp(prefix="otad-bench-scale-")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    results = {}
    try:
        notify_path = os.path.join(tmp, "notify.sock")
        notify.bind(notify_path)
        for name in sets:
            top = os.path.join(tmp, name)
            sizes = set_sizes(name, args.scale)
            t = time.perf_counter()
            last = write_set(top, sizes)
            os.sync()       # no writeback of what was just written during the runs
            total = sum(sizes)
            print("%s: %d images, %d bytes, written twice in %.1f s"
                  % (name, len(sizes), total, time.perf_counter() - t), flush=True)
            runs = {label: [] for label, _ in builds}
            for run in range(args.runs):
                for label, otad in builds:
                    r = one_run(otad, top, notify, notify_path, total, last)
                    runs[label].append(r)
                    print("  run %d %-6s start-up %7.1f ms  RSS %7.1f MiB  reload %7.1f ms"
                          "  RSS %7.1f MiB" % (run + 1, label, r[0] * 1e3, r[1] / MIB,
                                               r[2] * 1e3, r[3] / MIB), flush=True)
            shutil.rmtree(top, ignore_errors=True)
            results[name] = {"images": len(sizes), "bytes": total, "builds": {}}
            for label, _ in builds:
                med = [benchlib.median([r[k] for r in runs[label]]) for k in range(4)]
                results[name]["builds"][label] = {
                    "startup_ms": med[0] * 1e3, "rss_bytes": med[1], "reload_ms": med[2] * 1e3,
                    "rss_after_reload_bytes": med[3],
                    "rss_limit_bytes": RSS_FACTOR * total + RSS_SLACK,
                    "all": [list(r) for r in runs[label]]}
        report(results, builds, args)
    finally:
        notify.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def report(results, builds, args):
    rows = []
    for name, res in results.items():
        for label, _ in builds:
            b = res["builds"][label]
            rows.append([name, "%d" % res["images"], "%.1f" % (res["bytes"] / MIB), label,
                         "%.0f" % b["startup_ms"], "%.1f" % (b["rss_bytes"] / MIB),
                         "%.3f" % (b["rss_bytes"] / res["bytes"]),
                         "met" if b["rss_bytes"] <= b["rss_limit_bytes"] else "MISSED",
                         "%.0f" % b["reload_ms"], "%.1f" % (b["rss_after_reload_bytes"] / MIB)])
    print()
    print("medians of %d run(s); RSS target <= %.2f x + %d MiB"
          % (args.runs, RSS_FACTOR, RSS_SLACK // MIB))
    print(benchlib.table(rows, ["set", "images", "MiB", "build", "start-up ms", "RSS MiB",
                                "RSS / bytes", "RSS target", "reload ms",
                                "RSS after reload MiB"]))
    if len(builds) > 1:
        for name, res in results.items():
            a, b = res["builds"]["after"], res["builds"]["before"]
            print("%s: after/before start-up %.2fx, RSS %.2fx, reload %.2fx"
                  % (name, a["startup_ms"] / b["startup_ms"], a["rss_bytes"] / b["rss_bytes"],
                     a["reload_ms"] / b["reload_ms"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": args.runs, "scale": args.scale, "sets": results}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
