#!/bin/sh
# jobspool-cleaner: two cleaners at once.  The lock is flock(2) on
# SPOOL/cleaner.lock; a second cleaner exits 0 saying "another cleaner is
# running" and removes nothing, or with --wait waits its turn.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cleaner.inc"

new_spool
mkjob retrieved "2 hours ago"; R=$ID
: >"$SPOOL/cleaner.lock"
chmod 0660 "$SPOOL/cleaner.lock"

# hold the lock the way an admin would to pause cleaning
mkfifo "$SPOOL.fifo"; T_DIRS="$T_DIRS $SPOOL.fifo"
flock "$SPOOL/cleaner.lock" sh -c 'echo held; read x <"$1"' _ "$SPOOL.fifo" >"$SPOOL.held" &
HOLDER=$!; T_PIDS="$T_PIDS $HOLDER"; T_DIRS="$T_DIRS $SPOOL.held"
wait_until 10 grep -q held "$SPOOL.held" || fail "flock(1) did not take the lock"

cleaner
eq "second cleaner exits 0" "$RC" 0
check "... saying another cleaner is running" sh -c "printf '%s' \"\$1\" | grep -q 'another cleaner is running'" _ "$ERR"
check "... and removes nothing" present "$R.retrieved"
eq "... and prints no summary" "$OUT" ""

# --wait blocks until the lock is free, then cleans
"$JS_BIN/jobspool-cleaner" --spool "$SPOOL" --wait >"$SPOOL.w.out" 2>&1 &
W=$!; T_PIDS="$T_PIDS $W"; T_DIRS="$T_DIRS $SPOOL.w.out"
sleep 0.3
check "--wait is still waiting while the lock is held" kill -0 "$W"
check "... and has removed nothing yet" present "$R.retrieved"
echo go >"$SPOOL.fifo"
wait "$HOLDER"
wait "$W"; rc=$?
eq "--wait cleaner exits 0 once the lock is free" "$rc" 0
check "... and did the work" gone "$R.retrieved"
check "... printing its summary" grep -q '^jobspool-cleaner: removed 1 retrieved' "$SPOOL.w.out"

# two real cleaners started together on a bigger spool: every job removed
# exactly once, no errors, each exits 0
mkmany 3000 retrieved "2 hours ago" log
"$JS_BIN/jobspool-cleaner" --spool "$SPOOL" >"$SPOOL.a" 2>&1 &
A=$!
"$JS_BIN/jobspool-cleaner" --spool "$SPOOL" >"$SPOOL.b" 2>&1 &
B=$!
T_DIRS="$T_DIRS $SPOOL.a $SPOOL.b"
wait $A; ra=$?
wait $B; rb=$?
eq "first of two concurrent cleaners exits 0" "$ra" 0
eq "second of two concurrent cleaners exits 0" "$rb" 0
n=$(cat "$SPOOL.a" "$SPOOL.b" | sed -n 's/^jobspool-cleaner: removed \([0-9]*\) retrieved.*/\1/p' |
	awk '{s += $1} END {print s + 0}')
eq "together they removed each of 3000 jobs once" "$n" 3000
eq "no job files left" "$(ls "$SPOOL" | grep -c -e '\.retrieved$' -e '\.log$')" 0
check "no errors reported" sh -c "! grep -q 'error' '$SPOOL.a' '$SPOOL.b'"
check "cleaner.lock is kept" present cleaner.lock

finish
