#!/bin/sh
# jobspool-apiserver: live logs (chunked follow, ?offset, WebSocket, 200
# concurrent followers), batches, and the processor end to end if built.
. "$(dirname "$0")/lib.sh"

new_spool
check "server starts" start_api
W=$(mktemp -d /tmp/jobspool-ws.XXXXXX)
T_DIRS="$T_DIRS $W"

submit() {	# JSON -> $ID
	req POST /api/v1/jobs -d "$1"
	ID=$(printf '%s' "$BODY" | jq -r .id)
}
has_line() { grep -q -x "$2" "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# ---- chunked follow, ending when the job ends ----
submit '{"shell":"true"}'
printf 'first\n' >"$SPOOL/$ID.log"
curl -s -N --max-time 60 "$URL/api/v1/jobs/$ID/log?follow=1" >"$W/f1" &
F1=$!
check "follower gets what is there" wait_until 10 has_line "$W/f1" first
t0=$(date +%s%N)
printf 'second\n' >>"$SPOOL/$ID.log"
wait_until 10 has_line "$W/f1" second
t1=$(date +%s%N)
check "follower gets a new line" has_line "$W/f1" second
ms=$(( (t1 - t0) / 1000000 ))
echo "# new line delivered in ${ms} ms (includes the shell's polling)"
check "new line within 1 s" test "$ms" -lt 1000
check "follower still open while pending" kill -0 "$F1"
printf 'last, no newline' >>"$SPOOL/$ID.log"
mv "$SPOOL/$ID.pending" "$SPOOL/$ID.completed"
check "follow ends when the job is final" wait_until 10 gone "$F1"
eq "follow output is the whole log" "$(cat "$W/f1")" "$(cat "$SPOOL/$ID.log")"
check "following does not mark retrieved" test -f "$SPOOL/$ID.completed"

# ---- resume from an offset; a final job answers at once ----
req GET "/api/v1/jobs/$ID/log?follow=1&offset=6"
eq "follow from offset 6" "$BODY" "$(tail -c +7 "$SPOOL/$ID.log")"
req GET "/api/v1/jobs/$ID/log?follow=1&offset=100000"
eq "offset past the end: empty" "$CODE:$BODY" "200:"

# ---- the plain log: its type, Range, ?tail ----
# the log is "first\nsecond\nlast, no newline" (29 bytes)
req GET "/api/v1/jobs/$ID/log"
eq "log 200, the whole log" "$CODE:$BODY" "200:$(cat "$SPOOL/$ID.log")"
eq "log Content-Type text/plain, no charset claimed" "$(header Content-Type)" text/plain
eq "log Accept-Ranges: bytes" "$(header Accept-Ranges)" bytes
req GET "/api/v1/jobs/$ID/log" -H 'Range: bytes=6-'
eq "Range bytes=6-: 206 from byte 6" "$CODE:$BODY" "206:$(tail -c +7 "$SPOOL/$ID.log")"
eq "  Content-Range bytes 6-28/29" "$(header Content-Range)" "bytes 6-28/29"
req GET "/api/v1/jobs/$ID/log" -H 'Range: bytes=0-4'
eq "Range bytes=0-4: 206 'first'" "$CODE:$BODY" "206:first"
eq "  Content-Range bytes 0-4/29" "$(header Content-Range)" "bytes 0-4/29"
eq "  Content-Length 5" "$(header Content-Length)" 5
req GET "/api/v1/jobs/$ID/log" -H 'Range: bytes=13-1000'
eq "Range past the end is cut at the end" "$CODE:$BODY" "206:last, no newline"
req GET "/api/v1/jobs/$ID/log" -H 'Range: bytes=-7'
eq "Range bytes=-7: the last 7 bytes" "$CODE:$BODY" "206:newline"
req GET "/api/v1/jobs/$ID/log" -H 'Range: bytes=29-'
jerr "Range from the end: 416 with a JSON error" 416
eq "  Content-Range bytes */29" "$(header Content-Range)" "bytes */29"
req GET "/api/v1/jobs/$ID/log" -H 'Range: bytes=0-1,4-5'
eq "several ranges: ignored, the whole log (200)" "$CODE:$BODY" "200:$(cat "$SPOOL/$ID.log")"
req GET "/api/v1/jobs/$ID/log" -H 'Range: lines=1-2'
eq "not bytes: ignored (200)" "$CODE" 200
req GET "/api/v1/jobs/$ID/log?offset=3" -H 'Range: bytes=0-1'
jerr "Range and ?offset together: 400" 400
req GET "/api/v1/jobs/$ID/log?tail=2"
eq "?tail=2: the last two lines" "$CODE:$BODY" "200:second
last, no newline"
req GET "/api/v1/jobs/$ID/log?tail=1"
eq "?tail=1: a last line without newline counts" "$BODY" "last, no newline"
req GET "/api/v1/jobs/$ID/log?tail=50"
eq "?tail=50: the whole log" "$BODY" "$(cat "$SPOOL/$ID.log")"
req GET "/api/v1/jobs/$ID/log?tail=0"
eq "?tail=0: nothing" "$CODE:$BODY" "200:"
req GET "/api/v1/jobs/$ID/log?tail=1&follow=1"
eq "?tail=1&follow=1 of a final job: the last line" "$BODY" "last, no newline"
req GET "/api/v1/jobs/$ID/log?tail=x"
jerr "?tail=x: 400" 400
req GET "/api/v1/jobs/$ID/log?tail=1&offset=2"
jerr "?tail and ?offset together: 400" 400
submit '{"shell":"true"}'
printf 'a\nb\nc\n' >"$SPOOL/$ID.log"
mv "$SPOOL/$ID.pending" "$SPOOL/$ID.completed"
req GET "/api/v1/jobs/$ID/log?tail=2"
eq "?tail=2 of 'a b c' ending in a newline: 'b c'" "$BODY" "b
c"
submit '{"shell":"true"}'
req GET "/api/v1/jobs/$ID/log" -H 'Range: bytes=0-'
jerr "Range of a job without a log yet: 416" 416
eq "  Content-Range bytes */0" "$(header Content-Range)" "bytes */0"

# ---- WebSocket ----
if cc -O1 -o "$W/ws_client" "$(dirname "$0")/ws_client.c" 2>"$W/cc.err"; then
	submit '{"shell":"true"}'
	printf 'ws one\n' >"$SPOOL/$ID.log"
	"$W/ws_client" "$PORT" "/api/v1/jobs/$ID/log?ws" >"$W/ws" 2>&1 &
	WS=$!
	check "ws gets the first line" wait_until 10 has_line "$W/ws" "MSG 2 ws one"
	want=$(printf '%s' "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11" |
		openssl sha1 -binary | base64)
	eq "ws 101" "$(sed -n 's/^STATUS //p' "$W/ws")" 101
	eq "ws accept key (RFC 6455)" "$(sed -n 's/^ACCEPT //p' "$W/ws")" "$want"
	eq "ws 101 has one Connection header" \
		"$(sed -n 's/^CONNECTION_HEADERS //p' "$W/ws")" 1
	eq "... and it says Upgrade" "$(sed -n 's/^CONNECTION //p' "$W/ws")" Upgrade
	printf 'ws two\nws three\n' >>"$SPOOL/$ID.log"
	check "ws gets live lines" wait_until 10 has_line "$W/ws" "MSG 2 ws three"
	mv "$SPOOL/$ID.pending" "$SPOOL/$ID.failed"
	check "ws closes when the job ends" wait_until 10 gone "$WS"
	wait "$WS"
	eq "ws client saw a clean close" $? 0
	eq "ws close code 1000" "$(sed -n 's/^CLOSE //p' "$W/ws")" 1000
	eq "one message per line" "$(grep -c '^MSG 2 ' "$W/ws")" 3
	"$W/ws_client" "$PORT" "/api/v1/jobs/$ID/log?ws&offset=7" >"$W/ws2" 2>&1
	eq "ws from an offset, job final: lines then close" \
		"$(grep -e '^MSG' -e '^CLOSE' "$W/ws2" | tr '\n' '|')" \
		"MSG 2 ws two|MSG 2 ws three|CLOSE 1000|"
	"$W/ws_client" "$PORT" "/api/v1/jobs/$ID/log?ws&tail=1" >"$W/ws4" 2>&1
	eq "ws with ?tail=1, job final: the last line then close" \
		"$(grep -e '^MSG' -e '^CLOSE' "$W/ws4" | tr '\n' '|')" \
		"MSG 2 ws three|CLOSE 1000|"
	"$W/ws_client" "$PORT" "/api/v1/jobs/00000000-0000-4000-8000-000000000000/log?ws" \
		>"$W/ws3" 2>&1
	eq "ws for an unknown job is 404" "$(sed -n 's/^STATUS //p' "$W/ws3")" 404
	req GET "/api/v1/jobs/$ID/log?ws"
	jerr "?ws without upgrade headers is 400" 400
else
	cat "$W/cc.err"
	fail "cannot compile ws_client.c"
fi

# ---- 200 concurrent followers of one job ----
submit '{"shell":"true"}'
: >"$SPOOL/$ID.log"
pids=""
i=0
while [ $i -lt 200 ]; do
	curl -s -N --max-time 180 "$URL/api/v1/jobs/$ID/log?follow=1" >"$W/m$i" &
	pids="$pids $!"
	i=$((i + 1))
done
all_have() {
	n=0
	for f in "$W"/m*; do grep -q -x "$1" "$f" || return 1; n=$((n + 1)); done
	[ "$n" -eq 200 ]
}
# a line is written only once every follower is connected and waiting
sleep 1
printf 'to everyone\n' >>"$SPOOL/$ID.log"
check "200 followers all get the line" wait_until 30 all_have "to everyone"
req GET /healthz
eq "server answers others meanwhile" "$CODE" 200
printf 'bye\n' >>"$SPOOL/$ID.log"
mv "$SPOOL/$ID.pending" "$SPOOL/$ID.cancelled"
all_gone() { for p in $pids; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
check "200 followers all end" wait_until 30 all_gone
check "200 followers got the whole log" all_have bye

# ---- batches ----
req POST /api/v1/batches -d '{"jobs":[{"shell":"echo a"},{"command":["echo","b"],"name":"b"}]}'
eq "batch 201" "$CODE" 201
CID=$(printf '%s' "$BODY" | jq -r .correlation_id)
jq_eq "batch has 2 ids" '.jobs | length' 2
B1=$(printf '%s' "$BODY" | jq -r '.jobs[0]')
B2=$(printf '%s' "$BODY" | jq -r '.jobs[1]')
eq "batch field stored" "$(jq -r .batch "$SPOOL/$B1.pending")" "$CID"
req GET "/api/v1/batches/$CID"
eq "batch status 200" "$CODE" 200
jq_eq "batch counts pending" .counts.pending 2
jq_eq "batch lists jobs in order" '[.jobs[].id] | join(",")' "$B1,$B2"
printf '{"shell":"echo x"}\n\n{"shell":"echo y"}\n{"shell":"echo z"}' >"$W/nd"
req POST /api/v1/batches -H 'Content-Type: application/x-ndjson' --data-binary "@$W/nd"
eq "ndjson batch 201" "$CODE" 201
jq_eq "ndjson batch has 3 jobs" '.jobs | length' 3
before=$(spool_snapshot)
printf '{"shell":"echo x"}\n{"shell":\n' >"$W/nd"
req POST /api/v1/batches -H 'Content-Type: application/x-ndjson' --data-binary "@$W/nd"
jerr "ndjson with a bad line 400" 400
jq_eq "error names the line" '.error | test("line 2")' true
req POST /api/v1/batches -d '{"jobs":[]}'
jerr "empty batch 400" 400
req POST /api/v1/batches -d '{"jobs":[{"shell":"a"},{"shell":"b","id":"x"}]}'
jerr "batch with one bad job 400" 400
req POST /api/v1/batches -H 'Content-Type: text/csv' -d 'a,b'
jerr "batch text/csv 415" 415
eq "bad batches left the spool unchanged" "$(spool_snapshot)" "$before"
req GET /api/v1/batches/00000000-0000-4000-8000-000000000000
jerr "unknown batch 404" 404
req GET /api/v1/batches/nope
jerr "bad batch id 404" 404
# logs, merged and prefixed
printf 'from one\n' >"$SPOOL/$B1.log"
printf 'from two\n' >"$SPOOL/$B2.log"
curl -s -N --max-time 60 "$URL/api/v1/batches/$CID/log?follow=1" >"$W/bl" &
BL=$!
check "batch log prefixes lines" wait_until 10 has_line "$W/bl" "$B2 from two"
printf 'more\n' >>"$SPOOL/$B1.log"
check "batch log follows live" wait_until 10 has_line "$W/bl" "$B1 more"
mv "$SPOOL/$B1.pending" "$SPOOL/$B1.completed"
check "batch log open while a job is pending" kill -0 "$BL"
mv "$SPOOL/$B2.pending" "$SPOOL/$B2.failed"
check "batch log ends when all are final" wait_until 10 gone "$BL"
eq "batch log has 3 lines" "$(wc -l <"$W/bl")" 3
req GET "/api/v1/batches/$CID?peek=1&logs=1"
jq_eq "batch ?logs=1 inlines logs" '.jobs[0].log' "$(printf 'from one\nmore')"
jq_eq "batch counts final" '.counts.completed + .counts.failed' 2
check "peek leaves batch jobs" test -f "$SPOOL/$B1.completed"
req GET "/api/v1/batches/$CID"
check "batch GET marks retrieved" test -f "$SPOOL/$B1.retrieved" -a -f "$SPOOL/$B2.retrieved"
jq_eq "retrieved batch keeps outcomes" .counts.failed 1

# ---- SIGTERM with a follower connected ----
submit '{"shell":"true"}'
curl -s -N --max-time 60 "$URL/api/v1/jobs/$ID/log?follow=1" >"$W/f9" &
F9=$!
sleep 0.3
api_stop
check "follower ends on shutdown" wait_until 10 gone "$F9"

# ---- with the real processor, when it is built ----
if [ -x "$JS_BIN/jobspool-processor" ]; then
	new_spool
	check "server starts again" start_api
	"$JS_BIN/jobspool-processor" --spool "$SPOOL" --user root -j 2 \
		2>"$SPOOL.proc.log" &
	PROC=$!
	T_PIDS="$T_PIDS $PROC"
	T_DIRS="$T_DIRS $SPOOL.proc.log"
	req POST /api/v1/jobs -d '{"shell":"echo one; sleep 0.5; echo two"}'
	ID=$(printf '%s' "$BODY" | jq -r .id)
	curl -s -N --max-time 60 "$URL/api/v1/jobs/$ID/log?follow=1" >"$W/p1"
	eq "follow a real job to its end" "$(cat "$W/p1")" "$(printf 'one\ntwo')"
	req POST /api/v1/add/2/40
	ID=$(printf '%s' "$BODY" | jq -r .id)
	done_add() { req GET "/api/v1/job/$ID?peek=1"; [ "$(printf '%s' "$BODY" | jq -r .status)" = completed ]; }
	check "demo add completes" wait_until 20 done_add
	jq_eq "demo add result is 42" .result 42
	jq_eq "demo add result is a JSON integer" ".result | type" number
	req POST /api/v1/batches -d '{"jobs":[{"shell":"echo a1; sleep 0.3; echo a2"},{"shell":"echo b1"}]}'
	CID=$(printf '%s' "$BODY" | jq -r .correlation_id)
	curl -s -N --max-time 60 "$URL/api/v1/batches/$CID/log?follow=1" >"$W/p2"
	eq "real batch log has 3 lines" "$(wc -l <"$W/p2")" 3
	req GET "/api/v1/batches/$CID"
	jq_eq "real batch completed" .counts.completed 2
	req GET /metrics
	printf '%s\n' "$BODY" | grep -q '^jobspool_jobs_finished_total{state="completed"} [1-9]'
	eq "metrics saw jobs finish" $? 0
	printf '%s\n' "$BODY" | grep -q '^jobspool_job_duration_seconds_count [1-9]'
	eq "duration histogram counts them" $? 0
	stop_pid "$PROC"
	api_stop
fi
finish
