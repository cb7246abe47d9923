#!/bin/sh
# jobspool-apiserver: error answers of apiserver/routes_*.c that no other
# suite sent (issue 15: every error answer sent at least once; make
# coverage lists the "never sent" ones).  Each is asserted by its status
# and its exact JSON error, and the spool is compared where the refused
# request must leave it as it was.
#   1. from a damaged spool (the sanitizer build):
#      - a worker's finish of a job whose stored .wip is not valid (a field
#        of the wrong type): 400 "job: ..." (routes_workers finish_store);
#      - a worker's log upload whose log shrank between the check of the
#        headers and the body (Expect: 100-continue holds the body back
#        until the check is done): 416 "log: the log changed under the
#        upload" with the size (routes_workers worker_log_end);
#      - DELETE of a final job whose log is a directory: 500 "cannot remove
#        the job: Is a directory" (routes_jobs route_job_delete);
#   2. out of memory (failalloc.c preloaded, as in api_oom.sh, into an
#      apiserver built without sanitizers): the requests are swept with the
#      1st, 2nd, ... allocation failing and the answer looked for is one
#      that only the route's line in question sends, or one that comes
#      after an answer proving the request got past routing:
#      - "cannot read the jobs it depends on: out of memory" (POST a job,
#        POST a batch with "after");
#      - "finish: out of memory" from reading the .wip, and from reading a
#        finished job for a stale finish;
#      - "out of memory" from js_job_rerun (after "cannot read the job"),
#        from a followed log's stream (idem), from a log upload's state
#        (after a "log: ..." answer), from a minted token's answer (its
#        "token minted" line logged) and from signing it (past where a
#        mint request refused just before signing stops).
#   3. a disk error and a race (failsys.c preloaded) when a route looks for
#      a job (js_spool_find): a stale heartbeat whose lookup of where the
#      job went fails with EIO (500 "heartbeat: Input/output error",
#      routes_workers stale_or_gone), and DELETE of a final job moved back
#      to pending between the check that it is final and its removal (409
#      "requeued meanwhile", routes_jobs route_job_delete).
. "$(dirname "$0")/lib.sh"

W=$(mktemp -d /tmp/jobspool-unsent.XXXXXX)
T_DIRS="$T_DIRS $W"
UA="Authorization: Bearer us3r"
WA="Authorization: Bearer w0rker"
TOKENS="--token u:us3r --token w:w0rker:worker"
# answer DESC STATUS ERROR: the last answer was STATUS with the JSON error
# ERROR exactly
answer() {
	jerr "$1: $2 with a JSON error" "$2"
	jq_eq "$1: the error" .error "$3"
}
unchanged() { eq "$1: spool unchanged" "$(spool_hashes)" "$BEFORE"; }
# fsnap: as spool_hashes (lib.sh), cheaper (per try of a sweep): each
# entry's name, type, size and modification time (a file written again
# counts as changed)
fsnap() {
	(cd "$SPOOL" && find . ! -name jobs.lock ! -name . \
		-printf '%p %y %s %T@\n' | LC_ALL=C sort)
}
submit() {	# JSON -> $ID
	req POST /api/v1/jobs -H "$UA" -d "$1"
	ID=$(printf '%s' "$BODY" | jq -r .id)
}
claim() {	# -> $ID $G
	req POST /api/v1/workers/claim -H "$WA" -d '{"wait":0}'
	ID=$(printf '%s' "$BODY" | jq -r '.job.id // empty')
	G=$(printf '%s' "$BODY" | jq -r '.lease.token // empty')
}
# finished_by_hand ID: moves a pending job to completed (exit 0)
finished_by_hand() {
	jq '.status = "completed" | .exit_code = 0' "$SPOOL/$1.pending" \
		>"$SPOOL/$1.completed" && rm "$SPOOL/$1.pending"
}

# ---- 1. a damaged spool ----
new_spool
mkdir -m 0770 "$SPOOL/tmp"
check "server starts" start_api $TOKENS --lease 1h

