#!/bin/sh
# jobspool-processor when the system cannot give it another process or
# thread: the processor runs in a pids cgroup whose pids.max the suite
# lowers and raises.  At start without room for a thread: the committer is
# not started (results are recorded in the event loop, said so), the
# notifiers' thread is fatal (exit 1), the remote link cannot be forked or
# cannot start its claimer thread (exit 1).  While it runs: a job that
# cannot be forked fails saying so, and the processor goes on; logs are
# hashed in the loop when the log hasher's thread could not be started
# (said; digest and size right); a notify command that cannot be started is said; a container
# whose stand-in CLI is cancelled when no "stop" or "kill" can be run says
# both; with room again, jobs and the notify command run.  Root only, with
# a pids cgroup (v1 or v2).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

[ "$(id -u)" -eq 0 ] || skip_suite permission "not root (needs a pids cgroup)"
# a pids hierarchy: cgroup v1's, or v2's with the pids controller
CG_PARENT=""
if [ -f /sys/fs/cgroup/pids/cgroup.procs ]; then
	CG_PARENT=/sys/fs/cgroup/pids
elif grep -qw pids /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
	CG_PARENT=/sys/fs/cgroup
fi
[ -n "$CG_PARENT" ] || skip_suite permission "no pids cgroup controller here"
CG="$CG_PARENT/jobspool-test-pids.$$"
mkdir "$CG" 2>/dev/null || skip_suite permission "cannot make a cgroup in $CG_PARENT"
[ -f "$CG/pids.max" ] || { rmdir "$CG"; skip_suite permission "$CG has no pids.max"; }
# the cgroup goes once every process in it has ended (cleanup kills them)
cg_cleanup() {
	cleanup
	for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	i=0
	while [ -n "$(cat "$CG/cgroup.procs" 2>/dev/null)" ] && [ "$i" -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	rmdir "$CG" 2>/dev/null
}
trap cg_cleanup EXIT
pids_max() { echo "$1" >"$CG/pids.max"; }
pids_now() { cat "$CG/pids.current"; }

# start_cg ARGS: like start_proc, the processor in the cgroup from its
# first instruction (the shell moves itself in, then execs it)
start_cg() {
	PROC_N=$((PROC_N + 1))
	PROC_LOG="$WORK/proc.$PROC_N.log"
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
		"$JS_BIN/jobspool-processor" --spool "$SPOOL" "$@" 2>>"$PROC_LOG" &
	PROC_PID=$!
	T_PIDS="$T_PIDS $PROC_PID"
}
# LeakSanitizer's check at exit needs a thread of its own: a processor
# that exits while pids.max leaves no room runs without it
NOLEAK="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# ---- at start, no room for a thread: the notifiers are fatal ----
proc_setup
pids_max 1
ASAN_OPTIONS=$NOLEAK start_cg --notify-url http://127.0.0.1:9/hook
wait "$PROC_PID"
eq "no thread at start, --notify-url: exit status 1" "$?" 1
check "  the committer's thread is said" grep -q \
	"cannot start the committer: Resource temporarily unavailable; results are recorded in the event loop" \
	"$PROC_LOG"
check "  the notifiers' thread is said" grep -q \
	"cannot start the notifiers: cannot start its thread: Resource temporarily unavailable" \
	"$PROC_LOG"
check "  no job file was made" test -z "$(spool_files | grep -v -e '^notify$' -e '^processors$')"

# ---- at start, no room for the remote link's process ----
proc_setup
ASAN_OPTIONS=$NOLEAK start_cg --server http://127.0.0.1:9 --token t0k
wait "$PROC_PID"
eq "remote mode, no process for the link: exit status 1" "$?" 1
check "  said why" grep -q \
	"cannot start the remote link: Resource temporarily unavailable" "$PROC_LOG"

# ---- at start, room for the remote link's process but not its thread ----
proc_setup
pids_max 2
ASAN_OPTIONS=$NOLEAK start_cg --server http://127.0.0.1:9 --token t0k
wait "$PROC_PID"
eq "remote mode, no thread for the link's claimer: exit status 1" "$?" 1
check "  the link says why" grep -q "remote link: cannot start the claimer" "$PROC_LOG"
check "  the processor sees the link end" grep -q \
	"the remote link exited (status 1); shutting down" "$PROC_LOG"
check "  no clean shut-down claimed" sh -c "! grep -q 'shut down\$' '$PROC_LOG'"

# ---- while it runs ----
proc_setup
mkdir -m 0755 "$WORK/bin"
# a stand-in container CLI: "run" logs its arguments and waits on a fifo
# without forking; any other call (stop, kill) is recorded
cat >"$WORK/bin/podman" <<EOF
#!/bin/sh
if [ "\$1" = run ]; then
	echo "stand-in \$*"
	read -r x <"$WORK/cfifo"
	exit 0
fi
echo "\$*" >>"$WORK/podman.calls"
EOF
chmod 0755 "$WORK/bin/podman"
mkfifo -m 0666 "$WORK/fifo" "$WORK/cfifo"
pids_max 1
start_cg --log-level debug --scan-interval 200ms \
	--container-runtime "$WORK/bin/podman" \
	--notify-command "cat >$WORK/notified.\$JOBSPOOL_JOB_ID"
check "no thread for the committer: the processor runs all the same" \
	wait_until 20 grep -q 'processing .* as ' "$PROC_LOG"
check "  said that results are recorded in the loop" grep -q \
	"cannot start the committer: Resource temporarily unavailable; results are recorded in the event loop" \
	"$PROC_LOG"
check "  said that logs are hashed in the loop" grep -q \
	"cannot start the log hasher: Resource temporarily unavailable; logs are hashed in the event loop" \
	"$PROC_LOG"

# a job that cannot be forked
nofork=$(submit '{"command":["true"]}')
check "no process for the job: it ends" wait_final 20 "$nofork"
eq "  failed" "$(field "$nofork" .status)" failed
eq "  the error says fork" "$(field "$nofork" .error)" \
	"cannot fork: Resource temporarily unavailable"
eq "  one attempt" "$(field "$nofork" .attempts)" 1
eq "  no exit code" "$(field "$nofork" .exit_code)" null
check "  logged" grep -q "job $nofork: cannot fork: Resource temporarily unavailable" "$PROC_LOG"
check "  its notify command could not be run either, said so" wait_until 10 \
	grep -q "job $nofork: cannot run the notify command: Resource temporarily unavailable" "$PROC_LOG"
check "  and did not run" test ! -e "$WORK/notified.$nofork"
check "  the processor is still there" kill -0 "$PROC_PID"

# a job whose log is hashed in the loop (no hasher): room for the job
# only, then none once it runs; its log is longer than what the loop
# hashes at once anyway (4096 bytes; printf is the shell's own)
pids_max 2
hashed=$(submit "{\"shell\":\"printf '%05000d\\\\n' 0; echo before; read -r x <$WORK/fifo; echo after \$x\"}")
check "a job runs with room for one process" \
	wait_until 20 grep -qs '^before$' "$SPOOL/$hashed.log"
eq "  two processes in the cgroup" "$(pids_now)" 2
pids_max 1
echo go >"$WORK/fifo"
check "  it ends with no room for a thread" wait_final 20 "$hashed"
eq "  completed" "$(field "$hashed" .status)" completed
eq "  its log" "$(tail -n 2 "$SPOOL/$hashed.log")" "before
after go"
eq "  its size" "$(wc -c <"$SPOOL/$hashed.log" | tr -d ' ')" 5017
eq "  log_sha256 of the log, hashed in the loop" "$(field "$hashed" .log_sha256)" \
	"$(sha256sum <"$SPOOL/$hashed.log" | cut -d ' ' -f 1)"
eq "  log_size" "$(field "$hashed" .log_size)" "$(wc -c <"$SPOOL/$hashed.log" | tr -d ' ')"
check "  the hashing in the loop is said (debug)" grep -q \
	"job $hashed: hashing its log in the loop\$" "$PROC_LOG"
check "  the notify command could not be run, said so" wait_until 10 \
	grep -q "job $hashed: cannot run the notify command: Resource temporarily unavailable" "$PROC_LOG"

# a container job cancelled when the CLI's stop and kill cannot be run
pids_max 2
cont=$(submit '{"container":{"image":"localhost/none:latest","command":["true"]}}')
check "a container job runs (stand-in CLI)" \
	wait_until 20 grep -qs "^stand-in run .* --name jobspool-$cont localhost/none:latest true\$" "$SPOOL/$cont.log"
pids_max 1
: >"$SPOOL/$cont.cancel"
check "  cancelled with no room for a process: it ends" wait_final 20 "$cont"
eq "  cancelled" "$(field "$cont" .status)" cancelled
eq "  while running" "$(field "$cont" .error)" "cancelled while running"
check "  the stop that could not be run is said" grep -q \
	"cannot run $WORK/bin/podman stop jobspool-$cont: Resource temporarily unavailable" "$PROC_LOG"
check "  the kill that could not be run is said" wait_until 10 grep -q \
	"cannot run $WORK/bin/podman kill jobspool-$cont: Resource temporarily unavailable" "$PROC_LOG"
check "  neither ran" test ! -e "$WORK/podman.calls"

# room again: jobs and the notify command run
pids_max max
again=$(submit '{"shell":"echo again"}')
check "room again: a job ends" wait_final 20 "$again"
eq "  completed" "$(field "$again" .status)" completed
check "  its notify command ran" wait_until 10 test -s "$WORK/notified.$again"
eq "  with the final job on stdin" "$(jq -r .status "$WORK/notified.$again" 2>/dev/null)" completed
stop_proc "$PROC_PID"
proc_check_logs
finish
