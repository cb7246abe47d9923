#!/bin/sh
# jobspool-apiserver: the route x state matrix (issue 15).  Every row of
# matrix.tab is one request against a job made for that row in the state the
# row names; the suite asserts the status code, that an error is a JSON
# {"error": "..."}, the row's check of the answer, and the spool's change
# (file names, contents and mtimes of every file, tmp/ included, before and
# after).  A coverage check reads the routes, their methods and which of
# them take a path segment from the route table apiserver/routes.c and the
# job states from lib/job.c, and fails while any
# route, method or state has no row: a new route or state is uncovered until
# someone adds its rows.  See the head of matrix.tab for the columns.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
TAB=$HERE/matrix.tab
W=$(mktemp -d /tmp/jobspool-matrix.XXXXXX)
T_DIRS="$T_DIRS $W"

S_OWNER=s3cret-u1 S_OTHER=s3cret-u2 S_ADMIN=adm1n S_WORKER=w0rker
HB_OWNER="Authorization: Bearer $S_OWNER"
HB_ADMIN="Authorization: Bearer $S_ADMIN"
HB_WORKER="Authorization: Bearer $S_WORKER"
WS_KEY=dGhlIHNhbXBsZSBub25jZQ==
WS_ACCEPT=s3pPLMBiTxaQ9kYGzzhZRbK+xOo=	# RFC 6455 section 1.3
SANITIZER='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:'
CR=$(printf '\r')

# ---- small pure-sh helpers (no fork per row field) ----
# trim VALUE -> $R without leading and trailing blanks
trim() {
	R=$1
	R=${R#"${R%%[! 	]*}"}
	R=${R%"${R##*[! 	]}"}
}
# replace_all VALUE FROM TO -> $R
replace_all() {
	r_in=$1 r_out=
	while :; do
		case $r_in in
		*"$2"*) r_out=$r_out${r_in%%"$2"*}$3; r_in=${r_in#*"$2"} ;;
		*) break ;;
		esac
	done
	R=$r_out$r_in
}
# fill VALUE -> $R with the row's placeholders replaced by the fixture's
fill() {
	replace_all "$1" "{id}" "$F_ID"
	replace_all "$R" "{cid}" "$F_CID"
	replace_all "$R" "{label}" "$F_LABEL"
	replace_all "$R" "{gen1}" "$((F_GEN + 1))"
	replace_all "$R" "{gen}" "$F_GEN"
	replace_all "$R" "{size}" "$F_SIZE"
}
new_uuid() { read -r R </proc/sys/kernel/random/uuid; }
upper() { printf '%s' "$1" | tr a-z A-Z; }

