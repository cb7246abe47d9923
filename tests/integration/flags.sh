#!/bin/sh
# Flags of every program (jobspool-apiserver, jobspool-processor,
# jobspool-cleaner): every setting listed by --help is given a bad value on
# the command line, in the environment and in a configuration file; each
# time the program exits 2 and its message names where the value came from
# (option --NAME, environment JOBSPOOL_NAME, FILE:LINE).  Then the
# getopt_long forms (bundled short flags, -XVALUE, --name=value, --, long
# prefixes) and the flag > environment > file order.
. "$(dirname "$0")/lib.sh"

new_spool
WORK=$(mktemp -d /tmp/jobspool-flags.XXXXXX)
T_DIRS="$T_DIRS $WORK"
echo "not a certificate" >"$WORK/file.pem"
CONF="$WORK/bad.conf"
SRV="--server=http://127.0.0.1:9"

# The cases: PROGRAM|SETTING|BAD VALUE|OTHER FLAGS (given as flags in every
# form, so that the setting is reached)|bool (a flag without value: only
# --NAME=VALUE gives it one).  A setting of --help with no case
# here is a failure: a new setting needs its case.
CASES="$WORK/cases"
cat >"$CASES" <<EOF
apiserver|spool||--listen=127.0.0.1:0
apiserver|listen|nope|
apiserver|token|bad|--listen=127.0.0.1:0
apiserver|max-body|1Gb|--listen=127.0.0.1:0
apiserver|max-connections|0|--listen=127.0.0.1:0
apiserver|read-timeout|0|--listen=127.0.0.1:0
apiserver|idle-timeout|2d|--listen=127.0.0.1:0
apiserver|lease|500ms|--listen=127.0.0.1:0
apiserver|tls-cert|/nonexistent/cert.pem|--listen=127.0.0.1:0 --tls-key=$WORK/file.pem
apiserver|tls-key|/nonexistent/key.pem|--listen=127.0.0.1:0 --tls-cert=$WORK/file.pem
apiserver|tls-client-ca|/nonexistent/ca.pem|--listen=127.0.0.1:0 --tls-cert=$WORK/file.pem --tls-key=$WORK/file.pem
apiserver|log-level|loud|--listen=127.0.0.1:0
apiserver|syslog|maybe|--listen=127.0.0.1:0|bool
apiserver|access-log|/nonexistent/access.log|--listen=127.0.0.1:0
apiserver|jwt-secret-file|/nonexistent/jwt.key|--listen=127.0.0.1:0
apiserver|jwt-ttl|forever|--listen=127.0.0.1:0
apiserver|jwt-max-ttl|soon|--listen=127.0.0.1:0
apiserver|jwt-skew|1y|--listen=127.0.0.1:0
apiserver|mint-token|alice:root|--listen=127.0.0.1:0
apiserver|ttl|long|--listen=127.0.0.1:0
processor|spool||
processor|jobs|many|
processor|lease|5x|
processor|kill-grace|1y|
processor|shutdown-grace|soon|
processor|scan-interval|1ms|
processor|user|no-such-user-jobspool|
processor|container-runtime|rkt|
processor|container-global-args|--runtime 'runc'|
processor|container-args|--env "A=b c"|
processor|max-log-size|1Gb|
processor|notify-command|-|
processor|notify-on|success|
processor|notify-url|ftp://example.org/hook|
processor|notify-telegram|chat!|
processor|notify-telegram-token-file|/nonexistent/token|--notify-telegram=42
processor|notify-telegram-api|api.telegram.org|
processor|status-url|status.example.org|
processor|notify-retry-max|1ms|
processor|notify-give-up|1ms|
processor|executor|cloud|
processor|slurm-bin-dir|bin|
processor|slurm-output-dir|out|
processor|slurm-conf|slurm.conf|
processor|slurm-poll|1ms|
processor|slurm-label|gpu|
processor|label|a b|
processor|exclusive|maybe||bool
processor|server|ftp://example.org|
processor|token|a b|$SRV
processor|token-file|/nonexistent/token|$SRV
processor|tls-ca|/nonexistent/ca.pem|$SRV
processor|tls-cert|/nonexistent/cert.pem|$SRV
processor|tls-key|/nonexistent/key.pem|$SRV
processor|claim-wait|10m|$SRV
processor|log-buffer|1K|$SRV
processor|retry-max|1ms|$SRV
processor|log-level|loud|
processor|syslog|maybe||bool
cleaner|spool||
cleaner|retrieved-age|1y|
cleaner|max-age|forever|
cleaner|tmp-age|1hh|
cleaner|max-rate|-1|
cleaner|dry-run|maybe||bool
cleaner|wait|maybe||bool
cleaner|log-level|loud|
cleaner|syslog|maybe||bool
cleaner|idem-age|forever|
EOF

