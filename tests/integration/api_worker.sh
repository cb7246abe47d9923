#!/bin/sh
# jobspool-apiserver: the worker routes remote processors use (issue 8),
# driven with curl alone: roles, claim (long-poll, labels, priority,
# not_before), log upload with offsets, heartbeat, finish, requeue, and the
# recovery of an expired remote lease by the apiserver.
. "$(dirname "$0")/lib.sh"

W=$(mktemp -d /tmp/jobspool-worker.XXXXXX)
T_DIRS="$T_DIRS $W"
WA="Authorization: Bearer w0rker"	# worker role
UA="Authorization: Bearer us3r"		# ordinary token
AA="Authorization: Bearer adm1n"	# admin token

has_line() { grep -q -x "$2" "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
submit() {	# JSON -> $ID
	req POST /api/v1/jobs -H "$UA" -d "$1"
	ID=$(printf '%s' "$BODY" | jq -r .id)
}
claim() {	# BODY -> $CODE $BODY, $CID $G
	req POST /api/v1/workers/claim -H "$WA" -d "$1"
	CID=$(printf '%s' "$BODY" | jq -r '.job.id // empty' 2>/dev/null)
	G=$(printf '%s' "$BODY" | jq -r '.lease.token // empty' 2>/dev/null)
}
logup() {	# ID TOKEN OFFSET DATA [curl args]
	l_id=$1 l_g=$2 l_o=$3 l_d=$4; shift 4
	req POST "/api/v1/workers/jobs/$l_id/log?token=$l_g&offset=$l_o" \
		-H "$WA" --data-binary "$l_d" "$@"
}
hb() { req POST "/api/v1/workers/jobs/$1/heartbeat" -H "$WA" -d "{\"token\":$2}"; }
fin() { req POST "/api/v1/workers/jobs/$1/finish" -H "$WA" -d "$2"; }

# ---- start-up: a role other than admin or worker is bad usage ----
new_spool
"$JS_BIN/jobspool-apiserver" --spool "$SPOOL" --listen 127.0.0.1:0 \
	--token x:y:boss >/dev/null 2>"$W/err"
eq "token role 'boss' is refused (exit 2)" "$?" 2
check "  with a message naming the roles" grep -q worker "$W/err"
"$JS_BIN/jobspool-apiserver" --spool "$SPOOL" --listen 127.0.0.1:0 \
	--lease 0 >/dev/null 2>"$W/err"
eq "--lease 0 is refused (exit 2)" "$?" 2
check "--help lists --lease, default 60s" \
	sh -c "'$JS_BIN/jobspool-apiserver' --help | grep -q -- '--lease.*default 60s'"

check "server starts" start_api --token w:w0rker:worker --token u:us3r \
	--token a:adm1n:admin --max-body 1K --lease 5m

# ---- roles ----
req POST /api/v1/workers/claim -d '{"wait":0}'
jerr "claim without a token: 401" 401
req POST /api/v1/workers/claim -H "Authorization: Bearer wrong" -d '{"wait":0}'
jerr "claim with a wrong token: 401" 401
req POST /api/v1/workers/claim -H "$UA" -d '{"wait":0}'
jerr "claim with an ordinary token: 403" 403
jq_eq "  says which token lacks the role" .error \
	"token 'u' does not have the worker role"
req POST /api/v1/workers/claim -H "$AA" -d '{"wait":0}'
jerr "claim with an admin token: 403" 403
req POST "/api/v1/workers/jobs/00000000-0000-4000-8000-000000000000/heartbeat" \
	-H "$UA" -d '{"token":1}'
jerr "heartbeat with an ordinary token: 403" 403
req POST "/api/v1/workers/jobs/00000000-0000-4000-8000-000000000000/log?token=1&offset=0" \
	-H "$UA" --data-binary x
jerr "log upload with an ordinary token: 403" 403
req GET /api/v1/jobs -H "$WA"
eq "a worker token is an ordinary token elsewhere" "$CODE" 200

# ---- claim: nothing to do, bad input ----
SNAP0=$(spool_snapshot)
claim '{"wait":0}'
eq "claim on an empty spool: 204" "$CODE:$BODY" "204:"
req GET /api/v1/workers/claim -H "$WA"
jerr "GET claim: 405" 405
eq "  Allow: POST" "$(header Allow)" POST
claim '{"wait":301}'
jerr "wait 301: 400" 400
claim '{"wait":-1}'
jerr "wait -1: 400" 400
claim '{"wait":"5"}'
jerr "wait as a string: 400" 400
claim '{"labels":"gpu","wait":0}'
jerr "labels not an array: 400" 400
claim '{"labels":["g p u"],"wait":0}'
jerr "a label with a space: 400" 400
claim '{"worker":"","wait":0}'
jerr "an empty worker name: 400" 400
claim "{\"worker\":\"$(head -c 300 /dev/zero | tr '\0' x)\",\"wait\":0}"
jerr "a worker name of 300 characters: 400" 400
claim '{"wait":0'
jerr "malformed JSON: 400" 400
req POST /api/v1/workers/claim -H "$WA" -H 'Content-Type: text/plain' -d '{}'
jerr "claim as text/plain: 415" 415
req POST /api/v1/workers/jobs/not-a-uuid/heartbeat -H "$WA" -d '{"token":1}'
jerr "heartbeat of a bad id: 400" 400
req POST /api/v1/workers/jobs/00000000-0000-4000-8000-000000000000/heartbeat \
	-H "$WA" -d '{"token":1}'
jerr "heartbeat of no such job: 404" 404
req POST /api/v1/workers/jobs/00000000-0000-4000-8000-000000000000/heartbeat \
	-H "$WA" -d '{}'
jerr "heartbeat without a token: 400" 400
req POST /api/v1/workers/jobs/00000000-0000-4000-8000-000000000000/finish \
	-H "$WA" -d '{"token":1,"job":{"status":"completed"}}'
jerr "finish of no such job: 404" 404
logup 00000000-0000-4000-8000-000000000000 1 0 x
jerr "log of no such job: 404" 404
logup not-a-uuid 1 0 x
jerr "log of a bad id: 400" 400
req PUT /api/v1/workers/jobs/00000000-0000-4000-8000-000000000000/log -H "$WA"
jerr "PUT log: 405" 405
eq "bad worker requests leave the spool unchanged" "$(spool_snapshot)" "$SNAP0"

# ---- claim: a job, its lease, the stored .wip ----
submit '{"shell":"echo hi","name":"first"}'
J1=$ID
claim '{"worker":"hostb:4242","wait":5}'
eq "claim: 200" "$CODE" 200
eq "  the job" "$CID" "$J1"
jq_eq "  status running" .job.status running
jq_eq "  worker recorded" .job.worker hostb:4242
jq_eq "  attempts 1" .job.attempts 1
jq_eq "  lease token = generation" '.lease.token == .job.generation' true
jq_eq "  lease_ms is --lease (5m)" .lease.lease_ms 300000
jq_eq "  heartbeat_ms a third" .lease.heartbeat_ms 100000
jq_eq "  log_offset 0" .log_offset 0
G1=$G
check "  the job is <id>.wip" test -f "$SPOOL/$J1.wip"
eq "  .wip says running, worker, no pid" \
	"$(jq -r '[.status, .worker, (.pid // "none")] | join(" ")' "$SPOOL/$J1.wip")" \
	"running hostb:4242 none"
req GET "/api/v1/jobs/$J1" -H "$UA"
jq_eq "  its owner sees it running" .status running
claim '{"wait":0}'
eq "the same job is not handed out twice" "$CODE" 204
submit '{"shell":"true"}'
JE=$ID
req POST /api/v1/workers/claim -H "$WA" -d ''
eq "a claim with an empty body gets a job" "$(printf '%s' "$BODY" | jq -r .job.id)" "$JE"
jq_eq "  default worker name: token@address" .job.worker w@127.0.0.1
fin "$JE" "{\"token\":$(printf '%s' "$BODY" | jq .lease.token),\"job\":{\"status\":\"completed\",\"exit_code\":0}}"
eq "  finished" "$CODE" 200

# ---- long poll: woken by a submit and by a file written by hand ----
curl -s -o "$W/lp1" -w '%{http_code}' --max-time 30 -X POST -H "$WA" \
	-d '{"wait":20}' "$URL/api/v1/workers/claim" >"$W/lp1.code" &
LP=$!
sleep 1
check "  long poll still waiting" kill -0 "$LP"
submit '{"shell":"echo woken"}'
t0=$(now_ms)
J2=$ID
wait_until 20 gone "$LP"
t1=$(now_ms)
eq "long poll woken by a submit: 200" "$(cat "$W/lp1.code")" 200
eq "  with that job" "$(jq -r .job.id "$W/lp1")" "$J2"
echo "# claim answered within $((t1 - t0)) ms of the submit's answer"
check "  within 1 s of the submit" test $((t1 - t0)) -lt 1000
G2=$(jq -r .lease.token "$W/lp1")

curl -s -o "$W/lp2" -w '%{http_code}' --max-time 30 -X POST -H "$WA" \
	-d '{"wait":20}' "$URL/api/v1/workers/claim" >"$W/lp2.code" &
LP=$!
sleep 1
J3=$(cat /proc/sys/kernel/random/uuid)
printf '{"shell":"echo by hand"}\n' >"$SPOOL/tmp/hand"
t0=$(now_ms)
mv "$SPOOL/tmp/hand" "$SPOOL/$J3.pending"
wait_until 20 gone "$LP"
t1=$(now_ms)
eq "long poll woken by a hand-written .pending: 200" "$(cat "$W/lp2.code")" 200
eq "  with that job" "$(jq -r .job.id "$W/lp2")" "$J3"
echo "# claim answered $((t1 - t0)) ms after the rename"
check "  within 1 s of the rename" test $((t1 - t0)) -lt 1000
G3=$(jq -r .lease.token "$W/lp2")

t0=$(now_ms)
claim '{"wait":1.5}'
t1=$(now_ms)
eq "a long poll with nothing to do: 204" "$CODE" 204
check "  after about wait seconds" test $((t1 - t0)) -ge 1400 -a $((t1 - t0)) -lt 6000

# ---- labels ----
submit '{"shell":"true","labels":["gpu"]}'
JG=$ID
claim '{"wait":0}'
eq "a gpu job is not given to a worker without labels" "$CODE" 204
claim '{"wait":0,"labels":["big"]}'
eq "  nor to a worker with other labels" "$CODE" 204
submit '{"shell":"true","labels":["gpu","big"]}'
JGB=$ID
claim '{"wait":0,"labels":["gpu"]}'
eq "a gpu worker gets the gpu job" "$CID" "$JG"
GG=$G
claim '{"wait":0,"labels":["gpu"]}'
eq "  but not the gpu+big job" "$CODE" 204
claim '{"wait":0,"labels":["big","gpu","x"]}'
eq "a worker with every label gets it" "$CID" "$JGB"
GGB=$G
submit '{"shell":"true"}'
JN=$ID
claim '{"wait":0,"labels":["gpu"]}'
eq "a job without labels runs on a labelled worker" "$CID" "$JN"
GN=$G

# ---- priority, submission order, not_before ----
submit '{"shell":"true","priority":0,"name":"a"}'; PA=$ID
submit '{"shell":"true","priority":5,"name":"b"}'; PB=$ID
submit '{"shell":"true","priority":0,"name":"c"}'; PC=$ID
submit '{"shell":"true","priority":-3,"name":"d"}'; PD=$ID
order="" done4=""
for i in 1 2 3 4; do
	claim '{"wait":0}'
	order="$order $(printf '%s' "$BODY" | jq -r .job.name)"
	done4="$done4 $CID:$G"
done
eq "claims in priority, then submission order" "$order" " b a c d"
for j in $done4; do	# finished, so their leases never expire in this test
	fin "${j%%:*}" "{\"token\":${j#*:},\"job\":{\"status\":\"completed\"}}"
	[ "$CODE" = 200 ] || fail "finish $j ($CODE)"
done
JNB=$(cat /proc/sys/kernel/random/uuid)
nb=$(( $(now_ms) + 2500 ))
printf '{"shell":"true","not_before":%s}\n' "$nb" >"$SPOOL/tmp/nb"
mv "$SPOOL/tmp/nb" "$SPOOL/$JNB.pending"
claim '{"wait":0}'
eq "a job before its not_before is not claimed" "$CODE" 204
claim '{"wait":10}'
t1=$(now_ms)
eq "  a waiting claim gets it once not_before passed" "$CID" "$JNB"
GNB=$G
check "  not before" test "$t1" -ge "$nb"
check "  but soon after" test $((t1 - nb)) -lt 3000

# ---- a pending file that is not a job is failed, not handed out ----
JBAD=$(cat /proc/sys/kernel/random/uuid)
printf 'not json at all\n' >"$SPOOL/tmp/bad"
mv "$SPOOL/tmp/bad" "$SPOOL/$JBAD.pending"
JBADL=$(cat /proc/sys/kernel/random/uuid)
printf '{"shell":"true","labels":"gpu"}\n' >"$SPOOL/tmp/bad"
mv "$SPOOL/tmp/bad" "$SPOOL/$JBADL.pending"
JBADW=$(cat /proc/sys/kernel/random/uuid)
printf '{"shell":"true","labels":["a b"]}\n' >"$SPOOL/tmp/bad"
mv "$SPOOL/tmp/bad" "$SPOOL/$JBADW.pending"
claim '{"wait":0}'
eq "invalid pending files: nothing handed out" "$CODE" 204
check "  a file that is no JSON is failed" test -f "$SPOOL/$JBAD.failed"
check "  a job with bad labels is failed" test -f "$SPOOL/$JBADL.failed"
check "  a job with a label that is not a word is failed" \
	test -f "$SPOOL/$JBADW.failed"
eq "  saying why" "$(jq -r .error "$SPOOL/$JBADL.failed" | grep -c labels)" 1

# ---- log upload ----
logup "$J1" "$G1" 3 "gap"
jerr "a gap before any log: 416" 416
jq_eq "  with size 0" .size 0
check "  and no log is created" test ! -e "$SPOOL/$J1.log"
logup "$J1" $((G1 + 1)) 0 "x"
jerr "a wrong token before any log: 409" 409
check "  no log is created" test ! -e "$SPOOL/$J1.log"
logup "$J1" "$G1" 0 ""
eq "an empty upload: 200" "$CODE:$(printf '%s' "$BODY" | jq -c .)" '200:{"size":0}'
check "  creates no log" test ! -e "$SPOOL/$J1.log"
printf 'one\ntwo\n' >"$W/d1"
printf 'two\nthree\n' >"$W/d2"
logup "$J1" "$G1" 0 "@$W/d1"
eq "log upload at 0: 200" "$CODE" 200
jq_eq "  size" .size 8
logup "$J1" "$G1" 4 "@$W/d2" -H 'Content-Type: application/octet-stream'
eq "an overlapping resend: 200" "$CODE" 200
jq_eq "  size counts the new bytes only" .size 14
eq "  the log has each byte once" "$(cat "$SPOOL/$J1.log")" "$(printf 'one\ntwo\nthree')"
logup "$J1" "$G1" 0 "one"
jq_eq "a resend of old bytes changes nothing" .size 14
logup "$J1" "$G1" 20 "gap"
jerr "a gap: 416" 416
jq_eq "  with the size" .size 14
logup "$J1" $((G1 + 1)) 14 "x"
jerr "a wrong token: 409" 409
jq_eq "  with the size" .size 14
logup "$J1" "$G1" -1 "x"
jerr "a negative offset: 400" 400
logup "$J1" abc 0 "x"
jerr "a bad token: 400" 400
req POST "/api/v1/workers/jobs/$J1/log?token=$G1" -H "$WA" --data-binary x
jerr "no offset: 400" 400
eq "  the log is unchanged" "$(wc -c <"$SPOOL/$J1.log")" 14
head -c 200000 /dev/urandom | base64 >"$W/big"
bigsize=$(wc -c <"$W/big")
logup "$J1" "$G1" 14 "@$W/big"
eq "an upload far over --max-body: 200" "$CODE" 200
jq_eq "  all of it stored" .size $((14 + bigsize))
eq "  byte for byte" "$(tail -c +15 "$SPOOL/$J1.log" | cmp - "$W/big" && echo same)" same
req GET "/api/v1/jobs/$J1/log" -H "$UA"
eq "the owner reads the uploaded log" "$(printf '%s' "$BODY" | head -n 1)" one

# ---- a follower sees an upload live ----
curl -s -N --max-time 60 -H "$UA" "$URL/api/v1/jobs/$J2/log?follow=1" >"$W/follow" &
FOL=$!
mkfifo "$W/fifo"
curl -s -o "$W/up" -w '%{http_code}' --max-time 60 -X POST -H "$WA" \
	-H 'Content-Type: application/octet-stream' -T - \
	"$URL/api/v1/workers/jobs/$J2/log?token=$G2&offset=0" <"$W/fifo" >"$W/up.code" &
UP=$!
exec 3>"$W/fifo"
printf 'live one\n' >&3
check "a follower sees uploaded bytes while the upload goes on" \
	wait_until 10 has_line "$W/follow" "live one"
check "  (the upload is still open)" kill -0 "$UP"
printf 'live two\n' >&3
check "  and the next piece" wait_until 10 has_line "$W/follow" "live two"
exec 3>&-
wait "$UP"
eq "the streamed upload: 200" "$(cat "$W/up.code")" 200
eq "  size" "$(jq -r .size "$W/up")" 18

# ---- the lease is lost in the middle of an upload ----
rm -f "$W/fifo"
mkfifo "$W/fifo"
curl -s -o "$W/up2" -w '%{http_code}' --max-time 60 -X POST -H "$WA" -T - \
	"$URL/api/v1/workers/jobs/$JNB/log?token=$GNB&offset=0" <"$W/fifo" >"$W/up2.code" &
UP=$!
exec 3>"$W/fifo"
printf 'before\n' >&3
check "an upload in progress is stored" wait_until 10 has_line "$SPOOL/$JNB.log" before
fin "$JNB" "{\"token\":$GNB,\"job\":{\"status\":\"completed\",\"exit_code\":0}}"
eq "  the job finishes meanwhile" "$CODE" 200
printf 'after\n' >&3
exec 3>&-
wait "$UP"
eq "  the rest of the upload: 409" "$(cat "$W/up2.code")" 409
eq "  with the size" "$(jq -r .size "$W/up2")" 7
eq "  nothing written after the finish" "$(cat "$SPOOL/$JNB.log")" before

# ---- heartbeat and cancel ----
touch -d '-30 seconds' "$SPOOL/$J2.wip"
hb "$J2" "$G2"
eq "heartbeat: 200" "$CODE" 200
jq_eq "  not cancelled" .cancel false
jq_eq "  lease_ms" .lease_ms 300000
jq_eq "  log_size" .log_size 18
age=$(( $(date +%s) - $(stat -c %Y "$SPOOL/$J2.wip") ))
check "  refreshes the lease (mtime of .wip)" test "$age" -le 5
hb "$J2" $((G2 + 7))
jerr "heartbeat with a wrong token: 409" 409
req DELETE "/api/v1/jobs/$J2" -H "$UA"
eq "the owner cancels the running job: 202" "$CODE" 202
hb "$J2" "$G2"
jq_eq "heartbeat says cancel" .cancel true

# ---- finish ----
fin "$J2" "{\"token\":$G2,\"job\":{\"status\":\"cancelled\",\"exit_code\":null,\"signal\":15,\"error\":\"cancelled\",\"log_size\":18,\"log_sha256\":\"d1g\",\"shell\":\"rm -rf /\",\"owner\":\"mallory\",\"pid\":1,\"max_attempts\":99}}"
eq "finish as cancelled: 200" "$CODE" 200
jq_eq "  status" .status cancelled
jq_eq "  result fields taken" '[.signal, .error] | map(tostring) | join(" ")' \
	"15 cancelled"
jq_eq "  log_size and log_sha256 are the server log's, not the worker's claim" \
	'[.log_size, .log_sha256] | map(tostring) | join(" ")' \
	"$(wc -c <"$SPOOL/$J2.log" | tr -d ' ') $(sha256sum <"$SPOOL/$J2.log" | cut -d' ' -f1)"
jq_eq "  other fields kept as stored" '[.shell, .owner, (.pid // "none"), .max_attempts] | map(tostring) | join(" ")' \
	"echo woken u none 3"
check "  <id>.cancelled written" test -f "$SPOOL/$J2.cancelled"
check "  .wip and .cancel removed" test ! -e "$SPOOL/$J2.wip" -a ! -e "$SPOOL/$J2.cancel"
FIRST=$BODY
fin "$J2" "{\"token\":$G2,\"job\":{\"status\":\"cancelled\"}}"
eq "the same finish again (answer lost): 200" "$CODE" 200
eq "  the stored job, unchanged" "$BODY" "$FIRST"
fin "$J2" "{\"token\":$((G2 + 1)),\"job\":{\"status\":\"completed\"}}"
jerr "finish of a final job with another token: 409" 409
hb "$J2" "$G2"
jerr "heartbeat after finish: 409" 409
logup "$J2" "$G2" 18 more
jerr "log after finish: 409" 409

SNAP1=$(spool_snapshot)
W1=$(cat "$SPOOL/$J1.wip")
fin "$J1" "{\"token\":$G1,\"job\":{\"status\":\"completed\",\"exit_code\":\"zero\"}}"
jerr "finish with exit_code a string: 400" 400
fin "$J1" "{\"token\":$G1,\"job\":{\"status\":\"completed\",\"started_at\":\"yesterday\"}}"
jerr "finish with a bad started_at: 400" 400
fin "$J1" "{\"token\":$G1,\"job\":{\"status\":\"completed\",\"attempts\":-1}}"
jerr "finish with attempts -1: 400" 400
fin "$J1" "{\"token\":$G1,\"job\":{\"status\":\"running\"}}"
jerr "finish as running: 400" 400
fin "$J1" "{\"token\":$G1}"
jerr "finish without a job: 400" 400
fin "$J1" "{\"token\":$G1,\"job\":{\"status\":\"completed\"},\"give_back\":3}"
jerr "give_back not a boolean: 400" 400
fin "$J1" "{\"token\":\"$G1\",\"job\":{\"status\":\"completed\"}}"
jerr "a token as a string: 400" 400
req POST "/api/v1/workers/jobs/$J1/finish" -H "$WA" -H 'Content-Type: text/plain' \
	-d "{\"token\":$G1,\"job\":{\"status\":\"completed\"}}"
jerr "finish as text/plain: 415" 415
fin "$J1" "{\"token\":$((G1 + 1)),\"job\":{\"status\":\"completed\"}}"
jerr "finish of a running job with a wrong token: 409" 409
eq "refused finishes leave the spool unchanged" "$(spool_snapshot)" "$SNAP1"
eq "  and the .wip as it was" "$(cat "$SPOOL/$J1.wip")" "$W1"
fin "$J1" "{\"token\":$G1,\"job\":{\"status\":\"completed\",\"exit_code\":0,\"duration_ms\":12,\"result\":{\"x\":[1,2]},\"log_size\":5,\"log_sha256\":\"abc\",\"started_at\":\"2026-01-02T03:04:05.678Z\"}}"
eq "finish as completed: 200" "$CODE" 200
jq_eq "  exit_code, duration, result, started_at" \
	'[.exit_code, .duration_ms, .result.x[1], .started_at] | map(tostring) | join(" ")' \
	"0 12 2 2026-01-02T03:04:05.678Z"
jq_eq "  a wrong log_size and log_sha256 are replaced by the server log's" \
	'[.log_size, .log_sha256] | map(tostring) | join(" ")' \
	"$(wc -c <"$SPOOL/$J1.log" | tr -d ' ') $(sha256sum <"$SPOOL/$J1.log" | cut -d' ' -f1)"
jq_eq "  finished_at set" '.finished_at | type' string
req GET "/api/v1/jobs/$J1" -H "$UA"
jq_eq "the owner gets the result" '[.status, .exit_code] | map(tostring) | join(" ")' "completed 0"

# ---- requeue: the worker gives jobs back ----
fin "$J3" "{\"token\":$G3,\"job\":{\"status\":\"pending\",\"attempts\":1},\"give_back\":true}"
eq "give back (graceful shutdown): 200" "$CODE" 200
jq_eq "  pending again" .status pending
jq_eq "  the attempt returned" .attempts 0
check "  <id>.pending" test -f "$SPOOL/$J3.pending" -a ! -e "$SPOOL/$J3.wip"
jq_eq "  worker cleared" '.worker // "none"' none
hb "$J3" "$G3"
jerr "  the old token is fenced: 409" 409
fin "$J3" "{\"token\":$G3,\"job\":{\"status\":\"completed\"}}"
jerr "  its late finish: 409" 409
claim '{"wait":5}'
eq "a job given back is claimed again" "$CID" "$J3"
jq_eq "  attempts 1" .job.attempts 1
check "  with a newer token" test "$G" -gt "$G3"
G3B=$G
nb=$(( $(now_ms) + 600000 ))
fin "$J3" "{\"token\":$G3B,\"job\":{\"status\":\"pending\",\"attempts\":1,\"error\":\"retry later\",\"not_before\":$nb}}"
eq "requeue with not_before: 200" "$CODE" 200
jq_eq "  keeps the attempt" .attempts 1
jq_eq "  not_before" .not_before "$nb"
jq_eq "  error" .error "retry later"
claim '{"wait":0}'
eq "  not claimable before not_before" "$CODE" 204

for j in "$JG:$GG" "$JGB:$GGB" "$JN:$GN"; do
	fin "${j%%:*}" "{\"token\":${j#*:},\"job\":{\"status\":\"failed\",\"exit_code\":3}}"
	[ "$CODE" = 200 ] || fail "finish $j as failed ($CODE)"
done
eq "jobs finished as failed" "$(cat "$SPOOL/$JN.failed" | jq -r '[.status, .exit_code] | map(tostring) | join(" ")')" "failed 3"

req GET /metrics
n=$(printf '%s\n' "$BODY" | sed -n 's/^jobspool_worker_claims_total //p')
eq "/metrics counts the claims" "$n" 13

# ---- concurrent claimers: each job handed out once ----
: >"$W/batch"
i=0
while [ $i -lt 120 ]; do
	printf '{"shell":"true","priority":%d}\n' $((i % 3)) >>"$W/batch"
	i=$((i + 1))
done
req POST /api/v1/batches -H "$UA" -H 'Content-Type: application/x-ndjson' \
	--data-binary "@$W/batch"
eq "a batch of 120 jobs" "$CODE" 201
cpids=""
for k in 1 2 3 4 5 6; do
	( while :; do
		c=$(curl -s -o "$W/cc$k.json" -w '%{http_code}' --max-time 20 \
			-X POST -H "$WA" -d '{"wait":0}' "$URL/api/v1/workers/claim")
		[ "$c" = 200 ] || break
		jq -r .job.id "$W/cc$k.json" >>"$W/claimed$k"
	done ) &
	cpids="$cpids $!"
done
for p in $cpids; do wait "$p"; done
cat "$W"/claimed? | sort >"$W/claimed"
eq "6 concurrent claimers took 120 jobs" "$(wc -l <"$W/claimed")" 120
eq "  each once" "$(sort -u "$W/claimed" | wc -l)" 120
eq "  none left pending but the delayed one" \
	"$(ls "$SPOOL" | grep -c '\.pending$')" 1
ndone=$(ls "$SPOOL" | grep -c '\.completed$')
for id in $(cat "$W/claimed"); do
	t=$(jq -r .generation "$SPOOL/$id.wip")
	fin "$id" "{\"token\":$t,\"job\":{\"status\":\"completed\",\"exit_code\":0}}"
	[ "$CODE" = 200 ] || { fail "finish $id ($CODE)"; break; }
done
eq "  all finished" "$(ls "$SPOOL" | grep -c '\.completed$')" $((ndone + 120))

# ---- a claim whose client hung up takes nothing ----
curl -s -o /dev/null --max-time 1 -X POST -H "$WA" -d '{"wait":20}' \
	"$URL/api/v1/workers/claim"
submit '{"shell":"true","name":"after hang-up"}'
JH=$ID
claim '{"wait":5}'
eq "a job submitted after a waiting client hung up goes to the next claim" \
	"$CID" "$JH"
jq_eq "  on its first attempt" .job.attempts 1
fin "$JH" "{\"token\":$G,\"job\":{\"status\":\"completed\"}}"

# ---- SIGTERM answers a waiting claim with 204 ----
curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST -H "$WA" \
	-d '{"wait":60,"labels":["none"]}' "$URL/api/v1/workers/claim" >"$W/lp3.code" &
LP=$!
sleep 1
t0=$(now_ms)
api_stop
wait "$LP"
t1=$(now_ms)
eq "a waiting claim answers 204 when the server stops" "$(cat "$W/lp3.code")" 204
echo "# stopped in $((t1 - t0)) ms with a claim waiting"
check "  promptly" test $((t1 - t0)) -lt 5000
ls "$SPOOL/tmp" >"$W/tmp.ls"
eq "nothing half-written in tmp/" "$(cat "$W/tmp.ls")" ""

# ---- an expired remote lease is recovered by the apiserver ----
new_spool
check "server starts with --lease 2s" start_api --token w:w0rker:worker \
	--token u:us3r --lease 2s
submit '{"shell":"true","max_attempts":2}'
JR=$ID
t0=$(now_ms)	# the lease starts during this claim
claim '{"worker":"lost:1","wait":5}'
eq "claimed by a worker that goes away" "$CID" "$JR"
jq_eq "  lease_ms 2000" .lease.lease_ms 2000
GR=$G
printf 'first attempt\n' >"$W/d3"
printf 'second attempt\n' >"$W/d4"
logup "$JR" "$GR" 0 "@$W/d3"
claim '{"worker":"other:2","wait":15}'
t1=$(now_ms)
eq "another worker gets it once the lease expired" "$CID" "$JR"
echo "# re-claimed $((t1 - t0)) ms after the first claim began"
check "  not before the lease (2 s)" test $((t1 - t0)) -ge 1990
jq_eq "  attempt 2" .job.attempts 2
jq_eq "  log_offset after the first attempt's bytes" .log_offset 14
check "  with a newer token" test "$G" -gt "$GR"
GR2=$G
# (the new worker heartbeats between the steps below: the 2 s lease must
# not run out on a loaded machine while the old worker is refused)
hb "$JR" "$GR2"
eq "the new worker's first heartbeat: 200" "$CODE" 200
fin "$JR" "{\"token\":$GR,\"job\":{\"status\":\"completed\",\"exit_code\":0}}"
jerr "the first worker's late finish: 409" 409
logup "$JR" "$GR" 14 late
jerr "  its late log: 409" 409
hb "$JR" "$GR"
jerr "  its late heartbeat: 409" 409
hb "$JR" "$GR2"
logup "$JR" "$GR2" 14 "@$W/d4"
jq_eq "the new worker appends after the first attempt" .size 29
hb "$JR" "$GR2"
eq "the new worker's heartbeat: 200" "$CODE" 200
# no heartbeat now: the last attempt's lease expires: failed
check "the last attempt's lease expires: failed" \
	wait_until 20 sh -c "curl -s -o /dev/null -X POST -H '$WA' -d '{\"wait\":0}' '$URL/api/v1/workers/claim'; test -f '$SPOOL/$JR.failed'"
eq "  with an error naming the worker" \
	"$(jq -r .error "$SPOOL/$JR.failed" | grep -c other:2)" 1
fin "$JR" "{\"token\":$GR2,\"job\":{\"status\":\"completed\"}}"
jerr "  its finish then: 409" 409
# with no claim at all, the apiserver still recovers an expired remote lease
submit '{"shell":"true"}'
JI=$ID
claim '{"worker":"idle:3","wait":5}'
eq "claimed by a worker that then goes silent" "$CID" "$JI"
check "no worker claims: its expired lease is still recovered (pending)" \
	wait_until 15 test -f "$SPOOL/$JI.pending"
jq_eq_file() { eq "$1" "$(jq -r "$2" "$3")" "$4"; }
jq_eq_file "  as a normal recovery: attempts kept, generation up" \
	'"\(.attempts) \(.generation > '"$G"')"' "$SPOOL/$JI.pending" "1 true"
rm -f "$SPOOL/$JI.pending"
# a local processor's job (it has a pid) is left to the local processors,
# which kill what is left of the old run first
JL=$(cat /proc/sys/kernel/random/uuid)
printf '{"shell":"sleep 1","status":"running","worker":"%s:1","pid":999999,"pid_start":1,"generation":1,"attempts":1}\n' \
	"$(hostname)" >"$SPOOL/tmp/local"
mv "$SPOOL/tmp/local" "$SPOOL/$JL.wip"
touch -d '-60 seconds' "$SPOOL/$JL.wip"
claim '{"wait":3}'
eq "an expired local lease is not recovered by the apiserver" "$CODE" 204
check "  its .wip stays" test -f "$SPOOL/$JL.wip"
api_stop

# ---- no tokens: loopback only, everyone may be a worker; the lease from
# the environment, the config file, and SIGHUP ----
new_spool
printf 'lease = 9s\n' >"$W/conf"
export JOBSPOOL_LEASE=7s
check "server starts without tokens" start_api
unset JOBSPOOL_LEASE
req POST /api/v1/jobs -d '{"shell":"true"}'
ID=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/workers/claim -d '{"wait":2}'
eq "without tokens anyone may claim" "$(printf '%s' "$BODY" | jq -r .job.id)" "$ID"
jq_eq "  default worker name: anonymous@address" .job.worker anonymous@127.0.0.1
jq_eq "  JOBSPOOL_LEASE=7s" .lease.lease_ms 7000
api_stop
new_spool
check "server starts with lease = 9s in its config file" \
	start_api --config "$W/conf"
req POST /api/v1/jobs -d '{"shell":"true"}'
req POST /api/v1/workers/claim -d '{"wait":2}'
jq_eq "  lease 9 s" .lease.lease_ms 9000
printf 'lease = 4s\n' >"$W/conf"
kill -HUP "$API_PID"
check "  SIGHUP reloads it" wait_until 10 grep -q 'lease 4.0s' "$API_LOG"
hb "$(printf '%s' "$BODY" | jq -r .job.id)" "$(printf '%s' "$BODY" | jq -r .lease.token)"
jq_eq "  heartbeats answer the new lease" .lease_ms 4000
api_stop

finish
