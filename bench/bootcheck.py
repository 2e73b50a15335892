#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measures what signature checking costs the reference bootloader in QEMU.

    bench/bootcheck.py [--json PATH]

- Size: the qemu-mps2 and stm32f4 bootloaders built with the two test keys
  and OTA_REQUIRE_SIGNATURE=1 (the default), and with 0, text+data.
- The boot-time check: both QEMU boards (f401: a 448 KiB application area,
  f405: a 384 KiB primary slot) boot a signed image that fills its slot
  (the demo application padded, less the 256 bytes its manifest takes), made
  and signed here with Python's cryptography and put in the flash file with
  mkflash.py --manifest. Each board runs the bootloader that requires
  signatures and the one that does not, under -icount shift=0 (one guest
  instruction per nanosecond); the port prints the guest time at the jump
  ("jump t=US", with the trace argument). The difference is the check:
  reading the manifest and hashing the image through ota_port_flash_read.
  Each QEMU run has a deadline; nothing listens on the network.

Prints a Markdown table, and the figures as JSON to --json.
"""

import argparse
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

import benchlib

KEYS = os.path.join(benchlib.ROOT, "tests", "unit", "sign")
QEMU_PORT = os.path.join(benchlib.ROOT, "firmware", "port", "qemu-mps2")
STM32_PORT = os.path.join(benchlib.ROOT, "firmware", "port", "stm32f4")
SIZE_RX = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s", re.M)
JUMP_RX = re.compile(r"^jump t=(\d+)$", re.M)
# board: (bootloader, demo image, area size, flash layout, exit code of the app)
BOARDS = {"f401": ("boot.elf", "app-v1.bin", 448 * 1024, "f401", 101),
          "f405": ("boot-f405.elf", "app-ab-v1.bin", 384 * 1024, "f405", 101)}
CLOCKS = (25, 16, 84, 168)   # MHz: QEMU's board, the STM32F4 port's HSI, two PLL settings


def run(cmd, timeout):
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def make(args, timeout=300):
    rc, out = run(["make", "--no-print-directory"] + args, timeout)
    if rc != 0:
        benchlib.die("make %s failed (%d):\n%s" % (" ".join(args), rc, out[-3000:]))


def text_data(elf):
    rc, out = run([benchlib.require_program("arm-none-eabi-size"), elf], 30)
    m = SIZE_RX.search(out)
    return int(m.group(1)) + int(m.group(2))


def manifest(name, version, image):
    with open(os.path.join(KEYS, "a.key"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    n = key.public_key().public_numbers()
    key_id = hashlib.sha256(n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")).digest()[:8]
    signed = (struct.pack("<4sIIIII", b"OTAM", 1, version, len(image),
                          zlib.crc32(image) & 0xFFFFFFFF, 0)
              + key_id + name.encode().ljust(64, b"\0") + hashlib.sha256(image).digest())
    r, s = utils.decode_dss_signature(key.sign(signed, ec.ECDSA(hashes.SHA256())))
    return signed + r.to_bytes(32, "big") + s.to_bytes(32, "big")


def boot_time(qemu, elf, flash):
    cmd = [qemu, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "stdio",
           "-serial", "null", "-icount", "shift=0",
           "-semihosting-config",
           "enable=on,target=native,arg=boot,arg=flash=%s,arg=trace=coarse" % flash,
           "-kernel", elf]
    rc, out = run(cmd, 120)
    m = JUMP_RX.search(out)
    if m is None or "app: version 1" not in out:
        benchlib.die("%s did not boot the app (exit %d):\n%s" % (elf, rc, out[-2000:]))
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json")
    args = ap.parse_args()
    qemu = benchlib.require_program("qemu-system-arm")
    keys = "KEYS=" + " ".join(os.path.join(KEYS, k) for k in ("a.pub", "b.pub"))
    res = {"size": {}, "boot_check": {}}
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "bearssl")
        for req in (1, 0):
            q = os.path.join(tmp, "qemu-%d" % req)
            s = os.path.join(tmp, "stm32-%d" % req)
            opts = [keys, "OTA_REQUIRE_SIGNATURE=%d" % req, "BEARSSL_SRC=" + src]
            make(["-C", QEMU_PORT, "BUILD=" + q] + opts)
            make(["-C", STM32_PORT, "BUILD=" + s] + opts)
            make(["-C", STM32_PORT, "BUILD=" + s, "LAYOUT=f405"] + opts)
            res["size"]["required=%d" % req] = {
                "stm32f4 f401": text_data(os.path.join(s, "bootloader.elf")),
                "stm32f4 f405": text_data(os.path.join(s, "f405", "bootloader.elf")),
                "qemu-mps2 f401": text_data(os.path.join(q, "boot.elf")),
                "qemu-mps2 f405": text_data(os.path.join(q, "boot-f405.elf")),
            }
        for board, (elf, app, area, layout, _) in BOARDS.items():
            with open(os.path.join(tmp, "qemu-1", app), "rb") as f:
                image = f.read()
            full = area - 256
            image += hashlib.shake_256(b"ballast").digest(full - len(image))
            img_path = os.path.join(tmp, "full-%s.bin" % board)
            sig_path = img_path + ".sig"
            with open(img_path, "wb") as f:
                f.write(image)
            with open(sig_path, "wb") as f:
                f.write(manifest("app", 1, image))
            flash = os.path.join(tmp, "flash-%s.bin" % board)
            times = {}
            for req in (1, 0):
                rc, out = run([sys.executable, os.path.join(QEMU_PORT, "mkflash.py"), flash,
                               "--layout", layout, "--app", img_path, "--version", "1",
                               "--manifest", sig_path], 30)
                if rc != 0:
                    benchlib.die(out)
                times[req] = boot_time(qemu, os.path.join(tmp, "qemu-%d" % req, elf), flash)
            insns = (times[1] - times[0]) * 1000
            res["boot_check"][board] = {
                "image_bytes": full, "jump_us_required": times[1], "jump_us_legacy": times[0],
                "check_instructions": insns,
                "ms": {str(c): round(insns / (c * 1000.0), 1) for c in CLOCKS}}
    print("| build | OTA_REQUIRE_SIGNATURE=1 | =0 |")
    print("|---|---:|---:|")
    for b in res["size"]["required=1"]:
        print("| %s | %d | %d |" % (b, res["size"]["required=1"][b], res["size"]["required=0"][b]))
    print()
    print("| board | image | check at boot (instructions) | " +
          " | ".join("%d MHz" % c for c in CLOCKS) + " |")
    print("|---|---:|---:|" + "---:|" * len(CLOCKS))
    for board, r in res["boot_check"].items():
        print("| %s | %d bytes | %.1f M | %s |" % (
            board, r["image_bytes"], r["check_instructions"] / 1e6,
            " | ".join("%.0f ms" % r["ms"][str(c)] for c in CLOCKS)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
