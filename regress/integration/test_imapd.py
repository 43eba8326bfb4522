"""tsamba-imapd end to end (issue 8, the process architecture and the
pre-login side), with Python's imaplib and poplib as the clients:

- IMAP on the STARTTLS port says LOGINDISABLED and refuses LOGIN until
  TLS; after STARTTLS, and on the implicit TLS port, LOGIN and
  AUTHENTICATE PLAIN (with and without SASL-IR) log in with the right
  password and say NO [AUTHENTICATIONFAILED] with a wrong one;
- POP3 over STLS and over pop3s: USER/PASS and AUTH PLAIN, -ERR [AUTH]
  on a wrong password;
- a message delivered through smtpd, the queue and lmtpd is listed,
  fetched (ENVELOPE, BODYSTRUCTURE, sections) and flagged over IMAP, and
  retrieved and deleted over POP3, which an IMAP session then sees;
- from /proc: the login process runs as its own user chrooted into the
  empty dir, each mail process as the mailbox owner chrooted into the
  user's Maildir, and no byte of the private key is in the login
  process' memory;
- kill -9 of one mail process leaves the other sessions and the daemon
  serving;
- authd down: NO [UNAVAILABLE] and -ERR [SYS/TEMP], then logins work
  again once it is back."""

import base64
import imaplib
import os
import poplib
import pwd
import re
import signal
import socket
import ssl
import threading
import time

import pytest

from helpers import SENDER, send, smtp, tls_context
from sandbox import proc_root, proc_uids, socket_inodes, tcp_listening, \
    wait_for
from test_tls_keys import present

TIMEOUT = 15


@pytest.fixture(scope="module")
def isb(sandbox_factory):
    return sandbox_factory("imap", imap=True,
                           limits={"sessions-per-ip": 300})


def imap_starttls(sb):
    m = imaplib.IMAP4("127.0.0.1", sb.ports["imap"], timeout=TIMEOUT)
    m.starttls(ssl_context=tls_context())
    return m


def imaps(sb):
    return imaplib.IMAP4_SSL("127.0.0.1", sb.ports["imaps"],
                             ssl_context=tls_context(), timeout=TIMEOUT)


def pop3s(sb):
    return poplib.POP3_SSL("127.0.0.1", sb.ports["pop3s"],
                           context=tls_context(), timeout=TIMEOUT)


def pop3_stls(sb):
    p = poplib.POP3("127.0.0.1", sb.ports["pop3"], timeout=TIMEOUT)
    p.stls(context=tls_context())
    return p


def plain(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" +
                            password.encode()).decode()


def raw_imaps(sb):
    """A TLS socket on the implicit port, greeting read."""
    s = tls_context().wrap_socket(socket.create_connection(
        ("127.0.0.1", sb.ports["imaps"]), timeout=TIMEOUT))
    f = s.makefile("rb")
    assert f.readline().startswith(b"* OK")
    return s, f


def imaps_greeting(sb):
    """The first line on the implicit TLS port."""
    s = tls_context().wrap_socket(socket.create_connection(
        ("127.0.0.1", sb.ports["imaps"]), timeout=TIMEOUT))
    try:
        return s.makefile("rb").readline()
    finally:
        s.close()


def tagged(f, tag):
    """Lines up to the tagged reply; returns (untagged, tagged line)."""
    lines = []
    while True:
        line = f.readline()
        assert line, "connection closed before the tagged reply"
        if line.startswith(tag.encode() + b" "):
            return lines, line.decode().strip()
        lines.append(line)


def deliver(sb, subject, body="Hello from the test.\n"):
    before = len(sb.maildir_messages(sb.demo_user))
    send(sb, sb.demo_user, subject=subject, body=body)
    wait_for(lambda: len(sb.maildir_messages(sb.demo_user)) > before,
             TIMEOUT, what="delivery to %s" % sb.demo_user)


# ------------------------------------------------------------ pre-login

