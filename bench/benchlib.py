# SPDX-License-Identifier: MIT
"""Shared pieces of the benchmarks: images, the three servers, wrk, statistics.

Every server here listens on 127.0.0.1 on an ephemeral port, runs in a
temporary directory made for it, and is stopped by its own PID (nginx's master
process stops its workers). Nothing outlives the script: `with Server(...)`.

The three servers serve the same URLs, so one client walks all three:
    /NAME/header        20-byte header
    /NAME/block/N       256 bytes + CRC-32 (260 bytes)
  otad       from NAME.bin + NAME.txt, as in production
  nginx      from static files holding the identical bytes, precomputed here
  reference  bench/reference/smart_server.py (Flask), from NAME.bin + NAME.txt
"""

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BLOCK = 256
KIB = 1024
IMAGE_460K = 460 * KIB
START_LIMIT = 30.0          # seconds a server has to answer its first request

# Flask comes from Debian's python3-flask, which only Debian's interpreter sees.
SYSTEM_PYTHON = "/usr/bin/python3"


def die(msg):
    sys.exit("%s: %s" % (os.path.basename(sys.argv[0]), msg))


def default_otad():
    return os.environ.get("OTAD") or os.path.join(ROOT, "build", "otad")


def default_otaget():
    return os.environ.get("OTAGET") or os.path.join(ROOT, "build", "firmware", "otaget")


def require_executable(path, what):
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        die("%s: not an executable %s" % (path, what))
    return path


def require_program(name):
    path = shutil.which(name) or (os.path.join("/usr/sbin", name)
                                  if os.access(os.path.join("/usr/sbin", name), os.X_OK) else None)
    if path is None:
        die("%s not found (scripts/deps.sh installs it)" % name)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- Images -----------------------------------------------------------------

def random_image(size, seed):
    """@size bytes, the same for the same seed (no sparse runs of zeroes)."""
    return random.Random(seed).randbytes(size)


def block_count(data):
    return (len(data) + BLOCK - 1) // BLOCK


def header_bytes(data, version):
    return struct.pack("<5I", version, zlib.crc32(data), block_count(data), BLOCK, len(data))


def block_bytes(data, n):
    chunk = data[n * BLOCK:(n + 1) * BLOCK].ljust(BLOCK, b"\xff")
    return chunk + struct.pack("<I", zlib.crc32(chunk))


def write_firmware(fw_dir, name, data, version):
    """NAME.bin + NAME.txt, as otad and the reference server read them."""
    os.makedirs(fw_dir, exist_ok=True)
    with open(os.path.join(fw_dir, name + ".bin"), "wb") as f:
        f.write(data)
    with open(os.path.join(fw_dir, name + ".txt"), "w") as f:
        f.write("%d\n" % version)


@contextlib.contextmanager
def firmware_dir(name, size, version=7, prefix="otad-bench-"):
    """A temporary firmware directory holding NAME.bin (@size random bytes)
    and NAME.txt; yields its path and removes it after."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        fw = os.path.join(tmp, "firmware")
        write_firmware(fw, name, random_image(size, 1), version)
        yield fw
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_static_tree(www, name, data, version):
    """The header and every block as static files at the protocol's URLs."""
    blocks = os.path.join(www, name, "block")
    os.makedirs(blocks, exist_ok=True)
    with open(os.path.join(www, name, "header"), "wb") as f:
        f.write(header_bytes(data, version))
    for n in range(block_count(data)):
        with open(os.path.join(blocks, str(n)), "wb") as f:
            f.write(block_bytes(data, n))


# ---- HTTP on a raw socket -----------------------------------------------------

def head_fields(head):
    """(status, Content-Length or 0) of a response head (without the blank line)."""
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(value)
    return status, length


def parse_response(buf):
    """(status, header bytes, body, rest) when @buf starts with a complete
    response, else None."""
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        return None
    status, length = head_fields(head)
    if len(rest) < length:
        return None
    return status, head + sep, rest[:length], rest[length:]


def read_response(sock, buf=b""):
    """Reads one response; returns (status, header bytes, body, rest of buffer)."""
    parsed = parse_response(buf)
    while parsed is None:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
        parsed = parse_response(buf)
    return parsed


