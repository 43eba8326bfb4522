#!/bin/bash
# smtp-checks.sh -- the cost of the inbound checks (SPF, DKIM, DMARC;
# issue 9), tsamba and Postfix + Rspamd in the same run:
#   smtp_load.py inbound --SMTP, no AUTH--> the stack --> Maildir
#   (a) tsamba, a listener without checks
#   (b) tsamba, a listener with "spf dkim dmarc" and "check resolver"
#   (c) Postfix + Rspamd: a Postfix listener with smtpd_milters set to a
#       private Rspamd (rspamd_proxy in milter mode, self_scan, no Redis,
#       as regress/integration/test_milter.py starts it), delivering over
#       LMTP to a private Dovecot as ../shared/peers/smtp/ does
#   (d) the same Postfix on a listener without the milter
# All four share one DNS: a private dnsmasq on a loopback port
# (checks_world.py) serving sender1..senderK.test: SPF with an include,
# RSA and Ed25519 keys, "v=DMARC1; p=none", records with a 300 s TTL.
# The messages (a pool of P, made once) are signed beforehand with
# python3-dkim: rsa-sha256 all, every fourth dual-signed with
# ed25519-sha256 as well.  Rspamd runs with every module but spf, dkim,
# dmarc and milter_headers (its Authentication-Results field) disabled
# and without the Lua rule set (rules/rspamd.lua: regexp, header and
# MIME rules); what remains is printed from its log.
#
# Each stack is started once; ROUNDS rounds then run a b c d one after
# another (WARMUP messages first, untimed, in the first round), N
# messages each, one message per session, C sessions at a time.
# Timing runs from the first connect until the N-th file is in a
# Maildir new/.  CPU is read from /proc for each group of processes
# (reaped children count in their parent): tsamba = all its daemons;
# postfix = the master's tree; dovecot; rspamd; resolver = dnsmasq;
# loadgen = the Python load generator.  After each timed run of (b) and
# (c) every delivered message must carry an Authentication-Results
# field with spf=pass, dkim=pass and dmarc=pass (two dkim=pass when
# dual-signed), or the run fails: a check that did nothing must not
# look fast.  The load generator shares the machine's cores, so the CPU
# per message is the figure that matters, not the rate.
#
# Reading the figures: with C sessions the rate is bound by the time
# each message takes more than by CPU: tsamba asks the DKIM keys and the
# DMARC record at the end of the header, all at once, so at the final
# dot at most one round trip to the lookup process is left (none when
# the body took longer than the answers); on a busy machine b's rate
# can still fall further behind a's than its CPU does.  smtpd_cpu_ms is where the checks run; the lmtpd's and
# queue's figures move with the file system's state from run to run.
#
# Targets (issue 9), from the medians over the rounds:
#   rate(b) >= 0.85 rate(a)           checks_rate_loss_pct <= 15
#   cpu(b) - cpu(a) <= 0.5 ms/msg     (tsamba processes)
#   cpu(b) < cpu(c) / 3               (c = postfix + dovecot + rspamd;
#                                      the resolver apart, shown too)
#
# Environment: N (2000), S (4096) body bytes, C (16), ROUNDS (3), USERS
# (100), WARMUP (100), DOMAINS (20) sender domains, POOL (400) messages,
# VARIANTS ("a b c d"), KEEP=1 keeps the temp dir, PYTHON (python3 with
# python3-dkim: /usr/bin/python3), LOCK and the tunables of
# ../shared/peers/smtp/lib.sh.  Needs root, a built tree (make), postfix,
# dovecot-core, dovecot-lmtpd, rspamd, dnsmasq-base, python3-dkim,
# python3-nacl (installed by deps.sh when missing).
# Prints one line per variant and round, the medians, then, last,
# exactly one line:
#   checks_rate_loss_pct=... checks_added_cpu_ms=... cpu_ratio_vs_rspamd=...
#   targets=met|missed:...
# Exit status 0 also when a target is missed (it is a measurement); 1
# when a run is invalid (mail lost, verdicts missing).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=${PEERS:-$TOP/../shared/peers/smtp}
PYTHON=${PYTHON:-/usr/bin/python3}
: "${N:=2000}" "${S:=4096}" "${C:=16}" "${ROUNDS:=3}" "${USERS:=100}"
: "${WARMUP:=100}" "${DOMAINS:=20}" "${POOL:=400}" "${VARIANTS:=a b c d}"
export USERS
LOAD="$PYTHON $TOP/regress/bench/smtp_load.py"
WORLD="$PYTHON $TOP/regress/bench/checks_world.py"
# shellcheck disable=SC2034 # the log prefix of lib.sh
STACK=checks

