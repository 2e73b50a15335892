#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measures what one block request costs: CPU instructions and bytes on the wire.

    bench/request-cost.py [OTAD] [--requests N1,N2] [--json PATH]
                          [--no-nginx] [--no-reference]

Instructions: runs otad (OTAD from the first argument, else $OTAD, else
build/otad; threads: 1) under valgrind --tool=callgrind twice, serving one
random 460 KiB image, app460. One run makes N1 block requests (default 2,000)
on one keep-alive connection, walking the blocks in order, one request at a
time, each response checked; the other makes N2 (default 6,000). otad is then
stopped with SIGTERM and callgrind's total instruction count (Ir) read from
its output file. (Ir2 - Ir1) / (N2 - N1) is the cost of one request: start-up,
the probe that waits for the server and shutdown are the same in both runs and
cancel out. The same is done for nginx (one process: master_process off,
worker_processes 1, daemon off; stopped with SIGQUIT) serving the same bytes
as static files. Only user space is counted: the system calls' work in the
kernel is not. MALLOC_PERTURB_ is removed from the servers' environment (it
makes glibc fill every allocation, which more than doubles nginx's count).

Bytes on the wire: sends the same request,
    GET /app460/block/7 HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n
to otad, nginx and the reference Flask server (natively, not under valgrind)
and reports the response header's length next to the 260-byte payload.
Overhead is (request + response header) as a share of the payload.

Prints two Markdown tables. Every server binds 127.0.0.1 on an ephemeral port
and is stopped by its PID.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import benchlib

NAME = "app460"
VERSION = 1
PAYLOAD = benchlib.BLOCK + 4
REQUEST = b"GET /app460/block/7 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
PROBE = "/%s/header" % NAME
VALGRIND_START = 120.0     # seconds a server under callgrind has to answer
VALGRIND_STOP = 120.0      # seconds it has to exit and write its counts
IO_TIMEOUT = 30.0          # per request under callgrind


def callgrind_command(out_file):
    return [benchlib.require_program("valgrind"), "--tool=callgrind", "--quiet",
            "--callgrind-out-file=" + out_file]


class CallgrindOtad(benchlib.Otad):
    """otad with one HTTP thread, run under callgrind."""
    label = "otad-callgrind"

    def __init__(self, otad, fw_dir, out_file):
        super().__init__(otad, fw_dir, {"threads": 1})
        self.out_file = out_file

    def command(self):
        return callgrind_command(self.out_file) + super().command()


class CallgrindNginx(benchlib.Nginx):
    """nginx as a single process (no master, no worker), under callgrind."""
    label = "nginx-callgrind"
    stop_signal = signal.SIGQUIT
    # nginx checks its quit flag, then blocks in epoll_wait(); callgrind
    # delivers signals at its own scheduling points, so the handler can run
    # between the two and the wait never ends. Another signal ends it.
    resend_stop = True

    def __init__(self, www, out_file):
        super().__init__(www, workers=1, master_process=False)
        self.out_file = out_file

    def command(self):
        return callgrind_command(self.out_file) + super().command()


def stop_and_wait(server, limit):
    """Signals the server and waits for it to exit on its own, so that
    callgrind writes its counts; returns the exit status."""
    proc = server.proc
    status = None if proc is None else proc.poll()
    deadline = time.monotonic() + limit
    while proc is not None and status is None and time.monotonic() < deadline:
        os.kill(proc.pid, server.stop_signal)
        try:
            status = proc.wait(timeout=2.0 if getattr(server, "resend_stop", False) else limit)
        except subprocess.TimeoutExpired:
            pass
    server.stop()           # kills it if it is still there; removes its directory
    return status if status is not None else proc.returncode


