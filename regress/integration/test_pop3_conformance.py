"""tsamba-imapd POP3 conformance battery (issue 8): every command of
RFC 1939 with RFC 2449 (CAPA, response codes, pipelining), RFC 2595
(STLS) and RFC 5034 (AUTH), in the AUTHORIZATION and TRANSACTION states,
with wrong-state commands, bad arguments, message numbers out of range
or deleted, TOP with n=0 and a large n, AUTH PLAIN with an initial
response, with a continuation and cancelled, STLS twice, and pipelined
commands.  Each row runs on a fresh connection and asserts the +OK/-ERR
(and response code) a client sees, then that the session still works."""

import base64
import re
import socket
import time

import pytest

from helpers import tls_context

TIMEOUT = 20
MSG = (b"From: <a@example.org>\r\nTo: <b@example.test>\r\n"
       b"Subject: pop3 conformance\r\n\r\n"
       b"line one\r\n.dot line\r\nline three\r\n")


@pytest.fixture(scope="module")
def psb(sandbox_factory):
    sb = sandbox_factory("pop3conform", imap=True,
                         limits={"sessions-per-ip": 300,
                                 "imap-sessions-per-ip": 300,
                                 "imap-sessions-per-user": 300})
    s = tls_context().wrap_socket(socket.create_connection(
        ("127.0.0.1", sb.ports["imaps"]), timeout=TIMEOUT))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b'a LOGIN "%s" "%s"\r\n' % (sb.demo_user.encode(),
                                         sb.password.encode()))
    assert f.readline().startswith(b"a OK")
    for i in range(3):
        s.sendall(b"b%d APPEND INBOX {%d+}\r\n" % (i, len(MSG)) + MSG +
                  b"\r\n")
        assert f.readline().startswith(b"b%d OK" % i)
    s.sendall(b"c LOGOUT\r\n")
    s.close()
    return sb


class Pop:
    """A raw POP3 session: on pop3s, or on the STLS port (plain=True)."""

    def __init__(self, sb, plain=False):
        self.sb = sb
        raw = socket.create_connection(
            ("127.0.0.1", sb.ports["pop3" if plain else "pop3s"]),
            timeout=TIMEOUT)
        self.s = raw if plain else tls_context().wrap_socket(raw)
        self.f = self.s.makefile("rb")
        assert self.f.readline().startswith(b"+OK")

    def drop(self):
        """Close the connection (the file object holds the socket too)."""
        self.f.close()
        self.s.close()

    def starttls(self):
        assert self.cmd("STLS").startswith("+OK")
        self.s = tls_context().wrap_socket(self.s)
        self.f = self.s.makefile("rb")

    def line(self):
        line = self.f.readline()
        assert line, "connection closed"
        return line.decode("latin-1").rstrip("\r\n")

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.line()

    def multi(self):
        """The lines of a multi-line reply, dot-unstuffed."""
        lines = []
        while True:
            line = self.line()
            if line == ".":
                return lines
            lines.append(line[1:] if line.startswith(".") else line)

    def login(self):
        assert self.cmd("USER " + self.sb.demo_user).startswith("+OK")
        assert self.cmd("PASS " + self.sb.password).startswith("+OK")

    def alive(self):
        assert self.cmd("NOOP" if self.authed else "CAPA").startswith(
            "+OK")
        if not self.authed:
            self.multi()

    def close(self):
        """QUIT, and wait for the server to close: the maildrop is then
        free for the next test's session."""
        try:
            self.s.sendall(b"QUIT\r\n")
            while self.f.readline():
                pass
        finally:
            self.drop()


