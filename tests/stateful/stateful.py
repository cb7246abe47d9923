#!/usr/bin/env python3
# tests/stateful/stateful.py - the stateful random tester of jobspool
# (issue 15, item 3).  Python 3 standard library only.
#
# README
#
# What it does.  It starts a real jobspool-apiserver and a real
# jobspool-processor (from --bin, normally an ASan+UBSan build) on
# 127.0.0.1 with a temporary spool, then plays a seeded random sequence of
# API operations from four tokens (two users, alice and bob; an admin, ops;
# a worker, gpu1) and acts itself as a remote worker through the worker
# routes (a "fake" worker: it claims jobs labelled "fake", uploads logs,
# heartbeats, finishes, gives back, lets leases lapse, and uses stale lease
# tokens).  Operations: submit (each accepted content type, sometimes
# chunked), Idempotency-Key replays (same and different body, another
# token's key), batches (JSON and NDJSON), the demo add route, get, peek,
# HEAD, put (name, description, metadata, status; valid and invalid),
# cancel, delete, log with offsets, short follows (chunked and WebSocket),
# list with filters and cursors (also while a burst of jobs runs), batch
# status and logs, worker claim/log/heartbeat/finish with right and stale
# tokens, malformed variants (bad JSON, wrong types, bad ids, huge numbers,
# bad content types, wrong methods, bad paths), clients that go away
# mid-request, several operations on one kept-alive connection, races (the
# same request several times at once), restarts of either program,
# /metrics, /healthz.  Jobs are shell lines and commands, with stdin, env,
# retries, a timeout, labels (those only the fake worker runs).
#
# After every step it checks: a reply came (and both programs still run);
# no 5xx other than 503/507; every error is JSON with a non-empty "error";
# the status code is one the job's possible states allow (another token's
# job is 404); a job's state only moves forward (pending -> running ->
# final -> retrieved; back to pending only for a job with retries, a lease
# that may have lapsed, or a give-back); a refused request (4xx) leaves the
# job files it concerns, the set of jobs and idem/ unchanged; the spool
# holds exactly the jobs the model says exist, each with its owner;
# Prometheus counters and histograms never decrease.  Listings (all pages)
# hold every existing job of the token exactly once and match their
# filters.  At checkpoints (every --check-every steps and at the end), when
# the spool is at rest: tmp/ is empty, each job has one state file, listings
# equal the model and the spool, and each job ran at most once outside
# documented retries, lease recovery and give-backs (every run, by the
# processor or by the fake worker, appends a line to marks/<id>; the lines
# are at most the job's attempts, and at most one without those).  At the
# end both programs stop on SIGTERM with status 0 and their stderr holds no
# sanitizer report.
#
# Use.
#   python3 tests/stateful/stateful.py --bin build/san --seed 7 --steps 400
#   python3 tests/stateful/stateful.py --bin build/san --seeds 1,2,3
#   python3 tests/stateful/stateful.py --bin build/san --minutes 30   (soak)
# A failure prints the seed, the steps up to the failure and the command
# that replays it (--seed N --steps K).  The sequence of operations follows
# the seed; the processor's timing does not, so a replay takes the same
# path up to the first choice that depends on what the processor did.
# --no-processor leaves the processor out (only the fake worker runs jobs:
# the run follows the seed more closely).  --no OP (repeatable) leaves an
# operation out, or avoids one known bug, to look past it; --keep keeps the
# spool and the programs' logs; -v prints the steps as they go.  tests/integration/
# stateful.sh runs a fixed set of seeds in make check; make soak-stateful
# (and make soak) runs random seeds for SOAK_MINUTES (default 30).
import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

TOKENS = {  # name: (secret, role)
    "alice": ("alice-s3cret", ""),
    "bob": ("bob-s3cret", ""),
    "ops": ("ops-s3cret", "admin"),
    "gpu1": ("gpu1-s3cret", "worker"),
}
USERS = ["alice", "bob", "gpu1", "ops"]   # every token may submit
LEASE_S = 6            # the apiserver's --lease for remote workers
MARGIN_S = 3.0         # a lease younger than LEASE_S - MARGIN_S surely holds
MAX_BODY = 65536
FINALS = ("completed", "failed", "cancelled")
PENDING, RUNNING, FINAL, RETRIEVED, ABSENT = 0, 1, 2, 3, -1
RANK_NAME = {PENDING: "pending", RUNNING: "running", FINAL: "final",
             RETRIEVED: "retrieved", ABSENT: "absent"}
EXTS = ("pending", "wip", "completed", "failed", "cancelled", "retrieved")
EXT_RANK = {"pending": PENDING, "wip": RUNNING, "completed": FINAL,
            "failed": FINAL, "cancelled": FINAL, "retrieved": RETRIEVED}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}$")
SAN_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|"
                    r"runtime error:|WARNING: AddressSanitizer|"
                    r"SUMMARY: (Address|Undefined|Leak)")


class Failure(Exception):
    pass


def rank_of(obj):
    st = obj.get("status") if isinstance(obj, dict) else None
    if st == "pending":
        return PENDING
    if st == "running":
        return RUNNING
    if st in FINALS:
        return RETRIEVED if obj.get("retrieved_at") else FINAL
    raise Failure("a job with an unknown status: %r" % (st,))


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    def short(self):
        return self.body[:300].decode("utf-8", "replace")


class Lease:
    def __init__(self, gen, size):
        self.gen = gen
        self.t = time.monotonic()   # last claim or heartbeat that held
        self.size = size            # the log's size as this worker knows it

    def alive(self):
        return time.monotonic() - self.t < LEASE_S - MARGIN_S


class Job:
    def __init__(self, jid, owner, kind, sub, batch=None):
        self.id = jid
        self.owner = owner
        self.kind = kind            # local, fake, builtin
        self.sub = sub              # what was submitted
        self.batch = batch
        self.name = sub.get("name")
        self.description = sub.get("description")
        self.metadata = sub.get("metadata")
        self.retries = sub.get("retries", 0)
        self.max_attempts = sub.get("max_attempts", 3)
        self.labels = sub.get("labels", [])
        self.rank = PENDING
        self.outcome = None
        self.attempts = 0
        self.deleted = False
        self.held = None            # Lease while the fake worker runs it
        self.flux = False           # lease lost or abandoned, not resolved
        self.lapsed = False         # a lease recovery may have happened
        self.gave_back = 0          # give-backs that returned the attempt
        self.shutdown = 0           # processor restarts while it may run
        self.requeued = 0           # give-backs without give_back
        self.fake_runs = 0          # runs by the fake worker
        self.uploaded = b""         # log bytes the fake worker sent
        self.cancel_req = False
        self.old_gens = []          # lease tokens that no longer hold
        self.abandoned = None       # a lease token left to lapse
        self.seen = None            # where and when rank was last set

    def __repr__(self):
        return "job %s (%s of %s, %s)" % (self.id[:8], self.kind, self.owner,
                                         RANK_NAME[self.rank])

    def possible(self):
        """Ranks the job may have now, given what others may do."""
        if self.deleted:
            return {ABSENT}
        if self.rank >= FINAL:
            return {self.rank}
        if self.held is not None:
            if self.held.alive():
                return {RUNNING}
            return {PENDING, RUNNING, FINAL}
        if self.flux:
            return {PENDING, RUNNING, FINAL}
        if self.kind == "fake" and self.rank == PENDING:
            return {PENDING}
        s = {r for r in (PENDING, RUNNING, FINAL) if r >= self.rank}
        if self.retries > 0 or self.lapsed or self.shutdown:
            s.add(PENDING)
        return s

    def quiet(self):
        """Nobody but the tester can change this job's files now."""
        return self.possible() in ({FINAL}, {RETRIEVED}, {ABSENT}) or (
            self.possible() == {PENDING} and self.kind == "fake") or (
            self.held is not None and self.held.alive())


