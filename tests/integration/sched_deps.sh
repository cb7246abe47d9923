#!/bin/sh
# Dependencies between jobs (issue 17): "after" and "after_any" over HTTP,
# in batches ("#N" names an earlier job of the same batch) and in
# hand-written .pending files; honoured by the worker claim route and by a
# local processor; a failed or cancelled dependency fails its dependents,
# transitively; bad lists are 400 with the spool unchanged; the cleaner
# keeps a job a pending job waits for.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

command -v jq >/dev/null 2>&1 || skip_suite install "jq is not installed"

UA="Authorization: Bearer us3r"
OA="Authorization: Bearer 0ther"
WA="Authorization: Bearer w0rker"
claim() {	# BODY -> $CODE $BODY, $CID $G
	req POST /api/v1/workers/claim -H "$WA" -d "$1"
	CID=$(printf '%s' "$BODY" | jq -r '.job.id // empty' 2>/dev/null)
	G=$(printf '%s' "$BODY" | jq -r '.lease.token // empty' 2>/dev/null)
}
fin() {	# ID TOKEN EXIT
	req POST "/api/v1/workers/jobs/$1/finish" -H "$WA" \
		-d "{\"token\":$2,\"job\":{\"status\":\"$([ "$3" = 0 ] &&
		echo completed || echo failed)\",\"exit_code\":$3}}"
}
post() {	# JSON [AUTH] -> $ID
	req POST /api/v1/jobs -H "${2:-$UA}" -d "$1"
	ID=$(printf '%s' "$BODY" | jq -r '.id // empty' 2>/dev/null)
}
batch() {	# JSON -> $J0 $J1 $J2 ...
	req POST /api/v1/batches -H "$UA" -d "$1"
	J0=$(printf '%s' "$BODY" | jq -r '.jobs[0] // empty' 2>/dev/null)
	J1=$(printf '%s' "$BODY" | jq -r '.jobs[1] // empty' 2>/dev/null)
	J2=$(printf '%s' "$BODY" | jq -r '.jobs[2] // empty' 2>/dev/null)
}
# refused DESC: the last answer was a 400 and the spool is as in $SNAP
refused() {
	jerr "$1: 400" 400
	eq "  spool unchanged" "$(spool_snapshot)" "$SNAP"
}
has_error() {	# ID WORD: the job's final file has an error naming WORD
	field "$1" .error | grep -q -- "$2"
}

proc_setup
check "apiserver starts" start_api --token u:us3r --token o:0ther \
	--token w:w0rker:worker --lease 1h

# ---- bad lists: 400, nothing written ----
post '{"shell":"true"}' "$OA"
OTHER=$ID
SNAP=$(spool_snapshot)
post '{"shell":"true","after":["00000000-0000-4000-8000-000000000000"]}'
refused "after an unknown id"
printf '%s' "$BODY" | grep -q 00000000-0000-4000-8000-000000000000 &&
	ok "  the error names it" || fail "  the error names it ($BODY)"
post "{\"shell\":\"true\",\"after\":[\"$OTHER\"]}"
refused "after another token's job"
post "{\"shell\":\"true\",\"after_any\":[\"$OTHER\"]}"
refused "after_any another token's job"
post '{"shell":"true","after":"x"}'
refused "after not an array"
post '{"shell":"true","after":["../etc/passwd"]}'
refused "after holding no id"
post "{\"shell\":\"true\",\"after\":[\"$OTHER\",\"$OTHER\"]}"
refused "after repeating an id"
post '{"shell":"true","after":["#0"]}'
refused "a batch reference outside a batch"
batch '{"jobs":[{"shell":"true","after":["#0"]}]}'
refused "a batch job after itself"
batch '{"jobs":[{"shell":"true","after":["#1"]},{"shell":"true","after":["#0"]}]}'
refused "a cycle in a batch (a later job)"
batch '{"jobs":[{"shell":"true"},{"shell":"true","after":["#x"]}]}'
refused "a batch reference that is no number"
batch "{\"jobs\":[{\"shell\":\"true\"},{\"shell\":\"true\",\"after\":[\"$OTHER\"]}]}"
refused "a batch job after another token's job"

# ---- the worker claim route never hands out a job that waits ----
post '{"shell":"true"}'
A=$ID
post "{\"shell\":\"true\",\"after\":[\"$A\"]}"
eq "after a pending job: 201" "$CODE" 201
B=$ID
jq_eq "  stored with after" ".after[0]" "$A"
claim '{"wait":0}'
# $OTHER was submitted first and runs anywhere
[ "$CID" = "$OTHER" ] && { fin "$CID" "$G" 0; claim '{"wait":0}'; }
eq "  the claim gets the dependency first" "$CID" "$A"
TA=$G
claim '{"wait":0}'
eq "  not the dependent while it runs (204)" "$CODE" 204
check "  dependent still pending" test -f "$SPOOL/$B.pending"
req GET "/api/v1/jobs/$B" -H "$UA"
jq_eq "  a waiting job is listed as pending" .status pending
jq_eq "  it says why: after" .waiting.reason after
jq_eq "  ... naming the job" .waiting.after "$A"
printf '%s' "$BODY" | jq -r .waiting.message | grep -q "after job $A (running)" &&
	ok "  ... and its state" || fail "  ... and its state ($BODY)"
