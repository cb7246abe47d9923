#!/usr/bin/env python3
"""Writes the seed inputs of the handler-level harness (tests/fuzz/fuzz_api.c)
into tests/fuzz/corpus/api/seed-*: every route and method against a job in
every state (pending, running locally and remotely, completed, failed,
cancelled, retrieved, absent, another token's, an admin's view, a hand-written
file that is not a job), the worker routes with right and stale lease tokens,
the error answers (401, 403, 404, 405, 413, 415), and the ways a request can
arrive (chunked, HTTP/1.0, 100-continue, WebSocket).  The input format is
described at the top of fuzz_api.c.  Run: python3 tests/fuzz/gen_api_seeds.py
(seeds found by libFuzzer live beside them under other names)."""
import hashlib
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "api")

JOB = '{"command":["echo","hi"],"name":"n1","metadata":{"k":[1,2]}}'
STATES = {
    "pending": ["!new a"],
    "running": ["!new a", "!claim 0"],
    "remote": ["!new a", "!rclaim 0"],
    "completed": ["!new a", "!finish 0 c", "!log 0\nline one\nline two\n"],
    "failed": ["!new a", "!log 0\npartial", "!finish 0 f"],
    "cancelled": ["!new a", "!cancel 0"],
    "cancelreq": ["!new a", "!claim 0", "!cancel 0"],
    "retrieved": ["!new a", "!finish 0 c", "!retrieve 0"],
    "requeued": ["!new a", "!claim 0", "!requeue 0"],
    "expired": ["!new a", "!rclaim 0", "!expire 0"],
    "absent": [],
    "others": ["!new b"],
    "badfile": ["!write n pending\n{\"command\": 5}"],
    "badjson": ["!write n completed\nnot json at all"],
}


def req(who, method, target, headers=(), body=None, flags=""):
    s = "%s%s %s %s" % (who, flags, method, target)
    for h in headers:
        s += "\n" + h
    if body is not None:
        s += "\n\n" + body
    return s


def job_target(state):
    return "@z" if state == "absent" else "@0"


