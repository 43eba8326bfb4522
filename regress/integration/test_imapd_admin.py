"""tsamba-imapd administration (issue 8 "Administration"): tsambactl
who lists the IMAP and POP3 sessions with user, client address,
protocol and start; tsambactl kick ends every session of one user, the
IMAP client reading a BYE that says why, and leaves the others alone."""

import datetime
import imaplib
import json
import os
import poplib
import subprocess

import pytest

from helpers import tls_context
from sandbox import TOP, wait_for

TIMEOUT = 15
CTL = os.path.join(TOP, "ctl", "tsambactl")


@pytest.fixture(scope="module")
def asb(sandbox_factory):
    return sandbox_factory("imapadmin", imap=True)


def ctl(sb, *args):
    return subprocess.run([CTL, "-f", sb.conf] + list(args),
                          capture_output=True, text=True, timeout=30)


def addr(sb, user):
    return "%s@%s" % (user, sb.domain)


def imaps(sb, user):
    m = imaplib.IMAP4_SSL("127.0.0.1", sb.ports["imaps"],
                          ssl_context=tls_context(), timeout=TIMEOUT)
    m.login(addr(sb, user), sb.password)
    return m


def pop3s(sb, user):
    p = poplib.POP3_SSL("127.0.0.1", sb.ports["pop3s"],
                        context=tls_context(), timeout=TIMEOUT)
    p.user(addr(sb, user))
    p.pass_(sb.password)
    return p


def who(sb):
    r = ctl(sb, "who", "-j")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["sessions"]


def sessions_of(sb, user):
    return sorted(s["protocol"] for s in who(sb)
                  if s["user"] == addr(sb, user))


def test_who_lists_sessions(asb):
    a1 = imaps(asb, "alice")
    b1 = imaps(asb, "bob")
    p = pop3s(asb, "alice")
    try:
        wait_for(lambda: sessions_of(asb, "alice") == ["imap", "pop3"] and
                 sessions_of(asb, "bob") == ["imap"], TIMEOUT,
                 what="the three sessions in tsambactl who")
        now = datetime.datetime.now(datetime.timezone.utc)
        for s in who(asb):
            assert s["ip"] == "127.0.0.1"
            since = datetime.datetime.fromisoformat(
                s["since"].replace("Z", "+00:00"))
            assert abs((now - since).total_seconds()) < 120, s
            assert s["pid"] > 0
        text = ctl(asb, "who")
        assert text.returncode == 0, text.stderr
        lines = [line.split() for line in text.stdout.splitlines()]
        assert lines[0][:3] == ["USER", "IP", "PROTO"]
        assert [addr(asb, "bob"), "127.0.0.1", "imap"] in \
            [line[:3] for line in lines[1:]]
        assert [addr(asb, "alice"), "127.0.0.1", "pop3"] in \
            [line[:3] for line in lines[1:]]
    finally:
        a1.logout()
        b1.logout()
        p.quit()
    wait_for(lambda: not sessions_of(asb, "alice") and
             not sessions_of(asb, "bob"), TIMEOUT,
             what="the sessions to leave tsambactl who after LOGOUT/QUIT")


def test_kick_ends_one_users_sessions(asb):
    a1 = imaps(asb, "alice")
    a2 = imaps(asb, "alice")
    b1 = imaps(asb, "bob")
    p = pop3s(asb, "alice")
    try:
        wait_for(lambda: sessions_of(asb, "alice") == ["imap", "imap",
                                                        "pop3"] and
                 sessions_of(asb, "bob") == ["imap"], TIMEOUT,
                 what="the four sessions in tsambactl who")
        r = ctl(asb, "kick", addr(asb, "alice"))
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "3 sessions ended"
        for m in (a1, a2):
            line = m.readline()
            assert line.startswith(b"* BYE "), line
            assert b"administrator" in line
            assert m.readline() == b""      # then the connection closes
        line = p.file.readline()
        assert line.startswith(b"-ERR"), line
        assert p.file.readline() == b""
        wait_for(lambda: not sessions_of(asb, "alice"), TIMEOUT,
                 what="alice's sessions to end")
        # Bob's session was not touched.
        assert sessions_of(asb, "bob") == ["imap"]
        assert b1.noop()[0] == "OK"
        assert b1.select("INBOX")[0] == "OK"
    finally:
        b1.logout()
        for c in (a1, a2):
            c.shutdown()
        p.close()


def test_kick_nobody(asb):
    r = ctl(asb, "kick", addr(asb, "carol"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0 sessions ended"
    r = ctl(asb, "kick", "carol")
    assert r.returncode != 0
    assert "not a user address" in r.stderr
