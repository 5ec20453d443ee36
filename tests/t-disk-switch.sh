#!/usr/bin/env bash
# The control socket's disk-switch (a live snapshot's step, vmm/control.h): vsaveblk
# (virtio-blk rounds of write/flush/read/verify over the whole disk, 8 requests in flight)
# runs on a VHD; mid-run its disk goes onto a differencing VHD made over it beforehand. The
# guest never sees an error (every round verifies what it wrote, across the switch), runs
# every round once, and the last round's pattern reads through the new top; the old top
# stays as it was at the switch (every word one of the rounds up to the one running then).
# On virtio-pci over a dynamic VHD, and on virtio-mmio over a fixed VHD (io_uring on its
# flat file before the switch, synchronous I/O through lib/vhd after). The VMM (sandboxed:
# it opens no file for writing) gets each new top as a descriptor passed with the command:
# here from the test itself (SCM_RIGHTS) and, for the switch, from `vsrv control` (how a VM
# started by hand is switched). Refusals leave the guest running on its image: no such
# drive, a top over another image, no descriptor, a descriptor on another file. A
# checkpoint (save keep_running) after the switch names the new top in its RUN section.
source "$(dirname "$0")/lib.sh"

if ! have_kvm; then skip disk-switch "$kvm_reason"; exit 0; fi
[ -f "$GUESTS/vsaveblk.elf" ] || { fail disk-switch "missing $GUESTS/vsaveblk.elf (run make)"; finish; exit; }

VSRV_TESTS=$(cd "$(dirname "$0")" && pwd) timeout 300 python3 - "$VSRV" "$GUESTS" "$TMP" <<'EOF2'
import json, os, re, socket, struct, subprocess, sys
vsrv, guests, tmp = sys.argv[1:4]
sys.path.insert(0, os.environ["VSRV_TESTS"])
import vmstate
from vmstate import ok, start, wait_for, ctl_cmd, finish_vm, read, check_blk
vmstate.setup(vsrv, tmp)

def img(*a):
    return subprocess.run([vsrv, "img"] + list(a), capture_output=True, text=True)

def switch(ctl, disks, paths=None):
    """disk-switch with the new tops (paths: else each disk's path) opened here, read-write,
    and passed with the command (SCM_RIGHTS), as the server does."""
    fds = [os.open(p, os.O_RDWR | os.O_CLOEXEC) for p in (paths if paths is not None else
                                                          [x["path"] for x in disks])]
    try:
        c = socket.socket(socket.AF_UNIX); c.connect(ctl); c.settimeout(90)
        socket.send_fds(c, [(json.dumps({"cmd": "disk-switch", "disks": disks}) + "\n").encode()], fds)
        r = json.loads(c.makefile("r").readline()); c.close()
    finally:
        for fd in fds:
            os.close(fd)
    return r

def frozen_rounds(vhd):
    """The rounds vsaveblk's words in the image come from (every 7th sector), or None when a
    word is not one of its patterns."""
    raw = vhd + ".raw"
    if img("convert", "-O", "raw", vhd, raw).returncode:
        return None
    data = open(raw, "rb").read(); os.unlink(raw)
    seen = set()
    for s in range(0, len(data) // 512, 7):
        for w, v in enumerate(struct.unpack_from("<64Q", data, s * 512)):
            if v == 0:
                seen.add(-1); continue  # not written yet (round 0 under way)
            if v & ~(0xff << 48) != (0x5600000000000000 | (s & 0xffffffffff) << 8 | w):
                return None
            seen.add(v >> 48 & 0xff)
    return seen

R = 40
for tr, sub in (("pci", "dynamic"), ("mmio", "fixed")):
    name = "disk-switch-%s-%s" % (tr, sub)
    base = os.path.join(tmp, name + ".vhd"); top = os.path.join(tmp, name + "-top.vhd")
    other = os.path.join(tmp, name + "-other.vhd"); wrong = os.path.join(tmp, name + "-wrong.vhd")
    c1 = img("create", "-f", "vpc", "-o", "subformat=" + sub, base, "32M")
    c2 = img("create", "-f", "vpc", "-b", base, "-F", "vpc", top)
    c3 = img("create", "-f", "vpc", other, "32M")
    c4 = img("create", "-f", "vpc", "-b", other, "-F", "vpc", wrong)
    ok(name + "-images", not (c1.returncode or c2.returncode or c3.returncode or c4.returncode),
       c1.stderr + c2.stderr + c3.stderr + c4.stderr)
    cmdline = "transport=%s rounds=%d%s" % (tr, R, " msix" if tr == "pci" else "")
    p, ctl, ser = start(name, ["--kernel", guests + "/vsaveblk.elf", "--cmdline", cmdline,
                               "--memory", "64M", "--disk", "%s,format=vhd,transport=%s" % (base, tr)])
    ok(name + "-running", wait_for(ser, r"round 2 of"), read(ser)[-300:])
    for tag, msg, paths, want in (
            ("no-drive", {"drive": "disk7", "path": top}, None, "no disk disk7"),
            ("wrong-parent", {"drive": "disk0", "path": wrong}, None, "records another parent"),
            ("no-descriptor", {"drive": "disk0", "path": top}, [], "got 0 for 1 disk"),
            ("other-file", {"drive": "disk0", "path": top}, [wrong], "another file")):
        r = switch(ctl, [msg], paths)
        ok(name + "-refused-" + tag, r.get("ok") is False and want in r.get("error", "") and
           ctl_cmd(ctl, {"cmd": "status"}).get("state") == "running", r)
    # the switch as for a VM started by hand: `vsrv control` opens the top and passes it
    c = subprocess.run([vsrv, "control", ctl, json.dumps({"cmd": "disk-switch", "disks": [
        {"drive": "disk0", "path": top}]})], capture_output=True, text=True, timeout=120)
    r = json.loads(c.stdout or "{}")
    done = [int(x) for x in re.findall(r"round (\d+) of", read(ser))]
    ok(name + "-switched", c.returncode == 0 and r.get("ok") is True and
       r["disks"] == [{"drive": "disk0", "path": top}], (c.returncode, c.stdout, c.stderr))
    # a checkpoint now names the new top in its run configuration (a restore opens it)
    sav = os.path.join(tmp, name + ".vsav")
    r = ctl_cmd(ctl, {"cmd": "save", "path": sav, "keep_running": True})
    data = open(sav, "rb").read() if os.path.exists(sav) else b""
    ok(name + "-save-names-top", r.get("ok") is True and
       ("--disk=%s,format=vhd," % top).encode() in data and
       ("--disk=%s,format=vhd," % base).encode() not in data, r)
    rc, err = finish_vm(p)
    out = read(ser)
    ok(name + "-guest-passes", rc == 33 and "vsaveblk: ok" in out and "bad" not in out and
       "failed" not in out, "status %s: %s %s" % (rc, err[-300:], out[-400:]))
    check_blk(name, tr, "vhd", top, "", out, R, "switch")
    # the old top: what was written up to the switch, no later round (the one under way
    # then at most: rounds done when the answer came, plus one)
    seen = frozen_rounds(base)
    ok(name + "-old-top-frozen", seen is not None and done and max(seen) <= max(done) + 1,
       "rounds %s, done %s" % (sorted(seen) if seen else seen, done[-1:]))
EOF2
[ $? -eq 0 ] || fail disk-switch "the test script failed"
finish
