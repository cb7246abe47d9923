#!/bin/sh
# The status page (GET /) in a real browser, headless Chromium (Debian
# package chromium, installed by scripts/deps.sh), driven like a person
# would over the DevTools protocol (cdp.py: typing, mouse clicks, reading
# the page): served from the program with a strict Content-Security-Policy
# and nothing from outside, it takes the token typed in once, lists a job
# submitted with curl, filters and pages the job list (the view kept in
# the address), shows why a pending job waits, a job's fields and its log
# line by line while the job prints it, cancels a running job and re-runs
# a finished one after a confirmation (a refusal shown as text), and a
# hostile job name and log stay text.  Screenshots are saved in the build
# directory (ui-overview.png, ui-job.png, ui-phone.png, ui-phone-job.png,
# ui-no-processor.png) for a person to look at.  Also /healthz: the live
# processors, "stalled" jobs, and a processor killed with -9 gone from it
# within its lease.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || skip_suite install "chromium is missing (apt-get install chromium; scripts/deps.sh does it)"

proc_setup
SECRET=ui-s3cret-TOKEN
ALOG=$WORK/access.log
check "server starts" start_api --token "alice:$SECRET:admin" --access-log "$ALOG"
AUTH="Authorization: Bearer $SECRET"
start_proc -j 2 --lease 2s
PP=$PROC_PID

# the page and its files
req GET /
eq "GET / is 200" "$CODE" 200
eq "  text/html" "$(header Content-Type | cut -d';' -f1)" text/html
csp=$(tr -d '\r' <"$HDR_FILE" | sed -n 's/^content-security-policy: *//Ip')
check "  a strict CSP: script-src 'self', default-src 'none'" sh -c \
	"printf '%s' \"\$1\" | grep -q \"default-src 'none'\" && printf '%s' \"\$1\" | grep -q \"script-src 'self';\"" _ "$csp"
eq "  no inline script" "$(grep -c '<script>' "$RESP_FILE")" 0
eq "  no inline style" "$(grep -c -E '<style|style=' "$RESP_FILE")" 0
eq "  nothing from another host" "$(grep -c -E '(src|href)="(https?:)?//' "$RESP_FILE")" 0
req GET /ui/app.js
eq "GET /ui/app.js is 200" "$CODE" 200
eq "  the script writes no HTML (textContent only)" \
	"$(grep -c -E 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(' "$RESP_FILE")" 0
req GET /ui/app.css
eq "GET /ui/app.css is 200" "$CODE" 200
req GET /ui/icon.svg
eq "GET /ui/icon.svg is 200 (the page's icon)" "$CODE" 200
req GET /ui/nope.js
eq "GET /ui/nope.js is 404 (JSON)" "$CODE" 404

# jobs: one that runs, a hostile name (that prints itself), one no
# processor can take
HOSTILE='<img src=x onerror=alert(1)>'
req POST /api/v1/jobs -H "$AUTH" -d '{"name":"ui-probe","shell":"echo hi"}'
eq "a job is submitted" "$CODE" 201
A=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -H "$AUTH" -d "$(jq -nc --arg n "$HOSTILE" \
	'{name: $n, shell: ("printf \"%s\\n\" \u0027" + $n + "\u0027")}')"
eq "a job with a hostile name is submitted" "$CODE" 201
H=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -H "$AUTH" -d '{"name":"needs-gpu","shell":"true","labels":["gpu"]}'
eq "a job asking for label gpu is submitted" "$CODE" 201
G=$(printf '%s' "$BODY" | jq -r .id)
check "the two runnable jobs finish" wait_final 30 "$A" "$H"
check "  the hostile job printed its name" grep -q -F "$HOSTILE" "$SPOOL/$H.log"

