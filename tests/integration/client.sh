#!/bin/sh
# jobspool(1), the client, driven as a user would: every subcommand in local
# mode (the spool, no server), over HTTP and over HTTPS with mutual TLS, with
# a real processor running the jobs.  Exit statuses (the job's code, 128 +
# signal, cancelled, timed out, still pending, client and usage errors),
# arguments full of spaces, quotes and -c kept exactly, a wait on a job that
# another client cancels, a follow across an apiserver restart, bad flags.
. "$(dirname "$0")/lib.sh"
J=$JS_BIN/jobspool
API=$JS_BIN/jobspool-apiserver

new_spool
W=$(mktemp -d /tmp/jobspool-client.XXXXXX)
T_DIRS="$T_DIRS $W"
HOME=$W/home XDG_CONFIG_HOME=
export HOME XDG_CONFIG_HOME
mkdir -p "$HOME"
unset JOBSPOOL_SPOOL JOBSPOOL_URL JOBSPOOL_TOKEN

# r CMD...: runs CMD; $RC, $OUT (stdout), $ERR (stderr)
r() {
	"$@" >"$W/out" 2>"$W/err"
	RC=$?
	OUT=$(cat "$W/out")
	ERR=$(cat "$W/err")
}
# jc ARGS...: the client in the mode under test ($MODE_ARGS)
jc() { "$J" $MODE_ARGS "$@"; }

# ---------------- usage errors: stderr and exit 2, nothing on stdout
for args in "--bogus" "" "frobnicate" "submit" "submit --priority x -- true" \
    "submit --env NOEQUALS -- true" "submit --shell a b" "wait" "log" \
    "log a b" "show" "ls extra" "ls --limit 0" "cancel" "rerun" "batch" \
    "wait --timeout soon x"; do
	# shellcheck disable=SC2086
	r "$J" --spool "$SPOOL" $args
	eq "jobspool $args: exit 2" "$RC" 2
	check "jobspool $args: says why on stderr" test -n "$ERR"
	eq "jobspool $args: nothing on stdout" "$OUT" ""
done
r "$J" ls
eq "no spool and no server: exit 2" "$RC" 2
check "... and says to give --spool or --url" sh -c \
	"printf '%s' \"\$1\" | grep -q -e '--spool' " _ "$ERR"
r "$J" --help
eq "--help exits 0" "$RC" 0
check "--help lists the commands" sh -c "printf '%s' \"\$1\" | grep -q 'submit' && printf '%s' \"\$1\" | grep -q 'rerun'" _ "$OUT"
r "$J" --version
check "--version prints jobspool VERSION" sh -c "printf '%s' \"\$1\" | grep -q '^jobspool [0-9]'" _ "$OUT"
r "$J" --url ftp://x ls
eq "--url that is not http(s): client error 125" "$RC" 125

"$JS_BIN/jobspool-processor" --spool "$SPOOL" -j 4 --scan-interval 1s \
	2>"$W/proc.log" &
PROC_PID=$!
T_PIDS="$T_PIDS $PROC_PID"

