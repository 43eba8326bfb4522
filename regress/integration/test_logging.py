"""Log lines an admin greps and fail2ban reads (tsamba-smtpd(8) and
tsamba-lmtpd(8), LOGGING): real traffic with smtplib (wrong passwords,
unknown recipients, relay attempts, a bad sender, no STARTTLS where it
is required, a banned client, one connection too many), then the lines
as logged, an ISO 8601 time on every line of every daemon, and the real
fail2ban-regex with the shipped filter counting the failures of the
right addresses only.

Each kind of traffic comes from its own loopback address, so that the
counts per address are exact."""

import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile

import pytest

from helpers import tls_context
from sandbox import TOP, wait_for

CTL = os.path.join(TOP, "ctl", "tsambactl")
FILTER = os.path.join(TOP, "etc", "fail2ban", "filter.d", "tsamba.conf")
JAIL = os.path.join(TOP, "etc", "fail2ban", "jail.d", "tsamba.conf")
COMMON = "/etc/fail2ban/filter.d/common.conf"
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"

AUTH_IP = "127.0.0.21"		# wrong passwords
RCPT_IP = "127.0.0.22"		# unknown recipients, relaying, bad sender
BANNED_IP = "127.0.0.23"	# banned with tsambactl
CROWD_IP = "127.0.0.24"		# one connection more than allowed
CLEAR_IP = "127.0.0.25"		# no STARTTLS on the submission port
TEMP_IP = "127.0.0.26"		# while tsamba-authd is down
PER_IP = 3			# limit sessions-per-ip
EVIL = "10.9.9.9"		# named in an address, must never be banned

UNKNOWN = ["nobody%d@example.test" % i for i in range(3)]
RELAY = ["someone@elsewhere.test", "other@far.test"]
INJECT = '"x client=[%s] reply=\\"535 "@example.test' % EVIL


@pytest.fixture(scope="module")
def lsb(sandbox_factory):
    sb = sandbox_factory("logging", submission=True,
                         limits={"sessions-per-ip": PER_IP})
    drive_traffic(sb)
    return sb


def smtp_from(sb, ip, port=None):
    s = smtplib.SMTP("127.0.0.1", port or sb.smtp_port, timeout=30,
                     source_address=(ip, 0))
    s.ehlo("client.test")
    return s


