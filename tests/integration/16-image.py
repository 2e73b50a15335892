#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The raw image endpoint for HTTP OTA clients (ESP32 esp_https_ota, curl):
GET/HEAD /NAME/image and its alias /firmware/NAME.bin.

- curl against the real daemon: full GET and HEAD, every single-range form,
  clamping, 416 with "bytes */SIZE", If-Range (ETag and date, stale and
  fresh), If-None-Match, the alias, several ranges, 404, 405, and every
  header value (computed here with zlib, os.stat and email.utils).
- A raw-socket client replaying esp_https_ota's partial download on one
  keep-alive connection: HEAD, 4 KiB "bytes=a-b" ranges, an interruption,
  then a resume on a new connection with "bytes=N-" (ESP-IDF 5.5) or
  "bytes=N-SIZE" (one byte past the image: clamped).
- The same while the image is replaced between two chunks: the pinned
  connection keeps getting the generation its HEAD described; a resume with
  a stale If-Range gets the whole new image (a clean restart).
- If-Match with a retained and an unknown ETag; retain_seconds: 0 (412
  "generation gone"); a legacy "Connection: close" client keeps its pin.
- The throughput of one client fetching a 460 KiB image in 4 KiB ranges
  (printed, informational).

Expected bytes and validators come from the files written here, never from
the daemon: ETag = '"%08x-%x"' % (zlib.crc32, size).
"""

import email.utils
import os
import shutil
import subprocess
import sys
import time
import unittest

from otadtest import (OtadTestCase, crc32, etag_of, main, poll, publish,
                      sanitizer_reports)

CONFIG = "settle_ms: 50\n"
CHUNK = 4096                    # the partial-download request size used here
CURL = shutil.which("curl")
CURL_TIMEOUT = 20
OLD_MTIME = 1700000000.75       # Tue, 14 Nov 2023 22:13:20 GMT (fraction dropped)
OLD_DATE = "Tue, 14 Nov 2023 22:13:20 GMT"
MAX_ETAG = '"ffffffff-ffffffff"'
HEADER_BUDGET = 512             # ESP-IDF's default client buffer (see esp-https-ota.md)


class CurlResult:
    def __init__(self, status, headers, body, size_download):
        self.status = status
        self.headers = headers          # [(name, value)] in wire order
        self.body = body
        self.size_download = size_download

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return "<curl %d %r body=%d bytes>" % (self.status, self.headers, len(self.body))


def http_date(t):
    return email.utils.formatdate(int(t), usegmt=True)


def range_spec(first, last=None):
    return "bytes=%d-%s" % (first, "" if last is None else "%d" % last)


class Image(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.data = os.urandom(70001)           # 17 full 4 KiB chunks and a tail
        self.add_image("fw", self.data, version=42)
        self.set_mtime("fw", OLD_MTIME)

    def _stop_daemons(self):
        """Stop as the base class does, then look for sanitizer reports
        (ASan/TSan builds), which are written up to the daemon's exit."""
        super()._stop_daemons()
        for d in self.daemons:
            with open(d.stderr_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            self.assertEqual(sanitizer_reports(text), [], text[-4000:])

    # --- helpers ------------------------------------------------------
    def set_mtime(self, name, t):
        os.utime(os.path.join(self.dir, name + ".bin"), (t, t))

    def mtime(self, name):
        return int(os.stat(os.path.join(self.dir, name + ".bin")).st_mtime)

    def curl(self, d, path, *args):
        """Run curl on http://127.0.0.1:PORT/PATH; returns a CurlResult."""
        hdr = os.path.join(self.tmp, "curl.headers")
        body = os.path.join(self.tmp, "curl.body")
        for p in (hdr, body):
            if os.path.exists(p):
                os.remove(p)
        cmd = [CURL, "-s", "-S", "--noproxy", "*", "--max-time", "10",
               "-D", hdr, "-o", body, "-w", "%{http_code} %{size_download}"]
        cmd += list(args) + ["http://127.0.0.1:%d%s" % (d.port, path)]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CURL_TIMEOUT)
        self.assertEqual(p.returncode, 0, "%s: %s" % (cmd, p.stderr.decode()))
        status, size = p.stdout.decode().split()
        with open(hdr, "rb") as f:
            lines = f.read().decode("latin-1").split("\r\n")
        self.assertTrue(lines[0].startswith("HTTP/1.1 %s " % status), lines)
        headers = []
        for line in lines[1:]:
            if line:
                name, sep, value = line.partition(":")
                self.assertTrue(sep, line)
                headers.append((name, value.strip()))
        data = b""
        if os.path.exists(body):
            with open(body, "rb") as f:
                data = f.read()
        return CurlResult(int(status), headers, data, int(size))

    def assertFraming(self, r):
        """Content-Length once, never chunked (curl or raw responses)."""
        self.assertEqual(len(r.all("Content-Length")), 1, r)
        self.assertEqual(r.all("Transfer-Encoding"), [], r)
        names = [k for k, _ in r.headers]
        self.assertIn("Content-Length", names, "canonical case: %r" % names)

    def assertImageHeaders(self, r, data, version, mtime):
        """The validators and X-Firmware-* of image bytes `data`."""
        self.assertFraming(r)
        self.assertEqual(r.all("ETag"), [etag_of(data)], r)
        self.assertEqual(r.header("Accept-Ranges"), "bytes", r)
        lm = r.header("Last-Modified")
        self.assertEqual(lm, http_date(mtime), r)
        self.assertEqual(email.utils.parsedate_to_datetime(lm).timestamp(), int(mtime))
        self.assertEqual(r.header("X-Firmware-Version"), str(version), r)
        self.assertEqual(r.header("X-Firmware-CRC32"), "0x%08X" % crc32(data), r)
        self.assertEqual(r.header("X-Firmware-Size"), str(len(data)), r)

    def assertFull(self, r, data, version=42, mtime=OLD_MTIME):
        self.assertEqual(r.status, 200, r)
        self.assertImageHeaders(r, data, version, mtime)
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")
        self.assertEqual(r.header("Content-Length"), str(len(data)))
        self.assertIsNone(r.header("Content-Range"), r)
        self.assertTrue(r.body == data, "body differs from the image (%d bytes)" % len(r.body))

    def assertPart(self, r, data, first, last, version=42, mtime=OLD_MTIME):
        """206 for bytes first..last (inclusive, already clamped) of `data`."""
        self.assertEqual(r.status, 206, (first, last, r))
        self.assertImageHeaders(r, data, version, mtime)
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")
        self.assertEqual(r.header("Content-Range"), "bytes %d-%d/%d" % (first, last, len(data)))
        self.assertEqual(r.header("Content-Length"), str(last - first + 1))
        self.assertTrue(r.body == data[first:last + 1], "bytes %d-%d differ" % (first, last))

    def assertUnsatisfiable(self, r, data):
        self.assertEqual(r.status, 416, r)
        self.assertFraming(r)
        self.assertEqual(r.header("Content-Range"), "bytes */%d" % len(data))
        self.assertEqual(r.header("Content-Length"), "0")
        self.assertEqual(r.body, b"")

    def assertHeaderBudget(self, r):
        """The header block fits ESP-IDF's 512-byte buffer, even with the
        longest ETag and the longest sizes (4 GiB - 1) in every field."""
        digits = len(str(0xFFFFFFFF))
        worst = len(r.head_bytes) - len(etag_of(self.data)) + len(MAX_ETAG)
        worst += 5 * (digits - len(str(len(self.data))))        # sizes and offsets
        worst += digits - len(r.header("X-Firmware-Version"))
        worst += len("Connection: close\r\n")
        self.assertLessEqual(worst, HEADER_BUDGET, r.head_bytes)

    def wait_current(self, d, name, data):
        """Until fresh connections get `data` as NAME's image."""
        self.assertTrue(poll(lambda: d.get("/%s/image" % name, method="HEAD")
                             .header("ETag") == etag_of(data)),
                        "%s not reloaded within 5 s\n%s" % (name, d.stderr()[-3000:]))

    # --- curl -----------------------------------------------------------
    @unittest.skipUnless(CURL, "curl not installed")
    def test_curl_full_and_head(self):
        d = self.start(config=CONFIG)
        get = self.curl(d, "/fw/image")
        self.assertFull(get, self.data)
        head = self.curl(d, "/fw/image", "-I")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.size_download, 0)
        self.assertImageHeaders(head, self.data, 42, OLD_MTIME)
        self.assertEqual(head.header("Content-Length"), str(len(self.data)))
        self.assertEqual(sorted(head.headers), sorted(get.headers))
        # The alias: the same bytes and headers.
        alias = self.curl(d, "/firmware/fw.bin")
        self.assertFull(alias, self.data)
        self.assertEqual(sorted(alias.headers), sorted(get.headers))
        alias_head = self.curl(d, "/firmware/fw.bin", "-I")
        self.assertEqual((alias_head.status, alias_head.size_download), (200, 0))
        self.assertEqual(sorted(alias_head.headers), sorted(head.headers))
        # Version file missing: version 1. Mtime of another file.
        other = self.add_image("other", os.urandom(1234))
        self.wait_current(d, "other", other)
        r = self.curl(d, "/firmware/other.bin")
        self.assertFull(r, other, version=1, mtime=self.mtime("other"))

    @unittest.skipUnless(CURL, "curl not installed")
    def test_curl_ranges(self):
        d = self.start(config=CONFIG)
        size = len(self.data)
        cases = [  # (curl -r value, first, last)
            ("0-0", 0, 0),
            ("0-4095", 0, 4095),
            ("100-199", 100, 199),
            ("4096-8191", 4096, 8191),
            ("%d-%d" % (size - 1, size - 1), size - 1, size - 1),
            ("0-%d" % (size - 1), 0, size - 1),
            ("1000-", 1000, size - 1),
            ("%d-" % (size - 1), size - 1, size - 1),
            ("0-", 0, size - 1),
            ("-100", size - 100, size - 1),
            ("-1", size - 1, size - 1),
            ("-%d" % size, 0, size - 1),
            ("-%d" % (size + 50), 0, size - 1),                 # suffix longer than the image
            ("0-999999999", 0, size - 1),                       # clamped
            ("%d-%d" % (size - 10, size + 5), size - 10, size - 1),   # clamped
            ("%d-%d" % (size - 10, size), size - 10, size - 1),       # one past: clamped
        ]
        for spec, first, last in cases:
            with self.subTest(range=spec):
                self.assertPart(self.curl(d, "/fw/image", "-r", spec), self.data, first, last)
        # The same through the alias and as a raw Range header.
        self.assertPart(self.curl(d, "/firmware/fw.bin", "-r", "10-20"), self.data, 10, 20)
        self.assertPart(self.curl(d, "/fw/image", "-H", "Range: bytes=7-9"),
                        self.data, 7, 9)
        # HEAD with a range: the 206 headers, no body.
        r = self.curl(d, "/fw/image", "-I", "-r", "100-199")
        self.assertEqual((r.status, r.size_download), (206, 0))
        self.assertEqual(r.header("Content-Range"), "bytes 100-199/%d" % size)
        self.assertEqual(r.header("Content-Length"), "100")

        # Unsatisfiable: 416 with "bytes */SIZE".
        for spec in ("bytes=%d-" % size, "bytes=%d-%d" % (size, size + 10),
                     "bytes=%d-" % (size + 100), "bytes=-0", "bytes=99999999999-"):
            with self.subTest(range=spec):
                r = self.curl(d, "/fw/image", "-H", "Range: " + spec)
                self.assertUnsatisfiable(r, self.data)
                self.assertImageHeaders(r, self.data, 42, OLD_MTIME)
        r = self.curl(d, "/firmware/fw.bin", "-H", "Range: bytes=%d-" % size)
        self.assertUnsatisfiable(r, self.data)

        # Several ranges, or a Range that does not parse: the whole image, 200.
        for spec in ("bytes=0-1,5-6", "bytes=0-0,-1", "bytes=abc", "bytes=5-3",
                     "items=0-5", "bytes=", "bytes=-", "bytes=1-2-3", "bytes=0x10-"):
            with self.subTest(range=spec):
                self.assertFull(self.curl(d, "/fw/image", "-H", "Range: " + spec), self.data)
        self.assertFull(self.curl(d, "/fw/image", "-r", "0-1,5-6"), self.data)

    @unittest.skipUnless(CURL, "curl not installed")
    def test_curl_conditionals(self):
        d = self.start(config=CONFIG)
        size = len(self.data)
        etag = etag_of(self.data)
        other_etag = '"%08x-%x"' % (crc32(self.data) ^ 1, size)

        # If-Range: fresh validators give the range, stale ones the whole image.
        fresh = (etag, OLD_DATE)
        stale = (other_etag, '"00000000-1"', "W/" + etag,      # weak never matches If-Range
                 http_date(OLD_MTIME - 1), http_date(OLD_MTIME + 1),
                 http_date(time.time()))
        for v in fresh:
            with self.subTest(if_range=v):
                r = self.curl(d, "/fw/image", "-r", "4096-8191", "-H", "If-Range: " + v)
                self.assertPart(r, self.data, 4096, 8191)
                r = self.curl(d, "/fw/image", "-r", "%d-" % (size - 5), "-H", "If-Range: " + v)
                self.assertPart(r, self.data, size - 5, size - 1)
        for v in stale:
            with self.subTest(if_range=v):
                r = self.curl(d, "/fw/image", "-r", "4096-8191", "-H", "If-Range: " + v)
                self.assertFull(r, self.data)
        # A stale If-Range also beats an unsatisfiable range: the whole image.
        r = self.curl(d, "/fw/image", "-H", "Range: bytes=%d-" % size,
                      "-H", "If-Range: " + other_etag)
        self.assertFull(r, self.data)
        # If-Range without Range is ignored.
        self.assertFull(self.curl(d, "/fw/image", "-H", "If-Range: " + other_etag), self.data)

        # If-None-Match: 304 with the ETag and no body when it matches.
        for v in (etag, "*", '"00000000-1", ' + etag, '"00000000-1",%s' % etag,
                  "W/" + etag, ' W/"x", W/%s ' % etag):
            for args in ((), ("-I",), ("-r", "0-99")):
                with self.subTest(if_none_match=v, args=args):
                    r = self.curl(d, "/fw/image", "-H", "If-None-Match: " + v, *args)
                    self.assertEqual(r.status, 304, r)
                    self.assertEqual((r.body if not args else b"", r.size_download), (b"", 0))
                    self.assertEqual(r.all("ETag"), [etag])
                    self.assertFraming(r)
                    self.assertIn(r.header("Content-Length"), ("0", str(size)))
        r = self.curl(d, "/firmware/fw.bin", "-H", "If-None-Match: " + etag)
        self.assertEqual((r.status, r.all("ETag")), (304, [etag]))
        for v in (other_etag, '"00000000-1"', etag[1:-1], "W/" + other_etag):
            with self.subTest(if_none_match=v):
                self.assertFull(self.curl(d, "/fw/image", "-H", "If-None-Match: " + v),
                                self.data)
                r = self.curl(d, "/fw/image", "-r", "0-99", "-H", "If-None-Match: " + v)
                self.assertPart(r, self.data, 0, 99)

    @unittest.skipUnless(CURL, "curl not installed")
    def test_curl_errors(self):
        d = self.start(config=CONFIG)
        for path in ("/nope/image", "/firmware/nope.bin", "/firmware/fw", "/firmware/.bin", "/firmware/a/fw.bin",
                     "/fw/image/", "/fw/images", "/FW/image"):
            for args in ((), ("-r", "0-9"), ("-I",)):
                with self.subTest(path=path, args=args):
                    r = self.curl(d, path, *args)
                    self.assertEqual(r.status, 404, r)
                    self.assertFraming(r)
                    if not args or args[0] != "-I":
                        self.assertEqual(r.header("Content-Length"), str(len(r.body)))
                    self.assertIsNone(r.header("ETag"))
        for method in ("POST", "PUT", "DELETE", "OPTIONS"):
            for path in ("/fw/image", "/firmware/fw.bin"):
                with self.subTest(method=method, path=path):
                    r = self.curl(d, path, "-X", method)
                    self.assertEqual(r.status, 405, r)
                    self.assertEqual(r.header("Allow"), "GET, HEAD")
                    self.assertFraming(r)
                    self.assertEqual(r.header("Content-Length"), str(len(r.body)))
        r = self.curl(d, "/fw/image", "-d", "x=1")       # a POST with a body
        self.assertEqual(r.status, 405, r)
        self.assertFull(self.curl(d, "/fw/image"), self.data)

    def test_range_end_uint64_max(self):
        """An end past the image is clamped, up to the largest 64-bit value
        (a 20-digit number that still fits in uint64_t)."""
        d = self.start(config=CONFIG)
        size = len(self.data)
        for end in (2 ** 64 - 1, 2 ** 64 - 6, 2 ** 64 - 7, 2 ** 63):
            with self.subTest(end=end):
                r = d.get("/fw/image", headers=[("Range", "bytes=5-%d" % end)])
                self.assertPart(r, self.data, 5, size - 1)

    # --- raw socket: framing on one keep-alive connection --------------
    def test_keepalive_framing(self):
        """Every kind of image response on one connection: the next response
        still parses, so Content-Length is right and HEAD/304/416 carry no
        body; the header blocks fit ESP-IDF's 512-byte buffer."""
        d = self.start(config=CONFIG)
        size = len(self.data)
        etag = etag_of(self.data)
        with d.conn() as c:
            for _ in range(2):
                r = c.request("/fw/image", method="HEAD")
                self.assertEqual((r.status, r.header("Content-Length")), (200, str(size)))
                self.assertImageHeaders(r, self.data, 42, OLD_MTIME)
                self.assertHeaderBudget(r)
                r = c.request("/fw/image", method="HEAD", headers=[("Range", "bytes=0-9")])
                self.assertEqual((r.status, r.header("Content-Length")), (206, "10"))
                r = c.request("/fw/image", headers=[("If-None-Match", etag)])
                self.assertEqual(r.status, 304)
                r = c.request("/fw/image", headers=[("Range", "bytes=%d-" % size)])
                self.assertUnsatisfiable(r, self.data)
                r = c.request("/nope/image")
                self.assertEqual((r.status, r.body), (404, b"not found\n"))
                r = c.request("/fw/image", method="POST")
                self.assertEqual(r.status, 405)
                r = c.request("/fw/image", headers=[("Range", "bytes=%d-%d" % (size - 100, size))])
                self.assertPart(r, self.data, size - 100, size - 1)
                self.assertHeaderBudget(r)
                r = c.request("/firmware/fw.bin")
                self.assertFull(r, self.data)
                self.assertHeaderBudget(r)
            # Pipelined: answered in order.
            reqs = [("/fw/image", "bytes=0-3"), ("/firmware/fw.bin", "bytes=-4"),
                    ("/fw/image", "bytes=8-11")]
            c.send(b"".join(
                ("GET %s HTTP/1.1\r\nHost: x\r\nRange: %s\r\n\r\n" % p).encode() for p in reqs))
            for first, last in ((0, 3), (size - 4, size - 1), (8, 11)):
                self.assertPart(c.read_response(), self.data, first, last)
        self.assertTrue(d.alive())

    # --- raw socket: esp_https_ota's partial download --------------------
    def esp_start(self, c, path, data):
        """HEAD: the image size (and the ETag of what will be fetched)."""
        r = c.request(path, method="HEAD")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Length"), str(len(data)))
        self.assertEqual(r.header("ETag"), etag_of(data))
        return int(r.header("Content-Length")), r.header("ETag")

    def esp_chunks(self, c, path, data, start, stop, etag, mtime=OLD_MTIME):
        """Range requests of CHUNK bytes from `start` while below `stop`; each
        206 must carry `etag`, Last-Modified `mtime` (None: any date) and the
        bytes of `data`. Returns the bytes."""
        got = bytearray()
        pos = start
        while pos < stop:
            last = min(pos + CHUNK, len(data)) - 1
            r = c.request(path, headers=[("Range", range_spec(pos, last))])
            self.assertEqual(r.header("ETag"), etag, (pos, r))
            # ESP-IDF 6.0 reuses the connection unless told to close it.
            self.assertNotIn("close", (r.header("Connection") or "").lower(), r)
            if mtime is None:
                mtime = email.utils.parsedate_to_datetime(r.header("Last-Modified")).timestamp()
            self.assertPart(r, data, pos, last, version=r.header("X-Firmware-Version"),
                            mtime=mtime)
            got += r.body
            pos = last + 1
        return bytes(got)

    def test_esp_partial_download_and_resume(self):
        d = self.start(config=CONFIG)
        data, size = self.data, len(self.data)
        etag = etag_of(data)
        for path, resume_end in (("/fw/image", None), ("/firmware/fw.bin", size),
                                 ("/fw/image", size - 1)):
            with self.subTest(path=path, resume_end=resume_end):
                c = d.conn()
                try:
                    total, tag = self.esp_start(c, path, data)
                    self.assertEqual(tag, etag)
                    got = self.esp_chunks(c, path, data, 0, 9 * CHUNK, etag)
                    # Interrupted in the middle of the next response.
                    c.send(("GET %s HTTP/1.1\r\nHost: x\r\nRange: %s\r\n\r\n"
                            % (path, range_spec(len(got), len(got) + CHUNK - 1))).encode())
                    c.sock.recv(100)
                finally:
                    c.close()
                # ESP-IDF 5.5: a new connection, "bytes=N-" (or one past the end).
                with d.conn() as c2:
                    headers = [("Range", range_spec(len(got), resume_end))]
                    if resume_end == size:
                        headers.append(("If-Range", etag))
                    r = c2.request(path, headers=headers)
                    self.assertPart(r, data, len(got), size - 1)
                    image = got + r.body
                    self.assertEqual(len(image), total)
                    self.assertTrue(image == data, "reassembled image differs")
                    # The next download on the same connection: 0-0 first.
                    r = c2.request(path, headers=[("Range", "bytes=0-0")])
                    self.assertPart(r, data, 0, 0)
        # A resume that is all chunks, ending with "bytes=a-" (the ESP's last request).
        with d.conn() as c:
            self.esp_start(c, "/fw/image", data)
            got = self.esp_chunks(c, "/fw/image", data, 0, size - 1000, etag)
            r = c.request("/fw/image", headers=[("Range", range_spec(len(got)))])
            self.assertPart(r, data, len(got), size - 1)
            self.assertTrue(got + r.body == data)
        self.assertTrue(d.alive())

    # --- the image replaced during a download -----------------------------
    def test_replaced_mid_download(self):
        d = self.start(config=CONFIG)
        old, size = self.data, len(self.data)
        old_etag = etag_of(old)
        new = os.urandom(61234)
        new_etag = etag_of(new)
        newer = os.urandom(50000)
        # 1. One keep-alive connection: the HEAD pins the old generation; the
        #    image is replaced (twice, and the version with it) mid-download.
        with d.conn() as c:
            total, tag = self.esp_start(c, "/fw/image", old)
            got = self.esp_chunks(c, "/fw/image", old, 0, 5 * CHUNK, old_etag)
            publish(self.dir, "fw", new)
            self.write("fw.txt", "43\n")
            self.wait_current(d, "fw", new)
            new_mtime = self.mtime("fw")
            r = d.get("/fw/image", headers=[("Range", "bytes=0-99")])
            self.assertPart(r, new, 0, 99, version=r.header("X-Firmware-Version"),
                            mtime=new_mtime)
            got += self.esp_chunks(c, "/fw/image", old, len(got), 12 * CHUNK, old_etag)
            publish(self.dir, "fw", newer)
            self.wait_current(d, "fw", newer)
            got += self.esp_chunks(c, "/fw/image", old, len(got), size // CHUNK * CHUNK,
                                   old_etag)
            r = c.request("/fw/image", headers=[("Range", range_spec(len(got), size))])
            self.assertEqual(r.header("ETag"), old_etag)
            self.assertEqual(r.header("Content-Range"), "bytes %d-%d/%d"
                             % (len(got), size - 1, size))
            self.assertEqual(r.header("Last-Modified"), OLD_DATE)
            self.assertEqual(r.header("X-Firmware-CRC32"), "0x%08X" % crc32(old))
            got += r.body
            self.assertEqual(len(got), total)
            self.assertTrue(got == old, "pinned download is not the old image")
            # If-None-Match, If-Range and 416 on the pinned connection refer
            # to the pinned generation too.
            r = c.request("/fw/image", headers=[("Range", "bytes=0-9"),
                                                ("If-None-Match", old_etag)])
            self.assertEqual((r.status, r.header("ETag")), (304, old_etag))
            r = c.request("/fw/image", headers=[("Range", "bytes=0-9"),
                                                ("If-Range", old_etag)])
            self.assertPart(r, old, 0, 9, version=r.header("X-Firmware-Version"))
            r = c.request("/fw/image", headers=[("Range", "bytes=%d-" % size)])
            self.assertUnsatisfiable(r, old)
            # A GET without Range starts a new download: the current image.
            r = c.request("/fw/image")
            self.assertEqual((r.status, r.header("ETag")), (200, etag_of(newer)))
            self.assertTrue(r.body == newer)
            r = c.request("/fw/image", headers=[("Range", "bytes=0-9")])
            self.assertEqual((r.status, r.body), (206, newer[:10]))

        # 2. Interrupted after a replacement: the resume with If-Range of the
        #    old ETag gets the whole new image with 200, which the client takes.
        publish(self.dir, "fw", old)
        self.wait_current(d, "fw", old)
        # The same bytes again: the daemon takes back the retained generation
        # (same ETag), so Last-Modified stays that of its first load.
        old_mtime = OLD_MTIME
        with d.conn() as c:
            total, tag = self.esp_start(c, "/fw/image", old)
            got = self.esp_chunks(c, "/fw/image", old, 0, 4 * CHUNK, old_etag, old_mtime)
            publish(self.dir, "fw", new)
            self.wait_current(d, "fw", new)
            got += self.esp_chunks(c, "/fw/image", old, len(got), 8 * CHUNK, old_etag,
                                   old_mtime)
        for resume_end in (None, size):
            with self.subTest(resume_end=resume_end), d.conn() as c:
                r = c.request("/fw/image", headers=[("Range", range_spec(len(got), resume_end)),
                                                    ("If-Range", tag)])
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("ETag"), new_etag)
                self.assertEqual(r.header("Content-Length"), str(len(new)))
                self.assertIsNone(r.header("Content-Range"))
                image = r.body if r.status == 200 else got + r.body
                self.assertIn(image, (old, new))
                self.assertTrue(image == new, "restart did not give the new image")
                # The restart pinned the new generation on this connection.
                r = c.request("/fw/image", headers=[("Range", "bytes=0-15")])
                self.assertEqual((r.status, r.header("ETag"), r.body), (206, new_etag, new[:16]))
        # Without If-Range a fresh connection resumes from the current image
        # (the client's business: the ETag tells it that it changed).
        r = d.get("/fw/image", headers=[("Range", range_spec(len(got)))])
        self.assertEqual((r.status, r.header("ETag")), (206, new_etag))
        self.assertTrue(d.alive())

    def test_legacy_close_pinned(self):
        """A client sending "Connection: close" on every request and writing
        the next one on the same socket (legacy keep-alive): the HEAD's pin
        survives, ranges come from the old generation after a replacement."""
        d = self.start(config=CONFIG)
        old, new = self.data, os.urandom(12345)
        close = [("Connection", "close")]
        with d.conn() as c:
            r = c.request("/fw/image", method="HEAD", headers=close)
            self.assertEqual((r.status, r.header("ETag")), (200, etag_of(old)))
            r = c.request("/fw/image", headers=close + [("Range", "bytes=0-4095")])
            self.assertPart(r, old, 0, 4095)
            publish(self.dir, "fw", new)
            self.wait_current(d, "fw", new)
            r = c.request("/fw/image", headers=close + [("Range", "bytes=4096-")])
            self.assertPart(r, old, 4096, len(old) - 1, version=r.header("X-Firmware-Version"))
            r = c.request("/firmware/fw.bin", headers=close)
            self.assertEqual((r.status, r.header("ETag")), (200, etag_of(new)))
            self.assertTrue(r.body == new)

    def test_if_match(self):
        d = self.start(config=CONFIG)
        old, new = self.data, os.urandom(33333)
        publish(self.dir, "fw", new)
        self.wait_current(d, "fw", new)
        with d.conn() as c:
            for path in ("/fw/image", "/firmware/fw.bin"):
                r = c.request(path, headers=[("If-Match", etag_of(old)),
                                             ("Range", "bytes=4096-8191")])
                self.assertEqual((r.status, r.header("ETag")), (206, etag_of(old)), r)
                self.assertEqual(r.header("Content-Range"), "bytes 4096-8191/%d" % len(old))
                self.assertTrue(r.body == old[4096:8192])
                self.assertEqual(r.header("Last-Modified"), OLD_DATE)
                self.assertEqual(r.header("X-Firmware-CRC32"), "0x%08X" % crc32(old))
                self.assertEqual(r.header("X-Firmware-Size"), str(len(old)))
                r = c.request(path, headers=[("If-Match", etag_of(old))])
                self.assertEqual((r.status, r.header("ETag")), (200, etag_of(old)))
                self.assertTrue(r.body == old)
                r = c.request(path, headers=[("If-Match", '"00000000-1", ' + etag_of(old)),
                                             ("Range", "bytes=-10")])
                self.assertEqual((r.status, r.body), (206, old[-10:]))
                for cur in (etag_of(new), "*"):
                    r = c.request(path, headers=[("If-Match", cur), ("Range", "bytes=0-9")])
                    self.assertEqual((r.status, r.header("ETag"), r.body),
                                     (206, etag_of(new), new[:10]), cur)
                for bad in ('"deadbeef-1"', '"%08x-%x"' % (crc32(old), len(old) + 1),
                            "W/" + etag_of(old), "garbage", etag_of(old)[1:-1]):
                    for rng in (None, "bytes=0-9"):
                        headers = [("If-Match", bad)] + ([("Range", rng)] if rng else [])
                        r = c.request(path, headers=headers)
                        self.assertEqual(r.status, 412, (bad, r))
                        self.assertEqual(r.body, b"precondition failed\n")
                        self.assertFraming(r)
                        self.assertEqual(r.header("Content-Length"), str(len(r.body)))
                    r = c.request(path, method="HEAD", headers=[("If-Match", bad)])
                    self.assertEqual(r.status, 412)
            # Still in sync; the connection is not pinned by If-Match requests.
            r = c.request("/fw/image", headers=[("Range", "bytes=0-9")])
            self.assertEqual((r.status, r.body), (206, new[:10]))

    def test_optional_white_space(self):
        """Spaces and tabs after (or before) a condition's value are no part
        of it: "If-Match: * " once gave 412."""
        d = self.start(config=CONFIG)
        tag = etag_of(self.data)
        with d.conn() as c:
            for ws in (" ", "\t", " \t "):
                for path in ("/fw/block/0", "/fw/image"):
                    r = c.request(path, headers=[("If-Match", "*" + ws)])
                    self.assertEqual((r.status, r.header("ETag")), (200, tag), (path, ws))
                    r = c.request(path, headers=[("If-Match", '"00000000-1" ,' + ws + tag + ws)])
                    self.assertEqual(r.status, 200, (path, ws))
                r = c.request("/fw/image", headers=[("If-None-Match", tag + ws)])
                self.assertEqual(r.status, 304, repr(ws))
                r = c.request("/fw/image", headers=[("If-Range", tag + ws),
                                                    ("Range", "bytes=0-9")])
                self.assertEqual((r.status, r.body), (206, self.data[:10]), repr(ws))

    def test_generation_gone(self):
        """retain_seconds: 0 - the pinned connection's range request gets 412
        "generation gone" (never bytes of another image); a full GET re-pins."""
        d = self.start(config=CONFIG + "retain_seconds: 0\n")
        new = os.urandom(9999)
        with d.conn() as c:
            self.esp_start(c, "/fw/image", self.data)
            self.esp_chunks(c, "/fw/image", self.data, 0, CHUNK, etag_of(self.data))
            publish(self.dir, "fw", new)
            self.wait_current(d, "fw", new)
            for rng in ("bytes=4096-8191", "bytes=4096-", "bytes=-5"):
                r = c.request("/fw/image", headers=[("Range", rng)])
                self.assertEqual((r.status, r.body), (412, b"generation gone\n"), r)
                self.assertEqual(r.header("Content-Length"), str(len(r.body)))
            r = c.request("/fw/image", headers=[("If-Match", etag_of(self.data))])
            self.assertEqual((r.status, r.body), (412, b"precondition failed\n"))
            r = c.request("/fw/image", method="HEAD")
            self.assertEqual((r.status, r.header("ETag")), (200, etag_of(new)))
            r = c.request("/fw/image", headers=[("Range", "bytes=4096-")])
            self.assertEqual((r.status, r.body), (206, new[4096:]))

    # --- throughput ------------------------------------------------------
    def test_throughput_4k_ranges(self):
        """One client, one keep-alive connection: a 460 KiB image in 4 KiB
        ranges, three times (the best and the median are printed; only
        correctness is asserted)."""
        data = os.urandom(460 * 1024 + 321)
        self.add_image("big", data, version=7)
        d = self.start(config=CONFIG)
        etag = etag_of(data)
        runs = []
        with d.conn() as c:
            for _ in range(3):
                t0 = time.perf_counter()
                r = c.request("/big/image", method="HEAD")
                size = int(r.header("Content-Length"))
                image = bytearray()
                requests = 1
                while len(image) < size:
                    first = len(image)
                    last = min(first + CHUNK, size) - 1
                    r = c.request("/big/image", headers=[("Range", range_spec(first, last))])
                    requests += 1
                    if r.status != 206 or r.header("ETag") != etag or len(r.body) != \
                            last - first + 1 or r.header("Content-Range") != \
                            "bytes %d-%d/%d" % (first, last, size):
                        self.fail("range %d-%d: %r" % (first, last, r))
                    image += r.body
                runs.append(time.perf_counter() - t0)
                self.assertEqual(len(image), len(data))
                self.assertTrue(bytes(image) == data, "downloaded image differs")
            t1 = time.perf_counter()
            r = c.request("/big/image")
            elapsed_full = time.perf_counter() - t1
            self.assertTrue(r.body == data)
        runs.sort()
        sys.stderr.write("\n  throughput, %d bytes in %d requests (HEAD + %d-byte ranges) on one "
                         "connection: best %.1f MB/s (%.0f requests/s), median %.1f MB/s; "
                         "one full GET: %.1f MB/s\n"
                         % (len(data), requests, CHUNK, len(data) / runs[0] / 1e6,
                            requests / runs[0], len(data) / runs[1] / 1e6,
                            len(data) / max(elapsed_full, 1e-9) / 1e6))

if __name__ == "__main__":
    main()
