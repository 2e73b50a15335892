# SPDX-License-Identifier: MIT
"""Smoke run of bench/idle-connections.py with small counts.

Runs the benchmark against $OTAD (300 idle connections, 200 fresh-client
requests) and checks its JSON figures: every connection held and still open
at the end, no errors, an RSS read, latencies present and not pathological.
The figures themselves are judged in docs/PERFORMANCE.md, not here.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smoke  # noqa: E402

CONNECTIONS = 300
REQUESTS = 200
P99_BOUND_MS = 500.0     # far above any sane figure: only a broken run exceeds it
RUN_LIMIT = 50           # seconds


def main():
    bench = smoke.Bench("idle-connections")
    out, fig = bench.run(["--connections", str(CONNECTIONS), "--requests", str(REQUESTS)],
                         timeout=RUN_LIMIT, otad=True)
    bench.check([
        (fig.get("connections") == CONNECTIONS,
         "connections is %r, not %d" % (fig.get("connections"), CONNECTIONS)),
        (fig.get("held") == CONNECTIONS,
         "%r of %d idle connections held" % (fig.get("held"), CONNECTIONS)),
        (fig.get("survived") == CONNECTIONS,
         "%r of %d idle connections survived" % (fig.get("survived"), CONNECTIONS)),
        (fig.get("errors") == 0, "%r errors" % fig.get("errors")),
        (fig.get("requests") == REQUESTS,
         "%r of %d fresh-client requests answered" % (fig.get("requests"), REQUESTS)),
        ((fig.get("rss_kib") or 0) > 0, "RSS not measured: %r" % fig.get("rss_kib")),
        ((fig.get("rss_before_kib") or 0) > 0,
         "RSS before not measured: %r" % fig.get("rss_before_kib")),
        (0 < (fig.get("p99_ms") or 0) < P99_BOUND_MS,
         "fresh-client p99 %r ms is not in (0, %.0f)" % (fig.get("p99_ms"), P99_BOUND_MS)),
        (0 < (fig.get("p50_ms") or 0) <= (fig.get("p99_ms") or 0) <= (fig.get("max_ms") or 0),
         "latencies out of order: p50 %r, p99 %r, max %r ms"
         % (fig.get("p50_ms"), fig.get("p99_ms"), fig.get("max_ms"))),
    ], out)
    bench.passed(out)


if __name__ == "__main__":
    main()
