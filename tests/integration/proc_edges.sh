#!/bin/sh
# jobspool-processor at its edges: jobs that cannot start (cwd, limits,
# program, log) and the error each records, hand-written counters out of
# range, a large stdin, a cancel already
# there at the claim, a fractional timeout, a notify command killed by a
# signal, a lease lost while the job runs or at shutdown, SIGHUP with a bad
# and then a good configuration, SIGTERM twice, a log removed by its job,
# unreadable pauses, an inotify overflow, an unwritable registry and an
# absent service manager, running out of file descriptors, a log past the
# processor's file size limit, notification records the sender refuses, a
# notification queue that is no directory, what an earlier run left in a
# remote work directory, and a spool that is (or becomes) read-only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"
P="$JS_BIN/jobspool-processor"

proc_setup
# as root, jobs run as root here: what runs in the job's process between
# fork and exec is then the processor's own code, unchanged by a switch
ROOT=""
[ "$(id -u)" -eq 0 ] && ROOT="--user root"

# ---- jobs that cannot start, and what they record ----
cat >"$WORK/conf" <<EOF
jobs = 3
lease = 3s
scan-interval = 200ms
EOF
# shellcheck disable=SC2086  # $ROOT: zero or two words
start_proc --config "$WORK/conf" $ROOT --notify-command 'kill -9 $$'
if [ -n "$ROOT" ]; then
	check "--user root: a warning that jobs run as root" \
		wait_until 10 grep -q 'running as root with --user root: jobs run as root' "$PROC_LOG"
	check "--user root: the start-up line says so" \
		wait_until 10 grep -q 'jobs run as root (root: --user root)' "$PROC_LOG"
fi
nocwd=$(submit '{"command":["true"],"cwd":"/nonexistent/jobspool-edges"}')
nolim=$(submit '{"command":["true"],"limits":{"nofile":1099511627776}}')
noprog=$(submit '{"command":["no-such-program-jobspool"],"retries":2}')
noexec=$(submit '{"command":["/etc/passwd"]}')
read -r logdir </proc/sys/kernel/random/uuid
mkdir "$SPOOL/$logdir.log"	# its log cannot be opened
printf '%s\n' '{"shell":"echo never"}' >"$SPOOL/tmp/$logdir.json"
mv "$SPOOL/tmp/$logdir.json" "$SPOOL/$logdir.pending"
check "jobs that cannot start end" wait_final 30 "$nocwd" "$nolim" "$noprog" \
	"$noexec" "$logdir"
for j in "$nocwd" "$nolim" "$noprog" "$noexec" "$logdir"; do
	eq "  job that cannot start: failed" "$(field "$j" .status)" failed
	eq "  job that cannot start: no pid left" "$(field "$j" '.pid')" null
done
eq "bad cwd: error" "$(field "$nocwd" .error)" \
	"cannot start the job: chdir(cwd): No such file or directory"
eq "nofile above nr_open: error" "$(field "$nolim" .error)" \
	"cannot start the job: setrlimit(limits.nofile): Operation not permitted"
eq "missing program: error" "$(field "$noprog" .error)" \
	"cannot execute no-such-program-jobspool: No such file or directory"
eq "not executable: error" "$(field "$noexec" .error)" \
	"cannot execute /etc/passwd: Permission denied"
eq "log that is a directory: error" "$(field "$logdir" .error)" \
	"cannot open the log: Is a directory"
eq "bad cwd: one attempt" "$(field "$nocwd" .attempts)" 1
# the exec is not waited for: its failure is read when the child is
# reaped, and the job is still failed at once, not retried
eq "missing program with retries: one attempt, not retried" \
	"$(field "$noprog" .attempts)" 1
eq "  no duration" "$(field "$noprog" .duration_ms)" 0
eq "  no exit code" "$(field "$noprog" .exit_code)" null
check "  said once" test "$(grep -c "job $noprog: cannot execute" "$PROC_LOG")" -eq 1

# ---- hand-written counters out of range: a negative "attempts" gave
# runs beyond "retries" (retry -2 of 5), a huge one wrapped at the claim ----
neg="" big=""
for a in -3 9223372036854775807; do
	read -r h </proc/sys/kernel/random/uuid
	printf '{"command":["false"],"retries":5,"attempts":%s}\n' "$a" \
		>"$SPOOL/tmp/$h.json"
	mv "$SPOOL/tmp/$h.json" "$SPOOL/$h.pending"
	if [ "$a" = -3 ]; then neg=$h; else big=$h; fi
