"""The Debian package, as an admin gets it: build it from a copy of the
tree (dpkg-buildpackage), lint it (lintian), install it with apt, check
the files, owners and modes README's Install section lists, check the
installed config with every daemon's -n, start the daemons from the
installed binaries the way their systemd units do, send a message to
port 25, then upgrade (reinstall), remove and purge, and check what is
left.

The test installs a package on the machine running it, so it runs only
as root, only when tsamba is not installed and /etc/tsamba and
/var/spool/tsamba do not exist (an admin's installation is never
touched), under a lock that keeps two runs (two worktrees) apart.  It
leaves the machine as it found it: after the purge it removes what the
package deliberately keeps (the system users it created, /var/vmail when
the test made it, the test domain's Maildirs otherwise) and puts back a
/var/lib/tsamba that was there before (the test harness's authd may
have made one).  The system users are the same the harness creates
(sandbox.ensure_system_user): users that existed before stay.

This machine runs no systemd: systemctl and the stop in prerm cannot be
exercised, so the test reads ExecStartPre, ExecStart, LimitNOFILE and
RuntimeDirectory from the installed units and does what systemd would,
and checks the enable links deb-systemd-helper made.  The installed
config listens on port 25: when that port is taken on 127.0.0.1, the
daemons read a copy that differs only in that port (say so in the
skip-free output) rather than the test being skipped."""

import configparser
import fcntl
import grp
import imaplib
import os
import pwd
import re
import resource
import shutil
import smtplib
import ssl
import stat
import subprocess
import urllib.request
import tempfile

import pytest

from sandbox import (Daemon, descendants, free_port, is_root, port_is_free,
                     proc_root, proc_uids, wait_for)
from helpers import make_message

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
LOCK = "/run/lock/tsamba-test-package.lock"

ROLE_USERS = ["_tsamba", "_tsambalmtp", "_tsambamta", "_tsambaq",
              "_tsambaauth", "_tsambaimap", "_tsambamet", "vmail"]
UNITS = ["tsamba-authd", "tsamba-lmtpd", "tsamba-queue", "tsamba-smtpd",
         "tsamba-imapd", "tsamba-metricsd"]
METRICS_PORT = 9154	# of the installed tsamba.conf
IMAP_PORT = 143		# likewise
PROGS = ["tsamba-authd", "tsamba-lmtpd", "tsamba-queue", "tsamba-smtpd",
         "tsamba-imapd", "tsamba-metricsd",
         "tsambactl"]
# What README's Install section says the package leaves: (owner, group,
# mode) of each path.
# fail2ban's filter and jails (etc/fail2ban), shipped where fail2ban
# reads them.
FAIL2BAN = ("/etc/fail2ban/filter.d/tsamba.conf",
            "/etc/fail2ban/jail.d/tsamba.conf")

LAYOUT = {
    "/etc/tsamba": ("root", "root", 0o755),
    "/etc/tsamba/tsamba.conf": ("root", "root", 0o644),
    "/etc/tsamba/domains": ("root", "root", 0o644),
    "/etc/tsamba/users": ("root", "_tsambaauth", 0o640),
    "/etc/tsamba/aliases": ("root", "root", 0o644),
    "/etc/tsamba/ssl/tsamba.crt": ("root", "root", 0o644),
    "/etc/tsamba/ssl/tsamba.key": ("root", "root", 0o600),
    "/var/spool/tsamba": ("_tsambaq", "_tsambaq", 0o700),
    "/var/lib/tsamba/empty": ("root", "root", 0o755),
    "/var/vmail": ("vmail", "vmail", 0o750),
}
DOMAIN = "pkgtest.example"
USER = "alice@" + DOMAIN

pytestmark = pytest.mark.skipif(not is_root(),
                                reason="installs a package: needs root")


def run(argv, **kw):
    """Run argv; fail the test with its output when it fails."""
    r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    assert r.returncode == 0, "%s: exit %d\n%s" % (" ".join(argv),
                                                   r.returncode, r.stdout)
    return r.stdout


def installed():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "tsamba"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    return r.returncode == 0 and r.stdout.split()[-1:] != ["not-installed"]


def source_files():
    """The tree's files as a clean clone has them (tracked, plus new files
    not ignored), without build products."""
    if os.path.isdir(os.path.join(TOP, ".git")) or os.path.isfile(
            os.path.join(TOP, ".git")):
        out = subprocess.run(["git", "-C", TOP, "ls-files", "-z", "-c", "-o",
                              "--exclude-standard"], check=True,
                             stdout=subprocess.PIPE).stdout
        return [f for f in out.decode().split("\0")
                if f and os.path.isfile(os.path.join(TOP, f))]
    pytest.skip("not a git checkout: cannot tell sources from build output")


