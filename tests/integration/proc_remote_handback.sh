#!/bin/sh
# jobspool-processor in remote mode (a real apiserver) stopped with SIGTERM
# while a job runs and the server does not answer (SIGSTOP): the job is
# stopped here, the link cannot hand it back and gives up after its own
# 15 s bound ("1 job not handed back in time; their leases will expire"),
# and the processor exits 1, not 0 (jobspool-processor(8), EXIT STATUS).
# The job is not lost: the server still holds it, running (its lease
# expires) or pending (a hand-back that reached it once it ran again).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

new_spool
WD=$(mktemp -d /tmp/jobspool-hb.XXXXXX)
T_DIRS="$T_DIRS $WD"
RLOG="$WD.log"
T_DIRS="$T_DIRS $RLOG"
check "apiserver starts" start_api --lease 60s --token w:wsecret:worker \
	--token u:usecret
"$JS_BIN/jobspool-processor" --spool "$WD/work" --server "$URL" \
	--token wsecret --retry-max 1s --kill-grace 1s --shutdown-grace 1s \
	2>"$RLOG" &
RPID=$!
T_PIDS="$T_PIDS $RPID"
check "remote processor claims" wait_until 20 grep -q 'remote mode: claiming from' "$RLOG"
id=$(curl -s --max-time 20 -H 'Authorization: Bearer usecret' \
	-d '{"shell":"sleep 60"}' "$URL/api/v1/jobs" | jq -r .id)
check "the job runs here" wait_until 20 sh -c \
	"jq -e '.pid > 0' '$WD/work/$id.wip' >/dev/null 2>&1"
jpid=$(jq -r .pid "$WD/work/$id.wip")
check "  and is the server's running job" test -f "$SPOOL/$id.wip"

kill -STOP "$API_PID"
t0=$(date +%s)
kill -TERM "$RPID"
wait "$RPID"
rc=$?
t=$(( $(date +%s) - t0 ))
kill -CONT "$API_PID"
eq "server silent at shutdown: the processor exits 1" "$rc" 1
check "  the link says the job was not handed back" grep -q \
	"remote link: 1 job not handed back in time; their leases will expire" "$RLOG"
check "  after its 15 s bound, within 25 s ($t s)" test "$t" -ge 14 -a "$t" -le 25
check "  the job's process is gone" sh -c "! kill -0 $jpid 2>/dev/null"
# (the hand-back sent before the give-up may still reach the server once
# it runs again: pending then; else it stays running until its lease ends)
check "  the job is not lost on the server: running or pending" \
	sh -c "[ -f '$SPOOL/$id.wip' ] || [ -f '$SPOOL/$id.pending' ]"
if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$RLOG"; then
	cat "$RLOG"
	fail "remote processor sanitizer report"
fi
api_stop
finish
