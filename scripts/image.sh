#!/bin/sh
# scripts/image.sh B [TAG]: builds the OCI image of Containerfile (make
# image) from the programs in build directory B: fills image-root/ (beside
# the Containerfile, in a temporary copy of the build context) with them,
# the shared libraries ldd lists for them, a static busybox as /bin/sh,
# /etc/passwd and /etc/group, then runs podman build (or docker build).
# Prints the image's size.  TAG defaults to localhost/jobspool:VERSION.
set -eu
B=${1:?usage: image.sh BUILD-DIR [TAG]}
VERSION=$(sed -n 's/^VERSION = //p' Makefile)
TAG=${2:-localhost/jobspool:$VERSION}
if command -v podman >/dev/null 2>&1; then
	# podman's default runtime fails on hosts with hybrid cgroups: runc
	ENGINE="podman --runtime runc"
elif command -v docker >/dev/null 2>&1; then
	ENGINE=docker
else
	echo "image.sh: neither podman nor docker is installed (apt-get install podman runc)" >&2
	exit 1
fi
[ -x /bin/busybox ] || { echo "image.sh: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 1; }
CTX=$(mktemp -d /tmp/jobspool-image.XXXXXX)
trap 'rm -rf "$CTX"' EXIT
R=$CTX/image-root
mkdir -p "$R/usr/bin" "$R/bin" "$R/etc" "$R/spool" "$R/tmp"
chmod 1777 "$R/tmp"
for p in jobspool-apiserver jobspool-processor jobspool-cleaner jobspool; do
	if [ ! -x "$B/$p" ]; then
		[ "$p" = jobspool ] && continue	# the client is optional
		echo "image.sh: $B/$p is missing: build it first (make B=$B)" >&2
		exit 1
	fi
	cp "$B/$p" "$R/usr/bin/"
	# every library the program loads, at the same path (and the loader)
	ldd "$B/$p" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' |
	while read -r lib; do
		[ -e "$R$lib" ] && continue
		mkdir -p "$R$(dirname "$lib")"
		cp -L "$lib" "$R$lib"
	done
done
# and libcurl, which the processor loads only for remote mode and the
# notifiers (processor/curlfn.h: not in its ldd), with what it loads
curl=$(ldconfig -p | awk '$1 == "libcurl-gnutls.so.4" { print $NF; exit }')
if [ -z "$curl" ]; then
	echo "image.sh: libcurl-gnutls.so.4 not found (apt-get install libcurl3-gnutls)" >&2
	exit 1
fi
{ echo "$curl"; ldd "$curl" | awk '/=> \// { print $3 }'; } |
while read -r lib; do
	[ -e "$R$lib" ] && continue
	mkdir -p "$R$(dirname "$lib")"
	cp -L "$lib" "$R$lib"
done
cp /bin/busybox "$R/bin/busybox"
for a in sh echo cat sleep env true false ls; do ln -s busybox "$R/bin/$a"; done
printf '%s\n' 'root:x:0:0:root:/:/bin/sh' 'jobspool:x:65532:65532:jobspool:/spool:/bin/sh' \
	'nobody:x:65534:65534:nobody:/nonexistent:/bin/sh' >"$R/etc/passwd"
printf '%s\n' 'root:x:0:' 'jobspool:x:65532:' 'nogroup:x:65534:' >"$R/etc/group"
chown 65532:65532 "$R/spool" 2>/dev/null || true
chmod 0750 "$R/spool"
cp Containerfile "$CTX/"
SOURCE=$(git remote get-url origin 2>/dev/null || echo local)
REV=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# shellcheck disable=SC2086
$ENGINE build -q -f "$CTX/Containerfile" --build-arg VERSION="$VERSION" \
	--build-arg SOURCE="$SOURCE" --build-arg REVISION="$REV" -t "$TAG" "$CTX" >/dev/null
# shellcheck disable=SC2086
size=$($ENGINE image inspect --format '{{.Size}}' "$TAG")
echo "image $TAG: $((size / 1024)) KiB ($(ls "$R/usr/bin" | wc -l) programs, $(find "$R" -name '*.so*' | wc -l) shared libraries)"
