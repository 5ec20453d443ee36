"""Two hosts on one inventory in etcd (`vsrv serve --cluster EP --inventory etcd`): what one
creates, edits or deletes, the other sees at once; a name taken on one is taken on the
other; a third host on another --inventory-prefix sees none of it; the rows are the keys
docs/cluster.md describes. Run by tests/t-server-inv-etcd.sh."""
import json, os, shutil, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
import lib
from lib import *
from etcd_cluster import EtcdCluster, Unavailable

try:
    etcd = EtcdCluster(1).start()
except Unavailable as e:
    skip("inv-etcd-shared", str(e))
    sys.exit(0)

if not os.path.exists(os.path.join(GUESTS, "hello.elf")):
    skip("inv-etcd-shared", "build/guests/hello.elf is not built (make all)")
    sys.exit(0)
tmp = tempfile.mkdtemp(prefix="vsrv-inv-etcd.")
hosts = []


def host(name, prefix="/shared/"):
    data = os.path.join(tmp, name)
    os.makedirs(os.path.join(data, "images"))
    # the kernel, where both hosts find it (the cluster's shared storage)
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(data, "images", "k.elf"))
    d = Daemon(data, extra=["--cluster", etcd.endpoints, "--host-name", name,
                            "--inventory", "etcd", "--inventory-prefix", prefix]).start()
    hosts.append(d)
    return d


def row(table, id_):
    got = etcd.get("/shared/t/%s/%020d" % (table, id_))
    return json.loads(got[0]) if got else None


