"""DKIM keys and signatures through tsambactl: `dkim keygen` for RSA and
Ed25519, `dkim show`, and `dkim test`, which signs a message with the
code tsamba-queue uses.  python3-dkim is the independent verifier; its
DNS look-ups are answered from the records tsambactl printed, so no DNS
server is needed here (the end-to-end test serves them with dnsmasq)."""

import os
import re
import stat
import subprocess

import pytest

from helpers import make_message

dkim = pytest.importorskip("dkim")

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CTL = os.environ.get("TSAMBACTL", os.path.join(TOP, "ctl", "tsambactl"))
DOMAIN = "example.org"


def ctl(conf, *args, stdin=None):
    return subprocess.run([CTL, "-f", conf] + list(args), input=stdin,
                          capture_output=True, timeout=60)


def parse_record(line):
    """(name, TXT value) of a `name IN TXT "a" "b"` line."""
    strings = re.findall(r'"([^"]*)"', line)
    assert strings and all(len(s) <= 255 for s in strings), line
    return line.split()[0], "".join(strings)


def dnsfunc_for(records):
    table = {name.encode(): txt.encode() for name, txt in records}

    def dnsfunc(name, timeout=5):
        if not name.endswith(b"."):
            name += b"."
        return table.get(name)
    return dnsfunc


def verify_all(signed, records):
    """python3-dkim's verdict for each DKIM-Signature of the message."""
    d = dkim.DKIM(signed)
    n = signed.split(b"\r\n\r\n", 1)[0].count(b"DKIM-Signature:")
    res = []
    for i in range(n):
        try:
            res.append(d.verify(idx=i, dnsfunc=dnsfunc_for(records)))
        except dkim.DKIMException:
            res.append(False)
    return res


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    if not os.access(CTL, os.X_OK):
        pytest.skip("ctl/tsambactl not built")
    d = tmp_path_factory.mktemp("dkim")
    conf = str(d / "tsamba.conf")
    with open(conf, "w") as f:
        f.write('hostname "mail.example.org"\n')
    recs = {}
    for sel, alg in (("r2026", "rsa"), ("e2026", "ed25519")):
        p = ctl(conf, "dkim", "keygen", DOMAIN, sel, "-t", alg)
        assert p.returncode == 0, p.stderr
        recs[alg] = p.stdout.decode().strip()
        key = str(d / "dkim" / ("%s.%s.%s.key" % (DOMAIN, sel, alg)))
        assert key in p.stderr.decode()
        with open(conf, "a") as f:
            f.write('dkim domain "%s" selector "%s" key "%s" %s\n' %
                    (DOMAIN, sel, key, alg))
    return d, conf, recs


def test_keygen_files(setup):
    d, conf, recs = setup
    for sel, alg in (("r2026", "rsa"), ("e2026", "ed25519")):
        base = str(d / "dkim" / ("%s.%s.%s" % (DOMAIN, sel, alg)))
        st = os.stat(base + ".key")
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_uid == os.geteuid()
        with open(base + ".key") as f:
            assert f.read().startswith("-----BEGIN PRIVATE KEY-----")
        with open(base + ".txt") as f:
            assert f.read().strip() == recs[alg]
        name, txt = parse_record(recs[alg])
        assert name == "%s._domainkey.%s." % (sel, DOMAIN)
        assert txt.startswith("v=DKIM1; k=%s; p=" % alg)
        assert " IN TXT " in recs[alg]
    # 2048-bit RSA: the value needs two DNS strings.
    assert len(re.findall(r'"[^"]*"', recs["rsa"])) == 2
    _, txt = parse_record(recs["ed25519"])
    assert len(txt.split("p=")[1]) == 44		# 32 bytes in base64


def test_keygen_refuses_overwrite(setup):
    d, conf, recs = setup
    p = ctl(conf, "dkim", "keygen", DOMAIN, "e2026", "-t", "ed25519")
    assert p.returncode == 1
    assert b"exists" in p.stderr
    # The configured algorithm wins over -t.
    p = ctl(conf, "dkim", "keygen", DOMAIN, "e2026", "-t", "rsa", "-f")
    assert p.returncode == 1 and b"-t ed25519" in p.stderr
    for bad in (["a..b", "s"], [DOMAIN, "x/y"], [DOMAIN]):
        p = ctl(conf, "dkim", "keygen", *bad)
        assert p.returncode != 0


