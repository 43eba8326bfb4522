"""Dovecot interoperability of tsamba's mailbox storage (imapd/uidlist.c,
keywords.c, subscriptions.c, mailbox.c, folder.c, pop3_uidl.c).

A private Dovecot 2.3 (Debian's dovecot-imapd and dovecot-pop3d, started
in the foreground on loopback ports in a private directory and stopped by
its pid) fills a Maildir over IMAP with imaplib: messages, folders, flags,
keywords, subscriptions, an expunge, a copy, and a message delivered into
new/ as lmtpd does; POP3 UIDLs come from poplib.  With Dovecot stopped,
regress/unit/storedump (the storage layer's view) must report the same
UIDVALIDITYs, UIDs, flags, keywords, folders, subscriptions and UIDLs.
Then storedump changes the Maildir (an APPEND with a new keyword, flags
added and removed, an expunge, a folder created and subscribed) and
Dovecot, started again, must see exactly those changes."""

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from dovecot import Dovecot, fetch_flags, list_names, msg, ok, \
    requires_dovecot

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
STOREDUMP = os.path.join(TOP, "regress", "unit", "storedump")
USER, PASSWORD = "alice", "secret"
MAIL_USER, MAIL_GROUP = "nobody", "nogroup"

pytestmark = requires_dovecot


class StoreDovecot(Dovecot):
    """Dovecot with one user whose Maildir is top/mail/alice/Maildir."""

    def __init__(self, top):
        super().__init__(top, {USER: PASSWORD}, home=top + "/mail/%u",
                         mail_user=MAIL_USER, mail_group=MAIL_GROUP)
        self.home = os.path.join(top, "mail", USER)
        self.maildir = os.path.join(self.home, "Maildir")
        os.makedirs(self.maildir)
        os.chmod(os.path.join(top, "mail"), 0o755)
        pw = pwd.getpwnam(MAIL_USER)
        for d in (self.home, self.maildir):
            os.chown(d, pw.pw_uid, pw.pw_gid)

    def imap(self):
        return super().imap(USER)

    def pop3(self):
        return super().pop3(USER)


@pytest.fixture
def dovecot():
    top = tempfile.mkdtemp(prefix="tsamba-dovecot-")
    os.chmod(top, 0o755)
    d = StoreDovecot(top)
    d.start()
    yield d
    d.stop()
    # Shown by pytest when the test failed.
    print("dovecot.log:\n" + d.log()[-4000:])
    shutil.rmtree(top, ignore_errors=True)


def dovecot_state(d):
    """What Dovecot shows: {folder: (uidvalidity, uidnext, {uid: flags})},
    subscriptions, and INBOX's POP3 UIDLs {n: uidl}."""
    m = d.imap()
    folders = {}
    for name in list_names(m):
        quoted = '"%s"' % name
        data = ok(m.status(quoted, "(UIDVALIDITY UIDNEXT)"))
        st = re.search(rb"UIDVALIDITY (\d+)", data[0])
        nx = re.search(rb"UIDNEXT (\d+)", data[0])
        ok(m.select(quoted, readonly=True))
        msgs = fetch_flags(m)
        folders[name] = (int(st.group(1)), int(nx.group(1)), msgs)
    subs = list_names(m, "LSUB")
    m.logout()
    p = d.pop3()
    uidls = {}
    for line in p.uidl()[1]:
        n, u = line.decode().split()
        uidls[int(n)] = u
    p.quit()
    return folders, subs, uidls