done
check "counters out of range: both end" wait_final 20 "$neg" "$big"
for h in "$neg" "$big"; do
	eq "  failed as invalid" "$(field "$h" .status)" failed
	eq "  saying why" "$(field "$h" .error)" \
		"invalid job file: stored field 'attempts' must be from 0 to 9007199254740991"
	check "  never ran" test ! -s "$SPOOL/$h.log"
done
check "the notify command killed by a signal is logged" \
	wait_until 10 grep -q "job $nocwd: notify command killed by signal 9" "$PROC_LOG"

# ---- stdin past a pipe's 64 KiB; a fractional timeout ----
big=$(head -c 100000 /dev/zero | tr '\0' 'y')
bigin=$(submit "{\"command\":[\"wc\",\"-c\"],\"stdin\":\"$big\"}")
tmo=$(submit '{"shell":"sleep 30","timeout":0.5}')
check "big stdin and timeout jobs end" wait_final 30 "$bigin" "$tmo"
eq "stdin of 100000 bytes read in full" "$(tr -d ' \n' <"$SPOOL/$bigin.log")" 100000
eq "timeout 0.5: failed" "$(field "$tmo" .status)" failed
eq "timeout 0.5: error says 0.5s" "$(field "$tmo" .error)" "timeout: killed after 0.5s"

# ---- a cancel while a timeout is stopping the job (which ignores SIGTERM,
# so the timeout's 5 s kill grace runs): the cancel wins and the job is
# killed within a second, not at the end of that grace ----
tc=$(submit '{"shell":"trap \"\" TERM; sleep 30","timeout":0.5}')
check "cancel during a timeout: the timeout stops it" wait_until 20 \
	grep -q "job $tc: timeout; stopping it" "$PROC_LOG"
t0=$(date +%s)
: >"$SPOOL/$tc.cancel"
check "  it ends" wait_final 20 "$tc"
t1=$(date +%s)
eq "  cancelled" "$(field "$tc" .status)" cancelled
eq "  while running" "$(field "$tc" .error)" "cancelled while running"
check "  well before the 5 s grace ($((t1 - t0)) s)" test $((t1 - t0)) -le 4

# ---- a cancel request already there when the job is claimed ----
read -r early </proc/sys/kernel/random/uuid
: >"$SPOOL/$early.cancel"
printf '%s\n' "{\"shell\":\"touch $WORK/early-ran\"}" >"$SPOOL/tmp/$early.json"
mv "$SPOOL/tmp/$early.json" "$SPOOL/$early.pending"
check "cancelled before start: final" wait_final 30 "$early"
eq "cancelled before start: cancelled" "$(field "$early" .status)" cancelled
eq "cancelled before start: error" "$(field "$early" .error)" \
	"cancelled before it started"
check "cancelled before start: it never ran" test ! -e "$WORK/early-ran"

# ---- the lease lost while the job runs (its .wip taken away) ----
lost=$(submit '{"shell":"sleep 60"}')
check "lease: the job runs" wait_until 20 sh -c "jq -e '.pid > 0' '$SPOOL/$lost.wip' >/dev/null 2>&1"
lpid=$(jq -r .pid "$SPOOL/$lost.wip")
mv "$SPOOL/$lost.wip" "$WORK/stash.wip"
check "lease: the failed heartbeat is logged" wait_until 10 \
	grep -q "job $lost: heartbeat failed: No such file or directory; the lease is lost, stopping the job" "$PROC_LOG"
check "lease: the job's process group is killed" wait_until 10 \
	sh -c "! kill -0 -$lpid 2>/dev/null"
check "lease: its result is discarded" wait_until 10 \
	grep -q "job $lost: lease lost; result discarded" "$PROC_LOG"
eq "lease: no file of the job but its log is written" \
	"$(ls "$SPOOL" | grep "^$lost\\." | grep -v '\.log$')" ""
after=$(submit '{"command":["true"]}')
check "lease: the processor goes on" wait_final 20 "$after"

