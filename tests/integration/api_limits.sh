#!/bin/sh
# jobspool-apiserver limits and hostile clients: slow-loris headers and
# bodies (others stay served; --read-timeout closes them), --idle-timeout,
# --max-connections, --max-body, content types (jobspool-apiserver(8)), HEAD/OPTIONS,
# paging with a stable cursor, SIGTERM (requests in flight finish, followers
# end cleanly, no new connections), unwritable/vanished spool (503, /healthz
# says why) and a full disk (507), each leaving the spool unchanged.
. "$(dirname "$0")/lib.sh"

W=$(mktemp -d /tmp/jobspool-lim.XXXXXX)
T_DIRS="$T_DIRS $W"
if ! cc -O1 -o "$W/raw" "$(dirname "$0")/ws_client.c" 2>"$W/cc.err"; then
	cat "$W/cc.err"
	fail "cannot compile ws_client.c"
	finish
fi
# raw [MS]: sends stdin as it is (MS ms between bytes), prints STATUS/CLOSED
raw() { "$W/raw" "$PORT" --raw "$@"; }
closed_ms() { sed -n 's/^CLOSED //p' "$1"; }
gone() { ! kill -0 "$1" 2>/dev/null; }
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
# same_set DESC A B: the same lines, whatever the order and blank lines
same_set() {
	eq "$1" "$(printf '%s\n' "$2" | grep -v '^$' | sort)" \
		"$(printf '%s\n' "$3" | grep -v '^$' | sort)"
}
# between DESC GOT LO HI
between() {
	if [ -n "$2" ] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then ok "$1 ($2)"
	else fail "$1 (got '$2', want $3..$4)"; fi
}

new_spool
check "server starts with short timeouts" start_api --read-timeout 2s \
	--idle-timeout 3s --max-body 4K --max-connections 64
before=$(spool_snapshot)

# ---- slow loris: partial headers, dripped headers, stalled and dripped bodies
i=0 PARTS=""
while [ $i -lt 8 ]; do
	printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' | raw >"$W/part$i" &
	PARTS="$PARTS $!"
	i=$((i + 1))
done
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n' \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" |
	raw 100 >"$W/drip" &
DRIP=$!
printf 'POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"shell":' |
	raw >"$W/stall" &
STALL=$!
printf 'POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\n{"shell":"echo dripped body"}\n' |
	raw 150 >"$W/bdrip" &
BDRIP=$!
sleep 0.5
t0=$(ms_now)
n=0
for k in 1 2 3 4 5; do
	c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL/healthz")
	[ "$c" = 200 ] && n=$((n + 1))
done
t1=$(ms_now)
eq "5 healthz answered while 11 slow clients hold connections" "$n" 5
# blocked, each would wait for a slow client's 2 s: 10 s for the five
between "they did not wait for the slow clients (ms)" $((t1 - t0)) 0 6000
req POST /api/v1/jobs -d '{"shell":"echo while slow clients wait"}'
eq "a POST is served meanwhile" "$CODE" 201
OK1=$(printf '%s' "$BODY" | jq -r .id)
before="$before
$OK1.pending"
for p in $PARTS $DRIP $STALL $BDRIP; do wait "$p"; done
all=1
for f in "$W"/part*; do
	m=$(closed_ms "$f")
	if [ -z "$m" ] || [ "$m" -lt 1500 ] || [ "$m" -gt 8000 ]; then
		all=0; echo "# $f: $(cat "$f")"
	fi
done
eq "8 partial requests closed after about --read-timeout 2s" "$all" 1
between "dripped headers closed after about --read-timeout (ms)" \
	"$(closed_ms "$W/drip")" 1500 8000
eq "dripped headers got no answer" "$(sed -n 's/^STATUS //p' "$W/drip")" 0
between "stalled body closed after about --read-timeout (ms)" \
	"$(closed_ms "$W/stall")" 1500 8000
between "dripped body closed after about --read-timeout (ms)" \
	"$(closed_ms "$W/bdrip")" 1500 8000
case $(sed -n 's/^STATUS //p' "$W/bdrip") in 201) fail "dripped body stored" ;;
	*) ok "dripped body not stored" ;; esac
grep -q 'longer than --read-timeout' "$API_LOG"
eq "the log says why connections were closed" $? 0
same_set "slow clients left the spool unchanged" "$(spool_snapshot)" "$before"
check "server alive after slow clients" kill -0 "$API_PID"

