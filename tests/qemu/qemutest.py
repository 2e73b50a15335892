# SPDX-License-Identifier: MIT
"""The QEMU end-to-end runner: the reference bootloader (firmware/core and the
qemu-mps2 port) in qemu-system-arm's mps2-an386, talking HTTP to the real otad
over an emulated UART, updating its application in emulated flash (a host
file written through by semihosting).

Everything runs on 127.0.0.1 with ephemeral ports. Every QEMU and otad process
is started here, stopped by its PID, and dies with the test process (prctl
PDEATHSIG); every wait has a deadline. Expected bytes come from the image
files and Python's zlib, never from the code under test.

Environment:
  OTAD        absolute path of the otad binary (required)
  QEMU_BUILD  where the port's images are built (make BUILD=...); default a
              directory under the system's temp dir
  FIRMWARE    the project's firmware/ directory (default: ../../firmware)
  QEMU        the qemu-system-arm to use (default: from PATH)
  QEMU_SEED   seed of the random SIGKILL moments of the power-cut scenario
              (default: a new one, printed)

Two boards: f401 (boot.elf, 512 KiB single-slot flash file; scenarios.py)
and f405 (boot-f405.elf, 1 MiB dual-slot file; scenarios_ab.py).

Run one scenario by hand (from tests/qemu/):
  OTAD=$PWD/../../build/otad ./scenarios.py PowerCuts
  OTAD=$PWD/../../build/otad ./scenarios_ab.py AbPowerCuts
"""

import fcntl
import hashlib
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import otadtest  # noqa: E402  (the otad helpers of the integration tests)

SKIP = 77
FIRMWARE = os.path.abspath(os.environ.get("FIRMWARE", os.path.join(HERE, "..", "..", "firmware")))
PORT_DIR = os.path.join(FIRMWARE, "port", "qemu-mps2")
QEMU = os.environ.get("QEMU", "") or shutil.which("qemu-system-arm") or ""
QEMU_BUILD = os.path.abspath(os.environ.get("QEMU_BUILD", "")
                             or os.path.join(tempfile.gettempdir(), "otad-qemu-images"))

APP_BASE = 0x10000          # the application area in the emulated flash
FLASH_SIZE = 512 * 1024
STATE_MAGIC = b"OTAS"
FLAG_APP_VALID, FLAG_UPDATE_REQUESTED, FLAG_DOWNLOADING = 1, 2, 4
EXIT_CUT, EXIT_FLASH_VIOLATION, EXIT_NOTHING, EXIT_FAULT = 99, 3, 4, 5
APP_EXIT_BASE = 100         # the demo app exits 100 + its version

TRACE_ERASE = re.compile(r"flash op (\d+): erase sector (\d+)")
TRACE_PROGRAM = re.compile(r"flash op (\d+): program (0x[0-9a-fA-F]+|\d+) (\d+)")
# The same lines name the area, the offset in it and the guest time (us).
TRACE_AREA = re.compile(r"flash op (\d+): (erase) sector \d+ \(([a-z-]+) \+0x([0-9a-f]+)\) "
                        r"t=(\d+)|flash op (\d+): (program) 0x[0-9a-f]+ (\d+) \(([a-z-]+) "
                        r"\+0x([0-9a-f]+)\) t=(\d+)")

# The f405 board's dual-slot map (firmware/port/f4_layouts.h), from offset 0
# of its 1 MiB flash file: the expected places, independently of the port.
AB_FLASH_SIZE = 1024 * 1024
AB_SECTOR = 128 * 1024
AB_AREAS = {"state-a": (0x8000, 16 * 1024), "state-b": (0xC000, 16 * 1024),
            "primary": (0x20000, 3 * AB_SECTOR), "secondary": (0x80000, 3 * AB_SECTOR),
            "scratch": (0xE0000, AB_SECTOR)}
AB_MAGIC = 0x4241544F                      # "OTAB"
AB_RECORD = 64
AB_RECORDS_AREA = 4096                     # records first, then the download bitmap
FLAG_SECONDARY_VALID, FLAG_TRIAL = 8, 16
# Bits 8-9 of the flags: a report a later boot sends (firmware/core/ota_state.h).
FLAG_REPORT_INSTALLED, FLAG_REPORT_TRIAL, FLAG_REPORT_REVERTED = 0x100, 0x200, 0x300
# The QEMU port's X-Device-Id (mps2-an386 has no unique ID; PORTING.md).
QEMU_DEVICE_ID = "a38600000000000000000001"
# otad's line for an accepted report (otad(8), FLEET).
REPORT_LINE = re.compile(r"^info: report (\S+) (\S+) (\S+) status=(\S+) version=(\d+)"
                         r"(?: reason=(\S+))?$", re.M)
