#!/bin/sh
# tests/bench/run.sh BUILD_DIR - the benchmark behind `make bench`.
#
# Measures jobspool (the release build in BUILD_DIR) against task-spooler,
# nq and beanstalkd, and against the physical limits of this machine, in one
# run, and prints one Markdown table to stdout and tests/bench/last-results.md.
# Progress goes to stderr.  Everything listens on 127.0.0.1 only; every
# process started here is stopped by its PID; the work directory (on disk,
# under /var/tmp) is removed at the end.
#
# Knobs (environment): BENCH_REPS (5), BENCH_JOBS (500 jobs per run in
# scenario 1; the issue asks 2,000, which does not fit 15 minutes on a
# 2-CPU machine: BENCH_JOBS=2000 for that), BENCH_CLI_JOBS (same, for tsp and
# nq), BENCH_WRK_SECS (4), BENCH_LAT_JOBS
# (40, 100 ms apart: BENCH_LAT_INTERVAL_US), BENCH_SCALE ("0 10000 100000"), BENCH_CLEAN_JOBS (100000),
# BENCH_BUDGET_CLEAN (seconds for the cleaner reps, 150), BENCH_BUDGET_S1
# (seconds after which scenario 1 stops repeating, once it has 2 runs; 300),
# BENCH_REMOTE (1: a remote processor against a local one, tests/bench/remote.sh;
# 0 skips it), BENCH_REMOTE_JOBS (500), BENCH_REMOTE_REPS (3), BENCH_SLURM (1:
# the Slurm executor against sbatch alone, tests/bench/slurm.sh; 0 skips it),
# BENCH_SLURM_JOBS (30), BENCH_SLURM_REPS (3).
#
# Where it writes: BENCH_OUT (tests/bench/last-results.md).  The table shows,
# beside each ratio, the ratio of the previous table, read from BENCH_PREV
# (default: tests/bench/last-results.md as it was before this run, and for
# the remote and Slurm rows, when that table has none, remote-results.md and
# slurm-results.md), and the targets of issue 21 with whether this run met
# them.  With the default BENCH_OUT the previous table is kept in
# tests/bench/previous-results.md, the remote and Slurm tables go to
# remote-results.md and slurm-results.md, and the README's Performance
# section (between <!-- bench:begin --> and <!-- bench:end -->) gets the new
# table; with another BENCH_OUT none of those files is touched (BENCH_README=1
# updates the README anyway).
set -u
LC_ALL=C
export LC_ALL
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "${1:-build/bench}" && pwd) || exit 1
REPS=${BENCH_REPS:-5}
NJ=${BENCH_JOBS:-500}
NCLI=${BENCH_CLI_JOBS:-$NJ}
WRK_SECS=${BENCH_WRK_SECS:-4}
LATN=${BENCH_LAT_JOBS:-40}
LAT_US=${BENCH_LAT_INTERVAL_US:-100000}
SCALE=${BENCH_SCALE:-0 10000 100000}
NCLEAN=${BENCH_CLEAN_JOBS:-100000}
CLEAN_BUDGET=${BENCH_BUDGET_CLEAN:-150}
S1_BUDGET=${BENCH_BUDGET_S1:-300}
S1_REPS=0
CLEAN_REPS=0
NFOLLOW=200
DEF_OUT=$ROOT/tests/bench/last-results.md
OUT=${BENCH_OUT:-$DEF_OUT}
PREV=${BENCH_PREV:-$DEF_OUT}
README_UPDATE=${BENCH_README:-$([ "$OUT" = "$DEF_OUT" ] && echo 1 || echo 0)}

W=$(mktemp -d /var/tmp/jobspool-bench.XXXXXX) || exit 1
R=$W/res
mkdir -p "$R" "$W/why"
T=$BIN/tools
PIDS=""
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# the previous tables, as they were before this run writes any of them
mkdir -p "$W/prev"
[ -f "$PREV" ] && cp "$PREV" "$W/prev/last.md"
for f in remote slurm; do
	[ -f "$ROOT/tests/bench/$f-results.md" ] && cp "$ROOT/tests/bench/$f-results.md" "$W/prev/$f.md"
done

say() { echo "bench [$(($(date +%s) - T0))s]: $*" >&2; }

