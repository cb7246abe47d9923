#!/bin/sh
# jobspool-processor in remote mode (--server) against a real apiserver on
# 127.0.0.1: usage errors; jobs run once with whole logs and exit codes;
# the worker field; labels (remote and local); cancel forwarded; wrong
# token / no worker role refused (logged, keeps retrying); the apiserver
# killed and restarted during a job (completes once, log whole); a paused
# job (--log-buffer) while the server hangs, and not paused again while the
# link shuts down; lease lost (the late finish
# gets 409, the job runs again elsewhere); graceful shutdown hands jobs
# back; a crashed processor's link hands its job back (stragglers killed);
# a crash of both: the next start delivers the result; TLS and mutual TLS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"
PROC=$JS_BIN/jobspool-processor

proc_setup			# $SPOOL: the server's spool
WDIRS=$(mktemp -d /tmp/jobspool-rwork.XXXXXX)
T_DIRS="$T_DIRS $WDIRS"
TOKF=$WDIRS/worker.token
printf 'wsecret\n' >"$TOKF"

# start_remote NAME ARGS...: a remote processor with work dir $WDIRS/NAME;
# sets $RPID and $RLOG
start_remote() {
	r_name=$1; shift
	RLOG=$WDIRS/$r_name.log
	"$PROC" --spool "$WDIRS/$r_name" --server "$URL" --kill-grace 1s "$@" \
		2>>"$RLOG" &
	RPID=$!
	T_PIDS="$T_PIDS $RPID"
}
# link_of PID: the processor's link process (its child of the same name)
link_of() { ps -o pid=,comm= --ppid "$1" | awk '$2 ~ /^jobspool-proc/ { print $1 }'; }
api_submit() {
	curl -s --max-time 20 -H 'Authorization: Bearer usecret' -d "$1" \
		"$URL/api/v1/jobs" | jq -r .id
}
state_of() {
	for s_s in pending wip completed failed cancelled retrieved; do
		[ -e "$SPOOL/$1.$s_s" ] && { echo "$s_s"; return; }
	done
	echo none
}
is_state() { [ "$(state_of "$1")" = "$2" ]; }
in_log() { grep -q -- "$2" "$1" 2>/dev/null; }
no_sanitizer() {
	! grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$@"
}

# ---- usage ----
"$PROC" --spool "$WDIRS/u" --token x >/dev/null 2>&1
eq "--token without --server exits 2" $? 2
"$PROC" --spool "$WDIRS/u" --token-file "$TOKF" >/dev/null 2>&1
eq "--token-file without --server exits 2" $? 2
"$PROC" --spool "$WDIRS/u" --server ftp://x >/dev/null 2>&1
eq "--server ftp:// exits 2" $? 2
"$PROC" --spool "$WDIRS/u" --server http://127.0.0.1:1 --tls-cert "$TOKF" \
	>/dev/null 2>&1
eq "--tls-cert without --tls-key exits 2" $? 2
"$PROC" --spool "$WDIRS/u" --server http://127.0.0.1:1 --tls-ca /nonexistent \
	>/dev/null 2>&1
eq "unreadable --tls-ca exits 2" $? 2
"$PROC" --spool "$WDIRS/u" --label 'no good' >/dev/null 2>&1
eq "bad --label exits 2" $? 2
"$PROC" --spool "$WDIRS/u" --server http://127.0.0.1:1 --log-buffer 1 \
	>/dev/null 2>&1
eq "--log-buffer 1 exits 2" $? 2
"$PROC" --spool "$WDIRS/u" --server http://127.0.0.1:1 --claim-wait 301s \
	>/dev/null 2>&1
eq "--claim-wait 301s exits 2" $? 2
"$PROC" --spool "$WDIRS/u" --server http://127.0.0.1:1 --token-file /nonexistent \
	>/dev/null 2>&1
eq "missing --token-file exits 2" $? 2
"$PROC" --help >"$WDIRS/help.txt"
for o in server token token-file label tls-ca tls-cert tls-key claim-wait \
    log-buffer retry-max; do
	check "--help lists --$o" grep -q -- "--$o " "$WDIRS/help.txt"
done

# ---- an apiserver with a worker token, a client token, a plain token ----
check "apiserver starts" start_api --lease 12s --token w:wsecret:worker \
	--token u:usecret --token n:nsecret
