#!/usr/bin/python3
"""DKIM test messages signed by python3-dkim, the independent signer.

Run once to write regress/unit/dkim_fixtures.h, the committed fixtures
of test_dkim_verify.c (keys are made afresh each run, so the header
changes whenever it is regenerated):

    cd regress/unit && /usr/bin/python3 dkim_fixtures.py > dkim_fixtures.h

regress/integration/test_authcheck.py imports it to sign fresh messages
at test time for its cross-check with python3-dkim's verifier.
"""

import base64
import os
import subprocess
import sys
import tempfile
import time

import dkim
import nacl.signing

T0 = 1700000000                 # the fixtures' signing time
DOMAIN = b"example.org"

MESSAGE = (b"From: Alice <alice@example.org>\r\n"
           b"To: bob@example.net\r\n"
           b"Subject: test message\r\n"
           b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
           b"Message-ID: <fixture@example.org>\r\n"
           b"\r\n"
           b"Hello Bob,\r\n"
           b"  this line has  extra   spaces.  \r\n"
           b"\r\n"
           b"Bye.\r\n"
           b"\r\n"
           b"\r\n")


def rsa_key(bits, tmp):
    """(private PEM, public SPKI DER base64) of a new RSA key."""
    path = os.path.join(tmp, "rsa%d.pem" % bits)
    subprocess.run(["openssl", "genrsa", "-out", path, str(bits)],
                   check=True, capture_output=True)
    pub = subprocess.run(["openssl", "rsa", "-in", path, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    with open(path, "rb") as f:
        return f.read(), base64.b64encode(pub)


def ed25519_key():
    sk = nacl.signing.SigningKey.generate()
    return (base64.b64encode(bytes(sk)),
            base64.b64encode(sk.verify_key.encode()))


def keys(tmp):
    """Selector -> (algorithm, private key, key record)."""
    k = {}
    for bits in (512, 1024, 2048):
        priv, pub = rsa_key(bits, tmp)
        k[b"rsa%d" % bits] = (b"rsa-sha256", priv,
                              b"v=DKIM1; k=rsa; p=" + pub)
    priv, pub = ed25519_key()
    k[b"ed"] = (b"ed25519-sha256", priv, b"v=DKIM1; k=ed25519; p=" + pub)
    k[b"revoked"] = (b"rsa-sha256", k[b"rsa2048"][1], b"v=DKIM1; p=")
    k[b"nokey"] = (b"rsa-sha256", k[b"rsa2048"][1], None)
    return k


def sign(msg, k, sel, canon=(b"relaxed", b"relaxed"), length=False,
         when=None, expire=None):
    alg, priv, _ = k[sel]
    orig_gen = dkim.DKIM.gen_header
    orig_time = time.time

    def gen_header(self, fields, *args, **kw):
        if expire is not None:
            fields.insert(-1, (b"x", str(expire).encode()))
        return orig_gen(self, fields, *args, **kw)

    dkim.DKIM.gen_header = gen_header
    if when is not None:
        time.time = lambda: when
    try:
        sig = dkim.sign(msg, sel, DOMAIN, priv, canonicalize=canon,
                        signature_algorithm=alg, length=length)
    finally:
        dkim.DKIM.gen_header = orig_gen
        time.time = orig_time
    return sig + msg


def cases(k, when=None):
    """(name, message, [expected result of each signature, top first])."""
    rr = (b"relaxed", b"relaxed")
    ss = (b"simple", b"simple")
    rs = (b"relaxed", b"simple")
    body_changed = MESSAGE.replace(b"Bye.", b"Bye!")
    c = []
    c.append(("rsa1024", sign(MESSAGE, k, b"rsa1024", rr, when=when),
              ["pass"]))
    c.append(("rsa2048_simple", sign(MESSAGE, k, b"rsa2048", ss,
                                     when=when), ["pass"]))
    c.append(("rsa2048_relaxed_simple", sign(MESSAGE, k, b"rsa2048", rs,
                                             when=when), ["pass"]))
    c.append(("ed25519", sign(MESSAGE, k, b"ed", rr, when=when), ["pass"]))
    m = sign(MESSAGE, k, b"rsa2048", rr, when=when)
    c.append(("rsa2048_body_tampered", m.replace(b"Bye.", b"Bye!"),
              ["fail"]))
    c.append(("rsa2048_header_tampered",
              m.replace(b"Subject: test message", b"Subject: test massage"),
              ["fail"]))
    c.append(("rsa2048_relaxed_whitespace",
              m.replace(b"Subject: test message", b"Subject:  test \t message")
              .replace(b"Bye.\r\n", b"Bye.   \r\n"), ["pass"]))
    m = sign(MESSAGE, k, b"rsa2048", ss, when=when)
    c.append(("rsa2048_simple_whitespace",
              m.replace(b"Subject: test message", b"Subject:  test message"),
              ["fail"]))
    m = sign(MESSAGE, k, b"ed", rr, when=when)
    c.append(("ed25519_body_tampered", m.replace(b"Bye.", b"Bye!"),
              ["fail"]))
    m = sign(MESSAGE, k, b"rsa2048", rr, length=True, when=when)
    c.append(("length_appended", m + b"appended after signing\r\n",
              ["pass"]))
    c.append(("length_tampered", m.replace(b"Hello", b"Jello"), ["fail"]))
    c.append(("rsa512", sign(MESSAGE, k, b"rsa512", rr, when=when),
              ["fail"]))
    m = sign(MESSAGE, k, b"ed", rr, when=when)
    c.append(("two_signatures", sign(m, k, b"rsa2048", rs, when=when),
              ["pass", "pass"]))
    c.append(("one_of_two_broken",
              sign(m, k, b"rsa2048", ss, when=when).replace(
                  b"To: bob@", b"To:  bob@"), ["fail", "pass"]))
    c.append(("nokey", sign(MESSAGE, k, b"nokey", rr, when=when),
              ["permerror"]))
    c.append(("revoked", sign(MESSAGE, k, b"revoked", rr, when=when),
              ["permerror"]))
    c.append(("unsigned", MESSAGE, []))
    c.append(("body_changed_unsigned", body_changed, []))
    return c


def zone(k):
    lines = []
    for sel, (_, _, rec) in sorted(k.items()):
        if rec is not None:
            lines.append(b"%s._domainkey.%s TXT %s" % (sel, DOMAIN, rec))
    return b"\n".join(lines) + b"\n"


def c_string(data):
    out = []
    line = ""
    for ch in data:
        if ch == 0x0d:
            line += "\\r"
        elif ch == 0x0a:
            line += "\\n"
            out.append('\t"' + line + '"')
            line = ""
            continue
        elif ch in (0x22, 0x5c):
            line += "\\" + chr(ch)
        elif 0x20 <= ch < 0x7f:
            line += chr(ch)
        else:
            line += "\\%03o" % ch
        if len(line) > 60:
            out.append('\t"' + line + '"')
            line = ""
    if line or not out:
        out.append('\t"' + line + '"')
    return "\n".join(out)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        k = keys(tmp)
    # Two more, signed at odd times: expired x=, t= in the future.
    cs = cases(k, when=T0)
    cs.append(("expired", sign(MESSAGE, k, b"rsa2048", when=T0,
                               expire=T0 + 3600), ["fail"]))
    cs.append(("future", sign(MESSAGE, k, b"rsa2048", when=T0 + 10 * 86400),
               ["permerror"]))
    print("/*\n * dkim_fixtures.h: written by dkim_fixtures.py (python3-dkim"
          " signed\n * messages and their keys); do not edit, run the "
          "script again.\n */\n")
    print("#define FIXTURE_T0\t%d\n" % T0)
    print("static const char fixture_zone[] =\n%s;\n" % c_string(zone(k)))
    print("struct fixture {\n\tconst char\t*name;\n\tconst char\t*msg;\n"
          "\tconst char\t*want[2];\n};\n")
    print("static const struct fixture fixtures[] = {")
    for name, msg, want in cs:
        w = ", ".join('"%s"' % x for x in want) or "NULL"
        print('{ "%s",\n%s,\n\t{ %s } },' % (name, c_string(msg), w))
    print("};")


if __name__ == "__main__":
    sys.exit(main())
