#!/bin/sh
# The stateful random tester (tests/stateful/stateful.py, issue 15): for
# each fixed seed, a random sequence of API operations from four tokens and
# a fake remote worker against a real apiserver and processor, with the
# invariants checked after every step; one assertion per seed.  A failure
# prints the seed, the steps and the command that replays it.
# STATEFUL_SEEDS (default "1 2 3") and STATEFUL_STEPS (default 150).
. "$(dirname "$0")/lib.sh"
TESTER=$(dirname "$0")/../stateful/stateful.py

for s in ${STATEFUL_SEEDS:-1 2 3}; do
	check "stateful tester, seed $s, ${STATEFUL_STEPS:-150} steps" \
		python3 "$TESTER" --bin "$JS_BIN" --seed "$s" \
		--steps "${STATEFUL_STEPS:-150}"
done
finish
