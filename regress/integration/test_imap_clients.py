"""tsamba-imapd with real IMAP clients from Debian (issue 8), each on a
mailbox of its own filled through SMTP, each checked over imaplib:

- mbsync (isync) pulls the INBOX down into a local Maildir with the
  flags the server has, pushes a flag set and a message deleted locally
  back up, and a second run changes nothing on either side;
- Perl Mail::IMAPClient logs in over STARTTLS, lists the folders,
  selects INBOX, fetches a message's header and body, sets \\Seen,
  creates a folder and moves a message into it (COPY, \\Deleted and
  EXPUNGE, the library's way);
- mutt, driven through a private tmux server (it needs a terminal),
  opens imaps://, pipes a message out (what the user reads) and saves
  it into another folder, which removes it from INBOX."""

import imaplib
import os
import re
import shutil
import socket
import subprocess
import textwrap

import pytest

from helpers import send, tls_context
from sandbox import wait_for

TIMEOUT = 20
USERS = ("mbsync", "perl", "mutt")
SUBJECTS = ("first", "second", "third")


@pytest.fixture(scope="module")
def csb(sandbox_factory):
    sb = sandbox_factory("clients", imap=True, users=USERS,
                         limits={"sessions-per-ip": 300})
    for u in USERS:
        addr = sb.address(u)
        for i, subj in enumerate(SUBJECTS):
            send(sb, addr, subject=subj,
                 body="Body of the %s message.\n" % subj)
            wait_for(lambda: len(sb.maildir_messages(addr)) > i, TIMEOUT,
                     what="delivery %d to %s" % (i + 1, addr))
    return sb


def imaps(sb, user):
    m = imaplib.IMAP4_SSL("127.0.0.1", sb.ports["imaps"],
                          ssl_context=tls_context(), timeout=TIMEOUT)
    m.login(sb.address(user), sb.password)
    return m


def server_state(sb, user, mailbox="INBOX"):
    """{uid: (subject, set of flags)} of a mailbox, over imaplib."""
    m = imaps(sb, user)
    try:
        typ, _ = m.select(mailbox, readonly=True)
        assert typ == "OK", mailbox
        typ, data = m.uid("FETCH", "1:*",
                          "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        state = {}
        # UID and FLAGS may come before or after the literal: a reply is
        # the tuple (text before, literal) and the bytes after it.
        for i, item in enumerate(data):
            if not isinstance(item, tuple):
                continue
            rest = data[i + 1] if i + 1 < len(data) and \
                isinstance(data[i + 1], bytes) else b""
            text = (item[0] + b" " + rest).decode()
            uid = int(re.search(r"UID (\d+)", text).group(1))
            flags = set(re.search(r"FLAGS \(([^)]*)\)", text)
                        .group(1).split())
            subj = item[1].decode().split(":", 1)[1].strip()
            state[uid] = (subj, flags)
        return state
    finally:
        m.logout()


def folders(sb, user):
    m = imaps(sb, user)
    try:
        typ, data = m.list()
        assert typ == "OK"
        return {d.decode().rsplit(" ", 1)[1].strip('"') for d in data}
    finally:
        m.logout()


def run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True,
                       timeout=TIMEOUT * 3, **kw)
    assert p.returncode == 0, "%s: rc %d\nstdout:\n%s\nstderr:\n%s" % (
        argv[0], p.returncode, p.stdout, p.stderr)
    return p


# ------------------------------------------------------------- mbsync

def local_messages(maildir):
    """{subject: maildir flags} of the messages in a local Maildir."""
    out = {}
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(maildir, sub)):
            with open(os.path.join(maildir, sub, name), "rb") as f:
                head = f.read().split(b"\n\n", 1)[0].decode()
            subj = re.search(r"^Subject: (.*)$", head, re.M).group(1)
            flags = name.split(":2,", 1)[1] if ":2," in name else ""
            out[subj.strip()] = (os.path.join(maildir, sub, name), flags)
    return out


