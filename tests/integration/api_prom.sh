#!/bin/sh
# /metrics as Prometheus sees it: the page passes `promtool check metrics`
# (Debian package prometheus, installed by scripts/deps.sh), holds the
# families of jobspool-apiserver(8) with one label name for a job's state,
# and a real Prometheus server started here on 127.0.0.1 (temporary config
# and data directory, a free port) scrapes the apiserver and answers PromQL
# queries about a job that just ran.  The access log (--access-log) gets a
# line per request with the token's name and never its secret.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 ||
	skip_suite install "promtool/prometheus missing (apt-get install prometheus; scripts/deps.sh does it)"

proc_setup
T0=$(date +%s)
check "server starts with --access-log" start_api --token alice:s3cret-alice-XYZ \
	--access-log "$WORK/access.log"
AUTH="Authorization: Bearer s3cret-alice-XYZ"
start_proc -j 2

req POST /api/v1/jobs -H "$AUTH" -H 'Content-Type: application/json' \
	-d '{"name":"prom-probe","shell":"sleep 0.3; echo hi"}'
eq "a job is submitted (201)" "$CODE" 201
ID=$(printf '%s' "$BODY" | jq -r .id)
check "the job completes" wait_final 30 "$ID"
# the bus sees the finish a moment later
fin() { curl -s "$URL/metrics" | grep -q '^jobspool_jobs_finished_total{state="completed"} 1$'; }
check "the finish is counted" wait_until 20 fin
req GET /api/v1/jobs/nope -H "$AUTH"
eq "a 404 for the request counter" "$CODE" 404
req GET /api/v1/jobs -H 'Authorization: Bearer wrong'
eq "a 401 for the request counter" "$CODE" 401

curl -s -o "$WORK/m.txt" -D "$WORK/m.hdr" "$URL/metrics"
check "Content-Type is the text format 0.0.4" \
	grep -qi '^content-type: text/plain; version=0.0.4' "$WORK/m.hdr"
promtool check metrics <"$WORK/m.txt" >"$WORK/lint" 2>&1
eq "promtool check metrics: exit 0" "$?" 0
eq "promtool check metrics: no problem reported" "$(cat "$WORK/lint")" ""

# value NAME{LABELS}: the sample's value on the page
value() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/m.txt"; }
eq "jobspool_build_info carries the version" \
	"$(grep -c '^jobspool_build_info{version="[0-9][^"]*"} 1$' "$WORK/m.txt")" 1
st=$(value process_start_time_seconds)
check "process_start_time_seconds is when the server started ($st)" \
	awk -v s="$st" -v t="$T0" 'BEGIN { exit !(s >= t - 1 && s <= t + 60) }'
eq "submitted_total counts the job" "$(value jobspool_jobs_submitted_total)" 1
eq "finished_total{state=completed}" \
	"$(value 'jobspool_jobs_finished_total{state="completed"}')" 1
eq "finished_total{state=failed} is there, 0" \
	"$(value 'jobspool_jobs_finished_total{state="failed"}')" 0
eq "run-time histogram: one job" "$(value jobspool_job_duration_seconds_count)" 1
check "run-time histogram: its sum is the 0.3 s it slept" awk -v s="$(value \
	jobspool_job_duration_seconds_sum)" 'BEGIN { exit !(s >= 0.25 && s < 30) }'
eq "run-time histogram: not in the 0.1 s bucket" \
	"$(value 'jobspool_job_duration_seconds_bucket{le="0.1"}')" 0
eq "queue-wait histogram: one job started" \
	"$(value jobspool_job_queue_wait_seconds_count)" 1
eq "queue-wait +Inf bucket = count" \
	"$(value 'jobspool_job_queue_wait_seconds_bucket{le="+Inf"}')" 1
eq "jobs{state=completed} gauge" "$(value 'jobspool_jobs{state="completed"}')" 1
eq "nothing pending: oldest pending age 0" \
	"$(value jobspool_oldest_pending_job_age_seconds)" 0.000
check "spool free bytes > 0" awk -v v="$(value jobspool_spool_free_bytes)" \
	'BEGIN { exit !(v > 0) }'
check "spool free inodes given" grep -q '^jobspool_spool_free_inodes [0-9]' "$WORK/m.txt"
eq "HTTP requests by route and code: the POST" \
	"$(value 'jobspool_http_requests_total{route="jobs",code="201"}')" 1
eq "  the 404 of the job route" \
	"$(value 'jobspool_http_requests_total{route="job",code="404"}')" 1
eq "  the 401" "$(value 'jobspool_http_requests_total{route="jobs",code="401"}')" 1
eq "one label name for a job's state: no status= label" \
	"$(grep -c 'status=' "$WORK/m.txt")" 0
