#!/bin/sh
# jobspool-apiserver: start-up flags, the job routes, demo routes, /healthz,
# /metrics, and every bad input of jobspool-apiserver(8) (status, JSON error, spool unchanged).
. "$(dirname "$0")/lib.sh"
API=$JS_BIN/jobspool-apiserver

# ---- start-up ----
"$API" --version >/dev/null 2>&1
eq "--version exits 0" $? 0
"$API" --version 2>/dev/null | grep -q '^jobspool-apiserver [0-9]'
eq "--version names the program" $? 0
"$API" --help 2>/dev/null | grep -q -- '--listen'
eq "--help lists --listen" $? 0
"$API" --no-such-flag >/dev/null 2>&1
eq "unknown flag exits 2" $? 2
"$API" --listen nonsense >/dev/null 2>&1
eq "bad --listen exits 2" $? 2
"$API" --max-body lots >/dev/null 2>&1
eq "bad --max-body exits 2" $? 2
"$API" --token nocolon >/dev/null 2>&1
eq "bad --token exits 2" $? 2
msg=$("$API" --listen 0.0.0.0:0 --spool /tmp/nonexistent-js 2>&1)
eq "non-loopback without tokens exits 2" $? 2
case $msg in *"jobspool-apiserver: "*token*) ok "it says tokens are needed" ;;
	*) fail "message: $msg" ;; esac
JOBSPOOL_TOKENS= "$API" --listen '[::]:0' >/dev/null 2>&1
eq "non-loopback v6 without tokens exits 2" $? 2
new_spool
chmod 0777 "$SPOOL"
"$API" --spool "$SPOOL" --listen 127.0.0.1:0 >/dev/null 2>&1
eq "world-writable spool exits 1" $? 1
chmod 0750 "$SPOOL"
"$API" --spool /proc/nope/x --listen 127.0.0.1:0 >/dev/null 2>&1
eq "unusable spool exits 1" $? 1

new_spool
check "server starts on port 0" start_api
case $URL in http://127.0.0.1:[1-9]*) ok "URL read from the log: $URL" ;;
	*) fail "URL '$URL'" ;; esac
# a second server on the same port cannot bind
"$API" --spool "$SPOOL" --listen "127.0.0.1:$PORT" >/dev/null 2>&1
eq "port in use exits 1" $? 1

# ---- healthz, submit, get ----
req GET /healthz
eq "healthz 200" "$CODE" 200
jq_eq "healthz says ok" .status ok

req POST /api/v1/jobs -H 'Content-Type: application/json' \
	-d '{"name":"one","command":["echo","hi"],"metadata":{"k":[1,2]}}'
eq "POST job 201" "$CODE" 201
ID=$(printf '%s' "$BODY" | jq -r .id)
jq_eq "stored status pending" .status pending
jq_eq "stored name" .name one
eq "Location header" "$(header Location)" "/api/v1/jobs/$ID"
check "file is <id>.pending" test -f "$SPOOL/$ID.pending"
req POST /api/v1/jobs -d '{"shell":"echo curl -d form type"}'
eq "curl -d (form content type) with JSON body 201" "$CODE" 201
ID2=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -H 'Content-Type:' --data-binary '{"shell":"true"}'
eq "no content type 201" "$CODE" 201
ID3=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -H 'Content-Type: application/json; charset=utf-8' \
	-d '{"docker":{"image":"busybox","command":["true"]}}'
eq "docker synonym 201" "$CODE" 201
jq_eq "docker stored as container" '.container.image' busybox
ID4=$(printf '%s' "$BODY" | jq -r .id)

req GET "/api/v1/jobs/$ID"
eq "GET job 200" "$CODE" 200
jq_eq "GET returns the job" .id "$ID"
# no number a JSON client cannot hold exactly: seq (ns) is in the file only
jq_eq "GET: no seq in the answer" 'has("seq")' false
jq_eq "GET: no number above 2^53" '[.. | numbers | select(. > 9007199254740991 or . < -9007199254740991)] | length' 0
check "the file keeps seq (ordering)" sh -c "jq -e '.seq | type == \"number\"' '$SPOOL/$ID.pending' >/dev/null"
req GET "/api/v1/job/$ID"
eq "demo GET /api/v1/job/{id} 200" "$CODE" 200
jq_eq "demo GET same job" .name one

