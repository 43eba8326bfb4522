"""Submission (issue 3): AUTH PLAIN and LOGIN on a 587-style listener
after STARTTLS and on a 465-style implicit TLS listener, with smtplib,
swaks and raw sessions; AUTH not offered before TLS nor on port 25;
relaying only after AUTH; the sender ownership check; the submission
Received header and hide-client; the ban check at connect; BINARYMIME
refused and bare line ends in BDAT refused."""

import base64
import glob
import ipaddress
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from helpers import (SENDER, Raw, copies, make_message, read, tls_context,
                     wait_copy)
from sandbox import Sandbox, free_port, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
ODD = "o'neil%x"			# a local part with ' and %
REMOTE = "friend@remote.test"		# a domain not hosted here


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain(user, password, authzid=""):
    return b64("%s\0%s\0%s" % (authzid, user, password))


@pytest.fixture(scope="module")
def ssb(sandbox_factory):
    """Submission and smtps with AUTH; remote mail goes to a relay that
    is down, so it stays queued; bans practically off (the ban tests
    have their own sandbox)."""
    sb = sandbox_factory(
        "sub", submission=True,
        users=("demo", "alice", "bob", "carol", ODD),
        limits={"sessions-per-ip": 300},
        aliases=["me@example.test: demo@example.test",
                 "shared@example.test: demo@example.test, "
                 "alice@example.test"],
        extra=["ban max-failures 1000",
               'relay host "127.0.0.1" port %d' % free_port()])
    return sb


def sub_port(sb):
    return sb.ports["submission"]


def smtps_port(sb):
    return sb.ports["smtps"]


def submission(sb, timeout=30):
    """smtplib on the submission port, after STARTTLS and a new EHLO."""
    s = smtplib.SMTP("127.0.0.1", sub_port(sb), timeout=timeout)
    s.ehlo("client.test")
    s.starttls(context=tls_context())
    s.ehlo("client.test")
    return s


def smtps(sb, timeout=30, source=None):
    s = smtplib.SMTP_SSL("127.0.0.1", smtps_port(sb), timeout=timeout,
                         context=tls_context(), source_address=source)
    s.ehlo("client.test")
    return s


def login(s, user, password, mech="PLAIN", initial=True):
    s.user, s.password = user, password
    authobject = s.auth_plain if mech == "PLAIN" else s.auth_login
    return s.auth(mech, authobject, initial_response_ok=initial)


class TlsRaw(Raw):
    """A raw session on the submission port, switched to TLS."""

    def __init__(self, sb, port=None, implicit=False, timeout=15,
                 source=None):
        self.sock = socket.create_connection(
            ("127.0.0.1", port or sub_port(sb)), timeout=timeout,
            source_address=source)
        if implicit:
            self._wrap()
        else:
            self.f = self.sock.makefile("rb")

    def _wrap(self):
        self.sock = tls_context().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")

    def starttls(self):
        code, _ = self.cmd("STARTTLS")
        assert code == 220
        self._wrap()
        code, caps = self.cmd("EHLO client.test")
        assert code == 250
        return [c.upper() for c in caps[1:]]


def tls_session(sb):
    r = TlsRaw(sb)
    r.banner_and_ehlo()
    r.starttls()
    return r


def authed_session(sb, user=None):
    r = tls_session(sb)
    code, text = r.cmd("AUTH PLAIN " + plain(user or sb.demo_user,
                                             sb.password))
    assert code == 235, text
    return r


def first_received(data):
    """The topmost Received header of a delivered message, unfolded."""
    head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    head = head.replace(b"\n\t", b" ").replace(b"\n ", b" ")
    return [l for l in head.split(b"\n") if l.startswith(b"Received:")][0]


def queued_envelopes(sb, needle):
    """Envelope files in the spool's queue/ holding needle."""
    found = []
    for path in glob.glob(os.path.join(sb.spool, "queue", "*")):
        try:
            data = read(path)
        except OSError:
            continue
        if needle.encode() in data and b"\nend" in data:
            found.append(data.decode(errors="replace"))
    return found


# ------------------------------------------------------------ offering AUTH

def test_no_auth_before_tls(ssb):
    with TlsRaw(ssb) as r:
        caps = r.banner_and_ehlo()
        assert "STARTTLS" in caps
        assert not any(c.startswith("AUTH") for c in caps), caps
        code, text = r.cmd("AUTH PLAIN " + plain(ssb.demo_user,
                                                 ssb.password))
        assert code == 538 and text[0].startswith("5.7.11"), text
        assert r.cmd("MAIL FROM:<%s>" % ssb.demo_user)[0] == 530
        caps = r.starttls()
        assert "AUTH PLAIN LOGIN" in caps, caps
        assert "STARTTLS" not in caps
        assert "BINARYMIME" not in caps and "CHUNKING" in caps


