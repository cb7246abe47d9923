#!/bin/sh
# jobspool-processor --max-log-size (JOBSPOOL_MAX_LOG_SIZE, max_log_size in
# the config file): a job's log stops growing at the cap, the rest of its
# output is read and dropped while the job runs on to its end (nothing
# blocks, nothing is killed), and the job records "log_truncated": true;
# the log holds exactly the first SIZE bytes.  A job under the cap records
# false and keeps its whole log; 0 means no cap; a retry appends to the
# same capped log; bad values are refused; an endless writer does not hold
# the processor's loop (heartbeats, other jobs, its timeout); 40 jobs at
# once under a soft limit of 64 open files (the processor raises its own,
# jobs get 64 back); in remote mode the cap counts the server's log
# (earlier attempts included) and log_truncated reaches the server's job,
# which a submission cannot set.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"
PROC=$JS_BIN/jobspool-processor

proc_setup
lsize() { wc -c <"$1" | tr -d ' '; }
# pattern N: the first N bytes of a job's "yes 0123456789abcdef" output
pattern() { yes 0123456789abcdef | head -c "$1"; }
pattern_sum() { pattern "$1" | sha256sum | cut -d' ' -f1; }
file_sum() { sha256sum <"$1" | cut -d' ' -f1; }

# ---- settings ----
"$PROC" --spool "$WORK/u" --max-log-size lots >/dev/null 2>&1
eq "--max-log-size lots exits 2" $? 2
"$PROC" --spool "$WORK/u" --max-log-size -1 >/dev/null 2>&1
eq "--max-log-size -1 exits 2" $? 2
JOBSPOOL_MAX_LOG_SIZE=12Q "$PROC" --spool "$WORK/u" >/dev/null 2>&1
eq "JOBSPOOL_MAX_LOG_SIZE=12Q exits 2" $? 2
printf 'max_log_size = x\n' >"$WORK/bad.conf"
"$PROC" --spool "$WORK/u" --config "$WORK/bad.conf" >/dev/null 2>&1
eq "max_log_size = x in the config file exits 2" $? 2
"$PROC" --help >"$WORK/help.txt"
check "--help lists --max-log-size" grep -q -- "--max-log-size " "$WORK/help.txt"
check "--help gives its default, 100M" sh -c \
	"grep -A3 -- '--max-log-size ' '$WORK/help.txt' | grep -q 100M"

# ---- a 64 KiB cap ----
start_proc -j 4 --max-log-size 64K
P=$PROC_PID
big=$(submit "{\"shell\":\"yes 0123456789abcdef | head -c 3000000; echo on stderr >&2; echo after > $WORK/big.after\"}")
flood=$(submit '{"shell":"head -c 50000000 /dev/zero; echo end"}')
small=$(submit '{"shell":"echo small; echo err >&2"}')
exact=$(submit '{"shell":"head -c 65536 /dev/zero"}')
retry=$(submit '{"shell":"head -c 50000 /dev/zero | tr \"\\0\" a; exit 1","retries":1}')
check "capped jobs end" wait_final 120 "$big" "$flood" "$small" "$exact"
eq "over the cap: completed" "$(field "$big" .status)" completed
eq "over the cap: exit_code 0" "$(field "$big" .exit_code)" 0
eq "over the cap: the job ran on past the cap" "$(cat "$WORK/big.after" 2>/dev/null)" after
eq "over the cap: log is 64 KiB" "$(lsize "$SPOOL/$big.log")" 65536
eq "over the cap: log_size 65536" "$(field "$big" .log_size)" 65536
eq "over the cap: the log is the first 64 KiB of the output" \
	"$(file_sum "$SPOOL/$big.log")" "$(pattern_sum 65536)"
eq "over the cap: log_sha256 is the capped log's" "$(field "$big" .log_sha256)" \
	"$(file_sum "$SPOOL/$big.log")"
