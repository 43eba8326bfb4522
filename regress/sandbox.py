#!/usr/bin/env python3
"""A private tsamba installation in one directory, for tests and the demo.

Sandbox(dir) writes a tsamba.conf whose run directory, spool, mail root and
empty chroot all live inside dir, a self-signed certificate, the file
tables (domains, users with SHA512-CRYPT hashes, aliases) and demo.env;
start() runs tsamba-authd, tsamba-lmtpd, tsamba-queue and tsamba-smtpd (and
tsamba-imapd with imap=True) in the foreground (-d) in their own sessions and
returns once each answers;
stop() ends exactly the processes it started, by pid.

Started as root, the daemons drop to the system users of DESIGN.md, which
are created (useradd --system) when absent.  Started by another user, the
config names that user for every role, so the daemons run as that user
without chroot (they log one warning saying so).

Command line (used by `make demo` and `make demo-stop`):
    python3 regress/sandbox.py start DIR [--users N] [--set "LINE"]...
    python3 regress/sandbox.py stop DIR

Only the Python 3 standard library is used.
"""

import argparse
import os
import pwd
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Start order: each daemon connects to the ones before it (lmtpd to
# authd, the queue to lmtpd, smtpd to authd and the queue), so queued mail
# found at start is delivered at once instead of after a retry delay.
DAEMONS = ("authd", "lmtpd", "queue", "smtpd")
# Started last, only by a sandbox with metrics (and the demo): it reads
# the others' stats files and needs none of them to start.
METRICSD = "metricsd"
# tsamba-imapd comes last, for the sandboxes that serve IMAP and POP3.
IMAP_DAEMONS = DAEMONS + ("imapd",)
# The IMAP/POP3 listeners: demo.env name, config words.
IMAP_PORTS = (
    ("imap", "IMAP_PORT", "imap", "tls"),
    ("imaps", "IMAPS_PORT", "imap", "imaps"),
    ("pop3", "POP3_PORT", "pop3", "tls"),
    ("pop3s", "POP3S_PORT", "pop3", "pop3s"),
)

# The roles of tsamba.conf's `user` statement and their default names.
SYSTEM_USERS = {
    "smtpd": "_tsamba",
    "lmtpd": "_tsambalmtp",
    "mta": "_tsambamta",
    "queue": "_tsambaq",
    "auth": "_tsambaauth",
    "metrics": "_tsambamet",
    "imap-login": "_tsambaimap",
    "vmail": "vmail",
}

DOMAIN = "example.test"
CATCHALL_DOMAIN = "catchall.test"
DEFAULT_USERS = ("demo", "alice", "bob", "carol", "dave")

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class SandboxError(Exception):
    pass


def is_root():
    return os.geteuid() == 0


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    """Nothing listens on 127.0.0.1:port (connections of a previous run in
    TIME_WAIT do not count: the daemons bind with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for(predicate, timeout, interval=0.05, what=None):
    """Poll predicate() until it returns a true value (returned) or the
    deadline passes (TimeoutError naming what was awaited)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" %
                               (timeout, what or getattr(
                                   predicate, "__name__", "condition")))
        time.sleep(interval)


# ------------------------------------------------------------- /proc helpers

def proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the
    # last ')'.
    return int(stat[stat.rindex(")") + 2:].split()[1])


def proc_starttime(pid):
    """Clock ticks after boot at which pid started: with the pid, it names
    one process for good (a pid can be reused, this pair cannot)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


def proc_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def proc_table():
    """{pid: ppid} of every process."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            ppid = proc_ppid(int(name))
            if ppid is not None:
                table[int(name)] = ppid
    return table


def descendants(*roots):
    """The roots and all their descendants that exist now."""
    table = proc_table()
    found = set(p for p in roots if p in table)
    changed = True
    while changed:
        changed = False
        for pid, ppid in table.items():
            if pid not in found and ppid in found:
                found.add(pid)
                changed = True
    return sorted(found)


