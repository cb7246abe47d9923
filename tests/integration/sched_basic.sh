#!/bin/sh
# Scheduling (issue 17, first part): delayed start (run_at, delay) over
# HTTP, in batches and in a hand-written .pending, honoured by the worker
# claim route and by a local processor; bad values; dedicated (exclusive)
# processors, local and through the claim route; PUT of priority and start
# time while pending; re-run of a final job.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

command -v jq >/dev/null 2>&1 || skip_suite install "jq is not installed"

UA="Authorization: Bearer us3r"
OA="Authorization: Bearer 0ther"
WA="Authorization: Bearer w0rker"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# tms TIME: milliseconds since the epoch of an RFC 3339 time (UTC, ms)
tms() { jq -rn --arg t "$1" '($t | capture("^(?<s>[^.]*)(\\.(?<f>[0-9]+))?Z$"))
	as $c | (($c.s + "Z") | fromdateiso8601) * 1000 +
	(($c.f // "0") | .[0:3] | tonumber) | floor'; }
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
post() {	# JSON -> $ID
	req POST /api/v1/jobs -H "$UA" -d "$1"
	ID=$(printf '%s' "$BODY" | jq -r '.id // empty' 2>/dev/null)
}

proc_setup
check "apiserver starts" start_api --token u:us3r --token o:0ther \
	--token w:w0rker:worker --token a:adm1n:admin --lease 1h

# ---- delay at submission; the worker claim route waits for it ----
t0=$(now_ms)
post '{"shell":"true","delay":"2s"}'
eq "delay 2s: 201" "$CODE" 201
D1=$ID
jq_eq "  status pending" .status pending
RA=$(printf '%s' "$BODY" | jq -r .run_at)
ra=$(tms "$RA")
check "  run_at is about now + 2 s ($RA)" \
	test "$ra" -ge $((t0 + 2000)) -a "$ra" -le $(( $(now_ms) + 2000 ))
eq "  stored as run_at in the .pending" \
	"$(jq -r .run_at "$SPOOL/$D1.pending")" "$RA"
eq "  no delay stored" "$(jq -r 'has("delay")' "$SPOOL/$D1.pending")" false
claim '{"wait":0}'
eq "  not claimed before its time (204)" "$CODE" 204
check "  still pending" test -f "$SPOOL/$D1.pending"
req GET "/api/v1/jobs?status=pending" -H "$UA"
jq_eq "  listed as pending" "[.jobs[].id] | index(\"$D1\") != null" true
claim '{"wait":10}'
tc=$(now_ms)
eq "  a waiting claim gets it" "$CID" "$D1"
check "  not before run_at" test "$tc" -ge "$ra"
check "  within 1.5 s after run_at ($((tc - ra)) ms)" test "$tc" -le $((ra + 1500))
fin "$D1" "$G" 0

# run_at in the past, with a zone offset: at once
post '{"shell":"true","run_at":"2020-01-01T01:00:00+01:00"}'
eq "run_at in the past: 201" "$CODE" 201
jq_eq "  normalised to UTC" .run_at "2020-01-01T00:00:00.000Z"
P1=$ID
claim '{"wait":0}'
eq "  claimed at once" "$CID" "$P1"
fin "$P1" "$G" 0

# ---- bad values: 400 with a JSON error, nothing in the spool ----
before=$(spool_snapshot)
for b in '{"shell":"true","delay":"-5s"}' '{"shell":"true","delay":"soon"}' \
	'{"shell":"true","delay":-1}' '{"shell":"true","delay":true}' \
	'{"shell":"true","delay":"99999d"}' \
	'{"shell":"true","delay":5,"run_at":"2030-01-01T00:00:00Z"}' \
	'{"shell":"true","run_at":"tomorrow"}' \
	'{"shell":"true","run_at":"2030-01-01T00:00:00"}' \
	'{"shell":"true","run_at":"2030-02-30T00:00:00Z"}' \
	'{"shell":"true","run_at":1893456000}' \
	'{"shell":"true","not_before":1893456000000}'; do
	req POST /api/v1/jobs -H "$UA" -d "$b"
	jerr "bad start time $b: 400" 400
done
req POST /api/v1/batches -H "$UA" -d \
	'{"jobs":[{"shell":"true","delay":"1m"},{"shell":"true","delay":"x"}]}'
jerr "a batch with one bad delay: 400" 400
jq_eq "  the error names the field" '.error | test("delay")' true
req POST /api/v1/batches -H "$UA" -H 'Content-Type: application/x-ndjson' \
	--data-binary "$(printf '%s\n' '{"shell":"true"}' \
	'{"shell":"true","run_at":"2030-01-01T00:00:00Z","delay":1}')"
jerr "an NDJSON batch with run_at and delay: 400" 400
eq "  nothing written to the spool" "$(spool_snapshot)" "$before"

# batches: JSON and NDJSON
req POST /api/v1/batches -H "$UA" -d \
	'{"jobs":[{"shell":"true","delay":"1h"},{"shell":"true","run_at":"2030-01-01T00:00:00Z"}]}'
eq "a JSON batch with delay and run_at: 201" "$CODE" 201
B1=$(printf '%s' "$BODY" | jq -r '.jobs[0]')
B2=$(printf '%s' "$BODY" | jq -r '.jobs[1]')
b1=$(tms "$(jq -r .run_at "$SPOOL/$B1.pending")")
check "  delay 1h stored as run_at" test "$b1" -ge $(( $(now_ms) + 3500000 ))
eq "  run_at stored" "$(jq -r .run_at "$SPOOL/$B2.pending")" \
	"2030-01-01T00:00:00.000Z"
req POST /api/v1/batches -H "$UA" -H 'Content-Type: application/x-ndjson' \
	--data-binary "$(printf '%s\n' '{"shell":"true","delay":"15m"}')"
eq "an NDJSON batch with delay: 201" "$CODE" 201
B3=$(printf '%s' "$BODY" | jq -r '.jobs[0]')
check "  stored as run_at" test "$(jq -r .run_at "$SPOOL/$B3.pending")" != null
claim '{"wait":0}'
eq "  none of the waiting jobs is claimed" "$CODE" 204

# ---- a waiting job is changed and cancelled like any pending job ----
req PUT "/api/v1/jobs/$B1" -H "$UA" -d '{"name":"later"}'
eq "PUT name of a waiting job: 200" "$CODE" 200
jq_eq "  keeps its run_at" ".run_at | . != null" true
req PUT "/api/v1/jobs/$B2" -H "$UA" -d '{"run_at":null}'
eq "PUT run_at null (start now): 200" "$CODE" 200
jq_eq "  run_at null" .run_at null
claim '{"wait":5}'
eq "  then it is claimed" "$CID" "$B2"
fin "$B2" "$G" 1
req PUT "/api/v1/jobs/$B2" -H "$UA" -d '{"priority":3}'
jerr "PUT priority of a final job: 409" 409
req PUT "/api/v1/jobs/$B2" -H "$UA" -d '{"delay":"1m"}'
jerr "PUT delay of a final job: 409" 409

# ---- re-run of a final job ----
old=$(cat "$SPOOL/$B2.failed")
req POST "/api/v1/jobs/$B2/rerun" -H "$UA"
eq "rerun of a failed job: 201" "$CODE" 201
R1=$(printf '%s' "$BODY" | jq -r '.id // empty')
jq_eq "  rerun_of the old job" .rerun_of "$B2"
jq_eq "  a new id" ".id != \"$B2\"" true
jq_eq "  a fresh state" '[.status, .attempts, .exit_code, .started_at] | tostring' \
	'["pending",0,null,null]'
jq_eq "  the same specification" '[.shell, .owner, .priority] | tostring' \
	'["true","u",0]'
eq "  Location" "$(header Location)" "/api/v1/jobs/$R1"
check "  a new .pending" test -f "$SPOOL/$R1.pending"
eq "  the old job is unchanged" "$(cat "$SPOOL/$B2.failed")" "$old"
req POST "/api/v1/jobs/$R1/rerun" -H "$UA"
jerr "rerun of a pending job: 409" 409
req POST "/api/v1/jobs/$B2/rerun" -H "$OA"
jerr "rerun of another token's job: 404" 404
req POST "/api/v1/jobs/00000000-0000-4000-8000-000000000000/rerun" -H "$UA"
jerr "rerun of no job: 404" 404
req POST "/api/v1/jobs/../rerun" -H "$UA"
check "rerun of a bad id: 4xx" test "$CODE" -ge 400 -a "$CODE" -lt 500
claim '{"wait":5}'
eq "  the re-run is claimed" "$CID" "$R1"
fin "$R1" "$G" 0
req DELETE "/api/v1/jobs/$B3" -H "$UA"
eq "DELETE of a waiting job: 202" "$CODE" 202
check "  cancelled" test -f "$SPOOL/$B3.cancelled"
req PUT "/api/v1/jobs/$B1" -H "$UA" -d '{"delay":"1s"}'
eq "PUT delay 1s of a job waiting for an hour: 200" "$CODE" 200
b1=$(tms "$(jq -r .run_at "$SPOOL/$B1.pending")")
check "  its run_at moved to now + 1 s" test "$b1" -le $(( $(now_ms) + 1000 ))
claim '{"wait":5}'
eq "  claimed soon after" "$CID" "$B1"
req PUT "/api/v1/jobs/$B1" -H "$UA" -d '{"priority":3}'
jerr "PUT priority of a running job: 409" 409
jq_eq "  says why" '.error | test("pending")' true
fin "$B1" "$G" 0

# ---- PUT priority changes the claim order ----
post '{"shell":"true","name":"first"}'
Q1=$ID
post '{"shell":"true","name":"second"}'
Q2=$ID
before=$(cat "$SPOOL/$Q2.pending")
for b in '{"priority":"high"}' '{"priority":1.5}' '{"priority":10000000}' \
	'{"run_at":"now"}' '{"delay":1,"run_at":null}'; do
	req PUT "/api/v1/jobs/$Q2" -H "$UA" -d "$b"
	jerr "PUT $b: 400" 400
done
eq "  the job is unchanged" "$(cat "$SPOOL/$Q2.pending")" "$before"
req PUT "/api/v1/jobs/$Q2" -H "$OA" -d '{"priority":5}'
jerr "PUT priority of another token's job: 404" 404
req PUT "/api/v1/jobs/$Q2" -H "$UA" -d '{"priority":5}'
eq "PUT priority 5 of the second job: 200" "$CODE" 200
jq_eq "  priority 5" .priority 5
claim '{"wait":0}'
eq "  it is claimed first" "$CID" "$Q2"
fin "$Q2" "$G" 0
claim '{"wait":0}'
eq "  then the first" "$CID" "$Q1"
fin "$Q1" "$G" 1

# ---- a dedicated (exclusive) worker through the claim route ----
post '{"shell":"true"}'
U1=$ID
claim '{"labels":["gpu"],"exclusive":"yes","wait":0}'
jerr "exclusive \"yes\": 400" 400
claim '{"labels":["gpu"],"exclusive":true,"wait":0}'
eq "an exclusive gpu worker does not take an unlabelled job" "$CODE" 204
post '{"shell":"true","labels":["gpu"]}'
G1=$ID
claim '{"labels":["gpu"],"exclusive":true,"wait":0}'
eq "  it takes a gpu job" "$CID" "$G1"
fin "$G1" "$G" 0
claim '{"labels":["gpu"],"exclusive":false,"wait":0}'
eq "  an ordinary gpu worker takes the unlabelled one" "$CID" "$U1"
fin "$U1" "$G" 0

api_stop

# ---- local processors ----
proc_setup
start_api --token u:us3r --token o:0ther --token w:w0rker:worker
# a hand-written .pending with run_at 2 s ahead
ra_ms=$(( $(now_ms) + 2000 ))
RA=$(date -u -d "@$((ra_ms / 1000))" +%Y-%m-%dT%H:%M:%S).$(printf '%03d' $((ra_ms % 1000)))Z
H1=$(submit "{\"shell\":\"true\",\"run_at\":\"$RA\"}")
# a hand-written delay counts from when the file was written
t_h2=$(now_ms)
H2=$(submit '{"shell":"true","delay":"2s"}')
# and one over HTTP
post '{"shell":"true","delay":2}'
A1=$ID
start_proc -j 4
P_PID=$PROC_PID
sleep 1
check "hand-written run_at: still pending after 1 s" test -f "$SPOOL/$H1.pending"
check "hand-written delay: still pending after 1 s" test -f "$SPOOL/$H2.pending"
check "HTTP delay: still pending after 1 s" test -f "$SPOOL/$A1.pending"
check "all three run" wait_final 10 "$H1" "$H2" "$A1"
s=$(tms "$(field "$H1" .started_at)")
check "  run_at honoured: started $((s - ra_ms)) ms after it" \
	test "$s" -ge "$ra_ms" -a "$s" -le $((ra_ms + 1500))
eq "  completed" "$(field "$H1" .status)" completed
s=$(tms "$(field "$H2" .started_at)")
# (the file's mtime is the kernel's coarse clock, up to a tick behind the
# time read before writing it: 50 ms of slack below)
check "  hand-written delay honoured ($((s - t_h2)) ms)" \
	test "$s" -ge $((t_h2 + 1950)) -a "$s" -le $((t_h2 + 3800))
eq "  stored with its run_at" "$(field "$H2" '.run_at != null and (has("delay") | not)')" true
s=$(tms "$(field "$A1" .started_at)")
c=$(tms "$(field "$A1" .created_at)")
check "  HTTP delay honoured ($((s - c)) ms)" \
	test "$s" -ge $((c + 2000)) -a "$s" -le $((c + 3500))
# a hand-written run_at in the past runs at once; a bad one fails
H3=$(submit '{"shell":"true","run_at":"2001-01-01T00:00:00Z"}')
H4=$(submit '{"shell":"true","run_at":"yesterday"}')
check "run_at in the past and a bad run_at end at once" wait_final 3 "$H3" "$H4"
eq "  the past one completed" "$(field "$H3" .status)" completed
eq "  the bad one failed" "$(field "$H4" .status)" failed
check "  saying why" sh -c "jq -r .error '$(final "$H4")' | grep -q run_at"
stop_proc "$P_PID"

# ---- PUT priority changes a local processor's order ----
B=$(submit "{\"shell\":\"while [ ! -e $WORK/go ]; do sleep 0.05; done\"}")
start_proc -j 1
P_PID=$PROC_PID
wait_until 5 test -f "$SPOOL/$B.wip"
post "{\"shell\":\"echo a >> $WORK/order\"}"
L1=$ID
post "{\"shell\":\"echo b >> $WORK/order\"}"
L2=$ID
sleep 0.3
req PUT "/api/v1/jobs/$L2" -H "$UA" -d '{"priority":9}'
eq "PUT priority while the processor is busy: 200" "$CODE" 200
sleep 0.3
touch "$WORK/go"
check "both run" wait_final 10 "$L1" "$L2"
eq "  in the new order" "$(tr '\n' ' ' <"$WORK/order")" "b a "
# a start time moved later after the processor indexed the job
post "{\"shell\":\"true\",\"delay\":1}"
M1=$ID
req PUT "/api/v1/jobs/$M1" -H "$UA" -d '{"delay":"1h"}'
eq "PUT delay 1h: 200" "$CODE" 200
sleep 2
check "  the job waits for its new time" test -f "$SPOOL/$M1.pending"
req PUT "/api/v1/jobs/$M1" -H "$UA" -d '{"run_at":"2001-01-01T00:00:00Z"}'
check "  and runs once moved back" wait_final 3 "$M1"
stop_proc "$P_PID"

# ---- an exclusive processor never takes an unlabelled job ----
"$JS_BIN/jobspool-processor" --spool "$SPOOL" --exclusive >/dev/null \
	2>"$WORK/excl.err"
eq "--exclusive without --label: exit 2" "$?" 2
check "  says --label is needed" grep -q -- "--label" "$WORK/excl.err"
start_proc -j 2 --label gpu --exclusive
X_PID=$PROC_PID
N1=$(submit '{"shell":"true"}')
N2=$(submit '{"shell":"true","labels":["big"]}')
X1=$(submit '{"shell":"true","labels":["gpu"]}')
check "the gpu job runs on the exclusive processor" wait_final 5 "$X1"
eq "  by it" "$(field "$X1" .worker | sed 's/.*://')" "$X_PID"
sleep 1
check "  the unlabelled job stays pending" test -f "$SPOOL/$N1.pending"
check "  so does one with another label" test -f "$SPOOL/$N2.pending"
start_proc -j 2
O_PID=$PROC_PID
check "an ordinary processor takes the unlabelled job" wait_final 5 "$N1"
eq "  by it" "$(field "$N1" .worker | sed 's/.*://')" "$O_PID"
check "  the job with label big stays pending" test -f "$SPOOL/$N2.pending"
X2=$(submit '{"shell":"true","labels":["gpu"]}')
check "a second gpu job runs" wait_final 5 "$X2"
eq "  on the exclusive processor" "$(field "$X2" .worker | sed 's/.*://')" "$X_PID"
for i in 1 2 3 4 5 6; do submit '{"shell":"true"}' >>"$WORK/many"; done
check "six more unlabelled jobs run" wait_final 10 $(cat "$WORK/many")
n=0
for i in $(cat "$WORK/many"); do
	[ "$(field "$i" .worker | sed 's/.*://')" = "$X_PID" ] && n=$((n + 1))
done
eq "  none on the exclusive processor" "$n" 0
stop_proc "$X_PID"
stop_proc "$O_PID"

# ---- an exclusive processor in remote mode ----
RW=$(mktemp -d /tmp/jobspool-rw.XXXXXX)
chmod 0750 "$RW"
T_DIRS="$T_DIRS $RW"
post '{"shell":"true"}'
RN=$ID
"$JS_BIN/jobspool-processor" --spool "$RW" --server "$URL" --token w0rker \
	--label gpu --exclusive -j 2 --claim-wait 1s 2>>"$WORK/proc.remote.log" &
R_PID=$!
T_PIDS="$T_PIDS $R_PID"
post '{"shell":"true","labels":["gpu"]}'
RG=$ID
check "a remote exclusive gpu processor runs a gpu job" wait_final 10 "$RG"
eq "  completed" "$(field "$RG" .status)" completed
sleep 1.5
check "  but never the unlabelled job" test -f "$SPOOL/$RN.pending"
stop_proc "$R_PID"
api_stop
proc_check_logs
finish
