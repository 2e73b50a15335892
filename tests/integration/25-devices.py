#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The device port feeding the fleet registry: identity, downloads, reports.

A device is known by the X-Device-Id it sends with its header request, or by
its address when it sends none (the legacy bootloaders). A finished download
is one info line; POST /NAME/report carries the device's own word on how the
update went, and bad reports are refused with the status the otad(8) FLEET
section gives, logged at most once a minute per address. The admin paths are
not served on this port. Expected figures (block counts, bytes, rates) are
worked out here from the image bytes, never taken from otad.
"""

import json
import os
import re
import socket
import struct
import threading
import time

from otadtest import OtadTestCase, block_count, crc32, main, poll

DEVICE_ID = "0123456789ABCDEF01234567"     # an STM32 96-bit unique ID in hex
REPORT_MAX = 1024


def report_request(name, body, headers=None):
    """The bytes of POST /NAME/report with @body (bytes)."""
    lines = ["POST /%s/report HTTP/1.1" % name, "Host: x",
             "Content-Type: application/x-www-form-urlencoded",
             "Content-Length: %d" % len(body)]
    lines += ["%s: %s" % kv for kv in headers or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def post_report(d, name, body, headers=None):
    """One report on a fresh connection; returns the Response."""
    with d.conn() as c:
        c.send(report_request(name, body.encode() if isinstance(body, str) else body, headers))
        return c.read_response()


def download_line(address, name, version, blocks):
    """Regex of the access log's line for a download finished on one
    connection; groups: port, seconds, microseconds."""
    return re.compile(r"^info: download finished %s:(\d+) %s version=%d blocks=%d/%d "
                      r"bytes=%d duration=(\d+)\.(\d{6})s rate=\d+B/s( device=\S+)?$"
                      % (re.escape(address), re.escape(name), version, blocks, blocks,
                         blocks * 260), re.M)


def device_json(d, device):
    """The registry's copy of @device, through the admin API."""
    r = d.admin_get("/devices/%s?format=json" % device)
    if r.status != 200:
        raise AssertionError("GET /devices/%s: %d" % (device, r.status))
    return json.loads(r.body)


def wait_downloaded(d, device, name, blocks):
    """Waits until the registry has @device downloaded @name's @blocks."""
    seen = []

    def done():
        seen.append(device_json(d, device))
        dev = seen[-1].get("device", seen[-1])
        return (dev["state"], dev["firmware"], dev["blocks_served"]) == ("downloaded", name,
                                                                         blocks)
    if not poll(done, 5.0):
        raise AssertionError("%s not downloaded: %r" % (device, seen[-1:]))


def wait_for(d, regex, timeout=5.0):
    """The match of @regex in the daemon's log, waited for up to @timeout s."""
    found = []
    poll(lambda: found.append(regex.search(d.stderr())) or found[-1] is not None, timeout)
    return found[-1]