def test_logindisabled_before_tls(isb):
    m = imaplib.IMAP4("127.0.0.1", isb.ports["imap"], timeout=TIMEOUT)
    try:
        assert "LOGINDISABLED" in m.capabilities
        assert "STARTTLS" in m.capabilities
        assert "AUTH=PLAIN" not in m.capabilities
        with pytest.raises(imaplib.IMAP4.error,
                           match="PRIVACYREQUIRED"):
            m.login(isb.demo_user, isb.password)
        m.starttls(ssl_context=tls_context())
        caps = m.capability()[1][0].decode().split()
        assert "LOGINDISABLED" not in caps and "AUTH=PLAIN" in caps
        assert "STARTTLS" not in caps
    finally:
        m.shutdown()


def test_imap_login_starttls(isb):
    m = imap_starttls(isb)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.login(isb.demo_user, isb.password + "x")
    typ, data = m.login(isb.demo_user, isb.password)
    assert typ == "OK"
    assert m.select()[0] == "OK"
    assert m.logout()[0] == "BYE"


def test_imaps_authenticate_plain(isb):
    m = imaps(isb)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.authenticate("PLAIN", lambda _: b"\0" + isb.demo_user.encode() +
                       b"\0wrong")
    typ, _ = m.authenticate("PLAIN", lambda _: b"\0" +
                            isb.demo_user.encode() + b"\0" +
                            isb.password.encode())
    assert typ == "OK"
    m.logout()


def test_imaps_sasl_ir(isb):
    s, f = raw_imaps(isb)
    try:
        s.sendall(b"a1 AUTHENTICATE PLAIN " +
                  plain(isb.demo_user, isb.password).encode() + b"\r\n")
        _, line = tagged(f, "a1")
        assert line.startswith("a1 OK [CAPABILITY IMAP4rev1"), line
        s.sendall(b"a2 SELECT INBOX\r\na3 LOGOUT\r\n")
        _, line = tagged(f, "a2")
        assert line.startswith("a2 OK [READ-WRITE]"), line
        untagged, line = tagged(f, "a3")
        assert line.startswith("a3 OK")
    finally:
        s.close()


def test_imap_bad_commands(isb):
    s, f = raw_imaps(isb)
    try:
        s.sendall(b"b1 SELECT INBOX\r\nb2 FOO\r\n")
        _, line = tagged(f, "b1")
        assert line.startswith("b1 BAD"), line
        _, line = tagged(f, "b2")
        assert line.startswith("b2 BAD"), line
        s.sendall(b"b3 LOGIN " + isb.demo_user.encode() + b" {%d}\r\n" %
                  len(isb.password))
        assert f.readline().startswith(b"+ ")
        s.sendall(isb.password.encode() + b"\r\n")
        _, line = tagged(f, "b3")
        assert line.startswith("b3 OK"), line
        s.sendall(b"b4 FETCH 1 FLAGS\r\nb5 LOGOUT\r\n")
        _, line = tagged(f, "b4")
        assert line.startswith("b4 BAD"), line	# nothing selected
    finally:
        s.close()


def test_pop3_login(isb):
    for connect in (pop3_stls, pop3s):
        p = connect(isb)
        p.user(isb.demo_user)
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            p.pass_("wrong")
        p.close()
        p = connect(isb)
        p.user(isb.demo_user)
        assert p.pass_(isb.password).startswith(b"+OK")
        p.stat()
        p.quit()


def test_pop3_plaintext_refused(isb):
    p = poplib.POP3("127.0.0.1", isb.ports["pop3"], timeout=TIMEOUT)
    try:
        assert "USER" not in p.capa() and "STLS" in p.capa()
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            p.user(isb.demo_user)
    finally:
        p.close()


def test_pop3_auth_plain(isb):
    p = pop3s(isb)
    resp = p._shortcmd("AUTH PLAIN " + plain(isb.demo_user, isb.password))
    assert resp.startswith(b"+OK")
    p.quit()


# ------------------------------------------------------------ mail