req PUT "/api/v1/jobs/$B" -H "$UA" -d '{"name":"second"}'
eq "  and can be changed (PUT name)" "$CODE" 200
fin "$A" "$TA" 0
claim '{"wait":5}'
eq "  once it completed, the dependent is claimed" "$CID" "$B"
fin "$B" "$G" 0

# a failed dependency fails its dependents, transitively
post '{"shell":"false"}'
C=$ID
post "{\"shell\":\"true\",\"after\":[\"$C\"]}"
D=$ID
post "{\"shell\":\"true\",\"after\":[\"$D\"]}"
E=$ID
post "{\"shell\":\"true\",\"after_any\":[\"$C\"]}"
F=$ID
claim '{"wait":0}'
eq "claim route: the first job" "$CID" "$C"
fin "$C" "$G" 1
claim '{"wait":5}'
eq "  after_any runs after a failure" "$CID" "$F"
fin "$F" "$G" 0
wait_final 10 "$D" "$E"
check "  the dependent ended failed" test -f "$SPOOL/$D.failed"
check "  its error names the failed job" has_error "$D" "$C"
check "  its own dependent ended failed" test -f "$SPOOL/$E.failed"
check "  naming the job it waited for" has_error "$E" "$D"
claim '{"wait":0}'
eq "  and neither was handed to the worker (204)" "$CODE" 204

# ---- a remote-mode processor (claims through the apiserver) ----
S="date +%s%N >$WORK"
RW=$(mktemp -d /tmp/jobspool-rw.XXXXXX)
chmod 0750 "$RW"
T_DIRS="$T_DIRS $RW"
"$JS_BIN/jobspool-processor" --spool "$RW" --server "$URL" --token w0rker \
	-j 4 --claim-wait 1s 2>>"$WORK/proc.remote.log" &
R_PID=$!
T_PIDS="$T_PIDS $R_PID"
batch "{\"jobs\":[{\"shell\":\"sleep 1; $S/r1\"},{\"shell\":\"$S/r2\",\"after\":[\"#0\"]},{\"shell\":\"$S/r3\",\"after_any\":[\"#1\"]}]}"
eq "remote: pipeline batch 201" "$CODE" 201
sleep 0.5
check "  the second waits while the first runs" test -f "$SPOOL/$J1.pending"
wait_final 20 "$J0" "$J1" "$J2"
check "  all three completed" test -f "$SPOOL/$J0.completed" -a \
	-f "$SPOOL/$J1.completed" -a -f "$SPOOL/$J2.completed"
r1=$(cat "$WORK/r1" 2>/dev/null || echo 0)
r2=$(cat "$WORK/r2" 2>/dev/null || echo 0)
r3=$(cat "$WORK/r3" 2>/dev/null || echo 0)
check "  in order" test "$r1" -gt 0 -a "$r1" -lt "$r2" -a "$r2" -lt "$r3"
stop_pid "$R_PID"

# ---- a local processor: a pipeline in one batch ----
start_proc -j 4
batch "{\"jobs\":[{\"shell\":\"sleep 0.5; $S/p1\"},{\"shell\":\"$S/p2\",\"after\":[\"#0\"]},{\"shell\":\"$S/p3\",\"after\":[\"#1\"]}]}"
eq "pipeline batch: 201" "$CODE" 201
eq "  .pending holds the id, not #0" \
	"$(jq -r '.after[0]' "$SPOOL/$J1.pending" 2>/dev/null ||
	jq -r '.after[0]' "$SPOOL/$J1.wip" 2>/dev/null ||
	jq -r '.after[0]' "$(final "$J1")")" "$J0"
wait_final 20 "$J0" "$J1" "$J2"
check "  all three completed" test -f "$SPOOL/$J0.completed" -a \
	-f "$SPOOL/$J1.completed" -a -f "$SPOOL/$J2.completed"
p1=$(cat "$WORK/p1" 2>/dev/null || echo 0)
p2=$(cat "$WORK/p2" 2>/dev/null || echo 0)
p3=$(cat "$WORK/p3" 2>/dev/null || echo 0)
check "  they ran in order" test "$p1" -gt 0 -a "$p1" -lt "$p2" -a "$p2" -lt "$p3"

