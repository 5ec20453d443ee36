"""Disk convert and copy tasks (see t-server-disks.sh)."""
import os, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
import lib
from lib import *

tmp = tempfile.mkdtemp(prefix="vsrv-disks.")
d = Daemon(os.path.join(tmp, "data")).start()
adm = d.login("admin", "adminpass1")
D = os.path.join(d.data, "disks")


def task(tid, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        st, js = d.req("GET", "/api/v1/tasks/%d" % tid, token=adm)
        if st == 200 and js["state"] != "running":
            return js
        time.sleep(0.05)
    return None


def img(*a):
    return subprocess.run([VSRV, "img"] + list(a), capture_output=True, text=True)


try:
    MiB = 1 << 20
    st, js = d.req("POST", "/api/v1/disks", {"name": "src", "size": 64 * MiB}, token=adm)
    with open(os.path.join(D, "src.raw"), "r+b") as f:
        f.seek(2 * MiB); f.write(b"\xab" * MiB)
        f.seek(63 * MiB + 4096); f.write(b"the end of the disk")
    st, js = d.req("POST", "/api/v1/disks/src/convert", {"name": "asvhd", "format": "vhd"}, token=adm)
    t = task(js["task"]) if st == 202 else None
    ok("convert-task-done", st == 202 and t and t["state"] == "done" and t["progress"] == 1 and
       t["kind"] == "disk-convert", str((st, js, t)))
    st, js = d.req("GET", "/api/v1/disks/asvhd", token=adm)
    cmp = img("compare", os.path.join(D, "src.raw"), os.path.join(D, "asvhd.vhd"))
    chk = img("check", os.path.join(D, "asvhd.vhd"))
    ok("convert-raw-to-vhd-data", st == 200 and js["format"] == "vhd" and js["size"] >= 64 * MiB and
       cmp.returncode == 0 and chk.returncode == 0, str((st, js, cmp.stdout, cmp.stderr, chk.stdout)))
    ok("convert-target-sparse", js["allocated"] < 12 * MiB, str(js.get("allocated")))

    st, js = d.req("POST", "/api/v1/disks/asvhd/copy", {"name": "copy1"}, token=adm)
    t = task(js["task"]) if st == 202 else None
    cmp = img("compare", os.path.join(D, "src.raw"), os.path.join(D, "copy1.vhd"))
    ok("copy-vhd", st == 202 and t and t["state"] == "done" and cmp.returncode == 0 and
       d.req("GET", "/api/v1/disks/copy1", token=adm)[1]["format"] == "vhd", str((st, js, t, cmp.stdout)))
    st, js = d.req("POST", "/api/v1/disks/copy1/convert", {"name": "back", "format": "raw"}, token=adm)
    t = task(js["task"]) if st == 202 else None
    cmp = img("compare", os.path.join(D, "src.raw"), os.path.join(D, "back.raw"))
    ok("convert-vhd-to-raw", t and t["state"] == "done" and cmp.returncode == 0, str((t, cmp.stdout)))

    st, ev = d.req("GET", "/api/v1/events?limit=1000", token=adm)
    kinds = [(e["type"], e.get("object")) for e in ev["events"]]
    ok("convert-events", ("task-done", "asvhd") in kinds and ("disk-created", "asvhd") in kinds, str(kinds[-12:]))

    bad = [("/api/v1/disks/nope/convert", {"name": "x", "format": "raw"}, 404),
           ("/api/v1/disks/src/convert", {"name": "asvhd", "format": "vhd"}, 409),
           ("/api/v1/disks/src/convert", {"name": "x", "format": "qcow2"}, 400),
           ("/api/v1/disks/src/convert", {"name": "x", "format": "raw", "subformat": "fixed"}, 400),
           ("/api/v1/disks/src/copy", {"name": "x", "format": "vhd"}, 400),
           ("/api/v1/disks/src/copy", {"name": "../x"}, 400),
           ("/api/v1/disks/src/copy", {}, 400),
           ("/api/v1/disks/src/shred", {"name": "x"}, 404)]
    res = [(p, d.req("POST", p, b, token=adm)[0], e) for p, b, e in bad]
    ok("convert-bad-requests", all(s == e for _, s, e in res) and not os.path.exists(os.path.join(D, "x.raw")),
       str(res))

    # A corrupt source: the task fails with the reason; no target file, no inventory row.
    d.req("POST", "/api/v1/disks", {"name": "bad", "size": 8 * MiB, "format": "vhd"}, token=adm)
    with open(os.path.join(D, "bad.vhd"), "r+b") as f:
        f.seek(512); f.write(b"garbage!")          # the dynamic header's cookie
        f.seek(-512, 2); f.write(b"garbage!")      # the footer's
        f.seek(0); f.write(b"garbage!")            # and its copy
    st, js = d.req("POST", "/api/v1/disks/bad/convert", {"name": "fromcorrupt", "format": "raw"}, token=adm)
    t = task(js["task"]) if st == 202 else None
    ok("convert-corrupt-source-fails-clean", t and t["state"] == "failed" and t["error"] and
       not os.path.exists(os.path.join(D, "fromcorrupt.raw")) and
       d.req("GET", "/api/v1/disks/fromcorrupt", token=adm)[0] == 404, str((st, js, t)))
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if lib.fails else 0)
