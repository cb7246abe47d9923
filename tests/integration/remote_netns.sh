#!/bin/sh
# Remote workers on other "hosts" (issue 8): three network namespaces joined
# by veth pairs (netns.inc).  The apiserver runs in A on A's own address with
# tokens; two remote processors (--server) run in B (labels remote, gpu) and
# C (labels remote, hostc) with their own local work directories; one local
# processor (no labels) runs on the apiserver's spool.  Lease 6 s everywhere.
# Checks: the worker routes refuse a wrong token (401) and a token without
# the worker role (403), and so does a processor started with one (it runs
# nothing); labels (a "gpu" job runs only on the worker with --label gpu); a
# log followed live from C while B produces it; 500 jobs over the three
# processors, each run exactly once; the link cut for less than the lease
# (the job completes once, its log whole, also as a follower read it live);
# the link cut for longer than the lease (the job re-runs on the other
# worker, the cut worker kills its copy before the re-run starts, none of
# its held-back log bytes reach the log, its late finish is refused with
# 409; once the link is back the cut worker runs jobs again); no spurious
# 503 or failed recovery pass under the churn of three processors on one
# spool.  The filesystem is shared by the namespaces: jobs leave markers in
# $WORK.  Skipped, with the reason, where network namespaces cannot be made
# (not root, no netns support).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"
. "$(dirname "$0")/netns.inc"

if ! netns_setup; then
	skip_suite "$NETNS_KIND" "$NETNS_WHY"
fi
T0=$(date +%s)
HOST=$(hostname)
LEASE=6	# seconds: heartbeats every 2 s; the short cut lasts 1.5 s
proc_setup
if ! start_api_ns --lease "${LEASE}s" --token client:c-secret \
    --token boss:b-secret:admin --token wb:wb-secret:worker \
    --token wc:wc-secret:worker; then
	fail "apiserver starts in $NS_A on $NS_ADDR"
	finish
fi
CL="Authorization: Bearer c-secret"

# ---- the hosts: A's address is reachable from B and C, a cut is a cut ----
health() {	# NS: status of /healthz from NS (000: unreachable)
	ip netns exec "$1" curl -s -o /dev/null -w '%{http_code}' \
		--connect-timeout 2 --max-time 3 "$URL/healthz"
}
eq "hosts: the apiserver answers B" "$(health "$NS_B")" 200
eq "hosts: the apiserver answers C" "$(health "$NS_C")" 200
link_down "$NS_B"
eq "hosts: B cut off" "$(health "$NS_B")" 000
eq "hosts: C still reaches A while B is cut off" "$(health "$NS_C")" 200
link_up "$NS_B"
health_ok() { [ "$(health "$1")" = 200 ]; }
check "hosts: B reaches A again" wait_until 20 health_ok "$NS_B"

# hcurl NS ARGS...: curl from namespace NS with a deadline
hcurl() { h_ns=$1; shift; ip netns exec "$h_ns" curl -s -g --max-time 20 "$@"; }
# post JSON: submit a job as the client (from A); prints its id
post() {
	hcurl "$NS_A" -X POST -H "$CL" -H 'Content-Type: application/json' \
		-d "$1" "$URL/api/v1/jobs" | jq -r .id
}
# job SHELL [LABELS-JSON]: a job's JSON
job() { jq -cn --arg s "$1" --argjson l "${2:-[]}" '{shell: $s, labels: $l}'; }
peek() { hcurl "$NS_A" -H "$CL" "$URL/api/v1/jobs/$1?peek=1"; }
server_log() { hcurl "$NS_A" -H "$CL" "$URL/api/v1/jobs/$1/log"; }
# the spool's own view (cheap enough for wait_until's fast polling)
wip_by() {	# ID WORKER
	jq -e --arg w "$2" '.status == "running" and .worker == $w' \
		"$SPOOL/$1.wip" >/dev/null 2>&1
}
wip_field() { jq -r "$2" "$SPOOL/$1.wip" 2>/dev/null; }
log_size() { stat -c %s "$SPOOL/$1.log" 2>/dev/null || echo 0; }
has_lines() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }
no_proc() { ! pgrep -f "$1" >/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }
is_pending() { [ -f "$SPOOL/$1.pending" ]; }

