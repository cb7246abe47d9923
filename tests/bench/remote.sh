#!/bin/sh
# A remote processor (--server, through the apiserver's worker routes, on
# loopback) against a local processor on the same spool, same -j.  Prints a
# Markdown table and writes it to tests/bench/remote-results.md.
#   B        build directory holding the programs (default build)
#   N        jobs per throughput run (default 200), written into the spool
#            by B/tools/submit (make -f tests/bench/tools.mk) when it is
#            there, else by a shell loop (tmp + mv, which caps both sides)
#   REPS     repetitions (default 3)
#   J        -j of either processor (default 2)
#   RESULTS  where the table goes (default tests/bench/remote-results.md)
#   TRASH    a directory to move this run's files into instead of removing
#            them (run.sh removes it at its end)
#   RAW      a directory: each measurement also goes there, one value a line,
#            in files run.sh reads (s8_remote_tput, s8_local_lat, ...,
#            rss_proc_remote, rss_proc_s8)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-$ROOT/build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
N=${N:-200}
REPS=${REPS:-3}
J=${J:-2}
OUT=${RESULTS:-$ROOT/tests/bench/remote-results.md}
RAW=${RAW:-}

# (in /var/tmp, as run.sh's: on ext4 without a journal, creating files is
# slow for a minute or more after many deletions nearby, and /tmp is where
# test suites create and delete thousands)
W=$(mktemp -d /var/tmp/jobspool-bench-remote.XXXXXX)
chmod 0750 "$W"
# The remote processor's work directory holds copies only, never synced:
# on tmpfs, as jobspool-processor(8) advises, where /dev/shm is one
# (BENCH_REMOTE_WORK names another directory to use).
WK=""
if [ -n "${BENCH_REMOTE_WORK:-}" ]; then
	WK=$(mktemp -d "$BENCH_REMOTE_WORK/jobspool-bench-work.XXXXXX")
elif [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
	WK=$(mktemp -d /dev/shm/jobspool-bench-work.XXXXXX)
fi
[ -n "$WK" ] || WK=$W/work
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	# TRASH (run.sh's): kept there until the whole run ends, so that
	# its removal slows no later scenario's file creation
	if [ -n "${TRASH:-}" ] && [ -d "$TRASH" ] && mv "$W" "$TRASH/"; then
		rm -rf "$WK"
	else
		rm -rf "$W" "$WK"
	fi
}
trap cleanup EXIT INT TERM

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# median and min/max of numbers on stdin: "median (min-max)"
stats() { sort -n | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2;
	printf "%.1f (%.1f-%.1f)", m, v[1], v[NR]}'; }

mkdir -p "$W/spool" "$WK"
chmod 0750 "$W/spool" "$WK"
WKFS=$(stat -f -c %T "$WK")
"$B/jobspool-apiserver" --spool "$W/spool" --listen 127.0.0.1:0 \
	--token bench:bsecret:admin --token wk:wsecret:worker \
	2>"$W/api.log" &
PIDS="$PIDS $!"
i=0
while ! grep -q 'listening on' "$W/api.log" 2>/dev/null; do
	i=$((i + 1)); [ "$i" -gt 500 ] && { cat "$W/api.log"; exit 1; }
	sleep 0.02
done
URL=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$W/api.log" | head -n 1)
H="Authorization: Bearer bsecret"

