#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile or broken clients: the daemon answers 4xx or closes, never dies.

After every case the daemon must still be alive and serve a normal request:
a bad request becomes an HTTP error, never an exit (STYLE.md, practice 5).
"""

import os
import re
import select
import socket
import struct
import time
import unittest

from otadtest import Conn, ConnectionClosed, OtadTestCase, main, request_bytes, vector


def send_and_read(c, data, timeout=5.0):
    """Write `data` (the server may stop reading and close meanwhile) and
    return the response, or None if the connection closed or was reset
    without a complete one."""
    try:
        c.send(data)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    try:
        return c.read_response(timeout=timeout)
    except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
        return None


class BadInput(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        self.d = self.start()

    def assertRefused(self, r, what, allowed=range(400, 500)):
        """Either no response (closed) or a status in `allowed`."""
        if r is not None:
            self.assertIn(r.status, allowed, "%s -> %r" % (what, r))
        self.assertServing(self.d)

    def test_path_tricks(self):
        """Lookups are in memory: traversal, NUL and empty segments are just
        404, and the connection stays usable after each."""
        paths = ["/../vec/header", "/../../../../etc/passwd", "/%2e%2e/header",
                 "/%2e%2e/%2e%2e/etc/passwd", "/vec/..", "/vec/%2e%2e/vec/header",
                 "/a/%00", "/vec%00/header", "/%00", "//header", "//vec/header",
                 "/vec//header", "/vec/block//0", "/vec/block/%00",
                 "/%2fvec/header", "/.vec/header", "/vec/./header"]
        with self.d.conn() as c:
            for p in paths:
                r = c.request(p)
                self.assertEqual(r.status, 404, p)
                self.assertEqual(int(r.header("Content-Length")), len(r.body), p)
                nxt = c.request("/vec/header")
                self.assertEqual(nxt.body, vector("expected/header.bin"), p)
        self.assertServing(self.d)

    def test_decoded_nul(self):
        """A %00 anywhere in the path matches no firmware, not the name or
        the endpoint in front of it (a C string would end at the NUL)."""
        self.add_image("app", bytes(range(256)) * 2, version=3)
        d = self.start()
        self.assertEqual(d.get("/app/header").status, 200)
        paths = ["/app%00x/header", "/app%00/header", "/app/header%00", "/app/header%00x",
                 "/app/block/0%00", "/app/block/0%001", "/app/image%00",
                 "/firmware/app.bin%00", "/firmware/app%00.bin", "/firmwares%00"]
        with d.conn() as c:
            for p in paths:
                r = c.request(p)
                self.assertEqual(r.status, 404, p)
                self.assertEqual(r.body, b"not found\n", p)

    def test_url_cannot_forge_log_lines(self):
        """At debug level each request is logged: a %0A or %0D in the URL,
        other control bytes and bytes that are not UTF-8 are escaped, so the
        request stays on its own line."""
        d = self.start(config="log_level: debug\n")
        forged = "/x%0Awarning:%20forged%0D%0Aerror:%20forged%1b%ff%C3%A9/header"
        self.assertEqual(d.get(forged).status, 404)
        self.assertEqual(d.get("/vec/header").status, 200)
        deadline = time.monotonic() + 10
        while "GET /vec/header 200" not in d.stderr():
            self.assertLess(time.monotonic(), deadline, d.stderr())
            time.sleep(0.05)
        log = d.stderr()
        for line in log.splitlines():
            self.assertFalse(line.startswith(("warning: forged", "error: forged")), log)
            self.assertNotIn("\x1b", line)
        self.assertIn("GET /x\\x0awarning: forged\\x0d\\x0aerror: forged\\x1b\\xff\u00e9/header 404",
                      log)

    def test_library_messages_cannot_forge_log_lines(self):
        """libmicrohttpd's own messages quote the URL (here: a body it could
        not send to a client that reset the connection); logged at debug
        level, they are escaped like the request lines."""
        name = "big\nwarning: forged"
        self.add_image(name, os.urandom(8 << 20))
        d = self.start(config="log_level: debug\n")
        if d.get("/big%0Awarning:%20forged/image", method="HEAD").status != 200:
            self.skipTest("names with control characters are not served")
        # The library does not always see the reset while sending: a few tries.
        for _ in range(10):
            with d.conn() as c:
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                c.send(request_bytes("/big%0Awarning:%20forged/image"))
                c.sock.recv(1)
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            deadline = time.monotonic() + 2
            while "request for" not in d.stderr() and time.monotonic() < deadline:
                time.sleep(0.05)
            if "request for" in d.stderr():
                break
        self.assertServing(d)
        log = d.stderr()
        self.assertIn("request for `/big\\x0awarning: forged/image'", log)
        # (The catalog's own lines about this name are not the point here.)
        for line in log.splitlines():
            self.assertFalse(line.startswith("warning: forged/image"), log)

    def test_library_messages_go_through_the_log(self):
        """What libmicrohttpd says while starting (here: about a thread pool
        of one) is a log line like any other, never raw text on stderr."""
        d = self.start(config="threads: 1\nlog_level: debug\n")
        self.assertServing(d)
        log = d.stderr()
        self.assertIn("debug: libmicrohttpd: ", log)
        for line in log.splitlines():
            self.assertRegex(line, r"^(debug|info|warning|error): ", log)

    def test_long_url(self):
        """A 64 KiB URL is refused (414 expected) or the connection closed."""
        with self.d.conn() as c:
            r = send_and_read(c, request_bytes("/" + "a" * 65536))
        self.assertRefused(r, "64 KiB URL")

    def test_huge_header(self):
        """One 100 KiB header value: 431 expected, or the connection closed."""
        with self.d.conn() as c:
            r = send_and_read(c, request_bytes("/vec/header", headers=[("X-Big", "b" * 102400)]))
        self.assertRefused(r, "100 KiB header")

    def test_endless_header(self):
        """A header that never ends (up to 1 MiB in 5 s) must not be buffered
        without bound: the server answers 4xx or closes before we are done."""
        with self.d.conn() as c:
            c.send(b"GET /vec/header HTTP/1.1\r\nHost: x\r\nX-Endless: ")
            sent, reacted = 0, False
            deadline = time.monotonic() + 5.0
            c.sock.settimeout(0.5)
            while sent < (1 << 20) and time.monotonic() < deadline:
                if select.select([c.sock], [], [], 0)[0]:
                    reacted = True
                    break
                try:
                    sent += c.sock.send(b"e" * 4096)
                except socket.timeout:
                    continue          # server stopped reading; see if it answers
                except (BrokenPipeError, ConnectionResetError):
                    reacted = True
                    break
            if not reacted:
                # All sent: the server must react within a moment.
                reacted = bool(select.select([c.sock], [], [], 2.0)[0])
            self.assertTrue(reacted, "no reaction after %d header bytes" % sent)
            try:
                r = c.read_response(timeout=3.0)
            except (ConnectionClosed, ConnectionResetError):
                r = None
        self.assertRefused(r, "endless header")

    def test_header_room(self):
        """A request head and its response header share connection_memory
        (2K by default). A 750-byte token and a 300-byte cookie (the library
        keeps a second, parsed copy of cookies) are served, whole images
        included; a 1,300-byte head is refused with 431 by otad before the
        response header could fail to fit; 2,000 small headers with 431 by
        the library. The daemon goes on serving."""
        for extra in ([("Authorization", "Bearer " + "t" * 750)],
                      [("Cookie", "session=" + "c" * 300)]):
            with self.d.conn() as c:
                r = send_and_read(c, request_bytes("/vec/header", headers=extra))
                self.assertIsNotNone(r, "connection closed instead of an answer")
                self.assertEqual((r.status, r.body), (200, vector("expected/header.bin")))
                r = send_and_read(c, request_bytes("/vec/image",
                                                   headers=extra + [("Range", "bytes=0-9")]))
                self.assertIsNotNone(r, "connection closed instead of an answer")
                self.assertEqual(r.status, 206)
        req = request_bytes("/vec/header", headers=[("X-Pad", "p" * 1250)])
        self.assertGreater(len(req), 1250)
        with self.d.conn() as c:
            r = send_and_read(c, req)
            self.assertIsNotNone(r, "connection closed instead of an answer")
            self.assertEqual(r.status, 431)
            self.assertEqual(r.header("Connection"), "close")
        with self.d.conn() as c:
            r = send_and_read(c, request_bytes(
                "/vec/header", headers=[("X-H%04d" % i, "v") for i in range(2000)]))
            self.assertIsNotNone(r, "connection closed instead of an answer")
            self.assertEqual(r.status, 431)
        self.assertServing(self.d)

    def test_connection_memory_setting(self):
        """connection_memory: 32K lets 300 small headers through (refused
        with the default); 24 KiB of headers are still refused with 431."""
        small = request_bytes("/vec/header", headers=[("X-H%04d" % i, "v") for i in range(300)])
        with self.d.conn() as c:
            r = send_and_read(c, small)
            self.assertIsNotNone(r, "connection closed instead of an answer")
            self.assertEqual(r.status, 431)
        d = self.start(config="connection_memory: 32K\n")
        with d.conn() as c:
            r = send_and_read(c, small)
            self.assertIsNotNone(r, "connection closed instead of an answer")
            self.assertEqual((r.status, r.body), (200, vector("expected/header.bin")))
        req = request_bytes("/vec/header", headers=[("X-H%04d" % i, "v") for i in range(2000)])
        self.assertLess(len(req), 32 * 1024)
        with d.conn() as c:
            r = send_and_read(c, req)
            self.assertIsNotNone(r, "connection closed instead of an answer")
            self.assertEqual(r.status, 431)
        self.assertServing(d)

    def test_garbage(self):
        """Malformed requests get 400 (or a close), never a crash or a hang."""
        cases = [
            ("binary", bytes(range(256)) * 4 + b"\r\n\r\n", range(400, 500)),
            ("tls hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(200) + b"\r\n\r\n",
             range(400, 500)),
            ("no path", b"GET\r\n\r\n", range(400, 500)),
            ("too many words", b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", range(400, 500)),
            # RFC 9112 wants 400, libmicrohttpd 0.9.75 answers: either is harmless.
            ("no host", b"GET /vec/header HTTP/1.1\r\n\r\n", list(range(400, 500)) + [200]),
            ("bad version", b"GET /vec/header HTTP/9.9\r\nHost: x\r\n\r\n",
             list(range(400, 500)) + [505]),
            ("negative length", b"GET /vec/header HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
             range(400, 500)),
            ("huge length",
             b"GET /vec/header HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
             range(400, 500)),
            ("no colon", b"GET /vec/header HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
             list(range(400, 500)) + [200]),
        ]
        for name, data, allowed in cases:
            with self.subTest(name), Conn(self.d.port) as c:
                r = send_and_read(c, data, timeout=3.0)
                self.assertRefused(r, name, allowed)

    # --- error answers: short text/plain bodies, Content-Length exact -------
    def assertPlainError(self, data, status, reason, body, closes, conn=None):
        """Sends `data` (on `conn`, or a new connection) and checks the
        answer byte by byte: the status line, text/plain, a Content-Length
        equal to the body's bytes, the body; `closes`: the connection is
        closed after it."""
        c = conn or Conn(self.d.port)
        try:
            r = send_and_read(c, data)
            self.assertIsNotNone(r, "closed without an answer to %r" % data[:60])
            self.assertEqual(r.head_bytes.split(b"\r\n")[0],
                             ("HTTP/1.1 %d %s" % (status, reason)).encode())
            self.assertEqual(r.all("Content-Type"), ["text/plain"], r.head_bytes)
            self.assertEqual(r.all("Content-Length"), [str(len(body))], r.head_bytes)
            self.assertEqual(r.body, body)
            if closes:
                self.assertEqual(r.header("Connection"), "close")
                self.assertTrue(c.wait_closed(5.0), "still open after %d" % status)
                self.assertEqual(c.buf, b"", "bytes after the answer")
        finally:
            if conn is None:
                c.close()

    def test_otad_error_answers(self):
        """Every error otad sends: status line, text/plain, exact length."""
        self.assertPlainError(request_bytes("/nope/header"), 404, "Not Found", b"not found\n",
                              False)
        self.assertPlainError(request_bytes("/vec/block/4"), 416, "Range Not Satisfiable",
                              b"block out of range\n", False)
        self.assertPlainError(request_bytes("/vec/header", method="DELETE"), 405,
                              "Method Not Allowed", b"method not allowed\n", False)
        self.assertPlainError(request_bytes("/vec/block/0", headers=[("If-Match", '"0-0"')]),
                              412, "Precondition Failed", b"precondition failed\n", False)
        self.assertPlainError(request_bytes("/vec/header", headers=[("X-Pad", "p" * 1250)]),
                              431, "Request Header Fields Too Large",
                              b"request header too large\n", True)
        self.assertServing(self.d)

    def test_uri_too_long(self):
        """A request target longer than 1,024 bytes (query included) is
        answered 414 by otad and the connection closed; 1,024 bytes are
        still read (a 404 here, the connection kept)."""
        for target, status in (("/vec/header?" + "q" * (1024 - 12), 200),
                               ("/" + "a" * 1023, 404)):
            self.assertEqual(len(target), 1024)
            with Conn(self.d.port) as c:
                r = send_and_read(c, request_bytes(target))
                self.assertEqual(r.status, status, target[:20])
                self.assertEqual(c.request("/vec/header").body, vector("expected/header.bin"))
        for target in ("/vec/header?" + "q" * (1025 - 12), "/" + "a" * 1500):
            self.assertPlainError(request_bytes(target), 414, "URI Too Long",
                                  b"uri too long\n", True)
        self.assertServing(self.d)

    def test_garbage_request_line(self):
        """A request line the library cannot split (no space, or a space
        first) gets otad's 400, not a silent close: as the first request,
        and after an answered one on a kept-alive connection."""
        for line in (b"GARBAGE", b"GET", b" /vec/header HTTP/1.1", bytes(range(1, 32)) + b"xyz"):
            with self.subTest(line=line):
                self.assertPlainError(line + b"\r\n\r\n", 400, "Bad Request",
                                      b"bad request\n", True)
        with Conn(self.d.port) as c:
            self.assertEqual(c.request("/vec/header").body, vector("expected/header.bin"))
            self.assertPlainError(b"GARBAGE\r\n\r\n", 400, "Bad Request", b"bad request\n",
                                  True, conn=c)
        # A client that closes between requests, or before sending any, is
        # not answered.
        with Conn(self.d.port) as c:
            self.assertEqual(c.request("/vec/header").status, 200)
            c.sock.shutdown(socket.SHUT_WR)
            self.assertTrue(c.wait_closed(5.0))
            self.assertEqual(c.buf, b"")
        self.assertServing(self.d)

    def test_library_error_answers(self):
        """What remains the library's (otad(8), Status codes): answered
        before otad is asked, with its own HTML body and no Content-Type,
        but a Content-Length equal to the body and the connection closed."""
        cases = [(b"GET /vec/header FOO/1.1\r\nHost: x\r\n\r\n", 400),
                 (b"GET /vec/header HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", 400),
                 (b"GET /vec/header HTTP/2.0\r\nHost: x\r\n\r\n", 505),
                 (b"GET /vec/header HTTP/0.9\r\nHost: x\r\n\r\n", 505),
                 (request_bytes("/" + "a" * 4000), 414),
                 (request_bytes("/vec/header", headers=[("X-Pad", "p" * 4000)]), 431)]
        for data, status in cases:
            with self.subTest(data=data[:40], status=status), Conn(self.d.port) as c:
                r = send_and_read(c, data)
                self.assertIsNotNone(r, "closed without an answer")
                self.assertEqual(r.status, status)
                self.assertEqual(r.all("Content-Length"), [str(len(r.body))], r.head_bytes)
                self.assertTrue(c.wait_closed(5.0))
        self.assertServing(self.d)

    @unittest.expectedFailure
    def test_malformed_content_length_reply(self):
        """What remains (otad(8)): libmicrohttpd answers a malformed
        Content-Length itself, before otad is asked, and 0.9.75 builds that
        answer's status line and headers twice (fixed in libmicrohttpd
        1.0.0). When this passes, the library was fixed: drop the marker and
        the note in otad(8)."""
        for value in (b"abc", b"99999999999999999999999"):
            with Conn(self.d.port) as c:
                c.send(b"GET /firmwares HTTP/1.1\r\nHost: x\r\nContent-Length: " + value +
                       b"\r\n\r\n")
                self.assertTrue(c.wait_closed(10.0))
                head, _, body = c.buf.partition(b"\r\n\r\n")
                self.assertEqual(c.buf.count(b"HTTP/1.1 "), 1, c.buf)
                length = re.search(rb"\r\nContent-Length: (\d+)", head)
                self.assertEqual(int(length.group(1)), len(body), c.buf)
        self.assertServing(self.d)

    def test_client_vanishes(self):
        """Half a request then a close, a reset, or a client that pipelines
        300 requests and leaves without reading: the server keeps running."""
        with self.d.conn() as c:
            c.send(b"GET /vec/he")
        with self.d.conn() as c:
            c.send(b"GET /vec/header HTTP/1.1\r\nHo")
            # SO_LINGER 0: close() sends a RST instead of a FIN.
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self.d.conn() as c:
            c.send(b"".join(request_bytes("/vec/block/%d" % (i % 4)) for i in range(300)))
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self.d.conn() as c:
            c.send(b"".join(request_bytes("/vec/block/%d" % (i % 4)) for i in range(300)))
            c.sock.shutdown(socket.SHUT_RD)
        time.sleep(0.3)
        self.assertServing(self.d)


if __name__ == "__main__":
    main()
