#!/bin/sh
# Fault injection: kill -9 of the processor at random moments during a run
# of 1,000 jobs, restarted each time, with a short lease.  At the end every
# job is final exactly once in the spool, nothing is pending or running, and
# every re-run (at-least-once) is counted in the job's attempts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

N=${FAULT_JOBS:-1000}
proc_setup
RUNS=$WORK/runs
: >"$RUNS"
chmod 0666 "$RUNS"

# no processor runs yet, so the files are written in place (no tmp/ and
# rename needed) with shell built-ins only: fast even on a loaded machine
i=0
while [ "$i" -lt "$N" ]; do
	read -r id </proc/sys/kernel/random/uuid
	printf '{"command":["/bin/sh","-c","echo %s >> %s"],"max_attempts":20}\n' \
		"$id" "$RUNS" >"$SPOOL/$id.pending"
	i=$((i + 1))
done
eq "$N jobs submitted" "$(ls "$SPOOL" | grep -c '\.pending$')" "$N"

# kill -9 at random moments until the queue drains (or 15 kills)
kills=0
deadline=$(( $(date +%s) + 60 ))
while [ "$kills" -lt 15 ] && [ "$(date +%s)" -lt "$deadline" ]; do
	start_proc -j 2 --lease 1s --scan-interval 250ms --user root
	sleep "0.$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 6 + 1 ))"
	kill -9 "$PROC_PID" 2>/dev/null
	wait "$PROC_PID" 2>/dev/null
	kills=$((kills + 1))
	left=$(ls "$SPOOL" | grep -c -E '\.(pending|wip)$')
	[ "$left" -eq 0 ] && break
done
ok "processor killed with SIGKILL $kills times"

# a last processor finishes the work (recovering expired leases)
start_proc -j 2 --lease 1s --scan-interval 250ms --user root
LAST=$PROC_PID
drained() { ! ls "$SPOOL" | grep -q -E '\.(pending|wip)$'; }
wait_count 60 "$N" count_final
check "queue drained after the last restart" wait_until 30 drained
stop_pid "$LAST"

states=$(ls "$SPOOL" | grep -E '\.(pending|wip|completed|failed|cancelled|retrieved)$')
eq "every job has exactly one state file" \
	"$(echo "$states" | cut -d. -f1 | sort | uniq -d | wc -l)" 0
eq "every job completed" "$(echo "$states" | grep -c '\.completed$')" "$N"
eq "no job failed or vanished" "$(echo "$states" | wc -l)" "$N"
eq "no half-written file left in tmp/ by the processor" \
	"$(find "$SPOOL/tmp" -type f -newer "$RUNS" | wc -l)" 0

# every job ran at least once; a job that ran k times has attempts >= k
ran=$(sort -u "$RUNS" | wc -l)
eq "every job ran" "$ran" "$N"
reruns=$(( $(wc -l <"$RUNS") - N ))
# one pass: "id attempts" of every completed job beside "count id" of runs
jq -r '"\(.id) \(.attempts)"' "$SPOOL"/*.completed >"$WORK/attempts"
sort "$RUNS" | uniq -c >"$WORK/runcounts"
awk 'NR == FNR { a[$1] = $2; next }
	!($2 in a) || $1 > a[$2] { print "  " $2 " ran " $1 " times, attempts=" a[$2] }' \
	"$WORK/attempts" "$WORK/runcounts" >"$WORK/bad"
cat "$WORK/bad"
eq "every re-run is counted in attempts" "$(wc -l <"$WORK/bad")" 0
extra=$(jq -s 'map(.attempts - 1) | add' "$SPOOL"/*.completed)
echo "  $kills kills, $reruns re-runs observed, $extra extra attempts recorded"
check "re-runs happened (the test did interrupt jobs)" [ "$extra" -gt 0 ]
proc_check_logs
finish
