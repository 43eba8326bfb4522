"""COMPRESS=DEFLATE (RFC 4978) in tsamba-imapd, with a raw socket client
that deflates what it sends and inflates what it reads with Python's
zlib (raw deflate, wbits -15), as a real client would:

- over TLS on 993 and after STARTTLS on 143: LOGIN, COMPRESS DEFLATE,
  then SELECT, APPEND (a synchronizing literal), FETCH of what was
  appended, IDLE seeing a message delivered through smtpd meanwhile,
  a second COMPRESS refused with NO [COMPRESSIONACTIVE], LOGOUT;
- COMPRESS with a bad mechanism or no argument is BAD, before login it
  is refused too;
- garbage in place of deflate data ends that session with a BYE (and a
  log line) while another session goes on;
- an idle compressed session costs little memory: PSS of its mail
  process beside one without COMPRESS."""

import re
import socket
import ssl
import zlib

import pytest

from helpers import send, tls_context
from sandbox import wait_for
from test_imapd import imapd_processes, mail_pid_of

TIMEOUT = 15
LITERAL = re.compile(rb"~?\{(\d+)\}\r\n$")


@pytest.fixture(scope="module")
def isb(sandbox_factory):
    return sandbox_factory("imapz", imap=True)


class Client:
    """IMAP over a socket; compression switched on by start_deflate()."""

    def __init__(self, sock):
        self.s = sock
        self.s.settimeout(TIMEOUT)
        self.buf = b""
        self.comp = self.decomp = None
        self.raw_in = 0

    def send(self, data):
        if self.comp is not None:
            data = self.comp.compress(data) + \
                self.comp.flush(zlib.Z_SYNC_FLUSH)
        self.s.sendall(data)

    def _more(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.raw_in += len(d)
        if self.decomp is not None:
            d = self.decomp.decompress(d)
        self.buf += d

    def readline(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def read(self, n):
        while len(self.buf) < n:
            self._more()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def response(self):
        """One response line with its literals inline."""
        line = self.readline()
        while True:
            m = LITERAL.search(line)
            if m is None:
                return line
            line += self.read(int(m.group(1))) + self.readline()

    def command(self, tag, text):
        """Send one command; (untagged responses, tagged line)."""
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.until(tag)

    def until(self, tag):
        lines = []
        while True:
            line = self.response()
            if line.startswith(tag.encode() + b" "):
                return lines, line
            lines.append(line)

    def start_deflate(self):
        self.comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.decomp = zlib.decompressobj(-15)
        # What came behind the OK in the same read is compressed.
        if self.buf:
            self.buf = self.decomp.decompress(self.buf)

    def close(self):
        self.s.close()


def imaps_client(sb):
    s = tls_context().wrap_socket(socket.create_connection(
        ("127.0.0.1", sb.ports["imaps"]), timeout=TIMEOUT))
    c = Client(s)
    assert c.readline().startswith(b"* OK")
    return c


def starttls_client(sb):
    c = Client(socket.create_connection(("127.0.0.1", sb.ports["imap"]),
                                        timeout=TIMEOUT))
    assert c.readline().startswith(b"* OK")
    _, ok = c.command("s0", b"STARTTLS")
    assert ok.startswith(b"s0 OK"), ok
    c.s = tls_context().wrap_socket(c.s)
    c.s.settimeout(TIMEOUT)
    return c


def login(c, sb):
    _, ok = c.command("a1", b"LOGIN " + sb.demo_user.encode() + b" " +
                      sb.password.encode())
    assert ok.startswith(b"a1 OK"), ok


def compress(c):
    untagged, ok = c.command("z1", b"CAPABILITY")
    assert b"COMPRESS=DEFLATE" in untagged[0].split(), untagged
    # The OK is not compressed; what follows it is.
    c.send(b"z2 COMPRESS DEFLATE\r\n")
    line = c.readline()
    assert line.startswith(b"z2 OK"), line
    c.start_deflate()


def session_under_compression(c, sb):
    _, ok = c.command("c1", b"SELECT INBOX")
    assert ok.startswith(b"c1 OK"), ok
    body = (b"From: a@example.org\r\nSubject: deflated\r\n\r\n" +
            b"compressible line of text\r\n" * 200)
    c.send(b"c2 APPEND INBOX {%d}\r\n" % len(body))
    assert c.readline().startswith(b"+ ")
    raw_before = c.raw_in
    c.send(body + b"\r\n")
    _, ok = c.until("c2")
    m = re.search(rb"APPENDUID \d+ (\d+)", ok)
    assert m, ok
    uid = m.group(1)
    untagged, ok = c.command("c3", b"UID FETCH " + uid + b" BODY.PEEK[]")
    assert ok.startswith(b"c3 OK"), ok
    fetched = [u for u in untagged if b" FETCH " in u]
    assert fetched and body in fetched[0], fetched
    # The 5 KB came back in far fewer bytes on the wire.
    assert c.raw_in - raw_before < len(body) // 4
    _, ok = c.command("c4", b"COMPRESS DEFLATE")
    assert ok.startswith(b"c4 NO [COMPRESSIONACTIVE]"), ok
    # IDLE: the EXISTS of a message delivered meanwhile, deflated.
    c.send(b"c5 IDLE\r\n")
    assert c.readline().startswith(b"+ ")
    send(sb, sb.demo_user, subject="arrived while idling compressed")
    line = c.readline()
    assert line.endswith(b" EXISTS\r\n"), line
    c.send(b"DONE\r\n")
    _, ok = c.until("c5")
    assert ok.startswith(b"c5 OK"), ok
    untagged, ok = c.command("c6", b"FETCH * BODY.PEEK[HEADER.FIELDS "
                             b"(SUBJECT)]")
    assert b"arrived while idling compressed" in b"".join(untagged)
    untagged, ok = c.command("c7", b"LOGOUT")
    assert untagged[0].startswith(b"* BYE"), untagged
    assert ok.startswith(b"c7 OK"), ok


@pytest.mark.parametrize("connect", [imaps_client, starttls_client],
                         ids=["993", "starttls"])
def test_compress_session(isb, connect):
    c = connect(isb)
    try:
        login(c, isb)
        compress(c)
        session_under_compression(c, isb)
    finally:
        c.close()


def test_compress_bad_arguments(isb):
    c = imaps_client(isb)
    try:
        _, r = c.command("b0", b"COMPRESS DEFLATE")
        assert r.startswith(b"b0 BAD") and b"log in first" in r, r
        login(c, isb)
        _, r = c.command("b1", b"COMPRESS GZIP")
        assert r.startswith(b"b1 BAD"), r
        _, r = c.command("b2", b"COMPRESS")
        assert r.startswith(b"b2 BAD"), r
        _, r = c.command("b3", b"COMPRESS DEFLATE EXTRA")
        assert r.startswith(b"b3 BAD"), r
        # Still uncompressed: a plain NOOP works.
        _, r = c.command("b4", b"NOOP")
        assert r.startswith(b"b4 OK"), r
    finally:
        c.close()


def test_garbage_ends_only_that_session(isb):
    other = imaps_client(isb)
    c = imaps_client(isb)
    try:
        login(other, isb)
        compress(other)
        login(c, isb)
        compress(c)
        # Not deflate: a block type 3 is invalid from the first byte.
        c.s.sendall(b"\xff\xfe\xfd garbage\r\n" * 8)
        rest = b""
        try:
            while True:
                c._more()
        except (EOFError, OSError, ssl.SSLError):
            rest = c.buf
        assert b"* BYE" in rest, rest
        wait_for(lambda: "corrupt compressed input" in isb.log("imapd"),
                 TIMEOUT, what="the log line")
        _, r = other.command("g1", b"NOOP")
        assert r.startswith(b"g1 OK"), r
        _, r = other.command("g2", b"LOGOUT")
        assert r.startswith(b"g2 OK"), r
    finally:
        c.close()
        other.close()


def smaps_kb(pid):
    """{field: kB} of /proc/PID/smaps_rollup."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            w = line.split()
            if len(w) == 3 and w[2] == "kB":
                out[w[0].rstrip(":")] = int(w[1])
    return out


def idle_session(sb, deflate, before):
    c = imaps_client(sb)
    login(c, sb)
    pid = mail_pid_of(sb, before)
    if deflate:
        compress(c)
    _, ok = c.command("p1", b"SELECT INBOX")
    assert ok.startswith(b"p1 OK"), ok
    # 48 KB each way first, so that both zlib windows have been filled.
    body = b"Subject: fill\r\n\r\n" + b"".join(
        b"line %d of the window filler %x\r\n" % (i, i * 7919)
        for i in range(1500))
    c.send(b"p2 APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
    _, ok = c.until("p2")
    uid = re.search(rb"APPENDUID \d+ (\d+)", ok).group(1)
    untagged, ok = c.command("p3", b"UID FETCH " + uid + b" BODY.PEEK[]")
    assert ok.startswith(b"p3 OK") and body in untagged[-1], ok
    untagged, ok = c.command("p4", b"FETCH 1:* (FLAGS ENVELOPE)")
    assert ok.startswith(b"p4 OK"), ok
    c.send(b"p5 IDLE\r\n")
    assert c.readline().startswith(b"+ ")
    return c, pid


@pytest.mark.root
def test_idle_memory(isb):
    """PSS of an idle mail process, with and without COMPRESS.  What a
    session costs is its anonymous memory (Pss_Anon): the library pages
    in Pss are shared with every other process that maps them, and
    their share moves with what else runs.  zlib's state (inflate's
    32 KB window and 7 KB state, our 24 KB deflate and its 6 KB state)
    and the 2 KB stdio buffer of the deflating stream add 50 to 85 KB; with
    zlib's default deflate (256 KB) it would be over 300 KB."""
    _, _, before = imapd_processes(isb)
    plain, ppid = idle_session(isb, False, before)
    _, _, before = imapd_processes(isb)
    zc, zpid = idle_session(isb, True, before)
    try:
        p, z = smaps_kb(ppid), smaps_kb(zpid)
        print("idle mail process: Pss %d KB (anon %d KB) plain, "
              "Pss %d KB (anon %d KB) with COMPRESS" %
              (p["Pss"], p["Pss_Anon"], z["Pss"], z["Pss_Anon"]))
        assert z["Pss_Anon"] - p["Pss_Anon"] < 128, (p, z)
    finally:
        plain.close()
        zc.close()
