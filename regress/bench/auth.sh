#!/bin/bash
# auth.sh -- login throughput, tsamba-authd against Dovecot's auth, both on
# the same private MariaDB, in the same run:
#   tsamba:  L SMTP sessions on the submission port, C at a time: EHLO,
#            STARTTLS, EHLO, AUTH PLAIN, QUIT (one login per session)
#            -> tsamba-smtpd -> tsamba-authd (table users mysql) -> MariaDB
#   dovecot: L `doveadm auth test` runs, C at a time (xargs -P), against a
#            private Dovecot whose passdb is sql (dovecot-mysql) on the
#            same database.
# Every user has a {SHA512-CRYPT} hash with the default 5000 rounds, as
# `doveadm pw -s SHA512-CRYPT` writes it (made here with openssl passwd -6,
# the same format), so each login costs one hash; neither side caches.
# Each doveadm call is a process start (doveadm parses the config too):
# about 9 ms of CPU on a 2-vCPU VM, more than the login itself, which is why
# the figures below matter for a fair comparison.
# Also printed, for where the time goes: the same L logins straight to each
# auth service's socket (tsamba: LOGIN imsg on auth.sock; Dovecot: its
# auth-client protocol), with no process start, SMTP or TLS in the way, and
# the CPU seconds of each process tree during each part.
# The ceiling is what the CPU's crypt speed allows: cores / (time of one
# SHA512-CRYPT hash, measured with libcrypt through python3's crypt module,
# or openssl passwd -6 when that module is missing).
#
# Environment: L (2000) logins per part, C (16) parallel sessions/calls,
# USERS (100) users u1..uUSERS@example.test, POOL (4) authd's MariaDB pool,
# WARMUP (50) untimed logins before each part, KEEP=1 keeps the temp dir,
# PYTHON, LOCK and the other tunables of ../shared/peers/smtp/lib.sh.
# Needs root, a built tree (make), mariadb-server, dovecot-core and
# dovecot-mysql (installed with apt-get when missing), openssl.
# Prints the figures, then, last, exactly one line:
#   tsamba_logins_per_s=... dovecot_logins_per_s=... ceiling_per_s=...
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=${PEERS:-$TOP/../shared/peers/smtp}
PYTHON=${PYTHON:-python3}
LOAD="$PYTHON $TOP/regress/bench/smtp_load.py"
: "${L:=2000}" "${C:=16}" "${USERS:=100}" "${POOL:=4}" "${WARMUP:=50}"
# shellcheck disable=SC2034 # the log prefix of lib.sh
STACK=auth
DBUSER=benchauth
DBPASS=benchauth-db-pw
PASSWORD=Bench-login-pw-1

[ -r "$PEERS/lib.sh" ] || { echo "no $PEERS/lib.sh" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "auth.sh: run as root" >&2; exit 1; }

sh "$TOP/regress/deps.sh" build mariadb-server mariadb-client dovecot-core \
    dovecot-mysql || exit 1
for b in "$TOP"/authd/tsamba-authd "$TOP"/queue/tsamba-queue \
    "$TOP"/lmtpd/tsamba-lmtpd "$TOP"/smtpd/tsamba-smtpd; do
	[ -x "$b" ] || { echo "$b is not built (make)" >&2; exit 1; }
done

# shellcheck source=/dev/null
. "$PEERS/lib.sh"
need openssl doveadm dovecot mariadbd mariadb-install-db mariadb \
    mariadb-admin flock xargs

SB="" DB_PID="" DC_PID=""
cleanup() {
	set +e
	[ -n "$SB" ] && [ -f "$SB/pids" ] &&
	    "$PYTHON" "$TOP/regress/sandbox.py" stop "$SB" >&2
	stop_tree dovecot "$DC_PID"
	stop_tree mariadbd "$DB_PID"
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "$KEEP" = 1 ]; then log "kept $T"; else rm -rf "$T"; fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

acquire_lock
make_tmp
log "temp dir $T"

