"""Roles: each process role has its own uid, and the servers answer a
role only the questions it has business with.  The tests take the role
of a process by becoming its user (fork, setuid) and then speak the
protocol themselves: the lmtp engine's and the mta's uids may not check
a password or look up recipients on auth.sock, the smtp engine's may;
an unprivileged local user cannot deliver through lmtp.sock, a user
named in `lmtp listen on socket allow` can."""

import os
import pickle
import pwd
import socket
import subprocess
import traceback

import pytest

from helpers import make_message, read, send, wait_copy
from imsgclient import AUTH_OK, OK, Client
from sandbox import ensure_system_user, wait_for

pytestmark = pytest.mark.root

ALLOWED = "_tsambatlmtp"	# named in "allow"
# Shares ALLOWED's group, so the socket's file mode lets it connect:
# only the SO_PEERCRED check of the engine turns it away.
STRANGER = "_tsambatstrg"


def as_user(name, fn, *args):
    """fn(*args) run in a child that became user name; its result, or
    the exception it raised, re-raised here."""
    pw = pwd.getpwnam(name)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            out = ("ok", fn(*args))
        except BaseException as e:
            out = ("err", "%s: %s\n%s" % (type(e).__name__, e,
                                          traceback.format_exc()))
        with os.fdopen(w, "wb") as f:
            f.write(pickle.dumps(out))
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind == "err":
        raise AssertionError("as %s: %s" % (name, value))
    return value


@pytest.fixture(scope="module")
def sb(sandbox_factory):
    ensure_system_user(ALLOWED)
    if not _exists(STRANGER):
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--gid", ALLOWED, "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", STRANGER],
                       check=True)
    return sandbox_factory("sb", lmtp_allow=(ALLOWED,))


def _exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


# ------------------------------------------------------------- auth.sock

def ask(path, what, *args):
    """One request on a fresh channel: ("answer", value) or ("dropped",
    None) when authd closed the channel instead of answering."""
    c = Client(path)
    try:
        if what == "login":
            return ("answer", c.login(*args))
        if what == "rcpt":
            return ("answer", c.rcpt(*args))
        if what == "user":
            return ("answer", c.user(*args)[:2])
        if what == "ban":
            return ("answer", c.check_ban(*args))
        raise ValueError(what)
    except (TypeError, ConnectionResetError, BrokenPipeError):
        # recv() answered None: the channel was closed.
        return ("dropped", None)
    finally:
        c.close()


def refused_in_log(sb, role, user, question):
    uid = pwd.getpwnam(user).pw_uid
    want = "uid %d " % uid
    return any(want in line and "(role %s) may not ask %s" %
               (role, question) in line
               for line in sb.log("authd").splitlines())


def test_smtp_engine_may_check_a_password(sb):
    user = sb.role_user("smtpd")
    got = as_user(user, ask, sb.sock("auth.sock"), "login",
                  sb.demo_user, sb.password, "192.0.2.10")
    assert got == ("answer", (AUTH_OK, sb.demo_user))
    status, rcpts = as_user(user, ask, sb.sock("auth.sock"), "rcpt",
                            sb.demo_user)[1]
    assert status == OK and rcpts


@pytest.mark.parametrize("role,user", [("lmtp", "lmtpd"), ("mta", "mta")])
def test_other_roles_may_not_check_a_password(sb, role, user):
    name = sb.role_user(user)
    got = as_user(name, ask, sb.sock("auth.sock"), "login",
                  sb.demo_user, sb.password, "192.0.2.11")
    assert got == ("dropped", None)
    wait_for(lambda: refused_in_log(sb, role, name, "LOGIN"), 10,
             what="authd to log the refused LOGIN")


@pytest.mark.parametrize("role,user", [("lmtp", "lmtpd"), ("mta", "mta")])
def test_other_roles_may_not_look_up_recipients(sb, role, user):
    name = sb.role_user(user)
    got = as_user(name, ask, sb.sock("auth.sock"), "rcpt", sb.demo_user)
    assert got == ("dropped", None)
    wait_for(lambda: refused_in_log(sb, role, name, "LOOKUP_RCPT"), 10,
             what="authd to log the refused LOOKUP_RCPT")


def test_mta_may_not_look_up_a_mailbox(sb):
    name = sb.role_user("mta")
    got = as_user(name, ask, sb.sock("auth.sock"), "user", sb.demo_user)
    assert got == ("dropped", None)


def test_lmtp_engine_may_look_up_a_mailbox(sb):
    got = as_user(sb.role_user("lmtpd"), ask, sb.sock("auth.sock"),
                  "user", sb.demo_user)
    assert got[0] == "answer" and got[1][0] == OK


def test_a_refused_role_does_not_stop_the_others(sb):
    as_user(sb.role_user("lmtpd"), ask, sb.sock("auth.sock"), "login",
            sb.demo_user, "wrong", "192.0.2.12")
    rcpt = sb.address(sb.users[1])
    msgid, _, _ = send(sb, rcpt)
    wait_copy(sb, rcpt, msgid)


# ------------------------------------------------------------- lmtp.sock

