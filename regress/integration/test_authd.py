"""tsamba-authd on its own: starts the daemon with file tables in a private
directory and speaks imsg to auth.sock the way smtpd, queue and lmtpd do.

Runs as root (then the daemon drops to _tsambaauth, created when absent)
or as an ordinary user (then it keeps that user)."""

import os
import pwd
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

import pytest

from imsgclient import (Client, Reader, frame, pack_str, PROTO_VERSION,
                        IMSG_HELLO, LOOKUP_RCPT, RCPT_RESULT, LOOKUP_USER,
                        USER_RESULT, OK, NOUSER, NOTHOSTED, TEMPFAIL,
                        INVALID, RCPT_LOCAL, AUTH_OK, AUTH_FAIL,
                        AUTH_BANNED)
from sandbox import Daemon, ensure_system_user

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
AUTHD = os.environ.get("TSAMBA_AUTHD",
                       os.path.join(ROOT, "authd", "tsamba-authd"))

START_TIMEOUT = 10.0

IS_ROOT = os.geteuid() == 0
AUTH_USER = "_tsambaauth"
SYSTEM_USERS = (AUTH_USER, "_tsamba", "_tsambaq", "vmail")


def vmail_ids():
    """What authd uses for mailboxes without ids in the users table."""
    try:
        pw = pwd.getpwnam("vmail")
        return pw.pw_uid, pw.pw_gid
    except KeyError:
        return os.getuid(), os.getgid()


# -------------------------------------------------------------- the daemon

DOMAINS = """\
# hosted domains
example.org
EXAMPLE.net
"""

ALIASES = """\
# source: destinations
team@example.org: alice@example.org, bob@example.org, alice@example.org,
team@example.org: list@example.org
list@example.org: Bob@Example.org, Carol@Remote.test, ghost@example.org
partial@example.org: alice@example.org, ghost@example.org
carl@example.org: carl@example.org, bob@example.org
loop1@example.org: loop2@example.org
loop2@example.org: loop1@example.org
@example.net: alice@example.org
remote@example.org: someone@elsewhere.test
"""


def chain(name, length, target):
    """An alias chain name0 -> name1 -> ... -> target."""
    lines = []
    for i in range(length):
        nxt = "%s%d@example.org" % (name, i + 1) if i + 1 < length \
            else target
        lines.append("%s%d@example.org: %s" % (name, i, nxt))
    return "\n".join(lines) + "\n"


class Authd:
    def __init__(self, tmp):
        self.tmp = tmp
        self.rundir = os.path.join(tmp, "run")
        self.mailroot = os.path.join(tmp, "vmail")
        self.conf = os.path.join(tmp, "tsamba.conf")
        self.log = os.path.join(tmp, "authd.log")
        self.tables = {t: os.path.join(tmp, t)
                       for t in ("domains", "users", "aliases")}
        self.sock = os.path.join(self.rundir, "auth.sock")
        self.daemon = Daemon([AUTHD, "-d", "-v", "-f", self.conf], self.log)

    @property
    def proc(self):
        return self.daemon.proc

    def users_text(self):
        m = self.mailroot
        return ("# address:{SCHEME}hash:uid:gid::home::\n"
                "alice@example.org:{PLAIN}secret::::::\n"
                "Bob@Example.ORG:{SHA512-CRYPT}$6$salt$hash::::::\n"
                "carl@example.org:{PLAIN}x::::::\n"
                "dave@example.net:{PLAIN}x\n"
                "a%%b@example.org:{PLAIN}x::::::\n"
                "o'brien@example.org:{PLAIN}x::::::\n"
                "\"john doe\"@example.org:{PLAIN}x::::::\n"
                "erin@example.org:{PLAIN}x:2000:2001::%s/custom//erin::\n"
                "frank@example.org:{PLAIN}x::::/elsewhere/frank::\n"
                "gina@example.org:{PLAIN}x::::%s/../outside/gina::\n"
                % (m, m))

    def write(self, table, text):
        """Replace a table the way an editor does (new inode)."""
        path = self.tables[table]
        tmp = path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)

    def setup(self):
        os.chmod(self.tmp, 0o755)
        for d in (self.rundir, self.mailroot, os.path.join(self.tmp,
                  "spool"), os.path.join(self.tmp, "empty")):
            os.mkdir(d, 0o755)
        self.write("domains", DOMAINS)
        self.write("users", self.users_text())
        self.write("aliases", ALIASES + chain("ten", 10,
                   "alice@example.org") + chain("eleven", 11,
                   "alice@example.org"))
        with open(self.conf, "w") as f:
            f.write('rundir "%s"\nspool "%s"\nmailroot "%s"\n'
                    'chroot "%s"\n' % (self.rundir,
                                       os.path.join(self.tmp, "spool"),
                                       self.mailroot,
                                       os.path.join(self.tmp, "empty")))
            for t, path in self.tables.items():
                f.write('table %s file "%s"\n' % (t, path))

    def start(self):
        self.daemon.start(self.answers, START_TIMEOUT, "auth.sock")

    def answers(self):
        try:
            Client(self.sock).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.daemon.stop(grace=5)

    def log_text(self):
        return self.daemon.log_text()

    def client(self, **kw):
        return Client(self.sock, **kw)


