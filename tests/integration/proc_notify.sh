#!/bin/sh
# jobspool-processor's built-in notifiers (--notify-url, --notify-telegram,
# --notify-on; jobspool-processor(8) "Notifications", jobspool(5)
# "notify/"): a local HTTP server (notify_server.py) stands in for the
# webhook and for the Telegram Bot API.  The webhook gets the final job's
# JSON, the Bot API chat_id and a text with name, outcome, exit code,
# duration and link; the filter; 429 and 500 answers retried until a 200,
# sent once; a queued notification survives a processor killed while the
# server is down; a 404 is given up; an old record is given up; the token
# is never in the log or the spool; the cleaner knows notify/.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"
P="$JS_BIN/jobspool-processor"

command -v python3 >/dev/null 2>&1 ||
	skip_suite install "python3 is not installed (the stand-in server)"
proc_setup
SRV_DIR="$WORK/srv"
mkdir "$SRV_DIR"
TOKEN="123456:notify-secret-$$-AbC"
printf '%s\n' "$TOKEN" >"$WORK/bot.token"

# start_server [PORT]: the stand-in on 127.0.0.1; sets SRV_PID, SPORT, HOOK
start_server() {
	rm -f "$SRV_DIR/port"
	python3 "$(dirname "$0")/notify_server.py" "$SRV_DIR" ${1:+"$1"} &
	SRV_PID=$!
	T_PIDS="$T_PIDS $SRV_PID"
	wait_until 20 test -s "$SRV_DIR/port" || { fail "stand-in server starts"; finish; }
	SPORT=$(cat "$SRV_DIR/port")
	HOOK="http://127.0.0.1:$SPORT/hook"
}
# nreq: how many requests the stand-in has recorded
nreq() { if [ -f "$SRV_DIR/requests" ]; then wc -l <"$SRV_DIR/requests"; else echo 0; fi; }
has_reqs() { [ "$(nreq)" -ge "$1" ]; }
# reqs JQ: jq -r JQ over every recorded request (slurped into an array)
reqs() { jq -r -s "$1" "$SRV_DIR/requests" 2>/dev/null; }
# records: the queued notification records
records() { ls "$SPOOL/notify" 2>/dev/null | grep -c '\.json$'; }
no_records() { [ "$(records)" -eq 0 ]; }
reset_reqs() { rm -f "$SRV_DIR/requests" "$SRV_DIR/codes"; }

start_server

# ---- settings that go together ----
"$P" --spool "$SPOOL" --notify-telegram 42 2>"$WORK/err"
eq "--notify-telegram without a token file exits 2" "$?" 2
check "... saying what is missing" grep -q 'notify-telegram-token-file' "$WORK/err"
"$P" --spool "$SPOOL" --notify-telegram-token-file "$WORK/bot.token" 2>/dev/null
eq "a token file without --notify-telegram exits 2" "$?" 2
printf 'a/b\n' >"$WORK/bad.token"
"$P" --spool "$SPOOL" --notify-telegram 42 \
	--notify-telegram-token-file "$WORK/bad.token" 2>"$WORK/err"
eq "a token with '/' exits 2" "$?" 2
check "... naming the file, not the token" sh -c \
	"grep -q 'bad.token' '$WORK/err' && ! grep -q 'a/b' '$WORK/err'"
"$P" --help >"$WORK/help"
for f in notify-url notify-telegram notify-telegram-token-file \
    notify-telegram-api notify-on status-url notify-retry-max notify-give-up; do
	check "--help lists --$f" grep -q -- "--$f" "$WORK/help"
done

# ---- webhook and Telegram: what they get ----
start_proc -j 2 --notify-url "$HOOK" --notify-telegram 4242 \
	--notify-telegram-token-file "$WORK/bot.token" \
	--notify-telegram-api "http://127.0.0.1:$SPORT/" \
	--status-url "http://status.example:8080/"
check "with a notifier the processor has loaded libcurl" \
	wait_until 20 grep -q 'libcurl' "/proc/$PROC_PID/maps"
ok_id=$(submit '{"name":"nightly-backup","shell":"sleep 0.3"}')
bad_id=$(submit '{"name":"broken-job","shell":"exit 3"}')
sig_id=$(submit '{"shell":"kill -TERM $$"}')
check "three jobs end" wait_final 30 "$ok_id" "$bad_id" "$sig_id"
check "six notifications arrive" wait_until 30 has_reqs 6
check "no record left once sent" wait_until 10 no_records
eq "every answer was 200" "$(reqs '[.[].code] | unique | tostring')" '[200]'
eq "webhook: three POSTs to the URL's path" \
	"$(reqs '[.[] | select(.path == "/hook")] | length')" 3