# ---------------- the same checks in each mode
# suite NAME: every subcommand with jc
suite() {
	m=$1
	# submit -w: argv exactly as typed
	r jc submit -w -- printf '%s|' 'a b' "it's" -c '"q"' '$HOME' ''
	eq "$m: submit -w of a command that succeeds exits 0" "$RC" 0
	ID=$(printf '%s' "$OUT" | sed -n 's/^\([0-9a-f-]\{36\}\) completed.*/\1/p')
	check "$m: submit -w prints the outcome line" test -n "$ID"
	r jc log "$ID"
	eq "$m: the job got its arguments exactly (spaces, quotes, -c, \$)" \
		"$OUT" "a b|it's|-c|\"q\"|\$HOME||"
	r jc log --offset 4 "$ID"
	eq "$m: log --offset 4" "$OUT" "it's|-c|\"q\"|\$HOME||"
	r jc submit -w -- sh -c 'echo out; exit 7'
	eq "$m: submit -w exits with the job's exit code" "$RC" 7
	r jc submit -w -- sh -c 'kill -KILL $$'
	eq "$m: a job killed by SIGKILL: 128 + 9" "$RC" 137
	r jc submit -w --timeout 1 -- sleep 30
	eq "$m: a job past its timeout: 124" "$RC" 124
	r jc submit -f --name follow-me -- sh -c 'echo one; sleep 0.3; echo two; exit 3'
	eq "$m: submit -f exits with the job's status" "$RC" 3
	eq "$m: submit -f prints the log on stdout" "$OUT" "one
two"
	check "$m: submit -f says submitted on stderr" sh -c \
		"printf '%s' \"\$1\" | grep -q '^submitted [0-9a-f-]\{36\}'" _ "$ERR"
	printf 'from stdin\n' >"$W/in.txt"
	r jc submit -w --env GREETING='hi there' --cwd / --stdin "$W/in.txt" \
		--priority 3 -- sh -c 'echo "$GREETING"; pwd; cat'
	eq "$m: --env, --cwd, --stdin reach the job" "$RC" 0
	ID2=$(printf '%s' "$OUT" | cut -d' ' -f1)
	r jc log "$ID2"
	eq "$m: ... its log" "$OUT" "hi there
/
from stdin"
	# --json, show, short ids
	r jc --json submit --shell 'echo json' --name "j$m"
	JID=$(printf '%s' "$OUT" | jq -r .id)
	check "$m: submit --json prints the stored job" sh -c "printf '%s' '$JID' | grep -q '^[0-9a-f-]\{36\}$'"
	r jc --json wait "$JID"
	eq "$m: wait --json: the final job" "$(printf '%s' "$OUT" | jq -r .status)" completed
	r jc show "$(printf '%.8s' "$JID")"
	eq "$m: show with an 8-character prefix" "$RC" 0
	check "$m: show prints the status" sh -c "printf '%s' \"\$1\" | grep -q '^status  *completed'" _ "$OUT"
	r jc show --json "$JID"
	eq "$m: show --json (after the command)" "$(printf '%s' "$OUT" | jq -r .name)" "j$m"
	eq "$m: show does not mark retrieved" "$(printf '%s' "$OUT" | jq -r .retrieved_at)" null
	r jc show fffffffff
	eq "$m: a prefix of no job: 125" "$RC" 125
	r jc show 00000000-0000-4000-8000-000000000000
	eq "$m: show of no job: 125" "$RC" 125
	check "$m: ... and says so" sh -c "printf '%s' \"\$1\" | grep -q -i 'no job'" _ "$ERR"
	# ls
	r jc ls
	eq "$m: ls exits 0" "$RC" 0
	check "$m: ls has a header" sh -c "printf '%s\n' \"\$1\" | head -n 1 | grep -q '^ID  *STATE  *EXIT  *CREATED  *TIME  *NAME  *COMMAND'" _ "$OUT"
	check "$m: ls shows a short id and the state" sh -c "printf '%s\n' \"\$1\" | grep -q '^$(printf '%.8s' "$JID")[0-9a-f-]*  *completed'" _ "$OUT"
	check "$m: ls aligns the STATE column" sh -c "printf '%s\n' \"\$1\" | awk 'NR==1 { c = index(\$0, \"STATE\") } NR>1 && substr(\$0, c - 2, 2) != \"  \" { bad = 1 } END { exit bad }'" _ "$OUT"
	r jc ls --name "j$m" --json
	eq "$m: ls --name" "$(printf '%s' "$OUT" | jq -r 'length, .[0].id' | tr '\n' ' ')" "1 $JID "
	r jc ls --state failed --json
	eq "$m: ls --state failed: only failed jobs" \
		"$(printf '%s' "$OUT" | jq -r '[.[] | .status] | unique | join(",")')" failed
	r jc submit --delay 1h --label "l$m" -- true
	LBL=$OUT
	r jc ls --label "l$m" --json
	eq "$m: ls --label" "$(printf '%s' "$OUT" | jq -r 'length, .[0].id' | tr '\n' ' ')" "1 $LBL "
	r jc cancel "$LBL"
	# cancel, wait on a cancelled job, wait --timeout
	r jc submit --delay 1h -- true
	LID=$OUT
	r jc wait --timeout 1 "$LID"
	eq "$m: wait --timeout on a job that has not started: 123" "$RC" 123
	r jc cancel "$LID"
	check "$m: cancel of a pending job" sh -c "printf '%s' \"\$1\" | grep -q '^cancelled $LID'" _ "$OUT"
	r jc wait "$LID"
	eq "$m: wait on a cancelled job: 122" "$RC" 122
	r jc cancel "$LID"
	eq "$m: cancel of a job that ended: 125" "$RC" 125
	# another client cancels a job this one waits for
	r jc submit -- sleep 60
	SID=$OUT
	jc wait "$SID" >"$W/wait.out" 2>&1 &
	WPID=$!
	wait_until 20 sh -c "'$J' $MODE_ARGS show --json '$SID' | grep -q '\"status\":\"running\"'" ||
		fail "$m: the sleep job never ran"
	r jc cancel "$SID"
	check "$m: another client cancels the running job" sh -c "printf '%s' \"\$1\" | grep -q 'cancel requested'" _ "$OUT"
	wait "$WPID"
	eq "$m: the waiting client exits 122 (cancelled)" "$?" 122
	# rm, rerun
	r jc rm "$ID"
	eq "$m: rm of a finished job" "$OUT" "removed $ID"
	r jc show "$ID"
	eq "$m: ... it is gone" "$RC" 125
	r jc submit --delay 1h -- true
	r jc rm "$OUT"
	eq "$m: rm of a pending job: 125 (cancel it first)" "$RC" 125
	r jc rerun "$ID2"
	NID=$OUT
	check "$m: rerun prints a new id" sh -c "test '$NID' != '$ID2' && printf '%s' '$NID' | grep -q '^[0-9a-f-]\{36\}$'"
	r jc wait "$NID"
	eq "$m: the re-run completes" "$RC" 0
	r jc show --json "$NID"
	eq "$m: ... with rerun_of" "$(printf '%s' "$OUT" | jq -r .rerun_of)" "$ID2"
	# idempotency key
	r jc submit --idempotency-key "k-$m" -- true
	K1=$OUT
	r jc submit --idempotency-key "k-$m" -- true
	eq "$m: the same idempotency key and job: the same id" "$OUT" "$K1"
	r jc submit --idempotency-key "k-$m" -- false
	eq "$m: the same key with another job: 125" "$RC" 125
	# a job the validator refuses: the error reaches the user
	before=$(spool_snapshot)
	r jc submit --at 'not a time' -- true
	eq "$m: an invalid job: 125" "$RC" 125
	check "$m: ... its error names the field" sh -c "printf '%s' \"\$1\" | grep -q 'run_at'" _ "$ERR"
	eq "$m: ... and the spool is unchanged" "$(spool_snapshot)" "$before"
	# batch: NDJSON with --follow, a JSON list with -w
	printf '{"shell":"echo one"}\n\n{"command":["sh","-c","echo two; exit 4"]}\n' >"$W/b.ndjson"
	r jc batch --follow "$W/b.ndjson"
	eq "$m: batch --follow exits with the worst status" "$RC" 4
	check "$m: batch --follow: lines prefixed with job ids" sh -c \
		"printf '%s\n' \"\$1\" | grep -q -E '^[0-9a-f-]{36} one\$' && printf '%s\n' \"\$1\" | grep -q -E '^[0-9a-f-]{36} two\$'" _ "$OUT"
	printf '[{"shell":"true"},{"shell":"true"}]' >"$W/b.json"
	r jc batch -w --json "$W/b.json"
	eq "$m: batch -w of a JSON list" "$RC" 0
	eq "$m: ... prints each final job" "$(printf '%s\n' "$OUT" | jq -r .status | tr '\n' ' ')" "completed completed "
	printf '{"shell":"true"}\n{"cmd":"x"}\n' >"$W/bad.ndjson"
	before=$(spool_snapshot)
	r jc batch "$W/bad.ndjson"
	eq "$m: a batch with an invalid job: 125" "$RC" 125
	eq "$m: ... all or nothing" "$(spool_snapshot)" "$before"
	# --after passes through to the validator
	r jc submit --after "$NID" --json -- true
	case $RC in
	0) eq "$m: --after is stored" "$(printf '%s' "$OUT" | jq -r '.after[0]')" "$NID" ;;
	*) check "$m: --after refused by the validator, with its word" sh -c "printf '%s' \"\$1\" | grep -q 'after'" _ "$ERR" ;;
	esac
}