@pytest.fixture(scope="module")
def authd(request):
    if not os.access(AUTHD, os.X_OK):
        pytest.skip("authd/tsamba-authd not built")
    if IS_ROOT:
        for u in SYSTEM_USERS:
            ensure_system_user(u)
    tmp = tempfile.mkdtemp(prefix="tsamba-authd-", dir="/tmp")
    d = Authd(tmp)

    def finish():
        d.stop()
        if request.session.testsfailed:
            sys.stderr.write("tsamba-authd log %s:\n%s\n" %
                             (d.log, d.log_text()[-4000:]))
        shutil.rmtree(tmp, ignore_errors=True)

    request.addfinalizer(finish)
    d.setup()
    d.start()
    return d


@pytest.fixture
def c(authd):
    cl = authd.client()
    yield cl
    cl.close()


# ------------------------------------------------------------------ tests

def test_hosted_mailbox(c):
    assert c.rcpt("alice@example.org") == \
        (OK, [("alice@example.org", RCPT_LOCAL)])
    # Lookups lowercase both parts; the table's case does not matter.
    assert c.rcpt("ALICE@Example.Org") == \
        (OK, [("alice@example.org", RCPT_LOCAL)])
    assert c.rcpt("bob@example.org") == \
        (OK, [("bob@example.org", RCPT_LOCAL)])
    assert c.rcpt("dave@EXAMPLE.NET") == \
        (OK, [("dave@example.net", RCPT_LOCAL)])


def test_unknown_user(c):
    assert c.rcpt("nobody@example.org") == (NOUSER, [])


def test_not_hosted(c):
    assert c.rcpt("alice@example.com") == (NOTHOSTED, [])
    assert c.rcpt("alice@sub.example.org") == (NOTHOSTED, [])


def test_alias_one_to_many_deduplicated(c):
    status, rcpts = c.rcpt("team@example.org")
    assert status == OK
    # Two source lines add up; alice twice and bob via list: once each;
    # ghost (no mailbox) is dropped; the remote one keeps its case.
    assert sorted(rcpts) == sorted([
        ("alice@example.org", RCPT_LOCAL),
        ("bob@example.org", RCPT_LOCAL),
        ("Carol@remote.test", 0)])
    assert len(rcpts) == len(set(r[0] for r in rcpts))


def test_alias_drops_missing_destination(authd, c):
    assert c.rcpt("partial@example.org") == \
        (OK, [("alice@example.org", RCPT_LOCAL)])
    assert "ghost@example.org: no such mailbox, dropped" in \
        authd.log_text()


def test_alias_to_remote_only(c):
    assert c.rcpt("remote@example.org") == \
        (OK, [("someone@elsewhere.test", 0)])


