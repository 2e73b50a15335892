#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes an emulated flash file for the QEMU port.

    mkflash.py OUT [--layout f401|f405] [--app APP.bin --version N [--manifest APP.sig]]
               [--secondary IMG.bin --secondary-version M [--install]]

f401 (the default): 512 KiB, all 0xFF (a factory-fresh device), or with APP
in the application area (offset 0x10000) and a 48-byte "OTAS" boot-state
record in sector 2 saying that it is a verified application of version N.

f405: 1 MiB, the dual-slot map: APP in the primary slot (offset 0x20000) and
a 64-byte "OTAB" record in sector 2. With --secondary, IMG is in the
secondary slot (offset 0x80000), recorded as a verified image of version M;
with --install, the record also says that its install (the swap) is to
start, as after a download.

--manifest puts APP's signed manifest (192 bytes, include/otad/proto.h)
where a signed update keeps it: at the next 256-byte boundary after APP in
its slot (firmware/PORTING.md, "Signed firmware").

The records are built here from the format in firmware/PORTING.md and
firmware/core/ota_state.h, independently of the firmware's code.
"""
import argparse
import struct
import zlib

STATE_SECTOR = 0x8000
APP_VALID, SECONDARY_VALID = 0x1, 0x8
OP_INSTALL = 1
LAYOUTS = {
    # name: (flash size, primary offset, secondary offset)
    "f401": (512 * 1024, 0x10000, None),
    "f405": (1024 * 1024, 0x20000, 0x80000),
}


def crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def record_single(seq, flags, version, size, crc):
    """Twelve LE words: "OTAS", seq, flags, app version/size/crc, download
    version/size/crc, two reserved, CRC-32 of the first 44 bytes."""
    words = struct.pack("<11I", 0x5341544F, seq, flags, version, size, crc, 0, 0, 0, 0, 0)
    return words + struct.pack("<I", crc32(words))


def record_dual(seq, flags, app, dl, op=0, op_done=0, trials=0, rejected=(0, 0)):
    """Sixteen LE words: "OTAB", seq, flags, app version/size/crc, secondary
    version/size/crc, op, op_done, trials, rejected size/crc, 0, CRC-32 of
    the first 60 bytes. `app` and `dl` are (version, size, crc)."""
    words = struct.pack("<15I", 0x4241544F, seq, flags, *app, *dl, op, op_done, trials,
                        *rejected, 0)
    return words + struct.pack("<I", crc32(words))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="f401")
    parser.add_argument("--app", help="raw application image to install")
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--manifest", help="APP's signed manifest, kept beside it")
    parser.add_argument("--secondary", help="f405: raw image in the secondary slot")
    parser.add_argument("--secondary-version", type=int, default=2)
    parser.add_argument("--install", action="store_true",
                        help="f405: record the install of the secondary as to be done")
    args = parser.parse_args()
    size, primary, secondary = LAYOUTS[args.layout]
    if (args.secondary or args.install) and secondary is None:
        parser.error("--secondary and --install need a dual-slot layout (f405)")
    if args.install and not args.secondary:
        parser.error("--install needs --secondary")

    flash = bytearray(b"\xff" * size)
    app = read(args.app) if args.app else None
    img = read(args.secondary) if args.secondary else None
    if app is not None:
        flash[primary:primary + len(app)] = app
    if args.manifest:
        if app is None:
            parser.error("--manifest needs --app")
        at = primary + (len(app) + 255) // 256 * 256
        flash[at:at + 192] = read(args.manifest)
    if img is not None:
        flash[secondary:secondary + len(img)] = img
    if secondary is None and app is not None:
        rec = record_single(1, APP_VALID, args.version, len(app), crc32(app))
    elif secondary is not None and (app is not None or img is not None):
        flags = (APP_VALID if app is not None else 0) | (SECONDARY_VALID if img else 0)
        a = (args.version, len(app), crc32(app)) if app is not None else (0, 0, 0)
        d = (args.secondary_version, len(img), crc32(img)) if img else (0, 0, 0)
        rec = record_dual(1, flags, a, d, op=OP_INSTALL if args.install else 0)
    else:
        rec = b""
    flash[STATE_SECTOR:STATE_SECTOR + len(rec)] = rec
    with open(args.out, "wb") as f:
        f.write(flash)


if __name__ == "__main__":
    main()
