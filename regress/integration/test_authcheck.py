"""Cross-check of the SPF and DKIM verifiers in lib/ against independent
implementations: the same inputs and the same canned DNS go through
regress/unit/authcheck (lib/spf.c, lib/dkim_verify.c, lib/dmarc.c,
lib/authres.c) and through python3-spf and python3-dkim, and the
verdicts must agree.  The Authentication-Results field authcheck prints
is parsed with python3-authres.  DKIM messages are signed afresh by
python3-dkim (regress/unit/dkim_fixtures.py) in a private directory."""

import os
import subprocess
import sys

import authres
import dkim
import pytest
import spf

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
AUTHCHECK = os.path.join(TOP, "regress", "unit", "authcheck")
sys.path.insert(0, os.path.join(TOP, "regress", "unit"))

import dkim_fixtures  # noqa: E402

SPF_ZONE = """\
all.test TXT v=spf1 -all
ip4.test TXT v=spf1 ip4:192.0.2.0/24 -all
ip6.test TXT v=spf1 ip6:2001:db8::/32 ~all
a.test TXT v=spf1 a -all
a.test A 192.0.2.10
a.test AAAA 2001:db8::10
acidr.test TXT v=spf1 a:host.acidr.test/24//64 -all
host.acidr.test A 198.51.100.1
host.acidr.test AAAA 2001:db8:1::1
mx.test TXT v=spf1 mx/30 -all
mx.test MX 10 mx1.mx.test
mx.test MX 20 mx2.mx.test
mx1.mx.test A 192.0.2.20
mx2.mx.test A 192.0.2.24
ptr.test TXT v=spf1 ptr -all
30.2.0.192.in-addr.arpa PTR mail.ptr.test
mail.ptr.test A 192.0.2.30
31.2.0.192.in-addr.arpa PTR forged.ptr.test
include.test TXT v=spf1 include:ip4.test ?all
exists.test TXT v=spf1 exists:%{ir}.%{l1r-}.list.exists.test -all
5.2.0.192.alice.list.exists.test A 127.0.0.2
redirect.test TXT v=spf1 redirect=ip4.test
macro.test TXT v=spf1 a:%{d2}.%{o} include:%{l}.users.macro.test -all
macro.test.macro.test A 192.0.2.77
bob.users.macro.test TXT v=spf1 ip4:203.0.113.0/24 -all
neutral.test TXT v=spf1 ?all
two.test TXT v=spf1 -all
two.test TXT v=spf1 +all
bad1.test TXT v=spf1 foo -all
bad2.test TXT v=spf1 ip4:192.0.2.300 -all
bad3.test TXT v=spf1 ip4:192.0.2.0/33 -all
bad4.test TXT v=spf1 a:%{x}.test -all
bad5.test TXT v=spf1 redirect=a.test redirect=all.test
servfail.test SERVFAIL
inctemp.test TXT v=spf1 include:servfail.test -all
incnone.test TXT v=spf1 include:nxdomain.test -all
lim10.test TXT v=spf1 a:l1.test a:l2.test a:l3.test a:l4.test a:l5.test \
a:l6.test a:l7.test a:l8.test a:l9.test a:l10.test -all
lim11.test TXT v=spf1 a:l1.test a:l2.test a:l3.test a:l4.test a:l5.test \
a:l6.test a:l7.test a:l8.test a:l9.test a:l10.test a:l11.test -all
void3.test TXT v=spf1 a:nx1.test a:nx2.test a:nx3.test -all
""".replace("\\\n", "") + "".join("l%d.test A 10.9.9.%d\n" % (i, i)
                                  for i in range(1, 12))

