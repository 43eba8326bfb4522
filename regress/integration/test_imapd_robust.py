"""tsamba-imapd under load and failure (issue 8's tests that
test_imapd.py does not have), with imaplib, poplib and smtplib as the
clients:

- concurrency: lmtpd delivers while one session fetches and another
  expunges; no UID is given twice or to two messages, none of the kept
  mail is lost;
- kill -9 of the mail process in the middle of an APPEND (half of a big
  literal sent) and of an EXPUNGE: nothing that was there is lost, no
  UID is given twice, and the next session sees a consistent mailbox;
  a uidlist lock such a process left is broken at once;
- the users table in MariaDB, the server stopped: NO [UNAVAILABLE] and
  -ERR [SYS/TEMP], then logins again once it is back;
- bans with the default limit (5): failed IMAP, POP3 and SMTP AUTH
  logins from one address count together, the fifth bans;
- limits: imap-sessions-per-ip refuses the connection after the limit
  and takes one again once a session ends; autologout (timeout
  imap-login and imap-idle) ends a silent session with BYE or -ERR."""

import base64
import imaplib
import os
import poplib
import pwd
import re
import select
import signal
import smtplib
import socket
import subprocess
import threading
import time

import pytest

from helpers import make_message, tls_context
from sandbox import wait_for
from test_imapd import imapd_processes, imaps_greeting, mail_pid_of

TIMEOUT = 15


@pytest.fixture(scope="module")
def rsb(sandbox_factory):
    return sandbox_factory("robust", imap=True,
                           limits={"sessions-per-ip": 300})


def imaps(sb, user=None):
    m = imaplib.IMAP4_SSL("127.0.0.1", sb.ports["imaps"],
                          ssl_context=tls_context(), timeout=TIMEOUT)
    m.login(user or sb.demo_user, sb.password)
    return m


def lmtp_deliver(sb, rcpt, subject):
    """One message to rcpt straight over lmtp.sock; its Message-ID."""
    msgid, text = make_message(rcpt, subject)
    with smtplib.LMTP(sb.lmtp_sock) as c:
        assert c.sendmail("sender@example.net", [rcpt], text) == {}
    return msgid


MSGID_RE = re.compile(rb"Message-ID: *(\S+)", re.I)
UID_RE = re.compile(rb"\bUID (\d+)")


