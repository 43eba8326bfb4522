"""tsamba-imapd storage limits (issue 8): APPENDLIMIT is the configured
`limit message-size`, advertised in CAPABILITY, and an APPEND over it
is refused with NO [TOOBIG] before the client sends the literal; the
quota (the Maildir++ maildirsize limit here, the user's quota from authd
when it has one) refuses APPEND, COPY and MOVE with NO [OVERQUOTA] and
counts what was stored.  QUOTA (RFC 9208): GETQUOTAROOT and GETQUOTA
report the one root "" with the usage and limits of maildirsize
(STORAGE in KiB, MESSAGE when a count limit is set), SETQUOTA is
refused, and without any limit there is no quota root."""

import imaplib
import os
import re
import socket

import pytest

from helpers import tls_context

TIMEOUT = 15
LIMIT = 100 * 1024


@pytest.fixture(scope="module")
def qsb(sandbox_factory):
    return sandbox_factory("imapquota", imap=True,
                           limits={"message-size": "100K",
                                   "sessions-per-ip": 300})


def imaps(sb):
    m = imaplib.IMAP4_SSL("127.0.0.1", sb.ports["imaps"],
                          ssl_context=tls_context(), timeout=TIMEOUT)
    m.login(sb.demo_user, sb.password)
    return m


def message(size, subject="quota"):
    head = ("From: <a@example.org>\r\nTo: <b@example.test>\r\n"
            "Subject: %s\r\n\r\n" % subject).encode()
    body = b"x" * 70 + b"\r\n"
    n = max(0, size - len(head)) // len(body) + 1
    return head + body * n


def test_appendlimit_advertised(qsb):
    m = imaps(qsb)
    typ, data = m.capability()
    assert typ == "OK"
    assert b"APPENDLIMIT=%d" % LIMIT in data[0].split(), data
    m.logout()


def test_append_toobig_before_literal(qsb):
    """With a synchronizing literal the server says NO [TOOBIG] instead
    of "+": the client never sends the bytes, and the session goes on."""
    s = tls_context().wrap_socket(socket.create_connection(
        ("127.0.0.1", qsb.ports["imaps"]), timeout=TIMEOUT))
    f = s.makefile("rb")
    try:
        assert f.readline().startswith(b"* OK")
        s.sendall(b"a1 LOGIN %s %s\r\n" % (qsb.demo_user.encode(),
                                            qsb.password.encode()))
        line = f.readline()
        while not line.startswith(b"a1 "):
            line = f.readline()
        assert line.startswith(b"a1 OK"), line
        assert b"APPENDLIMIT=%d" % LIMIT in line, line
        s.sendall(b"a2 APPEND INBOX {%d}\r\n" % (LIMIT + 1))
        line = f.readline()
        assert line.startswith(b"a2 NO [TOOBIG]"), line
        s.sendall(b"a3 NOOP\r\n")
        line = f.readline()
        assert line.startswith(b"a3 OK"), line
        # At the limit it is taken.
        msg = message(LIMIT - 200)
        assert len(msg) <= LIMIT
        s.sendall(b"a4 APPEND INBOX {%d}\r\n" % len(msg))
        assert f.readline().startswith(b"+ ")
        s.sendall(msg + b"\r\n")
        line = f.readline()
        assert line.startswith(b"a4 OK [APPENDUID"), line
    finally:
        s.close()


def test_append_toobig_imaplib(qsb):
    m = imaps(qsb)
    typ, data = m.append("INBOX", None, None, message(LIMIT + 1000))
    assert typ == "NO" and b"[TOOBIG]" in data[0], (typ, data)
    assert m.noop()[0] == "OK"
    m.logout()


def write_maildirsize(sb, text):
    home = sb.maildir(sb.demo_user)
    path = os.path.join(home, "maildirsize")
    with open(path, "w") as f:
        f.write(text)
    st = os.stat(home)
    os.chown(path, st.st_uid, st.st_gid)
    return path


