"""kill -9 of the daemon during a burst of creates (over TCP and the socket, with events
and logins in between): after a restart the inventory is consistent (SQLite's integrity
and foreign-key checks) and every create the API acknowledged is there."""
import os, shutil, signal, sqlite3, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from lib import *

tmp = tempfile.mkdtemp(prefix="vsrv-crash.")
d = Daemon(os.path.join(tmp, "data")).start()
shutil.copy(os.path.join(GUESTS, "hello.elf"), os.path.join(d.data, "images", "k.elf"))
adm = d.login("admin", "adminpass1")
d.req("POST", "/api/v1/disks", {"name": "shared", "size": 1 << 20}, token=adm)
d.req("POST", "/api/v1/networks", {"name": "lan", "kind": "internal"}, token=adm)
try:
    for rnd in range(3):
        acked, lock, stop = [], threading.Lock(), [False]

        def burst(t):
            i = 0
            while not stop[0]:
                name = "r%d-t%d-%d" % (rnd, t, i)
                i += 1
                try:
                    st, js = d.req("POST", "/api/v1/vms", {"name": name, "kernel": "k.elf",
                                   "disks": [{"disk": "shared"}], "nics": [{"network": "lan"}]},
                                   token=adm, unix=(t % 2 == 1))
                except OSError:
                    return
                if st == 201:
                    with lock:
                        acked.append(name)
        ths = [threading.Thread(target=burst, args=(t,)) for t in range(4)]
        for t in ths:
            t.start()
        time.sleep(0.6 + 0.3 * rnd)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        stop[0] = True
        for t in ths:
            t.join()
        d.proc = None
        db = sqlite3.connect(os.path.join(d.data, "inventory.db"))
        integrity = db.execute("PRAGMA integrity_check").fetchall()
        fk = db.execute("PRAGMA foreign_key_check").fetchall()
        db.close()
        d.start()
        adm = d.login("admin", "adminpass1")
        st, js = d.req("GET", "/api/v1/vms?limit=10000", token=adm)
        have = {v["name"] for v in js["vms"]}
        lost = [n for n in acked if n not in have]
        # every VM that exists is whole: its disk and NIC rows came with it
        half = []
        for n in [v["name"] for v in js["vms"] if v["name"].startswith("r%d-" % rnd)]:
            st, v = d.req("GET", "/api/v1/vms/" + n, token=adm)
            if len(v["disks"]) != 1 or len(v["nics"]) != 1:
                half.append(n)
        ok("kill9-during-creates-round%d" % rnd, acked and integrity == [("ok",)] and not fk and not lost
           and not half, "acked %d, lost %s, half %s, integrity %s, fk %s" %
           (len(acked), lost[:5], half[:5], integrity, fk[:3]))
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fails else 0)
