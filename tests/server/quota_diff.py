"""Delegated managers' usage against the truth (quota.h, inv_usage_tree), over real HTTP, run
by t-server-quota2.sh on SQLite and on etcd (check names prefixed "etcd-"): a varied tree of
managed users (a manager, its users, a sub-manager with its own, three levels below the top,
a user with nothing, a user deleted by an administrator while it owned objects, a chain of 15
managers above its last user) owning varied objects (VMs of different vCPUs and memory, raw
and VHD disks, a disk attached to another user's VM, private and public images, snapshots,
undo disks). What each user and each manager's tree owns is summed here from the API's own
answers (each object's GET, the images' owner, each user's manager; an object's owner is
the user who created it) and compared with GET /api/v1/users/NAME's usage and total_usage;
then each manager's limit of each resource is set exactly at that sum: one unit more is
refused (naming the manager), a limit one less than that unit short of it too, the limit
that holds it admits it, and at the exact limit freeing one object admits it again; the
sums again after linked and full clones of a VM whose disk another user lent, and after
deletes of a VM with snapshots, of a VM with an undo disk and of a disk.
(A cycle of managers cannot be made: a user's manager is the user that created it, never
changed through the API.)"""
import os, shutil, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
import lib

P = "etcd-" if lib.INVENTORY == "etcd" else ""
MiB = 1 << 20
FIELDS = ("vms", "cpus", "memory_mib", "disks", "disk_bytes", "snapshots")


def check(name, cond, why="failed"):
    return ok(P + name, cond, why)


