"""Helpers shared by the save-state and live-migration tests (tests/t-savestate.sh,
tests/t-migrate.sh): start a `vsrv run` with a serial file and a control socket, talk to the
socket, wait for guest output, and check the guests' own evidence (guests/savecount.c: steps
0..N-1 exactly once with their sum; guests/vsaveblk.c: the round pattern on the disk).
setup() first; ok() prints PASS/FAIL lines and counts failures in `fails`."""
import json, os, re, socket, struct, subprocess, time, zlib

vsrv = tmp = None
env = None
fails = 0


def setup(vsrv_path, tmp_dir, run_env=None):
    global vsrv, tmp, env
    vsrv, tmp, env = vsrv_path, tmp_dir, run_env


def ok(name, cond, why="failed"):
    global fails
    if cond:
        print("PASS " + name)
    else:
        print("FAIL %s: %s" % (name, why))
        fails += 1


def start(tag, args):
    """`vsrv run` with the serial port in TMP/TAG.out and a control socket TMP/TAG.ctl."""
    ctl = os.path.join(tmp, tag + ".ctl"); ser = os.path.join(tmp, tag + ".out")
    p = subprocess.Popen([vsrv, "run", "--serial", "file:" + ser, "--control", ctl] + args,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    for _ in range(500):
        if os.path.exists(ctl) or p.poll() is not None:
            break
        time.sleep(0.01)
    return p, ctl, ser


def wait_for(ser, pat, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if re.search(pat, open(ser).read()):
                return True
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    return False


def ctl_cmd(ctl, msg, timeout=90):
    c = socket.socket(socket.AF_UNIX); c.connect(ctl); c.settimeout(timeout)
    f = c.makefile("rw"); f.write(json.dumps(msg) + "\n"); f.flush()
    r = json.loads(f.readline()); c.close()
    return r


def finish_vm(p, timeout=90):
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill(); p.wait()
        return -1, "timed out"
    return rc, p.stderr.read().decode(errors="replace")


def read(path):
    return open(path).read() if os.path.exists(path) else ""


def steps_of(text):
    return [(int(k), int(x, 16)) for k, x in re.findall(r"savecount: step (\d+) of \d+ x=([0-9a-f]+)", text)]


def done_sum(text):
    m = re.search(r"savecount: done steps=(\d+) sum=([0-9a-f]+)", text)
    return (int(m.group(1)), int(m.group(2), 16)) if m else (None, None)


def check_count(name, before, after, n):
    """savecount's output before and after the move: steps 0..n-1 exactly once, the guest's
    sum of them, and some steps on each side."""
    st = steps_of(before + after)  # a line may be cut by the save
    ks = [k for k, _ in st]
    total, s = done_sum(after)
    ok(name + "-sequence", ks == list(range(n)), "steps %s..%s, %d lines, gaps/repeats: %r | %r" %
       (ks[:3], ks[-3:], len(ks), before[-150:], after[:150]))
    ok(name + "-sum", total == n and s == sum(x for _, x in st) % (1 << 64), "done %s %s: %r | %r" %
       (total, s, before[-150:], after[:150]))
    ok(name + "-split", len(steps_of(before)) > 0 and len(steps_of(after)) > 0,
       "%d steps before, %d after" % (len(steps_of(before)), len(steps_of(after))))


def check_raw(path, rnd):
    """Sectors of a raw image that do not hold vsaveblk's pattern of round rnd (every 7th
    sector is read)."""
    bad = 0
    with open(path, "rb") as f:
        data = f.read()
    for s in range(0, len(data) // 512, 7):
        words = struct.unpack_from("<64Q", data, s * 512)
        for w, v in enumerate(words):
            if v != (0x5600000000000000 | rnd << 48 | (s & 0xffffffffff) << 8 | w):
                bad += 1
    return bad


def blk_disk(name, tr, fmt, rounds):
    """A 32 MiB disk for vsaveblk (raw, or a dynamic VHD) on transport tr: returns the image
    path, the VM's disk options and the guest's command line."""
    disk = os.path.join(tmp, name + "." + fmt)
    if fmt == "raw":
        open(disk, "wb").truncate(32 << 20)
    else:
        subprocess.run([vsrv, "img", "create", "-f", "vhd", disk, "32M"], stdout=subprocess.DEVNULL, check=True)
    cfg = ["--memory", "64M", "--disk", "%s,format=%s,transport=%s" % (disk, fmt, tr)]
    cmdline = "transport=%s rounds=%d%s" % (tr, rounds, " msix" if tr == "pci" else "")
    return disk, cfg, cmdline


def check_blk(name, tr, fmt, disk, before, out, rounds, moved):
    """vsaveblk moved mid-run (moved: "restore" or "migration"): every round exactly once
    across both sides, MSI-X interrupts after the move on pci, the last round's pattern on
    the disk, and a clean `vsrv img check` for a VHD."""
    rs = [int(x) for x in re.findall(r"round (\d+) of", before + out)]
    ok(name + "-rounds", rs == list(range(rounds)) and "round %d of" % (rounds - 1) in out, rs)
    if tr == "pci":
        irq = [int(x) for x in re.findall(r"ok \((\d+) interrupts\)", out)]
        ok(name + "-msix-after-" + moved, irq and min(irq) > 0, irq)
    if fmt == "raw":
        ok(name + "-pattern-on-disk", check_raw(disk, rounds - 1) == 0, "bad words")
    else:
        c = subprocess.run([vsrv, "img", "check", disk], capture_output=True, text=True)
        ok(name + "-img-check", c.returncode == 0, c.stdout + c.stderr)
        raw = disk + ".raw"
        c = subprocess.run(["qemu-img", "convert", "-f", "vpc", "-O", "raw", disk, raw], capture_output=True)
        ok(name + "-pattern-on-disk", c.returncode == 0 and check_raw(raw, rounds - 1) == 0, c.stderr)
        os.unlink(raw)


def strip_run(d):
    """A save file as written before the RUN section existed (docs/savestate.md): the
    section (type 9) left out, the memory section's pages moved to a 4 KiB boundary."""
    off, out = 64, bytearray(d[:64])
    while off + 32 <= len(d):
        t, i, ln = struct.unpack_from("<IIQ", d, off)
        if t == 6:  # MEMORY: its pages start at a 4 KiB-aligned file offset, moved with it
            ms, psz, rsv, npg, bmb, doff = struct.unpack_from("<QIIQQQ", d, off + 32)
            pages = d[doff:off + 32 + ln]
            start = len(out) + 32
            ndoff = (start + 40 + bmb + 4095) // 4096 * 4096
            pay = bytearray(struct.pack("<QIIQQQ", ms, psz, rsv, npg, bmb, ndoff))
            pay += d[off + 32 + 40:off + 32 + 40 + bmb] + bytes(ndoff - start - 40 - bmb) + pages
            h = bytearray(struct.pack("<IIQII8x", 6, 0, len(pay), zlib.crc32(bytes(pay)), 0))
            struct.pack_into("<I", h, 20, zlib.crc32(bytes(h[:20])))
            out += h + pay
        elif t != 9:
            out += d[off:off + 32 + ln]
        off += 32 + ln
    struct.pack_into("<I", out, 24, struct.unpack_from("<I", d, 24)[0] - 1)
    struct.pack_into("<I", out, 60, zlib.crc32(bytes(out[:60])))
    return bytes(out)


def add_run(d, args):
    """A save file d with a RUN section of args put in (the inverse of strip_run: d must have
    none): after DEVICES/FIRMWARE, the memory section's pages moved to a 4 KiB boundary."""
    def sec(t, pay):
        h = bytearray(struct.pack("<IIQII8x", t, 0, len(pay), zlib.crc32(bytes(pay)), 0))
        struct.pack_into("<I", h, 20, zlib.crc32(bytes(h[:20])))
        return bytes(h) + bytes(pay)
    text = b"".join(a.encode() + b"\0" for a in args)
    off, out, done = 64, bytearray(d[:64]), False
    while off + 32 <= len(d):
        t, i, ln = struct.unpack_from("<IIQ", d, off)
        if t in (6, 7) and not done:
            out += sec(9, struct.pack("<IIII", 1, len(args), len(text), 0) + text)
            done = True
        if t == 6:
            ms, psz, rsv, npg, bmb, doff = struct.unpack_from("<QIIQQQ", d, off + 32)
            start = len(out) + 32
            ndoff = (start + 40 + bmb + 4095) // 4096 * 4096
            out += sec(6, struct.pack("<QIIQQQ", ms, psz, rsv, npg, bmb, ndoff) +
                       d[off + 72:off + 72 + bmb] + bytes(ndoff - start - 40 - bmb) +
                       d[doff:off + 32 + ln])
        else:
            out += d[off:off + 32 + ln]
        off += 32 + ln
    struct.pack_into("<I", out, 24, struct.unpack_from("<I", d, 24)[0] + 1)
    struct.pack_into("<I", out, 60, zlib.crc32(bytes(out[:60])))
    return bytes(out)
