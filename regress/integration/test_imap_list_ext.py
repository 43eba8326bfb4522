"""tsamba-imapd mailbox listing extensions (issue 8): LIST-EXTENDED
(RFC 5258) with its selection options (SUBSCRIBED, REMOTE,
RECURSIVEMATCH, SPECIAL-USE) and return options (SUBSCRIBED, CHILDREN,
SPECIAL-USE, STATUS: LIST-STATUS, RFC 5819), several patterns,
\\NonExistent, \\Subscribed and CHILDINFO; CREATE-SPECIAL-USE (RFC 6154)
with the per-user tsamba-special-use file for names that do not carry
the use; MULTIAPPEND, STATUS=SIZE and every capability this advertises.
The clients are imaplib and a raw TLS socket where the order of the
untagged lines matters."""

import imaplib
import os
import re

import pytest

from helpers import imaps_lines, tls_context

TIMEOUT = 15

FOLDERS = ("Sent", "Drafts", "Trash", "Fruit", "Fruit.Apple",
           "Fruit.Banana", "Tofu.Blah", "Junk")
# INBOX is subscribed only when a client subscribed it (as in Dovecot).
SUBSCRIBED = ("INBOX", "Fruit.Banana", "Tofu.Blah", "Gone")


@pytest.fixture(scope="module")
def lsb(sandbox_factory):
    sb = sandbox_factory("imaplist", imap=True,
                         limits={"sessions-per-ip": 300})
    m = imaps(sb)
    for f in FOLDERS:
        typ, data = m.create(f)
        assert typ == "OK", (f, data)
    for f in SUBSCRIBED:
        typ, data = m.subscribe(f)
        assert typ == "OK", (f, data)
    m.logout()
    return sb


def imaps(sb):
    m = imaplib.IMAP4_SSL("127.0.0.1", sb.ports["imaps"],
                          ssl_context=tls_context(), timeout=TIMEOUT)
    m.login(sb.demo_user, sb.password)
    return m


@pytest.fixture
def raw(lsb):
    r = imaps_lines(lsb, TIMEOUT)
    yield r
    r.close()


LIST_RE = re.compile(r'^\* LIST \(([^)]*)\) "\." "?([^"]*)"?(?: (.*))?$')


def listing(lines):
    """{name: (set of attributes, extended data or None)}"""
    out = {}
    for line in lines:
        m = LIST_RE.match(line)
        assert m, line
        out[m.group(2)] = (set(m.group(1).split()), m.group(3))
    return out


def test_capabilities_advertised(lsb):
    m = imaps(lsb)
    caps = m.capability()[1][0].decode().split()
    for c in ("LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
              "CREATE-SPECIAL-USE", "CHILDREN", "STATUS=SIZE",
              "MULTIAPPEND", "QUOTA", "QUOTA=RES-STORAGE"):
        assert c in caps, (c, caps)
    m.logout()


def test_base_list_unchanged(raw):
    """Without extended syntax a parent-only level is \\Noselect."""
    lines, t = raw.cmd('LIST "" "*"')
    assert t.startswith("OK"), t
    got = listing(lines)
    assert got["Tofu"][0] == {"\\Noselect", "\\HasChildren"}, got
    assert "\\Sent" in got["Sent"][0]
    assert "Gone" not in got


def test_select_subscribed(raw):
    lines, t = raw.cmd('LIST (SUBSCRIBED) "" "*"')
    assert t.startswith("OK"), t
    got = listing(lines)
    assert set(got) == {"INBOX", "Fruit.Banana", "Tofu.Blah", "Gone"}, got
    assert "\\Subscribed" in got["Fruit.Banana"][0]
    assert {"\\Subscribed", "\\NonExistent"} <= got["Gone"][0], got
    assert "\\NonExistent" not in got["Tofu.Blah"][0]


def test_select_subscribed_remote(raw):
    """REMOTE adds nothing: every mailbox is local."""
    a, t = raw.cmd('LIST (SUBSCRIBED REMOTE) "" "*"')
    assert t.startswith("OK"), t
    b, _ = raw.cmd('LIST (SUBSCRIBED) "" "*"')
    assert sorted(a) == sorted(b)


def test_recursivematch_childinfo(raw):
    lines, t = raw.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" '
                       'RETURN (CHILDREN)')
    assert t.startswith("OK"), t
    got = listing(lines)
    assert set(got) == {"INBOX", "Fruit", "Tofu", "Gone"}, got
    assert got["Fruit"][1] == '("CHILDINFO" ("SUBSCRIBED"))', got
    assert "\\Subscribed" not in got["Fruit"][0]
    assert "\\HasChildren" in got["Fruit"][0]
    assert got["Tofu"][1] == '("CHILDINFO" ("SUBSCRIBED"))', got
    assert "\\NonExistent" in got["Tofu"][0]
    assert got["Gone"][1] is None
    # With "*" the children match themselves: no CHILDINFO.
    lines, t = raw.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"')
    got = listing(lines)
    assert "Fruit" not in got and got["Fruit.Banana"][1] is None, got


