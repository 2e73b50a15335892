#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hot reload: changes in the firmware directory are picked up by inotify,
without SIGHUP, once the name has been quiet for settle_ms.

Every "not yet" check looks for a long while (several settle times) and every
"now" check polls with a bound (every 10 ms, up to 5 s), so the tests neither
race the daemon nor wait longer than needed. Expected bytes always come from
the files written here, through Python's zlib and struct.
"""

import os
import random
import re
import shutil
import signal
import subprocess
import time

from otadtest import (HeaderWatcher, OtadTestCase, block_count, change_line,
                      crc32, etag_of, listing_json, main, make_block,
                      make_header, parse_header, poll, publish, read_file,
                      vector)

SETTLE_MS = 100
SETTLE = SETTLE_MS / 1000.0
NOT_YET = 5 * SETTLE        # how long a "nothing new yet" check looks
QUIET = 3 * SETTLE + 0.3    # after a change is served: time for duplicate log lines
VEC_ETAG = '"1f52fd1c-3e8"'  # from the spec: crc 0x1F52FD1C, 1000 bytes


def removed_line(name):
    return re.compile(r"^info: removed %s$" % re.escape(name), re.M)


def version_line(name, version, source=None):
    tail = r" \(from %s\.txt\)" % re.escape(name) if source is None else r"\b.*"
    return re.compile(r"^info: version %s: %d%s$" % (re.escape(name), version, tail), re.M)


def any_change_line(name):
    """Every per-name change line (added/replaced/removed/version)."""
    n = re.escape(name)
    return re.compile(r"^info: (?:(?:added|replaced|version) %s: .*|removed %s)$" % (n, n), re.M)


class HotReload(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        self.vec = vector("vec.bin")

    def start_live(self, settle_ms=SETTLE_MS, extra="", **kw):
        return self.start(config="settle_ms: %d\n%s" % (settle_ms, extra), **kw)

    # --- helpers -------------------------------------------------------
    def header_is(self, d, name, body):
        r = d.get("/%s/header" % name)
        return r.status == 200 and r.body == body

    def status_is(self, d, name, status):
        return d.get("/%s/header" % name).status == status

    def assertBecomesHeader(self, d, name, data, version, timeout=5.0):
        expected = make_header(data, version)
        self.assertTrue(poll(lambda: self.header_is(d, name, expected), timeout),
                        "/%s/header never became %r within %.0f s; now %r\n%s"
                        % (name, expected, timeout, d.get("/%s/header" % name).body,
                           d.stderr()[-3000:]))

    def assertBecomesAbsent(self, d, name, timeout=5.0):
        self.assertTrue(poll(lambda: self.status_is(d, name, 404), timeout),
                        "/%s/header still served after %.0f s\n%s"
                        % (name, timeout, d.stderr()[-3000:]))

    def assertStaysHeader(self, d, name, body, duration=NOT_YET):
        """/NAME/header answers `body` (or 404 when body is None) for the
        whole `duration`, checked every 10 ms."""
        deadline = time.monotonic() + duration
        n = 0
        while time.monotonic() < deadline or n == 0:
            r = d.get("/%s/header" % name)
            if body is None:
                self.assertEqual(r.status, 404, "%s served too early: %r" % (name, r.body))
            else:
                self.assertEqual((r.status, r.body), (200, body),
                                 "%s changed too early (check %d)" % (name, n))
            n += 1
            time.sleep(0.01)

    def assertServes(self, d, name, data, version):
        """Header, ETag, first and last block and the listing entry on fresh
        connections (no pin: the current generation)."""
        r = d.get("/%s/header" % name)
        self.assertEqual((r.status, r.body), (200, make_header(data, version)), name)
        self.assertEqual(r.header("ETag"), etag_of(data), name)
        with d.conn() as c:
            for n in sorted({0, block_count(data) // 2, block_count(data) - 1}):
                r = c.request("/%s/block/%d" % (name, n))
                self.assertEqual((r.status, r.body), (200, make_block(data, n)), (name, n))
                self.assertEqual(r.header("ETag"), etag_of(data), (name, n))
            self.assertEqual(c.request("/%s/block/%d" % (name, block_count(data))).status, 416)
        item = listing_json(d)[name]
        self.assertEqual((item["size"], item["crc32"], item["version"]),
                         (len(data), crc32(data), version))

    def count(self, d, regex):
        return len(regex.findall(d.stderr()))

    def assertLoggedOnce(self, d, regex, quiet=True):
        """The log line appears, and exactly once (also after a quiet period
        in which a duplicate reload would have logged again)."""
        self.assertTrue(poll(lambda: self.count(d, regex) >= 1, 5.0),
                        "no log line %r in:\n%s" % (regex.pattern, d.stderr()))
        if quiet:
            time.sleep(QUIET)
        self.assertEqual(self.count(d, regex), 1,
                         "log line %r not exactly once:\n%s" % (regex.pattern, d.stderr()))

    def names(self, d):
        return sorted(listing_json(d))

    # --- adding ----------------------------------------------------------
    def test_add_by_rename(self):
        """A new image published by rename appears with its version, and the
        dot temp file is never served."""
        d = self.start_live()
        self.assertEqual(d.get("/new/header").status, 404)
        self.write("new.txt", "5\n")
        data = os.urandom(3000)
        publish(self.dir, "new", data)
        self.assertBecomesHeader(d, "new", data, 5)
        self.assertServes(d, "new", data, 5)
        self.assertEqual(self.names(d), ["new", "vec"])
        self.assertEqual(d.get("/.new.bin/header").status, 404)
        self.assertLoggedOnce(d, change_line("added", "new", data, 5))
        self.assertEqual(self.count(d, any_change_line("new")), 1, d.stderr())
        # vec was not touched: no change line for it.
        self.assertEqual(self.count(d, any_change_line("vec")), 0, d.stderr())

    def test_add_by_plain_write(self):
        """A file written in place (create, write, close) is served after the
        close; its upper-case suffix is matched case-insensitively."""
        d = self.start_live()
        self.write("up.txt", "9\n")
        data = os.urandom(700)
        self.write("up.BIN", data)
        self.assertBecomesHeader(d, "up", data, 9)
        self.assertServes(d, "up", data, 9)
        self.assertLoggedOnce(d, change_line("added", "up", data, 9))

    def test_dot_files_ignored(self):
        """Names starting with '.' are never loaded, whatever happens to them."""
        d = self.start_live()
        self.write(".hidden.bin", os.urandom(500))
        self.write(".hidden.txt", "3\n")
        publish(self.dir, ".dot", os.urandom(500))
        time.sleep(NOT_YET)
        self.assertEqual(d.get("/.hidden/header").status, 404)
        self.assertEqual(d.get("/.dot/header").status, 404)
        self.assertEqual(self.names(d), ["vec"])
        self.assertNotIn("hidden", d.stderr())

    # --- replacing ---------------------------------------------------------
    def test_replace_by_rename(self):
        old = self.add_image("fw", os.urandom(5000), version=2)
        d = self.start_live()
        watcher = HeaderWatcher(d, "fw")
        watcher.start()
        new = os.urandom(4321)
        publish(self.dir, "fw", new)
        try:
            self.assertBecomesHeader(d, "fw", new, 2)
        finally:
            seen = watcher.stop()
        self.assertEqual([b for _, b in seen if b not in (make_header(old, 2),
                                                          make_header(new, 2))], [],
                         "a header of neither image was served")
        self.assertServes(d, "fw", new, 2)
        self.assertLoggedOnce(d, change_line("replaced", "fw", new, 2))
        self.assertEqual(self.count(d, any_change_line("fw")), 1, d.stderr())

    def test_replace_by_cp(self):
        """`cp` over the file truncates it and writes it again in place: only
        the old or the complete new image is ever served."""
        old = self.add_image("fw", os.urandom(200 * 1024 + 17), version=4)
        d = self.start_live()
        new = os.urandom(150 * 1024 + 3)
        src = self.write("src.bin", new, self.tmp)
        watcher = HeaderWatcher(d, "fw")
        watcher.start()
        try:
            subprocess.run(["cp", src, os.path.join(self.dir, "fw.bin")], check=True)
            self.assertBecomesHeader(d, "fw", new, 4)
        finally:
            seen = watcher.stop()
        self.assertEqual([s for s in seen if s not in ((200, make_header(old, 4)),
                                                       (200, make_header(new, 4)))], [],
                         "a partial image was served")
        self.assertServes(d, "fw", new, 4)
        self.assertLoggedOnce(d, change_line("replaced", "fw", new, 4))
        self.assertEqual(self.count(d, any_change_line("fw")), 1, d.stderr())

    def test_truncate_in_place(self):
        """Truncating through an open file: the shorter image is served; a
        file truncated to 0 bytes keeps the image served before (an empty
        file is not an image, and not a removal either)."""
        old = self.add_image("fw", os.urandom(10000), version=3)
        d = self.start_live()
        with open(os.path.join(self.dir, "fw.bin"), "r+b") as f:
            f.truncate(4000)
        short = old[:4000]
        self.assertBecomesHeader(d, "fw", short, 3)
        self.assertServes(d, "fw", short, 3)
        self.assertLoggedOnce(d, change_line("replaced", "fw", short, 3))

        # truncate(2) by path: no open, no close, just the modification.
        os.truncate(os.path.join(self.dir, "fw.bin"), 1000)
        self.assertBecomesHeader(d, "fw", old[:1000], 3)
        self.assertServes(d, "fw", old[:1000], 3)

        with open(os.path.join(self.dir, "fw.bin"), "r+b") as f:
            f.truncate(0)
        self.assertTrue(poll(lambda: "warning: fw.bin: empty; still serving the image loaded "
                             "before" in d.stderr()), d.stderr())
        self.assertStaysHeader(d, "fw", make_header(old[:1000], 3))
        self.assertServes(d, "fw", old[:1000], 3)
        self.assertEqual(self.names(d), ["fw", "vec"])
        self.assertTrue(d.alive())

    def test_emptied_file_is_retried(self):
        """A file emptied in place keeps the image served before and is read
        again every second, so bytes that come back without an event of the
        directory (written here through a hard link in another directory,
        as after lost events) are served."""
        old = self.add_image("fw", os.urandom(10000), version=3)
        outside = os.path.join(self.tmp, "fw-link")
        os.link(os.path.join(self.dir, "fw.bin"), outside)
        d = self.start_live()
        os.truncate(os.path.join(self.dir, "fw.bin"), 0)
        self.assertTrue(poll(lambda: "warning: fw.bin: empty; still serving the image loaded "
                             "before" in d.stderr()), d.stderr())
        new = os.urandom(7000)
        with open(outside, "r+b") as f:  # the same inode, not seen by the watch
            f.write(new)
        self.assertBecomesHeader(d, "fw", new, 3)
        self.assertServes(d, "fw", new, 3)
        self.assertEqual(d.stderr().count("fw.bin: empty"), 1, d.stderr())

    def test_truncate_by_path_while_read(self):
        """truncate(2) by path while another process only reads the file: the
        reader's close completes the change, which is then loaded."""
        old = self.add_image("fw", os.urandom(10000), version=3)
        d = self.start_live()
        path = os.path.join(self.dir, "fw.bin")
        with open(path, "rb") as reader:
            reader.read(100)
            os.truncate(path, 2500)
            # Still open somewhere: it may be a writer's, so not loaded yet.
            self.assertStaysHeader(d, "fw", make_header(old, 3))
        self.assertBecomesHeader(d, "fw", old[:2500], 3)
        self.assertServes(d, "fw", old[:2500], 3)
        self.assertLoggedOnce(d, change_line("replaced", "fw", old[:2500], 3))

    def test_changed_while_read_is_retried(self):
        """A file that changes while otad reads it is read again once it has
        settled, even when no later event says so: here the image is a
        symbolic link to a file outside the directory (not watched), grown
        by a writer while the reloads of the name read it."""
        settle_ms = 200
        outside = os.path.join(self.tmp, "outside")
        os.mkdir(outside)
        target = self.write("fw.bin", os.urandom(8 << 20), outside)
        os.symlink(target, os.path.join(self.dir, "fw.bin"))
        d = self.start_live(settle_ms=settle_ms)
        for version in range(2, 7):
            size = os.path.getsize(target)
            # A writer appending as fast as it can, as long as this runs.
            writer = subprocess.Popen(
                ["python3", "-c", "import sys\nf = open(sys.argv[1], 'ab', buffering=0)\n"
                 "while True: f.write(b'x' * 16)", target])
            try:
                self.assertTrue(poll(lambda: os.path.getsize(target) > size, 10.0))
                self.write("fw.txt", "%d\n" % version)  # schedules a reload of fw
                time.sleep(4 * settle_ms / 1000.0)      # it reads a growing file
            finally:
                writer.kill()
                writer.wait(10)
            if parse_header(d.get("/fw/header").body)["version"] != version:
                break
            # A read fell between two appends and was loaded: try again.
        else:
            self.skipTest("no reload caught the writer at work in 5 tries")
        # No event comes now: only a retry loads the final state.
        self.assertBecomesHeader(d, "fw", read_file(target), version, timeout=10.0)
        self.assertServes(d, "fw", read_file(target), version)
        self.assertIn("warning: fw.bin: changed while being read", d.stderr())

    def test_quick_in_place_rewrites(self):
        """open(O_TRUNC), write, close, again and again with a short settle
        time, as an editor or a plain `>` redirection does: a reload that
        catches the file empty or half-rewritten keeps the image served
        before, so a device polling the header never gets 404, nor a header
        of anything but one of the complete files."""
        rnd = random.Random(12)
        versions = [os.urandom(2000 + 37 * i) for i in range(200)]
        path = self.write("fw.bin", versions[0])
        d = self.start_live(settle_ms=20)
        watcher = HeaderWatcher(d, "fw", interval=0.002)
        watcher.start()
        try:
            for data in versions[1:]:
                # One write(2) of the whole image: Python's buffered file
                # would split it at st_blksize, and a writer stalled longer
                # than the settle time between two writes has, by the
                # settle rule, finished (a limit otad(8) documents).
                fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
                try:
                    self.assertEqual(os.write(fd, data), len(data))
                finally:
                    os.close(fd)
                time.sleep(rnd.uniform(0.010, 0.030))
            self.assertBecomesHeader(d, "fw", versions[-1], 1)
        finally:
            seen = watcher.stop()
        allowed = {(200, make_header(v, 1)) for v in versions}
        self.assertNotIn(404, [status for status, _ in seen], "fw vanished during rewrites")
        self.assertEqual([st for st in seen if st not in allowed], [],
                         "a header of an incomplete file was served")
        self.assertGreater(watcher.count, 100)
        self.assertServes(d, "fw", versions[-1], 1)

    def test_slow_writer_replace(self):
        """One open: half the file, a pause of 5 settle times, the rest,
        close. The old image is served until the close, then the new one;
        the half file is never loaded."""
        old = self.add_image("fw", os.urandom(64 * 1024), version=6)
        d = self.start_live()
        new = os.urandom(48 * 1024 + 10)
        half = len(new) // 2
        with open(os.path.join(self.dir, "fw.bin"), "wb", buffering=0) as f:
            f.write(new[:half])
            self.assertStaysHeader(d, "fw", make_header(old, 6))
            # Blocks too come from the old image (no pin: fresh connections).
            self.assertEqual(d.get("/fw/block/255").body, make_block(old, 255))
            f.write(new[half:])
        self.assertBecomesHeader(d, "fw", new, 6)
        self.assertServes(d, "fw", new, 6)
        self.assertLoggedOnce(d, change_line("replaced", "fw", new, 6))
        self.assertNotIn(etag_of(new[:half]), d.stderr())
        self.assertEqual(self.count(d, any_change_line("fw")), 1, d.stderr())

    def test_sighup_during_slow_writer(self):
        """A rescan (SIGHUP) while a writer has the file open half-written:
        the old generation is still served, the half file is never loaded;
        after the close, the complete new one is."""
        old = self.add_image("fw", os.urandom(64 * 1024), version=6)
        d = self.start_live()
        new = os.urandom(48 * 1024 + 10)
        half = len(new) // 2
        rescans = d.stderr().count("info: rescan:")
        with open(os.path.join(self.dir, "fw.bin"), "wb", buffering=0) as f:
            f.write(new[:half])
            d.send_signal(signal.SIGHUP)
            self.assertTrue(poll(lambda: d.stderr().count("info: rescan:") > rescans),
                            d.stderr())
            self.assertStaysHeader(d, "fw", make_header(old, 6))
            self.assertEqual(d.get("/fw/block/255").body, make_block(old, 255))
            f.write(new[half:])
        self.assertBecomesHeader(d, "fw", new, 6)
        self.assertServes(d, "fw", new, 6)
        self.assertNotIn(etag_of(new[:half]), d.stderr())
        self.assertLoggedOnce(d, change_line("replaced", "fw", new, 6))

    def test_slow_writer_new_name(self):
        """A slow writer creating a new name: absent until the close."""
        d = self.start_live()
        self.write("slow.txt", "2\n")
        new = os.urandom(20000)
        half = len(new) // 2
        with open(os.path.join(self.dir, "slow.bin"), "wb", buffering=0) as f:
            f.write(new[:half])
            self.assertStaysHeader(d, "slow", None)
            self.assertNotIn("slow", listing_json(d))
            f.write(new[half:])
        self.assertBecomesHeader(d, "slow", new, 2)
        self.assertServes(d, "slow", new, 2)
        self.assertLoggedOnce(d, change_line("added", "slow", new, 2))
        self.assertNotIn(etag_of(new[:half]), d.stderr())

    def test_close_and_reopen_within_settle(self):
        """A writer that closes after the first half and reopens (append)
        within the settle time, then writes slowly (a quarter, a pause of 3
        settle times, the rest): the reload due after the first close is
        cancelled by the writes, so only the complete file is ever served,
        for an existing name and for a new one."""
        settle_ms = 300
        old = self.add_image("fw", os.urandom(30000), version=1)
        d = self.start_live(settle_ms=settle_ms)
        for name, before in (("fw", make_header(old, 1)), ("fresh", None)):
            new = os.urandom(40000 + len(name))
            half = len(new) // 2
            watcher = HeaderWatcher(d, name)
            watcher.start()
            try:
                path = os.path.join(self.dir, name + ".bin")
                with open(path, "wb") as f:
                    f.write(new[:half])
                t_close = time.monotonic()
                time.sleep(0.02)
                with open(path, "ab", buffering=0) as f:
                    f.write(new[half:half + half // 2])
                    self.assertLess(time.monotonic() - t_close, 0.8 * settle_ms / 1000.0,
                                    "the test itself was too slow to reopen within settle")
                    time.sleep(3 * settle_ms / 1000.0)
                    f.write(new[half + half // 2:])
                self.assertBecomesHeader(d, name, new, 1)
                time.sleep(2 * settle_ms / 1000.0)
            finally:
                seen = watcher.stop()
            allowed = [(200, make_header(new, 1))]
            allowed.append((200, before) if before else (404, b""))
            self.assertEqual([s for s in seen if s not in allowed], [],
                             "%s: the first half was served" % name)
            self.assertNotIn(etag_of(new[:half]), d.stderr())
            self.assertNotIn(etag_of(new[:half + half // 2]), d.stderr())
            kind = "added" if before is None else "replaced"
            self.assertLoggedOnce(d, change_line(kind, name, new, 1), quiet=False)
            self.assertServes(d, name, new, 1)

    def test_settle_time_respected(self):
        """A published file is not loaded before settle_ms of quiet, then
        promptly."""
        settle_ms = 600
        old = self.add_image("fw", os.urandom(2000), version=1)
        d = self.start_live(settle_ms=settle_ms)
        new = os.urandom(2000)
        t0 = time.monotonic()
        publish(self.dir, "fw", new)
        first_new = None
        deadline = t0 + 5.0
        while time.monotonic() < deadline:
            body = d.get("/fw/header").body
            now = time.monotonic()
            if body == make_header(new, 1):
                first_new = now
                break
            self.assertEqual(body, make_header(old, 1))
            time.sleep(0.01)
        self.assertIsNotNone(first_new, "new image not served within 5 s")
        self.assertGreaterEqual(first_new - t0, 0.5 * settle_ms / 1000.0,
                                "served %.0f ms after the rename, settle_ms is %d"
                                % ((first_new - t0) * 1000, settle_ms))

    # --- removing and versions ------------------------------------------
    def test_delete(self):
        data = self.add_image("fw", os.urandom(3000), version=8)
        d = self.start_live()
        self.assertServes(d, "fw", data, 8)
        os.remove(os.path.join(self.dir, "fw.bin"))
        self.assertBecomesAbsent(d, "fw")
        self.assertEqual(d.get("/fw/block/0").status, 404)
        self.assertEqual(self.names(d), ["vec"])
        self.assertLoggedOnce(d, removed_line("fw"))
        # Removing the orphaned version file changes nothing served.
        os.remove(os.path.join(self.dir, "fw.txt"))
        time.sleep(NOT_YET)
        self.assertEqual(d.get("/fw/header").status, 404)
        self.assertEqual(self.count(d, any_change_line("fw")), 1, d.stderr())
        self.assertTrue(self.header_is(d, "vec", vector("expected/header.bin")))

    def test_rename_away_and_back(self):
        """Renaming NAME.bin to a dot name removes it; renaming it back adds
        the same bytes again, with the same ETag."""
        data = self.add_image("fw", os.urandom(2500), version=4)
        d = self.start_live()
        os.rename(os.path.join(self.dir, "fw.bin"), os.path.join(self.dir, ".fw.old"))
        self.assertBecomesAbsent(d, "fw")
        self.assertLoggedOnce(d, removed_line("fw"), quiet=False)
        os.rename(os.path.join(self.dir, ".fw.old"), os.path.join(self.dir, "fw.bin"))
        self.assertBecomesHeader(d, "fw", data, 4)
        self.assertServes(d, "fw", data, 4)
        self.assertLoggedOnce(d, change_line("added", "fw", data, 4))
        self.assertEqual(self.count(d, any_change_line("fw")), 2, d.stderr())

    def test_case_variant_takes_over(self):
        """With a.bin and a.BIN, a.bin wins; once a.bin is removed, a.BIN is
        what a fresh start would serve, so it is served."""
        low = self.add_image("a", os.urandom(500), version=2)
        up = os.urandom(600)
        self.write("a.BIN", up)
        d = self.start_live()
        self.assertServes(d, "a", low, 2)
        os.remove(os.path.join(self.dir, "a.bin"))
        self.assertBecomesHeader(d, "a", up, 2)
        self.assertServes(d, "a", up, 2)
        self.assertLoggedOnce(d, change_line("replaced", "a", up, 2))

    def test_txt_only_change(self):
        """A new version number: the header changes, the generation (ETag,
        loaded time, retained count) does not, and one `version` line."""
        d = self.start_live()
        before = listing_json(d)["vec"]
        self.assertEqual(before["etag"], VEC_ETAG)
        self.write("vec.txt", "8\n")
        self.assertBecomesHeader(d, "vec", self.vec, 8)
        r = d.get("/vec/header")
        self.assertEqual(r.header("ETag"), VEC_ETAG)
        self.assertEqual(d.get("/vec/block/3").header("ETag"), VEC_ETAG)
        after = listing_json(d)["vec"]
        self.assertEqual(after["version"], 8)
        self.assertEqual((after["etag"], after["loaded"], after["retained"]),
                         (before["etag"], before["loaded"], 0))
        self.assertLoggedOnce(d, version_line("vec", 8))
        self.assertEqual(self.count(d, any_change_line("vec")), 1, d.stderr())

        # Version file removed: version 1 (with a warning), same generation.
        os.remove(os.path.join(self.dir, "vec.txt"))
        self.assertBecomesHeader(d, "vec", self.vec, 1)
        self.assertEqual(d.get("/vec/header").header("ETag"), VEC_ETAG)
        self.assertTrue(poll(lambda: any("vec.txt" in l and "using version 1" in l
                                         for l in d.stderr().splitlines()
                                         if l.startswith("warning: "))), d.stderr())
        self.assertLoggedOnce(d, version_line("vec", 1, source="any"))
        self.assertEqual(self.count(d, re.compile(r"^info: replaced vec:", re.M)), 0)
        self.assertEqual(listing_json(d)["vec"]["retained"], 0)

    # --- the directory itself --------------------------------------------
    def test_directory_removed_and_recreated(self):
        self.add_image("fw", os.urandom(900), version=2)
        d = self.start_live()
        warnings_before = d.stderr().count("warning: ")
        shutil.rmtree(self.dir)
        self.assertBecomesAbsent(d, "vec")
        self.assertBecomesAbsent(d, "fw")
        self.assertEqual(listing_json(d), {})
        self.assertTrue(poll(lambda: d.stderr().count("warning: ") > warnings_before),
                        "no warning about the missing directory:\n" + d.stderr())
        # A SIGHUP meanwhile finds nothing to load either (and does not crash).
        d.send_signal(signal.SIGHUP)
        time.sleep(3 * SETTLE)
        self.assertEqual(listing_json(d), {})
        self.assertEqual(d.get("/firmwares").body, b"no firmware\n")
        self.assertTrue(d.alive())

        os.mkdir(self.dir)
        other = self.add_image("other", os.urandom(1200), version=4)
        self.assertBecomesHeader(d, "other", other, 4)
        self.assertEqual(self.names(d), ["other"])
        self.assertServes(d, "other", other, 4)
        # The new directory is watched: later changes in it are picked up.
        later = os.urandom(800)
        publish(self.dir, "other", later)
        self.assertBecomesHeader(d, "other", later, 4)
        self.add_vectors()
        self.assertBecomesHeader(d, "vec", self.vec, 7)
        self.assertEqual(self.names(d), ["other", "vec"])

    def test_directory_renamed_away_and_new_renamed_in(self):
        self.add_image("a", os.urandom(900), version=2)
        d = self.start_live()
        nxt = os.path.join(self.tmp, "firmware.next")
        os.mkdir(nxt)
        b = self.add_image("b", os.urandom(1500), version=3, directory=nxt)
        newvec = self.add_image("vec", os.urandom(1000), version=9, directory=nxt)
        old_dir = os.path.join(self.tmp, "firmware.old")
        os.rename(self.dir, old_dir)
        os.rename(nxt, self.dir)
        self.assertTrue(poll(lambda: self.names(d) == ["b", "vec"]),
                        "listing %r\n%s" % (self.names(d), d.stderr()))
        self.assertBecomesHeader(d, "vec", newvec, 9)
        self.assertServes(d, "b", b, 3)
        self.assertEqual(d.get("/a/header").status, 404)
        # Changes in the old directory (renamed away) are not served; changes
        # in the one now at the path are.
        publish(old_dir, "ghost", os.urandom(600))
        c = publish(self.dir, "c", os.urandom(700))
        self.assertBecomesHeader(d, "c", read_file(c), 1)
        time.sleep(NOT_YET)
        self.assertEqual(d.get("/ghost/header").status, 404)
        self.assertEqual(self.names(d), ["b", "c", "vec"])

    def test_firmware_dir_symlink_swapped(self):
        """firmware_dir is a symlink; `ln -sfn` points it at another release
        directory: the catalog follows, and only the current target is watched."""
        v1 = os.path.join(self.tmp, "v1")
        v2 = os.path.join(self.tmp, "v2")
        os.mkdir(v1)
        os.mkdir(v2)
        a1 = self.add_image("a", os.urandom(1000), version=1, directory=v1)
        vec2 = self.add_image("vec", os.urandom(999), version=2, directory=v2)
        b2 = self.add_image("b", os.urandom(2000), version=5, directory=v2)
        current = os.path.join(self.tmp, "current")
        os.symlink("v1", current)
        d = self.start_live(firmware_dir=current)
        self.assertEqual(self.names(d), ["a"])
        subprocess.run(["ln", "-sfn", "v2", "current"], cwd=self.tmp, check=True)
        self.assertTrue(poll(lambda: self.names(d) == ["b", "vec"]),
                        "listing %r\n%s" % (self.names(d), d.stderr()))
        self.assertServes(d, "b", b2, 5)
        self.assertServes(d, "vec", vec2, 2)
        self.assertEqual(d.get("/a/header").status, 404)
        # Changes in v2 are watched now, changes in v1 are not.
        c2 = os.urandom(300)
        publish(v2, "c", c2)
        publish(v1, "a", os.urandom(1000))
        self.assertBecomesHeader(d, "c", c2, 1)
        time.sleep(NOT_YET)
        self.assertEqual(self.names(d), ["b", "c", "vec"])
        # And back: exactly what a fresh start on v1 would load.
        subprocess.run(["ln", "-sfn", "v1", "current"], cwd=self.tmp, check=True)
        a1 = read_file(os.path.join(v1, "a.bin"))
        self.assertTrue(poll(lambda: self.names(d) == ["a"]),
                        "listing %r\n%s" % (self.names(d), d.stderr()))
        self.assertServes(d, "a", a1, 1)

    def test_image_symlink_swapped(self):
        """Publishing by `ln -sfn` of the image file itself."""
        store = os.path.join(self.tmp, "store")
        os.mkdir(store)
        r1 = self.write("r1.bin", os.urandom(5000), store)
        r2 = self.write("r2.bin", os.urandom(6000), store)
        d = self.start_live()
        subprocess.run(["ln", "-sfn", r1, "fw.bin"], cwd=self.dir, check=True)
        data1 = read_file(r1)
        self.assertBecomesHeader(d, "fw", data1, 1)
        self.assertLoggedOnce(d, change_line("added", "fw", data1, 1), quiet=False)
        subprocess.run(["ln", "-sfn", r2, "fw.bin"], cwd=self.dir, check=True)
        data2 = read_file(r2)
        self.assertBecomesHeader(d, "fw", data2, 1)
        self.assertServes(d, "fw", data2, 1)
        self.assertLoggedOnce(d, change_line("replaced", "fw", data2, 1))

    # --- SIGHUP ------------------------------------------------------------
    def test_sighup_rescans_at_once(self):
        """With a very long settle time, inotify reloads are still pending
        when SIGHUP arrives: the full rescan loads the new state at once.
        A rescan without changes keeps every generation."""
        old = self.add_image("fw", os.urandom(4000), version=1)
        d = self.start_live(settle_ms=60000)
        etags = {n: i["etag"] for n, i in listing_json(d).items()}
        d.send_signal(signal.SIGHUP)
        self.assertTrue(poll(lambda: "info: rescan: 2 images" in d.stderr()), d.stderr())
        self.assertEqual({n: i["etag"] for n, i in listing_json(d).items()}, etags)
        self.assertEqual(self.count(d, any_change_line("fw")), 0, d.stderr())
        self.assertEqual(listing_json(d)["fw"]["retained"], 0)

        new = os.urandom(3000)
        publish(self.dir, "fw", new)
        added = self.add_image("added", os.urandom(100), version=3)
        os.remove(os.path.join(self.dir, "vec.bin"))
        self.assertStaysHeader(d, "fw", make_header(old, 1), duration=0.5)
        d.send_signal(signal.SIGHUP)
        self.assertBecomesHeader(d, "fw", new, 1, timeout=3.0)
        self.assertTrue(poll(lambda: self.names(d) == ["added", "fw"]), self.names(d))
        self.assertServes(d, "added", added, 3)
        self.assertEqual(d.get("/vec/header").status, 404)
        self.assertLoggedOnce(d, change_line("replaced", "fw", new, 1), quiet=False)
        self.assertLoggedOnce(d, removed_line("vec"), quiet=False)
        self.assertEqual(d.stderr().count("info: rescan: 2 images"), 2, d.stderr())


if __name__ == "__main__":
    main()
