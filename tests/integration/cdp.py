#!/usr/bin/env python3
"""cdp.py - drives headless Chromium for the status page test (api_ui.sh)
over the DevTools protocol on a pipe (--remote-debugging-pipe: the browser
reads commands on its fd 3 and answers on its fd 4, NUL-terminated JSON),
with nothing but the Python standard library.

    cdp.py CHROMIUM PROFILE_DIR

prints "ready PID" (the browser's; or "fail REASON" and exits 1), then reads one command a
line on stdin and answers each with one line, "ok ..." or "fail ...":

    open URL            load URL, wait for its load event
    size W H [mobile]   the viewport, in CSS pixels
    eval JS             the value of the expression (awaited), as JSON
    wait SECS JS        until the expression is truthy (polled every 50 ms)
    click CSS           a real mouse click (press, release) at the middle
                        of the first element the selector finds
    type CSS TEXT       focus the element and type TEXT into it
    key NAME            press a key (Enter)
    shot FILE           a PNG screenshot of the viewport
    errors              the page's uncaught exceptions and console errors
                        (CSP violations among them) since the last call
    quit
"""
import base64
import json
import os
import select
import subprocess
import sys
import time


class Browser:
    def __init__(self, chrome, profile):
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()

        def fds():
            a, b = os.dup(to_r), os.dup(from_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        log = open(os.path.join(profile, "chrome.stderr"), "ab")
        self.proc = subprocess.Popen(
            [chrome, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run",
             "--no-default-browser-check", "--user-data-dir=" + profile,
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=fds, pass_fds=(3, 4))
        os.close(to_r)
        os.close(from_w)
        self.w, self.r = to_w, from_r
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.errors = []
        self.session = None

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self.w, data):]
        return self.next_id

    def recv(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the browser")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise EOFError("the browser closed its pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        m = json.loads(msg)
        if m.get("method") == "Runtime.exceptionThrown":
            d = m["params"]["exceptionDetails"]
            self.errors.append("exception: " + str(
                d.get("exception", {}).get("description") or d.get("text")))
        elif m.get("method") == "Log.entryAdded":
            e = m["params"]["entry"]
            if e.get("level") == "error":
                self.errors.append("console: " + str(e.get("text")))
        elif m.get("method") == "Runtime.consoleAPICalled":
            if m["params"].get("type") == "error":
                self.errors.append("console.error: " + json.dumps(
                    [a.get("value") for a in m["params"].get("args", [])]))
        return m

    def call(self, method, params=None, timeout=30, session=True):
        i = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(deadline)
            if m.get("id") == i:
                if "error" in m:
                    raise RuntimeError(method + ": " + m["error"].get("message", "?"))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def event(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for k, m in enumerate(self.events):
                if m["method"] == method:
                    del self.events[k]
                    return m
            self.events.append(self.recv(deadline))

    def start(self):
        targets = self.call("Target.getTargets", session=False)["targetInfos"]
        page = [t for t in targets if t["type"] == "page"][0]
        self.session = self.call("Target.attachToTarget", {
            "targetId": page["targetId"], "flatten": True},
            session=False)["sessionId"]
        for d in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.call(d)

    def evaluate(self, expr, timeout=30):
        r = self.call("Runtime.evaluate", {
            "expression": expr, "awaitPromise": True, "returnByValue": True},
            timeout=timeout)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise RuntimeError("the expression threw: " + str(
                d.get("exception", {}).get("description") or d.get("text")))
        return r["result"].get("value")


def do(b, line):
    cmd, _, arg = line.partition(" ")
    if cmd == "open":
        b.events = [m for m in b.events if m["method"] != "Page.loadEventFired"]
        r = b.call("Page.navigate", {"url": arg})
        if r.get("errorText"):
            return "fail " + r["errorText"]
        if r.get("loaderId"):   # not a move within the page (#fragment)
            b.event("Page.loadEventFired")
        return "ok"
    if cmd == "size":
        w = arg.split()
        b.call("Emulation.setDeviceMetricsOverride", {
            "width": int(w[0]), "height": int(w[1]), "deviceScaleFactor": 1,
            "mobile": len(w) > 2 and w[2] == "mobile"})
        return "ok"
    if cmd == "eval":
        return "ok " + json.dumps(b.evaluate(arg))
    if cmd == "wait":
        secs, _, expr = arg.partition(" ")
        deadline = time.monotonic() + float(secs)
        v = None
        while time.monotonic() < deadline:
            v = b.evaluate(expr)
            if v:
                return "ok " + json.dumps(v)
            time.sleep(0.05)
        return "fail timeout, last value " + json.dumps(v)
    if cmd == "click":
        sel = json.dumps(arg)
        p = b.evaluate("(function(){var e=document.querySelector(" + sel +
                       ");if(!e)return null;e.scrollIntoView({block:'center'});"
                       "var r=e.getBoundingClientRect();"
                       "return [r.left+r.width/2,r.top+r.height/2,r.width>0];})()")
        if not p or not p[2]:
            return "fail no visible element " + arg
        for t in ("mousePressed", "mouseReleased"):
            b.call("Input.dispatchMouseEvent", {"type": t, "x": p[0], "y": p[1],
                                                "button": "left", "clickCount": 1})
        return "ok"
    if cmd == "type":
        sel, _, text = arg.partition(" ")
        if not b.evaluate("(function(){var e=document.querySelector(" +
                          json.dumps(sel) + ");if(!e)return false;"
                          "e.focus();return true;})()"):
            return "fail no element " + sel
        b.call("Input.insertText", {"text": text})
        return "ok"
    if cmd == "key":
        for t in ("keyDown", "keyUp"):
            b.call("Input.dispatchKeyEvent", {
                "type": t, "key": arg, "code": arg,
                "windowsVirtualKeyCode": 13 if arg == "Enter" else 0,
                "text": "\r" if arg == "Enter" and t == "keyDown" else ""})
        return "ok"
    if cmd == "shot":
        data = b.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(arg, "wb") as f:
            f.write(base64.b64decode(data))
        return "ok"
    if cmd == "errors":
        b.call("Runtime.evaluate", {"expression": "0"})  # takes in events
        e, b.errors = b.errors, []
        return "ok " + json.dumps(e)
    return "fail unknown command " + cmd


def main():
    if len(sys.argv) != 3:
        print("usage: cdp.py CHROMIUM PROFILE_DIR", file=sys.stderr)
        return 2
    try:
        b = Browser(sys.argv[1], sys.argv[2])
        b.start()
    except Exception as e:  # the browser cannot start here
        print("fail " + str(e).replace("\n", " "), flush=True)
        return 1
    print("ready %d" % b.proc.pid, flush=True)
    try:
        for line in sys.stdin:
            line = line.rstrip("\n")
            if line == "quit":
                break
            try:
                out = do(b, line)
            except (TimeoutError, RuntimeError, ValueError, IndexError,
                    KeyError) as e:
                out = "fail " + str(e)
            print(out.replace("\n", " "), flush=True)
    except EOFError as e:
        print("fail " + str(e), flush=True)
    finally:
        b.proc.terminate()
        try:
            b.proc.wait(10)
        except subprocess.TimeoutExpired:
            b.proc.kill()
            b.proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
