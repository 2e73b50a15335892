#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measures how long otad takes to index a firmware directory at start-up.

    bench/startup.py [OTAD] [--images N] [--total BYTES] [--runs R]
                     [--signed OTASIGN] [--json PATH]

Writes N images (default 1000, img0000..img0999) of random bytes totalling
BYTES (default 1 GiB; a K, M or G suffix means powers of 1024), NAME.bin plus
NAME.txt, into a temporary directory once, then starts otad (OTAD from the
first argument, else $OTAD, else build/otad) on them R times (default 3) with
max_memory large enough for all of them and NOTIFY_SOCKET pointing at a unix
datagram socket made here. Each run measures, from just before the exec:

  READY=1     when otad's readiness notification arrives (it is sent once
              every image is loaded and the listener is open)
  first 200   when GET /LAST/header (the last image) first answers 200,
              polled with a fresh connection about every 0.5 ms

and checks the header and the last block of that image against the bytes
computed here. Every file is read once before each run so that it sits in the
page cache: this measures otad's indexing, not the disk. The indexing rate is
BYTES / time-to-READY; it includes process start, reading every file from the
page cache and the CRC-32 of every byte (each block's, and the image's).

CRC throughput: a small C program compiled here with otad's src/crc.c
(cc -O2 ... -lz) times, over the same number of bytes, otad's CRC-32 as it
indexes (per 256-byte block: the block's CRC, then the running image CRC),
and, for comparison, zlib's crc32() called once per block.

With --signed OTASIGN: makes a key with `OTASIGN keygen`, signs every image
(`OTASIGN sign`, NAME.sig beside it), and alternates the runs between otad
without keys (the manifests are served unchecked) and otad with the key in
signing.keys (every manifest verified, ECDSA P-256 and the image's SHA-256,
before READY=1). The difference of the medians, per image, is the load-time
cost of verification; the key's run is also checked to list every image as
signed by it.

Prints a Markdown table of the medians (GB = 10^9 bytes) and whether the
target, 1 GiB indexed in at most 1.5 s (scaled to BYTES), was met. Stops otad
by its PID after each run and removes the temporary directory at the end.
Exits 1 when otad served wrong bytes or did not become ready.
"""

import argparse
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import benchlib

GIB = 1 << 30
TARGET_MS_PER_GIB = 1500.0
POLL_PAUSE = 0.0005        # seconds between refused connection attempts

CRC_HELPER = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "crc.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints the seconds taken over argv[1] bytes of pseudo-random data, per
 * 256-byte block: otad's crc_update() as wire_block_crcs() calls it (the
 * block's CRC, then the running image CRC over it), and zlib's crc32() for
 * the block CRCs alone. */
int main(int argc, char **argv)
{
    size_t blocks = (argc > 1 ? strtoull(argv[1], NULL, 10) : 0) / 256, len = blocks * 256;
    unsigned char *buf = malloc(len ? len : 1);
    uint64_t x = 88172645463325252ull;
    uint32_t image = 0, sum = 0;
    double t0, t1, t2;

    if (buf == NULL || blocks == 0)
        return 2;
    for (size_t i = 0; i < len; i += 8) { /* xorshift64: touches every page, too */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(buf + i, &x, 8);
    }
    t0 = now();
    for (size_t i = 0; i < blocks; i++) {
        sum ^= crc_update(0, buf + i * 256, 256);
        image = crc_update(image, buf + i * 256, 256);
    }
    t1 = now();
    for (size_t i = 0; i < blocks; i++)
        sum ^= (uint32_t)crc32(0L, buf + i * 256, 256);
    t2 = now();
    if (image != (uint32_t)crc32_z(0L, buf, len) || sum != 0) {
        fprintf(stderr, "otad's CRC differs from zlib's\n");
        return 1;
    }
    printf("%zu %.9f %.9f %d\n", len, t1 - t0, t2 - t1, crc_accelerated());
    free(buf);
    return 0;
}
"""


def parse_size(text):
    """Bytes from '1073741824', '20M', '1G', '512K' (powers of 1024)."""
    text = text.strip()
    shift = {"k": 10, "m": 20, "g": 30}.get(text[-1:].lower(), 0)
    digits = text[:-1] if shift else text
    if not digits.isdigit():
        raise argparse.ArgumentTypeError("expected a byte count such as 1073741824 or 1G")
    return int(digits) << shift


def image_sizes(images, total):
    """@images sizes differing by at most one byte, summing to exactly @total."""
    base, extra = divmod(total, images)
    return [base + 1 if i < extra else base for i in range(images)]


def generate(fw_dir, images, total):
    """Writes the images in parallel (os.urandom and write() release the GIL);
    returns (name, bytes, version) of the last one, the one polled."""
    names = ["img%04d" % i for i in range(images)]
    sizes = image_sizes(images, total)

    def one(i):
        data = os.urandom(sizes[i])
        benchlib.write_firmware(fw_dir, names[i], data, i + 1)
        return data if i == images - 1 else None

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        last = list(pool.map(one, range(images)))[-1]
    return names[-1], last, images


def sign_all(otasign, tmp, fw_dir, images):
    """A key in @tmp and NAME.sig for every image; returns the .pub path."""
    key = os.path.join(tmp, "bench-key")
    subprocess.run([otasign, "keygen", key], check=True, stdout=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL, timeout=60)

    def one(i):
        subprocess.run([otasign, "sign", "--key", key,
                        os.path.join(fw_dir, "img%04d.bin" % i)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL, timeout=120)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(one, range(images)))
    return key + ".pub"


def signed_listed(port, images):
    """How many images the JSON listing shows as signed with a verified key."""
    status, body = benchlib.get(port, "/firmwares?format=json", timeout=10.0)
    if status != 200:
        return -1
    listing = json.loads(body)
    entries = listing.get("firmwares", listing) if isinstance(listing, dict) else listing
    return sum(1 for e in entries if e.get("signed") and e.get("key_id"))


def warm_page_cache(fw_dir):
    """Reads every file once; returns the bytes read."""
    buf = bytearray(8 << 20)
    total = 0
    for entry in os.scandir(fw_dir):
        with open(entry.path, "rb", buffering=0) as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                total += n
    return total


def crc_throughput(tmp, nbytes):
    """(GB/s of otad's CRC per block as it indexes, GB/s of zlib's crc32() per
    block, accelerated?), or (None, None, None) with a warning when the
    helper cannot be built. The helper is compiled with otad's src/crc.c."""
    src = os.path.join(tmp, "crcbench.c")
    exe = os.path.join(tmp, "crcbench")
    otad_src = os.path.join(benchlib.ROOT, "src")
    with open(src, "w") as f:
        f.write(CRC_HELPER)
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        print("warning: no C compiler: CRC-32 throughput not measured", file=sys.stderr)
        return None, None, None
    # As meson builds otad: with ISA-L where its header is installed.
    isal = os.path.exists("/usr/include/isa-l/crc.h")
    built = subprocess.run([cc, "-O2", "-I", otad_src] + (["-DOTAD_HAVE_ISAL=1"] if isal else []) +
                           ["-o", exe, src, os.path.join(otad_src, "crc.c"), "-lz"] +
                           (["-lisal"] if isal else []),
                           capture_output=True, text=True)
    if built.returncode != 0:
        print("warning: cannot build the CRC helper: %s" % built.stderr.strip(), file=sys.stderr)
        return None, None, None
    out = subprocess.run([exe, str(nbytes)], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        benchlib.die("CRC helper failed: %s" % (out.stdout + out.stderr).strip())
    length, otad_s, zlib_s, accel = out.stdout.split()
    return (int(length) / float(otad_s) / 1e9, int(length) / float(zlib_s) / 1e9,
            accel == "1")


class NotifyingOtad(benchlib.Otad):
    """otad with NOTIFY_SOCKET set, started with the clock running."""

    def __init__(self, otad, fw_dir, notify_path, settings):
        super().__init__(otad, fw_dir, settings)
        self.notify_path = notify_path

    def env(self):
        env = super().env()
        env["NOTIFY_SOCKET"] = self.notify_path
        return env

    def timed_start(self, notify, probe, limit):
        """Starts otad; returns (seconds to READY=1, seconds to the first 200
        for @probe, its body). The config file is written before the clock
        starts: only the exec and what otad does are timed."""
        cmd = self.command()
        env = self.env()
        self.log = open(os.path.join(self.tmp, "server.log"), "wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, cwd=self.tmp)
        ready = first = body = None
        while ready is None or first is None:
            if time.perf_counter() - t0 > limit:
                raise RuntimeError("otad: no %s within %.0f s"
                                   % ("READY=1" if ready is None else "200", limit))
            if self.proc.poll() is not None:
                raise RuntimeError("otad exited with %d at start:\n%s"
                                   % (self.proc.returncode, self.output()))
            if first is None:
                try:
                    status, data = benchlib.get(self.port, probe, timeout=5.0)
                    if status == 200:
                        first, body = time.perf_counter() - t0, data
                except OSError:
                    pass            # not listening yet: refused
                if first is not None and ready is not None:
                    break
            # The pause between attempts doubles as the wait for READY=1,
            # so the notification is timed as soon as it arrives.
            pause = POLL_PAUSE if first is None else max(0.0, limit - (time.perf_counter() - t0))
            readable, _, _ = select.select([notify], [], [], pause)
            if readable:
                now = time.perf_counter() - t0
                if ready is None and b"READY=1" in notify.recv(4096).split(b"\n"):
                    ready = now
        return ready, first, body


def drain(sock):
    sock.setblocking(False)
    try:
        while True:
            sock.recv(4096)
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("otad", nargs="?", default=benchlib.default_otad())
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--total", type=parse_size, default=GIB, metavar="BYTES")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--signed", metavar="OTASIGN", help="also time runs that verify manifests")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args()
    otad = benchlib.require_executable(args.otad, "otad")
    if args.images < 1 or args.runs < 1:
        benchlib.die("--images and --runs must be at least 1")
    if args.total < args.images or args.total // args.images >= 1 << 32:
        benchlib.die("--total must give every image between 1 byte and 4 GiB")

    tmp = tempfile.mkdtemp(prefix="otad-bench-startup-")
    notify = None
    try:
        fw_dir = os.path.join(tmp, "firmware")
        t = time.perf_counter()
        name, data, version = generate(fw_dir, args.images, args.total)
        os.sync()   # else the writeback of the files competes with the first runs
        print("generated %d images, %d bytes, in %.1f s (%s)"
              % (args.images, args.total, time.perf_counter() - t, fw_dir))
        want_header = benchlib.header_bytes(data, version)
        last_block = benchlib.block_count(data) - 1
        want_block = benchlib.block_bytes(data, last_block)

        notify_path = os.path.join(tmp, "notify.sock")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        # The data plus its block CRCs, with room to spare for an older build,
        # which held a 260-byte block table beside the data.
        max_memory = "%dM" % (2 * args.total // (1 << 20) + 64)
        settings = {"max_memory": max_memory, "log_level": "warning"}
        keyed = None
        if args.signed:
            t = time.perf_counter()
            pub = sign_all(benchlib.require_executable(args.signed, "otasign"), tmp, fw_dir,
                           args.images)
            keyed = dict(settings, signing="{keys: [%s]}" % pub)
            print("signed %d images in %.1f s" % (args.images, time.perf_counter() - t))

        ready_ms, first_ms, keyed_ms = [], [], []
        for run in range(args.runs * (2 if keyed else 1)):
            with_keys = keyed is not None and run % 2 == 1
            warm_page_cache(fw_dir)
            drain(notify)
            server = NotifyingOtad(otad, fw_dir, notify_path, keyed if with_keys else settings)
            try:
                ready, first, body = server.timed_start(notify, "/%s/header" % name,
                                                        benchlib.START_LIMIT)
                if body != want_header:
                    benchlib.die("run %d: /%s/header is %s, expected %s"
                                 % (run + 1, name, body.hex(), want_header.hex()))
                status, block = benchlib.get(server.port, "/%s/block/%d" % (name, last_block))
                if status != 200 or block != want_block:
                    benchlib.die("run %d: /%s/block/%d: status %d, %s bytes differ"
                                 % (run + 1, name, last_block, status, len(block)))
                if with_keys and signed_listed(server.port, args.images) != args.images:
                    benchlib.die("run %d: %d of %d images listed as signed and verified"
                                 % (run + 1, signed_listed(server.port, args.images),
                                    args.images))
            except RuntimeError as e:
                benchlib.die("run %d: %s" % (run + 1, e))
            finally:
                server.stop()
            if with_keys:
                keyed_ms.append(ready * 1e3)
            else:
                ready_ms.append(ready * 1e3)
                first_ms.append(first * 1e3)
            print("run %d%s: READY=1 after %.1f ms, first 200 after %.1f ms"
                  % (run + 1, " (signing.keys)" if with_keys else "", ready * 1e3, first * 1e3))

        crc_gbps, zlib_gbps, accelerated = crc_throughput(tmp, args.total)
        ready_med, first_med = benchlib.median(ready_ms), benchlib.median(first_ms)
        index_gbps = args.total / (ready_med / 1e3) / 1e9
        target_ms = TARGET_MS_PER_GIB * args.total / GIB
        met = ready_med <= target_ms

        fmt = lambda v, spec: "-" if v is None else spec % v
        print()
        print("otad %s, %d images, %d bytes, %d run%s, page cache warm; GB = 10^9 bytes"
              % (otad, args.images, args.total, args.runs, "" if args.runs == 1 else "s"))
        print()
        print(benchlib.table([
            ["time to READY=1 (ms)", "%.1f" % ready_med, "%.1f" % min(ready_ms),
             "%.1f" % max(ready_ms)],
            ["time to first 200 (ms)", "%.1f" % first_med, "%.1f" % min(first_ms),
             "%.1f" % max(first_ms)],
            ["indexing (GB/s, to READY=1)", "%.2f" % index_gbps,
             "%.2f" % (args.total / min(ready_ms) / 1e6),
             "%.2f" % (args.total / max(ready_ms) / 1e6)],
            ["otad CRC-32, block + image, %s (GB/s)"
             % ("ISA-L" if accelerated else "zlib"), fmt(crc_gbps, "%.2f"), "", ""],
            ["zlib crc32(), 256-byte calls (GB/s)", fmt(zlib_gbps, "%.2f"), "", ""],
        ], ["measure", "median", "best", "worst"]))
        verify_ms = None
        if keyed_ms:
            keyed_med = benchlib.median(keyed_ms)
            verify_ms = (keyed_med - ready_med) / args.images
            print()
            print("with signing.keys: READY=1 after %.1f ms (median of %d), %.1f ms more: "
                  "%.3f ms per image, %.3f ms per MiB verified"
                  % (keyed_med, len(keyed_ms), keyed_med - ready_med, verify_ms,
                     (keyed_med - ready_med) / (args.total / (1 << 20))))
        print()
        scaled = "" if args.total == GIB else " (1.5 s per GiB, scaled to %d bytes)" % args.total
        print("target: 1 GiB indexed in <= 1.5 s%s: %s (median READY=1 %.0f ms, limit %.0f ms)"
              % (scaled, "met" if met else "MISSED", ready_med, target_ms))

        if args.json:
            with open(args.json, "w") as f:
                json.dump({"images": args.images, "total_bytes": args.total,
                           "runs": args.runs, "ready_ms": ready_med,
                           "first_200_ms": first_med, "index_gbps": index_gbps,
                           "crc_gbps": crc_gbps, "zlib_crc_gbps": zlib_gbps,
                           "crc_accelerated": accelerated,
                           "all_ready_ms": ready_ms, "all_first_200_ms": first_ms,
                           "target_ms": target_ms, "target_met": met,
                           "all_keyed_ready_ms": keyed_ms, "verify_ms_per_image": verify_ms},
                          f, indent=2)
                f.write("\n")
        return 0
    finally:
        if notify is not None:
            notify.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