def test_multiple_patterns(raw):
    lines, t = raw.cmd('LIST "" ("INBOX" "Fruit*")')
    assert t.startswith("OK"), t
    assert list(listing(lines)) == ["INBOX", "Fruit", "Fruit.Apple",
                                    "Fruit.Banana"], lines
    lines, t = raw.cmd('LIST "" ("inbox" "Tofu")')
    got = listing(lines)
    assert set(got) == {"INBOX", "Tofu"}, got
    assert "\\NonExistent" in got["Tofu"][0]


def test_select_special_use(raw):
    lines, t = raw.cmd('LIST (SPECIAL-USE) "" "*"')
    assert t.startswith("OK"), t
    got = listing(lines)
    assert set(got) >= {"Sent", "Drafts", "Trash", "Junk"}, got
    assert "Fruit" not in got and "INBOX" not in got
    for name in ("Sent", "Drafts", "Trash", "Junk"):
        assert "\\" + name in got[name][0], got
    lines, _ = raw.cmd('LIST "" "*" RETURN (SPECIAL-USE)')
    assert "\\Drafts" in listing(lines)["Drafts"][0]


def test_return_subscribed_children(raw):
    lines, t = raw.cmd('LIST "" "*" RETURN (SUBSCRIBED CHILDREN)')
    assert t.startswith("OK"), t
    got = listing(lines)
    assert "\\Subscribed" in got["Fruit.Banana"][0]
    assert "\\Subscribed" not in got["Fruit.Apple"][0]
    assert "\\HasChildren" in got["Fruit"][0]
    assert "\\HasNoChildren" in got["Fruit.Apple"][0]
    assert "Gone" not in got
    # Not asked for: no CHILDREN or special-use attributes (as Dovecot).
    lines, _ = raw.cmd('LIST "" ("Fruit" "Sent")')
    got = listing(lines)
    assert got["Fruit"][0] == set() and got["Sent"][0] == set(), got


def test_list_status(raw):
    """RFC 5819: each selectable mailbox's STATUS right after its LIST,
    none for a name that is not a mailbox."""
    lines, t = raw.cmd('LIST "" "%" RETURN (STATUS (MESSAGES UIDNEXT '
                       'SIZE))')
    assert t.startswith("OK"), t
    seen = []
    for i, line in enumerate(lines):
        m = LIST_RE.match(line)
        if not m:
            continue
        name = m.group(2)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if name == "Tofu":
            assert not nxt.startswith("* STATUS"), lines
            continue
        st = re.match(r'^\* STATUS "?([^"]*)"? \(MESSAGES (\d+) '
                      r'UIDNEXT (\d+) SIZE (\d+)\)$', nxt)
        assert st and st.group(1) == name, (name, nxt)
        seen.append(name)
    assert {"INBOX", "Sent", "Fruit"} <= set(seen), lines


def test_bad_options(raw):
    for c in ('LIST (BOGUS) "" "*"',
              'LIST (RECURSIVEMATCH) "" "*"',
              'LIST "" "*" RETURN (BOGUS)',
              'LIST "" "*" RETURN (STATUS (NOSUCH))',
              'LIST "" ("INBOX"'):
        lines, t = raw.cmd(c)
        assert t.startswith("BAD"), (c, t)
    lines, t = raw.cmd("NOOP")
    assert t.startswith("OK"), t


def test_lsub_kept(raw):
    lines, t = raw.cmd('LSUB "" "*"')
    assert t.startswith("OK"), t
    names = {re.match(r'^\* LSUB \([^)]*\) "\." "?([^"]*)"?$', x).group(1)
             for x in lines}
    # From the subscriptions file alone, as Dovecot answers: INBOX
    # only when subscribed, a subscription whose folder is gone kept.
    assert {"INBOX", "Fruit.Banana", "Tofu.Blah", "Gone"} <= names, names
    assert "Fruit.Apple" not in names


