"""BINARY (RFC 3516) in tsamba-imapd, with a raw socket client (imaplib
cannot read a literal8):

- FETCH BINARY.PEEK[part] undoes base64 and quoted-printable, passes
  7bit/8bit parts as they are, and is sent as a literal8 ~{n} when the
  decoded part holds a NUL; parts inside a message/rfc822 are reached;
- <partial> counts in the decoded data; BINARY.SIZE equals the length
  of what BINARY sends;
- BINARY without PEEK sets \\Seen;
- a Content-Transfer-Encoding we cannot decode: NO [UNKNOWN-CTE];
- APPEND of a literal8 (~{n}, and ~{n+} with LITERAL+) holding NUL,
  bare CR, bare LF and CRLF inside binary data: BINARY[] and BINARY[1]
  give back exactly the bytes sent; BODY[] and RFC822.SIZE stay what
  they are for any message (NUL as 0x80, bare LF as CRLF)."""

import base64
import os
import re
import socket
import quopri

import pytest

from helpers import tls_context
from test_imap_compress import Client, TIMEOUT

BLOB = bytes(range(256)) * 3 + b"\0\0end"
QP_TEXT = ("caf\u00e9 = na\u00efve\r\n" + "long line " * 12 +
           "\r\nlast line\r\n").encode("utf-8")
INNER_BLOB = os.urandom(300) + b"\0"
# The line end before a boundary belongs to the boundary (RFC 2046 5.1.1).
QP_PART = QP_TEXT[:-2]


def message():
    """multipart/mixed: 1 QP text, 2 base64 blob, 3 message/rfc822
    (multipart: 3.1 7bit text, 3.2 base64), 4 x-uuencode."""
    inner = (b"From: inner@example.org\n"
             b"Subject: inner\n"
             b"MIME-Version: 1.0\n"
             b"Content-Type: multipart/alternative; boundary=\"in\"\n\n"
             b"--in\n"
             b"Content-Type: text/plain\n\n"
             b"inner plain text\n"
             b"--in\n"
             b"Content-Type: application/octet-stream\n"
             b"Content-Transfer-Encoding: base64\n\n" +
             base64.encodebytes(INNER_BLOB) +
             b"--in--\n")
    return (b"From: a@example.org\n"
            b"To: b@example.org\n"
            b"Subject: binary test\n"
            b"MIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=\"xx\"\n\n"
            b"--xx\n"
            b"Content-Type: text/plain; charset=utf-8\n"
            b"Content-Transfer-Encoding: quoted-printable\n\n" +
            quopri.encodestring(QP_TEXT.replace(b"\r\n", b"\n")) +
            b"--xx\n"
            b"Content-Type: application/octet-stream\n"
            b"Content-Transfer-Encoding: BASE64\n\n" +
            base64.encodebytes(BLOB) +
            b"--xx\n"
            b"Content-Type: message/rfc822\n\n" + inner +
            b"\n--xx\n"
            b"Content-Type: application/octet-stream\n"
            b"Content-Transfer-Encoding: x-uuencode\n\n"
            b"begin 644 x\n#86)C\n`\nend\n"
            b"--xx--\n")


@pytest.fixture(scope="module")
def isb(sandbox_factory):
    return sandbox_factory("imapbin", imap=True)


@pytest.fixture
def c(isb):
    s = tls_context().wrap_socket(socket.create_connection(
        ("127.0.0.1", isb.ports["imaps"]), timeout=TIMEOUT))
    cl = Client(s)
    assert cl.readline().startswith(b"* OK")
    _, ok = cl.command("a1", b"LOGIN " + isb.demo_user.encode() + b" " +
                       isb.password.encode())
    assert ok.startswith(b"a1 OK"), ok
    untagged, _ = cl.command("a2", b"CAPABILITY")
    assert b"BINARY" in untagged[0].split()
    _, ok = cl.command("a3", b"SELECT INBOX")
    assert ok.startswith(b"a3 OK"), ok
    yield cl
    cl.close()


def append(c, data, how=b"{%d}"):
    """APPEND with a literal of the form how; the new UID."""
    marker = how % len(data)
    c.send(b"p1 APPEND INBOX " + marker + b"\r\n")
    if not marker.endswith(b"+}"):
        line = c.readline()
        assert line.startswith(b"+ "), line
    c.send(data + b"\r\n")
    _, ok = c.until("p1")
    m = re.search(rb"APPENDUID \d+ (\d+)", ok)
    assert m, ok
    return m.group(1)


ITEM = re.compile(rb"(BINARY(?:\.SIZE)?\[[0-9.]*\](?:<\d+>)?) "
                  rb"(?:(~?)\{(\d+)\}\r\n|(\d+))")


def fetch(c, uid, what):
    """{item name: (literal8?, bytes or size)} of one UID FETCH."""
    untagged, ok = c.command("f1", b"UID FETCH " + uid + b" (" + what +
                             b")")
    assert ok.startswith(b"f1 OK"), ok
    resp = [u for u in untagged if b" FETCH (" in u][0]
    items, pos = {}, 0
    while True:
        m = ITEM.search(resp, pos)
        if m is None:
            return items, resp
        if m.group(4) is not None:
            items[m.group(1)] = (None, int(m.group(4)))
            pos = m.end()
        else:
            n = int(m.group(3))
            items[m.group(1)] = (m.group(2) == b"~",
                                 resp[m.end():m.end() + n])
            pos = m.end() + n


