#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""QEMU end-to-end scenarios: the reference bootloader against the real otad.

    scenarios.py [Scenario ...]      # e.g. scenarios.py FactoryFresh PowerCuts

Each class is one independent scenario (meson registers each as a test of
the `qemu` suite). See qemutest.py for the runner and the environment.
"""

import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
import qemutest  # noqa: E402
from qemutest import APP_BASE, APP_EXIT_BASE, EXIT_CUT, QemuTestCase, log, read_flash  # noqa: E402
from faultproxy import FaultProxy, block_of, flip_once  # noqa: E402
import otadtest  # noqa: E402

RUN_TIMEOUT = 30        # bound for one QEMU run that should just update and boot
RETRY_RX = r"boot: update failed \((-?\d+)\); retrying in (\d+) ms"


def backoffs(q):
    return [int(m.group(2)) for m in q.find(RETRY_RX)]


class FactoryFresh(QemuTestCase):
    """1. Bootloader only, erased flash: downloads v2 and boots it."""

    def test_fresh_device_installs_v2(self):
        self.serve(2)
        d = self.otad()
        flash = self.flash()
        q = self.run_qemu(flash, d.port, timeout=RUN_TIMEOUT)
        self.assertBooted(q, 2, flash)
        self.assertTrue(q.find(r"boot: update \(attempt 1, no valid application\)"), q.describe())
        self.assertTrue(q.find(r"ota: downloading version 2: %d bytes" % len(self.images.data[2])),
                        q.describe())
        self.assertTrue(q.find(r"ota: installed version 2$"), q.describe())
        log("factory-fresh install of v2 (%d bytes): %.2f s" % (len(self.images.data[2]),
                                                               q.elapsed()))


class RequestedUpdate(QemuTestCase):
    """2. A device on v1 whose app requests an update; the server has v2."""

    def test_v1_updates_to_v2(self):
        self.serve(2)
        d = self.otad()
        flash = self.flash(app=1)
        q = self.run_qemu(flash, d.port, ["update"], timeout=RUN_TIMEOUT)
        self.assertBooted(q, 2, flash)
        self.assertInOrder(q, [r"^app: version 1$", r"^app: requesting update$",
                               r"boot: update \(attempt 1, requested\)",
                               r"ota: downloading version 2", r"ota: installed version 2$",
                               r"boot: starting application version 2$", r"^app: version 2$"])
        # The single slot reports the install in the boot that made it, and
        # the header request named the device: its download is its own.
        self.assertReports(d, [("installed", 2)])
        self.assertRegex(d.stderr(), r"(?m)^info: download finished 127\.0\.0\.1:\d+ app "
                         r"version=2 blocks=(\d+)/\1 .* device=%s$" % qemutest.QEMU_DEVICE_ID)


class NothingNewer(QemuTestCase):
    """3. The server has the same or an older version: the device boots its
    current app, and neither the app area nor anything else is erased or
    rewritten beyond the boot-state records of the request and its clearing."""

    def _check(self, installed_as, served_image, served_version):
        self.serve(served_image, served_version)
        d = self.otad()
        flash = self.flash(app=1, version=installed_as)
        before = read_flash(flash)
        q = self.run_qemu(flash, d.port, ["update", "trace"], timeout=RUN_TIMEOUT)
        self.assertBooted(q, 1, flash)
        self.assertTrue(q.find(r"ota: server has version %d, installed %d: nothing to do"
                               % (served_version, installed_as)), q.describe())
        after = read_flash(flash)
        v1 = self.images.data[1]
        self.assertEqual(qemutest.app_area(after, len(v1)), qemutest.app_area(before, len(v1)))
        self.assertEqual(after[APP_BASE:APP_BASE + len(v1)], v1)

        lines = q.text().splitlines()
        self.assertFalse([l for l in lines if "erase" in l and "flash op" in l],
                         "an erase happened\n" + q.describe())
        programs = q.trace_ops()
        self.assertTrue(all(kind == "program" for (_, kind, _, _) in programs))
        # The app's request record, then the bootloader's clearing record
        # (each image counts its own operations: both say "op 1").
        req = next(i for i, l in enumerate(lines) if l.startswith("boot: update (attempt"))
        boot_programs = [l for l in lines[req:] if qemutest.TRACE_PROGRAM.search(l)]
        self.assertLessEqual(len(boot_programs), 1,
                             "the bootloader wrote more than the clearing record\n"
                             + q.describe())
        self.assertLessEqual(len(programs), 2, q.describe())
        # Every changed byte lies inside a traced program (a state record),
        # and none of them in the application area.
        spans = [(addr, addr + n) for (_, _, addr, n) in programs]
        for (a, b) in spans:
            self.assertEqual(b - a, 48, "a program other than a 48-byte state record")
            self.assertTrue(b <= APP_BASE or a >= APP_BASE + len(v1), "program in the app area")
        changed = [i for i in range(len(before)) if before[i] != after[i]]
        outside = [i for i in changed if not any(a <= i < b for (a, b) in spans)]
        self.assertEqual(outside, [], "bytes changed outside the traced record programs: %s"
                         % ["0x%x" % i for i in outside[:16]])
        rec = qemutest.newest_record(after)
        self.assertEqual(rec["flags"], qemutest.FLAG_APP_VALID, "update request not cleared")
        self.assertEqual(rec["app_version"], installed_as)

    def test_same_version(self):
        self._check(installed_as=1, served_image=1, served_version=1)

    def test_older_version(self):
        self._check(installed_as=5, served_image=2, served_version=3)


class ServerRestart(QemuTestCase):
    """4. otad stopped in the middle of the download and restarted on the same
    port with the same directory: the device resumes and boots v2."""

    def test_resume_after_server_restart(self):
        v2 = self.serve(2)
        nblocks = otadtest.block_count(v2)
        d = self.otad()
        flash = self.flash()
        q = self.qemu(flash, d.port)
        # Follow the download in the flash file itself.
        ok = otadtest.poll(lambda: qemutest.blocks_in_flash(read_flash(flash), v2) >= nblocks // 3
                           or not q.alive(), timeout=20, interval=0.02)
        self.assertTrue(ok and q.alive(), "download did not progress\n" + q.describe())
        status, secs = d.stop()
        done = qemutest.blocks_in_flash(read_flash(flash), v2)
        self.assertEqual(status, 0, d.stderr())
        log("otad stopped (%.1f s) with %d of %d blocks in flash" % (secs, done, nblocks))
        self.assertLess(done, nblocks, "the download finished before otad was stopped")
        # Down long enough for every retry of the request to fail: the update
        # attempt fails, and the next one must resume.
        m = q.wait_line(RETRY_RX, 20)
        self.assertIsNotNone(m, "the device did not give up the attempt\n" + q.describe())
        self.assertTrue(q.alive(), q.describe())
        self.otad(port=d.port)
        q.wait(45)
        self.assertBooted(q, 2, flash)
        resumes = [int(m.group(1)) for m in q.find(r"ota: resuming version 2 at block (\d+) of %d"
                                                   % nblocks)]
        self.assertTrue(resumes and resumes[0] > 0, "no resume at a block > 0\n" + q.describe())
        # Every block programmed before the stop was marked (but the last
        # one, maybe): none of them is fetched again.
        self.assertGreaterEqual(resumes[0], done - 1, q.describe())
        self.assertEqual(len(q.find(r"ota: downloading version 2")), 1,
                         "the download started over\n" + q.describe())
        log("resumed at block %d of %d" % (resumes[0], nblocks))


class CorruptBlock(QemuTestCase):
    """5. A bit flipped in one block response by the proxy: the device sees the
    CRC failure, fetches that block again and installs a correct v2."""

    def test_corrupted_block_refetched(self):
        v2 = self.serve(2)
        block = otadtest.block_count(v2) // 2 + 1
        d = self.otad()
        proxy = FaultProxy(d.port, on_response=flip_once(block)).start()
        self.addCleanup(proxy.close)
        flash = self.flash()
        q = self.run_qemu(flash, proxy.port, timeout=RUN_TIMEOUT)
        self.assertBooted(q, 2, flash)
        self.assertEqual(proxy.errors, [])
        self.assertEqual([block_of(p) for p in proxy.modified], [block])
        self.assertTrue(q.find(r"ota: block %d failed its CRC, attempt 1$" % block), q.describe())
        self.assertEqual(len(q.find(r"failed its CRC")), 1, q.describe())
        # Fetched again, once more than the clean blocks around it.
        self.assertGreaterEqual(proxy.block_requests(block), 2, proxy.paths())
        self.assertEqual(proxy.block_requests(block), proxy.block_requests(block - 1) + 1,
                         proxy.paths())


class PowerCuts(QemuTestCase):
    """6. Power cuts at more than 20 points of an update (every phase), and
    SIGKILLs at random moments of the download; every restart must end on v1
    or v2 with the flash holding exactly that image.

    The port counts flash operations per image start (the app's request is
    "op 1", then the bootloader counts from 1 again), so the bootloader's
    operations are cut on a flash that already holds the app's update request
    (the record ota_request_update() writes, added here), run without
    `update`; the request itself is cut with `update,cut=1` on the v1 flash."""

    WORKERS = 2
    KILL_RUNS = 3
    MIN_POINTS = 24

    @staticmethod
    def classify(ops, image_len):
        """Names each traced op of the bootloader's update: state-erase,
        dl-start, app-erase, block, mark, commit (record for any other)."""
        kinds = []
        in_app = lambda a: APP_BASE <= a < APP_BASE + image_len  # noqa: E731
        for i, (n, kind, arg, length) in enumerate(ops):
            if kind == "erase":
                nxt = ops[i + 1] if i + 1 < len(ops) else None
                app = nxt is not None and nxt[1] == "program" and in_app(nxt[2]) and nxt[3] > 1
                kinds.append("app-erase" if app else "state-erase")
            elif length == 1:
                kinds.append("mark")
            elif in_app(arg):
                kinds.append("block")
            elif kinds and kinds[-1] == "state-erase":
                kinds.append("dl-start")
            else:
                kinds.append("record")
        for i in range(len(kinds) - 1, -1, -1):
            if kinds[i] == "record":
                kinds[i] = "commit"
                break
        return kinds

    def pick(self, ops, kinds):
        idx = lambda k: [i for i, x in enumerate(kinds) if x == k]  # noqa: E731
        chosen = set()
        for k in ("state-erase", "dl-start", "app-erase", "commit"):
            chosen.update(idx(k))
        blocks, marks = idx("block"), idx("mark")
        for lst in (blocks, marks):
            chosen.update([lst[0], lst[1], lst[len(lst) // 2], lst[-1]])
        for e in idx("app-erase"):           # around each sector boundary
            if e + 1 < len(ops):
                chosen.add(e + 1)            # the first block of the sector
            if e - 1 >= 0 and kinds[e - 1] == "mark":
                chosen.add(e - 1)            # the last mark of the previous one
        rng = random.Random(1234)
        rest = [i for i in blocks + marks if i not in chosen]
        rng.shuffle(rest)
        while len(chosen) < self.MIN_POINTS and rest:
            chosen.add(rest.pop())
        return sorted(chosen)

    def test_power_cuts(self):
        v1, v2 = self.images.data[1], self.images.data[2]
        self.serve(2)
        d = self.otad()
        base = self.flash(app=1, name="base.bin")             # v1 installed
        requested = self.copy_flash(base, "requested.bin")    # ... and an update asked for
        qemutest.request_update(requested)

        # The reference run: every flash operation of the bootloader's update.
        ref_flash = self.copy_flash(requested, "ref.bin")
        ref = self.run_qemu(ref_flash, d.port, ["trace"], timeout=RUN_TIMEOUT, name="trace")
        self.assertBooted(ref, 2, ref_flash)
        ops = ref.trace_ops()
        self.assertEqual([o[0] for o in ops], list(range(1, len(ops) + 1)),
                         "trace op numbers are not 1, 2, ...\n" + ref.describe())
        kinds = self.classify(ops, len(v2))
        counts = {k: kinds.count(k) for k in sorted(set(kinds))}
        log("bootloader update v1 -> v2: %d flash operations %s" % (len(ops), counts))
        for k in ("state-erase", "dl-start", "app-erase", "block", "mark", "commit"):
            self.assertIn(k, counts, "no %s operation in the trace\n%s" % (k, ref.describe()))
        self.assertEqual(counts["block"], otadtest.block_count(v2))
        self.assertEqual(counts["mark"], otadtest.block_count(v2))
        points = self.pick(ops, kinds)
        self.assertGreaterEqual(len(points), 20)
        dl_start = next(t for (t, l) in ref.lines if "ota: downloading version 2" in l)
        dl_end = next(t for (t, l) in ref.lines if "ota: installed version 2" in l)

        failures = []
        results = []
        lock = threading.Lock()

        def check_recovery(tag, flash, must_be_v2):
            r = self.run_qemu(flash, d.port, [], timeout=RUN_TIMEOUT, name="after-" + tag)
            if r.rc is None or r.rc not in (APP_EXIT_BASE + 1, APP_EXIT_BASE + 2):
                return None, "%s: restart ended with %r\n%s" % (tag, r.rc, r.describe())
            version = r.rc - APP_EXIT_BASE
            if must_be_v2 and version != 2:
                return version, "%s: restart booted v%d, the update request was already " \
                    "recorded\n%s" % (tag, version, r.describe())
            image = v1 if version == 1 else v2
            fl = read_flash(flash)
            if qemutest.app_area(fl, len(image)) != image:
                return version, "%s: booted v%d but the app area does not hold it\n%s" \
                    % (tag, version, r.describe())
            rec = qemutest.newest_record(fl)
            if rec is None or not rec["flags"] & qemutest.FLAG_APP_VALID or \
                    (rec["app_size"], rec["app_crc"]) != (len(image), qemutest.crc32(image)):
                return version, "%s: newest record %r does not describe v%d" % (tag, rec, version)
            return version, None

        def cut(tag, src, args, n, expect_op, must_be_v2, reference=None):
            flash = self.copy_flash(src, tag + ".bin")
            c = self.run_qemu(flash, d.port, args + ["cut=%d" % n, "trace"],
                              timeout=RUN_TIMEOUT, name=tag)
            version, err = None, None
            got = c.trace_ops()
            if c.rc != EXIT_CUT:
                err = "%s: expected the cut (exit %d), got %r\n%s" % (tag, EXIT_CUT, c.rc,
                                                                      c.describe())
            elif not got or got[-1][0] != n or not c.find(r"^port: power cut$") or \
                    any(e is not None and g != e for g, e in zip(got[-1], expect_op)):
                err = "%s: the cut did not happen in operation %r\n%s" % (tag, expect_op,
                                                                         c.describe())
            elif reference is not None and got != reference[:n]:
                err = "%s: the operations before the cut differ from the reference run\n%s" \
                    % (tag, c.describe())
            else:
                version, err = check_recovery(tag, flash, must_be_v2)
            with lock:
                results.append((tag, version))
                if err:
                    failures.append(err)

        def cut_point(i):
            n = ops[i][0]
            cut("cut%d-%s" % (n, kinds[i]), requested, [], n, ops[i], True, ops)

        def cut_request():
            # The app's own operation: the request record (48 bytes, op 1).
            cut("appcut1-request", base, ["update"], 1, (1, "program", None, 48), False)

        def kill_run(k, delay):
            tag = "kill%d" % k
            flash = self.copy_flash(base, tag + ".bin")
            q = self.qemu(flash, d.port, ["update"], name=tag)
            m = q.wait_line(r"ota: downloading version 2", RUN_TIMEOUT)
            version, err = None, None
            if m is None:
                err = "%s: no download started\n%s" % (tag, q.describe())
                q.kill()
            else:
                time.sleep(delay)
                alive = q.alive()
                q.kill()            # SIGKILL by PID: a power cut at a random moment
                q.wait(5)
                blocks = qemutest.blocks_in_flash(read_flash(flash), v2)
                log("%s: SIGKILL %.2f s into the download (%s), %d of %d blocks in flash"
                    % (tag, delay, "running" if alive else "had exited %r" % q.rc, blocks,
                       otadtest.block_count(v2)))
                version, err = check_recovery(tag, flash, must_be_v2=True)
            with lock:
                results.append((tag, version))
                if err:
                    failures.append(err)

        seed = int(os.environ.get("QEMU_SEED", "0")) or random.randrange(1, 1 << 30)
        rng = random.Random(seed)
        window = dl_end - dl_start
        delays = [rng.uniform(0.05, window) for _ in range(self.KILL_RUNS)]
        log("SIGKILL delays %s (QEMU_SEED=%d, download took %.2f s)"
            % (["%.2f" % x for x in delays], seed, window))
        t0 = time.monotonic()
        with ThreadPoolExecutor(self.WORKERS) as pool:
            futures = [pool.submit(cut_request)]
            futures += [pool.submit(cut_point, i) for i in points]
            futures += [pool.submit(kill_run, k, dly) for k, dly in enumerate(delays)]
            for f in futures:
                f.result(timeout=300)
        by_kind = {}
        for (tag, version) in results:
            kind = tag.split("-", 1)[1] if "-" in tag else "sigkill"
            by_kind.setdefault(kind, []).append("%s:v%s" % (tag.split("-")[0], version))
        log("%d cut points + %d SIGKILLs in %.1f s:\n  %s" % (
            len(points) + 1, len(delays), time.monotonic() - t0,
            "\n  ".join("%s: %s" % (k, " ".join(v)) for k, v in sorted(by_kind.items()))))
        self.assertEqual(failures, [], "\n\n".join(failures))
        self.assertEqual(len(results), 1 + len(points) + len(delays))


class ImageSwap(QemuTestCase):
    """7. The image is replaced v2 -> v3 (rename into place) in the middle of a
    download: the device ends on one consistent image, v2 or v3. otad pins a
    connection to the generation its header described, so on the same
    connection the download goes on with v2; when the connection also breaks
    there, the device meets v3's blocks (or header) and must not mix them."""

    def _swap(self, drop):
        v2 = self.serve(2)
        swap_at = otadtest.block_count(v2) // 2
        swapped = threading.Event()

        def on_request(path):
            if block_of(path) == swap_at and not swapped.is_set():
                self.write("app.txt", "3\n")
                self.publish("app", self.images.data[3])
                swapped.set()
                # otad has taken it in before this request goes on.
                v3 = otadtest.make_header(self.images.data[3], 3)
                if not otadtest.poll(lambda: d.get("/app/header").body == v3, timeout=10):
                    raise AssertionError("otad did not pick up the new image")
                return False if drop else None
            return None

        d = self.otad()
        proxy = FaultProxy(d.port, on_request=on_request).start()
        self.addCleanup(proxy.close)
        flash = self.flash()
        q = self.run_qemu(flash, proxy.port, timeout=60)
        self.assertTrue(swapped.is_set(), "the download never reached block %d" % swap_at)
        self.assertEqual(proxy.errors, [])
        self.assertNoFault(q)
        self.assertIn(q.rc, (APP_EXIT_BASE + 2, APP_EXIT_BASE + 3), q.describe())
        version = q.rc - APP_EXIT_BASE
        self.assertBooted(q, version, flash)
        log("swap at block %d%s: the device ended on v%d (%s)" % (
            swap_at, " with the connection dropped" if drop else "", version,
            "; ".join(m.group(0) for m in q.find(
                r"ota: (image crc mismatch.*|downloading version \d+.*|resuming .*|"
                r"installed version \d+)"))))
        return q, version

    def test_swap_same_connection(self):
        q, version = self._swap(drop=False)
        # otad serves a connection the generation its header described.
        self.assertEqual(version, 2, q.describe())

    def test_swap_and_reconnect(self):
        q, version = self._swap(drop=True)
        # The new connection serves v3's blocks: the device must notice the
        # mixed image and start over with v3 (v2 is no longer offered).
        self.assertEqual(version, 3, q.describe())
        self.assertTrue(q.find(r"ota: image crc mismatch after download; starting over"),
                        q.describe())


