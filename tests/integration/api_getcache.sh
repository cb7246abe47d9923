#!/bin/sh
# GET /api/v1/jobs/{id} answered again from the bytes of the job's file
# (apiserver/jobcache.c): every change of the file, of its state, of the
# caller shows in the next answer; the answer is the one the ordinary read
# makes (no "seq", "status" and "id" from the file's name and extension).
. "$(dirname "$0")/lib.sh"

ID=11111111-1111-4111-8111-111111111111
new_spool
start_api --token alice:asecret --token bob:bsecret --token adm:dsecret:admin
A="Authorization: Bearer asecret"
B="Authorization: Bearer bsecret"

put() { printf "%s" "$2" >"$SPOOL/tmp/put" && mv "$SPOOL/tmp/put" "$SPOOL/$ID.$1"; }

put completed '{"command":["x"],"owner":"alice","seq":7,"note":"one"}'
req GET "/api/v1/jobs/$ID?peek=1" -H "$A"
eq "first GET 200" "$CODE" 200
eq "... the body" "$BODY" "{\"command\":[\"x\"],\"owner\":\"alice\",\"note\":\"one\",\"status\":\"completed\",\"id\":\"$ID\"}"
req GET "/api/v1/jobs/$ID?peek=1" -H "$A"
eq "second GET, same bytes: the same body" "$BODY" "{\"command\":[\"x\"],\"owner\":\"alice\",\"note\":\"one\",\"status\":\"completed\",\"id\":\"$ID\"}"
eq "... its Content-Type" "$(header Content-Type)" "application/json"
req HEAD "/api/v1/jobs/$ID?peek=1" -H "$A" -I
eq "HEAD 200" "$CODE" 200
req GET "/api/v1/jobs/$ID?peek=1" -H "$B"
eq "another token does not see it (404)" "$CODE" 404
jerr "... with an error" 404

# the same length, other bytes
put completed '{"command":["x"],"owner":"alice","seq":7,"note":"two"}'
req GET "/api/v1/jobs/$ID?peek=1" -H "$A"
jq_eq "rewritten file (same size): the new content" .note two
# the owner changes: who sees it changes
put completed '{"command":["x"],"owner":"bob","seq":7,"note":"two"}'
req GET "/api/v1/jobs/$ID?peek=1" -H "$A"
eq "new owner: the old one gets 404" "$CODE" 404
req GET "/api/v1/jobs/$ID?peek=1" -H "$B"
eq "... the new one 200" "$CODE" 200
# written in place (no rename), same size
printf '%s' '{"command":["x"],"owner":"bob","seq":7,"note":"tri"}' >"$SPOOL/$ID.completed"
req GET "/api/v1/jobs/$ID?peek=1" -H "$B"
jq_eq "rewritten in place: the new content" .note tri
# the same bytes in another state
mv "$SPOOL/$ID.completed" "$SPOOL/$ID.failed"
req GET "/api/v1/jobs/$ID?peek=1" -H "$B"
jq_eq "moved to .failed: status from the extension" .status failed
mv "$SPOOL/$ID.failed" "$SPOOL/$ID.wip"
req GET "/api/v1/jobs/$ID?peek=1" -H "$B"
jq_eq "moved to .wip: running" .status running
# a pending file beside: the ordinary probe order (pending first)
put pending '{"command":["x"],"owner":"bob","note":"pend"}'
req GET "/api/v1/jobs/$ID?peek=1" -H "$B"
jq_eq "a .pending beside it is what a GET reads" .note pend
rm -f "$SPOOL/$ID.pending" "$SPOOL/$ID.wip"
req GET "/api/v1/jobs/$ID?peek=1" -H "$B"
eq "removed: 404" "$CODE" 404
# not JSON, then JSON again
put completed 'not json'
req GET "/api/v1/jobs/$ID?peek=1" -H "$B"
eq "a file that does not parse: 404 as before" "$CODE" 404
put completed '{"command":["x"],"owner":"bob","note":"back"}'
req GET "/api/v1/jobs/$ID?peek=1" -H "$B"
jq_eq "parses again: 200" .note back
# a GET without peek marks it retrieved, a cached answer or not
req GET "/api/v1/jobs/$ID" -H "$B"
eq "GET without peek 200" "$CODE" 200
check "... marks it retrieved" test -f "$SPOOL/$ID.retrieved"
check "... .completed is gone" test ! -e "$SPOOL/$ID.completed"
req GET "/api/v1/jobs/$ID?peek=1" -H "$B"
jq_eq "... then status completed, retrieved_at set" \
	'.status + " " + (.retrieved_at | type)' "completed string"
req GET "/api/v1/jobs/$ID?peek=1" -H "Authorization: Bearer dsecret"
eq "an admin sees it" "$CODE" 200

api_stop
finish