def copy_tree(dst):
    for f in source_files():
        os.makedirs(os.path.join(dst, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(TOP, f), os.path.join(dst, f))


def owner(path):
    st = os.stat(path)
    return (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
            stat.S_IMODE(st.st_mode))


def unit(name):
    """ExecStartPre, ExecStart, LimitNOFILE and the runtime directory of
    an installed unit."""
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read("/lib/systemd/system/%s.service" % name)
    svc = cp["Service"]
    return {"pre": svc.get("ExecStartPre", "").split(),
            "start": svc["ExecStart"].split(),
            "nofile": int(svc["LimitNOFILE"]),
            "rundir": "/run/" + svc["RuntimeDirectory"],
            "rundir_mode": int(svc.get("RuntimeDirectoryMode", "0755"), 8),
            "restart": svc.get("Restart")}


class State:
    """What the machine had before, to put it back afterwards."""
    pass


@pytest.fixture(scope="module")
def pkg():
    for tool in ("dpkg-buildpackage", "apt-get", "lintian", "dh"):
        if shutil.which(tool) is None:
            pytest.skip("%s missing (regress/deps.sh installs it)" % tool)
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    lockf = open(LOCK, "w")
    fcntl.flock(lockf, fcntl.LOCK_EX)
    if installed():
        pytest.skip("the tsamba package is installed here: not touching it")
    for p in ("/etc/tsamba", "/var/spool/tsamba"):
        if os.path.exists(p):
            pytest.skip("%s exists (an installation?): not touching it" % p)

    s = State()
    s.work = tempfile.mkdtemp(prefix="tsamba-package-", dir="/tmp")
    s.users_before = set()
    for u in ROLE_USERS:
        try:
            pwd.getpwnam(u)
            s.users_before.add(u)
        except KeyError:
            pass
    s.vmail_before = os.path.exists("/var/vmail")
    s.run_before = os.path.exists("/run/tsamba")
    s.varlib_saved = None
    if os.path.exists("/var/lib/tsamba"):
        s.varlib_saved = os.path.join(s.work, "varlib.tar")
        run(["tar", "-C", "/var/lib", "-cpf", s.varlib_saved, "tsamba"])
        shutil.rmtree("/var/lib/tsamba")
    s.daemons = []

    try:
        src = os.path.join(s.work, "tsamba")
        copy_tree(src)
        env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
        run(["dpkg-buildpackage", "-b", "-us", "-uc", "-j2"], cwd=src,
            env=env)
        debs = [f for f in os.listdir(s.work)
                if re.fullmatch(r"tsamba_[^_]+_[^_]+\.deb", f)]
        assert len(debs) == 1, os.listdir(s.work)
        s.deb = os.path.join(s.work, debs[0])
        s.changes = s.deb[:-len(".deb")] + ".changes"
        yield s
    finally:
        stop_daemons(s)
        if installed():
            subprocess.run(["apt-get", "purge", "-y", "-q", "tsamba"],
                           stdout=subprocess.DEVNULL)
        restore(s)
        fcntl.flock(lockf, fcntl.LOCK_UN)
        lockf.close()


def restore(s):
    if s.vmail_before:
        shutil.rmtree(os.path.join("/var/vmail", DOMAIN), ignore_errors=True)
    else:
        shutil.rmtree("/var/vmail", ignore_errors=True)
    if not s.run_before:
        shutil.rmtree("/run/tsamba", ignore_errors=True)
    for u in ROLE_USERS:
        if u in s.users_before:
            continue
        subprocess.run(["userdel", u], stderr=subprocess.DEVNULL)
        subprocess.run(["groupdel", u], stderr=subprocess.DEVNULL)
    shutil.rmtree("/var/lib/tsamba", ignore_errors=True)
    if s.varlib_saved:
        run(["tar", "-C", "/var/lib", "-xpf", s.varlib_saved])
    shutil.rmtree(s.work, ignore_errors=True)


def stop_daemons(s):
    for d in reversed(s.daemons):
        d.stop()
    s.daemons = []


def test_lintian_clean(pkg):
    """No error and no warning that debian/tsamba.lintian-overrides does
    not justify."""
    r = subprocess.run(["lintian", "--fail-on", "error,warning",
                        "--pedantic", pkg.changes], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    tags = [l for l in r.stdout.splitlines() if re.match(r"[EW]: ", l)]
    assert r.returncode == 0 and not tags, r.stdout


def test_install(pkg):
    out = run(["apt-get", "install", "-y", "-q", pkg.deb],
              env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    assert installed(), out
    for u in ROLE_USERS:
        pw = pwd.getpwnam(u)
        if u not in pkg.users_before:
            assert pw.pw_uid < 1000 and pw.pw_shell == "/usr/sbin/nologin"
    for path, want in LAYOUT.items():
        if path == "/var/vmail" and pkg.vmail_before:
            continue	# the package leaves an existing one as it is
        assert owner(path) == want, path
    assert os.listdir("/var/lib/tsamba/empty") == []
    for p in PROGS:
        assert owner("/usr/sbin/" + p) == ("root", "root", 0o755), p
    for m in ("man5/tsamba.conf.5.gz", "man7/tsamba.7.gz",
              "man8/tsamba-smtpd.8.gz", "man8/tsambactl.8.gz"):
        assert os.path.isfile("/usr/share/man/" + m), m
    # The config is a conffile: an upgrade keeps the admin's changes.
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "tsamba"])
    assert "/etc/tsamba/tsamba.conf " in conffiles
    # The optional fail2ban filter and jails: conffiles, the jails off.
    for f in FAIL2BAN:
        assert (" %s " % f) in conffiles, (f, conffiles)
        assert owner(f) == ("root", "root", 0o644), f
    with open("/etc/fail2ban/jail.d/tsamba.conf") as f:
        assert "enabled  = true" not in f.read()
    # The certificate is for this host, made at install time.
    name = run(["hostname", "-f"]).strip()
    subj = run(["openssl", "x509", "-noout", "-subject", "-in",
                "/etc/tsamba/ssl/tsamba.crt"])
    assert "CN = " + name in subj, subj


def test_units_enabled(pkg):
    """deb-systemd-helper linked every unit into its target (systemctl
    itself cannot run here: no systemd)."""
    etc = "/etc/systemd/system"
    assert os.path.islink(etc + "/multi-user.target.wants/tsamba.target")
    for u in UNITS:
        link = "%s/tsamba.target.wants/%s.service" % (etc, u)
        assert os.readlink(link) == "/lib/systemd/system/%s.service" % u
        info = unit(u)
        assert info["restart"] == "always", u
        assert info["nofile"] >= 4096, u


def test_installed_config_checks(pkg):
    """Every daemon's -n accepts the installed config as it is, and
    tsambactl check too."""
    for u in UNITS:
        out = run(unit(u)["pre"])
        assert "error" not in out.lower(), out
    run(["/usr/sbin/tsambactl", "check"])


def conf_for_test(pkg):
    """The installed config, or a copy listening elsewhere when port 25 is
    taken here (by another MTA)."""
    if port_is_free(25):
        return None, 25
    port = free_port()
    with open("/etc/tsamba/tsamba.conf") as f:
        text = f.read()
    text, n = re.subn(r"(?m)^listen on any port 25 ", "listen on any port "
                      "%d " % port, text)
    assert n == 1
    path = os.path.join(pkg.work, "tsamba.conf")
    with open(path, "w") as f:
        f.write(text)
    return path, port


def start_daemons(pkg):
    conf, port = conf_for_test(pkg)
    socks = {"tsamba-authd": "/run/tsamba/auth.sock",
             "tsamba-lmtpd": "/run/tsamba/lmtp.sock",
             "tsamba-queue": "/run/tsamba/queue.sock"}
    for u in UNITS:
        info = unit(u)
        os.makedirs(info["rundir"], exist_ok=True)
        os.chmod(info["rundir"], info["rundir_mode"])
        extra = ["-f", conf] if conf else []
        run(info["pre"] + extra)

        def limits(n=info["nofile"]):
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
        d = Daemon(info["start"] + extra,
                   os.path.join(pkg.work, u + ".log"))
        pkg.daemons.append(d)
        if u in socks:
            ready = (lambda p=socks[u]: os.path.exists(p))
        elif u == "tsamba-metricsd":
            ready = (lambda: not port_is_free(METRICS_PORT))
        elif u == "tsamba-imapd":
            ready = (lambda: not port_is_free(IMAP_PORT))
        else:
            ready = (lambda: not port_is_free(port))
        d.start(ready, 30, what=u, preexec_fn=limits)
    return port


def test_daemons_receive_a_message(pkg):
    """Closed as installed; after tsambactl adds a domain and a user, a
    message to port 25 (over STARTTLS with the generated certificate)
    lands in the user's Maildir."""
    port = start_daemons(pkg)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
        c.ehlo("client.example.net")
        code, _ = c.docmd("MAIL FROM:<a@example.net>")
        assert code == 250
        code, msg = c.docmd("RCPT TO:<%s>" % USER)
        assert code == 554 or code == 550, msg

    run(["/usr/sbin/tsambactl", "domain", "add", DOMAIN])
    password = run(["/usr/sbin/tsambactl", "user", "add",
                    USER]).strip().splitlines()[-1]
    msgid, data = make_message(USER, subject="from the package")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def accepted():
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.starttls(context=ctx)
            try:
                c.sendmail("a@example.net", [USER], data)
            except smtplib.SMTPRecipientsRefused:
                return False	# authd has not read the new tables yet
            return True
    wait_for(accepted, 30, interval=0.5, what="the new user accepted")

    new = "/var/vmail/%s/alice/new" % DOMAIN

    def delivered():
        try:
            for f in os.listdir(new):
                with open(os.path.join(new, f), "rb") as fh:
                    if msgid.encode() in fh.read():
                        return f
        except FileNotFoundError:
            pass
        return None
    wait_for(delivered, 30, what="the message in " + new)
    for d in pkg.daemons:
        assert d.running(), d.log_text()
    # The installed config serves metrics on loopback: every daemon up.
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" %
                                METRICS_PORT, timeout=10) as r:
        text = r.read().decode()
    for u in ("smtpd", "queue", "lmtpd", "authd"):
        assert 'tsamba_up{daemon="%s"} 1\n' % u in text, text[:2000]
    # The installed config serves IMAP on 993: the user reads the message.
    with imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=ctx,
                           timeout=30) as m:
        m.login(USER, password)
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK" and int(data[0]) >= 1, data
        typ, data = m.search(None, "HEADER", "Message-ID", msgid)
        assert typ == "OK" and data[0].split(), data
    # The smtp engine runs as _tsamba in the empty chroot the package made.
    smtpd = pkg.daemons[UNITS.index("tsamba-smtpd")].proc.pid
    uid = pwd.getpwnam("_tsamba").pw_uid
    engines = [p for p in descendants(smtpd) if p != smtpd and
               proc_uids(p)[0] == uid]
    assert engines and proc_root(engines[0]) == "/var/lib/tsamba/empty"
    stop_daemons(pkg)


