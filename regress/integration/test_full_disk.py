"""A full disk: small tmpfs mounts over the sandbox's spool and mail root,
filled up by a root-owned file.  A full spool refuses the message being
received with a 4xx and rolls its file back; a full mail root defers
deliveries (452 4.2.2) and keeps the mail queued.  Either way the daemons
keep serving, nothing half-written is left behind, and once space is free
again every message answered 250 arrives."""

import errno
import os
import re
import socket
import stat
import subprocess
import tempfile

import pytest

from helpers import (SENDER, Raw, body_intact, copies, make_message,
                     msgid_of, MsgIndex, read, send, wait_copy)
from sandbox import is_root, wait_for



def can_mount_tmpfs():
    """Root in a container without CAP_SYS_ADMIN cannot mount."""
    if not is_root():
        return False
    d = tempfile.mkdtemp(prefix="tsamba-mountprobe-", dir="/tmp")
    try:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k",
                           "tsamba-probe", d],
                          stderr=subprocess.DEVNULL).returncode != 0:
            return False
        subprocess.run(["umount", d])
        return True
    finally:
        os.rmdir(d)


pytestmark = pytest.mark.skipif(
    not can_mount_tmpfs(), reason="mounts tmpfs over the spool and the "
    "mail root (needs root allowed to mount)")

TMPFS_SIZE = "2m"
FILLER = "filler"
TIMEOUT = 30


# ------------------------------------------------------------ the mounts

def mount_tmpfs(path, size):
    """A tmpfs over path with the owner and mode the harness gave path."""
    st = os.stat(path)
    opts = "size=%s,mode=%o,uid=%d,gid=%d" % (
        size, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tsamba-fulldisk",
                    path], check=True)


def umount(path):
    if not os.path.ismount(path):
        return
    if subprocess.run(["umount", path]).returncode != 0:
        # Something still has a file open in there: detach it anyway,
        # the mount must not outlive the test.
        subprocess.run(["umount", "-l", path], check=True)


@pytest.fixture(scope="module")
def sb(sandbox_factory):
    mounted = []

    def mount_both(box):
        for path in (box.spool, box.mailroot):
            mount_tmpfs(path, TMPFS_SIZE)
            mounted.append(path)

    box = None
    try:
        box = sandbox_factory(
            "fulldisk", before_start=mount_both,
            limits={"sessions-per-ip": 50},
            queue={"retry-min": "1s", "retry-max": "2s"})
        yield box
    finally:
        # The daemons hold their chroot and working directory inside
        # the mounts: stop them first (conftest's stop later is a no-op).
        try:
            if box is not None:
                box.stop()
        finally:
            for path in reversed(mounted):
                umount(path)


# ------------------------------------------------------------ filling up

def fill(directory):
    """Write a root-owned file into directory until the file system
    refuses one more byte; its path."""
    path = os.path.join(directory, FILLER)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        size = 1 << 16
        while True:
            try:
                os.write(fd, b"x" * size)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if size == 1:
                    break
                size //= 2
    finally:
        os.close(fd)
    assert_full(directory)
    return path


def assert_full(directory):
    """A new file in directory cannot take a single byte."""
    probe = os.path.join(directory, "probe")
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with pytest.raises(OSError) as e:
            os.write(fd, b"x")
        assert e.value.errno == errno.ENOSPC
    finally:
        os.close(fd)
        os.unlink(probe)


class Filled:
    """fill() for the length of a with block, and after it on failure."""

    def __init__(self, directory):
        self.directory = directory
        self.path = None

    def __enter__(self):
        self.path = fill(self.directory)
        return self

    def free(self):
        if self.path is not None:
            os.unlink(self.path)
            self.path = None

    def __exit__(self, *exc):
        self.free()


# ------------------------------------------------------------ helpers

def daemons_alive(sb):
    return sorted(sb.running()) == sorted(("authd", "lmtpd", "queue",
                                           "smtpd"))


