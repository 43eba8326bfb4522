#!/usr/bin/python3
"""What Dovecot answers to FETCH for each message of this corpus.

Runs Dovecot's imap binary in PREAUTH mode on a pipe (no daemon, no
port) over a private Maildir, APPENDs each *.eml, FETCHes the items of
ITEMS one at a time and keeps each answer's bytes exactly as sent.
Usage: dovecot_fetch.py [--write] [names...]: --write stores them in
<name>.dovecot (the expectations test_mime checks against); without
it, prints the names whose stored expectations Dovecot disagrees with.
"""

import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
IMAP = "/usr/lib/dovecot/imap"

ITEMS = [
    "BODYSTRUCTURE", "BODY", "ENVELOPE",
    "BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]",
    "BODY.PEEK[HEADER.FIELDS (From Subject)]",
    "BODY.PEEK[HEADER.FIELDS.NOT (From Subject)]",
    "BODY.PEEK[]<0.20>", "BODY.PEEK[TEXT]<5.10>",
] + ["BODY.PEEK[%s]" % s for s in (
    "1", "1.MIME", "1.1", "1.1.MIME", "1.2", "1.2.MIME", "2", "2.MIME",
    "2.HEADER", "2.TEXT", "2.1", "2.1.MIME", "2.2", "2.2.MIME",
    "2.1.HEADER", "3", "3.MIME", "3.HEADER", "3.TEXT", "3.1", "4",
    "2.HEADER.FIELDS (Subject)")]


def encode(answers):
    """ITEM\\n<len>\\n<bytes>\\n for each item: what test_mime -d prints."""
    out = b""
    for item, value in answers:
        out += item.encode() + b"\n%d\n" % len(value) + value + b"\n"
    return out


class Dovecot:
    def __init__(self, home):
        self.home = home
        os.makedirs(os.path.join(home, "Maildir"))
        # As root Dovecot drops to nobody; otherwise it stays who we are.
        pw = pwd.getpwnam("nobody") if os.getuid() == 0 else \
            pwd.getpwuid(os.getuid())
        user = pw.pw_name
        conf = os.path.join(home, "dovecot.conf")
        with open(conf, "w") as f:
            f.write("mail_location = maildir:%s/Maildir\n"
                    "log_path = /dev/null\nssl = no\n"
                    "mail_uid = %d\nmail_gid = %d\nfirst_valid_uid = 1\n"
                    % (home, pw.pw_uid, pw.pw_gid))
        os.chown(os.path.join(home, "Maildir"), pw.pw_uid, pw.pw_gid)
        os.chmod(home, 0o755)
        env = {"USER": user, "HOME": home, "PATH": "/usr/bin:/bin"}
        self.p = subprocess.Popen([IMAP, "-c", conf], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, env=env)
        self.buf = b""
        self.n = 0
        self.read_until(b"* PREAUTH")

    def fill(self):
        data = os.read(self.p.stdout.fileno(), 65536)
        if not data:
            raise RuntimeError("dovecot closed: %r" % self.buf)
        self.buf += data

    def read_line(self):
        """One response line with the literals inside it."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self.fill()
            i = self.buf.index(b"\r\n") + 2
            line, self.buf = self.buf[:i], self.buf[i:]
            out += line
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if not m:
                return out
            n = int(m.group(1))
            while len(self.buf) < n:
                self.fill()
            out += self.buf[:n]
            self.buf = self.buf[n:]

    def read_until(self, prefix):
        out = b""
        while True:
            line = self.read_line()
            out += line
            if line.startswith(prefix):
                return out, line

    def command(self, line, literal=None):
        self.n += 1
        tag = b"t%d" % self.n
        data = tag + b" " + line
        if literal is not None:
            data += b" {%d+}\r\n" % len(literal) + literal
        self.p.stdin.write(data + b"\r\n")
        self.p.stdin.flush()
        out, status = self.read_until(tag + b" ")
        if not status.startswith(tag + b" OK"):
            raise RuntimeError("%r: %r" % (line, out))
        return out[:-len(status)]

    def fetch(self, seq, item):
        out = self.command(b"FETCH %d (%s)" % (seq, item.encode()))
        head = b"* %d FETCH (" % seq
        i = out.index(head) + len(head)
        if not out.endswith(b")\r\n"):
            raise RuntimeError("odd answer %r" % out)
        return out[i:-3]

    def close(self):
        self.p.stdin.write(b"z LOGOUT\r\n")
        self.p.stdin.close()
        self.p.wait(timeout=10)


def corpus(names=None):
    if names:
        return [n if n.endswith(".eml") else n + ".eml" for n in names]
    return sorted(f for f in os.listdir(HERE) if f.endswith(".eml"))


def dovecot_answers(names=None, messages=None):
    """{name: answers} for corpus files, or for messages {name: bytes}."""
    home = tempfile.mkdtemp(prefix="tsamba-mime-")
    results = {}
    if messages is None:
        messages = {}
        for name in corpus(names):
            with open(os.path.join(HERE, name), "rb") as f:
                messages[name] = f.read()
    try:
        d = Dovecot(home)
        d.command(b"SELECT INBOX")
        seq = 0
        for name, msg in messages.items():
            d.command(b"APPEND INBOX", msg)
            seq += 1
            d.command(b"NOOP")
            results[name] = encode([(it, d.fetch(seq, it)) for it in ITEMS])
        d.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return results


def main(argv):
    write = "--write" in argv
    names = [a for a in argv if not a.startswith("--")]
    bad = 0
    for name, data in dovecot_answers(names).items():
        path = os.path.join(HERE, name[:-4] + ".dovecot")
        if write:
            with open(path, "wb") as f:
                f.write(data)
            continue
        try:
            with open(path, "rb") as f:
                same = f.read() == data
        except OSError:
            same = False
        if not same:
            print(name)
            bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
