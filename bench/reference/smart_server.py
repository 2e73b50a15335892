#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The Python OTA server otad replaces, re-created for the benchmarks.

    smart_server.py [--dir DIR] [--bind ADDR] [--port N]

Behaves as the original smart_server.py: Flask on werkzeug's threaded server
(a thread per connection), every image read whole into a dict guarded by one
lock, each block cut from the image and its CRC-32 computed per request, the
last block padded with 0xFF, the header packed per request, a thread that
rescans the directory every 5 seconds and swaps the whole dict when a
modification time changed, a request handler that never sends
"Connection: close", and werkzeug's log line for every request.

What differs from the original, so that it can run in a benchmark: the
directory, address and port are arguments (the original serves its own
directory on 0.0.0.0:8000), and NAME.txt is read from that directory (the
original reads it from the working directory). Runs with Debian's python3 and
python3-flask.
"""

import argparse
import os
import struct
import threading
import time
import zlib

from flask import Flask, abort, make_response
from werkzeug.serving import WSGIRequestHandler, make_server

BLOCK_DATA_SIZE = 256
CRC_SIZE = 4
BLOCK_TOTAL_SIZE = BLOCK_DATA_SIZE + CRC_SIZE
HEADER_SIZE = 20
CHECK_INTERVAL = 5

app = Flask(__name__)
firmware_dir = "."
cache = {"firmwares": {}, "lock": threading.Lock()}


def firmware_version(name):
    """The number in NAME.txt; 1 when it is missing or not a number."""
    path = os.path.join(firmware_dir, name + ".txt")
    if not os.path.exists(path):
        print("warning: %s missing, %s gets version 1" % (path, name), flush=True)
        return 1
    try:
        with open(path, encoding="utf-8") as f:
            content = f.read().strip()
        if content.isdigit():
            return int(content)
        print("warning: %s is not a number, %s gets version 1" % (path, name), flush=True)
    except OSError as e:
        print("cannot read %s: %s; %s gets version 1" % (path, e, name), flush=True)
    return 1


def scan_firmwares():
    """Every NAME.bin of the directory, read whole, with its CRC and version."""
    firmwares = {}
    for filename in os.listdir(firmware_dir):
        if not filename.lower().endswith(".bin"):
            continue
        name = os.path.splitext(filename)[0]
        bin_path = os.path.join(firmware_dir, filename)
        txt_path = os.path.join(firmware_dir, name + ".txt")
        try:
            with open(bin_path, "rb") as f:
                data = f.read()
            if not data:
                print("warning: %s is empty, skipped" % filename, flush=True)
                continue
            firmwares[name] = {
                "name": name,
                "bin_path": bin_path,
                "version_path": txt_path,
                "data": data,
                "size": len(data),
                "crc32": zlib.crc32(data) & 0xFFFFFFFF,
                "blocknum": (len(data) + BLOCK_DATA_SIZE - 1) // BLOCK_DATA_SIZE,
                "version": firmware_version(name),
                "bin_mtime": os.path.getmtime(bin_path),
                "version_mtime": os.path.getmtime(txt_path) if os.path.exists(txt_path) else 0,
            }
        except OSError as e:
            print("cannot load %s: %s, skipped" % (filename, e), flush=True)
    return firmwares


def check_for_updates():
    """Rescans every CHECK_INTERVAL seconds; swaps the cache when anything changed."""
    while True:
        try:
            new = scan_firmwares()
            with cache["lock"]:
                old = cache["firmwares"]
            changed = set(new) != set(old) or any(
                new[n]["bin_mtime"] != old[n]["bin_mtime"] or
                new[n]["version_mtime"] != old[n]["version_mtime"]
                for n in set(new) & set(old))
            if changed:
                with cache["lock"]:
                    cache["firmwares"] = new
                print("firmware changed: %d available" % len(new), flush=True)
        except Exception as e:  # the original keeps its thread alive on any error
            print("update check failed: %s" % e, flush=True)
        time.sleep(CHECK_INTERVAL)


def firmware_info(name):
    with cache["lock"]:
        return cache["firmwares"].get(name)


def octet_response(body):
    resp = make_response(body)
    resp.headers["Content-Type"] = "application/octet-stream"
    resp.headers["Content-Length"] = len(body)
    resp.headers["Connection"] = "keep-alive"
    resp.headers["Keep-Alive"] = "timeout=60, max=100"
    return resp


@app.route("/<firmware_name>/header", methods=["GET"])
def get_header(firmware_name):
    info = firmware_info(firmware_name)
    if not info:
        abort(404, "Firmware '%s' not found" % firmware_name)
    return octet_response(struct.pack("<IIIII", info["version"], info["crc32"],
                                      info["blocknum"], BLOCK_DATA_SIZE, info["size"]))


@app.route("/<firmware_name>/block/<int:idx>", methods=["GET"])
def get_block(firmware_name, idx):
    info = firmware_info(firmware_name)
    if not info:
        abort(404, "Firmware '%s' not found" % firmware_name)
    if idx < 0 or idx >= info["blocknum"]:
        abort(416, "Block index out of range (last: %d)" % (info["blocknum"] - 1))
    start = idx * BLOCK_DATA_SIZE
    block = info["data"][start:start + BLOCK_DATA_SIZE]
    if len(block) < BLOCK_DATA_SIZE:
        block += b"\xFF" * (BLOCK_DATA_SIZE - len(block))
    return octet_response(block + struct.pack("<I", zlib.crc32(block) & 0xFFFFFFFF))


@app.route("/firmwares", methods=["GET"])
def list_firmwares():
    with cache["lock"]:
        names = sorted(cache["firmwares"])
    if not names:
        return make_response("No firmwares available\n", 404)
    text = "=== Available Firmwares ===\n"
    for name in names:
        info = firmware_info(name)
        text += ("Firmware: %s\n Version: %d\n Size: %d bytes\n CRC32: 0x%08X\n"
                 " Blocks: %d x %d bytes\n\n" % (name, info["version"], info["size"],
                                                 info["crc32"], info["blocknum"],
                                                 BLOCK_DATA_SIZE))
    return make_response(text, 200)


class KeepAliveRequestHandler(WSGIRequestHandler):
    """Never announces "Connection: close", as the original."""

    def send_header(self, keyword, value):
        if keyword.lower() == "connection" and value.lower() == "close":
            return
        super().send_header(keyword, value)


def main():
    global firmware_dir
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args()
    firmware_dir = args.dir
    firmwares = scan_firmwares()
    with cache["lock"]:
        cache["firmwares"] = firmwares
    threading.Thread(target=check_for_updates, daemon=True, name="FirmwareUpdateChecker").start()
    print("serving %d firmware(s) from %s on %s:%d"
          % (len(firmwares), firmware_dir, args.bind, args.port), flush=True)
    server = make_server(args.bind, args.port, app, threaded=True,
                         request_handler=KeepAliveRequestHandler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
