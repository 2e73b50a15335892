#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generations and ETags: every load of image bytes is a generation; a
connection that fetched a header gets its blocks from that generation even
while the image is replaced (also legacy Connection: close clients on one
socket); If-Match picks a retained generation; 412 when it is gone.

ETags are computed here as '"%08x-%x"' % (zlib.crc32, size), never taken
from the daemon.
"""

import os
import re
import time
from datetime import datetime, timezone

from otadtest import (OtadTestCase, block_count, change_line, crc32, download,
                      etag_of, listing_json, main, make_block, make_header,
                      poll, publish, run_otad, vector)

CONFIG = "settle_ms: 50\n"
VEC_ETAG = '"1f52fd1c-3e8"'          # from the spec: crc 0x1F52FD1C, 1000 bytes
MAX_ETAG = '"ffffffff-ffffffff"'     # the longest possible: 4 GiB - 1 bytes
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def paragraph(text, name):
    """{key: value} of NAME's paragraph in the text listing."""
    for para in text.strip("\n").split("\n\n"):
        lines = para.split("\n")
        if lines[0].strip() == name:
            fields = {}
            for line in lines[1:]:
                key, sep, value = line.strip().partition(": ")
                if sep:
                    fields[key] = value
            return fields
    raise AssertionError("no paragraph %r in listing:\n%s" % (name, text))