# a .wip whose stored field has the wrong type: read (it is JSON), the
# lease holds, but what the finish would store is not a valid job
submit '{"shell":"true"}'
claim
check "a worker claims a job" test -n "$ID" -a -n "$G"
jq '.created_at = "not a time"' "$SPOOL/$ID.wip" >"$W/wip" &&
	cat "$W/wip" >"$SPOOL/$ID.wip"
BEFORE=$(spool_hashes)
req POST "/api/v1/workers/jobs/$ID/finish" -H "$WA" \
	-d "{\"token\":$G,\"job\":{\"status\":\"completed\",\"exit_code\":0}}"
answer "finish of a .wip with a field of the wrong type" 400 \
	"job: stored field 'created_at' has the wrong type"
unchanged "finish of a .wip with a field of the wrong type"

# a log upload whose log shrank after its headers were checked
submit '{"shell":"true"}'
claim
req POST "/api/v1/workers/jobs/$ID/log?token=$G&offset=0" -H "$WA" \
	--data-binary hello
eq "a worker uploads 5 bytes of log" "$CODE:$BODY" '200:{"size":5}'
python3 - "$PORT" "/api/v1/workers/jobs/$ID/log?token=$G&offset=5" \
	"$SPOOL/$ID.log" >"$W/up" 2>&1 <<'PY'
import os, socket, sys
port, path, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer w0rker\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: 3\r\n"
           "Expect: 100-continue\r\n\r\n" % path).encode())
got = b""
while b"\r\n\r\n" not in got:
    d = s.recv(4096)
    if not d:
        break
    got += d
if not got.startswith(b"HTTP/1.1 100"):	# the headers were refused
    print("no 100 Continue: " + got.decode(errors="replace"))
    sys.exit(1)
os.truncate(log, 0)	# the log shrinks: the body's offset is past its end
s.sendall(b"abc")
got = got.split(b"\r\n\r\n", 1)[1]
while True:
    d = s.recv(4096)
    if not d:
        break
    got += d
    head, _, body = got.partition(b"\r\n\r\n")
    if _ and b"Content-Length" in head:
        n = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
        if len(body) >= n:
            break
head, _, body = got.partition(b"\r\n\r\n")
print(head.split(b" ")[1].decode())
print(body.decode())
PY
CODE=$(sed -n 1p "$W/up") BODY=$(sed -n '2,$p' "$W/up")
answer "a log upload whose log shrank under it" 416 \
	"log: the log changed under the upload; resend from size"
jq_eq "  the answer gives the log's size now" .size 0
eq "  the upload wrote nothing" "$(wc -c <"$SPOOL/$ID.log")" 0
check "  the job is still running" test -f "$SPOOL/$ID.wip"

# DELETE of a final job whose log is a directory: its removal stops there,
# before the job's own file (the job is left as it was)
submit '{"shell":"true"}'
finished_by_hand "$ID"
mkdir "$SPOOL/$ID.log"
req DELETE "/api/v1/jobs/$ID" -H "$UA"
answer "DELETE of a completed job whose log is a directory" 500 \
	"cannot remove the job: Is a directory"
check "  the log directory is left" test -d "$SPOOL/$ID.log"
check "  so is the job" test -f "$SPOOL/$ID.completed"
check "  the server is running" kill -0 "$API_PID"
api_stop

# ---- 2. out of memory ----
if ! cc -O1 -shared -fPIC -o "$W/failalloc.so" \
    "$(dirname "$0")/failalloc.c" -ldl 2>"$W/cc.err"; then
	cat "$W/cc.err"
	skip install "cannot build the failalloc.c shim (cc)" \
		"the out of memory answers"
	finish
fi
if ldd "$JS_BIN/jobspool-apiserver" 2>/dev/null | grep -q libasan ||
    nm "$JS_BIN/jobspool-apiserver" 2>/dev/null | grep -q __asan_init; then
	# AddressSanitizer's runtime aborts when an allocation fails while it
	# starts a thread: the same sources without sanitizers (as api_oom)
	if ! nice make -s -C "$(dirname "$0")/../.." B="$W/build" \
	    CFLAGS="-O1 -g" "$W/build/jobspool-apiserver" >"$W/make.log" 2>&1
	then
		cat "$W/make.log"
		fail "building an apiserver without sanitizers for failalloc.so"
		finish
	fi
	JS_BIN=$W/build
