"""A VM's memory balloon in the server (see t-server-balloon.sh): the "balloon" setting (on by
default for new VMs, off for those the inventory's migration 8 finds, changed while off), the
VMM's argv (`--device balloon,...`, on PCI for a firmware VM; recorded by a shim in front of
the real vsrv, which then takes the spec and stops at /dev/kvm), GET and PUT
/api/v1/vms/NAME/balloon refused for a VM that does not run (409), for bad bodies (400),
without permission (403, 404), and with KVM the Linux test guest's balloon driver: its
statistics, inflating to a target and back, and the free memory it reports leaving the VMM.
Dynamic memory's settings (memory_min_mib, memory_buffer_pct: created, edited, refused,
cloned, shown, migration 12 on SQLite and the defaults of an etcd row without them), PUT
{"auto": true}, and with KVM the policy's loop moving a running guest's target (down to
its want, never below its minimum, left alone after a manual PUT, back to all of its
memory when dynamic memory is turned off while it runs)."""
import base64, json, os, shutil, sqlite3, subprocess, sys, tempfile, time, urllib.request
sys.path.insert(0, os.path.dirname(__file__))
from lib import *

tmp = tempfile.mkdtemp(prefix="vsrv-balloon.")
os.chmod(tmp, 0o711)
shim, vmm_argvs = vmm_shim(tmp)
d = Daemon(os.path.join(tmp, "data"), extra=["--vmm", shim]).start()
adm = d.login("admin", "adminpass1")
IMG = os.path.join(d.data, "images")


def req(method, path, body=None, tok=adm):
    return d.req(method, path, body, token=tok)


msg = err_message


def start_argv(name):
    """Start VM name without KVM: the VMM's argv the shim recorded and the VM after it ended."""
    before = len(vmm_argvs())
    req("POST", "/api/v1/vms/%s/start" % name)
    got = wait_for(lambda: len(vmm_argvs()) > before, 20)
    js = d.wait_state(adm, name, ("stopped", "crashed"), 30)
    return (vmm_argvs()[-1] if got else []), js


def devices(argv):
    return [argv[i + 1] for i, a in enumerate(argv) if a == "--device" and i + 1 < len(argv)]


