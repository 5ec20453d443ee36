#!/usr/bin/env bash
# The test guests boot under QEMU microvm (multiboot, isa-debug-exit): the same ELF files that
# `vsrv run` boots, so benchmarks can compare the two monitors on the same guest.
. "$(dirname "$0")/lib.sh"

QEMU=$(command -v qemu-system-x86_64 || true)
if [ -z "$QEMU" ]; then skip guests-qemu "qemu-system-x86_64 is not installed"; exit 0; fi
if ! have_kvm; then skip guests-qemu "$kvm_reason"; exit 0; fi

# qrun NAME OUT [QEMU ARGS...]: boot build/guests/NAME.elf; sets $st to the exit status.
qrun() {
	local name=$1 out=$2; shift 2
	timeout -k 5 60 "$QEMU" -M microvm -enable-kvm -m 64 -nodefaults -nographic -serial stdio \
		-no-reboot -device isa-debug-exit,iobase=0xf4 -kernel "$GUESTS/$name.elf" "$@" \
		>"$out" 2>"$out.err" </dev/null
	st=$?
}

# expect_pass TEST NAME PATTERN [QEMU ARGS...]: status 33 (RT_EXIT_PASS) and PATTERN in the output.
expect_pass() {
	local t=$1 name=$2 pat=$3; shift 3
	qrun "$name" "$TMP/$t.out" "$@"
	# The timer guest refuses to judge rates when the host kept its vCPU off the CPU for
	# most of the window (a loaded machine): that is a skip with the guest's reason.
	if grep -q "host too loaded to measure" "$TMP/$t.out"; then
		skip "$t" "$(grep -o 'RESULT: FAIL: .*' "$TMP/$t.out" | head -1 | cut -c15-)"
	elif [ "$st" -ne 33 ]; then
		fail "$t" "exit status $st, expected 33; output: $(tr '\n' '|' <"$TMP/$t.out" | tail -c 300)"
	elif ! grep -q -- "$pat" "$TMP/$t.out"; then
		fail "$t" "no '$pat' in the output: $(tr '\n' '|' <"$TMP/$t.out" | tail -c 300)"
	else
		pass "$t"
	fi
}

expect_pass qemu-hello hello "Hello from the vsrv test guest (multiboot boot" -append "demo=1"
expect_pass qemu-hello-cmdline hello 'cmdline ".*demo=1"' -append "demo=1"
expect_pass qemu-exceptions exceptions "exceptions: 8 of 8 cases ok"
expect_pass qemu-smp smp "smp: 2 of 2 cpus up" -smp 2 -append cpus=2
expect_pass qemu-timer timer "timer: LAPIC timer:"
expect_pass qemu-costs costs "cost ring3-ud2-syscall"
expect_pass qemu-assist-fence assist-fence "assist fence: ok"
expect_pass qemu-assist-ud2 assist-ud2 "assist ud2: ok"

# A guest that fails must be seen to fail: smp told to expect more CPUs than it has.
qrun smp "$TMP/smp-bad.out" -smp 1 -append cpus=2
if [ "$st" -eq 35 ] && grep -q "RESULT: FAIL" "$TMP/smp-bad.out"; then pass qemu-fail-status
else fail qemu-fail-status "status $st, expected 35"; fi

# console: input written only after the guest says it is ready, so it arrives by interrupt.
mkfifo "$TMP/in"
(
	exec 3>"$TMP/in"
	for _ in $(seq 1 300); do grep -q "console: ready" "$TMP/console.out" 2>/dev/null && break; sleep 0.1; done
	printf 'hello guest\nsecond line\nquit\n' >&3
) &
timeout -k 5 60 "$QEMU" -M microvm -enable-kvm -m 64 -nodefaults -nographic -serial stdio -no-reboot \
	-device isa-debug-exit,iobase=0xf4 -kernel "$GUESTS/console.elf" <"$TMP/in" >"$TMP/console.out" 2>&1
st=$?
wait
if [ "$st" -eq 33 ] && grep -q "^echo: hello guest" "$TMP/console.out" && grep -q "^echo: second line" "$TMP/console.out" &&
	grep -Eq "console: 29 bytes \([1-9][0-9]* through interrupts\)" "$TMP/console.out"; then
	pass qemu-console
else
	fail qemu-console "status $st; output: $(tr '\n' '|' <"$TMP/console.out" | tail -c 300)"
fi
finish
