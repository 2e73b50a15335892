#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""otad under systemd: sd_notify messages on a NOTIFY_SOCKET the test listens
on, journal priorities when stderr is the JOURNAL_STREAM, and the unit file
checked by systemd-analyze."""

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

from otadtest import Conn, Otad, OtadTestCase, main, with_user

UNIT = os.environ.get("OTAD_UNIT", "")
MAX_EXPOSURE = 1.5


class Notifications:
    """The datagrams otad sends to $NOTIFY_SOCKET, with when they came. A
    thread reads them as they come, as systemd does: the times are those of
    sending, and otad never waits for room in the socket's queue."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.got = []           # (monotonic time, message)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def close(self):
        self.done.set()
        self.reader.join(timeout=5)
        self.sock.close()

    def _read(self):
        while not self.done.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            with self.lock:
                self.got.append((time.monotonic(), data.decode()))

    def all(self):
        with self.lock:
            return list(self.got)

    def wait_for(self, message, timeout=5.0, after=0):
        """Index in the messages of the first one at index >= `after` that is
        `message` (a string, or a compiled pattern to match); fails at the
        deadline."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.all()
            for i in range(after, len(got)):
                m = got[i][1]
                if (m == message if isinstance(message, str) else message.fullmatch(m)):
                    return i
            if time.monotonic() > deadline:
                raise AssertionError("no %r in %.1f s; got %r"
                                     % (message, timeout, [g[1] for g in got]))
            time.sleep(0.01)

    def messages(self, prefix, since=0.0):
        return [(t, m) for t, m in self.all() if m.startswith(prefix) and t >= since]


class Notify(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        self.notify = Notifications(os.path.join(self.tmp, "notify"))
        self.addCleanup(self.notify.close)

    def start_notified(self, **env):
        env["NOTIFY_SOCKET"] = self.notify.path
        return self.start(env=env)

    def test_ready_after_listening(self):
        """READY=1 comes once otad serves, and only once."""
        d = self.start_notified()
        self.notify.wait_for("READY=1")
        self.assertEqual(d.get("/vec/header").status, 200)
        time.sleep(0.3)
        self.assertEqual(len(self.notify.messages("READY=1")), 1, self.notify.all())

    def test_reloading_around_sighup(self):
        """SIGHUP: RELOADING=1, the rescan, then READY=1 again."""
        d = self.start_notified()
        first = self.notify.wait_for("READY=1")
        d.send_signal(signal.SIGHUP)
        reloading = self.notify.wait_for("RELOADING=1", after=first + 1)
        self.notify.wait_for("READY=1", after=reloading + 1)
        self.assertIn("rescan: 1 image (SIGHUP)", d.stderr())
        self.assertServing(d)

    def test_status_firmwares_and_connections(self):
        """STATUS= counts the firmwares served and the connections open, and
        follows when they change."""
        d = self.start_notified()
        self.notify.wait_for("STATUS=serving 1 firmware, 0 connections open")
        self.add_image("second", b"\x5a" * 3000, "2.0.0")
        self.notify.wait_for("STATUS=serving 2 firmwares, 0 connections open")
        with Conn(d.port) as a, Conn(d.port) as b:
            for c in (a, b):
                self.assertEqual(c.request("/vec/header").status, 200)
            both = self.notify.wait_for("STATUS=serving 2 firmwares, 2 connections open")
        self.notify.wait_for("STATUS=serving 2 firmwares, 0 connections open", after=both + 1)

    def test_status_at_most_once_a_second(self):
        """Connections opened and closed many times a second give STATUS=
        lines at least about a second apart, also when the main loop wakes
        far more often (here for a watchdog every 50 ms)."""
        d = self.start_notified(WATCHDOG_USEC="100000")
        self.notify.wait_for(re.compile(r"STATUS=.*"))
        since = time.monotonic()
        deadline = since + 4.5
        for _ in range(200):
            if time.monotonic() > deadline:
                break
            # Random spells, so that the loop's regular wakes do not see the
            # same count each time.
            with Conn(d.port) as c:
                c.request("/vec/header")
                time.sleep(random.uniform(0.01, 0.06))
            time.sleep(random.uniform(0.01, 0.06))
        time.sleep(1.2)
        times = [t for t, _ in self.notify.messages("STATUS=", since)]
        # The count changed all the time: about one line a second.
        self.assertGreaterEqual(len(times), 3, self.notify.all())
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertGreater(min(gaps), 0.9, gaps)

    def test_watchdog(self):
        """With WATCHDOG_USEC set, WATCHDOG=1 comes every half interval."""
        self.start_notified(WATCHDOG_USEC="200000")
        self.notify.wait_for("READY=1")
        since = time.monotonic()
        time.sleep(1.0)
        pings = self.notify.messages("WATCHDOG=1", since)
        # Every 100 ms: 10 in the second, give or take a late wake.
        self.assertGreaterEqual(len(pings), 7, self.notify.all())
        self.assertLessEqual(len(pings), 12, self.notify.all())

    def test_no_watchdog_without_watchdog_usec(self):
        self.start_notified()
        self.notify.wait_for("READY=1")
        time.sleep(1.0)
        self.assertEqual(self.notify.messages("WATCHDOG="), [])


class Journal(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        # No version file: a warning to see the <4> priority on.
        os.remove(os.path.join(self.dir, "vec.txt"))

    def start_with_stream(self, stream):
        """otad with JOURNAL_STREAM=stream(st) of its stderr file `st`."""
        d = Otad(self.dir, self.config(with_user(""), name="otad-%d.yaml" % len(self.daemons)),
                 self.tmp)
        open(d.stderr_path, "wb").close()   # start() reopens it: same inode
        d.env = {"JOURNAL_STREAM": stream(os.stat(d.stderr_path))}
        self.daemons.append(d)
        return d.start()

    def test_priorities_when_stderr_is_the_stream(self):
        d = self.start_with_stream(lambda st: "%d:%d" % (st.st_dev, st.st_ino))
        lines = d.stderr().splitlines()
        self.assertTrue(any(l.startswith("<6>listening on 127.0.0.1:%d" % d.port) for l in lines),
                        lines)
        self.assertTrue(any(l.startswith("<4>") and "vec.txt" in l for l in lines), lines)
        self.assertFalse([l for l in lines if l.startswith(("info: ", "warning: "))])

    def test_no_priorities_for_another_stream(self):
        """A JOURNAL_STREAM inherited by a process whose stderr was since
        redirected (here: another inode) is not the journal."""
        d = self.start_with_stream(lambda st: "%d:%d" % (st.st_dev, st.st_ino + 1))
        lines = d.stderr().splitlines()
        self.assertTrue(any(l.startswith("info: listening on") for l in lines), lines)
        self.assertTrue(any(l.startswith("warning: ") and "vec.txt" in l for l in lines), lines)
        self.assertFalse([l for l in lines if l.startswith("<")], lines)


class Unit(OtadTestCase):
    def setUp(self):
        super().setUp()
        if shutil.which("systemd-analyze") is None:
            self.skipTest("no systemd-analyze")
        if not os.path.isfile(UNIT):
            self.fail("set OTAD_UNIT to the built otad.service (got %r)" % UNIT)
        with open(UNIT) as f:
            self.text = f.read()
        # The unit names the installed binary; the built one stands in for it.
        self.unit = self.write("otad.service",
                               re.sub(r"^ExecStart=\S+", "ExecStart=" + os.environ["OTAD"],
                                      self.text, flags=re.M), self.tmp)

    def analyze(self, *args):
        return subprocess.run(["systemd-analyze"] + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)

    def test_installed_path(self):
        self.assertRegex(self.text, r"(?m)^ExecStart=/\S*/sbin/otad --config /\S+/otad/otad\.yaml$")

    def test_verify(self):
        r = self.analyze("verify", "--man=no", self.unit)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))

    def test_security_exposure(self):
        r = self.analyze("security", "--offline=true", self.unit)
        m = re.search(r"Overall exposure level for otad\.service: (\d+\.\d+)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        self.assertLessEqual(float(m.group(1)), MAX_EXPOSURE, r.stdout)
        # What the exposure figure rests on is there and was understood.
        for item in ("ProtectProc=", "ProcSubset=", "PrivateMounts=", "User=/DynamicUser="):
            self.assertRegex(r.stdout, r"(?m)^✓ %s" % re.escape(item))


if __name__ == "__main__":
    main()
