"""tsamba-lmtpd on its own: tsamba-authd and tsamba-lmtpd started in a
private directory, driven over lmtp.sock with a raw LMTP client (so every
reply line is checked, one per recipient after DATA), and the Maildir
files, owners and process privileges inspected afterwards.

Run as root for the privilege checks (users _tsamba, _tsambaauth and vmail
are created with useradd --system when missing); as another user the
daemons run as that user and those checks are skipped."""

import os
import pwd
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from sandbox import (Daemon, ensure_system_user, proc_table, proc_uids,
                     wait_for)

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
AUTHD = os.path.join(TOP, "authd", "tsamba-authd")
LMTPD = os.path.join(TOP, "lmtpd", "tsamba-lmtpd")
DOMAIN = "lmtp.test"
USERS = ("alice", "bob", "carol", "dave")
MAX_SIZE = 100 * 1024
MAX_RCPTS = 4
IDLE = 3
LOOKUP_TIMEOUT = 2
ROOT = os.geteuid() == 0
SYSUSERS = {"smtpd": "_tsamba", "lmtpd": "_tsambalmtp",
            "auth": "_tsambaauth", "vmail": "vmail", "queue": "_tsambaq"}


def can_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def children(pid):
    return [p for p, ppid in proc_table().items() if ppid == pid]


def proc_uid(pid):
    return list(proc_uids(pid))


def delivery_order(name):
    """Sort key for Maildir names: <sec>.M<usec>P<pid>Q<n> compared as
    numbers (as text, M99 would come after M100 in the same second)."""
    m = re.match(r"(\d+)\.M(\d+)P(\d+)Q(\d+)\.", name)
    if m is None:
        return (0, 0, 0, 0, name)
    return tuple(int(g) for g in m.groups()) + (name,)


class Lmtpd:
    """authd + lmtpd in a private directory."""

    def __init__(self, d):
        self.dir = d
        self.run = os.path.join(d, "run")
        self.mail = os.path.join(d, "mail")
        self.empty = os.path.join(d, "empty")
        self.tables = os.path.join(d, "tables")
        self.conf = os.path.join(d, "tsamba.conf")
        self.sock = os.path.join(self.run, "lmtp.sock")
        self.extra = []
        self.daemons = {}
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()

    def setup(self):
        for sub in (self.run, self.mail, self.empty, self.tables,
                    os.path.join(self.dir, "spool")):
            os.makedirs(sub)
        os.chmod(self.dir, 0o755)
        os.chmod(self.run, 0o755)
        os.chmod(self.tables, 0o755)
        if ROOT:
            for u in SYSUSERS.values():
                ensure_system_user(u)
            os.chown(self.empty, 0, 0)
            os.chmod(self.empty, 0o755)
            v = pwd.getpwnam("vmail")
            os.chown(self.mail, v.pw_uid, v.pw_gid)
            os.chmod(self.mail, 0o750)
            users = SYSUSERS
        else:
            me = pwd.getpwuid(os.getuid()).pw_name
            users = {k: me for k in SYSUSERS}
        with open(os.path.join(self.tables, "domains"), "w") as f:
            f.write("%s\n" % DOMAIN)
        with open(os.path.join(self.tables, "users"), "w") as f:
            for u in USERS:
                f.write("%s@%s:{PLAIN}secret-%s::::::\n" % (u, DOMAIN, u))
        with open(os.path.join(self.tables, "aliases"), "w") as f:
            f.write("# none\n")
        for t in ("domains", "users", "aliases"):
            os.chmod(os.path.join(self.tables, t), 0o644)
        lines = [
            'hostname "lmtp-test.example"',
            'rundir "%s"' % self.run,
            'spool "%s"' % os.path.join(self.dir, "spool"),
            'mailroot "%s"' % self.mail,
            'chroot "%s"' % self.empty,
        ]
        lines += ['user %s "%s"' % kv for kv in users.items()]
        lines += ['table %s file "%s"' % (t, os.path.join(self.tables, t))
                  for t in ("domains", "users", "aliases")]
        lines += [
            "lmtp listen on socket",
            "lmtp listen on 127.0.0.1 port %d" % self.port,
            "limit message-size %d" % MAX_SIZE,
            "limit recipients %d" % MAX_RCPTS,
            "timeout idle %ds" % IDLE,
            "timeout lookup %ds" % LOOKUP_TIMEOUT,
        ] + self.extra
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    @property
    def procs(self):
        return {name: d.proc for name, d in self.daemons.items()}

    def start(self, name):
        path = AUTHD if name == "authd" else LMTPD
        sock = os.path.join(self.run,
                            "auth.sock" if name == "authd" else "lmtp.sock")
        d = Daemon([path, "-d", "-v", "-f", self.conf],
                   os.path.join(self.dir, name + ".log"))
        self.daemons[name] = d
        d.start(lambda: can_connect(sock), 20, name, start_new_session=True)

    def stop(self, name):
        d = self.daemons.pop(name, None)
        if d is not None:
            d.stop(grace=10)

    def maildir(self, user):
        return os.path.join(self.mail, DOMAIN, user)

    def messages(self, user):
        """(name, contents) of the messages in new/, oldest first."""
        new = os.path.join(self.maildir(user), "new")
        if not os.path.isdir(new):
            return []
        out = []
        for n in sorted(os.listdir(new), key=delivery_order):
            with open(os.path.join(new, n), "rb") as f:
                out.append((n, f.read()))
        return out


