#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every block of images of the sizes where the last block changes shape is
byte-identical to the rule of the shared vectors: 256 data bytes (the last
block's real bytes, then 0xFF up to 256), then the CRC-32 of those 256 bytes,
little-endian. The expected bytes are built here with zlib, block by block,
not with the test helpers: otad gathers a block from the image, a shared
padding and its CRC table, and each of the three could be wrong alone."""

import os
import struct
import zlib

from otadtest import OtadTestCase, main, request_bytes, vector

SIZES = (1, 255, 256, 257, 65536, 1000003)
BATCH = 64                # requests written at once on the connection


def expected_block(data, n):
    chunk = data[n * 256:(n + 1) * 256]
    padded = chunk + bytes([0xFF]) * (256 - len(chunk))
    return padded + struct.pack("<I", zlib.crc32(padded) & 0xFFFFFFFF)


class BlockSizes(OtadTestCase):
    def test_every_block_of_every_size(self):
        images = {"s%d" % size: os.urandom(size) for size in SIZES}
        for name, data in images.items():
            self.add_image(name, data, version=1)
        d = self.start()
        with d.conn() as c:
            for name, data in images.items():
                nblocks = (len(data) + 255) // 256
                self.assertEqual(c.request("/%s/header" % name).status, 200)
                # Pipelined in batches: 3,907 requests for the largest in a
                # second or so.
                for first in range(0, nblocks, BATCH):
                    batch = range(first, min(first + BATCH, nblocks))
                    c.send(b"".join(request_bytes("/%s/block/%d" % (name, n)) for n in batch))
                    for n in batch:
                        r = c.read_response()
                        self.assertEqual(r.status, 200, (name, n))
                        self.assertEqual(r.header("Content-Length"), "260", (name, n))
                        self.assertEqual(r.body, expected_block(data, n), (name, n))
                r = c.request("/%s/block/%d" % (name, nblocks))
                self.assertEqual(r.status, 416, name)

    def test_vectors(self):
        """The shared vectors themselves, as the rule above builds them."""
        vec = vector("vec.bin")
        for n in range(4):
            self.assertEqual(expected_block(vec, n), vector("expected/block-%d.bin" % n))


if __name__ == "__main__":
    main()