# ================= coverage: what the table must cover =================
# the route table of routes.c: "R_NAME|GET, HEAD|open" (or |auth) per
# route, its name in capitals; a row is '{ "name", "/pattern", ROLE_X, {'
# and its methods' entries follow, each '{ GET, ...' ("GET, HEAD") or
# '{ "POST", ...'
awk 'function flush() { if (name != "") print "R_" toupper(name) "|" allow "|" role; name = "" }
	/^[ \t]*\{ "[a-z0-9_]+", "\/[^"]*", ROLE_[A-Z]+, \{/ {
		flush(); name = $0; sub(/^[^"]*"/, "", name); sub(/".*/, "", name)
		role = $0 ~ /ROLE_OPEN/ ? "open" : "auth"; allow = ""; next }
	name != "" && /^[ \t]*\{ (GET|"[A-Z]+"),/ {
		m = $0; sub(/^[ \t]*\{ /, "", m)
		if (m ~ /^GET,/) m = "GET, HEAD"; else { sub(/^"/, "", m); sub(/".*/, "", m) }
		allow = allow (allow == "" ? "" : ", ") m }
	/^};/ { flush() }' "$TOP/apiserver/routes.c" >"$W/routes"
# the routes whose handlers are given a path segment: a {capture} in
# their pattern
awk '/^[ \t]*\{ "[a-z0-9_]+", "\/[^"]*\{[^"]*", ROLE_/ {
	name = $0; sub(/^[^"]*"/, "", name); sub(/".*/, "", name)
	print "R_" toupper(name) }' "$TOP/apiserver/routes.c" |
	sort -u >"$W/param_routes"
# job states: the file extensions of lib/job.c, plus an id that names no
# job and an id that is not a lowercase UUID
sed -n '/state_ext\[JS_NSTATES\]/,/};/p' "$TOP/lib/job.c" |
	grep -o '"[a-z]*"' | tr -d '"' >"$W/states"
NROUTES=$(wc -l <"$W/routes")
NSTATES=$(wc -l <"$W/states")
if [ "$NROUTES" -ge 10 ] && [ "$NSTATES" -ge 6 ] &&
	[ -s "$W/param_routes" ]; then
	ok "coverage: read $NROUTES routes (routes.c), $NSTATES states (job.c), $(wc -l <"$W/param_routes") routes with a path segment (routes.c)"
else
	fail "coverage: cannot read the routes or states from the sources ($NROUTES routes, $NSTATES states)"
fi
printf 'absent\nmalformed\n' >>"$W/states"

# The table without comments: "LINENO|route|method|path|body|opts|state|
# token|status|effect|check"; directives ("% stateless R_X") apart.
awk '/^[ \t]*#/ || /^[ \t]*$/ { next }
	/^%/ { print > "'"$W/directives"'"; next }
	{ print NR "|" $0 }' "$TAB" >"$W/rows"
touch "$W/directives"
sed -n 's/^% *stateless *\(R_[A-Z0-9_]*\).*/\1/p' "$W/directives" >"$W/stateless"

# every row well-formed: known route, method, state, token, opts, status
# (states beyond the required ones, with fixtures of their own)
EXTRA_STATES="local cancelling"
bad=$(awk -F'|' -v routes="$W/routes" -v states="$W/states" \
	-v extra="$EXTRA_STATES" '
	BEGIN { while ((getline l < routes) > 0) { split(l, f, "|"); r[f[1]] = 1 }
		r["R_NONE"] = 1
		while ((getline l < states) > 0) s[l] = 1; s["-"] = 1
		n = split(extra, e, " "); for (i = 1; i <= n; i++) s[e[i]] = 1
		split("owner other admin worker none bad", t, " "); for (i in t) tok[t[i]] = 1 }
	function tr(x) { gsub(/^[ \t]+|[ \t]+$/, "", x); return x }
	NF < 11 { print "line " $1 ": " NF - 1 " columns, want 10"; next }
	!(tr($2) in r) { print "line " $1 ": unknown route " tr($2) }
	tr($3) !~ /^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS)$/ { print "line " $1 ": method " tr($3) }
	tr($4) !~ /^\// { print "line " $1 ": path must start with /" }
	!(tr($7) in s) { print "line " $1 ": unknown state " tr($7) }
	!(tr($8) in tok) { print "line " $1 ": unknown token " tr($8) }
	tr($9) !~ /^[1-5][0-9][0-9]$/ { print "line " $1 ": status " tr($9) }
	{ n = split(tr($6), o, " "); for (i = 1; i <= n; i++)
		if (o[i] !~ /^(-|stream|ws|esc|big|ct=.*|idem=.*|hdr=.*)$/)
			print "line " $1 ": unknown option " o[i] }
	' "$W/rows")
if [ -z "$bad" ]; then ok "coverage: $(wc -l <"$W/rows") rows, all well-formed"
else fail "coverage: malformed rows:
$bad"; fi

# Per route: every allowed method has a row, a not-allowed method has a
# 405 row, and a row without a token exists.  Per route, method and mode
# (?follow, ?ws): if the route takes a path segment (http.c, unless the
# table says "% stateless R_X") or a row of it uses {id}, {cid} or {label},
# every state has a row with the owner's (or a worker's) token, and there
# are rows for another token's job and for an admin's view.
missing=$(awk -F'|' -v routes="$W/routes" -v states="$W/states" \
	-v params="$W/param_routes" -v stateless="$W/stateless" '
	function tr(x) { gsub(/^[ \t]+|[ \t]+$/, "", x); return x }
	BEGIN {
		while ((getline l < routes) > 0) {
			split(l, f, "|"); allow[f[1]] = f[2]; nr++; rname[nr] = f[1]
		}
		while ((getline l < states) > 0) { ns++; st[ns] = l }
		while ((getline l < params) > 0) param[l] = 1
		while ((getline l < stateless) > 0) delete param[l]
	}
	{
		route = tr($2); m = tr($3); path = tr($4); state = tr($7)
		tok = tr($8); code = tr($9)
		mode = ""
		if (path ~ /[?&]follow/) mode = mode "?follow"
		if (path ~ /[?&]ws/) mode = mode "?ws"
		key = route " " m mode
		keys[key] = route
		has[route " " m] = 1
		if (code == "405") had405[route] = 1
		if (tok == "none") hadnone[route] = 1
		if ((path " " tr($5)) ~ /\{(id|cid|label)\}/ &&
		    index(", " allow[route] ", ", ", " m ", "))
			stateful[key] = 1
		if (tok == "owner" || tok == "worker") cell[key "|" state] = 1
		if (tok == "other") other[key] = 1
		if (tok == "admin") admin[key] = 1
	}
	END {
		for (i = 1; i <= nr; i++) {
			r = rname[i]; n = split(allow[r], ms, ", ")
			for (j = 1; j <= n; j++)
				if (!((r " " ms[j]) in has))
					print r " " ms[j] ": no row"
			if (!(r in had405)) print r ": no row for a method it does not allow (405)"
			if (!(r in hadnone)) print r ": no row without a token"
			for (j = 1; j <= n; j++)
				if (r in param) stateful[r " " ms[j]] = 1
		}
		for (k in stateful) {
			for (i = 1; i <= ns; i++)
				if (!((k "|" st[i]) in cell))
					print k ": no row for a job " st[i]
			if (!(k in other)) print k ": no row for another token'"'"'s job"
			if (!(k in admin)) print k ": no row for an admin'"'"'s view"
		}
	}' "$W/rows" | sort)
if [ -z "$missing" ]; then
	ok "coverage: every route, method and state has its rows"
else
	fail "coverage: rows missing from matrix.tab:
$missing"
fi

# ================= the server =================
new_spool
API_LOGS=$W/api-logs	# every run's log: the server is restarted if it dies
: >"$API_LOGS"
# a JWT secret, so that the token routes mint (R_TOKENS, R_TOKEN)
head -c 48 /dev/urandom | base64 >"$W/jwt.secret"
chmod 600 "$W/jwt.secret"
api_up() {
	start_api --token "u1:$S_OWNER" --token "u2:$S_OTHER" \
		--token "adm:$S_ADMIN:admin" --token "wk:$S_WORKER:worker" \
		--lease 1h --max-body 4K --jwt-secret-file "$W/jwt.secret"
}
api_down_log() { cat "$API_LOG" >>"$API_LOGS"; }
check "server starts" api_up

# A local processor for the state "local": it takes only jobs labelled
# $LOCAL and is kept stopped (SIGSTOP) except while it claims a fixture, so
# that it never changes the spool during a row.
LOCAL="local$$"
PROC_LOG=$W/proc.log
"$JS_BIN/jobspool-processor" --spool "$SPOOL" --label "$LOCAL" --lease 1h \
	-j 32 2>"$PROC_LOG" &
PROC_PID=$!
T_PIDS="$T_PIDS $PROC_PID"
if wait_until 20 grep -q processing "$PROC_LOG"; then
	kill -STOP "$PROC_PID"
	ok "local processor started"
else
	fail "local processor started: $(cat "$PROC_LOG")"
fi

# ---- requests ----
# send METHOD PATH BODY OPTS TOKEN: one request; $CODE, $W/resp, $W/hdr
send() {
	s_m=$1 s_p=$2 s_b=$3 s_o=$4 s_t=$5
	: >"$W/resp"
	: >"$W/hdr"
	set -- -s -g -o "$W/resp" -D "$W/hdr" -w '%{http_code}'
	s_ct="Content-Type: application/json" s_stream=0
	for o in $s_o; do
		case $o in
		stream) s_stream=1 ;;
		ws) s_stream=1
			set -- "$@" -H "Connection: Upgrade" -H "Upgrade: websocket" \
				-H "Sec-WebSocket-Version: 13" -H "Sec-WebSocket-Key: $WS_KEY" ;;
		ct=none) s_ct="Content-Type:" ;;
		ct=*) s_ct="Content-Type: ${o#ct=}" ;;
		idem=*) set -- "$@" -H "Idempotency-Key: ${o#idem=}" ;;
		hdr=*) set -- "$@" -H "$(printf '%s' "${o#hdr=}" | tr '+' ' ')" ;;
		esac
	done
	case $s_t in
	owner) set -- "$@" -H "Authorization: Bearer $S_OWNER" ;;
	other) set -- "$@" -H "Authorization: Bearer $S_OTHER" ;;
	admin) set -- "$@" -H "Authorization: Bearer $S_ADMIN" ;;
	worker) set -- "$@" -H "Authorization: Bearer $S_WORKER" ;;
	bad) set -- "$@" -H "Authorization: Bearer wrong-secret" ;;
	esac
	set -- "$@" --max-time 20
	case " $s_o " in
	*" big "*) head -c 8192 /dev/zero | tr '\0' ' ' >"$W/body"
		printf '{"shell":"true"}' >>"$W/body"
		set -- "$@" -H "$s_ct" --data-binary "@$W/body" ;;
	*" esc "*) printf '%b' "$s_b" >"$W/body"
		set -- "$@" -H "$s_ct" --data-binary "@$W/body" ;;
	*) if [ "$s_b" != - ]; then
		printf '%s' "$s_b" >"$W/body"
		set -- "$@" -H "$s_ct" --data-binary "@$W/body"
	fi ;;
	esac
	if [ "$s_m" = HEAD ]; then
		set -- "$@" -I
	else
		set -- "$@" -X "$s_m"
	fi
	if [ "$s_stream" = 0 ]; then
		CODE=$(curl "$@" "$URL$s_p")
		CURL_RC=$?
		return
	fi
	# an answer that may go on: read until the headers and the row's
	# expected text ($W/want) are there, and 0.2 s more, then hang up
	: >"$W/code"
	curl -N "$@" "$URL$s_p" >"$W/code" &
	s_pid=$!
	s_end=$(( $(date +%s) + 15 ))
	while kill -0 "$s_pid" 2>/dev/null; do
		if head_done && { [ ! -f "$W/want" ] || cmp -s "$W/want" "$W/resp"; }
		then
			sleep 0.2
			break
		fi
		[ "$(date +%s)" -ge "$s_end" ] && break
		sleep 0.05
	done
	kill "$s_pid" 2>/dev/null
	wait "$s_pid"
	CURL_RC=$?
	CODE=
	IFS= read -r CODE <"$W/code"
	if [ -z "$CODE" ]; then	# hung up by us: the status line
		CODE=000
		IFS=' ' read -r s_v CODE s_rest <"$W/hdr" || CODE=000
	fi
}
# head_done: the answer's headers have all arrived (an empty line)
head_done() {
	while IFS= read -r h_l; do
		[ -z "${h_l%"$CR"}" ] && return 0
	done <"$W/hdr"
	return 1
}
# api METHOD PATH HEADER [curl args]: a fixture's request; $CODE, $BODY
api() {
	a_m=$1 a_p=$2 a_h=$3; shift 3
	CODE=$(curl -s -g -o "$W/fx" -w '%{http_code}' --max-time 20 -X "$a_m" \
		-H "$a_h" -H "Content-Type: application/json" "$@" "$URL$a_p")
	BODY=
	IFS= read -r BODY <"$W/fx"
}

