#!/usr/bin/env bash
# virtio-net's control queue and multi-queue with the kit's driver (guests/vnetctl.c) against
# tests/netctl-peer.py on a TAP, in a private network namespace (removed afterwards):
#   filter: receive modes, MAC filter tables and MAC_ADDR_SET decide which of the peer's
#           frames (foreign, own, table entries, multicast, broadcast) reach the guest;
#   mq:     --net tap=...,queues=2 on a multi_queue TAP: VQ_PAIRS_SET, frames out of both
#           transmit queues, the kernel's flows over both receive queues, one queue after
#           VQ_PAIRS_SET 1.
# Both on virtio-mmio and virtio-pci, then on virtio-mmio under build-asan/vsrv when it is built
# (`make asan`; t-virtio-evil.sh builds it): no sanitizer report.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vio-lib.sh"
G=$GUESTS/vnetctl.elf

if ! have_kvm; then skip virtio-netctl "$kvm_reason"; exit 0; fi
NS=vsrvc$$
if [ "$(id -u)" -ne 0 ] || ! ip netns add "$NS" 2>/dev/null; then
	skip virtio-netctl "needs root and network namespaces (ip netns add)"
	exit 0
fi
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT

# one NAME TRANSPORT MODE QUEUES PATTERN CTRL_LOG_LINES [VSRV]
one() {
	local n=$1 t=$2 m=$3 q=$4 pat=$5 want=$6 bin=${7:-$VSRV} tap=vt$RANDOM mqflag= qopt=
	if [ "$q" -gt 1 ]; then mqflag=multi_queue; qopt=,queues=$q; fi
	if ! ip -n "$NS" tuntap add "$tap" mode tap $mqflag || ! ip -n "$NS" link set "$tap" up; then
		fail "$n" "cannot create TAP $tap in the namespace"; return
	fi
	ip netns exec "$NS" python3 "$ROOT/tests/netctl-peer.py" "$tap" 2>"$TMP/$n.peer.err" &
	local peer=$!
	ip netns exec "$NS" timeout -k 5 60 "$bin" run --memory 64M --serial "file:$TMP/$n.out" \
		--kernel "$G" --cmdline "transport=$t mode=$m" --net "tap=$tap,transport=$t$qopt" \
		>"$TMP/$n.out.err" 2>&1 </dev/null
	st=$?
	kill "$peer" 2>/dev/null; wait "$peer" 2>/dev/null
	ip -n "$NS" link del "$tap" 2>/dev/null
	expect "$n" "$TMP/$n.out" 33 "$pat" || return
	local lines; lines=$(grep -c "control command" "$TMP/$n.out.err")
	if grep -q "AddressSanitizer\|runtime error\|LeakSanitizer" "$TMP/$n.out.err"; then
		fail "$n" "sanitizer: $(grep -m3 "Sanitizer\|runtime error" "$TMP/$n.out.err")"
	elif [ "$lines" -ne "$want" ]; then
		fail "$n" "$lines control-command log lines, expected $want: $(head -c 600 "$TMP/$n.out.err")"
	else
		echo "$n: $(grep -a "mq ok\|received" "$TMP/$n.out" | tr '\n' ' ' | tr -d '\r')"
		pass "$n"
	fi
}

for t in mmio pci; do
	one netctl-filter-$t $t filter 1 "vnetctl: filter ok" 0
	# mq: VQ_PAIRS_SET 3 and 0 are refused on purpose: two log lines
	one netctl-mq-$t $t mq 2 "vnetctl: mq ok" 2
done
if [ -x "$ROOT/build-asan/vsrv" ]; then
	one asan-netctl-filter mmio filter 1 "vnetctl: filter ok" 0 "$ROOT/build-asan/vsrv"
	one asan-netctl-mq mmio mq 2 "vnetctl: mq ok" 2 "$ROOT/build-asan/vsrv"
else
	skip asan-netctl "build-asan/vsrv not built (make asan)"
fi
finish
