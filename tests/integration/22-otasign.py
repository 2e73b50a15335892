#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""otasign, the real binary: keygen, sign and verify, with every manifest it
writes checked by Python's cryptography (parsed with struct as proto.h lays
it out) and manifests made by Python checked by otasign, so the format is
proven by code other than ours. Then what must be refused: a flipped bit, a
replaced .bin, another firmware's manifest, another key, a removed key
after a rotation; and what sign must never leave behind.

Environment: OTASIGN, the otasign binary (falls back to build/otasign of
this checkout). No daemon runs."""

import hashlib
import os
import shutil
import stat
import struct
import subprocess
import tempfile
import threading
import unittest
import zlib

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                                 encode_dss_signature)
except ImportError:  # a failure, not a skip: scripts/deps.sh installs it
    raise SystemExit("22-otasign needs python3-cryptography (scripts/deps.sh)")


def _find_otasign():
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (os.environ.get("OTASIGN", ""),
                 os.path.join(here, "..", "..", "build", "otasign")):
        if path and os.access(path, os.X_OK):
            return os.path.abspath(path)
    return ""


OTASIGN = _find_otasign()
RUN_TIMEOUT = 60  # seconds for one otasign run

# proto.h: six little-endian uint32, key id, name, SHA-256; then r || s.
SIGNED = struct.Struct("<4sIIIII8s64s32s")
assert SIGNED.size == 128


def image_bytes(size, seed):
    """Repeatable bytes that differ with the seed."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d/%d" % (seed, counter)).digest()
        counter += 1
    return bytes(out[:size])