OP_NONE, OP_INSTALL, OP_REVERT = 0, 1, 2
# The demo's f405 builds: name -> (file, version)
AB_APPS = {"v1": ("app-ab-v1.bin", 1), "v2": ("app-ab-v2.bin", 2), "v3": ("app-ab-v3.bin", 3),
           "noconfirm": ("app-ab-noconfirm.bin", 5), "crash": ("app-ab-crash.bin", 6)}


def crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def log(msg):
    print(msg, flush=True)


def skip_if_unavailable():
    """Exit 77 (meson's "skipped") when the tools are missing."""
    missing = [t for t, ok in (("qemu-system-arm", bool(QEMU) and os.access(QEMU, os.X_OK)),
                               ("arm-none-eabi-gcc", shutil.which("arm-none-eabi-gcc")),
                               ("make", shutil.which("make"))) if not ok]
    if missing:
        print("skipped: %s not found" % ", ".join(missing))
        sys.exit(SKIP)


# --------------------------------------------------------------------------
# Images: built once per test run (make is incremental; a lock keeps
# concurrent test processes from building at the same time).

class Images:
    def __init__(self, build):
        self.build = build
        self.boot_elf = os.path.join(build, "boot.elf")
        self.boot_f405_elf = os.path.join(build, "boot-f405.elf")
        self.mkflash = os.path.join(PORT_DIR, "mkflash.py")
        self.path = {}
        self.data = {}
        for v, name in ((1, "app-v1.bin"), (2, "app-v2.bin"), (3, "app-v3.bin"),
                        (4, "app-big.bin")):
            self.path[v] = os.path.join(build, name)
            self.data[v] = otadtest.read_file(self.path[v])
        self.ab_path, self.ab_data, self.ab_version = {}, {}, {}
        for key, (name, version) in AB_APPS.items():
            self.ab_path[key] = os.path.join(build, name)
            self.ab_data[key] = otadtest.read_file(self.ab_path[key])
            self.ab_version[key] = version

    def ab_name_of_bytes(self, area):
        """The f405 app whose image `area` starts with (None if none)."""
        for key, d in self.ab_data.items():
            if area[:len(d)] == d:
                return key
        return None

    def version_of_bytes(self, area):
        """The app version whose image `area` (the flash's app area) starts with."""
        for v, d in self.data.items():
            if area[:len(d)] == d:
                return v
        return None


_images = {}
# The fixed test keys of tests/unit/sign, compiled into both variants.
KEYS_DIR = os.path.join(HERE, "..", "unit", "sign")
TEST_KEYS = [os.path.join(KEYS_DIR, k) for k in ("a.pub", "b.pub")]