start_remote w1 -j 2 --token-file "$TOKF"
W1=$RPID W1LOG=$RLOG
check "remote processor logs remote mode" wait_until 20 in_log "$W1LOG" \
	'remote mode: claiming from'

# ---- jobs run once, exit codes, whole logs, worker ----
ok_id=$(api_submit '{"shell":"for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done"}')
bad_id=$(api_submit '{"command":["sh","-c","echo to stderr >&2; exit 3"]}')
hand_id=$(submit '{"shell":"printf abc"}')
check "jobs finish on the server" wait_final 60 "$ok_id" "$bad_id" "$hand_id"
eq "exit 0 completed" "$(field "$ok_id" .status)" completed
eq "exit 3 failed" "$(field "$bad_id" .status)" failed
eq "exit code 3 recorded" "$(field "$bad_id" .exit_code)" 3
eq "hand-written job completed" "$(field "$hand_id" .status)" completed
eq "server log whole" "$(cat "$SPOOL/$ok_id.log")" "$(printf 'line %s\n' 1 2 3 4 5)"
eq "stderr in the log" "$(cat "$SPOOL/$bad_id.log")" "to stderr"
eq "log without newline" "$(cat "$SPOOL/$hand_id.log")" "abc"
eq "log_sha256 matches the server's log" "$(field "$ok_id" .log_sha256)" \
	"$(sha256sum <"$SPOOL/$ok_id.log" | cut -d' ' -f1)"
eq "log_size matches" "$(field "$ok_id" .log_size)" "$(wc -c <"$SPOOL/$ok_id.log" | tr -d ' ')"
eq "attempts 1" "$(field "$ok_id" .attempts)" 1
eq "worker is host:pid of the processor" "$(field "$ok_id" .worker)" \
	"$(hostname):$W1"
check "processor logs the claim" in_log "$W1LOG" "job $ok_id: claimed from the server"
check "work directory emptied" wait_until 10 sh -c \
	"! ls '$WDIRS/w1' | grep -q '$ok_id'"

# a retry happens on the worker, the server sees one claim and 2 attempts
rt_id=$(api_submit "{\"shell\":\"echo try; if [ -e $WORK/retry.mark ]; then exit 0; fi; touch $WORK/retry.mark; exit 7\",\"retries\":1}")
check "retry: job finishes" wait_final 60 "$rt_id"
eq "retry: completed" "$(field "$rt_id" .status)" completed
eq "retry: two attempts" "$(field "$rt_id" .attempts)" 2
eq "retry: both runs in the log" "$(cat "$SPOOL/$rt_id.log")" "$(printf 'try\ntry')"

# 20 jobs at -j 2: each runs exactly once
ids=""
for i in $(seq 1 20); do ids="$ids $(submit "{\"shell\":\"echo n$i\"}")"; done
# shellcheck disable=SC2086
check "20 jobs finish" wait_final 120 $ids
n_ok=0
for i in $ids; do
	[ "$(field "$i" .status)/$(field "$i" .attempts)/$(wc -l <"$SPOOL/$i.log")" = "completed/1/1" ] &&
		n_ok=$((n_ok + 1))
done
eq "20 jobs completed once, one log line each" "$n_ok" 20

# ---- live log: a follower sees the first line before the job ends ----
live_id=$(api_submit '{"shell":"echo first; sleep 4; echo second"}')
FOL=$WDIRS/follow.out
curl -s -N --max-time 30 -H 'Authorization: Bearer usecret' \
	"$URL/api/v1/jobs/$live_id/log?follow=1" >"$FOL" 2>/dev/null &
FPID=$!
T_PIDS="$T_PIDS $FPID"
check "follower sees the first line live" wait_until 20 in_log "$FOL" first
check "... while the job still runs" is_state "$live_id" wip
check "live job finishes" wait_final 30 "$live_id"
wait "$FPID" 2>/dev/null
eq "follower got the whole log" "$(cat "$FOL")" "$(printf 'first\nsecond')"

# ---- cancel on the server reaches the remote run ----
c_id=$(api_submit '{"shell":"echo started; exec sleep 987601"}')
check "cancel: job runs remotely" wait_until 30 in_log "$SPOOL/$c_id.log" started
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H 'Authorization: Bearer usecret' \
	"$URL/api/v1/jobs/$c_id")
eq "cancel: DELETE 202" "$code" 202
check "cancel: job cancelled on the server" wait_until 20 is_state "$c_id" cancelled
check "cancel: no sleep left" wait_until 10 sh -c "! pgrep -x -f 'sleep 987601' >/dev/null"

