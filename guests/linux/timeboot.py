#!/usr/bin/env python3
"""Run a VMM command that boots Linux and time its console.

usage: timeboot.py [--log FILE] [--timeout S] [--init-marker TEXT] [--stop-on TEXT] -- COMMAND...

Reads the command's stdout+stderr as it comes and records, from process start (monotonic clock):
first output byte, the kernel's first line ("Linux version"), its "x86/fpu:" line (the last one QEMU's KVM
reaches on hosts without an int3 assist), the first line holding the init marker
(default "vsrv-init: up"), the last line, and process exit. --stop-on kills the command when a line
holds TEXT (e.g. QEMU's "KVM internal error", after which QEMU waits forever); stopped=1 then. Prints one line of key=value figures (seconds; "-" when never seen) and, with --log, writes
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
    stop_on = None
    while args and args[0] != "--":
        if args[0] == "--log":
            log = args[1]
            args = args[2:]
        elif args[0] == "--timeout":
            timeout = float(args[1])
            args = args[2:]
        elif args[0] == "--stop-on":
            stop_on = args[1].encode()
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
    first = kernel = fpu = init = last = None
    stopped = False
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
            if kernel is None and b"Linux version" in line:
                kernel = now
            if fpu is None and b"x86/fpu:" in line:
                fpu = now
            if stop_on and stop_on in line:
                stopped = True
        if stopped:
            time.sleep(0.2)  # let the rest of the report arrive
            proc.kill()
            while True:
                chunk = os.read(fd, 65536) if sel.select(0.5) else b""
                if not chunk:
                    break
                buf += chunk
            break
    now = time.monotonic() - t0
    for line in buf.split(b"\n"):
        if line:
            lines.append((now, line.rstrip(b"\r")))
            if logf:
                logf.write(b"[%9.3f] " % now + line.rstrip(b"\r") + b"\n")
    buf = b""
    rc = proc.wait()
    end = time.monotonic() - t0

    def f(v):
        return "-" if v is None else "%.3f" % v

    if logf:
        logf.close()
    last_line = lines[-1][1].decode(errors="replace") if lines else ""
    print("first_output=%s kernel=%s fpu=%s init=%s last_line_at=%s exit=%s status=%s timed_out=%d "
          "stopped=%d last_line=%r" % (f(first), f(kernel), f(fpu), f(init), f(last), f(end), rc,
                                       timed_out, stopped, last_line[:120]))


if __name__ == "__main__":
    main()