# ---------------- local mode
MODE_ARGS="--spool $SPOOL"
r jc submit --shell 'echo local'
check "local: submit writes SPOOL/<id>.pending (or it ran already)" sh -c \
	"ls '$SPOOL' | grep -q '^$OUT\.'"
eq "local: nothing left in tmp/" "$(ls -A "$SPOOL/tmp")" ""
suite local
r env JOBSPOOL_SPOOL="$SPOOL" "$J" ls
eq "local: JOBSPOOL_SPOOL chooses local mode" "$RC" 0

# ---------------- HTTP: the token from a config file, then the environment
start_api --token "u:s3cret" || fail "apiserver starts"
mkdir -p "$HOME/.config/jobspool"
printf '# the client config\nurl = %s\ntoken = s3cret\n' "$URL" \
	>"$HOME/.config/jobspool/config"
MODE_ARGS=""
r jc ls
eq "http: url and token from ~/.config/jobspool/config" "$RC" 0
rm "$HOME/.config/jobspool/config"
MODE_ARGS="--url $URL"
export JOBSPOOL_TOKEN=wrong
r jc ls
eq "http: a wrong token: 125" "$RC" 125
check "http: ... the server's JSON error is shown" sh -c \
	"printf '%s' \"\$1\" | grep -q '401: {\"error\":'" _ "$ERR"
