#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""SIGHUP rescans the directory; SIGTERM/SIGINT stop cleanly with status 0."""

import json
import os
import signal
import time

from otadtest import (ConnectionClosed, OtadTestCase, main, make_block,
                      make_header, poll, request_bytes, vector)

STOP_LIMIT = 2.0   # seconds, from the spec


class Signals(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()

    def names(self, d):
        return [i["name"] for i in json.loads(d.get("/firmwares?format=json").body)]

    def test_sighup_rescan(self):
        """Add an image, change a version file, remove an image, replace an
        image's bytes: after SIGHUP every endpoint shows the new state.
        A settle time of a minute keeps the directory watch from publishing
        the changes first, so what is tested is the rescan."""
        old = self.add_image("old", os.urandom(600), version=2)
        self.add_image("repl", os.urandom(600), version=1)
        d = self.start(config="settle_ms: 60000\n")
        self.assertEqual(self.names(d), ["old", "repl", "vec"])
        self.assertEqual(d.get("/old/header").body, make_header(old, 2))

        new = self.add_image("new", os.urandom(1500), version=21)
        self.write("vec.txt", "8\n")
        os.remove(os.path.join(self.dir, "old.bin"))
        os.remove(os.path.join(self.dir, "old.txt"))
        # A publisher writes a temp file and renames it over the old one.
        repl = os.urandom(900)
        self.write(".repl.tmp", repl)
        os.rename(os.path.join(self.dir, ".repl.tmp"), os.path.join(self.dir, "repl.bin"))
        time.sleep(0.3)
        self.assertEqual(self.names(d), ["old", "repl", "vec"], "published before SIGHUP")
        d.send_signal(signal.SIGHUP)

        vec = vector("vec.bin")
        self.assertTrue(poll(lambda: self.names(d) == ["new", "repl", "vec"]),
                        "listing after SIGHUP: %r" % self.names(d))
        self.assertTrue(poll(lambda: d.get("/vec/header").body == make_header(vec, 8)))
        self.assertTrue(poll(lambda: d.get("/repl/header").body == make_header(repl, 1)))
        self.assertEqual(d.get("/new/header").body, make_header(new, 21))
        self.assertEqual(d.get("/new/block/5").body, make_block(new, 5))
        self.assertEqual(d.get("/repl/block/3").body, make_block(repl, 3))
        self.assertEqual(d.get("/old/header").status, 404)
        self.assertEqual(d.get("/old/block/0").status, 404)
        self.assertTrue(poll(lambda: "info: rescan: 3 images" in d.stderr()), d.stderr())
        self.assertTrue(d.alive())

    def test_sighup_keeps_connections(self):
        """A rescan does not drop a device's keep-alive connection."""
        d = self.start()
        with d.conn() as c:
            self.assertEqual(c.request("/vec/block/0").body, vector("expected/block-0.bin"))
            d.send_signal(signal.SIGHUP)
            self.assertTrue(poll(lambda: "rescan" in d.stderr()))
            for n in range(4):
                self.assertEqual(c.request("/vec/block/%d" % n).body,
                                 vector("expected/block-%d.bin" % n))

    def assertStops(self, d, sig):
        status, elapsed = d.stop(sig, timeout=STOP_LIMIT + 3)
        self.assertEqual(status, 0, d.stderr())
        self.assertLess(elapsed, STOP_LIMIT, "took %.2f s to stop" % elapsed)
        err = d.stderr()
        self.assertIn("info: stopping", err)
        self.assertIn("info: stopped", err)

    def test_sigterm(self):
        d = self.start()
        self.assertStops(d, signal.SIGTERM)

    def test_sigint(self):
        d = self.start()
        self.assertStops(d, signal.SIGINT)

    def test_sigterm_with_open_connections(self):
        """Idle keep-alive and legacy connections must not delay the exit."""
        d = self.start()
        conns = [d.conn() for _ in range(5)]
        try:
            conns[0].request("/vec/header")
            conns[1].request("/vec/header", headers=[("Connection", "close")])
            conns[2].send(b"GET /vec/hea")          # half a request
            self.assertStops(d, signal.SIGTERM)
        finally:
            for c in conns:
                c.close()

    def test_sigterm_mid_conversation(self):
        """A request written just before SIGTERM is either answered in full
        or the connection is closed without a partial response."""
        d = self.start()
        with d.conn() as c:
            self.assertEqual(c.request("/vec/block/0").body, vector("expected/block-0.bin"))
            c.send(request_bytes("/vec/block/3"))
            t0 = time.monotonic()
            d.send_signal(signal.SIGTERM)
            try:
                r = c.read_response(timeout=3.0)
                self.assertEqual((r.status, r.body), (200, vector("expected/block-3.bin")))
            except ConnectionClosed as e:
                self.assertEqual(e.partial, b"", "partial response before close")
        status = d.wait(STOP_LIMIT + 3)
        self.assertEqual(status, 0, d.stderr())
        self.assertLess(time.monotonic() - t0, STOP_LIMIT)

    def test_nothing_listens_after_stop(self):
        """The listening socket goes away with the daemon."""
        d = self.start()
        self.assertStops(d, signal.SIGTERM)
        with self.assertRaises(OSError):
            d.get("/vec/header")


if __name__ == "__main__":
    main()