[ -r "$PEERS/lib.sh" ] || { echo "no $PEERS/lib.sh" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "smtp-checks.sh: run as root" >&2; exit 1; }

sh "$TOP/regress/deps.sh" build postfix dovecot-core dovecot-lmtpd rspamd \
    dnsmasq-base python3-dkim python3-nacl || exit 1
for b in "$TOP"/authd/tsamba-authd "$TOP"/queue/tsamba-queue \
    "$TOP"/lmtpd/tsamba-lmtpd "$TOP"/smtpd/tsamba-smtpd; do
	[ -x "$b" ] || { echo "$b is not built (make)" >&2; exit 1; }
done

# shellcheck source=/dev/null
. "$PEERS/lib.sh"
need postfix postconf dovecot rspamd openssl flock ss gawk

SB="" PF_PID="" RS_PID="" DNS_PID=""
cleanup() {
	set +e
	[ -n "$SB" ] && [ -f "$SB/pids" ] &&
	    "$PYTHON" "$TOP/regress/sandbox.py" stop "$SB" >&2
	stop_tree postfix "$PF_PID"
	stop_tree rspamd "$RS_PID"
	stop_tree dnsmasq "$DNS_PID"
	cleanup_common
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

acquire_lock
make_tmp
log "temp dir $T; N=$N S=$S C=$C ROUNDS=$ROUNDS variants: $VARIANTS"
log "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" \
    "(other jobs on this machine disturb the rates, less the CPU figures)"

# ------------------------------------------------------------- the world
$WORLD "$T/world" --domains "$DOMAINS" --pool "$POOL" --size "$S" \
    --users "$USERS" 9>&- || die "checks_world.py failed"
DNS_PORT=$(cat "$T/world/dns.port")
DNS_PID=$(cat "$T/world/dns.pid")
POOL_INDEX=$T/world/pool/index
log "dnsmasq pid $DNS_PID on 127.0.0.1:$DNS_PORT, $DOMAINS sender domains, $POOL signed messages"

# ------------------------------------------------------------- tsamba
TS_PLAIN=$(free_port)
TS_CHECK=$(free_port)
SB=$T/tsamba
"$PYTHON" - "$TOP" "$SB" "$TS_PLAIN" "$TS_CHECK" "$DNS_PORT" "$USERS" \
    "$C" >&2 9>&- <<-'EOF' || die "tsamba did not start (logs in $SB/log)"
	import sys
	sys.path.insert(0, sys.argv[1] + "/regress")
	import sandbox
	top, d, plain, check, dns, nusers, conc = sys.argv[1:8]
	sb = sandbox.Sandbox(d, ports={"smtp": int(plain)},
	    users=["u%d" % i for i in range(1, int(nusers) + 1)],
	    limits={"sessions-per-ip": int(conc) * 4 + 16},
	    extra=['check resolver "127.0.0.1@%s"' % dns,
	           "listen on 127.0.0.1 port %s spf dkim dmarc" % check])
	sb.start()
	EOF
TS_PIDS=$(awk '{ printf "%s%s", sep, $2; sep = " " }' "$SB/pids")
log "tsamba pids $TS_PIDS: (a) 127.0.0.1:$TS_PLAIN, (b) 127.0.0.1:$TS_CHECK"

# ------------------------------------------------------------- Rspamd
RS_PORT=$(free_port)
start_rspamd() {
	local rd=$T/rspamd m keep
	mkdir -p "$rd/local/local.d"
	cat > "$rd/rspamd.conf" <<-EOF
	# generated by regress/bench/smtp-checks.sh: Debian's common.conf
	# (its Lua rule set too: without it the spf and dmarc plugins are
	# not loaded), every module but four disabled in local.d
	.include "\$CONFDIR/common.conf"
	# options.inc of Debian's package but for "filters" (of the C
	# modules only dkim) and "dns": the private resolver, never the
	# system's.
	options {
	    pidfile = "\$RUNDIR/rspamd.pid";
	    filters = "dkim";
	    one_shot = false;
	    cache_file = "\$DBDIR/symbols.cache";
	    dynamic_conf = "\$DBDIR/rspamd_dynamic";
	    history_file = "\$DBDIR/rspamd.history";
	    check_all_filters = false;
	    dns_max_requests = 64;
	    dns {
	        nameserver = ["127.0.0.1:$DNS_PORT"];
	        timeout = 1s;
	        sockets = 16;
	        retransmits = 5;
	    }
	    tempdir = "/tmp";
	    url_tld = "\${SHAREDIR}/effective_tld_names.dat";
	    control_socket = "\$DBDIR/rspamd.sock mode=0600";
	    explicit_modules = ["settings"];
	    allow_raw_input = true;
	    local_addrs = [];
	    hs_cache_dir = "\${DBDIR}/";
	    task_timeout = 8s;
	}
	logging {
	    type = "file";
	    filename = "\$LOGDIR/rspamd.log";
	    level = "info";
	}
	worker "rspamd_proxy" {
	    bind_socket = "127.0.0.1:$RS_PORT";
	    milter = yes;
	    timeout = 120s;
	    upstream "local" {
	        default = yes;
	        self_scan = yes;
	    }
	    count = $(nproc);
	}
	EOF
	keep=" dkim spf dmarc milter_headers "
	for m in /etc/rspamd/modules.d/*.conf; do
		m=$(basename "$m" .conf)
		case "$keep" in *" $m "*) continue ;; esac
		echo "enabled = false;" > "$rd/local/local.d/$m.conf"
	done
	for m in dkim spf dmarc; do
		printf 'check_local = true;\ncheck_authed = true;\n' \
		    > "$rd/local/local.d/$m.conf"
	done
	cat > "$rd/local/local.d/milter_headers.conf" <<-EOF
	use = ["authentication-results"];
	skip_local = false;
	skip_authenticated = false;
	EOF
	chown -R _rspamd:_rspamd "$rd"
	m=$(rspamadm --var=RUNDIR="$rd" --var=DBDIR="$rd" --var=LOGDIR="$rd" \
	    --var=LOCAL_CONFDIR="$rd/local" configdump -c "$rd/rspamd.conf" \
	    options 2>&1 | tr -d ' \n') || true
	case "$m" in *"nameserver[\"127.0.0.1:$DNS_PORT\",]"*) ;; *)
	    die "rspamd's configuration does not name the private resolver" ;;
	esac
	rspamd -f -u _rspamd -g _rspamd -c "$rd/rspamd.conf" \
	    --var=RUNDIR="$rd" --var=DBDIR="$rd" --var=LOGDIR="$rd" \
	    --var=LOCAL_CONFDIR="$rd/local" > "$rd/stdout" 2>&1 9>&- &
	RS_PID=$!
	for _ in $(seq 1 600); do
		ss -Hltn "src 127.0.0.1:$RS_PORT" | grep -q . && break
		alive "$RS_PID" || die "rspamd died: $(tail -5 "$rd/rspamd.log" "$rd/stdout")"
		sleep 0.1
	done
	ss -Hltn "src 127.0.0.1:$RS_PORT" | grep -q . ||
	    die "rspamd does not listen on 127.0.0.1:$RS_PORT"
	# Its DNS must be the private dnsmasq and nothing else.
	grep -q 'parsed nameserver' "$rd/rspamd.log" &&
	    die "rspamd took a name server from /etc/resolv.conf"
	log "rspamd $(rspamd --version | awk '{ print $NF }') pid $RS_PID, milter 127.0.0.1:$RS_PORT"
}
# The symbols Rspamd gave the last message it scanned: what of it ran.
rspamd_symbols() {
	grep 'rspamd_task_write_log' "$T/rspamd/rspamd.log" | tail -1 |
	    sed -n 's/.*\/[0-9.]*\] \[\(.*\)\]), len.*/\1/p' |
	    sed 's/([^)]*)//g; s/{[^}]*}//g'
}
start_rspamd

# ------------------------------------------------------------- Postfix
PF_PLAIN=$(free_port)
PF_CHECK=$(free_port)
start_postfix() {
	local pf=$T/postfix i
	PFE=$pf/etc PFQ=$pf/spool PFD=$pf/data PFL=$pf/log
	mkdir -p "$PFE" "$PFQ" "$PFD" "$PFL"
	chown postfix "$PFD"
	for i in $(seq 1 "$USERS"); do echo "u$i@$DOMAIN OK"; done \
	    > "$PFE/vmailbox"
	# As ../shared/peers/smtp/run-postfix-dovecot.sh, and the milter.
	cp "$TOP/regress/bench/postfix-main.cf" "$PFE/main.cf"
	cat >> "$PFE/main.cf" <<-EOF
	# generated by regress/bench/smtp-checks.sh: private instance
	queue_directory = $PFQ
	data_directory = $PFD
	mynetworks = 127.0.0.0/8
	virtual_mailbox_domains = $DOMAIN
	virtual_mailbox_maps = texthash:$PFE/vmailbox
	virtual_transport = lmtp:unix:$DOVECOT_SOCK
	milter_default_action = tempfail
	maillog_file = $PFL/maillog
	maillog_file_prefixes = $T
	EOF
	cat > "$PFE/master.cf" <<-EOF
	127.0.0.1:$PF_PLAIN inet n - n - - smtpd
	127.0.0.1:$PF_CHECK inet n - n - - smtpd
	  -o smtpd_milters=inet:127.0.0.1:$RS_PORT
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
		ss -Hltn "src 127.0.0.1:$PF_CHECK" | grep -q . && break
		sleep 0.1
	done
	log "postfix $(postconf -c "$PFE" -h mail_version) pid $PF_PID: (c) 127.0.0.1:$PF_CHECK with the milter, (d) 127.0.0.1:$PF_PLAIN"
}
start_dovecot
start_postfix

# ------------------------------------------------------------- one run
# The Maildir new/ folders of a variant's stack.
maildirs() {
	case "$1" in
	a|b) echo "$SB/mail" ;;
	c|d) echo "$MAILROOT" ;;
	esac
}
count_files() { # root
	local n=0 d f
	shopt -s nullglob
	for d in "$1"/*/*/new "$1"/*/*/Maildir/new; do
		f=("$d"/*); n=$(( n + ${#f[@]} ))
	done
	shopt -u nullglob
	echo "$n"
}
wait_files() { # root target timeout_s -> sets DONE_TS
	local deadline=$(( ${EPOCHREALTIME%.*} + $3 )) have
	while :; do
		have=$(count_files "$1")
		if [ "$have" -ge "$2" ]; then DONE_TS=$EPOCHREALTIME; return 0; fi
		if [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then
			log "timeout: $have of $2 delivered under $1"; return 1
		fi
		sleep 0.1
	done
}
port_of() {
	case "$1" in
	a) echo "$TS_PLAIN" ;; b) echo "$TS_CHECK" ;;
	c) echo "$PF_CHECK" ;; d) echo "$PF_PLAIN" ;;
	esac
}
send() { # variant count first
	$LOAD inbound 127.0.0.1 "$(port_of "$1")" --count "$2" --first "$3" \
	    --conc "$C" --pool "$POOL_INDEX" 9>&-
}
# CPU ticks of each group, in the order of GROUPS.
GROUPS_TS="tsamba resolver"
GROUPS_PF="postfix dovecot rspamd resolver"
group_pids() {
	case "$1" in
	tsamba) echo "$TS_PIDS" ;; postfix) echo "$PF_PID" ;;
	dovecot) echo "$DOVECOT_PID" ;; rspamd) echo "$RS_PID" ;;
	resolver) echo "$DNS_PID" ;;
	esac
}
groups_of() { case "$1" in a|b) echo "$GROUPS_TS" ;; *) echo "$GROUPS_PF" ;; esac; }
cpu_groups() { # variant -> ticks per group, then the load generator's
	local g
	for g in $(groups_of "$1"); do
		# shellcheck disable=SC2046
		printf '%s ' "$(tree_cpu_ticks $(group_pids "$g"))"
	done
	own_cpu_ticks
}

# "name ticks" per live process of tsamba (its processes live as long as
# the run; Postfix's come and go into the master's child times), named by
# the title it sets (ps args: "tsamba-smtpd: lookup" etc.).
proc_ticks() {
	local p
	for p in $(descendants $TS_PIDS); do
		printf '%s %s\n' "$(ps -o args= -p "$p" | tr -c 'a-z0-9\n-' _ |
		    cut -c1-40)" "$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' \
		    "/proc/$p/stat" 2>/dev/null)"
	done
}
# ms per message of each tsamba process between two proc_ticks.
by_proc() { # before after n
	awk -v n="$3" -v hz="$(getconf CLK_TCK)" '
	    FNR == NR { a[$1] += $2; next } { b[$1] += $2 }
	    END { s = "by_proc="; sep = ""
		for (k in b) if (b[k] - a[k] > 0) {
			s = s sep k ":" sprintf("%.3f", 1000 * (b[k] - a[k]) / hz / n); sep = "," }
		print s }' <(echo "$1") <(echo "$2")
}

declare -A RES		# RES[variant,key] = "value value ..." over rounds
FIRST=0
run_one() { # variant round
	local v=$1 root out c0 c1 y0 y1 t0 tacc secs line verd="" i p0 base
	root=$(maildirs "$v")
	if [ "$2" = 1 ] && [ "$WARMUP" -gt 0 ]; then
		base=$(count_files "$root")
		out=$(send "$v" "$WARMUP" 0) || die "($v) warm-up: $out"
		wait_files "$root" $(( base + WARMUP )) 120 ||
		    die "($v) warm-up mail not delivered"
	fi
	sleep 1
	base=$(count_files "$root")
	touch "$T/mark"
	case "$v" in a|b) p0=$(proc_ticks) ;; esac
	c0=$(cpu_groups "$v"); y0=$(sys_cpu)
	t0=$EPOCHREALTIME
	out=$(send "$v" "$N" "$FIRST") || die "($v) not every message was accepted: $out"
	tacc=$EPOCHREALTIME
	wait_files "$root" $(( base + N )) 600 ||
	    die "($v) run invalid: $(( $(count_files "$root") - base )) of $N delivered"
	c1=$(cpu_groups "$v"); y1=$(sys_cpu)
	case "$v" in a|b) verd=$(by_proc "$p0" "$(proc_ticks)" "$N") ;; esac
	FIRST=$(( FIRST + N ))
	secs=$(fdiff "$t0" "$DONE_TS")
	case "$v" in
	b|c)
		verd="$verd $($WORLD verdicts --newer "$T/mark" "$root")" ||
		    die "($v) the delivered mail lacks pass verdicts: $verd"
		;;
	esac
	[ "$v" = c ] && [ "$2" = 1 ] &&
	    log "rspamd's symbols on the last message: $(rspamd_symbols)"
	line=$(awk -v v="$v" -v r="$2" -v n="$N" -v s="$secs" \
	    -v acc="$(fdiff "$t0" "$tacc")" -v g="$(groups_of "$v") loadgen" \
	    -v c0="$c0" -v c1="$c1" -v y0="$y0" -v y1="$y1" \
	    -v hz="$(getconf CLK_TCK)" 'BEGIN {
		ng = split(g, name, " "); split(c0, a, " "); split(c1, b, " ")
		split(y0, p, " "); split(y1, q, " ")
		printf "variant=%s round=%d n=%d seconds=%.3f msgs_per_s=%.1f accept_s=%.3f", v, r, n, s, n / s, acc
		stack = 0
		for (i = 1; i <= ng; i++) {
			ms = 1000 * (b[i] - a[i]) / hz / n
			printf " %s_cpu_ms=%.3f", name[i], ms
			if (name[i] != "resolver" && name[i] != "loadgen") stack += ms
		}
		printf " stack_cpu_ms=%.3f sys_busy_pct=%.0f", stack, 100 * (q[1] - p[1]) / (q[2] - p[2])
	}')
	case "$v" in a|b)
		line="$line smtpd_cpu_ms=$(echo "$verd" | tr ' ,' '\n\n' |
		    awk -F: '/smtpd/ { t += $NF } END { printf "%.3f", t }')" ;;
	esac
	echo "$line $verd"
	for i in $(echo "$line" | tr ' ' '\n' | grep -E '_(cpu_ms|per_s)='); do
		RES[$v,${i%%=*}]="${RES[$v,${i%%=*}]:-} ${i#*=}"
	done
}

median() { # values...
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
	    END { if (NR == 0) print "NA"; else if (NR % 2) print v[(NR + 1) / 2];
		  else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
med() { # variant key
	# shellcheck disable=SC2086
	median ${RES[$1,$2]:-}
}

# Even rounds go in the reverse order: what a run leaves behind (the
# file system's recently freed inodes, caches) then weighs on each
# variant alike.
for r in $(seq 1 "$ROUNDS"); do
	order=$VARIANTS
	[ $(( r % 2 )) = 0 ] && order=$(echo "$VARIANTS" | tr ' ' '\n' | tac | tr '\n' ' ')
	for v in $order; do
		run_one "$v" "$r"
	done
done

# ------------------------------------------------------------- summary
echo "# medians over $ROUNDS rounds, CPU in ms per message"
for v in $VARIANTS; do
	s="median variant=$v msgs_per_s=$(med "$v" msgs_per_s)"
	extra=""
	case "$v" in a|b) extra=smtpd ;; esac
	for g in $(groups_of "$v") stack loadgen $extra; do
		s="$s ${g}_cpu_ms=$(med "$v" "${g}_cpu_ms")"
	done
	echo "$s"
done
awk -v ra="$(med a msgs_per_s)" -v rb="$(med b msgs_per_s)" \
    -v ca="$(med a stack_cpu_ms)" -v cb="$(med b stack_cpu_ms)" \
    -v cc="$(med c stack_cpu_ms)" -v rc="$(med c resolver_cpu_ms)" \
    -v rbr="$(med b resolver_cpu_ms)" -v sa="$(med a smtpd_cpu_ms)" \
    -v sb="$(med b smtpd_cpu_ms)" 'BEGIN {
	loss = (ra > 0 && rb != "NA") ? 100 * (1 - rb / ra) : -1
	add = (ca != "NA" && cb != "NA") ? cb - ca : -1
	ratio = (cc != "NA" && cc > 0) ? cb / cc : -1
	ratio_r = (cc != "NA" && cc + rc > 0) ? (cb + rbr) / (cc + rc) : -1
	miss = ""
	if (loss < -100 || loss > 15) miss = miss ",rate_loss"
	if (add < -100 || add > 0.5) miss = miss ",added_cpu"
	if (ratio < 0 || ratio >= 1 / 3) miss = miss ",cpu_ratio"
	if (ra == "NA" || rb == "NA" || cc == "NA") miss = ",incomplete"
	sadd = (sa != "NA" && sb != "NA") ? sb - sa : -1
	printf "checks_rate_loss_pct=%.1f checks_added_cpu_ms=%.3f checks_added_smtpd_cpu_ms=%.3f cpu_ratio_vs_rspamd=%.3f cpu_ratio_with_resolver=%.3f targets=%s\n",
	    loss, add, sadd, ratio, ratio_r, miss == "" ? "met" : "missed:" substr(miss, 2)
}'
