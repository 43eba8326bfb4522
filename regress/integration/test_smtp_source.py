"""Postfix's smtp-source, a load generator that speaks SMTP the way MTAs
do, sends 1,000 messages over 20 sessions; every one arrives."""

import shutil
import subprocess

import pytest

from sandbox import wait_for

N = 1000

pytestmark = pytest.mark.skipif(not shutil.which("smtp-source"),
                                reason="smtp-source (postfix) missing")


def test_smtp_source_1000(sb):
    rcpt = sb.address(sb.users[1])
    before = len(sb.maildir_messages(rcpt))
    p = subprocess.run(
        ["smtp-source", "-s", "20", "-m", str(N), "-l", "2048",
         "-f", "a@example.net", "-t", rcpt,
         "127.0.0.1:%d" % sb.smtp_port],
        capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    try:
        wait_for(lambda: len(sb.maildir_messages(rcpt)) >= before + N,
                 240, interval=0.2, what="%d messages" % N)
    except TimeoutError:
        got = len(sb.maildir_messages(rcpt)) - before
        pytest.fail("%d of %d messages arrived" % (got, N))
    assert len(sb.maildir_messages(rcpt)) == before + N
