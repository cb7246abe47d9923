#!/bin/sh
# jobspool-cleaner: what one pass removes and what it must keep.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cleaner.inc"

new_spool

# --- old enough to go
mkjob retrieved "2 hours ago"; R1=$ID; mkside "$R1" log "3 hours ago"
mkside "$R1" cancel "3 hours ago"
mkjob retrieved "90 minutes ago"; R2=$ID	# no log
mkjob completed "8 days ago"; E1=$ID; mkside "$E1" log "8 days ago"
mkjob failed "8 days ago"; E2=$ID
mkjob cancelled "30 days ago"; E3=$ID
O1=$(uuid); mkside "$O1" log "8 days ago"	# log without a job
O2=$(uuid); mkside "$O2" cancel "9 days ago"
mkdir -p "$SPOOL/tmp"
echo partial >"$SPOOL/tmp/old-write"; touch -d "2 hours ago" "$SPOOL/tmp/old-write"

# --- must stay
mkjob retrieved "10 minutes ago"; K1=$ID; mkside "$K1" log "2 hours ago"
mkjob completed "2 days ago"; K2=$ID; mkside "$K2" log "2 days ago"
mkjob pending "30 days ago"; K3=$ID; mkside "$K3" log "30 days ago"
mkjob wip "30 days ago"; K4=$ID; mkside "$K4" log "30 days ago"
mkside "$K4" cancel "30 days ago"
O3=$(uuid); mkside "$O3" log "1 hour ago"	# young orphan
echo fresh >"$SPOOL/tmp/new-write"
echo "notes" >"$SPOOL/README.admin"; touch -d "30 days ago" "$SPOOL/README.admin"
echo x >"$SPOOL/$(uuid).bak"; touch -d "30 days ago" "$SPOOL"/*.bak
BAK=$(cd "$SPOOL" && ls ./*.bak)
mkdir "$SPOOL/archive"
ln -s /etc/passwd "$SPOOL/$(uuid).retrieved"
touch -h -d "30 days ago" "$SPOOL"/*.retrieved 2>/dev/null
touch -d "2 hours ago" "$SPOOL/$R1.retrieved"
touch -d "10 minutes ago" "$SPOOL/$K1.retrieved"
touch -d "90 minutes ago" "$SPOOL/$R2.retrieved"

before=$(du -sb "$SPOOL" | cut -f1)
cleaner
eq "exit status 0" "$RC" 0
for f in "$R1.retrieved" "$R1.log" "$R1.cancel" "$R2.retrieved"; do
	check "old retrieved job file $f removed" gone "$f"
done
for f in "$E1.completed" "$E1.log" "$E2.failed" "$E3.cancelled"; do
	check "final job never retrieved, older than max-age: $f removed" gone "$f"
done
check "orphan log older than max-age removed" gone "$O1.log"
check "orphan cancel request older than max-age removed" gone "$O2.cancel"
check "old file in tmp/ removed" gone tmp/old-write

check "young retrieved job kept" present "$K1.retrieved"
check "its log kept (even if the log itself is old)" present "$K1.log"
check "final job younger than max-age kept" present "$K2.completed"
check "its log kept" present "$K2.log"
check "old pending job kept" present "$K3.pending"
check "log of a pending job kept" present "$K3.log"
check "old running job kept" present "$K4.wip"
check "log of a running job kept" present "$K4.log"
check "cancel request of a running job kept" present "$K4.cancel"
check "young orphan log kept" present "$O3.log"
check "fresh file in tmp/ kept" present tmp/new-write
check "unexpected file kept" present README.admin
check "unexpected <uuid>.bak kept" present "$BAK"
check "unexpected directory kept" test -d "$SPOOL/archive"
check "symlink named like a job kept" sh -c "ls -l '$SPOOL' | grep -q -- '-> /etc/passwd'"
check "/etc/passwd untouched" test -s /etc/passwd

S=$(summary)
eq "summary line" "$S" "$(printf '%s' "$S" | grep -E '^jobspool-cleaner: removed 2 retrieved, 3 expired, 2 orphaned, 1 tmp files, 0 idempotency keys; freed [0-9.]+ (B|KiB); kept 4 unexpected files$')"
case $S in *"removed 2 retrieved, 3 expired, 2 orphaned, 1 tmp files, 0 idempotency keys;"*"kept 4 unexpected"*) ok "summary counts" ;;
*) fail "summary counts: $S" ;; esac
check "unexpected file named in the log" sh -c "printf '%s' \"\$1\" | grep -q 'README.admin'" _ "$ERR"
eq "stdout is one line" "$(printf '%s\n' "$OUT" | wc -l)" 1
after=$(du -sb "$SPOOL" | cut -f1)
check "bytes were freed" test "$after" -lt "$before"

# a second pass finds nothing more
cleaner
case $(summary) in *"removed 0 retrieved, 0 expired, 0 orphaned, 0 tmp files, 0 idempotency keys; freed 0 B; kept 4 unexpected files") ok "second pass removes nothing" ;;
*) fail "second pass: $(summary)" ;; esac

# ages are settings: a shorter retrieved-age and max-age take the young ones
cleaner --retrieved-age 5m --max-age 1d
check "--retrieved-age 5m removes a 10-minute-old retrieved job" gone "$K1.retrieved"
check "... and its log" gone "$K1.log"
check "--max-age 1d removes a 2-day-old completed job" gone "$K2.completed"
check "--max-age 1d removes its log" gone "$K2.log"
check "pending still kept" present "$K3.pending"
check "running still kept" present "$K4.wip"

# settings from the environment and the config file
mkjob retrieved "3 minutes ago"; K5=$ID
JOBSPOOL_RETRIEVED_AGE=10m cleaner
check "JOBSPOOL_RETRIEVED_AGE=10m keeps a 3-minute-old job" present "$K5.retrieved"
printf 'retrieved-age = 1m\n' >"$SPOOL.conf"; T_DIRS="$T_DIRS $SPOOL.conf"
cleaner --config "$SPOOL.conf"
check "retrieved-age = 1m in --config removes it" gone "$K5.retrieved"

# a retrieved job whose state file is both .completed and .retrieved (crash
# in the middle of retrieval): the old .retrieved goes, then the .completed
# by max-age, never a pending sibling
mkjob retrieved "2 hours ago"; D=$ID; mkjob completed "2 hours ago" "$D"
cleaner
check "old .retrieved beside .completed removed" gone "$D.retrieved"
check ".completed left until max-age" present "$D.completed"
mkjob pending "2 hours ago"; P=$ID; mkjob retrieved "2 hours ago" "$P"
cleaner
check "a job with a .pending file is never touched" present "$P.retrieved"

# --tmp-age: leftovers in tmp/ go once older than it, younger ones stay;
# a directory in tmp/ is not ours to remove
new_spool
mkdir -m 0750 "$SPOOL/tmp"
echo a >"$SPOOL/tmp/t30m"; touch -d "30 minutes ago" "$SPOOL/tmp/t30m"
echo b >"$SPOOL/tmp/t5m"; touch -d "5 minutes ago" "$SPOOL/tmp/t5m"
cleaner
eq "a spool with no job file at all: exit 0" "$RC" 0
check "default --tmp-age 1h keeps a 30-minute-old tmp file" present tmp/t30m
cleaner --tmp-age 10m
check "--tmp-age 10m removes a 30-minute-old tmp file" gone tmp/t30m
check "--tmp-age 10m keeps a 5-minute-old one" present tmp/t5m
case $(summary) in *"1 tmp files"*) ok "summary counts the tmp file" ;;
*) fail "tmp summary: $(summary)" ;; esac

# bytes freed: the exact sum of the sizes of what went
new_spool
mkjob retrieved "2 hours ago"; A=$ID
head -c 3000 /dev/zero >"$SPOOL/$A.log"; touch -d "2 hours ago" "$SPOOL/$A.log"
mkjob failed "9 days ago"; F=$ID
want=$(( $(stat -c %s "$SPOOL/$A.retrieved") + 3000 + $(stat -c %s "$SPOOL/$F.failed") ))
cleaner --dry-run
case $(summary) in *"would free $(awk -v b="$want" 'BEGIN { printf "%.1f KiB", b / 1024 }');"*)
	ok "--dry-run reports the bytes it would free ($want)" ;;
*) fail "--dry-run bytes: $(summary), want $want bytes" ;; esac
cleaner
case $(summary) in *"freed $(awk -v b="$want" 'BEGIN { printf "%.1f KiB", b / 1024 }');"*)
	ok "summary reports the bytes freed ($want)" ;;
*) fail "bytes freed: $(summary), want $want bytes" ;; esac

# unexpected entries: left, each named on stderr, counted on stdout; a
# spool full of them names the first ones and counts the rest
new_spool
i=0
while [ $i -lt 30 ]; do echo x >"$SPOOL/stray.$i"; i=$((i + 1)); done
touch -d "30 days ago" "$SPOOL"/stray.*
cleaner
eq "a spool of strangers: exit 0" "$RC" 0
eq "all 30 left in place" "$(ls "$SPOOL" | grep -c '^stray\.')" 30
case $(summary) in *"kept 30 unexpected files") ok "summary counts all 30" ;;
*) fail "30 unexpected: $(summary)" ;; esac
check "stderr names them (stray.0)" sh -c "printf '%s' \"\$1\" | grep -q 'unexpected file alone: stray.0\$'" _ "$ERR"
n=$(printf '%s\n' "$ERR" | grep -c 'leaving unexpected')
check "... but not one line each beyond the first 20 ($n lines)" test "$n" -le 20
finish