# ---- SIGHUP: a bad configuration is refused, a good one applies ----
printf 'jobs = many\n' >>"$WORK/conf"
kill -HUP "$PROC_PID"
check "SIGHUP with a bad value: not reloaded, said why" wait_until 10 \
	grep -q "SIGHUP: configuration not reloaded: .*jobs" "$PROC_LOG"
check "  the processor still runs" kill -0 "$PROC_PID"
hup1=$(submit '{"command":["true"]}')
check "  and still takes jobs" wait_final 20 "$hup1"
printf 'jobs = 5\nlease = 6s\n' >"$WORK/conf"
kill -HUP "$PROC_PID"
check "SIGHUP with a good file: reloaded" wait_until 10 \
	grep -q 'SIGHUP: configuration reloaded (-j 5, lease 6.0s)' "$PROC_LOG"
# five at once now: each job waits (up to 30s) until all five have started
cat >"$WORK/par.sh" <<'EOF2'
touch "$1.$2"
i=0
while [ "$(ls "$1".* | wc -l)" -lt 5 ]; do
	i=$((i + 1))
	[ "$i" -gt 300 ] && exit 1
	sleep 0.1
done
EOF2
mkdir -m 0777 "$WORK/par"
for i in 1 2 3 4 5; do
	eval "par$i=\$(submit '{\"command\":[\"sh\",\"$WORK/par.sh\",\"$WORK/par/p\",\"$i\"]}')"
done
check "  -j 5: five jobs end" wait_final 60 "$par1" "$par2" "$par3" "$par4" "$par5"
n=0
for j in "$par1" "$par2" "$par3" "$par4" "$par5"; do
	[ "$(field "$j" .status)" = completed ] && n=$((n + 1))
done
eq "  -j 5: all five completed together" "$n" 5

# ---- SIGTERM twice: the second stops the running jobs at once ----
term=$(submit '{"shell":"sleep 60"}')
check "twice: the job runs" wait_until 20 sh -c "jq -e '.pid > 0' '$SPOOL/$term.wip' >/dev/null 2>&1"
kill -TERM "$PROC_PID"
check "twice: first SIGTERM logged" wait_until 10 grep -q 'Terminated: claiming no more jobs; 1 running job gets 30.0s to finish' "$PROC_LOG"
kill -TERM "$PROC_PID"
t0=$(date +%s)
wait "$PROC_PID"
eq "twice: exit status 0" "$?" 0
check "twice: it did not wait for the 30s grace" test $(( $(date +%s) - t0 )) -lt 15
check "twice: second SIGTERM logged" grep -q 'again: stopping the running jobs now' "$PROC_LOG"
check "twice: the job is pending again" test -f "$SPOOL/$term.pending"
eq "twice: it says why" "$(jq -r .error "$SPOOL/$term.pending")" \
	"interrupted by a processor shutdown; requeued"
proc_check_logs

# ---- a log gone when the run ends; pauses that cannot be read; a
# shutdown of a run whose lease is lost (its .wip gone) ----
proc_setup
# shellcheck disable=SC2086
start_proc $ROOT
gone=$(submit "{\"shell\":\"echo some output; rm -f $SPOOL/\$JOBSPOOL_JOB_ID.log\"}")
# (the job runs as root or as the processor's user: it may remove it)
check "log removed by the job: it ends" wait_final 20 "$gone"
eq "  completed" "$(field "$gone" .status)" completed
eq "  no digest recorded" "$(field "$gone" .log_sha256)" null
check "  said why" grep -q "job $gone: cannot read its log: No such file or directory" "$PROC_LOG"
: >"$SPOOL/paused.d"		# a file where a directory belongs
unp=$(submit '{"command":["true"]}')
check "paused.d unreadable: claims go on" wait_final 20 "$unp"
check "  said why" grep -q "cannot read what is paused in $SPOOL: Not a directory; claiming as if nothing were" "$PROC_LOG"
rm -f "$SPOOL/paused.d"
req=$(submit '{"shell":"sleep 60"}')
check "lost at shutdown: the job runs" wait_until 20 sh -c "jq -e '.pid > 0' '$SPOOL/$req.wip' >/dev/null 2>&1"
mv "$SPOOL/$req.wip" "$WORK/stash2.wip"
kill -TERM "$PROC_PID"
kill -TERM "$PROC_PID"
wait "$PROC_PID"
eq "lost at shutdown: exit status 0" "$?" 0
check "lost at shutdown: its lease was lost, said so" grep -q "job $req: lease lost; result discarded" "$PROC_LOG"
eq "lost at shutdown: no file of the job but its log is written" \
	"$(ls "$SPOOL" | grep "^$req\\." | grep -v '\.log$')" ""

