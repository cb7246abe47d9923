#!/bin/sh
# Installs the Debian packages jobspool needs to build and test, when run as
# root; otherwise prints the apt-get line to run.  Quiet when all is there.
# Arguments are further packages a target needs (make coverage: gcovr).
PKGS="gcc clang make pkg-config libjansson-dev uuid-dev libmicrohttpd-dev
libgnutls28-dev nettle-dev libcurl4-gnutls-dev libcmocka-dev curl jq mandoc gnutls-bin
procps iproute2 python3"
PKGS="$PKGS $*"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "jobspool: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "jobspool: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null ||
	{ echo "jobspool: apt-get install$missing failed" >&2; exit 1; }
