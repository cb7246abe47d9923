#!/bin/sh
# jobspool-apiserver out of memory: the server runs with failalloc.c
# preloaded, and for each of several requests the suite makes the 1st, 2nd,
# 3rd ... allocation after the request is armed fail, until the request no
# longer reaches the armed one.  Asserted: the server keeps running; no
# 5xx but 503, and a 503 is a JSON error; each route answers "out of
# memory" at least once (its error answer is really sent); a request that
# reads leaves the spool as it was; tmp/ stays empty; every job file in the
# spool is a whole job (jansson's json_dumps once stored a job with a key
# left out); once memory is back every request works again; a request
# whose answer cannot change answers, whenever it answers normally, exactly
# what it answers with nothing failing (jansson 2.14 drops a character of
# a string token, or a member in json_copy, when one of its allocations
# fails, and goes on: lib/job's js_json_nomem notes it; a pending job's
# "waiting" and a batch's inline logs were left out); a failed allocation
# is answered 503 or by a closed connection (a streamed answer cut short),
# never by another status (404 "no job", 400 "a job needs one of..." for a
# batch that is fine).  OOM_WHOLE=0 and OOM_STRICT=0 only count the
# answers that are not whole, and the other statuses ("# other answer",
# "# wrong status" lines).  OOM_ONLY=text sweeps only the requests whose
# description holds text.
# AddressSanitizer's runtime aborts when an allocation fails while it
# starts a thread (pthread_getattr_np), so given a sanitizer build (make
# check) the suite builds the apiserver again without sanitizers, in its
# temporary directory, and sweeps that one.
. "$(dirname "$0")/lib.sh"

W=$(mktemp -d /tmp/jobspool-oom.XXXXXX)
T_DIRS="$T_DIRS $W"
if ! cc -O1 -shared -fPIC -o "$W/failalloc.so" \
    "$(dirname "$0")/failalloc.c" -ldl 2>"$W/cc.err"; then
	cat "$W/cc.err"
	skip_suite install "cannot build the failalloc.c shim (cc)"
fi
CTL=$W/ctl
printf '%08d %08d.' 0 0 >"$CTL"
GEN=0
# arm N: the N-th allocation from now fails (0: none)
arm() {
	GEN=$((GEN + 1))
	printf '%08d %08d.' "$GEN" "$1" 1<>"$CTL"
}
fired() { IFS= read -r f_l <"$CTL"; [ "${f_l#*.}" != "$f_l" ] && return 1
	[ "${f_l%F}" != "$f_l" ]; }
UA="Authorization: Bearer us3r"
AA="Authorization: Bearer adm1n"
WA="Authorization: Bearer w0rker"
# snap: the spool's files (but the lock file) with their contents' hashes
snap() {
	(cd "$SPOOL" && find . -type f ! -name jobs.lock | LC_ALL=C sort |
		while read -r s_f; do
			echo "$s_f $(sha256sum <"$s_f" | cut -c1-16)"
		done)
}

# sreq METHOD PATH [curl args]: req, and CUT=yes when curl failed after
# the status line came (a streamed answer cut short: the connection closed
# before its end, which the client sees as an error, not as an answer)
sreq() {
	s_m=$1 s_p=$2; shift 2
	CUT=no
	CODE=$(curl -s -g -o "$W/body" -w '%{http_code}' --max-time 20 \
		-X "$s_m" "$@" "$URL$s_p") || CUT=yes
	BODY=$(cat "$W/body")
}

# where_differ A B: the 60 bytes of each from a little before the first
# byte where they differ
where_differ() {
	printf '%s' "$1" >"$W/a"
	printf '%s' "$2" >"$W/b"
	w_at=$(cmp "$W/a" "$W/b" 2>/dev/null | sed -n 's/.* byte \([0-9]*\),.*/\1/p')
	w_at=${w_at:-$(($(wc -c <"$W/a") + 1))}
	w_from=$((w_at > 20 ? w_at - 20 : 1))
	echo "at byte $w_at: '$(tail -c +"$w_from" "$W/a" | head -c 60)'" \
		"became '$(tail -c +"$w_from" "$W/b" | head -c 60)'"
}

