"""Metrics (issue 10): tsamba-metricsd serves the daemons' stats files as
Prometheus text; the scrape is parsed with python3-prometheus-client's
parser and real traffic (smtplib messages delivered locally, a rejected
recipient, failed and successful AUTH on submission, a TLS session) moves
exactly the counters it should.  A daemon that stops shows tsamba_up 0.
metricsd runs as its own user chrooted into the stats directory, and
answers bad HTTP with an error and keeps serving.  tsambactl status reads
the same files, as text and as JSON."""

import base64
import json
import os
import re
import signal
import smtplib
import socket
import stat
import subprocess
import urllib.error
import urllib.request

import pytest

from helpers import (SENDER, make_message, port_open, start_milter,
                     tls_context)
from sandbox import free_port, wait_for

prometheus = pytest.importorskip("prometheus_client.parser")

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CTL = os.path.join(TOP, "ctl", "tsambactl")
DAEMONS = ("smtpd", "queue", "lmtpd", "authd")


@pytest.fixture(scope="module")
def msb(sandbox_factory):
    return sandbox_factory(
        "met", metrics=True, submission=True,
        limits={"sessions-per-ip": 300},
        # Remote mail goes to a relay that is down: it stays queued.
        extra=["ban max-failures 1000",
               'relay host "127.0.0.1" port %d' % free_port()])


def fetch(sb, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" %
                                (sb.ports["metrics"], path),
                                timeout=10) as r:
        return r.status, r.headers, r.read().decode()


def scrape(sb):
    """{(sample name, ((label, value), ...)): value} of one scrape."""
    status, headers, text = fetch(sb)
    assert status == 200
    samples = {}
    for fam in prometheus.text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, "sample %s twice" % (key,)
            samples[key] = s.value
    return samples


