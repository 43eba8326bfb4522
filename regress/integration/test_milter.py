"""Milters as a client sees them: a test milter written with python3-milter
takes, per message, the action the sender's local part names, and each
test checks the SMTP reply, the delivered message, who got it, or the
queue's held message.  A milter that is down or hangs gets the listener's
on-failure action.  Then a real Rspamd, in milter mode, rejects GTUBE,
adds its headers to a clean message and DKIM-signs a submission."""

import base64
import os
import pwd
import re
import shutil
import smtplib
import socket
import struct
import subprocess
import tempfile
import threading
import time

import dkim
import pytest

from helpers import (copies, make_message, parse, port_open, read,
                     start_milter, tls_context, wait_copy)
from sandbox import free_port, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CTL = os.path.join(TOP, "ctl", "tsambactl")
SENDER_DOMAIN = "sender.example"


@pytest.fixture(scope="module")
def milter(request, tmp_path_factory):
    port = free_port()
    d = tmp_path_factory.mktemp("milter")
    log = open(d / "milter.log", "w")
    request.addfinalizer(log.close)
    start_milter(request, port, log)
    wait_for(lambda: port_open(port), 20, what="the test milter")
    return port


@pytest.fixture(scope="module")
def milter_unix(request):
    """The same milter on a UNIX socket, for the parent to connect."""
    d = tempfile.mkdtemp(prefix="tsamba-milter-", dir="/tmp")
    os.chmod(d, 0o755)
    path = os.path.join(d, "milter.sock")
    log = open(os.path.join(d, "milter.log"), "w")

    def clean():
        log.close()
        shutil.rmtree(d, ignore_errors=True)
    request.addfinalizer(clean)
    start_milter(request, "unix:" + path, log)

    def up():
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.close()
            return True
        except OSError:
            return False
    wait_for(up, 20, what="the test milter's UNIX socket")
    return path


BAD_REPLIES = {
    # A reply code that is not a refusal.
    "code250": (b"y", b"250 2.0.0 fine\0"),
    # A packet longer than any reply may be.
    "huge": None,
    # An edit that was not negotiated (actions 0).
    "unasked": (b"h", b"X-Bad\0yes\0"),
}


