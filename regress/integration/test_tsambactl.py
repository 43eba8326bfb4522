"""tsambactl against the file backend (a Sandbox's config and tables,
daemons not started unless a test needs authd) and against MariaDB (the
fixture of regress/integration/mariadb.py, when present): every command,
the password policy, and that a failed user add leaves nothing behind."""

import os
import pwd
import resource
import signal
import socket
import stat
import subprocess
import tempfile
import time
import shutil
import warnings

import pytest

from sandbox import Sandbox, TOP, wait_for

CTL = os.path.join(TOP, "ctl", "tsambactl")
HERE = os.path.dirname(os.path.abspath(__file__))

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import crypt
    except ImportError:		# Python >= 3.13
        crypt = None

STRONG = "Corr3ct-Horse-Battery!"

pytestmark = pytest.mark.skipif(not os.access(CTL, os.X_OK),
                                reason="ctl/tsambactl is not built")


def verify(stored, password):
    """The {SHA512-CRYPT}/{SHA256-CRYPT} hash checks out, by an
    implementation other than tsamba's."""
    scheme, _, h = stored.partition("}")
    assert scheme in ("{SHA512-CRYPT", "{SHA256-CRYPT"), stored
    if crypt is not None:
        return crypt.crypt(password, h) == h
    salt = h.split("$")[2]
    out = subprocess.run(["openssl", "passwd", "-6" if h[1] == "6" else
                          "-5", "-salt", salt, "-stdin"], input=password,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip() == h


def policy_ok(pw):
    return (len(pw) >= 16 and any(c.isupper() for c in pw) and
            any(c.islower() for c in pw) and any(c.isdigit() for c in pw)
            and any(not c.isalnum() for c in pw))


class Ctl:
    """Runs tsambactl with one config."""

    def __init__(self, conf):
        self.conf = conf

    def __call__(self, *args, input=None, ok=True, limit_fsize=None):
        def pre():
            if limit_fsize is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE,
                                   (limit_fsize, limit_fsize))
        r = subprocess.run([CTL, "-f", self.conf] + list(args),
                           input=input, capture_output=True, text=True,
                           timeout=60, preexec_fn=pre,
                           stdin=None if input is not None else
                           subprocess.DEVNULL)
        if ok is True:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        elif ok is False:
            assert r.returncode != 0, (args, r.stdout, r.stderr)
            # One clear line.
            assert r.stderr.startswith("tsambactl: "), r.stderr
        return r


def read(path):
    with open(path) as f:
        return f.read()


def snapshot(sb):
    """Contents of the tables and the list of Maildirs."""
    tables = {t: read(os.path.join(sb.tabledir, t))
              for t in ("domains", "users", "aliases")}
    dirs = sorted(os.path.join(d, u) for d in os.listdir(sb.mailroot)
                  for u in os.listdir(os.path.join(sb.mailroot, d)))
    return tables, dirs


def user_hash(sb, address):
    for line in read(os.path.join(sb.tabledir, "users")).splitlines():
        if line.startswith(address + ":"):
            return line.split(":")[1]
    return None


@pytest.fixture
def fsb():
    """A written (not started) Sandbox and its tsambactl."""
    d = tempfile.mkdtemp(prefix="tsamba-ctl-", dir="/tmp")
    sb = Sandbox(d)
    sb.write()
    yield sb, Ctl(sb.conf)
    shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------------- file backend

def test_check_ok(fsb):
    sb, ctl = fsb
    r = ctl("check")
    lines = r.stdout.splitlines()
    assert all(l.startswith("ok") for l in lines), r.stdout
    assert any("users table" in l and "5 entries" in l for l in lines)


def test_check_bad_line(fsb):
    sb, ctl = fsb
    with open(os.path.join(sb.tabledir, "aliases"), "a") as f:
        f.write("broken line without colon\n")
    r = ctl("check", ok=None)
    assert r.returncode == 1
    assert "FAIL aliases table" in r.stdout and ":5:" in r.stdout


# Hashes as Dovecot wrote them (doveadm pw, Dovecot 2.3) for "Tsamba-Test-pw9".
DOVECOT_SSHA512 = ("{SSHA512}Gk6p6Id2Drz/p58LAQS6R2NImRFS9OZCsDC+ngEr8e6hE0o"
                   "oHN0kAEvCe025MH8gQvMJuCJlizDqFgxolfHJO/RYpRQ=")
