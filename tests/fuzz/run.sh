#!/bin/sh
# make fuzz: builds each libFuzzer harness tests/fuzz/fuzz_<name>.c with
# clang (-fsanitize=fuzzer,address,undefined) and runs it for FUZZ_TIME
# seconds (default 60) on tests/fuzz/corpus/<name>/.  New interesting inputs
# go to build/fuzz/work-<name>/ (merge them into the corpus with
# FUZZ_MERGE=1); a crashing input is written to tests/fuzz/corpus/<name>/
# as crash-*, so that `make check` replays it from then on.
set -u
cd "$(dirname "$0")/../.."
T=${FUZZ_TIME:-60}
mkdir -p build/fuzz
CFLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -iquote lib $(pkg-config --cflags jansson uuid)"
LIBS="$(pkg-config --libs jansson uuid) -lpthread"
status=0
for src in tests/fuzz/fuzz_*.c; do
	n=$(basename "$src" .c | sed 's/^fuzz_//')
	extra=$(sed -n 's/^ \* fuzz-sources: //p' "$src")
	clang $CFLAGS lib/*.c $extra "$src" -o "build/fuzz/fuzz_$n" $LIBS || { status=1; continue; }
	mkdir -p "build/fuzz/work-$n" "tests/fuzz/corpus/$n"
	echo "== fuzz_$n for ${T}s"
	"build/fuzz/fuzz_$n" -max_total_time="$T" -print_final_stats=1 \
		-artifact_prefix="tests/fuzz/corpus/$n/crash-" \
		"build/fuzz/work-$n" "tests/fuzz/corpus/$n" 2>&1 |
		grep -E '^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)' ||
		true
	if ls "tests/fuzz/corpus/$n"/crash-* >/dev/null 2>&1; then
		echo "fuzz_$n: FINDINGS in tests/fuzz/corpus/$n/crash-*"
		status=1
	fi
	if [ "${FUZZ_MERGE:-0}" = 1 ]; then
		"build/fuzz/fuzz_$n" -merge=1 "tests/fuzz/corpus/$n" "build/fuzz/work-$n" >/dev/null 2>&1
	fi
done
exit $status
