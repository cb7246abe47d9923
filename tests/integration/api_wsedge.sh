#!/bin/sh
# jobspool-apiserver: the WebSocket log stream (GET /api/v1/jobs/{id}/log?ws)
# as a client that does more than read: pings (whole and split across TCP
# segments), pongs and text frames (ignored), its own close (with and
# without a code), frames the server must refuse (unmasked: close 1002;
# too big, 16- or 64-bit length: 1009), a client that vanishes, lines that
# arrive in pieces or exceed the 64 KiB message cap, the handshake's
# refusals (426, 400), and the server stopping under an open stream (1001).
. "$(dirname "$0")/lib.sh"

new_spool
check "server starts" start_api
W=$(mktemp -d /tmp/jobspool-wse.XXXXXX)
T_DIRS="$T_DIRS $W"

# wsx PORT PATH ACTION...: a scripted WebSocket client (python3, stdlib);
# prints STATUS, MSG <op> <text> (MSG <op> len=N <start> for long ones),
# PONG <payload>, CLOSE <code|->, EOF.
cat >"$W/wsx.py" <<'PY'
import os, socket, struct, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=15)
early = b""
if len(sys.argv) > 3 and sys.argv[3].startswith("early"):
    # pings sent in the same segment as the handshake: early:PAYLOAD, or
    # earlyn:COUNT pings of payload "p"
    a, _, v = sys.argv.pop(3).partition(":")
    payload, count = (v, 1) if a == "early" else ("p", int(v))
    k = b"\x01\x02\x03\x04"
    early = (bytes([0x89, 0x80 | len(payload)]) + k +
             bytes(b ^ k[i % 4] for i, b in enumerate(payload.encode()))) * count
s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n" % path).encode() + early)
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d:
        break
    buf += d
head, _, buf = buf.partition(b"\r\n\r\n")
print("STATUS", head.split(b" ")[1].decode() if head else "0", flush=True)

def frame(op, payload, mask=True, fin=True):
    h = bytes([(0x80 if fin else 0) | op])
    n = len(payload)
    mb = 0x80 if mask else 0
    if n < 126:
        h += bytes([mb | n])
    else:
        h += bytes([mb | 126]) + struct.pack(">H", n)
    if not mask:
        return h + payload
    k = os.urandom(4)
    return h + k + bytes(b ^ k[i % 4] for i, b in enumerate(payload))

def need(n):
    global buf
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError
        buf += d

def read_frame():
    global buf
    need(2)
    op, n = buf[0] & 0x0f, buf[1] & 0x7f
    hl = 2
    if n == 126:
        need(4); n = struct.unpack(">H", buf[2:4])[0]; hl = 4
    elif n == 127:
        need(10); n = struct.unpack(">Q", buf[2:10])[0]; hl = 10
    need(hl + n)
    p = buf[hl:hl + n]
    buf = buf[hl + n:]
    return op, p

def show(op, p):
    if op == 8:
        print("CLOSE", struct.unpack(">H", p[:2])[0] if len(p) >= 2 else "-", flush=True)
    elif op == 10:
        print("PONG", p.decode(errors="replace"), flush=True)
    elif len(p) > 200:
        print("MSG %d len=%d %s" % (op, len(p), p[:8].decode(errors="replace")), flush=True)
    else:
        print("MSG %d %s" % (op, p.decode(errors="replace")), flush=True)

def until(pred):
    # reads frames until pred(op, p) or close/EOF; returns the last op
    while True:
        try:
            op, p = read_frame()
        except (EOFError, socket.timeout, ConnectionError):
            print("EOF", flush=True)
            return None
        show(op, p)
        if op == 8 or pred(op, p):
            return op

for a in sys.argv[3:]:
    cmd, _, arg = a.partition(":")
    if cmd == "ping":
        s.sendall(frame(9, arg.encode()))
        until(lambda op, p: op == 10)
    elif cmd == "pong":
        s.sendall(frame(10, arg.encode()))
    elif cmd == "text":
        s.sendall(frame(1, arg.encode()))
    elif cmd == "split":		# a ping sent one byte at a time
        for b in frame(9, arg.encode()):
            s.sendall(bytes([b])); time.sleep(0.01)
        until(lambda op, p: op == 10)
    elif cmd == "unmasked":
        s.sendall(frame(9, b"x", mask=False))
    elif cmd == "big":		# the header of a 5000-byte frame
        s.sendall(bytes([0x81, 0xfe]) + struct.pack(">H", 5000) + b"kkkk")
    elif cmd == "huge":		# a 64-bit length
        s.sendall(bytes([0x81, 0xff]) + struct.pack(">Q", 1 << 20) + b"kkkk")
    elif cmd == "close":
        s.sendall(frame(8, struct.pack(">H", int(arg)) if arg else b""))
    elif cmd == "msg":			# wait for a message holding arg
        until(lambda op, p: arg.encode() in p)
    elif cmd == "wait":			# until the server closes
        until(lambda op, p: False)
    elif cmd == "pongs":		# count the next arg pongs
        got = 0
        while got < int(arg):
            try:
                op, p = read_frame()
            except (EOFError, socket.timeout, ConnectionError):
                break
            if op != 10:
                show(op, p)
                break
            got += 1
        print("PONGS", got, flush=True)
    elif cmd == "pongwithin":		# a pong within arg ms, sending nothing
        s.settimeout(int(arg) / 1000)
        try:
            op, p = read_frame()
            show(op, p)
        except socket.timeout:
            print("TIMEOUT", flush=True)
        s.settimeout(15)
    elif cmd == "sleep":
        time.sleep(int(arg) / 1000)
    elif cmd == "drop":
        s.close()
        sys.exit(0)
