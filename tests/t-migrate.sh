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

VSRV_TESTS=$(cd "$(dirname "$0")" && pwd) timeout 400 python3 - "$VSRV" "$GUESTS" "$TMP" <<'EOF'
import json, os, re, signal, socket, struct, subprocess, sys, time
vsrv, guests, tmp = sys.argv[1:4]
sys.path.insert(0, os.environ["VSRV_TESTS"])
import vmstate
from vmstate import ok, start, wait_for, ctl_cmd, finish_vm, read, steps_of, done_sum, check_count, blk_disk, check_blk
env = dict(os.environ, VSRV_MIGRATE_VERIFY="1")
vmstate.setup(vsrv, tmp, env)

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
for tr, fmt in (("mmio", "raw"), ("pci", "vhd")):
    name = "migrate-blk-%s-%s" % (tr, fmt)
    disk, cfg, cmdline = blk_disk(name, tr, fmt, R)
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
    check_blk(name, tr, fmt, disk, before, out, R, "migration")

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
sys.exit(1 if vmstate.fails else 0)
EOF
finish
