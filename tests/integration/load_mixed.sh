#!/bin/sh
# Load: LOAD_JOBS submissions (default 1,000 here; `make soak` runs 10,000)
# from LOAD_CLIENTS (32) concurrent keep-alive clients, while
# LOAD_FOLLOWERS (200) followers stream job logs (chunked follow) and a
# processor runs them with -j 2.
#   - every answer is 201 except the intentional 400s (one request in 50
#     is an invalid job), and nothing else;
#   - every follower gets 200 and its job's whole output;
#   - every job ends final, none is lost or duplicated;
#   - the apiserver's open file descriptors return to the baseline and its
#     resident memory grows by less than LOAD_RSS_MB (20 MiB; 128 MiB for a
#     sanitizer build, whose allocator keeps freed memory in quarantine).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

N=${LOAD_JOBS:-1000}
C=${LOAD_CLIENTS:-32}
F=${LOAD_FOLLOWERS:-200}
if ldd "$JS_BIN/jobspool-apiserver" 2>/dev/null | grep -q libasan; then
	RSS_MB=${LOAD_RSS_MB:-128}
	# a small quarantine, so that RSS says something about leaks
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:quarantine_size_mb=16"
else
	RSS_MB=${LOAD_RSS_MB:-20}
fi
proc_setup
TOK="Authorization: Bearer load-secret"
start_api --token load:load-secret --max-connections 2048 ||
	{ fail "apiserver starts"; finish; }