# ---- bad input: right status, JSON error, spool unchanged ----
before=$(spool_snapshot)
bad() {	# DESC STATUS METHOD PATH curl-args...
	b_d=$1 b_s=$2; shift 2
	req "$@"
	jerr "$b_d" "$b_s"
}
bad "malformed JSON 400" 400 POST /api/v1/jobs -d '{"command":['
bad "not an object 400" 400 POST /api/v1/jobs -d '[1,2]'
bad "empty body 400" 400 POST /api/v1/jobs -H 'Content-Type: application/json' -d ''
bad "command wrong type 400" 400 POST /api/v1/jobs -d '{"command":"ls"}'
bad "command and shell 400" 400 POST /api/v1/jobs -d '{"command":["ls"],"shell":"ls"}'
bad "empty command 400" 400 POST /api/v1/jobs -d '{"command":[]}'
bad "no command 400" 400 POST /api/v1/jobs -d '{"name":"x"}'
bad "unknown field 400" 400 POST /api/v1/jobs -d '{"shell":"ls","colour":1}'
bad "server field 400" 400 POST /api/v1/jobs -d '{"shell":"ls","id":"x"}'
bad "labels not an array 400" 400 POST /api/v1/jobs -d '{"shell":"ls","labels":"gpu"}'
bad "label with a blank 400" 400 POST /api/v1/jobs -d '{"shell":"ls","labels":["a b"]}'
bad "label repeated 400" 400 POST /api/v1/jobs -d '{"shell":"ls","labels":["gpu","gpu"]}'
bad "huge number 400" 400 POST /api/v1/jobs -d '{"shell":"ls","priority":123456789012345678901234567890}'
bad "priority 1e3 (a real, not an integer) 400" 400 POST /api/v1/jobs -d '{"shell":"ls","priority":1e3}'
bad "retries 2.0 (a real) 400" 400 POST /api/v1/jobs -d '{"shell":"ls","retries":2.0}'
bad "huge float timeout 400" 400 POST /api/v1/jobs -d '{"shell":"ls","timeout":1e400}'
bad "negative timeout 400" 400 POST /api/v1/jobs -d '{"shell":"ls","timeout":-1}'
bad "duplicate keys 400" 400 POST /api/v1/jobs -d '{"shell":"ls","shell":"id"}'
bad "wrong content type 415" 415 POST /api/v1/jobs -H 'Content-Type: text/plain' -d '{"shell":"ls"}'
bad "xml content type 415" 415 POST /api/v1/jobs -H 'Content-Type: application/xml' -d '<a/>'
head -c 2097152 /dev/zero | tr '\0' 'a' >"$SPOOL.big"
T_DIRS="$T_DIRS $SPOOL.big"
bad "2 MiB body 413" 413 POST /api/v1/jobs -H 'Content-Type: application/json' \
	--data-binary "@$SPOOL.big"
bad "2 MiB chunked body 413" 413 POST /api/v1/jobs -H 'Transfer-Encoding: chunked' \
	-H 'Content-Type: application/json' --data-binary "@$SPOOL.big"
bad "wrong method 405" 405 PATCH /api/v1/jobs
eq "405 has Allow" "$(header Allow)" "GET, HEAD, POST"
bad "DELETE on list 405" 405 DELETE /api/v1/jobs
bad "POST on a job 405" 405 POST "/api/v1/jobs/$ID" -d '{}'
case $(header Allow) in *PUT*DELETE*) ok "Allow lists PUT, DELETE" ;;
	*) fail "Allow: $(header Allow)" ;; esac
