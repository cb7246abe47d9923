#!/bin/sh
# jobspool-apiserver with JWT bearer tokens (issue 20): tokens made by
# python3 with only hmac/base64 are accepted when valid and refused with the
# right reason (JSON "reason", WWW-Authenticate error_description, counted
# in /metrics) when expired, not yet valid, tampered, alg none, alg HS512,
# signed with another secret, malformed; rotated secrets; --mint-token;
# minting through the API without escalation; revocation surviving a
# restart; ownership across subs; short secrets refused at start-up.
. "$(dirname "$0")/lib.sh"

new_spool
W=$(mktemp -d /tmp/jobspool-jwt.XXXXXX)
T_DIRS="$T_DIRS $W"
S1=first-secret-of-the-jwt-suite-0123456789
S2=second-secret-of-the-jwt-suite-987654321
printf '%s\n' "$S1" >"$W/sec"
chmod 600 "$W/sec"
NOW=$(date +%s)
# mk SECRET CLAIMS-JSON [ALG]: a JWT made with python3's hmac and base64 only
mk() {
	python3 - "$1" "$2" "${3:-HS256}" <<'PY'
import base64, hashlib, hmac, json, sys
secret, claims, alg = sys.argv[1].encode(), sys.argv[2], sys.argv[3]
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
head = b(json.dumps({"alg": alg, "typ": "JWT"}).encode())
body = b(claims.encode())
msg = (head + "." + body).encode()
if alg == "none":
    sig = ""
else:
    h = hashlib.sha512 if alg == "HS512" else hashlib.sha256
    sig = b(hmac.new(secret, msg, h).digest())
print(head + "." + body + "." + sig)
PY
}
# refused DESC TOKEN REASON: 401, that reason, WWW-Authenticate naming it
refused() {
	req GET /api/v1/jobs -H "Authorization: Bearer $2"
	jerr "$1: 401" 401
	jq_eq "$1: reason $3" .reason "$3"
	case $(header WWW-Authenticate) in
	*"error_description=\"$3\""*) ok "$1: WWW-Authenticate says $3" ;;
	*) fail "$1: WWW-Authenticate '$(header WWW-Authenticate)'" ;;
	esac
	case $BODY in *"$S1"*|*"$S2"*) fail "$1: the answer holds a secret" ;;
	*) ok "$1: no secret in the answer" ;; esac
}

# ---- start-up checks ----
printf 'short\n' >"$W/short"
chmod 600 "$W/short"
"$JS_BIN/jobspool-apiserver" --spool "$SPOOL" --jwt-secret-file "$W/short" \
	--listen 127.0.0.1:0 >/dev/null 2>"$W/err"
eq "a secret under 32 bytes: exit 2" "$?" 2
check "... saying why" grep -q 'fewer than the 32' "$W/err"
check "... without quoting it" sh -c "! grep -q short '$W/err' || grep -q 'secret has 5 bytes' '$W/err'"
cp "$W/sec" "$W/open"
chmod 644 "$W/open"
"$JS_BIN/jobspool-apiserver" --spool "$SPOOL" --jwt-secret-file "$W/open" \
	--listen 127.0.0.1:0 >/dev/null 2>"$W/err"
eq "a secret file others may read: exit 2" "$?" 2
"$JS_BIN/jobspool-apiserver" --mint-token bob >/dev/null 2>"$W/err"
eq "--mint-token without a secret file: exit 2" "$?" 2
"$JS_BIN/jobspool-apiserver" --jwt-secret-file "$W/sec" --mint-token 'b/b' \
	>/dev/null 2>"$W/err"
eq "--mint-token with a bad name: exit 2" "$?" 2

check "server starts with --jwt-secret-file" start_api --jwt-secret-file "$W/sec"

