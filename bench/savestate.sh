#!/usr/bin/env bash
# Save/restore benchmark: a 128 MiB guest (guests/savecount, with 4 MiB and with 96 MiB of its
# RAM filled) saved to a file and restored, under vsrv (control-socket save, run --restore)
# and QEMU microvm (monitor: stop, migrate "exec:cat > FILE"; -incoming "exec:cat FILE" and
# cont, the way virsh save/restore drive it), in this one run. Prints per monitor the median
# save time (request to file complete), the file size, and restore-to-running time (process
# start to the guest's next line on the serial port: the guest prints one every 10 ms, so
# this includes up to 10 ms of waiting for it), and the ratios QEMU / vsrv. For vsrv also the
# time from process start to its vCPUs running (VSRV_STATS's "the vCPUs run"), with guest
# memory mapped from the file (the default) and read (--restore-memory read). vsrv's save
# includes the fsync of the file (it is durable when the reply comes); QEMU's `cat > FILE`
# does not sync. QEMU reports "completed" about a second after its own "total time" (the
# exec: channel's clean-up): both figures are printed.
# Usage: bench/savestate.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
runs=${1:-${RUNS:-3}}
[ -r /dev/kvm ] || { echo "savestate bench: no usable /dev/kvm"; exit 0; }
[ -e "$B/guests/savecount.elf" ] || { echo "savestate bench: $B/guests/savecount.elf is missing (make)"; exit 1; }
exec python3 - "$B/vsrv" "$B/guests/savecount.elf" "$runs" <<'PY'
import json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time
vsrv, guest, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
tmp = tempfile.mkdtemp(prefix="vsrv-bench-save.")
have_qemu = shutil.which("qemu-system-x86_64") is not None

def wait_file(path, pat, timeout=30, start=0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path, "rb") as f:
                f.seek(start); d = f.read()
            if pat in d: return True
        except FileNotFoundError: pass
        time.sleep(0.0005)
    return False

def wait_path(path, timeout=10):
    end = time.time() + timeout
    while not os.path.exists(path) and time.time() < end: time.sleep(0.001)

def cleanup(*files):
    for f in files:
        try: os.unlink(f)
        except FileNotFoundError: pass

def vsrv_once(fill):
    ctl, ser, ser2, st = tmp + "/v.ctl", tmp + "/v.out", tmp + "/v2.out", tmp + "/v.state"
    cleanup(ctl, ser, ser2, st)
    p = subprocess.Popen([vsrv, "run", "--kernel", guest, "--memory", "128M", "--serial", "file:" + ser,
                          "--control", ctl, "--cmdline", "steps=4000 mem=%d" % fill],
                         stderr=subprocess.DEVNULL)
    wait_path(ctl); wait_file(ser, b"step 3 of")
    c = socket.socket(socket.AF_UNIX); c.connect(ctl); f = c.makefile("rw")
    t0 = time.time()
    f.write('{"cmd":"save","path":"%s"}\n' % st); f.flush()
    r = json.loads(f.readline()); save = time.time() - t0
    p.wait(timeout=30)
    assert r.get("ok"), r
    size = os.path.getsize(st)
    res = []
    for how in ("map", "read"):
        cleanup(ser2)
        t0 = time.time()
        q = subprocess.Popen([vsrv, "run", "--restore", st, "--restore-memory", how, "--memory", "128M",
                              "--serial", "file:" + ser2], stderr=subprocess.PIPE,
                             env=dict(os.environ, VSRV_STATS="1"))
        running = None
        for line in q.stderr:  # VSRV_STATS: "the vCPUs run" once they are started
            if b"the vCPUs run" in line:
                running = time.time() - t0
                break
        wait_file(ser2, b"\n"); res.append((running, time.time() - t0))
        q.terminate(); q.stderr.close(); q.wait()
    return save, size, res[0][1], res[0][0], res[1][0]

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
    mon, ser, mon2, ser2, st = tmp + "/q.mon", tmp + "/q.out", tmp + "/q2.mon", tmp + "/q2.out", tmp + "/q.state"
    cleanup(mon, ser, mon2, ser2, st)
    p = subprocess.Popen(qemu_cmd(ser, mon, fill, []), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = connect(mon); wait_file(ser, b"step 3 of")
    t0 = time.time()
    hmp(s, "stop")
    hmp(s, "migrate_set_parameter max-bandwidth 64G")  # what libvirt does for a save
    hmp(s, 'migrate "exec:cat > %s"' % st)
    while "Migration status: completed" not in (info := hmp(s, "info migrate")):
        time.sleep(0.0005)
    save = time.time() - t0
    m = re.search(r"total time: (\d+) ms", info)
    own = int(m.group(1)) / 1e3 if m else save
    s.sendall(b"quit\n"); p.wait(timeout=30)
    size = os.path.getsize(st)
    t0 = time.time()
    q = subprocess.Popen(qemu_cmd(ser2, mon2, fill, ["-S", "-incoming", "exec:cat %s" % st]),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s2 = connect(mon2)
    while "Migration status: completed" not in hmp(s2, "info migrate"):
        time.sleep(0.0005)
    hmp(s2, "cont")
    wait_file(ser2, b"\n"); restore = time.time() - t0
    s2.sendall(b"quit\n"); q.wait(timeout=30)
    return save, size, restore, own

def med(xs): return statistics.median(xs)
load = os.getloadavg()[0]
print("savestate: 128 MiB guest (guests/savecount), median of %d runs; load %.1f" % (runs, load))
for fill in (4, 96):
    v = [vsrv_once(fill) for _ in range(runs)]
    vs, vz, vr = med([x[0] for x in v]), med([x[1] for x in v]), med([x[2] for x in v])
    vm_, vd = med([x[3] for x in v]), med([x[4] for x in v])
    line = "  %2d MiB used: vsrv save %6.1f ms, file %6.1f MiB, restore-to-running %6.1f ms" % (
        fill, vs * 1e3, vz / 2**20, vr * 1e3)
    line += "\n               vsrv process start to vCPUs running: %.1f ms (memory mapped), %.1f ms (--restore-memory read)" % (
        vm_ * 1e3, vd * 1e3)
    if have_qemu:
        q = [qemu_once(fill) for _ in range(runs)]
        qs, qz, qr = med([x[0] for x in q]), med([x[1] for x in q]), med([x[2] for x in q])
        qo = med([x[3] for x in q])
        line += "\n               QEMU save %6.1f ms (its own \"total time\": %.1f ms), file %6.1f MiB, restore-to-running %6.1f ms" % (
            qs * 1e3, qo * 1e3, qz / 2**20, qr * 1e3)
        line += "\n               QEMU/vsrv: save %.1fx (against QEMU's own figure %.1fx), file %.2fx, restore %.1fx" % (
            qs / vs, qo / vs, qz / vz, qr / vr)
    print(line)
shutil.rmtree(tmp)
PY
