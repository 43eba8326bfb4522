"""tsamba-imapd IMAP conformance battery (issue 8): every command of
RFC 3501 and RFC 9051 and of each advertised extension, in each state
(not authenticated, authenticated, selected, read-only after EXAMINE,
after LOGOUT), with bad syntax, unknown mailboxes, bad charsets and
input over the limits, each row asserting the reply class and response
code a client sees and that the connection keeps working afterwards.

The rows are tables: (command, expected tagged reply, RFC section).  A
row runs on a fresh connection in its state so that one row's failure
or side effect cannot hide another's.  The expected reply is a regular
expression matched after the tag; "BAD|NO" is used where the RFC lets
the server choose.  A test also checks that every capability the server
advertises has rows here, so a new extension cannot go untested."""

import re
import socket

import pytest

from helpers import tls_context

TIMEOUT = 20
LIMIT = 100 * 1024		# limit message-size, so APPENDLIMIT
MSG = (b"From: <a@example.org>\r\nTo: <b@example.test>\r\n"
       b"Subject: conformance\r\nDate: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
       b"Message-ID: <c1@test>\r\n\r\nHello conformance.\r\n")


@pytest.fixture(scope="module")
def csb(sandbox_factory):
    sb = sandbox_factory("conform", imap=True,
                         limits={"message-size": "100K",
                                 "sessions-per-ip": 300,
                                 "imap-sessions-per-ip": 300,
                                 "imap-sessions-per-user": 300})
    c = Client(sb)
    c.login()
    for _ in range(3):
        assert c.append("INBOX", MSG).startswith("OK")
    for name in ("Existing", "Other"):
        c.ok("CREATE %s" % name)
    c.logout()
    return sb


class Client:
    """A raw IMAP session on the implicit TLS port: lines as bytes."""

    def __init__(self, sb):
        self.sb = sb
        self.n = 0
        self.s = tls_context().wrap_socket(socket.create_connection(
            ("127.0.0.1", sb.ports["imaps"]), timeout=TIMEOUT))
        self.f = self.s.makefile("rb")
        self.greeting = self.f.readline()
        assert self.greeting.startswith(b"* OK"), self.greeting

    def tag(self):
        self.n += 1
        return "c%d" % self.n

    def send(self, data):
        self.s.sendall(data)

    def readline(self):
        return self.f.readline()

    def tagged(self, tag):
        """(untagged lines, the tagged line without the tag)."""
        lines = []
        while True:
            line = self.f.readline()
            assert line, "connection closed before %s's reply; got %r" % (
                tag, lines)
            if line.startswith(tag.encode() + b" "):
                return lines, line[len(tag) + 1:].decode(
                    "utf-8", "replace").rstrip("\r\n")
            lines.append(line)

    def cmd(self, text):
        """Runs one command (bytes or str; "{n+}" literals inline)."""
        tag = self.tag()
        if isinstance(text, str):
            text = text.encode()
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.tagged(tag)

    def ok(self, text):
        untagged, reply = self.cmd(text)
        assert reply.startswith("OK"), (text, reply)
        return untagged

    def append(self, box, data):
        return self.cmd(b"APPEND " + box.encode() + b" {%d+}\r\n" %
                        len(data) + data)[1]

    def login(self):
        self.ok('LOGIN "%s" "%s"' % (self.sb.demo_user, self.sb.password))

    def alive(self):
        """The session still answers a NOOP."""
        _, reply = self.cmd("NOOP")
        assert reply.startswith("OK"), reply

    def logout(self):
        try:
            self.cmd("LOGOUT")
        finally:
            self.s.close()


def in_state(sb, state):
    c = Client(sb)
    if state == "nonauth":
        return c
    c.login()
    if state == "selected":
        c.ok("SELECT INBOX")
    elif state == "examined":
        c.ok("EXAMINE INBOX")
    return c


def lit(data):
    """A non-synchronizing literal (RFC 7888) inline in a command."""
    if isinstance(data, str):
        data = data.encode()
    return b"{%d+}\r\n" % len(data) + data


WRONG = "BAD|NO"	# the RFC lets the server pick either

# Commands that need authentication, refused before it (RFC 9051 6,
# 6.3, 6.4: valid only in the authenticated or selected state).
NEED_AUTH = [
    "ENABLE CONDSTORE",			# RFC 5161 3.1
    "SELECT INBOX",			# RFC 9051 6.3.2
    "EXAMINE INBOX",			# RFC 9051 6.3.3
    "CREATE NewBox",			# RFC 9051 6.3.4
    "DELETE Existing",			# RFC 9051 6.3.5
    "RENAME Existing Renamed",		# RFC 9051 6.3.6
    "SUBSCRIBE Existing",		# RFC 9051 6.3.7
    "UNSUBSCRIBE Existing",		# RFC 9051 6.3.8
    'LIST "" *',			# RFC 9051 6.3.9
    'LSUB "" *',			# RFC 3501 6.3.9
    "NAMESPACE",			# RFC 9051 6.3.10
    "STATUS INBOX (MESSAGES)",		# RFC 9051 6.3.11
    b"APPEND INBOX " + lit(MSG),	# RFC 9051 6.3.12
    "IDLE",				# RFC 2177 3
    "CHECK",				# RFC 3501 6.4.1
    "CLOSE",				# RFC 9051 6.4.1
    "UNSELECT",				# RFC 9051 6.4.2
    "EXPUNGE",				# RFC 9051 6.4.3
    "SEARCH ALL",			# RFC 9051 6.4.4
    "FETCH 1 FLAGS",			# RFC 9051 6.4.5
    "STORE 1 +FLAGS (\\Seen)",		# RFC 9051 6.4.6
    "COPY 1 Existing",			# RFC 9051 6.4.7
    "MOVE 1 Existing",			# RFC 9051 6.4.8
    "UID FETCH 1 FLAGS",		# RFC 9051 6.4.9
    "UID SEARCH ALL",			# RFC 9051 6.4.9
    "UID STORE 1 +FLAGS (\\Seen)",	# RFC 9051 6.4.9
    "UID COPY 1 Existing",		# RFC 9051 6.4.9
    "UID MOVE 1 Existing",		# RFC 6851 3.3
    "UID EXPUNGE 1",			# RFC 9051 6.4.9
    "GETQUOTAROOT INBOX",		# RFC 9208 4.3
    'GETQUOTA ""',			# RFC 9208 4.2
    'SETQUOTA "" (STORAGE 10)',		# RFC 9208 4.1
    "SORT (DATE) UTF-8 ALL",		# RFC 5256 3
    "THREAD REFERENCES UTF-8 ALL",	# RFC 5256 3
    "COMPRESS DEFLATE",			# RFC 4978 3: after login
]

