#!/usr/bin/env bash
# Start-up benchmark (issue 18): what one command costs, from fork to exit, for vsrv beside
# qemu-img and QEMU doing the same on the same files: --version, `img info` on a VHD and on
# a qcow2 image, and the VMM's start (with /dev/kvm: the hello guest run to its end, as
# bench/launch.sh; without: up to the open of /dev/kvm, where both stop). Each figure is the
# median wall time of RUNS runs (bench/spawn), with the number of shared objects the process
# started (LD_DEBUG=libs) and the ratio qemu / vsrv.
# Usage: bench/start.sh [RUNS]   (VSRV=FILE times another vsrv binary, e.g. an older build)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-${RUNS:-101}}
B=${BUILD:-build}
V=${VSRV:-$B/vsrv}
spawn=$B/bench/spawn
export SETTLE_MS=${SETTLE_MS:-5}
[ -x "$spawn" ] || { echo "start bench: $spawn is missing (make $spawn)"; exit 1; }
command -v qemu-img >/dev/null || { echo "start bench: skipped (no qemu-img)"; exit 0; }
tmp=$(mktemp -d /tmp/vsrv-bench-start.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$V" img create -f vhd "$tmp/x.vhd" 1G >/dev/null
qemu-img create -q -f qcow2 "$tmp/x.qcow2" 1G

# ms CMD...: the median wall time; libs CMD...: the shared objects started (all processes)
ms() { "$spawn" "$runs" "$@" | cut -d' ' -f1; }
libs() {
	rm -f "$tmp"/ld.*
	LD_DEBUG=libs LD_DEBUG_OUTPUT=$tmp/ld "$@" >/dev/null 2>&1 || true
	cat "$tmp"/ld.* 2>/dev/null | sed -n 's|.*calling init: .*/||p' | sort -u | wc -l
}
# row LABEL N VSRV_CMD... -- QEMU_CMD...: N words of vsrv's command, then QEMU's
row() {
	local label=$1 n=$2 v q vms qms
	shift 2
	v=("${@:1:n}")
	q=("${@:n+1}")
	vms=$(ms "${v[@]}")
	qms=$(ms "${q[@]}")
	printf '%-34s %9s %5s %9s %5s %8sx\n' "$label" "$vms" "$(libs "${v[@]}")" "$qms" \
		"$(libs "${q[@]}")" "$(echo "scale=2; $qms / $vms" | bc)"
}

echo "start: $V against qemu-img/QEMU, median of $runs runs, fork to exit ($SETTLE_MS ms idle between runs)"
printf '%-34s %9s %5s %9s %5s %9s\n' command "vsrv(ms)" libs "qemu(ms)" libs qemu/vsrv
row "--version" 2 "$V" --version qemu-img --version
row "img info (VHD, qemu-img -f vpc)" 4 "$V" img info "$tmp/x.vhd" \
	qemu-img info -f vpc "$tmp/x.vhd"
row "img info (qcow2)" 4 "$V" img info "$tmp/x.qcow2" qemu-img info -f qcow2 "$tmp/x.qcow2"
if command -v qemu-system-x86_64 >/dev/null; then
	guest=$B/guests/hello.elf
	[ -e "$guest" ] || { echo "start bench: $guest is missing (make)"; exit 1; }
	if [ -w /dev/kvm ]; then
		label="run (hello guest, to its exit)"
	else
		label="run (to /dev/kvm: none here)"
	fi
	row "$label" 8 "$V" run --kernel "$guest" --memory 64M --serial none \
		qemu-system-x86_64 -M microvm,accel=kvm -m 64 -nodefaults -nographic -serial null \
		-no-reboot -device isa-debug-exit,iobase=0xf4 -kernel "$guest"
fi