@pytest.fixture(scope="module")
def bad_milter(request):
    """A fake milter that negotiates properly, skips every step but the
    end of the message, then answers it with the bad reply the sender's
    local part names."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    stop = threading.Event()

    def packet(c):
        head = b""
        while len(head) < 4:
            chunk = c.recv(4 - len(head))
            if not chunk:
                return None, None
            head += chunk
        n = struct.unpack("!I", head)[0]
        data = b""
        while len(data) < n:
            chunk = c.recv(n - len(data))
            if not chunk:
                return None, None
            data += chunk
        return data[:1], data[1:]

    def serve(c):
        with c:
            which = None
            while True:
                cmd, data = packet(c)
                if cmd is None:
                    return
                if cmd == b"O":
                    # NOCONNECT .. NOEOH: only MAIL and EOB are sent.
                    c.sendall(struct.pack("!IcIII", 13, b"O", 6, 0,
                                          0x1 | 0x2 | 0x8 | 0x10 | 0x20 |
                                          0x40 | 0x200 | 0x4000))
                elif cmd == b"M":
                    which = data.split(b"\0")[0].strip(b"<>")
                    which = which.split(b"@")[0].decode()
                elif cmd == b"E":
                    bad = BAD_REPLIES[which]
                    if bad is None:
                        c.sendall(struct.pack("!I", 0x7fffffff) + b"b")
                    else:
                        c.sendall(struct.pack("!I", len(bad[1]) + 1) +
                                  bad[0] + bad[1])

    def loop():
        ls.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = ls.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    t = threading.Thread(target=loop, daemon=True)
    t.start()

    def finish():
        stop.set()
        t.join(5)
        ls.close()
    request.addfinalizer(finish)
    return ls.getsockname()[1]


@pytest.fixture(scope="module")
def ports():
    return {"main": free_port(), "accept": free_port(), "down": free_port(),
            "hang": free_port(), "unix": free_port(), "sub": free_port(),
            "subm": free_port(), "bad": free_port()}


@pytest.fixture(scope="module")
def sb(sandbox_factory, milter, milter_unix, bad_milter, ports):
    dead = free_port()		# nobody listens there
    extra = [
        'milter "t" on "inet:127.0.0.1:%d" timeout 3s' % milter,
        'milter "t-hang" on "inet:127.0.0.1:%d" timeout 2s '
        'on-failure accept' % milter,
        'milter "down-tempfail" on "inet:127.0.0.1:%d" timeout 2s '
        'on-failure tempfail' % dead,
        'milter "down-accept" on "inet:127.0.0.1:%d" on-failure accept'
        % dead,
        'milter "u" on "unix:%s" timeout 3s' % milter_unix,
        'milter "bad" on "inet:127.0.0.1:%d" timeout 3s' % bad_milter,
        'listen on 127.0.0.1 port %d milter "bad"' % ports["bad"],
        'listen on 127.0.0.1 port %d milter "t"' % ports["main"],
        'listen on 127.0.0.1 port %d milter "u"' % ports["unix"],
        # Submissions: without milter-auth the milter is left out.
        'listen on 127.0.0.1 port %d tls-require pki demo auth milter "t"'
        % ports["sub"],
        'listen on 127.0.0.1 port %d tls-require pki demo auth milter "t" '
        'milter-auth' % ports["subm"],
        'listen on 127.0.0.1 port %d milter "down-accept" milter "t"'
        % ports["accept"],
        'listen on 127.0.0.1 port %d milter "down-tempfail"' % ports["down"],
        'listen on 127.0.0.1 port %d milter "t-hang"' % ports["hang"],
    ]
    return sandbox_factory("milter", extra=extra, queue={"retry-min": "1s"})


def user(sb, i):
    return sb.address(sb.users[i])


def send(port, action, rcpts, subject="milter test", extra_headers=""):
    """(msgid, code, reply text) of one message from action@sender."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    msgid, msg = make_message(rcpts, subject)
    if extra_headers:
        msg = extra_headers.encode() + msg
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.test")
        code, resp = s.mail("%s@%s" % (action, SENDER_DOMAIN))
        assert code == 250, (code, resp)
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code == 250, (r, code, resp)
        code, resp = s.data(msg)
    return msgid, code, resp.decode(errors="replace")


def delivered(sb, port, action, rcpts, **kw):
    msgid, code, resp = send(port, action, rcpts, **kw)
    assert code == 250, (code, resp)
    first = rcpts[0] if isinstance(rcpts, list) else rcpts
    return msgid, parse(read(wait_copy(sb, first, msgid)))


def nothing_for(sb, port, address, msgid):
    """A message sent after msgid to address arrives, msgid did not."""
    later, _ = delivered(sb, port, "plain", address)
    assert later
    return copies(sb, address, msgid) == []