NONAUTH_ROWS = [(c, WRONG) for c in NEED_AUTH] + [
    ("CAPABILITY", "OK"),		# RFC 9051 6.1.1
    ("NOOP", "OK"),			# RFC 9051 6.1.2
    ("CAPABILITY extra", "BAD"),	# RFC 9051 6.1.1: no arguments
    ("NOOP extra", "BAD"),		# RFC 9051 6.1.2: no arguments
    ("LOGOUT extra", "BAD"),		# RFC 9051 6.1.3: no arguments
    ("STARTTLS", "BAD"),		# RFC 9051 6.2.1: TLS already on
    ("AUTHENTICATE", "BAD"),		# RFC 9051 6.2.2: missing mechanism
    ("AUTHENTICATE X-BOGUS", "NO"),	# RFC 9051 6.2.2: unsupported
    ("LOGIN", "BAD"),			# RFC 9051 6.2.3: missing arguments
    ("LOGIN onlyuser", "BAD"),		# RFC 9051 6.2.3: missing password
    ("LOGIN a b c", "BAD"),		# RFC 9051 6.2.3: extra argument
    ('ID NIL', "OK"),			# RFC 2971 3.1
    ('ID ("name" "conform")', "OK"),	# RFC 2971 3.1
    ("ID", "BAD"),			# RFC 2971 4: missing argument
    ('ID (', "BAD"),			# unbalanced parenthesis
    ('ID ("name")', "BAD"),		# RFC 2971 4: pairs
    ("FOOBAR", "BAD"),			# RFC 9051 7.1.5: unknown command
]

