"""DKIM end to end (issue 4): a user submits over the submission port
(STARTTLS and AUTH) to a user of another domain; the sending tsamba signs
with two keys made by `tsambactl dkim keygen` (rsa-sha256, 2048 bits, and
ed25519-sha256, two selectors) and delivers through dnsmasq's MX to a
second tsamba on 127.0.0.3.  python3-dkim then verifies the delivered
message with public keys fetched from dnsmasq by dnspython (the TXT
records published exactly as tsambactl printed them, in strings of at most
255 bytes), and a copy altered after delivery fails.  Mail that reaches
the same remote domain without AUTH (port 25, a local alias forwarding
there) arrives unsigned.

The world is built as in test_outbound.py (whose helpers are reused): a
dnsmasq on a loopback port named by `mta resolver`, `mta port N` so that
the receiving instance can listen on 127.0.0.3 without port 25.
"""

import email
import email.policy
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import urllib.request

import pytest

from sandbox import TOP, wait_for
from helpers import tls_context
from test_outbound import REMOTE_IP, find, free_port_on, inject, read_all
from test_submission import login
import dnsfix

dkim = pytest.importorskip("dkim")
dns_resolver = pytest.importorskip("dns.resolver")

pytestmark = pytest.mark.skipif(not os.path.exists(dnsfix.DNSMASQ),
                                reason="dnsmasq (dnsmasq-base) not installed")

CTL = os.environ.get("TSAMBACTL", os.path.join(TOP, "ctl", "tsambactl"))
DOMAIN = "example.test"			# the sender's hosted domain
REMOTE = "bob@remote.test"
FORWARD = "fwd@example.test"		# alias to REMOTE, no AUTH needed
KEYS = (("rsa2026", "rsa"), ("ed2026", "ed25519"))
ALGS = {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}

# The body keeps a line starting with a dot (dot-stuffing on both SMTP
# hops), trailing blanks and an empty last line: each must come through
# unchanged or the body hash fails.
BODY = ("Hello Bob,\r\n"
        ".a line that starts with a dot\r\n"
        "trailing blanks   \r\n"
        "\r\n"
        "The secret word is PLATYPUS.\r\n"
        "\r\n")


