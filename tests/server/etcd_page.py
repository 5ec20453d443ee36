"""Range reads of the etcd inventory come in pages (src/server/etcd.h, etcd_page; run by
t-server-etcd-page.sh): with VSRV_ETCD_PAGE=3 a daemon on the etcd inventory has more users,
VMs, disks, grants and events than one page holds, and lists each of them whole (the API's
lists against what was made), a manager's usage sums all its users, and no etcd answer
carried more than 3 keys of one range (VSRV_ETCD_TRACE's "N keys at most" of each call):
every growing collection was read page by page, not in one answer."""
import os, re, shutil, sys, tempfile
os.environ["VSRV_TEST_INVENTORY"] = "etcd"
os.environ["VSRV_ETCD_PAGE"] = "3"
os.environ["VSRV_ETCD_TRACE"] = "1"
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
import lib

N = 8               # of each: more than two pages of 3
MiB = 1 << 20

if not os.path.exists("/usr/bin/etcd"):
    skip("etcd-page", "/usr/bin/etcd is not installed (etcd-server)")
    sys.exit(0)

tmp = tempfile.mkdtemp(prefix="vsrv-etcd-page.")
d = Daemon(os.path.join(tmp, "data")).start()
try:
    adm = d.login("admin", "adminpass1")
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d.data, "images", "k.elf"))

    def req(m, p, b=None, tok=None):
        return d.req(m, p, b, token=tok or adm)

    # a delegated manager (change-permissions) and N users it makes; then every user may
    # make disks (one global grant each: more grants than a page), and makes one
    mgr = new_user(d, adm, "mgr")
    grants = [{"user": "mgr", "permissions": ["modify", "remove", "change-permissions"]}]
    req("PUT", "/api/v1/permissions", {"grants": grants})
    req("PUT", "/api/v1/users/mgr/quota", {"vms": 100, "cpus": 100, "memory_mib": 1 << 20,
                                           "disks": 100, "disk_bytes": 1 << 40, "snapshots": 100})
    made = []
    for i in range(N):
        made.append(req("POST", "/api/v1/users", {"name": "u%d" % i,
                                                  "password": "Password-u%d" % i}, mgr)[0])
    grants += [{"user": "u%d" % i, "permissions": ["modify"]} for i in range(N)]
    made.append(req("PUT", "/api/v1/permissions", {"grants": grants})[0])
    for i in range(N):
        tok = d.login("u%d" % i, "Password-u%d" % i)
        made.append(req("POST", "/api/v1/disks", {"name": "d%d" % i, "size": MiB,
                                                  "format": "vhd"}, tok)[0])
        made.append(req("POST", "/api/v1/vms", {"name": "v%d" % i, "kernel": "k.elf",
                                                "memory_mib": 16})[0])

    st1, users = req("GET", "/api/v1/users")
    st2, vms = req("GET", "/api/v1/vms")
    st3, disks = req("GET", "/api/v1/disks")
    st4, evs = req("GET", "/api/v1/events?limit=1000")
    st5, gjs = req("GET", "/api/v1/permissions")
    st6, mjs = req("GET", "/api/v1/users/mgr")

    def names(js, key):
        return sorted(o.get("name") for o in (js or {}).get(key, []))

    uv = [g for g in (gjs or {}).get("grants", []) if g.get("user", "").startswith("u")]
    ok("etcd-page-lists-whole",
       all(s in (200, 201, 204) for s in made) and (st1, st2, st3, st4, st5) == (200,) * 5 and
       names(users, "users") == sorted(["admin", "mgr"] + ["u%d" % i for i in range(N)]) and
       names(vms, "vms") == sorted("v%d" % i for i in range(N)) and
       names(disks, "disks") == sorted("d%d" % i for i in range(N)) and
       len(uv) == N and len((evs or {}).get("events", [])) > 3 * N,
       str((made, st1, st2, st3, st4, st5, names(users, "users"), names(vms, "vms"),
            names(disks, "disks"), len(uv), len((evs or {}).get("events", [])))))
    total = (mjs or {}).get("total_usage", {})
    ok("etcd-page-manager-usage", st6 == 200 and total.get("disks") == N and
       total.get("disk_bytes", 0) >= N * MiB, str((st6, mjs)))

    d.log.flush()
    most = [int(m.group(1)) for m in (re.search(r"etcd call .* (\d+) keys at most$", l.rstrip())
                                      for l in open(d.log.name, errors="replace")) if m]
    ok("etcd-page-answers-bounded", most and max(most) <= 3,
       "%d calls traced, the most keys of one range in an answer: %s" %
       (len(most), max(most) if most else None))
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
