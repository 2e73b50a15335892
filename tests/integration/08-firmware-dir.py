#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What otad makes of a messy firmware directory at start-up.

Version files are written by people and scripts: every broken one must give
version 1 plus a warning naming the file, and nothing in the directory (FIFOs,
dangling links, huge files) may stop the daemon from starting and serving the
other images.
"""

import json
import os
import re

from otadtest import OtadTestCase, main, make_block, make_header, poll, read_file, vector


class FirmwareDir(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        self.served = {"vec": (vector("vec.bin"), 7)}

    def image(self, name, version_text=None, version=1, data=None, bin_name=None):
        """Add NAME.bin with NAME.txt containing `version_text` (no .txt when
        None); remember the version otad must report."""
        data = data if data is not None else os.urandom(300 + len(self.served))
        self.write(bin_name or name + ".bin", data)
        if version_text is not None:
            self.write(name + ".txt", version_text)
        self.served[name] = (data, version)
        return data

    def warnings(self, d):
        return [l for l in d.stderr().splitlines() if l.startswith("warning: ")]

    def assertWarned(self, d, filename, tail=""):
        """A warning line names `filename` and ends with `tail`."""
        lines = [l for l in self.warnings(d) if filename in l]
        self.assertTrue(any(l.endswith(tail) for l in lines),
                        "no warning for %s ending %r in:\n%s" % (filename, tail, d.stderr()))

    def assertServed(self, d):
        """Every expected image is served with the expected version and bytes,
        the listing holds exactly them, and the ready line counts them."""
        for name, (data, version) in self.served.items():
            r = d.get("/%s/header" % name)
            self.assertEqual((r.status, r.body), (200, make_header(data, version)), name)
            r = d.get("/%s/block/0" % name)
            self.assertEqual(r.body, make_block(data, 0), name)
        names = [i["name"] for i in json.loads(d.get("/firmwares?format=json").body)]
        self.assertEqual(names, sorted(self.served))
        self.assertRegex(d.stderr(), r"info: listening on 127\.0\.0\.1:%d, %d images?\b"
                         % (d.port, len(self.served)))

    def test_version_files(self):
        self.image("max", "4294967295\n", version=4294967295)
        self.image("ws", " 42\n", version=42)
        self.image("zeros", "007", version=7)
        self.image("tabs", "\t9\t\r\n", version=9)
        bad = {"emptytxt": "", "garbage": "12abc\n", "neg": "-1\n", "over": "4294967296\n",
               "plus": "+5\n", "hex": "0x10\n", "two": "1 2\n", "big": "9" * 30 + "\n",
               # Valid-looking, but longer than the 64 bytes otad reads.
               "long": "7" + " " * 70 + "\n"}
        for name, text in bad.items():
            self.image(name, text, version=1)
        # A 1 GiB sparse version file: must be rejected after 64 bytes, not read.
        self.image("sparse", "", version=1)
        os.truncate(os.path.join(self.dir, "sparse.txt"), 1 << 30)
        self.image("notxt", None, version=1)
        d = self.start()
        self.assertServed(d)
        for name in list(bad) + ["sparse"]:
            self.assertWarned(d, name + ".txt", "using version 1")
        self.assertWarned(d, "notxt.txt", "missing; using version 1")
        for name in ("max", "ws", "zeros", "tabs", "vec"):
            self.assertFalse([l for l in self.warnings(d) if name + ".txt" in l], name)

    def test_version_file_not_regular(self):
        """A directory or a FIFO named NAME.txt gives version 1; opening the
        FIFO must not block the start-up."""
        self.image("dirtxt", None, version=1)
        os.mkdir(os.path.join(self.dir, "dirtxt.txt"))
        self.image("fifotxt", None, version=1)
        os.mkfifo(os.path.join(self.dir, "fifotxt.txt"))
        d = self.start()
        self.assertServed(d)
        self.assertWarned(d, "dirtxt.txt", "using version 1")
        self.assertWarned(d, "fifotxt.txt", "using version 1")

    def test_skipped_files(self):
        """Empty images, FIFOs, directories, dangling links and dot files are
        not served; the FIFO must not hang the start-up."""
        self.write("empty.bin", b"")
        self.write("empty.txt", "3\n")
        os.mkfifo(os.path.join(self.dir, "x.bin"))
        os.mkdir(os.path.join(self.dir, "d.bin"))
        os.symlink("does-not-exist.bin", os.path.join(self.dir, "dangling.bin"))
        self.write(".hidden.bin", os.urandom(100))
        self.write(".hidden.txt", "4\n")
        self.write("readme.md", "not firmware\n")
        self.write("orphan.txt", "5\n")
        d = self.start()
        self.assertServed(d)
        for name in ("empty", "x", "d", "dangling", ".hidden", "readme", "orphan"):
            self.assertEqual(d.get("/%s/header" % name).status, 404, name)
        self.assertWarned(d, "empty.bin", "empty; skipped")
        self.assertWarned(d, "x.bin", "not a regular file; skipped")
        self.assertWarned(d, "d.bin", "not a regular file; skipped")
        self.assertWarned(d, "dangling.bin", "skipped")
        self.assertFalse([l for l in d.stderr().splitlines() if ".hidden" in l])

    def test_unreadable_image(self):
        """An image otad may not read is skipped with the reason."""
        if os.geteuid() == 0:
            self.skipTest("root reads files whatever their mode")
        self.write("secret.bin", os.urandom(100))
        os.chmod(os.path.join(self.dir, "secret.bin"), 0)
        d = self.start()
        self.assertServed(d)
        self.assertEqual(d.get("/secret/header").status, 404)
        self.assertWarned(d, "secret.bin", "Permission denied; skipped")

    def test_names(self):
        """The .bin suffix is case-insensitive and the name keeps its case;
        symlinks are followed (ln -sfn swaps are how images are published);
        with both a.bin and a.BIN, a.bin wins."""
        self.image("UPPER", "11\n", version=11, bin_name="UPPER.BIN")
        self.image("Mixed", "12\n", version=12, bin_name="Mixed.Bin")
        os.symlink("vec.bin", os.path.join(self.dir, "link.bin"))
        self.write("link.txt", "13\n")
        self.served["link"] = (vector("vec.bin"), 13)
        os.mkdir(os.path.join(self.tmp, "releases"))
        target = os.path.join(self.tmp, "releases", "v2.bin")
        self.write(target, os.urandom(999))
        os.symlink(target, os.path.join(self.dir, "abs.bin"))
        self.served["abs"] = (read_file(target), 1)
        dup = self.image("dup", "14\n", version=14)
        self.write("dup.BIN", os.urandom(500))
        d = self.start()
        self.assertServed(d)
        self.assertNotEqual(dup, read_file(os.path.join(self.dir, "dup.BIN")))
        self.assertWarned(d, "dup.BIN")

    def test_image_over_4gib_skipped(self):
        """binsize is a uint32: a 4 GiB image cannot be described, so it is
        skipped (checked before it is read: the sparse file costs nothing)."""
        path = os.path.join(self.dir, "huge.bin")
        with open(path, "wb") as f:
            f.truncate(1 << 32)
        d = self.start()
        self.assertServed(d)
        self.assertEqual(d.get("/huge/header").status, 404)
        self.assertWarned(d, "huge.bin", "skipped")

    # Names that would forge a line or break the JSON, and how each is escaped
    # in its warning.
    UNPRINTABLE = {b"fake\n  version: 999.bin": "fake\\x0a  version: 999.bin",
                   b"\xff\xfe.bin": "\\xff\\xfe.bin",
                   b"cr\rtab\t.bin": "cr\\x0dtab\\x09.bin",
                   b"esc\x1b[31mred.bin": "esc\\x1b[31mred.bin",
                   b"latin1-\xfc.bin": "latin1-\\xfc.bin"}

    def assertNamesRefused(self, d, names):
        """None of `names` is listed, the text listing holds one name line per
        served image, every log line is a log line, and each name has one
        warning, escaped."""
        text = d.get("/firmwares").body.decode("utf-8", "replace")
        self.assertEqual([l for l in text.splitlines() if l and not l.startswith("  ")],
                         sorted(self.served), text)
        log = d.stderr().splitlines()
        self.assertEqual([l for l in log if not re.match(r"(debug|info|warning|error): ", l)],
                         [], d.stderr())
        for raw in names:
            lines = [l for l in log if l.startswith("warning: " + self.UNPRINTABLE[raw] + ": ")]
            self.assertEqual(len(lines), 1, (raw, d.stderr()))
            self.assertTrue(lines[0].endswith(": name is not UTF-8 or has control characters; "
                                              "skipped"), lines[0])
        self.assertServed(d)

    def test_unprintable_names_refused(self):
        """A name with control characters (a newline would forge an entry of
        the text listing and a line of the log) or that is not UTF-8 (which
        JSON cannot hold) is not served; its warning shows it escaped."""
        for raw in self.UNPRINTABLE:
            with open(os.path.join(os.fsencode(self.dir), raw), "wb") as f:
                f.write(os.urandom(300))
        with open(os.path.join(os.fsencode(self.dir), b"fake\n  version: 999.txt"), "w") as f:
            f.write("999\n")
        d = self.start()
        self.assertNamesRefused(d, self.UNPRINTABLE)
        self.assertEqual(d.get("/fake%0A%20%20version:%20999/header").status, 404)
        self.assertEqual(d.get("/%FF%FE/header").status, 404)

    def test_unprintable_name_written_later(self):
        """The same for a file that appears while otad runs."""
        d = self.start()
        raw = b"\xff\xfe.bin"
        tmp = os.path.join(os.fsencode(self.dir), b".new.tmp")
        with open(tmp, "wb") as f:
            f.write(os.urandom(300))
        os.rename(tmp, os.path.join(os.fsencode(self.dir), raw))
        warning = "warning: %s: " % self.UNPRINTABLE[raw]
        self.assertTrue(poll(lambda: warning in d.stderr(), timeout=10), d.stderr())
        self.assertNamesRefused(d, [raw])

    def test_warning_lines_name_files(self):
        """Warnings use the documented format, one line each."""
        self.image("neg", "-1\n", version=1)
        d = self.start()
        self.assertServed(d)
        self.assertTrue(any(re.fullmatch(r"warning: neg\.txt: .*; using version 1", l)
                            for l in self.warnings(d)), d.stderr())


if __name__ == "__main__":
    main()
