"""How many etcd calls (round trips) an API request makes on the etcd inventory, counted by
the server itself (VSRV_ETCD_TRACE=1: etcd_thread_calls over the request, written to its
log as "etcd calls: METHOD URL: N"). A count is deterministic, not a timing: this pins the
figures docs/cluster.md gives (issue 17), so a change that adds a sequential etcd read to
the hottest request shows here. Run by tests/t-server-inv-etcd.sh."""
import os, re, shutil, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
from etcd_cluster import EtcdCluster, Unavailable

try:
    etcd = EtcdCluster(1).start()
except Unavailable as e:
    skip("etcd-calls", str(e))
    sys.exit(0)
if not os.path.exists(os.path.join(GUESTS, "hello.elf")):
    skip("etcd-calls", "build/guests/hello.elf is not built (make all)")
    sys.exit(0)
tmp = tempfile.mkdtemp(prefix="vsrv-etcd-calls.")
d = None
os.environ["VSRV_ETCD_TRACE"] = "1"


def calls(method, path):
    """The count the server logged for the last METHOD path (waits for the line)."""
    pat = re.compile(r"etcd calls: %s %s: (\d+)$" % (method, re.escape(path)))
    for _ in range(100):
        d.log.flush()
        got = [int(m.group(1)) for m in
               (pat.search(l.rstrip("\n")) for l in open(d.log.name)) if m]
        if got:
            return got[-1]
        time.sleep(0.05)
    return None


try:
    data = os.path.join(tmp, "h")
    os.makedirs(os.path.join(data, "images"))
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(data, "images", "k.elf"))
    d = Daemon(data, extra=["--cluster", etcd.endpoints, "--host-name", "h",
                            "--inventory", "etcd", "--inventory-prefix", "/calls/"]).start()
    tok = d.login("admin", "adminpass1")
    st, js = d.req("POST", "/api/v1/vms", {"name": "v1", "kernel": "k.elf"}, token=tok)
    ok("etcd-calls-create", st == 201, str((st, js)))
    st, js = d.req("GET", "/api/v1/vms/v1/status", token=tok)
    n = calls("GET", "/api/v1/vms/v1/status")
    # the first lookup of the name on this host: the session with its user (one Txn), the
    # name's id, the status row, the VM's owner key (cluster)
    ok("etcd-calls-get-status-first-4", st == 200 and n == 4, "status %s, %s calls" % (st, n))
    st, js = d.req("GET", "/api/v1/vms/v1/status", token=tok)
    n = calls("GET", "/api/v1/vms/v1/status")
    # then the name's key and the status row of the id it held are read in one Txn
    ok("etcd-calls-get-status-3", st == 200 and n == 3, "status %s, %s calls" % (st, n))
    # the same name made again (another id): the rows read ahead are not the VM's
    st, _ = d.req("DELETE", "/api/v1/vms/v1", token=tok)
    st2, _ = d.req("POST", "/api/v1/vms", {"name": "v1", "kernel": "k.elf",
                                          "description": "again"}, token=tok)
    st3, js = d.req("PATCH", "/api/v1/vms/v1", {"cpus": 2}, token=tok)
    ok("etcd-calls-name-reused", st in (200, 204) and (st2, st3) == (201, 200) and
       js.get("description") == "again" and js.get("cpus") == 2, str((st, st2, st3, js)))
    st, js = d.req("GET", "/api/v1/vms/v1/status", token=tok)
    ok("etcd-calls-name-reused-status", st == 200 and js.get("state") == "stopped",
       str((st, js)))
    st, js = d.req("GET", "/api/v1/vms/nosuch/status", token=tok)
    n = calls("GET", "/api/v1/vms/nosuch/status")
    # the session with its user, the name (absent): nothing more
    ok("etcd-calls-get-status-404-2", st == 404 and n == 2, "status %s, %s calls" % (st, n))
finally:
    if d:
        d.stop()
    etcd.stop()
    shutil.rmtree(tmp, ignore_errors=True)