fi
CTL=$W/ctl
printf '%08d %08d.' 0 0 >"$CTL"
GEN=0
arm() {	# N: the N-th allocation from now fails (0: none)
	GEN=$((GEN + 1))
	printf '%08d %08d.' "$GEN" "$1" 1<>"$CTL"
}
fired() { IFS= read -r f_l <"$CTL"; [ "${f_l%F}" != "$f_l" ]; }

new_spool
mkdir -m 0770 "$SPOOL/tmp"
printf 'secret-of-the-unsent-suite-0123456789abcdef\n' >"$W/jwt"
chmod 600 "$W/jwt"
LD_PRELOAD=$W/failalloc.so FAILALLOC_CTL=$CTL
export LD_PRELOAD FAILALLOC_CTL
start_api $TOKENS --lease 1h --jwt-secret-file "$W/jwt"
st=$?
unset LD_PRELOAD FAILALLOC_CTL
[ "$st" -eq 0 ] || { fail "the apiserver starts with failalloc.so"; finish; }
ok "the apiserver starts with failalloc.so"

# sweep METHOD PATH [curl args]: the request with its 1st, 2nd, ...
# allocation failing, until it needs fewer; one line per try in $W/sweep:
# "N STATUS SPOOL MINTED ERROR" (SPOOL same or changed; MINTED yes when
# the server logged "token minted" meanwhile)
sweep() {
	w_m=$1 w_p=$2; shift 2
	: >"$W/sweep"
	w_n=0
	while [ "$w_n" -lt 3000 ]; do
		w_n=$((w_n + 1))
		w_before=$(fsnap)
		w_logged=$(grep -c 'token minted' "$API_LOG")
		rm -f "$W/body"
		arm "$w_n"
		w_code=$(curl -s -g -o "$W/body" -w '%{http_code}' \
			--max-time 20 -X "$w_m" "$@" "$URL$w_p")
		w_fired=no
		fired && w_fired=yes
		arm 0
		w_err=$(jq -r '.error // empty' "$W/body" 2>/dev/null)
		w_same=same
		[ "$(fsnap)" = "$w_before" ] || w_same=changed
		w_minted=no
		[ "$(grep -c 'token minted' "$API_LOG")" = "$w_logged" ] ||
			w_minted=yes
		echo "$w_n $w_code $w_same $w_minted $w_err" >>"$W/sweep"
		[ "$w_fired" = yes ] || break
		[ -n "${W_STOP:-}" ] && found && break	# no need to go on
	done
	# a try that failed nothing: the request works again
	W_LAST=$w_code
}
# hunt DESC METHOD PATH [args]: sweep until found holds (up to 3 sweeps:
# an allocation of another thread can take the armed failure); found is
# a function of $W/sweep
hunt() {
	h_desc=$1; shift
	h_i=0
	while [ "$h_i" -lt 3 ]; do
		h_i=$((h_i + 1))
		W_STOP=yes
		sweep "$@"
		W_STOP=
		found && break
	done
	if found; then
		ok "$h_desc"
	else
		fail "$h_desc (sweep $h_i: $(grep -c . "$W/sweep") tries;" \
			"answers: $(cut -d' ' -f2- "$W/sweep" | sort | uniq -c |
			sort -rn | head -n 8 | tr '\n' ';'))"
	fi
	check "  the server is running" kill -0 "$API_PID"
	check "  tmp/ is empty" [ -z "$(ls "$SPOOL/tmp")" ]
}
# has STATUS SPOOL MINTED ERROR: a try answered so (SPOOL, MINTED: . any)
has() {
	awk -v c="$1" -v s="$2" -v m="$3" -v e="$4" '
		{ err = $0; sub(/^[^ ]* [^ ]* [^ ]* [^ ]* ?/, "", err) }
		$2 == c && (s == "." || $3 == s) && (m == "." || $4 == m) &&
		    err == e { f = 1 }
		END { exit !f }' "$W/sweep"
}
# after FIRST-ERROR-PREFIX STATUS ERROR: a try answered STATUS ERROR (spool
# same) later than a try whose error began with FIRST-ERROR-PREFIX
after() {
	awk -v p="$1" -v c="$2" -v e="$3" '
		{ err = $0; sub(/^[^ ]* [^ ]* [^ ]* [^ ]* ?/, "", err) }
		index(err, p) == 1 { seen = 1 }
		seen && $2 == c && $3 == "same" && err == e { f = 1 }
		END { exit !f }' "$W/sweep"
}

