"""Dovecot and tsamba-imapd serve one Maildir in turn (issue 8): what one
server showed a client, the other shows too.

A tsamba sandbox delivers one message through smtpd, the queue and lmtpd,
so that the Maildir is where and as lmtpd and imapd keep it (vmail's,
under the mail root).  tsamba-imapd is stopped and a private Dovecot 2.3,
whose userdb points at that Maildir and runs as vmail, fills it over IMAP
and POP3: messages with flags and keywords, folders with non-ASCII
(modified UTF-7) and nested names, a folder that exists only as a parent,
subscriptions (one to a folder that does not exist), an expunge, a COPY,
a MOVE, and a POP3 DELE.  Dovecot stopped, tsamba-imapd started again
must show, over imaplib and poplib, the same folders (LIST), UIDVALIDITY,
UIDNEXT, FLAGS and PERMANENTFLAGS, UIDs with their flags, sizes,
INTERNALDATEs and Message-IDs, subscriptions (LSUB), and POP3 UIDLs.
Then lmtpd delivers another message, which tsamba numbers, and tsamba
changes the store over IMAP (flags set, added and removed, a new
keyword, an expunge, a MOVE, a new folder subscribed, an unsubscribe,
a DELETE, a RENAME of a folder with one below it, an APPEND) and POP3
(DELE and QUIT); tsamba-imapd stopped, Dovecot started again must show
exactly what tsamba last showed, UIDs kept, and find nothing in the
files to complain about.  A second user's Maildir is made by Dovecot
alone; lmtpd delivers into it and both servers agree on it after."""

import copy
import hashlib
import imaplib
import os
import poplib
import signal
import tempfile
import time

import pytest

from dovecot import Dovecot, Message, chown_to, mail_state, msg, ok, \
    requires_dovecot
from helpers import send, tls_context
from sandbox import wait_for

TIMEOUT = 15
ENTWUERFE = "Entw&APw-rfe"		# "Entwürfe" in modified UTF-7
NIHONGO = "Projekte.2026.&ZeVnLIqe-"	# "日本語" below Projekte.2026
MADE = "Projekte.Neu &AMQ-"		# "Neu Ä", made by tsamba
RENAMED = "Projekte.2027"		# Projekte.2026, renamed by tsamba

pytestmark = requires_dovecot + [pytest.mark.root]


@pytest.fixture(scope="module")
def dsb(sandbox_factory):
    return sandbox_factory("dove", imap=True,
                           limits={"sessions-per-ip": 300})


@pytest.fixture
def dovecot(dsb):
    top = tempfile.mkdtemp(prefix="dovecot-", dir=dsb.dir)
    os.chmod(top, 0o755)
    vmail = dsb.role_user("vmail")
    users = {dsb.address(u): dsb.password for u in ("demo", "bob")}
    d = Dovecot(top, users,
                home=dsb.mailroot + "/%d/%n", mail="maildir:~",
                mail_user=vmail, mail_group=vmail)
    yield d
    d.stop()
    print("dovecot.log:\n" + d.log()[-4000:])


def tsamba_imap(sb, user=None):
    m = imaplib.IMAP4_SSL("127.0.0.1", sb.ports["imaps"],
                          ssl_context=tls_context(), timeout=TIMEOUT)
    m.login(user or sb.demo_user, sb.password)
    return m


def tsamba_pop3(sb, user=None):
    p = poplib.POP3_SSL("127.0.0.1", sb.ports["pop3s"],
                        context=tls_context(), timeout=TIMEOUT)
    p.user(user or sb.demo_user)
    p.pass_(sb.password)
    return p


def tsamba_state(sb, user=None):
    return mail_state(tsamba_imap(sb, user), tsamba_pop3(sb, user))


def dovecot_state(d, user):
    return mail_state(d.imap(user), d.pop3(user))


def stop_imapd(sb):
    sb.kill("imapd", signal.SIGTERM)


def fill(d, user):
    """What a Dovecot user's clients leave in a mailbox."""
    m = d.imap(user)
    for name in ("Sent", "Trash", ENTWUERFE, "Projekte", "Projekte.2026",
                 NIHONGO, "Lists.tsamba", "Gone"):
        ok(m.create('"%s"' % name))
    flags = [None, r"(\Seen)", r"(\Seen \Answered $Label1)",
             r"(\Flagged work)", r"(\Draft)", r"(\Seen $Label1 later)",
             r"(\Seen)", r"(\Seen \Flagged)"]
    for i, f in enumerate(flags):
        ok(m.append("INBOX", f, '"01-Dec-2026 10:%02d:00 +0100"' % i,
                    msg(i, "inbox %d" % i)))
    ok(m.append('"%s"' % NIHONGO, r"(\Seen deep)", None, msg(50, "deep")))
    ok(m.append('"%s"' % ENTWUERFE, r"(\Draft)", None, msg(60, "draft")))
    for name in ("Sent", ENTWUERFE, NIHONGO, "Gone"):
        ok(m.subscribe('"%s"' % name))
    ok(m.delete("Gone"))		# its subscription stays
    ok(m.select("INBOX"))
    uids = [int(u) for u in ok(m.uid("SEARCH", None, "ALL"))[0].split()]
    ok(m.uid("STORE", str(uids[1]), "+FLAGS", r"(\Flagged project)"))
    ok(m.uid("STORE", str(uids[5]), "-FLAGS", r"(later)"))
    ok(m.uid("STORE", str(uids[3]), "+FLAGS", r"(\Deleted)"))
    ok(m.expunge())
    ok(m.uid("COPY", str(uids[2]), "Trash"))
    ok(m.uid("MOVE", str(uids[4]), '"%s"' % ENTWUERFE))
    m.logout()
    # POP3: the first message is read and deleted.
    p = d.pop3(user)
    p.retr(1)
    p.dele(1)
    p.quit()


