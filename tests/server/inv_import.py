"""A host joins a cluster with its inventory (`vsrv serve --cluster EP --inventory etcd
--import-inventory`, src/server/inv_import.c): what a single host made on SQLite (users and
their passwords, groups, networks, disks, VMs with their hardware, UUID, attachments and
MACs, a template, snapshot trees with their layers, grants, hooks) reads the same through
the cluster's API afterwards, from another host too; a VM's directory follows its new id;
the SQLite file is set aside and never imported twice; an inventory with a name the
cluster has already is refused whole, with nothing written. Run by tests/t-server-inv-etcd.sh."""
import json, os, shutil, sqlite3, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
import lib
from lib import *
from etcd_cluster import EtcdCluster, Unavailable

try:
    etcd = EtcdCluster(1).start()
except Unavailable as e:
    skip("inv-import", str(e))
    sys.exit(0)
if not os.path.exists(os.path.join(GUESTS, "hello.elf")):
    skip("inv-import", "build/guests/hello.elf is not built (make all)")
    sys.exit(0)

tmp = tempfile.mkdtemp(prefix="vsrv-inv-import.")
daemons = []
CLUSTER = ["--cluster", etcd.endpoints, "--inventory", "etcd", "--inventory-prefix", "/imp/"]


def data_dir(name):
    data = os.path.join(tmp, name)
    os.makedirs(os.path.join(data, "images"))
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(data, "images", "k.elf"))
    return data


def daemon(data, name, extra=()):
    d = Daemon(data, extra=list(extra) + (CLUSTER + ["--host-name", name] if name else []))
    daemons.append(d)
    return d


def serve_once(data, name, *extra):
    """vsrv serve that is expected to stop at once: (exit status, stderr)."""
    p = subprocess.run([VSRV, "serve", "--data-dir", data, "--listen", "127.0.0.1:%d" % free_port(),
                        "--init-admin", "admin:adminpass1"] + CLUSTER + ["--host-name", name] +
                       list(extra), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr


STRIP = ("id", "created", "updated", "rev", "vm_id", "started", "state", "status", "last_exit",
         "restarts", "monitor_pid", "host",
         # where a VM's image of the store is on the host answering (its name is the same)
         "kernel_path", "initrd_path")


def norm(x):
    """An answer without what an import changes by design (ids, times, run status)."""
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items() if k not in STRIP}
    if isinstance(x, list):
        return [norm(v) for v in x]
    return x


PATHS = ["/api/v1/vms/web", "/api/v1/vms/tmpl", "/api/v1/vms/web/snapshots", "/api/v1/disks",
         "/api/v1/networks", "/api/v1/users", "/api/v1/groups", "/api/v1/hooks",
         "/api/v1/permissions", "/api/v1/vms/web/permissions", "/api/v1/disks/d1/permissions",
         "/api/v1/networks/lan/permissions"]


def snapshot_of(d, tok):
    out = {}
    for p in PATHS:
        st, js = d.req("GET", p, token=tok)
        out[p] = (st, norm(js))
    return out


