"""imsg client for the tsamba sockets, shared by the integration tests:
framing, typed payload reading, the hello handshake, and one method per
request of auth.sock and authd.control.sock (lib/proto.h)."""

import os
import socket
import struct

PROTO_VERSION = 1
IMSG_HELLO = 1
LOOKUP_RCPT, RCPT_RESULT, LOOKUP_USER, USER_RESULT = 100, 101, 102, 103
LOGIN, LOGIN_RESULT, CHECK_SENDER, SENDER_RESULT = 104, 105, 106, 107
CHECK_BAN, BAN_RESULT = 108, 109
CTL_BAN_LIST, CTL_BAN_ENTRY, CTL_BAN_ADD, CTL_BAN_DEL, CTL_DONE = \
    900, 901, 902, 903, 904
OK, NOUSER, NOTHOSTED, TEMPFAIL, INVALID = range(5)
AUTH_OK, AUTH_FAIL, AUTH_TEMPFAIL, AUTH_BANNED = range(4)
RCPT_LOCAL = 0x01


def pack_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<H", len(b)) + b


def frame(mtype, payload, length=None):
    if length is None:
        length = 16 + len(payload)
    return struct.pack("=IIII", mtype, length, 0, os.getpid()) + payload


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("short payload")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self):
        return self.take(1)[0]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def str(self):
        n = struct.unpack("<H", self.take(2))[0]
        return self.take(n).decode("utf-8", "surrogateescape")

    def end(self):
        assert self.pos == len(self.data), "trailing payload"


class Client:
    """One channel to auth.sock, hello exchanged."""

    def __init__(self, path, hello=True, timeout=5.0, peer="authd"):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1
        if hello:
            mtype, payload = self.recv()
            assert mtype == IMSG_HELLO
            r = Reader(payload)
            assert r.u32() == PROTO_VERSION
            assert r.str() == peer
            r.end()
            self.send(IMSG_HELLO, struct.pack("<I", PROTO_VERSION) +
                      pack_str("test_authd"))

    def close(self):
        self.sock.close()

    def send(self, mtype, payload):
        self.sock.sendall(frame(mtype, payload))

    def recv(self):
        """(type, payload), or None at EOF."""
        while True:
            if len(self.buf) >= 16:
                mtype, length, _, _ = struct.unpack("=IIII", self.buf[:16])
                length &= 0xffff
                if len(self.buf) >= length:
                    payload = self.buf[16:length]
                    self.buf = self.buf[length:]
                    return mtype, payload
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data

    def closed_by_peer(self):
        """True once the daemon has closed the channel."""
        try:
            while True:
                if self.recv() is None:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def rcpt_request(self, address, rid=None):
        rid = self.next_id if rid is None else rid
        self.next_id = rid + 1
        self.send(LOOKUP_RCPT, struct.pack("<Q", rid) + pack_str(address))
        return rid

    def rcpt_answer(self):
        mtype, payload = self.recv()
        assert mtype == RCPT_RESULT
        r = Reader(payload)
        rid, status, n = r.u64(), r.u8(), r.u32()
        rcpts = [(r.str(), r.u8()) for _ in range(n)]
        r.end()
        return rid, status, rcpts

    def rcpt(self, address):
        """(status, [(mailbox, flags)]) for one LOOKUP_RCPT."""
        rid = self.rcpt_request(address)
        got, status, rcpts = self.rcpt_answer()
        assert got == rid
        return status, rcpts

    def user(self, mailbox):
        """(status, maildir, uid, gid, quota) for one LOOKUP_USER."""
        rid = self.next_id
        self.next_id += 1
        self.send(LOOKUP_USER, struct.pack("<Q", rid) + pack_str(mailbox))
        mtype, payload = self.recv()
        assert mtype == USER_RESULT
        r = Reader(payload)
        assert r.u64() == rid
        res = (r.u8(), r.str(), r.u32(), r.u32(), r.u64())
        r.end()
        return res


    def _id(self):
        rid = self.next_id
        self.next_id += 1
        return rid

    def login(self, user, password, ip="192.0.2.1", service="smtp"):
        """(auth_status, canonical user) for one LOGIN."""
        rid = self._id()
        self.send(LOGIN, struct.pack("<Q", rid) + pack_str(user) +
                  pack_str(password) + pack_str(ip) + pack_str(service))
        mtype, payload = self.recv()
        assert mtype == LOGIN_RESULT
        r = Reader(payload)
        assert r.u64() == rid
        res = (r.u8(), r.str())
        r.end()
        return res

    def check_sender(self, user, sender):
        rid = self._id()
        self.send(CHECK_SENDER, struct.pack("<Q", rid) + pack_str(user) +
                  pack_str(sender))
        mtype, payload = self.recv()
        assert mtype == SENDER_RESULT
        r = Reader(payload)
        assert r.u64() == rid
        status = r.u8()
        r.end()
        return status

    def check_ban(self, ip):
        """(banned, end)"""
        rid = self._id()
        self.send(CHECK_BAN, struct.pack("<Q", rid) + pack_str(ip))
        mtype, payload = self.recv()
        assert mtype == BAN_RESULT
        r = Reader(payload)
        assert r.u64() == rid
        res = (r.u8(), r.u64())
        r.end()
        return res

    def _ctl_done(self, rid):
        mtype, payload = self.recv()
        assert mtype == CTL_DONE
        r = Reader(payload)
        assert r.u64() == rid
        res = (r.u8(), r.str())
        r.end()
        return res

    def ban_list(self):
        """[(ip, end, failures)] from authd.control.sock."""
        rid = self._id()
        self.send(CTL_BAN_LIST, struct.pack("<Q", rid))
        out = []
        while True:
            mtype, payload = self.recv()
            r = Reader(payload)
            if mtype == CTL_DONE:
                assert r.u64() == rid
                assert r.u8() == 0
                return out
            assert mtype == CTL_BAN_ENTRY
            assert r.u64() == rid
            out.append((r.str(), r.u64(), r.u32()))
            r.end()

    def ban_add(self, net, seconds=0):
        rid = self._id()
        self.send(CTL_BAN_ADD, struct.pack("<Q", rid) + pack_str(net) +
                  struct.pack("<Q", seconds))
        return self._ctl_done(rid)

    def ban_del(self, net):
        rid = self._id()
        self.send(CTL_BAN_DEL, struct.pack("<Q", rid) + pack_str(net))
        return self._ctl_done(rid)
