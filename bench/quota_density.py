#!/usr/bin/env python3
"""A VM create's latency under a delegated manager with many users (issues 10 and 18): the
quota check before every create reads what the manager and all its users own together
(src/server/quota.c). An administrator gives manager "mgr" limits (set high: every create
passes) and change-permissions; mgr creates users u0..u(N-1); u0 creates VMs. For N = 1,
50, 200, 1000 users (BENCH_QUOTA_USERS: a comma list), the p50 and p99 of BENCH_QUOTA_REQ
sequential creates of u0 over one keep-alive connection (each VM deleted again before the
next N, so only the users grow), on SQLite and on a local 1-member etcd (`--inventory
etcd`). BENCH_QUOTA_BACKENDS: "sqlite,etcd" (default) or one of them; VSRV_BENCH_BIN: the
vsrv binary (default build/vsrv), to compare builds. Users own nothing but u0's VMs; the
figures are of this machine, not for a test."""
import atexit, http.client, json, os, shutil, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "server"))
import lib  # noqa: E402
from lib import Daemon, GUESTS  # noqa: E402
from etcd_cluster import EtcdCluster, Unavailable  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from apitime import pct, timed as call  # noqa: E402

atexit.unregister(lib._openapi_summary)   # a benchmark, not a test: no PASS lines

N_REQ = int(os.environ.get("BENCH_QUOTA_REQ", "100"))
USERS = [int(x) for x in os.environ.get("BENCH_QUOTA_USERS", "1,50,200,1000").split(",")]
BACKENDS = os.environ.get("BENCH_QUOTA_BACKENDS", "sqlite,etcd").split(",")
if os.environ.get("VSRV_BENCH_BIN"):
    lib.VSRV = os.path.abspath(os.environ["VSRV_BENCH_BIN"])


class Conn:
    """A keep-alive connection to port, opened again when the server closed it."""
    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, *a):
        try:
            self.c.request(*a)
        except (BrokenPipeError, ConnectionResetError):
            self.c.close()
            self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.c.request(*a)

    def getresponse(self):
        return self.c.getresponse()

    def close(self):
        self.c.close()


def run(backend, etcd, tmp):
    data = os.path.join(tmp, backend)
    os.makedirs(os.path.join(data, "images"))
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(data, "images", "k.elf"))
    extra = []
    if backend == "etcd":
        extra = ["--cluster", etcd.endpoints, "--host-name", "b", "--inventory", "etcd",
                 "--inventory-prefix", "/bench-quota/%d/" % int(time.time() * 1000)]
    d = Daemon(data, extra=extra).start()
    try:
        adm = d.login("admin", "adminpass1")
        c = Conn(d.port)
        call(c, adm, "POST", "/api/v1/users", {"name": "mgr", "password": "Password-mgr"},
             want=(201,))
        mgr = d.login("mgr", "Password-mgr")
        call(c, adm, "PUT", "/api/v1/users/mgr/quota",
             {"vms": 100000, "cpus": 1000000, "memory_mib": 1 << 40}, want=(200, 204))
        grants = [{"user": "mgr", "permissions": ["view", "modify", "change-permissions"]}]
        call(c, adm, "PUT", "/api/v1/permissions", {"grants": grants})
        made = 0
        for n in sorted(USERS):
            while made < n:
                call(c, mgr, "POST", "/api/v1/users",
                     {"name": "u%d" % made, "password": "Password-u%d" % made}, want=(201,))
                made += 1
                if made == 1:
                    grants.append({"user": "u0", "permissions": ["view", "modify", "remove"]})
                    call(c, adm, "PUT", "/api/v1/permissions", {"grants": grants})
            u0 = d.login("u0", "Password-u0")
            cu = Conn(d.port)
            call(cu, u0, "POST", "/api/v1/vms", {"name": "warm", "kernel": "k.elf"}, want=(201,))
            call(cu, u0, "DELETE", "/api/v1/vms/warm", want=(200, 204))
            ts = [call(cu, u0, "POST", "/api/v1/vms", {"name": "q%d-%d" % (n, i),
                                                       "kernel": "k.elf"}, want=(201,))
                  for i in range(N_REQ)]
            for i in range(N_REQ):
                call(cu, u0, "DELETE", "/api/v1/vms/q%d-%d" % (n, i), want=(200, 204))
            cu.close()
            print("%-6s users=%-5d create p50 %7.2f ms  p99 %7.2f ms  (%d creates)" %
                  (backend, n, pct(ts, 50) * 1e3, pct(ts, 99) * 1e3, N_REQ), flush=True)
        c.close()
    finally:
        d.stop()


def main():
    if not os.path.exists(os.path.join(GUESTS, "hello.elf")):
        print("bench-quota: skipped: build/guests/hello.elf is not built (make all)")
        return 0
    etcd = None
    if "etcd" in BACKENDS:
        try:
            etcd = EtcdCluster(1).start()
        except Unavailable as e:
            print("bench-quota: etcd skipped: %s" % e)
    tmp = tempfile.mkdtemp(prefix="vsrv-bench-quota.")
    try:
        print("vsrv %s: a VM create by a managed user, by the number of users of its manager"
              % lib.VSRV)
        for b in BACKENDS:
            if b == "etcd" and etcd is None:
                continue
            run(b, etcd, tmp)
    finally:
        if etcd:
            etcd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