def test_alias_self_reference_keeps_mailbox(c):
    status, rcpts = c.rcpt("carl@example.org")
    assert status == OK
    assert sorted(rcpts) == [("bob@example.org", RCPT_LOCAL),
                             ("carl@example.org", RCPT_LOCAL)]


def test_alias_loop_is_nouser(c):
    assert c.rcpt("loop1@example.org") == (NOUSER, [])


def test_alias_depth_limit(c):
    assert c.rcpt("ten0@example.org") == \
        (OK, [("alice@example.org", RCPT_LOCAL)])
    assert c.rcpt("eleven0@example.org") == (NOUSER, [])


def test_catch_all(c):
    assert c.rcpt("whoever@example.net") == \
        (OK, [("alice@example.org", RCPT_LOCAL)])
    # A real mailbox wins over the catch-all.
    assert c.rcpt("dave@example.net") == \
        (OK, [("dave@example.net", RCPT_LOCAL)])


def test_plus_extension(c):
    assert c.rcpt("alice+news@example.org") == \
        (OK, [("alice@example.org", RCPT_LOCAL)])
    status, rcpts = c.rcpt("team+x@example.org")
    assert status == OK and len(rcpts) == 3
    assert c.rcpt("nobody+x@example.org") == (NOUSER, [])
    assert c.rcpt("+x@example.org") == (NOUSER, [])


def test_quote_and_percent_are_plain(c):
    # "%" is no source route: a%b is a mailbox name like any other.
    assert c.rcpt("a%b@example.org") == \
        (OK, [("a%b@example.org", RCPT_LOCAL)])
    assert c.rcpt("alice%example.org@example.org") == (NOUSER, [])
    assert c.rcpt("b%alice@example.org") == (NOUSER, [])
    assert c.rcpt("o'brien@example.org") == \
        (OK, [("o'brien@example.org", RCPT_LOCAL)])
    # Quotes around a plain local part change nothing.
    assert c.rcpt('"alice"@example.org') == \
        (OK, [("alice@example.org", RCPT_LOCAL)])
    assert c.rcpt('"John Doe"@example.org') == \
        (OK, [('"john doe"@example.org', RCPT_LOCAL)])
    assert c.rcpt('"alice\\"x"@example.org') == (NOUSER, [])


@pytest.mark.parametrize("address", [
    "", "alice", "alice@", "@example.org", "alice@@example.org",
    "alice example@example.org", "<alice@example.org>",
    "alice@example.org\r\nRCPT TO:<x@y>",
    "alice\x7f@example.org", "\tal@example.org",
    "a" * 65 + "@example.org", "alice@" + "a" * 300 + ".org",
    "x" * 2000])
def test_malformed_address(c, address):
    assert c.rcpt(address) == (INVALID, [])
    assert c.user(address)[0] == INVALID


def test_answers_echo_request_ids(c):
    ids = [7, 2**64 - 1, 0, 12345678901234]
    for rid in ids:
        c.rcpt_request("alice@example.org", rid)
    # Answers come as the workers finish them: matched by id, not order.
    assert sorted(c.rcpt_answer()[0] for _ in ids) == sorted(ids)


def test_lookup_user(authd, c):
    uid, gid = vmail_ids()
    assert c.user("alice@example.org") == \
        (OK, "example.org/alice/", uid, gid, 0)
    assert c.user("Bob@example.ORG") == (OK, "example.org/bob/", uid, gid, 0)
    assert c.user("alice+ext@example.org") == \
        (OK, "example.org/alice/", uid, gid, 0)
    # Ids and home from the table; the home is made relative to mailroot.
    assert c.user("erin@example.org") == (OK, "custom/erin/", 2000, 2001, 0)
    # A home outside the mail root (also by "..") defers, never guesses.
    assert c.user("frank@example.org")[0] == TEMPFAIL
    assert c.user("gina@example.org")[0] == TEMPFAIL
    assert c.user("nobody@example.org")[:2] == (NOUSER, "")
    assert c.user("alice@example.com")[:2] == (NOTHOSTED, "")
    # Aliases are not mailboxes.
    assert c.user("team@example.org")[0] == NOUSER


