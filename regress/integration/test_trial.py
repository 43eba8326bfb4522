"""What the migration trial of issue 10 found, each as an admin sees it:
the log names the delivered file as it is on disk, a refused banned
client's log line gives the ban's end in ISO 8601."""

import os
import re
import subprocess

import pytest

from sandbox import TOP, wait_for
from helpers import Raw

CTL = os.path.join(TOP, "ctl", "tsambactl")
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


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
    UTC ISO 8601, the same text tsambactl ban add printed."""
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