# ---- labels: a gpu job waits for a worker with gpu ----
gpu_id=$(api_submit '{"shell":"echo gpu","labels":["gpu"]}')
plain_id=$(api_submit '{"shell":"echo plain"}')
check "plain job runs" wait_final 30 "$plain_id"
sleep 1
eq "gpu job stays pending without a gpu worker" "$(state_of "$gpu_id")" pending
start_remote w2 -j 1 --token wsecret --label gpu --label big
W2=$RPID
check "gpu job runs on the gpu worker" wait_final 30 "$gpu_id"
eq "... that worker" "$(field "$gpu_id" .worker)" "$(hostname):$W2"

# labels in local mode: a local processor without the label leaves it
lab_id=$(submit '{"shell":"echo local","labels":["fpga"]}')
badlab_id=$(submit '{"shell":"echo bad","labels":["no good"]}')
stop_pid "$W2"
start_proc -j 1 --lease 6s
LP=$PROC_PID
check "a label that is not a word: the local processor fails the job" \
	wait_until 20 is_state "$badlab_id" failed
check "  saying why" sh -c "jq -r .error '$SPOOL/$badlab_id.failed' | grep -q labels"
sleep 2
eq "local processor without the label leaves it pending" "$(state_of "$lab_id")" pending
stop_pid "$LP"
start_proc -j 1 --lease 6s --label fpga
LP=$PROC_PID
check "local processor with the label runs it" wait_final 30 "$lab_id"
stop_pid "$LP"

# ---- refused tokens: logged, the processor keeps running ----
start_remote nr -j 1 --token nsecret --retry-max 1s
NR=$RPID NRLOG=$RLOG
start_remote bad -j 1 --token wrong --retry-max 1s
BAD=$RPID BADLOG=$RLOG
check "token without the worker role: 403 logged" wait_until 20 in_log "$NRLOG" \
	'claim refused by the server (403'
check "wrong token: 401 logged" wait_until 20 in_log "$BADLOG" \
	'claim refused by the server (401'
check "refused processors keep running" sh -c "kill -0 $NR && kill -0 $BAD"
stop_pid "$NR"
stop_pid "$BAD"

# ---- the apiserver killed and restarted during a job ----
out_id=$(api_submit '{"shell":"for i in $(seq 1 40); do echo out $i; sleep 0.2; done"}')
check "outage: job runs" wait_until 30 in_log "$SPOOL/$out_id.log" 'out 2'
kill -9 "$API_PID"
wait "$API_PID" 2>/dev/null
check "outage: the processor logs it" wait_until 10 in_log "$W1LOG" \
	"server unreachable"
sleep 1
# (a longer lease from now on: the buffer test hangs the server a while)
check "apiserver restarts on the same port" start_api --listen "127.0.0.1:$PORT" \
	--lease 20s --token w:wsecret:worker --token u:usecret --token n:nsecret
check "outage: job completes" wait_final 60 "$out_id"
eq "outage: completed" "$(field "$out_id" .status)" completed
eq "outage: ran once" "$(field "$out_id" .attempts)" 1
eq "outage: log whole, no duplicate" "$(cat "$SPOOL/$out_id.log")" \
	"$(seq 1 40 | sed 's/^/out /')"
check "outage: reconnection logged" in_log "$W1LOG" "reachable again"

# ---- log buffer: the job pauses while the server hangs ----
stop_pid "$W1"
start_remote w3 -j 1 --token wsecret --log-buffer 4K --retry-max 1s \
	--shutdown-grace 1s
W3=$RPID W3LOG=$RLOG
buf_id=$(api_submit '{"shell":"echo begin; sleep 1; i=0; while [ $i -lt 150 ]; do j=0; while [ $j -lt 10 ]; do printf \"%099d\\n\" $i; j=$((j+1)); done; i=$((i+1)); sleep 0.1; done; echo end"}')
check "buffer: job runs" wait_until 30 in_log "$SPOOL/$buf_id.log" begin
kill -STOP "$API_PID"
check "buffer: job paused (SIGSTOP)" wait_until 40 in_log "$W3LOG" \
	"job $buf_id: paused"
