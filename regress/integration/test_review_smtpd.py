"""Defects found in review of tsamba-smtpd, each pinned by a test that
failed before its fix: SIZE parameters of 20 digits, a session whose
client never reads its replies, and what is left of the TLS key in the
engine's memory."""

import os
import re
import socket
import time

import pytest

from helpers import SENDER, Raw
from sandbox import wait_for


@pytest.fixture(scope="module")
def rsb(sandbox_factory):
    return sandbox_factory(
        "review",
        limits={"sessions-per-ip": 100, "message-size": "64K"},
        timeouts={"idle": "2s", "session": "120s"})


def smtpd_log(sb):
    with open(os.path.join(sb.logdir, "smtpd.log"), errors="replace") as f:
        return f.read()


def test_mail_size_of_twenty_digits_is_too_big_not_bad_syntax(rsb):
    """RFC 1870: size-value is 1*20DIGIT.  A value that does not fit in
    64 bits is a message too big (552 5.3.4), not a syntax error; 21
    digits are bad syntax."""
    with Raw(rsb) as r:
        r.banner_and_ehlo()
        for v in ("18446744073709551615", "99999999999999999999"):
            code, text = r.cmd("MAIL FROM:<%s> SIZE=%s" % (SENDER, v))
            assert code == 552 and text[0].startswith("5.3.4"), (v, text)
        code, text = r.cmd("MAIL FROM:<%s> SIZE=%s" % (SENDER, "1" * 21))
        assert code == 501, text
        assert r.cmd("MAIL FROM:<%s> SIZE=100" % SENDER)[0] == 250


def test_unsupported_parameter_reply_stays_short(rsb):
    """An unknown MAIL parameter is named in the 555 reply, but a long
    one is cut: a reply line stays within RFC 5321's 512 octets."""
    with Raw(rsb) as r:
        r.banner_and_ehlo()
        code, text = r.cmd("MAIL FROM:<%s> X%s=1" % (SENDER, "Y" * 900))
        assert code == 555, text
        assert all(len(t) + 4 <= 512 for t in text), text
        assert r.cmd("NOOP")[0] == 250


def test_guessing_recipients_is_cut_off(rsb):
    """Rejected recipients count as errors: a client that guesses
    addresses gets its 10th rejection followed by 421; one that delivers
    mail in between starts counting again."""
    with Raw(rsb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        for i in range(10):
            assert r.cmd("RCPT TO:<guess%d@example.test>" % i)[0] == 550
        code, text = r.reply()
        assert code == 421 and text[0].startswith("4.7.0"), text
    with Raw(rsb) as r:
        r.banner_and_ehlo()
        for round in range(2):
            assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
            for i in range(8):
                assert r.cmd("RCPT TO:<g%d@example.test>" % i)[0] == 550
            assert r.cmd("RCPT TO:<%s>" % rsb.demo_user)[0] == 250
            assert r.cmd("DATA")[0] == 354
            code, text = r.cmd("Subject: x\r\n\r\nbody\r\n.")
            assert code == 250, text
        assert r.cmd("NOOP")[0] == 250


def test_bdat_chunk_too_large_to_count_is_refused(rsb):
    """A chunk size that overflows cannot be read through: 501 at once,
    and the session goes on (the old 19-digit cut-off, kept)."""
    with Raw(rsb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        code, _ = r.cmd("BDAT 18446744073709551616 LAST")
        assert code == 501
        assert r.cmd("RSET")[0] == 250


def test_client_that_never_reads_is_dropped_after_idle(rsb):
    """A client pipelines commands and never reads a reply: the server
    stops reading, the idle timeout sends 421, and the session must end
    soon after, not hold its slot until the session time limit (120s
    here).  The idle timer used to stay off once it had fired."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", rsb.smtp_port))
    lport = s.getsockname()[1]
    try:
        s.settimeout(1.0)
        chunk = b"NOOP\r\n" * 10000
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                s.send(chunk)
            except socket.timeout:
                break		# everything is full: the server stopped
        else:
            pytest.fail("the server never stopped reading")
        pat = re.compile(r"disconnect from \[127\.0\.0\.1\]:%d " % lport)
        wait_for(lambda: pat.search(smtpd_log(rsb)), 20,
                 what="the session of a client that never reads to end")
    finally:
        s.close()


# ------------------------------------------------ secrets left in memory

def readable_memory(pid):
    """The bytes of every writable or anonymous mapping of pid."""
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read().splitlines()
    with open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1]:
                continue
            if len(fields) > 5 and fields[5].startswith("/") and \
                    "w" not in fields[1]:
                continue		# program text and read-only data
            lo, hi = [int(x, 16) for x in fields[0].split("-")]
            try:
                mem.seek(lo)
                yield mem.read(hi - lo)
            except OSError:
                continue


def holders(sb, name, secrets):
    """{pid: [secrets found in its memory]} for daemon name's tree."""
    from sandbox import descendants
    root = sb.pid(name)
    found = {}
    for pid in [root] + sorted(descendants(root)):
        for chunk in readable_memory(pid):
            for s in secrets:
                if s in chunk:
                    found.setdefault(pid, set()).add(s)
    return found


@pytest.fixture(scope="module")
def subsb(sandbox_factory):
    return sandbox_factory("reviewsub", submission=True)


@pytest.mark.root
def test_tls_key_not_left_in_smtpd_memory(subsb):
    """The PEM key goes from the parent to the engine in an imsg; once
    libtls has it, no copy may stay behind in the imsg buffers of either
    process (the engine parses network input)."""
    with open(subsb.key, "rb") as f:
        lines = [l for l in f.read().splitlines()
                 if l and not l.startswith(b"-----")]
    probes = [lines[1], lines[len(lines) // 2]]
    assert holders(subsb, "smtpd", probes) == {}


@pytest.mark.root
def test_passwords_not_left_in_engine_or_authd_memory(subsb):
    """A password crosses engine -> authd in a LOGIN imsg; after the
    answer no copy may stay in either process (freed imsg buffers, the
    read buffer of the channel)."""
    import secrets
    import smtplib
    from helpers import tls_context
    bad = "Zq" + secrets.token_hex(20)
    with smtplib.SMTP_SSL("127.0.0.1", subsb.ports["smtps"],
                          context=tls_context(), timeout=30) as s:
        s.ehlo("client.test")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login(subsb.demo_user, bad)
        s.login(subsb.demo_user, subsb.password)
    time.sleep(0.5)
    probes = [bad.encode(), subsb.password.encode()]
    assert holders(subsb, "smtpd", probes) == {}
    assert holders(subsb, "authd", probes) == {}