def test_create_special_use(lsb, raw):
    path = os.path.join(lsb.maildir(lsb.demo_user), "tsamba-special-use")
    _, t = raw.cmd('CREATE "Gesendet" (USE (\\Sent))')
    assert t.startswith("OK"), t
    with open(path) as f:
        assert "\\Sent Gesendet\n" in f.read()
    lines, _ = raw.cmd('LIST (SPECIAL-USE) "" "*"')
    assert "\\Sent" in listing(lines)["Gesendet"][0], lines
    # The name already says it: nothing more to keep.
    _, t = raw.cmd('CREATE "Archive" (USE (\\Archive))')
    assert t.startswith("OK"), t
    with open(path) as f:
        assert "Archive" not in f.read()
    # RENAME carries the use, DELETE drops it.
    _, t = raw.cmd('RENAME "Gesendet" "Outbox"')
    assert t.startswith("OK"), t
    lines, _ = raw.cmd('LIST "" "Outbox"')
    assert "\\Sent" in listing(lines)["Outbox"][0], lines
    _, t = raw.cmd('DELETE "Outbox"')
    assert t.startswith("OK"), t
    with open(path) as f:
        assert "Outbox" not in f.read() and "Gesendet" not in f.read()
    _, t = raw.cmd('CREATE "Outbox"')
    lines, _ = raw.cmd('LIST "" "Outbox"')
    assert "\\Sent" not in listing(lines)["Outbox"][0], lines
    # A parent's RENAME moves its children's uses, its DELETE does not
    # touch them.
    _, t = raw.cmd('CREATE "Box.Out" (USE (\\Sent \\Drafts))')
    assert t.startswith("OK"), t
    _, t = raw.cmd('RENAME "Box" "Crate"')
    assert t.startswith("OK"), t
    lines, _ = raw.cmd('LIST "" "Crate.Out"')
    assert {"\\Sent", "\\Drafts"} <= listing(lines)["Crate.Out"][0], lines
    raw.cmd('CREATE "Crate"')
    _, t = raw.cmd('DELETE "Crate"')
    assert t.startswith("OK"), t
    lines, _ = raw.cmd('LIST "" "Crate.Out"')
    assert "\\Sent" in listing(lines)["Crate.Out"][0], lines


def test_create_useattr_refused(lsb, raw):
    for attr in ("\\All", "\\Flagged", "\\Bogus"):
        _, t = raw.cmd('CREATE "Virtual" (USE (%s))' % attr)
        assert t.startswith("NO [USEATTR]"), (attr, t)
    lines, _ = raw.cmd('LIST "" "Virtual"')
    assert lines == [], lines
    _, t = raw.cmd('CREATE "Virtual" (FOO (\\Sent))')
    assert t.startswith("BAD"), t


def test_multiappend_status_size(lsb, raw):
    _, t = raw.cmd("CREATE Multi")
    assert t.startswith("OK"), t
    msgs = [b"Subject: one\r\n\r\nfirst\r\n",
            b"Subject: two\r\n\r\nthe second one\r\n",
            b"Subject: three\r\n\r\n3\r\n"]
    tag = raw.tag()
    raw.s.sendall(("%s APPEND Multi (\\Seen) {%d}\r\n" %
                   (tag, len(msgs[0]))).encode())
    assert raw.f.readline().startswith(b"+")
    for i, msg in enumerate(msgs):
        raw.s.sendall(msg)
        if i + 1 < len(msgs):
            raw.s.sendall((" {%d}\r\n" % len(msgs[i + 1])).encode())
            assert raw.f.readline().startswith(b"+")
    raw.s.sendall(b"\r\n")
    _, t = raw.tagged(tag)
    assert re.match(r"^OK \[APPENDUID \d+ 1:3\]", t), t
    lines, t = raw.cmd("STATUS Multi (MESSAGES UNSEEN SIZE)")
    assert t.startswith("OK"), t
    # SIZE is the sum of the RFC822.SIZEs, CRLF counted.
    assert lines == ['* STATUS "Multi" (MESSAGES 3 UNSEEN 2 SIZE %d)' %
                     sum(len(m) for m in msgs)], lines
    # STATUS DELETED and DELETED-STORAGE (RFC 9208 4.2, KiB).
    raw.cmd("SELECT Multi")
    _, t = raw.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
    assert t.startswith("OK"), t
    raw.cmd("UNSELECT")
    lines, t = raw.cmd("STATUS Multi (DELETED DELETED-STORAGE)")
    assert lines == ['* STATUS "Multi" (DELETED 1 DELETED-STORAGE 1)'], \
        lines


def test_multiappend_all_or_nothing(lsb, raw):
    """RFC 3502: a bad second message leaves the first unstored."""
    raw.cmd("CREATE Atomic")
    one = b"Subject: one\r\n\r\nfirst\r\n"
    two = b"Subject: two\r\n\r\nsecond\r\n"
    tag = raw.tag()
    raw.s.sendall(("%s APPEND Atomic {%d+}\r\n" % (tag, len(one))).encode()
                  + one + (" (\\Bogus) {%d+}\r\n" % len(two)).encode()
                  + two + b"\r\n")
    _, t = raw.tagged(tag)
    assert t.startswith("BAD"), t
    lines, _ = raw.cmd("STATUS Atomic (MESSAGES)")
    assert lines == ['* STATUS "Atomic" (MESSAGES 0)'], lines
