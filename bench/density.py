#!/usr/bin/env python3
"""Density (issue 18), `make bench-density`: N idle small Linux guests on one host.

The guest: the project's kernel and initramfs (build/guests/linux: `make linux-guest`), 128 MiB
configured, booted to a busybox shell (`vsrv_shell=1`), nothing else running in it.

vsrv: the guests are made and started through the server (`vsrv serve`, its REST API), as a
user would: POST /api/v1/vms then POST .../start, one after the other. Each VM's processes are
the ones the server knows for it: its supervising monitor (monitor_pid) and everything below it
(the `vsrv run` VMM and its sandboxed child). QEMU: the same guests started by a script as
libvirt would start them, without libvirt: one qemu-system-x86_64 per guest (-M microvm,
-enable-kvm, -m 128, -kernel/-initrd/-append, a virtio balloon with free page reporting like
vsrv's default, a QMP socket, the serial console into a file).

For N = 10, 100 and "max" (as many as fit: starts stop when the host's MemAvailable would fall
under BENCH_DENSITY_MARGIN_MIB, default 2048, or a start fails; at most BENCH_DENSITY_MAX,
default 1000), each monitor in turn:
  - the time from the first start to the last guest at its shell (its console says
    "VSRV-RESULT"), and guests per minute;
  - once all are idle: host CPU per idle VM, from /proc/PID/stat (utime + stime of every
    process of the VM, all threads) over an idle window (BENCH_DENSITY_IDLE s, default 30),
    in percent of one core; the server's own CPU apart;
  - RSS and PSS per VM (/proc/PID/smaps_rollup of each of its processes, summed), threads and
    file descriptors per VM;
  - the API's p50/p99 with them running (vsrv only): GET /api/v1/vms (the list, all VMs) and
    GET /api/v1/vms/NAME/status, sequential requests on one keep-alive connection.
All of it twice: KSM off, then on (the VM's mem_merge, `vsrv run --mem-merge on`; QEMU
-machine mem-merge=on), with the host's KSM running for the "on" runs (/sys/kernel/mm/ksm/run
set to 1, pages_to_scan raised to 1000, both put back afterwards; the measurement waits for two
full KSM scans, at most BENCH_DENSITY_KSM_WAIT s; pages_sharing is reported).

Admission control: each VM reserves BENCH_DENSITY_RESERVE_MIB (default 20) instead of its 128
MiB (memory_reserve_mib), since idle guests touch a fraction of their memory; the margin above
is what keeps the host safe.

Without /dev/kvm: SKIP with the reason, exit 0.
Usage: bench/density.py [--n "10 100 max"] [--ksm off,on] [--monitors vsrv,qemu]
"""
import argparse, http.client, json, os, shutil, signal, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "server"))
import lib  # noqa: E402
from lib import Daemon  # noqa: E402

atexit_summary = getattr(lib, "_openapi_summary", None)
if atexit_summary:
    import atexit
    atexit.unregister(atexit_summary)   # a benchmark, not a test: no PASS lines

LG = os.path.join(ROOT, "build", "guests", "linux")
MARKER = b"VSRV-RESULT"
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MARGIN_MIB = int(os.environ.get("BENCH_DENSITY_MARGIN_MIB", "2048"))
MAX_VMS = int(os.environ.get("BENCH_DENSITY_MAX", "1000"))
IDLE_S = float(os.environ.get("BENCH_DENSITY_IDLE", "30"))
RESERVE_MIB = int(os.environ.get("BENCH_DENSITY_RESERVE_MIB", "20"))
N_REQ = int(os.environ.get("BENCH_DENSITY_REQ", "300"))
KSM = "/sys/kernel/mm/ksm/"


# ---- /proc --------------------------------------------------------------------------------
def mem_available_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def descendants(pid):
    """pid and every process below it (through /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def cpu_ticks(pid):
    """utime + stime of the process (all its threads), in clock ticks; 0 when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return 0


def rollup(pid):
    """(Rss, Pss) of the process in KiB (smaps_rollup); zeros when gone."""
    rss = pss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def threads_fds(pid):
    n = fds = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Threads:"):
                    n = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        pass
    return n, fds


