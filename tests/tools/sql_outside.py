#!/usr/bin/env python3
"""SQL in src/server outside the inventory's SQLite implementation.

Only inv_sqlite*.c/.h and db.c/.h (the SQLite wrapper) may hold SQL: a call of the SQLite
API or of db.c's statement functions. The files that still do are listed in ALLOWED, a list
that only shrinks: a file not in it that holds SQL fails, and so does a file in it that no
longer does (take it off the list). No file but the implementation may name the vms table.

Usage: sql_outside.py [--root DIR]   prints one line per problem; exit 1 if any
       sql_outside.py --allowed        prints the files still allowed, one a line
"""
import os
import re
import sys

SQL = re.compile(r'\b(db_stmt|db_exec|db_exec_id|db_rc|sqlite3_[a-z0-9_]+)\s*\(')
VMS = re.compile(r'\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+vms\b')
IMPL = re.compile(r'^(inv_sqlite[a-z_]*|db)\.[ch]$')

# Files that still hold SQL, to move behind inv.h; remove a file once it holds none. Empty:
# every query of src/server is in inv_sqlite*.c (and db.c's migrations); keep it so.
ALLOWED = set()

def main(argv):
    if "--allowed" in argv:
        for name in sorted(ALLOWED):
            print(name)
        return 0
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    if "--root" in argv:
        root = argv[argv.index("--root") + 1]
    d = os.path.join(root, "src", "server")
    bad = []
    for name in sorted(os.listdir(d)):
        if not name.endswith((".c", ".h")) or IMPL.match(name):
            continue
        with open(os.path.join(d, name), encoding="utf-8") as f:
            text = f.read()
        calls = sorted(set(m.group(1) for m in SQL.finditer(text)))
        if VMS.search(text):
            bad.append(f"{name}: SQL on the vms table outside the inventory (inv_sqlite_vm.c)")
        if calls and name not in ALLOWED:
            bad.append(f"{name}: SQL outside the inventory ({', '.join(calls[:4])}): "
                       "use inv.h, or add the query to an inv_sqlite*.c")
        if not calls and name in ALLOWED:
            bad.append(f"{name}: holds no SQL any more: take it off ALLOWED in {__file__}")
    for name in sorted(ALLOWED):
        if not os.path.exists(os.path.join(d, name)):
            bad.append(f"{name}: in ALLOWED but not in src/server")
    for b in bad:
        print(b)
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
