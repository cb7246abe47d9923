#!/bin/sh
# jobspool-processor: container jobs through podman (jobspool-processor(8)).  Installs
# podman, runc and busybox-static when missing (as root, apt-get), runs
# podman with --runtime runc and rlimits it can set (--container-global-args,
# --container-args), builds the image
# localhost/busybox:latest from busybox-static, then: output in the log,
# exit code, environment via -e, the seed API's string command, cancel and
# timeout of a running container (nothing named jobspool-<id> is left).
# When podman cannot run containers here, the suite is skipped with the
# reason printed: a failure with CI=true unless we are not root (lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

IMAGE=localhost/busybox:latest
GLOBAL="--runtime runc"
RUNARGS="--ulimit nofile=1024:4096 --ulimit nproc=1024:4096"

# skip_all REASON: an install cannot help when we are not root (permission);
# otherwise the install or podman failed, a failure in CI (lib.sh skip)
skip_all() {
	if [ "$(id -u)" -ne 0 ] && [ -n "$missing" ]; then
		skip_suite permission "not root, cannot install: $*"
	fi
	skip_suite install "$*"
}

# what is missing, as Debian packages: podman's default runtime (crun) fails
# on hosts with hybrid cgroups (v1 controllers, v2 unified), so the suite
# runs podman with --runtime runc and needs runc installed
missing=""
command -v podman >/dev/null 2>&1 || missing="$missing podman"
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || missing="$missing runc"
[ -x /bin/busybox ] || missing="$missing busybox-static"
if [ -n "$missing" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "# installing$missing"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing \
		>/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			$missing >/dev/null 2>&1; }
fi
command -v podman >/dev/null 2>&1 ||
	skip_all "podman is not installed (apt-get install podman runc busybox-static)"
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] ||
	skip_all "runc is not installed (apt-get install runc)"
[ -x /bin/busybox ] || skip_all "/bin/busybox missing (apt-get install busybox-static)"

# shellcheck disable=SC2086
if ! podman $GLOBAL image exists "$IMAGE" 2>/dev/null; then
	ROOTFS=$(mktemp -d /tmp/jobspool-rootfs.XXXXXX)
	T_DIRS="$T_DIRS $ROOTFS"
	mkdir "$ROOTFS/bin"
	cp /bin/busybox "$ROOTFS/bin/"
	for a in sh echo cat sleep env; do ln -s busybox "$ROOTFS/bin/$a"; done
	# shellcheck disable=SC2086
	tar -C "$ROOTFS" -c . | podman $GLOBAL import - "$IMAGE" >/dev/null 2>&1 ||
		skip_all "podman import of $IMAGE failed"
fi
# shellcheck disable=SC2086
out=$(podman $GLOBAL run --rm $RUNARGS "$IMAGE" echo podman-works 2>&1)
[ "$out" = podman-works ] ||
	skip_all "podman cannot run a container here: $(echo "$out" | tail -n 1)"

cname_gone() { ! podman $GLOBAL ps -a --format '{{.Names}}' 2>/dev/null | grep -qx "jobspool-$1"; }
cname_running() { podman $GLOBAL ps --format '{{.Names}}' 2>/dev/null | grep -qx "jobspool-$1"; }

proc_setup
start_proc -j 4 --kill-grace 2s --container-runtime podman \
	--container-global-args "$GLOBAL" --container-args "$RUNARGS"

echo_id=$(submit "{\"container\":{\"image\":\"$IMAGE\",\"command\":[\"sh\",\"-c\",\"echo hello from \$K; echo to stderr >&2\"],\"environment\":{\"K\":\"the container\"}}}")
exit_id=$(submit "{\"container\":{\"image\":\"$IMAGE\",\"command\":[\"sh\",\"-c\",\"exit 7\"]}}")
seed_id=$(submit "{\"container\":{\"image\":\"$IMAGE\",\"command\":\"echo seed \$A\",\"environment\":{\"A\":\"api\"}}}")
noimg_id=$(submit '{"container":{"image":"localhost/no-such-image-jobspool:none","command":["true"]}}')
check "container jobs end" wait_final 120 "$echo_id" "$exit_id" "$seed_id" "$noimg_id"

eq "container: completed" "$(field "$echo_id" .status)" completed
eq "container: exit_code 0" "$(field "$echo_id" .exit_code)" 0
check "container: stdout in the log, -e environment" grep -qx 'hello from the container' "$SPOOL/$echo_id.log"
check "container: stderr in the log" grep -qx 'to stderr' "$SPOOL/$echo_id.log"
eq "container: log_sha256" "$(field "$echo_id" .log_sha256)" \
	"$(sha256sum <"$SPOOL/$echo_id.log" | cut -d' ' -f1)"
eq "container exit 7: failed" "$(field "$exit_id" .status)" failed
eq "container exit 7: exit_code" "$(field "$exit_id" .exit_code)" 7
eq "container, string command (seed API): sh -c" "$(cat "$SPOOL/$seed_id.log")" "seed api"
eq "container, missing image: failed" "$(field "$noimg_id" .status)" failed
check "container: --rm, nothing left" cname_gone "$echo_id"

# ---- cancel of a running container ----
c_id=$(submit "{\"container\":{\"image\":\"$IMAGE\",\"command\":[\"sleep\",\"300\"]}}")
check "cancel: container running" wait_until 60 cname_running "$c_id"
check "cancel: job running" wait_until 20 sh -c "jq -e '.pid != null' '$SPOOL/$c_id.wip' >/dev/null 2>&1"
t0=$(date +%s%N)
printf 'cancelled by the test' >"$SPOOL/tmp/$c_id.cancel"
mv "$SPOOL/tmp/$c_id.cancel" "$SPOOL/$c_id.cancel"
check "cancel: job becomes .cancelled" wait_until 20 test -f "$SPOOL/$c_id.cancelled"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
check "cancel: within about a second ($ms ms)" test "$ms" -lt 2000
eq "cancel: status" "$(field "$c_id" .status)" cancelled
check "cancel: the container is stopped and removed" wait_until 30 cname_gone "$c_id"

# ---- timeout of a running container ----
# the timeout counts from the CLI's start, and podman is slow to start a
# container on a loaded machine: 10 s, and the log shows it had started
t_id=$(submit "{\"container\":{\"image\":\"$IMAGE\",\"command\":[\"sh\",\"-c\",\"echo started; exec sleep 300\"]},\"timeout\":10}")
check "timeout: job ends" wait_final 60 "$t_id"
check "timeout: the container had started" grep -qx started "$SPOOL/$t_id.log"
eq "timeout: failed" "$(field "$t_id" .status)" failed
check "timeout: error says timeout" sh -c "jq -r .error '$(final "$t_id")' | grep -q timeout"
check "timeout: the container is stopped and removed" wait_until 30 cname_gone "$t_id"

stop_proc "$PROC_PID"
[ -n "${PROC_VERBOSE:-}" ] && cat "$PROC_LOG"
proc_check_logs
finish
