#!/bin/sh
# jobspool-apiserver over TLS: https with --tls-cert/--tls-key, and mutual
# TLS with --tls-client-ca (no client certificate, one from another CA, the
# right one).  Certificates are made at test time with certtool (gnutls-bin).
. "$(dirname "$0")/lib.sh"
API=$JS_BIN/jobspool-apiserver

if ! command -v certtool >/dev/null 2>&1; then
	skip_suite install "certtool is missing (apt-get install gnutls-bin)"
fi

new_spool
PKI=$(mktemp -d /tmp/jobspool-pki.XXXXXX)
T_DIRS="$T_DIRS $PKI"

# mkkey and mkcert (lib.sh) write into $PKI
CA_T='cn = "jobspool test CA"
ca
cert_signing_key'
SRV_T='cn = "localhost"
dns_name = "localhost"
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
check "certtool makes another CA" mkcert ca2 "$CA_T" ""
check "certtool makes a client certificate of the other CA" \
	mkcert other "$CLI_T" ca2

# ---- start-up checks ----
"$API" --spool "$SPOOL" --listen 127.0.0.1:0 --tls-cert "$PKI/srv.pem" \
	>/dev/null 2>&1
eq "--tls-cert without --tls-key exits 2" $? 2
"$API" --spool "$SPOOL" --listen 127.0.0.1:0 --tls-client-ca "$PKI/ca.pem" \
	>/dev/null 2>&1
eq "--tls-client-ca without a certificate exits 2" $? 2
"$API" --spool "$SPOOL" --listen 127.0.0.1:0 --tls-cert "$PKI/nope.pem" \
	--tls-key "$PKI/srv.key" >/dev/null 2>&1
eq "missing certificate file exits 2" $? 2
"$API" --spool "$SPOOL" --listen 127.0.0.1:0 --tls-cert "$PKI/srv.tmpl" \
	--tls-key "$PKI/srv.key" >/dev/null 2>&1
eq "a certificate file that is not PEM exits 1" $? 1

# ---- https ----
check "server starts with --tls-cert/--tls-key" start_api \
	--tls-cert "$PKI/srv.pem" --tls-key "$PKI/srv.key" --token u:s3cret
case $URL in https://127.0.0.1:*) ok "log says https: $URL" ;;
	*) fail "URL '$URL'" ;; esac
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	--cacert "$PKI/ca.pem" "$URL/healthz")
eq "https healthz 200 (curl --cacert)" "$code" 200
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	"$URL/healthz")
eq "curl without the CA refuses the server (not 200)" "$code" 000
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	"http://127.0.0.1:$PORT/healthz")
case $code in 200) fail "plain http answered 200 on the TLS port" ;;
	*) ok "plain http on the TLS port is not served ($code)" ;; esac
req POST /api/v1/jobs --cacert "$PKI/ca.pem" -H 'Authorization: Bearer s3cret' \
	-d '{"command":["true"]}'
eq "POST over https 201" "$CODE" 201
ID=$(printf '%s' "$BODY" | jq -r .id)
check "job file written" test -f "$SPOOL/$ID.pending"
req GET "/api/v1/jobs/$ID?peek=1" --cacert "$PKI/ca.pem"
eq "no token over https 401" "$CODE" 401
api_stop

# ---- mutual TLS ----
check "server starts with --tls-client-ca" start_api \
	--tls-cert "$PKI/srv.pem" --tls-key "$PKI/srv.key" \
	--tls-client-ca "$PKI/ca.pem"
before=$(spool_snapshot)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	--cacert "$PKI/ca.pem" "$URL/healthz")
eq "no client certificate: refused (no HTTP answer)" "$code" 000
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	--cacert "$PKI/ca.pem" -d '{"command":["true"]}' "$URL/api/v1/jobs")
eq "no client certificate: POST refused" "$code" 000
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	--cacert "$PKI/ca.pem" --cert "$PKI/other.pem" --key "$PKI/other.key" \
	"$URL/healthz")
case $code in 000|403) ok "certificate from another CA refused ($code)" ;;
	*) fail "certificate from another CA: $code" ;; esac
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	--cacert "$PKI/ca.pem" --cert "$PKI/other.pem" --key "$PKI/other.key" \
	-d '{"command":["true"]}' "$URL/api/v1/jobs")
case $code in 000|403) ok "another CA: POST refused ($code)" ;;
	*) fail "another CA: POST $code" ;; esac
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	--cacert "$PKI/ca.pem" --cert "$PKI/ca2.pem" --key "$PKI/ca2.key" \
	"$URL/healthz")
case $code in 000|403) ok "a self-signed client certificate refused ($code)" ;;
	*) fail "self-signed client certificate: $code" ;; esac
eq "refused clients left the spool unchanged" "$(spool_snapshot)" "$before"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	--cacert "$PKI/ca.pem" --cert "$PKI/cli.pem" --key "$PKI/cli.key" \
	"$URL/healthz")
eq "the right client certificate: healthz 200" "$code" 200
req POST /api/v1/jobs --cacert "$PKI/ca.pem" --cert "$PKI/cli.pem" \
	--key "$PKI/cli.key" -d '{"shell":"echo mtls"}'
eq "the right client certificate: POST 201" "$CODE" 201
ID=$(printf '%s' "$BODY" | jq -r .id)
check "its job file is written" test -f "$SPOOL/$ID.pending"
req GET "/api/v1/jobs/$ID?peek=1" --cacert "$PKI/ca.pem" --cert "$PKI/cli.pem" \
	--key "$PKI/cli.key"
jq_eq "the right client certificate: GET the job" .id "$ID"
# several requests on one kept-alive TLS connection
n=$(curl -s --max-time 20 --cacert "$PKI/ca.pem" --cert "$PKI/cli.pem" \
	--key "$PKI/cli.key" "$URL/healthz" "$URL/healthz" "$URL/healthz" |
	grep -c '"ok"')
eq "three requests on one mutual-TLS connection" "$n" 3
api_stop
finish
