#!/usr/bin/env bash
# Start-up benchmark (issue 18): what one command costs, from fork to exit, for vsrv beside
# qemu-img and QEMU doing the same on the same files: --version, `img info` on a VHD and on
# a qcow2 image, and the VMM's start (with /dev/kvm: the hello guest run to its end, as
# bench/launch.sh; without: up to the open of /dev/kvm, where both stop). Each figure is the
# median wall time of RUNS runs (bench/spawn) and the mean CPU time, with the number of shared
# objects the process started (LD_DEBUG=libs) and the ratios qemu / vsrv.
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

# ms CMD...: the median wall time; cpu CMD...: the mean CPU time (user + system, of the
# processes it waited for) over as many runs, which a busy host inflates less than the wall
# time; libs CMD...: the shared objects started (all processes)
ms() { "$spawn" "$runs" "$@" | cut -d' ' -f1; }
cpu() {
	local t
	t=$( (for ((i = 0; i < runs; i++)); do "$@" </dev/null >/dev/null 2>&1; done; times) | tail -n1)
	# "0m0.123s 0m0.045s": the children's user and system time
	awk -v n="$runs" '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }
		printf "%.2f", s * 1000 / n }' <<<"$t"
}
libs() {
	rm -f "$tmp"/ld.*
	LD_DEBUG=libs LD_DEBUG_OUTPUT=$tmp/ld "$@" >/dev/null 2>&1 || true
	cat "$tmp"/ld.* 2>/dev/null | sed -n 's|.*calling init: .*/||p' | sort -u | wc -l
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }
# row LABEL N VSRV_CMD... QEMU_CMD...: N words of vsrv's command, then QEMU's
row() {
	local label=$1 n=$2 v q vms qms vcpu qcpu
	shift 2
	v=("${@:1:n}")
	q=("${@:n+1}")
	vms=$(ms "${v[@]}")
	qms=$(ms "${q[@]}")
	vcpu=$(cpu "${v[@]}")
	qcpu=$(cpu "${q[@]}")
	printf '%-32s %8s %7s %4s %8s %7s %4s %7s %7s\n' "$label" "$vms" "$vcpu" "$(libs "${v[@]}")" \
		"$qms" "$qcpu" "$(libs "${q[@]}")" "$(ratio "$qms" "$vms")" "$(ratio "$qcpu" "$vcpu")"
}

echo "start: $V against qemu-img/QEMU, $runs runs each: the median wall time from fork to exit"
echo "($SETTLE_MS ms idle between runs), the mean CPU time, the shared objects started, qemu / vsrv"
printf '%-32s %8s %7s %4s %8s %7s %4s %7s %7s\n' command "vsrv(ms)" cpu libs "qemu(ms)" cpu libs \
	wall cpu
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
