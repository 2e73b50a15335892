#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Images are copied into memory at load: changing files in place does not
change what is served until the image is reloaded, and a download that
started before the reload goes on with the bytes it started with.

A device downloading block by block must get blocks of ONE image: if the file
were mmap'ed or read per request, an in-place rewrite would mix old and new
blocks (the image CRC fails after the whole download), and truncating a
mapped file would kill the daemon with SIGBUS.
"""

import os
import signal
import time

from otadtest import OtadTestCase, main, make_block, make_header, vector


class Snapshot(OtadTestCase):
    def test_in_place_changes_ignored_until_sighup(self):
        """A settle time of a minute holds the reload back: meanwhile the
        bytes in memory are served as they were loaded."""
        self.add_vectors()
        big = self.add_image("big", os.urandom(64 * 1024 + 5), version=4)
        d = self.start(config="settle_ms: 60000\n")
        with d.conn() as c:
            # A download has started on the original image.
            self.assertEqual(c.request("/vec/block/0").body, vector("expected/block-0.bin"))
            self.assertEqual(c.request("/big/block/0").body, make_block(big, 0))

            new_vec = os.urandom(1000)
            with open(os.path.join(self.dir, "vec.bin"), "r+b") as f:
                f.write(new_vec)
            with open(os.path.join(self.dir, "big.bin"), "r+b") as f:
                f.truncate(0)
            self.write("vec.txt", "99\n")
            time.sleep(0.5)    # the watcher sees the writes but must wait

            # Same connection and fresh connections: still the original bytes.
            for n in range(4):
                self.assertEqual(c.request("/vec/block/%d" % n).body,
                                 vector("expected/block-%d.bin" % n))
            self.assertEqual(c.request("/vec/header").body, vector("expected/header.bin"))
            for n in (0, 100, 256):   # the last block lies far past the new end of file
                self.assertEqual(c.request("/big/block/%d" % n).body, make_block(big, n), n)
        self.assertEqual(d.get("/big/header").body, make_header(big, 4))
        self.assertTrue(d.alive(), d.stderr())

        # The rescan picks up the new bytes; the emptied file is not an image,
        # and keeps the one loaded before.
        d.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while (time.monotonic() < deadline
               and d.get("/vec/header").body != make_header(new_vec, 99)):
            time.sleep(0.05)
        self.assertEqual(d.get("/big/header").body, make_header(big, 4))
        self.assertEqual(d.get("/vec/header").body, make_header(new_vec, 99))
        self.assertEqual(d.get("/vec/block/3").body, make_block(new_vec, 3))

    def test_pinned_download_survives_truncation(self):
        """Truncated in place and reloaded: new requests get the one block
        left, while the connection that fetched the header finishes with the
        old bytes."""
        self.add_vectors()
        big = self.add_image("big", os.urandom(64 * 1024 + 5), version=4)
        d = self.start()
        with d.conn() as c:
            self.assertEqual(c.request("/big/header").body, make_header(big, 4))
            self.assertEqual(c.request("/big/block/0").body, make_block(big, 0))
            with open(os.path.join(self.dir, "big.bin"), "r+b") as f:
                f.truncate(200)
            short = make_header(big[:200], 4)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and d.get("/big/header").body != short:
                time.sleep(0.02)
            self.assertEqual(d.get("/big/header").body, short)
            self.assertEqual(d.get("/big/block/1").status, 416)
            for n in range(1, 257):
                self.assertEqual(c.request("/big/block/%d" % n).body, make_block(big, n), n)
        self.assertTrue(d.alive(), d.stderr())


if __name__ == "__main__":
    main()
