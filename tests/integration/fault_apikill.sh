#!/bin/sh
# Fault injection: kill -9 of the apiserver during submission bursts.
# Each round starts the apiserver, runs several concurrent curl clients that
# submit jobs (single jobs, batches and the demo route) and record every id
# they got a 201 for, and kills the server with SIGKILL at a random moment.
# After the rounds:
#   - every job a client got a 201 for exists as <id>.pending, valid JSON,
#     with its id, and the restarted server answers it;
#   - no partial file outside tmp/ (every state file is valid JSON);
#   - tmp/ leftovers are removed by jobspool-cleaner --tmp-age;
#   - a processor runs every job to a final state.
. "$(dirname "$0")/lib.sh"

ROUNDS=${APIKILL_ROUNDS:-5}
CLIENTS=${APIKILL_CLIENTS:-4}
new_spool
WORK=$(mktemp -d /tmp/jobspool-work.XXXXXX)
T_DIRS="$T_DIRS $WORK"

# client N: submits, 40 requests per curl process (keep-alive), until the
# server is gone; records the ids of every 201 in ids.N, anything else but
# "000" (no connection) in other
client() {
	c_cfg=$WORK/curl.$1
	c_n=0
	while [ "$c_n" -lt 2000 ]; do
		: >"$c_cfg"
		c_i=0
		while [ "$c_i" -lt 40 ]; do
			c_i=$((c_i + 1)) c_n=$((c_n + 1))
			case $((c_n % 10)) in
			0) printf 'url = "%s/api/v1/batches"\ndata = "%s"\n' "$URL" \
				'{\"jobs\":[{\"command\":[\"true\"]},{\"shell\":\"true\"},{\"command\":[\"true\"]}]}' ;;
			5) printf 'url = "%s/api/v1/add/%s/%s"\nrequest = "POST"\n' \
				"$URL" "$c_n" "$c_i" ;;
			*) printf 'url = "%s/api/v1/jobs"\ndata = "%s"\n' "$URL" \
				"{\\\"command\\\":[\\\"true\\\"],\\\"name\\\":\\\"c$c_n\\\",\\\"metadata\\\":{\\\"pad\\\":\\\"$PAD\\\"}}" ;;
			esac >>"$c_cfg"
			printf 'header = "Content-Type: application/json"\nsilent\nmax-time = 20\nwrite-out = "\\n@@%%{http_code}\\n"\nnext\n' >>"$c_cfg"
		done
		curl -K "$c_cfg" 2>/dev/null | awk '
			/^@@/ { print substr($0, 3) "\t" last; last = ""; next }
			$0 != "" { last = $0 }' >"$c_cfg.out"
		awk -F '\t' '$1 == "201" { print $2 }' "$c_cfg.out" |
			jq -R -r 'fromjson? | if has("jobs") then .jobs[] else .id end' \
			>>"$WORK/ids.$1"
		awk -F '\t' '$1 != "201" && $1 != "000"' "$c_cfg.out" >>"$WORK/other"
		grep -q '^000' "$c_cfg.out" && break	# the server is gone
	done
}

# a few KiB per job so that a kill can land in the middle of a write
PAD=$(head -c 3000 /dev/zero | tr '\0' 'p')
: >"$WORK/other"
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	r=$((r + 1))
	start_api || { fail "apiserver starts (round $r)"; finish; }
	cpids=""
	c=0
	while [ "$c" -lt "$CLIENTS" ]; do
		c=$((c + 1))
		client "$r.$c" &
		cpids="$cpids $!"
	done
	# let the burst run 0.2 .. 0.7 s, then SIGKILL the server
	sleep "$(awk -v s="$(od -An -N2 -tu2 /dev/urandom)" \
		'BEGIN { printf "%.2f", 0.2 + (s % 50) / 100 }')"
	kill -9 "$API_PID"
	wait "$API_PID" 2>/dev/null
	for p in $cpids; do wait "$p"; done
	if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
	    "$API_LOG"; then
		cat "$API_LOG"
		fail "apiserver sanitizer report (round $r)"
	fi
