"""Snapshot trees, clones and templates of VMs that are off (issue 15): POST/GET
/api/v1/vms/NAME/snapshots, .../snapshots/SNAP/revert, DELETE .../snapshots/SNAP,
POST /api/v1/vms/NAME/clone {linked}, PATCH {template}, POST /api/v1/vms {from_template}.
Data is written into the image a VM runs on with `vsrv img convert -n` (what a guest would
write) and checked with `vsrv img compare` against the expected bytes; the images are
found through the inventory (layers, snapshot_images). Without /dev/kvm no VM runs: the
running-VM checks (a live snapshot without memory of a running and of a paused VM, the
guest going on; 409 for a revert and a clone of a running VM) skip; snapshots with memory
are memsnap.py's."""
import fcntl, os, shutil, struct, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
from invrows import rows, select

tmp = tempfile.mkdtemp(prefix="vsrv-snaps.")
d = Daemon(os.path.join(tmp, "data"), extra=["--shutdown-timeout", "1"]).start()
shutil.copy(os.path.join(GUESTS, "console.elf"), os.path.join(d.data, "images"))
adm = d.login("admin", "adminpass1")


def req(m, p, b=None, tok=None):
    return d.req(m, p, b, token=tok or adm)


def msg(js):
    return (js or {}).get("error", {}).get("message", "") if isinstance(js, dict) else str(js)


def user(name):
    req("POST", "/api/v1/users", {"name": name, "password": "Password-" + name})
    return d.login(name, "Password-" + name)


def disk_path(name):
    """The image file of disk name (None: no such disk)."""
    r = select(d, "disks", name=name)
    return r[0]["path"] if r else None


def vm_id(name):
    return select(d, "vms", name=name)[0]["id"]


def top(vm, disk):
    """The image VM vm runs on for disk: its top layer, or the disk's file."""
    v, k = select(d, "vms", name=vm), select(d, "disks", name=disk)
    r = [l["path"] for l in select(d, "layers", kind="top") if v and k and
         l["vm_id"] == v[0]["id"] and l["disk_id"] == k[0]["id"]]
    return r[0] if r else disk_path(disk)


def snap_image(vm, snap, disk):
    v, k = select(d, "vms", name=vm), select(d, "disks", name=disk)
    s = [x["id"] for x in select(d, "snapshots", name=snap) if v and x["vm_id"] == v[0]["id"]]
    r = [i["path"] for i in rows(d, "snapshot_images") if k and i["snapshot_id"] in s and
         i["disk_id"] == k[0]["id"]]
    return r[0] if r else None


def img(*args):
    return subprocess.run([VSRV, "img"] + list(args), capture_output=True, text=True)


SIZE = None
n_raw = [0]


def raw_of(data):
    n_raw[0] += 1
    p = os.path.join(tmp, "x%d.raw" % n_raw[0])
    with open(p, "wb") as f:
        f.write(bytes(data))
    return p


def write(path, data):
    """Make the image at path read as data (a guest's writes: only the changed chunks)."""
    r = img("convert", "-n", "-f", "raw", "-O", "vhd", raw_of(data), path)
    assert r.returncode == 0, r.stdout + r.stderr


def same(path, data):
    r = img("compare", "-f", "raw", "-F", "vhd", raw_of(data), path)
    return r.returncode == 0


def pattern(data, off, ch, n=65536):
    out = bytearray(data)
    out[off:off + n] = ch * n
    return out


def tree(vm):
    st, js = req("GET", "/api/v1/vms/%s/snapshots" % vm)
    return {s["name"]: s for s in js["snapshots"]} if st == 200 else None, js


def task_end(tid, timeout=30):
    return wait_for(lambda: (lambda r: r[1] if r[0] == 200 and r[1]["state"] != "running" else None)(
        req("GET", "/api/v1/tasks/%d" % tid)), timeout)


def delete_snap(vm, snap):
    """DELETE a snapshot: 202 and its task, waited for. (status, answer, the ended task)"""
    st, js = req("DELETE", "/api/v1/vms/%s/snapshots/%s" % (vm, snap))
    return st, js, task_end(js["task"]) if st == 202 else None