tmp = tempfile.mkdtemp(prefix="vsrv-quotadiff.")
d = Daemon(os.path.join(tmp, "data")).start()
try:
    adm = d.login("admin", "adminpass1")
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d.data, "images", "k.elf"))

    def req(m, p, b=None, tok=None):
        return d.req(m, p, b, token=tok or adm)

    def done(st, js, tok):
        """A 202's task waited for: the answer as if it had been synchronous."""
        if st == 202 and isinstance(js, dict) and "task" in js:
            t = task_wait(d, tok, js["task"], 30)
            return (200 if t and t.get("state") == "done" else 500), t
        return st, js

    # --- who owns what: recorded as it is created ------------------------------------------
    tok, made = {}, {"vm": [], "disk": [], "image": []}   # (name, owner)
    managers = set()

    def grant():
        g = [{"user": n, "permissions": ["view", "modify", "remove", "change-permissions"]
              if n in managers else ["modify", "remove"]} for n in tok]
        st = req("PUT", "/api/v1/permissions", {"grants": g})[0]
        if st != 200:
            raise RuntimeError("grants: %s" % st)

    def user(name, by=None):
        if by and by not in managers:
            managers.add(by)
            grant()
        tok[name] = new_user(d, tok[by] if by else adm, name)
        # (a manager's user gets its manager's limits, none: no limit of its own here)
        req("PUT", "/api/v1/users/%s/quota" % name, dict.fromkeys(FIELDS))
        grant()

    def vm(name, who, cpus, mem, **kw):
        b = dict(name=name, kernel="k.elf", cpus=cpus, memory_mib=mem, **kw)
        st, js = req("POST", "/api/v1/vms", b, tok[who])
        if st == 201:
            made["vm"].append((name, who))
        return st, js

    def disk(name, who, size, fmt="raw"):
        st, js = req("POST", "/api/v1/disks", {"name": name, "size": size, "format": fmt}, tok[who])
        if st == 201:
            made["disk"].append((name, who))
        return st, js

    def image(name, who, data):
        c = d.conn(timeout=60)
        c.request("PUT", "/api/v1/images/" + name, body=data,
                  headers={"Authorization": "Bearer " + tok[who]})
        r = c.getresponse()
        r.read()
        c.close()
        return r.status

    def snap(vmname, sname, who):
        return req("POST", "/api/v1/vms/%s/snapshots" % vmname, {"name": sname}, tok[who])

    def forget(kind, name):
        made[kind] = [x for x in made[kind] if x[0] != name]

    def delete(kind, name, who):
        st, js = done(*req("DELETE", "/api/v1/%ss/%s" % (kind, name), None, tok[who]), tok[who])
        if st in (200, 204):
            forget(kind, name)
        return st

    # the tree: top manages a1, a2 (owns nothing), sub; sub manages b1, b2, gone; b1 manages c1
    user("top")
    for n, by in (("a1", "top"), ("a2", "top"), ("sub", "top"), ("b1", "sub"), ("b2", "sub"),
                  ("gone", "sub"), ("c1", "b1")):
        user(n, by)
    setup = [
        vm("t1", "top", 2, 48), disk("td", "top", MiB),
        vm("a1v", "a1", 1, 32), vm("a1w", "a1", 3, 100), disk("a1d", "a1", 2 * MiB, "vhd"),
        disk("a1r", "a1", 3 * MiB + 512),
        disk("sd", "sub", 3 * MiB),
        disk("b1d", "b1", 5 * MiB, "vhd"), vm("b2v", "b2", 4, 256),
        disk("gd", "gone", MiB), vm("gv", "gone", 2, 64),
        disk("c1u", "c1", 2 * MiB, "vhd"),
    ]
    # b1's disk lent to c1 and attached to c1's VM (it counts for b1, its owner)
    setup.append(req("PUT", "/api/v1/disks/b1d/permissions",
                     {"grants": [{"user": "c1", "permissions": ["full"]}]}, tok["b1"]))
    setup.append(vm("c1v", "c1", 1, 16, disks=[{"disk": "b1d"}]))
    setup.append(vm("c1s", "c1", 2, 64))                 # the spare (freed and made again)
    setup.append(disk("c1sd", "c1", MiB))
    setup.append(vm("c1k", "c1", 1, 32, undo_disks="keep", disks=[{"disk": "c1u"}]))
    for v, s, w in (("a1v", "s1", "a1"), ("a1v", "s2", "a1"), ("b2v", "s", "b2"),
                    ("c1v", "s", "c1"), ("c1v", "spare", "c1"), ("gv", "s", "gone")):
        setup.append(snap(v, s, w))
    imgs = [image("a1.raw", "a1", b"\1" * 50000), image("b1.raw", "b1", b"\2" * 70001),
            image("b1pub.raw", "b1", b"\3" * 30000), image("g.raw", "gone", b"\4" * 4096),
            image("c1.raw", "c1", b"\5" * 1234)]
    setup.append(req("PATCH", "/api/v1/images/b1pub.raw", {"public": True}))
    # an undo disk: c1k started (without /dev/kvm it crashes at once; its undo disk kept)
    st, js = req("POST", "/api/v1/vms/c1k/start", {}, tok["c1"])
    started = st in (200, 202) and d.wait_state(tok["c1"], "c1k", ("stopped", "crashed"), 30)
    # an administrator deletes gone while it owns: its objects count for nobody; and mid, a
    # manager between top and e1: e1 (and its disk) no longer under top
    user("mid", "top")
    user("e1", "mid")
    setup.append(disk("e1d", "e1", 2 * MiB))
    gone_st = req("DELETE", "/api/v1/users/gone")[0]
    mid_st = req("DELETE", "/api/v1/users/mid")[0]
    del tok["gone"], tok["mid"]
    ok_setup = all(x[0] in (200, 201) for x in setup) and imgs == [201] * 5 and started and \
        gone_st == 204 and mid_st == 204
    check("quotadiff-setup", ok_setup, str((setup, imgs, st, js, gone_st, mid_st)))

    # --- the truth, from the API's answers ---------------------------------------------------
    def expected():
        """{user: {field: n}} of what each live user owns, and {user: its manager}."""
        own = {u: dict.fromkeys(FIELDS, 0) for u in tok}
        mgr = {u: req("GET", "/api/v1/users/" + u)[1].get("manager") for u in tok}
        for name, who in made["vm"]:
            st, js = req("GET", "/api/v1/vms/" + name)
            if who not in own or st != 200:
                continue
            o = own[who]
            o["vms"] += 1
            o["cpus"] += js["cpus"]
            o["memory_mib"] += js["memory_mib"]
            o["snapshots"] += len(req("GET", "/api/v1/vms/%s/snapshots" % name)[1]["snapshots"])
            for u in req("GET", "/api/v1/vms/%s/undo-disks" % name)[1].get("undo_disks", []):
                o["disk_bytes"] += u["file_size"]
        for name, who in made["disk"]:
            st, js = req("GET", "/api/v1/disks/" + name)
            if who in own and st == 200:
                own[who]["disks"] += 1
                own[who]["disk_bytes"] += js["size"]
        for i in req("GET", "/api/v1/images")[1]["images"]:
            if i["owner"] in own and not i["public"]:
                own[i["owner"]]["disk_bytes"] += i["size"]
        return own, mgr

    def tree_sum(own, mgr, top):
        """What top and the users below it (16 levels of managers at most) own together."""
        tot = dict.fromkeys(FIELDS, 0)
        for u in own:
            m, k = u, 0
            while m and m != top and k < 16:
                m, k = mgr.get(m), k + 1
            if m == top:
                for f in FIELDS:
                    tot[f] += own[u][f]
        return tot

    def compare(tag):
        own, mgr = expected()
        bad = []
        for u in own:
            js = req("GET", "/api/v1/users/" + u)[1]
            want = tree_sum(own, mgr, u)
            if js.get("usage") != own[u] or js.get("total_usage") != want:
                bad.append((u, "usage", js.get("usage"), own[u], "total", js.get("total_usage"),
                            want))
        check("quotadiff-usage-" + tag, not bad and len(own) > 1, str(bad))
        return own, mgr

    own, mgr = compare("tree")
    undo = sum(u["file_size"] for u in
               req("GET", "/api/v1/vms/c1k/undo-disks")[1].get("undo_disks", []))
    check("quotadiff-varied", mgr["c1"] == "b1" and mgr["e1"] is None and mgr["b1"] == "sub" and mgr["sub"] == "top"
          and own["a2"] == dict.fromkeys(FIELDS, 0) and undo > 0 and own["a1"]["snapshots"] == 2,
          str((mgr, own, undo)))

    # --- admission at each manager's exact usage, for each resource --------------------------
    none = dict.fromkeys(FIELDS)

    def refused(r, who):
        st, js = r
        m = (js or {}).get("error", {}).get("message", "") if isinstance(js, dict) else ""
        return st == 403 and js["error"].get("code") == "quota_exceeded" and \
            ("user %s " % who) in m

    # for each resource: the probe (one more unit, by c1, the deepest user: every manager's
    # limit applies), its size, how it is undone, and the spare freed and made again
    probes = {
        "vms": (lambda: vm("pv", "c1", 1, 16), 1, lambda: delete("vm", "pv", "c1")),
        "cpus": (lambda: vm("pv", "c1", 1, 16), 1, lambda: delete("vm", "pv", "c1")),
        "memory_mib": (lambda: vm("pv", "c1", 1, 16), 16, lambda: delete("vm", "pv", "c1")),
        "disks": (lambda: disk("pd", "c1", 512), 1, lambda: delete("disk", "pd", "c1")),
        "disk_bytes": (lambda: disk("pd", "c1", MiB), MiB, lambda: delete("disk", "pd", "c1")),
        "snapshots": (lambda: snap("c1v", "p", "c1"), 1, lambda: done(*req(
            "DELETE", "/api/v1/vms/c1v/snapshots/p", None, tok["c1"]), tok["c1"])[0]),
    }
    spare = {
        "vms": ("vm", "c1s", lambda: vm("c1s", "c1", 2, 64)),
        "disks": ("disk", "c1sd", lambda: disk("c1sd", "c1", MiB)),
        "snapshots": (None, None, lambda: snap("c1v", "spare", "c1")),
    }
    spare["cpus"] = spare["memory_mib"] = spare["vms"]
    spare["disk_bytes"] = spare["disks"]

    def free_spare(f):
        kind, name, _ = spare[f]
        if kind:
            return delete(kind, name, "c1")
        return done(*req("DELETE", "/api/v1/vms/c1v/snapshots/spare", None, tok["c1"]),
                    tok["c1"])[0]

    own, mgr = expected()       # (each step below leaves it as it found it)
    for m in ("top", "sub", "b1"):
        bad = []
        for f in FIELDS:
            e = tree_sum(own, mgr, m)[f]
            make, unit, undo_probe = probes[f]
            req("PUT", "/api/v1/users/%s/quota" % m, dict(none, **{f: e}))
            r1 = make()
            req("PUT", "/api/v1/users/%s/quota" % m, dict(none, **{f: e + unit - 1}))
            r2 = make()
            req("PUT", "/api/v1/users/%s/quota" % m, dict(none, **{f: e + unit}))
            r3 = make()
            u3 = req("GET", "/api/v1/users/" + m)[1]["total_usage"][f]
            st4 = undo_probe()
            # at the exact limit: full; one freed admits one again
            req("PUT", "/api/v1/users/%s/quota" % m, dict(none, **{f: e}))
            st5 = free_spare(f)
            r6 = spare[f][2]()
            r7 = make()
            if not (refused(r1, m) and refused(r2, m) and r3[0] == 201 and u3 == e + unit and
                    st4 in (200, 204) and st5 in (200, 204) and r6[0] == 201 and refused(r7, m)):
                bad.append((m, f, e, r1, r2, r3[0], u3, st4, st5, r6[0], r7))
                if r3[0] == 201 or r7[0] == 201:
                    undo_probe()
            req("PUT", "/api/v1/users/%s/quota" % m, none)
        check("quotadiff-admission-" + m, not bad, str(bad))
    compare("after-admission")

    # clones (a task): a linked and a full one of c1v (its disk b1's, lent): c1 owns them and
    # the disks they made
    cl = []
    for name, linked in (("c1l", True), ("c1f", False)):
        st, js = done(*req("POST", "/api/v1/vms/c1v/clone", {"name": name, "linked": linked},
                           tok["c1"]), tok["c1"])
        cl.append(st)
        if st in (200, 201):
            made["vm"].append((name, "c1"))
            for x in req("GET", "/api/v1/vms/" + name)[1]["disks"]:
                made["disk"].append((x["disk"], "c1"))
    cd = [x for x in made["disk"] if x[0] not in ("b1d",) and
          any(x[0] == y["disk"] for c in ("c1l", "c1f") for y in
              req("GET", "/api/v1/vms/" + c)[1].get("disks", []))]
    check("quotadiff-clones", all(s in (200, 201) for s in cl) and len(cd) == 2, str((cl, cd)))
    compare("after-clones")

    # what goes with a deleted VM (its snapshots, its undo disks; its disks stay) stops counting
    dels = [delete("vm", "c1k", "c1"), delete("vm", "a1v", "a1"), delete("disk", "a1r", "a1")]
    check("quotadiff-deletes", dels == [204] * 3, str(dels))
    compare("after-deletes")

    # --- a chain of 15 managers above its last user (the deepest the API makes) -------------
    chain = ["k%d" % i for i in range(16)]
    user(chain[0])
    for i in range(1, 16):
        user(chain[i], chain[i - 1])
    managers.add(chain[15])
    grant()
    st16, js16 = req("POST", "/api/v1/users", {"name": "k16", "password": "Password-k16"},
                     tok[chain[15]])
    r = [disk("kd%d" % i, chain[i], (i + 1) * 4096) for i in (0, 1, 14, 15)]
    own, mgr = compare("chain")
    e = tree_sum(own, mgr, "k0")["disk_bytes"]
    check("quotadiff-chain-15-counted", all(x[0] == 201 for x in r) and
          refused((st16, js16), "k15") is False and st16 == 403 and
          req("GET", "/api/v1/users/k0")[1]["total_usage"]["disk_bytes"] == e and
          e == sum((i + 1) * 4096 for i in (0, 1, 14, 15)), str((r, st16, js16, e)))
    req("PUT", "/api/v1/users/k0/quota", dict(none, disk_bytes=e + 4095))
    r1 = disk("kx", "k15", 4096)
    req("PUT", "/api/v1/users/k0/quota", dict(none, disk_bytes=e + 4096))
    r2 = disk("kx", "k15", 4096)
    check("quotadiff-chain-15-admission", refused(r1, "k0") and r2[0] == 201, str((r1, r2)))
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
