#!/bin/sh
# The status page (GET /) in a real browser, headless Chromium (Debian
# package chromium, installed by scripts/deps.sh): served from the program
# with a strict Content-Security-Policy and nothing from outside, it takes
# the token (here from the address's fragment, as a typed one), lists a job
# submitted with curl, shows why a pending job waits, and a hostile job
# name stays text.  Screenshots are saved in the build directory
# (ui-overview.png, ui-job.png, ui-no-processor.png) for a person to look at.  Also
# /healthz: the live processors, "stalled" jobs, and a processor killed
# with -9 gone from it within its lease.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"

CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || skip_suite install "chromium is missing (apt-get install chromium; scripts/deps.sh does it)"

proc_setup
SECRET=ui-s3cret-TOKEN
check "server starts" start_api --token "alice:$SECRET:admin"
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
eq "  nothing from another host" "$(grep -c -E '(src|href)="(https?:)?//' "$RESP_FILE")" 0
req GET /ui/app.js
eq "GET /ui/app.js is 200" "$CODE" 200
eq "  the script writes no HTML (textContent only)" \
	"$(grep -c -E 'innerHTML|outerHTML|insertAdjacentHTML|document\.write' "$RESP_FILE")" 0
req GET /ui/app.css
eq "GET /ui/app.css is 200" "$CODE" 200
req GET /ui/nope.js
eq "GET /ui/nope.js is 404 (JSON)" "$CODE" 404

# jobs: one that runs, a hostile name, one no processor can take
HOSTILE='<img src=x onerror=alert(1)>'
req POST /api/v1/jobs -H "$AUTH" -d '{"name":"ui-probe","shell":"echo hi"}'
eq "a job is submitted" "$CODE" 201
A=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -H "$AUTH" -d "$(jq -nc --arg n "$HOSTILE" '{name: $n, shell: "true"}')"
eq "a job with a hostile name is submitted" "$CODE" 201
H=$(printf '%s' "$BODY" | jq -r .id)
req POST /api/v1/jobs -H "$AUTH" -d '{"name":"needs-gpu","shell":"true","labels":["gpu"]}'
eq "a job asking for label gpu is submitted" "$CODE" 201
G=$(printf '%s' "$BODY" | jq -r .id)
check "the two runnable jobs finish" wait_final 30 "$A" "$H"

# /healthz with a live processor
check "healthz: one live processor" wait_until 10 sh -c "[ \"\$(curl -s '$URL/healthz' | jq -r .processors.alive)\" = 1 ]"
req GET /healthz
eq "healthz: 200" "$CODE" 200
jq_eq "healthz: spool writable" .spool.writable true
jq_eq "healthz: free bytes given" '.spool.free_bytes > 0' true
jq_eq "healthz: one pending" .pending 1
jq_eq "healthz: the gpu job is stalled (no live processor has gpu)" .stalled 1
jq_eq "healthz: the processor's slots" .processors.slots 2
m=$(curl -s "$URL/metrics")
check "metrics: processors{label=\"\"} 1" sh -c "printf '%s\n' \"\$1\" | grep -q '^jobspool_processors{label=\"\"} 1\$'" _ "$m"

# the page in headless Chromium
PROFILE="$WORK/chrome"
mkdir -p "$PROFILE"
chrome() {
	HOME="$WORK" timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu \
		--disable-dev-shm-usage --no-first-run --user-data-dir="$PROFILE" \
		--virtual-time-budget=8000 "$@" 2>>"$WORK/chrome.log"
}
chrome --dump-dom "$URL/#token=$SECRET" >"$WORK/dom.html"
if ! grep -q '<html' "$WORK/dom.html"; then
	tail -n 20 "$WORK/chrome.log"
	skip permission "Chromium could not start here (see its log above)" "the browser checks"
else
	check "the page lists the job submitted with curl" grep -q "$A" "$WORK/dom.html"
	check "  with its name" grep -q '>ui-probe<' "$WORK/dom.html"
	check "the hostile name is shown as text" grep -q -F \
		'&lt;img src=x onerror=alert(1)&gt;' "$WORK/dom.html"
	eq "  and made no element" "$(grep -c '<img' "$WORK/dom.html")" 0
	check "the pending job says why it waits" grep -q "$G" "$WORK/dom.html"
	check "  (no live processor has label gpu)" grep -q -i 'gpu' "$WORK/dom.html"
	check "counts by state are shown" grep -q 'card st-completed' "$WORK/dom.html"
	check "the live processor is listed" grep -q "$(hostname)" "$WORK/dom.html"
	check "the token is not asked again (no error shown)" \
		grep -q '<p id="error" class="error" hidden=""' "$WORK/dom.html"
	chrome --window-size=1280,1000 --screenshot="$JS_BIN/ui-overview.png" \
		"$URL/#token=$SECRET" >/dev/null
	check "screenshot $JS_BIN/ui-overview.png" test -s "$JS_BIN/ui-overview.png"
	# a job's panel (#job=ID opens it): its fields and its log
	chrome --dump-dom "$URL/#token=$SECRET&job=$A" >"$WORK/dom4.html"
	check "job panel: open, with its log" grep -q '<pre id="joblog">hi' "$WORK/dom4.html"
	check "job panel: its fields (exit_code)" grep -q '<td>exit_code</td><td>0</td>' "$WORK/dom4.html"
	check "job panel: a final job offers Re-run, not Cancel" \
		grep -q '<button type="button" id="jobcancel" hidden="">' "$WORK/dom4.html"
	req POST /api/v1/jobs -H "$AUTH" -d '{"name":"live","shell":"echo live-line; sleep 30"}'
	R=$(printf '%s' "$BODY" | jq -r .id)
	check "a running job's first line is in its log" wait_until 20 grep -q live-line "$SPOOL/$R.log"
	chrome --dump-dom "$URL/#token=$SECRET&job=$R" >"$WORK/dom5.html"
	check "job panel of a running job: the line it printed" grep -q 'live-line' "$WORK/dom5.html"
	check "  and a Cancel button" grep -q '<button type="button" id="jobcancel">' "$WORK/dom5.html"
	chrome --window-size=1280,1200 --screenshot="$JS_BIN/ui-job.png" \
		"$URL/#token=$SECRET&job=$R" >/dev/null
	check "screenshot $JS_BIN/ui-job.png" test -s "$JS_BIN/ui-job.png"
	req DELETE "/api/v1/jobs/$R" -H "$AUTH"
	eq "the running job is cancelled (202)" "$CODE" 202
	check "  and ends cancelled" wait_final 20 "$R"
	# a wrong token: the page says so
	chrome --dump-dom "$URL/#token=wrong" >"$WORK/dom2.html"
	check "a wrong token: the page asks for it" grep -q 'token is missing or wrong' "$WORK/dom2.html"
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
if grep -q '<html' "$WORK/dom.html"; then
	chrome --dump-dom "$URL/#token=$SECRET" >"$WORK/dom3.html"
	check "the page says no live processor" grep -q 'no live processor' "$WORK/dom3.html"
	chrome --window-size=1280,1000 --screenshot="$JS_BIN/ui-no-processor.png" \
		"$URL/#token=$SECRET" >/dev/null
	check "screenshot $JS_BIN/ui-no-processor.png" test -s "$JS_BIN/ui-no-processor.png"
fi
req POST /api/v1/jobs -H "$AUTH" -d '{"shell":"true"}'
eq "an unlabelled job is stalled too with no processor" \
	"$(curl -s "$URL/healthz" | jq -r .stalled)" 2

proc_check_logs
api_stop
finish