# ---- a token made by python3 alone ----
ALICE=$(mk "$S1" "{\"sub\":\"alice\",\"exp\":$((NOW + 600)),\"iat\":$NOW,\"jti\":\"py-1\"}")
BOB=$(mk "$S1" "{\"sub\":\"bob\",\"exp\":$((NOW + 600))}")
ADMIN=$(mk "$S1" "{\"sub\":\"root\",\"role\":\"admin\",\"exp\":$((NOW + 600)),\"jti\":\"adm-1\"}")
req POST /api/v1/jobs -H "Authorization: Bearer $ALICE" -d '{"shell":"true"}'
eq "python3's JWT submits: 201" "$CODE" 201
jq_eq "the job's owner is the sub" .owner alice
JA=$(printf '%s' "$BODY" | jq -r .id)
req GET "/api/v1/jobs/$JA?peek=1" -H "Authorization: Bearer $BOB"
jerr "another sub's job: 404" 404
req GET "/api/v1/jobs?limit=10" -H "Authorization: Bearer $BOB"
jq_eq "bob lists none of alice's jobs" '.jobs | length' 0
req GET "/api/v1/jobs/$JA?peek=1" -H "Authorization: Bearer $ADMIN"
jq_eq "a JWT with role admin sees alice's job" .id "$JA"
req POST /api/v1/workers/claim -H "Authorization: Bearer $ALICE" -d '{}'
eq "a JWT without role worker: 403 on the worker routes" "$CODE" 403

# ---- refusals, each with its reason ----
before=$(spool_snapshot)
refused "expired" "$(mk "$S1" "{\"sub\":\"alice\",\"exp\":$((NOW - 300))}")" expired
refused "future nbf" "$(mk "$S1" "{\"sub\":\"alice\",\"exp\":$((NOW + 900)),\"nbf\":$((NOW + 600))}")" not_yet_valid
refused "iat in the future" "$(mk "$S1" "{\"sub\":\"alice\",\"exp\":$((NOW + 900)),\"iat\":$((NOW + 600))}")" not_yet_valid
refused "alg none" "$(mk "$S1" "{\"sub\":\"alice\",\"exp\":$((NOW + 600))}" none)" unknown_algorithm
refused "alg HS512" "$(mk "$S1" "{\"sub\":\"alice\",\"exp\":$((NOW + 600))}" HS512)" unknown_algorithm
refused "wrong secret" "$(mk "$S2" "{\"sub\":\"alice\",\"exp\":$((NOW + 600))}")" bad_signature
# the claims of bob's token under alice's signature
H=${ALICE%%.*}; SIG=${ALICE##*.}; P=$(printf '%s' "$BOB" | cut -d. -f2)
refused "tampered claims" "$H.$P.$SIG" bad_signature
case $SIG in A*) T=B${SIG#?} ;; *) T=A${SIG#?} ;; esac
refused "tampered signature" "$H.$(printf '%s' "$ALICE" | cut -d. -f2).$T" bad_signature
refused "no exp" "$(mk "$S1" '{"sub":"alice"}')" malformed
refused "no sub" "$(mk "$S1" "{\"exp\":$((NOW + 600))}")" malformed
refused "role root" "$(mk "$S1" "{\"sub\":\"a\",\"role\":\"root\",\"exp\":$((NOW + 600))}")" malformed
refused "two parts" "a.b" unknown_token
refused "not base64" "a!.b.c" malformed
refused "a year's life (over --jwt-max-ttl)" "$(mk "$S1" "{\"sub\":\"alice\",\"exp\":$((NOW + 400 * 86400))}")" too_long_lived
eq "refused requests left the spool unchanged" "$(spool_snapshot)" "$before"
# within the skew (60 s): a token that expired 30 s ago still works (30 s
# before now, not before NOW: the cases above can take longer than that)
req GET /api/v1/jobs -H "Authorization: Bearer $(mk "$S1" "{\"sub\":\"alice\",\"exp\":$(($(date +%s) - 30))}")"
eq "expired 30 s ago, within --jwt-skew 60s: 200" "$CODE" 200
req GET /metrics
case $BODY in *'jobspool_auth_refusals_total{reason="expired"} 1'*) ok "metrics count expired" ;;
*) fail "metrics: $(printf '%s' "$BODY" | grep auth_refusals)" ;; esac
case $BODY in *'jobspool_auth_refusals_total{reason="bad_signature"} 3'*) ok "metrics count bad_signature" ;;
*) fail "metrics: $(printf '%s' "$BODY" | grep auth_refusals)" ;; esac
case $BODY in *'jobspool_auth_refusals_total{reason="unknown_algorithm"} 2'*) ok "metrics count unknown_algorithm" ;;
*) fail "metrics: $(printf '%s' "$BODY" | grep auth_refusals)" ;; esac

