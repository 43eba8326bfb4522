"""A TLS client that says QUIT and leaves at once, its close_notify
sent and the socket closed before the 221 is read, must not hang the
smtp engine: libtls answers every later tls_write() with 0 once the
peer's close_notify is in, and an engine that took 0 for "try again"
spun at 100% CPU and served nobody else.  Found by tsambactl health,
whose first client did exactly this."""

import socket
import ssl

from sandbox import wait_for

ROUNDS = 30


def quit_and_vanish(port):
    """EHLO, STARTTLS, QUIT, close_notify without waiting, close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"220")
        s.sendall(b"EHLO client.test\r\n")
        while f.readline()[3:4] == b"-":
            pass
        s.sendall(b"STARTTLS\r\n")
        assert f.readline().startswith(b"220")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(s)
        t.sendall(b"QUIT\r\n")
        t.setblocking(False)
        try:
            t.unwrap()		# sends close_notify, does not wait
        except (ssl.SSLError, OSError):
            pass
        t.close()


def test_quit_then_close_notify(sb):
    for _ in range(ROUNDS):
        quit_and_vanish(sb.smtp_port)
    # Every other client is still served: a greeting within the timeout.
    assert sb.smtp_banner(timeout=5) is not None, sb.logs_tail()
    # and each of those sessions ended (no session left writing forever)
    wait_for(lambda: sb.log("smtpd").count("disconnect from") >= ROUNDS,
             15, what="every session to end")
