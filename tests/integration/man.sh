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
# a page for each program (8), the spool format (5), the overview (7)
for p in jobspool.5 jobspool.7 jobspool-apiserver.8 jobspool-processor.8 jobspool-cleaner.8; do
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
	if command -v man >/dev/null 2>&1; then
		txt=$(MANWIDTH=80 man -E UTF-8 -l "$p" 2>/dev/null)
		hf=$(printf '%s\n' "$txt" | sed -n '1p;$p')
		case $hf in
		*BSD*) fail "man -l $p: header or footer says BSD: $hf" ;;
		*jobspool*) ok "man -l $p: header and footer without BSD" ;;
		*) fail "man -l $p: footer does not name jobspool: $hf" ;;
		esac
		# a quote opened inside a quote (.Pq Ql x No or Ql y) renders
		# as ‘x or ‘y’’ with groff
		n=$(printf '%s\n' "$txt" | grep -c "‘[^’]*‘")
		eq "man -l $p: no quote opened inside another" "$n" 0
	fi
done
# cross references to our own pages point at pages that exist
for p in $pages; do
	for x in $(sed -n 's/^\.Xr \(jobspool[a-z-]*\) \([0-9]\).*/\1.\2/p' "$p" | sort -u); do
		check "$p: .Xr ${x%.*} ${x##*.} exists in man/" test -f "man/$x"
	done
done
# one answer on sharing a spool between hosts, the same in the five places
for f in man/jobspool.5 man/jobspool.7 man/jobspool-processor.8 README.md; do
	check "$f: a spool is never shared over a network filesystem" \
		grep -q "never shared over" "$f"
	n=$(grep -c -i -e 'one host or several' -e 'on a shared spool' \
		-e 'several sharing' "$f")
	eq "$f: nothing says hosts may share a spool" "$n" 0
done
check "README's comparison: other hosts go through the apiserver" \
	grep -q '^| several hosts | yes, processors on other hosts claim over HTTP(S) through the apiserver' README.md
# each program's page documents every environment variable its --help lists
for prog in jobspool-apiserver jobspool-processor jobspool-cleaner; do
	p=man/$prog.8
	[ -f "$p" ] && [ -x "$JS_BIN/$prog" ] || continue
	for v in $("$JS_BIN/$prog" --help 2>/dev/null |
	    sed -n 's/.*\[\(JOBSPOOL_[A-Z_]*\)\]$/\1/p' | sort -u); do
		check "$p documents $v" grep -qw "$v" "$p"
	done
done
# each program's page documents every option its --help lists
for prog in jobspool-apiserver jobspool-processor jobspool-cleaner; do
	p=man/$prog.8
	[ -f "$p" ] && [ -x "$JS_BIN/$prog" ] || continue
	for f in $("$JS_BIN/$prog" --help 2>/dev/null |
	    sed -n 's/^ *\(-[A-Za-z], \)\{0,1\}--\([a-z][a-z0-9-]*\).*/\2/p' | sort -u); do
		check "$p documents --$f" grep -q "^\.It Fl .*-$f\b\|Fl -$f\b\|Fl $f\b" "$p"
	done
done
finish
