#!/bin/sh
# jobspool-processor's Telegram notifier when the Bot API's answer holds
# the bot token: a stand-in API refuses every sendMessage with a 400 whose
# description repeats the request's path (/bot<TOKEN>/sendMessage) twice;
# the processor logs the refusal with each occurrence replaced by
# "<token>", gives the notification up, and the token is in no log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

command -v python3 >/dev/null 2>&1 ||
	skip_suite install "python3 is not installed (the stand-in server)"
proc_setup
TOKEN="987654:redact-me-$$-XyZ"
printf '%s\n' "$TOKEN" >"$WORK/bot.token"
mkdir "$WORK/srv"
cat >"$WORK/tg.py" <<'EOF'
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

D = sys.argv[1]


class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = json.dumps({"ok": False, "error_code": 400,
                           "description": "no bot %s or %s"
                           % (self.path, self.path)}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with open(os.path.join(D, "paths"), "a") as f:
            f.write(self.path + "\n")

    def log_message(self, *args):
        pass


s = HTTPServer(("127.0.0.1", 0), H)
with open(os.path.join(D, "port.tmp"), "w") as f:
    f.write(str(s.server_address[1]))
os.rename(os.path.join(D, "port.tmp"), os.path.join(D, "port"))
s.serve_forever()
EOF
python3 "$WORK/tg.py" "$WORK/srv" &
T_PIDS="$T_PIDS $!"
wait_until 20 test -s "$WORK/srv/port" || { fail "stand-in Bot API starts"; finish; }
SPORT=$(cat "$WORK/srv/port")

start_proc --notify-telegram 4242 --notify-telegram-token-file "$WORK/bot.token" \
	--notify-telegram-api "http://127.0.0.1:$SPORT/"
id=$(submit '{"command":["true"]}')
check "the job ends" wait_final 20 "$id"
check "the refusal is logged" wait_until 20 \
	grep -q "job $id: telegram notification refused (HTTP 400: " "$PROC_LOG"
eq "the stand-in was asked on the token's path (its answer holds it)" \
	"$(cat "$WORK/srv/paths")" "/bot$TOKEN/sendMessage"
check "  each occurrence of the token in the answer is replaced by <token>" grep -qF \
	'no bot /bot<token>/sendMessage or /bot<token>/sendMessage"}); given up' "$PROC_LOG"
check "  the token is in no log" sh -c "! grep -rqF -- '$TOKEN' '$WORK'/proc.*.log"
check "  nor in the spool" sh -c "! grep -rqF -- '$TOKEN' '$SPOOL'"
check "  the notification is given up (no record left)" \
	wait_until 10 sh -c "[ -z \"\$(ls '$SPOOL/notify' 2>/dev/null | grep '\\.json\$')\" ]"
stop_proc "$PROC_PID"
proc_check_logs
finish
