#!/usr/bin/env bash
# Live migration without shared storage (docs/migration.md, "Disks without shared storage"):
# the source gets {"cmd":"migrate","to":URI,"disks":"copy"}, the destination runs with
# --incoming URI on images of its own (empty, the same virtual size). Sources run with
# VSRV_MIGRATE_VERIFY=1 (the destination's RAM must equal the source's at the hand-over).
#   - vsaveblk (virtio-blk rounds of write/flush/read/verify over the whole disk, 8 requests
#     in flight) on virtio-mmio with a raw disk (its writes go through io_uring) and on
#     virtio-pci with a dynamic VHD: migrated mid-round, the guest's reads on the destination
#     verify what it wrote on the source, every round runs exactly once across both sides,
#     the last round's pattern is on the destination's image, `vsrv img check` is clean;
#   - refusals, the source's guest going on: a destination image of another size, the
#     source's own image given to the destination, a bad "disks" value;
#   - a destination killed mid-copy: the source goes on and its disk is unchanged.
source "$(dirname "$0")/lib.sh"

if ! have_kvm; then skip migrate-disks "$kvm_reason"; exit 0; fi
for g in savecount vsaveblk; do
	[ -f "$GUESTS/$g.elf" ] || { fail migrate-disks "missing $GUESTS/$g.elf (run make)"; finish; exit; }
done

VSRV_TESTS=$(cd "$(dirname "$0")" && pwd) timeout 400 python3 - "$VSRV" "$GUESTS" "$TMP" <<'EOF'
import hashlib, json, os, signal, socket, subprocess, sys, time
vsrv, guests, tmp = sys.argv[1:4]
sys.path.insert(0, os.environ["VSRV_TESTS"])
import vmstate
from vmstate import ok, start, wait_for, ctl_cmd, finish_vm, read, steps_of, blk_disk, check_blk
env = dict(os.environ, VSRV_MIGRATE_VERIFY="1")
vmstate.setup(vsrv, tmp, env)

