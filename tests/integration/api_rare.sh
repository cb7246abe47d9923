#!/bin/sh
# jobspool-apiserver: answers and streams the other suites rarely produce
# (issue 15, coverage of apiserver/reply.c and follow.c): error messages
# quoting bytes that are not UTF-8 (cut by the message's precision too),
# a follow that asks for the outcome from an offset of a log that does not
# exist, a job removed while it is followed, and a batch's merged log with
# lines written in pieces, a line over 64 KiB and unterminated last lines
# (followed and not), lost inotify events, the server on IPv6 (its access
# log), a worker's finish when the server cannot read the job's log, a
# burst of clients against a low open-file limit.
. "$(dirname "$0")/lib.sh"

new_spool
check "server starts" start_api
W=$(mktemp -d /tmp/jobspool-rare.XXXXXX)
T_DIRS="$T_DIRS $W"
gone() { ! kill -0 "$1" 2>/dev/null; }
has_line() { grep -q -x "$2" "$1" 2>/dev/null; }

# ---- error messages are UTF-8 whatever the client sent ----
# é € 😀 (2, 3, 4 bytes) are kept; a lone 0xff, an overlong 3-byte (e0 80
# 80), a surrogate (ed a0 80), a code point past U+10FFFF (f4 90 80 80)
# and a truncated sequence (c3 then ASCII) become '?' byte by byte (12)
req GET '/api/v1/jobs?status=%C3%A9%E2%82%AC%F0%9F%98%80%FF%E0%80%80%ED%A0%80%F4%90%80%80%C3x'
jerr "unknown status: 400" 400
jq_eq "  the message keeps UTF-8 and marks each bad byte" .error \
	"unknown status 'é€😀????????????x': $(printf '%s' "$BODY" | jq -r .error | sed 's/^[^:]*: //')"
utf8() { printf '%s' "$BODY" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; }
check "  the answer is valid UTF-8" utf8
long=$(printf '%063d' 0)
req GET "/api/v1/jobs?status=${long}%C3%A9"
jerr "a value cut inside a character: 400" 400
jq_eq "  the half character becomes '?'" '.error | split("'"'"'")[1]' "${long}?"

# ---- Idempotency-Key: bad keys, a key whose job is gone ----
before=$(spool_files)
req POST /api/v1/jobs -H "Idempotency-Key: $(printf '%0256d' 0)" -d '{"shell":"true"}'
jerr "an Idempotency-Key of 256 characters: 400" 400
req POST /api/v1/jobs -H 'Idempotency-Key;' -d '{"shell":"true"}'
jerr "an empty Idempotency-Key: 400" 400
eq "  nothing stored" "$(spool_files)" "$before"
req POST /api/v1/jobs -H 'Idempotency-Key: rare-1' -d '{"shell":"true"}'
K=$(printf '%s' "$BODY" | jq -r .id)
eq "a job with a key: 201" "$CODE" 201
req DELETE "/api/v1/jobs/$K"
req DELETE "/api/v1/jobs/$K"
eq "  cancelled then removed" "$CODE:$(spool_files | grep -c "$K")" "204:0"
req POST /api/v1/jobs -H 'Idempotency-Key: rare-1' -d '{"shell":"true"}'
jerr "the key again, its job removed: 409" 409
jq_eq "  names the job" '.error | contains("'"$K"'")' true

# ---- ?follow=1&outcome=1 edges ----
req POST /api/v1/jobs -d '{"shell":"true"}'
ID=$(printf '%s' "$BODY" | jq -r .id)
jq '.status = "completed" | .exit_code = 0' "$SPOOL/$ID.pending" >"$SPOOL/$ID.completed"
rm "$SPOOL/$ID.pending"
req GET "/api/v1/jobs/$ID/log?follow=1&outcome=1&offset=5"
eq "outcome from an offset of a missing log: no newline added, log_size is the offset" \
	"$CODE:$BODY" \
	"200:jobspool-outcome: {\"id\":\"$ID\",\"status\":\"completed\",\"exit_code\":0,\"signal\":null,\"error\":null,\"log_size\":5}"
req POST /api/v1/jobs -d '{"shell":"true"}'
ID=$(printf '%s' "$BODY" | jq -r .id)
printf 'x\n' >"$SPOOL/$ID.log"
curl -s -N --max-time 30 "$URL/api/v1/jobs/$ID/log?follow=1&outcome=1" >"$W/o" &
F=$!
check "following" wait_until 10 has_line "$W/o" x
rm "$SPOOL/$ID.pending" "$SPOOL/$ID.log"
check "a follow ends when its job is removed" wait_until 10 gone "$F"
eq "  and says so in the outcome" "$(sed -n 2p "$W/o")" \
	"jobspool-outcome: {\"id\":\"$ID\",\"status\":null,\"exit_code\":null,\"signal\":null,\"error\":\"the job was removed\",\"log_size\":2}"

