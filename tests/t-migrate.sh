#!/usr/bin/env bash
# Live migration between two `vsrv run` processes (docs/migration.md): the source gets
# {"cmd":"migrate","to":URI} on its control socket, the destination runs with --incoming URI.
# Sources run with VSRV_MIGRATE_VERIFY=1: the END frame then carries the CRC of all of the
# source's RAM at the hand-over, and the destination refuses unless its RAM matches (so a
# page missed by dirty logging or by the device-write record fails the test).
#   - savecount (timer-paced hash chains) on 1 and 2 vCPUs over a Unix socket, and over tcp
#     on 127.0.0.1: source + destination print steps 0..N-1 exactly once with the right sum;
#   - vsaveblk (virtio-blk rounds of write/flush/read/verify, 8 requests in flight) on
#     virtio-mmio with a raw disk and on virtio-pci with MSI-X and a dynamic VHD: the rounds
#     go on after the migration, the last pattern is on the disk, `vsrv img check` is clean;
#   - failures: a destination with another --memory refuses before any memory moves (the
#     source keeps running and finishes); a destination killed mid-stream (the source keeps
#     running); a garbage stream to a destination (clear error, status 1).
source "$(dirname "$0")/lib.sh"

if ! have_kvm; then skip migrate "$kvm_reason"; exit 0; fi
for g in savecount vsaveblk; do
	[ -f "$GUESTS/$g.elf" ] || { fail migrate "missing $GUESTS/$g.elf (run make)"; finish; exit; }
done

timeout 400 python3 - "$VSRV" "$GUESTS" "$TMP" <<'EOF'
import json, os, re, signal, socket, struct, subprocess, sys, time
vsrv, guests, tmp = sys.argv[1:4]
fails = 0
def ok(name, cond, why="failed"):
    global fails
    if cond: print("PASS " + name)
    else: print("FAIL %s: %s" % (name, why)); fails += 1

env = dict(os.environ, VSRV_MIGRATE_VERIFY="1")

