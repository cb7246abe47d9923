#!/bin/sh
# jobspool-apiserver: the error answers of the routes that only a damaged or
# failing spool provokes (issue 15: every error answer sent at least once;
# make coverage lists the ones never sent).  Each answer must be the right
# status with a JSON {"error": "..."} naming the cause, leave the spool as
# it was (every file's name and content, idem/ and tmp/ included), and
# leave the server running.
#   1. damaged by hand: an Idempotency-Key record that is another key's
#      (409), idem/ that is not a directory (503), a job's log that is a
#      symlink or a directory (500, never followed), a hand-written job
#      whose delay is no duration (a PUT is 400 and changes nothing), a
#      re-run of a hand-written final job whose specification is not valid
#      (409) and one while the spool is renamed away (503);
#   2. a spool remounted read-only (root, tmpfs): PUT, DELETE, re-run,
#      worker claim (not 204 "no job": the pending job is there), heartbeat,
#      log upload and finish answer 503 "not writable";
#   3. a full disk (root, tmpfs): PUT, worker log upload and finish answer
#      507; the worker's job is still running, and finishes once space
#      returns.
# Also: paused.d/ or processors/ a file (GET /api/v1/pause, .../processors
# 500, not "nothing"), minting with no --jwt-secret-file (409), a jti too
# long to revoke (400); read-only: pause, pause of a label and revocation
# 503; full: pause of a label 507.
. "$(dirname "$0")/lib.sh"

T_MOUNTS=""
cleanup() {
	for p in $T_PIDS; do kill -9 "$p" 2>/dev/null; done
	for p in $T_PIDS; do wait "$p" 2>/dev/null; done
	for m in $T_MOUNTS; do umount -l "$m" 2>/dev/null; done
	for d in $T_DIRS; do rm -rf "$d"; done
}

UA="Authorization: Bearer us3r"
WA="Authorization: Bearer w0rker"
alive() { check "server alive after $1" kill -0 "$API_PID"; }
# refused DESC STATUS WORD: the last answer was STATUS with a JSON error
# containing WORD, and the spool is as $BEFORE
refused() {
	jerr "$1: $2 JSON" "$2"
	case $(printf '%s' "$BODY" | jq -r .error 2>/dev/null) in
	*"$3"*) ok "$1: the error says '$3'" ;;
	*) fail "$1: the error does not say '$3' ($BODY)" ;;
	esac
	s_now=$(spool_hashes)
	if [ "$s_now" = "$BEFORE" ]; then
		ok "$1: spool unchanged"
	else
		fail "$1: spool changed:
$(printf '%s\n' "$BEFORE" >"$SPOOL.b"; printf '%s\n' "$s_now" |
	diff "$SPOOL.b" - ; rm -f "$SPOOL.b")"
	fi
}
submit() {	# JSON -> $ID
	req POST /api/v1/jobs -H "$UA" "$@"
	ID=$(printf '%s' "$BODY" | jq -r .id)
}
claim() {	# -> $ID $G
	req POST /api/v1/workers/claim -H "$WA" -d '{"wait":0}'
	ID=$(printf '%s' "$BODY" | jq -r '.job.id // empty')
	G=$(printf '%s' "$BODY" | jq -r '.lease.token // empty')
}
AA="Authorization: Bearer adm1n"
TOKENS="--token u:us3r --token w:w0rker:worker --token a:adm1n:admin"

# ---- 1. damaged by hand ----
new_spool
mkdir -m 0770 "$SPOOL/tmp"
check "server starts" start_api $TOKENS
submit -H 'Idempotency-Key: k1' -d '{"shell":"echo one"}'
eq "a job with an Idempotency-Key: 201" "$CODE" 201
J1=$ID
REC=$(ls "$SPOOL/idem")
check "its record is idem/<32 hex digits>" \
	sh -c "echo '$REC' | grep -qx '[0-9a-f]\{32\}'"
# the record under this key's name says another owner: a hash collision
sed -i '2s/.*/mallory/' "$SPOOL/idem/$REC"
BEFORE=$(spool_hashes)
submit -H 'Idempotency-Key: k1' -d '{"shell":"echo one"}'
refused "a key whose record is another owner's" 409 "pick another"
# idem/ is a file: no record can be written, and no job is made without one
rm -r "$SPOOL/idem"
: >"$SPOOL/idem"
BEFORE=$(spool_hashes)
submit -H 'Idempotency-Key: k2' -d '{"shell":"echo two"}'
refused "idem/ not a directory" 503 "Idempotency-Key"
rm "$SPOOL/idem"
submit -H 'Idempotency-Key: k2' -d '{"shell":"echo two"}'
eq "with idem/ removed the key works again: 201" "$CODE" 201
# the log a symlink: never followed
ln -s /etc/passwd "$SPOOL/$J1.log"
BEFORE=$(spool_hashes)
req GET "/api/v1/jobs/$J1/log" -H "$UA"
refused "a log that is a symlink" 500 "cannot open the log"
case $BODY in *root:*) fail "the symlink was followed" ;;
	*) ok "the symlink's target is not sent" ;; esac