class Client:
    """A raw LMTP client: every reply line is read and returned."""

    def __init__(self, path, timeout=10):
        if isinstance(path, tuple):
            self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        else:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """One (possibly multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def lhlo(self):
        code, lines = self.reply()
        assert code == 220 and "LMTP" in lines[0]
        code, lines = self.cmd("LHLO client.test")
        assert code == 250
        return lines

    def closed(self, timeout=5):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(1) == b""
        except OSError:
            return True

    def close(self):
        self.s.close()


def dotstuff(body):
    out = []
    for line in body.split(b"\r\n"):
        out.append(b"." + line if line.startswith(b".") else line)
    return b"\r\n".join(out)


def transaction(c, sender, rcpts, body):
    """MAIL, RCPTs, DATA: the RCPT replies and the replies after the
    final dot (one per accepted recipient)."""
    assert c.cmd("MAIL FROM:<%s>" % sender)[0] == 250
    rcpt_replies = [c.cmd("RCPT TO:<%s>" % r) for r in rcpts]
    accepted = sum(1 for code, _ in rcpt_replies if code == 250)
    code, _ = c.cmd("DATA")
    if accepted == 0:
        assert code == 503
        return rcpt_replies, []
    assert code == 354
    c.send(dotstuff(body) + b"\r\n.\r\n")
    return rcpt_replies, [c.reply() for _ in range(accepted)]


@pytest.fixture(scope="module")
def lm():
    for b in (AUTHD, LMTPD):
        if not os.access(b, os.X_OK):
            pytest.skip("%s not built" % b)
    d = tempfile.mkdtemp(prefix="tsamba-lmtpd-", dir="/tmp")
    env = Lmtpd(d)
    env.setup()
    try:
        env.start("authd")
        env.start("lmtpd")
        yield env
    finally:
        env.stop("lmtpd")
        env.stop("authd")
        if os.environ.get("TSAMBA_KEEP") != "1":
            shutil.rmtree(d, ignore_errors=True)


def addr(u):
    return "%s@%s" % (u, DOMAIN)


def test_config_check(lm):
    out = subprocess.run([LMTPD, "-n", "-f", lm.conf],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "configuration OK" in out.stdout
    bad = os.path.join(lm.dir, "bad.conf")
    with open(bad, "w") as f:
        f.write("no such statement\n")
    out = subprocess.run([LMTPD, "-n", "-f", bad], capture_output=True,
                         text=True)
    assert out.returncode == 1 and "bad.conf:1" in out.stderr


def test_lhlo_capabilities(lm):
    c = Client(lm.sock)
    lines = c.lhlo()
    caps = [l[4:] for l in lines[1:]]
    for cap in ("PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME",
                "SMTPUTF8", "SIZE %d" % MAX_SIZE):
        assert cap in caps
    assert c.cmd("QUIT")[0] == 221
    c.close()


def test_delivery_two_recipients_one_unknown(lm):
    assert not os.path.exists(lm.maildir("alice"))
    body = (b"From: s@example.org\r\nSubject: two\r\n\r\n"
            b"first line\r\n.leading dot\r\n..two dots\r\n.\r\n"
            b"8bit: \xc3\xa9t\xc3\xa9\r\nlast line")
    c = Client(lm.sock)
    c.lhlo()
    rr, dr = transaction(c, "s@example.org",
                         [addr("alice"), "nobody@" + DOMAIN, addr("bob")],
                         body)
    assert rr[0][0] == 250 and rr[0][1][0].startswith("250 2.1.5")
    assert rr[1][1][0].startswith("550 5.1.1")
    assert rr[2][0] == 250
    # Exactly one reply per accepted recipient, in RCPT order.
    assert len(dr) == 2
    assert dr[0][1][0].startswith("250 2.0.0") and "alice" in dr[0][1][0]
    assert dr[1][1][0].startswith("250 2.0.0") and "bob" in dr[1][1][0]
    assert c.cmd("NOOP")[0] == 250		# nothing extra was pending
    c.cmd("QUIT")
    c.close()

    stored = body.replace(b"\r\n", b"\n") + b"\n"
    for u in ("alice", "bob"):
        msgs = lm.messages(u)
        assert len(msgs) == 1, msgs
        name, data = msgs[0]
        assert data.startswith(b"Return-Path: <s@example.org>\n"
                               b"Delivered-To: %s\n" % addr(u).encode())
        assert data.endswith(stored)
        assert b"\nfirst line\n.leading dot\n..two dots\n.\n8bit" in data
        assert ",S=%d" % len(data) in name
    assert not lm.messages("nobody")


def test_maildir_created_owned_by_vmail(lm):
    md = lm.maildir("alice")
    for sub in ("cur", "new", "tmp"):
        st = os.stat(os.path.join(md, sub))
        assert stat.S_IMODE(st.st_mode) == 0o700
        if ROOT:
            assert st.st_uid == pwd.getpwnam("vmail").pw_uid
    name = lm.messages("alice")[0][0]
    st = os.stat(os.path.join(md, "new", name))
    assert stat.S_IMODE(st.st_mode) == 0o600
    if ROOT:
        assert st.st_uid == pwd.getpwnam("vmail").pw_uid
    assert os.listdir(os.path.join(md, "tmp")) == []


def test_long_lines_and_null_sender(lm):
    long1 = b"x" * 5000
    long2 = b"." + b"y" * 70000		# longer than io's buffer, dotted
    body = b"Subject: long\r\n\r\n" + long1 + b"\r\n" + long2 + b"\r\nend"
    c = Client(lm.sock)
    c.lhlo()
    before = {n for n, _ in lm.messages("carol")}
    _, dr = transaction(c, "", [addr("carol")], body)
    assert dr[0][0] == 250
    c.close()
    # The new file, by name: names of one second do not sort by time.
    msgs = [m for n, m in lm.messages("carol") if n not in before]
    assert len(msgs) == 1
    data = msgs[0]
    assert data.startswith(b"Return-Path: <>\n")
    assert b"\n" + long1 + b"\n" + long2 + b"\nend\n" in data


def test_tcp_listener(lm):
    c = Client(("127.0.0.1", lm.port))
    c.lhlo()
    before = len(lm.messages("bob"))
    _, dr = transaction(c, "t@example.org", [addr("bob")], b"over TCP")
    assert dr[0][0] == 250
    assert len(lm.messages("bob")) == before + 1
    c.close()


def test_oversized_message(lm):
    c = Client(lm.sock)
    c.lhlo()
    code, lines = c.cmd("MAIL FROM:<s@example.org> SIZE=%d" % (MAX_SIZE * 2))
    assert lines[0].startswith("552 5.3.4")
    before = len(lm.messages("bob"))
    body = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 200
    rr, dr = transaction(c, "s@example.org", [addr("bob"), addr("alice")],
                         body)
    assert [r[1][0][:9] for r in dr] == ["552 5.3.4", "552 5.3.4"]
    assert len(lm.messages("bob")) == before
    # The session goes on.
    _, dr = transaction(c, "s@example.org", [addr("bob")], b"small")
    assert dr[0][0] == 250
    c.close()


def test_too_many_recipients(lm):
    c = Client(lm.sock)
    c.lhlo()
    assert c.cmd("MAIL FROM:<s@example.org>")[0] == 250
    for i in range(MAX_RCPTS):
        assert c.cmd("RCPT TO:<%s>" % addr("alice"))[0] == 250
    code, lines = c.cmd("RCPT TO:<%s>" % addr("bob"))
    assert lines[0].startswith("452 4.5.3")
    assert c.cmd("RSET")[0] == 250
    c.close()


def test_protocol_errors(lm):
    c = Client(lm.sock)
    assert c.reply()[0] == 220
    assert c.cmd("MAIL FROM:<a@b.c>")[1][0].startswith("503 5.5.1")
    assert c.cmd("HELO x")[0] == 500
    assert c.cmd("EHLO x")[0] == 500
    assert c.cmd("LHLO")[1][0].startswith("501")
    assert c.cmd("LHLO client.test")[0] == 250
    assert c.cmd("RCPT TO:<%s>" % addr("bob"))[1][0].startswith("503")
    assert c.cmd("DATA")[1][0].startswith("503")
    assert c.cmd("MAIL FROM:<a@b.c> FOO=BAR")[0] == 555
    assert c.cmd("MAIL FROM:<a@b.c> BODY=8BITMIME SMTPUTF8")[0] == 250
    assert c.cmd("MAIL FROM:<a@b.c>")[1][0].startswith("503 5.5.1")
    assert c.cmd("RCPT TO:<not an address>")[1][0].startswith("501 5.1.3")
    assert c.cmd("RCPT TO:<ghost@%s>" % DOMAIN)[1][0].startswith(
        "550 5.1.1")
    assert c.cmd("DATA")[1][0].startswith("503 5.5.1")
    assert c.cmd("VRFY alice")[0] == 252
    assert c.cmd("X" * 2000)[1][0].startswith("500 5.5.2")
    assert c.cmd("NOOP")[0] == 250
    assert c.cmd("QUIT")[0] == 221
    assert c.closed()


def test_pipelined_transaction(lm):
    c = Client(lm.sock)
    assert c.reply()[0] == 220
    c.send("LHLO p.test\r\nMAIL FROM:<p@example.org>\r\n"
           "RCPT TO:<%s>\r\nRCPT TO:<ghost@%s>\r\nRCPT TO:<%s>\r\n"
           "DATA\r\n" % (addr("alice"), DOMAIN, addr("carol")))
    codes = [c.reply()[0] for _ in range(6)]
    assert codes == [250, 250, 250, 550, 250, 354]
    c.send("Subject: piped\r\n\r\npiped body\r\n.\r\nNOOP\r\nQUIT\r\n")
    codes = [c.reply()[0] for _ in range(4)]
    assert codes == [250, 250, 250, 221]
    c.close()


def test_garbage_while_another_session_works(lm):
    good = Client(lm.sock)
    good.lhlo()
    assert good.cmd("MAIL FROM:<g@example.org>")[0] == 250
    assert good.cmd("RCPT TO:<%s>" % addr("bob"))[0] == 250

    bad = Client(lm.sock)
    assert bad.reply()[0] == 220
    bad.send(b"\x00\x01\x02\xff\xfe garbage\r\n")
    assert bad.reply()[1][0].startswith("500")
    bad.send(os.urandom(4096).replace(b"\n", b"") + b"\r\n")
    assert bad.reply()[0] == 500
    # Enough errors and it is dropped.
    bad.send(b"junk\r\n" * 20)
    seen = []
    try:
        while True:
            seen.append(bad.reply()[1][0])
    except (EOFError, OSError):
        pass
    assert seen and seen[-1].startswith("421")

    before = len(lm.messages("bob"))
    assert good.cmd("DATA")[0] == 354
    good.send(b"Subject: still here\r\n\r\nok\r\n.\r\n")
    assert good.reply()[0] == 250
    assert len(lm.messages("bob")) == before + 1
    good.close()


def test_binary_body_and_bare_lf(lm):
    body = bytes(range(1, 256)).replace(b"\n", b"").replace(b"\r", b"")
    c = Client(lm.sock)
    c.lhlo()
    before = {n for n, _ in lm.messages("alice")}
    assert c.cmd("MAIL FROM:<b@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<%s>" % addr("alice"))[0] == 250
    assert c.cmd("DATA")[0] == 354
    # LF-only line ends are taken as line ends.
    c.send(b"Subject: bin\n\n" + body + b"\n.\n")
    assert c.reply()[0] == 250
    # The new file, by name: names of one second do not sort by time.
    new = [m for n, m in lm.messages("alice") if n not in before]
    assert len(new) == 1
    assert new[0].endswith(b"\n" + body + b"\n")
    c.close()


@pytest.mark.parametrize("body", [
    b"Subject: nul\r\n\r\na\x00b",
    b"Subject: nul\r\nX-Nul: \x00\r\n\r\nbody",
    b"Subject: nul\r\n\r\nbody\r\n\x00.\r\nRSET"])
def test_nul_refused(lm, body):
    """A NUL in the body (from Postfix relaying what another server let
    through) refuses the message for every recipient, as tsamba-smtpd
    does; nothing is delivered, the refusal is logged and the session
    goes on."""
    c = Client(lm.sock)
    c.lhlo()
    before = len(lm.messages("carol"))
    _, dr = transaction(c, "n@example.org", [addr("carol"), addr("bob")],
                        body)
    assert [r[1][0][:9] for r in dr] == ["550 5.6.0", "550 5.6.0"], dr
    assert len(lm.messages("carol")) == before
    _, dr = transaction(c, "n@example.org", [addr("carol")], b"clean")
    assert dr[0][0] == 250
    assert len(lm.messages("carol")) == before + 1
    assert all(b"\x00" not in m for _, m in lm.messages("carol"))
    with open(os.path.join(lm.dir, "lmtpd.log"), errors="replace") as f:
        assert "NUL character in message refused" in f.read()
    c.close()


def test_idle_timeout(lm):
    c = Client(lm.sock, timeout=IDLE + 10)
    c.lhlo()
    t = time.monotonic()
    code, lines = c.reply()
    assert lines[0].startswith("421 4.4.2")
    assert time.monotonic() - t >= IDLE - 1
    assert c.closed()


def test_many_sessions(lm):
    clients = [Client(lm.sock) for _ in range(50)]
    for c in clients:
        c.lhlo()
    before = len(lm.messages("carol"))
    for c in clients:
        c.send("MAIL FROM:<m@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n" %
               addr("carol"))
    for c in clients:
        assert [c.reply()[0] for _ in range(3)] == [250, 250, 354]
        c.send(b"Subject: many\r\n\r\nx\r\n.\r\n")
    for c in clients:
        assert c.reply()[0] == 250
        c.close()
    assert len(lm.messages("carol")) == before + 50


@pytest.mark.skipif(not shutil.which("smtp-source"),
                    reason="Postfix's smtp-source missing")
def test_postfix_smtp_source_lmtp(lm):
    """Postfix's smtp-source in LMTP mode: 200 messages, 8 sessions."""
    before = len(lm.messages("alice"))
    out = subprocess.run(["smtp-source", "-L", "-c", "-m", "200", "-s", "8",
                          "-l", "4096", "-f", "src@example.org",
                          "-t", addr("alice"),
                          "unix:" + lm.sock],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(lm.messages("alice")) == before + 200


@pytest.mark.skipif(not ROOT, reason="needs root")
def test_privileges(lm):
    # Make sure a writer exists.
    c = Client(lm.sock)
    c.lhlo()
    transaction(c, "p@example.org", [addr("bob")], b"privs")
    c.close()
    parent = lm.procs["lmtpd"].pid
    assert proc_uid(parent) == [0, 0, 0, 0]
    assert os.readlink("/proc/%d/root" % parent) == "/"
    kids = children(parent)
    tsamba = pwd.getpwnam("_tsambalmtp").pw_uid
    vmail = pwd.getpwnam("vmail").pw_uid
    engines = [k for k in kids if proc_uid(k)[0] == tsamba]
    writers = [k for k in kids if proc_uid(k)[0] == vmail]
    assert len(engines) == 1
    assert writers
    assert set(kids) == set(engines) | set(writers)
    for k in engines:
        assert proc_uid(k) == [tsamba] * 4
        assert os.readlink("/proc/%d/root" % k) == lm.empty
    for k in writers:
        assert proc_uid(k) == [vmail] * 4
        assert os.readlink("/proc/%d/root" % k) == lm.mail


def make_owned(path, data=None):
    """A directory (data None) or file as the mailbox owner makes it."""
    if data is None:
        os.makedirs(path, 0o700, exist_ok=True)
    else:
        with open(path, "wb") as f:
            f.write(data)
    if ROOT:
        v = pwd.getpwnam("vmail")
        os.chown(path, v.pw_uid, v.pw_gid)


def test_stale_tmp_removed_on_delivery(lm):
    """What a killed writer left in tmp/ goes after 36 hours (the Maildir
    rule) when mail is delivered there; a younger file stays."""
    md = lm.maildir("dave")
    make_owned(os.path.dirname(md))
    for sub in ("", "cur", "new", "tmp"):
        make_owned(os.path.join(md, sub))
    now = time.time()
    files = {"stale": now - 37 * 3600, "fresh": now - 35 * 3600,
             "now": now}
    for name, t in files.items():
        path = os.path.join(md, "tmp", "1.M1P%sQ1.host" % name)
        make_owned(path, b"half a message")
        os.utime(path, (t, t))
    # Not in tmp/: an old message is never touched.
    old = os.path.join(md, "new", "2.M1P1Q1.host,S=3,W=3")
    make_owned(old, b"old")
    os.utime(old, (now - 100 * 3600, now - 100 * 3600))

    c = Client(lm.sock)
    c.lhlo()
    _, dr = transaction(c, "s@example.org", [addr("dave")], b"new mail")
    assert dr[0][0] == 250
    c.cmd("QUIT")
    c.close()
    assert sorted(os.listdir(os.path.join(md, "tmp"))) == [
        "1.M1PfreshQ1.host", "1.M1PnowQ1.host"]
    assert os.path.exists(old)
    assert len(lm.messages("dave")) == 2
    with open(os.path.join(lm.dir, "lmtpd.log")) as f:
        assert "removed 1 stale file from %s/dave/tmp" % DOMAIN in f.read()


def test_maildirsize_kept_up(lm):
    """A Maildir++ quota file (Dovecot's) gets one line per delivery, so
    the use it shows stays right; a Maildir without one gets none."""
    md = lm.maildir("dave")
    size = os.path.join(md, "maildirsize")
    make_owned(size, b"1000000S,1000C\n3 1\n")
    c = Client(lm.sock)
    c.lhlo()
    _, dr = transaction(c, "s@example.org", [addr("dave"), addr("carol")],
                        b"Subject: q\r\n\r\ncounted")
    assert [r[0] for r in dr] == [250, 250]
    c.close()
    names = [n for n, _ in lm.messages("dave")
             if not n.startswith("2.M1P1Q1.host")]
    stored = max(names, key=lambda n: os.stat(
        os.path.join(md, "new", n)).st_mtime_ns)
    n = os.path.getsize(os.path.join(md, "new", stored))
    with open(size, "rb") as f:
        assert f.read() == b"1000000S,1000C\n3 1\n%d 1\n" % n
    assert not os.path.exists(os.path.join(lm.maildir("carol"),
                                           "maildirsize"))


def test_writer_death_is_survived(lm):
    c = Client(lm.sock)
    c.lhlo()
    transaction(c, "w@example.org", [addr("alice")], b"spawn")
    parent = lm.procs["lmtpd"].pid
    kids = children(parent)
    root = {k: os.readlink("/proc/%d/root" % k) for k in kids}
    if ROOT:
        writers = [k for k in kids if root[k] == lm.mail]
    else:
        # Not chrooted: the engine is the oldest child.
        writers = sorted(kids)[1:]
    assert writers
    for k in writers:
        os.kill(k, signal.SIGKILL)
    wait_for(lambda: not (set(writers) & set(children(parent))), 10,
             what="writers to go")
    before = len(lm.messages("alice"))
    _, dr = transaction(c, "w@example.org", [addr("alice")], b"again")
    assert dr[0][0] == 250
    assert len(lm.messages("alice")) == before + 1
    assert lm.procs["lmtpd"].poll() is None
    c.close()


def test_authd_down_is_tempfail(lm):
    c = Client(lm.sock)
    c.lhlo()
    lm.stop("authd")
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    code, lines = c.cmd("RCPT TO:<%s>" % addr("alice"))
    assert lines[0].startswith("451 4.3.0")
    lm.start("authd")
    code, lines = c.cmd("RCPT TO:<%s>" % addr("alice"))
    assert code == 250
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: back\r\n\r\nauthd is back\r\n.\r\n")
    assert c.reply()[0] == 250
    c.close()


def test_authd_lost_under_a_pending_rcpt(lm):
    """authd dies while a RCPT waits for its LOOKUP_USER: the lookup
    fails with the channel and the client hears 451, not a hang."""
    c = Client(lm.sock)
    c.lhlo()
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    authd = lm.procs["authd"]
    os.kill(authd.pid, signal.SIGSTOP)
    try:
        c.send("RCPT TO:<%s>\r\n" % addr("alice"))
        # authd is stopped: the lookup is out and unanswered
        ready, _, _ = select.select([c.s], [], [], 1.0)
        assert not ready
        os.kill(authd.pid, signal.SIGKILL)
        code, lines = c.reply()
        assert code == 451 and lines[0].startswith("451 4.3.0"), lines
    finally:
        if authd.poll() is None:
            os.kill(authd.pid, signal.SIGKILL)
        authd.wait(10)
        lm.stop("authd")
    lm.start("authd")
    code, lines = c.cmd("RCPT TO:<%s>" % addr("alice"))
    assert code == 250, lines
    c.close()


def test_authd_hung_is_tempfail(lm):
    """authd alive but silent (stopped, as a query stuck in the
    database would leave it): past "timeout lookup" the RCPT gets 451,
    and once authd answers again the next RCPT is taken; its late
    answer to the first lookup is dropped, not taken for the second."""
    c = Client(lm.sock)
    c.lhlo()
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    authd = lm.procs["authd"]
    os.kill(authd.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        code, lines = c.cmd("RCPT TO:<%s>" % addr("alice"))
        waited = time.monotonic() - t0
        assert code == 451 and lines[0].startswith("451 4.3.0"), lines
        assert waited >= LOOKUP_TIMEOUT - 0.5, waited
    finally:
        os.kill(authd.pid, signal.SIGCONT)
    code, lines = c.cmd("RCPT TO:<nobody-here@%s>" % DOMAIN)
    assert code == 550, lines
    code, lines = c.cmd("RCPT TO:<%s>" % addr("alice"))
    assert code == 250, lines
    assert lm.procs["lmtpd"].poll() is None
    c.close()


def proc_root(pid):
    """/proc/PID/root, or None for a child that exited meanwhile (an
    idle writer may go between listing the children and reading)."""
    try:
        return os.readlink("/proc/%d/root" % pid)
    except (FileNotFoundError, ProcessLookupError):
        return None


def lmtpd_writers(lm):
    kids = children(lm.procs["lmtpd"].pid)
    if ROOT:
        return [k for k in kids if proc_root(k) == lm.mail]
    # Not chrooted: the engine is the oldest child.
    return sorted(kids)[1:]


def log_count(lm, text):
    with open(os.path.join(lm.dir, "lmtpd.log"), errors="replace") as f:
        return f.read().count(text)


def test_sigterm_answers_deliveries_in_flight(lm):
    """SIGTERM while a writer holds a delivery (the writer stopped, so
    the message is handed over and unanswered): lmtpd waits for the
    writer, the client hears its 250 and then 421, an idle session
    hears 421 at once, and lmtpd exits 0.  Without the 250 the client
    would deliver the message again."""
    c = Client(lm.sock)
    c.lhlo()
    transaction(c, "t@example.org", [addr("bob")], b"spawn a writer")
    writers = lmtpd_writers(lm)
    assert writers
    idle = Client(lm.sock)
    idle.lhlo()
    before = len(lm.messages("bob"))
    handed = log_count(lm, "handed to writer")
    parent = lm.procs["lmtpd"]
    for k in writers:
        os.kill(k, signal.SIGSTOP)
    try:
        assert c.cmd("MAIL FROM:<t@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<%s>" % addr("bob"))[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: in flight\r\n\r\nheld by a stopped writer\r\n"
               b".\r\n")
        wait_for(lambda: log_count(lm, "handed to writer") > handed, 10,
                 what="the delivery to reach a writer")
        parent.send_signal(signal.SIGTERM)
    finally:
        for k in writers:
            os.kill(k, signal.SIGCONT)
    code, lines = c.reply()
    assert code == 250 and "delivered" in lines[0], lines
    code, lines = c.reply()
    assert lines[0].startswith("421 4.3.2"), lines
    assert c.closed()
    code, lines = idle.reply()
    assert lines[0].startswith("421 4.3.2"), lines
    assert parent.wait(15) == 0
    assert len(lm.messages("bob")) == before + 1
    assert lm.messages("bob")[-1][1].endswith(
        b"held by a stopped writer\n")
    c.close()
    idle.close()
    lm.daemons.pop("lmtpd")
    lm.start("lmtpd")


@pytest.fixture
def lm_capped():
    """A second lmtpd with one writer at most, stopped after 2s idle."""
    for b in (AUTHD, LMTPD):
        if not os.access(b, os.X_OK):
            pytest.skip("%s not built" % b)
    d = tempfile.mkdtemp(prefix="tsamba-lmtpd-cap-", dir="/tmp")
    env = Lmtpd(d)
    env.extra = ["limit lmtp-writers 1", "timeout lmtp-writer-idle 2s"]
    env.setup()
    try:
        env.start("authd")
        env.start("lmtpd")
        yield env
    finally:
        env.stop("lmtpd")
        env.stop("authd")
        shutil.rmtree(d, ignore_errors=True)


def send_body(c, rcpt, body):
    assert c.cmd("MAIL FROM:<cap@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(body + b"\r\n.\r\n")


def test_writers_capped_and_stopped_when_idle(lm_capped):
    """With "limit lmtp-writers 1" a second delivery waits for the busy
    writer instead of starting another (counted in /proc), both get
    their 250, and the writer, idle, exits after 2s; the next delivery
    starts a new one."""
    lm = lm_capped
    a, b, c = (Client(lm.sock) for _ in range(3))
    for x in (a, b, c):
        x.lhlo()
    transaction(a, "cap@example.org", [addr("carol")], b"spawn")
    writers = lmtpd_writers(lm)
    assert len(writers) == 1
    handed = log_count(lm, "handed to writer")
    os.kill(writers[0], signal.SIGSTOP)
    try:
        send_body(b, addr("carol"), b"one")
        send_body(c, addr("dave"), b"two")
        wait_for(lambda: log_count(lm, "handed to writer") >= handed + 2,
                 10, what="both deliveries handed to a writer")
        assert lmtpd_writers(lm) == writers
    finally:
        os.kill(writers[0], signal.SIGCONT)
    for x in (b, c):
        code, lines = x.reply()
        assert code == 250, lines
    wait_for(lambda: not lmtpd_writers(lm), 10,
             what="the idle writer to exit")
    _, dr = transaction(a, "cap@example.org", [addr("carol")], b"again")
    assert dr[0][0] == 250
    assert len(lmtpd_writers(lm)) == 1
    for x in (a, b, c):
        x.close()
    assert lm.procs["lmtpd"].poll() is None
    # Stopped on purpose, not lost: no "writer N for uid U gone" warning.
    assert log_count(lm, " gone") == 0


def test_stop_leaves_nothing(lm):
    parent = lm.procs["lmtpd"].pid
    kids = children(parent)
    lm.stop("lmtpd")
    wait_for(lambda: not any(os.path.exists("/proc/%d" % k) and
                             open("/proc/%d/stat" % k).read().split()[2]
                             != "Z" for k in kids), 10,
             what="children to exit")
    assert not os.path.exists(lm.sock)
