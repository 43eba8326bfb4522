"""tsamba-imapd's IMAP4rev2 (RFC 9051) and UTF8=ACCEPT (RFC 6855), as
a client sees them, with raw commands on a TLS socket and imaplib:

- CAPABILITY says IMAP4rev1 IMAP4rev2 UTF8=ACCEPT before and after
  login; ENABLE lists IMAP4rev2 and UTF8=ACCEPT when it switches them on;
- a client that does not ENABLE IMAP4rev2 keeps rev1: RECENT and
  [UNSEEN] in SELECT, "* SEARCH", modified UTF-7 names;
- after ENABLE IMAP4rev2: SELECT has no RECENT and names the mailbox in
  a LIST, SEARCH is answered with ESEARCH, STATUS has no RECENT but
  SIZE and DELETED, LIST names are UTF-8 and a parent that only has
  children is \\NonExistent;
- a folder "Entwürfe.Ölfässer" made by a rev2 client is
  "Entw&APw-rfe.&ANY-lf&AOQ-sser" to a rev1 client (imaplib) and the
  directory a real Dovecot 2.3 makes for that name; both clients reach
  it by their own name;
- invalid UTF-8 in a name is BAD and the session goes on;
- UTF8=ACCEPT: APPEND UTF8 (~{n}) stores the message as sent (BAD
  before UTF8=ACCEPT or IMAP4rev2), no CHARSET in SEARCH, a UTF-8
  quoted string searches, ENVELOPE carries the UTF-8 header bytes."""

import imaplib
import os
import re

import pytest

from helpers import tls_context
from dovecot import ok, requires_dovecot as dovecot_marks
from test_dovecot_store import dovecot  # noqa: F401 (the fixture)
from test_imapd import raw_imaps, tagged

TIMEOUT = 15
FOLDER = "Entwürfe.Ölfässer"
FOLDER7 = "Entw&APw-rfe.&ANY-lf&AOQ-sser"


@pytest.fixture(scope="module")
def rsb(sandbox_factory):
    return sandbox_factory("rev2", imap=True)


class Raw:
    """One logged-in IMAP session; commands as bytes, replies as str."""

    def __init__(self, sb, enable=None):
        self.sock, self.f = raw_imaps(sb)
        self.n = 0
        self.ok("LOGIN %s %s" % (sb.demo_user, sb.password))
        if enable:
            self.ok("ENABLE " + enable)

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else
                          data.encode())

    def cmd(self, line, literal=None, lit8=False, tail=b""):
        """line (str or bytes) [+ a synchronizing literal and tail]."""
        self.n += 1
        tag = "c%d" % self.n
        head = (tag + " ").encode() + (line if isinstance(line, bytes)
                                       else line.encode())
        if literal is None:
            self.send(head + b"\r\n")
        else:
            sp = b"" if head.endswith(b"(") else b" "
            self.send(head + b"%s%s{%d}\r\n" % (sp, b"~" if lit8 else b"",
                                              len(literal)))
            cont = self.f.readline()
            if not cont.startswith(b"+"):
                # Refused before the literal: that line is the reply.
                return [], cont.decode(errors="replace").strip()[
                    len(tag) + 1:]
            self.send(literal + tail + b"\r\n")
        lines, status = tagged(self.f, tag)
        return ([x.decode("utf-8", errors="replace").rstrip("\r\n")
                 for x in lines], status[len(tag) + 1:])

    def ok(self, line, **kw):
        lines, status = self.cmd(line, **kw)
        assert status.startswith("OK"), (line, lines, status)
        return lines, status

    def fetch_raw(self, line):
        """The untagged bytes of a FETCH, literals and all."""
        self.n += 1
        tag = "c%d" % self.n
        self.send("%s %s\r\n" % (tag, line))
        raw = b""
        while True:
            x = self.f.readline()
            assert x, "connection closed"
            if x.startswith(tag.encode() + b" "):
                assert x.split()[1] == b"OK", x
                return raw
            raw += x

    def close(self):
        self.cmd("LOGOUT")
        self.sock.close()


def rev1_imaplib(sb):
    m = imaplib.IMAP4_SSL("127.0.0.1", sb.ports["imaps"],
                          ssl_context=tls_context(), timeout=TIMEOUT)
    m.login(sb.demo_user, sb.password)
    return m


