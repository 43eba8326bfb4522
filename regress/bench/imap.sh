#!/bin/bash
# imap.sh -- IMAP benchmark, tsamba-imapd against Dovecot 2.3, in the same
# run, with ../shared/peers/imap/imap-bench.py on loopback:
#   append     APPEND_COUNT (10000) small messages, one by one, one
#              connection, to a new mailbox that is not selected
#   select1    first SELECT of a new BIG_COUNT (100000) message Maildir
#              folder written straight to disk (the server indexes it)
#   uid_fetch  UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE),
#              then again (uid_fetch2, caches warm)
#   search     SEARCH BODY "needle"
#   idle       IDLE_CONNS (200) connections each LOGIN + SELECT INBOX;
#              pss_per_conn_kb is the growth of the server's whole process
#              tree per connection (regress/bench/imap_bench_tree.py says
#              why the tree and not only the socket holders)
# Dovecot is ../shared/peers/imap/run-dovecot.sh (ssl = no, its defaults
# otherwise); tsamba is a regress/sandbox.py sandbox whose cleartext IMAP
# listener is `plaintext` (regress/bench/imap_sandbox.py), so neither side
# pays for TLS.  Both stores are Maildirs under a fresh temp dir.
#
# Environment: APPEND_COUNT (10000) BIG_COUNT (100000) IDLE_CONNS (200)
# DOVECOT_IMAP_PORT (1143) DOVECOT_POP3_PORT (1110), BENCH_LOCK (the
# lock file of imap-bench.py, /tmp/bench.lock), KEEP=1 keeps the temp dir,
# PYTHON, PEERS (../shared/peers/imap, or ../../shared/peers/imap).
# Needs root and a built tree (make); installs dovecot-imapd and
# dovecot-pop3d when missing.  Prints both result lines, then, last,
# exactly one line:
#   append_rate_ratio=... select1_ratio=... fetch_ratio=... fetch2_ratio=...
#   search_ratio=... tsamba_pss_per_conn_kb=... dovecot_pss_per_conn_kb=...
# (ratios are tsamba / Dovecot: for APPEND higher is better, for the
# times lower is better).  The GNUmakefile runs it with sh.
# imap_bench_tree.py adds cpu_*_ms fields: the CPU the server's tree spent
# on each timed step, steadier than the wall clock on a shared box.
# Measured 2026-12-08, full sizes, 2 vCPUs shared with other jobs, two
# runs (C, D; the box busier during D), tsamba / Dovecot:
#   APPEND     C 579/s / 207/s   D 177/s / 137/s  CPU 0.83-1.40 / 3.2-3.6 ms
#   SELECT #1  C 0.200 / 0.326 s D 0.233 / 0.233  CPU 190-200 / 210-270 ms
#   FETCH #1   C 1.42 / 3.06 s   D 1.86 / 2.42    CPU 1460-1510 / 2400-2740
#   FETCH #2   C 0.32 / 3.00 s   D 0.63 / 2.94    CPU 320-330 / 2910-2920
#   SEARCH     C 0.89 / 2.48 s   D 1.05 / 2.28    CPU 870-880 / 2220-2380
#   pss_per_conn_kb 115-116 / 490
#   C: fetch_ratio=0.46 select1_ratio=0.61 fetch2_ratio=0.11
#   D: fetch_ratio=0.77 select1_ratio=1.00 fetch2_ratio=0.22
# A run E at the head with the putc_unlocked/first-letter commit: FETCH
# #1 1.76 / 2.52 s, CPU 1760 / 2490 ms (the load fell during Dovecot's
# side), fetch_ratio=0.70 search_ratio=0.51 pss_per_conn_kb 112 / 489.
# The first FETCH now reads each file's header only (one pread(2) of
# 16 KB, the whole of these small files) and no MIME structure.  Earlier
# the same day (runs A, B): FETCH #1 2.37-3.24 s, CPU 2350-2590 ms;
# pss_per_conn_kb 136-139.
# The first FETCH reads every file (written behind the
# server's back) and fills tsamba.index; the second is answered from it.
# (Before: 17 APPENDs/s, 40 ms of each a delayed ACK plus a rescan of
# the target; SELECT 0.53 s; FETCH 2.5/2.2 s; 512 KB per connection.)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=${PEERS:-$TOP/../shared/peers/imap}
# A worktree under /work/wt/NAME finds the peers one level further up.
[ -d "$PEERS" ] || PEERS=$TOP/../../shared/peers/imap
PYTHON=${PYTHON:-python3}
: "${APPEND_COUNT:=10000}" "${BIG_COUNT:=100000}" "${IDLE_CONNS:=200}"
: "${DOVECOT_IMAP_PORT:=1143}" "${DOVECOT_POP3_PORT:=1110}" "${KEEP:=0}"

