#!/bin/sh
# jobspool-processor: what is left of a container job after a processor
# killed with -9 (a stand-in container CLI records its calls): the
# restarted processor recovers the expired lease, kills the old run's
# process group (a straggler of the CLI's) and runs "RUNTIME [global args]
# kill jobspool-ID", then runs the job again.  A libcurl that cannot be
# used (a stand-in library lacking a function, files that are no library):
# remote mode and --notify-url exit 1 saying why.  A spool without a free
# inode at start: a warning, and jobs run once there is room.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"
P="$JS_BIN/jobspool-processor"

# ---- a container job's run left by a processor killed with -9 ----
proc_setup
mkdir -m 0755 "$WORK/bin"
mkfifo -m 0666 "$WORK/cfifo"
# the stand-in CLI: every call recorded; "run" leaves a straggler in its
# process group and waits on a fifo
cat >"$WORK/bin/podman" <<EOF
#!/bin/sh
echo "\$*" >>"$WORK/podman.calls"
case " \$* " in
*" run "*)
	sleep 300 &
	echo \$! >"$WORK/straggler"
	echo "stand-in run"
	read -r x <"$WORK/cfifo"
	echo "released \$x"
	;;
esac
EOF
chmod 0755 "$WORK/bin/podman"
CARGS="--container-runtime $WORK/bin/podman --container-global-args --root=$WORK/croot --container-args --pull=never"
# shellcheck disable=SC2086  # CARGS: words
start_proc --lease 1s --scan-interval 200ms $CARGS
pid1=$PROC_PID
cid=$(submit '{"container":{"image":"localhost/img:1","command":"echo hi","environment":{"A":"1"}}}')
check "container job: the stand-in CLI runs" \
	wait_until 20 grep -qs '^stand-in run$' "$SPOOL/$cid.log"
eq "  its command line" "$(head -n 1 "$WORK/podman.calls")" \
	"--root=$WORK/croot run --pull=never --rm --name jobspool-$cid -e A=1 localhost/img:1 sh -c echo hi"
kill -9 "$pid1"
wait "$pid1" 2>/dev/null
strag=$(cat "$WORK/straggler")
check "  killed with -9: the CLI's straggler outlives the processor" kill -0 "$strag"
check "  the job is left running" test -f "$SPOOL/$cid.wip"
: >"$WORK/podman.calls"
# shellcheck disable=SC2086
start_proc --lease 1s --scan-interval 200ms $CARGS
check "restart: the expired lease is recovered" wait_until 20 \
	grep -q "job $cid: lease expired (worker [^ ]*:$pid1); recovering it" "$PROC_LOG"
check "  the old run's process group is killed" wait_until 10 \
	grep -q "job $cid: killed the old run's process group" "$PROC_LOG"
check "  the straggler is gone" wait_until 10 sh -c "! kill -0 $strag 2>/dev/null"
check "  the container is killed through the CLI, global args first" \
	wait_until 10 grep -qx -- "--root=$WORK/croot kill jobspool-$cid" "$WORK/podman.calls"
check "  the job runs again" wait_until 20 sh -c \
	"[ \$(grep -c '^stand-in run\$' '$SPOOL/$cid.log') -eq 2 ]"
timeout 20 sh -c "echo go >'$WORK/cfifo'"
check "  and ends" wait_final 20 "$cid"
eq "  completed" "$(field "$cid" .status)" completed
eq "  second attempt" "$(field "$cid" .attempts)" 2
check "  its log holds the release" grep -qx 'released go' "$SPOOL/$cid.log"
eq "  no stop or kill of a container that ended by itself" \
	"$(grep -c -v ' run ' "$WORK/podman.calls")" 1
stop_proc "$PROC_PID"
proc_check_logs

