#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""otaget, the firmware core's update engine on the host, against the real otad:
downloads, the installed-version check, resuming after otad restarts or
otaget is killed, and the failures it must name (404, nobody listening, an
image too large, bad CRCs from a broken server).

Environment: OTAD as for every test; OTAGET the otaget binary (falls back to
build/firmware/otaget of this checkout)."""

import json
import os
import re
import signal
import socket
import socketserver
import struct
import subprocess
import threading
import time

from otadtest import (Otad, OtadTestCase, _die_with_parent, crc32, free_port,
                      ipv6_loopback_available, main, make_block, make_header, poll)


def _find_otaget():
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (os.environ.get("OTAGET", ""),
                 os.path.join(here, "..", "..", "build", "firmware", "otaget"),
                 "/work/main/build/firmware/otaget"):
        if path and os.access(path, os.X_OK):
            return os.path.abspath(path)
    return ""


OTAGET = _find_otaget()
APP_AREA = 448 * 1024           # sectors 4-7 of the simulated STM32F401
FLASH_SIZE = 512 * 1024
RUN_TIMEOUT = 60                # seconds; a hang fails instead of blocking meson
# otaget's exit statuses, as otaget(1) documents them.
EXIT_FAILURE, EXIT_USAGE, EXIT_CONNECT, EXIT_HTTP, EXIT_VERIFY, EXIT_FLASH = 1, 2, 3, 4, 5, 6

SUMMARY_INSTALLED = re.compile(
    r"^otaget: (?P<name>\S+) version (?P<version>\d+) installed: (?P<size>\d+) bytes, "
    r"crc 0x(?P<crc>[0-9A-F]{8}), (?P<fetched>\d+) blocks fetched from block (?P<first>\d+)"
    r"(?: \(resumed at block (?P<resumed>\d+)\))?, (?P<attempts>\d+) attempts?, "
    r"(?P<secs>[0-9.]+) s$", re.M)
SUMMARY_CURRENT = re.compile(
    r"^otaget: (?P<name>\S+) version (?P<version>\d+) up to date \(installed (?P<installed>\d+)\): "
    r"(?P<size>\d+) bytes, crc 0x(?P<crc>[0-9A-F]{8}), (?P<fetched>\d+) blocks fetched, "
    r"(?P<attempts>\d+) attempts?, (?P<secs>[0-9.]+) s$", re.M)


class Run:
    """A finished otaget: exit status, stdout, stderr (text)."""

    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def __repr__(self):
        return "<otaget rc=%r\nstdout:\n%s\nstderr:\n%s>" % (self.rc, self.out, self.err)


class Background:
    """otaget running in the background; its stderr is collected line by line
    so a test can act at a chosen point of the download."""

    def __init__(self, args):
        self.proc = subprocess.Popen([OTAGET] + args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=_die_with_parent)
        self.lines = []
        self.out = []
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stderr, self.lines),
                                          daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stdout, self.out),
                                          daemon=True)]
        for t in self._readers:
            t.start()

    @staticmethod
    def _read(pipe, lines):
        for line in pipe:
            lines.append(line.decode("utf-8", "replace"))

    def seen(self, pattern):
        return any(re.search(pattern, line) for line in list(self.lines))

    def finish(self, timeout=RUN_TIMEOUT):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for t in self._readers:
            t.join(5)
        return Run(self.proc.returncode, "".join(self.out), "".join(self.lines))

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        return self.finish()


def progress_at_least(bg, percent):
    """The plain progress lines (stderr is no terminal) went past `percent`."""
    def check():
        for line in list(bg.lines):
            m = re.search(r"\((\d+)%\)$", line.strip())
            if m and int(m.group(1)) >= percent:
                return True
        return False
    return check


# --------------------------------------------------------------------------
# A broken server for what otad never does: bad CRCs.

class FakeServer(socketserver.ThreadingTCPServer):
    """Keep-alive HTTP/1.1 on 127.0.0.1 (or `host`) answering GET paths from
    `routes` ({path: body}); anything else is a 404. Counts the requests and
    keeps their Host headers."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, routes, host="127.0.0.1"):
        self.routes = routes
        self.requests = []
        self.hosts = []
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), _FakeHandler)
        self.port = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self.shutdown()
        self.server_close()