# bg CMD...: starts CMD in the background, remembers its PID in $BG
bg() {
	"$@" &
	BG=$!
	PIDS="$PIDS $BG"
}
# stop PID: TERM, wait up to 10 s, then KILL
stop() {
	[ -n "${1:-}" ] || return 0
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
cleanup() {
	trap - EXIT INT TERM
	for p in $PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	if [ -n "${TS_SOCKET:-}" ] && [ -S "$TS_SOCKET" ]; then
		tsp -K >/dev/null 2>&1
	fi
	# nq jobs still waiting (an aborted run): their PIDs end their file names
	for f in "$W"/nq*/,*; do
		[ -e "$f" ] || continue
		p=${f##*.}
		case $p in *[!0-9]*|'') continue ;; esac
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
# medv KEY: the median of the values so far (progress lines)
medv() { sort -g "$R/$1" 2>/dev/null | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
# rec KEY VALUE: one measurement
rec() { echo "$2" >>"$R/$1"; }
why() { echo "$2" >"$W/why/$1"; }
# rss PID: peak resident set (VmHWM) in MiB
rss() { awk '/^VmHWM:/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
# recmax KEY VALUE: keeps the largest value
recmax() {
	[ -n "$2" ] || return 0
	if [ -s "$R/$1" ]; then
		awk -v v="$2" '{ print ($1 > v ? $1 : v) }' "$R/$1" >"$R/$1.t" &&
			mv "$R/$1.t" "$R/$1"
	else
		echo "$2" >"$R/$1"
	fi
}
# wait_file_lines FILE N SECS: waits until FILE has N lines
wait_file_lines() {
	i=0
	while [ "$(cat "$1" 2>/dev/null | wc -l)" -lt "$2" ]; do
		[ $i -ge $(($3 * 20)) ] && return 1
		sleep 0.05
		i=$((i + 1))
	done
	return 0
}

# --- peers and tools ------------------------------------------------------
install_peers() {
	for pk in task-spooler:tsp nq:nq beanstalkd:beanstalkd wrk:wrk; do
		pkg=${pk%%:*} cmd=${pk#*:}
		command -v "$cmd" >/dev/null 2>&1 && continue
		if [ "$(id -u)" -ne 0 ]; then
			why "$cmd" "not installed (needs root: apt-get install $pkg)"
			continue
		fi
		say "installing $pkg"
		if [ -z "${APT_UPDATED:-}" ]; then
			DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1
			APT_UPDATED=1
		fi
		if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" \
		    >"$W/apt.$pkg" 2>&1; then
			why "$cmd" "apt-get install $pkg failed: $(tail -n 1 "$W/apt.$pkg" | cut -c1-60)"
		elif ! command -v "$cmd" >/dev/null 2>&1; then
			why "$cmd" "$pkg installed but no $cmd command"
		fi
	done
}
have() { command -v "$1" >/dev/null 2>&1 && [ ! -e "$W/why/$1" ]; }
version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }

install_peers
make --no-print-directory -s -f "$ROOT/tests/bench/tools.mk" -C "$ROOT" T="$T" \
    >"$W/tools.log" 2>&1 || { cat "$W/tools.log" >&2; say "cannot build the tools"; exit 1; }
for p in jobspool-apiserver jobspool-processor jobspool-cleaner; do
	[ -x "$BIN/$p" ] || { say "missing $BIN/$p (run make bench)"; exit 1; }
done
for c in curl jq; do
	command -v $c >/dev/null 2>&1 || { say "missing $c (make deps)"; exit 1; }
done
JSV=$("$BIN/jobspool-processor" --version 2>&1 | head -n 1)
say "jobspool: $JSV ($BIN); $(nproc) CPUs; work dir $W"

# --- jobspool helpers ------------------------------------------------------
# new_spool NAME: sets $S to a fresh spool directory
# discard PATH...: out of the way without deleting anything: renamed into
# $W/trash, which goes with $W at the end.  On ext4 without a journal,
# creating a file costs more for some 5-35 s after many files were
# deleted; deleting a run's files would put that cost on whatever system
# runs next (the cleaner's own scenario deletes, as it must).
TRASHN=0
discard() {
	mkdir -p "$W/trash"
	for d in "$@"; do
		[ -e "$d" ] || continue
		TRASHN=$((TRASHN + 1))
		mv "$d" "$W/trash/$TRASHN"
	done
}
new_spool() {
	S=$W/$1
	discard "$S"
	mkdir -p "$S/tmp"
	chmod 750 "$S" "$S/tmp"
}
# start_proc: a processor on $S (2 jobs at once, jobs as root like the
# peers), sets $PP; waits until it has run a warm-up job, then removes it
start_proc() {
	bg "$BIN/jobspool-processor" --spool "$S" -j 2 --user root \
	    --log-level warning "$@" 2>>"$W/processor.log"
	PP=$BG
	wid=$(cat /proc/sys/kernel/random/uuid)
	printf '{"command":["/bin/true"]}\n' >"$S/tmp/$wid.json" &&
		mv "$S/tmp/$wid.json" "$S/$wid.pending" || return 1
	i=0
	while [ ! -e "$S/$wid.completed" ]; do
		if [ $i -ge 1200 ] || ! kill -0 $PP 2>/dev/null; then
			say "processor did not run the warm-up job within 60 s; its log ends: $(tail -n 3 "$W/processor.log" | tr '\n' ' ')"
			stop $PP
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
	rm -f "$S/$wid.completed" "$S/$wid.log"
	return 0
}
# start_api: an apiserver on $S, 127.0.0.1, free port; sets $AP, $HP
start_api() {
	: >"$W/api.log.cur"
	bg "$BIN/jobspool-apiserver" --spool "$S" --listen 127.0.0.1:0 "$@" \
	    2>>"$W/api.log.cur"
	AP=$BG
	i=0
	while ! grep -q 'listening on http' "$W/api.log.cur"; do
		[ $i -ge 2400 ] && { cat "$W/api.log.cur" >&2; return 1; }
		kill -0 $AP 2>/dev/null || { cat "$W/api.log.cur" >&2; return 1; }
		sleep 0.05
		i=$((i + 1))
	done
	HP=$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$W/api.log.cur" | head -n 1)
	cat "$W/api.log.cur" >>"$W/apiserver.log"
}
# free_port: a TCP port nobody listens on right now (best effort)
free_port() {
	while :; do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
		grep -qi ":$(printf %04X $p) " /proc/net/tcp /proc/net/tcp6 2>/dev/null || break
	done
	echo $p
}
# sock_pid PATH: the PID of the process that listens on a unix socket
sock_pid() {
	ino=$(awk -v p="$1" '$8 == p { print $7; exit }' /proc/net/unix)
	[ -n "$ino" ] || return 0
	for d in /proc/[0-9]*; do
		ls -l "$d/fd" 2>/dev/null | grep -q "socket:\[$ino\]" && { echo "${d#/proc/}"; return 0; }
	done
}

# --- scenario 1 and 2: throughput, submission rate, limits ------------------
s1_jobspool() {	# mode: spool|http
	mode=$1
	new_spool s1
	start_proc || return 1
	if [ "$mode" = http ]; then
		start_api || return 1
	fi
	"$T/waitfiles" "$S" .completed,.failed "$NJ" 600 >"$W/wf.out" &
	wf=$!
	sleep 0.1
	t0=$(now_ns)
	if [ "$mode" = http ]; then
		"$T/submit" http "$HP" "$NJ" 0 - /bin/true || { stop $PP; stop $AP; return 1; }
	else
		"$T/submit" spool "$S" "$NJ" 0 - /bin/true || { stop $PP; return 1; }
	fi
	t1=$(now_ns)
	if ! wait $wf; then
		say "jobspool $mode: not all jobs finished"
		stop $PP; [ "$mode" = http ] && stop $AP
		return 1
	fi
	te=$(cut -d' ' -f1 "$W/wf.out")
	grep -q ' .failed=0' "$W/wf.out" || say "jobspool $mode: some jobs failed: $(cat "$W/wf.out")"
	rec "s1_js_$mode" "$(awk -v n="$NJ" -v a="$t0" -v b="$te" 'BEGIN { print n * 1e9 / (b - a) }')"
	recmax rss_proc_s1 "$(rss $PP)"
	if [ "$mode" = http ]; then
		rec s2_js_http "$(awk -v n="$NJ" -v a="$t0" -v b="$t1" 'BEGIN { print n * 1e9 / (b - a) }')"
		recmax rss_api_s1 "$(rss $AP)"
		stop $AP
	else
		rec s2_js_spool "$(awk -v n="$NJ" -v a="$t0" -v b="$t1" 'BEGIN { print n * 1e9 / (b - a) }')"
	fi
	stop $PP
	discard "$S"
}

tsp_start() {
	TS_SOCKET=$W/tsp.sock
	TMPDIR=$W/tsptmp
	export TS_SOCKET TMPDIR
	mkdir -p "$TMPDIR"
	tsp -S 2 >/dev/null 2>&1
	tsp /bin/true >/dev/null && tsp -w >/dev/null 2>&1
	TSP_PID=$(sock_pid "$TS_SOCKET")
}
tsp_stop() {
	[ -n "${TSP_PID:-}" ] && recmax "$1" "$(rss "$TSP_PID")"
	tsp -K >/dev/null 2>&1
	unset TS_SOCKET
	TMPDIR=/tmp
	discard "$W/tsptmp"
}
# tsp_idle: waits until no job is queued or running
tsp_idle() {
	i=0
	while tsp -l | awk 'NR > 1 && ($2 == "running" || $2 == "queued") { f = 1 } END { exit !f }'; do
		[ $i -ge 6000 ] && return 1
		sleep 0.02
		i=$((i + 1))
	done
}

s1_tsp() {
	tsp_start
	t0=$(now_ns)
	"$T/submit" exec - "$NCLI" 0 - tsp /bin/true >/dev/null || { tsp_stop x; return 1; }
	t1=$(now_ns)
	tsp -w >/dev/null 2>&1
	tsp_idle
	te=$(now_ns)
	n=$(tsp -l | awk 'NR > 1 && $2 == "finished"' | wc -l)
	rec s1_tsp "$(awk -v n="$NCLI" -v a="$t0" -v b="$te" 'BEGIN { print n * 1e9 / (b - a) }')"
	rec s2_tsp "$(awk -v n="$NCLI" -v a="$t0" -v b="$t1" 'BEGIN { print n * 1e9 / (b - a) }')"
	tsp_stop rss_tsp
}

s1_nq() {
	discard "$W/nqa" "$W/nqb"
	mkdir -p "$W/nqa" "$W/nqb"
	t0=$(now_ns)
	BENCH_NQDIRS=$W/nqa:$W/nqb "$T/submit" exec - "$NCLI" 0 - nq /bin/true >/dev/null || return 1
	t1=$(now_ns)
	NQDIR=$W/nqa nq -w >/dev/null 2>&1
	NQDIR=$W/nqb nq -w >/dev/null 2>&1
	te=$(now_ns)
	n=$(ls "$W/nqa" "$W/nqb" | grep -c '^,')
	[ "$n" -eq "$NCLI" ] || say "nq: $n job files, want $NCLI"
	rec s1_nq "$(awk -v n="$NCLI" -v a="$t0" -v b="$te" 'BEGIN { print n * 1e9 / (b - a) }')"
	rec s2_nq "$(awk -v n="$NCLI" -v a="$t0" -v b="$t1" 'BEGIN { print n * 1e9 / (b - a) }')"
	discard "$W/nqa" "$W/nqb"
}

bs_start() {
	discard "$W/bsbin"
	mkdir -p "$W/bsbin"
	for try in 1 2 3 4 5; do
		BSPORT=$(free_port)
		bg beanstalkd -l 127.0.0.1 -p "$BSPORT" -b "$W/bsbin" 2>>"$W/beanstalkd.log"
		BSP=$BG
		sleep 0.3
		kill -0 $BSP 2>/dev/null && return 0
	done
	return 1
}
s1_bs() {
	bs_start || return 1
	bg "$T/bsclient" work "$BSPORT"
	w1=$BG
	bg "$T/bsclient" work "$BSPORT"
	w2=$BG
	t0=$(now_ns)
	"$T/bsclient" put "$BSPORT" "$NJ" 0 - 2 /bin/true || { stop $w1; stop $w2; stop $BSP; return 1; }
	t1=$(now_ns)
	wait $w1
	r1=$?
	wait $w2
	r2=$?
	te=$(now_ns)
	if [ $r1 -eq 0 ] && [ $r2 -eq 0 ]; then
		rec s1_bs "$(awk -v n="$NJ" -v a="$t0" -v b="$te" 'BEGIN { print n * 1e9 / (b - a) }')"
		rec s2_bs "$(awk -v n="$NJ" -v a="$t0" -v b="$t1" 'BEGIN { print n * 1e9 / (b - a) }')"
	fi
	recmax rss_bs "$(rss $BSP)"
	stop $BSP
}

# s2_alone: the single client's durable POSTs with no processor running
# (row 2c): 2a is measured while the processor runs the jobs on the same
# disk and CPUs, the durable-write limit on its own
s2_alone() {
	new_spool s2
	start_api || return 1
	t0=$(now_ns)
	"$T/submit" http "$HP" "$NJ" 0 - /bin/true || { stop $AP; return 1; }
	t1=$(now_ns)
	rec s2_js_http_alone "$(awk -v n="$NJ" -v a="$t0" -v b="$t1" 'BEGIN { print n * 1e9 / (b - a) }')"
	stop $AP
	discard "$S"
}

scenario1() {
	say "scenario 1/2: throughput of $NJ x /bin/true (tsp, nq: $NCLI), $REPS reps"
	r=1
	while [ $r -le "$REPS" ]; do
		s1_jobspool spool || why s1_js_spool "run failed (see stderr)"
		s1_jobspool http || why s1_js_http "run failed (see stderr)"
		s2_alone || why s2_js_http_alone "run failed (see stderr)"
		if have tsp; then s1_tsp || say "tsp run failed"; fi
		if have nq; then s1_nq || say "nq run failed"; fi
		if have beanstalkd; then s1_bs || say "beanstalkd run failed"; fi
		rec lim_spawn "$("$T/spawnrate" "$NJ" 2)"
		discard "$W/fs"
		mkdir -p "$W/fs"
		rec lim_fsync "$("$T/fsyncrate" "$W/fs" 500 1)"
		discard "$W/fs"
		say "  rep $r: js spool $(tail -n 1 "$R/s1_js_spool" 2>/dev/null) js http $(tail -n 1 "$R/s1_js_http" 2>/dev/null) tsp $(tail -n 1 "$R/s1_tsp" 2>/dev/null) nq $(tail -n 1 "$R/s1_nq" 2>/dev/null) bs $(tail -n 1 "$R/s1_bs" 2>/dev/null) spawn $(tail -n 1 "$R/lim_spawn") fsync $(tail -n 1 "$R/lim_fsync") /s"
		S1_REPS=$r
		# an overloaded machine: fewer runs rather than over 15 minutes
		if [ $r -ge 2 ] && [ $(($(date +%s) - T0)) -ge "$S1_BUDGET" ]; then
			say "  scenario 1 budget (${S1_BUDGET}s) spent after $r runs"
			break
		fi
		r=$((r + 1))
	done
}

# --- scenario 3: submit -> start latency at low load -------------------------
# lat_rep KEY TSFILE STAMPFILE: per-rep median and p99 (ms) of start - submit
lat_rep() {
	awk 'NR == FNR { sub_[$1] = $2; next } ($1 in sub_) { printf "%.3f\n", ($2 - sub_[$1]) / 1e6 }' \
	    "$2" "$3" | sort -g >"$W/lat.sorted"
	n=$(wc -l <"$W/lat.sorted")
	if [ "$n" -lt "$LATN" ]; then
		say "$1: only $n of $LATN jobs started"
		return 1
	fi
	rec "${1}_med" "$(awk -v n="$n" 'NR == int((n + 1) / 2) { print }' "$W/lat.sorted")"
	rec "${1}_p99" "$(awk -v n="$n" 'BEGIN { k = int(n * 0.99 + 0.999) } NR == k { print }' "$W/lat.sorted")"
	cat "$W/lat.sorted" >>"$R/${1}_all"
}
s3_one() {	# system
	sys=$1
	r=1
	while [ $r -le "$REPS" ]; do
		F=$W/stamps
		rm -f "$F" "$W/ts"
		: >"$F"
		chmod 666 "$F"
		case $sys in
		js_spool) "$T/submit" spool "$S" "$LATN" $LAT_US "$W/ts" "$T/stamp" "$F" %d ;;
		js_http) "$T/submit" http "$HP" "$LATN" $LAT_US "$W/ts" "$T/stamp" "$F" %d ;;
		tsp) "$T/submit" exec - "$LATN" $LAT_US "$W/ts" tsp "$T/stamp" "$F" %d >/dev/null ;;
		nq) BENCH_NQDIRS=$W/nqa:$W/nqb "$T/submit" exec - "$LATN" $LAT_US "$W/ts" \
		    nq "$T/stamp" "$F" %d >/dev/null ;;
		bs) "$T/bsclient" put "$BSPORT" "$LATN" $LAT_US "$W/ts" 0 "$T/stamp" "$F" %d ;;
		lim) "$T/submit" exec - "$LATN" $LAT_US "$W/ts" "$T/stamp" "$F" %d ;;
		esac
		wait_file_lines "$F" "$LATN" 60 || say "$sys: latency jobs did not all start"
		lat_rep "s3_$sys" "$W/ts" "$F"
		r=$((r + 1))
	done
}
scenario3() {
	say "scenario 3: submit->start latency, $LATN jobs $((LAT_US / 1000)) ms apart, $REPS reps"
	new_spool s3
	if start_proc; then
		s3_one js_spool
		if start_api; then
			s3_one js_http
			recmax rss_api_s3 "$(rss $AP)"
			stop $AP
		fi
		recmax rss_proc_s3 "$(rss $PP)"
		stop $PP
	fi
	discard "$S"
	if have tsp; then
		tsp_start
		s3_one tsp
		tsp_idle
		tsp_stop rss_tsp
	fi
	if have nq; then
		discard "$W/nqa" "$W/nqb"
		mkdir -p "$W/nqa" "$W/nqb"
		s3_one nq
		NQDIR=$W/nqa nq -w >/dev/null 2>&1
		NQDIR=$W/nqb nq -w >/dev/null 2>&1
		discard "$W/nqa" "$W/nqb"
	fi
	if have beanstalkd && bs_start; then
		bg "$T/bsclient" work "$BSPORT"
		w1=$BG
		bg "$T/bsclient" work "$BSPORT"
		w2=$BG
		s3_one bs
		"$T/bsclient" put "$BSPORT" 0 0 - 2 /bin/true
		wait $w1
		wait $w2
		recmax rss_bs "$(rss $BSP)"
		stop $BSP
	fi
	s3_one lim
	say "  median ms: js spool $(medv s3_js_spool_med) js http $(medv s3_js_http_med) limit $(medv s3_lim_med)"
}