def test_capabilities(rsb):
    s, f = raw_imaps(rsb)
    s.sendall(b"a CAPABILITY\r\n")
    lines, st = tagged(f, "a")
    caps = lines[0].decode().split()
    assert st.startswith("a OK")
    for c in ("IMAP4rev1", "IMAP4rev2", "UTF8=ACCEPT"):
        assert c in caps, caps
    s.close()
    c = Raw(rsb)
    caps = c.ok("CAPABILITY")[0][0].split()
    for x in ("IMAP4rev1", "IMAP4rev2", "UTF8=ACCEPT", "ENABLE"):
        assert x in caps, caps
    lines, _ = c.ok("ENABLE IMAP4rev2")
    assert lines == ["* ENABLED IMAP4rev2"], lines
    lines, _ = c.ok("ENABLE imap4rev2 utf8=accept")
    assert lines == ["* ENABLED UTF8=ACCEPT"], lines
    lines, _ = c.ok("ENABLE UTF8=ACCEPT IMAP4rev2")
    assert lines == ["* ENABLED"], lines
    c.close()


def fill_inbox(c):
    """Two messages in INBOX, the second \\Seen: their uids."""
    uids = []
    for flags in ("()", "(\\Seen)"):
        _, st = c.ok("APPEND INBOX %s" % flags,
                     literal=b"Subject: r\r\n\r\nbody\r\n")
        uids.append(int(re.search(r"APPENDUID \d+ (\d+)", st).group(1)))
    return uids


def test_rev1_keeps_rev1(rsb):
    c = Raw(rsb)
    fill_inbox(c)
    lines, _ = c.ok("SELECT INBOX")
    assert any(re.fullmatch(r"\* 0 RECENT", x) for x in lines), lines
    assert any("[UNSEEN " in x for x in lines), lines
    assert not any(x.startswith("* LIST") for x in lines), lines
    lines, _ = c.ok("SEARCH ALL")
    assert len(lines) == 1 and lines[0].startswith("* SEARCH "), lines
    lines, _ = c.ok("STATUS INBOX (MESSAGES RECENT)")
    assert re.search(r"RECENT 0", lines[0]), lines
    c.close()


def test_rev2_select_search_status(rsb):
    c = Raw(rsb, enable="IMAP4rev2")
    uids = fill_inbox(c)
    lines, _ = c.ok("SELECT INBOX")
    assert not any("RECENT" in x for x in lines), lines
    assert not any("[UNSEEN " in x for x in lines), lines
    assert '* LIST () "." "INBOX"' in lines, lines
    n = int(next(re.match(r"\* (\d+) EXISTS", x).group(1) for x in lines
                 if re.match(r"\* \d+ EXISTS", x)))
    lines, _ = c.ok("SEARCH ALL")
    assert lines == ['* ESEARCH (TAG "c%d") ALL %s' %
                     (c.n, "1" if n == 1 else "1:%d" % n)], lines
    lines, _ = c.ok("UID SEARCH SEEN")
    assert len(lines) == 1, lines
    assert lines[0].startswith('* ESEARCH (TAG "c%d") UID ALL ' % c.n)
    assert str(uids[1]) in lines[0].split("ALL ")[1], lines
    lines, _ = c.ok("SEARCH SUBJECT no-such-subject")
    assert lines == ['* ESEARCH (TAG "c%d")' % c.n], lines
    lines, _ = c.ok("STATUS INBOX (MESSAGES RECENT SIZE DELETED)")
    assert "RECENT" not in lines[0], lines
    assert re.search(r"SIZE [1-9]\d*", lines[0]), lines
    assert re.search(r"DELETED 0", lines[0]), lines
    # A second SELECT closes the first with [CLOSED].
    lines, _ = c.ok("EXAMINE INBOX")
    assert lines[0].startswith("* OK [CLOSED]"), lines
    c.close()


