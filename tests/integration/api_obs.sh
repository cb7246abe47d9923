#!/bin/sh
# Observability details of the apiserver (issue 18 leftovers, issue 21):
# every access log line carries the body's real byte count, streamed
# answers included (counted as they are sent); /healthz tells jobs whose
# start time is still to come ("scheduled") from stalled ones and says
# whether "stalled" is exact; the oldest-pending-age metric counts a job
# from its start time when that is later than its submission and leaves
# out jobs not due yet; request headers beyond the 16 KiB connection
# buffer are answered 431 (jobspool-apiserver(8), --max-connections).
. "$(dirname "$0")/lib.sh"
new_spool
mkdir -m 0770 "$SPOOL/tmp"
ALOG=$WORK/access.log
: >"$ALOG"
check "server starts with --access-log" start_api --access-log "$ALOG"

# ---- the access log's byte counts ----
req POST /api/v1/batches -H 'Content-Type: application/json' \
	-d '{"jobs":[{"command":["/bin/true"]}]}'
eq "a batch of one job is submitted" "$CODE" 201
ID=$(printf '%s' "$BODY" | jq -r '.jobs[0]')
CID=$(printf '%s' "$BODY" | jq -r .correlation_id)
printf 'line one\nline two\n' >"$SPOOL/$ID.log"
# final by hand, as a processor would leave it
jq -c '.status = "completed" | .exit_code = 0' "$SPOOL/$ID.pending" \
	>"$SPOOL/tmp/x" && mv "$SPOOL/tmp/x" "$SPOOL/$ID.completed" &&
	rm "$SPOOL/$ID.pending"
curl -s -o "$WORK/follow.out" "$URL/api/v1/jobs/$ID/log?follow=1"
eq "a follow of a finished job sends its log and ends" \
	"$(cat "$WORK/follow.out")" "$(printf 'line one\nline two')"
curl -s -o "$WORK/plain.out" "$URL/api/v1/jobs/$ID/log"
curl -s -o "$WORK/batch.out" "$URL/api/v1/batches/$CID?peek=1"
curl -s -o "$WORK/blog.out" "$URL/api/v1/batches/$CID/log"
curl -s -o /dev/null -H 'Range: bytes=999-' "$URL/api/v1/jobs/$ID/log"
curl -s -o /dev/null -X DELETE "$URL/api/v1/jobs/$ID"
sleep 0.3	# the last line is written when the request completes
bytes_of() {	# the bytes= of the access log's $2th (1) line matching grep -E $1
	grep -E "$1" "$ALOG" | sed -n "${2:-1}p" |
		sed -n 's/.* bytes=\([^ ]*\) .*/\1/p'
}
# (the logged path has no query: the follow is the first log GET, the
# plain one the second)
eq "follow stream: the bytes it sent" \
	"$(bytes_of " GET /api/v1/jobs/$ID/log route=job_log status=200")" \
	"$(wc -c <"$WORK/follow.out" | tr -d ' ')"
eq "plain log: its length" "$(bytes_of " GET /api/v1/jobs/$ID/log route=job_log status=200" 2)" 18
eq "streamed batch answer: the bytes it sent" \
	"$(bytes_of " GET /api/v1/batches/$CID route=")" \
	"$(wc -c <"$WORK/batch.out" | tr -d ' ')"
eq "batch log: the bytes it sent" \
	"$(bytes_of " GET /api/v1/batches/$CID/log route=")" \
	"$(wc -c <"$WORK/blog.out" | tr -d ' ')"
check "416: a byte count" test "$(bytes_of " status=416 ")" -gt 0
eq "DELETE 204: 0 bytes" "$(bytes_of " DELETE /api/v1/jobs/$ID ")" 0
eq "no line without a byte count (bytes=-)" "$(grep -c 'bytes=-' "$ALOG")" 0
check "durations as one word (time=850ms, 1.2s)" grep -Eq \
	' time=[0-9]+(ms|\.[0-9]s) ' "$ALOG"

# ---- /healthz: scheduled, stalled, stalled_exact (no processor runs) ----
future=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
req POST /api/v1/jobs -H 'Content-Type: application/json' \
	-d "{\"command\":[\"/bin/true\"],\"run_at\":\"$future\"}"
eq "a job for in an hour" "$CODE" 201
req GET /healthz
jq_eq "healthz: one pending" .pending 1
jq_eq "healthz: it is scheduled" .scheduled 1
jq_eq "healthz: not stalled (not waiting yet)" .stalled 0
jq_eq "healthz: stalled is exact" .stalled_exact true
req POST /api/v1/jobs -H 'Content-Type: application/json' \
	-d '{"command":["/bin/true"]}'
NOW_ID=$(printf '%s' "$BODY" | jq -r .id)
req GET /healthz
jq_eq "healthz: a due job with no processor is stalled" \
	'[.pending, .scheduled, .stalled, .stalled_exact] | map(tostring) | join(" ")' \
	"2 1 1 true"

# ---- the oldest pending age ----
metric() { curl -s "$URL/metrics" |
	sed -n 's/^jobspool_oldest_pending_job_age_seconds //p'; }
rm "$SPOOL/$NOW_ID.pending"
check "only a job not due yet: age 0" wait_until 10 sh -c \
	"test \"\$(curl -s '$URL/metrics' | sed -n 's/^jobspool_oldest_pending_job_age_seconds //p')\" = 0.000"
# submitted an hour ago, due 20 s ago: it has waited 20 s, not an hour
OLD=00000000-0000-4000-8000-0000000000a1
past=$(date -u -d '-20 seconds' +%Y-%m-%dT%H:%M:%SZ)
hour=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S.000Z)
printf '{"id":"%s","command":["/bin/true"],"status":"pending","created_at":"%s","run_at":"%s"}\n' \
	"$OLD" "$hour" "$past" >"$SPOOL/tmp/$OLD"
touch -d '-1 hour' "$SPOOL/tmp/$OLD"
mv "$SPOOL/tmp/$OLD" "$SPOOL/$OLD.pending"
check "the hand-written job is listed" wait_until 10 sh -c \
	"curl -s '$URL/api/v1/jobs?status=pending' | grep -q $OLD"
age=$(metric)
check "due 20 s ago, submitted 1 h ago: waited about 20 s ($age)" \
	awk -v a="$age" 'BEGIN { exit !(a >= 19 && a < 60) }'
# the same without a start time: an hour
rm "$SPOOL/$OLD.pending"
printf '{"id":"%s","command":["/bin/true"],"status":"pending","created_at":"%s"}\n' \
	"$OLD" "$hour" >"$SPOOL/tmp/$OLD"
touch -d '-1 hour' "$SPOOL/tmp/$OLD"
mv "$SPOOL/tmp/$OLD" "$SPOOL/$OLD.pending"
old_age() { a=$(metric); awk -v a="$a" 'BEGIN { exit !(a >= 3590 && a < 3700) }'; }
check "no start time: waited since its submission (about 3600 s)" \
	wait_until 10 old_age

# ---- header limit: 16 KiB per connection ----
big=$(head -c 12000 /dev/zero | tr '\0' a)
eq "a 12 KB header fits" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$URL/healthz")" 200
big=$(head -c 20000 /dev/zero | tr '\0' a)
eq "a 20 KB header: 431" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$URL/healthz")" 431
eq "the server still answers after it" \
	"$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" 200

finish
