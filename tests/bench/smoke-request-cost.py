#!/usr/bin/env python3
"""Smoke run of bench/request-cost.py: 200 and 600 requests, all three servers.

Checks that the script exits 0 and that its JSON holds sane figures: an
instruction count per request for otad and nginx (under callgrind), and the
bytes on the wire of one block request for otad, nginx and the reference
server. The figures themselves are not judged (see docs/PERFORMANCE.md).
Needs $OTAD, valgrind, nginx and Debian's python3-flask.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "bench", "request-cost.py")
TIMEOUT = 90
IR_RANGE = (1000, 10000000)   # instructions per request that are plausible at all
BLOCK_HEADER_LIMIT = 128      # the protocol's bound on a block response's header
PAYLOAD = 260


def fail(msg):
    sys.exit("smoke-request-cost: FAIL: %s" % msg)


def run_script(cmd):
    """Runs the benchmark; on timeout, interrupts it so that it stops the
    servers it started, then fails."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        print(out)
        print(err, file=sys.stderr)
        fail("bench/request-cost.py took more than %d s" % TIMEOUT)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def main():
    otad = os.environ.get("OTAD")
    if not otad:
        fail("$OTAD is not set")
    with tempfile.TemporaryDirectory(prefix="otad-smoke-request-cost-") as tmp:
        out_json = os.path.join(tmp, "request-cost.json")
        cmd = [sys.executable, SCRIPT, otad, "--requests", "200,600", "--json", out_json]
        run = run_script(cmd)
        print(run.stdout)
        print(run.stderr, file=sys.stderr)
        if run.returncode != 0:
            fail("bench/request-cost.py exited with %d: %s"
                 % (run.returncode, run.stderr.strip()))
        if not os.path.exists(out_json):
            fail("no JSON written to %s" % out_json)
        with open(out_json) as f:
            res = json.load(f)

    for server in ("otad", "nginx"):
        per = res.get("%s_ir_per_request" % server)
        if per is None:
            fail("JSON has no %s_ir_per_request: %r" % (server, res))
        if not IR_RANGE[0] < per < IR_RANGE[1]:
            fail("%s: %r instructions per request, outside the sane range %d..%d"
                 % (server, per, IR_RANGE[0], IR_RANGE[1]))

    wire = res.get("wire") or {}
    for server in ("otad", "nginx", "reference"):
        w = wire.get(server)
        if w is None:
            fail("JSON has no wire figures for %s: %r" % (server, wire))
        if w.get("payload") != PAYLOAD:
            fail("%s: payload %r, expected %d" % (server, w.get("payload"), PAYLOAD))
        if not w.get("request", 0) > 0 or not w.get("response_header", 0) > 0:
            fail("%s: request or response header length missing: %r" % (server, w))
    if wire["otad"]["response_header"] >= BLOCK_HEADER_LIMIT:
        fail("otad's block response header is %d bytes, the protocol allows less than %d"
             % (wire["otad"]["response_header"], BLOCK_HEADER_LIMIT))
    if wire["reference"]["response_header"] <= wire["otad"]["response_header"]:
        fail("the reference server's response header (%d bytes) is not larger than "
             "otad's (%d bytes)"
             % (wire["reference"]["response_header"], wire["otad"]["response_header"]))
    if "Ir per request" not in run.stdout or "overhead" not in run.stdout:
        fail("the tables are missing from the output")
    print("smoke-request-cost: OK (otad %.0f, nginx %.0f Ir per request; otad header %d bytes)"
          % (res["otad_ir_per_request"], res["nginx_ir_per_request"],
             wire["otad"]["response_header"]))


if __name__ == "__main__":
    main()