def test_utf8_folder_both_ways(rsb):
    c = Raw(rsb, enable="IMAP4rev2")
    c.ok(b'CREATE "' + FOLDER.encode() + b'"')
    # On disk: Dovecot's Maildir++ directory, modified UTF-7.
    home = rsb.maildir(rsb.demo_user)
    assert os.path.isdir(os.path.join(home, "." + FOLDER7)), \
        os.listdir(home)
    lines, _ = c.ok('LIST "" "Entw*"')
    assert '* LIST (\\NonExistent \\HasChildren) "." "Entwürfe"' in \
        lines, lines
    assert '* LIST (\\HasNoChildren) "." "%s"' % FOLDER in lines, lines
    # The pattern is UTF-8 too, "%" stops at the separator.
    lines, _ = c.ok(b'LIST "" "Entw\xc3\xbcrfe.%"')
    assert lines == ['* LIST (\\HasNoChildren) "." "%s"' % FOLDER], lines
    _, st = c.ok(b'APPEND "' + FOLDER.encode() + b'" ()',
                 literal=b"Subject: x\r\n\r\ny\r\n")
    assert "APPENDUID" in st
    lines, _ = c.ok(b'STATUS "' + FOLDER.encode() + b'" (MESSAGES)')
    assert lines == ['* STATUS "%s" (MESSAGES 1)' % FOLDER], lines
    lines, _ = c.ok(b'SELECT "' + FOLDER.encode() + b'"')
    assert '* LIST () "." "%s"' % FOLDER in lines, lines
    # COPY and MOVE take UTF-8 names as their target too.
    _, st = c.ok(b'COPY 1 "' + FOLDER.encode() + b'"')
    assert "COPYUID" in st, st
    c.ok(b'CREATE "Z\xc3\xbcrich"')
    lines, _ = c.ok("NOOP")
    assert "* 2 EXISTS" in lines, lines
    lines, _ = c.ok(b'MOVE 2 "Z\xc3\xbcrich"')
    assert any("COPYUID" in x for x in lines), lines
    lines, _ = c.ok(b'STATUS "Z\xc3\xbcrich" (MESSAGES)')
    assert lines == ['* STATUS "Zürich" (MESSAGES 1)'], lines
    # The rev2 name in modified UTF-7 is another name ("&" is "&-").
    lines, st = c.cmd('STATUS "%s" (MESSAGES)' % FOLDER7)
    assert st.startswith("NO [NONEXISTENT]"), (lines, st)

    # A rev1 client sees modified UTF-7, and \Noselect for the parent.
    m = rev1_imaplib(rsb)
    typ, data = m.list('""', "Entw*")
    assert typ == "OK"
    got = [x.decode() for x in data]
    assert '(\\Noselect \\HasChildren) "." Entw&APw-rfe' in got or \
        '(\\Noselect \\HasChildren) "." "Entw&APw-rfe"' in got, got
    assert any(x.endswith(FOLDER7) or x.endswith('"%s"' % FOLDER7)
               for x in got), got
    typ, data = m.select('"%s"' % FOLDER7)
    assert typ == "OK" and data == [b"1"], (typ, data)
    m.logout()

    # RENAME between UTF-8 names, seen by both.
    c.ok("CLOSE")
    c.ok(b'RENAME "' + FOLDER.encode() + b'" "Entw\xc3\xbcrfe.Gr\xc3\xbc'
         b'n"')
    assert os.path.isdir(os.path.join(home, ".Entw&APw-rfe.Gr&APw-n"))
    lines, _ = c.ok('LIST "" "*"')
    assert '* LIST (\\HasNoChildren) "." "Entwürfe.Grün"' in lines, lines
    c.ok(b'SUBSCRIBE "Entw\xc3\xbcrfe.Gr\xc3\xbcn"')
    lines, _ = c.ok('LSUB "" "*"')
    assert any(x.endswith('"Entwürfe.Grün"') for x in lines), lines
    c.ok(b'UNSUBSCRIBE "Entw\xc3\xbcrfe.Gr\xc3\xbcn"')
    lines, _ = c.ok('LSUB "" "*"')
    assert not any("Grün" in x for x in lines), lines
    c.ok(b'DELETE "Entw\xc3\xbcrfe.Gr\xc3\xbcn"')
    assert not os.path.exists(os.path.join(home, ".Entw&APw-rfe.Gr&APw-n"))
    # An "&" of a UTF-8 name is stored as Dovecot does, "&-".
    c.ok('CREATE "R&D"')
    assert os.path.isdir(os.path.join(home, ".R&-D"))
    lines, _ = c.ok('LIST "" "R*"')
    assert lines == ['* LIST (\\HasNoChildren) "." "R&D"'], lines
    c.close()
    c = Raw(rsb)
    lines, _ = c.ok('LIST "" "R*"')
    assert lines == ['* LIST (\\HasNoChildren) "." "R&-D"'], lines
    c.close()


@pytest.mark.parametrize("enable", ["IMAP4rev2", "UTF8=ACCEPT"])
def test_invalid_utf8_refused(rsb, enable):
    c = Raw(rsb, enable=enable)
    c.ok("SELECT INBOX")
    for cmd in (b'CREATE "bad\xff\xfe"', b'SELECT "x\xc3"',
                b'STATUS "\xc0\xaf" (MESSAGES)',
                b'RENAME INBOX "a\xed\xa0\x80"'):
        lines, st = c.cmd(cmd)
        assert st.startswith("BAD"), (cmd, lines, st)
    # A BAD SELECT closed nothing: INBOX is still selected.
    c.ok("SEARCH ALL")
    # Control characters and U+2028 are valid UTF-8 but no mailbox name
    # (RFC 9051 5.1).
    for cmd in (b'CREATE "a\x01b"', b'CREATE "a\xc2\x85b"',
                b'CREATE "a\xe2\x80\xa8b"'):
        lines, st = c.cmd(cmd)
        assert st.startswith("NO"), (cmd, lines, st)
    c.ok("NOOP")
    c.close()


