"""tsambactl health against one running sandbox (all four daemons, a
plain+STARTTLS listener, a submission and an smtps one) whose host and
domains are served by dnsmasq: a good zone gives exit 0 and every check
OK; then each case breaks one thing an admin gets wrong (a daemon
stopped, a certificate for another name or about to expire, MX
elsewhere, a PTR that disagrees, SPF not allowing the host, the DKIM
record of another key, no DMARC record, an unreadable table, an old
deferred message) and checks the one WARN/FAIL line it gives and the
exit status, then puts it right for the next case.  The human output
and -j (parsed with json.loads) are both read."""

import base64
import json
import os
import re
import shutil
import signal
import smtplib
import ssl
import subprocess
import tempfile
import types

import pytest

from dnsfix import DnsServer
from sandbox import Sandbox, TOP, free_port, wait_for

CTL = os.path.join(TOP, "ctl", "tsambactl")

HOST = "mail.health.test"
HOST4 = "192.0.2.25"
HOST6 = "2001:db8::25"
DOMAIN = "health.test"
DOMAIN2 = "relay-health.test"
SELECTOR = "s1"

pytestmark = [
    pytest.mark.skipif(not os.access(CTL, os.X_OK),
                       reason="ctl/tsambactl is not built"),
    pytest.mark.skipif(shutil.which("dnsmasq") is None and
                       not os.path.exists("/usr/sbin/dnsmasq"),
                       reason="dnsmasq is not installed"),
]


def dkim_key(path, alg="ed25519"):
    """A new key in path; its p= (RFC 8463: the raw 32 public bytes of
    an Ed25519 key; RFC 6376: the DER SubjectPublicKeyInfo of an RSA
    one, long enough to be served as two TXT strings)."""
    opts = ["-pkeyopt", "rsa_keygen_bits:2048"] if alg == "rsa" else []
    subprocess.run(["openssl", "genpkey", "-algorithm", alg, "-out",
                    path] + opts, check=True, capture_output=True)
    os.chmod(path, 0o600)
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return base64.b64encode(der[-32:] if alg == "ed25519" else
                            der).decode()


def good_zone(keys):
    """{name: [(kind, value)]}: the records of a well set-up host."""
    z = {
        "host": [(HOST, HOST4), (HOST, HOST6)],
        "mx": [(DOMAIN, HOST), (DOMAIN2, HOST),
               ("remote-health.test", "mx.remote-health.test")],
        "hostonly": [("mx.remote-health.test", "127.0.0.1")],
        "txt": [
            (DOMAIN, "v=spf1 a:%s mx -all" % HOST),
            (DOMAIN2, "v=spf1 include:_spf.%s ~all" % DOMAIN),
            ("_spf." + DOMAIN, "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 "
             "-all"),
            ("_dmarc." + DOMAIN, "v=DMARC1; p=reject; "
             "rua=mailto:postmaster@" + DOMAIN),
            ("_dmarc." + DOMAIN2, "v=DMARC1; p=none"),
        ],
        "ptr": [],
    }
    for d, alg in ((DOMAIN, "ed25519"), (DOMAIN2, "rsa")):
        z["txt"].append(("%s._domainkey.%s" % (SELECTOR, d),
                         "v=DKIM1; k=%s; p=%s" % (alg, keys[d])))
    return z


class Zone:
    """dnsmasq restarted on one port with the records of a zone dict."""

    def __init__(self, dir):
        self.dir = dir
        self.port = None
        self.dns = None

    def serve(self, zone):
        self.stop()
        dns = DnsServer(self.dir, local=("test", "in-addr.arpa",
                                         "ip6.arpa"), port=self.port)
        for name, addr in zone["host"]:
            dns.host(name, addr)
        for name, addr in zone["hostonly"]:
            dns.host(name, addr)
        for domain, host in zone["mx"]:
            dns.mx(domain, host, 10)
        for name, text in zone["txt"]:
            dns.txt(name, text)
        for name, addr in zone.get("address", []):
            dns.args.append("--address=/%s/%s" % (name, addr))
        for rname, target in zone["ptr"]:
            dns.args.append("--ptr-record=%s,%s" % (rname, target))
        dns.start()
        self.port = dns.port
        self.dns = dns

    def stop(self):
        if self.dns is not None:
            self.dns.stop()
            self.dns = None