# ---- inotify's queue overflows: a cancel whose event was lost still
# arrives (the overflow makes the processor read the whole spool) ----
qmax=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 0)
if [ "$qmax" -gt 0 ] && [ "$qmax" -le 100000 ]; then
	proc_setup
	start_proc --scan-interval 1h
	ovf=$(submit '{"shell":"sleep 60"}')
	check "overflow: the job runs" wait_until 20 sh -c "jq -e '.pid > 0' '$SPOOL/$ovf.wip' >/dev/null 2>&1"
	kill -STOP "$PROC_PID"
	(cd "$SPOOL" && seq -f 'junk%g' 1 $((qmax + 100)) | xargs touch)
	: >"$SPOOL/$ovf.cancel"		# its event does not fit
	t0=$(date +%s)
	kill -CONT "$PROC_PID"
	check "overflow: the cancel is found by the rescan" wait_final 20 "$ovf"
	t1=$(date +%s)
	# (the rescan's cancel waited for the next timer turn, here the next
	# heartbeat: up to 20 s with the default lease)
	check "  at once, not at the next heartbeat ($((t1 - t0)) s)" \
		test $((t1 - t0)) -le 8
	eq "  cancelled" "$(field "$ovf" .status)" cancelled
	eq "  while running" "$(field "$ovf" .error)" "cancelled while running"
	(cd "$SPOOL" && seq -f 'junk%g' 1 $((qmax + 100)) | xargs rm -f)
	stop_proc "$PROC_PID"
else
	skip permission "fs.inotify.max_queued_events is $qmax" "inotify overflow"
fi

# ---- a registry that cannot be written, a service manager that cannot
# be told: warnings, and the jobs run all the same ----
proc_setup
: >"$SPOOL/processors"		# a file where the registry directory belongs
NOTIFY_SOCKET=$WORK/no-manager.sock WATCHDOG_USEC=300000
export NOTIFY_SOCKET WATCHDOG_USEC
start_proc --lease 3s
unset NOTIFY_SOCKET WATCHDOG_USEC
reg=$(submit '{"command":["true"]}')
check "no registry: jobs run" wait_final 20 "$reg"
check "  the prune failure is logged" wait_until 10 \
	grep -q 'cannot prune the processor registry: Not a directory' "$PROC_LOG"
check "  the failed write is logged" \
	grep -q "cannot write $SPOOL/processors/.*\.json: Not a directory" "$PROC_LOG"
check "no manager: READY=1 not told, said why" grep -q \
	'cannot tell the service manager that the processor is ready (NOTIFY_SOCKET): No such file or directory' "$PROC_LOG"
check "no manager: the watchdog keep-alive not told, said why" wait_until 10 \
	grep -q 'cannot tell the service manager the watchdog keep-alive (NOTIFY_SOCKET)' "$PROC_LOG"
stop_proc "$PROC_PID"
check "no manager: STOPPING=1 not told, said why" grep -q \
	'cannot tell the service manager that the processor stops (NOTIFY_SOCKET)' "$PROC_LOG"

# ---- out of descriptors: a processor whose hard limit is too low for
# its -j runs fewer jobs at once: it claims nothing while descriptors run
# short, and every job runs, once ----
# (all 20 are pending before the processor starts, so that it would start
# 12 at once whatever the machine's load)
proc_setup
emf=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	emf="$emf $(submit "{\"shell\":\"sleep 1; echo $i\"}")"
done
PROC_N=$((PROC_N + 1))
PROC_LOG="$WORK/proc.$PROC_N.log"
# (a short lease: a start or result that could not be recorded would
# show as a job run again)
(ulimit -n 30 && exec "$P" --spool "$SPOOL" -j 12 --scan-interval 300ms \
	--lease 3s $ROOT \
	2>>"$PROC_LOG") &