class _FakeHandler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            while True:         # the rest of the head
                h = self.rfile.readline(4096)
                if h in (b"\r\n", b"\n", b""):
                    break
                if h.lower().startswith(b"host:"):
                    self.server.hosts.append(h[5:].strip().decode("latin-1"))
            path = line.split()[1].decode("latin-1")
            self.server.requests.append(path)
            body = self.server.routes.get(path)
            if body is None:
                head, body = b"HTTP/1.1 404 Not Found\r\n", b"not found\n"
            else:
                head = b"HTTP/1.1 200 OK\r\n"
            self.wfile.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.wfile.flush()


def image_routes(name, data, version, bad_block=None, header_crc=None):
    """The protocol's answers for `data`, with block `bad_block` carrying a
    wrong CRC, or the header a wrong image CRC."""
    header = make_header(data, version)
    if header_crc is not None:
        header = header[:4] + struct.pack("<I", header_crc) + header[8:]
    routes = {"/%s/header" % name: header}
    for n in range((len(data) + 255) // 256):
        block = make_block(data, n)
        if n == bad_block:
            block = block[:256] + struct.pack("<I", crc32(block[:256]) ^ 1)
        routes["/%s/block/%d" % (name, n)] = block
    return routes


# --------------------------------------------------------------------------

class Otaget(OtadTestCase):
    def setUp(self):
        super().setUp()
        if not OTAGET:
            self.fail("set OTAGET to the otaget binary")

    def otaget(self, *args, timeout=RUN_TIMEOUT):
        p = subprocess.run([OTAGET] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           preexec_fn=_die_with_parent)
        return Run(p.returncode, p.stdout.decode("utf-8", "replace"),
                   p.stderr.decode("utf-8", "replace"))

    def url(self, d, name):
        host = "[%s]" % d.bind if ":" in d.bind else d.bind
        return "http://%s:%d/%s" % (host, d.port, name)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def assertInstalled(self, run, name, data, version, fetched=None, first=None):
        self.assertEqual(run.rc, 0, run)
        m = SUMMARY_INSTALLED.search(run.out)
        self.assertIsNotNone(m, run)
        self.assertEqual(m.group("name"), name)
        self.assertEqual(int(m.group("version")), version)
        self.assertEqual(int(m.group("size")), len(data))
        self.assertEqual(m.group("crc"), "%08X" % crc32(data))
        if fetched is not None:
            self.assertEqual(int(m.group("fetched")), fetched, run)
        if first is not None:
            self.assertEqual(int(m.group("first")), first, run)
        return m

    # --- downloads ----------------------------------------------------------
    def test_multi_block_download(self):
        """100 KiB + 37 bytes: 401 blocks, the last one short; --out holds
        exactly the image bytes; the summary names every fact."""
        data = self.add_image("app", os.urandom(100 * 1024 + 37), version=4)
        d = self.start()
        out = self.path("app.out")
        run = self.otaget(self.url(d, "app"), "--out", out)
        self.assertInstalled(run, "app", data, 4, fetched=401, first=0)
        self.assertEqual(self.read(out), data)
        self.assertIn("downloading version 4", run.err)
        self.assertIn("401/401 blocks (100%)", run.err)

    def test_out_to_stdout_and_flash_file(self):
        """--out - puts the image on stdout (the summary moves to stderr);
        --flash keeps the simulated flash, the image at 0x08010000."""
        data = self.add_image("small", os.urandom(1000), version=2)
        d = self.start()
        flash = self.path("flash.img")
        p = subprocess.run([OTAGET, self.url(d, "small"), "--out", "-", "--flash", flash],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, data)
        self.assertIsNotNone(SUMMARY_INSTALLED.search(p.stderr.decode()), p.stderr)
        image = self.read(flash)
        self.assertEqual(len(image), FLASH_SIZE)
        self.assertEqual(image[0x10000:0x10000 + len(data)], data)

    def test_largest_image_fits(self):
        """Exactly 448 KiB, the whole application area, is accepted."""
        data = self.add_image("full", os.urandom(APP_AREA), version=1)
        d = self.start()
        out = self.path("full.out")
        run = self.otaget(self.url(d, "full"), "--out", out, "-q")
        self.assertInstalled(run, "full", data, 1, fetched=APP_AREA // 256, first=0)
        self.assertEqual(self.read(out), data)

    # --- installed version ----------------------------------------------------
    def test_same_version_is_up_to_date(self):
        """--installed-version equal to (or above) the server's: exit 0, up
        to date, no block fetched, nothing written to flash."""
        data = self.add_image("app", os.urandom(5000), version=7)
        d = self.start()
        fresh = self.path("fresh.img")
        out = self.path("never-written")
        run = self.otaget(self.url(d, "app"), "--installed-version", 7, "--flash", fresh,
                          "--out", out)
        self.assertEqual(run.rc, 0, run)
        self.assertIn("up to date", run.err)
        m = SUMMARY_CURRENT.search(run.out)
        self.assertIsNotNone(m, run)
        self.assertEqual((m.group("name"), int(m.group("version")), int(m.group("installed")),
                          int(m.group("size")), m.group("crc"), int(m.group("fetched"))),
                         ("app", 7, 7, len(data), "%08X" % crc32(data), 0))
        self.assertEqual(self.read(fresh), b"\xff" * FLASH_SIZE)
        self.assertFalse(os.path.exists(out))

        # A flash that holds an earlier download stays byte-identical.
        used = self.path("used.img")
        self.assertInstalled(self.otaget(self.url(d, "app"), "--flash", used), "app", data, 7)
        before = self.read(used)
        self.assertNotEqual(before, b"\xff" * FLASH_SIZE)
        for installed in (7, 8, 4294967295):
            run = self.otaget(self.url(d, "app"), "--installed-version", installed,
                              "--flash", used)
            self.assertEqual(run.rc, 0, run)
            self.assertRegex(run.out, r"up to date \(installed %d\).* 0 blocks fetched"
                             % installed)
            self.assertEqual(self.read(used), before, installed)

    def test_newer_version_downloads(self):
        """A newer version on the server is downloaded; also from version 0."""
        data = self.add_image("app", os.urandom(3000), version=7)
        d = self.start()
        for installed in (6, 0):
            out = self.path("app-%d.out" % installed)
            run = self.otaget(self.url(d, "app"), "--installed-version", installed, "--out", out)
            self.assertInstalled(run, "app", data, 7, fetched=12, first=0)
            self.assertEqual(self.read(out), data)

    # --- interruptions -------------------------------------------------------
    def test_otad_restarted_mid_download(self):
        """otad stopped after 10 % of a 400 KiB download and started again on
        the same port: otaget retries, resumes where it was, and every block
        is fetched exactly once."""
        data = self.add_image("big", os.urandom(400 * 1024), version=3)
        d = self.start()
        flash, out = self.path("flash.img"), self.path("big.out")
        bg = Background([self.url(d, "big"), "--flash", flash, "--out", out, "--delay", "2"])
        try:
            self.assertTrue(poll(progress_at_least(bg, 10), timeout=20), bg.lines)
            status, _ = d.stop(signal.SIGTERM)
            self.assertEqual(status, 0, d.stderr())
            again = Otad(self.dir, d.config_path, self.tmp, port=d.port)
            self.daemons.append(again)
            again.start()
        finally:
            run = bg.finish()
        m = self.assertInstalled(run, "big", data, 3, fetched=1600, first=0)
        self.assertEqual(self.read(out), data)
        self.assertGreaterEqual(int(m.group("attempts")), 2, run)
        resumed = re.search(r"resuming version 3 at block (\d+) of 1600", run.err)
        self.assertIsNotNone(resumed, run)
        self.assertGreater(int(resumed.group(1)), 0)
        self.assertEqual(m.group("resumed"), resumed.group(1), run)

    def test_killed_otaget_resumes(self):
        """otaget killed (SIGKILL) mid-download: the next run with the same
        --flash resumes from the first block not yet verified."""
        data = self.add_image("big", os.urandom(300 * 1024 + 5), version=9)
        blocks = (len(data) + 255) // 256
        d = self.start()
        flash, out = self.path("flash.img"), self.path("big.out")
        bg = Background([self.url(d, "big"), "--flash", flash, "--delay", "1"])
        self.assertTrue(poll(progress_at_least(bg, 20), timeout=20), bg.lines)
        first = bg.kill()
        self.assertEqual(first.rc, -signal.SIGKILL, first)

        run = self.otaget(self.url(d, "big"), "--flash", flash, "--out", out)
        m = self.assertInstalled(run, "big", data, 9)
        start = int(m.group("first"))
        self.assertGreater(start, blocks // 5 - 1, run)
        self.assertLess(start, blocks, run)
        self.assertEqual(int(m.group("fetched")), blocks - start, run)
        self.assertIn("resuming version 9 at block %d of %d" % (start, blocks), run.err)
        self.assertEqual(self.read(out), data)

        # Done: a third run as a device with that version installed does nothing.
        before = self.read(flash)
        run = self.otaget(self.url(d, "big"), "--flash", flash, "--installed-version", 9)
        self.assertRegex(run.out, r"up to date.* 0 blocks fetched")
        self.assertEqual(self.read(flash), before)

    def test_killed_before_commit(self):
        """Killed after the last block was stored but before the commit (the
        --delay after the last block): the next run fetches no block at all,
        verifies the whole image in flash and commits it."""
        data = self.add_image("tiny", os.urandom(200), version=2)
        d = self.start()
        flash, out = self.path("flash.img"), self.path("tiny.out")
        bg = Background([self.url(d, "tiny"), "--flash", flash, "--delay", "30000"])
        # The delay after the only block is the window: stored, not committed.
        self.assertTrue(poll(progress_at_least(bg, 100), timeout=RUN_TIMEOUT), bg.lines)
        bg.kill()
        run = self.otaget(self.url(d, "tiny"), "--flash", flash, "--out", out)
        self.assertInstalled(run, "tiny", data, 2, fetched=0, first=1)
        self.assertEqual(self.read(out), data)

    # --- failures ------------------------------------------------------------
    def test_unknown_name_is_404(self):
        """An unknown name fails at once (no back-off), naming the 404."""
        self.add_image("app", os.urandom(300), version=1)
        d = self.start()
        t0 = time.monotonic()
        run = self.otaget(self.url(d, "nope"))
        self.assertEqual(run.rc, EXIT_HTTP, run)
        self.assertIn("404", run.err)
        self.assertIn("nope", run.err)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(run.out, "")

    def test_nothing_listening(self):
        """Connection refused on every attempt: bounded retries, then exit 3."""
        port = free_port()
        t0 = time.monotonic()
        run = self.otaget("http://127.0.0.1:%d/app" % port, "--retries", 3)
        elapsed = time.monotonic() - t0
        self.assertEqual(run.rc, EXIT_CONNECT, run)
        self.assertIn("Connection refused", run.err)
        self.assertIn("gave up after 3 attempts", run.err)
        self.assertEqual(len(re.findall(r"attempt \d+ failed", run.err)), 2, run)
        self.assertLess(elapsed, 10)

    def test_image_too_large(self):
        """448 KiB + 1 byte does not fit the application area: exit 4 at
        once, saying so; nothing is written to flash."""
        self.add_image("huge", os.urandom(APP_AREA + 1), version=1)
        d = self.start()
        flash = self.path("flash.img")
        run = self.otaget(self.url(d, "huge"), "--flash", flash)
        self.assertEqual(run.rc, EXIT_HTTP, run)
        self.assertRegex(run.err, r"too large: %d bytes.*458752 \(448 KiB\)" % (APP_AREA + 1))
        self.assertEqual(self.read(flash), b"\xff" * FLASH_SIZE)

    def test_bad_block_crc(self):
        """A server whose block 2 always has a wrong CRC: each block is tried
        a bounded number of times, and otaget fails naming the block."""
        data = os.urandom(1500)
        srv = FakeServer(image_routes("app", data, 5, bad_block=2))
        self.addCleanup(srv.close)
        run = self.otaget("http://127.0.0.1:%d/app" % srv.port, "--retries", 2)
        self.assertEqual(run.rc, EXIT_VERIFY, run)
        self.assertIn("block 2 failed its CRC", run.err)
        tries = srv.requests.count("/app/block/2")
        self.assertGreaterEqual(tries, 2)
        self.assertLessEqual(tries, 2 * 25)     # attempts x the engine's own bounds
        # Blocks 0 and 1 were stored by the first attempt, not fetched again.
        self.assertEqual(srv.requests.count("/app/block/0"), 1, srv.requests)

    def test_bad_image_crc(self):
        """Every block checks out but the whole image does not match the
        header's CRC: not installed, exit 5 after the bounded attempts."""
        data = os.urandom(1500)
        srv = FakeServer(image_routes("app", data, 5, header_crc=crc32(data) ^ 0x10))
        self.addCleanup(srv.close)
        out = self.path("never")
        run = self.otaget("http://127.0.0.1:%d/app" % srv.port, "--retries", 2, "--out", out)
        self.assertEqual(run.rc, EXIT_VERIFY, run)
        self.assertIn("does not match the header's CRC", run.err)
        self.assertEqual(srv.requests.count("/app/header"), 2, srv.requests)
        self.assertFalse(os.path.exists(out))

    def test_not_the_protocol(self):
        """A server answering 200 with the wrong size is refused at once."""
        srv = FakeServer({"/app/header": b"<html>hello</html>"})
        self.addCleanup(srv.close)
        run = self.otaget("http://127.0.0.1:%d/app" % srv.port)
        self.assertEqual(run.rc, EXIT_HTTP, run)
        self.assertIn("block protocol", run.err)

    # --- command line --------------------------------------------------------
    def test_usage(self):
        """Usage errors exit 2 with a message; --help exits 0."""
        run = self.otaget("--help")
        self.assertEqual(run.rc, 0, run)
        self.assertIn("Usage: otaget", run.out)
        for args in ([], ["ftp://h/app"], ["http://127.0.0.1:8000/"], ["http://127.0.0.1/a/b"],
                     ["http://127.0.0.1:99999/app"], ["http://[::1/app"], ["http:///app"],
                     ["--installed-version", "x", "http://h/app"], ["--retries", "0", "http://h/a"],
                     ["--bogus", "http://h/app"], ["http://h/a", "http://h/b"], ["http://h/a", "--out"],
                     ["http://h/" + "n" * 65], ["http://h/a%2Fb"], ["http://h/a?x=1"],
                     ["http://h/a#top"], ["http://user@h/a"], ["http://h/my fw"]):
            run = self.otaget(*args)
            self.assertEqual(run.rc, EXIT_USAGE, (args, run))
            self.assertRegex(run.err, r"^otaget: ", args)

    def test_version(self):
        """--version prints the project's version, read here from meson.build."""
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                               "meson.build"), encoding="utf-8") as f:
            version = re.search(r"version : '([^']+)'", f.read()).group(1)
        for flag in ("--version", "-V"):
            run = self.otaget(flag)
            self.assertEqual((run.rc, run.out, run.err), (0, "otaget %s\n" % version, ""), run)

    def test_help_documents_the_exit_statuses(self):
        run = self.otaget("--help")
        for status, what in ((EXIT_CONNECT, "cannot connect"), (EXIT_HTTP, "HTTP error"),
                             (EXIT_VERIFY, "verification failed"), (EXIT_FLASH, "flash error")):
            self.assertRegex(run.out.replace("\n", " "), r"%d %s" % (status, what))

    def test_percent_encoded_name(self):
        """A name with a space, as otad lists it in url_name: my%20fw."""
        data = self.add_image("my fw", os.urandom(1300), version=4)
        self.add_image("A", data, version=4)
        d = self.start()
        out = self.path("myfw.out")
        run = self.otaget(self.url(d, "my%20fw"), "--out", out)
        self.assertInstalled(run, "my%20fw", data, 4)
        self.assertEqual(self.read(out), data)
        # Encoded or not, the same byte: %41 is A.
        self.assertInstalled(self.otaget(self.url(d, "%41")), "%41", data, 4)

    def test_crc_in_the_case_otad_prints(self):
        """The summary's CRC is written as otad's listing writes it."""
        data = self.add_image("app", os.urandom(3000), version=2)
        d = self.start()
        run = self.otaget(self.url(d, "app"))
        self.assertInstalled(run, "app", data, 2)
        listed = json.loads(d.get("/firmwares?format=json").body)[0]["crc32_hex"]
        self.assertEqual(listed, "0x%08X" % crc32(data))
        self.assertIn("crc %s," % listed, run.out)

    def test_flash_error(self):
        """A --flash file that is no 512 KiB flash image: exit 6."""
        data = self.add_image("app", os.urandom(600), version=1)
        d = self.start()
        flash = self.write("short.img", b"\xff" * 1000, self.tmp)
        run = self.otaget(self.url(d, "app"), "--flash", flash)
        self.assertEqual(run.rc, EXIT_FLASH, run)
        self.assertIn("not a 512 KiB flash image", run.err)
        self.assertInstalled(self.otaget(self.url(d, "app")), "app", data, 1)

    def test_other_failure(self):
        """--out into a directory that does not exist: installed, but exit 1."""
        self.add_image("app", os.urandom(600), version=1)
        d = self.start()
        run = self.otaget(self.url(d, "app"), "--out", self.path("nodir/app.bin"))
        self.assertEqual(run.rc, EXIT_FAILURE, run)
        self.assertIn("cannot write", run.err)

    def test_timeout_is_a_connection_failure(self):
        """A server that accepts and never answers: exit 3 after the timeout."""
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        run = self.otaget("http://127.0.0.1:%d/app" % listener.getsockname()[1],
                          "--retries", 1, "--timeout", 1)
        self.assertEqual(run.rc, EXIT_CONNECT, run)
        self.assertIn("no answer", run.err)

    def test_ipv6(self):
        """http://[::1]:PORT/NAME."""
        if not ipv6_loopback_available():
            self.skipTest("no IPv6 loopback")
        data = self.add_image("app", os.urandom(2000), version=1)
        d = self.start(bind="::1")
        out = self.path("app6.out")
        self.assertInstalled(self.otaget(self.url(d, "app"), "--out", out), "app", data, 1)
        self.assertEqual(self.read(out), data)

    def test_ipv6_host_header(self):
        """An IPv6 address goes into the Host header in brackets, port
        included; an IPv4 one as it is, port included."""
        if not ipv6_loopback_available():
            self.skipTest("no IPv6 loopback")
        data = os.urandom(600)
        for host, url_host in (("::1", "[::1]"), ("127.0.0.1", "127.0.0.1")):
            fake = FakeServer(image_routes("app", data, 1), host=host)
            try:
                run = self.otaget("http://%s:%d/app" % (url_host, fake.port))
            finally:
                fake.close()
            self.assertInstalled(run, "app", data, 1)
            self.assertEqual(fake.hosts, ["%s:%d" % (url_host, fake.port)] * 4, run)


if __name__ == "__main__":
    main()