log() { echo "imap.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ -r "$PEERS/imap-bench.py" ] || die "no $PEERS/imap-bench.py"
[ "$(id -u)" = 0 ] || die "run as root"
sh "$TOP/regress/deps.sh" build dovecot-imapd dovecot-pop3d iproute2 ||
    exit 1
for d in authd lmtpd queue smtpd imapd; do
	[ -x "$TOP/$d/tsamba-$d" ] || die "$TOP/$d/tsamba-$d is not built (make)"
done

T="" SB="" DC_PID=""
cleanup() {
	set +e
	[ -n "$SB" ] && "$PYTHON" "$TOP/regress/bench/imap_sandbox.py" stop "$SB"
	[ -n "$DC_PID" ] && bash "$PEERS/stop-dovecot.sh" "$DC_PID"
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "$KEEP" = 1 ]; then log "kept $T"; else rm -rf "$T"; fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

T=$(mktemp -d /tmp/imapbench.XXXXXX)
chmod 755 "$T"
log "temp dir $T; append $APPEND_COUNT, big folder $BIG_COUNT," \
    "$IDLE_CONNS idle connections"

bench() { # port user pass maildir-root server-pid
	"$PYTHON" "$TOP/regress/bench/imap_bench_tree.py" \
	    "$PEERS/imap-bench.py" --host 127.0.0.1 --port "$1" \
	    --user "$2" --pass "$3" --maildir-root "$4" --server-pid "$5" \
	    --append-count "$APPEND_COUNT" --big-count "$BIG_COUNT" \
	    --idle-conns "$IDLE_CONNS"
}

# ------------------------------------------------------------- tsamba
SB=$T/tsamba
"$PYTHON" "$TOP/regress/bench/imap_sandbox.py" start "$SB" > "$T/tsamba.env" ||
    die "tsamba did not start"
# shellcheck source=/dev/null
. "$T/tsamba.env"
log "tsamba pids $PIDS, imapd $IMAPD_PID on 127.0.0.1:$IMAP_PORT"
# The user's Maildir is made by the server at the first login (with the
# owner and mode it wants); the big folder is written into it before the
# server sees that folder.
"$PYTHON" -c 'import imaplib, sys
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
c.login(sys.argv[2], sys.argv[3]); c.select("INBOX"); c.logout()' \
    "$IMAP_PORT" "$BENCH_USER" "$BENCH_PASS" || die "tsamba: no first login"
[ -d "$MAILDIR_ROOT/cur" ] || die "tsamba made no $MAILDIR_ROOT/cur"
TSAMBA_LINE=$(bench "$IMAP_PORT" "$BENCH_USER" "$BENCH_PASS" \
    "$MAILDIR_ROOT" "$IMAPD_PID") || die "imap-bench.py failed on tsamba"
echo "tsamba $TSAMBA_LINE"
"$PYTHON" "$TOP/regress/bench/imap_sandbox.py" stop "$SB"
SB=""

# ------------------------------------------------------------- dovecot
DC_PID=$(HOST=127.0.0.1 IMAP_PORT=$DOVECOT_IMAP_PORT \
    POP3_PORT=$DOVECOT_POP3_PORT BENCH_USERS="testuser:testpass" \
    bash "$PEERS/run-dovecot.sh" "$T/dovecot") || die "dovecot did not start"
DOVECOT_LINE=$(bench "$DOVECOT_IMAP_PORT" testuser testpass \
    "$T/dovecot/mail/testuser/Maildir" "$DC_PID") ||
    die "imap-bench.py failed on dovecot"
echo "dovecot $DOVECOT_LINE"
bash "$PEERS/stop-dovecot.sh" "$DC_PID"
DC_PID=""

field() { # line key
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}
for phase in append big idle; do
	for side in tsamba dovecot; do
		if [ "$side" = tsamba ]; then l=$TSAMBA_LINE; else l=$DOVECOT_LINE; fi
		e=$(field "$l" "${phase}_error")
		[ -z "$e" ] || log "$side: phase $phase failed: $e"
	done
done
ratio() { # key num-line den-line
	awk -v t="$(field "$2" "$1")" -v d="$(field "$3" "$1")" 'BEGIN {
		if (t == "" || d == "" || d + 0 == 0) print "-";
		else printf "%.2f\n", t / d }'
}
echo "append_rate_ratio=$(ratio append_per_s "$TSAMBA_LINE" "$DOVECOT_LINE")" \
    "select1_ratio=$(ratio select1_s "$TSAMBA_LINE" "$DOVECOT_LINE")" \
    "fetch_ratio=$(ratio uid_fetch_s "$TSAMBA_LINE" "$DOVECOT_LINE")" \
    "fetch2_ratio=$(ratio uid_fetch2_s "$TSAMBA_LINE" "$DOVECOT_LINE")" \
    "search_ratio=$(ratio search_body_s "$TSAMBA_LINE" "$DOVECOT_LINE")" \
    "tsamba_pss_per_conn_kb=$(field "$TSAMBA_LINE" pss_per_conn_kb)" \
    "dovecot_pss_per_conn_kb=$(field "$DOVECOT_LINE" pss_per_conn_kb)"
