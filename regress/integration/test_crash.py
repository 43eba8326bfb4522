"""Crash safety: tsamba-queue, then tsamba-lmtpd, die by SIGKILL in the
middle of a burst and are restarted; every message that was answered 250
ends up in a Maildir (a duplicate is allowed, a loss is not)."""

import signal
import smtplib
import time

import pytest

from helpers import SENDER, ClientThreads, MsgIndex, make_message
from sandbox import wait_for

THREADS = 8
BEFORE = 300		# accepted messages before the kill
AFTER = 300		# accepted messages after the restart


@pytest.fixture(scope="module")
def sb(sandbox_factory):
    # Quick retries: after the crash, redelivery is not a matter of
    # minutes.
    return sandbox_factory("crash", limits={"sessions-per-ip": 100},
                           queue={"retry-min": "1s", "retry-max": "2s"})


class Burst(ClientThreads):
    """THREADS clients sending one message per session, recording the
    Message-ID (and the 250 text) of every message accepted."""

    def __init__(self, sb):
        super().__init__(THREADS)
        self.sb = sb
        self.failures = 0		# accepted: Message-ID -> 250 text

    def run(self, i):
        rcpts = [self.sb.address(u) for u in self.sb.users]
        n = 0
        while not self.stopping.is_set():
            n += 1
            rcpt = [rcpts[(i + n) % len(rcpts)]]
            if n % 5 == 0:
                rcpt.append(rcpts[(i + n + 1) % len(rcpts)])
            msgid, msg = make_message(rcpt, "burst %d/%d" % (i, n))
            try:
                with smtplib.SMTP("127.0.0.1", self.sb.smtp_port,
                                  timeout=20) as s:
                    s.ehlo("client.test")
                    if s.mail(SENDER)[0] != 250:
                        raise smtplib.SMTPException("MAIL")
                    for r in rcpt:
                        if s.rcpt(r)[0] != 250:
                            raise smtplib.SMTPException("RCPT")
                    code, text = s.data(msg)
            except (OSError, smtplib.SMTPException):
                code, text = None, b""
            with self.lock:
                if code == 250:
                    self.accepted[msgid] = text.decode(errors="replace")
                else:
                    self.failures += 1
            if code != 250:
                # The server refused (the queue is down): do not spin.
                time.sleep(0.05)


def crash_in_burst(sb, name):
    burst = Burst(sb).start()
    try:
        wait_for(lambda: burst.count() >= BEFORE, 60,
                 what="%d accepted messages before the crash" % BEFORE)
        sb.kill(name, signal.SIGKILL)
        killed_at = burst.count()
        sb.restart(name)
        try:
            wait_for(lambda: burst.count() >= killed_at + AFTER, 60,
                     what="%d messages accepted after tsamba-%s "
                     "restarted" % (AFTER, name))
        except TimeoutError:
            pytest.fail("nothing accepted after tsamba-%s restarted: the "
                        "other daemons did not reconnect (%d refusals)" %
                        (name, burst.failures))
    finally:
        burst.stop()
    return burst


def test_queue_killed_mid_burst(sb):
    burst = crash_in_burst(sb, "queue")
    MsgIndex(sb).wait_all(list(burst.accepted), 120)


def test_lmtpd_killed_mid_burst(sb):
    burst = crash_in_burst(sb, "lmtpd")
    MsgIndex(sb).wait_all(list(burst.accepted), 120)


def test_both_daemons_still_serve(sb):
    """After the crashes everything works as before."""
    from helpers import send, wait_copy
    rcpt = sb.address(sb.users[1])
    msgid, _, _ = send(sb, rcpt)
    wait_copy(sb, rcpt, msgid)
