#!/bin/sh
# Power loss: the spool lives on lossyfs (lossyfs.c, FUSE), which forgets on
# demand every file's data not fsync'ed and every directory entry not
# made durable by an fsync of its directory.  What jobspool(5) says must
# survive ("Atomicity and durability") does: a submission answered 201
# (one job and a batch), a final result a client was told of; what it
# says need not (the claim, the running job's record) may be lost, but the
# job is never lost with it: it runs again.  A control without any fsync
# shows the filesystem does drop what was not synced.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

[ -c /dev/fuse ] || skip_suite permission "no /dev/fuse (FUSE not available)"
command -v fusermount3 >/dev/null 2>&1 ||
	skip_suite install "fusermount3 missing (package fuse3)"
pkg-config --exists fuse3 2>/dev/null ||
	skip_suite install "libfuse3 headers missing (package libfuse3-dev)"

W=$(mktemp -d /tmp/jobspool-power.XXXXXX)
T_DIRS="$W $T_DIRS"	# cleanup removes it after the mount is gone
# shellcheck disable=SC2046
if ! cc -std=c11 -O1 -o "$W/lossyfs" "$(dirname "$0")/lossyfs.c" \
	$(pkg-config --cflags --libs fuse3) 2>"$W/cc.err"; then
	cat "$W/cc.err"
	fail "cannot compile lossyfs.c"
	finish
fi
MNT=$W/mnt
mkdir "$MNT"
"$W/lossyfs" "$MNT" 2>"$W/fs.log" &
FS_PID=$!
mounted() { grep -q " $MNT fuse" /proc/mounts; }
if ! wait_until 10 mounted; then
	cat "$W/fs.log"
	kill "$FS_PID" 2>/dev/null
	skip_suite permission "cannot mount a FUSE filesystem here"
fi
unmount() {
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	kill "$FS_PID" 2>/dev/null
	wait "$FS_PID" 2>/dev/null
}
ok "lossyfs mounted"

# the events of lossyfs, in order; each waits for its line in the log
N_EV=0
fs_event() {	# SIGNAL WORD
	N_EV=$((N_EV + 1))
	kill "-$1" "$FS_PID"
	ls "$MNT" >/dev/null	# the next request does the work
	wait_until 10 sh -c "[ \$(grep -c 'lossyfs: ' '$W/fs.log') -ge $N_EV ]"
}
power_loss() { fs_event USR1; }
checkpoint() { fs_event USR2; }

# ---- control: the filesystem forgets what was not synced ----
mkdir "$MNT/ctl"
printf 'kept\n' >"$MNT/ctl/old"
checkpoint
python3 -c 'import os,sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b"synced\n"); os.fsync(fd); os.close(fd)
d = os.open(os.path.dirname(sys.argv[1]), os.O_RDONLY); os.fsync(d); os.close(d)
' "$MNT/ctl/synced"
printf 'lost\n' >"$MNT/ctl/new"
printf 'changed\n' >"$MNT/ctl/old"
power_loss
check "control: a file created without any fsync is gone" \
	test ! -e "$MNT/ctl/new"
eq "control: unsynced data of an old file is dropped" "$(cat "$MNT/ctl/old")" kept
eq "control: a file and directory synced survive" \
	"$(cat "$MNT/ctl/synced" 2>/dev/null)" synced

# ---- the spool on lossyfs ----
SPOOL=$MNT/spool
mkdir -m 0750 "$SPOOL" "$SPOOL/tmp"
WORK=$W/work
mkdir -m 1777 "$WORK"
checkpoint

# an accepted submission survives: one job, then a batch
start_api
req POST /api/v1/jobs -d '{"name":"durable","command":["true"]}'
eq "POST 201" "$CODE" 201
ID=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/batches -d '{"jobs":[{"command":["true"]},{"command":["true"]}]}'
eq "batch POST 201" "$CODE" 201
BIDS=$(printf '%s' "$BODY" | jq -r '.jobs[]' 2>/dev/null)
kill -9 "$API_PID"
wait "$API_PID" 2>/dev/null
power_loss
eq "after a power loss the job answered 201 is pending" \
	"$(jq -r .name "$SPOOL/$ID.pending" 2>/dev/null)" durable