submit '{"shell":"true"}'
D=$ID
found() { has 503 same . "cannot read the jobs it depends on: out of memory"; }
hunt "POST a job 'after' another, reading it fails: 503 'cannot read the \
jobs it depends on: out of memory', spool unchanged" \
	POST /api/v1/jobs -H "$UA" -d "{\"shell\":\"true\",\"after\":[\"$D\"]}"
hunt "POST a batch 'after' another job, reading it fails: 503 'cannot read \
the jobs it depends on: out of memory', spool unchanged" \
	POST /api/v1/batches -H "$UA" \
	-d "{\"jobs\":[{\"shell\":\"true\",\"after\":[\"$D\"]}]}"

submit '{"shell":"echo c"}'
C=$ID
printf 'c\n' >"$SPOOL/$C.log"
finished_by_hand "$C"
found() { after "cannot read the job: " 503 "out of memory"; }
hunt "re-run of a completed job, js_job_rerun fails: 503 'out of memory' \
(after the job was read), spool unchanged" POST "/api/v1/jobs/$C/rerun" -H "$UA"
hunt "follow of a job's log, its stream cannot be made: 503 'out of \
memory' (after the job was read), spool unchanged" \
	GET "/api/v1/jobs/$C/log?follow=1" -H "$UA"

# the .wip read for a finish (its body is refused once it is read: 400)
submit '{"shell":"true"}'
claim
JW=$ID GW=$G
found() { has 503 same . "finish: out of memory"; }
hunt "finish, reading the .wip fails: 503 'finish: out of memory', spool \
unchanged" POST "/api/v1/workers/jobs/$JW/finish" -H "$WA" \
	-d "{\"token\":$GW,\"job\":{\"status\":\"completed\",\"exit_code\":\"x\"}}"
req POST "/api/v1/workers/jobs/$JW/finish" -H "$WA" \
	-d "{\"token\":$GW,\"job\":{\"status\":\"completed\",\"exit_code\":\"x\"}}"
answer "  nothing failing, that finish is refused" 400 \
	"job.exit_code has the wrong type"

# a stale finish of a finished job: no .wip, the finished job is read
req POST "/api/v1/workers/jobs/$JW/finish" -H "$WA" \
	-d "{\"token\":$GW,\"job\":{\"status\":\"completed\",\"exit_code\":0}}"
eq "the worker finishes its job" "$CODE" 200
hunt "a stale finish, reading the finished job fails: 503 'finish: out of \
memory', spool unchanged" POST "/api/v1/workers/jobs/$JW/finish" -H "$WA" \
	-d "{\"token\":$((GW + 5)),\"job\":{\"status\":\"completed\",\"exit_code\":0}}"

# a log upload: "log: ..." answers come from the fenced append (past the
# routing); the calloc of the upload's state comes after it
submit '{"shell":"true"}'
claim
found() { after "log: " 503 "out of memory"; }
hunt "log upload, its state cannot be allocated: 503 'out of memory' \
(after a 'log: ...' answer), spool unchanged" \
	POST "/api/v1/workers/jobs/$ID/log?token=$G&offset=0" -H "$WA" \
	-H 'Content-Type: application/octet-stream' -H 'Expect:' --data-binary ''

# minting: the answer's allocations come after the "token minted" line
found() { has 503 same yes "out of memory"; }
hunt "mint a token, its answer cannot be made: 503 'out of memory' (the \
token was minted and logged), spool unchanged" \
	POST /api/v1/tokens -H "$UA" -d '{"ttl":"10m"}'
