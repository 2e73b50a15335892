#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The admin listener: the read-only fleet API (/devices, /devices/ID), the
metrics (/metrics, read with python3-prometheus-client's parser) and the
firmware listing, on admin.bind:admin.port apart from the device port."""

import json
import os
import socket
import threading
import time

from prometheus_client.parser import text_string_to_metric_families

from otadtest import (BLOCK_SIZE, OtadTestCase, block_count, crc32, free_port, main,
                      poll, run_otad, vector)

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATES = ("checking", "downloading", "downloaded", "stalled", "up-to-date")


def metrics(d):
    """{(sample name, frozenset of labels): value} and {family: type} of /metrics."""
    r = d.admin_get("/metrics")
    if r.status != 200 or r.header("Content-Type") != METRICS_TYPE:
        raise AssertionError("/metrics: %r" % r)
    samples, types = {}, {}
    for fam in text_string_to_metric_families(r.body.decode("utf-8")):
        types[fam.name] = fam.type
        for s in fam.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, types


def sample(samples, metric, /, **labels):
    """A sample's value; a series not shown yet counts 0."""
    return samples.get((metric, frozenset(labels.items())), 0)


def listening(pid):
    """[(address, port)] of the TCP sockets process `pid` listens on, read
    from /proc (the socket inodes of its descriptors)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    found = []
    for table, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                addr, hexport = cols[1].split(":")
                if cols[3] == "0A" and cols[9] in inodes:
                    raw = bytes.fromhex(addr)
                    # /proc prints each 32-bit word in host (little-endian) order.
                    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, size, 4))
                    found.append((socket.inet_ntop(socket.AF_INET if size == 4
                                                   else socket.AF_INET6, raw),
                                  int(hexport, 16)))
    return found


def listening_address(pid, port):
    return [a for (a, p) in listening(pid) if p == port]


class Admin(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        self.app = self.add_image("app", os.urandom(10 * BLOCK_SIZE + 17), version=42)

    # --- the listener ---------------------------------------------------
    def test_bound_to_loopback_by_default(self):
        """admin.bind defaults to 127.0.0.1, whatever the device port binds."""
        d = self.start(bind="0.0.0.0")
        self.assertEqual(listening_address(d.pid, d.admin_port), ["127.0.0.1"])
        self.assertEqual(listening_address(d.pid, d.port), ["0.0.0.0"])
        self.assertIn("admin API on 127.0.0.1:%d" % d.admin_port, d.stderr())

    def test_bind_given(self):
        d = self.start("admin:\n  bind: 127.0.0.2\n  port: %d\n" % free_port())
        self.assertEqual(listening_address(d.pid, d.admin_port), ["127.0.0.2"])
        self.assertEqual(d.admin_bind, "127.0.0.2")
        self.assertEqual(d.admin_get("/devices").status, 200)

    def test_port_zero_is_none(self):
        d = self.start(admin_port=0)
        self.assertNotIn("admin API", d.stderr())
        self.assertEqual(listening(d.pid), [("127.0.0.1", d.port)])
        self.assertServing(d)

    def test_port_in_use(self):
        """An admin port that cannot be bound is a start-up error naming it."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            cfg = self.config("user: root\nadmin:\n  port: %d\n" % port)
            p = run_otad(["--config", cfg, "--firmware-dir", self.dir, "--bind", "127.0.0.1",
                          "--port", str(free_port())])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot listen on 127.0.0.1 port %d" % port, p.stderr.decode())

    def test_privileged_port_bound_before_root_is_dropped(self):
        """A port below 1024 for the admin listener, with otad becoming
        nobody: it is bound while otad is still root, like the device port."""
        if os.geteuid() != 0:
            self.skipTest("needs root")
        for path in (self.tmp, self.dir):
            os.chmod(path, 0o755)
        for name in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, name), 0o644)
        port = None
        for candidate in range(1000, 900, -1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", candidate))
                except OSError:
                    continue
                port = candidate
                break
        if port is None:
            self.skipTest("no free port below 1024")
        d = self.start("admin:\n  port: %d\n" % port, user=None)
        with open("/proc/%d/status" % d.pid) as f:
            uid = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        self.assertEqual(uid, ["65534"] * 4)
        self.assertEqual(listening_address(d.pid, port), ["127.0.0.1"])
        self.assertEqual(d.admin_get("/metrics").status, 200)

    def test_admin_paths_not_on_device_port(self):
        d = self.start()
        for path in ("/devices", "/devices?format=json", "/devices/127.0.0.1", "/metrics"):
            self.assertEqual(d.get(path).status, 404, path)
            self.assertEqual(d.admin_get(path.replace("127.0.0.1", "x")).status,
                             404 if path.startswith("/devices/") else 200, path)

    def test_methods(self):
        d = self.start()
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            for path in ("/devices", "/metrics", "/firmwares", "/nowhere"):
                r = d.admin_get(path, method=method)
                self.assertEqual(r.status, 405, (method, path))
                self.assertEqual(r.header("Allow"), "GET, HEAD")
        with d.admin_conn() as c:
            r = c.request("/firmwares", method="POST", body=b"x" * 100)
            self.assertEqual(r.status, 405)
        get = d.admin_get("/firmwares")
        head = d.admin_get("/firmwares", method="HEAD")
        self.assertEqual((head.status, head.body), (200, b""))
        self.assertEqual(head.header("Content-Length"), str(len(get.body)))

    def test_not_found_and_bad_request(self):
        d = self.start()
        for path in ("/index.html", "/status", "/devices/", "/devices/nobody", "/metrics/x", "/app/header",
                     "/firmwaresx", "/devices%2Fx"):
            self.assertEqual(d.admin_get(path).status, 404, path)
        r = d.admin_get("/devices?state=broken")
        self.assertEqual((r.status, r.body), (400, b"unknown state\n"))
        for state in STATES:
            self.assertEqual(d.admin_get("/devices?state=" + state).status, 200, state)
        for q in ("sort=size", "sort=-", "offset=-1", "limit=x", "offset=1x", "limit="):
            r = d.admin_get("/devices?" + q)
            self.assertEqual(r.status, 400, q)
            self.assertIn(b"unknown sort", r.body, q)

    def test_head_too_large(self):
        """Heads are bounded as on the device port, in at least 16 KiB of
        connection memory (a browser's head fits; the device port's 2 KiB
        would refuse it)."""
        d = self.start("connection_memory: 2048\n")
        browser = [("User-Agent", "Mozilla/5.0 " + "x" * 120), ("Accept", "text/html," * 20)]
        browser += [("X-Browser-%d" % i, "v" * 20) for i in range(12)]
        self.assertEqual(d.get("/app/header", headers=browser).status, 431)
        self.assertEqual(d.admin_get("/metrics", headers=browser).status, 200)
        r = d.admin_get("/metrics", headers=[("X-Filler", "a" * 12000)])
        self.assertEqual(r.status, 200)
        r = d.admin_get("/metrics", headers=[("Cookie", "a=" + "b" * 12000)])  # counts twice
        self.assertEqual(r.status, 431)
        self.assertEqual(d.admin_get("/metrics").status, 200)

    # --- /firmwares -----------------------------------------------------
    def test_firmwares_same_as_device_port(self):
        d = self.start()
        for query, headers in (("", None), ("?format=json", None),
                               ("", [("Accept", "application/json")])):
            a = d.admin_get("/firmwares" + query, headers=headers)
            b = d.get("/firmwares" + query, headers=headers)
            self.assertEqual((a.status, a.body, a.header("Content-Type")),
                             (b.status, b.body, b.header("Content-Type")))
        items = json.loads(d.admin_get("/firmwares?format=json").body)
        self.assertEqual([i["name"] for i in items], ["app", "vec"])
        self.assertEqual([i["url_name"] for i in items], ["app", "vec"])

    def test_names_not_utf8(self):
        """Files named with 0xff and with 0xc3 0x28 (a lead byte, then '('):
        never served, so every listing stays valid JSON and UTF-8, and the
        metrics count them as failed loads."""
        for raw in (b"a\xff.bin", b"b\xc3\x28.bin"):
            with open(os.path.join(os.fsencode(self.dir), raw), "wb") as f:
                f.write(os.urandom(300))
        self.add_image("my fw", os.urandom(50), version=3)
        d = self.start()
        for r in (d.admin_get("/firmwares?format=json"), d.get("/firmwares?format=json")):
            items = json.loads(r.body.decode("utf-8"))
            self.assertEqual([i["name"] for i in items], ["app", "my fw", "vec"])
            self.assertEqual(items[1]["url_name"], "my%20fw")
        self.assertEqual(d.get("/%s/header" % items[1]["url_name"]).status, 200)
        self.assertEqual(d.get("/a%FF/header").status, 404)
        samples, _ = metrics(d)
        self.assertEqual(sample(samples, "otad_reloads_total", result="failed"), 2)
        names = {l[1] for (n, ls), _ in samples.items() if n == "otad_firmware_info"
                 for l in ls if l[0] == "name"}
        self.assertEqual(names, {"app", "my fw", "vec"})

    # --- /metrics -------------------------------------------------------
    def test_metrics_families(self):
        d = self.start()
        _, types = metrics(d)
        expected = {
            "otad_requests": "counter", "otad_response_bytes": "counter",
            "otad_connections": "gauge", "otad_firmware_info": "gauge",
            "otad_reloads": "counter", "otad_devices": "gauge",
            "otad_downloads_started": "counter", "otad_downloads_completed": "counter",
            "otad_download_duration_seconds": "histogram", "otad_reports": "counter",
            "otad_catalog_memory_bytes": "gauge", "otad_devices_evicted": "counter",
        }
        for name, kind in expected.items():
            self.assertEqual(types.get(name), kind, name)

    def test_firmware_info_and_reloads(self):
        """Labels from the files, computed here: version from NAME.txt, CRC
        with zlib; reloads count the first scan and each change."""
        d = self.start()
        samples, _ = metrics(d)
        for name, data, version in (("app", self.app, 42),
                                    ("vec", vector("vec.bin"), int(vector("vec.txt")))):
            labels = dict(name=name, version=str(version), crc="0x%08X" % crc32(data),
                          signed="false", key_id="")
            self.assertEqual(sample(samples, "otad_firmware_info", **labels), 1, labels)
        self.assertEqual(sample(samples, "otad_reloads_total", result="added"), 2)
        self.assertEqual(sample(samples, "otad_reloads_total", result="replaced"), 0)
        memory = sample(samples, "otad_catalog_memory_bytes")
        self.assertGreaterEqual(memory, len(self.app) + 1000)
        new = os.urandom(3 * BLOCK_SIZE)
        self.publish("app", new)
        self.assertTrue(poll(lambda: sample(metrics(d)[0], "otad_reloads_total",
                                            result="replaced") == 1, timeout=5))
        samples, _ = metrics(d)
        self.assertEqual(sample(samples, "otad_firmware_info", name="app", version="42",
                                crc="0x%08X" % crc32(new), signed="false", key_id=""), 1)
        os.unlink(os.path.join(self.dir, "vec.bin"))
        self.assertTrue(poll(lambda: sample(metrics(d)[0], "otad_reloads_total",
                                            result="removed") == 1, timeout=5))

    def test_request_counters(self):
        """N block requests on the device port: the counter grows by N, the
        bytes by N blocks of 260 (and the 416's body); a 404 and a 416 by one each; the
        connections the test holds open are the gauge."""
        d = self.start()
        before, _ = metrics(d)
        n = block_count(self.app)
        with d.conn() as c:
            for i in range(n):
                self.assertEqual(c.request("/app/block/%d" % i).status, 200)
            self.assertEqual(c.request("/app/block/%d" % n).status, 416)
            self.assertEqual(c.request("/nothing/header").status, 404)
            with d.conn() as c2, d.conn() as c3:
                c2.request("/vec/header")
                c3.request("/vec/header")
                held, _ = metrics(d)
                self.assertEqual(sample(held, "otad_connections"), 3)
        after, _ = metrics(d)
        grew = lambda name, **l: sample(after, name, **l) - sample(before, name, **l)
        self.assertEqual(grew("otad_requests_total", endpoint="block", status="200"), n)
        self.assertEqual(grew("otad_requests_total", endpoint="block", status="416"), 1)
        self.assertEqual(grew("otad_requests_total", endpoint="header", status="404"), 1)
        self.assertEqual(grew("otad_requests_total", endpoint="header", status="200"), 2)
        self.assertEqual(grew("otad_response_bytes_total", endpoint="block"),
                         260 * n + len(b"block out of range\n"))
        self.assertEqual(grew("otad_response_bytes_total", endpoint="header"),
                         2 * 20 + len(b"not found\n"))
        self.assertTrue(poll(lambda: sample(metrics(d)[0], "otad_connections") == 0))
        # The admin listener's own requests are not counted.
        self.assertEqual(sample(after, "otad_requests_total", endpoint="none", status="404"), 0)


    def test_scrapes_during_downloads(self):
        """Scrapes and device listings while devices download: every counter
        only grows, and in the end it holds every request made."""
        d = self.start()
        n = block_count(self.app)
        errors, done = [], threading.Event()

        def device(k):
            try:
                for _ in range(3):
                    with d.conn() as c:
                        c.request("/app/header", headers=[("X-Device-Id", "dev-%d" % k)])
                        for i in range(n):
                            if c.request("/app/block/%d" % i).status != 200:
                                raise AssertionError("block %d" % i)
            except Exception as e:      # reported below
                errors.append(e)

        threads = [threading.Thread(target=device, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        last, deadline = 0, time.monotonic() + 30
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            samples, _ = metrics(d)
            now = sample(samples, "otad_requests_total", endpoint="block", status="200")
            self.assertGreaterEqual(now, last)
            last = now
            self.assertEqual(d.admin_get("/devices?format=json").status, 200)
        for t in threads:
            t.join(10)
        self.assertEqual(errors, [])
        samples, _ = metrics(d)
        self.assertEqual(sample(samples, "otad_requests_total", endpoint="block",
                                status="200"), 4 * 3 * n)
        self.assertEqual(sample(samples, "otad_downloads_completed_total"), 4 * 3)
        self.assertEqual(sorted(i["id"] for i in self.devices(d)),
                         ["dev-%d" % k for k in range(4)])

    # --- /devices -------------------------------------------------------
    def header(self, d, name, device_id=None, version=None):
        headers = []
        if device_id is not None:
            headers.append(("X-Device-Id", device_id))
        if version is not None:
            headers.append(("X-Device-Version", str(version)))
        with d.conn() as c:
            r = c.request("/%s/header" % name, headers=headers)
        self.assertEqual(r.status, 200)

    def devices(self, d, query=""):
        r = d.admin_get("/devices" + query, headers=[("Accept", "application/json")])
        self.assertEqual((r.status, r.header("Content-Type")), (200, "application/json"))
        return json.loads(r.body.decode("utf-8"))

    def test_devices_from_header_requests(self):
        """Header requests with X-Device-Id, and one without (a legacy device,
        known by its address), are listed sorted by id; text and JSON agree."""
        d = self.start()
        t0 = int(time.time() * 1000)
        self.header(d, "app", "dev-b", version=41)
        self.header(d, "app", "dev-a")
        self.header(d, "vec")
        t1 = int(time.time() * 1000)
        items = self.devices(d)
        self.assertEqual([i["id"] for i in items], ["127.0.0.1", "dev-a", "dev-b"])
        legacy, a, b = items
        self.assertEqual((legacy["by_address"], legacy["address"], legacy["firmware"],
                          legacy["offered"]), (True, "127.0.0.1", "vec", int(vector("vec.txt"))))
        self.assertEqual((b["by_address"], b["firmware"], b["state"], b["installed"],
                          b["offered"], b["blocks_served"], b["last_report"]),
                         (False, "app", "checking", 41, 42, 0, None))
        self.assertIsNone(a["installed"])
        for i in items:
            self.assertTrue(t0 <= i["first_seen_ms"] <= i["last_seen_ms"] <= t1, i)
            self.assertEqual(i["first_seen"], time.strftime(
                "%Y-%m-%dT%H:%M:%S", time.gmtime(i["first_seen_ms"] // 1000)) +
                ".%03dZ" % (i["first_seen_ms"] % 1000))
        text = d.admin_get("/devices").body.decode("utf-8")
        self.assertEqual([p.split("\n")[0] for p in text.strip().split("\n\n")],
                         ["127.0.0.1", "dev-a", "dev-b"])
        self.assertIn("dev-b\n  address: 127.0.0.1\n  firmware: app\n  state: checking\n"
                      "  installed: 41\n  offered: 42\n", text)
        self.assertIn("127.0.0.1\n  address: 127.0.0.1 (known by its address)\n", text)

    def test_filters_and_one_device(self):
        """A full download moves a device to downloaded; the filters keep
        what they name; /devices/ID has its events in order."""
        d = self.start()
        n = block_count(self.app)
        with d.conn() as c:
            self.assertEqual(c.request("/app/header", headers=[("X-Device-Id", "full")]).status,
                             200)
            for i in range(n):
                self.assertEqual(c.request("/app/block/%d" % i).status, 200)
        self.header(d, "app", "half")
        self.header(d, "vec", "other")
        ids = lambda q: [i["id"] for i in self.devices(d, q)]
        self.assertEqual(ids("?firmware=app"), ["full", "half"])
        self.assertEqual(ids("?firmware=vec"), ["other"])
        self.assertEqual(ids("?state=downloaded"), ["full"])
        self.assertEqual(ids("?firmware=vec&state=checking"), ["other"])
        self.assertEqual(ids("?firmware=vec&state=downloaded"), [])
        self.assertEqual(ids("?firmware=nothing"), [])
        r = d.admin_get("/devices/full?format=json")
        self.assertEqual(r.status, 200)
        full = json.loads(r.body)
        self.assertEqual((full["state"], full["blocks_served"], full["blocks_total"],
                          full["percent"], full["bytes"]), ("downloaded", n, n, 100, 260 * n))
        states = [e["state"] for e in full["events"] if e["type"] == "state"]
        self.assertEqual(states, ["checking", "downloading", "downloaded"])
        self.assertTrue(all(e["version"] == 42 for e in full["events"]))
        text = d.admin_get("/devices/full").body.decode()
        self.assertIn("  blocks: %d of %d (100%%)\n" % (n, n), text)
        self.assertRegex(text, r"\n  events:\n    \S+Z state checking, version 42\n"
                               r"    \S+Z state downloading, version 42\n"
                               r"    \S+Z state downloaded, version 42\n$")
        self.assertEqual(d.admin_get("/devices/nobody").status, 404)
        samples, _ = metrics(d)
        self.assertEqual(sample(samples, "otad_devices", firmware="app", state="downloaded"), 1)
        self.assertEqual(sample(samples, "otad_devices", firmware="app", state="checking"), 1)
        self.assertEqual(sample(samples, "otad_devices", firmware="vec", state="checking"), 1)
        self.assertEqual(sample(samples, "otad_downloads_started_total"), 1)
        self.assertEqual(sample(samples, "otad_downloads_completed_total"), 1)
        self.assertEqual(sample(samples, "otad_download_duration_seconds_count"), 1)
        self.assertEqual(sample(samples, "otad_download_duration_seconds_bucket", le="+Inf"), 1)

    def test_report_shown(self):
        """An accepted report is the device's last_report and an event, and
        counts in otad_reports_total."""
        d = self.start()
        self.header(d, "app", "dev-r", version=41)
        body = b"status=failed&version=42&reason=crc"
        with d.conn() as c:
            r = c.request("/app/report", method="POST", body=body,
                          headers=[("X-Device-Id", "dev-r"),
                                   ("Content-Type", "application/x-www-form-urlencoded")])
        self.assertEqual(r.status, 204)
        dev = json.loads(d.admin_get("/devices/dev-r?format=json").body)
        report = dev["last_report"]
        self.assertEqual((report["type"], report["status"], report["reason"], report["version"]),
                         ("report", "failed", "crc", 42))
        self.assertEqual(dev["events"][-1], report)
        samples, _ = metrics(d)
        self.assertEqual(sample(samples, "otad_reports_total", status="failed"), 1)
        self.assertEqual(sample(samples, "otad_reports_total", status="installed"), 0)
        self.assertEqual(sample(samples, "otad_requests_total", endpoint="report",
                                status="204"), 1)

    def test_sort_and_pages(self):
        """?sort= orders the whole listing, ?offset= and ?limit= cut a page
        of it, and X-Total-Count says how many the filters kept."""
        d = self.start()
        n = block_count(self.app)
        with d.conn() as c:
            c.request("/app/header", headers=[("X-Device-Id", "m-full")])
            for i in range(n):
                self.assertEqual(c.request("/app/block/%d" % i).status, 200)
        with d.conn() as c:
            c.request("/app/header", headers=[("X-Device-Id", "z-part")])
            self.assertEqual(c.request("/app/block/0").status, 200)
        for i in "abcde":
            self.header(d, "vec", "v-" + i)

        def page(q):
            r = d.admin_get("/devices?format=json&" + q)
            self.assertEqual(r.status, 200, q)
            return [i["id"] for i in json.loads(r.body)], r.header("X-Total-Count")

        self.assertEqual(page("sort=-percent&limit=2"), (["m-full", "z-part"], "7"))
        self.assertEqual(page("sort=percent&offset=5"), (["z-part", "m-full"], "7"))
        self.assertEqual(page("firmware=vec&offset=1&limit=2"), (["v-b", "v-c"], "5"))
        self.assertEqual(page("firmware=vec&sort=-id&limit=1"), (["v-e"], "5"))
        self.assertEqual(page("offset=99"), ([], "7"))
        self.assertEqual(page("state=downloading"), (["z-part"], "1"))
        part = json.loads(d.admin_get("/devices/z-part?format=json").body)
        self.assertEqual((part["download_size"], part["download_done"], part["percent"]),
                         (260 * n, 260, 100 // n))

    def test_summary(self):
        """/summary: devices per state in all and per firmware, and the
        downloads of each firmware completed, by second from the first."""
        d = self.start()
        n = block_count(self.app)
        t0 = int(time.time() * 1000)
        for dev in ("s-1", "s-2"):
            with d.conn() as c:
                c.request("/app/header", headers=[("X-Device-Id", dev)])
                for i in range(n):
                    self.assertEqual(c.request("/app/block/%d" % i).status, 200)
        self.header(d, "vec", "s-3")
        t1 = int(time.time() * 1000)
        r = d.admin_get("/summary")
        self.assertEqual((r.status, r.header("Content-Type")), (200, "application/json"))
        s = json.loads(r.body)
        self.assertTrue(t1 <= s["now_ms"] <= int(time.time() * 1000) + 1, s)
        zero = dict.fromkeys(STATES, 0)
        self.assertEqual(s["devices"], dict(zero, downloaded=2, checking=1))
        self.assertEqual((s["downloads_started"], s["downloads_completed"]), (2, 2))
        self.assertEqual([f["name"] for f in s["firmwares"]], ["app", "vec"])
        app, vec = s["firmwares"]
        self.assertEqual((app["devices"], app["completed"]), (dict(zero, downloaded=2), 2))
        self.assertEqual((vec["devices"], vec["completed"], vec["timeline"]),
                         (dict(zero, checking=1), 0, None))
        tl = app["timeline"]
        self.assertTrue(t0 <= tl["start_ms"] <= t1, tl)
        self.assertEqual((tl["bucket_ms"], len(tl["counts"]), sum(tl["counts"])), (1000, 48, 2))
        self.assertEqual(tl["counts"][0], 2 if t1 - tl["start_ms"] < 1000 else 1)

    def test_status_page_files(self):
        """/, /status.css and /status.js: the page's files from the binary,
        each with the policy that lets only same-origin files run."""
        d = self.start()
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src",
                            "status")
        total = 0
        for path, name, ctype in (("/", "status.html", "text/html; charset=utf-8"),
                                  ("/status.css", "status.css", "text/css; charset=utf-8"),
                                  ("/status.js", "status.js",
                                   "text/javascript; charset=utf-8")):
            r = d.admin_get(path)
            self.assertEqual((r.status, r.header("Content-Type")), (200, ctype), path)
            self.assertEqual(r.header("Content-Security-Policy"), "default-src 'self'", path)
            self.assertEqual(r.header("X-Content-Type-Options"), "nosniff", path)
            with open(os.path.join(here, name), "rb") as f:
                self.assertEqual(r.body, f.read(), path)
            total += len(r.body)
        self.assertLess(total, 40 * 1024)  # the whole page: under 40 KiB
        self.assertEqual(d.get("/").status, 404)  # never on the device port


if __name__ == "__main__":
    main()
