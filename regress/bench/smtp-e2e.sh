#!/bin/bash
# smtp-e2e.sh -- end-to-end SMTP benchmark, tsamba and Postfix+Dovecot in
# the same run:
#   smtp-source --SMTP--> tsamba-smtpd -> tsamba-queue --LMTP--> tsamba-lmtpd
#               -> Maildir
# then ../shared/peers/smtp/run-postfix-dovecot.sh with the same N, S, C.
# The load and the clock are those of the peer's lib.sh (timed_run): jobs
# of BATCH=10 messages to one random user u1..u100@example.test, run
# C at a time with xargs -P, one connection per message; timing from the
# first connect until the last file is in a Maildir new/.  Peak RSS/PSS of
# the daemons' process trees is sampled every second.
#
# Environment: N (2000) S (4096) C (16), and every tunable of lib.sh.
# Needs root.  Prints both result lines, then, last, exactly one line:
#   tsamba_msgs_per_s=... postfix_msgs_per_s=... ratio=...
# The GNUmakefile runs it with sh; lib.sh needs bash.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=${PEERS:-$TOP/../shared/peers/smtp}
PYTHON=${PYTHON:-python3}
: "${N:=2000}" "${S:=4096}" "${C:=16}"
export N S C
PEER_PORT=${PORT:-}
STACK=tsamba

[ -r "$PEERS/lib.sh" ] || { echo "no $PEERS/lib.sh" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "smtp-e2e.sh: run as root" >&2; exit 1; }

# The peer stack's packages (and smtp-source).
sh "$TOP/regress/deps.sh" build postfix dovecot-core dovecot-lmtpd || exit 1

for b in "$TOP"/authd/tsamba-authd "$TOP"/queue/tsamba-queue \
    "$TOP"/lmtpd/tsamba-lmtpd "$TOP"/smtpd/tsamba-smtpd; do
	[ -x "$b" ] || { echo "$b is not built (make)" >&2; exit 1; }
done

# ------------------------------------------------------------- tsamba
# shellcheck source=/dev/null
. "$PEERS/lib.sh"
need smtp-source flock ss gawk

SB=""
cleanup() {
	set +e
	stop_sampler
	[ -n "$SB" ] && [ -f "$SB/pids" ] &&
	    "$PYTHON" "$TOP/regress/sandbox.py" stop "$SB" >&2
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "$KEEP" = 1 ]; then log "kept $T"; else rm -rf "$T"; fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

acquire_lock
make_tmp
SB=$T/tsamba
log "temp dir $T"
"$PYTHON" "$TOP/regress/sandbox.py" start "$SB" --users "$USERS" \
    --set "limit sessions-per-ip $(( C * 4 + 16 ))" >&2 9>&- ||
    die "tsamba did not start"
# shellcheck source=/dev/null
. "$SB/demo.env"
PORT=$SMTP_PORT
MAILROOT=$SB/mail
TSAMBA_PIDS=$(awk '{ printf "%s%s", sep, $2; sep = " " }' "$SB/pids")
log "tsamba pids $TSAMBA_PIDS on 127.0.0.1:$PORT, $USERS users"

# tsamba's Maildirs are <mailroot>/<domain>/<user>/{new,cur,tmp}.
count_new() {
	local n=0 d f
	shopt -s nullglob
	for d in "$MAILROOT"/*/*/new; do f=("$d"/*); n=$(( n + ${#f[@]} )); done
	shopt -u nullglob
	echo "$n"
}

tsamba_extra() {
	echo "daemons=$(descendants $TSAMBA_PIDS | wc -l)"
}

# Not in a $(...) subshell: lib.sh counts the load generator's CPU from
# the children this very shell reaps.
timed_run "$STACK" "$TSAMBA_PIDS" tsamba_extra > "$T/result"
TSAMBA_LINE=$(cat "$T/result")
echo "$TSAMBA_LINE"
stop_sampler
"$PYTHON" "$TOP/regress/sandbox.py" stop "$SB" >&2
if [ "$KEEP" = 1 ]; then log "kept $T"; else rm -rf "$T"; fi
T=""; SB=""
# The peer script takes the same lock: let go of it.
exec 9>&-
HAVE_LOCK=""

# ------------------------------------------------------------- peer
log "running $PEERS/run-postfix-dovecot.sh"
if [ -n "$PEER_PORT" ]; then export PORT=$PEER_PORT; else unset PORT; fi
PEER_LINE=$(bash "$PEERS/run-postfix-dovecot.sh") ||
    die "run-postfix-dovecot.sh failed"
echo "$PEER_LINE"

field() { # line key
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}
t=$(field "$TSAMBA_LINE" msgs_per_s)
p=$(field "$PEER_LINE" msgs_per_s)
echo "tsamba: $t msgs/s, peak PSS $(field "$TSAMBA_LINE" mta_peak_pss_kb) kB" \
    "(RSS sum $(field "$TSAMBA_LINE" mta_peak_rss_sum_kb) kB," \
    "$(field "$TSAMBA_LINE" mta_peak_nproc) processes)"
echo "postfix+dovecot: $p msgs/s, peak PSS" \
    "$(( $(field "$PEER_LINE" mta_peak_pss_kb) + \
    $(field "$PEER_LINE" dovecot_peak_pss_kb) )) kB" \
    "(postfix $(field "$PEER_LINE" mta_peak_pss_kb) kB," \
    "dovecot $(field "$PEER_LINE" dovecot_peak_pss_kb) kB)"
awk -v t="$t" -v p="$p" 'BEGIN {
	printf "tsamba_msgs_per_s=%s postfix_msgs_per_s=%s ratio=%.2f\n",
	    t, p, (p > 0 ? t / p : 0) }'