# /healthz with a live processor
check "healthz: one live processor" wait_until 10 sh -c "[ \"\$(curl -s '$URL/healthz' | jq -r .processors.alive)\" = 1 ]"
req GET /healthz
eq "healthz: 200" "$CODE" 200
jq_eq "healthz: spool writable" .spool.writable true
jq_eq "healthz: free bytes given" '.spool.free_bytes > 0' true
jq_eq "healthz: one pending" .pending 1
jq_eq "healthz: the gpu job is stalled (no live processor has gpu)" .stalled 1
jq_eq "healthz: the processor's slots" .processors.slots 2
req GET "/api/v1/jobs?label=gpu" -H "$AUTH"
jq_eq "?label=gpu lists the gpu job only" '[.jobs[].id] | join(" ")' "$G"
req GET "/api/v1/jobs?label=not%20a%20word" -H "$AUTH"
eq "?label= with no label word is 400" "$CODE" 400
m=$(curl -s "$URL/metrics")
check "metrics: processors{label=\"\"} 1" sh -c "printf '%s\n' \"\$1\" | grep -q '^jobspool_processors{label=\"\"} 1\$'" _ "$m"

# ---- the browser, driven over the DevTools protocol (cdp.py) ----
# b CMD...: one command to the driver, its answer in B_OUT (fails unless
# "ok ..."); bv JS: the expression's value (JSON) on stdout.
trap '' PIPE
B_IN="$WORK/cdp.in" B_OUT_F="$WORK/cdp.out"
mkfifo "$B_IN" "$B_OUT_F"
mkdir -p "$WORK/chrome"
HOME="$WORK" python3 "$(dirname "$0")/cdp.py" "$CHROME" "$WORK/chrome" \
	<"$B_IN" >"$B_OUT_F" 2>"$WORK/cdp.err" &
CDP_PID=$!
T_PIDS="$T_PIDS $CDP_PID"
exec 7>"$B_IN" 8<"$B_OUT_F"
b() {
	printf '%s\n' "$*" >&7 && IFS= read -r B_OUT <&8 || B_OUT="fail the driver is gone"
	case $B_OUT in ok*) return 0 ;; esac
	echo "#   browser: $* -> $B_OUT"
	return 1
}
bv() { b eval "$@" && printf '%s\n' "${B_OUT#ok }"; }
# the text of an element, as JSON
txt() { bv "(document.querySelector('$1')||{}).textContent"; }
IFS= read -r B_OUT <&8 || B_OUT="fail the driver exited"
case $B_OUT in
ready*)	BROWSER_PID=${B_OUT#ready }; T_PIDS="$T_PIDS $BROWSER_PID"; HAVE_BROWSER=1 ;;
*)	cat "$WORK/cdp.err" "$WORK/chrome/chrome.stderr" 2>/dev/null | tail -n 20
	skip permission "Chromium could not start here: ${B_OUT#fail }" "the browser checks"
	HAVE_BROWSER=0 ;;
esac
ID_RE='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
# the job ids in the list shown, one a line
list_ids() { bv "[...document.querySelectorAll('#joblist a')].map(a => a.textContent).join(' ')" |
	grep -o -E "$ID_RE"; }
J="document.getElementById"

