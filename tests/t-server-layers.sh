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
