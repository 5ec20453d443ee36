#!/usr/bin/env python3
"""virtio-blk benchmark: one guest (build/guests/vbench.elf), two monitors, one run.

`vsrv run` and `qemu-system-x86_64 -M microvm -enable-kvm` (virtio-mmio) boot the same guest ELF
on the same raw image file with the host page cache off on both (vsrv `cache=none`, QEMU
`cache=none,aio=native`: O_DIRECT). The guest runs timed phases (4 KiB random read/write at
queue depth 1 and 32, sequential 1 MiB read/write) and reports operations and its own TSC time.
The machine is shared and noisy: the script runs ROUNDS rounds, vsrv and QEMU interleaved
(the order alternating), fio after each, and prints medians with the load average.

Exits per request: vsrv counts them itself (VSRV_STATS=1: the vCPU's user-space exits, plus
the notifications its devices received through ioeventfds, each one an exit that KVM handles
in the kernel); one extra vsrv run per phase (and one with no I/O as the baseline) gives
(exits of the run - exits of the baseline) / requests. For QEMU the guest's own count of
register accesses (each one an exit) stands in. Where debugfs is readable, both monitors'
KVM exit counters (/sys/kernel/debug/kvm/PID-FD/exits) are read around each phase as well.
The floor is fio on the same file with O_DIRECT. Guest RAM sits on 2 MiB pages in both monitors
(vsrv madvises it, QEMU too), so a 1 MiB request is one physically contiguous buffer; fio's own
buffers are 4 KiB pages unless it gets huge pages, and the host's disk (254 segments per request)
then splits each 1 MiB request in two, which understates the floor. As root the script reserves a
few huge pages for the run (vm.nr_hugepages, put back afterwards) and gives fio --iomem=shmhuge;
the table says which floor it measured.

With --ring packed both monitors run the guest on packed virtqueues (VIRTIO_F_RING_PACKED:
the guest's `ring=packed`, QEMU's packed=on); the default is split rings.

Contended variants (issue 18): the rounds run again under each load of BENCH_CONTEND
(bench/lib/contend.sh; default "busy guests": a busy loop per core, and guests computing where
/dev/kvm is; "" for quiet only), the same load for vsrv, QEMU and fio, their runs interleaved
as in the quiet rounds; the last table puts quiet and contended figures side by side.

Usage: bench/virtio-blk.py [--ms N] [--size MiB] [--rounds N] [--dir DIR] [--ring split|packed]
"""
import argparse, glob, json, os, re, shutil, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
import contend  # noqa: E402
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
PHASES = ["randread-qd1", "randread-qd32", "randwrite-qd1", "randwrite-qd32", "seqread-1m", "seqwrite-1m"]


def debugfs_ok():
    """KVM's per-VM exit counters are readable (not on kernels in lockdown, as on our PVM hosts)."""
    if not os.path.isdir("/sys/kernel/debug/kvm"):
        subprocess.run(["mount", "-t", "debugfs", "none", "/sys/kernel/debug"], stderr=subprocess.DEVNULL)
    try:
        with open("/sys/kernel/debug/kvm/exits") as f:
            f.read()
        return True
    except OSError:
        return False


def vm_exits(pid):
    total = None
    for d in glob.glob("/sys/kernel/debug/kvm/%d-*" % pid):
        try:
            with open(os.path.join(d, "exits")) as f:
                total = (total or 0) + int(f.read())
        except OSError:
            pass
    return total


def thread_cpu(pid):
    """{tid: CPU time in ns} of every thread of pid and of its child processes (schedstat:
    run time, ns precision): a sandboxed `vsrv run` runs its VM in a child process."""
    out, pids = {}, [pid]
    while pids:
        p = pids.pop()
        for d in glob.glob("/proc/%d/task/*" % p):
            try:
                with open(os.path.join(d, "schedstat")) as f:
                    out[int(os.path.basename(d))] = int(f.read().split()[0])
                with open(os.path.join(d, "children")) as f:
                    pids += [int(c) for c in f.read().split()]
            except (OSError, ValueError, IndexError):
                pass
    return out


def host_cpu_ns(c0, c1):
    """CPU the monitor spent between two samples outside its busiest thread: the guest polls
    its used ring, so the vCPU thread runs the whole phase; the rest is the monitor's own
    I/O work (device threads, event loops, io_uring/AIO submission and completion)."""
    d = sorted((c1[t] - c0.get(t, 0) for t in c1), reverse=True)
    return sum(d[1:]) if d else None