def test_table_edit_picked_up(authd, c):
    assert c.rcpt("newbie@example.org") == (NOUSER, [])
    authd.write("users", authd.users_text() +
                "newbie@example.org:{PLAIN}x::::::\n")
    deadline = time.monotonic() + 5
    while c.rcpt("newbie@example.org")[0] != OK:
        assert time.monotonic() < deadline, "users table not reloaded"
        time.sleep(0.2)
    # Edited in place (same inode) works as well.
    with open(authd.tables["domains"], "a") as f:
        f.write("example.info\n")
    deadline = time.monotonic() + 5
    while c.rcpt("x@example.info")[0] != NOUSER:
        assert time.monotonic() < deadline, "domains table not reloaded"
        time.sleep(0.2)


def test_broken_table_keeps_old_contents(authd, c):
    before = authd.log_text().count("keeps its previous")
    authd.write("aliases", ALIASES + "this line has no colon\n"
                "new@example.org: alice@example.org\n")
    time.sleep(2.5)
    for _ in range(5):
        assert c.rcpt("team@example.org")[0] == OK
        assert c.rcpt("new@example.org") == (NOUSER, [])
        time.sleep(0.3)
    log = authd.log_text()
    assert log.count("keeps its previous") == before + 1, log[-2000:]
    assert "aliases:%d: missing ':'" % (ALIASES.count("\n") + 1) in log
    # Fixed: loaded again.
    authd.write("aliases", ALIASES + "new@example.org: alice@example.org\n")
    deadline = time.monotonic() + 5
    while c.rcpt("new@example.org")[0] != OK:
        assert time.monotonic() < deadline, "aliases table not reloaded"
        time.sleep(0.2)


def test_burst_is_flow_controlled(authd, c):
    """More requests at once than authd keeps in its workers: it stops
    reading instead of dropping the channel, and answers every one."""
    import threading
    n = 5000
    burst = b"".join(frame(LOOKUP_RCPT, struct.pack("<Q", rid) +
                           pack_str("alice@example.org"))
                     for rid in range(1, n + 1))
    c.next_id = n + 1
    c.sock.settimeout(30)
    sent = []
    # The socket blocks while authd holds back: send beside the reads.
    writer = threading.Thread(target=lambda: sent.append(
        c.sock.sendall(burst)))
    writer.start()
    try:
        got = set()
        for _ in range(n):
            rid, status, rcpts = c.rcpt_answer()
            assert (status, rcpts) == \
                (OK, [("alice@example.org", RCPT_LOCAL)])
            got.add(rid)
    finally:
        writer.join(30)
    assert sent == [None]
    assert got == set(range(1, n + 1))
    # The same channel still works.
    assert c.rcpt("bob@example.org") == \
        (OK, [("bob@example.org", RCPT_LOCAL)])
    assert "not reading its answers" not in authd.log_text()


def test_malformed_imsg_closes_only_that_client(authd):
    good = authd.client()
    try:
        bad = [authd.client() for _ in range(6)]
        # Short payload: an id and no address.
        bad[0].send(LOOKUP_RCPT, struct.pack("<Q", 1))
        # Trailing bytes after the address.
        bad[1].send(LOOKUP_USER, struct.pack("<Q", 1) +
                    pack_str("alice@example.org") + b"x")
        # A type authd does not answer.
        bad[2].send(RCPT_RESULT, struct.pack("<Q", 1))
        # A header whose length is shorter than the header.
        bad[3].sock.sendall(struct.pack("=IIII", LOOKUP_RCPT, 4, 0, 0))
        # A string length running past the payload.
        bad[4].send(LOOKUP_RCPT, struct.pack("<QH", 1, 500) + b"a@b")
        # A NUL inside a string.
        bad[5].send(LOOKUP_RCPT, struct.pack("<Q", 1) +
                    pack_str(b"ali\x00ce@example.org"))
        for b in bad:
            assert b.closed_by_peer()
            b.close()
        # No hello first.
        nohello = authd.client(hello=False)
        assert nohello.recv()[0] == IMSG_HELLO
        nohello.rcpt_request("alice@example.org")
        assert nohello.closed_by_peer()
        nohello.close()
        assert good.rcpt("alice@example.org") == \
            (OK, [("alice@example.org", RCPT_LOCAL)])
        assert authd.proc.poll() is None
    finally:
        good.close()