def incoming(tag, uri, args):
    ser = os.path.join(tmp, tag + ".out")
    p = subprocess.Popen([vsrv, "run", "--incoming", uri, "--serial", "file:" + ser] + args,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(500):
        if os.path.exists(uri[5:]) or p.poll() is not None: break
        time.sleep(0.01)
    return p, ser

def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()

# --- vsaveblk: mmio + raw (io_uring), pci + dynamic VHD ---
R = 40
for tr, fmt in (("mmio", "raw"), ("pci", "vhd")):
    name = "migrate-disks-%s-%s" % (tr, fmt)
    src, cfg, cmdline = blk_disk(name, tr, fmt, R)
    dst, dcfg, _ = blk_disk(name + "-dst", tr, fmt, R)
    uri = "unix:" + os.path.join(tmp, name + ".sock")
    d, dser = incoming(name + "-dst", uri, dcfg)
    p, ctl, ser = start(name, ["--kernel", guests + "/vsaveblk.elf", "--cmdline", cmdline] + cfg)
    ok(name + "-running", wait_for(ser, r"round 2 of"), read(ser)[-300:])
    r = ctl_cmd(ctl, {"cmd": "migrate", "to": uri, "disks": "copy"})
    rc, err = finish_vm(p)
    ok(name + "-migrated", r.get("ok") is True and rc == 0 and r.get("disk_rounds", 0) >= 2 and
       r.get("disk_bytes", 0) >= 30 << 20, "%s status %s %s" % (r, rc, err[-300:]))
    rc, derr = finish_vm(d)
    before, out = read(ser), read(dser)
    ok(name + "-destination-passes", rc == 33 and "vsaveblk: ok" in out and "bad" not in out,
       "status %s: %s %s" % (rc, derr[-300:], out[-400:]))
    check_blk(name, tr, fmt, dst, before, out, R, "migration")

# --- refusals: the source's guest goes on ---
N = 150
disk = os.path.join(tmp, "src.raw"); open(disk, "wb").truncate(32 << 20)
small = os.path.join(tmp, "small.raw"); open(small, "wb").truncate(16 << 20)
cfg = ["--memory", "64M", "--disk", disk + ",format=raw"]
name = "migrate-disks-refused"
p, ctl, ser = start(name, ["--kernel", guests + "/savecount.elf", "--cmdline", "steps=%d" % N] + cfg)
ok(name + "-running", wait_for(ser, r"step 5 of"), read(ser)[-200:])
r = ctl_cmd(ctl, {"cmd": "migrate", "to": "unix:" + os.path.join(tmp, "x.sock"), "disks": "local"})
ok(name + "-bad-value", r.get("ok") is False and "disks" in r.get("error", ""), r)
for tag, dimg, want in (("size", small, "same virtual size"), ("same-image", disk, "own")):
    uri = "unix:" + os.path.join(tmp, name + "-" + tag + ".sock")
    d, dser = incoming(name + "-" + tag, uri, ["--memory", "64M", "--disk", dimg + ",format=raw"])
    r = ctl_cmd(ctl, {"cmd": "migrate", "to": uri, "disks": "copy"})
    ok(name + "-" + tag, r.get("ok") is False and "refused" in r.get("error", "") and
       want in r.get("error", ""), r)
    rc, derr = finish_vm(d, 30)
    ok(name + "-" + tag + "-destination-exits", rc == 1 and want in derr and not read(dser),
       "status %s: %s" % (rc, derr[-300:]))
    ok(name + "-" + tag + "-running", ctl_cmd(ctl, {"cmd": "status"}).get("state") == "running")
rc, err = finish_vm(p)
ok(name + "-source-finishes", rc == 33 and [k for k, _ in steps_of(read(ser))] == list(range(N)),
   "status %s: %s" % (rc, err[-300:]))

# --- a destination killed mid-copy: a 256 MiB disk of data takes a while to move ---
name = "migrate-disks-killed"
big = os.path.join(tmp, "big.raw")
with open(big, "wb") as f:
    for _ in range(256): f.write(os.urandom(1 << 20))
bigd = os.path.join(tmp, "big-dst.raw"); open(bigd, "wb").truncate(256 << 20)
before = sha(big)
uri = "unix:" + os.path.join(tmp, name + ".sock")
d, dser = incoming(name + "-dst", uri, ["--memory", "64M", "--disk", bigd + ",format=raw"])
q, qctl, qser = start(name, ["--kernel", guests + "/savecount.elf", "--cmdline", "steps=%d" % N,
                             "--memory", "64M", "--disk", big + ",format=raw"])
ok(name + "-running", wait_for(qser, r"step 5 of"), read(qser)[-200:])
c = socket.socket(socket.AF_UNIX); c.connect(qctl); c.settimeout(90)
f = c.makefile("rw"); f.write(json.dumps({"cmd": "migrate", "to": uri, "disks": "copy"}) + "\n"); f.flush()
for _ in range(500):  # until the copy has begun to arrive
    if os.path.getsize(bigd) and subprocess.run(["du", "-k", bigd], capture_output=True, text=True).stdout.split()[0] != "0":
        break
    time.sleep(0.01)
d.send_signal(signal.SIGSTOP)  # the rest of the copy waits on it ...
d.kill(); d.wait()              # ... and never arrives
r = json.loads(f.readline()); c.close()
ok(name + "-error", r.get("ok") is False, r)
ok(name + "-status-running", ctl_cmd(qctl, {"cmd": "status"}).get("state") == "running")
rc, err = finish_vm(q)
ok(name + "-source-finishes", rc == 33 and [k for k, _ in steps_of(read(qser))] == list(range(N)),
   "status %s: %s" % (rc, err[-300:]))
ok(name + "-source-disk-unchanged", sha(big) == before)
sys.exit(1 if vmstate.fails else 0)
EOF
finish