try:
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(IMG, "hello.elf"))
    st, js = req("POST", "/api/v1/vms", {"name": "b1", "kernel": "hello.elf", "memory_mib": 64})
    ok("balloon-on-by-default", st == 201 and js.get("balloon") is True, str((st, js)))
    st, js = req("POST", "/api/v1/vms", {"name": "b0", "kernel": "hello.elf", "balloon": False})
    ok("balloon-off-when-asked", st == 201 and js.get("balloon") is False, str((st, js)))
    st, js = req("POST", "/api/v1/vms", {"name": "bw", "os_type": "windows"})
    ok("balloon-on-for-windows-preset", st == 201 and js.get("balloon") is True, str((st, js)))
    st, js = req("POST", "/api/v1/vms", {"name": "bx", "kernel": "hello.elf", "balloon": "yes"})
    ok("balloon-setting-must-be-boolean", st == 400 and "balloon" in msg(js), str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/b0", {"balloon": True})
    st2, js2 = req("PATCH", "/api/v1/vms/b0", {"balloon": False})
    ok("balloon-setting-edited-while-off", st == 200 and js["balloon"] is True and st2 == 200 and
       js2["balloon"] is False, str((st, js, st2, js2)))

    # a clone (a task: no disks to copy, so quick) has its source's setting
    st, js = req("POST", "/api/v1/vms/b0/clone", {"name": "b0c"})
    cl = wait_for(lambda: (lambda r: r[1] if r[0] == 200 else None)(req("GET", "/api/v1/vms/b0c")), 20)
    ok("balloon-setting-cloned", st in (200, 201, 202) and cl and cl.get("balloon") is False,
       str((st, js, cl)))

    # --- dynamic memory's settings ----------------------------------------------------------
    st, js = req("GET", "/api/v1/vms/b1")
    dm = js.get("dynamic_memory") or {}
    ok("dynmem-defaults-off", st == 200 and js.get("memory_min_mib") == 64 and
       js.get("memory_buffer_pct") == 20 and dm.get("enabled") is False and dm.get("mode") == "off"
       and dm.get("min_mib") == 64 and dm.get("max_mib") == 64 and dm.get("target_mib") is None,
       str(js))
    st, js = req("POST", "/api/v1/vms", {"name": "dm1", "kernel": "hello.elf", "memory_mib": 1024,
                                         "memory_min_mib": 256, "memory_buffer_pct": 35})
    st2, js2 = req("GET", "/api/v1/vms/dm1")
    dm = js2.get("dynamic_memory") or {}
    ok("dynmem-create", st == 201 and js["memory_min_mib"] == 256 and js["memory_buffer_pct"] == 35
       and dm.get("enabled") is True and dm.get("mode") == "policy" and dm.get("min_mib") == 256
       and dm.get("max_mib") == 1024 and dm.get("buffer_pct") == 35 and
       dm.get("guest_used_mib") is None, str((st, js, js2)))
    bad = [({"memory_min_mib": 2048}, "more than memory_mib"),
           ({"memory_min_mib": 32}, "at least 64"),
           ({"memory_min_mib": 0}, "memory_min_mib"),
           ({"memory_min_mib": "256"}, "memory_min_mib"),
           ({"memory_min_mib": None}, "memory_min_mib"),
           ({"memory_buffer_pct": -1}, "memory_buffer_pct"),
           ({"memory_buffer_pct": 2001}, "memory_buffer_pct"),
           ({"memory_buffer_pct": 1.5}, "memory_buffer_pct"),
           ({"memory_mib": 128}, "lower memory_min_mib in the same request")]
    got = [req("PATCH", "/api/v1/vms/dm1", b) for b, _ in bad]
    ok("dynmem-patch-refused-400", all(g[0] == 400 and m in msg(g[1]) for g, (_, m) in zip(got, bad)),
       str([(g[0], msg(g[1])) for g in got]))
    st, js = req("POST", "/api/v1/vms", {"name": "dmx", "kernel": "hello.elf", "memory_mib": 256,
                                         "memory_min_mib": 512})
    st2, js2 = req("POST", "/api/v1/vms", {"name": "dmx", "kernel": "hello.elf", "memory_mib": 256,
                                           "memory_min_mib": 63})
    st3, js3 = req("GET", "/api/v1/vms/dmx")
    ok("dynmem-create-refused-400", st == 400 and "more than memory_mib" in msg(js) and st2 == 400
       and "at least 64" in msg(js2) and st3 == 404, str((st, js, st2, js2, st3)))
    st, js = req("GET", "/api/v1/vms/dm1")
    ok("dynmem-refusals-change-nothing", js.get("memory_min_mib") == 256 and
       js.get("memory_buffer_pct") == 35 and js.get("memory_mib") == 1024, str(js))
    st, js = req("PATCH", "/api/v1/vms/dm1", {"memory_mib": 512, "memory_min_mib": 128,
                                              "memory_buffer_pct": 0})
    ok("dynmem-patch", st == 200 and js["memory_mib"] == 512 and js["memory_min_mib"] == 128 and
       js["memory_buffer_pct"] == 0, str((st, js)))
    # a small VM may have a small minimum only as all of its memory (off)
    st, js = req("POST", "/api/v1/vms", {"name": "dms", "kernel": "hello.elf", "memory_mib": 32,
                                         "memory_min_mib": 32})
    ok("dynmem-small-vm-off", st == 201 and js["memory_min_mib"] == 32, str((st, js)))
    # min = memory_mib is "off": it follows memory_mib from then on
    st, js = req("PATCH", "/api/v1/vms/dm1", {"memory_min_mib": 512})
    st2, js2 = req("PATCH", "/api/v1/vms/dm1", {"memory_mib": 768})
    st3, js3 = req("GET", "/api/v1/vms/dm1")
    ok("dynmem-off-follows-memory", st == 200 and js["memory_min_mib"] == 512 and st2 == 200 and
       js2["memory_min_mib"] == 768 and js3["dynamic_memory"]["enabled"] is False and
       js3["dynamic_memory"]["mode"] == "off", str((st, js, st2, js2, js3)))
    req("PATCH", "/api/v1/vms/dm1", {"memory_min_mib": 200, "memory_buffer_pct": 50})
    st, js = req("POST", "/api/v1/vms/dm1/clone", {"name": "dm1c"})
    cl = wait_for(lambda: (lambda r: r[1] if r[0] == 200 else None)(req("GET", "/api/v1/vms/dm1c")), 20)
    ok("dynmem-setting-cloned", cl and cl.get("memory_min_mib") == 200 and
       cl.get("memory_buffer_pct") == 50 and cl.get("memory_mib") == 768, str((st, js, cl)))
    # --- the API refuses what cannot be: the VMs are off -------------------------------------
    st, js = req("GET", "/api/v1/vms/b1/balloon")
    ok("balloon-get-not-running-409", st == 409 and "stopped" in msg(js), str((st, js)))
    st, js = req("PUT", "/api/v1/vms/b1/balloon", {"target_mib": 32})
    ok("balloon-put-not-running-409", st == 409, str((st, js)))
    bad = [{}, {"target_mib": 0}, {"target_mib": -1}, {"target_mib": "32"}, {"target_mib": 1.5},
           {"target_mib": 32, "more": 1}, [32]]
    codes = [req("PUT", "/api/v1/vms/b1/balloon", b)[0] for b in bad]
    ok("balloon-put-bad-bodies-400", codes == [400] * len(bad), str(codes))
    st, js = req("PUT", "/api/v1/vms/b1/balloon", {"auto": True})
    st2, js2 = req("PUT", "/api/v1/vms/b1/balloon", {"auto": False})
    st3, js3 = req("PUT", "/api/v1/vms/b1/balloon", {"auto": True, "target_mib": 32})
    ok("balloon-put-auto", st == 409 and st2 == 400 and st3 == 400 and "auto" in msg(js2),
       str((st, js, st2, js2, st3, js3)))
    st, js = req("GET", "/api/v1/vms/nope/balloon")
    st2, js2 = req("PUT", "/api/v1/vms/nope/balloon", {"target_mib": 32})
    ok("balloon-no-such-vm-404", st == 404 and st2 == 404, str((st, js, st2, js2)))

    # --- permissions: view may look (409: not running), control may set ----------------------
    req("POST", "/api/v1/users", {"name": "bob", "password": "Password-bob"})
    req("POST", "/api/v1/users", {"name": "eve", "password": "Password-eve"})
    req("PUT", "/api/v1/vms/b1/permissions", {"grants": [{"user": "bob", "permissions": ["view"]}]})
    bob = d.login("bob", "Password-bob")
    eve = d.login("eve", "Password-eve")
    st, js = req("PUT", "/api/v1/vms/b1/balloon", {"target_mib": 32}, tok=bob)
    ok("balloon-put-view-only-403", st == 403, str((st, js)))
    st, js = req("GET", "/api/v1/vms/b1/balloon", tok=bob)
    ok("balloon-get-view-409", st == 409, str((st, js)))
    st, js = req("GET", "/api/v1/vms/b1/balloon", tok=eve)
    st2, js2 = req("PUT", "/api/v1/vms/b1/balloon", {"target_mib": 32}, tok=eve)
    ok("balloon-unseen-vm-404", st == 404 and st2 == 404, str((st, js, st2, js2)))
    req("PUT", "/api/v1/vms/b1/permissions", {"grants": [{"user": "bob",
                                                          "permissions": ["view", "control"]}]})
    st, js = req("PUT", "/api/v1/vms/b1/balloon", {"target_mib": 32}, tok=bob)
    ok("balloon-put-control-409-not-403", st == 409, str((st, js)))

    # --- the CLI: the setting, and the balloon of a VM that does not run -----------------------
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSRV_")}
    env.update(HOME=tmp, VSRV_SERVER="http://127.0.0.1:%d" % d.port, VSRV_TOKEN=adm)

    def cli(*a):
        return subprocess.run([VSRV] + list(a), capture_output=True, text=True, env=env, timeout=60)

    r = cli("vm", "create", "bc", "--kernel", "hello.elf", "--balloon", "no")
    st, js = req("GET", "/api/v1/vms/bc")
    ok("balloon-cli-create-setting", r.returncode == 0 and js.get("balloon") is False,
       r.stdout + r.stderr + str(js))
    r = cli("vm", "balloon", "b1")
    r2 = cli("vm", "balloon", "b1", "--target", "32")
    ok("balloon-cli-not-running", r.returncode == 1 and "stopped" in r.stderr and
       r2.returncode == 1 and "stopped" in r2.stderr, r.stdout + r.stderr + r2.stderr)
    r = cli("vm", "balloon", "b1", "--target", "0")
    ok("balloon-cli-bad-target", r.returncode == 2 and "--target" in r.stderr, r.stdout + r.stderr)
    r = cli("vm", "create", "dmc", "--kernel", "hello.elf", "--memory", "512", "--memory-min",
            "128", "--memory-buffer", "30")
    st, js = req("GET", "/api/v1/vms/dmc")
    r2 = cli("vm", "edit", "dmc", "--memory-min", "256M")
    r3 = cli("vm", "show", "dmc")
    ok("dynmem-cli-settings", r.returncode == 0 and js.get("memory_min_mib") == 128 and
       js.get("memory_buffer_pct") == 30 and r2.returncode == 0 and
       "policy, 256-512 MiB, buffer 30%" in r3.stdout, r.stderr + r2.stderr + r3.stdout + str(js))
    r = cli("vm", "edit", "dmc", "--memory-min", "1G")
    ok("dynmem-cli-refused", r.returncode == 1 and "more than memory_mib" in r.stderr,
       r.stdout + r.stderr)
    r = cli("vm", "balloon", "b1", "--auto")
    r2 = cli("vm", "balloon", "b1", "--auto", "--target", "64")
    ok("dynmem-cli-auto", r.returncode == 1 and "stopped" in r.stderr and r2.returncode == 2 and
       "--auto" in r2.stderr, r.stdout + r.stderr + r2.stderr)

    # --- the VMM's argv: the balloon device, on PCI for a firmware VM, none when off ---------
    argv, vm = start_argv("b1")
    devs = devices(argv)
    ok("balloon-argv-linux", "balloon,deflate-on-oom=on,free-page-reporting=on" in devs, str(argv))
    if not have_kvm():
        reason = ((vm or {}).get("last_exit") or {}).get("reason", "")
        ok("balloon-spec-accepted-by-vmm", "/dev/kvm" in reason and "--device" not in reason and
           "balloon" not in reason, str(vm))
    argv, vm = start_argv("b0")
    ok("balloon-argv-off", argv and not any(x.startswith("balloon") for x in devices(argv)), str(argv))
    argv, vm = start_argv("bw")
    ok("balloon-argv-firmware-pci",
       "balloon,deflate-on-oom=on,free-page-reporting=on,transport=pci" in devices(argv), str(argv))

    # --- migration 8: VMs that existed keep their hardware (no balloon); new ones get it -----
    if sqlite_only("migration-8-balloon"):
        d.stop()
        c = sqlite3.connect(os.path.join(d.data, "inventory.db"))
        # back to a version-7 inventory: without the columns (and the images table, 14)
        # that migrations 8 and later add
        later = ("balloon", "display", "enlightenments", "mem_merge", "memory_min_mib",
                 "memory_buffer_pct")
        cols = [r[1] for r in c.execute("PRAGMA table_info(vm_hw)")]
        tcols = [r[1] for r in c.execute("PRAGMA table_info(tasks)")]
        scols = [r[1] for r in c.execute("PRAGMA table_info(snapshots)")]
        c.executescript("".join("ALTER TABLE vm_hw DROP COLUMN %s; " % x for x in later if x in cols) +
                        ("ALTER TABLE tasks DROP COLUMN host; " if "host" in tcols else "") +
                        ("ALTER TABLE snapshots DROP COLUMN memory_bytes; " if "memory_bytes" in
                         scols else "") +
                        # (migration 14's quotas and owners)
                        UNDO_MIGRATIONS_14_15 + "PRAGMA user_version = 7;")
        c.close()
        d.start()
        adm = d.login("admin", "adminpass1")
        old = [req("GET", "/api/v1/vms/" + n)[1].get("balloon") for n in ("b1", "b0", "bw")]
        st, js = req("POST", "/api/v1/vms", {"name": "b2", "kernel": "hello.elf"})
        c = sqlite3.connect("file:%s?mode=ro" % os.path.join(d.data, "inventory.db"), uri=True)
        ver = c.execute("PRAGMA user_version").fetchone()[0]
        c.close()
        ok("migration-8-balloon", ver >= 8 and old == [False, False, False] and st == 201 and
           js.get("balloon") is True, str((ver, old, st, js)))
        # migration 12: every VM that existed has dynamic memory off and the default buffer
        olds = [req("GET", "/api/v1/vms/" + n)[1] for n in ("b1", "dm1", "dm1c")]
        ok("migration-12-dynmem", ver >= 12 and all(v.get("memory_min_mib") == v.get("memory_mib")
           and v.get("memory_buffer_pct") == 20 for v in olds) and
           req("PATCH", "/api/v1/vms/dm1", {"memory_min_mib": 300})[1].get("memory_min_mib") == 300,
           str((ver, olds)))
    if INVENTORY == "etcd":
        # the etcd inventory's rows written before dynamic memory have no such fields: they
        # read as its defaults (off, 20)
        d.stop()
        ids = {vm_id(d.data, n) for n in ("dm1", "dm1c")}
        for key, row in etcd_rows(d.data, "vm_hw"):
            if int(key) in ids:
                row.pop("memory_min_mib", None)
                row.pop("memory_buffer_pct", None)
                k = inventory_prefix(d.data) + "t/vm_hw/" + key
                body = json.dumps({"key": base64.b64encode(k.encode()).decode(),
                                   "value": base64.b64encode(json.dumps(row).encode()).decode()})
                urllib.request.urlopen(urllib.request.Request(
                    test_etcd().split(",")[0] + "/v3/kv/put", body.encode()), timeout=10).read()
        d.start()
        adm = d.login("admin", "adminpass1")
        olds = [req("GET", "/api/v1/vms/" + n)[1] for n in ("dm1", "dm1c")]
        rows = [r for k, r in etcd_rows(d.data, "vm_hw") if int(k) in ids]
        ok("etcd-dynmem-row-without-fields", len(rows) == 2 and
           all("memory_min_mib" not in r for r in rows) and
           all(v.get("memory_min_mib") == v.get("memory_mib") and v.get("memory_buffer_pct") == 20
               for v in olds), str((olds, rows)))

    # --- with KVM: the Linux test guest's balloon driver ---------------------------------------
    LG = os.path.join(GUESTS, "linux")
    cfg = os.path.join(LG, "config")
    kcfg = open(cfg).read() if os.path.exists(cfg) else ""
    if not have_kvm() or not os.path.exists(os.path.join(LG, "initramfs-agent.cpio")):
        skip("balloon-linux-guest", "no usable /dev/kvm or build/guests/linux/initramfs-agent.cpio")
    elif "CONFIG_VIRTIO_BALLOON=y" not in kcfg:
        skip("balloon-linux-guest", "the Linux test kernel has no CONFIG_VIRTIO_BALLOON "
             "(guests/linux/config.fragment)")
    else:
        for f in ("bzImage", "initramfs-agent.cpio"):
            shutil.copy(os.path.join(LG, f), os.path.join(IMG, f))
        cmdline = open(os.path.join(ROOT, "guests", "linux", "cmdline")).read().strip() + " vsrv_agent=1"
        req("POST", "/api/v1/vms", {"name": "lb", "kernel": "bzImage", "initrd": "initramfs-agent.cpio",
                                    "cmdline": cmdline, "memory_mib": 512})
        req("POST", "/api/v1/vms/lb/start")

        def balloon():
            st, js = req("GET", "/api/v1/vms/lb/balloon")
            return js if st == 200 else None

        b = wait_for(lambda: (lambda x: x if x and x["driver"] and x["stats"].get("total") else None)(balloon()),
                     180, 0.5)
        ok("balloon-linux-stats", b and 0 < b["stats"]["total"] <= 512 << 20 and
           0 < b["stats"]["free"] < b["stats"]["total"] and b["free_page_reporting"], str(b))
        free0 = b["stats"]["free"] if b else 0
        # inflate: the guest gives 192 MiB back; its free memory drops by about that
        st, js = req("PUT", "/api/v1/vms/lb/balloon", {"target_mib": 320})
        b = wait_for(lambda: (lambda x: x if x and x["actual_mib"] <= 320 else None)(balloon()), 60, 0.5)
        ok("balloon-linux-inflate", st == 200 and js["target_mib"] == 320 and b and
           b["inflated_pages"] >= (192 << 20) // 4096 and b["bad_pfns"] == 0, str((st, js, b)))
        fr = wait_for(lambda: (lambda x: x if x and x["stats"]["free"] < free0 - (128 << 20) else None)(balloon()),
                      30, 0.5)
        ok("balloon-linux-guest-sees-it", fr is not None, str((free0, balloon())))
        r = cli("vm", "balloon", "lb")
        ok("balloon-linux-cli", r.returncode == 0 and "guest keeps" in r.stdout and
           "guest free" in r.stdout, r.stdout + r.stderr)
        # deflate: all of it back
        st, js = req("PUT", "/api/v1/vms/lb/balloon", {"target_mib": 512})
        b = wait_for(lambda: (lambda x: x if x and x["actual_mib"] == 512 else None)(balloon()), 60, 0.5)
        ok("balloon-linux-deflate", st == 200 and b is not None, str((st, js, balloon())))
        # free page reporting: 128 MiB written in the guest's tmpfs, then removed, leave the VMM
        rss = lambda: req("GET", "/api/v1/vms/lb")[1].get("runtime", {}).get("memory_rss_bytes", 0)
        st, js = req("POST", "/api/v1/vms/lb/agent", {"command": "guest-exec", "arguments": {
            "path": "/bin/sh", "arg": ["-c", "dd if=/dev/zero of=/tmp/fill bs=1M count=128 && sync"]}})
        time.sleep(5)
        high = rss()
        req("POST", "/api/v1/vms/lb/agent", {"command": "guest-exec", "arguments": {
            "path": "/bin/sh", "arg": ["-c", "rm -f /tmp/fill"]}})
        low = wait_for(lambda: (lambda r: r if r and r < high - (64 << 20) else None)(rss()), 60, 0.5)
        ok("balloon-linux-free-page-reporting", st == 200 and low is not None and
           (balloon() or {}).get("reported_mib", 0) >= 64, str((st, js, high, rss(), balloon())))
        req("POST", "/api/v1/vms/lb/off")
        d.wait_state(adm, "lb", ("stopped",), 60)

    # --- with KVM: dynamic memory's loop on the Linux test guest -------------------------------
    if not have_kvm() or not os.path.exists(os.path.join(LG, "initramfs-agent.cpio")):
        skip("dynmem-linux-guest", "no usable /dev/kvm or build/guests/linux/initramfs-agent.cpio")
    elif "CONFIG_VIRTIO_BALLOON=y" not in kcfg:
        skip("dynmem-linux-guest", "the Linux test kernel has no CONFIG_VIRTIO_BALLOON")
    else:
        # an idle guest of 512 MiB uses far less: the policy takes its target down in steps
        # to its want, never below its minimum
        req("POST", "/api/v1/vms", {"name": "ld", "kernel": "bzImage", "initrd": "initramfs-agent.cpio",
                                    "cmdline": cmdline, "memory_mib": 512, "memory_min_mib": 128,
                                    "memory_buffer_pct": 50})
        req("POST", "/api/v1/vms/ld/start")

        def dyn():
            st, js = req("GET", "/api/v1/vms/ld")
            return (js or {}).get("dynamic_memory") or {} if st == 200 else {}

        def policy_events():
            evs = req("GET", "/api/v1/events?limit=1000")[1].get("events", [])
            return [e for e in evs if e["type"] == "vm-memory-target" and e["object"] == "ld" and
                    (e.get("data") or {}).get("by") == "policy"]

        low = wait_for(lambda: (lambda x: x if x.get("target_mib") and x["target_mib"] < 400 and
                                x.get("decision") else None)(dyn()), 240, 1)
        evs = policy_events()
        ok("dynmem-linux-shrinks", low is not None and low["target_mib"] >= 128 and
           low["mode"] == "policy" and low["guest_used_mib"] is not None and evs and
           all(e["data"]["target_mib"] >= 128 and e["data"].get("reason") in ("shrink", "pressure")
               for e in evs) and
           all(a["data"]["previous_mib"] - a["data"]["target_mib"] <= max(32, 512 // 10)
               for a in evs if a["data"].get("reason") == "shrink"), str((low, evs[:5])))
        # settled: it stays within its hysteresis (no flapping) while the guest idles
        settled = wait_for(lambda: (lambda x: x if x.get("decision") == "hold" else None)(dyn()), 180, 1)
        n0 = len(policy_events())
        time.sleep(20)
        ok("dynmem-linux-holds", settled is not None and len(policy_events()) == n0,
           str((settled, policy_events()[n0:])))
        # the guest needs memory: 160 MiB in its /tmp, 16 MiB every 8 s (within what its buffer
        # leaves it between two steps); its target follows
        t0 = dyn().get("target_mib") or 0
        st, js = req("POST", "/api/v1/vms/ld/agent", {"command": "guest-exec", "arguments": {
            "path": "/bin/sh", "arg": ["-c", "for i in 1 2 3 4 5 6 7 8 9 10; do dd if=/dev/zero "
                                       "of=/tmp/fill$i bs=1M count=16; sleep 8; done"]}})
        up = wait_for(lambda: (lambda x: x if (x.get("target_mib") or 0) >= t0 + 100 else None)(dyn()),
                      150, 1)
        ok("dynmem-linux-grows", st == 200 and up is not None and
           any(e["data"].get("reason") in ("grow", "grow-limited") for e in policy_events()),
           str((st, js, t0, dyn())))
        # a manual target: the policy leaves it alone
        st, js = req("PUT", "/api/v1/vms/ld/balloon", {"target_mib": 480})
        n0 = len(policy_events())
        time.sleep(15)
        x = dyn()
        ok("dynmem-linux-manual", st == 200 and js.get("mode") == "manual" and
           x.get("mode") == "manual" and x.get("target_mib") == 480 and len(policy_events()) == n0,
           str((st, js, x)))
        # a setting written (while it runs) hands it back; min = memory_mib turns it off:
        # all of its memory again
        st, js = req("PATCH", "/api/v1/vms/ld", {"memory_min_mib": 512})
        full = wait_for(lambda: (lambda x: x if x.get("target_mib") == 512 else None)(dyn()), 30, 1)
        ok("dynmem-linux-off-while-running", st == 200 and full is not None and
           full["mode"] == "off" and policy_events()[-1]["data"].get("reason") == "clamp",
           str((st, js, dyn())))
        st, js = req("PUT", "/api/v1/vms/ld/balloon", {"target_mib": 300})
        st2, js2 = req("PUT", "/api/v1/vms/ld/balloon", {"auto": True})
        back = wait_for(lambda: (lambda x: x if x.get("target_mib") == 512 else None)(dyn()), 30, 1)
        ok("dynmem-linux-auto", st == 200 and st2 == 200 and js2.get("mode") == "off" and
           back is not None, str((st, js, st2, js2, dyn())))
        req("POST", "/api/v1/vms/ld/off")
        d.wait_state(adm, "ld", ("stopped",), 60)
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
