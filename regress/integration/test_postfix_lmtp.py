"""Postfix, as Debian ships it, delivers into tsamba-lmtpd over LMTP:
a private Postfix instance on another loopback port whose virtual
transport is lmtp:unix:<the sandbox's lmtp.sock>, which admits Postfix's
lmtp client (user postfix) through `lmtp listen on socket allow
"postfix"`."""

import os
import shutil
import signal
import subprocess

import pytest

from helpers import SENDER, body_intact, make_message, read, wait_copy
from sandbox import descendants, free_port, proc_alive, wait_for

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not shutil.which("postfix"), reason="postfix "
                       "missing"),
]

MASTER_CF = """\
127.0.0.1:%(port)d inet n -  n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A private Postfix instance inside the sandbox directory, stopped
    by its master pid."""

    def __init__(self, sb, transport):
        self.base = os.path.join(sb.dir, "postfix")
        self.etc = os.path.join(self.base, "etc")
        self.spool = os.path.join(self.base, "spool")
        self.data = os.path.join(self.base, "data")
        self.maillog = os.path.join(self.base, "maillog")
        self.port = free_port()
        self.master = None
        for d in (self.etc, self.spool, self.data):
            os.makedirs(d, exist_ok=True)
        shutil.chown(self.data, "postfix")
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            for u in sb.users:
                f.write("%s OK\n" % sb.address(u))
            # Known to Postfix, unknown to tsamba.
            f.write("ghost@%s OK\n" % sb.domain)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("\n".join([
                "compatibility_level = 3.6",
                "queue_directory = " + self.spool,
                "data_directory = " + self.data,
                "command_directory = /usr/sbin",
                "daemon_directory = /usr/lib/postfix/sbin",
                "shlib_directory = /usr/lib/postfix",
                "meta_directory = /etc/postfix",
                "mail_owner = postfix",
                "setgid_group = postdrop",
                "myhostname = postfix.test",
                "mydomain = postfix.test",
                "mydestination =",
                "relay_domains =",
                "local_recipient_maps =",
                "alias_maps =",
                "alias_database =",
                "inet_interfaces = 127.0.0.1",
                "inet_protocols = ipv4",
                "mynetworks = 127.0.0.0/8",
                "biff = no",
                "virtual_mailbox_domains = " + sb.domain,
                "virtual_mailbox_maps = texthash:%s/vmailbox" % self.etc,
                "virtual_transport = " + transport,
                "maillog_file = " + self.maillog,
                "maillog_file_prefixes = " + self.base,
                ""]))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF % {"port": self.port})

    def postfix(self, *args):
        return subprocess.run(["postfix", "-c", self.etc] + list(args),
                              capture_output=True, text=True, timeout=60,
                              start_new_session=True)

    def start(self):
        p = self.postfix("check")
        assert p.returncode == 0, p.stdout + p.stderr
        p = self.postfix("start")
        assert p.returncode == 0, p.stdout + p.stderr + self.log()
        pidfile = os.path.join(self.spool, "pid", "master.pid")

        def master():
            try:
                with open(pidfile) as f:
                    return int(f.read().strip())
            except (OSError, ValueError):
                return None
        self.master = wait_for(master, 15, what="postfix master.pid")
        wait_for(self.answers, 15, what="postfix smtpd")

    def answers(self):
        import socket
        try:
            with socket.create_connection(("127.0.0.1", self.port), 2):
                return True
        except OSError:
            return False

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if not self.master or not proc_alive(self.master):
            return
        tree = descendants(self.master)
        os.kill(self.master, signal.SIGTERM)
        try:
            wait_for(lambda: not any(proc_alive(p) for p in tree), 15,
                     what="postfix to stop")
        except TimeoutError:
            for p in tree:
                if proc_alive(p):
                    os.kill(p, signal.SIGKILL)


@pytest.fixture(scope="module")
def sb(sandbox_factory):
    """Postfix's lmtp client runs as the postfix user: allowed."""
    return sandbox_factory("sb", limits={"sessions-per-ip": 300},
                           lmtp_allow=("postfix",))


@pytest.fixture(scope="module")
def postfix(sb):
    pf = Postfix(sb, "lmtp:unix:" + sb.lmtp_sock)
    try:
        pf.start()
        yield pf
    finally:
        pf.stop()


def send_via_postfix(pf, rcpts, subject):
    import smtplib
    msgid, msg = make_message(rcpts, subject)
    with smtplib.SMTP("127.0.0.1", pf.port, timeout=30) as s:
        s.sendmail(SENDER, rcpts, msg)
    return msgid, msg


def test_postfix_delivers_over_lmtp(sb, postfix):
    rcpt = sb.address(sb.users[1])
    msgid, sent = send_via_postfix(postfix, [rcpt], "via postfix")
    try:
        data = read(wait_copy(sb, rcpt, msgid, timeout=60))
    except TimeoutError:
        pytest.fail("not delivered; postfix log:\n" + postfix.log()[-3000:])
    assert body_intact(data, sent)
    assert b"postfix.test" in data		# Postfix's Received header


def test_postfix_several_recipients_one_transaction(sb, postfix):
    rcpts = [sb.address(u) for u in sb.users[1:4]]
    msgid, sent = send_via_postfix(postfix, rcpts, "three at once")
    for r in rcpts:
        assert body_intact(read(wait_copy(sb, r, msgid, timeout=60)), sent)


def test_postfix_unknown_user_gets_5xx_from_lmtpd(sb, postfix):
    """A user Postfix believes in but tsamba does not: lmtpd answers
    550 for that recipient only, and Postfix bounces."""
    ghost = "ghost@" + sb.domain
    rcpt = sb.address(sb.users[2])
    msgid, _ = send_via_postfix(postfix, [rcpt, ghost], "one ghost")
    wait_copy(sb, rcpt, msgid, timeout=60)
    def bounced():
        return [line for line in postfix.log().splitlines()
                if "to=<%s>" % ghost in line and "status=bounced" in line]
    line = wait_for(bounced, 60, what="postfix to bounce the ghost")[0]
    assert "lmtp" in line and " 550" in line, line