DOVECOT_MD5_CRYPT = "{MD5-CRYPT}$1$krz9u8QE$VGKLRRyHrkvV8qB3Iyb1C0"
CRAM_MD5 = ("{CRAM-MD5}29dac59c21bc3017e76359109c7a4fba702c8a936ac73162c42ab9"
            "ea36fde0cf")


def test_check_password_schemes(fsb):
    """check names the users with weak hashes (a warning, exit 0) and
    fails for a hash nobody can log in with (exit 1)."""
    sb, ctl = fsb
    with open(os.path.join(sb.tabledir, "users"), "a") as f:
        f.write("old@example.test:%s::::::\n" % DOVECOT_SSHA512)
        f.write("older@example.test:%s::::::\n" % DOVECOT_MD5_CRYPT)
        f.write("shut@example.test:!::::::\n")
    r = ctl("check")
    out = r.stdout
    assert ("WARN user old@example.test: weak password scheme SSHA512"
            in out), out
    assert ("WARN user older@example.test: weak password scheme MD5-CRYPT"
            in out), out
    assert "WARN user shut@example.test: login disabled" in out
    assert "WARN password hashes of 8 users: 2 weak, 0 unusable" in out
    # strong hashes are not named
    assert "user demo@example.test" not in out
    with open(os.path.join(sb.tabledir, "users"), "a") as f:
        f.write("cram@example.test:%s::::::\n" % CRAM_MD5)
    r = ctl("check", ok=None)
    assert r.returncode == 1, r.stdout
    assert ("FAIL user cram@example.test: password hash cannot be verified"
            ": the user cannot log in" in r.stdout), r.stdout
    assert "FAIL password hashes of 9 users: 2 weak, 1 unusable" in r.stdout


def test_check_bad_config(fsb):
    sb, ctl = fsb
    with open(sb.conf, "a") as f:
        f.write("nonsense statement\n")
    r = ctl("check", ok=None)
    assert r.returncode == 1 and "FAIL config" in r.stdout


def test_domains(fsb):
    sb, ctl = fsb
    ctl("domain", "add", "New.Example")
    assert "new.example" in ctl("domain", "list").stdout.split()
    r = ctl("domain", "add", "new.example", ok=False)
    assert "already hosted" in r.stderr
    ctl("domain", "add", "bad..domain", ok=False)
    # Refused while users or aliases remain.
    r = ctl("domain", "del", "example.test", ok=False)
    assert "still has 5 users" in r.stderr
    r = ctl("domain", "del", "catchall.test", ok=False)
    assert "1 aliases" in r.stderr
    ctl("domain", "del", "new.example")
    assert "new.example" not in ctl("domain", "list").stdout.split()
    ctl("domain", "del", "new.example", ok=False)
    # The comment line is still there.
    assert read(os.path.join(sb.tabledir, "domains")).startswith(
        "# hosted domains\n")


def test_user_add_generated(fsb):
    sb, ctl = fsb
    users = os.path.join(sb.tabledir, "users")
    before = read(users)
    mode = os.stat(users).st_mode
    r = ctl("user", "add", "Neu@Example.Test")
    pw = r.stdout.strip()
    assert r.stdout.count("\n") == 1 and policy_ok(pw), r.stdout
    after = read(users)
    # Old lines (comment included) untouched, one line appended.
    assert after.startswith(before)
    line = after[len(before):]
    assert line.startswith("neu@example.test:{SHA512-CRYPT}$6$")
    assert line.endswith("::::::\n")
    assert verify(user_hash(sb, "neu@example.test"), pw)
    assert not verify(user_hash(sb, "neu@example.test"), pw + "x")
    assert os.stat(users).st_mode == mode
    md = sb.maildir("neu@example.test")
    owner = sb.uid_of("vmail")
    for sub in ("", "cur", "new", "tmp"):
        st = os.stat(os.path.join(md, sub))
        assert stat.S_IMODE(st.st_mode) == 0o700
        assert st.st_uid == owner
    assert "neu@example.test" in ctl("user", "list").stdout.split()
    assert ctl("user", "list", "catchall.test").stdout == ""
    ctl("check")


def test_user_add_refusals(fsb):
    sb, ctl = fsb
    before = snapshot(sb)
    r = ctl("user", "add", "x@example.net", ok=False)
    assert r.stderr == ("tsambactl: user add: domain example.net is not "
                        "hosted\n")
    r = ctl("user", "add", "alice@example.test", ok=False)
    assert "already exists" in r.stderr
    ctl("user", "add", "not an address", ok=False)
    ctl("user", "add", "../x@example.test", ok=False)
    assert snapshot(sb) == before