kill -CONT "$API_PID"
check "buffer: job resumed" wait_until 40 in_log "$W3LOG" "job $buf_id: resumed"
check "buffer: job completes" wait_final 60 "$buf_id"
eq "buffer: whole log" "$(wc -l <"$SPOOL/$buf_id.log" | tr -d " ")" 1502
eq "buffer: log in order" "$(sed -n '2p;11p;12p;1501p;1502p' "$SPOOL/$buf_id.log" | cut -c96-)" \
	"$(printf '0000\n0000\n0001\n0149\n')"
eq "buffer: ran once" "$(field "$buf_id" .attempts)" 1

# ---- shutdown while a job is paused for its log: continued once, not
# stopped and continued in turn while the link hands jobs back ----
start_remote w6 -j 1 --token wsecret --label flood --log-buffer 4K \
	--retry-max 1s --shutdown-grace 6s
W6=$RPID W6LOG=$RLOG
fl_id=$(api_submit '{"shell":"echo begin; i=0; while [ $i -lt 2000 ]; do printf \"%099d\\n\" $i; i=$((i+1)); sleep 0.05; done","labels":["flood"]}')
check "flood: job runs" wait_until 30 in_log "$SPOOL/$fl_id.log" begin
# the server stopped: the log piles up here, the job is paused
kill -TERM "$API_PID"
wait "$API_PID"
check "flood: job paused while the server is down" wait_until 30 in_log \
	"$W6LOG" "job $fl_id: paused"
LINK=$(link_of "$W6")
check "flood: found the link process" test -n "$LINK"
fl_n=$(wc -l <"$W6LOG")
fl_after() { tail -n "+$((fl_n + 1))" "$W6LOG" | grep -c "job $fl_id: $1"; }
# SIGTERM to the processor and its link at once (a service manager stopping
# the whole group): the link starts its shutdown with the job still running
# (6s of grace)
kill -TERM "$W6" "$LINK"
check "flood: continued at the shutdown" wait_until 20 sh -c \
	"tail -n +$((fl_n + 1)) '$W6LOG' | grep -q 'job $fl_id: resumed'"
sleep 2
eq "flood: not paused again during the shutdown" "$(fl_after paused)" 0
eq "flood: continued once" "$(fl_after resumed)" 1
# back to a short lease for the lease test
check "apiserver restarts with a 6s lease" start_api --listen "127.0.0.1:$PORT" \
	--lease 6s --token w:wsecret:worker --token u:usecret --token n:nsecret

# ---- lease lost: the link is frozen longer than the lease ----
ll_id=$(api_submit '{"shell":"echo run; sleep 8; echo done"}')
check "lease: job runs on w3" wait_until 30 in_log "$SPOOL/$ll_id.log" run
LINK=$(link_of "$W3")
check "lease: found the link process" test -n "$LINK"
kill -STOP "$LINK"
# a local processor on the server's spool recovers the lease and reruns it
start_proc -j 1 --lease 6s --scan-interval 1s
LP=$PROC_PID
check "lease: recovered and run again elsewhere" wait_until 40 sh -c \
	"[ \"\$(jq -r .worker '$SPOOL/$ll_id.wip' 2>/dev/null)\" = '$(hostname):$LP' ]"
kill -CONT "$LINK"
check "lease: worker logs lease lost" wait_until 30 in_log "$W3LOG" \
	"job $ll_id: lease lost"
check "lease: late finish refused with 409" wait_until 30 in_log "$W3LOG" \
	"job $ll_id: finish refused by the server (409"
check "lease: the rerun completes" wait_final 60 "$ll_id"
eq "lease: completed" "$(field "$ll_id" .status)" completed
eq "lease: by the local processor" "$(field "$ll_id" .worker)" "$(hostname):$LP"
eq "lease: two attempts" "$(field "$ll_id" .attempts)" 2
stop_pid "$LP"
# (the flood job went back to the server, by hand-back or lease expiry)
wait "$W6"
check "flood: pending on the server again" wait_until 20 is_state "$fl_id" pending
curl -s -o /dev/null -X DELETE -H 'Authorization: Bearer usecret' "$URL/api/v1/jobs/$fl_id"

# ---- graceful shutdown hands the jobs back ----
sd_id=$(api_submit '{"shell":"echo sd; exec sleep 987601"}')
check "shutdown: job runs" wait_until 30 in_log "$SPOOL/$sd_id.log" sd
kill -TERM "$W3"
wait "$W3"
eq "shutdown: processor exits 0" $? 0
eq "shutdown: job pending again on the server" "$(state_of "$sd_id")" pending
eq "shutdown: attempt given back" "$(jq -r .attempts "$SPOOL/$sd_id.pending")" 0
check "shutdown: hand-back logged" in_log "$W3LOG" "job $sd_id: handed back"
check "shutdown: work directory empty" sh -c "! ls '$WDIRS/w3' | grep -q '$sd_id'"
curl -s -o /dev/null -X DELETE -H 'Authorization: Bearer usecret' "$URL/api/v1/jobs/$sd_id"

