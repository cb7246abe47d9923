#!/bin/sh
# make run: starts jobspool-apiserver (127.0.0.1 only) and jobspool-processor
# on ./spool, prints the URL and a curl example, and stops both on Ctrl-C.
#
#   sh scripts/run.sh [BUILD_DIR]        (BUILD_DIR defaults to build)
#
# Environment:
#   PORT             port to listen on (default 8080)
#   JOBSPOOL_SPOOL   spool directory (default ./spool, created 0750)
#   JOBSPOOL_TOKENS  NAME:SECRET[:admin],...; if unset a random admin token
#                    is made for this run and printed
B=${1:-build}
PORT=${PORT:-8080}
HOST=127.0.0.1
SPOOL=${JOBSPOOL_SPOOL:-./spool}
URL="http://$HOST:$PORT"
API_PID="" PROC_PID=""

say() { printf '%s\n' "jobspool: $*" >&2; }
die() { say "$*"; stop; exit 1; }

stop() {
	trap - INT TERM
	for p in $API_PID $PROC_PID; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $API_PID $PROC_PID; do
		wait "$p" 2>/dev/null
	done
	API_PID="" PROC_PID=""
}

for p in jobspool-apiserver jobspool-processor; do
	[ -x "$B/$p" ] || { say "$B/$p is not built; run 'make' first"; exit 1; }
done
command -v curl >/dev/null 2>&1 ||
	{ say "curl is needed for the example (apt-get install curl)"; }

if [ ! -d "$SPOOL" ]; then
	mkdir -m 0750 -p "$SPOOL" || { say "cannot create $SPOOL"; exit 1; }
fi
# a checkout may leave the spool 0755; jobs belong to this user only
chmod go-w "$SPOOL" 2>/dev/null

if [ -z "${JOBSPOOL_TOKENS:-}" ]; then
	secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	[ -n "$secret" ] || { say "cannot read /dev/urandom"; exit 1; }
	JOBSPOOL_TOKENS="admin:$secret:admin"
	export JOBSPOOL_TOKENS
	made=" (made for this run; set JOBSPOOL_TOKENS=name:secret[:admin] to choose one)"
else
	first=${JOBSPOOL_TOKENS%%,*}
	secret=${first#*:}
	secret=${secret%%:*}
	made=" (the first of JOBSPOOL_TOKENS)"
fi

# the id of the submitted job, from its JSON
if command -v jq >/dev/null 2>&1; then
	getid="jq -r '.id // error(.error)'"
else
	getid="sed -n 's/.*\"id\": *\"\\([0-9a-f-]*\\)\".*/\\1/p'"
fi

# a server already on the port would answer for us below
if curl -s -o /dev/null "$URL/" 2>/dev/null; then
	say "something already listens on $URL; choose another port: make run PORT=8081"
	exit 1
fi

trap 'say "stopping"; stop; exit 0' INT TERM

"$B/jobspool-apiserver" --spool "$SPOOL" --listen "$HOST:$PORT" &
API_PID=$!
"$B/jobspool-processor" --spool "$SPOOL" &
PROC_PID=$!

# wait until the apiserver answers (or died: port taken, bad spool)
i=0
until curl -s -o /dev/null "$URL/healthz" 2>/dev/null; do
	kill -0 "$API_PID" 2>/dev/null ||
		{ API_PID=""; die "jobspool-apiserver did not start (see above)"; }
	i=$((i + 1))
	[ "$i" -lt 100 ] || die "jobspool-apiserver does not answer on $URL"
	sleep 0.1
done

cat <<EOF

jobspool is running: API on $URL, spool $SPOOL
token: $secret$made

Submit a job, follow its output, then fetch the result (that marks it
retrieved; the cleaner removes it an hour later):

  export TOKEN=$secret
  ID=\$(curl -sS --fail-with-body -H "Authorization: Bearer \$TOKEN" \\
       -d '{"shell": "echo hello from jobspool"}' $URL/api/v1/jobs |
       $getid)
  curl -sS --fail-with-body -H "Authorization: Bearer \$TOKEN" "$URL/api/v1/jobs/\$ID/log?follow=1"
  curl -sS --fail-with-body -H "Authorization: Bearer \$TOKEN" "$URL/api/v1/jobs/\$ID"

More in README.md ("Walk-through") and man 7 jobspool.

Look at the spool itself:  ls -l $SPOOL   (man 5 jobspool)
Press Ctrl-C to stop both programs.

EOF

while :; do
	if ! kill -0 "$API_PID" 2>/dev/null; then
		wait "$API_PID"; rc=$?; API_PID=""
		die "jobspool-apiserver exited (status $rc)"
	fi
	if ! kill -0 "$PROC_PID" 2>/dev/null; then
		wait "$PROC_PID"; rc=$?; PROC_PID=""
		die "jobspool-processor exited (status $rc)"
	fi
	sleep 1
done
