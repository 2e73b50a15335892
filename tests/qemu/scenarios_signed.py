#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""QEMU scenarios of signed firmware: the bootloaders built with
OTA_REQUIRE_SIGNATURE=1 and the fixed keys of tests/unit/sign, against the
real otad serving NAME.sig as /NAME/manifest. The manifests are made by
qemutest.sign_manifest with Python's cryptography from the layout in
include/otad/proto.h.

    scenarios_signed.py [Scenario ...]
"""

import os
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
import qemutest  # noqa: E402
from qemutest import APP_BASE, QemuTestCase, crc32, log, read_flash  # noqa: E402
from faultproxy import FaultProxy, block_of  # noqa: E402
import otadtest  # noqa: E402
import scenarios  # noqa: E402

RUN_TIMEOUT = 40


def forge_keeping_crc(data):
    """`data` (a block's 256 bytes) with byte 40 changed and bytes 44..47
    solved for so that its CRC-32 stays the same: the block's CRC and the
    whole image's both check out."""
    out = bytearray(data)
    out[40] ^= 0xA5
    base, want = crc32(bytes(out)), crc32(data)
    cols = []
    for k in range(32):
        t = bytearray(out)
        t[44 + k // 8] ^= 1 << (k % 8)
        cols.append((crc32(bytes(t)) ^ base, 1 << k))
    target, flips = base ^ want, 0
    for bit in range(31, -1, -1):           # Gaussian elimination over GF(2)
        pivot = next((c for c in cols if c[0] >> bit & 1), None)
        if pivot is None:
            continue
        cols = [(v ^ pivot[0], m ^ pivot[1]) if v >> bit & 1 and (v, m) != pivot else (v, m)
                for v, m in cols if (v, m) != pivot]
        if target >> bit & 1:
            target ^= pivot[0]
            flips ^= pivot[1]
    assert target == 0
    for k in range(32):
        if flips >> k & 1:
            out[44 + k // 8] ^= 1 << (k % 8)
    assert crc32(bytes(out)) == want and bytes(out) != data
    return bytes(out)


def rewrite_block(block):
    """An on_response hook: every response to /NAME/block/BLOCK carries other
    bytes with the same CRC (an attacker between device and server)."""
    def hook(path, head, body):
        if block_of(path) != block or len(body) != 260:
            return None
        return head, forge_keeping_crc(body[:256]) + body[256:]
    return hook


class SignedCase(QemuTestCase):
    signed = True


class SignedInstall(SignedCase):
    """A signed v2 installs on a factory-fresh device; its manifest is kept
    after it in flash, and the next boot checks the image against it."""

    def test_signed_v2_installs_and_boots(self):
        v2 = self.serve(2, key="b.key")
        d = self.otad()
        flash = self.flash()
        q = self.run_qemu(flash, d.port, timeout=RUN_TIMEOUT)
        self.assertBooted(q, 2, flash)
        kept = read_flash(flash)[APP_BASE + (len(v2) + 255) // 256 * 256:][:192]
        self.assertEqual(kept, otadtest.read_file(os.path.join(self.dir, "app.sig")))
        log("signed factory-fresh install of v2 (%d bytes): %.2f s" % (len(v2), q.elapsed()))
        q = self.run_qemu(flash, d.port, timeout=RUN_TIMEOUT, name="again")
        self.assertBooted(q, 2, flash)
        self.assertFalse(q.find(r"ota: downloading"), q.describe())


class SignedRewrittenBlock(SignedCase):
    """A proxy rewrites one block keeping its CRC and the image's, with the
    genuine manifest: the device refuses the image and never starts it."""

    def test_rewritten_block_refused(self):
        v2 = self.serve(2)
        block = otadtest.block_count(v2) // 2
        d = self.otad()
        proxy = FaultProxy(d.port, on_response=rewrite_block(block)).start()
        self.addCleanup(proxy.close)
        flash = self.flash()
        q = self.qemu(flash, proxy.port)
        self.assertTrue(q.wait_line(r"ota: version 2 refused: hash mismatch", RUN_TIMEOUT),
                        q.describe())
        q.kill()
        self.assertEqual(proxy.errors, [])
        self.assertIn(block, [block_of(p) for p in proxy.modified])
        self.assertFalse(q.find(r"failed its CRC|crc mismatch"), q.describe())
        self.assertFalse(q.find(r"^app: version|boot: starting application"), q.describe())


class SignedUnsigned(SignedCase):
    """A server without manifests cannot update a device that requires them."""

    def test_unsigned_server_refused(self):
        self.serve(2, key=None)
        d = self.otad()
        flash = self.flash()
        q = self.qemu(flash, d.port)
        self.assertTrue(q.wait_line(r"ota: version 2 has no manifest: not installing it",
                                    RUN_TIMEOUT), q.describe())
        q.kill()
        self.assertFalse(q.find(r"ota: downloading|^app: version"), q.describe())
        self.assertEqual(read_flash(flash)[APP_BASE:APP_BASE + 4096], b"\xff" * 4096)


class SignedPowerCuts(scenarios.PowerCuts):
    """scenarios.py's power cuts, with signatures required: v1 installed with
    its manifest beside it, v2 signed; every cut must end on v1 or v2, and
    the booted image passes the check against its manifest."""

    signed = True


if __name__ == "__main__":
    qemutest.main()
