"""A VM's hardware in the server (see t-server-vmhw.sh): firmware, boot order, UUID, disk bus,
CD/DVD drive bus, NIC model and the os_type presets; validation; PATCH while off and its
permission; the VMM's argv the supervisor builds (recorded by a shim in front of the real
vsrv: the VMM then fails without KVM); the inventory's migration 7; the UEFI variable store
in the VM's directory, gone with the VM."""
import json, os, shutil, sqlite3, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
import invrows, lib

tmp = tempfile.mkdtemp(prefix="vsrv-vmhw.")
os.chmod(tmp, 0o711)
shim, vmm_argvs = vmm_shim(tmp)
d = Daemon(os.path.join(tmp, "data"), extra=["--vmm", shim]).start()
adm = d.login("admin", "adminpass1")
IMG = os.path.join(d.data, "images")


def req(method, path, body=None, tok=adm):
    return d.req(method, path, body, token=tok)


msg = err_message


def put(name, data):
    c = d.conn(timeout=60)
    path = "/api/v1/images/" + name
    c.request("PUT", path, body=data, headers={"Authorization": "Bearer " + adm,
                                                "Content-Type": "application/octet-stream"})
    r = c.getresponse()
    text = r.read()
    c.close()
    check_answer("PUT", path, r.status, r.getheader("Content-Type"), text)
    return r.status


def start_argv(name):
    """Start VM name; the VMM's argv the shim recorded (it then ends without KVM)."""
    before = len(vmm_argvs())
    st, js = req("POST", "/api/v1/vms/%s/start" % name)
    got = wait_for(lambda: len(vmm_argvs()) > before, 20)
    argv = vmm_argvs()[-1] if got else []
    if have_kvm():
        req("POST", "/api/v1/vms/%s/off" % name)
    d.wait_state(adm, name, ("stopped", "crashed"), 30)
    return st, argv


def opt(argv, name):
    """The values of option name in argv, in order."""
    return [argv[i + 1] for i, a in enumerate(argv) if a == name and i + 1 < len(argv)]


def hw(js):
    return {k: js.get(k) for k in ("firmware", "boot", "os_type", "kernel")}


