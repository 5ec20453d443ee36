"""CD/DVD drives of the server's VMs (see t-server-cdroms.sh): ISOs made with xorriso and
uploaded through the API; drives created, changed and shown; validation; the images' users
and their refused DELETE; media change on an off VM; permissions; the VMM's argv the
supervisor builds; the inventory's migration 6; under KVM a VM started with a disc whose
medium is changed while it runs."""
import json, os, shutil, stat, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
import lib
from lib import *
import invrows

tmp = tempfile.mkdtemp(prefix="vsrv-cdroms.")
os.chmod(tmp, 0o711)   # as the parents of a real data directory: the VMs' user passes through
# The VMM binary behind a shim that records each argv before running the real one (the
# supervisor's command line, visible without KVM: the VMM itself then fails on /dev/kvm).
shim, vmm_argvs = vmm_shim(tmp)
d = Daemon(os.path.join(tmp, "data"), extra=["--vmm", shim]).start()
adm = d.login("admin", "adminpass1")
IMG = os.path.join(d.data, "images")


def req(method, path, body=None, tok=adm):
    return d.req(method, path, body, token=tok)


msg = err_message


def put(name, data, tok=adm):
    c = d.conn(timeout=60)
    path = "/api/v1/images/" + name
    c.request("PUT", path, body=data, headers={"Authorization": "Bearer " + tok,
                                                "Content-Type": "application/octet-stream"})
    r = c.getresponse()
    text = r.read()
    c.close()
    check_answer("PUT", path, r.status, r.getheader("Content-Type"), text)
    return r.status, (json.loads(text) if text else None)


def user(name):
    req("POST", "/api/v1/users", {"name": name, "password": "Password-" + name})
    return d.login(name, "Password-" + name)


def nobus(drives):
    """The drives without their bus (virtio-scsi unless asked: tests/server/vmhw.py)."""
    return [{k: v for k, v in x.items() if k != "bus"} for x in drives]


def cdroms(name):
    st, js = req("GET", "/api/v1/vms/" + name)
    return nobus(js["cdroms"]) if st == 200 else (st, js)


def cdrom_args(argv):
    """The --cdrom arguments of argv: a path, or None for an empty drive."""
    out = []
    for i, a in enumerate(argv):
        if a == "--cdrom":
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            out.append(nxt if nxt and not nxt.startswith("-") else None)
    return out