def test_utf8_accept_append_search(rsb):
    msg = ("From: Jörg <jörg@example.org>\r\nSubject: Grüße aus Köln\r\n"
           "\r\nHallo\r\n").encode()
    c = Raw(rsb)
    # Before ENABLE UTF8=ACCEPT the UTF8 form is refused.
    lines, st = c.cmd(b"APPEND INBOX UTF8 (", literal=msg, lit8=True,
                      tail=b")")
    assert st.startswith("BAD"), (lines, st)
    c.ok("NOOP")
    c.close()
    # IMAP4rev2 holds all of UTF8=ACCEPT (RFC 9755): the form is taken,
    # and CHARSET stays allowed.
    c = Raw(rsb, enable="IMAP4rev2")
    _, st = c.ok(b"APPEND INBOX UTF8 (", literal=msg, lit8=True, tail=b")")
    assert "APPENDUID" in st, st
    c.ok("SELECT INBOX")
    c.ok('SEARCH CHARSET UTF-8 SUBJECT "x"')
    c.close()

    c = Raw(rsb, enable="UTF8=ACCEPT")
    _, st = c.ok(b"APPEND INBOX UTF8 (", literal=msg, lit8=True,
                 tail=b")")
    uid = int(re.search(r"APPENDUID \d+ (\d+)", st).group(1))
    c.ok("SELECT INBOX")
    # Stored as sent: the header field and the ENVELOPE carry the
    # UTF-8 bytes unchanged.
    raw = c.fetch_raw("UID FETCH %d (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"
                      % uid)
    assert "Subject: Grüße aus Köln".encode() in raw, raw
    raw = c.fetch_raw("UID FETCH %d (ENVELOPE)" % uid)
    assert "Grüße aus Köln".encode() in raw, raw
    assert "jörg".encode() in raw, raw
    # SEARCH with a UTF-8 quoted string; CHARSET is refused (6855 3).
    lines, _ = c.ok(b'UID SEARCH SUBJECT "Gr\xc3\xbc\xc3\x9fe"')
    assert lines[0].startswith("* SEARCH") and str(uid) in \
        lines[0].split(), lines
    lines, st = c.cmd('SEARCH CHARSET UTF-8 SUBJECT "x"')
    assert st.startswith("BAD"), (lines, st)
    # UTF8=ACCEPT alone gives UTF-8 names, not rev2's other replies.
    c.ok(b'CREATE "\xc3\x9cbung"')
    lines, _ = c.ok('LIST "" "*bung"')
    assert lines == ['* LIST (\\HasNoChildren) "." "Übung"'], lines
    assert os.path.isdir(os.path.join(rsb.maildir(rsb.demo_user),
                                      ".&ANw-bung"))
    lines, _ = c.ok("SELECT INBOX")
    assert any(re.fullmatch(r"\* 0 RECENT", x) for x in lines), lines
    c.close()


@pytest.mark.root
@dovecot_marks[0]
@dovecot_marks[1]
def test_dovecot_makes_the_same_directory(dovecot):  # noqa: F811
    """Dovecot, told the folder's name (in modified UTF-7: Debian's
    Dovecot 2.3 has no UTF8=ACCEPT), lays it out as tsamba does."""
    m = dovecot.imap()
    ok(m.create('"%s"' % FOLDER7))
    m.logout()
    assert os.path.isdir(os.path.join(dovecot.maildir, "." + FOLDER7)), \
        os.listdir(dovecot.maildir)


def test_list_extended_and_quota_root_speak_utf8(rsb):
    """LIST-EXTENDED, LIST-STATUS and GETQUOTAROOT (another file's
    commands) take and give the names as the session writes them."""
    c = Raw(rsb, enable="IMAP4rev2")
    c.ok(b'CREATE "K\xc3\xb6ln"')
    lines, _ = c.ok(b'LIST (SUBSCRIBED) "" "K*" RETURN (CHILDREN)')
    assert lines == [], lines
    c.ok(b'SUBSCRIBE "K\xc3\xb6ln"')
    lines, _ = c.ok(b'LIST (SUBSCRIBED) "" "K\xc3\xb6*" RETURN '
                    b'(CHILDREN STATUS (MESSAGES))')
    assert lines == ['* LIST (\\Subscribed \\HasNoChildren) "." "Köln"',
                     '* STATUS "Köln" (MESSAGES 0)'], lines
    lines, st = c.cmd(b'GETQUOTAROOT "K\xc3\xb6ln"')
    assert st.startswith("OK"), (lines, st)
    assert lines and lines[0].startswith('* QUOTAROOT "Köln"'), lines
    # The rev1 name of the same folder is modified UTF-7.
    m = rev1_imaplib(rsb)
    typ, data = m.list('""', "K*")
    assert typ == "OK" and data[0].endswith(b'"K&APY-ln"'), data
    m.logout()
