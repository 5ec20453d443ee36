"""Quotas of delegated managers (issue 10, abuse limits; src/server/quota.h), over real HTTP,
run by t-server-quota2.sh on SQLite and on the etcd inventory (check names prefixed "etcd-"):
a user that a delegated manager (a non-administrator holding change-permissions) creates is
that manager's, and the manager's limits bound what the manager and all its users own
together (recursively: a managed user's own users count for both); every refusal is a 403
"quota_exceeded"; parallel creates of two users of one manager at the manager's limit:
exactly one passes; GET /api/v1/users/NAME says the manager and the total_usage; a deleted
user stops counting for its manager; a deleted manager's users keep their own limits. And
a VM's undo disks count in its owner's disk_bytes (their files' sizes, recorded again as
they grow while it runs), until discarded or committed."""
import os, shutil, signal, sys, tempfile, threading
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
import lib

P = "etcd-" if lib.INVENTORY == "etcd" else ""
MiB = 1 << 20


def check(name, cond, why="failed"):
    return ok(P + name, cond, why)


tmp = tempfile.mkdtemp(prefix="vsrv-quota2.")
d = Daemon(os.path.join(tmp, "data")).start()
try:
    adm = d.login("admin", "adminpass1")
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d.data, "images", "k.elf"))

    def req(m, p, b=None, tok=None):
        return d.req(m, p, b, token=tok or adm)

    def quota(name, **q):
        return req("PUT", "/api/v1/users/%s/quota" % name, q)

    def user_js(name):
        return req("GET", "/api/v1/users/" + name)[1]

    def total(name, field):
        """What user name and the users it manages own of field (its total_usage)."""
        return user_js(name).get("total_usage", {}).get(field)

    def disk(name, size, tok):
        return req("POST", "/api/v1/disks", {"name": name, "size": size}, tok)

    def vm(name, tok):
        return req("POST", "/api/v1/vms", {"name": name, "kernel": "k.elf"}, tok)

    def refused(st, js, limit, who=None):
        e = (js or {}).get("error", {}) if isinstance(js, dict) else {}
        m = e.get("message", "")
        return (st == 403 and e.get("code") == "quota_exceeded" and (limit + ":") in m and
                (who is None or ("user %s " % who) in m))

    def grant(*names):
        """Server grants: mgr manages, the others create (each one's own)."""
        g = [{"user": "mgr", "permissions": ["view", "modify", "change-permissions"]}]
        g += [{"user": n, "permissions": ["view", "modify", "change-permissions"] if n == "sub"
               else ["modify", "remove"]} for n in names]
        return req("PUT", "/api/v1/permissions", {"grants": g})[0]

    mgr = new_user(d, adm, "mgr")
    grant()
    quota("mgr", vms=2, cpus=8, memory_mib=4096, disks=20, disk_bytes=10 * MiB, snapshots=10)
    u1 = new_user(d, mgr, "u1")
    u2 = new_user(d, mgr, "u2")
    grant("u1", "u2")
    q1, q2 = user_js("u1"), user_js("u2")
    check("quota-managed-user-has-manager", q1.get("manager") == "mgr" and
          q2.get("manager") == "mgr" and user_js("mgr").get("manager") is None and
          q1["quota"]["disk_bytes"] == 10 * MiB, str((q1, q2)))

    # each user may own the manager's 10 MiB alone, not together: u1's 6 MiB leaves 4 for all
    s1, _ = disk("d1", 6 * MiB, u1)
    s2, j2 = disk("d2", 6 * MiB, u2)
    s3, j3 = disk("d3", 4 * MiB, u2)
    s4, j4 = disk("dm", MiB, mgr)
    m = user_js("mgr")
    check("quota-manager-bounds-users-together", s1 == 201 and refused(s2, j2, "disk_bytes", "mgr")
          and s3 == 201 and refused(s4, j4, "disk_bytes", "mgr") and
          m["usage"]["disk_bytes"] == 0 and m.get("total_usage", {}).get("disk_bytes") == 10 * MiB and
          total("u2", "disk_bytes") == 4 * MiB,
          str((s1, s2, j2, s3, j3, s4, j4, m)))

    # a user's own limit still bounds it alone (an administrator lowered u1's)
    req("DELETE", "/api/v1/disks/d3", None, u2)
    quota("u1", vms=2, disks=20, disk_bytes=7 * MiB)
    s5, j5 = disk("d5", 2 * MiB, u1)
    s6, _ = disk("d6", MiB, u1)
    check("quota-managed-user-own-limit-too", refused(s5, j5, "disk_bytes", "u1") and s6 == 201,
          str((s5, j5, s6)))

    # a managed user that manages users in turn: they count for both managers
    sub = new_user(d, mgr, "sub")
    grant("u1", "u2", "sub")
    leaf = new_user(d, sub, "leaf")
    grant("u1", "u2", "sub", "leaf")
    s7, j7 = disk("d7", 4 * MiB, leaf)      # mgr holds 7 of 10: 3 left
    s8, _ = disk("d8", 3 * MiB, leaf)
    s9, j9 = disk("d9", MiB, sub)
    check("quota-manager-bounds-recursively", refused(s7, j7, "disk_bytes", "mgr") and s8 == 201
          and refused(s9, j9, "disk_bytes", "mgr") and user_js("leaf").get("manager") == "sub" and
          total("sub", "disk_bytes") == 3 * MiB and
          total("mgr", "disk_bytes") == 10 * MiB, str((s7, j7, s8, s9, j9)))

    # the CLI: a manager's usage with its users' besides its own, a user's manager
    rc, out = cli(d, adm, "user", "show", "mgr")
    rc2, out2 = cli(d, adm, "user", "show", "leaf")
    check("quota-cli-show-manager", rc == 0 and "with users" in out and
          str(10 * MiB) in out and rc2 == 0 and "sub" in out2 and "with users" not in out2,
          str((rc, out, rc2, out2)))

    # an image upload of a managed user: the manager's room bounds it too
    c = d.conn(timeout=60)
    c.request("PUT", "/api/v1/images/u2.raw", body=b"\1" * MiB,
              headers={"Authorization": "Bearer " + u2})
    r = c.getresponse()
    body = r.read()
    c.close()
    check("quota-manager-bounds-image-upload", r.status == 403 and b"quota_exceeded" in body and
          req("GET", "/api/v1/images/u2.raw")[0] == 404, str((r.status, body)))

    # a deleted user stops counting for its manager
    st = req("DELETE", "/api/v1/users/leaf")[0]
    req("DELETE", "/api/v1/disks/d8")
    s10, _ = disk("d10", 3 * MiB, sub)
    check("quota-deleted-user-leaves-manager", st == 204 and s10 == 201 and
          total("mgr", "disk_bytes") == 10 * MiB, str((st, s10, user_js("mgr"))))
    for n, t in (("d10", sub), ("d1", u1), ("d6", u1)):
        req("DELETE", "/api/v1/disks/" + n, None, t)

    # VMs: two users of one manager at its limit less one, 8 parallel creates each: exactly one
    s11, _ = vm("v0", u1)
    res = [None] * 8

    def create(i):
        res[i] = vm("pv%d" % i, (u1, u2)[i % 2])

    th = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    sts = [x[0] for x in res]
    made = [i for i in range(8) if req("GET", "/api/v1/vms/pv%d" % i)[0] == 200]
    check("quota-manager-parallel-users-exactly-one", s11 == 201 and sts.count(201) == 1 and
          len(made) == 1 and all(s in (201, 403) for s in sts) and
          total("mgr", "vms") == 2, str((s11, sts, res)))

    # a deleted manager: its users keep their own limits, no longer the manager's together
    quota("u2", vms=3, disks=20)
    pre = vm("pre", u2)
    own = user_js("u2")["usage"]["vms"]
    st = req("DELETE", "/api/v1/users/mgr")[0]
    sts = [vm("late%d" % i, u2)[0] for i in range(3 - own)]
    last = vm("late9", u2)
    check("quota-deleted-manager-users-own-limits", refused(*pre, "vms", "mgr") and st == 204 and
          user_js("u2").get("manager") is None and sts == [201] * (3 - own) and
          refused(*last, "vms", "u2"), str((pre, own, st, sts, last)))

    # an administrator's users have no manager; administrators have no limits
    new_user(d, adm, "plain")
    check("quota-admin-user-no-manager", user_js("plain").get("manager") is None and
          user_js("admin").get("total_usage") is not None, str(user_js("plain")))

    # a delegated manager deleting a user it manages that still owns something (or manages
    # users) would free that from its bound (a deleted user's objects count for nobody):
    # create a user, fill the bound through it (its disk handed to the manager), delete it,
    # again... refused while it owns
    def g2(*names):
        g = [{"user": "mg2", "permissions": ["view", "modify", "remove", "change-permissions"]}]
        g += [{"user": n, "permissions": ["modify", "remove"]} for n in names]
        return req("PUT", "/api/v1/permissions", {"grants": g})[0]

    mg2 = new_user(d, adm, "mg2")
    g2()
    quota("mg2", disks=20, disk_bytes=4 * MiB)
    esc = []
    for i in range(3):
        t = new_user(d, mg2, "esc%d" % i)
        g2("esc%d" % i)
        st = disk("escd%d" % i, 3 * MiB, t)[0]
        # (the user hands its disk to its manager: the manager then holds all it holds)
        req("PUT", "/api/v1/disks/escd%d/permissions" % i,
            {"grants": [{"user": "mg2", "permissions": ["full"]}]}, t)
        esc.append((st, req("DELETE", "/api/v1/users/esc%d" % i, None, mg2)[0]))
    held = sum(3 * MiB for i in range(3) if req("GET", "/api/v1/disks/escd%d" % i)[0] == 200)
    req("DELETE", "/api/v1/disks/escd0")
    st = req("DELETE", "/api/v1/users/esc0", None, mg2)[0]
    check("quota-manager-delete-user-keeps-bound", held <= 4 * MiB and esc[0] == (201, 409) and
          st == 204 and total("mg2", "disk_bytes") == 0, str((esc, held, st, user_js("mg2"))))

    # a chain of managers deeper than a check follows (16 levels) would put its last users
    # out of the top manager's bound: each manager creates the next; too deep is refused
    chain, toks, made = ["cm"] + ["c%d" % k for k in range(1, 17)], [], []
    toks.append(new_user(d, adm, "cm"))
    quota("cm", disks=20, disk_bytes=4 * MiB)
    gc = lambda n: req("PUT", "/api/v1/permissions", {"grants": [
        {"user": u, "permissions": ["view", "modify", "remove", "change-permissions"]}
        for u in chain[:n]]})
    gc(1)
    for k in range(1, 17):
        st, js = req("POST", "/api/v1/users", {"name": chain[k], "password": "Password-" + chain[k]},
                     toks[-1])
        made.append(st)
        if st != 201:
            break
        gc(k + 1)
        toks.append(d.login(chain[k], "Password-" + chain[k]))
    sc = disk("cmd", 3 * MiB, toks[0])[0]
    sl = disk("cld", 3 * MiB, toks[-1])[0]
    check("quota-manager-chain-depth-bounded", sc == 201 and sl == 403 and
          made == [201] * 15 + [403], str((made, sc, sl, len(toks))))

    # a manager of many users (more than etcd's 128 compares of a Txn): its check still reads
    # them all and answers (it and its users still create), not 500
    wide = new_user(d, adm, "wide")
    req("PUT", "/api/v1/permissions", {"grants": [
        {"user": "wide", "permissions": ["view", "modify", "remove", "change-permissions"]}]})
    quota("wide", disks=5, disk_bytes=4 * MiB)
    many = [req("POST", "/api/v1/users", {"name": "w%d" % k, "password": "Password-w%d" % k},
                wide)[0] for k in range(140)]
    req("PUT", "/api/v1/permissions", {"grants": [
        {"user": "wide", "permissions": ["view", "modify", "remove", "change-permissions"]},
        {"user": "w7", "permissions": ["modify", "remove"]}]})
    sw = [disk("wd0", MiB, wide), disk("wd1", MiB, d.login("w7", "Password-w7")),
          disk("wd2", 3 * MiB, wide)]
    check("quota-manager-many-users", many == [201] * 140 and sw[0][0] == 201 and
          sw[1][0] == 201 and refused(*sw[2], "disk_bytes", "wide") and
          total("wide", "disk_bytes") == 2 * MiB, str((sorted(set(many)), sw)))

    # --- undo disks (undo.h) count in their VM's owner's disk_bytes: their files' sizes -------
    ud = new_user(d, adm, "ud")
    req("PUT", "/api/v1/permissions", {"grants": [{"user": "ud", "permissions": ["modify", "remove"]}]})
    quota("ud", vms=5, disks=5, disk_bytes=64 * MiB)
    s1, _ = req("POST", "/api/v1/disks", {"name": "ud0", "size": 4 * MiB, "format": "vhd"}, ud)
    dsize = req("GET", "/api/v1/disks/ud0", None, ud)[1].get("size")
    s2, _ = req("POST", "/api/v1/vms", {"name": "uvm", "kernel": "k.elf", "memory_mib": 32,
                                         "undo_disks": "keep", "disks": [{"disk": "ud0"}]}, ud)
    before = user_js("ud")["usage"]["disk_bytes"]
    s3, j3 = req("POST", "/api/v1/vms/uvm/start", {}, ud)
    undo0 = os.path.join(d.data, "vms", str(vm_id(d.data, "uvm")), "undo-0.vhd")
    # (without /dev/kvm the VM crashes at once; with it the guest ends: undo disks kept)
    ended = d.wait_state(ud, "uvm", ("stopped", "crashed"), timeout=30)
    usize = os.path.getsize(undo0) if os.path.exists(undo0) else None
    u1 = user_js("ud")["usage"]["disk_bytes"]
    check("quota-undo-disk-counted", (s1, s2) == (201, 201) and s3 in (200, 202) and ended and
          usize and before == dsize and u1 == dsize + usize, str((s1, s2, s3, j3, usize, before, u1)))
    # at the limit because of it: a disk that would fit without the undo disk is refused
    quota("ud", vms=5, disks=5, disk_bytes=dsize + usize + MiB - 1)
    s4, j4 = req("POST", "/api/v1/disks", {"name": "ud1", "size": MiB}, ud)
    st, js = req("POST", "/api/v1/vms/uvm/undo-disks?action=discard", {}, ud)
    u2 = user_js("ud")["usage"]["disk_bytes"]
    s5, _ = req("POST", "/api/v1/disks", {"name": "ud1", "size": MiB}, ud)
    check("quota-undo-disk-limit-and-discard", refused(s4, j4, "disk_bytes", "ud") and
          st == 200 and u2 == dsize and s5 == 201, str((s4, j4, st, js, u2, s5)))
    # a commit merges them (a task): their bytes go as each is merged
    quota("ud", vms=5, disks=5, disk_bytes=64 * MiB)
    req("POST", "/api/v1/vms/uvm/start", {}, ud)
    made = wait_for(lambda: os.path.exists(undo0), 20)
    ended = d.wait_state(ud, "uvm", ("stopped", "crashed"), timeout=30)
    usize = os.path.getsize(undo0) if made else None
    u3 = user_js("ud")["usage"]["disk_bytes"]
    st, js = req("POST", "/api/v1/vms/uvm/undo-disks?action=commit", {}, ud)
    t = task_wait(d, ud, js["task"], 30) if st == 202 else None
    u4 = user_js("ud")["usage"]["disk_bytes"]
    check("quota-undo-disk-commit", made and ended and u3 == dsize + MiB + usize and t and
          t["state"] == "done" and not os.path.exists(undo0) and u4 == dsize + MiB,
          str((made, ended, usize, u3, st, js, t, u4)))

    # while a VM runs, the supervisor records its undo disks again as they grow (every 10 s,
    # by 1 MiB or more): a VMM that stays starting (a shim: sleep), its undo disk's file grown
    # here as a guest's writes would grow it
    d.stop()
    slow = os.path.join(tmp, "vsrv-sleep")
    with open(slow, "w") as f:
        f.write('#!/bin/sh\n[ "$1" = run ] && exec sleep 90\nexec %s "$@"\n' % VSRV)
    os.chmod(slow, 0o755)
    d = Daemon(os.path.join(tmp, "data2"), extra=["--vmm", slow, "--host-memory", "65536"]).start()
    adm = d.login("admin", "adminpass1")
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d.data, "images", "k.elf"))
    ug = new_user(d, adm, "ug")
    req("PUT", "/api/v1/permissions", {"grants": [{"user": "ug", "permissions": ["modify", "remove"]}]})
    quota("ug", disk_bytes=64 * MiB)
    req("POST", "/api/v1/disks", {"name": "ug0", "size": 4 * MiB, "format": "vhd"}, ug)
    dsize = req("GET", "/api/v1/disks/ug0", None, ug)[1].get("size")
    req("POST", "/api/v1/vms", {"name": "gvm", "kernel": "k.elf", "memory_mib": 32,
                                 "undo_disks": "keep", "disks": [{"disk": "ug0"}]}, ug)
    s1, j1 = req("POST", "/api/v1/vms/gvm/start", {}, ug)
    undo0 = os.path.join(d.data, "vms", str(vm_id(d.data, "gvm")), "undo-0.vhd")
    made = wait_for(lambda: os.path.exists(undo0), 20)
    u1 = user_js("ug")["usage"]["disk_bytes"]
    size1 = os.path.getsize(undo0) if made else None
    with open(undo0, "ab") as f:
        f.write(b"\0" * (2 * MiB))
    size2 = os.path.getsize(undo0)
    grown = wait_for(lambda: user_js("ug")["usage"]["disk_bytes"] == dsize + size2, 40, 0.5)
    state = req("GET", "/api/v1/vms/gvm/status")[1].get("state")
    check("quota-undo-disk-grows-while-running", s1 in (200, 202) and made and
          u1 == dsize + size1 and grown and state in ("starting", "running"),
          str((s1, j1, made, size1, u1, size2, user_js("ug")["usage"], state)))
    # a decision sees the undo disk as it is, not as last recorded: grown by 512 KiB (under
    # the supervisor's 1 MiB step, so never recorded while it runs), a disk that fits only
    # without that growth is refused at once, naming what is owned with it
    with open(undo0, "ab") as f:
        f.write(b"\0" * (512 * 1024))
    size4 = os.path.getsize(undo0)
    quota("ug", disk_bytes=dsize + size2 + MiB + 256 * 1024)
    s6, j6 = req("POST", "/api/v1/disks", {"name": "ug1", "size": MiB, "format": "raw"}, ug)
    msg = (j6 or {}).get("error", {}).get("message", "")
    check("quota-undo-disk-current-at-decision", refused(s6, j6, "disk_bytes", "ug") and
          ("owns %d " % (dsize + size4)) in msg, str((s6, j6, dsize, size2, size4)))
    req("POST", "/api/v1/vms/gvm/off", {})
    d.wait_state(adm, "gvm", ("stopped", "crashed"), timeout=20)
    # a VM with undo disks starts only while its owner has room for them to grow: at its
    # limit (the kept undo disk recorded at its final size), refused; a byte of room, started
    # (the end's record of the kept undo disk's final size may follow the state by a moment)
    wait_for(lambda: user_js("ug")["usage"]["disk_bytes"] == dsize + size4, 20, 0.2)
    kept = user_js("ug")["usage"]["disk_bytes"]
    quota("ug", disk_bytes=kept)
    s7, j7 = req("POST", "/api/v1/vms/gvm/start", {}, ug)
    st7 = req("GET", "/api/v1/vms/gvm/status")[1].get("state")
    quota("ug", disk_bytes=kept + 1)
    s8, _ = req("POST", "/api/v1/vms/gvm/start", {}, ug)
    check("quota-undo-disk-start-needs-room", kept == dsize + size4 and s7 == 403 and
          (j7 or {}).get("error", {}).get("code") == "quota_exceeded" and
          st7 == "stopped" and s8 in (200, 202), str((kept, dsize, size4, s7, j7, st7, s8)))
    req("POST", "/api/v1/vms/gvm/off", {})
    d.wait_state(adm, "gvm", ("stopped", "crashed"), timeout=20)
    quota("ug", disk_bytes=64 * MiB)

    # ... whatever the number of running VMs: gvm started first, then 64 others (the
    # supervisor's list is newest first), its undo disk grown again
    s1, _ = req("POST", "/api/v1/vms/gvm/start", {}, ug)
    fill = []
    for i in range(64):
        req("POST", "/api/v1/vms", {"name": "f%d" % i, "kernel": "k.elf", "memory_mib": 16})
        fill.append(req("POST", "/api/v1/vms/f%d/start" % i, {})[0])
    up = wait_for(lambda: user_js("ug")["usage"]["disk_bytes"] == dsize +
                  os.path.getsize(undo0), 20, 0.5)
    with open(undo0, "ab") as f:
        f.write(b"\0" * (2 * MiB))
    size3 = os.path.getsize(undo0)
    grown = wait_for(lambda: user_js("ug")["usage"]["disk_bytes"] == dsize + size3, 40, 0.5)
    state = req("GET", "/api/v1/vms/gvm/status")[1].get("state")
    check("quota-undo-disk-grows-past-64-vms", s1 in (200, 202) and
          all(s in (200, 202) for s in fill) and grown and state in ("starting", "running"),
          str((s1, fill, up, size3, user_js("ug")["usage"], state)))
    for i in range(64):
        req("POST", "/api/v1/vms/f%d/off" % i, {})
    req("POST", "/api/v1/vms/gvm/off", {})
    d.wait_state(adm, "gvm", ("stopped", "crashed"), timeout=20)

    # a VM that crashes keeps its undo disks (sup.c): their final size is recorded, also what
    # they grew since the supervisor's last record (under its 1 MiB step): no decision sees
    # that growth once the VM no longer runs
    s1, _ = req("POST", "/api/v1/vms/gvm/start", {}, ug)
    vdir = os.path.join(d.data, "vms", str(vm_id(d.data, "gvm")))
    up = wait_for(lambda: os.path.exists(os.path.join(vdir, "vmm.pid")) and
                  user_js("ug")["usage"]["disk_bytes"] == dsize + os.path.getsize(undo0), 20, 0.5)
    with open(undo0, "ab") as f:
        f.write(b"\0" * (512 * 1024))
    size5 = os.path.getsize(undo0)
    with open(os.path.join(vdir, "vmm.pid")) as f:
        os.kill(int(f.read().split()[0]), signal.SIGKILL)
    crashed = d.wait_state(adm, "gvm", ("crashed",), timeout=20)
    # (recorded after the state: waited for, up to 20 s)
    rec = wait_for(lambda: user_js("ug")["usage"]["disk_bytes"] == dsize + size5, 20, 0.5)
    u5 = user_js("ug")["usage"]["disk_bytes"]
    check("quota-undo-disk-crash-final-size", s1 in (200, 202) and up and crashed and rec and
          os.path.getsize(undo0) == size5,
          str((s1, up, crashed, size5, dsize, u5)))
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