def test_dovecot_then_tsamba_then_dovecot(dsb, dovecot):
    user = dsb.demo_user
    # The Maildir as lmtpd makes it, with one message in new/.
    send(dsb, user, subject="delivered by lmtpd")
    wait_for(lambda: dsb.maildir_messages(user), TIMEOUT,
             what="the delivery by lmtpd")
    stop_imapd(dsb)
    # And one as another delivery agent may leave it: LF line ends, no
    # S= or W= in its name.
    lf = os.path.join(dsb.maildir(user), "new",
                      "%d.M1P1Q1.other-mda" % time.time())
    with open(lf, "wb") as f:
        f.write(msg(80, "LF only").replace(b"\r\n", b"\n"))
    chown_to(lf, dsb.role_user("vmail"))

    dovecot.start()
    fill(dovecot, user)
    seen_by_dovecot = dovecot_state(dovecot, user)
    m = dovecot.imap(user)
    namespace = ok(m.namespace())
    m.logout()
    folders, subs, uidls, top = seen_by_dovecot
    assert {ENTWUERFE, NIHONGO, "Projekte.2026", "Lists"} <= set(folders)
    assert folders["Lists"].uidvalidity is None	# only a parent
    assert {name for name, _ in subs} == {"Sent", ENTWUERFE, NIHONGO,
                                          "Gone"}
    assert ("Sent", frozenset({"\\sent"})) in subs	# special use
    assert len(folders["INBOX"].msgs) == 7 and len(uidls) == 7
    # LSUB "%": a subscription below a level shows the level \Noselect.
    assert ("Projekte", frozenset({"\\noselect"})) in top, top
    assert ("Gone", frozenset()) in top, top
    assert "work" in folders["INBOX"].permanentflags
    dovecot.stop()

    # tsamba-imapd shows what Dovecot showed.
    dsb.restart("imapd")
    seen_by_tsamba = tsamba_state(dsb)
    m = tsamba_imap(dsb)
    assert ok(m.namespace()) == namespace
    m.logout()
    for name in folders:
        assert seen_by_tsamba[0].get(name) == folders[name], name
    assert seen_by_tsamba == seen_by_dovecot

    # tsamba changes it, and numbers a message lmtpd delivers.
    inbox = folders["INBOX"]
    u = sorted(inbox.msgs)
    n = len(dsb.maildir_messages(user))
    delivered, _, _ = send(dsb, user, subject="delivered to tsamba")
    wait_for(lambda: len(dsb.maildir_messages(user)) > n, TIMEOUT,
             what="the second delivery by lmtpd")
    m = tsamba_imap(dsb)
    ok(m.select("INBOX"))
    ok(m.uid("STORE", str(u[1]), "+FLAGS", r"(\Answered $Label2)"))
    ok(m.uid("STORE", str(u[2]), "-FLAGS", r"(\Seen work)"))
    ok(m.uid("STORE", str(u[3]), "FLAGS", r"(\Draft later)"))
    ok(m.uid("STORE", str(u[4]), "+FLAGS", r"(\Deleted)"))
    ok(m.expunge())
    ok(m.uid("MOVE", str(u[5]), '"%s"' % ENTWUERFE))
    ok(m.create('"%s"' % MADE))
    ok(m.subscribe('"%s"' % MADE))
    ok(m.delete("Lists.tsamba"))
    ok(m.rename("Projekte.2026", RENAMED))
    ok(m.unsubscribe("Sent"))
    body = msg(70, "appended by tsamba")
    ok(m.append("INBOX", r"(\Flagged tsamba-kw)",
                '"02-Dec-2026 11:00:00 +0000"', body))
    m.logout()
    p = tsamba_pop3(dsb)
    p.dele(1)
    p.quit()
    last_by_tsamba = tsamba_state(dsb)

    # What tsamba shows is what was asked of it.
    want = copy.deepcopy(seen_by_tsamba)
    f, s, _, _ = want
    msgs = dict(inbox.msgs)
    msgs[u[1]] = msgs[u[1]]._replace(flags=msgs[u[1]].flags |
                                     {"\\Answered", "$Label2"})
    msgs[u[2]] = msgs[u[2]]._replace(flags=msgs[u[2]].flags -
                                     {"\\Seen", "work"})
    msgs[u[3]] = msgs[u[3]]._replace(flags=frozenset({"\\Draft", "later"}))
    moved = msgs.pop(u[5])
    del msgs[u[4]], msgs[u[0]]		# expunged; POP3 DELE
    got = last_by_tsamba[0]["INBOX"].msgs
    assert got[inbox.uidnext].msgid == delivered
    assert got[inbox.uidnext].flags == frozenset()
    msgs[inbox.uidnext] = got[inbox.uidnext]
    msgs[inbox.uidnext + 1] = Message(
        frozenset({"\\Flagged", "tsamba-kw"}), len(body),
        "02-Dec-2026 11:00:00 +0000", "<70@example.org>",
        hashlib.sha256(body).hexdigest())
    assert got == msgs
    newkw = {"$Label2", "tsamba-kw"}
    f["INBOX"] = inbox._replace(uidnext=inbox.uidnext + 2, msgs=msgs,
                                flags=inbox.flags | newkw,
                                permanentflags=inbox.permanentflags | newkw)
    dest = f[ENTWUERFE]
    dest_msgs = dict(dest.msgs)
    dest_msgs[dest.uidnext] = moved
    f[ENTWUERFE] = dest._replace(uidnext=dest.uidnext + 1, msgs=dest_msgs)
    made = last_by_tsamba[0][MADE]
    assert made.msgs == {} and made.uidnext == 1
    f[MADE] = made
    # Gone, with the parent that was only its parent.
    del f["Lists.tsamba"], f["Lists"]
    # Renamed with the folder below it, UIDVALIDITYs and UIDs kept; the
    # subscription stays on the old name.
    f[RENAMED] = f.pop("Projekte.2026")
    f[RENAMED + NIHONGO[len("Projekte.2026"):]] = f.pop(NIHONGO)
    want = (f, {sub for sub in s if sub[0] != "Sent"} |
            {(MADE, frozenset())})
    assert last_by_tsamba[0] == want[0]
    assert last_by_tsamba[1] == want[1]
    # POP3 lost its first message (the DELE), the expunged and the moved
    # one, and gained the delivered and the appended one at the end,
    # UIDLs kept.
    old = seen_by_tsamba[2]
    assert last_by_tsamba[2][:-2] == [old[i] for i in range(len(old))
                                      if i not in (0, 4, 5)], \
        (old, last_by_tsamba[2])

    # Dovecot, started again, shows what tsamba last showed.
    stop_imapd(dsb)
    dovecot.start()
    try:
        assert dovecot_state(dovecot, user) == last_by_tsamba
        assert dovecot.complaints() == []
    finally:
        dovecot.stop()
        dsb.restart("imapd")


