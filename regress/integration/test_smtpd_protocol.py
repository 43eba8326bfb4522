"""tsamba-smtpd protocol details beyond test_inbound.py: SMTP smuggling,
STARTTLS state handling, tls-require and implicit TLS listeners,
certificate reload on SIGHUP without dropping sessions, limits and their
codes, and the engine surviving an authd restart."""

import os
import select
import signal
import socket
import ssl
import subprocess
import time

import pytest

from helpers import (SENDER, Raw, body_intact, make_message, read,
                     tls_context, wait_copy, copies)
from sandbox import free_port, wait_for


def user(sb, i):
    return sb.address(sb.users[i])


@pytest.fixture(scope="module")
def psb(sandbox_factory):
    ports = {"req": free_port(), "smtps": free_port()}
    sb = sandbox_factory(
        "proto",
        limits={"recipients": 3, "message-size": "64K",
                "sessions-per-ip": 50, "line-length": 512},
        timeouts={"idle": "3s", "session": "6s"},
        aliases=["twice@example.test: alice@example.test, "
                 "Alice@example.test",
                 "dup@example.test: alice@example.test"],
        extra=["listen on 127.0.0.1 port %d tls-require pki demo" %
               ports["req"],
               "listen on 127.0.0.1 port %d smtps pki demo" %
               ports["smtps"]])
    sb.extra_ports = ports
    return sb


