#!/bin/sh
# Security of the HTTP API and of job execution.
#   - missing or wrong token: 401 on every job route (prefix, suffix, case
#     and empty variants of a real secret too); /healthz and /metrics open;
#   - ownership on every route: token B cannot read (also ?peek=1 and the
#     demo route), list, filter, follow (chunked and WebSocket), change,
#     cancel, delete, read the log of, or read the batch of token A's job:
#     404 as if it did not exist, and the job is unchanged (not retrieved,
#     not renamed, not cancelled); an Idempotency-Key of A is not B's;
#     the admin token can do all of it;
#   - no tokens and a non-loopback --listen: refused, exit 2;
#   - jobs do not see the processor's environment;
#   - a processor running as root runs jobs as an unprivileged user, with
#     no supplementary groups and no capabilities.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

proc_setup
A="Authorization: Bearer alice-Secret-1"
B="Authorization: Bearer bob-secret-2"
R="Authorization: Bearer root-secret-3"
start_api --token alice:alice-Secret-1 --token bob:bob-secret-2 \
	--token root:root-secret-3:admin || { fail "apiserver starts"; finish; }

# ---- authentication ----
for m in "GET /api/v1/jobs" "POST /api/v1/jobs" "POST /api/v1/batches" \
    "GET /api/v1/jobs/00000000-0000-4000-8000-000000000000" \
    "POST /api/v1/add/1/2"; do
	set -- $m
	req "$1" "$2" -d '{"command":["true"]}'
	jerr "$m without a token: 401" 401
	for bad in "Bearer alice-Secret-" "Bearer alice-Secret-1x" \
	    "Bearer alice-secret-1" "Bearer " "Basic alice-Secret-1" \
	    "Bearer alice:alice-Secret-1" "Bearer ALICE-SECRET-1"; do
		req "$1" "$2" -H "Authorization: $bad" -d '{"command":["true"]}'
		[ "$CODE" = 401 ] || fail "$m with '$bad': 401 (got $CODE)"
	done
	ok "$m with wrong tokens: 401"
done
check "401 carries WWW-Authenticate" [ -n "$(header WWW-Authenticate)" ]
eq "no job was stored by unauthenticated requests" \
	"$(spool_files | grep -c -v -x jobs.lock)" 0
req GET /healthz
eq "/healthz needs no token" "$CODE" 200
req GET /metrics
eq "/metrics needs no token" "$CODE" 200

# container jobs: nothing a client sends becomes a runtime option
for c in '{"image":"--privileged","command":["true"]}' \
    '{"image":"-v/:/host","command":["true"]}' \
    '{"image":"busybox","environment":{"--privileged=1":"x"}}' \
    '{"image":"busybox","environment":{"A B":"x"}}'; do
	req POST /api/v1/jobs -H "$A" -d "{\"container\":$c}"
	jerr "container $c refused: 400" 400
done
req POST /api/v1/jobs -H "$A" -d '{"docker":{"image":"-v=/:/h","command":"id"}}'
jerr "docker image starting with '-' refused: 400" 400

# ---- ownership ----
req POST /api/v1/jobs -H "$A" -d '{"command":["/bin/echo","done-of-alice"],"name":"a-final"}'
eq "alice submits a job" "$CODE" 201
JF=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/batches -H "$A" -d '{"jobs":[{"command":["/bin/echo","b1"]},{"command":["/bin/echo","b2"]}]}'
eq "alice submits a batch" "$CODE" 201
CID=$(printf '%s' "$BODY" | jq -r .correlation_id)
req POST /api/v1/add/2/3 -H "$A"
JD=$(printf '%s' "$BODY" | jq -r .id)
# one slot: alice's jobs finish, then her long job holds the slot and
# her last job stays pending
start_proc -j 1 --scan-interval 250ms
P=$PROC_PID
check "alice's first jobs finish" wait_final 30 "$JF" "$JD"
req POST /api/v1/jobs -H "$A" -H 'Idempotency-Key: k-1' \
	-d '{"command":["/bin/sh","-c","echo secret-of-alice; sleep 600"],"name":"a-run"}'
