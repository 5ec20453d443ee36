#!/usr/bin/env bash
# Save a running VM through the control socket and restore it with `vsrv run --restore`
# (docs/savestate.md). Guests: savecount (timer-paced hash chains, 1 and 2 vCPUs: the steps
# printed before the save and after the restore are 0..N-1 once each and add up to the
# guest's own sum), vsaveblk (virtio-blk under load on virtio-mmio with a raw disk and on
# virtio-pci with MSI-X and a VHD: the guest verifies every round, the host checks the last
# round's pattern and `vsrv img check`). A checkpoint (keep_running) lets the VM finish and
# restores as well. Save errors (an unwritable path, a full file system) leave the VM
# running and no file behind. Bad files (truncated, bit-flipped, another configuration) are
# refused with a clear message, exit status 1, and no guest output (a flipped page with
# --restore-memory read; mapped lazily, the check beside the guest stops it with status 1).
# The lazy restore maps the memory from the file (VSRV_STATS), survives the file's deletion.
source "$(dirname "$0")/lib.sh"

if ! have_kvm; then skip savestate "$kvm_reason"; exit 0; fi
for g in savecount vsaveblk; do
	[ -f "$GUESTS/$g.elf" ] || { fail savestate "missing $GUESTS/$g.elf (run make)"; finish; exit; }
done

VSRV_TESTS=$(cd "$(dirname "$0")" && pwd) timeout 300 python3 - "$VSRV" "$GUESTS" "$TMP" <<'EOF'
import json, os, re, socket, struct, subprocess, sys, time, zlib
vsrv, guests, tmp = sys.argv[1:4]
sys.path.insert(0, os.environ["VSRV_TESTS"])
import vmstate
from vmstate import ok, start, wait_for, ctl_cmd, finish_vm, read, steps_of, done_sum, check_count, blk_disk, check_blk, strip_run
vmstate.setup(vsrv, tmp)

