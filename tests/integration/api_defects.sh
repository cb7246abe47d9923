#!/bin/sh
# jobspool-apiserver: defects found from the outside (issue 15), each case
# failed before its fix.
#   1. PUT {"status": "cancelled"} and DELETE of a job in every final state
#      (a use after free answered a completed job with a closed connection)
#   2. PUT is validated by the submission rule and applied all or nothing
#   3. a path with a NUL byte (%00) or any byte no route can hold is 400
#   4. GET /api/v1/batches/{cid}?logs=1 is streamed, and a log that is cut or
#      unreadable says so in fields of its own
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

proc_setup
check "server starts" start_api
# post JSON: submits one job, prints its id
post() { req POST /api/v1/jobs -d "$1"; printf '%s' "$BODY" | jq -r .id; }
# same_file DESC FILE COPY: FILE is byte-identical to COPY
same_file() {
	if cmp -s "$2" "$3"; then ok "$1"; else fail "$1 ($(cat "$2" 2>&1))"; fi
}
alive() { check "server alive after $1" kill -0 "$API_PID"; }

# ---- jobs in every final state, run by a real processor ----
JC=$(post '{"name":"c","command":["true"]}')
JF=$(post '{"name":"f","command":["false"]}')
JR=$(post '{"name":"r","command":["true"]}')
JX=$(post '{"name":"x","command":["true"]}')
JRX=$(post '{"name":"rx","command":["true"]}')
req PUT "/api/v1/jobs/$JX" -d '{"status":"cancelled"}'
eq "cancel a pending job 200" "$CODE" 200
req PUT "/api/v1/jobs/$JRX" -d '{"status":"cancelled"}'
start_proc --jobs 2 --scan-interval 200ms
check "completed, failed jobs end" wait_final 60 "$JC" "$JF" "$JR"
stop_pid "$PROC_PID"
req GET "/api/v1/jobs/$JR"
jq_eq "GET marks a completed job retrieved" .status completed
req GET "/api/v1/jobs/$JRX"
jq_eq "GET marks a cancelled job retrieved" .status cancelled
check "state files as expected" test -f "$SPOOL/$JC.completed" -a \
	-f "$SPOOL/$JF.failed" -a -f "$SPOOL/$JX.cancelled" -a \
	-f "$SPOOL/$JR.retrieved" -a -f "$SPOOL/$JRX.retrieved"

# ---- 1. cancelling a final job: 409 (or 200 if it is cancelled already),
# never a closed connection, the file untouched ----
# put_final ID FILE WANT-STATUS STATUS-WORD
put_final() {
	cp "$2" "$SPOOL.copy"
	req PUT "/api/v1/jobs/$1" -d "{\"status\":\"$4\"}"
	if [ "$3" = 409 ]; then
		jerr "PUT $4 on $(basename "$2"): 409" 409
		case $BODY in *"cannot be cancelled"*) ok "409 says it cannot be cancelled" ;;
			*) fail "409 message: $BODY" ;; esac
	else
		eq "PUT $4 on $(basename "$2"): $3" "$CODE" "$3"
		jq_eq "the answer is the job" .id "$1"
	fi
	same_file "PUT $4 leaves $(basename "$2") byte-identical" "$2" "$SPOOL.copy"
	alive "PUT $4 on $(basename "$2")"
}
T_DIRS="$T_DIRS $SPOOL.copy"
put_final "$JC" "$SPOOL/$JC.completed" 409 cancelled
put_final "$JC" "$SPOOL/$JC.completed" 409 CANCELLED
put_final "$JF" "$SPOOL/$JF.failed" 409 cancelled
put_final "$JR" "$SPOOL/$JR.retrieved" 409 canceled
put_final "$JX" "$SPOOL/$JX.cancelled" 200 cancelled
put_final "$JRX" "$SPOOL/$JRX.retrieved" 200 cancelled

# ---- 2. PUT: the submission rule, all or nothing ----
JP=$(post '{"name":"orig","description":"d","command":["true"],"metadata":{"k":1}}')
P=$SPOOL/$JP.pending
cp "$P" "$SPOOL.copy"
put_bad() {	# DESC STATUS BODY: refused, the pending job unchanged
	req PUT "/api/v1/jobs/$JP" -d "$3"
	jerr "$1" "$2"
	same_file "$1: job file byte-identical" "$P" "$SPOOL.copy"
}
put_bad "PUT name null 400" 400 '{"name":null}'
put_bad "PUT description null 400" 400 '{"description":null}'
put_bad "PUT name and description null 400" 400 '{"name":null,"description":null}'
put_bad "PUT name number 400" 400 '{"name":5}'
put_bad "PUT name array 400" 400 '{"name":["a"]}'
put_bad "PUT name object 400" 400 '{"name":{}}'
put_bad "PUT name true 400" 400 '{"name":true}'
put_bad "PUT description number 400" 400 '{"description":1.5}'
put_bad "PUT name with a NUL 400" 400 '{"name":"a\u0000b"}'
put_bad "PUT name too long 400" 400 "{\"name\":\"$(head -c 257 /dev/zero | tr '\0' n)\"}"
put_bad "PUT a good name beside a bad description 400" 400 \
	'{"name":"ok","description":null}'
