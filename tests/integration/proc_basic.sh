#!/bin/sh
# jobspool-processor: flags and exit status, what a job sees (exit codes,
# signals, environment, cwd, stdin, limits, user), results, builtin add,
# invalid files, priority order, notify command.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"
P="$JS_BIN/jobspool-processor"

# ---- flags and exit status ----
proc_setup
out=$("$P" --version)
check "--version" sh -c "echo '$out' | grep -qx 'jobspool-processor [0-9][0-9.]*'"
"$P" --help >"$WORK/help" 2>&1
eq "--help exits 0" "$?" 0
check "--help lists --kill-grace" grep -q -- --kill-grace "$WORK/help"
"$P" --spool "$SPOOL" --no-such-flag 2>"$WORK/err"
eq "unknown flag exits 2" "$?" 2
check "error names the flag" grep -q 'no-such-flag' "$WORK/err"
"$P" --spool "$SPOOL" -j many 2>/dev/null
eq "bad -j exits 2" "$?" 2
"$P" --spool "$SPOOL" --lease soon 2>/dev/null
eq "bad --lease exits 2" "$?" 2
"$P" --spool "$SPOOL" --container-runtime lxc 2>/dev/null
eq "bad --container-runtime exits 2" "$?" 2
"$P" --spool "$SPOOL" --log-level chatty 2>/dev/null
eq "bad --log-level exits 2" "$?" 2
JOBSPOOL_KILL_GRACE=never "$P" --spool "$SPOOL" 2>/dev/null
eq "bad JOBSPOOL_KILL_GRACE exits 2" "$?" 2
: >"$WORK/afile"
"$P" --spool "$WORK/afile" 2>"$WORK/err"
eq "a file as spool exits 1" "$?" 1
mkdir -m 0777 "$WORK/open"
chmod 0777 "$WORK/open"
"$P" --spool "$WORK/open" 2>/dev/null
eq "world-writable spool exits 1" "$?" 1
if [ "$(id -u)" -eq 0 ]; then
	"$P" --spool "$SPOOL" --user no-such-user-xyz 2>/dev/null
	eq "unknown --user exits 2 (as root)" "$?" 2
fi

# ---- jobs ----
cat >"$WORK/conf" <<EOF
jobs = 2
notify-command = cat > $WORK/notify-\$JOBSPOOL_JOB_ID.json; exit 3
EOF
MARKER_SECRET=leak-$$ ; export MARKER_SECRET
start_proc --config "$WORK/conf"
unset MARKER_SECRET

echo_id=$(submit '{"command":["/bin/echo","hello"]}')
exit_id=$(submit '{"shell":"echo failing; exit 3"}')
sig_id=$(submit '{"shell":"kill -USR1 $$"}')
env_id=$(submit '{"shell":"env | sort","env":{"FOO":"bar baz","PATH":"/bin:/usr/bin"}}')
cwd_id=$(submit "{\"command\":[\"pwd\"],\"cwd\":\"$WORK\"}")
stdin_id=$(submit '{"command":["cat"],"stdin":"line one\nline two\n"}')
null_id=$(submit '{"shell":"cat; echo end"}')
nofile_id=$(submit '{"shell":"ulimit -n","limits":{"nofile":77}}')
mem_id=$(submit '{"shell":"ulimit -v","limits":{"memory":"64M"}}')
fsize_id=$(submit "{\"shell\":\"head -c 100000 /dev/zero > $WORK/big\",\"limits\":{\"fsize\":4096}}")
user_id=$(submit '{"command":["id","-u"]}')
groups_id=$(submit '{"command":["id","-G"]}')
own_id=$(submit "{\"shell\":\"echo made > owned; stat -c %u owned; touch $SPOOL/intruder 2>/dev/null && echo spool-writable; pwd\",\"cwd\":\"$WORK\"}")
cpu_id=$(submit '{"shell":"while :; do :; done","limits":{"cpu":1}}')
nproc_id=$(submit '{"command":["prlimit","--nproc","--output","SOFT,HARD","--noheadings"],"limits":{"nproc":50}}')
pgrp_id=$(submit '{"shell":"ps -o pid=,pgid=,sid= -p $$"}')
add_id=$(submit '{"builtin":"add","args":[2,40]}')
ovf_id=$(submit '{"builtin":"add","args":[9223372036854775807,1]}')
bad_id=$(submit 'this is not json')
badjob_id=$(submit '{"command":"not-an-array"}')
noexec_id=$(submit '{"command":["/nonexistent/program"]}')
nocwd_id=$(submit '{"command":["true"],"cwd":"/nonexistent/dir"}')
all="$groups_id $own_id $cpu_id $nproc_id $pgrp_id $echo_id $exit_id $sig_id $env_id $cwd_id $stdin_id $null_id $nofile_id $mem_id $fsize_id $user_id $add_id $ovf_id $bad_id $badjob_id $noexec_id $nocwd_id"
# shellcheck disable=SC2086
check "all jobs reach a final state" wait_final 60 $all

