#!/bin/sh
# The Slurm executor against stand-ins for sbatch, scontrol, sacct, squeue
# and scancel (--slurm-bin-dir): answers real Slurm rarely or never gives.
# The stand-ins keep their state in $FS: jobs/<N> holds the line scontrol
# prints for Slurm job N (absent: "Invalid job id"), sbatch.mode says how
# sbatch answers, args.<N>/script.<N> keep what sbatch got.
#   1. sbatch's arguments and batch script for a job with env, cwd,
#      timeout, limits and a label; "N;cluster" parsed; output copied into
#      the log and the output file removed
#   1b. an output file not of the job's user: warned once, not read
#   2. sbatch failing (exit 1 and a message), printing no job id
#   3. stdin and limits.nproc refused before sbatch runs
#   4. a job Slurm ends FAILED by a signal, TIMEOUT: failed, error names it
#   5. scontrol forgets the job, sacct has it CANCELLED (not by us)
#   6. cancel: scancel run once with the Slurm job id; scancel failing
#   6b. scontrol missing for a while: logged, then the job completes
#   8. after a kill -9 of the processor: a job Slurm does not know is
#      submitted again, a re-attached one Slurm forgets is LOST
#   9. a container job under the Slurm executor: the local container CLI
#   7. --slurm-watch is for the processor's own use (exit 2)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

proc_setup
FB=$(mktemp -d /tmp/jobspool-fakeslurm.XXXXXX)
T_DIRS="$T_DIRS $FB"
FS=$FB/state
mkdir "$FS" "$FS/jobs" "$FS/sacct"
echo 100 >"$FS/next"
echo ok >"$FS/sbatch.mode"

