#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Whole-image download throughput over HTTPS and plain HTTP: otad and nginx.

    bench/https-throughput.py [OTAD] [--size BYTES] [--seconds S] [--runs N]
                              [--clients 1,16] [--connections new,keep-alive]
                              [--protocols http,https] [--servers otad,nginx]
                              [--key ec|rsa] [--json FILE]

Starts otad (OTAD from the first argument, else $OTAD, else build/otad next
to this script's repository) on 127.0.0.1 with two ephemeral ports, the plain
HTTP one and the HTTPS one (`tls:` in a temporary configuration), and, as the
reference, Debian's nginx (bench/benchlib.py: 2 workers) with a plain and an
HTTPS listener serving the same bytes as a static file at the same URL with
the same certificate: a self-signed one made with openssl in a temporary
directory (EC P-256 by default), for one random image (1 MiB by default).

For each way of connecting, each number of clients (1 and 16 by default) and
each protocol, that many Python threads download GET /fw/image for S seconds
(3 by default) each, one download after the other: with a new connection per
download (`new`: an OTA client connects once per update, so the TLS handshake
is part of every download), or with all downloads of a client on one
connection (`keep-alive`). The servers take turns within each of N runs (3 by
default) and the best run of each is kept: on a shared machine a run can lose
whole time slices. The bytes are received into a preallocated buffer; every
download's length is checked, and each client's first download is compared
with the image. Prints downloads, MB/s (10^6 bytes per second, all clients
together), the median time per download and the CPU time each server used
and per download, then otad's throughput and CPU per download as ratios to
nginx's, and stops both servers by PID. --json FILE writes the figures.
"""

import argparse
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import benchlib

START_LIMIT = 10.0
IO_TIMEOUT = 10.0
CONNECTIONS = ("new", "keep-alive")
PROTOCOLS = ("http", "https")
SERVERS = ("otad", "nginx")


def make_certificate(directory, key_type):
    """A self-signed certificate for 127.0.0.1; returns (cert, key) paths."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key_type == "ec" \
        else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert]
                   + newkey, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)
    return cert, key


class Client(threading.Thread):
    def __init__(self, connect, data, deadline, keep_alive):
        super().__init__(daemon=True)
        self.connect, self.data, self.deadline = connect, data, deadline
        self.keep_alive = keep_alive
        self.buf = bytearray(len(data) + 65536)
        self.times, self.bytes, self.error = [], 0, None

    def get(self, sock, pending):
        """GET /fw/image on `sock`; returns bytes after the body (none here)."""
        sock.sendall(b"GET /fw/image HTTP/1.1\r\nHost: bench\r\n\r\n")
        view = memoryview(self.buf)
        have = pending
        while True:
            end = self.buf.find(b"\r\n\r\n", 0, have)
            if end >= 0:
                break
            n = sock.recv_into(view[have:])
            if n == 0:
                raise EOFError("connection closed in the response header")
            have += n
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        if not head[0].startswith("HTTP/1.1 200"):
            raise RuntimeError("GET /fw/image: %s" % head[0])
        length = next(int(line.split(":", 1)[1]) for line in head
                      if line.lower().startswith("content-length:"))
        if length != len(self.data):
            raise RuntimeError("Content-Length %d, image is %d bytes" % (length, len(self.data)))
        body = end + 4
        while have < body + length:
            n = sock.recv_into(view[have:body + length])
            if n == 0:
                raise EOFError("connection closed in the body")
            have += n
        if not self.times and bytes(self.buf[body:body + length]) != self.data:
            raise RuntimeError("downloaded image differs")
        return length

    def run(self):
        sock = None
        try:
            while time.monotonic() < self.deadline:
                t0 = time.perf_counter()
                if sock is None:
                    sock = self.connect()
                self.bytes += self.get(sock, 0)
                if not self.keep_alive:
                    sock.close()
                    sock = None
                self.times.append(time.perf_counter() - t0)
        except Exception as e:      # reported by the main thread
            self.error = e
        finally:
            if sock is not None:
                sock.close()


def measure(connect, data, clients, seconds, keep_alive, cpu_seconds):
    """(downloads, MB/s, median seconds per download, server CPU seconds,
    elapsed seconds) of @clients threads downloading for @seconds."""
    deadline = time.monotonic() + seconds
    threads = [Client(connect, data, deadline, keep_alive) for _ in range(clients)]
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    for t in threads:
        if t.is_alive():
            raise RuntimeError("a client hung")
        if t.error is not None:
            raise RuntimeError("a client failed: %r" % t.error)
    times = [x for t in threads for x in t.times]
    total = sum(t.bytes for t in threads)
    return len(times), total / elapsed / 1e6, statistics.median(times), cpu, elapsed


class HttpsOtad(benchlib.Otad):
    """otad with a second, HTTPS listener on self.tls_port."""

    def __init__(self, otad, fw_dir, cert, key):
        super().__init__(otad, fw_dir)
        self.tls_port = benchlib.free_port()
        self.cert, self.key = cert, key

    def command(self):
        cmd = super().command()
        with open(cmd[2], "a") as f:
            f.write("tls:\n  cert: %s\n  key: %s\n  port: %d\n"
                    % (self.cert, self.key, self.tls_port))
        return cmd


