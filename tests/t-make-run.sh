#!/usr/bin/env bash
# `make run` (mk/run.sh) without a terminal: the server starts on a fresh data directory, the
# demo VM (the console guest) is created and started and stays up at its prompt, the banner
# says how to reach its console (CLI and web), then (no terminal) the demo is turned off and
# the server stops, status 0, nothing left running; a second run reuses the directory (same
# password, same VM) and boots the demo again.
#
# Without KVM (this machine's, or /dev/kvm hidden in a mount namespace of the test's own):
# the server starts and answers, the demo is created but not started, the banner says why and
# what works without a guest, the server stops and the status is 0.
source "$(dirname "$0")/lib.sh"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nokvm_run() {
	if [ ! -e /dev/kvm ]; then
		"$@"
	else
		: >"$TMP/not-kvm"
		unshare -m sh -c 'mount --bind "$0" /dev/kvm && exec "$@"' "$TMP/not-kvm" "$@"
	fi
}
if [ -e /dev/kvm ] && ! unshare -m true 2>/dev/null; then
	skip make-run-no-kvm "cannot hide /dev/kvm (unshare -m needs root)"
else
	nk=$TMP/nokvm-data
	out=$(VSRV_DATA=$nk VSRV_PORT=$(free_port) nokvm_run timeout 60 bash "$ROOT/mk/run.sh" </dev/null 2>&1); rc=$?
	pw=$(cat "$nk/admin.password" 2>/dev/null)
	if [ $rc -eq 0 ] && [ -n "$pw" ] && grep -q "password $pw" <<<"$out" &&
	   grep -q "no usable /dev/kvm, so no VM can run here" <<<"$out" &&
	   grep -q "created" <<<"$out" && grep -q "but not started" <<<"$out" &&
	   grep -q "The server says:" <<<"$out" && grep -q "modprobe kvm_intel" <<<"$out" &&
	   grep -q "What needs no guest works: the web console, the API, the CLI" <<<"$out" &&
	   ! grep -qi "crashed\|did not come up\|failed to start" <<<"$out"; then
		pass make-run-no-kvm
	else
		fail make-run-no-kvm "status $rc: $(tail -n 8 <<<"$out" | tr '\n' '|')"
	fi
	# the demo exists and was never started: no VM directory holds an exit status
	ls "$nk"/vms/*/exit >/dev/null 2>&1 && fail make-run-no-kvm-not-started "$(ls "$nk"/vms/*/exit)" ||
		pass make-run-no-kvm-not-started
	left=$(pgrep -f -- "--data-dir $nk" | wc -l)
	[ "$left" = 0 ] && pass make-run-no-kvm-server-stopped || fail make-run-no-kvm-server-stopped "$left left"
fi
if ! have_kvm; then skip make-run "$kvm_reason"; finish; exit; fi
port=$(free_port)
export VSRV_DATA=$TMP/run-data VSRV_PORT=$port
timeout 60 bash "$ROOT/mk/run.sh" </dev/null >"$TMP/run.out" 2>&1 & runpid=$!
# While it runs: the server's command line (readable by every local user) has no password.
cmdline=
while kill -0 $runpid 2>/dev/null && [ -z "$cmdline" ]; do
	for f in /proc/[0-9]*/cmdline; do
		c=$(tr '\0' ' ' 2>/dev/null <"$f")
		case "$c" in *" serve --data-dir $VSRV_DATA "*) cmdline=$c; break ;; esac
	done
	[ -n "$cmdline" ] || sleep 0.02
done
wait $runpid; rc=$?
out=$(cat "$TMP/run.out")
pw=$(cat "$VSRV_DATA/admin.password" 2>/dev/null)
[ -n "$cmdline" ] && [ -n "$pw" ] && [[ "$cmdline" != *"$pw"* ]] && pass make-run-password-not-in-cmdline ||
	fail make-run-password-not-in-cmdline "${cmdline:-the server was never seen running}"
if [ $rc -eq 0 ] && grep -q "console: ready" <<<"$out" && grep -q "password $pw" <<<"$out" &&
   grep -q "http://127.0.0.1:$port/api/v1/" <<<"$out" && [ -n "$pw" ]; then
	pass make-run-first
else
	fail make-run-first "status $rc: $(tail -n 5 <<<"$out" | tr '\n' '|')"
fi
grep -q "Web console:  http://127.0.0.1:$port/ " <<<"$out" && pass make-run-web-console ||
	fail make-run-web-console "no console address in the banner"
# The demo stays up with its prompt, and the banner says how to reach it; no exit status
# that reads as a failure.
if grep -q "the demo VM runs" <<<"$out" && grep -q "vsrv vm console demo" <<<"$out" &&
   grep -q "http://127.0.0.1:$port/ui/#/vm/demo" <<<"$out" && grep -q "demo> " <<<"$out" &&
   ! grep -q "last_exit" <<<"$out"; then
	pass make-run-demo-stays-up
else
	fail make-run-demo-stays-up "$(tail -n 8 <<<"$out" | tr '\n' '|')"
fi
[ "$(stat -c %a "$VSRV_DATA/admin.password")" = 600 ] && pass make-run-password-mode ||
	fail make-run-password-mode "$(stat -c %a "$VSRV_DATA/admin.password")"
curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null && fail make-run-server-stopped "still answers" ||
	pass make-run-server-stopped
# Without a terminal nothing stays behind: no monitor or VMM of this data directory runs.
left=$(pgrep -f -- "$VSRV_DATA/vms/" | wc -l)
[ "$left" = 0 ] && pass make-run-nothing-left || fail make-run-nothing-left "$left processes of $VSRV_DATA"
out=$(timeout 60 bash "$ROOT/mk/run.sh" </dev/null 2>&1); rc=$?
n=$(grep -c "console: ready" "$VSRV_DATA/vms/1/console.log" 2>/dev/null)
[ $rc -eq 0 ] && [ "$n" = 2 ] && grep -q "password $pw" <<<"$out" && pass make-run-again ||
	fail make-run-again "status $rc, $n banners: $(tail -n 3 <<<"$out" | tr '\n' '|')"
finish