SPF_CASES = [
    ("192.0.2.1", "u@all.test"),
    ("192.0.2.1", "u@ip4.test"),
    ("198.51.100.1", "u@ip4.test"),
    ("2001:db8:5::1", "u@ip6.test"),
    ("2001:db9::1", "u@ip6.test"),
    ("192.0.2.10", "u@a.test"),
    ("192.0.2.11", "u@a.test"),
    ("2001:db8::10", "u@a.test"),
    ("198.51.100.200", "u@acidr.test"),
    ("2001:db8:1::ffff", "u@acidr.test"),
    ("2001:db8:2::1", "u@acidr.test"),
    ("192.0.2.27", "u@mx.test"),
    ("192.0.2.28", "u@mx.test"),
    ("192.0.2.30", "u@ptr.test"),
    ("192.0.2.31", "u@ptr.test"),
    ("192.0.2.9", "u@include.test"),
    ("10.0.0.1", "u@include.test"),
    ("192.0.2.5", "alice@exists.test"),
    ("192.0.2.5", "bob@exists.test"),
    ("192.0.2.9", "u@redirect.test"),
    ("10.0.0.1", "u@redirect.test"),
    ("192.0.2.77", "carol@macro.test"),
    ("203.0.113.9", "bob@macro.test"),
    ("203.0.113.9", "carol@macro.test"),
    ("10.0.0.1", "u@neutral.test"),
    ("10.0.0.1", "u@nxdomain.test"),
    ("10.0.0.1", "u@two.test"),
    ("10.0.0.1", "u@bad1.test"),
    ("10.0.0.1", "u@bad2.test"),
    ("10.0.0.1", "u@bad3.test"),
    ("10.0.0.1", "u@bad4.test"),
    ("10.0.0.1", "u@bad5.test"),
    ("10.0.0.1", "u@servfail.test"),
    ("10.0.0.1", "u@inctemp.test"),
    ("10.0.0.1", "u@incnone.test"),
    ("10.0.0.1", "u@lim10.test"),
    ("10.9.9.10", "u@lim10.test"),
    ("10.0.0.1", "u@lim11.test"),
    ("10.0.0.1", "u@void3.test"),
]


def load_zone(text):
    """{(name, type): [data]} and the SERVFAIL names, as zone.h reads it."""
    records, failing = {}, set()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        name = parts[0].lower()
        if parts[1] == "SERVFAIL":
            failing.add(name)
            continue
        records.setdefault((name, parts[1]), []).append(
            parts[2] if len(parts) > 2 else "")
    return records, failing


def pyspf_lookup(zone):
    records, failing = zone
    names = {n for n, _ in records}

    def lookup(name, qtype, strict=True, timeout=None):
        name = name.lower().rstrip(".")
        if name in failing:
            raise spf.TempError("DNS SERVFAIL for %s" % name)
        if name not in names:
            return []
        out = []
        for data in records.get((name, qtype), []):
            if qtype == "MX":
                pref, host = data.split()
                out.append(((name, qtype), (int(pref), host)))
            elif qtype == "TXT":
                out.append(((name, qtype), [data.encode()]))
            else:
                out.append(((name, qtype), data))
        return out
    return lookup


def authcheck(zonefile, ip, frm, helo="helo.test", message=None,
              psl=None):
    cmd = [AUTHCHECK, "-z", zonefile, "-i", ip, "-h", helo, "-f", frm,
           "-a", "mx.test"]
    if message is not None:
        cmd += ["-m", message]
    if psl is not None:
        cmd += ["-p", psl]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    verdicts, field = out.split("--\n", 1)
    return verdicts.splitlines(), field


def prop(result, ptype, name):
    """A property's value of one resinfo, as python3-authres read it."""
    vals = [p.value for p in result.properties
            if p.type == ptype and p.name == name]
    assert len(vals) == 1, (result, ptype, name)
    return vals[0]


def parse_field(field):
    assert field.startswith("Authentication-Results:") and \
        field.endswith("\r\n"), field
    unfolded = field[:-2].replace("\r\n", "")
    return authres.AuthenticationResultsHeader.parse(unfolded)


@pytest.fixture(scope="module")
def spf_zone(tmp_path_factory):
    d = tmp_path_factory.mktemp("authcheck-spf")
    path = d / "zone"
    path.write_text(SPF_ZONE)
    return str(path)


