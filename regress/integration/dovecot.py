"""A private Dovecot 2.3 for the interoperability tests, and what an IMAP
and a POP3 client see of a mail store, so that Dovecot's view and
tsamba's can be compared.

Dovecot (Debian's dovecot-imapd and dovecot-pop3d) runs in the
foreground on free loopback ports with its config, passwd file, state
and log in a private directory, and is stopped by its pid.  Its mail
processes run as the given owner of the Maildirs."""

import hashlib
import imaplib
import os
import poplib
import pwd
import re
import socket
import subprocess
from collections import namedtuple

import pytest

from sandbox import free_port, wait_for

DOVECOT = "/usr/sbin/dovecot"
SYSFLAGS = {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"}

# The marks of a test module that needs Dovecot.
requires_dovecot = [
    pytest.mark.skipif(not os.path.exists(DOVECOT),
                       reason="Dovecot is not installed (regress/deps.sh "
                       "installs dovecot-imapd and dovecot-pop3d as root)"),
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="a private Dovecot must be started as root"),
]


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class Dovecot:
    """One private Dovecot in top.  users: {login: password}; home: the
    userdb home of each (Dovecot variables: %u, %n, %d); mail: its
    mail_location; the mail processes run as mail_user:mail_group."""

    def __init__(self, top, users, home, mail="maildir:~/Maildir",
                 mail_user="nobody", mail_group="nogroup"):
        self.top = top
        self.users = dict(users)
        self.imap_port = free_port()
        self.pop3_port = free_port()
        self.proc = None
        for d in ("run", "state", "log"):
            os.makedirs(os.path.join(top, d), exist_ok=True)
            os.chmod(os.path.join(top, d), 0o755)
        with open(os.path.join(top, "passwd"), "w") as f:
            for user, password in self.users.items():
                f.write("%s:{PLAIN}%s::::::\n" % (user, password))
        self.conf = os.path.join(top, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(f"""
instance_name = tsamba-interop
base_dir = {top}/run
state_dir = {top}/state
log_path = {top}/log/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = {mail}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {top}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={home}
}}
namespace inbox {{
  inbox = yes
  separator = .
  mailbox Drafts {{
    special_use = \\Drafts
  }}
  mailbox Junk {{
    special_use = \\Junk
  }}
  mailbox Trash {{
    special_use = \\Trash
  }}
  mailbox Sent {{
    special_use = \\Sent
  }}
  mailbox "Sent Messages" {{
    special_use = \\Sent
  }}
  mailbox Archive {{
    special_use = \\Archive
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
""")

    def start(self):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: self.proc.poll() is not None or (
            can_connect(self.imap_port) and can_connect(self.pop3_port)),
            20, what="dovecot listening")
        assert self.proc.poll() is None, self.log()

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log(self):
        try:
            with open(os.path.join(self.top, "log", "dovecot.log")) as f:
                return f.read()
        except OSError:
            return ""

    def complaints(self):
        """Errors, panics and warnings of Dovecot's log (its own stop by
        a signal aside)."""
        return [line for line in self.log().splitlines()
                if ": Error:" in line or ": Panic:" in line or
                ("Warning" in line and "Killed with signal" not in line)]

    def imap(self, user):
        m = imaplib.IMAP4("127.0.0.1", self.imap_port)
        m.login(user, self.users[user])
        return m

    def pop3(self, user):
        p = poplib.POP3("127.0.0.1", self.pop3_port, timeout=10)
        p.user(user)
        p.pass_(self.users[user])
        return p


def chown_to(path, user):
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def ok(resp):
    typ, data = resp
    assert typ == "OK", data
    return data


def msg(n, subject):
    return (b"From: a@example.org\r\nTo: b@example.org\r\n"
            b"Subject: %s\r\nMessage-ID: <%d@example.org>\r\n\r\n"
            b"body %d\r\n" % (subject.encode(), n, n))


LIST_RE = re.compile(rb'\((?P<attrs>[^)]*)\) (?P<sep>"[^"]*"|NIL) '
                     rb'(?P<name>.+)$')


def list_entries(m, cmd="LIST", pattern="*"):
    """{name: set of attributes} of LIST "" pattern (or LSUB)."""
    data = ok(m.list('""', pattern) if cmd == "LIST" else
              m.lsub('""', pattern))
    entries = {}
    for line in data:
        if line is None:	# imaplib's way of saying none
            continue
        mo = LIST_RE.match(line)
        assert mo, line
        name = mo.group("name").decode()
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        entries[name] = {a.lower() for a in
                         mo.group("attrs").decode().split()}
    return entries


