#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTPS: the `tls` listener beside the plain HTTP one.

Certificates are made here with openssl: a root CA, an intermediate CA, and
server certificates for 127.0.0.1 (subjectAltName IP:127.0.0.1 and
DNS:localhost) signed by them, with EC P-256 keys (PKCS#8 and traditional
PEM) and an RSA 2048 key (PKCS#1 PEM).

- curl verifying the chain against the root CA (never -k) for /firmwares,
  /NAME/header (the shared vector), a block, /NAME/image with a Range and
  /firmware/NAME.bin; the plain listener serves the same bytes, also while
  plain and TLS clients download at the same time; a chain file (server +
  intermediate) with only the root trusted; a wrong CA is refused.
- TLS 1.2 and 1.3 negotiated, TLS 1.0 and 1.1 refused by the server, the
  cipher suites an ESP32 (mbedTLS) offers, SNI with an IP literal.
- Keep-alive over TLS (curl's num_connects, many requests on one Python ssl
  socket); "Connection: close" closes a TLS connection (legacy keep-alive is
  for the plain listener only, where it still holds); idle_timeout applies.
- Bad files at start (key of another certificate, missing, empty, garbage,
  truncated PEM, encrypted key, DER, a directory, cert and key swapped):
  exit 78 naming the file, with --check-config too; good pairs (a chain, RSA
  and EC keys in PKCS#8 and traditional PEM) pass --check-config. Configuration
  errors of the `tls` mapping (unknown key with its position, cert without
  key, port clashes and ranges, not a mapping, duplicates).
- SIGHUP with a renewed pair written over the old files: new connections get
  the new certificate, a keep-alive connection opened before keeps working;
  a bad pair (mismatch, garbage, missing) keeps the previous one with a
  warning; a good pair afterwards is taken again. Six reloads while clients
  handshake in a loop: each handshake gets one whole pair.
- esp_https_ota's sequence over TLS 1.2 with a Python ssl client: HEAD, 4 KiB
  ranges on one connection, an interruption, a "bytes=N-" resume on a new
  connection: the image is byte-identical. Connection pinning holds over TLS
  when the image is replaced mid-download.
- Robustness: plain HTTP on the TLS port and TLS on the plain port are not
  served; stalled handshakes do not hold up other clients; SIGTERM stops the
  daemon within 2 s with TLS connections open. max_connections stalled
  handshakes (silent, or after half a ClientHello) cost no CPU, are closed
  after idle_timeout, and HTTPS answers again; a ClientHello dribbled a byte
  a second is cut after request_timeout.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

from otadtest import (ConnectionClosed, Conn, Otad, OtadTestCase, TlsConn, crc32,
                      download, etag_of, free_port, main, poll, run_otad,
                      sanitizer_reports, vector, with_user)

OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")
CURL_TIMEOUT = 20
CHUNK = 4096
STOP_LIMIT = 2.0

# One openssl configuration for every certificate made here: the extensions
# of a CA, of an intermediate CA and of a TLS server for 127.0.0.1. Key
# identifiers are included, as strict verifiers (Python 3.13) require.
OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_inter]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def openssl(*args, stdin=None):
    p = subprocess.run([OPENSSL] + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


class Pki:
    """Keys and certificates in one directory. Every certificate gets a new
    serial number."""

    def __init__(self, directory):
        self.dir = directory
        self.cnf = self.path("openssl.cnf")
        with open(self.cnf, "w") as f:
            f.write(OPENSSL_CNF)
        self.serial = 100
        self.root = self.authority("root", "otad test root CA")
        self.other_root = self.authority("other-root", "otad unrelated CA")
        self.inter = self.authority("inter", "otad test intermediate CA", issuer="root",
                                    extensions="v3_inter")

    def path(self, name):
        return os.path.join(self.dir, name)

    def key(self, name, kind="ec"):
        """kind: ec (PKCS#8), ec-traditional ("EC PRIVATE KEY"), rsa-traditional
        ("RSA PRIVATE KEY", 2048 bits)."""
        out = self.path(name + ".key")
        if kind.startswith("ec"):
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", out)
        else:
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", out)
        if kind.endswith("traditional"):
            pem = openssl("pkey", "-in", out, "-traditional")
            with open(out, "wb") as f:
                f.write(pem)
        return out

    def authority(self, name, cn, issuer=None, extensions="v3_ca"):
        key = self.key(name)
        cert = self.path(name + ".pem")
        self.serial += 1
        if issuer is None:
            openssl("req", "-x509", "-new", "-key", key, "-config", self.cnf,
                    "-extensions", extensions, "-subj", "/CN=" + cn, "-days", "30",
                    "-set_serial", str(self.serial), "-out", cert)
        else:
            self._sign(name, key, cn, issuer, extensions)
        return cert

    def _sign(self, name, key, cn, issuer, extensions):
        csr = self.path(name + ".csr")
        openssl("req", "-new", "-key", key, "-config", self.cnf, "-subj", "/CN=" + cn,
                "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", self.path(issuer + ".pem"),
                "-CAkey", self.path(issuer + ".key"), "-set_serial", str(self.serial),
                "-days", "30", "-extfile", self.cnf, "-extensions", extensions,
                "-out", self.path(name + ".pem"))

    def server(self, name, cn, issuer="root", kind="ec"):
        """A server certificate for 127.0.0.1/localhost; returns
        (cert path, key path, serial)."""
        key = self.key(name, kind)
        self.serial += 1
        self._sign(name, key, cn, issuer, "v3_server")
        return self.path(name + ".pem"), key, self.serial


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


# The first bytes of a ClientHello: a handshake record announcing 512 bytes.
HALF_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"


def cpu_seconds(pid):
    """User plus system CPU time of process `pid` so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def two_free_ports():
    """Two free ports on 127.0.0.1, distinct from each other and from every
    port free_port() gave before (the admin port among them)."""
    return free_port(), free_port()


def client_context(cafile, minimum=None, maximum=None, ciphers=None):
    """A verifying client context (hostname checked against the SAN)."""
    ctx = ssl.create_default_context(cafile=cafile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if ciphers:
            ctx.set_ciphers(ciphers)
        if minimum is not None:
            ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
    return ctx


class CurlResult:
    def __init__(self, rc, status, headers, body, stderr, num_connects):
        self.rc, self.status, self.headers = rc, status, headers
        self.body, self.stderr, self.num_connects = body, stderr, num_connects

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def tls_version(self):
        """From curl -v: "SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384"."""
        m = re.search(r"SSL connection using (TLSv[0-9.]+) / (\S+)", self.stderr)
        return m.groups() if m else (None, None)

    def subject(self):
        m = re.search(r"^\*\s+subject: (.*)$", self.stderr, re.M)
        return m.group(1).strip() if m else None

    def __repr__(self):
        return "<curl rc=%d %d %r body=%d bytes: %s>" % (
            self.rc, self.status, self.headers, len(self.body), self.stderr[-600:])


@unittest.skipUnless(OPENSSL, "openssl is not installed")
class Tls(OtadTestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki_dir = tempfile.mkdtemp(prefix="otad-it-pki-")
        pki = cls.pki = Pki(cls.pki_dir)
        cls.server = pki.server("server", "localhost")
        cls.other = pki.server("other", "other server")     # its key mismatches `server`
        cls.renewed = pki.server("renewed", "renewed", kind="rsa-traditional")
        cls.third = pki.server("third", "third", kind="ec-traditional")
        cls.leaf = pki.server("leaf", "leaf via intermediate", issuer="inter")
        cls.chain = pki.path("leaf-chain.pem")
        write(cls.chain, read(cls.leaf[0]) + read(pki.inter))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki_dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        if not CURL:
            self.fail("curl is needed")
        self.add_vectors()
        self.data = self.add_image("fw", os.urandom(70001), version=42)
        self.tls_dir = os.path.join(self.tmp, "tls")
        os.mkdir(self.tls_dir)
        self.cert = os.path.join(self.tls_dir, "server.pem")
        self.key = os.path.join(self.tls_dir, "server.key")
        self.install(self.server)
        self.ca = self.pki.root

    def _stop_daemons(self):
        super()._stop_daemons()
        for d in self.daemons:
            with open(d.stderr_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            self.assertEqual(sanitizer_reports(text), [], text[-4000:])

    # --- helpers ------------------------------------------------------
    def install(self, pair, cert=None, key=None):
        """Copy a (cert, key, serial) pair to the paths the daemon reads."""
        write(cert or self.cert, read(pair[0]))
        write(key or self.key, read(pair[1]))

    def tls_config(self, https_port, cert=None, key=None, flow=False, extra=""):
        cert, key = cert or self.cert, key or self.key
        if flow:
            tls = 'tls: {cert: "%s", key: "%s", port: %d}\n' % (cert, key, https_port)
        else:
            tls = "tls:\n  cert: %s\n  key: %s\n  port: %d\n" % (cert, key, https_port)
        return "settle_ms: 50\n" + extra + tls

    def start_tls(self, flow=False, extra="", cert=None):
        http_port, https_port = two_free_ports()
        path = self.config(with_user(self.tls_config(https_port, cert=cert, flow=flow,
                                                     extra=extra)),
                           name="otad-%d.yaml" % len(self.daemons))
        d = Otad(self.dir, path, self.tmp, port=http_port)
        d.tls_port = https_port
        self.daemons.append(d)
        d.start()
        return d

    def url(self, d, path, host="127.0.0.1"):
        return "https://%s:%d%s" % (host, d.tls_port, path)

    def curl(self, url, *args, cacert=None, check=True):
        """curl -v URL verifying against `cacert` (the root CA by default)."""
        hdr = os.path.join(self.tmp, "curl.headers")
        body = os.path.join(self.tmp, "curl.body")
        for p in (hdr, body):
            if os.path.exists(p):
                os.remove(p)
        cmd = [CURL, "-v", "-sS", "--noproxy", "*", "--max-time", "10",
               "--cacert", cacert or self.ca, "-D", hdr, "-o", body,
               "-w", "%{http_code} %{num_connects}"] + list(args) + [url]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CURL_TIMEOUT)
        stderr = p.stderr.decode("utf-8", "replace")
        status, connects = (int(x) for x in p.stdout.decode().split())
        headers = []
        if os.path.exists(hdr):
            for line in read(hdr).decode("latin-1").split("\r\n")[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers.append((name, value.strip()))
        data = read(body) if os.path.exists(body) else b""
        res = CurlResult(p.returncode, status, headers, data, stderr, connects)
        if check:
            self.assertEqual(p.returncode, 0, "%s: %r" % (cmd, res))
        return res

    def context(self, **kw):
        return client_context(kw.pop("cafile", self.ca), **kw)

    def tls_conn(self, d, **kw):
        return TlsConn(d.tls_port, self.context(**kw))

    def s_client_subject(self, d, servername="localhost", cafile=None):
        """The subject of the certificate a new connection gets, as
        `openssl s_client ... | openssl x509 -noout -subject` prints it."""
        p = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % d.tls_port,
                            "-servername", servername, "-CAfile", cafile or self.ca,
                            "-verify_return_error"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CURL_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return openssl("x509", "-noout", "-subject", stdin=p.stdout).decode().strip()

    def count(self, d, pattern):
        return len(re.findall(pattern, d.stderr(), re.M))

    def sighup_and_wait(self, d, pattern):
        """SIGHUP, then wait for one more line matching `pattern`."""
        before = self.count(d, pattern)
        d.send_signal(signal.SIGHUP)
        self.assertTrue(poll(lambda: self.count(d, pattern) > before, timeout=10),
                        "no new %r after SIGHUP:\n%s" % (pattern, d.stderr()[-3000:]))
        # The firmware rescan that follows the reload is the last step.
        self.assertTrue(poll(lambda: self.count(d, r"^info: rescan: ") > 0, timeout=10))

    # --- both listeners ---------------------------------------------------
    def test_endpoints_over_https_and_http(self):
        d = self.start_tls()
        err = d.stderr()
        self.assertRegex(err, r"(?m)^info: listening on 127\.0\.0\.1:%d \(http\), "
                         r"127\.0\.0\.1:%d \(https\), 2 images$" % (d.port, d.tls_port))
        self.assertRegex(err, r"(?m)^info: otad .* tls\.port=%d " % d.tls_port)

        plain = d.get("/firmwares")
        r = self.curl(self.url(d, "/firmwares"))
        self.assertEqual((r.status, r.num_connects), (200, 1))
        self.assertEqual(r.body, plain.body)
        self.assertIn(b"\nfw\n", b"\n" + r.body)
        r = self.curl(self.url(d, "/firmwares?format=json"))
        self.assertEqual(r.body, d.get("/firmwares?format=json").body)

        r = self.curl(self.url(d, "/vec/header"))
        self.assertEqual((r.status, r.body), (200, vector("expected/header.bin")))
        self.assertEqual(d.get("/vec/header").body, vector("expected/header.bin"))
        self.assertEqual(r.header("ETag"), etag_of(vector("vec.bin")))
        for n in (0, 3):
            r = self.curl(self.url(d, "/vec/block/%d" % n))
            self.assertEqual((r.status, r.body), (200, vector("expected/block-%d.bin" % n)))
            self.assertEqual(d.get("/vec/block/%d" % n).body, r.body)

        size = len(self.data)
        r = self.curl(self.url(d, "/fw/image"), "-r", "1000-5999")
        self.assertEqual(r.status, 206)
        self.assertEqual(r.header("Content-Range"), "bytes 1000-5999/%d" % size)
        self.assertTrue(r.body == self.data[1000:6000])
        self.assertEqual(d.get("/fw/image", headers=[("Range", "bytes=1000-5999")]).body,
                         r.body)
        r = self.curl(self.url(d, "/fw/image"), "-r", "%d-" % (size - 100))
        self.assertEqual((r.status, r.body), (206, self.data[-100:]))
        r = self.curl(self.url(d, "/firmware/fw.bin"))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), str(size))
        self.assertEqual(r.header("X-Firmware-CRC32"), "0x%08X" % crc32(self.data))
        self.assertTrue(r.body == self.data, "image over HTTPS differs")
        r = self.curl(self.url(d, "/fw/image"), "-I")
        self.assertEqual((r.status, r.header("Content-Length")), (200, str(size)))
        self.assertEqual(r.header("ETag"), etag_of(self.data))
        r = self.curl(self.url(d, "/nosuch/header"))
        self.assertEqual((r.status, r.body), (404, b"not found\n"))
        # The DNS name of the certificate works too.
        r = self.curl(self.url(d, "/vec/header", host="localhost"),
                      "--resolve", "localhost:%d:127.0.0.1" % d.tls_port)
        self.assertEqual(r.body, vector("expected/header.bin"))
        self.assertEqual(r.subject(), "CN=localhost")
        # Verification is real: another CA does not vouch for this server.
        r = self.curl(self.url(d, "/vec/header"), cacert=self.pki.other_root, check=False)
        self.assertEqual(r.rc, 60, r)
        self.assertTrue(d.alive())

    def test_plain_and_tls_clients_at_once(self):
        """Three plain and three TLS clients download side by side: header and
        blocks (the device protocol) and the whole image, three times each."""
        d = self.start_tls()
        vec = vector("vec.bin")
        errors, lock = [], threading.Lock()

        def client(make):
            try:
                with make() as c:
                    for _ in range(3):
                        res = download(c, "vec")
                        if res.image != vec:
                            raise AssertionError("blocks differ")
                        r = c.request("/fw/image")
                        if r.status != 200 or r.body != self.data:
                            raise AssertionError("image: %r" % r)
                        r = c.request("/firmware/fw.bin", headers=[("Range", "bytes=5-65540")])
                        if r.status != 206 or r.body != self.data[5:65541]:
                            raise AssertionError("range: %r" % r)
            except Exception as e:      # reported below
                with lock:
                    errors.append(repr(e))

        ctx = self.context()
        makers = [d.conn] * 3 + [lambda: TlsConn(d.tls_port, ctx)] * 3
        threads = [threading.Thread(target=client, args=(m,)) for m in makers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), "a client hung")
        self.assertEqual(errors, [])
        self.assertTrue(d.alive())

    def test_chain_file(self):
        """cert: server certificate then the intermediate CA; clients trust
        the root only. Flow-style `tls: {...}`."""
        self.install(self.leaf)
        write(self.cert, read(self.chain))
        d = self.start_tls(flow=True)
        r = self.curl(self.url(d, "/vec/header"))
        self.assertEqual((r.status, r.body), (200, vector("expected/header.bin")))
        self.assertEqual(r.subject(), "CN=leaf via intermediate")
        with self.tls_conn(d) as c:
            self.assertEqual(c.peer_subject(), "leaf via intermediate")
            r = c.request("/fw/image", headers=[("Range", "bytes=0-4095")])
            self.assertEqual((r.status, r.body), (206, self.data[:4096]))
        # The daemon sends both certificates.
        p = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % d.tls_port,
                            "-showcerts", "-CAfile", self.ca, "-verify_return_error"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CURL_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(p.stdout.count(b"-----BEGIN CERTIFICATE-----"), 2)

    # --- versions and suites ---------------------------------------------
    def test_tls_versions(self):
        d = self.start_tls()
        r = self.curl(self.url(d, "/vec/header"), "--tlsv1.2", "--tls-max", "1.2")
        self.assertEqual(r.tls_version()[0], "TLSv1.2", r)
        self.assertEqual(r.body, vector("expected/header.bin"))
        r = self.curl(self.url(d, "/vec/header"), "--tlsv1.3")
        self.assertEqual(r.tls_version()[0], "TLSv1.3", r)
        self.assertEqual(r.body, vector("expected/header.bin"))
        # The server refuses older versions (the client is allowed them at
        # security level 0, so the refusal is the server's).
        for version in ("1.1", "1.0"):
            r = self.curl(self.url(d, "/vec/header"), "--tlsv" + version, "--tls-max", version,
                          "--ciphers", "DEFAULT@SECLEVEL=0", check=False)
            self.assertIn(r.rc, (35, 56), r)    # handshake failed, or reset
            self.assertNotIn("no protocols available", r.stderr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for v in (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1):
                ctx = self.context(minimum=v, maximum=v, ciphers="DEFAULT:@SECLEVEL=0")
                with self.assertRaises((ssl.SSLError, ConnectionError)) as cm:
                    TlsConn(d.tls_port, ctx).close()
                # Refused by the server (with or without a protocol_version
                # alert), not by this client.
                self.assertNotIn("NO_PROTOCOLS_AVAILABLE", str(cm.exception))
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.tls_conn(d, minimum=v, maximum=v) as c:
                self.assertEqual(c.sock.version(), v.name.replace("_", "."))
                self.assertEqual(c.request("/vec/block/1").body, vector("expected/block-1.bin"))
        # Suites an ESP32's mbedTLS offers for TLS 1.2 with an EC certificate.
        for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                      "ECDHE-ECDSA-CHACHA20-POLY1305"):
            with self.tls_conn(d, maximum=ssl.TLSVersion.TLSv1_2, ciphers=suite) as c:
                self.assertEqual(c.sock.cipher()[0], suite)
                self.assertEqual(c.request("/vec/header").body, vector("expected/header.bin"))
        # mbedTLS may send the IP address of the URL as the server name.
        for name in ("127.0.0.1", "localhost"):
            self.assertEqual(self.s_client_subject(d, servername=name), "subject=CN = localhost")
        self.assertTrue(d.alive())

    # --- keep-alive ---------------------------------------------------------
    def test_keep_alive(self):
        d = self.start_tls(extra="idle_timeout: 1\n")
        p = subprocess.run([CURL, "-sS", "--noproxy", "*", "--max-time", "10", "--cacert", self.ca,
                            "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
                            "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n",
                            self.url(d, "/vec/header"), self.url(d, "/vec/block/0"),
                            self.url(d, "/fw/image"), self.url(d, "/firmwares")],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CURL_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(p.stdout.decode().split("\n"),
                         ["200 1", "200 0", "200 0", "200 0", ""], "connection not reused")
        with self.tls_conn(d) as c:
            for n in range(40):
                r = c.request("/vec/block/%d" % (n % 4))
                self.assertEqual(r.body, vector("expected/block-%d.bin" % (n % 4)))
            # "Connection: close" over TLS closes, as HTTP says ...
            r = c.request("/vec/header", headers=[("Connection", "close")])
            self.assertEqual((r.status, r.body), (200, vector("expected/header.bin")))
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(c.wait_closed(3), "TLS connection left open after close")
        # ... while the plain listener keeps the legacy devices' connection.
        with d.conn() as c:
            for n in range(4):
                r = c.request("/vec/block/%d" % n, headers=[("Connection", "close")])
                self.assertEqual(r.body, vector("expected/block-%d.bin" % n))
                self.assertEqual(r.header("Connection"), "close")
        # idle_timeout closes an idle TLS connection.
        with self.tls_conn(d) as c:
            self.assertEqual(c.request("/vec/header").status, 200)
            t0 = time.monotonic()
            self.assertTrue(c.wait_closed(5), "idle TLS connection not closed")
            self.assertGreater(time.monotonic() - t0, 0.5)

    # --- start-up errors --------------------------------------------------
    def run_with(self, config, check_config, port=None):
        """otad --config FILE (--check-config): (status, stdout, stderr, FILE).
        --port is `port`, or a free port."""
        path = self.config(config, name="bad.yaml")
        args = ["--config", path, "--firmware-dir", self.dir, "--bind", "127.0.0.1",
                "--port", str(port or free_port())]
        if check_config:
            args.append("--check-config")
        try:
            p = run_otad(args, timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("otad did not exit with %r:\n%s" % (args, config))
        return p.returncode, p.stdout.decode(), p.stderr.decode(), path

    def test_bad_certificate_files(self):
        bad = os.path.join(self.tmp, "bad")
        os.mkdir(bad)
        garbage = os.path.join(bad, "garbage.pem")
        write(garbage, b"this is not a PEM file\n")
        empty = os.path.join(bad, "empty.pem")
        write(empty, b"")
        truncated = os.path.join(bad, "truncated.pem")
        pem = read(self.server[0])
        write(truncated, pem[:len(pem) // 2])
        bad_base64 = os.path.join(bad, "bad-base64.pem")
        lines = pem.split(b"\n")
        lines[2] = b"!!!!" + lines[2][4:]
        write(bad_base64, b"\n".join(lines))
        missing = os.path.join(bad, "missing.pem")
        bad_chain = os.path.join(bad, "bad-chain.pem")
        write(bad_chain, pem + b"-----BEGIN CERTIFICATE-----\nnot base64\n"
              b"-----END CERTIFICATE-----\n")
        encrypted = os.path.join(bad, "encrypted.key")
        write(encrypted, openssl("pkey", "-in", self.server[1], "-aes256",
                                 "-passout", "pass:secret"))
        der = os.path.join(bad, "server.der")
        write(der, openssl("x509", "-in", self.server[0], "-outform", "DER"))
        cert, key = self.server[0], self.server[1]
        cases = [
            # (what, cert, key, the file the message must name)
            ("key of another certificate", cert, self.other[1], self.other[1]),
            ("cert of another key", self.other[0], key, self.other[0]),
            ("missing cert", missing, key, missing),
            ("missing key", cert, missing, missing),
            ("garbage cert", garbage, key, garbage),
            ("garbage key", cert, garbage, garbage),
            ("empty cert", empty, key, empty),
            ("empty key", cert, empty, empty),
            ("truncated cert", truncated, key, truncated),
            ("corrupt base64 in cert", bad_base64, key, bad_base64),
            ("chain with a damaged intermediate", bad_chain, key, bad_chain),
            ("encrypted key", cert, encrypted, encrypted),
            ("DER cert", der, key, der),
            ("cert and key swapped", key, cert, None),
            ("cert is a directory", bad, key, bad),
            ("CA certificate with the server key", self.pki.root, key, None),
        ]
        for what, c, k, named in cases:
            for check_config in (False, True):
                with self.subTest(what=what, check_config=check_config):
                    status, out, err, _ = self.run_with(
                        self.tls_config(free_port(), cert=c, key=k), check_config)
                    self.assertEqual(status, 78, err)
                    self.assertNotIn("listening", err)
                    self.assertNotIn("configuration OK", out)
                    self.assertIn("tls", err)
                    if named is not None:
                        self.assertIn(named, err)
                    self.assertEqual(len(err.strip().split("\n")), 1, "one clear line: " + err)
        # A good pair, a chain file, an RSA key in PKCS#1: configuration OK.
        for c, k in ((cert, key), (self.chain, self.leaf[1]), self.renewed[:2], self.third[:2]):
            status, out, err, path = self.run_with(self.tls_config(free_port(), cert=c, key=k),
                                                   True)
            self.assertEqual((status, out), (0, "%s: configuration OK\n" % path), err)

    def test_config_errors(self):
        cert, key = self.server[0], self.server[1]
        p = free_port()
        unknown = "port: %d\ntls:\n  cert: %s\n  key: %s\n  foo: 1\n" % (p, cert, key)
        status, _, err, path = self.run_with(unknown, True, port=p)
        self.assertEqual((status, err), (78, "%s:5:3: unknown key 'tls.foo'\n" % path))
        status, _, err, path = self.run_with(
            "tls: {cert: %s, key: %s, bar: 1}\n" % (cert, key), True)
        self.assertEqual(status, 78)
        self.assertRegex(err, r"^%s:1:\d+: unknown key 'tls\.bar'\n$" % re.escape(path))
        cases = [
            ("cert without key", "tls:\n  cert: %s\n" % cert, r"tls"),
            ("key without cert", "tls:\n  key: %s\n  port: 9443\n" % key, r"tls"),
            ("tls.port 0", "tls:\n  cert: %s\n  key: %s\n  port: 0\n" % (cert, key),
             r"tls\.port: 0 is out of range 1\.\.65535"),
            ("tls.port 65536", "tls:\n  cert: %s\n  key: %s\n  port: 65536\n" % (cert, key),
             r"tls\.port: 65536 is out of range"),
            ("tls.port not a number", "tls: {cert: %s, key: %s, port: https}\n" % (cert, key),
             r"tls\.port"),
            ("tls a scalar", "tls: %s\n" % cert, r"tls: expected a mapping"),
            ("tls a sequence", "tls:\n  - %s\n" % cert, None),
            ("tls twice", "tls: {cert: %s, key: %s}\ntls: {cert: %s, key: %s}\n"
             % (cert, key, cert, key), r"duplicate key 'tls'"),
            ("cert twice", "tls: {cert: %s, cert: %s, key: %s}\n" % (cert, cert, key),
             r"duplicate key 'tls\.cert'"),
            ("dotted key at the top", "tls.cert: %s\n" % cert, r"unknown key 'tls\.cert'"),
            ("nested deeper", "tls:\n  cert:\n    file: %s\n  key: %s\n" % (cert, key), None),
            ("empty cert", 'tls: {cert: "", key: %s}\n' % key, r"tls\.cert"),
        ]
        for what, text, pattern in cases:
            with self.subTest(what=what):
                status, out, err, path = self.run_with(text, True)
                self.assertEqual(status, 78, (text, out, err))
                if pattern:
                    self.assertRegex(err, pattern)
                self.assertTrue(err.startswith(path + ":") or err.startswith("otad: "), err)
        # tls.port the same as port (here from --port, overriding the file's).
        for text in (self.tls_config(p), "port: %d\n" % free_port() + self.tls_config(p)):
            status, _, err, _ = self.run_with(text, True, port=p)
            self.assertEqual(status, 78, err)
            self.assertIn("tls.port", err)
        # The port defaults to 8443 (seen in --check-config only: it is not
        # bound here, as the machine may use it).
        status, out, err, path = self.run_with("tls: {cert: %s, key: %s}\n" % (cert, key), True)
        self.assertEqual((status, out), (0, "%s: configuration OK\n" % path), err)
        status, out, err, path = self.run_with("tls:\n", True)
        self.assertEqual((status, out), (0, "%s: configuration OK\n" % path), err)

    # --- renewal ------------------------------------------------------------
    def test_sighup_renews_the_certificate(self):
        d = self.start_tls()
        reloaded = r"^info: tls: reloaded %s$" % re.escape(self.cert)
        kept = r"^warning: tls: .*: keeping the previous certificate$"
        old = self.tls_conn(d)
        self.addCleanup(old.close)
        self.assertEqual((old.peer_subject(), old.peer_serial()), ("localhost", self.server[2]))
        self.assertEqual(old.request("/vec/header").body, vector("expected/header.bin"))

        # Renewal: an RSA pair written in place over the old files.
        self.install(self.renewed)
        self.sighup_and_wait(d, reloaded)
        self.assertEqual(self.s_client_subject(d), "subject=CN = renewed")
        with self.tls_conn(d) as c:
            self.assertEqual((c.peer_subject(), c.peer_serial()), ("renewed", self.renewed[2]))
            self.assertEqual(c.request("/vec/block/2").body, vector("expected/block-2.bin"))
        r = self.curl(self.url(d, "/fw/image"), "-r", "0-99")
        self.assertEqual((r.subject(), r.body), ("CN=renewed", self.data[:100]))
        # The connection opened before keeps its session and keeps working.
        for n in range(4):
            self.assertEqual(old.request("/vec/block/%d" % n).body,
                             vector("expected/block-%d.bin" % n))
        self.assertEqual(old.peer_subject(), "localhost")

        # Bad pairs: each is refused with a warning, the renewed one stays.
        other_key = read(self.other[1])
        bad_pairs = [
            ("mismatch", read(self.third[0]), other_key),
            ("garbage", b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n",
             read(self.third[1])),
            ("missing", None, read(self.third[1])),
        ]
        for what, cert_pem, key_pem in bad_pairs:
            with self.subTest(bad=what):
                if cert_pem is None:
                    os.remove(self.cert)
                else:
                    write(self.cert, cert_pem)
                write(self.key, key_pem)
                self.sighup_and_wait(d, kept)
                self.assertTrue(d.alive())
                with self.tls_conn(d) as c:
                    self.assertEqual(c.peer_subject(), "renewed")
                    self.assertEqual(c.request("/vec/header").body, vector("expected/header.bin"))
                self.assertEqual(old.request("/vec/block/3").body, vector("expected/block-3.bin"))
        self.assertEqual(self.count(d, reloaded), 1)
        self.assertEqual(self.s_client_subject(d), "subject=CN = renewed")

        # A good pair again, published by rename (as deploy hooks do).
        for src, dst in ((self.third[0], self.cert), (self.third[1], self.key)):
            write(dst + ".new", read(src))
            os.rename(dst + ".new", dst)
        self.sighup_and_wait(d, reloaded)
        self.assertEqual(self.count(d, reloaded), 2)
        with self.tls_conn(d) as c:
            self.assertEqual((c.peer_subject(), c.peer_serial()), ("third", self.third[2]))
        self.assertEqual(old.request("/vec/header").body, vector("expected/header.bin"))
        self.assertEqual(d.get("/vec/header").body, vector("expected/header.bin"))
        old.close()

    def test_reloads_during_handshakes(self):
        """Clients handshaking in a loop while the pair is swapped and
        reloaded six times: every handshake gets one of the two pairs whole,
        every response is right (and TSan builds see no race)."""
        d = self.start_tls()
        reloaded = r"^info: tls: reloaded %s$" % re.escape(self.cert)
        stop = threading.Event()
        seen, errors, lock = set(), [], threading.Lock()
        ctx = self.context()

        def client():
            try:
                for _ in range(2000):
                    if stop.is_set():
                        break
                    with TlsConn(d.tls_port, ctx) as c:
                        subject = c.peer_subject()
                        r = c.request("/vec/header")
                        if r.body != vector("expected/header.bin"):
                            raise AssertionError("header: %r" % r)
                    with lock:
                        seen.add(subject)
            except Exception as e:      # reported below
                with lock:
                    errors.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            for i in range(6):
                self.install(self.renewed if i % 2 == 0 else self.server)
                self.sighup_and_wait(d, reloaded)
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertFalse(any(t.is_alive() for t in threads), "a client hung")
        self.assertEqual(errors, [])
        self.assertEqual(seen, {"localhost", "renewed"})
        self.assertEqual(self.count(d, reloaded), 6)
        self.assertTrue(d.alive())

    # --- an ESP32 over HTTPS --------------------------------------------------
    def test_esp_https_ota_sequence(self):
        """esp_https_ota with partial download over TLS 1.2: HEAD, 4 KiB
        ranges on one connection, an interruption, a "bytes=N-" resume."""
        d = self.start_tls()
        data, size = self.data, len(self.data)
        path = "/firmware/fw.bin"
        etag = etag_of(data)
        ctx = self.context(maximum=ssl.TLSVersion.TLSv1_2,
                           ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")
        c = TlsConn(d.tls_port, ctx)
        try:
            r = c.request(path, method="HEAD")
            self.assertEqual((r.status, r.header("Content-Length"), r.header("ETag")),
                             (200, str(size), etag))
            self.assertEqual(r.header("Accept-Ranges"), "bytes")
            self.assertLess(len(r.head_bytes), 512)
            got = b""
            for _ in range(9):
                first, last = len(got), len(got) + CHUNK - 1
                r = c.request(path, headers=[("Range", "bytes=%d-%d" % (first, last))])
                self.assertEqual(r.status, 206, r)
                self.assertEqual(r.header("Content-Range"), "bytes %d-%d/%d" % (first, last, size))
                self.assertEqual(r.header("ETag"), etag)
                self.assertTrue(r.body == data[first:last + 1])
                got += r.body
            # Interrupted in the middle of the next response.
            c.send(("GET %s HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-%d\r\n\r\n"
                    % (path, len(got), len(got) + CHUNK - 1)).encode())
            c.sock.recv(100)
        finally:
            c.close()
        # ESP-IDF 5.5: a new connection and "bytes=N-".
        with TlsConn(d.tls_port, ctx) as c2:
            r = c2.request(path, headers=[("Range", "bytes=%d-" % len(got))])
            self.assertEqual(r.status, 206, r)
            self.assertEqual(r.header("Content-Range"),
                             "bytes %d-%d/%d" % (len(got), size - 1, size))
            image = got + r.body
            self.assertEqual(len(image), size)
            self.assertTrue(image == data, "reassembled image differs")
            # Newer clients probe with 0-0 when HEAD fails.
            r = c2.request(path, headers=[("Range", "bytes=0-0")])
            self.assertEqual((r.status, r.header("Content-Range"), r.body),
                             (206, "bytes 0-0/%d" % size, data[:1]))
            # A resume one byte past the end is clamped.
            r = c2.request(path, headers=[("Range", "bytes=%d-%d" % (size - 10, size))])
            self.assertEqual((r.status, r.body), (206, data[-10:]))
        self.assertTrue(d.alive())

    def test_pinning_over_tls(self):
        """HEAD then ranges on one TLS connection; the image is replaced in
        the middle: the connection keeps getting the image its HEAD saw, a
        new connection gets the new one. Blocks are pinned by the header the
        same way."""
        d = self.start_tls()
        old, new = self.data, os.urandom(50000)
        with self.tls_conn(d) as c:
            r = c.request("/fw/image", method="HEAD")
            self.assertEqual(r.header("ETag"), etag_of(old))
            r = c.request("/fw/image", headers=[("Range", "bytes=0-4095")])
            self.assertTrue(r.body == old[:4096])
            self.assertEqual(c.request("/fw/header").status, 200)
            self.publish("fw", new)
            self.assertTrue(poll(lambda: d.get("/fw/image", method="HEAD").header("ETag")
                                 == etag_of(new)), "new image not served")
            with self.tls_conn(d) as c2:
                r = c2.request("/fw/image", method="HEAD")
                self.assertEqual(r.header("ETag"), etag_of(new))
            r = c.request("/fw/image", headers=[("Range", "bytes=4096-")])
            self.assertEqual((r.status, r.header("ETag")), (206, etag_of(old)))
            self.assertTrue(r.body == old[4096:], "pinned TLS connection got other bytes")
            r = c.request("/fw/block/200")
            self.assertEqual(r.header("ETag"), etag_of(old))
            self.assertEqual(r.body[:256], old[200 * 256:201 * 256])

    # --- robustness ------------------------------------------------------------
    def test_wrong_protocol_and_stalled_handshakes(self):
        d = self.start_tls()
        # Plain HTTP on the TLS port: never answered as HTTP.
        with Conn(d.tls_port) as c:
            c.send(b"GET /vec/header HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(c.wait_closed(5), "plain request on the TLS port left open")
            self.assertFalse(c.buf.startswith(b"HTTP/"), c.buf[:100])
        # TLS on the plain port: no handshake.
        with self.assertRaises((ssl.SSLError, ConnectionClosed, OSError)):
            TlsConn(d.port, self.context()).close()
        # Clients that connect and stall, before or in the middle of their
        # ClientHello, do not hold up the others.
        stalled = []
        for i in range(4):
            s = socket.create_connection(("127.0.0.1", d.tls_port), timeout=5)
            if i % 2:
                s.sendall(HALF_HELLO)
            stalled.append(s)
        try:
            t0 = time.monotonic()
            r = self.curl(self.url(d, "/vec/header"))
            self.assertEqual(r.body, vector("expected/header.bin"))
            self.assertLess(time.monotonic() - t0, 3.0)
            self.assertEqual(d.get("/vec/header").body, vector("expected/header.bin"))
            idle = self.tls_conn(d)
            self.addCleanup(idle.close)
            self.assertEqual(idle.request("/vec/header").status, 200)
            # SIGTERM with all of them open: a clean stop within 2 s.
            status, elapsed = d.stop(signal.SIGTERM, timeout=STOP_LIMIT + 3)
            self.assertEqual(status, 0, d.stderr())
            self.assertLess(elapsed, STOP_LIMIT, "took %.2f s to stop" % elapsed)
        finally:
            for s in stalled:
                s.close()

    def test_idle_handshakes_cost_nothing_and_time_out(self):
        """max_connections TCP connections to the TLS port that never finish
        their handshake, half of them after a partial ClientHello: otad uses
        no CPU for them (a spinning worker takes a whole second in 3 s),
        closes every one after idle_timeout, and then answers HTTPS again."""
        # No per-address limit: every slot must be taken from one address.
        d = self.start_tls(extra="idle_timeout: 2\nmax_connections: 16\n"
                                 "max_connections_per_address: 0\nthreads: 2\n")
        stalled = []
        try:
            for i in range(16):
                stalled.append(Conn(d.tls_port))
                if i % 2:
                    stalled[-1].send(HALF_HELLO)
            time.sleep(0.5)
            before = cpu_seconds(d.pid)
            time.sleep(3)
            used = cpu_seconds(d.pid) - before
            self.assertLess(used, 0.3, "otad used %.2f s of CPU in 3 s for idle handshakes"
                            % used)
            for i, c in enumerate(stalled):
                self.assertTrue(c.wait_closed(20), "stalled handshake %d left open" % i)
            with self.tls_conn(d) as c:
                self.assertEqual(c.request("/vec/header").body, vector("expected/header.bin"))
            r = self.curl(self.url(d, "/vec/header"))
            self.assertEqual(r.body, vector("expected/header.bin"))
        finally:
            for s in stalled:
                s.close()
        # Handshakes whose clients left before the timeout are closed too.
        for _ in range(16):
            s = socket.create_connection(("127.0.0.1", d.tls_port), timeout=5)
            s.sendall(HALF_HELLO)
            s.close()
        time.sleep(3)
        before = cpu_seconds(d.pid)
        time.sleep(2)
        self.assertLess(cpu_seconds(d.pid) - before, 0.3)
        with self.tls_conn(d) as c:
            self.assertEqual(c.request("/vec/header").body, vector("expected/header.bin"))

    def test_dribbled_handshake_closed_after_request_timeout(self):
        """A ClientHello sent a byte a second is cut request_timeout (default
        10 s) after the connection started, long before idle_timeout (whose
        clock the library does not restart during a handshake)."""
        d = self.start_tls()
        with Conn(d.tls_port) as c:
            t0 = time.monotonic()
            closed = False
            for n in range(30):
                try:
                    c.send(HALF_HELLO[n % len(HALF_HELLO):][:1])
                except OSError:
                    closed = True
                    break
                if c.wait_closed(1.0):
                    closed = True
                    break
            elapsed = time.monotonic() - t0
            self.assertTrue(closed, "a dribbled handshake was still open after %.0f s" % elapsed)
            self.assertGreaterEqual(elapsed, 9)
        with self.tls_conn(d) as c:
            self.assertEqual(c.request("/vec/header").body, vector("expected/header.bin"))

if __name__ == "__main__":
    main()
