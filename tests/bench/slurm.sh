#!/bin/sh
# Slurm executor against sbatch alone, on a single-node Slurm started in a
# temporary directory (tests/integration/slurm.inc).  Prints a Markdown
# table and writes it to tests/bench/slurm-results.md.
#   B        build directory holding jobspool-processor (default build)
#   N        jobs per throughput run (default 50)
#   REPS     repetitions (default 5)
#   RESULTS  where the table goes (default tests/bench/slurm-results.md)
#   RAW      a directory: each measurement also goes there, one value a line
#            (s9_js_tput, s9_sb_tput, s9_js_lat, s9_sb_lat), for run.sh;
#            when Slurm cannot run, the reason goes to RAW/s9_why
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-$ROOT/build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
N=${N:-50}
REPS=${REPS:-5}
OUT=${RESULTS:-$ROOT/tests/bench/slurm-results.md}
RAW=${RAW:-}
. "$ROOT/tests/integration/slurm.inc"

W=$(mktemp -d /tmp/jobspool-bench-slurm.XXXXXX)
chmod 0755 "$W"
PROC=""
cleanup() {
	[ -n "$PROC" ] && kill "$PROC" 2>/dev/null && wait "$PROC" 2>/dev/null
	slurm_stop
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# two free TCP ports, as the kernel gives them to a bind to port 0: the
# defaults of slurm.inc are fixed, and a concurrent test's Slurm may hold them
# shellcheck disable=SC2046
set -- $(python3 -c 'import socket
a = socket.socket(); b = socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
SLURM_CTLD_PORT=${SLURM_CTLD_PORT:-${1:-16817}}
SLURM_D_PORT=${SLURM_D_PORT:-${2:-16818}}
export SLURM_CTLD_PORT SLURM_D_PORT
if ! slurm_start "$W/slurm"; then
	msg="Slurm cannot run here: $SLURM_WHY"
	printf '| Slurm | %s |\n' "$msg" | tee "$OUT"
	[ -n "$RAW" ] && echo "$SLURM_WHY" >"$RAW/s9_why"
	exit 0
fi
VERSION=$(sinfo --version 2>/dev/null)

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# median and min/max of numbers on stdin: "median (min-max)"
stats() { sort -n | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2;
	printf "%.1f (%.1f-%.1f)", m, v[1], v[NR]}'; }
slurm_idle() { [ -z "$(squeue -h 2>/dev/null)" ]; }
# gave_up WHAT: a wait that passed its 300 s
DEADLINE=0
arm() { DEADLINE=$(( $(date +%s) + 300 )); }
gave_up() {
	[ "$(date +%s)" -lt "$DEADLINE" ] && return 1
	echo "slurm bench: gave up waiting for $1 after 300 s" >&2
	exit 1
}
wait_idle() { arm; while ! slurm_idle; do gave_up "Slurm to be idle"; sleep 0.05; done; }

mkdir -p "$W/out" "$W/spool"
chmod 1777 "$W/out"
chmod 0750 "$W/spool"

# --- sbatch alone: N jobs submitted one by one, until all have ended
: >"$W/sb.tput"
: >"$W/sb.lat"
for r in $(seq "$REPS"); do
	t0=$(now_ms)
	for i in $(seq "$N"); do
		sbatch --parsable -o /dev/null --wrap true >/dev/null
	done
	wait_idle
	t1=$(now_ms)
	echo "$N $t0 $t1" | awk '{printf "%.2f\n", $1 * 1000 / ($3 - $2)}' >>"$W/sb.tput"
	# latency: submission to the job's first instruction
	t0=$(now_ms)
	sbatch --parsable -o /dev/null --wrap "echo \$((\$(date +%s%N)/1000000)) > $W/out/sb.$r" >/dev/null
	arm
	while [ ! -s "$W/out/sb.$r" ]; do gave_up "an sbatch job to start"; sleep 0.01; done
	echo $(( $(cat "$W/out/sb.$r") - t0 )) >>"$W/sb.lat"
	wait_idle
done

# --- jobspool, --executor slurm, spool submission
"$B/jobspool-processor" -s "$W/spool" -j 16 --executor slurm \
	--slurm-output-dir "$W/out" --user root 2>"$W/proc.log" &
PROC=$!
submit() {
	s_id=$(cat /proc/sys/kernel/random/uuid)
	printf '%s\n' "$1" >"$W/spool/tmp/$s_id.json" &&
		mv "$W/spool/tmp/$s_id.json" "$W/spool/$s_id.pending"
	echo "$s_id"
}
arm
while [ ! -d "$W/spool/tmp" ]; do gave_up "the processor's spool"; sleep 0.01; done
ndone() { ls "$W/spool" | grep -c '\.\(completed\|failed\)$'; }
: >"$W/js.tput"
: >"$W/js.lat"
base=0
for r in $(seq "$REPS"); do
	t0=$(now_ms)
	for i in $(seq "$N"); do submit '{"command":["/bin/true"]}' >/dev/null; done
	base=$((base + N))
	arm
	while [ "$(ndone)" -lt "$base" ]; do gave_up "the jobs to end"; sleep 0.05; done
	t1=$(now_ms)
	echo "$N $t0 $t1" | awk '{printf "%.2f\n", $1 * 1000 / ($3 - $2)}' >>"$W/js.tput"
	t0=$(now_ms)
	submit "{\"shell\":\"echo \$((\$(date +%s%N)/1000000)) > $W/out/js.$r\"}" >/dev/null
	arm
	while [ ! -s "$W/out/js.$r" ]; do gave_up "a job to start"; sleep 0.01; done
	echo $(( $(cat "$W/out/js.$r") - t0 )) >>"$W/js.lat"
	base=$((base + 1))
	arm
	while [ "$(ndone)" -lt "$base" ]; do gave_up "a job to end"; sleep 0.05; done
done
failed=$(ls "$W/spool" | grep -c '\.failed$')
if [ -n "$RAW" ]; then
	for m in js.tput sb.tput js.lat sb.lat; do
		cp "$W/$m" "$RAW/s9_$(echo $m | tr . _)"
	done
fi

sb_t=$(stats <"$W/sb.tput"); js_t=$(stats <"$W/js.tput")
sb_l=$(stats <"$W/sb.lat"); js_l=$(stats <"$W/js.lat")
ratio_t=$(awk -v a="${js_t%% *}" -v b="${sb_t%% *}" 'BEGIN {printf "%.2f", a / b}')
ratio_l=$(awk -v a="${js_l%% *}" -v b="${sb_l%% *}" 'BEGIN {printf "%.2f", a / b}')
{
	echo "Slurm executor ($VERSION, single node, 2 CPUs, OverSubscribe=FORCE:8;"
	echo "$N jobs of /bin/true per run, $REPS runs; median (min-max); failed jobs: $failed)"
	echo
	echo "| scenario | jobspool --executor slurm | sbatch alone | jobspool/sbatch |"
	echo "|---|---|---|---|"
	echo "| throughput, jobs/s | $js_t | $sb_t | $ratio_t |"
	echo "| submission to start, ms | $js_l | $sb_l | $ratio_l |"
} | tee "$OUT"
