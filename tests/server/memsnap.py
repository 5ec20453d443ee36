"""Snapshots with memory (issue 15: "optionally saves memory and device state; revert goes
back to any snapshot"), see t-server-snapmem.sh and docs/server.md "Snapshots with memory".

Without KVM no VM runs, so no memory can be saved for real: the refusals are checked as they
are (memory for a VM that is off: 409; a bad "memory": 400; the default for a VM that is off
is disks only); then a saved VM is laid out as tests/server/saved.py does (state saved in
the SQLite inventory, a plain file as DIR/save/saved.vsav, the daemon stopped meanwhile) and
a snapshot with memory takes its saved state: DIR/snapshots/ID.vsav is the same file
(read-only), the listing shows memory and its size, the VM stays saved. A revert to it (the
saved state discarded first, and again with the VM saved) makes the snapshot's file the VM's
saved state and starts the VM with --restore of it (the argv recorded by lib.vmm_shim; the
VMM refuses the plain file, so the VM stays saved with vm-restore-failed), the snapshot's
file unchanged; a hardware change since the snapshot refuses the revert (409 naming it)
until put back; a revert to a snapshot without memory leaves the VM off; delete removes the
files; the CLI's create --memory and list's mark. With a usable /dev/kvm: a guest counting
steps is snapshotted with memory while it runs (it goes on counting, not from 0), counts on,
is reverted: it runs again and counts on from the step after the snapshot."""
import os, re, shutil, sqlite3, stat, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
import lib
from lib import *
import invrows

tmp = tempfile.mkdtemp(prefix="vsrv-memsnap.")
os.chmod(tmp, 0o711)
shim, vmm_argvs = vmm_shim(tmp)
d = Daemon(os.path.join(tmp, "data"), extra=["--vmm", shim, "--shutdown-timeout", "1"]).start()
adm = d.login("admin", "adminpass1")
IMG = os.path.join(d.data, "images")
msg = err_message


def req(method, path, body=None, tok=None):
    return d.req(method, path, body, token=tok or adm)


def vm_dir(name):
    (vid,) = [v["id"] for v in invrows.select(d, "vms", name=name)]
    return os.path.join(d.data, "vms", str(vid))


def snap_file(vm, snap, ext="vsav"):
    v = invrows.select(d, "vms", name=vm)[0]["id"]
    (sid,) = [s["id"] for s in invrows.select(d, "snapshots", name=snap) if s["vm_id"] == v]
    return os.path.join(vm_dir(vm), "snapshots", "%d.%s" % (sid, ext))


def events(kind):
    st, js = req("GET", "/api/v1/events?limit=1000")
    return [e for e in js.get("events", []) if e["type"] == kind] if st == 200 else []


def tree(vm):
    st, js = req("GET", "/api/v1/vms/%s/snapshots" % vm)
    return {s["name"]: s for s in js["snapshots"]} if st == 200 else {}


def task_end(tid, timeout=30):
    return wait_for(lambda: (lambda r: r[1] if r[0] == 200 and r[1]["state"] != "running" else None)(
        req("GET", "/api/v1/tasks/%d" % tid)), timeout)


def state(vm):
    return req("GET", "/api/v1/vms/%s" % vm)[1].get("state")


