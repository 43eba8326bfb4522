"""Inbound SMTP as a client sees it: delivery into the Maildir, trace
header, aliases, STARTTLS, pipelining, BDAT, every limit with its reply
code, bad input, many sessions at once."""

import os
import random
import shutil
import signal
import subprocess
import threading
import time

import pytest

from helpers import (SENDER, Raw, body_intact, copies, make_message,
                     MsgIndex, new_msgid, parse, read, send, smtp,
                     tls_context, wait_copy)
from sandbox import wait_for

MAX_SIZE = 100 * 1024
MAX_RCPTS = 5


@pytest.fixture(scope="module")
def sb(sandbox_factory):
    return sandbox_factory("main", limits={
        "message-size": "100K",
        "recipients": MAX_RCPTS,
        "sessions": 400,
        "sessions-per-ip": 300,
    }, timeouts={"idle": "60s"})


@pytest.fixture(scope="module")
def tight(sandbox_factory):
    """Idle timeout and connections per IP small enough to hit."""
    return sandbox_factory("tight", limits={"sessions-per-ip": 3},
                           timeouts={"idle": "2s", "session": "6s"})


def user(sb, i):
    return sb.address(sb.users[i])


def sentinel(sb, address):
    """Send one more message to address and wait for it: whatever was
    queued for address before it has had its chance to arrive too."""
    msgid, _, _ = send(sb, address, "sentinel")
    wait_copy(sb, address, msgid)


# ------------------------------------------------------------ delivery

def test_plain_delivery(sb):
    alice = user(sb, 1)
    msgid, sent, reply = send(sb, alice)
    path = wait_copy(sb, alice, msgid)
    data = read(path)
    assert body_intact(data, sent), data
    received = parse(data).get_all("Received") or []
    assert received, "no Received header in\n%s" % data.decode()
    assert "by " in received[0] and "from " in received[0], received[0]


def test_data_reply_names_queue_id(sb):
    _, _, reply = send(sb, user(sb, 1))
    assert "queued as" in reply.lower(), reply


def test_one_copy_per_recipient(sb):
    rcpts = [user(sb, 1), user(sb, 2), user(sb, 3)]
    msgid, sent, _ = send(sb, rcpts)
    for r in rcpts:
        assert body_intact(read(wait_copy(sb, r, msgid)), sent)
    for r in rcpts:
        sentinel(sb, r)
        assert len(copies(sb, r, msgid)) == 1, r


def test_alias_one_to_many(sb):
    team = sb.address("team")
    msgid, sent, _ = send(sb, team)
    for r in (user(sb, 1), user(sb, 2)):
        assert body_intact(read(wait_copy(sb, r, msgid)), sent)
    for r in (user(sb, 1), user(sb, 2)):
        sentinel(sb, r)
        assert len(copies(sb, r, msgid)) == 1, r


def test_catchall(sb):
    rcpt = "whoever%d@%s" % (random.randrange(10**6), sb.catchall_domain)
    msgid, sent, _ = send(sb, rcpt)
    target = sb.address(sb.users[-1])
    assert body_intact(read(wait_copy(sb, target, msgid)), sent)


def test_address_case_and_extension(sb):
    rcpt = "Alice+Lists@Example.TEST"
    msgid, _, _ = send(sb, rcpt)
    wait_copy(sb, user(sb, 1), msgid)


def test_starttls_smtplib(sb):
    with smtp(sb) as s:
        assert s.has_extn("starttls")
    msgid, sent, _ = send(sb, user(sb, 2), tls=True)
    data = read(wait_copy(sb, user(sb, 2), msgid))
    assert body_intact(data, sent)
    assert parse(data).get_all("Received")


def test_starttls_tls_versions(sb):
    """TLS 1.2 and 1.3 only."""
    import ssl
    with smtp(sb) as s:
        ctx = tls_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        s.starttls(context=ctx)
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        code, _ = s.ehlo("client.test")
        assert code == 250
        assert not s.has_extn("starttls")


