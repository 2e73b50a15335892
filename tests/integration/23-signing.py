#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Signed firmware in otad: signing.keys and signing.require, NAME.sig
verified at load, GET /NAME/manifest, the listing's key ids.

Keys and manifests are made here with Python's cryptography, following the
layout of include/otad/proto.h (otad(8), SIGNED MANIFEST), not with otasign:
the daemon is checked against a signer written apart from it. Every expected
value (key ids, bytes, ETags, headers) is computed here.
"""

import hashlib
import os
import re
import struct
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from otadtest import (OtadTestCase, crc32, etag_of, listing_json, main, make_block,
                      make_header, poll, publish, run_otad)

SETTLE_MS = 50
MANIFEST_SIZE = 192


class Key:
    """A P-256 key pair, its public key as PEM and its 8-byte key id."""

    def __init__(self):
        self.private = ec.generate_private_key(ec.SECP256R1())
        pub = self.private.public_key()
        self.pem = pub.public_bytes(serialization.Encoding.PEM,
                                    serialization.PublicFormat.SubjectPublicKeyInfo)
        n = pub.public_numbers()
        point = n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")
        self.id = hashlib.sha256(point).digest()[:8]

    def sign(self, name, version, image):
        """The 192-byte manifest of `image` as firmware `name`, version `version`."""
        signed = (struct.pack("<4sIIIII", b"OTAM", 1, version, len(image), crc32(image), 0)
                  + self.id + name.encode().ljust(64, b"\0") + hashlib.sha256(image).digest())
        assert len(signed) == 128
        r, s = utils.decode_dss_signature(self.private.sign(signed, ec.ECDSA(hashes.SHA256())))
        return signed + r.to_bytes(32, "big") + s.to_bytes(32, "big")


def same_crc_other_bytes(data):
    """Other bytes of the same size and the same CRC-32 as `data`: the last
    four bytes are solved for, so that only the SHA-256 tells them apart
    (what an attacker who fixes block CRCs serves)."""
    changed = bytearray(data)
    changed[0] ^= 0x5A
    want = crc32(data)
    # CRC-32 is affine over GF(2): flipping bit k of the tail flips a fixed
    # set of CRC bits, whatever the rest. Solve for the flips that give `want`.
    base = crc32(bytes(changed))
    cols = []
    for k in range(32):
        t = bytearray(changed)
        t[len(t) - 4 + k // 8] ^= 1 << (k % 8)
        cols.append(crc32(bytes(t)) ^ base)
    rows = [(cols[k], 1 << k) for k in range(32)]
    target, pivots = base ^ want, []
    for bit in range(32):
        for i, (v, m) in enumerate(rows):
            if v >> bit & 1:
                rows.pop(i)
                rows = [(v2 ^ v, m2 ^ m) if v2 >> bit & 1 else (v2, m2) for v2, m2 in rows]
                pivots = [(pv ^ v, pm ^ m) if pv >> bit & 1 else (pv, pm) for pv, pm in pivots]
                pivots.append((v, m))
                break
    flips = 0
    for v, m in pivots:
        if target & (v & -v):
            target ^= v
            flips ^= m
    assert target == 0
    for k in range(32):
        if flips >> k & 1:
            changed[len(changed) - 4 + k // 8] ^= 1 << (k % 8)
    out = bytes(changed)
    assert len(out) == len(data) and crc32(out) == want and out != data
    return out


def image(seed, size=3000):
    return hashlib.shake_256(b"image %d" % seed).digest(size)


class Signing(OtadTestCase):
    def key_file(self, key, name):
        return self.write(name, key.pem, self.tmp)

    def signing(self, keys, require=False, extra=""):
        paths = ", ".join(self.key_file(k, "key%d.pub" % i) for i, k in enumerate(keys))
        return ("settle_ms: %d\n%ssigning: {keys: [%s], require: %s}\n"
                % (SETTLE_MS, extra, paths, "true" if require else "false"))

    def add_signed(self, key, name, data, version, sig_name=None, sig_version=None):
        self.add_image(name, data, version)
        sig = key.sign(sig_name or name, version if sig_version is None else sig_version, data)
        self.write(name + ".sig", sig)
        return sig

    def assertServes(self, d, name, data, version):
        r = d.get("/%s/header" % name)
        self.assertEqual(r.status, 200, d.stderr())
        self.assertEqual(r.body, make_header(data, version))

    def assertRefused(self, d, name, file, reason, loaded_before=False):
        """NAME is not served (or still its old image), and exactly one
        warning names `file` and `reason`."""
        line = re.compile(r"^warning: %s: %s; %s$"
                          % (re.escape(file), re.escape(reason),
                             "still serving the image loaded before" if loaded_before
                             else "skipped"), re.M)
        self.assertTrue(poll(lambda: line.search(d.stderr())), d.stderr())
        time.sleep(4 * SETTLE_MS / 1000.0)      # any second warning would be there by now
        self.assertEqual(len(line.findall(d.stderr())), 1, d.stderr())
        if not loaded_before:
            self.assertEqual(d.get("/%s/header" % name).status, 404)

    def test_signed_firmware_served_and_listed(self):
        a = Key()
        data = image(1)
        sig = self.add_signed(a, "app", data, 3)
        self.add_image("plain", image(2), 1)
        d = self.start(self.signing([a]))
        self.assertServes(d, "app", data, 3)
        self.assertServes(d, "plain", image(2), 1)
        r = d.get("/app/manifest")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, sig)
        self.assertEqual(r.header("Content-Length"), "192")
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")
        self.assertEqual(r.header("ETag"), etag_of(data))
        r = d.get("/app/manifest", method="HEAD")
        self.assertEqual((r.status, r.body, r.header("Content-Length")), (200, b"", "192"))
        self.assertEqual(d.get("/plain/manifest").status, 404)
        self.assertEqual(d.get("/nothing/manifest").status, 404)
        items = listing_json(d)
        self.assertEqual((items["app"]["signed"], items["app"]["key_id"]),
                         (True, a.id.hex()))
        self.assertEqual((items["plain"]["signed"], items["plain"]["key_id"]), (False, None))
        text = d.get("/firmwares").body.decode()
        self.assertIn("app\n  version: 3 (from app.txt)\n  signed: yes, key %s\n" % a.id.hex(),
                      text)
        self.assertIn("plain\n  version: 1 (from plain.txt)\n  signed: no\n", text)

    def test_without_keys_served_unverified(self):
        """No signing section: NAME.sig is served as it is, whoever signed it."""
        data = image(3)
        sig = self.add_signed(Key(), "app", data, 3, sig_version=9)   # would not verify
        d = self.start("settle_ms: %d\n" % SETTLE_MS)
        self.assertServes(d, "app", data, 3)
        self.assertEqual(d.get("/app/manifest").body, sig)
        item = listing_json(d)["app"]
        self.assertEqual((item["signed"], item["key_id"]), (True, None))

    def test_replaced_bin_with_old_sig_keeps_old_generation(self):
        a = Key()
        old = image(4)
        self.add_signed(a, "app", old, 3)
        d = self.start(self.signing([a]))
        pinned = d.conn()
        self.addCleanup(pinned.close)
        self.assertEqual(pinned.request("/app/header").body, make_header(old, 3))
        new = same_crc_other_bytes(old)
        publish(self.dir, "app", new)
        self.assertRefused(d, "app", "app.sig", "SHA-256 mismatch", loaded_before=True)
        # Fresh and pinned connections both get the old image, header and blocks.
        self.assertServes(d, "app", old, 3)
        for c in (pinned, d.conn()):
            for n in (0, 5, 11):
                self.assertEqual(c.request("/app/block/%d" % n).body, make_block(old, n))
        # A size change is caught too, and once signed the new image goes out.
        bigger = old + b"x"
        publish(self.dir, "app", bigger)
        self.assertRefused(d, "app", "app.sig", "size mismatch", loaded_before=True)
        self.assertServes(d, "app", old, 3)
        sig = a.sign("app", 3, bigger)
        publish(self.dir, "app", sig, suffix=".sig")
        self.assertTrue(poll(lambda: d.get("/app/header").body == make_header(bigger, 3)),
                        d.stderr())
        self.assertEqual(d.get("/app/manifest").body, sig)
        # The version in NAME.txt is bound too.
        self.write("app.txt", "4\n")
        self.assertRefused(d, "app", "app.sig", "version mismatch", loaded_before=True)
        self.assertServes(d, "app", bigger, 3)

    def test_bad_manifests_not_published(self):
        a, stranger = Key(), Key()
        self.add_signed(a, "good", image(5), 2)
        self.add_signed(a, "other", image(6), 2, sig_name="good")
        self.add_signed(stranger, "unknown", image(7), 2)
        flipped = bytearray(a.sign("flipped", 2, image(8)))
        flipped[150] ^= 0x04
        self.add_image("flipped", image(8), 2)
        self.write("flipped.sig", bytes(flipped))
        whole = a.sign("short", 2, image(9))
        self.add_image("short", image(9), 2)
        self.write("short.sig", whole[:191])
        self.add_image("long", image(10), 2)
        self.write("long.sig", a.sign("long", 2, image(10)) + b"\0")
        d = self.start(self.signing([a]))
        self.assertServes(d, "good", image(5), 2)
        self.assertRefused(d, "other", "other.sig", "manifest names another firmware")
        self.assertRefused(d, "unknown", "unknown.sig", "unknown key")
        self.assertRefused(d, "flipped", "flipped.sig", "bad signature")
        self.assertRefused(d, "short", "short.sig", "truncated manifest: 191 bytes, not 192")
        self.assertRefused(d, "long", "long.sig", "oversized manifest: more than 192 bytes")
        self.assertEqual(sorted(listing_json(d)), ["good"])

    def test_require_refuses_unsigned(self):
        a = Key()
        self.add_signed(a, "app", image(11), 1)
        self.add_image("plain", image(12), 1)
        d = self.start(self.signing([a], require=True))
        self.assertServes(d, "app", image(11), 1)
        self.assertRefused(d, "plain", "plain.bin", "unsigned, and signing.require is true")
        # Signed later, it is published.
        self.write("plain.sig", a.sign("plain", 1, image(12)))
        self.assertTrue(poll(lambda: d.get("/plain/header").status == 200), d.stderr())

    def test_key_rotation(self):
        a, b = Key(), Key()
        self.add_signed(a, "old", image(13), 1)
        self.add_signed(b, "new", image(14), 1)
        d = self.start(self.signing([a, b]))
        self.assertServes(d, "old", image(13), 1)
        self.assertServes(d, "new", image(14), 1)
        items = listing_json(d)
        self.assertEqual(items["old"]["key_id"], a.id.hex())
        self.assertEqual(items["new"]["key_id"], b.id.hex())
        self.assertEqual(d.stop()[0], 0)
        # Key a removed from the configuration: what it signed is refused.
        d = self.start(self.signing([b]))
        self.assertServes(d, "new", image(14), 1)
        self.assertRefused(d, "old", "old.sig", "unknown key")

    def test_pinned_connection_gets_its_manifest_after_swap(self):
        a = Key()
        v1, v2 = image(15), image(16, 2000)
        sig1 = self.add_signed(a, "app", v1, 1)
        d = self.start(self.signing([a], extra="retain_seconds: 60\n"))
        pinned = d.conn()
        self.addCleanup(pinned.close)
        self.assertEqual(pinned.request("/app/header").body, make_header(v1, 1))
        # The three files within one settle time: picked up together.
        sig2 = a.sign("app", 2, v2)
        publish(self.dir, "app", v2)
        publish(self.dir, "app", b"2\n", suffix=".txt")
        publish(self.dir, "app", sig2, suffix=".sig")
        self.assertTrue(poll(lambda: d.get("/app/header").body == make_header(v2, 2)),
                        d.stderr())
        self.assertEqual(pinned.request("/app/manifest").body, sig1)
        self.assertEqual(pinned.request("/app/block/0").body, make_block(v1, 0))
        fresh = d.conn()
        self.addCleanup(fresh.close)
        self.assertEqual(fresh.request("/app/manifest").body, sig2)
        self.assertEqual(fresh.request("/app/manifest",
                                       headers=[("If-Match", etag_of(v1))]).body, sig1)
        self.assertNotIn("warning: app.", d.stderr())

    def test_bad_key_files_are_configuration_errors(self):
        self.add_image("app", image(17), 1)
        missing = os.path.join(self.tmp, "missing.pub")
        garbage = self.write("garbage.pub", "-----BEGIN PUBLIC KEY-----\nAAAA\n", self.tmp)
        p384 = self.write("p384.pub", ec.generate_private_key(ec.SECP384R1()).public_key()
                          .public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo),
                          self.tmp)
        for path, why in ((missing, "No such file or directory"),
                          (garbage, "not a P-256 public key in PEM"),
                          (p384, "not a P-256 public key in PEM")):
            cfg = self.config("signing: {keys: [%s]}\n" % path)
            r = run_otad(["--config", cfg, "--firmware-dir", self.dir, "--check-config"])
            self.assertEqual(r.returncode, 78, r.stderr)
            self.assertIn("otad: signing.keys: %s: %s" % (path, why), r.stderr.decode())
        cfg = self.config("signing: {require: true}\n")
        r = run_otad(["--config", cfg, "--firmware-dir", self.dir, "--check-config"])
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("signing.require: true needs signing.keys", r.stderr.decode())


if __name__ == "__main__":
    main()