eq "alice submits a long job" "$CODE" 201
JR=$(printf '%s' "$BODY" | jq -r .id)
running() { [ -f "$SPOOL/$JR.wip" ] && grep -q secret-of-alice "$SPOOL/$JR.log" 2>/dev/null; }
check "alice's long job runs" wait_until 30 running
req POST /api/v1/jobs -H "$A" -d '{"command":["true"],"name":"a-pending"}'
PEND=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -H "$B" -H 'Idempotency-Key: k-1' -d '{"command":["true"]}'
eq "bob reusing alice's Idempotency-Key gets his own job: 201" "$CODE" 201
JB=$(printf '%s' "$BODY" | jq -r .id)
check "bob's job is not alice's" [ "$JB" != "$JR" ]
before=$(spool_snapshot)

# bob_404 DESC METHOD PATH [curl args]: bob gets 404 with a JSON error
bob_404() {
	b_d=$1; shift
	b_m=$1 b_p=$2; shift 2
	req "$b_m" "$b_p" -H "$B" "$@"
	jerr "bob: $b_d: 404" 404
	case $BODY in *alice*|*secret-of*|*done-of*)
		fail "bob: $b_d leaks alice's data" ;; esac
}
for id in "$JR" "$JF" "$JD"; do
	bob_404 "GET job $id" GET "/api/v1/jobs/$id"
	bob_404 "GET job $id ?peek=1" GET "/api/v1/jobs/$id?peek=1"
	bob_404 "GET demo route /api/v1/job/$id" GET "/api/v1/job/$id"
	bob_404 "GET log of $id" GET "/api/v1/jobs/$id/log"
	bob_404 "follow log of $id (chunked)" GET "/api/v1/jobs/$id/log?follow=1" \
		--max-time 5
	bob_404 "follow log of $id (WebSocket)" GET "/api/v1/jobs/$id/log?ws" \
		--max-time 5 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
		-H 'Sec-WebSocket-Version: 13' \
		-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
	bob_404 "PUT name of $id" PUT "/api/v1/jobs/$id" -d '{"name":"pwned"}'
	bob_404 "PUT metadata of $id" PUT "/api/v1/jobs/$id" \
		-d '{"metadata":{"x":1}}'
	bob_404 "PUT status cancelled of $id" PUT "/api/v1/jobs/$id" \
		-d '{"status":"cancelled"}'
	bob_404 "DELETE $id" DELETE "/api/v1/jobs/$id"
done
bob_404 "PUT of alice's pending job" PUT "/api/v1/jobs/$PEND" -d '{"name":"pwned"}'
bob_404 "DELETE of alice's pending job" DELETE "/api/v1/jobs/$PEND"
bob_404 "GET alice's batch" GET "/api/v1/batches/$CID"
bob_404 "GET alice's batch ?logs=1" GET "/api/v1/batches/$CID?logs=1"
bob_404 "follow alice's batch log" GET "/api/v1/batches/$CID/log?follow=1" \
	--max-time 5
req GET /api/v1/jobs -H "$B"
eq "bob's list holds only his job" \
	"$(printf '%s' "$BODY" | jq -r '[.jobs[].id] | join(" ")')" "$JB"
