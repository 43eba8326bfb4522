"""tsamba-queue on its own: Python plays the smtp engine over queue.sock
(imsg framing of lib/imsg.h and lib/proto.h) and a tiny LMTP server on a
UNIX socket records what the queue delivers and answers scripted
per-recipient replies.

Started as root when possible, so that the privilege drop of the queue
process (user and chroot) is checked from /proc as well.
"""

import email
import email.policy
import os
import pathlib
import re
import pwd
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from imsgclient import IMSG_HELLO, PROTO_VERSION, RCPT_LOCAL, Reader, frame
from imsgclient import pack
from imsgclient import pack_str as s

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
QUEUE = os.path.join(TOP, "queue", "tsamba-queue")
QUSER = "_tsambaq"

from imsgclient import QUEUE_MSG_CREATE as MSG_CREATE
from imsgclient import QUEUE_MSG_CREATED as MSG_CREATED
from imsgclient import QUEUE_MSG_COMMIT as MSG_COMMIT
from imsgclient import QUEUE_MSG_COMMITTED as MSG_COMMITTED
from imsgclient import QUEUE_MSG_ROLLBACK as MSG_ROLLBACK
QUEUE_OK, QUEUE_TEMPFAIL, QUEUE_INVALID = 0, 1, 2
HASFD = 0x80000000

pytestmark = pytest.mark.skipif(not os.path.exists(QUEUE),
                                reason="tsamba-queue not built")


def is_root():
    return os.geteuid() == 0