def test_mail_over_imap_and_pop3(isb):
    deliver(isb, "imap subject one")
    m = imaps(isb)
    m.login(isb.demo_user, isb.password)
    typ, data = m.list()
    assert typ == "OK" and any(b'"INBOX"' in d for d in data)
    typ, data = m.select("INBOX")
    n = int(data[0])
    assert n >= 1
    typ, data = m.fetch(str(n), "(FLAGS UID RFC822.SIZE INTERNALDATE "
                        "ENVELOPE BODYSTRUCTURE)")
    text = data[0].decode() if isinstance(data[0], bytes) else \
        data[0][0].decode()
    assert "imap subject one" in text
    assert '("text" "plain"' in text
    assert "\\Seen" not in text
    typ, data = m.fetch(str(n), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] "
                        "BODY[TEXT])")
    assert b"Subject: imap subject one" in data[0][1]
    assert b"Hello from the test." in data[1][1]
    typ, data = m.fetch(str(n), "(FLAGS)")
    assert b"\\Seen" in data[0]
    typ, data = m.store(str(n), "+FLAGS", "(\\Flagged)")
    assert typ == "OK" and b"\\Flagged" in data[0]
    # The flag is in the file name, where any Maildir reader sees it.
    assert any(p.endswith(":2,FS")
               for p in isb.maildir_messages(isb.demo_user))
    typ, data = m.uid("SEARCH", None, "FLAGGED")
    assert typ == "OK" and data[0].split()

    # POP3 retrieves and deletes it; the IMAP session sees it go.
    p = pop3s(isb)
    p.user(isb.demo_user)
    p.pass_(isb.password)
    count, _ = p.stat()
    assert count == n
    resp, lines, _ = p.retr(n)
    assert b"Subject: imap subject one" in lines
    _, uidl, _ = p.uidl()
    assert len(uidl) == n
    p.dele(n)
    assert b"1 messages deleted" in p.quit()
    m.noop()
    typ, data = m.response("EXPUNGE")
    assert data and data[0] == str(n).encode(), data
    m.logout()


def test_pop3_session_lock(isb):
    """While one POP3 session holds the INBOX, a second one on it is
    told -ERR [IN-USE]; once the first has quit, POP3 works again, and
    the lock leaves nothing behind in the Maildir."""
    deliver(isb, "pop3 lock")
    first = pop3s(isb)
    first.user(isb.demo_user)
    first.pass_(isb.password)
    count, _ = first.stat()
    assert count >= 1
    second = pop3s(isb)
    second.user(isb.demo_user)
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        second.pass_(isb.password)	# RFC 2449 8.1.1: PASS's answer
    second.close()
    assert first.stat()[0] == count
    first.quit()
    lock = os.path.join(isb.maildir(isb.demo_user),
                        "dovecot-pop3-session.lock")
    wait_for(lambda: not os.path.exists(lock), TIMEOUT,
             what="the POP3 lock to go")
    again = pop3s(isb)
    again.user(isb.demo_user)
    again.pass_(isb.password)
    assert again.stat()[0] == count
    again.quit()


def test_pop3_dele_pushed_to_idle(isb):
    """DELE applied at QUIT reaches an idling IMAP session on the same
    mailbox as EXPUNGE, within a second."""
    deliver(isb, "pop3 dele while idling")
    m = imaps(isb)
    m.login(isb.demo_user, isb.password)
    typ, data = m.select("INBOX")
    n = int(data[0])
    tag = m._new_tag()
    m.send(tag + b" IDLE\r\n")
    assert m.readline().startswith(b"+ ")
    p = pop3s(isb)
    p.user(isb.demo_user)
    p.pass_(isb.password)
    assert p.stat()[0] == n
    p.dele(n)
    start = time.monotonic()
    assert b"1 messages deleted" in p.quit()
    m.sock.settimeout(TIMEOUT)
    line = m.readline()
    latency = time.monotonic() - start
    print("POP3 DELE to IMAP EXPUNGE: %.3f s" % latency)
    assert line == b"* %d EXPUNGE\r\n" % n, line
    assert latency < 1.0, latency
    m.send(b"DONE\r\n")
    while not m.readline().startswith(tag + b" "):
        pass
    typ, data = m.select("INBOX")
    assert int(data[0]) == n - 1
    m.logout()