n=0
for b in $BIDS; do
	jq -e '.status == "pending"' "$SPOOL/$b.pending" >/dev/null 2>&1 &&
		n=$((n + 1))
done
eq "and both jobs of the batch answered 201" "$n" 2

# a final result survives; so does a job whose run was not on disk yet.
# The long job waits until $WORK/go exists (its re-run does not wait).
LONG=$(submit '{"name":"long","command":["sh","-c","while [ ! -e '"$WORK"'/go ]; do sleep 0.1; done"]}')
checkpoint	# a synced submission: only the claim and the run are unsynced
start_proc -j 2 --lease 1s --scan-interval 250ms --user root
check "the processor runs the jobs" wait_final 30 "$ID" $BIDS
running() { jq -e '.pid > 0' "$SPOOL/$LONG.wip" >/dev/null 2>&1; }
check "the long job runs" wait_until 30 running
# a durable write after the start (a new submission's directory sync)
# puts the claim's names on disk: the .wip must then hold its data
start_api
req POST /api/v1/jobs -d '{"name":"after","command":["true"]}'
eq "POST 201 while the long job runs" "$CODE" 201
AFTER=$(printf '%s' "$BODY" | jq -r .id)
kill -9 "$PROC_PID" "$API_PID"
wait "$PROC_PID" "$API_PID" 2>/dev/null
power_loss
eq "after a power loss the final result is there" \
	"$(jq -r .status "$SPOOL/$ID.completed" 2>/dev/null)" completed
n=0
for b in $BIDS; do
	[ -f "$SPOOL/$b.completed" ] && n=$((n + 1))
done
eq "and the batch's results" "$n" 2
# its state files (not its log, nor the .held kept beside a .wip)
states() {
	(cd "$SPOOL" && ls "$1".* 2>/dev/null | grep -v -e '\.log$' -e '\.held$')
}
st=$(states "$LONG")
case $st in
"$LONG.pending" | "$LONG.wip") ok "the running job is still there ($st)" ;;
*) fail "the running job is still there (found '$st')" ;;
esac
# the start record (.wip) is written without a data sync: a power loss
# may empty it; the claimed file, kept as <id>.held, then holds the job
content=$(jq -r .name "$SPOOL/$st" 2>/dev/null)
if [ "$content" != long ] && [ "$st" = "$LONG.wip" ]; then
	ok "  (its start record was lost: $(wc -c <"$SPOOL/$st") bytes left)"
	content=$(jq -r .name "$SPOOL/$LONG.held" 2>/dev/null)
fi
eq "  with its whole content" "$content" long
# (a .wip left beside its final file, whose removal was not synced, is
# removed by lease recovery: checked below)
st2=$(states "$AFTER" | grep -v -x "$AFTER.wip" || states "$AFTER")
case $st2 in
"$AFTER.pending" | "$AFTER.wip" | "$AFTER.completed")
	ok "the job answered 201 while the other ran is there ($st2)" ;;
*) fail "the job answered 201 while the other ran is there (found '$st2')" ;;
esac

# the lost run is run again (at-least-once), once the lease has expired
: >"$WORK/go"
start_proc -j 2 --lease 1s --scan-interval 250ms --user root
check "after restart the lost run is run again and completes" \
	wait_final 30 "$LONG" "$AFTER"
eq "  as completed" "$(jq -r .status "$SPOOL/$LONG.completed" 2>/dev/null)" \
	completed
nowip() { [ -z "$(cd "$SPOOL" && ls | grep '\.wip$')" ]; }
check "no .wip is left (one beside its final file is removed)" \
	wait_until 10 nowip
eq "no .held is left once the runs have ended" \
	"$(cd "$SPOOL" && ls | grep '\.held$')" ""
stop_pid "$PROC_PID"

# a result the processor told of (its notify command ran: after the final
# file's data sync, its rename and the directory's sync, shared by the
# results that ended together) survives; the others may be lost, never
# the job: every job is there and runs again.  Many short jobs at once,
# so that results end close together and share a directory sync.
TOLD=$W/told
: >"$TOLD"
B=""
i=0
while [ $i -lt 24 ]; do
	B="$B $(submit '{"command":["true"]}')"
	i=$((i + 1))