def test_upgrade_keeps_config_and_spool(pkg):
    with open("/etc/tsamba/tsamba.conf", "a") as f:
        f.write("# changed by the admin\n")
    with open("/etc/tsamba/ssl/tsamba.crt", "rb") as f:
        cert = f.read()
    marker = "/var/spool/tsamba/kept-by-upgrade"
    open(marker, "w").close()
    run(["apt-get", "install", "-y", "-q", "--reinstall", pkg.deb],
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    with open("/etc/tsamba/tsamba.conf") as f:
        assert f.read().endswith("# changed by the admin\n")
    with open("/etc/tsamba/ssl/tsamba.crt", "rb") as f:
        assert f.read() == cert
    with open("/etc/tsamba/users") as f:
        assert USER in f.read()
    assert os.path.exists(marker)
    assert owner("/var/spool/tsamba") == LAYOUT["/var/spool/tsamba"]
    os.unlink(marker)


def test_remove_then_purge(pkg):
    run(["apt-get", "remove", "-y", "-q", "tsamba"])
    assert not os.path.exists("/usr/sbin/tsamba-smtpd")
    assert os.path.exists("/etc/tsamba/tsamba.conf")
    assert os.path.isdir("/var/spool/tsamba")

    run(["apt-get", "purge", "-y", "-q", "tsamba"])
    assert not installed()
    for p in ("/etc/tsamba", "/var/spool/tsamba", "/var/lib/tsamba"):
        assert not os.path.exists(p), p
    for p in FAIL2BAN:
        assert not os.path.exists(p), p
    left = [os.path.join(d, f) for d, _, fs in os.walk("/etc/systemd/system")
            for f in fs if f.startswith("tsamba")]
    assert left == []
    # The mail stays.
    new = "/var/vmail/%s/alice/new" % DOMAIN
    assert os.listdir(new)