def measure(groups, extra=()):
    """groups: one list of pids per VM. Idle for IDLE_S, then per VM averages: cpu % of a core,
    rss and pss MiB, threads, fds, processes; and the extra pids' CPU % (the server)."""
    allp = [p for g in groups for p in g]
    c0 = {p: cpu_ticks(p) for p in allp + list(extra)}
    t0 = time.monotonic()
    time.sleep(IDLE_S)
    dt = time.monotonic() - t0
    c1 = {p: cpu_ticks(p) for p in allp + list(extra)}
    n = max(len(groups), 1)
    cpu = sum(max(c1[p] - c0[p], 0) for p in allp) / CLK / dt * 100 / n
    rp = [rollup(p) for p in allp]
    tf = [threads_fds(p) for p in allp]
    return dict(cpu=cpu, rss=sum(r for r, _ in rp) / 1024 / n, pss=sum(s for _, s in rp) / 1024 / n,
                threads=sum(t for t, _ in tf) / n, fds=sum(f for _, f in tf) / n, procs=len(allp) / n,
                extra_cpu=sum(max(c1[p] - c0[p], 0) for p in extra) / CLK / dt * 100, idle_s=dt)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else None


# ---- KSM ----------------------------------------------------------------------------------
def ksm_read(name):
    try:
        with open(KSM + name) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def ksm_write(name, v):
    try:
        with open(KSM + name, "w") as f:
            f.write(str(v))
        return True
    except OSError:
        return False


def ksm_set_run(v):
    return ksm_write("run", v)


def ksm_settle():
    """Wait until KSM has scanned all mergeable memory twice since now (full_scans), at most
    BENCH_DENSITY_KSM_WAIT s (default 300); the seconds waited."""
    t0, f0 = time.monotonic(), ksm_read("full_scans")
    limit = float(os.environ.get("BENCH_DENSITY_KSM_WAIT", "300"))
    while f0 is not None and time.monotonic() - t0 < limit:
        f = ksm_read("full_scans")
        if f is None or f >= f0 + 2:
            break
        time.sleep(1)
    return time.monotonic() - t0


# ---- vsrv through the server --------------------------------------------------------------
class Vsrv:
    name = "vsrv"

    def __init__(self, tmp, cmdline, merge):
        self.d = Daemon(os.path.join(tmp, "data"))
        self.cmdline, self.merge, self.names = cmdline, merge, []

    def __enter__(self):
        self.d.start()
        self.tok = self.d.login("admin", "adminpass1")
        self.c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=60)
        return self

    def call(self, method, path, body=None):
        h = {"Authorization": "Bearer " + self.tok}
        data = None
        if body is not None:
            data, h["Content-Type"] = json.dumps(body), "application/json"
        try:
            self.c.request(method, path, data, h)
            r = self.c.getresponse()
        except (OSError, http.client.HTTPException):
            self.c.close()
            self.c.request(method, path, data, h)
            r = self.c.getresponse()
        out = r.read()
        try:
            return r.status, json.loads(out) if out else None
        except ValueError:
            return r.status, out

    def start(self, i):
        """Create and start guest i; None, or why it failed."""
        name = "d%04d" % i
        st, js = self.call("POST", "/api/v1/vms", {
            "name": name, "kernel": os.path.join(LG, "bzImage"),
            "initrd": os.path.join(LG, "initramfs.cpio"), "cmdline": self.cmdline,
            "memory_mib": 128, "memory_reserve_mib": RESERVE_MIB, "mem_merge": self.merge})
        if st != 201:
            return "create %s: %s %s" % (name, st, js)
        st, js = self.call("POST", "/api/v1/vms/%s/start" % name)
        if st not in (200, 202, 204):
            return "start %s: %s %s" % (name, st, js)
        self.names.append(name)
        return None

    def at_shell(self, name):
        st, out = self.call("GET", "/api/v1/vms/%s/console?bytes=65536" % name)
        if st != 200:
            return None
        return MARKER in (out if isinstance(out, bytes) else json.dumps(out).encode())

    def failed(self, name):
        st, js = self.call("GET", "/api/v1/vms/%s/status" % name)
        return st == 200 and js["state"] in ("crashed", "stopped")

    def groups(self):
        out = []
        for n in self.names:
            st, js = self.call("GET", "/api/v1/vms/%s" % n)
            if st == 200 and js.get("monitor_pid"):
                out.append(descendants(js["monitor_pid"]))
        return out

    def server_pids(self):
        return [self.d.proc.pid]

    def api_latency(self):
        """{request: (p50 ms, p99 ms)} of sequential requests on one connection."""
        res = {}
        for label, path in (("GET list", "/api/v1/vms?limit=10000"), ("GET status", None)):
            ts = []
            for i in range(N_REQ):
                p = path or "/api/v1/vms/%s/status" % self.names[i % len(self.names)]
                t0 = time.perf_counter()
                st, _ = self.call("GET", p)
                ts.append(time.perf_counter() - t0)
                if st != 200:
                    raise RuntimeError("%s: %s" % (p, st))
            res[label] = (pct(ts, 50) * 1000, pct(ts, 99) * 1000)
        return res

    def __exit__(self, *exc):
        pids = [p for g in self.groups() for p in g]
        for n in self.names:
            self.call("POST", "/api/v1/vms/%s/off" % n)
        end = time.time() + 120
        while time.time() < end and any(lib.pid_alive(p) for p in pids):
            time.sleep(0.2)
        self.c.close()
        self.d.stop()
        for p in pids:       # nothing of the benchmark stays behind
            if lib.pid_alive(p):
                os.kill(p, signal.SIGKILL)
        return False


