"""tsamba-imapd's answers to what a client gets wrong (issue 8: error
cases), over a raw TLS connection so that each tagged reply is read as
sent: bad syntax is BAD, a command in the wrong state is BAD, a literal
over the limit is refused before it is sent, an unknown mailbox is NO
[NONEXISTENT] (or [TRYCREATE] where a client may create it and try
again, RFC 9051 7.1), a mailbox that exists already is NO
[ALREADYEXISTS], a name that is not modified UTF-7 NO [CANNOT],
INBOX cannot be deleted, a read-only mailbox is NO
[READ-ONLY], a sequence number the mailbox does not have is BAD; POP3
says -ERR.  After every error the session goes on
serving."""

import socket

import pytest

from helpers import tls_context

TIMEOUT = 15


@pytest.fixture(scope="module")
def esb(sandbox_factory):
    return sandbox_factory("errors", imap=True,
                           limits={"sessions-per-ip": 300})


class Imap:
    """A raw IMAP session on the implicit TLS port."""

    def __init__(self, sb):
        self.s = tls_context().wrap_socket(socket.create_connection(
            ("127.0.0.1", sb.ports["imaps"]), timeout=TIMEOUT))
        self.f = self.s.makefile("rb")
        assert self.f.readline().startswith(b"* OK")
        self.n = 0

    def cmd(self, text, literal=None):
        """The tagged reply to "TAG text", after a "+" for a literal
        when one is given; the untagged lines are left out."""
        self.n += 1
        tag = b"e%d" % self.n
        self.s.sendall(tag + b" " + text + b"\r\n")
        while True:
            line = self.f.readline()
            assert line, "connection closed"
            if line.startswith(b"+ ") and literal is not None:
                self.s.sendall(literal + b"\r\n")
                literal = None
            elif line.startswith(tag + b" "):
                return line[len(tag) + 1:].rstrip(b"\r\n").decode()

    def close(self):
        self.s.close()