try:
    # --- a host alone, on SQLite ------------------------------------------------------------
    solo_data = data_dir("solo")
    solo = daemon(solo_data, None).start()
    t = solo.login("admin", "adminpass1")
    steps = [
        solo.req("POST", "/api/v1/users", {"name": "alice", "password": "Alice-pass1"}, token=t),
        solo.req("POST", "/api/v1/groups", {"name": "ops", "members": ["alice"]}, token=t),
        solo.req("POST", "/api/v1/networks", {"name": "lan", "kind": "nat",
                                              "subnet": "10.9.0.0/24"}, token=t),
        solo.req("POST", "/api/v1/disks", {"name": "d1", "size": 8 << 20, "format": "vhd"},
                 token=t),
        solo.req("POST", "/api/v1/vms", {"name": "web", "kernel": "k.elf", "memory_mib": 48,
                                         "description": "the web", "restart_policy": "always",
                                         "disks": [{"disk": "d1", "bus": "scsi"}],
                                         "nics": [{"network": "lan", "model": "e1000"}]},
                 token=t),
        solo.req("POST", "/api/v1/vms", {"name": "tmpl", "os_type": "windows"}, token=t),
        solo.req("PATCH", "/api/v1/vms/tmpl", {"template": True}, token=t),
        solo.req("POST", "/api/v1/vms/web/snapshots", {"name": "s1", "description": "one"},
                 token=t),
        solo.req("POST", "/api/v1/vms/web/snapshots", {"name": "s2"}, token=t),
        solo.req("POST", "/api/v1/vms/web/snapshots/s1/revert", None, token=t),
        solo.req("PUT", "/api/v1/vms/web/permissions", {"grants": [
            {"user": "alice", "permissions": ["view", "control"]}]}, token=t),
        solo.req("PUT", "/api/v1/disks/d1/permissions", {"grants": [
            {"group": "ops", "permissions": ["view"]}]}, token=t),
        solo.req("PUT", "/api/v1/permissions", {"grants": [
            {"user": "alice", "permissions": ["view"]}]}, token=t),
        solo.req("POST", "/api/v1/hooks", {"event": "vm-started", "command": "true"}, token=t),
        solo.req("PUT", "/api/v1/users/alice/quota", {"vms": 5, "disk_bytes": 1 << 30}, token=t),
    ]
    bad = [(i, s) for i, s in enumerate(steps) if s[0] not in (200, 201, 202, 204)]
    ok("import-setup", not bad, str(bad))
    # s2 with memory, as the server keeps it (docs/server.md "Snapshots with memory"; no KVM
    # here to save a guest): its file's size in its row, DIR/snapshots/SNAPID.vsav and .hw
    db = sqlite3.connect(os.path.join(solo_data, "inventory.db"), timeout=10)
    (old_s2,) = db.execute("SELECT s.id FROM snapshots s JOIN vms v ON v.id = s.vm_id "
                           "WHERE v.name = 'web' AND s.name = 's2'").fetchone()
    db.execute("UPDATE snapshots SET memory_bytes = ? WHERE id = ?", (len("s2's memory"), old_s2))
    # web and d1 are alice's (as if she had made them: quota.h's owners)
    db.execute("INSERT INTO owners (object_type, object_id, user_id) SELECT 'vm', v.id, u.id "
               "FROM vms v, users u WHERE v.name = 'web' AND u.name = 'alice'")
    db.execute("INSERT INTO owners (object_type, object_id, user_id) SELECT 'disk', d.id, u.id "
               "FROM disks d, users u WHERE d.name = 'd1' AND u.name = 'alice'")
    # an image of alice's, private (imgacl.h: its owner moves as the user's new id)
    db.execute("INSERT INTO images (name, owner, public) SELECT 'alice.iso', id, 0 FROM users "
               "WHERE name = 'alice'")
    db.commit()
    with open(os.path.join(solo_data, "images", "alice.iso"), "wb") as f:
        f.write(b"\0" * 4096)
    db.close()
    snapdir = os.path.join(solo_data, "vms", str(vm_id(solo_data, "web")), "snapshots")
    os.makedirs(snapdir)
    for ext, text in (("vsav", "s2's memory"), ("hw", "--memory 48M\n")):
        with open(os.path.join(snapdir, "%d.%s" % (old_s2, ext)), "w") as f:
            f.write(text)
    before = snapshot_of(solo, t)
    ok("import-setup-memory", [x["memory"] for x in before["/api/v1/vms/web/snapshots"][1]
                               ["snapshots"] if x["name"] == "s2"] == [True],
       str(before["/api/v1/vms/web/snapshots"]))
    st, web = solo.req("GET", "/api/v1/vms/web", token=t)
    old_id = vm_id(solo_data, "web")
    solo.stop()
    # the VM's directory (undo disks, UEFI variables and logs live there)
    os.makedirs(os.path.join(solo_data, "vms", str(old_id)), exist_ok=True)
    with open(os.path.join(solo_data, "vms", str(old_id), "marker"), "w") as f:
        f.write("web's")
    # tmpl as a save leaves it (tests/server/saved.py lays it out the same way: no KVM here
    # to save a guest): state saved in the inventory, DIR/save/saved.vsav
    tmpl_id = vm_id(solo_data, "tmpl")
    os.makedirs(os.path.join(solo_data, "vms", str(tmpl_id), "save"))
    with open(os.path.join(solo_data, "vms", str(tmpl_id), "save", "saved.vsav"), "w") as f:
        f.write("tmpl's saved state")
    db = sqlite3.connect(os.path.join(solo_data, "inventory.db"))
    db.execute("UPDATE vms SET state = 'saved', monitor_pid = 0 WHERE name = 'tmpl'")
    db.commit()
    db.close()

    # --- the cluster, with a host of its own ------------------------------------------------
    c1 = daemon(data_dir("c1"), "c1").start()
    tc = c1.login("admin", "adminpass1")
    st, _ = c1.req("POST", "/api/v1/vms", {"name": "other", "kernel": "k.elf"}, token=tc)
    # (snapshots of its own: the imported ones get other ids than they had)
    st2 = [c1.req("POST", "/api/v1/vms/other/snapshots", {"name": n}, token=tc)[0]
           for n in ("o1", "o2", "o3")]
    ok("import-cluster-setup", st == 201 and st2 == [201] * 3, str((st, st2)))

    # a host whose inventory has a name the cluster has: refused whole
    clash_data = data_dir("clash")
    clash = daemon(clash_data, None).start()
    tk = clash.login("admin", "adminpass1")
    clash.req("POST", "/api/v1/disks", {"name": "cdisk", "size": 1 << 20}, token=tk)
    clash.req("POST", "/api/v1/vms", {"name": "other", "kernel": "k.elf"}, token=tk)
    clash.stop()
    rc, err = serve_once(clash_data, "clash", "--import-inventory")
    st, js = c1.req("GET", "/api/v1/disks", token=tc)
    ok("import-conflict-refused", rc == 1 and "the cluster has already VM other" in err
       and "nothing was imported" in err, str((rc, err[-400:])))
    ok("import-conflict-writes-nothing", st == 200 and js["disks"] == [] and
       os.path.exists(os.path.join(clash_data, "inventory.db")), str((st, js)))
    rc, err = serve_once(clash_data, "clash", "--import-inventory", "--inventory", "sqlite")
    ok("import-needs-etcd", rc == 2 and "--import-inventory is for --inventory etcd" in err,
       str((rc, err[-300:])))

    # --cluster without --inventory keeps the inventory in etcd: a host whose own inventory
    # has VMs is refused (not started with them out of sight); a new host just joins
    p = subprocess.run([VSRV, "serve", "--data-dir", clash_data, "--listen",
                        "127.0.0.1:%d" % free_port(), "--cluster", etcd.endpoints,
                        "--inventory-prefix", "/imp/", "--host-name", "clash"],
                       capture_output=True, text=True, timeout=60)
    ok("cluster-default-refuses-own-inventory", p.returncode == 1 and
       "inventory.db is this host's own inventory (1 VMs, 1 disks, 0 networks)" in p.stderr and
       "--import-inventory" in p.stderr and "--inventory sqlite" in p.stderr,
       str((p.returncode, p.stderr[-400:])))
    fresh = daemon(data_dir("fresh"), None, ["--cluster", etcd.endpoints, "--inventory-prefix",
                                            "/imp/", "--host-name", "fresh"]).start()
    st, js = fresh.req("GET", "/api/v1/vms", token=fresh.login("admin", "adminpass1"))
    ok("cluster-default-inventory-etcd", st == 200 and
       [v["name"] for v in js["vms"]] == ["other"], str((st, js)))
    fresh.stop()

    # --- the host joins with its inventory --------------------------------------------------
    solo2 = daemon(solo_data, "solo", ["--import-inventory"]).start()
    with open(solo2.log.name) as f:
        log = f.read()
    ok("import-logged", "inventory imported into the cluster's: 2 VMs, 1 disks, 1 networks"
       in log and "1 users (1 already there)" in log, log[-600:])
    ok("import-file-set-aside", not os.path.exists(os.path.join(solo_data, "inventory.db")) and
       os.path.exists(os.path.join(solo_data, "inventory.db.imported")))
    t2 = solo2.login("admin", "adminpass1")
    after = snapshot_of(solo2, t2)
    after_c1 = snapshot_of(c1, tc)
    for p in PATHS:
        b, a = before[p], after[p]
        if p in ("/api/v1/users", "/api/v1/groups"):
            ok("import-same " + p, a[0] == 200 and a == after_c1[p] and
               all(x in a[1][p.rsplit("/", 1)[1]] for x in b[1][p.rsplit("/", 1)[1]]),
               str((b, a)))
        else:
            ok("import-same " + p, a == b and after_c1[p] == a, str((b, a)))
    st, js = solo2.req("GET", "/api/v1/images/alice.iso", token=t2)
    ok("import-image-owner", st == 200 and (js.get("owner"), js.get("public")) == ("alice", False),
       str((st, js)))
    # the imported row (no hosts) is this host's copy from its start: no other host's upload
    # takes the name (imgacl_sweep adopts it), and it counts the file's bytes
    got = etcd.get("/imp/t/images/alice.iso")
    irow = json.loads(got[0]) if got else {}
    ok("import-image-row-adopted", (irow.get("hosts"), irow.get("bytes")) == ("solo=4096", 4096),
       str(irow))
    st, js = c1.req("GET", "/api/v1/vms/web", token=tc)
    new_id = int(etcd.get("/imp/u/vms.name/web")[0])
    ok("import-uuid-kept", st == 200 and js.get("uuid") == web.get("uuid") and web.get("uuid"),
       str((js.get("uuid"), web.get("uuid"))))
    ok("import-vm-dir-moved", new_id != old_id and
       open(os.path.join(solo_data, "vms", str(new_id), "marker")).read() == "web's" and
       not os.path.exists(os.path.join(solo_data, "vms", str(old_id))), str((old_id, new_id)))
    snaps = {x["name"]: x for x in c1.req("GET", "/api/v1/vms/web/snapshots", token=tc)[1]["snapshots"]}
    new_s2 = etcd.get("/imp/u/snapshots.name/%d/s2" % new_id)
    files = sorted(os.listdir(os.path.join(solo_data, "vms", str(new_id), "snapshots")))
    ok("import-snapshot-memory-moved", snaps["s2"]["memory"] and snaps["s2"]["memory_bytes"] ==
       len("s2's memory") and not snaps["s1"]["memory"] and new_s2 and
       int(new_s2[0]) != old_s2 and files == ["%s.hw" % new_s2[0], "%s.vsav" % new_s2[0]] and
       open(os.path.join(solo_data, "vms", str(new_id), "snapshots", new_s2[0] + ".vsav")).read()
       == "s2's memory",
       str((old_s2, new_s2, files, snaps)))
    st, js = c1.req("GET", "/api/v1/vms/tmpl/status", token=tc)
    new_tmpl = int(etcd.get("/imp/u/vms.name/tmpl")[0])
    saved = os.path.join(solo_data, "vms", str(new_tmpl), "save", "saved.vsav")
    ok("import-saved-stays-saved", st == 200 and js["state"] == "saved" and
       os.path.exists(saved) and open(saved).read() == "tmpl's saved state", str((st, js)))
    st, js = c1.req("GET", "/api/v1/users/alice", token=tc)
    ok("import-quota-and-owners", st == 200 and js["quota"]["vms"] == 5 and
       js["quota"]["disk_bytes"] == 1 << 30 and js["usage"]["vms"] == 1 and
       js["usage"]["disks"] == 1 and js["usage"]["snapshots"] == 2, str((st, js)))
    ta = c1.login("alice", "Alice-pass1")
    st, js = c1.req("GET", "/api/v1/vms", token=ta)
    # alice's grants came along: view on the server (every VM), control on web only
    st2, js2 = c1.req("POST", "/api/v1/vms/tmpl/start", token=ta)
    ok("import-user-logs-in-elsewhere", ta is not None and st == 200 and
       [v["name"] for v in js["vms"]] == ["other", "tmpl", "web"] and st2 == 403,
       str((st, js, st2, js2)))
    solo2.stop()
    rc, err = serve_once(solo_data, "solo", "--import-inventory")
    ok("import-not-twice", rc == 1 and "no inventory to import" in err, str((rc, err[-300:])))
finally:
    for d in daemons:
        d.stop()
    etcd.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
