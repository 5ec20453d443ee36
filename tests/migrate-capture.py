#!/usr/bin/env python3
"""A stand-in migration destination for tests: listens on a Unix socket, answers OK to the
configuration and READY to END (frames built as docs/migration.md describes), and writes
every byte the source sent to OUT. Usage: migrate-capture.py SOCKET OUT"""
import socket, struct, sys, zlib

def frame(t):
    h = struct.pack("<IIQI", t, 0, 0, 0)
    return h + struct.pack("<IQ", zlib.crc32(h), 0)

def main():
    path, out = sys.argv[1:3]
    ls = socket.socket(socket.AF_UNIX); ls.bind(path); ls.listen(1); ls.settimeout(60)
    c, _ = ls.accept(); c.settimeout(60)
    data = bytearray()
    def need(n):
        while len(data) < n:
            b = c.recv(1 << 20)
            if not b: raise EOFError
            data.extend(b)
    need(64); off = 64
    while True:
        need(off + 32)
        t, i, n = struct.unpack_from("<IIQ", data, off)
        need(off + 32 + n); off += 32 + n
        if t == 1: c.sendall(frame(32))      # CONFIG -> OK
        elif t == 17: c.sendall(frame(33))   # END -> READY
        elif t == 18: break                  # GO
    open(out, "wb").write(bytes(data[:off]))
main()