def walk_blocks(port, data, count):
    """@count block requests on one keep-alive connection, in block order,
    one at a time, every response checked against @data."""
    nblocks = benchlib.block_count(data)
    expected = [benchlib.block_bytes(data, n) for n in range(nblocks)]
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        for i in range(count):
            n = i % nblocks
            s.sendall(b"GET /%s/block/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                      % (NAME.encode(), n))
            status, _, body, buf = benchlib.read_response(s, buf)
            if status != 200 or body != expected[n]:
                raise RuntimeError("block %d: status %d, %d bytes, %s"
                                   % (n, status, len(body),
                                      "as expected" if body == expected[n] else "wrong bytes"))


def callgrind_total(path):
    """The total instruction count (Ir) of a callgrind output file."""
    with open(path, errors="replace") as f:
        text = f.read()
    m = re.search(r"^(?:totals|summary):\s+(\d+)", text, re.M)
    if m is None:
        raise RuntimeError("%s: no totals or summary line" % path)
    return int(m.group(1))


def instructions(make_server, out_dir, label, data, counts):
    """Ir of one callgrind run per request count; returns the list of totals."""
    totals = []
    for count in counts:
        out_file = os.path.join(out_dir, "callgrind.%s.%d" % (label, count))
        server = make_server(out_file)
        t = time.perf_counter()
        try:
            server.start(PROBE, limit=VALGRIND_START)  # callgrind runs code ~50x slower
            walk_blocks(server.port, data, count)
        except BaseException as e:          # interrupted, too: no server left behind
            output = server.output()
            server.stop()
            if isinstance(e, (RuntimeError, OSError)):
                benchlib.die("%s under callgrind, %d requests: %s\n%s"
                             % (label, count, e, output))
            raise
        status = stop_and_wait(server, VALGRIND_STOP)
        if status != 0 or not os.path.exists(out_file):
            benchlib.die("%s under callgrind did not exit cleanly (status %s)" % (label, status))
        totals.append(callgrind_total(out_file))
        print("%s: %d requests under callgrind: %d Ir in all (%.1f s)"
              % (label, count, totals[-1], time.perf_counter() - t))
    return totals


def wire(server):
    """(request bytes, response header bytes) of REQUEST to a running server."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(REQUEST)
        status, head, body, _ = benchlib.read_response(s)
    if status != 200 or len(body) != PAYLOAD:
        raise RuntimeError("%s: status %d, %d bytes of body" % (server.label, status, len(body)))
    return len(REQUEST), len(head), body


def parse_counts(text):
    try:
        counts = [int(x) for x in text.split(",")]
    except ValueError:
        counts = []
    if len(counts) != 2 or not 0 < counts[0] < counts[1]:
        raise argparse.ArgumentTypeError("expected N1,N2 with 0 < N1 < N2")
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("otad", nargs="?", default=benchlib.default_otad())
    ap.add_argument("--requests", type=parse_counts, default=[2000, 6000], metavar="N1,N2")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--no-nginx", action="store_true")
    ap.add_argument("--no-reference", action="store_true")
    args = ap.parse_args()
    otad = benchlib.require_executable(args.otad, "otad")
    n1, n2 = args.requests

    tmp = tempfile.mkdtemp(prefix="otad-bench-request-cost-")
    try:
        data = benchlib.random_image(benchlib.IMAGE_460K, 460)
        fw_dir = os.path.join(tmp, "firmware")
        www = os.path.join(tmp, "www")
        benchlib.write_firmware(fw_dir, NAME, data, VERSION)
        if not args.no_nginx:
            benchlib.write_static_tree(www, NAME, data, VERSION)

        # Instructions per request, under callgrind.
        ir = {"otad": instructions(lambda out: CallgrindOtad(otad, fw_dir, out), tmp, "otad",
                                   data, args.requests)}
        if not args.no_nginx:
            ir["nginx"] = instructions(lambda out: CallgrindNginx(www, out), tmp, "nginx",
                                       data, args.requests)
        per = {k: (v[1] - v[0]) / (n2 - n1) for k, v in ir.items()}

        # Bytes on the wire, natively.
        want = benchlib.block_bytes(data, 7)
        servers = [("otad", lambda: benchlib.Otad(otad, fw_dir))]
        if not args.no_nginx:
            servers.append(("nginx", lambda: benchlib.Nginx(www, workers=1)))
        if not args.no_reference:
            servers.append(("reference", lambda: benchlib.Reference(fw_dir)))
        wire_bytes = {}
        for label, make in servers:
            server = make()
            try:
                server.start(PROBE)
                request, header, body = wire(server)
            except (RuntimeError, OSError) as e:
                benchlib.die("%s: %s" % (label, e))
            finally:
                server.stop()
            if body != want:
                benchlib.die("%s: /%s/block/7 differs from the image" % (label, NAME))
            wire_bytes[label] = {"request": request, "response_header": header,
                                 "payload": PAYLOAD}

        print()
        print("instructions per block request (callgrind Ir, user space, one connection, "
              "(Ir(%d) - Ir(%d)) / %d):" % (n2, n1, n2 - n1))
        print()
        rows = [[k, "{:,}".format(v[0]), "{:,}".format(v[1]), "{:,.0f}".format(per[k]),
                 "{:,.0f}".format(v[0] - per[k] * n1)] for k, v in ir.items()]
        print(benchlib.table(rows, ["server", "Ir, %d requests" % n1,
                                    "Ir, %d requests" % n2, "Ir per request",
                                    "Ir fixed (start, stop)"]))
        if "nginx" in per:
            print()
            print("otad / nginx: %.2f" % (per["otad"] / per["nginx"]))
        print()
        print("bytes on the wire for one block request (%d-byte request: %r):"
              % (len(REQUEST), REQUEST.decode()))
        print()
        rows = []
        for label, w in wire_bytes.items():
            overhead = w["request"] + w["response_header"]
            total = overhead + w["payload"]
            w["total"] = total
            w["overhead_pct"] = 100.0 * overhead / w["payload"]
            rows.append([label, w["request"], w["response_header"], w["payload"], total,
                         "%.1f" % w["overhead_pct"]])
        print(benchlib.table(rows, ["server", "request", "response header", "payload",
                                    "total", "overhead (% of payload)"]))

        if args.json:
            with open(args.json, "w") as f:
                json.dump({"requests": [n1, n2],
                           "otad_ir": ir["otad"],
                           "otad_ir_per_request": per["otad"],
                           "nginx_ir": ir.get("nginx"),
                           "nginx_ir_per_request": per.get("nginx"),
                           "request_bytes": len(REQUEST),
                           "wire": wire_bytes}, f, indent=2)
                f.write("\n")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
