"""Kept undo disks after the VM ended (issue 10 item 16): GET /api/v1/vms/NAME/undo-disks lists
them, POST ...?action=commit|discard commits (a task) or discards them later; permissions and
hiding as for every VM endpoint. Without /dev/kvm no VM runs, so the first part lays out the
state a `keep` stop leaves (see below); the last part makes it for real with a guest that
writes its disk, where /dev/kvm is usable."""
import json, os, shutil, struct, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
import invrows

tmp = tempfile.mkdtemp(prefix="vsrv-undo.")
d = Daemon(os.path.join(tmp, "data"), extra=["--shutdown-timeout", "1"]).start()
img = os.path.join(d.data, "images")
for g in ("console.elf", "vblk.elf"):
    shutil.copy(os.path.join(GUESTS, g), img)
adm = d.login("admin", "adminpass1")


def req(m, p, b=None, tok=None):
    return d.req(m, p, b, token=tok or adm)


def user(name):
    req("POST", "/api/v1/users", {"name": name, "password": "Password-" + name})
    return d.login(name, "Password-" + name)


def vm_dir(name):
    """DATA/vms/ID, where the server keeps a VM's runtime files and its undo disks (undo.c)."""
    (vid,) = [v["id"] for v in invrows.select(d, "vms", name=name)]
    return os.path.join(d.data, "vms", str(vid))


def task_end(tid, timeout=30):
    def done():
        st, t = req("GET", "/api/v1/tasks/%d" % tid)
        return t if st == 200 and t["state"] != "running" else None
    return wait_for(done, timeout)


def img(*args):
    return subprocess.run([VSRV, "img"] + list(args), capture_output=True, text=True)


def msg(js):
    return (js or {}).get("error", {}).get("message", "") if isinstance(js, dict) else str(js)