eq "echo: completed" "$(field "$echo_id" .status)" completed
eq "echo: exit_code 0" "$(field "$echo_id" .exit_code)" 0
eq "echo: signal null" "$(field "$echo_id" .signal)" null
eq "echo: log" "$(cat "$SPOOL/$echo_id.log")" hello
eq "echo: log_size" "$(field "$echo_id" .log_size)" 6
eq "echo: log_sha256" "$(field "$echo_id" .log_sha256)" \
	"$(sha256sum <"$SPOOL/$echo_id.log" | cut -d' ' -f1)"
eq "echo: attempts 1" "$(field "$echo_id" .attempts)" 1
check "echo: worker is host:pid" sh -c "[ \"\$(jq -r .worker '$(final "$echo_id")')\" = \"$(hostname):$PROC_PID\" ]"
check "echo: started_at and finished_at set" sh -c "jq -e '.started_at and .finished_at and (.duration_ms|type==\"number\")' '$(final "$echo_id")' >/dev/null"
check "echo: no .wip left" sh -c "! [ -e '$SPOOL/$echo_id.wip' ]"

eq "exit 3: failed" "$(field "$exit_id" .status)" failed
eq "exit 3: exit_code" "$(field "$exit_id" .exit_code)" 3
check "exit 3: error says status 3" sh -c "jq -r .error '$(final "$exit_id")' | grep -q 'status 3'"
eq "exit 3: output captured" "$(cat "$SPOOL/$exit_id.log")" failing

eq "signal: failed" "$(field "$sig_id" .status)" failed
eq "signal: signal 10" "$(field "$sig_id" .signal)" 10
eq "signal: exit_code null" "$(field "$sig_id" .exit_code)" null

# the processor's line for a finished job: outcome, exit code or signal,
# duration in human units, attempt
check "log line: completed (exit code 0) after N ms/s, attempt 1" grep -Eq \
	"job $echo_id: completed \(exit code 0\) after [0-9.]+(ms|s), attempt 1\$" "$PROC_LOG"
check "log line: failed (exit code 3) ... attempt 1: the error" grep -Eq \
	"job $exit_id: failed \(exit code 3\) after [0-9.]+(ms|s), attempt 1: .*status 3" "$PROC_LOG"
check "log line: failed (killed by signal 10, User defined signal 1)" grep -Eq \
	"job $sig_id: failed \(killed by signal 10, User defined signal 1\) after " "$PROC_LOG"
check "no duration in raw milliseconds" sh -c "! grep -Eq 'lease [0-9]+ ms|[0-9]{4,} ms' '$PROC_LOG'"
if [ "$(id -u)" -eq 0 ]; then
	check "start-up line: jobs run as nobody (started as root)" grep -q \
		"processing .*, lease 1m00s, jobs run as nobody\$" "$PROC_LOG"
else
	check "start-up line: jobs run as this user" grep -q \
		"processing .*, lease 1m00s, jobs run as $(id -un)\$" "$PROC_LOG"
fi