# ---- idle timeout: a kept-alive connection is closed after --idle-timeout
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' | raw >"$W/idle"
eq "keep-alive request answered" "$(sed -n 's/^STATUS //p' "$W/idle")" 200
between "idle keep-alive closed after about --idle-timeout 3s (ms)" \
	"$(closed_ms "$W/idle")" 2500 9000
# a slow but steady client within the timeout is served
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
	raw 10 >"$W/steady"
eq "a slowish request within --read-timeout is served" \
	"$(sed -n 's/^STATUS //p' "$W/steady")" 200

# ---- --max-body 4K ----
head -c 5000 /dev/zero | tr '\0' ' ' >"$W/5k"
req POST /api/v1/jobs -H 'Content-Type: application/json' --data-binary "@$W/5k"
jerr "--max-body 4K: 5000 bytes 413" 413
printf '{"shell":"true","description":"%s"}' "$(head -c 3000 /dev/zero | tr '\0' x)" >"$W/3k"
req POST /api/v1/jobs --data-binary "@$W/3k"
eq "--max-body 4K: 3 KB 201" "$CODE" 201
before="$before
$(printf '%s' "$BODY" | jq -r .id).pending"

# ---- content types (jobspool-apiserver(8)) ----
ct() {	# DESC WANT-CODE CONTENT-TYPE
	req POST /api/v1/jobs -H "Content-Type: $3" --data-binary '{"shell":"true"}'
	if [ "$2" = 201 ]; then
		eq "$1" "$CODE" 201
		before="$before
$(printf '%s' "$BODY" | jq -r .id).pending"
	else
		jerr "$1" "$2"
	fi
}
ct "application/json; charset=utf-8 201" 201 'application/json; charset=utf-8'
ct "APPLICATION/JSON (case) 201" 201 'APPLICATION/JSON'
ct "form-urlencoded with a JSON body 201" 201 'application/x-www-form-urlencoded'
ct "text/plain 415" 415 'text/plain'
ct "application/x-ndjson on a single job 415" 415 'application/x-ndjson'
ct "multipart/form-data 415" 415 'multipart/form-data; boundary=x'
ct "application/jsonx 415" 415 'application/jsonx'
ct "application/json-seq 415" 415 'application/json-seq'
req POST /api/v1/jobs -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary 'shell=true'
jerr "form-urlencoded that is not JSON 400" 400
req POST /api/v1/batches -H 'Content-Type: text/plain' -d '{"jobs":[{"shell":"true"}]}'
jerr "batch text/plain 415" 415
same_set "refused content types left the spool unchanged" \
	"$(spool_snapshot)" "$before"

# ---- HEAD, OPTIONS ----
code=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 10 \
	-I "$URL/healthz")
eq "HEAD /healthz 200 without a body" "$code" "200 0"
req OPTIONS /api/v1/jobs
jerr "OPTIONS 405" 405
eq "OPTIONS 405 has Allow" "$(header Allow)" "GET, HEAD, POST"
req POST /healthz
jerr "POST /healthz 405" 405
eq "405 Allow of /healthz" "$(header Allow)" "GET, HEAD"
req PUT /api/v1/batches -d '{}'
jerr "PUT /api/v1/batches 405" 405
eq "405 Allow of batches" "$(header Allow)" "POST"

# ---- paging: stable cursor while new jobs arrive ----
api_stop
new_spool
check "server starts for paging" start_api
ids=""
for k in 1 2 3 4 5; do
	req POST /api/v1/jobs -d "{\"name\":\"p$k\",\"shell\":\"true\"}"
	ids="$(printf '%s' "$BODY" | jq -r .id) $ids"	# newest first
done
req GET '/api/v1/jobs?limit=2'
jq_eq "page 1: the 2 newest" '[.jobs[].name] | join(",")' "p5,p4"
NEXT=$(printf '%s' "$BODY" | jq -r .next)
for k in 6 7 8; do
	req POST /api/v1/jobs -d "{\"name\":\"p$k\",\"shell\":\"true\"}"