def run_guest(cmd, ms, with_exits, env=None):
    """Boot, drive the phases, return {phase: dict(ops, bytes, us, kicks, exits)}; with
    VSRV_STATS in env also {"_vsrv_exits": exits counted by vsrv over the whole run}."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    limit = 60 + 3 * ms / 1000 * len(PHASES)
    res, e0, c0, deadline = {}, None, {}, time.time() + limit
    # A guest that stops talking (a lost request, a stuck monitor) must not hang the run:
    # the watchdog kills the monitor, which ends the read loop below.
    watchdog = threading.Timer(limit, p.kill)
    watchdog.daemon = True
    watchdog.start()
    try:
        for raw in p.stdout:
            line = raw.decode(errors="replace").strip()
            if time.time() > deadline:
                break
            m = re.search(r"vbench: ready (\S+)", line)
            if m:
                e0 = vm_exits(p.pid) if with_exits else None
                c0 = thread_cpu(p.pid)
                p.stdin.write(b"g")
                p.stdin.flush()
                continue
            m = re.search(r"vbench: (\S+) ops=(\d+) bytes=(\d+) us=(\d+) kicks=(\d+) regs=(\d+)", line)
            if m:
                e1 = vm_exits(p.pid) if with_exits else None
                cpu = host_cpu_ns(c0, thread_cpu(p.pid)) if c0 else None
                ops, nbytes, us, kicks, regs = map(int, m.groups()[1:])
                res[m.group(1)] = dict(ops=ops, bytes=nbytes, us=us, kicks=kicks, regs=regs,
                                       exits=(e1 - e0) if e0 is not None and e1 is not None else None,
                                       cpu=cpu)
            if "RESULT:" in line:
                break
    finally:
        watchdog.cancel()
        if time.time() > deadline:
            sys.stderr.write("guest timed out after %.0f s (%s), phases done: %s\n" % (
                limit, os.path.basename(cmd[0]), ", ".join(res) or "none"))
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    err = p.stderr.read().decode(errors="replace")
    if not any(ph in res for ph in PHASES + ["nop"]):
        sys.stderr.write("guest failed: %s\n%s\n" % (" ".join(cmd), err[-500:]))
    if env and "VSRV_STATS" in env:
        ex = sum(int(x) for x in re.findall(r"vCPU \d+: (\d+) exits", err))
        for n, bus in re.findall(r"(\d+) notifications \((\d+) through", err):
            ex += int(n) - int(bus)  # ioeventfd: an exit KVM handled in the kernel
        res["_vsrv_exits"] = ex
    return res


HUGE_PAGES = "/proc/sys/vm/nr_hugepages"


def reserve_huge(n):
    """Reserve n more 2 MiB pages for fio's buffers; returns the old setting to put back, or None."""
    try:
        with open(HUGE_PAGES) as f:
            old = int(f.read())
        with open(HUGE_PAGES, "w") as f:
            f.write(str(old + n))
        with open(HUGE_PAGES) as f:
            if int(f.read()) < old + n:
                release_huge(old)
                return None
        return old
    except (OSError, ValueError):
        return None


def release_huge(old):
    if old is not None:
        try:
            with open(HUGE_PAGES, "w") as f:
                f.write(str(old))
        except OSError:
            pass