def restore(tag, state, args, timeout=60):
    ser = os.path.join(tmp, tag + ".out")
    t0 = time.time()
    try:
        q = subprocess.run([vsrv, "run", "--restore", state, "--serial", "file:" + ser] + args,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "timed out", "", 0
    out = open(ser).read() if os.path.exists(ser) else ""
    return q.returncode, q.stderr.decode(errors="replace"), out, time.time() - t0

# --- savecount, 1 and 2 vCPUs: save (the VM ends), restore, go on to the end ---
N = 150
for cpus in (1, 2):
    name = "save-count-%dcpu" % cpus
    cfg = ["--cpus", str(cpus), "--memory", "128M"]
    p, ctl, ser = start(name, ["--kernel", guests + "/savecount.elf", "--cmdline", "steps=%d" % N] + cfg)
    state = os.path.join(tmp, name + ".state")
    ok(name + "-running", wait_for(ser, r"step 30 of"), "guest did not reach step 30")
    r = ctl_cmd(ctl, {"cmd": "save", "path": state, "id": 7})
    ok(name + "-reply", r.get("ok") is True and r.get("state") == "stopped" and r.get("id") == 7
       and r.get("bytes") == os.path.getsize(state), r)
    rc, err = finish_vm(p)
    ok(name + "-vm-ends", rc == 0 and "saved the VM to " + state in err, "status %s: %s" % (rc, err))
    ok(name + "-small-file", os.path.getsize(state) < 8 << 20, os.path.getsize(state))
    ok(name + "-file-mode", os.stat(state).st_mode & 0o777 == 0o600, oct(os.stat(state).st_mode))
    rc, err, out, secs = restore(name + "-b", state, cfg)
    ok(name + "-restored-passes", rc == 33 and "RESULT: PASS" in out, "status %s: %s %s" % (rc, err, out[-300:]))
    check_count(name, open(ser).read(), out, N)
    if cpus == 1:
        good_state, good_cfg = state, cfg  # for the bad-file cases

# --- the same on the Xen HVM platform (--enlightenments xen): the save has its XEN section,
# the restore (which takes --enlightenments xen from the file's RUN section) gives it back to
# KVM. savecount makes no Xen hypercalls: this checks the section's way through a save, not
# a Xen guest's (tests/t-linux-enlight.sh boots one). Skipped where the host's KVM has no
# Xen emulation.
name = "save-count-xen"
cfg = ["--cpus", "2", "--memory", "128M", "--enlightenments", "xen"]
p, ctl, ser = start(name, ["--kernel", guests + "/savecount.elf", "--cmdline", "steps=%d" % N] + cfg)
if p.poll() is not None or not os.path.exists(ctl):
    rc, err = finish_vm(p)
    if "enlightenments xen: this host's KVM" in err:
        print("SKIP %s: %s" % (name, err.strip().splitlines()[0]))
    else:
        ok(name + "-starts", False, "status %s: %s" % (rc, err))
else:
    state = os.path.join(tmp, name + ".state")
    ok(name + "-running", wait_for(ser, r"step 30 of"), "guest did not reach step 30")
    r = ctl_cmd(ctl, {"cmd": "save", "path": state})
    rc, err = finish_vm(p)
    ok(name + "-saved", r.get("ok") is True and rc == 0, (r, rc, err))
    rc, err, out, secs = restore(name + "-b", state, [])
    ok(name + "-restored-passes", rc == 33 and "RESULT: PASS" in out,
       "status %s: %s %s" % (rc, err, out[-300:]))
    check_count(name, open(ser).read(), out, N)
    rc, err, out, secs = restore(name + "-kvm", state, ["--enlightenments", "kvm"])
    ok(name + "-restore-as-kvm-refused", rc != 0 and "--enlightenments" in err, (rc, err))

# --- lazy restore (the default, docs/savestate.md "Restoring memory"): 64 MiB of pattern
# mapped from the file (VSRV_STATS names the mapped runs and the CRC check beside the
# guest), the file deleted while the restored guest runs; the guest checks the pattern at
# the end. The same file with --restore-memory read goes on as well. ---
name = "lazy"
cfg = ["--memory", "128M"]
p, ctl, ser = start(name, ["--kernel", guests + "/savecount.elf", "--cmdline", "steps=%d mem=64" % N] + cfg)
state = os.path.join(tmp, name + ".state")
ok(name + "-running", wait_for(ser, r"step 30 of"), "guest did not reach step 30")
r = ctl_cmd(ctl, {"cmd": "save", "path": state})
rc, err = finish_vm(p)
ok(name + "-saved", r.get("ok") is True and rc == 0 and r.get("pages", 0) >= 64 * 256, (r, rc, err))
copy = os.path.join(tmp, name + "-copy.state")
open(copy, "wb").write(open(state, "rb").read())
ser2 = os.path.join(tmp, name + "-b.out")
q = subprocess.Popen([vsrv, "run", "--restore", copy, "--serial", "file:" + ser2] + cfg,
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                     env=dict(os.environ, VSRV_STATS="1"))
ok(name + "-restored-runs", wait_for(ser2, r"step \d+ of"), "no step after the restore")
os.unlink(copy)  # the mapping holds the file: the guest does not notice
rc, err = finish_vm(q)
out = read(ser2)
m = re.search(r"\((\d+) mapped from the file in (\d+) of (\d+) runs, (\d+) read\)", err)
ok(name + "-mapped", m and int(m.group(1)) >= 64 * 256 and int(m.group(2)) > 0,
   "no or too few pages mapped: %s" % err[-600:])
ok(name + "-crc-checked", "the guest memory's CRC checked" in err, err[-600:])
ok(name + "-restored-passes", rc == 33 and "RESULT: PASS" in out, "status %s: %s %s" % (rc, err[-300:], out[-300:]))
check_count(name, open(ser).read(), out, N)
rc, err, out, secs = restore(name + "-read", state, cfg + ["--restore-memory", "read"])
ok(name + "-read-passes", rc == 33 and "RESULT: PASS" in out, "status %s: %s %s" % (rc, err[-300:], out[-300:]))

# --- checkpoint: keep_running; the VM finishes, and the file restores as well ---
name = "checkpoint"
cfg = ["--memory", "64M"]
p, ctl, ser = start(name, ["--kernel", guests + "/savecount.elf", "--cmdline", "steps=%d" % N] + cfg)
state = os.path.join(tmp, name + ".state")
ok(name + "-running", wait_for(ser, r"step 30 of"))
r = ctl_cmd(ctl, {"cmd": "save", "path": state, "keep_running": True})
ok(name + "-reply", r.get("ok") is True and r.get("state") == "running", r)
ok(name + "-status-running", ctl_cmd(ctl, {"cmd": "status"}).get("state") == "running")
rc, err = finish_vm(p)
full = open(ser).read()
ok(name + "-original-finishes", rc == 33 and "checkpoint of the VM in" in err, "status %s: %s" % (rc, err))
ok(name + "-original-sequence", [k for k, _ in steps_of(full)] == list(range(N)))
rc, err, out, secs = restore(name + "-b", state, cfg)
ok(name + "-restored-passes", rc == 33 and "RESULT: PASS" in out, "status %s: %s" % (rc, err))
after = steps_of(out)
k0 = after[0][0] if after else -1
ok(name + "-restored-continues", after and [k for k, _ in after] == list(range(k0, N)) and k0 > 30
   and after == steps_of(full)[k0:] and done_sum(out) == done_sum(full), "from step %d" % k0)
# a save while paused with keep_running stays paused
p, ctl, ser = start(name + "-p", ["--kernel", guests + "/savecount.elf", "--cmdline", "steps=%d" % N] + cfg)
ok(name + "-paused-running", wait_for(ser, r"step 5 of"))
ctl_cmd(ctl, {"cmd": "pause"})
r = ctl_cmd(ctl, {"cmd": "save", "path": state + "2", "keep_running": True})
ok(name + "-paused-stays-paused", r.get("ok") and r.get("state") == "paused" and
   ctl_cmd(ctl, {"cmd": "status"}).get("state") == "paused", r)
ctl_cmd(ctl, {"cmd": "resume"})
rc, err = finish_vm(p)
ok(name + "-paused-then-finishes", rc == 33, "status %s" % rc)

# --- save errors: the VM goes on, nothing is left behind ---
name = "save-error"
p, ctl, ser = start(name, ["--kernel", guests + "/savecount.elf", "--cmdline", "steps=%d" % (3 * N)] + cfg)
ok(name + "-running", wait_for(ser, r"step 10 of"))
r = ctl_cmd(ctl, {"cmd": "save", "path": "/nonexistent-dir/x.state"})
ok(name + "-unwritable", r.get("ok") is False and "/nonexistent-dir" in r.get("error", ""), r)
# many failing saves in a row: each parks and resumes the vCPUs (a pause right after a
# resume once left a vCPU parked for good)
errs = [ctl_cmd(ctl, {"cmd": "save", "path": "/nonexistent-dir/x.state"}).get("error", "") for _ in range(50)]
ok(name + "-repeated", all("cannot create a file next to /nonexistent-dir/x.state" in e for e in errs),
   set(errs))
r = ctl_cmd(ctl, {"cmd": "save"})
ok(name + "-no-path", r.get("ok") is False and "path" in r.get("error", ""), r)
full_dir = os.path.join(tmp, "full")
os.mkdir(full_dir)
mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", full_dir],
                         stderr=subprocess.DEVNULL).returncode == 0