# start_remote NS SECRET FLAGS...: a remote processor in NS with its own
# local work directory; sets $PROC_PID and $PROC_LOG
start_remote() {
	r_ns=$1 r_secret=$2; shift 2
	PROC_N=$((PROC_N + 1))
	PROC_LOG="$WORK/proc.$PROC_N.log"
	r_dir=$(mktemp -d /tmp/jobspool-worker.XXXXXX)
	T_DIRS="$T_DIRS $r_dir"
	ip netns exec "$r_ns" "$JS_BIN/jobspool-processor" --server "$URL" \
		--token "$r_secret" --spool "$r_dir/work" "$@" 2>>"$PROC_LOG" &
	PROC_PID=$!
	T_PIDS="$T_PIDS $PROC_PID"
}

# ---- the worker routes refuse a wrong token and a token without the role
claim() {	# NS SECRET: one claim that does not wait; prints the status
	hcurl "$1" -o "$WORK/claim.out" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
		-d '{"wait":0}' "$URL/api/v1/workers/claim"
}
eq "claim from B with a wrong token: 401" "$(claim "$NS_B" nope)" 401
eq "claim from B with no token: 401" "$(hcurl "$NS_B" -o /dev/null \
	-w '%{http_code}' -X POST -d '{}' "$URL/api/v1/workers/claim")" 401
eq "claim from B with a client token: 403" "$(claim "$NS_B" c-secret)" 403
check "403 says the worker role is missing" \
	grep -q 'worker role' "$WORK/claim.out"
eq "claim from B with an admin token: 403" "$(claim "$NS_B" b-secret)" 403
eq "claim from C with its worker token, empty queue: 204" \
	"$(claim "$NS_C" wc-secret)" 204

# ---- the three processors: B (labels remote, gpu), C (remote), local ----
start_remote "$NS_B" wb-secret -j 2 --label remote --label gpu \
	--retry-max 1s --claim-wait 5s --log-buffer 64K
PB=$PROC_PID LOG_B=$PROC_LOG
start_remote "$NS_C" wc-secret -j 2 --label remote --label hostc \
	--retry-max 1s --claim-wait 5s --log-buffer 64K
PC=$PROC_PID LOG_C=$PROC_LOG
PROC_N=$((PROC_N + 1))
LOG_L="$WORK/proc.$PROC_N.log"
ip netns exec "$NS_A" "$JS_BIN/jobspool-processor" --spool "$SPOOL" -j 2 \
	--lease "${LEASE}s" --scan-interval 500ms 2>>"$LOG_L" &
PL=$!
T_PIDS="$T_PIDS $PL"
WB="$HOST:$PB" WC="$HOST:$PC" WL="$HOST:$PL"

# ---- processors with a wrong token / without the worker role run nothing
start_remote "$NS_C" wrong-secret -j 1 --label bad --retry-max 1s
PX=$PROC_PID LOG_X=$PROC_LOG
start_remote "$NS_B" c-secret -j 1 --label bad --retry-max 1s
PY=$PROC_PID LOG_Y=$PROC_LOG
bad_id=$(post "$(job "echo ran >> $WORK/bad.ran" '["bad"]')")
check "processor with a wrong token logs the refusal (401)" \
	wait_until 30 grep -q -E 'refused.*401' "$LOG_X"
check "processor without the worker role logs the refusal (403)" \
	wait_until 30 grep -q -E 'refused.*403' "$LOG_Y"

# ---- labels: "gpu" jobs run only on B; a label nobody has waits ----
nowhere_id=$(post "$(job "echo ran >> $WORK/nowhere.ran" '["nowhere"]')")
gpu_ids=""
for i in 1 2 3 4 5 6; do
	gpu_ids="$gpu_ids $(post "$(job "echo $i >> $WORK/gpu.ran" '["gpu"]')")"
done
# shellcheck disable=SC2086
check "labels: the gpu jobs end" wait_final 60 $gpu_ids
g_workers=$(for i in $gpu_ids; do field "$i" .worker; done | sort -u)
eq "labels: every gpu job ran on B (--label gpu)" "$g_workers" "$WB"
eq "labels: every gpu job completed" "$(for i in $gpu_ids; do
	field "$i" .status; done | sort -u)" completed
eq "labels: 6 gpu runs" "$(wc -l <"$WORK/gpu.ran" 2>/dev/null)" 6
check "labels: the 'nowhere' job is still pending" is_pending "$nowhere_id"
check "refused processors: their job is still pending" is_pending "$bad_id"
check "refused processors: they ran nothing" test ! -e "$WORK/bad.ran"
for p in $PX $PY; do kill -TERM "$p" 2>/dev/null; done
for p in $PX $PY; do wait "$p" 2>/dev/null; done
for i in $bad_id $nowhere_id; do
	hcurl "$NS_A" -o /dev/null -X DELETE -H "$CL" "$URL/api/v1/jobs/$i"
