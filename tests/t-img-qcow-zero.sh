#!/usr/bin/env bash
# qcow2 v3 zero clusters (the L2 entry's zero flag, bit 0), read through libqcow: KNOWN
# BROKEN, found while measuring issue 18's qcow2 convert. libqcow (Debian's 20201213 and
# upstream's newest) ignores the flag: a zero cluster that keeps its host cluster
# ("preallocated zero", what `write -z` or a guest's discard leaves over data) reads as that
# cluster's stale bytes, and one without (offset 0) reads as the file's first cluster, the
# header. `vsrv img convert` then writes wrong bytes without an error. This test fails until
# vsrv reads these clusters as zeros (or refuses the image); it does not SKIP, because a
# silent wrong copy is worse than any refusal.
. "$(dirname "$0")/lib.sh"
cd "$TMP"

command -v qemu-img >/dev/null && command -v qemu-io >/dev/null ||
	{ skip "img-qcow-zero" "qemu-img/qemu-io not installed (make test-deps)"; exit 0; }

# standalone: data, then zeros written over part of it (zero flag, cluster kept) and over
# an unallocated part (zero flag, no cluster)
qemu-img create -q -f qcow2 z.qcow2 8M
qemu-io -f qcow2 -c "write -P 0x61 0 4M" -c "write -z 1M 1M" -c "write -z 5M 1M" z.qcow2 >/dev/null
# a chain: zero clusters in the top hide the base's data
qemu-img create -q -f qcow2 b.qcow2 8M
qemu-io -f qcow2 -c "write -P 0x62 0 8M" b.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 t.qcow2
qemu-io -f qcow2 -c "write -z 2M 1M" -c "write -z 6M 64k" t.qcow2 >/dev/null

for img in z t; do
	name=img-qcow-zero-$([ $img = z ] && echo standalone || echo chain)
	# the image must hold zero clusters, else the case proves nothing
	if ! qemu-img map --output=json $img.qcow2 | grep -q '"depth": 0, .*"zero": true, "data": false'; then
		fail "$name" "$img.qcow2 has no zero cluster (qemu-io changed?)"
		continue
	fi
	rm -f v.raw q.raw
	if ! "$VSRV" img convert -O raw $img.qcow2 v.raw 2>e.txt; then
		# refusing the image with a clear message is acceptable; a wrong copy is not
		if grep -q "$img.qcow2" e.txt; then pass "$name"; else fail "$name" "$(cat e.txt)"; fi
		continue
	fi
	qemu-img convert -O raw $img.qcow2 q.raw
	if cmp -s v.raw q.raw; then
		pass "$name"
	else
		fail "$name" "zero clusters read as other bytes ($(cmp v.raw q.raw | head -1)): libqcow ignores the qcow2 v3 zero flag"
	fi
done
finish
