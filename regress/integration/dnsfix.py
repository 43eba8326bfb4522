"""A private DNS server for the outbound tests: dnsmasq (Debian's
dnsmasq-base) on a free loopback port, serving test zones from its command
line and nothing else (--no-resolv --no-hosts, no upstream).

    dns = DnsServer(dir)
    dns.mx("remote.test", "mx1.remote.test", 10)
    dns.host("mx1.remote.test", "127.0.0.3", "::1")
    dns.txt("sel._domainkey.remote.test", "v=DKIM1; k=ed25519; p=...")
    dns.null_mx("nomail.test")
    dns.start()          # the tsamba.conf line: dns.resolver_conf()
    ...
    dns.stop()           # by pid

Every name under the zones given to local (default "test") that has no
record is NXDOMAIN, so a missing domain looks like one on the internet.

A null MX (RFC 7505: one MX with preference 0 and the root as exchange)
cannot be written with --mx-host (dnsmasq wants a host name there), so it
is served as a raw record: --dns-rr=DOMAIN,15,000000 (type 15 = MX,
rdata = preference 0x0000 and the root label 0x00).

Only the Python 3 standard library is used.
"""

import os
import shutil
import signal
import socket
import subprocess
import time

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_udp_port():
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def txt_chunks(text):
    """A TXT value as dnsmasq arguments: character-strings of at most
    255 bytes, separated by commas.  On dnsmasq's command line (unlike in
    its config file) quotes are not removed but served, so the strings go
    unquoted; a comma cannot be carried this way."""
    assert "," not in text and '"' not in text, text
    chunks = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
    return ",".join(chunks)


class DnsServer:
    def __init__(self, dir, local=("test",), port=None):
        self.dir = os.path.abspath(dir)
        self.port = port
        self.local = list(local)
        self.args = []
        self.proc = None
        self.logpath = os.path.join(self.dir, "dnsmasq.log")
        self.pidfile = os.path.join(self.dir, "dnsmasq.pid")

    # ---------------------------------------------------------- records

    def mx(self, domain, host, pref=10):
        self.args.append("--mx-host=%s,%s,%d" % (domain, host, pref))

    def null_mx(self, domain):
        self.args.append("--dns-rr=%s,15,000000" % domain)

    def host(self, name, *addrs):
        """A and AAAA records (IPv4 and IPv6 addresses, any mix)."""
        for a in addrs:
            self.args.append("--host-record=%s,%s" % (name, a))

    def ptr(self, name, target):
        """A PTR record alone (host() makes the PTR of its A too)."""
        self.args.append("--ptr-record=%s,%s" % (name, target))

    def txt(self, name, text):
        self.args.append("--txt-record=%s,%s" % (name, txt_chunks(text)))

    def txt_strings(self, name, strings):
        """A TXT record split into exactly these character-strings."""
        assert not [s for s in strings if "," in s or '"' in s], strings
        self.args.append("--txt-record=%s,%s" % (name.rstrip("."),
                                                 ",".join(strings)))

    # ---------------------------------------------------------- process

    @property
    def resolver(self):
        return "127.0.0.1@%d" % self.port

    def resolver_conf(self):
        return 'mta resolver "%s"' % self.resolver

    def command(self):
        cmd = [DNSMASQ, "--keep-in-foreground", "--no-resolv",
               "--no-hosts", "--no-poll", "--conf-file=/dev/null",
               "--listen-address=127.0.0.1", "--bind-interfaces",
               "--port=%d" % self.port, "--pid-file=%s" % self.pidfile,
               "--log-facility=-", "--log-queries"]
        if os.geteuid() == 0:
            cmd.append("--user=root")
        for zone in self.local:
            cmd.append("--local=/%s/" % zone)
        return cmd + self.args

    def start(self, timeout=10.0):
        os.makedirs(self.dir, exist_ok=True)
        if self.port is None:
            self.port = free_udp_port()
        with open(self.logpath, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                close_fds=True)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq exited with %s:\n%s" % (
                    self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("dnsmasq does not answer:\n%s" %
                                   self.log())
            time.sleep(0.05)
        return self

    def answers(self):
        """dnsmasq answers a query (any answer) on its port."""
        q = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             b"\x05probe\x04test\x00\x00\x01\x00\x01")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(q, ("127.0.0.1", self.port))
                return s.recv(512)[:2] == b"\x12\x34"
            except OSError:
                return False

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def log(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def checks_server(dir):
    """A server (not started) with the domains of the inbound checks'
    tests: good.test passes SPF for 127.0.0.1, reject.test fails it, both
    publish DMARC p=reject; 127.0.0.1 is client.test both ways (PTR and
    A), the reverse zone of 127/8 being served too."""
    dns = DnsServer(dir, local=("test", "127.in-addr.arpa"))
    dns.txt("good.test", "v=spf1 ip4:127.0.0.0/8 -all")
    dns.txt("_dmarc.good.test", "v=DMARC1; p=reject")
    dns.txt("reject.test", "v=spf1 -all")
    dns.txt("_dmarc.reject.test", "v=DMARC1; p=reject")
    dns.host("client.test", "127.0.0.1")
    return dns
