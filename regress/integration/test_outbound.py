"""Outbound delivery end to end: a sending tsamba whose mta resolves through
dnsmasq (dnsfix.py) on a loopback port and delivers on `mta port N` to
receiving servers on other loopback addresses: a second tsamba instance
(hosting remote.test on 127.0.0.3), Postfix's smtp-sink with scripted
replies, and a small Python SMTP server with STARTTLS and AUTH (the relay
host).

Mail is injected over port 25 of the sending instance to aliases whose
destinations are remote (an alias needs no AUTH); the sender is a local
mailbox so that bounces land in its Maildir.
"""

import base64
import email
import email.policy
import glob
import os
import re
import shutil
import signal
import smtplib
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from sandbox import wait_for
import dnsfix

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"

pytestmark = [
    pytest.mark.skipif(not os.path.exists(SMTP_SINK),
                       reason="smtp-sink (postfix) not installed"),
    pytest.mark.skipif(not os.path.exists(dnsfix.DNSMASQ),
                       reason="dnsmasq (dnsmasq-base) not installed"),
]

REMOTE_IP = "127.0.0.3"		# the second tsamba, mx1.remote.test
SINK_A = "127.0.0.5"
SINK_B = "127.0.0.6"
DEAD_IP = "127.0.0.7"		# nothing listens there
SOFT_IP = "127.0.0.8"
HARD_IP = "127.0.0.9"
RELAY_IP = "127.0.0.10"
SIZE_IP = "127.0.0.11"
LEGACY_IP = "127.0.0.12"	# TLS 1.2 with a CBC suite without PFS only
RELAY_USER = "relayuser"
RELAY_PASS = "s3cret pass"

ALIASES = {
    "to-remote": "bob@remote.test",
    "to-pref": "x@pref.test",
    "to-fallback": "x@fallback.test",
    "to-amx": "x@amx.test",
    "to-verify": "bob@verify.test",
    "to-soft": "x@soft.test",
    "to-hard": "x@hard.test",
    "to-nullmx": "x@nomail.test",
    "to-nx": "x@nx.test",
    "to-size": "x@size.test",
    "to-legacy": "x@legacy.test",
}


