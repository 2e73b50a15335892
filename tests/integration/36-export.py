#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""otad export and export_dir: the static tree (otad(8), EXPORT) served by
Debian's nginx, against otad serving the same firmware directory.

- the differential test: every device-facing path, through both, compared on
  status, Content-Length, Content-Type, Content-Range and body (Range and 416
  on /NAME/image, 404s); the differences allowed are in ALLOWED, with why;
- otaget updates through nginx; the shared vectors come out of the tree;
- daemon mode: an image replaced while otaget downloads through nginx (slowed
  by a proxy): it never installs a mix, and ends with the new image;
- a signed catalog: manifests in the tree, a tampered .bin not exported.

nginx runs with conf/nginx-otad.conf as shipped, only its listen and root
lines and the test's private pid file, logs and temporary paths filled in
(nginxtest.py, shared with 35-nginx-conf).
Expected bytes come from Python's zlib and struct, or from the shared vectors.

Environment: OTAD, OTAGET, VECTORS as for every test.
"""

import importlib.util
import json
import os
import re
import socket
import subprocess
import threading
import time

from nginxtest import Nginx
from otadtest import (OtadTestCase, _die_with_parent, crc32, main, make_block, make_header,
                      poll, publish, run_otad, vector)

HERE = os.path.dirname(os.path.abspath(__file__))
OTAGET = os.environ.get("OTAGET", "")
RUN_TIMEOUT = 30
EXIT_VERIFY = 5     # otaget(1): the whole image failed its CRC-32

class SlowProxy:
    """A TCP proxy on 127.0.0.1 to `port` that holds each chunk the client
    sends for `delay` seconds: a download through it takes a while, so that
    an image can be replaced in the middle of one. While `flowing` is clear
    nothing the client sends goes on."""

    def __init__(self, port, delay):
        self.target, self.delay = port, delay
        self.flowing = threading.Event()
        self.flowing.set()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target), timeout=10)
            # nginx sends a response's head and body apart: without this the
            # second would wait for the client's delayed ACK, 40 ms a request.
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for a, b, slow in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, slow), daemon=True).start()

    def _pipe(self, src, dst, slow):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if slow:
                    time.sleep(self.delay)
                    self.flowing.wait(RUN_TIMEOUT)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if slow:     # the client's side ends the pair
            src.close()
            dst.close()

    def close(self):
        self.closing = True
        self.sock.close()


def load_signing_key():
    """Key from test 23: manifests made with Python's cryptography."""
    spec = importlib.util.spec_from_file_location("signing23",
                                                  os.path.join(HERE, "23-signing.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Key


# Paths where nginx on the tree and otad may differ, and why. A key is a
# (method, path, request headers) case as in Export.cases(); the value names
# what may differ.
ALLOWED = {
    # Error bodies: devices never parse them (PROTOCOL.md), and nginx's are
    # its own HTML pages; both carry a correct Content-Length.
    "error body": "status and Content-Length present are compared, not the body",
    # The listing names when each generation was loaded and how many older
    # ones otad retains: the export loaded it at another moment, and a
    # static tree retains nothing in memory.
    "listing": "the 'loaded' and 'retained' facts are left out of the comparison",
}


class Export(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.tree = os.path.join(self.tmp, "tree")

    def export(self, *extra, config="log_level: info\n"):
        cfg = self.config(config, name="export.yaml")
        run = run_otad(["export", "--config", cfg, "--firmware-dir", self.dir,
                        "--out", self.tree] + list(extra))
        run.stderr = run.stderr.decode("utf-8", "replace")
        return run

    def tree_listing(self):
        with open(os.path.join(self.tree, "firmwares.json")) as f:
            return json.load(f)

    def nginx(self, root=None):
        self.nginxes = getattr(self, "nginxes", 0) + 1
        n = Nginx(root or self.tree, os.path.join(self.tmp, "nginx-%d" % self.nginxes))
        self.addCleanup(n.stop)
        return n

    def otaget(self, *args):
        p = subprocess.run([OTAGET] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=RUN_TIMEOUT, preexec_fn=_die_with_parent)
        return p.returncode, p.stderr.decode("utf-8", "replace")

    # --- the differential test -------------------------------------------
    def catalog(self):
        images = {"app": (os.urandom(70000), 3),          # 274 blocks, the last short
                  "even": (os.urandom(4096), 12),         # a multiple of 256
                  "my fw": (os.urandom(300), 2),          # a name to percent-encode
                  "tiny": (b"\x5a", 1)}
        for name, (data, version) in images.items():
            self.add_image(name, data, version)
        self.add_vectors()
        return images

    def cases(self, images):
        json = [("Accept", "text/html, application/json")]
        cases = [("GET", "/firmwares", None), ("GET", "/firmwares?format=json", None),
                 ("GET", "/firmwares", json), ("GET", "/firmwares?format=text", json),
                 ("HEAD", "/firmwares", None), ("GET", "/nope/header", None),
                 ("GET", "/nope/block/0", None), ("GET", "/nope/image", None),
                 ("GET", "/firmware/nope.bin", None), ("GET", "/", None),
                 ("GET", "/app", None), ("GET", "/app/", None), ("GET", "/app/other", None),
                 ("GET", "/app/block/", None), ("GET", "/app/block/-1", None),
                 ("GET", "/app/block/0x1", None), ("GET", "/app/block/+1", None),
                 ("GET", "/app/block/007", None), ("GET", "/app/block/00000000000", None),
                 ("GET", "/app/block/274", None), ("GET", "/app/block/99999999999", None),
                 ("GET", "/app/manifest", None)]
        for name, (data, _) in sorted(images.items()):
            url = "/" + name.replace(" ", "%20")
            last = (len(data) + 255) // 256 - 1
            cases += [("GET", url + "/header", None), ("HEAD", url + "/header", None),
                      ("GET", url + "/block/0", None), ("GET", url + "/block/%d" % last, None),
                      ("HEAD", url + "/block/0", None), ("GET", url + "/image", None),
                      ("HEAD", url + "/image", None),
                      ("GET", "/firmware/%s.bin" % url[1:], None)]
            for spec in ("bytes=0-0", "bytes=0-99", "bytes=100-", "bytes=-50",
                         "bytes=%d-" % (len(data) - 1), "bytes=0-%d" % (len(data) * 2),
                         "bytes=%d-" % len(data), "bytes=%d-%d" % (len(data) + 5, len(data) + 9)):
                cases.append(("GET", url + "/image", [("Range", spec)]))
        for n in range(4):
            cases.append(("GET", "/vec/block/%d" % n, None))
        return cases

    @staticmethod
    def listing_facts(r):
        """The listing less what ALLOWED["listing"] leaves out."""
        if r.header("Content-Type") == "application/json":
            items = json.loads(r.body.decode())
            for it in items:
                it.pop("loaded"), it.pop("retained")
            return items
        return re.sub(r"(?m)^  (generation: \S+) loaded \S+$\n^  retained: .*$", r"\1",
                      r.body.decode())

    def compare(self, d, ng, method, path, headers):
        a = d.get(path, method, headers)
        b = ng.get(path, method, headers)
        what = "%s %s %s" % (method, path, headers or "")
        self.assertEqual(a.status, b.status, "%s: otad %r, nginx %r" % (what, a, b))
        for r in (a, b):
            self.assertIsNotNone(r.header("Content-Length"), "%s: %r" % (what, r))
            self.assertIsNone(r.header("Transfer-Encoding"), "%s: %r" % (what, r))
        if a.status >= 400 and a.status != 416:
            return "error body"
        if a.status == 416:
            self.assertEqual(a.header("Content-Range"), b.header("Content-Range"), what)
            return "error body"
        self.assertEqual(a.header("Content-Type"), b.header("Content-Type"), what)
        self.assertEqual(a.header("Content-Range"), b.header("Content-Range"), what)
        if path.startswith("/firmwares"):
            self.assertEqual(self.listing_facts(a) if method == "GET" else None,
                             self.listing_facts(b) if method == "GET" else None, what)
            return "listing"
        self.assertEqual(a.header("Content-Length"), b.header("Content-Length"), what)
        self.assertEqual(a.body, b.body, what)
        return None

    def test_differential(self):
        images = self.catalog()
        run = self.export()
        self.assertEqual(run.returncode, 0, run.stderr)
        d = self.start("fleet:\n  track: false\n")
        ng = self.nginx()
        used = set()
        for method, path, headers in self.cases(images):
            allowed = self.compare(d, ng, method, path, headers)
            if allowed is not None:
                used.add(allowed)
        # Each allowed difference is needed: an unused one would hide nothing.
        self.assertEqual(used, set(ALLOWED))
        # What the bodies must be, from the files, not from either server.
        data, version = images["app"]
        self.assertEqual(ng.get("/app/header").body, make_header(data, version))
        self.assertEqual(ng.get("/app/block/273").body, make_block(data, 273))
        self.assertEqual(ng.get("/app/image", headers=[("Range", "bytes=100-199")]).body,
                         data[100:200])
        self.assertEqual(ng.get("/app/block/274").status, 416)

    def test_vectors_and_otaget_through_nginx(self):
        self.add_vectors()
        data = self.add_image("app", os.urandom(64 * 1024), 9)
        run = self.export()
        self.assertEqual(run.returncode, 0, run.stderr)
        ng = self.nginx()
        self.assertEqual(ng.get("/vec/header").body, vector("expected/header.bin"))
        for n in range(4):
            self.assertEqual(ng.get("/vec/block/%d" % n).body,
                             vector("expected/block-%d.bin" % n))
        out = os.path.join(self.tmp, "installed")
        rc, err = self.otaget("http://127.0.0.1:%d/app" % ng.port, "--out", out)
        self.assertEqual(rc, 0, err)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data)

    def test_rerun_changes_only_what_changed(self):
        """Re-exporting keeps the immutable paths; a replaced image switches
        the symlinks; a removed one loses them; retain_seconds 0 prunes."""
        self.add_image("app", os.urandom(1000), 1)
        self.add_image("gone", os.urandom(600), 1)
        self.assertEqual(self.export().returncode, 0)
        first = os.readlink(os.path.join(self.tree, "app"))
        block = os.path.join(self.tree, "app", "block", "0")
        ino = os.stat(block).st_ino
        self.assertEqual(self.export().returncode, 0)
        self.assertEqual(os.stat(block).st_ino, ino)
        new = self.add_image("app", os.urandom(1000), 2)
        os.unlink(os.path.join(self.dir, "gone.bin"))
        run = self.export(config="retain_seconds: 0\n")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertNotEqual(os.readlink(os.path.join(self.tree, "app")), first)
        with open(os.path.join(self.tree, "firmware", "app.bin"), "rb") as f:
            self.assertEqual(f.read(), new)
        for gone in ("gone", "firmware/gone.bin", first, "n/gone"):
            self.assertFalse(os.path.lexists(os.path.join(self.tree, gone)), gone)
        self.assertEqual(sorted(os.listdir(os.path.join(self.tree, "g"))),
                         ["%08x-%x" % (crc32(new), len(new))])

    def test_reserved_name_and_usage(self):
        self.add_image("firmwares", b"x" * 10, 1)
        self.add_image("ok", b"y" * 10, 1)
        run = self.export()
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn("firmwares: not exported: the name is one of the tree's own paths",
                      run.stderr)
        self.assertTrue(os.path.islink(os.path.join(self.tree, "ok")))
        self.assertEqual([i["name"] for i in self.tree_listing()], ["ok"])
        other = os.path.join(self.tmp, "not-written")
        run = run_otad(["export", "--check-config", "--config", self.config(""),
                        "--firmware-dir", self.dir, "--out", other])
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertFalse(os.path.exists(other))
        self.assertEqual(run_otad(["export", "--firmware-dir", self.dir]).returncode, 2)
        self.assertEqual(run_otad(["--out", self.tree]).returncode, 2)
        blocked = os.path.join(self.tmp, "file")
        open(blocked, "w").close()
        run = run_otad(["export", "--config", self.config(""), "--firmware-dir", self.dir,
                        "--out", os.path.join(blocked, "tree")])
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn("Not a directory", run.stderr.decode())

    # --- signed -----------------------------------------------------------
    def test_signed_catalog(self):
        Key = load_signing_key()
        key = Key()
        keyfile = self.write("release.pub", key.pem, self.tmp)
        good = self.add_image("good", os.urandom(3000), 4)
        manifest = key.sign("good", 4, good)
        self.write("good.sig", manifest)
        bad = self.add_image("bad", os.urandom(3000), 4)
        self.write("bad.sig", key.sign("bad", 4, bad))
        self.add_image("bad", bad[:-1] + bytes([bad[-1] ^ 1]), 4)   # tampered after signing
        run = self.export(config="signing:\n  keys:\n    - %s\n" % keyfile)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn("bad.sig", run.stderr)
        with open(os.path.join(self.tree, "good", "manifest"), "rb") as f:
            self.assertEqual(f.read(), manifest)
        self.assertFalse(os.path.lexists(os.path.join(self.tree, "bad")))
        self.assertFalse(os.path.lexists(os.path.join(self.tree, "firmware", "bad.bin")))
        for root, _, files in os.walk(self.tree):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    self.assertNotEqual(fh.read(), bad[:-1] + bytes([bad[-1] ^ 1]),
                                        os.path.join(root, f))
        self.assertEqual([(i["name"], i["signed"], i["key_id"]) for i in self.tree_listing()],
                         [("good", True, key.id.hex())])
        ng = self.nginx()
        self.assertEqual(ng.get("/good/manifest").body, manifest)
        self.assertEqual(ng.get("/bad/header").status, 404)
        # A device that requires signatures installs from the tree.
        out = os.path.join(self.tmp, "installed")
        rc, err = self.otaget("http://127.0.0.1:%d/good" % ng.port, "--pub", keyfile,
                              "--out", out)
        self.assertEqual(rc, 0, err)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), good)

    # --- daemon mode --------------------------------------------------------
    def test_replaced_mid_download_through_nginx(self):
        old = self.add_image("app", os.urandom(64 * 1024), 1)
        d = self.start("export_dir: %s\nretain_seconds: 1\nsettle_ms: 20\n"
                       "fleet:\n  track: false\n" % self.tree)
        self.assertTrue(poll(lambda: os.path.exists(os.path.join(self.tree, "app", "header")),
                             timeout=5), d.stderr())
        ng = self.nginx()
        proxy = SlowProxy(ng.port, 0.004)     # 257 requests: about 1 s a download
        self.addCleanup(proxy.close)
        out = os.path.join(self.tmp, "installed")
        bg = subprocess.Popen([OTAGET, "http://127.0.0.1:%d/app" % proxy.port, "--out", out],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        self.addCleanup(lambda: bg.poll() is None and bg.kill())
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(
            line.decode("utf-8", "replace") for line in bg.stderr), daemon=True)
        reader.start()
        new = os.urandom(64 * 1024)
        # A tenth of the way: the symlinks switch under the download.
        self.assertTrue(poll(lambda: any("(10%)" in line for line in list(lines)),
                             timeout=RUN_TIMEOUT), "".join(lines))
        # Held until nginx serves the new image, however long the export
        # takes on a busy machine: the download gets blocks of both.
        proxy.flowing.clear()
        publish(self.dir, "app", new)
        self.write("app.txt", "2\n")
        switched = poll(lambda: ng.get("/app/header").body == make_header(new, 2), timeout=10)
        proxy.flowing.set()
        self.assertTrue(switched, d.stderr())
        try:
            bg.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            bg.kill()
            bg.wait()
        reader.join(5)
        bg.stderr.close()
        err = "".join(lines)
        self.assertEqual(bg.returncode, 0, err)
        # The mix was caught by the whole-image check and the download
        # started over: what was installed is the new image, whole.
        self.assertIn("does not match the header's CRC", err)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), new)
        # retain_seconds later the old generation is gone from the tree.
        old_g = os.path.join(self.tree, "g", "%08x-%x" % (crc32(old), len(old)))
        self.assertTrue(poll(lambda: not os.path.exists(old_g), timeout=5),
                        os.listdir(os.path.join(self.tree, "g")))
        self.assertTrue(d.alive())
        self.assertGreaterEqual(exports(d, "written"), 2)
        self.assertEqual(exports(d, "failed"), 0)

    def test_failed_export_keeps_serving(self):
        """A tree that cannot be written: an error line, a count, and otad
        serves on; once the path is writable, the next export writes it."""
        self.add_vectors()
        blocked = self.write("blocked", "", self.tmp)
        d = self.start("export_dir: %s/tree\n" % blocked)
        self.assertTrue(poll(lambda: "export_dir %s/tree: " % blocked in d.stderr(), timeout=5),
                        d.stderr())
        self.assertIn("Not a directory (failed exports: 1); serving goes on", d.stderr())
        self.assertEqual(exports(d, "failed"), 1)
        self.assertServing(d)
        os.unlink(blocked)
        os.mkdir(blocked)
        # A publish makes the tree due at once, without the retry's 5 s.
        self.add_image("app", b"new", 1)
        self.assertTrue(poll(lambda: os.path.exists(os.path.join(blocked, "tree", "app",
                                                                 "header")), timeout=5))
        # Counted once the whole export is done, a moment after the symlinks.
        self.assertTrue(poll(lambda: exports(d, "written") == 1, timeout=5))


    def test_stop_during_export(self):
        """SIGTERM while a large generation is being written: otad stops
        within 2 s, as always, and leaves neither it nor a half of it."""
        data = self.add_image("big", os.urandom(16 << 20), 1)   # 65,536 block files
        d = self.start("export_dir: %s\n" % self.tree)
        g = os.path.join(self.tree, "g")
        key = "%08x-%x" % (crc32(data), len(data))
        self.assertTrue(poll(lambda: os.path.isdir(os.path.join(g, ".tmp-" + key)),
                             timeout=10), d.stderr())
        status, elapsed = d.stop()
        self.assertEqual(status, 0, d.stderr())
        self.assertLess(elapsed, 2.0)
        self.assertEqual(os.listdir(g), [])
        self.assertFalse(os.path.lexists(os.path.join(self.tree, "big")))


def exports(d, result):
    """otad_exports_total{result} from the admin listener's /metrics."""
    body = d.admin_get("/metrics").body.decode()
    m = re.search(r'^otad_exports_total\{result="%s"\} (\d+)' % result, body, re.M)
    return int(m.group(1)) if m else None


if __name__ == "__main__":
    main()
