"""tsamba-imapd's ENABLE, CONDSTORE and QRESYNC (RFC 5161, RFC 7162),
raw commands on a TLS socket, replies checked as a client reads them:

- ENABLE lists what it newly switched on, ignores names it does not
  know, and QRESYNC brings CONDSTORE with it;
- HIGHESTMODSEQ in SELECT and STATUS, MODSEQ in FETCH, FETCH
  (CHANGEDSINCE), STORE (UNCHANGEDSINCE) with [MODIFIED], SEARCH
  MODSEQ; flag changes by another session and by a rename of the
  Maildir file bump the modseq; a restart of imapd does not take
  HIGHESTMODSEQ back."""

import os
import re

import pytest

from sandbox import wait_for
from test_imapd import raw_imaps, tagged

TIMEOUT = 15


@pytest.fixture(scope="module")
def csb(sandbox_factory):
    return sandbox_factory("condstore", imap=True)


class Raw:
    """One logged-in IMAP session, command by command."""

    def __init__(self, sb):
        self.sock, self.f = raw_imaps(sb)
        self.n = 0
        ok = self.cmd("LOGIN %s %s" % (sb.demo_user, sb.password))
        assert ok[1].startswith("OK"), ok

    def cmd(self, line, literal=None):
        self.n += 1
        tag = "c%d" % self.n
        if literal is None:
            self.sock.sendall(("%s %s\r\n" % (tag, line)).encode())
        else:
            self.sock.sendall(("%s %s {%d+}\r\n" % (tag, line,
                               len(literal))).encode() + literal +
                              b"\r\n")
        lines, status = tagged(self.f, tag)
        return [x.decode(errors="replace").rstrip("\r\n")
                for x in lines], status[len(tag) + 1:]

    def ok(self, line, literal=None):
        lines, status = self.cmd(line, literal)
        assert status.startswith("OK"), (line, lines, status)
        return lines, status

    def close(self):
        self.cmd("LOGOUT")
        self.sock.close()


def test_enable(csb):
    c = Raw(csb)
    caps = c.ok("CAPABILITY")[0][0].split()
    assert "ENABLE" in caps
    # Unknown names are ignored (RFC 5161 3.1), not an error.
    lines, _ = c.ok("ENABLE X-NO-SUCH-THING")
    assert lines == ["* ENABLED"], lines
    # Before CONDSTORE is on: STORE's FETCH has FLAGS only.
    c.ok("APPEND INBOX ()", b"Subject: e\r\n\r\nx\r\n")
    c.ok("SELECT INBOX")
    lines, _ = c.ok("STORE 1 FLAGS (\\Draft)")
    assert lines == ["* 1 FETCH (FLAGS (\\Draft))"], lines
    c.ok("UNSELECT")	# RFC 5161 3.1: ENABLE with nothing selected
    lines, _ = c.ok("ENABLE condstore X-OTHER")
    assert lines == ["* ENABLED CONDSTORE"], lines
    # Already on: not listed again.
    lines, _ = c.ok("ENABLE CONDSTORE")
    assert lines == ["* ENABLED"], lines
    # Enabled: a FETCH with FLAGS caused by a STORE carries MODSEQ.
    c.ok("SELECT INBOX")
    c.ok("APPEND INBOX ()", b"Subject: e\r\n\r\nx\r\n")
    lines, _ = c.ok("STORE 1 +FLAGS (\\Answered)")
    assert re.search(r"MODSEQ \(\d+\)", lines[-1]), lines
    c.close()


def modseq_of(lines, uid):
    """The MODSEQ of uid in untagged FETCH lines, or None."""
    for x in lines:
        if re.search(r"\bUID %d\b" % uid, x):
            m = re.search(r"MODSEQ \((\d+)\)", x)
            if m:
                return int(m.group(1))
    return None


def highest(lines):
    for x in lines:
        m = re.search(r"\[HIGHESTMODSEQ (\d+)\]", x)
        if m:
            return int(m.group(1))
    raise AssertionError("no HIGHESTMODSEQ in %r" % lines)


def append(c, box="INBOX"):
    _, st = c.ok("APPEND %s ()" % box, b"Subject: modseq\r\n\r\nbody\r\n")
    return int(re.search(r"APPENDUID \d+ (\d+)", st).group(1))


def file_of(sb, uid):
    """The path of uid's file in the demo user's INBOX."""
    base = sb.maildir(sb.demo_user)
    with open(base + "/dovecot-uidlist") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields and fields[0] == str(uid):
                name = line.split(":", 1)[1].strip()
                for sub in ("cur", "new"):
                    for n in os.listdir(base + "/" + sub):
                        if n.split(":")[0] == name.split(":")[0]:
                            return base + "/" + sub + "/" + n
    raise AssertionError("uid %d not in the uidlist" % uid)