AUTH_ROWS = [
    ("CAPABILITY", "OK"),		# RFC 9051 6.1.1
    ("NOOP", "OK"),			# RFC 9051 6.1.2
    ('LOGIN "a" "b"', WRONG),		# RFC 9051 6.2.3: not in this state
    ("AUTHENTICATE PLAIN", WRONG),	# RFC 9051 6.2.2: not in this state
    ("STARTTLS", "BAD"),		# RFC 9051 6.2.1
    ("ENABLE CONDSTORE", "OK"),		# RFC 5161 3.1 / RFC 7162 3.1
    ("ENABLE X-UNKNOWN", "OK"),		# RFC 5161 3.1: unknown ignored
    ("ENABLE", "BAD"),			# RFC 5161 4: 1*enable-param
    ("ENABLE IMAP4rev2", "OK"),		# RFC 9051 6.3.1
    ("ENABLE UTF8=ACCEPT", "OK"),	# RFC 6855 3
    ("ENABLE QRESYNC", "OK"),		# RFC 7162 3.2.3
    ("SELECT INBOX", r"OK \[READ-WRITE\]"),	# RFC 9051 6.3.2
    ("SELECT INBOX (CONDSTORE)", r"OK \[READ-WRITE\]"),	# RFC 7162 3.1.8
    ("SELECT INBOX (BOGUS)", "BAD"),	# RFC 4466 2.1: unknown parameter
    ("SELECT", "BAD"),			# RFC 9051 6.3.2: missing name
    ("SELECT INBOX extra", "BAD"),	# RFC 9051 6.3.2: extra argument
    ("SELECT NoSuchBox", r"NO \[NONEXISTENT\]"),	# RFC 9051 7.1
    ("EXAMINE INBOX", r"OK \[READ-ONLY\]"),	# RFC 9051 6.3.3
    ("EXAMINE NoSuchBox", r"NO \[NONEXISTENT\]"),	# RFC 9051 7.1
    ("EXAMINE", "BAD"),			# RFC 9051 6.3.3
    ("CREATE Fresh1", "OK"),		# RFC 9051 6.3.4
    ("CREATE Fresh2.Child", "OK"),	# RFC 9051 6.3.4: superiors too
    ("CREATE Existing", r"NO \[ALREADYEXISTS\]"),	# RFC 9051 6.3.4
    ("CREATE INBOX", "NO"),		# RFC 9051 6.3.4
    ("CREATE", "BAD"),			# RFC 9051 6.3.4
    ("CREATE Wild*card", "NO|BAD"),	# RFC 9051 6.3.4: MAY refuse
    ("CREATE Trail.", "OK"),		# RFC 9051 6.3.4: trailing delimiter
    ('CREATE "&Jjo"', "OK|NO|BAD"),	# RFC 3501 5.1.3: bad modified
    # UTF-7, kept as sent on purpose (tsamba-imapd(8) UTF-8 section)
    ('CREATE "a\\b"', "BAD"),		# RFC 9051 9: quoted escapes only " and \
    ('CREATE "a\\\\b"', "OK|NO"),	# an escaped backslash in a name
    ("CREATE {4+}\r\nLit1", "OK"),	# RFC 7888: name as a literal
    ("CREATE Fresh3 (USE (\\Archive))", "OK"),	# RFC 6154 3
    ("CREATE Fresh4 (USE (\\Bogus))", r"NO \[USEATTR\]"),	# RFC 6154 3
    ("DELETE NoSuchBox", r"NO \[NONEXISTENT\]"),	# RFC 9051 6.3.5
    ("DELETE INBOX", "NO"),		# RFC 9051 6.3.5
    ("DELETE", "BAD"),			# RFC 9051 6.3.5
    ("RENAME NoSuchBox Elsewhere", r"NO \[NONEXISTENT\]"),	# 6.3.6
    ("RENAME Existing Other", r"NO \[ALREADYEXISTS\]"),	# 6.3.6
    ("RENAME Existing", "BAD"),		# RFC 9051 6.3.6: missing name
    ("SUBSCRIBE Existing", "OK"),	# RFC 9051 6.3.7
    ("SUBSCRIBE", "BAD"),		# RFC 9051 6.3.7
    ("UNSUBSCRIBE Existing", "OK"),	# RFC 9051 6.3.8
    ("UNSUBSCRIBE", "BAD"),		# RFC 9051 6.3.8
    ('LIST "" *', "OK"),		# RFC 9051 6.3.9
    ('LIST "" %', "OK"),		# RFC 9051 6.3.9
    ('LIST "" ""', "OK"),		# RFC 9051 6.3.9: the delimiter
    ('LIST ""', "BAD"),			# RFC 9051 6.3.9: missing pattern
    ("LIST", "BAD"),			# RFC 9051 6.3.9
    ('LIST (SUBSCRIBED) "" *', "OK"),	# RFC 5258 3.1
    ('LIST (SPECIAL-USE) "" *', "OK"),	# RFC 6154 5.1
    ('LIST "" * RETURN (CHILDREN)', "OK"),	# RFC 5258 4
    ('LIST "" * RETURN (SPECIAL-USE)', "OK"),	# RFC 6154 5.1
    ('LIST "" * RETURN (STATUS (MESSAGES UIDNEXT))', "OK"),	# RFC 5819
    ('LIST (BOGUS) "" *', "BAD"),	# RFC 5258 3: unknown selection
    ('LIST "" * RETURN (BOGUS)', "BAD"),	# RFC 5258 3: unknown return
    ('LIST (RECURSIVEMATCH) "" *', "BAD"),	# RFC 5258 3.1: needs another
    ('LIST "" ("INBOX" "Existing")', "OK"),	# RFC 5258 3: patterns
    ('LSUB "" *', "OK"),		# RFC 3501 6.3.9
    ('LSUB ""', "BAD"),			# RFC 3501 6.3.9
    ("NAMESPACE", "OK"),		# RFC 9051 6.3.10 / RFC 2342
    ("NAMESPACE extra", "BAD"),		# RFC 9051 6.3.10
    ("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)", "OK"),
    ("STATUS INBOX (SIZE DELETED)", "OK"),	# RFC 9051 6.3.11 / 8438
    ("STATUS INBOX (HIGHESTMODSEQ)", "OK"),	# RFC 7162 3.1.6
    ("STATUS INBOX ()", "BAD"),		# RFC 9051 9: 1*status-att
    ("STATUS INBOX (BOGUS)", "BAD"),	# RFC 9051 6.3.11
    ("STATUS INBOX", "BAD"),		# RFC 9051 6.3.11: missing list
    ("STATUS INBOX (MESSAGES", "BAD"),	# unbalanced parenthesis
    ("STATUS NoSuchBox (MESSAGES)", r"NO \[NONEXISTENT\]"),	# 7.1
    (b"APPEND INBOX " + lit(MSG), r"OK \[APPENDUID \d+ \d+\]"),	# 4315
    (b"APPEND Existing (\\Seen) \"25-Nov-2026 12:00:00 +0000\" " +
     lit(MSG), r"OK \[APPENDUID"),	# RFC 9051 6.3.12
    (b"APPEND INBOX " + lit(MSG) + b" " + lit(MSG),
     r"OK \[APPENDUID \d+ \d+:\d+\]"),	# RFC 3502 6 (MULTIAPPEND)
    (b"APPEND NoSuchBox " + lit(MSG), r"NO \[TRYCREATE\]"),	# 6.3.12
    (b'APPEND INBOX "not a date" ' + lit(MSG), "BAD"),	# RFC 9051 9
    (b"APPEND INBOX (\\Seen " + lit(MSG), "BAD"),	# unbalanced
    (b"APPEND INBOX", "BAD"),		# RFC 9051 6.3.12: no message
    (b"APPEND INBOX " + lit(MSG + b"\0x"), r"OK \[APPENDUID"),
    # RFC 9051 4.3 has no NUL in a literal; tsamba-imapd takes one in
    # APPEND's message on purpose, as Dovecot does (tsamba-imapd(8))
    ("SUBSCRIBE NoSuchBox", "OK|NO"),	# RFC 9051 6.3.7: server's choice
    (b"APPEND INBOX ~" + lit(MSG), r"OK \[APPENDUID"),	# RFC 3516 4.4
    (b"APPEND INBOX UTF8 (~" + lit(MSG) + b")", WRONG),	# RFC 6855 4:
    # before ENABLE UTF8=ACCEPT
    ("CHECK", WRONG),			# RFC 3501 6.4: selected only
    ("CLOSE", WRONG),			# RFC 9051 6.4.1
    ("UNSELECT", WRONG),		# RFC 9051 6.4.2
    ("EXPUNGE", WRONG),			# RFC 9051 6.4.3
    ("SEARCH ALL", WRONG),		# RFC 9051 6.4.4
    ("FETCH 1 FLAGS", WRONG),		# RFC 9051 6.4.5
    ("STORE 1 +FLAGS (\\Seen)", WRONG),	# RFC 9051 6.4.6
    ("COPY 1 Existing", WRONG),		# RFC 9051 6.4.7
    ("MOVE 1 Existing", WRONG),		# RFC 9051 6.4.8
    ("UID FETCH 1 FLAGS", WRONG),	# RFC 9051 6.4.9
    ("UID EXPUNGE 1", WRONG),		# RFC 9051 6.4.9
    ("SORT (DATE) UTF-8 ALL", WRONG),	# RFC 5256 3
    ("THREAD REFERENCES UTF-8 ALL", WRONG),	# RFC 5256 3
    ("GETQUOTAROOT INBOX", "OK"),	# RFC 9208 4.3
    ("GETQUOTAROOT NoSuchBox", "NO"),	# RFC 9208 4.3
    ('GETQUOTA ""', "OK|NO"),		# RFC 9208 4.2
    ('SETQUOTA "" (STORAGE 10)', "NO"),	# RFC 9208 4.1: not permitted
    ("GETQUOTAROOT", "BAD"),		# RFC 9208 4.3
    ("GETQUOTA no-such-root", "NO"),	# RFC 9208 4.2
    ("SETQUOTA", "BAD"),		# RFC 9208 4.1
    ("COMPRESS BOGUS", WRONG),		# RFC 4978 3: unknown algorithm
    ("COMPRESS", "BAD"),		# RFC 4978 3: missing algorithm
    ("FOOBAR", "BAD"),			# RFC 9051 7.1.5
]