envlog="$SPOOL/$env_id.log"
check "env: job env is set" grep -qx 'FOO=bar baz' "$envlog"
check "env: job env overrides PATH" grep -qx 'PATH=/bin:/usr/bin' "$envlog"
check "env: HOME is set" grep -q '^HOME=' "$envlog"
check "env: JOBSPOOL_JOB_ID is the id" grep -qx "JOBSPOOL_JOB_ID=$env_id" "$envlog"
check "env: the processor's marker does not leak" sh -c "! grep -q MARKER_SECRET '$envlog'"
check "env: nothing from the processor's environment" sh -c "! grep -q -e '^JS_BIN=' -e '^SPOOL=' '$envlog'"

eq "cwd: pwd" "$(cat "$SPOOL/$cwd_id.log")" "$WORK"
eq "stdin: fed" "$(cat "$SPOOL/$stdin_id.log")" "$(printf 'line one\nline two')"
eq "no stdin: /dev/null (EOF)" "$(cat "$SPOOL/$null_id.log")" end
eq "limits.nofile" "$(cat "$SPOOL/$nofile_id.log")" 77
eq "limits.memory (RLIMIT_AS, KiB)" "$(cat "$SPOOL/$mem_id.log")" 65536
eq "limits.fsize: file cut at 4096" "$(stat -c %s "$WORK/big" 2>/dev/null)" 4096
eq "limits.fsize: job failed" "$(field "$fsize_id" .status)" failed

if [ "$(id -u)" -eq 0 ]; then
	eq "as root, jobs run as nobody" "$(cat "$SPOOL/$user_id.log")" "$(id -u nobody)"
	eq "as nobody: only nobody's group (setgroups)" "$(cat "$SPOOL/$groups_id.log")" "$(id -g nobody)"
	eq "as nobody: cwd works, the log is written, files are nobody's" \
		"$(cat "$SPOOL/$own_id.log" | tr '\n' ' ')" "$(id -u nobody) $WORK "
	check "as nobody: the spool is not writable by the job" test ! -e "$SPOOL/intruder"
else
	eq "jobs run as the processor's user" "$(cat "$SPOOL/$user_id.log")" "$(id -u)"
fi
eq "limits.cpu: killed by SIGXCPU" "$(field "$cpu_id" .signal)" 24
eq "limits.cpu: failed" "$(field "$cpu_id" .status)" failed
eq "limits.nproc" "$(tr -s " " <"$SPOOL/$nproc_id.log" | sed "s/^ //")" "50 50"
pgrp_line=$(cat "$SPOOL/$pgrp_id.log")
set -- $pgrp_line
check "own session and process group (pid = pgid = sid: $pgrp_line)" \
	test "$#" -eq 3 -a "$1" = "$2" -a "$2" = "$3"

eq "builtin add: completed" "$(field "$add_id" .status)" completed
eq "builtin add: result 42 (integer)" "$(field "$add_id" '.result|tojson')" 42
eq "builtin add overflow: failed" "$(field "$ovf_id" .status)" failed
check "builtin add overflow: error says overflow" sh -c "jq -r .error '$(final "$ovf_id")' | grep -q overflow"

eq "not JSON: failed" "$(field "$bad_id" .status)" failed
check "not JSON: error says invalid" sh -c "jq -r .error '$(final "$bad_id")' | grep -q invalid"
eq "invalid job: failed" "$(field "$badjob_id" .status)" failed
check "invalid job: error names command" sh -c "jq -r .error '$(final "$badjob_id")' | grep -q command"
eq "no such program: failed" "$(field "$noexec_id" .status)" failed
check "no such program: error says cannot execute" sh -c "jq -r .error '$(final "$noexec_id")' | grep -q 'cannot execute'"
eq "no such cwd: failed" "$(field "$nocwd_id" .status)" failed
check "no such cwd: error names chdir" sh -c "jq -r .error '$(final "$nocwd_id")' | grep -q chdir"

check "notify: final JSON on stdin" wait_until 20 sh -c "jq -e '.status == \"completed\"' '$WORK/notify-$echo_id.json' >/dev/null 2>&1"
check "notify: runs for failed jobs too" wait_until 20 sh -c "jq -e '.exit_code == 3' '$WORK/notify-$exit_id.json' >/dev/null 2>&1"
check "notify: its failure is logged" wait_until 20 grep -q 'notify command exited with status 3' "$PROC_LOG"
eq "notify: its failure does not change the job" "$(field "$echo_id" .status)" completed
check "processor still alive" kill -0 "$PROC_PID"
stop_proc "$PROC_PID"