eq "webhook: Content-Type application/json" \
	"$(reqs '[.[] | select(.path == "/hook") | .content_type] | unique | tostring')" \
	'["application/json"]'
hook_body=$(reqs ".[] | select(.path == \"/hook\") | .body | fromjson |
	select(.id == \"$bad_id\")")
eq "webhook: the body is the final job, as in its file" \
	"$(printf '%s' "$hook_body" | jq -S -c .)" "$(jq -S -c . "$(final "$bad_id")")"
eq "webhook: its status" "$(printf '%s' "$hook_body" | jq -r .status)" failed
tg() { reqs ".[] | select(.path == \"/bot$TOKEN/sendMessage\") | .body | fromjson | $1"; }
eq "telegram: three sendMessage calls on /bot<token>/sendMessage" \
	"$(tg .chat_id | wc -l | tr -d ' ')" 3
eq "telegram: chat_id" "$(tg .chat_id | sort -u)" 4242
bad_text=$(tg "select(.text | contains(\"$bad_id\")) | .text")
case $bad_text in
"job broken-job: failed (exit code 3) after "*"
http://status.example:8080/#job=$bad_id") ok "telegram: name, outcome, exit code, duration, link" ;;
*) fail "telegram text of the failed job: '$bad_text'" ;;
esac
ok_text=$(tg "select(.text | contains(\"$ok_id\")) | .text")
case $ok_text in
"job nightly-backup: completed (exit code 0) after "*s"
http://status.example:8080/#job=$ok_id") ok "telegram: a completed job, in human units" ;;
*) fail "telegram text of the completed job: '$ok_text'" ;;
esac
sig_text=$(tg "select(.text | contains(\"$sig_id\")) | .text")
case $sig_text in
"job $sig_id: failed (killed by signal 15, SIGTERM) after "*) ok "telegram: no name: the id; the signal" ;;
*) fail "telegram text of the signalled job: '$sig_text'" ;;
esac
check "the log says each was sent" grep -q "job $bad_id: telegram notification sent (HTTP 200)" "$PROC_LOG"
stop_proc "$PROC_PID"

# ---- --notify-on failed: only failures, for the command too ----
reset_reqs
start_proc --notify-url "$HOOK" --notify-on failed \
	--notify-command "cat >$WORK/cmd-\$JOBSPOOL_JOB_ID.json"
ok2=$(submit '{"shell":"true"}')
bad2=$(submit '{"shell":"exit 1"}')
inv2=$(submit '{"no_command":true}')
check "three jobs end" wait_final 30 "$ok2" "$bad2" "$inv2"
check "the failures are posted" wait_until 20 has_reqs 2
check "the notify command ran for the failure" wait_until 10 test -s "$WORK/cmd-$bad2.json"
check "records gone" wait_until 10 no_records
sleep 1
eq "only the failures were posted (a run's, an invalid file's)" \
	"$(reqs '[.[].body | fromjson | .id] | sort | tostring')" \
	"$(printf '%s\n' "$bad2" "$inv2" | sort | jq -R . | jq -s -c .)"
eq "the invalid file's says why" \
	"$(reqs ".[] | .body | fromjson | select(.id == \"$inv2\") | .status")" failed
check "no notify command for the completed job" test ! -e "$WORK/cmd-$ok2.json"
stop_proc "$PROC_PID"

# ---- SIGHUP: --notify-on applies at once, the sinks stay as started ----
reset_reqs
printf 'notify-url = %s\nnotify-on = completed\n' "$HOOK" >"$WORK/notify.conf"
start_proc --config "$WORK/notify.conf"
wait_until 10 grep -q 'processing ' "$PROC_LOG"
printf 'notify-url = %s\nnotify-on = failed\n' "http://127.0.0.1:9/elsewhere" \
	>"$WORK/notify.conf"
kill -HUP "$PROC_PID"
check "the reload says the notifiers stay as started" wait_until 10 grep -q \
	'reload: the notifiers are read at start only' "$PROC_LOG"
h_ok=$(submit '{"shell":"true"}')
h_bad=$(submit '{"shell":"false"}')
check "two jobs end after the reload" wait_final 30 "$h_ok" "$h_bad"
check "the failure is posted, to the URL it started with" wait_until 20 has_reqs 1
check "records gone" wait_until 10 no_records
eq "only the failure: --notify-on failed applies" \
	"$(reqs '[.[] | .path + " " + (.body | fromjson | .id)] | tostring')" \
	"[\"/hook $h_bad\"]"
stop_proc "$PROC_PID"

