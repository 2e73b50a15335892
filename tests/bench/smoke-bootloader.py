#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Smoke run of bench/bootloader.py --quick: sizes, the host sweep and the
QEMU swap figures.

Checks that both bootloaders of each port are within 32 KiB, that the sweep
printed its two summary lines with no bricked, mixed or wrong image, and that
the install and revert figures are there and sane: some steps, a positive
guest time no longer than a second, a worst step no longer than the whole
swap. The figures themselves are not judged (see docs/PERFORMANCE.md).
Needs $OTAD (its directory is the build); skips without the ARM compiler or
qemu-system-arm.
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smoke  # noqa: E402

TIMEOUT = 600


def main():
    if not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")):
        print("skipped: arm-none-eabi-gcc or qemu-system-arm not found")
        sys.exit(77)
    bench = smoke.Bench("bootloader")
    build = os.path.dirname(os.path.abspath(os.environ.get("OTAD", "build/otad")))
    out, res = bench.run(["--quick", "--build", build], timeout=TIMEOUT)
    bench.check([(isinstance(res.get(k), (dict, list)), "JSON has no %r" % k)
                 for k in ("sizes", "sweep", "swaps")], out)
    sizes = res["sizes"]
    checks = [(len(sizes) == 4, "expected 4 bootloader sizes, got %r" % sizes)]
    checks += [(0 < v <= 32768, "%s is %r bytes" % (k, v)) for k, v in sizes.items()]
    for line in res["sweep"]["lines"]:
        checks.append((line["cuts"] > 0 and line["lives"] > line["cuts"],
                       "sweep line without cuts: %r" % line))
        checks += [(line[k] == 0, "sweep %s: %s = %r" % (line["images"], k, line[k]))
                   for k in ("bricked", "mixed", "wrong_image")]
    for s in res["swaps"]:
        checks += [
            (s["steps"] > 0, "%s: no step done" % s["kind"]),
            (0 < s["guest_ms"] < 1000, "%s: guest time %r ms" % (s["kind"], s["guest_ms"])),
            (0 < s["worst_step_ms"] <= s["guest_ms"],
             "%s: worst step %r ms of %r" % (s["kind"], s["worst_step_ms"], s["guest_ms"])),
            (s["instructions_m"] > 0, "%s: no instruction count" % s["kind"]),
        ]
    checks.append(([s["kind"] for s in res["swaps"]] == ["install", "revert"],
                   "swap figures %r" % [s["kind"] for s in res["swaps"]]))
    bench.check(checks, out)
    bench.passed(out)


if __name__ == "__main__":
    main()