PROC_PID=$!
T_PIDS="$T_PIDS $PROC_PID"
# shellcheck disable=SC2086
check "EMFILE: every job ends" wait_final 60 $emf ||
	{ ls -l "$SPOOL"; cat "$PROC_LOG"; }
other=""
for j in $emf; do
	[ "$(field "$j" '"\(.status) \(.attempts)"')" = "completed 1" ] ||
		other="$other $(field "$j" '"\(.status) \(.attempts) \(.error)"')"
done
eq "EMFILE: every job completed, each on its first run" "$other" ""
check "EMFILE: the processor said descriptors ran short" grep -q \
	'file descriptors run short (open-file limit 30, jobs running: [1-9][0-9]*)' \
	"$PROC_LOG"
# (one whose start could not be recorded and that was given back to
# pending is not lost: it runs later, as the check above says)
if grep 'cannot record' "$PROC_LOG" | grep -v 'given back to pending'; then
	fail "EMFILE: no start or result went unrecorded"
else
	ok "EMFILE: no start or result went unrecorded"
fi
check "EMFILE: the processor still runs" kill -0 "$PROC_PID"
stop_proc "$PROC_PID"

# ---- a limit that leaves no job room once the processor has started: it
# does not start, saying why (it would claim jobs it cannot run or record) ----
lowid=$(submit '{"shell":"echo low"}')
# (timeout: one that started anyway would run until stopped)
# shellcheck disable=SC2086
(ulimit -n 20 && exec timeout 20 "$P" --spool "$SPOOL" -j 2 $ROOT) \
	>/dev/null 2>"$WORK/low.err"
eq "open-file limit 20: exit status 1" "$?" 1
check "  said why" grep -q \
	'the open-file limit (20) leaves [0-9]* descriptors free once the processor has started, and a job needs 12: raise it' \
	"$WORK/low.err"
check "  the job is still pending, untouched" test -f "$SPOOL/$lowid.pending"

# ---- out of descriptors at a start (failfd.c makes the output pipe fail
# with EMFILE once): while other jobs run, the job is given back and runs
# later (once one of them ends, or a second later); with none running, it
# fails saying why ----
# shim_proc SHIM VAR=CTL ARGS...: builds SHIM.c (beside this script) into
# $WORK/SHIM.so and starts a processor on $SPOOL with it preloaded and VAR
# set to the control file CTL (made empty), sets PROC_PID; 1 (the
# compiler's output shown) if the shim does not build
shim_proc() {
	s_shim=$1 s_ctl=$2
	shift 2
	if ! cc -O1 -shared -fPIC -o "$WORK/$s_shim.so" \
	    "$(dirname "$0")/$s_shim.c" -ldl 2>"$WORK/cc.err"; then
		cat "$WORK/cc.err"
		return 1
	fi
	: >"${s_ctl#*=}"
	PROC_N=$((PROC_N + 1))
	PROC_LOG="$WORK/proc.$PROC_N.log"
	# shellcheck disable=SC2086
	env LD_PRELOAD="$WORK/$s_shim.so" "$s_ctl" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
	    "$P" --spool "$SPOOL" "$@" $ROOT 2>>"$PROC_LOG" &
	PROC_PID=$!
	T_PIDS="$T_PIDS $PROC_PID"
}

proc_setup
FCTL=$WORK/fctl
if shim_proc failfd "FAILFD_CTL=$FCTL" -j 3 --scan-interval 300ms; then
	# (5 s: both still run when the third is claimed, on a loaded machine)
	ga=$(submit '{"shell":"sleep 5"}')
	gb=$(submit '{"shell":"sleep 5"}')
	running() { [ "$(jq -r .status "$SPOOL/$1.wip" 2>/dev/null)" = running ]; }
	both_running() { running "$ga" && running "$gb"; }
	check "give back: two jobs run" wait_until 20 both_running
	echo emfile >"$FCTL"
	gc=$(submit '{"shell":"echo c"}')
	check "give back: the third ends" wait_final 30 "$gc"
	eq "  completed" "$(field "$gc" .status)" completed
	eq "  on its first run (the given-back attempt is not counted)" \
	    "$(field "$gc" .attempts)" 1
	check "  it met the failure" test ! -s "$FCTL"
	check "  the processor said it gave it back" grep -q \
	    "job $gc: cannot make the output pipe: Too many open files; given back to pending" \
	    "$PROC_LOG"
	check "  the others end" wait_final 30 "$ga" "$gb"
	eq "  they completed" "$(field "$ga" .status) $(field "$gb" .status)" \
	    "completed completed"
	echo emfile >"$FCTL"
	gd=$(submit '{"shell":"echo d"}')
	check "alone: the job ends" wait_final 30 "$gd"
	eq "  failed" "$(field "$gd" .status)" failed
	eq "  saying why" "$(field "$gd" .error)" \
	    "cannot make the output pipe: Too many open files"
	eq "  attempts 1" "$(field "$gd" .attempts)" 1
	ge=$(submit '{"shell":"echo e"}')
	check "  the next job runs" wait_final 30 "$ge"
	eq "  completed" "$(field "$ge" .status)" completed
	stop_proc "$PROC_PID"
