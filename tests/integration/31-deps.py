#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/deps.sh's two sets: the build set, which scripts/demo.sh
installs, holds what building otad needs (a package for every pkg-config
dependency the meson files declare) and none of the test toolchain; the
test set, the default, adds the test tools. No daemon: this reads the
scripts and asks dpkg which package owns each .pc file."""

import glob
import os
import re
import subprocess
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
DEPS = os.path.join(TOP, "scripts", "deps.sh")
DEMO = os.path.join(TOP, "scripts", "demo.sh")
# The heavy tools the issue counted in the demo's 950 MiB, and nginx, whose
# package enables and starts a service.
TEST_ONLY = {"qemu-system-arm", "gcc-arm-none-eabi", "libnewlib-arm-none-eabi",
             "nginx", "valgrind", "clang", "wrk", "chromium"}


def package_set(*args):
    r = subprocess.run(["sh", DEPS, "--list"] + list(args), capture_output=True,
                       text=True, timeout=10)
    if r.returncode != 0:
        raise AssertionError("deps.sh --list %s: %s" % (" ".join(args), r.stderr))
    return set(r.stdout.split())


def meson_dependencies():
    names = set()
    for path in [os.path.join(TOP, "meson.build")] + glob.glob(
            os.path.join(TOP, "**", "meson.build"), recursive=True):
        if os.sep + "build" in path[len(TOP):]:
            continue
        with open(path, encoding="utf-8") as f:
            names |= set(re.findall(r"dependency\('([^']+)'", f.read()))
    return names - {"threads"}      # the compiler's, no .pc file


def owner(pc_name):
    pc = subprocess.run(["pkg-config", "--path", pc_name], capture_output=True,
                        text=True, timeout=10).stdout.strip()
    if not pc:
        raise AssertionError("no .pc file for %s" % pc_name)
    r = subprocess.run(["dpkg", "-S", os.path.realpath(pc)], capture_output=True,
                       text=True, timeout=10)
    if r.returncode != 0:
        r = subprocess.run(["dpkg", "-S", pc], capture_output=True, text=True, timeout=10)
    return r.stdout.split(":")[0]


class DepsSets(unittest.TestCase):
    def test_build_set_has_no_test_tools(self):
        self.assertEqual(package_set("build") & TEST_ONLY, set())

    def test_test_set_is_the_default_and_adds_the_tools(self):
        build, test = package_set("build"), package_set("test")
        self.assertEqual(package_set(), test)
        self.assertLessEqual(build, test)
        self.assertLessEqual(TEST_ONLY, test)

    def test_build_set_provides_every_meson_dependency(self):
        build = package_set("build")
        names = meson_dependencies()
        self.assertIn("libmicrohttpd", names)
        for name in sorted(names):
            with self.subTest(dependency=name):
                self.assertIn(owner(name), build)

    def test_unknown_set_is_a_usage_error(self):
        r = subprocess.run(["sh", DEPS, "--list", "everything"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage", r.stderr)

    def test_demo_installs_the_build_set_and_enables_nothing(self):
        with open(DEMO, encoding="utf-8") as f:
            code = [line.split("#")[0].strip() for line in f]
        self.assertIn("scripts/deps.sh build", code)
        self.assertFalse([c for c in code if "systemctl" in c or "service " in c], code)


if __name__ == "__main__":
    unittest.main(verbosity=2)
