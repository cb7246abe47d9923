#!/bin/sh
# The container image (Containerfile, make image: scripts/image.sh): built
# FROM scratch from the build under test with podman (--runtime runc), its
# labels and contents; the apiserver and a processor started from it on a
# bind-mounted host spool; a job submitted with curl from the host with a
# JWT minted by the image; its result read back; the host's spool holds
# the ordinary jobspool files.  Installs podman, runc and busybox-static
# when missing (as root); skips with the reason where containers cannot run.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIM="--ulimit nofile=1024:4096 --ulimit nproc=1024:4096"
missing=""
command -v podman >/dev/null 2>&1 || missing="$missing podman"
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || missing="$missing runc"
[ -x /bin/busybox ] || missing="$missing busybox-static"
if [ -n "$missing" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "# installing$missing"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null 2>&1; }
fi
if ! command -v podman >/dev/null 2>&1 || [ ! -x /bin/busybox ]; then
	[ "$(id -u)" -ne 0 ] && skip_suite permission "not root, cannot install$missing"
	skip_suite install "podman, runc or busybox-static missing (apt-get install podman runc busybox-static)"
fi
P="podman --runtime runc"
TAG=localhost/jobspool:test-$$
W=$(mktemp -d /tmp/jobspool-image.XXXXXX)
T_DIRS="$T_DIRS $W"
N=jobspool-test-$$
cleanup_image() {
	$P rm -f -t 1 "$N-api" "$N-proc" "$N-notify" >/dev/null 2>&1
	$P rmi -f "$TAG" >/dev/null 2>&1
}

(cd "$ROOT" && sh scripts/image.sh "$JS_BIN" "$TAG") >"$W/build" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	cat "$W/build"
	# podman that cannot build here: no permission (user namespaces) when
	# not root; a real failure otherwise
	[ "$(id -u)" -ne 0 ] && skip_suite permission "podman cannot build images as this user"
	fail "scripts/image.sh builds the image"
	finish
fi
ok "scripts/image.sh builds the image: $(cat "$W/build")"
# shellcheck disable=SC2086
if ! $P run --rm $LIM "$TAG" --version >"$W/version" 2>&1; then
	cat "$W/version"
	cleanup_image
	[ "$(id -u)" -ne 0 ] && skip_suite permission "podman cannot run containers as this user"
	skip_suite permission "podman cannot run containers here: $(tail -n 1 "$W/version")"
fi
check "the image runs the apiserver (--version)" grep -q '^jobspool-apiserver ' "$W/version"
eq "label version" "$($P image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "$TAG")" \
	"$(sed -n 's/^VERSION = //p' "$ROOT/Makefile")"
rev=$($P image inspect --format '{{index .Labels "org.opencontainers.image.revision"}}' "$TAG")
check "label revision is a commit ($rev)" sh -c "cd '$ROOT' && git cat-file -e '$rev^{commit}'"
eq "one layer (FROM scratch)" "$($P image inspect --format '{{len .RootFS.Layers}}' "$TAG")" 1
eq "unprivileged user" "$($P image inspect --format '{{.Config.User}}' "$TAG")" 65532:65532
check "the spool is a volume" sh -c "$P image inspect --format '{{.Config.Volumes}}' '$TAG' | grep -q /spool"
# shellcheck disable=SC2086
check "a static busybox is /bin/sh" $P run --rm $LIM --entrypoint /bin/sh "$TAG" -c 'echo ok'

# ---- apiserver and processor from the image, the spool on the host ----
new_spool
head -c 48 /dev/urandom | base64 >"$W/jwt"
chmod 600 "$W/jwt"
PORT=$(free_port)
U="$(id -u):$(id -g)"
# shellcheck disable=SC2086
$P run -d --name "$N-api" --network host $LIM --user "$U" -v "$SPOOL:/spool" \
	-v "$W/jwt:/etc/jwt.secret:ro" "$TAG" --spool /spool \
	--listen "127.0.0.1:$PORT" --jwt-secret-file /etc/jwt.secret >/dev/null
eq "apiserver container started" "$?" 0
# shellcheck disable=SC2086
$P run -d --name "$N-proc" --network host $LIM --user "$U" -v "$SPOOL:/spool" \
	--entrypoint /usr/bin/jobspool-processor "$TAG" --spool /spool -j 1 >/dev/null
eq "processor container started" "$?" 0
URL=http://127.0.0.1:$PORT
check "the apiserver answers from its container" wait_until 20 \
	curl -sf -o /dev/null "$URL/healthz"
# shellcheck disable=SC2086
TOKEN=$($P run --rm $LIM --user "$U" -v "$W/jwt:/etc/jwt.secret:ro" "$TAG" \
	--jwt-secret-file /etc/jwt.secret --mint-token alice --ttl 10m)
check "the image mints a JWT" test -n "$TOKEN"
req POST /api/v1/jobs -H "Authorization: Bearer $TOKEN" \
	-d '{"shell":"echo from the image; uname -s"}'
eq "curl from the host submits with the JWT: 201" "$CODE" 201
ID=$(printf '%s' "$BODY" | jq -r .id)
check "the processor container completes it" wait_until 30 test -f "$SPOOL/$ID.completed"
req GET "/api/v1/jobs/$ID/log" -H "Authorization: Bearer $TOKEN"
eq "its log" "$BODY" "from the image
Linux"
req GET "/api/v1/jobs/$ID" -H "Authorization: Bearer $TOKEN"
jq_eq "its result: completed, exit 0, owner alice" '"\(.status) \(.exit_code) \(.owner)"' "completed 0 alice"
check "the host's spool: <id>.retrieved is valid JSON" jq -e ".id == \"$ID\"" "$SPOOL/$ID.retrieved"
eq "... and <id>.log beside it" "$(cat "$SPOOL/$ID.log")" "from the image
Linux"
eq "... owned by the host user" "$(stat -c %u "$SPOOL/$ID.retrieved")" "$(id -u)"
check "... tmp/ is empty" test -z "$(ls -A "$SPOOL/tmp")"
# a processor with a notifier loads libcurl (processor/curlfn.h; not in its
# ldd): scripts/image.sh must have put it in the image
# shellcheck disable=SC2086
$P run -d --name "$N-notify" --network host $LIM --user "$U" \
	--entrypoint /usr/bin/jobspool-processor "$TAG" --spool /tmp/s \
	--notify-url "http://127.0.0.1:$PORT/nowhere" >/dev/null
check "a processor with --notify-url runs in the image" wait_until 20 \
	sh -c "$P logs '$N-notify' 2>&1 | grep -q 'processing /tmp/s'"
$P logs "$N-notify" >"$W/notify.log" 2>&1
check "... having loaded libcurl" sh -c "! grep -q 'libcurl' '$W/notify.log'"
$P rm -f -t 1 "$N-notify" >/dev/null 2>&1
$P logs "$N-api" >"$W/api.log" 2>&1
check "no sanitizer report from the apiserver" sh -c "! grep -q 'Sanitizer' '$W/api.log'"
cleanup_image
finish
