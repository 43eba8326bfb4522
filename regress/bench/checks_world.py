#!/usr/bin/python3
"""The sending world of regress/bench/smtp-checks.sh: a private dnsmasq
serving the sender domains' SPF, DKIM and DMARC records, and a pool of
messages signed beforehand by python3-dkim.

    checks_world.py DIR --domains K --pool P --size S --users U
        starts dnsmasq (Debian's dnsmasq-base) on a free port of
        127.0.0.1, in the background, and writes
          DIR/dns.port  DIR/dns.pid     where it answers, what to stop
          DIR/pool/index                "mailfrom rcpt file" per message
          DIR/pool/NNNN.eml             ready for DATA (CRLF, dot-stuffed,
                                        ending in ".\\r\\n")
    checks_world.py verdicts [--newer FILE] DIR...
        reads every message file under the Maildir new/ folders under
        each DIR (modified after FILE, with --newer) and prints one line
          messages=N spf_pass=N dkim_pass=N dmarc_pass=N dual_pass=N
        exiting 1 unless every message has an Authentication-Results
        field that says spf=pass, dkim=pass and dmarc=pass (and, for the
        dual-signed ones, two dkim=pass).

The world: sender1.test .. senderK.test each publish
  "v=spf1 ip4:192.0.2.0/24 include:_spf.relay.test -all"
(so each SPF check takes two TXT lookups, like most real senders'), an
RSA 2048 key under selector rs and an Ed25519 key under selector ed,
and "v=DMARC1; p=none" (nothing is refused: every message is delivered
and its verdict can be read).  Every message is signed rsa-sha256,
relaxed/relaxed, over From, To, Subject, Date and Message-ID; every
fourth is signed ed25519-sha256 as well (dual signing, RFC 8463 3).
dnsmasq gives its records a TTL of 300 s (--local-ttl), so a caching
resolver keeps them as it would real ones.

Only the Python 3 standard library, python3-dkim and python3-nacl.
"""

import argparse
import email.parser
import email.policy
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "unit"))
import dnsfix  # noqa: E402

HELO = "mail.client.test"
DUAL_EVERY = 4
SIGNED = [b"From", b"To", b"Subject", b"Date", b"Message-ID"]


class BenchDns(dnsfix.DnsServer):
    """dnsfix.DnsServer without --log-queries (a log line per query
    would be the resolver's main cost) and with a TTL on its records."""

    def command(self):
        cmd = [a for a in super().command() if a != "--log-queries"]
        return cmd + ["--local-ttl=300", "--cache-size=10000"]


def make_world(args):
    import dkim
    import dkim_fixtures

    os.makedirs(args.dir, exist_ok=True)
    keydir = os.path.join(args.dir, "keys")
    os.makedirs(keydir, exist_ok=True)
    dns = BenchDns(args.dir)
    dns.txt("_spf.relay.test", "v=spf1 ip4:127.0.0.0/8 -all")
    dns.txt(HELO, "v=spf1 ip4:127.0.0.1 -all")
    keys = {}
    for k in range(1, args.domains + 1):
        dom = "sender%d.test" % k
        dns.txt(dom, "v=spf1 ip4:192.0.2.0/24 include:_spf.relay.test -all")
        dns.txt("_dmarc." + dom, "v=DMARC1; p=none")
        kd = os.path.join(keydir, dom)
        os.makedirs(kd, exist_ok=True)
        rsa_priv, rsa_pub = dkim_fixtures.rsa_key(2048, kd)
        ed_priv, ed_pub = dkim_fixtures.ed25519_key()
        dns.txt("rs._domainkey." + dom,
                "v=DKIM1; k=rsa; p=" + rsa_pub.decode())
        dns.txt("ed._domainkey." + dom,
                "v=DKIM1; k=ed25519; p=" + ed_pub.decode())
        keys[dom] = (rsa_priv, ed_priv)
    pool = os.path.join(args.dir, "pool")
    os.makedirs(pool, exist_ok=True)
    line = (b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
            b"0123456789\r\n")
    body = line * max(1, args.size // len(line))
    with open(os.path.join(pool, "index"), "w") as index:
        for i in range(args.pool):
            dom = "sender%d.test" % (i % args.domains + 1)
            frm = "user%d@%s" % (i % 7 + 1, dom)
            rcpt = "u%d@example.test" % (i % args.users + 1)
            head = ("From: Sender <%s>\r\nTo: <%s>\r\n"
                    "Subject: checks bench %d\r\n"
                    "Date: Tue, 08 Dec 2026 03:00:00 +0000\r\n"
                    "Message-ID: <%d.bench@%s>\r\n\r\n" %
                    (frm, rcpt, i, i, dom)).encode()
            msg = head + body
            rsa_priv, ed_priv = keys[dom]
            sig = dkim.sign(msg, b"rs", dom.encode(), rsa_priv,
                            canonicalize=(b"relaxed", b"relaxed"),
                            include_headers=SIGNED)
            if i % DUAL_EVERY == DUAL_EVERY - 1:
                sig = dkim.sign(msg, b"ed", dom.encode(), ed_priv,
                                canonicalize=(b"relaxed", b"relaxed"),
                                include_headers=SIGNED,
                                signature_algorithm=b"ed25519-sha256") + sig
            data = (sig + msg).replace(b"\r\n.", b"\r\n..") + b".\r\n"
            name = os.path.join(pool, "%04d.eml" % i)
            with open(name, "wb") as f:
                f.write(data)
            index.write("%s %s %s\n" % (frm, rcpt, name))
    dns.start()
    with open(os.path.join(args.dir, "dns.port"), "w") as f:
        f.write("%d\n" % dns.port)
    with open(os.path.join(args.dir, "dns.pid"), "w") as f:
        f.write("%d\n" % dns.proc.pid)
    return 0


def results(msg):
    """The method=result pairs of all Authentication-Results fields."""
    out = []
    for v in msg.get_all("Authentication-Results") or []:
        for part in str(v).replace("\r", " ").replace("\n", " ").split(";"):
            w = part.strip().split()
            if w and "=" in w[0]:
                out.append(tuple(w[0].lower().split("=", 1)))
    return out


def verdicts(dirs):
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    n = spf = dk = dm = dual = dual_ok = 0
    since = 0
    if dirs[:1] == ["--newer"]:
        since = os.stat(dirs[1]).st_mtime_ns
        dirs = dirs[2:]
    for d in dirs:
        for path in glob.glob(os.path.join(d, "**", "new", "*"),
                              recursive=True):
            if os.stat(path).st_mtime_ns <= since:
                continue
            with open(path, "rb") as f:
                msg = parser.parse(f)
            n += 1
            r = results(msg)
            spf += ("spf", "pass") in r
            passes = r.count(("dkim", "pass"))
            dk += passes >= 1
            dm += ("dmarc", "pass") in r
            sigs = len(msg.get_all("DKIM-Signature") or [])
            if sigs > 1:
                dual += 1
                dual_ok += passes >= sigs
    print("messages=%d spf_pass=%d dkim_pass=%d dmarc_pass=%d "
          "dual_signed=%d dual_pass=%d" % (n, spf, dk, dm, dual, dual_ok))
    return 0 if n and spf == dk == dm == n and dual_ok == dual else 1


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "verdicts":
        return verdicts(sys.argv[2:])
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--domains", type=int, default=20)
    p.add_argument("--pool", type=int, default=400)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--users", type=int, default=100)
    return make_world(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