def test_condstore(csb):
    c = Raw(csb)
    assert "CONDSTORE" in c.ok("CAPABILITY")[0][0].split()
    uid = append(c)
    lines, st = c.ok("SELECT INBOX")
    h0 = highest(lines)
    # MODSEQ when asked; not in plain FETCHes before CONDSTORE is on.
    lines, _ = c.ok("UID FETCH %d (FLAGS)" % uid)
    assert "MODSEQ" not in lines[0], lines
    lines, _ = c.ok("UID FETCH %d (MODSEQ)" % uid)
    m1 = modseq_of(lines, uid)
    assert m1 is not None and m1 <= h0, lines
    lines, _ = c.ok("UID STORE %d +FLAGS (\\Flagged)" % uid)
    m2 = modseq_of(lines, uid)
    assert m2 is not None and m2 > m1, lines
    assert "\\Flagged" in lines[0], lines
    # CHANGEDSINCE: only what changed after the given modseq.
    lines, _ = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % (m2 - 1))
    assert modseq_of(lines, uid) == m2, lines
    lines, _ = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % m2)
    assert lines == [], lines
    # UNCHANGEDSINCE older than the message's modseq: not stored.
    lines, st = c.ok("UID STORE %d (UNCHANGEDSINCE %d) +FLAGS (\\Seen)"
                     % (uid, m1))
    assert st.startswith("OK [MODIFIED %d]" % uid), st
    lines, _ = c.ok("UID FETCH %d (FLAGS)" % uid)
    assert "\\Seen" not in lines[0], lines
    lines, st = c.ok("UID STORE %d (UNCHANGEDSINCE %d) +FLAGS (\\Seen)"
                     % (uid, m2))
    assert "MODIFIED" not in st and "\\Seen" in lines[0], (lines, st)
    m3 = modseq_of(lines, uid)
    assert m3 > m2, lines
    # SEARCH MODSEQ: the matches and their highest modseq.
    lines, _ = c.ok("UID SEARCH MODSEQ %d" % m3)
    assert lines == ["* SEARCH %d (MODSEQ %d)" % (uid, m3)], lines
    lines, _ = c.ok("UID SEARCH MODSEQ %d" % (m3 + 1))
    assert lines == ["* SEARCH"], lines
    lines, _ = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
    assert re.search(r"HIGHESTMODSEQ (\d+)", lines[0]), lines
    assert int(re.search(r"HIGHESTMODSEQ (\d+)", lines[0]).group(1)) >= m3

    # Another session's STORE: a new modseq this one is told about.
    d = Raw(csb)
    d.ok("SELECT INBOX")
    d.ok("UID STORE %d -FLAGS.SILENT (\\Flagged)" % uid)
    d.close()
    lines, _ = c.ok("NOOP")
    m4 = modseq_of(lines, uid)
    assert m4 is not None and m4 > m3, lines
    assert "\\Flagged" not in [x for x in lines if "UID %d" % uid in x][0]

    # Another process renames the file (flags in the name): bumped too.
    path = file_of(csb, uid)
    base, info = path.rsplit(":2,", 1)
    os.rename(path, base + ":2," + "".join(sorted(info + "F")))
    lines, _ = c.ok("NOOP")
    m5 = modseq_of(lines, uid)
    assert m5 is not None and m5 > m4, lines
    c.close()

    # A restart of imapd keeps HIGHESTMODSEQ (it never goes back).
    csb.restart("imapd")
    e = Raw(csb)
    lines, _ = e.ok("EXAMINE INBOX")
    assert highest(lines) >= m5, lines
    lines, _ = e.ok("UID FETCH %d (MODSEQ)" % uid)
    assert modseq_of(lines, uid) == m5, lines
    e.close()