SELECTED_ROWS = [
    ("CHECK", "OK"),			# RFC 3501 6.4.1
    ("NOOP", "OK"),			# RFC 9051 6.1.2
    ("UNSELECT extra", "BAD"),		# RFC 3691 3
    ("EXPUNGE", "OK"),			# RFC 9051 6.4.3
    ("EXPUNGE extra", "BAD"),		# RFC 9051 6.4.3
    ("UID EXPUNGE 999999", "OK"),	# RFC 4315 2.1 / RFC 9051 6.4.9
    ("UID EXPUNGE", "BAD"),		# RFC 9051 6.4.9: missing set
    ("UID EXPUNGE 0", "BAD"),		# RFC 9051 9: nz-number
    ("SEARCH ALL", "OK"),		# RFC 9051 6.4.4
    ("SEARCH", "BAD"),			# RFC 9051 6.4.4: missing key
    ("SEARCH BOGUS", "BAD"),		# RFC 9051 6.4.4
    ("SEARCH (ALL", "BAD"),		# unbalanced parenthesis
    ("SEARCH ALL)", "BAD"),		# unbalanced parenthesis
    ("SEARCH 0", "BAD"),		# RFC 9051 9: seq-number nz-number
    ("SEARCH *:0", "BAD"),		# RFC 9051 9
    ("SEARCH CHARSET UTF-8 SUBJECT hello", "OK"),	# RFC 9051 6.4.4
    ("SEARCH CHARSET US-ASCII ALL", "OK"),	# RFC 9051 6.4.4
    ("SEARCH CHARSET X-BOGUS ALL", r"NO \[BADCHARSET"),	# 6.4.4
    ("SEARCH CHARSET", "BAD"),		# RFC 9051 6.4.4
    (b"SEARCH SUBJECT " + lit("conformance"), "OK"),	# RFC 7888
    ("SEARCH SINCE 32-Foo-2020", "BAD"),	# RFC 9051 9: date
    ("SEARCH LARGER x", "BAD"),		# RFC 9051 9: number
    ("SEARCH RETURN (MIN MAX COUNT ALL) ALL", "OK"),	# RFC 4731 3.1
    ("SEARCH RETURN () ALL", "OK"),	# RFC 4731 3.1: same as ALL
    ("SEARCH RETURN (BOGUS) ALL", "BAD"),	# RFC 4731 3.1
    ("SEARCH RETURN (SAVE) ALL", "OK"),	# RFC 5182 2.1
    ("SEARCH YOUNGER 3600", "OK"),	# RFC 5032 3 (WITHIN)
    ("SEARCH OLDER x", "BAD"),		# RFC 5032 3
    ("SEARCH MODSEQ 1", "OK"),		# RFC 7162 3.1.5
    ("SEARCH MODSEQ x", "BAD"),		# RFC 7162 3.1.5
    ("SEARCH 1:2 NOT DELETED", "OK"),	# RFC 9051 6.4.4
    ("SEARCH 99", "BAD"),		# RFC 9051 2.3.1.2: past EXISTS
    ("SEARCH 1:*", "OK"),		# RFC 9051 6.4.4
    ("SEARCH 99:*", "BAD"),		# RFC 3501 6.4.8
    ("UID SEARCH UID 99999", "OK"),	# RFC 9051 6.4.9: UIDs may be absent
    ("SEARCH OR SEEN", "BAD"),		# RFC 9051 6.4.4: OR takes two
    ("SEARCH HEADER Subject", "BAD"),	# RFC 9051 6.4.4: two arguments
    ("SEARCH UID 0", "BAD"),		# RFC 9051 9: nz-number
    ("SEARCH KEYWORD \\Seen", "BAD"),	# RFC 9051 9: flag-keyword atom
    ("SEARCH UNKEYWORD \\Seen", "BAD"),	# RFC 9051 9
    ("SEARCH KEYWORD kw1", "OK"),	# RFC 9051 6.4.4
    ("SEARCH " + "NOT " * 200 + "ALL", WRONG),	# nesting limit, no crash
    ("SEARCH " + "(" * 200 + "ALL" + ")" * 200, WRONG),	# the same
    ("FETCH 1 FLAGS", "OK"),		# RFC 9051 6.4.5
    ("FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE)", "OK"),
    ("FETCH 1 (ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER])", "OK"),
    ("FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject From)]", "OK"),
    ("FETCH 1 BODY.PEEK[]<0.10>", "OK"),	# RFC 9051 6.4.5: partial
    ("FETCH 1 BODY.PEEK[HEADER.FIELDS ()]", "BAD"),	# 1*header-fld
    ("FETCH 1 BODY.PEEK[]<0.0>", "BAD"),	# RFC 9051 9: nz-number
    ("FETCH 1 BODY.PEEK[BOGUS]", "BAD"),	# RFC 9051 9: section
    ("FETCH 1 BINARY.PEEK[1]", "OK"),	# RFC 3516 4.2
    ("FETCH 1 BINARY.SIZE[1]", "OK"),	# RFC 3516 4.2
    ("FETCH 1 (FLAGS) (CHANGEDSINCE 1)", "OK"),	# RFC 7162 3.1.4
    ("FETCH 1 FLAGS (BOGUS)", "BAD"),	# RFC 4466 2.4
    ("FETCH 1 MODSEQ", "OK"),		# RFC 7162 3.1.4
    ("FETCH 0 FLAGS", "BAD"),		# RFC 9051 9: nz-number
    ("FETCH *:0 FLAGS", "BAD"),		# RFC 9051 9
    ("FETCH 1, FLAGS", "BAD"),		# RFC 9051 9: sequence-set
    ("FETCH 1:2:3 FLAGS", "BAD"),	# RFC 9051 9
    ("FETCH -1 FLAGS", "BAD"),		# RFC 9051 9
    ("FETCH 4294967296 FLAGS", "BAD"),	# RFC 9051 9: < 2^32
    ("FETCH 99 FLAGS", "BAD"),		# RFC 9051 2.3.1.2: past EXISTS
    ("FETCH 1:99 FLAGS", "BAD"),	# RFC 9051 2.3.1.2
    ("FETCH 99:* FLAGS", "BAD"),	# RFC 3501 6.4.8: * is 3, 3:99
    ("STORE 99 +FLAGS (\\Seen)", "BAD"),	# RFC 9051 2.3.1.2
    ("COPY 99 Existing", "BAD"),	# RFC 9051 2.3.1.2
    ("MOVE 99 Existing", "BAD"),	# RFC 9051 2.3.1.2
    ("FETCH 1", "BAD"),			# RFC 9051 6.4.5: missing items
    ("FETCH 1 (FLAGS", "BAD"),		# unbalanced parenthesis
    ("FETCH 1 FLAGS)", "BAD"),		# unbalanced parenthesis
    ("FETCH 1 BOGUS", "BAD"),		# RFC 9051 6.4.5
    ("FETCH 1 BODY.PEEK[1.2.3]", "OK"),	# RFC 9051 6.4.5: no such
    # part is empty, not an error
    ("FETCH 1 BODY.PEEK[0]", "BAD"),	# RFC 9051 9: nz-number
    ("FETCH 1 BODY.PEEK[1.MIME]", "OK"),	# RFC 9051 6.4.5
    ("FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (To)]", "OK"),	# 6.4.5
    ("FETCH 1 BODY.PEEK[]<4294967296>", "BAD"),	# RFC 9051 9: number
    ("FETCH 1 (ALL)", "BAD"),		# RFC 9051 9: macros stand alone
    ("FETCH 1 ALL", "OK"),		# RFC 9051 6.4.5: macro
    ("FETCH 1 FULL", "OK"),		# RFC 9051 6.4.5: macro
    ("FETCH 1 FAST", "OK"),		# RFC 9051 6.4.5: macro
    ("FETCH 1 RFC822.HEADER", "OK"),	# RFC 3501 6.4.5
    ("FETCH 1 BINARY[1]<0.5>", "OK"),	# RFC 3516 4.2
    ("FETCH 1 BINARY[HEADER]", "BAD"),	# RFC 3516 4.2: part numbers only
    ("FETCH $ FLAGS", "OK"),		# RFC 5182 2.1: empty saved set
    ("STORE 1 +FLAGS (\\Flagged)", "OK"),	# RFC 9051 6.4.6
    ("STORE 1 -FLAGS.SILENT (\\Flagged)", "OK"),	# RFC 9051 6.4.6
    ("STORE 1 +FLAGS \\Flagged", "OK"),	# RFC 9051 9: flag list or flags
    ("STORE 1 +FLAGS (kw1)", "OK"),	# RFC 9051 2.3.2: keyword
    ("STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Flagged)", "OK"),	# 7162
    ("STORE 1 BOGUS (\\Seen)", "BAD"),	# RFC 9051 6.4.6
    ("STORE 1 +FLAGS", "BAD"),		# RFC 9051 6.4.6: missing flags
    ("STORE 1 +FLAGS (\\Seen", "BAD"),	# unbalanced parenthesis
    ("STORE 0 +FLAGS (\\Seen)", "BAD"),	# RFC 9051 9
    ("COPY 1 Existing", r"OK \[COPYUID \d+ \d+ \d+\]"),	# RFC 4315 3
    ("COPY 1 NoSuchBox", r"NO \[TRYCREATE\]"),	# RFC 9051 6.4.7
    ("COPY 1", "BAD"),			# RFC 9051 6.4.7
    ("COPY 0 Existing", "BAD"),		# RFC 9051 9
    ("MOVE 1 NoSuchBox", r"NO \[TRYCREATE\]"),	# RFC 6851 3.3
    ("MOVE 1", "BAD"),			# RFC 6851 3.3
    ("UID FETCH 1:* FLAGS", "OK"),	# RFC 9051 6.4.9
    ("UID FETCH 999999 FLAGS", "OK"),	# RFC 9051 6.4.9: none, not error
    ("UID FETCH 0 FLAGS", "BAD"),	# RFC 9051 9: nz-number
    ("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)", WRONG),
    # RFC 7162 3.2.6: VANISHED needs ENABLE QRESYNC first
    ("UID SEARCH ALL", "OK"),		# RFC 9051 6.4.9
    ("UID SEARCH RETURN (COUNT) ALL", "OK"),	# RFC 4731
    ("UID STORE 999999 +FLAGS (\\Seen)", "OK"),	# RFC 9051 6.4.9
    ("UID COPY 999999 Existing", "OK|NO"),	# RFC 9051 6.4.9
    ("UID COPY 1:* NoSuchBox", r"NO \[TRYCREATE\]"),	# RFC 9051 6.4.7
    ("UID MOVE 999999 Existing", "OK|NO"),	# RFC 6851 3.3
    ("UID", "BAD"),			# RFC 9051 6.4.9
    ("UID BOGUS 1", "BAD"),		# RFC 9051 6.4.9
    ("UID CLOSE", "BAD"),		# RFC 9051 6.4.9
    ("SORT (DATE) UTF-8 ALL", "OK"),	# RFC 5256 3
    ("SORT (REVERSE ARRIVAL SUBJECT) US-ASCII ALL", "OK"),	# RFC 5256
    ("SORT (DISPLAYFROM) UTF-8 ALL", "OK"),	# RFC 5957 3
    ("SORT RETURN (MIN MAX) (DATE) UTF-8 ALL", "OK"),	# RFC 5267 3
    ("SORT (BOGUS) UTF-8 ALL", "BAD"),	# RFC 5256 3
    ("SORT () UTF-8 ALL", "BAD"),	# RFC 5256 4: 1*sort-key
    ("SORT (DATE) X-BOGUS ALL", r"NO \[BADCHARSET"),	# RFC 5256 3
    ("SORT (DATE) UTF-8", "BAD"),	# RFC 5256 4: search key needed
    ("SORT (DATE) UTF-8 99", "BAD"),	# RFC 9051 2.3.1.2: past EXISTS
    ("UID SORT (DATE) UTF-8 ALL", "OK"),	# RFC 5256 3
    ("THREAD REFERENCES UTF-8 ALL", "OK"),	# RFC 5256 3
    ("THREAD ORDEREDSUBJECT US-ASCII ALL", "OK"),	# RFC 5256 3
    ("UID THREAD REFERENCES UTF-8 ALL", "OK"),	# RFC 5256 3
    ("THREAD BOGUS UTF-8 ALL", WRONG),	# RFC 5256 3
    ("THREAD REFERENCES X-BOGUS ALL", r"NO \[BADCHARSET"),	# 5256 3
    ("GETQUOTAROOT INBOX", "OK"),	# RFC 9208 4.3
    ("ENABLE CONDSTORE", WRONG),	# RFC 5161 3.1: authenticated only
    ('LOGIN "a" "b"', WRONG),		# RFC 9051 6.2.3
    ("SELECT NoSuchBox", r"NO \[NONEXISTENT\]"),	# RFC 9051 6.3.2
    ("FOOBAR", "BAD"),			# RFC 9051 7.1.5
]

