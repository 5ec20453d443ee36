#!/usr/bin/env bash
# The control socket's per-device counters ("disks" and "nics" of the `stats` reply), from
# guests that do known I/O and then hold (`hold`: they stay up for the host to look):
# guests/vblk.c writes and reads a 4 MiB disk whole, flushes, write-zeroes, discards, and
# sends a read across the end and an unknown request type (two errors); guests/vscsi.c does
# the same kinds of commands over SCSI; guests/vnet.c does DHCP through `--net user` (two frames each way at least).
source "$(dirname "$0")/lib.sh"

if ! have_kvm; then skip control-stats "$kvm_reason"; exit 0; fi

python3 - "$VSRV" "$GUESTS" "$TMP" <<'PYEOF'
import json, os, socket, subprocess, sys, time
vsrv, guests, tmp = sys.argv[1:4]
fails = 0
def ok(name, cond, why="failed"):
    global fails
    if cond: print("PASS " + name)
    else: print("FAIL %s: %s" % (name, why)); fails += 1

def q(f, msg):
    f.write(json.dumps(msg) + "\n"); f.flush()
    return json.loads(f.readline())

def run(tag, elf, cmdline, *dev):
    """Boot elf with `hold`, wait for its status line; return the stats reply and the output."""
    ctl = os.path.join(tmp, tag + ".ctl"); out = os.path.join(tmp, tag + ".out")
    p = subprocess.Popen(["timeout", "-k", "5", "60", vsrv, "run", "--memory", "64M",
                          "--kernel", os.path.join(guests, elf), "--cmdline", cmdline + " hold",
                          "--serial", "file:" + out, "--control", ctl] + list(dev),
                         stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    text, r = "", None
    try:
        end = time.time() + 45
        while time.time() < end and p.poll() is None:
            text = open(out, errors="replace").read() if os.path.exists(out) else ""
            if "rt: holding" in text: break
            time.sleep(0.05)
        if "rt: holding" in text:
            c = socket.socket(socket.AF_UNIX); c.connect(ctl); c.settimeout(10)
            f = c.makefile("rw")
            r = q(f, {"cmd": "stats"})
            q(f, {"cmd": "quit"})
    finally:
        try: p.wait(10)
        except subprocess.TimeoutExpired: p.kill(); p.wait()
    return r, text

MB4 = 4 << 20
img = os.path.join(tmp, "blk.img"); open(img, "wb").truncate(MB4)
r, out = run("blk", "vblk.elf", "qd=8", "--disk", img + ",format=raw")
ok("stats-blk-guest", r is not None and "vblk: ok" in out, out[-300:])
d = (r or {}).get("disks") or [{}]
d = d[0]
ok("stats-blk-shape", r and len(r["disks"]) == 1 and r["nics"] == [] and d.get("name") == "disk0"
   and d.get("bus") == "virtio-blk" and d.get("device") == "virtio-blk0", r)
# The whole disk is written once, then read back once (plus the zeroed and discarded ranges
# read again): bytes at least the disk, operations at least disk / 64 KiB.
ok("stats-blk-write", d.get("write_bytes", 0) >= MB4 and d.get("write_ops", 0) >= MB4 // 65536
   and d["write_bytes"] < 2 * MB4, d)
ok("stats-blk-read", d.get("read_bytes", 0) >= MB4 and d.get("read_ops", 0) >= MB4 // 65536, d)
ok("stats-blk-flush-discard", d.get("flush_ops", 0) >= 1 and d.get("discard_ops", 0) >= 2, d)
ok("stats-blk-errors", d.get("errors") == 2, d)  # a read across the end, an unknown type

img = os.path.join(tmp, "scsi.img"); open(img, "wb").truncate(MB4)
r, out = run("scsi", "vscsi.elf", "", "--disk", img + ",format=raw,bus=scsi")
ok("stats-scsi-guest", r is not None and "RESULT: PASS" in out, out[-300:])
d = ((r or {}).get("disks") or [{}])[0]
ok("stats-scsi-shape", d.get("name") == "disk0" and d.get("bus") == "scsi", r)
# WRITE 6/10/16: 1 + 8 + 8 blocks at least, each read back.
ok("stats-scsi-rw", d.get("write_ops", 0) >= 3 and d.get("write_bytes", 0) >= 17 * 512 and
   d.get("read_ops", 0) >= 3 and d.get("read_bytes", 0) >= 17 * 512, d)
ok("stats-scsi-other", d.get("flush_ops", 0) >= 1 and d.get("discard_ops", 0) >= 3 and
   d.get("errors", 0) >= 1, d)  # WRITE SAME 10/16, UNMAP; the LBA beyond the end

mac = "52:54:00:12:34:56"
r, out = run("net", "vnet.elf", "mode=dhcp", "--net", "user,mac=" + mac)
ok("stats-net-guest", r is not None and "vnet: dhcp lease" in out, out[-300:])
n = ((r or {}).get("nics") or [{}])[0]
ok("stats-net-shape", r and r["disks"] == [] and n.get("name") == "net0" and n.get("mac") == mac
   and n.get("backend") == "user" and n.get("device") == "virtio-net0", r)
# DISCOVER and REQUEST out, OFFER and ACK in: Ethernet + IP + UDP + the 236-byte BOOTP part
# at least, without the virtio-net header.
ok("stats-net-tx", n.get("tx_packets", 0) >= 2 and n.get("tx_bytes", 0) >= 2 * 278, n)
ok("stats-net-rx", n.get("rx_packets", 0) >= 2 and n.get("rx_bytes", 0) >= 2 * 278, n)
ok("stats-net-drops", n.get("drops") == 0, n)
sys.exit(1 if fails else 0)
PYEOF