submit() {	# JSON -> id, written straight into the spool
	s_id=$(cat /proc/sys/kernel/random/uuid)
	printf '%s\n' "$1" >"$W/spool/tmp/$s_id.json" &&
		mv "$W/spool/tmp/$s_id.json" "$W/spool/$s_id.pending"
	echo "$s_id"
}
ndone() { ls "$W/spool" | grep -c '\.completed$'; }
# wait_for CMD...: polls until CMD succeeds; gives up (exit 1) after 300 s
wait_for() {
	w_end=$(( $(date +%s) + 300 ))
	while ! "$@"; do
		if [ "$(date +%s)" -ge "$w_end" ]; then
			echo "remote bench: gave up waiting ($*); failed jobs:" >&2
			cat "$W"/spool/*.failed >&2 2>/dev/null
			exit 1
		fi
		sleep 0.02
	done
}
done_ge() { [ "$(ndone)" -ge "$1" ]; }

base=0
# one_rep SIDE R: throughput, submission-to-start latency and a follower's
# delay with the side's processor (running now); appends to $W/SIDE.tput,
# $W/SIDE.lat and $W/SIDE.follow
one_rep() {
	r=$2
	{
		t0=$(now_ms)
		if [ -x "$B/tools/submit" ]; then
			# as scenario 1 submits (tests/bench/submit.c): a shell
			# loop's forks would cap both sides and share their CPUs
			"$B/tools/submit" spool "$W/spool" "$N" 0 - /bin/true ||
				exit 1
		else
			for k in $(seq "$N"); do
				submit '{"command":["/bin/true"]}' >/dev/null
			done
		fi
		base=$((base + N))
		wait_for done_ge "$base"
		t1=$(now_ms)
		echo "$N $t0 $t1" | awk '{printf "%.2f\n", $1 * 1000 / ($3 - $2)}' >>"$W/$1.tput"
		# submission to the job's first instruction
		t0=$(now_ms)
		submit "{\"shell\":\"echo \$((\$(date +%s%N)/1000000)) > $W/$1.start.$r\"}" >/dev/null
		wait_for test -s "$W/$1.start.$r"
		echo $(( $(cat "$W/$1.start.$r") - t0 )) >>"$W/$1.lat"
		base=$((base + 1))
		wait_for done_ge "$base"
		# a line printed by the job, to a follower of its log on the
		# apiserver: the job prints its clock, the follower notes when
		# the line arrives
		id=$(submit '{"shell":"sleep 0.5; echo $(($(date +%s%N)/1000000)); sleep 1"}')
		curl -sN -H "$H" "$URL/api/v1/jobs/$id/log?follow=1" |
			while IFS= read -r l; do
				echo "$(( $(date +%s%N) / 1000000 - l ))"
			done >>"$W/$1.follow"
		base=$((base + 1))
		wait_for done_ge "$base"
	}
}

# peak resident set (VmHWM, MiB) of a processor before it is stopped
rss() { awk '/^VmHWM:/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
recmax() {	# FILE VALUE: keeps the larger
	[ -n "$RAW" ] && [ -n "$2" ] || return 0
	if [ ! -s "$1" ] || awk -v a="$2" -v b="$(cat "$1")" 'BEGIN { exit !(a > b) }'; then
		echo "$2" >"$1"
	fi
}
side() {	# SIDE R: starts the side's processor, runs rep R, stops it
	if [ "$1" = local ]; then
		"$B/jobspool-processor" --spool "$W/spool" -j "$J" --user root \
		    --log-level warn 2>>"$W/local.log" &
	else
		"$B/jobspool-processor" --server "$URL" --token wsecret \
		    --spool "$WK" -j "$J" --user root --log-level warn \
		    2>>"$W/remote.log" &
	fi
	SP=$!
	PIDS="$PIDS $SP"
	sleep 0.5	# (its start is not what is measured)
	one_rep "$1" "$2"
	if [ "$1" = local ]; then
		recmax "$RAW/rss_proc_s8" "$(rss "$SP")"
	else
		recmax "$RAW/rss_proc_remote" "$(rss "$SP")"
	fi
	kill "$SP"; wait "$SP" 2>/dev/null
}
# The sides take turns, local-remote then remote-local: each run creates
# and deletes files in the spool, and on ext4 without a journal creating
# files is slower for a while after many deletions; one side always after
# the other would pay for both.
for f in tput lat follow; do : >"$W/local.$f"; : >"$W/remote.$f"; done
for r in $(seq "$REPS"); do
	if [ $((r % 2)) -eq 1 ]; then
		side local "$r"; side remote "$r"
	else
		side remote "$r"; side local "$r"
	fi
done
failed=$(ls "$W/spool" | grep -c '\.failed$')

if [ -n "$RAW" ]; then
	for side in local remote; do
		for m in tput lat follow; do
			cp "$W/$side.$m" "$RAW/s8_${side}_$m"
		done
	done
fi
lt=$(stats <"$W/local.tput"); rt=$(stats <"$W/remote.tput")
ll=$(stats <"$W/local.lat"); rl=$(stats <"$W/remote.lat")
lf=$(stats <"$W/local.follow"); rf=$(stats <"$W/remote.follow")
ratio() { awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN {printf "%.2f", a / b}'; }
{
	echo "Remote processor over loopback HTTP vs a local processor on the same"
	echo "spool (both -j $J; $N jobs of /bin/true per run, $REPS runs; median"
	echo "(min-max); failed jobs: $failed; the remote's work directory on"
	echo "$WKFS, the spool on $(stat -f -c %T "$W/spool"))"
	echo
	echo "| scenario | remote (--server) | local | remote/local |"
	echo "|---|---|---|---|"
	echo "| throughput, jobs/s | $rt | $lt | $(ratio "$rt" "$lt") |"
	echo "| submission to start, ms | $rl | $ll | $(ratio "$rl" "$ll") |"
	echo "| a log line to a follower on the apiserver, ms | $rf | $lf | $(ratio "$rf" "$lf") |"
} | tee "$OUT"