put_bad "PUT a good name beside a server field 400" 400 '{"name":"ok","owner":"me"}'
put_bad "PUT a good name beside status running 409" 409 '{"name":"ok","status":"running"}'
put_bad "PUT a good name beside an unknown status 400" 400 '{"name":"ok","status":"nope"}'
put_bad "PUT a good name beside a status number 400" 400 '{"name":"ok","status":1}'
req PUT "/api/v1/jobs/$JP" -d '{"name":null}'
case $BODY in *"name must be a string"*) ok "the 400 says what the submission rule says" ;;
	*) fail "400 message: $BODY" ;; esac
# an accepted PUT keeps the job valid for the processor (checked at the end)
req PUT "/api/v1/jobs/$JP" -d '{"name":"","description":"","metadata":null}'
eq "PUT empty name and description (as a submission may) 200" "$CODE" 200
jq_eq "the answer has the empty name" .name ""
eq "the file has the empty name" "$(jq -r .name "$P")" ""

# all or nothing on a final job: nothing changes when the status cannot be set
for f in "$SPOOL/$JC.completed" "$SPOOL/$JF.failed" "$SPOOL/$JR.retrieved"; do
	cp "$f" "$SPOOL.copy"
	req PUT "/api/v1/jobs/$(basename "$f" | cut -d. -f1)" \
		-d '{"name":"half","status":"cancelled"}'
	jerr "PUT name + cancel on $(basename "$f"): 409" 409
	same_file "PUT name + cancel: $(basename "$f") byte-identical" "$f" "$SPOOL.copy"
done
# ... on a running job (a processor's claim is a rename): the name cannot
# change while it runs, so it is not cancelled either
JW=$(post '{"name":"w","command":["true"]}')
mv "$SPOOL/$JW.pending" "$SPOOL/$JW.wip"
cp "$SPOOL/$JW.wip" "$SPOOL.copy"
req PUT "/api/v1/jobs/$JW" -d '{"name":"half","status":"cancelled"}'
jerr "PUT name + cancel on a running job: 409" 409
same_file "PUT name + cancel: .wip byte-identical" "$SPOOL/$JW.wip" "$SPOOL.copy"
check "PUT name + cancel: no cancel request written" test ! -e "$SPOOL/$JW.cancel"
req PUT "/api/v1/jobs/$JW" -d '{"status":"cancelled"}'
eq "PUT cancel on a running job 200" "$CODE" 200
jq_eq "it says the cancel is requested" .cancel_requested true
check "a cancel request is written" test -f "$SPOOL/$JW.cancel"
# ... and both apply together on a pending job
JB=$(post '{"name":"b","command":["true"]}')
req PUT "/api/v1/jobs/$JB" -d '{"name":"both","status":"cancelled"}'
eq "PUT name + cancel on a pending job 200" "$CODE" 200
jq_eq "the answer is cancelled" .status cancelled
jq_eq "the answer has the new name" .name both
eq "the .cancelled file has the new name" \
	"$(jq -r .name "$SPOOL/$JB.cancelled" 2>/dev/null)" both
check "no .pending is left" test ! -e "$SPOOL/$JB.pending"
# a name on a final job with its own status is a change
req PUT "/api/v1/jobs/$JC" -d '{"name":"renamed","status":"completed"}'
eq "PUT name + the same status on a completed job 200" "$CODE" 200
eq "the completed file has the new name" "$(jq -r .name "$SPOOL/$JC.completed")" renamed