# ---- a libcurl that cannot be used ----
proc_setup
mkdir "$WORK/stub" "$WORK/junk"
cat >"$WORK/stub.c" <<'EOF'
/* a libcurl with curl_global_init and curl_global_cleanup only */
int curl_global_init(long flags) { (void)flags; return 0; }
void curl_global_cleanup(void) { }
EOF
if cc -shared -fPIC -o "$WORK/stub/libcurl-gnutls.so.4" "$WORK/stub.c" 2>"$WORK/cc.err"; then
	LD_LIBRARY_PATH="$WORK/stub" "$P" --spool "$SPOOL" \
		--server http://127.0.0.1:9 --token t0k 2>"$WORK/remote.err"
	eq "libcurl without curl_easy_init: remote mode exits 1" "$?" 1
	check "  said why" grep -q "remote mode: libcurl has no curl_easy_init" "$WORK/remote.err"
	LD_LIBRARY_PATH="$WORK/stub" "$P" --spool "$SPOOL" \
		--notify-url http://127.0.0.1:9/hook 2>"$WORK/notify.err"
	eq "libcurl without curl_easy_init: --notify-url exits 1" "$?" 1
	check "  said why" grep -q "cannot start the notifiers: libcurl has no curl_easy_init" \
		"$WORK/notify.err"
else
	cat "$WORK/cc.err"
	skip install "cannot build a stand-in library (cc)" "libcurl lacking a function"
fi
for so in libcurl-gnutls.so.4 libcurl.so.4 libcurl-nss.so.4; do
	echo "not a library" >"$WORK/junk/$so"
done
LD_LIBRARY_PATH="$WORK/junk" "$P" --spool "$SPOOL" \
	--server http://127.0.0.1:9 --token t0k 2>"$WORK/junk.err"
eq "no loadable libcurl: remote mode exits 1" "$?" 1
check "  said why, and what to install" grep -q \
	"remote mode: cannot load libcurl (.*: file too short): install libcurl3-gnutls" "$WORK/junk.err"
eq "  no job file, no link left" "$(spool_files)" ""

# ---- no free inode on the spool's filesystem at start ----
if [ "$(id -u)" -ne 0 ]; then
	skip permission "not root (needs a tmpfs mount)" "spool without a free inode"
else
	MNT=$(mktemp -d /tmp/jobspool-inodes.XXXXXX)
	T_DIRS="$T_DIRS $MNT"
	if mount -t tmpfs -o size=16m,nr_inodes=64 tmpfs "$MNT" 2>/dev/null; then
		T_MOUNTS="${T_MOUNTS:-} $MNT"
		WORK2=$(mktemp -d /tmp/jobspool-work.XXXXXX)
		T_DIRS="$T_DIRS $WORK2"
		SPOOL="$MNT/spool"
		mkdir -m 0750 "$SPOOL" "$SPOOL/tmp" "$MNT/fill"
		read -r ino </proc/sys/kernel/random/uuid
		printf '%s\n' '{"shell":"echo room again"}' >"$SPOOL/tmp/$ino.json"
		n=0
		while touch "$MNT/fill/f$n" 2>/dev/null; do
			n=$((n + 1))
			[ "$n" -gt 1000 ] && break
		done
		eq "  the tmpfs is out of inodes" "$(stat -f -c %d "$MNT")" 0
		"$P" --spool "$SPOOL" --scan-interval 200ms 2>"$WORK2/proc.1.log" &
		PROC_PID=$!
		T_PIDS="$T_PIDS $PROC_PID"
		check "no free inode at start: a warning" wait_until 20 grep -q \
			"spool $SPOOL: no space left on device; starting anyway" "$WORK2/proc.1.log"
		check "  the processor runs on" wait_until 20 grep -q 'processing .* as ' "$WORK2/proc.1.log"
		check "  still there" kill -0 "$PROC_PID"
		rm -f "$MNT"/fill/*
		mv "$SPOOL/tmp/$ino.json" "$SPOOL/$ino.pending"
		check "  with room again a job runs" wait_final 20 "$ino"
		eq "  completed" "$(field "$ino" .status)" completed
		eq "  its log" "$(cat "$SPOOL/$ino.log")" "room again"
		stop_proc "$PROC_PID"
		if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
		    "$WORK2/proc.1.log"; then
			cat "$WORK2/proc.1.log"
			fail "processor log holds a sanitizer report"
		fi
	else
		skip permission "cannot mount a tmpfs here" "spool without a free inode"
	fi
fi
finish
