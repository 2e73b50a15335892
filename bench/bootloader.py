#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measures the reference bootloader: size, swap cost, wear, and the sweep.

    bench/bootloader.py [--build DIR] [--quick] [--json PATH]

- Size: builds both STM32F4 bootloaders (make -C firmware/port/stm32f4, the
  F401 and LAYOUT=f405 builds) and both QEMU boards (firmware/port/qemu-mps2)
  into a temporary directory, and reports text+data of each (arm-none-eabi-size)
  against the 32 KiB budget.
- Host sweep: runs DIR/tests/firmware/test-powercut-dual (DIR defaults to
  build/), the dual-slot power-cut sweep, and reports its summary lines and
  its wall time.
- QEMU swap: runs the AbPowerCuts.test_power_cuts scenario of
  tests/qemu/scenarios_ab.py against DIR/otad. Its reference runs report, for
  an install (15 KiB -> 141 KiB, across a sector boundary) and a revert, the
  guest time of the whole swap and of its worst step (one 128 KiB sector
  erased and copied), the guest instruction count with -icount shift=0, and
  the erases by area.
- Without --quick, also AbServerDown: the time from an update request to the
  application running again with no server, dual slot against single slot.

Prints a Markdown table, and the figures as JSON to --json. Every server the
scenarios start binds 127.0.0.1 on an ephemeral port and is stopped by its
PID; every QEMU run has a deadline.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import benchlib

BOOT_MAX = 32768
SIZE_RX = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s", re.M)
SWEEP_RX = re.compile(r"^powercut: layout=(\S+) cuts=(\d+) double_cuts=(\d+) random=(\d+) "
                      r"bricked=(\d+) mixed=(\d+) wrong_image=(\d+) \((.*), (\d+) lives\)$", re.M)
SWAP_RX = re.compile(r"SWAP (\S+) (.*?) \((\d+) -> (\d+) bytes\): (\d+) steps done, ([\d.]+) ms "
                     r"guest time \(([\d.]+) M guest instructions with -icount shift=0\); "
                     r"worst step ([\d.]+) ms \((\S+) sector: erase \+ copy of 128 KiB, "
                     r"([\d.]+) M instructions\); erases (.*)$", re.M)
DOWN_RX = re.compile(r"SERVER DOWN: .*dual-slot ([\d.]+) s .* single-slot ([\d.]+) s")


def run(cmd, timeout, env=None):
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout, env=env)
    out = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0:
        benchlib.die("%s failed (%d):\n%s" % (" ".join(cmd), r.returncode, out[-3000:]))
    return out


def text_data(elf):
    m = SIZE_RX.search(run([benchlib.require_program("arm-none-eabi-size"), elf], 30))
    return int(m.group(1)) + int(m.group(2))


def sizes(tmp):
    stm32 = os.path.join(benchlib.ROOT, "firmware", "port", "stm32f4")
    qemu = os.path.join(benchlib.ROOT, "firmware", "port", "qemu-mps2")
    out = os.path.join(tmp, "stm32")
    # Signature verification with the two test keys, as check-build.sh builds
    # them; the QEMU boards apart from the scenarios' (legacy) images.
    keys = "KEYS=" + " ".join(os.path.join(benchlib.ROOT, "tests", "unit", "sign", k)
                              for k in ("a.pub", "b.pub"))
    run(["make", "-C", stm32, "--no-print-directory", "BUILD=" + out, keys], 300)
    run(["make", "-C", stm32, "--no-print-directory", "BUILD=" + out, "LAYOUT=f405", keys], 300)
    run(["make", "-C", qemu, "--no-print-directory", "BUILD=" + os.path.join(tmp, "qemu-size"),
         keys], 300)
    return {
        "stm32f4 f401": text_data(os.path.join(out, "bootloader.elf")),
        "stm32f4 f405": text_data(os.path.join(out, "f405", "bootloader.elf")),
        "qemu-mps2 f401": text_data(os.path.join(tmp, "qemu-size", "boot.elf")),
        "qemu-mps2 f405": text_data(os.path.join(tmp, "qemu-size", "boot-f405.elf")),
    }


