# SPDX-License-Identifier: MIT
"""Headless Chromium (Debian's chromium package) driven over its DevTools
protocol with python3-websocket, for the tests that look at a page as a
browser shows it (34-status-page.py, scripts/status-screenshots.py).

The browser gets a throw-away profile under the caller's directory, its
DevTools endpoint on 127.0.0.1 at a port it picks itself (read back from
DevToolsActivePort), everything that would reach out on its own (sync,
updates, field trials, the safe-browsing lists) switched off, and no host
name resolving but for 127.0.0.1. It is
stopped by its PID. Every wait has a deadline."""

import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request

import websocket

START_TIMEOUT = 20.0
CALL_TIMEOUT = 10.0


def chromium_binary():
    """The browser itself, not Debian's wrapper script (which only adds
    flags from /etc/chromium.d), or "" when the package is missing."""
    for path in ("/usr/lib/chromium/chromium", shutil.which("chromium") or ""):
        if path and os.access(path, os.X_OK):
            return path
    return ""


class Browser:
    def __init__(self, workdir):
        self.profile = os.path.join(workdir, "chromium-profile")
        os.makedirs(self.profile, exist_ok=True)
        args = [chromium_binary(), "--headless=new", "--disable-gpu",
                "--user-data-dir=" + self.profile,
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
                "--disable-client-side-phishing-detection", "--metrics-recording-only",
                "--no-pings", "--disable-breakpad", "--disable-field-trial-config",
                "--hide-scrollbars", "--force-color-profile=srgb", "--lang=en-US",
                # No name resolves: whatever the browser might still reach
                # for by itself (updates, fonts, hints) goes nowhere.
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                "about:blank"]
        if os.geteuid() == 0:
            # Chromium refuses to start as root with its sandbox on (it
            # needs an unprivileged user for its namespaces); CI runs as
            # root. The page it opens is our own, on 127.0.0.1.
            args.insert(1, "--no-sandbox")
        with open(os.path.join(workdir, "chromium.log"), "wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log,
                                         start_new_session=True)
        self.ws = None
        self.next_id = 0
        self.events = []
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    def _connect(self):
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + START_TIMEOUT
        port = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with open(port_file) as f:
                    port = int(f.readline())
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        if port is None:
            raise RuntimeError("chromium did not start (status %r)" % self.proc.poll())
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"],
                                              timeout=CALL_TIMEOUT, suppress_origin=True)

    def call(self, method, **params):
        """One DevTools command; its result. Events read meanwhile are kept
        in self.events as (method, params)."""
        self.next_id += 1
        me = self.next_id
        self.ws.send(json.dumps({"id": me, "method": method, "params": params}))
        deadline = time.monotonic() + CALL_TIMEOUT
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == me:
                if "error" in msg:
                    raise RuntimeError("%s: %r" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append((msg["method"], msg.get("params", {})))
        raise TimeoutError(method)

    def evaluate(self, expression):
        """The JSON value of a JavaScript expression in the page (awaited)."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %r" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_for(self, expression, timeout=10.0):
        """Polls until @expression is truthy; its value, or AssertionError."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("not true within %.0f s: %s\nthe page said: %s"
                                     % (timeout, expression, "\n".join(self.messages())))
            time.sleep(0.1)

    def messages(self):
        """What the page logged and threw, and the browser's own log entries
        (a CSP refusal, a failed load), as lines: with Runtime and Log
        enabled."""
        out = []
        for method, p in self.events:
            if method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append("exception: %s" % d.get("exception", {}).get("description", d["text"]))
            elif method == "Runtime.consoleAPICalled":
                out.append("console.%s: %s" % (p["type"], " ".join(
                    str(a.get("value", a.get("description"))) for a in p["args"])))
            elif method == "Log.entryAdded":
                out.append("log: %s %s" % (p["entry"]["text"], p["entry"].get("url", "")))
        return out

    def viewport(self, width, height):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=width < 600)

    def screenshot(self, path, width, height):
        """A PNG of the page at @width x @height (the top of it), into @path."""
        self.viewport(width, height)
        time.sleep(0.3)  # one layout and paint at the new size
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        if self.ws is not None:
            try:
                self.ws.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: its helpers too
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