def fio(path, rw, bs, qd, ms, huge=False):
    out = subprocess.run(["fio", "--name=f", "--filename=" + path, "--direct=1", "--ioengine=io_uring",
                          "--rw=" + rw, "--bs=" + bs, "--iodepth=" + str(qd), "--time_based",
                          "--runtime=%dms" % ms, "--output-format=json"] +
                         (["--iomem=shmhuge"] if huge else []), capture_output=True, text=True)
    if out.returncode:
        return None
    j = json.loads(out.stdout[out.stdout.index("{"):])["jobs"][0]
    side = j["read"] if "read" in rw else j["write"]
    return dict(iops=side["iops"], mibs=side["bw_bytes"] / 1048576.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ms", type=int, default=int(os.environ.get("BENCH_MS", "1000")))
    ap.add_argument("--size", type=int, default=256, help="image size in MiB")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "5")))
    ap.add_argument("--dir", default=os.path.join(BUILD, "bench"))
    ap.add_argument("--ring", choices=["split", "packed"], default="split")
    a = ap.parse_args()
    ring = " ring=packed" if a.ring == "packed" else ""
    vsrv, guest = os.path.join(BUILD, "vsrv"), os.path.join(BUILD, "guests", "vbench.elf")
    qemu = shutil.which("qemu-system-x86_64")
    if not os.access("/dev/kvm", os.W_OK):
        print("virtio-blk bench: skipped (no usable /dev/kvm)")
        return 0
    os.makedirs(a.dir, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=a.dir, prefix="vblk.")
    img = os.path.join(tmp, "disk.raw")
    huge_old = reserve_huge(16) if shutil.which("fio") else None
    try:
        with open(img, "wb") as f:  # real data everywhere: no holes for reads to skip
            chunk = os.urandom(1 << 20)
            for _ in range(a.size):
                f.write(chunk)
            os.fsync(f.fileno())
        exits = debugfs_ok()
        cmdline = "sync ms=%d%s" % (a.ms, ring)
        vcmd = [vsrv, "run", "--kernel", guest, "--memory", "128M", "--serial", "stdio",
                "--disk", img + ",format=raw,cache=none"]
        qcmd = [qemu, "-M", "microvm", "-enable-kvm", "-m", "128", "-nodefaults", "-nographic",
                "-serial", "stdio", "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4",
                "-global", "virtio-mmio.force-legacy=false", "-kernel", guest,
                "-drive", "id=d0,file=%s,format=raw,if=none,cache=none,aio=native" % img,
                "-device", "virtio-blk-device,drive=d0" + (",packed=on" if ring else "")] if qemu else None
        variants = contend.variants("virtio-blk bench")
        by_var = {}
        load0 = os.getloadavg()[0]
        for var in variants:
            vs_runs, qm_runs, fl_runs = [], [], []
            with contend.Load(var):
                for rnd in range(a.rounds):
                    order = ["vsrv", "qemu"] if rnd % 2 == 0 else ["qemu", "vsrv"]
                    for mon in order:
                        if mon == "vsrv":
                            vs_runs.append(run_guest(vcmd + ["--cmdline", cmdline], a.ms, exits))
                        elif qcmd:
                            qm_runs.append(run_guest(qcmd + ["-append", cmdline], a.ms, exits))
                    if shutil.which("fio"):
                        fl_runs.append({ph: fio(img, rw, bs, qd, a.ms, huge_old is not None) for ph, (rw, bs, qd) in zip(
                            PHASES, [("randread", "4k", 1), ("randread", "4k", 32), ("randwrite", "4k", 1),
                                     ("randwrite", "4k", 32), ("read", "1m", 4), ("write", "1m", 4)])})
            by_var[var] = (vs_runs, qm_runs, fl_runs)
        vs_runs, qm_runs, fl_runs = by_var["quiet"]
        # vsrv's own exit count, one run per phase against a run without I/O
        senv = dict(os.environ, VSRV_STATS="1")
        base = run_guest(vcmd + ["--cmdline", "ms=%d phases=nop%s" % (a.ms, ring)], a.ms, False, senv)
        vexits = {}
        for ph in PHASES:
            r = run_guest(vcmd + ["--cmdline", "ms=%d phases=%s%s" % (a.ms, ph, ring)], a.ms, False, senv)
            if ph in r and r[ph]["ops"] and "_vsrv_exits" in r and "_vsrv_exits" in base:
                vexits[ph] = max(r["_vsrv_exits"] - base["_vsrv_exits"], 0) / r[ph]["ops"]
        load1 = os.getloadavg()[0]
    finally:
        release_huge(huge_old)
        shutil.rmtree(tmp, ignore_errors=True)

    def med(vals):
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    def fig(r, ph):
        x = r.get(ph)
        if not x or not x["us"]:
            return None
        return x["bytes"] / 1048576.0 / (x["us"] / 1e6) if ph.startswith("seq") else x["ops"] / (x["us"] / 1e6)

    def epr(r, ph):
        x, nop = r.get(ph), r.get("nop")
        if not x or x["exits"] is None or not x["ops"]:
            return None
        base = nop["exits"] if nop and nop["exits"] is not None else 0
        return max(x["exits"] - base, 0) / x["ops"]

    def rpr(r, ph):
        x = r.get(ph)
        return x["regs"] / x["ops"] if x and x["ops"] else None

    def f(v, w=9, p=0):
        return ("%*.*f" % (w, p, v)) if v is not None else "%*s" % (w, "-")

    print("virtio-blk, %s virtqueues, %d MiB raw image, O_DIRECT on both monitors, %d ms per phase (guest TSC timing);" % (
        a.ring, a.size, a.ms))
    print("medians of %d rounds (vsrv and QEMU interleaved); load average %.1f before, %.1f after;" % (a.rounds, load0, load1))
    print("acc/req = guest register accesses (each one a KVM exit) per request, counted by the guest;")
    print("ex/req (vsrv) = KVM exits per request counted by vsrv (user-space exits + ioeventfd notifications);")
    print("ex/req (qemu) = all KVM exits per request from debugfs%s" % (
        "" if exits else ": unreadable on this host (lockdown), and kvm:kvm_exit does not fire under PVM"))
    print("fio = the floor: fio, io_uring, O_DIRECT, same file, same depth (seq: 1 MiB x 4), buffers on %s" % (
        "2 MiB pages like the guests' RAM" if huge_old is not None else
        "4 KiB pages (no huge pages could be reserved: seq floor understated)"))
    print("%-15s %5s %9s %9s %6s %9s %6s %8s %8s %8s %8s" % ("phase", "unit", "vsrv", "qemu", "ratio", "fio", "%fio",
                                                           "acc/req", "qemu", "ex/req", "qemu"))
    for ph in PHASES:
        v, q = med(fig(r, ph) for r in vs_runs), med(fig(r, ph) for r in qm_runs)
        fv = med((fo[ph]["mibs"] if ph.startswith("seq") else fo[ph]["iops"]) if fo.get(ph) else None for fo in fl_runs)
        print("%-15s %5s %s %s %s %s %s %s %s %s %s" % (
            ph, "MiB/s" if ph.startswith("seq") else "IOPS", f(v), f(q),
            f(v / q if v and q else None, 6, 2), f(fv), f(100 * v / fv if v and fv else None, 6),
            f(med(rpr(r, ph) for r in vs_runs), 8, 2), f(med(rpr(r, ph) for r in qm_runs), 8, 2),
            f(vexits.get(ph, med(epr(r, ph) for r in vs_runs)), 8, 2), f(med(epr(r, ph) for r in qm_runs), 8, 2)))
    def cpr(r, ph):
        x = r.get(ph)
        return x["cpu"] / 1000.0 / x["ops"] if x and x.get("cpu") is not None and x["ops"] else None

    print("host CPU per request outside the vCPU thread (the monitor's own I/O work), microseconds:")
    print("%-15s %9s %9s %12s" % ("phase", "vsrv", "qemu", "qemu/vsrv"))
    for ph in PHASES:
        v, q = med(cpr(r, ph) for r in vs_runs), med(cpr(r, ph) for r in qm_runs)
        print("%-15s %s %s %s" % (ph, f(v, 9, 1), f(q, 9, 1), f(q / v if v and q else None, 12, 2)))
    print("sequential spread over the rounds (min..max MiB/s):")
    for ph in PHASES:
        if not ph.startswith("seq"):
            continue
        row = []
        for name, runs in (("vsrv", vs_runs), ("qemu", qm_runs), ("fio", None)):
            vals = sorted(v for v in ((fig(r, ph) for r in runs) if runs is not None else
                                      (fo[ph]["mibs"] if fo.get(ph) else None for fo in fl_runs)) if v)
            if vals:
                row.append("%s %.0f..%.0f" % (name, vals[0], vals[-1]))
        print("  %-13s %s" % (ph, "   ".join(row)))
    print("quiet and contended side by side (medians of %d rounds each; ratio = vsrv / qemu, >1: vsrv better):" % a.rounds)
    print("%-15s %5s" % ("phase", "unit") + "".join(" | %-7s %8s %8s %6s" % (v, "vsrv", "qemu", "ratio") for v in variants))
    for ph in PHASES:
        row = "%-15s %5s" % (ph, "MiB/s" if ph.startswith("seq") else "IOPS")
        for var in variants:
            vr, qr, _ = by_var[var]
            v, q = med(fig(r, ph) for r in vr), med(fig(r, ph) for r in qr)
            row += " | %-7s %s %s %s" % ("", f(v, 8), f(q, 8), f(v / q if v and q else None, 6, 2))
        print(row)
    return 0 if any(vs_runs) else 1


if __name__ == "__main__":
    sys.exit(main())
