"""Privilege separation as the kernel sees it: the uid and the root
directory (chroot) of every tsamba process, read from /proc, and no
process holding a client's TCP connection runs as root."""

import os
import pwd
import threading

import pytest

from helpers import Raw, send, smtp, tls_context, wait_copy
from sandbox import (proc_root, proc_uids, socket_inodes, tcp_established,
                     wait_for)

pytestmark = pytest.mark.root


def uid(name):
    return pwd.getpwnam(name).pw_uid


def procs(sb, name):
    """[(pid, uids, root)] of a daemon's process tree."""
    out = []
    for pid in sb.tree(name):
        try:
            out.append((pid, proc_uids(pid), proc_root(pid)))
        except (OSError, Exception):
            continue
    return out


def show(sb):
    lines = []
    for name in ("authd", "queue", "lmtpd", "smtpd"):
        for pid, uids, root in procs(sb, name):
            lines.append("tsamba-%s pid %d uids %s root %s" %
                         (name, pid, uids, root))
    return "\n".join(lines)


def runs_as(uids, user):
    return set(uids) == {uid(user)}


def find(sb, name, user, root):
    return [p for p in procs(sb, name)
            if runs_as(p[1], user) and p[2] == root]


def test_smtp_engine_unprivileged_in_chroot(sb):
    assert find(sb, "smtpd", "_tsamba", sb.chroot), show(sb)


def test_smtpd_children_never_root(sb):
    top = sb.pid("smtpd")
    for pid, uids, root in procs(sb, "smtpd"):
        if pid != top:
            assert 0 not in uids, show(sb)


def test_queue_unprivileged_in_spool(sb):
    assert find(sb, "queue", "_tsambaq", sb.spool), show(sb)


def test_lmtp_engine_unprivileged_in_chroot(sb):
    assert find(sb, "lmtpd", "_tsambalmtp", sb.chroot), show(sb)


def test_mta_unprivileged_in_chroot(sb):
    assert find(sb, "queue", "_tsambamta", sb.chroot), show(sb)


def test_each_role_its_own_uid(sb):
    """The smtp engine, the lmtp engine, the mta, the queue and authd:
    five roles, five uids, so authd and the queue can tell them apart."""
    roles = {
        "smtp engine": find(sb, "smtpd", "_tsamba", sb.chroot),
        "lmtp engine": find(sb, "lmtpd", "_tsambalmtp", sb.chroot),
        "mta": find(sb, "queue", "_tsambamta", sb.chroot),
        "queue": find(sb, "queue", "_tsambaq", sb.spool),
    }
    for role, found in roles.items():
        assert len(found) == 1, "%s: %s\n%s" % (role, found, show(sb))
    seen = {role: set(found[0][1]) for role, found in roles.items()}
    seen["authd"] = set(u for _, uids, _ in procs(sb, "authd")
                        for u in uids)
    for role, uids in seen.items():
        assert len(uids) == 1 and 0 not in uids, (role, uids)
    assert len({min(u) for u in seen.values()}) == len(seen), seen


def test_writer_is_vmail_in_mailroot(sb):
    """The Maildir writer may live only while it delivers: keep mail
    flowing until it is seen."""
    stop = threading.Event()

    def flow():
        while not stop.is_set():
            try:
                send(sb, sb.address(sb.users[1]))
            except Exception:
                pass
    t = threading.Thread(target=flow)
    t.start()
    try:
        wait_for(lambda: find(sb, "lmtpd", "vmail", sb.mailroot), 30,
                 interval=0.005, what="a vmail writer in the mail root")
    except TimeoutError:
        pytest.fail("no writer running as vmail in %s:\n%s" %
                    (sb.mailroot, show(sb)))
    finally:
        stop.set()
        t.join(60)


def test_authd_unprivileged(sb):
    ps = procs(sb, "authd")
    assert ps and all(runs_as(u, "_tsambaauth") for _, u, _ in ps), \
        show(sb)


def test_delivered_files_owned_by_vmail(sb):
    rcpt = sb.address(sb.users[2])
    msgid, _, _ = send(sb, rcpt)
    path = wait_copy(sb, rcpt, msgid)
    st = os.stat(path)
    assert st.st_uid == uid("vmail"), path
    assert os.stat(sb.maildir(rcpt)).st_uid == uid("vmail")


def test_chroot_dir_stays_empty(sb):
    assert os.listdir(sb.chroot) == []
    st = os.stat(sb.chroot)
    assert st.st_uid == 0 and st.st_mode & 0o022 == 0


def test_no_root_process_holds_a_client_connection(sb):
    sessions = [smtp(sb) for _ in range(3)]
    tls = smtp(sb)
    tls.starttls(context=tls_context())
    tls.ehlo("client.test")
    sessions.append(tls)
    raw = Raw(sb)
    raw.banner_and_ehlo()
    try:
        conns = tcp_established(sb.smtp_port)
        assert len(conns) >= 5, conns
        holders = {}
        for name in ("authd", "queue", "lmtpd", "smtpd"):
            for pid in sb.tree(name):
                held = socket_inodes(pid) & set(conns)
                if held:
                    holders[pid] = (name, proc_uids(pid), len(held))
        assert holders, "no tsamba process holds the client sockets"
        for pid, (name, uids, n) in holders.items():
            assert 0 not in uids, "tsamba-%s pid %d uids %s holds %d " \
                "client connections" % (name, pid, uids, n)
            assert runs_as(uids, "_tsamba"), (name, pid, uids)
        # Every server-side socket of the sessions is accounted for.
        server_side = [i for i, (l, r) in conns.items()
                       if l == sb.smtp_port]
        held = set()
        for pid in holders:
            held |= socket_inodes(pid)
        assert set(server_side) <= held
    finally:
        for s in sessions:
            s.close()
        raw.close()


def test_clean_shutdown(sb):
    """SIGTERM to each daemon ends its whole process tree."""
    orphans = sb.stop()
    assert not orphans, "children outlived their daemon: %s" % orphans