@pytest.mark.skipif(not shutil.which("swaks"), reason="swaks missing")
def test_starttls_swaks(sb):
    msgid = new_msgid()
    rcpt = user(sb, 3)
    p = subprocess.run(
        ["swaks", "--server", "127.0.0.1:%d" % sb.smtp_port,
         "--to", rcpt, "--from", SENDER, "--helo", "client.test",
         "--tls", "--header", "Message-Id: " + msgid,
         "--body", "sent by swaks over STARTTLS"],
        capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "STARTTLS" in p.stdout
    data = read(wait_copy(sb, rcpt, msgid))
    assert b"sent by swaks over STARTTLS" in data


# ------------------------------------------------------------ ESMTP

def test_pipelining(sb):
    a, b = user(sb, 1), user(sb, 2)
    msgid, sent = make_message([a, b], "pipelined")
    with Raw(sb) as r:
        caps = r.banner_and_ehlo()
        assert "PIPELINING" in caps, caps
        r.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\n"
               "DATA\r\n" % (SENDER, a, b))
        assert [r.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
        r.send(sent.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        code, text = r.reply()
        assert code == 250, text
        # The next transaction, pipelined with QUIT.
        r.send("RSET\r\nNOOP\r\nQUIT\r\n")
        assert [r.reply()[0] for _ in range(3)] == [250, 250, 221]
    for rcpt in (a, b):
        assert body_intact(read(wait_copy(sb, rcpt, msgid)), sent)


def test_bdat(sb):
    rcpt = user(sb, 1)
    msgid, sent = make_message(rcpt, "chunked")
    wire = sent			# BDAT: no dot-stuffing
    assert b"\r\n.a line" in wire
    cut = len(wire) // 2
    with Raw(sb) as r:
        caps = r.banner_and_ehlo()
        assert "CHUNKING" in caps, caps
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        r.send(b"BDAT %d\r\n" % cut + wire[:cut])
        assert r.reply()[0] == 250
        r.send(b"BDAT %d\r\n" % (len(wire) - cut) + wire[cut:])
        assert r.reply()[0] == 250
        code, text = r.cmd("BDAT 0 LAST")
        assert code == 250, text
        assert r.cmd("QUIT")[0] == 221
    data = read(wait_copy(sb, rcpt, msgid))
    assert body_intact(data, sent), data


def test_bdat_last_pipelined(sb):
    rcpt = user(sb, 2)
    msgid, sent = make_message(rcpt, "one chunk")
    wire = sent
    with Raw(sb) as r:
        r.banner_and_ehlo()
        r.send(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nBDAT %d LAST\r\n" %
               (SENDER.encode(), rcpt.encode(), len(wire)) + wire)
        assert [r.reply()[0] for _ in range(3)] == [250, 250, 250]
    assert body_intact(read(wait_copy(sb, rcpt, msgid)), sent)


def test_ehlo_extensions(sb):
    with Raw(sb) as r:
        caps = r.banner_and_ehlo()
    names = set(c.split()[0] for c in caps)
    for ext in ("PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE",
                "ENHANCEDSTATUSCODES", "STARTTLS", "CHUNKING"):
        assert ext in names, caps
    size = [c for c in caps if c.startswith("SIZE")][0].split()
    assert len(size) == 2 and int(size[1]) == MAX_SIZE, size


def test_helo_vrfy_help_noop_rset(sb):
    with Raw(sb) as r:
        assert r.reply()[0] == 220
        assert r.cmd("HELO client.test")[0] == 250
        assert r.cmd("VRFY alice")[0] == 252
        assert r.cmd("HELP")[0] in (214, 211)
        assert r.cmd("NOOP")[0] == 250
        assert r.cmd("RSET")[0] == 250
        assert r.cmd("QUIT")[0] == 221


def test_smtputf8_8bitmime(sb):
    rcpt = user(sb, 3)
    msgid = new_msgid()
    body = ("From: Jörg <jörg@exämple.net>\r\nTo: %s\r\nSubject: "
            "Grüße\r\nMessage-ID: %s\r\n\r\nÜnïcödé body ✓\r\n" %
            (rcpt, msgid)).encode()
    with Raw(sb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<jörg@exämple.net> BODY=8BITMIME "
                     "SMTPUTF8")[0] == 250
        assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send(body + b".\r\n")
        assert r.reply()[0] == 250
    data = read(wait_copy(sb, rcpt, msgid))
    assert "Ünïcödé body ✓".encode() in data


# ------------------------------------------------------------ limits

def test_size_declared_too_big(sb):
    with Raw(sb) as r:
        r.banner_and_ehlo()
        code, text = r.cmd("MAIL FROM:<%s> SIZE=%d" % (SENDER,
                                                       MAX_SIZE * 10))
        assert code == 552 and text[0].startswith("5.3.4"), (code, text)


def test_size_actual_too_big(sb):
    rcpt = user(sb, 1)
    msgid, sent = make_message(rcpt, "too big",
                               body=("x" * 70 + "\n") * 3000)
    assert len(sent) > MAX_SIZE
    with Raw(sb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send(sent + b".\r\n")
        code, text = r.reply()
        assert code == 552 and text[0].startswith("5.3.4"), (code, text)
        # The session goes on.
        assert r.cmd("NOOP")[0] == 250
    sentinel(sb, rcpt)
    assert not copies(sb, rcpt, msgid)


def test_size_bdat_too_big(sb):
    rcpt = user(sb, 1)
    with Raw(sb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        chunk = b"x" * 1000 + b"\r\n"
        n = MAX_SIZE // len(chunk) + 5
        r.send((b"BDAT %d\r\n" % len(chunk) + chunk) * n +
               b"BDAT 0 LAST\r\n")
        codes = [r.reply()[0] for _ in range(n + 1)]
        assert 552 in codes and codes[-1] != 250, codes


def test_too_many_recipients(sb):
    with Raw(sb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        for i in range(MAX_RCPTS):
            code, text = r.cmd("RCPT TO:<%s>" % user(sb, i % 5))
            assert code == 250, (i, code, text)
        code, text = r.cmd("RCPT TO:<%s>" % user(sb, 1))
        assert code == 452 and text[0].startswith("4.5.3"), (code, text)


def test_command_line_too_long(sb):
    with Raw(sb) as r:
        r.banner_and_ehlo()
        code, text = r.cmd("NOOP " + "x" * 2000)
        assert code == 500 and text[0].startswith("5.5.2"), (code, text)
    with Raw(sb) as r:
        r.banner_and_ehlo()


def test_unknown_user(sb):
    with Raw(sb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        code, text = r.cmd("RCPT TO:<nosuchuser@%s>" % sb.domain)
        assert code == 550 and text[0].startswith("5.1.1"), (code, text)


def test_relay_denied(sb):
    with Raw(sb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        code, text = r.cmd("RCPT TO:<someone@elsewhere.example>")
        assert code == 554 and text[0].startswith("5.7.1"), (code, text)
        # The session goes on with a local recipient.
        assert r.cmd("RCPT TO:<%s>" % user(sb, 1))[0] == 250


@pytest.mark.parametrize("bare", [b"\n", b"\r"], ids=["LF", "CR"])
def test_bare_newline_in_data_refused(sb, bare):
    rcpt = user(sb, 4)
    msgid = new_msgid()
    # The classic smuggling shape: <bare>.<CRLF> must not end the data,
    # and the message is refused as a whole.
    data = (b"Subject: smuggle\r\nMessage-ID: " + msgid.encode() +
            b"\r\n\r\nline one" + bare + b".\r\nMAIL FROM:<x@y>\r\n"
            b"more" + bare + b"text\r\n.\r\n")
    with Raw(sb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send(data)
        code, text = r.reply()
        assert code is not None and 500 <= code < 600, (code, text)
    sentinel(sb, rcpt)
    assert not copies(sb, rcpt, msgid)


def test_idle_timeout(tight):
    with Raw(tight, timeout=15) as r:
        assert r.reply()[0] == 220
        code, text = r.reply()	# nothing sent: the server speaks first
        assert code == 421, (code, text)
        assert r.closed()


def test_session_time_limit(tight):
    """A client that keeps the session busy is still cut off by the
    total-session timeout."""
    start = time.monotonic()
    with Raw(tight, timeout=15) as r:
        assert r.reply()[0] == 220
        while time.monotonic() - start < 30:
            code, text = r.cmd("NOOP")
            if code != 250:
                break
            time.sleep(0.5)		# well inside the idle timeout
        assert code == 421, (code, text)
    assert 5 <= time.monotonic() - start < 20


def test_connections_per_ip(tight):
    sessions = []
    try:
        for _ in range(3):
            r = Raw(tight)
            sessions.append(r)
            assert r.reply()[0] == 220
        r = Raw(tight)
        sessions.append(r)
        code, text = r.reply()
        assert code == 421, (code, text)
        assert r.closed()
        # Another address is not affected.
        other = Raw(tight, source=("127.0.0.2", 0))
        sessions.append(other)
        assert other.reply()[0] == 220
    finally:
        for r in sessions:
            r.close()
    # Once one closes, a new session is let in.
    wait_for(lambda: tight.smtp_banner() is not None, 10,
             what="a session after the others closed")


# ------------------------------------------------------------ bad input

GARBAGE = [
    b"\x00\x01\x02\xff\xfe\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"MAIL FROM:<<<>>>\r\n",
    b"RCPT TO:<a@b>\r\n",
    b"DATA\r\n",
    b"BDAT x\r\n",
    b"BDAT 99999999999999999999\r\n",
    b"EHLO\r\n",
    b"MAIL FROM:<" + b"a" * 300 + b"@example.net>\r\n",
    b"\r\n\r\n\r\n",
    b"AUTH PLAIN AGFAYg==\r\n",
]


def test_garbage_gets_errors(sb):
    for junk in GARBAGE:
        with Raw(sb) as r:
            r.banner_and_ehlo()
            r.send(junk)
            r.send(b"\r\nNOOP\r\n")
            code, text = r.reply()
            # An error reply or a hang-up, never a crash of the server.
            assert code is None or code >= 400 or code == 250, \
                (junk, code, text)
    msgid, _, _ = send(sb, user(sb, 1))
    wait_copy(sb, user(sb, 1), msgid)


def test_binary_noise_then_server_serves(sb):
    rnd = random.Random(2)
    for _ in range(5):
        with Raw(sb) as r:
            assert r.reply()[0] == 220
            try:
                r.send(bytes(rnd.randrange(256) for _ in range(8192)))
                r.send(b"\r\nQUIT\r\n")
                while r.reply()[0] not in (None, 221):
                    pass
            except (ConnectionResetError, BrokenPipeError):
                pass
    msgid, _, _ = send(sb, user(sb, 2))
    wait_copy(sb, user(sb, 2), msgid)


def test_commands_out_of_order(sb):
    with Raw(sb) as r:
        assert r.reply()[0] == 220
        assert r.cmd("RCPT TO:<%s>" % user(sb, 1))[0] == 503
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 503	# no EHLO
        assert r.cmd("EHLO client.test")[0] == 250
        assert r.cmd("DATA")[0] == 503
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 503
        assert r.cmd("DATA")[0] in (503, 554)	# no recipient yet
        assert r.cmd("FOO bar")[0] == 500
        assert r.cmd("QUIT")[0] == 221


# ------------------------------------------------------------ load

def test_200_concurrent_sessions(sb):
    n = 200
    rcpts = [user(sb, i % len(sb.users)) for i in range(n)]
    barrier = threading.Barrier(n, timeout=60)
    results = [None] * n

    def one(i):
        try:
            msgid, msg = make_message(rcpts[i], "concurrent %d" % i)
            with smtp(sb, timeout=60) as s:
                barrier.wait()
                s.sendmail(SENDER, [rcpts[i]], msg)
            results[i] = msgid
        except Exception as e:		# reported below
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    errors = [r for r in results if not isinstance(r, str)]
    assert not errors, "%d sessions failed, e.g. %r" % (len(errors),
                                                        errors[:3])
    MsgIndex(sb).wait_all(results, 120)


# ------------------------------------------------------------ reload

def cert_serial(sb):
    """Serial number of the certificate the server presents."""
    with smtp(sb) as s:
        s.starttls(context=tls_context())
        der = s.sock.getpeercert(binary_form=True)
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout",
                        "-serial"], input=der, capture_output=True,
                       check=True)
    return p.stdout.decode().strip()


def test_sighup_reloads_certificate_keeps_sessions(sb):
    old = cert_serial(sb)
    busy = Raw(sb)			# a session in progress
    busy.banner_and_ehlo()
    rcpt = user(sb, 1)
    assert busy.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
    assert busy.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
    # A new key and certificate, renamed into place, then SIGHUP.
    tmpkey, tmpcert = sb.key + ".new", sb.cert + ".new"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-subj", "/CN=" + sb.hostname, "-days", "30",
                    "-keyout", tmpkey, "-out", tmpcert], check=True,
                   capture_output=True)
    os.chmod(tmpkey, 0o600)
    os.rename(tmpkey, sb.key)
    os.rename(tmpcert, sb.cert)
    os.kill(sb.pid("smtpd"), signal.SIGHUP)
    wait_for(lambda: cert_serial(sb) != old, 15,
             what="the new certificate after SIGHUP")
    # The old session goes on as if nothing happened.
    msgid, sent = make_message(rcpt, "across a reload")
    assert busy.cmd("DATA")[0] == 354
    busy.send(sent.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    assert busy.reply()[0] == 250
    busy.close()
    assert body_intact(read(wait_copy(sb, rcpt, msgid)), sent)
    assert sb.pid("smtpd") in sb.running().values()
