#!/usr/bin/env bash
# `make run`: start `vsrv serve` on a data directory under the repository (run-data/, created
# on first run), create the demo VM from the demo guest (build/guests/hello.elf) if there is
# none, start it, print the API address and how to log in, and show the demo's console.
#
# On a terminal the server then stays in the foreground, printing the server's events,
# until Ctrl-C stops it (VMs keep running and are re-attached on the next `make run`).
# Without a terminal (CI, `make run </dev/null`) it stops the server and exits 0 once the
# demo guest has printed its banner, or 1 if it did not.
#
# Environment: VSRV_DATA (default run-data), VSRV_PORT (default 8450).
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${VSRV_DATA:-$PWD/run-data}
PORT=${VSRV_PORT:-8450}
VSRV=$PWD/build/vsrv
log=$DATA/serve.log
pwfile=$DATA/admin.password
mkdir -p "$DATA/images"
cp -f build/guests/hello.elf "$DATA/images/demo.elf"

# The administrator of this demo data directory: a random password made on first run and
# kept (mode 0600) in run-data/admin.password, so that every `make run` can say it.
if [ ! -f "$DATA/inventory.db" ] && [ ! -f "$pwfile" ]; then
	(umask 077; head -c 12 /dev/urandom | base64 | tr -d '/+=' >"$pwfile")
fi
pw=$(cat "$pwfile" 2>/dev/null || echo "(see $log)")

started=0
if curl -sf "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1; then
	echo "== a server already answers on 127.0.0.1:$PORT: using it"
else
	# The password goes through standard input: a command line is readable by every local user.
	pwin=$pwfile; [ -f "$pwin" ] || pwin=/dev/null
	"$VSRV" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" --init-admin admin:- <"$pwin" >>"$log" 2>&1 &
	pid=$!
	started=1
	for _ in $(seq 200); do
		curl -sf "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if ! curl -sf "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1; then
		echo "== vsrv serve did not start; the last lines of $log:"
		tail -n 5 "$log" | sed 's/^/   | /'
		exit 1
	fi
fi
evpid=
stop_server() {
	[ -n "$evpid" ] && kill "$evpid" 2>/dev/null
	if [ "$started" = 1 ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null
	fi
}
trap 'echo; echo "== stopping vsrv serve (VMs keep running)"; stop_server; exit 0' INT TERM

export VSRV_SOCKET=$DATA/vsrv.sock
if ! "$VSRV" vm show demo >/dev/null 2>&1; then
	"$VSRV" vm create demo --kernel demo.elf --memory 64M --description "the demo guest" >/dev/null ||
		{ echo "== cannot create the demo VM"; stop_server; exit 1; }
fi
banners() {
	curl -s --unix-socket "$DATA/vsrv.sock" http://localhost/api/v1/vms/demo/console |
		grep -c "Hello from the vsrv test guest"
}
n0=$(banners)
"$VSRV" vm start demo >/dev/null 2>&1 || true

echo "== vsrv serve: data in $DATA, log in $log"
echo "== Web console:  http://127.0.0.1:$PORT/   (user admin, password $pw)"
echo "== API:  http://127.0.0.1:$PORT/api/v1/   (OpenAPI document: /api/v1/openapi.yaml)"
echo "   log in over TCP:  user admin, password $pw"
echo "     build/vsrv login --server http://127.0.0.1:$PORT --user admin"
echo "     curl -s -XPOST http://127.0.0.1:$PORT/api/v1/login -d '{\"user\":\"admin\",\"password\":\"$pw\"}'"
echo "   locally as root (the Unix socket, no password):"
echo "     VSRV_SOCKET=$DATA/vsrv.sock build/vsrv vm list"

# The demo guest prints its banner and ends (exit status 33, its pass status).
ok=1
for _ in $(seq 100); do
	con=$(curl -s --unix-socket "$DATA/vsrv.sock" http://localhost/api/v1/vms/demo/console)
	[ "$(grep -c "Hello from the vsrv test guest" <<<"$con")" -gt "$n0" ] && { ok=0; break; }
	sleep 0.05
done
echo "== the demo VM's console:"
tail -n 3 <<<"$con" | sed 's/^/   | /'
"$VSRV" vm show demo 2>/dev/null | grep -E "^ *(state|last_exit)" | sed 's/^ */   /'

if [ -t 0 ] && [ "$started" = 1 ]; then
	echo "== the server runs; its events follow. Ctrl-C stops it."
	"$VSRV" events --follow &
	evpid=$!
	wait "$pid"
	kill "$evpid" 2>/dev/null
	echo "== vsrv serve ended"
	exit 0
fi
stop_server
[ "$ok" = 0 ] && echo "== done: the demo guest ran (the server is stopped; make run starts it again)"
exit "$ok"