# settings PROGRAM: "NAME VARIABLE" for each setting of PROGRAM's --help
settings() {
	"$JS_BIN/jobspool-$1" --help | awk '
		/^ +(-[A-Za-z], )?--[a-z]/ {
			n = $0; sub(/^ +(-[A-Za-z], )?--/, "", n); sub(/[ =].*/, "", n)
		}
		/\[JOBSPOOL_[A-Z_]*\]$/ {
			v = $0; sub(/.*\[/, "", v); sub(/\]$/, "", v)
			if (n != "config") print n, v
		}'
}

# run PROGRAM ARGS...: runs it (at most 10 s) with the spool of this suite;
# sets RC, ERR
run() {
	r_p=$1; shift
	ERR=$(cd "$WORK" && timeout 10 "$JS_BIN/jobspool-$r_p" "$@" 2>&1 >/dev/null)
	RC=$?
}

# expect DESC WANT-IN-MESSAGE: RC is 2 and ERR holds the text
expect() {
	if [ "$RC" -eq 2 ] && printf '%s' "$ERR" | grep -q -F -- "$2"; then
		ok "$1"
	else
		fail "$1 (exit $RC, want 2 and '$2' in: $(printf '%s' "$ERR" | head -c 300))"
	fi
}

for prog in apiserver processor cleaner; do
	settings "$prog" >"$WORK/settings"
	n=$(wc -l <"$WORK/settings")
	[ "$n" -ge 9 ] && ok "$prog --help lists $n settings" ||
		fail "$prog --help lists $n settings"
	while read -r name var; do
		line=$(grep "^$prog|$name|" "$CASES")
		if [ -z "$line" ]; then
			fail "$prog --$name: no bad-value case in flags.sh"
			continue
		fi
		bad=$(printf '%s' "$line" | cut -d'|' -f3)
		extra=$(printf '%s' "$line" | cut -d'|' -f4)
		kind=$(printf '%s' "$line" | cut -d'|' -f5)
		if [ "$bad" = "-" ]; then
			echo "# $prog --$name: any text is a valid value (nothing to refuse)"
			continue
		fi
		if [ "$prog/$name" = processor/user ] && [ "$(id -u)" -ne 0 ]; then
			skip permission "not root: --user is read only by root" \
				"$prog --$name bad value"
			continue
		fi
		spool="--spool=$SPOOL"
		[ "$name" = spool ] && spool=""
		# shellcheck disable=SC2086 # extra holds whole flags, no blanks
		run "$prog" $spool $extra "--$name=$bad"
		expect "$prog --$name='$bad': exit 2 naming the option" \
			"option --$name: bad value"
		if [ "$kind" = bool ]; then
			# shellcheck disable=SC2086
			run "$prog" $spool $extra --"$name" "$bad"
			expect "$prog --$name takes no next word ('$bad')" \
				"unexpected argument '$bad'"
		else
			# shellcheck disable=SC2086
			run "$prog" $spool $extra --"$name" "$bad"
			expect "$prog --$name '$bad' (value as next word): exit 2" \
				"option --$name: bad value"
		fi
		# shellcheck disable=SC2086
		ERR=$(cd "$WORK" && env "$var=$bad" timeout 10 \
			"$JS_BIN/jobspool-$prog" $spool $extra 2>&1 >/dev/null)
		RC=$?
		expect "$prog $var='$bad': exit 2 naming the variable" \
			"environment $var: bad value"
		printf '# flags.sh\n%s = %s\n' "$name" "$bad" >"$CONF"
		# shellcheck disable=SC2086
		run "$prog" $spool $extra --config "$CONF"
		expect "$prog '$name = $bad' in a file: exit 2 naming file:line" \
			"$CONF:2: bad value"
		# shellcheck disable=SC2086
		ERR=$(cd "$WORK" && env JOBSPOOL_CONFIG="$CONF" timeout 10 \
			"$JS_BIN/jobspool-$prog" $spool $extra 2>&1 >/dev/null)
		RC=$?
		expect "$prog '$name = $bad' in JOBSPOOL_CONFIG's file" \
			"$CONF:2: bad value"
	done <"$WORK/settings"
done

# the value itself is repeated, except a token's
run processor "--spool=$SPOOL" --jobs=many
expect "the bad value is quoted" "bad value 'many' for jobs"
run apiserver "--spool=$SPOOL" --listen=127.0.0.1:0 --token=name-without-secret
expect "a token is not repeated" "bad value for token"
case $ERR in *name-without-secret*) fail "token repeated in: $ERR" ;;
*) ok "the token's text is not in the message" ;; esac
# the short flag is named as written
run processor -s "$SPOOL" -j x
expect "a short flag is named as written" "option -j: bad value 'x'"

