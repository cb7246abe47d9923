#!/bin/sh
# jobspool-apiserver with tokens: 401 for a missing or wrong token, every
# route hides another token's jobs (404, as if they did not exist), admin
# tokens see everything, Idempotency-Key is per token, SIGHUP reloads the
# tokens; tokens from --token, JOBSPOOL_TOKENS and the config file.
. "$(dirname "$0")/lib.sh"

new_spool
W=$(mktemp -d /tmp/jobspool-auth.XXXXXX)
T_DIRS="$T_DIRS $W"
CONF=$W/api.conf
# tokens from the environment; a --token flag replaces them (flags beat env)
JOBSPOOL_TOKENS=erin:erin-secret,fred:fred-secret:admin
export JOBSPOOL_TOKENS
check "server starts with JOBSPOOL_TOKENS" start_api
req GET /api/v1/jobs -H 'Authorization: Bearer erin-secret'
eq "first JOBSPOOL_TOKENS token works" "$CODE" 200
req GET /api/v1/jobs -H 'Authorization: Bearer fred-secret'
eq "second JOBSPOOL_TOKENS token works" "$CODE" 200
req GET /api/v1/jobs
jerr "JOBSPOOL_TOKENS set: no token 401" 401
api_stop
check "server starts with --token and JOBSPOOL_TOKENS" start_api \
	--token gina:gina-secret
req GET /api/v1/jobs -H 'Authorization: Bearer gina-secret'
eq "the --token token works" "$CODE" 200
req GET /api/v1/jobs -H 'Authorization: Bearer erin-secret'
jerr "--token replaces JOBSPOOL_TOKENS" 401
api_stop
unset JOBSPOOL_TOKENS

# tokens from the config file (reloaded by SIGHUP below)
printf '%s\n' 'token = alice:alice-secret' 'token = bob:bob-secret' \
	'token = carol:carol-secret' 'token = root:root-secret:admin' >"$CONF"
check "server starts with config file tokens" start_api --config "$CONF"
A='Authorization: Bearer alice-secret'
B='Authorization: Bearer bob-secret'
R='Authorization: Bearer root-secret'

# ---- 401 ----
before=$(spool_snapshot)
req GET /api/v1/jobs
jerr "no token: 401" 401
case $(header WWW-Authenticate) in Bearer*) ok "401 has WWW-Authenticate: Bearer" ;;
	*) fail "WWW-Authenticate '$(header WWW-Authenticate)'" ;; esac
req POST /api/v1/jobs -d '{"shell":"true"}'
jerr "POST without a token: 401" 401
req POST /api/v1/jobs -H 'Authorization: Bearer alice-secreT' -d '{"shell":"true"}'
jerr "wrong secret: 401" 401
req POST /api/v1/jobs -H 'Authorization: Bearer alice-secret-and-more' -d '{"shell":"true"}'
jerr "secret with a valid prefix: 401" 401
req POST /api/v1/jobs -H 'Authorization: Bearer alice' -d '{"shell":"true"}'
jerr "token name instead of secret: 401" 401
req POST /api/v1/jobs -H 'Authorization: Basic YWxpY2U6YWxpY2Utc2VjcmV0' -d '{"shell":"true"}'
jerr "Basic auth: 401" 401
req POST /api/v1/jobs -H 'Authorization: Bearer ' -d '{"shell":"true"}'
jerr "empty bearer: 401" 401
req POST /api/v1/batches -d '{"jobs":[{"shell":"true"}]}'
jerr "batch without a token: 401" 401
req POST /api/v1/add/1/2
jerr "add without a token: 401" 401
eq "refused requests left the spool unchanged" "$(spool_snapshot)" "$before"
req GET /healthz
eq "healthz needs no token" "$CODE" 200
req GET /metrics
eq "metrics needs no token" "$CODE" 200

# ---- each token its own jobs ----
req POST /api/v1/jobs -H "$A" -d '{"name":"a1","shell":"true"}'
eq "alice submits 201" "$CODE" 201
jq_eq "owner is alice" .owner alice
JA=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -H "$B" -d '{"name":"b1","shell":"true"}'
eq "bob submits 201" "$CODE" 201
jq_eq "owner is bob" .owner bob
JB=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -H 'Authorization: Bearer carol-secret' -d '{"shell":"true"}'
eq "carol (config file) submits 201" "$CODE" 201
req POST /api/v1/batches -H "$A" -d '{"jobs":[{"shell":"true"},{"shell":"false"}]}'
eq "alice submits a batch 201" "$CODE" 201
CA=$(printf '%s' "$BODY" | jq -r .correlation_id)
JA2=$(printf '%s' "$BODY" | jq -r '.jobs[0]')
req POST /api/v1/add/20/22 -H "$A"
eq "alice add 201" "$CODE" 201
JADD=$(printf '%s' "$BODY" | jq -r .id)