# --- scenario 4: HTTP server under wrk ---------------------------------------
# wrk_run KEY URL [SCRIPT]
wrk_run() {
	if [ -n "${3:-}" ]; then
		wrk -t2 -c32 -d"${WRK_SECS}s" -s "$3" "$2" >"$W/wrk.out" 2>&1
	else
		wrk -t2 -c32 -d"${WRK_SECS}s" "$2" >"$W/wrk.out" 2>&1
	fi
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$W/wrk.out")
	bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF } /Socket errors:/ { print "errors" }' "$W/wrk.out")
	if [ -z "$rps" ]; then
		say "$1: wrk failed: $(tail -n 2 "$W/wrk.out")"
		return 1
	fi
	[ -n "$bad" ] && { say "$1: wrk reported non-2xx/errors: $(grep -E 'Non-2xx|Socket errors' "$W/wrk.out" | tr '\n' ' ')"; echo "$1" >>"$W/wrk.bad"; }
	rec "$1" "$rps"
}
# wrk_reps KEY URL: $REPS runs of wrk_run against the same server
wrk_reps() {
	r=1
	while [ $r -le "$REPS" ]; do
		wrk_run "$1" "$2"
		r=$((r + 1))
	done
}
# min_start MODE [DIR]: the minimal libmicrohttpd server ("get", or "write"
# into DIR), sets $MP and $mport
min_start() {
	: >"$W/minhttpd.log"
	if [ "$1" = get ]; then
		bg "$T/minhttpd" 0 get 2>>"$W/minhttpd.log"
	else
		bg "$T/minhttpd" 0 write "$2" 2>>"$W/minhttpd.log"
	fi
	MP=$BG
	i=0
	while ! grep -q listening "$W/minhttpd.log" && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	mport=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$W/minhttpd.log" | head -n 1)
}
scenario4() {
	if ! have wrk; then
		say "scenario 4: skipped (no wrk)"
		return 0
	fi
	say "scenario 4: wrk -t2 -c32 -d${WRK_SECS}s, $REPS reps each"
	new_spool s4
	"$T/genspool" "$S" 1 completed
	id=$(ls "$S" | sed -n 's/\.completed$//p' | head -n 1)
	start_api || return 1
	wrk_reps s4_js_get "http://$HP/api/v1/jobs/$id?peek=1"
	recmax rss_api_s4 "$(rss $AP)"
	stop $AP
	discard "$S"
	min_start get
	wrk_reps s4_min_get "http://127.0.0.1:$mport/api/v1/jobs/x?peek=1"
	recmax rss_min "$(rss $MP)"
	stop $MP
	# The durable POSTs: jobspool's and the minimal server's runs take
	# turns, each on a new directory (see discard).
	r=1
	while [ $r -le "$REPS" ]; do
		new_spool "s4p$r"
		start_api || return 1
		wrk_run s4_js_post "http://$HP/api/v1/jobs" "$ROOT/tests/bench/post.lua"
		recmax rss_api_s4 "$(rss $AP)"
		stop $AP
		new_spool "s4m$r"
		min_start write "$S"
		wrk_run s4_min_post "http://127.0.0.1:$mport/api/v1/jobs" "$ROOT/tests/bench/post.lua"
		recmax rss_min "$(rss $MP)"
		stop $MP
		r=$((r + 1))
	done
	say "  req/s: js get $(medv s4_js_get) min get $(medv s4_min_get) js post $(medv s4_js_post) min post $(medv s4_min_post)"
}