def test_append_copy_move(isb):
    m = imaps(isb)
    m.login(isb.demo_user, isb.password)
    typ, _ = m.create("Archive")
    assert typ == "OK"
    msg = (b"From: a@example.net\r\nSubject: appended\r\n\r\n"
           b"appended body\r\n")
    typ, data = m.append("INBOX", "(\\Seen $Work)", None, msg)
    assert typ == "OK" and b"APPENDUID" in data[0], data
    uid = data[0].split(b"]")[0].split()[-1].decode()
    m.select("INBOX")
    typ, data = m.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
    assert b"$Work" in data[0][0] and b"\\Seen" in data[0][0]
    assert data[0][1] == msg
    typ, data = m.uid("COPY", uid, "Archive")
    assert typ == "OK", data
    _, code = m.response("COPYUID")
    assert code[0] and code[0].split()[1] == uid.encode(), code
    typ, data = m._simple_command("UID", "MOVE", uid, "Archive")
    assert typ == "OK", data
    typ, data = m.uid("FETCH", uid, "(FLAGS)")
    assert data == [None], data
    typ, data = m.status("Archive", "(MESSAGES)")
    assert b"MESSAGES 2" in data[0], data
    typ, data = m.list()
    assert any(b'"Archive"' in d for d in data)
    m.logout()


def test_fetch_implicit_items_first(isb):
    """The UID of UID FETCH and the FLAGS a body fetch changed come
    before the body literal, as Dovecot sends them: Mail::IMAPClient's
    body_string took what followed the literal for part of the body."""
    m = imaps(isb)
    m.login(isb.demo_user, isb.password)
    msg = b"Subject: implicit\r\n\r\nthe body\r\n"
    uids = []
    for _ in range(2):
        typ, data = m.append("INBOX", None, None, msg)
        assert typ == "OK", data
        uids.append(data[0].split(b"]")[0].split()[-1].decode())
    m.select("INBOX")
    typ, data = m.uid("FETCH", uids[0], "(BODY[TEXT])")
    assert typ == "OK"
    assert re.fullmatch(rb"\d+ \(UID %s FLAGS \(\\Seen\) BODY\[TEXT\] "
                        rb"\{10\}" % uids[0].encode(), data[0][0]), data
    assert data[0][1] == b"the body\r\n" and data[1] == b")", data
    # FLAGS asked for after the body: where it was asked, and only once.
    typ, data = m.uid("FETCH", uids[1], "(BODY[TEXT] FLAGS)")
    assert typ == "OK"
    assert re.fullmatch(rb"\d+ \(UID %s BODY\[TEXT\] \{10\}" %
                        uids[1].encode(), data[0][0]), data
    assert data[1] == b" FLAGS (\\Seen))", data
    m.logout()


def test_search(isb):
    deliver(isb, "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from search",
            body="a needle in the body\n")
    m = imaps(isb)
    m.login(isb.demo_user, isb.password)
    m.select()
    typ, data = m.uid("SEARCH", None, "ALL")
    last = data[0].split()[-1]
    for crit in ('SUBJECT "from search"', "BODY NEEDLE", "TEXT needle", "FROM sender",
                 "HEADER Message-ID test.tsamba", "SINCE 1-Jan-2020",
                 "NOT BEFORE 1-Jan-2020"):
        typ, data = m.uid("SEARCH", None, crit)
        assert typ == "OK" and last in data[0].split(), (crit, data)
    # RFC 2047 decoded, case folded in UTF-8, the key in a literal.
    m.literal = "GRÜ".encode("utf-8")
    typ, data = m.uid("SEARCH", "CHARSET", "UTF-8", "SUBJECT")
    assert typ == "OK" and last in data[0].split(), data
    typ, data = m.uid("SEARCH", None, "BODY", "nowhere-to-be-found")
    assert data == [b""], data
    typ, data = m.uid("SEARCH", None, "BEFORE", "1-Jan-2020")
    assert data == [b""], data
    typ, data = m.uid("SEARCH", None, "SENTSINCE", "1-Jan-2020")
    assert typ == "OK" and last in data[0].split(), data
    # No message is \\Recent (SELECT says RECENT 0): NEW (RECENT
    # UNSEEN) finds none, OLD (NOT RECENT) every one, seen or not.
    typ, data = m.uid("SEARCH", None, "NEW")
    assert typ == "OK" and data == [b""], data
    typ, data = m.uid("SEARCH", None, "OLD UNSEEN")
    assert typ == "OK" and last in data[0].split(), data
    m.logout()


