#!/usr/bin/env python3
"""Load generator for regress/bench/auth.sh, smtp-relay.sh and
smtp-checks.sh.

C worker threads share a fixed total of COUNT operations; each prints
nothing and the run prints one line of key=value on stdout:
    ok=N fail=N seconds=T per_s=R client_cpu_s=X [first_error="..."]
Timing runs from the first connect to the end of the last operation.

Modes:
  login   HOST PORT   one SMTP session per operation: EHLO, STARTTLS,
                      EHLO, AUTH PLAIN (initial response), QUIT.  A login
                      counts as ok on 235.
  submit  HOST PORT   like login, then MSGS messages of SIZE bytes from
                      the user to RCPT in the same session (MAIL FROM is
                      the login, as a submission server demands); one
                      operation is one message, ok on the 250 after DATA.
  inbound HOST PORT   mail from other servers: EHLO mail.client.test,
                      then MSGS messages per session without TLS or
                      AUTH, each taken in turn from the pool that
                      --pool names (lines "mailfrom rcpt file", the file
                      ready for DATA: signed beforehand, so the load
                      generator does no DKIM work); ok on the 250 after
                      DATA.
  dovecot SOCKET      Dovecot's auth-client protocol straight to the auth
                      socket: one connection per worker, AUTH PLAIN
                      requests one after another (no process start, no
                      SMTP, no TLS: the auth service's own speed).
  authd   SOCKET      tsamba-authd's LOGIN imsg straight to auth.sock, one
                      channel per worker (the broker's own speed).

Users are USER_FMT % i for i in 1..USERS, round robin, all with the one
password PASSWORD.  Only the Python 3 standard library is used.
"""

import argparse
import base64
import os
import resource
import socket
import ssl
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class SMTPError(Exception):
    pass


class Line:
    """Buffered CRLF line reader over a socket or an SSL socket."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def reply(self):
        """(code, text of the last line) of one possibly multi-line
        reply."""
        while True:
            i = self.buf.find(b"\n")
            if i < 0:
                data = self.sock.recv(65536)
                if not data:
                    raise SMTPError("connection closed")
                self.buf += data
                continue
            line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
            if line[3:4] != b"-":
                return int(line[:3]), line.decode(errors="replace").strip()


def expect(rd, sock, cmd, want):
    if cmd is not None:
        sock.sendall(cmd)
    code, text = rd.reply()
    if code // 100 != want:
        raise SMTPError("%s -> %s" % ((cmd or b"(greeting)").decode(
            errors="replace").split(" ")[0].strip(), text))
    return code


def send_and_quit(rd, sock, msgs):
    """MAIL, RCPT, DATA for each (mailfrom, rcpt, DATA bytes), then
    QUIT; returns the number sent."""
    done = 0
    for frm, rcpt, data in msgs:
        expect(rd, sock, ("MAIL FROM:<%s>\r\n" % frm).encode(), 2)
        expect(rd, sock, ("RCPT TO:<%s>\r\n" % rcpt).encode(), 2)
        expect(rd, sock, b"DATA\r\n", 3)
        sock.sendall(data)
        expect(rd, sock, None, 2)
        done += 1
    try:
        sock.sendall(b"QUIT\r\n")
        rd.reply()
    except (OSError, SMTPError):
        pass
    return done


def smtp_session(args, ctx, user, nmsg, body):
    """One session; returns the number of messages (or 1 login) ok."""
    raw = socket.create_connection((args.host, args.port), timeout=60)
    sock = raw
    try:
        rd = Line(sock)
        expect(rd, sock, None, 2)
        expect(rd, sock, b"EHLO client.bench.test\r\n", 2)
        expect(rd, sock, b"STARTTLS\r\n", 2)
        sock = ctx.wrap_socket(raw, server_hostname=None)
        rd = Line(sock)
        expect(rd, sock, b"EHLO client.bench.test\r\n", 2)
        resp = base64.b64encode(("\0%s\0%s" % (user, args.password))
                                .encode()).decode()
        expect(rd, sock, ("AUTH PLAIN %s\r\n" % resp).encode(), 2)
        done = send_and_quit(rd, sock, [(user, args.rcpt, body)] * nmsg)
        return done if nmsg else 1
    finally:
        sock.close()


def make_body(args, user):
    """Headers a signer signs, then SIZE bytes of 72-column text."""
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: bench\r\n"
            "Date: %s\r\nMessage-ID: <%s.%d@bench.test>\r\n\r\n" %
            (user, args.rcpt, time.strftime("%a, %d %b %Y %H:%M:%S +0000",
                                              time.gmtime()),
             user.replace("@", "."), time.monotonic_ns()))
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
        b"0123456789\r\n"
    n = max(1, args.size // len(line))
    return head.encode() + line * n + b".\r\n"


def load_pool(path):
    """[(mailfrom, rcpt, DATA bytes)] of a pool index."""
    pool = []
    with open(path) as f:
        for line in f:
            frm, rcpt, name = line.split()
            with open(name, "rb") as m:
                pool.append((frm, rcpt, m.read()))
    if not pool:
        raise SystemExit("empty pool " + path)
    return pool


def inbound_session(args, ids):
    """One unauthenticated session delivering the pool's messages ids."""
    sock = socket.create_connection((args.host, args.port), timeout=60)
    try:
        rd = Line(sock)
        expect(rd, sock, None, 2)
        expect(rd, sock, b"EHLO mail.client.test\r\n", 2)
        pool = args.pool_msgs
        return send_and_quit(rd, sock, [pool[i % len(pool)] for i in ids])
    finally:
        sock.close()