# ------------------------------------------------------------- crypt speed
# One core's time for one SHA512-CRYPT hash with the default 5000 rounds.
hash_ms() {
	"$PYTHON" -W ignore - <<-'EOF' 2>/dev/null && return 0
	import crypt, time
	salt = crypt.mksalt(crypt.METHOD_SHA512)
	crypt.crypt("warm", salt)
	n, t0 = 0, time.perf_counter()
	while time.perf_counter() - t0 < 2.0:
	    crypt.crypt("Bench-login-pw-%d" % n, salt)
	    n += 1
	print("%.3f libcrypt" % (1000 * (time.perf_counter() - t0) / n))
	EOF
	local n=400 t0 t1
	t0=$EPOCHREALTIME
	seq "$n" | sed 's/^/pw/' | openssl passwd -6 -stdin >/dev/null
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" -v n="$n" \
	    'BEGIN { printf "%.3f openssl\n", 1000 * (b - a) / n }'
}
read -r HASH_MS HASH_HOW < <(hash_ms)
CORES=$(nproc)
CEILING=$(awk -v c="$CORES" -v h="$HASH_MS" 'BEGIN { printf "%.1f", 1000 * c / h }')
log "one SHA512-CRYPT hash: $HASH_MS ms ($HASH_HOW), $CORES cores: ceiling $CEILING logins/s"

# ------------------------------------------------------------- MariaDB
# The server runs as mysql: its socket, pid file and log live in a
# directory of its own.
DBDIR=$T/db DBRUN=$T/dbrun
DBSOCK=$DBRUN/mysql.sock
mkdir -p "$DBDIR" "$DBRUN"
chown mysql:mysql "$DBDIR" "$DBRUN"
mariadb-install-db --no-defaults --datadir="$DBDIR" --user=mysql \
    --auth-root-authentication-method=normal --skip-test-db \
    > "$T/mariadb-install.log" 2>&1 || die "mariadb-install-db failed"
mariadbd --no-defaults --datadir="$DBDIR" --socket="$DBSOCK" \
    --skip-networking --pid-file="$DBRUN/mariadb.pid" \
    --log-error="$DBRUN/mariadb.log" --user=mysql \
    --innodb-buffer-pool-size=16M --max-connections=500 \
    </dev/null >/dev/null 2>&1 9>&- &
DB_PID=$!
for _ in $(seq 1 150); do
	mariadb-admin --no-defaults -uroot --socket="$DBSOCK" \
	    --connect-timeout=2 ping >/dev/null 2>&1 && break
	alive "$DB_PID" || die "mariadbd died: $(tail -5 "$DBRUN/mariadb.log")"
	sleep 0.2
done
sql() { mariadb --no-defaults -uroot --socket="$DBSOCK" --batch \
    --skip-column-names "$@"; }
# The schema of the integration tests (regress/integration/mariadb.py).
"$PYTHON" -c "import sys; sys.path.insert(0, '$TOP/regress/integration');
import mariadb; print(mariadb.SCHEMA)" | sql || die "schema failed"
{
	echo "CREATE USER '$DBUSER'@'localhost' IDENTIFIED BY '$DBPASS';"
	echo "GRANT SELECT ON mailserver.* TO '$DBUSER'@'localhost';"
	echo "USE mailserver;"
	echo "INSERT INTO domains (name) VALUES ('example.test');"
	seq "$USERS" | sed "s/.*/$PASSWORD/" | openssl passwd -6 -stdin |
	    awk '{ printf "INSERT INTO users (domain_id, mail, c_password) " \
		"VALUES (1, '\''u%d@example.test'\'', '\''{SHA512-CRYPT}%s'\'');\n",
		NR, $0 }'
} | sql || die "loading users failed"
log "mariadbd pid $DB_PID on $DBSOCK, $(sql -e 'SELECT COUNT(*) FROM mailserver.users') users"