for q in "status=running" "status=completed" "name=a-run" "batch=$CID" \
    "status=pending" "limit=1000"; do
	req GET "/api/v1/jobs?$q" -H "$B"
	eq "bob's list ?$q shows none of alice's jobs" \
		"$(printf '%s' "$BODY" | jq -r "[.jobs[].id | select(. != \"$JB\")] | length")" 0
done
eq "bob's attempts changed nothing in the spool" "$(spool_snapshot)" "$before"
check "alice's running job is still running" [ -f "$SPOOL/$JR.wip" ]
eq "alice's final job was not marked retrieved by bob" \
	"$(ls "$SPOOL" | grep -c "^$JF\.completed$")" 1
eq "alice's pending job keeps its name" "$(jq -r .name "$SPOOL/$PEND.pending")" a-pending

# alice herself and the admin can
req GET "/api/v1/jobs/$JF?peek=1" -H "$A"
eq "alice reads her job" "$CODE" 200
req GET "/api/v1/jobs/$JR/log" -H "$R"
eq "admin reads alice's log" "$CODE" 200
check "admin sees the log's content" grep -q secret-of-alice "$RESP_FILE"
req GET "/api/v1/batches/$CID" -H "$R"
eq "admin reads alice's batch" "$CODE" 200
req GET /api/v1/jobs -H "$R"
check "admin lists alice's jobs" [ "$(printf '%s' "$BODY" |
	jq --arg j "$JR" '[.jobs[] | select(.id == $j)] | length')" = 1 ]
req PUT "/api/v1/jobs/$PEND" -H "$R" -d '{"name":"by-admin"}'
eq "admin renames alice's pending job" "$CODE" 200
req DELETE "/api/v1/jobs/$JR" -H "$R"
eq "admin cancels alice's running job: 202" "$CODE" 202
cancelled() { [ -f "$SPOOL/$JR.cancelled" ]; }
check "alice's job is cancelled by the admin" wait_until 30 cancelled
req GET "/api/v1/jobs/$JF" -H "$A"
eq "alice retrieves her final job" "$(printf '%s' "$BODY" | jq -r .status)" completed
stop_proc "$P"
api_stop

# ---- no tokens: loopback only ----
for l in 0.0.0.0:0 "[::]:0" 10.1.2.3:0; do
	"$JS_BIN/jobspool-apiserver" --spool "$SPOOL" --listen "$l" \
		>/dev/null 2>"$WORK/err" &
	np=$!
	T_PIDS="$T_PIDS $np"
	n_gone() { ! kill -0 "$np" 2>/dev/null; }
	if wait_until 10 n_gone; then
		wait "$np"
		eq "no tokens, --listen $l: exit 2" "$?" 2
		check "it says why" grep -q -i 'token' "$WORK/err"
	else
		fail "no tokens, --listen $l: refused (it is listening)"
	fi
done
JOBSPOOL_TOKENS=ops:ops-secret-9 timeout 3 "$JS_BIN/jobspool-apiserver" \
	--spool "$SPOOL" --listen 0.0.0.0:0 >/dev/null 2>"$WORK/err"
eq "with a token from JOBSPOOL_TOKENS, 0.0.0.0 is allowed (runs until stopped)" \
	"$?" 124

# ---- environment isolation and privilege drop ----
JOBSPOOL_TOKENS=leak:leak-secret-42 MARKER_SECRET=processor-only-7 \
	start_proc -j 2 --scan-interval 250ms
P=$PROC_PID
E=$(submit '{"command":["/usr/bin/env"]}')
U=$(submit '{"shell":"id -u; id -g; id -G; grep -E \"^Cap(Eff|Prm)\" /proc/self/status"}')
check "env and id jobs finish" wait_final 30 "$E" "$U"
eq "the env job completed" "$(field "$E" .status)" completed
eq "the processor's environment does not leak into jobs" \
	"$(grep -c -E 'MARKER_SECRET|processor-only-7|leak-secret|JOBSPOOL_TOKENS' "$SPOOL/$E.log")" 0
check "the job gets a PATH" grep -q '^PATH=' "$SPOOL/$E.log"
nob=$(id -u nobody 2>/dev/null)
eq "job runs as nobody, not root (uid)" "$(sed -n 1p "$SPOOL/$U.log")" "$nob"
check "job's gid is not 0" [ "$(sed -n 2p "$SPOOL/$U.log")" != 0 ]
eq "root's supplementary groups are dropped" \
	"$(sed -n 3p "$SPOOL/$U.log" | tr ' ' '\n' | grep -c -x 0)" 0
eq "no capabilities left" \
	"$(grep -c -E "^Cap(Eff|Prm):[[:space:]]+0+$" "$SPOOL/$U.log")" 2
# a job (as nobody) cannot read the spool: other jobs' files and logs
S=$(submit "{\"shell\":\"ls $SPOOL >/dev/null 2>&1 && echo readable || echo denied; cat $SPOOL/$E.log >/dev/null 2>&1 && echo log-readable || echo log-denied\"}")
check "the spool job finishes" wait_final 30 "$S"
eq "a job cannot list the spool" "$(sed -n 1p "$SPOOL/$S.log")" denied
eq "a job cannot read another job's log" "$(sed -n 2p "$SPOOL/$S.log")" log-denied
stop_proc "$P"
proc_check_logs
finish
