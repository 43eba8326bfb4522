#!/bin/bash
# smtp-relay.sh -- submission relayed to a remote sink, tsamba and Postfix
# in the same run, each without and with DKIM signing:
#   smtp_load.py --587: EHLO, STARTTLS, AUTH PLAIN--> the stack
#       --SMTP--> smtp-sink on 127.0.0.2:SINK_PORT (the "internet")
#   tsamba:  tsamba-smtpd (submission, users in the file table with
#            {SHA512-CRYPT} hashes) -> tsamba-queue -> mta with
#            `relay host "127.0.0.2" port SINK_PORT`; signing with a
#            `dkim domain ... selector ... key ...` line and a key made by
#            `tsambactl dkim keygen` (rsa-sha256, 2048 bits).
#   postfix: a private instance set up as ../shared/peers/smtp/
#            run-postfix-dovecot.sh does it, with relayhost =
#            [127.0.0.2]:SINK_PORT, a submission service (TLS required,
#            SASL through a private Dovecot's auth socket on the same
#            hashes, relaying only for authenticated clients, MAIL FROM
#            bound to the login like tsamba does); signing with OpenDKIM
#            (Debian's opendkim) as its milter, relaxed/relaxed,
#            rsa-sha256, 2048 bits, From oversigned as tsamba does.
# Each message is its own session (as a mail client sends), MAIL FROM is
# the login, the recipient sink@remote.test.  Timing runs from the first
# connect until smtp-sink has counted all N (its -c counter); WARMUP
# messages go through first, untimed.  One message per variant is checked
# for a DKIM-Signature header (with signing) or its absence.
#
# Environment: N (2000) messages, S (4096) body bytes, C (16) parallel
# sessions, MSGS (1) messages per session, USERS (100) users, WARMUP (50),
# SINK_PORT (free port), VARIANTS ("tsamba postfix tsamba_dkim
# postfix_dkim"), KEEP=1 keeps the temp dir, PYTHON, LOCK and the tunables
# of ../shared/peers/smtp/lib.sh.
# Needs root, a built tree (make), postfix (smtp-sink), dovecot-core,
# opendkim (installed with apt-get when missing), openssl.
# Prints one line per variant, then, last, exactly one line:
#   tsamba_msgs_per_s=... tsamba_dkim_msgs_per_s=... postfix_msgs_per_s=...
#   postfix_dkim_msgs_per_s=...
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=${PEERS:-$TOP/../shared/peers/smtp}
PYTHON=${PYTHON:-python3}
LOAD="$PYTHON $TOP/regress/bench/smtp_load.py"
: "${N:=2000}" "${S:=4096}" "${C:=16}" "${MSGS:=1}" "${USERS:=100}"
: "${WARMUP:=50}" "${VARIANTS:=tsamba postfix tsamba_dkim postfix_dkim}"
# shellcheck disable=SC2034 # the log prefix of lib.sh
STACK=relay
PASSWORD=Bench-relay-pw-1
DOMAIN=example.test
SINK_ADDR=127.0.0.2
RCPT=sink@remote.test

[ -r "$PEERS/lib.sh" ] || { echo "no $PEERS/lib.sh" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "smtp-relay.sh: run as root" >&2; exit 1; }

sh "$TOP/regress/deps.sh" build postfix dovecot-core opendkim || exit 1
for b in "$TOP"/authd/tsamba-authd "$TOP"/queue/tsamba-queue \
    "$TOP"/lmtpd/tsamba-lmtpd "$TOP"/smtpd/tsamba-smtpd "$TOP"/ctl/tsambactl; do
	[ -x "$b" ] || { echo "$b is not built (make)" >&2; exit 1; }
done

# shellcheck source=/dev/null
. "$PEERS/lib.sh"
need postfix postconf smtp-sink dovecot opendkim openssl flock ss

