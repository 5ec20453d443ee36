#!/usr/bin/env bash
# Every test guest boots under `vsrv run` and reports success through the debug-exit port
# (status 33); failures must show as status 35.
. "$(dirname "$0")/lib.sh"

if ! have_kvm; then skip guests-vsrv "$kvm_reason"; exit 0; fi

# vrun OUT [VSRV RUN ARGS...]: sets $st.
vrun() {
	local out=$1; shift
	timeout -k 5 120 "$VSRV" run --memory 64M --serial stdio "$@" >"$out" 2>"$out.err" </dev/null
	st=$?
}

# expect TEST STATUS PATTERN [VSRV RUN ARGS...]
expect() {
	local t=$1 want=$2 pat=$3; shift 3
	vrun "$TMP/$t.out" "$@"
	# The timer guest refuses to judge rates when the host kept its vCPU off the CPU for
	# most of the window (a loaded machine): that is a skip with the guest's reason.
	if grep -q "host too loaded to measure" "$TMP/$t.out"; then
		skip "$t" "$(grep -o 'RESULT: FAIL: .*' "$TMP/$t.out" | head -1 | cut -c15-)"
	elif [ "$st" -ne "$want" ]; then
		fail "$t" "exit status $st, expected $want; output: $(cat "$TMP/$t.out" "$TMP/$t.out.err" | tr '\n' '|' | tail -c 400)"
	elif ! grep -q -- "$pat" "$TMP/$t.out"; then
		fail "$t" "no '$pat' in the output: $(tr '\n' '|' <"$TMP/$t.out" | tail -c 400)"
	else
		pass "$t"
	fi
}

expect vsrv-hello 33 'Hello from the vsrv test guest (multiboot boot, cmdline "x=1")' \
	--kernel "$GUESTS/hello.elf" --cmdline x=1
expect vsrv-exceptions 33 "exceptions: 8 of 8 cases ok" --kernel "$GUESTS/exceptions.elf"
expect vsrv-smp-mptable 33 "smp: 2 of 2 cpus up" --kernel "$GUESTS/smp.elf" --cpus 2
expect vsrv-smp-4 33 "smp: 4 of 4 cpus up" --kernel "$GUESTS/smp.elf" --cpus 4 --cmdline cpus=4
expect vsrv-smp-missing 35 "RESULT: FAIL" --kernel "$GUESTS/smp.elf" --cpus 1 --cmdline cpus=2
expect vsrv-timer 33 "timer: LAPIC timer:" --kernel "$GUESTS/timer.elf"
expect vsrv-costs 33 "cost ring3-ud2-syscall" --kernel "$GUESTS/costs.elf"
for c in int3 fwait clac stac fence ud2 ldmxcsr stmxcsr; do
	expect "vsrv-assist-$c" 33 "assist $c: ok" --kernel "$GUESTS/assist-$c.elf"
done

# linuxboot in both forms, with an initrd whose size and checksum go on the command line.
head -c 300000 /dev/urandom >"$TMP/initrd"
ck=$(cksum <"$TMP/initrd" | cut -d' ' -f1)
for f in bzImage vmlinux; do
	expect "vsrv-linuxboot-$f" 33 "linuxboot: initrd cksum $ck" --kernel "$GUESTS/linuxboot.$f" \
		--initrd "$TMP/initrd" --cmdline "ram=64M initrd_size=300000 initrd_cksum=$ck"
	expect "vsrv-linuxboot-$f-badsum" 35 "RESULT: FAIL: initrd cksum" --kernel "$GUESTS/linuxboot.$f" \
		--initrd "$TMP/initrd" --cmdline "ram=64M initrd_size=300000 initrd_cksum=$((ck ^ 1))"
	expect "vsrv-linuxboot-$f-ram" 35 "RESULT: FAIL: e820" --kernel "$GUESTS/linuxboot.$f" \
		--cmdline "ram=128M"
done

# console: input written once the guest is ready arrives through receive interrupts.
mkfifo "$TMP/in"
(
	exec 3>"$TMP/in"
	for _ in $(seq 1 300); do grep -q "console: ready" "$TMP/console.out" 2>/dev/null && break; sleep 0.1; done
	printf 'hello guest\nsecond line\nquit\n' >&3
) &
timeout -k 5 60 "$VSRV" run --memory 64M --serial stdio --kernel "$GUESTS/console.elf" \
	<"$TMP/in" >"$TMP/console.out" 2>&1
st=$?
wait
if [ "$st" -eq 33 ] && grep -q "^echo: hello guest" "$TMP/console.out" && grep -q "^echo: second line" "$TMP/console.out" &&
	grep -Eq "console: 29 bytes \([1-9][0-9]* through interrupts\)" "$TMP/console.out"; then
	pass vsrv-console
else
	fail vsrv-console "status $st; output: $(tr '\n' '|' <"$TMP/console.out" | tail -c 300)"
fi
finish