def transaction(r, rcpts, body, expect=250):
    assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
    for a in rcpts:
        assert r.cmd("RCPT TO:<%s>" % a)[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(body)
    code, text = r.reply()
    assert code == expect, text
    return text


def test_smuggling_lf_dot_crlf_is_not_an_end(psb):
    """"\\n.\\r\\n" must not end DATA; the smuggled MAIL is body text and
    the whole message is refused once the real end arrives."""
    rcpt = user(psb, 1)
    with Raw(psb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send(b"Subject: a\r\n\r\nbody\n.\r\nMAIL FROM:<evil@x.test>\r\n"
               b"RCPT TO:<%s>\r\nDATA\r\nSubject: smuggled\r\n\r\n"
               b"x\r\n.\r\n" % rcpt.encode())
        code, text = r.reply()
        assert code == 550 and text[0].startswith("5.6.0"), text
        # Nothing else was answered: the next reply is for NOOP.
        assert r.cmd("NOOP")[0] == 250


@pytest.mark.parametrize("end", [b"\r\n.\n", b"\r.\r\n", b"\n.\n"])
def test_smuggling_other_ends(psb, end):
    rcpt = user(psb, 1)
    with Raw(psb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send(b"Subject: a\r\n\r\nbody" + end + b"NOOP\r\n\r\n.\r\n")
        code, text = r.reply()
        assert code == 550, text
        assert r.cmd("RSET")[0] == 250


def test_dot_unstuffing_and_received(psb):
    rcpt = user(psb, 2)
    msgid, msg = make_message(rcpt, "dots", body="..\n.x\n...\n")
    wire = msg.replace(b"\r\n.", b"\r\n..")
    with Raw(psb) as r:
        r.banner_and_ehlo()
        transaction(r, [rcpt], wire + b".\r\n")
    data = read(wait_copy(psb, rcpt, msgid))
    assert data.replace(b"\r\n", b"\n").endswith(
        msg.replace(b"\r\n", b"\n"))
    first = data.replace(b"\r\n", b"\n").split(b"\nReceived: ", 1)
    assert len(first) == 2
    rec = first[1].split(b"\n\t;")[0]
    assert b"from client.test ([127.0.0.1])" in rec
    assert b"(tsamba) with ESMTP id" in rec
    assert b"for <%s>" % rcpt.encode() in data


def test_received_has_no_for_with_two_rcpts(psb):
    a, b = user(psb, 1), user(psb, 2)
    msgid, msg = make_message([a, b], "two")
    with Raw(psb) as r:
        r.banner_and_ehlo()
        transaction(r, [a, b], msg + b".\r\n")
    data = read(wait_copy(psb, a, msgid))
    head = data.split(b"Subject:")[0]
    assert b"Received: from client.test" in head
    assert b"\tfor <" not in head


def test_alias_duplicates_delivered_once(psb):
    alice = user(psb, 1)
    msgid, msg = make_message(alice, "dedup")
    with Raw(psb) as r:
        r.banner_and_ehlo()
        transaction(r, [alice, "twice@example.test", "dup@example.test"],
                    msg + b".\r\n")
    wait_copy(psb, alice, msgid)
    time.sleep(0.5)
    assert len(copies(psb, alice, msgid)) == 1


def test_sequence_errors(psb):
    with Raw(psb) as r:
        assert r.reply()[0] == 220
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 503
        assert r.cmd("EHLO client.test")[0] == 250
        assert r.cmd("RCPT TO:<%s>" % user(psb, 1))[0] == 503
        assert r.cmd("DATA")[0] == 503
        assert r.cmd("MAIL FROM:<%s> FOO=BAR" % SENDER)[0] == 555
        # not offered: LMTP DATA cannot carry a binary body
        assert r.cmd("MAIL FROM:<%s> BODY=BINARYMIME" % SENDER)[0] == 555
        assert r.cmd("MAIL FROM:<%s> BODY=8BITMIME" % SENDER)[0] == 250
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 503
        assert r.cmd("DATA")[0] == 554			# no recipients
        assert r.cmd("RCPT TO:<%s>" % user(psb, 1))[0] == 250
        assert r.cmd("RCPT TO:<postmaster@elsewhere.test>")[0] == 554
        assert r.cmd("RCPT TO:<nobody@example.test>")[0] == 550
        assert r.cmd("RCPT TO:<bad address>")[0] == 501
    # A fresh session: ten bad commands end one (test_too_many_errors).
    with Raw(psb) as r:
        r.banner_and_ehlo()
        assert r.cmd("EXPN x")[0] == 502
        assert r.cmd("VRFY x")[0] == 252
        assert r.cmd("HELP")[0] == 214
        assert r.cmd("FOO")[0] == 500
        assert r.cmd("QUIT")[0] == 221


def test_8bit_bdat(psb):
    """An 8BITMIME body through BDAT arrives as sent; a bare LF in the
    same body would be refused (test_submission.py)."""
    rcpt = user(psb, 3)
    msgid, msg = make_message(rcpt, "eight bit")
    msg += b"\xc3\xa9t\xc3\xa9 \xff\r\n"
    with Raw(psb) as r:
        caps = r.banner_and_ehlo()
        assert "BINARYMIME" not in caps
        r.send(b"MAIL FROM:<%s> BODY=8BITMIME\r\nRCPT TO:<%s>\r\n"
               b"BDAT %d LAST\r\n" % (SENDER.encode(), rcpt.encode(),
                                      len(msg)) + msg)
        assert [r.reply()[0] for _ in range(3)] == [250, 250, 250]
    assert body_intact(read(wait_copy(psb, rcpt, msgid)), msg)


def test_bdat_refused_chunk_is_skipped(psb):
    """A BDAT without MAIL is refused after its chunk is read; the chunk
    bytes are never taken as commands."""
    with Raw(psb) as r:
        r.banner_and_ehlo()
        r.send(b"BDAT 6\r\nQUIT\r\n")
        assert r.reply()[0] == 503
        assert r.cmd("NOOP")[0] == 250


def test_recipient_limit(psb):
    with Raw(psb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        for i in range(3):
            assert r.cmd("RCPT TO:<%s>" % user(psb, i))[0] == 250
        code, text = r.cmd("RCPT TO:<%s>" % user(psb, 3))
        assert code == 452 and text[0].startswith("4.5.3"), text


def test_size_limits(psb):
    rcpt = user(psb, 1)
    with Raw(psb) as r:
        r.banner_and_ehlo()
        code, text = r.cmd("MAIL FROM:<%s> SIZE=100000" % SENDER)
        assert code == 552 and text[0].startswith("5.3.4"), text
        body = b"Subject: big\r\n\r\n" + b"x" * 998 + b"\r\n"
        text = transaction(r, [rcpt], body * 80 + b".\r\n", expect=552)
        assert text[0].startswith("5.3.4")
        assert r.cmd("NOOP")[0] == 250


def test_line_length(psb):
    with Raw(psb) as r:
        r.banner_and_ehlo()
        code, text = r.cmd("NOOP " + "x" * 600)
        assert code == 500 and text[0].startswith("5.5.2"), text
        assert r.cmd("NOOP")[0] == 250


def test_too_many_errors(psb):
    with Raw(psb) as r:
        r.banner_and_ehlo()
        codes = [r.cmd("BOGUS %d" % i)[0] for i in range(10)]
        assert codes[:9] == [500] * 9
        assert r.reply()[0] == 421
        assert r.closed()


def test_garbage_binary(psb):
    with Raw(psb) as r:
        assert r.reply()[0] == 220
        r.send(os.urandom(3000))
        r.sock.settimeout(5)
        code = 0
        while code is not None and code != 421:
            code = r.reply()[0]
    with Raw(psb) as r:
        r.banner_and_ehlo()


def test_starttls_discards_pipelined_and_resets(psb):
    with Raw(psb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        # The NOOP rides in clear text behind STARTTLS: it must vanish.
        r.send("STARTTLS\r\nNOOP\r\n")
        assert r.reply()[0] == 220
        tls = tls_context().wrap_socket(r.sock)
        f = tls.makefile("rb")
        tls.sendall(b"MAIL FROM:<%s>\r\n" % SENDER.encode())
        assert f.readline().startswith(b"503")	# EHLO needed again
        tls.sendall(b"EHLO client.test\r\n")
        caps = []
        while True:
            line = f.readline()
            caps.append(line)
            if line[3:4] == b" ":
                break
        assert not any(b"STARTTLS" in c for c in caps)
        tls.sendall(b"STARTTLS\r\n")
        assert f.readline().startswith(b"503")
        tls.sendall(b"QUIT\r\n")
        assert f.readline().startswith(b"221")
        tls.close()


def test_tls_require(psb):
    port = psb.extra_ports["req"]
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220")
    s.sendall(b"EHLO client.test\r\n")
    while f.readline()[3:4] != b" ":
        pass
    s.sendall(b"MAIL FROM:<%s>\r\n" % SENDER.encode())
    line = f.readline()
    assert line.startswith(b"530 5.7.0"), line
    s.sendall(b"STARTTLS\r\n")
    assert f.readline().startswith(b"220")
    tls = tls_context().wrap_socket(s)
    f = tls.makefile("rb")
    tls.sendall(b"EHLO client.test\r\n")
    while f.readline()[3:4] != b" ":
        pass
    tls.sendall(b"MAIL FROM:<%s>\r\n" % SENDER.encode())
    assert f.readline().startswith(b"250")
    tls.close()


def test_smtps_and_tls_versions(psb):
    port = psb.extra_ports["smtps"]
    ctx = tls_context()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as tls:
            f = tls.makefile("rb")
            assert f.readline().startswith(b"220")
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    old = tls_context()
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        old.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, OSError)):
            old.wrap_socket(raw).do_handshake()


def cert_of(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with tls_context().wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)


def test_sighup_reload_keeps_sessions(psb):
    port = psb.extra_ports["smtps"]
    before = cert_of(port)
    # A session in progress over the old certificate.
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    tls = tls_context().wrap_socket(raw)
    f = tls.makefile("rb")
    assert f.readline().startswith(b"220")

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", psb.key, "-out", psb.cert,
                    "-days", "2", "-subj", "/CN=reloaded.test"],
                   check=True, capture_output=True)
    os.chmod(psb.key, 0o600)
    os.kill(psb.pid("smtpd"), signal.SIGHUP)
    wait_for(lambda: cert_of(port) != before, 10, what="new certificate")

    tls.sendall(b"EHLO client.test\r\n")
    while f.readline()[3:4] != b" ":
        pass
    tls.sendall(b"NOOP\r\n")
    assert f.readline().startswith(b"250")
    tls.close()

    # A broken key file: logged, the current certificate stays.
    current = cert_of(port)
    with open(psb.key, "w") as k:
        k.write("garbage\n")
    os.kill(psb.pid("smtpd"), signal.SIGHUP)
    time.sleep(1)
    assert cert_of(port) == current
    assert "new certificate refused" in psb.log("smtpd")


def test_idle_timeout(psb):
    with Raw(psb) as r:
        r.banner_and_ehlo()
        code, text = r.reply()
        assert code == 421 and text[0].startswith("4.4.2"), text


def test_session_timeout(psb):
    with Raw(psb) as r:
        r.banner_and_ehlo()
        t0 = time.time()
        while True:
            time.sleep(1)
            code, text = r.cmd("NOOP")
            if code != 250:
                break
        assert code == 421 and text[0].startswith("4.4.2"), text
        assert 4 < time.time() - t0 < 9


def test_authd_restart(psb):
    """RCPT during an authd outage is a temporary failure; the engine
    reconnects by itself."""
    psb.kill("authd")
    with Raw(psb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        code, text = r.cmd("RCPT TO:<%s>" % user(psb, 1))
        assert code == 451 and text[0].startswith("4.3.0"), text
    psb.restart("authd")

    def ok():
        with Raw(psb) as r:
            r.banner_and_ehlo()
            r.cmd("MAIL FROM:<%s>" % SENDER)
            return r.cmd("RCPT TO:<%s>" % user(psb, 1))[0] == 250
    wait_for(ok, 15, interval=0.3, what="RCPT accepted again")


def test_authd_lost_under_a_pending_rcpt(psb):
    """authd dies while a RCPT waits for its answer: the channel fails
    the pending request, the client hears 451 4.3.0 (no hang), and the
    engine reconnects."""
    try:
        with Raw(psb) as r:
            r.banner_and_ehlo()
            assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
            # after the ban check at connect, which also asks authd
            os.kill(psb.pid("authd"), signal.SIGSTOP)
            r.send("RCPT TO:<%s>\r\n" % user(psb, 1))
            # authd is stopped: the lookup is out and unanswered
            ready, _, _ = select.select([r.sock], [], [], 1.0)
            assert not ready
            psb.kill("authd")
            code, text = r.reply()
            assert code == 451 and text[0].startswith("4.3.0"), text
    finally:
        if "authd" in psb.running():
            psb.kill("authd")
    psb.restart("authd")

    def ok():
        with Raw(psb) as r:
            r.banner_and_ehlo()
            r.cmd("MAIL FROM:<%s>" % SENDER)
            return r.cmd("RCPT TO:<%s>" % user(psb, 1))[0] == 250
    wait_for(ok, 15, interval=0.3, what="RCPT accepted again")


def test_authd_hung_is_tempfail(sandbox_factory):
    """authd alive but silent (stopped, as a query stuck in the
    database would leave it): past "timeout lookup" the RCPT gets 451
    4.3.0 instead of holding the client, and when authd answers again
    its late answer is dropped and the next RCPT is taken."""
    sb = sandbox_factory("hung", timeouts={"lookup": "2s"})
    with Raw(sb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        os.kill(sb.pid("authd"), signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            code, text = r.cmd("RCPT TO:<%s>" % user(sb, 1))
            waited = time.monotonic() - t0
            assert code == 451 and text[0].startswith("4.3.0"), text
            assert waited >= 1.5, waited
        finally:
            os.kill(sb.pid("authd"), signal.SIGCONT)
        code, text = r.cmd("RCPT TO:<nobody-here@example.test>")
        assert code == 550, text
        assert r.cmd("RCPT TO:<%s>" % user(sb, 1))[0] == 250
    assert "request" in sb.log("smtpd") and "no answer in time" in \
        sb.log("smtpd")


def test_session_limits(sandbox_factory):
    sb = sandbox_factory("limits",
                         limits={"sessions": 4, "sessions-per-ip": 2})
    held = [Raw(sb), Raw(sb)]
    for r in held:
        assert r.reply()[0] == 220
    with Raw(sb) as r:
        code, text = r.reply()
        assert code == 421 and text[0].startswith("4.7.0"), text
    more = [Raw(sb, source=("127.0.0.%d" % i, 0)) for i in (2, 3)]
    for r in more:
        assert r.reply()[0] == 220
    with Raw(sb, source=("127.0.0.4", 0)) as r:
        code, text = r.reply()
        assert code == 421 and text[0].startswith("4.3.2"), text
    for r in held + more:
        r.close()


def test_queue_restart(psb):
    """DATA during a queue outage is a temporary failure; the engine
    reconnects by itself and the next message is accepted."""
    rcpt = user(psb, 2)
    psb.kill("queue")
    with Raw(psb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        code, text = r.cmd("DATA")
        assert code == 451 and text[0].startswith("4.3.0"), text
    psb.restart("queue")
    msgid, msg = make_message(rcpt, "after queue restart")

    def ok():
        with Raw(psb) as r:
            r.banner_and_ehlo()
            r.cmd("MAIL FROM:<%s>" % SENDER)
            r.cmd("RCPT TO:<%s>" % rcpt)
            if r.cmd("DATA")[0] != 354:
                return False
            r.send(msg + b".\r\n")
            return r.reply()[0] == 250
    wait_for(ok, 15, interval=0.3, what="DATA accepted again")
    wait_copy(psb, rcpt, msgid)


def spool_holds(sb, marker):
    """True when a file anywhere in the spool contains marker."""
    for top, _, names in os.walk(sb.spool):
        for n in names:
            try:
                with open(os.path.join(top, n), "rb") as f:
                    if marker in f.read():
                        return True
            except OSError:
                pass
    return False


def nul_refused_then_next_accepted(sb, r, rcpt, marker, send_bad):
    """send_bad(r) sends a message holding a NUL and returns its reply:
    it is refused with 550 5.6.0, logged with the client address,
    nothing of it stays in the spool or reaches the mailbox, and the
    same session then delivers a clean message."""
    code, text = send_bad(r)
    assert code == 550 and text[0].startswith("5.6.0"), (code, text)
    assert "NUL" in text[0], text
    assert r.cmd("NOOP")[0] == 250
    msgid, msg = make_message(rcpt, "clean after NUL")
    transaction(r, [rcpt], msg + b".\r\n")
    wait_copy(sb, rcpt, msgid)
    wait_for(lambda: not spool_holds(sb, marker), 10,
             what="refused message gone from the spool")
    assert not any(marker in read(p) for p in
                   sb.maildir_messages(rcpt)), "NUL message delivered"
    wait_for(lambda: "[127.0.0.1]: NUL character in message refused" in
             sb.log("smtpd"), 10, what="log line with the client IP")


def nul_data(body):
    def send_bad(r):
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("RCPT TO:<%s>" % r.rcpt)[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send(body)
        return r.reply()
    return send_bad


@pytest.mark.parametrize("where", ["body", "before-dot", "header"])
def test_nul_in_data_refused(psb, where):
    """A NUL anywhere in DATA refuses the message (a next hop that drops
    NULs would take "\\r\\n\\0.\\r\\n" for the end); the session goes
    on."""
    rcpt = user(psb, 2)
    marker = b"nul-%s-%d" % (where.encode(), os.getpid())
    msgid, msg = make_message(rcpt, marker.decode())
    head, body = msg.split(b"\r\n\r\n", 1)
    if where == "body":
        wire = head + b"\r\n\r\nbefore\x00after\r\n" + body
    elif where == "before-dot":
        # The smuggling shape: hidden end, then a second transaction.
        wire = (head + b"\r\n\r\n" + body + b"\x00.\r\nMAIL FROM:<e@x.test>"
                b"\r\nRCPT TO:<%s>\r\nDATA\r\nSubject: smuggled\r\n\r\n"
                b"x\r\n" % rcpt.encode())
    else:
        wire = head + b"\r\nX-Nul: a\x00b\r\n\r\n" + body
    with Raw(psb) as r:
        r.banner_and_ehlo()
        r.rcpt = rcpt
        nul_refused_then_next_accepted(psb, r, rcpt, marker,
                                       nul_data(wire + b".\r\n"))


@pytest.mark.parametrize("split", [False, True])
def test_nul_in_bdat_refused(psb, split):
    """A NUL in a BDAT chunk refuses the message at BDAT LAST, whether
    it is in the last chunk or an earlier one."""
    rcpt = user(psb, 2)
    marker = b"nul-bdat-%d-%d" % (split, os.getpid())
    _, msg = make_message(rcpt, marker.decode())
    msg = msg.replace(b"\r\n\r\n", b"\r\n\r\n\x00.\r\n", 1)

    def send_bad(r):
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        if split:
            half = msg.find(b"\x00") + 1
            r.send(b"BDAT %d\r\n" % half + msg[:half])
            assert r.reply()[0] == 250
            rest = msg[half:]
        else:
            rest = msg
        r.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
        return r.reply()

    with Raw(psb) as r:
        r.banner_and_ehlo()
        nul_refused_then_next_accepted(psb, r, rcpt, marker, send_bad)