eq "every sample's family has HELP and TYPE" "$(awk '
	/^# TYPE / { t[$3] = 1 } /^# HELP / { h[$3] = 1 }
	/^[a-z]/ { n = $1; sub(/\{.*/, "", n); b = n;
		sub(/_(bucket|sum|count)$/, "", b);
		if (!((n in t && n in h) || (b in t && b in h))) print n }' "$WORK/m.txt")" ""

# a job whose start is an hour away is pending but not waiting yet: the
# oldest pending age leaves it out (its growth from the submission or the
# start time: api_obs, where no processor takes the jobs)
req POST /api/v1/jobs -H "$AUTH" -H 'Content-Type: application/json' \
	-d '{"name":"later","shell":"true","delay":"1h"}'
eq "a delayed job is submitted" "$CODE" 201
sleep 1.2
age=$(curl -s "$URL/metrics" | awk '$1 == "jobspool_oldest_pending_job_age_seconds" { print $2 }')
eq "a job due in an hour is not waiting: oldest pending age 0" "$age" 0.000

# what is paused (jobspool(5), PAUSE), and the live processor by label
eq "nothing paused: jobspool_spool_paused 0" \
	"$(curl -s "$URL/metrics" | awk '$1 == "jobspool_spool_paused" { print $2 }')" 0
touch "$SPOOL/paused"
mkdir -p "$SPOOL/paused.d" && touch "$SPOOL/paused.d/gpu"
curl -s "$URL/metrics" >"$WORK/m2.txt"
check "spool paused: jobspool_spool_paused 1" grep -q '^jobspool_spool_paused 1$' "$WORK/m2.txt"
check "label gpu paused: jobspool_label_paused{label=\"gpu\"} 1" \
	grep -q '^jobspool_label_paused{label="gpu"} 1$' "$WORK/m2.txt"
check "one live processor takes unlabelled jobs" \
	grep -q '^jobspool_processors{label=""} 1$' "$WORK/m2.txt"
check "  with its 2 free slots" grep -q '^jobspool_free_slots{label=""} 2$' "$WORK/m2.txt"
promtool check metrics <"$WORK/m2.txt" >"$WORK/lint2" 2>&1
eq "promtool check metrics with pauses and processors: clean" "$?:$(cat "$WORK/lint2")" "0:"
rm -r "$SPOOL/paused" "$SPOOL/paused.d"

# a real Prometheus server scrapes the apiserver
PP=$(free_port)
mkdir "$WORK/prom"
cat >"$WORK/prom.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: jobspool
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
check "promtool check config" sh -c "promtool check config '$WORK/prom.yml' >/dev/null 2>&1"
prometheus --config.file="$WORK/prom.yml" --storage.tsdb.path="$WORK/prom" \
	--web.listen-address="127.0.0.1:$PP" --log.level=warn \
	>"$WORK/prom.log" 2>&1 &
PROM_PID=$!
T_PIDS="$T_PIDS $PROM_PID"
# q PROMQL: the first result's value ("" if none)
q() {
	curl -s -G --max-time 5 "http://127.0.0.1:$PP/api/v1/query" \
		--data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}
up1() { [ "$(q 'up{job="jobspool"}')" = 1 ]; }
if ! check "Prometheus scrapes the apiserver (up == 1)" wait_until 60 up1; then
	cat "$WORK/prom.log"
fi
fin1() { [ "$(q 'jobspool_jobs_finished_total{state="completed"}')" = 1 ]; }
check "PromQL: the completed job is counted" wait_until 30 fin1
eq "PromQL: its run time in the histogram" \
	"$(q 'sum(jobspool_job_duration_seconds_count)')" 1
eq "PromQL: run time above 0.25 s (histogram sum)" \
	"$(q 'jobspool_job_duration_seconds_sum > 0.25')" \
	"$(q 'jobspool_job_duration_seconds_sum')"
eq "PromQL: it waited in the queue once" \
	"$(q 'jobspool_job_queue_wait_seconds_count')" 1
eq "PromQL: the two POSTs by route and code" \
	"$(q 'jobspool_http_requests_total{route="jobs",code="201"}')" 2
eq "PromQL: one job pending" "$(q 'jobspool_jobs{state="pending"}')" 1
stop_pid "$PROM_PID"

# the access log
check "access log: the POST with route, status, token name" grep -Eq \
	' POST /api/v1/jobs route=jobs status=201 bytes=[0-9]+ time=[0-9.]+(ms|s) token=alice$' \
	"$WORK/access.log"
check "access log: the 401 with no token name" grep -Eq \
	' GET /api/v1/jobs route=jobs status=401 bytes=[0-9]+ time=[^ ]+ token=-$' \
	"$WORK/access.log"
check "access log: lines start with the time and the client" grep -Eq \
	'^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z 127\.0\.0\.1 GET /metrics route=metrics status=200' \
	"$WORK/access.log"
eq "access log: never the secret" "$(grep -c 's3cret' "$WORK/access.log")" 0
eq "apiserver log: never the secret" "$(grep -c 's3cret' "$API_LOG")" 0
check "apiserver log lines start with the time (not under journald)" grep -Eq \
	'^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z jobspool-apiserver: info: listening' "$API_LOG"

# a path a client chose stays one line: one holding a %0A is refused
# (400) and logged without it
curl -s -o /dev/null "$URL/nothing%0Aforged"
check "access log: the refused path is logged as -" \
	grep -q ' GET - route=none status=400' "$WORK/access.log"
eq "access log: no forged line" "$(grep -c '^forged' "$WORK/access.log")" 0
curl -s -o /dev/null "$URL/no/such/route"
check "access log: an unknown route is none, 404" \
	grep -q ' GET /no/such/route route=none status=404' "$WORK/access.log"

stop_pid "$PROC_PID"
proc_check_logs
api_stop
finish
