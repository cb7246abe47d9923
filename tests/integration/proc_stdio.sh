#!/bin/sh
# jobspool-processor started with stdin, stdout and stderr closed (as a
# careless init script may): it opens /dev/null on them first, so that no
# descriptor it opens later (the spool, inotify, a job's log) becomes fd 0,
# 1 or 2 of the processor or of a job.  A job then reads EOF on stdin, its
# output reaches its log, the processor's own messages go nowhere harmful,
# and SIGTERM ends it with status 0.  Also --version and --help with the
# descriptors closed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"
P="$JS_BIN/jobspool-processor"

proc_setup
ROOT=""
[ "$(id -u)" -eq 0 ] && ROOT="--user root"

v=$("$P" --version <&- 2>&-)
case $v in "jobspool-processor "[0-9]*) ok "--version with stdin and stderr closed" ;; *) fail "--version: '$v'" ;; esac
"$P" --help <&- >&- 2>&-
eq "--help with every standard descriptor closed exits 0" "$?" 0

# shellcheck disable=SC2086  # $ROOT: zero or two words
"$P" --spool "$SPOOL" $ROOT --scan-interval 200ms <&- >&- 2>&- &
PROC_PID=$!
T_PIDS="$T_PIDS $PROC_PID"
id=$(submit '{"shell":"if read -r x; then echo got:$x; else echo eof; fi; ls -l /proc/self/fd/0 | sed \"s/.*-> //\"; echo out; echo err >&2"}')
check "the job ends" wait_final 30 "$id"
eq "it completed" "$(field "$id" .status)" completed
log=$(cat "$SPOOL/$id.log" 2>/dev/null)
case $log in
"eof
/dev/null
out
err") ok "it read EOF from /dev/null, its stdout and stderr are in its log" ;;
*) fail "the job's log: '$log'" ;;
esac
fds=$(ls -l "/proc/$PROC_PID/fd/0" "/proc/$PROC_PID/fd/1" "/proc/$PROC_PID/fd/2" 2>/dev/null |
	sed 's/.*-> //' | sort -u)
eq "the processor's fds 0, 1 and 2 are /dev/null" "$fds" /dev/null
kill -TERM "$PROC_PID"
wait "$PROC_PID"
eq "SIGTERM: exit 0" "$?" 0
finish
