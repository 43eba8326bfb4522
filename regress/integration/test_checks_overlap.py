"""The DKIM key and DMARC record lookups of tsamba-smtpd start at the end
of the message's header, before the final dot (tsamba-smtpd(8), INBOUND
CHECKS), and a session that goes away while they are in flight leaves
smtpd serving the next client.

The resolver is a DNS server of our own on a loopback UDP port: it
records every question, answers NXDOMAIN at once for names under
answered.test, and holds the others until the test releases them, so a
question is provably out before the dot and its answer provably comes
after the session is gone.
"""

import os
import socket
import struct
import threading

import pytest

from helpers import new_msgid, wait_copy
from sandbox import wait_for
import dnsfix


def qname(pkt):
    """The question's name of a DNS query, lower case."""
    labels, i = [], 12
    while i < len(pkt) and pkt[i] != 0:
        n = pkt[i]
        labels.append(pkt[i + 1:i + 1 + n].decode(errors="replace"))
        i += 1 + n
    return ".".join(labels).lower(), i + 5


class HoldingDns:
    """Answers NXDOMAIN for *.answered.test, holds every other query."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.held = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @staticmethod
    def nxdomain(pkt, end):
        qid, = struct.unpack("!H", pkt[:2])
        return struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + \
            pkt[12:end]

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                pkt, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(pkt) < 17:
                continue
            name, end = qname(pkt)
            with self.lock:
                self.seen.append(name)
                if name == "answered.test" or \
                        name.endswith(".answered.test"):
                    self.sock.sendto(self.nxdomain(pkt, end), peer)
                else:
                    self.held.append((pkt, end, peer))

    def asked(self, name):
        with self.lock:
            return name in self.seen

    def release(self):
        """NXDOMAIN for every query held so far; how many."""
        with self.lock:
            held, self.held = self.held, []
            for pkt, end, peer in held:
                self.sock.sendto(self.nxdomain(pkt, end), peer)
        return len(held)

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def world(sandbox_factory):
    dns = HoldingDns()
    sb = sandbox_factory("overlap", smtp_opts="spf dkim dmarc", extra=[
        'check resolver "127.0.0.1@%d"' % dns.port,
    ])
    yield sb, dns
    dns.stop()


class Client:
    """A raw SMTP session: lines out, replies in."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.f = self.s.makefile("rb")
        assert self.reply()[0] == 220

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            assert line, "connection closed"
            lines.append(line)
            if line[3:4] != b"-":
                return int(line[:3]), b"".join(lines)

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.reply()

    def drop(self):
        """Gone without QUIT: a reset, not a close."""
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
        self.f.close()
        self.s.close()


def header(frm, sigs):
    """A header block with DKIM-Signature fields (never verifiable: the
    keys are never published) and the From: lines given."""
    h = "".join("DKIM-Signature: %s\r\n" % s for s in sigs)
    h += "".join("From: <%s>\r\n" % f for f in frm)
    h += "Subject: overlap\r\nMessage-ID: %s\r\n\r\n" % new_msgid()
    return h.encode()


SIGS = [
    "v=1; a=rsa-sha256; d=%s; s=%s; c=relaxed/relaxed; h=from; "
    "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
    # malformed: no tags at all, then a repeated tag
    "garbage",
    "v=1; v=1; d=x.test",
]


def sigs(domain, selector):
    return [SIGS[0] % (domain, selector)] + SIGS[1:]


def start_data(sb, c, tag):
    assert c.cmd("EHLO client.test")[0] == 250
    assert c.cmd("MAIL FROM:<a@%s.test>" % tag)[0] == 250
    assert c.cmd("RCPT TO:<%s>" % sb.address(sb.users[1]))[0] == 250


def wait_asked(dns, *names):
    for n in names:
        wait_for(lambda: dns.asked(n), 30, what="question for " + n)


def test_lookups_before_the_dot_then_drop(world):
    sb, dns = world
    engine = set(sb.tree("smtpd"))

    # DATA: the header and part of the body, no dot, then a reset.
    c = Client(sb.smtp_port)
    start_data(sb, c, "drop1")
    assert c.cmd("DATA")[0] == 354
    c.s.sendall(header(["x@from1.test"], sigs("sig1.test", "s1")) +
                b"The body, not yet ended.\r\n")
    wait_asked(dns, "s1._domainkey.sig1.test", "_dmarc.from1.test")
    c.drop()

    # BDAT: a first chunk with the header, then RSET and QUIT.
    c = Client(sb.smtp_port)
    start_data(sb, c, "drop2")
    chunk = header(["x@sub.from2.test"], sigs("sig2.test", "s2")) + \
        b"More.\r\n"
    c.s.sendall(b"BDAT %d\r\n" % len(chunk) + chunk)
    assert c.reply()[0] == 250
    wait_asked(dns, "s2._domainkey.sig2.test", "_dmarc.sub.from2.test")
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("QUIT")[0] == 221
    c.drop()

    # Two From: fields: no DMARC question, the key one still early.
    c = Client(sb.smtp_port)
    start_data(sb, c, "drop3")
    assert c.cmd("DATA")[0] == 354
    c.s.sendall(header(["x@from3.test", "y@from3.test"],
                       sigs("sig3.test", "s3")))
    wait_asked(dns, "s3._domainkey.sig3.test")
    c.drop()

    wait_for(lambda: sb.log("smtpd").count("disconnect from") >= 3, 30,
             what="the three sessions ended")
    # The answers now come for transactions that are gone.
    assert dns.release() > 0
    assert not dns.asked("_dmarc.from3.test")

    # The next client is served, its lookups answered at once.
    c = Client(sb.smtp_port)
    assert c.cmd("EHLO answered.test")[0] == 250
    assert c.cmd("MAIL FROM:<a@answered.test>")[0] == 250
    assert c.cmd("RCPT TO:<%s>" % sb.address(sb.users[1]))[0] == 250
    assert c.cmd("DATA")[0] == 354
    msgid = new_msgid()
    code, text = c.cmd("From: <a@answered.test>\r\nMessage-ID: %s\r\n"
                       "\r\nHello.\r\n." % msgid)
    assert code == 250, text
    assert c.cmd("QUIT")[0] == 221
    c.drop()
    wait_copy(sb, sb.address(sb.users[1]), msgid)
    assert set(sb.tree("smtpd")) == engine
    assert "fatal" not in sb.log("smtpd").lower()
