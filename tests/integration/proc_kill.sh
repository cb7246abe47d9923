#!/bin/sh
# jobspool-processor: stopping jobs.  Timeout (with grandchildren, and with
# a job ignoring SIGTERM), cancel of a running job within a second, retries
# with backoff, SIGTERM shutdown (grace, then requeue giving the attempt
# back), SIGHUP reload.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

# running ID: the job's .wip says it runs (pid recorded)
running() { jq -e '.status == "running" and .pid != null' "$SPOOL/$1.wip" >/dev/null 2>&1; }
no_proc() { ! pgrep -f "$1" >/dev/null; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

proc_setup
start_proc -j 4 --kill-grace 1s

# ---- timeout: the whole group goes, grandchildren included ----
to_id=$(submit '{"shell":"sleep 987651 & sleep 987652 & sleep 987653","timeout":1}')
ign_id=$(submit '{"shell":"trap \"\" TERM; sleep 987654 & sleep 987655","timeout":1}')
check "timeout: jobs end" wait_final 30 "$to_id" "$ign_id"
eq "timeout: failed" "$(field "$to_id" .status)" failed
check "timeout: error says timeout" sh -c "jq -r .error '$(final "$to_id")' | grep -q timeout"
eq "timeout: killed by SIGTERM" "$(field "$to_id" .signal)" 15
check "timeout: no grandchild survives" wait_until 10 no_proc 'sleep 98765[123]'
eq "timeout, TERM ignored: failed" "$(field "$ign_id" .status)" failed
eq "timeout, TERM ignored: SIGKILL after the grace" "$(field "$ign_id" .signal)" 9
check "timeout, TERM ignored: error says timeout" sh -c "jq -r .error '$(final "$ign_id")' | grep -q timeout"
check "timeout, TERM ignored: nothing survives" wait_until 10 no_proc 'sleep 98765[45]'

# ---- cancel of a running job ----
c_id=$(submit '{"shell":"sleep 987656 & sleep 987657"}')
check "cancel: job is running" wait_until 20 running "$c_id"
t0=$(now_ms)
printf 'cancelled by the test' >"$SPOOL/tmp/$c_id.cancel"
mv "$SPOOL/tmp/$c_id.cancel" "$SPOOL/$c_id.cancel"
check "cancel: job becomes .cancelled" wait_until 10 test -f "$SPOOL/$c_id.cancelled"
t1=$(now_ms)
check "cancel: within a second ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 1000
eq "cancel: status" "$(field "$c_id" .status)" cancelled
check "cancel: .cancel and .wip removed" sh -c "! [ -e '$SPOOL/$c_id.cancel' ] && ! [ -e '$SPOOL/$c_id.wip' ]"
check "cancel: no process survives" wait_until 10 no_proc 'sleep 98765[67]'

# ---- retries with backoff ----
r_id=$(submit "{\"shell\":\"date +%s%N >> $WORK/r-times; exit 1\",\"retries\":2}")
s_id=$(submit "{\"shell\":\"[ -f $WORK/flag ] && exit 0; touch $WORK/flag; exit 1\",\"retries\":3}")
check "retries: jobs end" wait_final 60 "$r_id" "$s_id"
eq "retries: failed after all runs" "$(field "$r_id" .status)" failed
eq "retries: attempts = 1 + retries" "$(field "$r_id" .attempts)" 3
eq "retries: ran three times" "$(wc -l <"$WORK/r-times")" 3
t1=$(sed -n 1p "$WORK/r-times") t2=$(sed -n 2p "$WORK/r-times") t3=$(sed -n 3p "$WORK/r-times")
d1=$(( (t2 - t1) / 1000000 )) d2=$(( (t3 - t2) / 1000000 ))
check "retries: first backoff >= 1 s ($d1 ms)" test "$d1" -ge 1000
check "retries: second backoff >= 2 s ($d2 ms)" test "$d2" -ge 2000
check "retries: backoff not much longer (<= 4.5 s: $d2 ms)" test "$d2" -le 4500
eq "retry then success: completed" "$(field "$s_id" .status)" completed
eq "retry then success: attempts 2" "$(field "$s_id" .attempts)" 2
stop_proc "$PROC_PID"

# ---- SIGTERM: a job that ends within the grace completes ----
proc_setup
start_proc -j 2 --shutdown-grace 20s
g_id=$(submit '{"shell":"sleep 1; echo done"}')
check "grace: job is running" wait_until 20 running "$g_id"
kill -TERM "$PROC_PID"
late_id=$(submit '{"command":["true"]}')
wait "$PROC_PID"
eq "grace: processor exits 0" "$?" 0
eq "grace: running job completed" "$(field "$g_id" .status)" completed
check "grace: nothing claimed after SIGTERM" test -f "$SPOOL/$late_id.pending"

# ---- SIGTERM: after the grace, kill and requeue, attempt given back ----
proc_setup
start_proc -j 2 --shutdown-grace 1s --kill-grace 1s
q_id=$(submit '{"shell":"sleep 987658 & sleep 987659","max_attempts":1}')
check "requeue: job is running" wait_until 20 running "$q_id"
eq "requeue: attempts 1 while running" "$(jq -r .attempts "$SPOOL/$q_id.wip")" 1
t0=$(now_ms)
kill -TERM "$PROC_PID"
wait "$PROC_PID"
eq "requeue: processor exits 0" "$?" 0
t1=$(now_ms)
check "requeue: processor stopped within the graces ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 8000
check "requeue: job is pending again" test -f "$SPOOL/$q_id.pending"
eq "requeue: status pending" "$(jq -r .status "$SPOOL/$q_id.pending")" pending
eq "requeue: attempt given back" "$(jq -r .attempts "$SPOOL/$q_id.pending")" 0
check "requeue: no process survives" wait_until 10 no_proc 'sleep 98765[89]'
# and it runs again (max_attempts 1 would refuse it if the attempt counted)
start_proc -j 2 --shutdown-grace 1s --kill-grace 1s
check "requeue: job runs again" wait_until 20 running "$q_id"
eq "requeue: attempts 1 again" "$(jq -r .attempts "$SPOOL/$q_id.wip")" 1
printf x >"$SPOOL/tmp/c" && mv "$SPOOL/tmp/c" "$SPOOL/$q_id.cancel"
check "requeue: cancelled" wait_final 20 "$q_id"
stop_proc "$PROC_PID"

# ---- SIGHUP reloads the configuration ----
proc_setup
printf 'log-level = warning\njobs = 1\n' >"$WORK/conf"
start_proc --config "$WORK/conf"
h1=$(submit '{"command":["true"]}')
check "hup: first job done" wait_final 20 "$h1"
check "hup: no info lines at level warning" sh -c "! grep -q 'info:' '$PROC_LOG'"
printf 'log-level = debug\njobs = 2\n' >"$WORK/conf"
kill -HUP "$PROC_PID"
check "hup: reload logged" wait_until 10 grep -q 'configuration reloaded (-j 2' "$PROC_LOG"
h2=$(submit '{"command":["true"]}')
check "hup: second job done" wait_final 20 "$h2"
check "hup: debug lines after reload" grep -q 'debug:' "$PROC_LOG"
printf 'jobs = many\n' >"$WORK/conf"
kill -HUP "$PROC_PID"
check "hup: bad config refused and logged" wait_until 10 grep -q 'not reloaded' "$PROC_LOG"
check "hup: processor still running" kill -0 "$PROC_PID"
h3=$(submit '{"command":["true"]}')
check "hup: still runs jobs" wait_final 20 "$h3"
stop_proc "$PROC_PID"

proc_check_logs
finish
