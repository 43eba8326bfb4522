"""tsamba-authd with every table on a real MariaDB server (mariadb.py):
lookups, logins with {SHA512-CRYPT} hashes, sender checks, a database
that goes away and comes back, a wrong query, and brute-force bans with
their log lines, persistence and the control socket."""

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import pytest

import mariadb
from imsgclient import (Client, pack_str, LOGIN, OK, NOUSER, NOTHOSTED, TEMPFAIL, INVALID,
                        RCPT_LOCAL, AUTH_OK, AUTH_FAIL, AUTH_TEMPFAIL,
                        AUTH_BANNED)
from sandbox import Daemon, ensure_system_user

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
AUTHD = os.environ.get("TSAMBA_AUTHD",
                       os.path.join(ROOT, "authd", "tsamba-authd"))
BAN_SECONDS = 6
NEVER_NET = "198.51.100.0/24"


def sha512_crypt(password):
    """As `doveadm pw -s SHA512-CRYPT` writes it."""
    out = subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                         input=password.encode(), stdout=subprocess.PIPE,
                         check=True).stdout.decode().strip()
    return "{SHA512-CRYPT}" + out


class Authd:
    def __init__(self, tmp, db):
        self.tmp, self.db = tmp, db
        self.rundir = os.path.join(tmp, "run")
        self.statedir = os.path.join(tmp, "state")
        self.conf = os.path.join(tmp, "tsamba.conf")
        self.sqlconf = os.path.join(tmp, "mysql.conf")
        self.log = os.path.join(tmp, "authd.log")
        self.sock = os.path.join(self.rundir, "auth.sock")
        self.ctlsock = os.path.join(self.rundir, "authd.control.sock")
        self.daemon = Daemon([AUTHD, "-d", "-v", "-f", self.conf], self.log)

    @property
    def proc(self):
        return self.daemon.proc

    def setup(self):
        for d in (self.rundir, os.path.join(self.tmp, "vmail"),
                  os.path.join(self.tmp, "empty")):
            os.makedirs(d, 0o755, exist_ok=True)
        self.write_sqlconf(self.db.conf_text(tcp=True))
        with open(self.conf, "w") as f:
            f.write('rundir "%s"\nmailroot "%s/vmail"\nchroot "%s/empty"\n'
                    'statedir "%s"\n' % (self.rundir, self.tmp, self.tmp,
                                         self.statedir))
            for t in ("domains", "users", "aliases"):
                f.write('table %s mysql "%s"\n' % (t, self.sqlconf))
            f.write("ban max-failures 5\nban window 1m\n"
                    "ban duration %ds\nban never \"%s\"\n"
                    % (BAN_SECONDS, NEVER_NET))

    def write_sqlconf(self, text):
        with open(self.sqlconf, "w") as f:
            f.write(text)
        os.chmod(self.sqlconf, 0o600)

    def run_check(self):
        return subprocess.run([AUTHD, "-n", "-f", self.conf],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=30)

    def start(self):
        self.daemon.start(self.answers, 20, "auth.sock")

    def answers(self):
        try:
            Client(self.sock).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.daemon.stop(grace=10)

    def log_text(self):
        return self.daemon.log_text()

    def client(self):
        return Client(self.sock)

    def control(self):
        return Client(self.ctlsock, peer="authd control")


@pytest.fixture(scope="module")
def env(request):
    if not os.access(AUTHD, os.X_OK):
        pytest.skip("authd/tsamba-authd not built")
    if not mariadb.available():
        pytest.skip("mariadb-server/mariadb-client not installed")
    if os.geteuid() == 0:
        for u in ("_tsambaauth", "_tsamba", "_tsambaq", "vmail"):
            ensure_system_user(u)
    tmp = tempfile.mkdtemp(prefix="tsamba-authd-mysql-", dir="/tmp")
    os.chmod(tmp, 0o755)
    db = mariadb.MariaDB(os.path.join(tmp, "mariadb"))
    os.makedirs(db.tmp)
    db.start()
    db.load_schema()
    db.add_domain("example.org")
    db.add_domain("example.net")
    db.add_user("alice@example.org", sha512_crypt("alice-Secret-1!"))
    db.add_user("bob@example.org", sha512_crypt("bob-pw"))
    db.add_user("o'b%r@example.org", sha512_crypt("quote"))
    db.add_user("broken@example.org", "{MD5}nonsense")
    db.add_alias("postmaster@example.org", "alice@example.org")
    db.add_alias("team@example.org", "alice@example.org")
    db.add_alias("team@example.org", "bob@example.org")
    db.add_alias("team@example.org", "someone@remote.test")
    db.add_alias("a%@example.org", "bob@example.org")
    db.add_alias("@example.net", "bob@example.org")
    d = Authd(tmp, db)
    d.setup()
    d.start()

    def finish():
        d.stop()
        db.stop()
        if request.session.testsfailed:
            sys.stderr.write("authd log:\n%s\nmariadb log:\n%s\n" %
                             (d.log_text()[-5000:],
                              db.log_text()[-2000:]))
        shutil.rmtree(tmp, ignore_errors=True)
    request.addfinalizer(finish)
    return d


