#!/bin/sh
# Coverage of the whole suite (make coverage): runs tests/run.sh against
# the gcov build in $1 (default build/cov; made with gcc --coverage), then
# prints, with gcovr, the line and branch coverage of every file of lib/,
# apiserver/, processor/ and cleaner/, ending with one line
#   TOTAL  lines  executed  percent  branches  taken  percent
# The counters of an earlier run are removed first; the report also goes
# to $1/coverage.json (gcovr's summary) and $1/coverage/index.html
# (annotated sources).  Exit status: the suites' (the report is printed
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
rm -rf "$B/coverage"
mkdir -p "$B/coverage" || exit 1
echo "== coverage (gcovr, $B): lines and branches of lib/ apiserver/ processor/ cleaner/"
gcovr --root . --object-directory "$B/obj" "$B/obj" \
	--filter 'lib/' --filter 'apiserver/' --filter 'processor/' \
	--filter 'cleaner/' --gcov-ignore-parse-errors \
	--json-summary "$B/coverage.json" \
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
exit $rc