@pytest.fixture(scope="module")
def env():
    d = tempfile.mkdtemp(prefix="tsamba-health-", dir="/tmp")
    os.chmod(d, 0o755)
    keydir = os.path.join(d, "dkim")
    os.makedirs(keydir)
    keys, lines = {}, []
    for dom, alg in ((DOMAIN, "ed25519"), (DOMAIN2, "rsa")):
        path = os.path.join(keydir, dom + ".key")
        keys[dom] = dkim_key(path, alg)
        lines.append('dkim domain "%s" selector "%s" key "%s" %s' %
                     (dom, SELECTOR, path, alg))
    zone = Zone(os.path.join(d, "dns"))
    zone.serve(good_zone(keys))
    sb = Sandbox(os.path.join(d, "sb"), hostname=HOST, domain=DOMAIN,
                 catchall_domain=DOMAIN2, submission=True,
                 extra=['mta resolver "127.0.0.1@%d"' % zone.port,
                        # deliveries to remote-health.test are refused
                        "mta port %d" % free_port(),
                        "queue delay-warn 2s"] + lines)
    try:
        sb.start()
        yield {"sb": sb, "zone": zone, "keys": keys, "dir": d}
    finally:
        sb.stop()
        zone.stop()
        shutil.rmtree(d, ignore_errors=True)