def wait_for(cond, timeout=10.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


# --- imsg ------------------------------------------------------------

def u8(v):
    return struct.pack("<B", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


class ImsgConn:
    """One queue.sock client, blocking, with a timeout."""

    def __init__(self, path, hello=True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""
        self.fds = []
        self.reqid = 0
        if hello:
            self.send(IMSG_HELLO, u32(PROTO_VERSION) + s("test-smtp"))
            t, _, r = self.recv()
            assert t == IMSG_HELLO and r.u32() == PROTO_VERSION

    def close(self):
        self.sock.close()
        for fd in self.fds:
            os.close(fd)

    def send(self, type_, payload):
        self.sock.sendall(frame(type_, payload))

    def _fill(self):
        data, fds, _, _ = socket.recv_fds(self.sock, 65536, 4)
        if not data:
            raise EOFError("queue closed the connection")
        self.buf += data
        self.fds += fds

    def recv(self):
        while len(self.buf) < 16:
            self._fill()
        type_, length, _, _ = struct.unpack("<IIII", self.buf[:16])
        n = length & 0xffff
        while len(self.buf) < n:
            self._fill()
        payload, self.buf = self.buf[16:n], self.buf[n:]
        fd = None
        if length & HASFD:
            fd = self.fds.pop(0)
        return type_, fd, Reader(payload)

    def create(self):
        self.reqid += 1
        self.send(MSG_CREATE, u64(self.reqid))
        t, fd, r = self.recv()
        assert t == MSG_CREATED
        assert r.u64() == self.reqid
        status, msgid = r.u8(), r.str()
        r.end()
        return status, msgid, fd

    def commit(self, msgid, sender, rcpts, body=1, smtputf8=0, auth=None,
               held=0):
        self.reqid += 1
        lst = []
        for rc in rcpts:
            addr, flags = rc if isinstance(rc, tuple) else (rc, RCPT_LOCAL)
            lst.append(dict(rcpt=addr, orcpt=addr, flags=flags))
        # auth: the SMTP AUTH user, "" when the session did not log in;
        # held: 1 when a milter quarantined the message
        _, p = pack("QUEUE_MSG_COMMIT", id=self.reqid, msgid=msgid,
                    sender=sender, helo="client.test", client="192.0.2.1",
                    body=body, smtputf8=smtputf8, rcpts=lst,
                    auth=auth or "", held=held)
        self.send(MSG_COMMIT, p)
        t, fd, r = self.recv()
        assert t == MSG_COMMITTED and fd is None
        assert r.u64() == self.reqid
        status = r.u8()
        r.end()
        return status

    def submit(self, sender, rcpts, body, auth=None, held=0):
        status, msgid, fd = self.create()
        assert status == QUEUE_OK and fd is not None
        os.write(fd, body)
        os.close(fd)
        return msgid, self.commit(msgid, sender, rcpts, auth=auth,
                                  held=held)


# --- a scripted LMTP server --------------------------------------------

class LmtpHandler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        srv = self.server
        srv.connections += 1
        self.reply("220 lmtp.test LMTP ready")
        txn = None
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "LHLO":
                if srv.pipelining:
                    self.reply("250-lmtp.test")
                    self.reply("250-PIPELINING")
                    self.reply("250 ENHANCEDSTATUSCODES")
                else:
                    self.reply("250 lmtp.test")
            elif verb == "MAIL":
                txn = {"from": cmd[10:].split(">")[0].lstrip("<"),
                       "mail": cmd, "rcpts": [], "accepted": []}
                self.reply("250 2.1.0 ok")
            elif verb == "RCPT":
                addr = cmd[8:].split(">")[0].lstrip("<")
                txn["rcpts"].append(addr)
                r = srv.script_pop(srv.rcpt_script, addr)
                if r is None:
                    txn["accepted"].append(addr)
                    r = "250 2.1.5 ok"
                self.reply(r)
            elif verb == "DATA":
                if not txn or not txn["accepted"]:
                    self.reply("503 5.5.1 no valid recipients")
                    continue
                self.reply("354 go ahead")
                lines = []
                while True:
                    ln = self.rfile.readline()
                    if not ln:
                        return
                    if ln == b".\r\n":
                        break
                    if ln.startswith(b"."):
                        ln = ln[1:]
                    lines.append(ln)
                txn["data"] = b"".join(lines)
                with srv.lock:
                    srv.txns.append(txn)
                for addr in txn["accepted"]:
                    r = srv.script_pop(srv.data_script, addr)
                    self.reply(r or "250 2.0.0 <%s> delivered" % addr)
                txn = None
            elif verb == "RSET":
                txn = None
                self.reply("250 2.0.0 ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("500 5.5.2 what?")


class LmtpServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path, pipelining=True):
        self.txns = []
        self.lock = threading.Lock()
        self.rcpt_script = {}
        self.data_script = {}
        self.connections = 0
        self.pipelining = pipelining
        super().__init__(path, LmtpHandler)
        os.chmod(path, 0o666)
        self.thread = threading.Thread(target=self.serve_forever,
                                       daemon=True)
        self.thread.start()

    def script_pop(self, script, addr):
        with self.lock:
            lst = script.get(addr)
            return lst.pop(0) if lst else None

    def delivered_to(self, addr):
        with self.lock:
            return [t for t in self.txns if addr in t["accepted"]]

    def stop(self):
        self.shutdown()
        self.server_close()
        try:
            os.unlink(self.server_address)
        except OSError:
            pass


# --- the daemon ------------------------------------------------------

class Queue:
    def __init__(self, base):
        self.base = base
        self.proc = None

    @property
    def sock(self):
        return os.path.join(self.base, "run", "queue.sock")

    @property
    def spool(self):
        return os.path.join(self.base, "spool")

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.log = open(os.path.join(self.base, "queue.log"), "ab")
        self.proc = subprocess.Popen(
            [QUEUE, "-d", "-v", "-f", os.path.join(self.base, "tsamba.conf")],
            stdout=self.log, stderr=subprocess.STDOUT)
        assert wait_for(lambda: os.path.exists(self.sock) and
                        self.child() is not None), self.logtext()

    def child(self):
        try:
            kids = open("/proc/%d/task/%d/children" %
                        (self.proc.pid, self.proc.pid)).read().split()
        except OSError:
            return None
        return int(kids[0]) if kids else None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()

    def logtext(self):
        with open(os.path.join(self.base, "queue.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def queued(self):
        return sorted(os.listdir(os.path.join(self.spool, "queue")))


def ensure_user():
    try:
        pwd.getpwnam(QUSER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell",
                        "/usr/sbin/nologin", QUSER], check=True)


@pytest.fixture
def base():
    # The queue connects to the LMTP socket with its own user's ids, so
    # the directory must be reachable by it: pytest's tmp_path is not.
    top = tempfile.mkdtemp(prefix="tsamba-base-")
    tmp_path = pathlib.Path(top)
    d = tmp_path / "q"
    (d / "run").mkdir(parents=True)
    (d / "empty").mkdir()       # the mta's chroot
    if is_root():
        ensure_user()
        os.chmod(tmp_path, 0o755)
        os.chmod(d, 0o755)
    user = QUSER if is_root() else pwd.getpwuid(os.getuid()).pw_name
    (d / "tsamba.conf").write_text(
        'hostname "mx.test"\n'
        'rundir "%(d)s/run"\n'
        'spool "%(d)s/spool"\n'
        'user queue "%(u)s"\n'
        'user smtpd "%(u)s"\n'
        'user mta "%(u)s"\n'
        'chroot "%(d)s/empty"\n'
        'mta resolver "127.0.0.1@9"\n'
        'queue retry-min 1s\n'
        'queue retry-max 2s\n'
        'queue lmtp "%(d)s/run/lmtp.sock"\n' % {"d": d, "u": user})
    yield str(d)
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def lmtp(base):
    srv = LmtpServer(os.path.join(base, "run", "lmtp.sock"))
    yield srv
    srv.stop()


@pytest.fixture
def queue(base, lmtp):
    q = Queue(base)
    q.start()
    yield q
    q.stop()


BODY = (b"Received: from client.test\r\n"
        b"From: Alice <alice@sender.test>\r\n"
        b"To: bob@mx.test\r\n"
        b"Subject: dots\r\n"
        b"\r\n"
        b"first line\r\n"
        b".\r\n"
        b"..two dots\r\n"
        b".leading dot\r\n"
        b"last line without dot\r\n")


def test_commit_then_delivery_exact_body(queue, lmtp):
    c = ImsgConn(queue.sock)
    msgid, st = c.submit("alice@sender.test",
                         ["bob@mx.test", "carol@mx.test"], BODY)
    assert st == QUEUE_OK
    assert len(msgid) == 16 and int(msgid, 16) >= 0
    assert wait_for(lambda: lmtp.delivered_to("carol@mx.test"))
    t = lmtp.delivered_to("bob@mx.test")[0]
    # All recipients of a message in one transaction, body unchanged.
    assert t["rcpts"] == ["bob@mx.test", "carol@mx.test"]
    assert t["from"] == "alice@sender.test"
    assert "BODY=8BITMIME" in t["mail"]
    assert t["data"] == BODY
    assert wait_for(lambda: queue.queued() == []), queue.queued()
    log = queue.logtext()
    assert "%s: to=<bob@mx.test> status=sent relay=lmtp" % msgid in log
    c.close()


def test_lf_only_body_gets_crlf(queue, lmtp):
    c = ImsgConn(queue.sock)
    body = b"Subject: lf\n\n.dot\nplain\n"
    c.submit("alice@sender.test", ["lf@mx.test"], body)
    assert wait_for(lambda: lmtp.delivered_to("lf@mx.test"))
    assert lmtp.delivered_to("lf@mx.test")[0]["data"] == \
        body.replace(b"\n", b"\r\n")
    c.close()


def test_tempfail_retried_then_delivered(queue, lmtp):
    lmtp.data_script["slow@mx.test"] = ["451 4.2.0 try again later"]
    c = ImsgConn(queue.sock)
    msgid, st = c.submit("alice@sender.test",
                         ["slow@mx.test", "fast@mx.test"], BODY)
    assert st == QUEUE_OK
    assert wait_for(lambda: lmtp.delivered_to("fast@mx.test"))
    # the first try was refused for slow, a later one delivers it alone
    assert wait_for(lambda: len(lmtp.delivered_to("slow@mx.test")) == 2)
    tries = lmtp.delivered_to("slow@mx.test")
    assert tries[1]["rcpts"] == ["slow@mx.test"]
    assert tries[1]["data"] == BODY
    assert len(lmtp.delivered_to("fast@mx.test")) == 1
    assert wait_for(lambda: queue.queued() == [])
    assert "to=<slow@mx.test> status=deferred" in queue.logtext()
    c.close()


def test_permfail_bounces_to_sender(queue, lmtp):
    lmtp.data_script["nobody@mx.test"] = ["550 5.1.1 no such user"]
    c = ImsgConn(queue.sock)
    msgid, st = c.submit("alice@sender.test",
                         ["nobody@mx.test", "bob@mx.test"], BODY,
                         auth="alice@sender.test")
    assert st == QUEUE_OK
    bounces = wait_for(lambda: lmtp.delivered_to("alice@sender.test"))
    assert bounces, queue.logtext()
    b = bounces[0]
    assert b["from"] == ""
    m = email.message_from_bytes(b["data"], policy=email.policy.default)
    assert m.get_content_type() == "multipart/report"
    assert m.get_param("report-type") == "delivery-status"
    assert m["To"].addresses[0].addr_spec == "alice@sender.test"
    parts = [p.get_content_type() for p in m.iter_parts()]
    assert parts == ["text/plain", "message/delivery-status",
                     "text/rfc822-headers"]
    dsn = list(m.iter_parts())[1]
    blocks = dsn.get_payload()
    fields = {}
    for blk in blocks:
        for k, v in blk.items():
            fields.setdefault(k.lower(), []).append(str(v))
    assert fields["reporting-mta"] == ["dns; mx.test"]
    assert fields["final-recipient"] == ["rfc822; nobody@mx.test"]
    assert fields["action"] == ["failed"]
    assert fields["status"] == ["5.1.1"]
    assert "550 5.1.1 no such user" in fields["diagnostic-code"][0]
    assert "arrival-date" in fields
    hdrs = list(m.iter_parts())[2].get_content()
    assert "Subject: dots" in hdrs
    # the good recipient still got it, the original leaves the spool
    assert lmtp.delivered_to("bob@mx.test")
    assert wait_for(lambda: queue.queued() == [])
    c.close()


def held_in_envelope(queue, msgid):
    path = os.path.join(queue.spool, "queue", msgid + ".env")
    try:
        return "\nheld 1\n" in open(path).read()
    except OSError:
        return False


def test_null_sender_never_bounced(queue, lmtp):
    # no bounce (it could loop), but not lost either: kept on hold
    lmtp.data_script["gone@mx.test"] = ["550 5.1.1 no such user"]
    c = ImsgConn(queue.sock)
    msgid, st = c.submit("", ["gone@mx.test"], BODY)
    assert st == QUEUE_OK
    assert wait_for(lambda: "no bounce for the null sender" in
                    queue.logtext())
    assert wait_for(lambda: held_in_envelope(queue, msgid))
    time.sleep(1.5)
    assert queue.queued() == [msgid, msgid + ".env"]
    with lmtp.lock:
        assert all(t["from"] == "" and t["rcpts"] == ["gone@mx.test"]
                   for t in lmtp.txns)
        assert len(lmtp.txns) == 1
    c.close()


def test_bounce_of_bounce_is_kept(queue, lmtp):
    # the original is refused, and so is its bounce: logged and kept
    lmtp.data_script["nobody@mx.test"] = ["550 5.1.1 no such user"]
    lmtp.data_script["alice@elsewhere.test"] = ["550 5.1.1 unknown"]
    c = ImsgConn(queue.sock)
    msgid, _ = c.submit("alice@elsewhere.test", ["nobody@mx.test"], BODY,
                        auth="alice@elsewhere.test")
    assert wait_for(lambda: "no bounce for the null sender" in
                    queue.logtext())
    # the original is gone, the bounce stays on hold, nothing loops
    assert wait_for(lambda: len(queue.queued()) == 2)
    bounce = queue.queued()[0]
    assert bounce != msgid and held_in_envelope(queue, bounce)
    time.sleep(1.5)
    assert len(lmtp.delivered_to("alice@elsewhere.test")) == 1
    c.close()


def test_rcpt_stage_refusal_and_pipelining_off(base):
    srv = LmtpServer(os.path.join(base, "run", "lmtp.sock"),
                     pipelining=False)
    srv.rcpt_script["nope@mx.test"] = ["550 5.1.1 unknown"]
    q = Queue(base)
    q.start()
    try:
        c = ImsgConn(q.sock)
        c.submit("alice@sender.test", ["nope@mx.test", "yes@mx.test"],
                 BODY, auth="alice@sender.test")
        assert wait_for(lambda: srv.delivered_to("yes@mx.test"))
        assert srv.delivered_to("yes@mx.test")[0]["data"] == BODY
        assert wait_for(lambda: q.queued() == [])
        assert "to=<nope@mx.test> status=bounced" in q.logtext()
        c.close()
    finally:
        q.stop()
        srv.stop()


def test_remote_recipient_stays_queued(queue, lmtp):
    # no DNS answers (the resolver is a closed port): deferred, kept
    c = ImsgConn(queue.sock)
    msgid, st = c.submit("alice@sender.test",
                         [("far@remote.test", 0), "near@mx.test"], BODY)
    assert st == QUEUE_OK
    assert wait_for(lambda: lmtp.delivered_to("near@mx.test"))
    assert wait_for(lambda: "to=<far@remote.test> status=deferred" in
                    queue.logtext(), timeout=30), queue.logtext()
    time.sleep(0.5)
    assert queue.queued() == [msgid, msgid + ".env"]
    env = open(os.path.join(queue.spool, "queue", msgid + ".env")).read()
    assert "rcpt near@mx.test\n" in env and "state done\n" in env
    assert "rcpt far@remote.test\n" in env and "state pending\n" in env
    c.close()


def test_commit_held_stays_on_hold(queue, lmtp):
    # held 1 in MSG_COMMIT (a milter's quarantine): on disk, on hold
    c = ImsgConn(queue.sock)
    msgid, st = c.submit("alice@sender.test", ["kept@mx.test"], BODY,
                         held=1)
    assert st == QUEUE_OK
    assert held_in_envelope(queue, msgid)
    # a message committed after it is delivered, the held one is not
    later, st = c.submit("alice@sender.test", ["free@mx.test"], BODY)
    assert st == QUEUE_OK
    assert wait_for(lambda: lmtp.delivered_to("free@mx.test"))
    assert not lmtp.delivered_to("kept@mx.test")
    assert msgid + ".env" in queue.queued()
    # held is 0 or 1: anything else is an invalid envelope
    status, bad, fd = c.create()
    os.write(fd, BODY)
    os.close(fd)
    assert c.commit(bad, "a@b.test", ["x@mx.test"], held=2) == \
        QUEUE_INVALID
    c.close()


def test_commit_unknown_id_and_rollback(queue, lmtp):
    c = ImsgConn(queue.sock)
    assert c.commit("0123456789abcdef", "a@b.test",
                    ["x@mx.test"]) == QUEUE_INVALID
    status, msgid, fd = c.create()
    assert status == QUEUE_OK
    os.close(fd)
    assert os.path.exists(os.path.join(queue.spool, "incoming", msgid))
    c.reqid += 1
    c.send(MSG_ROLLBACK, u64(c.reqid) + s(msgid))
    assert wait_for(lambda: not os.path.exists(
        os.path.join(queue.spool, "incoming", msgid)))
    # a rolled back id cannot be committed
    assert c.commit(msgid, "a@b.test", ["x@mx.test"]) == QUEUE_INVALID
    # nor a commit without recipients
    status, msgid, fd = c.create()
    os.close(fd)
    assert c.commit(msgid, "a@b.test", []) == QUEUE_INVALID
    c.close()


def test_malformed_clients_do_not_stop_the_queue(queue, lmtp):
    # garbage instead of a header
    g = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    g.connect(queue.sock)
    g.sendall(b"\xff" * 64)
    g.settimeout(5)
    try:
        while g.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    g.close()
    # a hello and then a truncated MSG_CREATE
    b = ImsgConn(queue.sock)
    b.send(MSG_CREATE, b"\x01\x02")
    with pytest.raises((EOFError, ConnectionResetError)):
        b.recv()
    b.close()
    # a commit with trailing bytes after a valid create
    b = ImsgConn(queue.sock)
    status, msgid, fd = b.create()
    os.close(fd)
    b.send(MSG_COMMIT, u64(9) + s(msgid) + s("") + s("h") + s("c") +
           u8(0) + u8(0) + u32(1) + s("r@mx.test") + s("") + u8(1) + b"x")
    with pytest.raises((EOFError, ConnectionResetError)):
        b.recv()
    b.close()
    # its uncommitted file went away with it
    assert wait_for(lambda: not os.path.exists(
        os.path.join(queue.spool, "incoming", msgid)))
    # no hello at all
    n = ImsgConn(queue.sock, hello=False)
    n.recv()    # the queue's own hello
    n.send(MSG_CREATE, u64(1))
    with pytest.raises((EOFError, ConnectionResetError)):
        n.recv()
    n.close()
    # and the queue still serves a good client
    c = ImsgConn(queue.sock)
    msgid, st = c.submit("alice@sender.test", ["ok@mx.test"], BODY)
    assert st == QUEUE_OK
    assert wait_for(lambda: lmtp.delivered_to("ok@mx.test"))
    assert queue.proc.poll() is None
    c.close()


def test_restart_recovers_queue(base):
    # No LMTP server: messages wait in queue/.
    q = Queue(base)
    q.start()
    c = ImsgConn(q.sock)
    ids = []
    for i in range(5):
        msgid, st = c.submit("alice@sender.test", ["r%d@mx.test" % i],
                             BODY + b"n=%d\r\n" % i)
        assert st == QUEUE_OK
        ids.append(msgid)
    c.close()
    for msgid in ids:
        assert os.path.exists(os.path.join(q.spool, "queue", msgid))
        assert os.path.exists(os.path.join(q.spool, "queue", msgid + ".env"))
    # a stale incoming file and a broken envelope are dealt with at start
    q.stop()
    open(os.path.join(q.spool, "incoming", "00000000deadbeef"), "w").close()
    with open(os.path.join(q.spool, "queue", "1111111111111111.env"),
              "w") as f:
        f.write("version 1\nid 1111111111111111\ngarbage\n")
    srv = LmtpServer(os.path.join(base, "run", "lmtp.sock"))
    try:
        q.start()
        for i in range(5):
            assert wait_for(lambda: srv.delivered_to("r%d@mx.test" % i)), \
                q.logtext()
            assert srv.delivered_to("r%d@mx.test" % i)[0]["data"] == \
                BODY + b"n=%d\r\n" % i
        assert wait_for(lambda: q.queued() == []), q.queued()
        assert os.listdir(os.path.join(q.spool, "incoming")) == []
        assert os.path.exists(os.path.join(q.spool, "corrupt",
                                           "1111111111111111.env"))
        assert "corrupt envelope" in q.logtext()
    finally:
        q.stop()
        srv.stop()


def test_lmtp_connection_lost_retries(base):
    # A server that hangs up after the dot: nothing may be lost.
    path = os.path.join(base, "run", "lmtp.sock")
    srv = LmtpServer(path)
    srv.data_script["x@mx.test"] = ["__hangup__"]
    orig = LmtpHandler.reply

    def reply(self, text):
        if text == "__hangup__":
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        orig(self, text)
    LmtpHandler.reply = reply
    q = Queue(base)
    try:
        q.start()
        c = ImsgConn(q.sock)
        c.submit("alice@sender.test", ["x@mx.test"], BODY)
        assert wait_for(lambda: len(srv.delivered_to("x@mx.test")) >= 2)
        assert wait_for(lambda: q.queued() == [])
        c.close()
    finally:
        LmtpHandler.reply = orig
        q.stop()
        srv.stop()


def test_many_concurrent_commits(queue, lmtp):
    conns = [ImsgConn(queue.sock) for _ in range(8)]
    created = []
    for i, c in enumerate(conns):
        st, msgid, fd = c.create()
        os.write(fd, BODY)
        os.close(fd)
        created.append((c, msgid, i))
    # all commits are sent before any answer is read: one group commit
    for c, msgid, i in created:
        c.reqid += 1
        p = u64(c.reqid) + s(msgid) + s("a@sender.test") + s("h") + \
            s("c") + u8(0) + u8(0) + u32(1) + s("m%d@mx.test" % i) + \
            s("") + u8(1) + s("") + u8(0)
        c.send(MSG_COMMIT, p)
    for c, msgid, i in created:
        t, fd, r = c.recv()
        assert t == MSG_COMMITTED
        assert r.u64() == c.reqid and r.u8() == QUEUE_OK
    for i in range(8):
        assert wait_for(lambda: lmtp.delivered_to("m%d@mx.test" % i))
    assert wait_for(lambda: queue.queued() == [])
    for c in conns:
        c.close()


def test_client_that_does_not_read_is_paused(queue, lmtp):
    # A client that keeps asking and never reads its answers: the queue
    # stops reading it (its sends block) instead of keeping answers
    # without bound, and once the client reads, every request is
    # answered.
    c = ImsgConn(queue.sock)
    commit = frame(MSG_COMMIT, u64(7) + s("0123456789abcdef") + s("a@b.test") +
                   s("h") + s("c") + u8(0) + u8(0) + u32(1) +
                   s("x@mx.test") + s("") + u8(1) + s("") + u8(0))
    limit = 100000
    chunk = commit * 1000
    out, total = b"", 0
    c.sock.setblocking(False)
    blocked_since = None
    while total < limit * len(commit):
        if not out:
            out = chunk
        try:
            n = c.sock.send(out)
        except BlockingIOError:
            now = time.monotonic()
            blocked_since = blocked_since or now
            if now - blocked_since > 3:
                break
            time.sleep(0.05)
            continue
        blocked_since = None
        out = out[n:]
        total += n
    sent = total // len(commit)
    assert sent < limit, "the queue read %d requests nobody collected" % sent
    # The rest of a frame cut by a blocked send (it goes once the queue
    # reads again), and every answer.
    c.sock.settimeout(20)
    rest = threading.Thread(
        target=c.sock.sendall, args=(commit[total % len(commit):],))
    if total % len(commit):
        rest.start()
        sent += 1
    for _ in range(sent):
        t, fd, r = c.recv()
        assert t == MSG_COMMITTED
        assert r.u64() == 7 and r.u8() == QUEUE_INVALID
    if rest.is_alive() or total % len(commit):
        rest.join(20)
    assert queue.proc.poll() is None
    msgid, st = c.submit("alice@sender.test", ["ok@mx.test"], BODY)
    assert st == QUEUE_OK
    c.close()


@pytest.mark.skipif(not is_root(), reason="privilege drop needs root")
def test_queue_process_privileges(queue):
    child = queue.child()
    uid = pwd.getpwnam(QUSER).pw_uid

    def uids():
        status = open("/proc/%d/status" % child).read()
        line = [ln for ln in status.splitlines() if ln.startswith("Uid:")]
        return line[0].split()[1:]
    # Forked a moment ago, it may not have dropped root yet.
    wait_for(lambda: uids() == [str(uid)] * 4)
    assert uids() == [str(uid)] * 4
    assert os.readlink("/proc/%d/root" % child) == queue.spool
    # the parent keeps root but reads no network input
    pst = open("/proc/%d/status" % queue.proc.pid).read()
    assert [ln for ln in pst.splitlines()
            if ln.startswith("Uid:")][0].split()[1] == "0"
    for d in ("incoming", "queue", "corrupt"):
        st = os.stat(os.path.join(queue.spool, d))
        assert st.st_uid == uid and (st.st_mode & 0o777) == 0o700
    assert (os.stat(queue.sock).st_mode & 0o777) == 0o666


def test_config_check(base):
    r = subprocess.run([QUEUE, "-n", "-f", os.path.join(base, "tsamba.conf")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "configuration OK" in r.stdout
    bad = os.path.join(base, "bad.conf")
    with open(bad, "w") as f:
        f.write("queue retry-min banana\n")
    r = subprocess.run([QUEUE, "-n", "-f", bad], capture_output=True,
                       text=True)
    assert r.returncode == 1 and "bad.conf:1" in r.stderr


def test_expiry_bounces_with_last_reply(base):
    with open(os.path.join(base, "tsamba.conf"), "a") as f:
        f.write("queue lifetime 3s\n")
    srv = LmtpServer(os.path.join(base, "run", "lmtp.sock"))
    srv.data_script["busy@mx.test"] = ["452 4.2.2 mailbox full"] * 50
    q = Queue(base)
    q.start()
    try:
        c = ImsgConn(q.sock)
        msgid, st = c.submit("alice@sender.test", ["busy@mx.test"], BODY,
                             auth="alice@sender.test")
        assert st == QUEUE_OK
        bounces = wait_for(lambda: srv.delivered_to("alice@sender.test"),
                           timeout=15)
        assert bounces, q.logtext()
        m = email.message_from_bytes(bounces[0]["data"],
                                     policy=email.policy.default)
        dsn = list(m.iter_parts())[1].get_payload()
        rcpt = dsn[1]
        assert rcpt["Final-Recipient"] == "rfc822; busy@mx.test"
        assert rcpt["Action"] == "failed"
        assert rcpt["Status"] == "4.4.7"
        assert len(srv.delivered_to("busy@mx.test")) >= 2
        assert wait_for(lambda: q.queued() == [])
        assert "status=expired" in q.logtext()
        c.close()
    finally:
        q.stop()
        srv.stop()


def test_restart_reads_envelope_after_a_million_tries(base):
    # retry-min/max 1s and a lifetime of weeks let a recipient reach
    # more than a million tries; the envelope the queue wrote with that
    # count must still be read at the next start, not sent to corrupt/.
    q = Queue(base)
    q.start()
    try:
        c = ImsgConn(q.sock)
        msgid, st = c.submit("alice@sender.test", ["many@mx.test"], BODY)
        assert st == QUEUE_OK
        c.close()
    finally:
        q.stop()
    path = os.path.join(q.spool, "queue", msgid + ".env")
    with open(path) as f:
        text = f.read()
    assert re.search(r"\ntries \d+\n", text), text
    with open(path, "w") as f:
        f.write(re.sub(r"\ntries \d+\n", "\ntries 4000000\n", text))
    srv = LmtpServer(os.path.join(base, "run", "lmtp.sock"))
    try:
        q.start()
        assert wait_for(lambda: srv.delivered_to("many@mx.test")), \
            q.logtext()
        assert not os.path.exists(os.path.join(q.spool, "corrupt",
                                               msgid + ".env"))
    finally:
        q.stop()
        srv.stop()


def test_prepended_fields_travel_in_the_envelope(queue, lmtp):
    """MSG_PREPEND's header fields (the inbound checks' verdict) are
    kept in the envelope, not copied into the message file: the LMTP
    delivery and the bounce's copy of the header both have them on top,
    while the file the client wrote stays as it was."""
    lmtp.data_script["nobody@mx.test"] = ["550 5.1.1 no such user"]
    # keeps the message queued while the test looks at its files
    lmtp.data_script["later@mx.test"] = ["451 4.2.0 later"] * 1000
    fields = ("Authentication-Results: mx.test;\r\n\tspf=pass "
              "smtp.mailfrom=alice@sender.test\r\n")
    c = ImsgConn(queue.sock)
    status, msgid, fd = c.create()
    assert status == QUEUE_OK
    os.write(fd, BODY)
    os.close(fd)
    t, p = pack("QUEUE_MSG_PREPEND", id=0, msgid=msgid, fields=fields)
    c.send(t, p)
    assert c.commit(msgid, "alice@sender.test",
                    ["nobody@mx.test", "bob@mx.test",
                     "later@mx.test"]) == QUEUE_OK
    got = wait_for(lambda: lmtp.delivered_to("bob@mx.test"))
    assert got[0]["data"] == fields.encode() + BODY, got[0]["data"][:300]
    with open(os.path.join(queue.spool, "queue", msgid), "rb") as f:
        assert f.read() == BODY
    with open(os.path.join(queue.spool, "queue", msgid + ".env")) as f:
        env = f.read()
    assert "\nprefix Authentication-Results: mx.test;\\x0d\\x0a\\x09spf=" \
        in env, env
    bounces = wait_for(lambda: lmtp.delivered_to("alice@sender.test"))
    m = email.message_from_bytes(bounces[0]["data"],
                                 policy=email.policy.default)
    hdrs = list(m.iter_parts())[2].get_content()
    assert hdrs.index("Authentication-Results: mx.test;") < \
        hdrs.index("Subject: dots"), hdrs
    c.close()
