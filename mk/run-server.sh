#!/usr/bin/env bash
# `make run` with the server (proposed replacement for mk/run.sh): start `vsrv serve` on a
# data directory under the repository (created on first run), create the demo VM from the
# demo guest if there is none, start it, and print the API address and how to log in.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${VSRV_DATA:-$PWD/run-data}
PORT=${VSRV_PORT:-8450}
VSRV=$PWD/build/vsrv
mkdir -p "$DATA/images"
cp -f build/guests/hello.elf "$DATA/images/demo.elf"
first=0
[ -f "$DATA/inventory.db" ] || first=1
log=$DATA/serve.log
# The one-time administrator password is printed once, on first start, into the log.
if curl -sf http://127.0.0.1:$PORT/api/v1/health >/dev/null; then
  pid=$(pgrep -f -o "vsrv-server serve --data-dir $DATA" || echo "?")   # already running
else
  "$VSRV" serve --data-dir "$DATA" --listen 127.0.0.1:$PORT >>"$log" 2>&1 &
  pid=$!
fi
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/api/v1/health >/dev/null && break; sleep 0.05; done
export VSRV_SOCKET=$DATA/vsrv.sock
if ! "$VSRV" vm show demo >/dev/null 2>&1; then
  "$VSRV" vm create demo --kernel demo.elf --memory 64M --description "the demo guest" >/dev/null
fi
"$VSRV" vm start demo >/dev/null || true
sleep 0.5
echo "== vsrv serve (pid $pid), data in $DATA, log in $log"
echo "== API: http://127.0.0.1:$PORT/api/v1/  (OpenAPI: /api/v1/openapi.yaml)"
echo "   local, as root:  VSRV_SOCKET=$DATA/vsrv.sock build/vsrv vm list"
if [ $first = 1 ]; then
  grep "one-time password" "$log" | tail -1 | sed 's/^/   /'
fi
echo "   over TCP:        build/vsrv login --server http://127.0.0.1:$PORT --user admin"
echo "                    curl -XPOST http://127.0.0.1:$PORT/api/v1/login -d '{\"user\":\"admin\",\"password\":\"...\"}'"
echo "== the demo VM's console:"
"$VSRV" vm status demo | grep -E "^(state|last_exit)"
curl -s --unix-socket "$DATA/vsrv.sock" http://localhost/api/v1/vms/demo/console | sed 's/^/   | /'
echo "== stop the server with: kill $pid   (VMs keep running; it re-attaches on start)"
