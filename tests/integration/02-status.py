#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Status codes, HEAD, 405, and error responses that keep a connection in sync."""

from otadtest import OtadTestCase, main, request_bytes, vector

HEADER = vector("expected/header.bin")


class Status(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        self.d = self.start()

    def check_error(self, c, method, path, status, body=None):
        """Send one request on connection `c`, expect `status` with a short
        text body of exactly Content-Length bytes, then prove the connection
        is still in sync by fetching the header on the same socket."""
        r = c.request(path, method=method)
        self.assertEqual(r.status, status, "%s %s -> %r" % (method, path, r))
        self.assertEqual(len(r.all("Content-Length")), 1, r.headers)
        self.assertEqual(int(r.header("Content-Length")), len(r.body))
        self.assertIsNone(r.header("Date"), r.headers)
        self.assertIsNone(r.header("Server"), r.headers)
        if method != "HEAD":
            self.assertTrue(r.body.endswith(b"\n"), r.body)
            self.assertLess(len(r.body), 100, r.body)
            if body is not None:
                self.assertEqual(r.body, body, path)
        nxt = c.request("/vec/header")
        self.assertEqual((nxt.status, nxt.body), (200, HEADER),
                         "connection out of sync after %s %s" % (method, path))
        return r

    def test_not_found(self):
        """Unknown images, malformed block numbers and unknown paths are 404.
        Block numbers must be plain digit strings: devices never send
        anything else, so anything else is a wrong URL, not a range error."""
        paths = ["/nope/header", "/nope/block/0", "/vec/block/-1",
                 "/vec/block/+1", "/vec/block/0x1", "/vec/block/1.0",
                 "/vec/block/%201", "/vec/block/1%20", "/vec/block/",
                 "/vec/block", "/vec/block/1/2", "/vec/block/1a",
                 "/vec/headers", "/vec/header/x", "/vec", "/", "/x/y/z",
                 "/firmwares/x", "/header", "/block/0"]
        with self.d.conn() as c:
            for p in paths:
                self.check_error(c, "GET", p, 404, b"not found\n")

    def test_out_of_range(self):
        """N >= blocknum is 416 however many digits it has: no overflow
        wrapping 2^32 or 2^64 back to a valid block."""
        paths = ["/vec/block/4", "/vec/block/1000", "/vec/block/" + "9" * 40,
                 "/vec/block/4294967296", "/vec/block/4294967297",
                 "/vec/block/18446744073709551616", "/vec/block/18446744073709551617",
                 "/vec/block/0000000000000000000000000000000000000004"]
        with self.d.conn() as c:
            for p in paths:
                self.check_error(c, "GET", p, 416, b"block out of range\n")

    def test_other_methods(self):
        """Only GET and HEAD exist: 405 with Allow, on every path."""
        with self.d.conn() as c:
            for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
                for p in ("/vec/header", "/vec/block/0", "/firmwares", "/nope"):
                    r = self.check_error(c, method, p, 405, b"method not allowed\n")
                    self.assertEqual(r.header("Allow"), "GET, HEAD")

    def test_post_with_body(self):
        """A POST carrying a body is refused with 405; if the connection
        stays open, it must still be in sync (the body was skipped)."""
        with self.d.conn() as c:
            c.send(request_bytes("/vec/header", "POST", body=b"x" * 1000))
            r = c.read_response()
            self.assertEqual(r.status, 405)
            self.assertEqual(r.header("Allow"), "GET, HEAD")
            if r.header("Connection") != "close":
                nxt = c.request("/vec/header")
                self.assertEqual((nxt.status, nxt.body), (200, HEADER))
        self.assertServing(self.d)

    def test_head(self):
        """HEAD gives the GET headers (Content-Length included) and no body.
        The GET that follows on the same socket proves no body was sent."""
        with self.d.conn() as c:
            for p in ("/vec/header", "/vec/block/3", "/firmwares",
                      "/firmwares?format=json", "/nope/header", "/vec/block/9"):
                g = c.request(p)
                h = c.request(p, method="HEAD")
                self.assertEqual(h.status, g.status, p)
                self.assertEqual(h.all("Content-Length"), [str(len(g.body))], p)
                self.assertEqual(h.header("Content-Type"), g.header("Content-Type"), p)
                self.assertEqual(h.body, b"")
                nxt = c.request("/vec/block/0")
                self.assertEqual(nxt.body, vector("expected/block-0.bin"), p)


if __name__ == "__main__":
    main()
