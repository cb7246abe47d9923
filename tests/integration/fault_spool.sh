#!/bin/sh
# Fault injection: a spool that becomes unusable under the programs.
#   - remounted read-only while the apiserver runs: POST and /healthz answer
#     503 with a JSON reason; the server stays up and recovers when the
#     spool is writable again;
#   - a spool on a read-only mount from the start (read-only bind mount):
#     the apiserver starts but answers 503; processor and cleaner exit 1
#     with a clear message;
#   - the spool directory removed, or renamed away, while the apiserver and
#     a processor run: /healthz 503 with a reason, requests get JSON errors,
#     neither program crashes.
# Needs root (mount); skipped otherwise.
. "$(dirname "$0")/lib.sh"

T_MOUNTS=""
cleanup() {
	for p in $T_PIDS; do kill -9 "$p" 2>/dev/null; done
	for p in $T_PIDS; do wait "$p" 2>/dev/null; done
	for m in $T_MOUNTS; do umount -l "$m" 2>/dev/null; done
	for d in $T_DIRS; do rm -rf "$d"; done
}

MNT=$(mktemp -d /tmp/jobspool-ro.XXXXXX)
T_DIRS="$T_DIRS $MNT"
if [ "$(id -u)" -ne 0 ] ||
    ! mount -t tmpfs -o size=8m,mode=0750 jobspool-test "$MNT" 2>/dev/null; then
	skip_suite permission "needs root and tmpfs mounts (not root, or mount -t tmpfs refused)"
fi
T_MOUNTS="$MNT"
WORK=$(mktemp -d /tmp/jobspool-work.XXXXXX)
T_DIRS="$T_DIRS $WORK"
alive() { kill -0 "$1" 2>/dev/null; }
# has_reason WORD: the last answer's JSON error mentions WORD
has_reason() {
	printf '%s' "$BODY" | jq -e --arg w "$1" \
	    '.error | ascii_downcase | contains($w)' >/dev/null 2>&1
}
jobs_in() { ls "$1" | grep -c -E '\.(pending|wip|completed|failed|cancelled)$'; }

# ---- 1. remounted read-only while running ----
SPOOL=$MNT
start_api || { fail "apiserver starts"; finish; }
req POST /api/v1/jobs -d '{"command":["true"]}'
eq "POST on a writable spool: 201" "$CODE" 201
mount -o remount,ro "$MNT"
check "spool remounted read-only" [ "$(touch "$MNT/x" 2>&1)" != "" ]
req GET /healthz
jerr "/healthz on a read-only spool: 503 JSON" 503
check "/healthz says read-only" has_reason read-only
req POST /api/v1/jobs -d '{"command":["true"]}'
jerr "POST on a read-only spool: 503 JSON" 503
req POST /api/v1/batches -d '{"jobs":[{"command":["true"]}]}'
jerr "batch POST on a read-only spool: 503 JSON" 503
req GET /api/v1/jobs
eq "listing still works on a read-only spool" "$CODE" 200
check "apiserver alive on a read-only spool" alive "$API_PID"
mount -o remount,rw "$MNT"
req GET /healthz
eq "/healthz once writable again: 200" "$CODE" 200
req POST /api/v1/jobs -d '{"command":["true"]}'
eq "POST once writable again: 201" "$CODE" 201
eq "two jobs in the spool" "$(jobs_in "$MNT")" 2
api_stop