def mbsync_transport(sb):
    """mbsync checks the certificate's name against Host: the sandbox's
    certificate names sb.hostname, which only some machines resolve to the
    127.0.0.1 the sandbox listens on.  Elsewhere openssl s_client carries
    the TLS, as a Tunnel, so that mbsync still talks to the imaps port."""
    try:
        addr = socket.gethostbyname(sb.hostname)
    except OSError:
        addr = None
    if addr == "127.0.0.1":
        return ("Host %s\nPort %d\nSSLType IMAPS\nCertificateFile %s" %
                (sb.hostname, sb.ports["imaps"], sb.cert))
    return ('Tunnel "openssl s_client -quiet -verify_quiet -connect '
            '127.0.0.1:%d"' % sb.ports["imaps"])


def test_mbsync_down_up_noop(csb, tmp_path):
    user = "mbsync"
    m = imaps(csb, user)
    m.select()
    uids = m.uid("SEARCH", None, "ALL")[1][0].split()
    assert len(uids) == 3
    # One flag set on the server before the first sync: it must come down.
    assert m.uid("STORE", uids[0], "+FLAGS", "(\\Flagged)")[0] == "OK"
    m.logout()

    store = tmp_path / "mail"
    store.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(textwrap.dedent("""\
        IMAPAccount sb
        %s
        User %s
        Pass %s
        AuthMechs LOGIN

        IMAPStore far
        Account sb

        MaildirStore near
        Path %s/
        Inbox %s/INBOX
        SubFolders Verbatim

        Channel sync
        Far :far:
        Near :near:
        Patterns INBOX
        Create Near
        Expunge Both
        SyncState *
        Sync All
        """) % (mbsync_transport(csb), csb.address(user), csb.password,
                store, store))
    mbsync = ["mbsync", "-c", str(rc), "sync"]

    run(mbsync)
    local = local_messages(str(store / "INBOX"))
    assert set(local) == set(SUBJECTS)
    assert local["first"][1] == "F"
    assert local["second"][1] == "" and local["third"][1] == ""

    # Locally: "second" read, "third" deleted; pushed up by the next run.
    path, flags = local["second"]
    cur = os.path.join(str(store / "INBOX"), "cur",
                       os.path.basename(path).split(":2,")[0] + ":2,S")
    os.rename(path, cur)
    os.unlink(local["third"][0])
    run(mbsync)
    state = server_state(csb, user)
    by_subj = {s: f for s, f in state.values()}
    assert set(by_subj) == {"first", "second"}, state
    assert "\\Flagged" in by_subj["first"]
    assert "\\Seen" in by_subj["second"]
    assert "\\Seen" not in by_subj["first"]
    assert not any(f - {"\\Seen", "\\Flagged", "\\Recent"}
                   for f in by_subj.values())

    # A third run has nothing to do: both sides stay exactly as they are.
    before_local = sorted(os.path.basename(p) for p, _ in
                          local_messages(str(store / "INBOX")).values())
    run(mbsync)
    assert state == server_state(csb, user)
    after_local = sorted(os.path.basename(p) for p, _ in
                         local_messages(str(store / "INBOX")).values())
    assert before_local == after_local


# ------------------------------------------------- Mail::IMAPClient

PERL = r"""
use strict;
use warnings;
use Mail::IMAPClient;
use IO::Socket::SSL qw(SSL_VERIFY_NONE);

my ($port, $user, $pass) = @ARGV;
my $imap = Mail::IMAPClient->new(
    Server => "127.0.0.1", Port => $port, User => $user,
    Password => $pass, Starttls => [SSL_verify_mode => SSL_VERIFY_NONE],
    Uid => 1, Timeout => 20,
) or die "connect/login: $@\n";
$imap->IsAuthenticated or die "not authenticated\n";
print "folders: ", join(",", $imap->folders), "\n";
$imap->select("INBOX") or die "select: ", $imap->LastError, "\n";
my @uids = $imap->messages or die "messages: ", $imap->LastError, "\n";
print "count: ", scalar(@uids), "\n";
my $first = $uids[0];
my $h = $imap->parse_headers($first, "Subject")
    or die "parse_headers: ", $imap->LastError, "\n";
print "subject: $h->{Subject}[0]\n";
my $body = $imap->body_string($first);
defined $body or die "body_string: ", $imap->LastError, "\n";
$body =~ s/\r?\n$//;
print "body: $body\n";
$imap->set_flag("Seen", $first) or die "set_flag: ", $imap->LastError, "\n";
print "flags: ", join(" ", $imap->flags($first)), "\n";
$imap->create("Archive") or die "create: ", $imap->LastError, "\n";
my $moved = $imap->move("Archive", $uids[1])
    or die "move: ", $imap->LastError, "\n";
print "moved: $moved\n";
# move() is COPY and \Deleted; the client's EXPUNGE ends it.
$imap->expunge or die "expunge: ", $imap->LastError, "\n";
$imap->logout or die "logout: ", $imap->LastError, "\n";
"""