# ---- QEMU, as libvirt would start it --------------------------------------------------------
class Qemu:
    name = "qemu"

    def __init__(self, tmp, cmdline, merge):
        self.tmp, self.cmdline, self.merge, self.procs, self.names = tmp, cmdline, merge, [], []
        self.qemu = shutil.which("qemu-system-x86_64")

    def __enter__(self):
        return self

    def start(self, i):
        if not self.qemu:
            return "qemu-system-x86_64 is not installed"
        log = os.path.join(self.tmp, "q%04d.console" % i)
        cmd = [self.qemu, "-name", "q%04d" % i, "-machine", "microvm,mem-merge=%s" % ("on" if self.merge else "off"),
               "-enable-kvm", "-m", "128", "-smp", "1", "-nodefaults", "-no-user-config",
               "-nographic", "-no-reboot", "-serial", "file:" + log,
               "-qmp", "unix:%s,server=on,wait=off" % os.path.join(self.tmp, "q%04d.qmp" % i),
               "-device", "virtio-balloon-device,free-page-reporting=on",
               "-kernel", os.path.join(LG, "bzImage"), "-initrd", os.path.join(LG, "initramfs.cpio"),
               "-append", self.cmdline]
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=open(log + ".err", "w"))
        p.log = log
        self.procs.append(p)
        self.names = [x.log for x in self.procs]
        return None

    def at_shell(self, log):
        try:
            with open(log, "rb") as f:
                return MARKER in f.read()
        except OSError:
            return None

    def failed(self, log):
        p = next(x for x in self.procs if x.log == log)
        if p.poll() is not None:
            return True
        try:   # on PVM hosts QEMU stops this kernel at its int3 self-test and pauses the VM
            with open(log, "rb") as f:
                return b"KVM internal error" in f.read()
        except OSError:
            return False

    def groups(self):
        return [[p.pid] for p in self.procs if p.poll() is None]

    def server_pids(self):
        return []

    def api_latency(self):
        return {}

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return False