# EXAMINE: read-only (RFC 9051 6.3.3): nothing in the mailbox changes.
EXAMINED_ROWS = [
    ("STORE 1 +FLAGS (\\Flagged)", "NO"),	# RFC 9051 6.3.3
    ("UID STORE 1:* +FLAGS (\\Flagged)", "NO"),	# RFC 9051 6.3.3
    ("EXPUNGE", "NO"),			# RFC 9051 6.3.3
    ("UID EXPUNGE 1:*", "NO"),		# RFC 9051 6.3.3
    ("MOVE 1 Existing", "NO"),		# RFC 6851 3.3: needs expunge
    ("COPY 1 Existing", r"OK \[COPYUID"),	# the source is only read
    (b"APPEND INBOX " + lit(MSG), r"OK \[APPENDUID"),	# RFC 9051 6.3.12
    ("FETCH 1 (FLAGS BODY.PEEK[])", "OK"),	# RFC 9051 6.4.5
    ("SEARCH ALL", "OK"),		# RFC 9051 6.4.4
    ("SORT (DATE) UTF-8 ALL", "OK"),	# RFC 5256 3
    ("CLOSE", "OK"),			# RFC 9051 6.4.1: no expunge
    ("UNSELECT", "OK"),			# RFC 3691 2
    ("CHECK", "OK"),			# RFC 3501 6.4.1
]