bad "GET on add 405" 405 GET /api/v1/add/1/2
bad "path traversal id 404" 404 GET '/api/v1/jobs/..%2F..%2Fetc%2Fpasswd'
bad "raw ../etc/passwd 404" 404 GET '/api/v1/jobs/../../etc/passwd' --path-as-is
bad "not a UUID 404" 404 GET /api/v1/jobs/1234
bad "uppercase UUID 404" 404 GET "/api/v1/jobs/$(echo "$ID" | tr a-f A-F)"
bad "unknown id 404" 404 GET /api/v1/jobs/00000000-0000-4000-8000-000000000000
bad "PUT unknown id 404" 404 PUT /api/v1/jobs/00000000-0000-4000-8000-000000000000 -d '{"name":"x"}'
bad "DELETE bad id 404" 404 DELETE /api/v1/jobs/..%2Fjobs.lock
bad "log of bad id 404" 404 GET /api/v1/jobs/nope/log
bad "unknown route 404" 404 GET /api/v2/jobs
bad "add non-integer 400" 400 POST /api/v1/add/1/x
bad "add float 400" 400 POST /api/v1/add/1.5/2
bad "add overflow 400" 400 POST /api/v1/add/9223372036854775807/1
bad "add too big 400" 400 POST /api/v1/add/99999999999999999999/1
bad "list bad status 400" 400 GET '/api/v1/jobs?status=sleeping'
bad "list bad limit 400" 400 GET '/api/v1/jobs?limit=0'
bad "list limit over 1000 400" 400 GET '/api/v1/jobs?limit=1001'
bad "list bad cursor 400" 400 GET '/api/v1/jobs?after=zzz'
bad "PUT malformed 400" 400 PUT "/api/v1/jobs/$ID" -d '{"name":'
bad "PUT unknown status 400" 400 PUT "/api/v1/jobs/$ID" -d '{"status":"sleeping"}'
bad "PUT status to running 409" 409 PUT "/api/v1/jobs/$ID" -d '{"status":"RUNNING"}'
bad "PUT status to completed 409" 409 PUT "/api/v1/jobs/$ID" -d '{"status":"finished"}'
bad "PUT bad field 400" 400 PUT "/api/v1/jobs/$ID" -d '{"command":["x"]}'
bad "PUT name wrong type 400" 400 PUT "/api/v1/jobs/$ID" -d '{"name":5}'
bad "PUT empty 400" 400 PUT "/api/v1/jobs/$ID" -d '{}'
bad "PUT text/plain 415" 415 PUT "/api/v1/jobs/$ID" -H 'Content-Type: text/plain' -d '{"name":"x"}'
bad "batch bad 400" 400 POST /api/v1/batches -d '{"jobs":[{"shell":"true"},{"command":[]}]}'
after=$(spool_snapshot)
eq "bad input left the spool unchanged" "$after" "$before"
eq "tmp/ is empty" "$(ls "$SPOOL/tmp" | wc -l)" 0
check "server still alive" kill -0 "$API_PID"

# ---- list ----
req GET /api/v1/jobs
eq "list 200" "$CODE" 200
jq_eq "list has 4 jobs" '.jobs | length' 4
jq_eq "list newest first" '.jobs[0].id' "$ID4"
jq_eq "list next null" .next null
req GET '/api/v1/jobs?limit=3'
jq_eq "page 1 has 3" '.jobs | length' 3
NEXT=$(printf '%s' "$BODY" | jq -r .next)
req GET "/api/v1/jobs?limit=3&after=$NEXT"
jq_eq "page 2 has 1" '.jobs | length' 1
jq_eq "page 2 is the oldest" '.jobs[0].id' "$ID"
jq_eq "page 2 next null" .next null
jq_eq "list: no seq in any job" '[.jobs[] | has("seq")] | any' false
jq_eq "list: no number above 2^53" '[.. | numbers | select(. > 9007199254740991)] | length' 0
# unknown query parameters are refused, like unknown body fields
before=$(spool_snapshot)
bad "list ?colour=red 400" 400 GET '/api/v1/jobs?colour=red'
check "  the message names it and what the route takes" sh -c \
	"printf '%s' \"\$1\" | grep -q \"'colour'.*status,limit,after,batch,name\"" _ "$BODY"
bad "list ?stauts=pending (typo) 400" 400 GET '/api/v1/jobs?stauts=pending'
bad "GET job ?peak=1 (typo) 400" 400 GET "/api/v1/jobs/$ID?peak=1"
bad "DELETE job ?peek=1 (not taken by DELETE) 400" 400 DELETE "/api/v1/jobs/$ID?peek=1"
bad "POST jobs ?name=x 400" 400 POST '/api/v1/jobs?name=x' -d '{"shell":"true"}'
bad "log ?folow=1 (typo) 400" 400 GET "/api/v1/jobs/$ID/log?folow=1"
bad "healthz ?x 400" 400 GET '/healthz?x'
eq "refused parameters left the spool unchanged" "$(spool_snapshot)" "$before"
req GET "/api/v1/jobs/$ID?peek=1"
eq "the taken ones still work: ?peek=1 200" "$CODE" 200
req GET "/api/v1/jobs?status=pending&limit=2&name=one&batch="
eq "  status, limit, name, batch 200" "$CODE" 200
req GET "/api/v1/jobs/$ID/log?offset=0"
eq "  log ?offset=0 200" "$CODE" 200
req GET '/api/v1/jobs?name=one'
jq_eq "filter by name" '[.jobs[].id] | join(",")' "$ID"
req GET '/api/v1/jobs?status=ENQUEUED'
jq_eq "filter by status (seed name)" '.jobs | length' 4
req GET '/api/v1/jobs?status=completed'
jq_eq "no completed yet" '.jobs | length' 0