done
req GET "/api/v1/jobs?limit=2&after=$NEXT"
jq_eq "page 2 after new submissions: no repeats, no gaps" '[.jobs[].name] | join(",")' "p3,p2"
NEXT=$(printf '%s' "$BODY" | jq -r .next)
req GET "/api/v1/jobs?limit=2&after=$NEXT"
jq_eq "page 3: the oldest" '[.jobs[].name] | join(",")' "p1"
jq_eq "last page: next null" .next null
req GET '/api/v1/jobs?limit=1000'
jq_eq "limit=1000 accepted" '.jobs | length' 8
printf '{"jobs":[%s{"shell":"true"}]}' "$(i=0; while [ $i -lt 104 ]; do printf '{"shell":"true"},'; i=$((i + 1)); done)" >"$W/b105"
req POST /api/v1/batches --data-binary "@$W/b105"
eq "batch of 105 201" "$CODE" 201
req GET /api/v1/jobs
jq_eq "default page size is 100" '.jobs | length' 100
jq_eq "a full page has a next cursor" '.next | type' string
NEXT=$(printf '%s' "$BODY" | jq -r .next)
req GET "/api/v1/jobs?after=$NEXT"
jq_eq "the rest on page 2" '.jobs | length' 13
req GET "/api/v1/jobs?after=$NEXT&status=pending&name=p1"
jq_eq "cursor with filters" '[.jobs[].name] | join(",")' p1

# ---- SIGTERM: in-flight finishes, followers end cleanly, no new clients
req POST /api/v1/jobs -d '{"shell":"true"}'
FID=$(printf '%s' "$BODY" | jq -r .id)
printf 'before stop\n' >"$SPOOL/$FID.log"
curl -s -N --max-time 30 "$URL/api/v1/jobs/$FID/log?follow=1" >"$W/fol" 2>"$W/fol.err" &
FOL=$!
wait_until 10 grep -q 'before stop' "$W/fol"
# a submission whose body arrives slowly while the server is told to stop
printf '{"name":"in-flight","shell":"true","description":"%s"}' \
	"$(head -c 1500 /dev/zero | tr '\0' x)" >"$W/slow"
curl -s -o "$W/slow.out" -w '%{http_code}' --max-time 30 --limit-rate 1000 \
	--data-binary "@$W/slow" "$URL/api/v1/jobs" >"$W/slow.code" &
SLOW=$!
sleep 0.5
kill -TERM "$API_PID"
check "follower ends on SIGTERM" wait_until 10 gone "$FOL"
wait "$FOL"
eq "follower's chunked stream ended cleanly (curl exit 0)" $? 0
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/healthz")
eq "no new connection after SIGTERM" "$code" 000
wait "$SLOW"
eq "the slow in-flight POST finished with 201" "$(cat "$W/slow.code")" 201
SID=$(jq -r .id "$W/slow.out" 2>/dev/null)
check "and its job exists" test -f "$SPOOL/$SID.pending"
wait "$API_PID"
eq "apiserver exits 0 after SIGTERM" $? 0

# ---- --max-connections ----
new_spool
check "server starts with --max-connections 3" start_api --max-connections 3 \
	--read-timeout 4s
HOLD=""
for k in 1 2 3; do
	printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' | raw >"$W/hold$k" &
	HOLD="$HOLD $!"
done
sleep 0.5
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/healthz")
eq "a 4th connection is not served while 3 are held" "$code" 000
ok_again() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/healthz")" = 200 ]; }
check "served again once --read-timeout closed the 3" wait_until 20 ok_again
for p in $HOLD; do wait "$p"; done
api_stop

# ---- a follow outlives --idle-timeout while its job waits (bug A2) ----
new_spool
check "server starts with --idle-timeout 2s" start_api --idle-timeout 2s
req POST /api/v1/jobs -d '{"shell":"true"}'
QID=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/batches -d '{"jobs":[{"shell":"true"}]}'
QB=$(printf '%s' "$BODY" | jq -r '.jobs[0]')
QCID=$(printf '%s' "$BODY" | jq -r .correlation_id)
curl -s -N -o "$W/q1" -w '%{http_code} %{exitcode}' --max-time 60 \
	"$URL/api/v1/jobs/$QID/log?follow=1" >"$W/q1.code" &
Q1=$!
curl -s -N -o "$W/q2" -w '%{http_code} %{exitcode}' --max-time 60 \
	"$URL/api/v1/batches/$QCID/log?follow=1" >"$W/q2.code" &