# signing: a ttl longer than --jwt-max-ttl (30 days) is refused by
# mint_allowed (403), the step just before js_jwt_sign, with a body of the same
# length; the valid request's 'out of memory' answers past the last one of
# the refused request's come from signing
sweep POST /api/v1/tokens -H "$UA" -d '{"ttl":"31d"}'
eq "  nothing failing, a ttl of 31 days is refused" "$W_LAST" 403
STOP=$(awk '$2 == 503 { n = $1 } END { print n + 0 }' "$W/sweep")
found() {
	awk -v s="$STOP" '{ err = $0; sub(/^[^ ]* [^ ]* [^ ]* [^ ]* ?/, "", err) }
		$1 > s && $2 == 503 && $3 == "same" && $4 == "no" &&
		    err == "out of memory" { f = 1 } END { exit !f }' "$W/sweep"
}
hunt "mint a token, signing it fails: 503 'out of memory' (past the \
allocation where a ttl refused just before signing stops: $STOP), spool \
unchanged" POST /api/v1/tokens -H "$UA" -d '{"ttl":"10m"}'

req GET "/api/v1/jobs/$C" -H "$UA"
eq "memory back: GET answers the job" "$CODE" 200
api_stop

# ---- 3. a disk error and a race, at the moment a route looks for a job ----
if ! cc -O1 -shared -fPIC -o "$W/failsys.so" \
    "$(dirname "$0")/failsys.c" -ldl 2>"$W/cc.err"; then
	cat "$W/cc.err"
	fail "building the failsys.c shim (cc)"
	finish
fi
FCTL=$W/fctl
: >"$FCTL"
new_spool
mkdir -m 0770 "$SPOOL/tmp"
LD_PRELOAD=$W/failsys.so FAILSYS_CTL=$FCTL
export LD_PRELOAD FAILSYS_CTL
start_api $TOKENS --lease 1h
st=$?
unset LD_PRELOAD FAILSYS_CTL
[ "$st" -eq 0 ] || { fail "the apiserver starts with failsys.so"; finish; }
ok "the apiserver starts with failsys.so"

# a heartbeat with a stale token: the lease is lost, and looking for where
# the job went (404 or 409) meets a disk error: 500 with the error
submit '{"shell":"true"}'
claim
check "a worker claims a job" test -n "$ID" -a -n "$G"
req POST "/api/v1/workers/jobs/$ID/heartbeat" -H "$WA" -d "{\"token\":$((G + 1))}"
eq "  a stale heartbeat is refused as stale (409)" "$CODE" 409
printf 'eio %s.pending\n' "$ID" >"$FCTL"
BEFORE=$(spool_hashes)
req POST "/api/v1/workers/jobs/$ID/heartbeat" -H "$WA" -d "{\"token\":$((G + 1))}"
answer "a stale heartbeat, the job's lookup fails with EIO" 500 \
	"heartbeat: Input/output error"
unchanged "a stale heartbeat, the job's lookup fails with EIO"
: >"$FCTL"
req POST "/api/v1/workers/jobs/$ID/heartbeat" -H "$WA" -d "{\"token\":$G}"
eq "  the disk back, the right token's heartbeat holds the lease" "$CODE" 200

# DELETE of a final job that is moved back to pending between the check
# that it is final and its removal: 409, and the job is left pending
submit '{"shell":"true"}'
finished_by_hand "$ID"
printf 'requeue %s\n' "$ID" >"$FCTL"
req DELETE "/api/v1/jobs/$ID" -H "$UA"
answer "DELETE of a final job requeued meanwhile" 409 \
	"job $ID was requeued meanwhile; try again"
eq "  the race happened (the shim's command was used)" "$(cat "$FCTL")" ""
check "  the job is left pending" test -f "$SPOOL/$ID.pending"
check "  and not completed" test ! -e "$SPOOL/$ID.completed"
req GET "/api/v1/jobs/$ID" -H "$UA"
jq_eq "  GET answers it pending" .status pending
check "  the server is running" kill -0 "$API_PID"
api_stop
finish
