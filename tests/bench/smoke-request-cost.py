#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Smoke run of bench/request-cost.py: 200 and 600 requests, all three servers.

Checks that the script exits 0 and that its JSON holds sane figures: an
instruction count per request for otad and nginx (under callgrind), and the
bytes on the wire of one block request for otad, nginx and the reference
server. The figures themselves are not judged (see docs/PERFORMANCE.md).
Needs $OTAD, valgrind, nginx and Debian's python3-flask.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smoke  # noqa: E402

TIMEOUT = 90
IR_RANGE = (1000, 10000000)   # instructions per request that are plausible at all
BLOCK_HEADER_LIMIT = 128      # the protocol's bound on a block response's header
PAYLOAD = 260
IR_SERVERS = ("otad", "nginx")
WIRE_SERVERS = ("otad", "nginx", "reference")


def main():
    bench = smoke.Bench("request-cost")
    out, res = bench.run(["--requests", "200,600"], timeout=TIMEOUT, otad=True)
    wire = res.get("wire") or {}

    # First that the figures are there, as the checks below compare them.
    checks = [(res.get("%s_ir_per_request" % server) is not None,
               "JSON has no %s_ir_per_request: %r" % (server, res)) for server in IR_SERVERS]
    for server in WIRE_SERVERS:
        w = wire.get(server)
        checks += [
            (w is not None, "JSON has no wire figures for %s: %r" % (server, wire)),
            ((w or {}).get("request", 0) > 0 and (w or {}).get("response_header", 0) > 0,
             "%s: request or response header length missing: %r" % (server, w)),
        ]
    bench.check(checks, out)

    checks = []
    for server in IR_SERVERS:
        per = res["%s_ir_per_request" % server]
        checks.append((IR_RANGE[0] < per < IR_RANGE[1],
                       "%s: %r instructions per request, outside the sane range %d..%d"
                       % (server, per, IR_RANGE[0], IR_RANGE[1])))
    for server in WIRE_SERVERS:
        payload = wire[server].get("payload")
        checks.append((payload == PAYLOAD,
                       "%s: payload %r, expected %d" % (server, payload, PAYLOAD)))
    otad_header = wire["otad"]["response_header"]
    reference_header = wire["reference"]["response_header"]
    checks += [
        (otad_header < BLOCK_HEADER_LIMIT,
         "otad's block response header is %d bytes, the protocol allows less than %d"
         % (otad_header, BLOCK_HEADER_LIMIT)),
        (reference_header > otad_header,
         "the reference server's response header (%d bytes) is not larger than "
         "otad's (%d bytes)" % (reference_header, otad_header)),
        ("Ir per request" in out and "overhead" in out,
         "the tables are missing from the output"),
    ]
    bench.check(checks, out)
    bench.passed(out, "otad %.0f, nginx %.0f Ir per request; otad header %d bytes"
                 % (res["otad_ir_per_request"], res["nginx_ir_per_request"], otad_header))


if __name__ == "__main__":
    main()