def queue_list(sb):
    r = subprocess.run([CTL, "-f", sb.conf, "queue", "list"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


# --------------------------------------------------------- verdicts

def test_continue_delivers_with_milter_header(sb, ports):
    msgid, m = delivered(sb, ports["main"], "plain", user(sb, 1))
    assert m["X-Milter-Seen"] == "yes"
    assert m["Subject"] == "milter test"


def test_accept_at_mail_skips_the_rest(sb, ports):
    _, m = delivered(sb, ports["main"], "accept", user(sb, 1))
    assert m["X-Milter-Seen"] is None


def reject_line(sb, needle):
    """The smtpd log's reject: line holding needle."""
    def find():
        return [x for x in sb.log("smtpd").splitlines()
                if "reject: client=[127.0.0.1]" in x and needle in x]
    return wait_for(find, 10, what="a reject line with " + needle)[0]


def test_reject_with_custom_reply(sb, ports):
    msgid, code, resp = send(ports["main"], "reject", user(sb, 1))
    assert code == 550
    assert "5.7.1 Custom rejection by the milter" in resp, resp
    assert nothing_for(sb, ports["main"], user(sb, 1), msgid)
    # One reject line for grep and fail2ban, with the reply in it.
    line = reject_line(sb, "from=<reject@%s>" % SENDER_DOMAIN)
    assert " cmd=DATA " in line and " milter=t " in line, line
    assert 'reply="550 5.7.1 Custom rejection by the milter' in line, line


def test_long_multiline_reply_cut_to_whole_lines(sb, ports):
    # Ten lines of 300 bytes: more than is passed on, so the reply ends
    # on a whole line, marked as the last one, and the session goes on.
    _, code, resp = send(ports["main"], "longreply", user(sb, 1))
    assert code == 550, (code, resp)
    lines = resp.split("\n")
    assert 2 <= len(lines) < 10, lines
    assert all(l.startswith("5.7.1 line %d " % i)
               for i, l in enumerate(lines)), lines
    delivered(sb, ports["main"], "plain", user(sb, 1))


def test_reject_without_reply_text(sb, ports):
    _, code, resp = send(ports["main"], "plainreject", user(sb, 1))
    assert code == 550 and "5.7.1" in resp, (code, resp)


def test_reject_at_mail(sb, ports):
    _, code, resp = send(ports["main"], "mailreject", user(sb, 1))
    assert code == 550 and "sender refused by the milter" in resp


def test_tempfail_with_custom_reply(sb, ports):
    msgid, code, resp = send(ports["main"], "tempfail", user(sb, 1))
    assert code == 451
    assert "4.7.1 Come back later, says the milter" in resp, resp
    assert nothing_for(sb, ports["main"], user(sb, 1), msgid)


def test_discard_says_250_and_delivers_nothing(sb, ports):
    msgid, code, resp = send(ports["main"], "discard", user(sb, 2))
    assert code == 250, (code, resp)
    assert nothing_for(sb, ports["main"], user(sb, 2), msgid)
    # Rolled back: not in the queue either.
    qid = resp.rsplit(" ", 1)[-1]
    assert qid not in queue_list(sb), qid


def test_quarantine_holds_in_queue(sb, ports):
    msgid, code, resp = send(ports["main"], "quarantine", user(sb, 3))
    assert code == 250, (code, resp)
    qid = resp.rsplit(" ", 1)[-1]
    out = queue_list(sb)
    line = [x for x in out.splitlines() if qid in x]
    assert line and "held" in line[0], out
    assert nothing_for(sb, ports["main"], user(sb, 3), msgid)
    # Released by the admin, it is delivered as it came.
    r = subprocess.run([CTL, "-f", sb.conf, "queue", "release", qid],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    m = parse(read(wait_copy(sb, user(sb, 3), msgid)))
    assert m["X-Milter-Seen"] == "yes"


def test_rcpt_reject_drops_that_recipient(sb, ports):
    a, b = user(sb, 1), user(sb, 2)
    msgid, code, resp = send(ports["main"], "rcptreject", [a, b])
    assert code == 250, (code, resp)
    wait_copy(sb, a, msgid)
    assert nothing_for(sb, ports["main"], b, msgid)
    line = reject_line(sb, "rcpt=<%s>" % b)
    assert " cmd=RCPT from=<rcptreject@%s> " % SENDER_DOMAIN in line, line
    assert 'milter=t reply="550 5.7.1 second recipient refused"' in line, \
        line


def test_pipelined_commands_wait_for_the_verdict(sb, ports):
    # Commands pipelined behind the end of the data are answered after
    # the milter's verdict, in order.
    rcpt = user(sb, 1)
    msgid, msg = make_message([rcpt], "pipelined")
    body = msg.replace(b"\r\n.", b"\r\n..")
    c = socket.create_connection(("127.0.0.1", ports["main"]), timeout=30)
    f = c.makefile("rb")

    def reply():
        lines = []
        while True:
            line = f.readline().decode()
            assert line, lines
            lines.append(line)
            if line[3:4] == " ":
                return lines[-1]
    try:
        assert reply().startswith("220")
        c.sendall(b"EHLO client.test\r\n")
        assert reply().startswith("250")
        c.sendall(("MAIL FROM:<plain@%s>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                   % (SENDER_DOMAIN, rcpt)).encode())
        assert reply().startswith("250")
        assert reply().startswith("250")
        assert reply().startswith("354")
        c.sendall(body + b".\r\nNOOP\r\nQUIT\r\n")
        first = reply()
        assert first.startswith("250") and "queued as" in first, first
        assert reply().startswith("250 ")
        assert reply().startswith("221")
    finally:
        f.close()
        c.close()
    m = parse(read(wait_copy(sb, rcpt, msgid)))
    assert m["X-Milter-Seen"] == "yes"


# ------------------------------------------------------------ edits

def test_header_edits(sb, ports):
    msgid, m = delivered(sb, ports["main"], "headers", user(sb, 1),
                         extra_headers="X-Remove-Me: old\r\n")
    assert m["X-Milter-Added"] == "added at the end"
    assert m["Subject"] == "changed by the milter"
    assert m["X-Remove-Me"] is None
    # Inserted at index 0: above every other header.
    first = read(wait_copy(sb, user(sb, 1), msgid))
    head = first.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    names = [l.split(b":", 1)[0] for l in head.splitlines()
             if l and l[:1] not in (b" ", b"\t")]
    assert names.index(b"X-Milter-Top") < names.index(b"Received"), names


def test_replace_body(sb, ports):
    msgid, m = delivered(sb, ports["main"], "body", user(sb, 1))
    data = read(wait_copy(sb, user(sb, 1), msgid))
    body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else \
        data.split(b"\n\n", 1)[1]
    assert body.replace(b"\r\n", b"\n") == \
        b"The milter replaced this body.\nSecond line.\n", body


def test_change_sender(sb, ports):
    _, m = delivered(sb, ports["main"], "chgfrom", user(sb, 1))
    assert m["Return-Path"] == "<changed@milter.test>"


def test_add_recipient(sb, ports):
    msgid, _ = delivered(sb, ports["main"], "addrcpt", user(sb, 1))
    wait_copy(sb, "carol@example.test", msgid)


def test_delete_recipient(sb, ports):
    a, b = user(sb, 1), user(sb, 4)
    msgid, _ = delivered(sb, ports["main"], "delrcpt", [a, b])
    assert nothing_for(sb, ports["main"], b, msgid)


def test_bdat_message_is_filtered(sb, ports):
    msgid, msg = make_message(user(sb, 1), "bdat")
    c = socket.create_connection(("127.0.0.1", ports["main"]), timeout=30)
    f = c.makefile("rb")

    def reply():
        lines = []
        while True:
            line = f.readline().decode()
            lines.append(line)
            if line[3:4] != "-":
                return lines[-1]
    reply()
    c.sendall(b"EHLO client.test\r\n")
    reply()
    c.sendall(b"MAIL FROM:<headers@sender.example>\r\n"
              b"RCPT TO:<%s>\r\n" % user(sb, 1).encode())
    assert reply().startswith("250") and reply().startswith("250")
    c.sendall(b"BDAT %d LAST\r\n" % len(msg) + msg)
    r = reply()
    c.sendall(b"QUIT\r\n")
    c.close()
    assert r.startswith("250"), r
    m = parse(read(wait_copy(sb, user(sb, 1), msgid)))
    assert m["Subject"] == "changed by the milter"
    assert m["X-Milter-Seen"] == "yes"


def test_unix_socket_milter(sb, ports):
    _, m = delivered(sb, ports["unix"], "headers", user(sb, 1))
    assert m["X-Milter-Seen"] == "yes"
    assert m["Subject"] == "changed by the milter"
    _, code, resp = send(ports["unix"], "reject", user(sb, 1))
    assert code == 550 and "Custom rejection" in resp, (code, resp)


def submit(sb, port, action):
    """A message submitted after AUTH as the demo user, asking the
    milter (by header) for action: (msgid, code, reply)."""
    msgid, msg = make_message(user(sb, 1), "submitted")
    msg = ("X-Test-Action: %s\r\n" % action).encode() + msg
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.test")
        s.starttls(context=tls_context())
        s.ehlo("client.test")
        s.login(sb.demo_user, sb.password)
        code, resp = s.mail(sb.demo_user)
        assert code == 250, (code, resp)
        code, resp = s.rcpt(user(sb, 1))
        assert code == 250, (code, resp)
        code, resp = s.data(msg)
    return msgid, code, resp.decode(errors="replace")


def test_submission_skips_milter_by_default(sb, ports):
    msgid, code, resp = submit(sb, ports["sub"], "reject")
    assert code == 250, (code, resp)
    m = parse(read(wait_copy(sb, user(sb, 1), msgid)))
    assert m["X-Milter-Seen"] is None


def test_submission_milter_auth(sb, ports):
    # milter-auth: the milter sees it, with the AUTH user's macro...
    msgid, code, resp = submit(sb, ports["subm"], "plain")
    assert code == 250, (code, resp)
    m = parse(read(wait_copy(sb, user(sb, 1), msgid)))
    assert m["X-Milter-Seen"] == "yes"
    assert m["X-Milter-Auth"] == sb.demo_user
    # ... and its verdict holds.
    _, code, resp = submit(sb, ports["subm"], "reject")
    assert code == 550 and "Custom rejection" in resp, (code, resp)


def test_inbound_has_no_auth_macro(sb, ports):
    _, m = delivered(sb, ports["main"], "plain", user(sb, 1))
    assert m["X-Milter-Auth"] == "none"


# ---------------------------------------------------------- failures

def test_milter_down_tempfails(sb, ports):
    _, code, resp = send(ports["down"], "plain", user(sb, 1))
    assert code == 451 and "4.7.1" in resp, (code, resp)
    assert "down-tempfail" in sb.log("smtpd")


def test_milter_down_accept_skips_it(sb, ports):
    # The dead milter is skipped, the next one still sees the message.
    _, m = delivered(sb, ports["accept"], "plain", user(sb, 1))
    assert m["X-Milter-Seen"] == "yes"


@pytest.mark.parametrize("which,why", [
    ("code250", "bad reply: reply code 250 not allowed"),
    ("huge", "bad packet length"),
    ("unasked", "ADDHEADER without negotiating it"),
])
def test_milter_breaking_protocol_tempfails(sb, ports, which, why):
    msgid, code, resp = send(ports["bad"], which, user(sb, 1))
    assert code == 451 and "4.7.1" in resp, (code, resp)
    assert "milter bad: %s" % why in sb.log("smtpd")
    # The engine serves on.
    _, m = delivered(sb, ports["main"], "plain", user(sb, 1))
    assert m["X-Milter-Seen"] == "yes"


def test_milter_hang_times_out(sb, ports):
    start = time.monotonic()
    _, m = delivered(sb, ports["hang"], "hang", user(sb, 1))
    took = time.monotonic() - start
    assert 2 <= took < 20, took
    assert m["X-Milter-Seen"] is None
    assert "timed out" in sb.log("smtpd")


# ------------------------------------------------------------- Rspamd

RSPAMD = "/usr/bin/rspamd"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
RSPAMD_CONF = """\
.include "$CONFDIR/common.conf"
options {
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    # A private dnsmasq with no upstream: nothing leaves the machine.
    dns {
        nameserver = ["127.0.0.1:%(dns)d"];
        timeout = 1s;
        retransmits = 1;
    }
}
logging {
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    level = "info";
}
worker "rspamd_proxy" {
    bind_socket = "127.0.0.1:%(port)d";
    milter = yes;
    timeout = 120s;
    upstream "local" {
        default = yes;
        self_scan = yes;
    }
    count = 1;
}
"""
# What a clean message gets: the full result, and the queue id Rspamd
# read from the "i" macro.
MILTER_HEADERS = """\
use = ["x-spamd-result", "x-rspamd-queue-id", "x-rspamd-server"];
skip_local = false;
skip_authenticated = false;
"""
# The TXT records of the keys the private Rspamd signs with.
DKIM_RECORDS = {}
# Rspamd signs what tsamba's own users submit (it learns they are from
# the {auth_authen} macro), with a key of the test's own.
DKIM_SIGNING = """\
path = "%s/dkim/$domain.$selector.key";
selector = "tsamba";
use_esld = false;
allow_username_mismatch = true;
"""


@pytest.fixture(scope="module")
def rspamd(request):
    """A private Rspamd: the proxy worker in milter mode scanning by
    itself (no Redis, no other worker), stopped by pid."""
    if not os.path.exists(RSPAMD):
        pytest.skip("rspamd is not installed")
    try:
        pw = pwd.getpwnam("_rspamd")
    except KeyError:
        pytest.skip("no _rspamd user (the Debian package creates it)")
    import dnsfix
    if not os.path.exists(dnsfix.DNSMASQ):
        pytest.skip("dnsmasq is not installed")
    d = tempfile.mkdtemp(prefix="tsamba-rspamd-", dir="/tmp")
    os.makedirs(os.path.join(d, "local", "local.d"))
    os.makedirs(os.path.join(d, "dns"))
    # Rspamd's own lookups (SPF, DKIM, DNS lists) go to this one only,
    # which answers NXDOMAIN under test. and REFUSED elsewhere.
    dns = dnsfix.DnsServer(os.path.join(d, "dns"))
    dns.start()
    request.addfinalizer(dns.stop)
    port = free_port()
    with open(os.path.join(d, "rspamd.conf"), "w") as f:
        f.write(RSPAMD_CONF % {"port": port, "dns": dns.port})
    with open(os.path.join(d, "local", "local.d", "milter_headers.conf"),
              "w") as f:
        f.write(MILTER_HEADERS)
    with open(os.path.join(d, "local", "local.d", "dkim_signing.conf"),
              "w") as f:
        f.write(DKIM_SIGNING % d)
    os.makedirs(os.path.join(d, "dkim"))
    key = os.path.join(d, "dkim", "example.test.tsamba.key")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    DKIM_RECORDS[b"tsamba._domainkey.example.test."] = (
        b"v=DKIM1; k=rsa; p=" + base64.b64encode(der))
    for root, dirs, files in os.walk(d):
        for n in [root] + [os.path.join(root, x) for x in files]:
            os.chown(n, pw.pw_uid, pw.pw_gid)
    os.chmod(d, 0o755)
    out = open(os.path.join(d, "stdout"), "w")
    p = subprocess.Popen(
        [RSPAMD, "-f", "-u", "_rspamd", "-g", "_rspamd",
         "-c", os.path.join(d, "rspamd.conf"),
         "--var=RUNDIR=" + d, "--var=DBDIR=" + d, "--var=LOGDIR=" + d,
         "--var=LOCAL_CONFDIR=" + os.path.join(d, "local")],
        stdout=out, stderr=subprocess.STDOUT)

    def stop():
        p.terminate()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        out.close()
        shutil.rmtree(d, ignore_errors=True)
    request.addfinalizer(stop)
    try:
        wait_for(lambda: port_open(port) or p.poll() is not None, 60,
                 what="rspamd's milter port")
    except TimeoutError:
        pass
    if port_open(port):
        # Its only name server is the private one (no /etc/resolv.conf).
        dump = subprocess.run(
            ["rspamadm", "--var=RUNDIR=" + d, "--var=DBDIR=" + d,
             "--var=LOGDIR=" + d,
             "--var=LOCAL_CONFDIR=" + os.path.join(d, "local"),
             "configdump", "-c", os.path.join(d, "rspamd.conf"),
             "options"], capture_output=True, text=True).stdout
        servers = re.findall(r"nameserver\s*\[([^\]]*)\]", dump)
        assert servers and re.sub(r'[\s",]', "", servers[0]) == \
            "127.0.0.1:%d" % dns.port, dump
    if not port_open(port):
        log = ""
        try:
            with open(os.path.join(d, "rspamd.log")) as f:
                log = f.read()[-2000:]
        except OSError:
            pass
        pytest.skip("rspamd did not start (exit %s): %s" % (p.poll(), log))
    return port


@pytest.fixture(scope="module")
def rsb(sandbox_factory, rspamd):
    port, sub = free_port(), free_port()
    sb = sandbox_factory("rspamd", extra=[
        'milter "rspamd" on "inet:127.0.0.1:%d" timeout 60s' % rspamd,
        'listen on 127.0.0.1 port %d milter "rspamd"' % port,
        'listen on 127.0.0.1 port %d tls-require pki demo auth '
        'milter "rspamd" milter-auth' % sub])
    sb.milter_port = port
    sb.sub_port = sub
    return sb


def test_rspamd_rejects_gtube(rsb):
    msgid, msg = make_message(user(rsb, 1), "gtube", "Hello\n%s\n" % GTUBE)
    with smtplib.SMTP("127.0.0.1", rsb.milter_port, timeout=90) as s:
        s.ehlo("client.test")
        s.mail("someone@sender.example")
        s.rcpt(user(rsb, 1))
        code, resp = s.data(msg)
    resp = resp.decode(errors="replace")
    # Rspamd's own reply (SMFIR_REPLYCODE), passed on as it is.
    assert code == 554, (code, resp)
    assert resp == "5.7.1 Gtube pattern", resp
    log = rsb.log("smtpd")
    assert "refused by milter rspamd" in log, log


def test_rspamd_clean_gets_headers(rsb):
    msgid, code, resp = send(rsb.milter_port, "someone", user(rsb, 1),
                             subject="a clean message")
    assert code == 250, (code, resp)
    qid = resp.rsplit(" ", 1)[-1]
    m = parse(read(wait_copy(rsb, user(rsb, 1), msgid)))
    result = m["X-Spamd-Result"]
    assert result and result.startswith("default:"), m.items()
    assert m["X-Rspamd-Queue-Id"] == qid, m.items()


def test_rspamd_signs_submissions(rsb):
    """Rspamd's DKIM signing on submission: the milter on the
    submission listener (milter-auth) signs as the authenticated user's
    domain."""
    msgid, msg = make_message(user(rsb, 1), "signed by rspamd")
    msg = msg.replace(b"From: Sender <sender@example.net>",
                      b"From: Demo <%s>" % rsb.demo_user.encode())
    with smtplib.SMTP("127.0.0.1", rsb.sub_port, timeout=90) as s:
        s.ehlo("client.test")
        s.starttls(context=tls_context())
        s.ehlo("client.test")
        s.login(rsb.demo_user, rsb.password)
        s.mail(rsb.demo_user)
        s.rcpt(user(rsb, 1))
        code, resp = s.data(msg)
    assert code == 250, (code, resp)
    m = parse(read(wait_copy(rsb, user(rsb, 1), msgid)))
    sig = m["DKIM-Signature"]
    assert sig, m.items()
    tags = dict(t.strip().split("=", 1) for t in
                "".join(str(sig).split()).split(";") if "=" in t)
    assert tags["d"] == "example.test" and tags["s"] == "tsamba", tags
    # An independent verifier agrees with the message as delivered: the
    # message Rspamd saw over the milter protocol is the one stored.
    data = read(wait_copy(rsb, user(rsb, 1), msgid))
    assert dkim.verify(data, dnsfunc=lambda name, timeout=5:
                       DKIM_RECORDS.get(name)), sig


# ------------------------------------------------ our checks, then milters

@pytest.fixture(scope="module")
def checked(sandbox_factory, milter, tmp_path_factory):
    """One listener with SPF, DKIM, DMARC, iprev and the test milter,
    against dnsmasq: good.test passes SPF, reject.test fails it and
    publishes p=reject."""
    import dnsfix
    if not os.path.exists(dnsfix.DNSMASQ):
        pytest.skip("dnsmasq (dnsmasq-base) not installed")
    dns = dnsfix.checks_server(str(tmp_path_factory.mktemp("milter-dns")))
    dns.start()
    port = free_port()
    sb = sandbox_factory("checkmilter", extra=[
        'check resolver "%s"' % dns.resolver,
        'milter "t" on "inet:127.0.0.1:%d"' % milter,
        'listen on 127.0.0.1 port %d spf dkim dmarc iprev milter "t"' %
        port])
    sb.checked_port = port
    yield sb
    dns.stop()


def send_as(sb, frm, extra=""):
    msgid = "<%s@client.test>" % os.urandom(8).hex()
    rcpt = user(sb, 1)
    msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: original\r\n"
           "Message-ID: %s\r\n%s\r\nHello.\r\n" %
           (frm, rcpt, msgid, extra)).encode()
    with smtplib.SMTP("127.0.0.1", sb.checked_port, timeout=60) as s:
        s.ehlo("client.test")
        assert s.mail(frm)[0] == 250
        assert s.rcpt(rcpt)[0] == 250
        try:
            code, resp = s.data(msg)
        except smtplib.SMTPDataError as e:
            code, resp = e.smtp_code, e.smtp_error
    return msgid, code, resp.decode(errors="replace")


def test_checks_then_milter_edits_and_one_authres(checked):
    """Our verdict and the milter's edits both reach the mailbox: the
    milter rewrites the spool file, our Authentication-Results is put
    on top of it at the commit, once."""
    sb = checked
    authres = pytest.importorskip("authres")
    msgid, code, text = send_as(sb, "headers@good.test",
                                "X-Remove-Me: old\r\n")
    assert code == 250, text
    data = read(wait_copy(sb, user(sb, 1), msgid))
    m = parse(data)
    assert m["X-Milter-Added"] == "added at the end"
    assert m["Subject"] == "changed by the milter"
    assert m["X-Remove-Me"] is None
    assert m["X-Milter-Seen"] == "yes"
    fields = [f for f in m.get_all("Authentication-Results", [])]
    assert len(fields) == 1, fields
    ar = authres.AuthenticationResultsHeader.parse(
        "Authentication-Results: " + " ".join(fields[0].split()))
    assert ar.authserv_id == sb.hostname
    got = {(r.method, r.result) for r in ar.results}
    assert {("spf", "pass"), ("dmarc", "pass"), ("iprev", "pass")} <= got, \
        got
    # ours first, above what the milter inserted at the top
    assert data.index(b"Authentication-Results:") < \
        data.index(b"X-Milter-Top:")


def test_dmarc_reject_spares_the_milter(checked):
    """A DMARC reject is decided before the milters: the 550 is ours,
    and the milter never gets the message (it would have edited it)."""
    sb = checked
    _, code, text = send_as(sb, "headers@reject.test")
    assert code == 550, text
    assert "DMARC policy of reject.test" in text, text

    def qid():
        for line in sb.log("smtpd").splitlines():
            if "verdict:" in line and "dmarc.from=reject.test" in line:
                return line.split("msgid=", 1)[1].split()[0]
        return None
    q = wait_for(qid, 10)
    assert "message %s: edited by milter" % q not in sb.log("smtpd")