class Env:
    """The apiserver and the processor on a temporary spool."""

    def __init__(self, bindir, processor=True, keep=False):
        self.bin = bindir
        self.keep = keep
        self.dir = tempfile.mkdtemp(prefix="jobspool-stateful.")
        os.chmod(self.dir, 0o755)
        self.spool = os.path.join(self.dir, "spool")
        os.mkdir(self.spool, 0o750)
        os.chmod(self.spool, 0o750)
        self.marks = os.path.join(self.dir, "marks")
        os.mkdir(self.marks)
        os.chmod(self.marks, 0o1777)
        self.api_log = os.path.join(self.dir, "api.log")
        self.proc_log = os.path.join(self.dir, "proc.log")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS",
                       "detect_leaks=1:abort_on_error=0:exitcode=86")
        env.setdefault("UBSAN_OPTIONS",
                       "halt_on_error=1:print_stacktrace=1:exitcode=87")
        env.setdefault("LSAN_OPTIONS", "exitcode=86")
        for k in list(env):
            if k.startswith("JOBSPOOL_"):
                del env[k]
        self.env = env
        self.api = self.proc = None
        self.port = None
        self.start_api()
        if processor:
            self.start_proc()

    def start_api(self):
        args = [os.path.join(self.bin, "jobspool-apiserver"), "--spool",
                self.spool, "--listen", "127.0.0.1:0", "--lease",
                "%ds" % LEASE_S, "--max-body", str(MAX_BODY)]
        for name, (secret, role) in TOKENS.items():
            args += ["--token", "%s:%s%s" % (name, secret,
                                             ":" + role if role else "")]
        with open(self.api_log, "ab") as err:
            start = err.tell()
            self.api = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL,
                                        stderr=err, env=self.env)
        self.port = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.api_log, "rb") as f:
                f.seek(start)
                m = re.search(rb"listening on http://[^ ]*:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.api.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            raise Failure("the apiserver did not start:\n" + self.tail(
                self.api_log))

    def start_proc(self):
        env = dict(self.env, STATEFUL_LEAK="leaked")
        with open(self.proc_log, "ab") as err:
            start = err.tell()
            self.proc = subprocess.Popen(
                [os.path.join(self.bin, "jobspool-processor"), "--spool",
                 self.spool, "--jobs", "2", "--lease", "12s",
                 "--shutdown-grace", "1s"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, env=env)
        # its start-up line: from then on it handles SIGTERM
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.proc_log, "rb") as f:
                f.seek(start)
                if b": processing " in f.read():
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise Failure("the processor did not start:\n" + self.tail(
            self.proc_log))

    def term(self, p, name):
        """SIGTERM one program; a failure unless it exits 0."""
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise Failure("the %s did not stop on SIGTERM" % name)
        if p.returncode != 0:
            raise Failure("the %s exited with status %s on SIGTERM:\n%s" % (
                name, p.returncode, self.tail(self.api_log if name ==
                                              "apiserver" else
                                              self.proc_log)))

    @staticmethod
    def tail(path, n=40):
        try:
            with open(path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def proc_state(self):
        """Where the processor and its children wait (/proc): threads'
        wchan and syscall, children's state, /proc/locks; for a failure
        that cannot be replayed."""
        if self.proc is None:
            return ""

        def rd(path):
            try:
                with open(path, "rb") as f:
                    return f.read().decode("utf-8", "replace").strip()
            except OSError as e:
                return "(%s)" % e.strerror
        out = ["the processor (pid %d), where its threads wait:" %
               self.proc.pid]
        task = "/proc/%d/task" % self.proc.pid
        try:
            tids = sorted(os.listdir(task))
        except OSError:
            tids = []
        for t in tids:
            d = os.path.join(task, t)
            out.append("  %s %s wchan=%s syscall=%s" % (
                t, rd(d + "/comm"), rd(d + "/wchan"),
                rd(d + "/syscall").split(" ")[0]))
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            st = rd("/proc/%s/stat" % pid)
            fields = st.rsplit(")", 1)[-1].split()
            if len(fields) > 2 and fields[1] == str(self.proc.pid):
                out.append("  child %s state=%s wchan=%s syscall=%s: %s" % (
                    pid, fields[0], rd("/proc/%s/wchan" % pid),
                    rd("/proc/%s/syscall" % pid).split(" ")[0],
                    rd("/proc/%s/cmdline" % pid).replace("\0", " ")[:120]))
        out.append("/proc/locks:\n" + rd("/proc/locks"))
        return "\n".join(out)

    def alive(self):
        if self.api.poll() is not None:
            raise Failure("the apiserver died (status %s):\n%s" % (
                self.api.returncode, self.tail(self.api_log)))
        if self.proc is not None and self.proc.poll() is not None:
            raise Failure("the processor died (status %s):\n%s" % (
                self.proc.returncode, self.tail(self.proc_log)))

    def stop(self):
        """SIGTERM both; failures if one exits non-zero or a sanitizer
        reported anything."""
        problems = []
        for p, name, log in ((self.proc, "processor", self.proc_log),
                             (self.api, "apiserver", self.api_log)):
            if p is None:
                continue
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    problems.append("%s did not stop on SIGTERM" % name)
            if p.returncode != 0:
                problems.append("%s exited with status %s" % (name,
                                                               p.returncode))
            with open(log, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            if SAN_RE.search(text):
                problems.append("sanitizer report in the %s's stderr:\n%s" % (
                    name, text[text.find("=="):][:6000] if "==" in text
                    else text[-6000:]))
        return problems

    def kill(self):
        for p in (self.proc, self.api):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()

    def cleanup(self):
        self.kill()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


class Tester:
    def __init__(self, seed, steps, bindir, processor=True, skip=(),
                 check_every=100, keep=False, verbose=False, deadline=None):
        self.seed = seed
        self.nsteps = steps
        self.rng = random.Random(seed)
        self.bindir = bindir
        self.processor = processor
        self.skip = set(skip)
        self.check_every = check_every
        self.keep = keep
        self.verbose = verbose
        self.deadline = deadline    # time.monotonic() to stop by (soak)
        self.jobs = {}              # id -> Job
        self.order = []             # ids in submission order
        self.batches = {}           # cid -> (owner, [ids])
        self.idem = {}              # (token, key) -> (body, id)
        self.counters = {}
        self.restarts = 0
        self.log = []               # one line per step
        self.cur = []               # requests of the current step
        self.step_no = 0
        self.spool_cache = {}
        self.env = None
        self.shared = None          # a kept-alive connection (keepalive)

    # ---- HTTP ----
    def request(self, method, path, token=None, body=None,
                ctype="application/json", headers=None, timeout=60,
                chunked=None):
        """One request; on the kept-alive connection of op_keepalive if
        there is one.  chunked: send the body in pieces (Transfer-Encoding:
        chunked); None: now and then."""
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = "Bearer " + (
                TOKENS[token][0] if token in TOKENS else token)
        if body is not None:
            if isinstance(body, str):
                body = body.encode()
            if ctype is not None:
                hdrs["Content-Type"] = ctype
        if chunked is None:
            # only where the answer waits for the body: a request refused
            # from its headers (401, 403, 405, 415) is answered at once and
            # the connection closed, so the rest of a chunked body meets a
            # closed socket (EPIPE) before the client reads the answer
            chunked = body is not None and len(body) > 1 and \
                self.rng.random() < 0.1 and token in TOKENS and (
                    ctype is None or ctype.lower().startswith(
                        ("application/json", "application/x-ndjson",
                         "application/jsonl"))) and (
                    (method == "POST" and path.split("?")[0] in (
                        "/api/v1/jobs", "/api/v1/batches")) or
                    (method == "PUT" and path.startswith("/api/v1/jobs/")) or
                    (method == "POST" and token == "gpu1" and
                     path.startswith("/api/v1/workers/") and
                     "/log?" not in path))
        send = body
        if chunked and body:
            cuts = sorted(self.rng.sample(range(1, len(body)), min(
                len(body) - 1, self.rng.randint(1, 4))))
            send = [body[a:b] for a, b in zip([0] + cuts, cuts + [len(body)])]
        conn = self.shared or http.client.HTTPConnection(
            "127.0.0.1", self.env.port, timeout=timeout)
        try:
            conn.request(method, path, body=send, headers=hdrs,
                         encode_chunked=bool(chunked and body))
            resp = conn.getresponse()
            data = resp.read()     # http.client knows HEAD has no body
            rep = Reply(resp.status, {k.lower(): v for k, v in
                                      resp.getheaders()}, data)
        except (OSError, http.client.HTTPException) as e:
            raise Failure("no reply to %s %s%s: %s: %s" % (
                method, path, " (chunked)" if chunked and body else "",
                type(e).__name__, e))
        finally:
            if conn is not self.shared:
                conn.close()
        self.cur.append("%s %s%s%s -> %d" % (
            method, path[:110], " as " + token if token else "",
            " (chunked)" if chunked and body else "", rep.status))
        self.check_reply(method, path, rep)
        return rep

    def check_reply(self, method, path, rep):
        what = "%s %s" % (method, path[:120])
        if rep.status >= 500 and rep.status not in (503, 507):
            raise Failure("%s: %d %s" % (what, rep.status, rep.short()))
        if rep.status >= 400 and method != "HEAD":
            j = rep.json()
            if not isinstance(j, dict) or not isinstance(j.get("error"), str) \
                    or not j["error"]:
                raise Failure("%s: error %d is not JSON with \"error\": %r"
                              % (what, rep.status, rep.short()))
        if rep.status == 405 and "allow" not in rep.headers:
            raise Failure("%s: 405 without Allow" % what)

    def expect(self, rep, codes, what):
        if rep.status not in codes:
            raise Failure("%s: got %d, want %s: %s" % (
                what, rep.status, "/".join(map(str, sorted(codes))),
                rep.short()))

    def req(self, method, path, token=None, body=None, concern=(), **kw):
        """A request that may be refused: with a 4xx answer the files of
        the quiet jobs in concern, the set of jobs and idem/ must be as
        before."""
        snap = self.snapshot([j for j in concern if j is not None and
                              j.quiet()])
        rep = self.request(method, path, token, body, **kw)
        if 400 <= rep.status < 500:
            after = self.snapshot([j for j in concern if j is not None and
                                   j.id in snap[0]])
            if after != snap:
                raise Failure("%s %s was refused (%d) but changed the spool: "
                              "%s" % (method, path[:100], rep.status,
                                      self.diff(snap, after)))
        return rep

    def snapshot(self, jobs):
        files = {}
        for j in jobs:
            files[j.id] = {}
        if jobs:
            for name in os.listdir(self.env.spool):
                if name[:36] in files:
                    try:
                        with open(os.path.join(self.env.spool, name),
                                  "rb") as f:
                            files[name[:36]][name] = f.read()
                    except FileNotFoundError:
                        files[name[:36]][name] = None
        ids = frozenset(self.spool_ids())
        idem = self.idem_files()
        return (files, ids, idem)

    @staticmethod
    def diff(a, b):
        out = []
        for jid in a[0]:
            fa, fb = a[0][jid], b[0].get(jid, {})
            for n in sorted(set(fa) | set(fb)):
                if fa.get(n) != fb.get(n):
                    out.append("%s: %s -> %s" % (
                        n, "(no file)" if n not in fa else fa[n][:200],
                        "(no file)" if n not in fb else fb[n][:200]))
        if a[1] != b[1]:
            out.append("jobs added %s removed %s" % (sorted(b[1] - a[1]),
                                                     sorted(a[1] - b[1])))
        if a[2] != b[2]:
            out.append("idem/ %s -> %s" % (sorted(a[2]), sorted(b[2])))
        return "; ".join(out)

    def idem_files(self):
        try:
            return frozenset(os.listdir(os.path.join(self.env.spool,
                                                     "idem")))
        except FileNotFoundError:
            return frozenset()

    def spool_ids(self):
        # Two passes, united: a job renamed while a readdir runs (a
        # claim, a finish, a lease recovery of the apiserver's own) can be
        # missing from one pass, but not from both.
        ids = set()
        for _ in range(2):
            for name in os.listdir(self.env.spool):
                base, _, ext = name.partition(".")
                if ext in EXT_RANK and UUID_RE.match(base):
                    ids.add(base)
        return ids

    # ---- the model ----
    def observe(self, j, obj, where, back=False, names=True):
        """A job as the API or the spool showed it: owner, id and the
        forward-only rule (back: our give-back returned it to pending)."""
        if not isinstance(obj, dict):
            raise Failure("%s: %r is not a job" % (where, obj))
        if obj.get("id") != j.id:
            raise Failure("%s: id %r, want %s" % (where, obj.get("id"), j.id))
        if obj.get("owner") != j.owner:
            raise Failure("%s: job %s has owner %r, want %r" % (
                where, j.id, obj.get("owner"), j.owner))
        if j.deleted:
            raise Failure("%s: job %s was deleted, yet it is shown: %s" % (
                where, j.id, json.dumps(obj)[:200]))
        r = rank_of(obj)
        st = obj.get("status")
        if j.outcome is not None and st != j.outcome and j.rank >= FINAL:
            raise Failure("%s: job %s ended %s, now shows %s" % (
                where, j.id, j.outcome, st))
        if r < j.rank:
            back_ok = (r == PENDING and j.rank == RUNNING and
                       (back or j.retries > 0 or j.lapsed or j.flux or
                        j.shutdown or
                        (j.held is not None and not j.held.alive())))
            if not back_ok:
                raise Failure("%s: job %s went back from %s (seen in %s at "
                              "step %d) to %s: %s" % (
                                  where, j.id, RANK_NAME[j.rank], j.seen[0],
                                  j.seen[1], RANK_NAME[r],
                                  json.dumps(obj)[:400]))
        if r != RUNNING and j.held is not None:
            # not running any more while we hold it: recovered
            j.old_gens.append(j.held.gen)
            j.held = None
            j.lapsed = True
        if r != RUNNING and j.abandoned is not None:
            j.old_gens.append(j.abandoned)
            j.abandoned = None
        if r != RUNNING:
            j.flux = False
        if r != j.rank or j.seen is None:
            j.seen = (where, self.step_no)
        j.rank = r
        if r >= FINAL:
            j.outcome = st
        a = obj.get("attempts")
        if isinstance(a, int):
            j.attempts = a
        for f in ("name", "description") if names else ():
            if f in obj and obj[f] != getattr(j, f) and \
                    not (obj[f] is None and getattr(j, f) is None):
                raise Failure("%s: job %s has %s %r, want %r" % (
                    where, j.id, f, obj[f], getattr(j, f)))
        if obj.get("metadata") != j.metadata:
            raise Failure("%s: job %s has metadata %r, want %r" % (
                where, j.id, obj.get("metadata"), j.metadata))
        if j.batch is not None and obj.get("batch") != j.batch:
            raise Failure("%s: job %s has batch %r, want %s" % (
                where, j.id, obj.get("batch"), j.batch))

    def observe_all(self, j, objs, where, names=True):
        """Answers to concurrent requests: the server did them in some
        order, which the forward-only rule makes that of their states
        (names: a rename among them may come before or after any other)."""
        for o in sorted(objs, key=lambda o: rank_of(o) if isinstance(
                o, dict) and o.get("status") else -1):
            self.observe(j, o, where, names=names)

    def scan_spool(self, at_rest=False):
        """Every job file: each model job exists, nothing else does; the
        forward-only rule on the files' contents."""
        names = os.listdir(self.env.spool)
        byid = {}
        for name in names:
            base, _, ext = name.partition(".")
            if ext in EXT_RANK and UUID_RE.match(base):
                byid.setdefault(base, []).append(ext)
        for jid, j in self.jobs.items():
            if j.deleted or jid in byid:
                continue
            # a rename during readdir may hide an entry: look again
            found = []
            for _ in range(3):
                found = [e for e in EXTS if os.path.exists(
                    os.path.join(self.env.spool, jid + "." + e))]
                if found:
                    break
                time.sleep(0.01)
            if not found:
                raise Failure("%r has no file in the spool" % j)
            byid[jid] = found
        for jid, exts in byid.items():
            j = self.jobs.get(jid)
            if j is None:
                raise Failure("the spool holds a job the tester never "
                              "created: %s.%s" % (jid, exts))
            if j.deleted:
                raise Failure("the spool still holds deleted job %s (%s)" %
                              (jid, exts))
            if at_rest and len(exts) != 1:
                raise Failure("job %s has several state files at rest: %s"
                              % (jid, exts))
            best = None
            for e in exts:
                path = os.path.join(self.env.spool, jid + "." + e)
                try:
                    st = os.stat(path)
                    key = (jid, e, st.st_mtime_ns, st.st_size, st.st_ino)
                    if self.spool_cache.get(jid + e) == key:
                        continue
                    with open(path, "rb") as f:
                        obj = json.loads(f.read())
                    self.spool_cache[jid + e] = key
                except FileNotFoundError:
                    continue
                except ValueError as ex:
                    raise Failure("job file %s.%s is not JSON: %s" % (
                        jid, e, ex))
                if e == "retrieved" and obj.get("status") not in FINALS:
                    raise Failure("%s.retrieved has status %r" % (
                        jid, obj.get("status")))
                if e in FINALS and obj.get("status") != e:
                    raise Failure("%s.%s has status %r" % (
                        jid, e, obj.get("status")))
                if e == "pending" and obj.get("status") != "pending":
                    raise Failure("%s.pending has status %r" % (
                        jid, obj.get("status")))
                if e == "wip":
                    # claimed: running, even before the claimer has
                    # rewritten its content (which then still says
                    # pending), as the API shows it
                    obj["status"] = "running"
                r = rank_of(obj)
                if best is None or r > best[0]:
                    best = (r, obj, e)
            if best is not None:
                self.observe(j, best[1], "spool file %s.%s" % (jid[:8],
                                                               best[2]))
        return byid

    def metrics(self):
        rep = self.request("GET", "/metrics")
        self.expect(rep, {200}, "GET /metrics")
        types, vals = {}, {}
        for line in rep.body.decode().splitlines():
            if line.startswith("# TYPE "):
                p = line.split()
                types[p[2]] = p[3]
            elif line and not line.startswith("#"):
                series, _, v = line.rpartition(" ")
                vals[series] = float(v)
        now = {}
        for s, v in vals.items():
            fam = s.split("{")[0]
            base = re.sub(r"_(bucket|sum|count)$", "", fam)
            if types.get(base) == "histogram" and "histogram" in self.skip:
                continue
            if types.get(fam) == "counter" or types.get(base) == "histogram":
                now[s] = v
        for s, v in self.counters.items():
            if now.get(s, 0.0) < v:
                raise Failure("metric %s went down from %g to %g" % (
                    s, v, now.get(s, 0.0)))
        self.counters = now

    # ---- choices ----
    def pick_job(self, pred=None):
        c = [self.jobs[i] for i in self.order
             if pred is None or pred(self.jobs[i])]
        return self.rng.choice(c) if c else None

    def pick_actor(self, j):
        """The job's owner mostly, sometimes the admin or another token."""
        x = self.rng.random()
        if j is None or x < 0.15:
            return self.rng.choice(USERS)
        if x < 0.7:
            return j.owner
        if x < 0.8:
            return "ops"
        return self.rng.choice([u for u in USERS if u != j.owner])

    @staticmethod
    def sees(actor, j):
        return j is not None and not j.deleted and (actor == j.owner or
                                                    actor == "ops")

    def target(self):
        """(job or None, id): a model job (maybe deleted) or no job."""
        if self.rng.random() < 0.06 or not self.order:
            return None, str(uuid.uuid4())
        j = self.pick_job()
        return j, j.id

    # ---- job bodies ----
    def new_job(self, kind=None):
        rng = self.rng
        if kind is None:
            kind = rng.choice(["quick", "quick", "slow", "retry", "fake",
                               "fake", "cmd", "stdin", "env", "timeout"])
        sub = {}
        if rng.random() < 0.6:
            sub["name"] = rng.choice(["n1", "n2", "report", "x y", "\u00e9t\u00e9"])
        if rng.random() < 0.3:
            sub["description"] = rng.choice(["d", "free text", ""])
        if rng.random() < 0.3:
            sub["metadata"] = rng.choice([{"a": [1, 2]}, [1, "x"], 7, "m",
                                          None, {"deep": {"k": True}}])
        if rng.random() < 0.2:
            sub["priority"] = rng.randint(-5, 5)
        mark = "echo run >> %s/$JOBSPOOL_JOB_ID" % self.env.marks
        if kind == "quick":
            sub["shell"] = mark + "; echo hello"
        elif kind == "slow":
            sub["shell"] = mark + "; echo start; sleep %.1f; echo end" % (
                rng.choice([0.3, 0.8, 1.5]))
        elif kind == "retry":
            sub["shell"] = mark + "; echo try; exit 3"
            sub["retries"] = 1
        elif kind == "cmd":
            sub["command"] = ["/bin/sh", "-c", mark + "; echo cmd"]
        elif kind == "stdin":
            sub["shell"] = mark + "; cat"
            sub["stdin"] = rng.choice(["", "one line\n", "a\nb\nno newline",
                                       "\u00e9t\u00e9 \u2603\n"])
        elif kind == "env":
            # the processor's own environment does not leak into a job
            sub["shell"] = mark + '; echo "$FOO"; echo "${STATEFUL_LEAK:-clean}"'
            sub["env"] = {"FOO": rng.choice(["bar", "b a z", "x=y"])}
        elif kind == "timeout":
            sub["shell"] = mark + "; echo sleeping; sleep 5; echo woke"
            sub["timeout"] = 1
        elif kind == "fake":
            sub["shell"] = mark + "; echo never-run-locally"
            sub["labels"] = ["fake"]
            sub["max_attempts"] = rng.choice([1, 2, 3])
        return ("fake" if kind == "fake" else "local"), kind, sub

    @staticmethod
    def expected_log(kind, sub):
        """What one run of a job writes, if known."""
        if kind == "stdin":
            return sub["stdin"].encode()
        if kind == "env":
            return sub["env"]["FOO"].encode() + b"\n" + b"clean\n"
        return {"quick": b"hello\n", "slow": b"start\nend\n",
                "retry": b"try\n", "cmd": b"cmd\n",
                "timeout": b"sleeping\n"}.get(kind)

    def add_job(self, obj, owner, mkind, sub, kind, batch=None):
        jid = obj.get("id") if isinstance(obj, dict) else obj
        if not isinstance(jid, str) or not UUID_RE.match(jid):
            raise Failure("a submission answered no valid id: %r" % (obj,))
        if jid in self.jobs:
            raise Failure("a new job has the id of an existing one: %s" % jid)
        j = Job(jid, owner, mkind, sub, batch)
        j.shape = kind
        self.jobs[jid] = j
        self.order.append(jid)
        if isinstance(obj, dict):
            self.observe(j, obj, "submit answer")
            if obj.get("status") != "pending" or obj.get("attempts") != 0:
                raise Failure("a new job is not pending with 0 attempts: %s"
                              % json.dumps(obj)[:300])
        return j

    # ---- operations ----
    def op_submit(self):
        who = self.rng.choice(USERS)
        mkind, kind, sub = self.new_job()
        ct = self.rng.choice(["application/json"] * 6 + [
            None, "application/x-www-form-urlencoded",
            "application/json; charset=utf-8", "Application/JSON"])
        rep = self.req("POST", "/api/v1/jobs", who, json.dumps(sub),
                       ctype=ct)
        self.expect(rep, {201}, "submit (Content-Type %s)" % ct)
        obj = rep.json()
        if rep.headers.get("location") != "/api/v1/jobs/%s" % obj.get("id"):
            raise Failure("submit: Location %r" % rep.headers.get("location"))
        j = self.add_job(obj, who, mkind, sub, kind)
        return "submit %s as %s -> %s" % (kind, who, j.id[:8])

    def op_idem(self):
        rng = self.rng
        who = rng.choice(USERS)
        olds = [k for k in self.idem if k[0] == who]
        if olds and rng.random() < 0.7:
            key = rng.choice(sorted(olds))
            body, jid = self.idem[key]
            j = self.jobs[jid]
            if rng.random() < 0.6:
                rep = self.req("POST", "/api/v1/jobs", who, body,
                               headers={"Idempotency-Key": key[1]})
                want = {409} if j.deleted else {200}
                self.expect(rep, want, "Idempotency-Key replay, same body")
                if rep.status == 200:
                    obj = rep.json()
                    if obj.get("id") != jid:
                        raise Failure("Idempotency-Key replay answered job "
                                      "%s, not %s" % (obj.get("id"), jid))
                    self.observe(j, obj, "idempotent replay")
                return "idem replay %s same body -> %d" % (key[1], rep.status)
            _, _, sub = self.new_job("quick")
            sub["name"] = "other-body-%d" % rng.randint(0, 9999)
            if "idem_diff" in self.skip:
                return "idem replay other body (left out)"
            rep = self.req("POST", "/api/v1/jobs", who, json.dumps(sub),
                           headers={"Idempotency-Key": key[1]})
            # 422 (jobspool-apiserver(8)); once its job was removed, 409 is as right
            self.expect(rep, {409, 422} if j.deleted else {422},
                        "Idempotency-Key replay with a different body "
                        "(jobspool-apiserver(8): 422)")
            return "idem replay %s other body -> %d" % (key[1], rep.status)
        others = [k for k in self.idem if k[0] != who and
                  (who, k[1]) not in self.idem]
        if others and rng.random() < 0.15:
            # another token's key is a new key for this one
            key = rng.choice(sorted(others))
            body, jid = self.idem[key]
            rep = self.req("POST", "/api/v1/jobs", who, body,
                           headers={"Idempotency-Key": key[1]})
            self.expect(rep, {201}, "another token's Idempotency-Key")
            sub = json.loads(body)
            o = self.jobs[jid]
            j = self.add_job(rep.json(), who, o.kind, sub, o.shape)
            self.idem[(who, key[1])] = (body, j.id)
            return "idem %s of %s as %s -> %s" % (key[1], key[0], who,
                                                  j.id[:8])
        key = "k-%d-%d" % (self.seed, rng.randint(0, 10 ** 9))
        if rng.random() < 0.1:
            bad = rng.choice(["", "x" * 256])
            mkind, kind, sub = self.new_job("quick")
            rep = self.req("POST", "/api/v1/jobs", who, json.dumps(sub),
                           headers={"Idempotency-Key": bad})
            self.expect(rep, {400}, "Idempotency-Key of %d characters" %
                        len(bad))
            return "idem bad key len %d -> %d" % (len(bad), rep.status)
        mkind, kind, sub = self.new_job()
        body = json.dumps(sub)
        rep = self.req("POST", "/api/v1/jobs", who, body,
                       headers={"Idempotency-Key": key})
        self.expect(rep, {201}, "submit with a new Idempotency-Key")
        j = self.add_job(rep.json(), who, mkind, sub, kind)
        self.idem[(who, key)] = (body, j.id)
        return "idem new %s as %s -> %s" % (key, who, j.id[:8])

    BAD_JOBS = [
        (b"{", 400), (b"", 400), (b"[1,2]", 400), (b"null", 400),
        (b'{"shell": 5}', 400), (b'{"shell": ""}', 400),
        (b'{"command": []}', 400), (b'{"command": "ls"}', 400),
        (b'{"command": ["ls"], "shell": "ls"}', 400), (b"{}", 400),
        (b'{"shell": "true", "bogus": 1}', 400),
        (b'{"shell": "true", "priority": 99999999999999999999999}', 400),
        (b'{"shell": "true", "priority": 1e300}', 400),
        (b'{"shell": "true", "timeout": -1}', 400),
        (b'{"shell": "true", "max_attempts": 0}', 400),
        (b'{"shell": "true", "retries": "2"}', 400),
        (b'{"shell": "true", "name": 12}', 400),
        (b'{"shell": "true", "name": null}', 400),
        (b'{"shell": "true", "labels": ["a b"]}', 400),
        (b'{"shell": "true", "limits": {"memory": "lots"}}', 400),
        (b'{"shell": "\xff\xfe"}', 400),
        (b'{"shell": "true"} trailing', 400),
        (b'{"shell": "tr\\u0000ue"}', 400),
        (b'{"builtin": "add", "args": [1]}', 400),
        (b'{"docker": {"image": 5}}', 400),
    ]

    def op_submit_bad(self):
        rng = self.rng
        who = rng.choice(USERS)
        x = rng.random()
        if x < 0.12:
            rep = self.req("POST", "/api/v1/jobs", who, b'{"shell":"true"}',
                           ctype=rng.choice(["text/plain", "application/xml",
                                             "multipart/form-data"]))
            self.expect(rep, {415}, "submit with a wrong content type")
            return "submit bad content type -> %d" % rep.status
        if x < 0.2:
            body = b'{"shell": "true", "description": "' + \
                b"x" * (MAX_BODY + 10) + b'"}'
            rep = self.req("POST", "/api/v1/jobs", who, body)
            self.expect(rep, {413}, "submit larger than --max-body")
            return "submit too large -> %d" % rep.status
        if x < 0.26:
            rep = self.req("POST", "/api/v1/jobs", None, b'{"shell":"true"}')
            self.expect(rep, {401}, "submit without a token")
            rep = self.req("POST", "/api/v1/jobs", "wrong-secret",
                           b'{"shell":"true"}')
            self.expect(rep, {401}, "submit with a wrong token")
            return "submit without/wrong token -> 401"
        body, code = rng.choice(self.BAD_JOBS)
        rep = self.req("POST", "/api/v1/jobs", who, body)
        self.expect(rep, {code}, "invalid job %r" % body[:60])
        return "submit invalid %r -> %d" % (body[:40], rep.status)

    def op_batch(self):
        rng = self.rng
        who = rng.choice(USERS)
        n = rng.randint(1, 5)
        subs = [self.new_job() for _ in range(n)]
        nd = rng.random() < 0.5
        if nd:
            body = "".join(json.dumps(s[2]) + "\n" for s in subs)
            if rng.random() < 0.3:
                body = body.rstrip("\n")    # no newline after the last
            rep = self.req("POST", "/api/v1/batches", who, body,
                           ctype=rng.choice(["application/x-ndjson",
                                             "application/jsonl"]))
        else:
            rep = self.req("POST", "/api/v1/batches", who,
                           json.dumps({"jobs": [s[2] for s in subs]}))
        self.expect(rep, {201}, "batch")
        obj = rep.json()
        cid = obj.get("correlation_id")
        ids = obj.get("jobs")
        if not isinstance(cid, str) or not UUID_RE.match(cid) or \
                not isinstance(ids, list) or len(ids) != n:
            raise Failure("batch answer %r" % obj)
        for jid, (mkind, kind, sub) in zip(ids, subs):
            self.add_job(jid, who, mkind, sub, kind, batch=cid)
        self.batches[cid] = (who, list(ids))
        return "batch%s of %d as %s -> %s" % (" ndjson" if nd else "", n,
                                              who, cid[:8])

    def op_batch_bad(self):
        rng = self.rng
        who = rng.choice(USERS)
        good = json.dumps(self.new_job("quick")[2])
        bad = rng.choice(['{"shell": 1}', '{', '[]', '{"command": []}',
                          '"x"', '{"shell":"true","retries":-1}'])
        x = rng.random()
        if x < 0.4:
            body = good + "\n" + bad + "\n" + good + "\n"
            rep = self.req("POST", "/api/v1/batches", who, body,
                           ctype="application/x-ndjson")
        elif x < 0.8:
            body = '{"jobs": [%s, %s]}' % (good, bad if bad != "{" else "{}}")
            rep = self.req("POST", "/api/v1/batches", who, body)
        else:
            body = rng.choice(['{"jobs": []}', '{"jobs": 5}', '{}',
                               '{"jobs": [], "x": 1}', ''])
            rep = self.req("POST", "/api/v1/batches", who, body)
        self.expect(rep, {400}, "invalid batch %r" % body[:80])
        return "batch invalid -> %d" % rep.status

    def op_add(self):
        rng = self.rng
        who = rng.choice(USERS)
        x = rng.random()
        if x < 0.6:
            a, b = rng.randint(-10 ** 6, 10 ** 6), rng.randint(-1000, 1000)
            rep = self.req("POST", "/api/v1/add/%d/%d" % (a, b), who)
            self.expect(rep, {201}, "add")
            self.add_job(rep.json(), who, "builtin", {"name": "add"}, "add")
            return "add %d %d as %s -> %d" % (a, b, who, rep.status)
        a, b = rng.choice([("9223372036854775807", "1"), ("x", "1"),
                           ("1.5", "2"), ("99999999999999999999", "0"),
                           ("-9223372036854775808", "-1"), ("", "1")])
        rep = self.req("POST", "/api/v1/add/%s/%s" % (a, b), who)
        self.expect(rep, {400, 404} if a == "" else {400}, "add %s %s" % (
            a, b))
        return "add bad %s %s -> %d" % (a, b, rep.status)

    def op_get(self, mode=None):
        rng = self.rng
        j, jid = self.target()
        who = self.pick_actor(j)
        mode = mode or rng.choice(["get", "get", "peek", "head", "demo"])
        if mode == "head":
            path = "/api/v1/jobs/%s" % jid
            rep = self.req("HEAD", path, who, concern=[j])
        elif mode == "demo":
            path = "/api/v1/job/%s" % jid
            rep = self.req("GET", path, who, concern=[j])
        else:
            path = "/api/v1/jobs/%s%s" % (jid, "?peek=1" if mode == "peek"
                                          else "")
            rep = self.req("GET", path, who, concern=[j])
        if not self.sees(who, j):
            self.expect(rep, {404}, "%s of a job %s cannot see" % (mode, who))
            return "%s %s as %s -> %d" % (mode, jid[:8], who, rep.status)
        self.expect(rep, {200}, mode)
        if mode != "head":
            obj = rep.json()
            before = j.rank
            self.observe(j, obj, "%s answer" % mode)
            if mode in ("get", "demo") and before >= FINAL and \
                    j.rank != RETRIEVED:
                raise Failure("GET of final job %s did not mark it retrieved"
                              % j.id)
            if mode == "peek" and before == FINAL and j.rank != FINAL:
                raise Failure("peek marked job %s retrieved" % j.id)
        return "%s %s as %s -> %d" % (mode, jid[:8], who, rep.status)

    def op_put(self):
        rng = self.rng
        j, jid = self.target()
        who = self.pick_actor(j)
        x = rng.random()
        poss = j.possible() if j is not None else {ABSENT}
        ch = {}
        if x < 0.5:
            # a valid change of name, description and/or metadata
            for f in rng.sample(["name", "description", "metadata"],
                                rng.randint(1, 3)):
                ch[f] = {"name": rng.choice(["n1", "n2", "renamed"]),
                         "description": rng.choice(["new", "d2", ""]),
                         "metadata": rng.choice([{"v": rng.randint(0, 9)},
                                                 None, [1], "s"])}[f]
            want = set()
            for r in poss:
                want |= {PENDING: {200}, RUNNING: {409}, FINAL: {200},
                         RETRIEVED: {200}, ABSENT: {404}}[r]
            if not self.sees(who, j):
                want = {404}
            rep = self.req("PUT", "/api/v1/jobs/%s" % jid, who,
                           json.dumps(ch), concern=[j])
            self.expect(rep, want, "PUT %s on %r (possible %s)" % (
                ch, j, poss))
            if rep.status == 200:
                for f, v in ch.items():
                    setattr(j, f, v)
                self.observe(j, rep.json(), "PUT answer")
            return "put %s on %s as %s -> %d" % (json.dumps(ch)[:60],
                                                  jid[:8], who, rep.status)
        if x < 0.75:
            # a status: cancelled, or the one it has, or another
            st = rng.choice(["cancelled", "CANCELLED", "canceled",
                             "ENQUEUED", "pending", "RUNNING", "FINISHED",
                             "completed", "failed", "retrieved"])
            body = {"status": st}
            if rng.random() < 0.25:
                body["name"] = "with-status"
            sn = {"cancelled": "c", "canceled": "c", "enqueued": "p",
                  "pending": "p", "running": "r", "finished": "completed",
                  "completed": "completed", "failed": "failed",
                  "retrieved": "t"}[st.lower()]
            want = set()
            for r in poss:
                if r == ABSENT:
                    want.add(404)
                    continue
                outs = [j.outcome] if j.outcome else list(FINALS)
                for out in (outs if r >= FINAL else [None]):
                    if sn == "c":
                        ok = r in (PENDING, RUNNING) or out == "cancelled"
                    elif sn == "p":
                        ok = r == PENDING
                    elif sn == "r":
                        ok = r == RUNNING
                    elif sn == "t":
                        ok = r == RETRIEVED
                    else:
                        ok = r >= FINAL and out == sn
                    code = 200 if ok else 409
                    if code == 200 and "name" in body and r == RUNNING:
                        code = 409
                    want.add(code)
            if not self.sees(who, j):
                want = {404}
            if "put_cancel_final" in self.skip and sn == "c" and (
                    FINAL in poss or RETRIEVED in poss) and \
                    j.outcome != "cancelled":
                return "put cancel on a final job (left out)"
            rep = self.req("PUT", "/api/v1/jobs/%s" % jid, who,
                           json.dumps(body), concern=[j])
            self.expect(rep, want, "PUT %s on %r (possible %s)" % (
                body, j, poss))
            if rep.status == 200:
                obj = rep.json()
                if "name" in body:
                    j.name = body["name"]
                if sn == "c" and obj.get("cancel_requested"):
                    j.cancel_req = True
                self.observe(j, obj, "PUT status answer")
                if sn == "c" and j.rank < FINAL and not \
                        obj.get("cancel_requested"):
                    raise Failure("PUT cancelled answered 200 with neither "
                                  "a cancelled job nor cancel_requested: %s"
                                  % json.dumps(obj)[:300])
            return "put %s on %s as %s -> %d" % (json.dumps(body), jid[:8],
                                                  who, rep.status)
        # an invalid change
        body, code = rng.choice([
            (b'{"name": 5}', 400), (b'{"name": null}', 400),
            (b'{"description": null}', 400), (b'{"description": []}', 400),
            (b'{"status": "bogus"}', 400), (b'{"status": 3}', 400),
            (b'{"shell": "rm -rf /"}', 400), (b"{}", 400), (b"[]", 400),
            (b"{", 400), (b'{"owner": "bob"}', 400), (b'"x"', 400),
            (b'{"name": "x' + b"y" * 5000 + b'"}', 400),
            (b'{"id": "00000000-0000-4000-8000-000000000000"}', 400)])
        want = {code} if self.sees(who, j) else {404}
        if b"null" in body and "put_null" in self.skip:
            return "put null (left out)"
        ct = None
        if self.sees(who, j) and rng.random() < 0.1:
            ct, want = "text/plain", {415}
        rep = self.req("PUT", "/api/v1/jobs/%s" % jid, who, body,
                       concern=[j], ctype=ct or "application/json")
        self.expect(rep, want, "invalid PUT %r on %r" % (body[:60], j))
        return "put invalid %r on %s as %s -> %d" % (body[:40], jid[:8], who,
                                                     rep.status)

    def op_delete(self):
        j, jid = self.target()
        who = self.pick_actor(j)
        poss = j.possible() if j is not None else {ABSENT}
        want = set()
        for r in poss:
            want |= {PENDING: {202}, RUNNING: {202}, FINAL: {204},
                     RETRIEVED: {204}, ABSENT: {404}}[r]
            if r >= FINAL and (j.retries > 0 or j.flux):
                want.add(409)   # requeued meanwhile
        if not self.sees(who, j):
            want = {404}
        rep = self.req("DELETE", "/api/v1/jobs/%s" % jid, who, concern=[j])
        self.expect(rep, want, "DELETE of %r (possible %s)" % (j, poss))
        if rep.status == 204:
            if rep.body:
                raise Failure("DELETE 204 with a body")
            j.deleted = True
            j.held = None
            for e in EXTS + ("log", "cancel", "held"):
                if os.path.exists(os.path.join(self.env.spool,
                                               jid + "." + e)):
                    raise Failure("DELETE 204 left %s.%s" % (jid, e))
        elif rep.status == 202:
            obj = rep.json()
            if obj.get("cancel_requested"):
                j.cancel_req = True
            self.observe(j, obj, "DELETE answer")
            if j.rank < FINAL and not obj.get("cancel_requested"):
                raise Failure("DELETE 202 with neither a cancelled job nor "
                              "cancel_requested: %s" % json.dumps(obj)[:300])
        return "delete %s as %s -> %d" % (jid[:8], who, rep.status)

    def log_bytes(self, jid):
        try:
            with open(os.path.join(self.env.spool, jid + ".log"), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def op_log(self):
        rng = self.rng
        j, jid = self.target()
        who = self.pick_actor(j)
        x = rng.random()
        if x < 0.15:
            off = rng.choice(["-1", "x", "1e3", "99999999999999999999999",
                              "%d" % (1 << 61)])
            want = {400} if self.sees(who, j) else {404}
            rep = self.req("GET", "/api/v1/jobs/%s/log?offset=%s" % (jid, off),
                           who, concern=[j])
            self.expect(rep, want, "log with offset %s" % off)
            return "log offset %s -> %d" % (off, rep.status)
        before = self.log_bytes(jid)
        off = rng.choice([0, 0, 1, 3, len(before), len(before) + 5])
        rep = self.req("GET", "/api/v1/jobs/%s/log%s" % (
            jid, "?offset=%d" % off if off or rng.random() < 0.3 else ""),
            who, concern=[j])
        if not self.sees(who, j):
            self.expect(rep, {404}, "log of a job %s cannot see" % who)
            return "log %s as %s -> %d" % (jid[:8], who, rep.status)
        self.expect(rep, {200}, "log")
        after = self.log_bytes(jid)
        # the log only grows: what we got lies between the two reads
        if not (after[off:].startswith(rep.body) and
                rep.body.startswith(before[off:])):
            raise Failure("log of %s from %d: %r, file had %r then %r" % (
                jid, off, rep.body[:200], before[:200], after[:200]))
        self.check_log(j)
        return "log %s off %d as %s -> %d (%d bytes)" % (
            jid[:8], off, who, rep.status, len(rep.body))

    def check_log(self, j):
        """The whole log of a finished job is what its runs wrote."""
        if j.rank < FINAL or j.lapsed or j.gave_back or j.requeued or \
                j.shutdown or j.outcome == "cancelled":
            return
        got = self.log_bytes(j.id)
        if j.fake_runs:
            want = j.uploaded if j.fake_runs == j.attempts else None
        else:
            one = self.expected_log(getattr(j, "shape", None), j.sub)
            want = one * j.attempts if one is not None else None
        if want is not None and got != want:
            raise Failure("log of %r is %r, want %r" % (j, got[:200],
                                                        want[:200]))

    def op_follow(self):
        rng = self.rng
        j, jid = self.target()
        who = self.pick_actor(j)
        was_final = j is not None and j.rank >= FINAL and not j.deleted
        off = rng.choice([0, 0, 2])
        path = "/api/v1/jobs/%s/log?follow=1%s" % (
            jid, "&offset=%d" % off if off else "")
        short = rng.choice([0.2, 0.5, 1.0])
        conn = http.client.HTTPConnection("127.0.0.1", self.env.port,
                                          timeout=30)
        got, ended = b"", False
        try:
            conn.request("GET", path, headers={
                "Authorization": "Bearer " + TOKENS[who][0]})
            resp = conn.getresponse()
            status = resp.status
            self.cur.append("GET %s as %s -> %d" % (path, who, status))
            if status != 200:
                body = resp.read()
                rep = Reply(status, dict(resp.getheaders()), body)
                self.check_reply("GET", path, rep)
            else:
                conn.sock.settimeout(10.0 if was_final else short)
                t0 = time.monotonic()
                try:
                    while True:
                        b = resp.read1(65536)
                        if not b:
                            ended = True
                            break
                        got += b
                        if time.monotonic() - t0 > (10.0 if was_final
                                                    else short):
                            break
                except socket.timeout:
                    pass
        except (OSError, http.client.HTTPException) as e:
            raise Failure("no reply to follow %s: %s: %s" % (
                path, type(e).__name__, e))
        finally:
            conn.close()
        if not self.sees(who, j):
            if status != 404:
                raise Failure("follow of a job %s cannot see: %d" % (who,
                                                                     status))
            return "follow %s as %s -> 404" % (jid[:8], who)
        if status != 200:
            raise Failure("follow of %r: %d" % (j, status))
        full = self.log_bytes(jid)
        if not full[off:].startswith(got):
            raise Failure("follow of %s gave %r, the log is %r" % (
                jid, got[:200], full[:200]))
        if was_final and not ended:
            raise Failure("follow of final job %s did not end" % jid)
        if was_final and got != full[off:]:
            raise Failure("follow of final job %s gave %r, the log is %r" % (
                jid, got[:200], full[:200]))
        return "follow %s as %s %.1fs -> 200 (%d bytes%s)" % (
            jid[:8], who, short, len(got), ", ended" if ended else "")

    def op_ws(self):
        """GET .../log?ws: the WebSocket handshake, one binary message per
        log line, a ping answered, a close frame (1000 once the job has
        ended)."""
        rng = self.rng
        j, jid = self.target()
        who = self.pick_actor(j)
        was_final = j is not None and j.rank >= FINAL and not j.deleted
        version = rng.choice(["13"] * 8 + ["8"])
        key = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(16)))
        path = "/api/v1/jobs/%s/log?ws" % jid
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: %s\r\nAuthorization: Bearer %s\r\n"
               "\r\n" % (path, key.decode(), version, TOKENS[who][0]))
        short = rng.choice([0.3, 0.8])
        ping = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 8)))
        msgs, code, pong = [], None, None
        try:
            sk = socket.create_connection(("127.0.0.1", self.env.port), 30)
        except OSError as e:
            raise Failure("ws connect: %s" % e)
        try:
            sk.sendall(req.encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                b = sk.recv(4096)
                if not b:
                    raise Failure("ws %s: the connection closed before an "
                                  "answer" % path)
                buf += b
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            hdrs = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            self.cur.append("GET %s (WebSocket %s) as %s -> %d" % (
                path, version, who, status))
            if status != 101:
                n = int(hdrs.get("content-length", "0"))
                while len(rest) < n:
                    b = sk.recv(4096)
                    if not b:
                        break
                    rest += b
                self.check_reply("GET", path, Reply(status, hdrs, rest))
            else:
                want = base64.b64encode(hashlib.sha1(
                    key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
                if hdrs.get("sec-websocket-accept") != want.decode():
                    raise Failure("ws: Sec-WebSocket-Accept %r, want %r" % (
                        hdrs.get("sec-websocket-accept"), want))
                mask = bytes(rng.getrandbits(8) for _ in range(4))
                sk.sendall(bytes([0x89, 0x80 | len(ping)]) + mask + bytes(
                    c ^ mask[i % 4] for i, c in enumerate(ping)))
                sk.settimeout(10.0 if was_final else short)
                t0 = time.monotonic()
                try:
                    while code is None and time.monotonic() - t0 < 10.0:
                        while True:
                            fr = self.ws_frame(rest)
                            if fr is not None:
                                break
                            b = sk.recv(65536)
                            if not b:
                                raise Failure("ws: the connection closed "
                                              "without a close frame")
                            rest += b
                        op, payload, rest = fr
                        if op == 2:
                            msgs.append(payload)
                        elif op == 10:
                            pong = payload
                        elif op == 8:
                            code = int.from_bytes(payload[:2], "big") \
                                if len(payload) >= 2 else 1005
                        else:
                            raise Failure("ws: unexpected opcode %d" % op)
                except socket.timeout:
                    pass
                # our close frame, masked
                sk.sendall(bytes([0x88, 0x82]) + mask + bytes(
                    c ^ mask[i % 4] for i, c in enumerate(b"\x03\xe8")))
        except OSError as e:
            raise Failure("ws %s: %s: %s" % (path, type(e).__name__, e))
        finally:
            sk.close()
        if not self.sees(who, j):
            if status != 404:
                raise Failure("ws of a job %s cannot see: %d" % (who, status))
            return "ws %s as %s -> 404" % (jid[:8], who)
        if version != "13":
            if status != 426:
                raise Failure("ws version %s: %d, want 426" % (version,
                                                              status))
            return "ws version %s -> 426" % version
        if status != 101:
            raise Failure("ws of %r: %d" % (j, status))
        full = self.log_bytes(jid)
        lines = full.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        if msgs != lines[:len(msgs)]:
            raise Failure("ws of %s: messages %r, log lines %r" % (
                jid, msgs[:10], lines[:10]))
        if pong is not None and pong != ping:
            raise Failure("ws: pong %r for ping %r" % (pong, ping))
        if was_final:
            if code != 1000 or msgs != lines:
                raise Failure("ws of final job %s: close %r, messages %r, "
                              "log lines %r" % (jid, code, msgs[:10],
                                                lines[:10]))
        return "ws %s as %s -> 101 (%d messages, close %s)" % (
            jid[:8], who, len(msgs), code)

    @staticmethod
    def ws_frame(buf):
        """(opcode, payload, rest) of the first whole frame, or None."""
        if len(buf) < 2:
            return None
        op, n = buf[0] & 0x0F, buf[1] & 0x7F
        if buf[1] & 0x80:
            raise Failure("ws: a server frame is masked")
        if not buf[0] & 0x80:
            raise Failure("ws: a fragmented server frame")
        i = 2
        if n == 126:
            if len(buf) < 4:
                return None
            n, i = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n, i = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < i + n:
            return None
        return op, buf[i:i + n], buf[i + n:]

    def visible(self, who):
        return [self.jobs[i] for i in self.order if not self.jobs[i].deleted
                and (who == "ops" or self.jobs[i].owner == who)]

    def list_all(self, who, query, limit):
        """Every page of a listing; the jobs in order."""
        seen, out = set(), []
        after = None
        pages = 0
        nvis = len(self.visible(who))
        if limit is not None and nvis > 20 * limit:
            limit = min(1000, -(-nvis // 20))   # at most about 20 pages
        while True:
            q = dict(query)
            if limit is not None:
                q["limit"] = str(limit)
            if after is not None:
                q["after"] = after
            qs = "&".join("%s=%s" % kv for kv in q.items())
            rep = self.request("GET", "/api/v1/jobs" + ("?" + qs if qs else
                                                        ""), who)
            self.expect(rep, {200}, "list ?%s" % qs)
            obj = rep.json()
            if not isinstance(obj, dict) or not isinstance(obj.get("jobs"),
                                                           list):
                raise Failure("list answer %r" % rep.short())
            page = obj["jobs"]
            if len(page) > (limit or 100):
                raise Failure("a page of %d jobs with limit %s" % (
                    len(page), limit))
            for o in page:
                jid = o.get("id") if isinstance(o, dict) else None
                if jid in seen:
                    raise Failure("list ?%s as %s: job %s twice" % (
                        qs, who, jid))
                seen.add(jid)
                out.append(o)
            nxt = obj.get("next")
            if nxt is None:
                break
            if not isinstance(nxt, str) or not page:
                raise Failure("list: next %r after a page of %d" % (
                    nxt, len(page)))
            after = nxt
            pages += 1
            if pages > nvis + 5:
                raise Failure("list: more pages than jobs")
        return out

    def op_list(self):
        rng = self.rng
        who = rng.choice(USERS)
        limit = rng.choice([None, 1, 2, 3, 7, 50, 1000])
        x = rng.random()
        query = {}
        if x < 0.25:
            sts = rng.sample(["pending", "running", "completed", "failed",
                              "cancelled", "retrieved"], rng.randint(1, 2))
            query["status"] = ",".join(sts)
        elif x < 0.4 and self.batches:
            cid = rng.choice(sorted(self.batches))
            query["batch"] = cid
        elif x < 0.5:
            query["name"] = rng.choice(["n1", "n2", "renamed", "report"])
        return self.check_list(who, query, limit)

    def op_burst(self):
        """Many short jobs at once, listed while the processor moves them
        (a rename during a listing must not hide or double a job)."""
        rng = self.rng
        who = rng.choice(USERS)
        n = rng.randint(8, 25)
        subs = [self.new_job("quick") for _ in range(n)]
        rep = self.req("POST", "/api/v1/batches", who,
                       json.dumps({"jobs": [sb[2] for sb in subs]}))
        self.expect(rep, {201}, "batch of %d" % n)
        obj = rep.json()
        cid = obj.get("correlation_id")
        for jid, (mkind, kind, sub) in zip(obj.get("jobs", []), subs):
            self.add_job(jid, who, mkind, sub, kind, batch=cid)
        self.batches[cid] = (who, list(obj.get("jobs", [])))
        out = []
        for _ in range(rng.randint(2, 5)):
            q = rng.choice([{}, {}, {"batch": cid}])
            out.append(self.check_list(rng.choice([who, "ops"]), q,
                                       rng.choice([None, 3, 10])))
        return "burst of %d as %s; %s" % (n, who, "; ".join(out))

    def check_list(self, who, query, limit):
        out = self.list_all(who, query, limit)
        vis = self.visible(who)
        byid = {j.id: j for j in vis}
        for o in out:
            j = byid.get(o.get("id"))
            if j is None:
                oj = self.jobs.get(o.get("id"))
                raise Failure("list as %s shows %s, which it cannot have "
                              "(%r)" % (who, o.get("id"), oj))
            self.observe(j, o, "listing")
        ids = [o["id"] for o in out]
        # newest first: by submission order where the model knows it
        # (answers carry no "seq"), and by created_at
        pos = {jid: i for i, jid in enumerate(self.order)}
        ranks = [pos[o["id"]] for o in out]
        made = [o.get("created_at") or "" for o in out]
        if ranks != sorted(ranks, reverse=True) or \
                made != sorted(made, reverse=True):
            raise Failure("list as %s is not newest first: %s" % (
                who, [o["id"][:8] for o in out][:20]))
        shown = set(ids)
        if "status" in query:
            want = set(query["status"].split(","))
            for o in out:
                st = o["status"]
                if o.get("retrieved_at"):
                    ok = "retrieved" in want or st in want
                else:
                    ok = st in want
                if not ok:
                    raise Failure("list ?status=%s shows a %s job%s" % (
                        query["status"], st, " (retrieved)" if
                        o.get("retrieved_at") else ""))
            for j in vis:
                stable = j.possible() == {j.rank}
                if not stable:
                    continue
                st = {PENDING: "pending", RUNNING: "running"}.get(
                    j.rank, j.outcome)
                match = st in want or (j.rank == RETRIEVED and
                                       "retrieved" in want)
                if match and j.id not in shown:
                    raise Failure("list ?status=%s as %s omits %r" % (
                        query["status"], who, j))
        elif "batch" in query:
            want = {j.id for j in vis if j.batch == query["batch"]}
            if shown != want:
                raise Failure("list ?batch= as %s: missing %s, extra %s" % (
                    who, sorted(want - shown), sorted(shown - want)))
        elif "name" in query:
            want = {j.id for j in vis if j.name == query["name"]}
            if shown != want:
                raise Failure("list ?name=%s as %s: missing %s, extra %s" % (
                    query["name"], who, sorted(want - shown),
                    sorted(shown - want)))
        else:
            want = {j.id for j in vis}
            if shown != want:
                raise Failure("list as %s (limit %s): missing %s, extra %s"
                              % (who, limit, sorted(want - shown),
                                 sorted(shown - want)))
        return "list %s limit %s as %s -> %d jobs" % (
            "&".join("%s=%s" % kv for kv in query.items()) or "all", limit,
            who, len(out))

    def op_list_bad(self):
        rng = self.rng
        who = rng.choice(USERS)
        q = rng.choice(["limit=0", "limit=1001", "limit=x", "limit=-1",
                        "status=bogus", "status=,", "after=garbage",
                        "after=1-not-a-uuid", "after=-5-" + str(uuid.uuid4()),
                        "limit=99999999999999999999999"])
        rep = self.req("GET", "/api/v1/jobs?" + q, who)
        self.expect(rep, {400}, "list ?%s" % q)
        return "list bad %s -> %d" % (q, rep.status)

    def op_batch_get(self):
        rng = self.rng
        if not self.batches or rng.random() < 0.1:
            cid = rng.choice([str(uuid.uuid4()), "not-a-uuid"])
            rep = self.req("GET", "/api/v1/batches/%s" % cid,
                           rng.choice(USERS))
            self.expect(rep, {404}, "an unknown batch")
            return "batch get unknown -> 404"
        cid = rng.choice(sorted(self.batches))
        owner, ids = self.batches[cid]
        who = rng.choice([owner, owner, "ops"] + USERS)
        jobs = [self.jobs[i] for i in ids]
        live = [j for j in jobs if not j.deleted]
        if rng.random() < 0.3:
            # a follow ends when every job is final: only then, so that
            # the whole answer must come
            fol = rng.random() < 0.4 and all(j.rank >= FINAL for j in live)
            rep = self.req("GET", "/api/v1/batches/%s/log%s" % (
                cid, "?follow=1" if fol else ""), who, concern=jobs)
            self.expect(rep, {200} if live and who in (owner, "ops")
                        else {404}, "batch log")
            if rep.status == 200:
                # each line is "<id> <line>" of a job of the batch
                for ln in rep.body.split(b"\n"):
                    if ln and ln[:36].decode("latin-1") not in ids:
                        raise Failure("batch log line %r is of no job of "
                                      "the batch" % ln[:80])
            return "batch log%s %s as %s -> %d" % (
                " follow" if fol else "", cid[:8], who, rep.status)
        q = rng.choice(["", "?peek=1", "?logs=1", "?peek=1&logs=1"])
        rep = self.req("GET", "/api/v1/batches/%s%s" % (cid, q), who,
                       concern=jobs)
        if not live or who not in (owner, "ops"):
            self.expect(rep, {404}, "batch of jobs %s cannot see" % who)
            return "batch get %s as %s -> %d" % (cid[:8], who, rep.status)
        self.expect(rep, {200}, "batch get")
        obj = rep.json()
        got = [o.get("id") for o in obj.get("jobs", [])]
        if got != [j.id for j in live]:
            raise Failure("batch %s lists %s, want %s (submission order)" % (
                cid, got, [j.id for j in live]))
        counts = obj.get("counts", {})
        if obj.get("total") != len(live) or sum(counts.values()) != len(live):
            raise Failure("batch %s: total %r counts %r for %d jobs" % (
                cid, obj.get("total"), counts, len(live)))
        for j, o in zip(live, obj["jobs"]):
            before = j.rank
            self.observe(j, o, "batch answer")
            if "peek" not in q and before >= FINAL and j.rank != RETRIEVED:
                raise Failure("batch get did not mark %s retrieved" % j.id)
            if "logs" in q and not isinstance(o.get("log"), str):
                raise Failure("batch ?logs=1 without a log for %s" % j.id)
        return "batch get %s%s as %s -> %d" % (cid[:8], q, who, rep.status)

    # ---- the fake worker ----
    def held(self):
        return [self.jobs[i] for i in self.order
                if self.jobs[i].held is not None]

    def claimable(self):
        return [j for j in self.jobs.values() if not j.deleted and
                j.rank == PENDING and j.possible() == {PENDING} and
                j.held is None and not j.flux and not j.lapsed and
                not j.requeued and not j.gave_back and not j.cancel_req]

    def op_claim(self):
        rng = self.rng
        body = {"worker": "stateful:%d" % self.seed, "wait": 0,
                "labels": ["fake"]}
        if rng.random() < 0.2:
            del body["worker"]
        sure = self.claimable()
        if rng.random() < 0.2:
            del body["labels"]      # then only jobs without labels
            sure = [j for j in sure if not j.labels]
        if not sure and rng.random() < 0.3:
            body["wait"] = rng.choice([0.2, 0.5])   # a short long-poll
        rep = self.req("POST", "/api/v1/workers/claim", "gpu1",
                       json.dumps(body))
        if rep.status == 204:
            if sure:
                raise Failure("claim answered 204 while %r was claimable" %
                              sure[0])
            return "claim -> 204"
        self.expect(rep, {200, 204}, "claim")
        obj = rep.json()
        job, lease = obj.get("job"), obj.get("lease")
        jid = job.get("id") if isinstance(job, dict) else None
        j = self.jobs.get(jid)
        if j is None:
            raise Failure("claim handed out unknown job %r" % jid)
        if any(lb not in body.get("labels", []) for lb in j.labels):
            raise Failure("claim with labels [fake] got %r labels %r" % (
                j, j.labels))
        if PENDING not in j.possible() and not j.flux:
            raise Failure("claim handed out %r, which was not pending" % j)
        if job.get("status") != "running" or \
                job.get("worker") != body.get("worker", job.get("worker")):
            raise Failure("claimed job: %s" % json.dumps(job)[:300])
        gen = lease.get("token")
        if not isinstance(gen, int) or gen < 1 or \
                lease.get("lease_ms") != int(LEASE_S * 1000):
            raise Failure("claim lease %r" % lease)
        size = obj.get("log_offset")
        if size != len(self.log_bytes(jid)):
            raise Failure("claim log_offset %r, the log has %d bytes" % (
                size, len(self.log_bytes(jid))))
        if j.rank == RUNNING or j.flux:
            j.lapsed = True
        j.rank = PENDING       # it was pending when claimed
        self.observe(j, job, "claim answer")
        if j.abandoned is not None:
            j.old_gens.append(j.abandoned)
            j.abandoned = None
        j.held = Lease(gen, size)
        j.flux = False
        j.fake_runs += 1
        with open(os.path.join(self.env.marks, jid), "a") as f:
            f.write("fake\n")
        return "claim -> %s gen %d" % (jid[:8], gen)

    def op_claim_bad(self):
        rng = self.rng
        body, code, who = rng.choice([
            ('{"wait": -1}', 400, "gpu1"), ('{"wait": 301}', 400, "gpu1"),
            ('{"wait": "1"}', 400, "gpu1"), ('{"labels": "x"}', 400, "gpu1"),
            ('{"labels": ["a b"], "wait": 0}', 400, "gpu1"),
            ('{"worker": "", "wait": 0}', 400, "gpu1"),
            ('{"wait": 0', 400, "gpu1"), ('[1]', 400, "gpu1"),
            ('{"wait": 1e999}', 400, "gpu1"),
            ('{"wait": 0}', 403, "alice"), ('{"wait": 0}', 403, "ops"),
            ('{"wait": 0}', 401, None)])
        rep = self.req("POST", "/api/v1/workers/claim", who, body)
        self.expect(rep, {code}, "claim %s as %s" % (body, who))
        return "claim bad %s as %s -> %d" % (body, who, rep.status)

    def lease_codes(self, j, ok):
        """ok if the lease surely holds, else ok or 409 (or 404)."""
        if j.deleted:
            return {404}
        if j.held is not None and j.held.alive():
            return {ok}
        return {ok, 409}

    def lost(self, j, rep):
        """A 409 on a call with our lease: it was recovered."""
        if j.held is not None:
            j.old_gens.append(j.held.gen)
            j.held = None
            j.lapsed = True
            j.flux = True

    def op_wlog(self):
        rng = self.rng
        hs = self.held()
        if not hs:
            return self.op_claim()
        j = rng.choice(hs)
        data = ("line %d of %s\n" % (rng.randint(0, 999), j.id[:8])).encode()
        lz = j.held.size
        x = rng.random()
        if x < 0.7:
            off = lz
        elif x < 0.85:
            off = max(0, lz - rng.randint(1, 5))   # a resend: overlap
            data = self.log_bytes(j.id)[off:lz] + data
        else:
            off = lz + rng.randint(1, 9)           # a gap
            if "log_gap" in self.skip:
                off = lz
        # the upload route answers a gap or a lost lease from the headers
        # (then closes): a chunked body only where it is taken
        chunked = off <= lz and j.held.alive() and rng.random() < 0.3
        rep = self.req("POST", "/api/v1/workers/jobs/%s/log?token=%d&offset=%d"
                       % (j.id, j.held.gen, off), "gpu1", data, ctype=None,
                       concern=[j] if off > lz else [], chunked=chunked)
        want = self.lease_codes(j, 416 if off > lz else 200)
        self.expect(rep, want, "log upload at %d of %d" % (off, lz))
        obj = rep.json()
        if rep.status == 200:
            if obj.get("size") != off + len(data):
                raise Failure("log upload answered size %r, want %d" % (
                    obj.get("size"), off + len(data)))
            if self.log_bytes(j.id)[off:off + len(data)] != data:
                raise Failure("log upload at %d: the log holds %r, sent %r"
                              % (off, self.log_bytes(j.id)[off:][:200],
                                 data[:200]))
            j.uploaded += data[lz - off:]
            j.held.size = off + len(data)
        elif rep.status == 416:
            if obj.get("size") != lz:
                raise Failure("log upload 416 with size %r, want %d" % (
                    obj.get("size"), lz))
        else:
            self.lost(j, rep)
        return "wlog %s gen %d off %d len %d -> %d" % (
            j.id[:8], j.held.gen if j.held else 0, off, len(data), rep.status)

    def op_heartbeat(self):
        rng = self.rng
        hs = self.held()
        if not hs:
            return self.op_stale()
        j = rng.choice(hs)
        gen = j.held.gen
        want = self.lease_codes(j, 200)
        rep = self.req("POST", "/api/v1/workers/jobs/%s/heartbeat" % j.id,
                       "gpu1", json.dumps({"token": gen}))
        self.expect(rep, want, "heartbeat of %r" % j)
        if rep.status == 200:
            obj = rep.json()
            j.held.t = time.monotonic()
            if bool(obj.get("cancel")) != bool(j.cancel_req):
                raise Failure("heartbeat of %r: cancel %r, a cancel was %s"
                              "requested" % (j, obj.get("cancel"),
                                             "" if j.cancel_req else "not "))
            if obj.get("log_size") != j.held.size:
                raise Failure("heartbeat log_size %r, want %d" % (
                    obj.get("log_size"), j.held.size))
        else:
            self.lost(j, rep)
        return "heartbeat %s gen %d -> %d" % (j.id[:8], gen, rep.status)

    def op_finish(self):
        rng = self.rng
        hs = self.held()
        if not hs:
            return self.op_claim()
        j = rng.choice(hs)
        gen = j.held.gen
        st = "cancelled" if j.cancel_req else rng.choice(
            ["completed", "completed", "failed", "pending"])
        wj = {"status": st}
        give_back = None
        if st == "completed":
            wj["exit_code"] = 0
        elif st == "failed":
            wj.update(exit_code=rng.choice([1, 2, None]),
                      error="failed by the fake worker")
        elif st == "pending":
            give_back = rng.random() < 0.5
        body = {"token": gen, "job": wj}
        if give_back is not None:
            body["give_back"] = give_back
        want = self.lease_codes(j, 200)
        rep = self.req("POST", "/api/v1/workers/jobs/%s/finish" % j.id,
                       "gpu1", json.dumps(body))
        self.expect(rep, want, "finish %s of %r" % (st, j))
        if rep.status != 200:
            self.lost(j, rep)
            return "finish %s %s gen %d -> %d" % (st, j.id[:8], gen,
                                                  rep.status)
        obj = rep.json()
        a_before = j.attempts
        j.old_gens.append(gen)
        j.held = None
        if st == "pending":
            if give_back:
                j.gave_back += 1
            else:
                j.requeued += 1
        self.observe(j, obj, "finish answer", back=st == "pending")
        if st == "pending":
            want_a = a_before - 1 if give_back else a_before
            if obj.get("attempts") != want_a:
                raise Failure("give-back (give_back %s) left attempts %r, "
                              "want %d" % (give_back, obj.get("attempts"),
                                           want_a))
            if j.rank != PENDING:
                raise Failure("a give-back left %r" % j)
        else:
            if obj.get("status") != st:
                raise Failure("finish %s stored %r" % (st, obj.get("status")))
            size = len(self.log_bytes(j.id))
            if obj.get("log_size") != size:
                raise Failure("finish: log_size %r, the log has %d bytes" % (
                    obj.get("log_size"), size))
            self.check_log(j)
            # the same finish again (its answer was lost): 200, no change
            if rng.random() < 0.3:
                rep = self.req("POST", "/api/v1/workers/jobs/%s/finish" %
                               j.id, "gpu1", json.dumps(body), concern=[j])
                self.expect(rep, {200}, "a repeated finish")
                self.observe(j, rep.json(), "repeated finish")
        return "finish %s%s %s gen %d -> %d" % (
            st, " give_back" if give_back else "", j.id[:8], gen, rep.status)

    def op_finish_bad(self):
        rng = self.rng
        hs = self.held()
        if not hs:
            return self.op_claim_bad()
        j = rng.choice(hs)
        gen = j.held.gen
        body = rng.choice([
            {"token": gen}, {"token": gen, "job": {}},
            {"token": gen, "job": {"status": "bogus"}},
            {"token": gen, "job": {"status": "running"}},
            {"token": gen, "job": {"status": "completed", "exit_code": "0"}},
            {"token": gen, "job": {"status": "completed",
                                   "started_at": "yesterday"}},
            {"token": gen, "job": {"status": "failed", "attempts": -1}},
            {"token": gen, "job": {"status": "pending"}, "give_back": "yes"},
            {"token": "x", "job": {"status": "completed"}},
            {"token": 0, "job": {"status": "completed"}},
            {"job": {"status": "completed"}}, [gen]])
        want = {400} if j.held.alive() else {400, 409}
        rep = self.req("POST", "/api/v1/workers/jobs/%s/finish" % j.id,
                       "gpu1", json.dumps(body), concern=[j])
        self.expect(rep, want, "finish %s" % json.dumps(body))
        return "finish bad %s -> %d" % (json.dumps(body)[:60], rep.status)

    def op_stale(self):
        """Worker calls with a lease token that no longer holds."""
        rng = self.rng
        c = [j for j in self.jobs.values() if j.old_gens]
        if not c or rng.random() < 0.15:
            j, jid = self.target()
            gen = rng.randint(1, 10 ** 6)
            if j is not None and j.held is not None and j.held.gen == gen:
                gen += 1
        else:
            j = rng.choice(sorted(c, key=lambda k: k.id))
            jid = j.id
            gen = rng.choice(j.old_gens)
        what = rng.choice(["heartbeat", "log", "finish"])
        if what == "log":
            rep = self.req("POST", "/api/v1/workers/jobs/%s/log?token=%d&"
                           "offset=%d" % (jid, gen, len(self.log_bytes(jid))),
                           "gpu1", b"stale\n", ctype=None, concern=[j])
        elif what == "heartbeat":
            rep = self.req("POST", "/api/v1/workers/jobs/%s/heartbeat" % jid,
                           "gpu1", json.dumps({"token": gen}), concern=[j])
        else:
            rep = self.req("POST", "/api/v1/workers/jobs/%s/finish" % jid,
                           "gpu1", json.dumps({"token": gen, "job": {
                               "status": "completed", "exit_code": 0}}),
                           concern=[j])
        if j is None or j.deleted:
            want = {404}
        elif what == "finish" and j.rank >= FINAL:
            want = {200, 409}   # 200: that generation's own finish
        else:
            want = {409}
        self.expect(rep, want, "stale %s (token %d) of %r" % (what, gen, j))
        if rep.status == 200:
            o = rep.json()
            if o.get("generation") != gen:
                raise Failure("a stale finish answered 200 for generation "
                              "%r with token %d" % (o.get("generation"), gen))
            self.observe(j, o, "stale finish")
        return "stale %s %s gen %d -> %d" % (what, jid[:8], gen, rep.status)

    def op_abandon(self):
        hs = self.held()
        if not hs:
            return self.op_sleep()
        j = self.rng.choice(hs)
        j.abandoned = j.held.gen
        j.held = None
        j.flux = True
        j.lapsed = True
        return "abandon %s (its lease will lapse)" % j.id[:8]

    # ---- malformed requests ----
    def op_method(self):
        rng = self.rng
        jid = self.order[-1] if self.order else str(uuid.uuid4())
        j = self.jobs.get(jid)
        m, path = rng.choice([
            ("PATCH", "/api/v1/jobs"), ("DELETE", "/api/v1/jobs"),
            ("PUT", "/api/v1/jobs"), ("POST", "/api/v1/jobs/%s" % jid),
            ("PATCH", "/api/v1/jobs/%s" % jid),
            ("POST", "/api/v1/jobs/%s/log" % jid),
            ("DELETE", "/api/v1/jobs/%s/log" % jid),
            ("GET", "/api/v1/batches"), ("PUT", "/api/v1/batches"),
            ("POST", "/api/v1/batches/%s" % jid), ("GET", "/api/v1/add/1/2"),
            ("DELETE", "/api/v1/job/%s" % jid), ("POST", "/healthz"),
            ("PUT", "/metrics"), ("GET", "/api/v1/workers/claim"),
            ("OPTIONS", "/api/v1/jobs"), ("BREW", "/api/v1/jobs")])
        who = "gpu1" if "/workers/" in path else rng.choice(USERS)
        rep = self.req(m, path, who, b"{}" if m in ("POST", "PUT", "PATCH")
                       else None, concern=[j])
        self.expect(rep, {405}, "%s %s" % (m, path))
        return "method %s %s -> %d" % (m, path[:50], rep.status)

    def op_path(self):
        rng = self.rng
        jid = self.order[-1] if self.order else str(uuid.uuid4())
        j = self.jobs.get(jid)
        who = j.owner if j is not None else "alice"
        m, path, codes = rng.choice([
            ("GET", "/api/v1/jobs/../etc/passwd", {404}),
            ("GET", "/api/v1/jobs/%2e%2e%2fetc%2fpasswd", {404}),
            ("GET", "/api/v1/jobs/" + jid.upper(), {404}),
            ("GET", "/api/v1/jobs/" + jid[:-1], {404}),
            ("GET", "/api/v1/jobs/" + jid + "x", {404}),
            ("DELETE", "/api/v1/jobs/" + jid[:-1] + "g", {404}),
            ("PUT", "/api/v1/jobs/not-a-uuid", {404}),
            ("GET", "/api/v1/jobs/" + jid + "%00zzz", {400}),
            ("GET", "/api/v1/jobs/" + jid + "%00", {400}),
            ("GET", "/api/v1/jobs/" + jid + "/log/extra", {404}),
            ("GET", "/api/v2/jobs", {404}), ("GET", "/", {200}),
            ("GET", "/ui/nope.js", {404}), ("POST", "/", {405}),
            ("GET", "/api/v1/" + "a/" * 300, {404}),
            ("GET", "/api/v1/batches/" + jid + "/log?follow=x", {200, 404}),
            ("POST", "/api/v1/workers/jobs/../heartbeat", {400, 404}),
            ("POST", "/api/v1/workers/jobs/%s/heartbeat" % jid[:-1], {400}),
            ("GET", "/api/v1/jobs?limit=5&limit=6", {200, 400}),
        ])
        if "workers" in path:
            who = "gpu1"
        if "%00" in path and "nul_path" in self.skip:
            return "path with a NUL (left out)"
        body = b'{"token": 1}' if m in ("POST", "PUT") else None
        rep = self.req(m, path, who, body, concern=[j])
        self.expect(rep, codes, "%s %s" % (m, path[:80]))
        if rep.status == 200 and "%00" in path:
            raise Failure("%s %s answered 200: a NUL in the path must be "
                          "refused" % (m, path))
        return "path %s %s -> %d" % (m, path[:60], rep.status)

    def op_keepalive(self):
        """A few operations on one kept-alive connection."""
        rng = self.rng
        ops = [rng.choice(["get", "get", "put", "submit", "submit_bad",
                           "list", "list_bad", "method", "path", "log",
                           "healthz", "delete", "batch_bad"])
               for _ in range(rng.randint(2, 5))]
        self.shared = http.client.HTTPConnection("127.0.0.1", self.env.port,
                                                 timeout=60)
        out = []
        try:
            for op in ops:
                out.append(getattr(self, "op_" + op)())
        finally:
            self.shared.close()
            self.shared = None
        return "keepalive: " + "; ".join(out)

    def op_abort(self):
        """A client that goes away in the middle of its request: nothing
        is submitted (checked after the step), the server goes on."""
        rng = self.rng
        who = rng.choice(USERS)
        auth = "Authorization: Bearer %s\r\n" % TOKENS[who][0]
        good = json.dumps(self.new_job("quick")[2])
        kind, req = rng.choice([
            ("half headers", "POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\n" +
             auth + "Content-Le"),
            ("short body", "POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\n" +
             auth + "Content-Type: application/json\r\n"
             "Content-Length: %d\r\n\r\n%s" % (len(good) + 10, good)),
            ("batch cut", "POST /api/v1/batches HTTP/1.1\r\nHost: x\r\n" +
             auth + "Content-Type: application/x-ndjson\r\n"
             "Transfer-Encoding: chunked\r\n\r\n" + "".join(
                 "%x\r\n%s\r\n" % (len(good) + 1, good + "\n")
                 for _ in range(3))),
            ("json batch cut", "POST /api/v1/batches HTTP/1.1\r\nHost: x"
             "\r\n" + auth + "Content-Length: 500\r\n\r\n{\"jobs\": [" +
             good + ","),
        ])
        self.cur.append("raw %s, then close" % kind)
        try:
            sk = socket.create_connection(("127.0.0.1", self.env.port), 10)
            sk.sendall(req.encode())
            time.sleep(rng.choice([0, 0.05, 0.2]))
            sk.close()
        except OSError as e:
            raise Failure("abort (%s): %s" % (kind, e))
        time.sleep(0.05)
        return "abort: %s as %s" % (kind, who)

    def op_restart(self):
        """SIGTERM and start again the apiserver (the spool is the state:
        jobs, idem/ and leases outlive it; its counters start again) or
        the processor (a job it runs is stopped after --shutdown-grace and
        returned to pending with its attempt given back, as documented)."""
        rng = self.rng
        if self.restarts >= 3:
            return self.op_sleep()
        self.restarts += 1
        if self.env.proc is not None and rng.random() < 0.4:
            may_run = [j for j in self.jobs.values() if not j.deleted and
                       j.kind != "fake" and j.held is None and
                       RUNNING in j.possible()]
            self.env.term(self.env.proc, "processor")
            for j in may_run:
                j.shutdown += 1
            self.env.start_proc()
            return "restart processor (%d jobs may have run)" % len(may_run)
        # a live follower of a job that will not end meanwhile: its stream
        # must end cleanly when the apiserver stops
        j = self.pick_job(lambda k: not k.deleted and k.kind == "fake" and
                          k.possible() == {PENDING})
        result = {}
        if j is not None:
            conn = http.client.HTTPConnection("127.0.0.1", self.env.port,
                                              timeout=60)
            conn.request("GET", "/api/v1/jobs/%s/log?follow=1" % j.id,
                         headers={"Authorization": "Bearer " +
                                  TOKENS[j.owner][0]})
            resp = conn.getresponse()
            if resp.status != 200:
                raise Failure("follow of %r: %d" % (j, resp.status))

            def reader():
                try:
                    result["body"] = resp.read()
                except (OSError, http.client.HTTPException) as e:
                    result["error"] = "%s: %s" % (type(e).__name__, e)
                finally:
                    conn.close()
            th = threading.Thread(target=reader)
            th.start()
        self.env.term(self.env.api, "apiserver")
        if j is not None:
            th.join(30)
            if th.is_alive():
                raise Failure("a follower of %r did not end when the "
                              "apiserver stopped" % j)
            if "error" in result:
                raise Failure("a follower of %r did not end cleanly when the "
                              "apiserver stopped: %s" % (j, result["error"]))
        self.env.start_api()
        self.counters = {}
        return "restart apiserver%s" % (" with a follower" if j else "")

    def parallel(self, reqs):
        """The requests (method, path, token, body, headers) at the same
        time, each on its own connection; their replies in order."""
        out = [None] * len(reqs)
        go = threading.Barrier(len(reqs))

        def one(i, method, path, token, body, headers):
            hdrs = dict(headers or {})
            hdrs["Authorization"] = "Bearer " + TOKENS[token][0]
            if body is not None:
                hdrs["Content-Type"] = "application/json"
            conn = http.client.HTTPConnection("127.0.0.1", self.env.port,
                                              timeout=60)
            try:
                conn.connect()
                go.wait(10)
                conn.request(method, path, body=body, headers=hdrs)
                resp = conn.getresponse()
                out[i] = Reply(resp.status, {k.lower(): v for k, v in
                                             resp.getheaders()}, resp.read())
            except (OSError, http.client.HTTPException,
                    threading.BrokenBarrierError) as e:
                out[i] = e
            finally:
                conn.close()

        ts = [threading.Thread(target=one, args=(i,) + tuple(r))
              for i, r in enumerate(reqs)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for (method, path, token, _, _), rep in zip(reqs, out):
            if not isinstance(rep, Reply):
                raise Failure("no reply to concurrent %s %s: %s: %s" % (
                    method, path, type(rep).__name__, rep))
            self.cur.append("(concurrent) %s %s as %s -> %d" % (
                method, path[:100], token, rep.status))
            self.check_reply(method, path, rep)
        return out

    def op_race(self):
        """The same thing asked several times at once: one winner."""
        rng = self.rng
        n = rng.randint(2, 4)
        kind = rng.choice(["claim", "idem", "cancel", "finish", "retrieve"])
        if kind == "claim":
            body = json.dumps({"wait": 0, "labels": ["fake"]})
            reps = self.parallel([("POST", "/api/v1/workers/claim", "gpu1",
                                   body, None)] * n)
            got = []
            for rep in reps:
                self.expect(rep, {200, 204}, "concurrent claim")
                if rep.status == 200:
                    got.append(rep.json())
            ids = [o["job"]["id"] for o in got]
            if len(set(ids)) != len(ids):
                raise Failure("concurrent claims handed out one job twice: "
                              "%s" % ids)
            for o in got:
                j = self.jobs.get(o["job"]["id"])
                if j is None or PENDING not in j.possible():
                    raise Failure("concurrent claim handed out %r" % (
                        j or o["job"]["id"]))
                if j.rank == RUNNING or j.flux:
                    j.lapsed = True
                j.rank = PENDING
                self.observe(j, o["job"], "concurrent claim")
                if j.abandoned is not None:
                    j.old_gens.append(j.abandoned)
                    j.abandoned = None
                j.held = Lease(o["lease"]["token"], o["log_offset"])
                j.flux = False
                j.fake_runs += 1
                with open(os.path.join(self.env.marks, j.id), "a") as f:
                    f.write("fake\n")
            return "race: %d claims -> %d jobs" % (n, len(got))
        if kind == "idem":
            who = rng.choice(USERS)
            key = "race-%d-%d" % (self.seed, rng.randint(0, 10 ** 9))
            mkind, shape, sub = self.new_job()
            body = json.dumps(sub)
            reps = self.parallel([("POST", "/api/v1/jobs", who, body,
                                   {"Idempotency-Key": key})] * n)
            made = [r for r in reps if r.status == 201]
            for r in reps:
                self.expect(r, {200, 201}, "concurrent submits with one "
                            "Idempotency-Key")
            ids = {r.json().get("id") for r in reps}
            if len(made) != 1 or len(ids) != 1:
                raise Failure("%d concurrent submits with one Idempotency-Key"
                              " made %d jobs, answered ids %s" % (
                                  n, len(made), sorted(ids)))
            j = self.add_job(made[0].json(), who, mkind, sub, shape)
            self.idem[(who, key)] = (body, j.id)
            return "race: %d submits with key %s -> %s" % (n, key, j.id[:8])
        if kind == "retrieve":
            j = self.pick_job(lambda k: not k.deleted and k.rank == FINAL)
            if j is None:
                return "race: no final job to fetch"
            reps = self.parallel([("GET", "/api/v1/jobs/%s" % j.id, j.owner,
                                   None, None)] * n)
            for r in reps:
                self.expect(r, {200}, "concurrent GET of a final job")
            self.observe_all(j, [r.json() for r in reps], "concurrent GET")
            if j.rank != RETRIEVED:
                raise Failure("concurrent GETs left %r" % j)
            return "race: %d GETs of final %s" % (n, j.id[:8])
        if kind == "cancel":
            j = self.pick_job(lambda k: not k.deleted)
            if j is None:
                return "race: no job"
            poss = j.possible()
            reqs = [rng.choice([
                ("DELETE", "/api/v1/jobs/%s" % j.id, j.owner, None, None),
                ("PUT", "/api/v1/jobs/%s" % j.id, j.owner,
                 '{"status": "cancelled"}', None),
                ("PUT", "/api/v1/jobs/%s" % j.id, j.owner,
                 '{"name": "raced"}', None)]) for _ in range(n)]
            reps = self.parallel(reqs)
            renamed = False
            for (m, _, _, body, _), r in zip(reqs, reps):
                if m == "DELETE":
                    want = {202, 204, 404, 409}
                elif "cancelled" in body:
                    want = {200, 404, 409}
                else:
                    want = {200, 404, 409}
                self.expect(r, want, "concurrent %s of %r (%s)" % (m, j, poss))
                if r.status == 204:
                    j.deleted = True
                    j.held = None
                elif r.status == 404 and not any(
                        x.status == 204 for x in reps):
                    raise Failure("concurrent %s of %r: 404 while nobody "
                                  "removed it" % (m, j))
                elif r.status in (200, 202) and body and "raced" in body:
                    renamed = True
                elif r.status in (200, 202) and r.json().get(
                        "cancel_requested"):
                    j.cancel_req = True
            if not j.deleted:
                self.observe_all(j, [r.json() for r in reps
                                     if r.status in (200, 202)],
                                 "concurrent change", names=not renamed)
            if renamed and not j.deleted:
                j.name = "raced"
            return "race: %s on %s -> %s" % (
                ",".join(q[0] for q in reqs), j.id[:8],
                ",".join(str(r.status) for r in reps))
        # finish: the same finish several times (a worker retrying)
        hs = self.held()
        if not hs:
            return "race: no lease to finish"
        j = rng.choice(hs)
        gen = j.held.gen
        alive = j.held.alive()
        body = json.dumps({"token": gen, "job": {
            "status": "cancelled" if j.cancel_req else "completed",
            "exit_code": 0}})
        reps = self.parallel([("POST", "/api/v1/workers/jobs/%s/finish" %
                               j.id, "gpu1", body, None)] * n)
        for r in reps:
            self.expect(r, {200} if alive else {200, 409},
                        "concurrent finish of %r" % j)
        j.old_gens.append(gen)
        j.held = None
        if not alive:
            j.flux = True
            j.lapsed = True
        self.observe_all(j, [r.json() for r in reps if r.status == 200],
                         "concurrent finish")
        return "race: %d finishes of %s -> %s" % (
            n, j.id[:8], ",".join(str(r.status) for r in reps))

    def op_clean(self):
        """jobspool-cleaner, one pass, while the others run: it removes
        exactly the retrieved jobs (--retrieved-age 0) and their logs,
        and with --idem-age 0 every Idempotency-Key record."""
        idem0 = self.rng.random() < 0.3
        gone = [j for j in self.jobs.values() if not j.deleted and
                j.rank == RETRIEVED]
        args = [os.path.join(self.bindir, "jobspool-cleaner"), "--spool",
                self.env.spool, "--retrieved-age", "0"]
        if idem0:
            args += ["--idem-age", "0"]
        time.sleep(0.01)
        try:
            r = subprocess.run(args, env=self.env.env, capture_output=True,
                               timeout=120)
        except subprocess.TimeoutExpired:
            raise Failure("jobspool-cleaner did not finish in 120 s")
        err = r.stderr.decode("utf-8", "replace")
        self.cur.append("jobspool-cleaner --retrieved-age 0%s -> %d" % (
            " --idem-age 0" if idem0 else "", r.returncode))
        if r.returncode != 0 or SAN_RE.search(err):
            raise Failure("jobspool-cleaner exited %d:\n%s%s" % (
                r.returncode, r.stdout.decode("utf-8", "replace")[-2000:],
                err[-6000:]))
        for j in gone:
            j.deleted = True
            for e in EXTS + ("log", "cancel", "held"):
                if os.path.exists(os.path.join(self.env.spool,
                                               j.id + "." + e)):
                    raise Failure("the cleaner left %s.%s of retrieved %r"
                                  % (j.id, e, j))
        if idem0:
            if self.idem_files():
                raise Failure("--idem-age 0 left idem/%s" % sorted(
                    self.idem_files())[0])
            self.idem = {}
        return "clean: %d retrieved jobs%s" % (
            len(gone), ", idem/" if idem0 else "")

    def op_hup(self):
        """SIGHUP (reload the configuration, the same) to the apiserver
        or the processor while requests are in flight."""
        rng = self.rng
        target = self.env.api if self.env.proc is None or \
            rng.random() < 0.7 else self.env.proc
        j = self.pick_job(lambda k: not k.deleted)
        reqs = [("GET", "/api/v1/jobs?limit=%d" % rng.randint(1, 50),
                 rng.choice(USERS), None, None) for _ in range(3)]
        if j is not None:
            reqs.append(("GET", "/api/v1/jobs/%s?peek=1" % j.id, j.owner,
                         None, None))
        timer = threading.Timer(rng.choice([0, 0.005, 0.02]),
                                target.send_signal, [signal.SIGHUP])
        timer.start()
        reps = self.parallel(reqs)
        timer.join()
        for (m, path, _, _, _), r in zip(reqs, reps):
            self.expect(r, {200}, "%s %s during a SIGHUP" % (m, path))
        if j is not None:
            self.observe(j, reps[-1].json(), "peek during a SIGHUP")
        return "hup %s during %d requests" % (
            "apiserver" if target is self.env.api else "processor",
            len(reqs))

    def op_healthz(self):
        rep = self.request("GET", "/healthz")
        self.expect(rep, {200}, "healthz")
        h = rep.json()
        if h.get("status") != "ok" or h.get("spool", {}).get("writable") \
                is not True or not isinstance(h.get("stalled"), int) or \
                not isinstance(h.get("pending"), int) or h["stalled"] > \
                h["pending"]:
            raise Failure("healthz %r" % rep.short())
        return "healthz -> 200"

    def op_sleep(self):
        t = self.rng.choice([0.05, 0.2, 0.5, 1.0])
        time.sleep(t)
        return "sleep %.2f" % t

    OPS = [("submit", 14), ("idem", 5), ("submit_bad", 6), ("batch", 4),
           ("batch_bad", 2), ("add", 2), ("get", 14), ("put", 12),
           ("delete", 5), ("log", 6), ("follow", 3), ("list", 8),
           ("list_bad", 2), ("burst", 2), ("batch_get", 3), ("claim", 6), ("claim_bad", 2),
           ("wlog", 6), ("heartbeat", 8), ("finish", 5), ("finish_bad", 3),
           ("stale", 4), ("abandon", 1), ("method", 3), ("path", 3),
           ("healthz", 1), ("sleep", 3), ("keepalive", 3), ("abort", 2),
           ("ws", 3), ("restart", 1), ("race", 4),
           ("clean", 1), ("hup", 1)]

    # --no also takes these: narrow avoidances to look past a known bug
    # (never in make check)
    AVOID = ["idem_diff", "put_cancel_final", "histogram", "nul_path",
             "log_gap", "put_null"]

    # ---- checkpoints ----
    def settle(self):
        """Finishes our leases and waits until the processor is idle and
        abandoned leases are recovered: no .wip, no runnable .pending."""
        for j in self.held():
            gen = j.held.gen
            st = "cancelled" if j.cancel_req else "completed"
            rep = self.req("POST", "/api/v1/workers/jobs/%s/finish" % j.id,
                           "gpu1", json.dumps({"token": gen, "job": {
                               "status": st, "exit_code": 0}}))
            self.expect(rep, self.lease_codes(j, 200), "finish at a "
                        "checkpoint")
            if rep.status == 200:
                j.old_gens.append(gen)
                j.held = None
                self.observe(j, rep.json(), "finish at a checkpoint")
            else:
                self.lost(j, rep)
        deadline = time.monotonic() + 60
        t_lapse = time.monotonic() + LEASE_S + 3   # recovered by then
        while True:
            byid = self.scan_spool()
            busy = []
            for jid, exts in byid.items():
                j = self.jobs[jid]
                if "pending" in exts and j.kind != "fake" and self.processor:
                    busy.append(j)
                # a lease left to lapse is recovered by the apiserver, but
                # one that restarted since recovers only once it handed out
                # a job (or a processor does, after its own --lease)
                elif "wip" in exts and (self.processor or not j.flux or
                                        time.monotonic() < t_lapse):
                    busy.append(j)
            if not busy:
                break
            self.env.alive()
            if time.monotonic() > deadline:
                raise Failure("the spool does not settle: %s\n"
                              "the processor's log:\n%s\n%s" % (
                                  busy[:5],
                                  self.env.tail(self.env.proc_log, 25),
                                  self.env.proc_state()))
            time.sleep(0.1)
        for j in self.jobs.values():
            if j.rank != RUNNING:
                j.flux = False

    def checkpoint(self):
        self.cur.append("checkpoint")
        self.settle()
        tmp = os.listdir(os.path.join(self.env.spool, "tmp"))
        if tmp:
            raise Failure("tmp/ is not empty at rest: %s" % tmp[:5])
        byid = self.scan_spool(at_rest=True)
        for name in os.listdir(self.env.spool):
            base, _, ext = name.partition(".")
            # the processor registry, pauses and token revocations are
            # documented sidecars of the spool (jobspool(5)), not jobs
            if name in ("tmp", "idem", "jobs.lock", "cleaner.lock",
                        "processors", "paused", "paused.d", "revoked") or (
                    base in byid and ext in EXT_RANK):
                continue
            if UUID_RE.match(base) and ext == "log" and base in byid:
                continue
            # a running job's claimed file under a second name (<id>.held,
            # jobspool(5)): only beside its .wip
            if UUID_RE.match(base) and ext in ("cancel", "held") and \
                    base in byid and "wip" in byid[base]:
                continue
            raise Failure("at rest, the spool holds %s, which is no job's "
                          "file" % name)
        for who in USERS:
            out = self.list_all(who, {}, self.rng.choice([None, 5, 1000]))
            want = {j.id: j for j in self.visible(who)}
            shown = [o.get("id") for o in out]
            if set(shown) != set(want):
                raise Failure("at rest, list as %s: missing %s, extra %s" % (
                    who, sorted(set(want) - set(shown)),
                    sorted(set(shown) - set(want))))
            for o in out:
                j = want[o["id"]]
                self.observe(j, o, "listing at rest")
                ext = byid[j.id][0]
                fr = EXT_RANK[ext]
                if fr != j.rank:
                    raise Failure("at rest, %r is %s in the spool but %s in "
                                  "the listing" % (j, ext, o.get("status")))
        for j in self.jobs.values():
            self.check_runs(j)
            if not j.deleted:
                self.check_log(j)
        self.metrics()

    def check_runs(self, j):
        """A job runs at most once outside retries, lease recovery and
        give-backs: one line in marks/<id> per run."""
        try:
            with open(os.path.join(self.env.marks, j.id)) as f:
                runs = len(f.read().splitlines())
        except FileNotFoundError:
            runs = 0
        if j.deleted:
            return
        if runs > j.attempts + j.gave_back + j.shutdown:
            raise Failure("%r ran %d times with attempts %d (%d given back, "
                          "%d processor restarts)" % (
                              j, runs, j.attempts, j.gave_back, j.shutdown))
        allowed = 1 + j.retries + j.gave_back + j.requeued + j.shutdown
        if not j.lapsed and runs > allowed:
            raise Failure("%r ran %d times (retries %d, give-backs %d, no "
                          "lease lapsed)" % (j, runs, j.retries,
                                             j.gave_back + j.requeued))
        if j.kind == "builtin" and runs > j.fake_runs:
            raise Failure("builtin %r left run marks" % j)

    # ---- the run ----
    def run(self):
        """0 if every step passed; prints the failure otherwise."""
        weights = [(n, w) for n, w in self.OPS if n not in self.skip]
        names = [n for n, _ in weights]
        cum = [w for _, w in weights]
        self.env = Env(self.bindir, self.processor, self.keep)
        t0 = time.monotonic()
        try:
            self.metrics()
            for self.step_no in range(1, self.nsteps + 1):
                if self.deadline is not None and \
                        time.monotonic() > self.deadline:
                    self.nsteps = self.step_no = self.step_no - 1
                    break
                self.cur = []
                op = self.rng.choices(names, cum)[0]
                desc = op + " (failed here)"
                try:
                    desc = getattr(self, "op_" + op)()
                    self.env.alive()
                    self.scan_spool()
                    self.metrics()
                    if self.step_no % self.check_every == 0:
                        self.checkpoint()
                        desc += "; checkpoint"
                finally:
                    self.log.append("%4d %s" % (self.step_no, desc))
                    if self.verbose:
                        print(self.log[-1], flush=True)
            self.step_no += 1
            self.cur = []
            self.checkpoint()
            problems = self.env.stop()
            if problems:
                raise Failure("; ".join(problems))
        except Failure as f:
            self.report(str(f))
            return 1
        finally:
            self.env.cleanup()
        print("seed %d: %d steps passed (%d jobs, %.1fs)" % (
            self.seed, self.nsteps, len(self.jobs), time.monotonic() - t0),
            flush=True)
        return 0

    def report(self, msg):
        out = ["FAIL seed %d at step %d: %s" % (self.seed, self.step_no, msg),
               "steps:"]
        out += ["  " + s for s in self.log[-60:]]
        if len(self.log) > 60:
            out.insert(2, "  ... (%d earlier steps)" % (len(self.log) - 60))
        out.append("requests of the failing step:")
        if len(self.cur) > 25:
            out.append("  ... (%d earlier requests)" % (len(self.cur) - 25))
        out += ["  " + s for s in self.cur[-25:]]
        try:
            problems = self.env.stop()
        except Exception:
            problems = []
        for p in problems:
            out.append("at stop: " + p[:4000])
        out.append("apiserver log (tail):\n" + Env.tail(self.env.api_log, 15))
        if self.env.proc is not None:
            out.append("processor log (tail):\n" + Env.tail(
                self.env.proc_log, 10))
        out.append("replay: python3 tests/stateful/stateful.py --bin %s "
                   "--seed %d --steps %d%s%s" % (
                       self.bindir, self.seed, min(self.step_no, self.nsteps),
                       "" if self.processor else " --no-processor",
                       "".join(" --no " + s for s in sorted(self.skip))))
        print("\n".join(out), flush=True)


def main():
    ap = argparse.ArgumentParser(description="stateful random tester of "
                                 "jobspool (see the comment at the top)")
    ap.add_argument("--bin", default=os.environ.get("JS_BIN", "build/san"),
                    help="directory of the built programs (default $JS_BIN "
                    "or build/san)")
    ap.add_argument("--seed", type=int, help="one seed")
    ap.add_argument("--seeds", help="comma-separated seeds")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--minutes", type=float, help="random seeds for this "
                    "long (soak)")
    ap.add_argument("--check-every", type=int, default=100)
    ap.add_argument("--no", action="append", default=[], metavar="OP",
                    help="leave out an operation (%s), or, to look past a "
                    "known bug, one of %s" % (", ".join(
                        n for n, _ in Tester.OPS), ", ".join(Tester.AVOID)))
    ap.add_argument("--no-processor", action="store_true",
                    help="no jobspool-processor: only the fake worker runs "
                    "jobs (the run follows the seed more closely)")
    ap.add_argument("--keep-going", action="store_true",
                    help="with --minutes or --seeds: go on after a failure")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary spool and logs")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    # SIGTERM (and SIGINT, even when started in the background) end the
    # run through its cleanup: the programs it started are killed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for n in a.no:
        if n not in dict(Tester.OPS) and n not in Tester.AVOID:
            ap.error("unknown operation %r" % n)
    bindir = os.path.abspath(a.bin)
    if not os.access(os.path.join(bindir, "jobspool-apiserver"), os.X_OK):
        ap.error("no jobspool-apiserver in %s (build it, or give --bin)" %
                 bindir)

    def one(seed, deadline=None):
        return Tester(seed, a.steps, bindir, not a.no_processor, a.no,
                      a.check_every, a.keep, a.verbose, deadline).run()

    failed = 0
    if a.minutes is not None:
        end = time.monotonic() + a.minutes * 60
        runs = 0
        while time.monotonic() < end:
            seed = random.SystemRandom().randrange(1, 2 ** 31)
            runs += 1
            if one(seed, end):
                failed += 1
                if not a.keep_going:
                    break
        print("soak: %d seeds, %d failed" % (runs, failed))
    else:
        seeds = [a.seed] if a.seed is not None else []
        if a.seeds:
            seeds += [int(s) for s in a.seeds.split(",") if s]
        if not seeds:
            seeds = [random.SystemRandom().randrange(1, 2 ** 31)]
        for s in seeds:
            if one(s):
                failed += 1
                if not a.keep_going:
                    break
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
