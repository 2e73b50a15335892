#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Denial of service by slow or many connections: request_timeout and
max_connections_per_address.

- Slowloris: 150 connections from 127.0.0.2, each sending one header byte
  every second (always within idle_timeout), against max_connections 64;
  meanwhile a fresh client on 127.0.0.1 gets every request answered. The
  attacker reopens what the server closes, for a bounded number of opens.
- One connection dribbling its header bytes is closed request_timeout after
  it started, although every byte came within idle_timeout; one that sends
  nothing is still closed by idle_timeout.
- Heads are not cut too early: a keep-alive connection idle for longer than
  request_timeout (but within idle_timeout), a legacy "Connection: close"
  socket as well, still gets its next request answered; a head sent in a few
  pieces within request_timeout is answered.
- The per-address limit (by default an eighth of max_connections, here 8 of
  64): connections beyond it from one address are closed at once, other
  addresses are still served; 0 means no limit.
- Both keys are range-checked.

Where a test must also run against a binary without the keys, it relies on
their defaults (request_timeout 10, max_connections_per_address an eighth of
max_connections).
"""

import socket
import time

from otadtest import ConnectionClosed, Conn, OtadTestCase, main, run_otad, vector

ATTACKER = "127.0.0.2"
ATTACK_CONNECTIONS = 150
ATTACK_SECONDS = 15.0
MAX_OPENS = 3000           # the attacker's reopenings, all told
DEFAULT_REQUEST_TIMEOUT = 10
MAX_CONNECTIONS = 64
DEFAULT_PER_ADDRESS = MAX_CONNECTIONS // 8
CONNECT_TIMEOUT = 2.0


class Attacker(Conn):
    """A connection from the second loopback address."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(CONNECT_TIMEOUT)
        self.buf = b""
        try:
            self.sock.bind((ATTACKER, 0))
            self.sock.connect(("127.0.0.1", port))
        except BaseException:
            self.sock.close()
            raise


def attacker(port, first=b"GET /vec/header HTTP/1.1\r\n"):
    """An Attacker that has sent `first`, the start of a request head; None
    if it could not connect."""
    try:
        c = Attacker(port)
    except OSError:
        return None
    try:
        c.send(first)
    except OSError:
        c.close()
        return None
    return c


