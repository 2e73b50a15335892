#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Whole-image download throughput over HTTPS and plain HTTP.

    bench/https-throughput.py [OTAD] [--size BYTES] [--seconds S] [--runs N]
                              [--clients 1,16] [--keep-alive] [--key ec|rsa]

Starts otad itself (OTAD from the first argument, else $OTAD, else build/otad
next to this script's repository) on 127.0.0.1 with two ephemeral ports, the
plain HTTP one and the HTTPS one (`tls:` in a temporary configuration), a
self-signed certificate made with openssl in a temporary directory (EC P-256
by default) and one random image (1 MiB by default).

For each number of clients (1 and 16 by default) and each protocol, that many
Python threads download GET /fw/image for S seconds (3 by default) each, one
download after the other, with a new connection per download (an OTA client
connects once per update: the TLS handshake is part of every download), or
with --keep-alive all downloads of a client on one connection. The bytes are
received into a preallocated buffer; every download's length is checked, and
each client's first download is compared with the image. Prints a table of
downloads, MB/s (10^6 bytes per second, all clients together), the median
time per download and the CPU time otad used (with --runs N, of the best of N
runs: on a shared machine a run can lose whole time slices), then stops otad
by its PID.
"""

import argparse
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

START_LIMIT = 10.0
IO_TIMEOUT = 10.0


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


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
    return cert, key


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def measure(connect, data, clients, seconds, keep_alive, pid):
    deadline = time.monotonic() + seconds
    threads = [Client(connect, data, deadline, keep_alive) for _ in range(clients)]
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    for t in threads:
        if t.is_alive():
            raise RuntimeError("a client hung")
        if t.error is not None:
            raise RuntimeError("a client failed: %r" % t.error)
    times = [x for t in threads for x in t.times]
    total = sum(t.bytes for t in threads)
    return len(times), total / elapsed / 1e6, statistics.median(times), cpu, elapsed


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("otad", nargs="?",
                    default=os.environ.get("OTAD") or os.path.join(here, "..", "build", "otad"))
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=1, help="keep the best of N runs")
    ap.add_argument("--clients", default="1,16")
    ap.add_argument("--keep-alive", action="store_true",
                    help="all downloads of a client on one connection")
    ap.add_argument("--key", choices=("ec", "rsa"), default="ec")
    args = ap.parse_args()
    otad = os.path.abspath(args.otad)
    if not os.access(otad, os.X_OK):
        sys.exit("https-throughput: %s: not an executable otad" % otad)
    if shutil.which("openssl") is None:
        sys.exit("https-throughput: openssl is needed to make the certificate")
    clients = [int(x) for x in args.clients.split(",")]

    tmp = tempfile.mkdtemp(prefix="otad-bench-")
    proc = log = None
    try:
        fw = os.path.join(tmp, "firmware")
        os.mkdir(fw)
        data = os.urandom(args.size)
        with open(os.path.join(fw, "fw.bin"), "wb") as f:
            f.write(data)
        with open(os.path.join(fw, "fw.txt"), "w") as f:
            f.write("1\n")
        cert, key = make_certificate(tmp, args.key)
        http_port, https_port = free_ports(2)
        config = os.path.join(tmp, "otad.yaml")
        with open(config, "w") as f:
            # user: root, as in benchlib.Otad (0700 temporary directories);
            # no admin listener, as there.
            f.write("firmware_dir: %s\nbind: 127.0.0.1\nport: %d\nlog_level: warning\n"
                    "user: root\nadmin:\n  port: 0\n"
                    "tls:\n  cert: %s\n  key: %s\n  port: %d\n"
                    % (fw, http_port, cert, key, https_port))
        log = open(os.path.join(tmp, "otad.log"), "w+b")
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        proc = subprocess.Popen([otad, "--config", config], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + START_LIMIT
        for port in (http_port, https_port):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        sys.exit("https-throughput: otad did not start (status %s):\n%s"
                                 % (proc.poll(), log.read().decode(errors="replace")))
                    time.sleep(0.01)

        ctx = ssl.create_default_context(cafile=cert)

        def plain():
            s = socket.create_connection(("127.0.0.1", http_port), timeout=IO_TIMEOUT)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s

        def tls():
            raw = socket.create_connection(("127.0.0.1", https_port), timeout=IO_TIMEOUT)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return ctx.wrap_socket(raw, server_hostname="127.0.0.1")

        with tls() as s:
            negotiated = "%s %s" % (s.version(), s.cipher()[0])
        print("otad %s, image %d bytes, %s key, %s; %.1f s per run, %s%s"
              % (otad, len(data), args.key.upper(), negotiated, args.seconds,
                 "keep-alive: one connection per client" if args.keep_alive
                 else "a new connection per download",
                 ", best of %d runs" % args.runs if args.runs > 1 else ""))
        print("%-8s %-6s %10s %10s %16s %14s" % ("clients", "proto", "downloads", "MB/s",
                                                 "median/download", "otad CPU"))
        for n in clients:
            for name, connect in (("http", plain), ("https", tls)):
                count, mbs, median, cpu, elapsed = max(
                    (measure(connect, data, n, args.seconds, args.keep_alive, proc.pid)
                     for _ in range(max(1, args.runs))), key=lambda run: run[1])
                print("%-8d %-6s %10d %10.0f %13.2f ms %8.2f s %3.0f%%"
                      % (n, name, count, mbs, median * 1000, cpu, 100 * cpu / elapsed))
                sys.stdout.flush()
    finally:
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        if log is not None:
            log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
