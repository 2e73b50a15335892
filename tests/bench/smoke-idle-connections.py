"""Smoke run of bench/idle-connections.py with small counts.

Runs the benchmark against $OTAD (300 idle connections, 200 fresh-client
requests) and checks its JSON figures: every connection held and still open
at the end, no errors, an RSS read, latencies present and not pathological.
The figures themselves are judged in docs/PERFORMANCE.md, not here.
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "bench", "idle-connections.py")
CONNECTIONS = 300
REQUESTS = 200
P99_BOUND_MS = 500.0     # far above any sane figure: only a broken run exceeds it
RUN_LIMIT = 50           # seconds


def fail(msg, out=""):
    sys.exit("smoke-idle-connections: %s%s" % (msg, "\n--- output ---\n" + out if out else ""))


def main():
    otad = os.environ.get("OTAD")
    if not otad:
        fail("OTAD is not set")
    with tempfile.TemporaryDirectory(prefix="otad-smoke-idle-") as tmp:
        path = os.path.join(tmp, "figures.json")
        try:
            run = subprocess.run(
                [sys.executable, SCRIPT, otad, "--connections", str(CONNECTIONS),
                 "--requests", str(REQUESTS), "--json", path],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_LIMIT)
        except subprocess.TimeoutExpired:
            fail("the benchmark did not finish within %d s" % RUN_LIMIT)
        out = run.stdout + run.stderr
        if run.returncode != 0:
            fail("the benchmark exited with status %d" % run.returncode, out)
        try:
            with open(path) as f:
                fig = json.load(f)
        except (OSError, ValueError) as e:
            fail("no JSON figures: %s" % e, out)

    checks = [
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
    ]
    problems = [msg for ok, msg in checks if not ok]
    if problems:
        fail("; ".join(problems), out)
    print(out, end="")


if __name__ == "__main__":
    main()