def keygen(conf, selector, alg):
    """(TXT name, the strings as printed, the dkim line to add)."""
    p = subprocess.run([CTL, "-f", conf, "dkim", "keygen", DOMAIN,
                        selector, "-t", alg], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    record = p.stdout.strip()
    name = record.split()[0]
    assert name == "%s._domainkey.%s." % (selector, DOMAIN), record
    strings = re.findall(r'"([^"]*)"', record)
    assert strings and all(len(s) <= 255 for s in strings), record
    lines = [l.strip() for l in p.stderr.splitlines()
             if l.strip().startswith("dkim domain ")]
    assert len(lines) == 1, p.stderr
    return name, strings, lines[0]


def publish_txt(dns, name, strings):
    """A TXT record of several character-strings, split exactly where
    tsambactl split it."""
    dns.txt_strings(name, strings)


class DnsTxt:
    """python3-dkim's dnsfunc, answered by dnsmasq through dnspython: the
    public keys really come from DNS.  Remembers what was asked."""

    def __init__(self, port):
        self.res = dns_resolver.Resolver(configure=False)
        self.res.nameservers = ["127.0.0.1"]
        self.res.port = port
        self.res.lifetime = 5
        self.asked = []

    def strings(self, name):
        ans = self.res.resolve(name, "TXT")
        return [[s.decode() for s in rr.strings] for rr in ans]

    def __call__(self, name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        self.asked.append(name.rstrip(".").lower())
        try:
            ans = self.res.resolve(name, "TXT")
        except (dns_resolver.NXDOMAIN, dns_resolver.NoAnswer):
            return None
        return b"".join(b"".join(rr.strings) for rr in ans)


# --------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def world(sandbox_factory):
    if not os.access(CTL, os.X_OK):
        pytest.skip("ctl/tsambactl not built")
    base = tempfile.mkdtemp(prefix="tsamba-dkim-e2e-", dir="/tmp")
    os.chmod(base, 0o755)
    # Keys are made before the sender starts (tsamba-queue reads them at
    # start-up), with a scratch config: they land in base/dkim/.
    scratch = os.path.join(base, "keygen.conf")
    with open(scratch, "w") as f:
        f.write('hostname "mail.%s"\n' % DOMAIN)
    keys = {alg: keygen(scratch, sel, alg) for sel, alg in KEYS}

    port = free_port_on(REMOTE_IP)
    dns = dnsfix.DnsServer(os.path.join(base, "dns"))
    dns.mx("remote.test", "mx1.remote.test", 10)
    dns.host("mx1.remote.test", REMOTE_IP)
    for name, strings, _ in keys.values():
        publish_txt(dns, name, strings)
    dns.start()
    try:
        remote = sandbox_factory("remote", domain="remote.test",
                                 catchall_domain="catchall-remote.test",
                                 listen_addr=REMOTE_IP,
                                 ports={"smtp": port},
                                 hostname="mx1.remote.test")
        sender = sandbox_factory(
            "sender", hostname="mail.example.test", submission=True,
            metrics=True,
            aliases=["%s: %s" % (FORWARD, REMOTE)],
            queue={"retry-min": "1s", "retry-max": "2s"},
            extra=[dns.resolver_conf(), "mta port %d" % port] +
            [line for _, _, line in keys.values()])
    except BaseException:
        dns.stop()
        raise
    w = type("World", (), {})()
    w.dns, w.port, w.remote, w.sender, w.base = dns, port, remote, sender, base
    w.keys = keys
    yield w
    dns.stop()
    if os.environ.get("TSAMBA_KEEP") != "1":
        shutil.rmtree(base, ignore_errors=True)


def submit(sb, rcpt, subject):
    """Submit as the demo user on the submission port (STARTTLS, AUTH
    PLAIN); returns the Message-ID."""
    msgid = "<%s@example.test>" % os.urandom(8).hex()
    msg = ("From: Demo User <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
           "Message-ID: %s\r\nDate: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=us-ascii\r\n\r\n%s" % (
               sb.demo_user, rcpt, subject, msgid, BODY))
    with smtplib.SMTP("127.0.0.1", sb.ports["submission"],
                      timeout=30) as s:
        s.ehlo("client.test")
        s.starttls(context=tls_context())
        s.ehlo("client.test")
        code, text = login(s, sb.demo_user, sb.password)
        assert code == 235, text
        refused = s.sendmail(sb.demo_user, [rcpt], msg.encode())
        assert not refused, refused
    return msgid


def arrived(w, msgid):
    """The delivered copy in the remote Maildir, waited for, with CRLF
    line ends (as it travelled)."""
    got = wait_for(lambda: find(read_all(w.remote.maildir_messages(REMOTE)),
                                msgid), 30,
                   what="%s in the remote Maildir" % msgid)
    assert len(got) == 1, got
    return re.sub(rb"\r?\n", b"\r\n", got[0])


def headers(msg):
    return email.message_from_bytes(msg, policy=email.policy.default)


def signatures(msg):
    """The DKIM-Signature fields of msg, unfolded, in order."""
    return [re.sub(r"\s+", "", str(v))
            for v in headers(msg).get_all("DKIM-Signature") or []]


def verify_each(msg, dnsfunc):
    """python3-dkim's verdict for each DKIM-Signature of msg, in order."""
    d = dkim.DKIM(msg)
    res = []
    for i in range(len(signatures(msg))):
        try:
            res.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
        except dkim.DKIMException:
            res.append(False)
    return res


@pytest.fixture(scope="module")
def delivered(world):
    """One message submitted with AUTH and delivered remotely."""
    msgid = submit(world.sender, REMOTE, "DKIM end to end")
    return arrived(world, msgid)


# --------------------------------------------------------------- tests

def test_dns_serves_the_records_as_printed(world):
    q = DnsTxt(world.dns.port)
    for name, strings, _ in world.keys.values():
        assert q.strings(name) == [strings]
    # RSA 2048: more than 255 bytes, so two strings.
    assert len(world.keys["rsa"][1]) == 2
    assert len(world.keys["ed25519"][1]) == 1


def test_submitted_mail_arrives_at_the_remote_maildir(world, delivered):
    m = headers(delivered)
    assert m["Subject"] == "DKIM end to end"
    assert delivered.endswith(BODY.encode())
    received = [re.sub(r"\s+", " ", str(v)) for v in m.get_all("Received")]
    # Newest first: the receiver's hop over TLS, then the authenticated
    # submission at the sender.
    at_remote = [r for r in received if "by mx1.remote.test" in r]
    at_sender = [r for r in received if "by mail.example.test" in r]
    assert at_remote and at_sender, received
    assert "from mail.example.test" in at_remote[0], received
    assert "with ESMTPS " in at_remote[0] + " ", received
    assert "with ESMTPSA " in at_sender[0] + " ", received
    assert received.index(at_remote[0]) < received.index(at_sender[0])
    log = world.sender.log("queue")
    assert "to=<%s>" % REMOTE in log and "status=sent" in log


def test_both_signatures_verify_with_keys_from_dns(world, delivered):
    sigs = signatures(delivered)
    assert len(sigs) == 2, sigs
    by_alg = {}
    for s in sigs:
        tags = dict(t.split("=", 1) for t in s.strip(";").split(";"))
        assert tags["d"] == DOMAIN
        assert tags["c"] == "relaxed/relaxed"
        by_alg[tags["a"]] = tags["s"]
    assert by_alg == {ALGS[alg]: sel for sel, alg in KEYS}
    q = DnsTxt(world.dns.port)
    assert verify_each(delivered, q) == [True, True]
    # Each selector's key was fetched from dnsmasq.
    assert sorted(set(q.asked)) == sorted(
        "%s._domainkey.%s" % (sel, DOMAIN) for sel, _ in KEYS)
    assert dkim.verify(delivered, dnsfunc=q)
    # The sender's queue counted the two signatures (tsamba-metricsd).
    parser = pytest.importorskip("prometheus_client.parser")
    with urllib.request.urlopen(world.sender.metrics_url, timeout=10) as r:
        fams = {f.name: f for f in
                parser.text_string_to_metric_families(r.read().decode())}
    assert [s.value for s in fams["tsamba_dkim_signatures"].samples] == [2]
    assert [s.value for s in fams["tsamba_dkim_errors"].samples] == [0]


def test_altered_body_fails(world, delivered):
    bad = delivered.replace(b"PLATYPUS", b"PLATYPUs")
    assert bad != delivered
    assert verify_each(bad, DnsTxt(world.dns.port)) == [False, False]


def test_altered_subject_fails(world, delivered):
    bad = delivered.replace(b"Subject: DKIM end to end",
                            b"Subject: DKIM end to End")
    assert bad != delivered
    assert verify_each(bad, DnsTxt(world.dns.port)) == [False, False]


def test_unauthenticated_forward_arrives_unsigned(world):
    # The envelope sender is a hosted address, but without AUTH.
    msgid = inject(world.sender, FORWARD, subject="forwarded, no AUTH")
    got = arrived(world, msgid)
    assert headers(got)["Subject"] == "forwarded, no AUTH"
    assert signatures(got) == []
    assert b"DKIM-Signature" not in got.split(b"\r\n\r\n", 1)[0]
