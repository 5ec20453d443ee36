"""A VM's saved state (POST /api/v1/vms/NAME/save, discard-saved; docs/server.md "Saved
state", src/server/vmsave.h), see t-server-saved.sh.

Without KVM no VM runs, so nothing can be saved for real: the refusals (save of a stopped VM,
discard without a saved state, unknown action names, permissions) are checked as they are;
then the state a save leaves (the inventory's state "saved", DIR/save/saved.vsav) is laid out
behind the server's back with the daemon stopped (SQLite only) -- the file is a plain file,
never taken for a real save: the server's start gives the VMM --restore FILE (the argv
recorded by a shim), the VMM refuses the file (not a save file), and the VM stays saved with
the file kept and a vm-restore-failed event naming the reason; a daemon restart keeps it
saved; hardware edits and snapshots are refused with 409 naming the saved state; GET status
shows the file's size; discard-saved drops the file and stops the VM; delete of a saved VM
removes its directory with the file. With a usable /dev/kvm: a guest counting steps is
saved (state saved, the file there), started again, and goes on counting from where it was,
not from 0; the file is gone once it runs."""
import json, os, shutil, sqlite3, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
import lib
from lib import *
import invrows

tmp = tempfile.mkdtemp(prefix="vsrv-saved.")
os.chmod(tmp, 0o711)
shim, vmm_argvs = vmm_shim(tmp)
d = Daemon(os.path.join(tmp, "data"), extra=["--vmm", shim]).start()
adm = d.login("admin", "adminpass1")
IMG = os.path.join(d.data, "images")
msg = err_message


def req(method, path, body=None, tok=adm):
    return d.req(method, path, body, token=tok)


def vm_dir(name):
    (vid,) = [v["id"] for v in invrows.select(d, "vms", name=name)]
    return os.path.join(d.data, "vms", str(vid))


def events(kind):
    st, js = req("GET", "/api/v1/events?limit=1000")
    return [e for e in js.get("events", []) if e["type"] == kind] if st == 200 else []