# ---- PUT ----
req PUT "/api/v1/jobs/$ID" -d '{"name":"renamed","description":"d","metadata":{"a":1}}'
eq "PUT name 200" "$CODE" 200
jq_eq "PUT changed name" .name renamed
jq_eq "PUT changed metadata" .metadata.a 1
eq "file has the new name" "$(jq -r .name "$SPOOL/$ID.pending")" renamed
req PUT "/api/v1/jobs/$ID" -d '{"status":"enqueued"}'
eq "PUT same status is no change 200" "$CODE" 200
req PUT "/api/v1/jobs/$ID2" -d '{"status":"CANCELLED"}'
eq "PUT status CANCELLED 200" "$CODE" 200
jq_eq "PUT cancelled" .status cancelled
check "file is .cancelled" test -f "$SPOOL/$ID2.cancelled"
req PUT "/api/v1/jobs/$ID2" -d '{"status":"cancelled"}'
eq "PUT cancel again 200" "$CODE" 200
req PUT "/api/v1/jobs/$ID2" -d '{"name":"after the end"}'
eq "PUT name of a final job 200" "$CODE" 200
# a running job: made by renaming, as a processor would claim it
mv "$SPOOL/$ID3.pending" "$SPOOL/$ID3.wip"
req PUT "/api/v1/jobs/$ID3" -d '{"name":"x"}'
jerr "PUT name while running 409" 409
req GET "/api/v1/jobs/$ID3"
jq_eq "running job reads as running" .status running

# ---- peek vs retrieve ----
req GET "/api/v1/jobs/$ID2?peek=1"
eq "peek 200" "$CODE" 200
check "peek leaves .cancelled" test -f "$SPOOL/$ID2.cancelled"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -I "$URL/api/v1/jobs/$ID2")
eq "HEAD of a final job 200" "$code" 200
check "HEAD does not mark retrieved" test -f "$SPOOL/$ID2.cancelled"
req GET "/api/v1/jobs/$ID2"
jq_eq "GET final keeps status" .status cancelled
check "GET marks retrieved" test -f "$SPOOL/$ID2.retrieved"
check "old state file gone" test ! -e "$SPOOL/$ID2.cancelled"
jq_eq "retrieved_at set" '.retrieved_at | type' string
req GET '/api/v1/jobs?status=retrieved'
jq_eq "filter retrieved" '[.jobs[].id] | join(",")' "$ID2"
req GET '/api/v1/jobs?status=cancelled'
jq_eq "filter cancelled includes retrieved ones" '[.jobs[].id] | join(",")' "$ID2"

# ---- DELETE ----
req DELETE "/api/v1/jobs/$ID4"
eq "DELETE pending 202" "$CODE" 202
jq_eq "DELETE pending cancels" .status cancelled
check "cancelled file" test -f "$SPOOL/$ID4.cancelled"
req DELETE "/api/v1/jobs/$ID3"
eq "DELETE running 202" "$CODE" 202
check "cancel request written" test -f "$SPOOL/$ID3.cancel"
echo "some output" >"$SPOOL/$ID4.log"
req DELETE "/api/v1/jobs/$ID4"
eq "DELETE final 204" "$CODE" 204
check "final job removed" test ! -e "$SPOOL/$ID4.cancelled"
check "its log removed" test ! -e "$SPOOL/$ID4.log"
req DELETE "/api/v1/jobs/$ID4"
jerr "DELETE again 404" 404