if [ "$HAVE_BROWSER" = 1 ]; then
	b size 1280 1000
	b open "$URL/"
	check "the page loads without a token and asks for one" \
		b wait 10 "$J('error').textContent === 'type an API token above to see the jobs'"
	eq "  the token field is shown" "$(bv "$J('token').hidden")" false
	check "the token is typed in and used" b type '#token' "$SECRET"
	check "  (a click on Use token)" b click '#usetoken'
	check "the page lists the job submitted with curl" \
		b wait 10 "$J('joblist').textContent.includes('$A')"
	eq "  with its name" "$(bv "[...document.querySelectorAll('#joblist td.name')].some(td => td.textContent === 'ui-probe')")" true
	eq "  no error shown" "$(bv "$J('error').hidden")" true
	eq "  the field is replaced by Forget token" "$(bv "[$J('token').hidden, $J('logout').hidden]")" "[true, false]"
	eq "  the token is kept in sessionStorage" "$(bv "sessionStorage.getItem('jobspool.token')")" "\"$SECRET\""
	eq "the hostile name is shown as text in the list" \
		"$(bv "[...document.querySelectorAll('#joblist td.name')].filter(td => td.textContent === '$HOSTILE').length")" 1
	eq "  and made no element" "$(bv "document.querySelectorAll('img').length")" 0
	eq "the pending job says why it waits (no live processor has label gpu)" \
		"$(bv "[...document.querySelectorAll('#joblist tr')].some(tr => tr.textContent.includes('$G') && /gpu/.test(tr.querySelector('td.details').textContent))")" true
	check "counts by state are shown" b wait 5 "document.querySelector('#counts .st-completed b').textContent === '2'"
	check "the live processor is listed with its slots" b wait 5 \
		"[...document.querySelectorAll('#procs tr')].some(tr => tr.textContent.includes('$(hostname)') && tr.children[2].textContent === '2')"
	check "paused: nothing" b wait 5 "$J('paused').textContent === 'nothing'"
	check "screenshot $JS_BIN/ui-overview.png" b shot "$JS_BIN/ui-overview.png"
	b open "$URL/"
	check "a reload keeps the token (typed once per browser session)" \
		b wait 10 "$J('joblist').textContent.includes('$A')"

	# the filters: the form, the view in the address
	b type '#f-name' ui-probe
	b click '#filters button[type=submit]'
	check "the name filter shows only that job" b wait 10 \
		"document.querySelectorAll('#joblist a').length === 1 && $J('joblist').textContent.includes('$A')"
	eq "  and is kept in the address" "$(bv "location.hash")" '"#name=ui-probe"'
	b open "$URL/#status=pending"
	check "#status=pending lists only the pending job" b wait 10 \
		"document.querySelectorAll('#joblist a').length === 1 && $J('joblist').textContent.includes('$G')"
	eq "  and the filter shows it" "$(bv "$J('f-status').value")" '"pending"'
	b open "$URL/#"
	b wait 10 "$J('joblist').textContent.includes('$A')"
	b type '#f-label' gpu
	b click '#filters button[type=submit]'
	check "the label filter (gpu) shows only the gpu job" b wait 10 \
		"document.querySelectorAll('#joblist a').length === 1 && $J('joblist').textContent.includes('$G')"
	eq "  and is kept in the address" "$(bv "location.hash")" '"#label=gpu"'

	# paging: 7 jobs, 3 a page, walked with Next, each job once
	PG=""
	for i in 1 2 3 4 5 6 7; do
		PG="$PG $(curl -s -H "$AUTH" "$URL/api/v1/jobs" -d '{"name":"pg","shell":"true"}' | jq -r .id)"
	done
	b open "$URL/#name=pg&limit=3"
	check "paging: the first page holds 3 of the 7" b wait 10 "document.querySelectorAll('#joblist a').length === 3"
	list_ids >"$WORK/pages"
	eq "  Previous is off on the first page" "$(bv "$J('p-prev').disabled")" true
	b click '#p-next'
	check "  Next shows the next 3" b wait 10 "/page 2/.test($J('p-info').textContent) && document.querySelectorAll('#joblist a').length === 3"
	list_ids >"$WORK/page2"
	cat "$WORK/page2" >>"$WORK/pages"
	p2hash=$(bv "location.hash")
	b click '#p-next'
	check "  and the last one" b wait 10 "/page 3/.test($J('p-info').textContent) && document.querySelectorAll('#joblist a').length === 1"
	list_ids >>"$WORK/pages"
	eq "  where Next is off" "$(bv "$J('p-next').disabled")" true
	eq "  every job once" "$(sort "$WORK/pages" | uniq | wc -l) $(wc -l <"$WORK/pages")" "7 7"
	eq "  all of them the jobs named pg" "$(sort "$WORK/pages" | tr '\n' ' ')" "$(printf '%s\n' $PG | sort | tr '\n' ' ')"
	b click '#p-prev'
	check "  Previous goes back to page 2" b wait 10 "/page 2/.test($J('p-info').textContent)"
	eq "  with the same jobs" "$(list_ids)" "$(cat "$WORK/page2")"
	eq "  and the address is page 2's" "$(bv "location.hash")" "$p2hash"
	b eval "history.back(), true"
	check "  Back returns to page 3" b wait 10 "/page 3/.test($J('p-info').textContent)"
	b eval "history.back(), true"
	check "  Back again to page 2 (the browser's history)" b wait 10 "/page 2/.test($J('p-info').textContent)"
	b open "$URL/$(printf '%s' "$p2hash" | tr -d '"')"
	b wait 10 "/page 2/.test($J('p-info').textContent) && document.querySelectorAll('#joblist a').length === 3"
	eq "  a reload of that address shows page 2 again" "$(list_ids)" "$(cat "$WORK/page2")"

	# a finished job's page: its fields, its log, Re-run and no Cancel
	b click '#home'
	b wait 10 "$J('joblist').textContent.includes('$A')"
	check "a job's id opens its page (a click)" b click "#joblist a[href='#job=$A']"
	check "  with its log" b wait 10 "$J('joblog').textContent === 'hi\\n'"
	eq "  its fields (exit_code 0)" "$(bv "document.querySelector('#jobfields tr[data-field=exit_code] td.val').textContent")" '"0"'
	eq "  its owner" "$(bv "document.querySelector('#jobfields tr[data-field=owner] td.val').textContent")" '"alice"'
	check "  the log says how it ended" b wait 10 "/ended: completed, exit 0/.test($J('loginfo').textContent)"
	eq "  a final job offers Re-run, not Cancel" "$(bv "[$J('jobrerun').hidden, $J('jobcancel').hidden]")" "[false, true]"

	# the hostile job: its page and its log
	b open "$URL/#job=$H"
	check "the hostile job's page shows its name as text" b wait 10 "$J('jobname').textContent === '$HOSTILE'"
	check "  and its log as text" b wait 10 "$J('joblog').textContent === '$HOSTILE\\n'"
	eq "  and the fields as text" "$(bv "document.querySelector('#jobfields tr[data-field=name] td.val').textContent")" "\"$HOSTILE\""
	eq "  no element made from them" "$(bv "document.querySelectorAll('img').length")" 0
	eq "  the page title is text too" "$(bv "document.title")" "\"jobspool: $HOSTILE\""

	# the live log: the second line appears while the job still runs (the
	# job prints a line, waits for the test's gate file, prints another)
	gate() { printf 'while [ ! -e %s ]; do sleep 0.1; done' "$WORK/$1"; }
	req POST /api/v1/jobs -H "$AUTH" -d "$(jq -nc --arg s \
		"echo first-line; $(gate g1); echo second-line; $(gate g2); echo last-line" \
		'{name: "live", shell: $s}')"
	L=$(printf '%s' "$BODY" | jq -r .id)
	b open "$URL/#job=$L"
	check "live log: the first line appears" b wait 20 "$J('joblog').textContent === 'first-line\\n'"
	touch "$WORK/g1"
	check "  the second line appears when the job prints it" \
		b wait 15 "$J('joblog').textContent === 'first-line\\nsecond-line\\n'"
	check "  while the job still runs (spool: .wip)" test -f "$SPOOL/$L.wip"
	eq "  appended, not reloaded (two pieces at least)" "$(bv "$J('joblog').childNodes.length >= 2")" true
	eq "  Cancel is offered, Re-run is not" "$(bv "[$J('jobcancel').hidden, $J('jobrerun').hidden]")" "[false, true]"
	check "screenshot $JS_BIN/ui-job.png" b shot "$JS_BIN/ui-job.png"
	# leaving the page ends the stream (the access log's line for a
	# request is written when it ends)
	b open "$URL/#"
	check "leaving the job's page ends its log stream (the job still runs)" \
		wait_until 10 grep -q " GET /api/v1/jobs/$L/log route=job_log" "$ALOG"
	check "  (still .wip)" test -f "$SPOOL/$L.wip"
	b open "$URL/#job=$L"
	check "  coming back follows it again" b wait 10 "$J('joblog').textContent.includes('second-line')"
	touch "$WORK/g2"
	check "  the last line when the job ends, then the outcome" b wait 20 \
		"/ended: completed, exit 0/.test($J('loginfo').textContent)"
	eq "  the log is the job's log (no outcome line)" "$(bv "$J('joblog').textContent")" '"first-line\nsecond-line\nlast-line\n"'
	check "  the page shows it completed" b wait 10 "$J('jobstatus').textContent === 'completed'"

	# a long log: the last 500 lines, more on demand; the view follows the
	# end unless scrolled up
	req POST /api/v1/jobs -H "$AUTH" -d "$(jq -nc --arg s \
		"seq 1 2000; $(gate g3); seq 2001 2100; $(gate g4); seq 2101 2200" \
		'{name: "long", shell: $s}')"
	LL=$(printf '%s' "$BODY" | jq -r .id)
	b open "$URL/#job=$LL"
	check "long log: the page shows the last 500 lines" b wait 20 \
		"/^1501\\n[^]*\\n2000\\n$/.test($J('joblog').textContent)"
	eq "  and offers more" "$(bv "$J('logmore').hidden")" false
	eq "  its end in view" "$(bv "(e => e.scrollHeight - e.scrollTop - e.clientHeight < 40)($J('joblog'))")" true
	b eval "$J('joblog').scrollTop = 0"
	touch "$WORK/g3"
	b wait 15 "$J('joblog').textContent.endsWith('\\n2100\\n')"
	eq "  scrolled up: new lines do not move the view" "$(bv "$J('joblog').scrollTop")" 0
	b eval "(e => e.scrollTop = e.scrollHeight)($J('joblog'))"
	touch "$WORK/g4"
	b wait 15 "$J('joblog').textContent.endsWith('\\n2200\\n')"
	eq "  scrolled back down: it follows the end again" \
		"$(bv "(e => e.scrollHeight - e.scrollTop - e.clientHeight < 40)($J('joblog'))")" true
	b click '#logmore'
	check "  Show more lines: the whole log" b wait 15 \
		"/^1\\n2\\n[^]*\\n2200\\n$/.test($J('joblog').textContent)"

	# Cancel, with a confirmation
	req POST /api/v1/jobs -H "$AUTH" -d '{"name":"to-cancel","shell":"echo started; sleep 60"}'
	C=$(printf '%s' "$BODY" | jq -r .id)
	check "a job to cancel runs" wait_until 20 grep -q started "$SPOOL/$C.log"
	b open "$URL/#job=$C"
	check "  its page offers Cancel" b wait 10 "!$J('jobcancel').hidden && $J('jobstatus').textContent === 'running'"
	b click '#jobcancel'
	check "  pressing Cancel asks first" b wait 5 "!$J('jobconfirm').hidden && $J('jobask').textContent.includes('$C')"
	b click '#jobno'
	sleep 1
	check "  No leaves it running (spool: .wip)" test -f "$SPOOL/$C.wip"
	eq "  and Cancel is offered again" "$(bv "$J('jobcancel').hidden")" false
	b click '#jobcancel'
	check "pressing Cancel and Yes" b click '#jobyes'
	check "  cancels the running job (spool: .cancelled)" wait_until 20 test -f "$SPOOL/$C.cancelled"
	check "  the page says so" b wait 10 "$J('jobstatus').textContent === 'cancelled'"
	check "  and its log ends: cancelled" b wait 10 "/ended: cancelled/.test($J('loginfo').textContent)"

	# Re-run of a finished job: a new job, and its page (the page still
	# showing the cancelled job, which offers Re-run too, is not A's)
	b open "$URL/#job=$A"
	b wait 10 "$J('jobid').textContent === '$A' && !$J('jobrerun').hidden"
	b click '#jobrerun'
	b wait 5 "!$J('jobconfirm').hidden"
	check "pressing Re-run and Yes" b click '#jobyes'
	check "  opens the new job's page" b wait 10 "/^#job=/.test(location.hash) && location.hash !== '#job=$A'"
	N=$(bv "location.hash.slice(5)" | tr -d '"')
	check "  a new job in the spool" sh -c "ls '$SPOOL' | grep -q -E '^$N\\.(pending|wip|completed)\$'"
	eq "  a re-run of the old one" "$(curl -s -H "$AUTH" "$URL/api/v1/jobs/$N?peek=1" | jq -r .rerun_of)" "$A"
	check "  the page says so" b wait 5 "$J('jobmsg').textContent === 'a re-run of $A'"
	check "  and it runs: its log" b wait 20 "$J('joblog').textContent === 'hi\\n'"
	check "  and ends completed" b wait 20 "$J('jobstatus').textContent === 'completed'"
	# a refusal is shown as text: the job was removed behind the page's back
	req DELETE "/api/v1/jobs/$N" -H "$AUTH"
	eq "the re-run job is removed with curl (204)" "$CODE" 204
	b click '#jobrerun'
	b click '#jobyes'
	check "  Re-run then says why it was refused" b wait 10 "/^refused: .+/.test($J('jobmsg').textContent)"
	eq "  and made no job" "$(bv "location.hash")" "\"#job=$N\""

	# a phone's width (390 px): nothing wider than the screen
	b size 390 844 mobile
	b open "$URL/"
	b wait 10 "$J('joblist').textContent.includes('$A')"
	eq "phone: the overview fits 390 px (no sideways scroll)" \
		"$(bv "document.documentElement.scrollWidth <= 390")" true
	check "screenshot $JS_BIN/ui-phone.png" b shot "$JS_BIN/ui-phone.png"
	b open "$URL/#job=$L"
	b wait 10 "$J('joblog').textContent.includes('last-line')"
	eq "phone: a job's page fits 390 px" "$(bv "document.documentElement.scrollWidth <= 390")" true
	check "screenshot $JS_BIN/ui-phone-job.png" b shot "$JS_BIN/ui-phone-job.png"
	b size 1280 1000

	# no script error and no CSP violation on any of those pages
	b errors
	printf '%s\n' "${B_OUT#ok }" | jq -r '.[]' >"$WORK/errors"
	eq "no script exception, no CSP violation" \
		"$(grep -c -i -E 'exception|content security policy' "$WORK/errors")" 0

	# a wrong token: the page says so
	b click '#logout'
	b type '#token' wrong
	b click '#usetoken'
	check "a wrong token: the page asks for it" b wait 10 "/token is missing or wrong/.test($J('error').textContent)"
	b click '#logout'
	b type '#token' "$SECRET"
	b click '#usetoken'