def free_port_on(*addrs):
    """A TCP port free on every one of the loopback addresses."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        ok = True
        for a in addrs:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((a, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port


# --------------------------------------------------------------- smtp-sink

class Sink:
    """smtp-sink on addr:port dumping each message into a directory."""

    def __init__(self, dir, addr, port, *opts):
        self.dir = dir
        self.addr, self.port, self.opts = addr, port, list(opts)
        self.proc = None
        os.makedirs(dir, exist_ok=True)
        os.chmod(dir, 0o777)

    def start(self):
        cmd = [SMTP_SINK, "-d", os.path.join(self.dir, "%H%M%S.")]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        cmd += self.opts + ["%s:%d" % (self.addr, self.port), "32"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_for(self._answers, 10, what="smtp-sink on %s" % self.addr)
        return self

    def _answers(self):
        try:
            with socket.create_connection((self.addr, self.port), 1) as s:
                return s.recv(100).startswith(b"220")
        except OSError:
            return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=5)
        self.proc = None

    def messages(self):
        out = []
        for p in sorted(glob.glob(os.path.join(self.dir, "*"))):
            with open(p, "rb") as f:
                out.append(f.read())
        return out


# --------------------------------------------- a relay host with AUTH (stdlib)

class RelayHandler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        srv = self.server
        self.tls = False
        self.reply("220 relay.test ESMTP")
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            cmd = line.decode(errors="replace").rstrip("\r\n")
            srv.commands.append(cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                ext = ["250-relay.test"]
                if srv.starttls and not self.tls:
                    ext.append("250-STARTTLS")
                if self.tls or srv.auth_in_clear:
                    ext.append("250-AUTH PLAIN LOGIN")
                if srv.size:
                    ext.append("250-SIZE %d" % srv.size)
                ext.append("250 8BITMIME")
                for e in ext:
                    self.reply(e)
            elif verb == "STARTTLS":
                self.reply("220 go ahead")
                sock = srv.ctx.wrap_socket(self.connection,
                                           server_side=True)
                self.connection = sock
                self.rfile = sock.makefile("rb")
                self.wfile = sock.makefile("wb")
                self.tls = True
            elif verb == "AUTH":
                parts = cmd.split(" ")
                if parts[1].upper() == "PLAIN":
                    raw = base64.b64decode(parts[2])
                    _, user, pw = raw.split(b"\0")
                    srv.auths.append((self.tls, user.decode(),
                                      pw.decode()))
                    ok = (user.decode() == RELAY_USER and
                          pw.decode() == RELAY_PASS)
                    self.reply("235 2.7.0 ok" if ok else
                               "535 5.7.8 bad credentials")
                else:
                    self.reply("504 5.5.4 mechanism not supported")
            elif verb == "MAIL":
                self.reply("250 2.1.0 ok")
            elif verb == "RCPT":
                self.reply("250 2.1.5 ok")
            elif verb == "DATA":
                self.reply("354 go")
                data = b""
                while True:
                    l = self.rfile.readline(65536)
                    if not l or l == b".\r\n":
                        break
                    data += l[1:] if l.startswith(b".") else l
                srv.messages.append((self.tls, data))
                self.reply("250 2.0.0 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


class RelayServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, port, cert, key, starttls=True, size=0):
        super().__init__((addr, port), RelayHandler)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.starttls = starttls
        self.auth_in_clear = True
        self.size = size
        self.commands, self.auths, self.messages = [], [], []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self):
        self.shutdown()
        self.server_close()


# --------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def world(sandbox_factory):
    # smtp-sink writes its dumps as nobody: a directory it can reach.
    base = tempfile.mkdtemp(prefix="tsamba-outbound-", dir="/tmp")
    os.chmod(base, 0o755)
    port = free_port_on(REMOTE_IP, SINK_A, SINK_B, DEAD_IP, SOFT_IP,
                        HARD_IP, SIZE_IP, LEGACY_IP)
    dns = dnsfix.DnsServer(os.path.join(base, "dns"))
    dns.mx("remote.test", "mx1.remote.test", 10)
    dns.host("mx1.remote.test", REMOTE_IP)
    dns.mx("pref.test", "mx-a.pref.test", 10)
    dns.mx("pref.test", "mx-b.pref.test", 20)
    dns.host("mx-a.pref.test", SINK_A)
    dns.host("mx-b.pref.test", SINK_B)
    dns.mx("fallback.test", "mx-dead.fallback.test", 10)
    dns.mx("fallback.test", "mx-b.fallback.test", 20)
    dns.host("mx-dead.fallback.test", DEAD_IP)
    dns.host("mx-b.fallback.test", SINK_B)
    dns.host("amx.test", SINK_A)			# no MX: the A record
    dns.mx("verify.test", "mx.verify.test", 10)
    dns.host("mx.verify.test", REMOTE_IP)	# self-signed, wrong name
    dns.host("soft.test", SOFT_IP)
    dns.host("hard.test", HARD_IP)
    dns.host("size.test", SIZE_IP)
    dns.host("legacy.test", LEGACY_IP)
    dns.null_mx("nomail.test")
    dns.txt("remote.test", "v=spf1 -all")
    dns.start()

    remote = sandbox_factory("remote", domain="remote.test",
                             catchall_domain="catchall-remote.test",
                             listen_addr=REMOTE_IP, ports={"smtp": port},
                             hostname="mx1.remote.test")
    sender = sandbox_factory(
        "sender", hostname="mail.example.test",
        aliases=["%s@example.test: %s" % kv for kv in ALIASES.items()],
        queue={"retry-min": "1s", "retry-max": "2s"},
        extra=[dns.resolver_conf(), "mta port %d" % port,
               'mta tls verify domain "verify.test"'])
    w = type("World", (), {})()
    w.dns, w.port, w.remote, w.sender, w.base = dns, port, remote, sender, base
    yield w
    dns.stop()
    if os.environ.get("TSAMBA_KEEP") != "1":
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def sinks(world):
    started = []

    def start(addr, *opts):
        d = tempfile.mkdtemp(prefix="sink-", dir=world.base)
        s = Sink(d, addr, world.port, *opts).start()
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


def inject(sb, rcpt, subject="outbound test", body="Hello remote.\n"):
    """Send a message to sb's port 25 from its demo user; the Message-ID."""
    msgid = "<%s@example.test>" % os.urandom(8).hex()
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n"
           "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n\r\n%s" % (
               sb.demo_user, rcpt, subject, msgid,
               body.replace("\n", "\r\n")))
    with smtplib.SMTP("127.0.0.1", sb.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        s.sendmail(sb.demo_user, [rcpt], msg.encode())
    return msgid


def read_all(paths):
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out.append(f.read())
    return out


def find(msgs, needle):
    return [m for m in msgs if needle.encode() in m]


def queue_log(sb):
    return sb.log("queue")


# --------------------------------------------------------------- tests

def test_delivered_to_remote_maildir_over_starttls(world):
    msgid = inject(world.sender, "to-remote@example.test")
    box = "bob@remote.test"
    got = wait_for(lambda: find(read_all(
        world.remote.maildir_messages(box)), msgid), 30,
        what="mail in the remote Maildir")
    m = email.message_from_bytes(got[0], policy=email.policy.default)
    received = " ".join(m.get_all("Received"))
    assert "from mail.example.test" in received
    assert "with ESMTPS" in received, received
    log = queue_log(world.sender)
    assert "to=<bob@remote.test>" in log
    assert "relay=mx1.remote.test [127.0.0.3] tls=TLSv1." in log
    assert "status=sent" in log


def test_mx_preference(world, sinks):
    a = sinks(SINK_A)
    b = sinks(SINK_B)
    msgid = inject(world.sender, "to-pref@example.test")
    wait_for(lambda: find(a.messages(), msgid), 30, what="mail at MX 10")
    assert not find(b.messages(), msgid)


def test_fallback_to_next_mx(world, sinks):
    b = sinks(SINK_B)
    msgid = inject(world.sender, "to-fallback@example.test")
    wait_for(lambda: find(b.messages(), msgid), 30, what="mail at MX 20")
    log = queue_log(world.sender)
    assert "mx-dead.fallback.test [127.0.0.7]: connect:" in log


def test_no_mx_uses_a_record(world, sinks):
    a = sinks(SINK_A)
    msgid = inject(world.sender, "to-amx@example.test")
    wait_for(lambda: find(a.messages(), msgid), 30, what="mail via A")


def test_connection_without_tls_is_logged(world, sinks):
    a = sinks(SINK_A)
    msgid = inject(world.sender, "to-amx@example.test")
    wait_for(lambda: find(a.messages(), msgid), 30, what="mail via A")
    assert "connection to amx.test [127.0.0.5] without TLS" in \
        queue_log(world.sender)


def test_tls_verify_refuses_bad_certificate(world):
    msgid = inject(world.sender, "to-verify@example.test")
    wait_for(lambda: "certificate verification failed" in
             queue_log(world.sender), 30, what="verification failure")
    log = queue_log(world.sender)
    line = [l for l in log.splitlines() if "to=<bob@verify.test>" in l]
    assert line and "status=deferred" in line[-1], line
    assert "status=sent" not in " ".join(line)
    # Still queued, delivered nowhere.
    assert os.listdir(os.path.join(world.sender.spool, "queue"))
    assert not find(read_all(world.remote.all_messages()), msgid)


def test_tempfail_then_success(world, sinks):
    soft = sinks(SOFT_IP, "-r", "RCPT")
    msgid = inject(world.sender, "to-soft@example.test")
    wait_for(lambda: "to=<x@soft.test>" in queue_log(world.sender) and
             "status=deferred" in queue_log(world.sender), 30,
             what="a deferral")
    soft.stop()
    ok = sinks(SOFT_IP)
    wait_for(lambda: find(ok.messages(), msgid), 60,
             what="delivery on retry")


def bounces_for(sb, needle):
    return find(read_all(sb.maildir_messages(sb.demo_user)), needle)


# A line of the mta process, after the time a foreground daemon's lines
# start with.
MTA_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d mta: ")


def mta_bounced(sb, rcpt, text):
    """The mta's result line: rcpt bounced with text in the reply."""
    return [l for l in sb.log("queue").splitlines()
            if MTA_LINE.match(l) and "to=<%s>" % rcpt in l and
            "status=bounced" in l and text in l]


def test_hard_failure_bounces(world, sinks):
    sinks(HARD_IP, "-f", "RCPT", "-B", "550 5.1.1 no such user (test)")
    inject(world.sender, "to-hard@example.test")
    wait_for(lambda: mta_bounced(world.sender, "x@hard.test",
                                 "550 5.1.1 no such user (test)"), 30,
             what="the 5xx result")


def test_hard_failure_bounce_in_senders_maildir(world, sinks):
    sinks(HARD_IP, "-f", "RCPT", "-B", "550 5.1.1 unknown (maildir)")
    inject(world.sender, "to-hard@example.test")
    got = wait_for(lambda: bounces_for(world.sender, "unknown (maildir)"),
                   30, what="a bounce in the sender's Maildir")
    assert b"multipart/report" in got[0]
    assert b"x@hard.test" in got[0]
    assert b"Diagnostic-Code: smtp; 550 5.1.1 unknown (maildir)" in got[0]


def test_null_mx_bounces_at_once(world):
    inject(world.sender, "to-nullmx@example.test")
    wait_for(lambda: mta_bounced(world.sender, "x@nomail.test",
                                 "556 5.1.10"), 30, what="null MX result")
    line = mta_bounced(world.sender, "x@nomail.test", "556 5.1.10")[0]
    assert "relay=none" in line


def test_nxdomain_bounces(world):
    inject(world.sender, "to-nx@example.test")
    wait_for(lambda: mta_bounced(world.sender, "x@nx.test", "5.1.2"), 30,
             what="an NXDOMAIN result")


def test_size_limit_of_the_server(world):
    srv = RelayServer(SIZE_IP, world.port, world.remote.cert,
                      world.remote.key, starttls=False, size=100)
    try:
        inject(world.sender, "to-size@example.test", body="x" * 500 + "\n")
        wait_for(lambda: mta_bounced(world.sender, "x@size.test",
                                     "552 5.3.4"), 30, what="SIZE result")
        assert not srv.messages
        assert not [c for c in srv.commands if c.startswith("MAIL")]
    finally:
        srv.stop()


def test_mta_refuses_suites_without_forward_secrecy(world):
    """The mta offers forward-secret AEAD suites only: a server that
    speaks nothing else fails the handshake, and the opportunistic
    client delivers in clear instead."""
    srv = RelayServer(LEGACY_IP, world.port, world.remote.cert,
                      world.remote.key)
    srv.ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    srv.ctx.set_ciphers("AES128-SHA")
    try:
        msgid = inject(world.sender, "to-legacy@example.test")
        wait_for(lambda: [m for tls, m in srv.messages
                          if msgid.encode() in m], 30,
                 what="the mail after the failed handshake")
        assert "STARTTLS" in srv.commands
        assert [tls for tls, m in srv.messages] == [False]
        assert "trying again without TLS" in queue_log(world.sender)
    finally:
        srv.stop()


def test_relay_host_with_auth(world, sandbox_factory, tmp_path):
    port = free_port_on(RELAY_IP)
    secret = tmp_path / "relay-secret"
    secret.write_text("%s:%s\n" % (RELAY_USER, RELAY_PASS))
    os.chmod(str(tmp_path), 0o755)
    srv = RelayServer(RELAY_IP, port, world.remote.cert, world.remote.key,
                      starttls=False)
    try:
        sb = sandbox_factory(
            "relay", hostname="mail.example.test",
            aliases=["to-remote@example.test: bob@remote.test"],
            queue={"retry-min": "1s", "retry-max": "2s"},
            extra=[world.dns.resolver_conf(),
                   'relay host "%s" port %d starttls auth "%s"' % (
                       RELAY_IP, port, secret)])
        # No STARTTLS offered: credentials are never sent in clear.
        msgid = inject(sb, "to-remote@example.test")
        wait_for(lambda: "refusing to send credentials in clear" in
                 sb.log("queue"), 30, what="the refusal")
        assert not srv.auths and not srv.messages
        # STARTTLS offered: AUTH PLAIN over TLS, then the mail.
        srv.starttls = True
        wait_for(lambda: srv.messages, 30, what="mail at the relay")
        assert srv.auths == [(True, RELAY_USER, RELAY_PASS)]
        tls, data = srv.messages[0]
        assert tls and msgid.encode() in data
        assert "relay=%s [%s]" % (RELAY_IP, RELAY_IP) in sb.log("queue")
    finally:
        srv.stop()


@pytest.mark.root
def test_mta_process_is_chrooted_and_unprivileged(world):
    import pwd
    from sandbox import proc_root, proc_uids
    uid = pwd.getpwnam("_tsambamta").pw_uid
    sb = world.sender
    mtas = [p for p in sb.tree("queue")
            if p != sb.pid("queue") and proc_uids(p)[0] == uid]
    assert len(mtas) == 1, mtas
    assert set(proc_uids(mtas[0])) == {uid}
    assert os.path.realpath(proc_root(mtas[0])) == \
        os.path.realpath(sb.chroot)