def parse_time(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


class Generations(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        self.vec = vector("vec.bin")

    def start_gen(self, extra="", **kw):
        return self.start(config=CONFIG + extra, **kw)

    def current_is(self, d, name, data):
        r = d.get("/%s/header" % name)
        return r.status == 200 and r.body[4:] == make_header(data, 0)[4:]

    def replace(self, d, name, data):
        """Publish new bytes and wait until fresh connections get them."""
        publish(self.dir, name, data)
        self.assertTrue(poll(lambda: self.current_is(d, name, data)),
                        "%s not replaced within 5 s\n%s" % (name, d.stderr()[-3000:]))

    def block(self, d, name, n, if_match=None):
        headers = [("If-Match", if_match)] if if_match is not None else None
        return d.get("/%s/block/%d" % (name, n), headers=headers)

    # --- the ETag ----------------------------------------------------------
    def test_etag_on_header_and_blocks(self):
        """ETag on header and block responses (GET and HEAD), equal to the
        spec's example for vec.bin and to the value computed with zlib."""
        big = self.add_image("big", os.urandom(0x12345), version=2)
        d = self.start_gen()
        self.assertEqual(etag_of(self.vec), VEC_ETAG)
        for name, data in (("vec", self.vec), ("big", big)):
            with d.conn() as c:
                for path in ["/%s/header" % name] + ["/%s/block/%d" % (name, n)
                                                     for n in range(block_count(data))][:6] \
                        + ["/%s/block/%d" % (name, block_count(data) - 1)]:
                    for method in ("GET", "HEAD"):
                        r = c.request(path, method=method)
                        self.assertEqual(r.status, 200, (path, method))
                        self.assertEqual(r.all("ETag"), [etag_of(data)], (path, method, r))
            self.assertIn("ETag", [k for k, _ in r.headers])      # canonical case
        # An unknown name has no generation, so no ETag.
        self.assertIsNone(d.get("/nope/header").header("ETag"))

    def test_block_header_budget_with_etag(self):
        """The header block of a block response stays <= 128 bytes with the
        ETag and with Connection: close, even for the longest possible ETag."""
        big = self.add_image("big", os.urandom(0x10001), version=1)
        d = self.start_gen()
        for path, data in (("/vec/block/3", self.vec), ("/big/block/256", big),
                           ("/vec/header", self.vec)):
            for headers in ([], [("Connection", "close")]):
                with d.conn() as c:
                    r = c.request(path, headers=headers)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("ETag"), etag_of(data))
                if headers:
                    self.assertEqual(r.header("Connection"), "close")
                self.assertLessEqual(len(r.head_bytes), 128, r.head_bytes)
                worst = len(r.head_bytes) - len(etag_of(data)) + len(MAX_ETAG)
                self.assertLessEqual(worst, 128, "with a 4 GiB image's ETag the header "
                                     "block would be %d bytes: %r" % (worst, r.head_bytes))
        # Pinned and If-Match responses are no larger.
        with d.conn() as c:
            c.request("/vec/header", headers=[("Connection", "close")])
            r = c.request("/vec/block/0", headers=[("Connection", "close"),
                                                   ("If-Match", VEC_ETAG)])
            self.assertEqual(r.body, vector("expected/block-0.bin"))
            self.assertLessEqual(len(r.head_bytes) - len(VEC_ETAG) + len(MAX_ETAG), 128,
                                 r.head_bytes)

    def test_identical_bytes_same_etag(self):
        a = self.add_image("fw", os.urandom(3000), version=1)
        d = self.start_gen()
        b = os.urandom(3000)
        self.replace(d, "fw", b)
        self.assertEqual(d.get("/fw/header").header("ETag"), etag_of(b))
        self.replace(d, "fw", a)
        self.assertEqual(d.get("/fw/header").header("ETag"), etag_of(a))
        self.assertEqual(self.block(d, "fw", 0).header("ETag"), etag_of(a))

    # --- pinning -------------------------------------------------------------
    def pinned_download(self, legacy):
        """Header, then blocks in four slices on one connection; the image is
        replaced (and the replacement confirmed on other connections) between
        the slices. The result is the generation whose header was fetched."""
        gens = [os.urandom(64 * 1024 + 100 + i) for i in range(4)]
        self.add_image("fw", gens[0], version=3)
        d = self.start_gen()
        headers = [("Connection", "close")] if legacy else None
        with d.conn() as c:
            r = c.request("/fw/header", headers=headers)
            self.assertEqual(r.body, make_header(gens[0], 3))
            self.assertEqual(r.header("ETag"), etag_of(gens[0]))
            n_blocks = block_count(gens[0])
            image = b""
            slices = [range(k, min(k + 65, n_blocks)) for k in range(0, n_blocks, 65)]
            for i, sl in enumerate(slices):
                if i > 0:
                    self.replace(d, "fw", gens[i])
                for n in sl:
                    r = c.request("/fw/block/%d" % n, headers=headers)
                    self.assertEqual(r.status, 200, (n, r, r.body))
                    self.assertEqual(r.header("ETag"), etag_of(gens[0]), n)
                    if legacy:
                        self.assertEqual(r.header("Connection"), "close")
                    self.assertEqual(r.body, make_block(gens[0], n), "block %d" % n)
                    image += r.body[:256]
            self.assertEqual(image[:len(gens[0])], gens[0])
            self.assertEqual(crc32(image[:len(gens[0])]), crc32(gens[0]))
            # Fetching the header again re-pins to the current generation.
            res = download(c, "fw", headers=headers, check_connection_close=legacy)
            self.assertEqual(res.image, gens[3])
            self.assertEqual(res.header, {"version": 3, "checksum": crc32(gens[3]),
                                          "blocknum": block_count(gens[3]),
                                          "blocksize": 256, "binsize": len(gens[3])})
            self.assertEqual((res.header_etag, res.block_etags),
                             (etag_of(gens[3]), {etag_of(gens[3])}))
        # A fresh connection without a header gets the current generation.
        self.assertEqual(self.block(d, "fw", 0).body, make_block(gens[3], 0))
        self.assertEqual(listing_json(d)["fw"]["retained"], 3)

    def test_pinned_keepalive_download(self):
        self.pinned_download(legacy=False)

    def test_pinned_legacy_download(self):
        """The seed bootloader's Connection: close on every request, one socket."""
        self.pinned_download(legacy=True)

    def test_pinned_download_of_removed_name(self):
        """A removed name is 404 for new requests, while a pinned download
        (and an If-Match request for its retained generation) still finishes."""
        data = self.add_image("fw", os.urandom(40 * 256 + 7), version=5)
        d = self.start_gen()
        with d.conn() as c:
            self.assertEqual(c.request("/fw/header").body, make_header(data, 5))
            image = b"".join(c.request("/fw/block/%d" % n).body[:256] for n in range(10))
            os.remove(os.path.join(self.dir, "fw.bin"))
            self.assertTrue(poll(lambda: d.get("/fw/header").status == 404), d.stderr())
            self.assertEqual(self.block(d, "fw", 0).status, 404)
            self.assertNotIn("fw", listing_json(d))
            for n in range(10, block_count(data)):
                r = c.request("/fw/block/%d" % n)
                self.assertEqual((r.status, r.body), (200, make_block(data, n)), n)
                image += r.body[:256]
            self.assertEqual(image[:len(data)], data)
            r = self.block(d, "fw", 40, if_match=etag_of(data))
            self.assertEqual((r.status, r.body), (200, make_block(data, 40)))
            # The header again: the name is gone.
            self.assertEqual(c.request("/fw/header").status, 404)

    # --- If-Match --------------------------------------------------------------
    def test_if_match(self):
        a = self.add_image("fw", os.urandom(3000), version=1)
        d = self.start_gen()
        b = os.urandom(2500)
        self.replace(d, "fw", b)
        for if_match, data in ((etag_of(a), a), (etag_of(b), b), ("*", b),
                               ('"00000000-1", %s' % etag_of(a), a),
                               ('%s, %s' % (etag_of(b), etag_of(a)), None)):
            r = self.block(d, "fw", 9, if_match=if_match)
            self.assertEqual(r.status, 200, if_match)
            if data is None:        # both match: either generation, consistently
                self.assertIn(r.body, (make_block(a, 9), make_block(b, 9)))
                data = a if r.body == make_block(a, 9) else b
            self.assertEqual(r.body, make_block(data, 9), if_match)
            self.assertEqual(r.header("ETag"), etag_of(data), if_match)
        # If-Match overrides the pin; 412 keeps the connection in sync.
        with d.conn() as c:
            self.assertEqual(c.request("/fw/header").body, make_header(b, 1))
            r = c.request("/fw/block/2", headers=[("If-Match", etag_of(a))])
            self.assertEqual((r.status, r.body, r.header("ETag")),
                             (200, make_block(a, 2), etag_of(a)))
            for bad in ('"deadbeef-bb8"', '"%08x-%x"' % (crc32(a), len(a) + 1), "garbage"):
                r = c.request("/fw/block/2", headers=[("If-Match", bad)])
                self.assertEqual(r.status, 412, bad)
                self.assertEqual(r.body, b"precondition failed\n")
                self.assertEqual(r.header("Content-Length"), str(len(r.body)))
            r = c.request("/fw/block/2")
            self.assertEqual((r.status, r.body), (200, make_block(b, 2)))
            # Legacy client: 412 with Connection: close, the socket stays usable.
            r = c.request("/fw/block/2", headers=[("If-Match", '"deadbeef-bb8"'),
                                                  ("Connection", "close")])
            self.assertEqual(r.status, 412)
            r = c.request("/fw/block/2", headers=[("Connection", "close")])
            self.assertEqual((r.status, r.body), (200, make_block(b, 2)))
        # An ETag of another image is not a generation of this one.
        self.assertEqual(self.block(d, "fw", 0, if_match=VEC_ETAG).status, 412)

    def test_retain_zero(self):
        """retain_seconds: 0 - a replaced generation is gone at once: the
        pinned connection gets 412 "generation gone", If-Match gets 412."""
        a = self.add_image("fw", os.urandom(5000), version=1)
        d = self.start_gen("retain_seconds: 0\n")
        b = os.urandom(5000)
        with d.conn() as c:
            self.assertEqual(c.request("/fw/header").body, make_header(a, 1))
            self.assertEqual(c.request("/fw/block/0").body, make_block(a, 0))
            self.replace(d, "fw", b)
            r = c.request("/fw/block/1")
            self.assertEqual(r.status, 412, r.body)
            self.assertEqual(r.body, b"generation gone\n")
            self.assertEqual(r.header("Content-Length"), str(len(r.body)))
            r = self.block(d, "fw", 1, if_match=etag_of(a))
            self.assertEqual((r.status, r.body), (412, b"precondition failed\n"))
            # Start over from the header: the current generation.
            res = download(c, "fw")
            self.assertEqual(res.image, b)
        self.assertEqual(listing_json(d)["fw"]["retained"], 0)

    def test_retain_seconds_expiry(self):
        a = self.add_image("fw", os.urandom(2000), version=1)
        d = self.start_gen("retain_seconds: 2\n")
        b = os.urandom(2000)
        with d.conn() as c:
            c.request("/fw/header")
            self.replace(d, "fw", b)
            t_replaced = time.monotonic()
            r = self.block(d, "fw", 0, if_match=etag_of(a))
            self.assertEqual((r.status, r.body), (200, make_block(a, 0)))
            self.assertEqual(c.request("/fw/block/1").body, make_block(a, 1))
            self.assertLess(time.monotonic() - t_replaced, 1.5, "test too slow")
            self.assertTrue(poll(lambda: self.block(d, "fw", 0, if_match=etag_of(a)).status
                                 == 412, timeout=6.0), "old generation still served")
            self.assertGreater(time.monotonic() - t_replaced, 1.0, "dropped too early")
            r = c.request("/fw/block/1")
            self.assertEqual((r.status, r.body), (412, b"generation gone\n"))
        self.assertEqual(self.block(d, "fw", 0, if_match=etag_of(b)).body, make_block(b, 0))

    def test_max_memory_drops_oldest(self):
        """max_memory 1M, 150 KiB images published one after the other: once
        over the bound, the oldest retained generation is dropped (logged
        once), then the next oldest, in order; newer ones stay servable.
        (The daemon may count more than the file size per image, e.g.
        prepared blocks, so the first drop comes after 3 to 6 generations.)"""
        os.remove(os.path.join(self.dir, "vec.bin"))
        size = 150 * 1024
        limit = 1024 * 1024
        gens = [os.urandom(size + i) for i in range(12)]
        self.add_image("fw", gens[0], version=1)
        d = self.start_gen("max_memory: 1M\n")

        def dropped_line(g):
            return 'info: dropped generation %s of fw: over max_memory' % etag_of(g)

        with d.conn() as c:
            self.assertEqual(c.request("/fw/header").body, make_header(gens[0], 1))
            first_drop = None
            for n in range(1, len(gens)):
                # Before this publish, every older generation is still served.
                for g in gens[:n]:
                    r = self.block(d, "fw", 3, if_match=etag_of(g))
                    self.assertEqual((r.status, r.body), (200, make_block(g, 3)), n)
                self.replace(d, "fw", gens[n])
                if poll(lambda: "dropped generation" in d.stderr(), timeout=0.3):
                    first_drop = n
                    break
            self.assertIsNotNone(first_drop, "nothing dropped with %d x %d bytes under "
                                 "max_memory 1M\n%s" % (len(gens), size, d.stderr()))
            self.assertGreaterEqual(first_drop + 1, 3, "dropped with only %d generations "
                                    "of %d bytes" % (first_drop + 1, size))
            self.assertTrue(poll(lambda: dropped_line(gens[0]) in d.stderr()), d.stderr())
            self.assertEqual(d.stderr().count("dropped generation"), 1, d.stderr())
            r = self.block(d, "fw", 3, if_match=etag_of(gens[0]))
            self.assertEqual((r.status, r.body), (412, b"precondition failed\n"))
            r = c.request("/fw/block/0")
            self.assertEqual((r.status, r.body), (412, b"generation gone\n"))
            kept = gens[1:first_drop + 1]
            self.assertLessEqual(sum(map(len, kept)), limit)
            for g in kept:
                r = self.block(d, "fw", 5, if_match=etag_of(g))
                self.assertEqual((r.status, r.body), (200, make_block(g, 5)))
            self.assertEqual(listing_json(d)["fw"]["retained"], len(kept) - 1)

            # Two more generations: the next oldest go, in order, once each.
            for k in (1, 2):
                self.replace(d, "fw", gens[first_drop + k])
                self.assertTrue(poll(lambda: dropped_line(gens[k]) in d.stderr()), d.stderr())
                self.assertEqual(self.block(d, "fw", 3, if_match=etag_of(gens[k])).status, 412)
            err = d.stderr()
            lines = [l for l in err.splitlines() if "dropped generation" in l]
            self.assertEqual(lines, [dropped_line(g) for g in gens[:3]], err)
            for g in gens[3:first_drop + 3]:
                r = self.block(d, "fw", 5, if_match=etag_of(g))
                self.assertEqual((r.status, r.body), (200, make_block(g, 5)))
            self.assertEqual(listing_json(d)["fw"]["retained"], len(kept) - 1)

    def test_max_memory_never_drops_current(self):
        """Current images are never dropped: two 700 KiB images (711 KiB
        each with their block CRCs) nearly fill max_memory 1500K; replacing
        one lets its old generation go, never the other image."""
        big1 = self.add_image("one", os.urandom(700 * 1024), version=1)
        big2 = self.add_image("two", os.urandom(700 * 1024), version=1)
        d = self.start_gen("max_memory: 1500K\n")
        for name, data in (("one", big1), ("two", big2)):
            self.assertEqual(d.get("/%s/header" % name).body, make_header(data, 1))
            self.assertEqual(self.block(d, name, 2799).body, make_block(data, 2799))
        new = os.urandom(700 * 1024)
        self.replace(d, "one", new)
        self.assertTrue(poll(lambda: 'dropped generation %s of one' % etag_of(big1)
                             in d.stderr()), d.stderr())
        self.assertEqual(self.block(d, "two", 0).body, make_block(big2, 0))
        self.assertEqual(self.block(d, "one", 0).body, make_block(new, 0))
        self.assertNotIn("of two", d.stderr())
        self.assertEqual(listing_json(d)["one"]["retained"], 0)

    # --- listing -------------------------------------------------------------
    def test_listing_generation_fields(self):
        t_start = time.time()
        a = self.add_image("fw", os.urandom(1234), version=3)
        d = self.start_gen()
        r = d.get("/firmwares")
        self.assertEqual(r.status, 200)
        text = r.body.decode("utf-8")
        for name, data in (("fw", a), ("vec", self.vec)):
            f = paragraph(text, name)
            m = re.match(r'^(".*") loaded (\S+)$', f.get("generation", ""))
            self.assertTrue(m, "generation line of %s: %r\n%s" % (name, f, text))
            self.assertEqual(m.group(1), etag_of(data))
            self.assertRegex(m.group(2), ISO)
            self.assertGreaterEqual(parse_time(m.group(2)), int(t_start) - 2)
            self.assertLessEqual(parse_time(m.group(2)), time.time() + 2)
            self.assertRegex(f.get("retained", ""), r"^0 older generations?$")
            # The fields from before generations are still there.
            self.assertEqual(f["crc32"], "0x%08X" % crc32(data))
        items = listing_json(d)
        self.assertEqual(items["vec"]["etag"], VEC_ETAG)
        loaded_a = items["fw"]["loaded"]
        for name, data in (("fw", a), ("vec", self.vec)):
            item = items[name]
            self.assertEqual(item["etag"], etag_of(data))
            self.assertRegex(item["loaded"], ISO)
            self.assertIs(type(item["retained"]), int)
            self.assertEqual(item["retained"], 0)

        time.sleep(1.1)     # the loaded time has a resolution of one second
        gens = [os.urandom(1234) for _ in range(2)]
        for n, g in enumerate(gens, 1):
            self.replace(d, "fw", g)
            item = listing_json(d)["fw"]
            self.assertEqual((item["etag"], item["retained"], item["crc32"]),
                             (etag_of(g), n, crc32(g)))
            self.assertGreater(parse_time(item["loaded"]), parse_time(loaded_a))
            self.assertLessEqual(parse_time(item["loaded"]), time.time() + 2)
            f = paragraph(d.get("/firmwares").body.decode("utf-8"), "fw")
            self.assertTrue(f["generation"].startswith(etag_of(g) + " loaded "), f)
            self.assertRegex(f["retained"], r"^%d older generations?$" % n)
        self.assertEqual(listing_json(d)["vec"]["retained"], 0)

    # --- log lines -------------------------------------------------------------
    def test_log_lines_carry_etag(self):
        d = self.start_gen()
        a = os.urandom(777)
        publish(self.dir, "fw", a)
        self.assertTrue(poll(lambda: self.current_is(d, "fw", a)))
        b = os.urandom(778)
        self.replace(d, "fw", b)
        self.assertTrue(poll(lambda: change_line("replaced", "fw", b, 1).search(d.stderr())))
        self.assertEqual(len(change_line("added", "fw", a, 1).findall(d.stderr())), 1,
                         d.stderr())
        self.assertEqual(len(change_line("replaced", "fw", b, 1).findall(d.stderr())), 1,
                         d.stderr())

    # --- configuration -------------------------------------------------------
    def check_config(self, text):
        path = self.config(text, name="check.yaml")
        return path, run_otad(["--config", path, "--firmware-dir", self.dir, "--check-config"])

    def test_config_keys(self):
        for text in ("settle_ms: 0\nretain_seconds: 0\nmax_memory: 1M\n",
                     "settle_ms: 60000\nretain_seconds: 86400\nmax_memory: 1099511627776\n",
                     "max_memory: 512M\n", "max_memory: 2G\n", "max_memory: 1024K\n",
                     "max_memory: 1048576\n"):
            path, p = self.check_config(text)
            self.assertEqual(p.returncode, 0, (text, p.stderr))
            self.assertIn(b"configuration OK", p.stdout)
        for text, key in (("settle_ms: 60001\n", "settle_ms"), ("settle_ms: -1\n", "settle_ms"),
                          ("settle_ms: fast\n", "settle_ms"),
                          ("retain_seconds: 86401\n", "retain_seconds"),
                          ("max_memory: 1023K\n", "max_memory"),
                          ("max_memory: 1048575\n", "max_memory"),
                          ("max_memory: 1099511627777\n", "max_memory"),
                          ("max_memory: 12X\n", "max_memory"),
                          ("max_memory: lots\n", "max_memory")):
            path, p = self.check_config("port: 8000\n" + text)
            self.assertEqual(p.returncode, 78, (text, p.stdout, p.stderr))
            err = p.stderr.decode()
            self.assertRegex(err, r"%s:2:\d+: .*%s" % (re.escape(path), key), text)


if __name__ == "__main__":
    main()