def ids(rows):
    return ["%03d %s" % (i, (r[0] if isinstance(r[0], str) else
                            r[0].decode("latin-1"))[:50])
            for i, r in enumerate(rows)]


def run_row(sb, state, command, expect):
    c = in_state(sb, state)
    try:
        untagged, reply = c.cmd(command)
        assert re.match(r"(?:%s)(?![\w-])" % expect, reply), \
            "%r in %s: %r (untagged %r)" % (command, state, reply, untagged)
        if state == "nonauth" and not reply.startswith("OK"):
            # A refused command leaks nothing about the mailboxes.
            assert not any(u.startswith((b"* LIST", b"* STATUS",
                                         b"* NAMESPACE", b"* SEARCH",
                                         b"* FETCH", b"* QUOTA",
                                         b"* ENABLED"))
                           for u in untagged), untagged
        raw = command if isinstance(command, bytes) else command.encode()
        if not (raw.startswith(b"COMPRESS") and reply.startswith("OK")):
            c.alive()
    finally:
        c.s.close()


@pytest.mark.parametrize("command,expect", NONAUTH_ROWS,
                         ids=ids(NONAUTH_ROWS))
def test_nonauth(csb, command, expect):
    run_row(csb, "nonauth", command, expect)


@pytest.mark.parametrize("command,expect", AUTH_ROWS, ids=ids(AUTH_ROWS))
def test_authenticated(csb, command, expect):
    run_row(csb, "auth", command, expect)


@pytest.mark.parametrize("command,expect", SELECTED_ROWS,
                         ids=ids(SELECTED_ROWS))
def test_selected(csb, command, expect):
    run_row(csb, "selected", command, expect)


@pytest.mark.parametrize("command,expect", EXAMINED_ROWS,
                         ids=ids(EXAMINED_ROWS))
def test_examined(csb, command, expect):
    run_row(csb, "examined", command, expect)


# Extensions the issue asks for, and the rows above that exercise each.
EXTENSIONS = {
    "IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL+", "ID", "UNSELECT",
    "NAMESPACE", "UIDPLUS", "IDLE", "MOVE", "ENABLE", "CONDSTORE",
    "QRESYNC", "ESEARCH", "SEARCHRES", "QUOTA", "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
    "CREATE-SPECIAL-USE", "CHILDREN", "STATUS=SIZE", "MULTIAPPEND",
    "UTF8=ACCEPT", "SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES", "WITHIN", "ESORT", "COMPRESS=DEFLATE", "BINARY",
    "APPENDLIMIT", "AUTH=PLAIN",
}


def test_capabilities_covered(csb):
    """Each capability advertised after login has rows in this file, and
    the ones the issue names are all advertised (RFC 9051 7.2.2)."""
    c = in_state(csb, "auth")
    try:
        untagged = c.ok("CAPABILITY")
    finally:
        c.logout()
    caps = [ln for ln in untagged if ln.startswith(b"* CAPABILITY ")]
    assert len(caps) == 1, untagged
    advertised = set(caps[0].decode().split()[2:])
    names = {a.split("=")[0] + "=" if a.startswith("APPENDLIMIT") else a
             for a in advertised}
    names = {("APPENDLIMIT" if a == "APPENDLIMIT=" else a) for a in names}
    assert names - EXTENSIONS == set(), "untested: %s" % (
        names - EXTENSIONS)
    missing = EXTENSIONS - names - {"AUTH=PLAIN", "SASL-IR"}
    assert missing == set(), "not advertised: %s" % missing
    assert "APPENDLIMIT=%d" % LIMIT in advertised	# RFC 7889 3


# -------------------------------------------------- rows that need a dialog

def test_logout(csb):
    """RFC 9051 6.1.3: BYE, then the tagged OK, then the server closes;
    a command pipelined after LOGOUT gets no answer."""
    for state in ("nonauth", "auth", "selected"):
        c = in_state(csb, state)
        c.send(b"z1 LOGOUT\r\nz2 NOOP\r\n")
        untagged, reply = c.tagged("z1")
        assert reply.startswith("OK"), reply
        assert any(u.startswith(b"* BYE") for u in untagged), untagged
        assert c.readline() == b"", "answered after LOGOUT"
        c.s.close()


def test_idle(csb):
    """RFC 2177 3: "+" then DONE ends it with OK; another line during
    IDLE gets an untagged BAD and IDLE goes on until DONE."""
    for state in ("auth", "selected"):
        c = in_state(csb, state)
        c.send(b"i1 IDLE\r\n")
        assert c.readline().startswith(b"+ "), state
        c.send(b"DONE\r\n")
        assert c.tagged("i1")[1].startswith("OK")
        c.send(b"i2 IDLE\r\n")
        assert c.readline().startswith(b"+ ")
        c.send(b"NOT-DONE\r\n")
        # RFC 9051 6.3.13 names only DONE: a BAD, then still idling.
        assert c.readline().startswith(b"* BAD")
        c.send(b"DONE\r\n")
        assert c.tagged("i2")[1].startswith("OK")
        c.alive()
        c.logout()


