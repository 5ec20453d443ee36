#!/usr/bin/env bash
# Live-migration benchmark: a 128 MiB guest (guests/savecount: timer-paced hash chains on its
# vCPU, with 4 MiB and with 96 MiB of its RAM filled) migrated over a Unix socket to a second
# process on this host, under vsrv (control-socket migrate to `vsrv run --incoming`) and
# QEMU microvm (HMP `migrate unix:...` to `-incoming unix:...`, with max-bandwidth 64G and
# downtime-limit 50 ms, as vsrv's defaults: no bandwidth cap, 50 ms target), in this one
# run. Prints per case the median total migration time and downtime as each VMM reports them
# (vsrv's reply; QEMU's `info migrate` "total time" and "downtime"), and QEMU / vsrv.
# Usage: bench/migrate.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
runs=${1:-${RUNS:-3}}
[ -r /dev/kvm ] || { echo "migrate bench: no usable /dev/kvm"; exit 0; }
[ -e "$B/guests/savecount.elf" ] || { echo "migrate bench: $B/guests/savecount.elf is missing (make)"; exit 1; }
exec python3 - "$B/vsrv" "$B/guests/savecount.elf" "$runs" <<'PY'
import json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time
vsrv, guest, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
tmp = tempfile.mkdtemp(prefix="vsrv-bench-mig.")
have_qemu = shutil.which("qemu-system-x86_64") is not None

def wait_file(path, pat, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if pat in open(path, "rb").read(): return True
        except FileNotFoundError: pass
        time.sleep(0.001)
    return False

def wait_path(path, timeout=10):
    end = time.time() + timeout
    while not os.path.exists(path) and time.time() < end: time.sleep(0.001)

def cleanup(*files):
    for f in files:
        try: os.unlink(f)
        except FileNotFoundError: pass

def vsrv_once(fill):
    ctl, ser, ser2, sock = tmp + "/v.ctl", tmp + "/v.out", tmp + "/v2.out", tmp + "/v.sock"
    cleanup(ctl, ser, ser2, sock)
    d = subprocess.Popen([vsrv, "run", "--incoming", "unix:" + sock, "--memory", "128M",
                          "--serial", "file:" + ser2], stderr=subprocess.DEVNULL)
    wait_path(sock)
    p = subprocess.Popen([vsrv, "run", "--kernel", guest, "--memory", "128M", "--serial", "file:" + ser,
                          "--control", ctl, "--cmdline", "steps=4000 mem=%d" % fill],
                         stderr=subprocess.DEVNULL)
    wait_path(ctl); wait_file(ser, b"step 3 of")
    c = socket.socket(socket.AF_UNIX); c.connect(ctl); f = c.makefile("rw")
    f.write('{"cmd":"migrate","to":"unix:%s"}\n' % sock); f.flush()
    r = json.loads(f.readline())
    p.wait(timeout=30)
    assert r.get("ok"), r
    wait_file(ser2, b"step")
    d.terminate(); d.wait()
    return r["total_ms"], r["downtime_ms"], r["rounds"]

def hmp(sock, cmd):
    sock.sendall(cmd.encode() + b"\n")
    buf = b""
    while not buf.endswith(b"(qemu) "):
        buf += sock.recv(65536)
    return buf.decode(errors="replace")

def qemu_cmd(ser, mon, fill, extra):
    return ["qemu-system-x86_64", "-M", "microvm", "-enable-kvm", "-m", "128", "-nodefaults",
            "-nographic", "-serial", "file:" + ser, "-monitor", "unix:%s,server=on,wait=off" % mon,
            "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4", "-kernel", guest,
            "-append", "steps=4000 mem=%d" % fill] + extra

def connect(mon):
    wait_path(mon)
    s = socket.socket(socket.AF_UNIX)
    for _ in range(2000):
        try: s.connect(mon); break
        except OSError: time.sleep(0.001)
    buf = b""
    while not buf.endswith(b"(qemu) "): buf += s.recv(65536)
    return s

def qemu_once(fill):
    mon, ser, mon2, ser2, sock = tmp + "/q.mon", tmp + "/q.out", tmp + "/q2.mon", tmp + "/q2.out", tmp + "/q.sock"
    cleanup(mon, ser, mon2, ser2, sock)
    d = subprocess.Popen(qemu_cmd(ser2, mon2, fill, ["-incoming", "unix:" + sock]),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_path(sock)
    p = subprocess.Popen(qemu_cmd(ser, mon, fill, []), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = connect(mon); wait_file(ser, b"step 3 of")
    hmp(s, "migrate_set_parameter max-bandwidth 64G")
    hmp(s, "migrate_set_parameter downtime-limit 50")
    hmp(s, "migrate unix:" + sock)
    while "Migration status: completed" not in (info := hmp(s, "info migrate")):
        time.sleep(0.001)
    total = int(re.search(r"total time: (\d+) ms", info).group(1))
    m = re.search(r"downtime: (\d+) ms", info)
    down = int(m.group(1)) if m else float("nan")
    s.sendall(b"quit\n"); p.wait(timeout=30)
    wait_file(ser2, b"step")
    s2 = connect(mon2); s2.sendall(b"quit\n"); d.wait(timeout=30)
    return total, down

def med(xs): return statistics.median(xs)
print("migrate: 128 MiB guest (guests/savecount), Unix socket, median of %d runs; load %.1f" % (runs, os.getloadavg()[0]))
for fill in (4, 96):
    v = [vsrv_once(fill) for _ in range(runs)]
    vt, vd = med([x[0] for x in v]), med([x[1] for x in v])
    line = "  %2d MiB used: vsrv total %7.1f ms, downtime %6.2f ms (%d rounds)" % (fill, vt, vd, v[0][2])
    if have_qemu:
        q = [qemu_once(fill) for _ in range(runs)]
        qt, qd = med([x[0] for x in q]), med([x[1] for x in q])
        line += "\n               QEMU total %7.1f ms, downtime %6.2f ms" % (qt, qd)
        line += "\n               QEMU/vsrv: total %.1fx, downtime %.1fx" % (qt / vt, qd / vd if vd else float("inf"))
    print(line)
shutil.rmtree(tmp)
PY
