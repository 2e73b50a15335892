#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Smoke run of bench/https-throughput.py: a 64 KiB image downloaded over
HTTPS from otad and from nginx, with a new connection per download and with
keep-alive, by one client for a quarter of a second each. Checks that both
servers delivered in every configuration (the script itself checks every
length and compares each client's first download with the image), that
both negotiated TLS 1.3, and that each ratio to nginx is there."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smoke  # noqa: E402


def main():
    bench = smoke.Bench("https-throughput")
    out, res = bench.run(["--seconds", "0.25", "--runs", "1", "--size", str(64 * 1024),
                          "--clients", "1", "--protocols", "https"], timeout=120, otad=True)
    rows = {(r["connections"], r["server"]): r for r in res.get("rows", [])}
    ratios = res.get("ratios", [])
    checks = [(len(rows) == 4, "expected 4 rows (2 servers x 2 ways of connecting), got %d"
               % len(rows)),
              (len(ratios) == 2 and all(r["mb_s"] > 0 and r["cpu_per_download"] > 0
                                        for r in ratios),
               "expected 2 positive otad/nginx ratios, got %r" % ratios),
              ("otad: TLSv1.3" in out and "nginx: TLSv1.3" in out,
               "both servers should negotiate TLS 1.3")]
    checks += [(row["downloads"] > 0 and row["mb_s"] > 0 and row["protocol"] == "https",
                "%s: no HTTPS downloads: %r" % ("/".join(key), row))
               for key, row in sorted(rows.items())]
    bench.check(checks, out)
    bench.passed(out)


if __name__ == "__main__":
    main()
