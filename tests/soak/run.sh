#!/bin/sh
# make soak: the long variants of the fault and load suites, against the
# programs in build directory $1 (default build/, an optimised build: the
# point is volume, and RSS figures without a sanitizer's quarantine).
#   load_mixed    10,000 submissions, 32 clients, 200 followers, -j 2
#   fault_apikill 20 kill -9 rounds of the apiserver, 8 clients
#   fault_kill9   3,000 jobs, kill -9 of the processor at random moments
# Ends with one line "N passed, M failed"; exit 1 if anything failed.
# Override the sizes with LOAD_JOBS, APIKILL_ROUNDS, FAULT_JOBS.
B=${1:-build}
JS_BIN=$(cd "$B" && pwd) || exit 1
export JS_BIN
passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() {	# name, then VAR=value... for the suite
	name=$1; shift
	echo "== $name ($*)"
	env "$@" sh "tests/integration/$name.sh" >"$log" 2>&1
	rc=$?
	cat "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	p=${p:-0} f=${f:-0}
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p)) failed=$((failed + f))
	echo "== $name: $p passed, $f failed"
}

run load_mixed "LOAD_JOBS=${LOAD_JOBS:-10000}"
run fault_apikill "APIKILL_ROUNDS=${APIKILL_ROUNDS:-20}" APIKILL_CLIENTS=8
run fault_kill9 "FAULT_JOBS=${FAULT_JOBS:-3000}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
