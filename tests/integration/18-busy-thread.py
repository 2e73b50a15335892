#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Many busy connections on one thread: 128 or more clients that each send
their next request as soon as the last answer arrives must all be served
continuously. (The HTTP library's event loop used to sleep with 128 requests
pending when exactly 128 connections of a thread were ready at once; see
src/epoll_drain.c.) The load comes from wrk, 2 s per run."""

import os
import re
import shutil
import subprocess

from otadtest import OtadTestCase, main, vector

WRK = shutil.which("wrk")
SECONDS = 2
# Served, a 1-thread otad answers tens of thousands of requests per second
# here (thousands under the sanitizers); stalled, it answered under 100/s.
MIN_REQUESTS = 5000


class BusyThread(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        self.assertIsNotNone(WRK, "wrk not found (scripts/deps.sh installs it)")
        self.lua = os.path.join(self.tmp, "walk.lua")
        with open(self.lua, "w") as f:
            f.write('local n = 0\n'
                    'function request()\n'
                    '  n = (n + 1) % 4\n'
                    '  return wrk.format("GET", "/vec/block/" .. n)\n'
                    'end\n')

    def wrk(self, port, conns):
        out = subprocess.run([WRK, "-t2", "-c%d" % conns, "-d%ds" % SECONDS, "--timeout", "10s",
                              "-s", self.lua, "http://127.0.0.1:%d/" % port],
                             capture_output=True, text=True, timeout=SECONDS + 30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn("Non-2xx", out.stdout, out.stdout)
        self.assertNotIn("Socket errors", out.stdout, out.stdout)
        return int(re.search(r"(\d+) requests in", out.stdout).group(1))

    def test_one_thread_many_busy_connections(self):
        d = self.start(config="threads: 1\n")
        for conns in (128, 256):
            n = self.wrk(d.port, conns)
            self.assertGreaterEqual(n, MIN_REQUESTS,
                                    "%d connections: only %d requests in %d s"
                                    % (conns, n, SECONDS))
        with d.conn() as c:
            self.assertEqual(c.request("/vec/block/3").body, vector("expected/block-3.bin"))

    def test_two_threads_many_busy_connections(self):
        d = self.start(config="threads: 2\n")
        n = self.wrk(d.port, 256)
        self.assertGreaterEqual(n, MIN_REQUESTS, "only %d requests in %d s" % (n, SECONDS))


if __name__ == "__main__":
    main()
