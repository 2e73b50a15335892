#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The access log (access_log: off | downloads | requests) against the real
otad: one line per download that ended on a connection (finished or
abandoned) by default, one line per request with `requests`, none with
`off`; the client's port as the test's socket has it, the byte counts of
the protocol (260 a block), the path escaped, and no second line for a
finished download from the registry."""

import os
import re
import socket
import time

from otadtest import (Conn, OtadTestCase, block_count, ipv6_loopback_available, main, poll,
                      run_otad)

FINISHED = re.compile(r"^info: download finished .*$", re.M)
ABANDONED = re.compile(r"^info: download abandoned .*$", re.M)
REQUEST = re.compile(r"^info: request .*$", re.M)
DURATION = r"duration=(\d+)\.(\d{6})s rate=\d+B/s"


def wait_line(d, regex, timeout=5.0):
    """The first match of @regex in the log, waited for up to @timeout s."""
    found = []
    poll(lambda: found.append(regex.search(d.stderr())) or found[-1] is not None, timeout)
    if found[-1] is None:
        raise AssertionError("no line %r in:\n%s" % (regex.pattern, d.stderr()))
    return found[-1]


class AccessLog(OtadTestCase):
    def setUp(self):
        super().setUp()
        # 10 full blocks and 4 bytes: 11 blocks, the last one padded.
        self.image = self.add_image("app", os.urandom(10 * 256 + 4), version=7)
        self.blocks = block_count(self.image)
        self.assertEqual(self.blocks, 11)

    def blocks_on(self, c, count):
        for n in range(count):
            self.assertEqual(c.request("/app/block/%d" % n).status, 200)

    def test_finished_download_is_one_line(self):
        d = self.start()
        t0 = time.monotonic()
        with d.conn() as c:
            port = c.sock.getsockname()[1]
            self.assertEqual(c.request("/app/header").status, 200)
            self.blocks_on(c, self.blocks)
            elapsed_us = (time.monotonic() - t0) * 1e6
            m = wait_line(d, re.compile(
                r"^info: download finished 127\.0\.0\.1:%d app version=7 blocks=11/11 "
                r"bytes=2860 %s$" % (port, DURATION), re.M))
        self.assertLessEqual(int(m.group(1)) * 1e6 + int(m.group(2)), elapsed_us)
        time.sleep(0.2)    # the close: a finished download is not abandoned too
        log = d.stderr()
        self.assertEqual(len(FINISHED.findall(log)), 1, log)
        self.assertEqual(ABANDONED.findall(log), [], log)
        # The registry's own "downloaded" line was the second of two.
        self.assertNotIn("downloaded", log)
        self.assertEqual(REQUEST.findall(log), [], log)

    def test_abandoned_when_the_connection_closes(self):
        d = self.start(config="access_log: downloads\n")
        with d.conn() as c:
            port = c.sock.getsockname()[1]
            self.assertEqual(c.request("/app/header").status, 200)
            self.blocks_on(c, 3)
        wait_line(d, re.compile(r"^info: download abandoned 127\.0\.0\.1:%d app version=7 "
                                r"blocks=3/11 bytes=780 %s$" % (port, DURATION), re.M))
        self.assertEqual(FINISHED.findall(d.stderr()), [])

    def test_abandoned_for_another_firmware(self):
        self.add_image("other", os.urandom(300), version=2)
        d = self.start()
        with d.conn() as c:
            port = c.sock.getsockname()[1]
            self.blocks_on(c, 2)
            self.assertEqual(c.request("/other/header").status, 200)
            # Its first block ends the download of app before the close.
            self.assertEqual(c.request("/other/block/0").status, 200)
            wait_line(d, re.compile(r"^info: download abandoned 127\.0\.0\.1:%d app "
                                    r"version=7 blocks=2/11 bytes=520 " % port, re.M))
            self.assertEqual(c.request("/other/block/1").status, 200)
            wait_line(d, re.compile(r"^info: download finished 127\.0\.0\.1:%d other "
                                    r"version=2 blocks=2/2 bytes=520 " % port, re.M))

    def test_image_downloads(self):
        d = self.start()
        with d.conn() as c:
            port = c.sock.getsockname()[1]
            r = c.request("/app/image")
            self.assertEqual(r.body, self.image)
            wait_line(d, re.compile(r"^info: download finished 127\.0\.0\.1:%d app version=7 "
                                    r"blocks=0/11 bytes=%d " % (port, len(self.image)), re.M))
        with d.conn() as c:
            port = c.sock.getsockname()[1]
            self.assertEqual(c.request("/app/image", headers=[("Range", "bytes=0-9")]).status,
                             206)
        wait_line(d, re.compile(r"^info: download abandoned 127\.0\.0\.1:%d app version=7 "
                                r"blocks=0/11 bytes=10 " % port, re.M))

    def test_requests(self):
        d = self.start(config="access_log: requests\nlog_level: debug\n")
        with d.conn() as c:
            port = c.sock.getsockname()[1]
            self.assertEqual(c.request("/app/header").status, 200)
            self.assertEqual(c.request("/app/block/0").status, 200)
            self.assertEqual(c.request("/app/image", method="HEAD").status, 200)
            self.assertEqual(c.request("/x%0Awarning:%20forged/header").status, 404)
            self.assertEqual(c.request("/app/header", method="POST").status, 405)
        want = [("GET", "/app/header", 200, 20), ("GET", "/app/block/0", 200, 260),
                ("HEAD", "/app/image", 200, 0),
                ("GET", "/x\\x0awarning: forged/header", 404, len(b"not found\n")),
                ("POST", "/app/header", 405, len(b"method not allowed\n"))]
        poll(lambda: len(REQUEST.findall(d.stderr())) >= len(want))
        lines = REQUEST.findall(d.stderr())
        self.assertEqual(len(lines), len(want), d.stderr())
        for line, (method, path, status, size) in zip(lines, want):
            m = re.fullmatch(r"info: request 127\.0\.0\.1:%d %s %s status=%d bytes=%d us=(\d+)"
                             % (port, method, re.escape(path), status, size), line)
            self.assertIsNotNone(m, line)
            self.assertLess(int(m.group(1)), 5 * 10**6)
        log = d.stderr()
        # The info line replaces the debug one; no download lines.
        self.assertNotIn("debug: 127.0.0.1 GET", log)
        self.assertEqual(FINISHED.findall(log) + ABANDONED.findall(log), [], log)
        for line in log.splitlines():
            self.assertFalse(line.startswith("warning: forged"), log)

    def test_requests_time_the_answer(self):
        """us= is the time from the request's head to its answer: a head
        sent in two parts, 0.3 s apart, is timed from when it is complete."""
        d = self.start(config="access_log: requests\n")
        with d.conn() as c:
            c.send(b"GET /app/header HTTP/1.1\r\nHost: x\r\n")
            time.sleep(0.3)
            c.send(b"\r\n")
            self.assertEqual(c.read_response().status, 200)
        m = wait_line(d, re.compile(r"^info: request \S+ GET /app/header status=200 bytes=20 "
                                    r"us=(\d+)$", re.M))
        self.assertLess(int(m.group(1)), 250000)

    def test_off(self):
        d = self.start(config="access_log: off\n")
        with d.conn() as c:
            self.assertEqual(c.request("/app/header").status, 200)
            self.blocks_on(c, self.blocks)
        with d.conn() as c:
            self.blocks_on(c, 1)
        self.assertEqual(d.get("/nosuch/header").status, 404)
        time.sleep(0.3)
        log = d.stderr()
        self.assertEqual(FINISHED.findall(log) + ABANDONED.findall(log) + REQUEST.findall(log),
                         [], log)
        self.assertNotIn("downloaded", log)

    def test_ipv6_client(self):
        if not ipv6_loopback_available():
            self.skipTest("no IPv6 loopback")
        d = self.start(bind="::1", config="access_log: requests\n")
        with Conn(d.port, host="::1") as c:
            port = c.sock.getsockname()[1]
            self.assertEqual(c.request("/app/header").status, 200)
        wait_line(d, re.compile(r"^info: request \[::1\]:%d GET /app/header status=200 "
                                r"bytes=20 us=\d+$" % port, re.M))

    def test_setting_is_checked_and_shown(self):
        bad = self.config("access_log: everything\n", name="bad.yaml")
        r = run_otad(["--config", bad, "--firmware-dir", self.dir, "--port", "1"])
        self.assertEqual(r.returncode, 78, r)
        self.assertIn(b"bad.yaml:1:13: access_log: expected off, downloads or requests, "
                      b"got 'everything'", r.stderr)
        d = self.start(config="access_log: requests\n")
        self.assertIn(" access_log=requests ", d.stderr())


if __name__ == "__main__":
    main()