req GET /api/v1/jobs -H "$A"
jq_eq "alice lists only her 4 jobs" '[.jobs[].owner] | unique | join(",") + ":" + (length | tostring)' "alice:1"
jq_eq "alice's list has 4" '.jobs | length' 4
req GET /api/v1/jobs -H "$B"
jq_eq "bob lists only his job" '[.jobs[].id] | join(",")' "$JB"
req GET /api/v1/jobs -H "$R"
jq_eq "admin lists every job" '.jobs | length' 6

# bob against alice's job, on every route: 404 and nothing changes
mv "$SPOOL/$JA2.pending" "$SPOOL/$JA2.completed"
printf 'secret output\n' >"$SPOOL/$JA.log"
before=$(spool_snapshot)
req GET "/api/v1/jobs/$JA" -H "$B"
jerr "bob GET alice's job: 404" 404
req GET "/api/v1/job/$JA" -H "$B"
jerr "bob GET (demo route) alice's job: 404" 404
req GET "/api/v1/jobs/$JA2" -H "$B"
jerr "bob GET alice's final job: 404" 404
req PUT "/api/v1/jobs/$JA" -H "$B" -d '{"name":"mine now"}'
jerr "bob PUT alice's job: 404" 404
req PUT "/api/v1/jobs/$JA" -H "$B" -d '{"status":"cancelled"}'
jerr "bob cancels alice's job by PUT: 404" 404
req DELETE "/api/v1/jobs/$JA" -H "$B"
jerr "bob DELETE alice's job: 404" 404
req DELETE "/api/v1/jobs/$JA2" -H "$B"
jerr "bob DELETE alice's final job: 404" 404
req GET "/api/v1/jobs/$JA/log" -H "$B"
jerr "bob reads alice's log: 404" 404
req GET "/api/v1/jobs/$JA/log?follow=1" -H "$B"
jerr "bob follows alice's log: 404" 404
req GET "/api/v1/batches/$CA" -H "$B"
jerr "bob GET alice's batch: 404" 404
req GET "/api/v1/batches/$CA/log?follow=1" -H "$B"
jerr "bob follows alice's batch log: 404" 404
req GET "/api/v1/jobs?batch=$CA" -H "$B"
jq_eq "bob filters by alice's batch: nothing" '.jobs | length' 0
eq "bob changed nothing" "$(spool_snapshot)" "$before"
check "alice's final job is not marked retrieved by bob" \
	test -f "$SPOOL/$JA2.completed"
eq "alice's job kept its name" "$(jq -r .name "$SPOOL/$JA.pending")" a1
if [ -x "$W/ws_client" ] || cc -O1 -o "$W/ws_client" \
	"$(dirname "$0")/ws_client.c" 2>"$W/cc.err"; then
	"$W/ws_client" "$PORT" "/api/v1/jobs/$JA/log?ws" bob-secret >"$W/ws" 2>&1
	eq "bob's WebSocket to alice's log: 404" "$(sed -n 's/^STATUS //p' "$W/ws")" 404
	"$W/ws_client" "$PORT" "/api/v1/jobs/$JA/log?ws" >"$W/ws" 2>&1
	eq "WebSocket without a token: 401" "$(sed -n 's/^STATUS //p' "$W/ws")" 401
	mv "$SPOOL/$JA.pending" "$SPOOL/$JA.completed"
	"$W/ws_client" "$PORT" "/api/v1/jobs/$JA/log?ws" alice-secret >"$W/ws" 2>&1
	eq "alice's WebSocket to her log: the line" \
		"$(grep '^MSG' "$W/ws")" "MSG 2 secret output"
	mv "$SPOOL/$JA.completed" "$SPOOL/$JA.pending"
else
	cat "$W/cc.err"
	fail "cannot compile ws_client.c"
fi