else
	fail "building the failfd.c shim (cc)"
fi
proc_check_logs

# ---- a result is told of only once durable (jobspool(5), "Atomicity and
# durability"): holdsync.c holds the processor's directory syncs; in the
# meantime the final file is in place, but its .wip is too, so every
# lookup finds the job running, the apiserver's included, and the
# processor has not told of it ----
proc_setup
HCTL=$WORK/hctl
if shim_proc holdsync "HOLDSYNC_CTL=$HCTL" -j 1 --log-level info; then
	start_api
	w=$(submit '{"shell":"echo warm"}')
	check "held sync: a first job runs unheld" wait_final 30 "$w"
	echo hold >"$HCTL"
	h=$(submit '{"shell":"echo held"}')
	hfile() { [ -f "$SPOOL/$h.completed" ]; }
	check "held sync: the result's file is in place" wait_until 30 hfile
	check "  beside its .wip" test -f "$SPOOL/$h.wip"
	if is_final "$h"; then
		fail "  not final to a lookup yet"
	else
		ok "  not final to a lookup yet"
	fi
	req GET "/api/v1/jobs/$h?peek=1"
	eq "  the apiserver answers 200" "$CODE" 200
	eq "  and finds it running" "$(jq -r .status "$RESP_FILE")" running
	sleep 0.5
	check "  the processor has not told of it" sh -c \
	    "! grep -q 'job $h: completed' '$PROC_LOG'"
	: >"$HCTL"
	check "released: the job is final" wait_final 30 "$h"
	check "  its .wip and .held are gone" \
	    test ! -e "$SPOOL/$h.wip" -a ! -e "$SPOOL/$h.held"
	req GET "/api/v1/jobs/$h?peek=1"
	eq "  the apiserver finds it completed" "$(jq -r .status "$RESP_FILE")" \
	    completed
	check "  and the processor told of it" wait_until 10 \
	    grep -q "job $h: completed" "$PROC_LOG"
	stop_pid "$API_PID"
	stop_proc "$PROC_PID"
else
	fail "building the holdsync.c shim (cc)"
fi
proc_check_logs

# ---- a log past the processor's own file size limit (RLIMIT_FSIZE):
# the output is dropped, the job runs to its end (SIGXFSZ killed the
# processor once) ----
proc_setup
PROC_N=$((PROC_N + 1))
PROC_LOG="$WORK/proc.$PROC_N.log"
# shellcheck disable=SC2086
(ulimit -f 200 && exec "$P" --spool "$SPOOL" $ROOT 2>>"$PROC_LOG") &
PROC_PID=$!
T_PIDS="$T_PIDS $PROC_PID"
fsz=$(submit '{"shell":"head -c 1000000 /dev/zero; echo done >&2"}')
check "RLIMIT_FSIZE: the job ends" wait_final 20 "$fsz"
eq "  completed" "$(field "$fsz" .status)" completed
lsz=$(wc -c <"$SPOOL/$fsz.log" | tr -d ' ')
eq "  its log stops at the limit (200 blocks of 512 bytes)" "$lsz" 102400
eq "  log_size says so" "$(field "$fsz" .log_size)" 102400
check "  the dropped output is logged" grep -q \
	"job $fsz: cannot write its log: File too large; its output is dropped" "$PROC_LOG"