# --- scenario 5: scale ----------------------------------------------------------
scenario5() {
	say "scenario 5: scale with $SCALE finished jobs"
	for nf in $SCALE; do
		new_spool s5
		[ "$nf" -gt 0 ] && "$T/genspool" "$S" "$nf" completed 0 1
		# claim: submit -> start latency with n finished jobs beside
		t0=$(now_ns)
		start_proc || { why "s5_claim_$nf" "processor failed"; continue; }
		rec "s5_pstart_$nf" "$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }')"
		LATN_SAVE=$LATN
		LATN=20
		r=1
		while [ $r -le "$REPS" ]; do
			F=$W/stamps
			rm -f "$F" "$W/ts"
			: >"$F"
			"$T/submit" spool "$S" $LATN $LAT_US "$W/ts" "$T/stamp" "$F" %d
			wait_file_lines "$F" $LATN 60 || say "claim $nf: jobs did not all start"
			lat_rep "s5_claim_$nf" "$W/ts" "$F"
			r=$((r + 1))
		done
		LATN=$LATN_SAVE
		recmax "rss_proc_s5_$nf" "$(rss $PP)"
		stop $PP
		# list: 100 pending beside n finished
		"$T/submit" spool "$S" 100 0 - /bin/true
		start_api || { why "s5_list_$nf" "apiserver failed"; continue; }
		got=$(curl -s "http://$HP/api/v1/jobs?status=pending&limit=100" | jq '.jobs | length')
		[ "$got" = 100 ] || say "list with $nf finished: $got jobs, want 100"
		r=1
		while [ $r -le "$REPS" ]; do
			rec "s5_list_$nf" "$(curl -s -o /dev/null -w '%{time_total}' \
			    "http://$HP/api/v1/jobs?status=pending&limit=100" |
			    awk '{ printf "%.3f\n", $1 * 1000 }')"
			rec "s5_lscan_$nf" "$("$T/dirscan" "$S" .pending | awk '{ printf "%.3f\n", $1 / 1000 }')"
			r=$((r + 1))
		done
		recmax "rss_api_s5_$nf" "$(rss $AP)"
		stop $AP
		say "  $nf finished: claim $(medv s5_claim_${nf}_med) ms, list $(medv s5_list_$nf) ms (readdir $(medv s5_lscan_$nf) ms), processor start $(tail -n 1 "$R/s5_pstart_$nf") ms"
		discard "$S"
	done
	# one cleaner pass over NCLEAN retrieved jobs (and their logs), then the
	# same removal by a bare readdir+unlink loop; reps within a budget
	say "scenario 5: cleaner over $NCLEAN retrieved jobs (budget ${CLEAN_BUDGET}s)"
	start=$(date +%s)
	r=1
	while [ $r -le "$REPS" ]; do
		new_spool s5c
		"$T/genspool" "$S" "$NCLEAN" retrieved 7200 1
		sync -f "$S" 2>/dev/null
		t0=$(now_ns)
		"$BIN/jobspool-cleaner" --spool "$S" >>"$W/cleaner.log" 2>&1 ||
			say "cleaner failed: $(tail -n 1 "$W/cleaner.log")"
		t1=$(now_ns)
		left=$(ls "$S" | grep -c '\.retrieved$')
		[ "$left" -eq 0 ] || say "cleaner left $left retrieved jobs"
		rec s5_clean "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }')"
		new_spool s5c
		"$T/genspool" "$S" "$NCLEAN" retrieved 7200 1
		sync -f "$S" 2>/dev/null
		rec s5_unlink "$("$T/dirscan" "$S" .retrieved unlink | awk '{ printf "%.3f\n", $1 / 1e6 }')"
		discard "$S"
		say "  rep $r: cleaner $(tail -n 1 "$R/s5_clean") s, readdir+unlink $(tail -n 1 "$R/s5_unlink") s"
		[ $(($(date +%s) - start)) -ge "$CLEAN_BUDGET" ] && break
		# keep the whole run under 15 minutes
		[ $(($(date +%s) - T0)) -ge 760 ] && break
		r=$((r + 1))
	done
	CLEAN_REPS=$(wc -l <"$R/s5_clean")
}

# --- scenario 7: log follow ----------------------------------------------------
scenario7() {
	say "scenario 7: $NFOLLOW followers of one job, $REPS reps of 5 lines"
	new_spool s7
	start_proc || return 1
	start_api --max-connections 2048 || return 1
	id=$(curl -s -d '{"command":["/bin/sleep","600"]}' "http://$HP/api/v1/jobs" | jq -r .id)
	i=0
	while [ ! -e "$S/$id.wip" ] || [ ! -e "$S/$id.log" ]; do
		[ $i -ge 600 ] && { say "follow: the job did not start"; stop $AP; stop $PP; return 1; }
		sleep 0.05
		i=$((i + 1))
	done
	r=1
	while [ $r -le "$REPS" ]; do
		"$T/follow" "$HP" "$id" "$S/$id.log" $NFOLLOW 5 >"$W/follow.out" 2>>"$W/follow.err" ||
			say "follow failed: $(tail -n 1 "$W/follow.err")"
		if grep -q timeout "$W/follow.out"; then
			say "follow: $(grep timeout "$W/follow.out" | head -n 1) received a line within 5 s"
			rec s7_timeouts "$(grep -c timeout "$W/follow.out")"
		fi
		v=$(awk '$1 != "timeout" { print $1 / 1000 }' "$W/follow.out" | sort -g |
		    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }')
		[ -n "$v" ] && rec s7_js "$v"
		"$T/follow" tail x "$S/$id.log" 1 5 >"$W/follow.out" 2>>"$W/follow.err"
		v=$(awk '$1 != "timeout" { print $1 / 1000 }' "$W/follow.out" | sort -g |
		    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }')
		[ -n "$v" ] && rec s7_lim "$v"
		r=$((r + 1))
	done
	recmax rss_api_s7 "$(rss $AP)"
	recmax rss_proc_s7 "$(rss $PP)"
	curl -s -X DELETE "http://$HP/api/v1/jobs/$id" >/dev/null
	stop $AP
	stop $PP
	discard "$S"
	say "  all $NFOLLOW received: $(medv s7_js) ms; one tail -f: $(medv s7_lim) ms"
}

# --- scenarios 8 and 9: a remote processor, the Slurm executor -------------------
# sub_results NAME: where remote.sh / slurm.sh write their own table
sub_results() {
	if [ "$OUT" = "$DEF_OUT" ]; then echo "$ROOT/tests/bench/$1-results.md"; else echo "$W/$1-results.md"; fi
}
scenario8() {
	[ "${BENCH_REMOTE:-1}" = 0 ] && { why s8_remote_tput "skipped (BENCH_REMOTE=0)"; return 0; }
	say "scenario 8: a remote processor against a local one (tests/bench/remote.sh)"
	mkdir -p "$W/trash"
	B=$BIN N=${BENCH_REMOTE_JOBS:-500} REPS=${BENCH_REMOTE_REPS:-3} RAW=$R TRASH=$W/trash \
	    RESULTS=$(sub_results remote) sh "$ROOT/tests/bench/remote.sh" >"$W/remote.out" 2>&1 ||
		{ why s8_remote_tput "remote.sh failed: $(tail -n 1 "$W/remote.out" | cut -c1-80)"; say "remote.sh failed"; }
	say "  jobs/s: remote $(medv s8_remote_tput) local $(medv s8_local_tput)"
}
scenario9() {
	[ "${BENCH_SLURM:-1}" = 0 ] && { why s9_js_tput "skipped (BENCH_SLURM=0)"; return 0; }
	say "scenario 9: the Slurm executor against sbatch alone (tests/bench/slurm.sh)"
	B=$BIN N=${BENCH_SLURM_JOBS:-${SLURM_BENCH_JOBS:-30}} REPS=${BENCH_SLURM_REPS:-${SLURM_BENCH_REPS:-3}} \
	    RAW=$R RESULTS=$(sub_results slurm) sh "$ROOT/tests/bench/slurm.sh" >"$W/slurm.out" 2>&1 ||
		{ why s9_js_tput "slurm.sh failed: $(tail -n 1 "$W/slurm.out" | cut -c1-80)"; say "slurm.sh failed"; }
	[ -s "$R/s9_why" ] && why s9_js_tput "Slurm cannot run here: $(head -n 1 "$R/s9_why" | cut -c1-80)"
	say "  jobs/s: jobspool --executor slurm $(medv s9_js_tput) sbatch $(medv s9_sb_tput)"
}