def test_qresync(csb):
    c = Raw(csb)
    assert "QRESYNC" in c.ok("CAPABILITY")[0][0].split()
    u1, u2, u3 = append(c), append(c), append(c)
    # QRESYNC parameters before ENABLE QRESYNC: a protocol error.
    lines, st = c.cmd("SELECT INBOX (QRESYNC (1 1))")
    assert st.startswith("BAD"), st
    lines, _ = c.ok("SELECT INBOX")
    h0 = highest(lines)
    uv = int(re.search(r"\[UIDVALIDITY (\d+)\]",
                       " ".join(lines)).group(1))
    c.close()

    # Meanwhile another client flags u1 and expunges u2.
    d = Raw(csb)
    d.ok("SELECT INBOX")
    d.ok("UID STORE %d +FLAGS.SILENT (\\Flagged)" % u1)
    d.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % u2)
    d.ok("UID EXPUNGE %d" % u2)
    d.close()

    e = Raw(csb)
    lines, _ = e.ok("ENABLE QRESYNC")
    assert lines == ["* ENABLED QRESYNC"], lines
    lines, _ = e.ok("SELECT INBOX (QRESYNC (%d %d))" % (uv, h0))
    vanished = [x for x in lines if x.startswith("* VANISHED (EARLIER) ")]
    assert len(vanished) == 1, lines
    assert str(u2) in re.split("[,:]", vanished[0].split()[-1]), vanished
    assert modseq_of(lines, u1) is not None, lines
    assert "\\Flagged" in [x for x in lines if "UID %d " % u1 in x][0]
    assert modseq_of(lines, u3) is None, lines
    # known-uids limits both.
    lines, _ = e.ok("SELECT INBOX (QRESYNC (%d %d %d))" % (uv, h0, u3))
    assert not [x for x in lines if "VANISHED" in x or "FETCH" in x], \
        lines
    # A UIDVALIDITY that is not the mailbox's: nothing to resync.
    lines, _ = e.ok("SELECT INBOX (QRESYNC (%d %d))" % (uv + 1, h0))
    assert not [x for x in lines if "VANISHED" in x or "FETCH" in x], \
        lines
    # UID FETCH (CHANGEDSINCE n VANISHED).
    lines, _ = e.ok("UID FETCH %d:* (FLAGS) (CHANGEDSINCE %d VANISHED)"
                    % (u1, h0))
    assert lines[0] == "* VANISHED (EARLIER) %d" % u2, lines
    assert modseq_of(lines, u1) is not None, lines
    lines, st = e.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % h0)
    assert st.startswith("BAD"), st
    # Once QRESYNC is on, expunges come as VANISHED, not EXPUNGE.
    e.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % u3)
    lines, _ = e.ok("EXPUNGE")
    assert "* VANISHED %d" % u3 in lines, lines
    assert not [x for x in lines if x.endswith(" EXPUNGE")], lines
    # MOVE too (RFC 6851 4.3).
    e.ok("CREATE moved")
    lines, _ = e.ok("UID MOVE %d moved" % u1)
    assert "* VANISHED %d" % u1 in lines, lines
    assert not [x for x in lines if x.endswith(" EXPUNGE")], lines
    e.close()


def test_esearch_searchres(csb):
    c = Raw(csb)
    caps = c.ok("CAPABILITY")[0][0].split()
    assert "ESEARCH" in caps and "SEARCHRES" in caps
    c.ok("CREATE esearch")
    uids = [append(c, "esearch") for _ in range(4)]
    c.ok("SELECT esearch")
    c.ok("UID STORE %d,%d +FLAGS.SILENT (\\Flagged)" % (uids[1], uids[3]))
    lines, _ = c.ok("UID SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED")
    assert lines == ['* ESEARCH (TAG "c%d") UID MIN %d MAX %d ALL %d,%d '
                     'COUNT 2' % (c.n, uids[1], uids[3], uids[1], uids[3])
                     ], lines
    lines, _ = c.ok("SEARCH RETURN () ALL")
    assert lines == ['* ESEARCH (TAG "c%d") ALL 1:4' % c.n], lines
    lines, _ = c.ok("SEARCH RETURN (COUNT MIN) DRAFT")
    assert lines == ['* ESEARCH (TAG "c%d") COUNT 0' % c.n], lines
    # SAVE alone: no reply line; "$" then names the saved messages.
    lines, _ = c.ok("SEARCH RETURN (SAVE) FLAGGED")
    assert lines == [], lines
    lines, _ = c.ok("FETCH $ (UID)")
    assert sorted(int(re.search(r"UID (\d+)", x).group(1))
                  for x in lines) == [uids[1], uids[3]], lines
    lines, _ = c.ok("UID SEARCH UID $ NOT UID %d" % uids[3])
    assert lines == ["* SEARCH %d" % uids[1]], lines
    c.ok("STORE $ +FLAGS.SILENT (\\Seen)")
    lines, _ = c.ok("UID SEARCH SEEN")
    assert lines == ["* SEARCH %d %d" % (uids[1], uids[3])], lines
    # SAVE with MIN only keeps the first match.
    c.ok("SEARCH RETURN (SAVE MIN) FLAGGED")
    lines, _ = c.ok("UID FETCH $ (FLAGS)")
    assert len(lines) == 1 and "UID %d" % uids[1] in lines[0], lines
    # Another mailbox: the saved result is empty.
    c.ok("SELECT esearch")
    lines, _ = c.ok("FETCH $ (UID)")
    assert lines == [], lines
    c.close()
