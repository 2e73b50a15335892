#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mkimage.py [--layout f401|f405] OUT BOOTLOADER.bin [options]: a flash image
with the bootloader at 0 and, with --app, an installed application and the
boot state record that describes it (format: firmware/PORTING.md and
core/ota_state.h, written out here independently of the core).

f401: 512 KiB, application at 0x10000, one 48-byte "OTAS" record.
f405: 1 MiB, application (primary) at 0x20000, secondary at 0x80000, one
      64-byte "OTAB" record; --prev puts a previous image in the secondary.
The record goes into state sector A (0x8000), as sequence number 1."""
import argparse
import struct
import zlib

ap = argparse.ArgumentParser()
ap.add_argument("--layout", choices=["f401", "f405"], default="f401")
ap.add_argument("out")
ap.add_argument("bootloader")
ap.add_argument("--app", help="the installed application (.bin)")
ap.add_argument("--version", type=int, default=1, help="its version")
ap.add_argument("--flags", type=int, default=1, help="record flags (1: app valid)")
ap.add_argument("--trials", type=int, default=0, help="f405: trial boots so far")
ap.add_argument("--prev", help="f405: the image in the secondary slot (.bin)")
ap.add_argument("--prev-version", type=int, default=0)
args = ap.parse_args()

LAYOUTS = {  # flash size, primary, secondary
    "f401": (512 * 1024, 0x10000, None),
    "f405": (1024 * 1024, 0x20000, 0x80000),
}
size, primary, secondary = LAYOUTS[args.layout]
img = bytearray(b"\xff" * size)
boot = open(args.bootloader, "rb").read()
img[0:len(boot)] = boot

if args.app:
    app = open(args.app, "rb").read()
    img[primary:primary + len(app)] = app
    prev = b""
    if args.prev:
        prev = open(args.prev, "rb").read()
        img[secondary:secondary + len(prev)] = prev
    app_desc = (args.version, len(app), zlib.crc32(app))
    prev_desc = (args.prev_version, len(prev), zlib.crc32(prev)) if prev else (0, 0, 0)
    if args.layout == "f401":
        # "OTAS", seq, flags, app version/size/crc, dl version/size/crc,
        # two reserved words, then the CRC-32 of the first 44 bytes.
        rec = struct.pack("<11I", 0x5341544F, 1, args.flags, *app_desc, 0, 0, 0, 0, 0)
    else:
        # "OTAB", seq, flags, app version/size/crc, dl (secondary)
        # version/size/crc, op, op_done, trials, rejected size/crc, 0, then
        # the CRC-32 of the first 60 bytes.
        rec = struct.pack("<15I", 0x4241544F, 1, args.flags, *app_desc, *prev_desc,
                          0, 0, args.trials, 0, 0, 0)
    rec += struct.pack("<I", zlib.crc32(rec))
    img[0x8000:0x8000 + len(rec)] = rec
open(args.out, "wb").write(img)