def storedump(d, *args):
    """storedump as the mailbox owner, as the mail process will run."""
    binary = os.path.join(d.top, "storedump")
    if not os.path.exists(binary):
        shutil.copy(STOREDUMP, binary)
        os.chmod(binary, 0o755)
    r = subprocess.run([binary, d.maildir] + list(args), user=MAIL_USER,
                       group=MAIL_GROUP, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def tsamba_state(d):
    folders, subs, uidls = {}, set(), {}
    for line in storedump(d).splitlines():
        f = line.split("\t")
        if f[0] == "folder":
            folders[f[1]] = (int(f[2]), int(f[3]), {})
        elif f[0] == "msg":
            flags = set(f[4].split()) if f[4] else set()
            folders[f[1]][2][int(f[2])] = flags
            if f[1] == "INBOX":
                uidls[int(f[2])] = f[3]
        elif f[0] == "sub":
            subs.add(f[1])
    return folders, subs, uidls


def fill(d):
    m = d.imap()
    for name in ("Sent", "Trash", "Archive", "a", "a.b"):
        ok(m.create(name))
    flags = [None, r"(\Seen)", r"(\Seen \Answered $Label1)",
             r"(\Flagged work)", r"(\Draft)", r"(\Seen $Label1 later)"]
    for i, f in enumerate(flags):
        ok(m.append("INBOX", f, None, msg(i, "inbox %d" % i)))
    ok(m.append("a.b", r"(\Seen deep)", None, msg(50, "deep")))
    ok(m.subscribe("Sent"))
    ok(m.subscribe("a.b"))
    ok(m.select("INBOX"))
    ok(m.uid("STORE", "1", "+FLAGS", r"(\Flagged project)"))
    ok(m.uid("STORE", "3", "+FLAGS", r"(\Deleted)"))
    ok(m.expunge())
    ok(m.uid("COPY", "2", "Trash"))
    m.logout()
    # A delivery into new/ as lmtpd makes it: Dovecot numbers it.
    body = msg(99, "delivered")
    name = "%d.M1P1Q1.tsamba-test,S=%d" % (int(time.time()), len(body))
    path = os.path.join(d.maildir, "new", name)
    with open(path, "wb") as f:
        f.write(body)
    pw = pwd.getpwnam(MAIL_USER)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def uidl_by_uid(d_state):
    """POP3 UIDLs keyed by UID (POP3 numbers messages in UID order)."""
    folders, _, uidls = d_state
    uids = sorted(folders["INBOX"][2])
    return {uids[n - 1]: u for n, u in uidls.items()}


def test_dovecot_store_roundtrip(dovecot):
    fill(dovecot)
    before = dovecot_state(dovecot)
    folders, subs, _ = before
    assert set(folders) == {"INBOX", "Sent", "Trash", "Archive", "a",
                            "a.b"}
    assert 3 not in folders["INBOX"][2]
    assert len(folders["INBOX"][2]) == 6
    assert subs == {"Sent", "a.b"}
    dovecot.stop()

    # tsamba's storage layer reads what Dovecot wrote.
    mine = tsamba_state(dovecot)
    for name, (uidv, uidnext, msgs) in folders.items():
        assert name in mine[0], name
        assert mine[0][name][0] == uidv, name
        assert mine[0][name][1] == uidnext, name
        assert mine[0][name][2] == msgs, name
    assert set(mine[0]) == set(folders)
    assert mine[1] == subs
    assert mine[2] == uidl_by_uid(before)

    # Changes through tsamba's storage layer.
    inbox_uids = sorted(folders["INBOX"][2])
    uidnext = folders["INBOX"][1]
    newmsg = os.path.join(dovecot.top, "new.eml")
    with open(newmsg, "wb") as f:
        f.write(msg(7, "from tsamba"))
    os.chmod(newmsg, 0o644)
    out = storedump(dovecot, "append", "INBOX", newmsg, "\\Seen",
                    "tsamba-kw")
    assert out.split() == ["appended", "INBOX", str(uidnext)]
    storedump(dovecot, "store", "INBOX", str(inbox_uids[0]), "+",
              "\\Answered", "$Label1")
    storedump(dovecot, "store", "INBOX", str(inbox_uids[1]), "-",
              "\\Seen")
    storedump(dovecot, "expunge", "INBOX", str(inbox_uids[2]))
    storedump(dovecot, "create", "Made by tsamba")
    storedump(dovecot, "subscribe", "Made by tsamba")
    storedump(dovecot, "store", "a.b", "1", "+", "$Work")
    # Rewritten files keep the modes Dovecot gives (the directory's).
    for f in ("dovecot-uidlist", "dovecot-keywords", "subscriptions"):
        st = os.stat(os.path.join(dovecot.maildir, f))
        want = os.stat(dovecot.maildir).st_mode & 0o666
        assert st.st_mode & 0o777 == want, f

    dovecot.start()
    after = dovecot_state(dovecot)
    f2, subs2, _ = after
    assert set(f2) == set(folders) | {"Made by tsamba"}
    assert subs2 == subs | {"Made by tsamba"}
    for name in folders:
        assert f2[name][0] == folders[name][0], name
    expect = {u: set(fl) for u, fl in folders["INBOX"][2].items()}
    expect[inbox_uids[0]] |= {"\\Answered", "$Label1"}
    expect[inbox_uids[1]] -= {"\\Seen"}
    del expect[inbox_uids[2]]
    expect[uidnext] = {"\\Seen", "tsamba-kw"}
    assert f2["INBOX"][2] == expect
    assert f2["INBOX"][1] == uidnext + 1
    assert f2["a.b"][2] == {1: {"\\Seen", "deep", "$Work"}}
    assert f2["Made by tsamba"][2] == {}
    # The UIDLs of the messages that stayed did not change.
    old = uidl_by_uid(before)
    new = uidl_by_uid(after)
    for uid in expect:
        if uid in old:
            assert new[uid] == old[uid], uid
    assert new[uidnext] == "%08x%08x" % (uidnext, folders["INBOX"][0])
    # Dovecot found nothing to complain about in what tsamba wrote.
    assert dovecot.complaints() == []
    # And the layer agrees with Dovecot once more.
    dovecot.stop()
    again = tsamba_state(dovecot)
    assert again[0]["INBOX"][2] == expect
    assert again[1] == subs2


def test_dovecot_waits_for_tsamba_lock(dovecot):
    """Dovecot honours dovecot-uidlist.lock as tsamba takes it: a new
    message waits for its UID until tsamba lets the lock go."""
    m = dovecot.imap()
    ok(m.create("Locked"))
    ok(m.append("Locked", None, None, msg(1, "first")))
    m.logout()
    folder = os.path.join(dovecot.maildir, ".Locked")
    binary = os.path.join(dovecot.top, "storedump")
    shutil.copy(STOREDUMP, binary)
    os.chmod(binary, 0o755)
    holder = subprocess.Popen([binary, dovecot.maildir, "lock", "Locked"],
                              user=MAIL_USER, group=MAIL_GROUP,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        lock = os.path.join(folder, "dovecot-uidlist.lock")
        assert os.path.exists(lock)
        body = msg(2, "second")
        name = "%d.M2P2Q2.tsamba-test,S=%d" % (int(time.time()), len(body))
        path = os.path.join(folder, "new", name)
        with open(path, "wb") as f:
            f.write(body)
        pw = pwd.getpwnam(MAIL_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)
        result = {}

        def select():
            c = dovecot.imap()
            result["select"] = c.select("Locked")
            c.logout()

        t = threading.Thread(target=select)
        t.start()
        # Dovecot must wait on the lock: no answer while it is held.
        t.join(1.5)
        assert t.is_alive() and "select" not in result
        holder.stdin.close()
        assert holder.wait(timeout=10) == 0
        t.join(30)
        assert not t.is_alive()
        assert result["select"] == ("OK", [b"2"])
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    c = dovecot.imap()
    ok(c.select("Locked", readonly=True))
    typ, data = c.uid("FETCH", "2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK" and b"Subject: second" in data[0][1]
    c.logout()
