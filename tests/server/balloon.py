"""A VM's memory balloon in the server (see t-server-balloon.sh): the "balloon" setting (on by
default for new VMs, off for those the inventory's migration 8 finds, changed while off), the
VMM's argv (`--device balloon,...`, on PCI for a firmware VM; recorded by a shim in front of
the real vsrv, which then takes the spec and stops at /dev/kvm), GET and PUT
/api/v1/vms/NAME/balloon refused for a VM that does not run (409), for bad bodies (400),
without permission (403, 404), and with KVM the Linux test guest's balloon driver: its
statistics, inflating to a target and back, and the free memory it reports leaving the VMM."""
import os, shutil, sqlite3, subprocess, sys, tempfile, time
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

    # --- the API refuses what cannot be: the VMs are off -------------------------------------
    st, js = req("GET", "/api/v1/vms/b1/balloon")
    ok("balloon-get-not-running-409", st == 409 and "stopped" in msg(js), str((st, js)))
    st, js = req("PUT", "/api/v1/vms/b1/balloon", {"target_mib": 32})
    ok("balloon-put-not-running-409", st == 409, str((st, js)))
    bad = [{}, {"target_mib": 0}, {"target_mib": -1}, {"target_mib": "32"}, {"target_mib": 1.5},
           {"target_mib": 32, "more": 1}, [32]]
    codes = [req("PUT", "/api/v1/vms/b1/balloon", b)[0] for b in bad]
    ok("balloon-put-bad-bodies-400", codes == [400] * len(bad), str(codes))
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
        # back to a version-7 inventory: without the columns migrations 8 and later add
        later = ("balloon", "display", "enlightenments", "mem_merge")
        cols = [r[1] for r in c.execute("PRAGMA table_info(vm_hw)")]
        tcols = [r[1] for r in c.execute("PRAGMA table_info(tasks)")]
        c.executescript("".join("ALTER TABLE vm_hw DROP COLUMN %s; " % x for x in later if x in cols) +
                        ("ALTER TABLE tasks DROP COLUMN host; " if "host" in tcols else "") +
                        "PRAGMA user_version = 7;")
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
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
