#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Block throughput: otad against nginx and the Python reference server.

    bench/block-throughput.py [OTAD] [--conns 1,16,256] [--seconds 10] [--runs 3]
                              [--servers otad,nginx,reference] [--track on|off|both]
                              [--before OTAD] [--json PATH]

Makes a random 460 KiB image (app460, 1,840 blocks) and serves it three ways,
each on 127.0.0.1 with an ephemeral port:
  otad       from app460.bin + app460.txt (OTAD from the first argument, else
             $OTAD, else build/otad of this checkout), default settings but
             fleet.track as --track says (default on, as in production); with
             --track both a second otad, "otad-notrack", runs with it off
  nginx      Debian's nginx serving the identical header and block bytes,
             precomputed here as static files at the same URLs (2 workers, no
             access log, keepalive_requests unlimited, sendfile on)
  reference  bench/reference/smart_server.py (Flask), the server otad replaces
First checks that all three return the same bytes for the header and a few
blocks. Then wrk, over keep-alive connections, walks every block of the image
(a Lua script: each wrk thread requests block after block, wrapping around) for
--seconds at each connection count; servers take turns within each round, and
the whole set is repeated --runs times. Prints, per server and connection
count, the median over the runs of requests/s, p50 and p99 latency and the
server's CPU time per request, then the ratios otad/nginx and otad/reference
of the median requests/s. wrk runs 1 thread for 1 connection, else 2.
With --track both, also the ratios otad/otad-notrack of requests/s and of CPU
time per request: the cost of keeping the device registry. wrk's walk sends no header request, so every block comes
from a connection without a device: the registry finds the device by the
client's address on each request, its costliest path (a device that asked
for the header on the connection is found through the connection).
With --before OTAD, a second otad, "otad-before", runs that binary (an older
build) in the same rounds, and its ratio to nginx is reported beside otad's:
the way to compare two builds on a noisy machine.
Every server is stopped by its PID at the end.
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile

import benchlib as bl

NAME = "app460"
VERSION = 7
TARGETS = {"nginx": 1.3, "reference": 50.0}     # otad's lead at 16 and 256 connections
TRACK_TARGET = 0.97     # tracking on against off, at every connection count
OTADS = {"on": [("otad", True)], "off": [("otad", False)],
         "both": [("otad", True), ("otad-notrack", False)]}


