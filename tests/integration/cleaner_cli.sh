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
mkidem "2 days ago"; K_OLD=$IDEM
mkidem "2 hours ago"; K_NEW=$IDEM
listing_before=$(ls -la "$SPOOL" "$SPOOL/tmp" "$SPOOL/idem" | grep -v -e ' \.$' -e 'cleaner.lock' -e 'jobs.lock')

cleaner --dry-run
eq "--dry-run exits 0" "$RC" 0
listing_after=$(ls -la "$SPOOL" "$SPOOL/tmp" "$SPOOL/idem" | grep -v -e ' \.$' -e 'cleaner.lock' -e 'jobs.lock')
eq "--dry-run removes nothing" "$listing_after" "$listing_before"
paths=$(printf '%s\n' "$OUT" | grep -v '^jobspool-cleaner:' | sort)
want=$(printf '%s\n' "$SPOOL/$R.retrieved" "$SPOOL/$R.log" "$SPOOL/$E.completed" \
	"$SPOOL/tmp/stale" "$SPOOL/$K_OLD" | sort)
eq "--dry-run lists each path it would remove" "$paths" "$want"
case $(summary) in
"jobspool-cleaner: would remove 1 retrieved, 1 expired, 0 orphaned, 1 tmp files, 1 idempotency keys; would free "*"; kept 1 unexpected files")
	ok "--dry-run summary says 'would remove'" ;;
*) fail "--dry-run summary: $(summary)" ;;
esac
cleaner -n
eq "-n is --dry-run" "$(printf '%s\n' "$OUT" | grep -c "^$SPOOL/")" 5
check "still there after -n" present "$R.retrieved"

cleaner
case $(summary) in
"jobspool-cleaner: removed 1 retrieved, 1 expired, 0 orphaned, 1 tmp files, 1 idempotency keys; freed "*" B; kept 1 unexpected files")
	ok "real run summary" ;;
*) fail "real run summary: $(summary)" ;;
esac
check "removed after a real run" gone "$R.retrieved"
check "pending kept" present "$P.pending"
check "an Idempotency-Key record older than 24h is removed" gone "$K_OLD"
check "a younger one is kept" present "$K_NEW"
check "idem/ is not called unexpected" sh -c "! printf '%s' \"\$1\" | grep -q 'unexpected.*idem'" _ "$ERR"

# --idem-age, JOBSPOOL_IDEM_AGE and "idem-age =" set the records' age
cleaner --dry-run --idem-age 1h
case $(summary) in *", 1 idempotency keys;"*) ok "--idem-age 1h would take the 2 h old record" ;;
*) fail "--idem-age 1h: $(summary)" ;; esac
eq "--dry-run lists it" "$(printf '%s\n' "$OUT" | grep -c "^$SPOOL/$K_NEW\$")" 1
JOBSPOOL_IDEM_AGE=1h cleaner --dry-run
case $(summary) in *", 1 idempotency keys;"*) ok "JOBSPOOL_IDEM_AGE=1h" ;;
*) fail "JOBSPOOL_IDEM_AGE=1h: $(summary)" ;; esac
printf 'idem-age = 3h\n' >"$SPOOL.conf"
T_DIRS="$T_DIRS $SPOOL.conf"
cleaner --dry-run --config "$SPOOL.conf"
case $(summary) in *", 0 idempotency keys;"*) ok "idem-age = 3h in the config file keeps it" ;;
*) fail "config idem-age = 3h: $(summary)" ;; esac
printf 'idem-age = 1h\n' >"$SPOOL.conf"
cleaner --config "$SPOOL.conf"
case $(summary) in *"removed "*", 1 idempotency keys;"*) ok "idem-age = 1h in the config file removes it" ;;
*) fail "config idem-age = 1h: $(summary)" ;; esac
check "... it is gone" gone "$K_NEW"
cleaner --idem-age soon
eq "bad --idem-age exits 2" "$RC" 2
mkdir -p "$SPOOL/idem/not-a-record"; echo x >"$SPOOL/idem/notes"
touch -d "3 days ago" "$SPOOL/idem/notes"
cleaner
check "what is not a record in idem/ is left alone" present idem/notes

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
for f in --spool --retrieved-age --max-age --tmp-age --idem-age --dry-run --wait --max-rate --log-level --syslog; do
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
