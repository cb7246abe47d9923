#!/bin/sh
# jobspool-processor in remote mode (a real apiserver, lease 3 s) whose
# local copy of a running job vanishes (its files removed from the work
# directory): the job's thread says so and leaves the job to the server's
# lease, and the run is killed at once, not at the processor's next own
# heartbeat (20 s with the default 60 s lease): the server recovers the
# job after 3 s and it runs again, and the first run must have ended by
# then.  The first run's result is discarded, the second completes
# (attempt 2); the processor then stops at once with status 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

new_spool
WD=$(mktemp -d /tmp/jobspool-van.XXXXXX)
chmod 1777 "$WD"
T_DIRS="$T_DIRS $WD"
RLOG="$WD.log"
T_DIRS="$T_DIRS $RLOG"
check "apiserver starts" start_api --lease 3s --token w:wsecret:worker \
	--token u:usecret
"$JS_BIN/jobspool-processor" --spool "$WD/work" --server "$URL" \
	--token wsecret --retry-max 1s --kill-grace 1s 2>"$RLOG" &
RPID=$!
T_PIDS="$T_PIDS $RPID"
check "remote processor claims" wait_until 20 grep -q 'remote mode: claiming from' "$RLOG"
# the first run waits; a second one (the mark is there) ends at once
id=$(curl -s --max-time 20 -H 'Authorization: Bearer usecret' \
	-d "{\"shell\":\"echo run; [ -e $WD/mark ] && exit 0; touch $WD/mark; sleep 60\"}" \
	"$URL/api/v1/jobs" | jq -r .id)
check "the job runs here" wait_until 20 sh -c \
	"jq -e '.pid > 0' '$WD/work/$id.wip' >/dev/null 2>&1 && [ -e '$WD/mark' ]"
jpid=$(jq -r .pid "$WD/work/$id.wip")
rm -f "$WD/work/$id".*
check "its local copy removed: said" wait_until 10 grep -q \
	"job $id: the local copy vanished; the server's lease will expire" "$RLOG"
check "  its run is killed at once (not at the next own heartbeat)" \
	wait_until 5 sh -c "! kill -0 -$jpid 2>/dev/null"
check "  its result is discarded" wait_until 10 grep -q \
	"job $id: lease lost; result discarded" "$RLOG"
check "the server recovers it, and it runs again" wait_final 30 "$id"
eq "  completed" "$(field "$id" .status)" completed
eq "  attempt 2" "$(field "$id" .attempts)" 2
eq "  both runs in its log" "$(cat "$SPOOL/$id.log")" "run
run"
check "  the first run is gone" sh -c "! kill -0 -$jpid 2>/dev/null"
kill -TERM "$RPID"
t0=$(date +%s)
wait "$RPID"
eq "the processor exits 0 on SIGTERM" "$?" 0
check "  at once: no run left to wait for" test $(( $(date +%s) - t0 )) -lt 10
if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$RLOG"; then
	cat "$RLOG"
	fail "remote processor sanitizer report"
fi
api_stop
finish
