#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measures GET /devices?format=json on the admin listener with many devices.

    bench/devices-json.py [OTAD] [--devices N] [--runs R] [--json PATH]

Starts otad (OTAD from the first argument, else $OTAD, else build/otad) on
127.0.0.1 with ephemeral device and admin ports and a temporary firmware
directory holding a random 64 KiB image. It then makes N devices known
(default 10,000): one /app/header request each with a distinct X-Device-Id,
pipelined over four keep-alive connections (benchlib.make_devices). It checks
once that the JSON lists N + 1 devices (the start-up probe is one more, known
by its address), then times R requests (default 20) of
/devices?format=json, one after the other on one keep-alive connection to the
admin listener, each from the first byte sent to the last byte of the body
read (into one buffer: the client's own copies are not timed).

Then it times R polls of the status page (GET / on the admin listener): the
three requests its script makes every 1.5 s, /summary,
/firmwares?format=json and one page of 50 devices sorted by progress
(/devices?format=json&limit=50&sort=-percent), one after the other, as one
time.

Prints the median, the fastest and the slowest time, and the body size, with
the target (median <= 100 ms for 10,000 devices) as met or missed, and the
page poll's median and bytes; it is not enforced. --json PATH writes the figures as a JSON object. Exits 0 when
measured, non-zero on an error (otad died, a wrong answer, a limit passed).
Everything is bounded: the device requests by DEVICES_LIMIT, each timed
request by IO_TIMEOUT. Stops otad by its PID.
"""

import argparse
import json
import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

DEVICES_LIMIT = 300.0     # seconds to make the devices known
IO_TIMEOUT = 10.0         # seconds for one /devices response
TARGET_MS = 100.0
TARGET_DEVICES = 10000
# What the status page's script asks for at each poll (src/status/status.js).
PAGE_POLL = ("/summary", "/firmwares?format=json",
             "/devices?format=json&limit=50&offset=0&sort=-percent")


def timed_get(sock, path):
    """(seconds, status, body) of one GET on the keep-alive @sock. The body
    is read into one buffer of its Content-Length, so that a large one costs
    the client no copies."""
    t0 = time.perf_counter()
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("connection closed in the response head")
        head += chunk
    head, _, start = head.partition(b"\r\n\r\n")
    status, length = benchlib.head_fields(head)
    body = bytearray(length)
    view = memoryview(body)
    view[:len(start)] = start
    got = len(start)
    while got < length:
        n = sock.recv_into(view[got:])
        if n == 0:
            raise EOFError("connection closed after %d of %d body bytes" % (got, length))
        got += n
    return time.perf_counter() - t0, status, bytes(body)


def measure(otad, fw, devices, runs):
    """(seconds making the devices, the times in ms, the body size, the page
    poll's times in ms and bytes)."""
    admin_port = benchlib.free_port()
    with benchlib.Otad(otad, fw, admin_port=admin_port).start("/app/header") as server:
        made = benchlib.make_devices(server.port, "app", devices, limit=DEVICES_LIMIT)
        times, size = [], 0
        with socket.create_connection(("127.0.0.1", admin_port), timeout=IO_TIMEOUT) as sock:
            _, status, body = timed_get(sock, "/devices?format=json")
            listed = len(json.loads(body)) if status == 200 else None
            if listed != devices + 1:
                raise RuntimeError("/devices: status %d, %s devices listed, expected %d"
                                   % (status, listed, devices + 1))
            for _ in range(runs):
                elapsed, status, body = timed_get(sock, "/devices?format=json")
                if status != 200:
                    raise RuntimeError("/devices answered %d" % status)
                times.append(elapsed * 1000)
                size = len(body)
            page, page_size = [], 0
            for _ in range(runs):
                total, page_size = 0.0, 0
                for path in PAGE_POLL:
                    elapsed, status, body = timed_get(sock, path)
                    if status != 200:
                        raise RuntimeError("%s answered %d" % (path, status))
                    total += elapsed
                    page_size += len(body)
                page.append(total * 1000)
        if server.proc.poll() is not None:
            raise RuntimeError("otad exited:\n" + server.output())
    return made, times, size, page, page_size


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("otad", nargs="?", default=benchlib.default_otad())
    p.add_argument("--devices", type=int, default=TARGET_DEVICES)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args()
    otad = benchlib.require_executable(args.otad, "otad")
    try:
        with benchlib.firmware_dir("app", 64 * benchlib.KIB) as fw:
            made, times, size, page, page_size = measure(otad, fw, args.devices, args.runs)
    except (RuntimeError, OSError, EOFError) as e:
        benchlib.die(str(e))
    median = statistics.median(times)
    figures = {"devices": args.devices + 1, "runs": args.runs, "median_ms": round(median, 2),
               "min_ms": round(min(times), 2), "max_ms": round(max(times), 2),
               "body_bytes": size, "make_devices_s": round(made, 2),
               "page_poll_median_ms": round(statistics.median(page), 2),
               "page_poll_bytes": page_size}
    met = "met" if median <= TARGET_MS else "missed"
    print("GET /devices?format=json, %d devices, %d runs" % (args.devices + 1, args.runs))
    print("  median %.1f ms (min %.1f, max %.1f), %d bytes; target <= %.0f ms: %s"
          % (median, min(times), max(times), size, TARGET_MS, met))
    print("  (the %d header requests that made them took %.1f s)" % (args.devices, made))
    print("status page poll (/summary, /firmwares, 50 devices by -percent): median %.1f ms,"
          " %d bytes" % (statistics.median(page), page_size))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
