#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""otaget --pub: the rules of a bootloader that requires signatures, against
the real otad and against a server that lies. Keys and manifests are made
with Python's cryptography (23-signing.py's Key), never by the code under
test. Each refusal exits 1 naming its reason, leaves --out absent and
commits nothing to --flash: the flash's boot state stays as it was.

Environment: as 15-otaget.py."""

import hashlib
import importlib.util
import os

from otadtest import OtadTestCase, crc32, main


def _load(name):
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"),
                                                  os.path.join(here, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


otaget_test = _load("15-otaget")
signing_test = _load("23-signing")
Key = signing_test.Key
FakeServer = otaget_test.FakeServer
image_routes = otaget_test.image_routes
STATE_A = 0x8000  # the simulated F401's boot state: sectors 2 and 3, 16 KiB each
STATE_SIZE = 2 * 16 * 1024


def image(seed, size=5000):
    return hashlib.shake_256(b"otaget image %d" % seed).digest(size)


class OtagetSigned(OtadTestCase):
    # 15-otaget.py's helpers (not its tests: no subclass).
    otaget = otaget_test.Otaget.otaget
    url = otaget_test.Otaget.url
    path = otaget_test.Otaget.path
    read = otaget_test.Otaget.read
    assertInstalled = otaget_test.Otaget.assertInstalled

    def setUp(self):
        super().setUp()
        if not otaget_test.OTAGET:
            self.fail("set OTAGET to the otaget binary")
        self.a, self.b = Key(), Key()
        self.pub_a = self.write("a.pub", self.a.pem, self.tmp)
        self.pub_b = self.write("b.pub", self.b.pem, self.tmp)

    def serve(self, data, version, manifest, name="app"):
        routes = image_routes(name, data, version)
        if manifest is not None:
            routes["/%s/manifest" % name] = manifest
        srv = FakeServer(routes)
        self.addCleanup(srv.close)
        return "http://127.0.0.1:%d/%s" % (srv.port, name), srv

    def flash_with_v1(self):
        """A --flash file with a signed v1 installed (floor 1)."""
        v1 = image(1)
        url, _ = self.serve(v1, 1, self.a.sign("app", 1, v1))
        flash = self.path("flash.bin")
        run = self.otaget(url, "--pub", self.pub_a, "--flash", flash)
        self.assertInstalled(run, "app", v1, 1)
        return flash

    def assertRefused(self, run, reason, flash=None, state_before=None):
        self.assertEqual(run.rc, 5, run)    # verification failed (otaget(1))
        self.assertRegex(run.err, r"otaget: app version \d+ refused: %s\n" % reason)
        self.assertFalse(os.path.exists(self.path("out.bin")), run)
        if flash is not None:
            self.assertEqual(self.read(flash)[STATE_A:STATE_A + STATE_SIZE], state_before)

    def refuse(self, reason, data, version, manifest, pubs=None, flash=True):
        flash = self.flash_with_v1() if flash else None
        before = self.read(flash)[STATE_A:STATE_A + STATE_SIZE] if flash else None
        url, _ = self.serve(data, version, manifest)
        args = [url, "--out", self.path("out.bin"), "--retries", "1"]
        for p in pubs or [self.pub_a]:
            args += ["--pub", p]
        if flash:
            args += ["--flash", flash]
        run = self.otaget(*args)
        self.assertRefused(run, reason, flash, before)
        return run

    def test_signed_image_from_otad_installs(self):
        """The real otad serves NAME.sig as /NAME/manifest."""
        v2 = image(2, 40000)
        self.add_image("app", v2, version=2)
        self.write("app.sig", self.b.sign("app", 2, v2))
        d = self.start()
        out = self.path("out.bin")
        run = self.otaget(self.url(d, "app"), "--pub", self.pub_a, "--pub", self.pub_b,
                          "--out", out)
        self.assertInstalled(run, "app", v2, 2)
        self.assertEqual(self.read(out), v2)

    def test_unsigned_refused_with_keys_taken_without(self):
        v2 = image(2)
        url, srv = self.serve(v2, 2, None)
        run = self.otaget(url, "--pub", self.pub_a, "--out", self.path("out.bin"))
        self.assertEqual(run.rc, 5, run)
        self.assertIn("otaget: app version 2: no manifest on the server (not signed)", run.err)
        self.assertFalse(os.path.exists(self.path("out.bin")))
        run = self.otaget(url)
        self.assertInstalled(run, "app", v2, 2)
        self.assertNotIn("/app/manifest", srv.requests[-3:])

    def test_bad_signature(self):
        v2 = image(2)
        m = bytearray(self.a.sign("app", 2, v2))
        m[150] ^= 0x08
        self.refuse("bad signature", v2, 2, bytes(m))

    def test_unknown_key(self):
        v2 = image(2)
        self.refuse("unknown key", v2, 2, self.b.sign("app", 2, v2))

    def test_wrong_name(self):
        v2 = image(2)
        self.refuse("wrong name", v2, 2, self.a.sign("other", 2, v2))

    def test_truncated_and_oversized(self):
        v2 = image(2)
        m = self.a.sign("app", 2, v2)
        self.refuse("malformed manifest", v2, 2, m[:-1], flash=False)
        self.refuse("malformed manifest", v2, 2, m + b"\0", flash=False)

    def test_downgrade(self):
        """v3 was installed; a validly signed v2 is refused (the floor in
        the --flash file's boot state), whatever --installed-version says."""
        flash = self.flash_with_v1()
        v3 = image(3)
        url, _ = self.serve(v3, 3, self.a.sign("app", 3, v3))
        self.assertInstalled(self.otaget(url, "--pub", self.pub_a, "--flash", flash), "app", v3, 3)
        before = self.read(flash)[STATE_A:STATE_A + STATE_SIZE]
        v2 = image(2)
        url, _ = self.serve(v2, 2, self.a.sign("app", 2, v2))
        run = self.otaget(url, "--pub", self.pub_a, "--flash", flash, "--installed-version", "1",
                          "--out", self.path("out.bin"))
        self.assertRefused(run, "downgrade", flash, before)

    def test_hash_mismatch(self):
        """A block altered with its CRC and the image's CRC kept, the
        genuine manifest: every CRC checks out, the SHA-256 does not."""
        v2 = image(2)
        forged = signing_test.same_crc_other_bytes(v2)
        self.assertEqual(crc32(forged), crc32(v2))
        flash = self.flash_with_v1()
        url, _ = self.serve(forged, 2, self.a.sign("app", 2, v2))
        run = self.otaget(url, "--pub", self.pub_a, "--flash", flash, "--retries", "1",
                          "--out", self.path("out.bin"))
        self.assertEqual(run.rc, 5, run)
        self.assertIn("otaget: app version 2 refused: hash mismatch", run.err)
        self.assertFalse(os.path.exists(self.path("out.bin")))
        # Nothing committed: the next run finds no installed image and the
        # genuine server's v2 installs.
        url, _ = self.serve(v2, 2, self.a.sign("app", 2, v2))
        self.assertInstalled(self.otaget(url, "--pub", self.pub_a, "--flash", flash), "app", v2, 2)

    def test_key_rotation(self):
        v2 = image(2)
        self.refuse("unknown key", v2, 2, self.a.sign("app", 2, v2), pubs=[self.pub_b],
                    flash=False)
        url, _ = self.serve(v2, 2, self.b.sign("app", 2, v2))
        self.assertInstalled(self.otaget(url, "--pub", self.pub_b), "app", v2, 2)

    def test_bad_key_file(self):
        bad = self.write("bad.pub", "not a key\n", self.tmp)
        run = self.otaget("http://127.0.0.1:1/app", "--pub", bad)
        self.assertEqual(run.rc, 1, run)
        self.assertIn("cannot use the key %s: not a P-256 public key" % bad, run.err)


if __name__ == "__main__":
    main()