MIME_SEARCH = (
    "From: <sender@example.org>\r\n"
    "To: <%(to)s>\r\n"
    "Subject: =?ISO-8859-1?B?U2No9m5lIEdy/N9l?=\r\n"
    "Message-ID: <%(id)s@test.tsamba>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Die Stra=C3=9Fe ist sehr lang und die Kaffee=\r\n"
    "maschine l=C3=A4uft.\r\n"
    "--b1\r\n"
    "Content-Type: text/html; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "%(html)s\r\n"
    "--b1\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "%(bin)s\r\n"
    "--b1--\r\n")


def deliver_raw(sb, text):
    before = len(sb.maildir_messages(sb.demo_user))
    with smtp(sb) as c:
        c.sendmail(SENDER, [sb.demo_user], text.encode())
    wait_for(lambda: len(sb.maildir_messages(sb.demo_user)) > before,
             TIMEOUT, what="delivery to %s" % sb.demo_user)


def test_search_decoded(isb):
    """BODY and TEXT look into the decoded text parts (quoted-printable,
    base64, any charset, soft line breaks joined), not into the encoded
    text nor into attachments; headers RFC 2047-decoded; case folded in
    UTF-8.  CHARSET other than UTF-8 and US-ASCII: NO [BADCHARSET]."""
    html = base64.b64encode("<p>Ein B\xe4r im Wald</p>".encode(
        "iso-8859-1")).decode()
    binary = base64.b64encode(b"secret attachment words").decode()
    deliver_raw(isb, MIME_SEARCH % {"to": isb.demo_user, "id": "decoded",
                                    "html": html, "bin": binary})
    m = imaps(isb)
    m.login(isb.demo_user, isb.password)
    m.select()
    typ, data = m.uid("SEARCH", None, "ALL")
    last = data[0].split()[-1]

    def search(key, text, charset="UTF-8", field="BODY"):
        m.literal = text.encode("utf-8")
        typ, data = m.uid("SEARCH", "CHARSET", charset, field)
        assert typ == "OK", (key, data)
        return last in data[0].split()

    assert search("qp", "STRASSE") is False     # no case folding to SS
    assert search("qp", "straße")
    assert search("qp soft break", "KAFFEEMASCHINE LÄUFT")
    assert search("base64 latin-1", "BÄR IM WALD")
    assert not search("attachment", "attachment words")
    assert not search("encoded text", "C3=9F")
    assert search("text: rfc 2047", "schöne grüße", field="TEXT")
    assert search("text: body", "bär", field="TEXT")
    assert not search("body is not the header", "Schöne")
    for cs in ("us-ascii", "US-ASCII", "utf-8"):
        typ, data = m.uid("SEARCH", "CHARSET", cs, "BODY", "lang")
        assert typ == "OK" and last in data[0].split(), (cs, data)
    typ, data = m._simple_command("UID", "SEARCH", "CHARSET",
                                  "ISO-8859-1", "BODY", "lang")
    assert typ == "NO", data
    assert m.untagged_responses.pop("NO", None) is None
    assert b"[BADCHARSET (UTF-8 US-ASCII)]" in data[0], data
    m.logout()


