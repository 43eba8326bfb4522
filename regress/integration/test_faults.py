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
import time

import pytest

from helpers import SENDER, ClientThreads, MsgIndex, make_message
from sandbox import DAEMONS, proc_alive, proc_ppid, proc_root, wait_for

pytestmark = pytest.mark.root


def children(sb, name):
    """pids of the processes the daemon's parent forked itself."""
    top = sb.pid(name)
    return [p for p in sb.tree(name) if p != top and proc_ppid(p) == top]


def child(sb, name, root):
    """The child of daemon name whose root directory (chroot) is root,
    once it has dropped into it (just after a start it may not yet)."""
    def find():
        found = []
        for p in children(sb, name):
            try:
                if proc_root(p) == root:
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


def engine_of(sb, name):
    return child(sb, name, sb.chroot)


@pytest.mark.parametrize("name,which", [
    ("smtpd", "engine"), ("lmtpd", "engine"), ("queue", "queue"),
    ("queue", "mta")])
def test_child_killed_daemon_exits_nonzero(ex, name, which):
    """systemd's Restart=on-failure restarts only a failed daemon."""
    if which == "engine" or which == "mta":
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
