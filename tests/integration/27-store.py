#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The registry on disk: STATE_DIR/devices.db, read here with Python's sqlite3.

Devices asking with X-Device-Id show up in the file within about 2 s; a
restart keeps their first sighting; SIGKILL during flushes never damages the
file and loses at most the last second; an unusable state_dir or a corrupt
file costs one warning and firmware is still served."""

import json
import os
import random
import re
import signal
import sqlite3
import threading
import time

from otadtest import ConnectionClosed, OtadTestCase, main, poll, sanitizer_reports, vector

# Seconds: one flush a second, plus the flush itself, which on a loaded
# machine (or a sanitizer build) may wait for a WAL checkpoint's fsync.
FLUSH_DEADLINE = 2.5
SHORT = "vec"          # tests/vectors: version 7, 4 blocks


def query(path, sql, args=()):
    """The rows of `sql` on the file at `path`, or None if it cannot be read
    (not there yet, or locked beyond the timeout)."""
    if not os.path.exists(path):
        return None
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return None


def integrity(path):
    db = sqlite3.connect(path, timeout=5)
    try:
        return db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()


class Store(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        self.state = os.path.join(self.tmp, "state")
        self.db = os.path.join(self.state, "devices.db")

    def start_with(self, state_dir=None, extra=""):
        return self.start(config="state_dir: %s\n%s" % (state_dir or self.state, extra))

    def header(self, d, device_id, version=None):
        headers = [("X-Device-Id", device_id)]
        if version is not None:
            headers.append(("X-Device-Version", str(version)))
        r = d.get("/%s/header" % SHORT, headers=headers)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, vector("expected/header.bin"))

    def download(self, d, device_id):
        """Header then every block on one connection: the connection carries
        the device, so the blocks need no headers."""
        with d.conn() as c:
            r = c.request("/%s/header" % SHORT, headers=[("X-Device-Id", device_id)])
            self.assertEqual(r.status, 200)
            for n in range(4):
                r = c.request("/%s/block/%d" % (SHORT, n))
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, vector("expected/block-%d.bin" % n))

    def wait_rows(self, sql, expect, timeout=FLUSH_DEADLINE):
        """Polls until `sql` returns `expect`; returns the seconds it took."""
        t0 = time.monotonic()
        ok = poll(lambda: query(self.db, sql) == expect, timeout=timeout, interval=0.05)
        self.assertTrue(ok, "%s: %r after %.1f s, expected %r"
                        % (sql, query(self.db, sql), timeout, expect))
        return time.monotonic() - t0

    def warnings(self, d, pattern):
        return re.findall(r"^warning: .*%s.*$" % pattern, d.stderr(), re.M)

    def test_rows_appear(self):
        """A device that only checks, one that downloads everything, and a
        legacy client known by its address: their rows within 2.5 s."""
        d = self.start_with()
        self.assertIn("%s: 0 devices read back" % self.db, d.stderr())
        t0 = time.time() * 1000
        self.header(d, "stm32-00aa", version=6)
        self.download(d, "stm32-00bb")
        r = d.get("/%s/block/2" % SHORT)
        self.assertEqual(r.status, 200)
        t1 = time.time() * 1000
        took = self.wait_rows(
            "SELECT id, by_address, firmware, installed, offered, state, blocks_total,"
            " blocks_served FROM devices ORDER BY id",
            [("127.0.0.1", 1, "vec", None, 0, "downloading", 4, 1),
             ("stm32-00aa", 0, "vec", 6, 7, "checking", 0, 0),
             ("stm32-00bb", 0, "vec", None, 7, "downloaded", 4, 4)])
        self.assertLess(took, FLUSH_DEADLINE)
        seen = query(self.db, "SELECT first_seen_ms, last_seen_ms FROM devices")
        for first, last in seen:
            self.assertTrue(t0 - 1000 <= first <= last <= t1 + 1000, (first, last, t0, t1))
        self.assertEqual(query(self.db, "SELECT group_concat(state, ',') FROM (SELECT state"
                                        " FROM events WHERE device = 'stm32-00bb' ORDER BY n)"),
                         [("checking,downloading,downloaded",)])
        self.assertEqual(query(self.db, "PRAGMA journal_mode"), [("wal",)])
        self.assertEqual(query(self.db, "PRAGMA user_version"), [(1,)])

    def test_sigterm_writes_the_rest(self):
        """A change just before SIGTERM is written by the last flush."""
        d = self.start_with()
        self.header(d, "late-device")
        status, _ = d.stop(signal.SIGTERM)
        self.assertEqual(status, 0)
        self.assertEqual(query(self.db, "SELECT id, state FROM devices"),
                         [("late-device", "checking")])
        self.assertEqual(integrity(self.db), [("ok",)])

    def test_restart_keeps_first_seen(self):
        """Restarted, otad reads the device back, and the file keeps when it
        was first seen while its last sighting moves on."""
        d = self.start_with()
        self.header(d, "stm32-0001", version=6)
        self.wait_rows("SELECT count(*) FROM devices", [(1,)])
        (first, last), = query(self.db, "SELECT first_seen_ms, last_seen_ms FROM devices")
        self.assertEqual(d.stop()[0], 0)

        time.sleep(0.05)   # so that the next sighting is a later millisecond
        d = self.start_with()
        self.assertIn("%s: 1 device read back" % self.db, d.stderr())
        # Read back before any request: the admin API shows it as it was.
        r = d.admin_get("/devices/stm32-0001?format=json")
        self.assertEqual(r.status, 200)
        shown = json.loads(r.body)
        self.assertEqual((shown["first_seen_ms"], shown["last_seen_ms"], shown["installed"],
                          shown["state"]), (first, last, 6, "checking"))
        self.header(d, "stm32-0001", version=7)
        self.wait_rows("SELECT first_seen_ms, last_seen_ms > %d, installed, state FROM devices"
                       % last, [(first, 1, 7, "up-to-date")])

    def test_sigkill_during_flushes(self):
        """Devices keep asking while otad is killed with SIGKILL, four times:
        the file stays sound, and every device answered more than 2.5 s
        before a kill is in it."""
        rng = random.Random(27)
        for life in range(4):
            answered = {}      # device id -> when its header was answered, this life
            d = self.start_with()
            stop = threading.Event()
            errors = []

            def load(worker):
                n = 0
                while not stop.is_set() and n < 5000:
                    device = "k%d-w%d-%d" % (life, worker, n)
                    try:
                        r = d.get("/%s/header" % SHORT, headers=[("X-Device-Id", device)])
                    except (OSError, ConnectionClosed):
                        return          # killed under us
                    if r.status != 200:
                        errors.append(r.status)
                        return
                    answered[device] = time.monotonic()
                    n += 1
                    time.sleep(0.002)

            threads = [threading.Thread(target=load, args=(w,)) for w in range(2)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(3.0, 4.0))
            killed_at = time.monotonic()
            killed_wall = time.time() * 1000
            d.kill()
            stop.set()
            for t in threads:
                t.join(10)
            self.assertEqual(errors, [])
            self.assertEqual(sanitizer_reports(d.stderr()), [], d.stderr()[-4000:])
            self.assertEqual(integrity(self.db), [("ok",)], "after kill %d" % life)
            ids = {row[0] for row in query(self.db, "SELECT id FROM devices")}
            due = {k for k, at in answered.items() if at < killed_at - FLUSH_DEADLINE}
            self.assertTrue(due, "no device was answered in time to be written")
            lost = due - ids
            self.assertEqual(lost, set(), "lost after kill %d: %d of %d devices due"
                             % (life, len(lost), len(due)))
        self.assertGreater(len(ids), 100)

    def test_unwritable_state_dir(self):
        """state_dir under a regular file (even root cannot make it), then
        state_dir a regular file: one warning each, firmware still served,
        and no warning again while devices keep coming."""
        blocker = self.write("not-a-dir", "x", self.tmp)
        for state_dir in (os.path.join(blocker, "state"), blocker):
            d = self.start_with(state_dir=state_dir)
            self.assertServing(d)
            for i in range(3):
                self.header(d, "mem-%d" % i)
                time.sleep(0.5)
            self.assertServing(d)
            found = self.warnings(d, "memory only")
            self.assertEqual(len(found), 1, d.stderr())
            self.assertIn("state_dir %s: Not a directory" % state_dir, found[0])
            self.assertEqual(d.stop()[0], 0)
        self.assertEqual(os.listdir(self.tmp).count("not-a-dir"), 1)
        self.assertTrue(os.path.isfile(blocker))

    def test_corrupt_file_moved_aside(self):
        """Random bytes as devices.db: moved aside with one warning, a new
        file made and written, firmware served throughout."""
        os.mkdir(self.state)
        junk = random.Random(5).randbytes(20000)
        with open(self.db, "wb") as f:
            f.write(junk)
        d = self.start_with()
        self.assertServing(d)
        found = self.warnings(d, "moved aside")
        self.assertEqual(len(found), 1, d.stderr())
        aside = [n for n in os.listdir(self.state) if n.startswith("devices.db.corrupt-")]
        self.assertEqual(len(aside), 1, os.listdir(self.state))
        self.assertRegex(aside[0], r"^devices\.db\.corrupt-\d{8}T\d{6}Z$")
        self.assertIn(aside[0], found[0])
        with open(os.path.join(self.state, aside[0]), "rb") as f:
            self.assertEqual(f.read(), junk)
        self.header(d, "after-corrupt")
        # assertServing's header request, with no X-Device-Id, counts too.
        self.wait_rows("SELECT id FROM devices ORDER BY id", [("127.0.0.1",), ("after-corrupt",)])
        self.assertEqual(integrity(self.db), [("ok",)])
        self.assertServing(d)
        others = [w for w in self.warnings(d, "") if "running as root" not in w]
        self.assertEqual(others, found)


if __name__ == "__main__":
    main()
