#!/usr/bin/env bash
# virtio-net benchmark: the same guest (build/guests/vnet.elf) under vsrv run and under QEMU
# microvm (virtio-mmio, TAP), in a private network namespace, two set-ups:
#   bridge: two VMs on one Linux bridge; one sends COUNT frames with up to 32 unanswered, the
#           other (a VM of the same monitor) echoes each;
#   tap:    one VM on a TAP; a host program on that TAP (build/bench/tap_echo, AF_PACKET)
#           echoes each frame: guest to host and back.
# The sender checks every echo and reports frames per second (both directions) and Mbit/s by
# its own TSC. Sizes: 1514-byte frames (throughput) and 64-byte frames (packet rate).
# The machine is shared and noisy: ROUNDS rounds (BENCH_ROUNDS, default 3), vsrv and QEMU
# interleaved with the order alternating; medians, with the load average.
# Contended variants (issue 18): the rounds run again under each load of BENCH_CONTEND
# (bench/lib/contend.sh; default "busy guests": a busy loop per core, and guests computing;
# "" for quiet only), the same load for both monitors; each row shows quiet and contended
# vsrv / qemu / ratio.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
G=$BUILD/guests/vnet.elf VSRV=$BUILD/vsrv ECHO=$BUILD/bench/tap_echo
QEMU=$(command -v qemu-system-x86_64 || true)
COUNT=${BENCH_NET_COUNT:-20000}
ROUNDS=${BENCH_ROUNDS:-3}
if [ "$(id -u)" -ne 0 ] || [ ! -w /dev/kvm ]; then echo "virtio-net bench: skipped (needs root and /dev/kvm)"; exit 0; fi
[ -x "$ECHO" ] || { echo "virtio-net bench: $ECHO is missing (make $ECHO)"; exit 1; }
NS=vsrvb$$ TMP=$(mktemp -d)
. "$ROOT/bench/lib/contend.sh"
trap 'contend_stop; ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
VARIANTS=(quiet)
for k in ${BENCH_CONTEND-busy guests}; do
	why=$(contend_why_not "$k")
	if [ -z "$why" ]; then VARIANTS+=("$k"); else echo "virtio-net bench: $k-contended variant skipped: $why"; fi
done
ip netns add "$NS" && ip -n "$NS" link set lo up && ip -n "$NS" link add br0 type bridge &&
	ip -n "$NS" link set br0 up || exit 1

vm() { # MONITOR NAME CMDLINE MAC NETSPEC(bridge|tap): one VM, serial output in $TMP/NAME
	if [ "$1" = vsrv ]; then
		local net="bridge=br0"
		[ "$5" = tap ] && net="tap=$2"
		ip netns exec "$NS" timeout -k 5 120 "$VSRV" run --memory 64M --serial "file:$TMP/$2" --kernel "$G" \
			--cmdline "$3" --net "$net,mac=$4" >/dev/null 2>&1
	else
		if [ "$5" = bridge ]; then
			ip -n "$NS" tuntap add "$2" mode tap && ip -n "$NS" link set "$2" master br0 up
		fi
		ip netns exec "$NS" timeout -k 5 120 "$QEMU" -M microvm -enable-kvm -m 64 -nodefaults -nographic \
			-serial "file:$TMP/$2" -no-reboot -device isa-debug-exit,iobase=0xf4 \
			-global virtio-mmio.force-legacy=false -kernel "$G" -append "$3" \
			-netdev tap,id=n0,ifname="$2",script=no,downscript=no -device virtio-net-device,netdev=n0,mac="$4" >/dev/null 2>&1
		[ "$5" = bridge ] && ip -n "$NS" link del "$2" 2>/dev/null
	fi
}

result() { sed -n 's/.*all echoed, \([0-9]*\) pps, \([0-9]*\) Mbit.*/\1 \2/p' "$TMP/$1"; }

bridge_run() { # MONITOR SIZE ROUND -> "pps mbit"
	local tag=$1$2r$3
	vm "$1" e$tag "mode=echo count=$COUNT" 52:54:00:00:00:0a bridge &
	vm "$1" s$tag "mode=send count=$COUNT size=$2" 52:54:00:00:00:0b bridge
	wait
	result s$tag
}

tap_run() { # MONITOR SIZE ROUND -> "pps mbit": the TAP exists first, so tap_echo can bind to it
	local tap=t$1$2r$3 pid
	ip -n "$NS" tuntap add "$tap" mode tap && ip -n "$NS" link set "$tap" up || return
	ip netns exec "$NS" "$ECHO" "$tap" >"$TMP/$tap.echo" 2>&1 &
	pid=$!
	for _ in $(seq 50); do grep -q ready "$TMP/$tap.echo" 2>/dev/null && break; sleep 0.02; done
	vm "$1" "$tap" "mode=send count=$COUNT size=$2" 52:54:00:00:00:0b tap
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	ip -n "$NS" link del "$tap" 2>/dev/null
	result "$tap"
}

median() { sort -n | awk '{a[NR]=$1} END{if (!NR) print ""; else if (NR%2) print a[(NR+1)/2]; else printf "%d\n", (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ] && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}' || echo -; }

load0=$(cut -d' ' -f1 /proc/loadavg)
mons="vsrv"
[ -n "$QEMU" ] && mons="vsrv qemu"
: >"$TMP/results"
for var in "${VARIANTS[@]}"; do
	[ "$var" = quiet ] || contend_start "$var" || exit 1
	for r in $(seq "$ROUNDS"); do
		order=$mons
		[ $((r % 2)) -eq 0 ] && [ -n "$QEMU" ] && order="qemu vsrv"
		for setup in bridge tap; do
			for size in 1514 64; do
				for m in $order; do
					read -r p mb < <(${setup}_run "$m" "$size" "${var:0:1}$r"; echo)
					[ -n "${p:-}" ] && echo "$setup $size $m $p $mb $var" >>"$TMP/results"
				done
			done
		done
	done
	contend_stop
done
load1=$(cut -d' ' -f1 /proc/loadavg)

echo "virtio-net, $COUNT echoed frames each way, guest TSC timing; medians of $ROUNDS rounds (vsrv and QEMU"
echo "interleaved); load average $load0 before, $load1 after; variants: ${VARIANTS[*]} (bench/lib/contend.sh)"
echo "bridge: two VMs of one monitor on a Linux bridge; tap: one VM, echoed by a host program on its TAP"
printf "%-28s" "figure"
for var in "${VARIANTS[@]}"; do printf " | %-6s %9s %9s %6s" "$var" vsrv qemu ratio; done
echo
for setup in bridge tap; do
	for size in 1514 64; do
		for col in 4 5; do
			name="frames/s"
			[ $col = 5 ] && name="Mbit/s"
			printf "%-28s" "$setup $name ($size B)"
			for var in "${VARIANTS[@]}"; do
				v=$(awk -v s=$setup -v z=$size -v c=$col -v w="$var" '$1==s && $2==z && $3=="vsrv" && $6==w {print $c}' "$TMP/results" | median)
				q=$(awk -v s=$setup -v z=$size -v c=$col -v w="$var" '$1==s && $2==z && $3=="qemu" && $6==w {print $c}' "$TMP/results" | median)
				printf " | %-6s %9s %9s %6s" "" "${v:--}" "${q:--}" "$(ratio "$v" "$q")"
			done
			echo
		done
	done
done
