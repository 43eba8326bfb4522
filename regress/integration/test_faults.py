"""Faults an admin meets: a process of a daemon dies (the daemon exits
non-zero so that systemd restarts it, and a clean SIGTERM exits 0); the
queue loses its mta or its parent in the middle of a burst (a client
that heard 250 gets its message exactly once, one that heard 4xx never
gets it: no duplicate from a resend); the smtp engine runs out of file
descriptors (new clients wait and are greeted once a session ends)."""

import os
import resource
import signal
import smtplib
import socket
import struct
import threading
import time

import pytest

import imsgclient
from helpers import SENDER, ClientThreads, MsgIndex, make_message
from sandbox import (DAEMONS, proc_alive, proc_ppid, proc_root,
                     socket_inodes, tcp_listening, wait_for)

pytestmark = pytest.mark.root


def children(sb, name):
    """pids of the processes the daemon's parent forked itself."""
    top = sb.pid(name)
    return [p for p in sb.tree(name) if p != top and proc_ppid(p) == top]


def child(sb, name, root, pick=None):
    """The child of daemon name whose root directory (chroot) is root,
    once it has dropped into it (just after a start it may not yet); of
    several there, the one pick(pid) chooses."""
    def find():
        found = []
        for p in children(sb, name):
            try:
                if proc_root(p) == root and (pick is None or pick(p)):
                    found.append(p)
            except OSError:
                pass
        return found if len(found) == 1 else None
    return wait_for(find, 10, what="the %s child in %s" % (name, root))[0]


def wait_gone(pids, timeout=15):
    wait_for(lambda: not any(proc_alive(p) for p in pids), timeout,
             what="pids %s gone" % pids)


# ------------------------------------------------------- exit statuses

@pytest.fixture(scope="module")
def ex(sandbox_factory):
    return sandbox_factory("exit")


def listens(pid):
    """pid holds a listening TCP socket: tsamba-smtpd's engine, not its
    key process, which shares its user and chroot."""
    return bool(socket_inodes(pid) & tcp_listening())


def engine_of(sb, name):
    return child(sb, name, sb.chroot, listens if name == "smtpd" else None)


@pytest.mark.parametrize("name,which", [
    ("smtpd", "engine"), ("smtpd", "key process"), ("lmtpd", "engine"),
    ("queue", "queue"), ("queue", "mta")])
def test_child_killed_daemon_exits_nonzero(ex, name, which):
    """systemd's Restart=on-failure restarts only a failed daemon."""
    if which == "engine":
        pid = engine_of(ex, name)
    elif which == "key process":
        pid = child(ex, name, ex.chroot, lambda p: not listens(p))
    elif which == "mta":
        pid = child(ex, name, ex.chroot)
    else:
        pid = child(ex, name, ex.spool)
    tree = ex.tree(name)
    os.kill(pid, signal.SIGKILL)
    status = ex.exit_status(name, 20)
    assert status > 0, "tsamba-%s exited with %s after its %s died" % (
        name, status, which)
    # Fail-stop: no process of the daemon stays behind.
    wait_gone(tree)
    ex.restart(name)


def test_sigterm_exits_zero(ex):
    for name in DAEMONS:
        tree = ex.tree(name)
        os.kill(ex.pid(name), signal.SIGTERM)
        status = ex.exit_status(name, 20)
        assert status == 0, "tsamba-%s exited with %s on SIGTERM" % (
            name, status)
        wait_gone(tree)
        ex.restart(name)
    assert ex.smtp_banner() is not None


# ------------------------------------- no duplicate after a queue crash

THREADS = 12
PER_ROUND = 60		# messages accepted between two kills


class Senders(ClientThreads):
    """Clients sending one small message per session, sorting each
    Message-ID by what the client heard: 250, a refusal (4xx/5xx), or
    nothing clear (the connection broke)."""

    def __init__(self, sb):
        super().__init__(THREADS)
        self.sb = sb
        self.refused, self.unknown = [], []

    def one(self, rcpt, msgid, msg):
        try:
            with smtplib.SMTP("127.0.0.1", self.sb.smtp_port,
                              timeout=30) as s:
                s.ehlo("client.test")
                code, _ = s.mail(SENDER)
                if code == 250:
                    code, _ = s.rcpt(rcpt)
                if code == 250:
                    code, _ = s.data(msg)
                return code
        except smtplib.SMTPResponseException as e:
            return e.smtp_code
        except (OSError, smtplib.SMTPException):
            return None

    def run(self, i):
        rcpts = [self.sb.address(u) for u in self.sb.users]
        n = 0
        while not self.stopping.is_set():
            n += 1
            msgid, msg = make_message(rcpts[(i + n) % len(rcpts)],
                                      "dup %d/%d" % (i, n))
            code = self.one(rcpts[(i + n) % len(rcpts)], msgid, msg)
            with self.lock:
                if code == 250:
                    self.accepted[msgid] = True
                elif code is not None and code >= 400:
                    self.refused.append(msgid)
                else:
                    self.unknown.append(msgid)
            if code != 250:
                time.sleep(0.02)	# the queue is down: do not spin