def run(mon_cls, n, merge, cmdline):
    """Start n guests (or as many as fit for n == "max"), wait for their shells, measure."""
    tmp = tempfile.mkdtemp(prefix="vsrv-bench-density.")
    want = MAX_VMS if n == "max" else int(n)
    res = dict(n=0, stop=None, boot_s=None, at_shell=0, failed=0)
    try:
        with mon_cls(tmp, cmdline, merge) as m:
            t0 = time.monotonic()
            for i in range(want):
                if mem_available_mib() - 128 < MARGIN_MIB:
                    res["stop"] = "MemAvailable %d MiB: the next guest could take the host under the %d MiB margin" % (
                        mem_available_mib(), MARGIN_MIB)
                    break
                why = m.start(i)
                if why:
                    res["stop"] = why
                    break
                res["n"] = i + 1
                # A guest that cannot boot here (QEMU stops this kernel at its int3 self-test
                # on PVM hosts) ends "as many as fit" early: the next ones would not either.
                if n == "max" and i % 10 == 9 and m.failed(m.names[0]):
                    res["stop"] = "the first guest did not boot"
                    break
            names = list(getattr(m, "names", []))
            # Linux boots cost ~6 s of emulated kernel CPU each on PVM hosts: a generous deadline.
            deadline = time.monotonic() + 180 + 15 * len(names) / max(os.cpu_count() or 1, 1)
            pending, done, bad = set(names), 0, 0
            while pending and time.monotonic() < deadline:
                for nm in list(pending):
                    if m.at_shell(nm):
                        pending.discard(nm)
                        done += 1
                    elif m.failed(nm):
                        pending.discard(nm)
                        bad += 1
                if pending:
                    time.sleep(0.5)
            res["boot_s"] = time.monotonic() - t0
            res["at_shell"], res["failed"] = done, bad + len(pending)
            if not names:
                return res
            time.sleep(5)   # the last boots' tails (udhcpc has nothing to do here, init is done)
            if merge:
                res["ksm_wait_s"] = ksm_settle()
            groups = m.groups()
            res.update(measure(groups, m.server_pids()))
            res["measured"] = len(groups)
            res["api"] = m.api_latency() if groups else {}
            res["ksm_sharing_mib"] = (ksm_read("pages_sharing") or 0) * PAGE / 1048576 if merge else None
            res["mem_available_mib"] = mem_available_mib()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def fmt(v, p=1):
    return "-" if v is None else ("%.*f" % (p, v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default=os.environ.get("BENCH_DENSITY_N", "10 100 max"))
    ap.add_argument("--ksm", default=os.environ.get("BENCH_DENSITY_KSM", "off,on"))
    ap.add_argument("--monitors", default=os.environ.get("BENCH_DENSITY_MONITORS", "vsrv,qemu"))
    a = ap.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("density bench: SKIP: no usable /dev/kvm on this host (no guest runs here)")
        return 0
    for f in ("bzImage", "initramfs.cpio"):
        if not os.path.exists(os.path.join(LG, f)):
            print("density bench: %s missing (make linux-guest)" % os.path.join(LG, f))
            return 1
    with open(os.path.join(ROOT, "guests", "linux", "cmdline")) as f:
        cmdline = f.read().strip() + " vsrv_shell=1"
    mons = [{"vsrv": Vsrv, "qemu": Qemu}[x] for x in a.monitors.split(",") if x]
    ksm_old, scan_old = ksm_read("run"), ksm_read("pages_to_scan")
    print("density: idle Linux guests (guests/linux, 128 MiB each, at a busybox shell); %d CPUs, "
          "MemAvailable %d MiB at start, margin %d MiB, idle window %.0f s, load average %s" % (
              os.cpu_count(), mem_available_mib(), MARGIN_MIB, IDLE_S, open("/proc/loadavg").read().split()[0]))
    print("per VM: cpu = % of one core over the idle window (/proc/PID/stat); rss/pss MiB (smaps_rollup of "
          "the VM's processes); thr/fds/procs per VM; start = first start to last shell")
    hdr = "%-5s %-4s %5s %6s %8s %7s %7s %7s %6s %5s %6s %5s %8s %9s %9s %8s %s" % (
        "mon", "ksm", "N", "shell", "start s", "/min", "cpu%", "rss", "pss", "procs", "thr", "fds", "srv cpu%",
        "list p99", "stat p99", "ksm MiB", "note")
    print(hdr)
    try:
        for merge in [x == "on" for x in a.ksm.split(",") if x]:
            if merge:
                if ksm_old is None or not ksm_set_run(1):
                    print("density: cannot start the host's KSM (%srun): mem-merge=on only marks the memory" % KSM)
                if scan_old is not None and scan_old < 1000:
                    ksm_write("pages_to_scan", 1000)   # ~200 MB/s: as ksmtuned raises it on a full host
            elif ksm_old is not None:
                ksm_set_run(ksm_old)
            for n in a.n.split():
                for mon in mons:
                    r = run(mon, n, merge, cmdline)
                    api = r.get("api") or {}
                    note = []
                    if r["stop"]:
                        note.append("stopped at %d: %s" % (r["n"], r["stop"]))
                    if r["failed"]:
                        note.append("%d did not reach the shell" % r["failed"])
                    per_min = r["at_shell"] / r["boot_s"] * 60 if r["boot_s"] and r["at_shell"] else None
                    print("%-5s %-4s %5s %6d %8s %7s %7s %7s %6s %5s %6s %5s %8s %9s %9s %8s %s" % (
                        mon.name, "on" if merge else "off", n if n != "max" else "max=%d" % r["n"], r["at_shell"],
                        fmt(r["boot_s"]), fmt(per_min), fmt(r.get("cpu"), 3), fmt(r.get("rss")), fmt(r.get("pss")),
                        fmt(r.get("procs")), fmt(r.get("threads")), fmt(r.get("fds"), 0),
                        fmt(r.get("extra_cpu"), 2) if mon is Vsrv else "-",
                        fmt(api["GET list"][1], 2) if "GET list" in api else "-",
                        fmt(api["GET status"][1], 2) if "GET status" in api else "-",
                        fmt(r.get("ksm_sharing_mib")), "; ".join(note)), flush=True)
    finally:
        if ksm_old is not None:
            ksm_set_run(ksm_old)
        if scan_old is not None:
            ksm_write("pages_to_scan", scan_old)
    print("goals (issue 18): under ~20 MiB of host memory and 0.1% of a core per idle guest, API p99 under 5 ms, "
          "guests per minute at least QEMU's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
