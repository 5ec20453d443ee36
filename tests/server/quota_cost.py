"""What a quota check costs on the SQLite inventory (issue 18), counted by the server itself
(VSRV_INV_TRACE=1: inv_thread_statements over each API request, written to its log as
"inventory statements: METHOD URL: N"): a count is deterministic, not a timing. A create
checked against a delegated manager's limits (what the manager and all its users own
together, src/server/quota.c) runs as many statements with 41 users under the manager as
with 1 (it ran six more per user: the users each one manages, and five sums of what it
owns). etcd_calls.py counts the same on etcd, in calls."""
import os, re, shutil, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
import lib

if lib.INVENTORY != "sqlite":
    skip("quota-cost-statements", "counts SQLite statements (VSRV_TEST_INVENTORY=%s)" %
         lib.INVENTORY)
    sys.exit(0)
os.environ["VSRV_INV_TRACE"] = "1"
tmp = tempfile.mkdtemp(prefix="vsrv-quota-cost.")
d = Daemon(os.path.join(tmp, "data")).start()


def statements(method, path):
    """The count of inventory statements d logged for the last METHOD path."""
    return logged_count(d, "inventory statements", method, path)


try:
    adm = d.login("admin", "adminpass1")
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d.data, "images", "k.elf"))
    st = d.req("POST", "/api/v1/users", {"name": "mgr", "password": "Password-mgr"},
               token=adm)[0]
    g = [{"user": "mgr", "permissions": ["view", "modify", "change-permissions"]}]
    st2 = d.req("PUT", "/api/v1/permissions", {"grants": g}, token=adm)[0]
    st3 = d.req("PUT", "/api/v1/users/mgr/quota", {"vms": 100, "cpus": 100,
                                                   "memory_mib": 100000}, token=adm)[0]
    mgr = d.login("mgr", "Password-mgr")
    made = [d.req("POST", "/api/v1/users", {"name": "u0", "password": "Password-u0"},
                  token=mgr)[0]]
    g.append({"user": "u0", "permissions": ["modify"]})
    st4 = d.req("PUT", "/api/v1/permissions", {"grants": g}, token=adm)[0]
    u0 = d.login("u0", "Password-u0")

    def create(name):
        st = d.req("POST", "/api/v1/vms", {"name": name, "kernel": "k.elf"}, token=u0)[0]
        return st, statements("POST", "/api/v1/vms")
    s0, _ = create("v0")
    s1, n1 = create("v1")
    made += [d.req("POST", "/api/v1/users", {"name": "u%d" % i, "password": "Password-u%d" % i},
                   token=mgr)[0] for i in range(1, 41)]
    s41, n41 = create("v41")
    js = d.req("GET", "/api/v1/users/mgr", token=adm)[1]
    ok("quota-cost-statements-41-users",
       (st, st2, st3, st4, s0, s1, s41) == (201, 200, 200, 200, 201, 201, 201) and
       made == [201] * 41 and js.get("total_usage", {}).get("vms") == 3 and n1 and n41 == n1,
       "statuses %s, users %s, total usage %s, statements with 1 user: %s, with 41: %s" %
       ((st, st2, st3, st4, s0, s1, s41), made, js.get("total_usage"), n1, n41))
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