def uid_msgids(m):
    """[(uid, Message-ID)] of the selected mailbox, in the server's
    order."""
    typ, data = m.uid("FETCH", "1:*",
                      "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    assert typ == "OK", data
    out = []
    for item in data:
        if isinstance(item, tuple):
            uid = UID_RE.search(item[0])
            mid = MSGID_RE.search(item[1])
            assert uid and mid, item
            out.append((int(uid.group(1)), mid.group(1).decode()))
    return out


def consistent(m, box="INBOX"):
    """Select box: its UIDs are unique, rising and under UIDNEXT, each
    names one message; returns ({Message-ID: uid}, UIDNEXT)."""
    assert m.select(box)[0] == "OK"
    pairs = uid_msgids(m)
    uids = [u for u, _ in pairs]
    assert uids == sorted(set(uids)), uids
    ids = [i for _, i in pairs]
    assert len(ids) == len(set(ids)), "a message twice: %s" % pairs
    uidnext = int(m.response("UIDNEXT")[1][-1])
    assert not uids or uids[-1] < uidnext, (uids, uidnext)
    return {i: u for u, i in pairs}, uidnext


# ------------------------------------------------------------ concurrency

def test_delivery_during_fetch_and_expunge(rsb):
    """lmtpd delivers 40 messages while session A fetches every UID
    over and over and session B expunges the ones whose subject says
    drop.  A never sees one UID name two messages; at the end every
    kept message is there once, every dropped one gone, UIDs unique."""
    user = rsb.address("alice")
    n = 40
    done = threading.Event()
    errors = []
    seen = {}		# uid -> Message-ID, as A saw it

    def fetcher():
        try:
            a = imaps(rsb, user)
            a.select("INBOX")
            while not done.is_set():
                for uid, mid in uid_msgids(a):
                    if seen.setdefault(uid, mid) != mid:
                        errors.append("uid %d: %s then %s" %
                                      (uid, seen[uid], mid))
                a.noop()
            a.logout()
        except Exception as e:	# reported below
            errors.append("fetcher: %r" % e)

    def expunger():
        try:
            b = imaps(rsb, user)
            b.select("INBOX")
            while not done.is_set():
                typ, data = b.uid("SEARCH", None, "SUBJECT", "drop")
                assert typ == "OK", data
                if data[0]:
                    uids = b",".join(data[0].split()).decode()
                    assert b.uid("STORE", uids, "+FLAGS.SILENT",
                                  r"(\Deleted)")[0] == "OK"
                    assert b.expunge()[0] == "OK"
                else:
                    b.noop()
            b.logout()
        except Exception as e:
            errors.append("expunger: %r" % e)

    threads = [threading.Thread(target=fetcher),
               threading.Thread(target=expunger)]
    for t in threads:
        t.start()
    kept, dropped = set(), set()
    try:
        for i in range(n):
            subject = "drop %d" % i if i % 3 == 0 else "keep %d" % i
            mid = lmtp_deliver(rsb, user, subject)
            (dropped if i % 3 == 0 else kept).add(mid)
        m = imaps(rsb, user)

        def all_dropped():
            m.select("INBOX")
            typ, data = m.uid("SEARCH", None, "SUBJECT", "drop")
            return typ == "OK" and not data[0]
        wait_for(all_dropped, TIMEOUT, interval=0.2,
                 what="the expunger to drop every drop message")
    finally:
        done.set()
        for t in threads:
            t.join(TIMEOUT)
    assert errors == []
    assert not any(t.is_alive() for t in threads)
    ids, _ = consistent(m)
    assert set(ids) == kept
    assert not set(ids) & dropped
    m.logout()


# ------------------------------------------------------------ kill -9

def msgid_of(path):
    with open(path, "rb") as f:
        return MSGID_RE.search(f.read()).group(1).decode()


def raw_login(sb, user):
    s = tls_context().wrap_socket(socket.create_connection(
        ("127.0.0.1", sb.ports["imaps"]), timeout=TIMEOUT))
    f = s.makefile("rb")
    assert f.readline().startswith(b"* OK")
    s.sendall(b"k1 LOGIN %s %s\r\n" % (user.encode(), sb.password.encode()))
    while not f.readline().startswith(b"k1 "):
        pass
    return s, f


@pytest.mark.root
def test_kill_mid_append(rsb):
    """The mail process is killed with half of a 2 MB literal sent: the
    mailbox keeps what it had, UIDs go on from where they were, and a
    whole APPEND then works."""
    user = rsb.address("bob")
    for i in range(3):
        lmtp_deliver(rsb, user, "before %d" % i)
    m = imaps(rsb, user)
    before, uidnext = consistent(m)
    m.logout()
    _, _, mails = imapd_processes(rsb)
    s, f = raw_login(rsb, user)
    pid = mail_pid_of(rsb, mails)
    size = 2 * 1024 * 1024
    s.sendall(b"k2 APPEND INBOX {%d}\r\n" % size)
    assert f.readline().startswith(b"+ ")
    _, body = make_message(user, "half")
    s.sendall(body + b"x" * (size // 2 - len(body)))
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: pid not in imapd_processes(rsb)[2], TIMEOUT,
             what="the killed mail process to be gone")
    s.close()
    m = imaps(rsb, user)
    after, next_now = consistent(m)
    assert after == before and next_now >= uidnext
    msgid, whole = make_message(user, "whole")
    typ, data = m.append("INBOX", None, None, whole)
    assert typ == "OK", data
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
    assert uid >= next_now and uid not in before.values()
    ids, _ = consistent(m)
    assert ids[msgid] == uid and len(ids) == len(before) + 1
    m.logout()


@pytest.mark.root
def test_kill_mid_expunge(rsb):
    """The mail process is killed right after it starts expunging 270
    of 301 messages: each is then either gone or still there flagged \\Deleted,
    no unflagged one is lost, no UID is given twice, and the next
    EXPUNGE finishes the job."""
    user = rsb.address("carol")
    lmtp_deliver(rsb, user, "the Maildir made")
    keep = {msgid_of(p) for p in rsb.maildir_messages(user)}
    new = os.path.join(rsb.maildir(user), "new")
    vmail = pwd.getpwnam(rsb.role_user("vmail"))
    # Files as lmtpd leaves them, 300 of them faster than lmtpd would.
    for i in range(300):
        msgid, text = make_message(user, "bulk %d" % i)
        path = os.path.join(new, "%d.M%dP%dQ%d.robust-test,S=%d" % (
            time.time(), i, os.getpid(), i, len(text)))
        with open(path, "wb") as f:
            f.write(text)
        os.chown(path, vmail.pw_uid, vmail.pw_gid)
        if i % 10 == 0:
            keep.add(msgid)
    m = imaps(rsb, user)
    ids, _ = consistent(m)
    drop = [str(u) for i, u in ids.items() if i not in keep]
    assert m.uid("STORE", ",".join(drop), "+FLAGS.SILENT",
                  r"(\Deleted)")[0] == "OK"
    m.logout()
    _, _, mails = imapd_processes(rsb)
    s, f = raw_login(rsb, user)
    pid = mail_pid_of(rsb, mails)
    s.sendall(b"k2 SELECT INBOX\r\n")
    while not f.readline().startswith(b"k2 "):
        pass
    total = len(rsb.maildir_messages(user))
    s.sendall(b"k3 EXPUNGE\r\n")
    # Killed as soon as the first file is gone: in the middle.
    wait_for(lambda: len(rsb.maildir_messages(user)) < total, TIMEOUT,
             interval=0, what="the expunge to start")
    os.kill(pid, signal.SIGKILL)
    left = len(rsb.maildir_messages(user))
    wait_for(lambda: pid not in imapd_processes(rsb)[2], TIMEOUT,
             what="the killed mail process to be gone")
    s.close()
    print("killed with %d of %d files left, %d to go" %
          (left, total, left - len(keep)))
    m = imaps(rsb, user)
    after, _ = consistent(m)
    assert keep <= set(after)
    assert set(after) <= set(ids)
    for mid, uid in after.items():
        assert uid == ids[mid], mid	# no renumbering
    typ, data = m.uid("SEARCH", None, "NOT", "DELETED")
    assert {int(u) for u in data[0].split()} == {ids[k] for k in keep}
    assert m.expunge()[0] == "OK"
    assert set(consistent(m)[0]) == keep
    m.logout()


def test_lock_of_killed_process_broken(rsb):
    """A dovecot-uidlist.lock that a killed process left (its pid no
    longer runs on this host) does not hold the next session up: the
    new message gets its UID at once and the lock is gone."""
    user = rsb.address("dave")
    lmtp_deliver(rsb, user, "the Maildir made")
    m = imaps(rsb, user)
    before, uidnext = consistent(m)
    m.logout()
    gone = subprocess.Popen(["true"])
    gone.wait()
    lock = os.path.join(rsb.maildir(user), "dovecot-uidlist.lock")
    with open(lock, "w") as f:
        f.write("%d:%s\n" % (gone.pid, socket.gethostname()))
    vmail = pwd.getpwnam(rsb.role_user("vmail"))
    os.chown(lock, vmail.pw_uid, vmail.pw_gid)
    msgid = lmtp_deliver(rsb, user, "after the kill")
    start = time.monotonic()
    m = imaps(rsb, user)
    after, _ = consistent(m)
    took = time.monotonic() - start
    m.logout()
    assert after[msgid] == uidnext and len(after) == len(before) + 1
    assert took < 2, took
    assert not os.path.exists(lock)


# ------------------------------------------------------------ bans

def test_default_ban_after_five_failures(sandbox_factory):
    """ban max-failures is 5 by default: two wrong IMAP passwords, two
    POP3 and one SMTP AUTH from one address: the first four leave it
    served, the fifth bans it from IMAP, POP3 and SMTP AUTH alike."""
    bsb = sandbox_factory("ban5", imap=True, submission=True)

    def imap_fail():
        m = imaplib.IMAP4_SSL("127.0.0.1", bsb.ports["imaps"],
                              ssl_context=tls_context(), timeout=TIMEOUT)
        with pytest.raises(imaplib.IMAP4.error,
                           match="AUTHENTICATIONFAILED"):
            m.login(bsb.demo_user, "wrong")
        m.shutdown()

    def pop3_fail():
        p = poplib.POP3_SSL("127.0.0.1", bsb.ports["pop3s"],
                            context=tls_context(), timeout=TIMEOUT)
        p.user(bsb.demo_user)
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            p.pass_("wrong")
        p.close()

    for fail in (imap_fail, pop3_fail, imap_fail, pop3_fail):
        fail()
    # Four failures: still served, and the right password works.
    assert imaps_greeting(bsb).startswith(b"* OK")
    with smtplib.SMTP_SSL("127.0.0.1", bsb.ports["smtps"],
                          context=tls_context(), timeout=TIMEOUT) as c:
        c.ehlo("client.test")
        code, _ = c.docmd("AUTH", "PLAIN " + base64.b64encode(
            b"\0" + bsb.demo_user.encode() + b"\0wrong").decode())
        assert code == 535
    wait_for(lambda: imaps_greeting(bsb).startswith(b"* BYE [UNAVAILABLE]"),
             TIMEOUT, what="the ban after the fifth failure")
    with pytest.raises(poplib.error_proto, match="failed logins"):
        poplib.POP3("127.0.0.1", bsb.ports["pop3"], timeout=TIMEOUT)


# ------------------------------------------------------------ limits

@pytest.fixture(scope="module")
def lsb(sandbox_factory):
    return sandbox_factory("limits", imap=True,
                           limits={"sessions-per-ip": 300,
                                   "imap-sessions-per-ip": 3},
                           timeouts={"imap-login": "2s",
                                     "imap-idle": "3s"})


def test_sessions_per_ip(lsb):
    """limit imap-sessions-per-ip 3: IMAP and POP3 connections from one
    address count together; the fourth is refused with a reason (on
    the STARTTLS port) and one is taken again once a session ends."""
    m1 = imaps(lsb)
    m2 = imaps(lsb)
    p = poplib.POP3_SSL("127.0.0.1", lsb.ports["pop3s"],
                        context=tls_context(), timeout=TIMEOUT)
    try:
        s = socket.create_connection(("127.0.0.1", lsb.ports["imap"]),
                                     timeout=TIMEOUT)
        line = s.makefile("rb").readline()
        s.close()
        assert line.startswith(b"* BYE") and b"too many" in line.lower(), line
        m2.logout()

        def one_more():
            try:
                imaps(lsb).logout()
                return True
            except (imaplib.IMAP4.error, imaplib.IMAP4.abort, OSError):
                return False
        wait_for(one_more, TIMEOUT, interval=0.2,
                 what="a session once another ended")
    finally:
        p.close()
        m1.logout()


def test_autologout_before_login(lsb):
    """timeout imap-login 2s: a client that says nothing after the
    greeting gets BYE (IMAP) or -ERR (POP3) within the deadline."""
    for port, word in ((lsb.ports["imap"], b"* BYE"),
                       (lsb.ports["pop3"], b"-ERR")):
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        f = s.makefile("rb")
        start = time.monotonic()
        assert f.readline()[:1] in (b"*", b"+")
        line = f.readline()
        took = time.monotonic() - start
        s.close()
        assert line.startswith(word) and b"Autologout" in line, line
        assert 1.5 < took < 2 + 5, took


def test_autologout_after_login(lsb):
    """timeout imap-idle 3s: a logged-in IMAP session that sends nothing
    gets "* BYE Autologout" and is closed; a session that speaks in
    time goes on."""
    m = imaps(lsb)
    busy = imaps(lsb)
    start = time.monotonic()
    deadline = start + 3 + 5
    # The talking session speaks every half second until the silent one
    # is told.
    while not select.select([m.sock], [], [], 0.5)[0]:
        assert time.monotonic() < deadline, "no autologout"
        assert busy.noop()[0] == "OK"
    m.sock.settimeout(TIMEOUT)
    line = m.readline()
    took = time.monotonic() - start
    assert line.startswith(b"* BYE") and b"Autologout" in line, line
    assert took > 2.5, took
    assert m.readline() == b""
    assert busy.noop()[0] == "OK"
    busy.logout()


# ------------------------------------------------------------ database

@pytest.fixture(scope="module")
def mariadb_server():
    import mariadb	# regress/integration/mariadb.py
    yield from mariadb.serving("tsamba-imap-mariadb-")


@pytest.fixture(scope="module")
def msb(sandbox_factory, mariadb_server):
    from sandbox import sha512_crypt
    myconf = os.path.join(mariadb_server.tmp, "mysql.conf")
    with open(myconf, "w") as f:
        f.write(mariadb_server.conf_text(tcp=False))
    os.chmod(myconf, 0o644)
    password = "Imap'sql%pass-1"
    mariadb_server.add_domain("example.test")
    mariadb_server.add_user("demo@example.test",
                            sha512_crypt([password])[0])
    return sandbox_factory("mysql", imap=True, password=password,
                           extra=['table %s mysql "%s"' % (t, myconf)
                                  for t in ("domains", "users", "aliases")])


def test_database_down(msb, mariadb_server):
    """The users table in MariaDB, the server stopped: IMAP says NO
    [UNAVAILABLE] and POP3 -ERR [SYS/TEMP] to the right password, not a
    rejection; once it is back, both log in again."""
    imaps(msb).logout()
    mariadb_server.stop()
    try:
        m = imaplib.IMAP4_SSL("127.0.0.1", msb.ports["imaps"],
                              ssl_context=tls_context(), timeout=TIMEOUT)
        with pytest.raises(imaplib.IMAP4.error, match=r"\[UNAVAILABLE\]"):
            m.login(msb.demo_user, msb.password)
        m.shutdown()
        p = poplib.POP3_SSL("127.0.0.1", msb.ports["pop3s"],
                            context=tls_context(), timeout=TIMEOUT)
        p.user(msb.demo_user)
        with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
            p.pass_(msb.password)
        p.close()
    finally:
        mariadb_server.start()

    def logs_in():
        try:
            imaps(msb).logout()
            return True
        except imaplib.IMAP4.error:
            return False
    wait_for(logs_in, 60, interval=0.5, what="IMAP login once the "
             "database is back")
    p = poplib.POP3_SSL("127.0.0.1", msb.ports["pop3s"],
                        context=tls_context(), timeout=TIMEOUT)
    p.user(msb.demo_user)
    assert p.pass_(msb.password).startswith(b"+OK")
    p.quit()
