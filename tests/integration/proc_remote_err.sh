#!/bin/sh
# jobspool-processor in remote mode against a stand-in for the apiserver's
# worker routes (fake_worker_api.py) that answers what the real server
# answers rarely or never: a claim answered 500, with text that is not
# JSON, and without a job (logged, ignored, claiming goes on); a heartbeat
# refused 409 (lease lost: the run is stopped and handed back as pending,
# the refused finish logged); a heartbeat answered 503 then cancel (the job
# is cancelled and reported so); a log upload refused 400 and one whose
# size is shorter than the claim's offset (lease lost); a log upload
# answered 503 with HTML (retried from the start, whole); a finish
# answered 500 (retried, reported once).  The work directory holds no job
# afterwards; SIGTERM ends the processor with status 0.
. "$(dirname "$0")/lib.sh"
PROC=$JS_BIN/jobspool-processor
W=$(mktemp -d /tmp/jobspool-rerr.XXXXXX)
T_DIRS="$T_DIRS $W"
command -v python3 >/dev/null ||
	skip_suite install "python3 is missing (apt-get install python3)"

python3 "$(dirname "$0")/fake_worker_api.py" "$W/port" "$W/events" &
FPID=$!
T_PIDS="$T_PIDS $FPID"
wait_until 10 test -s "$W/port" || { fail "stand-in server started"; finish; }
URL=http://127.0.0.1:$(cat "$W/port")
: >"$W/events"
LOG=$W/proc.log
"$PROC" --spool "$W/work" --server "$URL" --token x --kill-grace 1s \
	2>"$LOG" &
PID=$!
T_PIDS="$T_PIDS $PID"

id() { printf '00000000-0000-4000-8000-00000000000%s' "$1"; }
in_log() { grep -q -- "$1" "$LOG"; }
ev() { grep -c -x -- "$1" "$W/events"; }
jobs_left() { ls "$W/work" | grep -c -E '^[0-9a-f-]{36}\.'; }
all_finished() { [ "$(grep -c '^finish ' "$W/events")" -ge 6 ]; }

check "every case's job finished at the stand-in" wait_until 40 all_finished
check "claim 500 logged, claiming goes on" \
	in_log "claim: server answered 500 (claim broke); retrying"
eq "a claim answered with no JSON and one with no job: ignored" \
	"$(grep -c "the server's answer is not a job with a lease; ignored" "$LOG")" 2

# heartbeat 409: lease lost, run stopped, handed back as pending (refused)
check "heartbeat 409: lease lost" in_log \
	"job $(id 1): lease lost: heartbeat refused (409 Conflict)"
check "heartbeat 409: the local run is stopped" in_log \
	"job $(id 1): cancelled (killed by signal"
eq "heartbeat 409: handed back once as pending" \
	"$(ev 'finish hb409 pending None False')" 1
check "heartbeat 409: the refused finish is logged, the result discarded" \
	in_log "job $(id 1): finish refused by the server (409 Conflict: not yours)"

# log 400
check "log 400: refusal logged with the server's reason" in_log \
	"job $(id 2): log upload refused (400: bad log)"
check "log 400: lease lost" in_log \
	"job $(id 2): lease lost: the server refused its log (400)"

# finish 500, then 200: retried, recorded once with the run's result
check "finish 500: counted as a failure, retried" in_log \
	"job $(id 3): finish: server unreachable (HTTP 500: disk on fire)"
check "finish 500: then reachable again" in_log \
	"job $(id 3): server reachable again after 1 failed attempt"
eq "finish 500: reported once as failed with exit code 3" \
	"$(ev 'finish fin500 failed 3 False')" 1

# heartbeat 503 then cancel
check "heartbeat 503: retried" in_log \
	"job $(id 4): heartbeat: server unreachable (HTTP 503: busy)"
check "cancel from a heartbeat: the local run cancelled" in_log \
	"job $(id 4): cancel requested on the server"
eq "cancel from a heartbeat: reported cancelled" \
	"$(ev 'finish cancel cancelled None False')" 1

# a server log shorter than the claim's offset
check "log shorter than the claim's offset: lease lost" in_log \
	"job $(id 5): lease lost: the server's log is shorter"

# log 503 with HTML: retried, the whole log sent again from its start
check "log 503: counted as a failure, the HTML's first line quoted" in_log \
	"job $(id 6): log upload: server unreachable (HTTP 503: <html>busy</html>)"
eq "log 503: the retry sends the whole log (14 bytes)" \
	"$(grep '^log log503 ' "$W/events" | tail -n 1)" "log log503 14"
eq "log 503: reported completed once" \
	"$(ev 'finish log503 completed 0 False')" 1

check "no job left in the work directory" wait_until 10 \
	test "$(jobs_left)" -eq 0
check "processor still running" kill -0 "$PID"
kill -TERM "$PID"
wait "$PID"
eq "SIGTERM: exit status 0" $? 0
check "shut down logged" in_log "shut down"
check "no sanitizer report" sh -c \
	"! grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' '$LOG'"
[ "$T_FAIL" -eq 0 ] || cat "$LOG"
kill "$FPID" 2>/dev/null
finish