# ------------------------------------------------------------- tsamba
SB=$T/tsamba
cat > "$T/mysql.conf" <<EOF
socket = $DBSOCK
user = $DBUSER
password = "$DBPASS"
database = mailserver
pool = $POOL
EOF
chmod 640 "$T/mysql.conf"
chgrp _tsambaauth "$T/mysql.conf" 2>/dev/null || true
# The sandbox's config with every table on MariaDB instead of files.
"$PYTHON" - "$TOP" "$SB" "$T/mysql.conf" "$C" >&2 9>&- <<-'EOF' ||
	import sys
	sys.path.insert(0, sys.argv[1] + "/regress")
	import sandbox
	d, sqlconf, conc = sys.argv[2], sys.argv[3], int(sys.argv[4])
	sb = sandbox.Sandbox(d, submission=True,
	                     limits={"sessions-per-ip": conc * 4 + 16})
	text = sb.conf_text
	def conf_text():
	    out = []
	    for line in text().splitlines():
	        if line.startswith("table "):
	            line = 'table %s mysql "%s"' % (line.split()[1], sqlconf)
	        out.append(line)
	    return "\n".join(out) + "\n"
	sb.conf_text = conf_text
	sb.write()
	import grp, os
	try:
	    os.chown(sqlconf, 0, grp.getgrnam("_tsambaauth").gr_gid)
	except KeyError:
	    pass
	sb.start()
	EOF
    die "tsamba did not start (logs in $SB/log)"
# shellcheck source=/dev/null
. "$SB/demo.env"
TS_AUTHD=$(awk '$1 == "authd" { print $2 }' "$SB/pids")
TS_SMTPD=$(awk '$1 == "smtpd" { print $2 }' "$SB/pids")
log "tsamba authd pid $TS_AUTHD, smtpd pid $TS_SMTPD, submission 127.0.0.1:$SUBMISSION_PORT"

# ------------------------------------------------------------- Dovecot
DC=$T/dovecot
mkdir -p "$DC/run" "$DC/state"
chmod 755 "$DC" "$DC/run"
cat > "$DC/sql.conf.ext" <<EOF
driver = mysql
connect = host=$DBSOCK dbname=mailserver user=$DBUSER password=$DBPASS
default_pass_scheme = SHA512-CRYPT
password_query = SELECT mail AS user, c_password AS password FROM users WHERE mail = '%u'
EOF
chmod 600 "$DC/sql.conf.ext"
cat > "$DC/dovecot.conf" <<EOF
# generated by regress/bench/auth.sh: only the auth service, no listener
instance_name = authbench-$$
base_dir = $DC/run
state_dir = $DC/state
log_path = $DC/dovecot.log
protocols = none
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = sql
  args = $DC/sql.conf.ext
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
EOF
dovecot -c "$DC/dovecot.conf" 9>&- || die "dovecot did not start: $(tail -5 "$DC/dovecot.log")"
for _ in $(seq 1 100); do
	[ -s "$DC/run/master.pid" ] && [ -S "$DC/run/auth-client" ] && break
	sleep 0.1
done
DC_PID=$(cat "$DC/run/master.pid" 2>/dev/null || true)
[ -n "$DC_PID" ] && alive "$DC_PID" && [ -S "$DC/run/auth-client" ] ||
    die "dovecot did not start: $(tail -5 "$DC/dovecot.log" 2>/dev/null)"
log "dovecot $(dovecot --version | cut -d' ' -f1) pid $DC_PID, passdb sql on $DBSOCK"

# ------------------------------------------------------------- the parts
# The doveadm calls: one line "user password" per call.
doveadm_calls() { # count file
	awk -v n="$1" -v u="$USERS" -v p="$PASSWORD" \
	    'BEGIN { for (i = 0; i < n; i++) printf "u%d@example.test %s\n", i % u + 1, p }' > "$2"
}
doveadm_run() { # count -> key=value line like smtp_load.py
	local f=$T/doveadm.calls t0 t1 rc=0 ok
	doveadm_calls "$1" "$f"
	t0=$EPOCHREALTIME
	xargs -P "$C" -L 1 doveadm -c "$DC/dovecot.conf" auth test \
	    -a "$DC/run/auth-client" < "$f" > "$T/doveadm.out" 2>&1 9>&- || rc=$?
	t1=$EPOCHREALTIME
	ok=$(grep -c 'auth succeeded' "$T/doveadm.out" || true)
	awk -v a="$t0" -v b="$t1" -v ok="$ok" -v n="$1" -v rc="$rc" 'BEGIN {
		printf "ok=%d fail=%d seconds=%.3f per_s=%.1f xargs_rc=%d\n",
		    ok, n - ok, b - a, ok / (b - a), rc }'
}

