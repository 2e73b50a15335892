# SPDX-License-Identifier: MIT
"""Shared helpers for the otad integration tests.

Every test script runs the real daemon on 127.0.0.1 with a temporary firmware
directory and a temporary configuration file (always passed with --config, so a
host /etc/otad/otad.yaml is never read).  Expected bytes are computed here with
Python's zlib and struct from the image files, never with the code under test.

Environment:
  OTAD     absolute path of the otad binary (required)
  VECTORS  directory holding vec.bin, vec.txt and expected/ (falls back to
           tests/vectors, then /work/shared/vectors, when unset or missing)
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import zlib

BLOCK_SIZE = 256
START_TIMEOUT = 10.0      # seconds until the "listening on" line must appear
STOP_TIMEOUT = 10.0       # generous bound for the clean-up; tests assert 2 s themselves
IO_TIMEOUT = 5.0          # per socket operation


def _find_vectors():
    """$VECTORS, else the project's tests/vectors, else the shared copy."""
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (os.environ.get("VECTORS", ""), os.path.join(here, "..", "vectors"),
                 "/work/shared/vectors"):
        if path and os.path.isfile(os.path.join(path, "vec.bin")):
            return path
    return "/work/shared/vectors"


OTAD = os.environ.get("OTAD", "")
VECTORS = _find_vectors()


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def vector(name):
    """Bytes of a file in the shared test vectors (e.g. 'expected/header.bin')."""
    return read_file(os.path.join(VECTORS, name))


# --------------------------------------------------------------------------
# Expected wire format, computed independently of otad.

def crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def block_count(data):
    return (len(data) + BLOCK_SIZE - 1) // BLOCK_SIZE


def make_header(data, version):
    """The 20-byte header (otad(8), HTTP INTERFACE) for image bytes `data`."""
    return struct.pack("<IIIII", version, crc32(data), block_count(data),
                       BLOCK_SIZE, len(data))


def make_block(data, n):
    """The 260-byte block N: 256 data bytes padded with 0xFF, then their CRC."""
    chunk = data[n * BLOCK_SIZE:(n + 1) * BLOCK_SIZE]
    chunk += b"\xff" * (BLOCK_SIZE - len(chunk))
    return chunk + struct.pack("<I", crc32(chunk))


def parse_header(body):
    keys = ("version", "checksum", "blocknum", "blocksize", "binsize")
    return dict(zip(keys, struct.unpack("<IIIII", body)))


# --------------------------------------------------------------------------
# Raw HTTP over a socket.

class Response:
    def __init__(self, status, reason, headers, body, head_bytes):
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value) in wire order
        self.body = body
        self.head_bytes = head_bytes    # status line .. blank line, inclusive

    def header(self, name):
        """Value of the (single) header `name`, case-insensitive, or None."""
        values = self.all(name)
        return values[0] if values else None

    def all(self, name):
        name = name.lower()
        return [v for (k, v) in self.headers if k.lower() == name]

    def __repr__(self):
        return "<Response %d %r %r body=%d bytes>" % (
            self.status, self.reason, self.headers, len(self.body))


class ConnectionClosed(Exception):
    """The peer closed the connection before a complete response arrived.
    `partial` holds the bytes of the incomplete response (b'' when none)."""

    def __init__(self, partial=b""):
        super().__init__("connection closed after %d bytes" % len(partial))
        self.partial = partial