# ---- crash: the processor killed; its link hands the job back ----
start_remote w4 -j 1 --token wsecret
W4=$RPID W4LOG=$RLOG
cr_id=$(api_submit '{"shell":"echo crash; sleep 987602 & wait"}')
check "crash: job runs" wait_until 30 in_log "$SPOOL/$cr_id.log" crash
kill -9 "$W4"
check "crash: the link hands the job back" wait_until 30 is_state "$cr_id" pending
check "crash: logged" wait_until 10 in_log "$W4LOG" "job $cr_id: handed back"
check "crash: no straggler of the run left" wait_until 10 sh -c \
	"! pgrep -x -f 'sleep 987602' >/dev/null"
curl -s -o /dev/null -X DELETE -H 'Authorization: Bearer usecret' "$URL/api/v1/jobs/$cr_id"

# ---- crash of processor and link: the next start delivers the result ----
start_remote w5 -j 1 --token wsecret
W5=$RPID W5LOG=$RLOG
fin_id=$(api_submit '{"shell":"echo before; sleep 1; echo after"}')
check "restart: job runs" wait_until 30 in_log "$SPOOL/$fin_id.log" before
LINK=$(link_of "$W5")
kill -STOP "$LINK"
check "restart: job ends locally" wait_until 30 test -f "$WDIRS/w5/$fin_id.completed"
kill -9 "$LINK" "$W5"
eq "restart: server still has it running" "$(state_of "$fin_id")" wip
start_remote w5 -j 1 --token wsecret
W5=$RPID
check "restart: the result is delivered" wait_final 30 "$fin_id"
eq "restart: completed" "$(field "$fin_id" .status)" completed
eq "restart: log whole" "$(cat "$SPOOL/$fin_id.log")" "$(printf 'before\nafter')"
check "restart: logged" in_log "$W5LOG" "job $fin_id: completed here before a restart"
stop_pid "$W5"

check "no sanitizer report in the processors' logs" no_sanitizer "$WDIRS"/*.log "$WORK"/proc.*.log
api_stop

# ---- TLS and mutual TLS ----
if command -v certtool >/dev/null 2>&1; then
	PKI=$WDIRS/pki
	mkdir "$PKI"
	check "certtool makes a CA" mkcert ca 'cn = "jobspool test CA"
ca
cert_signing_key' ""
	check "certtool makes a server certificate" mkcert srv 'cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
encryption_key' ca
	check "certtool makes a client certificate" mkcert cli 'cn = "worker"
tls_www_client
signing_key' ca
	check "apiserver starts with mutual TLS" start_api --lease 6s \
		--token w:wsecret:worker --tls-cert "$PKI/srv.pem" \
		--tls-key "$PKI/srv.key" --tls-client-ca "$PKI/ca.pem"
	tls_id=$(submit '{"shell":"echo over tls"}')
	start_remote nocert -j 1 --token wsecret --tls-ca "$PKI/ca.pem" --retry-max 1s
	NC=$RPID NCLOG=$RLOG
	check "mTLS: without a client certificate the claim fails" \
		wait_until 20 in_log "$NCLOG" "claim: server .* unreachable"
	sleep 1
	eq "mTLS: ... and runs nothing" "$(state_of "$tls_id")" pending
	stop_pid "$NC"
	start_remote tls -j 1 --token wsecret --tls-ca "$PKI/ca.pem" \
		--tls-cert "$PKI/cli.pem" --tls-key "$PKI/cli.key"
	TP=$RPID
	check "mTLS: job runs over https with a client certificate" wait_final 30 "$tls_id"
	eq "mTLS: completed" "$(field "$tls_id" .status)" completed
	eq "mTLS: log" "$(cat "$SPOOL/$tls_id.log")" "over tls"
	stop_pid "$TP"
	check "no sanitizer report (TLS)" no_sanitizer "$WDIRS"/*.log
	api_stop
else
	skip install "certtool is missing (apt-get install gnutls-bin)" "TLS and mTLS cases"
fi
finish