done

# ---- a log followed live from C while B produces it ----
f_id=$(post "$(job 'echo first; sleep 4.987681; echo second' '["gpu"]')")
check "follow: the job runs on B" wait_until 30 wip_by "$f_id" "$WB"
ip netns exec "$NS_C" curl -s -N --max-time 60 -H "$CL" \
	"$URL/api/v1/jobs/$f_id/log?follow=1" >"$WORK/follow.out" 2>/dev/null &
FP=$!
T_PIDS="$T_PIDS $FP"
check "follow: the first line arrives" \
	wait_until 20 grep -q '^first$' "$WORK/follow.out"
eq "follow: ...while the job is still running" \
	"$(peek "$f_id" | jq -r .status)" running
check "follow: ...and before the second line" \
	sh -c "! grep -q second '$WORK/follow.out'"
check "follow: ends with the job" wait_until 40 gone "$FP"
eq "follow: every line once, in order" \
	"$(tr '\n' '|' <"$WORK/follow.out")" "first|second|"
eq "follow: the job completed" "$(field "$f_id" .status)" completed

# ---- 500 jobs over two remote workers and one local processor ----
n=500
i=1
{
	printf '{"jobs":['
	while [ $i -le $n ]; do
		[ $i -gt 1 ] && printf ','
		printf '{"shell":"echo %d >> %s/ran500"}' "$i" "$WORK"
		i=$((i + 1))
	done
	printf ']}'
} >"$WORK/batch.json"
before=$(count_final)
t_500=$(date +%s)
bcode=$(hcurl "$NS_A" -o "$WORK/batch.out" -w '%{http_code}' -X POST \
	-H "$CL" -H 'Content-Type: application/json' \
	--data-binary @"$WORK/batch.json" "$URL/api/v1/batches")
eq "500: batch accepted" "$bcode" 201
check "500: every job ends" wait_count 60 $((before + n)) count_final
t_500=$(( $(date +%s) - t_500 ))
echo "# 500 jobs over 3 processors in ${t_500} s"
eq "500: 500 runs" "$(wc -l <"$WORK/ran500")" $n
eq "500: 500 distinct jobs ran" "$(sort -u "$WORK/ran500" | wc -l)" $n
eq "500: no job ran twice" "$(sort "$WORK/ran500" | uniq -d | wc -l)" 0
bids=$(jq -r '.jobs[]' "$WORK/batch.out")
(cd "$SPOOL" && for i in $bids; do
	cat "$i.completed" 2>/dev/null || echo '{"missing":true}'
done) >"$WORK/batch.jobs"
eq "500: all completed" \
	"$(jq -s '[.[] | select(.status == "completed")] | length' "$WORK/batch.jobs")" $n
eq "500: each in one attempt" \
	"$(jq -s '[.[] | select(.attempts != 1)] | length' "$WORK/batch.jobs")" 0
jq -r .worker "$WORK/batch.jobs" | sort | uniq -c >"$WORK/batch.workers"
echo "# workers: $(tr -s ' \n' ' ' <"$WORK/batch.workers")"
for w in "$WB" "$WC" "$WL"; do
	check "500: $w took part" grep -q " $w\$" "$WORK/batch.workers"
done
eq "500: no other worker" "$(wc -l <"$WORK/batch.workers")" 3

# ---- the link cut for less than the lease: the job completes once ----
# The job prints 10 lines, waits for the test's go (given once the link is
# down), then bursts 60,000 lines (~350 KB, more than the worker's
# --log-buffer: held on disk, the job may be paused) and 30 more lines; the
# server's log must end up byte for byte what the job printed.
s_sh="echo run >> $WORK/short.runs; i=1; while [ \$i -le 10 ]; do echo line \$i; i=\$((i + 1)); sleep 0.1; done; while [ ! -e $WORK/short.go ]; do sleep 0.05; done; seq 1 60000; while [ \$i -le 40 ]; do echo line \$i; i=\$((i + 1)); sleep 0.1; done"
s_id=$(post "$(job "$s_sh" '["remote"]')")
check "short cut: the job runs on a remote worker" \
	wait_until 30 sh -c "jq -e '.status == \"running\" and .worker != null' '$SPOOL/$s_id.wip' >/dev/null 2>&1"
