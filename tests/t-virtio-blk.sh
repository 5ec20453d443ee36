#!/usr/bin/env bash
# virtio-blk through the kit's drivers (guests/vblk.c): whole-disk pattern write, flush,
# read-back, write-zeroes, discard, get-id, errors; on virtio-mmio and virtio-pci, raw and
# dynamic VHD images, read-only disks; the image file is checked on the host. Also under
# QEMU microvm (virtio-mmio), with the same guest ELF.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vio-lib.sh"
G=$GUESTS/vblk.elf

if ! have_kvm; then skip virtio-blk "$kvm_reason"; exit 0; fi

for t in mmio pci; do
	img=$TMP/$t.img; truncate -s 4M "$img"
	vrun "$TMP/$t.out" --kernel "$G" --cmdline "transport=$t" --disk "$img,format=raw,transport=$t"
	if expect blk-raw-$t "$TMP/$t.out" 33 "vblk: ok" && grep -q "blk@$t" "$TMP/$t.out"; then
		if err=$(vblk_verify "$img" "$TMP/$t.out" 2>&1); then pass blk-raw-$t; else fail blk-raw-$t "image: $err"; fi
	fi

	vhd=$TMP/$t.vhd; "$VSRV" img create -f vhd "$vhd" 6M >/dev/null
	vrun "$TMP/v$t.out" --kernel "$G" --cmdline "transport=$t qd=8" --disk "$vhd,transport=$t"
	if expect blk-vhd-$t "$TMP/v$t.out" 33 "vblk: ok"; then
		if ! "$VSRV" img check "$vhd" >"$TMP/check" 2>&1; then fail blk-vhd-$t "img check: $(cat "$TMP/check")"
		elif ! "$VSRV" img convert -O raw "$vhd" "$TMP/v$t.raw"; then fail blk-vhd-$t "convert failed"
		elif err=$(vblk_verify "$TMP/v$t.raw" "$TMP/v$t.out" 2>&1); then pass blk-vhd-$t
		else fail blk-vhd-$t "image: $err"; fi
	fi

	ro=$TMP/ro$t.img; truncate -s 1M "$ro"
	vrun "$TMP/ro$t.out" --kernel "$G" --cmdline "transport=$t readonly" --disk "$ro,format=raw,readonly=on,transport=$t"
	if expect blk-readonly-$t "$TMP/ro$t.out" 33 "vblk: read-only ok"; then
		if cmp -s "$ro" <(head -c 1048576 /dev/zero); then pass blk-readonly-$t; else fail blk-readonly-$t "image changed"; fi
	fi
done

# O_DIRECT and a queue depth of 1
img=$TMP/nc.img; truncate -s 2M "$img"
vrun "$TMP/nc.out" --kernel "$G" --cmdline "qd=1" --disk "$img,format=raw,cache=none"
if expect blk-nocache-qd1 "$TMP/nc.out" 33 "vblk: ok"; then
	if err=$(vblk_verify "$img" "$TMP/nc.out" 2>&1); then pass blk-nocache-qd1; else fail blk-nocache-qd1 "image: $err"; fi
fi

if [ -z "$QEMU" ]; then skip blk-qemu "qemu-system-x86_64 is not installed"
else
	img=$TMP/q.img; truncate -s 4M "$img"
	qrun "$TMP/q.out" "$G" "" -drive id=d0,file="$img",format=raw,if=none,cache=none,discard=unmap \
		-device virtio-blk-device,drive=d0
	if expect blk-qemu "$TMP/q.out" 33 "vblk: ok"; then
		if err=$(vblk_verify "$img" "$TMP/q.out" 2>&1); then pass blk-qemu; else fail blk-qemu "image: $err"; fi
	fi
fi
finish