def proc_uids(pid):
    """(real, effective, saved, fs) uids of pid."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return tuple(int(x) for x in line.split()[1:5])
    raise SandboxError("no Uid in /proc/%d/status" % pid)


def proc_root(pid):
    """Where pid's root directory is (its chroot), as the kernel says."""
    return os.readlink("/proc/%d/root" % pid)


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace")
                    for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def socket_inodes(pid):
    """Inodes of the sockets pid holds open."""
    inodes = set()
    fddir = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(fddir)
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(os.path.join(fddir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def tcp_established(local_port=None):
    """{inode: (local port, remote port)} of established TCP connections
    (IPv4 and IPv6), optionally only those with the given local port."""
    result = {}
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "01":		# TCP_ESTABLISHED
                continue
            lport = int(fields[1].rsplit(":", 1)[1], 16)
            rport = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port is not None and lport != local_port:
                continue
            result[int(fields[9])] = (lport, rport)
    return result


def tcp_listening():
    """Inodes of the listening TCP sockets (IPv4 and IPv6)."""
    result = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":		# TCP_LISTEN
                result.add(int(fields[9]))
    return result


# ------------------------------------------------------------- set-up helpers

def ensure_system_user(name):
    """Create a system user (and its group) unless it exists."""
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    subprocess.run(["useradd", "--system", "--no-create-home",
                    "--user-group", "--home-dir", "/nonexistent",
                    "--shell", "/usr/sbin/nologin", name],
                   check=True, stdout=subprocess.DEVNULL)


def sha512_crypt(passwords):
    """{SHA512-CRYPT} hashes, one per password, made by `openssl passwd`
    (the crypt module leaves Python in 3.13)."""
    out = subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                         input="".join(p + "\n" for p in passwords),
                         capture_output=True, text=True, check=True).stdout
    hashes = out.split()
    if len(hashes) != len(passwords):
        raise SandboxError("openssl passwd gave %d hashes for %d passwords"
                           % (len(hashes), len(passwords)))
    return ["{SHA512-CRYPT}" + h for h in hashes]


def new_password():
    """A random password that no command line takes for an option (a
    leading "-" made swaks fail one run in 64)."""
    while True:
        p = secrets.token_urlsafe(18)
        if not p.startswith("-"):
            return p


def read_env(path):
    env = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if "=" in line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    parts = shlex.split(v)
                    env[k] = parts[0] if parts else ""
    except OSError:
        pass
    return env


def log_tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


# ------------------------------------------------- one program on its own

class Daemon:
    """One tsamba program that a test starts by itself, outside a
    Sandbox: its output goes to a log file, start() returns once ready()
    holds, stop() sends SIGTERM and kills it after a grace period."""

    def __init__(self, argv, log):
        self.argv, self.logpath, self.proc = argv, log, None

    def start(self, ready, timeout, what, **popen_kw):
        name = os.path.basename(self.argv[0])
        with open(self.logpath, "ab") as logf:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=logf,
                                         **popen_kw)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited (%s):\n%s" %
                                   (name, self.proc.returncode,
                                    self.log_text()))
            return ready()
        try:
            wait_for(up, timeout, what=what)
        except TimeoutError:
            raise RuntimeError("no %s after %ss:\n%s" %
                               (what, timeout, self.log_text())) from None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace=10):
        if not self.running():
            return
        self.proc.terminate()
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_text(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


# ------------------------------------------------------------- the sandbox

class Sandbox:
    """One private tsamba: its directory, config, tables and processes.

    ports:    {"smtp": N, "lmtp": N} to force ports; otherwise free
              loopback ports are picked (LMTP over TCP only when lmtp_tcp).
    limits:   {"message-size": "1M", "recipients": 5, ...}: `limit` lines.
    timeouts: {"idle": "2s", ...}: `timeout` lines.
    queue:    {"retry-min": "1s", ...}: `queue` lines.
    users:    local parts of the mailboxes in example.test.
    aliases:  extra `source: dest, dest` lines.
    extra:    more config lines, verbatim.
    lmtp_allow: users that may deliver over lmtp.sock besides root and
              the queue (`lmtp listen on socket allow "user"`).
    domain, catchall_domain: the hosted domains (a second instance,
              the receiving end of outbound tests, takes others).
    listen_addr: the address of the port 25-style listener (outbound
              tests put receiving instances on 127.0.0.x).
    hostname: the `hostname` line (default: this host's name).
    submission: also serve submission (587-style, STARTTLS required
              before AUTH) and smtps (465-style, implicit TLS) with AUTH,
              on ports["submission"] and ports["smtps"] (picked when not
              given); submission_opts is appended to both listen lines
              (e.g. "hide-client").
    imap:     also run tsamba-imapd: IMAP with STARTTLS and imaps, POP3
              with STLS and pop3s, on ports["imap"], ["imaps"], ["pop3"],
              ["pop3s"] (picked when not given).
    smtp_opts: appended to the port 25-style listen line (e.g. the
              inbound checks "spf dkim dmarc").
    before_start: called with the sandbox once its tree, config and
              ownerships are written, just before the daemons start
              (e.g. to mount a small tmpfs over the spool).
    metrics:  also run tsamba-metricsd, on ports["metrics"] (picked when
              not given), started after the four daemons.
    keep:     the demo's way: tsamba.conf and each table are written only
              when absent, so what an admin edited (or added with
              tsambactl) survives a restart; the ports are then read from
              the kept tsamba.conf.
    """

    def __init__(self, dir, ports=None, limits=None, timeouts=None,
                 queue=None, users=DEFAULT_USERS, aliases=(), extra=(),
                 lmtp_tcp=False, lmtp_allow=(), sbindir=None, password=None,
                 submission=False, submission_opts="", domain=DOMAIN,
                 catchall_domain=CATCHALL_DOMAIN, listen_addr="127.0.0.1",
                 hostname=None, before_start=None, keep=False,
                 metrics=False, imap=False, smtp_opts=""):
        self.dir = os.path.abspath(dir)
        self.imap = imap
        self.keep = keep
        self.ports = dict(ports or {})
        self.limits = dict(limits or {})
        self.timeouts = dict(timeouts or {})
        self.queue = dict(queue or {})
        self.users = list(users)
        self.extra_aliases = list(aliases)
        self.extra = list(extra)
        self.lmtp_tcp = lmtp_tcp
        self.lmtp_allow = list(lmtp_allow)
        self.before_start = before_start
        self.submission = submission
        self.submission_opts = submission_opts
        self.smtp_opts = smtp_opts
        self.metrics = metrics
        self.sbindir = sbindir or os.environ.get("TSAMBA_SBINDIR")
        self.root = is_root()
        self.domain = domain
        self.catchall_domain = catchall_domain
        self.listen_addr = listen_addr
        self.hostname = hostname or socket.getfqdn()
        if not self.hostname or self.hostname.startswith("localhost"):
            self.hostname = socket.gethostname() or "localhost"

        self.conf = os.path.join(self.dir, "tsamba.conf")
        self.rundir = os.path.join(self.dir, "run")
        self.spool = os.path.join(self.dir, "spool")
        self.mailroot = os.path.join(self.dir, "mail")
        self.chroot = os.path.join(self.dir, "empty")
        self.logdir = os.path.join(self.dir, "log")
        self.pkidir = os.path.join(self.dir, "pki")
        self.tabledir = os.path.join(self.dir, "tables")
        self.pidfile = os.path.join(self.dir, "pids")
        self.envfile = os.path.join(self.dir, "demo.env")
        self.cert = os.path.join(self.pkidir, "cert.pem")
        self.key = os.path.join(self.pkidir, "key.pem")

        old = read_env(self.envfile)
        self.password = (password or old.get("DEMO_PASSWORD") or
                         new_password())
        self.demo_user = "%s@%s" % (self.users[0], self.domain)
        self.pids = self._read_pids()
        self._written = False

    # --------------------------------------------------------- paths, names

    def binary(self, name):
        if self.sbindir:
            return os.path.join(self.sbindir, "tsamba-" + name)
        return os.path.join(TOP, name, "tsamba-" + name)

    def sock(self, name):
        return os.path.join(self.rundir, name)

    @property
    def daemons(self):
        """The daemons of this sandbox, in start order."""
        return (IMAP_DAEMONS if self.imap else DAEMONS) + \
            ((METRICSD,) if self.metrics else ())

    @property
    def metrics_url(self):
        return "http://127.0.0.1:%d/metrics" % self.ports["metrics"]

    @property
    def lmtp_sock(self):
        return self.sock("lmtp.sock")

    @property
    def smtp_port(self):
        return self.ports["smtp"]

    def address(self, local):
        return "%s@%s" % (local, self.domain)

    def maildir(self, address):
        local, _, domain = address.rpartition("@")
        return os.path.join(self.mailroot, domain.lower(), local.lower())

    def role_user(self, role):
        if self.root:
            return SYSTEM_USERS[role]
        return pwd.getpwuid(os.getuid()).pw_name

    def uid_of(self, role):
        return pwd.getpwnam(self.role_user(role)).pw_uid

    # --------------------------------------------------------- writing

    def write(self):
        """Create the directory tree, certificate, tables and config.
        An existing dir is reused: its certificate, password and mail
        stay."""
        for d in (self.dir, self.logdir, self.pkidir, self.tabledir,
                  self.rundir, self.spool, self.mailroot, self.chroot):
            os.makedirs(d, exist_ok=True)
        # The daemons' users must be able to reach the tables and the
        # sockets inside dir (Postfix's lmtp client too).
        os.chmod(self.dir, 0o755)
        os.chmod(self.rundir, 0o755)
        if self.root:
            self._make_users_and_owners()
        if self._kept(self.conf):
            self._ports_from_conf()
            # A demo config of before metricsd: run without it.
            self.metrics = self.metrics and "metrics" in self.ports
        self._pick_ports()
        self._write_pki()
        self._write_tables()
        self._write_conf()
        self._write_env()
        self._written = True

    def _make_users_and_owners(self):
        for name in SYSTEM_USERS.values():
            ensure_system_user(name)
        q = pwd.getpwnam(SYSTEM_USERS["queue"])
        v = pwd.getpwnam(SYSTEM_USERS["vmail"])
        os.chown(self.chroot, 0, 0)
        os.chmod(self.chroot, 0o755)
        if os.listdir(self.chroot):
            raise SandboxError("%s must be empty" % self.chroot)
        os.chown(self.spool, q.pw_uid, q.pw_gid)
        os.chmod(self.spool, 0o700)
        os.chown(self.mailroot, v.pw_uid, v.pw_gid)
        os.chmod(self.mailroot, 0o750)

    def _kept(self, path):
        """In keep mode an existing file is the admin's: not rewritten."""
        return self.keep and os.path.exists(path)

    def _ports_from_conf(self):
        """The ports (and the port 25-style address) of the listen lines
        of a kept tsamba.conf: the first plain one is "smtp", one with
        smtps "smtps", another with auth "submission"."""
        with open(self.conf) as f:
            for line in f:
                w = line.split("#", 1)[0].split()
                if not w:
                    continue
                if w[:3] == ["metrics", "listen", "on"] and len(w) >= 6 \
                        and w[4] == "port" and w[5].isdigit():
                    self.ports.setdefault("metrics", int(w[5]))
                    continue
                port = int(w[4]) if len(w) > 4 and w[4].isdigit() else 0
                if w[0] in ("imap", "pop3") and len(w) >= 6 and \
                        w[1:3] == ["listen", "on"] and w[4] == "port" and \
                        w[5].isdigit():
                    name = w[0] + ("s" if w[0] + "s" in w[6:] else "")
                    self.ports.setdefault(name, int(w[5]))
                    continue
                if len(w) < 5 or w[:2] != ["listen", "on"] or \
                        w[3] != "port" or not w[4].isdigit():
                    continue
                if "smtps" in w[5:]:
                    self.ports.setdefault("smtps", port)
                elif "auth" in w[5:]:
                    self.ports.setdefault("submission", port)
                elif "smtp" not in self.ports:
                    self.ports["smtp"] = port
                    if w[2][0].isdigit():
                        self.listen_addr = w[2]

    def _pick_ports(self):
        old = read_env(self.envfile)
        if "smtp" not in self.ports:
            prev = old.get("SMTP_PORT")
            if prev and prev.isdigit() and port_is_free(int(prev)):
                self.ports["smtp"] = int(prev)
            else:
                self.ports["smtp"] = free_port()
        if self.lmtp_tcp and "lmtp" not in self.ports:
            self.ports["lmtp"] = free_port()
        if self.metrics and "metrics" not in self.ports:
            prev = old.get("METRICS_PORT")
            if prev and prev.isdigit() and port_is_free(int(prev)):
                self.ports["metrics"] = int(prev)
            else:
                self.ports["metrics"] = free_port()
        picks = [(n, k, self.submission) for n, k in
                 (("submission", "SUBMISSION_PORT"), ("smtps", "SMTPS_PORT"))]
        picks += [(n, k, self.imap) for n, k, _, _ in IMAP_PORTS]
        for name, key, wanted in picks:
            if not wanted or name in self.ports:
                continue
            prev = old.get(key)
            if prev and prev.isdigit() and port_is_free(int(prev)):
                self.ports[name] = int(prev)
            else:
                self.ports[name] = free_port()

    def _write_pki(self):
        if os.path.exists(self.cert) and os.path.exists(self.key):
            return
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-subj", "/CN=" + self.hostname,
                        "-days", "3650", "-keyout", self.key,
                        "-out", self.cert],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        os.chmod(self.key, 0o600)
        os.chmod(self.cert, 0o644)

    def _write_tables(self):
        domains = os.path.join(self.tabledir, "domains")
        if not self._kept(domains):
            with open(domains, "w") as f:
                f.write("# hosted domains\n%s\n%s\n" %
                        (self.domain, self.catchall_domain))
        users = os.path.join(self.tabledir, "users")
        if not self._kept(users):
            self._write_users(users)
        aliases = os.path.join(self.tabledir, "aliases")
        if not self._kept(aliases):
            self._write_aliases(aliases)

    def _write_users(self, users):
        hashes = sha512_crypt([self.password] * len(self.users))
        with open(users, "w") as f:
            f.write("# address:{SCHEME}hash:uid:gid::home::\n")
            for local, h in zip(self.users, hashes):
                f.write("%s:%s::::::\n" % (self.address(local), h))
        # Password hashes: readable by authd's user only.
        os.chmod(users, 0o640)
        if self.root:
            os.chown(users, 0, pwd.getpwnam(
                SYSTEM_USERS["auth"]).pw_gid)

    def _write_aliases(self, aliases):
        with open(aliases, "w") as f:
            f.write("# source: destination, ...\n")
            if len(self.users) >= 3:
                f.write("team@%s: %s, %s\n" % (
                    self.domain, self.address(self.users[1]),
                    self.address(self.users[2])))
                f.write("postmaster@%s: %s\n" % (
                    self.domain, self.address(self.users[0])))
            f.write("@%s: %s\n" % (self.catchall_domain,
                                   self.address(self.users[-1])))
            for line in self.extra_aliases:
                f.write(line + "\n")

    def conf_text(self):
        lines = [
            "# generated by regress/sandbox.py",
            'hostname "%s"' % self.hostname,
            'rundir "%s"' % self.rundir,
            'spool "%s"' % self.spool,
            'mailroot "%s"' % self.mailroot,
            'chroot "%s"' % self.chroot,
            # Bans (authd) stay private to the sandbox.
            'statedir "%s"' % os.path.join(self.dir, "state"),
        ]
        for role in SYSTEM_USERS:
            lines.append('user %s "%s"' % (role, self.role_user(role)))
        lines.append('pki demo cert "%s" key "%s"' % (self.cert, self.key))
        for t in ("domains", "users", "aliases"):
            lines.append('table %s file "%s"' %
                         (t, os.path.join(self.tabledir, t)))
        lines.append("listen on %s port %d tls pki demo%s" %
                     (self.listen_addr, self.ports["smtp"],
                      (" " + self.smtp_opts) if self.smtp_opts else ""))
        if self.submission:
            opts = (" " + self.submission_opts) if self.submission_opts \
                else ""
            lines.append("listen on 127.0.0.1 port %d tls-require pki demo "
                         "auth%s" % (self.ports["submission"], opts))
            lines.append("listen on 127.0.0.1 port %d smtps pki demo auth%s"
                         % (self.ports["smtps"], opts))
        if self.imap:
            lines.extend(self.imap_conf_lines())
        lines.append("lmtp listen on socket" +
                     "".join(' allow "%s"' % u for u in self.lmtp_allow))
        if self.lmtp_tcp:
            lines.append("lmtp listen on 127.0.0.1 port %d" %
                         self.ports["lmtp"])
        if self.metrics:
            lines.append("metrics listen on 127.0.0.1 port %d" %
                         self.ports["metrics"])
        for k, v in self.limits.items():
            lines.append("limit %s %s" % (k, v))
        for k, v in self.timeouts.items():
            lines.append("timeout %s %s" % (k, v))
        for k, v in self.queue.items():
            lines.append("queue %s %s" % (k, v))
        lines.extend(self.extra)
        return "\n".join(lines) + "\n"

    def imap_conf_lines(self):
        return ["%s listen on 127.0.0.1 port %d %s pki demo" %
                (proto, self.ports[name], mode)
                for name, _, proto, mode in IMAP_PORTS]

    def _write_conf(self):
        if self._kept(self.conf):
            # A demo kept from before tsamba-imapd: its listeners added.
            with open(self.conf) as f:
                text = f.read()
            if self.imap and "imap listen" not in text:
                with open(self.conf, "a") as f:
                    f.write("\n".join(self.imap_conf_lines()) + "\n")
            return
        with open(self.conf, "w") as f:
            f.write(self.conf_text())
        os.chmod(self.conf, 0o644)

    def env(self):
        return {
            "SMTP_PORT": str(self.ports["smtp"]),
            "SUBMISSION_PORT": str(self.ports.get("submission", "")),
            "SMTPS_PORT": str(self.ports.get("smtps", "")),
            "METRICS_PORT": str(self.ports.get("metrics", "")),
            "IMAP_PORT": str(self.ports.get("imap", "")),
            "IMAPS_PORT": str(self.ports.get("imaps", "")),
            "POP3_PORT": str(self.ports.get("pop3", "")),
            "POP3S_PORT": str(self.ports.get("pop3s", "")),
            "DEMO_USER": self.demo_user,
            "DEMO_PASSWORD": self.password,
            "DEMO_MAILDIR": self.maildir(self.demo_user) + "/",
            "CONF": self.conf,
        }

    def _write_env(self):
        with open(self.envfile, "w") as f:
            f.write("# tsamba demo; a port left empty is not served yet\n")
            for k, v in self.env().items():
                f.write("%s=%s\n" % (k, shlex.quote(v) if v else ""))
        os.chmod(self.envfile, 0o600)

    # --------------------------------------------------------- pids

    def _read_pids(self):
        """{name: pid} from the pid file ("name pid starttime" lines)."""
        pids = {}
        self.starttimes = {}
        try:
            with open(self.pidfile) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3 and parts[1].isdigit():
                        pids[parts[0]] = int(parts[1])
                        self.starttimes[int(parts[1])] = int(parts[2])
        except (OSError, ValueError):
            pass
        return pids

    def _write_pids(self):
        tmp = self.pidfile + ".tmp"
        with open(tmp, "w") as f:
            for name in self.daemons:
                if name in self.pids:
                    pid = self.pids[name]
                    f.write("%s %d %d\n" % (name, pid,
                                            self.starttimes.get(pid, 0)))
        os.rename(tmp, self.pidfile)

    def _ours(self, name, pid):
        """pid is still the daemon we started, not a reused pid: same
        start time as recorded."""
        return (proc_alive(pid) and
                proc_starttime(pid) == self.starttimes.get(pid))

    def running(self):
        """{name: pid} of the recorded daemons still alive."""
        return {n: p for n, p in self.pids.items() if self._ours(n, p)}

    def pid(self, name):
        return self.pids[name]

    def tree(self, name):
        """pids of a daemon and its child processes."""
        return descendants(self.pids[name])

    def all_pids(self):
        return descendants(*self.running().values())

    # --------------------------------------------------------- start, stop

    def start(self):
        if not self._written:
            self.write()
        alive = self.running()
        if alive:
            raise SandboxError("%s already runs %s; stop it first" %
                               (self.dir, ", ".join(
                                   "tsamba-%s[%d]" % x
                                   for x in alive.items())))
        if self.before_start is not None:
            self.before_start(self)
        self.pids = {}
        try:
            for name in self.daemons:
                self._start_one(name)
        except BaseException:
            self.stop()
            raise
        return self

    def start_missing(self):
        """Start the daemons that are not running, in DAEMONS order, and
        keep those that are: running it twice changes nothing.  The pid
        file then lists them all.  Returns the names started."""
        if not self._written:
            self.write()
        alive = self.running()
        self.pids = dict(alive)
        if not alive and self.before_start is not None:
            self.before_start(self)
        started = []
        try:
            for name in self.daemons:
                if name not in alive:
                    self._start_one(name)
                    started.append(name)
        except BaseException:
            for name in reversed(started):
                self.kill(name, signal.SIGTERM)
                del self.pids[name]
            self._write_pids()
            raise
        self._write_pids()
        return started

    def _start_one(self, name, preexec_fn=None):
        path = self.binary(name)
        if not os.access(path, os.X_OK):
            raise SandboxError("%s is not built" % path)
        logpath = os.path.join(self.logdir, name + ".log")
        with open(logpath, "ab") as log:
            log.write(("--- %s start\n" % time.strftime("%F %T")).encode())
            log.flush()
            proc = subprocess.Popen([path, "-d", "-f", self.conf],
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT,
                                    start_new_session=True, close_fds=True,
                                    preexec_fn=preexec_fn)
        self.pids[name] = proc.pid
        self.starttimes[proc.pid] = proc_starttime(proc.pid)
        self._write_pids()
        # Popen objects are dropped: the daemons outlive the CLI.  Reap
        # a dead child here so that a crash is seen as "not alive".
        self._procs = getattr(self, "_procs", {})
        self._procs[name] = proc
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise SandboxError(
                    "tsamba-%s exited with status %s during start-up; "
                    "%s:\n%s" % (name, proc.returncode, logpath,
                                 log_tail(logpath)))
            if self._answers(name):
                return
            if time.monotonic() >= deadline:
                raise SandboxError(
                    "tsamba-%s did not answer within %.0fs; %s:\n%s" %
                    (name, START_TIMEOUT, logpath, log_tail(logpath)))
            time.sleep(0.05)

    def _answers(self, name):
        if name == "smtpd":
            return self.smtp_banner() is not None
        if name == METRICSD:
            try:
                socket.create_connection(("127.0.0.1",
                                          self.ports["metrics"]), 1.0).close()
                return True
            except OSError:
                return False
        if name == "imapd":
            return self.imap_greeting() is not None
        sockname = {"authd": "auth.sock", "queue": "queue.sock",
                    "lmtpd": "lmtp.sock"}[name]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(1.0)
            s.connect(self.sock(sockname))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def smtp_banner(self, timeout=2.0):
        """The 220 greeting of the SMTP listener, or None."""
        try:
            with socket.create_connection((self.listen_addr, self.smtp_port),
                                          timeout=timeout) as s:
                f = s.makefile("rb")
                line = f.readline(1024)
                if not line.startswith(b"220"):
                    return None
                while line[3:4] == b"-":
                    line = f.readline(1024)
                try:
                    s.sendall(b"QUIT\r\n")
                    f.readline(1024)
                except OSError:
                    pass
                return line.decode(errors="replace").strip()
        except OSError:
            return None

    def imap_greeting(self, timeout=2.0):
        """The untagged OK greeting of the IMAP (STARTTLS) port, or None."""
        try:
            with socket.create_connection(("127.0.0.1", self.ports["imap"]),
                                          timeout=timeout) as s:
                line = s.makefile("rb").readline(1024)
                if not line.startswith(b"* OK"):
                    return None
                return line.decode(errors="replace").strip()
        except OSError:
            return None

    def _reap(self, name):
        proc = getattr(self, "_procs", {}).get(name)
        if proc is not None:
            proc.poll()

    def _wait_gone(self, pids, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for name in list(getattr(self, "_procs", {})):
                self._reap(name)
            left = [p for p in pids if proc_alive(p)]
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.05)

    def stop(self):
        """SIGTERM every recorded daemon (in reverse start order), wait,
        SIGKILL what is left.  Returns the child processes that outlived
        their parent and had to be killed (a daemon bug worth a test)."""
        alive = self.running()
        tree = set(self.all_pids())
        for name in reversed(self.daemons):
            if name in alive:
                try:
                    os.kill(alive[name], signal.SIGTERM)
                except ProcessLookupError:
                    pass
        left = self._wait_gone(list(alive.values()), STOP_TIMEOUT)
        for pid in left:
            sys.stderr.write("sandbox: pid %d ignored SIGTERM, SIGKILL\n"
                             % pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._wait_gone(left, STOP_TIMEOUT)
        # Children of our daemons that outlive them: give them a moment
        # to notice, then end them by pid.
        orphans = self._wait_gone(sorted(tree - set(alive.values())), 3.0)
        for pid in orphans:
            sys.stderr.write("sandbox: child pid %d (%s) outlived its "
                             "daemon, SIGKILL\n" % (pid, proc_comm(pid)))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._wait_gone(orphans, STOP_TIMEOUT)
        self.pids = {}
        try:
            os.unlink(self.pidfile)
        except FileNotFoundError:
            pass
        return orphans

    def kill(self, name, sig=signal.SIGKILL, tree=True):
        """Crash a daemon: sig to it (and its children when tree).
        Waits until they are gone."""
        pids = self.tree(name) if tree else [self.pids[name]]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        left = self._wait_gone(pids, STOP_TIMEOUT)
        if left:
            raise SandboxError("pids %s of tsamba-%s survived signal %d" %
                               (left, name, sig))

    def exit_status(self, name, timeout=STOP_TIMEOUT):
        """The exit status of a daemon that ended (-N: killed by signal
        N), waiting for it at most timeout seconds."""
        return self._procs[name].wait(timeout)

    def restart(self, name, preexec_fn=None):
        """Start one daemon again (after kill) and wait until it answers;
        preexec_fn runs in the child before the exec (set a limit)."""
        if name in self.running():
            self.kill(name, signal.SIGTERM, tree=False)
        self._start_one(name, preexec_fn)

    # --------------------------------------------------------- mail

    def maildir_messages(self, address):
        """Paths of the messages in the Maildir of address (new/ and
        cur/)."""
        base = self.maildir(address)
        paths = []
        for sub in ("new", "cur"):
            d = os.path.join(base, sub)
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            paths.extend(os.path.join(d, n) for n in sorted(names)
                         if not n.startswith("."))
        return paths

    def all_messages(self):
        """Paths of every message in every Maildir of the mail root."""
        paths = []
        for domain in sorted(os.listdir(self.mailroot)):
            ddir = os.path.join(self.mailroot, domain)
            if not os.path.isdir(ddir):
                continue
            for user in sorted(os.listdir(ddir)):
                paths.extend(self.maildir_messages("%s@%s" % (user, domain)))
        return paths

    def log(self, name):
        with open(os.path.join(self.logdir, name + ".log"),
                  errors="replace") as f:
            return f.read()

    def logs_tail(self, lines=20):
        out = []
        for name in self.daemons:
            p = os.path.join(self.logdir, name + ".log")
            out.append("==> %s <==\n%s" % (p, log_tail(p, lines)))
        return "\n".join(out)

    def swaks_command(self):
        return ("swaks --server 127.0.0.1:%d --to %s --from you@example.net "
                "--tls" % (self.smtp_port, self.demo_user))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ------------------------------------------------------------- command line

def demo_sandbox(args):
    """The demo: its config and tables are kept once written (keep), and
    it names a postmaster so that <Postmaster> is delivered (to demo@,
    through the postmaster alias of its aliases table)."""
    users = list(DEFAULT_USERS)
    users += ["u%d" % i for i in range(1, getattr(args, "users", 0) + 1)]
    limits = {}
    if getattr(args, "users", 0):
        limits["sessions-per-ip"] = 200
    extra = ['postmaster "postmaster@%s"' % DOMAIN] + getattr(args, "set",
                                                               [])
    return Sandbox(args.dir, users=users, extra=extra, limits=limits,
                   submission=True, keep=True, metrics=True, imap=True)


def cmd_start(args):
    sb = demo_sandbox(args)
    try:
        started = sb.start_missing()
    except (SandboxError, OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("sandbox: %s\n" % e)
        return 1
    running = " ".join("tsamba-%s[%d]" % (n, p)
                       for n, p in sb.running().items())
    if not started:
        print("tsamba already runs in %s: %s" % (sb.dir, running))
        return 0
    print("tsamba runs in %s: %s (started now: %s)" %
          (sb.dir, running, " ".join(started)))
    if not sb.root:
        print("(not root: every daemon runs as %s without chroot)" %
              sb.role_user("smtpd"))
    print("Send the demo user a message:")
    print("  " + sb.swaks_command())
    print("It lands in %s" % (sb.maildir(sb.demo_user) + "/new/"))
    print("Submit as the demo user (STARTTLS, AUTH) on port %d, or with "
          "implicit TLS on port %d:" % (sb.ports["submission"],
                                         sb.ports["smtps"]))
    print("  swaks --server 127.0.0.1:%d --tls --auth-user %s "
          "--auth-password \"$DEMO_PASSWORD\" --from %s --to %s" %
          (sb.ports["submission"], sb.demo_user, sb.demo_user,
           sb.demo_user))
    print("Read the mail over IMAP (implicit TLS, port %d; STARTTLS on %d) "
          "or POP3 (%d; STLS on %d):" % (sb.ports["imaps"], sb.ports["imap"],
                                         sb.ports["pop3s"], sb.ports["pop3"]))
    print("  python3 -c 'import imaplib,ssl,os; m=imaplib.IMAP4_SSL("
          "\"127.0.0.1\", %d, ssl_context=ssl._create_unverified_context()); "
          "m.login(\"%s\", os.environ[\"DEMO_PASSWORD\"]); m.select(); "
          "print(m.fetch(\"1:*\", \"(ENVELOPE)\"))'" %
          (sb.ports["imaps"], sb.demo_user))
    print("  mutt -f imaps://%s@127.0.0.1:%d/" %
          (sb.demo_user.replace("@", "%40"), sb.ports["imaps"]))
    print("Demo user %s, password in %s (DEMO_PASSWORD)" %
          (sb.demo_user, sb.envfile))
    if sb.metrics:
        print("Metrics (Prometheus): curl %s" % sb.metrics_url)
    print("Logs: %s/  Stop: python3 %s stop %s" %
          (sb.logdir, os.path.relpath(__file__), args.dir))
    return 0


def cmd_stop(args):
    if not os.path.exists(os.path.join(args.dir, "tsamba.conf")):
        sys.stderr.write("sandbox: no sandbox in %s\n" % args.dir)
        return 1
    sb = Sandbox(args.dir)
    alive = sb.running()
    sb.stop()
    print("stopped %s" % (" ".join("tsamba-%s[%d]" % x
                                   for x in alive.items()) or "nothing"))
    return 0


def cmd_restart(args):
    """Stop one daemon (with its children) and start it again with the
    flags, log file and pid file entry the demo uses."""
    if not os.path.exists(os.path.join(args.dir, "tsamba.conf")):
        sys.stderr.write("sandbox: no sandbox in %s\n" % args.dir)
        return 1
    sb = demo_sandbox(args)
    try:
        sb.write()
        if args.daemon in sb.running():
            sb.kill(args.daemon, signal.SIGTERM)
        sb._start_one(args.daemon)
    except (SandboxError, OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("sandbox: %s\n" % e)
        return 1
    print("restarted tsamba-%s[%d]; log %s" % (
        args.daemon, sb.pids[args.daemon],
        os.path.join(sb.logdir, args.daemon + ".log")))
    return 0


def cmd_reset(args):
    """Stop the demo, remove its directory, start afresh."""
    d = os.path.abspath(args.dir)
    if os.path.exists(d):
        if not any(os.path.exists(os.path.join(d, f))
                   for f in ("tsamba.conf", "demo.env", "pids")):
            sys.stderr.write("sandbox: %s is not a sandbox, not removed\n"
                             % d)
            return 1
        Sandbox(d).stop()
        import shutil
        shutil.rmtree(d)
        print("removed %s" % d)
    return cmd_start(args)


def main(argv=None):
    p = argparse.ArgumentParser(description="private tsamba sandbox")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="write DIR (or reuse it) and start")
    s.add_argument("dir")
    s.add_argument("--users", type=int, default=0,
                   help="add mailboxes u1..uN@" + DOMAIN)
    s.add_argument("--set", action="append", default=[], metavar="LINE",
                   help="append a line to tsamba.conf")
    r = sub.add_parser("reset", help="stop, remove DIR, start afresh")
    r.add_argument("dir")
    r.add_argument("--users", type=int, default=0)
    r.add_argument("--set", action="append", default=[], metavar="LINE")
    t = sub.add_parser("stop", help="stop the daemons recorded in DIR")
    t.add_argument("dir")
    rs = sub.add_parser("restart", help="restart one daemon of DIR")
    rs.add_argument("dir")
    rs.add_argument("daemon", choices=DAEMONS + ("imapd", METRICSD))
    args = p.parse_args(argv)
    return {"start": cmd_start, "stop": cmd_stop, "reset": cmd_reset,
            "restart": cmd_restart}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
