#!/bin/sh
# Fault injection: changes of existing jobs on a full disk (the spool is a
# small tmpfs, a filler takes every free block).  Cancelling a pending job
# (DELETE, PUT status cancelled), renaming it (PUT) and fetching a final
# job (which marks it retrieved) need a new file: the first three are
# refused with a JSON error and leave the job and tmp/ as they were; the
# fetch answers the job, still completed, to be marked on a later fetch.
# A remote worker's log upload and finish are refused the same way (507,
# the job still running as it was); its heartbeat needs no space.
# Removing a final job needs no space and works.  Once space returns, the same requests
# succeed.  Needs root (mount -t tmpfs); skipped otherwise.
. "$(dirname "$0")/lib.sh"

MNT=$(mktemp -d /tmp/jobspool-edits.XXXXXX)
T_DIRS="$T_DIRS $MNT"
if [ "$(id -u)" -ne 0 ] ||
    ! mount -t tmpfs -o size=1m,mode=0750 jobspool-test "$MNT" 2>/dev/null; then
	skip_suite permission "needs root and tmpfs mounts (not root, or mount -t tmpfs refused)"
fi
T_MOUNTS="$MNT"	# unmounted by lib.sh's cleanup
SPOOL=$MNT
FILLER=$SPOOL/filler
fill() {
	dd if=/dev/zero of="$FILLER" bs=4096 2>/dev/null
	sync
	[ "$(df -P "$SPOOL" | awk 'NR == 2 { print $4 }')" -eq 0 ]
}
tmp_count() { ls -A "$SPOOL/tmp" | grep -v '^health-' | wc -l; }
state() { (cd "$SPOOL" && ls "$1".* 2>/dev/null | sed 's/^[^.]*\.//' | grep -v -e '^log$' -e '^held$'); }

check "apiserver starts on a 1 MiB tmpfs spool" start_api \
	--token w:w0rker:worker --token u:us3r
WA="Authorization: Bearer w0rker"
UA="Authorization: Bearer us3r"
req POST /api/v1/jobs -H "$UA" -d '{"command":["true"],"name":"before"}'
P=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -H "$UA" -d '{"command":["true"]}'
C=$(printf '%s' "$BODY" | jq -r .id)
jq '.status = "completed" | .exit_code = 0' "$SPOOL/$C.pending" >"$SPOOL/$C.completed"
rm "$SPOOL/$C.pending"
req POST /api/v1/jobs -H "$UA" -d '{"command":["true"]}'
D=$(printf '%s' "$BODY" | jq -r .id)
jq '.status = "failed" | .exit_code = 1' "$SPOOL/$D.pending" >"$SPOOL/$D.failed"
rm "$SPOOL/$D.pending"
req POST /api/v1/jobs -H "$UA" -d '{"command":["true"],"priority":9}'
R=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/workers/claim -H "$WA" -d '{"wait":0}'
G=$(printf '%s' "$BODY" | jq -r '.lease.token')
eq "a worker claims the job R" "$(printf '%s' "$BODY" | jq -r .job.id)" "$R"
P_TEXT=$(cat "$SPOOL/$P.pending")
C_TEXT=$(cat "$SPOOL/$C.completed")

check "the filler takes every free block" fill
req DELETE "/api/v1/jobs/$P" -H "$UA"
jerr "cancel (DELETE) a pending job on a full disk: 507" 507
eq "  still pending, as it was" "$(state "$P"):$(cat "$SPOOL/$P.pending")" "pending:$P_TEXT"
req PUT "/api/v1/jobs/$P" -H "$UA" -d '{"status":"cancelled"}'
jerr "cancel (PUT status) on a full disk: 507" 507
eq "  still pending, as it was" "$(state "$P"):$(cat "$SPOOL/$P.pending")" "pending:$P_TEXT"
req PUT "/api/v1/jobs/$P" -H "$UA" -d '{"name":"after"}'
jerr "rename (PUT name) on a full disk: 507" 507
eq "  unchanged" "$(cat "$SPOOL/$P.pending")" "$P_TEXT"
req GET "/api/v1/jobs/$C" -H "$UA"
eq "fetch a completed job on a full disk: 200, the job (not marked retrieved)" \
	"$CODE:$(printf '%s' "$BODY" | jq -r .status)" "200:completed"
eq "  still completed, as it was" "$(state "$C"):$(cat "$SPOOL/$C.completed")" "completed:$C_TEXT"
check "  the server says why" \
	grep -q "cannot mark $C retrieved: No space left on device" "$API_LOG"
R_TEXT=$(cat "$SPOOL/$R.wip")
req POST "/api/v1/workers/jobs/$R/log?token=$G&offset=0" -H "$WA" --data-binary 'out'
jerr "a worker's log upload on a full disk: 507" 507
check "  no log file left (not even an empty one)" test ! -e "$SPOOL/$R.log"
req POST "/api/v1/workers/jobs/$R/heartbeat" -H "$WA" -d "{\"token\":$G}"
eq "  its heartbeat needs no space: 200" "$CODE" 200
req POST "/api/v1/workers/jobs/$R/finish" -H "$WA" \
	-d "{\"token\":$G,\"job\":{\"status\":\"completed\",\"exit_code\":0}}"
jerr "  its finish: 507" 507
eq "  still running, as it was" "$(state "$R"):$(cat "$SPOOL/$R.wip")" "wip:$R_TEXT"
eq "nothing left in tmp/" "$(tmp_count)" 0
req DELETE "/api/v1/jobs/$D" -H "$UA"
eq "removing a final job needs no space: 204" "$CODE" 204
eq "  gone" "$(state "$D")" ""

rm -f "$FILLER"
req PUT "/api/v1/jobs/$P" -H "$UA" -d '{"name":"after"}'
eq "with space: rename 200" "$CODE:$(printf '%s' "$BODY" | jq -r .name)" "200:after"
req DELETE "/api/v1/jobs/$P" -H "$UA"
eq "  cancel 202" "$CODE:$(state "$P")" "202:cancelled"
req GET "/api/v1/jobs/$C" -H "$UA"
eq "  fetch 200, retrieved" "$CODE:$(state "$C")" "200:retrieved"
req POST "/api/v1/workers/jobs/$R/log?token=$G&offset=0" -H "$WA" --data-binary 'out'
eq "  the log upload 200" "$CODE:$(cat "$SPOOL/$R.log")" "200:out"
req POST "/api/v1/workers/jobs/$R/finish" -H "$WA" \
	-d "{\"token\":$G,\"job\":{\"status\":\"completed\",\"exit_code\":0}}"
eq "  the finish 200" "$CODE:$(state "$R")" "200:completed"
api_stop
finish