# Scenario 5 removes some 400,000 files (two cleaner passes and their
# readdir+unlink references over 100,000 jobs); on ext4 without a journal
# every file created in the next minutes first skips the inodes removed
# (the kernel's recently_deleted), so the scenarios that create files run
# before it, and what runs after it (7: one log, 9: sbatch-bound) does not.
scenario1
scenario3
scenario4
scenario8
scenario7
scenario5
scenario9
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the table -----------------------------------------------------------------
# stat KEY: "median min max" of the values, or nothing
stat() {
	[ -s "$R/$1" ] || return 0
	sort -g "$R/$1" | awk '{ a[NR] = $1 } END {
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		print m, a[1], a[NR], NR }'
}
fmt() { awk -v v="$1" 'BEGIN {
	if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v;
	else if (v >= 1) printf "%.2f", v; else printf "%.3f", v }'; }
# cell KEY [REASON-KEY]: "median [min–max]" or why it is missing
cell() {
	s=$(stat "$1")
	if [ -n "$s" ]; then
		set -- $s
		echo "$(fmt "$1") [$(fmt "$2")–$(fmt "$3")]"
	elif [ -e "$W/why/${2:-$1}" ]; then
		echo "n/a: $(cat "$W/why/${2:-$1}")"
	else
		echo "failed (see stderr)"
	fi
}
med() { s=$(stat "$1"); [ -n "$s" ] && echo "${s%% *}"; }
# rnum A B: med(A)/med(B) rounded as the table shows it, or nothing
rnum() {
	a=$(med "$1") b=$(med "$2")
	[ -n "$a" ] && [ -n "$b" ] &&
		awk -v a="$a" -v b="$b" 'BEGIN { if (b != 0) printf "%.2f\n", a / b }'
}
# ratio A B: med(A)/med(B) as "x.xx×", or "–"
ratio() { v=$(rnum "$1" "$2"); if [ -n "$v" ]; then echo "$v×"; else echo "–"; fi; }
one() { s=$(stat "$1"); [ -n "$s" ] && fmt "${s%% *}"; }

# The previous table: $W/prev.tab holds lines "KEY COL VALUE".  KEY is the
# row's number (1a, 2b, 6c, ...), or claim_N, list_N, clean for the rows of
# scenario 5 that tables before issue 21 all numbered "5."; COL is js (the
# jobspool cell) or tsp, nq, bs, lim (its ratio columns); VALUE the first
# number of the cell.
prev_parse() {
	awk -F'|' '
	function num(c) {
		sub(/^ +/, "", c)
		if (!match(c, /^[0-9]+(\.[0-9]+)?/)) return ""
		return substr(c, RSTART, RLENGTH)
	}
	NF >= 12 && $2 !~ /^ *(scenario|---) *$/ {
		l = $2
		sub(/^ +/, "", l)
		if (l ~ /claim latency/ || (l ~ /status=pending/ && l !~ /÷/)) {
			match(l, /[0-9]+ finished/)
			n = substr(l, RSTART, RLENGTH)
			sub(/ .*/, "", n)
			k = (l ~ /claim latency/ ? "claim_" : "list_") n
		} else if (l ~ /cleaner pass/) {
			k = "clean"
		} else {
			k = l
			sub(/\..*/, "", k)
		}
		nc = split("js:3 tsp:8 nq:9 bs:10 lim:11", cols, " ")
		for (i = 1; i <= nc; i++) {
			split(cols[i], kc, ":")
			v = num($(kc[2]))
			if (v != "") print k, kc[1], v
		}
		if (k == "6a" && match($3, /s7 [0-9.]+/))
			print "6a_s7", "js", substr($3, RSTART + 3, RLENGTH - 3)
	}' "$1"
}
# prev_sub FILE KEY...: the rows of remote-results.md or slurm-results.md
# (throughput, submission to start, follower) as KEY js / KEY lim
prev_sub() {
	f=$1
	shift
	awk -F'|' -v keys="$*" '
	function num(c) {
		sub(/^ +/, "", c)
		if (!match(c, /^[0-9]+(\.[0-9]+)?/)) return ""
		return substr(c, RSTART, RLENGTH)
	}
	BEGIN { split(keys, k, " ") }
	$2 ~ /throughput/ { i = 1 } $2 ~ /submission to start/ { i = 2 } $2 ~ /follower/ { i = 3 }
	i && k[i] != "" {
		if (num($3) != "") print k[i], "js", num($3)
		if (num($5) != "") print k[i], "lim", num($5)
		i = 0
	}' "$f"
}
prev() { awk -v k="$1" -v c="$2" '$1 == k && $2 == c { v = $3 } END { if (v != "") print v }' "$W/prev.tab"; }
NMIN=$(echo $SCALE | awk '{ print $1 }')
NMAX=$(echo $SCALE | awk '{ print $NF }')
: >"$W/prev.tab"
PREV_DATE=""
if [ -s "$W/prev/last.md" ]; then
	prev_parse "$W/prev/last.md" >>"$W/prev.tab"
	PREV_DATE=$(sed -n '1s/^## jobspool benchmark — //p' "$W/prev/last.md")
fi
# rows the previous table may not have had
[ -z "$(prev 8a lim)" ] && [ -s "$W/prev/remote.md" ] && prev_sub "$W/prev/remote.md" 8a 8b 8c >>"$W/prev.tab"
[ -z "$(prev 9a lim)" ] && [ -s "$W/prev/slurm.md" ] && prev_sub "$W/prev/slurm.md" 9a 9b >>"$W/prev.tab"
if [ -z "$(prev 5c lim)" ] && [ -n "$(prev "list_$NMAX" js)" ] && [ -n "$(prev "list_$NMIN" js)" ]; then
	awk -v a="$(prev "list_$NMAX" js)" -v b="$(prev "list_$NMIN" js)" \
	    'BEGIN { if (b > 0) printf "5c lim %.2f\n", a / b }' >>"$W/prev.tab"
fi
[ -z "$(prev 6c js)" ] && [ -n "$(prev 6a_s7 js)" ] && echo "6c js $(prev 6a_s7 js)" >>"$W/prev.tab"

# rc A B KEY COL: the ratio of A to B, the previous table's beside it
rc() {
	p=$(prev "$3" "$4")
	echo "$(ratio "$1" "$2")${p:+ (prev ${p}×)}"
}
peercell() {	# peer-command key
	if have "$1"; then cell "$2"; else echo "n/a: $(cat "$W/why/$1" 2>/dev/null || echo "not installed")"; fi
}
peerrc() { if have "$1"; then shift; rc "$@"; else echo "–"; fi; }
row() { printf '| %s |' "$1"; shift; for c in "$@"; do printf ' %s |' "$c"; done; printf '\n'; }
rss_cell() {	# keys...: max of them, and each
	out="" max=0
	for k in "$@"; do
		v=$(cat "$R/$k" 2>/dev/null)
		[ -n "$v" ] || continue
		out="$out${out:+, }${k#rss_*_} $v"
		max=$(awk -v a="$max" -v b="$v" 'BEGIN { print (b > a ? b : a) }')
	done
	echo "$max MiB ($out)"
}
rss_max() { for k in "$@"; do cat "$R/$k" 2>/dev/null; done | sort -g | tail -n 1; }
# tgt ROW KEY COL VALUE OP BOUND UNIT WHAT: one target of issue 21.  VALUE is
# this run's (a ratio as the table rounds it, or MiB), OP ge or le, UNIT "×"
# or " MiB", WHAT what the bound is relative to.  Prints the verdict for the
# row's last cell and adds a line to the targets table.
tgt() {
	p=$(prev "$2" "$3")
	sym=$([ "$5" = ge ] && echo "≥" || echo "≤")
	if [ -z "$4" ]; then
		verdict="not measured"
	elif awk -v v="$4" -v t="$6" -v op="$5" 'BEGIN { exit !(op == "ge" ? v >= t : v <= t) }'; then
		verdict="met"
	else
		verdict="**not met**"
	fi
	row "$1" "$sym $6$7${8:+ $8}" "$([ -n "$4" ] && echo "$4$7" || echo "–")" "$([ -n "$p" ] && echo "$p$7" || echo "–")" "$verdict" >>"$W/targets"
	echo "$sym $6$7${8:+ $8}: $verdict"
}
NA_HTTP="n/a (no HTTP API)"
NA="n/a (no equivalent)"
NA_REM="n/a (no remote workers)"
LIST="GET /api/v1/jobs?status=pending&limit=100 (100 pending)"
RSS_PROC_LOCAL="rss_proc_s1 rss_proc_s3 rss_proc_s5_0 rss_proc_s5_10000 rss_proc_s5_100000 rss_proc_s7 rss_proc_s8"
: >"$W/targets"

