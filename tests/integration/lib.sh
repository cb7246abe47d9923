# Helpers for integration suites (sourced, POSIX sh).
#   JS_BIN      directory holding the built programs (set by tests/run.sh)
#   ok/fail     record one assertion; finish prints
#               "N passed, M failed, K skipped"
#   skip        a case that cannot run here (see below); skip_suite: all of them
#   new_spool   makes a temporary spool (mode 0750) in $SPOOL
#   wait_until  polls a shell condition with a deadline instead of sleeping
#   start_api   starts the apiserver on 127.0.0.1 and a free port, sets $API_PID $URL
#   stop_pid    TERMs a pid and waits for it
: "${JS_BIN:=$(cd "$(dirname "$0")/../../build" && pwd)}"
T_PASS=0 T_FAIL=0 T_SKIP=0
T_DIRS=""
T_PIDS=""

ok() { T_PASS=$((T_PASS + 1)); echo "ok - $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "not ok - $*"; }
# Skips.  A skipped case prints "skip - DESC (KIND: REASON)" and is counted
# in the closing line's "K skipped", never as passed.  KIND says why:
#   permission  something no install can give: not root, mount or network
#               namespaces not permitted, a filesystem without the feature
#   install     a package or program an install would provide
# With CI=true (.ci/run) an "install" skip is also a failure: CI installs
# everything, so a missing program there is a broken set-up, not a reason.
# skip KIND REASON DESC: one case (or group of cases) skipped
skip() {
	T_SKIP=$((T_SKIP + 1))
	echo "skip - $3 ($1: $2)"
	if [ "$1" != permission ] && [ "${CI:-}" = true ]; then
		fail "$3: skipped in CI although an install can give it ($2)"
	fi
}
# skip_suite KIND REASON: the whole suite cannot run here; prints
# "# SUITE SKIPPED (KIND): REASON" (tests/run.sh lists these) and finishes.
skip_suite() {
	echo "# SUITE SKIPPED ($1): $2"
	skip "$1" "$2" "every case of $(basename "$0" .sh)"
	finish
}
# check DESC CMD...: passes if CMD succeeds
check() { d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
# eq DESC GOT WANT
eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (got '$2', want '$3')"; fi
}

# T_MOUNTS: mount points a suite made (tmpfs, bind); unmounted (lazily)
# before the directories are removed
cleanup() {
	for p in $T_PIDS; do kill -9 "$p" 2>/dev/null; done
	for m in ${T_MOUNTS:-}; do
		for p in $T_PIDS; do wait "$p" 2>/dev/null; done
		umount -l "$m" 2>/dev/null
	done
	for d in $T_DIRS; do rm -rf "$d"; done
}
trap cleanup EXIT

finish() {
	cleanup
	T_PIDS="" T_DIRS=""
	echo "$T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
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

# start_api [extra flags...]: starts jobspool-apiserver on $SPOOL, listening
# on 127.0.0.1 port 0; reads the port from its "listening on" log line.
# Sets $API_PID, $URL (http or https), $PORT; its stderr is in $API_LOG.
start_api() {
	API_LOG="$SPOOL.api.log"
	: >"$API_LOG"
	"$JS_BIN/jobspool-apiserver" --spool "$SPOOL" --listen 127.0.0.1:0 "$@" \
		2>>"$API_LOG" &
	API_PID=$!
	T_PIDS="$T_PIDS $API_PID"
	T_DIRS="$T_DIRS $API_LOG"
	if ! wait_until 20 grep -q 'listening on http' "$API_LOG"; then
		cat "$API_LOG" >&2
		return 1
	fi
	URL=$(sed -n 's/.*listening on \(https\{0,1\}:\/\/[^ ]*\).*/\1/p' "$API_LOG" |
		head -n 1)
	PORT=${URL##*:}
	return 0
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# spool_files: the visible job files of $SPOOL, sorted
spool_files() { (cd "$SPOOL" && ls -1 | grep -v -e '^tmp$' -e '^jobs.lock$' | sort); }

# ---- apiserver helpers (api_*.sh suites) ----
# req METHOD PATH [curl args...]: one request to $URL; sets $CODE and $BODY
# (the body is also in $RESP_FILE, headers in $HDR_FILE).
req() {
	r_m=$1 r_p=$2; shift 2
	[ -n "${RESP_FILE:-}" ] || { RESP_FILE=$(mktemp); HDR_FILE=$(mktemp);
		T_DIRS="$T_DIRS $RESP_FILE $HDR_FILE"; }
	CODE=$(curl -s -g -o "$RESP_FILE" -D "$HDR_FILE" -w '%{http_code}' \
		--max-time 20 -X "$r_m" "$@" "$URL$r_p")
	BODY=$(cat "$RESP_FILE")
}
# jerr DESC STATUS: the last answer had STATUS and a JSON {"error": "..."}
jerr() {
	if [ "$CODE" = "$2" ] && printf '%s' "$BODY" |
		jq -e '(.error | type == "string") and (.error | length > 0)' \
		>/dev/null 2>&1; then
		ok "$1"
	else
		fail "$1 (got $CODE: $(printf '%s' "$BODY" | head -c 200))"
	fi
}
# jq_eq DESC FILTER WANT: jq FILTER applied to $BODY
jq_eq() { eq "$1" "$(printf '%s' "$BODY" | jq -r "$2" 2>/dev/null)" "$3"; }
# header NAME: a header of the last answer (value only)
header() {
	tr -d '\r' <"$HDR_FILE" | sed -n "s/^$1: *//Ip" | tail -n 1
}
# api_stop: SIGTERM the apiserver; asserts a clean exit and no sanitizer
# report in its log.
api_stop() {
	kill -TERM "$API_PID" 2>/dev/null
	wait "$API_PID"
	a_rc=$?
	eq "apiserver exits 0 on SIGTERM" "$a_rc" 0
	if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
		"$API_LOG"; then
		cat "$API_LOG"
		fail "apiserver sanitizer report"
	fi
}
# spool_snapshot: the spool's job files plus tmp/ content, for "unchanged"
spool_snapshot() { spool_files; ls -1 "$SPOOL/tmp" | sed 's/^/tmp\//'; }
# spool_hashes: every entry of the spool (but the lock file) with its
# content's hash (a file) or its type, for "unchanged" down to the bytes
spool_hashes() {
	(cd "$SPOOL" && find . \( -type f -o -type l -o -type d \) \
		! -name jobs.lock ! -name . -print | LC_ALL=C sort |
		while read -r s_f; do
			if [ -f "$s_f" ] && [ ! -L "$s_f" ]; then
				echo "$s_f $(sha256sum <"$s_f" | cut -c1-16)"
			else
				echo "$s_f $(stat -c %F "$s_f")"
			fi
		done)
}

# Test certificates, made with certtool in the directory $PKI (set by the
# suite).  mkkey NAME; mkcert NAME TEMPLATE-LINES CA (CA "" = self-signed):
# $PKI/NAME.key and $PKI/NAME.pem, valid two days.
mkkey() { certtool --generate-privkey --key-type ecdsa \
	--outfile "$PKI/$1.key" >/dev/null 2>&1; }
mkcert() {
	printf '%s\nexpiration_days = 2\n' "$2" >"$PKI/$1.tmpl"
	mkkey "$1" || return 1
	if [ -z "$3" ]; then
		certtool --generate-self-signed --load-privkey "$PKI/$1.key" \
			--template "$PKI/$1.tmpl" --outfile "$PKI/$1.pem" >/dev/null 2>&1
	else
		certtool --generate-certificate --load-privkey "$PKI/$1.key" \
			--load-ca-certificate "$PKI/$3.pem" \
			--load-ca-privkey "$PKI/$3.key" \
			--template "$PKI/$1.tmpl" --outfile "$PKI/$1.pem" >/dev/null 2>&1
	fi
}
