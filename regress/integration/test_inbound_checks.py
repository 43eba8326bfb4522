"""The inbound checks of tsamba-smtpd (issue 9) as a sending server sees
them: SPF, DKIM and DMARC on a listener with "spf dkim dmarc", against
records that dnsmasq serves on a loopback port ("check resolver").

Messages come from 127.0.0.1; each test domain publishes the SPF,
DMARC and DKIM records its case needs.  DKIM signatures are made by
python3-dkim (rsa-sha256 and ed25519-sha256 keys made afresh), the
delivered Authentication-Results field is parsed with python3-authres,
and a DMARC reject is the 550 that smtplib sees.
"""

import os
import smtplib
import subprocess
import sys
import time

import pytest

from helpers import copies, new_msgid, our_authres, read, wait_copy
from sandbox import TOP, wait_for
import dnsfix

sys.path.insert(0, os.path.join(TOP, "regress", "unit"))

dkim = pytest.importorskip("dkim")
authres = pytest.importorskip("authres")
pytest.importorskip("nacl")
import dkim_fixtures  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(dnsfix.DNSMASQ),
                                reason="dnsmasq (dnsmasq-base) not installed")

CTL = os.environ.get("TSAMBACTL", os.path.join(TOP, "ctl", "tsambactl"))
PASS = "v=spf1 ip4:127.0.0.1 -all"
FAIL = "v=spf1 -all"

# domain -> (SPF record or None, DMARC record or None)
DOMAINS = {
    "good.test": (PASS, "v=DMARC1; p=reject"),
    "reject.test": (FAIL, "v=DMARC1; p=reject"),
    "quar.test": (FAIL, "v=DMARC1; p=quarantine"),
    "none.test": (FAIL, "v=DMARC1; p=none"),
    "pct0.test": (FAIL, "v=DMARC1; p=reject; pct=0"),
    "org.test": (FAIL, "v=DMARC1; p=none; sp=reject"),
    "sub.org.test": (FAIL, None),
    "relaxed.test": (FAIL, "v=DMARC1; p=reject"),
    "bounce.relaxed.test": (PASS, None),
    "strict.test": (FAIL, "v=DMARC1; p=reject; aspf=s"),
    "bounce.strict.test": (PASS, None),
    "signed.test": (FAIL, "v=DMARC1; p=reject"),
}


@pytest.fixture(scope="module")
def world(sandbox_factory, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("checks-dns"))
    dns = dnsfix.DnsServer(d)
    for dom, (spf, dmarc) in DOMAINS.items():
        if spf:
            dns.txt(dom, spf)
        if dmarc:
            dns.txt("_dmarc." + dom, dmarc.replace(",", ""))
    rsa_priv, rsa_pub = dkim_fixtures.rsa_key(2048, d)
    ed_priv, ed_pub = dkim_fixtures.ed25519_key()
    dns.txt("rs._domainkey.signed.test",
            "v=DKIM1; k=rsa; p=" + rsa_pub.decode())
    dns.txt("ed._domainkey.signed.test",
            "v=DKIM1; k=ed25519; p=" + ed_pub.decode())
    # 127.0.0.2 is on the block list; 127.0.0.3 on both lists
    dns.host("2.0.0.127.bl.test", "127.0.0.2")
    dns.host("3.0.0.127.bl.test", "127.0.0.2")
    dns.host("3.0.0.127.wl.test", "127.0.0.5")
    dns.start()
    sb = sandbox_factory("checks", smtp_opts="spf dkim dmarc dnsbl", extra=[
        'check resolver "%s"' % dns.resolver,
        'check dnsbl "bl.test"',
        'check dnswl "wl.test"',
        "check received-spf yes",
    ])
    yield {"sb": sb, "dns": dns, "rsa": rsa_priv, "ed": ed_priv}
    dns.stop()


def message(frm, to, msgid=None, extra=b""):
    msgid = msgid or new_msgid()
    text = ("From: Someone <%s>\r\n"
            "To: %s\r\n"
            "Subject: checks\r\n"
            "Message-ID: %s\r\n"
            "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n" % (frm, to, msgid))
    return msgid, extra + text.encode() + b"\r\nHello.\r\n"


