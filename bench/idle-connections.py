#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measures what many idle keep-alive connections cost otad.

    bench/idle-connections.py [OTAD] [--connections N] [--requests N]
                              [--also-nginx] [--json PATH]

Starts otad itself (OTAD from the first argument, else $OTAD, else build/otad
next to this script's repository) on 127.0.0.1 with an ephemeral port, a
temporary firmware directory holding a random 460 KiB image named app460,
idle_timeout 600 and max_connections 20000. A second process (this script
re-run in a hidden mode, which raises its own open-file soft limit to the hard
limit) then opens N connections (default 10,000), at most 500 in flight at a
time: each fetches /app460/header once over HTTP/1.1 and then stays open, like
a device that has downloaded and now idles. With all of them held, it reads
otad's resident memory (VmRSS; also read before the connections were opened),
and a fresh client opens one new keep-alive connection and fetches blocks
(default 2,000 requests walking /app460/block/0.. and wrapping), timing each
request. Last, the second process checks that every idle connection is still
open and makes one more request on 100 of them.

Prints a table with the targets (RSS <= 32 MiB with 10,000 idle connections,
fresh-client p99 <= 10 ms) as met or missed; they are not enforced. With
--also-nginx, the same runs against nginx for comparison (RSS summed over
master and workers). --json PATH writes the figures as a JSON object (otad's
at the top level, nginx's under "nginx"). Exits 0 when measured, non-zero on
an error: a server died, a connection was refused or closed, or a response
was wrong. Stops the servers and the second process by their PIDs.
"""

import argparse
import errno
import json
import os
import resource
import select
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

NAME = "app460"
IN_FLIGHT = 500          # connections being opened at the same time
OPEN_LIMIT = 180.0       # seconds for all the idle connections to be opened
STALL_LIMIT = 10.0       # seconds without one more connection held: given up
CHECK_LIMIT = 60.0       # seconds for the survival check
REQUEST_LIMIT = 120.0    # seconds for the fresh client's requests
IO_TIMEOUT = 10.0        # per blocking socket operation
SAMPLE = 100             # idle connections that make one more request
FD_MARGIN = 64           # descriptors besides the connections (pipes, stdio, ...)
RSS_TARGET_KIB = 32 * 1024
P99_TARGET_MS = 10.0
TARGET_CONNECTIONS = 10000


def nofile_problem(conns):
    """Why the hard open-file limit is too low for @conns connections, or None.

    Both the second process and otad (which raises its own soft limit to the
    hard one) need a descriptor per connection."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < conns + FD_MARGIN:
        return ("the hard limit of open files (ulimit -Hn) is %d; %d idle connections need "
                "at least %d: raise it or pass a smaller --connections"
                % (hard, conns, conns + FD_MARGIN))
    return None


def header_request(name):
    return b"GET /%s/header HTTP/1.1\r\nHost: bench\r\n\r\n" % name.encode()


# ---- The second process: opens, holds and checks the idle connections ---------

def report(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def open_idle(port, name, conns, deadline):
    """Opens @conns connections, each after one good header request.

    Returns (held sockets, error messages). Non-blocking sockets, at most
    IN_FLIGHT of them connecting or waiting for their response at a time, so
    that otad's listen backlog never overflows and nothing waits on one slow
    connection. A server at its connection limit leaves new ones unanswered
    in the backlog rather than refusing them, hence the stall bound."""
    request = header_request(name)
    sel = selectors.DefaultSelector()
    held, errors = [], []
    started = 0
    pending = {}                       # socket -> bytes received so far
    progress = time.monotonic()        # when the last connection was held

    def fail(sock, why):
        errors.append(why)
        sel.unregister(sock)
        del pending[sock]
        sock.close()

    while (started < conns or pending) and not errors:
        while started < conns and len(pending) < IN_FLIGHT:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            err = sock.connect_ex(("127.0.0.1", port))
            started += 1
            if err not in (0, errno.EINPROGRESS):
                sock.close()
                errors.append("connect: %s" % os.strerror(err))
                break
            pending[sock] = b""
            sel.register(sock, selectors.EVENT_WRITE)
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            errors.append("%d of %d connections opened within %.0f s"
                          % (len(held), conns, OPEN_LIMIT))
            break
        if now - progress > STALL_LIMIT:
            errors.append("no connection answered for %.0f s after %d held, %d waiting"
                          % (STALL_LIMIT, len(held), len(pending)))
            break
        for key, _ in sel.select(timeout=min(remaining, 1.0)):
            sock = key.fileobj
            if key.events == selectors.EVENT_WRITE:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(sock, "connect: %s" % os.strerror(err))
                    continue
                # A fresh socket's send buffer takes a 40-byte request whole.
                if sock.send(request) != len(request):
                    fail(sock, "short send of the header request")
                    continue
                sel.modify(sock, selectors.EVENT_READ)
                continue
            try:
                chunk = sock.recv(4096)
            except OSError as e:
                fail(sock, "receive: %s" % e)
                continue
            if not chunk:
                fail(sock, "connection closed before the header response")
                continue
            pending[sock] += chunk
            parsed = benchlib.parse_response(pending[sock])
            if parsed is None:
                continue
            status, _, body, rest = parsed
            if status != 200 or len(body) != 20 or rest:
                fail(sock, "header response: status %d, %d-byte body, %d extra bytes"
                     % (status, len(body), len(rest)))
                continue
            sel.unregister(sock)
            del pending[sock]
            held.append(sock)
            progress = time.monotonic()
    for sock in pending:
        sock.close()
    sel.close()
    return held, errors


def still_open(sock):
    """True when @sock is connected with nothing to read (EAGAIN, not EOF)."""
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False         # EOF, or bytes nobody asked for: either way not idle


def check_idle(held, name, deadline):
    """Counts the held connections still open; one more request on a sample."""
    survived = [s for s in held if still_open(s)]
    step = max(1, len(survived) // SAMPLE)
    sample = survived[::step][:SAMPLE]
    request = header_request(name)
    sample_ok, errors = 0, []
    for sock in sample:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            errors.append("sample requests took longer than %.0f s" % CHECK_LIMIT)
            break
        sock.settimeout(min(remaining, IO_TIMEOUT))
        buf = b""
        try:
            sock.sendall(request)
            parsed = None
            while parsed is None:
                chunk = sock.recv(4096)
                if not chunk:
                    raise EOFError("connection closed")
                buf += chunk
                parsed = benchlib.parse_response(buf)
        except (OSError, EOFError) as e:
            errors.append("sample request: %s" % e)
            continue
        status, _, body, rest = parsed
        if status == 200 and len(body) == 20 and not rest:
            sample_ok += 1
        else:
            errors.append("sample request: status %d, %d-byte body" % (status, len(body)))
    return len(survived), len(sample), sample_ok, errors


def hold(args):
    """The second process. Talks to the parent in JSON lines on stdout, and
    takes its orders ("check", "quit") one per line on stdin."""
    problem = nofile_problem(args.connections)
    if problem:
        benchlib.die(problem)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        hard = args.connections + FD_MARGIN
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    start = time.monotonic()
    held, errors = open_idle(args.port, args.name, args.connections, start + OPEN_LIMIT)
    report({"held": len(held), "open_s": time.monotonic() - start, "errors": errors[:5],
            "error_count": len(errors)})
    for line in sys.stdin:            # ends when the parent closes the pipe
        if line.strip() == "check":
            survived, sampled, sample_ok, errors = check_idle(
                held, args.name, time.monotonic() + CHECK_LIMIT)
            report({"survived": survived, "sampled": sampled, "sample_ok": sample_ok,
                    "errors": errors[:5], "error_count": len(errors)})
        else:
            break
    for sock in held:
        sock.close()
    return 0


# ---- The parent: servers, RSS, the fresh client -------------------------------

class Holder:
    """The second process, this script in its hidden --hold mode."""

    def __init__(self, port, conns):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--hold", "--port", str(port),
             "--name", NAME, "--connections", str(conns)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buf = b""

    def read(self, limit):
        """The next report, waiting at most @limit seconds."""
        deadline = time.monotonic() + limit
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError("the connection holder did not report within %.0f s" % limit)
            if select.select([fd], [], [], remaining)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise RuntimeError("the connection holder exited with status %s"
                                       % self.proc.wait())
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def order(self, what):
        self.proc.stdin.write(what.encode() + b"\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.order("quit")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def fresh_client(port, data, requests):
    """One new keep-alive connection fetching @requests blocks in order.

    Returns (latencies in ms, error messages); stops at the first broken
    connection. Raises OSError when it cannot connect."""
    blocks = benchlib.block_count(data)
    latencies, errors = [], []
    deadline = time.monotonic() + REQUEST_LIMIT
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        for i in range(requests):
            if time.monotonic() > deadline:
                errors.append("%d requests took longer than %.0f s" % (i, REQUEST_LIMIT))
                break
            n = i % blocks
            t0 = time.perf_counter()
            try:
                sock.sendall(b"GET /%s/block/%d HTTP/1.1\r\nHost: bench\r\n\r\n"
                             % (NAME.encode(), n))
                status, _, body, buf = benchlib.read_response(sock, buf)
            except (OSError, EOFError) as e:
                errors.append("fresh client, block %d: %s" % (n, e))
                break
            latencies.append((time.perf_counter() - t0) * 1e3)
            if status != 200 or body != benchlib.block_bytes(data, n):
                errors.append("fresh client, block %d: status %d, %d-byte body"
                              % (n, status, len(body)))
    return latencies, errors


def measure(server, data, conns, requests):
    """The whole run against a started @server; returns its figures."""
    fig = {"server": server.label, "connections": conns}
    problems = []

    def alive():
        if server.proc.poll() is not None:
            raise RuntimeError("%s exited with %d:\n%s"
                               % (server.label, server.proc.returncode, server.output()))

    fig["rss_before_kib"] = server.rss_kib()
    with Holder(server.port, conns) as holder:
        opened = holder.read(OPEN_LIMIT + 30)
        alive()
        fig["held"] = opened["held"]
        fig["open_s"] = round(opened["open_s"], 2)
        problems += opened["errors"]
        errors = opened["error_count"]
        fig["rss_kib"] = server.rss_kib()
        fig["per_connection_kib"] = round(
            (fig["rss_kib"] - fig["rss_before_kib"]) / max(1, fig["held"]), 2)

        try:
            latencies, client_errors = fresh_client(server.port, data, requests)
        except OSError as e:
            alive()               # a server that died is the better message
            raise RuntimeError("fresh client: cannot connect to %s: %s" % (server.label, e))
        alive()
        problems += client_errors
        errors += len(client_errors)
        fig["requests"] = len(latencies)
        if latencies:
            fig["p50_ms"] = round(benchlib.percentile(latencies, 50), 3)
            fig["p99_ms"] = round(benchlib.percentile(latencies, 99), 3)
            fig["max_ms"] = round(max(latencies), 3)

        holder.order("check")
        checked = holder.read(CHECK_LIMIT + 30)
        alive()
        fig["survived"] = checked["survived"]
        fig["sampled"] = checked["sampled"]
        fig["sample_ok"] = checked["sample_ok"]
        problems += checked["errors"]
        errors += checked["error_count"]
        fig["rss_end_kib"] = server.rss_kib()
    fig["errors"] = errors
    if fig["held"] < conns:
        problems.append("%d of %d connections held" % (fig["held"], conns))
    if fig["survived"] < fig["held"]:
        problems.append("%d of %d idle connections closed"
                        % (fig["held"] - fig["survived"], fig["held"]))
    if fig["requests"] < requests:
        problems.append("%d of %d fresh-client requests answered" % (fig["requests"], requests))
    return fig, problems


def met(ok):
    return "met" if ok else "MISSED"


def summary(results, conns, requests):
    rows = []
    for fig in results:
        rows.append([
            fig["server"], "%d/%d" % (fig["held"], conns), "%d/%d" % (fig["survived"], conns),
            "%d/%d" % (fig["sample_ok"], fig["sampled"]),
            "%.1f" % (fig["rss_before_kib"] / 1024), "%.1f" % (fig["rss_kib"] / 1024),
            "%.2f" % fig["per_connection_kib"],
            "%.3f" % fig.get("p50_ms", float("nan")), "%.3f" % fig.get("p99_ms", float("nan")),
            "%.3f" % fig.get("max_ms", float("nan")), str(fig["errors"])])
    out = [benchlib.table(rows, ["server", "held", "survived", "sample ok", "RSS before MiB",
                                 "RSS idle MiB", "KiB/conn", "p50 ms", "p99 ms", "max ms",
                                 "errors"])]
    otad = results[0]
    out.append("")
    if conns == TARGET_CONNECTIONS:
        verdict = met(otad["rss_kib"] <= RSS_TARGET_KIB)
    else:
        verdict = "not judged, measured with %d" % conns
    out.append("target: otad RSS <= %d MiB with %d idle connections: %.1f MiB, %s"
               % (RSS_TARGET_KIB // 1024, TARGET_CONNECTIONS, otad["rss_kib"] / 1024, verdict))
    if "p99_ms" in otad:
        out.append("target: fresh-client p99 <= %.0f ms: %.3f ms, %s"
                   % (P99_TARGET_MS, otad["p99_ms"], met(otad["p99_ms"] <= P99_TARGET_MS)))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("otad", nargs="?", default=benchlib.default_otad())
    ap.add_argument("--connections", type=int, default=TARGET_CONNECTIONS,
                    help="idle connections to hold (default %(default)d)")
    ap.add_argument("--requests", type=int, default=2000,
                    help="block requests of the fresh client (default %(default)d)")
    ap.add_argument("--also-nginx", action="store_true", help="run the same against nginx")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON to PATH")
    # The second process's mode and its parameters.
    ap.add_argument("--hold", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--name", default=NAME, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.connections < 1 or args.requests < 1:
        benchlib.die("--connections and --requests must be at least 1")
    if args.hold:
        return hold(args)

    otad = benchlib.require_executable(args.otad, "otad")
    problem = nofile_problem(args.connections)
    if problem:
        benchlib.die(problem)
    data = benchlib.random_image(benchlib.IMAGE_460K, seed=460)
    tmp = tempfile.mkdtemp(prefix="otad-bench-idle-")
    results, problems = [], []
    try:
        fw = os.path.join(tmp, "firmware")
        benchlib.write_firmware(fw, NAME, data, version=1)
        # All the connections come from 127.0.0.1: no per-address limit.
        settings = {"idle_timeout": 600, "max_connections": 20000,
                    "max_connections_per_address": 0}
        probe = "/%s/header" % NAME
        with benchlib.Otad(otad, fw, settings).start(probe) as server:
            fig, found = measure(server, data, args.connections, args.requests)
        results.append(fig)
        problems += ["otad: " + p for p in found]
        if args.also_nginx:
            www = os.path.join(tmp, "www")
            benchlib.write_static_tree(www, NAME, data, version=1)
            with benchlib.Nginx(www).start(probe) as server:
                fig, found = measure(server, data, args.connections, args.requests)
            results.append(fig)
            problems += ["nginx: " + p for p in found]
    except RuntimeError as e:
        benchlib.die(str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("%s, %d idle keep-alive connections from a second process, then %d block "
          "requests on a fresh connection" % (otad, args.connections, args.requests))
    print(summary(results, args.connections, args.requests))
    if args.json:
        out = dict(results[0])
        if len(results) > 1:
            out["nginx"] = results[1]
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
    for p in problems:
        print("ERROR: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