export JOBSPOOL_TOKEN=s3cret
suite http
# the server side of a wait: a long poll that says whether the job is final
ID=$(jc submit -- sleep 1)
code=$(curl -s -o "$W/w.json" -D "$W/w.hdr" -w '%{http_code}' --max-time 20 \
	-H "Authorization: Bearer s3cret" "$URL/api/v1/jobs/$ID?wait=0")
eq "GET ?wait=0 of a running or pending job answers at once" "$code" 200
check "... with Jobspool-Final: false" grep -qi '^Jobspool-Final: false' "$W/w.hdr"
curl -s -o "$W/w.json" -D "$W/w.hdr" --max-time 20 \
	-H "Authorization: Bearer s3cret" "$URL/api/v1/jobs/$ID?wait=30"
eq "GET ?wait=30 answers when the job is final" "$(jq -r .status "$W/w.json")" completed
check "... with Jobspool-Final: true" grep -qi '^Jobspool-Final: true' "$W/w.hdr"
check "... and leaves it unretrieved" test -f "$SPOOL/$ID.completed"
out=$(curl -s --max-time 20 -H "Authorization: Bearer s3cret" \
	"$URL/api/v1/jobs/$ID/log?follow=1&outcome=1")
eq "log?follow=1&outcome=1 of a job without output: only the outcome line" \
	"$(printf '%s' "$out" | sed 's/"log_size".*//')" \
	"jobspool-outcome: {\"id\":\"$ID\",\"status\":\"completed\",\"exit_code\":0,\"signal\":null,\"error\":null,"