@pytest.mark.parametrize("pw,reason", [
    ("Sh0rt!", "shorter than 16"),
    ("alllowercase12345!", "no upper-case"),
    ("ALLUPPERCASE12345!", "no lower-case"),
    ("NoDigitsHere-AtAll", "no digit"),
    ("NoSpecials1234567a", "no special"),
])
def test_password_policy(fsb, pw, reason):
    sb, ctl = fsb
    before = snapshot(sb)
    r = ctl("user", "add", "p@example.test", "-p", pw, ok=False)
    assert reason in r.stderr and r.stdout == ""
    r = ctl("user", "add", "p@example.test", "-p", "-", input=pw + "\n",
            ok=False)
    assert reason in r.stderr
    r = ctl("user", "passwd", "alice@example.test", "-p", pw, ok=False)
    assert reason in r.stderr
    assert snapshot(sb) == before


def test_user_add_given_password(fsb):
    sb, ctl = fsb
    r = ctl("user", "add", "p@example.test", "-p", "-",
            input=STRONG + "\n")
    assert r.stdout == ""		# nothing to print: the admin knows it
    assert verify(user_hash(sb, "p@example.test"), STRONG)
    ctl("user", "add", "q@example.test", "-p", STRONG)
    assert verify(user_hash(sb, "q@example.test"), STRONG)


def test_user_passwd(fsb):
    sb, ctl = fsb
    users = os.path.join(sb.tabledir, "users")
    lines = read(users).splitlines()
    old = user_hash(sb, "bob@example.test")
    pw = ctl("user", "passwd", "bob@example.test").stdout.strip()
    assert policy_ok(pw)
    new = user_hash(sb, "bob@example.test")
    assert new != old and verify(new, pw)
    # Only bob's line changed, in place.
    after = read(users).splitlines()
    assert len(after) == len(lines)
    assert [a for a, b in zip(after, lines) if a != b] == [
        "bob@example.test:%s::::::" % new]
    ctl("user", "passwd", "bob@example.test", "-p", STRONG)
    assert verify(user_hash(sb, "bob@example.test"), STRONG)
    ctl("user", "passwd", "nobody@example.test", ok=False)


def test_user_del(fsb):
    sb, ctl = fsb
    md = sb.maildir("n@example.test")
    ctl("user", "add", "n@example.test")
    with open(os.path.join(md, "new", "1.msg"), "w") as f:
        f.write("Subject: keep\n\nme\n")
    ctl("user", "del", "n@example.test")
    assert "n@example.test" not in ctl("user", "list").stdout.split()
    assert os.path.exists(os.path.join(md, "new", "1.msg"))
    ctl("user", "del", "n@example.test", ok=False)
    # Added again: the kept mail is its mail again.
    r = ctl("user", "add", "n@example.test")
    assert "keeps the mail" in r.stderr
    ctl("user", "del", "n@example.test", "--purge")
    assert not os.path.exists(md)


def test_user_add_cleans_stale_tmp(fsb):
    """A kept Maildir taken over by a new user loses what a killed writer
    left in tmp/ more than 36 hours ago, and nothing else."""
    sb, ctl = fsb
    md = sb.maildir("t@example.test")
    ctl("user", "add", "t@example.test")
    ctl("user", "del", "t@example.test")
    now = time.time()
    ages = {"stale": now - 37 * 3600, "fresh": now - 3600}
    for name, t in ages.items():
        path = os.path.join(md, "tmp", name)
        with open(path, "w") as f:
            f.write("half a message")
        os.utime(path, (t, t))
    old = os.path.join(md, "cur", "1.M1P1Q1.host:2,S")
    with open(old, "w") as f:
        f.write("Subject: old\n\nread\n")
    os.utime(old, (now - 100 * 3600, now - 100 * 3600))
    r = ctl("user", "add", "t@example.test")
    assert "keeps the mail" in r.stderr
    assert os.listdir(os.path.join(md, "tmp")) == ["fresh"]
    assert os.path.exists(old)


def test_user_add_maildir_fails(fsb):
    """The mailbox owner cannot create the Maildir: no user row."""
    sb, ctl = fsb
    before = snapshot(sb)
    if sb.root:
        os.chown(sb.mailroot, 0, 0)
        os.chmod(sb.mailroot, 0o755)
    else:
        os.chmod(sb.mailroot, 0o555)
    try:
        r = ctl("user", "add", "m@example.test", ok=False)
        assert "Permission denied" in r.stderr
    finally:
        os.chmod(sb.mailroot, 0o755)
    assert snapshot(sb) == before
    ctl("check")