def sweep(build):
    exe = benchlib.require_executable(
        os.path.join(build, "tests", "firmware", "test-powercut-dual"), "sweep test")
    t0 = time.monotonic()
    out = run([exe], 900)
    secs = time.monotonic() - t0
    lines = [dict(zip(("layout", "cuts", "double_cuts", "random", "bricked", "mixed",
                       "wrong_image", "images", "lives"),
                      [m.group(1)] + [int(g) for g in m.groups()[1:7]] + [m.group(8),
                                                                           int(m.group(9))]))
             for m in SWEEP_RX.finditer(out)]
    if len(lines) != 2:
        benchlib.die("the sweep printed %d summary lines, not 2:\n%s" % (len(lines), out))
    return {"seconds": round(secs, 1), "lines": lines,
            "text": [m.group(0) for m in SWEEP_RX.finditer(out)]}


def scenarios(build, tmp, names):
    env = dict(os.environ, OTAD=os.path.join(build, "otad"), QEMU_BUILD=os.path.join(tmp, "qemu"),
               FIRMWARE=os.path.join(benchlib.ROOT, "firmware"), PYTHONDONTWRITEBYTECODE="1")
    return run([sys.executable, os.path.join(benchlib.ROOT, "tests", "qemu", "scenarios_ab.py")]
               + names, 900, env)


def swaps(out):
    res = []
    for m in SWAP_RX.finditer(out):
        res.append({"kind": m.group(1), "what": m.group(2), "from_bytes": int(m.group(3)),
                    "to_bytes": int(m.group(4)), "steps": int(m.group(5)),
                    "guest_ms": float(m.group(6)), "instructions_m": float(m.group(7)),
                    "worst_step_ms": float(m.group(8)), "worst_step_area": m.group(9),
                    "worst_step_instructions_m": float(m.group(10)),
                    "erases": dict(kv.split("=") for kv in m.group(11).split())})
    if len(res) != 2:
        benchlib.die("expected an install and a revert figure, got %d:\n%s" % (len(res), out))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(benchlib.ROOT, "build"))
    ap.add_argument("--quick", action="store_true", help="skip the server-down comparison")
    ap.add_argument("--json")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    res = {}
    with tempfile.TemporaryDirectory(prefix="otad-bench-boot-") as tmp:
        res["sizes"] = sizes(tmp)
        res["sweep"] = sweep(build)
        names = ["AbPowerCuts.test_power_cuts"] + ([] if args.quick else ["AbServerDown"])
        out = scenarios(build, tmp, names)
        res["swaps"] = swaps(out)
        m = DOWN_RX.search(out)
        if m:
            res["server_down_s"] = {"dual": float(m.group(1)), "single": float(m.group(2))}
    rows = [("bootloader " + k, "%d of %d bytes" % (v, BOOT_MAX)) for k, v in res["sizes"].items()]
    for s in res["swaps"]:
        rows.append(("%s %s, %d steps" % (s["kind"], s["what"], s["steps"]),
                     "%.1f ms guest time, %.1f M instructions; worst step %.1f ms (%.2f M); "
                     "erases %s" % (s["guest_ms"], s["instructions_m"], s["worst_step_ms"],
                                    s["worst_step_instructions_m"],
                                    " ".join("%s=%s" % kv for kv in sorted(s["erases"].items())))))
    if "server_down_s" in res:
        rows.append(("request to app, no server", "dual slot %.2f s, single slot %.2f s"
                     % (res["server_down_s"]["dual"], res["server_down_s"]["single"])))
    rows.append(("host power-cut sweep", "%.1f s" % res["sweep"]["seconds"]))
    print(benchlib.table(rows, ("what", "measured")))
    for line in res["sweep"]["text"]:
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
