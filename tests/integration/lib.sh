# Helpers for integration suites (sourced, POSIX sh).
#   JS_BIN      directory holding the built programs (set by tests/run.sh)
#   ok/fail     record one assertion; finish prints "N passed, M failed"
#   new_spool   makes a temporary spool (mode 0750) in $SPOOL
#   wait_until  polls a shell condition with a deadline instead of sleeping
#   start_api   starts the apiserver on 127.0.0.1 and a free port, sets $API_PID $URL
#   stop_pid    TERMs a pid and waits for it
: "${JS_BIN:=$(cd "$(dirname "$0")/../../build" && pwd)}"
T_PASS=0 T_FAIL=0
T_DIRS=""
T_PIDS=""

ok() { T_PASS=$((T_PASS + 1)); echo "ok - $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "not ok - $*"; }
# check DESC CMD...: passes if CMD succeeds
check() { d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
# eq DESC GOT WANT
eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (got '$2', want '$3')"; fi
}

cleanup() {
	for p in $T_PIDS; do kill -9 "$p" 2>/dev/null; done
	for d in $T_DIRS; do rm -rf "$d"; done
}
trap cleanup EXIT

finish() {
	cleanup
	T_PIDS="" T_DIRS=""
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}

new_spool() {
	SPOOL=$(mktemp -d /tmp/jobspool-test.XXXXXX)
	chmod 0750 "$SPOOL"
	T_DIRS="$T_DIRS $SPOOL"
}

# wait_until SECONDS CONDITION...: 1 if the deadline passes first
wait_until() {
	w_deadline=$(( $(date +%s) + $1 )); shift
	while ! "$@"; do
		[ "$(date +%s)" -ge "$w_deadline" ] && return 1
		sleep 0.02
	done
	return 0
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_api [extra flags...]: starts jobspool-apiserver on $SPOOL
start_api() {
	PORT=$(free_port)
	"$JS_BIN/jobspool-apiserver" --spool "$SPOOL" --listen "127.0.0.1:$PORT" "$@" \
		2>>"$SPOOL.api.log" &
	API_PID=$!
	T_PIDS="$T_PIDS $API_PID"
	URL="http://127.0.0.1:$PORT"
	wait_until 10 curl -s -o /dev/null "$URL/healthz"
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# spool_files: the visible job files of $SPOOL, sorted
spool_files() { (cd "$SPOOL" && ls -1 | grep -v -e '^tmp$' -e '^jobs.lock$' | sort); }
