#!/usr/bin/env python3
"""mkimage.py OUT BOOTLOADER.bin [APP.bin VERSION]: a 512 KiB flash image with
the bootloader at 0 and, if given, an installed application at 0x10000 with
the boot state record that makes it valid (format: firmware/PORTING.md)."""
import struct
import sys
import zlib

out, boot = sys.argv[1], open(sys.argv[2], "rb").read()
img = bytearray(b"\xff" * (512 * 1024))
img[0:len(boot)] = boot
if len(sys.argv) > 3:
    app, version = open(sys.argv[3], "rb").read(), int(sys.argv[4])
    img[0x10000:0x10000 + len(app)] = app
    APP_VALID = 1
    rec = struct.pack("<11I", 0x5341544F, 1, APP_VALID, version, len(app), zlib.crc32(app),
                      0, 0, 0, 0, 0)
    img[0x8000:0x8000 + 48] = rec + struct.pack("<I", zlib.crc32(rec))
open(out, "wb").write(img)