class Bootloader:
    """The seed bootloader's client: Connection: close on every request, no
    other header, every request on one socket (as in 05-legacy)."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def close(self):
        self.sock.close()

    def get(self, path, size):
        """Sends the request, skips the response head, returns @size body
        bytes (the device waits for each response before the next request)."""
        self.sock.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                          % path.encode())
        buf = b""
        while len(buf.partition(b"\r\n\r\n")[2]) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed after %d bytes of the response" % len(buf))
            buf += chunk
        return buf.partition(b"\r\n\r\n")[2]


class Devices(OtadTestCase):
    def setUp(self):
        super().setUp()
        # 40 full blocks + 100 bytes: 41 blocks.
        self.image = self.add_image("app", os.urandom(40 * 256 + 100), version=7)
        self.blocks = block_count(self.image)

    def test_device_id_download(self):
        """Header with X-Device-Id, then every block without any header on the
        same connection: one line naming the device, its blocks and rate."""
        d = self.start()
        t0 = time.monotonic()
        with d.conn() as c:
            r = c.request("/app/header", headers=[("X-Device-Id", DEVICE_ID),
                                                  ("X-Device-Version", "6")])
            self.assertEqual(r.status, 200)
            for n in range(self.blocks):
                r = c.request("/app/block/%d" % n)
                self.assertEqual(r.status, 200)
                self.assertEqual(crc32(r.body[:256]), struct.unpack("<I", r.body[256:])[0])
            elapsed_ms = (time.monotonic() - t0) * 1000
            # Once: a block asked again is no second download.
            self.assertEqual(c.request("/app/block/0").status, 200)
        m = wait_for(d, download_line("127.0.0.1", "app", 7, self.blocks))
        self.assertIsNotNone(m, d.stderr())
        duration_ms = int(m.group(2)) * 1000 + int(m.group(3)) / 1000
        self.assertLessEqual(duration_ms, elapsed_ms + 1)
        # The line names the device and its rate, the bytes over that time.
        self.assertEqual(m.group(4), " device=%s" % DEVICE_ID)
        rate = int(re.search(r"rate=(\d+)B/s", m.group(0)).group(1))
        us = int(m.group(2)) * 1000000 + int(m.group(3))
        self.assertEqual(rate, self.blocks * 260 * 1000000 // us if us else 0)
        self.assertEqual(d.stderr().count("info: download finished "), 1)
        wait_downloaded(d, DEVICE_ID, "app", self.blocks)
        dev = device_json(d, DEVICE_ID)
        dev = dev.get("device", dev)
        # The rate is the download's body bytes over its duration, which
        # is no longer than the test took (0: under a millisecond).
        self.assertTrue(dev["rate"] == 0 or
                        dev["rate"] >= self.blocks * 260 * 1000 // (int(elapsed_ms) + 1), dev)

    def test_legacy_by_address(self):
        """The seed bootloader sends no header at all: it is known by its
        address, also across the legacy keep-alive's hand-backs, and a device
        opening a connection per request is known by its address too."""
        self.add_image("other", os.urandom(5 * 256), version=3)
        d = self.start()
        bl = Bootloader(d.port)
        try:
            self.assertEqual(struct.unpack("<5I", bl.get("/app/header", 20))[2], self.blocks)
            for n in range(self.blocks):
                bl.get("/app/block/%d" % n, 260)
        finally:
            bl.close()
        self.assertIsNotNone(wait_for(d, download_line("127.0.0.1", "app", 7, self.blocks)),
                             d.stderr())
        wait_downloaded(d, "127.0.0.1", "app", self.blocks)
        self.assertEqual(d.get("/other/header").status, 200)
        for n in range(5):
            self.assertEqual(d.get("/other/block/%d" % n).status, 200)
        wait_downloaded(d, "127.0.0.1", "other", 5)

    def test_many_at_once(self):
        """Devices downloading and reporting at the same time, on a worker
        thread each: every one gets its own line (and no sanitizer report,
        in the TSan build, where otad exits non-zero after one)."""
        d = self.start(config="threads: 4\n")
        ids = ["dev-%02d" % i for i in range(8)]
        errors = []

        def device(dev):
            try:
                with d.conn() as c:
                    if c.request("/app/header", headers=[("X-Device-Id", dev)]).status != 200:
                        raise AssertionError("header")
                    for n in range(self.blocks):
                        if c.request("/app/block/%d" % n).status != 200:
                            raise AssertionError("block %d" % n)
                    c.send(report_request("app", b"status=downloaded&version=7"))
                    if c.read_response().status != 204:
                        raise AssertionError("report")
            except Exception as e:      # reported below
                errors.append("%s: %r" % (dev, e))

        threads = [threading.Thread(target=device, args=(dev,)) for dev in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        self.assertFalse(any(t.is_alive() for t in threads))
        for dev in ids:
            wait_downloaded(d, dev, "app", self.blocks)
            self.assertIn("info: report %s 127.0.0.1 app status=downloaded version=7\n" % dev,
                          d.stderr())

    def test_report_accepted(self):
        d = self.start()
        r = post_report(d, "app", "status=installed&version=7", [("X-Device-Id", DEVICE_ID)])
        self.assertEqual(r.status, 204)
        self.assertEqual(r.body, b"")
        self.assertIsNotNone(wait_for(d, re.compile(
            r"^info: report %s 127\.0\.0\.1 app status=installed version=7$" % DEVICE_ID,
            re.M)), d.stderr())
        # With a reason; without an id, the device is its address.
        r = post_report(d, "app", "reason=flash&status=failed&version=8")
        self.assertEqual(r.status, 204)
        self.assertIsNotNone(wait_for(d, re.compile(
            r"^info: report 127\.0\.0\.1 127\.0\.0\.1 app status=failed version=8 reason=flash$",
            re.M)), d.stderr())
        # Exactly 1 KiB is still a report (unknown keys are ignored).
        body = "status=verified&pad="
        body += "x" * (REPORT_MAX - len(body))
        self.assertEqual(post_report(d, "app", body).status, 204)
        # A report and then a request on the same connection: the body was
        # read exactly, nothing of it is taken for the next request.
        with d.conn() as c:
            c.send(report_request("app", b"status=confirmed&version=7"))
            self.assertEqual(c.read_response().status, 204)
            self.assertEqual(c.request("/app/header").status, 200)

    def assertRefused(self, r, status):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.header("Content-Type"), "text/plain")
        self.assertTrue(r.body.endswith(b"\n") and len(r.body) > 1, r.body)

    def test_bad_reports(self):
        d = self.start()
        self.assertRefused(post_report(d, "app", "status=exploded"), 400)
        self.assertRefused(post_report(d, "app", "status=failed&reason=cosmic-rays"), 400)
        self.assertRefused(post_report(d, "app", "version=7"), 400)
        self.assertRefused(post_report(d, "nope", "status=installed"), 404)
        # GET on it: the endpoint takes POST only.
        r = d.get("/app/report")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "POST")
        # 1025 bytes announced: refused before the body is sent, then closed.
        with d.conn() as c:
            c.send(b"POST /app/report HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                   b"Expect: 100-continue\r\n\r\n" % (REPORT_MAX + 1))
            self.assertRefused(c.read_response(), 413)
            self.assertTrue(c.wait_closed(5))
        # A chunked body growing past 1 KiB: the connection is closed there.
        with d.conn() as c:
            c.send(b"POST /app/report HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"%x\r\n%s\r\n" % (REPORT_MAX + 1, b"x" * (REPORT_MAX + 1)))
            self.assertTrue(c.wait_closed(5))
            self.assertEqual(c.buf, b"")
        self.assertEqual(d.get("/app/header").status, 200)

    def test_refusals_logged_once_a_minute(self):
        """The refusals from one address: the first of each minute is logged,
        with how many were left out since the one before. The registry counts
        minutes of the wall clock: the first batch is sent late in a minute,
        the last report early in the next."""
        d = self.start()
        warn = re.compile(r"^warning: refused a report from 127\.0\.0\.1 for app: 400 .* "
                          r"\((\d+) more from this address since the last such warning\)$", re.M)
        deadline = time.monotonic() + 70
        while time.time() % 60 < 54:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(min(1.0, 54 - time.time() % 60))
        minute = int(time.time() // 60)
        for _ in range(5):
            self.assertEqual(post_report(d, "app", "status=unheard-of").status, 400)
        self.assertEqual(int(time.time() // 60), minute, "the batch took seconds")
        time.sleep(0.2)
        self.assertEqual([m.group(1) for m in warn.finditer(d.stderr())], ["0"])
        while int(time.time() // 60) == minute:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)
        self.assertEqual(post_report(d, "app", "status=unheard-of").status, 400)
        self.assertTrue(poll(lambda: len(warn.findall(d.stderr())) == 2), d.stderr())
        self.assertEqual([m.group(1) for m in warn.finditer(d.stderr())], ["0", "4"])

    def test_flood(self):
        """Reports from one address beyond its budget: 429, and the device
        port still serves."""
        d = self.start()
        statuses = []
        t0 = time.monotonic()
        with d.conn() as c:
            for _ in range(60):
                c.send(report_request("app", b"status=downloading"))
                statuses.append(c.read_response().status)
                if statuses[-1] == 429 or time.monotonic() - t0 > 10:
                    break
        self.assertEqual(statuses[0], 204)
        self.assertEqual(statuses[-1], 429, statuses)
        self.assertEqual(set(statuses), {204, 429})
        self.assertIsNotNone(wait_for(d, re.compile(
            r"^warning: refused a report from 127\.0\.0\.1 for app: 429 ", re.M)), d.stderr())
        self.assertEqual(d.get("/app/block/0").status, 200)

    def test_client_bytes_escaped(self):
        """A name from the URL is the client's bytes: escaped in the log."""
        d = self.start()
        self.assertEqual(post_report(d, "a%0Ainfo: forged", "status=installed").status, 404)
        self.assertIsNotNone(wait_for(d, re.compile(
            r"^warning: refused a report from 127\.0\.0\.1 for a\\x0ainfo: forged: 404 ",
            re.M)), d.stderr())
        self.assertNotIn("\ninfo: forged", d.stderr())

    def test_admin_paths_not_here(self):
        d = self.start()
        for path in ("/devices", "/devices/%s" % DEVICE_ID, "/devices?format=json",
                     "/metrics"):
            self.assertEqual(d.get(path).status, 404, path)

    def test_tracking_off(self):
        d = self.start(config="fleet:\n  track: false\n")
        self.assertEqual(post_report(d, "app", "status=installed&version=7").status, 404)
        self.assertEqual(d.get("/app/report").status, 404)
        with d.conn() as c:
            self.assertEqual(c.request("/app/header",
                                       headers=[("X-Device-Id", DEVICE_ID)]).status, 200)
            for n in range(self.blocks):
                self.assertEqual(c.request("/app/block/%d" % n).status, 200)
        time.sleep(0.2)
        self.assertNotIn("downloaded", d.stderr())
        self.assertNotIn("info: report", d.stderr())
        self.assertNotIn("refused a report", d.stderr())


if __name__ == "__main__":
    main()