class ServerDown(QemuTestCase):
    """8. No server at boot: (a) a device with a valid v1 asked to update runs
    v1 after its bounded retries; (b) a factory-fresh device keeps retrying
    with back-off and succeeds once otad starts."""

    def assertBackoff(self, q, values):
        self.assertGreaterEqual(len(values), 2, q.describe())
        self.assertEqual(values[0], 500, q.describe())
        for a, b in zip(values, values[1:]):
            self.assertEqual(b, min(2 * a, 4000), "back-off does not double: %r" % values)

    def test_a_valid_app_runs_without_server(self):
        port = otadtest.free_port()
        flash = self.flash(app=1)
        before = read_flash(flash)
        q = self.run_qemu(flash, port, ["update"], timeout=45)
        self.assertBooted(q, 1, flash)
        self.assertTrue(q.find(r"boot: update failed \(-?\d+\) 3 times; starting the installed "
                               r"application"), q.describe())
        self.assertBackoff(q, backoffs(q))
        self.assertEqual(len(backoffs(q)), 2, q.describe())
        after = read_flash(flash)
        v1 = self.images.data[1]
        self.assertEqual(after[APP_BASE:APP_BASE + len(v1)], before[APP_BASE:APP_BASE + len(v1)])
        self.assertFalse(q.find(r"ota: downloading"), q.describe())
        log("no server: v1 started after %.1f s" % q.elapsed())

    def test_b_fresh_device_waits_for_server(self):
        self.serve(2)
        port = otadtest.free_port()
        flash = self.flash()
        q = self.qemu(flash, port)
        ok = otadtest.poll(lambda: len(backoffs(q)) >= 2 or not q.alive(), timeout=30,
                           interval=0.05)
        self.assertTrue(ok and q.alive(), "no retries with back-off\n" + q.describe())
        if q.elapsed() < 5:
            time.sleep(5 - q.elapsed())
        t_server = q.elapsed()
        self.otad(port=port)
        q.wait(45)
        self.assertBooted(q, 2, flash)
        self.assertBackoff(q, backoffs(q))
        log("no server for %.1f s (%d retries, back-off %r ms): v2 installed at %.1f s"
            % (t_server, len(backoffs(q)), backoffs(q), q.elapsed()))


class Timing64K(QemuTestCase):
    """The end-to-end update time of a ~64 KiB image (app-big.bin, version 4),
    from QEMU start to the app's exit."""

    def test_big_image_time(self):
        big = self.serve(4)
        d = self.otad()
        flash = self.flash()
        q = self.run_qemu(flash, d.port, timeout=60)
        self.assertBooted(q, 4, flash)
        kib = len(big) / 1024
        t_dl = next(t for (t, l) in q.lines if l.startswith("ota: downloading version 4"))
        t_inst = next(t for (t, l) in q.lines if l == "ota: installed version 4")
        retries = len(q.find(r"ota: /app/.* failed"))
        log("END-TO-END UPDATE of %d bytes (%.1f KiB, %d blocks): %.2f s from QEMU start to "
            "the app's exit; download + install %.2f s (%.1f KiB/s); %d request(s) retried"
            % (len(big), kib, otadtest.block_count(big), q.elapsed(), t_inst - t_dl,
               kib / (t_inst - t_dl), retries))
        self.assertGreater(len(big), 48 * 1024)
        self.assertLess(q.elapsed(), 40)


if __name__ == "__main__":
    qemutest.main()
