#!/usr/bin/env python3
"""Start or stop the private tsamba of regress/bench/imap.sh.

    imap_sandbox.py start DIR    Sandbox(DIR, imap=True) with a plaintext
                                 IMAP listener (Dovecot's side runs
                                 ssl = no, so neither pays for TLS) and
                                 session limits high enough for the idle
                                 phase; prints shell assignments:
                                 IMAP_PORT, BENCH_USER, BENCH_PASS,
                                 MAILDIR_ROOT, IMAPD_PID, PIDS
    imap_sandbox.py stop DIR     stops exactly the daemons recorded in DIR

Only the Python 3 standard library and regress/sandbox.py are used.
"""

import os
import shlex
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import sandbox  # noqa: E402

# imap-bench.py's idle phase holds 200 connections of one user.
SESSIONS = 1000


class BenchSandbox(sandbox.Sandbox):
    def imap_conf_lines(self):
        # The cleartext IMAP listener takes LOGIN without STARTTLS.
        return [line + " plaintext" if " port %d " % self.ports["imap"]
                in line else line
                for line in super().imap_conf_lines()]


def bench_sandbox(d):
    return BenchSandbox(d, imap=True, limits={
        "imap-sessions": SESSIONS,
        "imap-sessions-per-ip": SESSIONS,
        "imap-sessions-per-user": SESSIONS,
    })


def start(d):
    sb = bench_sandbox(d)
    sb.start()
    user = sb.demo_user
    out = {
        "IMAP_PORT": sb.ports["imap"],
        "BENCH_USER": user,
        "BENCH_PASS": sb.password,
        "MAILDIR_ROOT": sb.maildir(user),
        "IMAPD_PID": sb.pid("imapd"),
        "PIDS": " ".join(str(p) for p in sb.running().values()),
    }
    for k, v in out.items():
        print("%s=%s" % (k, shlex.quote(str(v))))
    return 0


def stop(d):
    sb = bench_sandbox(d)
    left = sb.stop()
    if left:
        sys.stderr.write("imap_sandbox: had to kill %s\n" % left)
    return 0


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        sys.stderr.write("usage: imap_sandbox.py start|stop DIR\n")
        return 2
    try:
        return (start if argv[1] == "start" else stop)(argv[2])
    except (sandbox.SandboxError, OSError) as e:
        sys.stderr.write("imap_sandbox: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