# sweep DESC OK-STATUSES READS METHOD PATH [curl args]: the request with
# the 1st, 2nd, ... allocation failing.  OK-STATUSES: the normal answers
# ("200" or "200|201"); READS: yes if the spool must not change, same if
# also each normal answer must be the answer with nothing failing.
WRONG=0
sweep() {
	case $1 in *"${OOM_ONLY:-}"*) ;; *) return 0 ;; esac
	s_desc=$1 s_ok="|$2|" s_reads=$3; shift 3
	s_n=0 s_good=0 s_oom=0 s_closed=0 s_bad="" s_wrong=0 s_diff=0
	s_before=$(snap)
	if [ "$s_reads" = same ]; then
		req "$@"
		s_want=$BODY
	fi
	while [ "$s_n" -lt 3000 ]; do
		s_n=$((s_n + 1))
		arm "$s_n"
		sreq "$@"
		s_fired=no
		fired && s_fired=yes
		arm 0
		[ "$CUT" = yes ] && [ "$CODE" != 000 ] && CODE=cut
		case $s_ok in
		*"|$CODE|"*) s_good=$((s_good + 1))
			if [ "$s_reads" = same ] && [ "$BODY" != "$s_want" ]; then
				s_diff=$((s_diff + 1))
				echo "# other answer: $s_desc, allocation $s_n:" \
					"$(where_differ "$s_want" "$BODY")"
			fi ;;
		*)
		case $CODE in
		000|cut) s_closed=$((s_closed + 1)) ;;
		503)	if printf '%s' "$BODY" |
			    jq -e '.error | type == "string"' >/dev/null 2>&1
			then
				case $BODY in *"out of memory"*)
					s_oom=$((s_oom + 1)) ;; esac
			else
				s_bad="$s_bad
  allocation $s_n: 503 without a JSON error: $(printf '%s' "$BODY" |
	head -c 200)"
			fi ;;
		5*)	s_bad="$s_bad
  allocation $s_n: $CODE $(printf '%s' "$BODY" | head -c 200)" ;;
		*)	s_wrong=$((s_wrong + 1))
			echo "# wrong status: $s_desc, allocation $s_n: $CODE" \
				"$(printf '%s' "$BODY" | head -c 160)" ;;
		esac ;;
		esac
		[ "$s_fired" = yes ] || break	# it needs fewer allocations
	done
	echo "# $s_desc: $s_n allocations tried: $s_good normal answers," \
		"$s_oom out of memory, $s_closed closed, $s_wrong other statuses"
	if [ -z "$s_bad" ]; then
		ok "$s_desc: no 5xx but 503, each a JSON error"
	else
		fail "$s_desc: other 5xx answers:$s_bad"
	fi
	check "$s_desc: the server is running" kill -0 "$API_PID"
	if [ "$s_oom" -gt 0 ]; then
		ok "$s_desc: 'out of memory' answered ($s_oom times)"
	else
		fail "$s_desc: never answered 'out of memory'"
	fi
	case $s_ok in *"|$CODE|"*) ok "$s_desc: normal once nothing fails" ;;
		*) fail "$s_desc: the last try, with nothing failing: $CODE" ;; esac
	if [ "$s_reads" = same ] && [ "${OOM_WHOLE:-1}" = 1 ]; then
		eq "$s_desc: every normal answer is the whole answer (none with \
a part left out)" "$s_diff" 0
	elif [ "$s_reads" = same ]; then
		echo "# $s_desc: $s_diff normal answers not the whole answer" \
			"(OOM_WHOLE=0: not a failure)"
	fi
	[ "$s_reads" != no ] && eq "$s_desc: spool unchanged" "$(snap)" \
		"$s_before"
	check "$s_desc: tmp/ is empty" [ -z "$(ls "$SPOOL/tmp")" ]
	WRONG=$((WRONG + s_wrong))
}

new_spool
mkdir -m 0770 "$SPOOL/tmp"
ASAN=no
if ldd "$JS_BIN/jobspool-apiserver" 2>/dev/null | grep -q libasan ||
    nm "$JS_BIN/jobspool-apiserver" 2>/dev/null | grep -q __asan_init; then
	# AddressSanitizer's runtime aborts when an allocation fails while it
	# starts a thread (pthread_getattr_np): this suite builds the same
	# sources without sanitizers for its apiserver
	if nice make -s -C "$(dirname "$0")/../.." B="$W/build" \
	    CFLAGS="-O1 -g" "$W/build/jobspool-apiserver" >"$W/make.log" 2>&1
	then
		JS_BIN=$W/build
	else
		cat "$W/make.log"
		ASAN=yes
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
		export ASAN_OPTIONS
	fi