def test_overquota(qsb):
    m = imaps(qsb)
    m.create("Quota")
    path = write_maildirsize(qsb, "20000S\n0 0\n")
    try:
        typ, data = m.append("Quota", None, None, message(12000))
        assert typ == "OK", data
        # Counted where Dovecot and lmtpd count it.
        with open(path) as f:
            lines = f.read().split("\n")
        assert re.match(r"^1[0-9]{4} 1$", lines[2]), lines
        typ, data = m.append("Quota", None, None, message(12000))
        assert typ == "NO" and b"[OVERQUOTA]" in data[0], (typ, data)
        m.select("Quota")
        typ, data = m.copy("1", "INBOX")
        assert typ == "NO" and b"[OVERQUOTA]" in data[0], (typ, data)
        typ, data = m._simple_command("MOVE", "1", "INBOX")
        assert typ == "NO" and b"[OVERQUOTA]" in data[0], (typ, data)
        typ, data = m.select("Quota")
        assert int(data[0]) == 1, data
        # A small one still fits.
        typ, data = m.append("Quota", None, None, message(2000))
        assert typ == "OK", data
        # With room again (a raised limit), the copy goes.
        write_maildirsize(qsb, "1000000S\n0 0\n")
        typ, data = m.copy("1", "INBOX")
        assert typ == "OK", data
    finally:
        os.unlink(path)
        m.logout()


def test_quota_capabilities(qsb):
    m = imaps(qsb)
    caps = m.capability()[1][0].decode().split()
    for c in ("QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"):
        assert c in caps, (c, caps)
    m.logout()


def test_no_quota_no_root(qsb):
    path = os.path.join(qsb.maildir(qsb.demo_user), "maildirsize")
    if os.path.exists(path):
        os.unlink(path)
    m = imaps(qsb)
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK", data
    # QUOTAROOT names no root; no QUOTA line.
    assert data == [[b'"INBOX"'], [None]], data
    typ, data = m._simple_command("GETQUOTA", '""')
    assert typ == "NO" and b"[NONEXISTENT]" in data[0], (typ, data)
    m.logout()


def test_getquota_is_maildirsize(qsb):
    """The figures are maildirsize's own, summed; KiB rounded up."""
    m = imaps(qsb)
    m.create("Quota2")
    path = write_maildirsize(qsb, "2048000S,100C\n12345 3\n1000 1\n"
                             "-300 -1\n")
    try:
        typ, data = m.getquotaroot("Quota2")
        assert typ == "OK", data
        assert data[0] == [b'"Quota2" ""'], data
        assert data[1] == [b'"" (STORAGE 13 2000 MESSAGE 3 100)'], data
        typ, data = m._simple_command("GETQUOTA", '""')
        assert typ == "OK", data
        assert m.untagged_responses.pop("QUOTA") == \
            [b'"" (STORAGE 13 2000 MESSAGE 3 100)']
        # A message appended is counted, and GETQUOTA follows.
        msg = message(3000)
        typ, data = m.append("Quota2", None, None, msg)
        assert typ == "OK", data
        with open(path) as f:
            lines = f.read().split("\n")
        used = sum(int(x.split()[0]) for x in lines[1:] if x)
        typ, data = m._simple_command("GETQUOTA", '""')
        assert m.untagged_responses.pop("QUOTA") == \
            [b'"" (STORAGE %d 2000 MESSAGE 4 100)' % ((used + 1023) // 1024)]
        # Bytes only: no MESSAGE resource.
        write_maildirsize(qsb, "10240S\n100 1\n")
        typ, data = m._simple_command("GETQUOTA", '""')
        assert m.untagged_responses.pop("QUOTA") == \
            [b'"" (STORAGE 1 10)']
    finally:
        os.unlink(path)
        m.logout()


def test_quota_errors(qsb):
    m = imaps(qsb)
    path = write_maildirsize(qsb, "1000000S\n0 0\n")
    try:
        typ, data = m.getquotaroot("NoSuchBox")
        assert typ == "NO" and b"[NONEXISTENT]" in data[0][0], (typ, data)
        typ, data = m._simple_command("GETQUOTA", '"other"')
        assert typ == "NO" and b"[NONEXISTENT]" in data[0], (typ, data)
        typ, data = m._simple_command("SETQUOTA", '""', "(STORAGE 512)")
        assert typ == "NO" and b"[NOPERM]" in data[0], (typ, data)
        with pytest.raises(imaplib.IMAP4.error, match="BAD"):
            m._simple_command("SETQUOTA", '""', "(STORAGE)")
        with pytest.raises(imaplib.IMAP4.error, match="BAD"):
            m._simple_command("GETQUOTAROOT")
        # The limit did not change, the session goes on.
        with open(path) as f:
            assert f.readline() == "1000000S\n"
        assert m.noop()[0] == "OK"
    finally:
        os.unlink(path)
        m.logout()
