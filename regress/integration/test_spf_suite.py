"""The openspf.org RFC 7208 test suite (release 2014.04, shipped by
python3-spf) run through lib/spf.c by way of regress/unit/authcheck:
each scenario's zone data becomes a canned zone (TIMEOUT a SERVFAIL,
CNAMEs resolved into the names that point at them), each test's result
must be one the suite allows, and its explanation, when it names one,
must be ours word for word."""

import gzip
import os
import subprocess

import pytest
import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
AUTHCHECK = os.path.join(TOP, "regress", "unit", "authcheck")
SUITE = "/usr/share/doc/python3-spf/rfc7208-tests.yml.gz"


def scenarios():
    with gzip.open(SUITE, "rt") as f:
        return list(yaml.safe_load_all(f))


def representable(value):
    """A command-line argument: no line end, no NUL."""
    return isinstance(value, str) and not any(c in value for c in "\n\0")


def quote(value, force=False):
    """TXT data (or with force, a name) as zone.h reads it: as is when
    it can be, else quoted with escapes (zone.h skips leading blanks,
    splits at line ends, and a name ends at a blank)."""
    if not force and value and value == value.lstrip(" \t") and \
            value[0] != '"' and not any(c in value for c in "\n\0"):
        return value
    out = ""
    for c in value:
        if c in '"\\':
            out += "\\" + c
        elif c == "\n":
            out += "\\n"
        elif ord(c) < 0x20 or c == "\x7f":
            out += "\\x%02x" % ord(c)
        else:
            out += c
    return '"' + out + '"'


def zone_text(zonedata):
    """The scenario as zone.h text, or None if a record cannot be said
    in that line format."""
    records = {}
    for name, rrs in (zonedata or {}).items():
        name = name.lower().rstrip(".")
        records.setdefault(name, [])
        spf_rrs = []
        for rr in rrs or []:
            if rr == "TIMEOUT":
                records[name].append(("SERVFAIL", ""))
                continue
            (rtype, value), = rr.items()
            if rtype in ("TXT", "SPF") and isinstance(value, list):
                value = "".join(value)
            if rtype == "MX":
                value = "%d %s" % (value[0], value[1])
            if rtype == "TIMEOUT":
                records[name].append(("SERVFAIL", ""))
                continue
            if rtype in ("TXT", "SPF"):
                value = quote(value)
            elif not representable(value):
                return None
            if rtype == "SPF":
                spf_rrs.append(("TXT", value))
            else:
                records[name].append((rtype, value))
        # The suite's rules: a TIMEOUT beside TXT data is the SPF
        # type's (RFC 7208 reads TXT only); type SPF data stands for TXT
        # where a name has no TXT of its own and does not time out.
        # TXT "NONE" says there is no TXT at all.
        rr = records[name]
        none = ("TXT", "NONE") in rr
        rr = [r for r in rr if r != ("TXT", "NONE")]
        if any(t == "TXT" for t, _ in rr):
            rr = [r for r in rr if r[0] != "SERVFAIL"]
        elif not none and not any(t == "SERVFAIL" for t, _ in rr):
            rr += spf_rrs
        records[name] = rr
    # A CNAME is answered with what its target has (a resolver's job).
    for name, rrs in records.items():
        seen = {name}
        while any(t == "CNAME" for t, _ in rrs):
            target = [v for t, v in rrs if t == "CNAME"][0]
            target = target.lower().rstrip(".")
            if target in seen:
                break
            seen.add(target)
            rrs = [r for r in rrs if r[0] != "CNAME"] + \
                records.get(target, [])
        records[name] = rrs
    lines = []
    for name, rrs in records.items():
        if any(c in name for c in " \t\"\n\0"):
            name = quote(name, force=True)
        if not rrs:
            lines.append("%s EXISTS" % name)
        for t, v in rrs:
            if t == "CNAME":
                lines.append("%s EXISTS" % name)
            else:
                lines.append(("%s %s %s" % (name, t, v)).rstrip())
    return "\n".join(lines) + "\n"


def cases():
    out = []
    for sc in scenarios():
        zt = zone_text(sc.get("zonedata"))
        for name, t in sc["tests"].items():
            out.append(pytest.param(zt, t, id=name))
    return out


def test_suite_is_there():
    assert os.path.exists(SUITE), "python3-spf's test suite is missing"
    assert len(cases()) > 150


@pytest.mark.parametrize("zt,t", cases())
def test_rfc7208(tmp_path, zt, t):
    if zt is None:
        pytest.skip("zone data not expressible in zone.h lines")
    if any(not representable(t.get(k, "x") or "x")
           for k in ("helo", "mailfrom", "host")):
        pytest.skip("identity not expressible on a command line")
    zone = tmp_path / "zone"
    zone.write_text(zt, encoding="utf-8")
    p = subprocess.run([AUTHCHECK, "-z", str(zone), "-i", t["host"],
                        "-h", t["helo"], "-f", t.get("mailfrom", ""),
                        "-a", t.get("receiver", "unknown")],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().split("--\n", 1)[0].splitlines()
    got = lines[0].split(" ", 1)[1]
    want = t["result"] if isinstance(t["result"], list) else [t["result"]]
    assert got in want, (t.get("description"), got, want)
    # DEFAULT: the implementation's own words; ours is none.
    if "explanation" in t and got == "fail" and \
            t["explanation"] != "DEFAULT":
        exp = [line[8:] for line in lines if line.startswith("spf-exp ")]
        want = [t["explanation"]]
        if ":" in t["host"]:
            # %{i} of IPv6: RFC 7208 7.4 writes the nibbles in lower
            # case, the suite in upper; DNS does not care.
            exp, want = [e.lower() for e in exp], [w.lower() for w in want]
        assert exp == want, (exp, want)
