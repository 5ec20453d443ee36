"""N starts at once on one host through the API (sup_start_lock's cost): N VMs whose VMM is a
sleep (no KVM needed) started by N threads released together; the time until every start has
answered, and until every VM's VMM runs. On SQLite and on a one-member etcd. Usage:
  python3 bench/starts-at-once.py [N [ROUNDS]]   (BENCH_VSRV=path/to/vsrv for another build)
Prints one line per backend: the median over ROUNDS of both times."""
import os, shutil, statistics, sys, tempfile, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "server"))
import lib
from lib import Daemon, GUESTS, wait_for

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
if os.environ.get("BENCH_VSRV"):
    lib.VSRV = os.environ["BENCH_VSRV"]
tmp = tempfile.mkdtemp(prefix="vsrv-bench-starts.")
ARG = "121.%d" % os.getpid()
VMM = os.path.join(tmp, "vmm")
with open(VMM, "w") as f:
    f.write('#!/bin/sh\n[ "$1" = run ] && exec sleep %s\nexec %s "$@"\n' % (ARG, lib.VSRV))
os.chmod(VMM, 0o755)


def vmms():
    n = 0
    want = b"sleep\0" + ARG.encode() + b"\0"
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and open("/proc/%s/cmdline" % p, "rb").read() == want:
                n += 1
        except OSError:
            pass
    return n


def bench(label, extra):
    data = os.path.join(tmp, label)
    os.makedirs(os.path.join(data, "images"))
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(data, "images", "k.elf"))
    d = Daemon(data, extra=["--vmm", VMM, "--host-memory", "100000"] + extra).start()
    answered, launched, codes = [], [], []
    try:
        tok = d.login("admin", "adminpass1")
        for i in range(N):
            st, js = d.req("POST", "/api/v1/vms", {"name": "b%d" % i, "kernel": "k.elf",
                                                    "memory_mib": 16}, token=tok)
            assert st in (200, 201), (st, js)
        for r in range(ROUNDS):
            bar = threading.Barrier(N + 1)
            out = [None] * N

            def run(i):
                bar.wait()
                out[i] = d.req("POST", "/api/v1/vms/b%d/start" % i, {}, token=tok)[0]
            ts = [threading.Thread(target=run, args=(i,)) for i in range(N)]
            for t in ts:
                t.start()
            bar.wait()
            t0 = time.time()
            for t in ts:
                t.join()
            answered.append(time.time() - t0)
            wait_for(lambda: vmms() == N, 60, 0.01)
            launched.append(time.time() - t0)
            codes.append(sorted(set(out)))
            for i in range(N):
                d.req("POST", "/api/v1/vms/b%d/off" % i, {}, token=tok)
            for i in range(N):
                d.wait_state(tok, "b%d" % i, ("stopped", "crashed"), timeout=60)
            wait_for(lambda: vmms() == 0, 30)
    finally:
        d.stop()
    print("%s: %d starts at once: all answered %.2fs, all VMMs up %.2fs (median of %d; "
          "per round %s; codes %s)" % (label, N, statistics.median(answered),
                                       statistics.median(launched), ROUNDS,
                                       ["%.2f" % a for a in answered], codes), flush=True)


bench("sqlite", [])
if os.path.exists("/usr/bin/etcd"):
    from etcd_cluster import EtcdCluster
    etcd = EtcdCluster(1).start()
    bench("etcd", ["--cluster", etcd.endpoints, "--host-name", "h1", "--inventory", "etcd",
                   "--inventory-prefix", "/bench-starts/", "--cluster-ttl", "5"])
shutil.rmtree(tmp, ignore_errors=True)
