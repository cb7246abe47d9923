#!/bin/sh
# Runs every suite against the programs in build directory $1 and prints one
# closing line "N passed, M failed, K skipped".  Exit status 1 if anything
# failed (or nothing passed).
#   unit suites:        $1/tests/test_*   (cmocka)
#   fuzz corpora:       $1/fuzz/replay_<name> over tests/fuzz/corpus/<name>/
#   integration suites: tests/integration/*.sh (each ends with
#                       "N passed, M failed, K skipped")
# A suite that could not run at all prints "# SUITE SKIPPED (KIND): REASON"
# (lib.sh skip_suite); such suites are listed before the closing line.  With
# CI=true a skip whose KIND is not "permission" is also a failure (lib.sh).
# Set ONLY=pattern to run only suites whose name contains pattern.
B=${1:-build}
JS_BIN=$(cd "$B" && pwd); export JS_BIN
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87"
export LSAN_OPTIONS="exitcode=86"
passed=0 failed=0 skipped=0 skipped_suites=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() {	# suite-name exit-status
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	k=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	if [ -z "$p$f" ]; then
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
		p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
		f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
		k=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
	fi
	p=${p:-0} f=${f:-0} k=${k:-0}
	why=$(sed -n 's/^# SUITE SKIPPED \(.*\)/\1/p' "$log" | head -n 1)
	[ -n "$why" ] && skipped_suites="$skipped_suites
  $1 $why"
	if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
		echo "  $1: sanitizer report (see above)"
		f=$((f + 1))
	elif [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "  $1: exited with status $2"
		f=$((f + 1))
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + k))
	echo "== $1: $p passed, $f failed, $k skipped"
}

for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	case "$name" in *"${ONLY:-}"*) ;; *) continue ;; esac
	echo "== $name"
	(cd "$(mktemp -d)" && "$JS_BIN/tests/$name") >"$log" 2>&1
	rc=$?
	cat "$log"
	count "$name" "$rc"
done
for t in "$B"/fuzz/replay_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	case "$name" in *"${ONLY:-}"*) ;; *) continue ;; esac
	echo "== $name"
	"$t" "tests/fuzz/corpus/${name#replay_}" >"$log" 2>&1
	rc=$?
	cat "$log"
	count "$name" "$rc"
done
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	[ "$name" = lib ] && continue	# helpers sourced by the suites
	case "$name" in *"${ONLY:-}"*) ;; *) continue ;; esac
	echo "== $name"
	sh "$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	count "$name" "$rc"
done
if [ -n "$skipped_suites" ]; then
	echo "suites skipped whole:$skipped_suites"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