try:
    a, b = host("ha"), host("hb")
    ta, tb = a.login("admin", "adminpass1"), b.login("admin", "adminpass1")
    st, js = a.req("POST", "/api/v1/vms", {"name": "web", "kernel": "k.elf", "cpus": 2,
                                           "description": "made on a"}, token=ta)
    ok("create-on-a", st == 201, str((st, js)))
    st, js = b.req("GET", "/api/v1/vms/web", token=tb)
    ok("b-sees-a-vm", st == 200 and js["cpus"] == 2 and js["description"] == "made on a",
       str((st, js)))
    st, js = b.req("POST", "/api/v1/vms", {"name": "web", "kernel": "k.elf"}, token=tb)
    ok("name-taken-across-hosts-409", st == 409, str((st, js)))
    st, js = b.req("PATCH", "/api/v1/vms/web", {"cpus": 3, "description": "edited on b"},
                   token=tb)
    ok("edit-on-b", st == 200, str((st, js)))
    st, js = a.req("GET", "/api/v1/vms/web", token=ta)
    ok("a-sees-b-edit", st == 200 and js["cpus"] == 3 and js["description"] == "edited on b",
       str((st, js)))
    # a lists (and caches the page), then b adds a VM
    st, js = a.req("GET", "/api/v1/vms", token=ta)
    ok("a-lists-one", st == 200 and [v["name"] for v in js["vms"]] == ["web"], str((st, js)))
    st, js = b.req("POST", "/api/v1/vms", {"name": "api", "kernel": "k.elf"}, token=tb)
    ok("create-on-b", st == 201, str((st, js)))
    # a's list (cached under the inventory's generation) has b's new VM, in name order
    st, js = a.req("GET", "/api/v1/vms", token=ta)
    names = [v["name"] for v in js["vms"]] if st == 200 else js
    ok("a-lists-both-by-name", names == ["api", "web"], str(names))
    st, js = a.req("GET", "/api/v1/vms/api/status", token=ta)
    ok("a-reads-b-vm-status", st == 200 and js["state"] == "stopped", str((st, js)))
    # a user made on b logs in on a
    st, js = b.req("POST", "/api/v1/users", {"name": "carol", "password": "Carol-pass1"},
                   token=tb)
    ok("user-on-b", st == 201, str((st, js)))
    try:
        a.login("carol", "Carol-pass1")
        ok("user-logs-in-on-a", True)
    except RuntimeError as e:
        ok("user-logs-in-on-a", False, str(e))
    # the keys docs/cluster.md describes
    st, js = a.req("GET", "/api/v1/vms/web", token=ta)
    vid = js.get("id") if st == 200 else None
    name_claim = etcd.get("/shared/u/vms.name/web")
    ok("etcd-name-claim", name_claim is not None and (vid is None or int(name_claim[0]) == vid),
       str((name_claim, vid)))
    wid = int(name_claim[0]) if name_claim else 0
    cfg, status = row("vms", wid), row("vm_status", wid)
    ok("etcd-vm-rows", cfg is not None and cfg.get("name") == "web" and cfg.get("cpus") == 3
       and status is not None and status.get("state") == "stopped", str((cfg, status)))
    # A VM recorded up on the shared inventory that runs on another host (that host holds
    # its ownership key, docs/cluster.md): a host that restarts leaves its status alone
    # (without the check it would record the VM as ended: its monitor is not here).
    api_id = int(etcd.get("/shared/u/vms.name/api")[0])
    st_key = "/shared/t/vm_status/%020d" % api_id
    up = dict(row("vm_status", api_id) or {})
    up.update({"state": "running", "monitor_pid": 999999})
    etcd.put(st_key, json.dumps(up))
    lease = etcd.grant(120)
    etcd.put("/vsrv/vms/api/owner", json.dumps({"host": "ha"}), lease=lease)
    # a task host ha runs, and one a daemon before tasks had hosts left running (the rows
    # as inv_etcd_task.c writes them): b's restart fails only the second
    for tid, h in ((900001, "ha"), (900002, None)):
        etcd.put("/shared/t/tasks/%020d" % tid, json.dumps(
            {"kind": "disk-copy", "object": "d%d" % tid, "state": "running", "progress": 0.5,
             "error": None, "user": "admin", "host": h, "created": 1.0, "finished": None}))
        etcd.put("/shared/t/task_running/%020d" % tid, json.dumps(
            {"kind": "disk-copy", "object": "d%d" % tid, "host": h}))
    b.stop()
    b.start()
    tb = b.login("admin", "adminpass1")
    st1, t1 = a.req("GET", "/api/v1/tasks/900001", token=ta)
    st2, t2 = a.req("GET", "/api/v1/tasks/900002", token=ta)
    ok("restart-leaves-other-host-task-running",
       st1 == 200 and t1["state"] == "running" and t1["host"] == "ha", str((st1, t1)))
    ok("restart-fails-hostless-task", st2 == 200 and t2["state"] == "failed" and
       t2["host"] is None and "restart" in (t2["error"] or ""), str((st2, t2)))
    st, js = a.req("GET", "/api/v1/vms/api/status", token=ta)
    ok("restart-leaves-other-host-vm-alone", st == 200 and js["state"] == "running",
       str((st, js)))
    with open(b.log.name) as f:
        blog = f.read()
    ok("restart-says-why", "vm api: runs on another host of the cluster: left alone" in blog,
       blog[-800:])
    # its host is gone (the key went with its lease): the next host to restart records
    # the VM's end, as for a VM of its own that ended while no daemon watched
    etcd.revoke(lease)
    b.stop()
    b.start()
    tb = b.login("admin", "adminpass1")
    st, js = a.req("GET", "/api/v1/vms/api/status", token=ta)
    ok("restart-records-end-of-orphan", st == 200 and js["state"] in ("crashed", "stopped"),
       str((st, js)))
    # images' owners are the shared inventory's, the files each host's: alice's private image
    # on a stays hers when bob uploads the same name on b (refused, 409), or when an upload of
    # it fails on b (alice's own: the row was there before it)
    for u in ("alice", "bob"):
        a.req("POST", "/api/v1/users", {"name": u, "password": "Password-" + u}, token=ta)
    a.req("PUT", "/api/v1/permissions", {"grants": [{"user": u, "permissions": ["modify", "remove"]}
                                                    for u in ("alice", "bob")]}, token=ta)
    al_a, bo_a = a.login("alice", "Password-alice"), a.login("bob", "Password-bob")
    al_b, bo_b = b.login("alice", "Password-alice"), b.login("bob", "Password-bob")

    def put(d, tok, name, data, query=""):
        c = d.conn()
        c.request("PUT", "/api/v1/images/" + name + query, body=data,
                  headers={"Authorization": "Bearer " + tok})
        r = c.getresponse()
        st, body = r.status, r.read()
        c.close()
        return st, body

    got = [put(a, al_a, "shared.iso", b"\1" * 4096)[0], put(b, bo_b, "shared.iso", b"\2" * 4096)[0],
           put(b, al_b, "shared.iso", b"\3" * 4096, "?sha256=" + "0" * 64)[0]]
    st, js = a.req("GET", "/api/v1/images/shared.iso", token=bo_a)
    st2, js2 = a.req("GET", "/api/v1/images/shared.iso", token=al_a)
    ok("image-owner-kept-across-hosts", got == [201, 409, 400] and st == 404 and st2 == 200 and
       (js2.get("owner"), js2.get("public")) == ("alice", False) and
       not os.path.exists(os.path.join(b.data, "images", "shared.iso")), str((got, st, js, st2, js2)))
    # alice's image on both hosts: deleting it on b leaves the one on a hers (private)
    got = [put(a, al_a, "both.iso", b"\4" * 4096)[0], put(b, al_b, "both.iso", b"\4" * 4096)[0],
           b.req("DELETE", "/api/v1/images/both.iso", token=al_b)[0]]
    st, js = a.req("GET", "/api/v1/images/both.iso", token=bo_a)
    st2, js2 = a.req("GET", "/api/v1/images/both.iso", token=al_a)
    ok("image-owner-kept-when-deleted-on-other-host", got == [201, 201, 204] and st == 404 and
       st2 == 200 and (js2.get("owner"), js2.get("public")) == ("alice", False), str((got, st, js, st2, js2)))
    # alice's image on both hosts, a big copy on a, a small one on b: her usage counts the
    # bigger (the small copy's end must not make the big one on a free of her quota), also
    # after b restarts (its sweep records its file's size)
    base = a.req("GET", "/api/v1/users/alice", token=ta)[1].get("usage", {}).get("disk_bytes")
    got = [put(a, al_a, "two.iso", b"\6" * 65536)[0], put(b, al_b, "two.iso", b"\6" * 4096)[0]]
    u1 = a.req("GET", "/api/v1/users/alice", token=ta)[1].get("usage", {})
    b.stop()
    b.start()
    tb = b.login("admin", "adminpass1")
    u2 = a.req("GET", "/api/v1/users/alice", token=ta)[1].get("usage", {})
    ok("image-bytes-count-biggest-copy-across-hosts", got == [201, 201] and
       base is not None and u1.get("disk_bytes") == base + 65536 and
       u2.get("disk_bytes") == base + 65536, str((got, base, u1, u2)))
    # removing the big copy (on a) counts the small one left (on b) at once, not at a restart
    st = a.req("DELETE", "/api/v1/images/two.iso", token=al_a)[0]
    u3 = a.req("GET", "/api/v1/users/alice", token=ta)[1].get("usage", {})
    ok("image-bytes-after-removing-one-copy", st == 204 and u3.get("disk_bytes") == base + 4096,
       str((st, base, u3)))
    b.req("DELETE", "/api/v1/images/two.iso", token=al_b)
    # a stale row: alice's image on a only, its file gone at a's start. The name is free on
    # every host (bob's upload on b is his, private), and alice's quota no longer holds it
    got = [put(a, al_a, "gone.iso", b"\7" * 8192)[0], put(b, bo_b, "gone.iso", b"\2" * 4096)[0]]
    a.stop()
    os.unlink(os.path.join(a.data, "images", "gone.iso"))
    a.start()
    ta, al_a, bo_a = (a.login(u, p) for u, p in (("admin", "adminpass1"), ("alice", "Password-alice"),
                                                  ("bob", "Password-bob")))
    got.append(put(b, bo_b, "gone.iso", b"\2" * 4096)[0])
    st, js = b.req("GET", "/api/v1/images/gone.iso", token=bo_b)
    st2 = b.req("GET", "/api/v1/images/gone.iso", token=al_b)[0]
    st3 = a.req("GET", "/api/v1/images/gone.iso", token=al_a)[0]
    u4 = a.req("GET", "/api/v1/users/alice", token=ta)[1].get("usage", {})
    ok("image-stale-row-name-free-on-other-host", got == [201, 409, 201] and st == 200 and
       (js.get("owner"), js.get("public")) == ("bob", False) and st2 == 404 and st3 == 404 and
       u4.get("disk_bytes") == base, str((got, st, js, st2, st3, base, u4)))
    # alice's copy on a comes back (a store mounted late, a file restored) while the name is
    # bob's row, of b's copy only: that file is no copy of bob's image. Bob must not read,
    # list, use or delete alice's bytes through his row, before a's restart nor after it
    with open(os.path.join(a.data, "images", "gone.iso"), "wb") as f:
        f.write(b"\7" * 8192)

    def bob_on_a():
        lst = a.req("GET", "/api/v1/images", token=bo_a)[1]
        names = [i.get("name") for i in lst.get("images", [])] if isinstance(lst, dict) else None
        return (a.req("GET", "/api/v1/images/gone.iso", token=bo_a)[0], names is not None and
                "gone.iso" in names,
                a.req("POST", "/api/v1/disks", {"name": "fromgone", "from_image": "gone.iso"},
                      token=bo_a)[0])

    seen = [bob_on_a()]
    a.stop()
    a.start()
    ta, al_a, bo_a = (a.login(u, p) for u, p in (("admin", "adminpass1"), ("alice", "Password-alice"),
                                                  ("bob", "Password-bob")))
    seen.append(bob_on_a())
    dl = a.req("DELETE", "/api/v1/images/gone.iso", token=bo_a)[0]
    ok("image-reappeared-copy-not-the-new-owners",
       all(s[0] == 404 and not s[1] and s[2] in (403, 404) for s in seen) and dl == 404 and
       os.path.exists(os.path.join(a.data, "images", "gone.iso")) and
       b.req("GET", "/api/v1/images/gone.iso", token=bo_b)[0] == 200, str((seen, dl)))
    # nor does an administrator's PATCH on a make that file a copy of bob's row (409: the row
    # still names b's copy alone, and bob still cannot reach alice's bytes on a)
    pst = a.req("PATCH", "/api/v1/images/gone.iso", {"public": True}, token=ta)[0]
    after = (a.req("GET", "/api/v1/images/gone.iso", token=bo_a)[0],
             b.req("GET", "/api/v1/images/gone.iso", token=bo_b)[1])
    ok("image-reappeared-copy-admin-patch-409", pst == 409 and after[0] == 404 and
       isinstance(after[1], dict) and after[1].get("public") is False, str((pst, after)))
    if os.path.exists(os.path.join(a.data, "images", "gone.iso")):
        os.unlink(os.path.join(a.data, "images", "gone.iso"))
    b.req("DELETE", "/api/v1/images/gone.iso", token=bo_b)
    # deleted on every host that held it: the name is free again
    got = [a.req("DELETE", "/api/v1/images/both.iso", token=al_a)[0], put(b, bo_b, "both.iso", b"\5" * 4096)[0]]
    st, js = b.req("GET", "/api/v1/images/both.iso", token=bo_b)
    st2, _ = a.req("GET", "/api/v1/images/both.iso", token=al_a)
    ok("image-name-free-when-deleted-everywhere", got == [204, 201] and st == 200 and
       js.get("owner") == "bob" and st2 == 404, str((got, st, js, st2)))
    # another prefix: another inventory
    c = host("hc", prefix="/other/")
    tc = c.login("admin", "adminpass1")
    st, js = c.req("GET", "/api/v1/vms", token=tc)
    ok("other-prefix-sees-nothing", st == 200 and js["vms"] == [], str((st, js)))
    # deleted on a: gone on b, the name free again
    st, js = a.req("DELETE", "/api/v1/vms/web", token=ta)
    ok("delete-on-a", st in (200, 204), str((st, js)))
    st, js = b.req("GET", "/api/v1/vms/web", token=tb)
    ok("b-sees-delete", st == 404, str((st, js)))
    ok("etcd-rows-gone", row("vms", wid) is None and row("vm_status", wid) is None
       and etcd.get("/shared/u/vms.name/web") is None, str((row("vms", wid),)))
    st, js = b.req("POST", "/api/v1/vms", {"name": "web", "kernel": "k.elf"}, token=tb)
    ok("name-free-again", st == 201, str((st, js)))
finally:
    for d in hosts:
        d.stop()
    etcd.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
