"""TLS private keys out of the smtp engine (issue 7, item 4) and the TLS
checks of item 8, seen from outside:

- with an RSA-2048 and an ECDSA P-256 certificate, listeners on STARTTLS,
  tls-require and smtps handshake with TLS 1.2 and TLS 1.3 and take mail;
- after those handshakes no byte of the key (PEM text, DER, the private
  exponent and primes or the EC scalar, big- and little-endian) is in the
  engine's memory, read through /proc/PID/mem; the same search finds the
  key in the key process, so the search itself works;
- a certificate chain over 16 KiB loads and handshakes;
- a SIGHUP with a new certificate: new handshakes see it, an open session
  goes on, and the engine still holds no key;
- TLS 1.2 takes forward-secret AEAD suites only;
- a missing certificate or key, a swapped pair and a garbage PEM fail
  `tsamba-smtpd -n` and `tsambactl check` with file:line, and the daemon
  does not start."""

import base64
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile

import pytest

from helpers import SENDER, make_message, tls_context, wait_copy
from sandbox import (TOP, free_port, proc_root, proc_uids, socket_inodes,
                     tcp_listening, wait_for)

pytestmark = pytest.mark.root

SMTPD = os.path.join(TOP, "smtpd", "tsamba-smtpd")
CTL = os.path.join(TOP, "ctl", "tsambactl")
VERSIONS = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
# A TLS 1.2 suite without forward secrecy or AEAD, per certificate kind.
LEGACY = {"rsa": "AES128-SHA", "ec": "ECDHE-ECDSA-AES128-SHA"}


# ------------------------------------------------------------ key material

def make_pki(cert, key, kind, cn="keys.test", days=30):
    newkey = ["rsa:2048"] if kind == "rsa" else \
        ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    subprocess.run(["openssl", "req", "-x509", "-newkey"] + newkey +
                   ["-nodes", "-subj", "/CN=" + cn, "-days", str(days),
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)


def key_numbers(key):
    """{name: big-endian bytes} of the secret numbers of a key file, as
    `openssl pkey -text` prints them."""
    text = subprocess.run(["openssl", "pkey", "-in", key, "-text",
                           "-noout"], check=True, capture_output=True,
                          text=True).stdout
    numbers, name, digits = {}, None, ""
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9]+):\s*$", line)
        if m:
            if name:
                numbers[name] = bytes.fromhex(digits)
            name, digits = m.group(1), ""
        elif name and re.match(r"^\s+[0-9a-f:]+$", line):
            digits += line.strip().replace(":", "")
        elif name:
            numbers[name] = bytes.fromhex(digits)
            name = None
    if name:
        numbers[name] = bytes.fromhex(digits)
    wanted = ("privateExponent", "prime1", "prime2", "priv")
    out = {}
    for k in wanted:
        if k in numbers:
            v = numbers[k].lstrip(b"\0")
            out[k] = v
    assert out, text
    return out


def needles(key):
    """{label: bytes} that must not be in the memory of a process without
    the key."""
    with open(key, "rb") as f:
        pem = f.read()
    body = [l for l in pem.splitlines() if l and not l.startswith(b"-")]
    der = base64.b64decode(b"".join(body))
    found = {"PEM file": pem, "DER": der}
    # Every full base64 line of the PEM body on its own.
    for i, line in enumerate(body[:-1]):
        found["PEM line %d" % i] = line
    for name, be in key_numbers(key).items():
        found[name + " big-endian"] = be
        found[name + " little-endian"] = be[::-1]
    return found


def memory(pid):
    """The readable memory of pid, one bytes object per mapping."""
    regions = []
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            name = fields[5] if len(fields) > 5 else ""
            if "r" not in fields[1] or name in ("[vvar]", "[vsyscall]"):
                continue
            try:
                mem.seek(start)
                regions.append(mem.read(end - start))
            except (OSError, OverflowError, ValueError):
                continue
    return regions


def present(pid, key):
    """Labels of the key's needles found in pid's memory."""
    regions = memory(pid)
    assert sum(len(r) for r in regions) > 100000, "memory not readable"
    return sorted(label for label, n in needles(key).items()
                  if any(n in r for r in regions))


# ---------------------------------------------------------------- processes

