#!/bin/sh
# make install / install-examples / uninstall with PREFIX and DESTDIR:
# every program and man page lands where it should, nothing else, and
# uninstall takes it all away.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.." || exit 1

D=$(mktemp -d /tmp/jobspool-install.XXXXXX); T_DIRS="$T_DIRS $D"
PREFIX=/opt/jobspool
# B= the build directory under test, so nothing is rebuilt
# -o all: install what is in $JS_BIN as it is; never relink it here (with
# other CFLAGS than it was built with)
mk() { make -s --no-print-directory -o all B="$JS_BIN" PREFIX="$PREFIX" DESTDIR="$D" "$@"; }

mk install >"$D.log" 2>&1; rc=$?
T_DIRS="$T_DIRS $D.log"
eq "make install exits 0" "$rc" 0
[ $rc -eq 0 ] || cat "$D.log"

want=""
for p in jobspool-apiserver jobspool-processor jobspool-cleaner jobspool; do
	f="$D$PREFIX/bin/$p"
	check "$p installed in \$PREFIX/bin" test -f "$f"
	eq "$p mode 0755" "$(stat -c %a "$f" 2>/dev/null)" 755
	check "installed $p runs (--version)" sh -c "'$f' --version | grep -q '^$p '"
	want="$want $PREFIX/bin/$p"
done
# the certificate maker, a script (man 8 jobspool-certs)
f="$D$PREFIX/bin/jobspool-certs"
eq "jobspool-certs installed, mode 0755" "$(stat -c %a "$f" 2>/dev/null)" 755
check "installed jobspool-certs runs (--help)" sh -c "'$f' --help | grep -q '^usage: jobspool-certs'"
want="$want $PREFIX/bin/jobspool-certs"
pages=$(ls man/*.[1578] 2>/dev/null)
check "there are man pages to install" test -n "$pages"
for m in $pages; do
	sec=${m##*.}
	f="$D$PREFIX/share/man/man$sec/$(basename "$m")"
	check "$m installed in share/man/man$sec" cmp -s "$m" "$f"
	eq "$(basename "$m") mode 0644" "$(stat -c %a "$f" 2>/dev/null)" 644
	want="$want $PREFIX/share/man/man$sec/$(basename "$m")"
done
for m in jobspool.1 jobspool.5 jobspool.7 jobspool-cleaner.8 jobspool-apiserver.8 jobspool-processor.8; do
	sec=${m##*.}
	if [ -f "man/$m" ]; then
		check "man $sec $m reachable through MANPATH" sh -c \
			"MANPATH='$D$PREFIX/share/man' man -w $sec '${m%.*}' >/dev/null 2>&1"
	fi
done
# the sysusers.d and tmpfiles.d snippets, where systemd-sysusers and
# systemd-tmpfiles read them ($PREFIX/lib/...: /usr/lib or /usr/local/lib)
for k in sysusers tmpfiles; do
	f="$D$PREFIX/lib/$k.d/jobspool.conf"
	check "examples/jobspool.$k installed as lib/$k.d/jobspool.conf" \
		cmp -s "examples/jobspool.$k" "$f"
	eq "lib/$k.d/jobspool.conf mode 0644" "$(stat -c %a "$f" 2>/dev/null)" 644
	want="$want $PREFIX/lib/$k.d/jobspool.conf"
done
got=$(cd "$D" && find . -type f | sed 's/^\.//' | sort)
eq "make install installs exactly the programs, man pages and systemd snippets" "$got" \
	"$(printf '%s\n' $want | sort)"

mk install-examples >"$D.log" 2>&1
eq "make install-examples exits 0" "$?" 0
for e in examples/*; do
	f="$D$PREFIX/share/doc/jobspool/examples/$(basename "$e")"
	check "$e installed" cmp -s "$e" "$f"
	want="$want $PREFIX/share/doc/jobspool/examples/$(basename "$e")"
done
for e in jobspool-apiserver.service jobspool-processor.service jobspool.cron \
	jobspool-cleaner.service jobspool-cleaner.timer jobspool.sysusers \
	jobspool.tmpfiles nginx-jobspool.conf; do
	check "examples/$e exists" test -f "examples/$e"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	for u in examples/*.service; do
		out=$(systemd-analyze verify "$u" 2>&1 | grep -v -e 'is not executable' \
			-e "Command 'man " -e 'Failed to prepare filename')
		eq "systemd-analyze verify $u (but missing binaries)" "$out" ""
	done
fi
check "the cron line runs jobspool-cleaner" grep -q '^[0-9*].* jobspool-cleaner --spool' examples/jobspool.cron
got=$(cd "$D" && find . -type f | sed 's/^\.//' | sort)
eq "with examples: exactly those files" "$got" "$(printf '%s\n' $want | sort)"

mk uninstall >"$D.log" 2>&1
eq "make uninstall exits 0" "$?" 0
eq "make uninstall removes every installed file" "$(cd "$D" && find . -type f)" ""

# a second install into another prefix, default DESTDIR layout
PREFIX=/usr
mk install >"$D.log" 2>&1
check "PREFIX=/usr installs into /usr/bin" test -x "$D/usr/bin/jobspool-cleaner"
check "PREFIX=/usr installs into /usr/share/man/man8" test -f "$D/usr/share/man/man8/jobspool-cleaner.8"
check "PREFIX=/usr installs into /usr/lib/sysusers.d" test -f "$D/usr/lib/sysusers.d/jobspool.conf"
check "PREFIX=/usr installs into /usr/lib/tmpfiles.d" test -f "$D/usr/lib/tmpfiles.d/jobspool.conf"
mk uninstall >"$D.log" 2>&1
eq "uninstall again leaves nothing" "$(cd "$D" && find . -type f)" ""
finish
