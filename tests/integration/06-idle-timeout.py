#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""idle_timeout: idle connections are closed, active ones are not."""

import time

from otadtest import OtadTestCase, main, vector


class IdleTimeout(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()

    def test_idle_connection_closed(self):
        """With idle_timeout: 1 a connection that never sends is closed
        within about 3 s (the timer is coarse), so dead devices free their slot."""
        d = self.start(config="idle_timeout: 1\n")
        with d.conn() as c:
            self.assertTrue(c.wait_closed(3.5), "idle connection still open after 3.5 s")

    def test_idle_after_requests_closed(self):
        """Also after a keep-alive request and after a legacy Connection:
        close request (legacy connections must not stay open forever)."""
        d = self.start(config="idle_timeout: 1\n")
        for headers in ([], [("Connection", "close")]):
            with d.conn() as c:
                r = c.request("/vec/header", headers=headers)
                self.assertEqual(r.body, vector("expected/header.bin"))
                self.assertTrue(c.wait_closed(3.5), "connection still open, %r" % headers)
        self.assertServing(d)

    def test_activity_keeps_connection(self):
        """The timeout counts idle time, not connection age: a request every
        0.3 s keeps a connection alive well past idle_timeout."""
        d = self.start(config="idle_timeout: 1\n")
        with d.conn() as c:
            t0 = time.monotonic()
            n = 0
            while time.monotonic() - t0 < 3.0 and n < 50:
                r = c.request("/vec/block/%d" % (n % 4))
                self.assertEqual(r.body, vector("expected/block-%d.bin" % (n % 4)), n)
                n += 1
                time.sleep(0.3)

    def test_default_timeout_is_long(self):
        """With the default (60 s) a connection idle for 2.5 s is still usable."""
        d = self.start()
        with d.conn() as c:
            self.assertFalse(c.wait_closed(2.5), "closed by the server after < 2.5 s idle")
            r = c.request("/vec/header")
            self.assertEqual(r.body, vector("expected/header.bin"))


if __name__ == "__main__":
    main()