def test_user_add_row_fails(fsb):
    """The users table cannot be written: the new Maildir goes again."""
    sb, ctl = fsb
    before = snapshot(sb)
    r = ctl("user", "add", "r@example.test", limit_fsize=64, ok=False)
    assert "cannot write" in r.stderr
    assert snapshot(sb) == before
    assert not os.path.exists(sb.maildir("r@example.test"))
    assert [n for n in os.listdir(sb.tabledir) if n.startswith(".")] == []


def test_user_add_concurrent(fsb):
    """Parallel runs wait for each other's lock: no add is lost."""
    sb, ctl = fsb
    procs = [subprocess.Popen([CTL, "-f", sb.conf, "user", "add",
                               "c%d@example.test" % i],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL)
             for i in range(12)]
    for p in procs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    listed = ctl("user", "list").stdout.split()
    assert all("c%d@example.test" % i in listed for i in range(12))


def test_aliases(fsb):
    sb, ctl = fsb
    ctl("alias", "add", "Sales@Example.Test", "alice@example.test",
        "boss@remote.example")
    out = ctl("alias", "list", "example.test").stdout
    assert "sales@example.test: alice@example.test\n" in out
    assert "sales@example.test: boss@remote.example\n" in out
    assert "@catchall.test" not in out
    r = ctl("alias", "add", "sales@example.test", "alice@example.test",
            ok=False)
    assert "already exists" in r.stderr
    r = ctl("alias", "add", "x@example.net", "alice@example.test", ok=False)
    assert "not hosted" in r.stderr
    ctl("alias", "add", "@example.test", "demo@example.test")
    ctl("alias", "del", "sales@example.test", "alice@example.test")
    out = ctl("alias", "list").stdout
    assert "sales@example.test: alice@example.test" not in out
    assert "sales@example.test: boss@remote.example" in out
    # Several destinations on one line: only the one named goes.
    ctl("alias", "del", "team@example.test", "alice@example.test")
    assert ("team@example.test: bob@example.test\n" in
            read(os.path.join(sb.tabledir, "aliases")))
    ctl("alias", "del", "sales@example.test")
    assert "sales@" not in ctl("alias", "list").stdout
    ctl("alias", "del", "sales@example.test", ok=False)
    ctl("check")


def test_alias_comma_rows(fsb):
    """A line whose destination is a comma list is one alias per
    destination to list, add and del; del rewrites just that line."""
    sb, ctl = fsb
    path = os.path.join(sb.tabledir, "aliases")
    with open(path, "a") as f:
        f.write("sales@example.test: alice@example.test, Bob@Example.Test,"
                "carol@remote.example\n")
    out = ctl("alias", "list").stdout
    for d in ("alice@example.test", "Bob@Example.Test",
              "carol@remote.example"):
        assert "sales@example.test: %s\n" % d in out, out
    before = read(path)
    r = ctl("alias", "add", "sales@example.test", "bob@example.test",
            ok=False)
    assert "alias sales@example.test -> bob@example.test already exists" \
        in r.stderr
    assert read(path) == before
    r = ctl("alias", "del", "sales@example.test", "dave@example.test",
            ok=False)
    assert "no alias sales@example.test -> dave@example.test" in r.stderr
    ctl("alias", "del", "sales@example.test", "bob@example.test")
    assert ("sales@example.test: alice@example.test, carol@remote.example\n"
            in read(path)), read(path)
    ctl("alias", "del", "sales@example.test", "carol@remote.example")
    ctl("alias", "del", "sales@example.test", "alice@example.test")
    assert "sales@" not in read(path)
    ctl("check")


def test_pw(fsb):
    sb, ctl = fsb
    h = ctl("pw", "-p", "secret").stdout.strip()
    assert h.startswith("{SHA512-CRYPT}$6$") and verify(h, "secret")
    h = ctl("pw", input="secret\n").stdout.strip()
    assert verify(h, "secret")
    h = ctl("pw", "-s", "SHA256-CRYPT", "-p", "secret").stdout.strip()
    assert h.startswith("{SHA256-CRYPT}$5$") and verify(h, "secret")
    assert ctl("pw", "-s", "BLF-CRYPT", "-p", "x").stdout.startswith(
        "{BLF-CRYPT}$2")
    assert ctl("pw", "-s", "ARGON2ID", "-p", "x").stdout.startswith(
        "{ARGON2ID}$argon2id$")
    r = ctl("pw", "-s", "MD5-CRYPT", "-p", "x", ok=False)
    assert "scheme" in r.stderr
    ctl("pw", input="", ok=False)


