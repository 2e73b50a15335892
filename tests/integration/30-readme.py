#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The README's curl examples, run as printed against the real otad serving
the demo directory (what scripts/demo.sh serves): each example's output must
be what the README shows under it, dates aside. An example the README
changes, or a demo file that no longer matches it, fails here.

Environment: OTAD as for every test, OTAGET for the otaget examples
(build/firmware/otaget in the README); curl, xxd and python3 on PATH
(scripts/deps.sh build installs them)."""

import os
import re
import subprocess

from otadtest import OtadTestCase, main

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
README = os.path.join(TOP, "README.md")
DEMO = os.path.join(TOP, "demo")
DEMO_URL = "http://127.0.0.1:8000"
OTAGET_AS_PRINTED = "build/firmware/otaget "
RUN_TIMEOUT = 20    # seconds per example
OTAGET = os.environ.get("OTAGET") or os.path.join(TOP, "build", "firmware", "otaget")

# A date in the listing (ISO 8601, UTC) or in an HTTP header (IMF-fixdate):
# both depend on when the demo files were written; and otaget's time taken.
DATES = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
                   r"|[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT"
                   r"|(?<=attempt, )\d+\.\d\d s$", re.M)


def console_examples(text):
    """(command, expected output) for every `$ curl ... 127.0.0.1:8000`
    line of the README's console blocks, the output being the lines up to
    the next prompt or the end of the block."""
    examples = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.M | re.S):
        command, output = None, []
        for line in block.split("\n"):
            if line.startswith("$ "):
                if command is not None:
                    examples.append((command, output))
                command, output = line[2:], []
            elif command is not None:
                output.append(line)
        if command is not None:
            examples.append((command, output))
    return [(c, "\n".join(o)) for c, o in examples
            if c.startswith(("curl ", OTAGET_AS_PRINTED)) and DEMO_URL in c]


def normalise(text):
    return DATES.sub("DATE", text.replace("\r", "")).rstrip("\n")


class ReadmeExamples(OtadTestCase):
    def setUp(self):
        super().setUp()
        with open(README, encoding="utf-8") as f:
            self.readme = f.read()
        self.examples = console_examples(self.readme)

    def run_example(self, port, command):
        command = command.replace(DEMO_URL, "http://127.0.0.1:%d" % port)
        if command.startswith(OTAGET_AS_PRINTED):
            command = OTAGET + " " + command[len(OTAGET_AS_PRINTED):]
        return subprocess.run(["sh", "-c", command], cwd=self.tmp, capture_output=True,
                              timeout=RUN_TIMEOUT, text=True)

    def test_found_the_examples(self):
        # Guards the parser: a README reformatted so that nothing matches
        # would otherwise pass with zero examples run.
        commands = [c for c, _ in self.examples]
        self.assertGreaterEqual(len(commands), 13, commands)
        self.assertIn("curl http://127.0.0.1:8000/firmwares", commands)
        self.assertIn("curl -sI http://127.0.0.1:8000/app/image", commands)
        self.assertIn("build/firmware/otaget http://127.0.0.1:8000/app --out app.bin", commands)

    def test_every_example_prints_what_the_readme_shows(self):
        d = self.start(firmware_dir=DEMO)
        for command, expected in self.examples:
            with self.subTest(command=command):
                r = self.run_example(d.port, command)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(normalise(r.stdout), normalise(expected))

    def test_the_first_command_works(self):
        # The one the README suggests right after scripts/demo.sh, inline.
        m = re.search(r"then, in another terminal: `(curl [^`]*)`", self.readme)
        self.assertIsNotNone(m)
        listing = dict(self.examples)[m.group(1)]
        d = self.start(firmware_dir=DEMO)
        r = self.run_example(d.port, m.group(1))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(normalise(r.stdout), normalise(listing))


if __name__ == "__main__":
    main()