try:
    put("hello.elf", open(os.path.join(GUESTS, "hello.elf"), "rb").read())
    put("disc.raw", b"\0" * 8192)
    req("POST", "/api/v1/disks", {"name": "d1", "size": 1 << 20})
    req("POST", "/api/v1/disks", {"name": "d2", "size": 1 << 20})
    req("POST", "/api/v1/disks", {"name": "d3", "size": 1 << 20})
    req("POST", "/api/v1/networks", {"name": "lan", "kind": "nat", "subnet": "10.9.0.0/24"})

    # --- presets -------------------------------------------------------------------------------
    st, js = req("POST", "/api/v1/vms", {"name": "lin", "os_type": "linux", "kernel": "hello.elf",
                                         "disks": [{"disk": "d1"}], "nics": [{"network": "lan"}],
                                         "cdroms": [{"image": None}]})
    ok("preset-linux", st == 201 and hw(js) == {"firmware": "none", "boot": [], "os_type": "linux",
                                                "kernel": "hello.elf"} and
       js["disks"][0]["bus"] == "virtio-blk" and js["nics"][0]["model"] == "virtio" and
       js["cdroms"] == [{"image": None, "bus": "virtio-scsi"}], str((st, js)))
    st, js = req("POST", "/api/v1/vms", {"name": "win", "os_type": "windows", "disks": [{"disk": "d2"}],
                                         "nics": [{"network": "lan"}], "cdroms": [{"image": "disc.raw"}]})
    ok("preset-windows", st == 201 and hw(js) == {"firmware": "uefi", "boot": ["cdrom", "disk"],
                                                  "os_type": "windows", "kernel": None} and
       js["disks"][0]["bus"] == "ahci" and js["nics"][0]["model"] == "e1000" and
       js["cdroms"] == [{"image": "disc.raw", "bus": "ahci"}], str((st, js)))
    st, js = req("POST", "/api/v1/vms", {"name": "old", "os_type": "legacy", "boot": ["disk"],
                                         "nics": [{"network": "lan", "model": "virtio"}],
                                         "disks": [{"disk": "d3", "bus": "scsi"}]})
    ok("preset-legacy-given-fields-win", st == 201 and hw(js) == {
        "firmware": "bios", "boot": ["disk"], "os_type": "legacy", "kernel": None} and
       js["disks"][0]["bus"] == "scsi" and js["nics"][0]["model"] == "virtio", str((st, js)))
    st, js = req("GET", "/api/v1/vms/win")
    ok("get-shows-hardware", st == 200 and hw(js)["firmware"] == "uefi" and
       len(js.get("uuid") or "") == 36 and js["uuid"][14] == "4", str((st, js)))
    uuids = [req("GET", "/api/v1/vms/" + n)[1]["uuid"] for n in ("lin", "win", "old")]
    ok("uuids-distinct", len(set(uuids)) == 3, str(uuids))
    st, js = req("POST", "/api/v1/vms", {"name": "plain", "kernel": "hello.elf"})
    ok("no-preset-defaults", st == 201 and hw(js) == {"firmware": "none", "boot": [], "os_type": None,
                                                      "kernel": "hello.elf"},
       str((st, js)))
    st, js = req("POST", "/api/v1/vms", {"name": "fw", "firmware": "bios"})
    ok("firmware-without-kernel", st == 201 and js["kernel"] is None and js["firmware"] == "bios",
       str((st, js)))

    # --- validation ----------------------------------------------------------------------------
    bad = [
        ("firmware-unknown-400", {"firmware": "coreboot"}, "firmware"),
        ("firmware-with-kernel-400", {"firmware": "uefi", "kernel": "hello.elf"}, "kernel: not with firmware uefi"),
        ("preset-with-kernel-400", {"os_type": "windows", "kernel": "hello.elf"}, "kernel: not with firmware"),
        ("firmware-with-cmdline-400", {"firmware": "bios", "cmdline": "x"}, "cmdline: not with firmware"),
        ("kernel-required-400", {"firmware": "none"}, "kernel"),
        ("boot-without-firmware-400", {"kernel": "hello.elf", "boot": ["disk"]}, "boot: a boot order is for firmware"),
        ("boot-unknown-device-400", {"firmware": "bios", "boot": ["floppy"]}, "boot[0]: one of cdrom, disk, net"),
        ("boot-twice-400", {"firmware": "bios", "boot": ["disk", "disk"]}, "boot[1]"),
        ("boot-not-a-list-400", {"firmware": "bios", "boot": "disk"}, "boot"),
        ("os-type-unknown-400", {"os_type": "beos"}, "os_type"),
        ("disk-bus-unknown-400", {"firmware": "bios", "disks": [{"disk": "d1", "bus": "floppy"}]}, "disks[0]"),
        ("nic-model-unknown-400", {"firmware": "bios", "nics": [{"network": "lan", "model": "rtl8139"}]}, "nics[0]"),
        ("cdrom-bus-unknown-400", {"firmware": "bios", "cdroms": [{"image": None, "bus": "sata"}]}, "cdroms[0].bus"),
    ]
    for i in range(7):
        req("POST", "/api/v1/disks", {"name": "a%d" % i, "size": 1 << 20})
    bad.append(("ahci-ports-400", {"firmware": "bios", "disks": [{"disk": "a%d" % i, "bus": "ahci"} for i in range(5)],
                                   "cdroms": [{"image": None, "bus": "ahci"}] * 2}, "the AHCI controller has 6 ports"))
    bad.append(("ide-drives-400", {"firmware": "bios", "disks": [{"disk": "a%d" % i, "bus": "ide"} for i in range(3)],
                                   "cdroms": [{"image": None, "bus": "ide"}] * 2}, "5 drives on the ide bus"))
    for name, body, want in bad:
        body = dict(body, name="bad")
        st, js = req("POST", "/api/v1/vms", body)
        ok(name, st == 400 and want in msg(js), str((st, js)))
    ok("bad-not-created", req("GET", "/api/v1/vms/bad")[0] == 404)
    st, js = req("POST", "/api/v1/vms", {"name": "six", "firmware": "bios", "cdroms": [{"image": None, "bus": "ahci"}] * 2,
                                         "disks": [{"disk": "a%d" % i, "bus": "ahci"} for i in range(4)]})
    ok("ahci-six-drives", st == 201, str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/six", {"cdroms": [{"image": None, "bus": "ahci"}] * 3})
    ok("ahci-ports-patch-400", st == 400 and "6 ports" in msg(js) and
       len(req("GET", "/api/v1/vms/six")[1]["cdroms"]) == 2, str((st, js)))
    # IDE: two channels, master and slave: four drives, a disk and a CD/DVD drive on ide
    st, js = req("POST", "/api/v1/vms", {"name": "pata", "firmware": "bios", "boot": ["cdrom", "disk"],
                                         "cdroms": [{"image": "disc.raw", "bus": "ide"}],
                                         "disks": [{"disk": "a%d" % i, "bus": "ide"} for i in range(4, 7)]})
    ok("ide-four-drives", st == 201 and js["cdroms"] == [{"image": "disc.raw", "bus": "ide"}] and
       [x["bus"] for x in js["disks"]] == ["ide"] * 3, str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/pata", {"cdroms": [{"image": None, "bus": "ide"}] * 2})
    ok("ide-drives-patch-400", st == 400 and "the IDE controller has 4" in msg(js) and
       len(req("GET", "/api/v1/vms/pata")[1]["cdroms"]) == 1, str((st, js)))

    # --- PATCH while off -----------------------------------------------------------------------
    st, js = req("PATCH", "/api/v1/vms/plain", {"firmware": "uefi", "boot": ["net", "disk"]})
    ok("patch-to-firmware-drops-kernel", st == 200 and hw(js) == {
        "firmware": "uefi", "boot": ["net", "disk"], "os_type": None, "kernel": None}, str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/plain", {"firmware": "none"})
    ok("patch-to-none-needs-kernel-400", st == 400 and "kernel: required" in msg(js), str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/plain", {"firmware": "none", "kernel": "hello.elf"})
    ok("patch-back-to-kernel", st == 200 and hw(js) == {"firmware": "none", "boot": [], "os_type": None,
                                                        "kernel": "hello.elf"},
       str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/plain", {"os_type": "windows"})
    ok("patch-os-type-400", st == 400 and "os_type" in msg(js), str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/win", {"kernel": "hello.elf"})
    ok("patch-kernel-on-firmware-vm-400", st == 400 and "kernel: not with firmware uefi" in msg(js),
       str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/lin", {"nics": [{"network": "lan", "model": "e1000"}],
                                              "cdroms": [{"image": "disc.raw", "bus": "ahci"}],
                                              "disks": [{"disk": "d1", "bus": "ahci"}]})
    ok("patch-models-and-buses", st == 200 and js["nics"][0]["model"] == "e1000" and
       js["cdroms"] == [{"image": "disc.raw", "bus": "ahci"}] and js["disks"][0]["bus"] == "ahci",
       str((st, js)))
    req("POST", "/api/v1/users", {"name": "bob", "password": "Password-bob"})
    bob = d.login("bob", "Password-bob")
    req("PUT", "/api/v1/vms/old/permissions", {"grants": [{"user": "bob", "permissions": ["view", "control"]}]})
    st, js = req("PATCH", "/api/v1/vms/old", {"firmware": "uefi"}, tok=bob)
    ok("patch-needs-modify-403", st == 403, str((st, js)))
    req("PUT", "/api/v1/vms/old/permissions", {"grants": [{"user": "bob", "permissions": ["view", "modify"]}]})
    st, js = req("PATCH", "/api/v1/vms/old", {"boot": ["cdrom"]}, tok=bob)
    ok("patch-with-modify", st == 200 and js["boot"] == ["cdrom"], str((st, js)))

    # --- a clone has the same hardware, its own UUID -------------------------------------------
    st, js = req("POST", "/api/v1/vms", {"name": "tpl", "os_type": "windows", "nics": [{"network": "lan"}],
                                         "cdroms": [{"image": None}]})
    st, js = req("POST", "/api/v1/vms/tpl/clone", {"name": "tplc", "linked": True})
    tpl = req("GET", "/api/v1/vms/tpl")[1]
    ok("clone-keeps-hardware", st == 201 and hw(js) == hw(tpl) and js["nics"][0]["model"] == "e1000" and
       js["cdroms"] == [{"image": None, "bus": "ahci"}] and js["uuid"] != tpl["uuid"], str((st, js)))

    # --- the CLI --------------------------------------------------------------------------------
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSRV_")}
    env.update(HOME=tmp, VSRV_SERVER="http://127.0.0.1:%d" % d.port, VSRV_TOKEN=adm)

    def cli(*a):
        return subprocess.run([VSRV] + list(a), capture_output=True, text=True, env=env, timeout=60)

    r = cli("vm", "create", "clivm", "--os-type", "legacy", "--nic", "lan", "--cdrom", "disc.raw")
    js = req("GET", "/api/v1/vms/clivm")[1]
    ok("cli-create-os-type", r.returncode == 0 and hw(js) == {
        "firmware": "bios", "boot": ["cdrom", "disk"], "os_type": "legacy", "kernel": None} and
       js["nics"][0]["model"] == "e1000" and js["cdroms"][0]["bus"] == "ide", r.stdout + r.stderr)
    r = cli("vm", "edit", "clivm", "--firmware", "uefi", "--boot", "net,cdrom", "--nic", "lan",
            "--nic-model", "virtio", "--cdrom", "disc.raw", "--cdrom-bus", "virtio-scsi",
            "--disk", "d3:ahci")
    js = req("GET", "/api/v1/vms/clivm")[1]
    ok("cli-edit-hardware", r.returncode == 0 and js["firmware"] == "uefi" and
       js["boot"] == ["net", "cdrom"] and js["nics"][0]["model"] == "virtio" and
       js["cdroms"][0]["bus"] == "virtio-scsi" and js["disks"][0]["bus"] == "ahci", r.stdout + r.stderr)
    r = cli("vm", "edit", "clivm", "--display", "none", "--enlightenments", "hyperv",
            "--mem-merge", "yes")
    js2 = req("GET", "/api/v1/vms/clivm")[1]
    r2 = cli("vm", "edit", "clivm", "--enlightenments", "vmware")
    ok("cli-edit-display-enlightenments-ksm", r.returncode == 0 and js2["display"] == "none" and
       js2["enlightenments"] == "hyperv" and js2["mem_merge"] is True and r2.returncode != 0 and
       "--enlightenments" in r2.stderr, r.stdout + r.stderr + r2.stderr)
    r = cli("vm", "edit", "clivm", "--enlightenments", "xen")
    ok("cli-edit-enlightenments-xen", r.returncode == 0 and
       req("GET", "/api/v1/vms/clivm")[1]["enlightenments"] == "xen", r.stdout + r.stderr)
    r = cli("vm", "create", "clibad", "--firmware", "bios", "--kernel", "hello.elf")
    ok("cli-create-firmware-with-kernel-refused", r.returncode != 0 and "kernel: not with firmware" in r.stderr,
       r.stdout + r.stderr)
    r = cli("vm", "show", "clivm")
    ok("cli-show-hardware", r.returncode == 0 and "uefi" in r.stdout and "net,cdrom" in r.stdout and
       js["uuid"] in r.stdout, r.stdout + r.stderr)
    r = cli("vm", "create", "--help")
    ok("cli-help-options", all(o in r.stdout for o in ("--firmware", "--boot", "--os-type", "--nic-model",
                                                       "--cdrom-bus")), r.stdout)

    # --- inventory: migration 7 ----------------------------------------------------------------
    ver = invrows.user_version(d)
    uuid = req("GET", "/api/v1/vms/win")[1].get("uuid")
    row = [(r["firmware"], r["boot"], r["os_type"]) for r in invrows.select(d, "vm_hw", uuid=uuid)]
    ok("inventory-migration-7", (ver is None or ver >= 7) and row == [("uefi", "cdrom,disk", "windows")],
       str((ver, row)))

    # --- the VMM's argv ------------------------------------------------------------------------
    st, argv = start_argv("win")
    vmid = [v for v in os.listdir(os.path.join(d.data, "vms"))
            if os.path.exists(os.path.join(d.data, "vms", v))]
    win = req("GET", "/api/v1/vms/win")[1]
    fwarg = opt(argv, "--firmware")
    vars_path = fwarg[0][len("uefi,vars="):] if fwarg and fwarg[0].startswith("uefi,vars=") else ""
    ok("argv-uefi-vars-in-vm-dir", st == 202 and vars_path.endswith("/OVMF_VARS.fd") and
       os.path.dirname(os.path.dirname(vars_path)) == os.path.join(d.data, "vms") and
       "--kernel" not in argv, str((st, argv)))
    ok("argv-boot-order", opt(argv, "--boot") == ["cdrom,disk"], str(argv))
    ok("argv-uuid-and-name", opt(argv, "--uuid") == [win["uuid"]] and opt(argv, "--name") == ["win"],
       str(argv))
    ok("argv-ahci-disk", any(s.endswith(",bus=ahci") and "media=cdrom" not in s
                             for s in opt(argv, "--disk")), str(argv))
    ok("argv-ahci-cdrom", opt(argv, "--disk").count(os.path.join(IMG, "disc.raw") + ",media=cdrom,bus=ahci") == 1
       and "--cdrom" not in argv, str(argv))
    ok("argv-e1000-nic", len(opt(argv, "--net")) == 1 and opt(argv, "--net")[0].endswith(",model=e1000"),
       str(argv))
    st, argv2 = start_argv("win")
    ok("uuid-stable-across-starts", opt(argv2, "--uuid") == [win["uuid"]] and
       req("GET", "/api/v1/vms/win")[1]["uuid"] == win["uuid"], str(argv2))
    st, argv = start_argv("old")
    ok("argv-bios", opt(argv, "--firmware") == ["bios"] and opt(argv, "--boot") == ["cdrom"] and
       "--kernel" not in argv, str(argv))
    st, argv = start_argv("plain")
    ok("argv-kernel-vm-unchanged", opt(argv, "--kernel") == [os.path.join(IMG, "hello.elf")] and
       "--firmware" not in argv and "--uuid" not in argv and "--name" not in argv, str(argv))
    st, argv = start_argv("pata")
    ok("argv-ide-disks", sum(1 for s in opt(argv, "--disk") if s.endswith(",bus=ide") and
                             "media=cdrom" not in s) == 3, str(argv))
    ok("argv-ide-cdrom", opt(argv, "--disk").count(os.path.join(IMG, "disc.raw") + ",media=cdrom,bus=ide") == 1
       and "--cdrom" not in argv, str(argv))
    # --- enlightenments (by os_type unless set) and KSM (only when asked for) -----------------
    ok("enlightenments-by-os-type", win.get("enlightenments") == "hyperv" and
       req("GET", "/api/v1/vms/plain")[1].get("enlightenments") == "kvm" and
       win.get("mem_merge") is False, str(win))
    ok("argv-enlightenments-hyperv", opt(argv2, "--enlightenments") == ["hyperv"] and
       "--mem-merge" not in argv2, str(argv2))
    st, js = req("PATCH", "/api/v1/vms/plain", {"enlightenments": "none", "mem_merge": True})
    st2, js2 = req("PATCH", "/api/v1/vms/plain", {"enlightenments": "vmware"})
    st3, js3 = req("PATCH", "/api/v1/vms/plain", {"mem_merge": "yes"})
    ok("enlightenments-and-mem-merge-set", st == 200 and js.get("enlightenments") == "none" and
       js.get("mem_merge") is True and st2 == 400 and "enlightenments" in msg(js2) and
       st3 == 400 and "mem_merge" in msg(js3), str((st, js, st2, js2, st3, js3)))
    st, argv = start_argv("plain")
    ok("argv-enlightenments-none-mem-merge", opt(argv, "--enlightenments") == ["none"] and
       opt(argv, "--mem-merge") == ["on"], str(argv))
    st, js = req("PATCH", "/api/v1/vms/plain", {"enlightenments": "xen"})
    st2, argv = start_argv("plain")
    ok("enlightenments-xen", st == 200 and js.get("enlightenments") == "xen" and
       opt(argv, "--enlightenments") == ["xen"], str((st, js, argv)))
    st, argv = start_argv("lin")
    ok("argv-patched-devices", opt(argv, "--net")[0].endswith(",model=e1000") and
       opt(argv, "--disk")[-1] == os.path.join(IMG, "disc.raw") + ",media=cdrom,bus=ahci", str(argv))

    # --- the UEFI variable store goes with the VM ----------------------------------------------
    # The VMM makes it from the template when it runs; without KVM stand in for it.
    if vars_path and not os.path.exists(vars_path):
        open(vars_path, "wb").write(b"\0" * 4096)
    st, js = req("DELETE", "/api/v1/vms/win")
    ok("vars-deleted-with-vm", st in (200, 204) and vars_path and not os.path.exists(vars_path) and
       not os.path.exists(os.path.dirname(vars_path)), str((st, js, vars_path)))

    # --- under KVM: SeaBIOS boots the boot-sector guest from the VM's AHCI CD drive -------------
    # (guests/fwboot: it checks the SMBIOS UUID against the one in its parameter block, the
    # CPUs and memory, and prints PASS/FAIL fwboot-NAME lines; see t-firmware-boot.sh)
    if not have_kvm() or not os.path.exists(os.path.join(GUESTS, "fwboot.iso")):
        skip("kvm-bios-boots-ahci-cdrom", "no usable /dev/kvm (or guests not built)")
    else:
        st, js = req("POST", "/api/v1/vms", {"name": "fwb", "os_type": "legacy", "memory_mib": 256,
                                             "cpus": 1, "cdroms": [{"image": None}]})
        data = bytearray(open(os.path.join(GUESTS, "fwboot.iso"), "rb").read())
        at = data.find(b"VSRVFWBOOT:") + len(b"VSRVFWBOOT:")
        t = ("mem=256M cpus=1 uuid=%s sector=2048" % js["uuid"]).encode() + b"\0"
        data[at:at + len(t)] = t
        put("fwboot.iso", bytes(data))
        req("PATCH", "/api/v1/vms/fwb", {"cdroms": [{"image": "fwboot.iso", "bus": "ahci"}]})
        req("POST", "/api/v1/vms/fwb/start")
        end = d.wait_state(adm, "fwb", ("stopped", "crashed"), 120)
        out = ""
        for root, _, files in os.walk(os.path.join(d.data, "vms")):
            if "console.log" in files:
                out += open(os.path.join(root, "console.log"), errors="replace").read()
        ok("kvm-bios-boots-ahci-cdrom", end and "PASS fwboot-uuid" in out and
           "PASS fwboot-medium" in out and "FAIL fwboot-" not in out, out[-600:])

    # --- migration 7 over an inventory of version 6: every VM gets a UUID ----------------------
    if lib.INVENTORY == "etcd":
        skip("migration-7-gives-uuids", "SQLite's migrations: the etcd inventory has none")
    else:
        d.stop()
        c = sqlite3.connect(os.path.join(d.data, "inventory.db"))
        # (and what migrations after 10 add elsewhere: tasks.host, migration 11,
        # snapshots.memory_bytes, migration 13; images, migration 14; vm_hw's columns of migrations 8 to 12, dynamic
        # memory's among them, go with the table)
        c.executescript("DROP TABLE vm_hw; ALTER TABLE vm_nics DROP COLUMN model; "
                        "ALTER TABLE vm_cdroms DROP COLUMN bus; ALTER TABLE tasks DROP COLUMN host; "
                        "ALTER TABLE snapshots DROP COLUMN memory_bytes; " + UNDO_MIGRATIONS_14_15 +
                        "PRAGMA user_version = 6;")
        c.close()
        d.start()
        tok = d.login("admin", "adminpass1")
        st, js = d.req("GET", "/api/v1/vms?limit=100", token=tok)
        vms = [d.req("GET", "/api/v1/vms/" + v["name"], token=tok)[1] for v in js.get("vms", [])]
        ok("migration-7-gives-uuids", st == 200 and len(vms) >= 5 and
           len({v["uuid"] for v in vms}) == len(vms) and all(len(v["uuid"]) == 36 for v in vms) and
           all(v["firmware"] == "none" and all(n["model"] == "virtio" for n in v["nics"]) and
           all(x["bus"] == "virtio-scsi" for x in v["cdroms"]) for v in vms), str((st, vms)))
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