Q2=$!
sleep 5	# longer than --idle-timeout with nothing to send
printf 'late line\n' >"$SPOOL/$QID.log"
printf 'late batch line\n' >"$SPOOL/$QB.log"
mv "$SPOOL/$QID.pending" "$SPOOL/$QID.completed"
mv "$SPOOL/$QB.pending" "$SPOOL/$QB.completed"
wait "$Q1" "$Q2"
eq "job follow quiet past --idle-timeout ends cleanly" "$(cat "$W/q1.code")" "200 0"
eq "it got the late line" "$(cat "$W/q1")" "late line"
eq "batch follow quiet past --idle-timeout ends cleanly" "$(cat "$W/q2.code")" "200 0"
eq "it got the late line" "$(cat "$W/q2")" "$QB late batch line"
# a follower that hangs up is noticed although nothing is written
req POST /api/v1/jobs -d '{"shell":"true"}'
QID=$(printf '%s' "$BODY" | jq -r .id)
fds0=$(ls "/proc/$API_PID/fd" | wc -l)
curl -s -N -o /dev/null --max-time 2 "$URL/api/v1/jobs/$QID/log?follow=1"
fds_back() { [ "$(ls "/proc/$API_PID/fd" | wc -l)" -le "$fds0" ]; }
check "a follower that hung up is dropped (fds back to $fds0)" wait_until 10 fds_back
api_stop

# ---- unwritable or vanished spool: 503 with a reason, nothing written ----
new_spool
check "server starts for the spool checks" start_api
unwritable() {	# DESC: the spool is unwritable now
	req GET /healthz
	jerr "$1: /healthz 503" 503
	jq_eq "$1: /healthz says why" '.error | length > 10' true
	u_before=$(spool_snapshot 2>/dev/null)
	req POST /api/v1/jobs -d '{"shell":"true"}'
	jerr "$1: POST 503" 503
	req POST /api/v1/batches -d '{"jobs":[{"shell":"true"}]}'
	jerr "$1: batch POST 503" 503
	req POST /api/v1/add/1/2
	jerr "$1: add 503" 503
	eq "$1: nothing written" "$(spool_snapshot 2>/dev/null)" "$u_before"
}
healthy() { req GET /healthz; [ "$CODE" = 200 ]; }
mv "$SPOOL" "$SPOOL.away"
T_DIRS="$T_DIRS $SPOOL.away"
unwritable "spool renamed away"
mv "$SPOOL.away" "$SPOOL"
check "/healthz 200 once it is back" healthy
rm -rf "$SPOOL"
unwritable "spool removed"
mkdir -m 0750 "$SPOOL"
if mount --bind "$SPOOL" "$SPOOL" 2>/dev/null; then
	if mount -o remount,bind,ro "$SPOOL" 2>/dev/null; then
		unwritable "read-only bind mount"
	else
		skip permission "cannot remount read-only here" "read-only bind mount"
	fi
	umount "$SPOOL"
else
	skip permission "mount --bind not permitted here" "read-only bind mount"
fi
if command -v chattr >/dev/null 2>&1 && mkdir -p "$SPOOL/tmp" &&
	chattr +i "$SPOOL/tmp" 2>/dev/null; then
	req POST /api/v1/jobs -d '{"shell":"true"}'
	jerr "immutable tmp/ (chattr +i): POST 503" 503
	chattr -i "$SPOOL/tmp"
elif ! command -v chattr >/dev/null 2>&1; then
	skip install "chattr is missing (apt-get install e2fsprogs)" "chattr +i"
else
	skip permission "not supported on this filesystem" "chattr +i"
fi
api_stop

# ---- full disk: 507, no partial file, recovers ----
new_spool
if mount -t tmpfs -o size=64k,mode=0750 jobspool-test "$SPOOL" 2>/dev/null; then
	check "server starts on a 64k tmpfs" start_api
	req POST /api/v1/jobs -d '{"shell":"true"}'
	eq "POST on a tmpfs with room 201" "$CODE" 201
	dd if=/dev/zero of="$SPOOL/filler" bs=4k count=64 2>/dev/null
	d_before=$(spool_snapshot)
	req POST /api/v1/jobs --data-binary "@$W/3k"
	jerr "full disk: POST 507" 507
	req POST /api/v1/batches -d '{"jobs":[{"shell":"true"},{"shell":"true"}]}'
	jerr "full disk: batch 507" 507
	eq "full disk: nothing left behind (tmp/ too)" "$(spool_snapshot)" "$d_before"
	rm -f "$SPOOL/filler"
	req POST /api/v1/jobs -d '{"shell":"true"}'
	eq "space back: POST 201" "$CODE" 201
	api_stop
	umount "$SPOOL"
else
	skip permission "cannot mount a tmpfs here" "full disk"
fi
finish
