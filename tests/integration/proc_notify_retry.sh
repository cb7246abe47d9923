#!/bin/sh
# jobspool-processor's notifiers and a server asking to wait (the Bot
# API's 429 with "parameters": {"retry_after": N}, here for a webhook):
# the next try waits what was asked, longer than the notifier's own 1 s
# backoff, but never longer than --notify-retry-max.  notify_server.py
# stands in for the server ("429:N" answers a 429 with retry_after N).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

command -v python3 >/dev/null 2>&1 ||
	skip_suite install "python3 is not installed (the stand-in server)"
proc_setup
SRV_DIR="$WORK/srv"
mkdir "$SRV_DIR"
python3 "$(dirname "$0")/notify_server.py" "$SRV_DIR" &
T_PIDS="$T_PIDS $!"
wait_until 20 test -s "$SRV_DIR/port" || { fail "stand-in server starts"; finish; }
HOOK="http://127.0.0.1:$(cat "$SRV_DIR/port")/hook"
nreq() { if [ -f "$SRV_DIR/requests" ]; then wc -l <"$SRV_DIR/requests"; else echo 0; fi; }
has_reqs() { [ "$(nreq)" -ge "$1" ]; }
records() { ls "$SPOOL/notify" 2>/dev/null | grep -c '\.json$'; }

# ---- retry_after 3 under --notify-retry-max 10s: 3 s, not 1 s ----
echo "429:3" >"$SRV_DIR/codes"
start_proc --notify-url "$HOOK" --notify-retry-max 10s
id=$(submit '{"shell":"true"}')
check "the job ends" wait_final 30 "$id"
check "the first try is refused with a 429" wait_until 20 has_reqs 1
check "the log plans the next try in 3s, as asked" wait_until 10 grep -q \
	"job $id: url notification not sent: HTTP 429: .*(next try in 3" "$PROC_LOG"
sleep 2
eq "no second try within 2 s (the backoff alone would be 1 s)" "$(nreq)" 1
check "the second try comes" wait_until 10 has_reqs 2
check "and is sent: the record is gone" wait_until 10 sh -c "[ \$(ls '$SPOOL/notify' | grep -c json) -eq 0 ]"
eq "two requests in all" "$(nreq)" 2
stop_proc "$PROC_PID"

# ---- retry_after 60 under --notify-retry-max 2s: capped at 2 s ----
rm -f "$SRV_DIR/requests"
echo "429:60" >"$SRV_DIR/codes"
start_proc --notify-url "$HOOK" --notify-retry-max 2s
id2=$(submit '{"shell":"true"}')
check "the job ends" wait_final 30 "$id2"
check "the log plans the next try in 2s, not 60" wait_until 20 grep -q \
	"job $id2: url notification not sent: HTTP 429: .*(next try in 2" "$PROC_LOG"
check "the second try comes within 8 s" wait_until 8 has_reqs 2
check "the record is gone" wait_until 10 sh -c "[ \$(ls '$SPOOL/notify' | grep -c json) -eq 0 ]"
eq "no record left" "$(records)" 0
stop_proc "$PROC_PID"
proc_check_logs
finish
