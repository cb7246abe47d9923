#!/bin/sh
# Every man page in man/ is mdoc that mandoc lints without warnings (style
# notes allowed) and that man(1) renders without warnings.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.." || exit 1

if ! command -v mandoc >/dev/null 2>&1; then
	fail "mandoc is not installed (apt-get install mandoc; make deps does it)"
	finish
fi
pages=$(ls man/*.[1-8] 2>/dev/null)
check "there are man pages" test -n "$pages"
for p in jobspool.7 jobspool-cleaner.8; do
	check "man/$p exists" test -f "man/$p"
done
for p in $pages; do
	out=$(mandoc -T lint -W warning "$p" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		ok "mandoc -T lint -W warning $p"
	else
		fail "mandoc -T lint -W warning $p: $out"
	fi
	check "$p is mdoc (.Dd/.Dt/.Sh NAME)" sh -c \
		"grep -q '^\.Dd ' '$p' && grep -q '^\.Dt ' '$p' && grep -q '^\.Sh NAME' '$p'"
	sec=${p##*.}
	check "$p: .Dt section matches the file name" grep -q "^\.Dt [^ ]* $sec\$" "$p"
	for s in DESCRIPTION "SEE ALSO"; do
		check "$p has $s" grep -q "^\.Sh $s" "$p"
	done
	case $sec in 8)
		for s in "EXIT STATUS" ENVIRONMENT FILES EXAMPLES; do
			check "$p has $s" grep -q "^\.Sh $s" "$p"
		done ;;
	esac
	if command -v man >/dev/null 2>&1; then
		w=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$p" 2>&1 >/dev/null)
		eq "man -l $p renders without warnings" "$w" ""
	fi
	check "mandoc renders $p" sh -c "mandoc -T markdown '$p' | grep -q \"^# NAME\""
done
finish