@pytest.mark.skipif(not IS_ROOT, reason="needs root")
def test_runs_as_auth_user(authd):
    want = pwd.getpwnam(AUTH_USER).pw_uid
    with open("/proc/%d/status" % authd.proc.pid) as f:
        fields = dict(line.split(":", 1) for line in f)
    assert fields["Uid"].split() == [str(want)] * 4
    assert os.stat(authd.sock).st_mode & 0o777 == 0o666


@pytest.mark.skipif(not IS_ROOT, reason="needs root")
def test_foreign_uid_refused(authd):
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX)\ns.settimeout(5)\n"
            "s.connect(sys.argv[1])\n"
            "print(len(s.recv(100)))\n")
    nobody = pwd.getpwnam("nobody")

    def drop():
        os.setgid(nobody.pw_gid)
        os.setgroups([])
        os.setuid(nobody.pw_uid)

    out = subprocess.run([sys.executable, "-c", code, authd.sock],
                         preexec_fn=drop, capture_output=True, text=True,
                         timeout=10)
    assert out.stdout.strip() == "0", out.stderr
    assert "uid %d" % nobody.pw_uid in authd.log_text()


def test_check_config(authd, tmp_path):
    out = subprocess.run([AUTHD, "-n", "-f", authd.conf],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert "configuration OK" in out.stdout
    bad = tmp_path / "domains"
    bad.write_text("ok.example\nnot a domain\n")
    conf = tmp_path / "tsamba.conf"
    conf.write_text(open(authd.conf).read().replace(
        authd.tables["domains"], str(bad)))
    out = subprocess.run([AUTHD, "-n", "-f", str(conf)],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 1
    assert "%s:2: invalid domain" % bad in out.stderr


def test_sighup_reloads(authd, c):
    authd.write("users", authd.users_text() +
                "hup@example.org:{PLAIN}x::::::\n")
    # Within the once-a-second window only SIGHUP makes it visible now.
    authd.proc.send_signal(1)
    deadline = time.monotonic() + 5
    while c.rcpt("hup@example.org")[0] != OK:
        assert time.monotonic() < deadline, "SIGHUP did not reload"
        time.sleep(0.05)


# ------------------------------------------------- postmaster (RFC 5321 4.5.1)

PM_HOST = "mx.example.test"		# the hostname, not a hosted domain
PM_ALIASES = """\
pm@example.org: alice@example.org, ops@remote.test
postmaster@example.net: bob@example.org
@example.com: erin@example.org
"""


def private_authd(request, name, prepare):
    """A second authd in its own directory, set up by prepare(d) before
    it starts; stopped and removed after the module."""
    if not os.access(AUTHD, os.X_OK):
        pytest.skip("authd/tsamba-authd not built")
    tmp = tempfile.mkdtemp(prefix="tsamba-authd-%s-" % name, dir="/tmp")
    d = Authd(tmp)

    def finish():
        d.stop()
        if request.session.testsfailed:
            sys.stderr.write("tsamba-authd log %s:\n%s\n" %
                             (d.log, d.log_text()[-4000:]))
        shutil.rmtree(tmp, ignore_errors=True)

    request.addfinalizer(finish)
    d.setup()
    prepare(d)
    d.start()
    return d


@pytest.fixture(scope="module")
def pm_authd(request):
    """authd with `postmaster` set to an alias of a local and a remote
    address, the hostname outside the hosted domains."""
    def prepare(d):
        d.write("domains", DOMAINS + "example.com\n")
        d.write("aliases", ALIASES + PM_ALIASES)
        with open(d.conf, "a") as f:
            f.write('hostname "%s"\npostmaster "pm@example.org"\n' %
                    PM_HOST)
    return private_authd(request, "pm", prepare)


PM_RESOLVED = sorted([("alice@example.org", RCPT_LOCAL),
                      ("ops@remote.test", 0)])


def test_postmaster_default_unresolved(authd, c):
    # No hostname line: postmaster@<host name>, which leads nowhere here.
    assert "leads to no mailbox" in authd.log_text()
    assert c.rcpt("postmaster@example.org") == (NOUSER, [])
    # The host name is no hosted domain, yet its postmaster is "ours".
    assert c.rcpt("postmaster@%s" % socket.gethostname()) == (NOUSER, [])
    # Without a postmaster to go to, the catch-all still takes it.
    assert c.rcpt("postmaster@example.net") == \
        (OK, [("alice@example.org", RCPT_LOCAL)])


def test_postmaster_of_hosted_domain(pm_authd):
    c = pm_authd.client()
    try:
        for a in ("postmaster@example.org", "PostMaster@EXAMPLE.org",
                  '"postmaster"@example.org'):
            status, rcpts = c.rcpt(a)
            assert (status, sorted(rcpts)) == (OK, PM_RESOLVED), a
        # Before the domain's catch-all.
        status, rcpts = c.rcpt("postmaster@example.com")
        assert (status, sorted(rcpts)) == (OK, PM_RESOLVED)
        assert c.rcpt("whoever@example.com") == \
            (OK, [("erin@example.org", RCPT_LOCAL)])
    finally:
        c.close()
    assert "leads to no mailbox" not in pm_authd.log_text()


def test_postmaster_own_alias_wins(pm_authd):
    c = pm_authd.client()
    try:
        assert c.rcpt("postmaster@example.net") == \
            (OK, [("bob@example.org", RCPT_LOCAL)])
    finally:
        c.close()


def test_postmaster_of_hostname(pm_authd):
    c = pm_authd.client()
    try:
        for a in ("postmaster@" + PM_HOST, "POSTMASTER@MX.Example.Test"):
            status, rcpts = c.rcpt(a)
            assert (status, sorted(rcpts)) == (OK, PM_RESOLVED), a
        # Only postmaster: the host name stays a domain not hosted here.
        assert c.rcpt("alice@" + PM_HOST) == (NOTHOSTED, [])
        assert c.rcpt("postmaster@elsewhere.test") == (NOTHOSTED, [])
        # An alias may name it too.
        pm_authd.write("aliases", ALIASES + PM_ALIASES +
                       "abuse@example.org: postmaster@%s\n" % PM_HOST)
        deadline = time.monotonic() + 5
        while c.rcpt("abuse@example.org")[0] != OK:
            assert time.monotonic() < deadline, "aliases not reloaded"
            time.sleep(0.2)
        status, rcpts = c.rcpt("abuse@example.org")
        assert (status, sorted(rcpts)) == (OK, PM_RESOLVED)
    finally:
        c.close()


# ------------------------------------------------------------ ban networks

CTL = os.path.join(ROOT, "ctl", "tsambactl")
# A ban file as written before networks were counted: one host each.
OLD_BANS = ("# tsamba-authd bans: network, end (unix time), failures\n"
            "2001:db8:77::5 %d 5\n198.51.100.5 %d 5\n")


@pytest.fixture(scope="module")
def nb_authd(request):
    """authd with its own statedir holding an old ban file, IPv4
    failures counted per /24 (IPv6 per /64, the default)."""
    def prepare(d):
        state = os.path.join(d.tmp, "state")
        os.makedirs(os.path.join(state, "authd"))
        end = int(time.time()) + 3600
        with open(os.path.join(state, "authd", "bans"), "w") as f:
            f.write(OLD_BANS % (end, end))
        with open(d.conf, "a") as f:
            f.write('statedir "%s"\nban prefix ipv4 24\n' % state)
    return private_authd(request, "nb", prepare)


def fail_logins(c, ips):
    for ip in ips:
        assert c.login("alice@example.org", "wrong", ip=ip)[0] == AUTH_FAIL


def tsambactl(conf, *args):
    return subprocess.run([CTL, "-f", conf] + list(args),
                          capture_output=True, text=True, timeout=30)


def test_ipv6_failures_counted_per_64(nb_authd):
    """Five failed logins from five addresses of one IPv6 /64 ban the
    whole /64; another /64 of the same /48 stays free."""
    c = nb_authd.client()
    fail_logins(c, ["2001:db8:1:2::%x" % i for i in range(1, 5)])
    assert c.check_ban("2001:db8:1:2::1")[0] == 0	# four: not yet
    fail_logins(c, ["2001:db8:1:2:aaaa:bbbb:cccc:dddd"])
    assert c.check_ban("2001:db8:1:2::ffff")[0] == 1
    assert c.check_ban("2001:db8:1:2:ffff:ffff:ffff:ffff")[0] == 1
    assert c.check_ban("2001:db8:1:3::1")[0] == 0
    assert c.login("alice@example.org", "secret",
                   ip="2001:db8:1:2::99")[0] == AUTH_BANNED
    assert c.login("alice@example.org", "secret",
                   ip="2001:db8:1:3::99") == (AUTH_OK, "alice@example.org")
    assert "ban: ip=2001:db8:1:2::/64 failures=5 until=" in \
        nb_authd.log_text()
    c.close()


def test_ipv4_prefix_configurable(nb_authd):
    """ban prefix ipv4 24: failures from one /24 add up."""
    c = nb_authd.client()
    fail_logins(c, ["203.0.113.%d" % i for i in range(10, 15)])
    assert c.check_ban("203.0.113.200")[0] == 1
    assert c.check_ban("::ffff:203.0.113.201")[0] == 1
    assert c.check_ban("203.0.114.1")[0] == 0
    c.close()


def test_old_ban_file_still_loads(nb_authd):
    """Bans of single addresses written by an older authd keep holding
    exactly those addresses."""
    c = nb_authd.client()
    assert c.check_ban("2001:db8:77::5")[0] == 1
    assert c.check_ban("2001:db8:77::6")[0] == 0
    assert c.check_ban("198.51.100.5")[0] == 1
    assert c.check_ban("198.51.100.6")[0] == 0
    c.close()


def test_tsambactl_ban_networks(nb_authd):
    """tsambactl ban list shows the banned network; ban del takes the
    network, or any address in it."""
    if not os.access(CTL, os.X_OK):
        pytest.skip("ctl/tsambactl not built")
    if not IS_ROOT:
        pytest.skip("authd.control.sock answers root only")
    c = nb_authd.client()
    fail_logins(c, ["2001:db8:9:9::%x" % i for i in range(1, 6)])
    fail_logins(c, ["2001:db8:8:8::%x" % i for i in range(1, 6)])
    r = tsambactl(nb_authd.conf, "ban", "list")
    assert r.returncode == 0, r.stderr
    listed = [l.split("\t")[0] for l in r.stdout.splitlines()]
    assert "2001:db8:9:9::/64" in listed and \
        "2001:db8:8:8::/64" in listed, listed
    assert "2001:db8:77::5" in listed, listed	# the old file's
    # By an address inside it ...
    r = tsambactl(nb_authd.conf, "ban", "del", "2001:db8:9:9::1234")
    assert r.returncode == 0, r.stderr
    assert c.check_ban("2001:db8:9:9::1")[0] == 0
    # ... or by the network itself.
    r = tsambactl(nb_authd.conf, "ban", "del", "2001:db8:8:8::/64")
    assert r.returncode == 0, r.stderr
    assert c.check_ban("2001:db8:8:8::1")[0] == 0
    r = tsambactl(nb_authd.conf, "ban", "del", "2001:db8:8:8::/64")
    assert r.returncode != 0 and "no ban" in r.stderr, r.stderr
    # A fresh start: one more failure is not a ban.
    fail_logins(c, ["2001:db8:9:9::77"])
    assert c.check_ban("2001:db8:9:9::77")[0] == 0
    c.close()
