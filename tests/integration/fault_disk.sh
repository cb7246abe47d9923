#!/bin/sh
# Fault injection: a full disk.  The spool is a small tmpfs; a filler file
# takes every free block.
#   - POST answers 507 with a JSON error, leaves no file in the spool or in
#     tmp/ (also for a large body that half fits), /healthz answers 503;
#   - when space returns (the filler is removed) POST answers 201 again;
#   - a processor that cannot write a job's result (or its start) keeps
#     the job as .wip (recovered after the lease) or .pending: the job is
#     not lost and completes once space returns.
# Needs root (mount -t tmpfs); skipped otherwise.
. "$(dirname "$0")/lib.sh"

T_MOUNTS=""
cleanup() {
	for p in $T_PIDS; do kill -9 "$p" 2>/dev/null; done
	for p in $T_PIDS; do wait "$p" 2>/dev/null; done
	for m in $T_MOUNTS; do umount -l "$m" 2>/dev/null; done
	for d in $T_DIRS; do [ -n "${KEEP:-}" ] || rm -rf "$d"; done
}

MNT=$(mktemp -d /tmp/jobspool-disk.XXXXXX)
T_DIRS="$T_DIRS $MNT"
if [ "$(id -u)" -ne 0 ] ||
    ! mount -t tmpfs -o size=2m,mode=0750 jobspool-test "$MNT" 2>/dev/null; then
	skip_suite permission "needs root and tmpfs mounts (not root, or mount -t tmpfs refused)"
fi
T_MOUNTS="$MNT"
SPOOL=$MNT
WORK=$(mktemp -d /tmp/jobspool-work.XXXXXX)
chmod 0755 "$WORK"
T_DIRS="$T_DIRS $WORK"
FILLER=$SPOOL/filler

# fill: the filler takes every free block of the tmpfs
fill() {
	dd if=/dev/zero of="$FILLER" bs=4096 2>/dev/null
	sync
	[ "$(df -P "$SPOOL" | awk 'NR == 2 { print $4 }')" -eq 0 ]
}
unfill() { rm -f "$FILLER"; }
# jobs_in_spool: number of job state files
jobs_in_spool() {
	ls "$SPOOL" | grep -c -E '\.(pending|wip|completed|failed|cancelled|retrieved)$'
}
tmp_count() { ls -A "$SPOOL/tmp" | grep -v '^health-' | wc -l; }

start_api || { fail "apiserver starts on the tmpfs spool"; finish; }
ok "apiserver starts on a 2 MiB tmpfs spool"

req POST /api/v1/jobs -d '{"command":["true"]}'
eq "POST with space: 201" "$CODE" 201
base=$(jobs_in_spool)

# ---- full disk: 507, nothing left behind ----
check "the filler takes every free block" fill
req POST /api/v1/jobs -d '{"command":["true"],"name":"full"}'
jerr "POST on a full disk: 507 with a JSON error" 507
eq "no job file appeared" "$(jobs_in_spool)" "$base"
eq "no partial file left in tmp/" "$(tmp_count)" 0

req POST /api/v1/batches -d '{"jobs":[{"command":["true"]},{"shell":"true"}]}'
jerr "batch POST on a full disk: 507" 507
eq "no job of the batch appeared" "$(jobs_in_spool)" "$base"
eq "no partial batch file left in tmp/" "$(tmp_count)" 0

req GET /healthz
jerr "/healthz on a full disk: 503 with a reason" 503
case "$BODY" in *space*) ok "/healthz names the full disk" ;;
	*) fail "/healthz names the full disk (got $BODY)" ;; esac

# a large body that half fits: 64 KiB free, a 400 KiB job
truncate -s -64K "$FILLER"
big=$(head -c 400000 /dev/zero | tr '\0' 'x')
printf '{"command":["true"],"stdin":"%s"}' "$big" >"$WORK/big.json"
req POST /api/v1/jobs -H 'Content-Type: application/json' \
	--data-binary @"$WORK/big.json"
jerr "POST of a body larger than the free space: 507" 507
eq "no job file from the half-written body" "$(jobs_in_spool)" "$base"
eq "the half-written temporary file was removed" "$(tmp_count)" 0
req POST /api/v1/jobs -d '{"command":["true"],"name":"small"}'
eq "a small job still fits in the 64 KiB left: 201" "$CODE" 201
base=$(jobs_in_spool)

kill -0 "$API_PID" 2>/dev/null
check "apiserver still alive after ENOSPC" [ $? -eq 0 ]

# ---- space returns ----
unfill
req POST /api/v1/jobs -d '{"command":["true"],"name":"after"}'
eq "POST after space returns: 201" "$CODE" 201
jq_eq "the stored job is pending" .status pending
req GET /healthz
eq "/healthz after space returns: 200" "$CODE" 200
base=$(jobs_in_spool)

