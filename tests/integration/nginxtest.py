# SPDX-License-Identifier: MIT
"""Debian's nginx serving an export tree with conf/nginx-otad.conf as shipped,
for the integration tests (35-nginx-conf, 36-export).

The server block is the file itself with only its two lines marked EDIT
(listen, root) pointed at the test's port and tree. A small nginx.conf
written into the test's scratch directory includes it from an http block
that holds nothing but the test's private pid file, logs and temporary
paths, and whatever a test adds there (35 adds what a careless http block
could set, to show the server block overrides it).

nginx runs as one process (master_process off: no worker outlives the test,
and none drops root and then cannot read the test's 0700 directory) on
127.0.0.1 on an ephemeral port, and is stopped by its PID.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time

from otadtest import _die_with_parent, free_port, get

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.normpath(os.path.join(HERE, "..", "..", "conf", "nginx-otad.conf"))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0

NGINX_CONF = """\
daemon off;
master_process off;
error_log %(prefix)s/error.log warn;
pid %(prefix)s/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %(prefix)s/body;
    proxy_temp_path %(prefix)s/proxy;
    fastcgi_temp_path %(prefix)s/fastcgi;
    uwsgi_temp_path %(prefix)s/uwsgi;
    scgi_temp_path %(prefix)s/scgi;
%(http)s    include %(site)s;
}
"""


def server_block(port, root):
    """conf/nginx-otad.conf with its listen and root lines (marked EDIT)
    pointed at @port on 127.0.0.1 and at @root; every other line as shipped."""
    with open(CONF) as f:
        text = f.read()
    text, listens = re.subn(r"(?m)^(\s*)listen [^;]*;(.*# EDIT)",
                            r"\g<1>listen 127.0.0.1:%d;\2" % port, text)
    text, roots = re.subn(r"(?m)^(\s*)root [^;]*;(.*# EDIT)",
                          lambda m: "%sroot %s;%s" % (m.group(1), root, m.group(2)), text)
    if (listens, roots) != (1, 1):
        raise AssertionError("%s: expected one listen and one root line marked EDIT, found %d and %d"
                             % (CONF, listens, roots))
    return text


class Nginx:
    """nginx on 127.0.0.1:port serving @root with the shipped server block;
    its files under @prefix (made here); @http is added to the http block.
    stop() ends it by its PID."""

    def __init__(self, root, prefix, http=""):
        if not os.access(NGINX, os.X_OK):
            raise AssertionError("nginx not found (scripts/deps.sh installs it)")
        os.makedirs(prefix)
        self.prefix = prefix
        self.port = free_port()
        site = os.path.join(prefix, "otad-site.conf")
        with open(site, "w") as f:
            f.write(server_block(self.port, root))
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF % {"prefix": prefix, "site": site, "http": http})
        self.log = open(os.path.join(prefix, "stderr"), "wb")
        self.proc = subprocess.Popen([NGINX, "-p", prefix, "-e", prefix + "/error.log",
                                      "-c", conf], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("nginx did not start on port %d:\n%s"
                                     % (self.port, self.errors()))
            time.sleep(0.02)

    def errors(self):
        """What nginx wrote to stderr and its error log."""
        out = ""
        for name in ("stderr", "error.log"):
            try:
                with open(os.path.join(self.prefix, name), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def get(self, path, method="GET", headers=None):
        return get(self.port, path, method, headers)

    def stop(self):
        """A graceful stop (SIGQUIT), then SIGKILL after STOP_TIMEOUT."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        self.log.close()
