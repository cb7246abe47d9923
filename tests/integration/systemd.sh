#!/bin/sh
# Running it for real (issue 18): the files of examples/ and Type=notify.
#  (a) systemd-analyze verify accepts every unit and timer of examples/ (the
#      programs of the build under test in ExecStart, the man pages of man/
#      on MANPATH, so nothing is filtered out), and refuses a broken copy;
#      the cleaner's sandbox is no looser than the apiserver's
#      (systemd-analyze security --offline);
#  (b) the apiserver and the processor tell a service manager READY=1 only
#      once they serve (a listener standing in for systemd probes the port,
#      the registry and the spool the moment READY arrives), STATUS=,
#      STOPPING=1 on SIGTERM, WATCHDOG=1 with WATCHDOG_USEC; on a path and
#      an abstract ('@') socket; no READY from a server that cannot start;
#  (c) systemd-sysusers and systemd-tmpfiles --root, run on what make
#      install put in $PREFIX/lib/sysusers.d and tmpfiles.d, make the user
#      and the directories with the right owner and mode;
#  (d) nginx with examples/nginx-jobspool.conf (ports, upstream and
#      certificate substituted) in front of a real apiserver and processor:
#      a followed log and a WebSocket through it get a line while the job
#      still runs (the job waits for the test to let it end).
# systemd (systemd-analyze, systemd-sysusers, systemd-tmpfiles) and
# nginx-light are installed by scripts/deps.sh.  systemd need not run: none
# of this talks to PID 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proc.inc"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "$JS_BIN" && pwd)

command -v systemd-analyze >/dev/null 2>&1 ||
	skip_suite install "systemd-analyze missing (apt-get install systemd; scripts/deps.sh does it)"
proc_setup