def val(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def smtp_l(sb):
    return "smtp:%d" % sb.ports["smtp"]


def sub_l(sb):
    return "submission:%d" % sb.ports["submission"]


def send_local(sb, rcpts, tls=False):
    msgid, msg = make_message(rcpts)
    with smtplib.SMTP("127.0.0.1", sb.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        if tls:
            s.starttls(context=tls_context())
            s.ehlo("client.test")
        assert s.mail(SENDER)[0] == 250
        for r in rcpts:
            assert s.rcpt(r)[0] == 250
        assert s.data(msg)[0] == 250


def plain(user, password):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()) \
        .decode()


def submission(sb):
    s = smtplib.SMTP("127.0.0.1", sb.ports["submission"], timeout=30)
    s.ehlo("client.test")
    s.starttls(context=tls_context())
    s.ehlo("client.test")
    return s


def test_scrape_format(msb):
    status, headers, text = fetch(msb)
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    fams = {f.name: f for f in
            prometheus.text_string_to_metric_families(text)}
    for d in DAEMONS:
        assert val(scrape(msb), "tsamba_up", daemon=d) == 1
    assert fams["tsamba_up"].type == "gauge"
    # The parser drops _total from a counter family's name.
    assert fams["tsamba_smtp_connections"].type == "counter"
    assert fams["tsamba_queue_delivery_seconds"].type == "histogram"
    assert fams["tsamba_queue_messages"].type == "gauge"
    assert "by listener" in fams["tsamba_smtp_connections"].documentation
    # Every listener has its own label; each known family is there.
    s = scrape(msb)
    for listener in (smtp_l(msb), sub_l(msb),
                     "smtps:%d" % msb.ports["smtps"]):
        assert ("tsamba_smtp_sessions", (("listener", listener),)) in s
    for name in ("tsamba_auth_failures", "tsamba_bans",
                 "tsamba_authd_query_seconds", "tsamba_dkim_signatures",
                 "tsamba_lmtp_deliveries", "tsamba_queue_bounces",
                 "tsamba_smtp_tls_sessions", "tsamba_start_time_seconds",
                 "tsamba_authd_database_errors"):
        assert name in fams, name
    start = val(s, "tsamba_start_time_seconds", daemon="smtpd")
    assert abs(start - os.stat("/proc/%d" % msb.pid("smtpd")).st_mtime) \
        < 120


def test_traffic_moves_counters(msb):
    a, b, c = (msb.address(x) for x in ("alice", "bob", "carol"))
    before = scrape(msb)

    # Two messages, three local recipients; one over STARTTLS.
    send_local(msb, [a])
    send_local(msb, [b, c], tls=True)
    # A rejected recipient.
    with smtplib.SMTP("127.0.0.1", msb.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail(SENDER)
        assert s.rcpt(msb.address("nosuchuser"))[0] == 550
    # One failed and one successful AUTH PLAIN on submission.
    with submission(msb) as s:
        assert s.docmd("AUTH", "PLAIN " + plain(msb.demo_user,
                                                "wrong"))[0] == 535
    with submission(msb) as s:
        assert s.docmd("AUTH", "PLAIN " + plain(msb.demo_user,
                                                msb.password))[0] == 235

    def delivered():
        now = scrape(msb)
        return now if val(now, "tsamba_queue_delivered_total",
                          via="lmtp") - val(before,
                                            "tsamba_queue_delivered_total",
                                            via="lmtp") >= 3 else None
    after = wait_for(delivered, 30, what="3 local deliveries counted")

    def moved(name, **labels):
        return val(after, name, **labels) - val(before, name, **labels)

    assert moved("tsamba_queue_delivered_total", via="lmtp") == 3
    assert moved("tsamba_queue_delivered_total", via="smtp") == 0
    assert moved("tsamba_lmtp_deliveries_total", result="delivered") == 3
    assert moved("tsamba_queue_delivery_seconds_count") == 3
    assert moved("tsamba_queue_delivery_seconds_bucket", le="+Inf") == 3
    assert moved("tsamba_queue_failed_total", via="lmtp") == 0
    assert moved("tsamba_smtp_messages_received_total",
                 listener=smtp_l(msb)) == 2
    assert moved("tsamba_smtp_connections_total", listener=smtp_l(msb)) == 3
    assert moved("tsamba_smtp_connections_total", listener=sub_l(msb)) == 2
    assert moved("tsamba_smtp_recipients_rejected_total",
                 listener=smtp_l(msb)) == 1
    assert moved("tsamba_smtp_auth_failures_total",
                 listener=sub_l(msb)) == 1
    assert moved("tsamba_smtp_auth_successes_total",
                 listener=sub_l(msb)) == 1
    assert moved("tsamba_auth_failures_total", service="smtp") == 1
    assert moved("tsamba_auth_successes_total", service="smtp") == 1
    # Three STARTTLS sessions: one on port 25, two on submission.
    tls = sum(v for (n, l), v in after.items()
              if n == "tsamba_smtp_tls_sessions_total") - \
        sum(v for (n, l), v in before.items()
            if n == "tsamba_smtp_tls_sessions_total")
    assert tls == 3
    assert moved("tsamba_smtp_tls_sessions_total", version="TLSv1.3") + \
        moved("tsamba_smtp_tls_sessions_total", version="TLSv1.2") == 3
    # authd answered (at least) the recipients and the two logins.
    assert moved("tsamba_authd_query_seconds_count") >= 6
    assert moved("tsamba_authd_database_errors_total") == 0
    # Nothing stays queued; no one is connected any more.
    wait_for(lambda: val(scrape(msb), "tsamba_queue_messages") == 0 and
             val(scrape(msb), "tsamba_smtp_sessions",
                 listener=smtp_l(msb)) == 0, 10, what="queue empty")
    # The oldest message is looked for again within a second.
    wait_for(lambda: val(scrape(msb),
                         "tsamba_queue_oldest_message_age_seconds") == 0,
             5, what="no oldest message")


def test_sessions_gauge(msb):
    s = smtplib.SMTP("127.0.0.1", msb.smtp_port, timeout=30)
    try:
        s.ehlo("client.test")
        wait_for(lambda: val(scrape(msb), "tsamba_smtp_sessions",
                             listener=smtp_l(msb)) == 1, 10,
                 what="one open session")
    finally:
        s.quit()
    wait_for(lambda: val(scrape(msb), "tsamba_smtp_sessions",
                         listener=smtp_l(msb)) == 0, 10,
             what="no open session")


def test_stats_files(msb):
    d = os.path.join(msb.rundir, "stats")
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o755
    names = sorted(os.listdir(d))
    assert names == sorted("%s.stats" % x for x in DAEMONS)
    for n in names:
        st = os.stat(os.path.join(d, n))
        assert stat.S_IMODE(st.st_mode) == 0o644, n
        assert st.st_uid == os.geteuid(), n


def raw_http(sb, data):
    with socket.create_connection(("127.0.0.1", sb.ports["metrics"]),
                                  10) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass	# answered and closed before the end of a long one
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    return out


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    (b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"GET /metrics HTTP/2.0\r\n\r\n", 505),
    (b"GET metrics HTTP/1.1\r\n\r\n", 400),
    (b"GET /metrics HTTP/1.1\r\n folded: header\r\n\r\n", 400),
    (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"GET /" + b"m" * 300 + b" HTTP/1.1\r\n\r\n", 414),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
], ids=["404", "405", "505", "no-slash", "folded", "431", "414", "tls"])
def test_bad_requests(msb, request_bytes, status):
    out = raw_http(msb, request_bytes)
    assert out.startswith(b"HTTP/1.1 %d " % status), out[:80]
    assert b"Connection: close\r\n" in out
    # The next scrape is served as usual.
    assert fetch(msb)[0] == 200


