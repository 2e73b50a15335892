#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""otaget --device-id against the real otad: it names the device with its
header request and reports how its run ended, as the reference bootloader
does. What otad heard is read from its log: the finished-download line
names the device, and each accepted report is one line
"report DEVICE ADDRESS NAME status=S version=V[ reason=R]" (otad(8),
FLEET). Keys and manifests are made with Python's cryptography
(23-signing.py's Key), never by the code under test.

Environment: as 15-otaget.py."""

import hashlib
import os
import re
import runpy

from otadtest import OtadTestCase, main, poll

DEVICE_ID = "0123456789abcdef01234567"   # 24 hex digits, as an STM32's UID
HERE = os.path.dirname(os.path.abspath(__file__))
# 15-otaget.py's runner and 23-signing.py's keys: their globals, kept out of
# this module's, where unittest would find (and run) their test cases.
otaget_test = runpy.run_path(os.path.join(HERE, "15-otaget.py"))
Key = runpy.run_path(os.path.join(HERE, "23-signing.py"))["Key"]


def image(seed, size=5000):
    return hashlib.shake_256(b"otaget report image %d" % seed).digest(size)


def report_line(device, name, status, version, reason=None):
    """Regex of otad's line for an accepted report."""
    return re.compile(r"^info: report %s 127\.0\.0\.1 %s status=%s version=%d%s$"
                      % (re.escape(device), re.escape(name), status, version,
                         " reason=" + reason if reason else ""), re.M)


class OtagetReport(OtadTestCase):
    otaget = otaget_test["Otaget"].otaget
    url = otaget_test["Otaget"].url
    path = otaget_test["Otaget"].path
    assertInstalled = otaget_test["Otaget"].assertInstalled

    def setUp(self):
        super().setUp()
        if not otaget_test["OTAGET"]:
            self.fail("set OTAGET to the otaget binary")
        self.key = Key()
        self.pub = self.write("a.pub", self.key.pem, self.tmp)

    def assertLogged(self, d, regex):
        """@regex shows up in otad's log within 5 s."""
        if not poll(lambda: regex.search(d.stderr()) is not None, 5.0):
            self.fail("%s not in otad's log:\n%s" % (regex.pattern, d.stderr()))

    def reports(self, d):
        return re.findall(r"^info: report .*$", d.stderr(), re.M)

    def test_download_and_flash_reports_installed(self):
        v2 = image(2, 20000)
        self.add_image("app", v2, version=2)
        d = self.start()
        flash = self.path("flash.bin")
        run = self.otaget(self.url(d, "app"), "--device-id", DEVICE_ID, "--flash", flash,
                          "--out", self.path("out.bin"))
        self.assertInstalled(run, "app", v2, 2)
        self.assertLogged(d, re.compile(r"^info: download finished 127\.0\.0\.1:\d+ app "
                                        r"version=2 blocks=79/79 ", re.M))
        self.assertLogged(d, report_line(DEVICE_ID, "app", "installed", 2))
        self.assertEqual(len(self.reports(d)), 1, d.stderr())
        # Run again on the same flash: nothing newer, nothing to report.
        run = self.otaget(self.url(d, "app"), "--device-id", DEVICE_ID, "--flash", flash,
                          "--installed-version", "2")
        self.assertEqual(run.rc, 0, run)
        self.assertIn("up to date", run.out)
        self.assertEqual(len(self.reports(d)), 1, d.stderr())

    def test_bad_signature_reports_failed(self):
        v2 = image(2)
        self.add_image("app", v2, version=2)
        m = bytearray(self.key.sign("app", 2, v2))
        m[150] ^= 0x08
        self.write("app.sig", bytes(m))
        d = self.start()
        run = self.otaget(self.url(d, "app"), "--device-id", DEVICE_ID, "--pub", self.pub,
                          "--retries", "1")
        self.assertEqual(run.rc, 5, run)    # verification failed (otaget(1))
        self.assertIn("refused: bad signature", run.err)
        self.assertLogged(d, report_line(DEVICE_ID, "app", "failed", 2, "signature"))
        self.assertEqual(len(self.reports(d)), 1, d.stderr())

    def test_downgrade_reports_failed(self):
        """A --flash that installed a signed v3 holds floor 3: a validly
        signed v2 from otad is refused as a downgrade, and reported so."""
        v3, v2 = image(3), image(2)
        self.add_image("app", v3, version=3)
        self.write("app.sig", self.key.sign("app", 3, v3))
        d = self.start()
        flash = self.path("flash.bin")
        run = self.otaget(self.url(d, "app"), "--device-id", DEVICE_ID, "--pub", self.pub,
                          "--flash", flash)
        self.assertInstalled(run, "app", v3, 3)
        self.assertLogged(d, report_line(DEVICE_ID, "app", "installed", 3))
        d.stop()
        self.add_image("app", v2, version=2)
        self.write("app.sig", self.key.sign("app", 2, v2))
        d = self.start()
        run = self.otaget(self.url(d, "app"), "--device-id", DEVICE_ID, "--pub", self.pub,
                          "--flash", flash, "--installed-version", "1")
        self.assertEqual(run.rc, 5, run)
        self.assertIn("refused: downgrade", run.err)
        self.assertLogged(d, report_line(DEVICE_ID, "app", "failed", 2, "downgrade"))

    def test_without_an_id_nothing_is_reported(self):
        """Without --device-id, otaget is the legacy client it was: otad
        knows it by its address and hears no report."""
        v2 = image(2)
        self.add_image("app", v2, version=2)
        d = self.start()
        run = self.otaget(self.url(d, "app"))
        self.assertInstalled(run, "app", v2, 2)
        self.assertLogged(d, re.compile(r"^info: download finished 127\.0\.0\.1:\d+ app "
                                        r"version=2 ", re.M))
        self.assertEqual(self.reports(d), [])

    def test_bad_device_id(self):
        for bad in ["", "has space", "x" * 65, "semi;colon", "caf\u00e9"]:
            run = self.otaget("http://127.0.0.1:1/app", "--device-id", bad)
            self.assertEqual(run.rc, 2, (bad, run))
            self.assertIn("--device-id", run.err)
        run = self.otaget("http://127.0.0.1:1/app", "--device-id", "A-z0.9_:" + "x" * 56,
                          "--retries", "1", "--timeout", "1")
        self.assertEqual(run.rc, 3, run)  # a good id (64 bytes): no server there


if __name__ == "__main__":
    main()