# ---- 1 (again). DELETE in every state ----
del_final() {	# ID FILE
	req DELETE "/api/v1/jobs/$1"
	eq "DELETE $(basename "$2"): 204" "$CODE" 204
	check "DELETE removed $(basename "$2")" test ! -e "$2"
	req DELETE "/api/v1/jobs/$1"
	jerr "DELETE $(basename "$2") again: 404" 404
}
del_final "$JC" "$SPOOL/$JC.completed"
del_final "$JF" "$SPOOL/$JF.failed"
del_final "$JX" "$SPOOL/$JX.cancelled"
del_final "$JR" "$SPOOL/$JR.retrieved"
JD=$(post '{"name":"d","command":["true"]}')
mv "$SPOOL/$JD.pending" "$SPOOL/$JD.wip"
req DELETE "/api/v1/jobs/$JD"
eq "DELETE a running job: 202" "$CODE" 202
jq_eq "DELETE running: cancel requested" .cancel_requested true
check "DELETE running: a cancel request is written" test -f "$SPOOL/$JD.cancel"
cp "$SPOOL/$JD.cancel" "$SPOOL.copy"
touch -d @1 "$SPOOL/$JD.cancel"
req PUT "/api/v1/jobs/$JD" -d '{"status":"cancelled"}'
eq "PUT cancel on a job being cancelled: 200" "$CODE" 200
same_file "... keeps the cancel request" "$SPOOL/$JD.cancel" "$SPOOL.copy"
eq "... untouched" "$(stat -c %Y "$SPOOL/$JD.cancel")" 1
req DELETE "/api/v1/jobs/$JD"
eq "DELETE a job being cancelled: 202" "$CODE" 202
eq "... leaves the cancel request untouched" "$(stat -c %Y "$SPOOL/$JD.cancel")" 1
JE=$(post '{"name":"e","command":["true"]}')
req DELETE "/api/v1/jobs/$JE"
eq "DELETE a pending job: 202" "$CODE" 202
jq_eq "DELETE pending: cancelled at once" .status cancelled
check "DELETE pending: the file is .cancelled" test -f "$SPOOL/$JE.cancelled"
alive "DELETE in every state"

# ---- 3. bytes no route can hold ----
JN=$(post '{"name":"nul","command":["true"]}')
before=$(spool_snapshot)
cp "$SPOOL/$JN.pending" "$SPOOL.copy"
path_bad() {	# DESC METHOD PATH [curl args]
	p_d=$1; shift
	req "$@" --path-as-is
	jerr "$p_d: 400" 400
}
path_bad "GET id%00zzz" GET "/api/v1/jobs/$JN%00zzz"
path_bad "GET id%00" GET "/api/v1/jobs/$JN%00"
path_bad "GET id%00/log" GET "/api/v1/jobs/$JN%00/log"
path_bad "PUT id%00x" PUT "/api/v1/jobs/$JN%00x" -d '{"name":"nul"}'
path_bad "DELETE id%00x" DELETE "/api/v1/jobs/$JN%00x"
path_bad "healthz%00" GET "/healthz%00"
path_bad "%00 in the middle of the route" GET "/api/v1%00/jobs"
path_bad "newline %0a" GET "/api/v1/jobs/$JN%0a"
path_bad "carriage return %0d" GET "/api/v1/jobs/$JN%0d"
path_bad "space %20" GET "/api/v1/jobs/$JN%20"
path_bad "tab %09" GET "/api/v1/jobs/$JN%09"
path_bad "DEL %7f" GET "/api/v1/jobs/$JN%7f"
path_bad "byte %ff" GET "/api/v1/jobs/$JN%ff"
path_bad "UTF-8 %c3%a9" GET "/api/v1/jobs/%c3%a9"
path_bad "malformed escape %zz" GET "/api/v1/jobs/%zz"
path_bad "cut escape %4" GET "/api/v1/jobs/$JN%4"
path_bad "POST %00 on add" POST "/api/v1/add/1%00/2"
same_file "no request with a bad path changed the job" "$SPOOL/$JN.pending" \
	"$SPOOL.copy"
eq "no request with a bad path changed the spool" "$(spool_snapshot)" "$before"
# escapes of bytes a route holds still route
req GET "/api/v1/jobs/$(printf '%s' "$JN" | sed 's/-/%2D/g')?peek=1" --path-as-is
eq "an id with %2D for its dashes 200" "$CODE" 200
jq_eq "... is that job" .id "$JN"
req GET "/api/v1/jobs/$JN?peek=%00" --path-as-is
eq "%00 in the query string is not the path" "$CODE" 200
# raw bytes on the wire, not escaped
raw() {	# prints the status code of a raw request line (python3 socket)
	python3 - "$PORT" "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
line = sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1")
s.sendall(b"GET " + line + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
print(data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "none")
EOF
}
for p in "/api/v1/jobs/$JN\\xff" "/api/v1/jobs/$JN\\x01" \
	"/api/v1/jobs/$JN\\x7f" "/api/v1/jobs/$JN zzz"; do
	code=$(raw "$p")
	eq "raw $p: 400" "$code" 400
done
# A raw NUL (not %00) cannot be seen: libmicrohttpd 0.9.75 hands the request
# target to the server only as C strings, cut at the NUL.  It must still get
# an answer and not take the server down.
code=$(raw "/api/v1/jobs/$JN\\x00zzz")
case $code in [1-5][0-9][0-9]) ok "raw NUL: an answer ($code)" ;;
	*) fail "raw NUL: $code" ;; esac