# ---- (a) the units -------------------------------------------------------
U="$WORK/units"
mkdir -p "$U/man/man5" "$U/man/man7" "$U/man/man8"
cp "$ROOT"/man/*.5 "$U/man/man5/" && cp "$ROOT"/man/*.7 "$U/man/man7/" &&
	cp "$ROOT"/man/*.8 "$U/man/man8/"
for f in "$ROOT"/examples/*.service "$ROOT"/examples/*.timer; do
	sed "s#/usr/local/bin/#$BIN/#g" "$f" >"$U/$(basename "$f")"
done
units=$(cd "$U" && ls *.service *.timer)
check "examples/ has the apiserver, processor and cleaner units and the timer" \
	test "$(printf '%s\n' $units | tr '\n' ' ')" = \
	"jobspool-apiserver.service jobspool-cleaner.service jobspool-cleaner.timer jobspool-processor.service "
for u in $units; do
	out=$(cd "$U" && MANPATH="$U/man" SYSTEMD_LOG_COLOR=0 \
		systemd-analyze verify "./$u" 2>&1)
	rc=$?
	eq "systemd-analyze verify $u: exit 0" "$rc" 0
	eq "systemd-analyze verify $u: nothing to report" "$out" ""
done
# the same check sees typos (it still exits 0 for them: hence the checks of
# its output above)
sed 's/^Type=notify$/Type=notifyy/; s/^NotifyAccess=main$/NotifyAcces=main/' \
	"$U/jobspool-apiserver.service" >"$U/broken.service"
out=$(cd "$U" && MANPATH="$U/man" systemd-analyze verify ./broken.service 2>&1)
check "verify reports a bad Type= and an unknown key" sh -c \
	"printf '%s' \"\$1\" | grep -q 'notifyy' && printf '%s' \"\$1\" | grep -q 'NotifyAcces'" _ "$out"
rm -f "$U/broken.service"

# key SETTING UNIT: the unit's value(s) of SETTING, one line
key() { sed -n "s/^$1=//p" "$ROOT/examples/$2" | tr '\n' ' ' | sed 's/ $//'; }
for u in jobspool-apiserver.service jobspool-processor.service; do
	eq "$u: Type=notify" "$(key Type $u)" notify
	eq "$u: NotifyAccess=main" "$(key NotifyAccess $u)" main
done
c=jobspool-cleaner.service
eq "$c: Type=oneshot" "$(key Type $c)" oneshot
eq "$c: runs as jobspool" "$(key User $c):$(key Group $c)" jobspool:jobspool
check "$c: runs jobspool-cleaner on the spool" sh -c \
	"grep -q '^ExecStart=/usr/local/bin/jobspool-cleaner --spool /var/spool/jobspool' '$ROOT/examples/$c'"
eq "$c: the spool is the only writable path" "$(key ReadWritePaths $c)" /var/spool/jobspool
eq "$c: ProtectSystem=strict" "$(key ProtectSystem $c)" strict
eq "$c: no network" "$(key PrivateNetwork $c)" yes
t=jobspool-cleaner.timer
eq "$t: hourly" "$(key OnCalendar $t)" hourly
eq "$t: Persistent=true" "$(key Persistent $t)" true
check "$t: a RandomizedDelaySec" test -n "$(key RandomizedDelaySec $t)"
eq "$t: wanted by timers.target" "$(key WantedBy $t)" timers.target
# exposure ("1.2 OK") of a unit by systemd's own scoring of its sandbox
exposure() {
	(cd "$U" && systemd-analyze security --offline=true "./$1" 2>/dev/null) |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
ea=$(exposure jobspool-apiserver.service)
ec=$(exposure jobspool-cleaner.service)
if [ -n "$ea" ] && [ -n "$ec" ]; then
	check "the cleaner is sandboxed at least as tightly as the apiserver ($ec <= $ea)" \
		awk -v c="$ec" -v a="$ea" 'BEGIN { exit !(c <= a && c < 4) }'
else
	fail "systemd-analyze security --offline gave no score ('$ea', '$ec')"
fi

# ---- (b) Type=notify -----------------------------------------------------
# notify_listen.py ADDR OUT: a datagram socket at ADDR (a path, or @name in
# the abstract namespace) standing in for systemd; writes "bound", then one
# line per message (newlines as '|').  At READY=1 it probes, at once:
# PROBE_PORT: GET /healthz there ("probe=http:CODE" or "probe=refused");
# PROBE_REG: files in that registry directory ("probe=reg:N"); PROBE_SPOOL:
# pending files left there ("probe=pending:N").
cat >"$WORK/notify_listen.py" <<'EOF'
import glob, http.client, os, socket, sys
addr, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
f = open(out, "a")
f.write("bound\n"); f.flush()
while True:
    m = s.recv(65536).decode()
    line = m.replace("\n", "|")
    if "READY=1" in m.split("\n"):
        if os.environ.get("PROBE_PORT"):
            try:
                c = http.client.HTTPConnection("127.0.0.1", int(os.environ["PROBE_PORT"]), timeout=5)
                c.request("GET", "/healthz")
                line += " probe=http:%d" % c.getresponse().status
            except OSError:
                line += " probe=refused"
        if os.environ.get("PROBE_REG"):
            line += " probe=reg:%d" % len(glob.glob(os.environ["PROBE_REG"] + "/*.json"))
        if os.environ.get("PROBE_SPOOL"):
            line += " probe=pending:%d" % len(glob.glob(os.environ["PROBE_SPOOL"] + "/*.pending"))
    f.write(line + "\n"); f.flush()
EOF
# listen ADDR OUT [VAR=VALUE...]: starts the listener; sets $LPID
listen() {
	l_addr=$1 l_out=$2; shift 2
	: >"$l_out"
	env "$@" python3 "$WORK/notify_listen.py" "$l_addr" "$l_out" &
	LPID=$!
	T_PIDS="$T_PIDS $LPID"
	wait_until 20 grep -q '^bound$' "$l_out"
}
got() { grep -q -e "$2" "$1"; }
# order FILE: the READY=1 and STOPPING=1 messages, in the order received
order() { grep -E '^(READY|STOPPING)=1' "$1" | cut -d'|' -f1 | cut -d' ' -f1 | tr '\n' ' '; }
# pings FILE: WATCHDOG=1 messages received during one second
pings() {
	p0=$(grep -c '^WATCHDOG=1$' "$1"); sleep 1
	echo $(( $(grep -c '^WATCHDOG=1$' "$1") - p0 ))
}

# -- the apiserver, on a path socket, on a port chosen here (the listener
# probes it), with a watchdog
N="$WORK/notify.sock"
P=$(free_port)
check "listener bound at a path" listen "$N" "$WORK/api.msgs" PROBE_PORT="$P"
API_LOG="$WORK/api.log"
NOTIFY_SOCKET="$N" WATCHDOG_USEC=300000 "$BIN/jobspool-apiserver" \
	--spool "$SPOOL" --listen "127.0.0.1:$P" 2>"$API_LOG" &
API_PID=$!
T_PIDS="$T_PIDS $API_PID"
check "the apiserver says READY=1" wait_until 20 got "$WORK/api.msgs" '^READY=1'
r=$(grep '^READY=1' "$WORK/api.msgs" | head -n 1)
eq "READY=1 once: its port answers /healthz at that moment" \
	"$(printf '%s' "$r" | sed -n 's/.* probe=//p')" http:200
check "with STATUS= naming the URL and the spool" sh -c \
	"printf '%s' '$r' | grep -q '|STATUS=listening on http://127.0.0.1:$P, spool $SPOOL'"
eq "nothing was sent before READY=1" "$(head -n 2 "$WORK/api.msgs" | tail -n 1 | cut -c1-7)" "READY=1"
n=$(pings "$WORK/api.msgs")
check "WATCHDOG=1 every half WATCHDOG_USEC of 0.3 s ($n in 1 s)" test "$n" -ge 4 -a "$n" -le 8
kill -TERM "$API_PID"
wait "$API_PID"
eq "the apiserver exits 0 on SIGTERM" "$?" 0
check "STOPPING=1 on SIGTERM" got "$WORK/api.msgs" '^STOPPING=1|STATUS=stopping'
eq "... once, after READY=1" "$(order "$WORK/api.msgs")" "READY=1 STOPPING=1 "
check "no warning about the notifications" sh -c "! grep -q 'service manager' '$API_LOG'"
kill "$LPID"

# -- the abstract namespace; WATCHDOG_PID of another process: no keep-alive
A="@jobspool-test-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
check "listener bound in the abstract namespace" listen "$A" "$WORK/abs.msgs" PROBE_PORT="$P"
NOTIFY_SOCKET="$A" WATCHDOG_USEC=200000 WATCHDOG_PID=1 "$BIN/jobspool-apiserver" \
	--spool "$SPOOL" --listen "127.0.0.1:$P" 2>"$API_LOG" &
API_PID=$!
T_PIDS="$T_PIDS $API_PID"
check "READY=1 through an abstract socket ($A)" wait_until 20 got "$WORK/abs.msgs" '^READY=1.* probe=http:200$'
sleep 0.5
eq "WATCHDOG_PID of another process: no WATCHDOG=1" "$(grep -c '^WATCHDOG' "$WORK/abs.msgs")" 0
kill -TERM "$API_PID"; wait "$API_PID"
check "STOPPING=1 through the abstract socket" got "$WORK/abs.msgs" '^STOPPING=1'

# -- a server that cannot start (its port taken) says nothing
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(60)' "$P" &
HOG=$!
T_PIDS="$T_PIDS $HOG"
wait_until 20 python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$P"
: >"$WORK/abs.msgs"
printf 'bound\n' >"$WORK/abs.msgs"
NOTIFY_SOCKET="$A" "$BIN/jobspool-apiserver" --spool "$SPOOL" \
	--listen "127.0.0.1:$P" 2>"$API_LOG" &
API_PID=$!
wait "$API_PID"
eq "with its port taken the apiserver exits 1" "$?" 1
sleep 0.2
eq "... and never said READY=1" "$(grep -c '^READY' "$WORK/abs.msgs")" 0
kill "$HOG" "$LPID"

# -- an unusable NOTIFY_SOCKET is a warning, not a failure
NOTIFY_SOCKET="relative/sock" "$BIN/jobspool-apiserver" --spool "$SPOOL" \
	--listen 127.0.0.1:0 2>"$API_LOG" &
API_PID=$!
T_PIDS="$T_PIDS $API_PID"
check "a bad NOTIFY_SOCKET: the server starts anyway" wait_until 20 grep -q 'listening on http' "$API_LOG"
check "... and warns that it cannot tell the service manager" \
	grep -q 'warning: cannot tell the service manager that the server is ready (NOTIFY_SOCKET): Invalid argument' "$API_LOG"
kill -TERM "$API_PID"; wait "$API_PID"
eq "... and exits 0 on SIGTERM" "$?" 0

# -- the processor: a job pending before it starts, a path socket
J1=$(submit '{"name":"before","shell":"echo before"}')
check "listener bound for the processor" listen "$N.p" "$WORK/proc.msgs" \
	PROBE_REG="$SPOOL/processors" PROBE_SPOOL="$SPOOL"
export NOTIFY_SOCKET="$N.p" WATCHDOG_USEC=400000
start_proc -j 2
unset NOTIFY_SOCKET WATCHDOG_USEC
check "the processor says READY=1" wait_until 20 got "$WORK/proc.msgs" '^READY=1'
r=$(grep '^READY=1' "$WORK/proc.msgs" | head -n 1)
check "at READY=1 it is in the registry ($r)" sh -c "printf '%s' '$r' | grep -q 'probe=reg:1'"
check "... and the job pending before it started is claimed" sh -c \
	"printf '%s' '$r' | grep -q 'probe=pending:0'"
check "... and it had logged that it is processing" grep -q 'processing .* as ' "$PROC_LOG"
check "STATUS= names the spool and its slots" \
	got "$WORK/proc.msgs" "^STATUS=processing $SPOOL: [0-9] of 2 slots busy"
check "the job pending before the start completes" wait_final 30 "$J1"
J2=$(submit '{"name":"after","shell":"echo after"}')
check "a job submitted after READY=1 completes" wait_final 30 "$J2"
n=$(pings "$WORK/proc.msgs")
check "WATCHDOG=1 from the event loop every half WATCHDOG_USEC of 0.4 s ($n in 1 s)" \
	test "$n" -ge 3 -a "$n" -le 6
# a job still running at SIGTERM: STOPPING=1 comes at the signal, before
# the job's grace period ends (systemd then knows the stop has begun)
J3=$(submit '{"name":"long","shell":"sleep 3; echo done"}')
check "a job runs at SIGTERM" wait_until 20 test -f "$SPOOL/$J3.wip"
kill -TERM "$PROC_PID"
check "STOPPING=1 at SIGTERM, while the job still runs" wait_until 2 \
	got "$WORK/proc.msgs" '^STOPPING=1'
check "... the processor is still there, in its grace period" \
	kill -0 "$PROC_PID"
wait "$PROC_PID"
eq "the processor exits 0 on SIGTERM" "$?" 0
check "the job finished in the grace period" test -f "$SPOOL/$J3.completed"
check "STOPPING=1 on SIGTERM" got "$WORK/proc.msgs" '^STOPPING=1'
eq "... once, after READY=1" "$(order "$WORK/proc.msgs")" "READY=1 STOPPING=1 "
check "no warning about the notifications" sh -c "! grep -q 'service manager' '$PROC_LOG'"
kill "$LPID"

# -- a processor that cannot start (its spool is a file) says nothing
check "listener bound again" listen "$N.q" "$WORK/bad.msgs"
NOTIFY_SOCKET="$N.q" "$BIN/jobspool-processor" --spool "$WORK/notify_listen.py" \
	2>"$WORK/bad.log"
eq "a processor on a file for a spool exits 1" "$?" 1
sleep 0.2
eq "... and never said READY=1" "$(grep -c '^READY' "$WORK/bad.msgs")" 0
kill "$LPID"
proc_check_logs

# ---- (c) systemd-sysusers and systemd-tmpfiles on the installed snippets --
if [ "$(id -u)" -ne 0 ]; then
	skip permission "not root: systemd-tmpfiles cannot give the spool to jobspool" \
		"sysusers.d and tmpfiles.d snippets applied with --root"
elif command -v systemd-sysusers >/dev/null 2>&1 &&
    command -v systemd-tmpfiles >/dev/null 2>&1; then
	R="$WORK/root"
	mkdir -p "$R/etc"
	make -s --no-print-directory -C "$ROOT" -o all B="$BIN" PREFIX=/usr \
		DESTDIR="$R" install >"$WORK/install.log" 2>&1
	eq "make install PREFIX=/usr DESTDIR=root" "$?" 0
	systemd-sysusers --root="$R" >"$WORK/sysusers.log" 2>&1
	eq "systemd-sysusers --root finds usr/lib/sysusers.d/jobspool.conf" "$?" 0
	pw=$(grep '^jobspool:' "$R/etc/passwd")
	uid=$(printf '%s' "$pw" | cut -d: -f3)
	gid=$(printf '%s' "$pw" | cut -d: -f4)
	eq "the user: GECOS, home, shell" "$(printf '%s' "$pw" | cut -d: -f5-)" \
		"jobspool job queue:/var/spool/jobspool:/usr/sbin/nologin"
	check "a system uid ($uid < 1000)" test -n "$uid" -a "${uid:-1000}" -lt 1000
	eq "its own group jobspool" "$(grep "^jobspool:x:$gid:" "$R/etc/group" | cut -d: -f1)" jobspool
	systemd-sysusers --root="$R" >>"$WORK/sysusers.log" 2>&1
	eq "a second run changes nothing" "$(grep '^jobspool:' "$R/etc/passwd")" "$pw"
	systemd-tmpfiles --create --root="$R" >"$WORK/tmpfiles.log" 2>&1
	eq "systemd-tmpfiles --create --root finds usr/lib/tmpfiles.d/jobspool.conf" "$?" 0
	eq "/var/spool/jobspool: 0750, jobspool's uid and gid" \
		"$(stat -c '%a %u %g' "$R/var/spool/jobspool" 2>&1)" "750 $uid $gid"
	eq "/etc/jobspool: 0755 root" "$(stat -c '%a %u %g' "$R/etc/jobspool" 2>&1)" "755 0 0"
	# the spool in use is left alone: no age, nothing removed
	touch "$R/var/spool/jobspool/x.pending" "$R/var/spool/jobspool/x.log"
	touch -d '2000-01-01' "$R/var/spool/jobspool/x.pending" "$R/var/spool/jobspool/x.log"
	systemd-tmpfiles --create --clean --remove --root="$R" >>"$WORK/tmpfiles.log" 2>&1
	eq "--clean/--remove keep a 26-year-old job file" \
		"$(ls "$R/var/spool/jobspool" | tr '\n' ' ')" "x.log x.pending "
else
	skip install "systemd-sysusers/systemd-tmpfiles missing (apt-get install systemd)" \
		"sysusers.d and tmpfiles.d snippets applied with --root"
fi

# ---- (d) nginx in front of the apiserver -----------------------------------
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
	skip install "nginx missing (apt-get install nginx-light; scripts/deps.sh does it)" \
		"a log followed through examples/nginx-jobspool.conf"
	finish
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
check "apiserver for the proxy starts" start_api --token alice:s3cret-alice-proxy
AUTH="Authorization: Bearer s3cret-alice-proxy"
start_proc -j 2
PKI="$WORK/pki"
mkdir -p "$PKI"
check "a certificate for nginx" mkcert nginx 'cn = 127.0.0.1
ip_address = 127.0.0.1
tls_www_server
signing_key
encryption_key' ""
NP=$(free_port)
NG="$WORK/nginx"
mkdir -p "$NG/tmp"
# the example with the test's ports and certificate, and nothing else
sed -e "s#server 127.0.0.1:8080;#server 127.0.0.1:$PORT;#" \
	-e "s#listen 443 ssl;#listen 127.0.0.1:$NP ssl;#" \
	-e '/listen \[::\]:443 ssl;/d' \
	-e "s#/etc/ssl/certs/jobs.example.org.pem#$PKI/nginx.pem#" \
	-e "s#/etc/ssl/private/jobs.example.org.key#$PKI/nginx.key#" \
	"$ROOT/examples/nginx-jobspool.conf" >"$NG/site.conf"
eq "only the ports, upstream and certificate were changed" \
	"$(diff "$ROOT/examples/nginx-jobspool.conf" "$NG/site.conf" | grep -c '^>')" 4
cat >"$NG/nginx.conf" <<EOF
daemon off;
master_process off;
pid $NG/nginx.pid;
error_log $NG/error.log info;
events { worker_connections 256; }
http {
	access_log $NG/access.log;
	client_body_temp_path $NG/tmp/body;
	proxy_temp_path $NG/tmp/proxy;
	fastcgi_temp_path $NG/tmp/fastcgi;
	uwsgi_temp_path $NG/tmp/uwsgi;
	scgi_temp_path $NG/tmp/scgi;
	include $NG/site.conf;
}
EOF
"$NGINX" -t -p "$NG" -e "$NG/error.log" -c "$NG/nginx.conf" >"$NG/t.log" 2>&1
eq "nginx -t accepts the example" "$?" 0
"$NGINX" -p "$NG" -e "$NG/error.log" -c "$NG/nginx.conf" 2>>"$NG/error.log" &
NGX_PID=$!
T_PIDS="$T_PIDS $NGX_PID"
PURL="https://127.0.0.1:$NP"
pcurl() { curl -s --cacert "$PKI/nginx.pem" --max-time 30 "$@"; }
check "nginx answers /healthz over TLS" wait_until 20 sh -c \
	"curl -s -o /dev/null --cacert '$PKI/nginx.pem' -w '%{http_code}' '$PURL/healthz' | grep -q 200"

# a job that prints a line, then waits for the test's word to end
GO="$WORK/go"
rm -f "$GO"
ID=$(pcurl --fail-with-body -H "$AUTH" -H 'Content-Type: application/json' \
	-d "{\"name\":\"through-nginx\",\"shell\":\"echo first line; while [ ! -e $GO ]; do sleep 0.05; done; echo second line\"}" \
	"$PURL/api/v1/jobs" | jq -r .id)
check "a job submitted through nginx ($ID)" test "${#ID}" -eq 36
pcurl -N -H "$AUTH" "$PURL/api/v1/jobs/$ID/log?follow=1" >"$WORK/follow.out" 2>&1 &
FPID=$!
T_PIDS="$T_PIDS $FPID"
check "the followed log's first line arrives through nginx" \
	wait_until 20 grep -q '^first line$' "$WORK/follow.out"
check "... while the job still runs (not final, no second line)" sh -c \
	"test -f '$SPOOL/$ID.wip' && ! grep -q 'second line' '$WORK/follow.out'"
check "... and the follow is still open" kill -0 "$FPID"

# the log's WebSocket (?ws=1) through nginx, over TLS (python's ssl: curl in
# Debian 12 has no WebSocket)
cat >"$WORK/wss.py" <<'EOF'
import base64, os, socket, ssl, sys, time
port, path, token, ca, until = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="127.0.0.1")
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n"
           % (path, key, token)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d: break
    buf += d
head, _, buf = buf.partition(b"\r\n\r\n")
print("STATUS", head.split(b" ")[1].decode(), flush=True)
def need(n):
    global buf
    while len(buf) < n:
        d = s.recv(4096)
        if not d: raise EOFError
        buf += d
    r, buf = buf[:n], buf[n:]
    return r
try:
    while True:
        h = need(2); op = h[0] & 15; n = h[1] & 127
        if n == 126: n = int.from_bytes(need(2), "big")
        elif n == 127: n = int.from_bytes(need(8), "big")
        p = need(n)
        if op == 8: print("CLOSE", flush=True); break
        if op in (1, 2):
            print("MSG", p.decode(errors="replace").rstrip("\n"), flush=True)
            if until in p.decode(errors="replace"): break
except (EOFError, OSError) as e:
    print("ERROR", e, flush=True)
EOF
python3 "$WORK/wss.py" "$NP" "/api/v1/jobs/$ID/log?ws=1" s3cret-alice-proxy \
	"$PKI/nginx.pem" "first line" >"$WORK/ws.out" 2>&1 &
WPID=$!
T_PIDS="$T_PIDS $WPID"
check "the WebSocket upgrade passes nginx (101)" wait_until 20 grep -q '^STATUS 101$' "$WORK/ws.out"
check "... and the job's line arrives over it" wait_until 20 grep -q '^MSG .*first line' "$WORK/ws.out"
check "... while the job still runs" test -f "$SPOOL/$ID.wip"

# the control: the same site without its log location (a plain proxy,
# buffering on) holds the line back while the job runs
NP2=$(free_port)
sed -e '/# logs, followed or over a WebSocket/,/^	}$/d' \
	-e "s#listen 127.0.0.1:$NP ssl;#listen 127.0.0.1:$NP2 ssl;#" \
	"$NG/site.conf" >"$NG/plain.conf"
sed -e "s#$NG/site.conf#$NG/plain.conf#" -e "s#$NG/nginx.pid#$NG/plain.pid#" \
	"$NG/nginx.conf" >"$NG/plain-nginx.conf"
check "the control site has no log location" sh -c "! grep -q -e '^[[:space:]]*proxy_buffering' -e 'location ~' '$NG/plain.conf'"
"$NGINX" -p "$NG" -e "$NG/error.log" -c "$NG/plain-nginx.conf" 2>>"$NG/error.log" &
NGX2_PID=$!
T_PIDS="$T_PIDS $NGX2_PID"
check "the control nginx answers" wait_until 20 sh -c \
	"curl -s -o /dev/null --cacert '$PKI/nginx.pem' -w '%{http_code}' 'https://127.0.0.1:$NP2/healthz' | grep -q 200"
pcurl -N -H "$AUTH" "https://127.0.0.1:$NP2/api/v1/jobs/$ID/log?follow=1" >"$WORK/plain.out" 2>&1 &
PPID2=$!
T_PIDS="$T_PIDS $PPID2"
sleep 3
check "without it, no line within 3 s while the job runs (buffered)" sh -c \
	"test -f '$SPOOL/$ID.wip' && ! grep -q 'first line' '$WORK/plain.out'"

touch "$GO"
check "... and the buffered follow gets it all only at the end" \
	wait_until 30 grep -q '^second line$' "$WORK/plain.out"
kill "$NGX2_PID" 2>/dev/null
wait "$NGX2_PID" 2>/dev/null
check "the second line arrives once the job goes on" wait_until 30 grep -q '^second line$' "$WORK/follow.out"
check "the follow through nginx ends when the job ends" wait_until 30 sh -c "! kill -0 $FPID 2>/dev/null"
check "the job completed" wait_final 30 "$ID"
eq "the followed log through nginx is the whole log" "$(cat "$WORK/follow.out")" "$(cat "$SPOOL/$ID.log")"
req_ok=$(pcurl -o /dev/null -w '%{http_code}' -H "$AUTH" "$PURL/api/v1/jobs/$ID?peek=1")
eq "a plain API request through nginx (200)" "$req_ok" 200
eq "and without the token through nginx: 401 from the apiserver" \
	"$(pcurl -o /dev/null -w '%{http_code}' "$PURL/api/v1/jobs/$ID?peek=1")" 401
check "nginx logged no upstream error" sh -c "! grep -q -E '\\[(error|crit)\\]' '$NG/error.log'"
kill "$NGX_PID" 2>/dev/null
wait "$NGX_PID" 2>/dev/null
kill -TERM "$PROC_PID"; wait "$PROC_PID"
api_stop
proc_check_logs
finish
