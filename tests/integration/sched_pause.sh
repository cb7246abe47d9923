#!/bin/sh
# Scheduling (issue 17): the processor registry, pause and resume, and why
# a pending job waits, with several processors (local and remote): the
# registry file appears at start and goes at a clean stop, a killed one is
# dead at once on its host (pid gone) and an entry not refreshed within its
# lease is dead; GET /api/v1/processors lists local and remote ones (admin
# only); pausing a label stops its claims (local and remote) and resume
# restarts them within about a second; a pause from the shell (the file
# SPOOL/paused) works; a non-admin gets 403; a job for a label no live
# processor has says so once the last such processor dies (kill -9).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

command -v jq >/dev/null 2>&1 || skip_suite install "jq is not installed"

UA="Authorization: Bearer us3r"
AA="Authorization: Bearer adm1n"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
post() {	# JSON -> $ID
	req POST /api/v1/jobs -H "$UA" -d "$1"
	ID=$(printf '%s' "$BODY" | jq -r '.id // empty' 2>/dev/null)
}
# why ID: the waiting reason of a job in the listing (an admin's: it
# sees the hand-written jobs too)
why() {
	req GET "/api/v1/jobs?status=pending" -H "$AA"
	printf '%s' "$BODY" | jq -r --arg id "$1" \
		'.jobs[] | select(.id == $id) | .waiting.reason'
}
is_reason() { [ "$(why "$1")" = "$2" ]; }
not_pending() { ! test -f "$SPOOL/$1.pending"; }
HOST=$(hostname)
reg() { echo "$SPOOL/processors/$HOST:$1.json"; }
procs() { req GET /api/v1/processors -H "$AA"; }

proc_setup
check "apiserver starts" start_api --token u:us3r --token a:adm1n:admin \
	--token w:w0rker:worker --lease 3s

# ---- the registry ----
start_proc -j 2 --label gpu --lease 3s
G_PID=$PROC_PID
start_proc -j 3 --lease 3s
C_PID=$PROC_PID
check "a processor's registry file appears at start" \
	wait_until 10 test -f "$(reg "$G_PID")"
wait_until 10 test -f "$(reg "$C_PID")"
eq "  its labels" "$(jq -c .labels "$(reg "$G_PID")")" '["gpu"]'
eq "  its -j, pid and lease" \
	"$(jq -c '[.slots, .pid == '"$G_PID"', .lease_ms, .running]' "$(reg "$G_PID")")" \
	"[2,true,3000,0]"
RW=$(mktemp -d /tmp/jobspool-rw.XXXXXX)
chmod 0750 "$RW"
T_DIRS="$T_DIRS $RW"
"$JS_BIN/jobspool-processor" --spool "$RW" --server "$URL" --token w0rker \
	--label rgpu -j 2 --claim-wait 1s --lease 3s \
	2>>"$WORK/proc.remote.log" &
R_PID=$!
T_PIDS="$T_PIDS $R_PID"
remote_listed() { procs; [ "$(printf '%s' "$BODY" | jq '[.processors[] |
	select(.remote and .alive and .labels == ["rgpu"] and .slots == 2)] |
	length')" = 1 ]; }
check "GET /api/v1/processors lists the remote worker" wait_until 10 remote_listed
eq "  and both local ones, alive" "$(printf '%s' "$BODY" | jq -c \
	'[.processors[] | select(.remote == false and .alive) | .pid] | sort')" \
	"$(printf '[%s]' "$(printf '%s\n%s\n' "$G_PID" "$C_PID" | sort -n |
	paste -sd, -)")"
req GET /api/v1/processors -H "$UA"
jerr "a non-admin token may not list processors (403)" 403

# an entry of another host: alive while refreshed within its lease
mkdir -p "$SPOOL/tmp"
printf '{"id":"elsewhere:7","host":"elsewhere","pid":7,"labels":["far"],"slots":1,"lease_ms":2000,"started_at":"2026-01-01T00:00:00Z"}\n' \
	>"$SPOOL/tmp/e.json"
mv "$SPOOL/tmp/e.json" "$SPOOL/processors/elsewhere:7.json"
procs
eq "a hand-written entry of another host, fresh: alive" "$(printf '%s' \
	"$BODY" | jq '.processors[] | select(.id == "elsewhere:7") | .alive')" true
touch -d '-3 seconds' "$SPOOL/processors/elsewhere:7.json"
procs
eq "  not refreshed within its lease: dead" "$(printf '%s' "$BODY" |
	jq '.processors[] | select(.id == "elsewhere:7") | .alive')" false
rm -f "$SPOOL/processors/elsewhere:7.json"

# ---- pause and resume a label (local processor) ----
req PUT /api/v1/pause/gpu -H "$UA"
jerr "a non-admin cannot pause (403)" 403
check "  and nothing is paused" test ! -e "$SPOOL/paused.d/gpu"
req PUT /api/v1/pause -H "$UA"
jerr "  nor pause the spool (403)" 403
req DELETE /api/v1/pause -H "$UA"
jerr "  nor resume (403)" 403
req PUT /api/v1/pause/gpu -H "$AA"
eq "an admin pauses label gpu: 200" "$CODE" 200
jq_eq "  the answer says so" '.labels == ["gpu"] and .spool == false' true
check "  SPOOL/paused.d/gpu" test -f "$SPOOL/paused.d/gpu"
post '{"shell":"true","labels":["gpu"]}'
PG=$ID
post '{"shell":"true"}'
PC=$ID
check "an unlabelled job still runs" wait_final 10 "$PC"
sleep 1.5
check "the gpu job is not claimed while gpu is paused" test -f "$SPOOL/$PG.pending"
eq "  it waits: label_paused" "$(why "$PG")" label_paused
req GET "/api/v1/jobs?status=pending" -H "$UA"
jq_eq "  the listing says what is paused" '.paused.labels | join(",")' gpu
req GET "/api/v1/jobs/$PG" -H "$UA"
jq_eq "  GET of the job too" '.waiting.reason + " " + .waiting.label' \
	"label_paused gpu"
