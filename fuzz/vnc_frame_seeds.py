#!/usr/bin/env python3
"""Writes the seeds of the VNC framing corpus (fuzz/vnc_frame.c describes the input: one
byte of options, then a client's bytes) into the directory given:
python3 fuzz/vnc_frame_seeds.py fuzz/corpus/vnc_frame"""
import os, struct, sys

V38, V33, V889 = b"RFB 003.008\n", b"RFB 003.003\n", b"RFB 003.889\n"
NONE38 = V38 + b"\x01" + b"\x01"
AUTH38 = V38 + b"\x02" + bytes(range(16)) + b"\x00"


def enc(*e): return struct.pack(">BBH", 2, 0, len(e)) + b"".join(struct.pack(">i", x) for x in e)
def cut(t): return struct.pack(">BxxxI", 6, len(t)) + t
def xcut(body): return struct.pack(">Bxxxi", 6, -len(body)) + body


pixfmt = bytes([0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0])
fur = struct.pack(">BBHHHH", 3, 0, 0, 0, 1024, 768)
key = struct.pack(">BBHI", 4, 1, 0, 0x61) + struct.pack(">BBHI", 4, 0, 0, 0x61)
ptr = struct.pack(">BBHH", 5, 1, 10, 20)
qkey = struct.pack(">BBHII", 255, 0, 1, 0x61, 0x1e)
misc = (struct.pack(">BBH", 8, 2, 0) + struct.pack(">BBH", 9, 1, 0) +
        struct.pack(">BBHH", 10, 0, 1, 1) + struct.pack(">BBH", 15, 2, 0) +
        struct.pack(">BBBB", 250, 0, 1, 2) + struct.pack(">BxxxI", 11, 0xFFFFFFFF) +
        struct.pack(">BxxxI", 11, 5) + b"hello" +
        struct.pack(">BxHHBx", 251, 800, 600, 1) + bytes(16))
normal = (pixfmt + enc(0, 1, 7, -258, -223, -224) + fur + key + ptr + qkey + cut(b"paste") +
          misc)
ext = (enc(0, 0xC0A1E5CE - (1 << 32)) + xcut(struct.pack(">II", (1 << 24) | 1, 1 << 20)) +
       xcut(struct.pack(">I", (1 << 28) | 1) + b"x\x9c\x03\x00\x00\x00\x00\x01") +
       xcut(struct.pack(">II", (1 << 24) | 2, 100)) + cut(b"plain again"))
big = struct.pack(">BxxxI", 6, (1 << 20) + 10) + bytes(300) + fur


def wsf(payload, op=2, fin=True, key=b"\x11\x22\x33\x44", masked=True):
    """A client's WebSocket frame (RFC 6455), masked with key."""
    n = len(payload)
    h = bytes([(0x80 if fin else 0) | op])
    m = 0x80 if masked else 0
    if n < 126: h += bytes([m | n])
    elif n < 65536: h += bytes([m | 126]) + struct.pack(">H", n)
    else: h += bytes([m | 127]) + struct.pack(">Q", n)
    if not masked: return h + payload
    return h + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


WSREQ = (b"GET / HTTP/1.1\r\nHost: x\r\nOrigin: http://x\r\nUpgrade: websocket\r\n"
         b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         b"Sec-WebSocket-Protocol: binary\r\nSec-WebSocket-Version: 13\r\n\r\n")
wsstream = NONE38 + normal
# the stream cut across frames without regard to messages, a fragmented message, control frames
ws = (WSREQ + wsf(wsstream[:5]) + wsf(b"", op=9) + wsf(wsstream[5:40], fin=False) +
      wsf(b"hi", op=10) + wsf(wsstream[40:300], op=0, fin=False) + wsf(wsstream[300:], op=0) +
      wsf(cut(b"x" * 70000)) + wsf(struct.pack(">H", 1000), op=8) + wsf(key))
SEEDS = {
    "none38": b"\x00" + NONE38 + normal,
    "auth38": b"\x01" + AUTH38 + normal,
    "none33": b"\x10" + V33 + b"\x01" + normal,
    "auth33": b"\x05" + V33 + bytes(16) + b"\x01" + fur,
    "mac889": b"\x00" + V889 + b"\x01" + key,
    "extclip": b"\x02" + NONE38 + ext,
    "bigclip": b"\x00" + NONE38 + big,
    "websocket": b"\x00" + WSREQ + wsf(NONE38) + wsf(normal),
    "wsframes": b"\xfe" + ws,
    "wsauth": b"\x01" + WSREQ + wsf(AUTH38 + fur),
    "wstext": b"\x00" + WSREQ + wsf(NONE38, op=1),
    "wsunmasked": b"\x00" + WSREQ + wsf(NONE38, masked=False),
    "wshixie": b"\x00" + WSREQ[:-2] + b"Sec-WebSocket-Key1: 1\r\nSec-WebSocket-Key2: 2\r\n\r\n",
    "tls": b"\x00" + b"\x16\x03\x01\x00\x10hello",
    "badver": b"\x00" + b"RFB 004.000\n",
    "unknown": b"\x00" + NONE38 + fur + bytes([200]) + bytes(10),
    "trickle": b"\x00" + NONE38 + enc(*range(300)) + cut(b"a" * 5000),
}

d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
