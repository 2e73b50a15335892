#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A small HTTP-aware TCP proxy that injects faults between a device and otad.

It listens on 127.0.0.1 (an ephemeral port unless told), and for every
connection it accepts it opens one to the upstream server. Requests pass
through unchanged, but their request lines are recorded (with a timestamp),
so a test can follow a download block by block; a request's body (a
report's) goes with it. Responses are framed by Content-Length (otad sends
it with every status but 204) and each one is handed, whole, to the
`on_response` hook before it is forwarded: the hook can return it changed
(a flipped bit in a block body), or None to pass it unchanged. The
`on_request` hook runs before a request is forwarded (a test can swap the
image on the server at a precise block); when it returns False, the request
is not forwarded and the connection is closed (a network failure there).

When either side closes, the other side is closed too, as a real network
path would; when the upstream refuses, the device's connection is closed
at once.

Usable as a library (FaultProxy) or from the command line:
    faultproxy.py --upstream 127.0.0.1:8080 [--listen PORT] [--flip-block N]
"""

import argparse
import re
import socket
import sys
import threading
import time

REQUEST_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/1\.[01]\r\n")
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n", re.I)
BLOCK_PATH = re.compile(r"^/[^/]+/block/(\d+)$")


def block_of(path):
    """The block number of a /NAME/block/N path, else None."""
    m = BLOCK_PATH.match(path or "")
    return int(m.group(1)) if m else None


def flip_bit(body, byte_index, bit=0):
    b = bytearray(body)
    b[byte_index] ^= 1 << bit
    return bytes(b)


class FaultProxy:
    def __init__(self, upstream_port, upstream_host="127.0.0.1", listen_port=0,
                 on_request=None, on_response=None):
        self.upstream = (upstream_host, upstream_port)
        self.on_request = on_request        # f(path) -> None, or False to drop
        self.on_response = on_response      # f(path, head, body) -> (head, body) or None
        self.lock = threading.Lock()
        self.requests = []                  # (monotonic time, method, path)
        self.connections = 0
        self.refused = 0
        self.modified = []                  # paths whose response the hook changed
        self.dropped = []                   # requests on_request dropped (with their connection)
        self.errors = []
        self._stop = threading.Event()
        self._socks = set()
        self._threads = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", listen_port))
        self.lsock.listen(8)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]

    # ---------------------------------------------------------------- life
    def start(self):
        self._spawn(self._accept_loop)
        return self

    def close(self):
        self._stop.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self._socks)
        for s in socks:
            _close(s)
        for t in self._threads:
            t.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------- observers
    def paths(self):
        with self.lock:
            return [p for (_, _, p) in self.requests]

    def block_requests(self, n):
        """How many times block N was requested."""
        return sum(1 for p in self.paths() if block_of(p) == n)

    def max_block(self):
        blocks = [b for b in (block_of(p) for p in self.paths()) if b is not None]
        return max(blocks) if blocks else -1

    # ------------------------------------------------------------ internals
    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self._threads.append(t)
        return t

    def _track(self, s):
        with self.lock:
            self._socks.add(s)

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                dev, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            dev.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._track(dev)
            try:
                up = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                with self.lock:
                    self.refused += 1
                _close(dev)
                continue
            up.settimeout(None)
            up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._track(up)
            with self.lock:
                self.connections += 1
            pending = []        # request paths awaiting their response, in order
            cond = threading.Condition()
            self._spawn(self._pump_requests, dev, up, pending, cond)
            self._spawn(self._pump_responses, up, dev, pending, cond)

    def _pump_requests(self, dev, up, pending, cond):
        buf = b""
        try:
            while True:
                data = dev.recv(65536)
                if not data:
                    break
                buf += data
                # Forward every complete request with its body (a report's,
                # framed by Content-Length; GETs have none); a partial one
                # waits for its end.
                while b"\r\n\r\n" in buf:
                    end = buf.index(b"\r\n\r\n") + 4
                    cl = CONTENT_LENGTH.search(buf[:end - 2])
                    end += int(cl.group(1)) if cl else 0
                    if len(buf) < end:
                        break
                    head, buf = buf[:end], buf[end:]
                    m = REQUEST_LINE.match(head)
                    method, path = (m.group(1).decode(), m.group(2).decode("latin-1")) \
                        if m else ("?", "?")
                    with self.lock:
                        self.requests.append((time.monotonic(), method, path))
                    if self.on_request is not None:
                        try:
                            verdict = self.on_request(path)
                        except Exception as e:     # reported to the test
                            self.errors.append("on_request(%s): %r" % (path, e))
                            verdict = None
                        if verdict is False:       # drop it and the connection
                            with self.lock:
                                self.dropped.append(path)
                            raise ConnectionAbortedError(path)
                    with cond:
                        pending.append((method, path))
                        cond.notify_all()
                    up.sendall(head)
                if len(buf) > 8192:             # not HTTP: pass it through raw
                    up.sendall(buf)
                    buf = b""
        except OSError:
            pass
        _close(up)
        _close(dev)

    def _pump_responses(self, up, dev, pending, cond):
        buf = b""
        try:
            while True:
                data = up.recv(65536)
                if not data:
                    break
                buf += data
                while b"\r\n\r\n" in buf:
                    end = buf.index(b"\r\n\r\n") + 4
                    head = buf[:end]
                    m = CONTENT_LENGTH.search(head[:-2])
                    with cond:
                        cond.wait_for(lambda: pending, timeout=2)
                        method, path = pending.pop(0) if pending else ("?", "?")
                    length = 0 if (m is None or method == "HEAD") else int(m.group(1))
                    while len(buf) < end + length:
                        more = up.recv(65536)
                        if not more:
                            raise EOFError
                        buf += more
                    body, buf = buf[end:end + length], buf[end + length:]
                    if self.on_response is not None:
                        try:
                            changed = self.on_response(path, head, body)
                        except Exception as e:
                            self.errors.append("on_response(%s): %r" % (path, e))
                            changed = None
                        if changed is not None:
                            head, body = changed
                            with self.lock:
                                self.modified.append(path)
                    dev.sendall(head + body)
        except (OSError, EOFError):
            pass
        _close(dev)
        _close(up)


def _close(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


def flip_once(block, byte_index=17, bit=3):
    """An on_response hook: flips one bit in the body of the first response
    to /NAME/block/BLOCK only (the device's next fetch of it is clean)."""
    state = {"done": False}

    def hook(path, head, body):
        if state["done"] or block_of(path) != block or len(body) != 260:
            return None
        state["done"] = True
        return head, flip_bit(body, byte_index, bit)

    return hook


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT of otad")
    ap.add_argument("--listen", type=int, default=0, help="port (default: ephemeral)")
    ap.add_argument("--flip-block", type=int, help="flip a bit in this block once")
    args = ap.parse_args()
    host, _, port = args.upstream.rpartition(":")
    hook = flip_once(args.flip_block) if args.flip_block is not None else None
    p = FaultProxy(int(port), host or "127.0.0.1", args.listen, on_response=hook).start()
    print("listening on 127.0.0.1:%d" % p.port, flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        p.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