try:
    # Two VHD disks, ub with known data; a VM on both with undo_disks=keep.
    req("POST", "/api/v1/disks", {"name": "ub", "size": 8 << 20, "format": "vhd"})
    req("POST", "/api/v1/disks", {"name": "ub2", "size": 4 << 20, "format": "vhd"})
    ub, ub2 = (os.path.join(d.data, "disks", n + ".vhd") for n in ("ub", "ub2"))
    size = req("GET", "/api/v1/disks/ub")[1]["size"]
    base_raw, mod_raw = os.path.join(tmp, "base.raw"), os.path.join(tmp, "mod.raw")
    with open(base_raw, "wb") as f:
        f.truncate(size); f.seek(1 << 20); f.write(b"B" * 65536)
    with open(mod_raw, "wb") as f:
        f.truncate(size); f.seek(1 << 20); f.write(b"B" * 65536); f.seek(5 << 20); f.write(b"M" * (2 << 20))
    os.unlink(ub)
    img("convert", "-O", "vhd", "-o", "subformat=dynamic", base_raw, ub)
    st, _ = req("POST", "/api/v1/vms", {"name": "u", "kernel": "console.elf", "memory_mib": 32,
                                         "undo_disks": "keep", "disks": [{"disk": "ub"}, {"disk": "ub2"}]})
    ok("undo-setup", st == 201, str(st))

    st, js = req("GET", "/api/v1/vms/u/undo-disks")
    ok("undo-list-none-404", st == 404 and js["error"]["code"] == "not_found" and "no undo disks" in msg(js),
       str((st, js)))
    st, js = req("POST", "/api/v1/vms/u/undo-disks?action=discard")
    ok("undo-discard-none-404", st == 404 and "no undo disks" in msg(js), str((st, js)))

    # What a `keep` stop leaves (undo.c): DATA/vms/ID/undo-IDX.vhd, a differencing VHD over the
    # disk in slot IDX. The real producer is a run of the VM (the KVM part below, and
    # t-server-vms); here they are made as undo_prepare makes them (`img create -b`, slot 1,
    # never written) and with a guest's writes in them (slot 0: mod.raw's data over ub,
    # written by `img convert -B`).
    def keep_state():
        vd = vm_dir("u")
        os.makedirs(vd, exist_ok=True)
        u0, u1 = os.path.join(vd, "undo-0.vhd"), os.path.join(vd, "undo-1.vhd")
        for p in (u0, u1):
            if os.path.exists(p):
                os.unlink(p)
        r0 = img("convert", "-O", "vhd", "-B", ub, mod_raw, u0)
        r1 = img("create", "-f", "vhd", "-b", ub2, "-F", "vhd", u1)
        if r0.returncode or r1.returncode:
            raise RuntimeError("cannot lay out undo disks: " + r0.stderr + r1.stderr)
        return u0, u1
    t0 = int(time.time()) - 1
    u0, u1 = keep_state()
    before = open(ub, "rb").read()

    st, js = req("GET", "/api/v1/vms/u/undo-disks")
    ud = js.get("undo_disks", []) if st == 200 else []
    ok("undo-list", st == 200 and js["vm"] == "u" and js["state"] == "stopped" and js["committing"] is False
       and [(x["index"], x["disk"], x["error"]) for x in ud] == [(0, "ub", None), (1, "ub2", None)], str((st, js)))
    ok("undo-list-sizes", len(ud) == 2 and ud[0]["virtual_size"] == size and
       ud[0]["file_size"] == os.path.getsize(u0) and ud[0]["allocated"] >= 2 << 20 and
       ud[1]["allocated"] < ud[0]["allocated"] and all(t0 <= x["created"] <= time.time() + 1 for x in ud),
       str(ud))

    # Permissions: view lists, control commits; a VM the caller may not see answers as a missing one.
    viewer, stranger = user("viewer"), user("stranger")
    req("PUT", "/api/v1/vms/u/permissions", {"grants": [{"user": "viewer", "permissions": ["view"]}]})
    st, js = req("GET", "/api/v1/vms/u/undo-disks", tok=viewer)
    ok("undo-list-view", st == 200 and len(js["undo_disks"]) == 2, str((st, js)))
    st, js = req("POST", "/api/v1/vms/u/undo-disks?action=discard", tok=viewer)
    ok("undo-action-needs-control-403", st == 403 and os.path.exists(u0), str((st, js)))
    st, js = req("GET", "/api/v1/vms/u/undo-disks", tok=stranger)
    st2, js2 = req("GET", "/api/v1/vms/u", tok=stranger)
    st3, js3 = req("POST", "/api/v1/vms/u/undo-disks?action=discard", tok=stranger)
    st4, js4 = req("GET", "/api/v1/vms/nosuch/undo-disks")
    ok("undo-hidden-vm-404-as-missing", st == st2 == st3 == st4 == 404 and js == js2 == js3 and
       msg(js) == "no VM named 'u'" and msg(js4) == "no VM named 'nosuch'" and os.path.exists(u0),
       str((st, js, st2, js2, st3, js3, st4, js4)))

    # Bad requests change nothing.
    bad = []
    for q, body in (("", None), ("?action=merge", None), ("?action=keep", None), ("?action=commit", {"x": 1})):
        st, js = req("POST", "/api/v1/vms/u/undo-disks" + q, body)
        if st != 400:
            bad.append((q, st, js))
    ok("undo-action-bad-400", not bad and os.path.exists(u0) and os.path.exists(u1), str(bad))

    # commit: a task merges them into the disks and deletes them.
    st, js = req("POST", "/api/v1/vms/u/undo-disks?action=commit")
    t = task_end(js["task"]) if st == 202 else None
    r = img("compare", ub, mod_raw)
    ok("undo-commit", st == 202 and js["action"] == "commit" and js["count"] == 2 and t and
       t["state"] == "done" and t["kind"] == "undo-commit" and t["object"] == "u" and r.returncode == 0 and
       not os.path.exists(u0) and not os.path.exists(u1), str((st, js, t, r.stdout + r.stderr)))
    ok("undo-commit-base-clean", img("check", ub).returncode == 0 and img("check", ub2).returncode == 0)
    st, js = req("GET", "/api/v1/vms/u/undo-disks")
    ok("undo-list-after-commit-404", st == 404, str((st, js)))

    # discard: deleted at once, the disks untouched, an event says who.
    committed = open(ub, "rb").read()
    u0, u1 = keep_state()
    # Kept undo disks with the setting turned off: a start would leave them behind while the
    # disks under them change (a later commit would write old data over new), so it is
    # refused, saying what to do; nothing is started or deleted.
    st_off, _ = req("PATCH", "/api/v1/vms/u", {"undo_disks": "off"})
    st, js = req("POST", "/api/v1/vms/u/start", {})
    ok("undo-kept-start-with-setting-off-409", st_off == 200 and st == 409 and "undo disks kept" in msg(js)
       and "--discard" in msg(js) and os.path.exists(u0) and os.path.exists(u1)
       and req("GET", "/api/v1/vms/u")[1]["state"] == "stopped", str((st_off, st, js)))
    req("PATCH", "/api/v1/vms/u", {"undo_disks": "keep"})
    st, js = req("POST", "/api/v1/vms/u/undo-disks?action=discard", {})
    ev = req("GET", "/api/v1/events?limit=1000")[1]["events"]
    ok("undo-discard", st == 200 and js == {"vm": "u", "action": "discard", "count": 2, "task": None} and
       not os.path.exists(u0) and not os.path.exists(u1) and open(ub, "rb").read() == committed and
       any(e["type"] == "vm-undo-discarded" and e["object"] == "u" and e["user"] == "admin" for e in ev),
       str((st, js)))
    ok("undo-commit-changed-base", committed != before)

    # A damaged undo disk: listed with why, a commit fails on it and keeps it (nothing lost),
    # the good one before it is merged.
    u0, u1 = keep_state()
    os.unlink(u1)
    with open(u1, "wb") as f:
        f.write(b"not a VHD" * 1000)
    st, js = req("GET", "/api/v1/vms/u/undo-disks")
    ud = js.get("undo_disks", []) if st == 200 else []
    ok("undo-list-damaged", len(ud) == 2 and ud[0]["error"] is None and ud[1]["error"] and
       ud[1]["disk"] is None, str((st, js)))
    st, js = req("POST", "/api/v1/vms/u/undo-disks?action=commit")
    t = task_end(js["task"]) if st == 202 else None
    ok("undo-commit-damaged-fails-keeps", t and t["state"] == "failed" and t["error"] and
       not os.path.exists(u0) and os.path.exists(u1), str((st, js, t)))
    st, js = req("POST", "/api/v1/vms/u/undo-disks?action=discard")
    ok("undo-discard-damaged", st == 200 and js["count"] == 1 and not os.path.exists(u1), str((st, js)))

    # --- for real: a guest writes its disk through an undo disk (needs /dev/kvm) -----------------
    if not have_kvm():
        skip("undo-kvm", "no usable /dev/kvm or build/guests: the undo disks above were laid out "
             "as the server leaves them, not made by a VM")
    else:
        req("POST", "/api/v1/disks", {"name": "kd", "size": 4 << 20, "format": "vhd"})
        kd = os.path.join(d.data, "disks", "kd.vhd")
        kd_before = open(kd, "rb").read()
        # console.elf runs until turned off: while it runs, its undo disks are in use.
        req("POST", "/api/v1/vms", {"name": "k", "kernel": "console.elf", "memory_mib": 32,
                                    "undo_disks": "keep", "disks": [{"disk": "kd"}]})
        req("POST", "/api/v1/vms/k/start")
        up = d.wait_state(adm, "k", ("running",))
        st, js = req("GET", "/api/v1/vms/k/undo-disks")
        st2, js2 = req("POST", "/api/v1/vms/k/undo-disks?action=discard")
        ok("undo-kvm-running-409", up and st == 200 and js["state"] == "running" and st2 == 409,
           str((st, js, st2, js2)))
        req("POST", "/api/v1/vms/k/off")
        d.wait_state(adm, "k", ("stopped",))
        # vblk writes a pattern over its whole disk, checks it and ends by itself: with keep,
        # its writes stay in the undo disk, the disk itself untouched.
        req("PATCH", "/api/v1/vms/k", {"kernel": "vblk.elf", "memory_mib": 64})
        req("POST", "/api/v1/vms/k/start")
        js = d.wait_state(adm, "k", ("stopped", "crashed"), 60)
        uk = os.path.join(vm_dir("k"), "undo-0.vhd")
        view = os.path.join(tmp, "k-view.raw")
        img("convert", "-O", "raw", uk, view)
        wrote = open(view, "rb").read(8) == struct.pack("<Q", 0x5653000000000000)
        st, ls = req("GET", "/api/v1/vms/k/undo-disks")
        ok("undo-kvm-keep-listed", js and js["state"] == "stopped" and wrote and open(kd, "rb").read() == kd_before
           and st == 200 and [(x["index"], x["disk"]) for x in ls["undo_disks"]] == [(0, "kd")]
           and ls["undo_disks"][0]["allocated"] > 0, str((js, wrote, st, ls)))
        st, js = req("POST", "/api/v1/vms/k/undo-disks?action=commit")
        t = task_end(js["task"]) if st == 202 else None
        r = img("compare", kd, view)
        ok("undo-kvm-commit", t and t["state"] == "done" and r.returncode == 0 and not os.path.exists(uk),
           str((st, js, t, r.stdout + r.stderr)))
finally:
    for v in req("GET", "/api/v1/vms")[1].get("vms", []):
        req("POST", "/api/v1/vms/%s/off" % v["name"])
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