def seeds():
    out = {}

    def add(name, steps):
        out[name] = "\n%%\n".join(steps)

    ct = ["Content-Type: application/json"]
    # every job route against every state, as the owner, another user and
    # the admin
    for st, setup in STATES.items():
        t = job_target(st)
        add("read-%s" % st, setup + [
            req("a", "GET", "/api/v1/jobs/%s?peek=1" % t),
            req("r", "HEAD", "/api/v1/jobs/" + t),
            req("b", "GET", "/api/v1/jobs/" + t),
            req("r", "GET", "/api/v1/jobs"),
            req("a", "GET", "/api/v1/jobs/%s/log" % t),
            req("a", "GET", "/api/v1/jobs/%s/log?offset=5" % t),
            req("a", "HEAD", "/api/v1/jobs/%s/log" % t),
            req("a", "GET", "/api/v1/job/" + t),
            req("a", "GET", "/api/v1/jobs/" + t),
            req("a", "GET", "/api/v1/jobs/" + t)])
        add("write-%s" % st, setup + [
            req("b", "DELETE", "/api/v1/jobs/" + t),
            req("b", "PUT", "/api/v1/jobs/" + t, ct, '{"name":"x"}'),
            req("a", "PUT", "/api/v1/jobs/" + t, ct,
                '{"name":"renamed","description":"d","metadata":{"x":null}}'),
            req("a", "PUT", "/api/v1/jobs/" + t, ct, '{"status":"completed"}'),
            req("a", "PUT", "/api/v1/jobs/" + t, ct, '{}'),
            req("a", "DELETE", "/api/v1/jobs/" + t),
            req("r", "DELETE", "/api/v1/jobs/" + t)])
        add("stream-%s" % st, setup + [
            req("a", "GET", "/api/v1/jobs/%s/log?follow=1" % t),
            req("a", "GET", "/api/v1/jobs/%s/log?ws=1" % t,
                ["Connection: Upgrade", "Upgrade: websocket",
                 "Sec-WebSocket-Version: 13",
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])])
        add("worker-%s" % st, setup + [
            req("w", "POST", "/api/v1/workers/jobs/%s/heartbeat" % t, ct,
                '{"token":@t}'),
            req("w", "POST", "/api/v1/workers/jobs/%s/log?token=@t&offset=0" % t,
                ["Content-Type: application/octet-stream"], "out 1\nout 2\n"),
            req("w", "POST", "/api/v1/workers/jobs/%s/finish" % t, ct,
                '{"token":@t,"job":{"status":"completed","exit_code":0,"result":7}}'),
            req("a", "GET", "/api/v1/jobs/%s/log" % t)])
    # PUT cancel in every state (a final job's once read after free)
    for st in STATES:
        add("put-cancel-%s" % st, STATES[st] + [
            req("a", "PUT", "/api/v1/jobs/" + job_target(st), ct, '{"status":"cancelled"}')])
    # the remote worker's whole life of a job
    add("worker-life", [
        req("a", "POST", "/api/v1/jobs", ct, '{"shell":"echo hi","labels":["gpu"]}'),
        req("w", "POST", "/api/v1/workers/claim", ct, '{"wait":0,"labels":["gpu"],"worker":"box-1"}'),
        req("w", "POST", "/api/v1/workers/jobs/@0/heartbeat", ct, '{"token":@t}'),
        req("w", "POST", "/api/v1/workers/jobs/@0/log?token=@t&offset=0", [], "hello\n", flags="c"),
        req("w", "POST", "/api/v1/workers/jobs/@0/log?token=@t&offset=99", [], "gap\n"),
        req("a", "DELETE", "/api/v1/jobs/@0"),
        req("w", "POST", "/api/v1/workers/jobs/@0/heartbeat", ct, '{"token":@t}'),
        req("w", "POST", "/api/v1/workers/jobs/@0/finish", ct,
            '{"token":@t,"job":{"status":"cancelled","exit_code":null,"error":"asked"}}'),
        req("w", "POST", "/api/v1/workers/jobs/@0/finish", ct,
            '{"token":@t,"job":{"status":"cancelled"}}'),
        req("a", "GET", "/api/v1/jobs/@0/log"),
    ])
    add("worker-giveback", [
        "!new a",
        req("w", "POST", "/api/v1/workers/claim", ct, '{"wait":0}'),
        req("w", "POST", "/api/v1/workers/jobs/@0/finish", ct,
            '{"token":@t,"give_back":true,"job":{"status":"pending"}}'),
        req("w", "POST", "/api/v1/workers/jobs/@0/heartbeat", ct, '{"token":@t}'),
        req("w", "POST", "/api/v1/workers/claim"),
    ])
    add("worker-stale", [
        "!new a", "!rclaim 0", "!expire 0",
        req("w", "POST", "/api/v1/workers/jobs/@0/heartbeat", ct, '{"token":@t}'),
        req("w", "POST", "/api/v1/workers/jobs/@0/log?token=@t&offset=0", [], "late\n"),
        req("w", "POST", "/api/v1/workers/jobs/@0/finish", ct,
            '{"token":@t,"job":{"status":"failed","exit_code":3}}'),
        req("w", "POST", "/api/v1/workers/claim", ct, '{"wait":0.01}'),
    ])
    add("worker-bad", [
        req("w", "POST", "/api/v1/workers/claim", ct, '{"wait":-1}'),
        req("w", "POST", "/api/v1/workers/claim", ct, '{"labels":["a b"]}'),
        req("w", "POST", "/api/v1/workers/claim", ct, '{"worker":""}'),
        req("w", "POST", "/api/v1/workers/jobs/nope/heartbeat", ct, '{"token":1}'),
        req("w", "POST", "/api/v1/workers/jobs/@z/heartbeat", ct, '{"token":0}'),
        req("w", "POST", "/api/v1/workers/jobs/@z/log?offset=0", [], "x"),
        req("w", "POST", "/api/v1/workers/jobs/@z/finish", ct, '{"token":1,"job":{"status":"odd"}}'),
        req("a", "POST", "/api/v1/workers/claim", ct, '{"wait":0}'),
        req("n", "POST", "/api/v1/workers/claim", ct, '{"wait":0}'),
    ])
    # a lease whose .wip an admin overwrote with something that is not a
    # job: 409 (no lease holds), not 500
    add("worker-badwip", [
        "!new a", "!rclaim 0", "!write 0 wip\n{\"status\":",
        req("w", "POST", "/api/v1/workers/jobs/@0/heartbeat", ct, '{"token":@t}'),
        req("w", "POST", "/api/v1/workers/jobs/@0/log?token=@t&offset=0", [], "x\n"),
        req("w", "POST", "/api/v1/workers/jobs/@0/finish", ct,
            '{"token":@t,"job":{"status":"failed","exit_code":1}}'),
        req("a", "GET", "/api/v1/jobs/@0"),
        req("a", "DELETE", "/api/v1/jobs/@0"),
        req("r", "GET", "/api/v1/jobs/@0/log?follow=1"),
    ])
    # what a claim passes over: a hand-written pending file that is not a
    # job (failed at the claim), a delayed job, labels the worker lacks
    add("worker-claims", [
        "!write n pending\n{\"command\": 5}",
        req("a", "POST", "/api/v1/jobs", ct, '{"command":["true"],"max_attempts":1}'),
        req("a", "POST", "/api/v1/jobs", ct, '{"command":["true"],"labels":["gpu"]}'),
        req("a", "POST", "/api/v1/jobs", ct, '{"command":["true"],"priority":9}'),
        req("w", "POST", "/api/v1/workers/claim", ct, '{"wait":0.05,"labels":["cpu"]}'),
        req("w", "POST", "/api/v1/workers/claim", ct, '{"wait":0}'),
        req("r", "GET", "/api/v1/jobs/@0"),
        req("w", "POST", "/api/v1/workers/jobs/@1/finish", ct,
            '{"token":@t,"job":{"status":"completed","exit_code":"x"}}'),
        req("w", "POST", "/api/v1/workers/jobs/@1/finish", ct,
            '{"token":@t,"job":{"status":"completed","attempts":-1}}'),
        req("w", "POST", "/api/v1/workers/jobs/@1/finish", ct,
            '{"token":@t,"give_back":1,"job":{"status":"completed"}}'),
        req("w", "POST", "/api/v1/workers/jobs/@1/finish", ct,
            '{"token":@t,"job":{"status":"completed","exit_code":0,"started_at":"2026-01-01T00:00:00Z","duration_ms":5,"log_truncated":false}}'),
        req("w", "POST", "/api/v1/workers/jobs/@1/finish", ct,
            '{"token":@t,"job":{"status":"completed","exit_code":0}}'),
        req("w", "POST", "/api/v1/workers/jobs/@1/finish", ct,
            '{"token":999,"job":{"status":"completed"}}'),
    ])
    # deferred requests (flag d): a follow that sees its job write and end,
    # a WebSocket likewise, a claim woken by a submission, a batch follow
    ws = ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]
    add("deferred-follow", ["!new a", "!claim 0",
                            req("a", "GET", "/api/v1/jobs/@0/log?follow=1&offset=2", flags="ddd"),
                            "!log 0\nline 1\n", "!log 0\nline 2\npartial",
                            "!finish 0 c",
                            req("a", "GET", "/api/v1/jobs/@0/log?ws=1", ws, flags="dd"),
                            req("a", "GET", "/api/v1/jobs/@0")])
    add("deferred-ws", ["!new a", "!rclaim 0",
                        req("a", "GET", "/api/v1/jobs/@0/log?ws=1", ws, flags="ddd"),
                        req("w", "POST", "/api/v1/workers/jobs/@0/log?token=@t&offset=0", [],
                            "one\ntwo\n"),
                        req("w", "POST", "/api/v1/workers/jobs/@0/heartbeat", ct, '{"token":@t}'),
                        req("w", "POST", "/api/v1/workers/jobs/@0/finish", ct,
                            '{"token":@t,"job":{"status":"failed","exit_code":2}}')])
    add("deferred-claim", [req("w", "POST", "/api/v1/workers/claim", ct, '{"wait":5}', flags="d"),
                           req("a", "POST", "/api/v1/jobs", ct, JOB),
                           req("a", "DELETE", "/api/v1/jobs/@0", flags="d"),
                           req("w", "POST", "/api/v1/workers/jobs/@0/heartbeat", ct,
                               '{"token":@t}')])
    add("deferred-batch", [
        req("a", "POST", "/api/v1/batches", ct, '{"jobs":[{"command":["a"]},{"command":["b"]}]}'),
        req("a", "GET", "/api/v1/batches/@c/log?follow=1", flags="dddd"),
        "!log 0\nfrom a\n", "!finish 0 c", "!log 1\nfrom b\n", "!finish 1 f",
        req("a", "GET", "/api/v1/batches/@c?logs=1")])
    # an upload past the end of a log that does not exist yet: 416, and no
    # empty log is left behind (a refused request changes nothing)
    add("wlog-gap", ["!new a", "!rclaim 0",
                     req("w", "POST", "/api/v1/workers/jobs/@0/log?token=@t&offset=5", [], "late\n"),
                     req("w", "POST", "/api/v1/workers/jobs/@0/log?token=@t&offset=0", [], ""),
                     req("w", "POST", "/api/v1/workers/jobs/@0/log?token=@t&offset=1", [], "x"),
                     req("a", "GET", "/api/v1/jobs/@0/log")])
    add("claim-wait", ["!new b", "!claim 0",
                       req("w", "POST", "/api/v1/workers/claim")])
    # submissions
    subs = {
        "command": JOB,
        "shell": '{"shell":"echo hi | tr a-z A-Z","env":{"K":"V"},"cwd":"/tmp","stdin":"in","timeout":30}',
        "container": '{"container":{"image":"localhost/busybox:latest","command":["sh","-c","echo hi"],"environment":{"K":"V"}}}',
        "docker": '{"docker":{"image":"busybox","command":["true"]}}',
        "limits": '{"command":["true"],"limits":{"cpu":60,"memory":"512M","nofile":256},"max_attempts":3,"retries":1,"priority":5}',
        "delay": '{"command":["true"],"delay":"5s","labels":["gpu","big"]}',
        "run-at": '{"command":["true"],"run_at":"2030-01-01T00:00:00Z"}',
        "builtin": '{"builtin":"add","args":[1,2]}',
        "both": '{"command":["true"],"shell":"true"}',
        "empty": '{"command":[]}',
        "types": '{"command":"true","timeout":"x","priority":1e400}',
        "unknown": '{"command":["true"],"status":"completed","id":"x"}',
        "not-object": '[1,2,3]',
        "bad-json": '{"command":',
        "null-name": '{"command":["true"],"name":null}',
        "nul": '{"command":["a\\u0000b"],"name":"\\u0000"}',
    }
    for n, b in subs.items():
        add("submit-%s" % n, [req("a", "POST", "/api/v1/jobs", ct, b),
                              req("a", "GET", "/api/v1/jobs/@0")])
    add("submit-idem", [
        req("a", "POST", "/api/v1/jobs", ct + ["Idempotency-Key: k-1"], JOB),
        req("a", "POST", "/api/v1/jobs", ct + ["Idempotency-Key: k-1"], JOB),
        req("a", "POST", "/api/v1/jobs", ct + ["Idempotency-Key: k-1"], '{"command":["other"]}'),
        req("b", "POST", "/api/v1/jobs", ct + ["Idempotency-Key: k-1"], JOB),
        req("a", "POST", "/api/v1/jobs", ct + ["Idempotency-Key: "], JOB),
    ])
    add("submit-idem-gone", [
        req("a", "POST", "/api/v1/jobs", ct + ["Idempotency-Key: gone"], JOB),
        "!finish 0 c", "!rm 0",
        req("a", "POST", "/api/v1/jobs", ct + ["Idempotency-Key: gone"], JOB),
    ])
    add("submit-chunked", [req("a", "POST", "/api/v1/jobs", ct, JOB, flags="c")])
    add("submit-http10", [req("a", "POST", "/api/v1/jobs", ct, JOB, flags="0"),
                          req("a", "GET", "/api/v1/jobs/@0", flags="0")])
    add("submit-expect", [req("a", "POST", "/api/v1/jobs", ct + ["Expect: 100-continue"], JOB)])
    add("submit-formtype", [req("a", "POST", "/api/v1/jobs",
                                ["Content-Type: application/x-www-form-urlencoded"], JOB)])
    add("submit-texttype", [req("a", "POST", "/api/v1/jobs", ["Content-Type: text/plain"], JOB)])
    add("submit-small", ["!conf small", req("a", "POST", "/api/v1/jobs", ct, JOB),
                         req("a", "POST", "/api/v1/jobs", ct, JOB, flags="c")])
    add("submit-open", ["!conf open", req("n", "POST", "/api/v1/jobs", ct, JOB),
                        req("n", "GET", "/api/v1/jobs"),
                        req("n", "POST", "/api/v1/workers/claim", ct, '{"wait":0}')])
    add("add", [req("a", "POST", "/api/v1/add/2/40"),
                req("a", "GET", "/api/v1/job/@0"),
                req("a", "POST", "/api/v1/add/9223372036854775807/1"),
                req("a", "POST", "/api/v1/add/x/1"),
                req("a", "GET", "/api/v1/add/1/2")])
    # listing
    add("list", ["!new a", "!new a", "!finish 1 f", "!new b", "!new r",
                 req("a", "GET", "/api/v1/jobs?status=pending,failed&limit=1"),
                 req("a", "GET", "/api/v1/jobs?limit=1&after=1-@0"),
                 req("a", "GET", "/api/v1/jobs?status=retrieved&name=fz"),
                 req("r", "GET", "/api/v1/jobs?batch=@c&limit=1000"),
                 req("a", "GET", "/api/v1/jobs?status=bogus"),
                 req("a", "GET", "/api/v1/jobs?limit=0"),
                 req("a", "GET", "/api/v1/jobs?after=zz"),
                 req("a", "HEAD", "/api/v1/jobs")])
    # batches
    add("batch-json", [
        req("a", "POST", "/api/v1/batches", ct,
            '{"jobs":[{"command":["echo","1"]},{"shell":"echo 2","name":"two"}]}'),
        "!finish 0 c", "!log 0\nfirst\n",
        req("a", "GET", "/api/v1/batches/@c"),
        req("a", "GET", "/api/v1/batches/@c?logs=1"),
        req("a", "GET", "/api/v1/batches/@c/log"),
        req("b", "GET", "/api/v1/batches/@c"),
        req("a", "GET", "/api/v1/jobs?batch=@c"),
    ])
    add("batch-ndjson", [
        req("a", "POST", "/api/v1/batches", ["Content-Type: application/x-ndjson"],
            '{"command":["echo","1"]}\n\n{"shell":"echo 2"}\n', flags="c"),
        "!finish 1 c", "!finish 0 f",
        req("a", "GET", "/api/v1/batches/@c/log?follow=1"),
    ])
    add("batch-follow-pending", [
        req("a", "POST", "/api/v1/batches", ct, '{"jobs":[{"command":["true"]}]}'),
        req("a", "GET", "/api/v1/batches/@c/log?follow=1"),
    ])
    add("batch-bad", [
        req("a", "POST", "/api/v1/batches", ct, '{"jobs":[]}'),
        req("a", "POST", "/api/v1/batches", ct, '{"jobs":[{"command":[]}]}'),
        req("a", "POST", "/api/v1/batches", ct, '{"jobs":{}}'),
        req("a", "POST", "/api/v1/batches", ["Content-Type: application/x-ndjson"],
            '{"command":["a"]}\nnot json\n'),
        req("a", "GET", "/api/v1/batches/nope"),
        req("a", "GET", "/api/v1/batches/@z/log?follow=1"),
    ])
    # the open routes and the shape of errors
    add("health-metrics", [req("n", "GET", "/healthz"), req("n", "HEAD", "/healthz"),
                           req("n", "GET", "/metrics"), req("n", "POST", "/metrics")])
    add("auth", [req("n", "GET", "/api/v1/jobs"), req("x", "GET", "/api/v1/jobs"),
                 req("a", "GET", "/api/v1/jobs", ["Authorization: Basic YTpi"]),
                 req("a", "GET", "/api/v1/jobs", ["Authorization: Bearer"]),
                 req("n", "GET", "/nowhere")])
    add("methods", [req("a", "PATCH", "/api/v1/jobs"), req("a", "DELETE", "/api/v1/jobs"),
                    req("a", "POST", "/api/v1/jobs/@z/log"), req("a", "OPTIONS", "/api/v1/batches"),
                    req("a", "get", "/api/v1/jobs"), req("a", "GET", "/api/v1/batches")])
    add("paths", [req("a", "GET", "/api/v1/jobs/../../etc/passwd"),
                  req("a", "GET", "/api/v1/jobs/@0%00zzz"),
                  req("a", "GET", "/api/v1/jobs/%2e%2e"),
                  req("a", "GET", "//api//v1/jobs"),
                  req("a", "GET", "/api/v1/jobs/@z/"),
                  req("a", "GET", "/api/v1/jobs/a/b/c/d/e/f/g"),
                  req("a", "GET", "/api/v1/jobs?" + "x=1&" * 20)])
    # error messages quoting bytes that are not UTF-8, or cutting a
    # character in two: still a JSON error, not a closed connection
    add("utf8", [req("a", "GET", "/api/v1/jobs?status=pendi%EEg,failed"),
                 req("a", "GET", "/api/v1/jobs?status=" + "%C3%A9" * 40),
                 req("a", "GET", "/api/v1/jobs?status=%F0%9F%98"),
                 req("a", "GET", "/api/v1/jobs?status=%ED%A0%80"),
                 req("w", "POST", "/api/v1/workers/jobs/%E9t%E9/heartbeat", ct,
                     '{"token":1}'),
                 req("a", "GET", "/api/v1/jobs/%C3%A9%C3/log")])
    # HEAD of a log follow on a kept-alive connection: headers only (a
    # chunked terminator after them broke the next answer)
    add("head-follow", ["!new a", "!log 0\nabc\n",
                        req("a", "HEAD", "/api/v1/jobs/@0/log?follow=1"),
                        req("a", "GET", "/healthz"),
                        req("a", "HEAD", "/api/v1/jobs/@0/log?ws=1",
                            ["Connection: Upgrade", "Upgrade: websocket",
                             "Sec-WebSocket-Version: 13",
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]),
                        req("a", "GET", "/healthz", flags="k"),
                        "!finish 0 c",
                        req("a", "HEAD", "/api/v1/jobs/@0/log?follow=1"),
                        req("a", "GET", "/healthz")])
    add("ws-frames", ["!new a", "!log 0\na\nb\n",
                      req("a", "GET", "/api/v1/jobs/@0/log?ws",
                          ["Connection: keep-alive, Upgrade", "Upgrade: websocket",
                           "Sec-WebSocket-Version: 13",
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="],
                          "\x89\x80\x00\x00\x00\x00\x81\x83\x01\x02\x03\x04abc", flags="W")])
    add("ws-bad", ["!new a",
                   req("a", "GET", "/api/v1/jobs/@0/log?ws"),
                   req("a", "GET", "/api/v1/jobs/@0/log?ws",
                       ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 8"]),
                   req("a", "GET", "/api/v1/jobs/@0/log?ws",
                       ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
                        "Sec-WebSocket-Key: short"])])
    add("keepalive", [req("a", "POST", "/api/v1/jobs", ct, JOB),
                      req("a", "GET", "/api/v1/jobs/@0", ["Connection: close"]),
                      req("a", "GET", "/api/v1/jobs/@0", flags="k")])
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        if old.startswith("seed-"):
            os.unlink(os.path.join(OUT, old))
    s = seeds()
    for name, text in sorted(s.items()):
        with open(os.path.join(OUT, "seed-" + name), "wb") as f:
            f.write(text.encode("latin-1"))
    print("%d seeds in %s" % (len(s), OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