def engine_and_keys(sb):
    """(engine pid, key process pid): of the parent's two children, the
    engine is the one holding the listening TCP sockets."""
    top = sb.pid("smtpd")
    kids = [p for p in sb.tree("smtpd") if p != top]
    assert len(kids) == 2, kids
    listening = tcp_listening()
    engine = [p for p in kids if socket_inodes(p) & listening]
    assert len(engine) == 1, (kids, engine)
    other = [p for p in kids if p != engine[0]]
    return engine[0], other[0]


# ------------------------------------------------------------------ clients

def context(version):
    ctx = tls_context()
    ctx.minimum_version = version
    ctx.maximum_version = version
    return ctx


def implicit(port, version):
    """Handshake on an smtps port: (TLS version, cipher, peer cert)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context(version).wrap_socket(raw) as tls:
            f = tls.makefile("rb")
            assert f.readline().startswith(b"220")
            return (tls.version(), tls.cipher()[0],
                    tls.getpeercert(binary_form=True))


def starttls(port, version):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo("client.test")
        code, _ = s.starttls(context=context(version))
        assert code == 220
        s.ehlo("client.test")
        return s.sock.version(), s.sock.cipher()[0]


def send_over(sb, version, rcpt):
    msgid, msg = make_message([rcpt], "over " + str(version))
    with smtplib.SMTP("127.0.0.1", sb.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        s.starttls(context=context(version))
        s.ehlo("client.test")
        assert s.sock.version() == VERSION_NAME[version]
        s.sendmail(SENDER, [rcpt], msg)
    wait_copy(sb, rcpt, msgid)


VERSION_NAME = {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                ssl.TLSVersion.TLSv1_3: "TLSv1.3"}


def s_client(port, *args, starttls_smtp=False):
    """openssl s_client over TLS 1.2: (handshake done, its output)."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-tls1_2"] + list(args)
    if starttls_smtp:
        argv += ["-starttls", "smtp"]
    p = subprocess.run(argv, input=b"", capture_output=True, timeout=30)
    out = (p.stdout + p.stderr).decode(errors="replace")
    m = re.search(r"Cipher is (\S+)", out)
    return (m is not None and m.group(1) != "(NONE)"), out


# ----------------------------------------------------------------- fixtures

def big_chain(d):
    """A leaf certificate and key, and a chain file over 16 KiB: the leaf
    then enough further certificates."""
    leaf, key = os.path.join(d, "big.crt"), os.path.join(d, "big.key")
    make_pki(leaf, key, "rsa", cn="big.test")
    chain = os.path.join(d, "big-chain.pem")
    with open(leaf, "rb") as f:
        data = f.read()
    i = 0
    while len(data) <= 20 * 1024:
        c, k = os.path.join(d, "x%d.crt" % i), os.path.join(d, "x%d.key" % i)
        make_pki(c, k, "rsa", cn="filler%d.test" % i)
        with open(c, "rb") as f:
            data += f.read()
        i += 1
    with open(chain, "wb") as f:
        f.write(data)
    os.chmod(chain, 0o644)
    return chain, key, leaf


@pytest.fixture(scope="module")
def extra_dir():
    d = tempfile.mkdtemp(prefix="tsamba-test_tls_keys-files-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module", params=["rsa", "ec"])
def ksb(request, sandbox_factory, extra_dir):
    """A sandbox with listeners on STARTTLS, tls-require and smtps and a
    certificate of the kind of the parameter; the RSA one also has a pki
    with a chain over 16 KiB on one more smtps listener."""
    kind = request.param
    extra, big = [], None
    if kind == "rsa":
        big = big_chain(extra_dir)
        port = free_port()
        extra = ['pki big cert "%s" key "%s"' % (big[0], big[1]),
                 "listen on 127.0.0.1 port %d smtps pki big" % port]
    # One listener with its own cipher list, taking one legacy suite.
    legacy = LEGACY[kind]
    own = free_port()
    extra.append('listen on 127.0.0.1 port %d smtps pki demo ciphers '
                 '"%s:ECDHE+AESGCM"' % (own, legacy))

    def ec_pki(sb):
        make_pki(sb.cert, sb.key, "ec")

    sb = sandbox_factory("keys-" + kind, submission=True, extra=extra,
                         limits={"sessions-per-ip": 100},
                         before_start=ec_pki if kind == "ec" else None)
    sb.kind = kind
    sb.own_ciphers_port = own
    sb.big = (port, big[2]) if big else None
    return sb


