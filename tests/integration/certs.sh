#!/bin/sh
# jobspool-certs (scripts/jobspool-certs, make certs): a private CA, a
# server certificate for the names and addresses given, client and worker
# certificates; keys mode 0600; nothing overwritten on a second run.  Then
# what it made serves: the apiserver with TLS and mutual TLS, curl with a
# client certificate, and a remote processor with a worker certificate
# (and a worker JWT) running a job.
. "$(dirname "$0")/lib.sh"

command -v certtool >/dev/null 2>&1 ||
	skip_suite install "certtool is missing (apt-get install gnutls-bin)"
CERTS="$(cd "$(dirname "$0")/../.." && pwd)/scripts/jobspool-certs"
new_spool
W=$(mktemp -d /tmp/jobspool-certs.XXXXXX)
T_DIRS="$T_DIRS $W"
D=$W/tls

sh "$CERTS" -d "$D" --server localhost --server 127.0.0.1 --client alice \
	--worker gpu1 >"$W/out" 2>&1
eq "jobspool-certs exits 0" "$?" 0
for f in ca server client-alice worker-gpu1; do
	check "$f.pem made" test -s "$D/$f.pem"
	eq "$f-key.pem is mode 600" "$(stat -c %a "$D/$f-key.pem")" 600
done
eq "the directory is mode 700" "$(stat -c %a "$D")" 700
check "the server certificate names localhost and 127.0.0.1" sh -c \
	"certtool -i --infile '$D/server.pem' | grep -q 'DNSname: localhost' &&
	certtool -i --infile '$D/server.pem' | grep -q 'IPAddress: 127.0.0.1'"
check "the client certificate is signed by the CA" sh -c \
	"cat '$D/client-alice.pem' '$D/ca.pem' | certtool --verify-chain >/dev/null 2>&1"
before=$(ls -li --time-style=+%s.%N "$D" | md5sum)
sh "$CERTS" -d "$D" --server localhost --client alice --client bob >"$W/out2" 2>&1
eq "a second run exits 0" "$?" 0
check "... keeps what exists" grep -q 'kept .*ca.pem' "$W/out2"
check "... adds bob" test -s "$D/client-bob.pem"
rm -f "$D/client-bob.pem" "$D/client-bob-key.pem"
eq "... without touching the others" "$(ls -li --time-style=+%s.%N "$D" | md5sum)" "$before"
sh "$CERTS" -d "$D" --client 'bad/name' >/dev/null 2>&1
eq "a bad name: exit 2" "$?" 2

# ---- serving with them ----
head -c 48 /dev/urandom | base64 >"$W/jwt"
chmod 600 "$W/jwt"
check "apiserver starts with TLS and mutual TLS" start_api \
	--tls-cert "$D/server.pem" --tls-key "$D/server-key.pem" \
	--tls-client-ca "$D/ca.pem" --jwt-secret-file "$W/jwt" \
	--token alice:alice-secret
URL=https://localhost:$PORT
C="--cacert $D/ca.pem --cert $D/client-alice.pem --key $D/client-alice-key.pem"
req GET /api/v1/jobs $C -H 'Authorization: Bearer alice-secret'
eq "curl with alice's certificate: 200" "$CODE" 200
req GET /api/v1/jobs --cacert "$D/ca.pem" -H 'Authorization: Bearer alice-secret'
check "curl without a client certificate is refused" test "$CODE" != 200
WT=$("$JS_BIN/jobspool-apiserver" --jwt-secret-file "$W/jwt" --mint-token gpu1:worker --ttl 10m)
printf '%s\n' "$WT" >"$W/wtoken"
chmod 600 "$W/wtoken"
mkdir "$W/work"
"$JS_BIN/jobspool-processor" --spool "$W/work" --server "$URL" \
	--tls-ca "$D/ca.pem" --tls-cert "$D/worker-gpu1.pem" \
	--tls-key "$D/worker-gpu1-key.pem" --token-file "$W/wtoken" -j 1 \
	2>"$W/proc.log" &
PP=$!
T_PIDS="$T_PIDS $PP"
req POST /api/v1/jobs $C -H 'Authorization: Bearer alice-secret' \
	-d '{"shell":"echo over mutual TLS"}'
eq "alice submits over mutual TLS: 201" "$CODE" 201
ID=$(printf '%s' "$BODY" | jq -r .id)
check "the remote processor (worker certificate, worker JWT) completes it" \
	wait_until 30 test -f "$SPOOL/$ID.completed"
req GET "/api/v1/jobs/$ID/log" $C -H 'Authorization: Bearer alice-secret'
eq "its log" "$BODY" "over mutual TLS"
stop_pid "$PP"
api_stop
finish