def test_usage(fsb):
    sb, ctl = fsb
    assert ctl("frobnicate", ok=None).returncode == 2
    assert ctl("user", ok=None).returncode == 2


# ------------------------------------------------------------- with daemons

@pytest.fixture(scope="module")
def live(sandbox_factory):
    from sandbox import free_port
    port = free_port()
    sb = sandbox_factory("live", extra=[
        "listen on 127.0.0.1 port %d tls-require pki demo auth" % port])
    sb.submission_port = port
    return sb


def test_generated_password_logs_in(live):
    """A generated password works for SMTP AUTH."""
    import smtplib
    from helpers import Raw, tls_context
    ctl = Ctl(live.conf)
    pw = ctl("user", "add", "login@example.test").stdout.strip()

    # Wait until authd has reloaded the users table (the new mailbox is
    # accepted), so that one login attempt decides: failed attempts would
    # count towards a ban.
    def accepted():
        with Raw(live) as s:
            s.banner_and_ehlo()
            s.cmd("MAIL FROM:<x@example.net>")
            code, _ = s.cmd("RCPT TO:<login@example.test>")
            return code == 250
    wait_for(accepted, 10, interval=0.3, what="RCPT accepted")
    with smtplib.SMTP("127.0.0.1", live.submission_port, timeout=30) as s:
        s.ehlo("client.test")
        s.starttls(context=tls_context())
        s.ehlo("client.test")
        assert s.has_extn("auth")
        code, _ = s.login("login@example.test", pw)
        assert code == 235


def test_added_user_receives_mail(live):
    """authd reads what tsambactl wrote (it reloads changed tables)."""
    from helpers import Raw
    ctl = Ctl(live.conf)
    ctl("user", "add", "fresh@example.test")

    def accepted():
        with Raw(live) as s:
            s.banner_and_ehlo()
            s.cmd("MAIL FROM:<x@example.net>")
            code, _ = s.cmd("RCPT TO:<fresh@example.test>")
            return code == 250
    wait_for(accepted, 10, interval=0.3, what="RCPT accepted")


def control_sock(sb):
    return sb.sock("authd.control.sock")


def test_ban(live):
    if not os.path.exists(control_sock(live)):
        pytest.skip("tsamba-authd has no control socket yet")
    ctl = Ctl(live.conf)
    ctl("ban", "add", "192.0.2.7", "1h")
    out = ctl("ban", "list").stdout
    assert any(l.split("\t")[0] == "192.0.2.7" for l in out.splitlines())
    ctl("ban", "del", "192.0.2.7")
    out = ctl("ban", "list").stdout
    assert not any(l.split("\t")[0] == "192.0.2.7"
                   for l in out.splitlines())
    ctl("ban", "add", "not-an-ip", ok=False)
    ctl("ban", "add", "192.0.2.8", "forever", ok=False)


ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"


def test_ban_says_what(live):
    """ban add prints the network as banned (host bits cleared), its end
    and duration; a prefix wider than /16 (IPv4) or /32 (IPv6) needs -f."""
    import re
    if not os.path.exists(control_sock(live)):
        pytest.skip("tsamba-authd has no control socket yet")
    ctl = Ctl(live.conf)
    out = ctl("ban", "add", "192.0.2.77/24", "1h").stdout
    assert re.fullmatch(r"banned 192\.0\.2\.0/24 until %s \(3600s\)\n" %
                        ISO, out), out
    for wide, fam in (("127.0.0.0/4", "IPv4 /16"),
                      ("2001:db8::/31", "IPv6 /32"),
                      ("0.0.0.0/0", "IPv4 /16")):
        r = ctl("ban", "add", wide, ok=False)
        assert "wider than an %s: refused without -f" % fam in r.stderr
    listed = [l.split("\t")[0] for l in ctl("ban", "list").stdout.splitlines()]
    assert "112.0.0.0/4" not in listed and "127.0.0.0/4" not in listed
    assert not any(n.startswith("2001:db8::/3") for n in listed)
    # the limits themselves are accepted, and -f forces a wider one
    ctl("ban", "add", "198.18.0.0/16", "60")
    ctl("ban", "add", "2001:db8::/32", "60")
    out = ctl("ban", "add", "-f", "198.18.0.0/15", "2m").stdout
    assert re.fullmatch(r"banned 198\.18\.0\.0/15 until %s \(120s\)\n" %
                        ISO, out), out
    listed = [l.split("\t")[0] for l in ctl("ban", "list").stdout.splitlines()]
    assert {"192.0.2.0/24", "198.18.0.0/16", "198.18.0.0/15",
            "2001:db8::/32"} <= set(listed), listed
    for n in ("192.0.2.0/24", "198.18.0.0/16", "198.18.0.0/15",
              "2001:db8::/32"):
        ctl("ban", "del", n)