@pytest.fixture
def c(env):
    cl = env.client()
    yield cl
    cl.close()


def test_hosted_mailbox(c):
    assert c.rcpt("alice@example.org") == (OK, [("alice@example.org",
                                                 RCPT_LOCAL)])
    assert c.rcpt("ALICE@Example.ORG")[0] == OK


def test_unknown_and_not_hosted(c):
    assert c.rcpt("nobody@example.org") == (NOUSER, [])
    assert c.rcpt("alice@elsewhere.test") == (NOTHOSTED, [])
    assert c.rcpt("bad address")[0] == INVALID


def test_alias_one_to_many(c):
    status, rcpts = c.rcpt("team@example.org")
    assert status == OK
    assert sorted(rcpts) == sorted([("alice@example.org", RCPT_LOCAL),
                                    ("bob@example.org", RCPT_LOCAL),
                                    ("someone@remote.test", 0)])


def test_catch_all(c):
    assert c.rcpt("any@example.net") == (OK, [("bob@example.org",
                                               RCPT_LOCAL)])


def test_quote_and_percent_are_data(c):
    assert c.rcpt("o'b%r@example.org") == (OK, [("o'b%r@example.org",
                                                 RCPT_LOCAL)])
    # A '%' is not a LIKE wildcard, a quote does not end a string.
    assert c.rcpt("o'b_r@example.org")[0] == NOUSER
    assert c.rcpt("a%@example.org")[1] == [("bob@example.org", RCPT_LOCAL)]
    assert c.rcpt("ab@example.org")[0] == NOUSER
    assert c.rcpt("x' OR '1'='1@example.org")[0] in (NOUSER, INVALID)


def test_lookup_user(c):
    status, maildir, uid, gid, quota = c.user("alice@example.org")
    assert status == OK and maildir == "example.org/alice/"
    assert c.user("nobody@example.org")[0] == NOUSER


def test_login(c):
    assert c.login("alice@example.org", "alice-Secret-1!",
                   ip="203.0.113.50") == (AUTH_OK, "alice@example.org")
    assert c.login("Alice@EXAMPLE.org", "alice-Secret-1!",
                   ip="203.0.113.50") == (AUTH_OK, "alice@example.org")
    assert c.login("o'b%r@example.org", "quote",
                   ip="203.0.113.50")[0] == AUTH_OK


def test_wrong_password_and_unknown_user(env, c):
    assert c.login("alice@example.org", "wrong", ip="203.0.113.51") == \
        (AUTH_FAIL, "")
    assert c.login("nobody@example.org", "x", ip="203.0.113.51") == \
        (AUTH_FAIL, "")
    assert c.login("broken@example.org", "x", ip="203.0.113.51")[0] == \
        AUTH_FAIL
    time.sleep(0.2)
    log = env.log_text()
    assert ("auth failure: service=smtp user=alice@example.org "
            "ip=203.0.113.51 reason=password") in log
    assert ("auth failure: service=smtp user=nobody@example.org "
            "ip=203.0.113.51 reason=unknown-user") in log
    assert "unknown password scheme" in log


def test_check_sender(c):
    assert c.check_sender("alice@example.org", "alice@example.org") == OK
    assert c.check_sender("alice@example.org", "Alice+tag@example.org") == OK
    assert c.check_sender("alice@example.org", "postmaster@example.org") == OK
    assert c.check_sender("alice@example.org", "team@example.org") == NOUSER
    assert c.check_sender("alice@example.org", "bob@example.org") == NOUSER


def test_slow_hash_does_not_block(c):
    """Many logins in flight: all answered, matched by id."""
    for i in range(8):
        c.send(LOGIN, struct.pack("<Q", 1000 + i) +
               b"".join(pack_str(s) for s in
                        ("alice@example.org", "alice-Secret-1!",
                         "203.0.113.60", "smtp")))
    ids = []
    for _ in range(8):
        mtype, payload = c.recv()
        ids.append(struct.unpack("<Q", payload[:8])[0])
    assert sorted(ids) == list(range(1000, 1008))