# ---- fixtures: one new job (a one-job batch of the owner u1, with a label
# of its own so that only a claim naming that label can take it) in the
# state a row names.  Sets F_ID F_CID F_LABEL F_GEN F_SIZE and FX_ID (the
# job's real id, for reading the spool's changes); $FX_ERR on failure.
# Few processes per row: the requests after the submission go in one curl.
FX_N=0
fx_submit() {
	FX_N=$((FX_N + 1))
	F_LABEL="m$FX_N-$$"
	api POST /api/v1/batches "$HB_OWNER" \
		-d "{\"jobs\":[{\"name\":\"fx$FX_N\",\"shell\":\"true\",\"labels\":[\"$F_LABEL\"]}]}"
	[ "$CODE" = 201 ] || { FX_ERR="submit: $CODE $BODY"; return 1; }
	F_CID=${BODY#*'"correlation_id":"'} F_CID=${F_CID%%'"'*}
	F_ID=${BODY#*'"jobs":["'} F_ID=${F_ID%%'"'*}
	FX_ID=$F_ID F_GEN=1 F_SIZE=0
}
# fx_chain WANT STEP...: the steps ("METHOD|HEADER|PATH|BODY") in one curl;
# WANT is their status codes, e.g. "200 200 "
fx_chain() {
	c_want=$1; shift
	c_n=$# c_i=0
	while [ "$c_i" -lt "$c_n" ]; do
		c_s=$1; shift
		c_m=${c_s%%|*} c_s=${c_s#*|}
		c_h=${c_s%%|*} c_s=${c_s#*|}
		c_p=${c_s%%|*} c_d=${c_s#*|}
		[ "$c_i" -gt 0 ] && set -- "$@" --next
		set -- "$@" -s -g --max-time 20 -o "$W/fx$c_i" -w '%{http_code} ' \
			-X "$c_m" -H "$c_h" -H "Content-Type: application/json"
		[ -n "$c_d" ] && set -- "$@" --data-binary "$c_d"
		set -- "$@" "$URL$c_p"
		c_i=$((c_i + 1))
	done
	c_got=$(curl "$@")
	[ "$c_got" = "$c_want" ] || { FX_ERR="$* answered $c_got"; return 1; }
}
# the steps after the submission: a claim (lease token 1: the job is new),
# 6 bytes of log, a finish
FX_CLAIM='POST|'$HB_WORKER'|/api/v1/workers/claim|{"labels":["%L"],"wait":0}'
FX_LOG='POST|'$HB_WORKER'|/api/v1/workers/jobs/%I/log?token=1&offset=0|hello
'
FX_FIN='POST|'$HB_WORKER'|/api/v1/workers/jobs/%I/finish|{"token":1,"job":{"status":"%S","exit_code":%E}}'
fx_step() {	# TEMPLATE [STATUS EXIT] -> $R
	replace_all "$1" %L "$F_LABEL"
	replace_all "$R" %I "$F_ID"
	replace_all "$R" %S "${2:-}"
	replace_all "$R" %E "${3:-}"
}
fx_run() {	# STATE: wip, or finished as completed or failed, or retrieved
	fx_submit || return 1
	fx_step "$FX_CLAIM"; s1=$R
	fx_step "$FX_LOG"; s2=$R
	case $1 in
	wip) fx_chain "200 200 " "$s1" "$s2" || return 1 ;;
	failed) fx_step "$FX_FIN" failed 1
		fx_chain "200 200 200 " "$s1" "$s2" "$R" || return 1 ;;
	completed) fx_step "$FX_FIN" completed 0
		fx_chain "200 200 200 " "$s1" "$s2" "$R" || return 1 ;;
	retrieved) fx_step "$FX_FIN" completed 0
		fx_chain "200 200 200 200 " "$s1" "$s2" "$R" \
			"GET|$HB_OWNER|/api/v1/jobs/$F_ID|" || return 1
		[ -f "$SPOOL/$F_ID.retrieved" ] ||
			{ FX_ERR="GET did not retrieve $F_ID"; return 1; } ;;
	esac
	c_got=
	IFS= read -r c_got <"$W/fx0"
	case $c_got in
	*'"lease":{"token":1,'*) ;;
	*) FX_ERR="claim: $c_got"; return 1 ;;
	esac
	F_GEN=1 F_SIZE=6
}
# proc_run_until COND: lets the local processor run until COND holds and it
# has acted on every cancel request of its jobs, and stops it where it
# holds no job's lock (no OFD lock on jobs.lock: between rows nobody else
# holds one), so that no request of a row waits for it
LOCAL_IDS=
proc_idle() {
	for l_id in $LOCAL_IDS; do
		[ -e "$SPOOL/$l_id.cancel" ] && return 1
	done
	return 0
}
proc_unlocked() {
	l_ino=$(stat -c %i "$SPOOL/jobs.lock") || return 1
	! grep -q "OFDLCK.*:$l_ino " /proc/locks
}
proc_run_until() {
	l_try=0
	while [ "$l_try" -lt 50 ]; do
		l_try=$((l_try + 1))
		kill -CONT "$PROC_PID"
		wait_until 20 "$1" && wait_until 20 proc_idle || break
		sleep 0.1
		kill -STOP "$PROC_PID"
		proc_unlocked && return 0
	done
	kill -STOP "$PROC_PID"
	return 1
}
wip_local() {	# the row's job runs under the local processor
	grep -q '"pid":[1-9]' "$SPOOL/$FX_ID.wip" 2>/dev/null &&
		[ -f "$SPOOL/$FX_ID.log" ]
}
fixture() {	# STATE
	FX_ERR= FX_ID=none F_ID= F_CID= F_LABEL= F_GEN=1 F_SIZE=0
	case $1 in
	-) return 0 ;;
	pending) fx_submit ;;
	wip | completed | failed | retrieved) fx_run "$1" ;;
	cancelled)
		fx_submit || return 1
		fx_chain "202 " "DELETE|$HB_OWNER|/api/v1/jobs/$F_ID|" ;;
	cancelling)	# wip, and its owner asked to cancel it
		fx_run wip || return 1
		fx_chain "202 " "DELETE|$HB_OWNER|/api/v1/jobs/$F_ID|" ;;
	local)	# running "sleep 600" under the local processor (generation 1)
		FX_N=$((FX_N + 1))
		api POST /api/v1/batches "$HB_OWNER" \
			-d "{\"jobs\":[{\"name\":\"fx$FX_N\",\"command\":[\"sleep\",\"600\"],\"labels\":[\"$LOCAL\"]}]}"
		[ "$CODE" = 201 ] || { FX_ERR="submit: $CODE $BODY"; return 1; }
		F_CID=${BODY#*'"correlation_id":"'} F_CID=${F_CID%%'"'*}
		F_ID=${BODY#*'"jobs":["'} F_ID=${F_ID%%'"'*}
		FX_ID=$F_ID F_LABEL=$LOCAL F_GEN=1 F_SIZE=0
		LOCAL_IDS="$LOCAL_IDS $F_ID"
		proc_run_until wip_local ||
			{ FX_ERR="the local processor did not start it"; return 1; } ;;
	absent)	# a well-formed id (and batch, label) that names nothing
		new_uuid; F_ID=$R
		new_uuid; F_CID=$R
		F_LABEL="absent$$" FX_ID=$F_ID ;;
	malformed)	# a completed job named by its id in capitals
		fx_run completed || return 1
		F_ID=$(upper "$F_ID") F_CID=$(upper "$F_CID")
		F_LABEL="not a word" ;;
	*) FX_ERR="no fixture for state '$1': add one to api_matrix.sh"
		return 1 ;;
	esac
}

