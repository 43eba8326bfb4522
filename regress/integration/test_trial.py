"""What the migration trial of issue 10 found, each as an admin sees it:
the log names the delivered file as it is on disk, a refused banned
client's log line gives the ban's end in ISO 8601, hashes Dovecot wrote
log their users in, and the demo keeps an admin's edits."""

import os
import re
import subprocess
import sys

import pytest

from sandbox import TOP, wait_for
from helpers import Raw

CTL = os.path.join(TOP, "ctl", "tsambactl")
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"


def ctl(sb, *args):
    r = subprocess.run([CTL, "-f", sb.conf] + list(args),
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def send(sb, rcpt, source=None):
    with Raw(sb, source=source) as s:
        s.banner_and_ehlo()
        assert s.cmd("MAIL FROM:<trial@example.net>")[0] == 250
        assert s.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        assert s.cmd("DATA")[0] == 354
        s.send("Subject: trial\r\n\r\nhello\r\n.\r\n")
        assert s.reply()[0] == 250


def test_lmtpd_logs_the_file_name_on_disk(sb):
    """The writer's log line names new/<file> exactly as it is in the
    Maildir, with its ,S= and ,W= parts, so an admin can find it."""
    addr = sb.address(sb.users[0])
    before = set(sb.maildir_messages(addr))
    send(sb, addr)
    new = wait_for(lambda: set(sb.maildir_messages(addr)) - before, 20,
                   what="delivery")
    (path,) = new
    name = os.path.basename(path)
    assert ",S=" in name and ",W=" in name
    logged = re.findall(r"delivered to \S+/new/(\S+)", sb.log("lmtpd"))
    assert name in logged, (name, logged)


def test_smtpd_logs_ban_end_in_iso8601(sb):
    """A banned client is refused and smtpd's log gives the ban's end as
    ISO 8601 with its UTC offset, the same text tsambactl ban add
    printed."""
    if not os.path.exists(sb.sock("authd.control.sock")):
        pytest.skip("tsamba-authd has no control socket")
    out = ctl(sb, "ban", "add", "127.0.0.9", "1h")
    m = re.fullmatch(r"banned 127\.0\.0\.9 until (%s) \(3600s\)\n" % ISO,
                     out)
    assert m, out
    try:
        with Raw(sb, source=("127.0.0.9", 0)) as s:
            code, _ = s.reply()
            assert code is None or code >= 400
        line = wait_for(lambda: [l for l in sb.log("smtpd").splitlines()
                                 if "[127.0.0.9] is banned until" in l], 10,
                        what="smtpd log line")
        assert "is banned until %s, refused" % m.group(1) in line[-1], line
    finally:
        ctl(sb, "ban", "del", "127.0.0.9")


# Schemes an old Dovecot user table holds; a switch must lock nobody out.
DOVEADM_SCHEMES = ["SSHA512", "SSHA256", "SSHA", "SMD5", "SHA512", "SHA256",
                   "SHA", "SHA1", "PLAIN-MD5", "LDAP-MD5", "MD5-CRYPT",
                   "DES-CRYPT", "CRYPT", "SHA256-CRYPT", "SHA512-CRYPT",
                   "BLF-CRYPT", "ARGON2I", "ARGON2ID", "PBKDF2",
                   "SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN", "CLEARTEXT",
                   "SHA256.HEX", "SSHA512.HEX", "PLAIN.B64"]
DOVEADM = "/usr/bin/doveadm"


@pytest.fixture(scope="module")
def ssb(sandbox_factory):
    return sandbox_factory("sub", submission=True)


@pytest.mark.skipif(not os.access(DOVEADM, os.X_OK),
                    reason="doveadm (dovecot-core) is not installed")
def test_doveadm_hashes_log_in(ssb):
    """A hash made now by Dovecot's own doveadm, for each scheme, logs
    its user in over SMTP AUTH; tsambactl check calls the weak ones
    weak."""
    import smtplib
    from helpers import tls_context
    pw = "Migr8-from-Dovecot!"
    users = {}
    for i, scheme in enumerate(DOVEADM_SCHEMES):
        r = subprocess.run([DOVEADM, "pw", "-s", scheme, "-p", pw],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (scheme, r.stderr)
        users["dv%d@example.test" % i] = (scheme, r.stdout.strip())
    with open(os.path.join(ssb.tabledir, "users"), "a") as f:
        for addr, (_, h) in users.items():
            f.write("%s:%s::::::\n" % (addr, h))
    last = list(users)[-1]

    def known():
        with Raw(ssb) as s:
            s.banner_and_ehlo()
            s.cmd("MAIL FROM:<x@example.net>")
            return s.cmd("RCPT TO:<%s>" % last)[0] == 250
    wait_for(known, 10, interval=0.3, what="authd reloaded the users")
    for addr, (scheme, h) in users.items():
        with smtplib.SMTP("127.0.0.1", ssb.ports["submission"],
                          timeout=30) as s:
            s.ehlo("client.test")
            s.starttls(context=tls_context())
            s.ehlo("client.test")
            try:
                code, _ = s.login(addr, pw)
            except smtplib.SMTPAuthenticationError as e:
                pytest.fail("%s (%s) refused: %s" % (scheme, h, e))
            assert code == 235, scheme
    out = subprocess.run([CTL, "-f", ssb.conf, "check"], capture_output=True,
                         text=True, timeout=60).stdout
    strong = ("CRYPT", "SHA256-CRYPT", "SHA512-CRYPT", "BLF-CRYPT",
              "ARGON2I", "ARGON2ID")
    for addr, (scheme, _) in users.items():
        named = "WARN user %s: weak password scheme" % addr in out
        assert named == (scheme not in strong), (scheme, out)


# ------------------------------------------------------------- the demo

SANDBOX = os.path.join(TOP, "regress", "sandbox.py")


def demo_cli(*args, ok=True):
    r = subprocess.run([sys.executable, SANDBOX] + list(args),
                       capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    if ok:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


@pytest.fixture
def demo(tmp_path_factory):
    """A demo directory driven by the command line `make demo` runs
    (regress/sandbox.py start/stop/restart/reset), stopped at the end."""
    import tempfile
    d = tempfile.mkdtemp(prefix="tsamba-trial-demo-", dir="/tmp")
    yield d
    demo_cli("stop", d, ok=False)
    import shutil
    shutil.rmtree(d, ignore_errors=True)


def demo_pids(d):
    with open(os.path.join(d, "pids")) as f:
        return {l.split()[0]: int(l.split()[1]) for l in f if l.strip()}


def test_demo_keeps_edits_and_starts_what_is_missing(demo):
    """make demo twice changes nothing; an edited config and an alias
    added with tsambactl survive a stop and start; a daemon that died is
    started again alone, and the pid file lists them all; <Postmaster>
    is delivered; make demo-reset starts afresh."""
    from sandbox import Sandbox, proc_alive
    out = demo_cli("start", demo).stdout
    assert "started now: authd lmtpd queue smtpd imapd metricsd" in out, out
    first = demo_pids(demo)
    assert set(first) == {"authd", "lmtpd", "queue", "smtpd", "imapd",
                          "metricsd"}
    from sandbox import read_env
    env = read_env(os.path.join(demo, "demo.env"))
    for k in ("IMAP_PORT", "IMAPS_PORT", "POP3_PORT", "POP3S_PORT"):
        assert env.get(k, "").isdigit(), (k, env)
    out = demo_cli("start", demo).stdout
    assert "already runs" in out and demo_pids(demo) == first

    sb = Sandbox(demo, keep=True)
    sb.write()
    conf = os.path.join(demo, "tsamba.conf")
    with open(conf, "a") as f:
        f.write("# edited by the admin\n")
    subprocess.run([CTL, "-f", conf, "alias", "add", "sales@example.test",
                    "alice@example.test"], check=True, timeout=60)
    # RFC 5321 4.5.1: <Postmaster> without a domain is accepted
    with Raw(sb) as s:
        s.banner_and_ehlo()
        assert s.cmd("MAIL FROM:<x@example.net>")[0] == 250
        assert s.cmd("RCPT TO:<Postmaster>")[0] == 250

    # one daemon dies: start brings back just that one
    os.kill(first["lmtpd"], 15)
    wait_for(lambda: not proc_alive(first["lmtpd"]), 10, what="lmtpd gone")
    out = demo_cli("start", demo).stdout
    assert "started now: lmtpd" in out, out
    now = demo_pids(demo)
    assert now["lmtpd"] != first["lmtpd"]
    kept = ("authd", "queue", "smtpd", "imapd", "metricsd")
    assert {k: now[k] for k in kept} == {k: first[k] for k in kept}

    # restart of one daemon by name
    out = demo_cli("restart", demo, "smtpd").stdout
    assert out.startswith("restarted tsamba-smtpd[")
    assert demo_pids(demo)["smtpd"] != now["smtpd"]
    assert not proc_alive(now["smtpd"])
    assert Sandbox(demo, keep=True).running().keys() == now.keys()

    demo_cli("stop", demo)
    demo_cli("start", demo)
    assert "# edited by the admin\n" in open(conf).read()
    assert "sales@example.test: alice@example.test" in open(
        os.path.join(demo, "tables", "aliases")).read()

    out = demo_cli("reset", demo).stdout
    assert "removed " + demo in out
    assert "# edited by the admin" not in open(conf).read()
    assert "sales@" not in open(os.path.join(demo, "tables",
                                             "aliases")).read()
    # The five daemons and metricsd (the demo serves IMAP and metrics).
    assert len(Sandbox(demo).running()) == 6
