#!/bin/sh
# make run (scripts/run.sh), as a newcomer uses it: it starts the apiserver
# (127.0.0.1 only) and a processor on ./spool, prints the URL and a curl
# example that works when pasted, and Ctrl-C (SIGINT to the whole
# foreground process group, as a terminal sends it) stops both.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

W=$(mktemp -d /tmp/jobspool-run.XXXXXX); T_DIRS="$T_DIRS $W"
cd "$W" || exit 1

# on any exit, also kill what is left of the sessions we started
RUN_GROUPS=""
trap 'for g in $RUN_GROUPS; do kill -9 -$g 2>/dev/null; done; cleanup' EXIT

rand_port() { echo $(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 )); }

# listening TCP sockets on port $1 (hex local addresses from /proc/net/tcp*)
listeners() {
	hp=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p=":$hp" '$4 == "0A" && substr($2, length($2) - 4) == p { print $2 }'
}

# start_run OUT ERR CMD...: starts CMD in its own session (so that SIGINT
# can go to its whole process group, like a Ctrl-C) on a free port; waits
# for the banner.  Sets RUN_PID (= its process group).  Tries 3 ports.
start_run() {
	s_out=$1 s_err=$2; shift 2
	for s_try in 1 2 3; do
		PORT=$(rand_port)
		[ -z "$(listeners "$PORT")" ] || continue
		# env --default-signal: undo the SIGINT-ignore that "&" gives an async
		# command in a non-interactive shell (a terminal's Ctrl-C is not ignored)
		PORT=$PORT setsid env --default-signal=INT,QUIT "$@" >"$s_out" 2>"$s_err" &
		RUN_PID=$!
		RUN_GROUPS="$RUN_GROUPS $RUN_PID"
		T_PIDS="$T_PIDS $RUN_PID"
		if wait_until 120 sh -c "grep -q 'jobspool is running' '$s_out' ||
		    ! kill -0 $RUN_PID 2>/dev/null"; then
			grep -q 'jobspool is running' "$s_out" && return 0
		fi
		kill -9 -"$RUN_PID" 2>/dev/null
		wait "$RUN_PID" 2>/dev/null
	done
	cat "$s_out" "$s_err"
	return 1
}

# session_pids SID: the processes still in that session
session_pids() { ps -o pid= -s "$1" 2>/dev/null | tr -d ' '; }

# ---- scripts/run.sh directly, with the build under test
check "scripts/run.sh starts" start_run out err sh "$ROOT/scripts/run.sh" "$JS_BIN"
URL="http://127.0.0.1:$PORT"
check "it prints the URL" grep -q "API on $URL, spool ./spool" out
TOKEN=$(sed -n 's/^token: \([0-9a-f]*\) .*/\1/p' out)
check "it prints a random token (32 hex digits)" test "${#TOKEN}" -eq 32
check "./spool was created" test -d spool
eq "... mode 0750" "$(stat -c %a spool)" 750
l=$(listeners "$PORT")
check "something listens on port $PORT" test -n "$l"
eq "... only on 127.0.0.1" "$(printf '%s\n' $l | grep -v -c -e '^0100007F:' -e '^0000000000000000FFFF00000100007F:')" 0
eq "a request without the token is refused (401)" \
	"$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/jobs")" 401

# the example, pasted as printed: the indented lines after "Submit a job"
sed -n '/^Submit a job/,/^More in/p' out | sed -n 's/^  //p' >example.sh
check "the example has the export, a submission and two reads" \
	test "$(grep -c 'curl ' example.sh)" -eq 3
( timeout 60 sh -e example.sh ) >example.out 2>example.err
eq "the printed example runs (exit 0)" "$?" 0
check "... the log follow shows the job's output" grep -q -x 'hello from jobspool' example.out
eq "... and the result is completed" \
	"$(tail -n 1 example.out | jq -r .status 2>/dev/null)" completed
check "... and is marked retrieved in ./spool" sh -c 'ls spool/*.retrieved >/dev/null 2>&1'

members=$(session_pids "$RUN_PID")
check "run.sh, the apiserver and the processor are running" \
	test "$(printf '%s\n' $members | wc -l)" -ge 3
kill -INT -"$RUN_PID"
wait "$RUN_PID"
eq "Ctrl-C: run.sh exits 0" "$?" 0
check "... and both programs have exited" wait_until 30 sh -c "[ -z \"\$(ps -o pid= -s $RUN_PID)\" ]"
check "... after a clean shutdown (processor says so)" grep -q 'jobspool-processor: info: shut down' err
check "... the apiserver stopped on a signal" grep -q 'jobspool-apiserver: info: signal' err
eq "... nothing listens on the port any more" "$(listeners "$PORT")" ""
check "no sanitizer report" sh -c "! grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' err"

# ---- a configured token is the one printed; SIGTERM works too
JOBSPOOL_TOKENS="me:s3cret-token,other:x" export JOBSPOOL_TOKENS
check "run.sh with JOBSPOOL_TOKENS starts" start_run out2 err2 sh "$ROOT/scripts/run.sh" "$JS_BIN"
check "it prints the configured token" grep -q '^token: s3cret-token (the first of JOBSPOOL_TOKENS)' out2
check "... and uses it in the example" grep -q '^  export TOKEN=s3cret-token$' out2
eq "that token is accepted" "$(curl -s -o /dev/null -w '%{http_code}' \
	-H 'Authorization: Bearer s3cret-token' "http://127.0.0.1:$PORT/api/v1/jobs")" 200
# a second run.sh on the same port says why it cannot start, exit 1
PORT=$PORT sh "$ROOT/scripts/run.sh" "$JS_BIN" >out3 2>err3 &
P3=$!; T_PIDS="$T_PIDS $P3"
wait_until 30 sh -c "! kill -0 $P3 2>/dev/null"
wait "$P3"
eq "a second run.sh on a taken port exits 1" "$?" 1
check "... saying the port is taken" grep -q "something already listens on http://127.0.0.1:$PORT" err3
kill -TERM "$RUN_PID"
wait "$RUN_PID"
eq "SIGTERM: run.sh exits 0" "$?" 0
check "... and both programs have exited" wait_until 30 sh -c "[ -z \"\$(ps -o pid= -s $RUN_PID)\" ]"
unset JOBSPOOL_TOKENS

# ---- make run itself (deps, build, run.sh) with the build under test;
# -o all: do not relink it with other flags
JOBSPOOL_SPOOL="$W/spool4" export JOBSPOOL_SPOOL
check "make run starts" start_run out4 err4 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	make -s --no-print-directory \
	-C "$ROOT" -o all B="$JS_BIN" run
check "make run uses JOBSPOOL_SPOOL" grep -q "spool $W/spool4\$" out4
kill -INT -"$RUN_PID"
wait "$RUN_PID"
check "Ctrl-C stops make run and both programs" wait_until 30 sh -c "[ -z \"\$(ps -o pid= -s $RUN_PID)\" ]"
check "... the processor shut down cleanly" grep -q 'jobspool-processor: info: shut down' err4
finish