def sign_manifest(key_file, name, version, image):
    """The 192-byte signed manifest of `image`, made with Python's
    cryptography from the layout in include/otad/proto.h."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    with open(key_file, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    n = key.public_key().public_numbers()
    key_id = hashlib.sha256(n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")).digest()[:8]
    signed = (struct.pack("<4sIIIII", b"OTAM", 1, version, len(image), crc32(image), 0)
              + key_id + name.encode().ljust(64, b"\0") + hashlib.sha256(image).digest())
    r, s = utils.decode_dss_signature(key.sign(signed, ec.ECDSA(hashes.SHA256())))
    return signed + r.to_bytes(32, "big") + s.to_bytes(32, "big")


def build_images(signed=False, timeout=240):
    """The images of one variant: the legacy bootloaders (most scenarios
    serve unsigned images) in QEMU_BUILD, or those that require signatures
    in QEMU_BUILD-signed."""
    if signed in _images:
        return _images[signed]
    build = QEMU_BUILD + ("-signed" if signed else "")
    os.makedirs(build, exist_ok=True)
    with open(os.path.join(build, ".build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        t0 = time.monotonic()
        r = subprocess.run(["make", "-C", PORT_DIR, "--no-print-directory",
                            "BUILD=" + build, "KEYS=" + " ".join(TEST_KEYS),
                            "OTA_REQUIRE_SIGNATURE=%d" % (1 if signed else 0)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("make -C %s BUILD=%s failed (%d):\n%s"
                                 % (PORT_DIR, build, r.returncode,
                                    r.stdout.decode("utf-8", "replace")[-4000:]))
        log("images in %s (make: %.1f s)" % (build, time.monotonic() - t0))
    _images[signed] = Images(build)
    return _images[signed]


# --------------------------------------------------------------------------
# The emulated flash file.

def read_flash(path, size=FLASH_SIZE):
    data = otadtest.read_file(path)
    if len(data) != size:
        raise AssertionError("%s: %d bytes, expected %d" % (path, len(data), size))
    return data


def read_flash_ab(path):
    return read_flash(path, AB_FLASH_SIZE)


def ab_area(flash, name, n=None):
    """The bytes of area `name` of an f405 flash (the first `n` of them)."""
    off, size = AB_AREAS[name]
    return flash[off:off + (size if n is None else n)]


AB_FIELDS = ("seq", "flags", "app_version", "app_size", "app_crc", "dl_version", "dl_size",
             "dl_crc", "op", "op_done", "trials", "rejected_size", "rejected_crc")


def ab_records(flash):
    """Every valid dual-slot record (64 bytes, 16 LE words: "OTAB", seq, flags,
    app version/size/crc, secondary version/size/crc, op, op_done, trials,
    rejected size/crc, 0, CRC-32 of the first 60) in the 64-byte slots of the
    first 4 KiB of both state sectors."""
    recs = []
    for area in ("state-a", "state-b"):
        base = AB_AREAS[area][0]
        for off in range(base, base + AB_RECORDS_AREA, AB_RECORD):
            raw = flash[off:off + AB_RECORD]
            w = struct.unpack("<16I", raw)
            if w[0] != AB_MAGIC or w[15] != crc32(raw[:60]):
                continue
            rec = dict(zip(AB_FIELDS, w[1:14]))
            rec.update(offset=off, area=area)
            recs.append(rec)
    return recs


def newest_ab_record(flash):
    recs = ab_records(flash)
    return max(recs, key=lambda r: r["seq"]) if recs else None


def encode_ab_record(rec):
    words = struct.pack("<15I", AB_MAGIC, *[rec[f] for f in AB_FIELDS], 0)
    return words + struct.pack("<I", crc32(words))


def request_update_ab(path):
    """The dual-slot twin of request_update(): appends the newest record
    again with seq + 1 and the update-request flag, in the next slot."""
    flash = bytearray(read_flash_ab(path))
    rec = newest_ab_record(flash)
    if rec is None:
        raise AssertionError("%s: no dual-slot record to add a request to" % path)
    at = rec["offset"] + AB_RECORD
    if flash[at:at + AB_RECORD] != b"\xff" * AB_RECORD:
        raise AssertionError("%s: the slot after the newest record is not erased" % path)
    new = dict(rec, seq=rec["seq"] + 1, flags=rec["flags"] | FLAG_UPDATE_REQUESTED)
    flash[at:at + AB_RECORD] = encode_ab_record(new)
    with open(path, "wb") as f:
        f.write(flash)


def app_area(flash, n):
    return flash[APP_BASE:APP_BASE + n]


def state_records(flash):
    """Every valid boot-state record in the flash (PORTING.md: twelve LE words,
    "OTAS", seq, flags, app version/size/crc, download version/size/crc, two
    reserved, CRC-32 of the first 44 bytes), found by scanning for the magic
    so that the test does not depend on where the port put its state sectors."""
    recs = []
    pos = flash.find(STATE_MAGIC)
    while pos >= 0:
        raw = flash[pos:pos + 48]
        if len(raw) == 48 and pos % 4 == 0 and \
                struct.unpack_from("<I", raw, 44)[0] == crc32(raw[:44]):
            w = struct.unpack("<12I", raw)
            recs.append({"offset": pos, "seq": w[1], "flags": w[2],
                         "app_version": w[3], "app_size": w[4], "app_crc": w[5],
                         "dl_version": w[6], "dl_size": w[7], "dl_crc": w[8]})
        pos = flash.find(STATE_MAGIC, pos + 1)
    return recs


def encode_record(seq, flags, app_version, app_size, app_crc, dl_version=0, dl_size=0,
                  dl_crc=0):
    words = struct.pack("<11I", 0x5341544F, seq, flags, app_version, app_size, app_crc,
                        dl_version, dl_size, dl_crc, 0, 0)
    return words + struct.pack("<I", crc32(words))


def request_update(path):
    """Appends to the flash file the record ota_request_update() writes: the
    newest record again, seq + 1, with the update-request flag, in the next
    slot of the same sector (which must be erased)."""
    flash = bytearray(read_flash(path))
    rec = newest_record(flash)
    if rec is None:
        raise AssertionError("%s: no boot-state record to add a request to" % path)
    at = rec["offset"] + 48
    if flash[at:at + 48] != b"\xff" * 48:
        raise AssertionError("%s: the slot after the newest record is not erased" % path)
    flash[at:at + 48] = encode_record(rec["seq"] + 1, rec["flags"] | FLAG_UPDATE_REQUESTED,
                                      rec["app_version"], rec["app_size"], rec["app_crc"],
                                      rec["dl_version"], rec["dl_size"], rec["dl_crc"])
    with open(path, "wb") as f:
        f.write(flash)


def newest_record(flash):
    recs = state_records(flash)
    return max(recs, key=lambda r: r["seq"]) if recs else None


def blocks_in_flash(flash, image):
    """How many leading 256-byte blocks of `image` the app area holds already
    (a progress gauge for a download seen from outside)."""
    n = 0
    while n * 256 < len(image):
        chunk = image[n * 256:(n + 1) * 256]
        if flash[APP_BASE + n * 256:APP_BASE + n * 256 + len(chunk)] != chunk:
            break
        n += 1
    return n


# --------------------------------------------------------------------------
# One QEMU run.

class Qemu:
    """qemu-system-arm running the bootloader; UART0 (stdout) is the log,
    read line by line by a thread; UART1 is a socket chardev (client, with
    reconnect=1) to 127.0.0.1:`port`. `args` are the semihosting arguments
    after flash=: 'update', 'cut=N', 'trace'."""

    def __init__(self, images, flash, port, args=(), workdir=None, name="qemu", board="f401",
                 extra=()):
        self.images = images
        self.board = board              # f401: boot.elf; f405: boot-f405.elf
        self.extra = list(extra)        # more QEMU options, e.g. -icount shift=0
        self.flash = flash
        self.port = port
        self.args = list(args)
        self.name = name
        self.workdir = workdir or tempfile.gettempdir()
        self.proc = None
        self.lines = []                 # (monotonic time, line)
        self.cond = threading.Condition()
        self.t_start = None
        self.t_end = None
        self.rc = None
        self.killed = False

    def cmdline(self):
        semi = "enable=on,target=native,arg=boot,arg=flash=" + self.flash
        for a in self.args:
            semi += ",arg=" + a
        return [QEMU, "-M", "mps2-an386", "-nographic", "-monitor", "none",
                "-serial", "stdio",
                "-chardev", "socket,id=net,host=127.0.0.1,port=%d,nodelay=on,reconnect=1"
                % self.port,
                "-serial", "chardev:net",
                "-semihosting-config", semi] + self.extra + [
                "-kernel", self.images.boot_f405_elf if self.board == "f405"
                else self.images.boot_elf]

    def start(self):
        self.stderr_path = os.path.join(self.workdir, "%s.stderr" % self.name)
        self._stderr = open(self.stderr_path, "wb")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(self.cmdline(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._stderr,
                                     preexec_fn=otadtest._die_with_parent)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self.cond:
                self.lines.append((time.monotonic(), line))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout):
        """The exit code; kills QEMU (SIGKILL, by PID) and returns None if it
        is still running after `timeout` seconds."""
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.rc = None
        self.t_end = time.monotonic()
        self._reader.join(5)
        return self.rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.killed = True
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        if self.t_end is None:
            self.t_end = time.monotonic()

    def close(self):
        self.kill()
        if self.proc is not None:
            self._reader.join(5)
            self.proc.stdout.close()
        try:
            self._stderr.close()
        except AttributeError:
            pass

    def elapsed(self):
        return (self.t_end or time.monotonic()) - self.t_start

    def text(self):
        with self.cond:
            return "\n".join(l for (_, l) in self.lines)

    def stderr(self):
        try:
            return otadtest.read_file(self.stderr_path).decode("utf-8", "replace")
        except OSError:
            return ""

    def find(self, pattern):
        """All matches of regex `pattern` in the log lines, in order."""
        rx = re.compile(pattern)
        with self.cond:
            return [m for m in (rx.search(l) for (_, l) in self.lines) if m]

    def wait_line(self, pattern, timeout):
        """The first match of `pattern` in a log line (waiting up to `timeout`
        seconds), or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                for _, l in self.lines[seen:]:
                    m = rx.search(l)
                    if m:
                        return m
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return None
                self.cond.wait(min(remaining, 0.1))

    def trace_ops(self):
        """The flash operations logged with `trace`, as (n, 'erase', sector, None)
        and (n, 'program', addr, length), in log order."""
        ops = []
        with self.cond:
            lines = [l for (_, l) in self.lines]
        for l in lines:
            m = TRACE_ERASE.search(l)
            if m:
                ops.append((int(m.group(1)), "erase", int(m.group(2)), None))
                continue
            m = TRACE_PROGRAM.search(l)
            if m:
                ops.append((int(m.group(1)), "program", int(m.group(2), 0), int(m.group(3))))
        return ops

    def area_ops(self):
        """The traced flash operations with their area: dicts with n, kind
        ('erase' or 'program'), area, off, len (None for an erase) and t (guest
        microseconds), in log order."""
        ops = []
        with self.cond:
            lines = [l for (_, l) in self.lines]
        for l in lines:
            m = TRACE_AREA.search(l)
            if m and m.group(2):
                ops.append({"n": int(m.group(1)), "kind": "erase", "area": m.group(3),
                            "off": int(m.group(4), 16), "len": None, "t": int(m.group(5))})
            elif m:
                ops.append({"n": int(m.group(6)), "kind": "program", "area": m.group(9),
                            "off": int(m.group(10), 16), "len": int(m.group(8)),
                            "t": int(m.group(11))})
        return ops

    def line_time(self, pattern, last=False):
        """Host time (monotonic) of the first (or last) log line matching
        `pattern`, or None."""
        rx = re.compile(pattern)
        with self.cond:
            times = [t for (t, l) in self.lines if rx.search(l)]
        return (times[-1] if last else times[0]) if times else None

    def describe(self):
        return ("%s: %s\nexit %r after %.1f s%s\n--- UART0 (last 60 lines)\n%s\n--- stderr\n%s"
                % (self.name, " ".join(self.cmdline()), self.rc, self.elapsed(),
                   " (killed at its deadline)" if self.killed and self.rc is None else "",
                   "\n".join(self.text().splitlines()[-60:]), self.stderr()[-2000:]))