SB="" SINK_PID="" PF_PID="" DC_PID="" DKIM_PID=""
stop_variant() {
	[ -n "$SB" ] && [ -f "$SB/pids" ] &&
	    "$PYTHON" "$TOP/regress/sandbox.py" stop "$SB" >&2
	SB=""
	stop_tree postfix "$PF_PID"; PF_PID=""
	stop_tree opendkim "$DKIM_PID"; DKIM_PID=""
	stop_tree dovecot "$DC_PID"; DC_PID=""
	stop_tree smtp-sink "$SINK_PID"; SINK_PID=""
}
cleanup() {
	set +e
	stop_variant
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "$KEEP" = 1 ]; then log "kept $T"; else rm -rf "$T"; fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

acquire_lock
make_tmp
log "temp dir $T"
if [ -z "${SINK_PORT:-}" ]; then
	SINK_PORT=$("$PYTHON" -c 'import socket; s = socket.socket();
s.bind(("127.0.0.2", 0)); print(s.getsockname()[1])')
fi
SUB_PORT=$("$PYTHON" -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# The users and their hashes, shared by both stacks: Dovecot's
# passwd-file format is tsamba's users table format.
seq "$USERS" | sed "s/.*/$PASSWORD/" | openssl passwd -6 -stdin |
    awk -v d="$DOMAIN" '{ printf "u%d@%s:{SHA512-CRYPT}%s::::::\n", NR, d, $0 }' \
    > "$T/users"
chmod 644 "$T/users"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=mx.bench.test \
    -days 30 -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
chmod 644 "$T/cert.pem"

# ------------------------------------------------------------- the sink
start_sink() {
	SINKD=$T/sink.$1
	mkdir -p "$SINKD"
	chown nobody "$SINKD"
	# -c: counters on stdout ("mesg=N" at each "."); -d: one file per
	# message, to look at the signature.
	smtp-sink -c -u nobody -d "$SINKD/m." "$SINK_ADDR:$SINK_PORT" 256 \
	    > "$SINKD.count" 2>&1 9>&- &
	SINK_PID=$!
	for _ in $(seq 1 50); do
		ss -Hltn "src $SINK_ADDR:$SINK_PORT" | grep -q . && return 0
		alive "$SINK_PID" || die "smtp-sink died: $(cat "$SINKD.count")"
		sleep 0.1
	done
	die "smtp-sink does not listen on $SINK_ADDR:$SINK_PORT"
}
sink_count() {
	local n
	n=$(tail -c 120 "$SINKD.count" | tr '\r' '\n' |
	    sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1)
	echo "${n:-0}"
}
wait_sink() { # target timeout_s -> sets DONE_TS
	local deadline=$(( ${EPOCHREALTIME%.*} + $2 )) have
	while :; do
		have=$(sink_count)
		if [ "$have" -ge "$1" ]; then DONE_TS=$EPOCHREALTIME; return 0; fi
		if [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then
			log "timeout: the sink has $have of $1"; return 1
		fi
		sleep 0.1
	done
}

# ------------------------------------------------------------- tsamba
start_tsamba() { # dkim: 0|1
	SB=$T/tsamba.$1
	local extra=("relay host \"$SINK_ADDR\" port $SINK_PORT")
	[ "$1" = 1 ] && extra+=("dkim domain \"$DOMAIN\" selector \"bench\" key \"$SB/dkim/$DOMAIN.bench.rsa.key\"")
	"$PYTHON" - "$TOP" "$SB" "$SUB_PORT" "$C" "$PASSWORD" "$USERS" \
	    "$T/users" "${extra[@]}" >&2 9>&- <<-'EOF' ||
	import os, shutil, subprocess, sys
	sys.path.insert(0, sys.argv[1] + "/regress")
	import sandbox
	top, d, port, conc, pw, nusers, users = sys.argv[1:8]
	sb = sandbox.Sandbox(d, submission=True, password=pw,
	    ports={"submission": int(port)},
	    users=["u%d" % i for i in range(1, int(nusers) + 1)],
	    limits={"sessions-per-ip": int(conc) * 4 + 16},
	    extra=sys.argv[8:])
	sb.write()
	# The same hashes as Postfix's Dovecot reads.
	shutil.copyfile(users, os.path.join(sb.tabledir, "users"))
	for line in sys.argv[8:]:
	    if line.startswith("dkim "):
	        os.makedirs(os.path.join(d, "dkim"), exist_ok=True)
	        subprocess.run([top + "/ctl/tsambactl", "-f", sb.conf, "dkim",
	            "keygen", "example.test", "bench"], check=True,
	            stdout=subprocess.DEVNULL)
	sb.start()
	EOF
	    die "tsamba did not start (logs in $SB/log)"
	STACK_PIDS=$(awk '{ printf "%s%s", sep, $2; sep = " " }' "$SB/pids")
	log "tsamba pids $STACK_PIDS, submission 127.0.0.1:$SUB_PORT, relay $SINK_ADDR:$SINK_PORT, dkim=$1"
}

# ------------------------------------------------------------- Postfix
start_dovecot_sasl() {
	local dc=$T/dovecot
	mkdir -p "$dc/run" "$dc/state"
	chmod 755 "$dc" "$dc/run"
	cat > "$dc/dovecot.conf" <<-EOF
	# generated by regress/bench/smtp-relay.sh: SASL for Postfix only
	instance_name = relaybench-$$
	base_dir = $dc/run
	state_dir = $dc/state
	log_path = $dc/dovecot.log
	protocols = none
	listen = 127.0.0.1
	ssl = no
	disable_plaintext_auth = no
	auth_mechanisms = plain login
	passdb {
	  driver = passwd-file
	  args = $T/users
	}
	userdb {
	  driver = static
	  args = uid=nobody gid=nogroup home=/nonexistent
	}
	service auth {
	  unix_listener auth-postfix {
	    mode = 0666
	  }
	}
	EOF
	dovecot -c "$dc/dovecot.conf" 9>&- || die "dovecot did not start"
	for _ in $(seq 1 100); do
		[ -s "$dc/run/master.pid" ] && [ -S "$dc/run/auth-postfix" ] && break
		sleep 0.1
	done
	DC_PID=$(cat "$dc/run/master.pid")
	DC_SOCK=$dc/run/auth-postfix
}

start_opendkim() {
	local od=$T/opendkim
	mkdir -p "$od"
	ensure_sys_user opendkim
	[ -s "$od/bench.key" ] ||
	    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$od/bench.key" 2>/dev/null
	chown opendkim "$od" "$od/bench.key"
	chmod 600 "$od/bench.key"
	cat > "$od/opendkim.conf" <<-EOF
	# generated by regress/bench/smtp-relay.sh
	Syslog no
	RequireSafeKeys false
	Mode s
	Domain $DOMAIN
	Selector bench
	KeyFile $od/bench.key
	Canonicalization relaxed/relaxed
	SignatureAlgorithm rsa-sha256
	OversignHeaders From
	InternalHosts 127.0.0.1
	Socket local:$od/milter.sock
	UMask 000
	UserID opendkim
	PidFile $od/opendkim.pid
	EOF
	opendkim -f -x "$od/opendkim.conf" > "$od/opendkim.log" 2>&1 9>&- &
	DKIM_PID=$!
	for _ in $(seq 1 50); do
		[ -S "$od/milter.sock" ] && break
		alive "$DKIM_PID" || die "opendkim died: $(cat "$od/opendkim.log")"
		sleep 0.1
	done
	DKIM_SOCK=$od/milter.sock
}

start_postfix() { # dkim: 0|1
	local pf=$T/postfix.$1 i
	PFE=$pf/etc PFQ=$pf/spool PFD=$pf/data PFL=$pf/log
	mkdir -p "$PFE" "$PFQ" "$PFD" "$PFL"
	chown postfix "$PFD"
	start_dovecot_sasl
	for i in $(seq 1 "$USERS"); do echo "u$i@$DOMAIN u$i@$DOMAIN"; done \
	    > "$PFE/senders"
	cp "$TOP/regress/bench/postfix-main.cf" "$PFE/main.cf"
	cat >> "$PFE/main.cf" <<-EOF
	# generated by regress/bench/smtp-relay.sh: private instance, loopback
	queue_directory = $PFQ
	data_directory = $PFD
	mynetworks = 127.0.0.1/32
	relayhost = [$SINK_ADDR]:$SINK_PORT
	smtp_tls_security_level = may
	smtpd_tls_cert_file = $T/cert.pem
	smtpd_tls_key_file = $T/key.pem
	smtpd_sasl_type = dovecot
	smtpd_sasl_path = $DC_SOCK
	smtpd_sender_login_maps = texthash:$PFE/senders
	maillog_file = $PFL/maillog
	maillog_file_prefixes = $T
	EOF
	if [ "$1" = 1 ]; then
		start_opendkim
		cat >> "$PFE/main.cf" <<-EOF
		smtpd_milters = unix:$DKIM_SOCK
		milter_default_action = tempfail
		EOF
	fi
	# As the peer script: Debian's master.cf with chroot "n"; the
	# listener is a submission service.
	cat > "$PFE/master.cf" <<-EOF
	127.0.0.1:$SUB_PORT inet n - n - - smtpd
	  -o smtpd_tls_security_level=encrypt
	  -o smtpd_sasl_auth_enable=yes
	  -o smtpd_tls_auth_only=yes
	  -o smtpd_sender_restrictions=reject_sender_login_mismatch
	  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
	EOF
	cat "$TOP/regress/bench/postfix-master.cf" >> "$PFE/master.cf"
	postfix -c "$PFE" check > "$PFL/check.log" 2>&1 9>&- ||
	    { cat "$PFL/check.log" >&2; die "postfix check failed"; }
	postfix -c "$PFE" start > "$PFL/start.log" 2>&1 9>&- ||
	    { cat "$PFL/start.log" "$PFL/maillog" >&2; die "postfix start failed"; }
	for i in $(seq 1 50); do [ -s "$PFQ/pid/master.pid" ] && break; sleep 0.1; done
	PF_PID=$(tr -d ' \n' < "$PFQ/pid/master.pid")
	alive "$PF_PID" || die "postfix master not running"
	for i in $(seq 1 50); do
		ss -Hltn "src 127.0.0.1:$SUB_PORT" | grep -q . && break
		sleep 0.1
	done
	STACK_PIDS="$PF_PID $DC_PID $DKIM_PID"
	log "postfix $(postconf -c "$PFE" -h mail_version) pid $PF_PID, dovecot sasl pid $DC_PID, opendkim pid ${DKIM_PID:-none}, submission 127.0.0.1:$SUB_PORT"
}

# ------------------------------------------------------------- one variant
submit() { # count label
	$LOAD submit 127.0.0.1 "$SUB_PORT" --count "$1" --conc "$C" \
	    --msgs "$MSGS" --size "$S" --users "$USERS" --password "$PASSWORD" \
	    --rcpt "$RCPT" 9>&-
}

declare -A RATE
run_variant() { # name
	local name=$1 dkim=0 base t0 tacc secs rate out hz sig
	local c0 c1 k0 k1 y0 y1 o0 o1
	case "$name" in *_dkim) dkim=1 ;; esac
	start_sink "$name"
	case "$name" in
	tsamba*) start_tsamba "$dkim" ;;
	postfix*) start_postfix "$dkim" ;;
	esac
	if [ "$WARMUP" -gt 0 ]; then
		out=$(submit "$WARMUP") || die "$name warm-up: $out"
		wait_sink "$WARMUP" 120 || die "$name: warm-up mail not relayed"
	fi
	sleep 1
	base=$(sink_count)
	hz=$(getconf CLK_TCK)
	# shellcheck disable=SC2086
	c0=$(tree_cpu_ticks $STACK_PIDS); k0=$(tree_cpu_ticks "$SINK_PID")
	y0=$(sys_cpu); o0=$(own_cpu_ticks)
	t0=$EPOCHREALTIME
	out=$(submit "$N") || log "$name: not every submission was accepted: $out"
	tacc=$EPOCHREALTIME
	wait_sink $(( base + $(field "$out" ok) )) 600 ||
	    die "$name: run invalid, $(( $(sink_count) - base )) of $N relayed"
	# shellcheck disable=SC2086
	c1=$(tree_cpu_ticks $STACK_PIDS); k1=$(tree_cpu_ticks "$SINK_PID")
	y1=$(sys_cpu); o1=$(own_cpu_ticks)
	secs=$(fdiff "$t0" "$DONE_TS")
	rate=$(awk -v n="$(field "$out" ok)" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
	RATE[$name]=$rate
	sig=$({ grep -l -m1 '^DKIM-Signature:' "$SINKD"/m.* 2>/dev/null || true; } | wc -l)
	if [ "$dkim" = 1 ] && [ "$sig" = 0 ]; then
		log "$name: WARNING: no DKIM-Signature in the relayed mail"
	elif [ "$dkim" = 0 ] && [ "$sig" != 0 ]; then
		log "$name: WARNING: mail signed without a dkim line"
	fi
	echo "variant=$name n=$N size=$S conc=$C msgs_per_session=$MSGS" \
	    "seconds=$secs msgs_per_s=$rate accept_s=$(fdiff "$t0" "$tacc")" \
	    "drain_s=$(fdiff "$tacc" "$DONE_TS") signed_files=$sig" \
	    "$(awk -v c0="$c0" -v c1="$c1" -v k0="$k0" -v k1="$k1" \
		-v o0="$o0" -v o1="$o1" -v y0="$y0" -v y1="$y1" -v hz="$hz" -v n="$N" 'BEGIN {
		split(y0, a, " "); split(y1, b, " ")
		printf "stack_cpu_s=%.2f stack_cpu_ms_per_msg=%.2f sink_cpu_s=%.2f loadgen_cpu_s=%.2f sys_busy_pct=%.0f",
		    (c1 - c0) / hz, 1000 * (c1 - c0) / hz / n, (k1 - k0) / hz,
		    (o1 - o0) / hz, 100 * (b[1] - a[1]) / (b[2] - a[2]) }')" \
	    "$(cpu_by_comm $STACK_PIDS)" "$out"
	stop_variant
}

