#!/bin/sh
# Security: symlinks, special files and permissions inside the spool.
#   - a .pending that is a symlink (to /etc/passwd, to another job) is never
#     followed: it is not run, its target is neither read into a job nor
#     changed, the job it points to runs exactly once;
#   - a .pending that is a FIFO or a directory does not hang or crash the
#     processor;
#   - a <id>.log planted as a symlink or a FIFO is not followed or opened by
#     the processor (the job fails, the target is untouched) nor served by
#     the apiserver;
#   - tmp/ as a symlink, a world-writable spool or tmp/: all three programs
#     refuse to start (exit 1, clear message);
#   - files are created 0660 (jobs) and 0640 (logs), whatever the umask;
#   - ids such as ../canary are rejected (404) without touching a path
#     outside the spool (a planted ../canary.completed stays as it is).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

proc_setup
VICTIM=$WORK/victim
printf 'precious\n' >"$VICTIM"
chmod 0666 "$VICTIM"
PASSWD_SUM=$(cksum </etc/passwd)
alive() { kill -0 "$1" 2>/dev/null; }
newid() { cat /proc/sys/kernel/random/uuid; }
states_of() { ls -A "$SPOOL" | grep -c -E "^$1\.(pending|wip|completed|failed|cancelled|retrieved)$"; }

# ---- planted before the processor starts ----
S1=$(newid)
ln -s /etc/passwd "$SPOOL/$S1.pending"
B=$(submit '{"command":["/bin/sh","-c","echo ran >> '"$WORK"'/b.runs"]}')
S2=$(newid)
ln -s "$B.pending" "$SPOOL/$S2.pending"	# a symlink to another job
F1=$(newid)
mkfifo "$SPOOL/$F1.pending"
D1=$(newid)
mkdir "$SPOOL/$D1.pending"
# a job whose log was planted as a symlink to a victim file
L1=$(newid)
ln -s "$VICTIM" "$SPOOL/$L1.log"
printf '{"command":["/bin/echo","overwritten"]}\n' >"$SPOOL/tmp/$L1"
mv "$SPOOL/tmp/$L1" "$SPOOL/$L1.pending"
# a job whose log was planted as a FIFO (opening it for writing would block)
L2=$(newid)
mkfifo "$SPOOL/$L2.log"
printf '{"command":["/bin/echo","x"]}\n' >"$SPOOL/tmp/$L2"
mv "$SPOOL/tmp/$L2" "$SPOOL/$L2.pending"
OK1=$(submit '{"command":["/bin/echo","fine"]}')

umask 077	# files must still be 0660/0640 (group-readable)
start_proc -j 2 --scan-interval 250ms
umask 022
P=$PROC_PID
check "the ordinary job completes beside the traps" wait_final 60 "$OK1" "$B"
check "processor alive after the traps" alive "$P"
eq "the job behind a symlinked .pending ran exactly once" \
	"$(cat "$WORK/b.runs" 2>/dev/null)" ran
eq "its state: completed" "$(field "$B" .status)" completed

for s in "$S1" "$S2"; do
	if [ -L "$SPOOL/$s.pending" ]; then
		ok "symlinked .pending $s left alone"
	elif [ -f "$SPOOL/$s.failed" ] && [ ! -L "$SPOOL/$s.failed" ]; then
		ok "symlinked .pending $s became a regular .failed"
		has_error() { jq -e ".error | length > 0" "$1" >/dev/null 2>&1; }
		check "its error says why" has_error "$SPOOL/$s.failed"
		eq "the target's content was not copied into the job" \
			"$(grep -c 'root:' "$SPOOL/$s.failed")" 0
	else
		fail "symlinked .pending $s: left alone or failed ($(ls -l "$SPOOL" | grep "$s"))"
	fi
	eq "no run, no log for the symlinked job $s" \
		"$(ls "$SPOOL" | grep -c -E "^$s\.(completed|log)$")" 0
done
eq "/etc/passwd unchanged" "$(cksum </etc/passwd)" "$PASSWD_SUM"
eq "the other job's file is not a symlink" \
	"$(find "$SPOOL" -maxdepth 1 -name "$B.*" -type l | wc -l)" 0

for s in "$F1" "$D1"; do
	n=$(ls -A "$SPOOL" | grep -c -E "^$s\.(completed|log)$")
	eq "special-file .pending $s was not run" "$n" 0
	settled() { [ -f "$SPOOL/$1.failed" ] && [ ! -e "$SPOOL/$1.wip" ] &&
		[ ! -e "$SPOOL/$1.pending" ]; }
	check "special-file .pending $s became .failed, nothing left" \
		wait_until 30 settled "$s"
done

# log symlink: the job must not write through it
gone_pending() { [ ! -e "$SPOOL/$1.pending" ] && [ ! -e "$SPOOL/$1.wip" ]; }
check "job with a symlinked log is settled" wait_until 30 gone_pending "$L1"
eq "the victim behind a symlinked log is untouched" "$(cat "$VICTIM")" precious
eq "the job with a symlinked log did not complete" \
	"$(ls "$SPOOL" | grep -c "^$L1\.completed$")" 0
check "job with a FIFO log is settled (no hang)" wait_until 30 gone_pending "$L2"
check "processor alive after the FIFO log" alive "$P"
OK2=$(submit '{"command":["/bin/echo","after"]}')
check "processor still runs jobs afterwards" wait_final 30 "$OK2"

