#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Command line, configuration errors and start-up failures (exit codes)."""

import os
import re
import socket

from otadtest import (Otad, OtadTestCase, free_port, ipv6_loopback_available, main,
                      run_otad, vector, with_user)

EX_USAGE, EX_CONFIG = 2, 78


class Startup(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()

    def run_with(self, config_text, *args):
        """Run otad with a config file (and flags) and return (proc, cfg path)."""
        cfg = self.config(config_text)
        return run_otad(["--config", cfg] + list(args)), cfg

    def serve_args(self, port=None):
        return ["--firmware-dir", self.dir, "--bind", "127.0.0.1",
                "--port", str(port or free_port())]

    # --- a firmware_dir otad cannot serve: exit 78, --check-config too ----
    def assertFirmwareDirRefused(self, path, why, config=""):
        """A start and --check-config both exit 78 naming `path` and `why`."""
        for extra in ([], ["--check-config"]):
            p, _ = self.run_with(config, "--firmware-dir", path, "--bind", "127.0.0.1",
                                 "--port", str(free_port()), *extra)
            self.assertEqual(p.returncode, EX_CONFIG, (extra, p.stderr))
            self.assertIn("%s: %s" % (path, why), p.stderr.decode())
            self.assertNotIn("configuration OK", p.stdout.decode())

    def test_firmware_dir_missing(self):
        self.assertFirmwareDirRefused(os.path.join(self.tmp, "no-such-dir"),
                                      "No such file or directory")

    def test_firmware_dir_is_file(self):
        self.assertFirmwareDirRefused(os.path.join(self.dir, "vec.bin"), "not a directory")

    def test_firmware_dir_unreadable(self):
        """A directory without read permission for the user otad runs as."""
        locked = os.path.join(self.tmp, "locked")
        os.mkdir(locked, 0o300)
        if os.geteuid() != 0:
            self.assertFirmwareDirRefused(locked, "Permission denied")
            return
        # As root the directory is readable; the user otad becomes (nobody)
        # cannot enter this test's 0700 scratch directory: the start fails
        # with the same status once it has dropped root.
        p, _ = self.run_with("user: nobody\n", "--firmware-dir", locked, "--bind",
                             "127.0.0.1", "--port", str(free_port()))
        self.assertEqual(p.returncode, EX_CONFIG, p.stderr)
        self.assertIn(locked, p.stderr.decode())

    # --- runtime failures at start: exit 1 -------------------------------
    def test_port_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            p, _ = self.run_with("", *self.serve_args(s.getsockname()[1]))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertTrue(p.stderr)

    # --- configuration errors: exit 78 with FILE:LINE:COL -----------------
    def assertConfigError(self, text, line, message):
        """Exit 78, and stderr has CFG:LINE:COL: followed by `message`
        (line None: any line, for YAML syntax errors found at end of input)."""
        line_re = r"\d+" if line is None else str(line)
        p, cfg = self.run_with(text, *self.serve_args())
        pattern = re.escape(cfg) + r":%s:\d+: .*%s" % (line_re, re.escape(message))
        err = p.stderr.decode()
        self.assertEqual(p.returncode, EX_CONFIG, err)
        self.assertRegex(err, pattern)
        # --check-config reports the same error with the same status.
        p = run_otad(["--config", cfg, "--check-config"])
        self.assertEqual(p.returncode, EX_CONFIG, p.stderr)
        self.assertRegex(p.stderr.decode(), pattern)

    def test_unknown_key(self):
        self.assertConfigError("port: 8000\nfoo: 1\n", 2, "unknown key 'foo'")

    def test_port_out_of_range(self):
        self.assertConfigError("idle_timeout: 5\n\nport: 70000\n", 3,
                               "port: 70000 is out of range 1..65535")
        self.assertConfigError("port: 0\n", 1, "out of range")

    def test_wrong_types(self):
        self.assertConfigError("port: abc\n", 1, "port: expected an integer")
        self.assertConfigError("legacy_keep_alive: maybe\n", 1, "legacy_keep_alive")
        self.assertConfigError("idle_timeout: 0\n", 1, "idle_timeout")
        self.assertConfigError("threads: 257\n", 1, "threads")
        self.assertConfigError("max_connections: 15\n", 1, "max_connections")
        self.assertConfigError("log_level: loud\n", 1, "log_level")
        self.assertConfigError("bind: not-an-address\n", 1, "bind")
        self.assertConfigError("firmware_dir: ''\n", 1, "firmware_dir")

    def test_structure_errors(self):
        self.assertConfigError("port: 1\nport: 2\n", 2, "port")      # duplicate key
        self.assertConfigError("- a\n- b\n", 1, "")                  # not a mapping
        self.assertConfigError("port: [1\n", None, "")                  # YAML syntax error

    def check_config(self, text):
        """--check-config on `text`: (status, stderr lines, cfg path)."""
        p, cfg = self.run_with(text, "--firmware-dir", self.dir, "--check-config")
        return p.returncode, p.stderr.decode().splitlines(), cfg

    def test_every_error_in_one_run(self):
        """A bad value is skipped and the file read on: each error on its
        own line, in file order, and the good keys between them still count."""
        text = ("port: 70000\n"          # 1: out of range
                "nosuch: {a: [1, 2]}\n"  # 2: unknown key with a nested value
                "idle_timeout: 5\n"      # 3: fine
                "tls:\n"                 # 4: the section, cert without key
                "  cert: /x.pem\n"       # 5
                "  bogus: 1\n"           # 6: unknown in the section
                "threads: [1, 2]\n"      # 7: a list for a number
                "port: 2\n"              # 8: duplicate
                "log_level: loud\n")     # 9: bad word
        status, lines, cfg = self.check_config(text)
        self.assertEqual(status, EX_CONFIG, lines)
        expected = [(1, 7, "port: 70000 is out of range 1..65535"),
                    (2, 1, "unknown key 'nosuch'"),
                    (6, 3, "unknown key 'tls.bogus'"),
                    (4, 1, "tls: both cert and key are needed"),
                    (7, 10, "threads: expected a single value, not a list"),
                    (8, 1, "duplicate key 'port'"),
                    (9, 12, "log_level: expected error, warning, info or debug, got 'loud'")]
        self.assertEqual(lines, ["%s:%d:%d: %s" % (cfg, l, c, m) for l, c, m in expected])
        # A real start refuses the same file with the same lines.
        p, _ = self.run_with(text, *self.serve_args())
        self.assertEqual(p.returncode, EX_CONFIG)
        self.assertEqual(p.stderr.decode().splitlines(), lines)

    def test_syntax_error_where_it_began(self):
        """An unclosed quote is found at the end of the file; the error
        points at the quote, with libyaml's words for what it was reading,
        after the errors before it."""
        status, lines, cfg = self.check_config('port: 0\nidle_timeout: 5\nbind: "127.0.0.1\n'
                                               'port: 8000\n')
        self.assertEqual(status, EX_CONFIG, lines)
        self.assertEqual(lines, [
            "%s:1:7: port: 0 is out of range 1..65535" % cfg,
            "%s:3:7: found unexpected end of stream, while scanning a quoted scalar"
            " that starts at 3:7" % cfg])
        status, lines, cfg = self.check_config("port: [1\nthreads: 2\n")
        self.assertEqual(status, EX_CONFIG, lines)
        self.assertEqual(len(lines), 2, lines)
        self.assertEqual(lines[0], "%s:1:7: port: expected a single value, not a list" % cfg)
        self.assertRegex(lines[1], "^%s:1:7: .*, while parsing a flow sequence that starts "
                         "at 1:7$" % re.escape(cfg))

    def test_config_unreadable(self):
        missing = os.path.join(self.tmp, "missing.yaml")
        p = run_otad(["--config", missing] + self.serve_args())
        self.assertEqual(p.returncode, EX_CONFIG, p.stderr)
        self.assertIn(missing, p.stderr.decode())

    # --- --check-config -------------------------------------------------
    def test_check_config_ok(self):
        """A full valid file passes; --check-config neither binds nor loads
        images (the port here is taken)."""
        text = ("firmware_dir: %s\nbind: '::'\nport: 8000\nidle_timeout: 60\n"
                "legacy_keep_alive: yes\nlog_level: debug\nthreads: 0\nmax_connections: 16384\n"
                % self.dir)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            p, cfg = self.run_with(text, "--check-config", "--port", str(s.getsockname()[1]))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("%s: configuration OK" % cfg, p.stdout.decode())
        p, cfg = self.run_with("", "--check-config", "--firmware-dir", self.dir)  # defaults
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_check_config_bad_flag(self):
        p, _ = self.run_with("", "--check-config", "--port", "0")
        self.assertEqual(p.returncode, EX_CONFIG)

    # --- command line ----------------------------------------------------
    def test_version_and_help(self):
        for flag in ("--version", "-V"):
            p = run_otad([flag])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout.decode(), r"^otad \S+")
        for flag in ("--help", "-h"):
            p = run_otad([flag])
            self.assertEqual(p.returncode, 0, p.stderr)
            out = p.stdout.decode()
            for option in ("--config", "--firmware-dir", "--bind", "--port", "--check-config"):
                self.assertIn(option, out)

    def test_usage_errors(self):
        for args in (["--bogus"], ["-x"], ["--port"], ["--config"]):
            p = run_otad(args)
            self.assertEqual(p.returncode, EX_USAGE, (args, p.stderr))
            self.assertTrue(p.stderr, args)

    def test_invalid_flag_values(self):
        for flag, value in (("--port", "0"), ("--port", "abc"), ("--port", "65536"),
                            ("--bind", "notanaddress")):
            p, _ = self.run_with("", "--firmware-dir", self.dir, flag, value)
            self.assertEqual(p.returncode, EX_CONFIG, (flag, value, p.stderr))
            self.assertIn("otad: %s:" % flag, p.stderr.decode())

    # --- effective settings ---------------------------------------------
    def test_config_file_values_used(self):
        """Without flags the file decides; the settings line shows them."""
        port = free_port()
        cfg = self.config(with_user("firmware_dir: %s\nbind: 127.0.0.1\nport: %d\n"
                                    "idle_timeout: 7\nlegacy_keep_alive: off\nthreads: 2\n"
                                    % (self.dir, port)))
        d = Otad(self.dir, cfg, self.tmp, port=port, flags=False)
        self.daemons.append(d)
        d.start()
        self.assertEqual(d.get("/vec/header").body, vector("expected/header.bin"))
        line = [l for l in d.stderr().splitlines() if "firmware_dir=" in l][0]
        for item in ("firmware_dir=%s" % self.dir, "bind=127.0.0.1", "port=%d" % port,
                     "idle_timeout=7", "legacy_keep_alive=off", "threads=2"):
            self.assertIn(item, line.split())
        self.assertTrue(line.startswith("info: otad "), line)

    def test_flags_override_file(self):
        """--port and --firmware-dir win over the file's values."""
        other = os.path.join(self.tmp, "other")
        d = self.start(config="port: %d\nfirmware_dir: %s\n" % (free_port(), other))
        self.assertEqual(d.get("/vec/header").body, vector("expected/header.bin"))
        self.assertIn("port=%d" % d.port, d.stderr())

    def test_debug_log_level(self):
        """log_level: debug adds one line per request; info does not."""
        d = self.start(config="log_level: debug\n")
        before = d.stderr().count("debug: ")
        for _ in range(3):
            d.get("/vec/block/1")
        self.assertGreaterEqual(d.stderr().count("debug: ") - before, 3, d.stderr())
        d2 = self.start()
        d2.get("/vec/block/1")
        self.assertNotIn("debug: ", d2.stderr())

    def test_ipv6(self):
        if not ipv6_loopback_available():
            self.skipTest("no ::1 on this host")
        d = self.start(bind="::1")
        self.assertEqual(d.get("/vec/header").body, vector("expected/header.bin"))
        self.assertIn("listening on", d.stderr())


if __name__ == "__main__":
    main()
