#!/usr/bin/env python3
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
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib

POLL_LIMIT = 5.0       # seconds per swap before it counts as lost
START_LIMIT = 10.0


def request(sock, path, buf):
    """One GET on a keep-alive socket; returns (status, body, rest of buffer)."""
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path.encode())
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by otad")
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by otad")
        buf += chunk
    return status, buf[:length], buf[length:]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("otad", nargs="?",
                    default=os.environ.get("OTAD") or os.path.join(here, "..", "build", "otad"))
    ap.add_argument("--settle-ms", type=int, default=100)
    ap.add_argument("--swaps", type=int, default=100)
    ap.add_argument("--size", type=int, default=64 * 1024)
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON to PATH")
    args = ap.parse_args()
    otad = os.path.abspath(args.otad)
    if not os.access(otad, os.X_OK):
        sys.exit("reload-latency: %s: not an executable otad" % otad)

    tmp = tempfile.mkdtemp(prefix="otad-bench-")
    proc = None
    try:
        fw = os.path.join(tmp, "firmware")
        os.mkdir(fw)
        port = free_port()
        config = os.path.join(tmp, "otad.yaml")
        with open(config, "w") as f:
            f.write("firmware_dir: %s\nbind: 127.0.0.1\nport: %d\nsettle_ms: %d\n"
                    "log_level: warning\n" % (fw, port, args.settle_ms))

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
        log = open(os.path.join(tmp, "otad.log"), "wb")
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        proc = subprocess.Popen([otad, "--config", config], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + START_LIMIT
        sock = None
        while sock is None:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit("reload-latency: otad did not start (status %s)" % proc.poll())
                time.sleep(0.01)
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
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
