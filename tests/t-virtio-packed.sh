#!/usr/bin/env bash
# Packed virtqueues (VIRTIO_F_RING_PACKED): the kit's guests with `ring=packed` (their driver
# then asks for packed rings and fails when the device does not offer them) drive virtio-blk,
# virtio-scsi, virtio-net and virtio-rng on virtio-mmio and virtio-pci, and the same ELF files
# run under QEMU microvm with the devices' packed=on. Disk images are checked on the host.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vio-lib.sh"

if ! have_kvm; then skip virtio-packed "$kvm_reason"; exit 0; fi

for t in mmio pci; do
	img=$TMP/$t.img; truncate -s 4M "$img"
	vrun "$TMP/$t.out" --kernel "$GUESTS/vblk.elf" --cmdline "transport=$t ring=packed qd=8" \
		--disk "$img,format=raw,transport=$t"
	if expect packed-blk-$t "$TMP/$t.out" 33 "vblk: ok" && grep -q "blk@$t" "$TMP/$t.out"; then
		if err=$(vblk_verify "$img" "$TMP/$t.out" 2>&1); then pass packed-blk-$t; else fail packed-blk-$t "image: $err"; fi
	fi

	img=$TMP/s$t.img; truncate -s 8M "$img"
	vrun "$TMP/s$t.out" --kernel "$GUESTS/vscsi.elf" --cmdline "transport=$t ring=packed" \
		--disk "$img,format=raw,bus=scsi,transport=$t"
	if expect packed-scsi-$t "$TMP/s$t.out" 33 "vscsi: ok"; then
		if err=$(vscsi_verify "$img" "$TMP/s$t.out" 2>&1); then pass packed-scsi-$t; else fail packed-scsi-$t "image: $err"; fi
	fi

	vrun "$TMP/n$t.out" --kernel "$GUESTS/vnet.elf" --cmdline "transport=$t ring=packed mode=dhcp" --net user,transport=$t
	expect packed-net-$t "$TMP/n$t.out" 33 "vnet: dhcp lease 10.0.2.15 from 10.0.2.2" && pass packed-net-$t

	vrun "$TMP/r$t.out" --kernel "$GUESTS/vrng.elf" --cmdline "transport=$t ring=packed" --device rng,transport=$t
	expect packed-rng-$t "$TMP/r$t.out" 33 "vrng: ok" && pass packed-rng-$t
done

if [ -z "$QEMU" ]; then skip packed-qemu "qemu-system-x86_64 is not installed"
else
	img=$TMP/q.img; truncate -s 4M "$img"
	qrun "$TMP/q.out" "$GUESTS/vblk.elf" "ring=packed" \
		-drive id=d0,file="$img",format=raw,if=none,cache=none,discard=unmap -device virtio-blk-device,drive=d0,packed=on
	if expect packed-blk-qemu "$TMP/q.out" 33 "vblk: ok"; then
		if err=$(vblk_verify "$img" "$TMP/q.out" 2>&1); then pass packed-blk-qemu; else fail packed-blk-qemu "image: $err"; fi
	fi
	qrun "$TMP/qn.out" "$GUESTS/vnet.elf" "ring=packed mode=dhcp" -netdev user,id=n0 -device virtio-net-device,netdev=n0,packed=on
	expect packed-net-qemu "$TMP/qn.out" 33 "vnet: dhcp lease 10.0.2.15" && pass packed-net-qemu
	qrun "$TMP/qr.out" "$GUESTS/vrng.elf" "ring=packed" -device virtio-rng-device,packed=on
	expect packed-rng-qemu "$TMP/qr.out" 33 "vrng: ok" && pass packed-rng-qemu
	# A device without packed rings: the guest that insists on them says so and fails.
	qrun "$TMP/qx.out" "$GUESTS/vrng.elf" "ring=packed" -device virtio-rng-device,packed=off
	expect packed-refused-qemu "$TMP/qx.out" 35 "does not offer VIRTIO_F_RING_PACKED" && pass packed-refused-qemu
fi

# Frames between two VMs on a bridge (private network namespace): vsrv on virtio-mmio sends,
# vsrv on virtio-pci echoes, both on packed rings (receive buffers, merged frames, TX batches).
NS=vsrvp$$
if [ "$(id -u)" -ne 0 ] || ! ip netns add "$NS" 2>/dev/null; then
	skip packed-net-bridge "needs root and network namespaces (ip netns add)"
	finish; exit
fi
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
ip -n "$NS" link add br0 type bridge && ip -n "$NS" link set br0 up
ip netns exec "$NS" timeout -k 5 60 "$VSRV" run --memory 64M --serial "file:$TMP/echo.out" --kernel "$GUESTS/vnet.elf" \
	--cmdline "mode=echo count=1000 transport=pci ring=packed" --net bridge=br0,transport=pci >"$TMP/echo.err" 2>&1 &
peer=$!
ip netns exec "$NS" timeout -k 5 60 "$VSRV" run --memory 64M --serial "file:$TMP/send.out" --kernel "$GUESTS/vnet.elf" \
	--cmdline "mode=send count=1000 ring=packed" --net bridge=br0 >"$TMP/send.err" 2>&1
st=$?
wait $peer; pst=$?
if expect packed-net-bridge "$TMP/send.out" 33 "all echoed"; then
	if [ $pst -eq 33 ]; then pass packed-net-bridge
	else fail packed-net-bridge "the echoing VM ended with $pst: $(tail -c 300 "$TMP/echo.out")"; fi
fi
finish
