#!/usr/bin/python3
"""cdp — drives headless Chromium over --remote-debugging-pipe with the standard library only
(the DevTools protocol as NUL-terminated JSON on the browser's fd 3 and 4): no npm, no pip.

    with Browser(["ip", "netns", "exec", NS], tmpdir) as b:
        b.navigate(url); b.wait("document.body.dataset.ready === '1'")
        b.click("tr.flow"); b.screenshot("shot.png")
    b.errors: every uncaught exception, console error and browser log error of the page;
    b.requests: every URL the page asked for.

The browser runs with a private --user-data-dir under tmpdir, in its own process group, and is
stopped by its pid (then its group) on exit, on an exception as much as on success.
"""
import base64
import json
import os
import select
import signal
import subprocess
import time

CHROMIUM = "/usr/lib/chromium/chromium"  # Debian's binary (the launcher script adds nothing)


class CdpError(Exception):
    pass


class Browser:
    def __init__(self, prefix, tmpdir, width=1200, height=800):
        self.prefix, self.tmpdir = list(prefix), tmpdir
        self.width, self.height = width, height
        self.proc = None
        self.next_id = 0
        self.buf = b""
        self.events = []
        self.errors = []
        self.requests = []
        self.session = None

    # ---- the pipe ----

    def __enter__(self):
        to_r, to_w = os.pipe()      # we write, the browser reads (its fd 3)
        from_r, from_w = os.pipe()  # the browser writes (its fd 4), we read

        def child():
            # os.pipe() fds are close-on-exec and dup2 onto itself keeps that flag: duplicate
            # high first, then onto 3 and 4 (os.dup2 makes them inheritable)
            a, b = os.dup(to_r), os.dup(from_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = self.prefix + [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            "--user-data-dir=" + os.path.join(self.tmpdir, "chromium-profile"),
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-dev-shm-usage", "--hide-scrollbars",
            "--mute-audio", "--window-size=%d,%d" % (self.width, self.height), "about:blank"]
        self.proc = subprocess.Popen(args, close_fds=False, preexec_fn=child,
                                     start_new_session=True, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.tmpdir, "chromium.log"), "w"))
        os.close(to_r)
        os.close(from_w)
        self.w, self.r = to_w, from_r
        try:
            self._attach()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            try:
                self.send("Browser.close", session=False, wait=False)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        if self.proc:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)  # the browser's own group: its renderers
                except ProcessLookupError:
                    break
                time.sleep(0.2)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for fd in (getattr(self, "w", None), getattr(self, "r", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        return False

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError("no answer from the browser in time")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise CdpError("the browser closed its pipe (see chromium.log)")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def _event(self, m):
        self.events.append(m)
        method, p = m.get("method"), m.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append("uncaught: " + d.get("exception", {}).get("description", d.get("text", "")))
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append("console.error: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            self.errors.append("log (%s): %s %s" % (e.get("source"), e.get("text"), e.get("url", "")))
        elif method == "Network.requestWillBeSent":
            self.requests.append(p.get("request", {}).get("url", ""))

    def send(self, method, params=None, session=True, wait=True, timeout=15):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        if not wait:
            return None
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise CdpError("%s: %s" % (method, m["error"].get("message")))
                return m.get("result", {})
            if "method" in m:
                self._event(m)

    def _attach(self):
        t = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        a = self.send("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True},
                      session=False)
        self.session = a["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.send(domain + ".enable")
        self.resize(self.width, self.height)

    # ---- what a test does ----

    def resize(self, width, height):
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def navigate(self, url):
        r = self.send("Page.navigate", {"url": url})
        if r.get("errorText"):
            raise CdpError("navigate %s: %s" % (url, r["errorText"]))

    def eval(self, expr):
        """The value of a JavaScript expression (awaited when it is a promise)."""
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise CdpError("evaluating %s: %s" % (expr, r["exceptionDetails"].get("text")))
        return r.get("result", {}).get("value")

    def wait(self, expr, timeout=10):
        """Polls expr until it is truthy; returns its value, or raises."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                v = self.eval(expr)
            except CdpError:
                v = None  # the page is between two documents
            if v:
                return v
            if time.monotonic() > deadline:
                raise CdpError("waited %ss for %s" % (timeout, expr))
            self.pump(0.05)

    def pump(self, seconds):
        """Reads the browser's events for a while (nothing else to do)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                return
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise CdpError("the browser closed its pipe")
            self.buf += chunk
            while b"\0" in self.buf:
                msg, self.buf = self.buf.split(b"\0", 1)
                m = json.loads(msg)
                if "method" in m:
                    self._event(m)

    def click(self, selector):
        """A real mouse click (pressed, released) at the middle of the first match."""
        box = self.eval("(() => { const e = document.querySelector(%s); if (!e) return null;"
                        " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
                        " return [r.x + r.width / 2, r.y + r.height / 2]; })()" % json.dumps(selector))
        if not box:
            raise CdpError("nothing to click: " + selector)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1})

    def key(self, key, code=None, text=None):
        """A key press on whatever has the focus (Tab, Enter, Escape)."""
        vk = {"Enter": 13, "Tab": 9, "Escape": 27, " ": 32}.get(key, 0)
        base = {"key": key, "code": code or key, "windowsVirtualKeyCode": vk}
        self.send("Input.dispatchKeyEvent", dict(base, type="rawKeyDown"))
        if text:
            self.send("Input.dispatchKeyEvent", dict(base, type="char", text=text))
        self.send("Input.dispatchKeyEvent", dict(base, type="keyUp"))

    def screenshot(self, path, full=False):
        params = {"format": "png"}
        if full:
            params["captureBeyondViewport"] = True
        r = self.send("Page.captureScreenshot", params)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def dom(self):
        return self.eval("document.documentElement.outerHTML")