cat >"$FB/sbatch" <<EOF
#!/bin/sh
S=$FS
mode=\$(cat \$S/sbatch.mode)
case \$mode in
fail) printf 'sbatch: error: Batch job submission failed: Invalid account\n\n' >&2; exit 1 ;;
garbage) echo "Submitted batch job"; exit 0 ;;
esac
# (a job id each, also when the processor runs two sbatch at once: read
# and bumped under a lock; without it one read the file the other had
# just truncated, an empty id)
exec 9>>\$S/next.lock
flock 9
n=\$(cat \$S/next); echo \$((n + 1)) >\$S/next
exec 9>&-
printf '%s\n' "\$@" >\$S/args.\$n
cat >\$S/script.\$n
for a in "\$@"; do
	case \$a in --output=*) out=\${a#--output=} ;; esac
done
out=\$(echo "\$out" | sed "s/%j/\$n/")
printf 'from slurm job %s\n' \$n >"\$out"
[ -f \$S/plant ] || chown nobody "\$out"
echo "\$mode" | grep -q '^state=' && echo "\${mode#state=}" >\$S/jobs/\$n ||
	echo "JobState=RUNNING Reason=None ExitCode=0:0" >\$S/jobs/\$n
echo "\$n;fakecluster"
EOF
cat >"$FB/scontrol" <<EOF
#!/bin/sh
S=$FS
if [ -f \$S/jobs/\$4 ]; then
	echo "JobId=\$4 JobName=x \$(cat \$S/jobs/\$4)"
else
	echo "slurm_load_jobs error: Invalid job id specified" >&2
	exit 1
fi
EOF
cat >"$FB/sacct" <<EOF
#!/bin/sh
S=$FS
eval "j=\\\${\$#}"
[ -f \$S/sacct/\$j ] && cat \$S/sacct/\$j
exit 0
EOF
cat >"$FB/squeue" <<EOF
#!/bin/sh
exit 0
EOF
cat >"$FB/scancel" <<EOF
#!/bin/sh
S=$FS
echo "\$1" >>\$S/scancel.log
if [ -f \$S/scancel.fail ]; then
	echo "scancel: error: Kill job error on job id \$1: Access/permission denied" >&2
	exit 1
fi
echo "JobState=CANCELLED Reason=None ExitCode=0:15" >\$S/jobs/\$1
EOF
chmod 0755 "$FB"/sbatch "$FB"/scontrol "$FB"/sacct "$FB"/squeue "$FB"/scancel

start_proc --executor slurm --slurm-bin-dir "$FB" --slurm-poll 250ms \
	--slurm-output-dir "$WORK" -j 8 --kill-grace 2s --scan-interval 200ms \
	--slurm-label "big=--partition=p1 --qos=high"
P=$PROC_PID

# sjid ID: the Slurm job id the watcher recorded in <id>.wip (or final)
sjid() {
	f=$SPOOL/$1.wip
	[ -f "$f" ] || f=$(final "$1") || return 1
	jq -r '.slurm.job_id // empty' "$f" 2>/dev/null
}
has_sjid() { [ -n "$(sjid "$1")" ]; }
set_job() { echo "$2" >"$FS/jobs/$1"; }

# ---- 1. what sbatch gets ----
id=$(submit '{"command":["echo","a b","it'"'"'s"],"env":{"K":"v w"},"cwd":"/tmp","timeout":90,"limits":{"memory":3000000,"cpu":10,"nofile":64,"fsize":1000},"labels":["big"]}')
check "1: submitted to Slurm" wait_until 20 has_sjid "$id"
n=$(sjid "$id")
eq "1: the job id of '$n;fakecluster' is $n" "$n" 100
a=$(cat "$FS/args.$n")
for want in --parsable "--job-name=jobspool-$id" "--output=$WORK/jobspool-$id-%j.out" \
    --export=ALL --chdir=/tmp --uid=$(id -u nobody) --gid=$(id -g nobody) --time=3 --mem=3M --partition=p1 --qos=high; do
	check "1: sbatch argument $want" sh -c "printf '%s\n' \"\$1\" | grep -qxF -- \"\$2\"" _ "$a" "$want"
done
s=$FS/script.$n
check "1: script exports the job id" grep -qxF "export JOBSPOOL_JOB_ID='$id'" "$s"
check "1: script exports env quoted" grep -qxF "export K='v w'" "$s"
check "1: cpu limit" grep -qxF 'ulimit -t 10 || exit 126' "$s"
check "1: nofile limit" grep -qxF 'ulimit -n 64 || exit 126' "$s"
check "1: fsize limit in 512-byte blocks" grep -qxF 'ulimit -f 2 || exit 126' "$s"
eq "1: the script, run, gives the command its words" \
	"$(sed 's/^ulimit.*//' "$s" | sed 's/^exec /exec printf "[%s]" /' | sh)" "[echo][a b][it's]"
eq "1: the script's env reaches the command" \
	"$(sed 's/^ulimit.*//; s/^exec .*/echo "$K"/' "$s" | sh)" "v w"
check "1: recorded RUNNING" wait_until 20 sh -c "[ \"\$(jq -r .slurm.state '$SPOOL/$id.wip')\" = RUNNING ]"
echo "more output" >>"$WORK/jobspool-$id-$n.out"
set_job "$n" "JobState=COMPLETED Reason=None ExitCode=0:0"
check "1: completes" wait_final 20 "$id"
eq "1: status" "$(field "$id" .status)" completed
eq "1: Slurm's output in the log" "$(grep -v "^jobspool:" "$SPOOL/$id.log" | tr "\n" "|")" "from slurm job $n|more output|"
check "1: output file removed once copied" test ! -e "$WORK/jobspool-$id-$n.out"
eq "1: slurm.state COMPLETED" "$(field "$id" .slurm.state)" COMPLETED

# ---- 1b. an output file not of the job's user (planted): warned once,
# not read (the warning came every 200 ms before)
: >"$FS/plant"
id=$(submit '{"shell":"true"}')
check "1b: submitted" wait_until 20 has_sjid "$id"
n=$(sjid "$id")
sleep 1.5
set_job "$n" "JobState=COMPLETED Reason=None ExitCode=0:0"
check "1b: completes" wait_final 20 "$id"
eq "1b: warned once" "$(grep -c 'is not a file of uid' "$SPOOL/$id.log")" 1
check "1b: its content not in the log" sh -c "! grep -q 'from slurm job' '$SPOOL/$id.log'"
check "1b: the planted file is left alone" test -e "$WORK/jobspool-$id-$n.out"
rm -f "$FS/plant"

# ---- 2. sbatch failing or printing no job id ----
echo fail >"$FS/sbatch.mode"
id=$(submit '{"command":["true"]}')
check "2: sbatch failing: job ends" wait_final 20 "$id"
eq "2: sbatch failing: failed" "$(field "$id" .status)" failed
eq "2: error quotes sbatch, trailing newlines dropped" "$(field "$id" .error)" \
	"Slurm: NOT_SUBMITTED: sbatch failed (exit status 1): sbatch: error: Batch job submission failed: Invalid account"
eq "2: slurm.state NOT_SUBMITTED" "$(field "$id" .slurm.state)" NOT_SUBMITTED
echo garbage >"$FS/sbatch.mode"
id=$(submit '{"command":["true"]}')
check "2: no job id: job ends" wait_final 20 "$id"
eq "2: no job id: failed" "$(field "$id" .status)" failed
eq "2: no job id: error" "$(field "$id" .error)" "Slurm: NOT_SUBMITTED: sbatch printed no job id: Submitted batch job"
echo ok >"$FS/sbatch.mode"

# ---- 3. what the Slurm executor cannot do ----
before=$(cat "$FS/next")
id1=$(submit '{"command":["cat"],"stdin":"x"}')
id2=$(submit '{"command":["true"],"limits":{"nproc":5}}')
check "3: refused jobs end" wait_final 20 "$id1" "$id2"
eq "3: stdin: error" "$(field "$id1" .error)" "Slurm: NOT_SUBMITTED: stdin is not supported by the Slurm executor"
eq "3: nproc: error" "$(field "$id2" .error)" "Slurm: NOT_SUBMITTED: limits.nproc is not supported by the Slurm executor"
eq "3: sbatch never ran for them" "$(cat "$FS/next")" "$before"

# ---- 4. Slurm ends a job FAILED by a signal, or TIMEOUT ----
id1=$(submit '{"shell":"true"}')
id2=$(submit '{"shell":"true"}')
check "4: both submitted" wait_until 20 sh -c "[ -n \"\$(jq -r '.slurm.job_id // empty' '$SPOOL/$id1.wip' 2>/dev/null)\" ] && [ -n \"\$(jq -r '.slurm.job_id // empty' '$SPOOL/$id2.wip' 2>/dev/null)\" ]"
n1=$(sjid "$id1") n2=$(sjid "$id2")
set_job "$n1" "JobState=FAILED Reason=NonZeroExitCode ExitCode=0:9"
set_job "$n2" "JobState=TIMEOUT Reason=TimeLimit ExitCode=0:0"
check "4: both end" wait_final 20 "$id1" "$id2"
eq "4: signal: failed" "$(field "$id1" .status)" failed
eq "4: signal: the watcher ends by it" "$(field "$id1" .signal)" 9
eq "4: signal: error" "$(field "$id1" .error)" "Slurm job $n1 ended FAILED (NonZeroExitCode)"
eq "4: timeout: failed" "$(field "$id2" .status)" failed
eq "4: timeout: exit code 1" "$(field "$id2" .exit_code)" 1
eq "4: timeout: error" "$(field "$id2" .error)" "Slurm job $n2 ended TIMEOUT (TimeLimit)"

# ---- 5. scontrol forgets the job, sacct has it ----
id=$(submit '{"shell":"true"}')
check "5: submitted" wait_until 20 has_sjid "$id"
n=$(sjid "$id")
echo "CANCELLED by 0|0:15|None" >"$FS/sacct/$n"
rm -f "$FS/jobs/$n"
check "5: ends" wait_final 20 "$id"
eq "5: failed (cancelled on Slurm's side, not by us)" "$(field "$id" .status)" failed
eq "5: state is sacct's first word" "$(field "$id" .slurm.state)" CANCELLED
eq "5: ended by SIGTERM" "$(field "$id" .signal)" 15

# ---- 6. cancel ----
id=$(submit '{"shell":"sleep 100"}')
check "6: submitted" wait_until 20 has_sjid "$id"
n=$(sjid "$id")
printf 'by the test' >"$SPOOL/tmp/$id.cancel" && mv "$SPOOL/tmp/$id.cancel" "$SPOOL/$id.cancel"
check "6: cancelled" wait_final 20 "$id"
eq "6: status" "$(field "$id" .status)" cancelled
eq "6: scancel ran once, with the Slurm job id" "$(grep -c -x "$n" "$FS/scancel.log")" 1
: >"$FS/scancel.fail"
id=$(submit '{"shell":"sleep 100"}')
check "6: submitted (scancel fails)" wait_until 20 has_sjid "$id"
n=$(sjid "$id")
printf 'by the test' >"$SPOOL/tmp/$id.cancel" && mv "$SPOOL/tmp/$id.cancel" "$SPOOL/$id.cancel"
check "6: scancel failing: cancelled all the same" wait_final 20 "$id"
eq "6: scancel failing: status" "$(field "$id" .status)" cancelled
check "6: scancel's message in the log" grep -qF "jobspool: scancel $n: scancel: error: Kill job error on job id $n" "$SPOOL/$id.log"
rm -f "$FS/scancel.fail"

# ---- 6b. scontrol cannot run for a while: logged, the job followed on ----
id=$(submit '{"shell":"true"}')
check "6b: submitted" wait_until 20 has_sjid "$id"
n=$(sjid "$id")
mv "$FB/scontrol" "$FB/scontrol.away"
check "6b: the failure is in the log" wait_until 20 grep -qF "jobspool: cannot ask Slurm about job $n: cannot run $FB/scontrol: No such file or directory" "$SPOOL/$id.log"
check "6b: the job still runs" test -f "$SPOOL/$id.wip"
set_job "$n" "JobState=COMPLETED Reason=None ExitCode=0:0"
mv "$FB/scontrol.away" "$FB/scontrol"
check "6b: Slurm back: completes" wait_final 20 "$id"
eq "6b: status" "$(field "$id" .status)" completed

check "6: the processor still runs" kill -0 "$P"
stop_proc "$P"

# ---- 8. a processor killed (-9) with two Slurm jobs; on restart one is
# unknown to Slurm (submitted again), the other re-attached, then
# forgotten by Slurm (LOST at once: no grace for a re-attached job)
cat >"$FB/podman" <<EOF
#!/bin/sh
echo "\$*" >>$FS/podman.args
echo "container ran"
exit 3
EOF
chmod 0755 "$FB/podman"
SF2="--container-runtime $FB/podman --executor slurm --slurm-bin-dir $FB --slurm-poll 250ms --slurm-output-dir $WORK -j 4 --lease 2s --scan-interval 200ms"
# shellcheck disable=SC2086
start_proc $SF2
P=$PROC_PID
ida=$(submit '{"shell":"true"}')
idb=$(submit '{"shell":"true"}')
check "8: both submitted" wait_until 20 sh -c "[ -n \"\$(jq -r '.slurm.job_id // empty' '$SPOOL/$ida.wip' 2>/dev/null)\" ] && [ -n \"\$(jq -r '.slurm.job_id // empty' '$SPOOL/$idb.wip' 2>/dev/null)\" ]"
na=$(sjid "$ida") nb=$(sjid "$idb")
kill -9 "$P"
wait "$P" 2>/dev/null
rm -f "$FS/jobs/$na"
# shellcheck disable=SC2086
start_proc $SF2
P=$PROC_PID
check "8: unknown job submitted again" wait_until 30 grep -qF "Slurm job $na is unknown to Slurm; submitting again" "$SPOOL/$ida.log"
check "8: the other re-attached" wait_until 30 grep -qF "re-attached to Slurm job $nb (RUNNING)" "$SPOOL/$idb.log"
check "8: a new Slurm job for the first" wait_until 20 sh -c "n=\$(jq -r '.slurm.job_id // empty' '$SPOOL/$ida.wip' 2>/dev/null); [ -n \"\$n\" ] && [ \"\$n\" != $na ]"
set_job "$(sjid "$ida")" "JobState=COMPLETED Reason=None ExitCode=0:0"
rm -f "$FS/jobs/$nb"
check "8: both end" wait_final 30 "$ida" "$idb"
eq "8: resubmitted: completed" "$(field "$ida" .status)" completed
eq "8: forgotten: failed" "$(field "$idb" .status)" failed
eq "8: forgotten: error" "$(field "$idb" .error)" "Slurm job $nb ended LOST (Slurm no longer knows the job)"

# ---- 9. a container job under the Slurm executor runs here, through the
# container CLI, never through sbatch
before=$(cat "$FS/next")
id=$(submit '{"container":{"image":"img","command":["x"]}}')
check "9: container job ends" wait_final 20 "$id"
eq "9: its exit code" "$(field "$id" .exit_code)" 3
eq "9: the CLI's output in the log" "$(cat "$SPOOL/$id.log")" "container ran"
check "9: the CLI ran it" grep -qxF "run --rm --name jobspool-$id img x" "$FS/podman.args"
eq "9: no Slurm record" "$(field "$id" .slurm)" null
eq "9: sbatch not run" "$(cat "$FS/next")" "$before"
stop_proc "$P"

# ---- 7. the watcher's own flag ----
out=$("$JS_BIN/jobspool-processor" --slurm-watch "$SPOOL" 2>&1); rc=$?
eq "7: --slurm-watch without its arguments: exit 2" "$rc" 2
check "7: says it is internal" sh -c "printf '%s' \"\$1\" | grep -q 'for the processor.s own use'" _ "$out"
"$JS_BIN/jobspool-processor" --slurm-watch "$SPOOL" "$id" 1 nonsense >/dev/null 2>&1
eq "7: an unknown word: exit 2" "$?" 2
"$JS_BIN/jobspool-processor" --slurm-watch "$SPOOL" "$id" 1 bindir=/x >/dev/null 2>&1
eq "7: a job that is not claimed: exit 1" "$?" 1
out=$("$JS_BIN/jobspool-processor" --slurm-watch "$SPOOL" "$id" 1 bindir=/x outdir=/tmp \
	conf=/nonexistent/slurm.conf poll=1 uid=65534 gid=65534 label=a=--b 2>&1); rc=$?
eq "7: every word known, the claim lost: exit 1" "$rc" 1
check "7: says the claim is lost" sh -c "printf '%s' \"\$1\" | grep -qF 'the claim of job $id is lost'" _ "$out"
"$JS_BIN/jobspool-processor" --slurm-watch "$WORK/no-such-spool" "$id" 1 >/dev/null 2>&1
eq "7: a spool that cannot be opened: exit 1" "$?" 1
"$JS_BIN/jobspool-processor" --slurm-watch "$SPOOL" "../x" 1 >/dev/null 2>&1
eq "7: an id that is not one: exit 2" "$?" 2
out=$("$JS_BIN/jobspool-processor" -s "$SPOOL" --slurm-label 'a b=--x' 2>&1); rc=$?
eq "7: a --slurm-label with a blank in the label: exit 2" "$rc" 2
check "7: says what a label holds" sh -c "printf '%s' \"\$1\" | grep -qF \"a label holds only letters\"" _ "$out"
proc_check_logs
finish