# ---- 2. read-only from the start (read-only bind mount) ----
RO=$WORK/ro
mkdir "$RO"
if mount --bind -o ro "$MNT" "$RO" 2>/dev/null; then
	T_MOUNTS="$RO $T_MOUNTS"
	# older mount(8) ignores ro on --bind: remount the bind read-only
	touch "$RO/x" 2>/dev/null && mount -o remount,bind,ro "$RO"
	SPOOL=$RO
	start_api || fail "apiserver starts on a read-only spool"
	check "apiserver warns at start" grep -q 'read-only' "$API_LOG"
	req GET /healthz
	jerr "/healthz on a read-only mount: 503" 503
	check "/healthz says read-only" has_reason read-only
	req POST /api/v1/jobs -d '{"command":["true"]}'
	jerr "POST on a read-only mount: 503" 503
	req GET /api/v1/jobs
	eq "jobs on the read-only spool are listed" \
		"$(printf '%s' "$BODY" | jq '.jobs | length')" 2
	api_stop

	"$JS_BIN/jobspool-cleaner" --spool "$RO" >"$WORK/c.out" 2>"$WORK/c.err"
	eq "cleaner on a read-only spool exits 1" "$?" 1
	check "cleaner says why (read-only)" grep -q -i 'read-only' "$WORK/c.err"
	check "cleaner message starts with its name" \
		grep -E -q '^([0-9]{4}-[0-9:.TZ-]+ )?jobspool-cleaner: ' "$WORK/c.err"

	: >"$WORK/p.err"
	"$JS_BIN/jobspool-processor" --spool "$RO" 2>"$WORK/p.err" &
	pp=$!
	T_PIDS="$T_PIDS $pp"
	p_exited() { ! alive "$pp"; }
	if wait_until 10 p_exited; then
		wait "$pp"
		eq "processor on a read-only spool exits 1" "$?" 1
		check "processor says why (read-only)" \
			grep -q -i 'read-only' "$WORK/p.err"
	else
		kill -9 "$pp" 2>/dev/null
		wait "$pp" 2>/dev/null
		fail "processor on a read-only spool exits 1 (it kept running)"
	fi
	umount "$RO" && T_MOUNTS="$MNT"
else
	fail "read-only bind mount"
fi

# ---- 3. spool removed while the programs run ----
SPOOL=$MNT/spool
mkdir -m 0750 "$SPOOL"
start_api || { fail "apiserver starts"; finish; }
PLOG=$WORK/proc.log
"$JS_BIN/jobspool-processor" --spool "$SPOOL" -j 1 --user root \
	--scan-interval 250ms 2>"$PLOG" &
PROC_PID=$!
T_PIDS="$T_PIDS $PROC_PID"
req POST /api/v1/jobs -d '{"command":["true"]}'
J=$(printf '%s' "$BODY" | jq -r .id)
done_j() { [ -f "$SPOOL/$J.completed" ]; }
check "a job runs before the spool goes" wait_until 30 done_j
rm -rf "$SPOOL"
req GET /healthz
jerr "/healthz after the spool was removed: 503" 503
check "/healthz says removed" has_reason removed
req POST /api/v1/jobs -d '{"command":["true"]}'
jerr "POST after the spool was removed: a JSON error" 503
req GET "/api/v1/jobs/$J"
case $CODE in 404|503) ok "GET of a vanished job: $CODE" ;;
	*) fail "GET of a vanished job: 404 or 503 (got $CODE)" ;; esac
req GET /api/v1/jobs
check "listing a removed spool answers (got $CODE)" [ "$CODE" -ge 200 ]
check "apiserver alive after the spool was removed" alive "$API_PID"
# the processor notices at its next scans; it may stay up or exit 1, but
# must not crash
sleep 1
if alive "$PROC_PID"; then
	ok "processor still alive after the spool was removed"
else
	wait "$PROC_PID"
	eq "processor exits 1 when its spool is removed" "$?" 1
fi
check "no crash in the processor log" \
	[ -z "$(grep -E 'AddressSanitizer|runtime error' "$PLOG")" ]
kill -9 "$PROC_PID" 2>/dev/null
wait "$PROC_PID" 2>/dev/null
api_stop

# ---- 4. spool renamed away while the apiserver runs ----
mkdir -m 0750 "$SPOOL"
start_api || { fail "apiserver starts"; finish; }
req GET /healthz
eq "/healthz on a fresh spool: 200" "$CODE" 200
mv "$SPOOL" "$MNT/moved"
mkdir -m 0750 "$SPOOL"	# someone re-creates it: not the server's spool
req GET /healthz
jerr "/healthz after the spool was renamed away: 503" 503
check "/healthz says moved" has_reason moved
check "apiserver alive after the rename" alive "$API_PID"
rmdir "$SPOOL"
mv "$MNT/moved" "$SPOOL"
req GET /healthz
eq "/healthz once the spool is back: 200" "$CODE" 200
api_stop
finish