{
	row "scenario" "jobspool" "tsp" "nq" "beanstalkd" "physical limit / reference" "jobspool/tsp" "jobspool/nq" "jobspool/beanstalkd" "jobspool/limit" "issue 21 target: this run"
	row "---" "---" "---" "---" "---" "---" "---" "---" "---" "---" "---"
	row "1a. throughput, /bin/true, 2 at once, jobs/s ↑ — jobspool via HTTP API" \
	    "$(cell s1_js_http)" "$(peercell tsp s1_tsp)" "$(peercell nq s1_nq)" "$(peercell beanstalkd s1_bs)" \
	    "$(cell lim_spawn) (posix_spawn+wait, 2 at once)" \
	    "$(peerrc tsp s1_js_http s1_tsp 1a tsp)" "$(peerrc nq s1_js_http s1_nq 1a nq)" "$(peerrc beanstalkd s1_js_http s1_bs 1a bs)" "$(rc s1_js_http lim_spawn 1a lim)" \
	    "$(tgt "1a. throughput via HTTP" 1a bs "$(rnum s1_js_http s1_bs)" ge 1.0 × beanstalkd); $(tgt "1a. throughput via HTTP" 1a lim "$(rnum s1_js_http lim_spawn)" ge 0.6 × "the posix_spawn limit")"
	row "1b. throughput, same, jobspool via direct spool submission (tmp + rename), jobs/s ↑" \
	    "$(cell s1_js_spool)" "$(peercell tsp s1_tsp)" "$(peercell nq s1_nq)" "$(peercell beanstalkd s1_bs)" \
	    "$(cell lim_spawn) (posix_spawn+wait, 2 at once)" \
	    "$(peerrc tsp s1_js_spool s1_tsp 1b tsp)" "$(peerrc nq s1_js_spool s1_nq 1b nq)" "$(peerrc beanstalkd s1_js_spool s1_bs 1b bs)" "$(rc s1_js_spool lim_spawn 1b lim)" \
	    "$(tgt "1b. throughput via the spool" 1b bs "$(rnum s1_js_spool s1_bs)" ge 1.0 × beanstalkd); $(tgt "1b. throughput via the spool" 1b lim "$(rnum s1_js_spool lim_spawn)" ge 0.6 × "the posix_spawn limit")"
	row "2a. submission rate, 1 client one job after another, jobs/s ↑ — jobspool: durable HTTP POST" \
	    "$(cell s2_js_http)" "$(peercell tsp s2_tsp)" "$(peercell nq s2_nq)" "$(peercell beanstalkd s2_bs)" \
	    "$(cell lim_fsync) (tmp write+fsync+rename+dir fsync, 1 writer)" \
	    "$(peerrc tsp s2_js_http s2_tsp 2a tsp)" "$(peerrc nq s2_js_http s2_nq 2a nq)" "$(peerrc beanstalkd s2_js_http s2_bs 2a bs)" "$(rc s2_js_http lim_fsync 2a lim)" \
	    "$(tgt "2a. single-client durable POST" 2a lim "$(rnum s2_js_http lim_fsync)" ge 0.8 × "the single durable write")"
	row "2b. submission rate, jobspool direct spool (write+rename, no fsync, like printf+mv), jobs/s ↑" \
	    "$(cell s2_js_spool)" "$(peercell tsp s2_tsp)" "$(peercell nq s2_nq)" "$(peercell beanstalkd s2_bs)" \
	    "$(cell lim_fsync) (durable write, for scale)" \
	    "$(peerrc tsp s2_js_spool s2_tsp 2b tsp)" "$(peerrc nq s2_js_spool s2_nq 2b nq)" "$(peerrc beanstalkd s2_js_spool s2_bs 2b bs)" "$(rc s2_js_spool lim_fsync 2b lim)" "–"
	row "2c. submission rate, 1 client one job after another, jobs/s ↑ — jobspool: durable HTTP POST with no processor running" \
	    "$(cell s2_js_http_alone)" "$(peercell tsp s2_tsp)" "$(peercell nq s2_nq)" "$(peercell beanstalkd s2_bs)" \
	    "$(cell lim_fsync) (tmp write+fsync+rename+dir fsync, 1 writer)" \
	    "$(peerrc tsp s2_js_http_alone s2_tsp 2c tsp)" "$(peerrc nq s2_js_http_alone s2_nq 2c nq)" "$(peerrc beanstalkd s2_js_http_alone s2_bs 2c bs)" "$(rc s2_js_http_alone lim_fsync 2c lim)" \
	    "$(tgt "2c. single-client durable POST, no processor" 2c lim "$(rnum s2_js_http_alone lim_fsync)" ge 0.8 × "the single durable write")"
	row "3a. submit→start latency, median, ms ↓ — jobspool via spool" \
	    "$(cell s3_js_spool_med)" "$(peercell tsp s3_tsp_med)" "$(peercell nq s3_nq_med)" "$(peercell beanstalkd s3_bs_med)" \
	    "$(cell s3_lim_med) (posix_spawn → process start)" \
	    "$(peerrc tsp s3_js_spool_med s3_tsp_med 3a tsp)" "$(peerrc nq s3_js_spool_med s3_nq_med 3a nq)" "$(peerrc beanstalkd s3_js_spool_med s3_bs_med 3a bs)" "$(rc s3_js_spool_med s3_lim_med 3a lim)" \
	    "$(tgt "3a. submit→start median via the spool" 3a bs "$(rnum s3_js_spool_med s3_bs_med)" le 1.2 × beanstalkd)"
	row "3b. submit→start latency, median, ms ↓ — jobspool via HTTP (incl. the durable POST)" \
	    "$(cell s3_js_http_med)" "$(peercell tsp s3_tsp_med)" "$(peercell nq s3_nq_med)" "$(peercell beanstalkd s3_bs_med)" \
	    "$(cell s3_lim_med) (posix_spawn → process start)" \
	    "$(peerrc tsp s3_js_http_med s3_tsp_med 3b tsp)" "$(peerrc nq s3_js_http_med s3_nq_med 3b nq)" "$(peerrc beanstalkd s3_js_http_med s3_bs_med 3b bs)" "$(rc s3_js_http_med s3_lim_med 3b lim)" \
	    "$(tgt "3b. submit→start median via HTTP" 3b bs "$(rnum s3_js_http_med s3_bs_med)" le 1.2 × beanstalkd)"
	row "3c. submit→start latency, p99, ms ↓ — jobspool via spool" \
	    "$(cell s3_js_spool_p99)" "$(peercell tsp s3_tsp_p99)" "$(peercell nq s3_nq_p99)" "$(peercell beanstalkd s3_bs_p99)" \
	    "$(cell s3_lim_p99)" \
	    "$(peerrc tsp s3_js_spool_p99 s3_tsp_p99 3c tsp)" "$(peerrc nq s3_js_spool_p99 s3_nq_p99 3c nq)" "$(peerrc beanstalkd s3_js_spool_p99 s3_bs_p99 3c bs)" "$(rc s3_js_spool_p99 s3_lim_p99 3c lim)" "–"
	row "3d. submit→start latency, p99, ms ↓ — jobspool via HTTP" \
	    "$(cell s3_js_http_p99)" "$(peercell tsp s3_tsp_p99)" "$(peercell nq s3_nq_p99)" "$(peercell beanstalkd s3_bs_p99)" \
	    "$(cell s3_lim_p99)" \
	    "$(peerrc tsp s3_js_http_p99 s3_tsp_p99 3d tsp)" "$(peerrc nq s3_js_http_p99 s3_nq_p99 3d nq)" "$(peerrc beanstalkd s3_js_http_p99 s3_bs_p99 3d bs)" "$(rc s3_js_http_p99 s3_lim_p99 3d lim)" "–"
	if have wrk; then
		row "4a. HTTP GET /api/v1/jobs/{id}?peek=1, wrk -t2 -c32 -d${WRK_SECS}s, req/s ↑" \
		    "$(cell s4_js_get)" "$NA_HTTP" "$NA_HTTP" "$NA_HTTP" \
		    "$(cell s4_min_get) (minimal libmicrohttpd, thread per connection, fixed 200-byte JSON)" \
		    "–" "–" "–" "$(rc s4_js_get s4_min_get 4a lim)" \
		    "$(tgt "4a. GET, 32 clients" 4a lim "$(rnum s4_js_get s4_min_get)" ge 0.7 × "the minimal server")"
		row "4b. HTTP durable POST /api/v1/jobs, wrk -t2 -c32 -d${WRK_SECS}s, req/s ↑" \
		    "$(cell s4_js_post)" "$NA_HTTP" "$NA_HTTP" "$NA_HTTP" \
		    "$(cell s4_min_post) (same server, one durable write per request)" \
		    "–" "–" "–" "$(rc s4_js_post s4_min_post 4b lim)" \
		    "$(tgt "4b. durable POST, 32 clients" 4b lim "$(rnum s4_js_post s4_min_post)" ge 1.0 × "the one-write-per-request server")"
	else
		row "4. HTTP under wrk" "n/a: $(cat "$W/why/wrk" 2>/dev/null || echo "wrk not installed")" "$NA_HTTP" "$NA_HTTP" "$NA_HTTP" "n/a (needs wrk)" "–" "–" "–" "–" \
		    "$(tgt "4a. GET, 32 clients" 4a lim "" ge 0.7 × "the minimal server"); $(tgt "4b. durable POST, 32 clients" 4b lim "" ge 1.0 × "the one-write-per-request server")"
	fi
	for n in $SCALE; do
		row "5a. claim latency (submit→start, median of 20 jobs $((LAT_US / 1000)) ms apart), $n finished jobs in the spool, ms ↓" \
		    "$(cell "s5_claim_${n}_med")" "$NA" "$NA" "$NA" \
		    "$(cell s3_lim_med) (posix_spawn → start)" "–" "–" "–" "$(rc "s5_claim_${n}_med" s3_lim_med "claim_$n" lim)" "–"
	done
	for n in $SCALE; do
		row "5b. $LIST, $n finished jobs, ms ↓" \
		    "$(cell "s5_list_$n")" "$NA_HTTP" "$NA_HTTP" "$NA_HTTP" \
		    "$(cell "s5_lscan_$n") (one readdir pass of the spool)" "–" "–" "–" "$(rc "s5_list_$n" "s5_lscan_$n" "list_$n" lim)" "–"
	done
	if [ "$NMIN" != "$NMAX" ]; then
		row "5c. $LIST at $NMAX finished jobs ÷ the same at $NMIN, ms ↓" \
		    "$(cell "s5_list_$NMAX")" "$NA_HTTP" "$NA_HTTP" "$NA_HTTP" \
		    "$(cell "s5_list_$NMIN") (the same list at $NMIN finished)" "–" "–" "–" "$(rc "s5_list_$NMAX" "s5_list_$NMIN" 5c lim)" \
		    "$(tgt "5c. pending list at $NMAX finished" 5c lim "$(rnum "s5_list_$NMAX" "s5_list_$NMIN")" le 1.5 × "its cost at $NMIN")"
	fi
	row "5d. one jobspool-cleaner pass over $NCLEAN retrieved jobs + logs, s ↓ ($CLEAN_REPS runs)" \
	    "$(cell s5_clean)" "$NA" "$NA" "$NA" \
	    "$(cell s5_unlink) (readdir + unlink of the same files, one dir fsync)" "–" "–" "–" "$(rc s5_clean s5_unlink clean lim)" "–"
	row "6a. peak RSS (VmHWM) of jobspool-apiserver, MiB ↓, max over scenarios" \
	    "$(rss_cell rss_api_s1 rss_api_s3 rss_api_s4 rss_api_s5_0 rss_api_s5_10000 rss_api_s5_100000 rss_api_s7)" \
	    "n/a (no server)" "n/a (no server)" "n/a (no HTTP)" \
	    "$(cat "$R/rss_min" 2>/dev/null || echo "?") MiB (minimal libmicrohttpd under wrk)" "–" "–" "–" \
	    "$(awk -v a="$(cat "$R/rss_api_s4" 2>/dev/null || echo 0)" -v b="$(cat "$R/rss_min" 2>/dev/null || echo 0)" 'BEGIN { if (b > 0) printf "%.2f× (under wrk)", a / b; else print "–" }')" "–"
	row "6b. peak RSS (VmHWM) of jobspool-processor in local mode, MiB ↓, max over scenarios" \
	    "$(rss_cell $RSS_PROC_LOCAL)" \
	    "$(if have tsp; then echo "$(cat "$R/rss_tsp" 2>/dev/null || echo "?") MiB (tsp server)"; else peercell tsp x; fi)" \
	    "n/a (no daemon; one waiting process per queued job)" \
	    "$(if have beanstalkd; then echo "$(cat "$R/rss_bs" 2>/dev/null || echo "?") MiB (beanstalkd; + workers)"; else peercell beanstalkd x; fi)" \
	    "–" \
	    "$(awk -v a="$(cat "$R/rss_proc_s1" 2>/dev/null || echo 0)" -v b="$(cat "$R/rss_tsp" 2>/dev/null || echo 0)" 'BEGIN { if (b > 0) printf "%.2f× (scenario 1)", a / b; else print "–" }')" \
	    "–" \
	    "$(awk -v a="$(cat "$R/rss_proc_s1" 2>/dev/null || echo 0)" -v b="$(cat "$R/rss_bs" 2>/dev/null || echo 0)" 'BEGIN { if (b > 0) printf "%.2f× (scenario 1)", a / b; else print "–" }')" "–" \
	    "$(tgt "6b. processor RSS, local mode" 6b js "$(rss_max $RSS_PROC_LOCAL)" le 3 " MiB" "")"
	v=$(cat "$R/rss_api_s7" 2>/dev/null)
	row "6c. peak RSS (VmHWM) of jobspool-apiserver with $NFOLLOW log followers (scenario 7), MiB ↓" \
	    "${v:-?} MiB" "$NA_HTTP" "$NA_HTTP" "$NA_HTTP" "–" "–" "–" "–" "–" \
	    "$(tgt "6c. apiserver RSS, $NFOLLOW followers" 6c js "$v" le 12 " MiB" "")"
	v=$(cat "$R/rss_proc_remote" 2>/dev/null)
	row "6d. peak RSS (VmHWM) of a remote jobspool-processor (--server, scenario 8), MiB ↓" \
	    "${v:-?} MiB" "$NA_REM" "$NA_REM" "$NA_REM" "$(cat "$R/rss_proc_s8" 2>/dev/null || echo "?") MiB (the local processor of scenario 8)" \
	    "–" "–" "–" "$(awk -v a="${v:-0}" -v b="$(cat "$R/rss_proc_s8" 2>/dev/null || echo 0)" 'BEGIN { if (a > 0 && b > 0) printf "%.2f×", a / b; else print "–" }')" "–"
	row "7. log follow: $NFOLLOW HTTP followers of one job, line written → all received, ms ↓" \
	    "$(cell s7_js)" "$NA_HTTP" "$NA_HTTP" "$NA_HTTP" \
	    "$(cell s7_lim) (one local tail -f)" "–" "–" "–" "$(rc s7_js s7_lim 7 lim)" "–"
	row "8a. remote processor (--server, loopback HTTP, -j 2) throughput, /bin/true, jobs/s ↑" \
	    "$(cell s8_remote_tput)" "$NA_REM" "$NA_REM" "$NA_REM" \
	    "$(cell s8_local_tput s8_remote_tput) (a local processor on the same spool, -j 2)" "–" "–" "–" "$(rc s8_remote_tput s8_local_tput 8a lim)" \
	    "$(tgt "8a. remote processor throughput" 8a lim "$(rnum s8_remote_tput s8_local_tput)" ge 0.9 × "a local processor")"
	row "8b. remote processor: submission → start, ms ↓" \
	    "$(cell s8_remote_lat s8_remote_tput)" "$NA_REM" "$NA_REM" "$NA_REM" \
	    "$(cell s8_local_lat s8_remote_tput) (local processor)" "–" "–" "–" "$(rc s8_remote_lat s8_local_lat 8b lim)" "–"
	row "8c. remote processor: a job's log line → a follower on the apiserver, ms ↓" \
	    "$(cell s8_remote_follow s8_remote_tput)" "$NA_REM" "$NA_REM" "$NA_REM" \
	    "$(cell s8_local_follow s8_remote_tput) (local processor)" "–" "–" "–" "$(rc s8_remote_follow s8_local_follow 8c lim)" "–"
	row "9a. Slurm executor (--executor slurm, -j 16, single-node Slurm) throughput, /bin/true, jobs/s ↑" \
	    "$(cell s9_js_tput)" "$NA" "$NA" "$NA" \
	    "$(cell s9_sb_tput s9_js_tput) (sbatch alone, one job after another)" "–" "–" "–" "$(rc s9_js_tput s9_sb_tput 9a lim)" \
	    "$(tgt "9a. Slurm executor throughput" 9a lim "$(rnum s9_js_tput s9_sb_tput)" ge 0.8 × "sbatch alone")"
	row "9b. Slurm executor: submission → start, ms ↓" \
	    "$(cell s9_js_lat s9_js_tput)" "$NA" "$NA" "$NA" \
	    "$(cell s9_sb_lat s9_js_tput) (sbatch alone)" "–" "–" "–" "$(rc s9_js_lat s9_sb_lat 9b lim)" "–"
} >"$W/main.md"

