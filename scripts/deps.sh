#!/bin/sh
# Installs the Debian packages jobspool needs, when run as root; otherwise
# prints the apt-get line to run.  Quiet when all is there.
#   sh scripts/deps.sh            build, run and every test suite (make check)
#   sh scripts/deps.sh --run      only what building and running need (make
#                                 run, make install): no test tools
# Further arguments are packages a target needs too (make coverage: gcovr).
# to build the three programs and run them (scripts/run.sh waits with curl)
RUN_PKGS="gcc make pkg-config libjansson-dev uuid-dev libmicrohttpd-dev
libgnutls28-dev nettle-dev libcurl4-gnutls-dev curl"
# the observability suites: promtool and a Prometheus server (api_prom),
# headless Chromium for the status page (api_ui)
OBS_PKGS="prometheus chromium"
# running it for real (systemd.sh): systemd-analyze, systemd-sysusers and
# systemd-tmpfiles on the examples, nginx in front of the apiserver
SVC_PKGS="systemd nginx-light"
# the test suites only: the second compiler, cmocka, JSON checks, man page
# lint, test certificates, ps/pgrep, network namespaces, the stateful tester,
# FUSE for the power-loss suite (fault_power's lossyfs)
TEST_PKGS="clang libcmocka-dev jq mandoc gnutls-bin procps iproute2 python3
fuse3 libfuse3-dev"
if [ "${1:-}" = --run ]; then
	shift
	PKGS="$RUN_PKGS"
	what="run"
else
	PKGS="$RUN_PKGS $TEST_PKGS $OBS_PKGS $SVC_PKGS"
	what="build and test"
fi
PKGS="$PKGS $*"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "jobspool: missing packages to $what; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "jobspool: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null ||
	{ echo "jobspool: apt-get install$missing failed" >&2; exit 1; }
