"""A test milter (python3-milter) for test_milter.py: the local part of
the MAIL FROM address names the action it takes, so that each test asks
for one.  Run as: milter_actions.py PORT ADDED_RCPT

Every message that reaches the end of the body and is not refused gets
"X-Milter-Seen: yes", so a test can tell whether the milter saw it to
the end (an ACCEPT at MAIL means it did not)."""

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

    def eom(self):
        a = self.act
        if a == "hang":
            time.sleep(30)
        if a == "reject":
            self.setreply("550", "5.7.1", "Custom rejection by the milter")
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
        self.addheader("X-Milter-Seen", "yes")
        return Milter.ACCEPT


def main():
    port, Actions.added_rcpt = sys.argv[1], sys.argv[2]
    Milter.factory = Actions
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY |
                     Milter.ADDRCPT | Milter.DELRCPT | Milter.QUARANTINE |
                     Milter.CHGFROM)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    Milter.runmilter("actions", "inet:%s@127.0.0.1" % port, 60)


if __name__ == "__main__":
    main()
