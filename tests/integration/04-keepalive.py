#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Keep-alive and pipelining: a whole download rides one TCP connection."""

import os
import re
import subprocess

from otadtest import OtadTestCase, main, make_block, make_header, request_bytes, vector


class KeepAlive(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        self.d = self.start()

    def test_curl_reuses_connection(self):
        """curl fetching header + blocks in one invocation opens exactly one
        connection; the files it writes are the vector bytes."""
        names = ["header"] + ["block/%d" % n for n in range(4)]
        urls = ["http://127.0.0.1:%d/vec/%s" % (self.d.port, n) for n in names]
        outs = [os.path.join(self.tmp, "out-%d" % i) for i in range(len(urls))]
        cmd = ["curl", "-sS", "-v", "--max-time", "20", "-w", "%{num_connects} %{http_code}\\n"]
        for url, out in zip(urls, outs):
            cmd += ["-o", out, url]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        stats = [line.split() for line in p.stdout.splitlines()]
        self.assertEqual([s[1] for s in stats], ["200"] * 5)
        self.assertEqual(sum(int(s[0]) for s in stats), 1, p.stdout)
        self.assertEqual(len(re.findall(r"Re-using existing connection", p.stderr)), 4, p.stderr)
        expected = ["header.bin"] + ["block-%d.bin" % n for n in range(4)]
        for out, exp in zip(outs, expected):
            with open(out, "rb") as f:
                self.assertEqual(f.read(), vector("expected/" + exp), exp)

    def test_many_sequential_requests(self):
        """No cap on requests per connection: a 460 KiB image is 1,800+
        requests on one connection. 300 here, all answered correctly."""
        blocks = [vector("expected/block-%d.bin" % n) for n in range(4)]
        header = vector("expected/header.bin")
        with self.d.conn() as c:
            for i in range(300):
                if i % 5 == 4:
                    r = c.request("/vec/header")
                    self.assertEqual((r.status, r.body), (200, header), i)
                else:
                    r = c.request("/vec/block/%d" % (i % 4))
                    self.assertEqual((r.status, r.body), (200, blocks[i % 4]), i)
                self.assertNotEqual(r.header("Connection"), "close", i)

    def test_pipelining(self):
        """20 requests written at once are answered in order, errors
        included (their Content-Length keeps the stream in sync)."""
        data = self.add_image("pipe", os.urandom(3000), version=9)
        d = self.start()
        plan = []
        for i in range(20):
            if i == 0:
                plan.append(("/pipe/header", 200, make_header(data, 9)))
            elif i % 7 == 3:
                plan.append(("/pipe/block/99", 416, None))
            elif i % 7 == 5:
                plan.append(("/nope/header", 404, None))
            else:
                n = i % 12
                plan.append(("/pipe/block/%d" % n, 200, make_block(data, n)))
        with d.conn() as c:
            c.send(b"".join(request_bytes(p) for p, _, _ in plan))
            for i, (path, status, body) in enumerate(plan):
                r = c.read_response()
                self.assertEqual(r.status, status, (i, path))
                if body is not None:
                    self.assertEqual(r.body, body, (i, path))
            # Nothing extra follows the 20 responses, and the socket is still usable.
            self.assertEqual(c.buf, b"")
            r = c.request("/pipe/block/0")
            self.assertEqual(r.body, make_block(data, 0))

    def test_concurrent_connections(self):
        """100 devices connected at once, their requests interleaved: each
        connection gets its own answers."""
        conns = []
        try:
            for _ in range(100):
                conns.append(self.d.conn())
            for rnd in range(3):
                for i, c in enumerate(conns):
                    c.send(request_bytes("/vec/block/%d" % ((i + rnd) % 4)))
                for i, c in enumerate(conns):
                    r = c.read_response()
                    self.assertEqual(r.body, vector("expected/block-%d.bin" % ((i + rnd) % 4)),
                                     (rnd, i))
        finally:
            for c in conns:
                c.close()

    def test_http10_keep_alive(self):
        """An HTTP/1.0 client asking for keep-alive gets correct responses too."""
        with self.d.conn() as c:
            for n in range(3):
                c.send(b"GET /vec/block/%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % n)
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, vector("expected/block-%d.bin" % n)))
                if r.header("Connection") is None or r.header("Connection").lower() != "keep-alive":
                    break


if __name__ == "__main__":
    main()