def cli(*args):
    """`vsrv vm ...` against this daemon (the client of src/client/)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSRV_")}
    env.update(HOME=tmp, VSRV_SERVER="http://127.0.0.1:%d" % d.port, VSRV_TOKEN=adm)
    return subprocess.run([VSRV, "vm"] + list(args), env=env, capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)


def lay_out_saved(name, content=b"not a save file, laid out by the test\n"):
    """The state a save leaves, without KVM: the daemon stopped, the VM's state set to saved
    in the SQLite inventory, a plain file as DIR/save/saved.vsav; the daemon started again."""
    global adm
    path = os.path.join(vm_dir(name), "save", "saved.vsav")
    d.stop()
    c = sqlite3.connect(os.path.join(d.data, "inventory.db"))
    c.execute("UPDATE vms SET state = 'saved', monitor_pid = 0 WHERE name = ?", (name,))
    c.commit()
    c.close()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").write(content)
    d.start()
    adm = d.login("admin", "adminpass1")
    return path


try:
    shutil.copy(os.path.join(GUESTS, "hello.elf"), IMG)
    st, _ = req("POST", "/api/v1/disks", {"name": "d1", "size": 4 << 20, "format": "vhd"})
    st, js = req("POST", "/api/v1/vms", {"name": "s1", "kernel": "hello.elf", "memory_mib": 32,
                                         "disks": [{"disk": "d1"}]})
    ok("create", st == 201, str((st, js)))
    st, js = req("POST", "/api/v1/vms", {"name": "s2", "kernel": "hello.elf", "memory_mib": 32,
                                         "disks": [{"disk": "d1"}]})

    # --- refusals that need no VM running ------------------------------------------------------
    st, js = req("POST", "/api/v1/vms/s1/save")
    ok("save-stopped-409", st == 409 and "only a running or paused VM can be saved" in msg(js)
       and "s1 is stopped" in msg(js), str((st, js)))
    st, js = req("POST", "/api/v1/vms/s1/discard-saved")
    ok("discard-nothing-409", st == 409 and "has no saved state" in msg(js), str((st, js)))
    st, js = req("POST", "/api/v1/vms/s1/sav")
    ok("unknown-action-404-names-save", st == 404 and "save, discard-saved" in msg(js), str((st, js)))
    st, js = req("POST", "/api/v1/vms/nope/save")
    ok("save-unknown-vm-404", st == 404, str((st, js)))
    st, js = req("POST", "/api/v1/vms/s1/save", {"x": 1})
    ok("save-body-400", st == 400, str((st, js)))
    req("POST", "/api/v1/users", {"name": "viewer", "password": "Password-viewer"})
    vt = d.login("viewer", "Password-viewer")
    req("PUT", "/api/v1/vms/s1/permissions", {"grants": [{"user": "viewer", "permissions": ["view"]}]})
    st, js = req("POST", "/api/v1/vms/s1/save", tok=vt)
    ok("save-needs-control-403", st == 403, str((st, js)))
    st, js = req("POST", "/api/v1/vms/s1/discard-saved", tok=vt)
    ok("discard-needs-control-403", st == 403, str((st, js)))
    st, js = req("GET", "/api/v1/vms/s1/status")
    ok("status-saved-null", st == 200 and js.get("saved", 1) is None, str((st, js)))
    r = cli("save", "s1")
    ok("cli-save-stopped-refused", r.returncode != 0 and "only a running or paused VM can be saved"
       in r.stderr, (r.returncode, r.stdout, r.stderr))
    r = cli("discard", "s1")
    ok("cli-discard-nothing-refused", r.returncode != 0 and "has no saved state" in r.stderr,
       (r.returncode, r.stdout, r.stderr))

    # --- a start of a stopped VM with a stale file: boots afresh, the file goes ----------------
    stale = os.path.join(vm_dir("s1"), "save", "saved.vsav")
    os.makedirs(os.path.dirname(stale), exist_ok=True)
    open(stale, "wb").write(b"stale")
    n0 = len(vmm_argvs())
    req("POST", "/api/v1/vms/s1/start")
    d.wait_state(adm, "s1", ("running", "crashed", "stopped"), 30)
    argv = (vmm_argvs()[n0:] or [[]])[-1]
    ok("stopped-start-no-restore", argv and "--restore" not in argv and not os.path.exists(stale),
       str((argv, os.path.exists(stale))))
    req("POST", "/api/v1/vms/s1/off")
    d.wait_state(adm, "s1", ("stopped", "crashed"), 30)

    # --- the saved state, laid out (SQLite) ----------------------------------------------------
    if lib.INVENTORY == "etcd":
        skip("saved-laid-out", "the state is laid out in the SQLite inventory")
    else:
        path = lay_out_saved("s1")
        st, js = req("GET", "/api/v1/vms/s1/status")
        ok("status-saved", st == 200 and js["state"] == "saved" and
           js.get("saved", {}).get("bytes") == os.path.getsize(path) and
           abs(js["saved"]["saved_at"] - time.time()) < 120, str((st, js)))
        st, js = req("PATCH", "/api/v1/vms/s1", {"memory_mib": 64})
        ok("edit-hw-saved-409", st == 409 and "has a saved state" in msg(js), str((st, js)))
        st, js = req("PATCH", "/api/v1/vms/s1", {"description": "still fine"})
        ok("edit-description-saved-200", st == 200, str((st, js)))
        st, js = req("POST", "/api/v1/vms/s1/snapshots", {"name": "snap1"})
        ok("snapshot-saved-409", st == 409 and "is saved" in msg(js), str((st, js)))
        st, js = req("POST", "/api/v1/vms/s1/save")
        ok("save-saved-409", st == 409 and "s1 is saved" in msg(js), str((st, js)))
        # a saved VM holds its disks as a running one: another VM cannot start on them
        st, js = req("POST", "/api/v1/vms/s2/start")
        ok("saved-holds-its-disks", st == 409 and "'s1'" in msg(js) and "d1" in msg(js), str((st, js)))
        # start: the VMM gets --restore FILE; it refuses the plain file, the VM stays saved
        n0 = len(vmm_argvs())
        st, js = req("POST", "/api/v1/vms/s1/start")
        ok("start-saved-202", st == 202, str((st, js)))
        wait_for(lambda: len(events("vm-restore-failed")) > 0, 30)
        argv = (vmm_argvs()[n0:] or [[]])[-1]
        ok("start-saved-argv-restore", "--restore" in argv and
           argv[argv.index("--restore") + 1] == path and "--restore-memory" not in argv, str(argv))
        st, js = req("GET", "/api/v1/vms/s1/status")
        ev = events("vm-restore-failed")
        ok("restore-failed-stays-saved", st == 200 and js["state"] == "saved" and
           os.path.exists(path) and ev and "not a vsrv save file" in ev[-1]["message"] and
           "discard the saved state" in ev[-1]["message"], str((js, ev[-1:] if ev else ev)))
        # a daemon restart keeps it saved (re-attach: a final state, nothing to record)
        d.stop()
        d.start()
        adm = d.login("admin", "adminpass1")
        st, js = req("GET", "/api/v1/vms/s1/status")
        ok("restart-keeps-saved", st == 200 and js["state"] == "saved" and os.path.exists(path),
           str((st, js)))
        # the same in the VM list and in the VM's own view
        st, js = req("GET", "/api/v1/vms/s1")
        ok("vm-shows-saved", st == 200 and js["state"] == "saved", str((st, js)))
        # discard (the CLI's vsrv vm discard): the file goes, the VM is stopped, again: 409
        r = cli("discard", "s1")
        st, js = req("GET", "/api/v1/vms/s1")
        ok("discard-saved-200", r.returncode == 0 and "s1: stopped" in r.stdout and
           js["state"] == "stopped" and not os.path.exists(path),
           str((r.returncode, r.stdout, r.stderr, js.get("state"), os.path.exists(path))))
        ok("discard-event", len(events("vm-saved-discarded")) == 1, str(events("vm-saved-discarded")))
        st, js = req("POST", "/api/v1/vms/s1/discard-saved")
        ok("discard-twice-409", st == 409 and "has no saved state" in msg(js), str((st, js)))
        # delete of a saved VM: allowed, its directory and the file go
        path = lay_out_saved("s1")
        vdir = os.path.dirname(os.path.dirname(path))
        st, js = req("DELETE", "/api/v1/vms/s1")
        ok("delete-saved-removes-file", st == 204 and not os.path.exists(path) and
           not os.path.exists(vdir), str((st, js, os.path.exists(path))))

    # --- with KVM: a counting guest saved and resumed where it was -----------------------------
    if not have_kvm():
        skip("kvm-save-restore-count", "no usable /dev/kvm")
    else:
        shutil.copy(os.path.join(GUESTS, "savecount.elf"), IMG)
        st, js = req("POST", "/api/v1/vms", {"name": "cnt", "kernel": "savecount.elf",
                                             "memory_mib": 64, "cmdline": "steps=4000"})
        ok("kvm-create", st == 201, str((st, js)))
        clog = os.path.join(vm_dir("cnt"), "console.log")

        def console():
            return open(clog, errors="replace").read() if os.path.exists(clog) else ""

        req("POST", "/api/v1/vms/cnt/start")
        ok("kvm-counts", wait_for(lambda: len(savecount_steps(console())) >= 30, 60), console()[-300:])
        st, js = req("POST", "/api/v1/vms/cnt/save")
        before = console()
        path = os.path.join(vm_dir("cnt"), "save", "saved.vsav")
        ok("kvm-save-200-saved", st == 200 and js["state"] == "saved" and os.path.exists(path),
           str((st, js)))
        st, js = req("GET", "/api/v1/vms/cnt/status")
        ok("kvm-status-saved", js["state"] == "saved" and js["saved"]["bytes"] == os.path.getsize(path),
           str(js))
        ok("kvm-saved-event", len(events("vm-saved")) == 1, str(events("vm-saved")))
        last = max(savecount_steps(before))
        req("POST", "/api/v1/vms/cnt/start")
        ok("kvm-restored-running", d.wait_state(adm, "cnt", ("running",), 30) is not None)
        ok("kvm-counts-on", wait_for(lambda: len(savecount_steps(console()[len(before):])) >= 5, 60),
           console()[-300:])
        after = savecount_steps(console()[len(before):])
        # the next step after the last one printed before the save (each is printed once)
        ok("kvm-continues-not-from-0", after and after[0] == last + 1 and 0 not in after,
           "last before %d, after %s" % (last, after[:5]))
        ok("kvm-file-gone", wait_for(lambda: not os.path.exists(path), 10), path)
        req("POST", "/api/v1/vms/cnt/off")
        d.wait_state(adm, "cnt", ("stopped", "crashed"), 30)
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