def check_same_bytes(servers, data):
    """Every server must serve exactly the protocol's bytes, or the race is void."""
    want = {"/%s/header" % NAME: bl.header_bytes(data, VERSION)}
    last = bl.block_count(data) - 1
    for n in (0, 1, last // 2, last):
        want["/%s/block/%d" % (NAME, n)] = bl.block_bytes(data, n)
    for s in servers:
        for path, body in want.items():
            status, got = bl.get(s.port, path)
            if status != 200 or got != body:
                bl.die("%s: %s answered %d with %d bytes that differ from the image"
                       % (s.label, path, status, len(got)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("otad", nargs="?", default=bl.default_otad())
    ap.add_argument("--conns", default="1,16,256",
                    help="comma-separated connection counts (default 1,16,256)")
    ap.add_argument("--seconds", type=int, default=10, help="per wrk run (default 10)")
    ap.add_argument("--runs", type=int, default=3, help="rounds; medians are reported")
    ap.add_argument("--servers", default="otad,nginx,reference")
    ap.add_argument("--track", choices=sorted(OTADS), default="on",
                    help="fleet.track of otad; both: also an otad with it off (default on)")
    ap.add_argument("--before", metavar="OTAD",
                    help="also run this otad binary as otad-before, in the same rounds")
    ap.add_argument("--json", metavar="PATH", help="also write the figures to PATH")
    args = ap.parse_args()
    otad = bl.require_executable(args.otad, "otad")
    conns = [int(c) for c in args.conns.split(",")]
    names = bl.server_names(args.servers)
    otads = [(label, track, otad) for label, track in OTADS[args.track]]
    if args.before:
        otads.append(("otad-before", True, bl.require_executable(args.before, "otad")))
    names = [o[0] for o in otads] + [n for n in names if n != "otad"]
    if args.seconds < 1 or args.runs < 1 or min(conns) < 1:
        bl.die("--seconds, --runs and --conns must be positive")

    with tempfile.TemporaryDirectory(prefix="otad-bench-") as tmp:
        fw, www = os.path.join(tmp, "firmware"), os.path.join(tmp, "www")
        data = bl.random_image(bl.IMAGE_460K, seed=460)
        bl.write_firmware(fw, NAME, data, VERSION)
        bl.write_static_tree(www, NAME, data, VERSION)
        lua = os.path.join(tmp, "walk.lua")
        bl.write_walk_lua(lua, NAME, bl.block_count(data))

        with started(otads, names, otad, fw, www, "/%s/header" % NAME) as servers:
            check_same_bytes(servers, data)
            results = run_all(servers, lua, conns, args.seconds, args.runs)
    report(results, names, conns, args)


@contextlib.contextmanager
def started(otads, names, otad, fw_dir, www, probe):
    """The otad servers of @otads ((label, track, binary) triples), each with
    its own configuration file, then the others of @names as benchlib starts
    them."""
    with contextlib.ExitStack() as stack:
        servers = []
        for label, track, binary in otads:
            s = stack.enter_context(
                bl.Otad(binary, fw_dir, {"fleet": "{track: %s}" % ("true" if track else "false")}))
            s.label = label
            servers.append(s.start(probe))
        others = [n for n in names if not n.startswith("otad")]
        servers += stack.enter_context(bl.started(others, otad, fw_dir, www, probe))
        yield servers


def run_all(servers, lua, conns, seconds, runs):
    """{server: {conns: [result of each run]}}; servers take turns in each round."""
    results = {s.label: {c: [] for c in conns} for s in servers}
    for r in range(runs):
        for c in conns:
            for s in servers:
                cpu = s.cpu_seconds()
                res = bl.run_wrk(s.port, lua, c, seconds,
                                 threads=1 if c == 1 else 2)
                res["cpu_us"] = (s.cpu_seconds() - cpu) * 1e6 / max(res["requests"], 1)
                results[s.label][c].append(res)
                print("run %d/%d  %-9s %4d conns  %9.0f req/s  p50 %7.3f ms  p99 %8.3f ms"
                      "  %6.1f us CPU/req  errors %d"
                      % (r + 1, runs, s.label, c, res["rps"], res["p50"], res["p99"],
                         res["cpu_us"], res["errors"]), file=sys.stderr, flush=True)
    return results


def report(results, names, conns, args):
    med = {n: {c: {k: bl.median([r[k] for r in results[n][c]])
                   for k in ("rps", "p50", "p99", "cpu_us")} for c in conns} for n in names}
    errors = {n: {c: sum(r["errors"] for r in results[n][c]) for c in conns} for n in names}
    rows = []
    for c in conns:
        for n in names:
            m = med[n][c]
            rows.append([str(c), n, "%.0f" % m["rps"], "%.3f" % m["p50"], "%.3f" % m["p99"],
                         "%.1f" % m["cpu_us"], str(errors[n][c])])
    print("Block requests, %s image, %d s per run, median of %d run(s)"
          % ("460 KiB", args.seconds, args.runs))
    print(bl.table(rows, ["conns", "server", "req/s", "p50 ms", "p99 ms",
                          "CPU us/req", "errors"]))
    ratios = {}
    lines = []
    if "otad-notrack" in names:
        ratios["otad-notrack"] = {c: med["otad"][c]["rps"] / med["otad-notrack"][c]["rps"]
                                  if med["otad-notrack"][c]["rps"] > 0 else float("inf")
                                  for c in conns}
        for c in conns:
            r = ratios["otad-notrack"][c]
            # CPU time per request varies far less than req/s on a shared host.
            cpu = med["otad"][c]["cpu_us"] / med["otad-notrack"][c]["cpu_us"]
            lines.append("tracking on/off at %d conns: %.3fx req/s  (target >= %g: %s), "
                         "%.3fx CPU per request"
                         % (c, r, TRACK_TARGET, "met" if r >= TRACK_TARGET else "MISSED", cpu))
    for other in [n for n in names[1:] if n not in ("otad-notrack", "otad-before")]:
        ratios[other] = {c: med["otad"][c]["rps"] / med[other][c]["rps"]
                         if med[other][c]["rps"] > 0 else float("inf") for c in conns}
        if "otad-before" in names:
            ratios["otad-before/" + other] = {
                c: med["otad-before"][c]["rps"] / med[other][c]["rps"]
                if med[other][c]["rps"] > 0 else float("inf") for c in conns}
        for c in conns:
            if "otad-before" in names:
                lines.append("otad-before/%s at %d conns: %.2fx"
                             % (other, c, ratios["otad-before/" + other][c]))
            verdict = ""
            if c in (16, 256):
                verdict = "  (target >= %g: %s)" % (
                    TARGETS[other], "met" if ratios[other][c] >= TARGETS[other] else "MISSED")
            lines.append("otad/%s at %d conns: %.2fx%s" % (other, c, ratios[other][c], verdict))
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seconds": args.seconds, "runs": args.runs, "conns": conns,
                       "median": med, "errors": errors, "ratios": ratios,
                       "all": results}, f, indent=1)


if __name__ == "__main__":
    main()
