"""tsamba-imapd's LIST-EXTENDED, LIST-STATUS, SPECIAL-USE and QUOTA
answers compared with a private Dovecot 2.3's on the same Maildir
(issue 8).  tsamba-imapd makes the folders and subscriptions; Dovecot
(started as in test_dovecot_store.py, its namespace giving Sent, Drafts,
Trash, Junk and Archive their special use as Debian's 15-mailboxes.conf
does, its Maildir++ quota with the same limits as maildirsize) then
serves that Maildir too, and both must give the same mailboxes with the
same attributes, CHILDINFO, STATUS and QUOTA figures."""

import os
import re
import shutil
import socket
import tempfile

import pytest

from helpers import ImapLines, imaps_lines
from dovecot import DOVECOT
from test_dovecot_store import PASSWORD, USER
from test_dovecot_store import StoreDovecot as Dovecot

TIMEOUT = 15

pytestmark = [
    pytest.mark.skipif(not os.path.exists(DOVECOT),
                       reason="Dovecot is not installed"),
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="a private Dovecot must be started as root"),
]

FOLDERS = ("Sent", "Drafts", "Trash", "Junk", "Archive", "Fruit",
           "Fruit.Apple", "Fruit.Banana", "Tofu.Blah", "Empty")
SUBSCRIBED = ("INBOX", "Fruit.Banana", "Tofu.Blah", "Gone", "Sent")
# 13345 bytes: KiB rounding shows (13 down, 14 up).
MAILDIRSIZE = "2048000S,100C\n12345 3\n1000 1\n"


class MaildirDovecot(Dovecot):
    """Dovecot on an existing Maildir, as its owner."""

    def __init__(self, top, maildir):
        super().__init__(top)
        st = os.stat(maildir)
        with open(self.conf) as f:
            conf = f.read()
        conf = conf.replace("mail_location = maildir:~/Maildir",
                            "mail_location = maildir:%s\n"
                            "mail_plugins = quota" % maildir)
        conf = re.sub(r"args = uid=\S+ gid=\S+ home=\S+",
                      "args = uid=%d gid=%d home=%s" %
                      (st.st_uid, st.st_gid, maildir), conf)
        # The special-use folders are in the base configuration.
        conf += """
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=2000K:messages=100
}
"""
        with open(self.conf, "w") as f:
            f.write(conf)


@pytest.fixture(scope="module")
def pair(sandbox_factory):
    sb = sandbox_factory("imaplistdc", imap=True,
                         limits={"sessions-per-ip": 300})
    ts = imaps_lines(sb, TIMEOUT)
    for f in FOLDERS:
        _, t = ts.cmd('CREATE "%s"' % f)
        assert t.startswith("OK"), (f, t)
    for f in SUBSCRIBED:
        _, t = ts.cmd('SUBSCRIBE "%s"' % f)
        assert t.startswith("OK"), (f, t)
    for i, box in enumerate(("INBOX", "INBOX", "Fruit", "Sent")):
        msg = ("Subject: m%d\r\n\r\n%s\r\n" % (i, "x" * (300 * i))).encode()
        ts.s.sendall(b"a%d APPEND %s {%d+}\r\n" % (i, box.encode(),
                                                   len(msg)) + msg + b"\r\n")
        line = ts.f.readline()
        assert line.startswith(b"a%d OK" % i), line
    maildir = sb.maildir(sb.demo_user)
    st = os.stat(maildir)
    path = os.path.join(maildir, "maildirsize")
    with open(path, "w") as f:
        f.write(MAILDIRSIZE)
    os.chown(path, st.st_uid, st.st_gid)
    # Not under pytest's 0700 tmp: Dovecot's auth user reads its passwd.
    top = tempfile.mkdtemp(prefix="tsamba-dovecot-")
    os.chmod(top, 0o755)
    d = MaildirDovecot(top, maildir)
    d.start()
    try:
        dc = ImapLines(socket.create_connection(("127.0.0.1", d.imap_port),
            timeout=TIMEOUT), USER, PASSWORD)
    except AssertionError:
        d.stop()
        raise AssertionError("dovecot login: " + d.log()[-3000:])
    yield ts, dc
    dc.close()
    ts.close()
    d.stop()
    print("dovecot.log:\n" + d.log()[-4000:])
    shutil.rmtree(top, ignore_errors=True)


LIST_RE = re.compile(r'^\* LIST \(([^)]*)\) "\." (?:"([^"]*)"|(\S+))'
                     r'(?: (.*))?$')
STATUS_RE = re.compile(r'^\* STATUS (?:"([^"]*)"|(\S+)) \((.*)\)$')


def norm(lines):
    """Comparable: {name: (attributes, extended data, STATUS items)}."""
    out, last = {}, None
    for line in lines:
        m = LIST_RE.match(line)
        if m:
            last = m.group(2) if m.group(2) is not None else m.group(3)
            # An extended item's tag is an astring: quoted or not.
            ext = m.group(4)
            if ext is not None:
                ext = ext.replace('"CHILDINFO"', "CHILDINFO")
            out[last] = (frozenset(a.lower() for a in m.group(1).split()),
                         ext, None)
            continue
        m = STATUS_RE.match(line)
        assert m, line
        name = m.group(1) if m.group(1) is not None else m.group(2)
        assert name == last, ("STATUS not right after its LIST", lines)
        out[name] = out[name][:2] + (m.group(3),)
    return out


@pytest.mark.parametrize("cmd", [
    'LIST "" "*" RETURN (CHILDREN SPECIAL-USE SUBSCRIBED)',
    'LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN)',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*" RETURN (CHILDREN)',
    'LIST (SPECIAL-USE) "" "*" RETURN (CHILDREN)',
    'LIST "" ("INBOX" "Fruit*") RETURN (CHILDREN)',
    'LIST "" ("Tofu" "Gone") RETURN (CHILDREN)',
    'LIST "" "%" RETURN (CHILDREN STATUS (MESSAGES UNSEEN UIDNEXT))',
    'LIST (SUBSCRIBED) "" "*"',
    'LIST "" ("*")',
    'LIST "" "*" RETURN ()',
    'LIST (SPECIAL-USE RECURSIVEMATCH) "" "%"',
])
def test_list_like_dovecot(pair, cmd):
    ts, dc = pair
    a, ta = ts.cmd(cmd)
    b, tb = dc.cmd(cmd)
    assert ta.startswith("OK") and tb.startswith("OK"), (ta, tb)
    assert norm(a) == norm(b), ("tsamba", a, "dovecot", b)


def test_quota_like_dovecot(pair):
    ts, dc = pair
    for cmd in ("GETQUOTAROOT INBOX", 'GETQUOTA %s', "GETQUOTAROOT Fruit"):
        a, ta = ts.cmd(cmd.replace("%s", '""'))
        b, tb = dc.cmd(cmd.replace("%s", '"User quota"'))
        assert ta.startswith("OK") and tb.startswith("OK"), (ta, tb)
        # Dovecot names its root "User quota"; tsamba's is "".
        b = [x.replace('"User quota"', '""') for x in b]
        a = [x.replace('"', "") for x in a]
        b = [x.replace('"', "") for x in b]
        assert a == b, (cmd, "tsamba", a, "dovecot", b)
    # 13345 bytes used: 14 KiB, rounded up.
    assert a[-1] == "* QUOTA  (STORAGE 14 2000 MESSAGE 4 100)", a
