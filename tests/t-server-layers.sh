#!/usr/bin/env bash
# src/server in layers (docs/server.md): no include cycle among its modules, and no module
# including one of a higher layer (tests/tools/include_graph.py). The checker itself is
# proved on a copy of src/server with a cycle and a layer violation put in.
set -u
cd "$(dirname "$0")/.."
tool=tests/tools/include_graph.py

if out=$(python3 "$tool" --check 2>&1); then
  echo "PASS server-include-graph"
else
  echo "FAIL server-include-graph: $(echo "$out" | tr '\n' ';')"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src"
cp -r src/server "$tmp/src/server"
# A cycle: the event hub including the HTTP layer's routes (which include the events).
echo '#include "server/api.h"' >>"$tmp/src/server/events.h"
out=$(python3 "$tool" --root "$tmp" --check 2>&1)
if [ $? -ne 0 ] && echo "$out" | grep -q '^cycle of .* api .*events'; then
  echo "PASS server-include-graph-finds-cycle"
else
  echo "FAIL server-include-graph-finds-cycle: not reported: $out"
fi
cp src/server/events.h "$tmp/src/server/events.h"
# A lower layer including a higher one, without a cycle: the VMM control client including
# the HTTP layer's routes.
echo '#include "server/api_hook.h"' >>"$tmp/src/server/vmctl.c"
printf '#include "server/server.h"\n' >"$tmp/src/server/api_hook.h"
out=$(python3 "$tool" --root "$tmp" --check 2>&1)
if [ $? -ne 0 ] && echo "$out" | grep -q '^vmctl (service) includes api_hook (http)'; then
  echo "PASS server-include-graph-finds-layer-violation"
else
  echo "FAIL server-include-graph-finds-layer-violation: not reported: $out"
fi

# The inventory's implementation is private: a service including the SQLite wrapper is
# caught although db.h is below it.
cp src/server/vmctl.c "$tmp/src/server/vmctl.c"
rm -f "$tmp/src/server/api_hook.h"
echo '#include "server/db.h"' >>"$tmp/src/server/undo.c"
out=$(python3 "$tool" --root "$tmp" --check 2>&1)
if [ $? -ne 0 ] && echo "$out" | grep -q "^undo (service) includes db (sqlite), the inventory's implementation"; then
  echo "PASS server-include-graph-finds-private"
else
  echo "FAIL server-include-graph-finds-private: not reported: $out"
fi
cp src/server/undo.c "$tmp/src/server/undo.c"

# No SQL outside the inventory's SQLite implementation but in the files still listed
# (tests/tools/sql_outside.py, a list that only shrinks), and none on the vms table.
sql=tests/tools/sql_outside.py
if out=$(python3 "$sql" 2>&1); then
  echo "PASS server-no-sql-outside-inventory"
else
  echo "FAIL server-no-sql-outside-inventory: $(echo "$out" | tr '\n' ';')"
fi
cp src/server/vmctl.c "$tmp/src/server/vmctl.c"
rm -f "$tmp/src/server/api_hook.h"
# The checker, proved: a service with a query, a query on vms in a listed file, and a
# listed file that no longer holds SQL.
printf 'static void f(struct dbc *c) { db_stmt(c, "SELECT 1"); }\n' >>"$tmp/src/server/vmctl.c"
printf '/* "SELECT id FROM vms WHERE name = ?" */\n' >>"$tmp/src/server/api_hook.c"
listed=$(python3 "$sql" --allowed | head -1)
[ -n "$listed" ] && sed -i -e 's/sqlite3_[a-z_0-9]*(/gone(/g' -e 's/db_[a-z_]*(/gone(/g' "$tmp/src/server/$listed"
out=$(python3 "$sql" --root "$tmp" 2>&1)
if [ $? -ne 0 ] && echo "$out" | grep -q '^vmctl.c: SQL outside the inventory' &&
   echo "$out" | grep -q '^api_hook.c: SQL on the vms table' &&
   { [ -z "$listed" ] || echo "$out" | grep -q "^$listed: holds no SQL any more"; }; then
  echo "PASS server-no-sql-checker-finds-sql"
else
  echo "FAIL server-no-sql-checker-finds-sql: not reported: $(echo "$out" | tr '\n' ';')"
fi