done
checkpoint	# synced submissions, as a 201 or sync+mv makes them
start_proc -j 4 --lease 1s --scan-interval 250ms --user root \
	--notify-command "printf '%s\\n' \"\$JOBSPOOL_JOB_ID\" >>'$TOLD'"
told() { [ "$(wc -l <"$TOLD")" -ge 12 ]; }
check "the processor tells of results" wait_until 30 told
kill -9 "$PROC_PID"
wait "$PROC_PID" 2>/dev/null
power_loss
n=0
bad=""
for t in $(sort -u "$TOLD"); do
	if jq -e '.status == "completed"' "$SPOOL/$t.completed" >/dev/null 2>&1
	then
		n=$((n + 1))
	else
		bad="$bad $t"
	fi
done
eq "every result told of ($(sort -u "$TOLD" | wc -l)) is still final after a power loss" \
	"${bad:-none}" none
lost=""
for b in $B; do
	[ -n "$(states "$b")" ] || lost="$lost $b"
done
eq "no job is lost" "${lost:-none}" none
start_proc -j 4 --lease 1s --scan-interval 250ms --user root
# shellcheck disable=SC2086
check "after restart every job ends completed" wait_final 60 $B
n=0
for b in $B; do
	[ -f "$SPOOL/$b.completed" ] && n=$((n + 1))
done
eq "  all $(echo $B | wc -w) of them" "$n" 24
eq "  and no .held is left" "$(cd "$SPOOL" && ls | grep '\.held$')" ""
stop_pid "$PROC_PID"

# ---- a remote processor's work directory on lossyfs: nothing written
# there is synced (its jobs are copies; the server's spool, here on the
# real filesystem, holds them durably), so a power loss of the worker's
# host takes all of it; the server runs the lost job again once its lease
# has expired, and a result it was given stays given ----
SPOOL=$W/server
mkdir -m 0750 "$SPOOL" "$SPOOL/tmp"
RWD=$MNT/rwork
mkdir -m 0750 "$RWD"
checkpoint
# (a lease of 6 s, heartbeats every 2 s: one missed under a loaded
# machine's sanitizers must not pass for the power loss, which would make
# a third attempt)
start_api --lease 6s --token w:wsecret:worker
start_remote() {
	PROC_N=$((PROC_N + 1))
	PROC_LOG="$WORK/proc.$PROC_N.log"
	"$JS_BIN/jobspool-processor" --spool "$RWD" --server "$URL" \
		--token wsecret -j 2 --user root 2>>"$PROC_LOG" &
	PROC_PID=$!
	T_PIDS="$T_PIDS $PROC_PID"
}
start_remote
QUICK=$(submit '{"command":["true"]}')
RLONG=$(submit '{"name":"rlong","command":["sh","-c","while [ ! -e '"$WORK"'/go2 ]; do sleep 0.1; done; echo rerun-ok"]}')
check "remote: the quick job's result reaches the server" wait_final 30 "$QUICK"
rrun() { jq -e '.pid > 0' "$RWD/$RLONG.wip" >/dev/null 2>&1; }
check "remote: the long job runs in the work directory" wait_until 30 rrun
rpg=$(jq -r .pid "$RWD/$RLONG.wip")
jobs_here() { (cd "$RWD" && ls 2>/dev/null | grep -E '^[0-9a-f-]{36}\.' ); }
# the host's power goes: every process of it dies at once
link=$(ps -o pid=,comm= --ppid "$PROC_PID" | awk '$2 ~ /^jobspool-proc/ { print $1 }')
kill -9 "$PROC_PID" $link "-$rpg" 2>/dev/null
wait "$PROC_PID" 2>/dev/null
# (an fsync of the directory, as another program's could be, keeps the
# names: the files are there after the power loss, without their data)
python3 -c 'import os,sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$RWD"
power_loss
nonempty=""
for f in $(jobs_here); do [ -s "$RWD/$f" ] && nonempty="$nonempty $f"; done
check "remote: the job's files are still in the work directory" \
	test -n "$(jobs_here)"
eq "remote: ... but the power loss emptied them all (none synced)" \
	"${nonempty:-none}" none