# ---- a batch's merged log: pieces, long lines, unterminated ends ----
req POST /api/v1/batches -d '{"jobs":[{"shell":"true"},{"shell":"true"}]}'
CID=$(printf '%s' "$BODY" | jq -r .correlation_id)
B1=$(printf '%s' "$BODY" | jq -r '.jobs[0]')
B2=$(printf '%s' "$BODY" | jq -r '.jobs[1]')
printf 'one-' >"$SPOOL/$B1.log"
printf 'two' >"$SPOOL/$B2.log"
curl -s -N --max-time 60 "$URL/api/v1/batches/$CID/log?follow=1" >"$W/b" &
BF=$!
sleep 0.5
printf 'piece\n' >>"$SPOOL/$B1.log"
check "a line written in two pieces comes whole" wait_until 10 has_line "$W/b" "$B1 one-piece"
head -c 70000 /dev/zero | tr '\0' a >>"$SPOOL/$B1.log"
printf 'z\nend' >>"$SPOOL/$B1.log"
sleep 0.3
mv "$SPOOL/$B1.pending" "$SPOOL/$B1.completed"
mv "$SPOOL/$B2.pending" "$SPOOL/$B2.failed"
check "the merged log ends when all are final" wait_until 10 gone "$BF"
want=$(printf '%s\n' "$B1 3" "$B1 4465" "$B1 65536" "$B1 9" "$B2 3" | sort |
	tr '\n' '|')
eq "a 70001-byte line is cut at 65536; unterminated last lines come at the end" \
	"$(awk '{ print $1, length($2) }' "$W/b" | sort | tr '\n' '|')" \
	"$want"
req GET "/api/v1/batches/$CID/log"
eq "not followed: the same lines" \
	"$(printf '%s\n' "$BODY" | awk '{ print $1, length($2) }' | sort | tr '\n' '|')" \
	"$want"
eq "  the unterminated ones have their id" \
	"$(printf '%s\n' "$BODY" | grep -c -e "^$B1 end\$" -e "^$B2 two\$")" 2
# ---- lost inotify events: the kernel's queue overflowed ----
# The server is stopped (SIGSTOP) while more events than the queue holds
# (fs.inotify.max_queued_events) happen, then a job finishes and another
# starts: their events are lost.  The overflow makes the server look again:
# the finish is counted once in /metrics, the started job is still known
# and its finish later counted too.
metric() {	# NAME -> $M
	req GET /metrics
	M=$(printf '%s\n' "$BODY" | sed -n "s/^$1 //p")
}
metric_is() { metric "$1"; [ "$M" = "$2" ]; }
req POST /api/v1/jobs -d '{"shell":"true"}'
J1=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -d '{"shell":"true"}'
J2=$(printf '%s' "$BODY" | jq -r .id)
metric 'jobspool_jobs_finished_total{state="completed"}'; c0=$M
metric 'jobspool_jobs_finished_total{state="failed"}'; f0=$M
before=$(spool_files)
q=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 16384)
n=$((q / 2 + 100))	# each file: at least create and delete
kill -STOP "$API_PID"
(cd "$SPOOL" && seq 1 "$n" | sed 's/^/junk./' | xargs touch &&
	seq 1 "$n" | sed 's/^/junk./' | xargs rm -f)
jq '.status = "completed" | .exit_code = 0' "$SPOOL/$J1.pending" >"$SPOOL/$J1.completed"
rm "$SPOOL/$J1.pending"
mv "$SPOOL/$J2.pending" "$SPOOL/$J2.wip"
kill -CONT "$API_PID"
check "after the overflow the lost finish is counted once" \
	wait_until 20 metric_is 'jobspool_jobs_finished_total{state="completed"}' $((c0 + 1))
jq '.status = "failed" | .exit_code = 1' "$SPOOL/$J2.wip" >"$SPOOL/$J2.failed"
rm "$SPOOL/$J2.wip"
check "  and the job that started meanwhile is known: its finish counted" \
	wait_until 20 metric_is 'jobspool_jobs_finished_total{state="failed"}' $((f0 + 1))
metric 'jobspool_jobs_finished_total{state="completed"}'
eq "  the completed one still once" "$M" $((c0 + 1))
eq "  the junk is gone" "$(spool_files | grep -c junk)" 0
api_stop