def test_head_and_query(msb):
    out = raw_http(msb, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == b""
    length = [int(h.split(b":")[1]) for h in head.split(b"\r\n")
              if h.lower().startswith(b"content-length:")]
    assert length and length[0] > 1000
    assert fetch(msb, "/metrics?name=x")[0] == 200


def test_incomplete_request_times_out_alone(msb):
    """A client that sends half a request holds no one else up."""
    with socket.create_connection(("127.0.0.1", msb.ports["metrics"]),
                                  10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost:")
        assert fetch(msb)[0] == 200


@pytest.mark.root
def test_metricsd_privileges(msb):
    pid = msb.pid("metricsd")
    uid = msb.uid_of("metrics")
    assert uid != 0
    with open("/proc/%d/status" % pid) as f:
        fields = dict(l.split(":", 1) for l in f if ":" in l)
    assert fields["Uid"].split() == [str(uid)] * 4
    assert fields["Gid"].split()[0] != "0"
    assert fields["NoNewPrivs"].strip() == "1"
    assert os.readlink("/proc/%d/root" % pid) == \
        os.path.join(msb.rundir, "stats")


def ctl(sb, *args):
    return subprocess.run([CTL, "-f", sb.conf] + list(args),
                          capture_output=True, text=True, timeout=30)


def test_status_text_and_json(msb):
    r = ctl(msb, "status")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["DAEMON", "STATE", "PID"]
    rows = {l.split()[0]: l.split() for l in lines[1:]}
    assert sorted(rows) == sorted(DAEMONS)
    for d in DAEMONS:
        assert rows[d][1] == "running", r.stdout
        assert rows[d][2] == str(msb.pid(d))
        assert rows[d][-1] == "never"

    r = ctl(msb, "status", "-j")
    assert r.returncode == 0, r.stderr
    doc = {d["name"]: d for d in json.loads(r.stdout)["daemons"]}
    assert sorted(doc) == sorted(DAEMONS)
    for d in DAEMONS:
        assert doc[d]["state"] == "running"
        assert doc[d]["pid"] == msb.pid(d)
        assert 0 <= doc[d]["uptime_seconds"] < 3600
        assert doc[d]["last_reload"] is None
    assert doc["queue"]["queue_messages"] == 0
    assert doc["smtpd"]["sessions"] == 0
    assert "sessions" not in doc["authd"]


def test_status_reload(msb):
    os.kill(msb.pid("smtpd"), signal.SIGHUP)

    def reloaded():
        d = {x["name"]: x for x in
             json.loads(ctl(msb, "status", "-j").stdout)["daemons"]}
        return d["smtpd"] if d["smtpd"]["last_reload"] else None
    row = wait_for(reloaded, 10, what="the reload in status")
    assert row["reloads"] == 1
    # ISO 8601 with the UTC offset, as every tsamba time (lib/timefmt.c)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d",
                        row["last_reload"]), row["last_reload"]
    assert val(scrape(msb), "tsamba_last_reload_time_seconds",
               daemon="smtpd") > 0
    r = ctl(msb, "status")
    line = [l for l in r.stdout.splitlines() if l.startswith("smtpd")][0]
    assert line.split()[-1] == row["last_reload"]


def test_down_daemon(msb):
    """Stopped, a daemon is tsamba_up 0 with no figures, status says so
    and exits 1; started again, all is back."""
    msb.kill("lmtpd", signal.SIGTERM)
    s = scrape(msb)
    assert val(s, "tsamba_up", daemon="lmtpd") == 0
    assert val(s, "tsamba_up", daemon="smtpd") == 1
    assert not any(n.startswith("tsamba_lmtp_") for n, _ in s)
    assert ("tsamba_start_time_seconds", (("daemon", "lmtpd"),)) not in s
    r = ctl(msb, "status")
    assert r.returncode == 1
    row = [l for l in r.stdout.splitlines() if l.startswith("lmtpd")][0]
    assert row.split()[1] == "stopped"
    doc = {d["name"]: d for d in json.loads(ctl(msb, "status", "-j")
                                            .stdout)["daemons"]}
    assert doc["lmtpd"] == {"name": "lmtpd", "state": "stopped"}

    # A killed one (no clean exit) is down as well.
    msb.kill("authd", signal.SIGKILL)
    # its workers notice the parent gone and exit, releasing the lock
    wait_for(lambda: val(scrape(msb), "tsamba_up", daemon="authd") == 0,
             10, what="authd down in the metrics")
    assert "stopped" in [l.split()[1] for l in ctl(msb, "status")
                         .stdout.splitlines() if l.startswith("authd")]

    msb.restart("authd")
    msb.restart("lmtpd")
    s = scrape(msb)
    assert val(s, "tsamba_up", daemon="lmtpd") == 1
    assert val(s, "tsamba_up", daemon="authd") == 1
    # A fresh start counts from zero.
    assert val(s, "tsamba_lmtp_deliveries_total", result="delivered") == 0
    assert ctl(msb, "status").returncode == 0


def test_queue_gauges(msb):
    """A submitted message for a remote recipient whose relay is down:
    one deferral counted, one message queued, its age growing; status
    shows it too.  (Last: the message stays queued.)"""
    before = scrape(msb)
    _, msg = make_message(["friend@remote.test"])

    def sent():
        # smtpd reconnects to the authd restarted above: 454 until then.
        with submission(msb) as s:
            if s.docmd("AUTH", "PLAIN " + plain(msb.demo_user,
                                                msb.password))[0] != 235:
                return False
            s.sendmail(msb.demo_user, ["friend@remote.test"], msg)
            return True
    wait_for(sent, 30, interval=0.5, what="a submission accepted")

    def deferred():
        now = scrape(msb)
        return now if val(now, "tsamba_queue_deferred_total", via="smtp") > \
            val(before, "tsamba_queue_deferred_total", via="smtp") else None
    now = wait_for(deferred, 30, what="a remote deferral counted")
    assert val(now, "tsamba_queue_messages") == 1
    assert val(now, "tsamba_queue_delivered_total", via="smtp") == 0
    assert val(now, "tsamba_smtp_messages_received_total",
               listener=sub_l(msb)) == 1
    wait_for(lambda: val(scrape(msb),
                         "tsamba_queue_oldest_message_age_seconds") >= 1,
             10, what="the oldest message aging")
    doc = {d["name"]: d for d in json.loads(ctl(msb, "status", "-j")
                                            .stdout)["daemons"]}
    assert doc["queue"]["queue_messages"] == 1
    assert doc["queue"]["queue_oldest_seconds"] >= 1
    row = [l for l in ctl(msb, "status").stdout.splitlines()
           if l.startswith("queue")][0]
    assert row.split()[5] == "1" and row.split()[6].startswith("(")


def test_outbound_counted(sandbox_factory):
    """Mail to another host (a second sandbox, through a relay with
    STARTTLS): a remote delivery, its delay and one outbound TLS session
    counted."""
    rcv = sandbox_factory("rcv", domain="remote.test",
                          catchall_domain="catchall-remote.test",
                          users=("friend",))
    out = sandbox_factory(
        "out", metrics=True, submission=True,
        extra=['relay host "127.0.0.1" port %d starttls' % rcv.smtp_port])
    before = scrape(out)
    _, msg = make_message(["friend@remote.test"])
    with submission(out) as s:
        assert s.docmd("AUTH", "PLAIN " + plain(out.demo_user,
                                                out.password))[0] == 235
        s.sendmail(out.demo_user, ["friend@remote.test"], msg)

    def sent():
        now = scrape(out)
        return now if val(now, "tsamba_queue_delivered_total",
                          via="smtp") == 1 else None
    now = wait_for(sent, 30, what="the remote delivery counted")
    assert val(now, "tsamba_queue_delivered_total", via="lmtp") == 0
    assert val(now, "tsamba_queue_delivery_seconds_count") == 1
    tls = [v - val(before, n, **dict(l)) for (n, l), v in now.items()
           if n == "tsamba_mta_tls_sessions_total"]
    assert sum(tls) == 1
    assert val(now, "tsamba_mta_tls_sessions_total", version="TLSv1.3") + \
        val(now, "tsamba_mta_tls_sessions_total", version="TLSv1.2") == 1
    wait_for(lambda: rcv.maildir_messages("friend@remote.test"), 30,
             what="the message at the other host")


def test_config_check(msb, tmp_path):
    """-n accepts the sandbox's config and refuses one without a
    "metrics listen on" statement, saying so."""
    binary = msb.binary("metricsd")
    r = subprocess.run([binary, "-n", "-f", msb.conf], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and "configuration OK" in r.stdout, r.stderr
    with open(msb.conf) as f:
        text = "".join(l for l in f if not l.startswith("metrics "))
    conf = tmp_path / "no-metrics.conf"
    conf.write_text(text)
    r = subprocess.run([binary, "-n", "-f", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert 'no "metrics listen on" statement' in r.stderr, r.stderr


# ------------------------------------- inbound checks and milter counters

@pytest.fixture(scope="module")
def csb(request, sandbox_factory, tmp_path_factory):
    """SPF, DKIM, DMARC, iprev and the test milter on one listener,
    against dnsmasq, with the metrics endpoint."""
    import dnsfix
    if not os.path.exists(dnsfix.DNSMASQ):
        pytest.skip("dnsmasq (dnsmasq-base) not installed")
    pytest.importorskip("Milter")
    d = tmp_path_factory.mktemp("metrics-checks")
    dns = dnsfix.checks_server(str(d))
    dns.start()
    request.addfinalizer(dns.stop)
    mport = free_port()
    log = open(str(d / "milter.log"), "w")
    request.addfinalizer(log.close)
    start_milter(request, mport, log)
    wait_for(lambda: port_open(mport), 20, what="the test milter")
    port = free_port()
    sb = sandbox_factory("metchecks", metrics=True, extra=[
        'check resolver "%s"' % dns.resolver,
        'milter "t" on "inet:127.0.0.1:%d"' % mport,
        'listen on 127.0.0.1 port %d spf dkim dmarc iprev milter "t"' %
        port])
    sb.checked_port = port
    return sb


def send_from(sb, frm):
    rcpt = sb.address(sb.users[1])
    msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: counted\r\n\r\nHi.\r\n" %
           (frm, rcpt)).encode()
    with smtplib.SMTP("127.0.0.1", sb.checked_port, timeout=60) as s:
        s.ehlo("client.test")
        s.mail(frm)
        s.rcpt(rcpt)
        try:
            return s.data(msg)[0]
        except smtplib.SMTPDataError as e:
            return e.smtp_code


def test_check_and_milter_counters(csb):
    """One message that passes (the milter accepts it) and one DMARC
    reject (the milter never sees it): each verdict and result is
    counted once, the milter's accept once, and tsambactl status shows
    the same figures."""
    assert send_from(csb, "a@good.test") == 250
    assert send_from(csb, "ceo@reject.test") == 550

    def counted():
        s = scrape(csb)
        return s if val(s, "tsamba_check_verdicts_total",
                        action="reject") == 1 else None
    s = wait_for(counted, 10, what="the verdict counters")
    assert val(s, "tsamba_check_verdicts_total", action="accept") == 1
    assert val(s, "tsamba_check_verdicts_total", action="tempfail") == 0
    assert val(s, "tsamba_check_spf_total", result="pass") == 1
    assert val(s, "tsamba_check_spf_total", result="fail") == 1
    assert val(s, "tsamba_check_dmarc_total", result="pass") == 1
    assert val(s, "tsamba_check_dmarc_total", result="fail") == 1
    assert val(s, "tsamba_check_dkim_total", result="none") == 2
    assert val(s, "tsamba_check_iprev_total", result="pass") >= 2
    assert val(s, "tsamba_milter_actions_total", action="accept") == 1
    assert val(s, "tsamba_milter_actions_total", action="header") >= 2
    assert val(s, "tsamba_milter_actions_total", action="reject") == 0

    r = ctl(csb, "status")
    assert "checks: accept 1 reject 1" in r.stdout, r.stdout
    line = [l for l in r.stdout.splitlines() if l.startswith("milters:")]
    assert line and " accept 1" in line[0], r.stdout
    doc = {d["name"]: d for d in
           json.loads(ctl(csb, "status", "-j").stdout)["daemons"]}
    assert doc["smtpd"]["check_verdicts"] == {
        "accept": 1, "quarantine": 0, "reject": 1, "tempfail": 0}
    assert doc["smtpd"]["milter_actions"]["accept"] == 1
