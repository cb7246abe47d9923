#!/bin/sh
# jobspool-processor: several processors on one spool.  Three processors
# racing over 1,000 jobs (each runs exactly once); kill -9 of a processor
# mid-job and recovery by another on a short lease (attempts = 2, no
# survivor of the first run); a stopped processor whose lease was taken
# over cannot overwrite the newer run's result (fencing).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

running() { jq -e '.status == "running" and .pid != null' "$SPOOL/$1.wip" >/dev/null 2>&1; }
running_by() { jq -e --arg w "$2" '.status == "running" and .pid != null and (.worker | endswith(":" + $w))' "$SPOOL/$1.wip" >/dev/null 2>&1; }
no_proc() { ! pgrep -f "$1" >/dev/null; }
one_proc() { [ "$(pgrep -f "$1" | wc -l)" -eq 1 ]; }

# ---- three processors, 1,000 jobs, each runs exactly once ----
proc_setup
start_proc -j 2; p1=$PROC_PID
start_proc -j 2; p2=$PROC_PID
start_proc -j 2; p3=$PROC_PID
i=0
while [ $i -lt 1000 ]; do
	read -r id </proc/sys/kernel/random/uuid
	printf '{"shell":"echo %s >> %s/ran"}\n' "$id" "$WORK" >"$SPOOL/tmp/$id.json"
	mv "$SPOOL/tmp/$id.json" "$SPOOL/$id.pending"
	i=$((i + 1))
done
check "race: 1000 jobs end" wait_count 60 1000 count_final
eq "race: 1000 lines written" "$(wc -l <"$WORK/ran")" 1000
eq "race: 1000 distinct jobs ran" "$(sort -u "$WORK/ran" | wc -l)" 1000
eq "race: no job ran twice" "$(sort "$WORK/ran" | uniq -d | wc -l)" 0
eq "race: all completed" "$(ls "$SPOOL" | grep -c '\.completed$')" 1000
eq "race: each exactly one attempt" \
	"$(cat "$SPOOL"/*.completed | jq -s '[.[] | select(.attempts != 1)] | length')" 0