NMET=$(grep -c '| met |$' "$W/targets")
NTGT=$(wc -l <"$W/targets")
{
	echo "\`make bench\` on $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, spool on $(df -PT "$W" | awk 'NR == 2 { print $2 }'); $JSV (gcc -O2);"
	echo "task-spooler $(version task-spooler), nq $(version nq), beanstalkd $(version beanstalkd) (binlog on, default fsync), wrk $(version wrk). Load average (1, 5, 15 min) $LOAD0 at the start, $LOAD1 at the end; whole run $(($(date +%s) - T0)) s."
	echo "Cells: median [min–max] of $REPS runs (scenario 1: $S1_REPS, the cleaner: $CLEAN_REPS, scenario 8: ${BENCH_REMOTE_REPS:-3}, scenario 9: ${BENCH_SLURM_REPS:-${SLURM_BENCH_REPS:-3}}) unless noted. ↑ = higher is better, ↓ = lower is better; ratios are of medians. \"prev\" is the same ratio in the previous table${PREV_DATE:+ ($PREV_DATE)}."
	echo
	echo "Targets of issue 21 met by this run: $NMET of $NTGT."
	echo
	row "row" "target (issue 21)" "this run" "previous table" "verdict"
	row "---" "---" "---" "---" "---"
	cat "$W/targets"
	echo
	cat "$W/main.md"
	echo
	echo "Notes:"
	echo "- Scenario 1: the time from the first submission to the last job's final state (jobspool: its .completed file; tsp: \`tsp -l\` shows none queued or running; nq: \`nq -w\` on both queues; beanstalkd: both workers have deleted their last job). $NJ jobs per run for jobspool and beanstalkd, $NCLI for tsp and nq (the issue asks 2,000: at the 30–150 jobs/s of this 2-CPU machine, 2,000 × 5 runs × 5 systems alone would take over 15 minutes; the rates are per second, so they compare; \`BENCH_JOBS=2000 make bench\` for the full size). jobspool: \`jobspool-processor -j 2 --user root\`; tsp: \`tsp -S 2\`; nq: two queues (NQDIR) used alternately; beanstalkd: two minimal C workers (reserve, posix_spawn, delete). Every job's output is captured to a file except beanstalkd's."
	echo "- 2a/2b: the submission phase of scenario 1 on its own (one client, one job after another; jobspool HTTP over one keep-alive connection), timed while the processor runs the jobs already submitted. 2c: the same POSTs to an apiserver on a spool no processor works on (the durable POST alone, as the limit is measured alone); 2a stays as the issue's row. The physical limit is one writer doing the full durable write."
	echo "- Scenario 3: $LATN jobs $((LAT_US / 1000)) ms apart per run; the job is a static program that records its start time (CLOCK_REALTIME), compared with the time taken just before the submission. Low load means one job at a time: the interval is longer than a job takes. p99 is per run (nearest rank; with $LATN samples it is the slowest one); the table shows the median of the $REPS runs' p99."
	echo "- Scenario 4: wrk runs ${WRK_SECS}s instead of 10s ($REPS runs × 4 servers must fit the 15-minute budget); wrk uses one connection per -c, keep-alive. The durable POST runs of jobspool and of the minimal server take turns, each on a new directory that no deletion preceded (on ext4 without a journal, creating files is slower for some 5-35 s after many deletions; earlier tables removed jobspool's spool before each of its runs only).$( [ -s "$W/wrk.bad" ] && echo " Runs with non-2xx answers or socket errors: $(sort -u "$W/wrk.bad" | tr '\n' ' ')")"
	echo "- Order: scenarios 1, 3, 4, 8, 7, 5, 9. Scenario 5 removes some 400,000 files, and on ext4 without a journal creating files is slow for minutes after many removals nearby (the kernel skips recently deleted inodes), so the scenarios that create files run before it (earlier tables ran 8 after 5: its local processor measured 342 jobs/s there, 720-780 in a fresh run)."
	echo "- Scenario 5: finished jobs are ~600-byte .completed files each with a .log (made by genspool, not timed). Claim latency is submit→start as in 3 with 20 jobs per run; the processor started in $(for n in $SCALE; do printf '%s ms (%s) ' "$(one "s5_pstart_$n")" "$n"; done)including its warm-up job. 5c is the list of 5b with $NMAX finished jobs against the same list with $NMIN (the target: the pending list costs the same whatever the finished jobs). The cleaner runs are as many as fit ${CLEAN_BUDGET}s (at least 1, at most $REPS)."
	echo "- Scenario 6: VmHWM from /proc/PID/status just before each process is stopped; the cell lists the scenario each came from (s1, s3, s4, s5 at 0/10000/100000 finished jobs, s7, s8: the local processor of scenario 8). 6c is the apiserver of scenario 7 alone."
	echo "- Scenario 7: each run opens $NFOLLOW connections to /log?follow=1 of one running job, appends 5 lines to its log as the job would, and times each line until the last follower has it; the cell is the median over runs of the per-run median.$( [ -s "$R/s7_timeouts" ] && echo " Lines some follower did not get within 5 s: $(awk "{ s += \$1 } END { print s }" "$R/s7_timeouts") (not counted).") The limit is one local \`tail -f\` (200 local tails hit the inotify instance limit)."
	echo "- Scenario 8 (tests/bench/remote.sh): a processor with \`--server\` over loopback HTTP through the apiserver's worker routes against a local processor on the same spool, both \`-j 2\`, the remote processor's work directory on /dev/shm where that is a tmpfs (its copies are never synced; jobspool-processor(8) advises tmpfs for it); ${BENCH_REMOTE_JOBS:-500} jobs of /bin/true per run written into the spool by the submit tool of scenario 1 (earlier tables: a shell loop, tmp + mv, whose forks capped both sides at 200-350 jobs/s and shared their two CPUs), timed to the last .completed; submission → start and the follower's delay are one job per run, in whole ms."
	echo "- Scenario 9 (tests/bench/slurm.sh): a single-node Slurm$(v=$(sed -n 's/^Slurm executor (\([^,]*\),.*/\1/p' "$W/slurm.out" 2>/dev/null | head -n 1); [ -n "$v" ] && echo " ($v)") on free ports, started in a temporary directory; ${BENCH_SLURM_JOBS:-${SLURM_BENCH_JOBS:-30}} jobs of /bin/true per run, by \`sbatch --wrap true\` one after another against \`jobspool-processor --executor slurm -j 16\` fed through the spool; submission → start is one job per run."
	echo "- The machine was shared with other work during the run: absolute numbers are noisy; the ratios within one run are what matter."
} >"$W/body.md"
{
	echo "## jobspool benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	cat "$W/body.md"
} >"$W/table.md"
if [ "$OUT" = "$DEF_OUT" ] && [ -f "$OUT" ]; then
	cp "$OUT" "$ROOT/tests/bench/previous-results.md"
fi
cp "$W/table.md" "$OUT"
cat "$W/table.md"
# the README's Performance section: the table between its two markers
if [ "$README_UPDATE" = 1 ]; then
	RM=$ROOT/README.md
	if [ "$(grep -c '^<!-- bench:begin -->$' "$RM")" = 1 ] && [ "$(grep -c '^<!-- bench:end -->$' "$RM")" = 1 ]; then
		{
			echo
			echo "The latest run, $(date -u +%Y-%m-%dT%H:%MZ) (also in \`tests/bench/last-results.md\`; the one before it in \`tests/bench/previous-results.md\`):"
			echo
			cat "$W/body.md"
			echo
		} >"$W/readme.block"
		awk -v f="$W/readme.block" '
			/^<!-- bench:begin -->$/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
			/^<!-- bench:end -->$/ { skip = 0 }
			!skip { print }' "$RM" >"$W/README.new" && cat "$W/README.new" >"$RM"
		say "README.md: Performance table updated"
	else
		say "README.md has no single <!-- bench:begin --> / <!-- bench:end --> pair: not updated"
	fi
fi
say "done in $(($(date +%s) - T0)) s; table in $OUT"