def drive_traffic(sb):
    # Two sessions of two wrong passwords each: four 535s, below the
    # ban tsamba-authd would set at five.
    for _ in range(2):
        s = smtp_from(sb, AUTH_IP, sb.ports["submission"])
        s.starttls(context=tls_context())
        s.ehlo("client.test")
        # One AUTH PLAIN each (login() would go on to try LOGIN too).
        s.user, s.password = sb.demo_user, "not the password"
        for _ in range(2):
            with pytest.raises(smtplib.SMTPAuthenticationError):
                s.auth("PLAIN", s.auth_plain)
        s.quit()

    s = smtp_from(sb, RCPT_IP)
    assert s.mail("sender@example.net")[0] == 250
    for r in UNKNOWN:
        assert s.rcpt(r)[0] == 550
    for r in RELAY:
        assert s.rcpt(r)[0] == 554
    assert s.rcpt(INJECT)[0] == 550
    assert s.rset()[0] == 250
    code, _ = s.docmd("MAIL FROM:<bad sender@@example.net>")
    assert code == 501
    s.quit()

    # TLS required: MAIL gets 530, AUTH 538 5.7.11.
    s = smtp_from(sb, CLEAR_IP, sb.ports["submission"])
    assert s.docmd("MAIL FROM:<sender@example.net>")[0] == 530
    assert s.docmd("AUTH PLAIN")[0] == 538
    s.quit()

    r = subprocess.run([CTL, "-f", sb.conf, "ban", "add", BANNED_IP, "1h"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with pytest.raises(smtplib.SMTPConnectError) as e:
        smtp_from(sb, BANNED_IP)
    assert e.value.smtp_code == 421

    held = [smtp_from(sb, CROWD_IP) for _ in range(PER_IP)]
    try:
        with pytest.raises((smtplib.SMTPConnectError,
                            smtplib.SMTPServerDisconnected)):
            smtp_from(sb, CROWD_IP)
    finally:
        for s in held:
            s.quit()

    # The last of it is logged: the crowd's refusal line.
    wait_for(lambda: "refuse: client=[%s]" % CROWD_IP in log(sb, "smtpd"),
             10, what="the refusal of one connection too many")


def log(sb, name):
    with open(os.path.join(sb.logdir, name + ".log"),
              errors="replace") as f:
        return f.read()


def lines(sb, name, pattern):
    return [l for l in log(sb, name).splitlines() if re.search(pattern, l)]


def test_rejected_recipients_logged_with_ip_and_reply(lsb):
    for r in UNKNOWN:
        got = lines(lsb, "smtpd", re.escape("rcpt=<%s>" % r))
        assert len(got) == 1, got
        assert re.fullmatch(
            ISO + r" smtp: reject: client=\[%s\] session=[0-9a-f]{16} "
            r"cmd=RCPT from=<sender@example\.net> rcpt=<%s> "
            r'reply="550 5\.1\.1 <%s>: Recipient address rejected: '
            r'User unknown"' % (re.escape(RCPT_IP), re.escape(r),
                                re.escape(r)), got[0]), got[0]
    for r in RELAY:
        got = lines(lsb, "smtpd", re.escape("rcpt=<%s>" % r))
        assert len(got) == 1, got
        assert ('reject: client=[%s] ' % RCPT_IP) in got[0]
        assert got[0].endswith(
            'reply="554 5.7.1 <%s>: Relay access denied"' % r), got[0]


def test_rejected_sender_logged(lsb):
    got = lines(lsb, "smtpd", r"client=\[%s\] .*cmd=MAIL" %
                re.escape(RCPT_IP))
    assert len(got) == 1, got
    assert re.search(r"reject: client=\[%s\] session=\S+ cmd=MAIL "
                     r'from=<bad sender@@example\.net> reply="501 5\.1\.7 '
                     % re.escape(RCPT_IP),
                     got[0]), got[0]


def test_tls_required_refusals_logged(lsb):
    got = lines(lsb, "smtpd", r"client=\[%s\]" % re.escape(CLEAR_IP))
    assert len(got) == 2, got
    assert re.search(r'reject: client=\[%s\] session=\S+ cmd=MAIL '
                     r'from=<sender@example\.net> reply="530 5\.7\.0 '
                     % re.escape(CLEAR_IP), got[0]), got[0]
    assert re.search(r'auth failed: client=\[%s\] session=\S+ user=<> '
                     r'reply="538 5\.7\.11 ' % re.escape(CLEAR_IP),
                     got[1]), got[1]


def test_client_text_is_quoted(lsb):
    """An address with quotes and a fake client= stays one field."""
    got = lines(lsb, "smtpd", re.escape(EVIL))
    assert len(got) == 1, got
    assert ('reject: client=[%s] ' % RCPT_IP) in got[0]
    assert 'rcpt=<\\"x client=[%s] reply=\\\\\\"535 \\"@example.test>' \
        % EVIL in got[0], got[0]


def test_auth_failures_logged(lsb):
    got = lines(lsb, "smtpd", r"auth failed: client=\[%s\]" %
                re.escape(AUTH_IP))
    assert len(got) == 4, got
    for l in got:
        assert re.fullmatch(
            ISO + r" smtp: auth failed: client=\[%s\] session=[0-9a-f]{16} "
            r'user=<%s> reply="535 5\.7\.8 Error: authentication failed"'
            % (re.escape(AUTH_IP), re.escape(lsb.demo_user)), l), l


def test_refused_connections_logged(lsb):
    got = lines(lsb, "smtpd", r"refuse: client=\[%s\]" %
                re.escape(BANNED_IP))
    assert len(got) == 1, got
    assert re.search(r'port=\d+ reply="421 4\.7\.0 .*Too many failed logins',
                     got[0]), got[0]
    got = lines(lsb, "smtpd", r"refuse: client=\[%s\]" % re.escape(CROWD_IP))
    assert len(got) == 1, got
    assert "Too many connections from your address" in got[0], got[0]


def test_lmtpd_rejects_logged(lsb):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(lsb.lmtp_sock)
    f = s.makefile("rb")

    def cmd(line):
        s.sendall(line.encode() + b"\r\n")
        while True:
            reply = f.readline().decode()
            if reply[3:4] != "-":
                return reply

    assert f.readline().startswith(b"220")
    assert cmd("LHLO client.test").startswith("250")
    assert cmd("MAIL FROM:<lmtp-sender@example.net>").startswith("250")
    assert cmd("RCPT TO:<nobody-lmtp@example.test>").startswith("550")
    cmd("QUIT")
    s.close()
    want = ('reject: client=local cmd=RCPT from=<lmtp-sender@example.net> '
            'rcpt=<nobody-lmtp@example.test> reply="550 5.1.1 '
            '<nobody-lmtp@example.test> User unknown"')
    wait_for(lambda: want in log(lsb, "lmtpd"), 10, what=want)


def test_every_line_of_every_daemon_starts_with_iso8601(lsb):
    for name in ("smtpd", "lmtpd", "queue", "authd"):
        text = log(lsb, name)
        body = [l for l in text.splitlines() if not l.startswith("--- ")]
        assert body, name
        for l in body:
            assert re.match(ISO + " ", l), (name, l)


def test_temporary_failure_logged(lsb):
    """authd down: RCPT gets 451 4.3.0, logged as a reject like the
    others (and never counted by the fail2ban filter, see below)."""
    lsb.kill("authd", signal.SIGTERM)
    try:
        wait_for(lambda: "channel to authd lost" in log(lsb, "smtpd"), 10,
                 what="the engine noticing authd is gone")
        s = smtp_from(lsb, TEMP_IP)
        assert s.mail("sender@example.net")[0] == 250
        code, text = s.rcpt(lsb.demo_user)
        assert code == 451, (code, text)
        s.quit()
    finally:
        lsb.restart("authd")
    got = lines(lsb, "smtpd", r"client=\[%s\]" % re.escape(TEMP_IP))
    assert len(got) == 1, got
    assert re.search(r"reject: client=\[%s\] session=\S+ cmd=RCPT "
                     r"from=<sender@example\.net> rcpt=<%s> "
                     r'reply="451 4\.3\.0 <%s>: Temporary lookup failure"'
                     % (re.escape(TEMP_IP), re.escape(lsb.demo_user),
                        re.escape(lsb.demo_user)), got[0]), got[0]


def fail2ban_ips(sb, mode):
    """The addresses fail2ban-regex finds with the shipped filter."""
    d = tempfile.mkdtemp(prefix="tsamba-f2b-", dir="/tmp")
    try:
        os.mkdir(os.path.join(d, "filter.d"))
        shutil.copy(FILTER, os.path.join(d, "filter.d"))
        os.symlink(COMMON, os.path.join(d, "filter.d", "common.conf"))
        r = subprocess.run(
            ["fail2ban-regex", "-o", "ip",
             os.path.join(sb.logdir, "smtpd.log"),
             "%s[mode=%s]" % (os.path.join(d, "filter.d", "tsamba.conf"),
                              mode)],
            capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (r.stdout, r.stderr)
        return r.stdout.split()
    finally:
        shutil.rmtree(d)


@pytest.fixture(scope="module")
def f2b():
    if shutil.which("fail2ban-regex") is None or not os.path.exists(COMMON):
        pytest.skip("fail2ban is not installed (regress/deps.sh adds it)")


def test_fail2ban_normal_counts_auth_failures(lsb, f2b):
    assert sorted(fail2ban_ips(lsb, "normal")) == [AUTH_IP] * 4


def test_fail2ban_more_adds_rejected_recipients(lsb, f2b):
    ips = fail2ban_ips(lsb, "more")
    assert ips.count(AUTH_IP) == 4
    assert ips.count(RCPT_IP) == len(UNKNOWN) + len(RELAY) + 1
    assert sorted(set(ips)) == sorted({AUTH_IP, RCPT_IP}), ips


def test_fail2ban_aggressive_adds_refusals_and_senders(lsb, f2b):
    ips = fail2ban_ips(lsb, "aggressive")
    assert ips.count(AUTH_IP) == 4
    assert ips.count(RCPT_IP) == len(UNKNOWN) + len(RELAY) + 1 + 1
    assert ips.count(BANNED_IP) == 1
    assert ips.count(CROWD_IP) == 1
    assert ips.count(CLEAR_IP) == 1
    assert TEMP_IP not in ips
    assert EVIL not in ips


def test_fail2ban_jail_names_the_filter(f2b):
    """The shipped jails are off and use the shipped filter's modes."""
    with open(JAIL) as f:
        text = f.read()
    jails = re.findall(r"^\[([^\]]+)\]", text, re.M)
    assert jails == ["tsamba-auth", "tsamba-reject"], jails
    assert re.findall(r"^enabled\s*=\s*(\S+)", text, re.M) == \
        ["false", "false"]
    assert re.findall(r"^filter\s*=\s*(\S+)", text, re.M) == \
        ["tsamba[mode=normal]", "tsamba[mode=more]"]