@pytest.mark.parametrize("ip,frm", SPF_CASES)
def test_spf_agrees(spf_zone, monkeypatch, ip, frm):
    monkeypatch.setattr(spf, "DNSLookup",
                        pyspf_lookup(load_zone(SPF_ZONE)))
    want, _ = spf.check2(i=ip, s=frm, h="helo.test")
    verdicts, field = authcheck(spf_zone, ip, frm)
    assert verdicts[0] == "spf " + want, (ip, frm, verdicts)
    ar = parse_field(field)
    assert ar.authserv_id == "mx.test"
    res = [r for r in ar.results if r.method == "spf"]
    assert len(res) == 1 and res[0].result == want
    assert prop(res[0], "smtp", "mailfrom") == frm


@pytest.fixture(scope="module")
def dkim_set(tmp_path_factory):
    """Fresh keys, their zone file, and the signed messages on disk."""
    d = tmp_path_factory.mktemp("authcheck-dkim")
    keys = dkim_fixtures.keys(str(d))
    ztext = dkim_fixtures.zone(keys).decode()
    # DMARC policy for the signing domain, and SPF for its bounces.
    ztext += "_dmarc.example.org TXT v=DMARC1; p=reject; adkim=r\n"
    ztext += "example.org TXT v=spf1 ip4:192.0.2.0/24 -all\n"
    (d / "zone").write_text(ztext)
    msgs = []
    for name, msg, _ in dkim_fixtures.cases(keys):
        path = d / (name + ".eml")
        path.write_bytes(msg)
        msgs.append((name, str(path), msg))
    return str(d / "zone"), ztext, msgs


def pydkim_verdicts(msg, ztext):
    records, _ = load_zone(ztext)

    def dnsfunc(name, timeout=5):
        name = name.decode().lower().rstrip(".")
        txt = records.get((name, "TXT"))
        return txt[0].encode() if txt else None

    d = dkim.DKIM(msg)
    n = len([1 for h, _ in d.headers if h.lower() == b"dkim-signature"])
    out = []
    for i in range(n):
        try:
            out.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
        except dkim.DKIMException:
            out.append(False)
    return out


def test_dkim_agrees(dkim_set):
    zonefile, ztext, msgs = dkim_set
    checked = 0
    for name, path, msg in msgs:
        want = pydkim_verdicts(msg, ztext)
        verdicts, field = authcheck(zonefile, "192.0.2.1",
                                    "bounce@example.org", message=path)
        got = [v.split()[1] == "pass" for v in verdicts
               if v.startswith("dkim ")]
        assert got == want, (name, verdicts, want)
        ar = parse_field(field)
        res = [r for r in ar.results if r.method == "dkim"]
        if want:
            assert [r.result == "pass" for r in res] == want, field
            for r in res:
                assert prop(r, "header", "d") == "example.org", field
                assert prop(r, "header", "s") in field, field
        else:
            assert [r.result for r in res] == ["none"], field
        checked += len(want)
    # The set has passes and failures of every kind in it.
    assert checked >= 15


def test_dmarc_in_header(dkim_set, tmp_path):
    """DMARC from the same run: an aligned DKIM pass passes even when
    SPF fails; with the signature broken and SPF failing, p=reject."""
    zonefile, _, msgs = dkim_set
    by_name = {name: path for name, path, _ in msgs}
    psl = "/usr/share/publicsuffix/public_suffix_list.dat"

    verdicts, field = authcheck(zonefile, "203.0.113.1",
                                "bounce@example.org",
                                message=by_name["rsa2048_simple"], psl=psl)
    assert "spf fail" in verdicts and "dmarc pass none" in verdicts
    ar = parse_field(field)
    dm = [r for r in ar.results if r.method == "dmarc"]
    assert len(dm) == 1 and dm[0].result == "pass"
    assert prop(dm[0], "header", "from") == "example.org"

    verdicts, field = authcheck(zonefile, "203.0.113.1",
                                "bounce@example.org",
                                message=by_name["rsa2048_body_tampered"],
                                psl=psl)
    assert "dmarc fail reject" in verdicts, verdicts
    ar = parse_field(field)
    assert [r.result for r in ar.results] == ["fail", "fail", "fail"]

    # Aligned SPF alone passes too.
    verdicts, _ = authcheck(zonefile, "192.0.2.1", "bounce@example.org",
                            message=by_name["unsigned"], psl=psl)
    assert "spf pass" in verdicts and "dmarc pass none" in verdicts
