#!/usr/bin/env bash
# The VMM's sandbox (src/vmm/sandbox.c, README "Sandbox"): a running `vsrv run` has its VM in
# a child process with seccomp filter mode, no_new_privs and no capabilities; --sandbox off
# keeps one process without them; a child that dies of a signal (as the filter kills it) is
# reported by the supervisor; the child dies with its supervisor; --run-as switches user.
# That every device works under the filter is shown by the other tests (the sandbox is on
# by default).
source "$(dirname "$0")/lib.sh"
G=${VMMG:-$ROOT/build/vmm-guests}

out=$("$VSRV" run --kernel x --sandbox maybe 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q -- '--sandbox maybe: expected on or off' <<<"$out"; then
	pass sandbox-bad-option
else
	fail sandbox-bad-option "status $rc: $out"
fi
out=$("$VSRV" run --kernel x --run-as no-such-user-here 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q 'no such user' <<<"$out"; then
	pass run-as-unknown
else
	fail run-as-unknown "status $rc: $out"
fi

if ! have_kvm; then
	skip sandbox-run "$kvm_reason"
	finish; exit
fi

# field PID NAME: a field of /proc/PID/status.
field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null; }
# child_of PID: the first child process of PID (waits up to 5 s for it to exist).
child_of() {
	local c
	for _ in $(seq 100); do
		c=$(cat /proc/"$1"/task/*/children 2>/dev/null | awk '{print $1; exit}')
		[ -n "$c" ] && { echo "$c"; return; }
		sleep 0.05
	done
}
# start_vm NAME ARGS...: the echo guest (waits for serial input from a FIFO kept open) in
# the background; sets $vm (the vsrv run pid) and $fifo_fd.
start_vm() {
	local name=$1; shift
	mkfifo "$TMP/$name.in"
	"$VSRV" run --kernel "$G/echo.elf" --memory 8M "$@" <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	vm=$!
	exec {fifo_fd}>"$TMP/$name.in"
}
# gone PID: the process has ended (or is a zombie) within 5 s.
gone() {
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		[ "$(field "$1" State | cut -c1)" = Z ] && return 0
		sleep 0.05
	done
	return 1
}
# wait_sandboxed PID: until the filter is on (the VM is built by then).
wait_sandboxed() {
	for _ in $(seq 100); do
		[ "$(field "$1" Seccomp)" = 2 ] && return 0
		sleep 0.05
	done
	return 1
}

# --- default: sandbox on ---
start_vm on --control "$TMP/on.sock"
c=$(child_of $vm)
if [ -n "$c" ] && wait_sandboxed "$c" && [ "$(field "$c" NoNewPrivs)" = 1 ] &&
   [ "$(field "$c" CapEff)" = 0000000000000000 ] && [ "$(field "$c" CapPrm)" = 0000000000000000 ]; then
	pass sandbox-on-status
else
	fail sandbox-on-status "child '$c': Seccomp $(field "$c" Seccomp) NoNewPrivs $(field "$c" NoNewPrivs) CapEff $(field "$c" CapEff)"
fi
# the VM works under the filter: the guest echoes, the control socket answers with stats
printf 'abc\n' >&$fifo_fd
reply=$(python3 - "$TMP/on.sock" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
s.sendall(b'{"cmd":"stats"}\n'); print(s.recv(65536).decode().strip())
EOF
)
for _ in $(seq 50); do grep -q abc "$TMP/on.out" && break; sleep 0.05; done
if grep -q abc "$TMP/on.out" && grep -q '"ok":true' <<<"$reply" && grep -Eq '"rss":[1-9]' <<<"$reply"; then
	pass sandbox-on-works
else
	fail sandbox-on-works "output '$(cat "$TMP/on.out")', stats '$reply'"
fi
kill -TERM $vm; wait $vm; rc=$?
exec {fifo_fd}>&-
if [ $rc -eq 143 ] && grep -q 'stopped by signal 15' "$TMP/on.err" && gone "$c"; then
	pass sandbox-sigterm
else
	fail sandbox-sigterm "status $rc: $(cat "$TMP/on.err")"
fi

# --- a child killed by SIGSYS (what the filter does) is reported, status 128 + 31 ---
start_vm sys
c=$(child_of $vm)
wait_sandboxed "$c"
kill -SYS "$c"; wait $vm; rc=$?
exec {fifo_fd}>&-
if [ $rc -eq 159 ] && grep -q 'killed by signal 31: a system call outside the sandbox' "$TMP/sys.err"; then
	pass sandbox-sigsys-reported
else
	fail sandbox-sigsys-reported "status $rc: $(cat "$TMP/sys.err")"
fi

# --- the VM goes with its supervisor, even when that is SIGKILLed ---
start_vm orphan
c=$(child_of $vm)
wait_sandboxed "$c"
kill -KILL $vm; wait $vm 2>/dev/null
exec {fifo_fd}>&-
if [ -n "$c" ] && gone "$c"; then
	pass sandbox-dies-with-supervisor
else
	fail sandbox-dies-with-supervisor "child $c still runs"
	kill -KILL "$c" 2>/dev/null
fi

# --- VSRV_SECCOMP_LOG=1: the filter is there, in log mode ---
VSRV_SECCOMP_LOG=1 start_vm log
c=$(child_of $vm)
if wait_sandboxed "$c"; then pass sandbox-log-mode; else fail sandbox-log-mode "no filter on $c"; fi
kill -TERM $vm; wait $vm
exec {fifo_fd}>&-

# --- --sandbox off: one process, none of it ---
start_vm off --sandbox off
sleep 0.3
c=$(child_of $vm)
if [ "$(field $vm Seccomp)" = 0 ] && [ "$(field $vm NoNewPrivs)" = 0 ] && [ -z "$c" ]; then
	pass sandbox-off
else
	fail sandbox-off "Seccomp $(field $vm Seccomp), child '$c'"
fi
kill -TERM $vm; wait $vm
exec {fifo_fd}>&-

# --- --run-as: the VM's process runs as that user ---
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	start_vm runas --run-as nobody
	c=$(child_of $vm)
	wait_sandboxed "$c"
	uid=$(field "$c" Uid | awk '{print $1 $2 $3 $4}')
	nob=$(id -u nobody)
	printf 'xyz\n' >&$fifo_fd
	for _ in $(seq 50); do grep -q xyz "$TMP/runas.out" && break; sleep 0.05; done
	if [ "$uid" = "$nob$nob$nob$nob" ] && grep -q xyz "$TMP/runas.out"; then
		pass sandbox-run-as
	else
		fail sandbox-run-as "uid '$uid', output '$(cat "$TMP/runas.out")' $(cat "$TMP/runas.err")"
	fi
	kill -TERM $vm; wait $vm
	exec {fifo_fd}>&-
else
	skip sandbox-run-as "needs root and a user nobody"
fi
finish