workers=$(cat "$SPOOL"/*.completed | jq -r .worker | sort -u | wc -l)
check "race: more than one processor took part ($workers)" test "$workers" -ge 2
check "race: nothing left pending or running" sh -c "! ls '$SPOOL' | grep -q -E '\.(pending|wip)$'"
stop_proc "$p1"; stop_proc "$p2"; stop_proc "$p3"

# ---- kill -9 mid-job; another processor recovers on a short lease ----
proc_setup
start_proc -j 1; a=$PROC_PID
k_id=$(submit "{\"shell\":\"echo run >> $WORK/k; sleep 3.987661\"}")
check "kill -9: job is running" wait_until 20 running "$k_id"
# .wip names the pid once the child is spawned, which can be before the
# shell has written its line; kill only after the first run has shown
check "kill -9: the first run wrote its line" wait_until 20 test -s "$WORK/k"
kill -9 "$a"
wait "$a" 2>/dev/null
check "kill -9: the orphaned job dies with its processor" wait_until 10 no_proc 'sleep 3.987661'
check "kill -9: .wip stays behind" test -f "$SPOOL/$k_id.wip"
start_proc -j 1 --lease 2s --scan-interval 500ms; b=$PROC_PID
check "kill -9: job recovered and completed" wait_final 40 "$k_id"
eq "kill -9: completed" "$(field "$k_id" .status)" completed
eq "kill -9: attempts = 2" "$(field "$k_id" .attempts)" 2
eq "kill -9: ran twice in all" "$(wc -l <"$WORK/k")" 2
eq "kill -9: finished by the second processor" "$(field "$k_id" .worker)" "$(hostname):$b"
check "kill -9: recovery logged" grep -q 'lease expired' "$PROC_LOG"

# a lost job that has used all its attempts fails, saying why
m_id=$(submit '{"shell":"sleep 4.987663","max_attempts":1}')
check "max_attempts: job running" wait_until 20 running "$m_id"
kill -9 "$b"
wait "$b" 2>/dev/null
start_proc -j 1 --lease 2s --scan-interval 500ms; c=$PROC_PID
check "max_attempts: job ends" wait_final 40 "$m_id"
eq "max_attempts: failed" "$(field "$m_id" .status)" failed
check "max_attempts: error says the lease expired" sh -c "jq -r .error '$(final "$m_id")' | grep -q 'lease expired'"

# a hand-written .wip without an "id" field (a job moved by hand from a
# crashed machine): the recovery names it by its file name
read -r h_id </proc/sys/kernel/random/uuid
printf '{"command":["true"],"worker":"elsewhere:1","attempts":1}\n' \
	>"$SPOOL/$h_id.wip"
touch -d '1 hour ago' "$SPOOL/$h_id.wip"
check "no id: the hand-written job is recovered and runs" wait_final 20 "$h_id"
check "no id: the recovery names the job by its file name" \
	grep -q "job $h_id: lease expired (worker elsewhere:1)" "$PROC_LOG"
check "no id: never 'job ?'" sh -c "! grep -q 'job ?' '$PROC_LOG'"
stop_proc "$c"

# ---- kill -9: a grandchild left in the old run's process group is killed
# by the recovery (jobspool-processor(8): pid and start time recorded in the .wip) ----
proc_setup
start_proc -j 1; a=$PROC_PID
g_id=$(submit "{\"shell\":\"if [ -e $WORK/g ]; then echo second run; exit 0; fi; touch $WORK/g; sleep 30.987667 & wait\"}")
check "leftovers: job is running" wait_until 20 running "$g_id"
check "leftovers: its grandchild runs" wait_until 10 sh -c "pgrep -f '^sleep 30[.]987667' >/dev/null"
has_pid() { jq -e '(.pid | type == "number") and (.pid_start | type == "number")' "$1" >/dev/null; }
check "leftovers: .wip records pid and start time" has_pid "$SPOOL/$g_id.wip"
kill -9 "$a"
wait "$a" 2>/dev/null
start_proc -j 1 --lease 2s --scan-interval 500ms; b=$PROC_PID
check "leftovers: the recovery kills the old run's grandchild" wait_until 15 no_proc '^sleep 30[.]987667'
check "leftovers: job completed" wait_final 30 "$g_id"
eq "leftovers: completed by the second run" "$(field "$g_id" .status) $(cat "$SPOOL/$g_id.log")" "completed second run"
eq "leftovers: attempts 2" "$(field "$g_id" .attempts)" 2
check "leftovers: the kill is logged" grep -q 'killed the old run' "$PROC_LOG"
stop_proc "$b"

# ---- SIGSTOP: the late original cannot overwrite the newer run ----
proc_setup
start_proc -j 1; a=$PROC_PID; a_log=$PROC_LOG
f_id=$(submit "{\"shell\":\"echo run >> $WORK/f; exec sleep 6.987664\"}")
check "fencing: job is running on A" wait_until 20 running_by "$f_id" "$a"
kill -STOP "$a"
start_proc -j 1 --lease 2s --scan-interval 500ms; b=$PROC_PID
check "fencing: B took the job over" wait_until 30 running_by "$f_id" "$b"
check "fencing: A's run was killed by the recovery" wait_until 10 one_proc 'sleep 6[.]987664'
gen_b=$(jq -r .generation "$SPOOL/$f_id.wip")
kill -CONT "$a"
check "fencing: A says its result is discarded" wait_until 20 grep -q 'lease lost; result discarded' "$a_log"
check "fencing: B's run still holds the job" running_by "$f_id" "$b"
eq "fencing: generation unchanged by A" "$(jq -r .generation "$SPOOL/$f_id.wip")" "$gen_b"
check "fencing: job ends" wait_final 30 "$f_id"
eq "fencing: completed" "$(field "$f_id" .status)" completed
eq "fencing: by B" "$(field "$f_id" .worker)" "$(hostname):$b"
eq "fencing: attempts 2" "$(field "$f_id" .attempts)" 2
check "fencing: no second final file" test "$(ls "$SPOOL" | grep -c "^$f_id\.\(completed\|failed\|cancelled\)$")" -eq 1
stop_proc "$a"
stop_proc "$b"

proc_check_logs
finish
