"""Per-listener inbound checks (issue 9) as clients see them: FCrDNS
(iprev) in Authentication-Results and the verdict line, and refused at
MAIL FROM where a listener says "iprev-fail reject"; a DNS block list
refused at RCPT TO with "dnsbl-at rcpt" (the 554 names the recipient and
the list); "dmarc-reject quarantine" on one listener while another
rejects; and an authenticated submission from a listed address without
reverse DNS, as a domain whose DMARC policy rejects, that none of it
touches.

dnsmasq serves the test zones and 127.in-addr.arpa: 127.0.0.1 is
client.test both ways, 127.0.0.4 points at a name that does not point
back, 127.0.0.2 and .5 have no PTR; 127.0.0.2 is on bl.test.
"""

import os
import smtplib

import pytest

from helpers import new_msgid, our_authres, read, tls_context, wait_copy
from sandbox import free_port, wait_for
import dnsfix

authres = pytest.importorskip("authres")

pytestmark = pytest.mark.skipif(not os.path.exists(dnsfix.DNSMASQ),
                                reason="dnsmasq (dnsmasq-base) not installed")

@pytest.fixture(scope="module")
def world(sandbox_factory, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("listeners-dns"))
    dns = dnsfix.checks_server(d)
    dns.ptr("4.0.0.127.in-addr.arpa", "liar.test")
    dns.txt("liar.test", "no address here")
    dns.host("2.0.0.127.bl.test", "127.0.0.2")
    dns.start()
    strict = free_port()
    sb = sandbox_factory(
        "listeners", submission=True,
        smtp_opts="spf dkim dmarc iprev dnsbl dnsbl-at rcpt",
        submission_opts="spf dkim dmarc dnsbl dnsbl-at rcpt iprev "
                        "iprev-fail reject",
        extra=['check resolver "%s"' % dns.resolver,
               'check dnsbl "bl.test"',
               "listen on 127.0.0.1 port %d spf dkim dmarc iprev "
               "iprev-fail reject dmarc-reject quarantine "
               "on-tempfail accept" % strict])
    yield {"sb": sb, "strict": strict}
    dns.stop()


def user(sb):
    return sb.address(sb.users[1])


def message(frm, to):
    msgid = new_msgid()
    return msgid, ("From: <%s>\r\nTo: %s\r\nSubject: listeners\r\n"
                   "Message-ID: %s\r\n\r\nHello.\r\n" %
                   (frm, to, msgid)).encode()


def send(port, frm, to, source="127.0.0.1"):
    """(code, text) of the first refusal, or of DATA."""
    msgid, msg = message(frm, to)
    with smtplib.SMTP("127.0.0.1", port, timeout=30,
                      source_address=(source, 0)) as s:
        s.ehlo("client.test")
        for step in (lambda: s.mail(frm), lambda: s.rcpt(to)):
            code, resp = step()
            if code != 250:
                return msgid, code, resp.decode()
        try:
            code, resp = s.data(msg)
        except smtplib.SMTPDataError as e:
            code, resp = e.smtp_code, e.smtp_error
    return msgid, code, resp.decode()


def ours(sb, data):
    return our_authres(sb.hostname, data)


def result(ar, method):
    res = [r for r in ar.results if r.method == method]
    assert res, (method, str(ar))
    return res[0]


def verdict(sb, qid):
    for line in sb.log("smtpd").splitlines():
        if "verdict:" in line and "msgid=%s" % qid in line:
            return line
    return None


def test_iprev_pass_in_header_and_log(world):
    sb = world["sb"]
    msgid, code, text = send(sb.smtp_port, "a@good.test", user(sb))
    assert code == 250, text
    ars = ours(sb, read(wait_copy(sb, user(sb), msgid)))
    assert len(ars) == 1
    r = result(ars[0], "iprev")
    assert r.result == "pass"
    props = {(p.type, p.name): p.value for p in r.properties}
    assert props[("policy", "iprev")] == "127.0.0.1", props
    line = wait_for(lambda: verdict(sb, text.split()[-1]), 10)
    assert "iprev=pass iprev.name=client.test" in line, line