def start(tag, args):
    ctl = os.path.join(tmp, tag + ".ctl"); ser = os.path.join(tmp, tag + ".out")
    p = subprocess.Popen([vsrv, "run", "--serial", "file:" + ser, "--control", ctl] + args,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    for _ in range(500):
        if os.path.exists(ctl) or p.poll() is not None: break
        time.sleep(0.01)
    return p, ctl, ser

def incoming(tag, uri, args):
    ser = os.path.join(tmp, tag + ".out")
    p = subprocess.Popen([vsrv, "run", "--incoming", uri, "--serial", "file:" + ser] + args,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if uri.startswith("unix:"):
        for _ in range(500):
            if os.path.exists(uri[5:]) or p.poll() is not None: break
            time.sleep(0.01)
    else:
        time.sleep(0.3)
    return p, ser

def wait_for(ser, pat, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if re.search(pat, open(ser).read()): return True
        except FileNotFoundError: pass
        time.sleep(0.02)
    return False

def ctl_cmd(ctl, msg, timeout=90):
    c = socket.socket(socket.AF_UNIX); c.connect(ctl); c.settimeout(timeout)
    f = c.makefile("rw"); f.write(json.dumps(msg) + "\n"); f.flush()
    r = json.loads(f.readline()); c.close(); return r

def finish_vm(p, timeout=90):
    try: rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill(); p.wait(); return -1, "timed out"
    return rc, p.stderr.read().decode(errors="replace")

def read(path):
    return open(path).read() if os.path.exists(path) else ""

def steps_of(text):
    return [(int(k), int(x, 16)) for k, x in re.findall(r"savecount: step (\d+) of \d+ x=([0-9a-f]+)", text)]

def done_sum(text):
    m = re.search(r"savecount: done steps=(\d+) sum=([0-9a-f]+)", text)
    return (int(m.group(1)), int(m.group(2), 16)) if m else (None, None)

def check_count(name, before, after, n):
    st = steps_of(before + after)
    ks = [k for k, _ in st]
    total, s = done_sum(after)
    ok(name + "-sequence", ks == list(range(n)), "steps %s..%s, %d lines: %r | %r" %
       (ks[:3], ks[-3:], len(ks), before[-150:], after[:150]))
    ok(name + "-sum", total == n and s == sum(x for _, x in st) % (1 << 64), "done %s %s" % (total, s))
    ok(name + "-split", len(steps_of(before)) > 0 and len(steps_of(after)) > 0,
       "%d steps before, %d after" % (len(steps_of(before)), len(steps_of(after))))

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

# --- savecount: 1 and 2 vCPUs over a Unix socket, 1 vCPU over tcp ---
N = 150
for cpus, kind in ((1, "unix"), (2, "unix"), (1, "tcp")):
    name = "migrate-count-%dcpu-%s" % (cpus, kind)
    cfg = ["--cpus", str(cpus), "--memory", "128M"]
    uri = "unix:" + os.path.join(tmp, name + ".sock") if kind == "unix" else "tcp:127.0.0.1:%d" % free_port()
    d, dser = incoming(name + "-dst", uri, cfg)
    p, ctl, ser = start(name, ["--kernel", guests + "/savecount.elf", "--cmdline", "steps=%d" % N] + cfg)
    ok(name + "-running", wait_for(ser, r"step 30 of"), "guest did not reach step 30")
    r = ctl_cmd(ctl, {"cmd": "migrate", "to": uri, "id": 5})
    ok(name + "-reply", r.get("ok") is True and r.get("id") == 5 and r.get("rounds", 0) >= 2 and
       r.get("bytes", 0) > 1 << 20 and 0 <= r.get("downtime_ms", -1) <= r.get("total_ms", -1), r)
    rc, err = finish_vm(p)
    ok(name + "-source-ends", rc == 0 and "migrated the VM to " + uri in err, "status %s: %s" % (rc, err))
    rc, derr = finish_vm(d)
    out = read(dser)
    ok(name + "-destination-passes", rc == 33 and "RESULT: PASS" in out and "received the VM" in derr,
       "status %s: %s %s" % (rc, derr, out[-300:]))
    check_count(name, read(ser), out, N)

# --- virtio-blk under load: mmio + raw, pci + MSI-X + VHD ---
R = 40
def check_raw(path, rnd):
    bad = 0
    with open(path, "rb") as f:
        data = f.read()
    for s in range(0, len(data) // 512, 7):
        words = struct.unpack_from("<64Q", data, s * 512)
        for w, v in enumerate(words):
            if v != (0x5600000000000000 | rnd << 48 | (s & 0xffffffffff) << 8 | w):
                bad += 1
    return bad

for tr, fmt in (("mmio", "raw"), ("pci", "vhd")):
    name = "migrate-blk-%s-%s" % (tr, fmt)
    disk = os.path.join(tmp, name + "." + fmt)
    if fmt == "raw":
        open(disk, "wb").truncate(32 << 20)
    else:
        subprocess.run([vsrv, "img", "create", "-f", "vhd", disk, "32M"], stdout=subprocess.DEVNULL, check=True)
    cfg = ["--memory", "64M", "--disk", "%s,format=%s,transport=%s" % (disk, fmt, tr)]
    cmdline = "transport=%s rounds=%d%s" % (tr, R, " msix" if tr == "pci" else "")
    uri = "unix:" + os.path.join(tmp, name + ".sock")
    d, dser = incoming(name + "-dst", uri, cfg)
    p, ctl, ser = start(name, ["--kernel", guests + "/vsaveblk.elf", "--cmdline", cmdline] + cfg)
    ok(name + "-running", wait_for(ser, r"round 2 of"), read(ser)[-300:])
    r = ctl_cmd(ctl, {"cmd": "migrate", "to": uri})
    rc, err = finish_vm(p)
    ok(name + "-migrated", r.get("ok") is True and rc == 0, "%s status %s %s" % (r, rc, err))
    rc, derr = finish_vm(d)
    before, out = read(ser), read(dser)
    ok(name + "-destination-passes", rc == 33 and "vsaveblk: ok" in out, "status %s: %s %s" % (rc, derr, out[-400:]))
    rounds = [int(x) for x in re.findall(r"round (\d+) of", before + out)]
    ok(name + "-rounds", rounds == list(range(R)) and "round %d of" % (R - 1) in out, rounds)
    if tr == "pci":
        irq = [int(x) for x in re.findall(r"ok \((\d+) interrupts\)", out)]
        ok(name + "-msix-after-migration", irq and min(irq) > 0, irq)
    if fmt == "raw":
        ok(name + "-pattern-on-disk", check_raw(disk, R - 1) == 0, "bad words")
    else:
        c = subprocess.run([vsrv, "img", "check", disk], capture_output=True, text=True)
        ok(name + "-img-check", c.returncode == 0, c.stdout + c.stderr)
        raw = disk + ".raw"
        c = subprocess.run(["qemu-img", "convert", "-f", "vpc", "-O", "raw", disk, raw], capture_output=True)
        ok(name + "-pattern-on-disk", c.returncode == 0 and check_raw(raw, R - 1) == 0, c.stderr)
        os.unlink(raw)

# --- failures: the source goes on ---
cfg = ["--memory", "128M"]
name = "migrate-mismatch"
uri = "unix:" + os.path.join(tmp, name + ".sock")
d, dser = incoming(name + "-dst", uri, ["--memory", "64M"])
p, ctl, ser = start(name, ["--kernel", guests + "/savecount.elf", "--cmdline", "steps=%d" % N] + cfg)
ok(name + "-running", wait_for(ser, r"step 10 of"))
r = ctl_cmd(ctl, {"cmd": "migrate", "to": uri})
ok(name + "-refused", r.get("ok") is False and "refused" in r.get("error", "") and "memory" in r.get("error", ""), r)
ok(name + "-status-running", ctl_cmd(ctl, {"cmd": "status"}).get("state") == "running")
rc, derr = finish_vm(d)
ok(name + "-destination-exits", rc == 1 and "128 MiB" in derr and "64 MiB" in derr and not read(dser),
   "status %s: %s" % (rc, derr))
rc, err = finish_vm(p)
ok(name + "-source-finishes", rc == 33 and [k for k, _ in steps_of(read(ser))] == list(range(N)),
   "status %s: %s" % (rc, err[-300:]))

name = "migrate-nobody"
p, ctl, ser = start(name, ["--kernel", guests + "/savecount.elf", "--cmdline", "steps=%d" % N] + cfg)
ok(name + "-running", wait_for(ser, r"step 5 of"))
r = ctl_cmd(ctl, {"cmd": "migrate", "to": "unix:" + os.path.join(tmp, "nobody.sock")})
ok(name + "-error", r.get("ok") is False and "connect" in r.get("error", ""), r)
r = ctl_cmd(ctl, {"cmd": "migrate", "to": "ftp:x"})
ok(name + "-bad-uri", r.get("ok") is False, r)
# destination killed mid-stream: a 512 MiB guest whose memory takes a while to move
name = "migrate-killed"
big = ["--memory", "512M"]
uri = "unix:" + os.path.join(tmp, name + ".sock")
d, dser = incoming(name + "-dst", uri, big)
q, qctl, qser = start(name, ["--kernel", guests + "/savecount.elf", "--cmdline", "steps=%d mem=400" % N] + big)
ok(name + "-running", wait_for(qser, r"step 5 of"), read(qser)[-200:])
c = socket.socket(socket.AF_UNIX); c.connect(qctl); c.settimeout(90)
f = c.makefile("rw"); f.write(json.dumps({"cmd": "migrate", "to": uri}) + "\n"); f.flush()
time.sleep(0.05)
d.kill(); d.wait()
r = json.loads(f.readline()); c.close()
ok(name + "-error", r.get("ok") is False, r)
ok(name + "-status-running", ctl_cmd(qctl, {"cmd": "status"}).get("state") == "running")
rc, err = finish_vm(q)
ok(name + "-source-finishes", rc == 33 and [k for k, _ in steps_of(read(qser))] == list(range(N)),
   "status %s: %s" % (rc, err[-300:]))
rc, err = finish_vm(p)
ok("migrate-nobody-source-finishes", rc == 33, "status %s" % rc)

# --- a garbage stream: clear error, status 1, no guest output ---
for tag, data in (("garbage", b"GET / HTTP/1.0\r\n\r\n" + os.urandom(3000)), ("empty", b""),
                  ("short-header", b"VSRVMIGR\x01\x00\x00\x00")):
    name = "migrate-" + tag
    uri = "unix:" + os.path.join(tmp, name + ".sock")
    d, dser = incoming(name, uri, cfg)
    s = socket.socket(socket.AF_UNIX); s.connect(uri[5:]); s.sendall(data); s.shutdown(socket.SHUT_WR)
    try: s.recv(4096)
    except OSError: pass
    s.close()
    rc, derr = finish_vm(d, 30)
    ok(name + "-refused", rc == 1 and "--incoming " + uri in derr and not read(dser), "status %s: %s" % (rc, derr))
sys.exit(1 if fails else 0)
EOF
finish
