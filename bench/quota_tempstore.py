#!/usr/bin/env python3
"""PRAGMA temp_store and the quota check's usage read (src/server/db.c, inv_sqlite_quota.c):
is the recursive statement a manager's check runs (TREE_USAGE_SQL, read from the C source)
faster with its temporary tables (the CTEs' and UNION's) in memory than with SQLite's default?

A real inventory (made by `vsrv serve`: the schema of every migration) is filled directly
through SQLite's own library (the one vsrv links): manager "mgr", N users it manages
(BENCH_TS_USERS, a comma list; default 1,50,200,1000,5000), each owning BENCH_TS_VMS VMs
(default 3) with a snapshot and an undo record each, and as many disks. Then for each N and
each temp_store (DEFAULT, FILE, MEMORY) the statement runs BENCH_TS_RUNS times (default 300)
on a connection set up as db.c sets its own (WAL, synchronous=FULL, foreign_keys), each run
in a transaction as a check's is, and the median and p99 are printed (all three must give
the same sums). The figures are of this machine; not a test."""
import os, re, shutil, sqlite3, statistics, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "server"))
import lib  # noqa: E402
from lib import Daemon  # noqa: E402

import atexit  # noqa: E402
atexit.unregister(lib._openapi_summary)   # a benchmark, not a test: no PASS lines

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
USERS = [int(x) for x in os.environ.get("BENCH_TS_USERS", "1,50,200,1000,5000").split(",")]
VMS = int(os.environ.get("BENCH_TS_VMS", "3"))
RUNS = int(os.environ.get("BENCH_TS_RUNS", "300"))
STORES = ["DEFAULT", "FILE", "MEMORY"]


def tree_sql():
    """TREE_USAGE_SQL as the C source spells it (the string literals joined)."""
    src = open(os.path.join(ROOT, "src", "server", "inv_sqlite_quota.c")).read()
    m = re.search(r"#define TREE_USAGE_SQL \\\n(.*?)\n\n", src, re.S)
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))


def fill(db, table, rows):
    """Insert rows (dicts) into table, giving every other NOT NULL column without a default
    a value of its type (0 or a unique text)."""
    cols = db.execute("PRAGMA table_info(%s)" % table).fetchall()
    need = [(c[1], c[2].upper()) for c in cols if c[3] and c[4] is None and not c[5]]
    for i, r in enumerate(rows):
        r = dict(r)
        for name, typ in need:
            if name not in r:
                r[name] = i if "INT" in typ or "REAL" in typ else "%s-%s-%d" % (table, name, i)
        db.execute("INSERT INTO %s (%s) VALUES (%s)" % (table, ",".join(r), ",".join("?" * len(r))),
                   list(r.values()))


def build(path, n):
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys=OFF")
    mgr = 1000000
    fill(db, "users", [{"id": mgr, "name": "mgr", "admin": 0}] +
         [{"id": mgr + 1 + u, "name": "u%d" % u, "admin": 0} for u in range(n)])
    fill(db, "owners", [{"object_type": "user", "object_id": mgr + 1 + u, "user_id": mgr}
                        for u in range(n)])
    vid = 1
    vms, owners, disks, snaps, undo = [], [], [], [], []
    for u in range(n):
        for _ in range(VMS):
            vms.append({"id": vid, "name": "v%d" % vid, "cpus": 1, "memory_mib": 64})
            owners.append({"object_type": "vm", "object_id": vid, "user_id": mgr + 1 + u})
            disks.append({"id": vid, "name": "d%d" % vid, "size": 1 << 30})
            owners.append({"object_type": "disk", "object_id": vid, "user_id": mgr + 1 + u})
            snaps.append({"vm_id": vid, "name": "s%d" % vid})
            undo.append({"vm_id": vid, "bytes": 1 << 20})
            vid += 1
    fill(db, "vms", vms)
    fill(db, "owners", owners)
    fill(db, "disks", disks)
    fill(db, "snapshots", snaps)
    fill(db, "vm_undo", undo)
    db.commit()
    db.close()
    return mgr


def measure(path, mgr, sql):
    """Median and p99 (ms) and the sums of each store's runs, taken in turn (one run of each,
    then the next), so that the machine's load weighs on all three alike."""
    conns, times, got = {}, {s: [] for s in STORES}, {}
    for s in STORES:
        db = sqlite3.connect(path, isolation_level=None)
        db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA "
                         "foreign_keys=ON;" + ("" if s == "DEFAULT" else
                                              "PRAGMA temp_store=%s;" % s))
        conns[s] = db
    for i in range(RUNS + 10):
        for s in STORES[i % 3:] + STORES[:i % 3]:
            db = conns[s]
            t0 = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            got[s] = db.execute(sql, (mgr, 16)).fetchone()
            db.execute("COMMIT")
            if i >= 10:                   # the first runs warm the caches
                times[s].append(time.perf_counter() - t0)
    res = {}
    for s in STORES:
        conns[s].close()
        t = sorted(times[s])
        res[s] = (statistics.median(t) * 1e3, t[int(len(t) * 0.99) - 1] * 1e3, got[s])
    return res


def main():
    sql = tree_sql()
    tmp = tempfile.mkdtemp(prefix="vsrv-bench-ts.")
    try:
        d = Daemon(os.path.join(tmp, "data")).start()
        d.stop()
        proto = os.path.join(d.data, "inventory.db")
        print("sqlite %s; %d VMs per user, %d runs each; median / p99 in ms" %
              (sqlite3.sqlite_version, VMS, RUNS))
        print("%6s  %-16s %-16s %-16s" % ("users", "DEFAULT", "FILE", "MEMORY"))
        for n in USERS:
            path = os.path.join(tmp, "inv-%d.db" % n)
            shutil.copy(proto, path)
            mgr = build(path, n)
            res = measure(path, mgr, sql)
            # the same statement, the same sums, whatever the store
            assert len({r[2] for r in res.values()}) == 1, res
            print("%6d  %s" % (n, " ".join("%7.3f/%-8.3f" % res[s][:2]
                                           for s in STORES)), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