def test_iprev_fail_logged_only_by_default(world):
    """127.0.0.4's PTR name has no address: a fail, but on a listener
    without iprev-fail the message is delivered with the result."""
    sb = world["sb"]
    msgid, code, text = send(sb.smtp_port, "a@good.test", user(sb),
                             source="127.0.0.4")
    assert code == 250, text
    ars = ours(sb, read(wait_copy(sb, user(sb), msgid)))
    assert result(ars[0], "iprev").result == "fail"
    line = wait_for(lambda: verdict(sb, text.split()[-1]), 10)
    assert "iprev=fail iprev.name=liar.test" in line, line


def test_iprev_reject_at_mail_from(world):
    sb = world["sb"]
    _, code, text = send(world["strict"], "a@good.test", user(sb),
                         source="127.0.0.5")
    assert code == 550, text
    assert text.startswith("5.7.25") and "[127.0.0.5]" in text, text
    assert wait_for(lambda: "reject: client=[127.0.0.5]" in
                    sb.log("smtpd"), 10)
    # a client with matching FCrDNS goes on
    _, code, text = send(world["strict"], "a@good.test", user(sb))
    assert code == 250, text


def test_dnsbl_at_rcpt_names_the_recipient(world):
    sb = world["sb"]
    with smtplib.SMTP("127.0.0.1", sb.smtp_port, timeout=30,
                      source_address=("127.0.0.2", 0)) as s:
        assert s.ehlo("client.test")[0] == 250
        assert s.mail("a@good.test")[0] == 250
        code, resp = s.rcpt(user(sb))
    text = resp.decode()
    assert code == 554, text
    assert text.startswith("5.7.1") and "bl.test" in text, text
    assert "<%s>" % user(sb) in text and "[127.0.0.2]" in text, text
    assert wait_for(lambda: "reject: client=[127.0.0.2]" in
                    sb.log("smtpd") and "cmd=RCPT" in sb.log("smtpd"), 10)


def test_dmarc_reject_per_listener(world):
    """p=reject fails: 550 on the main listener, the Junk folder on the
    one that says dmarc-reject quarantine."""
    sb = world["sb"]
    _, code, text = send(sb.smtp_port, "ceo@reject.test", user(sb))
    assert code == 550 and "reject.test" in text, text
    msgid, code, text = send(world["strict"], "ceo@reject.test", user(sb))
    assert code == 250, text
    d = os.path.join(sb.maildir(user(sb)), ".Junk", "new")

    def junked():
        try:
            return [n for n in os.listdir(d)
                    if msgid.encode() in read(os.path.join(d, n))]
        except FileNotFoundError:
            return None
    assert wait_for(junked, 30)


def test_authenticated_submission_skips_the_checks(world):
    """From a listed address without reverse DNS, as reject.test: AUTH
    makes it our user's own mail, none of the checks applies."""
    sb = world["sb"]
    msgid, msg = message("ceo@reject.test", user(sb))
    with smtplib.SMTP("127.0.0.1", sb.ports["submission"], timeout=30,
                      source_address=("127.0.0.2", 0)) as s:
        s.ehlo("client.test")
        s.starttls(context=tls_context())
        s.ehlo("client.test")
        s.login(sb.demo_user, sb.password)
        assert s.mail(sb.demo_user)[0] == 250
        assert s.rcpt(user(sb))[0] == 250
        assert s.data(msg)[0] == 250
    data = read(wait_copy(sb, user(sb), msgid))
    assert not ours(sb, data), data


def test_check_message_prints_iprev(world, tmp_path):
    import subprocess
    from sandbox import TOP
    sb = world["sb"]
    path = tmp_path / "m.eml"
    path.write_bytes(message("a@good.test", user(sb))[1])
    for ip, want in (("127.0.0.1", "iprev: pass name=client.test"),
                     ("127.0.0.4", "iprev: fail name=liar.test"),
                     ("127.0.0.5", "iprev: fail name=-")):
        p = subprocess.run([os.path.join(TOP, "ctl", "tsambactl"), "-f",
                            sb.conf, "check-message", str(path), "--ip", ip,
                            "--helo", "client.test", "--from", "a@good.test"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert want in p.stdout, p.stdout
    assert "iprev=fail policy.iprev=127.0.0.5" in p.stdout, p.stdout
