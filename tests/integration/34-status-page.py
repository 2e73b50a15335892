#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The status page of the admin listener in a real browser: headless
Chromium (cdp.py) opens it while otaget downloads slowly (--delay) from the
real otad, one device has reported failed with a reason, and one firmware
is named like markup. What is checked is the DOM the page's script built,
the requests the browser made (DevTools' Network events) and whether any
script ran from the name; then 50 more devices make two pages, and the
second is the one otad sends. Expected values come from the images and the
requests made here, never from otad's answers.

Environment: OTAD and OTAGET as for 15-otaget.py; STATUS_SCREENSHOTS, a
directory to keep the two screenshots in (status.png at 1280x800,
status-narrow.png at 390x844) instead of the scratch directory
(scripts/status-screenshots.sh sets it)."""

import hashlib
import json
import os
import runpy
import subprocess
import time
import urllib.parse

import cdp
from otadtest import OtadTestCase, _die_with_parent, block_count, crc32, main

HERE = os.path.dirname(os.path.abspath(__file__))
OTAGET = runpy.run_path(os.path.join(HERE, "15-otaget.py"))["OTAGET"]
HOSTILE = "<img src=x onerror=alert(1)>"
SLOW_BLOCKS = 400          # blocks of app; at DELAY_MS each, about 12 s a download
DELAY_MS = 30
PNG = b"\x89PNG\r\n\x1a\n"

# Run before any script of the page: an alert() (the hostile name's
# onerror, were it ever markup) and a CSP violation (markup that tried to
# run inline code) are both recorded where the test can read them.
WATCH = """
window.__alerts = 0;
window.alert = function () { window.__alerts++; };
window.__violations = [];
document.addEventListener("securitypolicyviolation",
    function (e) { window.__violations.push(e.violatedDirective + " " + e.blockedURI); });
"""

ROW = "[...document.querySelectorAll('#devices tbody tr')].find(r => r.dataset.id === %s)"


def image(seed, size):
    return hashlib.shake_256(b"status page image %d" % seed).digest(size)


class StatusPage(OtadTestCase):
    def setUp(self):
        super().setUp()
        if not OTAGET:
            self.fail("set OTAGET to the otaget binary")
        if not cdp.chromium_binary():
            self.fail("chromium is not installed (scripts/deps.sh test)")
        self.procs = []
        self.addCleanup(self._stop_otagets)
        self.app = self.add_image("app", image(1, SLOW_BLOCKS * 256 - 100), version=2)
        self.hostile = self.add_image(HOSTILE, image(2, 3000), version=1)

    def _stop_otagets(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(5)

    def otaget(self, device, delay=0):
        url = "http://127.0.0.1:%d/app" % self.d.port
        args = [OTAGET, url, "--device-id", device, "--quiet", "--out",
                os.path.join(self.tmp, device + ".bin")]
        if delay:
            args += ["--delay", str(delay)]
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.procs.append(p)
        return p

    def device_requests(self):
        """A device that failed with a reason, and one asking for the
        firmware with the hostile name."""
        with self.d.conn() as c:
            r = c.request("/app/header", headers=[("X-Device-Id", "dev-failed"),
                                                  ("X-Device-Version", "1")])
            self.assertEqual(r.status, 200)
            r = c.request("/app/report", method="POST",
                          body=b"status=failed&version=2&reason=signature",
                          headers=[("Content-Type", "application/x-www-form-urlencoded")])
            self.assertEqual(r.status, 204)
        with self.d.conn() as c:
            r = c.request("/%s/header" % urllib.parse.quote(HOSTILE, safe=""),
                          headers=[("X-Device-Id", "dev-hostile")])
            self.assertEqual(r.status, 200)

    def open_page(self):
        b = cdp.Browser(self.tmp)
        self.addCleanup(b.close)
        b.call("Page.enable")
        b.call("Network.enable")
        b.call("Runtime.enable")
        b.call("Log.enable")
        b.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH)
        b.viewport(1280, 800)
        self.origin = "http://127.0.0.1:%d" % self.d.admin_port
        b.call("Page.navigate", url=self.origin + "/")
        return b

    def progress(self, b, device):
        return b.evaluate("(() => { const r = %s; return r ? r.querySelector('progress').value"
                          " : null; })()" % (ROW % json.dumps(device)))

    def test_status_page(self):
        self.d = self.start()
        done = self.otaget("dev-done")
        self.assertEqual(done.wait(30), 0)
        slow = [self.otaget("dev-slow-%d" % i, DELAY_MS) for i in (1, 2)]
        self.device_requests()
        b = self.open_page()
        b.wait_for("document.querySelectorAll('#devices tbody tr[data-id]').length === 5")

        # The firmware rows, sorted by name ('<' before 'a').
        rows = b.evaluate("[...document.querySelectorAll('#firmwares tbody tr')].map("
                          "r => [...r.cells].map(c => c.firstChild.textContent))")
        self.assertEqual([r[0] for r in rows], [HOSTILE, "app"])
        self.assertEqual(rows[1][1:4], ["2", "%d KiB" % round(len(self.app) / 1024),
                                        "0x%08X" % crc32(self.app)])
        self.assertEqual(rows[0][1:4], ["1", "2.9 KiB", "0x%08X" % crc32(self.hostile)])
        self.assertEqual(rows[1][4], "no")

        # A download in progress grows between two samples.
        b.wait_for("(() => { const r = %s; return r && r.querySelector('progress').value > 0 })()"
                   % (ROW % '"dev-slow-1"'))
        first = self.progress(b, "dev-slow-1")
        time.sleep(2.0)
        b.wait_for("(() => { const r = %s; return r.querySelector('progress').value > %d })()"
                   % (ROW % '"dev-slow-1"', first), timeout=5)
        slow_row = b.evaluate("(() => { const r = %s; return [r.cells[4].textContent,"
                              " r.cells[5].textContent, r.cells[6].textContent,"
                              " r.cells[7].textContent] })()" % (ROW % '"dev-slow-1"'))
        self.assertEqual(slow_row[0], "downloading")
        self.assertRegex(slow_row[1], r"^\d+ %%\d+ of %d blocks$" % block_count(self.app))
        self.assertRegex(slow_row[2], r"^[\d.]+ (B|KiB)/s$")
        self.assertRegex(slow_row[3], r"^\d+ s$")

        # The failed device with its reason, marked in words, not only colour.
        failed = b.evaluate("(() => { const r = %s; return [r.className,"
                            " r.querySelector('.report').firstChild.textContent] })()"
                            % (ROW % '"dev-failed"'))
        self.assertEqual(failed, ["attention", "failed: signature"])
        done_state = b.evaluate("%s.cells[4].textContent" % (ROW % '"dev-done"'))
        self.assertEqual(done_state, "up-to-date")

        # The hostile name is text wherever it shows, and no markup came of it.
        self.assertEqual(b.evaluate("%s.cells[1].textContent" % (ROW % '"dev-hostile"')),
                         HOSTILE)
        cards = b.evaluate("[...document.querySelectorAll('#rollout h3')].map(h => h.textContent)")
        self.assertEqual(cards, [HOSTILE, "app"])
        self.assertEqual(b.evaluate("document.querySelectorAll('img, [onerror]').length"), 0)
        self.assertEqual(b.evaluate("window.__alerts"), 0)
        self.assertEqual(b.evaluate("window.__violations"), [])

        # Per firmware: counts by state, and the chart of the one completion.
        app_counts = b.evaluate("[...document.querySelectorAll('#rollout article')[1]"
                                ".querySelectorAll('.counts li')].map(l => l.textContent)")
        self.assertIn("2 downloading", app_counts)
        self.assertIn("1 up-to-date", app_counts)
        self.assertIn("1 checking", app_counts)  # dev-failed asked for the header only
        self.assertEqual(b.evaluate("document.querySelectorAll('#rollout article')[1]"
                                    ".querySelector('svg text:last-of-type').textContent"),
                         "1 completed")

        # The filter asks otad for one firmware's devices only.
        b.evaluate("(() => { const s = document.getElementById('f-firmware');"
                   " s.value = [...s.options].find(o => o.textContent === %s).value;"
                   " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
                   % json.dumps(HOSTILE))
        b.wait_for("[...document.querySelectorAll('#devices tbody tr[data-id]')]"
                   ".map(r => r.dataset.id).join() === 'dev-hostile'")

        self.screenshots(b)

        # Past 50 devices, otad sends the page asked for and says how many.
        with self.d.conn() as c:
            for i in range(50):
                r = c.request("/app/header", headers=[("X-Device-Id", "bulk-%02d" % i)])
                self.assertEqual(r.status, 200)
        info = "document.getElementById('page-info').textContent"
        b.wait_for(info + " === '1\u201350 of 55'")
        self.assertEqual(b.evaluate("document.querySelectorAll('#devices tbody tr').length"), 50)
        b.evaluate("document.getElementById('next').click()")
        b.wait_for(info + " === '51\u201355 of 55'")
        self.assertEqual(b.evaluate("[...document.querySelectorAll('#devices tbody tr')]"
                                    ".map(r => r.dataset.id)"),
                         ["dev-done", "dev-failed", "dev-hostile", "dev-slow-1", "dev-slow-2"])
        self.assertTrue(b.evaluate("document.getElementById('next').disabled"))

        # Every request stayed on the page's origin, and the page's own
        # requests were seen (so the check is not of an empty list).
        urls = [p["request"]["url"] for m, p in b.events if m == "Network.requestWillBeSent"]
        outside = [u for u in urls if not u.startswith(self.origin + "/")]
        self.assertEqual(outside, [])
        paths = {urllib.parse.urlsplit(u).path for u in urls}
        self.assertLessEqual({"/", "/status.css", "/status.js", "/summary", "/firmwares",
                              "/devices"}, paths)
        self.assertLessEqual(paths, {"/", "/status.css", "/status.js", "/summary",
                                     "/firmwares", "/devices", "/favicon.ico"})
        dialogs = [m for m, _ in b.events if m == "Page.javascriptDialogOpening"]
        self.assertEqual(dialogs, [])
        for p in slow:
            self.assertIsNone(p.poll(), "the slow downloads should still be running")

    def screenshots(self, b):
        b.evaluate("(() => { const s = document.getElementById('f-firmware'); s.value = '';"
                   " s.dispatchEvent(new Event('change', {bubbles: true})); })()")
        b.wait_for("document.querySelectorAll('#devices tbody tr[data-id]').length === 5")
        out = os.environ.get("STATUS_SCREENSHOTS") or self.tmp
        for name, w, h in (("status.png", 1280, 800), ("status-narrow.png", 390, 844)):
            path = os.path.join(out, name)
            if w < 600:  # the devices as labelled lines, below the firmwares
                b.viewport(w, h)
                b.evaluate("document.getElementById('dev-title').scrollIntoView()")
            b.screenshot(path, w, h)
            with open(path, "rb") as f:
                head = f.read(24)
            self.assertEqual(head[:8], PNG)
            self.assertEqual((int.from_bytes(head[16:20], "big"),
                              int.from_bytes(head[20:24], "big")), (w, h))
        b.viewport(1280, 800)
        b.evaluate("window.scrollTo(0, 0)")


if __name__ == "__main__":
    main()