def queued_as(reply):
    m = re.search(r"queued as ([0-9a-f]{16})", reply)
    assert m, reply
    return m.group(1)


def spool_files(sb, sub):
    return sorted(os.listdir(os.path.join(sb.spool, sub)))


def raw_transaction(raw, rcpt, msg):
    """MAIL, RCPT, DATA, the dot-stuffed body: the reply to the body (or
    to DATA when DATA itself is refused)."""
    code, text = raw.cmd("MAIL FROM:<%s>" % SENDER)
    assert code == 250, (code, text)
    code, text = raw.cmd("RCPT TO:<%s>" % rcpt)
    assert code == 250, (code, text)
    code, text = raw.cmd("DATA")
    if code != 354:
        return code, text
    stuffed = msg.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    raw.send(stuffed + b".\r\n")
    return raw.reply()


def lmtp_lhlo(sb):
    """lmtpd answers a new LMTP session: (greeting, LHLO reply code)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(sb.lmtp_sock)
        f = s.makefile("rb")
        greeting = f.readline(1024)
        s.sendall(b"LHLO client.test\r\n")
        while True:
            line = f.readline(1024)
            if line[3:4] != b"-":
                break
        s.sendall(b"QUIT\r\n")
        return greeting[:3], line[:3]


def maildir_files(sb, sub):
    """Every file in the tmp/, new/ or cur/ directory of every Maildir."""
    found = []
    for domain in sorted(os.listdir(sb.mailroot)):
        ddir = os.path.join(sb.mailroot, domain)
        if not os.path.isdir(ddir):
            continue
        for user in sorted(os.listdir(ddir)):
            d = os.path.join(ddir, user, sub)
            if os.path.isdir(d):
                found.extend(os.path.join(d, n) for n in os.listdir(d))
    return sorted(found)


def snapshot(sb):
    """{path: bytes} of every delivered message."""
    return {p: read(p) for p in sb.all_messages()}


def assert_kept(sb, before):
    """Every message delivered before is still there, unchanged (a move
    from new/ to cur/ would be a reader's doing; there is none here)."""
    for path, data in before.items():
        assert os.path.exists(path), "delivered message lost: %s" % path
        assert read(path) == data, "delivered message changed: %s" % path


# ------------------------------------------------------------ the tests

def test_spool_full_refuses_then_recovers(sb):
    alice = sb.address("alice")
    earlier, sent, _ = send(sb, alice, "before the spool fills")
    wait_copy(sb, alice, earlier)
    before = snapshot(sb)
    queue_before = spool_files(sb, "queue")

    _, big = make_message(alice, "refused", body=("z" * 76 + "\n") * 200)
    with Filled(sb.spool) as full, Raw(sb) as raw:
        assert "CHUNKING" in raw.banner_and_ehlo()
        code, text = raw_transaction(raw, alice, big)
        reply = " ".join(text)
        assert code is not None and code // 100 == 4, (code, reply)
        assert code in (451, 452), (code, reply)
        assert re.match(r"4\.3\.[01] ", reply), reply
        assert re.search(r"storage|try again", reply, re.I), reply

        # The session and the daemon go on; BDAT is refused the same way.
        assert raw.cmd("NOOP")[0] == 250
        assert raw.cmd("RSET")[0] == 250
        assert raw.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        assert raw.cmd("RCPT TO:<%s>" % alice)[0] == 250
        raw.send(b"BDAT %d LAST\r\n" % len(big) + big)
        code, text = raw.reply()
        assert code is not None and code // 100 == 4, (code, text)
        assert re.match(r"4\.3\.[01] ", " ".join(text)), text
        assert raw.cmd("RSET")[0] == 250
        with Raw(sb) as other:
            other.banner_and_ehlo()
            assert other.cmd("NOOP")[0] == 250
            assert other.cmd("QUIT")[0] == 221
        assert daemons_alive(sb), sb.running()

        # Rolled back: nothing of it in incoming/, nothing new queued.
        wait_for(lambda: spool_files(sb, "incoming") == [], TIMEOUT,
                 what="incoming/ to be empty after the refusal")
        assert spool_files(sb, "queue") == queue_before
        assert "No space left on device" in sb.log("smtpd") or \
            "No space left on device" in sb.log("queue")

        # Space again: the same session gets its next message through.
        full.free()
        msgid, msg = make_message(alice, "after the spool emptied")
        code, text = raw_transaction(raw, alice, msg)
        assert code == 250, (code, text)
        assert raw.cmd("QUIT")[0] == 221

    assert body_intact(read(wait_copy(sb, alice, msgid)), msg)
    assert copies(sb, alice, earlier)
    assert_kept(sb, before)
    assert daemons_alive(sb), sb.running()


def test_mailroot_full_defers_then_delivers(sb):
    carol = sb.address("carol")
    earlier, _, _ = send(sb, carol, "before the mail root fills")
    wait_copy(sb, carol, earlier)
    before = snapshot(sb)
    alice, bob, dave = (sb.address(u) for u in ("alice", "bob", "dave"))

    # dave has had no mail yet: his Maildir is made on the full disk.
    batches = [[alice], [dave], [alice, bob], [carol], [bob]]
    accepted = {}		# Message-ID -> (recipients, bytes, queue id)
    with Filled(sb.mailroot) as full:
        for i, rcpts in enumerate(batches):
            msgid, msg, reply = send(sb, rcpts, "mail root full %d" % i,
                                     body=("line %d\n" % i) * 300)
            accepted[msgid] = (rcpts, msg, queued_as(reply))
        qids = [a[2] for a in accepted.values()]

        # Deferred with 452 4.2.2 and tried again, all still queued.
        def deferred_twice():
            log = sb.log("queue")
            return all(re.search(r"%s: to=<[^>]*> status=deferred .*"
                                 r"tries=(?:[2-9]|[1-9][0-9]+) "
                                 r"reply=452 4\.2\.2" % q, log)
                       for q in qids)
        wait_for(deferred_twice, TIMEOUT,
                 what="a second 452 4.2.2 deferral of every message")
        queued = spool_files(sb, "queue")
        for q in qids:
            assert q in queued and q + ".env" in queued, (q, queued)

        # lmtpd serves on; nothing half-written in any Maildir.
        assert lmtp_lhlo(sb) == (b"220", b"250")
        assert daemons_alive(sb), sb.running()
        assert maildir_files(sb, "tmp") == []
        assert sorted(maildir_files(sb, "new") +
                      maildir_files(sb, "cur")) == sorted(before)
        assert_full(sb.mailroot)

        full.free()

    index = MsgIndex(sb)
    index.wait_all(list(accepted), TIMEOUT)
    for msgid, (rcpts, msg, _) in accepted.items():
        for r in rcpts:
            got = copies(sb, r, msgid)
            assert got, "%s never reached %s" % (msgid, r)
            for p in got:
                assert body_intact(read(p), msg), p
    wait_for(lambda: not set(qids) & set(spool_files(sb, "queue")),
             TIMEOUT, what="the delivered messages to leave queue/")

    # No partial file anywhere: tmp/ is empty and every message file
    # is one of the messages sent, whole.
    assert maildir_files(sb, "tmp") == []
    sent = {m: a[1] for m, a in accepted.items()}
    for p in sb.all_messages():
        if p in before:
            continue
        data = read(p)
        mid = msgid_of(data)
        assert mid in sent, "unexpected file %s" % p
        assert body_intact(data, sent[mid]), "partial delivery %s" % p
    assert_kept(sb, before)
    assert copies(sb, carol, earlier)
    assert "4.2.2" in sb.log("queue")
    assert daemons_alive(sb), sb.running()
