#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""QEMU end-to-end scenarios of the dual-slot f405 board (boot-f405.elf, a
1 MiB flash file): download beside the running application, install by
swap, trial boot, revert, against the real otad.

    scenarios_ab.py [Scenario ...]      # e.g. scenarios_ab.py AbPowerCuts

Each class is one independent scenario (meson registers each as a test of
the `qemu` suite). See qemutest.py for the runner and the environment.
Expected bytes, sizes, CRCs and erase counts come from the image files, zlib
and the documented record format and swap steps, never from the firmware.
"""

import collections
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
import qemutest  # noqa: E402
from qemutest import (AB_SECTOR, APP_EXIT_BASE, EXIT_CUT, FLAG_APP_VALID,  # noqa: E402
                      FLAG_REPORT_TRIAL, FLAG_SECONDARY_VALID, FLAG_TRIAL, OP_NONE,
                      QemuTestCase, crc32, log,
                      read_flash_ab)
from faultproxy import FaultProxy, block_of  # noqa: E402
import otadtest  # noqa: E402

RUN_TIMEOUT = 30        # bound for one QEMU run that should just update and boot
WATCHDOG_S = 2 * 1.5    # board_f405.c: reset at the second expiry of 1.5 s


def segments(ops):
    """Splits traced operations by the image that made them: each image (the
    bootloader, then each application it starts) counts from 1 again."""
    segs = []
    for op in ops:
        if op["n"] == 1 or not segs:
            segs.append([])
        segs[-1].append(op)
    return segs


def erase_counts(ops):
    return dict(collections.Counter(op["area"] for op in ops if op["kind"] == "erase"))


def sectors_of(size):
    return (size + AB_SECTOR - 1) // AB_SECTOR


def swap_erases(primary_len, secondary_len):
    """Erases of the documented swap (firmware/core/ota_swap.h) exchanging an
    image of primary_len bytes with one of secondary_len: for each 128 KiB
    sector holding a byte of either, scratch <- primary (if the primary's
    image has bytes there), primary <- secondary (if the secondary's has),
    secondary <- scratch (as the first)."""
    counts = collections.Counter()
    for i in range(max(sectors_of(primary_len), sectors_of(secondary_len))):
        a = primary_len > i * AB_SECTOR
        b = secondary_len > i * AB_SECTOR
        counts["scratch"] += a
        counts["primary"] += b
        counts["secondary"] += a
    return {k: v for k, v in counts.items() if v}


class AbCase(QemuTestCase):
    """Helpers for the f405 board."""

    def ab(self, key):
        return self.images.ab_data[key]

    def version(self, key):
        return self.images.ab_version[key]

    def serve_ab(self, key):
        data = self.ab(key)
        self.serve(data, self.version(key))
        return data

    def republish(self, d, key):
        """Replaces the served image and waits until otad serves it."""
        data = self.serve_ab(key)
        want = otadtest.make_header(data, self.version(key))
        self.assertTrue(otadtest.poll(lambda: d.get("/app/header").body == want, timeout=10),
                        "otad did not pick up %s" % key)

    def run_ab(self, flash, port, args=(), timeout=RUN_TIMEOUT, name=None, extra=()):
        return self.run_qemu(flash, port, args, timeout, name, board="f405", extra=extra)

    def assertAbBooted(self, q, key):
        """QEMU ended with the app `key` running (exit 100+V, its lines)."""
        v = self.version(key)
        self.assertNoFault(q)
        self.assertEqual(q.rc, APP_EXIT_BASE + v, "expected %s to run\n%s" % (key, q.describe()))
        self.assertTrue(q.find(r"^app: version %d$" % v), q.describe())
        self.assertTrue(q.find(r"^boot: starting application version %d$" % v), q.describe())

    def assertQuietRerun(self, flash, port, key):
        """Another QEMU run boots `key` at once: no trial, no revert, no
        install, and not one byte of the flash changes."""
        before = read_flash_ab(flash)
        q = self.run_ab(flash, port, name="rerun")
        self.assertAbBooted(q, key)
        self.assertFalse(q.find(r"trial|revert|install|ota:"), q.describe())
        self.assertEqual(read_flash_ab(flash), before, "the re-run changed the flash")
        return q

    def revert_flow(self, bad, port, d=None):
        """A device on v1 asks for an update; the server has `bad` (an app
        that never confirms, or crashes). Returns (flash, q) after the run,
        which must end on v1 again, `bad` reverted, and reported so to otad
        `d` (if given): installed, then reverted, both of `bad`'s version."""
        flash = self.flash_ab(app="v1")
        q = self.run_ab(flash, port, ["update"], name="revert-" + bad)
        self.assertAbBooted(q, "v1")
        vb = self.version(bad)
        self.assertInOrder(q, [
            r"^app: version 1$", r"^app: requesting update$", r"^boot: update \(requested\)$",
            r"^ota: downloading version %d" % vb, r"^ota: version %d verified; installing$" % vb,
            r"^boot: installed version %d$" % vb, r"^boot: version %d on trial, boot 1 of 1$" % vb,
            r"^boot: starting application version %d$" % vb, r"^app: version %d$" % vb,
            r"^boot: version %d not confirmed after 1 boot\(s\); reverting to version 1$" % vb,
            r"^boot: reverted to version 1$", r"^boot: starting application version 1$",
            r"^app: version 1$"])
        # v1 before its request and after the revert; never the bad app.
        self.assertEqual(len(q.find(r"^app: confirmed$")), 2, q.describe())
        b = self.ab(bad)
        rec = self.assertAbHolds(flash, "v1", bad, q)
        self.assertEqual(rec["flags"], FLAG_APP_VALID, "after a revert: %r" % rec)
        self.assertEqual((rec["rejected_size"], rec["rejected_crc"]), (len(b), crc32(b)),
                         "the reverted image is not the one remembered: %r" % rec)
        if d is not None:
            self.assertReports(d, [("installed", vb), ("reverted", vb)])
        return flash, q


class AbConfirmedUpdate(AbCase):
    """1. v1 -> v2 on the dual-slot map: downloaded into the secondary, swapped
    in, booted on trial, confirmed; on a further run v2 simply runs. The
    flash holds v2 in the primary and v1 in the secondary."""

    def test_update_confirmed(self):
        v1, v2 = self.ab("v1"), self.serve_ab("v2")
        d = self.otad()
        flash = self.flash_ab(app="v1")
        q = self.run_ab(flash, d.port, ["update", "trace"])
        self.assertAbBooted(q, "v2")
        self.assertInOrder(q, [
            r"^app: version 1$", r"^app: confirmed$", r"^app: requesting update$",
            r"^boot: update \(requested\)$", r"^ota: downloading version 2: %d bytes" % len(v2),
            r"^ota: version 2 verified; installing$", r"^boot: installed version 2$",
            r"^boot: version 2 on trial, boot 1 of 1$", r"^boot: starting application version 2$",
            r"^app: version 2$", r"^app: confirmed$"])
        rec = self.assertAbHolds(flash, "v2", "v1", q)
        # Installed was reported at the trial boot; confirmed is due at the next.
        self.assertEqual(rec["flags"], FLAG_APP_VALID | FLAG_SECONDARY_VALID | FLAG_REPORT_TRIAL,
                         repr(rec))
        self.assertEqual(rec["trials"], 0, repr(rec))
        self.assertReports(d, [("installed", 2)])

        # The flash operations of each image: the request of v1, the
        # bootloader's download and swap, the confirmation of v2.
        segs = segments(q.area_ops())
        self.assertEqual(len(segs), 3, "expected 3 images to write\n" + q.describe())
        app1, boot, app2 = segs
        self.assertEqual([(o["kind"], o["area"][:5], o["len"]) for o in app1 + app2],
                         [("program", "state", 64)] * 2, "the apps write one record each")
        want = collections.Counter(swap_erases(len(v1), len(v2)))
        want["secondary"] += sectors_of(len(v2))   # the download
        got = erase_counts(boot)
        states = sum(n for a, n in got.items() if a.startswith("state"))
        self.assertEqual(states, 1, "one state sector erased when the download starts: %r" % got)
        self.assertEqual({a: n for a, n in got.items() if not a.startswith("state")},
                         {a: n for a, n in want.items() if n and not a.startswith("state")})
        log("ERASES update v1 -> v2 (%d -> %d bytes, download + install): %s"
            % (len(v1), len(v2), " ".join("%s=%d" % kv for kv in sorted(got.items()))))
        # The next boot reports the confirmation and clears it; then quiet.
        q = self.run_ab(flash, d.port, name="confirm-report")
        self.assertAbBooted(q, "v2")
        rec = self.assertAbHolds(flash, "v2", "v1", q)
        self.assertEqual(rec["flags"], FLAG_APP_VALID | FLAG_SECONDARY_VALID, repr(rec))
        self.assertReports(d, [("installed", 2), ("confirmed", 2)])
        self.assertQuietRerun(flash, d.port, "v2")
        self.assertReports(d, [("installed", 2), ("confirmed", 2)])


class AbNoConfirmRevert(AbCase):
    """2. An update to an app that never confirms: it hangs, the watchdog
    resets it, the bootloader reverts to v1, which then stays (another run
    boots it without any revert)."""

    def test_never_confirming_app_reverted(self):
        self.serve_ab("noconfirm")
        d = self.otad()
        flash, q = self.revert_flow("noconfirm", d.port, d)
        self.assertTrue(q.find(r"^app: not confirming$"), q.describe())
        self.assertTrue(q.find(r"^watchdog: expired once"), q.describe())
        hang = q.line_time(r"^app: not confirming$")
        revert = q.line_time(r"^boot: version 5 not confirmed")
        # Reset by the watchdog (2 x 1.5 s), not at once.
        self.assertGreater(revert - hang, WATCHDOG_S - 0.5, q.describe())
        self.assertLess(revert - hang, WATCHDOG_S + 3, q.describe())
        log("never-confirming app reset by the watchdog %.2f s after it started waiting"
            % (revert - hang))
        self.assertQuietRerun(flash, d.port, "v1")


class AbCrashRevert(AbCase):
    """3. An update to an app that faults at once; its fault handler resets
    the chip, and the bootloader reverts to v1."""

    def test_crashing_app_reverted(self):
        self.serve_ab("crash")
        d = self.otad()
        flash, q = self.revert_flow("crash", d.port, d)
        self.assertTrue(q.find(r"^fault: resetting$"), q.describe())
        self.assertFalse(q.find(r"^watchdog:"), "the fault handler should reset, not the "
                         "watchdog\n" + q.describe())
        crash = q.line_time(r"^app: jumping to")
        revert = q.line_time(r"^boot: version 6 not confirmed")
        self.assertLess(revert - crash, 1.0, q.describe())
        self.assertQuietRerun(flash, d.port, "v1")


class AbRejectedImage(AbCase):
    """4. After a revert, the same image still on the server is neither
    downloaded nor installed again (not one block request); a different
    image is."""

    def test_reverted_image_not_fetched_again(self):
        nc = self.serve_ab("noconfirm")
        d = self.otad()
        proxy = FaultProxy(d.port).start()
        self.addCleanup(proxy.close)
        flash, _ = self.revert_flow("noconfirm", proxy.port, d)
        self.assertEqual(proxy.block_requests(0), 1, proxy.paths())

        seen = len(proxy.paths())
        q = self.run_ab(flash, proxy.port, ["update"], name="again")
        self.assertAbBooted(q, "v1")
        paths = proxy.paths()[seen:]
        self.assertIn("/app/header", paths, "the device did not ask\n" + q.describe())
        self.assertEqual([p for p in paths if block_of(p) is not None], [],
                         "blocks of the reverted image were fetched again")
        self.assertTrue(q.find(r"^ota: version 5 \(crc %08x\) was reverted before: not "
                               r"installing it again$" % crc32(nc)), q.describe())
        self.assertFalse(q.find(r"^ota: downloading|^boot: installed|on trial"), q.describe())
        self.assertAbHolds(flash, "v1", "noconfirm", q)
        self.assertReports(d, [("installed", 5), ("reverted", 5), ("failed", 5, "rejected")])

        v2 = self.ab("v2")
        self.republish(d, "v2")
        seen = len(proxy.paths())
        q = self.run_ab(flash, proxy.port, ["update"], name="different")
        self.assertAbBooted(q, "v2")
        blocks = sorted(b for b in (block_of(p) for p in proxy.paths()[seen:]) if b is not None)
        self.assertEqual(blocks, list(range(otadtest.block_count(v2))), q.describe())
        self.assertAbHolds(flash, "v2", "v1", q)
        self.assertReports(d, [("installed", 5), ("reverted", 5), ("failed", 5, "rejected"),
                               ("installed", 2)])


class AbServerDown(AbCase):
    """5. No server at boot, a valid app that asked for an update: the
    dual-slot bootloader tries once and boots the app at once, keeping the
    request for the next boot; the single-slot one (f401, same timings)
    backs off for seconds first. Both run side by side."""

    BOUND_S = 5.0       # 1.5 s receive timeout + 0.2 s drain + boot, with slack

    def test_boots_at_once(self):
        port = otadtest.free_port()       # nobody listens there
        ab_flash = self.flash_ab(app="v1")
        single_flash = self.flash(app=1, name="f401.bin")
        single = self.qemu(single_flash, port, ["update"], name="f401", board="f401")
        dual = self.qemu(ab_flash, port, ["update"], name="f405", board="f405")
        dual.wait(RUN_TIMEOUT)
        single.wait(45)
        self.assertAbBooted(dual, "v1")
        self.assertBooted(single, 1)
        # From the app's request (the reset) to the app started again.
        start = r"^boot: starting application version 1$"
        t_dual = dual.line_time(start, last=True) - dual.line_time(r"^app: requesting update$")
        t_single = (single.line_time(start, last=True)
                    - single.line_time(r"^app: requesting update$"))
        self.assertEqual(len(dual.find(r"^boot: update \(requested\)$")), 1, dual.describe())
        self.assertEqual(len(dual.find(r"^ota: /app/header failed")), 1, dual.describe())
        self.assertFalse(dual.find(r"^watchdog:"), dual.describe())
        self.assertTrue(dual.find(r"^boot: update failed \(-?\d+\); starting the installed "
                                  r"application$"), dual.describe())
        self.assertFalse(dual.find(r"retrying in"), dual.describe())
        self.assertTrue(single.find(r"retrying in"), single.describe())
        log("SERVER DOWN: from the update request to the app running again: dual-slot "
            "%.2f s (one header attempt), single-slot %.2f s (3 attempts, back-off)"
            % (t_dual, t_single))
        self.assertLess(t_dual, self.BOUND_S, dual.describe())
        self.assertGreater(t_single, 2 * t_dual, single.describe())
        # Nobody answered: the request stays for the next boot.
        self.assertAbHolds(ab_flash, "v1", requested=True)


class AbFactoryFresh(AbCase):
    """7. An erased f405 flash: the download goes into the secondary, the
    swap copies it into the primary (nothing to keep: one erase of the
    primary, no scratch), and v2 runs at once, not on trial since there is
    nothing to revert to."""

    def test_fresh_device_installs_v2(self):
        v2 = self.serve_ab("v2")
        d = self.otad()
        flash = self.flash_ab()
        q = self.run_ab(flash, d.port, ["trace"])
        self.assertAbBooted(q, "v2")
        self.assertInOrder(q, [r"^boot: update \(no valid application\)$",
                           r"^ota: downloading version 2: %d bytes" % len(v2),
                           r"^ota: version 2 verified; installing$", r"^boot: installed version 2$",
                           r"^boot: starting application version 2$", r"^app: confirmed$"])
        self.assertFalse(q.find(r"on trial|revert"), q.describe())
        rec = self.assertAbHolds(flash, "v2", q=q)
        self.assertEqual(rec["flags"], FLAG_APP_VALID, repr(rec))
        self.assertEqual(qemutest.ab_area(read_flash_ab(flash), "secondary", len(v2)), v2)
        # Nothing to confirm without a previous image: installed, and done.
        self.assertReports(d, [("installed", 2)])
        boot = segments(q.area_ops())[0]
        got = erase_counts(boot)
        want = collections.Counter(swap_erases(0, len(v2)))
        want["secondary"] += sectors_of(len(v2))
        self.assertEqual({a: n for a, n in got.items() if not a.startswith("state")}, dict(want))
        log("ERASES factory-fresh install of v2 (%d bytes): %s"
            % (len(v2), " ".join("%s=%d" % kv for kv in sorted(got.items()))))

def swap_steps(ops):
    """Groups the bootloader's traced operations of a swap: each step is an
    erase of one sector, the 256-byte programs that copy into it, and the
    64-byte state record that records it done. Returns (head, steps, tail):
    the records before the first step, the steps (dicts: erase, programs,
    record), the records after the last."""
    head, steps, tail = [], [], []
    for op in ops:
        state = op["area"].startswith("state")
        if op["kind"] == "erase" and not state:
            steps.append({"erase": op, "programs": [], "record": None})
        elif not steps:
            head.append(op)
        elif not state and steps[-1]["record"] is None:
            steps[-1]["programs"].append(op)
        elif state and steps[-1]["record"] is None and not tail:
            steps[-1]["record"] = op
        else:
            tail.append(op)
    return head, steps, tail


def cut_points(head, steps, tail):
    """(tag, op) of the operations to cut: every record, and in each step its
    erase, its first, middle and last program and its record."""
    points = [("head-record%d" % i, op) for i, op in enumerate(head)]
    for k, st in enumerate(steps):
        name = "s%d-%s" % (k + 1, st["erase"]["area"])
        points.append((name + "-erase", st["erase"]))
        progs = st["programs"]
        for label, i in (("first", 0), ("mid", len(progs) // 2), ("last", len(progs) - 1)):
            if progs and (label == "first" or i > 0):
                points.append(("%s-%s" % (name, label), progs[i]))
        points.append((name + "-record", st["record"]))
    points += [("tail-record%d" % i, op) for i, op in enumerate(tail)]
    seen, unique = set(), []
    for tag, op in points:
        if op is not None and op["n"] not in seen:
            seen.add(op["n"])
            unique.append((tag, op))
    return unique


def same_op(a, b):
    return all(a[k] == b[k] for k in ("n", "kind", "area", "off", "len"))


def swap_figures(ops, head, steps, tail):
    """Guest microseconds: the whole swap (first step's erase to the record
    that ends it) and each step (its erase to its record)."""
    end = tail[0]["t"] if tail else steps[-1]["record"]["t"]
    per_step = [(st["record"]["t"] - st["erase"]["t"], st["erase"]["area"]) for st in steps]
    return end - steps[0]["erase"]["t"], per_step


class AbPowerCuts(AbCase):
    """6. Power cuts (cut=N) at every record and at the erase, first, middle
    and last program of every step of three swaps whose images span two
    128 KiB sectors (the swap crosses a sector boundary), each followed by a
    restart: the install of v1 -> v3 must end on v3 (the new, confirming
    app), the install of v3 -> the never-confirming app on that app on its
    trial boot, and that app's revert on v3 (the old one); each time the
    primary holds exactly the image and the secondary the other one, never
    a mix. Also prints the swap timings and erase counts
    (guest time from the trace; guest instructions with -icount shift=0).
    test_sigkills adds SIGKILLs at random moments (QEMU_SEED) of a real
    download, install, trial and revert."""

    WORKERS = 2

    def reference(self, src, name, trace="trace", extra=()):
        flash = self.copy_flash(src, name + ".bin")
        q = self.run_ab(flash, self.port, [trace], name=name, extra=extra)
        self.assertAbBooted(q, "v3")
        return q, flash, segments(q.area_ops())[0]

    def revert_start(self):
        """Installs (traced) a never-confirming app over v3 from a staged
        flash, and kills QEMU once the app runs, before the watchdog fires:
        the flash of an app on trial, booted once (its trial counted), v3 in
        the secondary. Returns (the staged flash, that flash, the install's
        traced operations)."""
        staged = self.flash_ab(app="v3", secondary="noconfirm", install=True,
                               name="staged-noconfirm.bin")
        flash = self.copy_flash(staged, "reverting.bin")
        q = self.qemu(flash, self.port, ["trace"], name="trial", board="f405")
        self.assertIsNotNone(q.wait_line(r"^app: not confirming$", RUN_TIMEOUT), q.describe())
        q.kill()
        q.wait(5)
        err = self.trial_settled("trial", flash)
        self.assertIsNone(err, err)
        return staged, flash, segments(q.area_ops())[0]

    def trial_settled(self, tag, flash):
        """None if the flash holds the never-confirming app on its first
        trial boot, v3 whole in the secondary, no swap under way, and the
        report of its install made."""
        fl = read_flash_ab(flash)
        nc, v3 = self.ab("noconfirm"), self.ab("v3")
        if qemutest.ab_area(fl, "primary", len(nc)) != nc or \
                qemutest.ab_area(fl, "secondary", len(v3)) != v3:
            return "%s: the slots do not hold noconfirm and v3 (they start like %s, %s)" % (
                tag, self.images.ab_name_of_bytes(qemutest.ab_area(fl, "primary")),
                self.images.ab_name_of_bytes(qemutest.ab_area(fl, "secondary")))
        rec = qemutest.newest_ab_record(fl)
        # Its install was reported at that boot: its confirmation is due.
        want = (OP_NONE, FLAG_APP_VALID | FLAG_SECONDARY_VALID | FLAG_TRIAL | FLAG_REPORT_TRIAL,
                1, len(nc), crc32(nc), len(v3), crc32(v3))
        if rec is None or (rec["op"], rec["flags"], rec["trials"], rec["app_size"],
                           rec["app_crc"], rec["dl_size"], rec["dl_crc"]) != want:
            return "%s: newest record %r is not noconfirm's first trial over v3" % (tag, rec)
        return None

    def check_trial(self, tag, flash, resumed):
        """The restart after a cut in the install of the never-confirming app
        ends on it (the new app), on trial; QEMU is stopped once it runs."""
        r = self.qemu(flash, self.port, [], name="after-" + tag, board="f405")
        started = r.wait_line(r"^app: not confirming$", RUN_TIMEOUT)
        r.kill()
        r.wait(5)
        if started is None:
            return "%s: the restart did not start the new app\n%s" % (tag, r.describe())
        err = self.trial_settled(tag, flash)
        if err is None and resumed != bool(r.find(r"^boot: resuming the install at step \d+ "
                                                 r"of 6$")):
            err = "%s: resumed %r expected\n%s" % (tag, resumed, r.describe())
        return err

    def check_restart(self, tag, flash, primary, secondary, resumed):
        r = self.run_ab(flash, self.port, [], name="after-" + tag)
        if r.rc != APP_EXIT_BASE + self.version(primary):
            return "%s: restart ended with %r, not %s\n%s" % (tag, r.rc, primary, r.describe())
        fl = read_flash_ab(flash)
        for area, key in (("primary", primary), ("secondary", secondary)):
            img = self.ab(key)
            if qemutest.ab_area(fl, area, len(img)) != img:
                return "%s: the %s does not hold %s (starts like %s)\n%s" % (
                    tag, area, key, self.images.ab_name_of_bytes(qemutest.ab_area(fl, area)),
                    r.describe())
        rec = qemutest.newest_ab_record(fl)
        p = self.ab(primary)
        if rec is None or rec["op"] != OP_NONE or rec["flags"] & FLAG_TRIAL or \
                (rec["app_size"], rec["app_crc"]) != (len(p), crc32(p)):
            return "%s: newest record %r does not describe %s, settled" % (tag, rec, primary)
        # resumed: True, False, or None (not known: not checked)
        if resumed is True and not r.find(r"^boot: resuming the (install|revert) at step \d+ "
                                          r"of 6$"):
            return "%s: the restart did not resume the swap\n%s" % (tag, r.describe())
        if resumed is False and r.find(r"resuming"):
            return "%s: the restart resumed a swap that was not under way\n%s" % (
                tag, r.describe())
        return None

    def cut(self, tag, src, op, ref, check, resumed):
        flash = self.copy_flash(src, tag + ".bin")
        c = self.run_ab(flash, self.port, ["cut=%d" % op["n"], "trace"], name=tag)
        got = c.area_ops()
        if c.rc != EXIT_CUT or not c.find(r"^port: power cut$"):
            return "%s: expected the cut (exit %d), got %r\n%s" % (tag, EXIT_CUT, c.rc,
                                                                  c.describe())
        if len(got) != op["n"] or not all(same_op(a, b) for a, b in zip(got, ref)):
            return "%s: the operations up to the cut differ from the reference\n%s" % (
                tag, c.describe())
        return check(tag, flash, resumed)

    def run_cuts(self, kind, src, ops, check):
        """Cuts every chosen operation of `ops` (the reference run from the
        flash `src`) and checks each restart with check(tag, flash,
        resumed)."""
        head, steps, tail = swap_steps(ops)
        points = cut_points(head, steps, tail)
        # A restart resumes the swap if a step record was complete before the
        # cut and the record that ends the swap was not.
        first_record = next((st["record"]["n"] for st in steps if st["record"]), 0)
        last = tail[0]["n"] if tail else ops[-1]["n"]
        with ThreadPoolExecutor(self.WORKERS) as pool:
            futures = [(tag, pool.submit(self.cut, "%s-%s" % (kind, tag), src, op, ops, check,
                                         first_record < op["n"] <= last))
                       for tag, op in points]
            errors = [f.result(timeout=120) for _, f in futures]
        log("%s: %d cut points: %s" % (kind, len(points), " ".join(t for t, _ in points)))
        return len(points), [e for e in errors if e]

    def figures(self, kind, q, ops, ops_icount, want_erases):
        head, steps, tail = swap_steps(ops)
        total, per_step = swap_figures(ops, head, steps, tail)
        worst = max(per_step)
        itotal, iper = swap_figures(ops_icount, *swap_steps(ops_icount))
        erases = erase_counts(ops)
        log("SWAP %s: %d steps done, %.1f ms guest time (%.1f M guest instructions with "
            "-icount shift=0); worst step %.1f ms (%s sector: erase + copy "
            "of 128 KiB, %.2f M instructions); erases %s"
            % (kind, len(steps), total / 1000, itotal / 1000, worst[0] / 1000, worst[1],
               max(iper)[0] / 1000, " ".join("%s=%d" % kv for kv in sorted(erases.items()))))
        self.assertEqual(erases, want_erases, "%s erases\n%s" % (kind, q.describe()))

    def test_power_cuts(self):
        # The swaps need no server, but the boots after them report: an otad
        # that serves nothing answers each report at once (404), where no
        # server would cost every restart the report's timeout.
        self.port = self.otad().port
        v1, v3, nc = self.ab("v1"), self.ab("v3"), self.ab("noconfirm")
        self.assertGreater(len(v3), AB_SECTOR, "v3 must span two sectors")
        staged = self.flash_ab(app="v1", secondary="v3", install=True, name="staged.bin")
        ref_i, _, ops_i = self.reference(staged, "install")
        self.assertTrue(ref_i.find(r"^boot: installed version 3$"), ref_i.describe())
        staged_nc, reverting, ops_s = self.revert_start()
        ref_r, _, ops_r = self.reference(reverting, "revert")
        self.assertTrue(ref_r.find(r"^boot: reverted to version 3$"), ref_r.describe())
        t0 = time.monotonic()
        counts, errors = [], []
        for kind, src, ops, check in (
                ("install", staged, ops_i,
                 lambda tag, fl, res: self.check_restart(tag, fl, "v3", "v1", res)),
                ("shrink", staged_nc, ops_s, self.check_trial),
                ("revert", reverting, ops_r,
                 lambda tag, fl, res: self.check_restart(tag, fl, "v3", "noconfirm", res))):
            n, err = self.run_cuts(kind, src, ops, check)
            counts.append(n)
            errors += err
        log("%d power cuts (%d in the install v1 -> v3, %d in the install v3 -> noconfirm, "
            "%d in its revert) and restarts in %.1f s"
            % (sum(counts), *counts, time.monotonic() - t0))
        self.assertEqual(errors, [], "\n\n".join(errors))
        self.assertGreaterEqual(sum(counts), 20)

        # Timed with the coarse trace (erases and records only: a line per
        # operation would cost more guest time than a step's copy).
        icount = ["-icount", "shift=0"]
        for kind, src, old in (("install v1 -> v3", staged, v1),
                               ("revert noconfirm -> v3", reverting, nc)):
            tag = kind.split()[0]
            q, _, ops = self.reference(src, tag + "-timed", "trace=coarse")
            _, _, ops_icount = self.reference(src, tag + "-icount", "trace=coarse", icount)
            self.figures("%s (%d -> %d bytes)" % (kind, len(old), len(v3)), q, ops, ops_icount,
                         swap_erases(len(old), len(v3)))


    KILLS = 4

    def check_killed(self, tag, flash, nc):
        """The restart after a SIGKILL ends on v1, settled. Either the
        never-confirming image was installed and reverted (then it is whole
        in the secondary, and remembered), or the restart's one update
        attempt failed before (a request lost while QEMU's chardev was still
        connecting, on a loaded host): then v1 runs and the partial download
        is not claimed valid. Both are whole, verified images; no mix."""
        r = self.run_ab(flash, self.port, [], name="after-" + tag)
        if r.rc != APP_EXIT_BASE + 1:
            return "%s: restart ended with %r, not v1\n%s" % (tag, r.rc, r.describe())
        fl = read_flash_ab(flash)
        rec = qemutest.newest_ab_record(fl)
        v1 = self.ab("v1")
        if qemutest.ab_area(fl, "primary", len(v1)) != v1 or rec is None or \
                rec["op"] != OP_NONE or rec["flags"] & FLAG_TRIAL or \
                (rec["app_size"], rec["app_crc"]) != (len(v1), crc32(v1)):
            return "%s: not settled on v1: %r\n%s" % (tag, rec, r.describe())
        if (rec["rejected_size"], rec["rejected_crc"]) == (len(nc), crc32(nc)):
            if qemutest.ab_area(fl, "secondary", len(nc)) != nc:
                return "%s: reverted, but the secondary does not hold it\n%s" % (
                    tag, r.describe())
            return None
        if rec["flags"] & FLAG_SECONDARY_VALID or not r.find(r"^boot: update failed"):
            return "%s: neither reverted nor a failed attempt: %r\n%s" % (tag, rec,
                                                                         r.describe())
        log("%s: the restart's one update attempt failed (%s); v1 runs" % (
            tag, r.find(r"^ota: .*failed.*")[0].group(0) if r.find(r"^ota: .*failed") else "?"))
        return None

    def test_sigkills(self):
        # SIGKILL (a power cut at a random moment) anywhere from the start of
        # a download of the never-confirming app to the end of its revert;
        # each restart must end on v1, settled, with the flash holding v1 in
        # the primary and the whole never-confirming image in the secondary.
        nc = self.serve_ab("noconfirm")
        d = self.otad()
        self.port = d.port
        base = self.flash_ab(app="v1", name="base.bin")
        ref = self.run_ab(self.copy_flash(base, "ref.bin"), d.port, ["update"], name="ref")
        self.assertAbBooted(ref, "v1")
        t_dl = ref.line_time(r"^ota: downloading version 5")
        hang = ref.line_time(r"^app: not confirming$") - t_dl
        window = ref.line_time(r"^boot: reverted to version 1$") - t_dl
        seed = int(os.environ.get("QEMU_SEED", "0")) or random.randrange(1, 1 << 30)
        rng = random.Random(seed)
        # Half in the download and install, half in the wait for the
        # watchdog and the revert.
        half = self.KILLS // 2
        delays = sorted([rng.uniform(0.05, hang) for _ in range(half)] +
                        [rng.uniform(hang, window) for _ in range(self.KILLS - half)])
        log("SIGKILL delays %s after the download starts (QEMU_SEED=%d; the app started at "
            "%.2f s, the revert ended at %.2f s)" % (["%.2f" % x for x in delays], seed, hang,
                                                     window))

        def kill_run(k, delay):
            tag = "kill%d" % k
            flash = self.copy_flash(base, tag + ".bin")
            q = self.qemu(flash, d.port, ["update"], name=tag, board="f405")
            if q.wait_line(r"^ota: downloading version 5", RUN_TIMEOUT) is None:
                return "%s: no download started\n%s" % (tag, q.describe())
            time.sleep(delay)
            q.kill()
            q.wait(5)
            last = [l for (_, l) in q.lines if l.startswith(("boot:", "ota:", "app:"))][-1:]
            log("%s: SIGKILL %.2f s into the download, after %r" % (tag, delay, last))
            return self.check_killed(tag, flash, nc)

        with ThreadPoolExecutor(self.WORKERS) as pool:
            errors = [f.result(timeout=120) for f in
                      [pool.submit(kill_run, k, x) for k, x in enumerate(delays)]]
        errors = [e for e in errors if e]
        self.assertEqual(errors, [], "\n\n".join(errors))

if __name__ == "__main__":
    qemutest.main()
