#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Legacy keep-alive: the seed bootloader's Connection: close on one socket.

The STM32 bootloader in the field talks through an ESP8266 in transparent
mode. It sends "Connection: close" on every request, yet writes the next
request on the same TCP connection, because the Wi-Fi module cannot open a new
one by itself. The reference server kept such connections open; otad must do
the same by default, and close them when legacy_keep_alive is false.
"""

import os
import socket
import struct
import time

from otadtest import OtadTestCase, crc32, main, vector


class Bootloader:
    """A byte-for-byte model of the seed bootloader's HTTP client
    (perform_ota / skip_http_header in the seed), on one socket."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.port = port

    def close(self):
        self.sock.close()

    def recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("connection closed after %d of %d bytes" % (len(data), n))
            data += chunk
        return data

    def request(self, path):
        self.sock.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
                          % (path.encode(), self.port))

    def skip_http_header(self):
        """The seed's parser: read a byte; on CR read three more and stop
        when they are LF CR LF. It ignores the status code entirely."""
        for _ in range(4096):
            if self.recv_exact(1) == b"\r" and self.recv_exact(3) == b"\n\r\n":
                return
        raise AssertionError("no end of header within 4096 bytes")


class Legacy(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        # 40 full blocks + 100 bytes: 41 blocks.
        self.image = self.add_image("firmware", os.urandom(40 * 256 + 100), version=12)

    def download(self, port):
        """The bootloader's whole update: header, then every block with
        Connection: close, all on one socket, checking block and image CRCs."""
        bl = Bootloader(port)
        try:
            bl.request("/firmware/header")
            bl.skip_http_header()
            version, checksum, blocknum, blocksize, binsize = struct.unpack(
                "<IIIII", bl.recv_exact(20))
            self.assertEqual((version, blocknum, blocksize, binsize),
                             (12, 41, 256, len(self.image)))
            image = b""
            for i in range(blocknum):
                bl.request("/firmware/block/%d" % i)
                bl.skip_http_header()
                block = bl.recv_exact(260)
                self.assertEqual(crc32(block[:256]), struct.unpack("<I", block[256:])[0],
                                 "block %d CRC" % i)
                this_len = 256
                if i == blocknum - 1 and binsize % 256:
                    this_len = binsize % 256
                image += block[:this_len]
        finally:
            bl.close()
        self.assertEqual(crc32(image), checksum)
        self.assertEqual(image, self.image)

    def test_bootloader_download(self):
        """With the default configuration the seed bootloader completes an update."""
        d = self.start()
        self.download(d.port)

    def test_bootloader_download_explicit_on(self):
        for value in ("true", "yes", "on"):
            d = self.start(config="legacy_keep_alive: %s\n" % value)
            self.download(d.port)

    def test_device_connecting_during_start(self):
        """Devices retry all the time: one whose connection is accepted while
        otad is still starting (before the "listening on" line) must be
        served like any other, legacy keep-alive included."""
        for _ in range(5):
            d = self.start(wait=False)
            deadline = time.monotonic() + 10
            while True:
                try:
                    bl = Bootloader(d.port)
                    break
                except ConnectionRefusedError:
                    self.assertLess(time.monotonic(), deadline, "never accepted a connection")
                    self.assertTrue(d.alive(), d.stderr())
                    time.sleep(0.001)
            try:
                for path, size in (("/vec/header", 20), ("/vec/block/0", 260),
                                   ("/vec/block/3", 260)):
                    bl.request(path)
                    bl.skip_http_header()
                    self.assertEqual(len(bl.recv_exact(size)), size)
            finally:
                bl.close()
            d.wait_ready()
            self.assertServing(d)
            status, _ = d.stop()
            self.assertEqual(status, 0, d.stderr())

    def test_connection_close_answered_and_kept_open(self):
        """Each response to Connection: close says so, and the socket still
        carries the next request."""
        d = self.start()
        with d.conn() as c:
            for n in range(4):
                r = c.request("/vec/block/%d" % n, headers=[("Connection", "close")])
                self.assertEqual((r.status, r.body), (200, vector("expected/block-%d.bin" % n)))
                self.assertEqual(r.header("Connection"), "close")
            # Errors too keep the legacy connection alive.
            r = c.request("/vec/block/9", headers=[("Connection", "close")])
            self.assertEqual(r.status, 416)
            r = c.request("/vec/header", headers=[("Connection", "close")])
            self.assertEqual(r.body, vector("expected/header.bin"))

    def test_pipelined_after_close_never_parsed_midway(self):
        """A request pipelined behind a Connection: close one is not read
        from its middle. libmicrohttpd reads 1 KiB at a time and drops what
        it read past the "close" request when it closes; here a header value
        of the second request holds a whole fake request at every offset
        around that boundary. The fake must never be answered, nor the rest
        taken for a bad request: the second request is answered whole, or
        the socket closed."""
        d = self.start()
        first = b"GET /vec/header HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        second = b"GET /vec/block/0 HTTP/1.1\r\nHost: x\r\nX-Pad: "
        fake = b"GET /vec/block/3 HTTP/1.1\r\nHost: x\r\n\r\n"
        for at in range(990, 1060):
            pad = b"a" * (at - len(first) - len(second))
            with self.subTest(at=at), d.conn() as c:
                c.send(first + second + pad + fake)
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, vector("expected/header.bin")))
                if c.wait_closed(3.0):
                    self.assertEqual(c.buf, b"", "bytes after the close request parsed")
                else:
                    r = c.read_response() # handed back in step: the whole request
                    self.assertEqual((r.status, r.body), (200, vector("expected/block-0.bin")))
                    self.assertEqual(c.buf, b"")
        self.assertServing(d)

    def test_close_token_exact(self):
        """Only a "close" element of the Connection list asks for close:
        "notclose" does not, so an HTTP/1.0 request carrying it is closed
        like any HTTP/1.0 request, not kept as a legacy one. Case and white
        space do not matter, nor the place in the list."""
        d = self.start()
        with d.conn() as c:
            c.send(b"GET /vec/header HTTP/1.0\r\nConnection: notclose\r\n\r\n")
            self.assertEqual(c.read_response().body, vector("expected/header.bin"))
            self.assertTrue(c.wait_closed(10.0), "an HTTP/1.0 connection stayed open")
        with d.conn() as c:
            for value in ("keep-alive, close", "Close", " CLOSE ,x", "te,close"):
                r = c.request("/vec/block/1", headers=[("Connection", value)])
                self.assertEqual((r.status, r.body), (200, vector("expected/block-1.bin")), value)
                self.assertEqual(r.header("Connection"), "close", value)

    def test_keep_alive_failures_rate_limited(self):
        """A socket that cannot be handed back (here: every connection slot
        taken) is warned about once a minute, not once a request."""
        d = self.start(config="max_connections: 16\nmax_connections_per_address: 0\n"
                              "threads: 1\n")
        held = []
        try:
            for _ in range(15):
                c = d.conn()
                held.append(c)
                self.assertEqual(c.request("/vec/header").status, 200)
            for _ in range(5):
                with d.conn() as c:
                    r = c.request("/vec/header", headers=[("Connection", "close")])
                    self.assertEqual(r.body, vector("expected/header.bin"))
                    self.assertTrue(c.wait_closed(10.0), "kept open past max_connections")
        finally:
            for c in held:
                c.close()
        self.assertServing(d)
        warnings = [line for line in d.stderr().splitlines()
                    if "cannot keep a connection open" in line]
        self.assertEqual(len(warnings), 1, d.stderr())
        self.assertIn("(0 more since the last such warning)", warnings[0])

    def test_switch_off_closes(self):
        """legacy_keep_alive: false restores plain HTTP: close after the response."""
        d = self.start(config="legacy_keep_alive: false\n")
        with d.conn() as c:
            r = c.request("/vec/header", headers=[("Connection", "close")])
            self.assertEqual((r.status, r.body), (200, vector("expected/header.bin")))
            t0 = time.monotonic()
            self.assertTrue(c.wait_closed(3.0), "connection still open 3 s after the response")
            self.assertLess(time.monotonic() - t0, 2.5)
            self.assertEqual(c.buf, b"")
        # Plain keep-alive is unaffected by the switch.
        with d.conn() as c:
            for n in range(4):
                r = c.request("/vec/block/%d" % n)
                self.assertEqual(r.body, vector("expected/block-%d.bin" % n))

    def test_switch_off_legacy_client_fails(self):
        """The reason the default is on: with it off, the bootloader's second
        request on the socket gets no answer."""
        d = self.start(config="legacy_keep_alive: off\n")
        bl = Bootloader(d.port, timeout=3.0)
        try:
            bl.request("/firmware/header")
            bl.skip_http_header()
            bl.recv_exact(20)
            try:
                bl.request("/firmware/block/0")
                bl.skip_http_header()
                got_answer = True
            except (EOFError, OSError):
                got_answer = False
            self.assertFalse(got_answer)
        finally:
            bl.close()


if __name__ == "__main__":
    main()
