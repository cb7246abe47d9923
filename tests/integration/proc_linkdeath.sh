#!/bin/sh
# Remote mode (--server) whose link process dies: nothing would reach the
# server any more, so the processor says so, shuts down at once and exits
# 1 (not 0: it did not stop because it was asked to).  The server here is
# a closed port: the link keeps retrying it until it is killed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"
P="$JS_BIN/jobspool-processor"

proc_setup
link_of() { ps -o pid=,comm= --ppid "$1" | awk '$2 ~ /^jobspool-proc/ { print $1 }'; }
has_link() { L=$(link_of "$PROC_PID"); [ -n "$L" ]; }
TOKF="$WORK/token"
printf 'wsecret\n' >"$TOKF"

for n in 9; do
	sig=KILL
	start_proc --server "http://127.0.0.1:9" --token-file "$TOKF" \
		--retry-max 1s
	check "SIG$sig: the processor starts its link" wait_until 20 has_link
	kill "-$n" "$L"
	wait "$PROC_PID"
	eq "SIG$sig: after its link died the processor exits 1" "$?" 1
	check "SIG$sig: it says why" grep -q \
		"the remote link exited (signal $n); shutting down" "$PROC_LOG"
	check "SIG$sig: and does not say it shut down cleanly" sh -c \
		"! grep -q ': shut down\$' '$PROC_LOG'"
	check "SIG$sig: no job or stray file in its work directory" sh -c \
		"! ls '$SPOOL' | grep -q -E '\\.(pending|wip)\$'"
done
proc_check_logs
finish
