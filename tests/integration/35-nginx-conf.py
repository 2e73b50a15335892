#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""conf/nginx-otad.conf as shipped, in Debian's nginx, serving an export
tree: what the README's "Scaling out" says it sends.

The tree is written by the build's `otad export` (OTAD). nginx is started
by nginxtest.py (shared with 36-export): the server block is the file itself
with only its two EDIT lines (listen, root) replaced, included from an http
block that holds the test's private paths and here also sets what a careless
http block could (gzip for every type, a charset for every type, MIME types
for the tree's names, directory listings, symlinks refused, an open file
cache), so each line of the server block that overrides them is needed.

Checked: Content-Length on every response and never Transfer-Encoding or
Content-Encoding; Content-Type of blocks, header, image and listings;
Cache-Control forever on g/ and n/, no-cache and no validators on the
per-name paths; Range (206 with the right bytes, 416, a list of ranges
answered whole); header and every block, five times, on one keep-alive
connection (more requests than nginx's default keepalive_requests); no
40 ms stall between a response's head and body on requests made one at a
time; blocks with leading zeros and past the end as otad routes them; a switch of the
per-name symlink seen on the next request; 404 for anything else.

Expected bytes come from zlib and struct here (otadtest), never from otad:
otad writes the tree, the test computes what its files must hold.
"""

import os
import shutil
import time

import tempfile
import unittest

from nginxtest import Nginx
from otadtest import (OTAD, Conn, ConnectionClosed, block_count, crc32, main, make_block,
                      make_header, request_bytes, run_otad)

FOREVER = "public, max-age=31536000, immutable"
OCTET = "application/octet-stream"
APP_SIZE = 300 * 256 - 17       # 300 blocks, the last one padded
WALKS = 5                       # header + 5 x 300 blocks: past nginx's default 1,000
SEQUENTIAL = 100
STALL_BOUND = 2.0               # seconds for SEQUENTIAL requests; 40 ms stalls take 4


def image(size, seed):
    """Deterministic bytes, different for each seed."""
    out = bytearray()
    n = seed
    while len(out) < size:
        n = (n * 6364136223846793005 + 1442695040888963407) & (2 ** 64 - 1)
        out += n.to_bytes(8, "little")
    return bytes(out[:size])


def add_firmware(fw_dir, name, data, version):
    """NAME.bin and NAME.txt, as otad reads them."""
    with open(os.path.join(fw_dir, name + ".bin"), "wb") as f:
        f.write(data)
    with open(os.path.join(fw_dir, name + ".txt"), "w") as f:
        f.write("%d\n" % version)
    return data


def firmwares(fw_dir):
    """(name, data, version) of each NAME.bin + NAME.txt in @fw_dir."""
    out = []
    for f in sorted(os.listdir(fw_dir)):
        if f.endswith(".bin"):
            name = f[:-4]
            with open(os.path.join(fw_dir, f), "rb") as b, \
                    open(os.path.join(fw_dir, name + ".txt")) as t:
                out.append((name, b.read(), int(t.read())))
    return out


def build_tree(fw_dir, out):
    """Runs the build's `otad export --firmware-dir FW_DIR --out OUT` (a
    fresh export, or a re-export after a change). Returns {name: release
    directory the symlink NAME points at, relative to @out}."""
    cfg = os.path.join(os.path.dirname(out), "export.yaml")
    with open(cfg, "w") as f:
        f.write("log_level: warning\n")
    run = run_otad(["export", "--config", cfg, "--firmware-dir", fw_dir, "--out", out])
    if run.returncode != 0:
        raise AssertionError("otad export exited with %d:\n%s"
                             % (run.returncode, run.stderr.decode(errors="replace")))
    return {name: os.readlink(os.path.join(out, name)) for name, _, _ in firmwares(fw_dir)}


def generation_of(tree, name):
    """The g/ directory name of the generation @name's firmware/NAME.bin
    points at: the bytes there are checked, the name is the tree's."""
    target = os.readlink(os.path.join(tree, "firmware", name + ".bin"))
    head, image = os.path.split(target)
    if image != "image" or os.path.dirname(head) != os.path.join("..", "g"):
        raise AssertionError("firmware/%s.bin points at %s, not ../g/*/image" % (name, target))
    return os.path.basename(head)


