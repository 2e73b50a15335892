#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Started as root, otad becomes an unprivileged user (`user`, by default
nobody) once its port is bound, before it reads any firmware file: a link in
the firmware directory to a file only root may read is then not served.

The tests that need root skip without it."""

import os
import pwd
import re

from otadtest import Otad, OtadTestCase, free_port, main, run_otad, vector, with_user

EX_CONFIG = 78


def ids(pid):
    """The (real, effective, saved, fs) uids and gids of a live process."""
    found = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid"):
                found[key] = tuple(int(v) for v in value.split())
    return found["Uid"], found["Gid"]


class Root(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()

    def need_root(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")

    def open_to_nobody(self):
        """The scratch and firmware directories (0700 when made) and the
        images in them readable by anyone, as a firmware directory is."""
        for path in (self.tmp, self.dir):
            os.chmod(path, 0o755)
        for name in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, name), 0o644)

    def secret_link(self):
        """fw/secret.bin -> a file only root may read (as /etc/shadow is)."""
        secret = self.write(os.path.join(self.tmp, "secret"), b"root only\n" * 30)
        os.chmod(secret, 0o600)
        os.symlink(secret, os.path.join(self.dir, "secret.bin"))

    def test_drops_to_nobody(self):
        """The default user: uid and gid of nobody, all four of each; the
        link to the root-only file is skipped with a warning and not served,
        a world-readable image in a 0755 directory is."""
        self.need_root()
        self.open_to_nobody()
        self.secret_link()
        nobody = pwd.getpwnam("nobody")
        d = self.start(user=None)
        uid, gid = ids(d.pid)
        self.assertEqual(uid, (nobody.pw_uid,) * 4, d.stderr())
        self.assertEqual(gid, (nobody.pw_gid,) * 4, d.stderr())
        self.assertEqual(nobody.pw_uid, 65534)
        self.assertEqual(d.get("/secret/header").status, 404)
        self.assertEqual(d.get("/secret/block/0").status, 404)
        self.assertEqual(d.get("/vec/header").body, vector("expected/header.bin"))
        log = d.stderr()
        self.assertRegex(log, r"(?m)^warning: secret\.bin: Permission denied; skipped$")
        self.assertRegex(log, r"(?m)^info: running as user nobody \(uid 65534, gid %d\)$"
                         % nobody.pw_gid)
        self.assertNotIn("running as root", log)

    def test_numeric_user(self):
        """A uid is a user too."""
        self.need_root()
        self.open_to_nobody()
        d = self.start("user: 65534\n", user=None)
        self.assertEqual(ids(d.pid)[0], (65534,) * 4)
        self.assertEqual(d.get("/vec/header").status, 200)

    def test_user_root_keeps_root(self):
        """`user: root` keeps root, and says what that means."""
        self.need_root()
        self.secret_link()
        d = self.start(user="root")
        self.assertEqual(ids(d.pid), ((0,) * 4, (0,) * 4))
        self.assertEqual(d.get("/secret/header").status, 200)
        self.assertRegex(d.stderr(), r"(?m)^warning: running as root \(user: root\): ")

    def test_started_unprivileged(self):
        """Started as another user, otad stays that user and says nothing
        of users, whatever `user` says."""
        self.need_root()
        self.open_to_nobody()
        nobody = pwd.getpwnam("nobody")

        def become_nobody():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)

        for user in ("nobody", "root"):
            cfg = self.config(with_user("", user), name="otad-%s.yaml" % user)
            d = Otad(self.dir, cfg, self.tmp, preexec=become_nobody)
            self.daemons.append(d)
            d.start()
            self.assertEqual(ids(d.pid), ((nobody.pw_uid,) * 4, (nobody.pw_gid,) * 4))
            self.assertEqual(d.get("/vec/header").body, vector("expected/header.bin"))
            self.assertNotIn("running as", d.stderr())

    def test_directory_nobody_cannot_read(self):
        """After the drop, a firmware directory only root may enter is a
        start-up error that names it (exit 78, a configuration error), not an
        empty catalog."""
        self.need_root()
        p = run_otad(["--config", self.config(""), "--firmware-dir", self.dir,
                      "--bind", "127.0.0.1", "--port", str(free_port())])
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn("%s: Permission denied" % self.dir, p.stderr.decode())

    def test_unknown_user(self):
        """An unknown user is a configuration error (exit 78) that names the
        key, with --check-config too; as root or not."""
        cfg = self.config("user: no-such-user-otad\n")
        for extra in (["--check-config"], ["--firmware-dir", self.dir, "--bind", "127.0.0.1",
                                           "--port", str(free_port())]):
            p = run_otad(["--config", cfg] + extra)
            err = p.stderr.decode()
            self.assertEqual(p.returncode, EX_CONFIG, err)
            self.assertTrue(re.search(r"\buser: no user 'no-such-user-otad'", err), err)
            self.assertNotIn("listening", err)


if __name__ == "__main__":
    main()
