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
# answered 500 (retried, reported once); heartbeats that do not answer in
# time for 3 s, then 409 (the lease watchdog stops the run, which is
# offered back pending); a claimed job the processor cannot run (shell
# not a string: failed locally, reported failed).  The work
# directory holds no job afterwards; SIGTERM ends the processor with
# status 0.  A restart on a work directory with leftovers: a pending and a
# running copy are dropped, a final job from the server is delivered (log
# and finish), a final job not from a server is removed.  With -j 1, a job
# whose end is slow to deliver does not hold back the next claim.
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

id() { printf "00000000-0000-4000-8000-00000000000%s" "$1"; }
in_log() { grep -q -- "$1" "$LOG"; }
ev() { grep -c -x -- "$1" "$W/events"; }
jobs_left() { ls "$1" | grep -c -E '^[0-9a-f-]{36}\.'; }
no_jobs_in() { [ "$(jobs_left "$1")" -eq 0 ]; }
has_event() { [ "$(ev "$1")" -eq 1 ]; }
all_finished() { [ "$(grep -c '^finish ' "$W/events")" -ge 8 ]; }

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

# heartbeats that do not answer in time: the watchdog stops the run
check "hung heartbeats: the watchdog declares the lease lost" in_log \
	"job $(id 7): lease lost: no successful heartbeat for"
check "hung heartbeats: the run is stopped" in_log \
	"job $(id 7): cancelled (killed by signal"
eq "hung heartbeats: handed back once as pending" \
	"$(ev 'finish hang pending None False')" 1

# a job the processor cannot run
check "invalid claimed job: failed locally, said why" in_log \
	"job $(id c): invalid job file.*shell must be a string"
eq "invalid claimed job: reported failed once" \
	"$(ev 'finish unwritable failed None False')" 1

check "no job left in the work directory" wait_until 10 no_jobs_in "$W/work"
check "processor still running" kill -0 "$PID"
kill -TERM "$PID"
wait "$PID"
eq "SIGTERM: exit status 0" $? 0
check "shut down logged" in_log "shut down"
check "no sanitizer report" sh -c \
	"! grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' '$LOG'"
[ "$T_FAIL" -eq 0 ] || cat "$LOG" "$W/events"

# ---- a restart on leftovers ----
W2=$W/work2
mkdir -m 0750 "$W2"
rem='"remote":{"token":7,"log_offset":0,"attempts":1,"lease_ms":4000,"heartbeat_ms":300}'
leftover() {	# ID STATE JSON-FIELDS
	printf '{"id":"%s","shell":"true","attempts":1,"submitted_at":"2026-12-06T00:00:00Z",%s}\n' \
		"$1" "$3" >"$W2/$1.$2"
}
leftover "$(id 8)" completed "\"status\":\"completed\",\"exit_code\":0,$rem"
printf 'leftover\n' >"$W2/$(id 8).log"
leftover "$(id 9)" completed '"status":"completed","exit_code":0'
leftover 00000000-0000-4000-8000-00000000000a pending "\"status\":\"pending\",$rem"
leftover 00000000-0000-4000-8000-00000000000b wip \
	"\"status\":\"running\",\"started_at\":\"2026-12-06T00:00:01Z\",$rem"
LOG=$W/proc2.log
"$PROC" --spool "$W2" --server "$URL" --token x --kill-grace 1s 2>"$LOG" &
PID=$!
T_PIDS="$T_PIDS $PID"
check "leftover from the server: delivered" wait_until 20 \
	has_event 'finish left completed 0 False'
eq "leftover from the server: its log sent (9 bytes)" \
	"$(grep '^log left ' "$W/events" | tail -n 1)" "log left 9"
check "leftover from the server: logged" in_log \
	"job $(id 8): completed here before a restart; delivering it"
check "leftover not from a server: logged" in_log \
	"job $(id 9): not from a server; removed from the work directory"
check "leftover pending: dropped" in_log \
	"job 00000000-0000-4000-8000-00000000000a: left pending by an earlier run; dropped"
check "leftover running: dropped" in_log \
	"job 00000000-0000-4000-8000-00000000000b: left running by an earlier run; dropped"
check "leftovers: none left in the work directory" wait_until 10 \
	no_jobs_in "$W2"
eq "leftovers: nothing else reached the server" \
	"$(grep -c -e ' pending ' -e '^finish $' "$W/events")" 2
kill -TERM "$PID"
wait "$PID"
eq "restart: SIGTERM exit status 0" $? 0
check "restart: no sanitizer report" sh -c \
	"! grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' '$LOG'"
[ "$T_FAIL" -eq 0 ] || cat "$LOG" "$W/events"
kill "$FPID" 2>/dev/null

# With -j 1, a job whose run has ended no longer holds the place while its
# end is delivered: the stand-in answers slowfin's finish 1.5 s late, and
# the next job is claimed (and run) meanwhile.
W3=$W/slow
mkdir -p "$W3"
python3 "$(dirname "$0")/fake_worker_api.py" "$W3/port" "$W3/events" slow &
FPID=$!
T_PIDS="$T_PIDS $FPID"
wait_until 10 test -s "$W3/port" || { fail "slow stand-in started"; finish; }
: >"$W3/events"
LOG=$W3/proc.log
"$PROC" --spool "$W3/work" --server "http://127.0.0.1:$(cat "$W3/port")" \
	--token x -j 1 2>"$LOG" &
PID=$!
T_PIDS="$T_PIDS $PID"
both_done() { [ "$(grep -c '^finish \(slowfin\|next\) completed 0' "$W3/events")" -eq 2 ]; }
check "slow finish: both jobs delivered" wait_until 20 both_done
eq "slow finish: the next job claimed while slowfin's end was delivered" \
	"$(grep -x -e 'claim next' -e 'finish slowfin completed 0 False' \
	"$W3/events" | head -n 1)" "claim next"
eq "slow finish: and delivered before it" \
	"$(grep -e '^finish ' "$W3/events" | head -n 1 | cut -d' ' -f2)" next
kill -TERM "$PID"
wait "$PID"
eq "slow finish: SIGTERM exit status 0" $? 0
[ "$T_FAIL" -eq 0 ] || cat "$LOG" "$W3/events"
kill "$FPID" 2>/dev/null
finish
