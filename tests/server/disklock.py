"""Exclusive disks under the server (see t-server-disklock.sh)."""
import os, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
import lib
from lib import *

tmp = tempfile.mkdtemp(prefix="vsrv-disklock.")
d = Daemon(os.path.join(tmp, "data"), extra=["--host-memory", "2048"]).start()
img = os.path.join(d.data, "images")
for g in ("hello.elf", "console.elf"):
    shutil.copy(os.path.join(GUESTS, g), img)
adm = d.login("admin", "adminpass1")
MiB = 1 << 20


def vm(name, disks, **kw):
    body = {"name": name, "kernel": "console.elf", "memory_mib": 32, "disks": disks}
    body.update(kw)
    return d.req("POST", "/api/v1/vms", body, token=adm)


def start(name):
    return d.req("POST", "/api/v1/vms/%s/start" % name, token=adm)


def state(name):
    return d.req("GET", "/api/v1/vms/%s" % name, token=adm)[1].get("state")


def free(path):
    """True once nobody holds path's image lock (vsrv img info takes a shared one)."""
    return subprocess.run([VSRV, "img", "info", path], capture_output=True).returncode == 0


def off(name, disk=None):
    """Turn name off; with disk (a file name in DATA/disks), also wait until its VMM let go
    of it (the server's supervision waits for the VM's processes; this test is about locks)."""
    d.req("POST", "/api/v1/vms/%s/off" % name, token=adm)
    d.wait_state(adm, name, ("stopped", "crashed"))
    if disk:
        wait_for(lambda: free(os.path.join(d.data, "disks", disk)), 10)


def msg(js):
    return js.get("error", {}).get("message", "") if isinstance(js, dict) else ""


class Holder:
    """qemu-io with the image open read-write: a process the server does not know, holding
    the image's lock as QEMU does (its lock bytes are ours)."""
    def __init__(self, path, fmt="raw"):
        self.p = subprocess.Popen(["qemu-io", "-f", fmt, path], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.p.stdin.write("read 0 512\n")
        self.p.stdin.flush()
        self.ready = False
        for line in self.p.stdout:            # the read's report: the image is open
            if "read 512/512 bytes" in line:
                self.ready = True
                break

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


try:
    for n in ("d1", "d2", "d3"):
        d.req("POST", "/api/v1/disks", {"name": n, "size": 4 * MiB}, token=adm)
    d.req("POST", "/api/v1/disks", {"name": "u1", "size": 4 * MiB, "format": "vhd"}, token=adm)

    # --- one disk twice in one VM: refused at create and at update ------------------------
    st, js = vm("twice", [{"disk": "d1"}, {"disk": "d1", "readonly": True}])
    ok("disk-twice-create-400", st == 400 and "d1" in msg(js) and
       d.req("GET", "/api/v1/vms/twice", token=adm)[0] == 404, str((st, js)))
    st, js = vm("once", [{"disk": "d1"}])
    st2, js2 = d.req("PATCH", "/api/v1/vms/once", {"disks": [{"disk": "d1"}, {"disk": "d2"},
                                                              {"disk": "d1"}]}, token=adm)
    disks = d.req("GET", "/api/v1/vms/once", token=adm)[1].get("disks")
    ok("disk-twice-update-400", st == 201 and st2 == 400 and "disks[2]" in msg(js2) and
       [x["disk"] for x in disks] == ["d1"], str((st, st2, js2, disks)))

    # --- a process the server does not know holds the disk ---------------------------------
    if not shutil.which("qemu-io"):
        skip("disk-held-by-another-process", "no qemu-io")
    else:
        h = Holder(os.path.join(d.data, "disks", "d1.raw"))
        st, js = start("once")
        ok("start-refused-disk-held-by-process", h.ready and st == 409 and "d1" in msg(js) and
           "another process" in msg(js) and state("once") == "stopped", str((h.ready, st, js)))
        st, js = d.req("PATCH", "/api/v1/disks/d1", {"size": 8 * MiB}, token=adm)
        ok("resize-refused-disk-held-by-process", st == 409 and "lock" in msg(js) and
           os.path.getsize(os.path.join(d.data, "disks", "d1.raw")) == 4 * MiB, str((st, js)))
        h.close()
        # the server reads a VHD's description also while another process writes it
        h = Holder(os.path.join(d.data, "disks", "u1.vhd"), "vpc")
        st, js = d.req("GET", "/api/v1/disks/u1", token=adm)
        ok("disk-description-while-held", h.ready and st == 200 and
           js.get("image", {}).get("subformat") == "dynamic", str((h.ready, st, js)))
        h.close()
        st, js = start("once")
        ok("start-after-the-process-let-go", st == 202, str((st, js)))
        off("once")

    # --- two of the server's VMs on one disk (needs /dev/kvm) -------------------------------
    if not have_kvm():
        skip("server-disklock-vms", "no usable /dev/kvm or build/guests/hello.elf")
    else:
        vm("a", [{"disk": "d2"}]); vm("b", [{"disk": "d2"}])
        vm("ra", [{"disk": "d2", "readonly": True}]); vm("rb", [{"disk": "d2", "readonly": True}])
        st, _ = start("a")
        st2, js2 = start("b")
        ok("second-writer-409-names-the-vm", st == 202 and st2 == 409 and "'a'" in msg(js2) and
           "d2" in msg(js2) and state("b") == "stopped", str((st, st2, js2)))
        st, js = start("ra")
        ok("reader-of-a-written-disk-409", st == 409 and "'a'" in msg(js), str((st, js)))
        # the VMM holds the lock itself: a hand-started writer is refused too
        lk = wait_for(lambda: not free(os.path.join(d.data, "disks", "d2.raw")), 10)
        p = subprocess.run([VSRV, "run", "--kernel", os.path.join(GUESTS, "hello.elf"), "--disk",
                            os.path.join(d.data, "disks", "d2.raw")], capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        ok("hand-started-vm-refused", lk and p.returncode != 0 and "d2.raw" in p.stderr and
           "lock" in p.stderr, str((lk, p.returncode, p.stderr[-500:])))
        off("a", "d2.raw")
        st, _ = start("ra")
        st2, _ = start("rb")
        st3, js3 = start("b")
        ok("readers-share-writer-refused", st == 202 and st2 == 202 and st3 == 409 and
           ("'ra'" in msg(js3) or "'rb'" in msg(js3)), str((st, st2, st3, js3)))
        off("ra"); off("rb")

        # the base of another VM's undo disk: shared, read-only
        vm("undo", [{"disk": "u1"}], undo_disks="discard")
        vm("w", [{"disk": "u1"}])
        vm("r", [{"disk": "u1", "readonly": True}])
        st, _ = start("undo")
        st2, js2 = start("w")
        st3, _ = start("r")
        ok("writer-on-an-undo-base-409", st == 202 and st2 == 409 and "'undo'" in msg(js2),
           str((st, st2, js2)))
        ok("reader-of-an-undo-base-shares", st3 == 202, str(st3))
        off("r"); off("undo", "u1.vhd")
        st, _ = start("w")
        ok("writer-after-the-undo-vm", st == 202, str(st))
        off("w")
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
