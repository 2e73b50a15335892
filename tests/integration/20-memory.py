#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""max_memory bounds the memory otad really holds.

A generation that a response is still sending counts until the response
ends, even after the catalog let go of it; an image that cannot fit is not
loaded (checked from its size, before reading it), with a warning, and the
image served before stays. The daemon's resident memory comes from
/proc/PID/status (VmRSS); the bounds are generous, the old behaviour
exceeded them many times over.
"""

import os
import re
import socket
import time

from otadtest import (OtadTestCase, main, make_block, make_header, poll, publish)

MIB = 1 << 20
IMAGE = 8 * MIB           # its generation holds 8 MiB + 128 KiB of CRCs: two of
                          # them are over MAX_MEMORY
MAX_MEMORY = "16M"
SETTLE_MS = 50


def rss_kib(pid):
    """VmRSS of a live process in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def sanitized(pid):
    """True when the process runs with AddressSanitizer or ThreadSanitizer,
    whose shadow memory makes its RSS several times what otad holds."""
    with open("/proc/%d/maps" % pid) as f:
        return any(lib in line for line in f for lib in ("libasan", "libtsan"))


class SlowReader:
    """A GET of a whole image that reads almost nothing: with a tiny receive
    window the response stays in progress and holds its generation."""

    def __init__(self, port, name):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(5.0)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(("GET /%s/image HTTP/1.1\r\nHost: x\r\n\r\n" % name).encode())
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = self.sock.recv(1024)
            if not chunk:
                raise AssertionError("connection closed before the response: %r" % head)
            head += chunk
        if not head.startswith(b"HTTP/1.1 200"):
            raise AssertionError("GET /%s/image: %r" % (name, head[:200]))

    def close(self):
        self.sock.close()