def test_select_failure_deselects(csb):
    """RFC 9051 6.3.2: a failed SELECT leaves no mailbox selected."""
    c = in_state(csb, "selected")
    try:
        _, reply = c.cmd("SELECT NoSuchBox")
        assert reply.startswith("NO"), reply
        _, reply = c.cmd("FETCH 1 FLAGS")
        assert re.match("BAD|NO", reply), reply
    finally:
        c.logout()


def test_examine_does_not_set_seen(csb):
    """RFC 9051 6.4.5: BODY[] sets \\Seen, except on a read-only
    mailbox; CLOSE after EXAMINE expunges nothing (6.4.1)."""
    c = in_state(csb, "selected")
    c.ok("STORE 1 -FLAGS.SILENT (\\Seen)")
    c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    c.ok("UNSELECT")
    untagged = c.ok("EXAMINE INBOX")
    exists = [u for u in untagged if u.endswith(b" EXISTS\r\n")]
    c.ok("FETCH 1 BODY[]")
    untagged = c.ok("FETCH 1 FLAGS")
    assert b"\\Seen" not in b"".join(untagged), untagged
    c.ok("CLOSE")
    untagged = c.ok("EXAMINE INBOX")
    assert [u for u in untagged if u.endswith(b" EXISTS\r\n")] == exists
    c.ok("CLOSE")
    c.ok("SELECT INBOX")
    c.ok("STORE 2 -FLAGS.SILENT (\\Deleted)")
    c.logout()


def test_move_and_expunge(csb):
    """RFC 6851 3.3 MOVE, RFC 9051 6.4.3 EXPUNGE and 6.4.9 UID EXPUNGE on
    messages appended for the purpose."""
    c = in_state(csb, "auth")
    try:
        reply = c.append("INBOX", MSG)
        uid = re.search(r"APPENDUID \d+ (\d+)", reply).group(1)
        c.ok("SELECT INBOX")
        untagged, reply = c.cmd("UID MOVE %s Existing" % uid)
        assert reply.startswith("OK"), reply
        # RFC 6851 4.3: COPYUID comes untagged, before the EXPUNGE.
        assert any(u.startswith(b"* OK [COPYUID") for u in untagged)
        reply = c.append("INBOX", MSG)
        uid = re.search(r"APPENDUID \d+ (\d+)", reply).group(1)
        c.ok("NOOP")
        c.ok("UID STORE %s +FLAGS.SILENT (\\Deleted)" % uid)
        untagged = c.ok("UID EXPUNGE %s" % uid)
        assert any(u.endswith(b" EXPUNGE\r\n") for u in untagged), untagged
        c.ok("CREATE Scratch")
        c.ok("RENAME Scratch Scratch2")
        c.ok("DELETE Scratch2")
        _, reply = c.cmd("DELETE Scratch2")
        assert reply.startswith("NO [NONEXISTENT]"), reply
    finally:
        c.logout()


# ------------------------------------------------------ malformed input

@pytest.mark.parametrize("state", ["nonauth", "selected"])
@pytest.mark.parametrize("line", [
    b"a*b NOOP",		# RFC 9051 9: "*" is not a tag character
    b"+x NOOP",			# RFC 9051 9: tag excludes "+"
    b"a(b NOOP",		# atom-specials
    b'a"b NOOP',		# quoted-specials
    b"a]b NOOP",		# resp-specials are allowed in astring,
])
def test_bad_tag(csb, state, line):
    """RFC 9051 7.1.5: an untagged BAD when the tag cannot be told (or a
    tagged OK for a]b, a valid tag), and the session keeps going."""
    c = in_state(csb, state)
    try:
        c.send(line + b"\r\n")
        reply = c.readline()
        if line.startswith(b"a]b"):
            assert reply.startswith(b"a]b OK"), reply
        else:
            assert reply.startswith(b"* BAD"), reply
        c.alive()
    finally:
        c.logout()


# Lines the reader refuses before parsing: a BAD with the line's own
# tag (RFC 9051 7.1.5: untagged only when the tag cannot be told), and
# the session goes on.
REFUSED_LINES = [
    ("nonauth", b"NOOP \0x"),		# RFC 9051 4.3: no NUL in a line
    ("selected", b"NOOP \0x"),
    ("nonauth", b"NOOP " + b"x" * 9000),	# over 8 KB before login
    ("selected", b"NOOP " + b"x" * 70000),	# over 64 KB after
    ("auth", b"APPEND INBOX {99999999999}"),	# RFC 9051 9: number < 2^32
    ("auth", b"APPEND INBOX {12x}"),
    ("auth", b"APPEND INBOX {-1}"),
]


@pytest.mark.parametrize("state,line", REFUSED_LINES,
                         ids=["%s-%s" % (st, ln[:20].decode("latin-1"))
                              for st, ln in REFUSED_LINES])
def test_refused_line(csb, state, line):
    c = in_state(csb, state)
    try:
        c.send(b"r1 " + line + b"\r\n")
        _, reply = c.tagged("r1")
        assert reply.startswith("BAD"), reply
        c.alive()
    finally:
        c.logout()


def test_empty_line(csb):
    """An empty line is no command: BAD, not a crash (RFC 9051 9)."""
    c = in_state(csb, "selected")
    try:
        c.send(b"\r\n")
        assert c.readline().startswith(b"* BAD")
        c.alive()
    finally:
        c.logout()


def test_long_line_under_limit(csb):
    """An 8 KB+ line within the limit is an ordinary command."""
    c = in_state(csb, "selected")
    try:
        _, reply = c.cmd(b'SEARCH SUBJECT "' + b"y" * 9000 + b'"')
        assert reply.startswith("OK"), reply
    finally:
        c.logout()


def test_literal_over_limit_sync(csb):
    """RFC 7889 4 / RFC 9051 7.5: a synchronizing literal over
    APPENDLIMIT gets NO [TOOBIG] instead of "+", and no byte is read."""
    c = in_state(csb, "auth")
    try:
        c.send(b"s1 APPEND INBOX {%d}\r\n" % (LIMIT + 1))
        reply = c.readline()
        assert reply.startswith(b"s1 NO [TOOBIG]"), reply
        c.alive()
    finally:
        c.logout()


