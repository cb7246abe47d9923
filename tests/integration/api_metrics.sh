#!/bin/sh
# /metrics: counters and histograms never decrease while the server runs.
# They count events as they happen (a job counted as finished once, when its
# final file first appears), not the files present: removing, retrieving or
# changing finished jobs leaves them as they were.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

proc_setup
# a job already finished before the server started is not counted
OLD=$(submit '{"shell":"true"}')
mv "$SPOOL/$OLD.pending" "$SPOOL/$OLD.completed"
check "server starts" start_api

N=25
batch=$(jq -nc --argjson n "$N" '{jobs: [range($n) | {shell: "true"}]}')
req POST /api/v1/batches -H 'Content-Type: application/json' -d "$batch"
eq "batch of $N accepted" "$CODE" 201
printf '%s' "$BODY" | jq -r '.jobs[]' >"$WORK/ids"
start_proc -j 4
check "the jobs finish" wait_final 60 $(cat "$WORK/ids")

# scrape FILE: the samples of the counters and histograms, "name value"
scrape() {
	curl -s --max-time 20 "$URL/metrics" >"$1.raw"
	awk '/^# TYPE / && ($4 == "counter" || $4 == "histogram") { fam[$3] = 1 }
	     /^[a-z]/ { n = $1; sub(/\{.*/, "", n);
		sub(/_(bucket|sum|count)$/, "", n);
		if (n in fam) print $1, $2 }' "$1.raw" | sort >"$1"
}
value() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
check "the watcher counted every finish" wait_until 20 \
	sh -c "[ \"\$(curl -s '$URL/metrics' | awk '\$1 == \"jobspool_job_duration_seconds_count\" { print \$2 }')\" = $N ]"
scrape "$WORK/m1"
eq "finished_total{completed} counts each job once" \
	"$(value "$WORK/m1" 'jobspool_jobs_finished_total{state="completed"}')" "$N"
eq "duration histogram counts each job once" \
	"$(value "$WORK/m1" jobspool_job_duration_seconds_count)" "$N"
eq "+Inf bucket = count" \
	"$(value "$WORK/m1" 'jobspool_job_duration_seconds_bucket{le="+Inf"}')" "$N"
check "counters and histogram samples were read" \
	test "$(wc -l <"$WORK/m1")" -ge 18

# retrieve 10, remove 5 of them, rename 3 others (a rewrite of the file)
head -n 10 "$WORK/ids" | while read -r id; do
	curl -s -o /dev/null "$URL/api/v1/jobs/$id"
done
head -n 5 "$WORK/ids" | while read -r id; do
	curl -s -o /dev/null -w '%{http_code}\n' -X DELETE "$URL/api/v1/jobs/$id"
done >"$WORK/deletes"
eq "five DELETEs answered 200 or 204" \
	"$(grep -c -E '^(200|204)$' "$WORK/deletes")" 5
sed -n '11,13p' "$WORK/ids" | while read -r id; do
	curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' \
		-d '{"name":"renamed"}' "$URL/api/v1/jobs/$id"
done
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' \
	-d '{"name":"renamed"}' "$URL/api/v1/jobs/$OLD"
# let the watcher see all of it
curl -s -o /dev/null "$URL/healthz"
sleep 1
scrape "$WORK/m2"
dec=$(join "$WORK/m1" "$WORK/m2" | awk '$3 + 0 < $2 + 0 { print $1, $2, "->", $3 }')
eq "no counter or histogram sample decreased" "$dec" ""
gone=$(join -v 1 "$WORK/m1" "$WORK/m2")
eq "no counter or histogram sample disappeared" "$gone" ""
eq "duration count still $N after the DELETEs" \
	"$(value "$WORK/m2" jobspool_job_duration_seconds_count)" "$N"
eq "finished_total{completed} still $N (changes are no finishes)" \
	"$(value "$WORK/m2" 'jobspool_jobs_finished_total{state="completed"}')" "$N"
jobs=$(curl -s "$URL/metrics" | awk '$1 == "jobspool_jobs{state=\"retrieved\"}" { print $2 }')
eq "the jobs gauge follows the spool (5 retrieved left)" "$jobs" 5

stop_pid "$PROC_PID"
proc_check_logs
api_stop
finish