fi

# every processor stopped (-9, no clean exit): gone within its lease
kill -9 "$PP"
wait "$PP" 2>/dev/null
t0=$(date +%s)
check "healthz: no live processor within the lease (2 s)" wait_until 10 sh -c \
	"[ \"\$(curl -s '$URL/healthz' | jq -r .processors.alive)\" = 0 ]"
eq "  seen within 5 s" "$(( $(date +%s) - t0 <= 5 ))" 1
req GET /healthz
eq "healthz: still 200 (the server is healthy)" "$CODE" 200
jq_eq "healthz: the gpu job still stalled" .stalled 1
if [ "$HAVE_BROWSER" = 1 ]; then
	b open "$URL/"
	check "the page says no live processor" b wait 10 \
		"/no live processor/.test($J('procs').textContent)"
	check "screenshot $JS_BIN/ui-no-processor.png" b shot "$JS_BIN/ui-no-processor.png"
	printf 'quit\n' >&7
	wait "$CDP_PID"
	eq "the browser driver exits cleanly" "$?" 0
fi
exec 7>&- 8<&-
req POST /api/v1/jobs -H "$AUTH" -d '{"shell":"true"}'
eq "an unlabelled job is stalled too with no processor" \
	"$(curl -s "$URL/healthz" | jq -r .stalled)" 2

proc_check_logs
api_stop
finish