# ---- minting through the API ----
req POST /api/v1/tokens -H "Authorization: Bearer $ALICE" -d '{"ttl":"1m"}'
eq "alice mints a shorter token for herself: 201" "$CODE" 201
jq_eq "... for alice" .sub alice
jq_eq "... living 60 s" '.exp - .iat' 60
SHORT=$(printf '%s' "$BODY" | jq -r .token)
req GET "/api/v1/jobs/$JA?peek=1" -H "Authorization: Bearer $SHORT"
jq_eq "the minted token sees alice's job" .id "$JA"
req POST /api/v1/tokens -H "Authorization: Bearer $ALICE" -d '{"ttl":"2h"}'
jerr "alice asks for a longer life than hers: 403" 403
req POST /api/v1/tokens -H "Authorization: Bearer $ALICE" -d '{"role":"admin"}'
jerr "alice asks for role admin: 403" 403
req POST /api/v1/tokens -H "Authorization: Bearer $ALICE" -d '{"role":"worker"}'
jerr "alice asks for role worker: 403" 403
req POST /api/v1/tokens -H "Authorization: Bearer $ALICE" -d '{"sub":"bob"}'
jerr "alice mints for bob: 403" 403
req POST /api/v1/tokens -H "Authorization: Bearer $SHORT" -d '{"ttl":"5m"}'
jerr "the short token cannot mint a longer one: 403" 403
req POST /api/v1/tokens -H "Authorization: Bearer $ADMIN" \
	-d '{"sub":"carol","role":"worker","ttl":"10m"}'
eq "admin mints for carol with role worker: 201" "$CODE" 201
CAROL=$(printf '%s' "$BODY" | jq -r .token)
CJTI=$(printf '%s' "$BODY" | jq -r .jti)
eq "Location names the token" "$(header Location)" "/api/v1/tokens/$CJTI"
req POST /api/v1/workers/claim -H "Authorization: Bearer $CAROL" -d '{"wait":0}'
check "carol's worker JWT may claim (no 401/403)" test "$CODE" != 401 -a "$CODE" != 403

# ---- --mint-token, offline, from the same secret file ----
OFF=$("$JS_BIN/jobspool-apiserver" --jwt-secret-file "$W/sec" --mint-token dave:admin --ttl 1h)
eq "--mint-token exits 0" "$?" 0
req GET "/api/v1/jobs/$JA?peek=1" -H "Authorization: Bearer $OFF"
jq_eq "the offline admin token works" .id "$JA"
eq "... its exp is 1 h away" "$(printf '%s' "$OFF" | cut -d. -f2 | python3 -c '
import base64, json, sys
s = sys.stdin.read().strip(); c = json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
print(c["exp"] - c["iat"], c["sub"], c["role"])')" "3600 dave admin"

# ---- revocation, surviving a restart ----
req DELETE /api/v1/tokens/py-1 -H "Authorization: Bearer $ALICE"
jerr "alice cannot revoke: 403" 403
req DELETE /api/v1/tokens/py-1 -H "Authorization: Bearer $ADMIN"
eq "admin revokes alice's jti: 200" "$CODE" 200
check "the revocation is a file in the spool" sh -c "ls '$SPOOL/revoked/' | grep -q ."
refused "revoked" "$ALICE" revoked
req GET /api/v1/jobs -H "Authorization: Bearer $SHORT"
eq "a token minted from it has its own jti: still 200" "$CODE" 200
api_stop
check "server starts again" start_api --jwt-secret-file "$W/sec"
refused "revoked, after a restart" "$ALICE" revoked

# ---- rotation: a new first secret signs, the old one still verifies ----
printf '%s\n%s\n' "$S2" "$S1" >"$W/sec"
kill -HUP "$API_PID"
check "reload logged" wait_until 20 grep -q '2 JWT secret' "$API_LOG"
req GET /api/v1/jobs -H "Authorization: Bearer $BOB"
eq "rotated: a token of the old secret still works" "$CODE" 200
req GET /api/v1/jobs -H "Authorization: Bearer $(mk "$S2" "{\"sub\":\"bob\",\"exp\":$((NOW + 600))}")"
eq "rotated: a token of the new secret works" "$CODE" 200
req POST /api/v1/tokens -H "Authorization: Bearer $BOB" -d '{"ttl":60}'
NEW=$(printf '%s' "$BODY" | jq -r .token)
printf '%s\n' "$S2" >"$W/sec"
kill -HUP "$API_PID"
check "second reload logged" wait_until 20 sh -c "grep -c '1 JWT secret' '$API_LOG' | grep -q 1"
req GET /api/v1/jobs -H "Authorization: Bearer $NEW"
eq "a token minted after the rotation is signed by the new secret" "$CODE" 200
refused "the old secret dropped" "$BOB" bad_signature
api_stop
finish