def get(port, path, timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
        status, _, body, _ = read_response(s)
        return status, body


def _read_statuses(sock, n, buf, deadline):
    """Reads @n responses from @sock (after the bytes in @buf); returns their
    statuses and the bytes left over. Parses by offset, without copying the
    buffer for each response."""
    statuses, pos = [], 0
    while len(statuses) < n:
        end = buf.find(b"\r\n\r\n", pos)
        if end >= 0:
            status, length = head_fields(buf[pos:end])
        if end < 0 or len(buf) < end + 4 + length:
            if time.monotonic() > deadline:
                raise RuntimeError("responses not complete in time")
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed after %d responses" % len(statuses))
            buf += chunk
            continue
        statuses.append(status)
        pos = end + 4 + length
    return statuses, buf[pos:]


def make_devices(port, name, count, connections=4, batch=250, limit=300.0, prefix="dev-"):
    """Makes @count devices known to otad: one GET /NAME/header each, with the
    distinct X-Device-Id PREFIX0, PREFIX1, ..., pipelined @batch at a time over
    @connections keep-alive connections in turn. Every answer must be 200.
    Returns the seconds taken; raises RuntimeError after @limit seconds."""
    deadline = time.monotonic() + limit
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30)
             for _ in range(connections)]
    bufs = [b""] * connections
    t0 = time.monotonic()
    try:
        for first in range(0, count, batch):
            k = (first // batch) % connections
            ids = range(first, min(first + batch, count))
            socks[k].sendall(b"".join(
                b"GET /%s/header HTTP/1.1\r\nHost: x\r\nX-Device-Id: %s%d\r\n\r\n"
                % (name.encode(), prefix.encode(), i) for i in ids))
            statuses, bufs[k] = _read_statuses(socks[k], len(ids), bufs[k], deadline)
            if any(st != 200 for st in statuses):
                raise RuntimeError("header request answered %r" % sorted(set(statuses)))
    finally:
        for sock in socks:
            sock.close()
    return time.monotonic() - t0


# ---- Servers ------------------------------------------------------------------

class Server:
    """A server process on 127.0.0.1:port in its own temporary directory."""

    label = "server"

    def __init__(self):
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="otad-bench-%s-" % self.label)
        self.proc = None
        self.log = None

    def command(self):
        raise NotImplementedError

    def env(self):
        """The environment without what makes a server behave unlike in
        production: JOURNAL_STREAM (otad would write journal-style lines) and
        MALLOC_PERTURB_ (set by meson's test runner: glibc then fills every
        allocation, which also changes instruction counts)."""
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        env.pop("MALLOC_PERTURB_", None)
        return env

    def start(self, probe="/", limit=START_LIMIT):
        """Starts the server and waits, up to @limit seconds, for @probe to
        answer 200."""
        self.log = open(os.path.join(self.tmp, "server.log"), "wb")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env(), cwd=self.tmp)
        deadline = time.monotonic() + limit
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %d at start:\n%s"
                                   % (self.label, self.proc.returncode, self.output()))
            status = None
            try:
                status, _ = get(self.port, probe, timeout=2.0)
                if status == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                out = self.output()
                self.stop()
                raise RuntimeError("%s did not answer %s with 200 within %.0f s (last: %s):\n%s"
                                   % (self.label, probe, limit, status, out))
            time.sleep(0.05)

    def output(self):
        if self.log is not None:
            self.log.flush()
        try:
            with open(os.path.join(self.tmp, "server.log"), "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def pids(self):
        """The PIDs whose CPU time and memory are the server's."""
        return [self.proc.pid]

    def cpu_seconds(self):
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / tick

    def rss_kib(self):
        total = 0
        for pid in self.pids():
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()
            self.log = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    stop_signal = signal.SIGTERM

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Otad(Server):
    label = "otad"

    def __init__(self, otad, fw_dir, settings=None, admin_port=0):
        """admin_port: the admin listener's (0: none, so that benchmarks never
        meet on the default 8001)."""
        super().__init__()
        self.otad = otad
        self.fw_dir = fw_dir
        self.admin_port = admin_port
        # Run as root, otad would become nobody, who cannot read the 0700
        # temporary directories the benchmarks work in: it stays root.
        # The device registry goes with the run, not into /var/lib/otad.
        self.settings = {"log_level": "warning", "user": "root",
                         "state_dir": os.path.join(self.tmp, "state")}
        self.settings.update(settings or {})

    def command(self):
        conf = os.path.join(self.tmp, "otad.yaml")
        with open(conf, "w") as f:
            for key, value in self.settings.items():
                f.write("%s: %s\n" % (key, value))
            f.write("admin:\n  port: %d\n" % self.admin_port)
        return [self.otad, "--config", conf, "-d", self.fw_dir, "-b", "127.0.0.1",
                "-p", str(self.port)]


def open_to_workers(www):
    """nginx's workers drop root for an unprivileged user: the static tree and
    the temporary directories above it (0700 when made) must let them in."""
    top = os.path.realpath(tempfile.gettempdir())
    path = os.path.realpath(www)
    for root, dirs, files in os.walk(path):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    while os.path.dirname(path) != path and path.startswith(top + os.sep):
        os.chmod(path, os.stat(path).st_mode | 0o755)
        path = os.path.dirname(path)


class Nginx(Server):
    """Debian's nginx: 2 workers, no access log, unlimited keep-alive requests."""
    label = "nginx"
    stop_signal = signal.SIGQUIT      # graceful: the master waits for its workers

    def __init__(self, www, workers=2, master_process=True, tls=None):
        """tls: (certificate, key) PEM paths for a second, HTTPS listener on
        self.tls_port, serving the same tree (nginx's TLS defaults)."""
        super().__init__()
        self.www = os.path.abspath(www)
        self.workers = workers
        self.master_process = master_process   # off: one process does everything
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.binary = require_program("nginx")
        open_to_workers(self.www)

    def command(self):
        conf = os.path.join(self.tmp, "nginx.conf")
        temp = os.path.join(self.tmp, "temp")
        os.makedirs(temp, exist_ok=True)
        with open(conf, "w") as f:
            f.write("""\
daemon off;
master_process %(master)s;
worker_processes %(workers)d;
worker_rlimit_nofile 20000;
pid %(tmp)s/nginx.pid;
error_log stderr warn;
events { worker_connections 16384; }
http {
    access_log off;
    keepalive_requests 4294967295;
    keepalive_timeout 600s;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    types { }
    client_body_temp_path %(temp)s/body;
    proxy_temp_path %(temp)s/proxy;
    fastcgi_temp_path %(temp)s/fastcgi;
    uwsgi_temp_path %(temp)s/uwsgi;
    scgi_temp_path %(temp)s/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        root %(www)s;
%(tls)s    }
}
""" % {"workers": self.workers, "master": "on" if self.master_process else "off",
       "tmp": self.tmp, "temp": temp, "port": self.port,
       "www": self.www, "tls": self._tls_lines()})
        return [self.binary, "-p", self.tmp, "-c", conf]

    def _tls_lines(self):
        if not self.tls:
            return ""
        # TLS 1.3 as otad offers it: nginx 1.22's default stops at 1.2.
        return ("        listen 127.0.0.1:%d ssl;\n        ssl_certificate %s;\n"
                "        ssl_certificate_key %s;\n        ssl_protocols TLSv1.2 TLSv1.3;\n"
                % ((self.tls_port,) + tuple(self.tls)))

    def pids(self):
        pids = [self.proc.pid]
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return pids


class Reference(Server):
    """bench/reference/smart_server.py, the Flask server otad replaces."""
    label = "reference"

    def __init__(self, fw_dir):
        super().__init__()
        self.fw_dir = fw_dir
        if not os.access(SYSTEM_PYTHON, os.X_OK) or subprocess.run(
                [SYSTEM_PYTHON, "-c", "import flask"], capture_output=True).returncode != 0:
            die("%s cannot import flask (scripts/deps.sh installs python3-flask)"
                % SYSTEM_PYTHON)

    def command(self):
        return [SYSTEM_PYTHON, os.path.join(HERE, "reference", "smart_server.py"),
                "--dir", self.fw_dir, "--bind", "127.0.0.1", "--port", str(self.port)]


def server_names(text):
    """The list given with --servers: otad, and any of nginx and reference."""
    names = text.split(",")
    if "otad" not in names or not set(names) <= {"otad", "nginx", "reference"}:
        die("--servers: otad and any of nginx, reference")
    return names


@contextlib.contextmanager
def started(names, otad, fw_dir, www, probe):
    """Starts the servers @names in that order: otad and the reference
    serving NAME.bin + NAME.txt from @fw_dir, nginx the static tree @www.
    Each must answer 200 to @probe. Yields the list; stops them all after."""
    make = {"otad": lambda: Otad(otad, fw_dir),
            "nginx": lambda: Nginx(www),
            "reference": lambda: Reference(fw_dir)}
    servers = []
    try:
        for name in names:
            servers.append(make[name]())
            servers[-1].start(probe)
        yield servers
    finally:
        for s in servers:
            s.stop()


# ---- wrk ----------------------------------------------------------------------

WALK_LUA = """\
-- Each wrk thread walks every block of the image in order, wrapping around,
-- from a different starting block; its connections share the walk.
local blocks = %(blocks)d
local n = 0
local base = "/%(name)s/block/"
function setup(thread)
  thread:set("start", math.random(0, blocks - 1))
end
function init(args)
  n = start or 0
end
function request()
  n = n + 1
  if n >= blocks then n = 0 end
  return wrk.format("GET", base .. n)
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m|h)$", text)
    if m is None:
        raise ValueError("unreadable wrk latency %r" % text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def write_walk_lua(path, name, blocks):
    with open(path, "w") as f:
        f.write(WALK_LUA % {"blocks": blocks, "name": name})


def run_wrk(port, lua, conns, seconds, threads=None, timeout_s=10):
    """One wrk run; returns dict(rps, p50, p99 (ms), requests, errors)."""
    threads = threads or min(conns, os.cpu_count() or 1, 2)
    cmd = [require_program("wrk"), "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds,
           "--timeout", "%ds" % timeout_s, "--latency", "-s", lua,
           "http://127.0.0.1:%d/" % port]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError("wrk failed (%d): %s" % (out.returncode, out.stderr.strip()))
    text = out.stdout
    res = {"errors": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    res["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    res["requests"] = int(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, text, re.M)
        res[key] = _ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        res["errors"] += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        res["errors"] += sum(int(x) for x in m.groups())
    return res


# ---- Statistics and tables ------------------------------------------------------

def median(values):
    return statistics.median(values)


def percentile(values, pct):
    """Nearest-rank percentile of @values (pct in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, int(-(-pct * len(ordered) // 100)))
    return ordered[min(rank, len(ordered)) - 1]


def table(rows, header):
    """A Markdown table: @header and @rows are lists of cells (strings)."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).rjust(w) for c, w in zip(cells, widths)) + " |"
    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)
