#!/bin/sh
# Coverage of the whole suite (make coverage): runs tests/run.sh against
# the gcov build in $1 (default build/cov; made with gcc --coverage), then
# prints, with gcovr, the line and branch coverage of every file of lib/,
# apiserver/, processor/ and cleaner/, ending with one line
#   TOTAL  lines  executed  percent  branches  taken  percent
# The counters of an earlier run are removed first; the report also goes
# to $1/coverage.json (gcovr's summary; per line: $1/coverage-lines.json)
# and $1/coverage/index.html (annotated sources).  Then every error answer
# of apiserver/routes_*.c (each call site sending an error status) that the
# suites never sent, and a line "N error answers, S sent at least once, U
# never sent".  Exit status: the suites' (the report is printed
# either way).  With --report as $2, only the report of the counters that
# are there (no suite is run).  Only $1's counters are read, even when
# other builds under build/ have some.
B=${1:-build/cov}
if ! command -v gcovr >/dev/null 2>&1; then
	echo "coverage: gcovr is missing (apt-get install gcovr)" >&2
	exit 1
fi
[ -d "$B/obj" ] || { echo "coverage: no build in $B (make coverage)" >&2; exit 1; }
rc=0
if [ "${2:-}" != --report ]; then
	find "$B" -name '*.gcda' -delete
	sh tests/run.sh "$B"
	rc=$?
	echo
fi
# a program relinked during the run (a suite's make, in a tree whose
# sources changed meanwhile) counts nothing from then on: say so
for p in jobspool-apiserver jobspool-processor jobspool-cleaner; do
	nm "$B/$p" 2>/dev/null | grep -q __gcov_ ||
		echo "coverage: warning: $B/$p is not a gcov build (relinked" \
			"during the run?): the suites after that count nothing" >&2
done
rm -rf "$B/coverage"
mkdir -p "$B/coverage" || exit 1
echo "== coverage (gcovr, $B): lines and branches of lib/ apiserver/ processor/ cleaner/"
gcovr --root . --object-directory "$B/obj" "$B/obj" \
	--filter 'lib/' --filter 'apiserver/' --filter 'processor/' \
	--filter 'cleaner/' --gcov-ignore-parse-errors \
	--json-summary "$B/coverage.json" --json "$B/coverage-lines.json" \
	--html-details "$B/coverage/index.html" >/dev/null ||
	{ echo "coverage: gcovr failed" >&2; exit 1; }
jq -r '(.files | sort_by(.filename)[] |
		[.filename, .line_total, .line_covered, .line_percent,
		 .branch_total, .branch_covered, .branch_percent]),
	["TOTAL", .line_total, .line_covered, .line_percent,
	 .branch_total, .branch_covered, .branch_percent] | @tsv' \
	"$B/coverage.json" |
	awk -F '\t' 'BEGIN {
		printf "%-28s %7s %7s %6s %8s %7s %6s\n", "File", "Lines",
		    "Exec", "Cover", "Branches", "Taken", "Cover"
	}
	{
		if ($1 == "TOTAL")
			print "---------------------------------------------------------------------------"
		printf "%-28s %7d %7d %5.1f%% %8d %7d %5.1f%%\n", $1, $2, $3,
		    $4, $5, $6, $7
	}'

# Every error answer of the routes: each call site in apiserver/routes_*.c
# that sends an error status (reply_error, reply_error_allow, reply_errno,
# reply_store_errno, refuse, an error status set for a later reply_error,
# reply_json or reply_queue with a status of 300 or more), with the count of
# its line from gcov; the ones never sent are listed.
echo
echo "== error answers of apiserver/routes_*.c (call sites sending an error status)"
jq -r '.files[] | select(.file | test("^apiserver/routes_.*[.]c$")) |
	.file as $f | .lines[] | [$f, .line_number, .count] | @tsv' \
	"$B/coverage-lines.json" >"$B/coverage/lines.tsv" ||
	{ echo "coverage: cannot read $B/coverage-lines.json" >&2; exit 1; }
for f in apiserver/routes_*.c; do
	g="$B/obj/${f%.c}.gcno"
	[ "$f" -nt "$g" ] && echo "  warning: $f changed since $B was built:" \
		"its line numbers below may be off (make coverage again)" >&2
	awk -v f="$f" '
	/^[ \t]*(\/\*|\*)/ { next }		# comments
	/(^|[^_a-z])(reply_error|reply_error_allow|reply_errno|reply_store_errno|refuse)\(/ &&
	    !/^(reply_|refuse)/ {			# not a definition
		print f "\t" FNR "\t" $0; next
	}
	/(reply_json|reply_queue)\([^,]*, *MHD_HTTP_/ &&
	    !/MHD_HTTP_(OK|CREATED|ACCEPTED|NO_CONTENT|PARTIAL_CONTENT)[,)]/ {
		print f "\t" FNR "\t" $0; next
	}
	/status = MHD_HTTP_/ && !/MHD_HTTP_(OK|CREATED|ACCEPTED|NO_CONTENT|PARTIAL_CONTENT);/ {
		print f "\t" FNR "\t" $0
	}' "$f"
done | awk -F '\t' -v counts="$B/coverage/lines.tsv" '
	BEGIN {
		while ((getline l < counts) > 0) {
			split(l, a, "\t")
			n[a[1] ":" a[2]] = a[3]
		}
	}
	{
		k = $1 ":" $2
		text = $0
		sub(/^[^\t]*\t[^\t]*\t[ \t]*/, "", text)
		sites++
		if (!(k in n)) {
			printf "  no gcov data (not built?): %s  %s\n", k, text
			unknown++
		} else if (n[k] == 0) {
			printf "  never sent: %s  %s\n", k, text
			unsent++
		}
	}
	END {
		printf "%d error answers, %d sent at least once, %d never sent\n",
		    sites, sites - unsent - unknown, unsent + unknown
	}' || true
exit $rc
