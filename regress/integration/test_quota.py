"""Mailbox quotas from the configuration and the users tables (issue 8):
`limit mailbox-size` is the default of every mailbox, a Dovecot
quota_rule in the extra field of a passwd-file line overrides it (0 is
unlimited), and MariaDB's users query may return the quota as a third
column.  IMAP GETQUOTAROOT shows the limit, APPEND over it gets NO
[OVERQUOTA], an LMTP delivery over it 552 5.2.2 for that recipient only,
a message sent over SMTP comes back to its sender as a bounce, and the
first line of maildirsize follows a changed limit."""

import imaplib
import os
import re
import subprocess
import socket

import pytest

import mariadb
from helpers import make_message, smtp, tls_context
from sandbox import sha512_crypt, wait_for

TIMEOUT = 15
DEFAULT = 40 * 1024


def set_rules(sb, rules):
    """Rewrite the users table with quota rules (local part -> rule)."""
    path = os.path.join(sb.tabledir, "users")
    with open(path) as f:
        lines = f.read().split("\n")
    out = []
    for line in lines:
        local = line.split("@", 1)[0]
        if line and not line.startswith("#") and local in rules:
            # The extra field is the 8th; a rule has colons of its own.
            fields = line.split(":", 7)
            fields += [""] * (8 - len(fields))
            fields[7] = rules[local]
            line = ":".join(fields)
        out.append(line)
    st = os.stat(path)
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write("\n".join(out))
    os.chmod(tmp, st.st_mode & 0o777)
    os.chown(tmp, st.st_uid, st.st_gid)
    os.rename(tmp, path)


RULES = {"alice": "userdb_quota_rule=*:storage=20K",
         "bob": "quota_rule=*:bytes=0"}


@pytest.fixture(scope="module")
def qsb(sandbox_factory):
    return sandbox_factory("quota", imap=True,
                           limits={"mailbox-size": "40K",
                                   "sessions-per-ip": 300},
                           queue={"retry-min": "1s"},
                           before_start=lambda sb: set_rules(sb, RULES))


def imaps(sb, user):
    m = imaplib.IMAP4_SSL("127.0.0.1", sb.ports["imaps"],
                          ssl_context=tls_context(), timeout=TIMEOUT)
    m.login(user, sb.password)
    return m


def storage(sb, user):
    """(used KiB, limit KiB) of GETQUOTAROOT INBOX, or None."""
    m = imaps(sb, user)
    try:
        typ, data = m.getquotaroot("INBOX")
        assert typ == "OK", data
        text = b" ".join(x for part in data for x in part if x)
        r = re.search(rb'\(STORAGE (\d+) (\d+)\)', text)
        return (int(r.group(1)), int(r.group(2))) if r else None
    finally:
        m.logout()


def first_line(sb, user):
    with open(os.path.join(sb.maildir(user), "maildirsize")) as f:
        return f.readline().rstrip("\n")