s_w=$(wip_field "$s_id" .worker)
case "$s_w" in
"$WB") s_ns=$NS_B s_log=$LOG_B ;;
"$WC") s_ns=$NS_C s_log=$LOG_C ;;
*) s_ns=""; fail "short cut: ran on $s_w, not on B or C" ;;
esac
s_up() { [ "$(log_size "$s_id")" -gt 0 ]; }
check "short cut: its first lines reach the server" wait_until 20 s_up
# a follower on the apiserver's host reads the log live through the outage
ip netns exec "$NS_A" curl -s -N --max-time 120 -H "$CL" \
	"$URL/api/v1/jobs/$s_id/log?follow=1" >"$WORK/short.follow" 2>/dev/null &
SFP=$!
T_PIDS="$T_PIDS $SFP"
if [ -n "$s_ns" ]; then
	link_down "$s_ns"
	sleep 0.3
	s_a=$(log_size "$s_id")
	: >"$WORK/short.go"
	sleep 1.2
	s_b=$(log_size "$s_id")
	link_up "$s_ns"
	eq "short cut: nothing arrives while the link is down" "$s_b" "$s_a"
fi
: >"$WORK/short.go"
check "short cut: the job ends" wait_final 60 "$s_id"
eq "short cut: completed" "$(field "$s_id" .status)" completed
eq "short cut: one attempt" "$(field "$s_id" .attempts)" 1
eq "short cut: by the same worker" "$(field "$s_id" .worker)" "$s_w"
eq "short cut: ran once" "$(wc -l <"$WORK/short.runs")" 1
{
	i=1
	while [ $i -le 10 ]; do echo "line $i"; i=$((i + 1)); done
	seq 1 60000
	while [ $i -le 40 ]; do echo "line $i"; i=$((i + 1)); done
} >"$WORK/short.expect"
eq "short cut: the log is whole (every byte once, in order)" \
	"$(server_log "$s_id" | sha256sum)" "$(sha256sum <"$WORK/short.expect")"
check "short cut: the follower's stream ends with the job" wait_until 30 gone "$SFP"
eq "short cut: the follower got every byte once, in order" \
	"$(sha256sum <"$WORK/short.follow")" "$(sha256sum <"$WORK/short.expect")"
eq "short cut: log_size and log_sha256 describe the server's log" \
	"$(field "$s_id" '"\(.log_size) \(.log_sha256)"')" \
	"$(stat -c %s "$SPOOL/$s_id.log") $(sha256sum <"$SPOOL/$s_id.log" | cut -d' ' -f1)"
check "short cut: no lease lost" sh -c "! grep -q 'job $s_id: lease lost' '$s_log'"
grep -q "job $s_id: paused" "$s_log" &&
	echo "# short cut: the worker paused the job while its log could not be sent"

# ---- the link cut for longer than the lease: re-run elsewhere, 409 ----
# The first run prints "first run", then a tick every 0.2 s until killed:
# the cut worker holds unsent ticks when its link comes back, and none of
# them may reach the server's log after the re-run.  Both runs also stamp
# the time into a shared file ($WORK/long.order), which shows how long the
# cut worker's copy ran on after the re-run began.
l_id=$(post "$(job "echo run >> $WORK/long.runs; if [ -e $WORK/long.first ]; then echo second run; echo second \$(date +%s%N) >> $WORK/long.order; else touch $WORK/long.first; echo first run; exec sh -c 'while :; do echo tick; echo tick \$(date +%s%N) >> $WORK/long.order; sleep 0.2; done' tickloop$$x; fi" '["remote"]')")
check "long cut: the job starts on a remote worker" \
	wait_until 30 test -e "$WORK/long.first"
l_w=$(wip_field "$l_id" .worker)
l_gen=$(wip_field "$l_id" .generation)
case "$l_w" in
"$WB") l_ns=$NS_B l_other=$WC l_log=$LOG_B l_label=gpu ;;
"$WC") l_ns=$NS_C l_other=$WB l_log=$LOG_C l_label=hostc ;;
*) l_ns=""; fail "long cut: ran on $l_w, not on B or C" ;;
esac
check "long cut: its first ticks reach the server" \
	wait_until 20 grep -q -s tick "$SPOOL/$l_id.log"
