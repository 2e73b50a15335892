# SPDX-License-Identifier: MIT
"""What the smoke tests in this folder share.

Each smoke test runs one script of bench/ once, with short durations and
small counts, then checks the figures the script wrote with --json:

    import smoke
    bench = smoke.Bench("startup")        # runs bench/startup.py
    out, fig = bench.run(["--runs", "2"], timeout=90, otad=True)
    bench.check([(fig.get("runs") == 2, "runs is %r, not 2" % fig.get("runs"))], out)
    bench.passed(out)

Every failure ends the test through sys.exit with a message that starts with
"smoke-NAME:" and carries the script's output (stdout and stderr, merged), so
that the test log shows what the benchmark printed.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile

BENCH_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench")

# How long a benchmark interrupted on timeout may take to stop the servers it
# started before it is killed.
GRACE = 30


class Bench:
    """One smoke test: NAME is the benchmark script, bench/NAME.py."""

    def __init__(self, name):
        self.name = name
        self.script = os.path.join(BENCH_DIR, name + ".py")

    def fail(self, message, output=""):
        """Ends the test with MESSAGE, followed by OUTPUT if there is any."""
        if output:
            message += "\n--- output of bench/%s.py ---\n%s" % (self.name, output)
        sys.exit("smoke-%s: %s" % (self.name, message))

    def run(self, args, timeout, otad=False):
        """Runs the benchmark with ARGS and --json, giving it TIMEOUT seconds.

        With OTAD, $OTAD comes first in the arguments. Returns the output and
        the figures the script wrote; fails if it timed out, exited non-zero
        or wrote no valid JSON.
        """
        if otad:
            path = os.environ.get("OTAD")
            if not path:
                self.fail("$OTAD is not set")
            args = [path] + list(args)
        with tempfile.TemporaryDirectory(prefix="otad-smoke-%s-" % self.name) as tmp:
            json_path = os.path.join(tmp, "figures.json")
            cmd = [sys.executable, self.script] + list(args) + ["--json", json_path]
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            try:
                output, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                # SIGINT, not SIGKILL: the script stops the servers it started
                # on KeyboardInterrupt, a killed one would leave them running.
                proc.send_signal(signal.SIGINT)
                try:
                    output, _ = proc.communicate(timeout=GRACE)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    output, _ = proc.communicate()
                self.fail("bench/%s.py did not finish within %d s" % (self.name, timeout),
                          output)
            if proc.returncode != 0:
                self.fail("bench/%s.py exited with status %d" % (self.name, proc.returncode),
                          output)
            try:
                with open(json_path) as f:
                    figures = json.load(f)
            except (OSError, ValueError) as e:
                self.fail("no JSON figures: %s" % e, output)
        return output, figures

    def check(self, checks, output):
        """Fails listing the message of every (condition, message) pair in
        CHECKS whose condition is false; returns if all of them hold.

        All the conditions and messages are evaluated before the call, so a
        test checks first that the figures it formats are there at all.
        """
        checks = list(checks)
        problems = [message for ok, message in checks if not ok]
        if problems:
            self.fail("%d of %d checks failed:\n%s"
                      % (len(problems), len(checks), "\n".join("  " + p for p in problems)),
                      output)

    def passed(self, output, summary=""):
        """Prints the benchmark's output and a line saying the test passed."""
        print(output.rstrip("\n"))
        print("smoke-%s: OK%s" % (self.name, " (%s)" % summary if summary else ""))
