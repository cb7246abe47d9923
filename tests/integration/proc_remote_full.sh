#!/bin/sh
# jobspool-processor in remote mode (--server, a real apiserver) whose work
# directory is full (a 1 MiB tmpfs, filled): a claimed job cannot be
# written there; the processor says so and hands it back to the server
# (the attempt given back), and claims again with backoff, not in a busy
# loop (at most a few claims in 3 s, not hundreds).  Once there is room
# the job runs: completed, attempt 1, its log on the server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

[ "$(id -u)" -eq 0 ] || skip_suite permission "not root (needs a tmpfs mount)"
new_spool
MNT=$(mktemp -d /tmp/jobspool-rfull.XXXXXX)
T_DIRS="$T_DIRS $MNT"
mount -t tmpfs -o size=1m tmpfs "$MNT" 2>/dev/null ||
	skip_suite permission "cannot mount a tmpfs here"
T_MOUNTS="${T_MOUNTS:-} $MNT"
RLOG="$MNT.log"
T_DIRS="$T_DIRS $RLOG"

check "apiserver starts" start_api --lease 12s --token w:wsecret:worker \
	--token u:usecret
"$JS_BIN/jobspool-processor" --spool "$MNT/work" --server "$URL" \
	--token wsecret --retry-max 2s --kill-grace 1s 2>"$RLOG" &
RPID=$!
T_PIDS="$T_PIDS $RPID"
check "remote processor claims" wait_until 20 grep -q 'remote mode: claiming from' "$RLOG"
dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null
eq "its work directory is full" "$(stat -f -c %a "$MNT")" 0

id=$(curl -s --max-time 20 -H 'Authorization: Bearer usecret' \
	-d '{"shell":"echo hi"}' "$URL/api/v1/jobs" | jq -r .id)
check "the claimed job cannot be written: said, handed back" wait_until 20 grep -q \
	"job $id: cannot write it into $MNT/work: No space left on device; handing it back" "$RLOG"
check "  the server is told (attempt given back)" wait_until 20 grep -q \
	"job $id: handed back to the server (attempt given back)" "$RLOG"
n0=$(grep -c "job $id: claimed from the server" "$RLOG")
sleep 3		# a window to count the claims in
n=$(( $(grep -c "job $id: claimed from the server" "$RLOG") - n0 ))
if [ "$n" -le 30 ]; then
	ok "  claims again with backoff ($n claims in 3s)"
else
	fail "  claims again with backoff (got $n claims in 3s: a busy loop)"
fi
check "  no job file is left in the work directory" \
	test -z "$(ls "$MNT/work" | grep -E '^[0-9a-f-]{36}\.')"

rm -f "$MNT/fill"
check "room again: the job ends" wait_final 30 "$id"
eq "  completed" "$(field "$id" .status)" completed
eq "  attempt 1 (the hand-backs gave theirs back)" "$(field "$id" .attempts)" 1
eq "  its log on the server" "$(cat "$SPOOL/$id.log")" hi

kill -TERM "$RPID"
wait "$RPID"
eq "the remote processor exits 0 on SIGTERM" "$?" 0
if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$RLOG"; then
	cat "$RLOG"
	fail "remote processor sanitizer report"
fi
api_stop
finish
