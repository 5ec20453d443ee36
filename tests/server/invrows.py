"""The rows of the inventory's tables as a test reads them behind the server's back, on
either backend (lib.INVENTORY): SQLite, the daemon's DATA/inventory.db; etcd, the daemon's
prefix (lib.inventory_args) of the test's etcd member, one JSON object per row under
PREFIX t/TABLE/ (docs/cluster.md). Each row is a dict of the table's columns (the etcd
rows' fields are those columns), in key order (SQLite: rowid order).
    rows(d, "layers") -> [{"id": 1, "path": ..., "kind": "top", ...}, ...]
user_version(d): the SQLite schema's version (PRAGMA user_version), None on etcd (no
migrations there)."""
import base64, json, os, sqlite3, urllib.request

import lib


def _etcd_prefix(d):
    args = lib.inventory_args(d.data, [])
    return args[args.index("--inventory-prefix") + 1]


def user_version(d):
    if lib.INVENTORY == "etcd":
        return None
    c = sqlite3.connect("file:%s?mode=ro" % os.path.join(d.data, "inventory.db"), uri=True)
    try:
        return c.execute("PRAGMA user_version").fetchone()[0]
    finally:
        c.close()


def rows(d, table):
    if lib.INVENTORY != "etcd":
        c = sqlite3.connect("file:%s?mode=ro" % os.path.join(d.data, "inventory.db"), uri=True)
        c.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in c.execute("SELECT * FROM %s ORDER BY rowid" % table)]
        finally:
            c.close()
    key = (_etcd_prefix(d) + "t/" + table + "/").encode()
    end = key[:-1] + bytes([key[-1] + 1])
    body = json.dumps({"key": base64.b64encode(key).decode(),
                       "range_end": base64.b64encode(end).decode()}).encode()
    ep = lib.test_etcd().split(",")[0]
    with urllib.request.urlopen(urllib.request.Request(ep + "/v3/kv/range", body),
                                timeout=10) as r:
        ans = json.loads(r.read())
    return [json.loads(base64.b64decode(kv["value"])) for kv in ans.get("kvs", [])]


def select(d, table, **where):
    """The rows of table whose columns have the values of where."""
    return [r for r in rows(d, table) if all(r.get(k) == v for k, v in where.items())]