def test_port25_offers_no_auth(ssb):
    with Raw(ssb) as r:
        caps = r.banner_and_ehlo()
        assert not any(c.startswith("AUTH") for c in caps), caps
        code, _ = r.cmd("AUTH PLAIN " + plain(ssb.demo_user, ssb.password))
        assert code == 502
    with TlsRaw(ssb, port=ssb.smtp_port) as r:
        r.banner_and_ehlo()
        caps = r.starttls()
        assert not any(c.startswith("AUTH") for c in caps), caps
        assert r.cmd("AUTH LOGIN")[0] == 502


def test_smtps_offers_auth_at_once(ssb):
    with TlsRaw(ssb, port=smtps_port(ssb), implicit=True) as r:
        caps = r.banner_and_ehlo()
        assert "AUTH PLAIN LOGIN" in caps and "STARTTLS" not in caps


# ------------------------------------------------------------ logging in

@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("initial", [True, False], ids=["ir", "no-ir"])
@pytest.mark.parametrize("where", ["587", "465"])
def test_auth_ok(ssb, where, mech, initial):
    s = submission(ssb) if where == "587" else smtps(ssb)
    with s:
        code, text = login(s, ssb.demo_user, ssb.password, mech, initial)
        assert code == 235 and text.startswith(b"2.7.0"), (code, text)


def test_auth_then_send_local(ssb):
    """The delivered copy carries the submission Received header."""
    rcpt = ssb.address("alice")
    msgid, msg = make_message(rcpt, "submitted")
    with submission(ssb) as s:
        login(s, ssb.demo_user, ssb.password)
        s.sendmail(ssb.demo_user, [rcpt], msg)
    received = first_received(read(wait_copy(ssb, rcpt, msgid)))
    assert b"with ESMTPSA" in received, received
    assert b"from client.test ([127.0.0.1])" in received, received