def test_perl_mail_imapclient(csb, tmp_path):
    user = "perl"
    script = tmp_path / "client.pl"
    script.write_text(PERL)
    p = run(["perl", str(script), str(csb.ports["imap"]),
             csb.address(user), csb.password])
    out = dict(line.split(": ", 1) for line in p.stdout.splitlines()
               if ": " in line)
    assert len(out) == 6, p.stdout
    assert "INBOX" in out["folders"].split(",")
    assert out["count"] == "3"
    assert out["subject"] == "first"
    assert out["body"] == "Body of the first message."
    assert "\\Seen" in out["flags"].split()

    inbox = server_state(csb, user)
    assert sorted(s for s, _ in inbox.values()) == ["first", "third"]
    assert [f for s, f in inbox.values() if s == "first"][0] >= {"\\Seen"}
    assert "Archive" in folders(csb, user)
    archive = server_state(csb, user, "Archive")
    assert [s for s, _ in archive.values()] == ["second"]
    # The move took the message's own UID in the new folder (UIDPLUS).
    assert out["moved"] == str(min(archive))


# --------------------------------------------------------------- mutt

def test_mutt_read_and_save(csb, tmp_path):
    if not shutil.which("tmux"):
        pytest.fail("tmux missing (regress/deps.sh installs it)")
    user = "mutt"
    piped = tmp_path / "piped.txt"
    certs = tmp_path / "certs.pem"
    shutil.copy(csb.cert, certs)
    rc = tmp_path / "muttrc"
    rc.write_text(textwrap.dedent("""\
        set folder="imaps://%s@127.0.0.1:%d/"
        set spoolfile="+INBOX"
        set imap_pass="%s"
        set certificate_file="%s"
        set ssl_verify_host=no
        set ssl_force_tls=yes
        set imap_passive=no
        set confirmcreate=no
        set confirmappend=no
        set delete=yes
        set move=no
        set mark_old=no
        set sort=date-sent
        set header_cache=""
        set message_cachedir=""
        set wait_key=no
        set pipe_decode=yes
        """) % (csb.address(user).replace("@", "%40"), csb.ports["imaps"],
                csb.password, certs))
    # Show the first message (read), pipe it to a file, save it to
    # =Saved (mutt marks the INBOX copy deleted), sync and quit.
    keys = ("<display-message><exit><pipe-message>cat > %s<enter>"
            "<save-message>=Saved<enter><sync-mailbox><quit>" % piped)
    sock = str(tmp_path / "tmux.sock")
    env = dict(os.environ, TERM="xterm", HOME=str(tmp_path))
    argv = ["tmux", "-S", sock, "-f", "/dev/null", "new-session", "-d",
            "-x", "120", "-y", "40", "mutt", "-n", "-F", str(rc),
            "-e", "push '%s'" % keys]
    run(argv, env=env)
    try:
        wait_for(lambda: subprocess.run(
            ["tmux", "-S", sock, "has-session"], env=env,
            capture_output=True).returncode != 0, TIMEOUT,
            what="mutt to finish")
    except Exception:
        screen = subprocess.run(["tmux", "-S", sock, "capture-pane", "-p"],
                                env=env, capture_output=True, text=True)
        subprocess.run(["tmux", "-S", sock, "kill-server"], env=env,
                       capture_output=True)
        raise AssertionError("mutt did not finish; its screen:\n" +
                             screen.stdout)
    text = piped.read_text()
    assert "Subject: first" in text
    assert "Body of the first message." in text
    inbox = server_state(csb, user)
    assert sorted(s for s, _ in inbox.values()) == ["second", "third"]
    saved = server_state(csb, user, "Saved")
    # Saved as what it is now: read.
    assert list(saved.values()) == [("first", {"\\Seen"})], saved
