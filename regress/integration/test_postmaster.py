"""RFC 5321 4.5.1 end to end: mail to "postmaster" is accepted without a
domain, for the host name and for every hosted domain, and lands in the
Maildir of the `postmaster` of tsamba.conf unless the domain has a
postmaster alias or mailbox of its own."""

import pytest

from helpers import Raw, copies, send, wait_copy
from sandbox import DOMAIN


@pytest.fixture(scope="module")
def sb(sandbox_factory):
    # The sandbox aliases postmaster@example.test to its first user;
    # catchall.test has a catch-all and no postmaster entry.
    return sandbox_factory("pm", extra=['postmaster "alice@%s"' % DOMAIN])


def test_bare_postmaster(sb):
    with Raw(sb) as r:
        r.banner_and_ehlo()
        assert r.cmd("MAIL FROM:<someone@remote.test>")[0] == 250
        assert r.cmd("RCPT TO:<postmaster>")[0] == 250
        assert r.cmd("RCPT TO:<POSTMASTER>")[0] == 250
    msgid, _, _ = send(sb, "Postmaster")
    wait_copy(sb, sb.address("alice"), msgid)


def test_postmaster_of_hostname(sb):
    msgid, _, _ = send(sb, "postmaster@" + sb.hostname)
    wait_copy(sb, sb.address("alice"), msgid)


def test_postmaster_of_hosted_domain(sb):
    # Before the domain's catch-all, which would take it otherwise.
    msgid, _, _ = send(sb, "PostMaster@" + sb.catchall_domain)
    wait_copy(sb, sb.address("alice"), msgid)
    assert copies(sb, sb.address(sb.users[-1]), msgid) == []


def test_domain_postmaster_alias_wins(sb):
    msgid, _, _ = send(sb, "postmaster@" + sb.domain)
    wait_copy(sb, sb.address(sb.users[0]), msgid)
    # The default postmaster got nothing: one more message to alice,
    # waited for, shows the queue has moved past this one.
    marker, _, _ = send(sb, sb.address("alice"))
    wait_copy(sb, sb.address("alice"), marker)
    assert copies(sb, sb.address("alice"), msgid) == []