# ---- getopt_long forms (jobspool-cleaner -nw is in its SYNOPSIS) ----
. "$(dirname "$0")/cleaner.inc"
mkjob retrieved "2 hours ago"
would() { printf '%s' "$OUT" | grep -q '^jobspool-cleaner: would remove 1 retrieved'; }
cleaner -nw
eq "-nw (bundled) exits 0" "$RC" 0
check "-nw is a dry run" would
cd "$WORK" || exit 1
OUT=$("$JS_BIN/jobspool-cleaner" -nws "$SPOOL" 2>&1); RC=$?
eq "-nws DIR (bundled, value as next word) exits 0" "$RC" 0
check "-nws DIR reads DIR" would
OUT=$("$JS_BIN/jobspool-cleaner" -nws"$SPOOL" 2>&1); RC=$?
eq "-nwsDIR (bundled, value attached) exits 0" "$RC" 0
check "-nwsDIR reads DIR" would
OUT=$("$JS_BIN/jobspool-cleaner" --spool="$SPOOL" --dry-run --max-age=1w \
	--retrieved-age 1h30m -- 2>&1); RC=$?
eq "--name=value, 1w, 1h30m and a final -- exit 0" "$RC" 0
check "... a dry run of DIR" would
OUT=$("$JS_BIN/jobspool-cleaner" --spo "$SPOOL" --dry 2>&1); RC=$?
eq "unambiguous prefixes (--spo, --dry) exit 0" "$RC" 0
check "... a dry run of DIR" would
cd - >/dev/null || exit 1
run cleaner -s "$SPOOL" -n -- extra
expect "an operand after -- is refused" "unexpected argument 'extra'"
run cleaner -s "$SPOOL" -- -n
expect "after -- nothing is an option" "unexpected argument '-n'"
run cleaner -s "$SPOOL" --ma 1h
expect "an ambiguous prefix (--ma: --max-age, --max-rate) is refused" \
	"ambiguous option '--ma'"
run cleaner -s "$SPOOL" -nx
expect "an unknown short flag in a bundle is named" "unknown option '-x'"
run cleaner -s "$SPOOL" --max-age
expect "a missing value is named" "option --max-age needs a value"
run cleaner -s "$SPOOL" --dry-run=perhaps
expect "--bool=value is read as yes or no" "bad value 'perhaps' for dry-run"
run cleaner -s "$SPOOL" --max-age 1h30
expect "1h30 (unit missing) is refused" "bad value '1h30' for max-age"
run cleaner -s "$SPOOL" --max-age 30m1h
expect "30m1h (smaller unit first) is refused" "bad value '30m1h'"
run apiserver -s "$SPOOL" --listen=127.0.0.1:0 --max-body 1KB
expect "1KB (1000 or 1024?) is refused" "bad value '1KB' for max-body"
run apiserver -s "$SPOOL" --listen=127.0.0.1:0 --max-body 64mb
expect "64mb is refused" "bad value '64mb' for max-body"
cleaner --dry-run=no
eq "--dry-run=no exits 0" "$RC" 0
case $(printf '%s' "$OUT" | grep '^jobspool-cleaner:') in
"jobspool-cleaner: removed 1 retrieved"*) ok "--dry-run=no removes" ;;
*) fail "--dry-run=no: $OUT" ;;
esac

# ---- flag > environment > file, read from the processor's start-up line ----
printf 'jobs = 3\nlease = 10s\n' >"$WORK/good.conf"
# startup ENV... -- FLAGS...: the processor's "processing" line
startup() {
	s_env=""
	while [ "$1" != "--" ]; do s_env="$s_env $1"; shift; done
	shift
	: >"$WORK/proc.log"
	# shellcheck disable=SC2086 # s_env holds VAR=value words
	env $s_env "$JS_BIN/jobspool-processor" --spool "$SPOOL" \
		--config "$WORK/good.conf" "$@" 2>"$WORK/proc.log" &
	s_pid=$!
	T_PIDS="$T_PIDS $s_pid"
	wait_until 20 grep -q 'processing ' "$WORK/proc.log"
	stop_pid "$s_pid"
	sed -n 's/.*processing [^,]*, //p' "$WORK/proc.log" | head -n 1
}
case $(startup -- ) in
"-j 3, lease 10.0s"*) ok "the file's values (-j 3, lease 10.0s)" ;;
*) fail "file only: $(cat "$WORK/proc.log")" ;;
esac
case $(startup JOBSPOOL_JOBS=4 JOBSPOOL_LEASE=1m -- ) in
"-j 4, lease 1m00s"*) ok "the environment beats the file" ;;
*) fail "environment: $(cat "$WORK/proc.log")" ;;
esac
case $(startup JOBSPOOL_JOBS=4 JOBSPOOL_LEASE=1m -- -j5 --lease=1h30m) in
"-j 5, lease 1h30m"*) ok "flags beat the environment" ;;
*) fail "flags: $(cat "$WORK/proc.log")" ;;
esac

finish