# ---- a low soft limit of open files is raised to the hard one ----
hard=$(ulimit -H -n)
if [ "$hard" != unlimited ] && [ "$hard" -gt 512 ]; then
	new_spool
	(ulimit -S -n 512 && exec "$JS_BIN/jobspool-apiserver" --spool "$SPOOL" \
		--listen 127.0.0.1:0 --access-log -) 2>"$W/nofile.log" &
	NP=$!
	T_PIDS="$T_PIDS $NP"
	check "server starts with a soft open file limit of 512" \
		wait_until 20 grep -q 'listening on' "$W/nofile.log"
	eq "  and raises it to the hard limit ($hard)" \
		"$(awk '/^Max open files/ { print $4 }' "/proc/$NP/limits")" "$hard"
	u=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$W/nofile.log")
	curl -s -o /dev/null "$u/healthz"
	check "  --access-log - writes the access log to stderr" \
		wait_until 10 grep -q ' GET /healthz route=healthz status=200' "$W/nofile.log"
	stop_pid "$NP"
else
	skip permission "hard open file limit $hard" "raising the soft limit"
fi

# ---- over IPv6, with tokens: the access log, a worker's unreadable log ----
if ip -6 addr show lo 2>/dev/null | grep -q '::1'; then
	new_spool
	check "server starts on [::1]" start_api --listen '[::1]:0' \
		--token w:w0rker:worker --token u:us3r --access-log "$W/access"
	req GET /healthz
	eq "healthz over IPv6" "$CODE" 200
	check "  the access log names the client ::1" \
		grep -q ' ::1 GET /healthz route=healthz status=200' "$W/access"
	req POST /api/v1/jobs -H 'Authorization: Bearer us3r' -d '{"shell":"true"}'
	ID=$(printf '%s' "$BODY" | jq -r .id)
	req POST /api/v1/workers/claim -H 'Authorization: Bearer w0rker' -d '{"wait":0}'
	G=$(printf '%s' "$BODY" | jq -r '.lease.token')
	eq "a worker claims it" "$(printf '%s' "$BODY" | jq -r .job.id)" "$ID"
	mkdir "$SPOOL/$ID.log"	# a log that cannot be read
	req POST "/api/v1/workers/jobs/$ID/finish" -H 'Authorization: Bearer w0rker' \
		-d "{\"token\":$G,\"job\":{\"status\":\"completed\",\"exit_code\":0}}"
	eq "finish with an unreadable log: 200" "$CODE" 200
	jq_eq "  log_size and log_sha256 unknown (null), not made up" \
		'[.log_size, .log_sha256] | map(tostring) | join(" ")' "null null"
	check "  the server says why" grep -q "job $ID: cannot read its log" "$API_LOG"
	check "  the job is completed" test -f "$SPOOL/$ID.completed"
	api_stop
else
	skip permission "no IPv6 loopback" "the server over IPv6"
fi
# ---- out of file descriptors: a burst of 40 clients against an open-file
# limit of 20 gets 201 or 503 saying so (logged), each 201 is a whole job,
# and nothing is left half-written ----
new_spool
mkdir -m 0770 "$SPOOL/tmp"
FDLOG=$W/fd.api.log
(ulimit -n 20 && exec "$JS_BIN/jobspool-apiserver" --spool "$SPOOL" \
	--listen 127.0.0.1:0 2>"$FDLOG") &
FD_PID=$!
T_PIDS="$T_PIDS $FD_PID"
check "open-file limit 20: the server starts" wait_until 20 \
	grep -q 'listening on http' "$FDLOG"
FURL=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$FDLOG" | head -n 1)
pids="" i=0
while [ $i -lt 40 ]; do
	curl -s -m 20 -o "$W/fd.$i.body" -w '%{http_code}' \
		-d '{"command":["true"]}' "$FURL/api/v1/jobs" >"$W/fd.$i.code" &
	pids="$pids $!"
	i=$((i + 1))
done
for p in $pids; do wait "$p"; done
n201=0 n503=0 other="" i=0
while [ $i -lt 40 ]; do
	case "$(cat "$W/fd.$i.code")" in
	201) n201=$((n201 + 1)) ;;
	503) n503=$((n503 + 1))
		jq -r .error "$W/fd.$i.body" | grep -q \
		    '^cannot store the job: the server is out of file descriptors; try again later$' ||
			other="$other 503:$(cat "$W/fd.$i.body")" ;;
	*) other="$other $(cat "$W/fd.$i.code")" ;;
	esac
	i=$((i + 1))
done
eq "  each of 40 answered 201 ($n201) or 503 out of file descriptors ($n503)" \
	"${other:-none}" none
eq "  each 201 is a pending job" "$(ls "$SPOOL" | grep -c '\.pending$')" "$n201"
eq "  nothing half-written in tmp/" "$(ls "$SPOOL/tmp")" ""
[ "$n503" -eq 0 ] ||
	check "  the server logged it" grep -q \
	    'cannot store the job: Too many open files' "$FDLOG"
eq "  and still answers" \
	"$(curl -s -o /dev/null -w '%{http_code}' "$FURL/healthz")" 200
kill -TERM "$FD_PID"
wait "$FD_PID"
eq "  and exits 0 on SIGTERM" "$?" 0
finish
