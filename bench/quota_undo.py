#!/usr/bin/env python3
"""What a quota decision pays for counting undo disks as they are (src/server/sup.h,
sup_undo_unrecorded): a stat of each undo disk of the VMs the host runs, and the owner of
each that grew since its record. User u (limited: disk_bytes) runs K VMs with undo disks
(BENCH_UNDO_VMS, a comma list, default 0,20,60; a VMM shim that sleeps: no /dev/kvm), each
undo disk grown by 512 KiB past its record (under the supervisor's 1 MiB step, so every one
is counted at each decision); then the p50 and p99 of BENCH_UNDO_REQ (default 100)
sequential disk creates of u (a quota decision each; each disk deleted after), and the
inventory statements the last one ran (VSRV_INV_TRACE: a count, not a time). SQLite
inventory. VSRV_BENCH_BIN: the vsrv binary (default build/vsrv), to compare builds. The
figures are of this machine, not for a test."""
import atexit, glob, http.client, os, shutil, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "server"))
import lib  # noqa: E402
from lib import Daemon, GUESTS, logged_count, wait_for  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from apitime import pct, timed as call  # noqa: E402

atexit.unregister(lib._openapi_summary)   # a benchmark, not a test: no PASS lines
os.environ["VSRV_INV_TRACE"] = "1"         # the inventory statements of each request

N_REQ = int(os.environ.get("BENCH_UNDO_REQ", "100"))
VMS = [int(x) for x in os.environ.get("BENCH_UNDO_VMS", "0,20,60").split(",")]
MiB = 1 << 20
if os.environ.get("VSRV_BENCH_BIN"):
    lib.VSRV = os.path.abspath(os.environ["VSRV_BENCH_BIN"])


def main():
    tmp = tempfile.mkdtemp(prefix="vsrv-bench-undo.")
    slow = os.path.join(tmp, "vsrv-sleep")
    with open(slow, "w") as f:
        f.write('#!/bin/sh\n[ "$1" = run ] && exec sleep 600\nexec %s "$@"\n' % lib.VSRV)
    os.chmod(slow, 0o755)
    d = Daemon(os.path.join(tmp, "data"), extra=["--vmm", slow, "--host-memory", "1048576"])
    d.start()
    try:
        shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d.data, "images", "k.elf"))
        adm = d.login("admin", "adminpass1")
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=120)
        call(c, adm, "POST", "/api/v1/users", {"name": "u", "password": "Password-u"},
             want=(201,))
        call(c, adm, "PUT", "/api/v1/permissions", {"grants": [
            {"user": "u", "permissions": ["view", "modify", "remove", "control"]}]})
        call(c, adm, "PUT", "/api/v1/users/u/quota", {"disk_bytes": 1 << 40}, want=(200, 204))
        u = d.login("u", "Password-u")
        print("vsrv %s: a disk create of a user running K VMs with undo disks, each grown "
              "past its record" % lib.VSRV)
        running = 0
        for k in sorted(VMS):
            while running < k:
                i = running
                call(c, u, "POST", "/api/v1/disks", {"name": "b%d" % i, "size": MiB,
                                                     "format": "vhd"}, want=(201,))
                call(c, u, "POST", "/api/v1/vms", {"name": "v%d" % i, "kernel": "k.elf",
                                                   "memory_mib": 16, "undo_disks": "keep",
                                                   "disks": [{"disk": "b%d" % i}]},
                     want=(201,))
                call(c, u, "POST", "/api/v1/vms/v%d/start" % i, {}, want=(200, 202))
                running += 1
            undo = wait_for(lambda: len(glob.glob(os.path.join(d.data, "vms", "*",
                                                               "undo-0.vhd"))) == k, 60)
            for p in glob.glob(os.path.join(d.data, "vms", "*", "undo-0.vhd")):
                with open(p, "ab") as f:
                    f.write(b"\0" * (512 * 1024))
            ts = [call(c, u, "POST", "/api/v1/disks", {"name": "q%d-%d" % (k, i),
                                                       "size": MiB, "format": "raw"},
                       want=(201,)) for i in range(N_REQ)]
            stmts = logged_count(d, "inventory statements", "POST", "/api/v1/disks")
            for i in range(N_REQ):
                call(c, u, "DELETE", "/api/v1/disks/q%d-%d" % (k, i), want=(200, 204))
            print("K=%-4d disk create p50 %7.2f ms  p99 %7.2f ms  %s statements  (%d creates%s)"
                  % (k, pct(ts, 50) * 1e3, pct(ts, 99) * 1e3, stmts, N_REQ,
                     "" if undo else "; not every undo disk was made"), flush=True)
        for i in range(running):
            call(c, adm, "POST", "/api/v1/vms/v%d/off" % i, {}, want=(200, 202, 409))
        c.close()
    finally:
        d.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