eq "over the cap: log_truncated true" "$(field "$big" .log_truncated)" true
eq "50 MB flood: completed (drained, not blocked)" "$(field "$flood" .status)" completed
eq "50 MB flood: log is 64 KiB" "$(lsize "$SPOOL/$flood.log")" 65536
eq "50 MB flood: log_truncated true" "$(field "$flood" .log_truncated)" true
eq "under the cap: completed" "$(field "$small" .status)" completed
eq "under the cap: whole log, stdout and stderr" "$(cat "$SPOOL/$small.log")" \
	"$(printf 'small\nerr')"
eq "under the cap: log_truncated false" "$(field "$small" .log_truncated)" false
eq "exactly the cap: log 65536" "$(lsize "$SPOOL/$exact.log")" 65536
eq "exactly the cap: nothing dropped, log_truncated false" \
	"$(field "$exact" .log_truncated)" false
check "the processor says which job reached the cap" \
	grep -q "job $big: its log reached --max-log-size" "$PROC_LOG"
# a retry appends to the same log: 50000 bytes, then 15536 more and a drop
check "retried job ends" wait_final 60 "$retry"
eq "retry: failed after 2 attempts" \
	"$(field "$retry" '.status + " " + (.attempts | tostring)')" "failed 2"
eq "retry: log capped across attempts" "$(lsize "$SPOOL/$retry.log")" 65536
eq "retry: log_truncated true" "$(field "$retry" .log_truncated)" true
stop_pid "$P"

# ---- a job that never stops writing does not hold the loop: heartbeats
# (lease 3 s), other jobs and its own timeout go on ----
start_proc -j 2 --lease 3s --max-log-size 64K
P=$PROC_PID
fl_id=$(submit '{"shell":"exec yes","timeout":8}')
check "endless writer: running" wait_until 20 test -f "$SPOOL/$fl_id.wip"
sleep 1
q_id=$(submit '{"shell":"echo quick"}')
t0=$(date +%s%N)
check "  another job meanwhile ends" wait_final 20 "$q_id"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "  within 5 s ($ms ms)" test "$ms" -lt 5000
eq "  and completes" "$(field "$q_id" .status)" completed
check "endless writer: ends" wait_final 60 "$fl_id"
check "  by its timeout" sh -c "jq -r .error '$(final "$fl_id")' | grep -q timeout"
eq "  log capped at 64 KiB" "$(lsize "$SPOOL/$fl_id.log")" 65536
eq "  log_truncated" "$(field "$fl_id" .log_truncated)" true
check "  no heartbeat missed" sh -c "! grep -q -i 'heartbeat failed\|lease lost' '$PROC_LOG'"
stop_pid "$P"

# ---- the environment, the config file, 0 = no cap ----
JOBSPOOL_MAX_LOG_SIZE=1K start_proc -j 2
P=$PROC_PID
e_id=$(submit '{"shell":"head -c 5000 /dev/zero"}')
check "JOBSPOOL_MAX_LOG_SIZE=1K: job ends" wait_final 60 "$e_id"
eq "JOBSPOOL_MAX_LOG_SIZE=1K: log 1024" "$(lsize "$SPOOL/$e_id.log")" 1024
eq "JOBSPOOL_MAX_LOG_SIZE=1K: log_truncated" "$(field "$e_id" .log_truncated)" true
stop_pid "$P"
printf '# test\nmax_log_size = 2K\n' >"$WORK/cap.conf"
start_proc -j 2 --config "$WORK/cap.conf"
P=$PROC_PID
c_id=$(submit '{"shell":"head -c 5000 /dev/zero"}')
check "max_log_size = 2K: job ends" wait_final 60 "$c_id"
eq "max_log_size = 2K: log 2048" "$(lsize "$SPOOL/$c_id.log")" 2048
stop_pid "$P"
start_proc -j 2 --max-log-size 0
P=$PROC_PID
z_id=$(submit '{"shell":"yes 0123456789abcdef | head -c 3000000"}')
check "--max-log-size 0: job ends" wait_final 60 "$z_id"
eq "--max-log-size 0: whole 3 MB log" "$(lsize "$SPOOL/$z_id.log")" 3000000
eq "--max-log-size 0: the log is the output" "$(file_sum "$SPOOL/$z_id.log")" \
	"$(pattern_sum 3000000)"