@pytest.mark.parametrize("where", ["587", "465"])
def test_swaks(ssb, where):
    if shutil.which("swaks") is None:
        pytest.skip("swaks not installed")
    rcpt = ssb.address("bob")
    tag = "swaks-%s-%d-%d" % (where, os.getpid(), time.time_ns())
    cmd = ["swaks", "--server", "127.0.0.1",
           "--from", ssb.demo_user, "--to", rcpt,
           "--auth", "PLAIN" if where == "587" else "LOGIN",
           "--auth-user", ssb.demo_user, "--auth-password", ssb.password,
           "--header", "Subject: " + tag, "--timeout", "20"]
    if where == "587":
        cmd += ["--port", str(sub_port(ssb)), "--tls"]
    else:
        cmd += ["--port", str(smtps_port(ssb)), "--tls-on-connect"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0" in r.stdout
    wait_for(lambda: [p for p in ssb.maildir_messages(rcpt)
                      if tag.encode() in read(p)], 30,
             what="the swaks message in the Maildir of " + rcpt)


def test_swaks_wrong_password(ssb):
    if shutil.which("swaks") is None:
        pytest.skip("swaks not installed")
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port",
                        str(sub_port(ssb)), "--tls", "--auth", "LOGIN",
                        "--auth-user", ssb.demo_user, "--auth-password",
                        "wrong", "--from", ssb.demo_user, "--to",
                        ssb.address("bob"), "--timeout", "20"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "535 5.7.8" in r.stdout, r.stdout


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_wrong_password(ssb, mech):
    with submission(ssb) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            login(s, ssb.demo_user, ssb.password + "x", mech)
        assert e.value.smtp_code == 535
        assert e.value.smtp_error.startswith(b"5.7.8")


def test_unknown_user(ssb):
    with smtps(ssb) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            login(s, "nobody@example.test", ssb.password)
        assert e.value.smtp_code == 535


def test_exchange_errors(ssb):
    with tls_session(ssb) as r:
        assert r.cmd("AUTH CRAM-MD5")[0] == 504
        assert r.cmd("AUTH")[0] == 501
        assert r.cmd("AUTH PLAIN")[0] == 334
        code, text = r.cmd("*")			# cancel
        assert code == 501 and text[0].startswith("5.0.0"), text
        code, text = r.cmd("AUTH PLAIN !!!!")	# not base64
        assert code == 501 and text[0].startswith("5.5.2"), text
        assert r.cmd("AUTH LOGIN")[0] == 334
        assert r.cmd(b64(ssb.demo_user))[0] == 334
        code, text = r.cmd("abc")		# not base64
        assert code == 501 and text[0].startswith("5.5.2"), text
        code, text = r.cmd("AUTH PLAIN =")	# empty response
        assert code == 501, text
        # authzid may only be empty or the login itself
        code, _ = r.cmd("AUTH PLAIN " + plain(ssb.demo_user, ssb.password,
                                              "alice@example.test"))
        assert code == 535
        code, _ = r.cmd("AUTH PLAIN " + plain(ssb.demo_user, ssb.password,
                                              ssb.demo_user))
        assert code == 235
        assert r.cmd("AUTH PLAIN " + plain(ssb.demo_user,
                                           ssb.password))[0] == 503
        assert r.cmd("NOOP")[0] == 250


def test_auth_in_transaction(ssb):
    with tls_session(ssb) as r:
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("AUTH PLAIN " + plain(ssb.demo_user,
                                           ssb.password))[0] == 503
        assert r.cmd("RSET")[0] == 250
        assert r.cmd("AUTH PLAIN " + plain(ssb.demo_user,
                                           ssb.password))[0] == 235


def test_failures_end_the_session(ssb):
    with tls_session(ssb) as r:
        bad = "AUTH PLAIN " + plain(ssb.demo_user, "wrong")
        assert r.cmd(bad)[0] == 535
        assert r.cmd(bad)[0] == 535
        code, text = r.cmd(bad)
        assert code == 421 and text[0].startswith("4.7.0"), text
        assert r.closed()


def test_pipelined_auth_and_mail(ssb):
    """AUTH with its initial response may be pipelined with MAIL."""
    with tls_session(ssb) as r:
        r.send("AUTH PLAIN %s\r\nMAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n" %
               (plain(ssb.demo_user, ssb.password), ssb.demo_user, REMOTE))
        assert [r.reply()[0] for _ in range(3)] == [235, 250, 250]


# ------------------------------------------------------------ relaying

def test_relay_denied_without_auth(ssb):
    with tls_session(ssb) as r:
        assert r.cmd("MAIL FROM:<%s>" % ssb.demo_user)[0] == 250
        code, text = r.cmd("RCPT TO:<%s>" % REMOTE)
        assert code == 554 and text[0].startswith("5.7.1"), text
        # hosted domains need no AUTH
        assert r.cmd("RCPT TO:<%s>" % ssb.address("alice"))[0] == 250


def test_relay_with_auth_is_queued(ssb):
    """The remote recipient waits in queue/ (the relay is down): not
    refused, not bounced."""
    rcpt = "queued-%d@remote.test" % os.getpid()
    msgid, msg = make_message(rcpt, "outbound")
    with submission(ssb) as s:
        login(s, ssb.demo_user, ssb.password)
        assert s.sendmail(ssb.demo_user, [rcpt, ssb.address("carol")],
                          msg) == {}
    wait_copy(ssb, ssb.address("carol"), msgid)
    env = wait_for(lambda: queued_envelopes(ssb, "rcpt " + rcpt), 10,
                   what="an envelope for %s in queue/" % rcpt)[0]
    assert "auth %s" % ssb.demo_user in env, env
    time.sleep(1)
    assert queued_envelopes(ssb, "rcpt " + rcpt)
    # no bounce came back to the sender
    assert not [p for p in ssb.maildir_messages(ssb.demo_user)
                if rcpt.encode() in read(p) and
                b"Delivery Status" in read(p)]


# ------------------------------------------------------------ senders

@pytest.mark.parametrize("sender,code", [
    ("demo@example.test", 250),
    ("DEMO@Example.Test", 250),
    ("me@example.test", 250),		# alias to demo alone
    ("shared@example.test", 553),	# alias to demo and alice
    ("alice@example.test", 553),
    ("someone@example.net", 553),
    ("", 553),				# null sender after AUTH
])
def test_sender_ownership(ssb, sender, code):
    with authed_session(ssb) as r:
        got, text = r.cmd("MAIL FROM:<%s>" % sender)
        assert got == code, text
        if code == 553:
            assert text[0].startswith("5.7.1"), text
            assert r.cmd("RCPT TO:<%s>" % REMOTE)[0] == 503


def test_forged_sender_smtplib(ssb):
    with smtps(ssb) as s:
        login(s, ssb.demo_user, ssb.password, "LOGIN")
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("boss@example.test", [REMOTE], b"Subject: x\r\n\r\n")
        assert e.value.smtp_code == 553


def test_quote_and_percent_user(ssb):
    user = ssb.address(ODD)
    rcpt = ssb.address("alice")
    msgid, msg = make_message(rcpt, "odd user")
    with submission(ssb) as s:
        assert login(s, user, ssb.password, "LOGIN")[0] == 235
        assert s.sendmail(user, [rcpt], msg) == {}
    wait_copy(ssb, rcpt, msgid)
    with smtps(ssb) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            login(s, ssb.address("o'neil"), ssb.password)


# ------------------------------------------------------------ hide-client

def test_hide_client(sandbox_factory):
    sb = sandbox_factory("hide", submission=True,
                         submission_opts="hide-client")
    rcpt = sb.address("alice")
    msgid, msg = make_message(rcpt, "hidden")
    with submission(sb) as s:
        s.ehlo("secret-laptop.lan")
        login(s, sb.demo_user, sb.password)
        s.sendmail(sb.demo_user, [rcpt], msg)
    received = first_received(read(wait_copy(sb, rcpt, msgid)))
    assert received.startswith(b"Received: by "), received
    assert b"ESMTPSA" in received
    assert b"127.0.0.1" not in received and b"secret-laptop" not in \
        received, received


# ------------------------------------------------------------ bans

@pytest.fixture(scope="module")
def bsb(sandbox_factory):
    return sandbox_factory(
        "ban", submission=True, limits={"sessions-per-ip": 300},
        extra=["ban max-failures 5", "ban window 60s",
               "ban duration 3s", 'ban never "127.0.0.2/32"'])


def bad_login(sb, source=None):
    with smtps(sb, source=source) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            login(s, sb.demo_user, "wrong password")


def test_ban_after_five_failures(bsb):
    for _ in range(5):
        bad_login(bsb)
    # The sixth connection is refused at once, on every listener.
    with Raw(bsb) as r:
        code, text = r.reply()
        assert code == 421, text
        assert text[0].startswith("4.7.0") and \
            "Too many failed logins" in text[0], text
        assert r.closed()
    with TlsRaw(bsb) as r:
        assert r.reply()[0] == 421
    with pytest.raises(smtplib.SMTPConnectError) as e:
        smtps(bsb)
    assert e.value.smtp_code == 421
    # The ban lifts after its (test-sized) duration.
    wait_for(lambda: bsb.smtp_banner() is not None, 15,
             what="the ban to lift")
    with smtps(bsb) as s:
        assert login(s, bsb.demo_user, bsb.password)[0] == 235


def test_never_banned_network(bsb):
    try:
        socket.create_connection(("127.0.0.1", bsb.smtp_port), 2,
                                 ("127.0.0.2", 0)).close()
    except OSError:
        pytest.skip("cannot bind 127.0.0.2")
    for _ in range(8):
        bad_login(bsb, source=("127.0.0.2", 0))
    with smtps(bsb, source=("127.0.0.2", 0)) as s:
        assert login(s, bsb.demo_user, bsb.password)[0] == 235


def ip6(*args):
    return subprocess.run(["ip", "-6", "addr"] + list(args) + ["dev", "lo"],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def v6(sandbox_factory):
    """An implicit-TLS listener on ::1, and client addresses on lo: six
    in one random /64 under fd00:7a::/32, one in the next /64; removed
    again after the module."""
    if os.geteuid() != 0:
        pytest.skip("adding addresses to lo needs root")
    r = int.from_bytes(os.urandom(4), "big")
    a, b = 1 + (r >> 16) % 0xfffe, 2 + (r & 0x7ffe)
    same = ["fd00:7a:%x:%x::%x" % (a, b, i) for i in range(0x11, 0x17)]
    other = "fd00:7a:%x:%x::11" % (a, b + 1)
    added = []
    try:
        for addr in same + [other]:
            r = ip6("add", addr + "/128", "nodad")
            if r.returncode != 0:
                pytest.skip("cannot add %s to lo: %s" % (addr, r.stderr))
            added.append(addr)
        port = free_port()
        sb = sandbox_factory(
            "ban6", submission=True, limits={"sessions-per-ip": 300},
            extra=["ban max-failures 5", "ban window 60s",
                   "ban duration 60s",
                   "listen on ::1 port %d smtps pki demo auth" % port])
        yield sb, port, same, other
    finally:
        for addr in added:
            ip6("del", addr + "/128")


def smtps6(port, source):
    s = smtplib.SMTP_SSL("::1", port, timeout=30, context=tls_context(),
                         source_address=(source, 0))
    s.ehlo("client.test")
    return s


def test_ipv6_client_banned_per_64(v6):
    """Five failed logins from five addresses of one /64 (through
    tsamba-smtpd, which reports each address to authd) ban the whole
    /64: a sixth address of it is refused at connect, an address of the
    next /64 still logs in."""
    sb, port, same, other = v6
    for addr in same[:5]:
        with smtps6(port, addr) as s:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                login(s, sb.demo_user, "wrong password")
    with pytest.raises(smtplib.SMTPConnectError) as e:
        smtps6(port, same[5])
    assert e.value.smtp_code == 421
    with smtps6(port, other) as s:
        assert login(s, sb.demo_user, sb.password)[0] == 235
    net = ipaddress.ip_network(same[0] + "/64", strict=False).compressed
    assert "ban: ip=%s failures=5" % net in sb.log("authd")


# ------------------------------------------------------------ BDAT, BINARYMIME

def test_binarymime_refused(ssb):
    with Raw(ssb) as r:
        caps = r.banner_and_ehlo()
        assert "BINARYMIME" not in caps
        code, text = r.cmd("MAIL FROM:<%s> BODY=BINARYMIME" % SENDER)
        assert code == 555 and text[0].startswith("5.5.4"), text
        assert r.cmd("MAIL FROM:<%s> BODY=8BITMIME" % SENDER)[0] == 250


@pytest.mark.parametrize("bare", [b"\n", b"\r", b"\r\r\n"],
                         ids=["LF", "CR", "CRCRLF"])
def test_bare_line_end_in_bdat_refused(ssb, bare):
    rcpt = ssb.address("carol")
    msgid, msg = make_message(rcpt, "bdat bare")
    smuggled = msg + b"x" + bare + b".\r\nMAIL FROM:<x@y>\r\n"
    with Raw(ssb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        half = len(smuggled) // 2
        r.send(b"BDAT %d\r\n" % half + smuggled[:half])
        assert r.reply()[0] == 250
        r.send(b"BDAT %d LAST\r\n" % (len(smuggled) - half) +
               smuggled[half:])
        code, text = r.reply()
        assert code == 550 and text[0].startswith("5.6.0"), text
        assert r.cmd("NOOP")[0] == 250
    time.sleep(1)
    assert not copies(ssb, rcpt, msgid)


def test_bdat_cr_at_the_end_refused(ssb):
    rcpt = ssb.address("carol")
    msgid, msg = make_message(rcpt, "bdat trailing cr")
    body = msg + b"last\r"
    with Raw(ssb) as r:
        r.banner_and_ehlo()
        r.send(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nBDAT %d LAST\r\n" %
               (SENDER.encode(), rcpt.encode(), len(body)) + body)
        assert [r.reply()[0] for _ in range(3)] == [250, 250, 550]


def test_bdat_crlf_across_chunks(ssb):
    """A CRLF split between two chunks is a line end; a body without a
    final CRLF gets one."""
    rcpt = ssb.address("carol")
    msgid, msg = make_message(rcpt, "bdat split")
    body = msg + b"no newline at the end"
    cut = msg.index(b"\r\n") + 1		# between CR and LF
    with Raw(ssb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        r.send(b"BDAT %d\r\n" % cut + body[:cut])
        assert r.reply()[0] == 250
        r.send(b"BDAT %d LAST\r\n" % (len(body) - cut) + body[cut:])
        code, text = r.reply()
        assert code == 250, text
    data = read(wait_copy(ssb, rcpt, msgid))
    assert data.endswith(b"no newline at the end\r\n") or \
        data.endswith(b"no newline at the end\n")


# ------------------------------------------------------------ MariaDB

@pytest.fixture(scope="module")
def mariadb_server():
    if not os.path.exists(os.path.join(HERE, "mariadb.py")):
        pytest.skip("no regress/integration/mariadb.py")
    import mariadb as fixture_mod	# regress/integration/mariadb.py
    if not fixture_mod.available():
        pytest.skip("mariadb-server is not installed")
    with fixture_mod.running("tsamba-sub-mariadb-") as srv:
        yield srv


@pytest.fixture(scope="module")
def msb(request, mariadb_server):
    from conftest import new_sandbox
    from sandbox import sha512_crypt
    myconf = os.path.join(mariadb_server.tmp, "mysql.conf")
    with open(myconf, "w") as f:
        f.write(mariadb_server.conf_text(tcp=False))
    os.chmod(myconf, 0o644)
    password = "Sql'pass%word-1"
    h = sha512_crypt([password])[0]
    srv = mariadb_server
    srv.add_domain("example.test")
    for local in ("demo", "alice", ODD):
        srv.add_user("%s@example.test" % local, h)
    srv.add_alias("me@example.test", "demo@example.test")
    sb = new_sandbox(request, "my", submission=True, password=password,
                     extra=['table %s mysql "%s"' % (t, myconf)
                            for t in ("domains", "users", "aliases")] +
                     ["ban max-failures 1000"])
    return sb


def test_mysql_quote_and_percent_user(msb):
    user = "%s@example.test" % ODD
    rcpt = "alice@example.test"
    msgid, msg = make_message(rcpt, "odd sql user")
    with submission(msb) as s:
        assert login(s, user, msb.password)[0] == 235
        assert s.sendmail(user, [rcpt], msg) == {}
        with pytest.raises(smtplib.SMTPSenderRefused):
            s.sendmail("demo@example.test", [rcpt], msg)
    wait_copy(msb, rcpt, msgid)
    with smtps(msb) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            login(s, "o'neil%@example.test", msb.password)
    with smtps(msb) as s:
        assert login(s, "demo@example.test", msb.password, "LOGIN")[0] \
            == 235
        assert s.sendmail("me@example.test", [REMOTE], msg) == {}


def test_mysql_down_is_temporary_then_back(msb, mariadb_server):
    """The database stopped in the middle: recipients get 451 4.3.0 and
    logins 454 4.7.0, never a 5xx; once it is back, both work again and
    authd was never restarted."""
    authd_pid = msb.pid("authd")
    rcpt = "alice@example.test"
    mariadb_server.stop()
    try:
        with Raw(msb) as r:
            r.banner_and_ehlo()
            assert r.cmd("MAIL FROM:<x@example.net>")[0] == 250
            code, text = r.cmd("RCPT TO:<%s>" % rcpt)
            assert code == 451 and text[0].startswith("4.3.0"), text
            code, text = r.cmd("RCPT TO:<nobody@example.test>")
            assert code == 451, text
        with TlsRaw(msb) as r:
            assert r.banner_and_ehlo()
            r.starttls()
            code, text = r.cmd("AUTH PLAIN " + plain(msb.demo_user,
                                                     msb.password))
            assert code == 454 and text[0].startswith("4.7.0"), text
    finally:
        mariadb_server.start()

    def rcpt_ok():
        with Raw(msb) as r:
            r.banner_and_ehlo()
            r.cmd("MAIL FROM:<x@example.net>")
            return r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
    wait_for(rcpt_ok, 60, interval=0.5, what="RCPT accepted again")
    msgid, msg = make_message(rcpt, "after the database came back")

    def sent():
        try:
            with submission(msb) as s:
                login(s, msb.demo_user, msb.password)
                return s.sendmail(msb.demo_user, [rcpt], msg) == {}
        except smtplib.SMTPException:
            return False	# a worker not yet reconnected: 454
    wait_for(sent, 60, interval=0.5, what="AUTH and send again")
    wait_copy(msb, rcpt, msgid)
    assert msb.pid("authd") == authd_pid


# ------------------------------------------------------------ authd away

def test_authd_down_fails_open_for_bans_only(sandbox_factory):
    """Without authd the ban check lets clients in (logged), but a login
    is a temporary failure, never a success; once authd is back, AUTH
    works again without restarting smtpd."""
    sb = sandbox_factory("noauthd", submission=True)
    sb.kill("authd")
    with TlsRaw(sb) as r:
        assert r.banner_and_ehlo()
        r.starttls()
        code, text = r.cmd("AUTH PLAIN " + plain(sb.demo_user, sb.password))
        assert code == 454 and text[0].startswith("4.7.0"), text
    assert "no ban check" in sb.log("smtpd")
    sb.restart("authd")

    def logs_in():
        try:
            with smtps(sb, timeout=5) as s:
                return login(s, sb.demo_user, sb.password)[0] == 235
        except (smtplib.SMTPException, OSError):
            return False
    wait_for(logs_in, 20, interval=0.3, what="AUTH after authd restart")