def test_literal_plus_over_limit(csb):
    """RFC 7888 4 / RFC 7889 4: a non-synchronizing literal over the
    limit is refused (NO [TOOBIG]); the bytes that follow are the
    literal's, never run as commands, and the session then goes on."""
    c = in_state(csb, "auth")
    try:
        inject = b"\r\nx1 DELETE Existing\r\n"
        body = (inject * ((LIMIT + 10) // len(inject) + 1))[:LIMIT + 10]
        c.send(b"p1 APPEND INBOX {%d+}\r\n" % len(body) + body +
               b"\r\np2 NOOP\r\n")
        untagged, reply = c.tagged("p1")
        assert reply.startswith("NO [TOOBIG]"), reply
        untagged, reply = c.tagged("p2")
        assert reply.startswith("OK"), reply
        assert not any(b"x1" in u for u in untagged)
        _, reply = c.cmd("STATUS Existing (MESSAGES)")
        assert reply.startswith("OK"), reply
    finally:
        c.logout()


def test_literal_over_limit_nonauth(csb):
    """Before login a literal over the login limit is refused: the
    synchronizing one with no "+", the non-synchronizing one's bytes
    eaten (never run), and the session goes on or ends with BYE."""
    c = in_state(csb, "nonauth")
    try:
        c.send(b"q1 LOGIN {5000}\r\n")
        reply = c.readline()
        assert re.match(rb"q1 (BAD|NO)", reply), reply
        body = (b"\r\nq9 CAPABILITY" * 400)[:5000]
        c.send(b"q2 LOGIN {5000+}\r\n" + body + b"\r\nq3 NOOP\r\n")
        lines = []
        while True:
            line = c.readline()
            lines.append(line)
            if not line or line.startswith(b"q3 "):
                break
        assert not any(ln.startswith(b"q9") for ln in lines), lines
        assert any(re.match(rb"q2 (BAD|NO)", ln) or
                   ln.startswith(b"* BYE") for ln in lines), lines
    finally:
        c.s.close()


def test_utf8_accept_append(csb):
    """RFC 6855 4: after ENABLE UTF8=ACCEPT, APPEND takes UTF8 (~{n});
    RFC 6855 3: SEARCH CHARSET is then not needed but still works."""
    c = in_state(csb, "auth")
    try:
        c.ok("ENABLE UTF8=ACCEPT")
        _, reply = c.cmd(b"APPEND INBOX UTF8 (~" + lit(MSG) + b")")
        assert reply.startswith("OK"), reply
    finally:
        c.logout()


def test_qresync_select(csb):
    """RFC 7162 3.2.5: SELECT with QRESYNC after ENABLE QRESYNC; without
    the ENABLE the parameter is refused (3.2.5: BAD)."""
    c = in_state(csb, "auth")
    try:
        untagged = c.ok("STATUS INBOX (UIDVALIDITY)")
        uv = re.search(rb"UIDVALIDITY (\d+)", b"".join(untagged)).group(1)
        _, reply = c.cmd(b"SELECT INBOX (QRESYNC (" + uv + b" 1))")
        assert reply.startswith("BAD"), reply
        c.ok("ENABLE QRESYNC")
        c.ok(b"SELECT INBOX (QRESYNC (" + uv + b" 1))")
        c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    finally:
        c.logout()


def test_compress_twice(csb):
    """RFC 4978 3: a second COMPRESS is NO [COMPRESSIONACTIVE]."""
    import zlib
    c = in_state(csb, "auth")
    try:
        c.ok("COMPRESS DEFLATE")
        comp = zlib.compressobj(wbits=-15)
        dec = zlib.decompressobj(wbits=-15)
        c.send(comp.compress(b"z1 COMPRESS DEFLATE\r\n") +
               comp.flush(zlib.Z_SYNC_FLUSH))
        out = b""
        while b"z1 " not in out:
            data = c.s.recv(4096)
            assert data, "closed"
            out += dec.decompress(data)
        assert re.search(rb"z1 NO \[COMPRESSIONACTIVE\]", out), out
    finally:
        c.s.close()


def test_authenticate_cancel(csb):
    """RFC 9051 6.2.2: "*" for the SASL response cancels AUTHENTICATE
    with a tagged BAD; the session can log in afterwards."""
    c = in_state(csb, "nonauth")
    try:
        c.send(b"a1 AUTHENTICATE PLAIN\r\n")
        assert c.readline().startswith(b"+")
        c.send(b"*\r\n")
        _, reply = c.tagged("a1")
        assert reply.startswith("BAD"), reply
        c.login()
        c.alive()
    finally:
        c.logout()


def test_starttls_twice(csb):
    """RFC 9051 6.2.1: STARTTLS once on the plain port; a second one,
    over TLS, is BAD and the session goes on; after login none."""
    raw = socket.create_connection(("127.0.0.1", csb.ports["imap"]),
                                   timeout=TIMEOUT)
    f = raw.makefile("rb")
    assert f.readline().startswith(b"* OK")
    raw.sendall(b"s1 STARTTLS\r\n")
    assert f.readline().startswith(b"s1 OK")
    c = Client.__new__(Client)
    c.sb, c.n = csb, 0
    c.s = tls_context().wrap_socket(raw)
    c.f = c.s.makefile("rb")
    try:
        _, reply = c.cmd("STARTTLS")
        assert reply.startswith("BAD"), reply
        c.login()
        _, reply = c.cmd("STARTTLS")
        assert reply.startswith("BAD"), reply
        c.alive()
    finally:
        c.logout()


def test_delete_rename_selected(csb):
    """RFC 9051 6.3.5/6.3.6: DELETE or RENAME of the selected mailbox is
    no crash: the session answers afterwards, and FETCH on what is gone
    is an error or nothing, never a dead connection."""
    c = in_state(csb, "auth")
    try:
        c.ok("CREATE Doomed")
        assert c.append("Doomed", MSG).startswith("OK")
        c.ok("SELECT Doomed")
        _, reply = c.cmd("RENAME Doomed Doomed2")
        assert re.match("OK|NO", reply), reply
        _, reply = c.cmd("FETCH 1 FLAGS")
        assert re.match("OK|NO|BAD", reply), reply
        c.cmd("SELECT Doomed2")
        _, reply = c.cmd("DELETE Doomed2")
        assert re.match("OK|NO", reply), reply
        _, reply = c.cmd("FETCH 1 FLAGS")
        assert re.match("OK|NO|BAD", reply), reply
        c.alive()
        _, reply = c.cmd("STATUS Doomed2 (MESSAGES)")
        assert reply.startswith("NO") or reply.startswith("OK"), reply
    finally:
        c.logout()
