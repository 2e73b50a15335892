#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measures how long a published image takes to be served (hot reload latency).

    bench/reload-latency.py [OTAD] [--settle-ms N] [--swaps N] [--size BYTES]
                            [--json PATH]

Starts otad itself (OTAD from the first argument, else $OTAD, else build/otad
next to this script's repository) on 127.0.0.1 with an ephemeral port, a
temporary firmware directory and the given settle_ms (default 100). Then, N
times (default 100): writes a new random image (default 64 KiB) to a dot temp
name, rename()s it into place, takes the time right after the rename, and
polls /fw/header on one keep-alive connection as fast as it can until the
header carries the new image's CRC (computed here with zlib). Prints the
median and worst latency, and the same minus settle_ms (the part otad adds on
top of the quiet time it waits for by design). --json PATH also writes the
figures as a JSON object to PATH. Stops the daemon by its PID.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

POLL_LIMIT = 5.0       # seconds per swap before it counts as lost


def request(sock, path, buf):
    """One GET on a keep-alive socket; returns (status, body, rest of buffer)."""
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path.encode())
    status, _, body, buf = bl.read_response(sock, buf)
    return status, body, buf


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("otad", nargs="?", default=bl.default_otad())
    ap.add_argument("--settle-ms", type=int, default=100)
    ap.add_argument("--swaps", type=int, default=100)
    ap.add_argument("--size", type=int, default=64 * 1024)
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON to PATH")
    args = ap.parse_args()
    otad = bl.require_executable(args.otad, "otad")

    tmp = tempfile.mkdtemp(prefix="otad-bench-")
    server = None
    try:
        fw = os.path.join(tmp, "firmware")
        os.mkdir(fw)

        def publish(data):
            tmpname = os.path.join(fw, ".fw.bin.tmp")
            with open(tmpname, "wb") as f:
                f.write(data)
            os.rename(tmpname, os.path.join(fw, "fw.bin"))
            return time.perf_counter()

        data = os.urandom(args.size)
        publish(data)
        with open(os.path.join(fw, "fw.txt"), "w") as f:
            f.write("1\n")
        server = bl.Otad(otad, fw, {"settle_ms": args.settle_ms}).start("/fw/header")
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""

        latencies, lost, polls = [], 0, 0
        for _ in range(args.swaps):
            old_crc = zlib.crc32(data)
            while True:
                new = os.urandom(args.size)
                if zlib.crc32(new) != old_crc:
                    break
            data = new
            want = zlib.crc32(data)
            t0 = publish(data)
            deadline = t0 + POLL_LIMIT
            while True:
                status, body, buf = request(sock, "/fw/header", buf)
                now = time.perf_counter()
                polls += 1
                if status == 200 and len(body) == 20 and struct.unpack("<5I", body)[1] == want:
                    latencies.append(now - t0)
                    break
                if now > deadline:
                    lost += 1
                    break

        settle = args.settle_ms / 1000.0
        print("otad %s, settle_ms %d, %d swaps of %d bytes, %d header polls on one connection"
              % (otad, args.settle_ms, args.swaps, args.size, polls))
        if latencies:
            med, worst = statistics.median(latencies), max(latencies)
            print("reload latency: median %.1f ms, worst %.1f ms, best %.1f ms"
                  % (med * 1e3, worst * 1e3, min(latencies) * 1e3))
            print("minus settle_ms: median %.1f ms, worst %.1f ms"
                  % ((med - settle) * 1e3, (worst - settle) * 1e3))
        if args.json:
            figures = {"swaps": args.swaps, "served": len(latencies), "lost": lost,
                       "settle_ms": args.settle_ms, "size": args.size, "polls": polls}
            if latencies:
                figures.update(median_ms=round(med * 1e3, 3), worst_ms=round(worst * 1e3, 3),
                               best_ms=round(min(latencies) * 1e3, 3))
            with open(args.json, "w") as f:
                json.dump(figures, f, indent=2)
                f.write("\n")
        if lost:
            print("LOST: %d swaps not served within %.0f s" % (lost, POLL_LIMIT))
        sock.close()
        return 1 if lost else 0
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
