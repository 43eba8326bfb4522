"""Small clients for the end-to-end tests: messages with unique
Message-IDs, a raw SMTP session for pipelining, BDAT and bad input, and
look-ups of delivered mail by Message-ID."""

import email
import email.policy
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import uuid

from sandbox import wait_for

SENDER = "sender@example.net"


def new_msgid():
    return "<%s@test.tsamba>" % uuid.uuid4().hex


def make_message(to, subject="test", body=None, msgid=None):
    """(Message-ID, bytes) of a small RFC 5322 message with CRLF line
    endings, as it goes on the wire before dot-stuffing (smtplib sends
    bytes as they are)."""
    msgid = msgid or new_msgid()
    if body is None:
        body = ("Hello,\n\n"
                ".a line starting with a dot\n"
                "..two dots\n"
                "trailing spaces   \n"
                "\tand a tab\n"
                "-- \nthe end\n")
    text = ("From: Sender <%s>\n"
            "To: %s\n"
            "Subject: %s\n"
            "Message-ID: %s\n"
            "Date: Wed, 25 Nov 2026 12:00:00 +0000\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\n"
            "\n%s") % (SENDER, ", ".join(to) if isinstance(to, list)
                       else to, subject, msgid, body)
    return msgid, text.replace("\n", "\r\n").encode()


def smtp(sb, timeout=30):
    s = smtplib.SMTP("127.0.0.1", sb.smtp_port, timeout=timeout)
    s.ehlo("client.test")
    return s


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def send(sb, rcpts, subject="test", body=None, tls=False):
    """Send one message with smtplib; returns (msgid, bytes sent, the
    DATA reply)."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    msgid, msg = make_message(rcpts, subject, body)
    with smtp(sb) as s:
        if tls:
            s.starttls(context=tls_context())
            s.ehlo("client.test")
        code, resp = s.mail(SENDER)
        assert code == 250, (code, resp)
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code == 250, (r, code, resp)
        code, resp = s.data(msg)
        assert code == 250, (code, resp)
    return msgid, msg, resp.decode(errors="replace")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def msgid_of(data):
    """The Message-ID header of raw message bytes, or None."""
    head = data.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    for line in head.splitlines():
        if line[:11].lower() == b"message-id:":
            return line[11:].strip().decode(errors="replace")
    return None


def copies(sb, address, msgid):
    """Paths in address's Maildir holding the message msgid."""
    return [p for p in sb.maildir_messages(address)
            if msgid_of(read(p)) == msgid]


def wait_copy(sb, address, msgid, timeout=30):
    """Path of msgid in address's Maildir, waiting for it."""
    return wait_for(lambda: copies(sb, address, msgid), timeout,
                    what="%s in the Maildir of %s" % (msgid, address))[0]


class MsgIndex:
    """Message-ID -> paths over the whole mail root, read incrementally
    (each file is read once) for tests that wait for many messages."""

    def __init__(self, sb):
        self.sb = sb
        self.seen = set()
        self.ids = {}

    def scan(self):
        for p in self.sb.all_messages():
            # new/ -> cur/ renames make a new path; key on the base name
            key = os.path.basename(p).split(":")[0]
            if key in self.seen:
                continue
            try:
                mid = msgid_of(read(p))
            except FileNotFoundError:
                continue
            self.seen.add(key)
            self.ids.setdefault(mid, []).append(p)
        return self.ids

    def missing(self, msgids):
        ids = self.scan()
        return [m for m in msgids if m not in ids]

    def wait_all(self, msgids, timeout):
        try:
            wait_for(lambda: not self.missing(msgids), timeout,
                     interval=0.2, what="%d messages" % len(msgids))
        except TimeoutError:
            miss = self.missing(msgids)
            raise AssertionError("%d of %d accepted messages never "
                                 "arrived, e.g. %s" % (
                                     len(miss), len(msgids), miss[:5]))


def normalize(data):
    return data.replace(b"\r\n", b"\n")


