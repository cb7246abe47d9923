#!/bin/sh
# jobspool-cleaner: --dry-run, exit codes, messages, help and version.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cleaner.inc"

new_spool
mkjob retrieved "2 hours ago"; R=$ID; mkside "$R" log "2 hours ago"
mkjob completed "8 days ago"; E=$ID
mkjob pending "8 days ago"; P=$ID
mkdir -p "$SPOOL/tmp"; echo x >"$SPOOL/tmp/stale"; touch -d "2 hours ago" "$SPOOL/tmp/stale"
echo foreign >"$SPOOL/foreign.txt"
listing_before=$(ls -la "$SPOOL" "$SPOOL/tmp" | grep -v -e ' \.$' -e 'cleaner.lock' -e 'jobs.lock')

cleaner --dry-run
eq "--dry-run exits 0" "$RC" 0
listing_after=$(ls -la "$SPOOL" "$SPOOL/tmp" | grep -v -e ' \.$' -e 'cleaner.lock' -e 'jobs.lock')
eq "--dry-run removes nothing" "$listing_after" "$listing_before"
paths=$(printf '%s\n' "$OUT" | grep -v '^jobspool-cleaner:' | sort)
want=$(printf '%s\n' "$SPOOL/$R.retrieved" "$SPOOL/$R.log" "$SPOOL/$E.completed" \
	"$SPOOL/tmp/stale" | sort)
eq "--dry-run lists each path it would remove" "$paths" "$want"
case $(summary) in
"jobspool-cleaner: would remove 1 retrieved, 1 expired, 0 orphaned, 1 tmp files; would free "*"; kept 1 unexpected files")
	ok "--dry-run summary says 'would remove'" ;;
*) fail "--dry-run summary: $(summary)" ;;
esac
cleaner -n
eq "-n is --dry-run" "$(printf '%s\n' "$OUT" | grep -c "^$SPOOL/")" 4
check "still there after -n" present "$R.retrieved"

cleaner
case $(summary) in
"jobspool-cleaner: removed 1 retrieved, 1 expired, 0 orphaned, 1 tmp files; freed "*" B; kept 1 unexpected files")
	ok "real run summary" ;;
*) fail "real run summary: $(summary)" ;;
esac
check "removed after a real run" gone "$R.retrieved"
check "pending kept" present "$P.pending"

# exit codes
cleaner --no-such-flag
eq "unknown flag exits 2" "$RC" 2
check "unknown flag is named on stderr" sh -c "printf '%s' \"\$1\" | grep -q -- 'no-such-flag'" _ "$ERR"
check "error message starts with the program name" sh -c "printf '%s' \"\$1\" | grep -q '^jobspool-cleaner: '" _ "$ERR"
cleaner --max-age forever
eq "bad duration exits 2" "$RC" 2
cleaner --log-level loud
eq "bad --log-level exits 2" "$RC" 2
cleaner --max-rate -3
eq "negative --max-rate exits 2" "$RC" 2
cleaner extra-argument
eq "positional argument exits 2" "$RC" 2
JOBSPOOL_MAX_AGE=bogus cleaner
eq "bad JOBSPOOL_MAX_AGE exits 2" "$RC" 2

chmod 0757 "$SPOOL"
cleaner
eq "world-writable spool exits 1" "$RC" 1
check "... saying why" sh -c "printf '%s' \"\$1\" | grep -q 'writable by other users'" _ "$ERR"
eq "... and prints no summary" "$OUT" ""
chmod 0750 "$SPOOL"

"$JS_BIN/jobspool-cleaner" --spool "$SPOOL/does-not-exist" >/dev/null 2>"$SPOOL.err"
eq "missing spool exits 1" "$?" 1
check "missing spool is not created" test ! -e "$SPOOL/does-not-exist"

out=$("$JS_BIN/jobspool-cleaner" --version)
eq "--version" "$(echo "$out" | sed 's/ [0-9][0-9.]*$/ V/')" "jobspool-cleaner V"
out=$("$JS_BIN/jobspool-cleaner" --help)
eq "--help exits 0" "$?" 0
for f in --spool --retrieved-age --max-age --tmp-age --dry-run --wait --max-rate --log-level --syslog; do
	check "--help mentions $f" sh -c "printf '%s' \"\$1\" | grep -q -- '$f '" _ "$out"
done

# --max-rate paces the deletes: 6 jobs at 20/s take at least 0.25 s
for i in 1 2 3 4 5 6; do mkjob retrieved "2 hours ago"; done
t0=$(date +%s%N)
cleaner --max-rate 20
t1=$(date +%s%N)
case $(summary) in *"removed 6 retrieved"*) ok "--max-rate still removes everything" ;;
*) fail "--max-rate: $(summary)" ;; esac
check "--max-rate 20 paced 6 removals over >= 250 ms" test $(( (t1 - t0) / 1000000 )) -ge 250

finish
