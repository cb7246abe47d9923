#!/bin/sh
# The pending list (GET /api/v1/jobs?status=pending) comes from the
# apiserver's pending set (apiserver/index.c, pending_list), kept from
# inotify events instead of a readdir: each way a .pending file comes and
# goes must show in the next listing: submit, PUT (RENAME_EXCHANGE, which
# the kernel reports as the name gone after it came), cancel, a claim and a
# requeue by hand (rename), a removal, a file written by a shell; and
# thousands of final jobs beside them change nothing.
. "$(dirname "$0")/lib.sh"
new_spool
mkdir -m 0770 "$SPOOL/tmp"
start_api || { fail "apiserver starts"; finish; }

pending() {	# the ids listed as pending, sorted, one line
	req GET "/api/v1/jobs?status=pending&limit=1000"
	printf '%s' "$BODY" | jq -r '[.jobs[].id] | sort | join(" ")'
}
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
post() {
	req POST /api/v1/jobs -d '{"command":["true"]}'
	printf '%s' "$BODY" | jq -r .id
}

eq "nothing pending at first" "$(pending)" ""
A=$(post) B=$(post) C=$(post)
eq "three submitted, three listed" "$(pending)" "$(sorted "$A" "$B" "$C")"
req PUT "/api/v1/jobs/$B" -d '{"priority":7}'
eq "PUT of a pending job: 200" "$CODE" 200
eq "  still listed after the exchange" "$(pending)" "$(sorted "$A" "$B" "$C")"
req DELETE "/api/v1/jobs/$C"
eq "  cancelled: no longer listed" "$(pending)" "$(sorted "$A" "$B")"
mv "$SPOOL/$A.pending" "$SPOOL/$A.wip"
eq "  claimed by rename: no longer listed" "$(pending)" "$B"
mv "$SPOOL/$A.wip" "$SPOOL/$A.pending"
eq "  put back by rename: listed again" "$(pending)" "$(sorted "$A" "$B")"
rm "$SPOOL/$B.pending"
eq "  removed: no longer listed" "$(pending)" "$A"
read -r D </proc/sys/kernel/random/uuid
printf '{"id":"%s","command":["true"]}\n' "$D" >"$SPOOL/tmp/$D" && mv "$SPOOL/tmp/$D" "$SPOOL/$D.pending"
eq "  written by a shell: listed" "$(pending)" "$(sorted "$A" "$D")"
# written by a shell without an "id" member: the file's name is its id
read -r E </proc/sys/kernel/random/uuid
printf '{"shell":"true"}\n' >"$SPOOL/tmp/$E" && mv "$SPOOL/tmp/$E" "$SPOOL/$E.pending"
eq "  one without an id member: listed under its file's name" "$(pending)" "$(sorted "$A" "$D" "$E")"
req GET "/api/v1/jobs/$E"
eq "  ... and GET of it says its id" "$(printf '%s' "$BODY" | jq -r .id)" "$E"
rm "$SPOOL/$E.pending"

# 3,000 final jobs beside them
i=0
while [ $i -lt 3000 ]; do
	read -r id </proc/sys/kernel/random/uuid
	printf '{"id":"%s","command":["true"],"status":"completed"}\n' "$id" \
		>"$SPOOL/$id.completed"
	i=$((i + 1))
done
eq "3,000 final jobs beside them: the same two listed" "$(pending)" \
	"$(sorted "$A" "$D")"
req GET "/api/v1/jobs?status=completed&limit=1000"
eq "  a listing of final jobs reads the directory: 1000 of them" \
	"$(printf '%s' "$BODY" | jq '.jobs | length')" 1000
req GET "/api/v1/jobs?status=pending"
eq "  and the pending list's fields: status" \
	"$(printf '%s' "$BODY" | jq -r '[.jobs[].status] | unique | join(",")')" pending
api_stop 2>/dev/null || stop_pid "$API_PID"
finish