ID=$(jc submit -- printf 'no newline')
jc wait "$ID" >/dev/null
out=$(curl -s --max-time 20 -H "Authorization: Bearer s3cret" \
	"$URL/api/v1/jobs/$ID/log?follow=1&outcome=1")
eq "outcome after a log without a final newline: a newline first" \
	"$(printf '%s' "$out" | head -n 1)" "no newline"
check "... then the outcome line with log_size 10" sh -c \
	"printf '%s' \"\$1\" | tail -n 1 | grep -q '^jobspool-outcome: {.*\"log_size\":10}\$'" _ "$out"

# a follow across an apiserver restart: the client resumes where it was
ID=$(jc submit -- sh -c 'echo before; sleep 3; echo after')
jc log -f "$ID" >"$W/follow.out" 2>"$W/follow.err" &
FPID=$!
WID=$(jc submit -- sh -c 'sleep 4; exit 5')
jc wait "$WID" >"$W/rwait.out" 2>&1 &
WPID=$!
wait_until 20 grep -q before "$W/follow.out" || fail "the follow saw no first line"
kill -TERM "$API_PID"
wait "$API_PID"
env -u JOBSPOOL_TOKEN "$API" --spool "$SPOOL" --listen "127.0.0.1:$PORT" \
	--token "u:s3cret" 2>>"$API_LOG" &
API_PID=$!
T_PIDS="$T_PIDS $API_PID"
wait "$FPID"
eq "log -f across an apiserver restart exits with the job's status" "$?" 0
wait "$WPID"
eq "wait across an apiserver restart exits with the job's status" "$?" 5
eq "... and printed every line once" "$(cat "$W/follow.out")" "before
after"
api_stop

# ---------------- HTTPS with mutual TLS
if ! command -v certtool >/dev/null 2>&1; then
	skip install "certtool is missing (apt-get install gnutls-bin)" \
		"every HTTPS case"
	finish
fi
PKI=$W/pki
mkdir "$PKI"
CA_T='cn = "jobspool test CA"
ca
cert_signing_key'
SRV_T='cn = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
encryption_key'
CLI_T='cn = "client"
tls_www_client
signing_key'
check "certtool makes a CA" mkcert ca "$CA_T" ""
check "certtool makes a server certificate" mkcert srv "$SRV_T" ca
check "certtool makes a client certificate" mkcert cli "$CLI_T" ca
unset JOBSPOOL_TOKEN	# the apiserver reads it too (as --token)
start_api --token "u:s3cret" --tls-cert "$PKI/srv.pem" --tls-key "$PKI/srv.key" \
	--tls-client-ca "$PKI/ca.pem" || fail "https apiserver starts"
printf 's3cret\n' >"$W/token"
MODE_ARGS="--url $URL --tls-ca $PKI/ca.pem"
r jc --token-file "$W/token" ls
eq "https without a client certificate: 125" "$RC" 125
MODE_ARGS="--url $URL --tls-ca $PKI/ca.pem --tls-cert $PKI/cli.pem --tls-key $PKI/cli.key --token-file $W/token"
r "$J" --url "$URL" --token-file "$W/token" --tls-cert "$PKI/cli.pem" \
	--tls-key "$PKI/cli.key" ls
eq "https without the CA: the server is refused (125)" "$RC" 125
r "$J" --url "$URL" --tls-ca "$PKI/ca.pem" --tls-cert "$PKI/cli.pem" ls
eq "--tls-cert without --tls-key: 125" "$RC" 125
suite https
api_stop

kill -TERM "$PROC_PID"
wait "$PROC_PID"
eq "processor exits 0" "$?" 0
if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
    "$W/proc.log"; then
	cat "$W/proc.log"
	fail "processor sanitizer report"
fi
finish
