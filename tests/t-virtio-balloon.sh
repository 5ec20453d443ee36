#!/usr/bin/env bash
# virtio-balloon through a guest (guests/vballoon.c) on virtio-mmio and virtio-pci, driven
# through the control socket: the guest fills 16 MiB, the test asks it (balloon target_mib)
# to keep 48 of its 64 MiB, the guest inflates those pages and reads zeros (the host released
# them) while the VM's RSS drops by about 16 MiB and the control socket reports the balloon
# and the guest's statistics; the test gives the memory back and the guest deflates, gives
# garbage page numbers (refused) and reports 4 MiB free (released: zeros).
. "$(dirname "$0")/lib.sh"
G=$GUESTS/vballoon.elf

if ! have_kvm; then skip virtio-balloon "$kvm_reason"; exit 0; fi

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

for t in ("mmio", "pci"):
    ctl = os.path.join(tmp, t + ".ctl"); ser = os.path.join(tmp, t + ".ser")
    p = subprocess.Popen([vsrv, "run", "--kernel", guest, "--memory", "64M", "--cmdline",
                          "transport=" + t, "--serial", "file:" + ser, "--control", ctl,
                          "--device", "balloon,free-page-reporting=on,stats-interval=1,transport=" + t],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for _ in range(500):
        if os.path.exists(ctl): break
        time.sleep(0.02)
    c = socket.socket(socket.AF_UNIX); c.connect(ctl); c.settimeout(20); f = c.makefile("rw")
    def q(msg):
        f.write(json.dumps(msg) + "\n"); f.flush(); return json.loads(f.readline())
    ok("balloon-%s-statistics-requested" % t, wait_serial(ser, "filled, waiting for a target") and
       "statistics asked for again" in open(ser).read(), open(ser).read()[-400:])
    rss1 = q({"cmd": "stats"}).get("rss", 0)
    r = q({"cmd": "balloon", "target_mib": 48})
    ok("balloon-%s-target" % t, r.get("ok") and r["target_mib"] == 48 and r["ram_mib"] == 64, r)
    ok("balloon-%s-guest-inflates-zeros" % t, wait_serial(ser, "inflated 4096 pages, they read as zeros"),
       open(ser).read()[-400:])
    s = q({"cmd": "stats"})
    b = s.get("balloon", {})
    ok("balloon-%s-rss-drops" % t, rss1 - s.get("rss", rss1) >= 12 << 20,
       "rss %d -> %d" % (rss1, s.get("rss", 0)))
    ok("balloon-%s-reported" % t, b.get("actual_mib") == 48 and b.get("inflated_pages") == 4096 and
       b.get("bad_pfns") == 0 and b.get("driver") and b.get("stats", {}).get("free") == 12345678 and
       b.get("stats", {}).get("total") == 50 << 20 and b.get("stats_updates", 0) >= 2, b)
    r = q({"cmd": "balloon", "target_mib": 64})
    try: rc = p.wait(60)
    except subprocess.TimeoutExpired: p.kill(); rc = p.wait()
    out = open(ser).read()
    ok("balloon-%s-deflate-garbage-reporting" % t, rc == 33 and "vballoon: deflated" in out and
       "garbage refused" in out and "reported 4096 KiB, they read as zeros" in out and
       "vballoon: ok" in out,
       "status %d: %s %s" % (rc, out[-500:], p.stdout.read().decode(errors="replace")[-300:]))
sys.exit(1 if fails else 0)
PY
finish