fi
LD_PRELOAD=$W/failalloc.so FAILALLOC_CTL=$CTL
export LD_PRELOAD FAILALLOC_CTL
start_api --token u:us3r --token w:w0rker:worker --token a:adm1n:admin \
	--lease 1h
st=$?
unset LD_PRELOAD FAILALLOC_CTL
[ "$st" -eq 0 ] || { fail "the apiserver starts with failalloc.so"; finish; }
ok "the apiserver starts with failalloc.so"
req POST /api/v1/jobs -H "$UA" -d '{"shell":"echo w"}'
req POST /api/v1/workers/claim -H "$WA" -d '{"wait":0}'
JW=$(printf '%s' "$BODY" | jq -r '.job.id // empty')
GW=$(printf '%s' "$BODY" | jq -r '.lease.token // empty')
check "with nothing failing, a worker claims a job" test -n "$JW" -a -n "$GW"
req POST /api/v1/batches -H "$UA" \
	-d '{"jobs":[{"shell":"echo a"},{"shell":"echo b"}]}'
eq "with nothing failing, a batch of two: 201" "$CODE" 201
CID=$(printf '%s' "$BODY" | jq -r .correlation_id)
J1=$(printf '%s' "$BODY" | jq -r '.jobs[0]')
printf 'line 1\nline 2\n' >"$SPOOL/$J1.log"

if [ "$ASAN" = yes ]; then
	fail "the allocation sweeps need an apiserver built without \
AddressSanitizer, and building one failed (see above)"
else
	sweep "GET a job" 200 same GET "/api/v1/jobs/$J1" -H "$UA"
	sweep "GET the job list" 200 same GET "/api/v1/jobs" -H "$UA"
	sweep "GET a batch" 200 same GET "/api/v1/batches/$CID?peek=1&logs=1" \
		-H "$UA"
	sweep "GET a batch's log" 200 same GET "/api/v1/batches/$CID/log" \
		-H "$UA"
	sweep "GET /metrics" 200 yes GET /metrics
	sweep "PUT a job's name" 200 no PUT "/api/v1/jobs/$J1" -H "$UA" \
		-d '{"name":"renamed"}'
	sweep "POST a job with an Idempotency-Key" "201|200" no POST \
		/api/v1/jobs -H "$UA" -H 'Idempotency-Key: k-oom' \
		-d '{"shell":"echo c"}'
	sweep "POST a batch" 201 no POST /api/v1/batches -H "$UA" \
		-d '{"jobs":[{"shell":"echo d"}]}'
	sweep "POST an NDJSON batch" 201 no POST /api/v1/batches -H "$UA" \
		-H 'Content-Type: application/x-ndjson' \
		--data-binary "$(printf '{"shell":"echo e"}\n{"shell":"echo f"}')"
	sweep "POST /api/v1/add" 201 no POST /api/v1/add/2/3 -H "$UA"
	sweep "GET a job's log" 200 same GET "/api/v1/jobs/$J1/log" -H "$UA"
	sweep "GET /api/v1/pause" 200 same GET /api/v1/pause -H "$AA"
	sweep "PUT /api/v1/pause/gpu" 200 no PUT /api/v1/pause/gpu -H "$AA"
	sweep "GET /api/v1/processors" 200 same GET /api/v1/processors -H "$AA"
	sweep "GET /healthz" 200 yes GET /healthz
	sweep "a worker's heartbeat" 200 no POST \
		"/api/v1/workers/jobs/$JW/heartbeat" -H "$WA" -d "{\"token\":$GW}"
	if [ "${OOM_STRICT:-1}" = 1 ]; then
		eq "no answer but 503 to a failed allocation (see the '# wrong \
status' lines above)" "$WRONG" 0
	else
		echo "# $WRONG answers with another status than 503 under a" \
			"failed allocation (OOM_STRICT=0: not a failure)"
	fi
fi

# every job file still reads as a job
bad=""
for f in "$SPOOL"/*.pending "$SPOOL"/*.wip; do
	[ -e "$f" ] || continue
	jq -e '.id | type == "string"' "$f" >/dev/null 2>&1 || bad="$bad $f"
done
eq "every job file is a whole job" "$bad" ""
req GET "/api/v1/jobs/$J1" -H "$UA"
eq "memory back: GET answers the job" "$CODE" 200
req GET /api/v1/jobs -H "$UA"
eq "memory back: the list answers" "$CODE" 200
api_stop
finish