def connector(port, ctx):
    """A function opening a connection to 127.0.0.1:@port, TLS with @ctx."""
    def connect():
        raw = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return ctx.wrap_socket(raw, server_hostname="127.0.0.1") if ctx else raw
    return connect


def list_arg(text, allowed, what):
    items = text.split(",")
    if not items or not set(items) <= set(allowed):
        benchlib.die("--%s: a list of %s" % (what, ", ".join(allowed)))
    return [x for x in allowed if x in items]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("otad", nargs="?", default=benchlib.default_otad())
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=3, help="keep the best of N runs")
    ap.add_argument("--clients", default="1,16")
    ap.add_argument("--connections", default=",".join(CONNECTIONS),
                    help="new (a connection per download), keep-alive, or both")
    ap.add_argument("--protocols", default=",".join(PROTOCOLS))
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--key", choices=("ec", "rsa"), default="ec")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    args.otad = benchlib.require_executable(args.otad, "otad")
    args.clients = [int(x) for x in args.clients.split(",")]
    args.connections = list_arg(args.connections, CONNECTIONS, "connections")
    args.protocols = list_arg(args.protocols, PROTOCOLS, "protocols")
    args.servers = list_arg(args.servers, SERVERS, "servers")
    if "otad" not in args.servers or args.runs < 1 or args.size < 1:
        benchlib.die("--servers must include otad; --runs and --size at least 1")
    if shutil.which("openssl") is None:
        benchlib.die("openssl is needed to make the certificate")
    return args


def run_all(args, data, servers, ctx):
    """Every configuration, the servers taking turns within each run; returns
    the rows (the best run of each server) and the ratios to nginx."""
    rows, ratios = [], []
    for mode in args.connections:
        for n in args.clients:
            for proto in args.protocols:
                best = {}
                for _ in range(args.runs):
                    for name, srv in servers.items():
                        port = srv.tls_port if proto == "https" else srv.port
                        r = measure(connector(port, ctx if proto == "https" else None),
                                    data, n, args.seconds, mode == "keep-alive",
                                    srv.cpu_seconds)
                        if name not in best or r[1] > best[name][1]:
                            best[name] = r
                for name, (count, mbs, median, cpu, elapsed) in best.items():
                    row = {"connections": mode, "clients": n, "protocol": proto,
                           "server": name, "downloads": count, "mb_s": mbs,
                           "median_ms": median * 1e3, "cpu_s": cpu,
                           "cpu_pct": 100 * cpu / elapsed,
                           "cpu_ms_per_download": 1e3 * cpu / count}
                    rows.append(row)
                    print("%-10s %7d %-5s %-5s %9d %7.0f %9.2f ms %6.2f s %4.0f%% %8.3f ms"
                          % (mode, n, proto, name, count, mbs, row["median_ms"], cpu,
                             row["cpu_pct"], row["cpu_ms_per_download"]))
                    sys.stdout.flush()
                if "nginx" in best:
                    o, g = rows[-len(best)], rows[-1]
                    ratios.append({"connections": mode, "clients": n, "protocol": proto,
                                   "mb_s": o["mb_s"] / g["mb_s"],
                                   "cpu_per_download": o["cpu_ms_per_download"]
                                   / max(g["cpu_ms_per_download"], 1e-9)})
    return rows, ratios


def main():
    args = parse_args()
    tmp = tempfile.mkdtemp(prefix="otad-bench-https-")
    servers = {}
    try:
        data = benchlib.random_image(args.size, 1)
        fw = os.path.join(tmp, "firmware")
        benchlib.write_firmware(fw, "fw", data, 1)
        www = os.path.join(tmp, "www")
        os.makedirs(os.path.join(www, "fw"))
        with open(os.path.join(www, "fw", "image"), "wb") as f:
            f.write(data)
        cert, key = make_certificate(tmp, args.key)
        servers["otad"] = HttpsOtad(args.otad, fw, cert, key).start(probe="/fw/header",
                                                                     limit=START_LIMIT)
        if "nginx" in args.servers:
            servers["nginx"] = benchlib.Nginx(www, tls=(cert, key)).start(probe="/fw/image",
                                                                           limit=START_LIMIT)
        ctx = ssl.create_default_context(cafile=cert)
        for name, srv in servers.items():
            with connector(srv.tls_port, ctx)() as s:
                print("%s: %s %s" % (name, s.version(), s.cipher()[0]))
        print("image %d bytes, %s key; %.1f s per measurement, best of %d runs"
              % (len(data), args.key.upper(), args.seconds, args.runs))
        print("%-10s %7s %-5s %-5s %9s %7s %12s %14s %11s" % (
            "conn", "clients", "proto", "srv", "downloads", "MB/s", "median", "CPU",
            "CPU/dl"))
        rows, ratios = run_all(args, data, servers, ctx)
        if ratios:
            print("\notad / nginx   (MB/s: higher is better for otad; CPU per download: lower)")
            for r in ratios:
                print("%-10s %3d clients %-5s  MB/s %5.2fx   CPU per download %5.2fx"
                      % (r["connections"], r["clients"], r["protocol"], r["mb_s"],
                         r["cpu_per_download"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"size": len(data), "key": args.key, "seconds": args.seconds,
                           "runs": args.runs, "rows": rows, "ratios": ratios}, f, indent=1)
    finally:
        for srv in servers.values():
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
