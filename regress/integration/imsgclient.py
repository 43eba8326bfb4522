"""imsg client for the tsamba sockets, shared by the integration tests:
framing, typed payload reading, the hello handshake, and one method per
request of auth.sock and authd.control.sock (lib/proto.h)."""

import os
import re
import socket
import struct

LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "lib")


def _defines():
    """The integer #defines of proto.h and imsg.h, for the bounds."""
    names = {}
    for h in ("imsg.h", "proto.h"):
        with open(os.path.join(LIB, h)) as f:
            for line in f:
                m = re.match(r"#define\s+(\w+)\s+(.*?)\s*(/\*.*)?$",
                             line)
                if m:
                    expr = m.group(2).replace("/", "//")
                    try:
                        names[m.group(1)] = int(eval(expr, {}, dict(names)))
                    except Exception:
                        pass
    return names


def _table():
    """lib/proto_msgs.def: {name: (number, fd, [fields])} and the
    records; a field is (kind, name, bound, record)."""
    defs = _defines()
    msgs, recs, cur = {}, {}, None
    with open(os.path.join(LIB, "proto_msgs.def")) as f:
        for line in f:
            line = line.strip()
            m = re.match(r"MSG\((\w+),\s*(\d+),\s*\w+,\s*(\w+)\)$", line)
            if m:
                cur = []
                msgs[m.group(1)] = (int(m.group(2)), m.group(3) == "FD",
                                    cur)
                continue
            m = re.match(r"REC\((\w+)\)$", line)
            if m:
                cur = recs.setdefault(m.group(1), [])
                continue
            m = re.match(r"F_(U8|U32|U64|STR|BLOB|LIST)\(([^)]*)\)$", line)
            if m and cur is not None:
                args = [a.strip() for a in m.group(2).split(",")]
                bound = defs.get(args[-1]) if len(args) > 1 else None
                if len(args) > 1 and bound is None:
                    bound = int(args[-1])
                cur.append((m.group(1), args[0], bound,
                            args[1] if m.group(1) == "LIST" else None))
            elif line == "F_END":
                cur = None
    return defs, msgs, recs


_DEFS, MSGS, RECS = _table()
TYPES = {name: v[0] for name, v in MSGS.items()}
NAMES = {v: k for k, v in TYPES.items()}
PROTO_VERSION = _DEFS["PROTO_VERSION"]
IMSG_HELLO = TYPES["HELLO"]
# authd's types by their short names, the control types as they are
for _name, _num in TYPES.items():
    globals()[_name[5:] if _name.startswith("AUTH_") else _name] = _num
OK, NOUSER, NOTHOSTED, TEMPFAIL, INVALID = range(5)
AUTH_OK, AUTH_FAIL, AUTH_TEMPFAIL, AUTH_BANNED = range(4)
RCPT_LOCAL = _DEFS["RCPT_LOCAL"]
_INT = {"U8": "<B", "U32": "<I", "U64": "<Q"}


def pack_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<H", len(b)) + b


def _pack_fields(fields, values):
    out = b""
    for kind, name, bound, rec in fields:
        v = values[name]
        if kind in _INT:
            out += struct.pack(_INT[kind], v)
        elif kind == "STR":
            out += pack_str(v)
        elif kind == "BLOB":
            out += struct.pack("<I", len(v)) + v
        else:
            out += struct.pack("<I", len(v))
            for e in v:
                out += _pack_fields(RECS[rec], e)
    return out


def pack(name, **values):
    """(type, payload) of the message NAME of proto_msgs.def; a list
    field is a list of dicts."""
    return TYPES[name], _pack_fields(MSGS[name][2], values)


def _unpack_fields(r, fields):
    out = {}
    for kind, name, bound, rec in fields:
        if kind == "U8":
            out[name] = r.u8()
        elif kind == "U32":
            out[name] = r.u32()
        elif kind == "U64":
            out[name] = r.u64()
        elif kind == "STR":
            out[name] = r.str()
        elif kind == "BLOB":
            out[name] = r.take(r.u32())
        else:
            out[name] = [_unpack_fields(r, RECS[rec])
                         for _ in range(r.u32())]
    return out