def submit(sb, mailfrom, rcpt, msg):
    """The DATA reply (code, text)."""
    with smtplib.SMTP("127.0.0.1", sb.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        code, resp = s.mail(mailfrom)
        assert code == 250, (code, resp)
        code, resp = s.rcpt(rcpt)
        assert code == 250, (code, resp)
        try:
            code, resp = s.data(msg)
        except smtplib.SMTPDataError as e:
            code, resp = e.smtp_code, e.smtp_error
    return code, resp.decode(errors="replace")


def user(sb):
    return sb.address(sb.users[1])


def delivered(sb, rcpt, msgid):
    return read(wait_copy(sb, rcpt, msgid))


def junk(sb, rcpt, msgid):
    """The message as delivered into the recipient's .Junk folder."""
    d = os.path.join(sb.maildir(rcpt), ".Junk", "new")

    def found():
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            return None
        for n in names:
            data = read(os.path.join(d, n))
            if msgid.encode() in data:
                return data
        return None
    return wait_for(found, 30, what="%s in %s" % (msgid, d))


def our_results(sb, data):
    """The Authentication-Results fields of the message with our
    authserv-id, parsed by python3-authres."""
    return our_authres(sb.hostname, data)


def result_of(ar, method):
    res = [r for r in ar.results if r.method == method]
    assert res, (method, str(ar))
    return res[0].result


def test_aligned_spf_pass_delivered(world):
    sb = world["sb"]
    msgid, msg = message("alice@good.test", user(sb))
    code, text = submit(sb, "alice@good.test", user(sb), msg)
    assert code == 250, text
    ars = our_results(sb, delivered(sb, user(sb), msgid))
    assert len(ars) == 1
    assert result_of(ars[0], "spf") == "pass"
    assert result_of(ars[0], "dmarc") == "pass"
    assert result_of(ars[0], "dkim") == "none"
    # check received-spf yes: RFC 7208 9.1, below ours
    data = delivered(sb, user(sb), msgid)
    assert b"Received-SPF: pass" in data, data
    assert b"client-ip=127.0.0.1" in data, data


def test_dmarc_reject_550(world):
    sb = world["sb"]
    _, msg = message("ceo@reject.test", user(sb))
    code, text = submit(sb, "ceo@reject.test", user(sb), msg)
    assert code == 550, text
    assert text.startswith("5.7.1") and "reject.test" in text, text
    assert wait_for(lambda: "reject: client=[127.0.0.1]" in
                    sb.log("smtpd") and "cmd=DATA" in
                    sb.log("smtpd"), 10)


def test_forged_from_with_other_domains_spf(world):
    """SPF passes for good.test, but the author is reject.test."""
    sb = world["sb"]
    _, msg = message("ceo@reject.test", user(sb))
    code, text = submit(sb, "bounces@good.test", user(sb), msg)
    assert code == 550, text


def test_dmarc_none_accepted_with_fail(world):
    sb = world["sb"]
    msgid, msg = message("a@none.test", user(sb))
    code, text = submit(sb, "a@none.test", user(sb), msg)
    assert code == 250, text
    ars = our_results(sb, delivered(sb, user(sb), msgid))
    assert result_of(ars[0], "dmarc") == "fail"
    assert result_of(ars[0], "spf") == "fail"


def test_dmarc_quarantine_into_junk(world):
    sb = world["sb"]
    msgid, msg = message("a@quar.test", user(sb))
    code, text = submit(sb, "a@quar.test", user(sb), msg)
    assert code == 250, text
    data = junk(sb, user(sb), msgid)
    assert not copies(sb, user(sb), msgid)      # not in the INBOX
    assert result_of(our_results(sb, data)[0], "dmarc") == "fail"
    assert b"X-Tsamba-Quarantine: DMARC policy of quar.test" in data
    assert b"X-Spam-Flag: YES" in data


def test_folder_parameter_only_for_the_queue(world):
    """Another LMTP client of lmtp.sock (root here) is not offered the
    Junk folder parameter, and its RCPT with it is refused."""
    sb = world["sb"]
    import socket
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(10)
        c.connect(sb.lmtp_sock)
        f = c.makefile("rwb")
        assert f.readline().startswith(b"220")
        f.write(b"LHLO client.test\r\n")
        f.flush()
        lines = [f.readline()]
        while lines[-1][3:4] == b"-":
            lines.append(f.readline())
        assert not [l for l in lines if b"X-TSAMBA-FOLDER" in l], lines
        f.write(b"MAIL FROM:<a@good.test>\r\n")
        f.flush()
        assert f.readline().startswith(b"250")
        f.write(b"RCPT TO:<%s> X-TSAMBA-FOLDER=Junk\r\n" %
                user(sb).encode())
        f.flush()
        assert f.readline().startswith(b"555")


def test_pct_zero_accepted(world):
    sb = world["sb"]
    msgid, msg = message("a@pct0.test", user(sb))
    code, text = submit(sb, "a@pct0.test", user(sb), msg)
    assert code == 250, text
    data = junk(sb, user(sb), msgid)
    assert result_of(our_results(sb, data)[0], "dmarc") == "fail"
    # RFC 7489 6.6.4: sampled out of p=reject is the next policy down
    assert b"X-Tsamba-Quarantine: DMARC policy of pct0.test" in data


def test_subdomain_policy(world):
    sb = world["sb"]
    _, msg = message("a@sub.org.test", user(sb))
    code, text = submit(sb, "a@sub.org.test", user(sb), msg)
    assert code == 550, text
    # the organisational domain itself is p=none
    msgid, msg = message("a@org.test", user(sb))
    code, text = submit(sb, "a@org.test", user(sb), msg)
    assert code == 250, text


def test_alignment_relaxed_and_strict(world):
    sb = world["sb"]
    msgid, msg = message("a@relaxed.test", user(sb))
    code, text = submit(sb, "b@bounce.relaxed.test", user(sb), msg)
    assert code == 250, text
    ars = our_results(sb, delivered(sb, user(sb), msgid))
    assert result_of(ars[0], "dmarc") == "pass"
    _, msg = message("a@strict.test", user(sb))
    code, text = submit(sb, "b@bounce.strict.test", user(sb), msg)
    assert code == 550, text


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_dkim_signed_passes_dmarc(world, kind):
    """SPF fails for signed.test, the aligned signature carries DMARC."""
    sb = world["sb"]
    msgid, msg = message("a@signed.test", user(sb))
    if kind == "rsa":
        sig = dkim.sign(msg, b"rs", b"signed.test", world["rsa"],
                        include_headers=[b"from", b"to", b"subject"])
    else:
        sig = dkim.sign(msg, b"ed", b"signed.test", world["ed"],
                        signature_algorithm=b"ed25519-sha256",
                        include_headers=[b"from", b"to", b"subject"])
    code, text = submit(sb, "a@signed.test", user(sb), sig + msg)
    assert code == 250, text
    ars = our_results(sb, delivered(sb, user(sb), msgid))
    assert result_of(ars[0], "dkim") == "pass"
    assert result_of(ars[0], "dmarc") == "pass"
    # a body changed after signing: DKIM fails, DMARC rejects
    bad = sig + msg.replace(b"Hello.", b"Hullo.")
    code, text = submit(sb, "a@signed.test", user(sb), bad)
    assert code == 550, text


def test_forged_authentication_results_removed(world):
    sb = world["sb"]
    forged = ("Authentication-Results: %s; dmarc=pass "
              "header.from=reject.test\r\n"
              "Authentication-Results: other.example; spf=pass "
              "smtp.mailfrom=x@good.test\r\n" % sb.hostname).encode()
    msgid, msg = message("alice@good.test", user(sb), extra=forged)
    code, text = submit(sb, "alice@good.test", user(sb), msg)
    assert code == 250, text
    data = delivered(sb, user(sb), msgid)
    ars = our_results(sb, data)
    assert len(ars) == 1, data
    assert result_of(ars[0], "dmarc") == "pass"
    assert b"header.from=reject.test" not in data
    assert b"Authentication-Results: other.example;" in data
    # ours comes first, above the Received trace it belongs to
    assert data.index(b"Authentication-Results: %s;" %
                      sb.hostname.encode()) < data.index(b"Received:")


def test_verdict_log_line(world):
    sb = world["sb"]
    msgid, msg = message("a@none.test", user(sb))
    code, text = submit(sb, "a@none.test", user(sb), msg)
    assert code == 250, text
    qid = text.split()[-1]
    want = "msgid=%s spf=fail spf.from=<a@none.test>" % qid

    def logged():
        for line in sb.log("smtpd").splitlines():
            if "verdict: client=[127.0.0.1]" in line and want in line:
                return line
        return None
    assert wait_for(logged, 10), sb.log("smtpd")[-2000:]
    line = logged()
    assert "dkim=none" in line and "dmarc=fail" in line
    assert "dmarc.from=none.test policy=none action=accept" in line


def test_dnsbl_listed_client_refused(world):
    sb = world["sb"]
    with pytest.raises(smtplib.SMTPConnectError) as e:
        smtplib.SMTP("127.0.0.1", sb.smtp_port, timeout=30,
                     source_address=("127.0.0.2", 0))
    assert e.value.smtp_code == 554
    text = e.value.smtp_error.decode()
    assert text.startswith("5.7.1") and "bl.test" in text, text
    assert "[127.0.0.2]" in text
    assert wait_for(lambda: "refuse: client=[127.0.0.2]" in sb.log("smtpd"),
                    10)


def test_dnswl_wins_over_dnsbl(world):
    sb = world["sb"]
    with smtplib.SMTP("127.0.0.1", sb.smtp_port, timeout=30,
                      source_address=("127.0.0.3", 0)) as s:
        code, _ = s.ehlo("client.test")
        assert code == 250


def check_message(sb, tmp_path, msg, frm, ip="127.0.0.1"):
    path = tmp_path / "msg.eml"
    path.write_bytes(msg)
    p = subprocess.run([CTL, "-f", sb.conf, "check-message", str(path),
                        "--ip", ip, "--helo", "client.test", "--from", frm],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_tsambactl_check_message(world, tmp_path):
    sb = world["sb"]
    _, msg = message("ceo@reject.test", user(sb))
    out = check_message(sb, tmp_path, msg, "bounces@good.test")
    assert "spf.from: pass" in out, out
    assert "dmarc: fail from=reject.test" in out, out
    assert "action: reject" in out, out
    _, msg = message("a@signed.test", user(sb))
    sig = dkim.sign(msg, b"ed", b"signed.test", world["ed"],
                    signature_algorithm=b"ed25519-sha256",
                    include_headers=[b"from", b"to", b"subject"])
    out = check_message(sb, tmp_path, sig + msg, "a@signed.test")
    assert "spf.from: fail" in out, out
    assert "dkim: pass d=signed.test s=ed" in out, out
    assert "dmarc: pass" in out and "action: accept" in out, out
    field = out[out.index("Authentication-Results:"):]
    ar = authres.AuthenticationResultsHeader.parse(
        field.replace("\r\n", "").strip())
    assert ar.authserv_id == sb.hostname
    assert result_of(ar, "dkim") == "pass"


@pytest.fixture(scope="module")
def grey(sandbox_factory):
    return sandbox_factory("grey", smtp_opts="greylist", extra=[
        "check greylist-delay 2s",
    ])


def rcpt_code(sb, mailfrom, rcpt):
    with smtplib.SMTP("127.0.0.1", sb.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        assert s.mail(mailfrom)[0] == 250
        code, resp = s.rcpt(rcpt)
        return code, resp.decode(errors="replace")


def test_greylisting(grey):
    sb = grey
    rcpt = user(sb)
    t0 = time.monotonic()
    code, text = rcpt_code(sb, "first@far.test", rcpt)
    assert code == 451 and text.startswith("4.7.1"), text
    assert "Greylisted" in text
    # too early: still greylisted
    code, _ = rcpt_code(sb, "first@far.test", rcpt)
    assert code == 451
    # another sender is another triplet, greylisted on its own
    assert rcpt_code(sb, "second@far.test", rcpt)[0] == 451

    def passes():
        return rcpt_code(sb, "first@far.test", rcpt)[0] == 250
    assert wait_for(passes, 15, interval=0.5)
    assert time.monotonic() - t0 >= 2
    # the whole message now goes through
    msgid, msg = message("first@far.test", rcpt)
    code, text = submit(sb, "first@far.test", rcpt, msg)
    assert code == 250, text
    delivered(sb, rcpt, msgid)
    # the pass is on disk, and survives a restart of smtpd
    db = os.path.join(sb.dir, "state", "greylist", "greylist.db")

    def saved():
        try:
            with open(db) as f:
                return [l for l in f if "first@far.test" in l and
                        l.split()[1] != "0"]
        except FileNotFoundError:
            return None
    assert wait_for(saved, 10)
    sb.restart("smtpd")
    assert rcpt_code(sb, "first@far.test", rcpt)[0] == 250
    assert rcpt_code(sb, "third@far.test", rcpt)[0] == 451
    assert "reject: client=[127.0.0.1]" in sb.log("smtpd")


@pytest.fixture(scope="module")
def dnsdown(sandbox_factory):
    """A resolver that never answers, and on-tempfail tempfail."""
    port = dnsfix.free_udp_port()
    return sandbox_factory("dnsdown", smtp_opts="spf dkim dmarc", extra=[
        'check resolver "127.0.0.1@%d"' % port,
        "check on-tempfail tempfail",
    ])


def test_dns_down_tempfails(dnsdown):
    sb = dnsdown
    _, msg = message("alice@good.test", user(sb))
    code, text = submit(sb, "alice@good.test", user(sb), msg)
    assert code == 451, text
    assert text.startswith("4.7."), text