def test_base64_and_size(c):
    uid = append(c, message())
    items, _ = fetch(c, uid, b"BINARY.PEEK[2] BINARY.SIZE[2]")
    lit8, data = items[b"BINARY[2]"]
    assert data == BLOB
    assert lit8, "a NUL goes out in a literal8"
    assert items[b"BINARY.SIZE[2]"] == (None, len(BLOB))


def test_quoted_printable(c):
    uid = append(c, message())
    items, _ = fetch(c, uid, b"BINARY.PEEK[1] BINARY.SIZE[1]")
    lit8, data = items[b"BINARY[1]"]
    assert data == QP_PART
    assert not lit8, "no NUL: a plain literal"
    assert items[b"BINARY.SIZE[1]"] == (None, len(QP_PART))


def test_nested_parts(c):
    uid = append(c, message())
    items, _ = fetch(c, uid, b"BINARY.PEEK[3.2] BINARY.SIZE[3.2] "
                     b"BINARY.PEEK[3.1] BINARY.PEEK[3]")
    assert items[b"BINARY[3.2]"] == (True, INNER_BLOB)
    assert items[b"BINARY.SIZE[3.2]"] == (None, len(INNER_BLOB))
    assert items[b"BINARY[3.1]"][1] == b"inner plain text"
    # message/rfc822: the embedded message as it is, its parts encoded.
    whole = items[b"BINARY[3]"][1]
    assert whole.startswith(b"From: inner@example.org\r\n")
    assert base64.encodebytes(INNER_BLOB).replace(b"\n", b"\r\n") in whole


def test_partial(c):
    uid = append(c, message())
    items, _ = fetch(c, uid, b"BINARY.PEEK[2]<10.20> BINARY.PEEK[1]<3.4> "
                     b"BINARY.PEEK[2]<100000.5>")
    assert items[b"BINARY[2]<10>"][1] == BLOB[10:30]
    assert items[b"BINARY[1]<3>"] == (False, QP_PART[3:7])
    assert items[b"BINARY[2]<100000>"][1] == b""


def test_binary_sets_seen(c):
    uid = append(c, message())
    _, resp = fetch(c, uid, b"FLAGS")
    assert b"\\Seen" not in resp
    items, resp = fetch(c, uid, b"BINARY[1]")
    assert b"\\Seen" in resp
    assert items[b"BINARY[1]"][1] == QP_PART


def test_unknown_cte(c):
    uid = append(c, message())
    for what in (b"BINARY.PEEK[4]", b"BINARY.SIZE[4]", b"BINARY[4]"):
        _, ok = c.command("u1", b"UID FETCH " + uid + b" " + what)
        assert ok.startswith(b"u1 NO [UNKNOWN-CTE]"), ok
    # Neither PEEK nor not: the failed fetch set no flag.
    _, resp = fetch(c, uid, b"FLAGS")
    assert b"\\Seen" not in resp
    # BODY[4] still gives the part as it is.
    untagged, ok = c.command("u2", b"UID FETCH " + uid + b" BODY.PEEK[4]")
    assert ok.startswith(b"u2 OK") and b"begin 644 x" in untagged[0]


def test_bad_binary_syntax(c):
    uid = append(c, message())
    for what in (b"BINARY[1.TEXT]", b"BINARY[HEADER]", b"BINARY.SIZE[1]<0.5>",
                 b"BINARY[1.]"):
        _, ok = c.command("s1", b"UID FETCH " + uid + b" " + what)
        assert ok.startswith(b"s1 BAD"), (what, ok)


BINARY_MSG = (b"From: a@example.org\r\nSubject: raw\r\nMIME-Version: 1.0\r\n"
              b"Content-Type: application/octet-stream\r\n"
              b"Content-Transfer-Encoding: binary\r\n\r\n" +
              b"\0\x01bare\nLF, bare\rCR, CRLF\r\n\xff\xfe\0" +
              bytes(range(256)))


@pytest.mark.parametrize("how", [b"~{%d}", b"~{%d+}"])
def test_append_literal8_round_trip(c, how):
    uid = append(c, BINARY_MSG, how)
    items, resp = fetch(c, uid, b"RFC822.SIZE BINARY.PEEK[] "
                        b"BINARY.PEEK[1] BINARY.SIZE[]")
    assert items[b"BINARY[]"] == (True, BINARY_MSG)
    body = BINARY_MSG.split(b"\r\n\r\n", 1)[1]
    assert items[b"BINARY[1]"] == (True, body)
    assert items[b"BINARY.SIZE[]"] == (None, len(BINARY_MSG))
    # BODY[] has no literal8: NUL shows as 0x80 and a bare LF as CRLF,
    # as for any stored message; RFC822.SIZE is the size of BODY[].
    seen = re.sub(rb"(?<!\r)\n", b"\r\n", BINARY_MSG.replace(b"\0", b"\x80"))
    assert b"RFC822.SIZE %d " % len(seen) in resp, resp
    untagged, ok = c.command("b1", b"UID FETCH " + uid + b" BODY.PEEK[]")
    assert ok.startswith(b"b1 OK")
    assert b"{%d}\r\n" % len(seen) + seen + b")" in untagged[0]
