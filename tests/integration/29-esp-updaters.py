#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Arduino cores' HTTP updaters against the real daemon:
ESP8266httpUpdate (esp8266/Arduino 3.1.2) and HTTPUpdate (arduino-esp32
2.0.x), their requests reproduced byte for byte (header order, case and
HTTP/1.0 as their HTTPClient writes them; see src/espota.c).

- up to date by MD5, by SHA-256 (uppercase, as the ESP32 sends it), by the
  digest an ESP-IDF image appends, and by version: 304, no body;
- a newer image: 200 with Content-Length, x-MD5 and no Transfer-Encoding,
  the MD5 of the body (hashlib) equal to x-MD5, the connection closed right
  after the body although idle_timeout is long;
- too large for the free space, and not an ESP image: 403 with a reason and
  a warning in the log;
- spiffs: 200 from NAME.fs, 404 without it;
- HTTP/1.0 asking for keep-alive is kept open; the legacy HTTP/1.1 close
  client still is (05-legacy covers the rest);
- the image replaced while the updater downloads it: one consistent image;
- a Range resume (an ESP32 sketch adds the header in its request callback):
  206 with the rest of the same image and the whole image's x-MD5;
- missing or garbled headers: served as a plain client, never 500;
- the registry: the STA-MAC is the device; a 304 for the image it
  downloaded counts as installed.

