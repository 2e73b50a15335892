#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measures what tracked devices cost otad in resident memory.

    bench/fleet-memory.py [OTAD] [--devices N] [--json PATH]

Starts otad (OTAD from the first argument, else $OTAD, else build/otad) on
127.0.0.1 with an ephemeral port, no admin listener and a temporary firmware
directory holding a random 64 KiB image, and reads its VmRSS from
/proc/PID/status once it answers. It then makes N devices known (default
100,000, fleet.max_devices' default): one /app/header request each with a
distinct X-Device-Id, pipelined over four keep-alive connections
(benchlib.make_devices), and reads VmRSS again once the connections are
closed. The same runs a second time with fleet.track off, as the control:
what the same requests cost without the registry (the library's buffers,
the allocator's arenas).

Prints both daemons' RSS before and after, and the growth with tracking,
with the target (<= 64 MiB more for 100,000 devices) as met or missed; it
is not enforced. --json PATH writes the figures as a JSON object. Exits 0
when measured, non-zero on an error (otad died, a request not answered 200,
a limit passed). The requests are bounded by DEVICES_LIMIT seconds a run.
Stops each otad by its PID.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

DEVICES_LIMIT = 600.0     # seconds to make the devices known, a run
SETTLE = 0.5              # seconds after the last request before reading RSS
TARGET_MIB = 64
TARGET_DEVICES = 100000


def run(otad, fw, devices, track):
    """(RSS KiB before, RSS KiB after, seconds of requests) for one daemon."""
    settings = {} if track else {"fleet": "{track: false}"}
    with benchlib.Otad(otad, fw, settings).start("/app/header") as server:
        before = server.rss_kib()
        made = benchlib.make_devices(server.port, "app", devices, limit=DEVICES_LIMIT)
        time.sleep(SETTLE)
        if server.proc.poll() is not None:
            raise RuntimeError("otad exited:\n" + server.output())
        return before, server.rss_kib(), made


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("otad", nargs="?", default=benchlib.default_otad())
    p.add_argument("--devices", type=int, default=TARGET_DEVICES)
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args()
    otad = benchlib.require_executable(args.otad, "otad")
    try:
        with benchlib.firmware_dir("app", 64 * benchlib.KIB) as fw:
            tracked = run(otad, fw, args.devices, True)
            untracked = run(otad, fw, args.devices, False)
    except (RuntimeError, OSError, EOFError) as e:
        benchlib.die(str(e))
    grew = (tracked[1] - tracked[0]) / 1024
    control = (untracked[1] - untracked[0]) / 1024
    met = "met" if grew <= TARGET_MIB else "missed"
    print("otad RSS, %d devices (one header request each)" % args.devices)
    print("  tracked:   %.1f MiB before, %.1f MiB after: %.1f MiB more; target <= %d MiB: %s"
          % (tracked[0] / 1024, tracked[1] / 1024, grew, TARGET_MIB, met))
    print("  untracked: %.1f MiB before, %.1f MiB after: %.1f MiB more (fleet.track: false)"
          % (untracked[0] / 1024, untracked[1] / 1024, control))
    print("  (the requests took %.1f s and %.1f s)" % (tracked[2], untracked[2]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"devices": args.devices,
                       "tracked_kib": {"before": tracked[0], "after": tracked[1]},
                       "untracked_kib": {"before": untracked[0], "after": untracked[1]},
                       "tracked_growth_mib": round(grew, 1),
                       "untracked_growth_mib": round(control, 1)}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