check "  the processor still runs" kill -0 "$PROC_PID"
stop_proc "$PROC_PID"

# ---- notification records the sender must refuse ----
# (SPOOL/notify/<id>.<outcome>.<sink>.json, jobspool(5)): not JSON, JSON
# without a job, a directory; the webhook itself is never reached
proc_setup
mkdir -m 0750 "$SPOOL/notify"
read -r n1 </proc/sys/kernel/random/uuid
read -r n2 </proc/sys/kernel/random/uuid
read -r n3 </proc/sys/kernel/random/uuid
printf 'not json\n' >"$SPOOL/notify/$n1.completed.url.json"
printf '{"id":"%s","sink":"url"}\n' "$n2" >"$SPOOL/notify/$n2.failed.url.json"
mkdir "$SPOOL/notify/$n3.completed.url.json"
start_proc --notify-url http://127.0.0.1:9/hook --notify-retry-max 1s
check "notify: a record that is not JSON is removed, said so" wait_until 20 \
	grep -q "notify/$n1.completed.url.json: not a notification record; removed" "$PROC_LOG"
check "notify: a record without a job is removed, said so" wait_until 20 \
	grep -q "notify/$n2.failed.url.json: not a notification record; removed" "$PROC_LOG"
check "  both files are gone" sh -c "! ls '$SPOOL/notify' | grep -q -e '$n1' -e '$n2'"
check "notify: a directory is not opened, said why" wait_until 20 \
	grep -q "notify/$n3.completed.url.json: Is a directory" "$PROC_LOG"
check "  and left alone" test -d "$SPOOL/notify/$n3.completed.url.json"
stop_proc "$PROC_PID"

# the notification queue is not a directory: at start, fatal; later, the
# job's result stands and the notification is lost, said why
proc_setup
: >"$SPOOL/notify"
"$P" --spool "$SPOOL" --notify-url http://127.0.0.1:9/hook 2>"$WORK/nf.err"
eq "notify dir a file at start: exit status 1" "$?" 1
check "  said why" grep -q "cannot start the notifiers: cannot open $SPOOL/notify: Not a directory" "$WORK/nf.err"
rm -f "$SPOOL/notify"
start_proc --notify-url http://127.0.0.1:9/hook
check "notify dir made by the processor" wait_until 10 test -d "$SPOOL/notify"
rm -rf "$SPOOL/notify"
: >"$SPOOL/notify"
nq=$(submit '{"command":["true"]}')
check "notify dir a file later: the job completes" wait_final 20 "$nq"
eq "  completed" "$(field "$nq" .status)" completed
check "  the lost notification is logged" wait_until 10 \
	grep -q "job $nq: cannot queue its url notification: Not a directory" "$PROC_LOG"
stop_proc "$PROC_PID"

# ---- remote mode: what an earlier run left in the work directory ----
proc_setup
RW=$(mktemp -d /tmp/jobspool-rwork.XXXXXX)
chmod 0750 "$RW"
mkdir -m 0770 "$RW/tmp"
T_DIRS="$T_DIRS $RW"
printf 'wsecret\n' >"$WORK/wtoken"
if check "remote: apiserver starts" start_api --token w:wsecret:worker; then
	# a run left running (its process still there), one left pending, and
	# a final job that never came from a server
	setsid sleep 120 </dev/null >/dev/null 2>&1 &
	spid=$!
	T_PIDS="$T_PIDS $spid"
	wait_until 5 test -e "/proc/$spid/stat"
	sst=$(sed 's/.*) //' "/proc/$spid/stat" | cut -d' ' -f20)
	read -r lw </proc/sys/kernel/random/uuid
	read -r lp </proc/sys/kernel/random/uuid
	read -r lf </proc/sys/kernel/random/uuid
	printf '{"id":"%s","command":["sleep","120"],"status":"running","attempts":1,"generation":1,"pid":%s,"pid_start":%s}\n' \
		"$lw" "$spid" "$sst" >"$RW/$lw.wip"
	printf '{"id":"%s","command":["true"],"status":"pending"}\n' "$lp" >"$RW/$lp.pending"
	printf '{"id":"%s","command":["true"],"status":"completed","exit_code":0}\n' \
		"$lf" >"$RW/$lf.completed"
	PROC_LOG="$WORK/remote.log"
	"$P" --spool "$RW" --server "$URL" --token-file "$WORK/wtoken" \
		--claim-wait 1s 2>>"$PROC_LOG" &
	RPID=$!
	T_PIDS="$T_PIDS $RPID"
	check "remote: the running leftover is dropped, said so" wait_until 20 \
		grep -q "job $lw: left running by an earlier run; dropped here" "$PROC_LOG"
	# (both are dropped in one pass over the directory, in its order)
	check "remote: the pending leftover is dropped, said so" wait_until 20 \
		grep -q "job $lp: left pending by an earlier run; dropped here" "$PROC_LOG"
	check "remote: the old run's process is killed" wait_until 10 \
		sh -c "! kill -0 $spid 2>/dev/null || grep -q '^State:.*Z' /proc/$spid/status"
	check "remote: a final job not from a server is removed, said so" wait_until 20 \
		grep -q "job $lf: not from a server; removed from the work directory" "$PROC_LOG"
	check "remote: nothing of them is left" wait_until 10 sh -c \
		"! ls '$RW' | grep -q -e '$lw' -e '$lp' -e '$lf'"
	rj=$(submit '{"command":["echo","remote-ok"]}')
	check "remote: a job still runs" wait_final 30 "$rj"
	eq "  its log" "$(cat "$SPOOL/$rj.log")" remote-ok
	stop_proc "$RPID"