# ---- the spool's state: "path size mtime inode" of every file, tmp/
# included.  The spool writes a file in tmp/ and renames it (a new inode)
# or appends to it (a new size), so these see every change of content. ----
snapshot() { find "$SPOOL" -type f -printf '%P %s %T@ %i\n' >"$1"; }
# changes BEFORE AFTER WANT -> $GOT and $WANT, the spool's changes and the
# row's effect, each sorted: "+file" new, "-file" gone, "~file" other
# content (a new size, or a new file under the name), "^file" only a new
# mtime; the row's job is written {id}, any other UUID *, an
# Idempotency-Key record idem/*.  The ids of new .pending files other than
# the row's job go to $W/newjobs.
changes() {
	awk -v fx="$FX_ID" -v want="$3" -v newjobs="$W/newjobs" '
	function sorted(a, n,   i, j, x) {
		for (i = 2; i <= n; i++) {
			x = a[i]
			for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]
			a[j + 1] = x
		}
		x = ""
		for (i = 1; i <= n; i++) x = x (i > 1 ? " " : "") a[i]
		return x
	}
	function add(tok, f,   id) {
		id = f; sub(/\..*/, "", id)
		if (tok == "+" && f ~ ("^" U "\\.pending$") && id != fx)
			print id > newjobs
		gsub(fx, "{id}", f); gsub(U, "*", f); sub(/^idem\/[0-9a-f]+$/, "idem/*", f)
		sub(/^revoked\/[0-9a-f]+$/, "revoked/*", f)
		out[++n] = tok f
	}
	BEGIN {
		h = "[0-9a-f]"; h4 = h h h h
		U = h4 h4 "-" h4 "-" h4 "-" h4 "-" h4 h4 h4
		printf "" > newjobs
	}
	FILENAME == ARGV[1] {
		bs[$1] = $2; bt[$1] = $3; bi[$1] = $4
		next
	}
	{ as[$1] = $2; at[$1] = $3; ai[$1] = $4 }
	END {
		n = 0
		for (f in as) {
			if (!(f in bs)) add("+", f)
			else if (as[f] != bs[f] || ai[f] != bi[f]) add("~", f)
			else if (at[f] != bt[f]) add("^", f)
		}
		for (f in bs) if (!(f in as)) add("-", f)
		print sorted(out, n)
		m = (want == "=") ? 0 : split(want, w, " ")
		print sorted(w, m)
	}' "$1" "$2" >"$W/changes"
	{ IFS= read -r GOT; IFS= read -r WANT; } <"$W/changes"
}