def pop_when_free(sb):
    """A logged-in session once the one before has let the maildrop go
    (its mail process ends just after its connection does)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        p = Pop(sb)
        assert p.cmd("USER " + sb.demo_user).startswith("+OK")
        reply = p.cmd("PASS " + sb.password)
        if reply.startswith("+OK"):
            p.authed = True
            return p
        p.drop()
        assert reply.startswith("-ERR [IN-USE]"), reply
        assert time.monotonic() < deadline, "maildrop still in use"
        time.sleep(0.05)


def plain_ir(sb):
    return base64.b64encode(b"\0" + sb.demo_user.encode() + b"\0" +
                            sb.password.encode()).decode()


# (command, expected reply, RFC section) before login (AUTHORIZATION).
AUTHORIZATION_ROWS = [
    ("STAT", "-ERR"),			# RFC 1939 5: TRANSACTION only
    ("LIST", "-ERR"),			# RFC 1939 5
    ("LIST 1", "-ERR"),			# RFC 1939 5
    ("UIDL", "-ERR"),			# RFC 1939 7
    ("RETR 1", "-ERR"),			# RFC 1939 5
    ("TOP 1 0", "-ERR"),		# RFC 1939 7
    ("DELE 1", "-ERR"),			# RFC 1939 5
    ("RSET", "-ERR"),			# RFC 1939 5
    ("NOOP", "-ERR"),			# RFC 1939 5: TRANSACTION only
    ("USER", "-ERR"),			# RFC 1939 7: name required
    ("PASS secret", "-ERR"),		# RFC 1939 7: after USER only
    ("APOP user 0123456789abcdef0123456789abcdef", "-ERR"),	# not offered
    ("AUTH X-BOGUS", "-ERR"),		# RFC 5034 4: unsupported mechanism
    ("STLS", "-ERR"),			# RFC 2595 4: TLS already on
    ("FOOBAR", "-ERR"),			# RFC 2449 3: unknown command
    ("", "-ERR"),			# RFC 1939 3: a keyword is required
    ("USER " + "x" * 300, "-ERR"),	# RFC 2449 4: 255 octets a line
]

# After login (TRANSACTION); the INBOX holds three messages.
TRANSACTION_ROWS = [
    ("STAT", r"\+OK 3 \d+$"),		# RFC 1939 5: drop listing
    ("LIST 1", r"\+OK 1 \d+$"),		# RFC 1939 5: scan listing
    ("LIST 0", "-ERR"),			# RFC 1939 5: no such message
    ("LIST 4", "-ERR"),			# RFC 1939 5
    ("LIST x", "-ERR"),			# RFC 1939 5: a number
    ("LIST 1 2", "-ERR"),		# RFC 1939 5: one argument
    ("UIDL 1", r"\+OK 1 [\x21-\x7e]{1,70}$"),	# RFC 1939 7
    ("UIDL 4", "-ERR"),			# RFC 1939 7
    ("UIDL 0", "-ERR"),			# RFC 1939 7
    ("RETR", "-ERR"),			# RFC 1939 5: number required
    ("RETR 4", "-ERR"),			# RFC 1939 5
    ("RETR 99999999999", "-ERR"),	# RFC 1939 5
    ("TOP 1", "-ERR"),			# RFC 1939 7: two arguments
    ("TOP 1 -1", "-ERR"),		# RFC 1939 7: non-negative number
    ("TOP 4 0", "-ERR"),		# RFC 1939 7
    ("DELE 4", "-ERR"),			# RFC 1939 5
    ("DELE", "-ERR"),			# RFC 1939 5
    ("RSET", r"\+OK"),			# RFC 1939 5
    ("RSET x", "-ERR"),			# RFC 1939 5: no argument
    ("NOOP", r"\+OK"),			# RFC 1939 5
    ("STAT 1", "-ERR"),			# RFC 1939 5: no argument
    ("USER someone", "-ERR"),		# RFC 1939 7: AUTHORIZATION only
    ("PASS secret", "-ERR"),		# RFC 1939 7
    ("AUTH PLAIN", "-ERR"),		# RFC 5034 4: AUTHORIZATION only
    ("STLS", "-ERR"),			# RFC 2595 4: AUTHORIZATION only
    ("APOP a b", "-ERR"),		# RFC 1939 7
    ("FOOBAR", "-ERR"),			# RFC 2449 3
    ("", "-ERR"),			# RFC 1939 3
    ("LIST " + "9" * 300, "-ERR"),	# RFC 2449 4: line over 255
]


def ids(rows):
    return ["%02d %s" % (i, r[0][:40]) for i, r in enumerate(rows)]


@pytest.mark.parametrize("command,expect", AUTHORIZATION_ROWS,
                         ids=ids(AUTHORIZATION_ROWS))
def test_authorization_state(psb, command, expect):
    p = Pop(psb)
    p.authed = False
    try:
        reply = p.cmd(command)
        assert re.match(expect.replace("+", r"\+") if expect == "+OK"
                        else expect, reply), (command, reply)
        if reply.startswith("+OK"):
            p.multi()
        p.alive()
        p.login()	# the failed command did not spoil the login
    finally:
        p.close()


@pytest.mark.parametrize("command,expect", TRANSACTION_ROWS,
                         ids=ids(TRANSACTION_ROWS))
def test_transaction_state(psb, command, expect):
    p = Pop(psb)
    p.authed = True
    try:
        p.login()
        reply = p.cmd(command)
        assert re.match(expect, reply), (command, reply)
        p.alive()
    finally:
        p.close()


def test_capa(psb):
    """RFC 2449 5 / RFC 2595 4 / RFC 5034 4: CAPA before login lists
    TOP UIDL RESP-CODES AUTH-RESP-CODE PIPELINING USER SASL PLAIN, STLS
    only on the STLS port and before TLS; after login no login
    capability is left."""
    p = Pop(psb)
    assert p.cmd("CAPA").startswith("+OK")
    caps = p.multi()
    for c in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
              "USER"):
        assert c in caps, caps
    assert any(c.split()[0] == "SASL" and "PLAIN" in c.split()
               for c in caps), caps
    assert "STLS" not in caps
    p.login()
    assert p.cmd("CAPA").startswith("+OK")
    caps = p.multi()
    for c in ("TOP", "UIDL", "RESP-CODES", "PIPELINING"):
        assert c in caps, caps
    assert "STLS" not in caps and "USER" not in caps
    p.close()

    p = Pop(psb, plain=True)
    assert p.cmd("CAPA").startswith("+OK")
    caps = p.multi()
    assert "STLS" in caps and "USER" not in caps	# LOGINDISABLED-like
    p.starttls()
    assert p.cmd("CAPA").startswith("+OK")
    caps = p.multi()
    assert "STLS" not in caps and "USER" in caps
    # RFC 2595 4: STLS a second time is refused, the session goes on.
    assert p.cmd("STLS").startswith("-ERR")
    p.login()
    p.close()


def test_list_uidl(psb):
    """RFC 1939 5/7: LIST and UIDL with no argument list every message,
    the same numbers and sizes as with one; UIDs are unique, stable."""
    p = Pop(psb)
    p.login()
    assert p.cmd("LIST").startswith("+OK")
    listing = [tuple(ln.split()) for ln in p.multi()]
    assert [n for n, _ in listing] == ["1", "2", "3"], listing
    for n, size in listing:
        assert p.cmd("LIST " + n) == "+OK %s %s" % (n, size)
    assert p.cmd("UIDL").startswith("+OK")
    uidls = [tuple(ln.split()) for ln in p.multi()]
    assert len({u for _, u in uidls}) == 3
    for n, u in uidls:
        assert p.cmd("UIDL " + n) == "+OK %s %s" % (n, u)
    # RFC 1939 5: the size is that of the message with CRLF line ends.
    assert p.cmd("RETR 1").startswith("+OK")
    body = p.multi()
    assert sum(len(ln) + 2 for ln in body) == int(listing[0][1])
    assert ".dot line" in body	# dot-stuffing undone
    p.close()


def test_top(psb):
    """RFC 1939 7: TOP n 0 gives the header and the blank line; a large
    n gives the whole message."""
    p = Pop(psb)
    p.login()
    assert p.cmd("TOP 1 0").startswith("+OK")
    top0 = p.multi()
    assert top0[-1] == "" and "line one" not in top0, top0
    assert "Subject: pop3 conformance" in top0
    assert p.cmd("TOP 1 1").startswith("+OK")
    assert p.multi() == top0 + ["line one"]
    assert p.cmd("TOP 1 100000").startswith("+OK")
    big = p.multi()
    assert p.cmd("RETR 1").startswith("+OK")
    assert p.multi() == big
    p.close()


def test_dele_rset(psb):
    """RFC 1939 5: a deleted message is gone for every command until
    RSET; STAT and LIST leave it out."""
    p = Pop(psb)
    p.login()
    stat = p.cmd("STAT")
    assert p.cmd("DELE 2").startswith("+OK")
    for c in ("RETR 2", "TOP 2 0", "LIST 2", "UIDL 2", "DELE 2"):
        assert p.cmd(c).startswith("-ERR"), c
    assert p.cmd("STAT").startswith("+OK 2 ")
    assert p.cmd("LIST").startswith("+OK")
    assert [ln.split()[0] for ln in p.multi()] == ["1", "3"]
    assert p.cmd("RSET").startswith("+OK")
    assert p.cmd("STAT") == stat
    assert p.cmd("LIST 2").startswith("+OK")
    p.s.sendall(b"QUIT\r\n")	# RSET: nothing deleted at QUIT
    assert p.line().startswith("+OK")
    p.drop()
    p = pop_when_free(psb)
    assert p.cmd("STAT") == stat
    p.close()


def test_auth_plain(psb):
    """RFC 5034 4: AUTH PLAIN with an initial response, with the
    continuation, cancelled with "*" (-ERR, then a login works), with
    bad base64 (-ERR); AUTH alone lists the mechanisms."""
    p = Pop(psb)
    assert p.cmd("AUTH").startswith("+OK")
    assert "PLAIN" in p.multi()
    assert p.cmd("AUTH PLAIN " + plain_ir(psb)).startswith("+OK")
    assert p.cmd("STAT").startswith("+OK")
    p.close()

    p = Pop(psb)
    assert p.cmd("AUTH PLAIN").startswith("+ ")
    assert p.cmd(plain_ir(psb)).startswith("+OK")
    p.close()

    p = Pop(psb)
    assert p.cmd("AUTH PLAIN").startswith("+ ")
    assert p.cmd("*").startswith("-ERR")	# RFC 5034 4: cancelled
    assert p.cmd("AUTH PLAIN").startswith("+ ")
    assert p.cmd("!!!not base64").startswith("-ERR")
    assert p.cmd("STAT").startswith("-ERR")
    p.login()
    p.close()

    p = Pop(psb)
    assert p.cmd("AUTH PLAIN =").startswith("-ERR")	# empty response
    p.login()
    p.close()


def test_pipelining(psb):
    """RFC 2449 6.6 PIPELINING: commands sent in one write are answered
    in order, before and after login."""
    p = Pop(psb)
    p.s.sendall(b"CAPA\r\nUSER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\n"
                b"UIDL 1\r\nNOOP\r\nQUIT\r\n" % (psb.demo_user.encode(),
                                               psb.password.encode()))
    assert p.line().startswith("+OK")
    p.multi()
    assert p.line().startswith("+OK")		# USER
    assert p.line().startswith("+OK")		# PASS
    assert re.match(r"\+OK 3 \d+$", p.line())	# STAT
    assert p.line().startswith("+OK")		# LIST
    assert len(p.multi()) == 3
    assert p.line().startswith("+OK 1 ")	# UIDL 1
    assert p.line().startswith("+OK")		# NOOP
    assert p.line().startswith("+OK")		# QUIT
    assert p.f.readline() == b""
    p.drop()


def test_quit_applies_dele(psb):
    """RFC 1939 6: DELE takes effect at QUIT (UPDATE state); a dropped
    connection deletes nothing.  Runs last: it removes a message."""
    p = Pop(psb)
    p.login()
    assert p.cmd("DELE 3").startswith("+OK")
    p.drop()				# no QUIT
    p = pop_when_free(psb)
    assert p.cmd("STAT").startswith("+OK 3 ")
    assert p.cmd("DELE 3").startswith("+OK")
    p.s.sendall(b"QUIT\r\n")
    assert p.line().startswith("+OK")
    p.drop()
    p = pop_when_free(psb)
    assert p.cmd("STAT").startswith("+OK 2 ")
    p.close()


def test_in_use(psb):
    """RFC 2449 8.1.1: a second session on a mailbox another one holds
    gets -ERR [IN-USE]; once the first quits the mailbox is free."""
    p = Pop(psb)
    p.login()
    q = Pop(psb)
    assert q.cmd("USER " + psb.demo_user).startswith("+OK")
    reply = q.cmd("PASS " + psb.password)
    assert reply.startswith("-ERR [IN-USE]"), reply
    q.drop()
    assert p.cmd("QUIT").startswith("+OK")
    assert p.f.readline() == b""	# the first session has ended
    p.drop()
    q = pop_when_free(psb)
    q.close()


def test_quit_before_login(psb):
    """RFC 1939 4: QUIT in AUTHORIZATION is +OK and the server closes."""
    p = Pop(psb)
    assert p.cmd("QUIT").startswith("+OK")
    assert p.f.readline() == b""
    p.drop()