alive "bad paths"

# ---- 4. the batch with its logs ----
req POST /api/v1/batches -d '{"jobs":[{"command":["true"]},{"command":["true"]},
	{"command":["true"]},{"command":["true"]},{"command":["true"]},
	{"command":["true"]}]}'
eq "batch 201" "$CODE" 201
CID=$(printf '%s' "$BODY" | jq -r .correlation_id)
set -- $(printf '%s' "$BODY" | jq -r '.jobs[]')
L1=$1 L2=$2 L3=$3 L4=$4 L5=$5 L6=$6
# logs written as a processor would (the jobs stay pending: no processor)
printf 'hello\n' >"$SPOOL/$L1.log"
head -c 1100000 /dev/zero | tr '\0' a >"$SPOOL/$L2.log"
printf 'bad \377\376 bytes\n' >"$SPOOL/$L3.log"
ln -s /etc/passwd "$SPOOL/$L4.log"	# never followed: unreadable
# L5 has no log yet
# a two-byte character across the 1 MiB cut
{ head -c 1048575 /dev/zero | tr '\0' b; printf '\303\251tail'; } >"$SPOOL/$L6.log"
req GET "/api/v1/batches/$CID?logs=1&peek=1"
eq "batch with logs 200" "$CODE" 200
check "the answer is JSON" jq -e . "$RESP_FILE" >/dev/null
jq_eq "total" .total 6
jq_eq "counts" .counts.pending 6
jq_eq "jobs in submission order" '[.jobs[].id] | join(" ")' "$L1 $L2 $L3 $L4 $L5 $L6"
case $(header Transfer-Encoding) in chunked) ok "the answer is streamed (chunked)" ;;
	*) fail "Transfer-Encoding '$(header Transfer-Encoding)'" ;; esac
jq_eq "a short log inline" '.jobs[0].log' hello
jq_eq "a short log is not truncated" '.jobs[0].log_truncated' false
jq_eq "a short log has no error" '.jobs[0].log_error' null
jq_eq "a long log is cut at 1 MiB" '.jobs[1].log | length' 1048576
jq_eq "a long log says it was truncated" '.jobs[1].log_truncated' true
jq_eq "a long log has no error" '.jobs[1].log_error' null
jq_eq "a log that is not UTF-8 is null" '.jobs[2].log' null
jq_eq "a log that is not UTF-8 has an error" '.jobs[2].log_error | test("UTF-8")' true
jq_eq "an unreadable log is null" '.jobs[3].log' null
jq_eq "an unreadable log has an error" '.jobs[3].log_error | type' string
jq_eq "the error is not inside the log text" \
	'[.jobs[].log // "" | test("fetch it|UTF-8|cannot")] | any' false
jq_eq "no log yet is empty" '.jobs[4].log' ""
jq_eq "no log yet is no error" '.jobs[4].log_error' null
jq_eq "a cut inside a character keeps whole characters" \
	'.jobs[5].log | length' 1048575
jq_eq "... and says it was truncated" '.jobs[5].log_truncated' true
jq_eq "... and has no error" '.jobs[5].log_error' null
req GET "/api/v1/batches/$CID?peek=1"
jq_eq "without logs=1 no log fields" '[.jobs[] | has("log") or has("log_truncated")] | any' false
jq_eq "without logs=1 the counts" .counts.pending 6
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -I "$URL/api/v1/batches/$CID?logs=1")
eq "HEAD of a batch with logs 200" "$code" 200
alive "the batch with its logs"

# ---- 2 (again). the jobs PUT left pending run (the processor accepts what PUT wrote) ----
rm -f "$SPOOL/$L4.log"
start_proc --jobs 2 --scan-interval 200ms
check "the PUT job ends" wait_final 60 "$JP"
eq "the PUT job completed (its file is valid)" "$(field "$JP" .status)" completed
eq "the PUT job kept its empty name" "$(field "$JP" .name)" ""
stop_pid "$PROC_PID"
proc_check_logs
api_stop
finish