Expected digests come from hashlib over the bytes written here."""

import hashlib
import json
import os
import re
import socket
import time
import unittest
import zlib

from otadtest import OtadTestCase, main, poll, sanitizer_reports

IDLE = 30                     # idle_timeout: a close well before it is the daemon's
CONFIG = "settle_ms: 50\nidle_timeout: %d\n" % IDLE
MAC = "5C:CF:7F:0A:0B:0C"
MAC32 = "24:0A:C4:00:01:10"
CLOSE_WITHIN = 5.0            # seconds after the body: far below IDLE


def esp_image(size, seed=b"esp"):
    """Bytes that start with the ESP image magic 0xE9."""
    body = hashlib.shake_256(seed).digest(size - 1)
    return b"\xe9" + body


def updater_request(port, path, agent, first, prefix, fields, version, last):
    """What HTTPClient::sendHeader() writes with useHTTP10(true): request
    line, Host (with the port), User-Agent, Connection: close, then the
    headers in the order the updater added them: @first, the @fields
    (name, value) under @prefix, its version if any, then @last."""
    lines = ["GET %s HTTP/1.0" % path, "Host: 127.0.0.1:%d" % port,
             "User-Agent: %s" % agent, "Connection: close"] + list(first)
    lines += ["%s%s: %s" % (prefix, k, v) for k, v in fields]
    if version:
        lines.append("%sversion: %s" % (prefix, version))
    return ("\r\n".join(lines + list(last)) + "\r\n\r\n").encode("latin-1")


def esp8266_request(port, path, md5, version=None, free=1044464, mode="sketch",
                    extra=()):
    """ESP8266httpUpdate::handleUpdate(): no Cache-Control, a Chip-ID first,
    and the Content-Length: 0 that sendRequest() appends last."""
    return updater_request(port, path, "ESP8266-http-Update", (), "x-ESP8266-", [
        ("Chip-ID", "10690316"), ("STA-MAC", MAC), ("AP-MAC", "5E:CF:7F:0A:0B:0C"),
        ("free-space", free), ("sketch-size", "299808"), ("sketch-md5", md5),
        ("chip-size", "4194304"), ("sdk-version", "2.2.2-dev(38a443e)"), ("mode", mode),
    ], version, list(extra) + ["Content-Length: 0"])


def esp32_request(port, path, md5, sha256, version=None, free=1310720, mode="sketch",
                  extra=()):
    """HTTPUpdate::handleUpdate(): Cache-Control first, MD5 lowercase and
    SHA-256 uppercase, no Content-Length for a GET. @extra: what a request
    callback adds."""
    return updater_request(port, path, "ESP32-http-Update", ["Cache-Control: no-cache"],
                           "x-ESP32-", [
        ("STA-MAC", MAC32), ("AP-MAC", "24:0A:C4:00:01:11"), ("free-space", free),
        ("sketch-size", "719968"), ("sketch-md5", md5), ("sketch-sha256", sha256),
        ("chip-size", "4194304"), ("sdk-version", "v4.4.5"), ("mode", mode),
    ], version, extra)


OLD_MD5 = hashlib.md5(b"the sketch running now").hexdigest()
OLD_SHA = hashlib.sha256(b"the sketch running now").hexdigest().upper()


class Exchange:
    """One request on its own connection, read as the updaters read it: the
    head, then the body up to the close (the status and Content-Length are
    checked separately). @rcvbuf: a small receive buffer, to hold the
    daemon back while the test does something."""

    def __init__(self, port, raw, rcvbuf=None, timeout=20.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(raw)
        self.buf = b""
        self.closed_at = None

    def recv_some(self, n=65536):
        data = self.sock.recv(n)
        if not data:
            self.closed_at = time.monotonic()
        self.buf += data
        return data

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            if not self.recv_some():
                raise AssertionError("closed before the head: %r" % self.buf)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers.setdefault(k.strip().lower(), v.strip())
        return self

    def rest(self, deadline=20.0):
        """The body up to the close; returns (body, seconds from the last
        body byte to the close)."""
        want = int(self.headers.get("content-length", "-1"))
        end = time.monotonic() + deadline
        last = time.monotonic()
        while self.closed_at is None:
            if time.monotonic() > end:
                raise AssertionError("no close within %.0f s" % deadline)
            before = len(self.buf)
            self.recv_some()
            if len(self.buf) != before and (want < 0 or len(self.buf) <= want):
                last = time.monotonic()
        self.sock.close()
        return self.buf, self.closed_at - last

    def close(self):
        self.sock.close()


def fetch(port, raw, **kw):
    """One exchange: (status, headers, body, seconds to the close)."""
    x = Exchange(port, raw, **kw).head()
    body, linger = x.rest()
    return x.status, x.headers, body, linger


class EspUpdaters(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.image = self.add_image("app", esp_image(300 * 1024), version=7)
        self.md5 = hashlib.md5(self.image).hexdigest()
        self.sha = hashlib.sha256(self.image).hexdigest()

    def _stop_daemons(self):
        """Stopped as the base class does; then no sanitizer report (ASan and
        UBSan builds write theirs up to the exit)."""
        super()._stop_daemons()
        for d in self.daemons:
            with open(d.stderr_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            self.assertEqual(sanitizer_reports(text), [], text[-4000:])

    def test_up_to_date_by_md5_and_sha256(self):
        d = self.start(CONFIG)
        status, h, body, _ = fetch(d.port, esp8266_request(d.port, "/firmware/app.bin", self.md5))
        self.assertEqual((status, body), (304, b""))
        self.assertNotIn("x-md5", h)
        # ESP32: MD5 of another sketch, but its SHA-256 (uppercase) is the image's.
        status, _, body, _ = fetch(d.port, esp32_request(d.port, "/app/image", OLD_MD5,
                                                         self.sha.upper()))
        self.assertEqual((status, body), (304, b""))
        # The same MD5 in upper case is the same digest.
        status, _, _, _ = fetch(d.port, esp8266_request(d.port, "/app/image", self.md5.upper()))
        self.assertEqual(status, 304)

    def test_up_to_date_by_appended_digest(self):
        """An ESP-IDF image ends with the SHA-256 of the bytes before it,
        and that is what a running ESP32 reports as its sketch's."""
        body = esp_image(64 * 1024, b"idf")
        digest = hashlib.sha256(body).digest()
        self.add_image("idf", body + digest, version=4)
        d = self.start(CONFIG)
        status, _, _, _ = fetch(d.port, esp32_request(d.port, "/firmware/idf.bin", OLD_MD5,
                                                      digest.hex().upper()))
        self.assertEqual(status, 304)
        # Without the digest at its end, the same bytes report nothing of the kind.
        self.add_image("raw", body, version=4)
        self.assertTrue(poll(lambda: d.get("/raw/header").status == 200, 5.0))
        status, _, _, _ = fetch(d.port, esp32_request(d.port, "/firmware/raw.bin", OLD_MD5,
                                                      hashlib.sha256(body[:-32]).hexdigest()))
        self.assertEqual(status, 200)

    def test_up_to_date_by_version(self):
        d = self.start(CONFIG)
        for raw in (esp8266_request(d.port, "/firmware/app.bin", OLD_MD5, version="7"),
                    esp32_request(d.port, "/firmware/app.bin", OLD_MD5, OLD_SHA, version="7")):
            status, _, body, _ = fetch(d.port, raw)
            self.assertEqual((status, body), (304, b""))
        # Another version string is not this one: "07" is not "7".
        status, _, _, _ = fetch(d.port, esp32_request(d.port, "/firmware/app.bin", OLD_MD5,
                                                      OLD_SHA, version="07"))
        self.assertEqual(status, 200)

    def test_version_without_txt_never_matches(self):
        """Without NAME.txt the version is otad's default, not the firmware's."""
        self.add_image("bare", esp_image(4096, b"bare"))
        d = self.start(CONFIG)
        status, _, _, _ = fetch(d.port, esp8266_request(d.port, "/firmware/bare.bin", OLD_MD5,
                                                        version="1"))
        self.assertEqual(status, 200)

    def check_download(self, status, h, body, linger, image):
        self.assertEqual(status, 200)
        self.assertEqual(body, image)
        self.assertEqual(h.get("content-length"), str(len(image)))
        self.assertNotIn("transfer-encoding", h)
        self.assertNotIn("location", h)
        self.assertEqual(h.get("content-type"), "application/octet-stream")
        self.assertEqual(h.get("x-md5"), hashlib.md5(image).hexdigest())
        self.assertEqual(hashlib.md5(body).hexdigest(), h.get("x-md5"))
        self.assertLess(linger, CLOSE_WITHIN, "HTTP/1.0 connection kept open after the body")

    def test_newer_image(self):
        d = self.start(CONFIG)
        self.check_download(*fetch(d.port, esp8266_request(d.port, "/firmware/app.bin",
                                                           OLD_MD5, version="6")), self.image)
        self.check_download(*fetch(d.port, esp32_request(d.port, "/app/image", OLD_MD5,
                                                         OLD_SHA, version="6")), self.image)

    def test_too_large(self):
        d = self.start(CONFIG)
        for free in (len(self.image) - 1, 0):
            status, h, body, _ = fetch(d.port, esp8266_request(d.port, "/firmware/app.bin",
                                                               OLD_MD5, free=free))
            self.assertEqual((status, body), (403, b"image larger than free space"))
            self.assertNotIn("x-md5", h)
        # Exactly the free space fits.
        status, _, _, _ = fetch(d.port, esp32_request(d.port, "/firmware/app.bin", OLD_MD5,
                                                      OLD_SHA, free=len(self.image)))
        self.assertEqual(status, 200)
        self.assertTrue(poll(lambda: re.search(
            r"warning: refused /firmware/app\.bin to the updater at 127\.0\.0\.1 "
            r"\(STA-MAC %s\): image larger than free space" % MAC, d.stderr()), 5.0),
            d.stderr())

    def test_not_an_esp_image(self):
        plain = self.add_image("stm", b"\x00\x20\x00\x20" + os.urandom(2000), version=2)
        d = self.start(CONFIG)
        for raw in (esp8266_request(d.port, "/firmware/stm.bin", OLD_MD5),
                    esp32_request(d.port, "/stm/image", OLD_MD5, OLD_SHA)):
            status, _, body, _ = fetch(d.port, raw)
            self.assertEqual((status, body), (403, b"not an ESP image (first byte is not 0xE9)"))
        self.assertTrue(poll(lambda: "not an ESP image" in d.stderr(), 5.0), d.stderr())
        # A plain client still gets it as before.
        r = d.get("/firmware/stm.bin")
        self.assertEqual((r.status, r.body), (200, plain))
        self.assertIsNone(r.header("x-MD5"))

    def test_spiffs(self):
        d = self.start(CONFIG)
        status, _, _, _ = fetch(d.port, esp8266_request(d.port, "/firmware/app.bin", OLD_MD5,
                                                        mode="spiffs"))
        self.assertEqual(status, 404)
        # A filesystem image starts with anything and is not held to the free space.
        fs = self.add_image("app.fs", b"\x00littlefs" + os.urandom(5000), version=3)
        self.assertTrue(poll(lambda: d.get("/app.fs/header").status == 200, 5.0))
        for raw in (esp8266_request(d.port, "/firmware/app.bin", OLD_MD5, mode="spiffs", free=1),
                    esp32_request(d.port, "/app/image", OLD_MD5, OLD_SHA, mode="spiffs")):
            self.check_download(*fetch(d.port, raw), fs)
        status, _, _, _ = fetch(d.port, esp8266_request(d.port, "/firmware/app.bin",
                                                        hashlib.md5(fs).hexdigest(),
                                                        mode="spiffs"))
        self.assertEqual(status, 304)

    def test_http10_keep_alive_asked(self):
        """HTTP/1.0 with Connection: keep-alive stays open for the next one."""
        d = self.start(CONFIG)
        with d.conn() as c:
            for _ in range(2):
                c.send(b"GET /firmware/app.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, self.image))
            self.assertFalse(c.wait_closed(1.0), "closed although keep-alive was asked")

    def test_http10_plain_closed(self):
        """A plain HTTP/1.0 client with Connection: close, as the updaters'
        HTTPClient writes it: closed after the body, not at the idle timeout
        (the legacy keep-alive is for HTTP/1.1 requests)."""
        d = self.start(CONFIG)
        raw = b"GET /app/header HTTP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n"
        status, h, body, linger = fetch(d.port, raw)
        self.assertEqual((status, len(body)), (200, 20))
        self.assertEqual(h.get("content-length"), "20")
        self.assertLess(linger, CLOSE_WITHIN)
        # The legacy HTTP/1.1 client is still kept.
        with d.conn() as c:
            for _ in range(2):
                r = c.request("/app/header", headers=[("Connection", "close")])
                self.assertEqual(r.status, 200)
            self.assertFalse(c.wait_closed(1.0), "legacy HTTP/1.1 socket closed")

    def test_replaced_during_download(self):
        big = self.add_image("big", esp_image(4 << 20, b"old"), version=1)
        d = self.start(CONFIG)
        x = Exchange(d.port, esp8266_request(d.port, "/firmware/big.bin", OLD_MD5,
                                             free=8 << 20), rcvbuf=4096).head()
        self.assertEqual(x.status, 200)
        x.recv_some(4096)
        new = esp_image(4 << 20, b"new")
        self.publish("big", new)
        # Published once a check with the new image's MD5 is up to date.
        self.assertTrue(poll(lambda: fetch(d.port, esp32_request(
            d.port, "/big/image", hashlib.md5(new).hexdigest(), OLD_SHA, free=8 << 20))[0] == 304,
            10.0))
        body, _ = x.rest()
        self.assertEqual(x.headers.get("x-md5"), hashlib.md5(big).hexdigest())
        self.assertEqual(hashlib.md5(body).hexdigest(), hashlib.md5(big).hexdigest())
        # The next check gets the new one.
        status, h, body, _ = fetch(d.port, esp8266_request(d.port, "/firmware/big.bin", OLD_MD5,
                                                           free=8 << 20))
        self.assertEqual((status, hashlib.md5(body).hexdigest()),
                         (200, hashlib.md5(new).hexdigest()))

    def test_range_resume(self):
        """Neither updater sends Range by itself; an ESP32 sketch can add one
        with its request callback to resume: the rest, the whole's x-MD5."""
        # Two more headers take the ESP32's head (about 530 bytes, 16 lines)
        # past what the default connection_memory answers (431).
        d = self.start(CONFIG + "connection_memory: 4K\n")
        cut = 123457
        status, h, body, _ = fetch(d.port, esp32_request(
            d.port, "/firmware/app.bin", OLD_MD5, OLD_SHA,
            extra=["Range: bytes=%d-" % cut, "If-Range: %s" % self.etag()]))
        self.assertEqual(status, 206)
        self.assertEqual(h.get("content-range"),
                         "bytes %d-%d/%d" % (cut, len(self.image) - 1, len(self.image)))
        self.assertEqual(body, self.image[cut:])
        self.assertEqual(h.get("x-md5"), self.md5)
        self.assertEqual(hashlib.md5(self.image[:cut] + body).hexdigest(), h.get("x-md5"))

    def test_head_sizes(self):
        """What otad(8) says of connection_memory for these heads: 2K serves
        an ESP32's with a short version string and refuses one 12
        characters long (431); 4K serves it, and an Authorization too."""
        d = self.start(CONFIG)
        short = esp32_request(d.port, "/firmware/app.bin", OLD_MD5, OLD_SHA, version="1.0.2")
        long = esp32_request(d.port, "/firmware/app.bin", OLD_MD5, OLD_SHA,
                             version="1.0.2-beta.3")
        self.assertEqual(fetch(d.port, short)[0], 200)
        self.assertEqual(fetch(d.port, long)[0], 431)
        d = self.start(CONFIG + "connection_memory: 4K\n")
        auth = esp32_request(d.port, "/firmware/app.bin", OLD_MD5, OLD_SHA,
                             version="1.0.2-beta.3",
                             extra=["Authorization: Basic " + "QWxhZGRpbjpvcGVuIHNlc2FtZQ" * 4])
        self.assertEqual(fetch(d.port, long)[0], 200)
        self.assertEqual(fetch(d.port, auth)[0], 200)

    def etag(self):
        return '"%08x-%x"' % (zlib.crc32(self.image), len(self.image))

    def test_garbled_headers(self):
        d = self.start(CONFIG)
        for free, md5 in (("lots", "zz" * 16), ("-1", self.md5[:31]), ("", "0x" + self.md5),
                          ("1e9", self.md5 + "00")):
            status, h, body, _ = fetch(d.port, esp8266_request(d.port, "/firmware/app.bin", md5,
                                                               free=free))
            self.assertEqual((status, body), (200, self.image), (free, md5))
            self.assertEqual(h.get("x-md5"), self.md5)
        # Headers missing: only the User-Agent, or only a mode.
        for raw in (b"GET /firmware/app.bin HTTP/1.0\r\nUser-Agent: ESP32-http-Update\r\n\r\n",
                    b"GET /app/image HTTP/1.0\r\nx-ESP8266-mode: nonsense\r\n\r\n",
                    b"GET /app/image HTTP/1.0\r\nx-ESP32-STA-MAC: \xff\xfe\r\n"
                    b"User-Agent: ESP32-http-Update\r\n\r\n"):
            status, h, body, _ = fetch(d.port, raw)
            self.assertEqual((status, body), (200, self.image), raw)
        # No updater header at all: exactly as before, no x-MD5.
        r = d.get("/firmware/app.bin")
        self.assertEqual((r.status, r.body), (200, self.image))
        self.assertIsNone(r.header("x-MD5"))
        self.assertTrue(d.alive())

    def device(self, d, mac):
        r = d.admin_get("/devices/%s?format=json" % mac)
        return json.loads(r.body) if r.status == 200 else None

    def test_device_tracking(self):
        d = self.start(CONFIG)
        self.check_download(*fetch(d.port, esp8266_request(d.port, "/firmware/app.bin",
                                                           OLD_MD5, version="6")), self.image)
        dev = self.device(d, MAC)
        self.assertIsNotNone(dev, d.admin_get("/devices").body)
        self.assertEqual((dev["firmware"], dev["state"], dev["offered"], dev["installed"]),
                         ("app", "downloaded", 7, 6))
        self.assertEqual(dev["bytes"], len(self.image))
        # Rebooted into the new sketch: its MD5 is the image's now.
        status, _, _, _ = fetch(d.port, esp8266_request(d.port, "/firmware/app.bin", self.md5))
        self.assertEqual(status, 304)
        dev = self.device(d, MAC)
        self.assertEqual((dev["state"], dev["installed"]), ("up-to-date", 7))
        self.assertEqual(dev["last_report"]["status"], "installed")
        reports = [e for e in dev["events"] if e.get("status") == "installed"]
        self.assertEqual(len(reports), 1, dev["events"])
        # Later checks are no new installs.
        fetch(d.port, esp8266_request(d.port, "/firmware/app.bin", self.md5))
        dev = self.device(d, MAC)
        self.assertEqual(len([e for e in dev["events"] if e.get("status") == "installed"]), 1)
        # A device that was never offered anything but runs it is up to date, not installed.
        fetch(d.port, esp32_request(d.port, "/firmware/app.bin", self.md5, OLD_SHA))
        dev = self.device(d, MAC32)
        self.assertEqual(dev["state"], "up-to-date")
        self.assertFalse([e for e in dev["events"] if e.get("status") == "installed"])


if __name__ == "__main__":
    main()