# ---- one row ----
allow_of() {	# ROUTE -> $A, its Allow in routes.c
	A=
	while IFS='|' read -r a_r a_a a_o; do
		[ "$a_r" = "$1" ] && A=$a_a
	done <"$W/routes"
}
# hdr_of NAME -> $H: the last answer's header NAME (as the server spells
# it), "" if none
hdr_of() {
	H=
	while IFS= read -r h_l; do
		h_l=${h_l%"$CR"}
		case $h_l in "$1:"*) H=${h_l#"$1:"}; H=${H# } ;; esac
	done <"$W/hdr"
}
server_alive() { kill -0 "$API_PID" 2>/dev/null; }

run_row() {
	IFS='|' read -r ln route method path body opts state token status \
		effect check <<EOF
$1
EOF
	trim "$route"; route=$R; trim "$method"; method=$R
	trim "$path"; path=$R; trim "$body"; body=$R; trim "$opts"; opts=$R
	trim "$state"; state=$R; trim "$token"; token=$R
	trim "$status"; status=$R; trim "$effect"; effect=$R
	trim "$check"; check=$R
	desc="line $ln: $method $path [$state, $token]"
	if ! fixture "$state"; then
		fail "$desc: cannot make the job: $FX_ERR"
		return
	fi
	fill "$path"; p=$R
	fill "$body"; b=$R
	fill "$check"; c=$R
	rm -f "$W/want"
	case $c in text:*) printf '%b' "${c#text:}" >"$W/want" ;; esac
	snapshot "$W/before"
	send "$method" "$p" "$b" "$opts" "$token"
	snapshot "$W/after"
	errs=
	if [ "$CODE" != "$status" ]; then
		errs="$errs; status $CODE, want $status"
		[ "$CODE" = 000 ] && errs="$errs (no answer: curl exit $CURL_RC)"
	fi
	changes "$W/before" "$W/after" "$effect"
	[ "$GOT" = "$WANT" ] ||
		errs="$errs; spool changes '${GOT:-none}', want '${WANT:-none}'"
	# an error answer is JSON {"error": "words"} (HEAD has no body)
	case $CODE in
	[45]??) if [ "$method" != HEAD ] && ! jq -e \
		'type == "object" and (.error | type == "string" and length > 0)' \
		"$W/resp" >/dev/null 2>&1; then
			errs="$errs; error body is not JSON {\"error\": ...}: $(head -c 200 "$W/resp")"
		fi
		hdr_of Content-Type
		case $H in application/json*) ;;
		*) errs="$errs; error Content-Type '$H'" ;; esac ;;
	esac
	case $CODE in
	405) allow_of "$route"; hdr_of Allow
		[ "$H" = "$A" ] ||
			errs="$errs; Allow '$H', want '$A' ($route in routes.c)" ;;
	401) hdr_of WWW-Authenticate
		[ -n "$H" ] || errs="$errs; 401 without WWW-Authenticate" ;;
	201) hdr_of Location
		case $H in /api/v1/*) ;; *) errs="$errs; 201 without a Location" ;; esac ;;
	101) hdr_of Sec-WebSocket-Accept
		[ "$H" = "$WS_ACCEPT" ] || errs="$errs; Sec-WebSocket-Accept '$H'" ;;
	esac
	case $c in
	- | "") ;;
	text:*) cmp -s "$W/want" "$W/resp" ||
			errs="$errs; body '$(head -c 200 "$W/resp")', want '${c#text:}'" ;;
	re:*) grep -q -E -e "${c#re:}" "$W/resp" ||
			errs="$errs; body does not match ${c#re:}" ;;
	*) if ! jq -e "$c" "$W/resp" >/dev/null 2>&1; then
			errs="$errs; check '$c' false on $(head -c 300 "$W/resp")"
		fi ;;
	esac
	if ! server_alive; then
		errs="$errs; THE SERVER DIED"
		api_down_log
		grep -E -A30 "$SANITIZER" "$API_LOG" | head -n 60
		api_up || { fail "$desc: cannot restart the server"; return; }
	elif [ "$CODE" = 000 ]; then
		errs="$errs (server alive)"
	fi
	if [ -z "$errs" ]; then ok "$desc"; else fail "$desc${errs#;}"; fi
	# jobs a row submitted are cancelled so that no later claim takes them
	while IFS= read -r j; do
		curl -s -o /dev/null --max-time 20 -X DELETE -H "$HB_ADMIN" \
			"$URL/api/v1/jobs/$j"
	done <"$W/newjobs"
}

# ---- every path template routes where its row says: OPTIONS (which no
# route allows) answers 405 with that route's Allow, or 404 for R_NONE ----
new_uuid; F_ID=$R
new_uuid; F_CID=$R
F_LABEL=x F_GEN=1 F_SIZE=0
awk -F'|' '{ r = $2; p = $4; gsub(/^[ \t]+|[ \t]+$/, "", r)
	gsub(/^[ \t]+|[ \t]+$/, "", p); print r "|" p }' "$W/rows" | sort -u |
	while IFS='|' read -r route path; do
		fill "$path"
		case $route in R_W_*) t=worker ;; *) t=admin ;; esac
		send OPTIONS "$R" - - "$t"
		if [ "$route" = R_NONE ]; then	# no route: 404 (400: no path)
			want="404 400" a=
		else
			allow_of "$route"; want=405 a=$A
		fi
		hdr_of Allow
		if case " $want " in *" $CODE "*) true ;; *) false ;; esac &&
			[ "$H" = "$a" ]; then
			echo "ok - $path is $route"
		else
			echo "not ok - $path is not $route: OPTIONS answers $CODE, Allow '$H', want $want '$a'"
		fi
	done >"$W/probe"
cat "$W/probe"
T_PASS=$((T_PASS + $(grep -c '^ok' "$W/probe")))
T_FAIL=$((T_FAIL + $(grep -c '^not ok' "$W/probe")))

# ---- the rows ----
while IFS= read -r row; do
	run_row "$row"
done <"$W/rows"

check "tmp/ is empty at the end" test -z "$(ls -A "$SPOOL/tmp")"
kill -CONT "$PROC_PID"
stop_pid "$PROC_PID"
if grep -q -E "$SANITIZER" "$PROC_LOG"; then
	grep -E -A30 "$SANITIZER" "$PROC_LOG" | head -n 80
	fail "a sanitizer report in the local processor's log"
fi
api_stop
api_down_log
if grep -q -E "$SANITIZER" "$API_LOGS"; then
	grep -E -A30 "$SANITIZER" "$API_LOGS" | head -n 80
	fail "a sanitizer report in the apiserver's log"
else
	ok "no sanitizer report in the apiserver's log"
fi
finish