def unpack(mtype, payload):
    """The fields of a received message as a dict; ValueError when the
    payload is short, AssertionError when it has trailing bytes."""
    r = Reader(payload)
    out = _unpack_fields(r, MSGS[NAMES[mtype]][2])
    r.end()
    return out


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
            h = unpack(mtype, payload)
            assert h["version"] == PROTO_VERSION
            assert h["who"] == peer
            self.send(*pack("HELLO", version=PROTO_VERSION,
                            who="test_authd"))

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

    def _id(self):
        rid = self.next_id
        self.next_id += 1
        return rid

    def ask(self, name, answer, **fields):
        """Send NAME with a fresh id; the fields of the answer, which
        must be of type ANSWER and echo the id."""
        rid = self._id()
        self.send(*pack(name, id=rid, **fields))
        mtype, payload = self.recv()
        assert mtype == TYPES[answer], NAMES.get(mtype, mtype)
        res = unpack(mtype, payload)
        assert res["id"] == rid
        return res

    def rcpt_request(self, address, rid=None):
        rid = self.next_id if rid is None else rid
        self.next_id = rid + 1
        self.send(*pack("AUTH_LOOKUP_RCPT", id=rid, address=address))
        return rid

    def rcpt_answer(self):
        mtype, payload = self.recv()
        assert mtype == RCPT_RESULT
        res = unpack(mtype, payload)
        return res["id"], res["status"], [(e["mailbox"], e["flags"])
                                          for e in res["rcpts"]]

    def rcpt(self, address):
        """(status, [(mailbox, flags)]) for one LOOKUP_RCPT."""
        rid = self.rcpt_request(address)
        got, status, rcpts = self.rcpt_answer()
        assert got == rid
        return status, rcpts

    def user(self, mailbox):
        """(status, maildir, uid, gid, quota) for one LOOKUP_USER."""
        r = self.ask("AUTH_LOOKUP_USER", "AUTH_USER_RESULT", mailbox=mailbox)
        return r["status"], r["maildir"], r["uid"], r["gid"], r["quota"]

    def login(self, user, password, ip="192.0.2.1", service="smtp"):
        """(auth_status, canonical user) for one LOGIN."""
        r = self.ask("AUTH_LOGIN", "AUTH_LOGIN_RESULT", user=user,
                     password=password, ip=ip, service=service)
        return r["status"], r["user"]

    def check_sender(self, user, sender):
        return self.ask("AUTH_CHECK_SENDER", "AUTH_SENDER_RESULT",
                        user=user, sender=sender)["status"]

    def check_ban(self, ip):
        """(banned, end)"""
        r = self.ask("AUTH_CHECK_BAN", "AUTH_BAN_RESULT", ip=ip)
        return r["banned"], r["end"]

    def _ctl_done(self, rid):
        mtype, payload = self.recv()
        assert mtype == CTL_DONE
        r = unpack(mtype, payload)
        assert r["id"] == rid
        return r["failed"], r["message"]

    def ban_list(self):
        """[(ip, end, failures)] from authd.control.sock."""
        rid = self._id()
        self.send(*pack("CTL_BAN_LIST", id=rid))
        out = []
        while True:
            mtype, payload = self.recv()
            r = unpack(mtype, payload)
            assert r["id"] == rid
            if mtype == CTL_DONE:
                assert r["failed"] == 0
                return out
            assert mtype == CTL_BAN_ENTRY
            out.append((r["ip"], r["end"], r["failures"]))

    def ban_add(self, net, seconds=0):
        rid = self._id()
        self.send(*pack("CTL_BAN_ADD", id=rid, net=net, seconds=seconds))
        return self._ctl_done(rid)

    def ban_del(self, net):
        rid = self._id()
        self.send(*pack("CTL_BAN_DEL", id=rid, net=net))
        return self._ctl_done(rid)