def test_maildir_made_by_dovecot(dsb, dovecot):
    """A Maildir that Dovecot made (no delivery by tsamba before):
    lmtpd delivers into it, tsamba-imapd serves Dovecot's messages and
    the new one, and Dovecot then sees the new one under the UID tsamba
    gave it."""
    user = dsb.address("bob")
    stop_imapd(dsb)
    dovecot.start()
    m = dovecot.imap(user)
    ok(m.create("Archive"))
    ok(m.append("INBOX", r"(\Seen keep)", None, msg(1, "from dovecot")))
    ok(m.append("Archive", None, None, msg(2, "archived")))
    m.logout()
    seen_by_dovecot = dovecot_state(dovecot, user)
    dovecot.stop()
    assert len(dsb.maildir_messages(user)) == 1

    dsb.restart("imapd")
    delivered, _, _ = send(dsb, user, subject="into Dovecot's Maildir")
    wait_for(lambda: len(dsb.maildir_messages(user)) == 2, TIMEOUT,
             what="the delivery into the Maildir Dovecot made")
    seen_by_tsamba = tsamba_state(dsb, user)
    inbox = seen_by_dovecot[0]["INBOX"]
    got = seen_by_tsamba[0]["INBOX"]
    assert got.uidvalidity == inbox.uidvalidity
    assert {u: v for u, v in got.msgs.items() if u in inbox.msgs} == \
        inbox.msgs
    new = got.msgs[inbox.uidnext]
    assert new.msgid == delivered and new.flags == frozenset()
    assert seen_by_tsamba[0]["Archive"] == seen_by_dovecot[0]["Archive"]

    stop_imapd(dsb)
    dovecot.start()
    try:
        assert dovecot_state(dovecot, user) == seen_by_tsamba
        assert dovecot.complaints() == []
    finally:
        dovecot.stop()
        dsb.restart("imapd")
