#!/usr/bin/env python3
"""A stand-in for a webhook and for the Telegram Bot API (proc_notify.sh).

notify_server.py DIR [PORT]: listens on 127.0.0.1 (PORT, or any free one
written into DIR/port once listening).  Each POST is answered with the
next code of DIR/codes (whitespace-separated, consumed one per request;
200 when the file is empty or missing; "429:N" is a 429 asking for a
retry after N seconds) and recorded as one JSON line in
DIR/requests: {"n", "path", "content_type", "code", "body"}, appended
after the answer is sent.  A 429 carries the Bot API's
{"parameters": {"retry_after": 1}} (or N).
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

DIR = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
COUNT = [0]
RETRY_AFTER = [1]


def next_code():
    path = os.path.join(DIR, "codes")
    try:
        with open(path) as f:
            codes = f.read().split()
    except FileNotFoundError:
        codes = []
    if not codes:
        return 200
    with open(path + ".tmp", "w") as f:
        f.write(" ".join(codes[1:]))
    os.rename(path + ".tmp", path)
    code, _, after = codes[0].partition(":")
    RETRY_AFTER[0] = int(after) if after else 1
    return int(code)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        code = next_code()
        if code == 429:
            answer = {"ok": False, "error_code": 429,
                      "description": "Too Many Requests: retry after %d"
                      % RETRY_AFTER[0],
                      "parameters": {"retry_after": RETRY_AFTER[0]}}
        elif code >= 300:
            answer = {"ok": False, "error_code": code,
                      "description": "stand-in says %d" % code}
        else:
            answer = {"ok": True, "result": {}}
        data = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        COUNT[0] += 1
        rec = {"n": COUNT[0], "path": self.path, "code": code,
               "content_type": self.headers.get("Content-Type"),
               "body": body}
        with open(os.path.join(DIR, "requests"), "a") as f:
            f.write(json.dumps(rec) + "\n")

    def log_message(self, fmt, *args):
        pass


def main():
    srv = HTTPServer(("127.0.0.1", PORT), Handler)
    with open(os.path.join(DIR, "port.tmp"), "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