PY
wsx() { python3 "$W/wsx.py" "$@"; }
frames() { grep -v '^STATUS' "$1" | tr '\n' '|'; }
submit() {	# JSON -> $ID
	req POST /api/v1/jobs -d "$1"
	ID=$(printf '%s' "$BODY" | jq -r .id)
}

submit '{"shell":"true"}'
printf 'one\n' >"$SPOOL/$ID.log"
LOG="/api/v1/jobs/$ID/log?ws"

# ---- control frames from the client ----
wsx "$PORT" "$LOG" msg:one ping:hi pong:x text:ignored split:slow close:1000 \
	wait >"$W/a" 2>&1
eq "ws 101" "$(sed -n 's/^STATUS //p' "$W/a")" 101
eq "ping answered with its payload (also split in 1-byte segments); pong, text ignored; close echoed" \
	"$(frames "$W/a")" "MSG 2 one|PONG hi|PONG slow|CLOSE 1000|"
wsx "$PORT" "$LOG" msg:one close: wait >"$W/b" 2>&1
eq "a close without a code is answered without one" "$(frames "$W/b")" \
	"MSG 2 one|CLOSE -|"
wsx "$PORT" "$LOG" msg:one unmasked wait >"$W/c" 2>&1
eq "an unmasked frame: close 1002 (protocol error)" "$(frames "$W/c")" \
	"MSG 2 one|CLOSE 1002|"
wsx "$PORT" "$LOG" msg:one big wait >"$W/d" 2>&1
eq "a frame announcing 5000 bytes: close 1009 (too big)" "$(frames "$W/d")" \
	"MSG 2 one|CLOSE 1009|"
wsx "$PORT" "$LOG" msg:one huge wait >"$W/e" 2>&1
eq "a 64-bit length: close 1009" "$(frames "$W/e")" "MSG 2 one|CLOSE 1009|"
wsx "$PORT" "$LOG" msg:one drop >"$W/f" 2>&1
eq "a client that vanishes" "$(frames "$W/f")" "MSG 2 one|"
wsx "$PORT" "$LOG" early:first pongwithin:1500 msg:one close:1000 wait >"$W/p" 2>&1
eq "a ping sent with the handshake is answered at once" "$(frames "$W/p")" \
	"PONG first|MSG 2 one|CLOSE 1000|"
wsx "$PORT" "$LOG" earlyn:700 pongs:700 msg:one close:1000 wait >"$W/q" 2>&1
eq "700 pings (4900 bytes, more than one buffer) with the handshake: 700 pongs" \
	"$(frames "$W/q")" "PONGS 700|MSG 2 one|CLOSE 1000|"
req GET /healthz
eq "the server still answers after all that" "$CODE" 200

# ---- the handshake's refusals ----
req GET "$LOG" -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
	-H 'Sec-WebSocket-Version: 8' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
jerr "WebSocket version 8: 426" 426
req GET "$LOG" -H 'Connection: keep-alive, Upgrade' -H 'Upgrade: websocket' \
	-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: short'
jerr "a bad Sec-WebSocket-Key: 400" 400

# ---- lines in pieces, a line over the 64 KiB message cap ----
submit '{"shell":"true"}'
printf 'par' >"$SPOOL/$ID.log"
wsx "$PORT" "/api/v1/jobs/$ID/log?ws" msg:partial wait >"$W/g" 2>&1 &
G=$!
sleep 0.5
printf 'tial\n' >>"$SPOOL/$ID.log"
sleep 0.3
head -c 70000 /dev/zero | tr '\0' a >>"$SPOOL/$ID.log"
sleep 0.3
printf 'bb\ntail' >>"$SPOOL/$ID.log"
sleep 0.3
mv "$SPOOL/$ID.pending" "$SPOOL/$ID.completed"
wait "$G"
eq "a line written in two pieces is one message; a 70000-byte line is cut at 65536; the unterminated tail comes at the end" \
	"$(frames "$W/g")" \
	"MSG 2 partial|MSG 2 len=65536 aaaaaaaa|MSG 2 len=4466 aaaaaaaa|MSG 2 tail|CLOSE 1000|"

# ---- the server stops under an open stream ----
submit '{"shell":"true"}'
printf 'live\n' >"$SPOOL/$ID.log"
wsx "$PORT" "/api/v1/jobs/$ID/log?ws" msg:live wait >"$W/h" 2>&1 &
H=$!
check "stream open" wait_until 10 grep -q '^MSG 2 live' "$W/h"
api_stop
wait "$H"
check "no stream was left behind at shutdown (the vanished client's ended)" \
	sh -c "! grep -q 'still in flight' '$API_LOG'"
eq "the server stopping closes the stream with 1001" "$(frames "$W/h")" \
	"MSG 2 live|CLOSE 1001|"
finish