fds() { ls /proc/"$API_PID"/fd 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS/ { print $2 }' /proc/"$API_PID"/status; }
threads() { awk '/^Threads/ { print $2 }' /proc/"$API_PID"/status; }

# ---- warm-up, then the baseline ----
i=0
while [ "$i" -lt 20 ]; do
	i=$((i + 1))
	curl -s -o /dev/null -H "$TOK" -d '{"command":["true"]}' "$URL/api/v1/jobs"
done
req POST /api/v1/jobs -H "$TOK" -d '{"shell":"echo warm"}'
W=$(printf '%s' "$BODY" | jq -r .id)
start_proc -j 2 --scan-interval 1s
P=$PROC_PID
check "warm-up jobs run" wait_final 60 "$W"
req GET "/api/v1/jobs/$W/log?follow=1" -H "$TOK"
eq "warm-up follow" "$BODY" warm
req GET "/api/v1/jobs?limit=10" -H "$TOK"
sleep 1
FD0=$(fds) RSS0=$(rss_kb) TH0=$(threads)
echo "# baseline: $FD0 fds, VmRSS $RSS0 kB, $TH0 threads"

# ---- clients ----
# client I: every C-th request from I, 50 per curl process (keep-alive).
# Nine in ten are demo jobs (POST /api/v1/add/K/1: run in the processor
# without a process, so that the processor keeps up), one in ten a command
# job; one request in 50 is intentionally invalid ({"command":[]} -> 400).
client() {
	c_k=$1 c_cfg=$WORK/cfg.$1
	: >"$WORK/codes.$1"
	while [ "$c_k" -le "$N" ]; do
		: >"$c_cfg"
		c_j=0
		while [ "$c_j" -lt 50 ] && [ "$c_k" -le "$N" ]; do
			if [ $((c_k % 50)) -eq 0 ]; then
				printf 'url = "%s/api/v1/jobs"\ndata = "%s"\n' "$URL" \
					'{\"command\":[]}'
			elif [ $((c_k % 10)) -eq 1 ]; then
				printf 'url = "%s/api/v1/jobs"\ndata = "%s"\n' "$URL" \
					"{\\\"command\\\":[\\\"true\\\"],\\\"name\\\":\\\"load-$c_k\\\"}"
			else
				printf 'url = "%s/api/v1/add/%s/1"\nrequest = "POST"\n' \
					"$URL" "$c_k"
			fi >>"$c_cfg"
			printf 'header = "%s"\nheader = "Content-Type: application/json"\nsilent\noutput = "/dev/null"\nmax-time = 60\nwrite-out = "%%{http_code}\\n"\nnext\n' \
				"$TOK" >>"$c_cfg"
			c_k=$((c_k + C)) c_j=$((c_j + 1))
		done
		curl -K "$c_cfg" >>"$WORK/codes.$1" 2>/dev/null
	done
}
# the followed jobs: one batch of F jobs, each printing two lines 0.2 s
# apart, submitted first so that they run while the clients submit; one
# follower each, all connected before the clients start
f_i=0
{
	printf '{"jobs":['
	while [ "$f_i" -lt "$F" ]; do
		f_i=$((f_i + 1))
		[ "$f_i" -gt 1 ] && printf ','
		printf '{"command":["/bin/sh","-c","echo start-%d; sleep 0.2; echo end-%d"]}' \
			"$f_i" "$f_i"
	done
	printf ']}'
} >"$WORK/batch.json"
kill -STOP "$P"	# hold the processor until every follower is connected
req POST /api/v1/batches -H "$TOK" -H 'Content-Type: application/json' \
	--data-binary @"$WORK/batch.json"
eq "the batch of $F followed jobs is accepted" "$CODE" 201
printf '%s' "$BODY" | jq -r '.jobs[]' | awk '{ print NR, $0 }' >"$WORK/followed"
eq "$F followed jobs submitted" "$(awk 'length($2) == 36' "$WORK/followed" | wc -l)" "$F"
: >"$WORK/fpids"
while read -r n id; do
	curl -s -N -H "$TOK" --max-time 600 -o "$WORK/fout.$n" \
		-w '%{http_code} %{exitcode} %{time_total}\n' \
		"$URL/api/v1/jobs/$id/log?follow=1" >"$WORK/fcode.$n" 2>/dev/null &
	echo $! >>"$WORK/fpids"
done <"$WORK/followed"
connected() { [ "$(fds)" -ge $((FD0 + F)) ]; }
check "the $F followers are connected" wait_until 120 connected
echo "# $F followers connected: $(fds) fds, $(threads) threads"
kill -CONT "$P"

t0=$(date +%s)
cpids=""
i=0
while [ "$i" -lt "$C" ]; do
	i=$((i + 1))
	client "$i" &
	cpids="$cpids $!"
done
for p in $cpids; do wait "$p"; done
t1=$(date +%s)
peak_fds=$(fds) peak_th=$(threads)
echo "# $N submissions by $C clients in $((t1 - t0)) s; then: $peak_fds fds, $peak_th threads"

cat "$WORK"/codes.* | sort | uniq -c | sed 's/^/# codes: /'
bad=$((N / 50))
eq "every valid submission answered 201" "$(cat "$WORK"/codes.* | grep -c -x 201)" $((N - bad))
eq "every intentional invalid job answered 400" "$(cat "$WORK"/codes.* | grep -c -x 400)" "$bad"
eq "no other answer" "$(cat "$WORK"/codes.* | grep -v -x -e 201 -e 400 | sort | uniq -c)" ""

# ---- followers and processing ----
fol_done() {
	for p in $(cat "$WORK/fpids"); do kill -0 "$p" 2>/dev/null && return 1; done
	return 0
}
check "every follower ends (its job ended)" wait_until 400 fol_done
for p in $(cat "$WORK/fpids"); do kill "$p" 2>/dev/null; done
t2=$(date +%s)
badf=0
while read -r n id; do
	code=$(cut -d' ' -f1 "$WORK/fcode.$n" 2>/dev/null)
	if [ "$code" != 200 ] || [ "$(cat "$WORK/fout.$n" 2>/dev/null)" != "start-$n
end-$n" ]; then
		badf=$((badf + 1))
		[ "$badf" -le 3 ] && echo "# follower $n ($id): $(cat "$WORK/fcode.$n") '$(head -c 100 "$WORK/fout.$n")'"
	fi
done <"$WORK/followed"
eq "every follower got 200 and its job's whole log" "$badf" 0
drained() { ! ls "$SPOOL" | grep -q -E '\.(pending|wip)$'; }
check "the processor finishes every job" wait_until 400 drained
t3=$(date +%s)
echo "# followers done after $((t2 - t0)) s, all jobs final after $((t3 - t0)) s"
total=$((N - bad + F + 21))
states=$(ls "$SPOOL" | grep -E '\.(pending|wip|completed|failed|cancelled|retrieved)$')
eq "every job is final exactly once" "$(echo "$states" | wc -l)" "$total"
eq "every job completed" "$(echo "$states" | grep -c '\.completed$')" "$total"
eq "no job has two state files" "$(echo "$states" | cut -d. -f1 | sort | uniq -d | wc -l)" 0
stop_proc "$P"
proc_check_logs

# ---- after: back to the baseline ----
back() { [ "$(fds)" -le "$FD0" ]; }
check "apiserver fds back to the baseline ($FD0)" wait_until 60 back
sleep 1
FD1=$(fds) RSS1=$(rss_kb) TH1=$(threads)
echo "# after: $FD1 fds, VmRSS $RSS1 kB, $TH1 threads (baseline $FD0 fds, $RSS0 kB, $TH0 threads)"
echo "# RSS growth: $(( (RSS1 - RSS0) / 1024 )) MiB (bound $RSS_MB MiB)"
eq "apiserver fd count equals the baseline" "$FD1" "$FD0"
eq "apiserver threads back to the baseline" "$TH1" "$TH0"
check "apiserver RSS grew by less than $RSS_MB MiB ($(( (RSS1 - RSS0) / 1024 )) MiB)" \
	[ $((RSS1 - RSS0)) -lt $((RSS_MB * 1024)) ]
req GET /healthz
eq "apiserver healthy after the load" "$CODE" 200
api_stop

# ---- a follower that waits longer than --idle-timeout (bug A2) ----
start_api --token load:load-secret --idle-timeout 2s ||
	{ fail "apiserver restarts"; finish; }
req POST /api/v1/jobs -H "$TOK" -d '{"command":["/bin/echo","late"]}'
L=$(printf '%s' "$BODY" | jq -r .id)
curl -s -N -H "$TOK" --max-time 60 -o "$WORK/late.out" \
	-w '%{http_code} %{exitcode}' "$URL/api/v1/jobs/$L/log?follow=1" \
	>"$WORK/late.code" 2>/dev/null &
LF=$!
sleep 4	# the job stays pending for twice --idle-timeout
start_proc -j 1 --scan-interval 1s
wait "$LF"
eq "a follow pending longer than --idle-timeout still ends cleanly" \
	"$(cat "$WORK/late.code")" "200 0"
eq "and gets the whole log" "$(cat "$WORK/late.out" 2>/dev/null)" late
stop_proc "$PROC_PID"
api_stop
finish
