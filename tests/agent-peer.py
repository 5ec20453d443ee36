#!/usr/bin/env python3
"""A hostile guest agent for the tests of src/server/agent*.c: listens on a Unix socket and
misbehaves in one way per MODE. Usage: agent-peer.py MODE SOCKET

  garbage    answers every line with garbage: not JSON, JSON that is no reply, replies
             with both or neither of return/error, duplicate keys; never a real answer
  silent     reads everything, never answers
  flood      writes without end (replies for other ids, garbage, 0xFF bytes), never reads
  other-ids  answers the resynchronisation properly, then every command with replies for
             other ids (another number, a string, an object) and never its own
  huge-line  answers the resynchronisation, then every command with a 2 MiB line, then
             its real reply {"return": {"huge": "survived"}, "id": ID}
  late       answers the resynchronisation at once and every command 1 s late with
             {"return": {"n": N}, "id": ID} (N counts commands from 1)
  freeze-gone  answers every command with {"return": {}}, but guest-fsfreeze-freeze: it
             notes "freeze" in SOCKET.log and closes the connection without an answer (an
             agent that went away once the guest's file systems froze); guest-fsfreeze-thaw
             is noted ("thaw") and answered
"""
import json
import os
import socket
import sys
import time

mode, path = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(4)


def lines(conn):
    """The peer's requests, one parsed object (or None for garbage) per line; a leading 0xFF
    (the host's resynchronisation) is dropped."""
    buf = b""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.replace(b"\xff", b"")
            try:
                yield json.loads(line)
            except ValueError:
                yield None


def sync_reply(req):
    if isinstance(req, dict) and req.get("execute") == "guest-sync-delimited":
        return b"\xff" + json.dumps({"return": req["arguments"]["id"]}).encode() + b"\n"
    return None


GARBAGE = [b"garbage\n", b"[1,2,3]\n", b'{"return": {}, "error": {}}\n', b"{}\n",
           b'{"return": 1, "return": 2}\n', b'{"error": "not an object"}\n',
           b'{"return": {}, "id": 1, "extra": true}\n', b"\x00\x01\x02\n", b'"just a string"\n',
           b'{"return": {' * 5000 + b"\n", b"\xff\xff\xfe\n", b"\xffnot json\n"]


def serve(conn):
    n = 0
    if mode == "flood":
        chunk = b"".join([b'{"return": {}, "id": 987654321}\n', b"junk junk\n", b"\xff",
                          b'{"return": 77}\n'] * 2000)
        while True:
            conn.sendall(chunk)
    for req in lines(conn):
        if mode == "silent":
            continue
        if mode == "garbage":
            conn.sendall(b"".join(GARBAGE))
            continue
        s = sync_reply(req)
        if s:
            conn.sendall(s)
            continue
        rid = req.get("id") if isinstance(req, dict) else None
        n += 1
        if mode == "other-ids":
            for other in [rid + 1 if isinstance(rid, int) else 1, str(rid), {"id": rid}, [rid]]:
                conn.sendall(json.dumps({"return": {"other": True}, "id": other}).encode()
                             + b"\n")
        elif mode == "huge-line":
            conn.sendall(b'{"return": "' + b"x" * (2 << 20) + b'"}\n')
            conn.sendall(json.dumps({"return": {"huge": "survived"}, "id": rid}).encode() + b"\n")
        elif mode == "freeze-gone":
            what = req.get("execute") if isinstance(req, dict) else None
            if what in ("guest-fsfreeze-freeze", "guest-fsfreeze-thaw"):
                with open(path + ".log", "a") as log:
                    log.write(what[len("guest-fsfreeze-"):] + "\n")
            if what == "guest-fsfreeze-freeze":
                return
            conn.sendall(json.dumps({"return": {}, "id": rid}).encode() + b"\n")
        elif mode == "late":
            time.sleep(1)       # (longer than the 300 ms the first call waits)
            conn.sendall(json.dumps({"return": {"n": n}, "id": rid}).encode() + b"\n")


while True:
    c, _ = srv.accept()
    try:
        serve(c)
    except (BrokenPipeError, ConnectionResetError):
        pass
    c.close()