def every_listener(sb):
    """Handshakes on 25 (STARTTLS), 587 (tls-require) and 465 (smtps)
    with TLS 1.2 and 1.3."""
    seen = []
    for v in VERSIONS:
        seen.append(starttls(sb.smtp_port, v))
        seen.append(starttls(sb.ports["submission"], v))
        seen.append(implicit(sb.ports["smtps"], v)[:2])
    return seen


# -------------------------------------------------------------------- tests

def test_handshakes_and_mail(ksb):
    seen = every_listener(ksb)
    assert [s[0] for s in seen] == ["TLSv1.2"] * 3 + ["TLSv1.3"] * 3
    # The certificate's own algorithm signed the TLS 1.2 key exchange.
    algo = "ECDHE-RSA-" if ksb.kind == "rsa" else "ECDHE-ECDSA-"
    assert all(c.startswith(algo) for v, c in seen if v == "TLSv1.2"), seen
    for v in VERSIONS:
        send_over(ksb, v, ksb.address(ksb.users[1]))


def test_no_key_in_engine(ksb):
    every_listener(ksb)
    engine, keys = engine_and_keys(ksb)
    # The engine is the unprivileged process that runs the sessions.
    assert 0 not in proc_uids(engine)
    assert present(engine, ksb.key) == []
    # The parent reads no key either: it only opens the files.
    assert present(ksb.pid("smtpd"), ksb.key) == []
    # The key process: unprivileged in the empty chroot, and not
    # dumpable, so the kernel gives its /proc files to root, not to the
    # uid it shares with the engine.
    assert 0 not in proc_uids(keys) and proc_root(keys) == ksb.chroot
    assert os.stat("/proc/%d/mem" % keys).st_uid == 0
    # The search works: the key process does hold the key.
    held = present(keys, ksb.key)
    secret = "privateExponent" if ksb.kind == "rsa" else "priv"
    assert secret + " little-endian" in held or \
        secret + " big-endian" in held, held


def test_big_chain_loads(ksb):
    if ksb.big is None:
        pytest.skip("the chain listener is on the RSA sandbox")
    port, leaf = ksb.big
    with open(leaf) as f:
        want = ssl.PEM_cert_to_DER_cert(f.read())
    for v in VERSIONS:
        version, cipher, cert = implicit(port, v)
        assert version == VERSION_NAME[v] and cert == want


def test_tls12_forward_secret_aead_only(ksb):
    auth = "RSA" if ksb.kind == "rsa" else "ECDSA"
    good = "ECDHE-%s-AES128-GCM-SHA256" % auth
    for port, st in ((ksb.ports["smtps"], False), (ksb.smtp_port, True)):
        ok, out = s_client(port, "-cipher", good, starttls_smtp=st)
        assert ok and good in out, out
        for bad in ("AES128-SHA", "AES256-GCM-SHA384", "AES128-CCM8",
                    "ECDHE-%s-AES128-SHA" % auth,
                    "ECDHE-%s-AES256-SHA384" % auth):
            ok, out = s_client(port, "-cipher", bad, starttls_smtp=st)
            assert not ok, (bad, out)


def test_listener_cipher_list(ksb):
    """A listener's own "ciphers" list applies to it alone."""
    legacy = LEGACY[ksb.kind]
    ok, out = s_client(ksb.own_ciphers_port, "-cipher", legacy)
    assert ok and legacy in out, out
    ok, out = s_client(ksb.ports["smtps"], "-cipher", legacy)
    assert not ok, out


