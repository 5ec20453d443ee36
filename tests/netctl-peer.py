#!/usr/bin/env python3
"""The host end of guests/vnetctl.c on a TAP: usage netctl-peer.py IFNAME (runs until killed).

Requests from the guest are frames of ethertype 0x88b6 with payload seq (u32, guest byte
order), op:
  'M' n MAC*n  one frame to each MAC (payload seq, 'D', index), then 'E' to the requester
  'F' n        n IPv4/UDP frames of new flows (10.0.0.1:random -> 10.0.0.2:9000, payload
               at byte 42: seq) to the requester, then 'E'
IPv4/UDP frames to port 7777 are echoed with addresses and ports swapped."""
import os
import random
import socket
import struct
import sys

ETH_CTL = 0x88B6
PEER = bytes([0x02, 0, 0, 0, 0, 0x01])


def frame(dst, ethertype, payload):
    f = dst + PEER + struct.pack("!H", ethertype) + payload
    return f + bytes(max(0, 60 - len(f)))


def ip_udp(dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    s = sum(struct.unpack("!10H", ip))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    ip = ip[:10] + struct.pack("!H", ~s & 0xFFFF) + ip[12:]
    return frame(dst, 0x0800, ip + udp)


def main():
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((sys.argv[1], 0))
    rnd = random.Random(os.getpid())
    while True:
        f = s.recv(4096)
        if len(f) < 20 or f[6:12] == PEER:
            continue
        src = f[6:12]
        etype = struct.unpack("!H", f[12:14])[0]
        if etype == ETH_CTL:
            seq, op = f[14:18], f[18:19]
            if op == b"M":
                n = f[19]
                for i in range(n):
                    s.send(frame(f[20 + 6 * i:26 + 6 * i], ETH_CTL, seq + b"D" + bytes([i])))
            elif op == b"F":
                base = rnd.randrange(10000, 60000)
                for i in range(f[19]):
                    s.send(ip_udp(src, base + i, 9000, seq + bytes(8)))
            else:
                continue
            s.send(frame(src, ETH_CTL, seq + b"E"))
        elif etype == 0x0800 and len(f) >= 42 and f[23] == 17 and f[36:38] == b"\x1e\x61":
            ip = f[14:34]
            ip = ip[:12] + f[30:34] + f[26:30]
            udp = f[36:38] + f[34:36] + f[38:42]
            s.send(src + PEER + f[12:14] + ip + udp + f[42:])


if __name__ == "__main__":
    main()