field() { # line key
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

# CPU seconds so far of the stack's processes, summed by command name
# (for where the time goes; reaped children count in their parent).
cpu_by_comm() {
	local p
	for p in $(descendants "$@"); do
		cat "/proc/$p/stat" 2>/dev/null; echo
	done | awk -v hz="$(getconf CLK_TCK)" '
		{ if (!match($0, /\(.*\) /)) next
		  c = substr($0, RSTART + 1, RLENGTH - 3); rest = substr($0, RSTART + RLENGTH)
		  split(rest, f, " "); t[c] += f[12] + f[13] + f[14] + f[15] }
		END { s = "cpu_total_by_proc="; sep = ""
		      for (c in t) if (t[c] > 0) { s = s sep c ":" sprintf("%.2f", t[c] / hz); sep = "," }
		      print s }'
}

log "N=$N S=$S C=$C MSGS=$MSGS, sink $SINK_ADDR:$SINK_PORT, variants: $VARIANTS"
for v in $VARIANTS; do
	run_variant "$v"
done
echo "tsamba_msgs_per_s=${RATE[tsamba]:-NA}" \
    "tsamba_dkim_msgs_per_s=${RATE[tsamba_dkim]:-NA}" \
    "postfix_msgs_per_s=${RATE[postfix]:-NA}" \
    "postfix_dkim_msgs_per_s=${RATE[postfix_dkim]:-NA}"