req GET /metrics
check "  /metrics: jobspool_label_paused{label=\"gpu\"} 1" \
	grep -q '^jobspool_label_paused{label="gpu"} 1' "$RESP_FILE"
t0=$(now_ms)
req DELETE /api/v1/pause/gpu -H "$AA"
jq_eq "resume: 200, nothing paused" '.labels == [] and .changed' true
check "  the gpu job is claimed" wait_until 10 not_pending "$PG"
t1=$(now_ms)
check "  within about a second of the resume ($((t1 - t0)) ms)" \
	test $((t1 - t0)) -le 1500
check "  and completes" wait_final 10 "$PG"

# pausing stops claims within a second: a job submitted 1 s after the pause
req PUT /api/v1/pause/gpu -H "$AA"
sleep 1
post '{"shell":"true","labels":["gpu"]}'
PG2=$ID
sleep 2
check "a gpu job submitted 1 s after the pause stays pending" \
	test -f "$SPOOL/$PG2.pending"
req DELETE /api/v1/pause/gpu -H "$AA"
check "  and runs after the resume" wait_final 10 "$PG2"

# ---- the same through the worker claim route (remote processor) ----
req PUT /api/v1/pause/rgpu -H "$AA"
post '{"shell":"true","labels":["rgpu"]}'
PR=$ID
sleep 2
check "a paused label is not claimed by a remote worker" test -f "$SPOOL/$PR.pending"
t0=$(now_ms)
req DELETE /api/v1/pause/rgpu -H "$AA"
check "  resume: the remote worker claims it" wait_until 10 not_pending "$PR"
t1=$(now_ms)
check "  within about a second ($((t1 - t0)) ms)" test $((t1 - t0)) -le 1500
check "  and completes" wait_final 15 "$PR"

# ---- pause the whole spool from the shell ----
touch "$SPOOL/paused"
sleep 1
S1=$(submit '{"shell":"true"}')
S2=$(submit '{"shell":"true","labels":["rgpu"]}')
sleep 2
check "SPOOL/paused written by hand: nothing claimed (local)" test -f "$SPOOL/$S1.pending"
check "  nor remote" test -f "$SPOOL/$S2.pending"
req GET "/api/v1/jobs/$S1" -H "$AA"
jq_eq "  it waits: paused" .waiting.reason paused
req GET "/api/v1/jobs?status=pending" -H "$UA"
jq_eq "  the listing says so" .paused.spool true
req GET /api/v1/pause -H "$UA"
jq_eq "  GET /api/v1/pause too" .spool true
req GET /metrics
check "  /metrics: jobspool_spool_paused 1" \
	grep -q '^jobspool_spool_paused 1' "$RESP_FILE"
rm "$SPOOL/paused"
check "rm SPOOL/paused: both run" wait_final 10 "$S1" "$S2"

# ---- why it waits: no live processor with its label ----
post '{"shell":"true","labels":["nowhere"]}'
NW=$ID
eq "a job for a label nobody has: no_label" "$(why "$NW")" no_label
req GET "/api/v1/jobs/$NW" -H "$UA"
jq_eq "  the sentence names the label" '.waiting.message' \
	"no live processor has label nowhere"
post '{"shell":"true","run_at":"2099-01-01T00:00:00Z"}'
eq "a job with a start time to come: start_time" "$(why "$ID")" start_time
req DELETE "/api/v1/jobs/$ID" -H "$UA"
# a solo processor busy with a long job: the next solo job is next in line
start_proc -j 1 --label solo --exclusive --lease 3s
S_PID=$PROC_PID
wait_until 10 test -f "$(reg "$S_PID")"
post '{"shell":"sleep 60","labels":["solo"]}'
SL=$ID
wait_until 10 not_pending "$SL"
post '{"shell":"true","labels":["solo"]}'
SN=$ID
eq "a job for a busy processor's label: next" "$(why "$SN")" next
kill -9 "$S_PID"
wait "$S_PID" 2>/dev/null
t0=$(now_ms)
check "its last processor killed (-9): no_label within the lease" \
	wait_until 4 is_reason "$SN" no_label
procs
eq "  the killed processor is listed dead" "$(printf '%s' "$BODY" | jq \
	".processors[] | select(.pid == $S_PID) | .alive")" false
start_proc -j 1 --lease 3s
P_PID=$PROC_PID
wait_until 10 test -f "$(reg "$P_PID")"
check "  the next processor to start prunes its file" test ! -f "$(reg "$S_PID")"
stop_proc "$P_PID"

# ---- a clean stop removes the file; a stopped remote worker dies ----
stop_proc "$C_PID"
check "a processor stopped cleanly removes its registry file" \
	test ! -f "$(reg "$C_PID")"
stop_proc "$R_PID"
remote_dead() { procs; [ "$(printf '%s' "$BODY" | jq '[.processors[] |
	select(.remote and .alive)] | length')" = 0 ]; }
check "a stopped remote worker is dead within the lease" wait_until 6 remote_dead
stop_proc "$G_PID"
check "  every local file gone" test -z "$(ls "$SPOOL/processors")"
eq "no live processor at all: no_processor" "$(why "$NW")" no_processor
api_stop
proc_check_logs
finish