def test_idle_sees_new_mail(isb):
    s, f = raw_imaps(isb)
    try:
        s.sendall(b"i1 LOGIN " + isb.demo_user.encode() + b" " +
                  isb.password.encode() + b"\r\ni2 SELECT INBOX\r\n")
        tagged(f, "i1")
        _, line = tagged(f, "i2")
        assert line.startswith("i2 OK")
        s.sendall(b"i3 IDLE\r\n")
        assert f.readline().startswith(b"+ ")
        send(isb, isb.demo_user, subject="while idling")
        s.settimeout(TIMEOUT)
        line = f.readline()
        assert line.endswith(b" EXISTS\r\n"), line
        s.sendall(b"DONE\r\n")
        _, line = tagged(f, "i3")
        assert line.startswith("i3 OK"), line
    finally:
        s.close()


def watch_for_new_message(sb, before, deadline):
    """A thread that notes the monotonic time a message not in before
    first shows up in the Maildir (it looks every 5 ms)."""
    seen = {}

    def look():
        while time.monotonic() < deadline and "t" not in seen:
            if set(sb.maildir_messages(sb.demo_user)) - before:
                seen["t"] = time.monotonic()
            time.sleep(0.005)

    t = threading.Thread(target=look, daemon=True)
    t.start()
    return t, seen