def health(sb, *args):
    """(exit status, {name: (STATUS, detail)}, output) of a run."""
    r = subprocess.run([CTL, "-f", sb.conf, "health"] + list(args),
                       capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    checks = {}
    for line in r.stdout.splitlines():
        status, _, rest = line.partition(" ")
        name, _, detail = rest.strip().partition(": ")
        assert status in ("OK", "WARN", "FAIL"), line
        checks[name] = (status, detail)
    return r.returncode, checks, r.stdout + r.stderr


def not_ok(checks):
    return {k: v for k, v in checks.items() if v[0] != "OK"}


def only_broken(sb, name, status, words, rc):
    """The run gives exactly one check that is not OK: name, with
    status and each of words in its detail, and exit status rc."""
    code, checks, out = health(sb)
    bad = not_ok(checks)
    assert list(bad) == [name], out
    assert bad[name][0] == status, out
    for w in words:
        assert w in bad[name][1], out
    assert code == rc, out
    return bad[name][1]


# ------------------------------------------------------------- the good


def test_all_ok(env):
    sb = env["sb"]
    code, checks, out = health(sb)
    assert code == 0, out
    assert not not_ok(checks), out
    names = set(checks)
    for n in ("daemon authd", "daemon queue", "daemon lmtpd",
              "daemon smtpd", "table domains", "table users",
              "table aliases", "space spool", "space mailroot", "queue",
              "dns host " + HOST):
        assert n in names, out
    for port in (sb.ports["smtp"], sb.ports["submission"],
                 sb.ports["smtps"]):
        assert "listen 127.0.0.1:%d" % port in names, out
        assert "tls 127.0.0.1:%d" % port in names, out
    for d in (DOMAIN, DOMAIN2):
        for kind in ("mx", "spf", "dmarc"):
            assert "dns %s %s" % (kind, d) in names, out
        assert "dns dkim %s._domainkey.%s" % (SELECTOR, d) in names, out
    assert HOST4 in checks["dns host " + HOST][1], out
    assert HOST6 in checks["dns host " + HOST][1], out
    assert checks["dns spf " + DOMAIN2][1].startswith("pass"), out
    assert "p=reject" in checks["dns dmarc " + DOMAIN][1], out
    assert checks["dns dkim %s._domainkey.%s" % (SELECTOR, DOMAIN2)][1] \
        .startswith("k=rsa, matches"), out


def test_json(env):
    sb = env["sb"]
    r = subprocess.run([CTL, "-f", sb.conf, "health", "-j"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["summary"]["status"] == "ok"
    assert doc["summary"]["fail"] == 0 and doc["summary"]["warn"] == 0
    assert doc["summary"]["ok"] == len(doc["checks"]) > 20
    for c in doc["checks"]:
        assert set(c) == {"name", "status", "detail"}, c
        assert c["status"] == "ok", c
    # the same checks as the lines
    _, checks, _ = health(sb)
    assert [c["name"] for c in doc["checks"]] == list(checks)


def test_bad_config(tmp_path):
    """A tsamba.conf that does not parse is one FAIL line, exit 2 (not
    the 1 of other commands, which Nagios would take for a warning)."""
    conf = tmp_path / "tsamba.conf"
    conf.write_text("hostname\n")
    r = subprocess.run([CTL, "-f", str(conf), "health"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stdout == "FAIL config: %s does not parse (tsambactl " \
        "check)\n" % conf
    assert "tsamba.conf:1:" in r.stderr


def test_domain_argument(env):
    """Domains on the command line limit the DNS checks to them."""
    code, checks, out = health(env["sb"], DOMAIN2)
    assert code == 0, out
    assert "dns mx " + DOMAIN2 in checks and "dns mx " + DOMAIN not in \
        checks, out


# ------------------------------------------------------------- daemons


@pytest.mark.parametrize("daemon,broken,words", [
    ("lmtpd", {"daemon lmtpd"}, ["lmtp.sock", "connect"]),
    ("authd", {"daemon authd"}, ["authd.control.sock"]),
    ("queue", {"daemon queue", "queue"}, ["queue.control.sock"]),
])
def test_daemon_stopped(env, daemon, broken, words):
    sb = env["sb"]
    sb.kill(daemon, signal.SIGTERM)
    try:
        code, checks, out = health(sb)
        bad = not_ok(checks)
        assert set(bad) == broken, out
        for name in broken:
            assert bad[name][0] == "FAIL", out
            for w in words:
                assert w in bad[name][1], out
        assert code == 2, out
    finally:
        sb.restart(daemon)
    code, checks, out = health(sb)
    assert code == 0, out


# ------------------------------------------------------------- certificates


def served_cert(sb):
    """DER of the certificate the STARTTLS listener shows now."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", sb.ports["smtp"], timeout=10) as s:
        s.starttls(context=ctx)
        return s.sock.getpeercert(binary_form=True)


def install_cert(sb, cn, days):
    """A new key and certificate for cn over the sandbox's pki, smtpd
    reloaded (SIGHUP) until every listener shows it."""
    d = tempfile.mkdtemp(dir=sb.dir)
    key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=" + cn, "-days", str(days), "-keyout",
                    key, "-out", crt], check=True, capture_output=True)
    der = subprocess.run(["openssl", "x509", "-in", crt, "-outform",
                          "DER"], check=True, capture_output=True).stdout
    os.chmod(key, 0o600)
    shutil.copy(key, sb.key)
    shutil.copy(crt, sb.cert)
    shutil.rmtree(d)
    os.kill(sb.pid("smtpd"), signal.SIGHUP)
    wait_for(lambda: served_cert(sb) == der, 20, what="the new certificate")


@pytest.fixture
def cert_restore(env):
    sb = env["sb"]
    saved = {}
    for p in (sb.cert, sb.key):
        with open(p, "rb") as f:
            saved[p] = f.read()
    yield sb
    for p, data in saved.items():
        with open(p, "wb") as f:
            f.write(data)
    os.kill(sb.pid("smtpd"), signal.SIGHUP)
    with open(sb.cert, "rb") as f:
        pem = f.read().decode()
    der = ssl.PEM_cert_to_DER_cert(pem)
    wait_for(lambda: served_cert(sb) == der, 20, what="the old certificate")


def tls_lines(sb, checks):
    return {k: v for k, v in checks.items() if k.startswith("tls ")}


@pytest.mark.parametrize("cn,days,status,words,rc", [
    ("other.test", 365, "FAIL", ["other.test", "does not name " + HOST],
     2),
    (HOST, 10, "WARN", ["expires in "], 1),
    (HOST, 3, "FAIL", ["expires in "], 2),
])
def test_certificate(cert_restore, cn, days, status, words, rc):
    sb = cert_restore
    install_cert(sb, cn, days)
    code, checks, out = health(sb)
    bad = not_ok(checks)
    # every TLS listener shows the same pki, and only they complain
    assert set(bad) == set(tls_lines(sb, checks)), out
    assert len(bad) == 3, out
    for name, (st, detail) in bad.items():
        assert st == status, out
        for w in words:
            assert w in detail, out
        m = re.search(r"expires in (\d+) days", detail)
        if cn == HOST:
            # days - 1 once the seconds since openssl signed are gone
            assert m and int(m.group(1)) in (days - 1, days), out
    assert code == rc, out


# ------------------------------------------------------------- DNS


@pytest.fixture
def zone(env):
    """A copy of the good zone to break; the good one is served again
    afterwards."""
    z = good_zone(env["keys"])
    yield z
    env["zone"].serve(good_zone(env["keys"]))


def test_mx_elsewhere(env, zone):
    zone["mx"] = [(DOMAIN, "mx.elsewhere.test")] + zone["mx"][1:]
    env["zone"].serve(zone)
    only_broken(env["sb"], "dns mx " + DOMAIN, "FAIL",
                ["mx.elsewhere.test", "not " + HOST], 2)


def test_ptr_mismatch(env, zone):
    # the host's A record without its PTR; the address's PTR names
    # another host
    zone["host"] = [("other-host.health.test", "192.0.2.26")]
    zone["address"] = [(HOST, "192.0.2.26")]
    env["zone"].serve(zone)
    only_broken(env["sb"], "dns host " + HOST, "FAIL",
                ["PTR of 192.0.2.26 is other-host.health.test"], 2)


def test_spf_not_allowing(env, zone):
    zone["txt"] = [t for t in zone["txt"] if t[0] != "_spf." + DOMAIN]
    zone["txt"].append(("_spf." + DOMAIN, "v=spf1 ip4:198.51.100.0/24 "
                        "-all"))
    env["zone"].serve(zone)
    # the include does not match; the domain's own ~all decides
    detail = only_broken(env["sb"], "dns spf " + DOMAIN2, "WARN",
                         ["softfail", "~all"], 1)
    assert detail.startswith("softfail for "), detail
    zone["txt"] = [t for t in zone["txt"] if t[0] != DOMAIN]
    zone["txt"].append((DOMAIN, "v=spf1 ip4:198.51.100.7 -all"))
    env["zone"].serve(zone)
    code, checks, out = health(env["sb"])
    assert checks["dns spf " + DOMAIN][0] == "FAIL", out
    assert checks["dns spf " + DOMAIN][1].startswith("fail for "), out
    assert code == 2, out


def test_spf_redirect(env, zone):
    """redirect= is followed when no term matches; what it finds
    decides."""
    zone["txt"] = [t for t in zone["txt"] if t[0] != DOMAIN2]
    zone["txt"].append((DOMAIN2, "v=spf1 ?ip4:10.0.0.0/8 "
                        "redirect=_spf.%s" % DOMAIN))
    env["zone"].serve(zone)
    code, checks, out = health(env["sb"])
    assert code == 0, out
    assert "ip6:2001:db8::/32" in checks["dns spf " + DOMAIN2][1] or \
        "ip4:192.0.2.0/24" in checks["dns spf " + DOMAIN2][1], out
    zone["txt"] = [t for t in zone["txt"] if t[0] != "_spf." + DOMAIN]
    zone["txt"].append(("_spf." + DOMAIN, "v=spf1 -all"))
    env["zone"].serve(zone)
    only_broken(env["sb"], "dns spf " + DOMAIN2, "FAIL",
                ["fail for ", '"-all" in _spf.' + DOMAIN], 2)


def test_dkim_other_key(env, zone, tmp_path):
    other = dkim_key(str(tmp_path / "other.key"))
    name = "%s._domainkey.%s" % (SELECTOR, DOMAIN)
    zone["txt"] = [t for t in zone["txt"] if t[0] != name]
    zone["txt"].append((name, "v=DKIM1; k=ed25519; p=" + other))
    env["zone"].serve(zone)
    only_broken(env["sb"], "dns dkim " + name, "FAIL",
                ["published key is not the key in"], 2)


def test_no_dkim_record(env, zone):
    name = "%s._domainkey.%s" % (SELECTOR, DOMAIN2)
    zone["txt"] = [t for t in zone["txt"] if t[0] != name]
    env["zone"].serve(zone)
    only_broken(env["sb"], "dns dkim " + name, "FAIL", [name], 2)


def test_no_dmarc(env, zone):
    zone["txt"] = [t for t in zone["txt"] if t[0] != "_dmarc." + DOMAIN]
    env["zone"].serve(zone)
    only_broken(env["sb"], "dns dmarc " + DOMAIN, "WARN",
                ["no DMARC record at _dmarc." + DOMAIN], 1)
    r = subprocess.run([CTL, "-f", env["sb"].conf, "health", "-j"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout
    doc = json.loads(r.stdout)
    assert doc["summary"]["status"] == "warn" and \
        doc["summary"]["warn"] == 1 and doc["summary"]["fail"] == 0, doc
    warned = [c for c in doc["checks"] if c["status"] != "ok"]
    assert warned == [{"name": "dns dmarc " + DOMAIN, "status": "warn",
                       "detail": "no DMARC record at _dmarc." + DOMAIN}]


def test_bad_dmarc(env, zone):
    zone["txt"] = [t for t in zone["txt"] if t[0] != "_dmarc." + DOMAIN2]
    zone["txt"].append(("_dmarc." + DOMAIN2, "v=DMARC1; p=bounce"))
    env["zone"].serve(zone)
    only_broken(env["sb"], "dns dmarc " + DOMAIN2, "FAIL",
                ["p=bounce is not none"], 2)


# ------------------------------------------------------------- storage


def test_table_unreadable(env):
    sb = env["sb"]
    users = os.path.join(sb.tabledir, "users")
    os.rename(users, users + ".away")
    try:
        only_broken(sb, "table users", "FAIL", [users], 2)
    finally:
        os.rename(users + ".away", users)
    code, _, out = health(sb)
    assert code == 0, out


# ------------------------------------------------------------- queue


def test_queue_deferred_old(env):
    """A message to a domain whose MX refuses connections stays deferred;
    once older than delay-warn (2s here) the queue check warns."""
    sb = env["sb"]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", sb.ports["submission"],
                      timeout=30) as s:
        s.starttls(context=ctx)
        s.login(sb.demo_user, sb.password)
        s.sendmail(sb.demo_user, ["someone@remote-health.test"],
                   "Subject: deferred\r\n\r\nbody\r\n")

    def warned():
        code, checks, out = health(sb)
        st, detail = checks["queue"]
        return (code, detail, out) if st == "WARN" and \
            "1 deferred" in detail else None
    try:
        code, detail, out = wait_for(warned, 60, interval=0.5,
                                     what="the queue check to warn")
        assert "1 deferred" in detail and "older than queue delay-warn" \
            in detail, out
        assert not_ok(health(sb)[1]).keys() == {"queue"}, out
        assert code == 1, out
    finally:
        r = subprocess.run([CTL, "-f", sb.conf, "queue", "list"],
                           capture_output=True, text=True)
        for line in r.stdout.splitlines()[1:]:
            subprocess.run([CTL, "-f", sb.conf, "queue", "del", "--silent",
                            line.split()[0]], capture_output=True)
    wait_for(lambda: health(sb)[0] == 0, 20, what="an empty queue")


# ------------------------------------------------------------- database


@pytest.fixture
def mariadb(env):
    """A private MariaDB (regress/integration/mariadb.py) holding the
    sandbox's domains and users; skipped when the packages are absent."""
    import mariadb as fixture_mod	# regress/integration/mariadb.py
    if not fixture_mod.available():
        pytest.skip("mariadb-server is not installed")
    tmp = tempfile.mkdtemp(prefix="tsamba-health-db-", dir="/tmp")
    srv = fixture_mod.MariaDB(tmp)
    try:
        srv.start()
        srv.load_schema()
        for d in (DOMAIN, DOMAIN2):
            srv.add_domain(d)
        srv.add_user(env["sb"].demo_user, "{PLAIN}x")
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_database_down(env, mariadb):
    """The same installation with its tables in MariaDB (a copy of
    tsamba.conf whose later table lines win): all OK while the server
    runs; once it is stopped the three table checks fail, nothing else."""
    sb = env["sb"]
    myconf = os.path.join(env["dir"], "mysql.conf")
    with open(myconf, "w") as f:
        f.write(mariadb.conf_text(tcp=False))
    os.chmod(myconf, 0o600)
    conf = os.path.join(env["dir"], "tsamba-mysql.conf")
    with open(sb.conf) as src, open(conf, "w") as f:
        f.write(src.read())
        for t in ("domains", "users", "aliases"):
            f.write('table %s mysql "%s"\n' % (t, myconf))

    my = types.SimpleNamespace(conf=conf)
    code, checks, out = health(my)
    assert code == 0, out
    assert checks["table domains"] == (
        "OK", "mysql %s: 2 domains" % myconf), out
    mariadb.stop()
    code, checks, out = health(my)
    bad = not_ok(checks)
    assert set(bad) == {"table domains", "table users",
                        "table aliases"}, out
    for st, detail in bad.values():
        assert st == "FAIL" and "cannot connect to the database" in \
            detail, out
    assert code == 2, out


# ------------------------------------------------------------- free space


def mounted_tmpfs(path, size):
    """A tmpfs of size at path: True, or False where root may not mount
    (a container without CAP_SYS_ADMIN)."""
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size,
                           "tsamba-health", path],
                          stderr=subprocess.DEVNULL).returncode == 0


def test_space_low(env):
    """A spool with less than 10% free warns, with less than 5% fails (a
    copy of tsamba.conf names a small tmpfs as the spool; the daemons
    keep theirs)."""
    sb = env["sb"]
    mnt = os.path.join(env["dir"], "smallfs")
    os.makedirs(mnt, exist_ok=True)
    if not mounted_tmpfs(mnt, "1m"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        conf = os.path.join(env["dir"], "tsamba-smallfs.conf")
        with open(sb.conf) as src, open(conf, "w") as f:
            f.write(src.read() + 'spool "%s"\n' % mnt)
        my = types.SimpleNamespace(conf=conf)
        st = os.statvfs(mnt)
        filler = os.path.join(mnt, "filler")
        for free_pct, status, rc in ((7, "WARN", 1), (2, "FAIL", 2)):
            keep = st.f_blocks * free_pct // 100
            with open(filler, "wb") as f:
                f.write(b"x" * ((st.f_blocks - keep) * st.f_frsize))
            detail = only_broken(my, "space spool", status,
                                 [mnt, "under %d%%" % (10 if rc == 1
                                                        else 5)], rc)
            pct = int(re.search(r"free \((\d+)%\)", detail).group(1))
            assert abs(pct - free_pct) <= 1, detail
    finally:
        subprocess.run(["umount", mnt], check=True)


# ------------------------------------------------------------- tsamba-imapd


@pytest.fixture(scope="module")
def imap_sb(env):
    """A second sandbox of the same host and zone that also runs
    tsamba-imapd: IMAP with STARTTLS, imaps, POP3 with STLS, pop3s."""
    sb = Sandbox(os.path.join(env["dir"], "imap"), hostname=HOST,
                 domain=DOMAIN, catchall_domain=DOMAIN2, imap=True,
                 extra=['mta resolver "127.0.0.1@%d"' % env["zone"].port])
    try:
        sb.start()
        yield sb
    finally:
        sb.stop()


def imap_names(sb):
    """The checks of tsamba-imapd's listeners, with the word the
    greeting starts with."""
    names = {}
    for kind, greet in (("imap", "* OK"), ("imaps", "* OK"),
                        ("pop3", "+OK"), ("pop3s", "+OK")):
        where = "%s 127.0.0.1:%d" % (kind, sb.ports[kind])
        names["listen " + where] = greet
        names["tls " + where] = None
    return names


def test_imapd_ok(imap_sb):
    """Each IMAP and POP3 listener greets and shakes hands (STARTTLS,
    STLS, implicit TLS) with the certificate of the host, and imapd
    answers the hello on imapd.control.sock; -j says the same."""
    sb = imap_sb
    _, checks, out = health(sb)
    assert checks["daemon imapd"][0] == "OK", out
    assert "imapd.control.sock" in checks["daemon imapd"][1], out
    for name, greet in imap_names(sb).items():
        assert name in checks, out
        status, detail = checks[name]
        assert status == "OK", out
        if greet is None:
            assert "certificate for %s valid until" % HOST in detail, out
        else:
            assert detail.startswith('"' + greet), out
    r = subprocess.run([CTL, "-f", sb.conf, "health", "-j"],
                       capture_output=True, text=True, timeout=120)
    doc = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    for name in list(imap_names(sb)) + ["daemon imapd"]:
        assert doc[name]["status"] == "ok", r.stdout
        assert doc[name]["detail"] == checks[name][1], r.stdout


def test_imapd_stopped(imap_sb):
    """imapd stopped: its socket and every listener FAIL, exit 2; the
    SMTP side stays OK."""
    sb = imap_sb
    sb.kill("imapd", signal.SIGTERM)
    try:
        code, checks, out = health(sb)
        assert code == 2, out
        assert checks["daemon imapd"][0] == "FAIL", out
        assert "imapd.control.sock" in checks["daemon imapd"][1], out
        for name, greet in imap_names(sb).items():
            if greet is not None:
                assert checks[name][0] == "FAIL", out
                assert "connect" in checks[name][1], out
        assert checks["daemon smtpd"][0] == "OK", out
    finally:
        sb.restart("imapd")
    _, checks, out = health(sb)
    assert checks["daemon imapd"][0] == "OK", out