def test_sighup_new_certificate(ksb):
    port = ksb.ports["smtps"]
    before = implicit(port, ssl.TLSVersion.TLSv1_3)[2]
    # A session open across the reload.
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    tls = context(ssl.TLSVersion.TLSv1_2).wrap_socket(raw)
    f = tls.makefile("rb")
    assert f.readline().startswith(b"220")

    newcert, newkey = ksb.cert + ".new", ksb.key + ".new"
    make_pki(newcert, newkey, ksb.kind, cn="reloaded.test")
    os.rename(newkey, ksb.key)
    os.rename(newcert, ksb.cert)
    os.kill(ksb.pid("smtpd"), signal.SIGHUP)
    wait_for(lambda: implicit(port, ssl.TLSVersion.TLSv1_3)[2] != before,
             15, what="the new certificate after SIGHUP")
    with open(ksb.cert) as c:
        want = ssl.PEM_cert_to_DER_cert(c.read())
    for v in VERSIONS:
        assert implicit(port, v)[2] == want
        assert starttls(ksb.smtp_port, v)[0] == VERSION_NAME[v]

    tls.sendall(b"EHLO client.test\r\n")
    while f.readline()[3:4] != b" ":
        pass
    tls.sendall(b"NOOP\r\n")
    assert f.readline().startswith(b"250")
    tls.close()

    engine, keys = engine_and_keys(ksb)
    assert present(engine, ksb.key) == []
    assert present(keys, ksb.key) != []


# ------------------------------------------------------------- pki checks

def check_conf(d, cert, key):
    port = free_port()
    conf = os.path.join(d, "tsamba.conf")
    with open(conf, "w") as f:
        f.write('# pki check\nhostname "keys.test"\n'
                'rundir "%s"\nchroot "%s"\n'
                'pki mail cert "%s" key "%s"\n'
                "listen on 127.0.0.1 port %d tls pki mail\n" %
                (d, d, cert, key, port))
    return conf


BROKEN = ("missing cert", "missing key", "swapped pair", "garbage PEM",
          "foreign key")


@pytest.fixture(scope="module")
def pkidir():
    d = tempfile.mkdtemp(prefix="tsamba-test_tls_keys-pki-", dir="/tmp")
    make_pki(os.path.join(d, "a.crt"), os.path.join(d, "a.key"), "rsa")
    make_pki(os.path.join(d, "b.crt"), os.path.join(d, "b.key"), "ec")
    with open(os.path.join(d, "garbage.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
                "-----END CERTIFICATE-----\n")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def broken_pair(d, what):
    a_crt, a_key = os.path.join(d, "a.crt"), os.path.join(d, "a.key")
    return {
        "missing cert": (os.path.join(d, "nothere.crt"), a_key),
        "missing key": (a_crt, os.path.join(d, "nothere.key")),
        "swapped pair": (a_key, a_crt),
        "garbage PEM": (os.path.join(d, "garbage.pem"), a_key),
        "foreign key": (a_crt, os.path.join(d, "b.key")),
    }[what]


def test_good_pki_passes(pkidir):
    conf = check_conf(pkidir, os.path.join(pkidir, "a.crt"),
                      os.path.join(pkidir, "a.key"))
    p = subprocess.run([SMTPD, "-n", "-f", conf], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0 and "configuration OK" in p.stdout, p
    p = subprocess.run([CTL, "-f", conf, "check"], capture_output=True,
                       text=True, timeout=30)
    assert "ok   pki mail" in p.stdout, p


@pytest.mark.parametrize("what", BROKEN)
def test_broken_pki_refused(pkidir, what):
    cert, key = broken_pair(pkidir, what)
    conf = check_conf(pkidir, cert, key)
    where = "%s:5: pki mail: " % conf
    p = subprocess.run([SMTPD, "-n", "-f", conf], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1 and "configuration OK" not in p.stdout, p
    assert where in p.stderr, p.stderr
    p = subprocess.run([CTL, "-f", conf, "check"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0 and ("FAIL " + where) in p.stdout, p
    # The daemon itself does not start (in the foreground: -d).
    p = subprocess.run([SMTPD, "-d", "-f", conf], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0 and where in p.stderr, p.stderr


def test_bad_cipher_list_refused(pkidir):
    conf = check_conf(pkidir, os.path.join(pkidir, "a.crt"),
                      os.path.join(pkidir, "a.key"))
    with open(conf, "a") as f:
        f.write('tls ciphers "NO-SUCH-SUITE"\n')
    p = subprocess.run([SMTPD, "-n", "-f", conf], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1 and "%s:7: tls ciphers" % conf in p.stderr, p
