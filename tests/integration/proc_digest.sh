#!/bin/sh
# jobspool-processor hashes a finished job's log (log_size, log_sha256)
# off its event loop, in one thread named jobspool-hash kept for every job
# (processor/loghash.h):
# while a 200 MB log is being hashed, another job that ends meanwhile is
# recorded at once, the final file of the big job carries the digest of its
# whole log (as sha256sum computes it) and is written after the hashing,
# and a shutdown that comes during a hashing waits for it.  The jobs record
# what they see themselves (the hashing thread under their parent, the
# processor), so the checks hold on a loaded machine; with the hashing
# inside the loop there is no such thread and the watching job fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

proc_setup
# a spool in memory where there is one: what takes time is the hashing
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	SPOOL=$(mktemp -d /dev/shm/jobspool-test.XXXXXX)
	chmod 0750 "$SPOOL"
	mkdir -m 0770 "$SPOOL/tmp"
	T_DIRS="$T_DIRS $SPOOL"
fi
SIZE=200000000
file_sum() { sha256sum <"$1" | cut -d' ' -f1; }
# a job that waits (at most 60 s) for its parent, the processor, to have a
# hashing thread, then prints "saw" and exits 0; 3 if it never came
WATCH='i=0; while [ $i -lt 3000 ]; do for f in /proc/$PPID/task/*/comm; do read -r n <"$f" 2>/dev/null && [ "$n" = jobspool-hash ] && { echo saw; exit 0; }; done; sleep 0.02; i=$((i + 1)); done; exit 3'

# ---- another job ends while a big log is hashed ----
start_proc -j 2 --max-log-size 0
P=$PROC_PID
big=$(submit "{\"shell\":\"head -c $SIZE /dev/zero\"}")
watch=$(submit "$(jq -cn --arg s "$WATCH" '{shell: $s}')")
check "both jobs end" wait_final 120 "$big" "$watch"
eq "the big job completed" "$(field "$big" .status)" completed
eq "the watching job saw a hashing thread and completed" \
	"$(field "$watch" '.status + " " + (.exit_code | tostring)')" "completed 0"
eq "its log" "$(cat "$SPOOL/$watch.log")" saw
eq "big log: log_size" "$(field "$big" .log_size)" "$SIZE"
eq "big log: the whole log is there" "$(wc -c <"$SPOOL/$big.log" | tr -d ' ')" "$SIZE"
eq "big log: log_sha256 is sha256sum's" "$(field "$big" .log_sha256)" \
	"$(file_sum "$SPOOL/$big.log")"
eq "small log: log_sha256 is sha256sum's" "$(field "$watch" .log_sha256)" \
	"$(file_sum "$SPOOL/$watch.log")"
# the watching job ended after the big one (it waited for its hashing) and
# was recorded before the big one's hashing was done
wf=$(field "$watch" .finished_at) bf=$(field "$big" .finished_at)
check "the job that ended during the hashing finished first ($wf < $bf)" \
	[ "$wf" \< "$bf" ]
check "no job left claimed" sh -c "! ls '$SPOOL' | grep -q '\\.wip\$'"
eq "one hashing thread, kept for the next jobs (not one per job)" \
	"$(cat /proc/$P/task/*/comm 2>/dev/null | grep -cx jobspool-hash)" 1

# ---- a retry and a cancel still get their digest; so does an empty log ----
retry=$(submit '{"shell":"echo attempt; exit 1","retries":1}')
empty=$(submit '{"shell":"exit 0"}')
check "retried and empty jobs end" wait_final 60 "$retry" "$empty"
eq "retry: failed after 2 attempts" \
	"$(field "$retry" '.status + " " + (.attempts | tostring)')" "failed 2"
eq "retry: the log of both attempts" "$(cat "$SPOOL/$retry.log")" \
	"$(printf 'attempt\nattempt')"
eq "retry: its digest" "$(field "$retry" .log_sha256)" \
	"$(file_sum "$SPOOL/$retry.log")"
eq "empty log: size 0" "$(field "$empty" .log_size)" 0
eq "empty log: the SHA-256 of nothing" "$(field "$empty" .log_sha256)" \
	e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# ---- a shutdown during a hashing waits for it ----
rm -f "$WORK/wrote"
big2=$(submit "{\"shell\":\"head -c $SIZE /dev/zero; : > $WORK/wrote\"}")
check "the second big job wrote its log" wait_until 120 test -e "$WORK/wrote"
kill -TERM "$P"
wait "$P"
eq "the processor exits 0 on SIGTERM" $? 0
eq "the job it was hashing completed" "$(field "$big2" .status)" completed
eq "with its digest" "$(field "$big2" .log_sha256)" "$(file_sum "$SPOOL/$big2.log")"
check "nothing left claimed or pending" sh -c \
	"! ls '$SPOOL' | grep -q -E '\\.(wip|pending)\$'"
proc_check_logs
finish
