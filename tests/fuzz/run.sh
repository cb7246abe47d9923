#!/bin/sh
# make fuzz: builds each libFuzzer harness tests/fuzz/fuzz_<name>.c with
# clang (-fsanitize=fuzzer,address,undefined) and runs it for FUZZ_TIME
# seconds (default 60) on tests/fuzz/corpus/<name>/.  New interesting inputs
# go to build/fuzz/work-<name>/ (merge them into the corpus with
# FUZZ_MERGE=1); a harness whose source says " * fuzz-make: yes" is built by
# the Makefile instead (build/fuzz/obj, objects compiled with clang's
# -fsanitize=fuzzer-no-link), and tests/fuzz/<name>.dict is passed as its
# dictionary when it exists; a crashing input is written to tests/fuzz/corpus/<name>/
# as crash-*, so that `make check` replays it from then on.
set -u
cd "$(dirname "$0")/../.."
T=${FUZZ_TIME:-60}
mkdir -p build/fuzz
CFLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -iquote lib $(pkg-config --cflags jansson uuid nettle)"
LIBS="$(pkg-config --libs jansson uuid nettle) -lpthread"
status=0
for src in tests/fuzz/fuzz_*.c; do
	n=$(basename "$src" .c | sed 's/^fuzz_//')
	extra=$(sed -n 's/^ \* fuzz-sources: //p' "$src")
	if grep -q '^ \* fuzz-make: yes' "$src"; then
		# linked by the Makefile's $(B)/fuzz/fuzz_<name> rule with whole
		# programs' archives (fuzz_api: the apiserver but main.o)
		make -s B=build/fuzz/obj CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined" \
			"build/fuzz/obj/fuzz/fuzz_$n" &&
			cp "build/fuzz/obj/fuzz/fuzz_$n" "build/fuzz/fuzz_$n" ||
			{ status=1; continue; }
	else
		clang $CFLAGS lib/*.c $extra "$src" -o "build/fuzz/fuzz_$n" $LIBS || { status=1; continue; }
	fi
	dict=
	[ -f "tests/fuzz/$n.dict" ] && dict="-dict=tests/fuzz/$n.dict"
	mkdir -p "build/fuzz/work-$n" "tests/fuzz/corpus/$n"
	echo "== fuzz_$n for ${T}s"
	"build/fuzz/fuzz_$n" -max_total_time="$T" -print_final_stats=1 $dict \
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
