#!/bin/sh
# jobspool-apiserver: defects found from the outside (issue 15), each case
# failed before its fix.
#   1. PUT {"status": "cancelled"} and DELETE of a job in every final state
#      (a use after free answered a completed job with a closed connection)
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
JE=$(post '{"name":"e","command":["true"]}')
req DELETE "/api/v1/jobs/$JE"
eq "DELETE a pending job: 202" "$CODE" 202
jq_eq "DELETE pending: cancelled at once" .status cancelled
check "DELETE pending: the file is .cancelled" test -f "$SPOOL/$JE.cancelled"
alive "DELETE in every state"

proc_check_logs
api_stop
finish