# --------------------------------------------------------------------------
# The test case base.

class QemuTestCase(otadtest.OtadTestCase):
    """self.dir is otad's firmware directory (serve() fills it), self.tmp a
    scratch directory; qemu() starts a QEMU run that is killed at the end of
    the test if still running. Prints the scenario's duration. A scenario
    with `signed = True` runs the bootloaders that require signatures."""

    signed = False

    def setUp(self):
        self._t0 = time.monotonic()
        super().setUp()
        self.images = build_images(self.signed)
        self.runs = []
        self.addCleanup(self._close_runs)

    def tearDown(self):
        log("scenario %s: %.1f s" % (self.id().split(".", 1)[-1], time.monotonic() - self._t0))

    def _close_runs(self):
        for q in self.runs:
            q.close()

    # --- server side --------------------------------------------------
    def serve(self, version_of_image, version=None, name="app", key="a.key"):
        """Publish app-vN (or raw bytes) as NAME with `version` (default N);
        a signed scenario also publishes its manifest, signed with `key` of
        tests/unit/sign (None: no manifest)."""
        data = version_of_image if isinstance(version_of_image, bytes) \
            else self.images.data[version_of_image]
        if version is None:
            version = version_of_image
        self.write(name + ".txt", "%d\n" % version)
        if self.signed and key is not None:
            self.write(name + ".sig", sign_manifest(os.path.join(KEYS_DIR, key), name, version,
                                                    data))
        self.publish(name, data)
        return data

    def otad(self, port=None):
        """Start otad (on `port` if given, e.g. to restart on the same one)."""
        cfg = self.config(otadtest.with_user(""), name="otad-%d.yaml" % len(self.daemons))
        d = otadtest.Otad(self.dir, cfg, self.tmp, port=port)
        self.daemons.append(d)
        d.start()
        return d

    # --- device side --------------------------------------------------
    def flash(self, app=None, version=None, name="flash.bin"):
        """A new flash file: factory fresh (all 0xFF), or with app-vN (or the
        image file `app`) installed as `version`."""
        path = os.path.join(self.tmp, name)
        cmd = [sys.executable, self.images.mkflash, path]
        if app is not None:
            image = self.images.path[app] if isinstance(app, int) else app
            version = version if version is not None else app
            cmd += ["--app", image, "--version", str(version)]
            if self.signed:             # as a signed update would have left it
                sig = os.path.join(self.tmp, name + ".sig")
                with open(sig, "wb") as f:
                    f.write(sign_manifest(os.path.join(KEYS_DIR, "a.key"), "app", version,
                                          otadtest.read_file(image)))
                cmd += ["--manifest", sig]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(r.returncode, 0, "%s: %s" % (" ".join(cmd), r.stdout.decode()))
        data = read_flash(path)
        if app is None:
            self.assertEqual(data, b"\xff" * FLASH_SIZE, "a factory-fresh flash is all 0xFF")
        return path

    def copy_flash(self, src, name):
        path = os.path.join(self.tmp, name)
        shutil.copyfile(src, path)
        return path

    def qemu(self, flash, port, args=(), name=None, board="f401", extra=()):
        q = Qemu(self.images, flash, port, args, self.tmp,
                 name or "qemu-%d" % len(self.runs), board, extra)
        self.runs.append(q)
        return q.start()

    def run_qemu(self, flash, port, args=(), timeout=30, name=None, board="f401", extra=()):
        """Run to completion (bounded); returns the finished Qemu."""
        q = self.qemu(flash, port, args, name, board, extra)
        q.wait(timeout)
        return q

    def flash_ab(self, app=None, secondary=None, install=False, name="flash.bin",
                 version=None):
        """A new f405 flash file: factory fresh, or with the f405 app `app`
        (a key of AB_APPS) installed in the primary, and `secondary` staged in
        the secondary slot (with `install`, its install is recorded as due)."""
        path = os.path.join(self.tmp, name)
        cmd = [sys.executable, self.images.mkflash, path, "--layout", "f405"]
        if app is not None:
            cmd += ["--app", self.images.ab_path[app], "--version",
                    str(version if version is not None else self.images.ab_version[app])]
        if secondary is not None:
            cmd += ["--secondary", self.images.ab_path[secondary], "--secondary-version",
                    str(self.images.ab_version[secondary])]
        if install:
            cmd.append("--install")
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(r.returncode, 0, "%s: %s" % (" ".join(cmd), r.stdout.decode()))
        data = read_flash_ab(path)
        if app is None and secondary is None:
            self.assertEqual(data, b"\xff" * AB_FLASH_SIZE, "a factory-fresh flash is all 0xFF")
        return path

    # --- assertions ---------------------------------------------------
    def assertReports(self, d, want, device=QEMU_DEVICE_ID, name="app", timeout=5.0):
        """otad `d` logged exactly the reports `want`, a list of (status,
        version) or (status, version, reason), in this order, each from
        `device` at 127.0.0.1 about firmware `name`."""
        def got():
            return [m.groups() for m in REPORT_LINE.finditer(d.stderr())]
        otadtest.poll(lambda: len(got()) >= len(want), timeout)
        expected = [(device, "127.0.0.1", name, w[0], str(w[1]), w[2] if len(w) > 2 else None)
                    for w in want]
        self.assertEqual(got(), expected, "otad's log:\n" + d.stderr())

    def assertInOrder(self, q, patterns):
        """The log lines of `q` match the regexes `patterns` in this order."""
        text = q.text()
        pos = 0
        for rx in patterns:
            m = re.compile(rx, re.M).search(text, pos)
            self.assertIsNotNone(m, "missing (in order) %r\n%s" % (rx, q.describe()))
            pos = m.end()

    def assertNoFault(self, q):
        self.assertIsNotNone(q.rc, "QEMU hung: still running at its deadline\n" + q.describe())
        self.assertNotEqual(q.rc, EXIT_FLASH_VIOLATION,
                            "the emulated flash saw a program that sets bits\n" + q.describe())
        self.assertNotEqual(q.rc, EXIT_NOTHING,
                            "the bootloader found nothing it could do\n" + q.describe())
        self.assertNotEqual(q.rc, EXIT_FAULT, "the CPU faulted\n" + q.describe())

    def assertBooted(self, q, version, flash_path=None):
        """QEMU ended with the app of `version` running (exit 100+V, its log
        line, the bootloader's line), and the flash holds exactly that image,
        recorded valid with its size and CRC."""
        self.assertNoFault(q)
        self.assertEqual(q.rc, APP_EXIT_BASE + version,
                         "expected the app version %d to run\n%s" % (version, q.describe()))
        self.assertTrue(q.find(r"^app: version %d$" % version), q.describe())
        boots = q.find(r"boot: starting application version (\d+)")
        self.assertTrue(boots, "no 'boot: starting application' line\n" + q.describe())
        if flash_path is not None:
            self.assertFlashHolds(flash_path, version, q)

    def assertFlashHolds(self, flash_path, version, q=None):
        image = self.images.data[version]
        flash = read_flash(flash_path)
        area = app_area(flash, len(image))
        if area != image:
            diff = next(i for i in range(len(image)) if area[i] != image[i])
            self.fail("app area differs from app-v%d at offset 0x%x (flash holds %s)\n%s"
                      % (version, diff, self.images.version_of_bytes(flash[APP_BASE:]),
                         q.describe() if q else ""))
        rec = newest_record(flash)
        self.assertIsNotNone(rec, "no valid boot-state record in the flash")
        self.assertTrue(rec["flags"] & FLAG_APP_VALID, "newest record %r" % rec)
        self.assertFalse(rec["flags"] & FLAG_DOWNLOADING, "newest record %r" % rec)
        self.assertEqual((rec["app_size"], rec["app_crc"]), (len(image), crc32(image)),
                         "newest record %r does not describe app-v%d" % (rec, version))


    def assertAbHolds(self, flash_path, primary, secondary=None, q=None, requested=False):
        """The f405 flash holds exactly app `primary` in the primary slot (and
        `secondary` in the secondary), and its newest record describes them,
        valid, with no swap in progress and nothing on trial; the update
        request flag set exactly if `requested` (a request the server never
        answered stays)."""
        flash = read_flash_ab(flash_path)
        ctx = q.describe() if q else ""
        for area, key in (("primary", primary), ("secondary", secondary)):
            if key is None:
                continue
            image = self.images.ab_data[key]
            if ab_area(flash, area, len(image)) != image:
                self.fail("the %s slot does not hold %s (it starts like %s)\n%s"
                          % (area, key, self.images.ab_name_of_bytes(ab_area(flash, area)), ctx))
        rec = newest_ab_record(flash)
        self.assertIsNotNone(rec, "no valid dual-slot record in the flash\n" + ctx)
        p = self.images.ab_data[primary]
        self.assertTrue(rec["flags"] & FLAG_APP_VALID, "newest record %r\n%s" % (rec, ctx))
        self.assertFalse(rec["flags"] & (FLAG_TRIAL | FLAG_DOWNLOADING),
                         "newest record %r\n%s" % (rec, ctx))
        self.assertEqual(bool(rec["flags"] & FLAG_UPDATE_REQUESTED), requested,
                         "newest record %r\n%s" % (rec, ctx))
        self.assertEqual(rec["op"], OP_NONE, "newest record %r" % rec)
        self.assertEqual((rec["app_version"], rec["app_size"], rec["app_crc"]),
                         (self.images.ab_version[primary], len(p), crc32(p)),
                         "newest record %r does not describe %s" % (rec, primary))
        if secondary is not None:
            s_ = self.images.ab_data[secondary]
            self.assertEqual((rec["dl_version"], rec["dl_size"], rec["dl_crc"]),
                             (self.images.ab_version[secondary], len(s_), crc32(s_)),
                             "newest record %r does not describe %s in the secondary"
                             % (rec, secondary))
        return rec


def main():
    """Run the scenarios named on the command line (unittest names), or all."""
    skip_if_unavailable()
    if not otadtest.OTAD:
        print("set OTAD to the otad binary", file=sys.stderr)
        sys.exit(1)
    t0 = time.monotonic()
    prog = unittest.main(verbosity=2, exit=False)
    log("total: %.1f s" % (time.monotonic() - t0))
    sys.exit(0 if prog.result.wasSuccessful() else 1)