@pytest.fixture(scope="module")
def dup(sandbox_factory):
    return sandbox_factory("dup", limits={"sessions-per-ip": 200},
                           queue={"retry-min": "1s", "retry-max": "2s"})


def kill_mta(sb):
    os.kill(child(sb, "queue", sb.chroot), signal.SIGKILL)


def kill_queue_parent(sb):
    os.kill(sb.pid("queue"), signal.SIGKILL)


def spool_empty(sb):
    return not os.listdir(os.path.join(sb.spool, "queue"))


def test_no_duplicate_when_queue_loses_mta_or_parent(dup):
    # Local delivery waits until the end: a delivery under way when the
    # queue dies is repeated by design (a crash repeats rather than
    # loses), which is not what this test counts.
    dup.kill("lmtpd", signal.SIGTERM)
    senders = Senders(dup).start()
    try:
        for kill in (kill_mta, kill_queue_parent) * 3:
            base = senders.count()
            wait_for(lambda: senders.count() >= base + PER_ROUND, 90,
                     what="%d messages accepted" % PER_ROUND)
            tree = dup.tree("queue")
            kill(dup)
            wait_gone(tree, 30)
            dup.restart("queue")
        base = senders.count()
        wait_for(lambda: senders.count() >= base + PER_ROUND, 90,
                 what="messages accepted after the last restart")
    finally:
        senders.stop()
    dup.restart("lmtpd")
    index = MsgIndex(dup)
    index.wait_all(list(senders.accepted), 180)
    wait_for(lambda: spool_empty(dup), 120, what="an empty queue")
    ids = index.scan()
    twice = [m for m in list(senders.accepted) + senders.unknown
             if len(ids.get(m, [])) > 1]
    assert not twice, "%d messages delivered more than once, e.g. %s" % (
        len(twice), twice[:3])
    back = [m for m in senders.refused if m in ids]
    assert not back, ("%d of %d messages refused with 4xx were delivered "
                      "(the client resends them: duplicates), e.g. %s" % (
                          len(back), len(senders.refused), back[:3]))
    assert senders.refused, "no kill hit a message in flight"


# -------------------------------------------------- out of descriptors

FD_LIMIT = 64


def low_fd_limit():
    # The soft limit is raised to the hard one at start-up.
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT // 2, FD_LIMIT))


def greeting(sock, timeout):
    """The first line the server sent, or None if none came in time."""
    sock.settimeout(timeout)
    try:
        return sock.recv(512)
    except socket.timeout:
        return None


def emfile_logged(sb):
    return "accept: Too many open files" in sb.log("smtpd")


@pytest.fixture(scope="module")
def fds(sandbox_factory):
    sb = sandbox_factory("fds", limits={"sessions-per-ip": 1000})
    sb.kill("smtpd", signal.SIGTERM)
    sb.restart("smtpd", preexec_fn=low_fd_limit)
    return sb


def test_session_limit_checked_against_fd_limit(fds):
    log = fds.log("smtpd")
    assert "500 SMTP sessions need up to" in log, log[-2000:]
    assert "limit (RLIMIT_NOFILE) is %d" % FD_LIMIT in log, log[-2000:]


