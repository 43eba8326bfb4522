"""tsamba-imapd answers FETCH RFC822.SIZE, INTERNALDATE, ENVELOPE and
BODYSTRUCTURE from the folder's tsamba.index once a FETCH has read the
files, and the index stays a cache (imapd/index.c):

- the answers from the index are byte for byte the answers parsed from
  the files (the index deleted first, so that every file is read);
- they do come from the index: a file changed in place behind its back
  still shows what was cached, until the index is deleted;
- an index gone stale behind its back (files renamed to other flags,
  removed, added by another program) answers as a fresh one does;
- a corrupt, torn or foreign index is rebuilt, and answers the same."""

import glob
import os
import time

import pytest

from test_imapd import raw_imaps, tagged

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CORPUS = os.path.join(TOP, "regress", "unit", "mime")
ITEMS = "(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY)"

# Messages beside the corpus: headers a client lists, LF line ends (no
# W= in a name written by another program), a message with no header.
EXTRA = [
    b"From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\n"
    b"To: \"Q\" <q@r.s>, group: a@b.c, d@e.f;\nCc: <>\n"
    b"Subject: =?utf-8?b?w6TDtsO8?=\nMessage-ID: <m1@x>\n"
    b"In-Reply-To: <m0@x>\nDate: Mon, 7 Dec 2026 10:00:00 +0100\n\nbody\n",
    b"Subject: caf\xc3\xa9 \"quoted\" \\ back\n\n8bit header\n",
    b"\nno header at all\n",
    b"Content-Type: multipart/mixed; boundary=z\n\n--z\n"
    b"Content-Type: text/plain; charset=utf-8\n\none\n--z\n"
    b"Content-Type: message/rfc822\n\nSubject: inner\n\ntwo\n--z--\n",
]


@pytest.fixture(scope="module")
def xsb(sandbox_factory):
    sb = sandbox_factory("ixcache", imap=True)
    c = Session(sb)
    for path in sorted(glob.glob(os.path.join(CORPUS, "*.eml"))):
        with open(path, "rb") as f:
            c.append(f.read().replace(b"\r\n", b"\n")
                     .replace(b"\n", b"\r\n"))
    for i, m in enumerate(EXTRA):
        c.append(m.replace(b"\n", b"\r\n"),
                 '(\\Seen) "0%d-Feb-2024 10:11:12 +0200"' % (i + 1))
    c.close()
    return sb


class Session:
    """One logged-in session on the implicit TLS port."""

    def __init__(self, sb):
        self.sock, self.f = raw_imaps(sb)
        self.n = 0
        lines, status = self.cmd("LOGIN %s %s" % (sb.demo_user,
                                                  sb.password))
        assert status.startswith("OK"), (lines, status)

    def cmd(self, line, literal=None):
        self.n += 1
        tag = "x%d" % self.n
        out = ("%s %s" % (tag, line)).encode()
        if literal is None:
            self.sock.sendall(out + b"\r\n")
        else:
            self.sock.sendall(out + b" {%d+}\r\n" % len(literal) +
                              literal + b"\r\n")
        lines, status = tagged(self.f, tag)
        return lines, status[len(tag) + 1:]

    def ok(self, line, literal=None):
        lines, status = self.cmd(line, literal)
        assert status.startswith("OK"), (line, lines, status)
        return lines

    def append(self, msg, extra=""):
        self.ok(("APPEND INBOX " + extra).rstrip(), msg)

    def close(self):
        self.cmd("LOGOUT")
        self.sock.close()


def index_path(sb):
    return os.path.join(sb.maildir(sb.demo_user), "tsamba.index")


def fetch_all(sb):
    """UID FETCH 1:* of every cached item in a new session: raw bytes."""
    c = Session(sb)
    c.ok("SELECT INBOX")
    lines = c.ok("UID FETCH 1:* " + ITEMS)
    c.close()
    assert lines and all(b" FETCH (" in x for x in lines
                         if x.startswith(b"* ")), lines
    return b"".join(lines)


def from_files(sb):
    """The same with no index: every item parsed from the files."""
    try:
        os.unlink(index_path(sb))
    except FileNotFoundError:
        pass
    return fetch_all(sb)


def message_files(sb):
    return sorted(glob.glob(os.path.join(sb.maildir(sb.demo_user), "cur",
                                         "*")))


def test_index_answers_are_the_files_answers(xsb):
    parsed = from_files(xsb)
    # The first FETCH wrote what it parsed into the index.
    with open(index_path(xsb), "rb") as f:
        ix = f.read()
    assert "=?utf-8?b?w6TDtsO8?=".encode() in ix
    assert b"\"inner\"" in ix
    assert fetch_all(xsb) == parsed
    # And again, from a second session's read of the same index.
    assert fetch_all(xsb) == parsed


def test_answers_come_from_the_index(xsb):
    from_files(xsb)
    fetch_all(xsb)
    # Rewritten in place (no Maildir program does this): the index
    # does not look at the file, so the old ENVELOPE is still served.
    victim = [p for p in message_files(xsb)
              if b"Message-ID: <m1@x>" in open(p, "rb").read()][0]
    st = os.stat(victim)
    with open(victim, "rb") as f:
        old = f.read()
    new = old.replace(b"Message-ID: <m1@x>", b"Message-ID: <zz@x>")
    with open(victim, "wb") as f:
        f.write(new)
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    try:
        cached = fetch_all(xsb)
        assert b"<m1@x>" in cached and b"<zz@x>" not in cached
        # Deleted, the index is rebuilt from the files.
        assert b"<zz@x>" in from_files(xsb)
    finally:
        with open(victim, "wb") as f:
            f.write(old)
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
        from_files(xsb)


def test_stale_index_answers_as_a_fresh_one(xsb):
    from_files(xsb)
    fetch_all(xsb)
    files = message_files(xsb)
    assert len(files) >= 6
    # Another program: flags changed by renames, one message removed,
    # one added with no size in its name and an old mtime.
    renamed = files[1]
    base, info = renamed.split(":2,")
    os.rename(renamed, base + ":2," + "".join(sorted(set(info + "FS"))))
    removed = files[2]
    with open(removed, "rb") as f:
        kept = f.read()
    os.unlink(removed)
    cur = os.path.dirname(files[0])
    added = os.path.join(cur, "%d.M1P1.otherprogram:2,R" % time.time())
    with open(added, "wb") as f:
        f.write(b"Subject: added behind its back\nFrom: o@p.q\n\nnew\n")
    os.utime(added, (1600000000, 1600000000))
    try:
        stale = fetch_all(xsb)
        assert b"added behind its back" in stale
        assert stale == from_files(xsb)
    finally:
        with open(removed, "wb") as f:
            f.write(kept)


@pytest.mark.parametrize("damage", ["middle", "torn", "garbage", "empty"])
def test_corrupt_index_is_rebuilt(xsb, damage):
    good = from_files(xsb)
    fetch_all(xsb)
    path = index_path(xsb)
    size = os.path.getsize(path)
    assert size > 200
    if damage == "middle":
        with open(path, "r+b") as f:
            f.seek(size // 2)
            f.write(b"\xff" * 64)
    elif damage == "torn":
        os.truncate(path, size - 7)
    elif damage == "garbage":
        with open(path, "wb") as f:
            f.write(os.urandom(4096))
    else:
        os.truncate(path, 0)
    assert fetch_all(xsb) == good
    assert fetch_all(xsb) == good