if mounted:
    r = ctl_cmd(ctl, {"cmd": "save", "path": full_dir + "/x.state"})
    left = os.listdir(full_dir)
    subprocess.run(["umount", full_dir])
    ok(name + "-disk-full", r.get("ok") is False and "No space" in r.get("error", "") and left == [],
       "%s, left %s" % (r, left))
else:
    print("SKIP %s-disk-full: cannot mount a small tmpfs here" % name)
ok(name + "-still-running", ctl_cmd(ctl, {"cmd": "status"}).get("state") == "running")
rc, err = finish_vm(p)
ok(name + "-vm-finishes", rc == 33 and [k for k, _ in steps_of(open(ser).read())] == list(range(3 * N)),
   "status %s" % rc)

# --- virtio-blk under load: mmio + raw, pci + MSI-X + VHD ---
R = 40
for tr, fmt in (("mmio", "raw"), ("pci", "vhd")):
    name = "save-blk-%s-%s" % (tr, fmt)
    disk, cfg, cmdline = blk_disk(name, tr, fmt, R)
    p, ctl, ser = start(name, ["--kernel", guests + "/vsaveblk.elf", "--cmdline", cmdline] + cfg)
    state = os.path.join(tmp, name + ".state")
    ok(name + "-running", wait_for(ser, r"round 2 of"), open(ser).read()[-300:] if os.path.exists(ser) else "")
    r = ctl_cmd(ctl, {"cmd": "save", "path": state})
    rc, err = finish_vm(p)
    ok(name + "-saved", r.get("ok") is True and rc == 0, "%s status %s %s" % (r, rc, err))
    before = open(ser).read()
    rc, err, out, secs = restore(name + "-b", state, cfg)
    ok(name + "-restored-passes", rc == 33 and "vsaveblk: ok" in out, "status %s: %s %s" % (rc, err, out[-400:]))
    check_blk(name, tr, fmt, disk, before, out, R, "restore")
    blk_state, blk_cfg = state, cfg

