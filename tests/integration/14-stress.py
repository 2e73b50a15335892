#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Stress: many devices download while the image is swapped hundreds of times.

Client threads (some of them legacy: Connection: close on every request, one
socket) each download header + all blocks of a ~64 KiB image on one
connection, again and again (half of the images are of ~20 KiB instead, so
that generations sharing a pack come and go too), while the main thread
publishes one of several distinct random images (dot temp file + rename)
hundreds of times. Every download must be exactly the generation whose header
it fetched: block CRCs, the image CRC against the header, the bytes against
the file written here, and the ETag of every block response against the
header's.

At the end the daemon must be alive, serve the last image, stop with status 0
on SIGTERM, and its stderr must hold no sanitizer report. The last line
printed gives the downloads, swaps and the daemon's peak RSS.

Runs against the plain, ASan and ThreadSanitizer builds (OTAD=...). Under a
slow build set STRESS_SCALE below 1 (e.g. 0.25): fewer threads and swaps,
same duration.
"""

import os
import socket
import sys
import threading
import time

from otadtest import (Conn, OtadTestCase, crc32, download, etag_of,
                      listing_json, main, make_header, peak_rss_kib, poll,
                      publish, sanitizer_reports)

SCALE = min(1.0, max(0.05, float(os.environ.get("STRESS_SCALE", "1") or 1)))
THREADS = max(4, int(round(16 * SCALE)))
SWAPS = max(30, int(round(300 * SCALE)))
IMAGES = 6
# Every size has a partial last block; the second is small enough for a pack.
IMAGE_SIZES = (64 * 1024 + 100, 20 * 1024 + 100)
VERSION = 11
SWAP_PHASE = 15.0                     # seconds over which the swaps are spread
DRAIN = 30.0                          # bound for the clients' last downloads
SETTLE_MS = int(os.environ.get("STRESS_SETTLE_MS", "5"))


class Client(threading.Thread):
    def __init__(self, port, images, legacy, stop):
        super().__init__(daemon=True)
        self.port, self.images, self.legacy, self.stop = port, images, legacy, stop
        self.downloads = 0
        self.requests = 0
        self.generations = set()
        self.error = None

    def run(self):
        headers = [("Connection", "close")] if self.legacy else None
        try:
            with Conn(self.port, timeout=30.0) as c:
                c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while not self.stop.is_set():
                    res = download(c, "fw", headers=headers,
                                   check_connection_close=self.legacy)
                    self.requests += 1 + res.header["blocknum"]
                    crc = res.header["checksum"]
                    expected = self.images.get(crc)
                    if expected is None:
                        raise AssertionError("header names crc 0x%08x: none of the images" % crc)
                    if res.header != dict(zip(("version", "checksum", "blocknum", "blocksize",
                                               "binsize"),
                                              (VERSION, crc, (len(expected) + 255) // 256,
                                               256, len(expected)))):
                        raise AssertionError("header %r" % res.header)
                    if res.image != expected:
                        raise AssertionError("download differs from the image with crc 0x%08x"
                                             % crc)
                    if res.header_etag != etag_of(expected) or \
                            res.block_etags != {etag_of(expected)}:
                        raise AssertionError("ETags %r / %r for generation %s" % (
                            res.header_etag, res.block_etags, etag_of(expected)))
                    self.downloads += 1
                    self.generations.add(crc)
        except Exception as e:
            self.error = "%s client: %s: %s" % ("legacy" if self.legacy else "keep-alive",
                                               type(e).__name__, e)


class Stress(OtadTestCase):
    def test_swaps_under_load(self):
        t_begin = time.monotonic()
        images = []
        while len(images) < IMAGES:
            data = os.urandom(IMAGE_SIZES[len(images) % 2])
            if crc32(data) not in {crc32(i) for i in images}:
                images.append(data)
        by_crc = {crc32(i): i for i in images}
        self.add_image("fw", images[0], version=VERSION)
        d = self.start(config="settle_ms: %d\nidle_timeout: 120\n" % SETTLE_MS)

        stop = threading.Event()
        clients = [Client(d.port, by_crc, legacy=(i % 4 == 3), stop=stop)
                   for i in range(THREADS)]
        for c in clients:
            c.start()
        swaps = 0
        interval = SWAP_PHASE / SWAPS
        t_swaps = time.monotonic()
        try:
            for i in range(1, SWAPS + 1):
                publish(self.dir, "fw", images[i % IMAGES])
                swaps += 1
                if any(c.error for c in clients) or not d.alive():
                    break
                # Spread the swaps evenly; never sleep less than 1 ms.
                time.sleep(max(0.001, t_swaps + i * interval - time.monotonic()))
            last = images[swaps % IMAGES]
            converged = poll(lambda: d.get("/fw/header").body == make_header(last, VERSION),
                             timeout=10.0)
        finally:
            stop.set()
            deadline = time.monotonic() + DRAIN
            for c in clients:
                c.join(max(0.1, deadline - time.monotonic()))
        swap_seconds = time.monotonic() - t_swaps

        errors = [c.error for c in clients if c.error]
        self.assertEqual(errors, [], "%d client(s) failed:\n%s\n%s" % (
            len(errors), "\n".join(errors), d.stderr()[-3000:]))
        self.assertEqual([c for c in clients if c.is_alive()], [],
                         "clients still downloading %.0f s after the end" % DRAIN)
        self.assertTrue(d.alive(), "otad died:\n" + d.stderr()[-4000:])
        self.assertEqual(swaps, SWAPS)
        self.assertTrue(converged, "the last image is not served 10 s after the last swap")

        downloads = sum(c.downloads for c in clients)
        requests = sum(c.requests for c in clients)
        generations = set().union(*(c.generations for c in clients))
        self.assertGreaterEqual(downloads, 2 * THREADS, "only %d downloads" % downloads)
        self.assertEqual([i for i, c in enumerate(clients) if c.downloads == 0], [],
                         "clients without a single complete download")
        self.assertGreaterEqual(len(generations), min(IMAGES, 3),
                                "downloads saw only %d generations: swaps not served"
                                % len(generations))

        item = listing_json(d)["fw"]
        self.assertEqual(item["etag"], etag_of(last))
        self.assertGreaterEqual(item["retained"], 1, "no older generation retained")
        retained = item["retained"]
        rss = peak_rss_kib(d.pid)

        status, elapsed = d.stop()
        self.assertEqual(status, 0, d.stderr()[-4000:])
        err = d.stderr()
        self.assertEqual(sanitizer_reports(err), [], err[-6000:])
        print("\nstress: %d downloads (%d requests, %d generations seen) by %d clients "
              "(%d legacy), %d swaps in %.1f s, settle_ms %d; otad peak RSS %s KiB; "
              "retained %d older generations = about %d KiB retained memory; "
              "stop %.2f s; total %.1f s"
              % (downloads, requests, len(generations), THREADS,
                 sum(1 for c in clients if c.legacy), swaps, swap_seconds, SETTLE_MS,
                 rss if rss is not None else "?", retained,
                 retained * sum(IMAGE_SIZES) // len(IMAGE_SIZES) // 1024, elapsed, time.monotonic() - t_begin))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