def test_keygen_force_new_key(tmp_path):
    if not os.access(CTL, os.X_OK):
        pytest.skip("ctl/tsambactl not built")
    conf = str(tmp_path / "tsamba.conf")
    with open(conf, "w") as f:
        f.write('hostname "mail.example.org"\n')
    a = ctl(conf, "dkim", "keygen", DOMAIN, "s", "-t", "ed25519")
    b = ctl(conf, "dkim", "keygen", DOMAIN, "s", "-t", "ed25519", "-f")
    assert a.returncode == 0 and b.returncode == 0
    assert a.stdout != b.stdout
    # Not configured yet: show finds it in the dkim directory.
    s = ctl(conf, "dkim", "show", DOMAIN)
    assert s.returncode == 0
    assert b.stdout.decode().strip() in s.stdout.decode()
    assert b"is not in" in s.stdout


def test_show(setup):
    d, conf, recs = setup
    p = ctl(conf, "dkim", "show", DOMAIN.upper())
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert recs["rsa"] in lines and recs["ed25519"] in lines
    p = ctl(conf, "dkim", "show", "example.net")
    assert p.returncode == 1 and b"no DKIM key" in p.stderr


def sign(setup, msg, domain=DOMAIN):
    d, conf, recs = setup
    path = str(d / "msg")
    with open(path, "wb") as f:
        f.write(msg)
    return ctl(conf, "dkim", "test", domain, path)


def test_sign_verify_both(setup):
    d, conf, recs = setup
    _, msg = make_message(["a@example.net", "b@example.net"],
                          subject="a   spaced \t subject")
    p = sign(setup, msg)
    assert p.returncode == 0, p.stderr
    signed = p.stdout
    assert signed.endswith(msg)
    head = signed[:len(signed) - len(msg)].decode()
    assert head.count("DKIM-Signature:") == 2
    assert "a=rsa-sha256;" in head and "a=ed25519-sha256;" in head
    for line in head.split("\r\n"):
        assert len(line) <= 78
    assert "h=from:from:to:subject:message-id:date:mime-version:" \
        "content-type;" in re.sub(r"\s", "", head)
    records = [parse_record(recs["rsa"]), parse_record(recs["ed25519"])]
    assert verify_all(signed, records) == [True, True]

    # Altered in transit: the body, a signed header, an added From.
    bad_body = signed.replace(b"Hello,", b"Hullo,")
    assert verify_all(bad_body, records) == [False, False]
    bad_subj = signed.replace(b"spaced", b"SPACED")
    assert verify_all(bad_subj, records) == [False, False]
    extra_from = signed.replace(b"\r\nFrom: ",
                                b"\r\nFrom: evil@example.com\r\nFrom: ", 1)
    assert verify_all(extra_from, records) == [False, False]
    # Refolding and respacing survive relaxed canonicalization.
    refolded = signed.replace(b"Subject: a", b"Subject:\r\n\t a")
    assert verify_all(refolded, records) == [True, True]


def test_sign_lf_message(setup):
    """A spool file with LF line ends signs like its CRLF form."""
    d, conf, recs = setup
    _, msg = make_message("a@example.net", body="one \n\n two\n\n")
    p = sign(setup, msg.replace(b"\r\n", b"\n"))
    assert p.returncode == 0, p.stderr
    signed = p.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    records = [parse_record(recs["rsa"]), parse_record(recs["ed25519"])]
    assert verify_all(signed, records) == [True, True]


def test_sign_empty_body(setup):
    d, conf, recs = setup
    msg = (b"From: a@example.org\r\nTo: b@example.net\r\n"
           b"Subject: empty\r\n\r\n")
    p = sign(setup, msg)
    assert p.returncode == 0, p.stderr
    records = [parse_record(recs["rsa"]), parse_record(recs["ed25519"])]
    assert verify_all(p.stdout, records) == [True, True]


def test_sign_other_domain(setup):
    _, msg = make_message("a@example.net")
    p = sign(setup, msg, "example.com")
    assert p.returncode == 1 and b"no key for example.com" in p.stderr


def test_key_permissions_refused(setup):
    d, conf, recs = setup
    key = str(d / "dkim" / ("%s.r2026.rsa.key" % DOMAIN))
    _, msg = make_message("a@example.net")
    os.chmod(key, 0o640)
    try:
        p = sign(setup, msg)
    finally:
        os.chmod(key, 0o600)
    assert p.returncode == 1
    assert b"readable by group or others" in p.stderr
    assert p.stdout == b""
    if os.geteuid() == 0:
        os.chown(key, 65534, -1)
        try:
            p = sign(setup, msg)
        finally:
            os.chown(key, 0, -1)
        assert p.returncode == 1
        assert b"owned by uid 65534" in p.stderr