def message(size, subject="quota"):
    head = ("From: <sender@example.org>\r\nTo: <rcpt@example.test>\r\n"
            "Subject: %s\r\n\r\n" % subject).encode()
    line = b"y" * 70 + b"\r\n"
    return head + line * (max(0, size - len(head)) // len(line) + 1)


class Lmtp:
    """A bare LMTP client on lmtp.sock: one reply per recipient."""

    def __init__(self, sb):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(TIMEOUT)
        self.s.connect(sb.lmtp_sock)
        self.f = self.s.makefile("rb")
        assert self.reply()[0] == 220
        assert self.cmd("LHLO client.test")[0] == 250

    def reply(self):
        lines = []
        while True:
            line = self.f.readline().decode().rstrip("\r\n")
            assert line, "connection closed"
            lines.append(line)
            if line[3:4] != "-":
                return int(line[:3]), lines

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.reply()

    def deliver(self, rcpts, body):
        assert self.cmd("MAIL FROM:<sender@example.org>")[0] == 250
        for r in rcpts:
            assert self.cmd("RCPT TO:<%s>" % r)[0] == 250
        assert self.cmd("DATA")[0] == 354
        data = body.replace(b"\r\n.", b"\r\n..")
        self.s.sendall(data + b".\r\n")
        return [self.reply() for _ in rcpts]

    def close(self):
        self.s.close()


def lmtp_deliver(sb, rcpts, body):
    c = Lmtp(sb)
    try:
        return c.deliver(rcpts, body)
    finally:
        c.close()


def count(sb, user):
    return len(sb.maildir_messages(user))


def test_default_limit_from_config(qsb):
    assert storage(qsb, qsb.address("demo")) == (0, 40)
    # The file says what is enforced, as Dovecot writes it.
    assert first_line(qsb, qsb.address("demo")) == "%dS" % DEFAULT


def test_user_rule_overrides_default(qsb):
    assert storage(qsb, qsb.address("alice"))[1] == 20
    assert first_line(qsb, qsb.address("alice")) == "%dS" % (20 * 1024)
    # quota_rule 0: unlimited, no quota root at all.
    assert storage(qsb, qsb.address("bob")) is None


def test_lmtp_over_quota_552_per_recipient(qsb):
    alice, carol = qsb.address("alice"), qsb.address("carol")
    before = count(qsb, alice)
    replies = lmtp_deliver(qsb, [alice, carol], message(25 * 1024))
    assert replies[0][0] == 552 and "5.2.2" in replies[0][1][0], replies
    assert "Mailbox full" in replies[0][1][0], replies
    assert replies[1][0] == 250, replies
    assert count(qsb, alice) == before
    assert count(qsb, carol) == 1
    # Nothing of it left in alice's tmp/ either.
    assert os.listdir(os.path.join(qsb.maildir(alice), "tmp")) == []
    # carol: 25K of 40K used; 25K more does not fit, 10K does.
    assert lmtp_deliver(qsb, [carol], message(25 * 1024))[0][0] == 552
    assert lmtp_deliver(qsb, [carol], message(10 * 1024))[0][0] == 250
    used, limit = storage(qsb, carol)
    assert limit == 40 and 35 <= used <= 40, (used, limit)
    # The unlimited one takes anything.
    assert lmtp_deliver(qsb, [qsb.address("bob")],
                        message(100 * 1024))[0][0] == 250


def test_smtp_over_quota_is_bounced(qsb):
    """From SMTP the queue gets the 552 and returns the message to its
    sender with status 5.2.2: not lost, not retried."""
    alice, demo = qsb.address("alice"), qsb.address("demo")
    before = count(qsb, alice)
    msgid, msg = make_message([alice], "too big for alice",
                              "z" * 30000)
    with smtp(qsb) as s:
        assert s.sendmail(demo, [alice], msg) == {}

    def bounce():
        for p in qsb.maildir_messages(demo):
            with open(p, "rb") as f:
                data = f.read()
            if msgid.encode() in data and b"Undelivered" in data:
                return data
        return None
    data = wait_for(bounce, 60, what="the bounce")
    assert b"Status: 5.2.2" in data, data[:2000]
    assert alice.encode() in data
    assert count(qsb, alice) == before


def test_append_over_quota(qsb):
    m = imaps(qsb, qsb.address("alice"))
    try:
        typ, data = m.append("INBOX", None, None, message(25 * 1024))
        assert typ == "NO" and b"[OVERQUOTA]" in data[0], (typ, data)
        typ, data = m.append("INBOX", None, None, message(5 * 1024))
        assert typ == "OK", data
    finally:
        m.logout()


def test_limit_change_rewrites_first_line(qsb):
    alice = qsb.address("alice")
    set_rules(qsb, {"alice": "userdb_quota_rule=*:storage=30K"})
    # authd reads a changed table within a second or so.
    wait_for(lambda: storage(qsb, alice)[1] == 30, 20,
             what="the new limit")
    assert first_line(qsb, alice) == "%dS" % (30 * 1024)
    # Changed again, and this time lmtpd is the first to see it.
    loads = qsb.log("authd").count("users table")
    set_rules(qsb, {"alice": "userdb_quota_rule=*:bytes=10K"})
    wait_for(lambda: qsb.log("authd").count("users table") > loads, 20,
             what="authd to read the table again")
    r = lmtp_deliver(qsb, [alice], message(500, "small"))
    assert r[0][0] == 250, r
    assert first_line(qsb, alice) == "%dS" % (10 * 1024)
    # 5.5K of 10K used: 8K more is over.
    assert lmtp_deliver(qsb, [alice], message(8 * 1024))[0][0] == 552


def test_bad_rule_refuses_the_table(qsb):
    """A quota_rule authd cannot read is an error in the table; the old
    contents stay in force (the limit just set)."""
    alice = qsb.address("alice")
    set_rules(qsb, {"alice": "userdb_quota_rule=*:storage=lots"})
    wait_for(lambda: "invalid quota_rule" in qsb.log("authd"), 20,
             what="authd's complaint")
    assert storage(qsb, alice)[1] == 10
    set_rules(qsb, RULES)


# ------------------------------------------ no limit from tsamba at all

@pytest.fixture(scope="module")
def usb(sandbox_factory):
    """No limit mailbox-size: only alice's rule 0 (unlimited) is set."""
    return sandbox_factory("unset", imap=True,
                           limits={"sessions-per-ip": 300},
                           before_start=lambda sb: set_rules(
                               sb, {"alice": "quota_rule=*:bytes=0"}))


def dovecot_limit(sb, user, text):
    """A maildirsize as Dovecot left it, in a Maildir made by a delivery."""
    assert lmtp_deliver(sb, [user], message(100, "first"))[0][0] == 250
    home = sb.maildir(user)
    path = os.path.join(home, "maildirsize")
    with open(path, "w") as f:
        f.write(text)
    st = os.stat(home)
    os.chown(path, st.st_uid, st.st_gid)


def test_unset_keeps_dovecot_limit(usb):
    """Without any tsamba limit the one Dovecot wrote stands, for lmtpd
    as for imapd; an explicit unlimited removes it from the file."""
    demo, alice = usb.address("demo"), usb.address("alice")
    dovecot_limit(usb, demo, "20000S\n0 0\n")
    dovecot_limit(usb, alice, "20000S\n0 0\n")
    r = lmtp_deliver(usb, [demo, alice], message(25 * 1024))
    assert r[0][0] == 552 and "5.2.2" in r[0][1][0], r
    assert r[1][0] == 250, r
    assert first_line(usb, demo) == "20000S"
    assert first_line(usb, alice) == ""
    assert storage(usb, demo) == (0, 20)
    assert storage(usb, alice) is None


# --------------------------------------------------------------- MariaDB

@pytest.fixture(scope="module")
def mdb():
    if not mariadb.available():
        pytest.skip("mariadb-server/mariadb-client not installed")
    with mariadb.running("tsamba-quota-mariadb-") as srv:
        yield srv


# The Postfixadmin-style column, 0 read as "the default" by NULLIF.
QUERY = ("SELECT mail, c_password, NULLIF(quota, 0) FROM users "
         "WHERE mail = ? AND active = 1")


@pytest.fixture(scope="module")
def msb(sandbox_factory, mdb):
    myconf = os.path.join(mdb.tmp, "mysql.conf")
    with open(myconf, "w") as f:
        f.write(mdb.conf_text(tcp=False,
                              extra='query_user = "%s"\n' % QUERY))
    os.chmod(myconf, 0o644)
    password = "Quota-pass-1"
    h = sha512_crypt([password])[0]
    mdb.add_domain("example.test")
    for local in ("demo", "alice", "bob"):
        mdb.add_user("%s@example.test" % local, h)
    mdb.sql("UPDATE users SET quota = 20480 WHERE mail = "
            "'alice@example.test'", mariadb.DATABASE)
    return sandbox_factory("myquota", imap=True, password=password,
                           limits={"mailbox-size": "50K",
                                   "sessions-per-ip": 300},
                           extra=['table %s mysql "%s"' % (t, myconf)
                                  for t in ("domains", "users", "aliases")])


def test_mysql_default_and_column(msb):
    # quota 0 (NULL through NULLIF): the configured 50K.
    assert storage(msb, msb.address("demo")) == (0, 50)
    assert first_line(msb, msb.address("demo")) == "%dS" % (50 * 1024)
    # The column, in bytes, overrides it.
    assert storage(msb, msb.address("alice"))[1] == 20


def test_mysql_over_quota_and_change(msb, mdb):
    alice, bob = msb.address("alice"), msb.address("bob")
    r = lmtp_deliver(msb, [alice, bob], message(30 * 1024))
    assert r[0][0] == 552 and "5.2.2" in r[0][1][0], r
    assert r[1][0] == 250, r
    # Raised in the database: the next delivery sees it, no restart.
    mdb.sql("UPDATE users SET quota = 102400 WHERE mail = "
            "'alice@example.test'", mariadb.DATABASE)
    r = lmtp_deliver(msb, [alice], message(30 * 1024))
    assert r[0][0] == 250, r
    assert first_line(msb, alice) == "102400S"
    assert storage(msb, alice)[1] == 100


CTL = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "ctl", "tsambactl")


def ctl(sb, *args):
    return subprocess.run([CTL, "-f", sb.conf] + list(args),
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_mysql_ctl_check_takes_the_quota_column(msb):
    r = ctl(msb, "check")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "ok   users table: query_user\n" in r.stdout, r.stdout
    r = ctl(msb, "user", "list")
    assert r.returncode == 0 and "alice@example.test" in r.stdout, r


def test_ctl_check_bad_rule(qsb):
    """tsambactl checks a users table by authd's rules, quota_rule too."""
    set_rules(qsb, {"carol": "quota_rule=*:storage=5Q"})
    try:
        r = ctl(qsb, "check")
        assert r.returncode != 0
        assert "invalid quota_rule" in r.stdout + r.stderr, r
    finally:
        set_rules(qsb, RULES)
