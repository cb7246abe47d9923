#!/bin/sh
# jobspool-cleaner: the failures of a whole run (issue 15, coverage of
# cleaner/main.c and the pass's error returns): a summary that cannot be
# written (/dev/full), --syslog (logging to syslog, not stderr), a spool whose
# idem/ is not a directory (logged, exit 1, the jobs still cleaned), a read-only spool (as root: a read-only bind
# mount), each with its exit status and message, the spool unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cleaner.inc"

new_spool
mkjob completed "8 days ago"; E=$ID
mkjob completed "1 hour ago"; K=$ID

# ---- standard output that cannot be written ----
"$JS_BIN/jobspool-cleaner" --spool "$SPOOL" --dry-run >/dev/full 2>"$SPOOL.err"
RC=$?
T_DIRS="$T_DIRS $SPOOL.err"
eq "summary to /dev/full: exit 1" "$RC" 1
check "  says it cannot write" grep -q 'cannot write to standard output' "$SPOOL.err"
check "  a dry run removed nothing" present "$E.completed"

# ---- --syslog: the summary is also logged ----
# (to syslog(3), not stderr; no syslog daemon is needed)
cleaner --dry-run --syslog --log-level info
eq "--syslog: exit 0" "$RC" 0
case $OUT in
*"jobspool-cleaner: would remove 0 retrieved, 1 expired"*)
	ok "--syslog: the summary still on stdout" ;;
*) fail "--syslog: the summary still on stdout (stdout: $OUT)" ;;
esac
eq "  and nothing on stderr" "$ERR" ""

# ---- idem/ that is not a directory: logged, the jobs still cleaned ----
echo planted >"$SPOOL/idem"
cleaner
eq "idem/ is a file: exit 1" "$RC" 1
case $ERR in
*"cannot clean $SPOOL/idem: Not a directory"*) ok "  the error names idem/" ;;
*) fail "  the error names idem/ (stderr: $ERR)" ;;
esac
case $OUT in
*"removed 0 retrieved, 1 expired"*"errors: see above"*)
	ok "  the summary is printed, with the error" ;;
*) fail "  the summary is printed, with the error (stdout: $OUT)" ;;
esac
check "  the expired job is still removed" gone "$E.completed"
check "  the recent job is kept" present "$K.completed"
check "  idem is left as it was" grep -qx planted "$SPOOL/idem"
rm "$SPOOL/idem"
mkjob completed "8 days ago"; E=$ID	# an old job again, for the cases below

# ---- a read-only spool ----
if [ "$(id -u)" -eq 0 ] && mount --bind "$SPOOL" "$SPOOL" 2>/dev/null; then
	if mount -o remount,bind,ro "$SPOOL" 2>/dev/null; then
		cleaner
		cleaner_rc=$RC cleaner_err=$ERR
		umount "$SPOOL"
		eq "read-only spool: exit 1" "$cleaner_rc" 1
		case $cleaner_err in
		*"cannot lock $SPOOL/cleaner.lock: Read-only file system"*)
			ok "  says it cannot take its lock: read-only" ;;
		*) fail "  says it cannot take its lock: read-only (stderr: $cleaner_err)" ;;
		esac
		check "  the old job is still there" present "$E.completed"
	else
		umount "$SPOOL"
		skip permission "cannot remount read-only" "read-only spool"
	fi
else
	skip permission "not root or mount not permitted" "read-only spool"
fi

# ---- and then a clean run does it all ----
cleaner
eq "a writable spool again: exit 0" "$RC" 0
check "  the old job removed" gone "$E.completed"
check "  the young one kept" present "$K.completed"
finish