# --- the run configuration in the file (docs/savestate.md "The run configuration"): the
# same save restored with no VM options at all (--kernel, --cmdline, --memory and --disk
# come from the file), after resetting the disk to the saved moment's contents ---
name = "save-blk-noopts"
disk, cfg, cmdline = blk_disk(name, "pci", "raw", R)
p, ctl, ser = start(name, ["--kernel", guests + "/vsaveblk.elf", "--cmdline", cmdline] + cfg)
state = os.path.join(tmp, name + ".state")
ok(name + "-running", wait_for(ser, r"round 2 of"), open(ser).read()[-300:] if os.path.exists(ser) else "")
r = ctl_cmd(ctl, {"cmd": "save", "path": state})
rc, err = finish_vm(p)
ok(name + "-saved", r.get("ok") is True and rc == 0, "%s status %s %s" % (r, rc, err))
sec = open(state, "rb").read()
ok(name + "-has-run-section", b"--disk=" + disk.encode() in sec and b"--cmdline=" + cmdline.encode() in sec,
   "no RUN section with the options")
before = open(ser).read()
rc, err, out, secs = restore(name + "-b", state, [])
ok(name + "-restored-passes", rc == 33 and "vsaveblk: ok" in out, "status %s: %s %s" % (rc, err, out[-400:]))
check_blk(name, "pci", "raw", disk, before, out, R, "restore")

