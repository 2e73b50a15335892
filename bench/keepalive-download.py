#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Times one keep-alive connection fetching an image block by block.

    bench/keepalive-download.py PORT NAME [RUNS]

Connects to 127.0.0.1:PORT, requests /NAME/header and then every
/NAME/block/N on the same socket, checks each block's CRC and the image CRC,
and prints the median and worst wall time of RUNS downloads (default 5).
"""
import os
import socket
import statistics
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


def get(sock, path):
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path.encode())
    status, head, body, rest = benchlib.read_response(sock)
    if status != 200 or rest:
        raise RuntimeError("%s: %s" % (path, head.split(b"\r\n")[0].decode()))
    return len(head), body


def download(port, name):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _, header = get(sock, "/%s/header" % name)
        _, crc, blocks, _, size = struct.unpack("<IIIII", header)
        image = bytearray()
        head_len = 0
        for n in range(blocks):
            head_len, block = get(sock, "/%s/block/%d" % (name, n))
            if zlib.crc32(block[:256]) != struct.unpack("<I", block[256:])[0]:
                raise RuntimeError("block %d: bad CRC" % n)
            image += block[:256]
        if zlib.crc32(bytes(image[:size])) != crc:
            raise RuntimeError("image CRC mismatch")
        return blocks, size, head_len


def main():
    port, name = int(sys.argv[1]), sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        blocks, size, head_len = download(port, name)
        times.append(time.perf_counter() - start)
    print("%s: %d bytes, %d blocks + header on one connection; block response header %d bytes"
          % (name, size, blocks, head_len))
    print("median %.1f ms, worst %.1f ms over %d runs (%.1f us per request)"
          % (statistics.median(times) * 1000, max(times) * 1000, runs,
             statistics.median(times) * 1e6 / (blocks + 1)))


if __name__ == "__main__":
    main()