try:
    # --- ISOs made with xorriso, uploaded through the API ------------------------------------
    src = os.path.join(tmp, "src")
    isos = {}
    for n in ("one", "two"):
        os.makedirs(os.path.join(src, n))
        with open(os.path.join(src, n, "readme.txt"), "w") as f:
            f.write("disc %s\n" % n)
        r = subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", "VSRV_CD_" + n.upper(),
                            "-o", os.path.join(src, n + ".iso"), os.path.join(src, n)],
                           capture_output=True, text=True)
        if r.returncode:
            print("FAIL xorriso: " + r.stderr[-300:])
            sys.exit(1)
        st, js = put(n + ".iso", open(os.path.join(src, n + ".iso"), "rb").read())
        isos[n] = js
    ok("iso-uploaded", all(isos[n] and isos[n]["kind"] == "iso" for n in isos), str(isos))
    put("boot.elf", open(os.path.join(GUESTS, "vcdrom.elf"), "rb").read())
    subprocess.run([VSRV, "img", "create", "-f", "vpc", os.path.join(src, "d.vhd"), "8M"], check=True)
    put("disk.vhd", open(os.path.join(src, "d.vhd"), "rb").read())
    put("tiny.raw", b"x" * 100)
    put("blocks.raw", b"\0" * 8192)

    # --- created with the VM, shown, changed while off ----------------------------------------
    st, js = req("POST", "/api/v1/vms", {"name": "inst", "kernel": "boot.elf", "memory_mib": 64,
                                         "cdroms": [{"image": "one.iso"}, {"image": None}]})
    ok("create-with-cdroms", st == 201 and nobus(js["cdroms"]) == [{"image": "one.iso"}, {"image": None}],
       str((st, js)))
    ok("get-shows-cdroms", cdroms("inst") == [{"image": "one.iso"}, {"image": None}], str(cdroms("inst")))
    st, js = req("POST", "/api/v1/vms", {"name": "plain", "kernel": "boot.elf", "memory_mib": 32})
    ok("vm-without-cdroms-has-none", st == 201 and nobus(js["cdroms"]) == [], str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/plain", {"cdroms": [{"image": "blocks.raw"}]})
    ok("patch-cdroms-raw-image", st == 200 and nobus(js["cdroms"]) == [{"image": "blocks.raw"}], str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/plain", {"cdroms": []})
    ok("patch-cdroms-removed", st == 200 and nobus(js["cdroms"]) == [] and cdroms("plain") == [], str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/plain", {"description": "x"})
    ok("patch-other-field-keeps-cdroms", st == 200 and nobus(js["cdroms"]) == [], str((st, js)))

    # --- validation -------------------------------------------------------------------------
    bad = [
        ("unknown-image-400", [{"image": "nope.iso"}], "no image named 'nope.iso'"),
        ("non-iso-kind-400", [{"image": "disk.vhd"}], "vhd image"),
        ("kernel-kind-400", [{"image": "boot.elf"}], "kernel image"),
        ("smaller-than-a-block-400", [{"image": "tiny.raw"}], "2048-byte block"),
        ("too-many-drives-400", [{"image": None}] * 5, "at most 4"),
        ("bad-name-400", [{"image": "../x"}], "cdroms[0].image"),
        ("not-an-object-400", ["one.iso"], "cdroms[0]"),
        ("unknown-field-400", [{"image": None, "bus": "floppy"}], "cdroms[0]"),
        ("image-missing-400", [{}], "cdroms[0]"),
        ("image-not-a-string-400", [{"image": 5}], "cdroms[0]"),
    ]
    for name, lst, want in bad:
        st, js = req("POST", "/api/v1/vms", {"name": "badvm", "kernel": "boot.elf", "cdroms": lst})
        st2, js2 = req("PATCH", "/api/v1/vms/plain", {"cdroms": lst})
        ok("cdroms-" + name, st == 400 and want in msg(js) and st2 == 400 and want in msg(js2) and
           req("GET", "/api/v1/vms/badvm")[0] == 404 and cdroms("plain") == [],
           str((st, js, st2, js2)))

    # --- the image store knows its users ------------------------------------------------------
    st, js = req("GET", "/api/v1/images/one.iso")
    ok("image-used-by-drive", st == 200 and js["used_by"] == "inst" and js["used_by_others"] == 0,
       str((st, js)))
    req("PATCH", "/api/v1/vms/plain", {"cdroms": [{"image": "one.iso"}, {"image": "one.iso"}]})
    st, js = req("GET", "/api/v1/images/one.iso")
    ok("image-used-by-two-vms-once-each", js["used_by"] == "inst,plain", str(js))
    lst = {i["name"]: i for i in req("GET", "/api/v1/images")[1]["images"]}
    ok("image-list-used-by", lst["one.iso"]["used_by"] == "inst,plain" and lst["two.iso"]["used_by"] is None,
       str(lst.get("one.iso")))
    st, js = req("DELETE", "/api/v1/images/one.iso")
    ok("image-delete-refused-409", st == 409 and "inst" in msg(js) and "plain" in msg(js) and
       os.path.exists(os.path.join(IMG, "one.iso")), str((st, js)))
    req("PATCH", "/api/v1/vms/plain", {"cdroms": []})

    # --- media change on an off VM ------------------------------------------------------------
    st, js = req("POST", "/api/v1/vms/inst/media", {"drive": 1, "image": "two.iso"})
    ok("media-off-insert", st == 200 and nobus(js["cdroms"]) == [{"image": "one.iso"}, {"image": "two.iso"}],
       str((st, js)))
    st, js = req("POST", "/api/v1/vms/inst/media", {"image": None})
    ok("media-off-eject-default-drive-0", st == 200 and nobus(js["cdroms"]) == [{"image": None}, {"image": "two.iso"}],
       str((st, js)))
    st, js = req("GET", "/api/v1/images/one.iso")
    ok("image-unused-after-eject", js["used_by"] is None, str(js))
    st, js = req("GET", "/api/v1/events?type=vm-media-changed")
    evs = [e for e in (js.get("events", []) if st == 200 else []) if e["type"] == "vm-media-changed"]
    ok("media-event", len(evs) == 2 and evs[-1]["object"] == "inst" and
       any(e.get("data", {}).get("image") == "two.iso" and e["data"]["drive"] == 1 for e in evs),
       str((st, evs)))
    for name, body, code, want in [
        ("no-such-drive-400", {"drive": 2, "image": None}, 400, "2 CD/DVD drives"),
        ("drive-out-of-range-400", {"drive": 9, "image": None}, 400, "drive"),
        ("unknown-image-400", {"image": "nope.iso"}, 400, "no image named"),
        ("non-iso-400", {"image": "disk.vhd"}, 400, "vhd image"),
        ("image-required-400", {"drive": 0}, 400, "image"),
        ("unknown-field-400", {"image": None, "tray": "open"}, 400, "tray"),
    ]:
        st, js = req("POST", "/api/v1/vms/inst/media", body)
        ok("media-" + name, st == code and want in msg(js), str((st, js)))
    st, js = req("POST", "/api/v1/vms/plain/media", {"image": "one.iso"})
    ok("media-vm-without-drives-400", st == 400 and "0 CD/DVD drives" in msg(js), str((st, js)))
    st, js = req("POST", "/api/v1/vms/ghost/media", {"image": None})
    ok("media-no-such-vm-404", st == 404, str((st, js)))

    # --- permissions: media needs control; PATCH needs modify ---------------------------------
    bob = user("bob")
    st, js = req("POST", "/api/v1/vms/inst/media", {"image": "one.iso"}, tok=bob)
    ok("media-unseen-vm-404", st == 404 and "no VM named 'inst'" in msg(js), str((st, js)))
    req("PUT", "/api/v1/vms/inst/permissions", {"grants": [{"user": "bob", "permissions": ["view"]}]})
    st, js = req("POST", "/api/v1/vms/inst/media", {"image": "one.iso"}, tok=bob)
    ok("media-view-only-403", st == 403 and cdroms("inst")[0] == {"image": None}, str((st, js)))
    st, js = req("PATCH", "/api/v1/vms/inst", {"cdroms": []}, tok=bob)
    ok("patch-cdroms-view-only-403", st == 403 and len(cdroms("inst")) == 2, str((st, js)))
    req("PUT", "/api/v1/vms/inst/permissions", {"grants": [{"user": "bob", "permissions": ["view", "control"]}]})
    st, js = req("POST", "/api/v1/vms/inst/media", {"image": "one.iso"}, tok=bob)
    ok("media-with-control", st == 200 and nobus(js["cdroms"])[0] == {"image": "one.iso"}, str((st, js)))
    st, js = req("GET", "/api/v1/images/one.iso", tok=bob)
    ok("image-list-still-needs-server-modify", st == 403, str((st, js)))

    # --- a clone has the same drives and media -----------------------------------------------
    st, js = req("POST", "/api/v1/vms/inst/clone", {"name": "instc", "linked": True})
    ok("clone-keeps-cdroms", st == 201 and nobus(js["cdroms"]) == cdroms("inst") == [{"image": "one.iso"}, {"image": "two.iso"}],
       str((st, js)))
    st, js = req("GET", "/api/v1/images/two.iso")
    ok("clone-counts-as-image-user", st == 200 and js["used_by"] == "inst,instc", str(js))
    req("DELETE", "/api/v1/vms/instc")
    st, js = req("GET", "/api/v1/images/two.iso")
    ok("deleted-vm-no-longer-uses-image", st == 200 and js["used_by"] == "inst", str(js))

    # --- the inventory: migration 6 -----------------------------------------------------------
    ver = invrows.user_version(d)
    vid = invrows.select(d, "vms", name="inst")[0]["id"]
    rows = sorted((r["idx"], r["image"]) for r in invrows.select(d, "vm_cdroms", vm_id=vid))
    ok("inventory-migration-6", (ver is None or ver >= 6) and rows == [(0, "one.iso"), (1, "two.iso")],
       str((ver, rows)))

    # --- the CLI: create from an ISO, edit, media ---------------------------------------------
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSRV_")}
    env.update(HOME=tmp, VSRV_SERVER="http://127.0.0.1:%d" % d.port, VSRV_TOKEN=adm)

    def cli(*a):
        return subprocess.run([VSRV] + list(a), capture_output=True, text=True, env=env, timeout=60)

    r = cli("image", "upload", os.path.join(src, "two.iso"), "--name", "cli.iso")
    ok("cli-image-upload-iso", r.returncode == 0, r.stdout + r.stderr)
    r0 = cli("disk", "create", "target", "16M")
    r = cli("vm", "create", "fromiso", "--kernel", "boot.elf", "--memory", "64", "--cdrom", "cli.iso",
            "--cdrom", "", "--disk", "target")
    st, js = req("GET", "/api/v1/vms/fromiso")
    ok("cli-create-from-iso", r0.returncode == 0 and r.returncode == 0 and st == 200 and
       nobus(js["cdroms"]) == [{"image": "cli.iso"}, {"image": None}] and js["disks"][0]["disk"] == "target",
       str((r0.stderr, r.stdout, r.stderr, st, js)))
    r = cli("vm", "show", "fromiso")
    ok("cli-show-cdroms", r.returncode == 0 and "0: cli.iso, 1: (empty)" in r.stdout, r.stdout + r.stderr)
    r = cli("vm", "media", "fromiso", "--drive", "1", "--insert", "one.iso")
    ok("cli-media-insert", r.returncode == 0 and "drive 1: one.iso" in r.stdout and
       cdroms("fromiso") == [{"image": "cli.iso"}, {"image": "one.iso"}], r.stdout + r.stderr)
    r = cli("vm", "media", "fromiso", "--eject")
    ok("cli-media-eject", r.returncode == 0 and "drive 0: (empty)" in r.stdout and
       cdroms("fromiso")[0] == {"image": None}, r.stdout + r.stderr)
    r = cli("vm", "media", "fromiso")
    r2 = cli("vm", "media", "fromiso", "--insert", "one.iso", "--eject")
    ok("cli-media-usage-error", r.returncode == 2 and r2.returncode == 2 and "--eject" in r.stderr,
       r.stderr + r2.stderr)
    r = cli("vm", "media", "fromiso", "--insert", "disk.vhd")
    ok("cli-media-refused", r.returncode != 0 and "vhd image" in r.stderr, r.stdout + r.stderr)
    r = cli("vm", "edit", "fromiso", "--cdrom", "cli.iso")
    ok("cli-edit-cdroms", r.returncode == 0 and cdroms("fromiso") == [{"image": "cli.iso"}], r.stdout + r.stderr)
    r = cli("vm", "edit", "fromiso", "--no-cdroms")
    ok("cli-edit-no-cdroms", r.returncode == 0 and cdroms("fromiso") == [], r.stdout + r.stderr)
    r = cli("vm", "media", "--help")
    ok("cli-media-help", r.returncode == 0 and "--insert" in r.stdout and "--force" in r.stdout, r.stdout)

    # --- the VMM's argv: --cdrom PATH and an empty --cdrom, after the disks -------------------
    st, js = req("POST", "/api/v1/vms", {"name": "argv", "kernel": "boot.elf", "memory_mib": 32,
                                         "cdroms": [{"image": None}, {"image": "two.iso"}, {"image": "one.iso"}]})
    before = len(vmm_argvs())
    st, js = req("POST", "/api/v1/vms/argv/start")
    got = wait_for(lambda: len(vmm_argvs()) > before, 20)
    argv = vmm_argvs()[-1] if got else []
    ok("vmm-argv-cdroms", st == 202 and cdrom_args(argv) == [None, os.path.join(IMG, "two.iso"),
                                                              os.path.join(IMG, "one.iso")],
       str((st, argv)))
    d.wait_state(adm, "argv", ("running", "stopped", "crashed"), 30)
    if not have_kvm():
        # started without KVM: the VMM ends; a media change on a VM that is not running only
        # changes its configuration
        end = d.wait_state(adm, "argv", ("stopped", "crashed"), 30)
        st, js = req("POST", "/api/v1/vms/argv/media", {"drive": 0, "image": "one.iso"})
        ok("media-after-failed-start-config-only", end and st == 200 and
           nobus(js["cdroms"])[0] == {"image": "one.iso"}, str((end, st, js)))
    st, js = req("DELETE", "/api/v1/images/two.iso")
    ok("image-delete-refused-for-drive-409", st == 409 and "argv" in msg(js), str((st, js)))
    req("POST", "/api/v1/vms/argv/off")
    d.wait_state(adm, "argv", ("stopped", "crashed"), 30)

    # --- an image removed by hand: the VMM's own refusal, naming it, in last_exit ------------
    shutil.copy(os.path.join(IMG, "one.iso"), os.path.join(IMG, "gone.iso"))
    st, js = req("POST", "/api/v1/vms", {"name": "lost", "kernel": "boot.elf", "memory_mib": 32,
                                         "cdroms": [{"image": "gone.iso"}]})
    os.unlink(os.path.join(IMG, "gone.iso"))
    st, js = req("POST", "/api/v1/vms/lost/start")
    end = d.wait_state(adm, "lost", ("crashed", "stopped"), 30)
    ok("missing-image-start-fails-naming-it", st == 202 and end and end["state"] == "crashed" and
       "gone.iso" in json.dumps(end["last_exit"]), str((st, js, end)))

    # --- the VMM's user can read the images (media change under --run-as) ---------------------
    run_as = [a for a in (vmm_argvs()[-1] if vmm_argvs() else []) if a]
    if "--run-as" in run_as:
        import pwd
        who = pwd.getpwnam(run_as[run_as.index("--run-as") + 1])
        r = subprocess.run(["setpriv", "--reuid=%d" % who.pw_uid, "--regid=%d" % who.pw_gid,
                            "--clear-groups", "head", "-c", "32768", os.path.join(IMG, "one.iso")],
                           capture_output=True)
        r2 = subprocess.run(["setpriv", "--reuid=%d" % who.pw_uid, "--regid=%d" % who.pw_gid,
                             "--clear-groups", "ls", d.data], capture_output=True)
        r3 = subprocess.run(["setpriv", "--reuid=%d" % who.pw_uid, "--regid=%d" % who.pw_gid,
                             "--clear-groups", "head", "-c", "1", os.path.join(d.data, "inventory.db")],
                            capture_output=True)
        ok("vmm-user-reads-images", r.returncode == 0 and len(r.stdout) == 32768, r.stderr.decode()[-200:])
        ok("vmm-user-reads-nothing-else", r2.returncode != 0 and r3.returncode != 0,
           str((r2.stdout, r3.stdout)))
    else:
        skip("vmm-user-reads-images", "the server runs VMs as its own user (not root)")

    # --- under KVM: a VM with a disc; media change reaches the VMM -----------------------------
    # guests/vcdrom.c with "lock": it reads the first disc, locks the tray and waits for the
    # eject; then for a new disc, which it reads; then it resets (the medium stays) and ends.
    if not have_kvm():
        skip("kvm-media-change", "no usable /dev/kvm (or guests not built)")
    else:
        st, js = req("POST", "/api/v1/vms", {"name": "live", "kernel": "boot.elf", "memory_mib": 64,
                                             "cmdline": "lock", "cdroms": [{"image": "one.iso"}]})
        st, js = req("POST", "/api/v1/vms/live/start")
        up = d.wait_state(adm, "live", ("running",), 30)

        def console():
            out = ""
            for root, _, files in os.walk(os.path.join(d.data, "vms")):
                if "console.log" in files:
                    out += open(os.path.join(root, "console.log"), errors="replace").read()
            return out
        ok("kvm-guest-reads-disc", up and wait_for(lambda: "volume VSRV_CD_ONE" in console(), 60),
           console()[-400:])
        ok("kvm-guest-locks-drive", wait_for(lambda: "waiting for the eject" in console() and
                                             "the drive is locked" in console(), 60), console()[-400:])
        st, js = req("GET", "/api/v1/vms/live")
        ok("kvm-runtime-shows-locked-drive", st == 200 and js["runtime"].get("cdroms") ==
           [{"image": "one.iso", "tray": "closed", "locked": True}], str((st, js.get("runtime"))))
        st, js = req("POST", "/api/v1/vms/live/media", {"image": None})
        ok("kvm-media-locked-409", st == 409 and "locked" in msg(js) and
           cdroms("live") == [{"image": "one.iso"}], str((st, js)))
        st, js = req("POST", "/api/v1/vms/live/media", {"image": None, "force": True})
        ok("kvm-media-forced-eject", st == 200 and nobus(js["cdroms"]) == [{"image": None}] and
           wait_for(lambda: "media event 3" in console(), 30), str((st, js, console()[-300:])))
        st, js = req("POST", "/api/v1/vms/live/media", {"image": "two.iso"})
        ok("kvm-media-insert", st == 200 and nobus(js["cdroms"]) == [{"image": "two.iso"}], str((st, js)))
        st, js = req("GET", "/api/v1/vms/live")
        ok("kvm-runtime-shows-new-disc", st == 200 and (js["runtime"].get("cdroms") or [{}])[0].get("image") == "two.iso",
           str((st, js.get("runtime"))))
        ok("kvm-guest-reads-new-disc", wait_for(lambda: "volume VSRV_CD_TWO" in console(), 60),
           console()[-400:])
        st, js = req("POST", "/api/v1/vms/live/media", {"image": "nope.iso"})
        ok("kvm-media-unknown-image-400", st == 400, str((st, js)))
        st, js = req("PATCH", "/api/v1/vms/live", {"cdroms": []})
        ok("kvm-patch-cdroms-running-409", st == 409 or "vcdrom: ok" in console(), str((st, js)))
        ok("kvm-reset-keeps-medium", wait_for(lambda: "vcdrom: ok" in console(), 60), console()[-400:])
        req("POST", "/api/v1/vms/live/off")
        d.wait_state(adm, "live", ("stopped", "crashed"), 30)
        ok("kvm-next-start-has-new-medium", cdroms("live") == [{"image": "two.iso"}], str(cdroms("live")))
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