def list_names(m, cmd="LIST"):
    return set(list_entries(m, cmd))


FETCH_RE = re.compile(rb"UID (\d+) FLAGS \(([^)]*)\)")


def fetch_flags(m, uids="1:*"):
    """{uid: flags} of the selected mailbox, \\Recent left out."""
    typ, data = m.uid("FETCH", uids, "(FLAGS)")
    assert typ == "OK", data
    msgs = {}
    for line in data:
        if line is None:
            continue
        mo = FETCH_RE.search(line)
        if mo:
            msgs[int(mo.group(1))] = \
                set(mo.group(2).decode().split()) - {"\\Recent"}
    return msgs


# What a client sees of one message and of one folder.
Message = namedtuple("Message", "flags size date msgid digest")
Folder = namedtuple("Folder", "uidvalidity uidnext msgs flags permanentflags "
                    "attrs")

ITEM_RE = {
    "uid": re.compile(rb"\bUID (\d+)"),
    "flags": re.compile(rb"\bFLAGS \(([^)]*)\)"),
    "size": re.compile(rb"\bRFC822\.SIZE (\d+)"),
    "date": re.compile(rb'\bINTERNALDATE "([^"]*)"'),
}
MSGID_RE = re.compile(rb"Message-ID: *(\S+)", re.I)
LISTED_RE = re.compile(rb"\(([^)]*)\)")
# Attributes that say a name is no mailbox one can select.
SELECT_ATTRS = {"\\noselect", "\\nonexistent"}


def fetch_messages(m):
    """{uid: Message} of the selected mailbox: flags (\\Recent left out),
    RFC822.SIZE, INTERNALDATE, the Message-ID, which says that a UID
    still names the same message, and the SHA-256 of BODY[], which says
    that the message reads the same (CRLF line ends made alike)."""
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE "
                      "BODY.PEEK[])")
    assert typ == "OK", data
    msgs = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, literal = item
        got = {k: r.search(head) for k, r in ITEM_RE.items()}
        assert all(got.values()), head
        mo = MSGID_RE.search(literal)
        # RFC 9051 7.5.2: RFC822.SIZE is the length of BODY[].
        assert len(literal) == int(got["size"].group(1)), head
        flags = frozenset(got["flags"].group(1).decode().split()) - \
            {"\\Recent"}
        msgs[int(got["uid"].group(1))] = Message(
            flags, int(got["size"].group(1)), got["date"].group(1).decode(),
            mo.group(1).decode() if mo else None,
            hashlib.sha256(literal).hexdigest())
    return msgs


def listed(m, code):
    """The flags of the FLAGS response or a PERMANENTFLAGS code."""
    data = m.response(code)[1]
    assert data and data[-1], code
    mo = LISTED_RE.search(data[-1])
    return frozenset(mo.group(1).decode().split())


def mail_state(imap, pop3):
    """What the logged-in clients imap and pop3 see of one account:
    ({folder: Folder}, subscriptions, POP3 [(uidl, size)] in message
    number order, LSUB "" "%" as {(name, attributes)}); the
    subscriptions too are {(name, attributes)}.  Each folder is selected (read-write, so that
    PERMANENTFLAGS is told) and every message fetched."""
    folders = {}
    for name, attrs in list_entries(imap).items():
        if attrs & SELECT_ATTRS:
            folders[name] = Folder(None, None, None, None, None,
                                   frozenset(attrs))
            continue
        quoted = '"%s"' % name
        data = ok(imap.status(quoted, "(UIDVALIDITY UIDNEXT)"))
        uidv = int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
        uidnext = int(re.search(rb"UIDNEXT (\d+)", data[0]).group(1))
        ok(imap.select(quoted))
        assert int(imap.response("UIDVALIDITY")[1][-1]) == uidv, name
        flags = listed(imap, "FLAGS")
        permanent = listed(imap, "PERMANENTFLAGS")
        folders[name] = Folder(uidv, uidnext, fetch_messages(imap), flags,
                               permanent, frozenset(attrs))
        ok(imap.close())
    subs = frozenset((name, frozenset(attrs)) for name, attrs in
                     list_entries(imap, "LSUB").items())
    top = frozenset((name, frozenset(attrs)) for name, attrs in
                    list_entries(imap, "LSUB", "%").items())
    imap.logout()
    sizes = {}
    for line in pop3.list()[1]:
        n, size = line.decode().split()
        sizes[int(n)] = int(size)
    uidls = []
    for line in pop3.uidl()[1]:
        n, u = line.decode().split()
        uidls.append((u, sizes[int(n)]))
    pop3.quit()
    return folders, subs, uidls, top