def request_bytes(path, method="GET", headers=None, host="x", body=b""):
    """An HTTP/1.1 request. `headers` is a list of (name, value) pairs."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host]
    for k, v in headers or []:
        lines.append("%s: %s" % (k, v))
    if body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Conn:
    """One client TCP connection with a receive buffer, so that several
    responses (pipelining) can be read one after the other."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def request(self, path, method="GET", headers=None, body=b""):
        self.send(request_bytes(path, method, headers, body=body))
        return self.read_response(head=(method == "HEAD"))

    def _fill(self, deadline):
        """Receive more bytes; raise ConnectionClosed on EOF or reset."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("response not complete in time")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            raise ConnectionClosed(self.buf)
        self.buf += data

    def read_response(self, head=False, timeout=IO_TIMEOUT):
        """Read exactly one response: status line, headers, Content-Length
        body (none for HEAD). A response without Content-Length is read until
        the connection closes (bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise AssertionError("response header block larger than 1 MiB")
            self._fill(deadline)
        end = self.buf.index(b"\r\n\r\n") + 4
        head_bytes = self.buf[:end]
        lines = head_bytes[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise AssertionError("bad status line %r" % lines[0])
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise AssertionError("bad header line %r" % line)
            headers.append((name, value.strip()))
        resp = Response(status, reason, headers, b"", head_bytes)
        lengths = resp.all("Content-Length")
        if head or status in (204, 304) or 100 <= status < 200:
            body_len = 0
        elif lengths:
            body_len = int(lengths[0])
        else:
            body_len = None
        if body_len is None:
            try:
                while True:
                    self._fill(deadline)
            except ConnectionClosed:
                pass
            resp.body = self.buf[end:]
            self.buf = b""
            return resp
        try:
            while len(self.buf) < end + body_len:
                self._fill(deadline)
        except ConnectionClosed:
            raise ConnectionClosed(self.buf)
        resp.body = self.buf[end:end + body_len]
        self.buf = self.buf[end + body_len:]
        return resp

    def wait_closed(self, timeout):
        """True if the peer closes the connection (EOF or reset) within
        `timeout` seconds; bytes received meanwhile go to the buffer."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not data:
                return True
            self.buf += data


def get(port, path, method="GET", headers=None, host="127.0.0.1"):
    """One request on a fresh connection."""
    with Conn(port, host=host) as c:
        return c.request(path, method=method, headers=headers)


_ports_given = set()


def free_port(host="127.0.0.1"):
    """A free port on @host, never one this process was given before: the
    kernel hands a port just closed out again, so two picked one after the
    other (a device port and an admin port) could otherwise be the same."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(100):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("no fresh free port on %s" % host)


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# The daemon.

def with_user(config, user="root"):
    """`config` with the `user` key appended (None: left as it is).

    Started as root, otad becomes `user` (by default nobody) before it reads
    a firmware file. The tests run as root in CI, on files in 0700 temporary
    directories nobody cannot enter, so the daemons they start keep root
    (with a warning) unless a test asks for the drop."""
    if user is None:
        return config
    if config and not config.endswith("\n"):
        config += "\n"
    return config + "user: %s\n" % user

def _die_with_parent():
    """Runs in the child before exec: have the kernel SIGKILL otad if the
    test process dies (e.g. killed by a meson timeout), so no daemon is
    ever left behind."""
    try:
        import ctypes
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def daemon_env(extra=None):
    env = dict(os.environ)
    # Without JOURNAL_STREAM the log lines carry "info: " / "warning: " prefixes.
    env.pop("JOURNAL_STREAM", None)
    if extra:
        env.update(extra)
    return env


def _admin_settings(text):
    """(present, bind, port) of the admin section of a configuration text;
    None when the text is not a YAML mapping (a test of a broken file)."""
    try:
        import yaml
    except ImportError:     # no parser: only a key at the start of a line counts
        return (re.search(r"^admin\s*:", text, re.M) is not None, None, None)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        return None
    admin = doc.get("admin")
    if not isinstance(admin, dict):
        return ("admin" in doc, None, None)
    return (True, admin.get("bind"), admin.get("port"))


def with_admin_port(config_path, port):
    """Gives the configuration file at `config_path` `admin: {port: PORT}`
    (0: no admin listener) unless it has an admin section of its own, so
    that parallel tests never meet on the default port 8001. A file that is
    not a YAML mapping is left as it is: otad refuses it before it listens.
    Returns (bind, port) of the admin listener the file now asks for."""
    with open(config_path) as f:
        text = f.read()
    found = _admin_settings(text)
    if found is None:
        return ("127.0.0.1", port)
    present, bind, given = found
    if not present:
        with open(config_path, "a") as f:
            f.write(("" if text.endswith("\n") or not text else "\n") +
                    "admin:\n  port: %d\n" % port)
        return ("127.0.0.1", port)
    return (bind or "127.0.0.1", 8001 if given is None else int(given))


def with_state_dir(config_path, state_dir):
    """Gives the configuration file at `config_path` `state_dir: STATE_DIR`
    unless it names one, so that no test writes the device registry of the
    machine (/var/lib/otad) or meets another test's. A file that is not a
    YAML mapping is left as it is."""
    with open(config_path) as f:
        text = f.read()
    if _admin_settings(text) is None or re.search(r"^state_dir\s*:", text, re.M):
        return
    with open(config_path, "a") as f:
        f.write(("" if text.endswith("\n") or not text else "\n") +
                "state_dir: %s\n" % json.dumps(state_dir))


def run_otad(args, timeout=20, env=None):
    """Run otad to completion (for start-up errors, --version, ...). A daemon
    that would serve gets no admin listener (see with_admin_port)."""
    args = list(args)
    if "--config" in args and "--check-config" not in args:
        i = args.index("--config") + 1
        if i < len(args) and os.path.isfile(args[i]):
            with_admin_port(args[i], 0)
            with_state_dir(args[i], os.path.join(os.path.dirname(os.path.abspath(args[i])),
                                                 "state"))
    return subprocess.run([OTAD] + list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, env=daemon_env(env),
                          preexec_fn=_die_with_parent)


class Otad:
    """A running daemon. Start with start(); stop() sends a signal and
    returns the exit status; kill() is the last resort."""

    def __init__(self, firmware_dir, config_path, workdir, port=None,
                 bind="127.0.0.1", extra_args=(), env=None, flags=True, preexec=None,
                 admin_port=None):
        """flags=False passes only --config: the file must then hold
        firmware_dir, bind and port (given here too, to reach the daemon).
        preexec runs in the child before the exec (e.g. to change user).
        admin_port: the admin listener's port, written into the file unless
        it has an admin section (None: a free one; 0: no admin listener)."""
        self.firmware_dir = firmware_dir
        self.config_path = config_path
        self.bind = bind
        self.port = port or free_port(bind)
        self.admin_bind = "127.0.0.1"
        self.admin_port = free_port() if admin_port is None else admin_port
        self.stderr_path = os.path.join(workdir, "otad-%d.stderr" % self.port)
        self.state_dir = os.path.join(workdir, "state-%d" % self.port)
        self.args = [OTAD, "--config", config_path]
        if flags:
            self.args += ["--firmware-dir", firmware_dir,
                          "--bind", bind, "--port", str(self.port)]
        self.args += list(extra_args)
        self.env = env
        self.preexec = preexec
        self.proc = None
        self.stopped = False    # set once stop() was called: an exit is expected

    def start(self, wait=True):
        self.admin_bind, self.admin_port = with_admin_port(self.config_path, self.admin_port)
        with_state_dir(self.config_path, self.state_dir)
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=self._stderr,
                                     env=daemon_env(self.env),
                                     preexec_fn=self._preexec)
        if wait:
            self.wait_ready()
        return self

    def _preexec(self):
        _die_with_parent()
        if self.preexec is not None:
            self.preexec()

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _connectable(self):
        try:
            with socket.create_connection((self.bind, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def wait_ready(self, timeout=START_TIMEOUT, by_connect=False):
        """Wait for the "listening on" log line, which means ready. With
        by_connect (for log levels that hide that line) a successful TCP
        connect is enough."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "listening on" in self.stderr():
                return
            if self.proc.poll() is not None:
                raise AssertionError("otad exited with %s before it was ready:\n%s"
                                     % (self.proc.returncode, self.stderr()))
            if by_connect and self._connectable():
                return
            time.sleep(0.02)
        self.kill()
        raise AssertionError("otad not ready after %.0f s:\n%s" % (timeout, self.stderr()))

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        """Exit status, or None if still running after `timeout` seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Send `sig`, wait up to `timeout`; returns (exit status, seconds).
        Kills with SIGKILL and returns status None if it did not exit."""
        self.stopped = True
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        t0 = time.monotonic()
        os.kill(self.proc.pid, sig)
        status = self.wait(timeout)
        elapsed = time.monotonic() - t0
        if status is None:
            self.kill()
        return status, elapsed

    def kill(self):
        self.stopped = True
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)

    def close(self):
        self.kill()
        try:
            self._stderr.close()
        except AttributeError:
            pass

    def get(self, path, method="GET", headers=None):
        return get(self.port, path, method, headers, host=self.bind)

    def conn(self):
        return Conn(self.port, host=self.bind)

    def admin_get(self, path, method="GET", headers=None):
        """One request to the admin listener, on a fresh connection."""
        return get(self.admin_port, path, method, headers, host=self.admin_bind)

    def admin_conn(self):
        return Conn(self.admin_port, host=self.admin_bind)


class OtadTestCase(unittest.TestCase):
    """Base class: self.dir is an empty firmware directory, self.tmp a scratch
    directory. start() runs otad; at the end of each test (even one whose
    setUp failed) every daemon still running is stopped with SIGTERM and must
    exit with status 0."""

    def setUp(self):
        if not OTAD or not os.path.isabs(OTAD) or not os.access(OTAD, os.X_OK):
            self.fail("set OTAD to the absolute path of the otad binary (got %r)" % OTAD)
        self.tmp = tempfile.mkdtemp(prefix="otad-it-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.dir = os.path.join(self.tmp, "firmware")
        os.mkdir(self.dir)
        self.daemons = []
        self.addCleanup(self._stop_daemons)   # runs before the rmtree above

    def _stop_daemons(self):
        failures = []
        for d in self.daemons:
            if d.alive():
                status, _ = d.stop(signal.SIGTERM)
                if status != 0:
                    failures.append("otad exited with %r on SIGTERM:\n%s"
                                    % (status, d.stderr()[-4000:]))
            elif d.proc is not None and not d.stopped and d.proc.returncode != 0:
                # It died on its own during the test (a crash, a sanitizer report).
                failures.append("otad died with status %r during the test:\n%s"
                                % (d.proc.returncode, d.stderr()[-4000:]))
            d.close()
        if failures:
            self.fail("\n".join(failures))

    # --- firmware directory -------------------------------------------
    def add_image(self, name, data, version=None, directory=None):
        """Write NAME.bin (and NAME.txt with `version` unless None)."""
        directory = directory or self.dir
        with open(os.path.join(directory, name + ".bin"), "wb") as f:
            f.write(data)
        if version is not None:
            self.write(name + ".txt", "%s\n" % version, directory)
        return data

    def add_vectors(self):
        """Copy vec.bin and vec.txt from the shared vectors."""
        shutil.copyfile(os.path.join(VECTORS, "vec.bin"), os.path.join(self.dir, "vec.bin"))
        shutil.copyfile(os.path.join(VECTORS, "vec.txt"), os.path.join(self.dir, "vec.txt"))

    def publish(self, name, data, directory=None):
        """Replace NAME.bin atomically (dot temp file + rename)."""
        return publish(directory or self.dir, name, data)

    def write(self, relname, content, directory=None):
        path = os.path.join(directory or self.dir, relname)
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(path, mode) as f:
            f.write(content)
        return path

    def config(self, text="", name="otad.yaml"):
        """Write a configuration file in the scratch dir; returns its path."""
        return self.write(name, text, self.tmp)

    # --- daemon ---------------------------------------------------------
    def start(self, config="", firmware_dir=None, bind="127.0.0.1",
              extra_args=(), env=None, wait=True, user="root", admin_port=None):
        """`user`: the user otad becomes when run as root (see with_user);
        `admin_port`: as for Otad (None: a free port)."""
        cfg = self.config(with_user(config, user), name="otad-%d.yaml" % len(self.daemons))
        d = Otad(firmware_dir or self.dir, cfg, self.tmp, bind=bind,
                 extra_args=extra_args, env=env, admin_port=admin_port)
        self.daemons.append(d)
        d.start(wait=wait)
        return d

    def assertServing(self, d):
        """The daemon is alive and still answers a normal request correctly."""
        self.assertTrue(d.alive(), "otad died:\n" + d.stderr()[-4000:])
        r = d.get("/vec/header")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, vector("expected/header.bin"))


# --------------------------------------------------------------------------
# Live catalog (hot reload, generations, ETag): helpers for tests 12-14.

SANITIZER_MARKERS = ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer",
                     "runtime error:", "LeakSanitizer")


def etag_of(data):
    """The ETag of image bytes, quotes included: "CRC8HEX-SIZEHEX", lower case."""
    return '"%08x-%x"' % (crc32(data), len(data))


def poll(predicate, timeout=5.0, interval=0.01):
    """True as soon as predicate() is true, False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def publish(directory, name, data, suffix=".bin"):
    """The recommended publish: write a dot temp file, then rename() it into
    place. Returns the final path."""
    final = os.path.join(directory, name + suffix)
    tmp = os.path.join(directory, ".%s%s.tmp" % (name, suffix))
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, final)
    return final


def sanitizer_reports(text):
    """The sanitizer markers found in a daemon's stderr."""
    return [m for m in SANITIZER_MARKERS if m in text]


def peak_rss_kib(pid):
    """VmHWM of a live process in KiB, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def listing_json(d):
    """The JSON listing of daemon `d` as {name: item}."""
    r = d.get("/firmwares?format=json")
    if r.status != 200:
        raise AssertionError("listing: %r" % r)
    return {item["name"]: item for item in json.loads(r.body.decode("utf-8"))}


def change_line(kind, name, data, version):
    """Regex of the log line for a hot-reload change of kind 'added' or
    'replaced': info: KIND NAME: version V, SIZE bytes, crc 0x..., N blocks, etag "..." """
    return re.compile(r"^info: %s %s: version %d, %d bytes, crc 0x(?i:%08x), %d blocks, etag %s$"
                      % (kind, re.escape(name), version, len(data), crc32(data),
                         block_count(data), re.escape(etag_of(data))), re.M)


class Download:
    """The result of download(): header fields, the ETags seen, the image."""

    def __init__(self):
        self.header = None          # parse_header() dict
        self.header_etag = None
        self.block_etags = set()
        self.image = b""            # the binsize bytes, padding removed
        self.responses = []


def download(conn, name, headers=None, check_connection_close=False):
    """Header then every block of NAME on `conn`, as a device does. Checks
    status 200, sizes and every block CRC; returns a Download. Raises
    AssertionError on any deviation (so it can run in a thread)."""
    res = Download()
    r = conn.request("/%s/header" % name, headers=headers)
    if r.status != 200 or len(r.body) != 20:
        raise AssertionError("/%s/header: %r %r" % (name, r, r.body))
    if check_connection_close and r.header("Connection") != "close":
        raise AssertionError("header response without Connection: close: %r" % r)
    res.header = parse_header(r.body)
    res.header_etag = r.header("ETag")
    image = bytearray()
    for n in range(res.header["blocknum"]):
        r = conn.request("/%s/block/%d" % (name, n), headers=headers)
        if r.status != 200 or len(r.body) != 260:
            raise AssertionError("/%s/block/%d: %r %r" % (name, n, r, r.body[:80]))
        if check_connection_close and r.header("Connection") != "close":
            raise AssertionError("block response without Connection: close: %r" % r)
        if crc32(r.body[:256]) != struct.unpack("<I", r.body[256:])[0]:
            raise AssertionError("/%s/block/%d: bad block CRC" % (name, n))
        res.block_etags.add(r.header("ETag"))
        image += r.body[:256]
    res.image = bytes(image[:res.header["binsize"]])
    if crc32(res.image) != res.header["checksum"]:
        raise AssertionError("/%s: image CRC 0x%08x, header says 0x%08x"
                             % (name, crc32(res.image), res.header["checksum"]))
    return res


class HeaderWatcher(threading.Thread):
    """Fetches /NAME/header on fresh connections in a loop until stop(),
    recording every distinct (status, body) seen, so a test can assert that
    nothing but the expected states was ever served."""

    def __init__(self, daemon, name, interval=0.005):
        super().__init__(daemon=True)
        self.d, self.name, self.interval = daemon, name, interval
        self.seen = []          # distinct (status, body) in order of first sight
        self.count = 0
        self.error = None
        self._stop_event = threading.Event()

    def run(self):
        try:
            while not self._stop_event.is_set():
                r = self.d.get("/%s/header" % self.name)
                state = (r.status, r.body if r.status == 200 else b"")
                if state not in self.seen:
                    self.seen.append(state)
                self.count += 1
                time.sleep(self.interval)
        except Exception as e:      # reported by stop()
            self.error = e

    def stop(self):
        self._stop_event.set()
        self.join(10)
        if self.error is not None:
            raise AssertionError("header watcher failed: %r" % self.error)
        return self.seen


def main():
    unittest.main(verbosity=2)


# --------------------------------------------------------------------------
# HTTPS (test 17): a Conn over TLS.

import ssl  # noqa: E402  (only the TLS helpers below use it)


class TlsConn(Conn):
    """A Conn whose socket is a TLS client connection (an ssl.SSLContext
    given by the caller decides on versions, ciphers and verification).
    server_hostname is what the certificate is checked against; None sends
    no SNI and needs a context without check_hostname."""

    def __init__(self, port, context, host="127.0.0.1", server_hostname="127.0.0.1",
                 timeout=IO_TIMEOUT):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        raw = socket.socket(family, socket.SOCK_STREAM)
        raw.settimeout(timeout)
        try:
            raw.connect((host, port))
            self.sock = context.wrap_socket(raw, server_hostname=server_hostname)
        except BaseException:
            raw.close()
            raise
        self.buf = b""

    def _fill(self, deadline):
        try:
            return Conn._fill(self, deadline)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
            raise ConnectionClosed(self.buf)

    def wait_closed(self, timeout):
        try:
            return Conn.wait_closed(self, timeout)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
            return True

    def peer_subject(self):
        """The commonName of the server certificate (verified contexts only)."""
        cert = self.sock.getpeercert()
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return value
        return None

    def peer_serial(self):
        return int(self.sock.getpeercert()["serialNumber"], 16)