def lmtp_deliver(path, rcpt, msg):
    """One LMTP transaction; the replies, or ("refused", text) when the
    server turned us away at the greeting."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(path)
    except PermissionError as e:
        return ("eacces", str(e))
    f = s.makefile("rb")

    def reply():
        lines = []
        while True:
            line = f.readline()
            if not line:
                return lines
            lines.append(line.decode().rstrip("\r\n"))
            if line[3:4] != b"-":
                return lines

    greeting = reply()
    if not greeting or not greeting[0].startswith("220"):
        s.close()
        return ("refused", greeting)
    out = []
    for cmd in (b"LHLO test.example\r\n", b"MAIL FROM:<roles@test.example>"
                b"\r\n", b"RCPT TO:<" + rcpt.encode() + b">\r\n",
                b"DATA\r\n"):
        s.sendall(cmd)
        out.append(reply()[-1])
    s.sendall(msg + b".\r\n")	# no line starts with a dot
    out.append(reply()[-1])
    s.sendall(b"QUIT\r\n")
    s.close()
    return ("session", out)


def test_lmtp_socket_not_world_writable(sb):
    mode = os.stat(sb.lmtp_sock).st_mode & 0o777
    assert mode & 0o006 == 0, oct(mode)
    assert os.stat(sb.lmtp_sock).st_uid == sb.uid_of("queue")


def test_unprivileged_user_cannot_deliver(sb):
    rcpt = sb.address(sb.users[2])
    msgid, msg = make_message([rcpt], "from nobody", body="hi\n")
    kind, _ = as_user("nobody", lmtp_deliver, sb.lmtp_sock, rcpt, msg)
    assert kind in ("eacces", "refused")
    with pytest.raises(TimeoutError):
        wait_copy(sb, rcpt, msgid, timeout=2)


def test_stranger_in_the_group_gets_421(sb):
    """The file mode lets this user in (the socket's group is its own):
    the engine's peer check answers 421 and logs its uid."""
    rcpt = sb.address(sb.users[2])
    msgid, msg = make_message([rcpt], "from a stranger", body="hi\n")
    kind, text = as_user(STRANGER, lmtp_deliver, sb.lmtp_sock, rcpt,
                         msg)
    assert kind == "refused" and text and text[0].startswith("421 4.7.0"), \
        (kind, text)
    uid = pwd.getpwnam(STRANGER).pw_uid
    wait_for(lambda: "lmtp.sock: uid %d pid" % uid in sb.log("lmtpd"), 10,
             what="lmtpd to log the refused uid")
    with pytest.raises(TimeoutError):
        wait_copy(sb, rcpt, msgid, timeout=2)


def test_allowed_user_delivers(sb):
    rcpt = sb.address(sb.users[3])
    msgid, msg = make_message([rcpt], "from an allowed user", body="hi\n")
    kind, replies = as_user(ALLOWED, lmtp_deliver, sb.lmtp_sock, rcpt,
                            msg)
    assert kind == "session", replies
    assert replies[-1].startswith("250"), replies
    assert msgid.encode() in read(wait_copy(sb, rcpt, msgid))


# ------------------------------------------------------------- tsambactl

def ctl_check(conf):
    ctl = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "ctl", "tsambactl")
    return subprocess.run([ctl, "-f", conf, "check"], capture_output=True,
                          text=True, timeout=60)


def test_check_names_a_missing_role_user(sb, tmp_path):
    """An upgrade that forgot to create a role's user is caught by
    `tsambactl check` before a daemon fails to start."""
    r = ctl_check(sb.conf)
    assert r.returncode == 0 and "ok   users " in r.stdout, r.stdout
    conf = tmp_path / "tsamba.conf"
    conf.write_text(open(sb.conf).read() +
                    'user lmtpd "_tsamba_no_such_user"\n')
    r = ctl_check(str(conf))
    assert r.returncode == 1, r.stdout
    assert "FAIL user lmtpd: _tsamba_no_such_user does not exist" in \
        r.stdout


def test_check_warns_about_roles_sharing_a_user(sb, tmp_path):
    conf = tmp_path / "tsamba.conf"
    conf.write_text(open(sb.conf).read() + 'user mta "%s"\n' %
                    sb.role_user("smtpd"))
    r = ctl_check(str(conf))
    assert ("WARN user smtpd and user mta are both %s" %
            sb.role_user("smtpd")) in r.stdout, r.stdout


# ------------------------------------------------------------- identities

def test_engines_connect_with_their_own_uids(sb):
    """The parents connect for their chrooted engines, but with the
    engine's uid: authd sees the smtp and the lmtp engine (not root),
    and the queue sees the smtp engine."""
    rcpt = sb.address(sb.users[4])
    msgid, _, _ = send(sb, rcpt)
    wait_copy(sb, rcpt, msgid)
    want = [
        ("authd", "uid %d pid %d (role smtp) connected" %
         (sb.uid_of("smtpd"), sb.pid("smtpd"))),
        ("authd", "uid %d pid %d (role lmtp) connected" %
         (sb.uid_of("lmtpd"), sb.pid("lmtpd"))),
        ("queue", "client uid %d pid %d connected" %
         (sb.uid_of("smtpd"), sb.pid("smtpd"))),
    ]
    for daemon, line in want:
        assert line in sb.log(daemon), (daemon, line)