class Memory(OtadTestCase):
    def start_bounded(self, extra=""):
        return self.start(config="max_memory: %s\nsettle_ms: %d\n%s" % (MAX_MEMORY, SETTLE_MS,
                                                                        extra))

    def header_is(self, d, name, data, version=1):
        r = d.get("/%s/header" % name)
        return r.status == 200 and r.body == make_header(data, version)

    def test_slow_readers_through_replacements(self):
        """12 replacements of an 8 MiB image, a slow reader on each current
        one: the generations they hold count, so replacements that do not
        fit wait (one warning each) and the resident memory stays near
        max_memory; once the readers leave, the last image is loaded."""
        current = self.add_image("app", os.urandom(IMAGE))
        d = self.start_bounded()
        baseline = rss_kib(d.pid)
        peak = baseline
        readers = []
        try:
            for i in range(12):
                readers.append(SlowReader(d.port, "app"))
                before = d.stderr()
                latest = publish(self.dir, "app", os.urandom(IMAGE))
                with open(latest, "rb") as f:
                    latest = f.read()
                # Either loaded (replaced) or refused for now (warning).
                poll(lambda: re.search(r"^(info: replaced app|warning: app\.bin: needs)",
                                       d.stderr()[len(before):], re.M) is not None, 10.0)
                time.sleep(0.1)
                peak = max(peak, rss_kib(d.pid))
                r = d.get("/app/header")
                self.assertEqual(r.status, 200)
            self.assertTrue(d.alive(), d.stderr()[-3000:])
        finally:
            for reader in readers:
                reader.close()
        growth = (peak - baseline) / 1024.0
        # Two generations (current + one being loaded) and slack; twelve held
        # generations would be about 100 MiB.
        self.assertLess(growth, 40, "RSS grew by %.0f MiB with max_memory %s:\n%s"
                        % (growth, MAX_MEMORY, d.stderr()[-3000:]))
        refused = re.findall(r"^warning: app\.bin: needs \d+ MiB of memory, \d+ MiB free under "
                             r"max_memory while downloads hold older generations; retried "
                             r"until it fits; still serving the image loaded before$",
                             d.stderr(), re.M)
        self.assertGreater(len(refused), 0, d.stderr()[-3000:])
        self.assertLessEqual(len(refused), 12, "warned more than once a file")
        # The readers are gone: the last file fits now and is loaded by a
        # retry, without any further event.
        self.assertTrue(poll(lambda: self.header_is(d, "app", latest), 10.0),
                        d.stderr()[-3000:])
        self.assertLess((rss_kib(d.pid) - baseline) / 1024.0, 40)

    def test_sparse_file_refused_before_reading(self):
        """A 2 GiB sparse file (no disk space used) would take 2080 MiB of
        memory: refused from its size alone, with one warning naming it and
        why, while the image loaded before is still served."""
        small = self.add_image("app", os.urandom(3000), version=2)
        d = self.start_bounded()
        baseline = rss_kib(d.pid)
        tmp = os.path.join(self.dir, ".app.bin.tmp")
        with open(tmp, "wb") as f:
            f.truncate(2 << 30)
        os.rename(tmp, os.path.join(self.dir, "app.bin"))
        warning = re.compile(r"^warning: app\.bin: needs 2080 MiB of memory, more than "
                             r"max_memory \(16 MiB\); still serving the image loaded before$",
                             re.M)
        self.assertTrue(poll(lambda: warning.search(d.stderr()) is not None, 10.0),
                        d.stderr()[-3000:])
        time.sleep(5 * SETTLE_MS / 1000.0)
        self.assertEqual(len(warning.findall(d.stderr())), 1, d.stderr()[-3000:])
        self.assertTrue(self.header_is(d, "app", small, 2))
        self.assertLess((rss_kib(d.pid) - baseline) / 1024.0, 64)
        self.assertTrue(d.alive())

    def test_max_image_size(self):
        """max_image_size refuses a larger file before reading it, at start
        and on a reload; a smaller one is served."""
        self.add_image("big", os.urandom(5000))
        ok = self.add_image("ok", os.urandom(4096))
        d = self.start_bounded(extra="max_image_size: 4K\n")
        self.assertEqual(d.get("/big/header").status, 404)
        self.assertTrue(self.header_is(d, "ok", ok))
        self.assertIn("warning: big.bin: larger than max_image_size (4096 bytes); skipped",
                      d.stderr())
        publish(self.dir, "ok", os.urandom(4097))
        line = ("warning: ok.bin: larger than max_image_size (4096 bytes); still serving the "
                "image loaded before")
        self.assertTrue(poll(lambda: line in d.stderr(), 10.0), d.stderr())
        self.assertTrue(self.header_is(d, "ok", ok))

    def test_one_copy_of_a_64_mib_image(self):
        """A generation holds the image once, with 4 bytes of CRC a block:
        after loading a 64 MiB image the whole daemon stays under
        1.1 x 64 MiB + 16 MiB (two copies, as the block table once made,
        would be over 128 MiB), also once blocks and image bytes were
        served."""
        size = 64 * MIB
        data = self.add_image("big", os.urandom(size), version=1)
        d = self.start()
        if sanitized(d.pid):
            self.skipTest("a sanitizer's shadow memory counts in the RSS")
        bound_kib = (1.1 * size + 16 * MIB) / 1024
        self.assertTrue(self.header_is(d, "big", data))
        self.assertLessEqual(rss_kib(d.pid), bound_kib, "after load")
        last = (size + 255) // 256 - 1
        with d.conn() as c:
            for n in (0, last // 2, last):
                r = c.request("/big/block/%d" % n)
                self.assertEqual((r.status, r.body), (200, make_block(data, n)))
            for first in (0, size - 65536):
                r = c.request("/big/image", headers=[
                    ("Range", "bytes=%d-%d" % (first, first + 65535))])
                self.assertEqual(r.status, 206)
                self.assertTrue(r.body == data[first:first + 65536])
        self.assertLessEqual(rss_kib(d.pid), bound_kib, "after serving")


if __name__ == "__main__":
    main()