def test_bans(env, c):
    ip = "203.0.113.77"
    for _ in range(5):
        assert c.login("bob@example.org", "bad", ip=ip)[0] == AUTH_FAIL
    banned, end = c.check_ban(ip)
    assert banned == 1 and end > time.time()
    # Even the right password is refused now, without being checked.
    assert c.login("bob@example.org", "bob-pw", ip=ip)[0] == AUTH_BANNED
    time.sleep(0.2)
    log = env.log_text()
    assert "ban: ip=%s failures=5 until=" % ip in log
    assert ("auth failure: service=smtp user=bob@example.org ip=%s "
            "reason=banned" % ip) in log

    # The ban survives a restart of authd.
    env.stop()
    env.start()
    c2 = env.client()
    assert c2.check_ban(ip)[0] == 1
    assert c2.login("bob@example.org", "bob-pw", ip=ip)[0] == AUTH_BANNED
    # ... and lifts once its time is over.
    time.sleep(max(0, end - time.time()) + 1.5)
    assert c2.check_ban(ip)[0] == 0
    assert c2.login("bob@example.org", "bob-pw", ip=ip)[0] == AUTH_OK
    c2.close()


def test_never_banned(env):
    c = env.client()
    for _ in range(8):
        assert c.login("bob@example.org", "bad",
                       ip="198.51.100.9")[0] == AUTH_FAIL
    assert c.check_ban("198.51.100.9")[0] == 0
    assert c.login("bob@example.org", "bob-pw",
                   ip="198.51.100.9")[0] == AUTH_OK
    c.close()


def test_control_socket(env):
    ctl = env.control()
    # the answer says what was banned, until when (ISO 8601)
    import re
    iso = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"
    st, msg = ctl.ban_add("192.0.2.0/24", 300)
    assert st == 0 and re.fullmatch(r"banned 192\.0\.2\.0/24 until %s "
                                    r"\(300s\)" % iso, msg), msg
    st, msg = ctl.ban_add("2001:db8::1")
    assert st == 0 and re.fullmatch(r"banned 2001:db8::1 until %s \(\d+s\)"
                                    % iso, msg), msg
    assert ctl.ban_add("not-an-ip")[0] == 1
    bans = {ip: (end, n) for ip, end, n in ctl.ban_list()}
    assert "192.0.2.0/24" in bans and "2001:db8::1" in bans
    c = env.client()
    assert c.check_ban("192.0.2.200")[0] == 1
    assert c.check_ban("::ffff:192.0.2.7")[0] == 1
    assert c.check_ban("2001:db8::1")[0] == 1
    assert ctl.ban_del("192.0.2.0/24") == (0, "")
    assert ctl.ban_del("192.0.2.0/24")[0] == 1
    assert c.check_ban("192.0.2.200")[0] == 0
    assert ctl.ban_del("2001:db8::1") == (0, "")
    assert os.stat(env.ctlsock).st_mode & 0o777 == 0o600
    c.close()
    ctl.close()


def test_database_down_then_back(env):
    c = env.client()
    assert c.rcpt("alice@example.org")[0] == OK
    env.db.stop()
    try:
        assert c.rcpt("alice@example.org") == (TEMPFAIL, [])
        assert c.rcpt("nobody@example.org") == (TEMPFAIL, [])
        assert c.user("alice@example.org")[0] == TEMPFAIL
        assert c.login("alice@example.org", "alice-Secret-1!",
                       ip="203.0.113.90")[0] == AUTH_TEMPFAIL
        assert c.check_sender("alice@example.org",
                              "team@example.org") == TEMPFAIL
    finally:
        env.db.start()
    deadline = time.monotonic() + 30
    while c.rcpt("alice@example.org")[0] != OK:
        assert time.monotonic() < deadline, "authd did not reconnect"
        time.sleep(0.5)
    # Every worker finds its way back, not only one.
    for _ in range(20):
        st = c.login("alice@example.org", "alice-Secret-1!",
                     ip="203.0.113.90")[0]
        if st != AUTH_OK:
            assert st == AUTH_TEMPFAIL
            time.sleep(0.5)
    assert c.login("alice@example.org", "alice-Secret-1!",
                   ip="203.0.113.90")[0] == AUTH_OK
    assert env.proc.poll() is None
    c.close()


def test_wrong_query_refused_at_start(env):
    good = env.db.conf_text(tcp=True)
    try:
        env.write_sqlconf(good + "query_user = SELECT mail FROM users "
                          "WHERE mail = ?\n")
        r = env.run_check()
        assert r.returncode == 1
        assert b"query_user: returns 1 column, needs 2" in r.stdout
        env.write_sqlconf(good + "query_alias = SELECT destination FROM "
                          "no_such_table WHERE source = ?\n")
        r = env.run_check()
        assert r.returncode == 1
        assert b"query_alias:" in r.stdout and b"no_such_table" in r.stdout
        env.write_sqlconf(good + "query_domain = SELECT name FROM domains\n")
        r = env.run_check()
        assert r.returncode == 1
        assert b"query_domain: the query needs 1 '?' placeholder" in r.stdout
    finally:
        env.write_sqlconf(good)
    r = env.run_check()
    assert r.returncode == 0, r.stdout
    assert b"configuration OK" in r.stdout