def key_id(pub):
    n = pub.public_numbers()
    return hashlib.sha256(n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")).digest()[:8]


def load_pub(path):
    with open(path, "rb") as f:
        return serialization.load_pem_public_key(f.read())


def load_priv(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def python_manifest(priv, name, version, image):
    """A manifest made without otasign, as proto.h states it."""
    head = SIGNED.pack(b"OTAM", 1, version, len(image), zlib.crc32(image), 0,
                       key_id(priv.public_key()), name.encode(), hashlib.sha256(image).digest())
    r, s = decode_dss_signature(priv.sign(head, ec.ECDSA(hashes.SHA256())))
    return head + r.to_bytes(32, "big") + s.to_bytes(32, "big")


class Run:
    def __init__(self, proc):
        self.rc, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def __repr__(self):
        return "<otasign rc=%r\nstdout:\n%s\nstderr:\n%s>" % (self.rc, self.out, self.err)


class OtasignTest(unittest.TestCase):
    def setUp(self):
        if not OTASIGN:
            self.fail("set OTASIGN to the otasign binary")
        self.tmp = tempfile.mkdtemp(prefix="otasign-it-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.fw = os.path.join(self.tmp, "fw")
        os.mkdir(self.fw)

    def otasign(self, *args):
        return Run(subprocess.run([OTASIGN] + list(args), stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=RUN_TIMEOUT,
                                  cwd=self.tmp))

    def keygen(self, name):
        run = self.otasign("keygen", os.path.join(self.tmp, name))
        self.assertEqual(run.rc, 0, run)
        return os.path.join(self.tmp, name)

    def firmware(self, name, image, version):
        with open(os.path.join(self.fw, name + ".bin"), "wb") as f:
            f.write(image)
        if version is not None:
            with open(os.path.join(self.fw, name + ".txt"), "w") as f:
                f.write("%s\n" % version)
        return os.path.join(self.fw, name + ".bin")

    def sig_path(self, name):
        return os.path.join(self.fw, name + ".sig")

    def read_sig(self, name):
        with open(self.sig_path(name), "rb") as f:
            return f.read()

    def write_sig(self, name, data):
        with open(self.sig_path(name), "wb") as f:
            f.write(data)

    def sign(self, key, bin_path):
        run = self.otasign("sign", "--key", key, bin_path)
        self.assertEqual(run.rc, 0, run)
        return run

    def verify(self, bin_path, *pubs):
        args = ["verify"]
        for p in pubs:
            args += ["--pub", p]
        return self.otasign(*(args + [bin_path]))

    def assertRefused(self, reason, bin_path, *pubs):
        run = self.verify(bin_path, *pubs)
        self.assertEqual(run.rc, 1, run)
        self.assertEqual(run.out, "")
        sig = bin_path[:-4] + ".sig"
        self.assertEqual(run.err, "otasign: %s: %s\n" % (sig, reason))

    def assertVerifies(self, bin_path, signer, *pubs):
        run = self.verify(bin_path, *pubs)
        self.assertEqual(run.rc, 0, run)
        self.assertTrue(run.out.endswith("signed by key %s (%s)\n"
                                         % (key_id(load_pub(signer)).hex(), signer)), run)

    def assertManifest(self, raw, pub_path, name, version, image):
        """Checks @raw with Python alone: every field, then the signature."""
        self.assertEqual(len(raw), 192)
        magic, fmt, ver, size, crc, flags, kid, rawname, digest = SIGNED.unpack(raw[:128])
        self.assertEqual((magic, fmt, flags), (b"OTAM", 1, 0))
        self.assertEqual((ver, size, crc), (version, len(image), zlib.crc32(image)))
        pub = load_pub(pub_path)
        self.assertEqual(kid, key_id(pub))
        self.assertEqual(rawname, name.encode().ljust(64, b"\0"))
        self.assertEqual(digest, hashlib.sha256(image).digest())
        r, s = int.from_bytes(raw[128:160], "big"), int.from_bytes(raw[160:], "big")
        pub.verify(encode_dss_signature(r, s), raw[:128], ec.ECDSA(hashes.SHA256()))

    # --- keygen ---------------------------------------------------------
    def test_keygen_modes_and_no_overwrite(self):
        old = os.umask(0o022)
        try:
            key = self.keygen("k")
        finally:
            os.umask(old)
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(key + ".pub").st_mode), 0o644)
        priv, pub = load_priv(key), load_pub(key + ".pub")
        self.assertIsInstance(priv.curve, ec.SECP256R1)
        self.assertEqual(priv.public_key().public_numbers(), pub.public_numbers())
        with open(key, "rb") as f:
            self.assertTrue(f.read().startswith(b"-----BEGIN PRIVATE KEY-----\n"))
        # Every key, whatever its scalar, is read by Python (RFC 5915's
        # fixed 32 bytes): GnuTLS alone gets half of them wrong.
        for i in range(8):
            k = self.keygen("r%d" % i)
            self.assertEqual(load_priv(k).public_key().public_numbers(),
                             load_pub(k + ".pub").public_numbers())
            os.unlink(k)
            os.unlink(k + ".pub")
        before = {p: open(p, "rb").read() for p in (key, key + ".pub")}
        run = self.otasign("keygen", key)
        self.assertEqual(run.rc, 2, run)
        self.assertIn("exists", run.err)
        self.assertEqual({p: open(p, "rb").read() for p in before}, before)
        # KEY.pub alone is enough to refuse, and KEY is then not created.
        os.unlink(key)
        self.assertEqual(self.otasign("keygen", key).rc, 2)
        self.assertFalse(os.path.exists(key))
        self.assertEqual(sorted(os.listdir(self.tmp)), ["fw", "k.pub"])

    # --- sign and verify, both ways -------------------------------------
    def test_sign_checked_by_python(self):
        key = self.keygen("k")
        image = image_bytes(100003, 1)
        bin_path = self.firmware("sensor", image, 42)
        run = self.sign(key, bin_path)
        self.assertEqual(run.out, "%s: sensor version 42, 100003 bytes, key %s\n"
                         % (self.sig_path("sensor"), key_id(load_pub(key + ".pub")).hex()))
        self.assertManifest(self.read_sig("sensor"), key + ".pub", "sensor", 42, image)
        self.assertEqual(stat.S_IMODE(os.stat(self.sig_path("sensor")).st_mode), 0o644)
        self.assertEqual(sorted(os.listdir(self.fw)), ["sensor.bin", "sensor.sig", "sensor.txt"])
        self.assertVerifies(bin_path, key + ".pub", key + ".pub")
        # Python's own signature must break under a flipped bit: the check
        # above would otherwise prove nothing.
        raw = bytearray(self.read_sig("sensor"))
        raw[8] ^= 1
        with self.assertRaises(InvalidSignature):
            self.assertManifest(bytes(raw), key + ".pub", "sensor", 43, image)

    def test_python_manifest_checked_by_otasign(self):
        key = self.keygen("k")
        image = image_bytes(5000, 2)
        bin_path = self.firmware("app", image, 7)
        self.write_sig("app", python_manifest(load_priv(key), "app", 7, image))
        self.assertVerifies(bin_path, key + ".pub", key + ".pub")
        self.write_sig("app", python_manifest(load_priv(key), "app", 8, image))
        self.assertRefused("version mismatch", bin_path, key + ".pub")

    def test_keys_from_openssl(self):
        """A SEC 1 private key and its public key made by OpenSSL."""
        key = os.path.join(self.tmp, "ossl.key")
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                        "-out", key], check=True, capture_output=True, timeout=RUN_TIMEOUT)
        subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", key + ".pub"],
                       check=True, capture_output=True, timeout=RUN_TIMEOUT)
        image = image_bytes(300, 3)
        bin_path = self.firmware("app", image, 1)
        self.sign(key, bin_path)
        self.assertManifest(self.read_sig("app"), key + ".pub", "app", 1, image)
        self.assertVerifies(bin_path, key + ".pub", key + ".pub")
        rsa = os.path.join(self.tmp, "rsa.key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:1024", "-out", rsa], check=True, capture_output=True,
                       timeout=RUN_TIMEOUT)
        subprocess.run(["openssl", "pkey", "-in", rsa, "-pubout", "-out", rsa + ".pub"],
                       check=True, capture_output=True, timeout=RUN_TIMEOUT)
        before = self.read_sig("app")
        run = self.otasign("sign", "--key", rsa, bin_path)
        self.assertEqual(run.rc, 2, run)
        self.assertIn("not a P-256 private key", run.err)
        self.assertEqual(self.read_sig("app"), before)
        run = self.otasign("verify", "--pub", rsa + ".pub", bin_path)
        self.assertEqual(run.rc, 2, run)
        self.assertIn("not a P-256 public key", run.err)

    def test_name_and_version_rules(self):
        key = self.keygen("k")
        image = image_bytes(1000, 4)
        # The name is the file name without .bin in any case; NAME.txt goes with it.
        bin_path = self.firmware("Fw", image, None)
        os.rename(bin_path, os.path.join(self.fw, "Fw.BIN"))
        bin_path = os.path.join(self.fw, "Fw.BIN")
        with open(os.path.join(self.fw, "Fw.txt"), "w") as f:
            f.write(" 4294967295 \n")
        self.sign(key, bin_path)
        self.assertManifest(self.read_sig("Fw"), key + ".pub", "Fw", 4294967295, image)
        # Missing or invalid NAME.txt: version 1, as otad uses, and said.
        for content in (None, "v2\n", "4294967296\n"):
            txt = os.path.join(self.fw, "Fw.txt")
            if content is None:
                os.unlink(txt)
            else:
                with open(txt, "w") as f:
                    f.write(content)
            run = self.sign(key, bin_path)
            self.assertIn("version 1, as otad uses", run.err)
            self.assertManifest(self.read_sig("Fw"), key + ".pub", "Fw", 1, image)
        # verify reads the version by the same rules, and keeps to one line.
        self.assertVerifies(bin_path, key + ".pub", key + ".pub")
        with open(os.path.join(self.fw, "Fw.txt"), "w") as f:
            f.write("2\n")
        self.assertRefused("version mismatch", bin_path, key + ".pub")
        with open(os.path.join(self.fw, "Fw.txt"), "w") as f:
            f.write("1\n")
        self.assertVerifies(bin_path, key + ".pub", key + ".pub")
        # 64 bytes of name is the most.
        self.sign(key, self.firmware("n" * 64, image, 5))
        self.assertManifest(self.read_sig("n" * 64), key + ".pub", "n" * 64, 5, image)
        for bad in ("n" * 65 + ".bin", "fw.img", ".hidden.bin", "a\nb.bin", "\xe9t\xe9.bin"):
            path = os.path.join(self.fw, bad)
            with open(path, "wb") as f:
                f.write(image)
            if bad.startswith("\xe9"):
                path = os.fsencode(self.fw) + b"/\xe9t\xe9.bin"
                os.rename(os.path.join(self.fw, bad), path)
            run = Run(subprocess.run([os.fsencode(OTASIGN), b"sign", b"--key", os.fsencode(key),
                                      os.fsencode(path)], capture_output=True, text=True,
                                     timeout=RUN_TIMEOUT))
            self.assertEqual(run.rc, 2, (bad, run))
            self.assertFalse(os.path.exists(os.fsdecode(path)[:-4] + ".sig"), bad)
        # UTF-8 names are names.
        self.sign(key, self.firmware("capteur-été", image, 3))
        self.assertManifest(self.read_sig("capteur-été"), key + ".pub", "capteur-été", 3, image)

    # --- what verify refuses ----------------------------------------------
    def test_flipped_bits(self):
        key = self.keygen("k")
        bin_path = self.firmware("app", image_bytes(4096, 5), 9)
        self.sign(key, bin_path)
        good = self.read_sig("app")
        cases = [(8, "bad signature"), (12, "bad signature"), (16, "bad signature"),
                 (33, "bad signature"), (100, "bad signature"), (130, "bad signature"),
                 (191, "bad signature"), (0, "malformed manifest"), (4, "malformed manifest"),
                 (21, "malformed manifest"), (24, "unknown key"), (31, "unknown key")]
        for off, reason in cases:
            raw = bytearray(good)
            raw[off] ^= 0x10
            self.write_sig("app", bytes(raw))
            self.assertRefused(reason, bin_path, key + ".pub")
        for raw in (good[:191], good + b"\0", b""):
            self.write_sig("app", raw)
            self.assertRefused("malformed manifest", bin_path, key + ".pub")
        self.write_sig("app", good)
        self.assertVerifies(bin_path, key + ".pub", key + ".pub")

    def test_firmware_changed_after_signing(self):
        key = self.keygen("k")
        image = image_bytes(4096, 6)
        bin_path = self.firmware("app", image, 9)
        self.sign(key, bin_path)
        self.firmware("app", image_bytes(4096, 7), None)
        self.assertRefused("CRC-32 mismatch", bin_path, key + ".pub")
        self.firmware("app", image + b"x", None)
        self.assertRefused("size mismatch", bin_path, key + ".pub")
        self.firmware("app", image, 10)
        self.assertRefused("version mismatch", bin_path, key + ".pub")
        self.firmware("app", image, 9)
        self.assertVerifies(bin_path, key + ".pub", key + ".pub")
        # Another firmware's genuine manifest.
        other = self.firmware("other", image, 9)
        shutil.copyfile(self.sig_path("app"), self.sig_path("other"))
        self.assertRefused("manifest names another firmware", other, key + ".pub")

    def test_same_crc_other_bytes(self):
        """Only the SHA-256 tells two images with one CRC-32 apart: four
        bytes appended to an image make its CRC anything chosen, here the
        CRC of the signed image, so an attacker's image passes the CRC."""
        key = self.keygen("k")
        image = image_bytes(4096, 8)
        bin_path = self.firmware("app", image, 9)
        self.sign(key, bin_path)
        forged = forge_crc(image_bytes(4092, 9), zlib.crc32(image))
        self.assertEqual((len(forged), zlib.crc32(forged)), (len(image), zlib.crc32(image)))
        self.firmware("app", forged, None)
        self.assertRefused("SHA-256 mismatch", bin_path, key + ".pub")

    def test_rotation(self):
        old, new, gone = self.keygen("old"), self.keygen("new"), self.keygen("gone")
        bin_path = self.firmware("app", image_bytes(2000, 10), 3)
        self.sign(new, bin_path)
        self.assertVerifies(bin_path, new + ".pub", old + ".pub", new + ".pub")
        self.assertVerifies(bin_path, new + ".pub", new + ".pub", old + ".pub")
        self.assertRefused("unknown key", bin_path, old + ".pub")
        self.sign(old, bin_path)
        self.assertVerifies(bin_path, old + ".pub", old + ".pub", new + ".pub")
        self.assertRefused("unknown key", bin_path, new + ".pub")
        # A key removed from the trusted set no longer counts.
        self.sign(gone, bin_path)
        self.assertRefused("unknown key", bin_path, old + ".pub", new + ".pub")
        run = self.verify(bin_path, *([old + ".pub"] * 17))
        self.assertEqual(run.rc, 2, run)

    # --- what sign leaves behind --------------------------------------------
    def test_failed_sign_leaves_nothing(self):
        key = self.keygen("k")
        bin_path = self.firmware("app", image_bytes(1000, 11), 2)
        for args in (["--key", os.path.join(self.tmp, "missing")], ["--key", key + ".pub"]):
            run = self.otasign(*(["sign"] + args + [bin_path]))
            self.assertEqual(run.rc, 2, run)
            self.assertEqual(sorted(os.listdir(self.fw)), ["app.bin", "app.txt"])
        # The rename itself fails: NAME.sig is a directory. The temporary
        # file, already written and synced, must go.
        os.mkdir(self.sig_path("app"))
        run = self.otasign("sign", "--key", key, bin_path)
        self.assertEqual(run.rc, 2, run)
        self.assertEqual(sorted(os.listdir(self.fw)), ["app.bin", "app.sig", "app.txt"])
        self.assertEqual(os.listdir(self.sig_path("app")), [])
        os.rmdir(self.sig_path("app"))
        # A failed sign keeps the previous NAME.sig as it was.
        self.sign(key, bin_path)
        before = self.read_sig("app")
        run = self.otasign("sign", "--key", os.path.join(self.tmp, "missing"), bin_path)
        self.assertEqual(run.rc, 2, run)
        self.assertEqual(self.read_sig("app"), before)
        # Empty image, missing image, missing directory: usage errors.
        empty = self.firmware("empty", b"", 1)
        for path in (empty, os.path.join(self.fw, "none.bin"),
                     os.path.join(self.tmp, "nodir", "app.bin")):
            run = self.otasign("sign", "--key", key, path)
            self.assertEqual(run.rc, 2, run)
        self.assertEqual(sorted(os.listdir(self.fw)),
                         ["app.bin", "app.sig", "app.txt", "empty.bin", "empty.txt"])

    def test_readers_never_see_a_partial_manifest(self):
        """While sign replaces NAME.sig again and again, every read of it is
        a whole manifest that Python verifies."""
        key = self.keygen("k")
        image = image_bytes(1000, 12)
        bin_path = self.firmware("app", image, 4)
        self.sign(key, bin_path)
        stop, seen, bad = threading.Event(), [0], []

        def reader():
            while not stop.is_set():
                raw = self.read_sig("app")
                try:
                    self.assertManifest(raw, key + ".pub", "app", 4, image)
                except Exception as e:  # noqa: BLE001 - any failure counts
                    bad.append(repr(e))
                seen[0] += 1

        t = threading.Thread(target=reader)
        t.start()
        try:
            for _ in range(30):
                self.sign(key, bin_path)
        finally:
            stop.set()
            t.join(RUN_TIMEOUT)
        self.assertFalse(t.is_alive())
        self.assertEqual(bad, [])
        self.assertGreater(seen[0], 30)
        self.assertEqual(sorted(os.listdir(self.fw)), ["app.bin", "app.sig", "app.txt"])

    def test_usage(self):
        key = self.keygen("k")
        bin_path = self.firmware("app", image_bytes(100, 13), 1)
        for args in ([], ["sign"], ["sign", bin_path], ["sign", "--key", key],
                     ["sign", "--key", key, "--key", key, bin_path],
                     ["sign", "--key", key, bin_path, bin_path], ["verify", bin_path],
                     ["verify", "--key", key, bin_path], ["keygen"], ["keygen", "a", "b"],
                     ["frobnicate"], ["--help", "x"]):
            run = self.otasign(*args)
            self.assertEqual(run.rc, 2, (args, run))
            self.assertIn("usage:", run.err, args)
        # No NAME.sig: unreadable, not "does not verify".
        run = self.otasign("verify", "--pub", key + ".pub", bin_path)
        self.assertEqual(run.rc, 2, run)
        self.assertIn("app.sig: No such file", run.err)
        self.assertEqual(self.otasign("--help").rc, 0)
        self.assertTrue(self.otasign("--version").out.startswith("otasign "))


def forge_crc(data, target):
    """@data plus four bytes whose CRC-32 is @target (CRC-32 is linear)."""
    # The CRC of data + x for a 4-byte x is an affine function of x over
    # GF(2): solve for x bit by bit from the images of the 32 unit vectors.
    base = zlib.crc32(data + b"\0\0\0\0")
    cols = [zlib.crc32(data + (1 << i).to_bytes(4, "little")) ^ base for i in range(32)]
    want = base ^ target
    rows = [(cols[i], 1 << i) for i in range(32)]
    x = 0
    for bit in range(32):
        pivot = next((j for j in range(bit, 32) if rows[j][0] >> bit & 1), None)
        if pivot is None:
            raise ValueError("CRC matrix is singular")
        rows[bit], rows[pivot] = rows[pivot], rows[bit]
        for j in range(32):
            if j != bit and rows[j][0] >> bit & 1:
                rows[j] = (rows[j][0] ^ rows[bit][0], rows[j][1] ^ rows[bit][1])
    for bit in range(32):
        if want >> bit & 1:
            x ^= rows[bit][1]
    return data + x.to_bytes(4, "little")


if __name__ == "__main__":
    unittest.main(verbosity=2)