# the owner and the admin can
req GET "/api/v1/jobs/$JA?peek=1" -H "$A"
jq_eq "alice GETs her job" .id "$JA"
req GET "/api/v1/job/$JADD?peek=1" -H "$A"
jq_eq "alice GETs her add job (demo route)" .id "$JADD"
req GET "/api/v1/jobs/$JA/log" -H "$A"
eq "alice reads her log" "$BODY" "secret output"
req GET "/api/v1/batches/$CA?peek=1" -H "$A"
jq_eq "alice GETs her batch" .total 2
req GET "/api/v1/jobs/$JA?peek=1" -H "$R"
jq_eq "admin GETs alice's job" .id "$JA"
req PUT "/api/v1/jobs/$JB" -H "$R" -d '{"name":"by admin"}'
jq_eq "admin PUTs bob's job" .name "by admin"
jq_eq "the owner stays bob" .owner bob
req DELETE "/api/v1/jobs/$JB" -H "$R"
eq "admin DELETEs (cancels) bob's job 202" "$CODE" 202
jq_eq "cancel says who" .error "cancelled through the API by root"

# ---- Idempotency-Key is per token ----
req POST /api/v1/jobs -H "$A" -H 'Idempotency-Key: k-1' -d '{"shell":"echo 1"}'
eq "alice with a key: 201" "$CODE" 201
K1=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -H "$A" -H 'Idempotency-Key: k-1' -d '{"shell":"echo 1"}'
eq "alice retries: 200" "$CODE" 200
jq_eq "alice's retry answers the first job" .id "$K1"
req POST /api/v1/jobs -H "$B" -H 'Idempotency-Key: k-1' -d '{"shell":"echo 1"}'
eq "bob with alice's key: a new job 201" "$CODE" 201
K2=$(printf '%s' "$BODY" | jq -r .id)
check "bob's job is not alice's" test "$K2" != "$K1"
jq_eq "bob's job is his" .owner bob
# the same key with another body is another request: 422, nothing stored
req POST /api/v1/jobs -H "$A" -H 'Idempotency-Key: k-1' \
	-d '{ "shell" :
"echo 1" }'
eq "alice, same key and the same job spaced otherwise: 200" "$CODE" 200
jq_eq "... the first job again" .id "$K1"
before=$(spool_snapshot; ls -l --time-style=+%s.%N "$SPOOL/idem")
req POST /api/v1/jobs -H "$A" -H 'Idempotency-Key: k-1' -d '{"shell":"echo 2"}'
jerr "alice, same key, another body: 422 with a JSON error" 422
case $BODY in *"$K1"*) ok "the error names the key's job" ;;
*) fail "422 body: $BODY" ;; esac
eq "... the spool and idem/ unchanged" \
	"$(spool_snapshot; ls -l --time-style=+%s.%N "$SPOOL/idem")" "$before"
req POST /api/v1/jobs -H "$A" -H 'Idempotency-Key: k-1' -d '{"shell":"echo 1"}'
eq "the first body still replays: 200" "$CODE" 200
jq_eq "... with the first job" .id "$K1"

# ---- SIGHUP reloads tokens (from the config file) ----
printf '%s\n' 'token = alice:alice-secret' 'token = carol:carol-new' \
	'token = dave:dave-secret' 'max-body = 200' >"$CONF"
kill -HUP "$API_PID"
check "reload logged" wait_until 20 grep -q 'reloaded' "$API_LOG"
req GET /api/v1/jobs -H 'Authorization: Bearer dave-secret'
eq "a token added by SIGHUP works" "$CODE" 200
req GET /api/v1/jobs -H 'Authorization: Bearer carol-secret'
jerr "a secret changed by SIGHUP is refused" 401
req GET /api/v1/jobs -H 'Authorization: Bearer carol-new'
eq "the new secret works" "$CODE" 200
req GET /api/v1/jobs -H "$A"
eq "an unchanged token still works after SIGHUP" "$CODE" 200
req GET /api/v1/jobs -H "$B"
jerr "a token removed by SIGHUP is refused" 401
big=$(printf '{"shell":"true","description":"%s"}' "$(head -c 300 /dev/zero | tr '\0' x)")
req POST /api/v1/jobs -H "$A" -d "$big"
jerr "max-body = 200 from the config file after SIGHUP: 413" 413
printf 'token = broken\n' >"$CONF"
kill -HUP "$API_PID"
check "a bad reload is logged" wait_until 20 grep -q 'keeping the current' "$API_LOG"
req GET /api/v1/jobs -H 'Authorization: Bearer dave-secret'
eq "a bad config on SIGHUP keeps the old tokens" "$CODE" 200
check "server alive after SIGHUPs" kill -0 "$API_PID"
api_stop
finish