RESULTS=()
# part name, the process trees whose CPU counts, then the command
part() {
	local name=$1 trees=$2; shift 2
	local c0 c1 cs0 cs1 db0 db1 sys0 sys1 own0 own1 line hz
	hz=$(getconf CLK_TCK)
	if [ "$WARMUP" -gt 0 ]; then
		COUNT=$WARMUP "$@" > "$T/warmup.out" ||
		    die "$name warm-up failed: $(cat "$T/warmup.out")"
	fi
	sleep 0.5
	c0=$(tree_cpu_ticks $trees); db0=$(tree_cpu_ticks "$DB_PID")
	cs0=$(tree_cpu_ticks "$TS_SMTPD"); sys0=$(sys_cpu); own0=$(own_cpu_ticks)
	COUNT=$L "$@" > "$T/part.out" || true
	c1=$(tree_cpu_ticks $trees); db1=$(tree_cpu_ticks "$DB_PID")
	cs1=$(tree_cpu_ticks "$TS_SMTPD"); sys1=$(sys_cpu); own1=$(own_cpu_ticks)
	line=$(cat "$T/part.out")
	line="$line $(awk -v c0="$c0" -v c1="$c1" -v d0="$db0" -v d1="$db1" \
	    -v s0="$cs0" -v s1="$cs1" -v o0="$own0" -v o1="$own1" \
	    -v y0="$sys0" -v y1="$sys1" -v hz="$hz" -v n="$L" -v name="$name" 'BEGIN {
		split(y0, a, " "); split(y1, b, " ")
		printf "auth_cpu_s=%.2f auth_cpu_ms_per_login=%.2f db_cpu_s=%.2f",
		    (c1 - c0) / hz, 1000 * (c1 - c0) / hz / n, (d1 - d0) / hz
		if (name ~ /^tsamba_smtp/)
			printf " smtpd_cpu_s=%.2f smtpd_cpu_ms_per_login=%.2f",
			    (s1 - s0) / hz, 1000 * (s1 - s0) / hz / n
		printf " children_cpu_s=%.2f sys_busy_pct=%.0f",
		    (o1 - o0) / hz, 100 * (b[1] - a[1]) / (b[2] - a[2]) }')"
	echo "part=$name n=$L conc=$C $line"
	RESULTS+=("part=$name $line")
	case "$line" in
	ok="$L"\ *) ;;
	*) log "$name: not every login succeeded: $line" ;;
	esac
}
smtp_logins() {
	$LOAD login 127.0.0.1 "$SUBMISSION_PORT" --count "$COUNT" --conc "$C" \
	    --users "$USERS" --password "$PASSWORD" 9>&-
}
authd_logins() {
	$LOAD authd "$SB/run/auth.sock" --count "$COUNT" --conc "$C" \
	    --users "$USERS" --password "$PASSWORD" 9>&-
}
dovecot_logins() {
	$LOAD dovecot "$DC/run/auth-client" --count "$COUNT" --conc "$C" \
	    --users "$USERS" --password "$PASSWORD" 9>&-
}
doveadm_logins() { doveadm_run "$COUNT"; }

log "timed parts: L=$L C=$C USERS=$USERS POOL=$POOL"
# authd's own CPU is its whole tree (broker and its worker threads); the
# SMTP engine's CPU (sessions, TLS) is printed beside it.
part tsamba_smtp "$TS_AUTHD" smtp_logins
part dovecot_doveadm "$DC_PID" doveadm_logins
part tsamba_authd_direct "$TS_AUTHD" authd_logins
part dovecot_auth_direct "$DC_PID" dovecot_logins

field() { # line key
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}
rate() { # part name
	local r
	for r in "${RESULTS[@]}"; do
		[ "$(field "$r" part)" = "$1" ] && { field "$r" per_s; return; }
	done
	echo NA
}
echo "sha512_crypt_ms=$HASH_MS ($HASH_HOW) cores=$CORES ceiling_per_s=$CEILING"
echo "tsamba (SMTP AUTH over STARTTLS): $(rate tsamba_smtp) logins/s;" \
    "authd direct: $(rate tsamba_authd_direct) logins/s"
echo "dovecot (doveadm auth test): $(rate dovecot_doveadm) logins/s;" \
    "auth-client direct: $(rate dovecot_auth_direct) logins/s"
echo "tsamba_logins_per_s=$(rate tsamba_smtp)" \
    "dovecot_logins_per_s=$(rate dovecot_doveadm) ceiling_per_s=$CEILING"