eq "remote: the server still has the quick job's result" \
	"$(jq -r .status "$SPOOL/$QUICK.completed" 2>/dev/null)" completed
: >"$WORK/go2"
start_remote
check "remote: the restart drops the damaged copy, saying so" wait_until 20 \
	grep -q "job $RLONG: its wip file here was damaged (a power loss?); removed" \
	"$PROC_LOG"
check "remote: after restart the lost job runs again once its lease expired" \
	wait_final 60 "$RLONG"
eq "  and completes" "$(jq -r .status "$SPOOL/$RLONG.completed" 2>/dev/null)" \
	completed
ra=$(jq -r .attempts "$SPOOL/$RLONG.completed" 2>/dev/null)
eq "  on its second attempt" "$ra" 2
# (what each program said of it, to tell why if not)
[ "$ra" = 2 ] || grep -h "$RLONG" "$API_LOG" "$WORK"/proc.*.log
check "  its log is the re-run's" grep -q rerun-ok "$SPOOL/$RLONG.log"
eq "remote: the quick job ran once" \
	"$(jq -r .attempts "$SPOOL/$QUICK.completed" 2>/dev/null)" 1
delivered() { [ -z "$(jobs_here)" ]; }
check "remote: the work directory is empty again once delivered" \
	wait_until 20 delivered
stop_pid "$PROC_PID"
stop_pid "$API_PID"

# ---- the apiserver's claim for a remote worker: the record of the claim
# in <id>.wip is not synced either (jobspool(5)); the claimed file, kept
# as <id>.held, holds the job, which runs again once its lease expired ----
SPOOL=$MNT/aspool
mkdir -m 0750 "$SPOOL" "$SPOOL/tmp"
RWD=$W/rwork2	# the worker's work directory, on the real filesystem
mkdir -m 0750 "$RWD"
ALONG=$(submit '{"name":"along","command":["sh","-c","while [ ! -e '"$WORK"'/go3 ]; do sleep 0.1; done; echo again-ok"]}')
checkpoint	# a synced submission
start_api --lease 2s --token w:wsecret:worker
start_remote
aclaimed() { jq -e '.worker != null' "$SPOOL/$ALONG.wip" >/dev/null 2>&1; }
check "api claim: the server's .wip records the worker's claim" \
	wait_until 30 aclaimed
arun() { jq -e '.pid > 0' "$RWD/$ALONG.wip" >/dev/null 2>&1; }
check "api claim: the job runs on the worker" wait_until 30 arun
check "api claim: the claimed file is kept as .held" test -f "$SPOOL/$ALONG.held"
rpg=$(jq -r .pid "$RWD/$ALONG.wip")
link=$(ps -o pid=,comm= --ppid "$PROC_PID" | awk '$2 ~ /^jobspool-proc/ { print $1 }')
kill -9 "$API_PID" "$PROC_PID" $link "-$rpg" 2>/dev/null
wait "$API_PID" "$PROC_PID" 2>/dev/null
# a later directory sync (another submission's) puts the claim's names on
# disk, not the record's data
python3 -c 'import os,sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$SPOOL"
power_loss
eq "api claim: after a power loss the job is running there" \
	"$(states "$ALONG")" "$ALONG.wip"
eq "  its record's data was not synced: lost" \
	"$(wc -c <"$SPOOL/$ALONG.wip" 2>/dev/null)" 0
eq "  the claimed file holds the whole job" \
	"$(jq -r .name "$SPOOL/$ALONG.held" 2>/dev/null)" along
: >"$WORK/go3"
rm -rf "$RWD"
mkdir -m 0750 "$RWD"
start_api --lease 2s --token w:wsecret:worker
start_remote
check "api claim: after restart the lost job runs again and completes" \
	wait_final 60 "$ALONG"
eq "  as completed" "$(jq -r .status "$SPOOL/$ALONG.completed" 2>/dev/null)" \
	completed
check "  its log is the re-run's" grep -q again-ok "$SPOOL/$ALONG.log"
eq "  and no .held is left" "$(cd "$SPOOL" && ls | grep '\.held$')" ""
stop_pid "$PROC_PID"
stop_pid "$API_PID"
proc_check_logs
unmount
finish
