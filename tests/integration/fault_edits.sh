#!/bin/sh
# Fault injection: changes of existing jobs on a full disk (the spool is a
# small tmpfs, a filler takes every free block).  Cancelling a pending job
# (DELETE, PUT status cancelled), renaming it (PUT) and fetching a final
# job (which marks it retrieved) need a new file: the first three are
# refused with a JSON error and leave the job and tmp/ as they were; the
# fetch answers the job, still completed, to be marked on a later fetch.
# Removing a final job needs no space and works.  Once space returns, the same requests
# succeed.  Needs root (mount -t tmpfs); skipped otherwise.
. "$(dirname "$0")/lib.sh"

T_MOUNTS=""
cleanup() {
	for p in $T_PIDS; do kill -9 "$p" 2>/dev/null; done
	for p in $T_PIDS; do wait "$p" 2>/dev/null; done
	for m in $T_MOUNTS; do umount -l "$m" 2>/dev/null; done
	for d in $T_DIRS; do rm -rf "$d"; done
}

MNT=$(mktemp -d /tmp/jobspool-edits.XXXXXX)
T_DIRS="$T_DIRS $MNT"
if [ "$(id -u)" -ne 0 ] ||
    ! mount -t tmpfs -o size=1m,mode=0750 jobspool-test "$MNT" 2>/dev/null; then
	skip_suite permission "needs root and tmpfs mounts (not root, or mount -t tmpfs refused)"
fi
T_MOUNTS="$MNT"
SPOOL=$MNT
FILLER=$SPOOL/filler
fill() {
	dd if=/dev/zero of="$FILLER" bs=4096 2>/dev/null
	sync
	[ "$(df -P "$SPOOL" | awk 'NR == 2 { print $4 }')" -eq 0 ]
}
tmp_count() { ls -A "$SPOOL/tmp" | grep -v '^health-' | wc -l; }
state() { (cd "$SPOOL" && ls "$1".* 2>/dev/null | sed 's/^[^.]*\.//'); }

check "apiserver starts on a 1 MiB tmpfs spool" start_api
req POST /api/v1/jobs -d '{"command":["true"],"name":"before"}'
P=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -d '{"command":["true"]}'
C=$(printf '%s' "$BODY" | jq -r .id)
jq '.status = "completed" | .exit_code = 0' "$SPOOL/$C.pending" >"$SPOOL/$C.completed"
rm "$SPOOL/$C.pending"
req POST /api/v1/jobs -d '{"command":["true"]}'
D=$(printf '%s' "$BODY" | jq -r .id)
jq '.status = "failed" | .exit_code = 1' "$SPOOL/$D.pending" >"$SPOOL/$D.failed"
rm "$SPOOL/$D.pending"
P_TEXT=$(cat "$SPOOL/$P.pending")
C_TEXT=$(cat "$SPOOL/$C.completed")

check "the filler takes every free block" fill
req DELETE "/api/v1/jobs/$P"
jerr "cancel (DELETE) a pending job on a full disk: 507" 507
eq "  still pending, as it was" "$(state "$P"):$(cat "$SPOOL/$P.pending")" "pending:$P_TEXT"
req PUT "/api/v1/jobs/$P" -d '{"status":"cancelled"}'
jerr "cancel (PUT status) on a full disk: 507" 507
eq "  still pending, as it was" "$(state "$P"):$(cat "$SPOOL/$P.pending")" "pending:$P_TEXT"
req PUT "/api/v1/jobs/$P" -d '{"name":"after"}'
jerr "rename (PUT name) on a full disk: 507" 507
eq "  unchanged" "$(cat "$SPOOL/$P.pending")" "$P_TEXT"
req GET "/api/v1/jobs/$C"
eq "fetch a completed job on a full disk: 200, the job (not marked retrieved)" \
	"$CODE:$(printf '%s' "$BODY" | jq -r .status)" "200:completed"
eq "  still completed, as it was" "$(state "$C"):$(cat "$SPOOL/$C.completed")" "completed:$C_TEXT"
check "  the server says why" \
	grep -q "cannot mark $C retrieved: No space left on device" "$API_LOG"
eq "nothing left in tmp/" "$(tmp_count)" 0
req DELETE "/api/v1/jobs/$D"
eq "removing a final job needs no space: 204" "$CODE" 204
eq "  gone" "$(state "$D")" ""

rm -f "$FILLER"
req PUT "/api/v1/jobs/$P" -d '{"name":"after"}'
eq "with space: rename 200" "$CODE:$(printf '%s' "$BODY" | jq -r .name)" "200:after"
req DELETE "/api/v1/jobs/$P"
eq "  cancel 202" "$CODE:$(state "$P")" "202:cancelled"
req GET "/api/v1/jobs/$C"
eq "  fetch 200, retrieved" "$CODE:$(state "$C")" "200:retrieved"
api_stop
finish