eq "--max-log-size 0: log_truncated false" "$(field "$z_id" .log_truncated)" false
stop_pid "$P"

# ---- two descriptors per running job: the processor raises its own
# open-file limit (soft to hard) and gives jobs the one it started with ----
(ulimit -Sn 64 && exec "$PROC" --spool "$SPOOL" -j 40 --max-log-size 1K) \
	2>>"$WORK/proc.nofile.log" &
P=$!
T_PIDS="$T_PIDS $P"
fd_ids=""
i=0
while [ $i -lt 40 ]; do
	fd_ids="$fd_ids $(submit '{"shell":"ulimit -Sn; sleep 2"}')"
	i=$((i + 1))
done
# shellcheck disable=SC2086
check "40 jobs at once with a soft limit of 64 open files end" \
	wait_final 120 $fd_ids
n_ok=0 n_64=0
for id in $fd_ids; do
	[ "$(field "$id" .status)" = completed ] && n_ok=$((n_ok + 1))
	[ "$(cat "$SPOOL/$id.log" 2>/dev/null)" = 64 ] && n_64=$((n_64 + 1))
done
eq "  all 40 completed" "$n_ok" 40
eq "  each job got the processor's original soft limit (64)" "$n_64" 40
stop_pid "$P"
check "  no descriptor shortage logged" sh -c \
	"! grep -q -i 'too many open files' '$WORK/proc.nofile.log'"

# ---- remote mode: the cap counts the server's log ----
check "apiserver starts" start_api --lease 12s --token w:wsecret:worker \
	--token u:usecret
RW=$(mktemp -d /tmp/jobspool-rwork.XXXXXX)
T_DIRS="$T_DIRS $RW"
"$PROC" --spool "$RW/w" --server "$URL" --token wsecret -j 2 \
	--max-log-size 10K 2>>"$RW/w.log" &
RP=$!
T_PIDS="$T_PIDS $RP"
api_submit() {
	curl -s --max-time 20 -H 'Authorization: Bearer usecret' -d "$1" \
		"$URL/api/v1/jobs" | jq -r .id
}
curl -s --max-time 20 -H 'Authorization: Bearer usecret' -o "$RW/sub.json" \
	-w '%{http_code}' -d '{"shell":"true","log_truncated":false}' \
	"$URL/api/v1/jobs" >"$RW/sub.code"
eq "a submission cannot set log_truncated: 400" "$(cat "$RW/sub.code")" 400
check "  the error says the server sets it" \
	grep -q "log_truncated.*set by the server" "$RW/sub.json"
r_big=$(api_submit '{"shell":"yes 0123456789abcdef | head -c 100000; echo done"}')
r_small=$(api_submit '{"shell":"echo remote small"}')
r_retry=$(api_submit '{"shell":"head -c 6000 /dev/zero | tr \"\\0\" b; exit 1","retries":1}')
check "remote jobs end on the server" wait_final 90 "$r_big" "$r_small" "$r_retry"
eq "remote over the cap: completed" "$(field "$r_big" .status)" completed
eq "remote over the cap: server log 10 KiB" "$(lsize "$SPOOL/$r_big.log")" 10240
eq "remote over the cap: the first 10 KiB" "$(file_sum "$SPOOL/$r_big.log")" \
	"$(pattern_sum 10240)"
eq "remote over the cap: log_truncated true on the server" \
	"$(field "$r_big" .log_truncated)" true
eq "remote under the cap: log_truncated false" \
	"$(field "$r_small" .log_truncated)" false
eq "remote under the cap: log" "$(cat "$SPOOL/$r_small.log")" "remote small"
eq "remote retry: 2 attempts" "$(field "$r_retry" .attempts)" 2
eq "remote retry: the server's log is capped across attempts" \
	"$(lsize "$SPOOL/$r_retry.log")" 10240
eq "remote retry: log_truncated" "$(field "$r_retry" .log_truncated)" true
stop_pid "$RP"
api_stop

check "no sanitizer report (remote processor)" sh -c \
	"! grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' '$RW/w.log'"
proc_check_logs
finish