# --- bad files and other configurations: refused, status 1, the guest never runs ---
data = open(good_state, "rb").read()
def bad(name, content, args, want):
    path = os.path.join(tmp, name + ".state")
    if content is not None:
        open(path, "wb").write(content)
    ser = os.path.join(tmp, name + ".out")
    q = subprocess.run([vsrv, "run", "--restore", path, "--serial", "file:" + ser] + args,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    err = q.stderr.decode(errors="replace")
    ran = os.path.exists(ser) and os.path.getsize(ser) > 0
    ok("restore-bad-" + name, q.returncode == 1 and re.search(want, err) and not ran and
       "Sanitizer" not in err, "status %d, ran %s: %s" % (q.returncode, ran, err))

def flip(off):
    b = bytearray(data); b[off] ^= 0x10; return bytes(b)
def section(typ):  # offset of the first payload byte of the first section of this type
    off = 64
    while off + 32 <= len(data):
        t, i, n = struct.unpack_from("<IIQ", data, off)
        if t == typ: return off + 32
        off += 32 + n
    raise Exception("no section %d" % typ)
def header(version=1, layout=None):
    h = bytearray(data[:64])
    struct.pack_into("<I", h, 8, version)
    if layout is not None: struct.pack_into("<Q", h, 16, layout)
    struct.pack_into("<I", h, 60, zlib.crc32(bytes(h[:60])))
    return bytes(h) + data[64:]
bad("empty", b"", good_cfg, "not a vsrv save file")
bad("not-a-save", b"hello world" * 100, good_cfg, "bad magic")
bad("truncated-header", data[:40], good_cfg, "too short")
bad("truncated-config", data[:200], good_cfg, "truncated")
bad("truncated-half", data[:len(data) // 2], good_cfg, "truncated")
bad("truncated-one-byte", data[:-1], good_cfg, "truncated")
bad("trailing-bytes", data + b"x", good_cfg, "data after")
bad("flip-header", flip(20), good_cfg, "header is corrupt")
bad("flip-section-header", flip(64 + 4), good_cfg, "section header is corrupt")
bad("flip-config", flip(64 + 32 + 2), good_cfg, "corrupt .CRC")
bad("flip-vm", flip(section(2) + 100), good_cfg, "corrupt .CRC")
bad("flip-vcpu", flip(section(3) + 1000), good_cfg, "corrupt .CRC")
bad("flip-legacy", flip(section(4) + 10), good_cfg, "corrupt .CRC")
bad("flip-devices", flip(section(5) + 2), good_cfg, "corrupt .CRC")
bad("flip-bitmap", flip(section(6) + 48), good_cfg, "corrupt|bitmap")
bad("flip-memory", flip(len(data) - 5000), good_cfg + ["--restore-memory", "read"],
    "guest memory is corrupt")
# lazily mapped (the default), a corrupt page is found beside the guest: the VM stops, status 1
path = os.path.join(tmp, "flip-memory-lazy.state")
open(path, "wb").write(flip(len(data) - 5000))
rc, err, out, secs = restore("flip-memory-lazy", path, good_cfg)
ok("restore-bad-flip-memory-lazy", rc == 1 and "guest memory is corrupt (CRC mismatch): the VM stops" in err
   and "RESULT: PASS" not in out, "status %s: %s" % (rc, err))
bad("version", header(version=2), good_cfg, "another format version")
bad("layout", header(layout=12345), good_cfg, "other state layouts")
bad("missing", None, good_cfg, "No such file")
# VM options given with a file that has them must be the file's (the RUN section)
bad("memory-size", data, ["--memory", "64M"], r"--memory=64M is not what the saved VM has \(--memory=128M\)")
bad("cpu-count", data, ["--memory", "128M", "--cpus", "2"], r"--cpus=2 is not what the saved VM has \(--cpus=1\)")
bad("extra-disk", data, good_cfg + ["--disk", blk_cfg[3].split(",")[0] + ",format=vhd"],
    r"--disk=.* is not what the saved VM has \(not given")
bad("other-transport", open(blk_state, "rb").read(),
    ["--disk", blk_cfg[3].replace("transport=pci", "transport=mmio")], r"--disk=.*transport=mmio is not what the saved VM has")
# a file of before the RUN section: the options given make the VM, checked against the file
bad("old-memory-size", strip_run(data), ["--memory", "64M"], "128 MiB of memory, this one 64 MiB")
bad("old-no-disk", strip_run(open(blk_state, "rb").read()), ["--memory", "64M"], "1 virtio devices, this one 0")
bad("old-transport", strip_run(open(blk_state, "rb").read()),
    ["--memory", "64M", "--disk", blk_cfg[3].replace("transport=pci", "transport=mmio")],
    "virtio-blk on virtio-pci in the saved VM, a virtio-blk on virtio-mmio")
sys.exit(1 if vmstate.fails else 0)
EOF
[ $? -eq 0 ] || _fails=1
finish