fi
stop_pid "$API_PID"
proc_check_logs

# ---- a read-only spool: fatal at start; when it becomes so, jobs wait ----
if [ "$(id -u)" -ne 0 ]; then
	skip permission "not root (needs a read-only bind mount)" "read-only spool"
	finish
fi
RO_SRC=$(mktemp -d /tmp/jobspool-rosrc.XXXXXX)
RO=$(mktemp -d /tmp/jobspool-ro.XXXXXX)
chmod 0750 "$RO_SRC"
mkdir -m 0770 "$RO_SRC/tmp"
T_DIRS="$T_DIRS $RO_SRC $RO"
if ! mount --bind "$RO_SRC" "$RO" 2>/dev/null; then
	skip permission "no bind mount (root without CAP_SYS_ADMIN)" "read-only spool"
	finish
fi
umount_ro() { umount -l "$RO" 2>/dev/null; }
trap 'umount_ro; cleanup' EXIT
mount -o remount,bind,ro "$RO"
"$P" --spool "$RO" $ROOT 2>"$WORK/ro.err"
eq "read-only spool at start: exit status 1" "$?" 1
check "  the error says read-only" grep -q "spool $RO is on a read-only filesystem" "$WORK/ro.err"
mount -o remount,bind,rw "$RO"
PROC_LOG="$WORK/proc.ro.log"
"$P" --spool "$RO" --scan-interval 200ms $ROOT 2>>"$PROC_LOG" &
RO_PID=$!
T_PIDS="$T_PIDS $RO_PID"
check "ro: the processor registers" wait_until 10 sh -c "ls '$RO_SRC/processors' 2>/dev/null | grep -q json"
if mount -o remount,bind,ro "$RO"; then
	# written through the other path, which stays writable
	read -r roj </proc/sys/kernel/random/uuid
	printf '%s\n' '{"command":["echo","ro-done"]}' >"$RO_SRC/tmp/$roj.json"
	mv "$RO_SRC/tmp/$roj.json" "$RO_SRC/$roj.pending"
	check "ro: the claim fails, said why" wait_until 10 \
		grep -q "job $roj: cannot claim it: Read-only file system" "$PROC_LOG"
	check "ro: the job stays pending" test -f "$RO_SRC/$roj.pending"
	check "ro: the processor still runs" kill -0 "$RO_PID"
	mount -o remount,bind,rw "$RO"
	check "rw again: the job runs at the next scan" wait_until 20 test -f "$RO_SRC/$roj.completed"
	eq "rw again: its output" "$(cat "$RO_SRC/$roj.log")" ro-done
else
	skip permission "the bind mount cannot be made read-only while the processor runs" \
		"spool becoming read-only"
fi
kill -TERM "$RO_PID"
wait "$RO_PID"
eq "ro: the processor exits 0" "$?" 0
umount_ro
proc_check_logs
finish
