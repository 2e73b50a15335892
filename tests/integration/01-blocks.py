#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Header and block responses: exact bytes and the shape of the HTTP response."""

import os
import struct
import zlib

from otadtest import (BLOCK_SIZE, OtadTestCase, block_count, crc32, main,
                      make_block, parse_header, vector)


class Blocks(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        # 100 KiB + 37 bytes: 401 blocks, the last one holds 37 bytes + 219 x 0xFF.
        self.big = self.add_image("big", os.urandom(100 * 1024 + 37), version=3)
        self.d = self.start()

    def test_vector_header(self):
        """The 20-byte header must match the independently produced vector."""
        r = self.d.get("/vec/header")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, vector("expected/header.bin"))

    def test_vector_blocks(self):
        """Blocks 0..3 of vec.bin match the vectors; block 3 is 232 data bytes
        padded with 0xFF (the erased-flash value) and its CRC covers the padding."""
        with self.d.conn() as c:
            for n in range(4):
                r = c.request("/vec/block/%d" % n)
                self.assertEqual(r.status, 200, n)
                self.assertEqual(r.body, vector("expected/block-%d.bin" % n), n)
                self.assertEqual(struct.unpack("<I", r.body[256:])[0],
                                 zlib.crc32(r.body[:256]) & 0xFFFFFFFF)
        vec = vector("vec.bin")
        self.assertEqual(r.body[:232], vec[768:1000])
        self.assertEqual(r.body[232:256], b"\xff" * 24)

    def test_large_image_reassembled(self):
        """A 401-block random image downloaded block by block over one
        connection, as a device does, gives back the file and its CRC."""
        with self.d.conn() as c:
            r = c.request("/big/header")
            self.assertEqual(r.status, 200)
            h = parse_header(r.body)
            self.assertEqual(h, {"version": 3, "checksum": crc32(self.big),
                                 "blocknum": 401, "blocksize": 256,
                                 "binsize": len(self.big)})
            image = b""
            for n in range(h["blocknum"]):
                r = c.request("/big/block/%d" % n)
                self.assertEqual(r.status, 200, n)
                self.assertEqual(len(r.body), 260, n)
                data, (crc,) = r.body[:256], struct.unpack("<I", r.body[256:])
                self.assertEqual(crc, crc32(data), "block %d CRC" % n)
                image += data
        self.assertEqual(image[len(self.big):], b"\xff" * (401 * 256 - len(self.big)))
        image = image[:h["binsize"]]
        self.assertEqual(image, self.big)
        self.assertEqual(crc32(image), h["checksum"])

    def test_leading_zeros(self):
        """'007' is block 7; leading zeros are allowed by the protocol."""
        for path, expected in (("/big/block/007", make_block(self.big, 7)),
                               ("/big/block/0000000000000000000000400",
                                make_block(self.big, 400)),
                               ("/vec/block/00", vector("expected/block-0.bin")),
                               ("/vec/block/0003", vector("expected/block-3.bin"))):
            r = self.d.get(path)
            self.assertEqual(r.status, 200, path)
            self.assertEqual(r.body, expected, path)

    def test_response_headers(self):
        """Devices parse with tiny buffers: octet-stream, exactly one
        Content-Length, no Date or Server banner, the whole header block of a
        block response within 128 bytes (also when it carries Connection: close)."""
        cases = [("/vec/header", [], 20), ("/vec/block/1", [], 260),
                 ("/big/block/400", [], 260),
                 ("/vec/block/2", [("Connection", "close")], 260),
                 ("/vec/header", [("Connection", "close")], 20)]
        for path, headers, size in cases:
            with self.d.conn() as c:
                r = c.request(path, headers=headers)
            self.assertEqual(r.status, 200, path)
            self.assertTrue(r.head_bytes.startswith(b"HTTP/1.1 200 "), r.head_bytes)
            self.assertEqual(r.all("Content-Length"), [str(size)], r.headers)
            self.assertEqual(len(r.body), size)
            self.assertEqual(r.header("Content-Type"), "application/octet-stream")
            self.assertIsNone(r.header("Date"), r.headers)
            self.assertIsNone(r.header("Server"), r.headers)
            self.assertIsNone(r.header("Transfer-Encoding"), r.headers)
            self.assertLessEqual(len(r.head_bytes), 128,
                                 "%s: header block is %d bytes: %r"
                                 % (path, len(r.head_bytes), r.head_bytes))
            # Canonical header-name case, as the protocol asks.
            names = [k for k, _ in r.headers]
            self.assertIn("Content-Length", names)
            self.assertIn("Content-Type", names)

    def test_block_count_edges(self):
        """Exact multiples of 256 have no padding block; 1 byte is 1 block."""
        exact = self.add_image("exact", os.urandom(2 * BLOCK_SIZE), version=1)
        one = self.add_image("one", b"\x5a", version=1)
        d = self.start()
        for name, data in (("exact", exact), ("one", one)):
            h = parse_header(d.get("/%s/header" % name).body)
            self.assertEqual(h["blocknum"], block_count(data))
            for n in range(h["blocknum"]):
                self.assertEqual(d.get("/%s/block/%d" % (name, n)).body, make_block(data, n))
            self.assertEqual(d.get("/%s/block/%d" % (name, h["blocknum"])).status, 416)


if __name__ == "__main__":
    main()