def inbound_worker(args, jobs, out):
    while True:
        ids = [i for i in (take(jobs) for _ in range(args.msgs))
               if i is not None]
        if not ids:
            break
        try:
            out["ok"] += inbound_session(args, ids)
        except (OSError, SMTPError) as e:
            out["fail"] += len(ids)
            out.setdefault("err", str(e))


def dovecot_worker(args, jobs, out):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(args.host)
    s.sendall(b"VERSION\t1\t2\nCPID\t%d\n" % (os.getpid() * 100 +
                                             out["wid"]))
    buf = b""
    while b"DONE\n" not in buf:
        data = s.recv(65536)
        if not data:
            raise SMTPError("dovecot auth closed during handshake")
        buf += data
    buf = buf[buf.index(b"DONE\n") + 5:]
    rid = 0
    while True:
        i = take(jobs)
        if i is None:
            break
        user = args.user_fmt % (i % args.users + 1)
        rid += 1
        resp = base64.b64encode(("\0%s\0%s" % (user, args.password))
                                .encode()).decode()
        s.sendall(("AUTH\t%d\tPLAIN\tservice=smtp\tnologin\tresp=%s\n" %
                   (rid, resp)).encode())
        while b"\n" not in buf:
            data = s.recv(65536)
            if not data:
                raise SMTPError("dovecot auth closed")
            buf += data
        line, buf = buf.split(b"\n", 1)
        if line.startswith(b"OK\t"):
            out["ok"] += 1
        else:
            out["fail"] += 1
            out.setdefault("err", line.decode(errors="replace"))
    s.close()


def authd_worker(args, jobs, out):
    sys.path.insert(0, os.path.join(HERE, "..", "integration"))
    from imsgclient import Client, AUTH_OK
    c = Client(args.host, timeout=60)
    while True:
        i = take(jobs)
        if i is None:
            break
        user = args.user_fmt % (i % args.users + 1)
        status, _ = c.login(user, args.password, ip="127.0.0.1")
        if status == AUTH_OK:
            out["ok"] += 1
        else:
            out["fail"] += 1
            out.setdefault("err", "authd status %d" % status)
    c.close()


def smtp_worker(args, jobs, out):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    while True:
        # One session carries MSGS operations (or one login).
        per = args.msgs if args.mode == "submit" else 1
        ids = [i for i in (take(jobs) for _ in range(per)) if i is not None]
        if not ids:
            break
        user = args.user_fmt % (ids[0] % args.users + 1)
        nmsg = len(ids) if args.mode == "submit" else 0
        body = make_body(args, user) if nmsg else b""
        try:
            out["ok"] += smtp_session(args, ctx, user, nmsg, body)
        except (OSError, SMTPError, ssl.SSLError) as e:
            out["fail"] += len(ids)
            out.setdefault("err", str(e))


_lock = threading.Lock()


def take(jobs):
    with _lock:
        if jobs[0] >= jobs[1]:
            return None
        jobs[0] += 1
        return jobs[0] - 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("login", "submit", "dovecot", "authd",
                                    "inbound"))
    p.add_argument("host")
    p.add_argument("port", nargs="?", type=int, default=0)
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--conc", type=int, default=16)
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--user-fmt", default="u%d@example.test")
    p.add_argument("--password", default="")
    p.add_argument("--rcpt", default="sink@remote.test")
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--msgs", type=int, default=1,
                   help="messages per session (submit, inbound)")
    p.add_argument("--pool", help="the message pool's index (inbound)")
    p.add_argument("--first", type=int, default=0,
                   help="pool position of the first message (inbound)")
    args = p.parse_args()
    if args.mode == "inbound":
        args.pool_msgs = load_pool(args.pool)
    worker = {"login": smtp_worker, "submit": smtp_worker,
              "dovecot": dovecot_worker, "authd": authd_worker,
              "inbound": inbound_worker}[args.mode]
    jobs = [args.first, args.first + args.count]
    outs = [{"ok": 0, "fail": 0, "wid": w} for w in range(args.conc)]

    def run(o):
        try:
            worker(args, jobs, o)
        except Exception as e:		# a worker dies: count what is left
            o.setdefault("err", "%s: %s" % (type(e).__name__, e))

    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(o,)) for o in outs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    ok = sum(o["ok"] for o in outs)
    fail = sum(o["fail"] for o in outs)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    errs = [o["err"] for o in outs if "err" in o]
    line = "ok=%d fail=%d seconds=%.3f per_s=%.1f client_cpu_s=%.2f" % (
        ok, fail, secs, ok / secs if secs > 0 else 0, cpu)
    if errs:
        line += ' first_error="%s"' % errs[0].replace('"', "'")[:200]
    print(line)
    return 0 if ok == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