if [ -n "$l_ns" ]; then
	l_t=$(date +%s)
	link_down "$l_ns"
	check "long cut: the job re-runs while the link is down" \
		wait_until 60 has_lines "$WORK/long.runs" 2
	echo "# re-run $(( $(date +%s) - l_t )) s after the cut (lease ${LEASE} s)"
	check "long cut: the other worker completes it meanwhile" \
		wait_final 60 "$l_id"
	check "long cut: the cut worker says its lease is lost" \
		wait_until 30 grep -q "job $l_id: lease lost" "$l_log"
	check "long cut: the cut worker reports the server unreachable" \
		wait_until 30 grep -q "unreachable" "$l_log"
	check "long cut: ...and kills its copy (no contact needed)" \
		wait_until 30 no_proc "tickloop$$x"
	# the two copies never ran at once: the cut worker stops its copy
	# (a little) before its lease expires, so no tick after "second"
	l_over=$(awk '$1 == "second" { s = $2 } $1 == "tick" && s && $2 > s { t = $2 }
		END { printf "%.1f", (t && s) ? (t - s) / 1e9 : 0 }' "$WORK/long.order")
	eq "long cut: the cut copy stopped before the re-run started (overlap s)" \
		"$l_over" 0.0
	l_snap=$(server_log "$l_id" | tr '\n' '|')
	echo "# link held down $(( $(date +%s) - l_t )) s"
	link_up "$l_ns"
	l_t=$(date +%s)
	eq "long cut: completed" "$(field "$l_id" .status)" completed
	eq "long cut: attempts 2" "$(field "$l_id" .attempts)" 2
	eq "long cut: finished by the other worker" \
		"$(field "$l_id" .worker)" "$l_other"
	eq "long cut: ran twice in all" "$(wc -l <"$WORK/long.runs")" 2
	l_final=$(final "$l_id")
	l_sum=$(sha256sum <"$l_final")
	check "long cut: the cut worker's late finish is refused (409)" \
		wait_until 60 grep -q "job $l_id: .*409" "$l_log"
	echo "# late finish refused $(( $(date +%s) - l_t )) s after the link came back"
	eq "long cut: ...and changes nothing" "$(sha256sum <"$l_final")" "$l_sum"
	if [ "$l_ns" = "$NS_B" ]; then l_sec=wb-secret; else l_sec=wc-secret; fi
	l_body=$(jq -cn --argjson g "$l_gen" '{token: $g, job: {status: "failed",
		exit_code: 1, error: "late"}}')
	eq "long cut: a finish replayed with the old token gets 409" \
		"$(hcurl "$l_ns" -o "$WORK/replay.out" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $l_sec" \
		-H 'Content-Type: application/json' -d "$l_body" \
		"$URL/api/v1/workers/jobs/$l_id/finish")" 409
	eq "long cut: ...and changes nothing" "$(sha256sum <"$l_final")" "$l_sum"
	eq "long cut: one final file" \
		"$(ls "$SPOOL" | grep -c "^$l_id\.\(completed\|failed\|cancelled\)$")" 1
	l_end=$(server_log "$l_id" | tr '\n' '|')
	eq "long cut: none of the cut worker's held-back ticks reach the log" \
		"$l_end" "$l_snap"
	eq "long cut: log_size is the server's whole log (both runs)" \
		"$(field "$l_id" .log_size)" "$(stat -c %s "$SPOOL/$l_id.log")"
	l_sha=$(field "$l_id" .log_sha256)
	eq "long cut: log_sha256 is the whole log's (both runs)" "$l_sha" \
		"$(sha256sum <"$SPOOL/$l_id.log" | cut -d' ' -f1)"
	check "long cut: the log is the first run's lines, then the second run's" \
		sh -c "printf '%s' '$l_end' | grep -q -x 'first run|\\(tick|\\)\\{1,\\}second run|'"
	# the cut worker claims and runs jobs again after the outage
	a_id=$(post "$(job "echo after" "[\"$l_label\"]")")
	check "after the outage: the cut worker runs a job again" \
		wait_final 60 "$a_id"
	echo "# ...$(( $(date +%s) - l_t )) s after the link came back"
	eq "after the outage: by the cut worker" "$(field "$a_id" .worker)" "$l_w"
	eq "after the outage: completed" "$(field "$a_id" .status)" completed
fi

# ---- no spurious failure under three processors' churn (a file that
# vanished during a spool scan once made claims answer 503 and recovery
# passes fail) ----
check "no claim answered 503, no failed lease-recovery pass" \
	sh -c "! grep -q -E 'answered 503|lease recovery(:| failed)' '$LOG_B' '$LOG_C' '$LOG_L' '$API_LOG'"

# ---- shutdown: every processor and the apiserver exit cleanly ----
stop_proc "$PB"
stop_proc "$PC"
stop_proc "$PL"
api_stop
proc_check_logs
echo "# suite took $(( $(date +%s) - T0 )) s"
finish
