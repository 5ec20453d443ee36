#!/usr/bin/env bash
# The CD/DVD drive on virtio-scsi through a guest (guests/vcdrom.c): two ISO images made by
# xorriso; the guest reads the first one's primary volume descriptor, the test ejects it and
# inserts the second through the control socket's media command (with its refusals: no such
# image, no such drive), and the guest sees both changes (events, NOT READY, one UNIT
# ATTENTION) and reads the second disc's volume descriptor; then it resets the machine, and
# the VM built again still has the second disc in its drive. On virtio-mmio and virtio-pci,
# with the sandbox (the default: the media command opens images read-only in it) and
# without it.
. "$(dirname "$0")/lib.sh"
G=$GUESTS/vcdrom.elf

if ! have_kvm; then skip virtio-cdrom "$kvm_reason"; exit 0; fi
if ! command -v xorriso >/dev/null; then skip virtio-cdrom "xorriso is not installed (make test-deps)"; exit 0; fi
for n in one two; do
	mkdir -p "$TMP/$n" && echo "disc $n" >"$TMP/$n/readme.txt"
	xorriso -as mkisofs -quiet -V "VSRV_CD_${n^^}" -o "$TMP/$n.iso" "$TMP/$n" 2>/dev/null ||
		{ fail virtio-cdrom "xorriso failed"; finish; exit; }
done

python3 - "$VSRV" "$G" "$TMP" <<'PY'
import json, os, socket, subprocess, sys, time
vsrv, guest, tmp = sys.argv[1:4]
fails = 0
def ok(name, cond, why="failed"):
    global fails
    if cond: print("PASS " + name)
    else: print("FAIL %s: %s" % (name, why)); fails += 1

def wait_serial(path, pat, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if pat in open(path, errors="replace").read(): return True
        except FileNotFoundError: pass
        time.sleep(0.05)
    return False

for t, sandbox in (("mmio", "on"), ("pci", "off")):
    ctl = os.path.join(tmp, t + ".ctl"); ser = os.path.join(tmp, t + ".ser")
    p = subprocess.Popen([vsrv, "run", "--kernel", guest, "--memory", "64M", "--cmdline",
                          "transport=" + t, "--serial", "file:" + ser, "--control", ctl,
                          "--sandbox", sandbox,
                          "--cdrom", os.path.join(tmp, "one.iso") + ",transport=" + t],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for _ in range(500):
        if os.path.exists(ctl): break
        time.sleep(0.02)
    c = socket.socket(socket.AF_UNIX); c.connect(ctl); c.settimeout(20); f = c.makefile("rw")
    def q(msg):
        f.write(json.dumps(msg) + "\n"); f.flush(); return json.loads(f.readline())
    r = q({"cmd": "media"})
    d = r.get("drives", [{}])[0]
    ok("cdrom-%s-list" % t, r.get("ok") and len(r["drives"]) == 1 and d["drive"] == "disk0" and
       d["path"].endswith("one.iso") and d["tray"] == "closed" and not d["locked"], r)
    ok("cdrom-%s-read" % t, wait_serial(ser, "waiting for the eject") and
       "vcdrom: volume VSRV_CD_ONE" in open(ser).read(), open(ser).read()[-400:])
    # every hostile CDB gets a SCSI status (GOOD or CHECK CONDITION), never a transport error
    ok("cdrom-%s-hostile-cdbs" % t, " CHECK CONDITION, 0 transport responses" in open(ser).read(),
       open(ser).read()[-400:])
    r = q({"cmd": "media", "insert": os.path.join(tmp, "nope.iso")})
    ok("cdrom-%s-insert-missing" % t, not r["ok"] and "nope.iso" in r["error"], r)
    r = q({"cmd": "media", "eject": True, "drive": "disk7"})
    ok("cdrom-%s-no-such-drive" % t, not r["ok"] and "disk7" in r["error"], r)
    r = q({"cmd": "media", "eject": True})
    ok("cdrom-%s-eject" % t, r.get("ok") and r["drives"][0]["path"] is None and
       r["drives"][0]["tray"] == "open", r)
    ok("cdrom-%s-guest-sees-eject" % t, wait_serial(ser, "waiting for a new disc") and
       "TEST UNIT READY without a disc: sense 02/3a/02" in open(ser).read(),
       open(ser).read()[-400:])
    r = q({"cmd": "media", "insert": os.path.join(tmp, "two.iso")})
    ok("cdrom-%s-insert" % t, r.get("ok") and r["drives"][0]["path"].endswith("two.iso") and
       r["drives"][0]["tray"] == "closed", r)
    try: rc = p.wait(60)
    except subprocess.TimeoutExpired: p.kill(); rc = p.wait()
    out = open(ser).read()
    ok("cdrom-%s-guest-sees-insert" % t, "after the change: sense 06/28/00" in out and
       "vcdrom: volume VSRV_CD_TWO" in out and "vcdrom: resetting" in out, out[-500:])
    ok("cdrom-%s-kept-across-reset" % t, rc == 33 and
       "kept the second disc across the reset" in out and "vcdrom: ok" in out,
       "status %d: %s %s" % (rc, out[-500:], p.stdout.read().decode(errors="replace")[-300:]))
sys.exit(1 if fails else 0)
PY
finish