def cpu_seconds(pid):
    """User and system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_idle_push_latency(isb):
    """A message lmtpd delivers (through SMTP and the queue) reaches an
    idling imaplib client within a second of landing in the Maildir:
    IDLE is woken by inotify, not by a poll, and it does not spin: the
    idling mail process uses little CPU while it waits."""
    _, _, mails = imapd_processes(isb)
    m = imaps(isb)
    m.login(isb.demo_user, isb.password)
    pid = mail_pid_of(isb, mails)
    m.select("INBOX")
    tag = m._new_tag()
    m.send(tag + b" IDLE\r\n")
    assert m.readline().startswith(b"+ ")
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    before = set(isb.maildir_messages(isb.demo_user))
    deadline = time.monotonic() + TIMEOUT
    t, seen = watch_for_new_message(isb, before, deadline)
    send(isb, isb.demo_user, subject="idle latency")
    m.sock.settimeout(TIMEOUT)
    line = m.readline()
    got = time.monotonic()
    t.join()
    assert line.endswith(b" EXISTS\r\n"), line
    assert "t" in seen, "the message never reached the Maildir"
    latency = got - seen["t"]
    print("IDLE push latency: %.3f s" % latency)
    assert latency < 1.0, latency
    cpu, wall = cpu_seconds(pid) - cpu0, time.monotonic() - wall0
    assert cpu < 0.5 * wall + 0.1, (cpu, wall)
    m.send(b"DONE\r\n")
    while True:
        line = m.readline()
        assert line, "connection closed in IDLE"
        if line.startswith(tag + b" "):
            break
    assert line.startswith(tag + b" OK"), line
    m.logout()


def test_idle_sees_other_session_flags(isb):
    """A flag another session sets is pushed to the idler within a
    second, as FETCH FLAGS."""
    deliver(isb, "flag me while idling")
    m = imaps(isb)
    m.login(isb.demo_user, isb.password)
    m.select("INBOX")
    typ, data = m.uid("SEARCH", None, "ALL")
    last = data[0].split()[-1]
    tag = m._new_tag()
    m.send(tag + b" IDLE\r\n")
    assert m.readline().startswith(b"+ ")
    o = imaps(isb)
    o.login(isb.demo_user, isb.password)
    o.select("INBOX")
    start = time.monotonic()
    o.uid("STORE", last, "+FLAGS", "(\\Flagged)")
    m.sock.settimeout(TIMEOUT)
    line = m.readline()
    latency = time.monotonic() - start
    print("IDLE flag push latency: %.3f s" % latency)
    assert b"FETCH" in line and b"\\Flagged" in line, line
    assert latency < 1.0, latency
    m.send(b"DONE\r\n")
    while not m.readline().startswith(tag + b" "):
        pass
    o.logout()
    m.logout()


@pytest.mark.root
def test_sessions_per_user(isb):
    """limit imap-sessions-per-user (10 by default): one more login is
    NO [LIMIT], and it works again once a session ends."""
    wait_for(lambda: not imapd_processes(isb)[2], TIMEOUT,
             what="the mail processes of earlier tests to end")
    open_ = []
    try:
        while len(open_) < 10:
            m = imaps(isb)
            m.login(isb.demo_user, isb.password)
            open_.append(m)
        m = imaps(isb)
        with pytest.raises(imaplib.IMAP4.error, match=r"\[LIMIT\]"):
            m.login(isb.demo_user, isb.password)
        open_.pop().logout()

        def again():
            try:
                m.login(isb.demo_user, isb.password)
                return True
            except imaplib.IMAP4.error:
                return False
        wait_for(again, TIMEOUT, interval=0.2, what="a login after one "
                 "session ended")
        m.logout()
    finally:
        for m in open_:
            m.logout()


def test_failures_ban_with_smtp(sandbox_factory):
    """A failed SMTP AUTH and a failed IMAP login count towards one ban
    (here after 2): then IMAP and POP3 refuse the address at connect,
    saying why."""
    import smtplib
    bsb = sandbox_factory("ban", imap=True, submission=True,
                          extra=["ban max-failures 2"])
    with smtplib.SMTP_SSL("127.0.0.1", bsb.ports["smtps"],
                          context=tls_context(), timeout=TIMEOUT) as c:
        c.ehlo("client.test")
        code, _ = c.docmd("AUTH", "PLAIN " + plain(bsb.demo_user, "wrong"))
        assert code == 535
    m = imaps(bsb)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.login(bsb.demo_user, "wrong")
    m.shutdown()
    wait_for(lambda: imaps_greeting(bsb).startswith(b"* BYE [UNAVAILABLE]"),
             TIMEOUT, what="the IMAP refusal of a banned address")
    assert b"failed logins" in imaps_greeting(bsb)
    # poplib takes the -ERR greeting as an error.
    with pytest.raises(poplib.error_proto, match="failed logins"):
        poplib.POP3("127.0.0.1", bsb.ports["pop3"], timeout=TIMEOUT)


# ------------------------------------------------------------ processes

def uid_or_none(pid):
    try:
        return proc_uids(pid)[0]
    except OSError:
        return None	# it just ended


def imapd_processes(sb):
    """(login pid, key pid, [mail pids]) among the parent's children."""
    top = sb.pid("imapd")
    kids = [p for p in sb.tree("imapd") if p != top and
            uid_or_none(p) is not None]
    listening = tcp_listening()
    login = [p for p in kids if socket_inodes(p) & listening]
    assert len(login) == 1, (kids, login)
    imap_uid = pwd.getpwnam(sb.role_user("imap-login")).pw_uid
    keys = [p for p in kids if p != login[0] and
            uid_or_none(p) == imap_uid]
    mail = [p for p in kids if p not in login and p not in keys]
    return login[0], keys[0], mail


def mail_pid_of(sb, before):
    wait_for(lambda: set(imapd_processes(sb)[2]) - set(before), TIMEOUT,
             what="a new mail process")
    new = set(imapd_processes(sb)[2]) - set(before)
    assert len(new) == 1
    return new.pop()


def proc_gids(pid):
    """Every gid of a process: real, effective, saved, filesystem and
    the supplementary groups."""
    gids = set()
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("Gid:", "Groups:")):
                gids |= {int(g) for g in line.split()[1:]}
    return gids