# modes
m() { stat -c %a "$1" 2>/dev/null; }
eq "a final job file is 0660 (umask 077 at start)" "$(m "$(final "$OK1")")" 660
eq "a log is 0640 (umask 077 at start)" "$(m "$SPOOL/$OK1.log")" 640
# a processor stuck in an open(2) would ignore SIGTERM: bound the wait
kill -TERM "$P"
p_gone() { ! alive "$P"; }
if wait_until 30 p_gone; then wait "$P"; eq "processor exits 0 on SIGTERM" "$?" 0
else fail "processor exits on SIGTERM (stuck)"; kill -9 "$P"; fi
proc_check_logs

# ---- the apiserver never serves through a symlink ----
start_api || { fail "apiserver starts"; finish; }
req POST /api/v1/jobs -d '{"command":["true"]}'
A=$(printf '%s' "$BODY" | jq -r .id)
eq "a .pending written by the apiserver is 0660" "$(m "$SPOOL/$A.pending")" 660
req GET "/api/v1/jobs/$S1?peek=1"
check "GET of a symlinked job does not serve /etc/passwd ($CODE)" \
	[ "$(printf '%s' "$BODY" | grep -c 'root:')" -eq 0 ]
# a completed job whose log is a symlink to /etc/passwd
mv "$SPOOL/$OK2.log" "$WORK/ok2.log"
ln -s /etc/passwd "$SPOOL/$OK2.log"
req GET "/api/v1/jobs/$OK2/log"
check "a symlinked log is not served (got $CODE)" \
	[ "$(printf '%s' "$BODY" | grep -c 'root:')" -eq 0 ]
check "a symlinked log answers an error" [ "$CODE" -ge 400 ]
req GET "/api/v1/jobs/$OK2/log?follow=1" --max-time 5
check "a symlinked log is not followed (got $CODE)" \
	[ "$(printf '%s' "$BODY" | grep -c 'root:')" -eq 0 ]

# ---- ids that are paths ----
PARENT=$(dirname "$SPOOL")
CANARY=canary$$
printf '{"id":"x","status":"completed","command":["true"]}\n' \
	>"$PARENT/$CANARY.completed"
T_DIRS="$T_DIRS $PARENT/$CANARY.completed $PARENT/$CANARY.retrieved"
before=$(spool_snapshot)
for p in "..%2F$CANARY" "..%2f..%2fetc%2fpasswd" "../$CANARY" \
    "%2e%2e%2F$CANARY" "..%252F$CANARY" "$CANARY" "%2Fetc%2Fpasswd"; do
	for m in GET PUT DELETE; do
		if [ "$m" = PUT ]; then
			req PUT "/api/v1/jobs/$p" --path-as-is -d '{"name":"x"}'
		else
			req "$m" "/api/v1/jobs/$p" --path-as-is
		fi
		case $CODE in 400|404|405) ok "$m /api/v1/jobs/$p: $CODE" ;;
			*) fail "$m /api/v1/jobs/$p: 400/404 (got $CODE $BODY)" ;; esac
	done
	req GET "/api/v1/jobs/$p/log" --path-as-is
	case $CODE in 400|404) ok "GET .../$p/log: $CODE" ;;
		*) fail "GET .../$p/log: 400/404 (got $CODE)" ;; esac
	req GET "/api/v1/job/$p" --path-as-is
	case $CODE in 400|404) ok "GET /api/v1/job/$p: $CODE" ;;
		*) fail "GET /api/v1/job/$p: 400/404 (got $CODE)" ;; esac
done
eq "no answer leaked /etc/passwd" "$(grep -c 'root:' "$RESP_FILE")" 0
canary_ok() { [ -f "$PARENT/$CANARY.completed" ] && [ ! -e "$PARENT/$CANARY.retrieved" ]; }
check "the canary outside the spool is untouched" canary_ok
eq "the spool is unchanged by path ids" "$(spool_snapshot)" "$before"
api_stop

# ---- refused spools: tmp/ symlink, world-writable spool or tmp/ ----
# refuse_all WHAT WORD: each program exits 1 naming the problem
refuse_all() {
	"$JS_BIN/jobspool-cleaner" --spool "$SPOOL" >/dev/null 2>"$WORK/err"
	r=$?
	eq "cleaner refuses $1 (exit 1)" "$r" 1
	check "cleaner says why ($1)" grep -q -i "$2" "$WORK/err"
	timeout 20 "$JS_BIN/jobspool-processor" --spool "$SPOOL" 2>"$WORK/err"
	eq "processor refuses $1 (exit 1)" "$?" 1
	check "processor says why ($1)" grep -q -i "$2" "$WORK/err"
	timeout 20 "$JS_BIN/jobspool-apiserver" --spool "$SPOOL" \
		--listen 127.0.0.1:0 2>"$WORK/err"
	eq "apiserver refuses $1 (exit 1)" "$?" 1
	check "apiserver says why ($1)" grep -q -i "$2" "$WORK/err"
}
mv "$SPOOL/tmp" "$WORK/realtmp"
ln -s "$WORK/realtmp" "$SPOOL/tmp"
refuse_all "a tmp/ that is a symlink" symlink
eq "nothing was written through the tmp/ symlink" "$(ls -A "$WORK/realtmp")" ""
rm "$SPOOL/tmp"
mv "$WORK/realtmp" "$SPOOL/tmp"
chmod 0777 "$SPOOL"
refuse_all "a world-writable spool" "writable by other"
chmod 1777 "$SPOOL"
refuse_all "a world-writable sticky spool" "writable by other"
chmod 0750 "$SPOOL"
chmod 0777 "$SPOOL/tmp"
refuse_all "a world-writable tmp/" "writable by other"
chmod 0770 "$SPOOL/tmp"
"$JS_BIN/jobspool-cleaner" --spool "$SPOOL" >/dev/null 2>&1
eq "the repaired spool is accepted" "$?" 0
finish