def body_intact(delivered, sent):
    """The delivered file ends with exactly the message that was sent
    (trace headers are only ever prepended)."""
    return normalize(delivered).endswith(normalize(sent))


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.compat32)

def our_authres(hostname, data):
    """The Authentication-Results fields of a delivered message that
    carry our authserv-id, parsed by python3-authres."""
    import authres
    head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode()
    fields = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    out = [authres.AuthenticationResultsHeader.parse(f) for f in fields
           if f.lower().startswith("authentication-results:")]
    return [a for a in out if a.authserv_id == hostname]


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def start_milter(request, where, log):
    """The test milter (milter_actions.py) on where (a port or
    unix:/path), stopped by pid at the end."""
    p = subprocess.Popen([sys.executable, "-u",
                          os.path.join(os.path.dirname(
                              os.path.abspath(__file__)),
                              "milter_actions.py"),
                          str(where), "carol@example.test"],
                         stdout=log, stderr=subprocess.STDOUT)

    def stop():
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    request.addfinalizer(stop)
    return p


class Raw:
    """An SMTP session over a plain socket: exact bytes out, replies in."""

    def __init__(self, sb, timeout=15, source=None):
        self.sock = socket.create_connection(
            ("127.0.0.1", sb.smtp_port), timeout=timeout,
            source_address=source)
        self.f = self.sock.makefile("rb")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """(code, [text lines]) of one possibly multi-line reply;
        (None, []) when the server closed the connection."""
        lines = []
        while True:
            line = self.f.readline(4096)
            if not line:
                return None, lines
            line = line.rstrip(b"\r\n").decode(errors="replace")
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                try:
                    return int(line[:3]), lines
                except ValueError:
                    return -1, lines

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def banner_and_ehlo(self):
        code, _ = self.reply()
        assert code == 220, code
        code, caps = self.cmd("EHLO client.test")
        assert code == 250, (code, caps)
        return [c.upper() for c in caps[1:]]

    def closed(self):
        """True when the server has closed (EOF)."""
        try:
            return self.f.readline(4096) == b""
        except (ConnectionResetError, socket.timeout):
            return False

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ClientThreads:
    """Threads running self.run(i) (i = 0..n-1) until stop(): a burst of
    clients.  run() records each message accepted in self.accepted
    (under self.lock) and returns when self.stopping is set."""

    def __init__(self, n):
        self.accepted = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,))
                        for i in range(n)]

    def run(self, i):
        raise NotImplementedError

    def count(self):
        with self.lock:
            return len(self.accepted)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60)


class ImapLines:
    """A logged-in IMAP session on a connected socket, for tests where
    the order of the untagged lines matters: cmd() sends one command and
    returns (untagged lines, the tagged reply without its tag)."""

    def __init__(self, sock, user, password):
        self.s = sock
        self.f = sock.makefile("rb")
        self.n = 0
        assert self.f.readline().startswith(b"* OK")
        _, t = self.cmd('LOGIN "%s" "%s"' % (user, password))
        assert t.startswith("OK"), t

    def tag(self):
        self.n += 1
        return "t%d" % self.n

    def tagged(self, tag):
        lines = []
        while True:
            line = self.f.readline()
            assert line, "connection closed before the tagged reply"
            line = line.decode().rstrip("\r\n")
            if line.startswith(tag + " "):
                return lines, line[len(tag) + 1:]
            lines.append(line)

    def cmd(self, text):
        tag = self.tag()
        self.s.sendall(("%s %s\r\n" % (tag, text)).encode())
        return self.tagged(tag)

    def close(self):
        self.cmd("LOGOUT")
        self.s.close()


def imaps_lines(sb, timeout=15):
    """ImapLines as the sandbox's demo user on the implicit TLS port."""
    sock = tls_context().wrap_socket(socket.create_connection(
        ("127.0.0.1", sb.ports["imaps"]), timeout=timeout))
    return ImapLines(sock, sb.demo_user, sb.password)
