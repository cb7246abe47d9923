#!/usr/bin/env python3
"""A stand-in for jobspool-apiserver's worker routes (proc_remote_err.sh).

It gives the answers the real server gives rarely or never: a claim that
fails (500), a claim answered with text that is not JSON, a claim without
a job, and one job per case whose heartbeat, log upload or finish is
refused or fails.  Usage: fake_worker_api.py PORTFILE EVENTFILE [slow]
Every finish and log body it takes is written to EVENTFILE, one line each:
  finish ID STATUS EXIT_CODE GIVE_BACK
  log ID BYTES
With "slow" it serves two jobs only, "slowfin" and "next", and answers
slowfin's finish 3 s late, writing "claim CASE" for each claim answered
and "finish-begin slowfin" when that finish arrives: whether the next job
is claimed while a finished job's end is still being delivered.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORTFILE, EVENTS = sys.argv[1], sys.argv[2]
SLOW = len(sys.argv) > 3 and sys.argv[3] == "slow"
J = {
    "hb409": "00000000-0000-4000-8000-000000000001",
    "log400": "00000000-0000-4000-8000-000000000002",
    "fin500": "00000000-0000-4000-8000-000000000003",
    "cancel": "00000000-0000-4000-8000-000000000004",
    "short": "00000000-0000-4000-8000-000000000005",
    "log503": "00000000-0000-4000-8000-000000000006",
    "hang": "00000000-0000-4000-8000-000000000007",
    "left": "00000000-0000-4000-8000-000000000008",
    "unwritable": "00000000-0000-4000-8000-00000000000c",
    "slowfin": "00000000-0000-4000-8000-00000000000d",
    "next": "00000000-0000-4000-8000-00000000000e",
}
CASE = {v: k for k, v in J.items()}
SHELL = {
    "hb409": "echo started; sleep 30",
    "log400": "echo refused log",
    "fin500": "echo x; exit 3",
    "cancel": "echo waiting; sleep 30",
    "short": "echo short",
    "log503": "echo five-oh-three; sleep 1",
    "hang": "echo hanging; sleep 30",
    "unwritable": 5,	# not a job the processor's spool takes
    "slowfin": "echo slow",
    "next": "echo next",
}
OFFSET = {"short": 100}
LEASE = {"hang": 1500}
ORDER = ["hb409", "log400", "fin500", "cancel", "short", "log503", "hang",
         "unwritable"]
if SLOW:
    ORDER = ["slowfin", "next"]
lock = threading.Lock()
state = {"claims": 0, "next": 0, "fin500": 0, "hb_cancel": 0, "log503": 0}


def event(line):
    with lock:
        with open(EVENTS, "a") as f:
            f.write(line + "\n")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if n == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n)

    def answer(self, code, obj=None, raw=None):
        data = raw if raw is not None else (
            json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        data = self.body()
        p = self.path
        if p == "/api/v1/workers/claim":
            return self.claim()
        parts = p.split("?")[0].split("/")
        jid = parts[5] if len(parts) > 6 else ""
        case = CASE.get(jid, "")
        what = parts[6] if len(parts) > 6 else ""
        if what == "heartbeat":
            if case == "hang":
                # no answer in time for 3 s: the processor's lease watchdog
                # stops the run; then the job is someone else's
                if time.monotonic() < state["hang_until"]:
                    time.sleep(5)
                    return self.answer(200, {"cancel": False})
                return self.answer(409, {"error": "recovered"})
            if case == "hb409":
                return self.answer(409, {"error": "lease lost"})
            if case == "cancel":
                with lock:
                    state["hb_cancel"] += 1
                    n = state["hb_cancel"]
                if n == 1:
                    return self.answer(503, {"error": "busy"})
                return self.answer(200, {"cancel": True, "lease_ms": 4000,
                                         "heartbeat_ms": 300})
            return self.answer(200, {"cancel": False})
        if what == "log":
            event("log %s %d" % (case, len(data)))
            if case == "log400":
                return self.answer(400, {"error": "bad log"})
            if case == "short":
                return self.answer(200, {"size": 10})
            if case == "log503":
                with lock:
                    state["log503"] += 1
                    n = state["log503"]
                if n == 1:
                    return self.answer(503, raw=b"<html>busy</html>")
            off = int(p.split("offset=")[1].split("&")[0])
            return self.answer(200, {"size": off + len(data)})
        if what == "finish":
            req = json.loads(data)
            job = req.get("job", {})
            if case == "fin500":
                with lock:
                    state["fin500"] += 1
                    n = state["fin500"]
                if n == 1:
                    return self.answer(500, {"error": "disk on fire"})
            if case == "slowfin":
                event("finish-begin slowfin")
                time.sleep(1.5)	# within the processor's 2 s timeout
            event("finish %s %s %s %s" % (case, job.get("status"),
                                          job.get("exit_code"),
                                          req.get("give_back")))
            if case == "unwritable" and req.get("token") != 7:
                return self.answer(409, {"error": "wrong token"})
            if case in ("hb409", "hang"):
                return self.answer(409, {"error": "not yours"})
            return self.answer(200, {})
        return self.answer(404, {"error": "no route"})

    def claim(self):
        with lock:
            state["claims"] += 1
            n = state["claims"]
        if n == 1 and not SLOW:
            return self.answer(500, {"error": "claim broke"})
        if n == 2 and not SLOW:
            return self.answer(200, raw=b"this is not json{")
        if n == 3 and not SLOW:
            return self.answer(200, {"job": {"shell": "true"}})
        with lock:
            i = state["next"]
            state["next"] += 1
        if i >= len(ORDER):
            time.sleep(0.3)
            return self.answer(204)
        case = ORDER[i]
        if case == "hang":
            state["hang_until"] = time.monotonic() + 3
        if SLOW:
            event("claim " + case)
        job = {"id": J[case], "shell": SHELL[case], "status": "running",
               "attempts": 1, "submitted_at": "2026-12-06T00:00:00Z"}
        return self.answer(200, {"job": job,
                                 "lease": {"token": 7,
                                           "lease_ms": LEASE.get(case, 4000),
                                           "heartbeat_ms": 300},
                                 "log_offset": OFFSET.get(case, 0)})


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass	# a client that gave up waiting (hung heartbeats)


srv = Server(("127.0.0.1", 0), H)
srv.daemon_threads = True
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