# What the http block around the server block may set, and the server block
# must undo: gzip of every type (chunked, no Content-Length), MIME types that
# would match the tree's names, a charset added to every type, directory
# listings, symlinks refused, cached descriptors of replaced files.
CARELESS_HTTP = """\
    types { text/html bin json header image; text/plain 0 1 2 3 4 5 6 7 8 9; }
    default_type text/html;
    gzip on;
    gzip_min_length 1;
    gzip_types *;
    charset koi8-r;
    charset_types *;
    autoindex on;
    disable_symlinks on;
    open_file_cache max=100 inactive=60s;
    open_file_cache_valid 60s;
"""


class NginxConf(unittest.TestCase):
    """One nginx for the class: files are slow to make on some disks, and a
    tree of a few hundred blocks is made once."""

    @classmethod
    def setUpClass(cls):
        if not OTAD or not os.access(OTAD, os.X_OK):
            raise AssertionError("set OTAD to the otad binary that writes the tree (got %r)" % OTAD)
        cls.tmp = tempfile.mkdtemp(prefix="otad-it-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.fw = os.path.join(cls.tmp, "firmware")
        os.mkdir(cls.fw)
        cls.data = add_firmware(cls.fw, "app", image(APP_SIZE, 1), 3)
        cls.small = add_firmware(cls.fw, "tiny", image(1000, 2), 9)   # last block padded
        add_firmware(cls.fw, "swap", image(700, 3), 1)
        cls.tree = os.path.join(cls.tmp, "tree")
        cls.releases = build_tree(cls.fw, cls.tree)
        cls.cs = generation_of(cls.tree, "app")
        cls.nginx = Nginx(cls.tree, os.path.join(cls.tmp, "nginx"), http=CARELESS_HTTP)
        cls.addClassCleanup(cls.nginx.stop)
        cls.port = cls.nginx.port

    def get(self, path, headers=None, method="GET"):
        with Conn(self.port) as c:
            return c.request(path, method=method, headers=headers)

    def assertFramed(self, r, path):
        """Content-Length that matches the body, never chunked or gzipped."""
        self.assertIsNone(r.header("Transfer-Encoding"), "%s: %r" % (path, r))
        self.assertIsNone(r.header("Content-Encoding"), "%s: %r" % (path, r))
        self.assertEqual(r.header("Content-Length"), str(len(r.body)), "%s: %r" % (path, r))

    def assertPerName(self, r, path):
        """Not cached without asking, and no validator that two releases
        could share."""
        self.assertEqual(r.header("Cache-Control"), "no-cache", "%s: %r" % (path, r))
        self.assertIsNone(r.header("ETag"), "%s: %r" % (path, r))
        self.assertIsNone(r.header("Last-Modified"), "%s: %r" % (path, r))

    def test_device_paths(self):
        want = {"/app/header": make_header(self.data, 3),
                "/tiny/header": make_header(self.small, 9),
                "/app/image": self.data,
                "/firmware/app.bin": self.data,
                "/tiny/block/3": make_block(self.small, 3),
                "/app/block/0": make_block(self.data, 0),
                "/app/block/299": make_block(self.data, 299),
                "/app/block/007": make_block(self.data, 7)}
        for path, body in want.items():
            r = self.get(path, headers=[("Accept-Encoding", "gzip")])
            self.assertEqual((r.status, r.body == body), (200, True), "%s: %r" % (path, r))
            self.assertFramed(r, path)
            self.assertEqual(r.header("Content-Type"), OCTET, "%s: %r" % (path, r))
            self.assertPerName(r, path)
            # No version: every byte of a response head counts for a device.
            self.assertEqual(r.header("Server"), "nginx", path)
            r = self.get(path, method="HEAD")
            self.assertEqual((r.status, r.header("Content-Length")), (200, str(len(body))), path)

    def test_content_addressed_paths_cached_forever(self):
        # The names otad(8), EXPORT gives them: CRC-32 in 8 lowercase hex
        # digits, '-', the size in lowercase hex; the release adds the version.
        self.assertEqual(self.cs, "%08x-%x" % (crc32(self.data), len(self.data)))
        self.assertEqual(self.releases["app"], "n/app/%s-3" % self.cs)
        rel = "/" + self.releases["app"]
        for path, body in (("/g/%s/image" % self.cs, self.data),
                           ("/g/%s/block/5" % self.cs, make_block(self.data, 5)),
                           (rel + "/header", make_header(self.data, 3))):
            r = self.get(path)
            self.assertEqual((r.status, r.body == body), (200, True), "%s: %r" % (path, r))
            self.assertFramed(r, path)
            self.assertEqual(r.header("Content-Type"), OCTET, path)
            self.assertEqual(r.header("Cache-Control"), FOREVER, path)
            # Validators are safe where bytes never change: a revalidation is a 304.
            self.assertIsNotNone(r.header("ETag"), path)
            r304 = self.get(path, headers=[("If-None-Match", r.header("ETag"))])
            self.assertEqual(r304.status, 304, path)
            r304 = self.get(path, headers=[("If-Modified-Since", r.header("Last-Modified"))])
            self.assertEqual(r304.status, 304, path)
        # The same file through the per-name path: a date that matches the
        # file's own is no reason for a 304 there.
        date = self.get(rel + "/header").header("Last-Modified")
        r = self.get("/app/header", headers=[("If-Modified-Since", date)])
        self.assertEqual((r.status, r.body), (200, make_header(self.data, 3)))

    def test_image_ranges(self):
        size = len(self.data)
        for path in ("/app/image", "/firmware/app.bin"):
            r = self.get(path, headers=[("Range", "bytes=1000-1255")])
            self.assertEqual((r.status, r.header("Content-Range")),
                             (206, "bytes 1000-1255/%d" % size), "%s: %r" % (path, r))
            self.assertEqual(r.body, self.data[1000:1256], path)
            self.assertFramed(r, path)
            self.assertPerName(r, path)
            r = self.get(path, headers=[("Range", "bytes=-300")])
            self.assertEqual((r.status, r.body), (206, self.data[-300:]), path)
            r = self.get(path, headers=[("Range", "bytes=%d-" % (size - 10))])
            self.assertEqual((r.status, r.body), (206, self.data[-10:]), path)
            r = self.get(path, headers=[("Range", "bytes=%d-" % size)])
            self.assertEqual((r.status, r.header("Content-Range")), (416, "bytes */%d" % size),
                             "%s: %r" % (path, r))
            self.assertFramed(r, path)
            # otad answers a list of ranges with the whole image, and so must nginx.
            r = self.get(path, headers=[("Range", "bytes=0-9,100-109")])
            self.assertEqual((r.status, r.body == self.data), (200, True), "%s: %r" % (path, r))
            self.assertFramed(r, path)
        r = self.get("/app/image")
        self.assertEqual(r.header("Accept-Ranges"), "bytes")

    def test_listings(self):
        def body(name):
            with open(os.path.join(self.tree, name), "rb") as f:
                return f.read()
        text, js = ("text/plain; charset=utf-8", body("firmwares")), \
            ("application/json", body("firmwares.json"))
        cases = [("/firmwares", [], text),
                 ("/firmwares?format=json", [], js),
                 ("/firmwares", [("Accept", "text/html, application/json;q=0.9")], js),
                 ("/firmwares?format=text", [("Accept", "application/json")], text),
                 ("/firmwares.json", [], js)]
        for path, headers, (ctype, want) in cases:
            r = self.get(path, headers=headers + [("Accept-Encoding", "gzip")])
            self.assertEqual((r.status, r.header("Content-Type"), r.body == want),
                             (200, ctype, True), "%s %r: %r" % (path, headers, r))
            self.assertFramed(r, path)
            self.assertPerName(r, path)

    def test_one_connection_for_many_downloads(self):
        """Header and every block, five times over, on one connection:
        more requests than nginx's default keepalive_requests (1,000).
        Pipelined 64 at a time, as fast as nginx answers."""
        count = block_count(self.data)
        with Conn(self.port) as c:
            for walk in range(WALKS):
                r = c.request("/app/header")
                self.assertEqual(r.body, make_header(self.data, 3), "walk %d" % walk)
                for first in range(0, count, 64):
                    batch = range(first, min(first + 64, count))
                    c.send(b"".join(request_bytes("/app/block/%d" % n) for n in batch))
                    for n in batch:
                        try:
                            r = c.read_response()
                        except ConnectionClosed:
                            self.fail("nginx closed the connection in walk %d at block %d"
                                      % (walk, n))
                        self.assertEqual((r.status, r.body == make_block(self.data, n)),
                                         (200, True), "walk %d, block %d: %r" % (walk, n, r))
                        self.assertEqual(r.header("Connection"), "keep-alive",
                                         "walk %d, block %d: %r" % (walk, n, r))
            self.assertEqual(c.request("/tiny/header").status, 200)
        # What a block's response head costs with nginx (informational; otad's is 104).
        print("block response head: %d bytes" % len(r.head_bytes))

    def test_no_stall_between_head_and_body(self):
        """Requests one at a time, as a device makes them: a response whose
        head and body left in two segments, the second held back by Nagle
        until the client's delayed ACK, costs 40 ms (4 s for these 100);
        without a stall they take milliseconds."""
        with Conn(self.port) as c:
            start = time.monotonic()
            for n in range(SEQUENTIAL):
                r = c.request("/app/block/%d" % n)
                self.assertEqual(r.body, make_block(self.data, n), "block %d" % n)
            took = time.monotonic() - start
        self.assertLess(took, STALL_BOUND, "%d sequential requests took %.2f s"
                        % (SEQUENTIAL, took))

    def test_switch_seen_on_the_next_request(self):
        """A new release is a new symlink renamed over NAME: the same
        keep-alive connection gets the new header at once (no descriptor
        cache holds the old file)."""
        old = image(700, 3)
        new = image(900, 4)
        old_cs = generation_of(self.tree, "swap")
        with Conn(self.port) as c:
            self.assertEqual(c.request("/swap/header").body, make_header(old, 1))
            self.assertEqual(c.request("/swap/block/0").body, make_block(old, 0))
            add_firmware(self.fw, "swap", new, 2)
            build_tree(self.fw, self.tree)
            self.assertEqual(c.request("/swap/header").body, make_header(new, 2))
            self.assertEqual(c.request("/swap/block/0").body, make_block(new, 0))
            self.assertEqual(c.request("/swap/block/3").body, make_block(new, 3))
            self.assertEqual(c.request("/firmware/swap.bin").body, new)
            self.assertEqual(c.request("/swap/image").body, new)
            # The old generation is still there, under its own name.
            self.assertEqual(c.request("/g/%s/block/0" % old_cs).body, make_block(old, 0))

    def test_not_found(self):
        for path, status in (("/tiny/block/4", 416),
                             ("/tiny/block/99999999999999999999", 416),
                             ("/nosuch/block/0", 404),
                             ("/nosuch/header", 404),
                             ("/tiny/block/-1", 404),
                             ("/tiny/block/0x1", 404),
                             ("/tiny/block/", 404),
                             ("/tiny/block", 404),
                             ("/tiny/report", 404),
                             ("/tiny/manifest", 404),          # not signed
                             ("/tiny", 404),
                             ("/tiny/", 404),
                             ("/", 404),
                             ("/g/", 404),
                             ("/g/" + generation_of(self.tree, "tiny"), 404),
                             ("/g/%s/block/" % generation_of(self.tree, "tiny"), 404),
                             ("/n/tiny/", 404),
                             ("/firmware/", 404),
                             ("/firmware/tiny", 404),
                             ("/firmware/nosuch.bin", 404),
                             ("/.app.new", 404),
                             ("/firmwares/", 404)):
            r = self.get(path)
            self.assertEqual(r.status, status, "%s: %r" % (path, r))
            self.assertFramed(r, path)


if __name__ == "__main__":
    main()