def test_clients_greeted_again_after_emfile(fds):
    held, waiting = [], None
    try:
        # Sessions until one gets no greeting: the engine is out of
        # descriptors and that client waits in the listen backlog.
        for _ in range(3 * FD_LIMIT):
            s = socket.create_connection(("127.0.0.1", fds.smtp_port), 5)
            line = greeting(s, 2.0)
            if line is None and emfile_logged(fds):
                waiting = s
                break
            if line is None:		# only a slow machine
                line = greeting(s, 20.0)
            assert line.startswith(b"220"), line
            held.append(s)
        assert waiting is not None, "no descriptor limit reached"
        assert len(held) < FD_LIMIT
        # Sessions end: the waiting client and a new one are greeted.
        for s in held[:4]:
            s.close()
        del held[:4]
        line = greeting(waiting, 10.0)
        assert line is not None and line.startswith(b"220"), line
        s = socket.create_connection(("127.0.0.1", fds.smtp_port), 5)
        held.append(s)
        line = greeting(s, 10.0)
        assert line is not None and line.startswith(b"220"), line
    finally:
        for s in held:
            s.close()
        if waiting is not None:
            waiting.close()
    # And everyone is served again once the crowd is gone.
    assert wait_for(lambda: fds.smtp_banner(), 10, what="a greeting")


# ------------------------------------------ SIGTERM with a commit under way

class SlowQueue(threading.Thread):
    """queue.sock played by the test: it hands out a spool file for
    MSG_CREATE and answers MSG_COMMIT only once release is set, so a
    commit is surely under way when the test wants it."""

    def __init__(self, sb):
        super().__init__(daemon=True)
        self.path = sb.sock("queue.sock")
        self.spool = os.path.join(sb.dir, "slowqueue.msg")
        self.hello = threading.Event()
        self.committed = threading.Event()
        self.release = threading.Event()
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.lsock.listen(4)
        self.lsock.settimeout(30)

    def run(self):
        conn, _ = self.lsock.accept()
        conn.settimeout(30)
        c = imsgclient.Client.__new__(imsgclient.Client)
        c.sock, c.buf, c.next_id = conn, b"", 1
        c.send(*imsgclient.pack("HELLO", version=imsgclient.PROTO_VERSION,
                                who="tsamba-queue"))
        while True:
            got = c.recv()
            if got is None:
                return
            mtype, payload = got
            if mtype == imsgclient.IMSG_HELLO:
                self.hello.set()
                continue
            rid = struct.unpack("<Q", payload[:8])[0]
            if mtype == imsgclient.QUEUE_MSG_CREATE:
                fd = os.open(self.spool, os.O_RDWR | os.O_CREAT, 0o666)
                _, p = imsgclient.pack("QUEUE_MSG_CREATED", id=rid,
                                       status=0, msgid="0123456789abcdef")
                socket.send_fds(conn, [imsgclient.frame(
                    imsgclient.QUEUE_MSG_CREATED, p,
                    16 + len(p) | 0x80000000)], [fd])
                os.close(fd)
            elif mtype == imsgclient.QUEUE_MSG_COMMIT:
                self.committed.set()
                self.release.wait(30)
                c.send(*imsgclient.pack("QUEUE_MSG_COMMITTED", id=rid,
                                        status=0))

    def close(self):
        self.lsock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


@pytest.fixture(scope="module")
def drain(sandbox_factory):
    return sandbox_factory("drain")


def test_sigterm_answers_a_commit_under_way(drain):
    # The queue has the message (its MSG_COMMIT under way) when smtpd
    # is told to stop: the client still hears the 250, or it would send
    # the message again, a duplicate.
    drain.kill("queue", signal.SIGTERM)
    slow = SlowQueue(drain)
    slow.start()
    # The engine reconnects to "the queue" with backoff.
    assert slow.hello.wait(30), "smtpd did not reconnect to queue.sock"
    rcpt = drain.address(drain.users[0])
    s = smtplib.SMTP("127.0.0.1", drain.smtp_port, timeout=30)
    try:
        s.ehlo("client.test")
        assert s.mail(SENDER)[0] == 250
        assert s.rcpt(rcpt)[0] == 250
        assert s.docmd("DATA")[0] == 354
        s.send(b"Subject: drain\r\n\r\nbody\r\n.\r\n")
        assert slow.committed.wait(30), "no MSG_COMMIT came"
        tree = drain.tree("smtpd")
        os.kill(drain.pid("smtpd"), signal.SIGTERM)
        assert drain.exit_status("smtpd", 20) == 0
        slow.release.set()
        code, text = s.getreply()
        assert code == 250 and b"0123456789abcdef" in text, (code, text)
        wait_gone(tree)
    finally:
        slow.release.set()
        s.close()
        slow.close()
    drain.restart("queue")
    drain.restart("smtpd")
    assert drain.smtp_banner() is not None
