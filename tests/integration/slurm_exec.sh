#!/bin/sh
# The Slurm executor: a single-node Slurm started in a temporary directory
# (slurm.inc), a processor with --executor slurm, jobs through the HTTP API.
# Skipped, with the reason printed, only where Slurm cannot start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"
. "$(dirname "$0")/slurm.inc"

proc_setup
SD=$(mktemp -d /tmp/jobspool-slurm.XXXXXX)
chmod 0755 "$SD"	# slurmd runs the batch script from here as the job user
T_DIRS="$T_DIRS $SD"
if ! slurm_start "$SD"; then
	skip_suite "$SLURM_KIND" "Slurm cannot run here: $SLURM_WHY"
fi
trap 'slurm_stop; cleanup' EXIT

start_api || fail "apiserver starts"
SFLAGS="--executor slurm --slurm-poll 1s --slurm-output-dir $WORK -j 16 --lease 3s --scan-interval 500ms"
start_proc $SFLAGS
P1=$PROC_PID

post() {
	curl -s -X POST -H 'Content-Type: application/json' -d "$1" \
		"$URL/api/v1/jobs" | jq -r .id
}
peek() { curl -s "$URL/api/v1/jobs/$1?peek=1"; }
pstatus() { peek "$1" | jq -r .status; }
is_status() { [ "$(pstatus "$1")" = "$2" ]; }
slurm_state() { scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p'; }

# 1. a job completes with its output in the log, exit code 0
id=$(post '{"command":["/bin/echo","hello from slurm"]}')
check "job completes through Slurm" wait_until 60 is_status "$id" completed
eq "exit code 0" "$(peek "$id" | jq -r .exit_code)" 0
eq "output in the log" "$(curl -s "$URL/api/v1/jobs/$id/log")" "hello from slurm"
sjid=$(peek "$id" | jq -r .slurm.job_id)
check "Slurm job id recorded" [ "$sjid" -gt 0 ] 2>/dev/null
eq "Slurm state recorded" "$(peek "$id" | jq -r .slurm.state)" COMPLETED
eq "Slurm's job name" "$(scontrol show job -o "$sjid" | tr ' ' '\n' | sed -n 's/^JobName=//p')" "jobspool-$id"
check "Slurm's output file removed once copied" [ ! -e "$WORK/jobspool-$id-$sjid.out" ]

# 2. a failing job keeps its exit code
id=$(post '{"shell":"echo failing; exit 7"}')
check "failing job fails" wait_until 60 is_status "$id" failed
eq "its exit code is kept" "$(peek "$id" | jq -r .exit_code)" 7
eq "Slurm says FAILED" "$(peek "$id" | jq -r .slurm.state)" FAILED
check "error names the Slurm state" sh -c "curl -s '$URL/api/v1/jobs/$id?peek=1' | jq -r .error | grep -q FAILED"

# 3. env and cwd reach it
id=$(post '{"shell":"echo \"K=$K\"; pwd","env":{"K":"it'"'"'s a value"},"cwd":"/tmp"}')
check "env/cwd job completes" wait_until 60 is_status "$id" completed
eq "env and cwd reach the job" "$(curl -s "$URL/api/v1/jobs/$id/log" | tr '\n' '|')" "K=it's a value|/tmp|"

# 4. a running job's log can be followed
id=$(post '{"shell":"for i in 1 2 3; do echo line $i; sleep 1; done"}')
wait_until 60 is_status "$id" running
curl -s -N --max-time 60 "$URL/api/v1/jobs/$id/log?follow=1" >"$WORK/follow.out"
eq "follow delivers every line and ends with the job" "$(tr '\n' '|' <"$WORK/follow.out")" "line 1|line 2|line 3|"
wait_until 20 is_status "$id" completed

# 5. a cancel reaches Slurm within a second
id=$(post '{"command":["sleep","120"]}')
wait_until 60 sh -c "[ \"\$(curl -s '$URL/api/v1/jobs/$id?peek=1' | jq -r .slurm.state)\" = RUNNING ]"
sjid=$(peek "$id" | jq -r .slurm.job_id)
t0=$(date +%s%N)
curl -s -o /dev/null -X DELETE "$URL/api/v1/jobs/$id"
gone() { s=$(slurm_state "$sjid"); [ "$s" != RUNNING ] && [ "$s" != PENDING ]; }
wait_until 10 gone
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "cancel reaches Slurm within a second (${ms} ms)" [ "$ms" -lt 1000 ]
check "cancelled job is cancelled" wait_until 20 is_status "$id" cancelled
eq "Slurm says CANCELLED" "$(slurm_state "$sjid")" CANCELLED

# 6. a timeout ends the Slurm job
id=$(post '{"command":["sleep","120"],"timeout":2}')
check "timed-out job fails" wait_until 60 is_status "$id" failed
check "error says timeout" sh -c "curl -s '$URL/api/v1/jobs/$id?peek=1' | jq -r .error | grep -qi timeout"
sjid=$(peek "$id" | jq -r .slurm.job_id)
check "the Slurm job ended too ($(slurm_state "$sjid"))" wait_until 10 sh -c "s=\$(scontrol show job -o $sjid | tr ' ' '\n' | sed -n 's/^JobState=//p'); [ \"\$s\" != RUNNING ] && [ \"\$s\" != PENDING ]"

# 7. kill -9 of the processor mid-job, restart: re-attached, runs once
: >"$WORK/marker"
chmod 0666 "$WORK/marker"
id=$(post "{\"shell\":\"echo run >> $WORK/marker; sleep 4; echo done\"}")
wait_until 60 sh -c "[ \"\$(curl -s '$URL/api/v1/jobs/$id?peek=1' | jq -r .slurm.state)\" = RUNNING ]"
sjid=$(peek "$id" | jq -r .slurm.job_id)
kill -9 "$P1"
wait "$P1" 2>/dev/null
eq "the Slurm job survives the processor" "$(slurm_state "$sjid")" RUNNING
start_proc $SFLAGS
P1=$PROC_PID
check "re-attached job completes" wait_until 60 is_status "$id" completed
eq "it ran once (marker)" "$(wc -l <"$WORK/marker" | tr -d ' ')" 1
eq "the same Slurm job" "$(peek "$id" | jq -r .slurm.job_id)" "$sjid"
check "processor logged the re-attach" grep -q "re-attached to Slurm job $sjid" "$SPOOL/$id.log"
eq "log is whole" "$(grep -c '^done$' "$SPOOL/$id.log")" 1

# 8. 200 jobs through Slurm all end completed
ids=$(for i in $(seq 200); do echo '{"command":["/bin/true"]}'; done | jq -s '{jobs: .}' |
	curl -s -X POST -H 'Content-Type: application/json' --data-binary @- \
	"$URL/api/v1/batches" | jq -r '.jobs[]')
eq "200 jobs submitted" "$(echo "$ids" | wc -l | tr -d ' ')" 200
t0=$(date +%s)
check "200 jobs through Slurm all final" wait_final 240 $ids
n=0
for i in $ids; do [ "$(field "$i" .status)" = completed ] && n=$((n + 1)); done
eq "200 jobs completed" "$n" 200
echo "# 200 jobs through Slurm in $(( $(date +%s) - t0 )) s"

stop_pid "$P1"

# 9. labels map to sbatch arguments; a job whose label this processor does
# not have is left to another processor; a label declared with --label but
# not mapped is a clear error
start_proc $SFLAGS --slurm-label "big=--partition=debug --nodes=1"
P1=$PROC_PID
id=$(post '{"command":["/bin/true"],"labels":["big"]}')
check "a mapped label runs" wait_until 60 is_status "$id" completed
id=$(post '{"command":["/bin/true"],"labels":["gpu"]}')
sleep 3
check "a label the processor lacks: the job stays pending" is_status "$id" pending
stop_pid "$P1"
start_proc $SFLAGS --slurm-label "big=--partition=debug --nodes=1" --label gpu
P1=$PROC_PID
check "a declared but unmapped label fails" wait_until 60 is_status "$id" failed
check "error names the label" sh -c "curl -s '$URL/api/v1/jobs/$id?peek=1' | jq -r .error | grep -q \"no Slurm mapping for label 'gpu'\""
stop_pid "$P1"

# 10. Slurm's commands missing: an error on the job, the processor lives on
start_proc $SFLAGS --slurm-bin-dir /nonexistent
P1=$PROC_PID
id=$(post '{"command":["/bin/true"]}')
check "job fails without Slurm" wait_until 60 is_status "$id" failed
check "error says sbatch could not run" sh -c "curl -s '$URL/api/v1/jobs/$id?peek=1' | jq -r .error | grep -q 'sbatch.*nonexistent'"
check "processor still runs" kill -0 "$P1"
stop_pid "$P1"
eq "bad --executor is exit 2" "$("$JS_BIN/jobspool-processor" -s "$SPOOL" --executor k8s 2>/dev/null; echo $?)" 2
eq "bad --slurm-label is exit 2" "$("$JS_BIN/jobspool-processor" -s "$SPOOL" --slurm-label gpu 2>/dev/null; echo $?)" 2
api_stop
proc_check_logs
slurm_stop
finish
