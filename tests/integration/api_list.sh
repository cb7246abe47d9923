#!/bin/sh
# GET /api/v1/jobs while the jobs change state under it (claimed, finished,
# retrieved: renames in the spool directory during the listing's readdir).
# Every listing must hold every job that exists for the whole request
# exactly once: the whole list, the ?status= filters, and the pages of an
# ?after= cursor walk.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

N=${API_LIST_JOBS:-600}
proc_setup
check "server starts" start_api

# ---- many short jobs, submitted in batches of 100 ----
IDS=$WORK/ids
: >"$IDS"
batch=$(jq -nc '{jobs: [range(100) | {shell: "true"}]}')
i=0
while [ "$i" -lt $((N / 100)) ]; do
	req POST /api/v1/batches -H 'Content-Type: application/json' -d "$batch"
	[ "$CODE" = 201 ] || break
	printf '%s' "$BODY" | jq -r '.jobs[]' >>"$IDS"
	i=$((i + 1))
done
sort -o "$IDS" "$IDS"
eq "$N jobs submitted" "$(sort -u "$IDS" | wc -l | tr -d ' ')" "$N"

# one listing: LABEL PATH-AND-QUERY; the ids listed in $WORK/got (sorted,
# duplicates kept), the final ones in $WORK/got_final
list_once() {
	curl -s -g --max-time 30 -o "$WORK/page" -w '%{http_code}' "$URL$1" \
		>"$WORK/code"
	[ "$(cat "$WORK/code")" = 200 ] || return 1
	jq -r '.jobs[].id' <"$WORK/page" | sort >"$WORK/got"
	jq -r '.jobs[] | select(.status == "completed") | .id' <"$WORK/page" |
		sort >"$WORK/got_final"
}
# the ids of a whole ?after= walk, LIMIT jobs a page, into $WORK/got
walk() {
	w_q="/api/v1/jobs?limit=$1$2" w_after="" w_pages=0
	: >"$WORK/walk"
	while :; do
		curl -s -g --max-time 30 -o "$WORK/page" -w '%{http_code}' \
			"$URL$w_q${w_after:+&after=$w_after}" >"$WORK/code"
		[ "$(cat "$WORK/code")" = 200 ] || return 1
		jq -r '.jobs[].id' <"$WORK/page" >>"$WORK/walk"
		w_after=$(jq -r '.next // empty' <"$WORK/page")
		w_pages=$((w_pages + 1))
		[ -n "$w_after" ] || break
		[ "$w_pages" -le $((N + 2)) ] || return 1
	done
	sort "$WORK/walk" >"$WORK/got"
}
# first_files ID: the names of that job's files now
first_files() { [ -n "$1" ] && (cd "$SPOOL" && echo "$1".*); }
# exact KIND: $WORK/got is every submitted id once; else records why
BAD=0
exact() {
	if ! cmp -s "$WORK/got" "$IDS"; then
		BAD=$((BAD + 1))
		[ "$BAD" -le 3 ] && echo "# $1: $(comm -23 "$IDS" "$WORK/got" |
			wc -l) missing, $(uniq -d "$WORK/got" | wc -l) twice," \
			"$(comm -13 "$IDS" "$WORK/got" | sort -u | wc -l) unknown" \
			"(first missing now: $(first_files "$(comm -23 "$IDS" \
			"$WORK/got" | head -n 1)"))"
	fi
}
# the completed ones: none twice, and every one seen completed before this
# listing began (in $WORK/known_final) is there
finals() {
	if [ -n "$(uniq -d "$WORK/got")" ] ||
		[ -n "$(comm -23 "$WORK/known_final" "$WORK/got")" ]; then
		BAD=$((BAD + 1))
		[ "$BAD" -le 3 ] && echo "# $1: $(comm -23 "$WORK/known_final" \
			"$WORK/got" | wc -l) finished jobs missing," \
			"$(uniq -d "$WORK/got" | wc -l) twice"
	fi
}

# a retriever marks finished jobs retrieved (a rename) all the while
(
	while [ ! -e "$WORK/stop" ]; do
		while read -r id; do
			[ -e "$WORK/stop" ] && break
			[ -e "$SPOOL/$id.completed" ] || continue
			curl -s -o /dev/null --max-time 10 "$URL/api/v1/jobs/$id"
		done <"$IDS"
		sleep 0.1
	done
) &
RET_PID=$!
T_PIDS="$T_PIDS $RET_PID"

start_proc -j 4 --lease 30s
: >"$WORK/known_final"
LISTINGS=0
deadline=$(( $(date +%s) + 300 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
	ls "$SPOOL" | grep -q -e '\.pending$' -e '\.wip$' || last=1
	if list_once "/api/v1/jobs?limit=1000"; then exact "whole list"
	else BAD=$((BAD + 1)); echo "# whole list: HTTP $(cat "$WORK/code")"; fi
	cp "$WORK/got_final" "$WORK/known_final.next"
	if list_once "/api/v1/jobs?limit=1000&status=pending,running,completed"
	then exact "?status=pending,running,completed"
	else BAD=$((BAD + 1)); fi
	if list_once "/api/v1/jobs?limit=1000&status=completed"
	then finals "?status=completed"
	else BAD=$((BAD + 1)); fi
	mv "$WORK/known_final.next" "$WORK/known_final"
	if walk 53 ""; then exact "pages of 53"
	else BAD=$((BAD + 1)); echo "# pages of 53: HTTP $(cat "$WORK/code")"; fi
	LISTINGS=$((LISTINGS + 4))
	[ -n "${last:-}" ] && break
done
touch "$WORK/stop"
wait "$RET_PID" 2>/dev/null
check "every job finished within the deadline" wait_final 30 $(cat "$IDS")
eq "$LISTINGS listings while jobs changed state: each held every job once" \
	"$BAD" 0
stop_pid "$PROC_PID"
proc_check_logs
api_stop
finish
