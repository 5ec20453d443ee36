"""Undo disks and failover (run by t-server-failover.sh): two vsrv hosts a and b on one etcd
inventory, a VMM shim that stays starting (sleep: no /dev/kvm needed). User ud's VM with undo
disks (keep, restart policy always) runs on a; its undo disk there grows and is recorded;
a's daemon and its processes are killed with -9, b restarts the VM after a's lease, on an
undo disk of its own. a's undo disk is still on a's disk (nothing committed or discarded
it): ud's disk_bytes counts both hosts' undo disks (each host records its own,
inv_vm_set_undo_bytes), and after b's are discarded, a's still."""
import glob, os, shutil, signal, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *
from etcd_cluster import EtcdCluster, Unavailable, stop_hosts

TTL = 4
MiB = 1 << 20
tmp = tempfile.mkdtemp(prefix="vsrv-failover-undo.")
daemons = []
slow = os.path.join(tmp, "vsrv-sleep")
with open(slow, "w") as f:
    f.write('#!/bin/sh\n[ "$1" = run ] && exec sleep 120\nexec %s "$@"\n' % VSRV)
os.chmod(slow, 0o755)


def host(name, endpoints, prefix):
    d = Daemon(os.path.join(tmp, name), extra=[
        "--cluster", endpoints, "--inventory", "etcd", "--inventory-prefix", prefix,
        "--host-name", name, "--cluster-ttl", str(TTL), "--host-memory", "65536",
        "--vmm", slow])
    daemons.append(d)
    d.start(wait=False)
    # (a host on etcd joins the cluster before it answers: more than lib's 5 s on a busy
    # machine)
    if not wait_for(lambda: health(d), 60, 0.1):
        raise RuntimeError("host %s did not come up: %s" % (name, log_of(d)[-600:]))
    shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d.data, "images", "k.elf"))
    return d


def health(d):
    try:
        return d.req("GET", "/api/v1/health")[0] == 200
    except OSError:
        return False


def undo_file(d):
    got = glob.glob(os.path.join(d.data, "vms", "*", "undo-0.vhd"))
    return got[0] if got else None


try:
    try:
        etcd = EtcdCluster(1).start()
    except Unavailable as e:
        skip("failover-undo", str(e))
        sys.exit(0)
    prefix = "/vsrv-failover-undo/%d/" % os.getpid()
    a = host("a", etcd.endpoints, prefix)
    b = host("b", etcd.endpoints, prefix)
    adm = a.login("admin", "adminpass1")
    ud = new_user(a, adm, "ud")
    a.req("PUT", "/api/v1/permissions", {"grants": [{"user": "ud", "permissions":
                                                     ["modify", "remove"]}]}, token=adm)
    a.req("PUT", "/api/v1/users/ud/quota", {"disk_bytes": 256 * MiB}, token=adm)

    def usage():
        return b.req("GET", "/api/v1/users/ud", token=tb)[1].get("usage", {}).get("disk_bytes")

    s1, _ = a.req("POST", "/api/v1/disks", {"name": "ud0", "size": 4 * MiB, "format": "vhd"},
                  token=ud)
    dsize = a.req("GET", "/api/v1/disks/ud0", token=ud)[1].get("size")
    s2, _ = a.req("POST", "/api/v1/vms", {"name": "uvm", "kernel": "k.elf", "memory_mib": 32,
                                          "undo_disks": "keep", "restart_policy": "always",
                                          "disks": [{"disk": "ud0"}]}, token=ud)
    s3, j3 = a.req("POST", "/api/v1/vms/uvm/start", {}, token=ud)
    tb = b.login("admin", "adminpass1")
    ua = wait_for(lambda: undo_file(a), 20)
    # a's undo disk grows as a guest's writes would grow it, and a records it (its
    # supervisor: by 1 MiB or more, every 10 s)
    if ua:
        with open(ua, "ab") as f:
            f.write(b"\0" * (3 * MiB))
    size_a = os.path.getsize(ua) if ua else None
    rec_a = wait_for(lambda: usage() == dsize + size_a, 30, 0.5)
    ok("undo-on-a-recorded", (s1, s2) == (201, 201) and s3 in (200, 202) and ua and rec_a,
       str((s1, s2, s3, j3, ua, size_a, dsize, usage())))

    # --- a dies: b runs the VM again, on an undo disk of its own ---------------------------
    kill_host(a)
    ub = wait_for(lambda: undo_file(b), TTL * 4 + 20, 0.2)
    size_b = os.path.getsize(ub) if ub else None
    both = wait_for(lambda: usage() == dsize + size_a + size_b, 20, 0.5)
    ok("undo-failover-both-hosts-counted", ub and both and os.path.exists(ua),
       "usage %s; disk %s, a's undo disk %s, b's %s; %s" % (
           usage(), dsize, size_a, size_b, log_of(b)[-600:]))

    # b's undo disks discarded (the VM off first): a's still count, until a's host acts on
    # them
    b.req("POST", "/api/v1/vms/uvm/off", {}, token=tb)
    off = b.wait_state(tb, "uvm", ("stopped", "crashed"), timeout=30)
    st, js = b.req("POST", "/api/v1/vms/uvm/undo-disks?action=discard", {}, token=tb)
    left = wait_for(lambda: usage() == dsize + size_a, 10, 0.2)
    ok("undo-failover-dead-host-still-counted", off and st == 200 and left and
       not os.path.exists(ub), str((off, st, js, usage(), dsize, size_a)))
finally:
    stop_hosts(daemons, tmp)
sys.exit(1 if fails else 0)