batch '{"jobs":[{"shell":"exit 3"},{"shell":"true","after":["#0"]},{"shell":"true","after":["#1"]}]}'
wait_final 20 "$J0" "$J1" "$J2"
check "failing pipeline: first failed" test -f "$SPOOL/$J0.failed"
check "  second failed" test -f "$SPOOL/$J1.failed"
check "  its error names the first" has_error "$J1" "$J0"
check "  last failed cleanly" test -f "$SPOOL/$J2.failed"
check "  its error names the second" has_error "$J2" "$J1"
eq "  the last never ran (no attempt)" "$(field "$J2" .attempts)" 0

batch '{"jobs":[{"shell":"exit 1"},{"shell":"true","after_any":["#0"]}]}'
wait_final 20 "$J0" "$J1"
check "batch after_any: runs after a failure" test -f "$SPOOL/$J1.completed"

# ---- hand-written .pending files with after ----
H1=$(submit '{"shell":"sleep 0.5"}')
H2=$(submit "{\"shell\":\"true\",\"after\":[\"$H1\"]}")
wait_final 20 "$H1" "$H2"
check "hand-written after: completed" test -f "$SPOOL/$H2.completed"
check "  started after its dependency finished" test \
	"$(field "$H2" .started_at)" \> "$(field "$H1" .finished_at)" -o \
	"$(field "$H2" .started_at)" = "$(field "$H1" .finished_at)"
H3=$(submit '{"shell":"true","after":["00000000-0000-4000-8000-000000000000"]}')
wait_final 10 "$H3"
check "hand-written after an id that does not exist: failed" \
	test -f "$SPOOL/$H3.failed"

# ---- cancelling a dependency fails its dependents ----
post '{"shell":"true","delay":"1h"}'
P=$ID
post "{\"shell\":\"true\",\"after\":[\"$P\"]}"
Q=$ID
sleep 0.5
check "waiting on a delayed job: still pending" test -f "$SPOOL/$Q.pending"
req DELETE "/api/v1/jobs/$P" -H "$UA"
eq "  cancel the dependency (202)" "$CODE" 202
wait_final 10 "$Q"
check "  the dependent ended failed" test -f "$SPOOL/$Q.failed"
check "  naming the cancelled job" has_error "$Q" "$P"
post '{"shell":"true","delay":"1h"}'
P2=$ID
post "{\"shell\":\"true\",\"after\":[\"$P2\"]}"
req DELETE "/api/v1/jobs/$ID" -H "$UA"
eq "a waiting job can be cancelled (202)" "$CODE" 202
check "  it is cancelled" test -f "$SPOOL/$ID.cancelled"
req DELETE "/api/v1/jobs/$P2" -H "$UA"

# ---- the cleaner keeps a job a pending job waits for ----
stop_pid "$PROC_PID"
read -r Z </proc/sys/kernel/random/uuid
read -r Z2 </proc/sys/kernel/random/uuid
for z in "$Z" "$Z2"; do
	printf '{"id":"%s","shell":"true","status":"completed","exit_code":0}\n' \
		"$z" >"$SPOOL/$z.completed"
	touch -d '10 days ago' "$SPOOL/$z.completed"
done
W=$(submit "{\"shell\":\"true\",\"after\":[\"$Z\"]}")
"$JS_BIN/jobspool-cleaner" --spool "$SPOOL" --max-age 1d >/dev/null 2>&1
check "cleaner: an old job nobody waits for is removed" \
	test ! -f "$SPOOL/$Z2.completed"
check "  one a pending job waits for is kept" test -f "$SPOOL/$Z.completed"
# a cycle of hand-written files (written while no processor runs)
read -r X </proc/sys/kernel/random/uuid
read -r Y </proc/sys/kernel/random/uuid
printf '{"shell":"true","after":["%s"]}\n' "$X" >"$SPOOL/tmp/y" &&
	mv "$SPOOL/tmp/y" "$SPOOL/$Y.pending"
printf '{"shell":"true","after":["%s"]}\n' "$Y" >"$SPOOL/tmp/x" &&
	mv "$SPOOL/tmp/x" "$SPOOL/$X.pending"
start_proc -j 2
wait_final 15 "$X" "$Y"
check "hand-written cycle: both failed" test -f "$SPOOL/$X.failed" -a \
	-f "$SPOOL/$Y.failed"
check "  one says cycle" sh -c "cat '$SPOOL/$X.failed' '$SPOOL/$Y.failed' |
	grep -q cycle"
wait_final 10 "$W"
check "  the dependent then ran" test -f "$SPOOL/$W.completed"
"$JS_BIN/jobspool-cleaner" --spool "$SPOOL" --max-age 1d >/dev/null 2>&1
check "  once it has, the old job goes" test ! -f "$SPOOL/$Z.completed"

proc_check_logs
finish
