#!/usr/bin/env bash
# virtio-scsi through the kit's driver (guests/vscsi.c): the SCSI command set on target 0,
# sense data for errors, a missing target; on virtio-mmio and virtio-pci, raw and dynamic VHD
# images (checked on the host, `vsrv img check` clean), and under QEMU microvm.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vio-lib.sh"
G=$GUESTS/vscsi.elf

if ! have_kvm; then skip virtio-scsi "$kvm_reason"; exit 0; fi
for t in mmio pci; do
	img=$TMP/$t.img; truncate -s 4M "$img"
	vrun "$TMP/$t.out" --kernel "$G" --cmdline "transport=$t" --disk "$img,format=raw,bus=scsi,transport=$t"
	if expect scsi-raw-$t "$TMP/$t.out" 33 "vscsi: ok" && grep -q "unsupported opcode 0xd9: CHECK CONDITION" "$TMP/$t.out"; then
		if err=$(vscsi_verify "$img" "$TMP/$t.out" 2>&1); then pass scsi-raw-$t; else fail scsi-raw-$t "image: $err"; fi
	fi
done
vhd=$TMP/d.vhd; "$VSRV" img create -f vhd "$vhd" 4M >/dev/null
vrun "$TMP/vhd.out" --kernel "$G" --disk "$vhd,bus=scsi"
if expect scsi-vhd "$TMP/vhd.out" 33 "vscsi: ok"; then
	if ! "$VSRV" img check "$vhd" >"$TMP/check" 2>&1; then fail scsi-vhd "img check: $(cat "$TMP/check")"
	elif ! "$VSRV" img convert -O raw "$vhd" "$TMP/d.raw"; then fail scsi-vhd "convert failed"
	elif err=$(vscsi_verify "$TMP/d.raw" "$TMP/vhd.out" 2>&1); then pass scsi-vhd
	else fail scsi-vhd "image: $err"; fi
fi
if [ -z "$QEMU" ]; then skip scsi-qemu "qemu-system-x86_64 is not installed"
else
	img=$TMP/q.img; truncate -s 4M "$img"
	qrun "$TMP/q.out" "$G" "" -drive id=d0,file="$img",format=raw,if=none,cache=none,discard=unmap \
		-device virtio-scsi-device -device scsi-hd,drive=d0
	if expect scsi-qemu "$TMP/q.out" 33 "vscsi: ok"; then
		if err=$(vscsi_verify "$img" "$TMP/q.out" 2>&1); then pass scsi-qemu; else fail scsi-qemu "image: $err"; fi
	fi
fi
finish
