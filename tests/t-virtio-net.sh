#!/usr/bin/env bash
# virtio-net through the kit's driver (guests/vnet.c): the DHCP exchange through `--net user`
# on virtio-mmio and virtio-pci and under QEMU's -netdev user; frames between two VMs on one
# Linux bridge (in a private network namespace, removed afterwards): vsrv (mmio) to vsrv
# (pci), and vsrv to QEMU, every frame echoed and checked.
# tests/run: alone (a network namespace with bridges)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vio-lib.sh"
G=$GUESTS/vnet.elf

if ! have_kvm; then skip virtio-net "$kvm_reason"; exit 0; fi
for t in mmio pci; do
	vrun "$TMP/d$t.out" --kernel "$G" --cmdline "transport=$t mode=dhcp" --net user,transport=$t
	expect net-dhcp-$t "$TMP/d$t.out" 33 "vnet: dhcp lease 10.0.2.15 from 10.0.2.2" && pass net-dhcp-$t
done
if [ -n "$QEMU" ]; then
	qrun "$TMP/dq.out" "$G" "mode=dhcp" -netdev user,id=n0 -device virtio-net-device,netdev=n0
	expect net-dhcp-qemu "$TMP/dq.out" 33 "vnet: dhcp lease 10.0.2.15" && pass net-dhcp-qemu
fi

NS=vsrvt$$
if [ "$(id -u)" -ne 0 ] || ! ip netns add "$NS" 2>/dev/null; then
	skip net-bridge "needs root and network namespaces (ip netns add)"
	finish; exit
fi
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
ip -n "$NS" link add br0 type bridge && ip -n "$NS" link set br0 up

# bridge PEER_CMD... : vsrv sends 2000 frames (mmio); the peer echoes them
pair() {
	local n=$1; shift
	ip netns exec "$NS" "$@" >/dev/null 2>"$TMP/$n.peer.err" &
	local peer=$!
	ip netns exec "$NS" timeout -k 5 60 "$VSRV" run --memory 64M --serial "file:$TMP/$n.send" \
		--kernel "$G" --cmdline "mode=send count=2000" --net bridge=br0 >"$TMP/$n.send.err" 2>&1
	st=$?
	wait $peer; pst=$?
	if expect "$n" "$TMP/$n.send" 33 "all echoed"; then
		if [ $pst -eq 33 ]; then pass "$n"; else fail "$n" "the echoing VM ended with $pst: $(tail -c 300 "$TMP/$n.peer")"; fi
	fi
}
pair net-bridge-vsrv timeout -k 5 60 "$VSRV" run --memory 64M --serial "file:$TMP/net-bridge-vsrv.peer" \
	--kernel "$G" --cmdline "mode=echo count=2000 transport=pci" --net bridge=br0,transport=pci

if [ -n "$QEMU" ]; then
	ip -n "$NS" tuntap add qtap0 mode tap && ip -n "$NS" link set qtap0 master br0 up
	pair net-bridge-qemu timeout -k 5 60 "$QEMU" -M microvm -enable-kvm -m 64 -nodefaults -nographic \
		-serial "file:$TMP/net-bridge-qemu.peer" -no-reboot -device isa-debug-exit,iobase=0xf4 \
		-global virtio-mmio.force-legacy=false -kernel "$G" -append "mode=echo count=2000" \
		-netdev tap,id=n0,ifname=qtap0,script=no,downscript=no -device virtio-net-device,netdev=n0
fi
finish
