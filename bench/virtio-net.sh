#!/usr/bin/env bash
# virtio-net benchmark: two VMs on one Linux bridge (in a private network namespace), the
# same guest (build/guests/vnet.elf) under vsrv run and under QEMU microvm (virtio-mmio, TAP):
# one VM sends COUNT frames with up to 32 unanswered, the other echoes each; the sender checks
# every echo and reports frames per second (both directions) and Mbit/s, by its own TSC.
# Sizes: 1514-byte frames (throughput) and 64-byte frames (packet rate).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
G=$BUILD/guests/vnet.elf VSRV=$BUILD/vsrv
QEMU=$(command -v qemu-system-x86_64 || true)
COUNT=${BENCH_NET_COUNT:-20000}
if [ "$(id -u)" -ne 0 ] || [ ! -w /dev/kvm ]; then echo "virtio-net bench: skipped (needs root and /dev/kvm)"; exit 0; fi
NS=vsrvb$$ TMP=$(mktemp -d)
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
ip netns add "$NS" && ip -n "$NS" link add br0 type bridge && ip -n "$NS" link set br0 up || exit 1

vm() { # MONITOR NAME CMDLINE MAC (QEMU gives every VM the same MAC otherwise)
	if [ "$1" = vsrv ]; then
		ip netns exec "$NS" timeout -k 5 120 "$VSRV" run --memory 64M --serial "file:$TMP/$2" --kernel "$G" \
			--cmdline "$3" --net bridge=br0 >/dev/null 2>&1
	else
		ip -n "$NS" tuntap add "$2" mode tap && ip -n "$NS" link set "$2" master br0 up
		ip netns exec "$NS" timeout -k 5 120 "$QEMU" -M microvm -enable-kvm -m 64 -nodefaults -nographic \
			-serial "file:$TMP/$2" -no-reboot -device isa-debug-exit,iobase=0xf4 \
			-global virtio-mmio.force-legacy=false -kernel "$G" -append "$3" \
			-netdev tap,id=n0,ifname="$2",script=no,downscript=no -device virtio-net-device,netdev=n0,mac="$4" >/dev/null 2>&1
		ip -n "$NS" link del "$2" 2>/dev/null
	fi
}

run() { # MONITOR SIZE -> "pps mbit"
	local m=$1 size=$2 tag=$1$2
	vm "$m" e$tag "mode=echo count=$COUNT" 52:54:00:00:00:0a &
	vm "$m" s$tag "mode=send count=$COUNT size=$size" 52:54:00:00:00:0b
	wait
	sed -n 's/.*all echoed, \([0-9]*\) pps, \([0-9]*\) Mbit.*/\1 \2/p' "$TMP/s$tag"
}

ratio() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ] && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}' || echo -; }

echo "virtio-net, two VMs on a Linux bridge (TAP), $COUNT echoed frames each way, guest TSC timing"
printf "%-22s %10s %10s %6s\n" "figure" "vsrv" "qemu" "ratio"
for size in 1514 64; do
	read -r vp vm_ < <(run vsrv $size; echo)
	qp="" qm=""
	[ -n "$QEMU" ] && read -r qp qm < <(run qemu $size; echo)
	printf "%-22s %10s %10s %6s\n" "frames/s ($size B)" "${vp:--}" "${qp:--}" "$(ratio "$vp" "$qp")"
	printf "%-22s %10s %10s %6s\n" "Mbit/s ($size B)" "${vm_:--}" "${qm:--}" "$(ratio "$vm_" "$qm")"
done
echo "(guest to host over TAP: not measured yet)"
