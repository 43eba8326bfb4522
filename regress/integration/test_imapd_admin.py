"""tsamba-imapd administration (issue 8 "Administration"): tsambactl
who lists the IMAP and POP3 sessions with user, client address,
protocol and start; tsambactl kick ends every session of one user, the
IMAP client reading a BYE that says why, and leaves the others alone.
The IMAP metrics (issue 10): tsamba-metricsd shows imapd's connections,
sessions by protocol, TLS versions and mail process crashes, and
tsambactl status lists imapd with its sessions."""

import datetime
import imaplib
import json
import os
import poplib
import signal
import subprocess

import pytest

from helpers import tls_context
from sandbox import TOP, wait_for
from test_metrics import scrape, val

TIMEOUT = 15
CTL = os.path.join(TOP, "ctl", "tsambactl")


@pytest.fixture(scope="module")
def asb(sandbox_factory):
    return sandbox_factory("imapadmin", imap=True, metrics=True)


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
        assert line.startswith(b"-ERR ") and b"administrator" in line, line
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


def test_imap_metrics_and_status(asb):
    wait_for(lambda: not who(asb), TIMEOUT,
             what="the sessions of earlier tests to end")
    before = scrape(asb)
    assert val(before, "tsamba_up", daemon="imapd") == 1

    def delta(name, **labels):
        return val(scrape(asb), name, **labels) - val(before, name,
                                                      **labels)
    m = imaps(asb, "alice")
    p = pop3s(asb, "bob")
    try:
        wait_for(lambda: val(scrape(asb), "tsamba_imap_sessions",
                             protocol="imap") == 1 and
                 val(scrape(asb), "tsamba_imap_sessions",
                     protocol="pop3") == 1, TIMEOUT,
                 what="one IMAP and one POP3 session in the metrics")
        for proto in ("imap", "pop3"):
            assert delta("tsamba_imap_connections_total",
                         protocol=proto) == 1
            assert delta("tsamba_imap_sessions_started_total",
                         protocol=proto) == 1
        version = m.sock.version()
        assert version == p.sock.version()
        assert delta("tsamba_imap_tls_sessions_total", version=version) == 2

        r = ctl(asb, "status", "-j")
        assert r.returncode == 0, r.stdout + r.stderr
        doc = {d["name"]: d for d in json.loads(r.stdout)["daemons"]}
        assert doc["imapd"]["state"] == "running"
        assert doc["imapd"]["pid"] == asb.pid("imapd")
        assert doc["imapd"]["sessions"] == 2
        r = ctl(asb, "status")
        row = [line.split() for line in r.stdout.splitlines()
               if line.startswith("imapd")]
        assert row and row[0][1] == "running" and row[0][4] == "2", \
            r.stdout

        # A mail process that dies of a signal is a crash.
        pid = [s["pid"] for s in who(asb) if s["protocol"] == "pop3"][0]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: delta("tsamba_imap_mail_crashes_total",
                               protocol="pop3") == 1, TIMEOUT,
                 what="the crash in the metrics")
        wait_for(lambda: val(scrape(asb), "tsamba_imap_sessions",
                             protocol="pop3") == 0, TIMEOUT,
                 what="the POP3 session gone from the metrics")
        assert delta("tsamba_imap_mail_crashes_total", protocol="imap") == 0
    finally:
        m.logout()
        p.close()
    wait_for(lambda: val(scrape(asb), "tsamba_imap_sessions",
                         protocol="imap") == 0, TIMEOUT,
             what="no IMAP session after LOGOUT")
    # A clean LOGOUT is no crash.
    assert delta("tsamba_imap_mail_crashes_total", protocol="imap") == 0