# ---- processor cannot write a result ----
# drain what is pending first, so that only our job is in play
PLOG=$WORK/proc.log
"$JS_BIN/jobspool-processor" --spool "$SPOOL" -j 1 --lease 2s \
	--scan-interval 250ms 2>>"$PLOG" &
PROC_PID=$!
T_PIDS="$T_PIDS $PROC_PID"
no_active() { ! ls "$SPOOL" | grep -q -E '\.(pending|wip)$'; }
check "processor drains the earlier jobs" wait_until 60 no_active

req POST /api/v1/jobs -d "{\"command\":[\"/bin/sh\",\"-c\",\"while [ ! -e $WORK/go ]; do sleep 0.05; done; echo ran || true\"]}"
eq "job A submitted" "$CODE" 201
A=$(printf '%s' "$BODY" | jq -r .id)
running() { jq -e '.pid > 0' "$SPOOL/$A.wip" >/dev/null 2>&1; }
check "job A runs (its .wip records a pid)" wait_until 60 running
check "the disk is full again" fill
touch "$WORK/go"
cant_finish() { grep -q "job $A: cannot record its result" "$PLOG"; }
check "processor reports it cannot record the result" wait_until 60 cant_finish
check "job A is still .wip (not lost, not final)" [ -f "$SPOOL/$A.wip" ]
valid_wip() { jq -e . "$SPOOL/$A.wip" >/dev/null; }
check "its .wip is valid JSON" valid_wip
# the lease (2 s) expires while the disk is full: recovery cannot write
# either, and the job must still be there, in exactly one state
rec_fails() { grep -c "lease recovery failed" "$PLOG"; }
recovery_failed() { [ "$(rec_fails)" -gt "$R0" ]; }
R0=0
check "lease recovery on a full disk fails (and says so)" \
	wait_until 60 recovery_failed
n=$(ls "$SPOOL" | grep -c -E "^$A\.(pending|wip|completed|failed|cancelled)$")
eq "after the lease expired on a full disk, A has exactly one state file" "$n" 1
kill -0 "$PROC_PID" 2>/dev/null
check "processor still alive on a full disk" [ $? -eq 0 ]
eq "no leftover in tmp/ after failed writes" "$(tmp_count)" 0

unfill
a_done() { [ -f "$SPOOL/$A.completed" ]; }
check "job A completes once space returns" wait_until 60 a_done
a_att=$(jq -r .attempts "$SPOOL/$A.completed" 2>/dev/null)
check "A's rerun is counted in attempts (got $a_att)" [ "${a_att:-0}" -ge 2 ]
eq "A has exactly one state file" \
	"$(ls "$SPOOL" | grep -c -E "^$A\.(pending|wip|completed|failed|cancelled)$")" 1
check "A's log holds the rerun's output" grep -q '^ran$' "$SPOOL/$A.log"

# ---- processor cannot record a start: pending job claimed on a full disk ----
kill -TERM "$PROC_PID"
wait "$PROC_PID"
eq "processor exits 0 on SIGTERM" "$?" 0
req POST /api/v1/jobs -d '{"command":["/bin/echo","b"]}'
eq "job B submitted" "$CODE" 201
B=$(printf '%s' "$BODY" | jq -r .id)
check "the disk is full again" fill
R0=$(rec_fails)
"$JS_BIN/jobspool-processor" --spool "$SPOOL" -j 1 --lease 2s \
	--scan-interval 250ms 2>>"$PLOG" &
PROC_PID=$!
T_PIDS="$T_PIDS $PROC_PID"
cant_start() { grep -q "job $B: cannot record its start" "$PLOG"; }
check "processor reports it cannot record the start" wait_until 60 cant_start
check "lease recovery of B on a full disk fails" wait_until 60 recovery_failed
n=$(ls "$SPOOL" | grep -c -E "^$B\.(pending|wip)$")
eq "B is still pending or claimed, not lost" "$n" 1
eq "B is not final on a full disk" \
	"$(ls "$SPOOL" | grep -c -E "^$B\.(completed|failed|cancelled)$")" 0
unfill
b_done() { [ -f "$SPOOL/$B.completed" ]; }
check "job B completes once space returns" wait_until 60 b_done
eq "B's output" "$(cat "$SPOOL/$B.log" 2>/dev/null)" b

kill -TERM "$PROC_PID"
wait "$PROC_PID"
eq "processor exits 0 on SIGTERM" "$?" 0
if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$PLOG"; then
	cat "$PLOG"
	fail "processor sanitizer report"
fi
api_stop
finish