done
cat "$WORK"/ids.* 2>/dev/null | sort >"$WORK/ids"
got=$(wc -l <"$WORK/ids")
echo "# $ROUNDS rounds, $got jobs acknowledged with 201"
check "clients got 201s before the kills ($got)" [ "$got" -ge $((ROUNDS * 10)) ]
eq "no answer other than 201 while the server was up" \
	"$(head -n 5 "$WORK/other")" ""
eq "every acknowledged id is unique" "$(uniq -d "$WORK/ids" | wc -l)" 0

# every acknowledged job exists, complete.  One line per spool file:
# "OK <file id> <json id> <status>" or "BAD <file>" (partial, not JSON,
# or more than one line)
scan_pending() {
	awk '{ print FILENAME "\t" FNR "\t" $0 }' "$SPOOL"/*.pending |
	jq -R -r 'split("\t") | .[0] as $f | .[1] as $n |
		(.[2:] | join("\t")) as $j |
		($f | sub(".*/"; "") | sub("\\.pending$"; "")) as $id |
		if $n != "1" then "BAD \($f)" else
		(($j | fromjson? | "OK \($id) \(.id) \(.status)") // "BAD \($f)")
		end'
}
scan_pending >"$WORK/scan"
pending=$(ls "$SPOOL" | grep -c '\.pending$')
eq "every .pending in the spool is one line of valid JSON" \
	"$(grep -v '^OK ' "$WORK/scan" | head -n 5)" ""
eq "every .pending was scanned" "$(grep -c '^OK ' "$WORK/scan")" "$pending"
eq "every .pending holds its own id, status pending" \
	"$(awk '$1 == "OK" && ($2 != $3 || $4 != "pending")' "$WORK/scan" | head -n 5)" ""
awk '$1 == "OK" { print $2 }' "$WORK/scan" | sort >"$WORK/present"
eq "every job with a 201 exists as .pending" \
	"$(comm -23 "$WORK/ids" "$WORK/present" | head -n 5)" ""
eq "no stray file outside tmp/" "$(ls -A "$SPOOL" | grep -v -E \
	'^([0-9a-f-]{36}\.(pending|log)|tmp|jobs\.lock|cleaner\.lock|idem)$')" ""
echo "# $pending .pending files ($((pending - got)) submitted without a 201 reaching the client)"

# tmp/: what the kills left behind (plus one planted leftover, so that the
# cleaner always has something to remove) goes with a small --tmp-age
left=$(ls -A "$SPOOL/tmp" | wc -l)
echo "# $left leftover file(s) in tmp/ after the kills"
printf '{"command":["tr' >"$SPOOL/tmp/planted.tmp"
touch -d '-1 minute' "$SPOOL/tmp"/* 2>/dev/null
"$JS_BIN/jobspool-cleaner" --spool "$SPOOL" --tmp-age 30s >"$WORK/cleaner.out" 2>&1
eq "cleaner exits 0" "$?" 0
eq "tmp/ leftovers removed by the cleaner" "$(ls -A "$SPOOL/tmp")" ""
eq "the cleaner left every pending job alone" \
	"$(ls "$SPOOL" | grep -c '\.pending$')" "$pending"

# the restarted server knows every acknowledged job
start_api || { fail "apiserver restarts"; finish; }
nf=0
for id in $(head -n 50 "$WORK/ids"); do
	req GET "/api/v1/jobs/$id"
	[ "$CODE" = 200 ] || nf=$((nf + 1))
done
eq "the restarted server answers acknowledged jobs" "$nf" 0

# and a processor runs every one of them
PLOG=$WORK/proc.log
"$JS_BIN/jobspool-processor" --spool "$SPOOL" -j 2 --user root \
	--scan-interval 500ms 2>>"$PLOG" &
PROC_PID=$!
T_PIDS="$T_PIDS $PROC_PID"
drained() { ! ls "$SPOOL" | grep -q -E '\.(pending|wip)$'; }
check "processor drains the spool" wait_until 100 drained
(cd "$SPOOL" && ls | sed -n "s/\\.completed\$//p") | sort >"$WORK/completed"
eq "every acknowledged job completed" \
	"$(comm -23 "$WORK/ids" "$WORK/completed" | wc -l)" 0
kill -TERM "$PROC_PID"
wait "$PROC_PID"
eq "processor exits 0" "$?" 0
api_stop
finish