def test_imap_errors(esb):
    c = Imap(esb)
    try:
        # Not logged in yet.
        assert c.cmd(b"SELECT INBOX").startswith("BAD")
        assert c.cmd(b"LOGIN {999999999}").startswith("BAD")
        assert c.cmd(b"LOGIN %s %s" % (esb.demo_user.encode(),
                                       esb.password.encode())) \
            .startswith("OK")
        assert c.cmd(b"LOGIN a b").startswith("BAD")
        # Nothing selected.
        assert c.cmd(b"FETCH 1 FLAGS").startswith("BAD")
        assert c.cmd(b"EXPUNGE").startswith("BAD")
        # Bad syntax.
        assert c.cmd(b"FETCH").startswith("BAD")
        assert c.cmd(b"FOO BAR").startswith("BAD")
        assert c.cmd(b"LIST").startswith("BAD")
        assert c.cmd(b'STATUS INBOX (BOGUS)').startswith("BAD")
        # Unknown mailboxes.
        for text in (b"SELECT Nope", b"EXAMINE Nope",
                     b"STATUS Nope (MESSAGES)", b"DELETE Nope",
                     b"RENAME Nope Other"):
            assert c.cmd(text).startswith("NO [NONEXISTENT]"), text
        assert c.cmd(b"APPEND Nope {3}", b"abc") \
            .startswith("NO [TRYCREATE]")
        # A mailbox that exists, and INBOX.
        assert c.cmd(b"CREATE Twice").startswith("OK")
        assert c.cmd(b"CREATE Twice").startswith("NO [ALREADYEXISTS]")
        assert c.cmd(b"CREATE INBOX").startswith("NO [ALREADYEXISTS]")
        assert c.cmd(b"CREATE inbox").startswith("NO [ALREADYEXISTS]")
        assert c.cmd(b"DELETE INBOX").startswith("NO [CANNOT]")
        assert c.cmd(b"RENAME Twice INBOX").startswith("NO "
                                                      "[ALREADYEXISTS]")
        # Names are modified UTF-7, as Dovecot keeps them on disk.
        for name in ("\u00fc".encode(), b"&Jjo", b"a&b", b"&AGE-"):
            assert c.cmd(b'CREATE "%s"' % name).startswith(
                "NO [CANNOT]"), name
            assert c.cmd(b'RENAME Twice "%s"' % name).startswith(
                "NO [CANNOT]"), name
        assert c.cmd(b'CREATE "Entw&APw-rfe &- Co"').startswith("OK")
        assert c.cmd(b'DELETE "Entw&APw-rfe &- Co"').startswith("OK")
        # Sequence numbers the mailbox does not have, "*" in an empty
        # one among them, are BAD (RFC 3501 6.4.8); UIDs are not.
        assert c.cmd(b"SELECT INBOX").startswith("OK")
        for text in (b"FETCH 1:* FLAGS", b"FETCH * FLAGS",
                     b"STORE 1 +FLAGS (\\Seen)", b"COPY 1 INBOX"):
            assert c.cmd(text).startswith("BAD"), text
        assert c.cmd(b"UID FETCH 1:* FLAGS").startswith("OK")
        assert c.cmd(b"SEARCH 1:*").startswith("OK")
        # Selected, but read-only; then a move to nowhere.
        assert c.cmd(b"APPEND INBOX {3}", b"abc").startswith("OK")
        for text in (b"FETCH 2 FLAGS", b"FETCH 1,2 FLAGS",
                     b"STORE 1:2 +FLAGS (\\Seen)", b"MOVE 2 INBOX"):
            assert c.cmd(text).startswith("BAD"), text
        assert c.cmd(b"FETCH 1:* FLAGS").startswith("OK")
        assert c.cmd(b"EXAMINE INBOX").startswith("OK [READ-ONLY]")
        assert c.cmd(b"STORE 1 +FLAGS (\\Seen)").startswith("NO "
                                                          "[READ-ONLY]")
        assert c.cmd(b"SELECT INBOX").startswith("OK [READ-WRITE]")
        assert c.cmd(b"COPY 1 Nope").startswith("NO [TRYCREATE]")
        assert c.cmd(b"MOVE 1 Nope").startswith("NO [TRYCREATE]")
        assert c.cmd(b"FETCH 1 (FOO)").startswith("BAD")
        assert c.cmd(b"STORE 1 +FLAGS (\\Bogus)").startswith("BAD")
        assert c.cmd(b"SEARCH CHARSET KOI8-R BODY x") \
            .startswith("NO [BADCHARSET")
        assert c.cmd(b"SEARCH {999999999}").startswith("NO [TOOBIG]")
        # And the session still serves.
        assert c.cmd(b"FETCH 1 FLAGS").startswith("OK")
        assert c.cmd(b"DELETE Twice").startswith("OK")
        assert c.cmd(b"LOGOUT").startswith("OK")
    finally:
        c.close()


def test_pop3_errors(esb):
    p = tls_context().wrap_socket(socket.create_connection(
        ("127.0.0.1", esb.ports["pop3s"]), timeout=TIMEOUT))
    f = p.makefile("rb")

    def cmd(text):
        p.sendall(text + b"\r\n")
        return f.readline().decode()
    try:
        assert f.readline().startswith(b"+OK")
        assert cmd(b"RETR 1").startswith("-ERR")
        assert cmd(b"PASS x").startswith("-ERR")
        assert cmd(b"USER " + esb.demo_user.encode()).startswith("+OK")
        assert cmd(b"PASS " + esb.password.encode()).startswith("+OK")
        for text in (b"RETR 999", b"DELE 0", b"TOP 1", b"LIST x", b"FOO",
                     b"UIDL 999", b"USER again"):
            assert cmd(text).startswith("-ERR"), text
        assert cmd(b"NOOP").startswith("+OK")
        assert cmd(b"QUIT").startswith("+OK")
    finally:
        p.close()
