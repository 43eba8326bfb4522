"""A client that says QUIT and goes away without reading the 221: over
implicit TLS (465) and after STARTTLS (587), with a close_notify, a plain
close or a reset (SO_LINGER 0).  The write of the reply then fails (libtls
reports the peer closed, or EPIPE/ECONNRESET); the engine must close that
session with a log line and go on serving, not spin on the write.  The
same for tsamba-lmtpd, whose sessions use the same lib/io.c."""

import os
import socket
import ssl
import struct
import time

import pytest

from helpers import send, tls_context
from sandbox import socket_inodes, tcp_listening, wait_for

CLK_TCK = os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def tsb(sandbox_factory):
    return sandbox_factory("close", submission=True,
                           limits={"sessions-per-ip": 100})


def engine_pid(sb, name="smtpd"):
    """The process of a daemon that holds its listening sockets (the smtp
    engine), or for lmtpd the one holding lmtp.sock open."""
    listening = tcp_listening()
    top = sb.pid(name)
    kids = [p for p in sb.tree(name) if p != top]
    if name == "smtpd":
        kids = [p for p in kids if socket_inodes(p) & listening]
    assert kids, "no %s engine among %s" % (name, sb.tree(name))
    return kids[0]


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def assert_idle(pid, seconds=1.5, limit=0.3):
    """Over the next seconds the process uses less than limit seconds of
    CPU; a spinning one fails as soon as it has used that much."""
    start = time.monotonic()
    c0 = cpu_seconds(pid)
    while time.monotonic() - start < seconds:
        used = cpu_seconds(pid) - c0
        assert used < limit, "pid %d used %.2fs of CPU in %.2fs" % (
            pid, used, time.monotonic() - start)
        time.sleep(0.05)


class MemTLS:
    """TLS over a plain socket through memory BIOs, so that a close_notify
    can be sent without waiting for the server's (ssl.unwrap() waits)."""

    def __init__(self, raw):
        self.raw = raw
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = tls_context().wrap_bio(self.inc, self.out)
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                data = raw.recv(65536)
                if not data:
                    raise EOFError("server closed during the handshake")
                self.inc.write(data)
        self.flush()

    def flush(self):
        data = self.out.read()
        if data:
            self.raw.sendall(data)

    def send(self, data):
        self.obj.write(data)
        self.flush()

    def close_notify(self):
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        self.flush()


def connect(sb, port, starttls):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    if starttls:
        f = raw.makefile("rb")
        assert f.readline().startswith(b"220")
        raw.sendall(b"EHLO client.test\r\n")
        while True:
            line = f.readline()
            assert line.startswith(b"250"), line
            if line[3:4] == b" ":
                break
        raw.sendall(b"STARTTLS\r\n")
        assert f.readline().startswith(b"220")
    return raw


def smtpd_log(sb):
    with open(os.path.join(sb.logdir, "smtpd.log"), errors="replace") as f:
        return f.read()


def gone_logged(sb, port):
    """The engine logged the end of the session from that client port."""
    return "disconnect from [127.0.0.1]:%d " % port in smtpd_log(sb)


@pytest.mark.parametrize("how", ["close_notify", "close", "reset"])
@pytest.mark.parametrize("listener", ["smtps", "submission"])
def test_quit_and_vanish_over_tls(tsb, listener, how):
    pid = engine_pid(tsb)
    raw = connect(tsb, tsb.ports[listener], listener == "submission")
    cport = raw.getsockname()[1]
    t = MemTLS(raw)
    t.send(b"QUIT\r\n")
    if how == "close_notify":
        t.close_notify()
    if how == "reset":
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       struct.pack("ii", 1, 0))
    raw.close()
    assert_idle(pid)
    wait_for(lambda: gone_logged(tsb, cport), 10,
             what="the engine logging the end of the session")
    assert tsb.smtp_banner() is not None
    msgid, _, resp = send(tsb, tsb.demo_user, subject="after " + how)
    assert resp.startswith("2.0.0"), resp


@pytest.mark.parametrize("how", ["close", "reset"])
def test_pipelined_replies_to_a_vanished_plain_client(tsb, how):
    """Many pipelined commands, QUIT, and gone: the replies hit EPIPE or
    ECONNRESET on the plain socket."""
    pid = engine_pid(tsb)
    raw = socket.create_connection(("127.0.0.1", tsb.smtp_port), timeout=10)
    cport = raw.getsockname()[1]
    raw.sendall(b"EHLO client.test\r\n" + b"NOOP\r\n" * 2000 + b"QUIT\r\n")
    if how == "reset":
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       struct.pack("ii", 1, 0))
    raw.close()
    assert_idle(pid)
    wait_for(lambda: gone_logged(tsb, cport), 10,
             what="the engine logging the end of the session")
    msgid, _, resp = send(tsb, tsb.demo_user, subject="after plain " + how)
    assert resp.startswith("2.0.0"), resp


def test_lmtp_client_that_vanishes(tsb):
    """tsamba-lmtpd: pipelined LHLOs and QUIT on lmtp.sock, closed at once;
    its replies hit EPIPE.  The session is closed and lmtpd still
    answers the next client."""
    pid = engine_pid(tsb, "lmtpd") if len(tsb.tree("lmtpd")) > 1 else \
        tsb.pid("lmtpd")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(tsb.lmtp_sock)
    s.sendall(b"LHLO client.test\r\n" * 300 + b"QUIT\r\n")
    s.close()
    assert_idle(pid)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(tsb.lmtp_sock)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220")
    s.sendall(b"LHLO client.test\r\n")
    assert f.readline().startswith(b"250")
    s.close()