# ---- priority, then submission order, with -j 1 ----
proc_setup
order=""
for spec in a:0:1 b:5:2 c:0:3 d:10:4 e:5:5; do
	n=${spec%%:*} rest=${spec#*:}
	pr=${rest%%:*} seq=${rest#*:}
	submit "{\"shell\":\"echo $n >> $WORK/order\",\"priority\":$pr,\"seq\":$seq}" >/dev/null
done
future=$(( $(date +%s) * 1000 + 600000 ))
late_id=$(submit "{\"shell\":\"echo late >> $WORK/order\",\"priority\":100,\"not_before\":$future}")
start_proc -j 1
wait_until 20 grep -q 'processing' "$PROC_LOG"
# a local processor talks no HTTP: libcurl (and GnuTLS under it) is not
# mapped (processor/curlfn.h loads it for remote mode and the notifiers)
check "a local processor has not loaded libcurl" \
	sh -c "! grep -q 'libcurl' /proc/$PROC_PID/maps"
check "... nor GnuTLS" sh -c "! grep -q 'libgnutls' /proc/$PROC_PID/maps"
check "five jobs ran" wait_until 30 sh -c "[ -f '$WORK/order' ] && [ \$(wc -l < '$WORK/order') -ge 5 ]"
eq "priority desc, then submission order" "$(tr '\n' ' ' <"$WORK/order")" "d b e a c "
check "a job with not_before in the future waits" test -f "$SPOOL/$late_id.pending"
stop_proc "$PROC_PID"

# hand-written jobs without "seq": submission (rename) order within a
# priority; the pause only keeps file change times distinct
proc_setup
for spec in a:0 b:5 c:0 d:10 e:5 f:0; do
	n=${spec%%:*} pr=${spec#*:}
	submit "{\"shell\":\"echo $n >> $WORK/order\",\"priority\":$pr}" >/dev/null
	sleep 0.02
done
start_proc -j 1
check "six hand-written jobs ran" wait_until 30 sh -c "[ -f '$WORK/order' ] && [ \$(wc -l < '$WORK/order') -ge 6 ]"
eq "no seq: priority desc, then submission order" "$(tr '\n' ' ' <"$WORK/order")" "d b e a c f "
stop_proc "$PROC_PID"

# labels (lib/sched's rule, the same as the apiserver's for remote
# workers): a processor takes a job when it has every one of the job's
# labels; SIGHUP re-reads them (here from the configuration file)
proc_setup
printf 'label = gpu\nlabel = big\n' >"$WORK/proc.conf"
l_none=$(submit '{"shell":"true"}')
l_gpu=$(submit '{"shell":"true","labels":["gpu"]}')
l_both=$(submit '{"shell":"true","labels":["big","gpu"]}')
l_arm=$(submit '{"shell":"true","labels":["gpu","arm"]}')
l_bad=$(submit '{"shell":"true","labels":["not a word"]}')
start_proc --config "$WORK/proc.conf" --scan-interval 200ms
check "labels: jobs whose labels the processor has run" wait_final 30 "$l_none" "$l_gpu" "$l_both"
eq "labels: a job with both labels completed" "$(field "$l_both" .status)" completed
check "labels: a job whose labels are not words is taken" wait_final 30 "$l_bad"
eq "labels: ... and failed by the claim" "$(field "$l_bad" .status)" failed
check "labels: a job needing a label the processor lacks stays pending" test -f "$SPOOL/$l_arm.pending"
printf 'label = gpu\nlabel = arm\n' >"$WORK/proc.conf"
kill -HUP "$PROC_PID"
check "labels: after SIGHUP the reloaded labels count" wait_final 30 "$l_arm"
eq "labels: ... and the job completed" "$(field "$l_arm" .status)" completed
stop_proc "$PROC_PID"

proc_check_logs
finish
