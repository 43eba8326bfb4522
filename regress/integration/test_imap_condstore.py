"""tsamba-imapd's ENABLE, CONDSTORE and QRESYNC (RFC 5161, RFC 7162),
raw commands on a TLS socket, replies checked as a client reads them:

- ENABLE lists what it newly switched on, ignores names it does not
  know, and QRESYNC brings CONDSTORE with it;
- HIGHESTMODSEQ in SELECT and STATUS, MODSEQ in FETCH, FETCH
  (CHANGEDSINCE), STORE (UNCHANGEDSINCE) with [MODIFIED], SEARCH
  MODSEQ; flag changes by another session and by a rename of the
  Maildir file bump the modseq; a restart of imapd does not take
  HIGHESTMODSEQ back."""

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
    c.close()
