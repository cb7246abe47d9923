#!/bin/sh
# scripts/image-run.sh IMAGE SPOOL PORT (make image-run): starts the
# apiserver and a processor from the jobspool image on 127.0.0.1:PORT with
# the host directory SPOOL as the spool, a JWT secret in SPOOL/../jwt.secret
# (made if missing, mode 600), prints an admin token and a curl line; Ctrl-C
# (or SIGTERM) stops both containers.
set -eu
IMAGE=$1 SPOOL=$2 PORT=$3
P="podman --runtime runc"
command -v podman >/dev/null 2>&1 || P=docker
# the rlimits podman may set here (its defaults can be refused)
LIM="--ulimit nofile=1024:4096 --ulimit nproc=1024:4096"
mkdir -p "$SPOOL"
chmod 0750 "$SPOOL"
SPOOL=$(cd "$SPOOL" && pwd)
SECRET=$(dirname "$SPOOL")/jwt.secret
if [ ! -f "$SECRET" ]; then
	(umask 077; head -c 48 /dev/urandom | base64 >"$SECRET")
fi
U="$(id -u):$(id -g)"
NAME=jobspool-$$
# shellcheck disable=SC2086
TOKEN=$($P run --rm $LIM --user "$U" -v "$SECRET:/etc/jobspool/jwt.secret:ro" \
	"$IMAGE" --jwt-secret-file /etc/jobspool/jwt.secret --mint-token admin:admin --ttl 1d)
stop() { $P rm -f -t 5 "$NAME-api" "$NAME-proc" >/dev/null 2>&1 || true; }
trap 'stop; exit 0' INT TERM
# shellcheck disable=SC2086
$P run -d --name "$NAME-api" --network host $LIM --user "$U" \
	-v "$SPOOL:/spool" -v "$SECRET:/etc/jobspool/jwt.secret:ro" "$IMAGE" \
	--spool /spool --listen "127.0.0.1:$PORT" \
	--jwt-secret-file /etc/jobspool/jwt.secret >/dev/null
# shellcheck disable=SC2086
$P run -d --name "$NAME-proc" --network host $LIM --user "$U" \
	-v "$SPOOL:/spool" --entrypoint /usr/bin/jobspool-processor "$IMAGE" \
	--spool /spool >/dev/null
cat <<MSG
jobspool from $IMAGE on http://127.0.0.1:$PORT, spool $SPOOL
an admin token for a day:
  TOKEN=$TOKEN
  curl -sS -H "Authorization: Bearer \$TOKEN" -d '{"shell":"echo hello"}' http://127.0.0.1:$PORT/api/v1/jobs
Ctrl-C stops both containers.
MSG
$P logs -f "$NAME-api" &
wait