def cli(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSRV_")}
    env.update(HOME=tmp, VSRV_SERVER="http://127.0.0.1:%d" % d.port, VSRV_TOKEN=adm)
    return subprocess.run([VSRV, "vm"] + list(args), env=env, capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)


def lay_out_saved(name, content):
    """The state a save leaves (saved.py's lay_out_saved): the daemon stopped, the VM saved
    in the SQLite inventory, content as DIR/save/saved.vsav; the daemon started again."""
    global adm
    path = os.path.join(vm_dir(name), "save", "saved.vsav")
    d.stop()
    c = sqlite3.connect(os.path.join(d.data, "inventory.db"))
    c.execute("UPDATE vms SET state = 'saved', monitor_pid = 0 WHERE name = ?", (name,))
    c.commit()
    c.close()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    open(path, "wb").write(content)
    d.start()
    adm = d.login("admin", "adminpass1")
    return path


def revert_restores(name, snap, content, label):
    """Revert name to snap (with memory): 200, the start's argv has --restore of the VM's
    saved state, which is the snapshot's file; the VMM refuses the plain file: it stays
    saved, the snapshot's file unchanged."""
    n0, f0 = len(vmm_argvs()), len(events("vm-restore-failed"))
    st, js = req("POST", "/api/v1/vms/%s/snapshots/%s/revert" % (name, snap))
    ok(label + "-200", st == 200 and js.get("current") == snap, str((st, js)))
    wait_for(lambda: len(events("vm-restore-failed")) > f0, 30)
    argv = (vmm_argvs()[n0:] or [[]])[-1]
    saved = os.path.join(vm_dir(name), "save", "saved.vsav")
    sf = snap_file(name, snap)
    ok(label + "-argv-restore", "--restore" in argv and argv[argv.index("--restore") + 1] == saved,
       str(argv))
    ok(label + "-restores-the-snapshots-state", os.path.exists(saved) and
       os.path.samefile(saved, sf) and open(sf, "rb").read() == content and
       state(name) == "saved", str((os.path.exists(saved), state(name))))


try:
    shutil.copy(os.path.join(GUESTS, "hello.elf"), IMG)
    req("POST", "/api/v1/disks", {"name": "d1", "size": 4 << 20, "format": "vhd"})
    st, js = req("POST", "/api/v1/vms", {"name": "m1", "kernel": "hello.elf", "memory_mib": 32,
                                         "disks": [{"disk": "d1"}]})
    ok("create", st == 201, str((st, js)))

    # --- refusals, the default --------------------------------------------------------------
    st, js = req("POST", "/api/v1/vms/m1/snapshots", {"name": "x", "memory": True})
    ok("memory-off-409", st == 409 and "a snapshot with memory needs its memory" in msg(js) and
       "m1 is off" in msg(js), str((st, js)))
    st, js = req("POST", "/api/v1/vms/m1/snapshots", {"name": "x", "memory": "yes"})
    ok("memory-not-bool-400", st == 400, str((st, js)))
    r = cli("snapshot", "create", "m1", "x", "--memory")
    ok("cli-memory-off-refused", r.returncode != 0 and "a snapshot with memory needs" in r.stderr,
       (r.returncode, r.stdout, r.stderr))
    r = cli("snapshot", "create", "m1", "x", "--memory", "--no-memory")
    ok("cli-memory-both-refused", r.returncode != 0 and "not both" in r.stderr, r.stderr)
    st, js = req("POST", "/api/v1/vms/m1/snapshots", {"name": "a"})
    t = tree("m1")
    ok("default-off-disks-only", st == 201 and t["a"]["memory"] is False and
       t["a"]["memory_bytes"] is None, str((st, js)))

    if lib.INVENTORY == "etcd":
        skip("memsnap-laid-out", "the saved state is laid out in the SQLite inventory")
    else:
        # --- migration 13 over a version-12 inventory: snapshots that exist have no memory -
        d.stop()
        c = sqlite3.connect(os.path.join(d.data, "inventory.db"))
        c.executescript("ALTER TABLE snapshots DROP COLUMN memory_bytes; " + UNDO_MIGRATIONS_14_15 +
                        "PRAGMA user_version = 12;")
        c.close()
        d.start()
        adm = d.login("admin", "adminpass1")
        t = tree("m1")
        ok("migration-13-no-memory", invrows.user_version(d) >= 13 and t["a"]["memory"] is False and
           t["a"]["memory_bytes"] is None and
           invrows.select(d, "snapshots", name="a")[0]["memory_bytes"] == 0, str(t))

        # --- a saved VM: its saved state becomes the snapshot's ---------------------------
        content = b"the memory of m1, laid out by the test\n" * 10
        saved = lay_out_saved("m1", content)
        st, js = req("POST", "/api/v1/vms/m1/snapshots", {"name": "m"})
        ok("saved-default-disks-only-409", st == 409 and "is saved" in msg(js) and
           '"memory": true' in msg(js), str((st, js)))
        r = cli("snapshot", "create", "m1", "m", "--memory")
        t = tree("m1")
        sf = snap_file("m1", "m") if "m" in t else ""
        ok("saved-memory-201", r.returncode == 0 and t.get("m", {}).get("memory") is True and
           t["m"]["memory_bytes"] == len(content) and t["m"]["current"] and
           t["m"]["parent"] == "a", str((r.returncode, r.stderr, t.get("m"))))
        ok("saved-memory-file", sf and os.path.samefile(sf, saved) and
           stat.S_IMODE(os.stat(sf).st_mode) == 0o400 and
           os.path.exists(snap_file("m1", "m", "hw")) and state("m1") == "saved",
           str((sf, state("m1"))))
        hw = open(snap_file("m1", "m", "hw")).read()
        d1 = invrows.select(d, "disks", name="d1")[0]["path"]
        ok("saved-memory-hw-recorded", "--memory 32M" in hw and "--disk ,format=vhd" in hw and
           os.path.basename(d1) not in hw and "--restore" not in hw and "--control" not in hw, hw)
        ev = events("vm-snapshot-created")
        ok("saved-memory-event", ev and "taken with memory" in ev[-1]["message"], str(ev[-1:]))
        r = cli("snapshot", "list", "m1")
        ok("cli-list-memory-mark", r.returncode == 0 and re.search(r"^\s+m \[memory\] \(current\)",
           r.stdout, re.M) and re.search(r"^a  ", r.stdout, re.M), r.stdout)

        # --- revert: the VM discarded (stopped), then revert again with the VM saved -------
        st, js = req("POST", "/api/v1/vms/m1/discard-saved")
        ok("discard-keeps-snapshot-file", st == 200 and not os.path.exists(saved) and
           open(sf, "rb").read() == content, str((st, js)))
        revert_restores("m1", "m", content, "revert-stopped")
        revert_restores("m1", "m", content, "revert-twice")
        ev = events("vm-snapshot-reverted")
        ok("revert-event", ev and "with memory" in ev[-1]["message"], str(ev[-1:]))
        # a revert to a snapshot without memory needs the VM off and leaves it off
        st, js = req("POST", "/api/v1/vms/m1/snapshots/a/revert")
        ok("revert-disks-only-saved-409", st == 409 and "is saved" in msg(js), str((st, js)))
        req("POST", "/api/v1/vms/m1/discard-saved")
        n0 = len(vmm_argvs())
        st, js = req("POST", "/api/v1/vms/m1/snapshots/a/revert")
        time.sleep(0.5)
        ok("revert-disks-only-off", st == 200 and state("m1") == "stopped" and
           len(vmm_argvs()) == n0, str((st, js, state("m1"))))

        # --- hardware changed since the snapshot: the revert is refused until put back ----
        st, js = req("PATCH", "/api/v1/vms/m1", {"memory_mib": 64})
        ok("edit-memory-200", st == 200, str((st, js)))
        n0 = len(vmm_argvs())
        st, js = req("POST", "/api/v1/vms/m1/snapshots/m/revert")
        ok("revert-hw-changed-409", st == 409 and "hardware changed since the snapshot" in msg(js)
           and "--memory 32M" in msg(js) and "--memory 64M" in msg(js) and
           state("m1") == "stopped" and len(vmm_argvs()) == n0 and
           tree("m1")["a"]["current"], str((st, js)))
        req("PATCH", "/api/v1/vms/m1", {"memory_mib": 32})
        # the state file not here (another host's snapshot, or removed): refused, nothing changed
        os.rename(sf, sf + ".away")
        st, js = req("POST", "/api/v1/vms/m1/snapshots/m/revert")
        ok("revert-file-missing-409", st == 409 and "is not on this host" in msg(js) and
           tree("m1")["m"]["memory"] and tree("m1")["a"]["current"] and state("m1") == "stopped",
           str((st, js)))
        os.rename(sf + ".away", sf)
        revert_restores("m1", "m", content, "revert-hw-back")

        # --- delete: the snapshot's files go, the VM's own saved state stays ---------------
        hwf = snap_file("m1", "m", "hw")
        req("POST", "/api/v1/vms/m1/discard-saved")
        st, js = req("DELETE", "/api/v1/vms/m1/snapshots/m")
        tk = task_end(js["task"]) if st == 202 else None
        ok("delete-removes-files", tk and tk["state"] == "done" and not os.path.exists(sf) and
           not os.path.exists(hwf) and "m" not in tree("m1"), str((st, js, tk)))

        # --- a clone of a VM with a memory snapshot takes its disks only ------------------
        saved = lay_out_saved("m1", content)
        st, js = req("POST", "/api/v1/vms/m1/snapshots", {"name": "m2", "memory": True})
        req("POST", "/api/v1/vms/m1/discard-saved")
        st, js = req("POST", "/api/v1/vms/m1/clone", {"name": "c1", "linked": True})
        ok("clone-disks-only", st in (201, 202) and state("c1") == "stopped" and
           not os.path.exists(os.path.join(vm_dir("c1"), "snapshots")) and tree("c1") == {},
           str((st, js)))

        # --- a daemon restart (the data directory's files 0600): the revert still restores
        # the same file, read-only again; a VM's delete removes DIR/snapshots ---------------
        d.stop()
        d.start()
        adm = d.login("admin", "adminpass1")
        revert_restores("m1", "m2", content, "revert-after-restart")
        sf2 = snap_file("m1", "m2")
        ok("revert-read-only-again", stat.S_IMODE(os.stat(sf2).st_mode) == 0o400,
           oct(os.stat(sf2).st_mode))
        vdir = vm_dir("m1")
        st, js = req("DELETE", "/api/v1/vms/m1?disks=true")
        ok("vm-delete-removes-snapshot-files", st == 204 and not os.path.exists(sf2) and
           not os.path.exists(vdir), str((st, js, os.listdir(vdir) if os.path.exists(vdir) else None)))

    # --- with KVM: a counting guest snapshotted with memory, reverted -----------------------
    if not have_kvm():
        skip("kvm-memsnap-count", "no usable /dev/kvm")
    else:
        shutil.copy(os.path.join(GUESTS, "savecount.elf"), IMG)
        req("POST", "/api/v1/disks", {"name": "cd", "size": 4 << 20, "format": "vhd"})
        st, js = req("POST", "/api/v1/vms", {"name": "cnt", "kernel": "savecount.elf",
                                             "memory_mib": 64, "cmdline": "steps=4096",
                                             "disks": [{"disk": "cd"}]})
        ok("kvm-create", st == 201, str((st, js)))
        clog = os.path.join(vm_dir("cnt"), "console.log")

        def console():
            return open(clog, errors="replace").read() if os.path.exists(clog) else ""

        req("POST", "/api/v1/vms/cnt/start")
        ok("kvm-counts", wait_for(lambda: len(savecount_steps(console())) >= 30, 60), console()[-300:])
        pre = max(savecount_steps(console()))
        st, js = req("POST", "/api/v1/vms/cnt/snapshots", {"name": "s"})   # memory: the default
        at = console()
        t = tree("cnt")
        ok("kvm-snapshot-memory", st == 201 and t["s"]["memory"] and t["s"]["memory_bytes"] > 0,
           str((st, js)))
        ok("kvm-snapshot-running-again", d.wait_state(adm, "cnt", ("running",), 30) is not None)
        ok("kvm-counts-on-after-snapshot", wait_for(lambda: len(savecount_steps(console()[len(at):])) >= 20,
           60), console()[-300:])
        # a name taken: refused before the guest is stopped (no save, no restart)
        saves = len(events("vm-saved"))
        st, js = req("POST", "/api/v1/vms/cnt/snapshots", {"name": "s"})
        ok("kvm-name-taken-no-save", st == 409 and "has a snapshot named 's'" in msg(js) and
           len(events("vm-saved")) == saves and state("cnt") == "running", str((st, js)))
        run = savecount_steps(console())
        ok("kvm-snapshot-goes-on-not-from-0", run[:run.index(pre) + 1] == list(range(run[0], pre + 1))
           and run[run.index(pre):] == list(range(pre, run[-1] + 1)), "before %d, then %s" %
           (pre, run[run.index(pre):][:5]))

        def revert(label):
            """Revert to s: running again, counting on from the snapshot's step."""
            before = console()
            top = max(savecount_steps(before))
            st, js = req("POST", "/api/v1/vms/cnt/snapshots/s/revert")
            ok(label + "-200", st == 200, str((st, js)))
            ok(label + "-running", d.wait_state(adm, "cnt", ("running",), 30) is not None)
            ok(label + "-counts", wait_for(lambda: len(savecount_steps(console()[len(before):])) >= 5, 60),
               console()[-300:])
            back = savecount_steps(console()[len(before):])
            # the step after the snapshot's: after what was printed before it was asked for,
            # no later than what was printed when it answered, before where it had come to
            ok(label + "-count-went-back", back and pre < back[0] <= max(savecount_steps(at)) + 1 and
               back[0] < top and back == list(range(back[0], back[0] + len(back))),
               "snapshot between %d and %d, %d before the revert, then %s" %
               (pre, max(savecount_steps(at)), top, back[:5]))
            return back[0] if back else None
        first = revert("kvm-revert")
        ok("kvm-counts-on-again", wait_for(lambda: max(savecount_steps(console())) > first + 10, 60))
        again = revert("kvm-revert-twice")
        ok("kvm-revert-twice-same-point", first is not None and again == first, (first, again))
        ok("kvm-snapshot-file-kept", os.path.exists(snap_file("cnt", "s")) and wait_for(
           lambda: not os.path.exists(os.path.join(vm_dir("cnt"), "save", "saved.vsav")), 10))
        req("POST", "/api/v1/vms/cnt/off")
        d.wait_state(adm, "cnt", ("stopped", "crashed"), 30)
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