def layers():
    return sorted(os.listdir(os.path.join(d.data, "layers"))) if os.path.isdir(
        os.path.join(d.data, "layers")) else []


try:
    # --- a linear tree, reverts, a middle delete ---------------------------------------
    req("POST", "/api/v1/disks", {"name": "md", "size": 8 << 20, "format": "vhd"})
    SIZE = req("GET", "/api/v1/disks/md")[1]["size"]
    st, _ = req("POST", "/api/v1/vms", {"name": "m", "kernel": "console.elf", "memory_mib": 32,
                                         "disks": [{"disk": "md"}]})
    ok("snap-setup", st == 201, str(st))
    st, js = req("GET", "/api/v1/vms/m/snapshots")
    ok("snap-list-empty", st == 200 and js == {"vm": "m", "current": None, "snapshots": []}, str((st, js)))

    A = pattern(bytearray(SIZE), 1 << 20, b"A")
    write(top("m", "md"), A)
    st, js = req("POST", "/api/v1/vms/m/snapshots", {"name": "m1", "description": "first"})
    md_file = disk_path("md")
    ok("snap-create", st == 201 and js["current"] == "m1" and js["snapshots"][0]["parent"] is None
       and js["snapshots"][0]["description"] == "first" and top("m", "md") != md_file
       and snap_image("m", "m1", "md") == md_file and len(layers()) == 1, str((st, js, layers())))
    B = pattern(A, 3 << 20, b"B")
    write(top("m", "md"), B)
    ok("snap-base-frozen", same(md_file, A) and same(top("m", "md"), B))
    st, js = req("POST", "/api/v1/vms/m/snapshots", {"name": "m1"})
    ok("snap-duplicate-409", st == 409 and "m1" in msg(js), str((st, js)))
    req("POST", "/api/v1/vms/m/snapshots", {"name": "m2"})
    C = pattern(pattern(B, 5 << 20, b"C"), (1 << 20) + 32768, b"c")  # also over part of A
    write(top("m", "md"), C)
    req("POST", "/api/v1/vms/m/snapshots", {"name": "m3"})
    D = pattern(C, 6 << 20, b"D")
    write(top("m", "md"), D)
    t, js = tree("m")
    ok("snap-tree", t and js["current"] == "m3" and t["m1"]["children"] == ["m2"] and
       t["m2"]["parent"] == "m1" and t["m3"]["parent"] == "m2" and t["m3"]["current"] and
       [x["disk"] for x in t["m2"]["disks"]] == ["md"], str(js))
    ok("snap-states", same(snap_image("m", "m1", "md"), A) and same(snap_image("m", "m2", "md"), B)
       and same(snap_image("m", "m3", "md"), C) and same(top("m", "md"), D))

    # delete the middle one: m3's image merges into m2's; every state reads the same
    before = layers()
    st, js, tk = delete_snap("m", "m2")
    t, js2 = tree("m")
    ok("snap-delete-middle", st == 202 and tk["state"] == "done" and tk["kind"] == "vm-snapshot-delete"
       and t and sorted(t) == ["m1", "m3"] and
       t["m3"]["parent"] == "m1" and t["m1"]["children"] == ["m3"] and len(layers()) == len(before) - 1,
       str((st, js, js2, before, layers())))
    ok("snap-delete-middle-data", same(snap_image("m", "m1", "md"), A) and
       same(snap_image("m", "m3", "md"), C) and same(top("m", "md"), D))
    r = img("check", top("m", "md"))
    ok("snap-delete-middle-check", r.returncode == 0, r.stdout + r.stderr)

    # revert to m1: the state since m3 is dropped; m3 stays
    st, js = req("POST", "/api/v1/vms/m/snapshots/m1/revert")
    ok("snap-revert", st == 200 and js["current"] == "m1" and same(top("m", "md"), A) and
       same(snap_image("m", "m3", "md"), C), str((st, js)))
    E = pattern(A, 2 << 20, b"E")
    write(top("m", "md"), E)
    st, js = req("POST", "/api/v1/vms/m/snapshots/m3/revert", {})
    ok("snap-revert-other-branch", st == 200 and js["current"] == "m3" and same(top("m", "md"), C), str((st, js)))
    st, js = req("POST", "/api/v1/vms/m/snapshots/m1/revert")
    req("POST", "/api/v1/vms/m/snapshots", {"name": "m4"})
    write(top("m", "md"), E)
    # m1 has two children now (m3, m4): it cannot merge into both
    st, js, _ = delete_snap("m", "m1")
    ok("snap-delete-two-children-409", st == 409 and "m3" in msg(js) and "m4" in msg(js), str((st, js)))
    st, js, tk = delete_snap("m", "m3")
    t, _ = tree("m")
    ok("snap-delete-leaf", st == 202 and tk["state"] == "done" and t and sorted(t) == ["m1", "m4"] and
       same(snap_image("m", "m4", "md"), A) and same(top("m", "md"), E) and len(layers()) == 2,
       str((st, js, layers())))
    # deleting the current snapshot merges the current state into its image
    st, js0, tk = delete_snap("m", "m4")
    st2, _, tk2 = delete_snap("m", "m1")
    t, js = tree("m")
    ok("snap-delete-all-merges-back", st == 202 and st2 == 202 and tk["state"] == tk2["state"] == "done"
       and t == {} and
       top("m", "md") == md_file and same(md_file, E) and layers() == [], str((st, js0, st2, js, layers())))

    # a merge that cannot run (an image it must change is in use: a lock as a VMM holds
    # on its disks) fails its task and changes nothing; once free, the delete goes through
    req("POST", "/api/v1/vms/m/snapshots", {"name": "k1"})
    K1 = pattern(E, 2 << 20, b"K")
    write(top("m", "md"), K1)
    req("POST", "/api/v1/vms/m/snapshots", {"name": "k2"})
    K2 = pattern(K1, 3 << 20, b"L")
    write(top("m", "md"), K2)
    fd = os.open(top("m", "md"), os.O_RDONLY)
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_RDLCK, 0, 100, 1, 0))
    st, js, tk = delete_snap("m", "k1")
    t, _ = tree("m")
    ok("snap-delete-busy-task-fails", st == 202 and tk and tk["state"] == "failed" and "in use" in
       (tk["error"] or "") and sorted(t) == ["k1", "k2"] and same(snap_image("m", "k1", "md"), E) and
       same(snap_image("m", "k2", "md"), K1) and same(top("m", "md"), K2), str((st, js, tk, t)))
    os.close(fd)
    st, js, tk = delete_snap("m", "k1")
    t, _ = tree("m")
    ok("snap-delete-after-busy", st == 202 and tk["state"] == "done" and sorted(t) == ["k2"] and
       same(snap_image("m", "k2", "md"), K1) and same(top("m", "md"), K2), str((st, js, tk, t)))
    delete_snap("m", "k2")
    ok("snap-delete-back-to-disk", tree("m")[0] == {} and same(md_file, K2) and layers() == [], str(layers()))
    E = K2

    # bad input
    st, js = req("POST", "/api/v1/vms/m/snapshots/nope/revert")
    st2, js2, _ = delete_snap("m", "nope")
    ok("snap-unknown-404", st == 404 and st2 == 404 and "nope" in msg(js), str((st, js, st2, js2)))
    st, js = req("POST", "/api/v1/vms/m/snapshots", {"description": "x"})
    st2, _ = req("POST", "/api/v1/vms/m/snapshots", {"name": "bad/name"})
    st3, _ = req("POST", "/api/v1/vms/m/snapshots/x/undo")
    ok("snap-bad-input", st == 400 and st2 == 400 and st3 == 404, str((st, js, st2, st3)))
    req("POST", "/api/v1/disks", {"name": "rd", "size": 1 << 20})
    req("POST", "/api/v1/vms", {"name": "r", "kernel": "console.elf", "disks": [{"disk": "rd"}]})
    st, js = req("POST", "/api/v1/vms/r/snapshots", {"name": "s"})
    ok("snap-raw-400", st == 400 and "VHD" in msg(js), str((st, js)))
    st, js = req("POST", "/api/v1/vms/nosuch/snapshots", {"name": "s"})
    ok("snap-no-vm-404", st == 404, str((st, js)))

    # undo disks and snapshots: refused while undo disks are on the host
    req("POST", "/api/v1/vms/m/snapshots", {"name": "u1"})
    vid = vm_id("m")
    vdir = os.path.join(d.data, "vms", str(vid))
    os.makedirs(vdir, exist_ok=True)
    img("create", "-f", "vhd", "-b", top("m", "md"), os.path.join(vdir, "undo-0.vhd"))
    st, js = req("POST", "/api/v1/vms/m/snapshots", {"name": "u2"})
    st2, js2 = req("POST", "/api/v1/vms/m/snapshots/u1/revert")
    ok("snap-undo-disks-409", st == 409 and st2 == 409 and "undo disks" in msg(js), str((st, js, st2, js2)))
    req("POST", "/api/v1/vms/m/undo-disks?action=discard")

    # the disk under snapshots is frozen: no resize, no writable use by another VM
    st, js = req("PATCH", "/api/v1/disks/md", {"size": 16 << 20})
    ok("snap-frozen-disk-resize-409", st == 409 and "frozen" in msg(js), str((st, js)))
    req("POST", "/api/v1/vms", {"name": "other", "kernel": "console.elf", "disks": [{"disk": "md"}]})
    st, js = req("POST", "/api/v1/vms/other/start")
    ok("snap-frozen-disk-start-409", st == 409 and "frozen" in msg(js), str((st, js)))
    req("DELETE", "/api/v1/vms/other")
    st, js = req("PATCH", "/api/v1/vms/m", {"disks": []})
    ok("snap-disks-edit-409", st == 409 and "snapshots" in msg(js), str((st, js)))
    st, js = req("DELETE", "/api/v1/vms/m")
    ok("snap-vm-delete-needs-disks-409", st == 409 and "disks=true" in msg(js), str((st, js)))

    # --- clones ----------------------------------------------------------------------------
    F = pattern(E, 7 << 20, b"F")
    write(top("m", "md"), F)
    st, js = req("POST", "/api/v1/vms/m/clone", {"name": "lc", "linked": True})
    ok("clone-linked", st == 201 and js["name"] == "lc" and js["disks"][0]["disk"] == "lc-md" and
       js["template"] is False and same(top("lc", "lc-md"), F), str((st, js)))
    info = img("info", "--output=json", disk_path("lc-md")).stdout
    ok("clone-linked-differencing", '"backing-filename"' in info or "differencing" in info, info)
    G = pattern(F, 4 << 20, b"G")
    write(top("m", "md"), G)
    H = pattern(F, 4 << 20, b"H")
    write(top("lc", "lc-md"), H)
    ok("clone-linked-independent", same(top("m", "md"), G) and same(top("lc", "lc-md"), H))
    st, js = req("POST", "/api/v1/vms/m/clone", {"name": "fc"})
    t = task_end(js["task"]) if st == 202 else None
    fc = disk_path("fc-md")
    ok("clone-full", st == 202 and t and t["state"] == "done" and fc and same(fc, G) and
       "differencing" not in img("info", fc).stdout and req("GET", "/api/v1/vms/fc")[0] == 200,
       str((st, js, t, fc)))
    st, js = req("POST", "/api/v1/vms/m/clone", {"name": "lc"})
    st2, js2 = req("POST", "/api/v1/vms/m/clone", {"name": "x", "linked": "yes"})
    ok("clone-bad-input", st == 409 and st2 == 400, str((st, js, st2, js2)))

    # the source of the linked clone goes (with its disks): the clone reads the same
    st, js = req("DELETE", "/api/v1/vms/m?disks=true")
    ok("clone-source-deleted", st == 204 and same(top("lc", "lc-md"), H) and
       req("GET", "/api/v1/disks/md")[0] == 404 and os.path.exists(md_file), str((st, js)))
    r = img("check", top("lc", "lc-md"))
    ok("clone-source-deleted-chain", r.returncode == 0, r.stdout + r.stderr)
    st, js = req("DELETE", "/api/v1/vms/lc?disks=true")
    ok("clone-last-user-deleted", st == 204 and not os.path.exists(md_file) and layers() == [],
       str((st, js, layers(), os.path.exists(md_file))))

    # --- templates -------------------------------------------------------------------------
    req("POST", "/api/v1/disks", {"name": "td", "size": 8 << 20, "format": "vhd"})
    T = pattern(bytearray(SIZE), 1 << 20, b"T")
    req("POST", "/api/v1/vms", {"name": "t", "kernel": "console.elf", "disks": [{"disk": "td"}]})
    write(top("t", "td"), T)
    st, js = req("PATCH", "/api/v1/vms/t", {"template": True})
    st2, js2 = req("POST", "/api/v1/vms/t/start")
    ok("template-mark", st == 200 and js["template"] is True and st2 == 409 and "template" in msg(js2),
       str((st, js, st2, js2)))
    st, js = req("POST", "/api/v1/vms", {"name": "t1", "from_template": "t"})
    ok("template-new-vm", st == 201 and js["template"] is False and same(top("t1", "t1-td"), T), str((st, js)))
    # a second VM from the template shares the same frozen image: the template's chain
    # does not grow with every clone (its top stays empty: a template never runs)
    n = len(layers())
    st, js = req("POST", "/api/v1/vms", {"name": "t5", "from_template": "t", "linked": True})
    par = lambda disk: [(l["parent"],) for l in select(d, "layers", path=disk_path(disk))]
    td_file = disk_path("td")
    ok("template-clones-share-base", st == 201 and len(layers()) == n and
       par("t1-td") == par("t5-td") == [(td_file,)], str((st, js, n, layers(), par("t1-td"), par("t5-td"))))
    t5_file = disk_path("t5-td")
    st, _ = req("DELETE", "/api/v1/vms/t5")
    st2, _ = req("DELETE", "/api/v1/disks/t5-td")
    st3, js3 = req("PATCH", "/api/v1/disks/td", {"size": 16 << 20})
    st4, js4 = req("DELETE", "/api/v1/disks/td")
    ok("template-clone-disk-deleted", st == 204 and st2 == 204 and not os.path.exists(t5_file) and
       same(top("t1", "t1-td"), T) and st3 == 409 and st4 == 409, str((st, st2, st3, js3, st4, js4)))
    st, js = req("POST", "/api/v1/vms", {"name": "t2", "from_template": "fc"})
    st2, js2 = req("POST", "/api/v1/vms", {"name": "t3", "from_template": "nosuch"})
    st3, _ = req("POST", "/api/v1/vms", {"name": "t4", "from_template": "t", "cpus": 2})
    ok("template-bad", st == 400 and "not a template" in msg(js) and st2 == 404 and st3 == 400,
       str((st, js, st2, js2, st3)))

    # --- the CLI ----------------------------------------------------------------------------
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSRV_")}
    env.update(HOME=tmp, VSRV_SERVER="http://127.0.0.1:%d" % d.port, VSRV_TOKEN=adm)

    def cli(*args):
        return subprocess.run([VSRV] + list(args), env=env, capture_output=True, text=True, timeout=60)
    req("POST", "/api/v1/disks", {"name": "cd", "size": 4 << 20, "format": "vhd"})
    cli("vm", "create", "cv", "--kernel", "console.elf", "--disk", "cd")
    r1 = cli("vm", "snapshot", "create", "cv", "c1", "--description", "clean")
    r2 = cli("vm", "snapshot", "create", "cv", "c2")
    r3 = cli("vm", "snapshot", "revert", "cv", "c1")
    r4 = cli("vm", "snapshot", "list", "cv")
    ok("cli-snapshot", r1.returncode == 0 and r2.returncode == 0 and r3.returncode == 0 and
       r4.returncode == 0 and r4.stdout.splitlines()[0].startswith("c1 (current)") and "clean" in r4.stdout
       and r4.stdout.splitlines()[1].startswith("  c2"), str((r1, r2, r3, r4)))
    r5 = cli("vm", "snapshot", "delete", "cv", "c2")
    r6 = cli("vm", "snapshot", "bogus", "cv")
    r7 = cli("vm", "snapshot", "revert", "cv", "nope")
    ok("cli-snapshot-delete-and-errors", r5.returncode == 0 and r6.returncode == 2 and
       r7.returncode == 1 and "nope" in r7.stderr and tree("cv")[0].keys() == {"c1"}, str((r5, r6, r7)))
    r1 = cli("vm", "clone", "cv", "cvl", "--linked")
    r2 = cli("vm", "edit", "cv", "--template", "yes")
    r3 = cli("vm", "create", "cvt", "--from-template", "cv")
    r4 = cli("vm", "start", "cv")
    ok("cli-clone-template", r1.returncode == 0 and "linked" in r1.stdout and r2.returncode == 0 and
       r3.returncode == 0 and req("GET", "/api/v1/vms/cvt")[0] == 200 and r4.returncode == 1 and
       "template" in r4.stderr, str((r1, r2, r3, r4)))

    # --- permissions -------------------------------------------------------------------------
    bob = user("bob")
    st, _ = req("GET", "/api/v1/vms/fc/snapshots", tok=bob)
    st2, _ = req("POST", "/api/v1/vms/fc/snapshots", {"name": "b"}, tok=bob)
    st3, _ = req("POST", "/api/v1/vms/fc/clone", {"name": "b"}, tok=bob)
    st4, _ = req("POST", "/api/v1/vms", {"name": "b", "from_template": "t"}, tok=bob)
    ok("perm-hidden-404", (st, st2, st3) == (404, 404, 404) and st4 == 403, str((st, st2, st3, st4)))
    req("PUT", "/api/v1/vms/fc/permissions", {"grants": [{"user": "bob", "permissions": ["view"]}]})
    req("PUT", "/api/v1/vms/t/permissions", {"grants": [{"user": "bob", "permissions": ["view"]}]})
    st, _ = req("GET", "/api/v1/vms/fc/snapshots", tok=bob)
    st2, _ = req("POST", "/api/v1/vms/fc/snapshots", {"name": "b"}, tok=bob)
    st3, _ = req("POST", "/api/v1/vms/fc/clone", {"name": "b"}, tok=bob)
    ok("perm-view-only", (st, st2, st3) == (200, 403, 403), str((st, st2, st3)))
    req("PUT", "/api/v1/vms/fc/permissions", {"grants": [{"user": "bob", "permissions": ["control"]}]})
    st, _ = req("POST", "/api/v1/vms/fc/snapshots", {"name": "b"}, tok=bob)
    st2, js2 = req("POST", "/api/v1/vms/fc/clone", {"name": "b", "linked": True}, tok=bob)
    ok("perm-control-no-server-modify", st == 201 and st2 == 403, str((st, st2, js2)))
    req("PUT", "/api/v1/permissions", {"grants": [{"user": "bob", "permissions": ["modify"]}]})
    # a clone reads the source's disks: view on each is needed too (tenant3.py)
    st, js = req("POST", "/api/v1/vms/fc/clone", {"name": "bc", "linked": True}, tok=bob)
    st2, js2 = req("POST", "/api/v1/vms", {"name": "bt", "from_template": "t"}, tok=bob)
    ok("perm-clone-needs-view-on-disks", (st, st2) == (403, 403), str((st, js, st2, js2)))
    for k in ("fc-md", "td"):
        req("PUT", "/api/v1/disks/%s/permissions" % k, {"grants": [{"user": "bob", "permissions": ["view"]}]})
    st, js = req("POST", "/api/v1/vms/fc/clone", {"name": "bc", "linked": True}, tok=bob)
    st2, js2 = req("POST", "/api/v1/vms", {"name": "bt", "from_template": "t"}, tok=bob)
    st3, js3 = req("GET", "/api/v1/vms/bt", tok=bob)
    ok("perm-clone-and-template", st == 201 and st2 == 201 and st3 == 200 and "full" in js3["permissions"],
       str((st, js, st2, js2, st3, js3)))

    # --- a running VM (KVM) -----------------------------------------------------------------
    if not have_kvm():
        for t in ("snap-live-running", "snap-live-vmm-holds-top", "snap-running-409", "snap-live-paused", "snap-kvm-guest-writes-top",
                  "snap-live-revert"):
            skip(t, "no usable /dev/kvm")
    else:
        req("POST", "/api/v1/vms/fc/start")
        d.wait_state(adm, "fc", ("running",))
        # without memory, live (with it, the default for a running VM, see memsnap.py): the
        # VMM goes onto a new top while the guest runs on; the image it ran on is the
        # snapshot's; reverts and clones still need the VM off
        before = top("fc", "fc-md")
        saves = len([e for e in req("GET", "/api/v1/events?limit=1000")[1].get("events", [])
                     if e["type"] == "vm-saved"])
        st, js = req("POST", "/api/v1/vms/fc/snapshots", {"name": "run", "memory": False})
        st0, js0 = req("GET", "/api/v1/vms/fc")
        saves2 = len([e for e in req("GET", "/api/v1/events?limit=1000")[1].get("events", [])
                      if e["type"] == "vm-saved"])
        after = top("fc", "fc-md")
        ok("snap-live-running", st == 201 and st0 == 200 and js0["state"] == "running" and
           saves2 == saves and after != before and snap_image("fc", "run", "fc-md") == before,
           str((st, js, js0.get("state"), saves, saves2, before, after)))
        # the VMM (sandboxed: it may open no file for writing) runs on the new top, which the
        # server opened and passed to it with the disk-switch
        held = {}  # every process with the new top open: the VM's sandboxed VMM only
        for pid in [int(x) for x in os.listdir("/proc") if x.isdigit()]:
            try:
                fdd = "/proc/%d/fd" % pid
                files = {os.readlink(os.path.join(fdd, f)) for f in os.listdir(fdd)}
                if os.path.realpath(after) in files:
                    held[pid] = [l.split()[1] for l in open("/proc/%d/status" % pid)
                                 if l.startswith("Seccomp:")]
            except OSError:
                pass
        ok("snap-live-vmm-holds-top", list(held.values()) == [["2"]], str((after, held)))
        st2, js2 = req("POST", "/api/v1/vms/fc/snapshots/b/revert")
        st3, js3 = req("POST", "/api/v1/vms/fc/clone", {"name": "run", "linked": True})
        ok("snap-running-409", st2 == 409 and st3 == 409, str((st2, js2, st3, js3)))
        req("POST", "/api/v1/vms/fc/pause")
        st, js = req("POST", "/api/v1/vms/fc/snapshots", {"name": "run-paused", "memory": False})
        st0, js0 = req("GET", "/api/v1/vms/fc")
        ok("snap-live-paused", st == 201 and js0.get("state") == "paused" and
           snap_image("fc", "run-paused", "fc-md") == after, str((st, js, js0.get("state"))))
        req("POST", "/api/v1/vms/fc/off")
        d.wait_state(adm, "fc", ("stopped",))
        live_view = os.path.join(tmp, "fc-live.raw")
        img("convert", "-O", "raw", top("fc", "fc-md"), live_view)
        # a guest that writes a pattern over its whole disk: its writes land in the top layer,
        # the snapshot's image (the disk's file) stays as it was
        shutil.copy(os.path.join(GUESTS, "vblk.elf"), os.path.join(d.data, "images"))
        req("PATCH", "/api/v1/vms/fc", {"kernel": "vblk.elf", "memory_mib": 64})
        base = snap_image("fc", "b", "fc-md")
        req("POST", "/api/v1/vms/fc/start")
        js = d.wait_state(adm, "fc", ("stopped", "crashed"), 60)
        view = os.path.join(tmp, "fc-view.raw")
        img("convert", "-O", "raw", top("fc", "fc-md"), view)
        wrote = open(view, "rb").read(8) == struct.pack("<Q", 0x5653000000000000)
        ok("snap-kvm-guest-writes-top", js and js["state"] == "stopped" and wrote and same(base, G),
           str((js, wrote)))
        # a revert to the live snapshot reads as the disk did at that point, not the writes since
        st, js = req("POST", "/api/v1/vms/fc/snapshots/run-paused/revert")
        back = os.path.join(tmp, "fc-back.raw")
        img("convert", "-O", "raw", top("fc", "fc-md"), back)
        ok("snap-live-revert", st == 200 and open(back, "rb").read() == open(live_view, "rb").read(),
           str((st, js)))
finally:
    for v in req("GET", "/api/v1/vms")[1].get("vms", []):
        req("POST", "/api/v1/vms/%s/off" % v["name"])
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
