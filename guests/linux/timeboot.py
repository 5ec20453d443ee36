#!/usr/bin/env python3
"""Run a VMM command that boots Linux and time its console.

usage: timeboot.py [--log FILE] [--timeout S] [--init-marker TEXT] -- COMMAND...

Reads the command's stdout+stderr as it comes and records, from process start (monotonic clock):
first output byte, the first line holding the init marker (default "vsrv-init: up"), the last line, and
process exit. Prints one line of key=value figures (seconds; "-" when never seen) and, with --log, writes
the console with a time stamp per line. Exit status 0 when the command ran (whatever its own status).
"""
import os
import subprocess
import sys
import time


def main():
    args = sys.argv[1:]
    log = None
    timeout = 120.0
    marker = b"vsrv-init: up"
    while args and args[0] != "--":
        if args[0] == "--log":
            log = args[1]
            args = args[2:]
        elif args[0] == "--timeout":
            timeout = float(args[1])
            args = args[2:]
        elif args[0] == "--init-marker":
            marker = args[1].encode()
            args = args[2:]
        else:
            sys.exit("timeboot: unknown option " + args[0])
    if not args or len(args) < 2:
        sys.exit(__doc__)
    cmd = args[1:]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    logf = open(log, "wb") if log else None
    first = init = last = None
    lines = []
    buf = b""
    timed_out = False
    fd = proc.stdout.fileno()
    os.set_blocking(fd, True)
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    while True:
        left = timeout - (time.monotonic() - t0)
        if left <= 0:
            timed_out = True
            proc.kill()
            break
        if not sel.select(left):
            continue
        chunk = os.read(fd, 65536)
        now = time.monotonic() - t0
        if not chunk:
            break
        if first is None:
            first = now
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.rstrip(b"\r")
            lines.append((now, line))
            if logf:
                logf.write(b"[%9.3f] " % now + line + b"\n")
                logf.flush()
            last = now
            if init is None and marker in line:
                init = now
    if buf:
        lines.append((time.monotonic() - t0, buf))
    rc = proc.wait()
    end = time.monotonic() - t0

    def f(v):
        return "-" if v is None else "%.3f" % v

    if logf:
        if buf:
            logf.write(b"[%9.3f] " % lines[-1][0] + buf + b"\n")
        logf.close()
    last_line = lines[-1][1].decode(errors="replace") if lines else ""
    print("first_output=%s init=%s last_line_at=%s exit=%s status=%s timed_out=%d last_line=%r"
          % (f(first), f(init), f(last), f(end), rc, timed_out, last_line[:120]))


if __name__ == "__main__":
    main()