rm "$SPOOL/$J1.log"
mkdir "$SPOOL/$J1.log"
BEFORE=$(spool_hashes)
req GET "/api/v1/jobs/$J1/log?tail=5" -H "$UA"
refused "a log that is a directory" 500 "cannot open the log"
rmdir "$SPOOL/$J1.log"
req GET "/api/v1/jobs/$J1/log" -H "$UA"
eq "no log file: the empty log, 200" "$CODE:$BODY" "200:"
# a hand-written pending job whose delay is no duration: a PUT cannot
# apply (the start time would count from the write), so it changes nothing
read -r JD </proc/sys/kernel/random/uuid
printf '{"shell":"true","owner":"u","delay":"soon"}\n' >"$SPOOL/tmp/$JD"
mv "$SPOOL/tmp/$JD" "$SPOOL/$JD.pending"
BEFORE=$(spool_hashes)
req PUT "/api/v1/jobs/$JD" -H "$UA" -d '{"name":"renamed"}'
refused "PUT of a hand-written job with a bad delay" 400 "delay must be"
# re-run (POST /api/v1/jobs/{id}/rerun) of a hand-written completed job
# that names nothing to run: it cannot be re-run, and nothing is written
read -r JR </proc/sys/kernel/random/uuid
printf '{"owner":"u","status":"completed","exit_code":0}\n' >"$SPOOL/tmp/$JR"
mv "$SPOOL/tmp/$JR" "$SPOOL/$JR.completed"
BEFORE=$(spool_hashes)
req POST "/api/v1/jobs/$JR/rerun" -H "$UA"
refused "re-run of a final job with no valid specification" 409 \
	"cannot be re-run"
# the spool renamed away under the server: the job is still read (the
# server holds the directory open) but no new job may be stored there
read -r JV </proc/sys/kernel/random/uuid
printf '{"shell":"true","owner":"u","status":"completed","exit_code":0}\n' \
	>"$SPOOL/tmp/$JV"
mv "$SPOOL/tmp/$JV" "$SPOOL/$JV.completed"
BEFORE=$(spool_hashes)
mv "$SPOOL" "$SPOOL.away"
req POST "/api/v1/jobs/$JV/rerun" -H "$UA"
mv "$SPOOL.away" "$SPOOL"
refused "re-run while the spool is renamed away" 503 "not usable"
# what is paused, and the processor registry, damaged: a file where
# their directory belongs is an error answer, never "nothing paused" or
# "no processor"
for d in "paused.d pause what is paused" \
    "processors processors the processor registry"; do
	set -- $d
	f=$1 route=$2; shift 2
	: >"$SPOOL/$f"
	BEFORE=$(spool_hashes)
	req GET "/api/v1/$route" -H "$AA"
	refused "$f/ not a directory: GET /api/v1/$route" 500 "cannot read $*"
	rm "$SPOOL/$f"
done
# tokens on a server started without --jwt-secret-file: none is minted;
# a revocation needs a jti the token format can hold
BEFORE=$(spool_hashes)
req POST /api/v1/tokens -H "$AA" -d '{"sub":"bob","role":"user"}'
refused "no --jwt-secret-file: minting a token" 409 "mints no tokens"
req DELETE "/api/v1/tokens/$(printf '%0129d' 0)" -H "$AA"
refused "revoking a jti of 129 characters" 400 "bad token id"
check "nothing under revoked/" test ! -e "$SPOOL/revoked"
alive "the damaged files"
api_stop

# ---- 2. and 3. need a file system of their own ----
MNT=$(mktemp -d /tmp/jobspool-errors.XXXXXX)
T_DIRS="$T_DIRS $MNT"
if [ "$(id -u)" -ne 0 ] ||
    ! mount -t tmpfs -o size=2m,mode=0750 jobspool-test "$MNT" 2>/dev/null; then
	skip permission "needs root and tmpfs mounts" \
		"read-only and full spool cases"
	finish