class Dos(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        self.sockets = []
        self.addCleanup(self.close_sockets)

    def close_sockets(self):
        for s in self.sockets:
            s.close()
        self.sockets = []

    def test_slowloris_leaves_room_for_others(self):
        d = self.start(config="max_connections: %d\nidle_timeout: 5\nthreads: 2\n"
                       % MAX_CONNECTIONS)
        opens = 0
        slow = []
        for _ in range(ATTACK_CONNECTIONS):
            s = attacker(d.port)
            opens += 1
            if s is not None:
                slow.append(s)
        self.sockets = slow
        answered, failures = 0, []
        t0 = time.monotonic()
        next_byte = t0
        while time.monotonic() - t0 < ATTACK_SECONDS:
            if time.monotonic() >= next_byte:
                # One more header byte on every attacking connection; the
                # ones the server closed are opened again.
                next_byte += 1.0
                for i, s in enumerate(slow):
                    try:
                        s.sock.send(b"X")
                        continue
                    except OSError:
                        s.close()
                    if opens < MAX_OPENS:
                        opens += 1
                        slow[i] = attacker(d.port) or slow[i]
            try:
                with Conn(d.port, timeout=5) as c:
                    r = c.request("/vec/header")
                    if r.body != vector("expected/header.bin"):
                        failures.append(repr(r))
                    answered += 1
            except (OSError, ConnectionClosed) as e:
                failures.append("%.1f s into the attack: %r" % (time.monotonic() - t0, e))
            time.sleep(0.2)
        self.assertEqual(failures, [], "%d answered" % answered)
        self.assertGreaterEqual(answered, 5)
        self.assertTrue(d.alive())

    def test_dribbled_head_closed_after_request_timeout(self):
        d = self.start(config="idle_timeout: 5\n")
        s = attacker(d.port)
        self.assertIsNotNone(s)
        self.sockets.append(s)
        t0 = time.monotonic()
        closed = False
        while not closed and time.monotonic() - t0 < DEFAULT_REQUEST_TIMEOUT * 3:
            try:
                s.sock.send(b"X")
            except OSError:
                closed = True
                break
            closed = s.wait_closed(1.0)
        elapsed = time.monotonic() - t0
        self.assertTrue(closed, "a dribbling head was still open after %.0f s" % elapsed)
        # Not the idle timeout: every byte came within it.
        self.assertGreaterEqual(elapsed, DEFAULT_REQUEST_TIMEOUT - 1)
        self.assertServing(d)
        # A connection that sends nothing is closed by the idle timeout.
        with d.conn() as c:
            t0 = time.monotonic()
            self.assertTrue(c.wait_closed(30))
            self.assertLess(time.monotonic() - t0, DEFAULT_REQUEST_TIMEOUT + 3)

    def test_idle_keep_alive_is_not_a_late_head(self):
        d = self.start(config="request_timeout: 2\nidle_timeout: 6\n")
        for headers in ([], [("Connection", "close")]):
            with self.subTest(headers=headers), d.conn() as c:
                self.assertEqual(c.request("/vec/header", headers=headers).status, 200)
                time.sleep(4)
                r = c.request("/vec/block/1", headers=headers)
                self.assertEqual(r.body, vector("expected/block-1.bin"))
        # A head in three pieces within request_timeout is answered.
        with d.conn() as c:
            for piece in (b"GET /vec/header HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
                c.send(piece)
                time.sleep(0.1)
            self.assertEqual(c.read_response().body, vector("expected/header.bin"))
        # A head dribbled after a first request is cut as well, at the latest
        # idle_timeout + request_timeout after the response.
        with d.conn() as c:
            self.assertEqual(c.request("/vec/header").status, 200)
            t0 = time.monotonic()
            closed = False
            while not closed and time.monotonic() - t0 < 30:
                try:
                    c.send(b"X")
                except OSError:
                    break
                closed = c.wait_closed(1.0)
            self.assertLess(time.monotonic() - t0, 20, "a dribbling second head kept open")

    def test_per_address_limit(self):
        d = self.start(config="max_connections: %d\nthreads: 2\n" % MAX_CONNECTIONS)
        held = [attacker(d.port, first=b"") for _ in range(DEFAULT_PER_ADDRESS)]
        self.sockets = [s for s in held if s is not None]
        self.assertEqual(len(self.sockets), DEFAULT_PER_ADDRESS)
        # Let the server take them all before the next ones.
        time.sleep(0.5)
        for s in held:
            self.assertFalse(s.wait_closed(0.05))
        for i in range(8):
            extra = attacker(d.port, first=b"")
            self.assertIsNotNone(extra)
            self.sockets.append(extra)
            self.assertTrue(extra.wait_closed(5), "connection %d over the limit kept"
                            % (DEFAULT_PER_ADDRESS + i + 1))
        self.assertServing(d)
        self.assertIn("max_connections_per_address=%d" % DEFAULT_PER_ADDRESS, d.stderr())
        for s in held:
            self.assertFalse(s.wait_closed(0.01), "a connection within the limit closed")

    def test_no_per_address_limit(self):
        d = self.start(config="max_connections: %d\nmax_connections_per_address: 0\n"
                       % MAX_CONNECTIONS)
        self.sockets = [attacker(d.port, first=b"") for _ in range(DEFAULT_PER_ADDRESS + 8)]
        self.assertNotIn(None, self.sockets)
        time.sleep(0.5)
        for s in self.sockets:
            self.assertFalse(s.wait_closed(0.02))
        self.assertEqual(self.sockets[-1].request("/vec/header").status, 200)

    def test_key_ranges(self):
        for text, ok in (("request_timeout: 0\n", False), ("request_timeout: 1\n", True),
                         ("request_timeout: 3600\n", True), ("request_timeout: 3601\n", False),
                         ("max_connections_per_address: 0\n", True),
                         ("max_connections_per_address: 1000000\n", True),
                         ("max_connections_per_address: 1000001\n", False),
                         ("max_connections_per_address: -1\n", False)):
            with self.subTest(text=text):
                p = run_otad(["--config", self.config(text), "--firmware-dir", self.dir,
                              "--check-config"])
                self.assertEqual(p.returncode, 0 if ok else 78, p.stderr)
                if not ok:
                    self.assertIn(text.split(":")[0], p.stderr.decode())


if __name__ == "__main__":
    main()
