#!/bin/sh
# The README's curl walk-through, run as written so that it cannot rot.
# Every fenced block between "<!-- walkthrough -->" and "<!-- /walkthrough -->"
# in README.md is one step; the steps run in order, in one shell (set -eu),
# from a directory holding ./spool, against a real apiserver and processor
# on 127.0.0.1, with URL and TOKEN set as the README tells the reader to.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
README="$ROOT/README.md"

W=$(mktemp -d /tmp/jobspool-readme.XXXXXX); T_DIRS="$T_DIRS $W"
SPOOL="$W/spool"
mkdir -m 0750 "$SPOOL" "$SPOOL/tmp"
TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

# walkthrough_blocks: prints the steps, each ending with a line "#### END"
awk '
	/^<!-- walkthrough -->$/ { inw = 1; next }
	/^<!-- \/walkthrough -->$/ { inw = 0; next }
	inw && /^```/ { if (code) { print "#### END"; code = 0 } else code = 1; next }
	inw && code { print }
' "$README" >"$W/steps"
nsteps=$(grep -c '^#### END$' "$W/steps")
check "README has walk-through blocks" test "$nsteps" -ge 4
check "every walk-through block is closed" test "$(grep -c '^<!-- walkthrough -->$' "$README")" -eq "$nsteps"

start_api --token "readme:$TOKEN:admin" || fail "apiserver starts"
PROC_LOG="$W/proc.log"
"$JS_BIN/jobspool-processor" --spool "$SPOOL" -j 4 2>"$PROC_LOG" &
PROC_PID=$!; T_PIDS="$T_PIDS $PROC_PID"

# One script: a header that sets what the README tells the reader to export,
# then each step followed by a marker so we can see how far it got.
{
	echo 'set -eu'
	echo "cd '$W'"
	echo "export URL='$URL' TOKEN='$TOKEN' PATH='$JS_BIN':\$PATH"
	echo "unset JOBSPOOL_URL JOBSPOOL_TOKEN JOBSPOOL_SPOOL"
	awk -v q="'" '
		/^#### END$/ { n++; print "echo " q "#### step " n " done" q; next }
		{ print }
	' "$W/steps"
} >"$W/walk.sh"

( timeout 120 sh "$W/walk.sh" ) >"$W/out" 2>"$W/err"
[ -z "${README_SHOW:-}" ] || { cat "$W/walk.sh" "$W/out" "$W/err"; }
rc=$?
eq "the walk-through runs to the end with set -eu (exit 0)" "$rc" 0
[ "$rc" -eq 0 ] || { echo "--- stdout"; cat "$W/out"; echo "--- stderr"; cat "$W/err"; }
i=1
while [ "$i" -le "$nsteps" ]; do
	check "walk-through step $i completes" grep -q "^#### step $i done$" "$W/out"
	i=$((i + 1))
done

# What each step must have shown.
out=$(cat "$W/out")
has() { printf '%s\n' "$out" | grep -q -x -e "$1"; }
ID=$(printf '%s\n' "$out" | sed -n 's/^submitted \([0-9a-f-]\{36\}\)$/\1/p')
check "client: submit -f printed the arguments exactly" has "hello, world"
check "... the second one with its quote and -c" has "it's -c, not a flag"
check "client: submit -w exited with the job's status" has "exit status 3"
check "client: ls printed its table" has 'ID  *STATE  *EXIT  *CREATED  *TIME  *NAME  *COMMAND'
check "client: wait --timeout of a job for later: 123" has "wait: 123"
check "client: cancel said so" has "cancelled [0-9a-f-]\{36\}"
check "client: wait of the cancelled job: 122" has "wait: 122"
check "client: local mode ran a job on the spool" has "from local mode"
check "submit printed a job id" test -n "$ID"
check "the followed log shows the job's first line" has hello
check "... and its last line (follow ends when the job ends)" has bye
check "the retrieved result says completed, exit_code 0, retrieved_at set" sh -c \
	"printf '%s\n' \"\$1\" | tr -d ' ' | grep -A2 -x '\"status\":\"completed\",' | grep -A1 -x '\"exit_code\":0,' | grep -q '^\"retrieved_at\":\"20'" _ "$out"
check "the job is now $ID.retrieved in the spool" test -f "$SPOOL/$ID.retrieved"
check "... its .completed is gone" test ! -e "$SPOOL/$ID.completed"
check "its log is beside it" test -f "$SPOOL/$ID.log"
eq "the stored status keeps the outcome" "$(jq -r .status "$SPOOL/$ID.retrieved" 2>/dev/null)" completed
check "the cancel step answered 202" has 202
check "the cancelled job reads cancelled" has cancelled
check "the finished job is removed with 204" has 204
check "the batch logs were followed (lines prefixed by job ids)" sh -c \
	"printf '%s\n' \"\$1\" | grep -q -E '^[0-9a-f-]{36}.*one\$'" _ "$out"
check "the batch counts show 2 completed" sh -c \
	"printf '%s\n' \"\$1\" | grep -q '\"completed\":2'" _ "$out"
check "a delayed job waits as pending, with its run_at" has 'pending until 20.*Z'
check "... its priority changed while it waited" has '{"priority":5}'
check "... then it ran, and its re-run too" test "$(printf '%s\n' "$out" | grep -c -x later)" -eq 2
check "... the re-run completed with its rerun_of" has \
	'{"status":"completed","rerun_of":"[0-9a-f-]\{36\}"}'
check "a pipeline batch: its last step completed" has \
	'{"name":"report","status":"completed"}'
check "... a step after a failed one failed, naming it" has \
	'failed: dependency [0-9a-f-]\{36\} failed'
check "a job submitted from the shell ran (uname -r)" has "$(uname -r)"
check "... and was retrieved (its file is .retrieved)" sh -c "grep -l '\"from-the-shell\"' '$SPOOL'/*.retrieved >/dev/null"
check "no file left in tmp/" test -z "$(ls -A "$SPOOL/tmp")"

# Options the README mentions exist: each --flag is in some program's
# --help (or belongs to curl, useradd, systemctl or systemd-tmpfiles in the
# examples).
helps=$(for p in jobspool-apiserver jobspool-processor jobspool-cleaner jobspool; do
	"$JS_BIN/$p" --help 2>/dev/null; done
	sh "$(dirname "$0")/../../scripts/jobspool-certs" --help)
for f in $(grep -o -E -- '--[a-z][a-z0-9-]+' "$README" | sort -u); do
	case $f in
	--cacert|--cert|--key|--data-binary|--system|--home-dir|--shell|--now|--fail-with-body|--create|--root) continue ;;
	# tests/stateful/stateful.py's and gcc's, in the Tests section
	--bin|--seed|--steps|--coverage) continue ;;
	# podman's, in 'A container image'
	--runtime|--network|--user|--entrypoint) continue ;;
	# sbatch's, in the Performance notes
	--wrap) continue ;;
	esac
	check "README's $f is an option of a jobspool program" sh -c \
		"printf '%s\n' \"\$1\" | grep -q -e '$f ' -e '$f\$'" _ "$helps"
done
# Every curl command of the README, the man pages and make run's example
# keeps the API's JSON error: --fail-with-body (never -f alone, which
# throws the body away).
# (run.sh's own probes, without a token, are not examples; nor is a .Ql
# mention in running text.)
for f in "$README" "$ROOT"/man/*.[578] "$ROOT/scripts/run.sh"; do
	n=$(grep -E '(^|[ $(|])curl +-' "$f" | grep -v '^\.Ql ' |
		{ case $f in *run.sh) grep Bearer ;; *) cat ;; esac; } |
		grep -c -v -e '--fail-with-body')
	eq "$(basename "$f"): every curl command uses --fail-with-body" "$n" 0
	n=$(grep -E '(^|[ $(|])curl ' "$f" | grep -c -E 'curl +(-[a-zA-Z]*f[a-zA-Z]* )')
	eq "$(basename "$f"): no curl -f (it hides the JSON error)" "$n" 0
done
# The walk-through's submit with a typo ("cmd" for "shell"), as the README
# writes it: the step stops (set -e) and the API's error reaches the reader.
submit=$(awk '/^ID=\$\(curl/ { on = 1 } on { print } on && /\)$/ { exit }' "$README")
check "README's walk-through starts with a submission" test -n "$submit"
typo=$(printf '%s\n' "$submit" | sed 's/"shell": /"cmd": /')
printf 'set -eu\nAUTH="Authorization: Bearer %s"\nURL=%s\n%s\necho "submitted $ID"\n' \
	"$TOKEN" "$URL" "$typo" >"$W/typo.sh"
( sh "$W/typo.sh" ) >"$W/typo.out" 2>"$W/typo.err"
rc=$?
check "with a typo the walk-through stops (exit $rc)" test "$rc" -ne 0
check "... before printing an id" sh -c "! grep -q submitted '$W/typo.out'"
check "... and the reader sees the API's error about the field" \
	grep -q 'cmd' "$W/typo.err"
[ -z "${README_SHOW:-}" ] || cat "$W/typo.sh" "$W/typo.err"
# README's size and dependency facts match the code: "~Nk lines of C"
# within 10% of the programs' C (lib, apiserver, processor, cleaner), every
# library the Makefile links named, every package of scripts/deps.sh in the
# Dependencies table and the reverse
claim=$(sed -n 's/^| size, dependencies | ~\([0-9]*\)k lines of C; .*/\1/p' "$README")
lines=$(cat "$ROOT"/lib/*.[ch] "$ROOT"/apiserver/*.[ch] "$ROOT"/processor/*.[ch] \
	"$ROOT"/cleaner/*.[ch] | wc -l)
check "README's ~${claim}k lines of C is within 10% of $lines" test -n "$claim" -a \
	"$((claim * 1000 * 10))" -ge "$((lines * 9))" -a "$((claim * 1000 * 10))" -le "$((lines * 11))"
deps_line=$(grep '^| size, dependencies |' "$README" | cut -d'|' -f3)
for lib in $(sed -n 's/^PKGS = //p' "$ROOT/Makefile") gnutls libcurl; do
	case $lib in uuid) name=libuuid ;; gnutls) name=GnuTLS ;; *) name=$lib ;; esac
	check "README's size row names $name (linked by the Makefile)" sh -c \
		"printf '%s' \"\$1\" | grep -q -i -w '$name'" _ "$deps_line"
done
table=$(sed -n '/^## Dependencies/,/^## /p' "$README")
for p in $(awk '/^(RUN|TEST)_PKGS="/ { on = 1; sub(/^[A-Z_]*="/, "") }
    on { t = $0; sub(/".*/, "", t); print t; if ($0 ~ /"/) on = 0 }' \
    "$ROOT/scripts/deps.sh"); do
	check "deps.sh's $p is in README's Dependencies table" sh -c \
		"printf '%s' \"\$1\" | grep -q '\`$p\`'" _ "$table"
done
for p in $(printf '%s\n' "$table" | grep '^| `' | cut -d'|' -f2 | grep -o '`[a-z0-9.-]*`' | tr -d '`'); do
	case $p in podman|docker) continue ;; esac
	check "README's $p is installed by scripts/deps.sh" grep -q -w -- "$p" "$ROOT/scripts/deps.sh"
done
# the cron line shown is the one shipped in examples/
cron=$(grep -E '^[0-9*].* jobspool-cleaner ' "$ROOT/examples/jobspool.cron")
check "README shows the cron line of examples/jobspool.cron" \
	grep -q -F -x "      $cron" "$README"

api_stop
kill -TERM "$PROC_PID" 2>/dev/null
wait "$PROC_PID"
eq "processor exits 0 on SIGTERM" "$?" 0
if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$PROC_LOG"; then
	cat "$PROC_LOG"
	fail "processor sanitizer report"
fi
finish