fi
T_MOUNTS="$MNT"
SPOOL=$MNT
mkdir -m 0770 "$SPOOL/tmp"
check "server starts on a tmpfs spool" start_api $TOKENS
submit -d '{"shell":"echo running"}'
claim
JW=$ID GW=$G
check "the worker claims a job" test -n "$JW" -a -n "$GW"
submit -d '{"shell":"echo done"}'
claim
JC=$ID
req POST "/api/v1/workers/jobs/$JC/finish" -H "$WA" \
	-d "{\"token\":$G,\"job\":{\"status\":\"completed\",\"exit_code\":0}}"
eq "a job finished by the worker: 200" "$CODE" 200
submit -d '{"shell":"echo pending"}'
JP=$ID
check "one pending, one running, one completed job" \
	test -f "$SPOOL/$JP.pending" -a -f "$SPOOL/$JW.wip" -a \
	-f "$SPOOL/$JC.completed"
FIN="{\"token\":$GW,\"job\":{\"status\":\"completed\",\"exit_code\":0}}"

# ---- 2. read-only ----
mount -o remount,ro "$MNT"
if touch "$MNT/x" 2>/dev/null; then
	fail "the spool could not be remounted read-only"
else
	BEFORE=$(spool_hashes)
	req PUT "/api/v1/jobs/$JP" -H "$UA" -d '{"name":"renamed"}'
	refused "read-only: PUT of a pending job" 503 "not writable"
	req DELETE "/api/v1/jobs/$JP" -H "$UA"
	refused "read-only: DELETE of a pending job" 503 "not writable"
	req DELETE "/api/v1/jobs/$JC" -H "$UA"
	refused "read-only: DELETE of a completed job" 503 "not writable"
	req POST "/api/v1/jobs/$JC/rerun" -H "$UA"
	refused "read-only: re-run of a completed job" 503 "not writable"
	req POST /api/v1/workers/claim -H "$WA" -d '{"wait":0}'
	refused "read-only: worker claim with a job pending" 503 \
		"not writable"
	req POST "/api/v1/workers/jobs/$JW/heartbeat" -H "$WA" \
		-d "{\"token\":$GW}"
	refused "read-only: worker heartbeat" 503 "not writable"
	req POST "/api/v1/workers/jobs/$JW/log?token=$GW&offset=0" -H "$WA" \
		--data-binary "some output"
	refused "read-only: worker log upload" 503 "not writable"
	req POST "/api/v1/workers/jobs/$JW/finish" -H "$WA" -d "$FIN"
	refused "read-only: worker finish" 503 "not writable"
	req PUT /api/v1/pause -H "$AA"
	refused "read-only: pausing the spool" 503 "not writable"
	req PUT /api/v1/pause/gpu -H "$AA"
	refused "read-only: pausing a label" 503 "not writable"
	req DELETE /api/v1/tokens/some-jti -H "$AA"
	refused "read-only: revoking a token" 503 "not writable"
	alive "a read-only spool"
fi
mount -o remount,rw "$MNT"

# ---- 3. full ----
dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null
check "the spool's disk is full" sh -c "! echo x 2>/dev/null >'$MNT/probe'"
rm -f "$MNT/probe"
BEFORE=$(spool_hashes)
req PUT "/api/v1/jobs/$JP" -H "$UA" -d '{"name":"renamed"}'
refused "full disk: PUT of a pending job" 507 "disk is full"
req POST "/api/v1/workers/jobs/$JW/log?token=$GW&offset=0" -H "$WA" \
	--data-binary "$(head -c 20000 /dev/zero | tr '\0' x)"
jerr "full disk: worker log upload: 507 JSON" 507
req POST "/api/v1/workers/jobs/$JW/finish" -H "$WA" -d "$FIN"
jerr "full disk: worker finish: 507 JSON" 507
BEFORE=$(spool_hashes)
req PUT /api/v1/pause/gpu -H "$AA"
refused "full disk: pausing a label" 507 "disk is full"
check "the worker's job is still running" test -f "$SPOOL/$JW.wip"
alive "a full disk"
rm -f "$MNT/filler"
req POST "/api/v1/workers/jobs/$JW/heartbeat" -H "$WA" -d "{\"token\":$GW}"
eq "space back: the lease still holds (heartbeat 200)" "$CODE" 200
req POST "/api/v1/workers/jobs/$JW/finish" -H "$WA" -d "$FIN"
eq "space back: the worker's finish is 200" "$CODE" 200
check "and the job is completed" test -f "$SPOOL/$JW.completed"
req PUT "/api/v1/jobs/$JP" -H "$UA" -d '{"name":"renamed"}'
jq_eq "space back: PUT renames the pending job" .name renamed
check "tmp/ is empty" [ -z "$(ls "$SPOOL/tmp")" ]
api_stop
finish