def test_ban_no_daemon(fsb):
    sb, ctl = fsb
    r = ctl("ban", "list", ok=False)
    assert "cannot reach tsamba-authd" in r.stderr


# ------------------------------------------------------------- mysql backend
#
# The server: helper fixture regress/integration/mariadb.py when it is
# there, or an already running server named by TSAMBA_TEST_MYSQL_SOCKET
# (its root user, no password).  Each test gets its own database.

SCHEMA = [
    "CREATE TABLE domains (name VARCHAR(255) NOT NULL PRIMARY KEY)",
    "CREATE TABLE users (mail VARCHAR(255) NOT NULL PRIMARY KEY, "
    "c_password VARCHAR(255) NOT NULL, quota BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE aliases (source VARCHAR(255) NOT NULL, "
    "destination VARCHAR(255) NOT NULL, PRIMARY KEY (source, destination))",
    "INSERT INTO domains VALUES ('example.test')",
    "INSERT INTO users (mail, c_password) VALUES "
    "('alice@example.test', '{PLAIN}x')",
]


class Server:
    """Where a MariaDB server listens and how to run SQL on it."""

    def __init__(self, socket_path, user="root", password=""):
        self.socket = socket_path
        self.user = user
        self.password = password

    def sql(self, stmt, db=None):
        cmd = ["mariadb", "--no-defaults", "-S", self.socket, "-u",
               self.user, "-N", "-B"]
        if self.password:
            cmd.append("-p" + self.password)
        if db:
            cmd.append(db)
        r = subprocess.run(cmd + ["-e", stmt], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return [l.split("\t") for l in r.stdout.splitlines()]


@pytest.fixture(scope="module")
def mariadb_server():
    """A private server of regress/integration/mariadb.py, or None."""
    if os.environ.get("TSAMBA_TEST_MYSQL_SOCKET"):
        yield None
        return
    if not os.path.exists(os.path.join(HERE, "mariadb.py")):
        yield None
        return
    import mariadb as fixture_mod	# regress/integration/mariadb.py
    if not fixture_mod.available():
        yield None
        return
    with fixture_mod.running("tsamba-ctl-mariadb-") as srv:
        yield srv


@pytest.fixture
def mysb(mariadb_server):
    if os.environ.get("TSAMBA_TEST_MYSQL_SOCKET"):
        srv = Server(os.environ["TSAMBA_TEST_MYSQL_SOCKET"])
    elif mariadb_server is not None:
        srv = Server(mariadb_server.socket)
    else:
        pytest.skip("no MariaDB server: regress/integration/mariadb.py or "
                    "the mariadb-server package is missing")
    db = "tsambactl_%d" % os.getpid() + "_" + os.urandom(3).hex()
    srv.sql("CREATE DATABASE %s" % db)
    for stmt in SCHEMA:
        srv.sql(stmt, db)
    d = tempfile.mkdtemp(prefix="tsamba-ctl-my-", dir="/tmp")
    myconf = os.path.join(d, "mysql.conf")
    with open(myconf, "w") as f:
        f.write("socket = %s\nuser = %s\npassword = \"%s\"\n"
                "database = %s\n" % (srv.socket, srv.user, srv.password, db))
    os.chmod(myconf, 0o600)
    sb = Sandbox(d, extra=['table %s mysql "%s"' % (t, myconf)
                           for t in ("domains", "users", "aliases")])
    sb.write()
    sb.db = db
    sb.myconf = myconf
    sb.srv = srv
    yield sb, Ctl(sb.conf)
    srv.sql("DROP DATABASE %s" % db)
    shutil.rmtree(d, ignore_errors=True)


def rows(sb, stmt):
    return sb.srv.sql(stmt, sb.db)


def test_mysql_check(mysb):
    sb, ctl = mysb
    out = ctl("check").stdout
    assert "connected to" in out and "ok   users table: query_user_add" \
        in out
    with open(sb.myconf, "a") as f:
        f.write("query_user_list = SELECT mail, c_password FROM users\n")
    r = ctl("check", ok=None)
    assert r.returncode == 1
    assert "FAIL users table: query_user_list" in r.stdout


def test_mysql_check_password_schemes(mysb):
    """The hashes are read per user (query_user) and judged as for the
    file backend."""
    sb, ctl = mysb
    rows(sb, "INSERT INTO users (mail, c_password) VALUES "
         "('old@example.test', '%s'), ('cram@example.test', '%s')" %
         (DOVECOT_SSHA512, CRAM_MD5))
    r = ctl("check", ok=None)
    assert r.returncode == 1, r.stdout
    assert ("WARN user old@example.test: weak password scheme SSHA512"
            in r.stdout), r.stdout
    # alice has {PLAIN}x
    assert "WARN user alice@example.test: weak password scheme PLAIN" \
        in r.stdout
    assert "FAIL user cram@example.test: password hash cannot be " \
        "verified" in r.stdout
    rows(sb, "DELETE FROM users WHERE mail = 'cram@example.test'")
    r = ctl("check")
    assert "WARN password hashes of 2 users: 2 weak, 0 unusable" in \
        r.stdout, r.stdout


def test_mysql_unreachable(mysb):
    sb, ctl = mysb
    text = read(sb.myconf).replace(sb.srv.socket, "/nonexistent/sock")
    with open(sb.myconf, "w") as f:
        f.write(text)
    r = ctl("user", "list", ok=False)
    assert "cannot connect to the database" in r.stderr
    assert ctl("check", ok=None).returncode == 1


def test_mysql_domains(mysb):
    sb, ctl = mysb
    ctl("domain", "add", "Other.Example")
    assert ["other.example"] in rows(sb, "SELECT name FROM domains")
    ctl("domain", "add", "other.example", ok=False)
    r = ctl("domain", "del", "example.test", ok=False)
    assert "still has 1 users" in r.stderr
    ctl("domain", "del", "other.example")
    assert ctl("domain", "list").stdout == "example.test\n"


def test_mysql_users(mysb):
    sb, ctl = mysb
    pw = ctl("user", "add", "bob@example.test").stdout.strip()
    assert policy_ok(pw)
    (h,), = rows(sb, "SELECT c_password FROM users WHERE mail = "
                 "'bob@example.test'")
    assert h.startswith("{SHA512-CRYPT}$6$") and verify(h, pw)
    assert os.path.isdir(os.path.join(sb.maildir("bob@example.test"),
                                      "new"))
    ctl("user", "add", "bob@example.test", ok=False)
    ctl("user", "add", "x@example.net", ok=False)
    ctl("user", "add", "w@example.test", "-p", "weak", ok=False)
    # A quote and a '%' are just characters.
    odd = "o'brien%x@example.test"
    ctl("user", "add", odd, "-p", STRONG)
    assert [odd] in rows(sb, "SELECT mail FROM users")
    assert ctl("user", "list", "example.test").stdout.split() == sorted(
        ["alice@example.test", "bob@example.test", odd])
    ctl("user", "passwd", "bob@example.test", "-p", "-", input=STRONG)
    (h,), = rows(sb, "SELECT c_password FROM users WHERE mail = "
                 "'bob@example.test'")
    assert verify(h, STRONG)
    ctl("user", "passwd", "nobody@example.test", ok=False)
    ctl("user", "del", "bob@example.test", "--purge")
    assert not os.path.exists(sb.maildir("bob@example.test"))
    ctl("user", "del", "bob@example.test", ok=False)
    assert ["bob@example.test"] not in rows(sb, "SELECT mail FROM users")


def test_mysql_row_fails(mysb):
    """The insert fails: the Maildir made for it goes again."""
    sb, ctl = mysb
    with open(sb.myconf, "a") as f:
        f.write("query_user_add = INSERT INTO nosuchtable (mail, "
                "c_password) VALUES (?, ?)\n")
    ctl("user", "add", "r@example.test", ok=False)
    assert not os.path.exists(sb.maildir("r@example.test"))
    assert ["r@example.test"] not in rows(sb, "SELECT mail FROM users")


def test_mysql_maildir_fails(mysb):
    sb, ctl = mysb
    if sb.root:
        os.chown(sb.mailroot, 0, 0)
        os.chmod(sb.mailroot, 0o755)
    else:
        os.chmod(sb.mailroot, 0o555)
    try:
        ctl("user", "add", "m@example.test", ok=False)
    finally:
        os.chmod(sb.mailroot, 0o755)
    assert ["m@example.test"] not in rows(sb, "SELECT mail FROM users")


def test_mysql_aliases(mysb):
    sb, ctl = mysb
    ctl("alias", "add", "team@example.test", "alice@example.test",
        "ext@remote.example")
    assert sorted(rows(sb, "SELECT source, destination FROM aliases")) == [
        ["team@example.test", "alice@example.test"],
        ["team@example.test", "ext@remote.example"]]
    ctl("alias", "add", "team@example.test", "alice@example.test", ok=False)
    # Nothing of a refused add is kept (one transaction).
    ctl("alias", "add", "team@example.test", "new@example.test",
        "alice@example.test", ok=False)
    assert len(rows(sb, "SELECT * FROM aliases")) == 2
    ctl("alias", "del", "team@example.test", "alice@example.test")
    assert ctl("alias", "list").stdout == \
        "team@example.test: ext@remote.example\n"
    ctl("alias", "del", "team@example.test")
    assert rows(sb, "SELECT * FROM aliases") == []
    ctl("alias", "del", "team@example.test", ok=False)


def test_mysql_alias_comma_rows(mysb):
    """A Postfix-style row "a, b, c": listed one line per destination,
    add refuses a pair inside it, del removes one destination by
    rewriting the row."""
    sb, ctl = mysb
    rows(sb, "INSERT INTO aliases (source, destination) VALUES "
         "('sales@example.test', 'alice@example.test, Bob@Example.Test,"
         "carol@remote.example'), ('sales@example.test', 'dan@example.test')")
    assert ctl("alias", "list").stdout == (
        "sales@example.test: alice@example.test\n"
        "sales@example.test: Bob@Example.Test\n"
        "sales@example.test: carol@remote.example\n"
        "sales@example.test: dan@example.test\n")
    r = ctl("alias", "add", "sales@example.test", "bob@example.test",
            ok=False)
    assert "alias sales@example.test -> bob@example.test already exists" \
        in r.stderr
    assert len(rows(sb, "SELECT * FROM aliases")) == 2
    r = ctl("alias", "del", "sales@example.test", "erin@example.test",
            ok=False)
    assert "no alias sales@example.test -> erin@example.test" in r.stderr
    ctl("alias", "del", "sales@example.test", "bob@example.test")
    assert sorted(rows(sb, "SELECT source, destination FROM aliases")) == [
        ["sales@example.test", "alice@example.test, carol@remote.example"],
        ["sales@example.test", "dan@example.test"]]
    ctl("alias", "del", "sales@example.test", "dan@example.test")
    ctl("alias", "del", "sales@example.test", "alice@example.test")
    assert rows(sb, "SELECT source, destination FROM aliases") == [
        ["sales@example.test", "carol@remote.example"]]
    ctl("alias", "del", "sales@example.test")
    assert rows(sb, "SELECT * FROM aliases") == []


def test_mysql_real_schema_over_tcp(mariadb_server):
    """The schema admins have (ids, active flags), the unprivileged
    mailuser whose password holds a quote and a '%', over TCP."""
    if mariadb_server is None:
        pytest.skip("no private MariaDB server from mariadb.py")
    d = tempfile.mkdtemp(prefix="tsamba-ctl-my-", dir="/tmp")
    try:
        myconf = os.path.join(d, "mysql.conf")
        with open(myconf, "w") as f:
            f.write(mariadb_server.conf_text(tcp=True))
        sb = Sandbox(d, extra=['table %s mysql "%s"' % (t, myconf)
                               for t in ("domains", "users", "aliases")])
        sb.write()
        ctl = Ctl(sb.conf)
        ctl("check")
        ctl("domain", "add", "tcp.example")
        pw = ctl("user", "add", "u@tcp.example").stdout.strip()
        out = mariadb_server.sql("SELECT c_password FROM users WHERE mail "
                                 "= 'u@tcp.example'", "mailserver")
        assert verify(out.strip(), pw)
        ctl("alias", "add", "@tcp.example", "u@tcp.example")
        assert "@tcp.example: u@tcp.example" in ctl("alias", "list",
                                                    "tcp.example").stdout
        ctl("alias", "del", "@tcp.example")
        ctl("user", "del", "u@tcp.example", "--purge")
        ctl("domain", "del", "tcp.example")
        assert "tcp.example" not in ctl("domain", "list").stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)
