#!/usr/bin/env bash
# virtio-rng through the kit's driver (guests/vrng.c) on virtio-mmio and virtio-pci, and
# under QEMU microvm with the same ELF.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vio-lib.sh"
G=$GUESTS/vrng.elf

if ! have_kvm; then skip virtio-rng "$kvm_reason"; exit 0; fi
for t in mmio pci; do
	vrun "$TMP/$t.out" --kernel "$G" --cmdline "transport=$t" --device rng,transport=$t
	expect rng-$t "$TMP/$t.out" 33 "vrng: ok" && grep -q "rng@$t" "$TMP/$t.out" && pass rng-$t
done
# no device: the guest says so and fails
vrun "$TMP/none.out" --kernel "$G"
expect rng-missing "$TMP/none.out" 35 "no virtio-rng device" && pass rng-missing
if [ -z "$QEMU" ]; then skip rng-qemu "qemu-system-x86_64 is not installed"
else
	qrun "$TMP/q.out" "$G" "" -device virtio-rng-device
	expect rng-qemu "$TMP/q.out" 33 "vrng: ok" && pass rng-qemu
fi
finish