@pytest.mark.root
def test_privileges(isb):
    login, keys, before = imapd_processes(isb)
    imap_uid = pwd.getpwnam("_tsambaimap")
    assert proc_uids(login)[0] == imap_uid.pw_uid
    assert proc_gids(login) == {imap_uid.pw_gid}
    assert proc_root(login) == isb.chroot
    m = imaps(isb)
    m.login(isb.demo_user, isb.password)
    mail = mail_pid_of(isb, before)
    vmail = pwd.getpwnam("vmail")
    assert set(proc_uids(mail)) == {vmail.pw_uid}
    assert proc_gids(mail) == {vmail.pw_gid}
    assert proc_root(mail) == isb.maildir(isb.demo_user)
    m.logout()


@pytest.mark.root
def test_no_key_in_login_process(isb):
    # Handshakes on every TLS way in first: the key was needed.
    imaps(isb).logout()
    imap_starttls(isb).logout()
    pop3s(isb).quit()
    login, keys, _ = imapd_processes(isb)
    assert present(login, isb.key) == []
    # Nor is the key file open there (the key process read it).
    fds = "/proc/%d/fd" % login
    assert isb.key not in {os.readlink(os.path.join(fds, n))
                           for n in os.listdir(fds)}
    assert present(keys, isb.key), "the search finds nothing anywhere"


@pytest.mark.root
def test_kill_mail_process(isb):
    _, _, before = imapd_processes(isb)
    a = imaps(isb)
    a.login(isb.demo_user, isb.password)
    pid_a = mail_pid_of(isb, before)
    b = imap_starttls(isb)
    b.login(isb.demo_user, isb.password)
    pid_b = mail_pid_of(isb, before + [pid_a])
    b.select()
    os.kill(pid_a, signal.SIGKILL)
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        a.select()
        a.noop()
    assert b.noop()[0] == "OK"
    assert b.select()[0] == "OK"
    c = imaps(isb)
    assert c.login(isb.demo_user, isb.password)[0] == "OK"
    c.logout()
    b.logout()
    assert "killed by signal 9" in isb.log("imapd")
    wait_for(lambda: pid_b not in imapd_processes(isb)[2], TIMEOUT,
             what="the mail process of a LOGOUT to end")


def test_sighup_keeps_sessions(isb):
    m = imaps(isb)
    m.login(isb.demo_user, isb.password)
    m.select()
    os.kill(isb.pid("imapd"), signal.SIGHUP)
    wait_for(lambda: "new certificate and key loaded" in isb.log("imapd"),
             TIMEOUT, what="the reload")
    assert m.noop()[0] == "OK"
    n = imaps(isb)
    assert n.login(isb.demo_user, isb.password)[0] == "OK"
    n.logout()
    m.logout()


def test_shutdown_says_bye(sandbox_factory):
    ssb = sandbox_factory("stop", imap=True)
    s, f = raw_imaps(ssb)
    try:
        s.sendall(b"s1 LOGIN " + ssb.demo_user.encode() + b" " +
                  ssb.password.encode() + b"\r\ns2 SELECT INBOX\r\n")
        tagged(f, "s1")
        tagged(f, "s2")
        p = poplib.POP3("127.0.0.1", ssb.ports["pop3"], timeout=TIMEOUT)
        os.kill(ssb.pid("imapd"), signal.SIGTERM)
        line = f.readline()
        assert line.startswith(b"* BYE") and b"shutting down" in line, line
        # Not logged in: the login process itself says so.
        line = p.file.readline()
        assert line.startswith(b"-ERR") and b"shutting down" in line, line
    finally:
        s.close()


def test_authd_down(isb):
    isb.kill("authd")
    try:
        m = imaps(isb)
        with pytest.raises(imaplib.IMAP4.error, match=r"\[UNAVAILABLE\]"):
            m.login(isb.demo_user, isb.password)
        m.shutdown()
        p = pop3s(isb)
        p.user(isb.demo_user)
        with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
            p.pass_(isb.password)
        p.close()
    finally:
        isb.restart("authd")

    def logs_in():
        m = imaps(isb)
        try:
            m.login(isb.demo_user, isb.password)
            return True
        except imaplib.IMAP4.error:
            return False
        finally:
            m.shutdown()
    wait_for(logs_in, 20, interval=0.3, what="login after authd restart")
