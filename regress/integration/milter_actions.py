"""A test milter (python3-milter) for test_milter.py: the local part of
the MAIL FROM address (or an X-Test-Action header, for submissions
whose sender is fixed) names the action it takes, so that each test
asks for one.  Run as: milter_actions.py PORT|unix:/path ADDED_RCPT

Every message that reaches the end of the body and is not refused gets
"X-Milter-Seen: yes", so a test can tell whether the milter saw it to
the end (an ACCEPT at MAIL means it did not), and "X-Milter-Auth:" with
the {auth_authen} macro ("none" without AUTH)."""

import os
import sys
import time

import Milter


class Actions(Milter.Base):
    added_rcpt = None

    def __init__(self):
        self.act = ""
        self.rcpts = []

    def envfrom(self, mailfrom, *args):
        self.act = mailfrom.strip("<>").split("@", 1)[0]
        self.rcpts = []
        if self.act == "accept":
            return Milter.ACCEPT
        if self.act == "mailreject":
            self.setreply("550", "5.7.1", "sender refused by the milter")
            return Milter.REJECT
        return Milter.CONTINUE

    def envrcpt(self, to, *args):
        self.rcpts.append(to)
        if self.act == "rcptreject" and len(self.rcpts) == 2:
            self.setreply("550", "5.7.1", "second recipient refused")
            return Milter.REJECT
        return Milter.CONTINUE

    def header(self, name, value):
        if name.lower() == "x-test-action":
            self.act = value.strip()
        return Milter.CONTINUE

    def eom(self):
        a = self.act
        if a == "hang":
            time.sleep(30)
        if a == "reject":
            self.setreply("550", "5.7.1", "Custom rejection by the milter")
            return Milter.REJECT
        if a == "longreply":
            self.setreply("550", "5.7.1", *["line %d %s" % (i, "x" * 300)
                                            for i in range(10)])
            return Milter.REJECT
        if a == "plainreject":
            return Milter.REJECT
        if a == "tempfail":
            self.setreply("451", "4.7.1", "Come back later, says the milter")
            return Milter.TEMPFAIL
        if a == "discard":
            return Milter.DISCARD
        if a == "quarantine":
            self.quarantine("held by the test milter")
        if a == "headers":
            self.addheader("X-Milter-Added", "added at the end")
            self.addheader("X-Milter-Top", "inserted first", 0)
            self.chgheader("Subject", 1, "changed by the milter")
            self.chgheader("X-Remove-Me", 1, "")
        if a == "body":
            self.replacebody(b"The milter replaced this body.\r\n"
                             b"Second line.\r\n")
        if a == "chgfrom":
            self.chgfrom("<changed@milter.test>")
        if a == "addrcpt":
            self.addrcpt("<%s>" % self.added_rcpt)
        if a == "delrcpt":
            self.delrcpt(self.rcpts[-1])
        self.addheader("X-Milter-Auth",
                       self.getsymval("{auth_authen}") or "none")
        self.addheader("X-Milter-Seen", "yes")
        return Milter.ACCEPT


def main():
    where, Actions.added_rcpt = sys.argv[1], sys.argv[2]
    if where.startswith("unix:"):
        # The smtp engine's user connects: the socket must let it.
        os.umask(0)
        spec = where
    else:
        spec = "inet:%s@127.0.0.1" % where
    Milter.factory = Actions
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY |
                     Milter.ADDRCPT | Milter.DELRCPT | Milter.QUARANTINE |
                     Milter.CHGFROM)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    Milter.runmilter("actions", spec, 60)


if __name__ == "__main__":
    main()