# ---- 429, then 500, then 200: sent once, after retries ----
reset_reqs
echo "429 500" >"$SRV_DIR/codes"
start_proc --notify-url "$HOOK"
r_id=$(submit '{"shell":"true"}')
check "the job ends" wait_final 30 "$r_id"
check "three tries arrive (429, 500, 200)" wait_until 30 has_reqs 3
eq "answers in order" "$(reqs '[.[].code] | tostring')" '[429,500,200]'
eq "the same job each time" "$(reqs '[.[].body | fromjson | .id] | unique | tostring')" "[\"$r_id\"]"
check "record removed after the 200" wait_until 10 no_records
sleep 2
eq "no try after the 200" "$(nreq)" 3
check "the log tells the 429" grep -q "job $r_id: url notification not sent: HTTP 429" "$PROC_LOG"
check "the log tells the 500 and the next try" grep -q "HTTP 500: .*(next try in " "$PROC_LOG"
stop_proc "$PROC_PID"

# ---- a 404 is given up at once ----
reset_reqs
echo "404" >"$SRV_DIR/codes"
start_proc --notify-url "$HOOK"
g_id=$(submit '{"shell":"true"}')
check "the refused notification is dropped" wait_until 30 sh -c \
	"[ \$(ls '$SPOOL/notify' | wc -l) -eq 0 ] && grep -q 'job $g_id: url notification refused (HTTP 404' '$PROC_LOG'"
sleep 1.5
eq "one try only" "$(nreq)" 1
stop_proc "$PROC_PID"

# ---- queued while the server is down, the processor killed: sent after
# a restart ----
reset_reqs
kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
start_proc --notify-url "$HOOK"
k_id=$(submit '{"name":"survivor","shell":"exit 0"}')
k2=$(submit '{"shell":"exit 0"}')
k3=$(submit '{"shell":"exit 0"}')
check "the jobs end while the server is down" wait_final 30 "$k_id" "$k2" "$k3"
# each record is tried once; then, the destination being down, only one
# of them is tried per wait (1s, 2s, ...), not each of them
notsent() { grep -c 'url notification not sent' "$PROC_LOG"; }
check "each record tried once, one of them again" wait_until 20 sh -c "[ \$(grep -c 'url notification not sent' '$PROC_LOG') -ge 4 ]"
sleep 1.5
n=$(notsent)
check "a destination that is down is tried once per wait ($n tries, not 6)" [ "$n" -le 5 ]
check "its record waits in notify/" wait_until 10 test -f "$SPOOL/notify/$k_id.completed.url.json"
check "a failed try is logged" wait_until 10 grep -q "job $k_id: url notification not sent" "$PROC_LOG"
kill -9 "$PROC_PID"; wait "$PROC_PID" 2>/dev/null
check "the record outlives the processor" test -f "$SPOOL/notify/$k_id.completed.url.json"
eq "the record: sink, status and job" \
	"$(jq -r '[.sink, .status, .job.id, .job.name] | join(" ")' "$SPOOL/notify/$k_id.completed.url.json")" \
	"url completed $k_id survivor"
start_server "$SPORT"
start_proc --notify-url "$HOOK"
check "sent after the restart" wait_until 20 has_reqs 3
eq "each queued job's, once" "$(reqs '[.[].body | fromjson | .id] | sort | tostring')" \
	"$(printf '%s\n' "$k_id" "$k2" "$k3" | sort | jq -R . | jq -s -c .)"
check "record removed" wait_until 10 no_records
stop_proc "$PROC_PID"

# ---- an old record is given up ----
reset_reqs
echo "500 500 500 500 500 500" >"$SRV_DIR/codes"
start_proc --notify-url "$HOOK" --notify-give-up 1s
o_id=$(submit '{"shell":"true"}')
check "given up after --notify-give-up" wait_until 30 grep -q \
	"job $o_id: url notification given up after" "$PROC_LOG"
check "its record is gone" no_records
stop_proc "$PROC_PID"

# ---- secrets and the cleaner ----
check "the token is never in a processor's log" sh -c \
	"! grep -q -F -- 'notify-secret-$$' '$WORK'/proc.*.log"
check "nor anywhere in the spool" sh -c "! grep -r -q -F -- 'notify-secret-$$' '$SPOOL'"
mkdir -p "$SPOOL/paused.d" "$SPOOL/revoked" "$SPOOL/processors"
ERR=$("$JS_BIN/jobspool-cleaner" --spool "$SPOOL" 2>&1)
check "the cleaner does not call notify/ unexpected" sh -c \
	"! printf '%s' \"\$1\" | grep -q 'unexpected.*notify'" _ "$ERR"
case $ERR in
*"kept 0 unexpected files"*) ok "nor processors/, paused.d/, revoked/" ;;
*) fail "the cleaner's summary: $ERR" ;;
esac
proc_check_logs
finish
