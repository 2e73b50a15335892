#!/usr/bin/env python3
"""Writes an emulated flash file for the QEMU port.

    mkflash.py OUT [--app APP.bin --version N]

512 KiB, all 0xFF (a factory-fresh device), or with APP in the application
area (offset 0x10000) and a boot-state record in sector 2 saying that it is a
verified application of version N. The record is built here from the format
in firmware/PORTING.md, independently of the firmware's code.
"""
import argparse
import struct
import zlib

FLASH_SIZE = 512 * 1024
STATE_SECTOR = 0x8000
APP_OFFSET = 0x10000
APP_VALID = 0x1


def record(seq, flags, version, size, crc):
    words = struct.pack("<11I", 0x5341544F, seq, flags, version, size, crc, 0, 0, 0, 0, 0)
    return words + struct.pack("<I", zlib.crc32(words))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--app", help="raw application image to install")
    parser.add_argument("--version", type=int, default=1)
    args = parser.parse_args()

    flash = bytearray(b"\xff" * FLASH_SIZE)
    if args.app:
        with open(args.app, "rb") as f:
            app = f.read()
        flash[APP_OFFSET:APP_OFFSET + len(app)] = app
        rec = record(1, APP_VALID, args.version, len(app), zlib.crc32(app))
        flash[STATE_SECTOR:STATE_SECTOR + len(rec)] = rec
    with open(args.out, "wb") as f:
        f.write(flash)


if __name__ == "__main__":
    main()
