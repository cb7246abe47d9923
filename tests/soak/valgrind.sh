#!/bin/sh
# valgrind memcheck of whole integration suites (default: api_basic).
# The programs are built -O0 -g into build/vg and run through wrappers
# (a temporary JS_BIN) under
#   valgrind --leak-check=full --errors-for-leak-kinds=definite
#            --error-exitcode=99
# A memory error or a definite leak in any program started by the suite
# fails: the program exits 99 (the suite sees a bad exit status) and its
# report is printed.  Ends with one line "N passed, M failed".
# usage: sh tests/soak/valgrind.sh [suite...]
SUITES=${*:-api_basic}
command -v valgrind >/dev/null 2>&1 || {
	echo "valgrind is missing (apt-get install valgrind)"; exit 1; }
make --no-print-directory B=build/vg CFLAGS="-O0 -g" all >/dev/null || exit 1
VG=$(cd build/vg && pwd)
BIN=$(mktemp -d /tmp/jobspool-vg.XXXXXX)
trap 'rm -rf "$BIN"' EXIT
for p in jobspool-apiserver jobspool-processor jobspool-cleaner; do
	cat >"$BIN/$p" <<EOW
#!/bin/sh
exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite \\
	--error-exitcode=99 --log-file="$BIN/vg.$p.%p.log" "$VG/$p" "\$@"
EOW
	chmod 0755 "$BIN/$p"
done
passed=0 failed=0
for s in $SUITES; do
	echo "== valgrind: $s"
	JS_BIN=$BIN sh "tests/integration/$s.sh" >"$BIN/out" 2>&1
	rc=$?
	grep -v '^ok ' "$BIN/out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$BIN/out" | tail -n 1)
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	p=${p:-0} f=${f:-0}
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	runs=$(ls "$BIN"/vg.*.log 2>/dev/null | wc -l)
	for r in "$BIN"/vg.*.log; do
		[ -s "$r" ] || continue
		echo "-- valgrind report $(basename "$r"):"
		cat "$r"
		f=$((f + 1))
	done
	rm -f "$BIN"/vg.*.log
	echo "== valgrind: $s: $runs program runs checked; $p passed, $f failed"
	passed=$((passed + p)) failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