# ---- log ----
printf 'line 1\nline 2\n' >"$SPOOL/$ID.log"
req GET "/api/v1/jobs/$ID/log"
eq "log 200" "$CODE" 200
eq "log body" "$BODY" "$(printf 'line 1\nline 2')"
case $(header Content-Type) in text/plain*) ok "log is text/plain" ;;
	*) fail "log type $(header Content-Type)" ;; esac
req GET "/api/v1/jobs/$ID/log?offset=7"
eq "log from offset" "$BODY" "line 2"
req GET "/api/v1/jobs/$ID/log?offset=x"
jerr "bad offset 400" 400
req GET "/api/v1/jobs/$ID2/log"
eq "no log yet: empty 200" "$CODE:$BODY" "200:"
check "reading a log does not mark retrieved" test -f "$SPOOL/$ID.pending"

# ---- demo add ----
req POST /api/v1/add/2/40
eq "add 201" "$CODE" 201
jq_eq "add job is builtin" '.builtin + ":" + (.args | map(tostring) | join(","))' "add:2,40"
req POST /api/v1/add/-9223372036854775807/-1
eq "add of the smallest sum 201" "$CODE" 201
req POST /api/v1/add/-9223372036854775807/-2
jerr "add negative overflow 400" 400

# ---- metrics ----
req GET /metrics
eq "metrics 200" "$CODE" 200
printf '%s\n' "$BODY" | grep -q '^jobspool_jobs{state="pending"} [0-9]'
eq "metrics has jobs by state" $? 0
printf '%s\n' "$BODY" | grep -q '^jobspool_jobs_submitted_total 6$'
eq "metrics counts submissions" $? 0
printf '%s\n' "$BODY" | grep -q '^jobspool_http_requests_total{route="[a-z_]*",code="400"} [1-9]'
eq "metrics counts 400s" $? 0
printf '%s\n' "$BODY" | grep -q '^jobspool_job_duration_seconds_bucket{le="+Inf"}'
eq "metrics has a duration histogram" $? 0

# ---- unwritable spool ----
# tmp/ unwritable: by its mode for a user.  Root writes through any mode,
# so for root an apiserver of its own serves a spool that is a bind mount
# of itself, remounted read-only (EROFS) and then read-write again.
if [ "$(id -u)" != 0 ]; then
	unwritable() { chmod 0550 "$SPOOL/tmp"; }
	writable() { chmod 0750 "$SPOOL/tmp"; }
elif mount --bind "$SPOOL" "$SPOOL" 2>/dev/null; then
	api_stop
	start_api
	unwritable() { mount -o remount,bind,ro "$SPOOL"; }
	writable() { mount -o remount,bind,rw "$SPOOL"; }
else
	unwritable() { false; }
fi
if unwritable; then
	before=$(spool_files)
	req GET /healthz
	jerr "healthz 503 when tmp/ is not writable" 503
	req POST /api/v1/jobs -d '{"shell":"true"}'
	jerr "POST 503 on an unwritable spool" 503
	eq "nothing written" "$(spool_files)" "$before"
	writable
	req GET /healthz
	eq "healthz 200 again once tmp/ is writable" "$CODE" 200
	req POST /api/v1/jobs -d '{"shell":"true"}'
	eq "POST 201 again" "$CODE" 201
else
	skip permission "no bind mount (root without CAP_SYS_ADMIN)" \
		"unwritable spool"
fi
[ "$(id -u)" = 0 ] && umount -l "$SPOOL" 2>/dev/null

# ---- a file past the server's own size limit (RLIMIT_FSIZE) ----
# SIGXFSZ would kill the server: it is ignored, the write fails with
# EFBIG and the answer is 507 (dash's ulimit -f counts 512-byte blocks)
api_stop
new_spool
ulimit -S -f 32
start_api
ulimit -S -f unlimited
before=$(spool_snapshot)
big=$(head -c 40000 /dev/zero | tr '\0' x)
req POST /api/v1/jobs -d "{\"shell\":\"true\",\"description\":\"$big\"}"
jerr "a job file past the server's file size limit: 507" 507
case $BODY in *RLIMIT_FSIZE*) ok "... the error names the limit" ;;
	*) fail "... the error names the limit: $BODY" ;; esac
check "... the server lives on" kill -0 "$API_PID"
eq "... nothing written, tmp/ empty" "$(spool_snapshot)" "$before"
req POST /api/v1/jobs -d '{"shell":"true"}'
eq "a small job still gets 201" "$CODE" 201


api_stop
finish
