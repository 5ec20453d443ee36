"""Per-user quotas (issue 10, abuse limits; src/server/quota.h), over real HTTP, see
t-server-quota.sh (which runs it on SQLite and on the etcd inventory): an administrator
sets a tenant's limits with PUT /api/v1/users/NAME/quota; every place that adds usage (VM
create, PATCH of cpus and memory_mib, clone, template, disk create, resize, copy, snapshot)
refuses past a limit with 403 "quota_exceeded" naming the limit, the usage and what was
asked, and creates nothing; usage goes down on delete; parallel VM creates, disk creates,
snapshots and linked clones at one below the limit: exactly one passes, every other is a
403 (on etcd the losers of the commit run again from the check: never a 500); a VHD counts
its size rounded up to its geometry; only administrators set quotas; administrators are
never limited. On etcd the check names are prefixed "etcd-"."""
import json, os, shutil, sqlite3, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
import lib

P = "etcd-" if lib.INVENTORY == "etcd" else ""
MiB = 1 << 20


def check(name, cond, why="failed"):
    return ok(P + name, cond, why)


tmp = tempfile.mkdtemp(prefix="vsrv-quota.")
d = Daemon(os.path.join(tmp, "data")).start()
try:
    adm = d.login("admin", "adminpass1")
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d.data, "images", "k.elf"))

    def req(m, p, b=None, tok=None):
        return d.req(m, p, b, token=tok or adm)

    def user(name):
        return new_user(d, adm, name)

    def quota(name, **q):
        return req("PUT", "/api/v1/users/%s/quota" % name, q)

    def usage(name):
        st, js = req("GET", "/api/v1/users/" + name)
        return js["usage"] if st == 200 else None

    def vm(name, tok, **kw):
        b = {"name": name, "kernel": "k.elf"}
        b.update(kw)
        return req("POST", "/api/v1/vms", b, tok)

    def refused(st, js, limit):
        """A quota refusal naming limit: 403, code quota_exceeded, the limit in the message."""
        e = (js or {}).get("error", {}) if isinstance(js, dict) else {}
        return st == 403 and e.get("code") == "quota_exceeded" and (limit + ":") in e.get("message", "")

    def task_end(tid, tok, timeout=30):
        return task_wait(d, tok or adm, tid, timeout)

    alice = user("alice")
    bob = user("bob")
    mgr = user("mgr")
    req("PUT", "/api/v1/permissions", {"grants": [
        {"user": "alice", "permissions": ["modify"]}, {"user": "bob", "permissions": ["modify"]},
        {"user": "mgr", "permissions": ["view", "modify", "change-permissions"]}]})

    # --- reading and setting ------------------------------------------------------------
    st, js = req("GET", "/api/v1/users/alice", None, alice)
    none = {k: None for k in ("vms", "cpus", "memory_mib", "disks", "disk_bytes", "snapshots")}
    check("quota-unset-unlimited", st == 200 and js.get("quota") == none and
          js.get("usage", {}).get("vms") == 0, str((st, js)))
    sts = [vm("u%d" % i, alice)[0] for i in range(3)]
    check("quota-unset-creates", sts == [201] * 3 and usage("alice")["vms"] == 3, str(sts))
    for i in range(3):
        req("DELETE", "/api/v1/vms/u%d" % i)
    check("quota-usage-down-on-delete", usage("alice")["vms"] == 0, str(usage("alice")))

    st1, js1 = quota("alice", vms=1)
    st1 = d.req("PUT", "/api/v1/users/alice/quota", {"vms": 100}, token=alice)[0]
    st2 = d.req("PUT", "/api/v1/users/alice/quota", {"vms": 100}, token=mgr)[0]
    st3 = d.req("PUT", "/api/v1/users/mgr/quota", {}, token=mgr)[0]
    q = req("GET", "/api/v1/users/alice")[1]["quota"]
    check("quota-set-nonadmin-403", (st1, st2, st3) == (403, 403, 403) and q["vms"] == 1,
          str((st1, st2, st3, q)))
    # a delegated manager (change-permissions, no administrator) gives no more than it has:
    # without a quota of its own nor a server default, its new user may own nothing until
    # an administrator sets its quota; with one, each limit at most the manager's
    zero = {k: 0 for k in none}
    st1, _ = d.req("POST", "/api/v1/users", {"name": "m1", "password": "Password-m1"}, token=mgr)
    q1 = req("GET", "/api/v1/users/m1")[1].get("quota")
    quota("mgr", vms=3, memory_mib=2048)
    st2, _ = d.req("POST", "/api/v1/users", {"name": "m2", "password": "Password-m2"}, token=mgr)
    q2 = req("GET", "/api/v1/users/m2")[1].get("quota")
    st3, _ = req("POST", "/api/v1/users", {"name": "a1", "password": "Password-a1"})
    q3 = req("GET", "/api/v1/users/a1")[1].get("quota")
    check("quota-delegated-user-not-unlimited", (st1, st2, st3) == (201, 201, 201) and
          q1 == zero and q2 == dict(zero, vms=3, memory_mib=2048) and q3 == none,
          str((st1, q1, st2, q2, st3, q3)))
    req("PUT", "/api/v1/permissions", {"grants": [
        {"user": "alice", "permissions": ["modify"]}, {"user": "bob", "permissions": ["modify"]},
        {"user": "mgr", "permissions": ["view", "modify", "change-permissions"]},
        {"user": "m1", "permissions": ["modify"]}]})
    m1 = d.login("m1", "Password-m1")
    s1, j1 = vm("m1vm", m1)
    check("quota-delegated-user-owns-nothing", refused(s1, j1, "vms"), str((s1, j1)))
    quota("mgr")
    for u in ("m1", "m2", "a1"):
        req("DELETE", "/api/v1/users/" + u)
    st4, _ = quota("alice", vms=-1)
    st5, _ = quota("alice", bogus=1)
    st6, _ = req("PUT", "/api/v1/users/alice/quota", [1])
    st7, _ = quota("nosuchuser", vms=1)
    check("quota-set-bad", (st4, st5, st6, st7) == (400, 400, 400, 404), str((st4, st5, st6, st7)))
    st, js = d.req("GET", "/api/v1/users/alice", token=bob)
    st2, js2 = d.req("GET", "/api/v1/users/alice", token=alice)
    check("quota-read-self-not-others", st == 404 and st2 == 200 and js2["quota"]["vms"] == 1,
          str((st, js, st2)))

    # --- VMs ------------------------------------------------------------------------------
    st, js = quota("alice", vms=2)
    check("quota-set", st == 200 and js["quota"]["vms"] == 2 and js["quota"]["cpus"] is None and
          js["usage"]["vms"] == 0, str((st, js)))
    s1, s2 = vm("v1", alice)[0], vm("v2", alice)[0]
    s3, j3 = vm("v3", alice)
    gone = req("GET", "/api/v1/vms/v3")[0]
    msg = err_message(j3)
    check("quota-vms-refused", (s1, s2) == (201, 201) and refused(s3, j3, "vms") and gone == 404 and
          "owns 2" in msg and "may own 2" in msg and "1 more" in msg, str((s1, s2, s3, j3, gone)))
    req("DELETE", "/api/v1/vms/v2", None, alice)
    s4, _ = vm("v3", alice)
    check("quota-vms-after-delete", s4 == 201 and usage("alice")["vms"] == 2, str(s4))
    # another user is not limited by alice's quota
    check("quota-other-user-free", vm("b1", bob)[0] == 201 and vm("b2", bob)[0] == 201)
    for n in ("v1", "v3", "b1", "b2"):
        req("DELETE", "/api/v1/vms/" + n)

    # cpus and memory, at create and by PATCH
    quota("alice", cpus=4, memory_mib=512)
    s1, _ = vm("c1", alice, cpus=3, memory_mib=256)
    s2, j2 = vm("c2", alice, cpus=2, memory_mib=128)
    s3, _ = vm("c2", alice, cpus=1, memory_mib=256)
    check("quota-cpus", s1 == 201 and refused(s2, j2, "cpus") and s3 == 201, str((s1, s2, j2, s3)))
    # c2 took alice exactly to both limits (accepted); 16 MiB more are refused
    s4, j4 = vm("c3", alice, cpus=1, memory_mib=16)
    quota("alice", memory_mib=512)
    s5, j5 = vm("c3", alice, cpus=1, memory_mib=16)
    check("quota-at-limit-then-refused", refused(s4, j4, "cpus") and refused(s5, j5, "memory_mib") and
          req("GET", "/api/v1/vms/c3")[0] == 404, str((s4, j4, s5, j5)))
    quota("alice", cpus=4, memory_mib=512)
    u = usage("alice")
    check("quota-usage-sums", u["vms"] == 2 and u["cpus"] == 4 and u["memory_mib"] == 512, str(u))
    st, js = req("PATCH", "/api/v1/vms/c1", {"memory_mib": 384}, alice)
    mem = req("GET", "/api/v1/vms/c1")[1].get("memory_mib")
    check("quota-patch-memory-refused", refused(st, js, "memory_mib") and mem == 256 and
          "asked for 128 more" in err_message(js), str((st, js, mem)))
    st, js = req("PATCH", "/api/v1/vms/c1", {"cpus": 4}, alice)
    check("quota-patch-cpus-refused", refused(st, js, "cpus"), str((st, js)))
    st1, _ = req("PATCH", "/api/v1/vms/c1", {"memory_mib": 128}, alice)
    st2, _ = req("PATCH", "/api/v1/vms/c1", {"memory_mib": 256, "description": "x"}, alice)
    check("quota-patch-below-ok", (st1, st2) == (200, 200), str((st1, st2)))
    # an administrator's edit of alice's VM counts against alice (the owner)
    st, js = req("PATCH", "/api/v1/vms/c1", {"memory_mib": 1024})
    check("quota-patch-by-admin-counts-owner", refused(st, js, "memory_mib"), str((st, js)))

    # clone and template: the new VM and its disks count
    quota("alice", vms=2)
    st, js = req("POST", "/api/v1/vms/c1/clone", {"name": "cl1", "linked": True}, alice)
    st2, js2 = req("POST", "/api/v1/vms/c1/clone", {"name": "cl2"}, alice)
    gone = [req("GET", "/api/v1/vms/" + n)[0] for n in ("cl1", "cl2")]
    check("quota-clone-refused", refused(st, js, "vms") and refused(st2, js2, "vms") and
          gone == [404, 404], str((st, js, st2, js2, gone)))
    req("PATCH", "/api/v1/vms/c2", {"template": True}, alice)
    st, js = req("POST", "/api/v1/vms", {"from_template": "c2", "name": "t1"}, alice)
    check("quota-template-refused", refused(st, js, "vms") and
          req("GET", "/api/v1/vms/t1")[0] == 404, str((st, js)))
    quota("alice", vms=3)
    st, js = req("POST", "/api/v1/vms/c1/clone", {"name": "cl1", "linked": True}, alice)
    check("quota-clone-below-ok", st == 201 and usage("alice")["vms"] == 3, str((st, js)))
    for n in ("c1", "c2", "cl1"):
        req("DELETE", "/api/v1/vms/" + n)

    # --- disks ----------------------------------------------------------------------------
    quota("alice", disks=2, disk_bytes=4 * MiB)
    s1, _ = req("POST", "/api/v1/disks", {"name": "d1", "size": MiB}, alice)
    s2, _ = req("POST", "/api/v1/disks", {"name": "d2", "size": MiB}, alice)
    s3, j3 = req("POST", "/api/v1/disks", {"name": "d3", "size": MiB}, alice)
    gone = req("GET", "/api/v1/disks/d3")[0]
    check("quota-disks-refused", (s1, s2) == (201, 201) and refused(s3, j3, "disks") and gone == 404 and
          not os.path.exists(os.path.join(d.data, "disks", "d3.raw")), str((s1, s2, s3, j3, gone)))
    st, js = req("POST", "/api/v1/disks/d1/copy", {"name": "d1c"}, alice)
    check("quota-disk-copy-refused", refused(st, js, "disks") and
          req("GET", "/api/v1/disks/d1c")[0] == 404, str((st, js)))
    req("DELETE", "/api/v1/disks/d2", None, alice)
    s4, j4 = req("POST", "/api/v1/disks", {"name": "d3", "size": 4 * MiB}, alice)
    s5, _ = req("POST", "/api/v1/disks", {"name": "d3", "size": 3 * MiB}, alice)
    check("quota-disk-bytes", refused(s4, j4, "disk_bytes") and s5 == 201 and
          usage("alice")["disk_bytes"] == 4 * MiB, str((s4, j4, s5, usage("alice"))))
    st, js = req("PATCH", "/api/v1/disks/d1", {"size": 2 * MiB}, alice)
    check("quota-disk-resize-refused", refused(st, js, "disk_bytes") and
          req("GET", "/api/v1/disks/d1")[1]["size"] == MiB, str((st, js)))
    quota("alice", disks=3, disk_bytes=8 * MiB)
    st, js = req("POST", "/api/v1/disks/d1/copy", {"name": "d1c"}, alice)
    t = task_end(js["task"], alice) if st == 202 else None
    check("quota-disk-copy-below-ok", t is not None and t["state"] == "done" and
          usage("alice")["disks"] == 3, str((st, js, t)))
    for n in ("d1", "d3", "d1c"):
        req("DELETE", "/api/v1/disks/" + n)
    check("quota-disk-usage-down", usage("alice")["disks"] == 0 and
          usage("alice")["disk_bytes"] == 0, str(usage("alice")))

    # --- snapshots (counted for the VM's owner) --------------------------------------------
    quota("alice", snapshots=1)
    vm("s", alice)
    s1, _ = req("POST", "/api/v1/vms/s/snapshots", {"name": "a"}, alice)
    s2, j2 = req("POST", "/api/v1/vms/s/snapshots", {"name": "b"}, alice)
    snaps = [x["name"] for x in req("GET", "/api/v1/vms/s/snapshots")[1]["snapshots"]]
    check("quota-snapshots-refused", s1 == 201 and refused(s2, j2, "snapshots") and snaps == ["a"],
          str((s1, s2, j2, snaps)))
    st, js = req("DELETE", "/api/v1/vms/s/snapshots/a", None, alice)
    if st == 202:
        task_end(js["task"], alice)
    s3, _ = req("POST", "/api/v1/vms/s/snapshots", {"name": "b"}, alice)
    check("quota-snapshots-after-delete", s3 == 201 and usage("alice")["snapshots"] == 1, str(s3))
    st = req("DELETE", "/api/v1/vms/s")[0]
    check("quota-snapshots-go-with-vm", st == 204 and usage("alice")["snapshots"] == 0 and
          usage("alice")["vms"] == 0, str((st, usage("alice"))))

    # --- parallel creates at one below the limit: exactly one passes ------------------------
    quota("alice", vms=3)
    vm("p0", alice)
    vm("p1", alice)
    res = [None] * 8

    def create(i):
        res[i] = vm("par%d" % i, alice)

    th = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    sts = [r[0] for r in res]
    made = [i for i in range(8) if req("GET", "/api/v1/vms/par%d" % i)[0] == 200]
    # the others are refused (403), also on etcd where a create that lost the race at its
    # commit runs again from the check: never a second 201, never a 500
    check("quota-parallel-exactly-one", sts.count(201) == 1 and len(made) == 1 and
          all(s in (201, 403) for s in sts) and usage("alice")["vms"] == 3, str(sts))

    def parallel(fn, n):
        out = [None] * n
        th = [threading.Thread(target=lambda i=i: out.__setitem__(i, fn(i))) for i in range(n)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        return out

    # disks: one owned, the limit at two; 8 parallel creates: one passes, the others 403
    quota("alice", disks=2)
    req("POST", "/api/v1/disks", {"name": "pd", "size": MiB}, alice)
    res = parallel(lambda i: req("POST", "/api/v1/disks", {"name": "pd%d" % i, "size": MiB},
                                 alice), 8)
    sts = [r[0] for r in res]
    made = [i for i in range(8) if req("GET", "/api/v1/disks/pd%d" % i)[0] == 200]
    check("quota-parallel-disks-exactly-one", sts.count(201) == 1 and len(made) == 1 and
          all(s == 201 or refused(s, j, "disks") for s, j in res) and
          usage("alice")["disks"] == 2, str(res))
    for n in ["pd"] + ["pd%d" % i for i in made]:
        req("DELETE", "/api/v1/disks/" + n)

    # resizes: 8 disks of 1 MiB, room for one more MiB; each grown to 2 MiB at once: one
    # passes, and no refused one keeps a file larger than its size (on etcd the losers of
    # the commit had grown their file before the check that refused them again)
    quota("alice", disk_bytes=9 * MiB)
    for i in range(8):
        req("POST", "/api/v1/disks", {"name": "gr%d" % i, "size": MiB}, alice)
    res = parallel(lambda i: req("PATCH", "/api/v1/disks/gr%d" % i, {"size": 2 * MiB}, alice), 8)
    sts = [r[0] for r in res]
    files = [os.path.getsize(os.path.join(d.data, "disks", "gr%d.raw" % i)) for i in range(8)]
    inv = [req("GET", "/api/v1/disks/gr%d" % i)[1].get("size") for i in range(8)]
    check("quota-parallel-resize-files-match", sts.count(200) == 1 and
          all(s == 200 or refused(s, j, "disk_bytes") for s, j in res) and files == inv and
          usage("alice")["disk_bytes"] == 9 * MiB, str((sts, files, inv)))
    for i in range(8):
        req("DELETE", "/api/v1/disks/gr%d" % i)

    # snapshots: 6 VMs, one snapshot owned, the limit at two; a snapshot of each VM at once
    quota("alice", vms=9, snapshots=2)
    for i in range(6):
        vm("ps%d" % i, alice)
    req("POST", "/api/v1/vms/ps0/snapshots", {"name": "first"}, alice)
    res = parallel(lambda i: req("POST", "/api/v1/vms/ps%d/snapshots" % i, {"name": "s"},
                                 alice), 6)
    sts = [r[0] for r in res]
    check("quota-parallel-snapshots-exactly-one", sts.count(201) == 1 and
          all(s == 201 or refused(s, j, "snapshots") for s, j in res) and
          usage("alice")["snapshots"] == 2, str(res))
    # linked clones: 6 VMs owned (p0, p1, the par* that passed, ps0-ps2), the limit at 7
    for i in range(3, 6):
        req("DELETE", "/api/v1/vms/ps%d" % i)
    quota("alice", vms=7)
    res = parallel(lambda i: req("POST", "/api/v1/vms/ps0/clone",
                                 {"name": "pc%d" % i, "linked": True}, alice), 6)
    sts = [r[0] for r in res]
    made = [i for i in range(6) if req("GET", "/api/v1/vms/pc%d" % i)[0] == 200]
    check("quota-parallel-clones-exactly-one", sts.count(201) == 1 and len(made) == 1 and
          all(s == 201 or refused(s, j, "vms") for s, j in res) and
          usage("alice")["vms"] == 7, str(res))
    for n in ["ps0", "ps1", "ps2"] + ["pc%d" % i for i in made]:
        req("DELETE", "/api/v1/vms/" + n)
    quota("alice", vms=3)

    # a VHD's size is rounded up to its geometry: the rounded size is what counts
    st, js = req("POST", "/api/v1/disks", {"name": "probe", "size": MiB, "format": "vhd"})
    rounded = js.get("size") if st == 201 else None
    req("DELETE", "/api/v1/disks/probe")
    quota("alice", disk_bytes=MiB)
    s1, j1 = req("POST", "/api/v1/disks", {"name": "rv", "size": MiB, "format": "vhd"}, alice)
    s2, _ = req("POST", "/api/v1/disks", {"name": "rr", "size": MiB}, alice)
    check("quota-vhd-rounded-size", rounded is not None and rounded > MiB and
          refused(s1, j1, "disk_bytes") and str(rounded) in err_message(j1) and s2 == 201 and
          req("GET", "/api/v1/disks/rv")[0] == 404 and usage("alice")["disk_bytes"] == MiB,
          str((rounded, s1, j1, s2, usage("alice"))))
    req("DELETE", "/api/v1/disks/rr")
    quota("alice", vms=3)

    # --- administrators ---------------------------------------------------------------------
    quota("admin", vms=0, memory_mib=0)
    s1, _ = vm("adm1", adm, memory_mib=1024)
    quota("alice", vms=3, memory_mib=10000)
    check("quota-admin-unlimited", s1 == 201 and usage("alice")["vms"] == 3, str(s1))
    # an administrator's VM counts for nobody, whoever is granted it
    req("PUT", "/api/v1/vms/adm1/permissions", {"grants": [{"user": "alice", "permissions": ["full"]}]})
    check("quota-admin-vm-counts-for-nobody", usage("alice")["vms"] == 3, str(usage("alice")))
    st, js = quota("alice")
    check("quota-cleared", st == 200 and js["quota"] == none and vm("free", alice)[0] == 201,
          str((st, js)))

    # --- a user deleted while it owns objects -------------------------------------------------
    # 40 VMs: on etcd, deleting a user's owner rows with it (two deletes each, with its
    # grants' two) passed etcd's 128 requests a Txn, and the user could not be deleted
    dave = user("dave")
    req("PUT", "/api/v1/permissions", {"grants": [
        {"user": n, "permissions": ["modify"]} for n in ("alice", "bob", "dave")] + [
        {"user": "mgr", "permissions": ["view", "modify", "change-permissions"]}]})
    quota("dave", vms=50)
    sts = [vm("dv%d" % i, dave)[0] for i in range(40)]
    st, js = req("DELETE", "/api/v1/users/dave")
    st2 = req("GET", "/api/v1/vms/dv0")[0]
    if st == 204:
        user("dave")    # a new dave: nothing of the old one's counts for it
    u = usage("dave") if st == 204 else None
    check("quota-user-delete-owning-many", sts == [201] * 40 and st == 204 and st2 == 200 and
          u is not None and u["vms"] == 0 and req("GET", "/api/v1/users/dave")[1]["quota"] == none,
          str((sts.count(201), st, js, st2, u)))
    req("DELETE", "/api/v1/users/dave")

    # --- image uploads: a user's private images count in its disk_bytes -----------------------
    def put_image(name, data, tok, chunked=False):
        """PUT data to /api/v1/images/NAME (chunked: no Content-Length, in 64 KiB pieces)."""
        c = d.conn(timeout=60)
        h = {"Authorization": "Bearer " + tok, "Content-Type": "application/octet-stream"}
        body = iter([data[i:i + 65536] for i in range(0, len(data), 65536)]) if chunked else data
        try:
            c.request("PUT", "/api/v1/images/" + name, body=body, headers=h,
                      encode_chunked=chunked)
            r = c.getresponse()
            text = r.read()
        except (BrokenPipeError, ConnectionResetError) as e:
            return None, str(e)
        finally:
            c.close()
        return r.status, (json.loads(text) if text else None)

    def image_names(tok):
        st, js = req("GET", "/api/v1/images", None, tok)
        return sorted(i["name"] for i in js.get("images", [])) if st == 200 else None

    dana = user("dana")
    req("PUT", "/api/v1/permissions", {"grants": [
        {"user": "alice", "permissions": ["modify"]}, {"user": "bob", "permissions": ["modify"]},
        {"user": "mgr", "permissions": ["view", "modify", "change-permissions"]},
        {"user": "dana", "permissions": ["modify", "remove"]}]})
    quota("dana", disk_bytes=3 * MiB)
    s1, j1 = put_image("d1.raw", b"\1" * MiB, dana)
    u1 = usage("dana")
    check("quota-image-upload-counted", s1 == 201 and u1["disk_bytes"] == MiB and u1["disks"] == 0,
          str((s1, j1, u1)))
    s2, j2 = put_image("d2.raw", b"\2" * (3 * MiB), dana)
    check("quota-image-upload-over-403", refused(s2, j2, "disk_bytes") and
          usage("dana")["disk_bytes"] == MiB and "d2.raw" not in image_names(adm),
          str((s2, j2, usage("dana"), image_names(adm))))
    # a body whose size is said only by its end: refused once it passes the limit, nothing kept
    s3, j3 = put_image("d3.raw", b"\3" * (3 * MiB), dana, chunked=True)
    check("quota-image-upload-chunked-over-403", refused(s3, j3, "disk_bytes") and
          usage("dana")["disk_bytes"] == MiB and "d3.raw" not in image_names(adm) and
          not [f for f in os.listdir(os.path.join(d.data, "images")) if "d3" in f],
          str((s3, j3, usage("dana"), image_names(adm))))
    s4, j4 = put_image("d4.raw", b"\4" * (3 * MiB // 2), dana, chunked=True)
    u4 = usage("dana")
    s5, j5 = req("POST", "/api/v1/disks", {"name": "dd", "size": MiB}, dana)
    check("quota-image-upload-chunked-counted", s4 == 201 and
          u4["disk_bytes"] == MiB + 3 * MiB // 2 and refused(s5, j5, "disk_bytes"),
          str((s4, j4, u4, s5, j5)))
    s6, _ = req("DELETE", "/api/v1/images/d1.raw", None, dana)
    u6 = usage("dana")
    s7, _ = req("PATCH", "/api/v1/images/d4.raw", {"public": True})
    u7 = usage("dana")
    s8, j8 = put_image("a1.raw", b"\5" * (4 * MiB), adm)
    check("quota-image-delete-public-admin", (s6, s7, s8) == (204, 200, 201) and
          u6["disk_bytes"] == 3 * MiB // 2 and u7["disk_bytes"] == 0 and
          usage("admin")["disk_bytes"] == 0, str((s6, u6, s7, u7, s8, j8)))
    # an upload a crash cuts: its row held dana's quota; the next start releases it
    import socket

    def cut_upload(name):
        """A chunked upload of name by dana, its daemon killed once the upload holds her
        quota, then started again: whether it held it."""
        sk = socket.create_connection(("127.0.0.1", d.port), timeout=30)
        sk.sendall(b"PUT /api/v1/images/" + name.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                   b"Authorization: Bearer " + dana.encode() +
                   b"\r\nTransfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % MiB +
                   b"\6" * MiB + b"\r\n")
        held = wait_for(lambda: usage("dana")["disk_bytes"] == 3 * MiB, 20)
        d.stop(sig=9)
        sk.close()
        d.start()
        return held
    held = cut_upload("d5.raw")
    adm = d.login("admin", "adminpass1")
    u9 = usage("dana")
    check("quota-image-upload-cut-released-at-start", held and u9["disk_bytes"] == 0 and
          "d5.raw" not in image_names(adm), str((held, u9, image_names(adm))))
    # a private image whose file is away at a start (a store mounted late, a file moved aside):
    # the sweep frees its owner's quota of it but keeps its owner, so once the file is back it
    # is still dana's private image, not a public one (an image without a row)
    s1, _ = put_image("d8.raw", b"\x08" * 4096, dana)
    d.stop()
    imgs = os.path.join(d.data, "images")
    os.rename(os.path.join(imgs, "d8.raw"), os.path.join(tmp, "d8.raw"))
    d.start()
    adm = d.login("admin", "adminpass1")
    u8 = usage("dana")
    os.rename(os.path.join(tmp, "d8.raw"), os.path.join(imgs, "d8.raw"))
    st_b = req("GET", "/api/v1/images/d8.raw", None, bob)[0]
    st_d, js_d = req("GET", "/api/v1/images/d8.raw", None, dana)
    check("quota-image-file-away-at-start-stays-private", s1 == 201 and u8["disk_bytes"] == 0 and
          st_b == 404 and st_d == 200 and js_d.get("owner") == "dana" and
          js_d.get("public") is False, str((s1, u8, st_b, st_d, js_d)))
    req("DELETE", "/api/v1/images/d8.raw")
    # the same on a cluster host whose inventory is its own SQLite (rows keep no hosts): the
    # start's sweep releases the cut upload's row too
    if lib.INVENTORY == "sqlite" and os.access("/usr/bin/etcd", os.X_OK):
        d.stop()
        d.extra = ["--cluster", lib.test_etcd(), "--host-name", "qc1", "--inventory", "sqlite"]
        d.start()
        held = cut_upload("d7.raw")
        adm = d.login("admin", "adminpass1")
        u9 = usage("dana")
        check("quota-image-upload-cut-released-at-start-cluster-sqlite", held and
              u9["disk_bytes"] == 0 and "d7.raw" not in image_names(adm),
              str((held, u9, image_names(adm))))
        d.stop()
        d.extra = []
        d.start()
        adm = d.login("admin", "adminpass1")
    else:
        skip(P + "quota-image-upload-cut-released-at-start-cluster-sqlite",
             "SQLite inventory with /usr/bin/etcd only")
    # an image of an inventory from before its bytes were kept: counted from the next start
    if sqlite_only(P + "quota-image-bytes-from-file-at-start"):
        s1, _ = put_image("d6.raw", b"\7" * MiB, dana)
        d.stop()
        with sqlite3.connect(os.path.join(d.data, "inventory.db")) as c:
            c.execute("UPDATE images SET bytes = 0 WHERE name = 'd6.raw'")
        d.start()
        adm = d.login("admin", "adminpass1")
        u1 = usage("dana")
        check("quota-image-bytes-from-file-at-start", s1 == 201 and u1["disk_bytes"] == MiB,
              str((s1, u1)))
        req("DELETE", "/api/v1/images/d6.raw")
    quota("dana")

    # --- the CLI ------------------------------------------------------------------------------
    rc, out = cli(d, adm, "user", "quota", "alice", "--vms", "9", "--memory", "2G", "--disk-size", "1G")
    q = req("GET", "/api/v1/users/alice")[1]["quota"]
    check("quota-cli-set", rc == 0 and q["vms"] == 9 and q["memory_mib"] == 2048 and
          q["disk_bytes"] == 1 << 30 and q["cpus"] is None, str((rc, out, q)))
    rc, out = cli(d, alice, "user", "show", "alice")
    check("quota-cli-show", rc == 0 and "quota" in out and "usage" in out and "9" in out, out)
    rc, out = cli(d, alice, "user", "quota", "alice", "--vms", "100")
    check("quota-cli-nonadmin-refused", rc != 0 and "administrators" in out, str((rc, out)))
    rc, out = cli(d, adm, "user", "quota", "alice", "--vms", "x")
    check("quota-cli-bad-number", rc == 2, str((rc, out)))
    rc, out = cli(d, adm, "user", "quota", "alice", "--clear")
    check("quota-cli-clear", rc == 0 and req("GET", "/api/v1/users/alice")[1]["quota"] == none,
          str((rc, out)))

    # --- an inventory from before quotas: owners from the creators' grants (SQLite) ----------
    if sqlite_only(P + "quota-migration-owners"):
        req("DELETE", "/api/v1/vms/adm1")   # (alice holds full on it: the migration would count it)
        vm("old1", alice)
        d.stop()
        with sqlite3.connect(os.path.join(d.data, "inventory.db")) as c:
            c.executescript("DROP TRIGGER vms_owner; DROP TRIGGER disks_owner; "
                            "DROP TRIGGER users_owner; DROP TABLE owners; DROP TABLE quotas; "
                            "PRAGMA user_version = 13;")
        d.start()
        adm = d.login("admin", "adminpass1")
        # old1, free, p0, p1 and the one par*: alice's by her creator's grants
        check("quota-migration-owners", usage("alice")["vms"] == 5 and usage("bob")["vms"] == 0,
              str((usage("alice"), usage("bob"))))
    # --- an etcd inventory from before quotas: owners from the grants at the next start ------
    if lib.INVENTORY == "etcd":
        import base64, json, urllib.request
        user("erin")
        req("POST", "/api/v1/vms", {"name": "ev", "kernel": "k.elf"})
        req("POST", "/api/v1/disks", {"name": "ed", "size": MiB})
        for kind, n in (("vms", "ev"), ("disks", "ed")):
            req("PUT", "/api/v1/%s/%s/permissions" % (kind, n),
                {"grants": [{"user": "erin", "permissions": ["full"]}]})
        before = usage("erin")
        d.stop()
        # (what an inventory written before quotas lacks: the mark of the owners' backfill)
        key = lib.inventory_prefix(d.data) + "t/meta/owners"
        body = json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode()
        urllib.request.urlopen(urllib.request.Request(
            lib.test_etcd().split(",")[0] + "/v3/kv/deleterange", body), timeout=10).read()
        d.start()
        adm = d.login("admin", "adminpass1")
        after = usage("erin")
        check("quota-owners-from-grants-at-start", before["vms"] == 0 and after["vms"] == 1 and
              after["disks"] == 1 and after["disk_bytes"] == MiB, str((before, after)))
    d.stop()

    # --- vsrv serve --default-quota: each user created from now on gets it as its own -------
    p = subprocess.run([VSRV, "serve", "--data-dir", os.path.join(tmp, "bad"), "--no-tcp",
                        "--default-quota", "vms=2,bogus=1"], capture_output=True, text=True,
                       timeout=20, stdin=subprocess.DEVNULL)
    check("quota-default-option-bad", p.returncode == 2 and "--default-quota" in p.stderr,
          str((p.returncode, p.stderr)))
    d = Daemon(os.path.join(tmp, "data2"),
               extra=["--default-quota", "vms=1,memory=1G,disk-size=10M"]).start()
    adm = d.login("admin", "adminpass1")
    carol = user("carol")
    req("PUT", "/api/v1/permissions", {"grants": [{"user": "carol", "permissions": ["modify"]}]})
    q = req("GET", "/api/v1/users/carol")[1]["quota"]
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d.data, "images", "k.elf"))
    s1, _ = vm("cv1", carol)
    s2, j2 = vm("cv2", carol)
    check("quota-default-applied", q == dict(none, vms=1, memory_mib=1024, disk_bytes=10 * MiB) and
          s1 == 201 and refused(s2, j2, "vms"), str((q, s1, s2, j2)))
    # a delegated manager's new user: each limit the lower of the manager's and the default
    mgr = user("mgr")
    req("PUT", "/api/v1/permissions", {"grants": [
        {"user": "carol", "permissions": ["modify"]},
        {"user": "mgr", "permissions": ["view", "modify", "change-permissions"]}]})
    quota("mgr", vms=5, memory_mib=512)
    st, _ = d.req("POST", "/api/v1/users", {"name": "m3", "password": "Password-m3"}, token=mgr)
    q = req("GET", "/api/v1/users/m3")[1].get("quota")
    check("quota-delegated-user-default-and-own", st == 201 and
          q == dict(zero, vms=1, memory_mib=512, disk_bytes=10 * MiB), str((st, q)))
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
