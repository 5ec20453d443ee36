#!/usr/bin/env bash
# `make run`: start `vsrv serve` on a data directory under the repository (run-data/, created
# on first run), create the demo VM from the console guest (build/guests/console.elf: an echo
# console with a prompt, which stays up) if there is none, start it, print the API address,
# how to log in and how to reach the demo's console, and show the console's first lines.
#
# On a terminal the server then stays in the foreground, printing the server's events,
# until Ctrl-C stops it (VMs keep running and are re-attached on the next `make run`).
# Without a terminal (CI, `make run </dev/null`) it turns the demo off again, stops the
# server and exits 0 once the demo guest was up with its prompt, or 1 if it was not. On a
# host without a usable /dev/kvm the demo is created but not started, the banner says so
# and what works without a guest, and (without a terminal) it exits 0 once the server
# answered.
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
cp -f build/guests/console.elf "$DATA/images/demo.elf"

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
api() { curl -s --unix-socket "$DATA/vsrv.sock" "http://localhost/api/v1/$1"; }
# A field of the demo's status ("state", "reason" of its last exit), from its JSON.
demo_field() { api vms/demo/status | grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }
if ! "$VSRV" vm show demo >/dev/null 2>&1; then
	"$VSRV" vm create demo --kernel demo.elf --memory 64M --cmdline "prompt=demo>" \
		--description "the demo guest: an echo console" >/dev/null ||
		{ echo "== cannot create the demo VM"; stop_server; exit 1; }
fi
banners() { api vms/demo/console | grep -c "console: ready"; }
n0=$(banners)
was=$(demo_field state)
# A VM needs KVM: without a usable /dev/kvm the demo is not started (the server would refuse
# it). The server says whether it can start one (GET /api/v1/health's kvm) and, when not, why
# and what to do (GET /api/v1/host's kvm.message).
kvm=1
api health | grep -q '"kvm": *false' && kvm=0
why=$(api host | grep -o '"message": *"[^"]*"' | head -n 1 | cut -d'"' -f4)
[ "$was" = running ] || [ "$kvm" = 0 ] || "$VSRV" vm start demo >/dev/null 2>&1 || true

echo "== vsrv serve: data in $DATA, log in $log"
echo "== Web console:  http://127.0.0.1:$PORT/   (user admin, password $pw)"
echo "== API:  http://127.0.0.1:$PORT/api/v1/   (OpenAPI document: /api/v1/openapi.yaml)"
echo "   log in over TCP:  user admin, password $pw"
echo "     build/vsrv login --server http://127.0.0.1:$PORT --user admin"
echo "     curl -s -XPOST http://127.0.0.1:$PORT/api/v1/login -d '{\"user\":\"admin\",\"password\":\"$pw\"}'"
echo "   locally as root (the Unix socket, no password):"
echo "     VSRV_SOCKET=$DATA/vsrv.sock build/vsrv vm list"

# The demo guest says "console: ready" and waits at its prompt (it stays up).
ok=1
[ "$kvm" = 0 ] && [ "$was" != running ] && ok=2
for _ in $(seq 200); do
	[ "$ok" = 2 ] && break
	con=$(api vms/demo/console)
	state=$(demo_field state)
	if [ "$state" = running ] && { [ "$was" = running ] || [ "$(grep -c "console: ready" <<<"$con")" -gt "$n0" ]; }; then
		ok=0
		break
	fi
	case "$state" in crashed|stopped) break ;; esac
	sleep 0.05
done
if [ "$ok" = 0 ]; then
	# its prompt follows "console: ready" (a demo of an older make run has none)
	for _ in $(seq 20); do
		grep -q "demo> " <<<"$con" && break
		sleep 0.05
		con=$(api vms/demo/console)
	done
	echo "== the demo VM runs: an echo console (type a line, it comes back; 'quit' ends it)"
	echo "     its console here:   VSRV_SOCKET=$DATA/vsrv.sock build/vsrv vm console demo   (Ctrl-] detaches)"
	echo "     in the browser:     http://127.0.0.1:$PORT/ui/#/vm/demo"
	echo "   its console so far:"
	tail -n 3 <<<"$con" | sed 's/^/   | /'
	echo
elif [ "$ok" = 2 ]; then
	echo "== this host has no usable /dev/kvm, so no VM can run here: the demo VM is created"
	echo "   but not started (KVM needs a host with hardware virtualization, or a VM with nested"
	echo "   virtualization, and read-write access to /dev/kvm). The server says:"
	fold -s -w 86 <<<"${why:-(no reason given)}" | sed 's/^/     /; s/ *$//'
	echo "   What needs no guest works: the web console, the API, the CLI (users, disks, images,"
	echo "   networks, events) and build/vsrv img."
	echo
else
	echo "== the demo VM did not come up (state ${state:-unknown}): $(demo_field reason)"
	tail -n 5 <<<"$con" | sed 's/^/   | /'
fi

if [ -t 0 ] && [ "$started" = 1 ]; then
	echo "== the server runs; its events follow. Ctrl-C stops it."
	"$VSRV" events --follow &
	evpid=$!
	wait "$pid"
	kill "$evpid" 2>/dev/null
	echo "== vsrv serve ended"
	exit 0
fi
# Without a terminal nothing stays behind: the demo goes off, then the server.
if [ "$started" = 1 ] && [ "$(demo_field state)" != stopped ] && [ "$(demo_field state)" != crashed ]; then
	api vms/demo/off -X POST >/dev/null
	for _ in $(seq 100); do
		case "$(demo_field state)" in stopped|crashed) break ;; esac
		sleep 0.05
	done
fi
stop_server
[ "$ok" = 0 ] && echo "== done: the demo guest ran (the server is stopped; make run starts it again)"
# without KVM the server's part is what could be shown: it answered, and is stopped again
[ "$ok" = 2 ] && echo "== done: the server ran, without KVM (the server is stopped; make run starts it again)" &&
	exit 0
exit "$ok"
