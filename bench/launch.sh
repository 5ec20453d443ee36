#!/usr/bin/env bash
# Launch benchmark: boot the hello guest repeatedly under vsrv run, under QEMU microvm, and
# the floor (bench/kvm_floor.c), all in this one run; print the median wall time from
# process start to exit, the peak RSS, and the ratios. Usage: bench/launch.sh [RUNS]
# Contended variants (issue 18): the times again under each load of BENCH_CONTEND
# (bench/lib/contend.sh; default "busy guests": a busy loop per core, and guests computing;
# "" for quiet only), the same load for every starter; the last table puts them side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-${RUNS:-21}}
B=${BUILD:-build}
guest=$B/guests/hello.elf
spawn=$B/bench/spawn
[ -w /dev/kvm ] || { echo "launch bench: skipped (no usable /dev/kvm: no guest boots here)"; exit 0; }
[ -e "$guest" ] || { echo "launch bench: $guest is missing (make)"; exit 1; }

echo "launch: $guest, median of $runs runs each, process start to exit (${SETTLE_MS:-50} ms idle between runs)"
read -r v_ms v_kib v_st < <("$spawn" "$runs" "$B/vsrv" run --kernel "$guest" --memory 64M --serial none)
# The sandboxed VM runs in a child process that the peak RSS of the parent does not show: the
# memory figure comes from the same guest in one process (--sandbox off).
read -r _ v_kib _ < <("$spawn" "$runs" "$B/vsrv" run --sandbox off --kernel "$guest" --memory 64M --serial none)
read -r f_ms f_kib f_st < <("$spawn" "$runs" "$B/bench/kvm_floor")
read -r i_ms i_kib i_st < <("$spawn" "$runs" "$B/bench/kvm_floor" --irqchip)
q_ms= q_kib=
qemu() { "$spawn" "$runs" qemu-system-x86_64 -M microvm -enable-kvm -m 64 -nodefaults -nographic \
	-serial null -no-reboot -device isa-debug-exit,iobase=0xf4 -kernel "$1"; }
if command -v qemu-system-x86_64 >/dev/null; then
	read -r q_ms q_kib q_st < <(qemu "$guest")
fi
# The same with the VMM tests' minimal guest (a multiboot ELF that prints one line and exits
# at once): what is left is the monitors' own start and exit, without the guest runtime's
# set-up, which runs in emulated ring 0 on PVM hosts.
mini=$B/vmm-guests/hello.elf
mv_ms= mq_ms=
minimal() {
	if [ -e "$mini" ]; then
		read -r mv_ms mv_kib mv_st < <("$spawn" "$runs" "$B/vsrv" run --kernel "$mini" --memory 64M --serial none)
		command -v qemu-system-x86_64 >/dev/null && read -r mq_ms mq_kib mq_st < <(qemu "$mini")
	fi
	return 0
}
minimal
mib() { echo "scale=1; $1 / 1024" | bc; }
printf '%-14s %10s %12s %8s\n' starter "time(ms)" "peakRSS(MiB)" status
echo "(vsrv run: time with the sandbox on, the default; peak RSS of the VM in one process, --sandbox off)"
printf '%-14s %10s %12s %8s\n' "vsrv run" "$v_ms" "$(mib "$v_kib")" "$v_st"
[ -n "$q_ms" ] && printf '%-14s %10s %12s %8s\n' "qemu microvm" "$q_ms" "$(mib "$q_kib")" "$q_st"
printf '%-14s %10s %12s %8s\n' "kvm floor" "$f_ms" "$(mib "$f_kib")" "$f_st"
printf '%-14s %10s %12s %8s   (the floor plus KVM_CREATE_IRQCHIP and KVM_CREATE_PIT2)\n' \
	"floor+irqchip" "$i_ms" "$(mib "$i_kib")" "$i_st"
if [ -n "$mv_ms" ]; then
	echo "minimal guest ($mini):"
	printf '%-14s %10s %12s %8s\n' "vsrv run" "$mv_ms" "$(mib "$mv_kib")" "$mv_st"
	[ -n "$mq_ms" ] && printf '%-14s %10s %12s %8s\n' "qemu microvm" "$mq_ms" "$(mib "$mq_kib")" "$mq_st"
	echo "  vsrv / floor: $(echo "scale=2; $mv_ms / $f_ms" | bc)x$([ -n "$mq_ms" ] && echo ", qemu / vsrv: $(echo "scale=2; $mq_ms / $mv_ms" | bc)x")"
fi
echo "hello guest:"
echo "vsrv / floor time:  $(echo "scale=2; $v_ms / $f_ms" | bc)x   (target <= 2x; vs floor+irqchip: $(echo "scale=2; $v_ms / $i_ms" | bc)x)"
if [ -n "$q_ms" ]; then
	echo "qemu / vsrv time:   $(echo "scale=2; $q_ms / $v_ms" | bc)x   (target >= 5x)"
	echo "vsrv / qemu RSS:    $(echo "scale=3; $v_kib / $q_kib" | bc)    (target <= 0.25)"
else
	echo "qemu-system-x86_64 not installed: no QEMU figures"
fi

# Contended: the times under each load, vsrv and QEMU in turn under the same load.
. bench/lib/contend.sh
trap contend_stop EXIT
variants=(quiet)
for k in ${BENCH_CONTEND-busy guests}; do
	why=$(contend_why_not "$k")
	if [ -z "$why" ]; then variants+=("$k"); else echo "launch: $k-contended variant skipped: $why"; fi
done
summary="hello-guest $v_ms ${q_ms:--} quiet
minimal-guest ${mv_ms:--} ${mq_ms:--} quiet
floor $f_ms - quiet"
for var in "${variants[@]:1}"; do
	contend_start "$var"
	read -r v_ms _ _ < <("$spawn" "$runs" "$B/vsrv" run --kernel "$guest" --memory 64M --serial none)
	q_ms=
	command -v qemu-system-x86_64 >/dev/null && read -r q_ms _ _ < <(qemu "$guest")
	minimal
	read -r f_ms _ _ < <("$spawn" "$runs" "$B/bench/kvm_floor")
	contend_stop
	summary+="
hello-guest $v_ms ${q_ms:--} $var
minimal-guest ${mv_ms:--} ${mq_ms:--} $var
floor $f_ms - $var"
done
echo "quiet and contended side by side (median ms, process start to exit; ratio = qemu / vsrv, >1: vsrv faster):"
awk -v vs="${variants[*]}" 'BEGIN { nv = split(vs, V, " ") }
	{ if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } a[$1, $4] = $2; b[$1, $4] = $3 }
	END {
		printf "%-14s", "guest"; for (i = 1; i <= nv; i++) printf " | %-6s %8s %8s %6s", V[i], "vsrv", "qemu", "ratio"; printf "\n"
		for (j = 1; j <= n; j++) {
			printf "%-14s", order[j]
			for (i = 1; i <= nv; i++) {
				x = a[order[j], V[i]]; y = b[order[j], V[i]]
				r = (x != "-" && y != "-" && x > 0) ? sprintf("%.2fx", y / x) : "-"
				printf " | %-6s %8s %8s %6s", "", x, y, r
			}
			printf "\n"
		}
	}' <<<"$summary"
echo "(floor: bench/kvm_floor, in the vsrv column)"
