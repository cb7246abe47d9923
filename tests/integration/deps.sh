#!/bin/sh
# scripts/deps.sh: make run (--run) asks only for what building and running
# need; make check (no argument) for the test tools too.  dpkg-query and id
# are replaced by fakes in PATH: a machine where given packages are missing,
# as a user who is not root (nothing is installed).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d /tmp/jobspool-deps.XXXXXX)
T_DIRS="$T_DIRS $W"
mkdir "$W/bin"
# fake dpkg-query: every package is installed except those in $MISSING
cat >"$W/bin/dpkg-query" <<'FAKE'
#!/bin/sh
for last; do :; done
case " $MISSING " in
*" $last "*) exit 1 ;;
esac
printf 'install ok installed'
FAKE
printf '#!/bin/sh\necho 1000\n' >"$W/bin/id"
chmod +x "$W/bin/dpkg-query" "$W/bin/id"
TEST_ONLY="clang libcmocka-dev mandoc gnutls-bin iproute2 jq procps python3 prometheus chromium"

deps() {	# MISSING ARGS...: runs deps.sh; $RC, $ERR
	d_m=$1; shift
	ERR=$(MISSING="$d_m" PATH="$W/bin:$PATH" sh "$ROOT/scripts/deps.sh" "$@" 2>&1)
	RC=$?
}

deps "$TEST_ONLY" --run
eq "make run's deps, test tools missing, not root: exit 0" "$RC" 0
eq "  and nothing to install" "$ERR" ""
deps "$TEST_ONLY"
eq "make check's deps, test tools missing: exit 1" "$RC" 1
for p in $TEST_ONLY; do
	check "  names $p" sh -c "printf '%s' \"\$1\" | grep -q -w -- '$p'" _ "$ERR"
done
deps "$TEST_ONLY libmicrohttpd-dev curl" --run
eq "make run's deps, libmicrohttpd-dev and curl missing: exit 1" "$RC" 1
check "  names them" sh -c "printf '%s' \"\$1\" | grep -q 'apt-get install -y libmicrohttpd-dev curl\$'" _ "$ERR"
for p in $TEST_ONLY; do
	check "  does not name $p" sh -c "! printf '%s' \"\$1\" | grep -q -w -- '$p'" _ "$ERR"
done
deps "gcovr" gcovr
check "a target's own package (make coverage: gcovr) is asked for" sh -c \
	"printf '%s' \"\$1\" | grep -q 'install -y gcovr\$'" _ "$ERR"
# the Makefile: make run asks for the run set only, make check for all
check "make run depends on deps-run" grep -q '^run: deps-run$' "$ROOT/Makefile"
check "deps-run is scripts/deps.sh --run" grep -q 'sh scripts/deps.sh --run' "$ROOT/Makefile"
check "make check depends on deps" grep -q '^check: deps$' "$ROOT/Makefile"
finish
